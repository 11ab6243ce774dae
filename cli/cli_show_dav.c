/*
 * NAME
 *	cli_show_dav 3
 * SUMMARY
 *	mailmigrate show: the calendars and address books copied
 * DESCRIPTION
 *	cli_show_dav() lists what the rounds put on NEW of an account's
 *	calendars and address books (migrate_dav, store.h "calendars and
 *	address books"), by collection name: its kind, the items recorded
 *	and NEW's URL. JSON has each item too, with OLD's and NEW's URL
 *	and the SHA-256 of the bytes copied.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dav_url.h"
#include "mm_alloc.h"

struct cli_dav_item {
	char *old_url, *new_url;
	unsigned char sha256[STORE_DAV_HASH];
};

struct cli_dav_coll {
	char *coll_url;			/* OLD's: the records' key */
	char *name;			/* its last path segment */
	char *new_url;
	unsigned kind;
	struct cli_dav_item *items;
	size_t count, alloc;
};

struct cli_dav_list {
	struct cli_dav_coll *v;
	size_t count, alloc;
};

static struct cli_dav_coll *cli_dav_coll(struct cli_dav_list *l, const char *coll_url)
{
	struct cli_dav_coll *c;

	/* a collection's records come together: the last one, mostly */
	for (size_t i = l->count; i > 0; i--)
		if (strcmp(l->v[i - 1].coll_url, coll_url) == 0)
			return &l->v[i - 1];
	if (l->count == l->alloc) {
		l->alloc = l->alloc == 0 ? 8 : l->alloc * 2;
		l->v = mm_reallocarray(l->v, l->alloc, sizeof(*l->v));
	}
	c = &l->v[l->count++];
	memset(c, 0, sizeof(*c));
	c->coll_url = mm_strdup(coll_url);
	/* its name, decoded as the puller compares it (dav_url.h); the
	 * URL itself when it has none */
	c->name = dav_last_seg(coll_url);
	if (c->name == NULL)
		c->name = mm_strdup(coll_url);
	return c;
}

static int cli_dav_add(const char *coll_url, const struct store_dav *d, void *context)
{
	struct cli_dav_coll *c = cli_dav_coll(context, coll_url);
	struct cli_dav_item *it;

	if (d->kind != STORE_DAV_ITEM) {
		c->kind = d->kind;
		mm_free(&c->new_url);
		c->new_url = mm_strdup(d->new_url);
		return 0;
	}
	if (c->count == c->alloc) {
		c->alloc = c->alloc == 0 ? 16 : c->alloc * 2;
		c->items = mm_reallocarray(c->items, c->alloc, sizeof(*c->items));
	}
	it = &c->items[c->count++];
	it->old_url = mm_strdup(d->old_url);
	it->new_url = mm_strdup(d->new_url);
	memcpy(it->sha256, d->sha256, STORE_DAV_HASH);
	return 0;
}

static void cli_dav_free(struct cli_dav_list *l)
{
	for (size_t i = 0; i < l->count; i++) {
		struct cli_dav_coll *c = &l->v[i];

		for (size_t k = 0; k < c->count; k++) {
			mm_free(&c->items[k].old_url);
			mm_free(&c->items[k].new_url);
		}
		mm_free(&c->items);
		mm_free(&c->coll_url);
		mm_free(&c->name);
		mm_free(&c->new_url);
	}
	mm_free(&l->v);
}

static int cli_dav_cmp(const void *a, const void *b)
{
	const struct cli_dav_coll *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	return r != 0 ? r : strcmp(x->coll_url, y->coll_url);
}

static const char *cli_dav_kind(unsigned kind)
{
	switch (kind) {
	case STORE_DAV_CALENDAR: return "calendar";
	case STORE_DAV_ADDRESSBOOK: return "addressbook";
	default: return "unknown";
	}
}

int cli_show_dav(struct cli_ctx *ctx, const char *account, struct cli_json *j,
		 const char **error_r)
{
	static const char *const headers[] = { "COLLECTION", "KIND", "ITEMS", "ON NEW" };
	static const int right[] = { 0, 0, 1, 0 };
	struct cli_dav_list l = { NULL, 0, 0 };
	char hex[2 * STORE_DAV_HASH + 1], count[32];
	char name[4 * 256 + 8], url[4 * STORE_MAX_DAV_URL + 8];
	struct cli_table *table;

	if (store_dav_iter(ctx->store, account, NULL, cli_dav_add, &l, error_r) < 0) {
		cli_dav_free(&l);
		return -1;
	}
	if (l.count > 1)
		qsort(l.v, l.count, sizeof(*l.v), cli_dav_cmp);
	if (j != NULL) {
		cli_json_array(j, "dav");
		for (size_t i = 0; i < l.count; i++) {
			const struct cli_dav_coll *c = &l.v[i];

			cli_json_object(j, NULL);
			cli_json_str(j, "name", c->name);
			cli_json_str(j, "kind", cli_dav_kind(c->kind));
			cli_json_str(j, "old_url", c->coll_url);
			cli_json_str(j, "new_url", c->new_url);
			cli_json_u64(j, "items", c->count);
			cli_json_array(j, "item_list");
			for (size_t k = 0; k < c->count; k++) {
				for (size_t b = 0; b < STORE_DAV_HASH; b++)
					snprintf(hex + 2 * b, 3, "%02x", c->items[k].sha256[b]);
				cli_json_object(j, NULL);
				cli_json_str(j, "old_url", c->items[k].old_url);
				cli_json_str(j, "new_url", c->items[k].new_url);
				cli_json_str(j, "sha256", hex);
				cli_json_end(j, '}');
			}
			cli_json_end(j, ']');
			cli_json_end(j, '}');
		}
		cli_json_end(j, ']');
		cli_dav_free(&l);
		return 0;
	}
	if (l.count == 0) {
		cli_kv("Calendars and address books", "none copied");
		cli_dav_free(&l);
		return 0;
	}
	printf("\nCalendars and address books copied:\n");
	table = cli_table_new(4, headers, right);
	for (size_t i = 0; i < l.count; i++) {
		const struct cli_dav_coll *c = &l.v[i];

		snprintf(count, sizeof(count), "%zu", c->count);
		const char *row[] = {
			cli_printable(c->name, name, sizeof(name)), cli_dav_kind(c->kind),
			count, cli_printable(c->new_url != NULL ? c->new_url : "-", url,
					     sizeof(url)),
		};
		cli_table_add(table, row);
	}
	cli_table_print(table, stdout);
	cli_table_free(&table);
	cli_dav_free(&l);
	return 0;
}
