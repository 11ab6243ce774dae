/*
 * NAME
 *	puller_dav_verify 3
 * SUMMARY
 *	prove an account's calendars and address books: the store's
 *	records against NEW now
 * DESCRIPTION
 *	puller_dav_verify() logs in to NEW's DAV server as the puller does
 *	(the account, its captured password) and lists each collection the
 *	store records as put on NEW (store_dav_put()); each item recorded
 *	in it is on NEW with the ETag NEW gave the copy (same), with
 *	another (changed: the user's own edit on NEW, kept by later rounds,
 *	not a loss), or not there (gone: the account differs). A recorded
 *	collection NEW no longer lists makes all its items gone. It counts
 *	the account's DAV failed items ("caldav:" and "carddav:", which
 *	`mailmigrate failed` lists with their reasons). OLD is not asked:
 *	each round compares OLD with the records and copies what changed.
 *	Without a captured password (wiped after the finish round) nothing
 *	can be asked: v->no_password, not a difference.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "mm_alloc.h"
#include "puller.h"
#include "puller_dav.h"

struct dav_vrec {
	char *coll;			/* OLD's collection URL: the key */
	struct store_dav d;
};

struct dav_vrecs {
	struct dav_vrec *r;
	size_t count, alloc;
};

static int dav_vrec_collect(const char *coll, const struct store_dav *d, void *context)
{
	struct dav_vrecs *l = context;

	if (l->count == l->alloc) {
		l->alloc = l->alloc == 0 ? 64 : l->alloc * 2;
		l->r = mm_reallocarray(l->r, l->alloc, sizeof(*l->r));
	}
	l->r[l->count].coll = mm_strdup(coll);
	l->r[l->count].d = *d;
	l->count++;
	return 0;
}

static int dav_failed_count(const struct store_failed *item, void *context)
{
	uint64_t *n = context;

	if (strncmp(item->folder, "caldav:", 7) == 0 ||
	    strncmp(item->folder, "carddav:", 8) == 0)
		(*n)++;
	return 0;
}

/* Add "what url" to v->why, "; "-separated, cut to fit. */
static void dav_why(struct puller_dav_verify *v, const char *what, const char *url)
{
	const char *parts[] = { strlen(v->why) > 0 ? "; " : "", what, " ", url };
	size_t n = strlen(v->why);

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		size_t len = strlen(parts[i]);

		if (len > sizeof(v->why) - 1 - n)
			len = sizeof(v->why) - 1 - n;
		memcpy(v->why + n, parts[i], len);
		n += len;
	}
	v->why[n] = '\0';
}

/* The items of one of NEW's collections, for the records of coll. */
static int dav_verify_coll(struct puller_dav_verify *v, struct dav_http *h,
			   const struct dav_vrecs *recs, size_t first,
			   enum stream_fail *fail_r, const char **error_r)
{
	const struct dav_vrec *c = &recs->r[first];
	struct dav_list now = { 0 };
	int listed = 1;

	if (dav_list_items(h, c->d.new_url, dav_item_cb, &now, fail_r, error_r) < 0) {
		if (*fail_r != STREAM_FAIL_FINAL) {
			dav_list_free(&now);
			return -1;
		}
		listed = 0;	/* 404: the collection is gone from NEW */
		dav_why(v, "collection not on NEW:", c->d.new_url);
	}
	dav_list_sort(&now);
	for (size_t i = first + 1; i < recs->count &&
	     strcmp(recs->r[i].coll, c->coll) == 0; i++) {
		const struct store_dav *d = &recs->r[i].d;
		char *seg = dav_last_seg(d->new_url);
		const struct dav_entry *e = listed && seg != NULL ?
			dav_list_find(&now, seg) : NULL;
		unsigned char tag[STORE_DAV_HASH];

		mm_free(&seg);
		v->items++;
		if (e == NULL) {
			v->gone++;
			if (listed)
				dav_why(v, "copied, not on NEW:", d->new_url);
			continue;
		}
		dav_tag_hash(e->etag, tag);
		if (dav_zero(d->new_etag) || memcmp(tag, d->new_etag, STORE_DAV_HASH) == 0)
			v->same++;
		else
			v->changed++;
	}
	dav_list_free(&now);
	return 0;
}

int puller_dav_verify(struct puller *p, const char *account, struct puller_dav_verify *v,
		      enum stream_fail *fail_r, const char **error_r)
{
	struct dav_vrecs recs = { 0 };
	struct dav_http_settings set = { 0 };
	struct dav_http *h = NULL;
	char *password = NULL;
	const char *error, *at, *user = account;
	const struct cfg_domain *dom;
	int ret = 0;

	memset(v, 0, sizeof(*v));
	if (store_dav_iter(p->store, account, NULL, dav_vrec_collect, &recs, &error) < 0 ||
	    store_failed_iter(p->store, account, dav_failed_count, &v->failed,
			      &error) < 0) {
		ret = stream_failf(fail_r, STREAM_FAIL_WAIT, error_r, "store: %s", error);
		goto out;
	}
	for (size_t i = 0; i < recs.count; i++)
		if (recs.r[i].d.kind != STORE_DAV_ITEM)
			v->collections++;
	if (recs.count == 0)
		goto out;
	/* NEW's administrator when there is one: no captured password
	 * needed (a finished account's is wiped). */
	at = strchr(account, '@');
	dom = at != NULL ? cfg_domain_find(p->cfg, at + 1) : NULL;
	if (dom != NULL && dom->target_dav_admin_user != NULL) {
		if (crypto_read_secret(dom->target_dav_admin_password_file, &password,
				       &error) < 0) {
			ret = stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					   "target_dav_admin_password_file: %s", error);
			goto out;
		}
		user = dom->target_dav_admin_user;
	} else {
		ret = store_cred_get(p->store, account, &password, &error);
		if (ret == STORE_NOTFOUND) {
			v->no_password = 1;
			ret = 0;
			goto out;
		}
		if (ret < 0) {
			ret = stream_failf(fail_r, STREAM_FAIL_WAIT, error_r, "store: %s",
					   error);
			goto out;
		}
	}
	set.user = user;
	set.password = password;
	set.timeout_ms = (long)p->cfg->io_timeout * 1000;
	set.tls_verify = 1;
	h = dav_http_new(&set);
	mm_free_secret(&password);
	/* iter gives a collection's own record before its items' */
	for (size_t i = 0; ret == 0 && i < recs.count; i++)
		if (recs.r[i].d.kind != STORE_DAV_ITEM)
			ret = dav_verify_coll(v, h, &recs, i, fail_r, error_r);
	v->differs = v->gone > 0;
out:
	dav_http_free(&h);
	for (size_t i = 0; i < recs.count; i++)
		mm_free(&recs.r[i].coll);
	mm_free(&recs.r);
	return ret < 0 ? -1 : 0;
}
