/*
 * NAME
 *	store_lmdb_proposal 3
 * SUMMARY
 *	alias proposals: addresses from sender-written headers wait for
 *	the administrator
 * DESCRIPTION
 *	The "aliasprop" database holds one record per (alias, account):
 *	key "alias\0account", value the state (pending, rejected,
 *	approved, trusted), the header kinds the address was seen in
 *	(STORE_ALIAS_SRC_*), the messages it was seen in, and the first
 *	and last time a round saw it. A pending proposal is no alias: the
 *	relay and the auth-hook do not see it. Approving one adds the
 *	alias to the account and its index (store_lmdb_alias.c) and keeps the
 *	record as its origin; rejecting one keeps the record so later
 *	rounds do not propose it again. An alias from OLD's own Received:
 *	hop is added at once, its record saying "trusted".
 *
 *	Creating an account drops an alias and the proposals of its name
 *	(store_proposal_forget_txn, called by store_account_create in its
 *	own transaction): an account always wins over an alias.
 * COMPATIBILITY
 *	Stores made before this database existed get it when opened for
 *	writing; the aliases they hold came from headers that cannot be
 *	told apart now: they are kept, listed with origin "unknown", and
 *	an event says how many there are (store_proposal_upgrade_txn).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm_alloc.h"
#include "store_lmdb.h"

#define PROPOSAL_REC_VERSION 1
#define PROPOSAL_KEY_MAX (2 * STORE_MAX_ACCOUNT + 1)

/* "alias\0account" into key; its length. */
static size_t proposal_key(const char *alias, const char *account,
			   char key[PROPOSAL_KEY_MAX])
{
	size_t a = strlen(alias), b = strlen(account);

	memcpy(key, alias, a);
	key[a] = '\0';
	memcpy(key + a + 1, account, b);
	return a + 1 + b;
}

static void proposal_encode(const struct store_proposal *p, struct rec_writer *w)
{
	rec_init(w, PROPOSAL_REC_VERSION);
	rec_put_u32(w, (uint32_t)p->state);
	rec_put_u32(w, p->sources);
	rec_put_u64(w, p->count);
	rec_put_u64(w, (uint64_t)p->first_seen);
	rec_put_u64(w, (uint64_t)p->last_seen);
}

/* A record back into *p (alias and account from the key). */
int store_proposal_decode(struct store *store, const MDB_val *k,
			   const MDB_val *v, struct store_proposal *p,
			   const char **error_r)
{
	const char *key = k->mv_data, *nul = memchr(key, '\0', k->mv_size);
	struct rec_reader r;
	unsigned char version;

	memset(p, 0, sizeof(*p));
	version = rec_begin(&r, v->mv_data, v->mv_size);
	p->state = (enum store_proposal_state)rec_get_u32(&r);
	p->sources = rec_get_u32(&r);
	p->count = rec_get_u64(&r);
	p->first_seen = (int64_t)rec_get_u64(&r);
	p->last_seen = (int64_t)rec_get_u64(&r);
	if (nul == NULL || nul == key || version != PROPOSAL_REC_VERSION ||
	    !rec_end_ok(&r) || p->state > STORE_PROPOSAL_TRUSTED ||
	    (size_t)(nul - key) + 1 >= k->mv_size)
		return store_fail(error_r, "store %s: damaged alias proposal record",
				  LMDB(store)->dir);
	p->alias = mm_strndup(key, (size_t)(nul - key));
	p->account = mm_strndup(nul + 1, k->mv_size - (size_t)(nul - key) - 1);
	return 0;
}

/* account's record for alias: 0 with *p, STORE_NOTFOUND, or -1. */
static int proposal_load(struct store *store, MDB_txn *txn, const char *alias,
			 const char *account, struct store_proposal *p,
			 const char **error_r)
{
	char key[PROPOSAL_KEY_MAX];
	MDB_val k, v;
	int ret;

	memset(p, 0, sizeof(*p));
	k.mv_size = proposal_key(alias, account, key);
	k.mv_data = key;
	ret = store_get(store, txn, STORE_DB_PROPOSALS, key, k.mv_size, &v, error_r);
	if (ret != 0)
		return ret;
	return store_proposal_decode(store, &k, &v, p, error_r);
}

static int proposal_save(struct store *store, MDB_txn *txn,
			 const struct store_proposal *p, const char **error_r)
{
	char key[PROPOSAL_KEY_MAX];
	struct rec_writer w;
	size_t klen = proposal_key(p->alias, p->account, key);
	int ret;

	proposal_encode(p, &w);
	ret = store_put(store, txn, STORE_DB_PROPOSALS, key, klen, w.buf, w.len,
			error_r);
	rec_free(&w);
	return ret;
}

/* Lowercase and check an alias argument into buf (STORE_MAX_ACCOUNT). */
static int proposal_name(const char *alias, char *buf, const char **error_r)
{
	return store_account_name(alias, NULL, buf, STORE_MAX_ACCOUNT, error_r);
}

/* Is name an account, or some account's alias? 1, 0, or -1. */
static int proposal_taken(struct store *store, MDB_txn *txn, const char *name,
			  const char **error_r)
{
	MDB_val v;
	int ret;

	ret = store_get(store, txn, STORE_DB_ACCOUNTS, name, strlen(name), &v, error_r);
	if (ret == STORE_NOTFOUND)
		ret = store_get(store, txn, STORE_DB_ALIASES, name, strlen(name), &v,
				error_r);
	if (ret < 0)
		return -1;
	return ret == 0;
}

struct proposal_add_ctx {
	const char *account;
	const char *alias;
	unsigned sources;
	uint64_t count;
	time_t now;
	int trusted;
};

static int proposal_add_txn(struct store *store, MDB_txn *txn, void *context,
			    const char **error_r)
{
	struct proposal_add_ctx *ctx = context;
	struct store_proposal p;
	int ret;

	ret = proposal_taken(store, txn, ctx->alias, error_r);
	if (ret != 0)
		return ret < 0 ? -1 : STORE_EXISTS;
	ret = proposal_load(store, txn, ctx->alias, ctx->account, &p, error_r);
	if (ret < 0)
		return -1;
	if (ret == STORE_NOTFOUND) {
		p.alias = mm_strdup(ctx->alias);
		p.account = mm_strdup(ctx->account);
		p.first_seen = ctx->now;
	} else if (p.state == STORE_PROPOSAL_REJECTED) {
		store_proposal_clear(&p);
		return STORE_EXISTS;
	}
	/* An approved or trusted record whose alias is gone (the account
	 * lost it) is proposed again. */
	p.state = STORE_PROPOSAL_PENDING;
	p.sources |= ctx->sources;
	p.count += ctx->count;
	p.last_seen = ctx->now;
	ret = proposal_save(store, txn, &p, error_r);
	store_proposal_clear(&p);
	return ret;
}

int lmdb_proposal_add(struct store *store, const char *account,
		      const char *alias, unsigned sources, uint64_t count,
		      time_t now, const char **error_r)
{
	char lower[STORE_MAX_ACCOUNT];
	struct proposal_add_ctx ctx = { account, lower, sources, count, now, 0 };

	if (proposal_name(alias, lower, error_r) < 0)
		return -1;
	if (strcmp(lower, account) == 0)
		return STORE_EXISTS;
	return store_write(store, proposal_add_txn, &ctx, error_r);
}

/* Collect the keys of alias's records that keep(p) says to drop. */
struct proposal_drop {
	char **keys;		/* "alias\0account" copies */
	size_t *lens;
	size_t count;
	size_t pending;		/* pending ones among them */
};

static void proposal_drop_free(struct proposal_drop *d)
{
	for (size_t i = 0; i < d->count; i++)
		mm_free(&d->keys[i]);
	mm_free(&d->keys);
	mm_free(&d->lens);
	d->count = 0;
}

struct proposal_drop_ctx {
	struct store *store;
	struct proposal_drop *drop;
	const char *keep_account;	/* never dropped; NULL: none kept */
	int keep_rejected;
};

static int proposal_drop_one(const MDB_val *k, const MDB_val *v, void *context,
			     const char **error_r)
{
	struct proposal_drop_ctx *ctx = context;
	struct proposal_drop *d = ctx->drop;
	struct store_proposal p;

	if (store_proposal_decode(ctx->store, k, v, &p, error_r) < 0)
		return -1;
	if (!(ctx->keep_rejected && p.state == STORE_PROPOSAL_REJECTED) &&
	    !(ctx->keep_account != NULL && strcmp(p.account, ctx->keep_account) == 0)) {
		d->keys = mm_reallocarray(d->keys, d->count + 1, sizeof(*d->keys));
		d->lens = mm_reallocarray(d->lens, d->count + 1, sizeof(*d->lens));
		d->keys[d->count] = mm_malloc(k->mv_size);
		memcpy(d->keys[d->count], k->mv_data, k->mv_size);
		d->lens[d->count++] = k->mv_size;
		d->pending += p.state == STORE_PROPOSAL_PENDING;
	}
	store_proposal_clear(&p);
	return 0;
}

/* Delete alias's records but keep_account's (and the rejections if
 * keep_rejected); *pending_r: how many of them were pending. */
static int proposal_drop_txn(struct store *store, MDB_txn *txn, const char *alias,
			     const char *keep_account, int keep_rejected,
			     size_t *pending_r, const char **error_r)
{
	struct proposal_drop d = { 0 };
	struct proposal_drop_ctx ctx = { store, &d, keep_account, keep_rejected };
	int ret;

	*pending_r = 0;
	if (LMDB(store)->db_missing[STORE_DB_PROPOSALS])
		return 0;
	/* The prefix "alias\0": the terminating NUL is part of it. */
	ret = store_scan(store, txn, STORE_DB_PROPOSALS, alias, strlen(alias) + 1,
			 proposal_drop_one, &ctx, error_r);
	for (size_t i = 0; ret == 0 && i < d.count; i++)
		if (store_del(store, txn, STORE_DB_PROPOSALS, d.keys[i], d.lens[i],
			      error_r) < 0)
			ret = -1;
	*pending_r = d.pending;
	proposal_drop_free(&d);
	return ret < 0 ? -1 : 0;
}

/* Give alias to account (record and index) and keep p as its origin
 * with state; drop the other accounts' pending proposals of it. */
static int proposal_grant_txn(struct store *store, MDB_txn *txn,
			      struct store_proposal *p,
			      enum store_proposal_state state, time_t now,
			      const char **error_r)
{
	size_t pending;
	int ret;

	ret = store_alias_attach_txn(store, txn, p->account, p->alias, error_r);
	if (ret != 0)
		return ret;
	/* Others' proposals of this alias are moot now; their rejections
	 * stay (the alias may be taken away again). */
	if (proposal_drop_txn(store, txn, p->alias, p->account, 1, &pending,
			      error_r) < 0)
		return -1;
	p->state = state;
	p->last_seen = now;
	if (p->first_seen == 0)
		p->first_seen = now;
	return proposal_save(store, txn, p, error_r);
}

static int proposal_trust_txn(struct store *store, MDB_txn *txn, void *context,
			      const char **error_r)
{
	struct proposal_add_ctx *ctx = context;
	struct store_proposal p;
	int ret;

	ret = proposal_load(store, txn, ctx->alias, ctx->account, &p, error_r);
	if (ret < 0)
		return -1;
	if (ret == STORE_NOTFOUND) {
		p.alias = mm_strdup(ctx->alias);
		p.account = mm_strdup(ctx->account);
		p.first_seen = ctx->now;
	}
	p.sources |= ctx->sources;
	p.count += ctx->count;
	ret = proposal_grant_txn(store, txn, &p, STORE_PROPOSAL_TRUSTED, ctx->now,
				 error_r);
	store_proposal_clear(&p);
	return ret;
}

int lmdb_proposal_trust(struct store *store, const char *account,
			const char *alias, unsigned sources, uint64_t count,
			time_t now, const char **error_r)
{
	char lower[STORE_MAX_ACCOUNT];
	struct proposal_add_ctx ctx = { account, lower, sources, count, now, 1 };

	if (proposal_name(alias, lower, error_r) < 0)
		return -1;
	if (strcmp(lower, account) == 0)
		return STORE_EXISTS;
	return store_write(store, proposal_trust_txn, &ctx, error_r);
}

struct proposal_decide_ctx {
	const char *alias;
	const char *account;	/* NULL: the only pending one / all */
	time_t now;
	int approve;
	char chosen[STORE_MAX_ACCOUNT];	/* out: the account approved */
	size_t changed;
};

/* The pending proposals of ctx->alias (of ctx->account if set): count
 * in *n, the first one's account in ctx->chosen. */
static int proposal_pending_of(struct store *store, MDB_txn *txn,
			       struct proposal_decide_ctx *ctx, size_t *n,
			       const char **error_r)
{
	size_t plen = strlen(ctx->alias) + 1;
	MDB_cursor *cur;
	MDB_val k = { plen, (void *)ctx->alias }, v;
	int rc;

	*n = 0;
	rc = mdb_cursor_open(txn, LMDB(store)->dbi[STORE_DB_PROPOSALS], &cur);
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, "aliasprop");
	/* ctx->alias is NUL-terminated: the prefix "alias\0". */
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size > plen && memcmp(k.mv_data, ctx->alias, plen) == 0) {
		struct store_proposal p;

		if (store_proposal_decode(store, &k, &v, &p, error_r) < 0) {
			mdb_cursor_close(cur);
			return -1;
		}
		if (p.state == STORE_PROPOSAL_PENDING &&
		    (ctx->account == NULL || strcmp(ctx->account, p.account) == 0)) {
			if ((*n)++ == 0)
				snprintf(ctx->chosen, sizeof(ctx->chosen), "%s", p.account);
		}
		store_proposal_clear(&p);
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_mdb_fail(store, rc, error_r, "aliasprop");
	return 0;
}

static int proposal_approve_txn(struct store *store, MDB_txn *txn, void *context,
				const char **error_r)
{
	struct proposal_decide_ctx *ctx = context;
	struct store_proposal p;
	char text[2 * STORE_MAX_ACCOUNT + 100];
	size_t n;
	int ret;

	if (proposal_pending_of(store, txn, ctx, &n, error_r) < 0)
		return -1;
	if (n == 0)
		return STORE_NOTFOUND;
	if (n > 1)
		return STORE_AMBIGUOUS;
	ret = proposal_taken(store, txn, ctx->alias, error_r);
	if (ret != 0)
		return ret < 0 ? -1 : STORE_EXISTS;
	ret = proposal_load(store, txn, ctx->alias, ctx->chosen, &p, error_r);
	if (ret != 0)
		return ret < 0 ? -1 : STORE_NOTFOUND;
	ret = proposal_grant_txn(store, txn, &p, STORE_PROPOSAL_APPROVED, ctx->now,
				 error_r);
	store_proposal_clear(&p);
	if (ret != 0)
		return ret;
	snprintf(text, sizeof(text), "alias %s approved by the administrator",
		 ctx->alias);
	return store_event_add_txn(store, txn, ctx->now, LOG_SEV_INFO, ctx->chosen,
				   text, error_r);
}

int lmdb_proposal_approve(struct store *store, const char *alias,
			  const char *account, time_t now, char *account_r,
			  size_t size, const char **error_r)
{
	char lower[STORE_MAX_ACCOUNT];
	struct proposal_decide_ctx ctx = { lower, account, now, 1, "", 0 };
	int ret;

	if (proposal_name(alias, lower, error_r) < 0)
		return -1;
	ret = store_db_present(store, STORE_DB_PROPOSALS, error_r);
	if (ret <= 0)
		return ret < 0 ? -1 : STORE_NOTFOUND;
	ret = store_write(store, proposal_approve_txn, &ctx, error_r);
	if (account_r != NULL && size > 0)
		snprintf(account_r, size, "%s", ctx.chosen);
	return ret;
}

static int proposal_reject_txn(struct store *store, MDB_txn *txn, void *context,
			       const char **error_r)
{
	struct proposal_decide_ctx *ctx = context;
	size_t plen = strlen(ctx->alias) + 1;
	char text[STORE_MAX_ACCOUNT + 100];
	MDB_cursor *cur;
	MDB_val k = { plen, (void *)ctx->alias }, v;
	int rc;

	ctx->changed = 0;
	rc = mdb_cursor_open(txn, LMDB(store)->dbi[STORE_DB_PROPOSALS], &cur);
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, "aliasprop");
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size > plen && memcmp(k.mv_data, ctx->alias, plen) == 0) {
		struct store_proposal p;
		struct rec_writer w;

		if (store_proposal_decode(store, &k, &v, &p, error_r) < 0) {
			mdb_cursor_close(cur);
			return -1;
		}
		if (p.state == STORE_PROPOSAL_PENDING &&
		    (ctx->account == NULL || strcmp(ctx->account, p.account) == 0)) {
			p.state = STORE_PROPOSAL_REJECTED;
			proposal_encode(&p, &w);
			v.mv_size = w.len;
			v.mv_data = w.buf;
			rc = mdb_cursor_put(cur, &k, &v, MDB_CURRENT);
			rec_free(&w);
			ctx->changed++;
		}
		store_proposal_clear(&p);
		if (rc != 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_mdb_fail(store, rc, error_r, "aliasprop");
	if (ctx->changed == 0)
		return STORE_NOTFOUND;
	snprintf(text, sizeof(text), "alias %s rejected by the administrator",
		 ctx->alias);
	return store_event_add_txn(store, txn, ctx->now, LOG_SEV_INFO, ctx->account,
				   text, error_r);
}

int lmdb_proposal_reject(struct store *store, const char *alias,
			 const char *account, time_t now, const char **error_r)
{
	char lower[STORE_MAX_ACCOUNT];
	struct proposal_decide_ctx ctx = { lower, account, now, 0, "", 0 };
	int ret;

	if (proposal_name(alias, lower, error_r) < 0)
		return -1;
	ret = store_db_present(store, STORE_DB_PROPOSALS, error_r);
	if (ret <= 0)
		return ret < 0 ? -1 : STORE_NOTFOUND;
	return store_write(store, proposal_reject_txn, &ctx, error_r);
}

struct proposal_iter_ctx {
	struct store *store;
	int (*fn)(const struct store_proposal *p, void *ctx);
	void *ctx;
};

static int proposal_iter_one(const MDB_val *k, const MDB_val *v, void *context,
			     const char **error_r)
{
	struct proposal_iter_ctx *ctx = context;
	struct store_proposal p;
	int ret;

	if (store_proposal_decode(ctx->store, k, v, &p, error_r) < 0)
		return -1;
	ret = ctx->fn(&p, ctx->ctx);
	store_proposal_clear(&p);
	return ret;
}

static int proposal_iter_txn(struct store *store, MDB_txn *txn, void *context,
			     const char **error_r)
{
	return store_scan(store, txn, STORE_DB_PROPOSALS, NULL, 0,
			  proposal_iter_one, context, error_r);
}

int lmdb_proposal_iter(struct store *store,
		       int (*fn)(const struct store_proposal *p, void *ctx),
		       void *ctx, const char **error_r)
{
	struct proposal_iter_ctx ictx = { store, fn, ctx };
	int ret = store_db_present(store, STORE_DB_PROPOSALS, error_r);

	if (ret <= 0)
		return ret;
	return store_read(store, proposal_iter_txn, &ictx, error_r);
}

struct alias_iter_ctx {
	struct store *store;
	MDB_txn *txn;
	int (*fn)(const char *alias, const char *account, int origin, void *ctx);
	void *ctx;
};

static int alias_iter_one(const MDB_val *k, const MDB_val *v, void *context,
			  const char **error_r)
{
	struct alias_iter_ctx *ctx = context;
	char *alias = mm_strndup(k->mv_data, k->mv_size);
	char *account = mm_strndup(v->mv_data, v->mv_size);
	struct store_proposal p;
	int ret, origin = -1;

	ret = proposal_load(ctx->store, ctx->txn, alias, account, &p, error_r);
	if (ret == 0) {
		if (p.state == STORE_PROPOSAL_APPROVED ||
		    p.state == STORE_PROPOSAL_TRUSTED)
			origin = (int)p.state;
		store_proposal_clear(&p);
	}
	if (ret >= 0)
		ret = ctx->fn(alias, account, origin, ctx->ctx);
	mm_free(&alias);
	mm_free(&account);
	return ret;
}

static int alias_iter_txn(struct store *store, MDB_txn *txn, void *context,
			  const char **error_r)
{
	struct alias_iter_ctx *ctx = context;

	ctx->txn = txn;
	return store_scan(store, txn, STORE_DB_ALIASES, NULL, 0, alias_iter_one,
			  ctx, error_r);
}

int lmdb_alias_iter(struct store *store,
		    int (*fn)(const char *alias, const char *account,
			      int origin, void *ctx),
		    void *ctx, const char **error_r)
{
	struct alias_iter_ctx ictx = { store, NULL, fn, ctx };
	int ret = store_db_present(store, STORE_DB_ALIASES, error_r);

	if (ret <= 0)
		return ret;
	/* A missing proposals database reads as empty: origin unknown. */
	if (store_db_present(store, STORE_DB_PROPOSALS, error_r) < 0)
		return -1;
	return store_read(store, alias_iter_txn, &ictx, error_r);
}

int store_proposal_forget_txn(struct store *store, MDB_txn *txn,
			      const char *name, time_t now, const char **error_r)
{
	char owner[STORE_MAX_ACCOUNT], text[2 * STORE_MAX_ACCOUNT + 120];
	size_t pending;
	int ret;

	ret = store_alias_detach_txn(store, txn, name, owner, sizeof(owner), error_r);
	if (ret < 0)
		return -1;
	if (ret == 0) {
		snprintf(text, sizeof(text), "alias %s removed: %s is an account now",
			 name, name);
		if (store_event_add_txn(store, txn, now, LOG_SEV_WARNING, owner, text,
					error_r) < 0)
			return -1;
	}
	if (proposal_drop_txn(store, txn, name, NULL, 0, &pending, error_r) < 0)
		return -1;
	if (pending > 0) {
		snprintf(text, sizeof(text), "alias proposal %s dropped: %s is an "
			 "account now", name, name);
		if (store_event_add_txn(store, txn, now, LOG_SEV_INFO, name, text,
					error_r) < 0)
			return -1;
	}
	return 0;
}

static int upgrade_count(const MDB_val *k, const MDB_val *v, void *context,
			 const char **error_r)
{
	(void)k;
	(void)v;
	(void)error_r;
	(*(uint64_t *)context)++;
	return 0;
}

int store_proposal_upgrade_txn(struct store *store, MDB_txn *txn, time_t now,
			       const char **error_r)
{
	char text[400];
	uint64_t n = 0;

	if (store_scan(store, txn, STORE_DB_ALIASES, NULL, 0, upgrade_count, &n,
		       error_r) < 0)
		return -1;
	if (n == 0)
		return 0;
	snprintf(text, sizeof(text), "%llu alias%s gathered before alias proposals "
		 "existed, from headers anyone can write: kept; review them with "
		 "`mailmigrate aliases` (origin unknown)", (unsigned long long)n,
		 n == 1 ? "" : "es");
	return store_event_add_txn(store, txn, now, LOG_SEV_WARNING, NULL, text,
				   error_r);
}
