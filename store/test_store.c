/*
 * NAME
 *	test_store 1
 * SUMMARY
 *	unit tests: accounts, creds, folders, UID map, UIDLs, events,
 *	stats, reset, map growth, writers in several processes
 */
#include "config.h"

#include "store_lmdb.h"
#include "test_util.h"

START_TEST(account_create_get)
{
	struct store *store = test_open(0, 0);
	struct store_account acct;
	const char *error;

	test_add(store, "alice@example.test", "pw", 1000);
	ck_assert_int_eq(store_account_get(store, "alice@example.test", &acct, &error), 0);
	ck_assert_str_eq(acct.name, "alice@example.test");
	ck_assert_str_eq(acct.domain, "example.test");
	ck_assert_int_eq(acct.state, STORE_STATE_QUEUED);
	ck_assert_int_eq(acct.created, 1000);
	ck_assert_int_eq(acct.updated, 1000);
	ck_assert_str_eq(acct.password_hash, "{SHA512-CRYPT}$6$x$y");
	ck_assert_uint_eq(acct.aliases_count, 0);
	store_account_clear(&acct);
	ck_assert_ptr_null(acct.name);
	ck_assert_int_eq(store_account_get(store, "bob@example.test", &acct, &error),
			 STORE_NOTFOUND);
	store_close(&store);
	ck_assert_ptr_null(store);
}
END_TEST

START_TEST(account_exists_writes_nothing)
{
	struct store *store = test_open(0, 0);
	struct store_account acct = { 0 }, got;
	struct store_stats st;
	const char *error;

	test_add(store, "alice@example.test", "pw", 1000);
	acct.name = (char *)"alice@example.test";
	acct.domain = (char *)"other.test";
	acct.state = STORE_STATE_PASSWORDS_ONLY;
	ck_assert_int_eq(store_account_create(store, &acct, "new", 2000, &error),
			 STORE_EXISTS);
	ck_assert_int_eq(store_account_get(store, "alice@example.test", &got, &error), 0);
	ck_assert_str_eq(got.domain, "example.test");
	ck_assert_int_eq(got.state, STORE_STATE_QUEUED);
	store_account_clear(&got);
	ck_assert_int_eq(store_stats_get(store, 2000, &st, &error), 0);
	ck_assert_uint_eq(st.accounts, 1);
	ck_assert_uint_eq(st.jobs_pending, 1);
	ck_assert_int_eq(st.started, 1000);
	store_close(&store);
}
END_TEST

/* Names as users type them, and what the store makes of them. */
static const struct {
	const char *user, *domain, *expect, *error;
} names[] = {
	{ "Alice@Example.TEST", NULL, "alice@example.test", NULL },
	{ "bob", "Example.Test", "bob@example.test", NULL },
	{ "carol@example.test", "example.test", "carol@example.test", NULL },
	{ "dave@a.test", "b.test", NULL, "differs" },
	{ "eve", NULL, NULL, "no domain" },
	{ "@example.test", NULL, NULL, "empty user" },
	{ "sp ace@example.test", NULL, NULL, "bad character" },
	{ "col:on", "example.test", NULL, "bad character" },
	{ "x@-bad.test", NULL, NULL, "bad domain" },
	{ "x@bad..test", NULL, NULL, "bad domain" },
	{ "x@bad_domain.test", NULL, NULL, "bad domain" },
	{ "x@bad.test-", NULL, NULL, "bad domain" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.test",
	  NULL, NULL, "over 64" },
	/* Local parts that would reach a path (user_home = /var/vmail/%d/%n)
	 * as something else than one plain directory name. */
	{ "a/b@example.test", NULL, NULL, "'/'" },
	{ "../etc@example.test", NULL, NULL, "starts with '.'" },
	{ "a/../b", "example.test", NULL, "'/'" },
	{ "a%d@example.test", NULL, NULL, "'%'" },
	{ "%n", "example.test", NULL, "'%'" },
	{ ".hidden@example.test", NULL, NULL, "starts with '.'" },
	{ ".", "example.test", NULL, "starts with '.'" },
	{ "..@example.test", NULL, NULL, "starts with '.'" },
	{ "a..b@example.test", NULL, NULL, "'..'" },
	{ "ab..@example.test", NULL, NULL, "'..'" },
	{ "a.b.@example.test", NULL, "a.b.@example.test", NULL },
	{ "first.last@example.test", NULL, "first.last@example.test", NULL },
	{ "o'neil+tag@example.test", NULL, "o'neil+tag@example.test", NULL },
};

START_TEST(account_names)
{
	char buf[STORE_MAX_ACCOUNT];
	const char *error = NULL;
	int ret = store_account_name(names[_i].user, names[_i].domain, buf,
				     sizeof(buf), &error);

	if (names[_i].expect != NULL) {
		ck_assert_int_eq(ret, 0);
		ck_assert_str_eq(buf, names[_i].expect);
	} else {
		ck_assert_int_eq(ret, -1);
		ck_assert_msg(strstr(error, names[_i].error) != NULL,
			      "%s: got '%s'", names[_i].user, error);
	}
}
END_TEST

static int set_failed(struct store_account *acct, void *ctx)
{
	acct->state = STORE_STATE_FAILED;
	acct->last_error = mm_strdup(ctx);
	acct->errors = 3;
	return 0;
}

static int refuse_update(struct store_account *acct, void *ctx)
{
	acct->state = STORE_STATE_FINISHED;
	return 7;
}

START_TEST(account_update_state_alias)
{
	struct store *store = test_open(0, 0);
	struct store_account acct;
	const char *error;

	test_add(store, "a@example.test", NULL, 10);
	ck_assert_int_eq(store_account_set_state(store, "a@example.test",
						 STORE_STATE_MIGRATING, 20, &error), 0);
	ck_assert_int_eq(store_account_set_state(store, "a@example.test",
						 STORE_STATE_COPIED, 30, &error), 0);
	ck_assert_int_eq(store_account_set_state(store, "a@example.test",
						 STORE_STATE_FINISHED, 40, &error), 0);
	ck_assert_int_eq(store_account_set_state(store, "nobody@example.test",
						 STORE_STATE_FINISHED, 40, &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_account_add_alias(store, "a@example.test",
						 "Zed@Example.test", &error), 0);
	ck_assert_int_eq(store_account_add_alias(store, "a@example.test",
						 "abc@example.test", &error), 0);
	ck_assert_int_eq(store_account_add_alias(store, "a@example.test",
						 "zed@example.test", &error), 0);
	ck_assert_int_eq(store_account_add_alias(store, "a@example.test",
						 "not an address", &error), -1);
	ck_assert_int_eq(store_account_get(store, "a@example.test", &acct, &error), 0);
	ck_assert_int_eq(acct.state, STORE_STATE_FINISHED);
	ck_assert_int_eq(acct.copy_started, 20);
	ck_assert_int_eq(acct.copy_finished, 30);
	ck_assert_int_eq(acct.finished, 40);
	ck_assert_uint_eq(acct.aliases_count, 2);
	ck_assert_str_eq(acct.aliases[0], "abc@example.test");
	ck_assert_str_eq(acct.aliases[1], "zed@example.test");
	store_account_clear(&acct);

	ck_assert_int_eq(store_account_update(store, "a@example.test", set_failed,
					      (void *)"OLD said NO", &error), 0);
	ck_assert_int_eq(store_account_update(store, "a@example.test", refuse_update,
					      NULL, &error), 7);
	ck_assert_int_eq(store_account_get(store, "a@example.test", &acct, &error), 0);
	ck_assert_int_eq(acct.state, STORE_STATE_FAILED);
	ck_assert_str_eq(acct.last_error, "OLD said NO");
	ck_assert_uint_eq(acct.errors, 3);
	acct.messages = 99;
	ck_assert_int_eq(store_account_put(store, &acct, &error), 0);
	store_account_clear(&acct);
	ck_assert_int_eq(store_account_get(store, "a@example.test", &acct, &error), 0);
	ck_assert_uint_eq(acct.messages, 99);
	ck_assert_uint_eq(acct.aliases_count, 2);
	store_account_clear(&acct);
	store_close(&store);
}
END_TEST

static int count_accounts(const struct store_account *acct, void *ctx)
{
	size_t *n = ctx;

	(*n)++;
	return *n == 3 ? 42 : 0;
}

START_TEST(account_iter_order_and_stop)
{
	struct store *store = test_open(0, 0);
	const char *error;
	size_t n = 0;

	test_add(store, "c@example.test", NULL, 1);
	test_add(store, "a@example.test", NULL, 1);
	test_add(store, "b@example.test", NULL, 1);
	test_add(store, "d@example.test", NULL, 1);
	ck_assert_int_eq(store_account_iter(store, count_accounts, &n, &error), 42);
	ck_assert_uint_eq(n, 3);
	store_close(&store);
}
END_TEST

START_TEST(creds_seal_get_wipe)
{
	struct store *store = test_open(0, 0);
	const char *pw = "p a s s \"w\" 'ö' 日本";
	char *got = NULL;
	const char *error;
	char path[1100], *data;
	FILE *f;
	long size;

	test_add(store, "a@example.test", pw, 1);
	ck_assert_int_eq(store_cred_get(store, "a@example.test", &got, &error), 0);
	ck_assert_str_eq(got, pw);
	mm_free_secret(&got);
	ck_assert_int_eq(store_cred_set(store, "a@example.test", "second", &error), 0);
	ck_assert_int_eq(store_cred_get(store, "a@example.test", &got, &error), 0);
	ck_assert_str_eq(got, "second");
	mm_free_secret(&got);
	store_close(&store);

	/* No plaintext in the store. */
	if (test_is_pgsql()) {
		ck_assert_int_eq(test_pg_value("SELECT count(*) FROM mailmigrate.creds"
					       " WHERE position('second'::bytea in sealed)"
					       " > 0 OR position('p a s s'::bytea in sealed)"
					       " > 0"), 0);
		ck_assert_int_eq(test_pg_value("SELECT count(*) FROM mailmigrate.creds"), 1);
		goto wipe;
	}
	snprintf(path, sizeof(path), "%s/data.mdb", test_store_dir);
	f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	data = mm_malloc((size_t)size);
	ck_assert_int_eq(fread(data, 1, (size_t)size, f), size);
	fclose(f);
	ck_assert_ptr_null(memmem(data, (size_t)size, "second", 6));
	ck_assert_ptr_null(memmem(data, (size_t)size, "p a s s", 7));
	mm_free(&data);
wipe:
	store = test_open(0, 0);
	ck_assert_int_eq(store_cred_has(store, "a@example.test", &error), 1);
	ck_assert_int_eq(store_cred_wipe(store, "a@example.test", &error), 0);
	ck_assert_int_eq(store_cred_has(store, "a@example.test", &error), 0);
	ck_assert_int_eq(store_cred_get(store, "a@example.test", &got, &error),
			 STORE_NOTFOUND);
	ck_assert_ptr_null(got);
	ck_assert_int_eq(store_cred_wipe(store, "a@example.test", &error),
			 STORE_NOTFOUND);
	store_close(&store);
}
END_TEST

START_TEST(account_requeue)
{
	struct store *store = test_open(0, 0);
	struct store_account acct;
	struct store_job job;
	char *pw = NULL;
	const char *error;

	ck_assert_int_eq(store_account_requeue(store, "none@example.test", "{X}y",
					       "pw", 5, &error), STORE_NOTFOUND);
	test_add(store, "a@example.test", "old", 1);
	ck_assert_int_eq(store_job_take(store, "w", 60, 2, &job, &error), 0);
	ck_assert_int_eq(store_job_done(store, job.id, "w", &error), 0);
	store_job_clear(&job);
	ck_assert_int_eq(store_account_set_state(store, "a@example.test",
						 STORE_STATE_FINISHED, 3, &error), 0);
	ck_assert_int_eq(store_account_requeue(store, "a@example.test",
					       "{SHA512-CRYPT}$6$n$new", "new", 5,
					       &error), 0);
	ck_assert_int_eq(store_account_get(store, "a@example.test", &acct, &error), 0);
	ck_assert_uint_eq(acct.flags & STORE_ACCOUNT_MESSAGES_ONLY,
			  STORE_ACCOUNT_MESSAGES_ONLY);
	ck_assert_int_eq(acct.state, STORE_STATE_QUEUED);
	ck_assert_str_eq(acct.password_hash, "{SHA512-CRYPT}$6$n$new");
	ck_assert_int_eq(acct.updated, 5);
	store_account_clear(&acct);
	ck_assert_int_eq(store_cred_get(store, "a@example.test", &pw, &error), 0);
	ck_assert_str_eq(pw, "new");
	mm_free_secret(&pw);
	ck_assert_int_eq(store_job_get(store, "a@example.test", &job, &error), 0);
	ck_assert_int_eq(job.kind, STORE_JOB_COPY);
	ck_assert_int_eq(job.enqueued, 5);
	store_job_clear(&job);
	/* A running copy keeps its state; the hash may stay as it is. */
	ck_assert_int_eq(store_account_set_state(store, "a@example.test",
						 STORE_STATE_MIGRATING, 6, &error), 0);
	ck_assert_int_eq(store_account_requeue(store, "a@example.test", NULL, NULL,
					       7, &error), 0);
	ck_assert_int_eq(store_account_get(store, "a@example.test", &acct, &error), 0);
	ck_assert_int_eq(acct.state, STORE_STATE_MIGRATING);
	ck_assert_str_eq(acct.password_hash, "{SHA512-CRYPT}$6$n$new");
	store_account_clear(&acct);
	store_close(&store);
}
END_TEST

START_TEST(creds_wrong_key)
{
	struct store *store = test_open(0, 0);
	struct crypto_key other;
	char *got = NULL;
	const char *error;

	test_add(store, "a@example.test", "secret", 1);
	test_key(&other, 0x11);
	store_set_key(store, &other);
	ck_assert_int_eq(store_cred_get(store, "a@example.test", &got, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "does not open"));
	ck_assert_ptr_null(got);
	store_close(&store);
}
END_TEST

/* Put raw sealed bytes as the creds record of account. */
struct raw_cred {
	const char *account;
	const unsigned char *sealed;
	size_t len;
};

static int raw_cred_txn(struct store *store, MDB_txn *txn, void *context,
			const char **error_r)
{
	struct raw_cred *rc = context;

	return store_put(store, txn, STORE_DB_CREDS, rc->account,
			 strlen(rc->account), rc->sealed, rc->len, error_r);
}

/* The same on either backend. */
static void raw_cred_put(struct store *store, const struct raw_cred *rc)
{
	const char *error;

	if (test_is_pgsql()) {
		char sql[512 + 2 * 256];
		size_t n;

		ck_assert_uint_lt(rc->len, 256);
		n = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO mailmigrate.creds"
				     " VALUES ('%s', '\\x", rc->account);
		for (size_t i = 0; i < rc->len; i++)
			n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%02x",
					      rc->sealed[i]);
		snprintf(sql + n, sizeof(sql) - n, "') ON CONFLICT (account) DO"
			 " UPDATE SET sealed = EXCLUDED.sealed");
		test_pg_exec(test_pg_conninfo(), sql);
		return;
	}
	ck_assert_int_eq(store_write(store, raw_cred_txn, (void *)rc, &error), 0);
}

/* The auth workers hold the public key only: they seal, and cannot open
 * what they or anyone sealed; records sealed with the old symmetric key
 * (version 1) still open with the key_file (issue 9). */
START_TEST(creds_public_key_and_legacy)
{
	struct store *store = test_open(0, 0);
	struct crypto_key full, pub;
	struct raw_cred rc = { "old@example.test", NULL, 0 };
	unsigned char *v1;
	char *got = NULL;
	const char *error;

	/* Public part only, as crypto_public_load() gives it. */
	test_key(&full, 0x5a);
	memset(&pub, 0, sizeof(pub));
	memcpy(pub.public_key, full.public_key, sizeof(pub.public_key));
	pub.have = CRYPTO_HAVE_PUBLIC;
	store_set_key(store, &pub);
	test_add(store, "a@example.test", "captured", 1);
	ck_assert_int_eq(store_cred_get(store, "a@example.test", &got, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "no private key"));
	ck_assert_ptr_null(got);
	/* A version-1 record, as an older release wrote it. */
	ck_assert_int_eq(crypto_seal_legacy(&full, rc.account, "old-pw", 6, &v1,
					    &rc.len, &error), 0);
	rc.sealed = v1;
	raw_cred_put(store, &rc);
	ck_assert_int_eq(store_cred_get(store, rc.account, &got, &error), -1);
	/* The puller's key_file opens both. */
	store_set_key(store, &full);
	ck_assert_int_eq(store_cred_get(store, "a@example.test", &got, &error), 0);
	ck_assert_str_eq(got, "captured");
	mm_free_secret(&got);
	ck_assert_int_eq(store_cred_get(store, rc.account, &got, &error), 0);
	ck_assert_str_eq(got, "old-pw");
	mm_free_secret(&got);
	/* Under another account's name it does not open (AAD). */
	rc.account = "b@example.test";
	raw_cred_put(store, &rc);
	ck_assert_int_eq(store_cred_get(store, rc.account, &got, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "does not open"));
	ck_assert_ptr_null(got);
	mm_free(&v1);
	crypto_key_wipe(&full);
	store_close(&store);
}
END_TEST

START_TEST(creds_need_key)
{
	struct store_options opts = { .create = 1 };
	struct store_account acct = { 0 };
	struct store *store;
	const char *error;

	ck_assert_int_eq(store_open(test_store_dir, &opts, &store, &error), 0);
	acct.name = (char *)"a@example.test";
	acct.domain = (char *)"example.test";
	ck_assert_int_eq(store_account_create(store, &acct, "pw", 1, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "no key"));
	/* Nothing was written. */
	ck_assert_int_eq(store_account_get(store, "a@example.test", &acct, &error),
			 STORE_NOTFOUND);
	store_close(&store);
}
END_TEST

struct folder_seen {
	size_t count;
	uint64_t messages;
	int subscribed;
};

static int folder_cb(const struct store_folder *f, void *ctx)
{
	struct folder_seen *seen = ctx;

	seen->count++;
	seen->messages += f->messages;
	seen->subscribed += f->subscribed;
	return 0;
}

START_TEST(folders_and_msgmap)
{
	struct store *store = test_open(0, 0);
	struct store_folder f = { 0 }, got;
	struct folder_seen seen = { 0 };
	struct store_account acct;
	char longname[STORE_MAX_FOLDER + 1];
	uint32_t uid;
	const char *error;

	test_add(store, "a@example.test", NULL, 1);
	test_add(store, "a2@example.test", NULL, 1);
	f.account = (char *)"a@example.test";
	f.name = (char *)"INBOX.K&AOQ-se";
	f.target_name = (char *)"K&AOQ-se";
	f.uidvalidity = 777;
	f.subscribed = 1;
	f.highestmodseq = 9223372036854775807ULL;	/* RFC 7162's largest */
	ck_assert_int_eq(store_folder_put(store, &f, &error), 0);
	ck_assert_int_eq(store_message_copied(store, "a@example.test", f.name, 777,
					      5, 1, 1000, 50, &error), 0);
	ck_assert_int_eq(store_message_copied(store, "a@example.test", f.name, 777,
					      3, 2, 500, 51, &error), 0);
	/* Recording the same message twice changes nothing. */
	ck_assert_int_eq(store_message_copied(store, "a@example.test", f.name, 777,
					      5, 9, 1000, 52, &error), STORE_EXISTS);
	ck_assert_int_eq(store_msgmap_get(store, "a@example.test", f.name, 777, 5,
					  &uid, &error), 0);
	ck_assert_uint_eq(uid, 1);
	ck_assert_int_eq(store_msgmap_get(store, "a@example.test", f.name, 777, 3,
					  &uid, &error), 0);
	ck_assert_uint_eq(uid, 2);
	ck_assert_int_eq(store_msgmap_get(store, "a@example.test", f.name, 778, 5,
					  &uid, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_msgmap_get(store, "a2@example.test", f.name, 777, 5,
					  &uid, &error), STORE_NOTFOUND);
	/* A copy NEW lost is forgotten, to be copied again; the folder's
	 * other messages stay. */
	ck_assert_int_eq(store_msgmap_forget(store, "a@example.test", f.name, 777, 3,
					     &error), 0);
	ck_assert_int_eq(store_msgmap_forget(store, "a@example.test", f.name, 777, 3,
					     &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_msgmap_get(store, "a@example.test", f.name, 777, 3,
					  &uid, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_msgmap_get(store, "a@example.test", f.name, 777, 5,
					  &uid, &error), 0);
	ck_assert_int_eq(store_folder_get(store, "a@example.test", f.name, &got,
					  &error), 0);
	ck_assert_str_eq(got.target_name, "K&AOQ-se");
	ck_assert_uint_eq(got.last_uid, 5);
	ck_assert_uint_eq(got.messages, 2);
	ck_assert_uint_eq(got.bytes, 1500);
	/* Recording messages keeps the folder's HIGHESTMODSEQ. */
	ck_assert_uint_eq(got.highestmodseq, 9223372036854775807ULL);
	/* Put back as read; then another UIDVALIDITY, put with its own. */
	got.highestmodseq = 41;
	ck_assert_int_eq(store_folder_put(store, &got, &error), 0);
	store_folder_clear(&got);
	ck_assert_int_eq(store_folder_get(store, "a@example.test", f.name, &got,
					  &error), 0);
	ck_assert_uint_eq(got.highestmodseq, 41);
	ck_assert_uint_eq(got.last_uid, 5);
	store_folder_clear(&got);
	/* A message in a folder not yet recorded creates it. */
	memset(longname, 'x', STORE_MAX_FOLDER);
	longname[STORE_MAX_FOLDER] = '\0';
	ck_assert_int_eq(store_message_copied(store, "a@example.test", longname, 1,
					      1, 1, 10, 53, &error), 0);
	ck_assert_int_eq(store_message_copied(store, "nobody@example.test", longname,
					      1, 1, 1, 10, 53, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "does not exist"));
	ck_assert_int_eq(store_folder_iter(store, "a@example.test", folder_cb, &seen,
					   &error), 0);
	ck_assert_uint_eq(seen.count, 2);
	ck_assert_uint_eq(seen.messages, 3);
	ck_assert_int_eq(seen.subscribed, 1);
	memset(&seen, 0, sizeof(seen));
	ck_assert_int_eq(store_folder_iter(store, "a2@example.test", folder_cb, &seen,
					   &error), 0);
	ck_assert_uint_eq(seen.count, 0);
	ck_assert_int_eq(store_account_get(store, "a@example.test", &acct, &error), 0);
	ck_assert_uint_eq(acct.messages, 3);
	ck_assert_uint_eq(acct.bytes, 1510);
	ck_assert_uint_eq(acct.folders, 1);
	ck_assert_int_eq(acct.updated, 53);
	store_account_clear(&acct);
	f.uidvalidity = 778;
	f.highestmodseq = 0;
	ck_assert_int_eq(store_folder_put(store, &f, &error), 0);
	ck_assert_int_eq(store_folder_get(store, "a@example.test", f.name, &got,
					  &error), 0);
	ck_assert_uint_eq(got.uidvalidity, 778);
	ck_assert_uint_eq(got.highestmodseq, 0);
	store_folder_clear(&got);
	store_close(&store);
}
END_TEST

/* LMDB folder records: version 1 (before HIGHESTMODSEQ) still reads,
 * with 0 (unknown); version 2 carries it; anything else, or a record
 * cut short or with bytes after, is damaged. */
static void folder_rec(struct rec_writer *w, unsigned char version, int modseq,
		       int extra)
{
	rec_init(w, version);
	rec_put_str(w, "INBOX");
	rec_put_str(w, "INBOX");
	rec_put_u32(w, 7);
	rec_put_u32(w, 9);
	rec_put_u32(w, 8);
	rec_put_u64(w, 3);
	rec_put_u64(w, 300);
	rec_put_u32(w, 1);
	if (modseq)
		rec_put_u64(w, 123456789012ULL);
	if (extra)
		rec_put_u32(w, 5);
}

static const struct {
	unsigned char version;
	int modseq, extra;
	int ret;
	uint64_t highestmodseq;
} folder_recs[] = {
	{ 1, 0, 0, 0, 0 },
	{ 2, 1, 0, 0, 123456789012ULL },
	{ 1, 1, 0, -1, 0 },	/* version 1 with more */
	{ 2, 0, 0, -1, 0 },	/* version 2 cut short */
	{ 2, 1, 1, -1, 0 },
	{ 3, 1, 0, -1, 0 },
	{ 0, 0, 0, -1, 0 },
};

/* A folder's whole UID map in one read, by OLD's UID; no other
 * folder's, UIDVALIDITY's or account's entries; flag hashes as set. */
START_TEST(msgmap_list)
{
	struct store *store = test_open(0, 0);
	struct store_msgmap_entry *e = NULL;
	size_t n = 99;
	const char *error;

	test_add(store, "a@example.test", NULL, 1);
	test_add(store, "b@example.test", NULL, 1);
	ck_assert_int_eq(store_msgmap_list(store, "a@example.test", "INBOX", 7, &e,
					   &n, &error), 0);
	ck_assert_ptr_null(e);
	ck_assert_uint_eq(n, 0);
	/* Out of order, and UIDs whose big-endian bytes sort apart from
	 * their decimal order. */
	static const uint32_t olds[] = { 300, 2, 4294967295U, 256, 1 };
	for (size_t i = 0; i < 5; i++)
		ck_assert_int_eq(store_message_copied(store, "a@example.test", "INBOX",
						      7, olds[i], (uint32_t)(100 + i),
						      10, 50, &error), 0);
	ck_assert_int_eq(store_msgmap_set_flags(store, "a@example.test", "INBOX", 7,
						256, 0xdeadbeefU, &error), 0);
	/* Neighbours that must not show: another UIDVALIDITY, a folder
	 * whose name starts the same, another account. */
	ck_assert_int_eq(store_message_copied(store, "a@example.test", "INBOX", 8,
					      5, 1, 10, 50, &error), 0);
	ck_assert_int_eq(store_message_copied(store, "a@example.test", "INBOX.x", 7,
					      6, 1, 10, 50, &error), 0);
	ck_assert_int_eq(store_message_copied(store, "b@example.test", "INBOX", 7,
					      7, 1, 10, 50, &error), 0);
	ck_assert_int_eq(store_msgmap_list(store, "a@example.test", "INBOX", 7, &e,
					   &n, &error), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert_uint_eq(e[0].old_uid, 1);
	ck_assert_uint_eq(e[0].new_uid, 104);
	ck_assert_uint_eq(e[1].old_uid, 2);
	ck_assert_uint_eq(e[1].new_uid, 101);
	ck_assert_uint_eq(e[2].old_uid, 256);
	ck_assert_uint_eq(e[2].new_uid, 103);
	ck_assert_uint_eq(e[2].flags_hash, 0xdeadbeefU);
	ck_assert_uint_eq(e[3].old_uid, 300);
	ck_assert_uint_eq(e[3].flags_hash, 0);
	ck_assert_uint_eq(e[4].old_uid, 4294967295U);
	ck_assert_uint_eq(e[4].new_uid, 102);
	ck_assert_ptr_eq(store_msgmap_find(e, n, 256), &e[2]);
	ck_assert_ptr_eq(store_msgmap_find(e, n, 4294967295U), &e[4]);
	ck_assert_ptr_null(store_msgmap_find(e, n, 3));
	ck_assert_ptr_null(store_msgmap_find(NULL, 0, 1));
	mm_free(&e);
	/* A forgotten entry is gone from the list. */
	ck_assert_int_eq(store_msgmap_forget(store, "a@example.test", "INBOX", 7, 2,
					     &error), 0);
	ck_assert_int_eq(store_msgmap_list(store, "a@example.test", "INBOX", 7, &e,
					   &n, &error), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(e[1].old_uid, 256);
	mm_free(&e);
	/* Many flags hashes at once; one not in the map (2, forgotten) is
	 * skipped; none of another folder changes. */
	static const struct store_msgmap_entry fl[] = {
		{ 1, 0, 11 }, { 2, 0, 22 }, { 4294967295U, 0, 0xfffffffeU },
	};
	ck_assert_int_eq(store_msgmap_set_flags_many(store, "a@example.test", "INBOX", 7,
						     fl, 3, &error), 0);
	ck_assert_int_eq(store_msgmap_set_flags_many(store, "a@example.test", "INBOX", 7,
						     fl, 0, &error), 0);
	ck_assert_int_eq(store_msgmap_list(store, "a@example.test", "INBOX", 7, &e,
					   &n, &error), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(e[0].flags_hash, 11);
	ck_assert_uint_eq(e[0].new_uid, 104);
	ck_assert_uint_eq(e[1].flags_hash, 0xdeadbeefU);
	ck_assert_uint_eq(e[2].flags_hash, 0);
	ck_assert_uint_eq(e[3].flags_hash, 0xfffffffeU);
	ck_assert_uint_eq(e[3].new_uid, 102);
	mm_free(&e);
	ck_assert_int_eq(store_msgmap_list(store, "a@example.test", "INBOX.x", 7, &e,
					   &n, &error), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(e[0].flags_hash, 0);
	mm_free(&e);
	/* Bad names are refused as by the other calls. */
	ck_assert_int_eq(store_msgmap_list(store, "", "INBOX", 7, &e, &n, &error), -1);
	ck_assert_int_eq(store_msgmap_set_flags_many(store, "", "INBOX", 7, fl, 3,
						     &error), -1);
	store_close(&store);
}
END_TEST

START_TEST(folder_record_versions)
{
	struct store_folder f;
	struct rec_writer w;
	MDB_val v;
	const char *error = NULL;

	folder_rec(&w, folder_recs[_i].version, folder_recs[_i].modseq,
		   folder_recs[_i].extra);
	v.mv_data = w.buf;
	v.mv_size = w.len;
	ck_assert_int_eq(store_folder_decode("a@example.test", &v, &f, &error),
			 folder_recs[_i].ret);
	if (folder_recs[_i].ret == 0) {
		ck_assert_str_eq(f.name, "INBOX");
		ck_assert_uint_eq(f.uidvalidity, 7);
		ck_assert_uint_eq(f.last_uid, 9);
		ck_assert_uint_eq(f.bytes, 300);
		ck_assert_int_eq(f.subscribed, 1);
		ck_assert_uint_eq(f.highestmodseq, folder_recs[_i].highestmodseq);
		store_folder_clear(&f);
	} else {
		ck_assert_ptr_nonnull(strstr(error, "damaged folder record"));
		ck_assert_ptr_null(f.name);
	}
	rec_free(&w);
}
END_TEST

START_TEST(batches_exactly_once)
{
	struct store *store = test_open(0, 0);
	struct store_batch_msg msgs[3] = {
		{ 10, 100, "01-Jan-2010 10:00:00 +0000", "", 0xabc, 0 },
		{ 11, 200, "02-Jan-2010 10:00:00 +0000", "", 0xdef, 0 },
		{ 12, 300, "03-Jan-2010 10:00:00 +0000", "", 0x123, 0 },
	};
	uint32_t hash;
	struct store_batch b = { (char *)"Sent", 77, (char *)"Sent", 5, 40, msgs, 3 };
	struct store_batch got;
	struct store_account acct;
	struct store_folder f;
	uint32_t uids[3] = { 40, 0, 41 }, uid;
	const char *error;

	test_add(store, "a@example.test", NULL, 1);
	ck_assert_int_eq(store_batch_pending(store, "a@example.test", 0, &got, &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_batch_begin(store, "a@example.test", 0, &b, &error), 0);
	ck_assert_int_eq(store_batch_pending(store, "a@example.test", 0, &got, &error), 0);
	ck_assert_str_eq(got.folder, "Sent");
	ck_assert_uint_eq(got.uidvalidity, 77);
	ck_assert_uint_eq(got.target_uidnext, 40);
	ck_assert_uint_eq(got.count, 3);
	ck_assert_uint_eq(got.msgs[2].old_uid, 12);
	ck_assert_uint_eq(got.msgs[2].size, 300);
	ck_assert_str_eq(got.msgs[1].internaldate, "02-Jan-2010 10:00:00 +0000");
	store_batch_clear(&got);
	/* The second message was not appended (say, too large). */
	ck_assert_int_eq(store_batch_done(store, "a@example.test", 0, &b, uids, 9, &error), 0);
	ck_assert_int_eq(store_batch_pending(store, "a@example.test", 0, &got, &error),
			 STORE_NOTFOUND);
	{
		struct store_stats st;

		/* In the rate: the two messages appended, not the third. */
		ck_assert_int_eq(store_stats_get(store, 30, &st, &error), 0);
		ck_assert_uint_eq(st.rate_messages, 2);
		ck_assert_uint_eq(st.rate_bytes, 400);
		ck_assert_uint_eq(st.rate_seconds, 22);	/* copied at 9 */
		/* Out of the window later. */
		ck_assert_int_eq(store_stats_get(store, 30 + STORE_RATE_WINDOW + 60, &st,
						 &error), 0);
		ck_assert_uint_eq(st.rate_messages, 0);
		ck_assert_uint_eq(st.rate_seconds, 0);
	}
	ck_assert_int_eq(store_msgmap_get(store, "a@example.test", "Sent", 77, 12,
					  &uid, &error), 0);
	ck_assert_uint_eq(uid, 41);
	/* The flags as copied, and as updated by a later round. */
	ck_assert_int_eq(store_msgmap_get_flags(store, "a@example.test", "Sent", 77, 12,
						&uid, &hash, &error), 0);
	ck_assert_uint_eq(uid, 41);
	ck_assert_uint_eq(hash, 0x123);
	ck_assert_int_eq(store_msgmap_set_flags(store, "a@example.test", "Sent", 77, 12,
						0x456, &error), 0);
	ck_assert_int_eq(store_msgmap_get_flags(store, "a@example.test", "Sent", 77, 12,
						&uid, &hash, &error), 0);
	ck_assert_uint_eq(uid, 41);
	ck_assert_uint_eq(hash, 0x456);
	ck_assert_int_eq(store_msgmap_set_flags(store, "a@example.test", "Sent", 77, 99,
						1, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_msgmap_get(store, "a@example.test", "Sent", 77, 11,
					  &uid, &error), STORE_NOTFOUND);
	/* Done again (a crash before the worker moved on): nothing twice. */
	ck_assert_int_eq(store_batch_done(store, "a@example.test", 0, &b, uids, 9, &error), 0);
	ck_assert_int_eq(store_account_get(store, "a@example.test", &acct, &error), 0);
	ck_assert_uint_eq(acct.messages, 2);
	ck_assert_uint_eq(acct.bytes, 400);
	ck_assert_uint_eq(acct.folders, 1);
	store_account_clear(&acct);
	ck_assert_int_eq(store_folder_get(store, "a@example.test", "Sent", &f, &error), 0);
	ck_assert_uint_eq(f.last_uid, 12);
	ck_assert_uint_eq(f.messages, 2);
	ck_assert_str_eq(f.target_name, "Sent");
	ck_assert_uint_eq(f.target_uidvalidity, 5);
	store_folder_clear(&f);
	/* Abort drops a pending batch; limits are enforced. */
	ck_assert_int_eq(store_batch_begin(store, "a@example.test", 0, &b, &error), 0);
	ck_assert_int_eq(store_batch_abort(store, "a@example.test", 0, &error), 0);
	ck_assert_int_eq(store_batch_pending(store, "a@example.test", 0, &got, &error),
			 STORE_NOTFOUND);
	{
		/* Done with the next batch pending in its place, in one
		 * commit (the copy's pipeline), then that one done. */
		struct store_batch_msg nm[1] = {
			{ 13, 50, "04-Jan-2010 10:00:00 +0000", "", 0x77, 0 },
		};
		struct store_batch n = { (char *)"Sent", 77, (char *)"Sent", 5, 42, nm, 1 };
		uint32_t nuids[1] = { 42 };

		ck_assert_int_eq(store_batch_begin(store, "a@example.test", 0, &b, &error), 0);
		ck_assert_int_eq(store_batch_done_next(store, "a@example.test", 0, &b, uids, &n,
						       9, &error), 0);
		ck_assert_int_eq(store_batch_pending(store, "a@example.test", 0, &got, &error),
				 0);
		ck_assert_uint_eq(got.count, 1);
		ck_assert_uint_eq(got.msgs[0].old_uid, 13);
		ck_assert_uint_eq(got.target_uidnext, 42);
		store_batch_clear(&got);
		ck_assert_int_eq(store_msgmap_get(store, "a@example.test", "Sent", 77, 13,
						  &uid, &error), STORE_NOTFOUND);
		ck_assert_int_eq(store_batch_done_next(store, "a@example.test", 0, &n, nuids,
						       NULL, 9, &error), 0);
		ck_assert_int_eq(store_batch_pending(store, "a@example.test", 0, &got, &error),
				 STORE_NOTFOUND);
		ck_assert_int_eq(store_msgmap_get(store, "a@example.test", "Sent", 77, 13,
						  &uid, &error), 0);
		ck_assert_uint_eq(uid, 42);
		/* An empty next is refused, and nothing is recorded. */
		n.count = 0;
		ck_assert_int_eq(store_batch_done_next(store, "a@example.test", 0, &b, uids, &n,
						       9, &error), -1);
	}
	b.count = 0;
	ck_assert_int_eq(store_batch_begin(store, "a@example.test", 0, &b, &error), -1);
	b.count = 3;
	ck_assert_int_eq(store_batch_done(store, "zz@example.test", 0, &b, uids, 9, &error), -1);
	store_close(&store);
}
END_TEST

/* Two workers of one split account: each slot keeps its own pending
 * batch, recording one leaves the other, and both add to the account's
 * counters (none lost). */
START_TEST(batches_per_slot)
{
	struct store *store = test_open(0, 0);
	struct store_batch_msg m0[2] = {
		{ 10, 100, "01-Jan-2010 10:00:00 +0000", "", 0xabc, 0 },
		{ 11, 200, "02-Jan-2010 10:00:00 +0000", "", 0xdef, 0 },
	};
	struct store_batch_msg m1[1] = {
		{ 5, 1000, "03-Jan-2010 10:00:00 +0000", "", 0x123, 7 },
	};
	struct store_batch b0 = { (char *)"INBOX", 1, (char *)"INBOX", 2, 30, m0, 2 };
	struct store_batch b1 = { (char *)"Archive", 9, (char *)"Archive", 3, 8, m1, 1 };
	struct store_batch got;
	struct store_account acct;
	uint32_t u0[2] = { 30, 31 }, u1[1] = { 8 }, uid;
	const char *error;

	test_add(store, "a@example.test", NULL, 1);
	ck_assert_int_eq(store_batch_begin(store, "a@example.test", 0, &b0, &error), 0);
	ck_assert_int_eq(store_batch_begin(store, "a@example.test", 1, &b1, &error), 0);
	ck_assert_int_eq(store_batch_pending(store, "a@example.test", 1, &got, &error), 0);
	ck_assert_str_eq(got.folder, "Archive");
	ck_assert_uint_eq(got.count, 1);
	ck_assert_uint_eq(got.msgs[0].message_id_hash, 7);
	store_batch_clear(&got);
	ck_assert_int_eq(store_batch_pending(store, "a@example.test", 0, &got, &error), 0);
	ck_assert_str_eq(got.folder, "INBOX");
	ck_assert_uint_eq(got.count, 2);
	store_batch_clear(&got);
	/* A slot out of range is refused. */
	ck_assert_int_eq(store_batch_begin(store, "a@example.test", STORE_BATCH_SLOTS,
					   &b0, &error), -1);
	/* Slot 1 done: slot 0 stays pending. */
	ck_assert_int_eq(store_batch_done(store, "a@example.test", 1, &b1, u1, 9, &error), 0);
	ck_assert_int_eq(store_batch_pending(store, "a@example.test", 1, &got, &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_batch_pending(store, "a@example.test", 0, &got, &error), 0);
	store_batch_clear(&got);
	ck_assert_int_eq(store_msgmap_get(store, "a@example.test", "Archive", 9, 5, &uid,
					  &error), 0);
	ck_assert_uint_eq(uid, 8);
	/* Aborting slot 1 (empty now) leaves slot 0. */
	ck_assert_int_eq(store_batch_abort(store, "a@example.test", 1, &error), 0);
	ck_assert_int_eq(store_batch_pending(store, "a@example.test", 0, &got, &error), 0);
	store_batch_clear(&got);
	ck_assert_int_eq(store_batch_done(store, "a@example.test", 0, &b0, u0, 9, &error), 0);
	ck_assert_int_eq(store_batch_pending(store, "a@example.test", 0, &got, &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_account_get(store, "a@example.test", &acct, &error), 0);
	ck_assert_uint_eq(acct.messages, 3);
	ck_assert_uint_eq(acct.bytes, 1300);
	ck_assert_uint_eq(acct.folders, 2);
	store_account_clear(&acct);
	store_close(&store);
}
END_TEST

/* Workers recording batches of two slots of one account at once, each
 * in its own folder: every message counted once, none lost. */
START_TEST(batches_slots_concurrent)
{
	struct store *store = test_open(0, 0);
	struct store_account acct;
	const char *error;
	pid_t pids[2];
	int status;

	test_add(store, "a@example.test", NULL, 1);
	store_close(&store);
	for (unsigned slot = 0; slot < 2; slot++) {
		pids[slot] = fork();
		ck_assert_int_ge(pids[slot], 0);
		if (pids[slot] == 0) {
			struct store *child = test_open(0, 0);
			const char *folder = slot == 0 ? "INBOX" : "Archive";
			int bad = 0;

			for (uint32_t i = 1; i <= 40 && !bad; i++) {
				struct store_batch_msg m = { i, 10, "01-Jan-2010 10:00:00 "
							     "+0000", "", 1, 0 };
				struct store_batch b = { (char *)folder, 1, (char *)folder,
							 2, i, &m, 1 };
				uint32_t u = i;

				bad = store_batch_begin(child, "a@example.test", slot, &b,
							&error) != 0 ||
					store_batch_done(child, "a@example.test", slot, &b,
							 &u, 9, &error) != 0;
			}
			store_close(&child);
			_exit(bad);
		}
	}
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	store = test_open(0, 0);
	ck_assert_int_eq(store_account_get(store, "a@example.test", &acct, &error), 0);
	ck_assert_uint_eq(acct.messages, 80);
	ck_assert_uint_eq(acct.bytes, 800);
	ck_assert_uint_eq(acct.folders, 2);
	store_account_clear(&acct);
	store_close(&store);
}
END_TEST

/* The split hand-out: publish, join, claims by both, the assistant's
 * lease, closing, and a republish refused while an assistant lives. */
START_TEST(split_handout)
{
	struct store *store = test_open(0, 0);
	char *folders[4] = { (char *)"INBOX", (char *)"Archive", (char *)"Sent",
			     (char *)"Lists/x" };
	char account[STORE_MAX_ACCOUNT], *folder;
	struct store_split s;
	uint32_t index;
	const char *error;

	ck_assert_int_eq(store_split_get(store, "a@example.test", &s, &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_split_join(store, "h:2", 60, 100, account,
					  sizeof(account), &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_split_publish(store, "a@example.test", "h:1", folders, 4,
					     100, &error), 0);
	/* The holder does not join its own. */
	ck_assert_int_eq(store_split_join(store, "h:1", 60, 100, account,
					  sizeof(account), &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_split_claim(store, "a@example.test", "h:1", 60, 100,
					   &index, &folder, &error), 0);
	ck_assert_uint_eq(index, 0);
	ck_assert_str_eq(folder, "INBOX");
	mm_free(&folder);
	/* Not the assistant yet: no claim, no renewal. */
	ck_assert_int_eq(store_split_claim(store, "a@example.test", "h:2", 60, 100,
					   &index, &folder, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_split_renew(store, "a@example.test", "h:2", 60, 100,
					   &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_split_join(store, "h:2", 60, 100, account,
					  sizeof(account), &error), 0);
	ck_assert_str_eq(account, "a@example.test");
	/* One assistant only. */
	ck_assert_int_eq(store_split_join(store, "h:3", 60, 100, account,
					  sizeof(account), &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_split_claim(store, "a@example.test", "h:2", 60, 110,
					   &index, &folder, &error), 0);
	ck_assert_uint_eq(index, 1);
	ck_assert_str_eq(folder, "Archive");
	mm_free(&folder);
	ck_assert_int_eq(store_split_get(store, "a@example.test", &s, &error), 0);
	ck_assert_str_eq(s.holder, "h:1");
	ck_assert_str_eq(s.assistant, "h:2");
	ck_assert_uint_eq(s.cursor, 2);
	ck_assert_uint_eq(s.count, 4);
	ck_assert_str_eq(s.folders[3], "Lists/x");
	ck_assert_uint_eq(s.assistant_folder, 2);
	ck_assert_int_eq(s.assistant_lease, 170);
	ck_assert(!s.done && !s.closed);
	ck_assert_uint_eq(s.starts[1].uidvalidity, 0);
	store_split_clear(&s);
	/* Where the assistant's copy of Archive began: its to say only. */
	{
		struct store_split_start st = { 77, 5, 1ULL << 40 };

		ck_assert_int_eq(store_split_copied(store, "a@example.test", "h:1", 1, &st,
						    &error), STORE_NOTFOUND);
		ck_assert_int_eq(store_split_copied(store, "a@example.test", "h:2", 4, &st,
						    &error), STORE_NOTFOUND);
		ck_assert_int_eq(store_split_copied(store, "a@example.test", "h:2", 1, &st,
						    &error), 0);
		ck_assert_int_eq(store_split_get(store, "a@example.test", &s, &error), 0);
		ck_assert_uint_eq(s.starts[1].uidvalidity, 77);
		ck_assert_uint_eq(s.starts[1].uidnext, 5);
		ck_assert(s.starts[1].modseq == 1ULL << 40);
		ck_assert_uint_eq(s.starts[0].uidvalidity, 0);
		ck_assert_uint_eq(s.starts[3].uidvalidity, 0);
		store_split_clear(&s);
	}
	/* A republish (a new round) is refused while the assistant lives. */
	ck_assert_int_eq(store_split_publish(store, "a@example.test", "h:1", folders, 4,
					     120, &error), STORE_EXISTS);
	ck_assert_int_eq(store_split_renew(store, "a@example.test", "h:2", 60, 120,
					   &error), 0);
	ck_assert_int_eq(store_split_claim(store, "a@example.test", "h:1", 60, 120,
					   &index, &folder, &error), 0);
	ck_assert_str_eq(folder, "Sent");
	mm_free(&folder);
	ck_assert_int_eq(store_split_claim(store, "a@example.test", "h:2", 60, 130,
					   &index, &folder, &error), 0);
	ck_assert_str_eq(folder, "Lists/x");
	mm_free(&folder);
	/* None left: the holder is told; the assistant is marked done,
	 * its folders counted. */
	ck_assert_int_eq(store_split_claim(store, "a@example.test", "h:1", 60, 130,
					   &index, &folder, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_split_claim(store, "a@example.test", "h:2", 60, 140,
					   &index, &folder, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_split_get(store, "a@example.test", &s, &error), 0);
	ck_assert(s.done);
	ck_assert_uint_eq(s.assistant_folder, 0);
	ck_assert_uint_eq(s.assistant_folders, 2);
	store_split_clear(&s);
	/* Done: a new round may publish again. */
	ck_assert_int_eq(store_split_publish(store, "a@example.test", "h:1", folders, 2,
					     150, &error), 0);
	ck_assert_int_eq(store_split_join(store, "h:2", 60, 150, account,
					  sizeof(account), &error), 0);
	ck_assert_int_eq(store_split_claim(store, "a@example.test", "h:2", 60, 150,
					   &index, &folder, &error), 0);
	ck_assert_str_eq(folder, "INBOX");
	mm_free(&folder);
	/* The holder closes it (the assistant's lease ran out): the
	 * assistant can claim and renew no more; what it was copying is
	 * in the record closed. */
	ck_assert_int_eq(store_split_close(store, "a@example.test", &s, &error), 0);
	ck_assert(s.closed);
	ck_assert_uint_eq(s.assistant_folder, 1);
	ck_assert_int_eq(s.assistant_lease, 210);
	store_split_clear(&s);
	ck_assert_int_eq(store_split_claim(store, "a@example.test", "h:2", 60, 160,
					   &index, &folder, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_split_renew(store, "a@example.test", "h:2", 60, 160,
					   &error), STORE_NOTFOUND);
	{
		struct store_split_start st = { 78, 1, 9 };

		ck_assert_int_eq(store_split_copied(store, "a@example.test", "h:2", 0,
						    &st, &error), STORE_NOTFOUND);
	}
	/* The holder still claims what is left. */
	ck_assert_int_eq(store_split_claim(store, "a@example.test", "h:1", 60, 160,
					   &index, &folder, &error), 0);
	ck_assert_str_eq(folder, "Archive");
	mm_free(&folder);
	/* A closed one is not joined; after the lease it may be replaced. */
	ck_assert_int_eq(store_split_join(store, "h:3", 60, 160, account,
					  sizeof(account), &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_split_publish(store, "a@example.test", "h:1", folders, 2,
					     200, &error), STORE_EXISTS);
	/* The assistant, stopped, gives its lease back (closed or not):
	 * the hand-out may be replaced at once. */
	ck_assert_int_eq(store_split_renew(store, "a@example.test", "h:3", 0, 200,
					   &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_split_renew(store, "a@example.test", "h:2", 0, 200,
					   &error), 0);
	ck_assert_int_eq(store_split_get(store, "a@example.test", &s, &error), 0);
	ck_assert(s.closed && !s.done);
	ck_assert_int_eq(s.assistant_lease, 200);
	store_split_clear(&s);
	ck_assert_int_eq(store_split_publish(store, "a@example.test", "h:1", folders, 2,
					     200, &error), 0);
	ck_assert_int_eq(store_split_del(store, "a@example.test", &error), 0);
	ck_assert_int_eq(store_split_del(store, "a@example.test", &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_split_close(store, "a@example.test", NULL, &error),
			 STORE_NOTFOUND);
	store_close(&store);
}
END_TEST

/* Two assistants joining at once take one hand-out each, never both
 * the same; claims from two processes hand every folder out once. */
START_TEST(split_claims_concurrent)
{
	struct store *store = test_open(0, 0);
	char *folders[60];
	char fnames[60][16];
	const char *error;
	char account[STORE_MAX_ACCOUNT];
	int pipefd[2], status, seen[60] = { 0 };
	pid_t pids[2];
	uint32_t index;
	FILE *in;

	for (int i = 0; i < 60; i++) {
		snprintf(fnames[i], sizeof(fnames[i]), "F%02d", i);
		folders[i] = fnames[i];
	}
	ck_assert_int_eq(store_split_publish(store, "a@example.test", "h:1", folders, 60,
					     100, &error), 0);
	ck_assert_int_eq(store_split_join(store, "h:2", 600, 100, account,
					  sizeof(account), &error), 0);
	store_close(&store);
	ck_assert_int_eq(pipe(pipefd), 0);
	for (int k = 0; k < 2; k++) {
		pids[k] = fork();
		ck_assert_int_ge(pids[k], 0);
		if (pids[k] == 0) {
			struct store *child = test_open(0, 0);
			char *folder;
			int ret;

			close(pipefd[0]);
			while ((ret = store_split_claim(child, "a@example.test",
							k == 0 ? "h:1" : "h:2", 600, 100,
							&index, &folder, &error)) == 0) {
				char line[32];
				int n = snprintf(line, sizeof(line), "%u\n", index);

				if (write(pipefd[1], line, (size_t)n) != n)
					_exit(2);
				mm_free(&folder);
			}
			store_close(&child);
			_exit(ret == STORE_NOTFOUND ? 0 : 1);
		}
	}
	close(pipefd[1]);
	in = fdopen(pipefd[0], "r");
	while (fscanf(in, "%u", &index) == 1) {
		ck_assert_uint_lt(index, 60);
		seen[index]++;
	}
	fclose(in);
	for (int k = 0; k < 2; k++) {
		ck_assert_int_eq(waitpid(pids[k], &status, 0), pids[k]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	for (int i = 0; i < 60; i++)
		ck_assert_int_eq(seen[i], 1);
}
END_TEST

struct failed_seen {
	size_t count;
	char last[200];
};

static int failed_cb(const struct store_failed *it, void *ctx)
{
	struct failed_seen *seen = ctx;

	seen->count++;
	snprintf(seen->last, sizeof(seen->last), "%s %s %u %llu %s", it->account,
		 it->folder, it->uid, (unsigned long long)it->size, it->reason);
	return 0;
}

START_TEST(failed_items)
{
	struct store *store = test_open(0, 0);
	struct store_failed it = { (char *)"a@example.test", (char *)"INBOX", 3, 9,
				   200000000, 50, (char *)"over max_message_size" };
	struct failed_seen seen = { 0 };
	struct store_account acct;
	const char *error;

	test_add(store, "a@example.test", NULL, 1);
	test_add(store, "ab@example.test", NULL, 1);
	ck_assert_int_eq(store_failed_add(store, &it, &error), 0);
	it.reason = (char *)"over max_message_size (again)";
	ck_assert_int_eq(store_failed_add(store, &it, &error), 0);
	it.account = (char *)"ab@example.test";
	ck_assert_int_eq(store_failed_add(store, &it, &error), 0);
	it.account = (char *)"nobody@example.test";
	ck_assert_int_eq(store_failed_add(store, &it, &error), -1);
	ck_assert_int_eq(store_failed_iter(store, "a@example.test", failed_cb, &seen,
					   &error), 0);
	ck_assert_uint_eq(seen.count, 1);
	ck_assert_str_eq(seen.last, "a@example.test INBOX 9 200000000 "
			 "over max_message_size (again)");
	seen.count = 0;
	ck_assert_int_eq(store_failed_iter(store, NULL, failed_cb, &seen, &error), 0);
	ck_assert_uint_eq(seen.count, 2);
	/* Counted once in the account's errors, however often recorded. */
	ck_assert_int_eq(store_account_get(store, "a@example.test", &acct, &error), 0);
	ck_assert_uint_eq(acct.errors, 1);
	store_account_clear(&acct);
	/* A folder's verification item goes once it holds again, and is
	 * uncounted; another item of the folder stays. */
	it.account = (char *)"a@example.test";
	it.uid = 0;
	it.reason = (char *)"verify: copies no longer on NEW: 2";
	ck_assert_int_eq(store_failed_add(store, &it, &error), 0);
	ck_assert_int_eq(store_account_get(store, "a@example.test", &acct, &error), 0);
	ck_assert_uint_eq(acct.errors, 2);
	store_account_clear(&acct);
	ck_assert_int_eq(store_failed_del(store, "a@example.test", "INBOX", 3, 0, &error), 0);
	ck_assert_int_eq(store_failed_del(store, "a@example.test", "INBOX", 3, 0, &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_account_get(store, "a@example.test", &acct, &error), 0);
	ck_assert_uint_eq(acct.errors, 1);
	store_account_clear(&acct);
	seen.count = 0;
	ck_assert_int_eq(store_failed_iter(store, "a@example.test", failed_cb, &seen,
					   &error), 0);
	ck_assert_uint_eq(seen.count, 1);
	ck_assert_str_eq(seen.last, "a@example.test INBOX 9 200000000 "
			 "over max_message_size (again)");
	/* Reset forgets them. */
	ck_assert_int_eq(store_reset(store, "a@example.test", 60, &error), 0);
	seen.count = 0;
	ck_assert_int_eq(store_failed_iter(store, NULL, failed_cb, &seen, &error), 0);
	ck_assert_uint_eq(seen.count, 1);
	store_close(&store);
}
END_TEST

START_TEST(uidls)
{
	struct store *store = test_open(0, 0);
	char big[STORE_MAX_UIDL + 2];
	uint64_t n;
	const char *error;

	ck_assert_int_eq(store_uidl_add(store, "a@example.test", "u1", 1, &error), 0);
	ck_assert_int_eq(store_uidl_add(store, "a@example.test", "u2", 1, &error), 0);
	ck_assert_int_eq(store_uidl_add(store, "a@example.test", "u1", 2, &error),
			 STORE_EXISTS);
	ck_assert_int_eq(store_uidl_add(store, "ab@example.test", "u1", 2, &error), 0);
	ck_assert_int_eq(store_uidl_has(store, "a@example.test", "u2", &error), 1);
	ck_assert_int_eq(store_uidl_has(store, "a@example.test", "u3", &error), 0);
	ck_assert_int_eq(store_uidl_count(store, "a@example.test", &n, &error), 0);
	ck_assert_uint_eq(n, 2);
	memset(big, 'u', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(store_uidl_add(store, "a@example.test", big, 1, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "out of range"));
	ck_assert_int_eq(store_uidl_add(store, "a@example.test", "", 1, &error), -1);
	store_close(&store);
}
END_TEST

struct ev_seen {
	size_t count;
	uint64_t last_id;
	char first[64];
	int ordered;
};

static int ev_cb(const struct store_event *ev, void *ctx)
{
	struct ev_seen *seen = ctx;

	if (seen->count == 0)
		snprintf(seen->first, sizeof(seen->first), "%s", ev->message);
	else if (ev->id <= seen->last_id)
		seen->ordered = 0;
	seen->last_id = ev->id;
	seen->count++;
	return 0;
}

START_TEST(events_filter_trim)
{
	struct store_options opts = { .create = 1, .event_log_max = 10 };
	struct store *store;
	struct ev_seen seen = { .ordered = 1 };
	struct store_stats st;
	char msg[64], *big;
	const char *error;

	ck_assert_int_eq(store_open(test_store_dir, &opts, &store, &error), 0);
	for (int i = 0; i < 25; i++) {
		snprintf(msg, sizeof(msg), "event %d", i);
		ck_assert_int_eq(store_event_add(store, 100 + i,
						 i % 5 == 0 ? LOG_SEV_ERROR : LOG_SEV_INFO,
						 i % 2 == 0 ? "a@example.test" : NULL,
						 msg, &error), 0);
	}
	/* Only the newest 10 are kept, oldest first. */
	ck_assert_int_eq(store_event_iter(store, 0, NULL, 0, ev_cb, &seen, &error), 0);
	ck_assert_uint_eq(seen.count, 10);
	ck_assert_str_eq(seen.first, "event 15");
	ck_assert(seen.ordered);
	memset(&seen, 0, sizeof(seen));
	seen.ordered = 1;
	ck_assert_int_eq(store_event_iter(store, 0, NULL, 3, ev_cb, &seen, &error), 0);
	ck_assert_uint_eq(seen.count, 3);
	ck_assert_str_eq(seen.first, "event 22");
	memset(&seen, 0, sizeof(seen));
	ck_assert_int_eq(store_event_iter(store, 1, NULL, 0, ev_cb, &seen, &error), 0);
	ck_assert_uint_eq(seen.count, 2);	/* 15 and 20 */
	ck_assert_str_eq(seen.first, "event 15");
	memset(&seen, 0, sizeof(seen));
	ck_assert_int_eq(store_event_iter(store, 0, "a@example.test", 0, ev_cb,
					  &seen, &error), 0);
	ck_assert_uint_eq(seen.count, 5);	/* 16 18 20 22 24 */
	/* The error count survives trimming. */
	ck_assert_int_eq(store_stats_get(store, 0, &st, &error), 0);
	ck_assert_uint_eq(st.errors, 5);
	/* Over-long text is truncated, not refused. */
	big = mm_calloc(1, 5000);
	memset(big, 'q', 4999);
	ck_assert_int_eq(store_event_add(store, 200, LOG_SEV_WARNING, NULL, big,
					 &error), 0);
	mm_free(&big);
	store_close(&store);
}
END_TEST

START_TEST(stats_and_pause)
{
	struct store *store = test_open(0, 0);
	struct store_account acct = { 0 };
	struct store_stats st;
	struct store_job job;
	int paused = -1;
	const char *error;

	ck_assert_int_eq(store_stats_get(store, 0, &st, &error), 0);
	ck_assert_int_eq(st.started, 0);
	ck_assert_uint_eq(st.accounts, 0);
	test_add(store, "a@example.test", NULL, 500);
	test_add(store, "b@example.test", NULL, 600);
	test_add(store, "c@example.test", NULL, 700);
	acct.name = (char *)"p@example.test";
	acct.domain = (char *)"example.test";
	acct.state = STORE_STATE_PASSWORDS_ONLY;
	ck_assert_int_eq(store_account_create(store, &acct, NULL, 800, &error), 0);
	ck_assert_int_eq(store_message_copied(store, "a@example.test", "INBOX", 1, 1,
					      1, 100, 900, &error), 0);
	ck_assert_int_eq(store_message_copied(store, "b@example.test", "INBOX", 1, 1,
					      1, 23, 900, &error), 0);
	ck_assert_int_eq(store_account_set_state(store, "a@example.test",
						 STORE_STATE_COPIED, 950, &error), 0);
	ck_assert_int_eq(store_account_set_state(store, "b@example.test",
						 STORE_STATE_FAILED, 960, &error), 0);
	ck_assert_int_eq(store_account_add_alias(store, "a@example.test",
						 "x@example.test", &error), 0);
	ck_assert_int_eq(store_job_take(store, "w1", 60, 1000, &job, &error), 0);
	store_job_clear(&job);
	ck_assert_int_eq(store_stats_get(store, 1000, &st, &error), 0);
	ck_assert_int_eq(st.started, 500);
	/* The rate: 2 messages, 123 bytes, the first at 900. */
	ck_assert_uint_eq(st.rate_messages, 2);
	ck_assert_uint_eq(st.rate_bytes, 123);
	ck_assert_uint_eq(st.rate_seconds, 101);
	ck_assert_uint_eq(st.accounts, 4);
	ck_assert_uint_eq(st.by_state[STORE_STATE_QUEUED], 1);
	ck_assert_uint_eq(st.by_state[STORE_STATE_COPIED], 1);
	ck_assert_uint_eq(st.bytes_by_state[STORE_STATE_COPIED], 100);
	ck_assert_uint_eq(st.bytes_by_state[STORE_STATE_FAILED], 23);
	ck_assert_uint_eq(st.bytes_by_state[STORE_STATE_QUEUED], 0);
	ck_assert_uint_eq(st.by_state[STORE_STATE_FAILED], 1);
	ck_assert_uint_eq(st.by_state[STORE_STATE_PASSWORDS_ONLY], 1);
	ck_assert_uint_eq(st.aliases, 1);
	ck_assert_uint_eq(st.messages, 2);
	ck_assert_uint_eq(st.bytes, 123);
	ck_assert_int_eq(st.last_migrated, 950);
	ck_assert_uint_eq(st.jobs_leased, 1);
	ck_assert_uint_eq(st.jobs_pending, 2);	/* passwords-only has none */
	ck_assert_int_eq(st.paused, 0);
	/* Once the lease expires the job counts as pending again. */
	ck_assert_int_eq(store_stats_get(store, 2000, &st, &error), 0);
	ck_assert_uint_eq(st.jobs_leased, 0);
	ck_assert_uint_eq(st.jobs_pending, 3);

	ck_assert_int_eq(store_set_paused(store, 1, &error), 0);
	ck_assert_int_eq(store_paused(store, &paused, &error), 0);
	ck_assert_int_eq(paused, 1);
	ck_assert_int_eq(store_stats_get(store, 0, &st, &error), 0);
	ck_assert_int_eq(st.paused, 1);
	ck_assert_int_eq(store_set_paused(store, 0, &error), 0);
	ck_assert_int_eq(store_paused(store, &paused, &error), 0);
	ck_assert_int_eq(paused, 0);
	store_close(&store);
}
END_TEST

static int first_login_dump_cb(const struct store_dump_rec *rec, void *ctx,
			       const char **error_r)
{
	uint64_t *seen = ctx;

	(void)error_r;
	if (rec->kind != STORE_DUMP_META)
		return 0;
	for (int o = 0; o < STORE_FIRST_LOGIN_COUNT; o++) {
		char name[40];

		snprintf(name, sizeof(name), "first_login_%s",
			 store_first_login_name(o));
		if (strcmp(rec->name, name) == 0)
			seen[o] = rec->value;
	}
	return 0;
}

/* The auth module's first-login counters: added to by every opener of
 * the store (two here, as two Dovecot hosts), read by stats, dumped. */
START_TEST(first_login_counters)
{
	struct store *a = test_open(0, 0), *b = test_open(0, 0), *ro;
	static const unsigned adds[STORE_FIRST_LOGIN_COUNT] = { 3, 2, 1, 4 };
	struct store_stats st;
	uint64_t seen[STORE_FIRST_LOGIN_COUNT] = { 0 };
	const char *error;

	ck_assert_int_eq(store_stats_get(a, 0, &st, &error), 0);
	for (int o = 0; o < STORE_FIRST_LOGIN_COUNT; o++)
		ck_assert_uint_eq(st.first_logins[o], 0);
	for (int o = 0; o < STORE_FIRST_LOGIN_COUNT; o++)
		for (unsigned i = 0; i < adds[o]; i++)
			ck_assert_int_eq(store_first_login_count(i % 2 ? a : b, o,
								 &error), 0);
	ck_assert_int_eq(store_stats_get(b, 0, &st, &error), 0);
	for (int o = 0; o < STORE_FIRST_LOGIN_COUNT; o++)
		ck_assert_uint_eq(st.first_logins[o], adds[o]);
	ck_assert_str_eq(store_first_login_name(STORE_FIRST_LOGIN_UNAVAILABLE),
			 "unavailable");
	ck_assert_int_eq(store_first_login_count(a, STORE_FIRST_LOGIN_COUNT,
						 &error), -1);
	ck_assert_int_eq(store_dump(a, first_login_dump_cb, seen, &error), 0);
	for (int o = 0; o < STORE_FIRST_LOGIN_COUNT; o++)
		ck_assert_uint_eq(seen[o], adds[o]);
	store_close(&a);
	store_close(&b);
	/* A read-only store (the CLI's) does not count. */
	{
		struct store_options opts = { .readonly = 1 };

		ck_assert_msg(store_open(test_store_dir, &opts, &ro, &error) == 0,
			      "%s", error);
	}
	ck_assert_int_eq(store_first_login_count(ro, STORE_FIRST_LOGIN_MIGRATED,
						 &error), -1);
	ck_assert_int_eq(store_stats_get(ro, 0, &st, &error), 0);
	ck_assert_uint_eq(st.first_logins[STORE_FIRST_LOGIN_MIGRATED], 3);
	store_close(&ro);
}
END_TEST

static int job_count_cb(const struct store_job *job, void *ctx)
{
	(*(size_t *)ctx)++;
	return 0;
}

START_TEST(reset_account_and_all)
{
	struct store *store = test_open(0, 0);
	struct store_account acct = { 0 };
	struct store_job job;
	uint32_t uid;
	uint64_t n;
	size_t jobs = 0;
	const char *error;

	test_add(store, "a@example.test", "pw", 1);
	test_add(store, "b@example.test", "pw", 1);
	acct.name = (char *)"p@example.test";
	acct.domain = (char *)"example.test";
	acct.state = STORE_STATE_PASSWORDS_ONLY;
	ck_assert_int_eq(store_account_create(store, &acct, NULL, 1, &error), 0);
	ck_assert_int_eq(store_message_copied(store, "a@example.test", "INBOX", 9, 1,
					      1, 10, 2, &error), 0);
	ck_assert_int_eq(store_message_copied(store, "b@example.test", "INBOX", 9, 1,
					      1, 10, 2, &error), 0);
	ck_assert_int_eq(store_uidl_add(store, "a@example.test", "u1", 2, &error), 0);
	ck_assert_int_eq(store_job_take(store, "w", 60, 3, &job, &error), 0);
	ck_assert_str_eq(job.account, "a@example.test");
	ck_assert_int_eq(store_job_done(store, job.id, "w", &error), 0);
	store_job_clear(&job);
	ck_assert_int_eq(store_account_set_state(store, "a@example.test",
						 STORE_STATE_FINISHED, 4, &error), 0);

	ck_assert_int_eq(store_reset(store, "a@example.test", 5, &error), 0);
	ck_assert_int_eq(store_account_get(store, "a@example.test", &acct, &error), 0);
	ck_assert_int_eq(acct.state, STORE_STATE_QUEUED);
	ck_assert_uint_eq(acct.messages, 0);
	ck_assert_int_eq(acct.finished, 0);
	store_account_clear(&acct);
	ck_assert_int_eq(store_msgmap_get(store, "a@example.test", "INBOX", 9, 1,
					  &uid, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_uidl_count(store, "a@example.test", &n, &error), 0);
	ck_assert_uint_eq(n, 0);
	/* b is untouched by a's reset. */
	ck_assert_int_eq(store_msgmap_get(store, "b@example.test", "INBOX", 9, 1,
					  &uid, &error), 0);
	/* a's password is kept: the copy can run again. */
	ck_assert_int_eq(store_job_iter(store, job_count_cb, &jobs, &error), 0);
	ck_assert_uint_eq(jobs, 2);
	ck_assert_int_eq(store_reset(store, "nobody@example.test", 5, &error),
			 STORE_NOTFOUND);

	ck_assert_int_eq(store_reset(store, NULL, 6, &error), 0);
	ck_assert_int_eq(store_msgmap_get(store, "b@example.test", "INBOX", 9, 1,
					  &uid, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_account_get(store, "p@example.test", &acct, &error), 0);
	ck_assert_int_eq(acct.state, STORE_STATE_PASSWORDS_ONLY);
	store_account_clear(&acct);
	jobs = 0;
	ck_assert_int_eq(store_job_iter(store, job_count_cb, &jobs, &error), 0);
	ck_assert_uint_eq(jobs, 2);
	store_close(&store);
}
END_TEST

/* Sieve records: absent, put, replaced, per account and name (a name
 * that is not ASCII, one that differs only in case), forgotten by the
 * account's reset only. */
START_TEST(sieve_records)
{
	struct store *store = test_open(0, 0);
	struct store_sieve s = { { 0 }, 0 }, got;
	const char *error;
	char longname[STORE_MAX_SIEVE_NAME + 2];

	test_add(store, "a@example.test", "pw", 1);
	test_add(store, "b@example.test", "pw", 1);
	ck_assert_int_eq(store_sieve_get(store, "a@example.test", "main", &got, &error),
			 STORE_NOTFOUND);
	memset(s.sha256, 0xa5, sizeof(s.sha256));
	s.active = 1;
	ck_assert_int_eq(store_sieve_put(store, "a@example.test", "main", &s, &error), 0);
	s.sha256[31] = 0x01;
	s.active = 0;
	ck_assert_int_eq(store_sieve_put(store, "a@example.test", "Main", &s, &error), 0);
	ck_assert_int_eq(store_sieve_put(store, "a@example.test", "vacation \xc3\xa4",
					 &s, &error), 0);
	ck_assert_int_eq(store_sieve_put(store, "b@example.test", "main", &s, &error), 0);
	ck_assert_int_eq(store_sieve_get(store, "a@example.test", "main", &got, &error), 0);
	ck_assert_int_eq(got.active, 1);
	ck_assert_uint_eq(got.sha256[31], 0xa5);
	ck_assert_int_eq(store_sieve_get(store, "a@example.test", "Main", &got, &error), 0);
	ck_assert_int_eq(got.active, 0);
	ck_assert_uint_eq(got.sha256[31], 0x01);
	/* Replaced, not added. */
	s.active = 1;
	ck_assert_int_eq(store_sieve_put(store, "a@example.test", "Main", &s, &error), 0);
	ck_assert_int_eq(store_sieve_get(store, "a@example.test", "Main", &got, &error), 0);
	ck_assert_int_eq(got.active, 1);
	/* Bounded names. */
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(store_sieve_put(store, "a@example.test", longname, &s, &error), -1);
	ck_assert_int_eq(store_sieve_put(store, "a@example.test", "", &s, &error), -1);
	/* The reset of a forgets a's records only. */
	ck_assert_int_eq(store_reset(store, "a@example.test", 5, &error), 0);
	ck_assert_int_eq(store_sieve_get(store, "a@example.test", "main", &got, &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_sieve_get(store, "a@example.test", "vacation \xc3\xa4",
					 &got, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_sieve_get(store, "b@example.test", "main", &got, &error), 0);
	ck_assert_int_eq(store_reset(store, NULL, 6, &error), 0);
	ck_assert_int_eq(store_sieve_get(store, "b@example.test", "main", &got, &error),
			 STORE_NOTFOUND);
	store_close(&store);
}
END_TEST

/* A DAV record of kind for url (new_url NEW's), hashes filled with b. */
static struct store_dav *dav_rec(unsigned kind, const char *url, const char *new_url,
				 unsigned char b)
{
	static struct store_dav d;

	memset(&d, 0, sizeof(d));
	d.kind = kind;
	snprintf(d.old_url, sizeof(d.old_url), "%s", url);
	snprintf(d.new_url, sizeof(d.new_url), "%s", new_url);
	memset(d.old_etag, b, sizeof(d.old_etag));
	memset(d.new_etag, b + 1, sizeof(d.new_etag));
	memset(d.sha256, b + 2, sizeof(d.sha256));
	d.copied = 1700000000 + b;
	return &d;
}

/* The records iter gives, "coll>url:kind:byte;" in order, into buf. */
struct dav_seen {
	char buf[2048];
	int stop_at;
	int count;
};

static int dav_collect(const char *coll, const struct store_dav *d, void *ctx)
{
	struct dav_seen *seen = ctx;
	const char *c = strrchr(coll, '/') != NULL && coll[strlen(coll) - 1] != '/' ?
		strrchr(coll, '/') + 1 : coll;

	if (++seen->count == seen->stop_at)
		return 9;
	snprintf(seen->buf + strlen(seen->buf), sizeof(seen->buf) - strlen(seen->buf),
		 "%s>%s:%u:%02x;", c + (strstr(c, "//") != NULL ? strlen("http://h/") : 0),
		 d->old_url + strlen("http://h/"), d->kind, d->old_etag[0]);
	ck_assert_int_eq(d->copied, 1700000000 + d->old_etag[0]);
	ck_assert_uint_eq(d->sha256[31], (unsigned char)(d->old_etag[0] + 2));
	return 0;
}

/* DAV records: absent, put, replaced, got back whole; iter of one
 * collection (its own record first, then its items) and of the account
 * (collections together); an item forgotten, a collection forgotten
 * with its items; another account (one whose name the first starts
 * with) untouched; bad keys and records refused; counted by the
 * stats; forgotten by the account's reset. */
START_TEST(dav_records)
{
	struct store *store = test_open(0, 0);
	struct store_dav got;
	struct store_stats st;
	struct dav_seen seen;
	const char *error, *cal = "http://h/a/cal/", *book = "http://h/a/book/";
	char longurl[STORE_MAX_DAV_URL + 2];

	test_add(store, "a@example.test", "pw", 1);
	test_add(store, "a@example.tes", "pw", 1);
	ck_assert_int_eq(store_dav_get(store, "a@example.test", cal, NULL, &got, &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_dav_put(store, "a@example.test", cal, NULL,
				       dav_rec(STORE_DAV_CALENDAR, cal, "http://n/a/cal/", 0x10),
				       &error), 0);
	ck_assert_int_eq(store_dav_put(store, "a@example.test", cal, "http://h/a/cal/e1.ics",
				       dav_rec(STORE_DAV_ITEM, "http://h/a/cal/e1.ics",
					       "http://n/a/cal/e1.ics", 0x20), &error), 0);
	ck_assert_int_eq(store_dav_put(store, "a@example.test", cal,
				       "http://h/a/cal/r%C3%A9union.ics",
				       dav_rec(STORE_DAV_ITEM, "http://h/a/cal/r%C3%A9union.ics",
					       "http://n/a/cal/r%C3%A9union.ics", 0x30),
				       &error), 0);
	ck_assert_int_eq(store_dav_put(store, "a@example.test", book, NULL,
				       dav_rec(STORE_DAV_ADDRESSBOOK, book, "http://n/a/book/",
					       0x40), &error), 0);
	ck_assert_int_eq(store_dav_put(store, "a@example.test", book, "http://h/a/book/c.vcf",
				       dav_rec(STORE_DAV_ITEM, "http://h/a/book/c.vcf",
					       "http://n/a/book/c.vcf", 0x50), &error), 0);
	ck_assert_int_eq(store_dav_put(store, "a@example.tes", cal, "http://h/a/cal/e1.ics",
				       dav_rec(STORE_DAV_ITEM, "http://h/a/cal/e1.ics",
					       "http://n/other", 0x60), &error), 0);
	ck_assert_int_eq(store_dav_get(store, "a@example.test", cal, "http://h/a/cal/e1.ics",
				       &got, &error), 0);
	ck_assert_uint_eq(got.kind, STORE_DAV_ITEM);
	ck_assert_str_eq(got.old_url, "http://h/a/cal/e1.ics");
	ck_assert_str_eq(got.new_url, "http://n/a/cal/e1.ics");
	ck_assert_uint_eq(got.old_etag[5], 0x20);
	ck_assert_uint_eq(got.new_etag[5], 0x21);
	ck_assert_uint_eq(got.sha256[5], 0x22);
	ck_assert_int_eq(got.copied, 1700000000 + 0x20);
	ck_assert_int_eq(store_dav_get(store, "a@example.test", cal, NULL, &got, &error), 0);
	ck_assert_uint_eq(got.kind, STORE_DAV_CALENDAR);
	ck_assert_str_eq(got.new_url, "http://n/a/cal/");
	/* replaced, not added */
	ck_assert_int_eq(store_dav_put(store, "a@example.test", cal, "http://h/a/cal/e1.ics",
				       dav_rec(STORE_DAV_ITEM, "http://h/a/cal/e1.ics",
					       "http://n/a/cal/e1-new.ics", 0x21), &error), 0);
	ck_assert_int_eq(store_dav_get(store, "a@example.test", cal, "http://h/a/cal/e1.ics",
				       &got, &error), 0);
	ck_assert_str_eq(got.new_url, "http://n/a/cal/e1-new.ics");
	ck_assert_uint_eq(got.old_etag[0], 0x21);
	/* one collection: its own record first */
	memset(&seen, 0, sizeof(seen));
	ck_assert_int_eq(store_dav_iter(store, "a@example.test", cal, dav_collect, &seen,
					&error), 0);
	ck_assert_msg(strncmp(seen.buf, "a/cal/>a/cal/:1:10;", 19) == 0, "%s", seen.buf);
	ck_assert_int_eq(seen.count, 3);
	ck_assert_ptr_nonnull(strstr(seen.buf, "a/cal/>a/cal/e1.ics:3:21;"));
	ck_assert_ptr_nonnull(strstr(seen.buf, "a/cal/>a/cal/r%C3%A9union.ics:3:30;"));
	/* the account: 5 records, each collection's own before its items */
	memset(&seen, 0, sizeof(seen));
	ck_assert_int_eq(store_dav_iter(store, "a@example.test", NULL, dav_collect, &seen,
					&error), 0);
	ck_assert_int_eq(seen.count, 5);
	ck_assert_ptr_nonnull(strstr(seen.buf, "a/book/>a/book/:2:40;a/book/>a/book/c.vcf:3:50;"));
	ck_assert(strstr(seen.buf, "a/cal/>a/cal/:1:10;") < strstr(seen.buf, "a/cal/>a/cal/e1"));
	ck_assert_ptr_null(strstr(seen.buf, ":60;"));
	/* fn's non-zero stops it and is returned */
	memset(&seen, 0, sizeof(seen));
	seen.stop_at = 2;
	ck_assert_int_eq(store_dav_iter(store, "a@example.test", NULL, dav_collect, &seen,
					&error), 9);
	/* the stats: 2 collections, 4 items over both accounts */
	ck_assert_int_eq(store_stats_get(store, 10, &st, &error), 0);
	ck_assert_uint_eq(st.dav_collections, 2);
	ck_assert_uint_eq(st.dav_items, 4);
	/* bad keys and records */
	memset(longurl, 'x', sizeof(longurl) - 1);
	longurl[sizeof(longurl) - 1] = '\0';
	ck_assert_int_eq(store_dav_get(store, "a@example.test", longurl, NULL, &got, &error),
			 -1);
	ck_assert_int_eq(store_dav_put(store, "a@example.test", cal, "http://h/a/cal/x.ics",
				       dav_rec(STORE_DAV_ITEM, "http://h/a/cal/y.ics", "http://n/",
					       1), &error), -1);
	ck_assert_int_eq(store_dav_put(store, "a@example.test", cal, "http://h/a/cal/x.ics",
				       dav_rec(STORE_DAV_CALENDAR, "http://h/a/cal/x.ics",
					       "http://n/", 1), &error), -1);
	ck_assert_int_eq(store_dav_put(store, "a@example.test", cal, NULL,
				       dav_rec(STORE_DAV_ITEM, cal, "http://n/", 1), &error), -1);
	ck_assert_int_eq(store_dav_put(store, "a@example.test", cal, NULL,
				       dav_rec(STORE_DAV_CALENDAR, cal, "", 1), &error), -1);
	ck_assert_int_eq(store_dav_put(store, "", cal, NULL,
				       dav_rec(STORE_DAV_CALENDAR, cal, "http://n/", 1), &error), -1);
	/* an item forgotten; then the calendar with the rest of its items */
	ck_assert_int_eq(store_dav_del(store, "a@example.test", cal, "http://h/a/cal/e1.ics",
				       &error), 0);
	ck_assert_int_eq(store_dav_del(store, "a@example.test", cal, "http://h/a/cal/e1.ics",
				       &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_dav_get(store, "a@example.test", cal, "http://h/a/cal/e1.ics",
				       &got, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_dav_del(store, "a@example.test", cal, NULL, &error), 0);
	ck_assert_int_eq(store_dav_get(store, "a@example.test", cal,
				       "http://h/a/cal/r%C3%A9union.ics", &got, &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_dav_del(store, "a@example.test", cal, NULL, &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_dav_get(store, "a@example.tes", cal, "http://h/a/cal/e1.ics",
				       &got, &error), 0);
	ck_assert_int_eq(store_dav_get(store, "a@example.test", book, NULL, &got, &error), 0);
	/* the reset of a forgets a's records only */
	ck_assert_int_eq(store_reset(store, "a@example.test", 5, &error), 0);
	ck_assert_int_eq(store_dav_get(store, "a@example.test", book, "http://h/a/book/c.vcf",
				       &got, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_dav_get(store, "a@example.tes", cal, "http://h/a/cal/e1.ics",
				       &got, &error), 0);
	ck_assert_int_eq(store_stats_get(store, 10, &st, &error), 0);
	ck_assert_uint_eq(st.dav_collections, 0);
	ck_assert_uint_eq(st.dav_items, 1);
	store_close(&store);
}
END_TEST

/* An ACL record of folder and identifier (given_to "" unless state
 * says given or there). */
static struct store_acl *acl_rec(const char *folder, const char *id, const char *given_to,
				 const char *rights, unsigned state)
{
	static struct store_acl a;

	memset(&a, 0, sizeof(a));
	snprintf(a.folder, sizeof(a.folder), "%s", folder);
	snprintf(a.target, sizeof(a.target), "new/%s", folder);
	snprintf(a.identifier, sizeof(a.identifier), "%s", id);
	snprintf(a.given_to, sizeof(a.given_to), "%s", given_to);
	snprintf(a.rights, sizeof(a.rights), "%s", rights);
	a.state = state;
	a.updated = 1700000000 + (int64_t)strlen(id);
	return &a;
}

/* "folder>identifier=given_to:rights:state;" in the walk's order. */
struct acl_seen {
	char buf[2048];
	int count, stop_at;
};

static int acl_collect(const struct store_acl *a, void *ctx)
{
	struct acl_seen *seen = ctx;

	if (++seen->count == seen->stop_at)
		return 7;
	ck_assert_str_eq(a->target + 4, a->folder);
	ck_assert_int_eq(a->updated, 1700000000 + (int64_t)strlen(a->identifier));
	snprintf(seen->buf + strlen(seen->buf), sizeof(seen->buf) - strlen(seen->buf),
		 "%s>%s=%s:%s:%s;", a->folder, a->identifier, a->given_to, a->rights,
		 store_acl_state_name(a->state));
	return 0;
}

/* ACL records: put, replaced, walked per folder (a folder's entries
 * together) and per account; one entry and a folder's all forgotten;
 * another account (one whose name the first starts with) untouched;
 * bad records refused; counted by the stats (folders, given, not
 * given); forgotten by the account's reset. */
START_TEST(acl_records)
{
	struct store *store = test_open(0, 0);
	struct store_stats st;
	struct acl_seen seen;
	const char *error;
	char longid[STORE_MAX_ACL_ID + 2];
	struct store_acl *bad;

	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	test_add(store, "a@example.test", "pw", 1);
	test_add(store, "a@example.tes", "pw", 1);
	memset(&seen, 0, sizeof(seen));
	ck_assert_int_eq(store_acl_iter(store, "a@example.test", NULL, acl_collect, &seen,
					&error), 0);
	ck_assert_int_eq(seen.count, 0);
	ck_assert_int_eq(store_acl_put(store, "a@example.test",
				       acl_rec("Team", "b@example.test", "b@example.test",
					       "lrs", STORE_ACL_GIVEN), &error), 0);
	ck_assert_int_eq(store_acl_put(store, "a@example.test",
				       acl_rec("Team", "anyone", "anyone", "l",
					       STORE_ACL_THERE), &error), 0);
	ck_assert_int_eq(store_acl_put(store, "a@example.test",
				       acl_rec("Team", "$staff", "", "lr",
					       STORE_ACL_UNMAPPED), &error), 0);
	ck_assert_int_eq(store_acl_put(store, "a@example.test",
				       acl_rec("R\xc3\xa9union", "c@example.test", "", "lrswi",
					       STORE_ACL_REFUSED), &error), 0);
	ck_assert_int_eq(store_acl_put(store, "a@example.tes",
				       acl_rec("Team", "b@example.test", "b@example.test",
					       "lr", STORE_ACL_GIVEN), &error), 0);
	/* replaced, not added */
	ck_assert_int_eq(store_acl_put(store, "a@example.test",
				       acl_rec("Team", "b@example.test", "b@example.test",
					       "lrswi", STORE_ACL_GIVEN), &error), 0);
	memset(&seen, 0, sizeof(seen));
	ck_assert_int_eq(store_acl_iter(store, "a@example.test", "Team", acl_collect, &seen,
					&error), 0);
	ck_assert_int_eq(seen.count, 3);
	ck_assert_ptr_nonnull(strstr(seen.buf, "Team>b@example.test=b@example.test:lrswi:given;"));
	ck_assert_ptr_nonnull(strstr(seen.buf, "Team>anyone=anyone:l:there;"));
	ck_assert_ptr_nonnull(strstr(seen.buf, "Team>$staff=:lr:unmapped;"));
	/* the account: 4 records, a folder's together */
	memset(&seen, 0, sizeof(seen));
	ck_assert_int_eq(store_acl_iter(store, "a@example.test", NULL, acl_collect, &seen,
					&error), 0);
	ck_assert_int_eq(seen.count, 4);
	ck_assert_ptr_nonnull(strstr(seen.buf, "R\xc3\xa9union>c@example.test=:lrswi:refused;"));
	{
		const char *r = strstr(seen.buf, "R\xc3\xa9union>"), *first, *last, *t;

		first = last = strstr(seen.buf, "Team>");
		while ((t = strstr(last + 1, "Team>")) != NULL)
			last = t;
		ck_assert_msg(r < first || r > last, "%s", seen.buf);
	}
	ck_assert_ptr_null(strstr(seen.buf, ":lr:given;"));
	memset(&seen, 0, sizeof(seen));
	seen.stop_at = 2;
	ck_assert_int_eq(store_acl_iter(store, "a@example.test", NULL, acl_collect, &seen,
					&error), 7);
	/* the stats: 3 folders (two accounts' Team, Réunion), 3 given or
	 * there, 2 not given */
	ck_assert_int_eq(store_stats_get(store, 10, &st, &error), 0);
	ck_assert_uint_eq(st.acl_folders, 3);
	ck_assert_uint_eq(st.acl_given, 3);
	ck_assert_uint_eq(st.acl_not_given, 2);
	/* bad records */
	bad = acl_rec("Team", "x", "", "l", STORE_ACL_UNMAPPED);
	memset(bad->identifier, 'x', sizeof(bad->identifier));	/* no NUL */
	ck_assert_int_eq(store_acl_put(store, "a@example.test", bad, &error), -1);
	ck_assert_int_eq(store_acl_del(store, "a@example.test", "Team", longid, &error), -1);
	ck_assert_int_eq(store_acl_put(store, "a@example.test",
				       acl_rec("", "b@example.test", "b@example.test", "l",
					       STORE_ACL_GIVEN), &error), -1);
	ck_assert_int_eq(store_acl_put(store, "a@example.test",
				       acl_rec("Team", "b@example.test", "", "l",
					       STORE_ACL_GIVEN), &error), -1);
	ck_assert_int_eq(store_acl_put(store, "a@example.test",
				       acl_rec("Team", "b@example.test", "b@example.test", "l",
					       STORE_ACL_UNMAPPED), &error), -1);
	ck_assert_int_eq(store_acl_put(store, "a@example.test",
				       acl_rec("Team", "b@example.test", "", "l", 9), &error), -1);
	ck_assert_int_eq(store_acl_put(store, "",
				       acl_rec("Team", "b@example.test", "", "l",
					       STORE_ACL_UNMAPPED), &error), -1);
	/* one entry forgotten, then the folder's rest */
	ck_assert_int_eq(store_acl_del(store, "a@example.test", "Team", "anyone", &error), 0);
	ck_assert_int_eq(store_acl_del(store, "a@example.test", "Team", "anyone", &error),
			 STORE_NOTFOUND);
	memset(&seen, 0, sizeof(seen));
	ck_assert_int_eq(store_acl_iter(store, "a@example.test", "Team", acl_collect, &seen,
					&error), 0);
	ck_assert_int_eq(seen.count, 2);
	ck_assert_int_eq(store_acl_del(store, "a@example.test", "Team", NULL, &error), 0);
	ck_assert_int_eq(store_acl_del(store, "a@example.test", "Team", NULL, &error),
			 STORE_NOTFOUND);
	memset(&seen, 0, sizeof(seen));
	ck_assert_int_eq(store_acl_iter(store, "a@example.test", NULL, acl_collect, &seen,
					&error), 0);
	ck_assert_int_eq(seen.count, 1);
	/* the reset of a forgets a's records only */
	ck_assert_int_eq(store_reset(store, "a@example.test", 5, &error), 0);
	memset(&seen, 0, sizeof(seen));
	ck_assert_int_eq(store_acl_iter(store, "a@example.test", NULL, acl_collect, &seen,
					&error), 0);
	ck_assert_int_eq(seen.count, 0);
	ck_assert_int_eq(store_stats_get(store, 10, &st, &error), 0);
	ck_assert_uint_eq(st.acl_folders, 1);
	ck_assert_uint_eq(st.acl_given, 1);
	ck_assert_uint_eq(st.acl_not_given, 0);
	store_close(&store);
}
END_TEST

/* Collect "name:active:last hash byte;" into a sorted list (the
 * backends' orders differ); the walk stops at a name "stop". */
struct sieve_seen {
	char names[8][64];
	size_t count;
};

static int sieve_collect(const char *name, const struct store_sieve *sieve,
			 void *ctx)
{
	struct sieve_seen *seen = ctx;

	if (strcmp(name, "stop") == 0)
		return 7;
	ck_assert_uint_lt(seen->count, 8);
	snprintf(seen->names[seen->count++], sizeof(seen->names[0]), "%s:%d:%02x",
		 name, sieve->active, sieve->sha256[31]);
	return 0;
}

static int sieve_seen_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The list of account's records, "a;b;c" sorted, into buf. */
static void sieve_list(struct store *store, const char *account, char *buf,
		       size_t size)
{
	struct sieve_seen seen = { .count = 0 };
	const char *error;

	ck_assert_msg(store_sieve_iter(store, account, sieve_collect, &seen,
				       &error) == 0, "store_sieve_iter: %s", error);
	qsort(seen.names, seen.count, sizeof(seen.names[0]), sieve_seen_cmp);
	buf[0] = '\0';
	for (size_t i = 0; i < seen.count; i++)
		snprintf(buf + strlen(buf), size - strlen(buf), "%s%s",
			 i > 0 ? ";" : "", seen.names[i]);
}

/* store_sieve_iter: an account's records only (not those of an
 * account whose name it starts with), each with its hash and active
 * flag, a name that is not ASCII; fn's non-zero stops it and is
 * returned; a read-only handle sees them; the stats count them all. */
START_TEST(sieve_iter)
{
	struct store *store = test_open(0, 0), *ro;
	struct store_options opts = { .readonly = 1 };
	struct store_sieve s = { { 0 }, 0 };
	struct store_stats st;
	struct sieve_seen seen = { .count = 0 };
	const char *error;
	char buf[512];

	test_add(store, "a@example.test", "pw", 1);
	test_add(store, "a@example.tes", "pw", 1);
	sieve_list(store, "a@example.test", buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(store_stats_get(store, 10, &st, &error), 0);
	ck_assert_uint_eq(st.sieve_scripts, 0);
	memset(s.sha256, 0x11, sizeof(s.sha256));
	s.active = 1;
	ck_assert_int_eq(store_sieve_put(store, "a@example.test", "main", &s, &error), 0);
	s.sha256[31] = 0x22;
	s.active = 0;
	ck_assert_int_eq(store_sieve_put(store, "a@example.test", "Main", &s, &error), 0);
	s.sha256[31] = 0x33;
	ck_assert_int_eq(store_sieve_put(store, "a@example.test", "vacation \xc3\xa4",
					 &s, &error), 0);
	s.sha256[31] = 0x44;
	ck_assert_int_eq(store_sieve_put(store, "a@example.tes", "other", &s, &error), 0);
	sieve_list(store, "a@example.test", buf, sizeof(buf));
	ck_assert_str_eq(buf, "Main:0:22;main:1:11;vacation \xc3\xa4:0:33");
	sieve_list(store, "a@example.tes", buf, sizeof(buf));
	ck_assert_str_eq(buf, "other:0:44");
	sieve_list(store, "nobody@example.test", buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(store_stats_get(store, 10, &st, &error), 0);
	ck_assert_uint_eq(st.sieve_scripts, 4);
	/* A read-only handle (mailmigrate show) reads the same. */
	ck_assert_msg(store_open(test_store_dir, &opts, &ro, &error) == 0,
		      "store_open: %s", error);
	sieve_list(ro, "a@example.test", buf, sizeof(buf));
	ck_assert_str_eq(buf, "Main:0:22;main:1:11;vacation \xc3\xa4:0:33");
	store_close(&ro);
	/* fn stops the walk. */
	ck_assert_int_eq(store_sieve_put(store, "a@example.tes", "stop", &s, &error), 0);
	ck_assert_int_eq(store_sieve_iter(store, "a@example.tes", sieve_collect, &seen,
					  &error), 7);
	ck_assert_int_eq(store_sieve_iter(store, "", sieve_collect, &seen, &error), -1);
	/* Forgotten with the account's copy progress. */
	ck_assert_int_eq(store_reset(store, "a@example.test", 5, &error), 0);
	sieve_list(store, "a@example.test", buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(store_stats_get(store, 10, &st, &error), 0);
	ck_assert_uint_eq(st.sieve_scripts, 2);
	store_close(&store);
}
END_TEST

static int progress_collect(const struct store_progress *p, void *ctx)
{
	char *buf = ctx;
	size_t len = strlen(buf);

	snprintf(buf + len, 1024 - len, "%s %s %s %u/%u %llu/%llu %llu/%llu %lld %lld;",
		 p->account, p->owner, p->folder != NULL ? p->folder : "-",
		 p->folder_index, p->folder_count,
		 (unsigned long long)p->messages_done,
		 (unsigned long long)p->messages_total,
		 (unsigned long long)p->bytes_done,
		 (unsigned long long)p->bytes_total, (long long)p->started,
		 (long long)p->updated);
	return 0;
}

/* Progress records: written, replaced, listed in account order,
 * removed; a folder name that is not UTF-8 kept as bytes. */
START_TEST(progress_records)
{
	struct store *store = test_open(0, 0);
	struct store_progress p = { 0 };
	char buf[1024] = "";
	const char *error;

	ck_assert_int_eq(store_progress_iter(store, progress_collect, buf, &error), 0);
	ck_assert_str_eq(buf, "");
	p.account = (char *)"b@example.test";
	p.owner = (char *)"host-a:12";
	p.folder_count = 3;
	p.messages_total = 100;
	p.started = p.updated = 50;
	ck_assert_int_eq(store_progress_put(store, &p, &error), 0);
	p.account = (char *)"a@example.test";
	p.folder = (char *)"Caf\xe9";
	p.folder_index = 2;
	p.messages_done = 40;
	p.bytes_done = 4000;
	p.bytes_total = 9000;
	p.updated = 60;
	ck_assert_int_eq(store_progress_put(store, &p, &error), 0);
	ck_assert_int_eq(store_progress_iter(store, progress_collect, buf, &error), 0);
	ck_assert_str_eq(buf, "a@example.test host-a:12 Caf\xe9 2/3 40/100 4000/9000 50 60;"
			 "b@example.test host-a:12 - 0/3 0/100 0/0 50 50;");
	/* Replaced whole. */
	p.messages_done = 41;
	p.folder = NULL;
	ck_assert_int_eq(store_progress_put(store, &p, &error), 0);
	ck_assert_int_eq(store_progress_del(store, "b@example.test", &error), 0);
	ck_assert_int_eq(store_progress_del(store, "b@example.test", &error),
			 STORE_NOTFOUND);
	buf[0] = '\0';
	ck_assert_int_eq(store_progress_iter(store, progress_collect, buf, &error), 0);
	ck_assert_str_eq(buf, "a@example.test host-a:12 - 2/3 41/100 4000/9000 50 60;");
	p.account = (char *)"";
	ck_assert_int_eq(store_progress_put(store, &p, &error), -1);
	store_close(&store);
}
END_TEST

START_TEST(map_grows_to_limit)
{
	struct store *store = test_open(1 << 20, 4 << 20);
	char text[STORE_MAX_EVENT_TEXT];
	struct store_stats st;
	const char *error = NULL;
	int i, ret = 0;

	memset(text, 'g', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	/* About 1 KB each: the first MiB fills fast, growth follows. */
	for (i = 0; i < 20000 && ret == 0; i++)
		ret = store_event_add(store, i, LOG_SEV_INFO, NULL, text, &error);
	ck_assert_int_eq(ret, -1);
	ck_assert_msg(i > 1500, "full after only %d events", i);
	ck_assert_ptr_nonnull(strstr(error, "store_max_size"));
	/* Full is not broken: reads and small writes that fit still work. */
	ck_assert_int_eq(store_stats_get(store, 0, &st, &error), 0);
	store_close(&store);
	/* Reopened at its grown size, the data is all there. */
	store = test_open(1 << 20, 64 << 20);
	ck_assert_int_eq(store_event_add(store, 1, LOG_SEV_INFO, NULL, text, &error), 0);
	store_close(&store);
}
END_TEST

/* Several processes write at once; no update may be lost. */
START_TEST(concurrent_writers)
{
	enum { PROCS = 4, EACH = 40 };
	struct store *store = test_open(0, 0);
	struct store_account acct;
	struct store_stats st;
	const char *error;
	pid_t pids[PROCS];

	test_add(store, "shared@example.test", NULL, 1);
	store_close(&store);
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		ck_assert_int_ge(pids[p], 0);
		if (pids[p] == 0) {
			struct store *child = test_open(0, 0);
			char name[64];
			int bad = 0;

			for (int i = 0; i < EACH; i++) {
				snprintf(name, sizeof(name), "p%d-u%d@example.test", p, i);
				test_add(child, name, "pw", 10);
				/* Read-modify-write on one shared account. */
				if (store_message_copied(child, "shared@example.test",
							 "INBOX", 1,
							 (uint32_t)(p * EACH + i + 1),
							 (uint32_t)(p * EACH + i + 1), 1, 10,
							 &error) != 0)
					bad = 1;
				if (store_event_add(child, 10, LOG_SEV_INFO, name, "x",
						    &error) != 0)
					bad = 1;
			}
			store_close(&child);
			_exit(bad);
		}
	}
	for (int p = 0; p < PROCS; p++)
		test_wait_ok(pids[p]);
	store = test_open(0, 0);
	ck_assert_int_eq(store_stats_get(store, 0, &st, &error), 0);
	ck_assert_uint_eq(st.accounts, 1 + PROCS * EACH);
	ck_assert_uint_eq(st.jobs_pending, 1 + PROCS * EACH);
	ck_assert_int_eq(store_account_get(store, "shared@example.test", &acct, &error), 0);
	ck_assert_uint_eq(acct.messages, PROCS * EACH);
	store_account_clear(&acct);
	store_close(&store);
}
END_TEST

/* A map grown by one process is picked up by another that has it open. */
START_TEST(map_resized_by_other_process)
{
	struct store *store = test_open(1 << 20, 64 << 20);
	char text[STORE_MAX_EVENT_TEXT];
	int ready[2], go[2];
	const char *error;
	pid_t pid;
	char c;

	/* No handle may cross fork(): close ours, open again after. */
	store_close(&store);
	memset(text, 'r', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(go), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct store *child = test_open(1 << 20, 64 << 20);
		int bad = 0;

		close(ready[0]);
		close(go[1]);
		bad |= write(ready[1], "r", 1) != 1;
		bad |= read(go[0], &c, 1) != 1;
		/* The parent has grown the map past our 1 MiB by now. */
		for (int i = 0; i < 3000 && !bad; i++)
			bad |= store_event_add(child, i, LOG_SEV_INFO, "c", text, &error) != 0;
		store_close(&child);
		_exit(bad);
	}
	close(ready[1]);
	close(go[0]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	store = test_open(1 << 20, 64 << 20);
	for (int i = 0; i < 3000; i++)
		ck_assert_int_eq(store_event_add(store, i, LOG_SEV_INFO, "p", text,
						 &error), 0);
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	close(go[1]);
	close(ready[0]);
	test_wait_ok(pid);
	store_close(&store);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, account_create_get);
	tcase_add_test(tc, account_exists_writes_nothing);
	tcase_add_loop_test(tc, account_names, 0, sizeof(names) / sizeof(names[0]));
	tcase_add_test(tc, account_update_state_alias);
	tcase_add_test(tc, account_iter_order_and_stop);
	tcase_add_test(tc, account_requeue);
	tcase_add_test(tc, creds_seal_get_wipe);
	tcase_add_test(tc, creds_wrong_key);
	tcase_add_test(tc, creds_public_key_and_legacy);
	tcase_add_test(tc, creds_need_key);
	tcase_add_test(tc, folders_and_msgmap);
	tcase_add_test(tc, msgmap_list);
	if (!test_is_pgsql())	/* LMDB's record encoding */
		tcase_add_loop_test(tc, folder_record_versions, 0,
				    sizeof(folder_recs) / sizeof(folder_recs[0]));
	tcase_add_test(tc, batches_exactly_once);
	tcase_add_test(tc, batches_per_slot);
	tcase_add_test(tc, batches_slots_concurrent);
	tcase_add_test(tc, split_handout);
	tcase_add_test(tc, split_claims_concurrent);
	tcase_add_test(tc, failed_items);
	tcase_add_test(tc, uidls);
	tcase_add_test(tc, events_filter_trim);
	tcase_add_test(tc, stats_and_pause);
	tcase_add_test(tc, first_login_counters);
	tcase_add_test(tc, reset_account_and_all);
	if (!test_is_pgsql())	/* LMDB's map */
		tcase_add_test(tc, map_grows_to_limit);
	tcase_add_test(tc, concurrent_writers);
	tcase_add_test(tc, progress_records);
	tcase_add_test(tc, sieve_records);
	tcase_add_test(tc, sieve_iter);
	tcase_add_test(tc, dav_records);
	tcase_add_test(tc, acl_records);
	tcase_add_test(tc, map_resized_by_other_process);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(store_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
