/*
 * NAME
 *	test_log 1
 * SUMMARY
 *	unit tests for log(3)
 * DESCRIPTION
 *	log_printable() escaping and truncation from a table, severity
 *	names both ways, the exact stderr line, a log_file that receives
 *	timestamped lines with their severity, debug lines only when
 *	enabled, embedded newlines folded, and log_fatal() exiting 3.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mm_alloc.h"

struct printable_case {
	size_t bufsize;
	const char *text;
	size_t len;
	const char *want;
};

static const struct printable_case printable_cases[] = {
	{ 16, "hello", 5, "hello" },
	{ 6, "hello", 5, "hello" },		/* exactly fits: no marker */
	{ 16, "hello", 3, "hel" },		/* len, not strlen, counts */
	{ 16, "", 0, "" },
	{ 16, "a\tb\nc\r", 6, "a?b?c?" },
	{ 16, "a\0b", 3, "a?b" },
	{ 16, "\x7f\x80\xff\x1b[0m", 7, "????[0m" },
	{ 16, "caf\xc3\xa9", 5, "caf??" },
	{ 16, " ~", 2, " ~" },
	{ 8, "abcdefghij", 10, "abcd..." },	/* truncated: marked */
	{ 5, "hello", 5, "h..." },
	{ 4, "abcdef", 6, "..." },
	{ 3, "abcdef", 6, "ab" },		/* too small for a marker */
	{ 1, "abc", 3, "" },
	{ 8, "\x01\x02\x03\x04\x05\x06\x07\x08\x09", 9, "????..." },
};

START_TEST(test_printable)
{
	const struct printable_case *c = &printable_cases[_i];
	char buf[32];

	memset(buf, 'Z', sizeof(buf));
	ck_assert_ptr_eq(log_printable(buf, c->bufsize, c->text, c->len), buf);
	ck_assert_str_eq(buf, c->want);
	/* Nothing written past bufsize. */
	ck_assert_int_eq(buf[c->bufsize], 'Z');
}
END_TEST

START_TEST(test_printable_bufsize_0)
{
	char buf[4] = "xyz";

	ck_assert_ptr_eq(log_printable(buf, 0, "abc", 3), buf);
	ck_assert_str_eq(buf, "xyz");
}
END_TEST

static const char *const severity_names[] = {
	"debug", "info", "warning", "error", "fatal", "panic",
};

START_TEST(test_severity_names)
{
	ck_assert_str_eq(log_severity_name((enum log_severity)_i),
			 severity_names[_i]);
	ck_assert_int_eq(log_severity_parse(severity_names[_i]), _i);
}
END_TEST

START_TEST(test_severity_unknown)
{
	static const char *const bad[] = { "", "bogus", "warn", "errors", "info " };

	ck_assert_int_eq(LOG_SEV_DEBUG, 0);
	ck_assert_int_eq(LOG_SEV_PANIC, 5);
	ck_assert_str_eq(log_severity_name((enum log_severity)99), "unknown");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(log_severity_parse(bad[i]) == -1, "'%s' parsed",
			      bad[i]);
}
END_TEST

/* A fresh path in $TMPDIR (the file itself is removed). */
static void temp_path(char *path, size_t size)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(path, size, "%s/test_log.XXXXXX",
		 dir != NULL && *dir != '\0' ? dir : "/tmp");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(unlink(path), 0);
}

/* The whole content of path, NUL-terminated; the caller frees it. */
static char *slurp(const char *path)
{
	char *buf = mm_malloc(65536);
	size_t len = 0;
	int fd = open(path, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	for (;;) {
		ssize_t n = read(fd, buf + len, 65535 - len);

		ck_assert_int_ge(n, 0);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

/* Run fn with stderr going to a temporary file; returns what it got. */
static char *capture_stderr(void (*fn)(void))
{
	char path[512], *out;
	int fd, saved;

	temp_path(path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	fn();
	ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	out = slurp(path);
	unlink(path);
	return out;
}

static void log_some_stderr(void)
{
	const char *error;

	ck_assert_int_eq(log_open("/usr/sbin/prog", LOG_DEST_STDERR, NULL,
				  &error), 0);
	log_warning("careful: %d", 7);
	log_debug("not shown");
	log_error("two\nlines\rhere");
	log_set_debug(1);
	log_debug("shown");
	log_set_debug(0);
	log_close();
}

START_TEST(test_stderr_format)
{
	char *out = capture_stderr(log_some_stderr);

	ck_assert_str_eq(out, "prog: warning: careful: 7\n"
			 "prog: error: two lines here\n"
			 "prog: debug: shown\n");
	ck_assert_str_eq(log_progname(), "prog");
	mm_free(&out);
}
END_TEST

static char handled[256];

static void test_handler(enum log_severity sev, const char *text)
{
	size_t len = strlen(handled);

	snprintf(handled + len, sizeof(handled) - len, "%s=%s;",
		 log_severity_name(sev), text);
}

static void log_to_handler(void)
{
	const char *error;

	ck_assert_int_eq(log_open("prog", LOG_DEST_STDERR, NULL, &error), 0);
	log_set_handler(test_handler);
	log_warning("a\nb %d", 1);
	log_info("c");
	log_set_handler(NULL);
	log_info("back");
	log_close();
}

/* With a handler (the auth module's Dovecot log), lines go there, not
 * to the destination. */
START_TEST(test_handler_takes_lines)
{
	char *out;

	handled[0] = '\0';
	out = capture_stderr(log_to_handler);
	ck_assert_str_eq(handled, "warning=a b 1;info=c;");
	ck_assert_str_eq(out, "prog: info: back\n");
	mm_free(&out);
}
END_TEST

static void log_long_line(void)
{
	char *text = mm_malloc(5001);
	const char *error;

	memset(text, 'w', 5000);
	text[5000] = '\0';
	ck_assert_int_eq(log_open("prog", LOG_DEST_STDERR, NULL, &error), 0);
	log_info("%s", text);
	log_info("after");
	log_close();
	mm_free(&text);
}

/* A message too long for one record is cut, but stays one line. */
START_TEST(test_stderr_long)
{
	char *out = capture_stderr(log_long_line);
	char *nl = strchr(out, '\n');

	ck_assert_ptr_nonnull(nl);
	ck_assert_int_eq(strncmp(out, "prog: info: www", 15), 0);
	ck_assert_uint_lt((size_t)(nl - out), 5000);
	ck_assert_str_eq(nl + 1, "prog: info: after\n");
	mm_free(&out);
}
END_TEST

/* Is line (up to its LF) "<stamp> prog[pid]: sev: text"? */
static void check_file_line(const char *line, const char *sev, const char *text)
{
	char want[256];
	const char *sp = strchr(line, ' ');
	size_t len;

	/* 2024-01-31T12:34:56+0100 */
	ck_assert_ptr_nonnull(sp);
	ck_assert_int_eq(line[4], '-');
	ck_assert_int_eq(line[10], 'T');
	snprintf(want, sizeof(want), " fileprog[%ld]: %s: %s\n", (long)getpid(),
		 sev, text);
	len = strlen(want);
	ck_assert_msg(strncmp(sp, want, len) == 0, "got '%.*s', want '%s'",
		      (int)(strchr(sp, '\n') - sp), sp, want);
}

START_TEST(test_log_file)
{
	char path[512], *out, *line;
	const char *error = NULL;
	int nlines = 0;

	temp_path(path, sizeof(path));
	ck_assert_int_eq(log_open("fileprog", LOG_DEST_FILE, path, &error), 0);
	log_info("started %s", "ok");
	log_debug("hidden");
	log_msg(LOG_SEV_WARNING, "disk %d%% full", 91);
	log_error("bad\nthing");
	log_close();

	out = slurp(path);
	for (char *p = out; *p != '\0'; p++)
		if (*p == '\n')
			nlines++;
	ck_assert_int_eq(nlines, 3);
	line = out;
	check_file_line(line, "info", "started ok");
	line = strchr(line, '\n') + 1;
	check_file_line(line, "warning", "disk 91% full");
	line = strchr(line, '\n') + 1;
	check_file_line(line, "error", "bad thing");
	ck_assert_ptr_null(strstr(out, "hidden"));
	mm_free(&out);
	unlink(path);
}
END_TEST

/* log_also_stderr() copies file lines to stderr. */
static char log_also_path[512];

static void log_to_both(void)
{
	const char *error;

	ck_assert_int_eq(log_open("fileprog", LOG_DEST_FILE, log_also_path,
				  &error), 0);
	log_also_stderr(1);
	log_info("both");
	log_also_stderr(0);
	log_info("file only");
	log_close();
}

START_TEST(test_log_also_stderr)
{
	char *err, *file;

	temp_path(log_also_path, sizeof(log_also_path));
	err = capture_stderr(log_to_both);
	ck_assert_str_eq(err, "fileprog: info: both\n");
	file = slurp(log_also_path);
	check_file_line(file, "info", "both");
	check_file_line(strchr(file, '\n') + 1, "info", "file only");
	mm_free(&err);
	mm_free(&file);
	unlink(log_also_path);
}
END_TEST

START_TEST(test_log_file_cannot_open)
{
	const char *error = NULL;

	ck_assert_int_eq(log_open("prog", LOG_DEST_FILE,
				  "/nonexistent-dir/x/y.log", &error), -1);
	ck_assert_ptr_nonnull(error);
	ck_assert_str_eq(error, "cannot open log_file /nonexistent-dir/x/y.log: "
			 "No such file or directory");
	log_close();
}
END_TEST

/* log_open_daemon(): the file and stderr in the foreground; a file that
 * cannot be opened is said on stderr. */
static void daemon_foreground(void)
{
	ck_assert_int_eq(log_open_daemon("fileprog", log_also_path, 1), 0);
	log_info("up");
	log_close();
	log_also_stderr(0);
	ck_assert_int_eq(log_open_daemon("fileprog", "/nonexistent-dir/d.log", 0), -1);
	log_close();
}

START_TEST(test_log_open_daemon)
{
	char *err, *file;

	temp_path(log_also_path, sizeof(log_also_path));
	err = capture_stderr(daemon_foreground);
	ck_assert_str_eq(err, "fileprog: info: up\nfileprog: cannot open log_file "
			 "/nonexistent-dir/d.log: No such file or directory\n");
	file = slurp(log_also_path);
	check_file_line(file, "info", "up");
	mm_free(&err);
	mm_free(&file);
	unlink(log_also_path);
}
END_TEST

/* log_fatal() logs and exits with status 3 (Check checks the status). */
START_TEST(test_fatal_exits_3)
{
	const char *error;
	int fd = open("/dev/null", O_WRONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	ck_assert_int_eq(log_open("prog", LOG_DEST_STDERR, NULL, &error), 0);
	log_fatal("no %s", "config");
}
END_TEST

static Suite *log_suite(int can_fork)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_printable, 0,
			    sizeof(printable_cases) / sizeof(printable_cases[0]));
	tcase_add_test(tc, test_printable_bufsize_0);
	tcase_add_loop_test(tc, test_severity_names, 0,
			    sizeof(severity_names) / sizeof(severity_names[0]));
	tcase_add_test(tc, test_severity_unknown);
	tcase_add_test(tc, test_stderr_format);
	tcase_add_test(tc, test_stderr_long);
	tcase_add_test(tc, test_handler_takes_lines);
	tcase_add_test(tc, test_log_file);
	tcase_add_test(tc, test_log_also_stderr);
	tcase_add_test(tc, test_log_file_cannot_open);
	tcase_add_test(tc, test_log_open_daemon);
	/* An exit test would end the whole run without fork mode. */
	if (can_fork)
		tcase_add_exit_test(tc, test_fatal_exits_3, 3);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(NULL);
	int failed;

	srunner_add_suite(sr, log_suite(srunner_fork_status(sr) != CK_NOFORK));
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
