/*
 * NAME
 *	test_store_pgsql_jobs 1
 * SUMMARY
 *	unit tests: what only the PostgreSQL store does with jobs and
 *	copy batches
 * DESCRIPTION
 *	Many puller hosts share one PostgreSQL store, so the queue must
 *	hold with takers in separate processes and connections: each job
 *	is taken once, a taker never waits for a job another is leasing
 *	(SKIP LOCKED), an expired lease is taken again with a death
 *	counted. Batches go to the server as array parameters: POP3
 *	UIDLs, repeated messages, a full batch and folder names that are
 *	not UTF-8 are checked here, where LMDB's tests do not reach.
 *
 *	Runs only with MM_TEST_PGSQL (store/test_pgsql.sh sets it); exits
 *	77 (skipped) without it.
 */
#include "config.h"

#include "test_util.h"

static const char *test_conninfo(void)
{
	/* test_store_dir is "postgresql:" CONNINFO (test_pg_setup()). */
	ck_assert(strncmp(test_store_dir, "postgresql:", 11) == 0);
	return test_store_dir + 11;
}

/* Takers in two processes drain one queue: every job exactly once. */
START_TEST(two_takers_each_job_once)
{
	enum { JOBS = 50, PROCS = 2 };
	struct store *store = test_open(0, 0);
	int fds[2], seen[JOBS + 1] = { 0 };
	pid_t pids[PROCS];
	const char *error;
	uint64_t id, first = 0;
	uint32_t got;
	char name[64];

	for (int i = 0; i < JOBS; i++) {
		snprintf(name, sizeof(name), "u%d@x.test", i);
		ck_assert_int_eq(store_job_enqueue(store, name, STORE_JOB_COPY, 0,
						   &id, &error), 0);
		if (i == 0)
			first = id;
		ck_assert_uint_eq(id, first + (uint64_t)i);
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
			/* Leases are kept (no done): a job taken twice would
			 * have to be taken from under a live lease. */
			while ((ret = store_job_take(child, owner, 3600, 1, &job,
						     &error)) == 0) {
				uint32_t n = (uint32_t)(job.id - first + 1);

				bad |= write(fds[1], &n, sizeof(n)) != sizeof(n);
				bad |= job.attempts != 1 || job.deaths != 0;
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
		ck_assert_uint_ge(got, 1);
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

/* A job locked by another connection (a taker between its statements,
 * in another host's transaction) is passed over, not waited for. */
START_TEST(locked_job_passed_over)
{
	struct store *store = test_open(0, 0);
	struct store_job job;
	const char *error;
	uint64_t a, b;
	PGconn *conn;
	PGresult *res;
	char sql[128];

	ck_assert_int_eq(store_job_enqueue(store, "a@x.test", STORE_JOB_COPY, 0,
					   &a, &error), 0);
	ck_assert_int_eq(store_job_enqueue(store, "b@x.test", STORE_JOB_COPY, 0,
					   &b, &error), 0);
	conn = PQconnectdb(test_conninfo());
	ck_assert_int_eq(PQstatus(conn), CONNECTION_OK);
	res = PQexec(conn, "BEGIN");
	ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	snprintf(sql, sizeof(sql), "SELECT 1 FROM mailmigrate.jobs WHERE id = %llu"
		 " FOR UPDATE", (unsigned long long)a);
	res = PQexec(conn, sql);
	ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	ck_assert_int_eq(PQntuples(res), 1);
	PQclear(res);
	/* a is locked: b, behind it, is taken at once. */
	ck_assert_int_eq(store_job_take(store, "w1", 60, 10, &job, &error), 0);
	ck_assert_uint_eq(job.id, b);
	store_job_clear(&job);
	ck_assert_int_eq(store_job_take(store, "w2", 60, 10, &job, &error),
			 STORE_NOTFOUND);
	res = PQexec(conn, "COMMIT");
	PQclear(res);
	PQfinish(conn);
	/* Unlocked, a is first again, with nothing counted for the pass. */
	ck_assert_int_eq(store_job_take(store, "w2", 60, 10, &job, &error), 0);
	ck_assert_uint_eq(job.id, a);
	ck_assert_uint_eq(job.attempts, 1);
	store_job_clear(&job);
	store_close(&store);
}
END_TEST

/* A lease that ran out: the job is taken again with a death counted,
 * and the old holder has lost it. */
START_TEST(expired_lease_taken_again)
{
	struct store *store = test_open(0, 0);
	struct store_job job;
	const char *error;
	uint64_t id;
	pid_t pid;

	ck_assert_int_eq(store_job_enqueue(store, "a@x.test", STORE_JOB_SYNC, 5,
					   &id, &error), 0);
	store_close(&store);
	/* Taken in another process, which goes away holding it. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct store *child = test_open(0, 0);
		int ret = store_job_take(child, "host1:42:w0", 30, 1000, &job, &error);

		store_job_clear(&job);
		store_close(&child);
		_exit(ret == 0 ? 0 : 1);
	}
	test_wait_ok(pid);
	store = test_open(0, 0);
	ck_assert_int_eq(store_job_take(store, "host2:7:w1", 30, 1029, &job, &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_job_take(store, "host2:7:w1", 30, 1030, &job, &error),
			 0);
	ck_assert_uint_eq(job.id, id);
	ck_assert_int_eq(job.kind, STORE_JOB_SYNC);
	ck_assert_int_eq(job.enqueued, 5);
	ck_assert_str_eq(job.owner, "host2:7:w1");
	ck_assert_int_eq(job.lease_until, 1060);
	ck_assert_uint_eq(job.attempts, 2);
	ck_assert_uint_eq(job.deaths, 1);
	ck_assert_str_eq(job.last_error, "its lease ran out while host1:42:w0 held it");
	store_job_clear(&job);
	ck_assert_int_eq(store_job_renew(store, id, "host1:42:w0", 30, 1031, &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_job_died(store, id, "host1:42:w0", 0, "x", &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_job_done(store, id, "host1:42:w0", &error),
			 STORE_NOTFOUND);
	/* Given back in place: still first, the next take counts. */
	ck_assert_int_eq(store_job_enqueue(store, "b@x.test", STORE_JOB_COPY, 6,
					   &id, &error), 0);
	ck_assert_int_eq(store_job_get(store, "a@x.test", &job, &error), 0);
	id = job.id;
	store_job_clear(&job);
	ck_assert_int_eq(store_job_retry(store, id, "host2:7:w1", 1040, NULL, &error),
			 0);
	ck_assert_int_eq(store_job_take(store, "w", 30, 1040, &job, &error), 0);
	ck_assert_uint_eq(job.id, id);
	ck_assert_uint_eq(job.attempts, 3);
	ck_assert_uint_eq(job.deaths, 1);
	ck_assert_ptr_null(job.last_error);
	store_job_clear(&job);
	store_close(&store);
}
END_TEST

static void batch_msg(struct store_batch_msg *m, uint32_t uid, uint64_t size,
		      const char *uidl)
{
	memset(m, 0, sizeof(*m));
	m->old_uid = uid;
	m->size = size;
	snprintf(m->internaldate, sizeof(m->internaldate),
		 "01-Jan-2010 10:00:00 +0000");
	snprintf(m->uidl, sizeof(m->uidl), "%s", uidl);
	m->flags_hash = uid * 7;
}

/* POP3 batches claim UIDLs; a message twice in one batch counts once. */
START_TEST(batch_uidls_and_repeats)
{
	struct store *store = test_open(0, 0);
	struct store_batch_msg msgs[5];
	struct store_batch b = { (char *)"INBOX", 0, (char *)"INBOX", 9, 1, msgs, 5 };
	uint32_t uids[5] = { 1, 2, 3, 0, 4 }, uid, hash;
	struct store_account acct;
	struct store_folder f;
	const char *error;
	uint64_t n;

	test_add(store, "a@example.test", NULL, 1);
	batch_msg(&msgs[0], 1, 10, "uidl-1");
	batch_msg(&msgs[1], 2, 20, "uidl-2");
	batch_msg(&msgs[2], 3, 40, "uidl-1");	/* the same message again */
	batch_msg(&msgs[3], 4, 80, "uidl-4");	/* not appended */
	batch_msg(&msgs[4], 5, 160, "uidl-5");
	ck_assert_int_eq(store_uidl_add(store, "a@example.test", "uidl-5", 1,
					&error), 0);	/* claimed before */
	ck_assert_int_eq(store_batch_begin(store, "a@example.test", 0, &b, &error), 0);
	ck_assert_int_eq(store_batch_done(store, "a@example.test", 0, &b, uids, 20,
					  &error), 0);
	ck_assert_int_eq(store_uidl_count(store, "a@example.test", &n, &error), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(store_uidl_has(store, "a@example.test", "uidl-2", &error), 1);
	ck_assert_int_eq(store_uidl_has(store, "a@example.test", "uidl-4", &error), 0);
	/* POP3 messages have no UID map entries and move no last_uid. */
	ck_assert_int_eq(store_msgmap_get(store, "a@example.test", "INBOX", 0, 1,
					  &uid, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_account_get(store, "a@example.test", &acct, &error), 0);
	ck_assert_uint_eq(acct.messages, 2);
	ck_assert_uint_eq(acct.bytes, 30);
	ck_assert_uint_eq(acct.folders, 1);
	ck_assert_int_eq(acct.updated, 20);
	store_account_clear(&acct);
	ck_assert_int_eq(store_folder_get(store, "a@example.test", "INBOX", &f,
					  &error), 0);
	ck_assert_uint_eq(f.messages, 2);
	ck_assert_uint_eq(f.last_uid, 0);
	store_folder_clear(&f);

	/* IMAP: UID 7 twice in one batch; the first copy is mapped. */
	batch_msg(&msgs[0], 7, 100, "");
	batch_msg(&msgs[1], 7, 999, "");
	batch_msg(&msgs[2], 6, 200, "");
	b.folder = b.target_folder = (char *)"Sent";
	b.uidvalidity = 3;
	b.count = 3;
	uids[0] = 70;
	uids[1] = 71;
	uids[2] = 60;
	ck_assert_int_eq(store_batch_done(store, "a@example.test", 0, &b, uids, 21,
					  &error), 0);
	ck_assert_int_eq(store_msgmap_get_flags(store, "a@example.test", "Sent", 3, 7,
						&uid, &hash, &error), 0);
	ck_assert_uint_eq(uid, 70);
	ck_assert_uint_eq(hash, 49);
	ck_assert_int_eq(store_folder_get(store, "a@example.test", "Sent", &f,
					  &error), 0);
	ck_assert_uint_eq(f.messages, 2);
	ck_assert_uint_eq(f.bytes, 300);
	ck_assert_uint_eq(f.last_uid, 7);
	ck_assert_uint_eq(f.uidvalidity, 3);
	ck_assert_uint_eq(f.target_uidvalidity, 9);
	store_folder_clear(&f);
	/* Nothing appended: the folder is still recorded, as on LMDB. */
	uids[0] = uids[1] = uids[2] = 0;
	b.folder = (char *)"Drafts";
	ck_assert_int_eq(store_batch_done(store, "a@example.test", 0, &b, uids, 22,
					  &error), 0);
	ck_assert_int_eq(store_account_get(store, "a@example.test", &acct, &error), 0);
	ck_assert_uint_eq(acct.messages, 4);
	ck_assert_uint_eq(acct.bytes, 330);
	ck_assert_uint_eq(acct.folders, 3);
	store_account_clear(&acct);
	store_close(&store);
}
END_TEST

/* A full batch in one call; folder names that are not UTF-8 kept as
 * bytes. */
START_TEST(batch_full_and_binary_names)
{
	struct store *store = test_open(0, 0);
	struct store_batch_msg *msgs = mm_calloc(STORE_MAX_BATCH, sizeof(*msgs));
	uint32_t *uids = mm_calloc(STORE_MAX_BATCH, sizeof(*uids)), uid;
	const char *name = "Gel\xf6scht \xff\x01";
	struct store_batch b = { (char *)name, 5, (char *)"Gel&APY-scht", 6, 100,
				 msgs, STORE_MAX_BATCH };
	struct store_batch got;
	struct store_account acct;
	struct store_folder f;
	const char *error;

	test_add(store, "a@example.test", NULL, 1);
	for (uint32_t i = 0; i < STORE_MAX_BATCH; i++) {
		batch_msg(&msgs[i], i + 1, 1000, "");
		uids[i] = 100 + i;
	}
	ck_assert_int_eq(store_batch_begin(store, "a@example.test", 0, &b, &error), 0);
	ck_assert_int_eq(store_batch_pending(store, "a@example.test", 0, &got, &error), 0);
	ck_assert_str_eq(got.folder, name);
	ck_assert_uint_eq(got.count, STORE_MAX_BATCH);
	ck_assert_uint_eq(got.msgs[STORE_MAX_BATCH - 1].old_uid, STORE_MAX_BATCH);
	store_batch_clear(&got);
	ck_assert_int_eq(store_batch_done(store, "a@example.test", 0, &b, uids, 30,
					  &error), 0);
	ck_assert_int_eq(store_batch_pending(store, "a@example.test", 0, &got, &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_msgmap_get(store, "a@example.test", name, 5,
					  STORE_MAX_BATCH, &uid, &error), 0);
	ck_assert_uint_eq(uid, 100 + STORE_MAX_BATCH - 1);
	ck_assert_int_eq(store_folder_get(store, "a@example.test", name, &f, &error), 0);
	ck_assert_str_eq(f.name, name);
	ck_assert_str_eq(f.target_name, "Gel&APY-scht");
	ck_assert_uint_eq(f.last_uid, STORE_MAX_BATCH);
	ck_assert_uint_eq(f.messages, STORE_MAX_BATCH);
	store_folder_clear(&f);
	ck_assert_int_eq(store_account_get(store, "a@example.test", &acct, &error), 0);
	ck_assert_uint_eq(acct.messages, STORE_MAX_BATCH);
	ck_assert_uint_eq(acct.bytes, 1000ull * STORE_MAX_BATCH);
	store_account_clear(&acct);
	mm_free(&msgs);
	mm_free(&uids);
	store_close(&store);
}
END_TEST

struct job_names {
	char names[8][32];
	size_t count;
};

static int job_name_cb(const struct store_job *job, void *ctx)
{
	struct job_names *jn = ctx;

	if (jn->count < 8)
		snprintf(jn->names[jn->count++], sizeof(jn->names[0]), "%s",
			 job->account);
	return 0;
}

/* Reset of every account, done set-wise: copies queued in name order,
 * none for passwords-only, progress of accounts not in the store kept
 * (as LMDB, which resets account by account). */
START_TEST(reset_all_in_name_order)
{
	struct store *store = test_open(0, 0);
	struct store_account acct = { 0 };
	struct store_job job;
	struct job_names jn = { .count = 0 };
	const char *error;
	uint64_t n;

	test_add(store, "c@example.test", NULL, 1);
	test_add(store, "a@example.test", NULL, 1);
	test_add(store, "b@example.test", NULL, 1);
	acct.name = (char *)"p@example.test";
	acct.domain = (char *)"example.test";
	acct.state = STORE_STATE_PASSWORDS_ONLY;
	ck_assert_int_eq(store_account_create(store, &acct, NULL, 1, &error), 0);
	ck_assert_int_eq(store_uidl_add(store, "ghost@example.test", "u", 1, &error), 0);
	ck_assert_int_eq(store_uidl_add(store, "b@example.test", "u", 1, &error), 0);
	ck_assert_int_eq(store_job_take(store, "w", 60, 2, &job, &error), 0);
	ck_assert_str_eq(job.account, "c@example.test");
	store_job_clear(&job);
	ck_assert_int_eq(store_reset(store, NULL, 9, &error), 0);
	ck_assert_int_eq(store_job_iter(store, job_name_cb, &jn, &error), 0);
	ck_assert_uint_eq(jn.count, 3);
	ck_assert_str_eq(jn.names[0], "a@example.test");
	ck_assert_str_eq(jn.names[1], "b@example.test");
	ck_assert_str_eq(jn.names[2], "c@example.test");
	ck_assert_int_eq(store_job_get(store, "c@example.test", &job, &error), 0);
	ck_assert_ptr_null(job.owner);
	ck_assert_uint_eq(job.attempts, 0);
	ck_assert_int_eq(job.enqueued, 9);
	store_job_clear(&job);
	ck_assert_int_eq(store_uidl_count(store, "b@example.test", &n, &error), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(store_uidl_count(store, "ghost@example.test", &n, &error), 0);
	ck_assert_uint_eq(n, 1);
	store_close(&store);
}
END_TEST

static Suite *pgsql_jobs_suite(void)
{
	Suite *s = suite_create("store_pgsql_jobs");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, two_takers_each_job_once);
	tcase_add_test(tc, locked_job_passed_over);
	tcase_add_test(tc, expired_lease_taken_again);
	tcase_add_test(tc, batch_uidls_and_repeats);
	tcase_add_test(tc, batch_full_and_binary_names);
	tcase_add_test(tc, reset_all_in_name_order);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (!test_is_pgsql()) {
		printf("SKIP: test_store_pgsql_jobs needs MM_TEST_PGSQL "
		       "(store/test_pgsql.sh sets it)\n");
		return 77;
	}
	sr = srunner_create(pgsql_jobs_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
