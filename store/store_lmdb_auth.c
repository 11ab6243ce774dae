/*
 * NAME
 *	store_lmdb_auth 3
 * SUMMARY
 *	the auth-hook's shared rate limits, failed-login cache and
 *	password changes
 * DESCRIPTION
 *	The Dovecot module runs in many auth-worker processes; what must
 *	hold across all of them lives here, in the authlimit database:
 *
 *	"r:KEY"	 a fixed-window counter: u64 window end, u32 hits.
 *	"f:MAC"	 a failed user+password check: u64 expiry. MAC is a
 *		 keyed hash (crypto_mac()), so the store never holds
 *		 anything a password could be recovered from.
 *
 *	Each write that adds an entry also drops expired ones once the
 *	database holds more than STORE_AUTH_PRUNE_AT entries, so the
 *	database stays small without a cleaning process. A write looks at
 *	STORE_AUTH_PRUNE_MAX entries at most, from where the last one
 *	stopped (the meta record "authprune" holds that key; after the
 *	last entry it starts over), so the cost of a login stays bounded
 *	however large the database has grown.
 */
#include "config.h"

#include <string.h>

#include "mm_alloc.h"
#include "store_lmdb.h"

#define STORE_AUTH_PRUNE_AT 4096
#define STORE_AUTH_MAX_KEY 400
#define AUTH_PRUNE_KEY "authprune"

/* A record: u64 expiry (window end), u32 count. */
struct auth_rec {
	uint64_t until;
	uint32_t count;
};

static void auth_rec_put(unsigned char buf[12], const struct auth_rec *rec)
{
	store_be64(buf, rec->until);
	store_be32(buf + 8, rec->count);
}

/* A record as stored, or a zero one for a missing or odd-sized value. */
static struct auth_rec auth_rec_get(const MDB_val *v)
{
	struct auth_rec rec = { 0, 0 };

	if (v->mv_size == 12) {
		rec.until = store_get_be64(v->mv_data);
		rec.count = store_get_be32((const unsigned char *)v->mv_data + 8);
	}
	return rec;
}

/* Build "PREFIX" + key into buf; -1 if too long. */
static int auth_key(char *buf, size_t size, char prefix, const void *key,
		    size_t len, size_t *len_r)
{
	if (len + 2 > size)
		return -1;
	buf[0] = prefix;
	buf[1] = ':';
	memcpy(buf + 2, key, len);
	*len_r = len + 2;
	return 0;
}

/* Drop expired entries when the database has grown: at most
 * STORE_AUTH_PRUNE_MAX looked at, going on from where the last call
 * stopped. */
static int auth_prune(struct store *store, MDB_txn *txn, time_t now,
		      const char **error_r)
{
	unsigned char resume[STORE_AUTH_MAX_KEY + 2];
	MDB_cursor *cur;
	MDB_stat st;
	MDB_val k, v;
	size_t seen = 0;
	int rc, ret;

	if (LMDB(store)->db_missing[STORE_DB_AUTHLIMIT])
		return 0;
	rc = mdb_stat(txn, LMDB(store)->dbi[STORE_DB_AUTHLIMIT], &st);
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, "authlimit stat");
	if (st.ms_entries < STORE_AUTH_PRUNE_AT)
		return 0;
	ret = store_get(store, txn, STORE_DB_META, AUTH_PRUNE_KEY,
			strlen(AUTH_PRUNE_KEY), &v, error_r);
	if (ret < 0)
		return -1;
	k.mv_size = 0;
	if (ret == 0 && v.mv_size > 0 && v.mv_size <= sizeof(resume)) {
		memcpy(resume, v.mv_data, v.mv_size);
		k.mv_data = resume;
		k.mv_size = v.mv_size;
	}
	rc = mdb_cursor_open(txn, LMDB(store)->dbi[STORE_DB_AUTHLIMIT], &cur);
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, "authlimit cursor");
	rc = k.mv_size > 0 ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) :
		MDB_NOTFOUND;
	if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	for (; rc == 0 && seen < STORE_AUTH_PRUNE_MAX; seen++) {
		struct auth_rec rec = auth_rec_get(&v);

		if (rec.until <= (uint64_t)now &&
		    (rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	/* Where the next call goes on: the first entry not looked at, or
	 * from the start once the end was reached. */
	if (rc == 0 && k.mv_size <= sizeof(resume)) {
		memcpy(resume, k.mv_data, k.mv_size);
		k.mv_data = resume;
	} else if (rc == MDB_NOTFOUND) {
		k.mv_size = 0;
		rc = 0;
	}
	mdb_cursor_close(cur);
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, "authlimit prune");
	return store_put(store, txn, STORE_DB_META, AUTH_PRUNE_KEY,
			 strlen(AUTH_PRUNE_KEY), k.mv_size > 0 ? k.mv_data : "",
			 k.mv_size, error_r);
}

struct auth_limit_ctx {
	const struct store_auth_limit *limits;
	size_t n;
	unsigned window;
	time_t now;
};

static int auth_limit_txn(struct store *store, MDB_txn *txn, void *context,
			  const char **error_r)
{
	struct auth_limit_ctx *ctx = context;
	struct auth_rec *recs;
	char key[STORE_AUTH_MAX_KEY + 2];
	size_t klen = 0;
	MDB_val v;
	int ret = 0;

	recs = mm_calloc(ctx->n, sizeof(*recs));
	/* First look, then count: all or nothing. */
	for (size_t i = 0; i < ctx->n && ret == 0; i++) {
		const struct store_auth_limit *l = &ctx->limits[i];

		if (auth_key(key, sizeof(key), 'r', l->key, strlen(l->key), &klen) < 0) {
			ret = store_fail(error_r, "rate limit key too long");
			break;
		}
		ret = store_get(store, txn, STORE_DB_AUTHLIMIT, key, klen, &v, error_r);
		if (ret < 0)
			break;
		if (ret == 0)
			recs[i] = auth_rec_get(&v);
		ret = 0;
		if (recs[i].until <= (uint64_t)ctx->now) {
			recs[i].until = (uint64_t)ctx->now + ctx->window;
			recs[i].count = 0;
		}
		if (l->limit != 0 && recs[i].count >= l->limit)
			ret = STORE_EXISTS;
	}
	for (size_t i = 0; i < ctx->n && ret == 0; i++) {
		unsigned char buf[12];

		recs[i].count++;
		auth_rec_put(buf, &recs[i]);
		(void)auth_key(key, sizeof(key), 'r', ctx->limits[i].key,
			       strlen(ctx->limits[i].key), &klen);
		ret = store_put(store, txn, STORE_DB_AUTHLIMIT, key, klen, buf,
				sizeof(buf), error_r);
	}
	mm_free(&recs);
	if (ret == 0)
		ret = auth_prune(store, txn, ctx->now, error_r);
	return ret;
}

int lmdb_auth_limit(struct store *store, const struct store_auth_limit *limits,
		    size_t n, unsigned window, time_t now, const char **error_r)
{
	struct auth_limit_ctx ctx = { limits, n, window == 0 ? 1 : window, now };

	return store_write(store, auth_limit_txn, &ctx, error_r);
}

struct auth_fail_ctx {
	const unsigned char *mac;
	size_t len;
	time_t now;
	unsigned ttl;
	int found;
};

static int auth_fail_add_txn(struct store *store, MDB_txn *txn, void *context,
			     const char **error_r)
{
	struct auth_fail_ctx *ctx = context;
	struct auth_rec rec = { (uint64_t)ctx->now + ctx->ttl, 1 };
	unsigned char buf[12];
	char key[STORE_AUTH_MAX_KEY + 2];
	size_t klen = 0;

	if (auth_key(key, sizeof(key), 'f', ctx->mac, ctx->len, &klen) < 0)
		return store_fail(error_r, "failed-login key too long");
	auth_rec_put(buf, &rec);
	if (store_put(store, txn, STORE_DB_AUTHLIMIT, key, klen, buf, sizeof(buf),
		      error_r) < 0)
		return -1;
	return auth_prune(store, txn, ctx->now, error_r);
}

int lmdb_auth_fail_add(struct store *store, const unsigned char *mac,
		       size_t len, time_t now, unsigned ttl,
		       const char **error_r)
{
	struct auth_fail_ctx ctx = { mac, len, now, ttl, 0 };

	return store_write(store, auth_fail_add_txn, &ctx, error_r);
}

static int auth_fail_has_txn(struct store *store, MDB_txn *txn, void *context,
			     const char **error_r)
{
	struct auth_fail_ctx *ctx = context;
	char key[STORE_AUTH_MAX_KEY + 2];
	size_t klen = 0;
	MDB_val v;
	int ret;

	ctx->found = 0;
	if (auth_key(key, sizeof(key), 'f', ctx->mac, ctx->len, &klen) < 0)
		return store_fail(error_r, "failed-login key too long");
	ret = store_get(store, txn, STORE_DB_AUTHLIMIT, key, klen, &v, error_r);
	if (ret < 0)
		return -1;
	if (ret == 0 && auth_rec_get(&v).until > (uint64_t)ctx->now)
		ctx->found = 1;
	return 0;
}

int lmdb_auth_fail_has(struct store *store, const unsigned char *mac,
		       size_t len, time_t now, const char **error_r)
{
	struct auth_fail_ctx ctx = { mac, len, now, 0, 0 };

	if (store_read(store, auth_fail_has_txn, &ctx, error_r) < 0)
		return -1;
	return ctx.found;
}

struct set_password_ctx {
	const char *name;
	const char *hash;
	const char *password;
	time_t now;
};

static int set_password_txn(struct store *store, MDB_txn *txn, void *context,
			    const char **error_r)
{
	struct set_password_ctx *ctx = context;
	struct store_account acct;
	int ret;

	ret = store_account_load(store, txn, ctx->name, &acct, error_r);
	if (ret != 0)
		return ret;
	mm_free(&acct.password_hash);
	acct.password_hash = mm_strdup(ctx->hash);
	acct.updated = ctx->now;
	ret = store_account_save(store, txn, &acct, error_r);
	if (ret == 0 && ctx->password != NULL)
		ret = store_cred_set_txn(store, txn, ctx->name, ctx->password, error_r);
	store_account_clear(&acct);
	return ret;
}

int lmdb_account_set_password(struct store *store, const char *name,
			      const char *password_hash, const char *password,
			      time_t now, const char **error_r)
{
	struct set_password_ctx ctx = { name, password_hash, password, now };

	if (password != NULL && !store->have_key)
		return store_fail(error_r, "no key loaded to seal the password");
	return store_write(store, set_password_txn, &ctx, error_r);
}
