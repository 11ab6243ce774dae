/*
 * NAME
 *	test_linereader 1
 * SUMMARY
 *	unit tests for linereader(3)
 * DESCRIPTION
 *	Each table case is an input, a maximum and the exact sequence of
 *	results (status, line bytes, CRLF flag, line number) the reader
 *	must give. Every case runs over a temporary file and over a pipe
 *	fed one byte per write by a child, so the same answers must come
 *	out however the input is split. Then: a 10 MB line through a
 *	pipe, a too-long line refused before its end has been written,
 *	reads interrupted by signals, and a read error.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "linereader.h"
#include "mm_alloc.h"

#define MAX_RESULTS 6

struct result {
	enum linereader_status status;
	const char *line;	/* LINEREADER_LINE only */
	size_t len;
	int had_cr;
	unsigned long lineno;
};

struct lr_case {
	const char *name;
	const char *in;
	size_t in_len;		/* 0: strlen(in) */
	size_t max;
	struct result want[MAX_RESULTS];	/* ends with EOF */
};

#define R_LINE(s, cr, n) { LINEREADER_LINE, s, sizeof(s) - 1, cr, n }
#define R_LONG(n) { LINEREADER_TOOLONG, NULL, 0, 0, n }
#define R_EOF(n) { LINEREADER_EOF, NULL, 0, 0, n }

static const struct lr_case lr_cases[] = {
	{ "two lines", "a\nbb\n", 0, 10,
	  { R_LINE("a", 0, 1), R_LINE("bb", 0, 2), R_EOF(2) } },
	{ "empty input", "", 0, 10, { R_EOF(0) } },
	{ "empty lines", "\n\n", 0, 10,
	  { R_LINE("", 0, 1), R_LINE("", 0, 2), R_EOF(2) } },
	{ "no final LF", "a\nlast", 0, 10,
	  { R_LINE("a", 0, 1), R_LINE("last", 0, 2), R_EOF(2) } },
	{ "CRLF", "a\r\nb\nc\r\n", 0, 10,
	  { R_LINE("a", 1, 1), R_LINE("b", 0, 2), R_LINE("c", 1, 3), R_EOF(3) } },
	{ "bare CRLF", "\r\n", 0, 10, { R_LINE("", 1, 1), R_EOF(1) } },
	{ "CR inside", "a\rb\n", 0, 10, { R_LINE("a\rb", 0, 1), R_EOF(1) } },
	{ "CR at EOF kept", "ab\r", 0, 10, { R_LINE("ab\r", 0, 1), R_EOF(1) } },
	{ "NUL bytes", "a\0b\n\0\n", 6, 10,
	  { R_LINE("a\0b", 0, 1), R_LINE("\0", 0, 2), R_EOF(2) } },
	{ "at the limit", "12345\n", 0, 5, { R_LINE("12345", 0, 1), R_EOF(1) } },
	{ "one over", "123456\n", 0, 5, { R_LONG(1), R_EOF(1) } },
	{ "limit + CRLF", "12345\r\n", 0, 5,
	  { R_LINE("12345", 1, 1), R_EOF(1) } },
	{ "one over + CRLF", "123456\r\n", 0, 5, { R_LONG(1), R_EOF(1) } },
	{ "limit, no LF", "12345", 0, 5, { R_LINE("12345", 0, 1), R_EOF(1) } },
	{ "over, no LF", "123456", 0, 5, { R_LONG(1), R_EOF(1) } },
	{ "limit + CR, no LF", "12345\r", 0, 5, { R_LONG(1), R_EOF(1) } },
	{ "skip then go on", "ok\nmuch too long\r\nnext\n", 0, 5,
	  { R_LINE("ok", 0, 1), R_LONG(2), R_LINE("next", 0, 3), R_EOF(3) } },
	{ "two long in a row", "1234567\n89abcdef\nx", 0, 5,
	  { R_LONG(1), R_LONG(2), R_LINE("x", 0, 3), R_EOF(3) } },
	{ "far over", "0123456789012345678901234567890123456789\nz\n", 0, 3,
	  { R_LONG(1), R_LINE("z", 0, 2), R_EOF(2) } },
	{ "max 0", "\nx\n\n", 0, 0,
	  { R_LINE("", 0, 1), R_LONG(2), R_LINE("", 0, 3), R_EOF(3) } },
};

/* A temporary file holding data, positioned at its start. */
static int temp_fd(const void *data, size_t len)
{
	const char *dir = getenv("TMPDIR");
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/test_linereader.XXXXXX",
		 dir != NULL && *dir != '\0' ? dir : "/tmp");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(unlink(path), 0);
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, (const char *)data + off, len - off);

		ck_assert_int_gt(n, 0);
		off += (size_t)n;
	}
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* A pipe whose writer child sends data in chunks of chunk bytes, then
 * closes. Returns the read end; *pid_r is the child. */
static int pipe_fd(const void *data, size_t len, size_t chunk, pid_t *pid_r)
{
	int fds[2];
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		for (size_t off = 0; off < len;) {
			size_t n = len - off < chunk ? len - off : chunk;
			ssize_t w = write(fds[1], (const char *)data + off, n);

			if (w <= 0)
				_exit(1);
			off += (size_t)w;
		}
		_exit(0);
	}
	close(fds[1]);
	*pid_r = pid;
	return fds[0];
}

/* Wait for a writer child and insist it wrote everything. */
static void reap(pid_t pid)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}

/* Read fd to the end and compare with the case's expected results. */
static void check_results(const struct lr_case *c, int fd, const char *how)
{
	struct linereader *lr = linereader_new(fd, c->max);
	int i;

	for (i = 0; i < MAX_RESULTS; i++) {
		const struct result *w = &c->want[i];
		const char *line = NULL;
		size_t len = 0;
		enum linereader_status st = linereader_next(lr, &line, &len);

		ck_assert_msg(st == w->status, "%s (%s), result %d: status %d, "
			      "want %d", c->name, how, i, (int)st, (int)w->status);
		ck_assert_msg(linereader_lineno(lr) == w->lineno,
			      "%s (%s), result %d: line %lu, want %lu", c->name,
			      how, i, linereader_lineno(lr), w->lineno);
		if (st == LINEREADER_LINE) {
			ck_assert_msg(len == w->len, "%s (%s), result %d: length "
				      "%zu, want %zu", c->name, how, i, len, w->len);
			ck_assert_mem_eq(line, w->line, len);
			ck_assert_int_eq(line[len], '\0');
			ck_assert_int_eq(linereader_had_cr(lr), w->had_cr);
		}
		if (st == LINEREADER_EOF)
			break;
	}
	ck_assert_msg(i < MAX_RESULTS, "%s: table has no EOF", c->name);
	/* EOF is sticky. */
	{
		const char *line;
		size_t len;

		ck_assert_int_eq(linereader_next(lr, &line, &len), LINEREADER_EOF);
	}
	linereader_free(&lr);
	ck_assert_ptr_null(lr);
}

START_TEST(test_table_file)
{
	const struct lr_case *c = &lr_cases[_i];
	size_t len = c->in_len != 0 ? c->in_len : strlen(c->in);
	int fd = temp_fd(c->in, len);

	check_results(c, fd, "file");
	close(fd);
}
END_TEST

START_TEST(test_table_pipe)
{
	const struct lr_case *c = &lr_cases[_i];
	size_t len = c->in_len != 0 ? c->in_len : strlen(c->in);
	pid_t pid;
	int fd = pipe_fd(c->in, len, 1, &pid);

	check_results(c, fd, "pipe, 1 byte per write");
	close(fd);
	reap(pid);
}
END_TEST

/* Build "<size bytes of x>\nafter\n". */
static char *big_line(size_t size, size_t *len_r)
{
	static const char tail[] = "\nafter\n";
	char *buf = mm_malloc(size + sizeof(tail));

	memset(buf, 'x', size);
	memcpy(buf + size, tail, sizeof(tail));
	*len_r = size + sizeof(tail) - 1;
	return buf;
}

/* Read a 10 MB line and the line after it from fd, max 4096. */
static void check_big(int fd)
{
	struct linereader *lr = linereader_new(fd, 4096);
	const char *line;
	size_t len;

	ck_assert_int_eq(linereader_next(lr, &line, &len), LINEREADER_TOOLONG);
	ck_assert_uint_eq(linereader_lineno(lr), 1);
	ck_assert_int_eq(linereader_next(lr, &line, &len), LINEREADER_LINE);
	ck_assert_str_eq(line, "after");
	ck_assert_uint_eq(len, 5);
	ck_assert_uint_eq(linereader_lineno(lr), 2);
	ck_assert_int_eq(linereader_next(lr, &line, &len), LINEREADER_EOF);
	linereader_free(&lr);
}

START_TEST(test_10mb_line_pipe)
{
	size_t len;
	char *data = big_line(10 * 1024 * 1024, &len);
	pid_t pid;
	int fd = pipe_fd(data, len, 65536, &pid);

	check_big(fd);
	close(fd);
	reap(pid);
	mm_free(&data);
}
END_TEST

START_TEST(test_10mb_line_file)
{
	size_t len;
	char *data = big_line(10 * 1024 * 1024, &len);
	int fd = temp_fd(data, len);

	mm_free(&data);
	check_big(fd);
	close(fd);
}
END_TEST

/* Lines of exactly 4096 bytes and of 4097, with LF and with CRLF. */
/* has_line says when the next call needs no read: the deadline of a
 * caller that polls first (dovecot_target) depends on it. */
START_TEST(test_has_line)
{
	static const char data[] = "a\nb\nc";
	struct linereader *lr;
	const char *line;
	size_t len;
	int fd = temp_fd(data, sizeof(data) - 1);

	lr = linereader_new(fd, 100);
	ck_assert_int_eq(linereader_has_line(lr), 0);
	ck_assert_int_eq(linereader_next(lr, &line, &len), LINEREADER_LINE);
	ck_assert_str_eq(line, "a");
	ck_assert_int_eq(linereader_has_line(lr), 1);	/* "b\n" buffered */
	ck_assert_int_eq(linereader_next(lr, &line, &len), LINEREADER_LINE);
	ck_assert_str_eq(line, "b");
	ck_assert_int_eq(linereader_has_line(lr), 0);	/* "c" without LF */
	ck_assert_int_eq(linereader_next(lr, &line, &len), LINEREADER_LINE);
	ck_assert_str_eq(line, "c");
	ck_assert_int_eq(linereader_has_line(lr), 1);	/* the end */
	ck_assert_int_eq(linereader_next(lr, &line, &len), LINEREADER_EOF);
	linereader_free(&lr);
	close(fd);
}
END_TEST

START_TEST(test_limit_4096)
{
	static const size_t sizes[] = { 4096, 4097 };
	size_t size = sizes[_i / 2];
	int crlf = _i % 2;
	char *data = mm_malloc(size + 8);
	struct linereader *lr;
	const char *line;
	size_t len, n = size;
	int fd;

	memset(data, 'y', size);
	if (crlf)
		data[n++] = '\r';
	memcpy(data + n, "\nend", 4);
	n += 4;
	fd = temp_fd(data, n);
	lr = linereader_new(fd, 4096);
	if (size <= 4096) {
		ck_assert_int_eq(linereader_next(lr, &line, &len), LINEREADER_LINE);
		ck_assert_uint_eq(len, size);
		ck_assert_mem_eq(line, data, size);
		ck_assert_int_eq(linereader_had_cr(lr), crlf);
	} else {
		ck_assert_int_eq(linereader_next(lr, &line, &len),
				 LINEREADER_TOOLONG);
	}
	ck_assert_int_eq(linereader_next(lr, &line, &len), LINEREADER_LINE);
	ck_assert_str_eq(line, "end");
	ck_assert_uint_eq(linereader_lineno(lr), 2);
	ck_assert_int_eq(linereader_next(lr, &line, &len), LINEREADER_EOF);
	linereader_free(&lr);
	close(fd);
	mm_free(&data);
}
END_TEST

/* The over-long line is refused while its writer is still writing: the
 * read end is non-blocking, so waiting for more would be EAGAIN. */
START_TEST(test_refused_before_complete)
{
	int fds[2];
	struct linereader *lr;
	const char *line;
	size_t len;

	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
	lr = linereader_new(fds[0], 8);
	ck_assert_int_eq(write(fds[1], "0123456789", 10), 10);
	ck_assert_int_eq(linereader_next(lr, &line, &len), LINEREADER_TOOLONG);
	ck_assert_uint_eq(linereader_lineno(lr), 1);
	/* The rest of that line and one more arrive later. */
	ck_assert_int_eq(write(fds[1], "abcdefghij\nshort\n", 17), 17);
	close(fds[1]);
	ck_assert_int_eq(linereader_next(lr, &line, &len), LINEREADER_LINE);
	ck_assert_str_eq(line, "short");
	ck_assert_uint_eq(linereader_lineno(lr), 2);
	ck_assert_int_eq(linereader_next(lr, &line, &len), LINEREADER_EOF);
	linereader_free(&lr);
	close(fds[0]);
}
END_TEST

/* A line that fits is not refused early: at max + CR the reader must
 * wait for the LF (here: EAGAIN, as nothing more has come yet). */
START_TEST(test_cr_at_limit_waits)
{
	int fds[2];
	struct linereader *lr;
	const char *line;
	size_t len;

	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
	lr = linereader_new(fds[0], 4);
	ck_assert_int_eq(write(fds[1], "abcd\r", 5), 5);
	ck_assert_int_eq(linereader_next(lr, &line, &len), LINEREADER_ERROR);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(write(fds[1], "\n", 1), 1);
	ck_assert_int_eq(linereader_next(lr, &line, &len), LINEREADER_LINE);
	ck_assert_str_eq(line, "abcd");
	ck_assert_int_eq(linereader_had_cr(lr), 1);
	close(fds[1]);
	ck_assert_int_eq(linereader_next(lr, &line, &len), LINEREADER_EOF);
	linereader_free(&lr);
	close(fds[0]);
}
END_TEST

static volatile sig_atomic_t alarms;
static int alarm_notify_fd = -1;

/* Count the signal and tell the writer child it may go on. */
static void on_alarm(int sig)
{
	int saved = errno;

	(void)sig;
	alarms++;
	if (alarm_notify_fd >= 0) {
		ssize_t n = write(alarm_notify_fd, "!", 1);

		(void)n;	/* the child then just waits for the next one */
	}
	errno = saved;
}

/* read(2) interrupted by signals (no SA_RESTART) is retried: the
 * writer only writes after three signals have reached the reader. */
START_TEST(test_eintr)
{
	struct sigaction sa, old_sa;
	struct itimerval it, off;
	int data[2], notify[2];
	struct linereader *lr;
	const char *line;
	size_t len;
	pid_t pid;

	ck_assert_int_eq(pipe(data), 0);
	ck_assert_int_eq(pipe(notify), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char c;

		close(data[0]);
		close(notify[1]);
		for (int i = 0; i < 3; i++)
			if (read(notify[0], &c, 1) != 1)
				_exit(1);
		if (write(data[1], "woken\n", 6) != 6)
			_exit(1);
		_exit(0);
	}
	close(data[1]);
	close(notify[0]);
	alarm_notify_fd = notify[1];

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: read() fails with EINTR */
	ck_assert_int_eq(sigaction(SIGALRM, &sa, &old_sa), 0);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = 20000;
	it.it_interval.tv_usec = 20000;
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);

	lr = linereader_new(data[0], 64);
	ck_assert_int_eq(linereader_next(lr, &line, &len), LINEREADER_LINE);
	ck_assert_str_eq(line, "woken");

	memset(&off, 0, sizeof(off));
	ck_assert_int_eq(setitimer(ITIMER_REAL, &off, NULL), 0);
	ck_assert_int_eq(sigaction(SIGALRM, &old_sa, NULL), 0);
	alarm_notify_fd = -1;
	ck_assert_int_ge(alarms, 3);
	ck_assert_int_eq(linereader_next(lr, &line, &len), LINEREADER_EOF);
	linereader_free(&lr);
	close(data[0]);
	close(notify[1]);
	reap(pid);
}
END_TEST

/* A read error is reported with errno, not as EOF. */
START_TEST(test_read_error)
{
	int fds[2];
	struct linereader *lr;
	const char *line;
	size_t len;

	ck_assert_int_eq(pipe(fds), 0);
	lr = linereader_new(fds[1], 64);	/* the write end cannot be read */
	errno = 0;
	ck_assert_int_eq(linereader_next(lr, &line, &len), LINEREADER_ERROR);
	ck_assert_int_eq(errno, EBADF);
	linereader_free(&lr);
	ck_assert_ptr_null(lr);
	linereader_free(&lr);	/* NULL is fine */
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* linereader_free() leaves the caller's descriptor open. */
START_TEST(test_fd_stays_open)
{
	int fd = temp_fd("a\n", 2);
	struct linereader *lr = linereader_new(fd, 16);

	linereader_free(&lr);
	ck_assert_int_ne(fcntl(fd, F_GETFD), -1);
	close(fd);
}
END_TEST

static Suite *linereader_suite(void)
{
	Suite *s = suite_create("linereader");
	TCase *tc = tcase_create("core");
	int ncases = (int)(sizeof(lr_cases) / sizeof(lr_cases[0]));

	tcase_add_loop_test(tc, test_table_file, 0, ncases);
	tcase_add_loop_test(tc, test_table_pipe, 0, ncases);
	tcase_add_test(tc, test_10mb_line_pipe);
	tcase_add_test(tc, test_10mb_line_file);
	tcase_add_test(tc, test_has_line);
	tcase_add_loop_test(tc, test_limit_4096, 0, 4);
	tcase_add_test(tc, test_refused_before_complete);
	tcase_add_test(tc, test_cr_at_limit_waits);
	tcase_add_test(tc, test_eintr);
	tcase_add_test(tc, test_read_error);
	tcase_add_test(tc, test_fd_stays_open);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(linereader_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
