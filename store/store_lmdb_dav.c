/*
 * NAME
 *	store_lmdb_dav 3
 * SUMMARY
 *	what a round put on NEW of calendars and address books (LMDB)
 * DESCRIPTION
 *	store.h, "calendars and address books", says what the records are
 *	for.
 *
 *	Database "dav". Key: "account\0" + SHA-256(collection URL), and
 *	for an item + SHA-256(item URL): a collection's own record sorts
 *	before its items', all of them under one prefix, and
 *	store_folder_forget_txn()'s account prefix removes an account's
 *	records with the rest of its copy progress. Value: version byte 1,
 *	the kind, the three 32-byte hashes, the copy time (8 bytes, big
 *	endian), then the collection URL, OLD's URL and NEW's URL, each
 *	after its length (2 bytes, big endian): the key holds only hashes,
 *	a dump and an iteration need the URLs, and a reader checks them
 *	against the key.
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

#define DAV_VERSION 1
#define DAV_HASH 32
#define DAV_KEY_MAX (STORE_MAX_ACCOUNT + 1 + 2 * DAV_HASH)
#define DAV_HEAD (1 + 1 + 3 * STORE_DAV_HASH + 8)
#define DAV_VALUE_MAX (DAV_HEAD + 3 * (2 + STORE_MAX_DAV_URL))

static void dav_hash(const char *s, unsigned char *out)
{
	unsigned int mdlen = 0;

	if (EVP_Digest(s, strlen(s), out, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != DAV_HASH)
		memset(out, 0, DAV_HASH);	/* cannot happen: a key of zeros */
}

/* "account\0" + H(collection) [+ H(item)] into key. */
static size_t dav_key(const char *account, const char *collection, const char *item,
		      unsigned char *key)
{
	size_t n = strlen(account) + 1;	/* checked by store.c */

	memcpy(key, account, n);
	if (collection == NULL)
		return n;
	dav_hash(collection, key + n);
	n += DAV_HASH;
	if (item != NULL) {
		dav_hash(item, key + n);
		n += DAV_HASH;
	}
	return n;
}

static size_t dav_put_str(unsigned char *p, const char *s)
{
	size_t n = strlen(s);	/* <= STORE_MAX_DAV_URL, checked by store.c */

	p[0] = (unsigned char)(n >> 8);
	p[1] = (unsigned char)n;
	memcpy(p + 2, s, n);
	return 2 + n;
}

static size_t dav_encode(const char *collection, const struct store_dav *d,
			 unsigned char *v)
{
	uint64_t t = (uint64_t)d->copied;
	size_t n = 0;

	v[n++] = DAV_VERSION;
	v[n++] = (unsigned char)d->kind;
	memcpy(v + n, d->old_etag, STORE_DAV_HASH);
	n += STORE_DAV_HASH;
	memcpy(v + n, d->new_etag, STORE_DAV_HASH);
	n += STORE_DAV_HASH;
	memcpy(v + n, d->sha256, STORE_DAV_HASH);
	n += STORE_DAV_HASH;
	for (int i = 7; i >= 0; i--)
		v[n++] = (unsigned char)(t >> (8 * i));
	n += dav_put_str(v + n, collection);
	n += dav_put_str(v + n, d->old_url);
	n += dav_put_str(v + n, d->new_url);
	return n;
}

/* One string of a value at *pos into buf (STORE_MAX_DAV_URL + 1). */
static int dav_get_str(const unsigned char *v, size_t len, size_t *pos, char *buf)
{
	size_t n;

	if (*pos + 2 > len)
		return -1;
	n = (size_t)v[*pos] << 8 | v[*pos + 1];
	*pos += 2;
	if (n > STORE_MAX_DAV_URL || *pos + n > len || memchr(v + *pos, '\0', n) != NULL)
		return -1;
	memcpy(buf, v + *pos, n);
	buf[n] = '\0';
	*pos += n;
	return 0;
}

/* Decode a value whose key is k (prefix_len: its "account\0"); the
 * URLs are checked against the key's hashes. */
static int dav_decode(const MDB_val *k, size_t prefix_len, const MDB_val *val,
		      char *collection, struct store_dav *d, const char **error_r)
{
	const unsigned char *v = val->mv_data, *key = k->mv_data;
	unsigned char h[DAV_HASH];
	uint64_t t = 0;
	size_t pos = DAV_HEAD;
	int item;

	if (k->mv_size != prefix_len + DAV_HASH && k->mv_size != prefix_len + 2 * DAV_HASH)
		return store_fail(error_r, "damaged DAV record (key)");
	item = k->mv_size == prefix_len + 2 * DAV_HASH;
	if (val->mv_size < DAV_HEAD || v[0] != DAV_VERSION ||
	    (item ? v[1] != STORE_DAV_ITEM :
	     v[1] != STORE_DAV_CALENDAR && v[1] != STORE_DAV_ADDRESSBOOK) ||
	    dav_get_str(v, val->mv_size, &pos, collection) < 0 ||
	    dav_get_str(v, val->mv_size, &pos, d->old_url) < 0 ||
	    dav_get_str(v, val->mv_size, &pos, d->new_url) < 0 || pos != val->mv_size)
		return store_fail(error_r, "damaged DAV record");
	dav_hash(collection, h);
	if (memcmp(h, key + prefix_len, DAV_HASH) != 0)
		return store_fail(error_r, "damaged DAV record (collection)");
	dav_hash(d->old_url, h);
	if (memcmp(h, key + prefix_len + (item ? DAV_HASH : 0), DAV_HASH) != 0)
		return store_fail(error_r, "damaged DAV record (URL)");
	d->kind = v[1];
	memcpy(d->old_etag, v + 2, STORE_DAV_HASH);
	memcpy(d->new_etag, v + 2 + STORE_DAV_HASH, STORE_DAV_HASH);
	memcpy(d->sha256, v + 2 + 2 * STORE_DAV_HASH, STORE_DAV_HASH);
	for (int i = 0; i < 8; i++)
		t = t << 8 | v[2 + 3 * STORE_DAV_HASH + i];
	d->copied = (int64_t)t;
	return 0;
}

struct dav_ctx {
	unsigned char key[DAV_KEY_MAX];
	size_t keylen, prefix_len;
	const char *collection, *item;
	const struct store_dav *in;
	struct store_dav *out;
};

static int dav_get_txn(struct store *store, MDB_txn *txn, void *context,
		       const char **error_r)
{
	struct dav_ctx *ctx = context;
	char collection[STORE_MAX_DAV_URL + 1];
	MDB_val k = { ctx->keylen, ctx->key }, v;
	int ret;

	ret = store_get(store, txn, STORE_DB_DAV, ctx->key, ctx->keylen, &v, error_r);
	if (ret != 0)
		return ret;
	return dav_decode(&k, ctx->prefix_len, &v, collection, ctx->out, error_r);
}

int lmdb_dav_get(struct store *store, const char *account, const char *collection,
		 const char *item, struct store_dav *dav_r, const char **error_r)
{
	struct dav_ctx ctx = { .collection = collection, .item = item, .out = dav_r };
	int ret;

	ctx.keylen = dav_key(account, collection, item, ctx.key);
	ctx.prefix_len = strlen(account) + 1;
	ret = store_db_present(store, STORE_DB_DAV, error_r);
	if (ret <= 0)
		return ret < 0 ? -1 : STORE_NOTFOUND;
	return store_read(store, dav_get_txn, &ctx, error_r);
}

static int dav_put_txn(struct store *store, MDB_txn *txn, void *context,
		       const char **error_r)
{
	struct dav_ctx *ctx = context;
	unsigned char *v = mm_malloc(DAV_VALUE_MAX);
	size_t n = dav_encode(ctx->collection, ctx->in, v);
	int ret;

	ret = store_put(store, txn, STORE_DB_DAV, ctx->key, ctx->keylen, v, n, error_r);
	mm_free(&v);
	return ret;
}

int lmdb_dav_put(struct store *store, const char *account, const char *collection,
		 const char *item, const struct store_dav *dav, const char **error_r)
{
	struct dav_ctx ctx = { .collection = collection, .item = item, .in = dav };

	ctx.keylen = dav_key(account, collection, item, ctx.key);
	return store_write(store, dav_put_txn, &ctx, error_r);
}

static int dav_del_txn(struct store *store, MDB_txn *txn, void *context,
		       const char **error_r)
{
	struct dav_ctx *ctx = context;
	MDB_val v;
	int ret;

	ret = store_get(store, txn, STORE_DB_DAV, ctx->key, ctx->keylen, &v, error_r);
	if (ret != 0 && (ret != STORE_NOTFOUND || ctx->item != NULL))
		return ret;
	if (ctx->item != NULL)
		return store_del(store, txn, STORE_DB_DAV, ctx->key, ctx->keylen, error_r);
	/* the collection's own record and its items': one prefix */
	if (store_del_prefix(store, txn, STORE_DB_DAV, ctx->key, ctx->keylen, error_r) < 0)
		return -1;
	return ret;
}

int lmdb_dav_del(struct store *store, const char *account, const char *collection,
		 const char *item, const char **error_r)
{
	struct dav_ctx ctx = { .collection = collection, .item = item };
	int ret = store_db_present(store, STORE_DB_DAV, error_r);

	if (ret <= 0)
		return ret < 0 ? -1 : STORE_NOTFOUND;
	ctx.keylen = dav_key(account, collection, item, ctx.key);
	return store_write(store, dav_del_txn, &ctx, error_r);
}

struct dav_iter_ctx {
	unsigned char key[DAV_KEY_MAX];
	size_t keylen, prefix_len;
	int (*fn)(const char *collection_url, const struct store_dav *dav, void *ctx);
	void *fn_ctx;
	struct store_dav *rec;
	char collection[STORE_MAX_DAV_URL + 1];
};

static int dav_iter_one(const MDB_val *k, const MDB_val *v, void *context,
			const char **error_r)
{
	struct dav_iter_ctx *ctx = context;

	if (dav_decode(k, ctx->prefix_len, v, ctx->collection, ctx->rec, error_r) < 0)
		return -1;
	return ctx->fn(ctx->collection, ctx->rec, ctx->fn_ctx);
}

static int dav_iter_txn(struct store *store, MDB_txn *txn, void *context,
			const char **error_r)
{
	struct dav_iter_ctx *ctx = context;

	return store_scan(store, txn, STORE_DB_DAV, ctx->key, ctx->keylen, dav_iter_one,
			  ctx, error_r);
}

int lmdb_dav_iter(struct store *store, const char *account, const char *collection,
		  int (*fn)(const char *collection_url, const struct store_dav *dav,
			    void *ctx),
		  void *ctx, const char **error_r)
{
	struct dav_iter_ctx *it;
	int ret = store_db_present(store, STORE_DB_DAV, error_r);

	if (ret <= 0)
		return ret;	/* no database yet: no records */
	it = mm_calloc(1, sizeof(*it));
	it->keylen = dav_key(account, collection, NULL, it->key);
	it->prefix_len = strlen(account) + 1;
	it->fn = fn;
	it->fn_ctx = ctx;
	it->rec = mm_calloc(1, sizeof(*it->rec));
	ret = store_read(store, dav_iter_txn, it, error_r);
	mm_free(&it->rec);
	mm_free(&it);
	return ret;
}

/* The counts for store_stats_get(): collections and items (by their
 * keys' length, the account's from the NUL). */
int lmdb_dav_count_txn(struct store *store, MDB_txn *txn, uint64_t *collections_r,
		       uint64_t *items_r, const char **error_r)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	*collections_r = *items_r = 0;
	if (LMDB(store)->db_missing[STORE_DB_DAV])
		return 0;
	rc = mdb_cursor_open(txn, LMDB(store)->dbi[STORE_DB_DAV], &cur);
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, "dav");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const unsigned char *nul = memchr(k.mv_data, '\0', k.mv_size);
		size_t rest = nul != NULL ? k.mv_size - (size_t)(nul + 1 -
			(const unsigned char *)k.mv_data) : 0;

		if (rest == DAV_HASH)
			(*collections_r)++;
		else if (rest == 2 * DAV_HASH)
			(*items_r)++;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return store_mdb_fail(store, rc, error_r, "dav");
	return 0;
}

struct dav_all_ctx {
	int (*fn)(const char *account, const char *collection_url,
		  const struct store_dav *dav, void *ctx, const char **error_r);
	void *fn_ctx;
	struct store_dav *rec;
	char collection[STORE_MAX_DAV_URL + 1];
	char account[STORE_MAX_ACCOUNT + 1];
};

static int dav_all_one(const MDB_val *k, const MDB_val *v, void *context,
		       const char **error_r)
{
	struct dav_all_ctx *ctx = context;
	size_t alen = strnlen(k->mv_data, k->mv_size);

	if (alen == 0 || alen >= STORE_MAX_ACCOUNT || alen == k->mv_size)
		return store_fail(error_r, "damaged DAV record (account)");
	memcpy(ctx->account, k->mv_data, alen);
	ctx->account[alen] = '\0';
	if (dav_decode(k, alen + 1, v, ctx->collection, ctx->rec, error_r) < 0)
		return -1;
	return ctx->fn(ctx->account, ctx->collection, ctx->rec, ctx->fn_ctx, error_r);
}

int lmdb_dav_scan_txn(struct store *store, MDB_txn *txn,
		      int (*fn)(const char *account, const char *collection_url,
				const struct store_dav *dav, void *ctx,
				const char **error_r),
		      void *ctx, const char **error_r)
{
	struct dav_all_ctx *all;
	int ret;

	if (LMDB(store)->db_missing[STORE_DB_DAV])
		return 0;
	all = mm_calloc(1, sizeof(*all));
	all->fn = fn;
	all->fn_ctx = ctx;
	all->rec = mm_calloc(1, sizeof(*all->rec));
	ret = store_scan(store, txn, STORE_DB_DAV, NULL, 0, dav_all_one, all, error_r);
	mm_free(&all->rec);
	mm_free(&all);
	return ret;
}
