/*
 * NAME
 *	store_lmdb_job 3
 * SUMMARY
 *	the job queue: FIFO with leases, one job per account
 * DESCRIPTION
 *	jobs maps a big-endian sequence number to the job, so a cursor
 *	walks them oldest first; jobidx maps the account to its job.
 *	A worker leases a job for a while and renews the lease as it
 *	works; a job whose worker died is taken again once the lease
 *	has expired. Times come from the caller, so tests need no clock.
 *	Attempts are counted when a job is taken and deaths when a job
 *	comes back from a worker that died, both in the record, so the
 *	limits the puller puts on them hold across crashes and restarts.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mm_alloc.h"
#include "store_lmdb.h"

#define JOB_REC_VERSION 2	/* 2 added deaths; 1 is read as 0 deaths */

static void job_encode(const struct store_job *job, struct rec_writer *w)
{
	rec_init(w, JOB_REC_VERSION);
	rec_put_str(w, job->account);
	rec_put_u32(w, (uint32_t)job->kind);
	rec_put_u64(w, (uint64_t)job->enqueued);
	rec_put_u64(w, (uint64_t)job->not_before);
	rec_put_u64(w, (uint64_t)job->lease_until);
	rec_put_str(w, job->owner);
	rec_put_u32(w, job->attempts);
	rec_put_str(w, job->last_error);
	rec_put_u32(w, job->deaths);
}

int store_job_decode(const MDB_val *k, const MDB_val *v, struct store_job *job_r,
		      const char **error_r)
{
	struct rec_reader r;
	unsigned char version;

	memset(job_r, 0, sizeof(*job_r));
	version = k->mv_size == 8 ? rec_begin(&r, v->mv_data, v->mv_size) : 0;
	if (version != 1 && version != JOB_REC_VERSION)
		return store_fail(error_r, "damaged job record");
	job_r->id = store_get_be64(k->mv_data);
	job_r->account = rec_get_str(&r);
	job_r->kind = (enum store_job_kind)rec_get_u32(&r);
	job_r->enqueued = (int64_t)rec_get_u64(&r);
	job_r->not_before = (int64_t)rec_get_u64(&r);
	job_r->lease_until = (int64_t)rec_get_u64(&r);
	job_r->owner = rec_get_str(&r);
	job_r->attempts = rec_get_u32(&r);
	job_r->last_error = rec_get_str(&r);
	if (version >= 2)
		job_r->deaths = rec_get_u32(&r);
	if (!rec_end_ok(&r) || job_r->account == NULL || job_r->kind > STORE_JOB_FINISH) {
		uint64_t id = job_r->id;

		store_job_clear(job_r);
		return store_fail(error_r, "job %llu: damaged record",
				  (unsigned long long)id);
	}
	return 0;
}

static int job_save(struct store *store, MDB_txn *txn, const struct store_job *job,
		    const char **error_r)
{
	struct rec_writer w;
	unsigned char key[8];
	int ret;

	store_be64(key, job->id);
	job_encode(job, &w);
	ret = store_put(store, txn, STORE_DB_JOBS, key, 8, w.buf, w.len, error_r);
	rec_free(&w);
	return ret;
}

static int job_load(struct store *store, MDB_txn *txn, uint64_t id,
		    struct store_job *job_r, const char **error_r)
{
	unsigned char key[8];
	MDB_val k = { 8, key }, v;
	int ret;

	memset(job_r, 0, sizeof(*job_r));
	store_be64(key, id);
	ret = store_get(store, txn, STORE_DB_JOBS, key, 8, &v, error_r);
	if (ret != 0)
		return ret;
	return store_job_decode(&k, &v, job_r, error_r);
}

/* The id of account's job: 0 and *id_r, STORE_NOTFOUND, or -1. */
static int job_index_get(struct store *store, MDB_txn *txn, const char *account,
			 uint64_t *id_r, const char **error_r)
{
	MDB_val v;
	int ret;

	ret = store_get(store, txn, STORE_DB_JOBIDX, account, strlen(account), &v,
			error_r);
	if (ret != 0)
		return ret;
	if (v.mv_size != 8)
		return store_fail(error_r, "job index of '%.200s' is damaged", account);
	*id_r = store_get_be64(v.mv_data);
	return 0;
}

int store_job_enqueue_txn(struct store *store, MDB_txn *txn,
			  const char *account, enum store_job_kind kind,
			  time_t now, uint64_t *id_r, const char **error_r)
{
	struct store_job job;
	unsigned char idkey[8];
	uint64_t next;
	int ret;

	ret = job_index_get(store, txn, account, id_r, error_r);
	if (ret < 0)
		return -1;
	if (ret == 0) {
		if (job_load(store, txn, *id_r, &job, error_r) != 0)
			return store_fail(error_r, "job index of '%.200s' points to "
					  "a missing job", account);
		if (kind > job.kind) {
			job.kind = kind;
			ret = job_save(store, txn, &job, error_r);
		}
		store_job_clear(&job);
		return ret < 0 ? -1 : STORE_EXISTS;
	}
	if (store_meta_get_u64(store, txn, "next_job_id", &next, error_r) < 0)
		return -1;
	next++;
	if (store_meta_put_u64(store, txn, "next_job_id", next, error_r) < 0)
		return -1;
	memset(&job, 0, sizeof(job));
	job.id = next;
	job.account = (char *)account;
	job.kind = kind;
	job.enqueued = now;
	if (job_save(store, txn, &job, error_r) < 0)
		return -1;
	store_be64(idkey, next);
	if (store_put(store, txn, STORE_DB_JOBIDX, account, strlen(account),
		      idkey, 8, error_r) < 0)
		return -1;
	*id_r = next;
	return 0;
}

struct job_ctx {
	const char *account;
	enum store_job_kind kind;
	time_t now;
	uint64_t id;
	const char *owner;
	unsigned lease;
	time_t not_before;
	const char *reason;
	int died;		/* store_job_died(): count a death */
	struct store_job *job;
	int (*fn)(const struct store_job *job, void *ctx);
	void *fn_ctx;
};

static int job_enqueue_txn(struct store *store, MDB_txn *txn, void *context,
			   const char **error_r)
{
	struct job_ctx *ctx = context;

	return store_job_enqueue_txn(store, txn, ctx->account, ctx->kind, ctx->now,
				     &ctx->id, error_r);
}

int lmdb_job_enqueue(struct store *store, const char *account,
		     enum store_job_kind kind, time_t now, uint64_t *id_r,
		     const char **error_r)
{
	struct job_ctx ctx = { .account = account, .kind = kind, .now = now };
	int ret;

	if ((unsigned)kind > STORE_JOB_FINISH)
		return store_fail(error_r, "bad job kind %d", (int)kind);
	ret = store_write(store, job_enqueue_txn, &ctx, error_r);
	if (ret >= 0)
		*id_r = ctx.id;
	return ret;
}

static int job_take_txn(struct store *store, MDB_txn *txn, void *context,
			const char **error_r)
{
	struct job_ctx *ctx = context;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, found = 0;

	store_job_clear(ctx->job);
	rc = mdb_cursor_open(txn, LMDB(store)->dbi[STORE_DB_JOBS], &cur);
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, "jobs");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (store_job_decode(&k, &v, ctx->job, error_r) < 0) {
			mdb_cursor_close(cur);
			return -1;
		}
		if (ctx->job->lease_until <= ctx->now &&
		    ctx->job->not_before <= ctx->now) {
			found = 1;
			break;
		}
		store_job_clear(ctx->job);
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_mdb_fail(store, rc, error_r, "jobs");
	if (!found)
		return STORE_NOTFOUND;
	/* Still held with its lease run out: the holder died without a
	 * word (or hung); a restarted daemon says so with store_job_died()
	 * first, which clears the owner, so no death is counted twice. */
	if (ctx->job->owner != NULL) {
		char text[STORE_MAX_EVENT_TEXT];

		ctx->job->deaths++;
		snprintf(text, sizeof(text), "its lease ran out while %.200s held it",
			 ctx->job->owner);
		ctx->job->previous_owner = mm_strdup(ctx->job->owner);
		mm_free(&ctx->job->last_error);
		ctx->job->last_error = mm_strdup(text);
	}
	ctx->job->lease_until = ctx->now + ctx->lease;
	mm_free(&ctx->job->owner);
	ctx->job->owner = mm_strdup(ctx->owner);
	ctx->job->attempts++;
	return job_save(store, txn, ctx->job, error_r);
}

int lmdb_job_take(struct store *store, const char *owner,
		  unsigned lease_seconds, time_t now, struct store_job *job_r,
		  const char **error_r)
{
	struct job_ctx ctx = { .owner = owner, .lease = lease_seconds, .now = now,
			       .job = job_r };
	int ret;

	memset(job_r, 0, sizeof(*job_r));
	if (lease_seconds == 0)
		return store_fail(error_r, "a lease of 0 seconds");
	ret = store_write(store, job_take_txn, &ctx, error_r);
	if (ret != 0)
		store_job_clear(job_r);
	return ret;
}

/* Load job ctx->id into *job if ctx->owner holds it. */
static int job_load_owned(struct store *store, MDB_txn *txn, struct job_ctx *ctx,
			  struct store_job *job, const char **error_r)
{
	int ret = job_load(store, txn, ctx->id, job, error_r);

	if (ret != 0)
		return ret;
	if (job->owner == NULL || strcmp(job->owner, ctx->owner) != 0) {
		store_job_clear(job);
		return STORE_NOTFOUND;
	}
	return 0;
}

static int job_renew_txn(struct store *store, MDB_txn *txn, void *context,
			 const char **error_r)
{
	struct job_ctx *ctx = context;
	struct store_job job;
	int ret = job_load_owned(store, txn, ctx, &job, error_r);

	if (ret != 0)
		return ret;
	job.lease_until = ctx->now + ctx->lease;
	ret = job_save(store, txn, &job, error_r);
	store_job_clear(&job);
	return ret;
}

int lmdb_job_renew(struct store *store, uint64_t id, const char *owner,
		   unsigned lease_seconds, time_t now, const char **error_r)
{
	struct job_ctx ctx = { .id = id, .owner = owner, .lease = lease_seconds,
			       .now = now };

	return store_write(store, job_renew_txn, &ctx, error_r);
}

static int job_done_txn(struct store *store, MDB_txn *txn, void *context,
			const char **error_r)
{
	struct job_ctx *ctx = context;
	struct store_job job;
	unsigned char key[8];
	int ret = job_load_owned(store, txn, ctx, &job, error_r);

	if (ret != 0)
		return ret;
	store_be64(key, job.id);
	ret = store_del(store, txn, STORE_DB_JOBS, key, 8, error_r);
	if (ret >= 0)
		ret = store_del(store, txn, STORE_DB_JOBIDX, job.account,
				strlen(job.account), error_r);
	store_job_clear(&job);
	return ret < 0 ? -1 : 0;
}

int lmdb_job_done(struct store *store, uint64_t id, const char *owner,
		  const char **error_r)
{
	struct job_ctx ctx = { .id = id, .owner = owner };

	return store_write(store, job_done_txn, &ctx, error_r);
}

static int job_retry_txn(struct store *store, MDB_txn *txn, void *context,
			 const char **error_r)
{
	struct job_ctx *ctx = context;
	struct store_job job;
	int ret = job_load_owned(store, txn, ctx, &job, error_r);

	if (ret != 0)
		return ret;
	job.lease_until = 0;
	mm_free(&job.owner);
	job.not_before = ctx->not_before;
	if (ctx->died)
		job.deaths++;
	mm_free(&job.last_error);
	if (ctx->reason != NULL)
		job.last_error = mm_strndup(ctx->reason, STORE_MAX_EVENT_TEXT);
	ret = job_save(store, txn, &job, error_r);
	store_job_clear(&job);
	return ret;
}

int lmdb_job_retry(struct store *store, uint64_t id, const char *owner,
		   time_t not_before, const char *reason,
		   const char **error_r)
{
	struct job_ctx ctx = { .id = id, .owner = owner, .not_before = not_before,
			       .reason = reason };

	return store_write(store, job_retry_txn, &ctx, error_r);
}

int lmdb_job_died(struct store *store, uint64_t id, const char *owner,
		  time_t not_before, const char *reason, const char **error_r)
{
	struct job_ctx ctx = { .id = id, .owner = owner, .not_before = not_before,
			       .reason = reason, .died = 1 };

	return store_write(store, job_retry_txn, &ctx, error_r);
}

int store_job_cancel_txn(struct store *store, MDB_txn *txn,
			 const char *account, const char **error_r)
{
	unsigned char key[8];
	uint64_t id;
	int ret = job_index_get(store, txn, account, &id, error_r);

	if (ret != 0)
		return ret;
	store_be64(key, id);
	if (store_del(store, txn, STORE_DB_JOBS, key, 8, error_r) < 0 ||
	    store_del(store, txn, STORE_DB_JOBIDX, account, strlen(account),
		      error_r) < 0)
		return -1;
	return 0;
}

static int job_get_txn(struct store *store, MDB_txn *txn, void *context,
		       const char **error_r)
{
	struct job_ctx *ctx = context;
	uint64_t id;
	int ret = job_index_get(store, txn, ctx->account, &id, error_r);

	if (ret != 0)
		return ret;
	ret = job_load(store, txn, id, ctx->job, error_r);
	if (ret == STORE_NOTFOUND)
		return store_fail(error_r, "job index of '%.200s' points to a "
				  "missing job", ctx->account);
	return ret;
}

int lmdb_job_get(struct store *store, const char *account,
		 struct store_job *job_r, const char **error_r)
{
	struct job_ctx ctx = { .account = account, .job = job_r };

	memset(job_r, 0, sizeof(*job_r));
	return store_read(store, job_get_txn, &ctx, error_r);
}

static int job_cancel_txn(struct store *store, MDB_txn *txn, void *context,
			  const char **error_r)
{
	struct job_ctx *ctx = context;

	return store_job_cancel_txn(store, txn, ctx->account, error_r);
}

int lmdb_job_cancel(struct store *store, const char *account,
		    const char **error_r)
{
	struct job_ctx ctx = { .account = account };

	return store_write(store, job_cancel_txn, &ctx, error_r);
}

static int job_iter_one(const MDB_val *k, const MDB_val *v, void *context,
			const char **error_r)
{
	struct job_ctx *ctx = context;
	struct store_job job;
	int ret;

	if (store_job_decode(k, v, &job, error_r) < 0)
		return -1;
	ret = ctx->fn(&job, ctx->fn_ctx);
	store_job_clear(&job);
	return ret;
}

static int job_iter_txn(struct store *store, MDB_txn *txn, void *context,
			const char **error_r)
{
	return store_scan(store, txn, STORE_DB_JOBS, NULL, 0, job_iter_one, context,
			  error_r);
}

int lmdb_job_iter(struct store *store,
		  int (*fn)(const struct store_job *job, void *ctx),
		  void *ctx, const char **error_r)
{
	struct job_ctx jctx = { .fn = fn, .fn_ctx = ctx };

	return store_read(store, job_iter_txn, &jctx, error_r);
}
