/*
 * NAME
 *	cli_show_acl 3
 * SUMMARY
 *	mailmigrate show: the rights on shared folders copied
 * DESCRIPTION
 *	cli_show_acl() lists what the rounds did with the rights an account
 *	gave others on its folders (migrate_shared, store.h "rights on
 *	shared folders"), sorted by folder and identifier: OLD's folder and
 *	NEW's name of it, OLD's identifier, the rights, and what became of
 *	them ("given to ID", "there already (ID)", "no account on NEW",
 *	"refused by NEW"). JSON has the same fields and the time each
 *	record was written.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mm_alloc.h"

struct cli_acl_list {
	struct store_acl *v;
	size_t count, alloc;
};

static int cli_acl_add(const struct store_acl *a, void *context)
{
	struct cli_acl_list *l = context;

	if (l->count == l->alloc) {
		l->alloc = l->alloc == 0 ? 8 : l->alloc * 2;
		l->v = mm_reallocarray(l->v, l->alloc, sizeof(*l->v));
	}
	l->v[l->count++] = *a;
	return 0;
}

static int cli_acl_cmp(const void *a, const void *b)
{
	const struct store_acl *x = a, *y = b;
	int c = strcmp(x->folder, y->folder);

	return c != 0 ? c : strcmp(x->identifier, y->identifier);
}

/* What became of the entry, for the text table. */
static const char *cli_acl_outcome(const struct store_acl *a, char *buf, size_t size)
{
	char who[4 * STORE_MAX_ACL_ID + 8];

	switch (a->state) {
	case STORE_ACL_GIVEN:
		snprintf(buf, size, "given to %s", cli_printable(a->given_to, who,
								 sizeof(who)));
		break;
	case STORE_ACL_THERE:
		snprintf(buf, size, "there already (%s)",
			 cli_printable(a->given_to, who, sizeof(who)));
		break;
	case STORE_ACL_UNMAPPED:
		snprintf(buf, size, "no account on NEW");
		break;
	case STORE_ACL_REFUSED:
		snprintf(buf, size, "refused by NEW");
		break;
	default:
		snprintf(buf, size, "?");
	}
	return buf;
}

int cli_show_acl(struct cli_ctx *ctx, const char *account, struct cli_json *j,
		 const char **error_r)
{
	static const char *const headers[] = { "FOLDER", "ON NEW", "IDENTIFIER",
					       "RIGHTS", "WHAT BECAME OF THEM" };
	static const int right[] = { 0, 0, 0, 0, 0 };
	struct cli_acl_list l = { NULL, 0, 0 };
	struct cli_table *table;
	char *folder, *target, *id, *rights;
	char outcome[4 * STORE_MAX_ACL_ID + 64];

	if (store_acl_iter(ctx->store, account, NULL, cli_acl_add, &l, error_r) < 0) {
		mm_free(&l.v);
		return -1;
	}
	if (l.count > 1)
		qsort(l.v, l.count, sizeof(*l.v), cli_acl_cmp);
	if (j != NULL) {
		cli_json_array(j, "acl");
		for (size_t i = 0; i < l.count; i++) {
			cli_json_object(j, NULL);
			cli_json_str(j, "folder", l.v[i].folder);
			cli_json_str(j, "target", l.v[i].target);
			cli_json_str(j, "identifier", l.v[i].identifier);
			cli_json_str(j, "rights", l.v[i].rights);
			cli_json_str(j, "state", store_acl_state_name(l.v[i].state));
			if (l.v[i].given_to[0] != '\0')
				cli_json_str(j, "given_to", l.v[i].given_to);
			cli_json_time(j, "updated", l.v[i].updated);
			cli_json_end(j, '}');
		}
		cli_json_end(j, ']');
		mm_free(&l.v);
		return 0;
	}
	if (l.count == 0) {
		cli_kv("Rights on shared folders", "none recorded");
		mm_free(&l.v);
		return 0;
	}
	printf("\nRights on shared folders (others' on this account's folders):\n");
	table = cli_table_new(5, headers, right);
	folder = mm_malloc(4 * STORE_MAX_FOLDER + 8);
	target = mm_malloc(4 * STORE_MAX_FOLDER + 8);
	id = mm_malloc(4 * STORE_MAX_ACL_ID + 8);
	rights = mm_malloc(4 * STORE_MAX_ACL_RIGHTS + 8);
	for (size_t i = 0; i < l.count; i++) {
		const char *row[] = {
			cli_printable(l.v[i].folder, folder, 4 * STORE_MAX_FOLDER + 8),
			cli_printable(l.v[i].target, target, 4 * STORE_MAX_FOLDER + 8),
			cli_printable(l.v[i].identifier, id, 4 * STORE_MAX_ACL_ID + 8),
			cli_printable(l.v[i].rights, rights, 4 * STORE_MAX_ACL_RIGHTS + 8),
			cli_acl_outcome(&l.v[i], outcome, sizeof(outcome)),
		};
		cli_table_add(table, row);
	}
	cli_table_print(table, stdout);
	cli_table_free(&table);
	mm_free(&folder);
	mm_free(&target);
	mm_free(&id);
	mm_free(&rights);
	mm_free(&l.v);
	return 0;
}
