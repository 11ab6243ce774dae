/*
 * NAME
 *	store_pgsql_acl 3
 * SUMMARY
 *	what a round did with each right on a user's folders (PostgreSQL)
 * DESCRIPTION
 *	store.h, "rights on shared folders", says what the records are
 *	for. Table mailmigrate.acl (schema 7): account, folder and
 *	identifier (OLD's, bytea: neither need be UTF-8), target,
 *	given_to, rights, state and the time. One statement each, its own
 *	transaction.
 */
#include "config.h"

#include <string.h>

#include "mm_alloc.h"
#include "store_pgsql.h"

/* A bytea column into buf (size bytes): -1 when NULL or too long. */
static int acl_col(PGresult *res, int row, int col, char *buf, size_t size, int *bad)
{
	char *s = pgsql_get_bstr(res, row, col, size - 1, bad);

	if (s == NULL) {
		*bad = 1;
		return -1;
	}
	snprintf(buf, size, "%s", s);
	mm_free(&s);
	return 0;
}

int pgsql_acl_row(PGresult *res, int row, int col, struct store_acl *a)
{
	int bad = 0;

	memset(a, 0, sizeof(*a));
	acl_col(res, row, col, a->folder, sizeof(a->folder), &bad);
	acl_col(res, row, col + 1, a->identifier, sizeof(a->identifier), &bad);
	acl_col(res, row, col + 2, a->target, sizeof(a->target), &bad);
	acl_col(res, row, col + 3, a->given_to, sizeof(a->given_to), &bad);
	acl_col(res, row, col + 4, a->rights, sizeof(a->rights), &bad);
	a->state = pgsql_get_u32(res, row, col + 5, &bad);
	a->updated = pgsql_get_i64(res, row, col + 6, &bad);
	if (a->folder[0] == '\0' || a->identifier[0] == '\0' ||
	    a->state < STORE_ACL_GIVEN || a->state > STORE_ACL_STATE_MAX)
		bad = 1;
	return bad ? -1 : 0;
}

struct acl_ctx {
	const char *account, *folder, *identifier;
	const struct store_acl *in;
};

static int acl_put_txn(struct pgsql_store *pg, void *context, const char **error_r)
{
	struct acl_ctx *ctx = context;
	const struct store_acl *a = ctx->in;
	struct pgsql_params p;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	pgsql_param_bstr(&p, a->folder);
	pgsql_param_bstr(&p, a->identifier);
	pgsql_param_bstr(&p, a->target);
	pgsql_param_bstr(&p, a->given_to);
	pgsql_param_bstr(&p, a->rights);
	pgsql_param_u64(&p, a->state);
	pgsql_param_i64(&p, a->updated);
	return pgsql_run(pg, "writing an ACL record",
			 "INSERT INTO mailmigrate.acl (account, " PGSQL_ACL_COLUMNS ")"
			 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
			 " ON CONFLICT (account, folder, identifier) DO UPDATE SET"
			 " target = $4, given_to = $5, rights = $6, state = $7,"
			 " updated = $8", &p, NULL, error_r);
}

static int pgsql_acl_put(struct store *store, const char *account,
			 const struct store_acl *acl, const char **error_r)
{
	struct acl_ctx ctx = { account, NULL, NULL, acl };

	return pgsql_single_write(store, acl_put_txn, &ctx, error_r);
}

static int acl_del_txn(struct pgsql_store *pg, void *context, const char **error_r)
{
	struct acl_ctx *ctx = context;
	struct pgsql_params p;
	uint64_t n = 0;
	int ret;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	pgsql_param_bstr(&p, ctx->folder);
	if (ctx->identifier != NULL) {
		pgsql_param_bstr(&p, ctx->identifier);
		ret = pgsql_run(pg, "forgetting an ACL record", "DELETE FROM mailmigrate.acl"
				" WHERE account = $1 AND folder = $2 AND identifier = $3",
				&p, &n, error_r);
	} else {
		ret = pgsql_run(pg, "forgetting a folder's ACL records", "DELETE FROM"
				" mailmigrate.acl WHERE account = $1 AND folder = $2",
				&p, &n, error_r);
	}
	if (ret < 0)
		return -1;
	return n == 0 ? STORE_NOTFOUND : 0;
}

static int pgsql_acl_del(struct store *store, const char *account, const char *folder,
			 const char *identifier, const char **error_r)
{
	struct acl_ctx ctx = { account, folder, identifier, NULL };

	return pgsql_single_write(store, acl_del_txn, &ctx, error_r);
}

struct acl_iter_ctx {
	const char *account, *folder;
	PGresult *res;
};

static int acl_iter_txn(struct pgsql_store *pg, void *context, const char **error_r)
{
	struct acl_iter_ctx *ctx = context;
	struct pgsql_params p;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	if (ctx->folder != NULL) {
		pgsql_param_bstr(&p, ctx->folder);
		ctx->res = pgsql_exec(pg, "reading the ACL records", "SELECT "
				      PGSQL_ACL_COLUMNS " FROM mailmigrate.acl WHERE"
				      " account = $1 AND folder = $2 ORDER BY identifier",
				      &p, error_r);
	} else {
		ctx->res = pgsql_exec(pg, "reading the ACL records", "SELECT "
				      PGSQL_ACL_COLUMNS " FROM mailmigrate.acl WHERE"
				      " account = $1 ORDER BY folder, identifier", &p,
				      error_r);
	}
	return ctx->res == NULL ? -1 : 0;
}

static int pgsql_acl_iter(struct store *store, const char *account, const char *folder,
			  int (*fn)(const struct store_acl *acl, void *ctx),
			  void *ctx, const char **error_r)
{
	struct acl_iter_ctx ictx = { account, folder, NULL };
	struct store_acl *rec = mm_malloc(sizeof(*rec));
	int ret = 0;

	if (pgsql_single(store, acl_iter_txn, &ictx, error_r) < 0) {
		mm_free(&rec);
		return -1;
	}
	for (int row = 0; row < PQntuples(ictx.res) && ret == 0; row++) {
		if (pgsql_acl_row(ictx.res, row, 0, rec) < 0)
			ret = pgsql_damaged(PGSQL(store), "ACL record", error_r);
		else
			ret = fn(rec, ctx);
	}
	PQclear(ictx.res);
	mm_free(&rec);
	return ret;
}

void pgsql_vfuncs_acl(struct store_vfuncs *v)
{
	v->acl_put = pgsql_acl_put;
	v->acl_del = pgsql_acl_del;
	v->acl_iter = pgsql_acl_iter;
}
