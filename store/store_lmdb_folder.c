/*
 * NAME
 *	store_lmdb_folder 3
 * SUMMARY
 *	per-folder sync state, the old-UID -> new-UID map, POP3 UIDLs
 * DESCRIPTION
 *	LMDB keys are at most 511 bytes and folder names can be longer,
 *	so a folder is keyed by "account\0" and the SHA-256 of its name;
 *	the name itself is in the record. The UID map key adds OLD's
 *	UIDVALIDITY and UID (big-endian, so a folder's entries sort by
 *	UID), which makes a changed UIDVALIDITY a fresh map by itself.
 */
#include "config.h"

#include <string.h>

#include <openssl/evp.h>

#include "mm_alloc.h"
#include "store_lmdb.h"

/* 1: up to subscribed; 2: and highestmodseq (a version 1 record
 * reads with 0, unknown). */
#define FOLDER_REC_VERSION 2
#define FOLDER_HASH_LEN 32
#define FOLDER_KEY_MAX STORE_FOLDER_KEY_MAX
#define MSGMAP_KEY_MAX (FOLDER_KEY_MAX + 8)

/* "account\0" into key; its length, or -1 when too long. */
static int account_prefix(const char *account, unsigned char *key,
			  size_t keysize, const char **error_r)
{
	size_t n = strlen(account);

	if (n == 0 || n + 1 > STORE_MAX_ACCOUNT || n + 1 > keysize)
		return store_fail(error_r, "bad account name length (%zu)", n);
	memcpy(key, account, n + 1);
	return (int)(n + 1);
}

/* The folder key: "account\0" + SHA-256(name). */
int store_folder_key(const char *account, const char *name,
		     unsigned char *key, size_t *len_r, const char **error_r)
{
	unsigned int mdlen = 0;
	int n = account_prefix(account, key, FOLDER_KEY_MAX, error_r);

	if (n < 0)
		return -1;
	if (strlen(name) > STORE_MAX_FOLDER)
		return store_fail(error_r, "folder name over %d bytes", STORE_MAX_FOLDER);
	if (EVP_Digest(name, strlen(name), key + n, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != FOLDER_HASH_LEN)
		return store_fail(error_r, "SHA-256 failed");
	*len_r = (size_t)n + FOLDER_HASH_LEN;
	return 0;
}

static void folder_encode(const struct store_folder *f, struct rec_writer *w)
{
	rec_init(w, FOLDER_REC_VERSION);
	rec_put_str(w, f->name);
	rec_put_str(w, f->target_name);
	rec_put_u32(w, f->uidvalidity);
	rec_put_u32(w, f->last_uid);
	rec_put_u32(w, f->target_uidvalidity);
	rec_put_u64(w, f->messages);
	rec_put_u64(w, f->bytes);
	rec_put_u32(w, (uint32_t)f->subscribed);
	rec_put_u64(w, f->highestmodseq);
}

int store_folder_decode(const char *account, const MDB_val *v,
			 struct store_folder *f, const char **error_r)
{
	struct rec_reader r;
	unsigned char version;

	memset(f, 0, sizeof(*f));
	version = rec_begin(&r, v->mv_data, v->mv_size);
	if (version != 1 && version != FOLDER_REC_VERSION)
		return store_fail(error_r, "account '%.200s': damaged folder record",
				  account);
	f->account = mm_strdup(account);
	f->name = rec_get_str(&r);
	f->target_name = rec_get_str(&r);
	f->uidvalidity = rec_get_u32(&r);
	f->last_uid = rec_get_u32(&r);
	f->target_uidvalidity = rec_get_u32(&r);
	f->messages = rec_get_u64(&r);
	f->bytes = rec_get_u64(&r);
	f->subscribed = (int)rec_get_u32(&r);
	if (version >= 2)
		f->highestmodseq = rec_get_u64(&r);
	if (!rec_end_ok(&r) || f->name == NULL) {
		store_folder_clear(f);
		return store_fail(error_r, "account '%.200s': damaged folder record",
				  account);
	}
	return 0;
}

int store_folder_load(struct store *store, MDB_txn *txn, const char *account,
		      const char *name, struct store_folder *f,
		      const char **error_r)
{
	unsigned char key[FOLDER_KEY_MAX];
	size_t keylen;
	MDB_val v;
	int ret;

	memset(f, 0, sizeof(*f));
	if (store_folder_key(account, name, key, &keylen, error_r) < 0)
		return -1;
	ret = store_get(store, txn, STORE_DB_FOLDERS, key, keylen, &v, error_r);
	if (ret != 0)
		return ret;
	return store_folder_decode(account, &v, f, error_r);
}

int store_folder_save(struct store *store, MDB_txn *txn,
		      const struct store_folder *f, const char **error_r)
{
	unsigned char key[FOLDER_KEY_MAX];
	struct rec_writer w;
	size_t keylen;
	int ret;

	if (store_folder_key(f->account, f->name, key, &keylen, error_r) < 0)
		return -1;
	folder_encode(f, &w);
	ret = store_put(store, txn, STORE_DB_FOLDERS, key, keylen, w.buf, w.len,
			error_r);
	rec_free(&w);
	return ret;
}

struct folder_ctx {
	const char *account;
	const char *name;
	const struct store_folder *in;
	struct store_folder *out;
	uint32_t uidvalidity, old_uid, new_uid;
	uint32_t *new_uid_r;
	uint32_t flags_hash;
	uint64_t size;
	time_t now;
	const char *uidl;
	uint64_t count;
	int (*fn)(const struct store_folder *folder, void *ctx);
	void *fn_ctx;
	struct store_msgmap_entry *entries;	/* msgmap_list, set_flags_many */
	size_t alloc;
};

static int folder_get_txn(struct store *store, MDB_txn *txn, void *context,
			  const char **error_r)
{
	struct folder_ctx *ctx = context;

	return store_folder_load(store, txn, ctx->account, ctx->name, ctx->out, error_r);
}

int lmdb_folder_get(struct store *store, const char *account,
		    const char *name, struct store_folder *folder_r,
		    const char **error_r)
{
	struct folder_ctx ctx = { .account = account, .name = name, .out = folder_r };

	memset(folder_r, 0, sizeof(*folder_r));
	return store_read(store, folder_get_txn, &ctx, error_r);
}

static int folder_put_txn(struct store *store, MDB_txn *txn, void *context,
			  const char **error_r)
{
	struct folder_ctx *ctx = context;

	return store_folder_save(store, txn, ctx->in, error_r);
}

int lmdb_folder_put(struct store *store, const struct store_folder *folder,
		    const char **error_r)
{
	struct folder_ctx ctx = { .in = folder };

	if (folder->account == NULL || folder->name == NULL)
		return store_fail(error_r, "folder without account or name");
	return store_write(store, folder_put_txn, &ctx, error_r);
}

static int folder_iter_one(const MDB_val *k, const MDB_val *v, void *context,
			   const char **error_r)
{
	struct folder_ctx *ctx = context;
	struct store_folder f;
	int ret;

	if (store_folder_decode(ctx->account, v, &f, error_r) < 0)
		return -1;
	ret = ctx->fn(&f, ctx->fn_ctx);
	store_folder_clear(&f);
	return ret;
}

static int folder_iter_txn(struct store *store, MDB_txn *txn, void *context,
			   const char **error_r)
{
	struct folder_ctx *ctx = context;
	unsigned char prefix[STORE_MAX_ACCOUNT + 1];
	int n = account_prefix(ctx->account, prefix, sizeof(prefix), error_r);

	if (n < 0)
		return -1;
	return store_scan(store, txn, STORE_DB_FOLDERS, prefix, (size_t)n,
			  folder_iter_one, ctx, error_r);
}

int lmdb_folder_iter(struct store *store, const char *account,
		     int (*fn)(const struct store_folder *folder, void *ctx),
		     void *ctx, const char **error_r)
{
	struct folder_ctx fctx = { .account = account, .fn = fn, .fn_ctx = ctx };

	return store_read(store, folder_iter_txn, &fctx, error_r);
}

/* The UID map key for one message. */
static int msgmap_key(const char *account, const char *folder,
		      uint32_t uidvalidity, uint32_t uid, unsigned char *key,
		      size_t *len_r, const char **error_r)
{
	size_t n;

	if (store_folder_key(account, folder, key, &n, error_r) < 0)
		return -1;
	store_be32(key + n, uidvalidity);
	store_be32(key + n + 4, uid);
	*len_r = n + 8;
	return 0;
}

static int message_copied_txn(struct store *store, MDB_txn *txn, void *context,
			      const char **error_r)
{
	struct folder_ctx *ctx = context;
	unsigned char key[MSGMAP_KEY_MAX], val[8];
	struct store_account acct;
	struct store_folder f;
	size_t keylen;
	MDB_val v;
	int ret;

	if (msgmap_key(ctx->account, ctx->name, ctx->uidvalidity, ctx->old_uid,
		       key, &keylen, error_r) < 0)
		return -1;
	ret = store_get(store, txn, STORE_DB_MSGMAP, key, keylen, &v, error_r);
	if (ret < 0)
		return -1;
	if (ret == 0)
		return STORE_EXISTS;
	ret = store_account_load(store, txn, ctx->account, &acct, error_r);
	if (ret == STORE_NOTFOUND)
		return store_fail(error_r, "account '%.200s' does not exist",
				  ctx->account);
	if (ret < 0)
		return -1;
	store_be32(val, ctx->new_uid);
	store_be32(val + 4, 0);	/* flags not known here */
	if (store_put(store, txn, STORE_DB_MSGMAP, key, keylen, val, 8, error_r) < 0) {
		store_account_clear(&acct);
		return -1;
	}
	ret = store_folder_load(store, txn, ctx->account, ctx->name, &f, error_r);
	if (ret < 0) {
		store_account_clear(&acct);
		return -1;
	}
	if (ret == STORE_NOTFOUND) {
		f.account = mm_strdup(ctx->account);
		f.name = mm_strdup(ctx->name);
		f.uidvalidity = ctx->uidvalidity;
		acct.folders++;
	}
	if (ctx->old_uid > f.last_uid && f.uidvalidity == ctx->uidvalidity)
		f.last_uid = ctx->old_uid;
	f.messages++;
	f.bytes += ctx->size;
	acct.messages++;
	acct.bytes += ctx->size;
	acct.updated = ctx->now;
	ret = store_rate_add_txn(store, txn, ctx->now, 1, ctx->size, error_r) < 0 ||
		store_folder_save(store, txn, &f, error_r) < 0 ||
		store_account_save(store, txn, &acct, error_r) < 0 ? -1 : 0;
	store_folder_clear(&f);
	store_account_clear(&acct);
	return ret;
}

int lmdb_message_copied(struct store *store, const char *account,
			const char *folder, uint32_t uidvalidity,
			uint32_t old_uid, uint32_t new_uid, uint64_t size,
			time_t now, const char **error_r)
{
	struct folder_ctx ctx = { .account = account, .name = folder,
				  .uidvalidity = uidvalidity, .old_uid = old_uid,
				  .new_uid = new_uid, .size = size, .now = now };

	return store_write(store, message_copied_txn, &ctx, error_r);
}

static int msgmap_get_txn(struct store *store, MDB_txn *txn, void *context,
			  const char **error_r)
{
	struct folder_ctx *ctx = context;
	unsigned char key[MSGMAP_KEY_MAX];
	size_t keylen;
	MDB_val v;
	int ret;

	if (msgmap_key(ctx->account, ctx->name, ctx->uidvalidity, ctx->old_uid,
		       key, &keylen, error_r) < 0)
		return -1;
	ret = store_get(store, txn, STORE_DB_MSGMAP, key, keylen, &v, error_r);
	if (ret != 0)
		return ret;
	if (v.mv_size != 4 && v.mv_size != 8)
		return store_fail(error_r, "damaged UID map entry");
	*ctx->new_uid_r = store_get_be32(v.mv_data);
	/* Entries of 4 bytes predate the flags hash: unknown. */
	ctx->flags_hash = v.mv_size == 8 ?
		store_get_be32((const unsigned char *)v.mv_data + 4) : 0;
	return 0;
}

int lmdb_msgmap_get_flags(struct store *store, const char *account,
			  const char *folder, uint32_t uidvalidity,
			  uint32_t old_uid, uint32_t *new_uid_r,
			  uint32_t *flags_hash_r, const char **error_r)
{
	struct folder_ctx ctx = { .account = account, .name = folder,
				  .uidvalidity = uidvalidity, .old_uid = old_uid,
				  .new_uid_r = new_uid_r };
	int ret = store_read(store, msgmap_get_txn, &ctx, error_r);

	if (ret == 0)
		*flags_hash_r = ctx.flags_hash;
	return ret;
}

static int msgmap_set_flags_txn(struct store *store, MDB_txn *txn, void *context,
				const char **error_r)
{
	struct folder_ctx *ctx = context;
	unsigned char key[MSGMAP_KEY_MAX], val[8];
	size_t keylen;
	MDB_val v;
	int ret;

	if (msgmap_key(ctx->account, ctx->name, ctx->uidvalidity, ctx->old_uid,
		       key, &keylen, error_r) < 0)
		return -1;
	ret = store_get(store, txn, STORE_DB_MSGMAP, key, keylen, &v, error_r);
	if (ret != 0)
		return ret;
	if (v.mv_size < 4)
		return store_fail(error_r, "damaged UID map entry");
	memcpy(val, v.mv_data, 4);
	store_be32(val + 4, ctx->flags_hash);
	return store_put(store, txn, STORE_DB_MSGMAP, key, keylen, val, 8, error_r);
}

int lmdb_msgmap_set_flags(struct store *store, const char *account,
			  const char *folder, uint32_t uidvalidity,
			  uint32_t old_uid, uint32_t flags_hash,
			  const char **error_r)
{
	struct folder_ctx ctx = { .account = account, .name = folder,
				  .uidvalidity = uidvalidity, .old_uid = old_uid,
				  .flags_hash = flags_hash };

	return store_write(store, msgmap_set_flags_txn, &ctx, error_r);
}

static int msgmap_set_flags_many_txn(struct store *store, MDB_txn *txn,
				     void *context, const char **error_r)
{
	struct folder_ctx *ctx = context;

	for (size_t i = 0; i < (size_t)ctx->count; i++) {
		int ret;

		ctx->old_uid = ctx->entries[i].old_uid;
		ctx->flags_hash = ctx->entries[i].flags_hash;
		ret = msgmap_set_flags_txn(store, txn, ctx, error_r);
		if (ret < 0)
			return -1;
	}
	return 0;
}

int lmdb_msgmap_set_flags_many(struct store *store, const char *account,
			       const char *folder, uint32_t uidvalidity,
			       const struct store_msgmap_entry *entries,
			       size_t count, const char **error_r)
{
	struct folder_ctx ctx = { .account = account, .name = folder,
				  .uidvalidity = uidvalidity,
				  .entries = (struct store_msgmap_entry *)entries,
				  .count = count };

	return store_write(store, msgmap_set_flags_many_txn, &ctx, error_r);
}

int lmdb_msgmap_get(struct store *store, const char *account,
		    const char *folder, uint32_t uidvalidity,
		    uint32_t old_uid, uint32_t *new_uid_r,
		    const char **error_r)
{
	struct folder_ctx ctx = { .account = account, .name = folder,
				  .uidvalidity = uidvalidity, .old_uid = old_uid,
				  .new_uid_r = new_uid_r };

	return store_read(store, msgmap_get_txn, &ctx, error_r);
}

static int msgmap_list_one(const MDB_val *k, const MDB_val *v, void *context,
			   const char **error_r)
{
	struct folder_ctx *ctx = context;
	struct store_msgmap_entry *e;

	if (k->mv_size < 4 || (v->mv_size != 4 && v->mv_size != 8))
		return store_fail(error_r, "damaged UID map entry");
	if (ctx->count == ctx->alloc) {
		ctx->alloc = ctx->alloc == 0 ? 256 : ctx->alloc * 2;
		ctx->entries = mm_reallocarray(ctx->entries, ctx->alloc,
					       sizeof(*ctx->entries));
	}
	e = &ctx->entries[ctx->count++];
	e->old_uid = store_get_be32((const unsigned char *)k->mv_data +
				    k->mv_size - 4);
	e->new_uid = store_get_be32(v->mv_data);
	e->flags_hash = v->mv_size == 8 ?
		store_get_be32((const unsigned char *)v->mv_data + 4) : 0;
	return 0;
}

/* Keys are the folder's key, UIDVALIDITY and UID, big-endian: one
 * range, already in UID order. */
static int msgmap_list_txn(struct store *store, MDB_txn *txn, void *context,
			   const char **error_r)
{
	struct folder_ctx *ctx = context;
	unsigned char prefix[MSGMAP_KEY_MAX];
	size_t n;

	ctx->count = 0;
	if (store_folder_key(ctx->account, ctx->name, prefix, &n, error_r) < 0)
		return -1;
	store_be32(prefix + n, ctx->uidvalidity);
	return store_scan(store, txn, STORE_DB_MSGMAP, prefix, n + 4,
			  msgmap_list_one, ctx, error_r);
}

int lmdb_msgmap_list(struct store *store, const char *account,
		     const char *folder, uint32_t uidvalidity,
		     struct store_msgmap_entry **entries_r, size_t *count_r,
		     const char **error_r)
{
	struct folder_ctx ctx = { .account = account, .name = folder,
				  .uidvalidity = uidvalidity };

	if (store_read(store, msgmap_list_txn, &ctx, error_r) < 0) {
		mm_free(&ctx.entries);
		return -1;
	}
	*entries_r = ctx.entries;
	*count_r = (size_t)ctx.count;
	return 0;
}

static int msgmap_forget_txn(struct store *store, MDB_txn *txn, void *context,
			     const char **error_r)
{
	struct folder_ctx *ctx = context;
	unsigned char key[MSGMAP_KEY_MAX];
	size_t keylen;

	if (msgmap_key(ctx->account, ctx->name, ctx->uidvalidity, ctx->old_uid,
		       key, &keylen, error_r) < 0)
		return -1;
	return store_del(store, txn, STORE_DB_MSGMAP, key, keylen, error_r);
}

int lmdb_msgmap_forget(struct store *store, const char *account,
		       const char *folder, uint32_t uidvalidity,
		       uint32_t old_uid, const char **error_r)
{
	struct folder_ctx ctx = { .account = account, .name = folder,
				  .uidvalidity = uidvalidity, .old_uid = old_uid };

	return store_write(store, msgmap_forget_txn, &ctx, error_r);
}

/* The UIDL key: "account\0uidl". */
static int uidl_key(const char *account, const char *uidl, unsigned char *key,
		    size_t *len_r, const char **error_r)
{
	int n = account_prefix(account, key, STORE_MAX_ACCOUNT + 1, error_r);
	size_t ulen = strlen(uidl);

	if (n < 0)
		return -1;
	if (ulen == 0 || ulen > STORE_MAX_UIDL)
		return store_fail(error_r, "UIDL length %zu out of range 1..%d", ulen,
				  STORE_MAX_UIDL);
	memcpy(key + n, uidl, ulen);
	*len_r = (size_t)n + ulen;
	return 0;
}

int store_uidl_add_txn(struct store *store, MDB_txn *txn, const char *account,
		       const char *uidl, time_t now, const char **error_r)
{
	unsigned char key[STORE_MAX_ACCOUNT + 1 + STORE_MAX_UIDL], val[8];
	size_t keylen;
	MDB_val v;
	int ret;

	if (uidl_key(account, uidl, key, &keylen, error_r) < 0)
		return -1;
	ret = store_get(store, txn, STORE_DB_UIDLS, key, keylen, &v, error_r);
	if (ret < 0)
		return -1;
	if (ret == 0)
		return STORE_EXISTS;
	store_be64(val, (uint64_t)now);
	return store_put(store, txn, STORE_DB_UIDLS, key, keylen, val, 8, error_r);
}

static int uidl_add_txn(struct store *store, MDB_txn *txn, void *context,
			const char **error_r)
{
	struct folder_ctx *ctx = context;

	return store_uidl_add_txn(store, txn, ctx->account, ctx->uidl, ctx->now,
				  error_r);
}

int lmdb_uidl_add(struct store *store, const char *account,
		  const char *uidl, time_t now, const char **error_r)
{
	struct folder_ctx ctx = { .account = account, .uidl = uidl, .now = now };

	return store_write(store, uidl_add_txn, &ctx, error_r);
}

static int uidl_has_txn(struct store *store, MDB_txn *txn, void *context,
			const char **error_r)
{
	struct folder_ctx *ctx = context;
	unsigned char key[STORE_MAX_ACCOUNT + 1 + STORE_MAX_UIDL];
	size_t keylen;
	MDB_val v;
	int ret;

	if (uidl_key(ctx->account, ctx->uidl, key, &keylen, error_r) < 0)
		return -1;
	ret = store_get(store, txn, STORE_DB_UIDLS, key, keylen, &v, error_r);
	if (ret < 0)
		return -1;
	return ret == 0 ? 1 : 0;
}

static int uidl_forget_txn(struct store *store, MDB_txn *txn, void *context,
			   const char **error_r)
{
	struct folder_ctx *ctx = context;
	unsigned char key[STORE_MAX_ACCOUNT + 1 + STORE_MAX_UIDL];
	size_t keylen;

	if (uidl_key(ctx->account, ctx->uidl, key, &keylen, error_r) < 0)
		return -1;
	return store_del(store, txn, STORE_DB_UIDLS, key, keylen, error_r);
}

int lmdb_uidl_forget(struct store *store, const char *account,
		     const char *uidl, const char **error_r)
{
	struct folder_ctx ctx = { .account = account, .uidl = uidl };

	return store_write(store, uidl_forget_txn, &ctx, error_r);
}

int lmdb_uidl_has(struct store *store, const char *account,
		  const char *uidl, const char **error_r)
{
	struct folder_ctx ctx = { .account = account, .uidl = uidl };

	return store_read(store, uidl_has_txn, &ctx, error_r);
}

static int uidl_count_one(const MDB_val *k, const MDB_val *v, void *context,
			  const char **error_r)
{
	((struct folder_ctx *)context)->count++;
	return 0;
}

static int uidl_count_txn(struct store *store, MDB_txn *txn, void *context,
			  const char **error_r)
{
	struct folder_ctx *ctx = context;
	unsigned char prefix[STORE_MAX_ACCOUNT + 1];
	int n = account_prefix(ctx->account, prefix, sizeof(prefix), error_r);

	if (n < 0)
		return -1;
	ctx->count = 0;
	return store_scan(store, txn, STORE_DB_UIDLS, prefix, (size_t)n,
			  uidl_count_one, ctx, error_r);
}

int lmdb_uidl_count(struct store *store, const char *account,
		    uint64_t *count_r, const char **error_r)
{
	struct folder_ctx ctx = { .account = account };
	int ret = store_read(store, uidl_count_txn, &ctx, error_r);

	if (ret == 0)
		*count_r = ctx.count;
	return ret;
}

int store_folder_forget_txn(struct store *store, MDB_txn *txn,
			    const char *account, const char **error_r)
{
	unsigned char prefix[STORE_MAX_ACCOUNT + 1];
	int n = account_prefix(account, prefix, sizeof(prefix), error_r);

	if (n < 0)
		return -1;
	if (store_del_prefix(store, txn, STORE_DB_FOLDERS, prefix, (size_t)n, error_r) < 0 ||
	    store_del_prefix(store, txn, STORE_DB_MSGMAP, prefix, (size_t)n, error_r) < 0 ||
	    store_del_prefix(store, txn, STORE_DB_UIDLS, prefix, (size_t)n, error_r) < 0 ||
	    store_del_prefix(store, txn, STORE_DB_FAILED, prefix, (size_t)n, error_r) < 0 ||
	    (!LMDB(store)->db_missing[STORE_DB_SIEVE] &&
	     store_del_prefix(store, txn, STORE_DB_SIEVE, prefix, (size_t)n, error_r) < 0) ||
	    (!LMDB(store)->db_missing[STORE_DB_DAV] &&
	     store_del_prefix(store, txn, STORE_DB_DAV, prefix, (size_t)n, error_r) < 0) ||
	    (!LMDB(store)->db_missing[STORE_DB_ACL] &&
	     store_del_prefix(store, txn, STORE_DB_ACL, prefix, (size_t)n, error_r) < 0) ||
	    store_del(store, txn, STORE_DB_PENDING, account, strlen(account), error_r) < 0)
		return -1;
	return 0;
}
