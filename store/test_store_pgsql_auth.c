/*
 * NAME
 *	test_store_pgsql_auth 1
 * SUMMARY
 *	unit tests for what the PostgreSQL store adds over LMDB: rate
 *	limits counted by several hosts at once, event trimming with
 *	several writers, statistics, an account and an alias of one name
 *	made at once
 * DESCRIPTION
 *	LMDB serialises every writer, so these cannot go wrong there; on
 *	PostgreSQL each is a separate connection, as two hosts would be.
 *	Needs MM_TEST_PGSQL (a conninfo, store/test_pgsql.sh sets it);
 *	without it the program says so and exits 77 (skipped). Rows the
 *	calls under test do not write (leases, the copy rate) are put in
 *	with SQL, and the results are also checked in the tables.
 */
#include "config.h"

#include "test_util.h"

/* The conninfo of the test database (test_store_dir without
 * "postgresql:"). */
static const char *test_conninfo(void)
{
	return test_store_dir + strlen("postgresql:");
}

/* The one value sql returns, as a number. */
static long long pg_value(const char *sql)
{
	PGconn *conn = PQconnectdb(test_conninfo());
	PGresult *res;
	long long v;

	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "%s", PQerrorMessage(conn));
	res = PQexec(conn, sql);
	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1,
		      "%s: %s", sql, PQerrorMessage(conn));
	v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	PQfinish(conn);
	return v;
}

/* Fork n children that wait on a pipe, so they start at once; each
 * runs fn(i) with a store of its own and exits with its result (0..255). */
static void run_at_once(int n, int (*fn)(struct store *store, int i),
			int results[])
{
	int go[2], status;
	pid_t pids[8];
	char c;

	ck_assert_int_le(n, 8);
	ck_assert_int_eq(pipe(go), 0);
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			struct store *store;
			int ret;

			close(go[1]);
			store = test_open(0, 0);
			if (read(go[0], &c, 1) != 0)
				_exit(255);
			ret = fn(store, i);
			store_close(&store);
			_exit(ret);
		}
	}
	close(go[0]);
	close(go[1]);	/* EOF: everyone goes */
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 255,
			      "child %d failed (status %d)", i, status);
		results[i] = WEXITSTATUS(status);
	}
}

enum { HITS = 60, LIMIT = 45 };

/* HITS tries on the shared key and one of our own, both counted or
 * neither; the number that passed. */
static int limit_child(struct store *store, int i)
{
	struct store_auth_limit l[2] = { { "ip:10.0.0.1", LIMIT },
					 { i == 0 ? "user:a@x" : "user:b@x", 1000 } };
	const char *error;
	int passed = 0;

	for (int h = 0; h < HITS; h++) {
		int ret = store_auth_limit(store, l, 2, 600, 5000, &error);

		if (ret < 0)
			return 255;
		passed += ret == 0;
	}
	return passed;
}

/* Two hosts count the same key: exactly the limit passes, and each
 * one's own key counted exactly its passes (all or none). */
START_TEST(limit_two_hosts)
{
	struct store *store = test_open(0, 0);
	int passed[2];

	store_close(&store);
	run_at_once(2, limit_child, passed);
	ck_assert_int_eq(passed[0] + passed[1], LIMIT);
	ck_assert_int_eq(pg_value("SELECT hits FROM mailmigrate.auth_limits"
				  " WHERE key = 'ip:10.0.0.1'::bytea"), LIMIT);
	ck_assert_int_eq(pg_value("SELECT hits FROM mailmigrate.auth_limits"
				  " WHERE key = 'user:a@x'::bytea"), passed[0]);
	ck_assert_int_eq(pg_value("SELECT hits FROM mailmigrate.auth_limits"
				  " WHERE key = 'user:b@x'::bytea"), passed[1]);
}
END_TEST

/* Keys are bytes, limits per key; a key twice is one key held to the
 * stricter limit; an ended window starts again at the hit. */
START_TEST(limit_keys)
{
	struct store *store = test_open(0, 0);
	struct store_auth_limit l[3] = { { "user:\"{,}\\\n\xff", 0 },
					 { "user:\"{,}\\\n\xff", 2 }, { "", 0 } };
	const char *error;

	ck_assert_int_eq(store_auth_limit(store, l, 3, 60, 1000, &error), 0);
	ck_assert_int_eq(store_auth_limit(store, l, 3, 60, 1059, &error), 0);
	ck_assert_int_eq(store_auth_limit(store, l, 3, 60, 1059, &error), STORE_EXISTS);
	ck_assert_int_eq(pg_value("SELECT hits FROM mailmigrate.auth_limits"
				  " WHERE key = ''::bytea"), 2);
	/* The window of the first hit ended at 1060; the next starts at
	 * 1100, so 1159 is still in it and 1160 is not. */
	ck_assert_int_eq(store_auth_limit(store, l, 3, 60, 1100, &error), 0);
	ck_assert_int_eq(store_auth_limit(store, l, 3, 60, 1159, &error), 0);
	ck_assert_int_eq(store_auth_limit(store, l, 3, 60, 1159, &error), STORE_EXISTS);
	ck_assert_int_eq(store_auth_limit(store, l, 3, 60, 1160, &error), 0);
	/* No limits at all: nothing to count, not refused. */
	ck_assert_int_eq(store_auth_limit(store, l, 0, 60, 1160, &error), 0);
	store_close(&store);
}
END_TEST

enum { EVENTS_EACH = 30, EVENTS_KEPT = 10 };

/* EVENTS_EACH events, every third an error, on a handle of our own
 * that keeps EVENTS_KEPT. */
static int event_child(struct store *store, int i)
{
	struct store_options opts = { .event_log_max = EVENTS_KEPT };
	struct store *mine;
	char text[64];
	const char *error;
	int ret = 0;

	(void)store;
	if (store_open(test_store_dir, &opts, &mine, &error) < 0)
		return 255;
	for (int e = 0; e < EVENTS_EACH && ret == 0; e++) {
		snprintf(text, sizeof(text), "writer %d event %d", i, e);
		if (store_event_add(mine, 100 + e, e % 3 == 0 ? LOG_SEV_ERROR :
				    LOG_SEV_INFO, NULL, text, &error) != 0)
			ret = 255;
	}
	store_close(&mine);
	return ret;
}

struct ev_seen {
	size_t count;
	uint64_t first_id, last_id;
	int consecutive;
};

static int ev_cb(const struct store_event *ev, void *ctx)
{
	struct ev_seen *seen = ctx;

	if (seen->count == 0)
		seen->first_id = ev->id;
	else if (ev->id != seen->last_id + 1)
		seen->consecutive = 0;
	seen->last_id = ev->id;
	seen->count++;
	return 0;
}

/* Two writers at once with event_log_max 10: exactly the newest 10
 * are kept, their ids without gaps; the error count is complete. */
START_TEST(events_trim_two_writers)
{
	struct store_options opts = { .create = 1, .event_log_max = EVENTS_KEPT };
	struct ev_seen seen = { .consecutive = 1 };
	struct store_stats st;
	struct store *store;
	const char *error;
	int results[2];

	ck_assert_msg(store_open(test_store_dir, &opts, &store, &error) == 0, "%s",
		      error);
	store_close(&store);
	run_at_once(2, event_child, results);
	ck_assert_msg(store_open(test_store_dir, &opts, &store, &error) == 0, "%s",
		      error);
	ck_assert_int_eq(store_event_iter(store, 0, NULL, 0, ev_cb, &seen, &error), 0);
	ck_assert_uint_eq(seen.count, EVENTS_KEPT);
	ck_assert(seen.consecutive);
	ck_assert_uint_eq(seen.last_id, 2 * EVENTS_EACH);
	ck_assert_int_eq(pg_value("SELECT count(*) FROM mailmigrate.events"),
			 EVENTS_KEPT);
	ck_assert_int_eq(store_stats_get(store, 0, &st, &error), 0);
	ck_assert_uint_eq(st.errors, 2 * ((EVENTS_EACH + 2) / 3));
	/* However the writers interleaved, the newest ten hold two errors
	 * at least: the last two of them, oldest first. */
	memset(&seen, 0, sizeof(seen));
	ck_assert_int_eq(store_event_iter(store, 1, NULL, 2, ev_cb, &seen, &error), 0);
	ck_assert_uint_eq(seen.count, 2);
	ck_assert_uint_lt(seen.first_id, seen.last_id);
	ck_assert_int_eq(pg_value("SELECT count(*) FROM (SELECT id FROM"
				  " mailmigrate.events WHERE severity >= 3"
				  " ORDER BY id DESC LIMIT 2) e WHERE id >= "
				  "(SELECT max(id) - 9 FROM mailmigrate.events)"), 2);
	store_close(&store);
}
END_TEST

static void add_state(struct store *store, const char *name,
		      enum store_state state, time_t now)
{
	struct store_account acct = { 0 };
	const char *error;

	acct.name = (char *)name;
	acct.domain = (char *)"example.test";
	acct.state = state == STORE_STATE_PASSWORDS_ONLY ?
		STORE_STATE_PASSWORDS_ONLY : STORE_STATE_QUEUED;
	ck_assert_int_eq(store_account_create(store, &acct, NULL, now, &error), 0);
	if (state != acct.state)
		ck_assert_int_eq(store_account_set_state(store, name, state, now + 100,
							 &error), 0);
}

/* Accounts in every state, jobs leased and free, copy-rate minutes in
 * and out of the window. */
START_TEST(stats_states_and_leases)
{
	struct store *store = test_open(0, 0);
	struct store_stats st;
	const char *error;

	add_state(store, "q1@example.test", STORE_STATE_QUEUED, 1000);
	add_state(store, "q2@example.test", STORE_STATE_QUEUED, 1010);
	add_state(store, "m@example.test", STORE_STATE_MIGRATING, 1020);
	add_state(store, "c@example.test", STORE_STATE_COPIED, 1030);
	add_state(store, "f@example.test", STORE_STATE_FINISHED, 1040);
	add_state(store, "x@example.test", STORE_STATE_FAILED, 1050);
	add_state(store, "p@example.test", STORE_STATE_PASSWORDS_ONLY, 900);
	ck_assert_int_eq(store_account_add_alias(store, "c@example.test",
						 "c1@example.test", &error), 0);
	ck_assert_int_eq(store_account_add_alias(store, "c@example.test",
						 "c2@example.test", &error), 0);
	ck_assert_int_eq(store_account_add_alias(store, "q1@example.test",
						 "q@example.test", &error), 0);
	test_pg_exec(test_conninfo(),
		     "UPDATE mailmigrate.accounts SET messages = 10, bytes = 1000"
		     " WHERE name IN ('m@example.test', 'c@example.test',"
		     " 'f@example.test');"
		     /* two leases to 3000, one ran out at 1500 */
		     "UPDATE mailmigrate.jobs SET lease_until = 3000, owner = 'h1'"
		     " WHERE account IN ('q1@example.test', 'm@example.test');"
		     "UPDATE mailmigrate.jobs SET lease_until = 1500, owner = 'h2'"
		     " WHERE account = 'q2@example.test';"
		     /* the window at 2040 is 1740..2040: minute 28 (1680..1739)
		      * is out, 35 is after now, 34 copied nothing */
		     "INSERT INTO mailmigrate.rate (minute, messages, bytes, first)"
		     " VALUES (28, 7, 700, 1690), (29, 1, 10, 1750),"
		     " (30, 2, 20, 1805), (33, 3, 30, 1990), (34, 0, 99, 2041),"
		     " (35, 5, 50, 2100)");
	ck_assert_int_eq(store_stats_get(store, 2040, &st, &error), 0);
	ck_assert_int_eq(st.started, 1000);	/* the first account made */
	ck_assert_uint_eq(st.accounts, 7);
	ck_assert_uint_eq(st.by_state[STORE_STATE_QUEUED], 2);
	ck_assert_uint_eq(st.by_state[STORE_STATE_MIGRATING], 1);
	ck_assert_uint_eq(st.by_state[STORE_STATE_COPIED], 1);
	ck_assert_uint_eq(st.by_state[STORE_STATE_FINISHED], 1);
	ck_assert_uint_eq(st.by_state[STORE_STATE_FAILED], 1);
	ck_assert_uint_eq(st.by_state[STORE_STATE_PASSWORDS_ONLY], 1);
	ck_assert_uint_eq(st.aliases, 3);
	ck_assert_uint_eq(st.messages, 30);
	ck_assert_uint_eq(st.bytes, 3000);
	ck_assert_int_eq(st.last_migrated, 1140);	/* f: finished at 1140 */
	/* Six jobs (passwords-only has none): two leased at 2040. */
	ck_assert_uint_eq(st.jobs_leased, 2);
	ck_assert_uint_eq(st.jobs_pending, 4);
	ck_assert_uint_eq(st.rate_messages, 6);
	ck_assert_uint_eq(st.rate_bytes, 60);
	ck_assert_uint_eq(st.rate_seconds, 2040 - 1750 + 1);
	ck_assert_int_eq(st.paused, 0);
	/* At 2000 minute 28 overlaps the window (1700..2000): counted,
	 * its first copy before the window read as the window's start. */
	ck_assert_int_eq(store_stats_get(store, 2000, &st, &error), 0);
	ck_assert_uint_eq(st.rate_messages, 13);
	ck_assert_uint_eq(st.rate_bytes, 760);
	ck_assert_uint_eq(st.rate_seconds, 301);
	/* Later the leases ran out, and so did the window. */
	ck_assert_int_eq(store_stats_get(store, 3000, &st, &error), 0);
	ck_assert_uint_eq(st.jobs_leased, 0);
	ck_assert_uint_eq(st.jobs_pending, 6);
	ck_assert_uint_eq(st.rate_messages, 0);
	ck_assert_uint_eq(st.rate_seconds, 0);
	/* A minute whose first copy a writer did not record: from its
	 * start. */
	test_pg_exec(test_conninfo(), "INSERT INTO mailmigrate.rate (minute,"
		     " messages, bytes) VALUES (49, 4, 40)");
	ck_assert_int_eq(store_stats_get(store, 3000, &st, &error), 0);
	ck_assert_uint_eq(st.rate_messages, 4);
	ck_assert_uint_eq(st.rate_seconds, 3000 - 2940 + 1);
	store_close(&store);
}
END_TEST

enum { RACE_NAMES = 20 };

/* Child 0 makes accounts n0..; child 1 gives their names to a as
 * aliases, at the same time. */
static int race_child(struct store *store, int i)
{
	char name[64];
	const char *error;

	for (int n = 0; n < RACE_NAMES; n++) {
		snprintf(name, sizeof(name), "n%d@example.test", n);
		if (i == 0) {
			struct store_account acct = { 0 };

			acct.name = name;
			acct.domain = (char *)"example.test";
			acct.state = STORE_STATE_PASSWORDS_ONLY;
			if (store_account_create(store, &acct, NULL, 10, &error) != 0)
				return 255;
		} else if (store_account_add_alias(store, "a@example.test", name,
						   &error) < 0) {
			return 255;
		}
	}
	return 0;
}

/* An account wins over an alias however the two interleave: no name
 * ends up both, and the record lists only what the index holds. */
START_TEST(account_and_alias_race)
{
	struct store *store = test_open(0, 0);
	int results[2];

	test_add(store, "a@example.test", NULL, 1);
	store_close(&store);
	run_at_once(2, race_child, results);
	ck_assert_int_eq(pg_value("SELECT count(*) FROM mailmigrate.aliases l"
				  " JOIN mailmigrate.accounts a ON a.name = l.alias"), 0);
	ck_assert_int_eq(pg_value("SELECT count(*) FROM mailmigrate.accounts a,"
				  " unnest(a.aliases) l WHERE NOT EXISTS (SELECT 1"
				  " FROM mailmigrate.aliases i WHERE i.alias = l"
				  " AND i.account = a.name)"), 0);
	ck_assert_int_eq(pg_value("SELECT count(*) FROM mailmigrate.aliases i"
				  " WHERE NOT EXISTS (SELECT 1 FROM mailmigrate.accounts a"
				  " WHERE a.name = i.account AND i.alias = ANY (a.aliases))"),
			 0);
	ck_assert_int_eq(pg_value("SELECT count(*) FROM mailmigrate.accounts"
				  " WHERE name LIKE 'n%'"), RACE_NAMES);
}
END_TEST

static Suite *pgsql_suite(void)
{
	Suite *s = suite_create("store_pgsql_auth");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, limit_two_hosts);
	tcase_add_test(tc, limit_keys);
	tcase_add_test(tc, events_trim_two_writers);
	tcase_add_test(tc, stats_states_and_leases);
	tcase_add_test(tc, account_and_alias_race);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (!test_is_pgsql()) {
		printf("SKIP: test_store_pgsql_auth needs MM_TEST_PGSQL (a libpq "
		       "conninfo of a test server; store/test_pgsql.sh sets it)\n");
		return 77;
	}
	sr = srunner_create(pgsql_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
