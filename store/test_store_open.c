/*
 * NAME
 *	test_store_open 1
 * SUMMARY
 *	unit tests: what store_open() refuses, and that it then writes
 *	nothing
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <lmdb.h>

#include "store_lmdb.h"
#include "test_util.h"

/* The whole file at path, or NULL; *len_r its size. */
static unsigned char *slurp(const char *path, size_t *len_r)
{
	unsigned char *buf;
	struct stat st;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = mm_malloc((size_t)st.st_size + 1);
	ck_assert_int_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*len_r = (size_t)st.st_size;
	return buf;
}

static size_t dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void expect_refused(int create, const char *expect)
{
	struct store_options opts = { .create = create };
	struct store *store = NULL;
	const char *error = NULL;

	ck_assert_int_eq(store_open(test_store_dir, &opts, &store, &error), -1);
	ck_assert_ptr_null(store);
	ck_assert_msg(strstr(error, expect) != NULL, "expected '%s', got '%s'",
		      expect, error);
}

START_TEST(missing_directory)
{
	struct stat st;

	expect_refused(0, "does not exist (run 'mailmigrate init')");
	ck_assert_int_eq(stat(test_store_dir, &st), -1);
}
END_TEST

START_TEST(empty_directory)
{
	ck_assert_int_eq(mkdir(test_store_dir, 0700), 0);
	expect_refused(0, "no store in");
	ck_assert_uint_eq(dir_entries(test_store_dir), 0);
}
END_TEST

START_TEST(directory_is_a_file)
{
	unsigned char *after;
	size_t len;
	FILE *f = fopen(test_store_dir, "w");

	ck_assert_ptr_nonnull(f);
	fputs("not a directory\n", f);
	fclose(f);
	expect_refused(1, "is not a directory");
	after = slurp(test_store_dir, &len);
	ck_assert_uint_eq(len, 16);
	ck_assert_mem_eq(after, "not a directory\n", 16);
	mm_free(&after);
}
END_TEST

/* Garbage where data.mdb should be: refused, untouched, no lock file. */
START_TEST(foreign_datafile)
{
	static const size_t sizes[] = { 8192, 10, 0 };
	char path[1100];
	unsigned char *before, *after;
	size_t blen, alen;
	FILE *f;

	ck_assert_int_eq(mkdir(test_store_dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/data.mdb", test_store_dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < sizes[_i]; i++)
		fputc((int)((i * 2654435761u) >> 13) & 0xff, f);
	fclose(f);
	before = slurp(path, &blen);
	expect_refused(0, "is not an LMDB store");
	expect_refused(1, "is not an LMDB store");
	after = slurp(path, &alen);
	ck_assert_uint_eq(alen, blen);
	if (blen > 0)
		ck_assert_mem_eq(after, before, blen);
	ck_assert_uint_eq(dir_entries(test_store_dir), 1);
	mm_free(&before);
	mm_free(&after);
}
END_TEST

/* A real LMDB environment that some other program made. */
START_TEST(foreign_lmdb)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 3, (void *)"key" }, v = { 5, (void *)"value" };
	char path[1100];
	unsigned char *before, *after;
	size_t blen, alen;

	ck_assert_int_eq(mkdir(test_store_dir, 0700), 0);
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 4), 0);
	ck_assert_int_eq(mdb_env_open(env, test_store_dir, 0, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "postfix", MDB_CREATE, &dbi), 0);
	ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	snprintf(path, sizeof(path), "%s/data.mdb", test_store_dir);
	before = slurp(path, &blen);
	expect_refused(0, "not a mailmigrate store");
	/* Not even init may adopt it. */
	expect_refused(1, "not a mailmigrate store");
	after = slurp(path, &alen);
	ck_assert_uint_eq(alen, blen);
	ck_assert_mem_eq(after, before, blen);
	mm_free(&before);
	mm_free(&after);
}
END_TEST

/* Our store, but from a future version. */
START_TEST(unknown_schema_version)
{
	struct store *store = test_open(0, 0);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 14, (void *)"schema_version" }, v = { 2, (void *)"99" };

	test_add(store, "a@example.test", NULL, 1);
	store_close(&store);
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 16), 0);
	ck_assert_int_eq(mdb_env_open(env, test_store_dir, 0, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	expect_refused(0, "schema version '99'");
	expect_refused(1, "knows version 1 only");
}
END_TEST

START_TEST(create_then_reopen)
{
	struct store_options opts = { .create = 1 };
	struct store_account acct;
	struct store *store;
	struct stat st;
	char path[1100];
	const char *error;

	store = test_open(0, 0);
	ck_assert(store_was_created(store));
	test_add(store, "a@example.test", NULL, 1);
	store_close(&store);
	ck_assert_int_eq(stat(test_store_dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 02770);
	snprintf(path, sizeof(path), "%s/data.mdb", test_store_dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0660);
	/* create on an existing store opens it as it is. */
	ck_assert_int_eq(store_open(test_store_dir, &opts, &store, &error), 0);
	ck_assert(!store_was_created(store));
	ck_assert_int_eq(store_account_get(store, "a@example.test", &acct, &error), 0);
	store_account_clear(&acct);
	store_close(&store);
}
END_TEST

/* The store spec: "lmdb:DIR" and a bare DIR name one store; another
 * type is refused, and so is a PostgreSQL conninfo that does not parse
 * or holds a password (never echoed), before any connection. */
START_TEST(store_spec)
{
	struct store_options opts = { .create = 1 };
	struct store_account acct;
	struct store *store = NULL;
	char spec[1100];
	const char *error;

	snprintf(spec, sizeof(spec), "lmdb:%s", test_store_dir);
	ck_assert_int_eq(store_open(spec, &opts, &store, &error), 0);
	ck_assert(store_was_created(store));
	test_add(store, "a@example.test", NULL, 1);
	store_close(&store);
	ck_assert_ptr_null(store);
	store = test_open(0, 0);
	ck_assert(!store_was_created(store));
	ck_assert_int_eq(store_account_get(store, "a@example.test", &acct,
					   &error), 0);
	store_account_clear(&acct);
	store_close(&store);
}
END_TEST

/* Specs refused before anything is opened, on either backend. */
START_TEST(spec_refused)
{
	static const struct {
		const char *spec, *expect;
	} refused[] = {
		{ "postgresql:host=db.example.test password=s3cret",
		  "a password in the connection string is refused" },
		{ "postgresql://mm:s3cret@db.example.test/mail",
		  "a password in the connection string is refused" },
		{ "postgresql:host", "cannot parse the connection string" },
		{ "mysql:host=db.example.test", "unknown store type 'mysql'" },
		{ "ldap://db.example.test/", "unknown store type 'ldap'" },
	};
	struct store_options opts = { .create = 1 };
	struct store *store = NULL;
	const char *error;

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		error = NULL;
		ck_assert_int_eq(store_open(refused[i].spec, &opts, &store,
					    &error), -1);
		ck_assert_ptr_null(store);
		ck_assert_msg(strstr(error, refused[i].expect) != NULL,
			      "%s: expected '%s', got '%s'", refused[i].spec,
			      refused[i].expect, error);
		ck_assert_msg(strstr(error, "s3cret") == NULL, "%s", error);
	}
}
END_TEST

START_TEST(readonly_refuses_writes)
{
	struct store_options opts = { .readonly = 1 };
	struct store_stats st;
	struct store *store = test_open(0, 0);
	const char *error;

	store_close(&store);
	ck_assert_int_eq(store_open(test_store_dir, &opts, &store, &error), 0);
	ck_assert_int_eq(store_stats_get(store, 0, &st, &error), 0);
	ck_assert_int_eq(store_set_paused(store, 1, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "read-only"));
	store_close(&store);
}
END_TEST

/* Open the store as a reader would (no create) and look an account up,
 * which keeps a reader slot; 0 on success. */
static int open_and_read(struct store **store_r)
{
	struct store_account acct;
	const char *error;

	if (store_open(test_store_dir, NULL, store_r, &error) < 0) {
		fprintf(stderr, "store_open: %s\n", error);
		return -1;
	}
	if (store_account_get(*store_r, "a@example.test", &acct, &error) != 0) {
		fprintf(stderr, "store_account_get: %s\n", error);
		store_close(store_r);
		return -1;
	}
	store_account_clear(&acct);
	return 0;
}

/* Processes killed while holding a reader slot, with another process
 * keeping the environment open all along (so LMDB never resets its
 * reader table): more of them than LMDB's default 126 slots, and a
 * new process still opens and reads. */
START_TEST(stale_reader_slots)
{
	enum { VICTIMS = 130 };
	struct store *store = test_open(0, 0);
	int ready[2], hold[2], status;
	pid_t holder, pid;
	char byte;

	test_add(store, "a@example.test", NULL, 1);
	store_close(&store);
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(hold), 0);
	holder = fork();
	ck_assert_int_ge(holder, 0);
	if (holder == 0) {
		int ret;

		close(ready[0]);
		close(hold[1]);
		ret = open_and_read(&store);
		if (write(ready[1], "r", 1) != 1)
			ret = -1;
		close(ready[1]);
		/* Hold the store open until the parent closes the pipe. */
		while (read(hold[0], &byte, 1) > 0)
			;
		close(hold[0]);
		store_close(&store);
		_exit(ret == 0 ? 0 : 1);
	}
	close(ready[1]);
	close(hold[0]);
	ck_assert_int_eq(read(ready[0], &byte, 1), 1);
	close(ready[0]);
	ck_assert_int_eq(pipe(ready), 0);
	for (int i = 0; i < VICTIMS; i++) {
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			close(hold[1]);
			close(ready[0]);
			if (open_and_read(&store) < 0)
				_exit(1);
			/* Killed with the slot held (by the parent: under
			 * valgrind a SIGKILL sent to oneself is not final). */
			if (write(ready[1], "v", 1) == 1)
				for (;;)
					pause();
			_exit(2);
		}
		if (read(ready[0], &byte, 1) == 1)
			kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			      "reader %d of %d could not open and read the store "
			      "(status %d)", i + 1, VICTIMS, status);
	}
	close(ready[0]);
	close(ready[1]);
	ck_assert_int_eq(open_and_read(&store), 0);
	/* Each reader took the slot its dead predecessor left: the table
	 * never grew, so the slots were reclaimed, not merely many. */
	{
		MDB_envinfo info;

		ck_assert_int_eq(mdb_env_info(LMDB(store)->env, &info), 0);
		ck_assert_msg(info.me_numreaders < 8, "%u reader slots used for "
			      "%d readers that are dead", info.me_numreaders, VICTIMS);
	}
	store_close(&store);
	close(hold[1]);
	test_wait_ok(holder);
}
END_TEST

/* A process that opened the store before the table filled up with dead
 * readers (here: processes using LMDB directly, which reclaim nothing,
 * and a lock file made with LMDB's default 126 slots): its next read
 * finds the table full, reclaims the dead slots and goes on. */
START_TEST(full_reader_table_reclaimed)
{
	struct store *store = test_open(0, 0);
	int ready[2], go[2], hold[2], status;
	pid_t holder, reader, pid;
	char path[1100], byte;

	test_add(store, "a@example.test", NULL, 1);
	store_close(&store);
	snprintf(path, sizeof(path), "%s/lock.mdb", test_store_dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(hold), 0);
	/* The holder makes the lock file, with LMDB's defaults. */
	holder = fork();
	ck_assert_int_ge(holder, 0);
	if (holder == 0) {
		MDB_env *env;
		int ret;

		close(hold[1]);
		ret = mdb_env_create(&env);
		if (ret == 0)
			ret = mdb_env_set_maxdbs(env, 32);
		if (ret == 0)
			ret = mdb_env_open(env, test_store_dir, MDB_NOTLS, 0600);
		if (write(ready[1], "h", 1) != 1)
			ret = -1;
		while (read(hold[0], &byte, 1) > 0)
			;
		mdb_env_close(env);
		_exit(ret == 0 ? 0 : 1);
	}
	ck_assert_int_eq(read(ready[0], &byte, 1), 1);
	/* The reader opens the store now and reads when told. */
	reader = fork();
	ck_assert_int_ge(reader, 0);
	if (reader == 0) {
		struct store_account acct;
		const char *error;
		int ret = -1;

		close(hold[1]);
		if (store_open(test_store_dir, NULL, &store, &error) < 0) {
			fprintf(stderr, "store_open: %s\n", error);
			_exit(1);
		}
		if (write(ready[1], "r", 1) == 1 && read(go[0], &byte, 1) == 1) {
			ret = store_account_get(store, "a@example.test", &acct, &error);
			if (ret == 0)
				store_account_clear(&acct);
			else
				fprintf(stderr, "store_account_get: %s\n", error);
		}
		store_close(&store);
		_exit(ret == 0 ? 0 : 1);
	}
	ck_assert_int_eq(read(ready[0], &byte, 1), 1);
	/* Fill every free slot with a reader that then dies. */
	for (int i = 0; ; i++) {
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			MDB_env *env;
			MDB_txn *txn;

			close(hold[1]);
			if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 32) != 0 ||
			    mdb_env_open(env, test_store_dir, MDB_NOTLS, 0600) != 0) {
				(void)write(ready[1], "e", 1);
				_exit(1);
			}
			if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == MDB_READERS_FULL) {
				mdb_env_close(env);
				(void)write(ready[1], "f", 1);
				_exit(3);
			}
			/* A slot held: now killed by the parent. */
			if (write(ready[1], "v", 1) == 1)
				for (;;)
					pause();
			_exit(2);
		}
		/* The filler says whether it holds a slot (v), found the
		 * table full (f) or failed (e). */
		ck_assert_int_eq(read(ready[0], &byte, 1), 1);
		if (byte == 'v')
			kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
			break;
		ck_assert_msg(WIFSIGNALED(status), "filler %d: status %d", i, status);
		ck_assert_int_lt(i, 200);
	}
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	test_wait_ok(reader);
	close(hold[1]);
	test_wait_ok(holder);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	close(hold[0]);
}
END_TEST

/* PostgreSQL: a database without our schema is refused unless
 * create, and left without one; create makes it once; a newer schema
 * version is refused and left as it is. */
START_TEST(pg_schema)
{
	struct store_options opts = { 0 };
	struct store_folder folder = { 0 }, got;
	struct store_batch_msg msg = { 3, 30, "01-Jan-2010 10:00:00 +0000", "", 1, 0 };
	struct store_batch batch = { (char *)"INBOX", 7, (char *)"INBOX", 8, 4, &msg, 1 };
	struct store_batch pending;
	char *folders[1] = { (char *)"INBOX" };
	struct store *store = NULL;
	const char *error;

	ck_assert_int_eq(store_open(test_store_dir, &opts, &store, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "has no mailmigrate schema: run "
				     "`mailmigrate init` first"));
	ck_assert_int_eq(test_pg_value("SELECT count(*) FROM pg_namespace"
				       " WHERE nspname = 'mailmigrate'"), 0);
	store = test_open(0, 0);
	ck_assert(store_was_created(store));
	store_close(&store);
	store = test_open(0, 0);
	ck_assert(!store_was_created(store));
	store_close(&store);
	ck_assert_int_eq(test_pg_value("SELECT value FROM mailmigrate.meta"
				       " WHERE name = 'schema_version'"), 7);
	/* A version 1 store (before the progress table, the folders'
	 * HIGHESTMODSEQ and the Sieve records): refused without create, upgraded by it step by
	 * step, its data kept, the folder's HIGHESTMODSEQ unknown (0). */
	store = test_open(0, 0);
	test_add(store, "a@example.test", NULL, 1);
	folder.account = (char *)"a@example.test";
	folder.name = (char *)"INBOX";
	folder.target_name = (char *)"INBOX";
	folder.uidvalidity = 7;
	folder.last_uid = 9;
	ck_assert_int_eq(store_folder_put(store, &folder, &error), 0);
	ck_assert_int_eq(store_batch_begin(store, "a@example.test", 0, &batch, &error), 0);
	store_close(&store);
	/* (schema 5's split table and batch slots gone too, schema 6's
	 * DAV records and schema 7's ACL records) */
	test_pg_exec(test_pg_conninfo(), "DROP TABLE mailmigrate.progress;"
		     " DROP TABLE mailmigrate.dav;"
		     " DROP TABLE mailmigrate.acl;"
		     " DROP TABLE mailmigrate.split;"
		     " ALTER TABLE mailmigrate.batches DROP CONSTRAINT batches_pkey;"
		     " ALTER TABLE mailmigrate.batches DROP COLUMN slot;"
		     " ALTER TABLE mailmigrate.batches ADD PRIMARY KEY (account);"
		     " DROP TABLE mailmigrate.sieve;"
		     " ALTER TABLE mailmigrate.folders DROP COLUMN highestmodseq;"
		     " UPDATE mailmigrate.meta SET value = 1"
		     " WHERE name = 'schema_version'");
	ck_assert_int_eq(store_open(test_store_dir, &opts, &store, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "has schema version 1, older than "
				     "this mailmigrate: run `mailmigrate init`"));
	store = test_open(0, 0);
	ck_assert(!store_was_created(store));
	store_close(&store);
	ck_assert_int_eq(test_pg_value("SELECT value FROM mailmigrate.meta"
				       " WHERE name = 'schema_version'"), 7);
	ck_assert_int_eq(test_pg_value("SELECT count(*) FROM mailmigrate.progress"), 0);
	ck_assert_int_eq(test_pg_value("SELECT count(*) FROM mailmigrate.sieve"), 0);
	ck_assert_int_eq(test_pg_value("SELECT count(*) FROM mailmigrate.dav"), 0);
	ck_assert_int_eq(test_pg_value("SELECT count(*) FROM mailmigrate.acl"), 0);
	ck_assert_int_eq(test_pg_value("SELECT count(*) FROM mailmigrate.accounts"), 1);
	store = test_open(0, 0);
	ck_assert_int_eq(store_folder_get(store, "a@example.test", "INBOX", &got,
					  &error), 0);
	ck_assert_uint_eq(got.last_uid, 9);
	ck_assert_uint_eq(got.highestmodseq, 0);
	store_folder_clear(&got);
	/* The batch pending before slots is slot 0's; slot 1 is free. */
	ck_assert_int_eq(store_batch_pending(store, "a@example.test", 0, &pending,
					     &error), 0);
	ck_assert_uint_eq(pending.msgs[0].old_uid, 3);
	store_batch_clear(&pending);
	ck_assert_int_eq(store_batch_pending(store, "a@example.test", 1, &pending,
					     &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_batch_begin(store, "a@example.test", 1, &batch, &error), 0);
	ck_assert_int_eq(store_split_publish(store, "a@example.test", "h:1", folders, 1,
					     1, &error), 0);
	store_close(&store);
	test_pg_exec(test_pg_conninfo(), "UPDATE mailmigrate.meta SET value = 99"
		     " WHERE name = 'schema_version'");
	opts.create = 1;
	ck_assert_int_eq(store_open(test_store_dir, &opts, &store, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "schema version 99, newer than this "
				     "mailmigrate"));
	ck_assert_int_eq(test_pg_value("SELECT value FROM mailmigrate.meta"
				       " WHERE name = 'schema_version'"), 99);
}
END_TEST

/* PostgreSQL: no server there is an error naming where (and never a
 * crash); a connection the server closed (a restart, a failover,
 * pg_terminate_backend) is made again by the next call, for reads,
 * single writes and transactions alike. */
START_TEST(pg_reconnect)
{
	struct store_options opts = { .create = 1, .connect_timeout = 2 };
	struct store_account acct;
	struct store *store = NULL;
	const char *error;
	int paused;

	ck_assert_int_eq(store_open("postgresql:host=127.0.0.1 port=1 dbname=x "
				    "sslmode=disable", &opts, &store, &error), -1);
	ck_assert_ptr_null(store);
	ck_assert_ptr_nonnull(strstr(error, "127.0.0.1:1/x: cannot connect"));
	store = test_open(0, 0);
	test_add(store, "a@example.test", NULL, 1);
	for (int round = 0; round < 3; round++) {
		test_pg_exec(test_pg_conninfo(), "SELECT pg_terminate_backend(pid)"
			     " FROM pg_stat_activity WHERE datname = current_database()"
			     " AND pid <> pg_backend_pid()");
		/* Until they are gone: a session ended while idle is
		 * found before a statement is sent (a write is never sent
		 * twice, so a session that breaks under it would be a
		 * failure). */
		for (int i = 0; test_pg_value("SELECT count(*) FROM pg_stat_activity"
					      " WHERE datname = current_database()"
					      " AND pid <> pg_backend_pid()") > 0; i++) {
			ck_assert_int_lt(i, 1000);
			usleep(10000);
		}
		switch (round) {
		case 0:
			ck_assert_int_eq(store_account_get(store, "a@example.test",
							   &acct, &error), 0);
			store_account_clear(&acct);
			break;
		case 1:
			ck_assert_msg(store_set_paused(store, 1, &error) == 0, "%s",
				      error);
			break;
		case 2:
			test_add(store, "b@example.test", NULL, 2);
			break;
		}
	}
	ck_assert_int_eq(store_paused(store, &paused, &error), 0);
	ck_assert_int_eq(paused, 1);
	store_close(&store);
}
END_TEST

static Suite *open_suite(void)
{
	Suite *s = suite_create("store_open");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, spec_refused);
	tcase_add_test(tc, readonly_refuses_writes);
	if (test_is_pgsql()) {
		tcase_add_test(tc, pg_schema);
		tcase_add_test(tc, pg_reconnect);
	} else {
		/* What LMDB's files and reader table can go through. */
		tcase_add_test(tc, missing_directory);
		tcase_add_test(tc, empty_directory);
		tcase_add_test(tc, directory_is_a_file);
		tcase_add_loop_test(tc, foreign_datafile, 0, 3);
		tcase_add_test(tc, foreign_lmdb);
		tcase_add_test(tc, unknown_schema_version);
		tcase_add_test(tc, create_then_reopen);
		tcase_add_test(tc, store_spec);
		tcase_add_test(tc, stale_reader_slots);
		tcase_add_test(tc, full_reader_table_reclaimed);
	}
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(open_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
