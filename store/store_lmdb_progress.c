/*
 * NAME
 *	store_lmdb_progress 3
 * SUMMARY
 *	the LMDB store: progress of the copies running
 * DESCRIPTION
 *	Key: the account name. Value: a store_codec record, version 1:
 *	owner, folder (NULL between folders), u32 folder index and count,
 *	u64 messages done and total, bytes done and total, started and
 *	updated (unix seconds).
 * COMPATIBILITY
 *	A store made before this database existed lacks it: a handle
 *	opened for writing creates it (store_open), a read-only one reads
 *	it as empty until then.
 */
#include "config.h"

#include <string.h>

#include "mm_alloc.h"
#include "store_lmdb.h"

#define STORE_PROGRESS_VERSION 1

static int progress_decode(const MDB_val *k, const MDB_val *v,
			   struct store_progress *p, const char **error_r)
{
	struct rec_reader r;

	memset(p, 0, sizeof(*p));
	if (k->mv_size == 0 || k->mv_size >= STORE_MAX_ACCOUNT ||
	    memchr(k->mv_data, '\0', k->mv_size) != NULL ||
	    rec_begin(&r, v->mv_data, v->mv_size) != STORE_PROGRESS_VERSION)
		return store_fail(error_r, "damaged progress record");
	p->account = mm_malloc(k->mv_size + 1);
	memcpy(p->account, k->mv_data, k->mv_size);
	p->account[k->mv_size] = '\0';
	p->owner = rec_get_str(&r);
	p->folder = rec_get_str(&r);
	p->folder_index = rec_get_u32(&r);
	p->folder_count = rec_get_u32(&r);
	p->messages_done = rec_get_u64(&r);
	p->messages_total = rec_get_u64(&r);
	p->bytes_done = rec_get_u64(&r);
	p->bytes_total = rec_get_u64(&r);
	p->started = (int64_t)rec_get_u64(&r);
	p->updated = (int64_t)rec_get_u64(&r);
	if (!rec_end_ok(&r) || p->owner == NULL) {
		store_progress_clear(p);
		return store_fail(error_r, "damaged progress record");
	}
	return 0;
}

static int progress_put_txn(struct store *store, MDB_txn *txn, void *context,
			    const char **error_r)
{
	const struct store_progress *p = context;
	struct rec_writer w;
	int ret;

	rec_init(&w, STORE_PROGRESS_VERSION);
	rec_put_str(&w, p->owner != NULL ? p->owner : "");
	rec_put_str(&w, p->folder);
	rec_put_u32(&w, p->folder_index);
	rec_put_u32(&w, p->folder_count);
	rec_put_u64(&w, p->messages_done);
	rec_put_u64(&w, p->messages_total);
	rec_put_u64(&w, p->bytes_done);
	rec_put_u64(&w, p->bytes_total);
	rec_put_u64(&w, (uint64_t)p->started);
	rec_put_u64(&w, (uint64_t)p->updated);
	ret = store_put(store, txn, STORE_DB_PROGRESS, p->account,
			strlen(p->account), w.buf, w.len, error_r);
	rec_free(&w);
	return ret;
}

int lmdb_progress_put(struct store *store, const struct store_progress *p,
		      const char **error_r)
{
	return store_write(store, progress_put_txn, (void *)p, error_r);
}

static int progress_del_txn(struct store *store, MDB_txn *txn, void *context,
			    const char **error_r)
{
	const char *account = context;

	return store_del(store, txn, STORE_DB_PROGRESS, account,
			 strlen(account), error_r);
}

int lmdb_progress_del(struct store *store, const char *account,
		      const char **error_r)
{
	int ret = store_db_present(store, STORE_DB_PROGRESS, error_r);

	if (ret <= 0)
		return ret < 0 ? -1 : STORE_NOTFOUND;
	return store_write(store, progress_del_txn, (void *)account, error_r);
}

struct progress_iter_ctx {
	int (*fn)(const struct store_progress *p, void *ctx);
	void *ctx;
	size_t n;
};

static int progress_scan(const MDB_val *k, const MDB_val *v, void *context,
			 const char **error_r)
{
	struct progress_iter_ctx *ctx = context;
	struct store_progress p;
	int ret;

	if (ctx->n++ == STORE_MAX_PROGRESS)
		return 1;
	if (progress_decode(k, v, &p, error_r) < 0)
		return -1;
	ret = ctx->fn(&p, ctx->ctx);
	store_progress_clear(&p);
	return ret;
}

static int progress_iter_txn(struct store *store, MDB_txn *txn, void *context,
			     const char **error_r)
{
	int ret = store_scan(store, txn, STORE_DB_PROGRESS, NULL, 0,
			     progress_scan, context, error_r);

	return ret < 0 ? -1 : 0;
}

int lmdb_progress_iter(struct store *store,
		       int (*fn)(const struct store_progress *p, void *ctx),
		       void *ctx, const char **error_r)
{
	struct progress_iter_ctx ictx = { fn, ctx, 0 };
	int ret = store_db_present(store, STORE_DB_PROGRESS, error_r);

	if (ret <= 0)
		return ret;
	return store_read(store, progress_iter_txn, &ictx, error_r);
}
