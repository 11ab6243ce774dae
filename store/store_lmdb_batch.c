/*
 * NAME
 *	store_lmdb_batch 3
 * SUMMARY
 *	pending copy batches and failed items
 * DESCRIPTION
 *	The pending record is keyed by account and slot (store_batch_key():
 *	slot 0, the job's holder, by the account alone as before slots;
 *	slot 1, a split's assistant, by the account, a NUL and the slot):
 *	one record in flight per worker copying the account. Failed
 *	items are keyed like the UID map (account, folder hash,
 *	UIDVALIDITY, UID), so recording one twice updates it.
 */
#include "config.h"

#include <string.h>

#include "mm_alloc.h"
#include "store_lmdb.h"

/* 2 added the Message-ID hash; version 1 records (without) are read. */
#define BATCH_REC_VERSION 2
#define FAILED_REC_VERSION 1

static void batch_encode(const struct store_batch *b, struct rec_writer *w)
{
	rec_init(w, BATCH_REC_VERSION);
	rec_put_str(w, b->folder);
	rec_put_u32(w, b->uidvalidity);
	rec_put_str(w, b->target_folder);
	rec_put_u32(w, b->target_uidvalidity);
	rec_put_u32(w, b->target_uidnext);
	rec_put_u32(w, (uint32_t)b->count);
	for (size_t i = 0; i < b->count; i++) {
		rec_put_u32(w, b->msgs[i].old_uid);
		rec_put_u64(w, b->msgs[i].size);
		rec_put_str(w, b->msgs[i].internaldate);
		rec_put_str(w, b->msgs[i].uidl);
		rec_put_u32(w, b->msgs[i].flags_hash);
		rec_put_u64(w, b->msgs[i].message_id_hash);
	}
}

int store_batch_decode(const MDB_val *v, struct store_batch *b,
			const char **error_r)
{
	struct rec_reader r;
	uint32_t n;
	int version;

	memset(b, 0, sizeof(*b));
	version = rec_begin(&r, v->mv_data, v->mv_size);
	if (version != 1 && version != BATCH_REC_VERSION)
		return store_fail(error_r, "damaged pending batch record");
	b->folder = rec_get_str(&r);
	b->uidvalidity = rec_get_u32(&r);
	b->target_folder = rec_get_str(&r);
	b->target_uidvalidity = rec_get_u32(&r);
	b->target_uidnext = rec_get_u32(&r);
	n = rec_get_u32(&r);
	if (!r.bad && n <= STORE_MAX_BATCH) {
		b->msgs = mm_calloc(n, sizeof(*b->msgs));
		for (uint32_t i = 0; i < n && !r.bad; i++) {
			char *date, *uidl;

			b->msgs[i].old_uid = rec_get_u32(&r);
			b->msgs[i].size = rec_get_u64(&r);
			date = rec_get_str(&r);
			uidl = rec_get_str(&r);
			b->msgs[i].flags_hash = rec_get_u32(&r);
			if (version >= 2)
				b->msgs[i].message_id_hash = rec_get_u64(&r);
			if (date != NULL && strlen(date) < sizeof(b->msgs[i].internaldate) &&
			    uidl != NULL && strlen(uidl) < sizeof(b->msgs[i].uidl)) {
				memcpy(b->msgs[i].internaldate, date, strlen(date) + 1);
				memcpy(b->msgs[i].uidl, uidl, strlen(uidl) + 1);
			} else {
				r.bad = 1;
			}
			mm_free(&date);
			mm_free(&uidl);
		}
		b->count = n;
	} else {
		r.bad = 1;
	}
	if (!rec_end_ok(&r) || b->folder == NULL || b->target_folder == NULL) {
		store_batch_clear(b);
		return store_fail(error_r, "damaged pending batch record");
	}
	return 0;
}

size_t store_batch_key(const char *account, unsigned slot,
		       char key[STORE_MAX_ACCOUNT + 2])
{
	size_t len = strnlen(account, STORE_MAX_ACCOUNT);

	memcpy(key, account, len);
	if (slot == 0)
		return len;
	key[len] = '\0';
	key[len + 1] = (char)slot;
	return len + 2;
}

struct batch_ctx {
	char key[STORE_MAX_ACCOUNT + 2];
	size_t klen;
	const char *account;
	const struct store_batch *in;
	struct store_batch *out;
	const uint32_t *new_uids;
	const struct store_batch *next;	/* batch_done: pending after it */
	time_t now;
	const struct store_failed *failed;
	int (*fn)(const struct store_failed *item, void *ctx);
	void *fn_ctx;
};

static int batch_begin_txn(struct store *store, MDB_txn *txn, void *context,
			   const char **error_r)
{
	struct batch_ctx *ctx = context;
	struct rec_writer w;
	int ret;

	batch_encode(ctx->in, &w);
	ret = store_put(store, txn, STORE_DB_PENDING, ctx->key, ctx->klen, w.buf,
			w.len, error_r);
	rec_free(&w);
	return ret;
}

/* The account's name must fit the key. */
static int batch_account_ok(const char *account, const char **error_r)
{
	if (*account == '\0' || strnlen(account, STORE_MAX_ACCOUNT) >= STORE_MAX_ACCOUNT)
		return store_fail(error_r, "bad account name for a batch");
	return 0;
}

int lmdb_batch_begin(struct store *store, const char *account, unsigned slot,
		     const struct store_batch *batch, const char **error_r)
{
	struct batch_ctx ctx = { .account = account, .in = batch };

	if (batch_account_ok(account, error_r) < 0)
		return -1;
	ctx.klen = store_batch_key(account, slot, ctx.key);
	if (batch->count == 0 || batch->count > STORE_MAX_BATCH)
		return store_fail(error_r, "batch of %zu messages (1..%d allowed)",
				  batch->count, STORE_MAX_BATCH);
	for (size_t i = 0; i < batch->count; i++)
		if (memchr(batch->msgs[i].internaldate, '\0',
			   sizeof(batch->msgs[i].internaldate)) == NULL)
			return store_fail(error_r, "batch message %zu: bad date", i);
	return store_write(store, batch_begin_txn, &ctx, error_r);
}

static int batch_pending_txn(struct store *store, MDB_txn *txn, void *context,
			     const char **error_r)
{
	struct batch_ctx *ctx = context;
	MDB_val v;
	int ret = store_get(store, txn, STORE_DB_PENDING, ctx->key, ctx->klen, &v,
			    error_r);

	if (ret != 0)
		return ret;
	return store_batch_decode(&v, ctx->out, error_r);
}

int lmdb_batch_pending(struct store *store, const char *account, unsigned slot,
		       struct store_batch *batch_r, const char **error_r)
{
	struct batch_ctx ctx = { .account = account, .out = batch_r };

	memset(batch_r, 0, sizeof(*batch_r));
	if (batch_account_ok(account, error_r) < 0)
		return -1;
	ctx.klen = store_batch_key(account, slot, ctx.key);
	return store_read(store, batch_pending_txn, &ctx, error_r);
}

static int batch_done_txn(struct store *store, MDB_txn *txn, void *context,
			  const char **error_r)
{
	struct batch_ctx *ctx = context;
	const struct store_batch *b = ctx->in;
	unsigned char key[STORE_FOLDER_KEY_MAX + 8], val[8];
	struct store_account acct;
	struct store_folder f;
	uint64_t messages0, bytes0;
	size_t base;
	MDB_val v;
	int ret;

	ret = store_account_load(store, txn, ctx->account, &acct, error_r);
	if (ret == STORE_NOTFOUND)
		return store_fail(error_r, "account '%.200s' does not exist",
				  ctx->account);
	if (ret < 0)
		return -1;
	messages0 = acct.messages;
	bytes0 = acct.bytes;
	ret = store_folder_load(store, txn, ctx->account, b->folder, &f, error_r);
	if (ret < 0)
		goto out;
	if (ret == STORE_NOTFOUND) {
		f.account = mm_strdup(ctx->account);
		f.name = mm_strdup(b->folder);
		f.target_name = mm_strdup(b->target_folder);
		f.uidvalidity = b->uidvalidity;
		f.target_uidvalidity = b->target_uidvalidity;
		acct.folders++;
	}
	ret = 0;
	if (store_folder_key(ctx->account, b->folder, key, &base, error_r) < 0) {
		ret = -1;
		goto out_folder;
	}
	store_be32(key + base, b->uidvalidity);
	for (size_t i = 0; ret == 0 && i < b->count; i++) {
		if (ctx->new_uids[i] == 0)
			continue;
		if (b->msgs[i].uidl[0] != '\0') {
			/* POP3: the UIDL is the identity; numbers are not. */
			ret = store_uidl_add_txn(store, txn, ctx->account, b->msgs[i].uidl,
						 ctx->now, error_r);
			if (ret == STORE_EXISTS) {
				ret = 0;
				continue;
			}
			if (ret < 0)
				break;
		} else {
			store_be32(key + base + 4, b->msgs[i].old_uid);
			ret = store_get(store, txn, STORE_DB_MSGMAP, key, base + 8, &v,
					error_r);
			if (ret == 0)
				continue;	/* recorded before: not twice */
			if (ret < 0)
				break;
			store_be32(val, ctx->new_uids[i]);
			store_be32(val + 4, b->msgs[i].flags_hash);
			ret = store_put(store, txn, STORE_DB_MSGMAP, key, base + 8, val, 8,
					error_r);
			if (b->msgs[i].old_uid > f.last_uid && f.uidvalidity == b->uidvalidity)
				f.last_uid = b->msgs[i].old_uid;
		}
		f.messages++;
		f.bytes += b->msgs[i].size;
		acct.messages++;
		acct.bytes += b->msgs[i].size;
	}
	acct.updated = ctx->now;
	if (ret == 0)
		ret = store_rate_add_txn(store, txn, ctx->now, acct.messages - messages0,
					 acct.bytes - bytes0, error_r);
	if (ret == 0)
		ret = store_folder_save(store, txn, &f, error_r);
	if (ret == 0)
		ret = store_account_save(store, txn, &acct, error_r);
	if (ret == 0 && ctx->next != NULL) {
		struct rec_writer w;

		batch_encode(ctx->next, &w);
		ret = store_put(store, txn, STORE_DB_PENDING, ctx->key, ctx->klen,
				w.buf, w.len, error_r);
		rec_free(&w);
	} else if (ret == 0 && store_del(store, txn, STORE_DB_PENDING, ctx->key,
					 ctx->klen, error_r) < 0) {
		ret = -1;
	}
out_folder:
	store_folder_clear(&f);
out:
	store_account_clear(&acct);
	return ret;
}

int lmdb_batch_done(struct store *store, const char *account, unsigned slot,
		    const struct store_batch *batch, const uint32_t *new_uids,
		    const struct store_batch *next, time_t now, const char **error_r)
{
	struct batch_ctx ctx = { .account = account, .in = batch,
				 .new_uids = new_uids, .next = next, .now = now };

	if (batch_account_ok(account, error_r) < 0)
		return -1;
	ctx.klen = store_batch_key(account, slot, ctx.key);
	for (size_t i = 0; next != NULL && i < next->count; i++)
		if (memchr(next->msgs[i].internaldate, '\0',
			   sizeof(next->msgs[i].internaldate)) == NULL)
			return store_fail(error_r, "batch message %zu: bad date", i);

	return store_write(store, batch_done_txn, &ctx, error_r);
}

static int batch_abort_txn(struct store *store, MDB_txn *txn, void *context,
			   const char **error_r)
{
	struct batch_ctx *ctx = context;

	return store_del(store, txn, STORE_DB_PENDING, ctx->key, ctx->klen,
			 error_r) < 0 ? -1 : 0;
}

int lmdb_batch_abort(struct store *store, const char *account, unsigned slot,
		     const char **error_r)
{
	struct batch_ctx ctx = { .account = account };

	if (batch_account_ok(account, error_r) < 0)
		return -1;
	ctx.klen = store_batch_key(account, slot, ctx.key);
	return store_write(store, batch_abort_txn, &ctx, error_r);
}

/* --- failed items ---------------------------------------------------- */

static int failed_add_txn(struct store *store, MDB_txn *txn, void *context,
			  const char **error_r)
{
	struct batch_ctx *ctx = context;
	const struct store_failed *it = ctx->failed;
	unsigned char key[STORE_FOLDER_KEY_MAX + 8];
	struct store_account acct;
	struct rec_writer w;
	size_t base;
	MDB_val v;
	int ret, existed;

	ret = store_account_load(store, txn, it->account, &acct, error_r);
	if (ret == STORE_NOTFOUND)
		return store_fail(error_r, "account '%.200s' does not exist",
				  it->account);
	if (ret < 0)
		return -1;
	if (store_folder_key(it->account, it->folder, key, &base, error_r) < 0) {
		store_account_clear(&acct);
		return -1;
	}
	store_be32(key + base, it->uidvalidity);
	store_be32(key + base + 4, it->uid);
	ret = store_get(store, txn, STORE_DB_FAILED, key, base + 8, &v, error_r);
	existed = ret == 0;
	rec_init(&w, FAILED_REC_VERSION);
	rec_put_str(&w, it->folder);
	rec_put_u32(&w, it->uidvalidity);
	rec_put_u32(&w, it->uid);
	rec_put_u64(&w, it->size);
	rec_put_u64(&w, (uint64_t)it->time);
	rec_put_str(&w, it->reason);
	ret = ret < 0 ? -1 : store_put(store, txn, STORE_DB_FAILED, key, base + 8,
				       w.buf, w.len, error_r);
	rec_free(&w);
	if (ret == 0 && !existed) {
		acct.errors++;
		acct.updated = it->time;
		ret = store_account_save(store, txn, &acct, error_r);
	}
	store_account_clear(&acct);
	return ret;
}

int lmdb_failed_add(struct store *store, const struct store_failed *item,
		    const char **error_r)
{
	struct batch_ctx ctx = { .failed = item };

	if (item->account == NULL || item->folder == NULL || item->reason == NULL)
		return store_fail(error_r, "failed item without account, folder "
				  "or reason");
	return store_write(store, failed_add_txn, &ctx, error_r);
}

static int failed_del_txn(struct store *store, MDB_txn *txn, void *context,
			  const char **error_r)
{
	struct batch_ctx *ctx = context;
	const struct store_failed *it = ctx->failed;
	unsigned char key[STORE_FOLDER_KEY_MAX + 8];
	struct store_account acct;
	size_t base;
	int ret;

	if (store_folder_key(it->account, it->folder, key, &base, error_r) < 0)
		return -1;
	store_be32(key + base, it->uidvalidity);
	store_be32(key + base + 4, it->uid);
	ret = store_del(store, txn, STORE_DB_FAILED, key, base + 8, error_r);
	if (ret != 0)
		return ret;
	ret = store_account_load(store, txn, it->account, &acct, error_r);
	if (ret == STORE_NOTFOUND)
		return 0;
	if (ret < 0)
		return -1;
	if (acct.errors > 0)
		acct.errors--;
	ret = store_account_save(store, txn, &acct, error_r);
	store_account_clear(&acct);
	return ret;
}

int lmdb_failed_del(struct store *store, const char *account,
		    const char *folder, uint32_t uidvalidity, uint32_t uid,
		    const char **error_r)
{
	struct store_failed it = { (char *)account, (char *)folder, uidvalidity, uid,
				   0, 0, NULL };
	struct batch_ctx ctx = { .failed = &it };

	return store_write(store, failed_del_txn, &ctx, error_r);
}

int store_failed_decode(const MDB_val *k, const MDB_val *v,
			struct store_failed *it, const char **error_r)
{
	const char *nul = memchr(k->mv_data, '\0', k->mv_size);
	struct rec_reader r;

	memset(it, 0, sizeof(*it));
	if (nul == NULL || rec_begin(&r, v->mv_data, v->mv_size) != FAILED_REC_VERSION)
		return store_fail(error_r, "damaged failed-item record");
	it->account = mm_strndup(k->mv_data, (size_t)(nul - (const char *)k->mv_data));
	it->folder = rec_get_str(&r);
	it->uidvalidity = rec_get_u32(&r);
	it->uid = rec_get_u32(&r);
	it->size = rec_get_u64(&r);
	it->time = (int64_t)rec_get_u64(&r);
	it->reason = rec_get_str(&r);
	if (!rec_end_ok(&r) || it->folder == NULL || it->reason == NULL) {
		store_failed_clear(it);
		return store_fail(error_r, "damaged failed-item record");
	}
	return 0;
}

static int failed_iter_one(const MDB_val *k, const MDB_val *v, void *context,
			   const char **error_r)
{
	struct batch_ctx *ctx = context;
	struct store_failed it;
	int ret;

	if (store_failed_decode(k, v, &it, error_r) < 0)
		return -1;
	ret = ctx->fn(&it, ctx->fn_ctx);
	store_failed_clear(&it);
	return ret;
}

static int failed_iter_txn(struct store *store, MDB_txn *txn, void *context,
			   const char **error_r)
{
	struct batch_ctx *ctx = context;
	size_t plen = ctx->account != NULL ? strlen(ctx->account) + 1 : 0;

	return store_scan(store, txn, STORE_DB_FAILED, ctx->account, plen,
			  failed_iter_one, ctx, error_r);
}

int lmdb_failed_iter(struct store *store, const char *account,
		     int (*fn)(const struct store_failed *item, void *ctx),
		     void *ctx, const char **error_r)
{
	struct batch_ctx bctx = { .account = account, .fn = fn, .fn_ctx = ctx };

	return store_read(store, failed_iter_txn, &bctx, error_r);
}
