/*
 * NAME
 *	store_pgsql_progress 3
 * SUMMARY
 *	the PostgreSQL store: progress of the copies running
 * DESCRIPTION
 *	mailmigrate.progress (schema version 2) holds one row per account
 *	being copied, replaced by each write (INSERT ... ON CONFLICT DO
 *	UPDATE, one statement) and deleted at the end of the round. The
 *	folder name is bytea: OLD's names need not be UTF-8.
 */
#include "config.h"

#include <string.h>

#include "mm_alloc.h"
#include "store_pgsql.h"

#define PROGRESS_MAX_FOLDER 4096

static int progress_put_txn(struct pgsql_store *pg, void *context,
			    const char **error_r)
{
	const struct store_progress *p = context;
	struct pgsql_params q;

	pgsql_params_init(&q);
	pgsql_param_str(&q, p->account);
	pgsql_param_str(&q, p->owner != NULL ? p->owner : "");
	if (p->folder != NULL)
		pgsql_param_bytes(&q, p->folder, strlen(p->folder));
	else
		pgsql_param_str(&q, NULL);
	pgsql_param_u64(&q, p->folder_index);
	pgsql_param_u64(&q, p->folder_count);
	pgsql_param_u64(&q, p->messages_done);
	pgsql_param_u64(&q, p->messages_total);
	pgsql_param_u64(&q, p->bytes_done);
	pgsql_param_u64(&q, p->bytes_total);
	pgsql_param_i64(&q, p->started);
	pgsql_param_i64(&q, p->updated);
	return pgsql_run(pg, "writing progress",
			 "INSERT INTO mailmigrate.progress (account, owner, folder,"
			 " folder_index, folder_count, messages_done, messages_total,"
			 " bytes_done, bytes_total, started, updated)"
			 " VALUES ($1, $2, $3::bytea, $4, $5, $6, $7, $8, $9, $10, $11)"
			 " ON CONFLICT (account) DO UPDATE SET owner = EXCLUDED.owner,"
			 " folder = EXCLUDED.folder,"
			 " folder_index = EXCLUDED.folder_index,"
			 " folder_count = EXCLUDED.folder_count,"
			 " messages_done = EXCLUDED.messages_done,"
			 " messages_total = EXCLUDED.messages_total,"
			 " bytes_done = EXCLUDED.bytes_done,"
			 " bytes_total = EXCLUDED.bytes_total,"
			 " started = EXCLUDED.started, updated = EXCLUDED.updated",
			 &q, NULL, error_r);
}

static int pgsql_progress_put(struct store *store,
			      const struct store_progress *p,
			      const char **error_r)
{
	/* Replacing a row says the same thing twice: harmless. */
	return pgsql_single_write(store, progress_put_txn, (void *)p, error_r);
}

static int progress_del_txn(struct pgsql_store *pg, void *context,
			    const char **error_r)
{
	struct pgsql_params q;
	uint64_t rows = 0;

	pgsql_params_init(&q);
	pgsql_param_str(&q, context);
	if (pgsql_run(pg, "removing progress",
		      "DELETE FROM mailmigrate.progress WHERE account = $1",
		      &q, &rows, error_r) < 0)
		return -1;
	return rows == 0 ? STORE_NOTFOUND : 0;
}

static int pgsql_progress_del(struct store *store, const char *account,
			      const char **error_r)
{
	return pgsql_single_write(store, progress_del_txn, (void *)account,
				  error_r);
}

struct progress_iter_ctx {
	int (*fn)(const struct store_progress *p, void *ctx);
	void *ctx;
};

static int progress_iter_txn(struct pgsql_store *pg, void *context,
			     const char **error_r)
{
	struct progress_iter_ctx *ctx = context;
	struct pgsql_params q;
	PGresult *res;
	int ret = 0;

	pgsql_params_init(&q);
	pgsql_param_u64(&q, STORE_MAX_PROGRESS);
	res = pgsql_exec(pg, "listing progress",
			 "SELECT account, owner, folder, folder_index, folder_count,"
			 " messages_done, messages_total, bytes_done, bytes_total,"
			 " started, updated FROM mailmigrate.progress"
			 " ORDER BY account LIMIT $1", &q, error_r);
	if (res == NULL)
		return -1;
	for (int row = 0; ret == 0 && row < PQntuples(res); row++) {
		struct store_progress p = { 0 };
		int bad = 0;

		p.account = pgsql_get_str(res, row, 0);
		p.owner = pgsql_get_str(res, row, 1);
		p.folder = pgsql_get_bstr(res, row, 2, PROGRESS_MAX_FOLDER, &bad);
		p.folder_index = pgsql_get_u32(res, row, 3, &bad);
		p.folder_count = pgsql_get_u32(res, row, 4, &bad);
		p.messages_done = pgsql_get_u64(res, row, 5, &bad);
		p.messages_total = pgsql_get_u64(res, row, 6, &bad);
		p.bytes_done = pgsql_get_u64(res, row, 7, &bad);
		p.bytes_total = pgsql_get_u64(res, row, 8, &bad);
		p.started = pgsql_get_i64(res, row, 9, &bad);
		p.updated = pgsql_get_i64(res, row, 10, &bad);
		if (bad || p.account == NULL || p.owner == NULL ||
		    strlen(p.account) >= STORE_MAX_ACCOUNT) {
			store_progress_clear(&p);
			PQclear(res);
			return pgsql_damaged(pg, "progress row", error_r);
		}
		ret = ctx->fn(&p, ctx->ctx);
		store_progress_clear(&p);
	}
	PQclear(res);
	return 0;
}

static int pgsql_progress_iter(struct store *store,
			       int (*fn)(const struct store_progress *p, void *ctx),
			       void *ctx, const char **error_r)
{
	struct progress_iter_ctx ictx = { fn, ctx };

	return pgsql_single(store, progress_iter_txn, &ictx, error_r);
}

void pgsql_vfuncs_progress(struct store_vfuncs *v)
{
	v->progress_put = pgsql_progress_put;
	v->progress_del = pgsql_progress_del;
	v->progress_iter = pgsql_progress_iter;
}
