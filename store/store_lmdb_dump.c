/*
 * NAME
 *	store_lmdb_dump 3
 * SUMMARY
 *	the LMDB store, every record in one snapshot (store_dump)
 * DESCRIPTION
 *	lmdb_dump() walks the named databases in one read transaction,
 *	so what it hands out is one consistent state of the store,
 *	however long the callback takes (writers go on meanwhile: LMDB
 *	keeps the snapshot's pages until the transaction ends).
 *
 *	The UID map is keyed by the SHA-256 of the folder name, not the
 *	name: the names come from the folder records, read first into a
 *	table sorted as LMDB sorts their keys. A UID map entry whose
 *	folder has no record cannot be given a name; it stops the dump
 *	as a damaged store rather than being left out, since a copy
 *	without it would copy that message a second time. (Failed items
 *	and the pending batch carry their folder's name themselves.)
 *
 *	Not dumped: jobidx (account -> job, made again from the jobs by
 *	a loader), the auth-hook's rate limits and failed logins (they
 *	expire within minutes), and the meta counters that only number
 *	things (next_job_id, next_event_id: a loader numbers anew in the
 *	same order).
 *
 *	lmdb_generation() is the environment's last committed
 *	transaction id, which every write of every process raises: a
 *	copy compares it before and after, so it knows whether the
 *	snapshot it copied is still the store.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mm_alloc.h"
#include "store_lmdb.h"

#define DUMP_HASH_LEN 32	/* SHA-256: the folder part of a key */

struct dump_folder {
	unsigned char *key;	/* "account\0" + SHA-256(name) */
	size_t keylen;
	char *name;
};

struct dump_ctx {
	struct store *store;
	MDB_txn *txn;
	store_dump_fn *fn;
	void *fn_ctx;
	struct dump_folder *folders;
	size_t folders_count, folders_size;
};

/* LMDB's default key order: bytes, then the shorter first. */
static int dump_key_cmp(const unsigned char *a, size_t alen,
			const unsigned char *b, size_t blen)
{
	int d = memcmp(a, b, alen < blen ? alen : blen);

	if (d != 0)
		return d;
	return alen < blen ? -1 : alen > blen;
}

/* The account part of a key ("account\0..."): its length, or -1. */
static int dump_key_account(const MDB_val *k, size_t min_rest)
{
	const char *nul = memchr(k->mv_data, '\0', k->mv_size);
	size_t n;

	if (nul == NULL)
		return -1;
	n = (size_t)(nul - (const char *)k->mv_data);
	if (n == 0 || n >= STORE_MAX_ACCOUNT || k->mv_size - n - 1 < min_rest)
		return -1;
	return (int)n;
}

static int dump_meta(struct dump_ctx *ctx, const char **error_r)
{
	struct store_dump_rec rec = { .kind = STORE_DUMP_META };
	int ret;

	for (size_t i = 0; i < STORE_META_NAMES; i++) {
		rec.name = store_meta_names[i];
		if (store_meta_get_u64(ctx->store, ctx->txn, rec.name, &rec.value,
				       error_r) < 0)
			return -1;
		if ((ret = ctx->fn(&rec, ctx->fn_ctx, error_r)) != 0)
			return ret;
	}
	return 0;
}

static int dump_account(const MDB_val *k, const MDB_val *v, void *context,
			const char **error_r)
{
	struct dump_ctx *ctx = context;
	struct store_dump_rec rec = { .kind = STORE_DUMP_ACCOUNT };
	struct store_account acct;
	char *name = mm_strndup(k->mv_data, k->mv_size);
	int ret;

	ret = store_account_decode(v, name, &acct, error_r);
	mm_free(&name);
	if (ret < 0)
		return -1;
	rec.account = &acct;
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	store_account_clear(&acct);
	return ret;
}

static int dump_cred(const MDB_val *k, const MDB_val *v, void *context,
		     const char **error_r)
{
	struct dump_ctx *ctx = context;
	struct store_dump_rec rec = { .kind = STORE_DUMP_CRED };
	char *owner = mm_strndup(k->mv_data, k->mv_size);
	int ret;

	rec.owner = owner;
	rec.data = v->mv_data;
	rec.len = v->mv_size;
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	mm_free(&owner);
	return ret;
}

static int dump_alias(const MDB_val *k, const MDB_val *v, void *context,
		      const char **error_r)
{
	struct dump_ctx *ctx = context;
	struct store_dump_rec rec = { .kind = STORE_DUMP_ALIAS };
	char *alias = mm_strndup(k->mv_data, k->mv_size);
	char *owner = mm_strndup(v->mv_data, v->mv_size);
	int ret;

	rec.name = alias;
	rec.owner = owner;
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	mm_free(&alias);
	mm_free(&owner);
	return ret;
}

static int dump_proposal(const MDB_val *k, const MDB_val *v, void *context,
			 const char **error_r)
{
	struct dump_ctx *ctx = context;
	struct store_dump_rec rec = { .kind = STORE_DUMP_PROPOSAL };
	struct store_proposal p;
	int ret;

	if (store_proposal_decode(ctx->store, k, v, &p, error_r) < 0)
		return -1;
	rec.proposal = &p;
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	store_proposal_clear(&p);
	return ret;
}

static int dump_job(const MDB_val *k, const MDB_val *v, void *context,
		    const char **error_r)
{
	struct dump_ctx *ctx = context;
	struct store_dump_rec rec = { .kind = STORE_DUMP_JOB };
	struct store_job job;
	int ret;

	if (store_job_decode(k, v, &job, error_r) < 0)
		return -1;
	rec.job = &job;
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	store_job_clear(&job);
	return ret;
}

/* A folder record: handed out, and its key and name kept for the UID
 * map (keys come in order, so the table stays sorted). */
static int dump_folder(const MDB_val *k, const MDB_val *v, void *context,
		       const char **error_r)
{
	struct dump_ctx *ctx = context;
	struct store_dump_rec rec = { .kind = STORE_DUMP_FOLDER };
	struct store_folder f;
	struct dump_folder *df;
	char *account;
	int n = dump_key_account(k, DUMP_HASH_LEN), ret;

	if (n < 0 || k->mv_size != (size_t)n + 1 + DUMP_HASH_LEN)
		return store_fail(error_r, "store %s: damaged folder key",
				  LMDB(ctx->store)->dir);
	account = mm_strndup(k->mv_data, (size_t)n);
	ret = store_folder_decode(account, v, &f, error_r);
	mm_free(&account);
	if (ret < 0)
		return -1;
	if (ctx->folders_count == ctx->folders_size) {
		ctx->folders_size = ctx->folders_size == 0 ? 64 :
			ctx->folders_size * 2;
		ctx->folders = mm_reallocarray(ctx->folders, ctx->folders_size,
					       sizeof(*ctx->folders));
	}
	df = &ctx->folders[ctx->folders_count++];
	df->key = mm_malloc(k->mv_size);
	memcpy(df->key, k->mv_data, k->mv_size);
	df->keylen = k->mv_size;
	df->name = mm_strdup(f.name);
	rec.folder = &f;
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	store_folder_clear(&f);
	return ret;
}

/* The name of the folder whose key is key[0..len), or NULL. */
static const char *dump_folder_name(const struct dump_ctx *ctx,
				    const unsigned char *key, size_t len)
{
	size_t lo = 0, hi = ctx->folders_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct dump_folder *df = &ctx->folders[mid];
		int d = dump_key_cmp(df->key, df->keylen, key, len);

		if (d == 0)
			return df->name;
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* "account\0" + SHA-256(folder) + UIDVALIDITY + UID -> new UID (and,
 * since the flags hash exists, its hash; 4 bytes before). */
static int dump_msgmap(const MDB_val *k, const MDB_val *v, void *context,
		       const char **error_r)
{
	struct dump_ctx *ctx = context;
	struct store_dump_rec rec = { .kind = STORE_DUMP_MSGMAP };
	const unsigned char *key = k->mv_data, *val = v->mv_data;
	int n = dump_key_account(k, DUMP_HASH_LEN + 8), ret;
	size_t folder_len;
	char *owner;

	if (n < 0 || k->mv_size != (size_t)n + 1 + DUMP_HASH_LEN + 8 ||
	    (v->mv_size != 4 && v->mv_size != 8))
		return store_fail(error_r, "store %s: damaged UID map entry",
				  LMDB(ctx->store)->dir);
	folder_len = (size_t)n + 1 + DUMP_HASH_LEN;
	rec.uidvalidity = store_get_be32(key + folder_len);
	rec.old_uid = store_get_be32(key + folder_len + 4);
	rec.new_uid = store_get_be32(val);
	rec.flags_hash = v->mv_size == 8 ? store_get_be32(val + 4) : 0;
	rec.name = dump_folder_name(ctx, key, folder_len);
	owner = mm_strndup(k->mv_data, (size_t)n);
	if (rec.name == NULL) {
		ret = store_fail(error_r, "store %s: the UID map entry of account "
				 "'%.200s', UIDVALIDITY %u, UID %u belongs to a "
				 "folder that has no record: damaged store (not "
				 "copied: `mailmigrate reset` that account, or "
				 "report it)", LMDB(ctx->store)->dir, owner,
				 rec.uidvalidity, rec.old_uid);
		mm_free(&owner);
		return ret;
	}
	rec.owner = owner;
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	mm_free(&owner);
	return ret;
}

/* "account\0uidl" -> the time it was added. */
static int dump_uidl(const MDB_val *k, const MDB_val *v, void *context,
		     const char **error_r)
{
	struct dump_ctx *ctx = context;
	struct store_dump_rec rec = { .kind = STORE_DUMP_UIDL };
	int n = dump_key_account(k, 1), ret;
	char *owner, *uidl;

	if (n < 0 || v->mv_size != 8)
		return store_fail(error_r, "store %s: damaged UIDL record",
				  LMDB(ctx->store)->dir);
	owner = mm_strndup(k->mv_data, (size_t)n);
	uidl = mm_strndup((const char *)k->mv_data + n + 1,
			  k->mv_size - (size_t)n - 1);
	rec.owner = owner;
	rec.name = uidl;
	rec.time = (int64_t)store_get_be64(v->mv_data);
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	mm_free(&owner);
	mm_free(&uidl);
	return ret;
}

static int dump_batch(const MDB_val *k, const MDB_val *v, void *context,
		      const char **error_r)
{
	struct dump_ctx *ctx = context;
	struct store_dump_rec rec = { .kind = STORE_DUMP_BATCH };
	struct store_batch b;
	char *owner;
	int ret;

	const char *nul = memchr(k->mv_data, '\0', k->mv_size);
	size_t olen = nul != NULL ? (size_t)(nul - (const char *)k->mv_data) :
		k->mv_size;

	/* "account" (slot 0) or "account\0<slot>" */
	if (nul != NULL && (k->mv_size != olen + 2 ||
			    ((const unsigned char *)k->mv_data)[olen + 1] == 0))
		return store_fail(error_r, "damaged pending batch key");
	if (store_batch_decode(v, &b, error_r) < 0)
		return -1;
	owner = mm_strndup(k->mv_data, olen);
	rec.owner = owner;
	rec.value = nul != NULL ? ((const unsigned char *)k->mv_data)[olen + 1] : 0;
	rec.batch = &b;
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	mm_free(&owner);
	store_batch_clear(&b);
	return ret;
}

static int dump_failed(const MDB_val *k, const MDB_val *v, void *context,
		       const char **error_r)
{
	struct dump_ctx *ctx = context;
	struct store_dump_rec rec = { .kind = STORE_DUMP_FAILED };
	struct store_failed it;
	int ret;

	if (store_failed_decode(k, v, &it, error_r) < 0)
		return -1;
	rec.failed = &it;
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	store_failed_clear(&it);
	return ret;
}

static int dump_event(const MDB_val *k, const MDB_val *v, void *context,
		      const char **error_r)
{
	struct dump_ctx *ctx = context;
	struct store_dump_rec rec = { .kind = STORE_DUMP_EVENT };
	struct store_event ev;
	int ret;

	if (store_event_decode(k, v, &ev, error_r) < 0)
		return -1;
	rec.event = &ev;
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	store_event_clear(&ev);
	return ret;
}

/* "proto:domain" -> since. */
static int dump_tls(const MDB_val *k, const MDB_val *v, void *context,
		    const char **error_r)
{
	struct dump_ctx *ctx = context;
	struct store_dump_rec rec = { .kind = STORE_DUMP_TLS };
	const char *key = k->mv_data;
	char proto[5], *domain;
	int ret;

	if (k->mv_size < 6 || key[4] != ':')
		return store_fail(error_r, "store %s: damaged TLS memory key",
				  LMDB(ctx->store)->dir);
	if (store_tls_decode(v, &rec.time, error_r) < 0)
		return -1;
	memcpy(proto, key, 4);
	proto[4] = '\0';
	domain = mm_strndup(key + 5, k->mv_size - 5);
	rec.proto = proto;
	rec.name = domain;
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	mm_free(&domain);
	return ret;
}

static int dump_rate(struct dump_ctx *ctx, const char **error_r)
{
	struct store_rate_bucket b[STORE_RATE_MINUTES];
	struct store_dump_rec rec = { .kind = STORE_DUMP_RATE };
	int ret;

	if (store_rate_load_txn(ctx->store, ctx->txn, b, error_r) < 0)
		return -1;
	for (size_t i = 0; i < STORE_RATE_MINUTES; i++) {
		/* Buckets never used are all zero. */
		if (b[i].minute == 0 && b[i].first == 0 &&
		    b[i].messages == 0 && b[i].bytes == 0)
			continue;
		rec.time = (int64_t)b[i].minute;
		rec.value = b[i].messages;
		rec.bytes = b[i].bytes;
		rec.first = (int64_t)b[i].first;
		if ((ret = ctx->fn(&rec, ctx->fn_ctx, error_r)) != 0)
			return ret;
	}
	return 0;
}

/* "account\0" SHA-256(name) -> version, SHA-256(content), active, name
 * (store_lmdb_sieve.c). */
static int dump_sieve(const MDB_val *k, const MDB_val *v, void *context,
		      const char **error_r)
{
	struct dump_ctx *ctx = context;
	struct store_dump_rec rec = { .kind = STORE_DUMP_SIEVE };
	const unsigned char *b = v->mv_data;
	const char *key = k->mv_data;
	size_t alen = strnlen(key, k->mv_size);
	char *account, *name;
	int ret;

	if (alen == 0 || alen + 1 + 32 != k->mv_size || v->mv_size < 1 + 32 + 1 + 1 ||
	    b[0] != 1 || b[33] > 1 ||
	    memchr(b + 34, '\0', v->mv_size - 34) != NULL)
		return store_fail(error_r, "store %s: damaged Sieve record",
				  LMDB(ctx->store)->dir);
	account = mm_strndup(key, alen);
	name = mm_strndup((const char *)b + 34, v->mv_size - 34);
	rec.owner = account;
	rec.name = name;
	rec.data = b + 1;
	rec.len = 32;
	rec.value = b[33];
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	mm_free(&account);
	mm_free(&name);
	return ret;
}

/* The DAV records (store_lmdb_dav.c decodes them). */
static int dump_dav(const char *account, const char *collection_url,
		    const struct store_dav *dav, void *context, const char **error_r)
{
	struct dump_ctx *ctx = context;
	struct store_dump_rec rec = { .kind = STORE_DUMP_DAV };

	rec.owner = account;
	rec.name = collection_url;
	rec.dav = dav;
	return ctx->fn(&rec, ctx->fn_ctx, error_r);
}

/* The ACL records (store_lmdb_acl.c decodes them). */
static int dump_acl(const char *account, const struct store_acl *acl, void *context,
		    const char **error_r)
{
	struct dump_ctx *ctx = context;
	struct store_dump_rec rec = { .kind = STORE_DUMP_ACL };

	rec.owner = account;
	rec.acl = acl;
	return ctx->fn(&rec, ctx->fn_ctx, error_r);
}

static int dump_txn(struct store *store, MDB_txn *txn, void *context,
		    const char **error_r)
{
	static const struct {
		enum store_db db;
		store_scan_fn *fn;
	} scans[] = {
		{ STORE_DB_ACCOUNTS, dump_account },
		{ STORE_DB_CREDS, dump_cred },
		{ STORE_DB_ALIASES, dump_alias },
		{ STORE_DB_PROPOSALS, dump_proposal },
		{ STORE_DB_JOBS, dump_job },
		{ STORE_DB_FOLDERS, dump_folder },
		{ STORE_DB_MSGMAP, dump_msgmap },
		{ STORE_DB_UIDLS, dump_uidl },
		{ STORE_DB_PENDING, dump_batch },
		{ STORE_DB_FAILED, dump_failed },
		{ STORE_DB_EVENTS, dump_event },
		{ STORE_DB_TLSSEEN, dump_tls },
	};
	struct dump_ctx *ctx = context;
	int ret;

	ctx->txn = txn;
	if ((ret = dump_meta(ctx, error_r)) != 0)
		return ret;
	for (size_t i = 0; i < sizeof(scans) / sizeof(scans[0]); i++) {
		ret = store_scan(store, txn, scans[i].db, NULL, 0, scans[i].fn, ctx,
				 error_r);
		if (ret != 0)
			return ret;
	}
	if ((ret = dump_rate(ctx, error_r)) != 0)
		return ret;
	if (!LMDB(store)->db_missing[STORE_DB_SIEVE] &&
	    (ret = store_scan(store, txn, STORE_DB_SIEVE, NULL, 0, dump_sieve, ctx,
			      error_r)) != 0)
		return ret;
	if ((ret = lmdb_dav_scan_txn(store, txn, dump_dav, ctx, error_r)) != 0)
		return ret;
	return lmdb_acl_scan_txn(store, txn, dump_acl, ctx, error_r);
}

int lmdb_dump(struct store *store, store_dump_fn *fn, void *fn_ctx,
	      const char **error_r)
{
	struct dump_ctx ctx = { .store = store, .fn = fn, .fn_ctx = fn_ctx };
	int ret;

	/* A read-only handle on a store older than the optional
	 * databases reads them as empty. */
	for (enum store_db db = 0; db < STORE_DB_COUNT; db++)
		if (store_db_present(store, db, error_r) < 0)
			return -1;
	ret = store_read(store, dump_txn, &ctx, error_r);
	for (size_t i = 0; i < ctx.folders_count; i++) {
		mm_free(&ctx.folders[i].key);
		mm_free(&ctx.folders[i].name);
	}
	mm_free(&ctx.folders);
	return ret;
}

int lmdb_generation(struct store *store, uint64_t *generation_r,
		    const char **error_r)
{
	MDB_envinfo info;
	int rc = mdb_env_info(LMDB(store)->env, &info);

	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, "environment info");
	*generation_r = (uint64_t)info.me_last_txnid;
	return 0;
}
