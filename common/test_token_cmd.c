/*
 * NAME
 *	test_token_cmd 1
 * SUMMARY
 *	unit tests for token_cmd(3)
 * DESCRIPTION
 *	Table-driven: each case is a small shell script written to a
 *	fresh directory and run for one account; the table says the
 *	token it must give, or the class of the failure and text the
 *	error must hold. Every error must name the key and the account,
 *	and never the token the script printed.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mm_alloc.h"
#include "token_cmd.h"

#define ACCOUNT "ann@example.test"
#define SECRET "ya29.SECRET-token_value~1/2+3="

struct token_case {
	const char *name;
	const char *script;	/* body after "#!/bin/sh\n"; NULL: no file */
	mode_t mode;		/* 0: 0755 */
	unsigned timeout_ms;	/* 0: 20 s (valgrind runs sh too) */
	const char *token;	/* expected token, or NULL for a failure */
	enum stream_fail fail;
	const char *error;	/* a part of the error */
};

static const struct token_case cases[] = {
	{ "ok", "read a; [ \"$a\" = " ACCOUNT " ] || exit 3\n"
	  "echo " SECRET "\n", 0, 0, SECRET, STREAM_FAIL_NONE, NULL },
	{ "no_newline", "printf %s " SECRET "\n", 0, 0, SECRET,
	  STREAM_FAIL_NONE, NULL },
	{ "crlf", "printf '%s\\r\\n' " SECRET "\n", 0, 0, SECRET,
	  STREAM_FAIL_NONE, NULL },
	{ "no_stdin_read", "echo tok\n", 0, 0, "tok", STREAM_FAIL_NONE, NULL },
	{ "max", "head -c 16384 /dev/zero | tr '\\0' a; echo\n", 0, 0, NULL,
	  STREAM_FAIL_NONE, NULL },	/* token checked by length below */
	{ "exit1", "echo " SECRET "; echo 'token service said no' >&2; exit 1\n",
	  0, 0, NULL, STREAM_FAIL_WAIT, "exited with status 1: token service "
	  "said no" },
	{ "killed", "echo " SECRET "; kill -9 $$\n", 0, 0, NULL,
	  STREAM_FAIL_WAIT, "killed by signal 9" },
	{ "timeout", "echo " SECRET "; exec sleep 30\n", 0, 1500, NULL,
	  STREAM_FAIL_WAIT, "no token within 1500 ms: killed" },
	{ "child_holds_pipe", "sleep 30 &\necho " SECRET "\n", 0, 1500, NULL,
	  STREAM_FAIL_WAIT, "no token within 1500 ms" },
	{ "empty", "exit 0\n", 0, 0, NULL, STREAM_FAIL_WAIT, "printed no token" },
	{ "just_newline", "echo\n", 0, 0, NULL, STREAM_FAIL_WAIT,
	  "printed no token" },
	{ "too_long", "head -c 102400 /dev/zero | tr '\\0' a\n", 0, 0, NULL,
	  STREAM_FAIL_FINAL, "printed more than 16384 bytes" },
	{ "one_over", "head -c 16385 /dev/zero | tr '\\0' a\n", 0, 0, NULL,
	  STREAM_FAIL_FINAL, "printed more than 16384 bytes" },
	{ "space", "echo 'Bearer " SECRET "'\n", 0, 0, NULL, STREAM_FAIL_FINAL,
	  "byte 7 of its output is 0x20" },
	{ "two_lines", "echo " SECRET "; echo " SECRET "\n", 0, 0, NULL,
	  STREAM_FAIL_FINAL, "is 0x0a, not printable ASCII" },
	{ "missing", NULL, 0, 0, NULL, STREAM_FAIL_FINAL,
	  "cannot run it: No such file or directory" },
	{ "not_executable", "echo " SECRET "\n", 0644, 0, NULL,
	  STREAM_FAIL_FINAL, "cannot run it: Permission denied" },
};

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mmtok.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_cases)
{
	const struct token_case *tc = &cases[_i];
	enum stream_fail fail = STREAM_FAIL_NONE;
	const char *error = NULL;
	char path[128], *token = NULL;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, tc->name);
	if (tc->script != NULL) {
		FILE *f = fopen(path, "w");

		ck_assert_ptr_nonnull(f);
		fprintf(f, "#!/bin/sh\n%s", tc->script);
		ck_assert_int_eq(fclose(f), 0);
		ck_assert_int_eq(chmod(path, tc->mode != 0 ? tc->mode : 0755), 0);
	}
	ret = token_cmd_run(path, ACCOUNT, tc->timeout_ms != 0 ? tc->timeout_ms :
			    20000, &token, &fail, &error);
	if (tc->error == NULL) {
		ck_assert_msg(ret == 0, "%s: %s", tc->name, ret < 0 ? error : "");
		ck_assert_ptr_nonnull(token);
		if (tc->token != NULL) {
			ck_assert_str_eq(token, tc->token);
		} else {
			ck_assert_uint_eq(strlen(token), TOKEN_CMD_MAX);
			ck_assert_int_eq(token[0], 'a');
		}
		mm_free_secret(&token);
		return;
	}
	ck_assert_msg(ret == -1, "%s: succeeded", tc->name);
	ck_assert_ptr_null(token);
	ck_assert_int_eq(fail, tc->fail);
	ck_assert_msg(strstr(error, tc->error) != NULL, "%s: '%s' lacks '%s'",
		      tc->name, error, tc->error);
	ck_assert_msg(strstr(error, "source_oauth2_token_command ") == error,
		      "%s: '%s' does not name the key first", tc->name, error);
	ck_assert_msg(strstr(error, path) != NULL && strstr(error, ACCOUNT) != NULL,
		      "%s: '%s' names not the command and the account",
		      tc->name, error);
	ck_assert_msg(strstr(error, "SECRET") == NULL, "%s: the token in '%s'",
		      tc->name, error);
}
END_TEST

/* With SIGCHLD ignored the kernel reaps the command and no exit status
 * is left: that is no success, whatever it printed. */
START_TEST(test_no_exit_status)
{
	enum stream_fail fail = STREAM_FAIL_NONE;
	const char *error = NULL;
	char path[128], *token = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tok", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "#!/bin/sh\necho " SECRET "\n");
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, 0755), 0);
	signal(SIGCHLD, SIG_IGN);
	ck_assert_int_eq(token_cmd_run(path, ACCOUNT, 20000, &token, &fail, &error), -1);
	signal(SIGCHLD, SIG_DFL);
	ck_assert_ptr_null(token);
	ck_assert_int_eq(fail, STREAM_FAIL_WAIT);
	ck_assert_msg(strstr(error, "no exit status") != NULL, "%s", error);
	ck_assert_ptr_null(strstr(error, "SECRET"));
}
END_TEST

static Suite *token_cmd_suite(void)
{
	Suite *s = suite_create("token_cmd");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_cases, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_no_exit_status);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(token_cmd_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
