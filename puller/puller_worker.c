/*
 * NAME
 *	puller_worker 3
 * SUMMARY
 *	one mailmigrated worker: take jobs, copy, give them back
 * DESCRIPTION
 *	A job that fails is classified: retry now (a dropped connection:
 *	again in a few seconds), retry later (OLD or NEW unreachable,
 *	timeouts: exponential back-off up to an hour), or give up (wrong
 *	password, refused certificate, protocol violation: the account is
 *	marked failed with the reason). After PULLER_MAX_ATTEMPTS tries a
 *	retryable failure is given up too, so nothing loops forever.
 *	Both limits are looked at when a job is taken as well: a job whose
 *	workers died (max_worker_deaths times) or that was taken more than
 *	PULLER_MAX_ATTEMPTS times without a clean failure is given up then,
 *	before it can kill another worker.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mm_alloc.h"
#include "puller.h"
#include "puller_metrics.h"

#define PULLER_MAX_ATTEMPTS 20
#define PULLER_IDLE_MS 1000

volatile sig_atomic_t puller_stop;
struct throttle *puller_throttle;

/* Sleep up to ms, waking early when told to stop. */
static void puller_nap(unsigned ms)
{
	for (unsigned slept = 0; slept < ms && !puller_stop; slept += 100) {
		struct timespec ts = { 0, 100 * 1000000L };

		nanosleep(&ts, NULL);
	}
}

struct fail_ctx {
	const char *reason;
};

static int puller_set_failed(struct store_account *acct, void *context)
{
	const struct fail_ctx *ctx = context;

	acct->state = STORE_STATE_FAILED;
	acct->updated = time(NULL);
	mm_free(&acct->last_error);
	acct->last_error = mm_strndup(ctx->reason, STORE_MAX_EVENT_TEXT);
	return 0;
}

/* Give the job back for not_before. A store that cannot be reached (a
 * database restarting) is tried again for up to half the lease, so an
 * outage of the store costs the job an attempt, not a death (which a
 * lease that runs out would count). */
static void puller_give_back(struct puller *p, const struct store_job *job,
			     time_t not_before, const char *reason)
{
	time_t until = time(NULL) + puller_lease_seconds() / 2;
	unsigned nap = 250;
	const char *error;
	int ret;

	while ((ret = store_job_retry(p->store, job->id, p->owner, not_before,
				      reason, &error)) < 0 &&
	       !puller_stop && time(NULL) < until) {
		log_warning("%s: cannot requeue yet: %s", job->account, error);
		puller_nap(nap);
		if (nap < 4000)
			nap *= 2;
	}
	if (ret < 0)
		log_error("%s: cannot requeue: %s; its lease will run out", job->account,
			  error);
}

/* Judge a failed job: back to the queue later, or the account failed. */
static void puller_job_failed(struct puller *p, const struct store_job *job,
			      enum stream_fail fail, const char *reason)
{
	struct fail_ctx ctx = { reason };
	time_t now = time(NULL), delay;
	const char *error;
	char text[STORE_MAX_EVENT_TEXT];

	/* A refused login gives up; so does a message refusal that
	 * reached this far (stream_fail_policy()). */
	fail = stream_fail_policy(fail);
	if (fail != STREAM_FAIL_FINAL && job->attempts < PULLER_MAX_ATTEMPTS) {
		if (fail == STREAM_FAIL_TEMP) {
			delay = 5 * (time_t)job->attempts;
		} else {
			unsigned shift = job->attempts > 7 ? 6 : job->attempts - 1;

			delay = 60 << shift;
		}
		puller_count(copy_errors[fail == STREAM_FAIL_TEMP ? PULLER_FAIL_RETRY_NOW :
					 PULLER_FAIL_RETRY_LATER], 1);
		snprintf(text, sizeof(text), "%.900s (attempt %u; again in %ld s)", reason,
			 job->attempts, (long)delay);
		log_warning("%s: %s", job->account, text);
		(void)store_event_add(p->store, now, LOG_SEV_WARNING, job->account, text,
				      &error);
		puller_give_back(p, job, now + delay, reason);
		return;
	}
	puller_count(copy_errors[PULLER_FAIL_GIVE_UP], 1);
	snprintf(text, sizeof(text), "migration failed%s: %.900s",
		 fail == STREAM_FAIL_FINAL ? "" : " after too many attempts", reason);
	log_error("%s: %s", job->account, text);
	(void)store_event_add(p->store, now, LOG_SEV_ERROR, job->account, text, &error);
	if (store_account_update(p->store, job->account, puller_set_failed, &ctx,
				 &error) < 0)
		log_error("%s: cannot mark failed: %s", job->account, error);
	if (store_job_done(p->store, job->id, p->owner, &error) < 0)
		log_error("%s: cannot drop job: %s", job->account, error);
}

/* A job just taken that has used up its attempts, or whose workers
 * died too often: give it up now, with the reason. 1 if it was. */
static int puller_job_over_limits(struct puller *p, const struct store_job *job)
{
	char reason[STORE_MAX_EVENT_TEXT];
	const char *last = job->last_error != NULL ? job->last_error : "none";

	if (job->deaths >= p->cfg->max_worker_deaths)
		snprintf(reason, sizeof(reason), "the worker copying it died %u times "
			 "(max_worker_deaths = %u); last: %.800s", job->deaths,
			 p->cfg->max_worker_deaths, last);
	else if (job->attempts > PULLER_MAX_ATTEMPTS)
		snprintf(reason, sizeof(reason), "taken %u times, the limit is %d "
			 "attempts; last: %.800s", job->attempts - 1,
			 PULLER_MAX_ATTEMPTS, last);
	else
		return 0;
	puller_job_failed(p, job, STREAM_FAIL_FINAL, reason);
	return 1;
}

unsigned puller_lease_seconds(void)
{
	const char *v = getenv("MAILMIGRATED_LEASE_SECONDS");
	char *end;
	unsigned long n;

	if (v == NULL || *v == '\0')
		return PULLER_LEASE_SECONDS;
	n = strtoul(v, &end, 10);
	if (*end != '\0' || n == 0 || n > PULLER_LEASE_SECONDS)
		return PULLER_LEASE_SECONDS;
	return (unsigned)n;
}

/* Take and run one job; 0 if one ran, 1 if none was ready, -1 on a
 * store failure. */
static int puller_one(struct puller *p)
{
	enum puller_outcome outcome;
	enum stream_fail fail;
	struct store_job job;
	const char *error;
	int ret;

	ret = store_job_take(p->store, p->owner, puller_lease_seconds(), time(NULL),
			     &job, &error);
	if (ret == STORE_NOTFOUND)
		return 1;
	if (ret < 0) {
		puller_count(store_errors, 1);
		log_error("cannot take a job: %s", error);
		return -1;
	}
	if (puller_job_over_limits(p, &job)) {
		store_job_clear(&job);
		return 0;
	}
	log_info("%s: %s job taken (attempt %u)", job.account,
		 store_job_kind_name(job.kind), job.attempts);
	if (job.previous_owner != NULL) {
		char text[STORE_MAX_EVENT_TEXT];

		/* Its holder (another host's worker, maybe) went silent. */
		snprintf(text, sizeof(text), "taken over from %.200s, whose lease "
			 "ran out (worker deaths: %u)", job.previous_owner,
			 job.deaths);
		log_warning("%s: %s", job.account, text);
		(void)store_event_add(p->store, time(NULL), LOG_SEV_WARNING,
				      job.account, text, &error);
	}
	if (puller_copy_account(p, &job, &outcome, &fail, &error) < 0) {
		char reason[STORE_MAX_EVENT_TEXT];

		snprintf(reason, sizeof(reason), "%s", error);
		puller_job_failed(p, &job, fail, reason);
	} else if (outcome == PULLER_DONE) {
		if ((unsigned)job.kind < 3)
			puller_count(rounds[job.kind], 1);
		if (store_job_done(p->store, job.id, p->owner, &error) < 0) {
			puller_count(store_errors, 1);
			log_error("%s: cannot finish job: %s", job.account, error);
		}
		puller_kick(p, job.account);
	} else if (outcome == PULLER_STOPPED) {
		log_info("%s: stopped between batches; the job goes back", job.account);
		if (store_job_retry(p->store, job.id, p->owner, time(NULL), NULL,
				    &error) < 0)
			log_error("%s: cannot give the job back: %s", job.account, error);
	} else {
		log_warning("%s: lease lost; another worker has the job", job.account);
	}
	store_job_clear(&job);
	return 0;
}

/* The lease holder name of this process: "host:pid". */
/* Does some domain copy Sieve scripts (NEW's ManageSieve needs the
 * master password)? */
static int puller_wants_sieve(const struct cfg *cfg)
{
	for (size_t i = 0; i < cfg->domains_count; i++)
		if (cfg->domains[i].migrate_sieve)
			return 1;
	return 0;
}

static void puller_owner(char *buf, size_t size, pid_t pid)
{
	char host[64];

	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, size, "%s:%ld", host, (long)pid);
}

/* Is pid a live process? A zombie is not (its parent may be gone too,
 * and an init that reaps late keeps it around). */
static int puller_pid_alive(pid_t pid)
{
	char path[64], buf[512];
	const char *paren;
	FILE *f;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "re")) == NULL)
		return errno != ENOENT;
	if (fgets(buf, sizeof(buf), f) == NULL) {
		fclose(f);
		return 1;
	}
	fclose(f);
	/* "pid (comm) S ...": the state follows the last ')'. */
	paren = strrchr(buf, ')');
	return paren == NULL || paren[1] != ' ' || (paren[2] != 'Z' && paren[2] != 'X');
}

/* owner's pid when owner ("host:pid") is of this host: 1, else 0. */
static int puller_owner_here(const char *owner, pid_t *pid_r)
{
	char prefix[80], *end;
	size_t plen;
	long pid;

	puller_owner(prefix, sizeof(prefix), 0);
	plen = (size_t)(strrchr(prefix, ':') + 1 - prefix);	/* "host:" */
	if (owner == NULL || strncmp(owner, prefix, plen) != 0)
		return 0;
	errno = 0;
	pid = strtol(owner + plen, &end, 10);
	if (errno != 0 || *end != '\0' || end == owner + plen || pid <= 0)
		return 0;
	*pid_r = (pid_t)pid;
	return 1;
}

int puller_owner_gone(const char *owner)
{
	pid_t pid;

	return puller_owner_here(owner, &pid) && !puller_pid_alive(pid);
}

/* A job held under a running lease by another live worker of this host:
 * it may yet hand folders out (puller_split(3)). */
static int puller_find_busy(const struct store_job *job, void *context)
{
	const struct puller *p = context;
	pid_t pid;

	return job->owner != NULL && job->lease_until > time(NULL) &&
		strcmp(job->owner, p->owner) != 0 &&
		puller_owner_here(job->owner, &pid) && puller_pid_alive(pid);
}

/* --once: a worker with nothing to take stays while a worker of this
 * host holds a job, so a large account's split has its assistant (the
 * daemon ends when its last worker does, so --once ends no later). */
static int puller_once_wait(struct puller *p)
{
	const char *error;
	int ret;

	if (p->cfg->workers < 2 || p->cfg->split_min_messages == 0)
		return 0;
	ret = store_job_iter(p->store, puller_find_busy, p, &error);
	if (ret < 0)
		log_warning("cannot look for jobs still held: %s", error);
	return ret > 0;
}

struct reclaim_ctx {
	struct store_job *jobs;
	size_t count;
};

/* Leases held on this host by a process that is gone. */
static int puller_find_dead(const struct store_job *job, void *context)
{
	struct reclaim_ctx *ctx = context;

	if (job->owner == NULL || job->lease_until <= time(NULL) ||
	    !puller_owner_gone(job->owner))
		return 0;
	ctx->jobs = mm_reallocarray(ctx->jobs, ctx->count + 1, sizeof(*ctx->jobs));
	/* Only these fields: the rest zero, for store_job_clear(). */
	memset(&ctx->jobs[ctx->count], 0, sizeof(ctx->jobs[ctx->count]));
	ctx->jobs[ctx->count].id = job->id;
	ctx->jobs[ctx->count].account = mm_strdup(job->account);
	ctx->jobs[ctx->count].owner = mm_strdup(job->owner);
	ctx->count++;
	return 0;
}

int puller_reclaim(const struct cfg *cfg, int worker_died)
{
	struct reclaim_ctx ctx = { .count = 0 };
	struct store *store;
	const char *error;

	if (store_open_cfg(cfg, NULL, &store, &error) < 0) {
		log_error("%s", error);
		return -1;
	}
	if (store_job_iter(store, puller_find_dead, &ctx, &error) < 0)
		log_error("%s", error);
	for (size_t i = 0; i < ctx.count; i++) {
		char text[STORE_MAX_EVENT_TEXT];

		snprintf(text, sizeof(text), "its worker (%.200s) %s holding the "
			 "job; taking it up again", ctx.jobs[i].owner,
			 worker_died ? "died" : "was stopped with the daemon");
		log_warning("%s: %s", ctx.jobs[i].account, text);
		(void)store_event_add(store, time(NULL), LOG_SEV_WARNING,
				      ctx.jobs[i].account, text, &error);
		if ((worker_died ?
		     store_job_died(store, ctx.jobs[i].id, ctx.jobs[i].owner, time(NULL),
				    "the worker holding it died", &error) :
		     store_job_retry(store, ctx.jobs[i].id, ctx.jobs[i].owner, time(NULL),
				     "the daemon stopped while a worker held it",
				     &error)) < 0)
			log_error("%s", error);
		store_job_clear(&ctx.jobs[i]);
	}
	mm_free(&ctx.jobs);
	store_close(&store);
	return 0;
}

/* Open the store; a store that cannot be opened (a database that is
 * down or in recovery) is tried again until it can, or until the
 * daemon stops: logged the first time and then once a minute. With
 * once, the first failure ends the worker. 0 or -1. */
static int puller_store_wait(const struct cfg *cfg, int once,
			     struct store **store_r)
{
	time_t logged = 0;
	const char *error;
	unsigned nap = PULLER_IDLE_MS;

	while (store_open_cfg(cfg, NULL, store_r, &error) < 0) {
		if (once || puller_stop) {
			log_error("%s", error);
			return -1;
		}
		if (logged == 0 || time(NULL) - logged >= 60) {
			log_error("%s; trying again until it opens", error);
			logged = time(NULL);
		}
		puller_nap(nap);
		if (nap < 30000)
			nap *= 2;
	}
	if (logged != 0)
		log_info("store %s open again", cfg->store);
	return 0;
}

int puller_worker_run(const struct cfg *cfg, int once)
{
	struct puller p = { .cfg = cfg };
	struct crypto_key key;
	const char *error;
	int status = 0;

	puller_owner(p.owner, sizeof(p.owner), getpid());
	if (puller_store_wait(cfg, once, &p.store) < 0)
		return 3;
	if (crypto_key_load(cfg->key_file, &key, &error) < 0) {
		log_error("%s", error);
		store_close(&p.store);
		return 3;
	}
	store_set_key(p.store, &key);
	crypto_key_wipe(&key);
	/* The dovecot target logs in nowhere: doveadm opens the mail; but
	 * NEW's ManageSieve is logged in to as the master user. */
	if ((cfg->target_driver == CFG_TARGET_IMAP || puller_wants_sieve(cfg)) &&
	    crypto_read_secret(cfg->target_master_password_file,
			       &p.target_master_password, &error) < 0) {
		log_error("target_master_password_file: %s", error);
		store_close(&p.store);
		return 3;
	}
	while (!puller_stop) {
		int paused = 0, ret;

		if (store_paused(p.store, &paused, &error) < 0) {
			puller_count(store_errors, 1);
			log_error("%s", error);
			paused = 1;
		}
		if (paused) {
			if (once)
				break;
			puller_nap(PULLER_IDLE_MS);
			continue;
		}
		ret = puller_one(&p);
		/* Nothing to take: help with a large account, if one is
		 * split (puller_split(3)). */
		if (ret == 1 && cfg->workers > 1 && !puller_stop)
			ret = puller_assist(&p);
		if (ret == 1 && once && !puller_once_wait(&p))
			break;
		if (ret != 0)
			puller_nap(PULLER_IDLE_MS);
	}
	mm_free_secret(&p.target_master_password);
	store_close(&p.store);
	return status;
}
