/*
 * NAME
 *	token_cmd 3
 * SUMMARY
 *	run source_oauth2_token_command and read one bearer token
 * DESCRIPTION
 *	fork and exec with four pipes: the account in, the token out, the
 *	command's complaints out, and a close-on-exec pipe that carries
 *	exec's errno back, so "cannot run it" (a configuration error) is
 *	told apart from "it ran and failed" (retry later) without
 *	guessing from exit status 127. One poll loop with a monotonic
 *	deadline reads both outputs; the token's is bounded, the error's
 *	first line is kept and the rest dropped.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mm_alloc.h"
#include "token_cmd.h"

#define TOKEN_CMD_KEY "source_oauth2_token_command"
#define TOKEN_CMD_TIMEOUT_MS 30000
/* The token, a CRLF, and one byte to see that there is more. */
#define TOKEN_CMD_BUF (TOKEN_CMD_MAX + 3)

/* What the command said on standard error, for the message. */
struct token_cmd_err {
	char line[200];
	size_t len;
	int done;	/* the first line ended */
};

static int64_t token_cmd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The child: wire the pipes to 0, 1, 2 and exec; on failure, exec's
 * errno goes back through the status pipe. */
static void __attribute__((noreturn))
token_cmd_child(const char *command, int in, int out, int err, int status)
{
	int e;

	/* Its own group: a timeout kills the command and its children. */
	(void)setpgid(0, 0);
	/* The parent may ignore SIGPIPE; the command should not inherit
	 * that. */
	signal(SIGPIPE, SIG_DFL);
	if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
	    dup2(err, STDERR_FILENO) < 0) {
		e = errno;
		(void)!write(status, &e, sizeof(e));
		_exit(127);
	}
	if (in > STDERR_FILENO)
		close(in);
	if (out > STDERR_FILENO)
		close(out);
	if (err > STDERR_FILENO)
		close(err);
	execl(command, command, (char *)NULL);
	e = errno;
	(void)!write(status, &e, sizeof(e));
	_exit(127);
}

/* Keep the first line of the command's standard error. */
static void token_cmd_err_add(struct token_cmd_err *e, const char *buf, size_t n)
{
	for (size_t i = 0; i < n && !e->done; i++) {
		if (buf[i] == '\n')
			e->done = 1;
		else if (e->len + 1 < sizeof(e->line))
			e->line[e->len++] = buf[i];
	}
}

/* ": first line" for a message, or "". */
static const char *token_cmd_err_text(struct token_cmd_err *e, char *buf,
				      size_t size)
{
	char shown[sizeof(e->line) * 4];

	while (e->len > 0 && e->line[e->len - 1] == '\r')
		e->len--;
	if (e->len == 0)
		return "";
	log_printable(shown, sizeof(shown), e->line, e->len);
	snprintf(buf, size, ": %s", shown);
	return buf;
}

/* Write the account to the command's standard input and close it. A
 * command that exits without reading must not kill us with SIGPIPE;
 * one that does not read at all is no error of ours. */
static void token_cmd_feed(int fd, const char *account)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	size_t len = strlen(account);

	sigaction(SIGPIPE, &ign, &old);
	if (write(fd, account, len) == (ssize_t)len)
		(void)!write(fd, "\n", 1);
	sigaction(SIGPIPE, &old, NULL);
	close(fd);
}

/* Is every byte of s[0..len) printable ASCII other than a space? The
 * offset of the first that is not in *bad_r. */
static int token_cmd_valid(const char *s, size_t len, size_t *bad_r)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= 0x20 || ch >= 0x7f) {
			*bad_r = i;
			return 0;
		}
	}
	return 1;
}

int token_cmd_run(const char *command, const char *account,
		  unsigned timeout_ms, char **token_r,
		  enum stream_fail *fail_r, const char **error_r)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	int st[2] = { -1, -1 }, status = 0, exec_errno = 0, ret = -1;
	int out_open = 1, err_open = 1, timed_out = 0, over = 0, wait_errno = 0;
	struct token_cmd_err e = { .len = 0 };
	char *buf, errtext[sizeof(e.line) * 4 + 4];
	size_t len = 0, bad;
	int64_t deadline;
	ssize_t n;
	pid_t pid;

	*token_r = NULL;
	if (timeout_ms == 0)
		timeout_ms = TOKEN_CMD_TIMEOUT_MS;
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(err, O_CLOEXEC) < 0 || pipe2(st, O_CLOEXEC) < 0) {
		int saved = errno;

		for (int i = 0; i < 2; i++) {
			if (in[i] >= 0) close(in[i]);
			if (out[i] >= 0) close(out[i]);
			if (err[i] >= 0) close(err[i]);
			if (st[i] >= 0) close(st[i]);
		}
		return stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
				    TOKEN_CMD_KEY " %s for %s: pipe: %s",
				    command, account, strerror(saved));
	}
	pid = fork();
	if (pid == 0)
		token_cmd_child(command, in[0], out[1], err[1], st[1]);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	close(st[1]);
	if (pid < 0) {
		int saved = errno;

		close(in[1]);
		close(out[0]);
		close(err[0]);
		close(st[0]);
		return stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
				    TOKEN_CMD_KEY " %s for %s: fork: %s",
				    command, account, strerror(saved));
	}
	/* Also in the parent, so a kill after a timeout finds the group
	 * even if the child has not run setpgid yet. */
	(void)setpgid(pid, pid);
	deadline = token_cmd_now_ms() + timeout_ms;

	/* EOF: exec succeeded (close-on-exec); an int: its errno. */
	do
		n = read(st[0], &exec_errno, sizeof(exec_errno));
	while (n < 0 && errno == EINTR);
	close(st[0]);
	if (n != (ssize_t)sizeof(exec_errno))
		exec_errno = 0;
	if (exec_errno == 0)
		token_cmd_feed(in[1], account);
	else
		close(in[1]);

	buf = mm_malloc(TOKEN_CMD_BUF);
	while (exec_errno == 0 && (out_open || err_open)) {
		struct pollfd pfd[2];
		nfds_t nfds = 0;
		int64_t left = deadline - token_cmd_now_ms();
		char tmp[4096];
		int r;

		if (left <= 0) {
			timed_out = 1;
			break;
		}
		if (out_open)
			pfd[nfds++] = (struct pollfd){ .fd = out[0], .events = POLLIN };
		if (err_open)
			pfd[nfds++] = (struct pollfd){ .fd = err[0], .events = POLLIN };
		r = poll(pfd, nfds, (int)(left > 1000 ? 1000 : left));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		for (nfds_t i = 0; i < nfds; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (pfd[i].fd == out[0]) {
				n = read(out[0], buf + len, TOKEN_CMD_BUF - len);
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0) {
					out_open = 0;
					continue;
				}
				len += (size_t)n;
				if (len == TOKEN_CMD_BUF) {
					over = 1;
					break;
				}
			} else {
				n = read(err[0], tmp, sizeof(tmp));
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0) {
					err_open = 0;
					continue;
				}
				token_cmd_err_add(&e, tmp, (size_t)n);
				mm_wipe(tmp, (size_t)n);
			}
		}
		if (over)
			break;
	}
	close(out[0]);
	close(err[0]);
	if (timed_out || over)
		(void)kill(-pid, SIGKILL);
	/* Its exit status is the verdict: none (SIGCHLD ignored, someone
	 * else reaped it) is no success. */
	while ((n = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (n < 0) {
		wait_errno = errno;
		status = -1;
	}
	/* One trailing newline is the end of the line, not the token. */
	if (len > 0 && buf[len - 1] == '\n') {
		len--;
		if (len > 0 && buf[len - 1] == '\r')
			len--;
	}
	if (exec_errno != 0)
		stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
			     TOKEN_CMD_KEY " %s for %s: cannot run it: %s",
			     command, account, strerror(exec_errno));
	else if (over || len > TOKEN_CMD_MAX)
		stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
			     TOKEN_CMD_KEY " %s for %s: printed more than %d "
			     "bytes, too long for a token", command, account,
			     TOKEN_CMD_MAX);
	else if (timed_out)
		stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
			     TOKEN_CMD_KEY " %s for %s: no token within %u ms: "
			     "killed%s", command, account, timeout_ms,
			     token_cmd_err_text(&e, errtext, sizeof(errtext)));
	else if (wait_errno != 0)
		stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
			     TOKEN_CMD_KEY " %s for %s: no exit status: %s",
			     command, account, strerror(wait_errno));
	else if (WIFSIGNALED(status))
		stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
			     TOKEN_CMD_KEY " %s for %s: killed by signal %d%s",
			     command, account, WTERMSIG(status),
			     token_cmd_err_text(&e, errtext, sizeof(errtext)));
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
			     TOKEN_CMD_KEY " %s for %s: exited with status %d%s",
			     command, account, WIFEXITED(status) ?
			     WEXITSTATUS(status) : -1,
			     token_cmd_err_text(&e, errtext, sizeof(errtext)));
	else if (len == 0)
		stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
			     TOKEN_CMD_KEY " %s for %s: printed no token%s",
			     command, account,
			     token_cmd_err_text(&e, errtext, sizeof(errtext)));
	else if (!token_cmd_valid(buf, len, &bad))
		stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
			     TOKEN_CMD_KEY " %s for %s: printed no token: byte "
			     "%zu of its output is 0x%02x, not printable ASCII "
			     "(a token is one line without spaces)", command,
			     account, bad + 1, (unsigned char)buf[bad]);
	else {
		*token_r = mm_strndup(buf, len);
		ret = 0;
	}
	mm_free_wiped(&buf, TOKEN_CMD_BUF);
	mm_wipe(&e, sizeof(e));
	return ret;
}
