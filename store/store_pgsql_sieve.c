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

void pgsql_vfuncs_sieve(struct store_vfuncs *v)
{
	v->sieve_get = pgsql_sieve_get;
	v->sieve_put = pgsql_sieve_put;
}
