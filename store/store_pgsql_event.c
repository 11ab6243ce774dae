/*
 * NAME
 *	store_pgsql_event 3
 * SUMMARY
 *	the PostgreSQL store: events, statistics, the pause flag
 * DESCRIPTION
 *	mailmigrate.events is the administrator's log, oldest first by
 *	id. Ids come from the meta row "event_seq", counted in the
 *	transaction that adds the event: the row's lock orders the
 *	adders, so ids have no gaps (a sequence loses numbers to every
 *	rolled-back or retried transaction) and follow commit order.
 *	With no gaps, "keep the newest event_log_max" is "drop ids up to
 *	this one - event_log_max", one index range per event, exactly as
 *	many kept as the LMDB backend keeps. Error events are also counted
 *	in meta "errors", which outlives the trimmed rows.
 *
 *	The last n events are read newest first along an index and
 *	handed over oldest first: the primary key for all, events_account
 *	for one account's, the partial index events_errors for errors
 *	only; n rows are looked at, however long the log.
 *
 *	Statistics are computed from the rows when asked for, in one
 *	snapshot, as the LMDB backend derives them (store_event.c): the
 *	accounts by state with their aliases, messages, bytes and newest
 *	copy_finished; the jobs leased or pending at now; the copy rate
 *	over the last STORE_RATE_WINDOW seconds from mailmigrate.rate;
 *	the start time, error count and pause flag from meta.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mm_alloc.h"
#include "store_pgsql.h"

/* LOG_SEV_ERROR as SQL text, for the statements and the partial index
 * events_errors (store_pgsql_schema.c), which must say the same. */
#define EVENT_SEV_ERROR "3"
_Static_assert(LOG_SEV_ERROR == 3, "EVENT_SEV_ERROR is LOG_SEV_ERROR");

int pgsql_event_add_txn(struct pgsql_store *pg, time_t now,
			enum log_severity sev, const char *account,
			const char *message, const char **error_r)
{
	struct pgsql_params p;
	PGresult *res;
	int bad = 0;

	/* One statement: the next id, the row, the error count, and the
	 * trimming of what falls beyond event_log_max (the new row is not
	 * among them: its id is the newest). */
	pgsql_params_init(&p);
	pgsql_param_i64(&p, now);
	pgsql_param_u64(&p, (uint64_t)sev);
	pgsql_param_str(&p, account != NULL ? account : "");
	pgsql_param_bytes(&p, message, strnlen(message, STORE_MAX_EVENT_TEXT));
	pgsql_param_u64(&p, pg->store.event_log_max);
	res = pgsql_exec(pg, "adding an event",
			 "WITH seq AS (INSERT INTO mailmigrate.meta (name, value)"
			 " VALUES ('event_seq', 1) ON CONFLICT (name)"
			 " DO UPDATE SET value = meta.value + 1 RETURNING value),"
			 " ins AS (INSERT INTO mailmigrate.events (id, time, severity,"
			 " account, message) SELECT value, $1::bigint, $2::smallint,"
			 " $3::text, $4::bytea FROM seq RETURNING id),"
			 " err AS (INSERT INTO mailmigrate.meta (name, value)"
			 " SELECT 'errors', 1 WHERE $2::smallint >= " EVENT_SEV_ERROR
			 " ON CONFLICT (name) DO UPDATE SET value = meta.value + 1"
			 " RETURNING value),"
			 " old AS (DELETE FROM mailmigrate.events WHERE"
			 " id <= (SELECT value FROM seq) - $5::bigint RETURNING id)"
			 " SELECT (SELECT id FROM ins), (SELECT count(*) FROM err),"
			 " (SELECT count(*) FROM old)", &p, error_r);
	if (res == NULL)
		return -1;
	(void)pgsql_get_u64(res, 0, 0, &bad);
	if (PQgetisnull(res, 0, 0))
		bad = 1;
	PQclear(res);
	if (bad)
		return pgsql_damaged(pg, "event id", error_r);
	return 0;
}

struct event_add_ctx {
	time_t now;
	enum log_severity sev;
	const char *account;
	const char *message;
};

static int event_add_txn(struct pgsql_store *pg, void *context,
			 const char **error_r)
{
	struct event_add_ctx *ctx = context;

	return pgsql_event_add_txn(pg, ctx->now, ctx->sev, ctx->account,
				   ctx->message, error_r);
}

static int pgsql_event_add(struct store *store, time_t now,
			   enum log_severity sev, const char *account,
			   const char *message, const char **error_r)
{
	struct event_add_ctx ctx = { now, sev, account, message };

	if ((unsigned)sev > LOG_SEV_PANIC)
		return store_fail(error_r, "bad severity %d", (int)sev);
	if (store->readonly)
		return store_fail(error_r, "store opened read-only");
	/* One statement, its own transaction. */
	return pgsql_single_write(store, event_add_txn, &ctx, error_r);
}

struct event_iter_ctx {
	int errors_only;
	const char *account;
	size_t n;
	PGresult *res;
};

static int event_iter_txn(struct pgsql_store *pg, void *context,
			  const char **error_r)
{
	struct event_iter_ctx *ctx = context;
	struct pgsql_params p;
	char sql[512];

	/* Newest first along the index the filter picks, LIMIT n. */
	pgsql_params_init(&p);
	if (ctx->account != NULL)
		pgsql_param_str(&p, ctx->account);
	if (ctx->n > 0)
		pgsql_param_u64(&p, ctx->n);
	snprintf(sql, sizeof(sql),
		 "SELECT id, time, severity, account, message"
		 " FROM mailmigrate.events%s%s%s ORDER BY id DESC%s%s",
		 ctx->account != NULL || ctx->errors_only ? " WHERE" : "",
		 ctx->account != NULL ? " account = $1" : "",
		 !ctx->errors_only ? "" : ctx->account != NULL ?
		 " AND severity >= " EVENT_SEV_ERROR :
		 " severity >= " EVENT_SEV_ERROR,
		 ctx->n == 0 ? "" : " LIMIT ",
		 ctx->n == 0 ? "" : ctx->account != NULL ? "$2" : "$1");
	ctx->res = pgsql_exec(pg, "reading events", sql, &p, error_r);
	return ctx->res == NULL ? -1 : 0;
}

/* Row row into *ev: 0 or -1. */
int pgsql_event_decode(struct pgsql_store *pg, PGresult *res, int row,
			struct store_event *ev, const char **error_r)
{
	uint32_t sev;
	int bad = 0;

	memset(ev, 0, sizeof(*ev));
	ev->id = pgsql_get_u64(res, row, 0, &bad);
	ev->time = pgsql_get_i64(res, row, 1, &bad);
	sev = pgsql_get_u32(res, row, 2, &bad);
	ev->severity = (enum log_severity)sev;
	ev->account = pgsql_get_str(res, row, 3);
	ev->message = pgsql_get_bstr(res, row, 4, STORE_MAX_EVENT_TEXT, &bad);
	if (bad || ev->account == NULL || ev->message == NULL ||
	    sev > LOG_SEV_PANIC) {
		mm_free(&ev->account);
		mm_free(&ev->message);
		return store_fail(error_r, "store postgresql:%s: event %s: damaged "
				  "record", pg->where, PQgetvalue(res, row, 0));
	}
	return 0;
}

static int pgsql_event_iter(struct store *store, int errors_only,
			    const char *account, size_t n,
			    int (*fn)(const struct store_event *ev, void *ctx),
			    void *ctx, const char **error_r)
{
	struct event_iter_ctx ictx = { errors_only, account, n, NULL };
	int ret = 0;

	if (pgsql_single(store, event_iter_txn, &ictx, error_r) < 0)
		return -1;
	/* Oldest first; the callback runs after the statement, so it may
	 * use the store. */
	for (int row = PQntuples(ictx.res) - 1; row >= 0 && ret == 0; row--) {
		struct store_event ev;

		ret = pgsql_event_decode(PGSQL(store), ictx.res, row, &ev, error_r);
		if (ret == 0) {
			ret = fn(&ev, ctx);
			mm_free(&ev.account);
			mm_free(&ev.message);
		}
	}
	PQclear(ictx.res);
	return ret;
}

/* --- statistics ------------------------------------------------------------------ */

struct stats_ctx {
	time_t now;
	struct store_stats *st;
};

/* floor(x / 60) for any sign. */
static int64_t minute_of(int64_t t)
{
	return t >= 0 ? t / 60 : -((-t + 59) / 60);
}

static int stats_meta(struct pgsql_store *pg, struct store_stats *st,
		      const char **error_r)
{
	struct pgsql_params p;
	PGresult *res;
	int bad = 0;

	/* One round trip: the flags and every counter (the first-login
	 * ones by their names, $1..$4), and the Sieve, DAV and ACL records. */
	_Static_assert(STORE_FIRST_LOGIN_COUNT == 4, "one $n per outcome");
	pgsql_params_init(&p);
	for (unsigned o = 0; o < STORE_FIRST_LOGIN_COUNT; o++)
		pgsql_param_str(&p, store_first_login_meta(o));
	res = pgsql_exec(pg, "reading the counters",
			 "SELECT (SELECT value FROM mailmigrate.meta WHERE name ="
			 " 'started'), (SELECT value FROM mailmigrate.meta WHERE"
			 " name = 'errors'), (SELECT value FROM mailmigrate.meta"
			 " WHERE name = 'paused'),"
			 " (SELECT value FROM mailmigrate.meta WHERE name = $1),"
			 " (SELECT value FROM mailmigrate.meta WHERE name = $2),"
			 " (SELECT value FROM mailmigrate.meta WHERE name = $3),"
			 " (SELECT value FROM mailmigrate.meta WHERE name = $4),"
			 " (SELECT count(*) FROM mailmigrate.sieve),"
			 " (SELECT count(*) FROM mailmigrate.dav WHERE item = ''),"
			 " (SELECT count(*) FROM mailmigrate.dav WHERE item <> ''),"
			 " (SELECT count(*) FROM (SELECT DISTINCT account, folder"
			 " FROM mailmigrate.acl) AS f),"
			 " (SELECT count(*) FROM mailmigrate.acl WHERE state IN (1, 2)),"
			 " (SELECT count(*) FROM mailmigrate.acl WHERE state NOT IN (1, 2))",
			 &p, error_r);
	if (res == NULL)
		return -1;
	st->started = pgsql_get_i64(res, 0, 0, &bad);
	st->errors = pgsql_get_u64(res, 0, 1, &bad);
	st->paused = pgsql_get_u64(res, 0, 2, &bad) != 0;
	for (unsigned o = 0; o < STORE_FIRST_LOGIN_COUNT; o++)
		st->first_logins[o] = pgsql_get_u64(res, 0, 3 + (int)o, &bad);
	st->sieve_scripts = pgsql_get_u64(res, 0, 3 + STORE_FIRST_LOGIN_COUNT, &bad);
	st->dav_collections = pgsql_get_u64(res, 0, 4 + STORE_FIRST_LOGIN_COUNT, &bad);
	st->dav_items = pgsql_get_u64(res, 0, 5 + STORE_FIRST_LOGIN_COUNT, &bad);
	st->acl_folders = pgsql_get_u64(res, 0, 6 + STORE_FIRST_LOGIN_COUNT, &bad);
	st->acl_given = pgsql_get_u64(res, 0, 7 + STORE_FIRST_LOGIN_COUNT, &bad);
	st->acl_not_given = pgsql_get_u64(res, 0, 8 + STORE_FIRST_LOGIN_COUNT, &bad);
	PQclear(res);
	return bad ? pgsql_damaged(pg, "meta value", error_r) : 0;
}

static int stats_accounts(struct pgsql_store *pg, struct store_stats *st,
			  const char **error_r)
{
	PGresult *res;
	int bad = 0;

	/* Every account, as LMDB walks them all; the aliases are the
	 * records' lists. */
	res = pgsql_exec(pg, "counting the accounts",
			 "SELECT state, count(*), sum(cardinality(aliases)),"
			 " sum(messages), sum(bytes), max(copy_finished)"
			 " FROM mailmigrate.accounts GROUP BY state", NULL, error_r);
	if (res == NULL)
		return -1;
	for (int row = 0; row < PQntuples(res); row++) {
		uint32_t state = pgsql_get_u32(res, row, 0, &bad);
		uint64_t count = pgsql_get_u64(res, row, 1, &bad);
		int64_t finished = pgsql_get_i64(res, row, 5, &bad);

		if (bad || state >= STORE_STATE_COUNT) {
			bad = 1;
			break;
		}
		st->accounts += count;
		st->by_state[state] += count;
		st->aliases += pgsql_get_u64(res, row, 2, &bad);
		st->messages += pgsql_get_u64(res, row, 3, &bad);
		st->bytes_by_state[state] += pgsql_get_u64(res, row, 4, &bad);
		st->bytes += st->bytes_by_state[state];
		if (finished > st->last_migrated)
			st->last_migrated = finished;
	}
	PQclear(res);
	return bad ? pgsql_damaged(pg, "account record", error_r) : 0;
}

static int stats_jobs(struct pgsql_store *pg, time_t now, struct store_stats *st,
		      const char **error_r)
{
	struct pgsql_params p;
	PGresult *res;
	int bad = 0;

	pgsql_params_init(&p);
	pgsql_param_i64(&p, now);
	res = pgsql_exec(pg, "counting the jobs",
			 "SELECT count(*) FILTER (WHERE lease_until > $1::bigint),"
			 " count(*) FILTER (WHERE lease_until <= $1::bigint)"
			 " FROM mailmigrate.jobs", &p, error_r);
	if (res == NULL)
		return -1;
	st->jobs_leased = pgsql_get_u64(res, 0, 0, &bad);
	st->jobs_pending = pgsql_get_u64(res, 0, 1, &bad);
	PQclear(res);
	return bad ? pgsql_damaged(pg, "job count", error_r) : 0;
}

/* The minutes that overlap [now - STORE_RATE_WINDOW, now], as
 * store_rate_get_txn() reads its buckets: their messages and bytes,
 * and the seconds from the first copy among them (not before the
 * window's start) to now. */
static int stats_rate(struct pgsql_store *pg, time_t now, struct store_stats *st,
		      const char **error_r)
{
	int64_t start = (int64_t)now - STORE_RATE_WINDOW, first;
	struct pgsql_params p;
	PGresult *res;
	int bad = 0;

	pgsql_params_init(&p);
	pgsql_param_i64(&p, minute_of(start));
	pgsql_param_i64(&p, minute_of(now));
	res = pgsql_exec(pg, "reading the copy rate",
			 "SELECT sum(messages), sum(bytes), min(CASE WHEN first > 0"
			 " THEN first ELSE minute * 60 END) FROM mailmigrate.rate"
			 " WHERE minute >= $1::bigint AND minute <= $2::bigint"
			 " AND messages <> 0", &p, error_r);
	if (res == NULL)
		return -1;
	st->rate_messages = pgsql_get_u64(res, 0, 0, &bad);
	st->rate_bytes = pgsql_get_u64(res, 0, 1, &bad);
	if (!PQgetisnull(res, 0, 2)) {
		first = pgsql_get_i64(res, 0, 2, &bad);
		if (first < start)
			first = start;
		st->rate_seconds = (unsigned)((int64_t)now - first + 1);
	}
	PQclear(res);
	return bad ? pgsql_damaged(pg, "copy rate", error_r) : 0;
}

static int stats_txn(struct pgsql_store *pg, void *context,
		     const char **error_r)
{
	struct stats_ctx *ctx = context;

	memset(ctx->st, 0, sizeof(*ctx->st));
	if (stats_meta(pg, ctx->st, error_r) < 0 ||
	    stats_rate(pg, ctx->now, ctx->st, error_r) < 0 ||
	    stats_accounts(pg, ctx->st, error_r) < 0 ||
	    stats_jobs(pg, ctx->now, ctx->st, error_r) < 0)
		return -1;
	return 0;
}

static int pgsql_stats_get(struct store *store, time_t now,
			   struct store_stats *stats_r, const char **error_r)
{
	struct stats_ctx ctx = { now, stats_r };

	return pgsql_read(store, stats_txn, &ctx, error_r);
}

/* --- control ----------------------------------------------------------------- */

static int paused_get_txn(struct pgsql_store *pg, void *context,
			  const char **error_r)
{
	uint64_t v;

	if (pgsql_meta_get(pg, "paused", &v, error_r) < 0)
		return -1;
	*(int *)context = v != 0;
	return 0;
}

static int pgsql_paused(struct store *store, int *paused_r, const char **error_r)
{
	int paused = 0;
	int ret = pgsql_single(store, paused_get_txn, &paused, error_r);

	if (ret == 0)
		*paused_r = paused;
	return ret;
}

static int paused_set_txn(struct pgsql_store *pg, void *context,
			  const char **error_r)
{
	return pgsql_meta_put(pg, "paused", *(int *)context ? 1 : 0, error_r);
}

static int pgsql_set_paused(struct store *store, int paused,
			    const char **error_r)
{
	if (store->readonly)
		return store_fail(error_r, "store opened read-only");
	return pgsql_single_write(store, paused_set_txn, &paused, error_r);
}

struct meta_add_ctx {
	const char *name;
	uint64_t delta;
};

/* One statement, so hosts counting at once each add theirs. */
static int meta_add_txn(struct pgsql_store *pg, void *context,
			const char **error_r)
{
	struct meta_add_ctx *ctx = context;
	struct pgsql_params p;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->name);
	pgsql_param_u64(&p, ctx->delta);
	return pgsql_run(pg, "adding to a counter",
			 "INSERT INTO mailmigrate.meta (name, value) VALUES ($1, $2)"
			 " ON CONFLICT (name) DO UPDATE"
			 " SET value = mailmigrate.meta.value + EXCLUDED.value",
			 &p, NULL, error_r);
}

static int pgsql_meta_add(struct store *store, const char *name, uint64_t delta,
			  const char **error_r)
{
	struct meta_add_ctx ctx = { name, delta };

	return pgsql_single_write(store, meta_add_txn, &ctx, error_r);
}

void pgsql_vfuncs_event(struct store_vfuncs *v)
{
	v->event_add = pgsql_event_add;
	v->event_iter = pgsql_event_iter;
	v->stats_get = pgsql_stats_get;
	v->paused = pgsql_paused;
	v->set_paused = pgsql_set_paused;
	v->meta_add = pgsql_meta_add;
}
