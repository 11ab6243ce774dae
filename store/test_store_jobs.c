/*
 * NAME
 *	test_store_jobs 1
 * SUMMARY
 *	unit tests: the job queue, its leases, and workers in several
 *	processes taking jobs at once
 */
#include "config.h"

#include "store_lmdb.h"
#include "test_util.h"

START_TEST(fifo_one_per_account)
{
	struct store *store = test_open(0, 0);
	struct store_job job;
	uint64_t id, id2;
	const char *error;

	ck_assert_int_eq(store_job_enqueue(store, "a@x.test", STORE_JOB_COPY, 10,
					   &id, &error), 0);
	ck_assert_int_eq(store_job_enqueue(store, "b@x.test", STORE_JOB_SYNC, 11,
					   &id2, &error), 0);
	ck_assert_uint_gt(id2, id);
	/* A second job for a is the same job, upgraded to finish. */
	ck_assert_int_eq(store_job_enqueue(store, "a@x.test", STORE_JOB_FINISH, 12,
					   &id2, &error), STORE_EXISTS);
	ck_assert_uint_eq(id2, id);
	ck_assert_int_eq(store_job_enqueue(store, "a@x.test", STORE_JOB_COPY, 13,
					   &id2, &error), STORE_EXISTS);

	ck_assert_int_eq(store_job_get(store, "a@x.test", &job, &error), 0);
	ck_assert_uint_eq(job.id, id);
	ck_assert_int_eq(job.kind, STORE_JOB_FINISH);
	ck_assert_int_eq(job.lease_until, 0);
	store_job_clear(&job);
	ck_assert_int_eq(store_job_get(store, "zz@x.test", &job, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_job_take(store, "w1", 60, 20, &job, &error), 0);
	ck_assert_str_eq(job.account, "a@x.test");
	ck_assert_int_eq(job.kind, STORE_JOB_FINISH);	/* not downgraded */
	ck_assert_int_eq(job.enqueued, 10);
	ck_assert_int_eq(job.lease_until, 80);
	ck_assert_str_eq(job.owner, "w1");
	ck_assert_uint_eq(job.attempts, 1);
	ck_assert_int_eq(store_job_done(store, job.id, "w1", &error), 0);
	store_job_clear(&job);

	ck_assert_int_eq(store_job_take(store, "w1", 60, 20, &job, &error), 0);
	ck_assert_str_eq(job.account, "b@x.test");
	ck_assert_int_eq(job.kind, STORE_JOB_SYNC);
	id = job.id;
	store_job_clear(&job);
	ck_assert_int_eq(store_job_take(store, "w2", 60, 20, &job, &error),
			 STORE_NOTFOUND);
	ck_assert_ptr_null(job.account);
	ck_assert_int_eq(store_job_done(store, id, "w1", &error), 0);
	/* Once done, a's job can be queued anew. */
	ck_assert_int_eq(store_job_enqueue(store, "a@x.test", STORE_JOB_SYNC, 30,
					   &id2, &error), 0);
	ck_assert_int_eq(store_job_take(store, "w1", 0, 20, &job, &error), -1);
	store_close(&store);
}
END_TEST

START_TEST(lease_expiry)
{
	struct store *store = test_open(0, 0);
	struct store_job job;
	uint64_t id;
	const char *error;

	ck_assert_int_eq(store_job_enqueue(store, "a@x.test", STORE_JOB_COPY, 0,
					   &id, &error), 0);
	ck_assert_int_eq(store_job_take(store, "dead", 10, 100, &job, &error), 0);
	ck_assert_ptr_null(job.previous_owner);
	store_job_clear(&job);
	/* Leased: nobody else gets it before the lease ends. */
	ck_assert_int_eq(store_job_take(store, "w2", 10, 109, &job, &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_job_renew(store, id, "dead", 10, 105, &error), 0);
	ck_assert_int_eq(store_job_take(store, "w2", 10, 114, &job, &error),
			 STORE_NOTFOUND);
	/* The worker died: at expiry the job comes back. */
	ck_assert_int_eq(store_job_take(store, "w2", 10, 115, &job, &error), 0);
	ck_assert_uint_eq(job.id, id);
	ck_assert_str_eq(job.owner, "w2");
	ck_assert_uint_eq(job.attempts, 2);
	/* Taken from the holder whose lease ran out, which is said. */
	ck_assert_str_eq(job.previous_owner, "dead");
	ck_assert_uint_eq(job.deaths, 1);
	store_job_clear(&job);
	/* The old owner has lost it: renew, retry and done all say so. */
	ck_assert_int_eq(store_job_renew(store, id, "dead", 10, 116, &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_job_retry(store, id, "dead", 0, "x", &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_job_done(store, id, "dead", &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_job_done(store, id + 99, "w2", &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_job_done(store, id, "w2", &error), 0);
	store_close(&store);
}
END_TEST

START_TEST(retry_backoff)
{
	struct store *store = test_open(0, 0);
	struct store_job job;
	uint64_t id, other;
	const char *error;

	ck_assert_int_eq(store_job_enqueue(store, "a@x.test", STORE_JOB_COPY, 0,
					   &id, &error), 0);
	ck_assert_int_eq(store_job_enqueue(store, "b@x.test", STORE_JOB_COPY, 0,
					   &other, &error), 0);
	ck_assert_int_eq(store_job_take(store, "w", 60, 100, &job, &error), 0);
	ck_assert_uint_eq(job.id, id);
	store_job_clear(&job);
	ck_assert_int_eq(store_job_retry(store, id, "w", 400, "OLD unreachable",
					 &error), 0);
	/* a waits for its back-off; b, behind it, goes first. */
	ck_assert_int_eq(store_job_take(store, "w", 60, 200, &job, &error), 0);
	ck_assert_uint_eq(job.id, other);
	ck_assert_int_eq(store_job_done(store, other, "w", &error), 0);
	store_job_clear(&job);
	ck_assert_int_eq(store_job_take(store, "w", 60, 399, &job, &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_job_take(store, "w", 60, 400, &job, &error), 0);
	ck_assert_uint_eq(job.id, id);
	ck_assert_str_eq(job.last_error, "OLD unreachable");
	ck_assert_uint_eq(job.attempts, 2);
	store_job_clear(&job);
	ck_assert_int_eq(store_job_cancel(store, "a@x.test", &error), 0);
	ck_assert_int_eq(store_job_cancel(store, "a@x.test", &error), STORE_NOTFOUND);
	store_close(&store);
}
END_TEST

/* Workers in several processes drain the queue: each job exactly once. */
START_TEST(concurrent_takers)
{
	enum { JOBS = 120, PROCS = 4 };
	struct store *store = test_open(0, 0);
	int fds[2], seen[JOBS + 1] = { 0 };
	pid_t pids[PROCS];
	const char *error;
	uint32_t got;
	uint64_t id;
	char name[64];

	for (int i = 0; i < JOBS; i++) {
		snprintf(name, sizeof(name), "u%d@x.test", i);
		ck_assert_int_eq(store_job_enqueue(store, name, STORE_JOB_COPY, 0,
						   &id, &error), 0);
		ck_assert_uint_eq(id, (uint64_t)i + 1);
	}
	store_close(&store);
	ck_assert_int_eq(pipe(fds), 0);
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		ck_assert_int_ge(pids[p], 0);
		if (pids[p] == 0) {
			struct store *child = test_open(0, 0);
			struct store_job job;
			char owner[16];
			int ret, bad = 0;

			close(fds[0]);
			snprintf(owner, sizeof(owner), "w%d", p);
			while ((ret = store_job_take(child, owner, 3600, 1, &job,
						     &error)) == 0) {
				uint32_t jid = (uint32_t)job.id;

				bad |= write(fds[1], &jid, sizeof(jid)) != sizeof(jid);
				bad |= store_job_done(child, job.id, owner, &error) != 0;
				store_job_clear(&job);
			}
			bad |= ret != STORE_NOTFOUND;
			store_close(&child);
			close(fds[1]);
			_exit(bad);
		}
	}
	close(fds[1]);
	while (read(fds[0], &got, sizeof(got)) == sizeof(got)) {
		ck_assert_uint_le(got, JOBS);
		ck_assert_msg(seen[got] == 0, "job %u taken twice", got);
		seen[got] = 1;
	}
	close(fds[0]);
	for (int p = 0; p < PROCS; p++)
		test_wait_ok(pids[p]);
	for (int i = 1; i <= JOBS; i++)
		ck_assert_msg(seen[i] == 1, "job %d never taken", i);
}
END_TEST

/* A worker killed mid-job: its job comes back when the lease expires. */
START_TEST(killed_worker)
{
	struct store *store = test_open(0, 0);
	struct store_job job;
	const char *error;
	uint64_t id;
	int status;
	pid_t pid;

	ck_assert_int_eq(store_job_enqueue(store, "a@x.test", STORE_JOB_COPY, 0,
					   &id, &error), 0);
	store_close(&store);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct store *child = test_open(0, 0);

		if (store_job_take(child, "victim", 30, 1000, &job, &error) != 0)
			_exit(1);
		kill(getpid(), SIGKILL);
		_exit(2);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	store = test_open(0, 0);
	ck_assert_int_eq(store_job_take(store, "w", 30, 1029, &job, &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_job_take(store, "w", 30, 1030, &job, &error), 0);
	ck_assert_uint_eq(job.id, id);
	ck_assert_uint_eq(job.attempts, 2);
	store_job_clear(&job);
	store_close(&store);
}
END_TEST

/* Take account's job as owner at now: its attempts and deaths. */
static void take_expect(struct store *store, const char *owner, time_t now,
			unsigned attempts, unsigned deaths, const char *error_has)
{
	struct store_job job;
	const char *error;

	ck_assert_int_eq(store_job_take(store, owner, 30, now, &job, &error), 0);
	ck_assert_uint_eq(job.attempts, attempts);
	ck_assert_uint_eq(job.deaths, deaths);
	if (error_has != NULL)
		ck_assert_msg(job.last_error != NULL &&
			      strstr(job.last_error, error_has) != NULL,
			      "last error '%s', not '%s'", job.last_error, error_has);
	store_job_clear(&job);
}

/* Deaths of a job's workers: counted when a dead worker's job is given
 * back and when a job is taken with its lease run out, never for a
 * clean retry; kept in the record. */
START_TEST(worker_deaths)
{
	struct store *store = test_open(0, 0);
	struct store_job job;
	const char *error;
	uint64_t id;

	ck_assert_int_eq(store_job_enqueue(store, "a@x.test", STORE_JOB_COPY, 0,
					   &id, &error), 0);
	take_expect(store, "w1", 1000, 1, 0, NULL);
	/* A restarted daemon found w1 dead. */
	ck_assert_int_eq(store_job_died(store, id, "w1", 1000,
					"the worker holding it died", &error), 0);
	take_expect(store, "w2", 1000, 2, 1, "the worker holding it died");
	/* w2 goes without a word: its lease runs out. */
	ck_assert_int_eq(store_job_take(store, "w3", 30, 1029, &job, &error),
			 STORE_NOTFOUND);
	take_expect(store, "w3", 1030, 3, 2, "lease ran out while w2 held it");
	/* Only the holder's death counts. */
	ck_assert_int_eq(store_job_died(store, id, "w2", 1030, "x", &error),
			 STORE_NOTFOUND);
	/* A clean failure is no death. */
	ck_assert_int_eq(store_job_retry(store, id, "w3", 1030, "timeout", &error), 0);
	take_expect(store, "w4", 1030, 4, 2, "timeout");
	ck_assert_int_eq(store_job_died(store, id, "w4", 1031, "died", &error), 0);
	store_close(&store);
	store = test_open(0, 0);
	ck_assert_int_eq(store_job_get(store, "a@x.test", &job, &error), 0);
	ck_assert_uint_eq(job.deaths, 3);
	ck_assert_uint_eq(job.attempts, 4);
	ck_assert_ptr_null(job.owner);
	store_job_clear(&job);
	/* A new job starts from nothing. */
	ck_assert_int_eq(store_job_cancel(store, "a@x.test", &error), 0);
	ck_assert_int_eq(store_job_enqueue(store, "a@x.test", STORE_JOB_SYNC, 0,
					   &id, &error), 0);
	take_expect(store, "w5", 2000, 1, 0, NULL);
	store_close(&store);
}
END_TEST

/* Put a job record of version 1 (before deaths) under id 1. */
static int put_v1_job(struct store *store, MDB_txn *txn, void *ctx,
		      const char **error_r)
{
	struct rec_writer w;
	unsigned char key[8], idx[8];
	int ret;

	(void)ctx;
	rec_init(&w, 1);
	rec_put_str(&w, "old@x.test");
	rec_put_u32(&w, STORE_JOB_SYNC);
	rec_put_u64(&w, 5);
	rec_put_u64(&w, 0);
	rec_put_u64(&w, 0);
	rec_put_str(&w, NULL);
	rec_put_u32(&w, 7);
	rec_put_str(&w, "an old failure");
	store_be64(key, 1);
	store_be64(idx, 1);
	ret = store_put(store, txn, STORE_DB_JOBS, key, 8, w.buf, w.len, error_r);
	if (ret == 0)
		ret = store_put(store, txn, STORE_DB_JOBIDX, "old@x.test", 10, idx, 8,
				error_r);
	rec_free(&w);
	return ret;
}

/* A store written before deaths were counted reads as no deaths. */
START_TEST(job_record_v1)
{
	struct store *store;
	struct store_job job;
	const char *error;

	if (test_is_pgsql())
		return;		/* LMDB's records; PostgreSQL has columns */
	store = test_open(0, 0);
	ck_assert_int_eq(store_write(store, put_v1_job, NULL, &error), 0);
	ck_assert_int_eq(store_job_get(store, "old@x.test", &job, &error), 0);
	ck_assert_uint_eq(job.attempts, 7);
	ck_assert_uint_eq(job.deaths, 0);
	ck_assert_str_eq(job.last_error, "an old failure");
	store_job_clear(&job);
	take_expect(store, "w", 10, 8, 0, "an old failure");
	ck_assert_int_eq(store_job_get(store, "old@x.test", &job, &error), 0);
	ck_assert_uint_eq(job.attempts, 8);
	store_job_clear(&job);
	store_close(&store);
}
END_TEST

static Suite *jobs_suite(void)
{
	Suite *s = suite_create("store_jobs");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, fifo_one_per_account);
	tcase_add_test(tc, lease_expiry);
	tcase_add_test(tc, retry_backoff);
	tcase_add_test(tc, concurrent_takers);
	tcase_add_test(tc, killed_worker);
	tcase_add_test(tc, worker_deaths);
	tcase_add_test(tc, job_record_v1);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(jobs_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
