/*
 * NAME
 *	test_dovecot_target 1
 * SUMMARY
 *	unit tests for target_driver_dovecot against a scripted doveadm
 * DESCRIPTION
 *	For what a real doveadm will not do on demand: a wrong greeting, an
 *	exit before greeting (75: try again; 67: no such user), each NO
 *	class, an answer line over the limit, doveadm gone mid-command or
 *	silent past the deadline. The
 *	fake doveadm is this program run again (execv keeps the
 *	environment: MM_FAKE_DOVEADM names the script), so valgrind, which
 *	traces children, checks it too. The real one is exercised by
 *	tests/integration/test_dovecot_target.sh.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver.h"

static char self[4096];
static char argv_file[64];

/* The fake: answer each command line of stdin as the script says. */
static int fake_doveadm(const char *script, int argc, char **argv)
{
	char line[16384];
	FILE *f = fopen(getenv("MM_FAKE_ARGV"), "w");
	int i, appends = 0, refused = 0, saved = 0;

	for (i = 1; f != NULL && i < argc; i++)
		fprintf(f, "%s%s", i > 1 ? " " : "", argv[i]);
	if (f != NULL)
		fclose(f);
	if (strcmp(script, "exit75") == 0)
		return 75;
	if (strcmp(script, "exit67") == 0)
		return 67;
	if (strcmp(script, "badgreet") == 0) {
		printf("OK\tsomething-else\t1\n");
		return 0;
	}
	printf("OK\tmailmigrate-import\t1\t8192\t1000\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		if (strcmp(script, "die") == 0)
			return 0;
		if (strcmp(script, "hang") == 0)
			continue;	/* never answers; close kills it */
		if (strncmp(line, "QUIT", 4) == 0) {
			printf("OK\tbye\n");
			return 0;
		}
		if (strcmp(script, "long") == 0) {
			for (i = 0; i < 9000; i++)
				putchar('x');
			putchar('\n');
		} else if (strncmp(line, "FOLDER", 6) == 0) {
			if (strcmp(script, "wait") == 0)
				printf("NO\twait\tquota \001exceeded\n");
			else if (strcmp(script, "temp") == 0)
				printf("NO\ttemp\tindex locked\n");
			else
				printf("OK\t77\t10\t2\t0\t-\n");
		} else if (strncmp(line, "LIST", 4) == 0) {
			/* One line of each kind, a malformed one skipped. */
			printf("*\t/\t-\t\\Sent\tSent\n"
			       "*\t/\t\\Noselect\t-\tWork\n"
			       "*\tbad\n"
			       "*\t/\t-\t-\tK\xc3\xa4se/Alt\n"
			       "OK\n");
		} else if (strncmp(line, "STATE", 5) == 0) {
			if (strcmp(script, "oldstate") == 0)
				printf("*\t5\t10\t\\Seen\n");	/* fields missing */
			else
				printf("*\t5\t10\t\\Seen work\t1577869200\tU5\t<a@b>\n"
				       "*\t6\t11\t-\t-\t-\t-\n");
			printf("OK\t77\t7\t2\n");
		} else if (strncmp(line, "FLAGS", 5) == 0) {
			printf("OK\t1\n");
		} else if (strncmp(line, "APPEND", 6) == 0) {
			/* The literal (its size the last field) read and
			 * dropped; the first accepted with "ok2", the
			 * second refused. */
			const char *size = strrchr(line, '\t');
			long left = size != NULL ? atol(size + 1) : 0;

			while (left-- > 0 && getchar() != EOF)
				;
			if (strcmp(script, "ok2") == 0 && appends++ % 2 == 0) {
				saved++;
				printf("OK\n");
				fflush(stdout);
				continue;
			}
			refused++;
			printf(strcmp(script, "badkw") == 0 ?
			       "BAD\tAPPEND: bad keyword\n" :
			       "NO\tmessage\tmessage refused\n");
		} else if (strncmp(line, "ABORT", 5) == 0) {
			refused = saved = 0;
			printf("OK\n");
		} else if (strncmp(line, "COMMIT", 6) == 0) {
			/* The driver must not commit a batch with a refusal. */
			if (refused > 0) {
				printf("BAD\tCOMMIT after a refused APPEND\n");
			} else {
				for (i = 0; i < saved; i++)
					printf("*\t5\t%d\n", 20 + i);
				printf("OK\t%d\t77\t10\n", saved);
			}
			saved = 0;
		} else {
			printf("BAD\tunknown command\n");
		}
		fflush(stdout);
	}
	return 0;
}

static int fsync_batch;

static int open_fake(const char *script, struct driver_conn **conn_r,
		     enum stream_fail *fail_r, const char **error_r)
{
	struct driver_settings set;
	struct driver_login login;

	setenv("MM_FAKE_DOVEADM", script, 1);
	memset(&set, 0, sizeof(set));
	set.doveadm = self;
	set.doveadm_config = "/etc/new/dovecot.conf";
	set.max_message_size = 1000;
	set.timeout_ms = 3000;
	set.fsync_batch = fsync_batch;
	memset(&login, 0, sizeof(login));
	login.user = "ann@example.test";
	login.password = "secret-never-passed";
	return target_driver_dovecot.open(&set, &login, conn_r, fail_r, error_r);
}

struct refusal_case {
	const char *script;
	enum stream_fail fail;
	const char *error;	/* a part of it */
};

static const struct refusal_case open_cases[] = {
	{ "exit75", STREAM_FAIL_TEMP, "temporary failure (exit 75)" },
	{ "exit67", STREAM_FAIL_FINAL, "(exit 67: no such user)" },
	{ "badgreet", STREAM_FAIL_FINAL, "unexpected greeting" },
};

START_TEST(test_open_refused)
{
	const struct refusal_case *c = &open_cases[_i];
	struct driver_conn *conn = NULL;
	enum stream_fail fail = STREAM_FAIL_NONE;
	const char *error = "";

	ck_assert_int_eq(open_fake(c->script, &conn, &fail, &error), -1);
	ck_assert_ptr_null(conn);
	ck_assert_int_eq(fail, c->fail);
	ck_assert_msg(strstr(error, c->error) != NULL, "%s: %s", c->script, error);
}
END_TEST

static const struct refusal_case select_cases[] = {
	{ "wait", STREAM_FAIL_WAIT, "FOLDER refused by NEW's doveadm: quota ?exceeded" },
	{ "temp", STREAM_FAIL_TEMP, "index locked" },
	{ "die", STREAM_FAIL_TEMP, "ended unexpectedly" },
	{ "long", STREAM_FAIL_FINAL, "malformed answer line" },
	{ "hang", STREAM_FAIL_TEMP, "no answer in 3000 ms" },
};

START_TEST(test_select_refused)
{
	const struct refusal_case *c = &select_cases[_i];
	struct driver_conn *conn = NULL;
	struct driver_folder_status st;
	enum stream_fail fail = STREAM_FAIL_NONE;
	const char *error = "";

	ck_assert_int_eq(open_fake(c->script, &conn, &fail, &error), 0);
	ck_assert_int_eq(target_driver_dovecot.select(conn, "INBOX", &st, &fail,
						      &error), -1);
	ck_assert_int_eq(fail, c->fail);
	ck_assert_msg(strstr(error, c->error) != NULL, "%s: %s", c->script, error);
	target_driver_dovecot.close(&conn);
	ck_assert_ptr_null(conn);
}
END_TEST

/* The command line: config, user and limit; never a password. */
START_TEST(test_argv)
{
	struct driver_conn *conn = NULL;
	struct driver_folder_status st;
	enum stream_fail fail;
	const char *error;
	char buf[512] = "";
	FILE *f;

	ck_assert_int_eq(open_fake("ok", &conn, &fail, &error), 0);
	ck_assert_uint_eq(target_driver_dovecot.append_limit(conn), 1000);
	ck_assert_int_eq(target_driver_dovecot.select(conn, "INBOX", &st, &fail,
						      &error), 0);
	ck_assert_uint_eq(st.uidvalidity, 77);
	ck_assert_uint_eq(st.uidnext, 10);
	ck_assert_uint_eq(st.exists, 2);
	target_driver_dovecot.close(&conn);
	f = fopen(argv_file, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	ck_assert_str_eq(buf, "-c /etc/new/dovecot.conf mailmigrate-import "
			 "-u ann@example.test -m 1000");

	/* target_fsync = batch: NEW's fsync per message off, the plugin
	 * syncing each batch instead. */
	fsync_batch = 1;
	ck_assert_int_eq(open_fake("ok", &conn, &fail, &error), 0);
	target_driver_dovecot.close(&conn);
	fsync_batch = 0;
	f = fopen(argv_file, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	ck_assert_str_eq(buf, "-c /etc/new/dovecot.conf -o mail_fsync=never "
			 "mailmigrate-import -u ann@example.test -m 1000 -b");
}
END_TEST

static int body_read(struct driver_body *body, void *buf, size_t len,
		     size_t *got_r, enum stream_fail *fail_r, const char **error_r)
{
	(void)body;
	(void)fail_r;
	(void)error_r;
	memset(buf, 'a', len);
	*got_r = len;
	return 0;
}

/* A refused message is that message only: the batch holding it is
 * dropped (ABORT, never COMMIT) and fails as the message did, the
 * connection stays in step; a message over the limit is refused before
 * a byte goes out. APPENDs' answers are read at the batch's end. */
START_TEST(test_append_refused)
{
	static const char *const scripts[] = { "ok", "badkw" };
	struct driver_conn *conn = NULL;
	struct driver_message msg;
	struct driver_body body;
	enum stream_fail fail;
	const char *error;
	uint32_t uids[2];
	size_t i;

	memset(&msg, 0, sizeof(msg));
	body.read = body_read;
	body.ctx = NULL;
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(open_fake(scripts[i], &conn, &fail, &error), 0);
		ck_assert_int_eq(target_driver_dovecot.append_begin(conn, "INBOX",
								    &fail, &error), 0);
		body.size = 1001;
		ck_assert_int_eq(target_driver_dovecot.append_add_keep(conn, &msg, 5,
			"U5", &body, &fail, &error), -1);
		ck_assert_int_eq(fail, STREAM_FAIL_MESSAGE);
		ck_assert_msg(strstr(error, "over NEW's limit of 1000") != NULL, "%s", error);
		body.size = 10;
		ck_assert_int_eq(target_driver_dovecot.append_add_keep(conn, &msg, 5,
			"U5", &body, &fail, &error), 0);
		ck_assert_int_eq(target_driver_dovecot.append_commit(conn, &fail, &error), 0);
		ck_assert_int_eq(target_driver_dovecot.append_result(conn, uids, 1,
								     &fail, &error), -1);
		ck_assert_int_eq(fail, STREAM_FAIL_MESSAGE);
		ck_assert_msg(strstr(error, i == 0 ? "message refused" : "bad keyword")
			      != NULL, "%s", error);
		ck_assert_msg(strstr(error, "not committed") != NULL, "%s", error);
		target_driver_dovecot.close(&conn);
	}

	/* Two in a batch, the second refused: none committed. Then one
	 * alone, accepted: the connection is still in step. */
	ck_assert_int_eq(open_fake("ok2", &conn, &fail, &error), 0);
	ck_assert_int_eq(target_driver_dovecot.append_begin(conn, "INBOX", &fail, &error), 0);
	body.size = 10;
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(target_driver_dovecot.append_add_keep(conn, &msg, 5 + i,
			NULL, &body, &fail, &error), 0);
	ck_assert_msg(target_driver_dovecot.append_commit(conn, &fail, &error) == 0,
		      "%s", error);
	ck_assert_int_eq(target_driver_dovecot.append_result(conn, uids, 2, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_MESSAGE);
	ck_assert_msg(strstr(error, "message refused") != NULL, "%s", error);
	ck_assert_int_eq(target_driver_dovecot.append_add_keep(conn, &msg, 7, NULL, &body,
							       &fail, &error), 0);
	ck_assert_msg(target_driver_dovecot.append_commit(conn, &fail, &error) == 0, "%s", error);
	ck_assert_int_eq(target_driver_dovecot.append_result(conn, uids, 1, &fail, &error), 0);
	ck_assert_uint_eq(uids[0], 20);
	target_driver_dovecot.close(&conn);
}
END_TEST

static int collect_state(const struct driver_message *msg, void *context)
{
	char *out = context;
	size_t len = strlen(out);

	snprintf(out + len, 512 - len, "%u %llu %u %zu [%s] %s %s;", msg->uid,
		 (unsigned long long)msg->size, msg->flags, msg->keywords_count,
		 msg->internaldate, msg->uidl, msg->message_id != NULL ?
		 msg->message_id : "-");
	return 0;
}

/* LIST: separator, \Noselect, special-use, names in modified UTF-7; a
 * line that cannot be read is skipped. STATE: date, UIDL, Message-ID;
 * a line short of fields breaks the connection (out of step). */
START_TEST(test_list_state)
{
	struct driver_conn *conn = NULL;
	struct driver_folder *folders = NULL;
	enum stream_fail fail;
	const char *error;
	char out[512] = "";
	size_t count = 0;

	ck_assert_int_eq(open_fake("ok", &conn, &fail, &error), 0);
	ck_assert_int_eq(target_driver_dovecot.list_folders(conn, &folders, &count,
							    &fail, &error), 0);
	ck_assert_uint_eq(count, 3);
	ck_assert_str_eq(folders[0].name, "Sent");
	ck_assert_uint_eq(folders[0].attrs, DRIVER_FOLDER_SENT);
	ck_assert_int_eq(folders[0].separator, '/');
	ck_assert_str_eq(folders[1].name, "Work");
	ck_assert_uint_eq(folders[1].attrs, DRIVER_FOLDER_NOSELECT);
	ck_assert_str_eq(folders[2].name, "K&AOQ-se/Alt");
	driver_folders_free(&folders, count);
	ck_assert_int_eq(target_driver_dovecot.list_messages(conn, 1, 0, collect_state,
							     out, &fail, &error), 0);
	ck_assert_str_eq(out, "5 10 1 1 [01-Jan-2020 09:00:00 +0000] U5 <a@b>;"
			 "6 11 0 0 []  -;");
	ck_assert_int_eq(target_driver_dovecot.set_flags(conn, 5, &(struct driver_message){
		.flags = DRIVER_FLAG_SEEN }, &fail, &error), 0);
	target_driver_dovecot.close(&conn);

	ck_assert_int_eq(open_fake("oldstate", &conn, &fail, &error), 0);
	ck_assert_int_eq(target_driver_dovecot.list_messages(conn, 1, 0, collect_state,
							     out, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_msg(strstr(error, "malformed STATE line") != NULL, "%s", error);
	target_driver_dovecot.close(&conn);
}
END_TEST

static Suite *dovecot_target_suite(void)
{
	Suite *s = suite_create("dovecot_target");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_open_refused, 0,
			    sizeof(open_cases) / sizeof(open_cases[0]));
	tcase_add_loop_test(tc, test_select_refused, 0,
			    sizeof(select_cases) / sizeof(select_cases[0]));
	tcase_add_test(tc, test_argv);
	tcase_add_test(tc, test_append_refused);
	tcase_add_test(tc, test_list_state);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	const char *script = getenv("MM_FAKE_DOVEADM");
	SRunner *sr;
	ssize_t n;
	int failed;

	if (script != NULL)
		return fake_doveadm(script, argc, argv);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 99;
	self[n] = '\0';
	snprintf(argv_file, sizeof(argv_file), "/tmp/test_dovecot_target.%ld",
		 (long)getpid());
	setenv("MM_FAKE_ARGV", argv_file, 1);
	sr = srunner_create(dovecot_target_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	unlink(argv_file);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
