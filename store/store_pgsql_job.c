/*
 * NAME
 *	store_pgsql_job 3
 * SUMMARY
 *	the PostgreSQL store: the job queue, FIFO with leases
 * DESCRIPTION
 *	mailmigrate.jobs holds one row per account at most (UNIQUE
 *	account); id gives the FIFO order, and a job given back
 *	(retry, died) keeps its id, so its place, as on LMDB.
 *
 *	Many puller hosts take from one queue: store_job_take() is one
 *	UPDATE whose subquery picks the oldest due job FOR UPDATE SKIP
 *	LOCKED, so two takers never get one job and never wait for each
 *	other (a job another taker is leasing at that moment is passed
 *	over, and found by the next take if that lease fails). Renew,
 *	done, retry and died are one statement each that matches the id
 *	and the owner together: a lease that ran out and was taken by
 *	another worker is STORE_NOTFOUND to its old holder.
 */
#include "config.h"

#include <string.h>

#include "mm_alloc.h"
#include "store_pgsql.h"

int pgsql_job_enqueue_txn(struct pgsql_store *pg, const char *account,
			  enum store_job_kind kind, time_t now, uint64_t *id_r,
			  const char **error_r)
{
	struct pgsql_params p;
	PGresult *res;
	int bad = 0, existed;

	/* Insert, or raise the kind of the job the account has (copy <
	 * sync < finish); xmax = 0 tells a fresh row from an updated one. */
	pgsql_params_init(&p);
	pgsql_param_str(&p, account);
	pgsql_param_u64(&p, (uint64_t)kind);
	pgsql_param_i64(&p, now);
	res = pgsql_exec(pg, "queueing a job",
			 "INSERT INTO mailmigrate.jobs (account, kind, enqueued)"
			 " VALUES ($1, $2, $3) ON CONFLICT (account) DO UPDATE"
			 " SET kind = GREATEST(jobs.kind, EXCLUDED.kind)"
			 " RETURNING id, NOT (xmax = 0)", &p, error_r);
	if (res == NULL)
		return -1;
	*id_r = pgsql_get_u64(res, 0, 0, &bad);
	existed = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	if (bad)
		return pgsql_damaged(pg, "job id", error_r);
	return existed ? STORE_EXISTS : 0;
}

int pgsql_job_cancel_txn(struct pgsql_store *pg, const char *account,
			 const char **error_r)
{
	struct pgsql_params p;
	uint64_t rows;

	pgsql_params_init(&p);
	pgsql_param_str(&p, account);
	if (pgsql_run(pg, "cancelling a job",
		      "DELETE FROM mailmigrate.jobs WHERE account = $1", &p, &rows,
		      error_r) < 0)
		return -1;
	return rows == 0 ? STORE_NOTFOUND : 0;
}

/* --- the calls ---------------------------------------------------------------- */

/* last_error holds a reason or a server text cut to
 * STORE_MAX_EVENT_TEXT; anything much longer is not ours. */
#define JOB_ERROR_MAX 65536

/* Row row of a SELECT PGSQL_JOB_COLUMNS into *job_r: 0 or -1. */
int pgsql_job_decode(struct pgsql_store *pg, PGresult *res, int row,
		      struct store_job *job_r, const char **error_r)
{
	uint32_t kind;
	int bad = 0;

	memset(job_r, 0, sizeof(*job_r));
	job_r->id = pgsql_get_u64(res, row, 0, &bad);
	job_r->account = pgsql_get_str(res, row, 1);
	kind = pgsql_get_u32(res, row, 2, &bad);
	job_r->kind = (enum store_job_kind)kind;
	job_r->enqueued = pgsql_get_i64(res, row, 3, &bad);
	job_r->not_before = pgsql_get_i64(res, row, 4, &bad);
	job_r->lease_until = pgsql_get_i64(res, row, 5, &bad);
	job_r->owner = pgsql_get_str(res, row, 6);
	job_r->attempts = pgsql_get_u32(res, row, 7, &bad);
	job_r->last_error = pgsql_get_bstr(res, row, 8, JOB_ERROR_MAX, &bad);
	job_r->deaths = pgsql_get_u32(res, row, 9, &bad);
	if (bad || job_r->account == NULL || kind > STORE_JOB_FINISH) {
		uint64_t id = job_r->id;

		store_job_clear(job_r);
		return store_fail(error_r, "store postgresql:%s: job %llu: damaged "
				  "record", pg->where, (unsigned long long)id);
	}
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
	PGresult *res;		/* job_iter: the rows, read after the txn */
};

static int job_enqueue_body(struct pgsql_store *pg, void *context,
			    const char **error_r)
{
	struct job_ctx *ctx = context;

	return pgsql_job_enqueue_txn(pg, ctx->account, ctx->kind, ctx->now,
				     &ctx->id, error_r);
}

static int pgsql_job_enqueue(struct store *store, const char *account,
			     enum store_job_kind kind, time_t now,
			     uint64_t *id_r, const char **error_r)
{
	struct job_ctx ctx = { .account = account, .kind = kind, .now = now };
	int ret;

	if ((unsigned)kind > STORE_JOB_FINISH)
		return store_fail(error_r, "bad job kind %d", (int)kind);
	ret = pgsql_single_write(store, job_enqueue_body, &ctx, error_r);
	if (ret >= 0)
		*id_r = ctx.id;
	return ret;
}

static int job_take_body(struct pgsql_store *pg, void *context,
			 const char **error_r)
{
	struct job_ctx *ctx = context;
	struct pgsql_params p;
	PGresult *res;
	int ret;

	/* One statement, so one transaction: the oldest job that is due
	 * and free (or whose lease ran out), locked with SKIP LOCKED so
	 * takers on other hosts pass over it to the next one instead of
	 * waiting for it and taking it after us; the lease written in the
	 * same statement. A holder still named is one that died without
	 * a word (store_job_died() clears the owner): a death, and the
	 * reason says whose lease ran out. */
	store_job_clear(ctx->job);
	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->owner);
	pgsql_param_i64(&p, (int64_t)ctx->now + ctx->lease);
	pgsql_param_i64(&p, ctx->now);
	/* The candidate in a MATERIALIZED CTE, evaluated once: as a
	 * subquery in FROM the planner may rescan it inside a nested loop,
	 * and each rescan with SKIP LOCKED yields the next free job, so
	 * one statement leased several jobs to one worker (depending on the
	 * plan, that is on the table's statistics). */
	res = pgsql_exec(pg, "taking a job",
			 "WITH o AS MATERIALIZED (SELECT id, owner FROM mailmigrate.jobs"
			 " WHERE not_before <= $3 AND lease_until <= $3"
			 " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)"
			 " UPDATE mailmigrate.jobs AS j SET"
			 " deaths = j.deaths + CASE WHEN o.owner IS NULL"
			 " THEN 0 ELSE 1 END,"
			 " last_error = CASE WHEN o.owner IS NULL THEN j.last_error"
			 " ELSE 'its lease ran out while '::bytea ||"
			 " substring(convert_to(o.owner, 'UTF8') FROM 1 FOR 200) ||"
			 " ' held it'::bytea END,"
			 " lease_until = $2, owner = $1, attempts = j.attempts + 1"
			 " FROM o WHERE j.id = o.id"
			 " RETURNING j.id, j.account, j.kind, j.enqueued, j.not_before,"
			 " j.lease_until, j.owner, j.attempts, j.last_error, j.deaths,"
			 " o.owner", &p, error_r);
	if (res == NULL)
		return -1;
	ret = PQntuples(res) == 0 ? STORE_NOTFOUND :
		pgsql_job_decode(pg, res, 0, ctx->job, error_r);
	/* The holder it was taken from (column 10, after PGSQL_JOB_COLUMNS). */
	if (ret == 0)
		ctx->job->previous_owner = pgsql_get_str(res, 0, 10);
	PQclear(res);
	return ret;
}

static int pgsql_job_take(struct store *store, const char *owner,
			  unsigned lease_seconds, time_t now,
			  struct store_job *job_r, const char **error_r)
{
	struct job_ctx ctx = { .owner = owner, .lease = lease_seconds, .now = now,
			       .job = job_r };
	int ret;

	memset(job_r, 0, sizeof(*job_r));
	if (lease_seconds == 0)
		return store_fail(error_r, "a lease of 0 seconds");
	ret = pgsql_single_write(store, job_take_body, &ctx, error_r);
	if (ret != 0)
		store_job_clear(job_r);
	return ret;
}

static int job_renew_body(struct pgsql_store *pg, void *context,
			  const char **error_r)
{
	struct job_ctx *ctx = context;
	struct pgsql_params p;
	uint64_t rows;

	/* Only the holder: another owner's job (ours ran out and was
	 * taken) or none at all is STORE_NOTFOUND. */
	pgsql_params_init(&p);
	pgsql_param_u64(&p, ctx->id);
	pgsql_param_str(&p, ctx->owner);
	pgsql_param_i64(&p, (int64_t)ctx->now + ctx->lease);
	if (pgsql_run(pg, "renewing a lease",
		      "UPDATE mailmigrate.jobs SET lease_until = $3"
		      " WHERE id = $1 AND owner = $2", &p, &rows, error_r) < 0)
		return -1;
	return rows == 0 ? STORE_NOTFOUND : 0;
}

static int pgsql_job_renew(struct store *store, uint64_t id, const char *owner,
			   unsigned lease_seconds, time_t now,
			   const char **error_r)
{
	struct job_ctx ctx = { .id = id, .owner = owner, .lease = lease_seconds,
			       .now = now };

	return pgsql_single_write(store, job_renew_body, &ctx, error_r);
}

static int job_done_body(struct pgsql_store *pg, void *context,
			 const char **error_r)
{
	struct job_ctx *ctx = context;
	struct pgsql_params p;
	uint64_t rows;

	pgsql_params_init(&p);
	pgsql_param_u64(&p, ctx->id);
	pgsql_param_str(&p, ctx->owner);
	if (pgsql_run(pg, "finishing a job",
		      "DELETE FROM mailmigrate.jobs WHERE id = $1 AND owner = $2",
		      &p, &rows, error_r) < 0)
		return -1;
	return rows == 0 ? STORE_NOTFOUND : 0;
}

static int pgsql_job_done(struct store *store, uint64_t id, const char *owner,
			  const char **error_r)
{
	struct job_ctx ctx = { .id = id, .owner = owner };

	return pgsql_single_write(store, job_done_body, &ctx, error_r);
}

static int job_retry_body(struct pgsql_store *pg, void *context,
			  const char **error_r)
{
	struct job_ctx *ctx = context;
	struct pgsql_params p;
	uint64_t rows;

	/* Given back in place: the id, so the place in the queue, stays;
	 * the next take counts the attempt. */
	pgsql_params_init(&p);
	pgsql_param_u64(&p, ctx->id);
	pgsql_param_str(&p, ctx->owner);
	pgsql_param_i64(&p, ctx->not_before);
	pgsql_param_u64(&p, ctx->died ? 1 : 0);
	if (ctx->reason != NULL)
		pgsql_param_bytes(&p, ctx->reason,
				  strnlen(ctx->reason, STORE_MAX_EVENT_TEXT));
	else
		pgsql_param_bytes(&p, NULL, 0);
	if (pgsql_run(pg, "giving a job back",
		      "UPDATE mailmigrate.jobs SET lease_until = 0, owner = NULL,"
		      " not_before = $3, deaths = deaths + $4, last_error = $5"
		      " WHERE id = $1 AND owner = $2", &p, &rows, error_r) < 0)
		return -1;
	return rows == 0 ? STORE_NOTFOUND : 0;
}

static int pgsql_job_retry(struct store *store, uint64_t id, const char *owner,
			   time_t not_before, const char *reason,
			   const char **error_r)
{
	struct job_ctx ctx = { .id = id, .owner = owner, .not_before = not_before,
			       .reason = reason };

	return pgsql_single_write(store, job_retry_body, &ctx, error_r);
}

static int pgsql_job_died(struct store *store, uint64_t id, const char *owner,
			  time_t not_before, const char *reason,
			  const char **error_r)
{
	struct job_ctx ctx = { .id = id, .owner = owner, .not_before = not_before,
			       .reason = reason, .died = 1 };

	return pgsql_single_write(store, job_retry_body, &ctx, error_r);
}

static int job_get_body(struct pgsql_store *pg, void *context,
			const char **error_r)
{
	struct job_ctx *ctx = context;
	struct pgsql_params p;
	PGresult *res;
	int ret;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	res = pgsql_exec(pg, "reading a job", "SELECT " PGSQL_JOB_COLUMNS
			 " FROM mailmigrate.jobs WHERE account = $1", &p, error_r);
	if (res == NULL)
		return -1;
	ret = PQntuples(res) == 0 ? STORE_NOTFOUND :
		pgsql_job_decode(pg, res, 0, ctx->job, error_r);
	PQclear(res);
	return ret;
}

static int pgsql_job_get(struct store *store, const char *account,
			 struct store_job *job_r, const char **error_r)
{
	struct job_ctx ctx = { .account = account, .job = job_r };

	memset(job_r, 0, sizeof(*job_r));
	return pgsql_single(store, job_get_body, &ctx, error_r);
}

static int job_cancel_body(struct pgsql_store *pg, void *context,
			   const char **error_r)
{
	struct job_ctx *ctx = context;

	return pgsql_job_cancel_txn(pg, ctx->account, error_r);
}

static int pgsql_job_cancel(struct store *store, const char *account,
			    const char **error_r)
{
	struct job_ctx ctx = { .account = account };

	return pgsql_single_write(store, job_cancel_body, &ctx, error_r);
}

static int job_iter_body(struct pgsql_store *pg, void *context,
			 const char **error_r)
{
	struct job_ctx *ctx = context;

	ctx->res = pgsql_exec(pg, "reading the jobs", "SELECT " PGSQL_JOB_COLUMNS
			      " FROM mailmigrate.jobs ORDER BY id", NULL, error_r);
	return ctx->res == NULL ? -1 : 0;
}

static int pgsql_job_iter(struct store *store,
			  int (*fn)(const struct store_job *job, void *ctx),
			  void *ctx, const char **error_r)
{
	struct job_ctx jctx = { .res = NULL };
	int ret;

	/* One statement sees one snapshot; fn runs after it, so it may
	 * use the store. */
	if (pgsql_single(store, job_iter_body, &jctx, error_r) < 0)
		return -1;
	ret = 0;
	for (int row = 0; row < PQntuples(jctx.res) && ret == 0; row++) {
		struct store_job job;

		ret = pgsql_job_decode(PGSQL(store), jctx.res, row, &job, error_r);
		if (ret == 0) {
			ret = fn(&job, ctx);
			store_job_clear(&job);
		}
	}
	PQclear(jctx.res);
	return ret;
}

void pgsql_vfuncs_job(struct store_vfuncs *v)
{
	v->job_enqueue = pgsql_job_enqueue;
	v->job_take = pgsql_job_take;
	v->job_renew = pgsql_job_renew;
	v->job_done = pgsql_job_done;
	v->job_retry = pgsql_job_retry;
	v->job_died = pgsql_job_died;
	v->job_get = pgsql_job_get;
	v->job_cancel = pgsql_job_cancel;
	v->job_iter = pgsql_job_iter;
}
