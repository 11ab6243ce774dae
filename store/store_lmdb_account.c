/*
 * NAME
 *	store_lmdb_account 3
 * SUMMARY
 *	accounts: state, hash, times, counters, aliases
 * DESCRIPTION
 *	The key is "user@domain", lowercased. Creating an account also
 *	seals its password and queues its copy job in the same write
 *	transaction, so a crash never leaves an account without its job.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mm_alloc.h"
#include "store_lmdb.h"

#define ACCOUNT_REC_VERSION 1

void store_account_encode(const struct store_account *acct,
			  struct rec_writer *w)
{
	rec_init(w, ACCOUNT_REC_VERSION);
	rec_put_str(w, acct->domain);
	rec_put_u32(w, (uint32_t)acct->state);
	rec_put_u32(w, acct->flags);
	rec_put_str(w, acct->password_hash);
	rec_put_u64(w, (uint64_t)acct->created);
	rec_put_u64(w, (uint64_t)acct->updated);
	rec_put_u64(w, (uint64_t)acct->copy_started);
	rec_put_u64(w, (uint64_t)acct->copy_finished);
	rec_put_u64(w, (uint64_t)acct->finished);
	rec_put_u64(w, acct->messages);
	rec_put_u64(w, acct->bytes);
	rec_put_u64(w, acct->folders);
	rec_put_u64(w, acct->errors);
	rec_put_u64(w, acct->late_mail);
	rec_put_str(w, acct->last_error);
	rec_put_u32(w, (uint32_t)acct->aliases_count);
	for (size_t i = 0; i < acct->aliases_count; i++)
		rec_put_str(w, acct->aliases[i]);
}

int store_account_decode(const MDB_val *val, const char *name,
			 struct store_account *acct_r, const char **error_r)
{
	struct rec_reader r;
	unsigned char version;
	uint32_t n;

	memset(acct_r, 0, sizeof(*acct_r));
	version = rec_begin(&r, val->mv_data, val->mv_size);
	if (version != ACCOUNT_REC_VERSION)
		return store_fail(error_r, "account '%.200s': record has unknown "
				  "version %u", name, version);
	acct_r->name = mm_strdup(name);
	acct_r->domain = rec_get_str(&r);
	acct_r->state = (enum store_state)rec_get_u32(&r);
	acct_r->flags = rec_get_u32(&r);
	acct_r->password_hash = rec_get_str(&r);
	acct_r->created = (int64_t)rec_get_u64(&r);
	acct_r->updated = (int64_t)rec_get_u64(&r);
	acct_r->copy_started = (int64_t)rec_get_u64(&r);
	acct_r->copy_finished = (int64_t)rec_get_u64(&r);
	acct_r->finished = (int64_t)rec_get_u64(&r);
	acct_r->messages = rec_get_u64(&r);
	acct_r->bytes = rec_get_u64(&r);
	acct_r->folders = rec_get_u64(&r);
	acct_r->errors = rec_get_u64(&r);
	acct_r->late_mail = rec_get_u64(&r);
	acct_r->last_error = rec_get_str(&r);
	n = rec_get_u32(&r);
	if (!r.bad && n <= STORE_MAX_ALIASES) {
		acct_r->aliases = mm_calloc(n, sizeof(char *));
		for (uint32_t i = 0; i < n && !r.bad; i++) {
			acct_r->aliases[i] = rec_get_str(&r);
			acct_r->aliases_count++;
		}
	} else {
		r.bad = 1;
	}
	if (!rec_end_ok(&r) || acct_r->domain == NULL ||
	    (unsigned)acct_r->state >= STORE_STATE_COUNT) {
		store_account_clear(acct_r);
		return store_fail(error_r, "account '%.200s': damaged record", name);
	}
	return 0;
}

int store_account_load(struct store *store, MDB_txn *txn, const char *name,
		       struct store_account *acct_r, const char **error_r)
{
	MDB_val v;
	int ret;

	memset(acct_r, 0, sizeof(*acct_r));
	ret = store_get(store, txn, STORE_DB_ACCOUNTS, name, strlen(name), &v,
			error_r);
	if (ret != 0)
		return ret;
	return store_account_decode(&v, name, acct_r, error_r);
}

int store_account_save(struct store *store, MDB_txn *txn,
		       const struct store_account *acct, const char **error_r)
{
	struct rec_writer w;
	int ret;

	store_account_encode(acct, &w);
	ret = store_put(store, txn, STORE_DB_ACCOUNTS, acct->name,
			strlen(acct->name), w.buf, w.len, error_r);
	rec_free(&w);
	return ret;
}

struct account_create_ctx {
	const struct store_account *acct;
	const char *password;
	time_t now;
};

static int account_create_txn(struct store *store, MDB_txn *txn, void *context,
			      const char **error_r)
{
	struct account_create_ctx *ctx = context;
	struct store_account acct = *ctx->acct;
	uint64_t started, id;
	MDB_val v;
	int ret;

	ret = store_get(store, txn, STORE_DB_ACCOUNTS, acct.name,
			strlen(acct.name), &v, error_r);
	if (ret < 0)
		return -1;
	if (ret == 0)
		return STORE_EXISTS;
	acct.created = acct.updated = ctx->now;
	/* Someone's alias (or a proposal) of this name: the account wins. */
	if (store_proposal_forget_txn(store, txn, acct.name, ctx->now, error_r) < 0)
		return -1;
	if (store_account_save(store, txn, &acct, error_r) < 0)
		return -1;
	if (acct.aliases_count > 0 &&
	    store_alias_reindex_txn(store, txn, acct.name, NULL, 0, acct.aliases,
				    acct.aliases_count, error_r) < 0)
		return -1;
	if (ctx->password != NULL &&
	    store_cred_set_txn(store, txn, acct.name, ctx->password, error_r) < 0)
		return -1;
	if (acct.state == STORE_STATE_QUEUED &&
	    store_job_enqueue_txn(store, txn, acct.name, STORE_JOB_COPY, ctx->now,
				  &id, error_r) < 0)
		return -1;
	if (store_meta_get_u64(store, txn, "started", &started, error_r) < 0)
		return -1;
	if (started == 0 &&
	    store_meta_put_u64(store, txn, "started", (uint64_t)ctx->now, error_r) < 0)
		return -1;
	return 0;
}

int lmdb_account_create(struct store *store, const struct store_account *acct,
			const char *password, time_t now, const char **error_r)
{
	struct account_create_ctx ctx = { acct, password, now };

	if (acct->name == NULL || acct->domain == NULL)
		return store_fail(error_r, "account without a name or domain");
	if (password != NULL && !store->have_key)
		return store_fail(error_r, "no key loaded to seal the password");
	return store_write(store, account_create_txn, &ctx, error_r);
}

struct account_requeue_ctx {
	const char *name;
	const char *hash;
	const char *password;
	time_t now;
};

static int account_requeue_txn(struct store *store, MDB_txn *txn, void *context,
			       const char **error_r)
{
	struct account_requeue_ctx *ctx = context;
	struct store_account acct;
	uint64_t id;
	int ret;

	ret = store_account_load(store, txn, ctx->name, &acct, error_r);
	if (ret != 0)
		return ret;
	acct.flags |= STORE_ACCOUNT_MESSAGES_ONLY;
	if (ctx->hash != NULL) {
		mm_free(&acct.password_hash);
		acct.password_hash = mm_strdup(ctx->hash);
	}
	/* A copy in progress keeps its state; anything else waits anew. */
	if (acct.state != STORE_STATE_MIGRATING)
		acct.state = STORE_STATE_QUEUED;
	acct.updated = ctx->now;
	ret = store_account_save(store, txn, &acct, error_r);
	if (ret == 0 && ctx->password != NULL)
		ret = store_cred_set_txn(store, txn, ctx->name, ctx->password, error_r);
	if (ret == 0)
		ret = store_job_enqueue_txn(store, txn, ctx->name, STORE_JOB_COPY,
					    ctx->now, &id, error_r) < 0 ? -1 : 0;
	store_account_clear(&acct);
	return ret;
}

int lmdb_account_requeue(struct store *store, const char *name,
			 const char *password_hash, const char *password,
			 time_t now, const char **error_r)
{
	struct account_requeue_ctx ctx = { name, password_hash, password, now };

	if (password != NULL && !store->have_key)
		return store_fail(error_r, "no key loaded to seal the password");
	return store_write(store, account_requeue_txn, &ctx, error_r);
}

struct account_get_ctx {
	const char *name;
	struct store_account *acct;
};

static int account_get_txn(struct store *store, MDB_txn *txn, void *context,
			   const char **error_r)
{
	struct account_get_ctx *ctx = context;

	return store_account_load(store, txn, ctx->name, ctx->acct, error_r);
}

int lmdb_account_get(struct store *store, const char *name,
		     struct store_account *acct_r, const char **error_r)
{
	struct account_get_ctx ctx = { name, acct_r };

	memset(acct_r, 0, sizeof(*acct_r));
	return store_read(store, account_get_txn, &ctx, error_r);
}

struct account_update_ctx {
	const char *name;
	int (*fn)(struct store_account *acct, void *ctx);
	void *fn_ctx;
};

static int account_update_txn(struct store *store, MDB_txn *txn, void *context,
			      const char **error_r)
{
	struct account_update_ctx *ctx = context;
	struct store_account acct;
	char **old = NULL;
	size_t old_count;
	int ret;

	ret = store_account_load(store, txn, ctx->name, &acct, error_r);
	if (ret != 0)
		return ret;
	/* fn may change the aliases: keep the index in step. */
	old_count = acct.aliases_count;
	if (old_count > 0) {
		old = mm_calloc(old_count, sizeof(char *));
		for (size_t i = 0; i < old_count; i++)
			old[i] = mm_strdup(acct.aliases[i]);
	}
	ret = ctx->fn(&acct, ctx->fn_ctx);
	if (ret == 0) {
		/* The key never changes under an update. */
		mm_free(&acct.name);
		acct.name = mm_strdup(ctx->name);
		ret = store_account_save(store, txn, &acct, error_r);
	}
	if (ret == 0)
		ret = store_alias_reindex_txn(store, txn, ctx->name, old, old_count,
					      acct.aliases, acct.aliases_count,
					      error_r);
	for (size_t i = 0; i < old_count; i++)
		mm_free(&old[i]);
	mm_free(&old);
	store_account_clear(&acct);
	return ret;
}

int lmdb_account_update(struct store *store, const char *name,
			int (*fn)(struct store_account *acct, void *ctx),
			void *ctx, const char **error_r)
{
	struct account_update_ctx uctx = { name, fn, ctx };

	return store_write(store, account_update_txn, &uctx, error_r);
}

/* Copy src's fields into dst (which is replaced). */
static int account_replace(struct store_account *dst, void *context)
{
	const struct store_account *src = context;

	mm_free(&dst->domain);
	dst->domain = mm_strdup(src->domain);
	dst->state = src->state;
	dst->flags = src->flags;
	mm_free(&dst->password_hash);
	dst->password_hash = src->password_hash ? mm_strdup(src->password_hash) : NULL;
	dst->created = src->created;
	dst->updated = src->updated;
	dst->copy_started = src->copy_started;
	dst->copy_finished = src->copy_finished;
	dst->finished = src->finished;
	dst->messages = src->messages;
	dst->bytes = src->bytes;
	dst->folders = src->folders;
	dst->errors = src->errors;
	dst->late_mail = src->late_mail;
	mm_free(&dst->last_error);
	dst->last_error = src->last_error ? mm_strdup(src->last_error) : NULL;
	for (size_t i = 0; i < dst->aliases_count; i++)
		mm_free(&dst->aliases[i]);
	mm_free(&dst->aliases);
	dst->aliases = mm_calloc(src->aliases_count, sizeof(char *));
	for (size_t i = 0; i < src->aliases_count; i++)
		dst->aliases[i] = mm_strdup(src->aliases[i]);
	dst->aliases_count = src->aliases_count;
	return 0;
}

int lmdb_account_put(struct store *store, const struct store_account *acct,
		     const char **error_r)
{
	if (acct->domain == NULL)
		return store_fail(error_r, "account without a domain");
	if (acct->aliases_count > STORE_MAX_ALIASES)
		return store_fail(error_r, "account '%.200s': over %d aliases",
				  acct->name, STORE_MAX_ALIASES);
	return store_account_update(store, acct->name, account_replace,
				    (void *)acct, error_r);
}

struct state_ctx {
	enum store_state state;
	time_t now;
};

static int account_set_state(struct store_account *acct, void *context)
{
	const struct state_ctx *ctx = context;

	acct->state = ctx->state;
	acct->updated = ctx->now;
	switch (ctx->state) {
	case STORE_STATE_MIGRATING:
		if (acct->copy_started == 0)
			acct->copy_started = ctx->now;
		break;
	case STORE_STATE_COPIED:
		acct->copy_finished = ctx->now;
		break;
	case STORE_STATE_FINISHED:
		acct->finished = ctx->now;
		if (acct->copy_finished == 0)
			acct->copy_finished = ctx->now;
		break;
	default:
		break;
	}
	return 0;
}

int lmdb_account_set_state(struct store *store, const char *name,
			   enum store_state state, time_t now,
			   const char **error_r)
{
	struct state_ctx ctx = { state, now };

	if ((unsigned)state >= STORE_STATE_COUNT)
		return store_fail(error_r, "bad account state %d", (int)state);
	return store_account_update(store, name, account_set_state, &ctx, error_r);
}

struct late_mail_ctx {
	char *const *names;
	size_t count;
};

static int account_late_mail_txn(struct store *store, MDB_txn *txn,
				 void *context, const char **error_r)
{
	struct late_mail_ctx *ctx = context;

	for (size_t i = 0; i < ctx->count; i++) {
		struct store_account acct;
		int ret = store_account_load(store, txn, ctx->names[i], &acct,
					     error_r);

		if (ret == STORE_NOTFOUND)
			continue;
		if (ret < 0)
			return -1;
		acct.late_mail++;
		ret = store_account_save(store, txn, &acct, error_r);
		store_account_clear(&acct);
		if (ret < 0)
			return -1;
	}
	return 0;
}

int lmdb_account_add_late_mail(struct store *store, char *const *names,
			       size_t count, const char **error_r)
{
	struct late_mail_ctx ctx = { names, count };

	if (count == 0)
		return 0;
	return store_write(store, account_late_mail_txn, &ctx, error_r);
}

struct account_iter_ctx {
	int (*fn)(const struct store_account *acct, void *ctx);
	void *fn_ctx;
};

static int account_iter_one(const MDB_val *k, const MDB_val *v, void *context,
			    const char **error_r)
{
	struct account_iter_ctx *ctx = context;
	struct store_account acct;
	char *name = mm_strndup(k->mv_data, k->mv_size);
	int ret = store_account_decode(v, name, &acct, error_r);

	mm_free(&name);
	if (ret < 0)
		return -1;
	ret = ctx->fn(&acct, ctx->fn_ctx);
	store_account_clear(&acct);
	return ret;
}

static int account_iter_txn(struct store *store, MDB_txn *txn, void *context,
			    const char **error_r)
{
	return store_scan(store, txn, STORE_DB_ACCOUNTS, NULL, 0, account_iter_one,
			  context, error_r);
}

int lmdb_account_iter(struct store *store,
		      int (*fn)(const struct store_account *acct, void *ctx),
		      void *ctx, const char **error_r)
{
	struct account_iter_ctx ictx = { fn, ctx };

	return store_read(store, account_iter_txn, &ictx, error_r);
}
