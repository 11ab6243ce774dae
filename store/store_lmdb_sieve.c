/*
 * NAME
 *	store_lmdb_sieve 3
 * SUMMARY
 *	what a round put on NEW of each Sieve script (LMDB)
 * DESCRIPTION
 *	store.h, "Sieve scripts", says what the record is for.
 *
 *	Database "sieve". Key: "account\0" + SHA-256(script name), so
 *	store_folder_forget_txn()'s account prefix removes an account's
 *	records with the rest of its copy progress. Value: version byte
 *	1, the 32 bytes of the content's SHA-256, a byte 0/1: active, then
 *	the script's name (the key holds only its hash; a dump needs it).
 * COMPATIBILITY
 *	A store made before this database existed lacks it: a handle
 *	opened for writing creates it (store_open), a read-only one reads
 *	it as empty until then.
 */
#include "config.h"

#include <string.h>

#include <openssl/evp.h>

#include "mm_alloc.h"
#include "store_lmdb.h"

#define STORE_SIEVE_VERSION 1
#define SIEVE_KEY_MAX (STORE_MAX_ACCOUNT + 1 + 32)

/* "account\0" + SHA-256(name) into key (SIEVE_KEY_MAX bytes). */
static int sieve_key(const char *account, const char *name, unsigned char *key,
		     size_t *len_r, const char **error_r)
{
	size_t n = strlen(account);
	unsigned int mdlen = 0;

	if (n == 0 || n + 1 > STORE_MAX_ACCOUNT)
		return store_fail(error_r, "bad account name length (%zu)", n);
	memcpy(key, account, n + 1);
	if (EVP_Digest(name, strlen(name), key + n + 1, &mdlen, EVP_sha256(),
		       NULL) != 1 || mdlen != 32)
		return store_fail(error_r, "SHA-256 failed");
	*len_r = n + 1 + 32;
	return 0;
}

struct sieve_ctx {
	unsigned char key[SIEVE_KEY_MAX];
	size_t keylen;
	const char *name;
	struct store_sieve rec;
};

#define SIEVE_VALUE_HEAD (1 + STORE_SIEVE_HASH + 1)

static int sieve_get_txn(struct store *store, MDB_txn *txn, void *context,
			 const char **error_r)
{
	struct sieve_ctx *ctx = context;
	const unsigned char *b;
	MDB_val v;
	int ret;

	ret = store_get(store, txn, STORE_DB_SIEVE, ctx->key, ctx->keylen, &v, error_r);
	if (ret != 0)
		return ret;
	/* version byte, 32 hash bytes, active, the name (not the
	 * store_codec layout: the hash is of fixed size) */
	b = v.mv_data;
	if (v.mv_size != SIEVE_VALUE_HEAD + strlen(ctx->name) ||
	    b[0] != STORE_SIEVE_VERSION || b[1 + STORE_SIEVE_HASH] > 1 ||
	    memcmp(b + SIEVE_VALUE_HEAD, ctx->name, strlen(ctx->name)) != 0)
		return store_fail(error_r, "damaged Sieve record");
	memcpy(ctx->rec.sha256, b + 1, STORE_SIEVE_HASH);
	ctx->rec.active = b[1 + STORE_SIEVE_HASH];
	return 0;
}

int lmdb_sieve_get(struct store *store, const char *account, const char *name,
		   struct store_sieve *sieve_r, const char **error_r)
{
	struct sieve_ctx ctx;
	int ret;

	if (sieve_key(account, name, ctx.key, &ctx.keylen, error_r) < 0)
		return -1;
	ctx.name = name;
	ret = store_db_present(store, STORE_DB_SIEVE, error_r);
	if (ret <= 0)
		return ret < 0 ? -1 : STORE_NOTFOUND;
	ret = store_read(store, sieve_get_txn, &ctx, error_r);
	if (ret == 0)
		*sieve_r = ctx.rec;
	return ret;
}

static int sieve_put_txn(struct store *store, MDB_txn *txn, void *context,
			 const char **error_r)
{
	struct sieve_ctx *ctx = context;
	unsigned char v[SIEVE_VALUE_HEAD + STORE_MAX_SIEVE_NAME];
	size_t n = strlen(ctx->name);

	v[0] = STORE_SIEVE_VERSION;
	memcpy(v + 1, ctx->rec.sha256, STORE_SIEVE_HASH);
	v[1 + STORE_SIEVE_HASH] = ctx->rec.active != 0;
	memcpy(v + SIEVE_VALUE_HEAD, ctx->name, n);	/* n checked by store.c */
	return store_put(store, txn, STORE_DB_SIEVE, ctx->key, ctx->keylen, v,
			 SIEVE_VALUE_HEAD + n, error_r);
}

int lmdb_sieve_put(struct store *store, const char *account, const char *name,
		   const struct store_sieve *sieve, const char **error_r)
{
	struct sieve_ctx ctx;

	if (sieve_key(account, name, ctx.key, &ctx.keylen, error_r) < 0)
		return -1;
	if (strlen(name) > STORE_MAX_SIEVE_NAME)
		return store_fail(error_r, "Sieve script name over %d bytes",
				  STORE_MAX_SIEVE_NAME);
	ctx.name = name;
	ctx.rec = *sieve;
	return store_write(store, sieve_put_txn, &ctx, error_r);
}

struct sieve_iter_ctx {
	int (*fn)(const char *name, const struct store_sieve *sieve, void *ctx);
	void *fn_ctx;
	size_t prefix_len;
};

/* One record of the account: the name from the value, checked against
 * the key's hash of it. */
static int sieve_iter_one(const MDB_val *k, const MDB_val *v, void *context,
			  const char **error_r)
{
	struct sieve_iter_ctx *ctx = context;
	const unsigned char *b = v->mv_data;
	char name[STORE_MAX_SIEVE_NAME + 1];
	unsigned char hash[32];
	unsigned int mdlen = 0;
	struct store_sieve rec;
	size_t n;

	if (k->mv_size != ctx->prefix_len + 32 || v->mv_size <= SIEVE_VALUE_HEAD ||
	    v->mv_size - SIEVE_VALUE_HEAD > STORE_MAX_SIEVE_NAME ||
	    b[0] != STORE_SIEVE_VERSION || b[1 + STORE_SIEVE_HASH] > 1)
		return store_fail(error_r, "damaged Sieve record");
	n = v->mv_size - SIEVE_VALUE_HEAD;
	memcpy(name, b + SIEVE_VALUE_HEAD, n);
	name[n] = '\0';
	if (memchr(name, '\0', n) != NULL ||
	    EVP_Digest(name, n, hash, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32 ||
	    memcmp(hash, (const unsigned char *)k->mv_data + ctx->prefix_len, 32) != 0)
		return store_fail(error_r, "damaged Sieve record");
	memcpy(rec.sha256, b + 1, STORE_SIEVE_HASH);
	rec.active = b[1 + STORE_SIEVE_HASH];
	return ctx->fn(name, &rec, ctx->fn_ctx);
}

struct sieve_iter_txn_ctx {
	const char *account;
	struct sieve_iter_ctx it;
};

static int sieve_iter_txn(struct store *store, MDB_txn *txn, void *context,
			  const char **error_r)
{
	struct sieve_iter_txn_ctx *ctx = context;

	return store_scan(store, txn, STORE_DB_SIEVE, ctx->account, ctx->it.prefix_len,
			  sieve_iter_one, &ctx->it, error_r);
}

int lmdb_sieve_iter(struct store *store, const char *account,
		    int (*fn)(const char *name, const struct store_sieve *sieve,
			      void *ctx),
		    void *ctx, const char **error_r)
{
	/* The prefix "account\0": the NUL is the string's own. */
	struct sieve_iter_txn_ctx tctx = {
		.account = account,
		.it = { .fn = fn, .fn_ctx = ctx, .prefix_len = strlen(account) + 1 },
	};
	int ret = store_db_present(store, STORE_DB_SIEVE, error_r);

	if (ret <= 0)
		return ret;	/* no database yet: no records */
	return store_read(store, sieve_iter_txn, &tctx, error_r);
}
