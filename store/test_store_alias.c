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

static void expect_address(struct store *store, const char *addr,
			   enum store_addr_kind kind, const char *owner,
			   int owner_exists, enum store_state state)
{
	struct store_address a;
	const char *error = "";

	ck_assert_msg(store_address_resolve(store, addr, &a, &error) == 0,
		      "%s: %s", addr, error);
	ck_assert_msg(a.kind == kind, "%s: kind %d, want %d", addr, a.kind, kind);
	ck_assert_str_eq(a.owner, owner);
	ck_assert_int_eq(a.owner_exists, owner_exists);
	if (owner_exists)
		ck_assert_int_eq(a.state, state);
}

/* One look at an address: account, alias with its owner's state, or
 * nothing; an account before an alias of its name; an alias whose
 * account went (PostgreSQL: a row deleted by hand). */
START_TEST(address_resolve)
{
	struct store *store = test_open(0, 0);
	const char *error;

	test_add(store, "a@example.test", NULL, 10);
	test_add(store, "b@example.test", NULL, 10);
	ck_assert_int_eq(store_account_set_state(store, "b@example.test",
						 STORE_STATE_COPIED, 20, &error), 0);
	ck_assert_int_eq(store_account_add_alias(store, "b@example.test",
						 "x@example.test", &error), 0);
	expect_address(store, "A@Example.Test", STORE_ADDR_ACCOUNT,
		       "a@example.test", 1, STORE_STATE_QUEUED);
	expect_address(store, "x@example.test", STORE_ADDR_ALIAS,
		       "b@example.test", 1, STORE_STATE_COPIED);
	expect_address(store, "nobody@example.test", STORE_ADDR_NONE, "", 0, 0);
	expect_address(store, "", STORE_ADDR_NONE, "", 0, 0);
	/* Again: the second time runs prepared statements on PostgreSQL. */
	ck_assert_int_eq(store_account_set_state(store, "a@example.test",
						 STORE_STATE_MIGRATING, 30, &error), 0);
	expect_address(store, "a@example.test", STORE_ADDR_ACCOUNT,
		       "a@example.test", 1, STORE_STATE_MIGRATING);
	expect_address(store, "x@example.test", STORE_ADDR_ALIAS,
		       "b@example.test", 1, STORE_STATE_COPIED);
	if (test_is_pgsql()) {
		/* An alias entry of an account's own name: the account. */
		test_pg_exec(test_pg_conninfo(), "INSERT INTO mailmigrate.aliases"
			     " VALUES ('a@example.test', 'b@example.test')");
		expect_address(store, "a@example.test", STORE_ADDR_ACCOUNT,
			       "a@example.test", 1, STORE_STATE_MIGRATING);
		/* An alias whose account is gone. */
		test_pg_exec(test_pg_conninfo(), "DELETE FROM mailmigrate.accounts"
			     " WHERE name = 'b@example.test'");
		expect_address(store, "x@example.test", STORE_ADDR_ALIAS,
			       "b@example.test", 0, 0);
		/* A table whose shape changed under a prepared statement
		 * (0A000: cached plan must not change result type): the
		 * statements are forgotten and the call made again. */
		test_pg_exec(test_pg_conninfo(), "ALTER TABLE mailmigrate.accounts"
			     " ALTER COLUMN state TYPE integer");
		expect_address(store, "a@example.test", STORE_ADDR_ACCOUNT,
			       "a@example.test", 1, STORE_STATE_MIGRATING);
	}
	store_close(&store);
}
END_TEST

/* Remove a database, as in a store made before it existed. */
static void drop_db(const char *name)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;

	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 32), 0);
	ck_assert_int_eq(mdb_env_open(env, test_store_dir, MDB_NOTLS, 0660), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, name, 0, &dbi), 0);
	ck_assert_int_eq(mdb_drop(txn, dbi, 1), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, name, 0, &dbi), MDB_NOTFOUND);
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
	drop_db("aliases");

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

/* Every proposal record as "alias:account:state:sources:count:first:last". */
static int proposal_line(const struct store_proposal *p, void *context)
{
	char *text = context;
	size_t n = strlen(text);

	snprintf(text + n, 2048 - n, "%s%s:%s:%s:%u:%llu:%lld:%lld", n > 0 ? " " : "",
		 p->alias, p->account, store_proposal_state_name(p->state),
		 p->sources, (unsigned long long)p->count, (long long)p->first_seen,
		 (long long)p->last_seen);
	return 0;
}

static const char *proposals(struct store *store, char text[2048])
{
	const char *error = "";

	text[0] = '\0';
	ck_assert_msg(store_proposal_iter(store, proposal_line, text, &error) == 0,
		      "%s", error);
	return text;
}

/* Every active alias as "alias>account:origin". */
static int alias_line(const char *alias, const char *account, int origin,
		      void *context)
{
	char *text = context;
	size_t n = strlen(text);

	snprintf(text + n, 2048 - n, "%s%s>%s:%s", n > 0 ? " " : "", alias, account,
		 origin < 0 ? "unknown" :
		 store_proposal_state_name((enum store_proposal_state)origin));
	return 0;
}

static const char *aliases(struct store *store, char text[2048])
{
	const char *error = "";

	text[0] = '\0';
	ck_assert_msg(store_alias_iter(store, alias_line, text, &error) == 0, "%s",
		      error);
	return text;
}

/* The account record's aliases, space separated. */
static const char *record_aliases(struct store *store, const char *name,
				  char text[2048])
{
	struct store_account acct;
	const char *error;
	size_t n = 0;

	ck_assert_int_eq(store_account_get(store, name, &acct, &error), 0);
	text[0] = '\0';
	for (size_t i = 0; i < acct.aliases_count; i++)
		n += (size_t)snprintf(text + n, 2048 - n, "%s%s", i > 0 ? " " : "",
				      acct.aliases[i]);
	store_account_clear(&acct);
	return text;
}

static int event_line(const struct store_event *ev, void *context)
{
	char *text = context;
	size_t n = strlen(text);

	snprintf(text + n, 4096 - n, "%s[%s] %s\n", log_severity_name(ev->severity),
		 ev->account, ev->message);
	return 0;
}

static const char *events(struct store *store, const char *account,
			  char text[4096])
{
	const char *error = "";

	text[0] = '\0';
	ck_assert_int_eq(store_event_iter(store, 0, account, 0, event_line, text,
					  &error), 0);
	return text;
}

/* A forged header's address is a proposal, no alias: the relay and the
 * auth-hook (store_alias_lookup) do not see it until it is approved. */
START_TEST(proposal_pending_then_approved)
{
	struct store *store = test_open(0, 0);
	char t[2048], ev[4096], who[STORE_MAX_ACCOUNT];
	const char *error = "";

	test_add(store, "u@example.test", NULL, 10);
	ck_assert_int_eq(store_proposal_add(store, "u@example.test", "CEO@example.test",
					    STORE_ALIAS_SRC_ENVELOPE_TO, 1, 100,
					    &error), 0);
	expect_alias(store, "ceo@example.test", NULL);
	ck_assert_str_eq(record_aliases(store, "u@example.test", t), "");
	ck_assert_str_eq(aliases(store, t), "");
	ck_assert_str_eq(proposals(store, t), "ceo@example.test:u@example.test:pending:4:1:100:100");
	/* Seen again in a later round: counted, kinds added, first kept. */
	ck_assert_int_eq(store_proposal_add(store, "u@example.test", "ceo@example.test",
					    STORE_ALIAS_SRC_TO, 2, 200, &error), 0);
	ck_assert_str_eq(proposals(store, t), "ceo@example.test:u@example.test:pending:5:3:100:200");
	/* Approved: an alias, in the record and the index; origin kept. */
	ck_assert_int_eq(store_proposal_approve(store, "ceo@example.test", NULL, 300,
						who, sizeof(who), &error), 0);
	ck_assert_str_eq(who, "u@example.test");
	expect_alias(store, "ceo@example.test", "u@example.test");
	ck_assert_str_eq(record_aliases(store, "u@example.test", t), "ceo@example.test");
	ck_assert_str_eq(aliases(store, t), "ceo@example.test>u@example.test:approved");
	ck_assert_str_eq(proposals(store, t), "ceo@example.test:u@example.test:approved:5:3:100:300");
	ck_assert_ptr_nonnull(strstr(events(store, "u@example.test", ev),
				     "alias ceo@example.test approved"));
	/* Nothing pending any more; an alias now is not proposed again. */
	ck_assert_int_eq(store_proposal_approve(store, "ceo@example.test", NULL, 300,
						NULL, 0, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_proposal_add(store, "u@example.test", "ceo@example.test",
					    STORE_ALIAS_SRC_TO, 1, 400, &error),
			 STORE_EXISTS);
	/* An account's own name is never proposed. */
	ck_assert_int_eq(store_proposal_add(store, "u@example.test", "u@example.test",
					    STORE_ALIAS_SRC_TO, 1, 400, &error),
			 STORE_EXISTS);
	store_close(&store);
}
END_TEST

START_TEST(proposal_two_accounts_and_reject)
{
	struct store *store = test_open(0, 0);
	char t[2048], who[STORE_MAX_ACCOUNT];
	const char *error = "";

	test_add(store, "a@example.test", NULL, 10);
	test_add(store, "b@example.test", NULL, 10);
	ck_assert_int_eq(store_proposal_add(store, "a@example.test", "boss@example.test",
					    STORE_ALIAS_SRC_CC, 1, 100, &error), 0);
	ck_assert_int_eq(store_proposal_add(store, "b@example.test", "boss@example.test",
					    STORE_ALIAS_SRC_TO, 4, 100, &error), 0);
	ck_assert_int_eq(store_proposal_add(store, "a@example.test", "spam@example.test",
					    STORE_ALIAS_SRC_RECEIVED, 1, 100, &error), 0);
	/* Two accounts proposed it: the administrator says which. */
	ck_assert_int_eq(store_proposal_approve(store, "boss@example.test", NULL, 200,
						who, sizeof(who), &error),
			 STORE_AMBIGUOUS);
	expect_alias(store, "boss@example.test", NULL);
	ck_assert_int_eq(store_proposal_approve(store, "boss@example.test",
						"b@example.test", 200, who,
						sizeof(who), &error), 0);
	expect_alias(store, "boss@example.test", "b@example.test");
	/* a's proposal of it is moot: dropped. */
	ck_assert_str_eq(proposals(store, t),
			 "boss@example.test:b@example.test:approved:1:4:100:200 "
			 "spam@example.test:a@example.test:pending:8:1:100:100");
	/* Rejected: remembered, not proposed again, not approvable. */
	ck_assert_int_eq(store_proposal_reject(store, "Spam@example.test", NULL, 300,
					       &error), 0);
	ck_assert_int_eq(store_proposal_reject(store, "spam@example.test", NULL, 300,
					       &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_proposal_add(store, "a@example.test", "spam@example.test",
					    STORE_ALIAS_SRC_TO, 1, 400, &error),
			 STORE_EXISTS);
	ck_assert_int_eq(store_proposal_approve(store, "spam@example.test", NULL, 400,
						NULL, 0, &error), STORE_NOTFOUND);
	ck_assert_str_eq(proposals(store, t),
			 "boss@example.test:b@example.test:approved:1:4:100:200 "
			 "spam@example.test:a@example.test:rejected:8:1:100:100");
	expect_alias(store, "spam@example.test", NULL);
	ck_assert_int_eq(store_proposal_approve(store, "not an address", NULL, 400,
						NULL, 0, &error), -1);
	store_close(&store);
}
END_TEST

/* OLD's own Received: hop: an alias at once, its origin "trusted". */
START_TEST(proposal_trusted)
{
	struct store *store = test_open(0, 0);
	char t[2048];
	const char *error = "";

	test_add(store, "a@example.test", NULL, 10);
	test_add(store, "b@example.test", NULL, 10);
	ck_assert_int_eq(store_proposal_add(store, "b@example.test", "alt@example.test",
					    STORE_ALIAS_SRC_TO, 1, 50, &error), 0);
	ck_assert_int_eq(store_proposal_trust(store, "a@example.test", "alt@example.test",
					      STORE_ALIAS_SRC_RECEIVED_MX, 2, 100,
					      &error), 0);
	expect_alias(store, "alt@example.test", "a@example.test");
	ck_assert_str_eq(aliases(store, t), "alt@example.test>a@example.test:trusted");
	ck_assert_str_eq(proposals(store, t),
			 "alt@example.test:a@example.test:trusted:16:2:100:100");
	/* Taken: an account, another's alias. */
	ck_assert_int_eq(store_proposal_trust(store, "b@example.test", "alt@example.test",
					      STORE_ALIAS_SRC_RECEIVED_MX, 1, 100,
					      &error), STORE_EXISTS);
	ck_assert_int_eq(store_proposal_trust(store, "b@example.test", "a@example.test",
					      STORE_ALIAS_SRC_RECEIVED_MX, 1, 100,
					      &error), STORE_EXISTS);
	expect_alias(store, "a@example.test", NULL);
	store_close(&store);
}
END_TEST

/* Creating an account (add, bulk, first login: all store_account_create)
 * takes its name back from an alias and drops proposals of it. */
START_TEST(proposal_account_wins)
{
	struct store *store = test_open(0, 0);
	struct store_account acct = { 0 };
	char *names[] = { (char *)"a@example.test" };
	char t[2048], ev[4096];
	const char *error = "";

	test_add(store, "u@example.test", NULL, 10);
	test_add(store, "a@example.test", NULL, 10);
	ck_assert_int_eq(store_proposal_add(store, "u@example.test", "ceo@example.test",
					    STORE_ALIAS_SRC_ENVELOPE_TO, 1, 100, &error), 0);
	ck_assert_int_eq(store_proposal_approve(store, "ceo@example.test", NULL, 100,
						NULL, 0, &error), 0);
	ck_assert_int_eq(store_proposal_add(store, "u@example.test", "cfo@example.test",
					    STORE_ALIAS_SRC_TO, 1, 100, &error), 0);
	expect_alias(store, "ceo@example.test", "u@example.test");
	test_add(store, "ceo@example.test", NULL, 200);
	test_add(store, "cfo@example.test", NULL, 200);
	expect_alias(store, "ceo@example.test", NULL);
	ck_assert_str_eq(record_aliases(store, "u@example.test", t), "");
	ck_assert_str_eq(aliases(store, t), "");
	ck_assert_str_eq(proposals(store, t), "");
	ck_assert_ptr_nonnull(strstr(events(store, "u@example.test", ev),
				     "warning[u@example.test] alias ceo@example.test removed: "
				     "ceo@example.test is an account now"));
	ck_assert_ptr_nonnull(strstr(events(store, "cfo@example.test", ev),
				     "alias proposal cfo@example.test dropped"));
	/* An account created with an alias that is an account: not indexed. */
	acct.name = (char *)"p@example.test";
	acct.domain = (char *)"example.test";
	acct.state = STORE_STATE_QUEUED;
	acct.aliases = names;
	acct.aliases_count = 1;
	ck_assert_int_eq(store_account_create(store, &acct, NULL, 5, &error), 0);
	expect_alias(store, "a@example.test", NULL);
	store_close(&store);
}
END_TEST

/* A store from before proposals: its aliases stay, origin unknown, and
 * the log says how many there are. */
START_TEST(proposal_old_store)
{
	struct store_options rw = { 0 };
	struct store *store = test_open(0, 0);
	char t[2048], ev[4096];
	const char *error;

	test_add(store, "b@example.test", NULL, 10);
	ck_assert_int_eq(store_account_add_alias(store, "b@example.test",
						 "old-b@example.test", &error), 0);
	store_close(&store);
	drop_db("aliasprop");
	ck_assert_int_eq(store_open(test_store_dir, &rw, &store, &error), 0);
	expect_alias(store, "old-b@example.test", "b@example.test");
	ck_assert_str_eq(aliases(store, t), "old-b@example.test>b@example.test:unknown");
	ck_assert_ptr_nonnull(strstr(events(store, NULL, ev),
				     "1 alias gathered before alias proposals existed"));
	store_close(&store);
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
	tcase_add_test(tc, address_resolve);
	if (!test_is_pgsql())	/* LMDB stores of older releases */
		tcase_add_test(tc, alias_old_store);
	tcase_add_test(tc, proposal_pending_then_approved);
	tcase_add_test(tc, proposal_two_accounts_and_reject);
	tcase_add_test(tc, proposal_trusted);
	tcase_add_test(tc, proposal_account_wins);
	if (!test_is_pgsql())
		tcase_add_test(tc, proposal_old_store);
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
