/*
 * NAME
 *	test_util 3h
 * SUMMARY
 *	fixtures shared by the store unit tests
 * DESCRIPTION
 *	Each test gets a fresh temp directory; the store under it is
 *	opened with small maps so growth paths run quickly. Times are
 *	passed explicitly, never read from the clock.
 *
 *	With MM_TEST_PGSQL set to a libpq conninfo (a superuser on a test
 *	server, tests/harness/pgsql.sh), the store is PostgreSQL instead:
 *	the database mmtest_PROGRAM (made if missing), its mailmigrate
 *	schema dropped before each test. test_is_pgsql() tells a test
 *	that looks at LMDB's files to skip itself.
 */
#ifndef MM_TEST_UTIL_H
#define MM_TEST_UTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <errno.h>
#include <libpq-fe.h>

#include "crypto.h"
#include "mm_alloc.h"
#include "store.h"

static char test_dir[64];
/* The store spec: the LMDB directory, or "postgresql:..." */
static char test_store_dir[1024];

static inline int test_is_pgsql(void)
{
	const char *c = getenv("MM_TEST_PGSQL");

	return c != NULL && *c != '\0';
}

static inline void test_pg_notice_drop(void *ctx, const char *message)
{
	(void)ctx;
	(void)message;
}

/* Run sql on conninfo; fail the test on an error. */
static inline void test_pg_exec(const char *conninfo, const char *sql)
{
	PGconn *conn = PQconnectdb(conninfo);
	PGresult *res;

	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "%s: %s", conninfo,
		      PQerrorMessage(conn));
	PQsetNoticeProcessor(conn, test_pg_notice_drop, NULL);
	res = PQexec(conn, sql);
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK ||
		      PQresultStatus(res) == PGRES_TUPLES_OK,
		      "%s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
}

/* A fresh PostgreSQL store: mmtest_PROGRAM without our schema. */
static inline void test_pg_setup(void)
{
	const char *base = getenv("MM_TEST_PGSQL");
	char db[64], sql[256], conninfo[900];
	PGconn *conn;
	PGresult *res;
	size_t n = 0;

	n = (size_t)snprintf(db, sizeof(db), "mmtest_");
	for (const char *p = program_invocation_short_name; *p != '\0' &&
	     n + 1 < sizeof(db); p++)
		db[n++] = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ?
			*p : '_';
	db[n] = '\0';
	conn = PQconnectdb(base);
	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "MM_TEST_PGSQL: %s",
		      PQerrorMessage(conn));
	snprintf(sql, sizeof(sql), "SELECT 1 FROM pg_database WHERE datname = '%s'",
		 db);
	res = PQexec(conn, sql);
	ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	if (PQntuples(res) == 0) {
		PQclear(res);
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
		res = PQexec(conn, sql);
		ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s: %s",
			      sql, PQerrorMessage(conn));
	}
	PQclear(res);
	PQfinish(conn);
	snprintf(conninfo, sizeof(conninfo), "%s dbname=%s", base, db);
	test_pg_exec(conninfo, "DROP SCHEMA IF EXISTS mailmigrate CASCADE");
	snprintf(test_store_dir, sizeof(test_store_dir), "postgresql:%s", conninfo);
}

/* The PostgreSQL test store's conninfo (test_store_dir without its
 * "postgresql:"). */
static inline const char *test_pg_conninfo(void)
{
	return test_store_dir + strlen("postgresql:");
}

/* The first column of the first row of sql on the test store, as a
 * number. */
static inline long long test_pg_value(const char *sql)
{
	PGconn *conn = PQconnectdb(test_pg_conninfo());
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

static inline void test_setup(void)
{
	snprintf(test_dir, sizeof(test_dir), "/tmp/mmstore.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(test_dir));
	if (test_is_pgsql())
		test_pg_setup();
	else
		snprintf(test_store_dir, sizeof(test_store_dir), "%s/state",
			 test_dir);
}

static inline void test_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A full key (version-1 key and X25519 pair) of fill bytes, loaded
 * from a key file as the programs do. */
static inline void test_key(struct crypto_key *key, unsigned char fill)
{
	unsigned char buf[CRYPTO_KEY_FILE_LEN];
	char path[128];
	const char *error;
	FILE *f;

	/* Per process: concurrent tests open the store at once. */
	snprintf(path, sizeof(path), "%s/key%u.%ld", test_dir, fill, (long)getpid());
	memset(buf, fill, sizeof(buf));
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, sizeof(buf), f), sizeof(buf));
	fclose(f);
	ck_assert_int_eq(chmod(path, 0600), 0);
	ck_assert_msg(crypto_key_load(path, key, &error) == 0, "%s", error);
}

/* Open (creating) the test store, with a known key. */
static inline struct store *test_open(uint64_t initial, uint64_t max)
{
	struct store_options opts = { .create = 1, .initial_map_size = initial,
				      .max_map_size = max };
	struct crypto_key key;
	struct store *store;
	const char *error;

	ck_assert_msg(store_open(test_store_dir, &opts, &store, &error) == 0,
		      "store_open: %s", error);
	test_key(&key, 0x5a);
	store_set_key(store, &key);
	crypto_key_wipe(&key);
	return store;
}

/* Create an account queued in domain example.test. */
static inline void test_add(struct store *store, const char *name,
			    const char *password, time_t now)
{
	struct store_account acct = { 0 };
	const char *error;
	int ret;

	acct.name = (char *)name;
	acct.domain = (char *)"example.test";
	acct.state = STORE_STATE_QUEUED;
	acct.password_hash = (char *)"{SHA512-CRYPT}$6$x$y";
	ret = store_account_create(store, &acct, password, now, &error);
	ck_assert_msg(ret == 0, "create %s: %d %s", name, ret, ret < 0 ? error : "");
}

/* Wait for pid and require a clean exit 0. */
static inline void test_wait_ok(pid_t pid)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child %d failed (status %d)", (int)pid, status);
}

#endif
