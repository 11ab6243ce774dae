/*
 * NAME
 *	store_pgsql_split 3
 * SUMMARY
 *	split hand-outs (PostgreSQL)
 * DESCRIPTION
 *	Table mailmigrate.split (schema 5): account, rec (store_split.c's
 *	record, the same bytes LMDB keeps). Each call is one read-write
 *	transaction holding the row's lock (SELECT ... FOR UPDATE) from
 *	its read to its write, so two workers' claims are serialised and
 *	no cursor move is lost; a join looks at the rows in account order
 *	and skips those another transaction holds (SKIP LOCKED).
 */
#include "config.h"

#include <string.h>

#include "mm_alloc.h"
#include "store_pgsql.h"

struct pg_split_ctx {
	const char *account;
	int (*fn)(struct store_split *s, int exists, void *ctx);
	void *ctx;
};

/* Write back (0) or delete (STORE_SPLIT_DELETE) s as fn left it. */
static int split_write(struct pgsql_store *pg, const struct store_split *s,
		       int ret, const char **error_r)
{
	struct pgsql_params p;
	struct rec_writer w;
	int wret;

	pgsql_params_init(&p);
	pgsql_param_str(&p, s->account);
	if (ret == STORE_SPLIT_DELETE)
		return pgsql_run(pg, "removing a split", "DELETE FROM mailmigrate.split"
				 " WHERE account = $1", &p, NULL, error_r) < 0 ? -1 : ret;
	if (ret != 0)
		return ret;
	store_split_encode(s, &w);
	pgsql_param_bytes(&p, w.buf, w.len);
	wret = pgsql_run(pg, "writing a split", "INSERT INTO mailmigrate.split"
			 " (account, rec) VALUES ($1, $2) ON CONFLICT (account)"
			 " DO UPDATE SET rec = EXCLUDED.rec", &p, NULL, error_r);
	rec_free(&w);
	return wret < 0 ? -1 : 0;
}

/* Decode row of res (columns account, rec) into *s. */
static int split_row(struct pgsql_store *pg, PGresult *res, int row,
		     struct store_split *s, const char **error_r)
{
	unsigned char *data = NULL;
	size_t len = 0;
	int ret;

	if (pgsql_get_bytes(res, row, 1, &data, &len) < 0 || data == NULL) {
		mm_free(&data);
		return pgsql_damaged(pg, "split record", error_r);
	}
	ret = store_split_decode(PQgetvalue(res, row, 0), data, len, s, error_r);
	mm_free(&data);
	return ret;
}

static int split_update_txn(struct pgsql_store *pg, void *context,
			    const char **error_r)
{
	struct pg_split_ctx *ctx = context;
	struct store_split s;
	struct pgsql_params p;
	PGresult *res;
	int ret = STORE_NOTFOUND, exists;

	memset(&s, 0, sizeof(s));
	pgsql_params_init(&p);
	if (ctx->account == NULL) {
		res = pgsql_exec(pg, "reading the splits", "SELECT account, rec FROM"
				 " mailmigrate.split ORDER BY account"
				 " FOR UPDATE SKIP LOCKED", NULL, error_r);
		if (res == NULL)
			return -1;
		for (int row = 0; ret == STORE_NOTFOUND && row < PQntuples(res); row++) {
			if (split_row(pg, res, row, &s, error_r) < 0) {
				ret = -1;
				break;
			}
			ret = ctx->fn(&s, 1, ctx->ctx);
			if (ret == STORE_NOTFOUND)
				store_split_clear(&s);
		}
		PQclear(res);
		if (ret != STORE_NOTFOUND && ret >= 0)
			ret = split_write(pg, &s, ret, error_r);
		store_split_clear(&s);
		return ret;
	}
	pgsql_param_str(&p, ctx->account);
	res = pgsql_exec(pg, "reading a split", "SELECT account, rec FROM"
			 " mailmigrate.split WHERE account = $1 FOR UPDATE", &p,
			 error_r);
	if (res == NULL)
		return -1;
	exists = PQntuples(res) > 0;
	if (exists && split_row(pg, res, 0, &s, error_r) < 0) {
		PQclear(res);
		return -1;
	}
	PQclear(res);
	if (!exists)
		s.account = mm_strdup(ctx->account);
	ret = ctx->fn(&s, exists, ctx->ctx);
	if (ret == STORE_SPLIT_DELETE && !exists)
		ret = STORE_NOTFOUND;
	if (ret >= 0)
		ret = split_write(pg, &s, ret, error_r);
	store_split_clear(&s);
	return ret;
}

static int pgsql_split_update(struct store *store, const char *account,
			      int (*fn)(struct store_split *s, int exists, void *ctx),
			      void *ctx, const char **error_r)
{
	struct pg_split_ctx sctx = { account, fn, ctx };

	if (account != NULL &&
	    (*account == '\0' || strlen(account) >= STORE_MAX_ACCOUNT))
		return store_fail(error_r, "bad account name for a split");
	return pgsql_write(store, split_update_txn, &sctx, error_r);
}

void pgsql_vfuncs_split(struct store_vfuncs *v)
{
	v->split_update = pgsql_split_update;
}
