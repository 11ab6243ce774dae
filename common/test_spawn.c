/*
 * NAME
 *	test_spawn 1
 * SUMMARY
 *	unit tests for spawn(3)
 * DESCRIPTION
 *	Table-driven: each case runs /bin/sh -c SCRIPT with an explicit
 *	environment and says how it must end, with which code, and what
 *	its captured output must be. Then the deadline (a program that
 *	sleeps is killed in time, its group with it), the bounds on
 *	output, input fed to a program that does not read it, and the
 *	descriptors: none of spawn's pipes left open in the parent, none
 *	of the parent's other descriptors inherited by the child.
 *	Valgrind runs sh too (--trace-children), so deadlines are loose.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mm_alloc.h"
#include "spawn.h"

static char *const test_env[] = { "FOO=bar", "PATH=/usr/bin:/bin", NULL };

struct spawn_case {
	const char *name;
	const char *script;
	enum spawn_output out, err;
	size_t out_max;
	enum spawn_overflow overflow;
	const char *input;
	enum spawn_end end;
	int code;
	const char *out_is;	/* NULL: not compared */
	int truncated;
	const char *err_is;	/* NULL: not compared */
};

static const struct spawn_case cases[] = {
	{ "exit 0", "exit 0", SPAWN_OUT_NULL, SPAWN_OUT_NULL, 0, 0, NULL,
	  SPAWN_END_EXITED, 0, NULL, 0, NULL },
	{ "exit 3", "exit 3", SPAWN_OUT_NULL, SPAWN_OUT_NULL, 0, 0, NULL,
	  SPAWN_END_EXITED, 3, NULL, 0, NULL },
	{ "exit 127", "exit 127", SPAWN_OUT_NULL, SPAWN_OUT_NULL, 0, 0, NULL,
	  SPAWN_END_EXITED, 127, NULL, 0, NULL },
	{ "signal", "kill -TERM $$", SPAWN_OUT_NULL, SPAWN_OUT_NULL, 0, 0, NULL,
	  SPAWN_END_SIGNALED, 15, NULL, 0, NULL },
	{ "environment", "echo \"$FOO\"; echo \"${HOME:-unset}\"", SPAWN_OUT_CAPTURE,
	  SPAWN_OUT_NULL, 100, 0, NULL, SPAWN_END_EXITED, 0, "bar\nunset\n", 0, NULL },
	{ "stderr apart", "echo out; echo err >&2", SPAWN_OUT_CAPTURE,
	  SPAWN_OUT_CAPTURE, 100, 0, NULL, SPAWN_END_EXITED, 0, "out\n", 0, "err\n" },
	{ "stderr merged", "echo out; echo err >&2", SPAWN_OUT_CAPTURE,
	  SPAWN_OUT_MERGE, 100, 0, NULL, SPAWN_END_EXITED, 0, "out\nerr\n", 0, NULL },
	{ "stderr dropped", "echo err >&2; exit 2", SPAWN_OUT_CAPTURE,
	  SPAWN_OUT_NULL, 100, 0, NULL, SPAWN_END_EXITED, 2, "", 0, NULL },
	{ "stdin null", "cat; echo end", SPAWN_OUT_CAPTURE, SPAWN_OUT_NULL, 100, 0,
	  NULL, SPAWN_END_EXITED, 0, "end\n", 0, NULL },
	{ "input fed", "read a; echo \"<$a>\"", SPAWN_OUT_CAPTURE, SPAWN_OUT_NULL,
	  100, 0, "secret\n", SPAWN_END_EXITED, 0, "<secret>\n", 0, NULL },
	{ "input not read", "exit 4", SPAWN_OUT_CAPTURE, SPAWN_OUT_NULL, 100, 0,
	  "ignored\n", SPAWN_END_EXITED, 4, "", 0, NULL },
	{ "output bound, dropped", "i=0; while [ $i -lt 200 ]; do "
	  "echo 0123456789; i=$((i+1)); done; exit 5", SPAWN_OUT_CAPTURE,
	  SPAWN_OUT_NULL, 25, SPAWN_OVERFLOW_DROP, NULL, SPAWN_END_EXITED, 5,
	  "0123456789\n0123456789\n012", 1, NULL },
	{ "output bound, killed", "while :; do echo 0123456789; done",
	  SPAWN_OUT_CAPTURE, SPAWN_OUT_NULL, 25, SPAWN_OVERFLOW_KILL, NULL,
	  SPAWN_END_OVERFLOW, 0, "0123456789\n0123456789\n012", 1, NULL },
	{ "exactly the bound", "printf 0123456789", SPAWN_OUT_CAPTURE,
	  SPAWN_OUT_NULL, 10, SPAWN_OVERFLOW_KILL, NULL, SPAWN_END_EXITED, 0,
	  "0123456789", 0, NULL },
};

static void run_sh(const char *script, struct spawn_opts *o, struct spawn_result *r)
{
	char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };
	const char *step;

	o->argv = argv;
	o->envp = test_env;
	ck_assert_msg(spawn_run(o, r, &step) == 0, "%s: %s", step, strerror(errno));
}

START_TEST(test_cases)
{
	const struct spawn_case *t = &cases[_i];
	struct spawn_opts o = { .out = t->out, .err = t->err, .out_max = t->out_max,
				.err_max = 100, .overflow = t->overflow,
				.timeout_ms = 60000, .own_group = 1 };
	struct spawn_result r;

	if (t->input != NULL) {
		o.input = t->input;
		o.input_len = strlen(t->input);
	}
	run_sh(t->script, &o, &r);
	ck_assert_msg(r.end == t->end, "%s: end %d", t->name, r.end);
	ck_assert_msg(r.code == t->code, "%s: code %d", t->name, r.code);
	if (t->out_is != NULL) {
		ck_assert_msg(r.out != NULL, "%s: no output", t->name);
		ck_assert_str_eq(r.out, t->out_is);
		ck_assert_uint_eq(r.out_len, strlen(t->out_is));
		ck_assert_msg(r.out_truncated == t->truncated, "%s: truncated %d",
			      t->name, r.out_truncated);
	}
	if (t->err_is != NULL) {
		ck_assert_msg(r.err != NULL, "%s: no stderr", t->name);
		ck_assert_str_eq(r.err, t->err_is);
	}
	if (t->out == SPAWN_OUT_NULL)
		ck_assert_ptr_null(r.out);
	if (t->input != NULL && strcmp(t->script, "exit 4") != 0)
		ck_assert_msg(!r.input_short, "%s: input not all read", t->name);
	spawn_result_clear(&r);
	ck_assert_ptr_null(r.out);
	ck_assert_ptr_null(r.err);
}
END_TEST

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* A program that never ends is killed at the deadline, and its own
 * children with it (they hold its output open). */
START_TEST(test_timeout)
{
	struct spawn_opts o = { .out = SPAWN_OUT_CAPTURE, .out_max = 100,
				.timeout_ms = 3000, .own_group = 1 };
	struct spawn_result r;
	long t0 = now_ms();

	run_sh("echo started; sleep 120 & sleep 120", &o, &r);
	ck_assert_int_eq(r.end, SPAWN_END_TIMEOUT);
	ck_assert_str_eq(r.out, "started\n");
	ck_assert_msg(now_ms() - t0 < 30000, "took %ld ms", now_ms() - t0);
	spawn_result_clear(&r);
}
END_TEST

/* One that closes its output and goes on running is still bounded. */
START_TEST(test_timeout_after_output)
{
	struct spawn_opts o = { .out = SPAWN_OUT_CAPTURE, .out_max = 100,
				.timeout_ms = 3000 };
	struct spawn_result r;
	long t0 = now_ms();

	run_sh("exec >/dev/null 2>&1 </dev/null; sleep 120", &o, &r);
	ck_assert_int_eq(r.end, SPAWN_END_TIMEOUT);
	ck_assert_msg(now_ms() - t0 < 30000, "took %ld ms", now_ms() - t0);
	spawn_result_clear(&r);
}
END_TEST

/* exec's failure is told apart from an exit status of 127. */
START_TEST(test_not_run)
{
	char *argv[] = { "/nonexistent/program", NULL };
	char *argv_path[] = { "mm-no-such-program", NULL };
	struct spawn_opts o = { .argv = argv, .envp = test_env,
				.out = SPAWN_OUT_CAPTURE, .out_max = 10 };
	struct spawn_result r;
	const char *step;
	char buf[100];

	ck_assert_int_eq(spawn_run(&o, &r, &step), 0);
	ck_assert_int_eq(r.end, SPAWN_END_NOT_RUN);
	ck_assert_int_eq(r.code, ENOENT);
	ck_assert_ptr_nonnull(strstr(spawn_end_str(&r, buf, sizeof(buf)), "cannot run"));
	spawn_result_clear(&r);

	o.argv = argv_path;
	o.path_search = 1;
	ck_assert_int_eq(spawn_run(&o, &r, &step), 0);
	ck_assert_int_eq(r.end, SPAWN_END_NOT_RUN);
	ck_assert_int_eq(r.code, ENOENT);
	spawn_result_clear(&r);
}
END_TEST

/* A name without '/' is looked up in the given PATH. */
START_TEST(test_path_search)
{
	char *argv[] = { "sh", "-c", "exit 6", NULL };
	struct spawn_opts o = { .argv = argv, .envp = test_env, .path_search = 1 };
	struct spawn_result r;
	const char *step;

	ck_assert_int_eq(spawn_run(&o, &r, &step), 0);
	ck_assert_int_eq(r.end, SPAWN_END_EXITED);
	ck_assert_int_eq(r.code, 6);
	spawn_result_clear(&r);
}
END_TEST

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* The parent keeps no descriptor of spawn's; the child gets none of the
 * parent's but 0, 1 and 2, nor one given as stdin beyond fd 0. */
START_TEST(test_fds)
{
	struct spawn_opts o = { .out = SPAWN_OUT_CAPTURE, .err = SPAWN_OUT_CAPTURE,
				.out_max = 100, .err_max = 100, .input = "x\n",
				.input_len = 2, .timeout_ms = 60000 };
	struct spawn_result r;
	int before, fd, stdin_fd;

	fd = open("/dev/null", O_RDONLY);	/* not close-on-exec */
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(dup2(fd, 50), 0);
	close(fd);
	before = count_fds();
	run_sh("for f in 3 4 5 6 7 8 9 50; do [ -e /proc/$$/fd/$f ] && "
	       "echo open $f; done; exit 0", &o, &r);
	ck_assert_int_eq(r.end, SPAWN_END_EXITED);
	ck_assert_str_eq(r.out, "");
	spawn_result_clear(&r);
	ck_assert_int_eq(count_fds(), before);

	/* A given stdin: read, and not left open elsewhere in the child. */
	stdin_fd = open("/etc/hostname", O_RDONLY);
	ck_assert_int_ge(stdin_fd, 0);
	o.input = NULL;
	o.stdin_fd = stdin_fd;
	{
		char script[200];

		snprintf(script, sizeof(script), "[ -e /proc/$$/fd/%d ] && echo leaked; "
			 "wc -c >/dev/null && echo read", stdin_fd);
		run_sh(script, &o, &r);
	}
	ck_assert_int_eq(r.end, SPAWN_END_EXITED);
	ck_assert_str_eq(r.out, "read\n");
	spawn_result_clear(&r);
	close(stdin_fd);
	ck_assert_int_eq(count_fds(), before);

	/* Failures leave nothing open either. */
	o.stdin_fd = 0;
	{
		char *argv[] = { "/nonexistent", NULL };
		const char *step;

		o.argv = argv;
		o.envp = test_env;
		ck_assert_int_eq(spawn_run(&o, &r, &step), 0);
		ck_assert_int_eq(r.end, SPAWN_END_NOT_RUN);
		spawn_result_clear(&r);
	}
	ck_assert_int_eq(count_fds(), before);
	close(50);
}
END_TEST

static Suite *spawn_suite(void)
{
	Suite *s = suite_create("spawn");
	TCase *tc = tcase_create("spawn");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_cases, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_timeout_after_output);
	tcase_add_test(tc, test_not_run);
	tcase_add_test(tc, test_path_search);
	tcase_add_test(tc, test_fds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(spawn_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
