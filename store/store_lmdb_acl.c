/*
 * NAME
 *	store_lmdb_acl 3
 * SUMMARY
 *	what a round did with each right on a user's folders (LMDB)
 * DESCRIPTION
 *	store.h, "rights on shared folders", says what the records are
 *	for.
 *
 *	Database "acl". Key: "account\0" + SHA-256(folder) +
 *	SHA-256(identifier): a folder's entries together under one prefix,
 *	and store_folder_forget_txn()'s account prefix removes an
 *	account's records with the rest of its copy progress. Value: the
 *	store_codec layout, version 1: state, time, then folder, target,
 *	identifier, given_to and rights (the key holds only hashes; a
 *	reader checks folder and identifier against them).
 * COMPATIBILITY
 *	A store made before this database existed lacks it: a handle
 *	opened for writing creates it (store_open), a read-only one reads
 *	it as empty until then.
 */
#include "config.h"

#include <string.h>

#include <openssl/evp.h>

#include "mm_alloc.h"
#include "store_codec.h"
#include "store_lmdb.h"

#define ACL_VERSION 1
#define ACL_HASH 32
#define ACL_KEY_MAX (STORE_MAX_ACCOUNT + 1 + 2 * ACL_HASH)

static void acl_hash(const char *s, unsigned char *out)
{
	unsigned int mdlen = 0;

	if (EVP_Digest(s, strlen(s), out, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != ACL_HASH)
		memset(out, 0, ACL_HASH);	/* cannot happen: a key of zeros */
}

/* "account\0" [+ H(folder) [+ H(identifier)]] into key. */
static size_t acl_key(const char *account, const char *folder, const char *identifier,
		      unsigned char *key)
{
	size_t n = strlen(account) + 1;	/* checked by store.c */

	memcpy(key, account, n);
	if (folder == NULL)
		return n;
	acl_hash(folder, key + n);
	n += ACL_HASH;
	if (identifier != NULL) {
		acl_hash(identifier, key + n);
		n += ACL_HASH;
	}
	return n;
}

/* A string of the record into buf of size bytes: 0, or -1 (missing,
 * too long). */
static int acl_get_str(struct rec_reader *r, char *buf, size_t size)
{
	char *s = rec_get_str(r);
	size_t n;

	if (s == NULL)
		return -1;
	n = strlen(s);
	if (n >= size) {
		mm_free(&s);
		return -1;
	}
	memcpy(buf, s, n + 1);
	mm_free(&s);
	return 0;
}

/* Decode a value whose key is k (prefix_len: its "account\0"). */
static int acl_decode(const MDB_val *k, size_t prefix_len, const MDB_val *v,
		      struct store_acl *a, const char **error_r)
{
	const unsigned char *key = k->mv_data;
	unsigned char h[ACL_HASH];
	struct rec_reader r;

	if (k->mv_size != prefix_len + 2 * ACL_HASH)
		return store_fail(error_r, "damaged ACL record (key)");
	if (rec_begin(&r, v->mv_data, v->mv_size) != ACL_VERSION)
		return store_fail(error_r, "damaged ACL record (version)");
	a->state = rec_get_u32(&r);
	a->updated = (int64_t)rec_get_u64(&r);
	if (acl_get_str(&r, a->folder, sizeof(a->folder)) < 0 ||
	    acl_get_str(&r, a->target, sizeof(a->target)) < 0 ||
	    acl_get_str(&r, a->identifier, sizeof(a->identifier)) < 0 ||
	    acl_get_str(&r, a->given_to, sizeof(a->given_to)) < 0 ||
	    acl_get_str(&r, a->rights, sizeof(a->rights)) < 0 || !rec_end_ok(&r) ||
	    a->state < STORE_ACL_GIVEN || a->state > STORE_ACL_STATE_MAX)
		return store_fail(error_r, "damaged ACL record");
	acl_hash(a->folder, h);
	if (memcmp(h, key + prefix_len, ACL_HASH) != 0)
		return store_fail(error_r, "damaged ACL record (folder)");
	acl_hash(a->identifier, h);
	if (memcmp(h, key + prefix_len + ACL_HASH, ACL_HASH) != 0)
		return store_fail(error_r, "damaged ACL record (identifier)");
	return 0;
}

struct acl_ctx {
	unsigned char key[ACL_KEY_MAX];
	size_t keylen;
	const char *identifier;
	const struct store_acl *in;
};

static int acl_put_txn(struct store *store, MDB_txn *txn, void *context,
		       const char **error_r)
{
	struct acl_ctx *ctx = context;
	const struct store_acl *a = ctx->in;
	struct rec_writer w;
	int ret;

	rec_init(&w, ACL_VERSION);
	rec_put_u32(&w, a->state);
	rec_put_u64(&w, (uint64_t)a->updated);
	rec_put_str(&w, a->folder);
	rec_put_str(&w, a->target);
	rec_put_str(&w, a->identifier);
	rec_put_str(&w, a->given_to);
	rec_put_str(&w, a->rights);
	ret = store_put(store, txn, STORE_DB_ACL, ctx->key, ctx->keylen, w.buf, w.len,
			error_r);
	rec_free(&w);
	return ret;
}

int lmdb_acl_put(struct store *store, const char *account, const struct store_acl *acl,
		 const char **error_r)
{
	struct acl_ctx ctx = { .in = acl };

	ctx.keylen = acl_key(account, acl->folder, acl->identifier, ctx.key);
	return store_write(store, acl_put_txn, &ctx, error_r);
}

static int acl_del_txn(struct store *store, MDB_txn *txn, void *context,
		       const char **error_r)
{
	struct acl_ctx *ctx = context;
	MDB_cursor *cur;
	MDB_val k = { ctx->keylen, ctx->key }, v;
	int rc, found;

	if (ctx->identifier != NULL)
		return store_del(store, txn, STORE_DB_ACL, ctx->key, ctx->keylen, error_r);
	/* the folder's entries: one prefix; STORE_NOTFOUND when it has none */
	rc = mdb_cursor_open(txn, LMDB(store)->dbi[STORE_DB_ACL], &cur);
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, "acl");
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	found = rc == 0 && k.mv_size >= ctx->keylen &&
		memcmp(k.mv_data, ctx->key, ctx->keylen) == 0;
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_mdb_fail(store, rc, error_r, "acl");
	if (!found)
		return STORE_NOTFOUND;
	return store_del_prefix(store, txn, STORE_DB_ACL, ctx->key, ctx->keylen, error_r);
}

int lmdb_acl_del(struct store *store, const char *account, const char *folder,
		 const char *identifier, const char **error_r)
{
	struct acl_ctx ctx = { .identifier = identifier };
	int ret = store_db_present(store, STORE_DB_ACL, error_r);

	if (ret <= 0)
		return ret < 0 ? -1 : STORE_NOTFOUND;
	ctx.keylen = acl_key(account, folder, identifier, ctx.key);
	return store_write(store, acl_del_txn, &ctx, error_r);
}

struct acl_iter_ctx {
	unsigned char key[ACL_KEY_MAX];
	size_t keylen, prefix_len;
	int (*fn)(const struct store_acl *acl, void *ctx);
	void *fn_ctx;
	struct store_acl *rec;
};

static int acl_iter_one(const MDB_val *k, const MDB_val *v, void *context,
			const char **error_r)
{
	struct acl_iter_ctx *ctx = context;

	if (acl_decode(k, ctx->prefix_len, v, ctx->rec, error_r) < 0)
		return -1;
	return ctx->fn(ctx->rec, ctx->fn_ctx);
}

static int acl_iter_txn(struct store *store, MDB_txn *txn, void *context,
			const char **error_r)
{
	struct acl_iter_ctx *ctx = context;

	return store_scan(store, txn, STORE_DB_ACL, ctx->key, ctx->keylen, acl_iter_one,
			  ctx, error_r);
}

int lmdb_acl_iter(struct store *store, const char *account, const char *folder,
		  int (*fn)(const struct store_acl *acl, void *ctx),
		  void *ctx, const char **error_r)
{
	struct acl_iter_ctx *it;
	int ret = store_db_present(store, STORE_DB_ACL, error_r);

	if (ret <= 0)
		return ret;	/* no database yet: no records */
	it = mm_calloc(1, sizeof(*it));
	it->keylen = acl_key(account, folder, NULL, it->key);
	it->prefix_len = strlen(account) + 1;
	it->fn = fn;
	it->fn_ctx = ctx;
	it->rec = mm_calloc(1, sizeof(*it->rec));
	ret = store_read(store, acl_iter_txn, it, error_r);
	mm_free(&it->rec);
	mm_free(&it);
	return ret;
}

struct acl_all_ctx {
	int (*fn)(const char *account, const struct store_acl *acl, void *ctx,
		  const char **error_r);
	void *fn_ctx;
	struct store_acl *rec;
	char account[STORE_MAX_ACCOUNT + 1];
	/* counting: the last folder's key prefix */
	unsigned char last[ACL_KEY_MAX];
	size_t last_len;
	uint64_t folders, given, not_given;
};

/* The account of a key (its bytes to the NUL) into ctx->account. */
static int acl_key_account(const MDB_val *k, struct acl_all_ctx *ctx, size_t *alen_r,
			   const char **error_r)
{
	size_t alen = strnlen(k->mv_data, k->mv_size);

	if (alen == 0 || alen >= STORE_MAX_ACCOUNT || alen == k->mv_size)
		return store_fail(error_r, "damaged ACL record (account)");
	memcpy(ctx->account, k->mv_data, alen);
	ctx->account[alen] = '\0';
	*alen_r = alen;
	return 0;
}

static int acl_all_one(const MDB_val *k, const MDB_val *v, void *context,
		       const char **error_r)
{
	struct acl_all_ctx *ctx = context;
	size_t alen = 0;

	if (acl_key_account(k, ctx, &alen, error_r) < 0 ||
	    acl_decode(k, alen + 1, v, ctx->rec, error_r) < 0)
		return -1;
	return ctx->fn(ctx->account, ctx->rec, ctx->fn_ctx, error_r);
}

int lmdb_acl_scan_txn(struct store *store, MDB_txn *txn,
		      int (*fn)(const char *account, const struct store_acl *acl,
				void *ctx, const char **error_r),
		      void *ctx, const char **error_r)
{
	struct acl_all_ctx *all;
	int ret;

	if (LMDB(store)->db_missing[STORE_DB_ACL])
		return 0;
	all = mm_calloc(1, sizeof(*all));
	all->fn = fn;
	all->fn_ctx = ctx;
	all->rec = mm_calloc(1, sizeof(*all->rec));
	ret = store_scan(store, txn, STORE_DB_ACL, NULL, 0, acl_all_one, all, error_r);
	mm_free(&all->rec);
	mm_free(&all);
	return ret;
}

/* Counting: a folder is a run of keys with one "account\0" H(folder)
 * prefix (they sort together); the state is the value's first field. */
static int acl_count_one(const MDB_val *k, const MDB_val *v, void *context,
			 const char **error_r)
{
	struct acl_all_ctx *ctx = context;
	struct rec_reader r;
	size_t alen = 0, plen;
	uint32_t state;

	if (acl_key_account(k, ctx, &alen, error_r) < 0)
		return -1;
	plen = alen + 1 + ACL_HASH;
	if (k->mv_size != plen + ACL_HASH)
		return store_fail(error_r, "damaged ACL record (key)");
	if (plen != ctx->last_len || memcmp(k->mv_data, ctx->last, plen) != 0) {
		ctx->folders++;
		memcpy(ctx->last, k->mv_data, plen);
		ctx->last_len = plen;
	}
	if (rec_begin(&r, v->mv_data, v->mv_size) != ACL_VERSION)
		return store_fail(error_r, "damaged ACL record (version)");
	state = rec_get_u32(&r);
	if (r.bad)
		return store_fail(error_r, "damaged ACL record");
	if (state == STORE_ACL_GIVEN || state == STORE_ACL_THERE)
		ctx->given++;
	else
		ctx->not_given++;
	return 0;
}

int lmdb_acl_count_txn(struct store *store, MDB_txn *txn, uint64_t *folders_r,
		       uint64_t *given_r, uint64_t *not_given_r, const char **error_r)
{
	struct acl_all_ctx *all;
	int ret;

	*folders_r = *given_r = *not_given_r = 0;
	if (LMDB(store)->db_missing[STORE_DB_ACL])
		return 0;
	all = mm_calloc(1, sizeof(*all));
	ret = store_scan(store, txn, STORE_DB_ACL, NULL, 0, acl_count_one, all, error_r);
	if (ret == 0) {
		*folders_r = all->folders;
		*given_r = all->given;
		*not_given_r = all->not_given;
	}
	mm_free(&all);
	return ret;
}
