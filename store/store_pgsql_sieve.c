/*
 * NAME
 *	store_pgsql_sieve 3
 * SUMMARY
 *	what a round put on NEW of each Sieve script (PostgreSQL)
 * DESCRIPTION
 *	store.h, "Sieve scripts", says what the record is for. Table
 *	mailmigrate.sieve (schema 4): account, name (bytea: script names
 *	are UTF-8 but need not be checked here), sha256 (bytea, 32
 *	bytes), active. One statement each, its own transaction.
 */
#include "config.h"

#include <string.h>

#include "mm_alloc.h"
#include "store_pgsql.h"

struct sieve_ctx {
	const char *account;
	const char *name;
	struct store_sieve rec;
};

static int sieve_get_txn(struct pgsql_store *pg, void *context, const char **error_r)
{
	struct sieve_ctx *ctx = context;
	struct pgsql_params p;
	unsigned char *hash = NULL;
	size_t len = 0;
	PGresult *res;
	int bad = 0;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	pgsql_param_bstr(&p, ctx->name);
	res = pgsql_exec(pg, "reading a Sieve record",
			 "SELECT sha256, active FROM mailmigrate.sieve"
			 " WHERE account = $1 AND name = $2", &p, error_r);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return STORE_NOTFOUND;
	}
	if (pgsql_get_bytes(res, 0, 0, &hash, &len) < 0 || len != STORE_SIEVE_HASH)
		bad = 1;
	else
		memcpy(ctx->rec.sha256, hash, STORE_SIEVE_HASH);
	ctx->rec.active = pgsql_get_u32(res, 0, 1, &bad) != 0;
	mm_free(&hash);
	PQclear(res);
	return bad ? pgsql_damaged(pg, "Sieve record", error_r) : 0;
}

static int pgsql_sieve_get(struct store *store, const char *account, const char *name,
			   struct store_sieve *sieve_r, const char **error_r)
{
	struct sieve_ctx ctx = { account, name, { { 0 }, 0 } };
	int ret = pgsql_single(store, sieve_get_txn, &ctx, error_r);

	if (ret == 0)
		*sieve_r = ctx.rec;
	return ret;
}

static int sieve_put_txn(struct pgsql_store *pg, void *context, const char **error_r)
{
	struct sieve_ctx *ctx = context;
	struct pgsql_params p;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	pgsql_param_bstr(&p, ctx->name);
	pgsql_param_bytes(&p, ctx->rec.sha256, STORE_SIEVE_HASH);
	pgsql_param_u64(&p, ctx->rec.active != 0);
	return pgsql_run(pg, "writing a Sieve record",
			 "INSERT INTO mailmigrate.sieve (account, name, sha256, active)"
			 " VALUES ($1, $2, $3, $4) ON CONFLICT (account, name)"
			 " DO UPDATE SET sha256 = $3, active = $4", &p, NULL, error_r);
}

static int pgsql_sieve_put(struct store *store, const char *account, const char *name,
			   const struct store_sieve *sieve, const char **error_r)
{
	struct sieve_ctx ctx = { account, name, *sieve };

	return pgsql_single_write(store, sieve_put_txn, &ctx, error_r);
}

struct sieve_iter_ctx {
	const char *account;
	PGresult *res;
};

static int sieve_iter_txn(struct pgsql_store *pg, void *context, const char **error_r)
{
	struct sieve_iter_ctx *ctx = context;
	struct pgsql_params p;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	ctx->res = pgsql_exec(pg, "reading the Sieve records",
			      "SELECT name, sha256, active FROM mailmigrate.sieve"
			      " WHERE account = $1 ORDER BY name", &p, error_r);
	return ctx->res == NULL ? -1 : 0;
}

static int pgsql_sieve_iter(struct store *store, const char *account,
			    int (*fn)(const char *name, const struct store_sieve *sieve,
				      void *ctx),
			    void *ctx, const char **error_r)
{
	struct sieve_iter_ctx ictx = { .account = account };
	int ret = 0;

	if (pgsql_single(store, sieve_iter_txn, &ictx, error_r) < 0)
		return -1;
	for (int row = 0; row < PQntuples(ictx.res) && ret == 0; row++) {
		struct store_sieve rec = { { 0 }, 0 };
		unsigned char *hash = NULL;
		size_t len = 0;
		char *name;
		int bad = 0;

		name = pgsql_get_bstr(ictx.res, row, 0, STORE_MAX_SIEVE_NAME, &bad);
		if (pgsql_get_bytes(ictx.res, row, 1, &hash, &len) < 0 ||
		    len != STORE_SIEVE_HASH)
			bad = 1;
		else
			memcpy(rec.sha256, hash, STORE_SIEVE_HASH);
		rec.active = pgsql_get_u32(ictx.res, row, 2, &bad) != 0;
		mm_free(&hash);
		if (bad || name == NULL)
			ret = pgsql_damaged(PGSQL(store), "Sieve record", error_r);
		else
			ret = fn(name, &rec, ctx);
		mm_free(&name);
	}
	PQclear(ictx.res);
	return ret;
}

void pgsql_vfuncs_sieve(struct store_vfuncs *v)
{
	v->sieve_get = pgsql_sieve_get;
	v->sieve_put = pgsql_sieve_put;
	v->sieve_iter = pgsql_sieve_iter;
}
