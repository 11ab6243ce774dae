/*
 * NAME
 *	test_store_auth 1
 * SUMMARY
 *	unit tests: the auth-hook's rate limits, failed-login cache and
 *	password change, across processes; the TLS memory (tlsseen)
 */
#include "config.h"

#include <lmdb.h>

#include "test_util.h"

static void setup(void) { test_setup(); }
static void teardown(void) { test_teardown(); }

/* Limits per window: the (limit+1)th hit is refused, a new window
 * starts afresh, and a refused pair counts nothing for either key. */
START_TEST(limit_window)
{
	struct store *store = test_open(0, 0);
	struct store_auth_limit l[2] = { { "user:a@x", 2 }, { "ip:1.2.3.4", 3 } };
	const char *error;

	ck_assert_int_eq(store_auth_limit(store, l, 2, 60, 1000, &error), 0);
	ck_assert_int_eq(store_auth_limit(store, l, 2, 60, 1010, &error), 0);
	ck_assert_int_eq(store_auth_limit(store, l, 2, 60, 1020, &error), STORE_EXISTS);
	/* The IP had 2 hits, not 3: another user from it gets one more. */
	l[0].key = "user:b@x";
	ck_assert_int_eq(store_auth_limit(store, l, 2, 60, 1030, &error), 0);
	ck_assert_int_eq(store_auth_limit(store, l, 2, 60, 1040, &error), STORE_EXISTS);
	/* The window of the first hit ends at 1060. */
	l[0].key = "user:a@x";
	ck_assert_int_eq(store_auth_limit(store, l, 2, 60, 1060, &error), 0);
	/* limit 0: never limited. */
	l[0].limit = 0;
	l[1].limit = 0;
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(store_auth_limit(store, l, 2, 60, 1061, &error), 0);
	store_close(&store);
}
END_TEST

/* Failed pairs are remembered until their expiry, by MAC only. */
START_TEST(fail_cache)
{
	struct store *store = test_open(0, 0);
	const unsigned char mac1[32] = { 1 }, mac2[32] = { 2 };
	const char *error;

	ck_assert_int_eq(store_auth_fail_has(store, mac1, 32, 100, &error), 0);
	ck_assert_int_eq(store_auth_fail_add(store, mac1, 32, 100, 300, &error), 0);
	ck_assert_int_eq(store_auth_fail_has(store, mac1, 32, 100, &error), 1);
	ck_assert_int_eq(store_auth_fail_has(store, mac1, 32, 399, &error), 1);
	ck_assert_int_eq(store_auth_fail_has(store, mac1, 32, 400, &error), 0);
	ck_assert_int_eq(store_auth_fail_has(store, mac2, 32, 100, &error), 0);
	store_close(&store);
}
END_TEST

/* Many limited hits from many processes: exactly limit pass. */
START_TEST(limit_across_processes)
{
	struct store *store = test_open(0, 0);
	const char *error;
	int status, passed = 0;
	pid_t pids[8];

	store_close(&store);
	for (int p = 0; p < 8; p++) {
		pids[p] = fork();
		ck_assert_int_ge(pids[p], 0);
		if (pids[p] == 0) {
			struct store_auth_limit l = { "user:c@x", 20 };
			int ok = 0;

			store = test_open(0, 0);
			for (int i = 0; i < 5; i++)
				if (store_auth_limit(store, &l, 1, 600, 5000, &error) == 0)
					ok++;
			store_close(&store);
			_exit(ok);
		}
	}
	for (int p = 0; p < 8; p++) {
		ck_assert_int_eq(waitpid(pids[p], &status, 0), pids[p]);
		ck_assert(WIFEXITED(status));
		passed += WEXITSTATUS(status);
	}
	ck_assert_int_eq(passed, 20);
}
END_TEST

/* How many of the failed-login entries 0..n-1 (added at time 0..4)
 * are still in the database: looked up at time 4, when none had
 * expired, so only a pruned one is missing. */
static unsigned present(struct store *store, unsigned n)
{
	unsigned char mac[32] = { 0 };
	const char *error;
	unsigned count = 0;

	for (unsigned i = 0; i < n; i++) {
		memcpy(mac, &i, sizeof(i));
		count += store_auth_fail_has(store, mac, 32, 4, &error) == 1;
	}
	return count;
}

/* Expired entries are pruned once the database has grown, by the
 * writes that add entries, each looking at no more than
 * STORE_AUTH_PRUNE_MAX of them: a login does not pay for a scan of
 * the whole database. */
START_TEST(prune)
{
	struct store *store = test_open(0, 0);
	unsigned char mac[32] = { 0 };
	const char *error;
	unsigned left, before;

	for (unsigned i = 0; i < 5000; i++) {
		memcpy(mac, &i, sizeof(i));
		ck_assert_int_eq(store_auth_fail_add(store, mac, 32, i / 1000, 10, &error), 0);
	}
	ck_assert_uint_eq(present(store, 5000), 5000);
	/* Nothing had expired while they were added (times 0..4, expiring
	 * at 10..14); a write at 1000 prunes some, not all. */
	struct store_auth_limit l = { "ip:9.9.9.9", 0 };
	ck_assert_int_eq(store_auth_limit(store, &l, 1, 60, 1000, &error), 0);
	left = present(store, 5000);
	ck_assert_uint_lt(left, 5000);
	ck_assert_uint_ge(left, 5000 - STORE_AUTH_PRUNE_MAX);
	/* Each later write goes on where the last one stopped, until the
	 * database is small again. */
	for (unsigned w = 0; w < 5000 / STORE_AUTH_PRUNE_MAX + 1; w++) {
		before = left;
		ck_assert_int_eq(store_auth_limit(store, &l, 1, 60, 1001 + w, &error), 0);
		left = present(store, 5000);
		ck_assert_uint_ge(left + STORE_AUTH_PRUNE_MAX, before);
	}
	ck_assert_uint_lt(left, 4096);
	/* The new entry stays: the limit counts it. */
	l.limit = 1;
	ck_assert_int_eq(store_auth_limit(store, &l, 1, 60, 1001, &error), STORE_EXISTS);
	store_close(&store);
}
END_TEST

/* A changed password replaces hash and sealed password, nothing else. */
START_TEST(set_password)
{
	struct store *store = test_open(0, 0);
	struct store_account acct;
	struct store_job job;
	char *pw;
	const char *error;

	test_add(store, "d@example.test", "old pw", 100);
	ck_assert_int_eq(store_account_set_password(store, "d@example.test",
		"{SHA512-CRYPT}$6$new$x", "new pw", 200, &error), 0);
	ck_assert_int_eq(store_account_get(store, "d@example.test", &acct, &error), 0);
	ck_assert_str_eq(acct.password_hash, "{SHA512-CRYPT}$6$new$x");
	ck_assert_int_eq(acct.state, STORE_STATE_QUEUED);
	ck_assert_uint_eq(acct.flags, 0);
	store_account_clear(&acct);
	ck_assert_int_eq(store_cred_get(store, "d@example.test", &pw, &error), 0);
	ck_assert_str_eq(pw, "new pw");
	mm_free_secret(&pw);
	ck_assert_int_eq(store_job_get(store, "d@example.test", &job, &error), 0);
	store_job_clear(&job);
	ck_assert_int_eq(store_account_set_password(store, "nobody@example.test",
		"{SHA512-CRYPT}$6$a$b", "x", 200, &error), STORE_NOTFOUND);
	store_close(&store);
}
END_TEST

/* The TLS memory: per domain (any case) and protocol, the first time
 * kept, forgotten per protocol or both. */
START_TEST(tls_seen)
{
	struct store *store = test_open(0, 0);
	const char *error;
	int64_t since = 0;

	ck_assert_int_eq(store_tls_seen_get(store, "example.test", STORE_TLS_IMAP,
					    &since, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_tls_seen_add(store, "Example.TEST", STORE_TLS_IMAP,
					    1000, &error), 0);
	/* Seen again later: the first time stays. */
	ck_assert_int_eq(store_tls_seen_add(store, "example.test", STORE_TLS_IMAP,
					    2000, &error), STORE_EXISTS);
	ck_assert_int_eq(store_tls_seen_get(store, "EXAMPLE.test", STORE_TLS_IMAP,
					    &since, &error), 0);
	ck_assert_int_eq(since, 1000);
	/* POP3 and other domains are apart. */
	ck_assert_int_eq(store_tls_seen_get(store, "example.test", STORE_TLS_POP3,
					    &since, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_tls_seen_get(store, "example.org", STORE_TLS_IMAP,
					    &since, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_tls_seen_add(store, "example.test", STORE_TLS_POP3,
					    3000, &error), 0);
	/* Forget one protocol, then both. */
	ck_assert_int_eq(store_tls_seen_forget(store, "example.test", STORE_TLS_POP3,
					       &error), 0);
	ck_assert_int_eq(store_tls_seen_forget(store, "example.test", STORE_TLS_POP3,
					       &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_tls_seen_get(store, "example.test", STORE_TLS_IMAP,
					    &since, &error), 0);
	ck_assert_int_eq(store_tls_seen_forget(store, "example.test", NULL, &error), 0);
	ck_assert_int_eq(store_tls_seen_get(store, "example.test", STORE_TLS_IMAP,
					    &since, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_tls_seen_forget(store, "example.test", NULL, &error),
			 STORE_NOTFOUND);
	store_close(&store);
}
END_TEST

/* Bad names and protocols are errors, not records. */
static const struct {
	const char *domain, *proto;
} tls_bad[] = {
	{ "", STORE_TLS_IMAP },
	{ "example.test", "smtp" },
	{ "example.test", "IMAP" },
	{ "x.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", STORE_TLS_POP3 },	/* 254 */
};

START_TEST(tls_seen_bad)
{
	struct store *store = test_open(0, 0);
	const char *error;
	int64_t since = 7;

	ck_assert_int_eq(store_tls_seen_add(store, tls_bad[_i].domain,
					    tls_bad[_i].proto, 1000, &error), -1);
	ck_assert_int_eq(store_tls_seen_get(store, tls_bad[_i].domain,
					    tls_bad[_i].proto, &since, &error), -1);
	ck_assert_int_eq(since, 7);
	store_close(&store);
}
END_TEST

/* A store made before tlsseen existed: read-only, it reads as never
 * seen; the first writer makes the database. */
START_TEST(tls_seen_older_store)
{
	struct store_options ro = { .readonly = 1 };
	struct store *store = test_open(0, 0);
	const char *error;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	int64_t since;

	store_close(&store);
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 32), 0);
	ck_assert_int_eq(mdb_env_open(env, test_store_dir, MDB_NOTLS, 0660), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "tlsseen", 0, &dbi), 0);
	ck_assert_int_eq(mdb_drop(txn, dbi, 1), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	ck_assert_msg(store_open(test_store_dir, &ro, &store, &error) == 0, "%s", error);
	ck_assert_int_eq(store_tls_seen_get(store, "example.test", STORE_TLS_IMAP,
					    &since, &error), STORE_NOTFOUND);
	store_close(&store);
	store = test_open(0, 0);
	ck_assert_int_eq(store_tls_seen_add(store, "example.test", STORE_TLS_IMAP,
					    1000, &error), 0);
	store_close(&store);
	ck_assert_int_eq(store_open(test_store_dir, &ro, &store, &error), 0);
	ck_assert_int_eq(store_tls_seen_get(store, "example.test", STORE_TLS_IMAP,
					    &since, &error), 0);
	ck_assert_int_eq(since, 1000);
	store_close(&store);
}
END_TEST

static Suite *store_auth_suite(void)
{
	Suite *s = suite_create("store_auth");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, limit_window);
	tcase_add_test(tc, fail_cache);
	tcase_add_test(tc, limit_across_processes);
	tcase_add_test(tc, prune);
	tcase_add_test(tc, set_password);
	tcase_add_test(tc, tls_seen);
	tcase_add_loop_test(tc, tls_seen_bad, 0, sizeof(tls_bad) / sizeof(tls_bad[0]));
	if (!test_is_pgsql())	/* an LMDB store of an older release */
		tcase_add_test(tc, tls_seen_older_store);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(store_auth_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
