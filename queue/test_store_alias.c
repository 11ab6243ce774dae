/*
 * NAME
 *	test_store_alias 1
 * SUMMARY
 *	unit tests: the alias -> account index, and stores made before it
 */
#include "config.h"

#include <lmdb.h>

#include "test_util.h"

/* Look alias up and compare with want (NULL: not found). */
static void expect_alias(struct store *store, const char *alias,
			 const char *want)
{
	char account[STORE_MAX_ACCOUNT];
	const char *error = "";
	int ret = store_alias_lookup(store, alias, account, sizeof(account), &error);

	if (want == NULL) {
		ck_assert_msg(ret == STORE_NOTFOUND, "%s: %d %s", alias, ret, error);
		return;
	}
	ck_assert_msg(ret == 0, "%s: %d %s", alias, ret, error);
	ck_assert_str_eq(account, want);
}

START_TEST(alias_add_lookup)
{
	struct store *store = test_open(0, 0);
	const char *error;

	test_add(store, "a@example.test", NULL, 10);
	test_add(store, "b@example.test", NULL, 10);
	expect_alias(store, "x@example.test", NULL);
	ck_assert_int_eq(store_account_add_alias(store, "a@example.test",
						 "X@Example.TEST", &error), 0);
	ck_assert_int_eq(store_account_add_alias(store, "a@example.test",
						 "x@example.test", &error), 0);
	ck_assert_int_eq(store_account_add_alias(store, "a@example.test",
						 "y@example.test", &error), 0);
	expect_alias(store, "x@example.test", "a@example.test");
	expect_alias(store, "X@EXAMPLE.test", "a@example.test");
	expect_alias(store, "y@example.test", "a@example.test");
	expect_alias(store, "a@example.test", NULL);
	expect_alias(store, "", NULL);
	/* Taken: another account's alias, an account, the account itself. */
	ck_assert_int_eq(store_account_add_alias(store, "b@example.test",
						 "x@example.test", &error),
			 STORE_EXISTS);
	ck_assert_int_eq(store_account_add_alias(store, "b@example.test",
						 "a@example.test", &error),
			 STORE_EXISTS);
	ck_assert_int_eq(store_account_add_alias(store, "b@example.test",
						 "b@example.test", &error),
			 STORE_EXISTS);
	ck_assert_int_eq(store_account_add_alias(store, "nobody@example.test",
						 "z@example.test", &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_account_add_alias(store, "b@example.test",
						 "no address", &error), -1);
	expect_alias(store, "x@example.test", "a@example.test");
	expect_alias(store, "z@example.test", NULL);
	store_close(&store);
}
END_TEST

/* Replacing an account's aliases (store_account_put) moves the index. */
START_TEST(alias_put_reindexes)
{
	struct store *store = test_open(0, 0);
	struct store_account acct;
	const char *error;

	test_add(store, "a@example.test", NULL, 10);
	ck_assert_int_eq(store_account_add_alias(store, "a@example.test",
						 "old@example.test", &error), 0);
	ck_assert_int_eq(store_account_get(store, "a@example.test", &acct, &error), 0);
	mm_free(&acct.aliases[0]);
	acct.aliases[0] = mm_strdup("new@example.test");
	ck_assert_int_eq(store_account_put(store, &acct, &error), 0);
	store_account_clear(&acct);
	expect_alias(store, "old@example.test", NULL);
	expect_alias(store, "new@example.test", "a@example.test");
	/* reset forgets copy progress, not aliases. */
	ck_assert_int_eq(store_reset(store, NULL, 20, &error), 0);
	expect_alias(store, "new@example.test", "a@example.test");
	store_close(&store);
}
END_TEST

/* An account created with aliases has them indexed at once. */
START_TEST(alias_create_indexes)
{
	struct store *store = test_open(0, 0);
	struct store_account acct = { 0 };
	char *aliases[] = { (char *)"p1@example.test", (char *)"p2@example.test" };
	const char *error;

	acct.name = (char *)"p@example.test";
	acct.domain = (char *)"example.test";
	acct.state = STORE_STATE_QUEUED;
	acct.aliases = aliases;
	acct.aliases_count = 2;
	ck_assert_int_eq(store_account_create(store, &acct, NULL, 5, &error), 0);
	expect_alias(store, "p1@example.test", "p@example.test");
	expect_alias(store, "p2@example.test", "p@example.test");
	store_close(&store);
}
END_TEST

/* Remove the aliases database, as in a store made before it existed. */
static void drop_alias_db(void)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;

	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 32), 0);
	ck_assert_int_eq(mdb_env_open(env, test_store_dir, MDB_NOTLS, 0660), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "aliases", 0, &dbi), 0);
	ck_assert_int_eq(mdb_drop(txn, dbi, 1), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "aliases", 0, &dbi), MDB_NOTFOUND);
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

START_TEST(alias_old_store)
{
	struct store_options ro = { .readonly = 1 }, rw = { 0 };
	struct store *store = test_open(0, 0), *reader, *writer;
	struct store_account acct;
	const char *error;

	test_add(store, "a@example.test", NULL, 10);
	test_add(store, "b@example.test", NULL, 10);
	ck_assert_int_eq(store_account_add_alias(store, "b@example.test",
						 "old-b@example.test", &error), 0);
	store_close(&store);
	/* As an older mailmigrate left it: aliases in the record only. */
	drop_alias_db();

	/* Read-only: missing is empty, everything else works. */
	ck_assert_int_eq(store_open(test_store_dir, &ro, &reader, &error), 0);
	expect_alias(reader, "x@example.test", NULL);
	expect_alias(reader, "old-b@example.test", NULL);
	ck_assert_int_eq(store_account_get(reader, "a@example.test", &acct, &error), 0);
	store_account_clear(&acct);

	/* A writer makes the database, indexing the aliases the records
	 * hold; the reader then sees its entries. */
	ck_assert_int_eq(store_open(test_store_dir, &rw, &writer, &error), 0);
	expect_alias(writer, "old-b@example.test", "b@example.test");
	expect_alias(reader, "old-b@example.test", "b@example.test");
	ck_assert_int_eq(store_account_add_alias(writer, "a@example.test",
						 "x@example.test", &error), 0);
	expect_alias(writer, "x@example.test", "a@example.test");
	expect_alias(reader, "x@example.test", "a@example.test");
	store_close(&writer);
	store_close(&reader);
}
END_TEST

static Suite *alias_suite(void)
{
	Suite *s = suite_create("store_alias");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, alias_add_lookup);
	tcase_add_test(tc, alias_put_reindexes);
	tcase_add_test(tc, alias_create_indexes);
	tcase_add_test(tc, alias_old_store);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(alias_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
