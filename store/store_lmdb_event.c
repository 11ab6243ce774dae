/*
 * NAME
 *	store_lmdb_event 3
 * SUMMARY
 *	the event log, statistics, pause and reset
 * DESCRIPTION
 *	Events are keyed by a big-endian sequence number, so the log is
 *	in time order and the oldest are trimmed first once there are
 *	more than event_log_max. Statistics are derived from the accounts
 *	and jobs when asked for, so they cannot drift from the truth;
 *	only the start time and the error count are kept as counters.
 */
#include "config.h"

#include <string.h>

#include "mm_alloc.h"
#include "store_lmdb.h"

#define EVENT_REC_VERSION 1

struct event_ctx {
	time_t now;
	enum log_severity sev;
	const char *account;
	const char *message;
	int errors_only;
	size_t n;
	int (*fn)(const struct store_event *ev, void *ctx);
	void *fn_ctx;
	struct store_stats *stats;
	int paused;
};

int store_event_decode(const MDB_val *k, const MDB_val *v,
			struct store_event *ev, const char **error_r)
{
	struct rec_reader r;

	memset(ev, 0, sizeof(*ev));
	if (k->mv_size != 8 || rec_begin(&r, v->mv_data, v->mv_size) != EVENT_REC_VERSION)
		return store_fail(error_r, "damaged event record");
	ev->id = store_get_be64(k->mv_data);
	ev->time = (int64_t)rec_get_u64(&r);
	ev->severity = (enum log_severity)rec_get_u32(&r);
	ev->account = rec_get_str(&r);
	ev->message = rec_get_str(&r);
	if (!rec_end_ok(&r) || ev->account == NULL || ev->message == NULL ||
	    ev->severity > LOG_SEV_PANIC) {
		mm_free(&ev->account);
		mm_free(&ev->message);
		return store_fail(error_r, "event %llu: damaged record",
				  (unsigned long long)ev->id);
	}
	return 0;
}

void store_event_clear(struct store_event *ev)
{
	mm_free(&ev->account);
	mm_free(&ev->message);
}

/* Drop the oldest events beyond the limit. */
static int event_trim(struct store *store, MDB_txn *txn, const char **error_r)
{
	MDB_cursor *cur;
	MDB_stat st;
	MDB_val k, v;
	size_t excess;
	int rc;

	rc = mdb_stat(txn, LMDB(store)->dbi[STORE_DB_EVENTS], &st);
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, "events");
	if (st.ms_entries <= store->event_log_max)
		return 0;
	excess = st.ms_entries - store->event_log_max;
	rc = mdb_cursor_open(txn, LMDB(store)->dbi[STORE_DB_EVENTS], &cur);
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, "events");
	while (excess-- > 0 &&
	       (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0)
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_mdb_fail(store, rc, error_r, "events");
	return 0;
}

static int event_add_txn(struct store *store, MDB_txn *txn, void *context,
			 const char **error_r)
{
	struct event_ctx *ctx = context;
	struct rec_writer w;
	unsigned char key[8];
	uint64_t id, errors;
	char *text;
	int ret;

	if (store_meta_get_u64(store, txn, "next_event_id", &id, error_r) < 0 ||
	    store_meta_put_u64(store, txn, "next_event_id", id + 1, error_r) < 0)
		return -1;
	if (ctx->sev >= LOG_SEV_ERROR) {
		if (store_meta_get_u64(store, txn, "errors", &errors, error_r) < 0 ||
		    store_meta_put_u64(store, txn, "errors", errors + 1, error_r) < 0)
			return -1;
	}
	store_be64(key, id + 1);
	text = mm_strndup(ctx->message, STORE_MAX_EVENT_TEXT);
	rec_init(&w, EVENT_REC_VERSION);
	rec_put_u64(&w, (uint64_t)ctx->now);
	rec_put_u32(&w, (uint32_t)ctx->sev);
	rec_put_str(&w, ctx->account != NULL ? ctx->account : "");
	rec_put_str(&w, text);
	mm_free(&text);
	ret = store_put(store, txn, STORE_DB_EVENTS, key, 8, w.buf, w.len, error_r);
	rec_free(&w);
	if (ret < 0)
		return -1;
	return event_trim(store, txn, error_r);
}

int store_event_add_txn(struct store *store, MDB_txn *txn, time_t now,
			enum log_severity sev, const char *account,
			const char *message, const char **error_r)
{
	struct event_ctx ctx = { .now = now, .sev = sev, .account = account,
				 .message = message };

	return event_add_txn(store, txn, &ctx, error_r);
}

int lmdb_event_add(struct store *store, time_t now, enum log_severity sev,
		   const char *account, const char *message,
		   const char **error_r)
{
	struct event_ctx ctx = { .now = now, .sev = sev, .account = account,
				 .message = message };

	if ((unsigned)sev > LOG_SEV_PANIC)
		return store_fail(error_r, "bad severity %d", (int)sev);
	return store_write(store, event_add_txn, &ctx, error_r);
}

/* Does ev pass the filters? */
static int event_wanted(const struct event_ctx *ctx, const struct store_event *ev)
{
	if (ctx->errors_only && ev->severity < LOG_SEV_ERROR)
		return 0;
	if (ctx->account != NULL && strcmp(ctx->account, ev->account) != 0)
		return 0;
	return 1;
}

static int event_iter_txn(struct store *store, MDB_txn *txn, void *context,
			  const char **error_r)
{
	struct event_ctx *ctx = context;
	struct store_event *found = NULL;
	size_t count = 0, alloc = 0;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, ret = 0;

	rc = mdb_cursor_open(txn, LMDB(store)->dbi[STORE_DB_EVENTS], &cur);
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, "events");
	/* Walk back from the newest until n match, then replay in order. */
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	     rc == 0 && (ctx->n == 0 || count < ctx->n);
	     rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
		struct store_event ev;

		if (store_event_decode(&k, &v, &ev, error_r) < 0) {
			ret = -1;
			break;
		}
		if (!event_wanted(ctx, &ev)) {
			store_event_clear(&ev);
			continue;
		}
		if (count == alloc) {
			alloc = alloc == 0 ? 64 : alloc * 2;
			found = mm_reallocarray(found, alloc, sizeof(*found));
		}
		found[count++] = ev;
	}
	mdb_cursor_close(cur);
	if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND)
		ret = store_mdb_fail(store, rc, error_r, "events");
	for (size_t i = count; i > 0 && ret == 0; i--)
		ret = ctx->fn(&found[i - 1], ctx->fn_ctx);
	for (size_t i = 0; i < count; i++)
		store_event_clear(&found[i]);
	mm_free(&found);
	return ret;
}

int lmdb_event_iter(struct store *store, int errors_only, const char *account,
		    size_t n,
		    int (*fn)(const struct store_event *ev, void *ctx),
		    void *ctx, const char **error_r)
{
	struct event_ctx ectx = { .errors_only = errors_only, .account = account,
				  .n = n, .fn = fn, .fn_ctx = ctx };

	return store_read(store, event_iter_txn, &ectx, error_r);
}

/* --- statistics ------------------------------------------------------- */

static int stats_txn(struct store *store, MDB_txn *txn, void *context,
		     const char **error_r)
{
	struct event_ctx *ctx = context;
	struct store_stats *st = ctx->stats;
	uint64_t started, paused;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	memset(st, 0, sizeof(*st));
	if (store_meta_get_u64(store, txn, "started", &started, error_r) < 0 ||
	    store_meta_get_u64(store, txn, "errors", &st->errors, error_r) < 0 ||
	    store_meta_get_u64(store, txn, "paused", &paused, error_r) < 0)
		return -1;
	for (unsigned o = 0; o < STORE_FIRST_LOGIN_COUNT; o++)
		if (store_meta_get_u64(store, txn, store_first_login_meta(o),
				       &st->first_logins[o], error_r) < 0)
			return -1;
	st->started = (int64_t)started;
	st->paused = paused != 0;
	if (store_rate_get_txn(store, txn, ctx->now, STORE_RATE_WINDOW,
			       &st->rate_messages, &st->rate_bytes, &st->rate_seconds,
			       error_r) < 0)
		return -1;

	rc = mdb_cursor_open(txn, LMDB(store)->dbi[STORE_DB_ACCOUNTS], &cur);
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, "accounts");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct store_account acct;
		char *name = mm_strndup(k.mv_data, k.mv_size);
		int ret = store_account_decode(&v, name, &acct, error_r);

		mm_free(&name);
		if (ret < 0) {
			mdb_cursor_close(cur);
			return -1;
		}
		st->accounts++;
		st->by_state[acct.state]++;
		st->bytes_by_state[acct.state] += acct.bytes;
		st->aliases += acct.aliases_count;
		st->messages += acct.messages;
		st->bytes += acct.bytes;
		if (acct.copy_finished > st->last_migrated)
			st->last_migrated = acct.copy_finished;
		store_account_clear(&acct);
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return store_mdb_fail(store, rc, error_r, "accounts");

	/* One Sieve record per script put on NEW (store_lmdb_sieve.c); a
	 * store older than the database has none. */
	if (!LMDB(store)->db_missing[STORE_DB_SIEVE]) {
		MDB_stat ms;

		rc = mdb_stat(txn, LMDB(store)->dbi[STORE_DB_SIEVE], &ms);
		if (rc != 0)
			return store_mdb_fail(store, rc, error_r, "sieve");
		st->sieve_scripts = ms.ms_entries;
	}
	if (lmdb_dav_count_txn(store, txn, &st->dav_collections, &st->dav_items,
			       error_r) < 0)
		return -1;
	if (lmdb_acl_count_txn(store, txn, &st->acl_folders, &st->acl_given,
			       &st->acl_not_given, error_r) < 0)
		return -1;

	rc = mdb_cursor_open(txn, LMDB(store)->dbi[STORE_DB_JOBS], &cur);
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, "jobs");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct rec_reader r;
		unsigned char version;
		char *account;
		int64_t lease_until;

		/* Only the lease matters here: skip to it (job records of
		 * version 1 and 2, store_lmdb_job.c, share these fields). */
		version = rec_begin(&r, v.mv_data, v.mv_size);
		if (version != 1 && version != 2)
			continue;
		account = rec_get_str(&r);
		mm_free(&account);
		(void)rec_get_u32(&r);
		(void)rec_get_u64(&r);
		(void)rec_get_u64(&r);
		lease_until = (int64_t)rec_get_u64(&r);
		if (r.bad)
			continue;
		if (lease_until > ctx->now)
			st->jobs_leased++;
		else
			st->jobs_pending++;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return store_mdb_fail(store, rc, error_r, "jobs");
	return 0;
}

int lmdb_stats_get(struct store *store, time_t now, struct store_stats *stats_r,
		   const char **error_r)
{
	struct event_ctx ctx = { .now = now, .stats = stats_r };

	/* Opens the optional databases if another process made them since. */
	if (store_db_present(store, STORE_DB_SIEVE, error_r) < 0 ||
	    store_db_present(store, STORE_DB_DAV, error_r) < 0 ||
	    store_db_present(store, STORE_DB_ACL, error_r) < 0)
		return -1;
	return store_read(store, stats_txn, &ctx, error_r);
}

/* --- control ---------------------------------------------------------- */

static int paused_get_txn(struct store *store, MDB_txn *txn, void *context,
			  const char **error_r)
{
	struct event_ctx *ctx = context;
	uint64_t v;

	if (store_meta_get_u64(store, txn, "paused", &v, error_r) < 0)
		return -1;
	ctx->paused = v != 0;
	return 0;
}

int lmdb_paused(struct store *store, int *paused_r, const char **error_r)
{
	struct event_ctx ctx = { 0 };
	int ret = store_read(store, paused_get_txn, &ctx, error_r);

	if (ret == 0)
		*paused_r = ctx.paused;
	return ret;
}

static int paused_set_txn(struct store *store, MDB_txn *txn, void *context,
			  const char **error_r)
{
	struct event_ctx *ctx = context;

	return store_meta_put_u64(store, txn, "paused", ctx->paused ? 1 : 0, error_r);
}

int lmdb_set_paused(struct store *store, int paused, const char **error_r)
{
	struct event_ctx ctx = { .paused = paused };

	return store_write(store, paused_set_txn, &ctx, error_r);
}

struct meta_add_ctx {
	const char *name;
	uint64_t delta;
};

static int meta_add_txn(struct store *store, MDB_txn *txn, void *context,
			const char **error_r)
{
	struct meta_add_ctx *ctx = context;
	uint64_t v;

	if (store_meta_get_u64(store, txn, ctx->name, &v, error_r) < 0)
		return -1;
	return store_meta_put_u64(store, txn, ctx->name, v + ctx->delta, error_r);
}

int lmdb_meta_add(struct store *store, const char *name, uint64_t delta,
		  const char **error_r)
{
	struct meta_add_ctx ctx = { name, delta };

	return store_write(store, meta_add_txn, &ctx, error_r);
}

/* Forget one account's progress inside txn. */
static int reset_one(struct store *store, MDB_txn *txn, const char *name,
		     time_t now, const char **error_r)
{
	struct store_account acct;
	uint64_t id;
	int ret;

	ret = store_account_load(store, txn, name, &acct, error_r);
	if (ret != 0)
		return ret;
	if (store_folder_forget_txn(store, txn, name, error_r) < 0) {
		store_account_clear(&acct);
		return -1;
	}
	acct.messages = acct.bytes = acct.folders = acct.errors = 0;
	acct.late_mail = 0;
	acct.copy_started = acct.copy_finished = acct.finished = 0;
	mm_free(&acct.last_error);
	acct.updated = now;
	if (acct.state != STORE_STATE_PASSWORDS_ONLY)
		acct.state = STORE_STATE_QUEUED;
	ret = store_account_save(store, txn, &acct, error_r);
	if (ret == 0 && store_job_cancel_txn(store, txn, name, error_r) < 0)
		ret = -1;
	if (ret == 0 && acct.state == STORE_STATE_QUEUED &&
	    store_job_enqueue_txn(store, txn, name, STORE_JOB_COPY, now, &id,
				  error_r) < 0)
		ret = -1;
	store_account_clear(&acct);
	return ret;
}

struct reset_ctx {
	const char *account;
	time_t now;
};

static int reset_txn(struct store *store, MDB_txn *txn, void *context,
		     const char **error_r)
{
	struct reset_ctx *ctx = context;
	char **names = NULL;
	size_t count = 0;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, ret = 0;

	if (ctx->account != NULL)
		return reset_one(store, txn, ctx->account, ctx->now, error_r);
	/* Collect the names first: reset writes to the accounts db. */
	rc = mdb_cursor_open(txn, LMDB(store)->dbi[STORE_DB_ACCOUNTS], &cur);
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, "accounts");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		names = mm_reallocarray(names, count + 1, sizeof(char *));
		names[count++] = mm_strndup(k.mv_data, k.mv_size);
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		ret = store_mdb_fail(store, rc, error_r, "accounts");
	for (size_t i = 0; i < count && ret == 0; i++)
		ret = reset_one(store, txn, names[i], ctx->now, error_r) < 0 ? -1 : 0;
	for (size_t i = 0; i < count; i++)
		mm_free(&names[i]);
	mm_free(&names);
	return ret;
}

int lmdb_reset(struct store *store, const char *account, time_t now,
	       const char **error_r)
{
	struct reset_ctx ctx = { account, now };

	return store_write(store, reset_txn, &ctx, error_r);
}
