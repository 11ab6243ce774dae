/*
 * NAME
 *	test_relay_map 1
 * SUMMARY
 *	unit tests: the transport, mailbox and alias maps against a real
 *	store and configuration; late mail; a store error is TEMP
 */
#include "config.h"

#include <lmdb.h>
#include <poll.h>
#include <time.h>

#include "../store/test_util.h"
#include "../store/store_lmdb.h"
#include "cfg.h"
#include "relay.h"

static const char conf_text[] =
	"[domain example.test]\n"
	"type = backup\n"
	"source_host = 192.0.2.1\n"
	"[domain done.test]\n"
	"type = standard\n"
	"[domain hop.test]\n"
	"source_host = 192.0.2.7:143\n"
	"relay_nexthop = relay:[old.hop.test]:2525\n";

static struct cfg *conf;
static struct store *store;
static struct relay_maps maps;

static void map_setup(void)
{
	const char *error;

	test_setup();
	ck_assert_msg(cfg_load_string("test.conf", conf_text, &conf, &error) == 0,
		      "%s", error);
	store = test_open(0, 0);
	memset(&maps, 0, sizeof(maps));
	maps.cfg = conf;
	maps.store = store;
	maps.late = relay_late_new();
}

static void map_teardown(void)
{
	relay_late_free(&maps.late);
	store_close(&store);
	cfg_free(&conf);
	test_teardown();
}

static void add_in_state(const char *name, const char *domain,
			 enum store_state state)
{
	struct store_account acct = { 0 };
	const char *error;

	acct.name = (char *)name;
	acct.domain = (char *)domain;
	acct.state = state;
	ck_assert_int_eq(store_account_create(store, &acct, NULL, 100, &error), 0);
}

static const struct {
	enum relay_map map;
	const char *key;
	enum relay_status status;
	const char *data;	/* on OK */
} cases[] = {
	/* transport: unknown or queued in a backup domain go to OLD */
	{ RELAY_MAP_TRANSPORT, "nobody@example.test", RELAY_OK, "smtp:[192.0.2.1]:25" },
	{ RELAY_MAP_TRANSPORT, "NoBody@Example.TEST", RELAY_OK, "smtp:[192.0.2.1]:25" },
	{ RELAY_MAP_TRANSPORT, "queued@example.test", RELAY_OK, "smtp:[192.0.2.1]:25" },
	{ RELAY_MAP_TRANSPORT, "migrating@example.test", RELAY_NOTFOUND, NULL },
	{ RELAY_MAP_TRANSPORT, "copied@example.test", RELAY_NOTFOUND, NULL },
	{ RELAY_MAP_TRANSPORT, "finished@example.test", RELAY_NOTFOUND, NULL },
	{ RELAY_MAP_TRANSPORT, "failed@example.test", RELAY_NOTFOUND, NULL },
	{ RELAY_MAP_TRANSPORT, "pwonly@example.test", RELAY_NOTFOUND, NULL },
	/* aliases resolve first */
	{ RELAY_MAP_TRANSPORT, "q-alias@example.test", RELAY_OK, "smtp:[192.0.2.1]:25" },
	{ RELAY_MAP_TRANSPORT, "c-alias@example.test", RELAY_NOTFOUND, NULL },
	/* the domain's own next hop; standard and unknown domains stay */
	{ RELAY_MAP_TRANSPORT, "x@hop.test", RELAY_OK, "relay:[old.hop.test]:2525" },
	{ RELAY_MAP_TRANSPORT, "x@done.test", RELAY_NOTFOUND, NULL },
	{ RELAY_MAP_TRANSPORT, "x@elsewhere.test", RELAY_NOTFOUND, NULL },
	/* Postfix's other keys */
	{ RELAY_MAP_TRANSPORT, "*", RELAY_NOTFOUND, NULL },
	{ RELAY_MAP_TRANSPORT, "example.test", RELAY_NOTFOUND, NULL },
	{ RELAY_MAP_TRANSPORT, "@example.test", RELAY_NOTFOUND, NULL },
	{ RELAY_MAP_TRANSPORT, "user@", RELAY_NOTFOUND, NULL },
	/* mailbox: known accounts anywhere, anyone in a backup domain */
	{ RELAY_MAP_MAILBOX, "copied@example.test", RELAY_OK, "copied@example.test" },
	{ RELAY_MAP_MAILBOX, "nobody@example.test", RELAY_OK, "nobody@example.test" },
	{ RELAY_MAP_MAILBOX, "done@done.test", RELAY_OK, "done@done.test" },
	{ RELAY_MAP_MAILBOX, "nobody@done.test", RELAY_NOTFOUND, NULL },
	{ RELAY_MAP_MAILBOX, "nobody@elsewhere.test", RELAY_NOTFOUND, NULL },
	{ RELAY_MAP_MAILBOX, "c-alias@example.test", RELAY_OK, "copied@example.test" },
	/* Local parts that would reach a path on NEW: no mailbox. */
	{ RELAY_MAP_MAILBOX, "../etc@example.test", RELAY_NOTFOUND, NULL },
	{ RELAY_MAP_MAILBOX, "a/b@example.test", RELAY_NOTFOUND, NULL },
	{ RELAY_MAP_MAILBOX, "a%d@example.test", RELAY_NOTFOUND, NULL },
	{ RELAY_MAP_MAILBOX, ".x@example.test", RELAY_NOTFOUND, NULL },
	{ RELAY_MAP_MAILBOX, "a..b@example.test", RELAY_NOTFOUND, NULL },
	/* alias */
	{ RELAY_MAP_ALIAS, "q-alias@example.test", RELAY_OK, "queued@example.test" },
	{ RELAY_MAP_ALIAS, "Q-Alias@example.test", RELAY_OK, "queued@example.test" },
	{ RELAY_MAP_ALIAS, "queued@example.test", RELAY_NOTFOUND, NULL },
	{ RELAY_MAP_ALIAS, "*", RELAY_NOTFOUND, NULL },
};

static void fill_store(void)
{
	const char *error;

	add_in_state("queued@example.test", "example.test", STORE_STATE_QUEUED);
	add_in_state("migrating@example.test", "example.test", STORE_STATE_MIGRATING);
	add_in_state("copied@example.test", "example.test", STORE_STATE_COPIED);
	add_in_state("finished@example.test", "example.test", STORE_STATE_FINISHED);
	add_in_state("failed@example.test", "example.test", STORE_STATE_FAILED);
	add_in_state("pwonly@example.test", "example.test",
		     STORE_STATE_PASSWORDS_ONLY);
	add_in_state("done@done.test", "done.test", STORE_STATE_FINISHED);
	ck_assert_int_eq(store_account_add_alias(store, "queued@example.test",
						 "q-alias@example.test", &error), 0);
	ck_assert_int_eq(store_account_add_alias(store, "copied@example.test",
						 "c-alias@example.test", &error), 0);
}

START_TEST(map_table)
{
	char data[RELAY_MAX_DATA];
	enum relay_status st;

	fill_store();
	st = relay_map_lookup(&maps, cases[_i].map, cases[_i].key, data,
			      sizeof(data));
	ck_assert_msg(st == cases[_i].status, "%s %s: %s, want %s",
		      relay_map_name(cases[_i].map), cases[_i].key,
		      relay_status_name(st), relay_status_name(cases[_i].status));
	if (st == RELAY_OK)
		ck_assert_str_eq(data, cases[_i].data);
}
END_TEST

/* Transport OK for a queued account counts late mail, once per flush;
 * unknown recipients and local ones do not. */
START_TEST(map_late_mail)
{
	struct store_account acct;
	char data[RELAY_MAX_DATA];
	const char *error;

	fill_store();
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
						  "queued@example.test", data,
						  sizeof(data)), RELAY_OK);
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
					  "q-alias@example.test", data,
					  sizeof(data)), RELAY_OK);
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
					  "nobody@example.test", data,
					  sizeof(data)), RELAY_OK);
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
					  "copied@example.test", data,
					  sizeof(data)), RELAY_NOTFOUND);
	ck_assert_uint_eq(relay_late_pending(maps.late), 1);
	ck_assert_int_eq(relay_late_flush(maps.late, store, 200), 0);
	ck_assert_uint_eq(relay_late_pending(maps.late), 0);
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
					  "queued@example.test", data,
					  sizeof(data)), RELAY_OK);
	/* Within the window: not counted again; after it, counted. */
	ck_assert_int_eq(relay_late_flush(maps.late, store, 201), 0);
	ck_assert_uint_eq(relay_late_pending(maps.late), 0);
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
					  "queued@example.test", data,
					  sizeof(data)), RELAY_OK);
	ck_assert_int_eq(relay_late_flush(maps.late, store, 200 + RELAY_LATE_WINDOW), 0);
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
					  "queued@example.test", data,
					  sizeof(data)), RELAY_OK);
	ck_assert_int_eq(relay_late_flush(maps.late, store, 201 + RELAY_LATE_WINDOW), 0);
	ck_assert_int_eq(store_account_get(store, "queued@example.test", &acct,
					   &error), 0);
	ck_assert_uint_eq(acct.late_mail, 2);
	store_account_clear(&acct);
	ck_assert_int_eq(store_account_get(store, "copied@example.test", &acct,
					   &error), 0);
	ck_assert_uint_eq(acct.late_mail, 0);
	store_account_clear(&acct);
	ck_assert_uint_eq(maps.to_old, 8);
}
END_TEST

/* The pending set: duplicates once, bounded, emptied by a flush; an
 * account counted is not counted again until the window is over. */
START_TEST(late_table_bounded)
{
	struct relay_late *late = relay_late_new();
	char name[64];

	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "u%d@example.test", i % 18000);
		relay_late_note(late, name);
	}
	ck_assert_uint_eq(relay_late_pending(late), 16384);
	/* 1024 accounts per flush; unknown ones are skipped, not an error. */
	ck_assert_int_eq(relay_late_flush(late, store, 300), 0);
	ck_assert_uint_eq(relay_late_pending(late), 16384 - 1024);
	relay_late_note(late, "u5000@example.test");	/* still pending */
	ck_assert_uint_eq(relay_late_pending(late), 16384 - 1024);
	for (int i = 0; i < 15; i++)
		ck_assert_int_eq(relay_late_flush(late, store, 300), 0);
	ck_assert_uint_eq(relay_late_pending(late), 0);
	/* Within the window only the ones dropped before come back. */
	for (int i = 0; i < 18000; i++) {
		snprintf(name, sizeof(name), "u%d@example.test", i);
		relay_late_note(late, name);
	}
	ck_assert_uint_eq(relay_late_pending(late), 18000 - 16384);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(relay_late_flush(late, store, 301), 0);
	ck_assert_uint_eq(relay_late_pending(late), 0);
	/* A new window: counted again. */
	ck_assert_int_eq(relay_late_flush(late, store, 300 + RELAY_LATE_WINDOW), 0);
	relay_late_note(late, "u1@example.test");
	relay_late_note(late, "u1@example.test");
	ck_assert_uint_eq(relay_late_pending(late), 1);
	relay_late_free(&late);
	ck_assert_ptr_null(late);
}
END_TEST

/* Milliseconds on the monotonic clock. */
static uint64_t test_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Inside the holder's write transaction: say so, then keep LMDB's
 * write lock until told to let go (3 s at most). */
static int hold_write_lock(struct store *s, MDB_txn *txn, void *ctx,
			   const char **error_r)
{
	const int *fds = ctx;
	struct pollfd pfd = { fds[0], POLLIN, 0 };

	(void)s;
	(void)txn;
	(void)error_r;
	if (write(fds[1], "x", 1) != 1)
		return -1;
	(void)poll(&pfd, 1, 3000);
	return 0;
}

/* The late mail write is not the event loop's: while another process
 * holds the store's write lock, lookups and flushes go on at once, and
 * the count lands once the lock is free. */
START_TEST(late_write_off_the_loop)
{
	struct store_options opts = { 0 };
	struct store_account acct;
	char data[RELAY_MAX_DATA], c;
	const char *error;
	int go[2], ready[2], hold[2];
	uint64_t t0, spent, late_mail;
	pid_t holder;

	add_in_state("queued@example.test", "example.test", STORE_STATE_QUEUED);
	/* The writer and the holder are forked while this process has no
	 * store open, as the relay does (LMDB handles do not survive fork). */
	store_close(&store);
	ck_assert_int_eq(relay_late_start(maps.late, test_store_dir, &opts, &error), 0);
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(ready), 0);
	holder = fork();
	ck_assert_int_ge(holder, 0);
	if (holder == 0) {
		struct store *s;
		int ret;

		hold[0] = go[0];
		hold[1] = ready[1];
		if (store_open(test_store_dir, &opts, &s, &error) < 0)
			_exit(1);
		ret = store_write(s, hold_write_lock, hold, &error);
		store_close(&s);
		_exit(ret == 0 ? 0 : 1);
	}
	store = test_open(0, 0);
	maps.store = store;
	ck_assert_int_eq(read(ready[0], &c, 1), 1);	/* the lock is held */
	t0 = test_ms();
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
						  "queued@example.test", data,
						  sizeof(data)), RELAY_OK);
		ck_assert_int_eq(relay_late_flush(maps.late, store, 200 + i), 0);
		ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_MAILBOX,
						  "queued@example.test", data,
						  sizeof(data)), RELAY_OK);
	}
	spent = test_ms() - t0;
	ck_assert_msg(spent < 2000, "lookups and flushes took %llu ms while "
		      "the store was locked", (unsigned long long)spent);
	ck_assert_uint_eq(relay_late_pending(maps.late), 0);
	ck_assert_int_eq(store_account_get(store, "queued@example.test", &acct,
					   &error), 0);
	ck_assert_uint_eq(acct.late_mail, 0);	/* not written yet */
	store_account_clear(&acct);
	/* Let go: the writer adds the count, once. */
	ck_assert_int_eq(write(go[1], "x", 1), 1);
	test_wait_ok(holder);
	t0 = test_ms();
	do {
		ck_assert_int_eq(store_account_get(store, "queued@example.test",
						   &acct, &error), 0);
		late_mail = acct.late_mail;
		store_account_clear(&acct);
		if (late_mail == 0)
			(void)poll(NULL, 0, 20);
	} while (late_mail == 0 && test_ms() - t0 < 10000);
	ck_assert_uint_eq(late_mail, 1);
	close(go[0]);
	close(go[1]);
	close(ready[0]);
	close(ready[1]);
}
END_TEST

/* A damaged account record is a store error: TEMP, never a route. */
START_TEST(map_store_error_is_temp)
{
	char data[RELAY_MAX_DATA];
	const char *error;
	struct store_account acct = { 0 };

	add_in_state("queued@example.test", "example.test", STORE_STATE_QUEUED);
	/* An unknown state number makes the record fail to decode. */
	ck_assert_int_eq(store_account_get(store, "queued@example.test", &acct,
					   &error), 0);
	acct.state = (enum store_state)99;
	ck_assert_int_eq(store_account_put(store, &acct, &error), 0);
	store_account_clear(&acct);
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
					  "queued@example.test", data,
					  sizeof(data)), RELAY_TEMP);
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_MAILBOX,
					  "queued@example.test", data,
					  sizeof(data)), RELAY_TEMP);
	ck_assert_uint_eq(maps.temp, 2);
}
END_TEST

/* Every answer is counted by map and answer, timed, and shown on the
 * page with the names Prometheus will see. */
START_TEST(map_metrics_counted)
{
	uint64_t want[RELAY_MAP_COUNT][RELAY_STATUS_COUNT] = { { 0 } };
	char data[RELAY_MAX_DATA], line[200];
	struct metrics_text t;

	fill_store();
	relay_metrics_init(&maps);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(relay_map_lookup(&maps, cases[i].map, cases[i].key,
						  data, sizeof(data)), cases[i].status);
		want[cases[i].map][cases[i].status]++;
	}
	for (int m = 0; m < RELAY_MAP_COUNT; m++) {
		uint64_t all = 0;

		for (int a = 0; a < RELAY_STATUS_COUNT; a++) {
			ck_assert_uint_eq(maps.answers[m][a], want[m][a]);
			all += want[m][a];
		}
		ck_assert_uint_eq(maps.latency[m].count, all);
		ck_assert_uint_eq(maps.lookups[m], all);
		/* Microseconds on LMDB: never past the last bound. */
		ck_assert_uint_eq(maps.latency[m].counts[maps.latency[m].nbounds], 0);
	}
	metrics_text_init(&t);
	relay_metrics_render(&t, &maps, 3);
	snprintf(line, sizeof(line), "\nmailmigrate_relay_lookups_total{map=\"transport\","
		 "answer=\"ok\"} %llu\n",
		 (unsigned long long)want[RELAY_MAP_TRANSPORT][RELAY_OK]);
	ck_assert_msg(strstr(t.data, line) != NULL, "%s not in\n%s", line, t.data);
	snprintf(line, sizeof(line), "\nmailmigrate_relay_lookups_total{map=\"alias\","
		 "answer=\"notfound\"} %llu\n",
		 (unsigned long long)want[RELAY_MAP_ALIAS][RELAY_NOTFOUND]);
	ck_assert_msg(strstr(t.data, line) != NULL, "%s not in\n%s", line, t.data);
	ck_assert_ptr_nonnull(strstr(t.data, "\nmailmigrate_relay_lookups_total{"
				     "map=\"mailbox\",answer=\"perm\"} 0\n"));
	snprintf(line, sizeof(line), "\nmailmigrate_relay_lookup_duration_seconds_bucket"
		 "{map=\"mailbox\",le=\"+Inf\"} %llu\n",
		 (unsigned long long)maps.latency[RELAY_MAP_MAILBOX].count);
	ck_assert_msg(strstr(t.data, line) != NULL, "%s not in\n%s", line, t.data);
	ck_assert_ptr_nonnull(strstr(t.data, "# TYPE mailmigrate_relay_lookup_duration"
				     "_seconds histogram\n"));
	ck_assert_ptr_nonnull(strstr(t.data, "\nmailmigrate_relay_store_errors_total 0\n"));
	ck_assert_ptr_nonnull(strstr(t.data, "\nmailmigrate_relay_clients 3\n"));
	metrics_text_free(&t);
}
END_TEST

/* Another process grows the map while the relay holds its store open
 * (with a read transaction kept for reuse): lookups go on, and see what
 * that process wrote. */
START_TEST(map_grown_by_other_process)
{
	char data[RELAY_MAX_DATA], text[STORE_MAX_EVENT_TEXT];
	int go[2];
	const char *error;
	pid_t pid;
	char c;

	/* No handle may cross fork(): close ours, open again after. */
	store_close(&store);
	memset(text, 'g', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	ck_assert_int_eq(pipe(go), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct store *child;
		int bad;

		close(go[1]);
		bad = read(go[0], &c, 1) != 1;
		child = test_open(1 << 20, 64 << 20);
		for (int i = 0; i < 2000 && !bad; i++)
			bad |= store_event_add(child, i, LOG_SEV_INFO, "c", text,
					       &error) != 0;
		if (!bad) {
			struct store_account acct = { 0 };

			acct.name = (char *)"late@example.test";
			acct.domain = (char *)"example.test";
			acct.state = STORE_STATE_COPIED;
			bad = store_account_create(child, &acct, NULL, 1, &error) != 0;
		}
		store_close(&child);
		_exit(bad);
	}
	close(go[0]);
	store = test_open(1 << 20, 64 << 20);
	maps.store = store;
	add_in_state("queued@example.test", "example.test", STORE_STATE_QUEUED);
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
					  "late@example.test", data, sizeof(data)),
			 RELAY_OK);	/* unknown yet: OLD */
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	close(go[1]);
	test_wait_ok(pid);
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
					  "late@example.test", data, sizeof(data)),
			 RELAY_NOTFOUND);	/* copied: NEW */
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
					  "queued@example.test", data, sizeof(data)),
			 RELAY_OK);
	ck_assert_int_eq(relay_late_flush(maps.late, store, 500), 0);
	ck_assert_uint_eq(maps.temp, 0);
}
END_TEST

/* A store left by an older version can index an alias of the same name
 * as an account (it was created after the alias was gathered): every
 * map answers for the account, and Postfix never rewrites it to the
 * alias's owner. */
START_TEST(map_account_before_alias)
{
	char data[RELAY_MAX_DATA];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { strlen("copied@example.test"), (void *)"copied@example.test" };
	MDB_val v = { strlen("queued@example.test"), (void *)"queued@example.test" };

	fill_store();
	store_close(&store);
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 32), 0);
	ck_assert_int_eq(mdb_env_open(env, test_store_dir, MDB_NOTLS, 0660), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "aliases", 0, &dbi), 0);
	ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	store = test_open(0, 0);
	maps.store = store;
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_ALIAS, "copied@example.test",
					  data, sizeof(data)), RELAY_NOTFOUND);
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_MAILBOX, "copied@example.test",
					  data, sizeof(data)), RELAY_OK);
	ck_assert_str_eq(data, "copied@example.test");
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
					  "copied@example.test", data, sizeof(data)),
			 RELAY_NOTFOUND);
}
END_TEST

static time_t cache_now;

static time_t cache_clock(void)
{
	return cache_now;
}

/* With a cache, a change in the store is seen once the lifetime is
 * over, and not before; unknown addresses are kept too; a failure is
 * never kept. */
START_TEST(map_cache_lifetime)
{
	char data[RELAY_MAX_DATA];
	uint64_t hits, misses;
	const char *error;

	add_in_state("bob@example.test", "example.test", STORE_STATE_QUEUED);
	maps.cache = relay_cache_new(64, 5);
	maps.clock = cache_clock;
	cache_now = 1000;
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
					  "bob@example.test", data, sizeof(data)),
			 RELAY_OK);
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
					  "nobody@example.test", data, sizeof(data)),
			 RELAY_OK);
	ck_assert_int_eq(store_account_set_state(store, "bob@example.test",
						 STORE_STATE_MIGRATING, 200, &error), 0);
	add_in_state("nobody@example.test", "example.test", STORE_STATE_COPIED);
	/* Within the lifetime: what was learned at 1000. */
	cache_now = 1004;
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
					  "bob@example.test", data, sizeof(data)),
			 RELAY_OK);
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_MAILBOX,
					  "nobody@example.test", data, sizeof(data)),
			 RELAY_OK);
	ck_assert_str_eq(data, "nobody@example.test");	/* backup-domain rule */
	relay_cache_counts(maps.cache, &hits, &misses);
	ck_assert_uint_eq(hits, 2);
	ck_assert_uint_eq(misses, 2);
	/* Then the store again. */
	cache_now = 1005;
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
					  "bob@example.test", data, sizeof(data)),
			 RELAY_NOTFOUND);
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
					  "nobody@example.test", data, sizeof(data)),
			 RELAY_NOTFOUND);
	relay_cache_counts(maps.cache, &hits, &misses);
	ck_assert_uint_eq(misses, 4);
	/* A clock that went back is no reason to trust an entry. */
	cache_now = 900;
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
					  "bob@example.test", data, sizeof(data)),
			 RELAY_NOTFOUND);
	relay_cache_counts(maps.cache, &hits, &misses);
	ck_assert_uint_eq(misses, 5);
	/* No cache for a lifetime or size of 0. */
	ck_assert_ptr_null(relay_cache_new(64, 0));
	ck_assert_ptr_null(relay_cache_new(0, 5));
	relay_cache_free(&maps.cache);
	maps.clock = NULL;
}
END_TEST

/* The cache holds size addresses at most: the one learned longest ago
 * goes first; an address asked again is learned again (it does not
 * take a second entry). */
START_TEST(map_cache_bound)
{
	char data[RELAY_MAX_DATA], addr[64];
	uint64_t hits, misses;

	add_in_state("bob@example.test", "example.test", STORE_STATE_QUEUED);
	maps.cache = relay_cache_new(4, 60);
	maps.clock = cache_clock;
	cache_now = 1000;
	for (int i = 0; i < 5; i++) {
		snprintf(addr, sizeof(addr), "u%d@example.test", i);
		ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT, addr,
						  data, sizeof(data)), RELAY_OK);
		ck_assert_uint_eq(relay_cache_count(maps.cache), i < 4 ? i + 1 : 4);
	}
	/* u0 went; u1..u4 are kept. */
	for (int i = 4; i >= 1; i--) {
		snprintf(addr, sizeof(addr), "u%d@example.test", i);
		ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_MAILBOX, addr,
						  data, sizeof(data)), RELAY_OK);
	}
	relay_cache_counts(maps.cache, &hits, &misses);
	ck_assert_uint_eq(hits, 4);
	ck_assert_uint_eq(misses, 5);
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
					  "u0@example.test", data, sizeof(data)),
			 RELAY_OK);
	relay_cache_counts(maps.cache, &hits, &misses);
	ck_assert_uint_eq(misses, 6);
	ck_assert_uint_eq(relay_cache_count(maps.cache), 4);
	/* u1 was the oldest: gone for u0. An expired entry asked again is
	 * learned again in its place. */
	cache_now = 1060;
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
					  "bob@example.test", data, sizeof(data)),
			 RELAY_OK);
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
					  "bob@example.test", data, sizeof(data)),
			 RELAY_OK);
	ck_assert_int_eq(relay_map_lookup(&maps, RELAY_MAP_TRANSPORT,
					  "u0@example.test", data, sizeof(data)),
			 RELAY_OK);
	relay_cache_counts(maps.cache, &hits, &misses);
	ck_assert_uint_eq(hits, 5);
	ck_assert_uint_eq(misses, 8);
	ck_assert_uint_eq(relay_cache_count(maps.cache), 4);
	relay_cache_free(&maps.cache);
	maps.clock = NULL;
}
END_TEST

static Suite *map_suite(void)
{
	Suite *s = suite_create("relay_map");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, map_setup, map_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, map_table, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, map_late_mail);
	tcase_add_test(tc, map_metrics_counted);
	tcase_add_test(tc, map_account_before_alias);
	tcase_add_test(tc, map_cache_lifetime);
	tcase_add_test(tc, map_cache_bound);
	tcase_add_test(tc, map_store_error_is_temp);
	tcase_add_test(tc, late_table_bounded);
	tcase_add_test(tc, late_write_off_the_loop);
	tcase_add_test(tc, map_grown_by_other_process);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(map_suite());
	int failed;

	log_open("test_relay_map", LOG_DEST_STDERR, NULL, NULL);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
