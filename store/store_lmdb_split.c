/*
 * NAME
 *	store_lmdb_split 3
 * SUMMARY
 *	the LMDB store: split hand-outs
 * DESCRIPTION
 *	Database "split": account -> the hand-out (store_split.c's
 *	record). One write transaction per call: LMDB's writers are
 *	serialised, so a claim's cursor + 1 is never lost.
 * COMPATIBILITY
 *	Added after schema 1, like "progress": a store made before lacks
 *	it, made when the store is opened for writing.
 */
#include "config.h"

#include <string.h>

#include "mm_alloc.h"
#include "store_lmdb.h"

struct lmdb_split_ctx {
	const char *account;
	int (*fn)(struct store_split *s, int exists, void *ctx);
	void *ctx;
	struct store_split s;	/* the record fn accepted (account NULL) */
	int found, ret;
};

/* Write (ret 0) or delete (STORE_SPLIT_DELETE) what fn left in s. */
static int split_store(struct store *store, MDB_txn *txn, struct store_split *s,
		       int ret, const char **error_r)
{
	struct rec_writer w;
	int wret;

	if (ret == STORE_SPLIT_DELETE) {
		wret = store_del(store, txn, STORE_DB_SPLIT, s->account,
				 strlen(s->account), error_r);
		return wret < 0 ? -1 : ret;
	}
	if (ret != 0)
		return ret;
	store_split_encode(s, &w);
	wret = store_put(store, txn, STORE_DB_SPLIT, s->account, strlen(s->account),
			 w.buf, w.len, error_r);
	rec_free(&w);
	return wret < 0 ? -1 : 0;
}

static int split_scan_one(const MDB_val *k, const MDB_val *v, void *context,
			  const char **error_r)
{
	struct lmdb_split_ctx *ctx = context;
	char account[STORE_MAX_ACCOUNT];
	int ret;

	if (k->mv_size == 0 || k->mv_size >= sizeof(account))
		return store_fail(error_r, "damaged split record key");
	memcpy(account, k->mv_data, k->mv_size);
	account[k->mv_size] = '\0';
	if (store_split_decode(account, v->mv_data, v->mv_size, &ctx->s,
			       error_r) < 0)
		return -1;
	ret = ctx->fn(&ctx->s, 1, ctx->ctx);
	if (ret == STORE_NOTFOUND) {
		store_split_clear(&ctx->s);
		return 0;
	}
	ctx->found = 1;
	ctx->ret = ret;
	return 1;	/* stop: written after the cursor is closed */
}

static int split_update_txn(struct store *store, MDB_txn *txn, void *context,
			    const char **error_r)
{
	struct lmdb_split_ctx *ctx = context;
	MDB_val v;
	int ret, exists;

	if (ctx->account == NULL) {
		ret = store_scan(store, txn, STORE_DB_SPLIT, NULL, 0, split_scan_one,
				 ctx, error_r);
		if (ret < 0)
			return -1;
		if (!ctx->found)
			return STORE_NOTFOUND;
		ret = split_store(store, txn, &ctx->s, ctx->ret, error_r);
		store_split_clear(&ctx->s);
		return ret;
	}
	ret = store_get(store, txn, STORE_DB_SPLIT, ctx->account,
			strlen(ctx->account), &v, error_r);
	if (ret < 0)
		return -1;
	exists = ret == 0;
	if (exists && store_split_decode(ctx->account, v.mv_data, v.mv_size, &ctx->s,
					 error_r) < 0)
		return -1;
	if (!exists)
		ctx->s.account = mm_strdup(ctx->account);
	ret = ctx->fn(&ctx->s, exists, ctx->ctx);
	if (ret == STORE_SPLIT_DELETE && !exists)
		ret = STORE_NOTFOUND;
	ret = split_store(store, txn, &ctx->s, ret, error_r);
	store_split_clear(&ctx->s);
	return ret;
}

int lmdb_split_update(struct store *store, const char *account,
		      int (*fn)(struct store_split *s, int exists, void *ctx),
		      void *ctx, const char **error_r)
{
	struct lmdb_split_ctx sctx = { .account = account, .fn = fn, .ctx = ctx };
	int ret;

	if (account != NULL &&
	    (*account == '\0' || strlen(account) >= STORE_MAX_ACCOUNT))
		return store_fail(error_r, "bad account name for a split");
	ret = store_write(store, split_update_txn, &sctx, error_r);
	store_split_clear(&sctx.s);
	return ret;
}
