/*
 * NAME
 *	spawn 3
 * SUMMARY
 *	run a program and wait for it, bounded in time and output
 * DESCRIPTION
 *	One fork, exec and wait for every program mailmigrate runs
 *	(post_migrate_script, doveadm proxy kick, postconf, doveconf).
 *	The child's descriptors 0, 1 and 2 are wired as asked, every
 *	other descriptor is close-on-exec, SIGPIPE is back to its default;
 *	exec's errno comes back through a close-on-exec status pipe. The
 *	parent waits for that pipe first (EOF: exec succeeded), then
 *	feeds the input and reads both outputs in one poll loop against a
 *	monotonic deadline, so a program that never reads its input nor
 *	closes its output still ends at the deadline.
 * DIAGNOSTICS
 *	spawn_run() fails (-1) only before the program exists: a pipe,
 *	/dev/null or fork. Everything after is a struct spawn_result.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mm_alloc.h"
#include "spawn.h"

/* One output being read: where it goes, how much is kept. */
struct spawn_sink {
	int fd;			/* -1: closed */
	char *buf;		/* NULL: read and dropped */
	size_t len, max;
	int truncated;
};

struct spawn_pipes {
	int in[2], out[2], err[2], st[2];
	int null_fd;
};

static int64_t spawn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void spawn_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void spawn_pipes_close(struct spawn_pipes *p)
{
	for (int i = 0; i < 2; i++) {
		spawn_close(&p->in[i]);
		spawn_close(&p->out[i]);
		spawn_close(&p->err[i]);
		spawn_close(&p->st[i]);
	}
	spawn_close(&p->null_fd);
}

/* The child: wire 0, 1 and 2, exec; on failure, exec's errno goes back
 * through the status pipe. Only async-signal-safe calls here. */
static void __attribute__((noreturn))
spawn_child(const struct spawn_opts *o, const struct spawn_pipes *p)
{
	int in = o->input != NULL ? p->in[0] : o->stdin_fd > 0 ? o->stdin_fd : p->null_fd;
	int out = o->out == SPAWN_OUT_CAPTURE ? p->out[1] : p->null_fd;
	int err = o->err == SPAWN_OUT_CAPTURE ? p->err[1] :
		  o->err == SPAWN_OUT_MERGE && o->out == SPAWN_OUT_CAPTURE ?
		  p->out[1] : p->null_fd;
	int e;

	if (o->own_group)
		(void)setpgid(0, 0);
	/* The parent may ignore SIGPIPE; that is not the program's to keep. */
	signal(SIGPIPE, SIG_DFL);
	if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
	    dup2(err, STDERR_FILENO) < 0) {
		e = errno;
		(void)!write(p->st[1], &e, sizeof(e));
		_exit(127);
	}
	/* Whatever else the parent holds open stays with the parent. */
	(void)close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	if (o->path_search)
		execvpe(o->argv[0], o->argv, o->envp);
	else
		execve(o->argv[0], o->argv, o->envp);
	e = errno;
	(void)!write(p->st[1], &e, sizeof(e));
	_exit(127);
}

/* Read what is there from one output; 0 at its end. */
static int spawn_read(struct spawn_sink *s)
{
	char tmp[4096];
	ssize_t n = read(s->fd, tmp, sizeof(tmp));
	size_t keep;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0) {
		spawn_close(&s->fd);
		return 0;
	}
	if (s->buf != NULL) {
		keep = s->max - s->len < (size_t)n ? s->max - s->len : (size_t)n;
		memcpy(s->buf + s->len, tmp, keep);
		s->len += keep;
		s->truncated |= keep < (size_t)n;
	}
	mm_wipe(tmp, (size_t)n);
	return 1;
}

/* Feed the input, read the outputs, until both end or the deadline.
 * SPAWN_END_EXITED when they ended, else why the program is killed. */
static enum spawn_end spawn_loop(const struct spawn_opts *o, int *in_fd,
				 struct spawn_sink *out, struct spawn_sink *err,
				 size_t *fed_r)
{
	int64_t deadline = o->timeout_ms != 0 ? spawn_now_ms() + o->timeout_ms : 0;
	size_t fed = 0;

	while (*in_fd >= 0 || out->fd >= 0 || err->fd >= 0) {
		struct pollfd pfd[3];
		nfds_t n = 0;
		int wait = -1, r;

		if (deadline != 0) {
			int64_t left = deadline - spawn_now_ms();

			if (left <= 0)
				return SPAWN_END_TIMEOUT;
			wait = left > 1000 ? 1000 : (int)left;
		}
		if (*in_fd >= 0)
			pfd[n++] = (struct pollfd){ .fd = *in_fd, .events = POLLOUT };
		if (out->fd >= 0)
			pfd[n++] = (struct pollfd){ .fd = out->fd, .events = POLLIN };
		if (err->fd >= 0)
			pfd[n++] = (struct pollfd){ .fd = err->fd, .events = POLLIN };
		r = poll(pfd, n, wait);
		if (r <= 0)
			continue;	/* EINTR, or a tick towards the deadline */
		for (nfds_t i = 0; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (pfd[i].fd == *in_fd) {
				const char *p = (const char *)o->input + fed;
				ssize_t w = write(*in_fd, p, o->input_len - fed);

				if (w > 0)
					*fed_r = fed += (size_t)w;
				if ((w < 0 && errno != EINTR && errno != EAGAIN) ||
				    fed == o->input_len)
					spawn_close(in_fd);	/* EPIPE: not read */
			} else if (pfd[i].fd == out->fd) {
				(void)spawn_read(out);
				if (out->truncated && o->overflow == SPAWN_OVERFLOW_KILL)
					return SPAWN_END_OVERFLOW;
			} else {
				(void)spawn_read(err);
			}
		}
	}
	return SPAWN_END_EXITED;
}

/* Wait for pid up to the deadline's rest (its outputs are closed, it
 * may still run); SPAWN_END_TIMEOUT when it has to be killed. */
static int spawn_reap(pid_t pid, int64_t deadline, int *status_r)
{
	struct timespec tick = { 0, 20 * 1000 * 1000 };
	pid_t r;

	for (;;) {
		r = waitpid(pid, status_r, deadline != 0 ? WNOHANG : 0);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		if (r == 0 && spawn_now_ms() >= deadline)
			return 1;
		if (r == 0)
			nanosleep(&tick, NULL);
	}
}

int spawn_run(const struct spawn_opts *o, struct spawn_result *r,
	      const char **step_r)
{
	struct spawn_pipes p = { { -1, -1 }, { -1, -1 }, { -1, -1 }, { -1, -1 }, -1 };
	struct spawn_sink out = { -1, NULL, 0, 0, 0 }, err = { -1, NULL, 0, 0, 0 };
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_pipe;
	int64_t started;
	size_t fed = 0;
	int exec_errno = 0, status = 0, saved, w = 0;
	enum spawn_end end;
	ssize_t n;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	*step_r = "pipe";
	if ((o->input != NULL && pipe2(p.in, O_CLOEXEC) < 0) ||
	    (o->out == SPAWN_OUT_CAPTURE && pipe2(p.out, O_CLOEXEC) < 0) ||
	    (o->err == SPAWN_OUT_CAPTURE && pipe2(p.err, O_CLOEXEC) < 0) ||
	    pipe2(p.st, O_CLOEXEC) < 0)
		goto fail;
	*step_r = "/dev/null";
	if ((p.null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		goto fail;
	*step_r = "fork";
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0)
		spawn_child(o, &p);
	spawn_close(&p.in[0]);
	spawn_close(&p.out[1]);
	spawn_close(&p.err[1]);
	spawn_close(&p.st[1]);
	spawn_close(&p.null_fd);
	/* Also here, so a kill at the deadline finds the group even if
	 * the child has not run setpgid yet. */
	if (o->own_group)
		(void)setpgid(pid, pid);
	started = spawn_now_ms();

	/* EOF: exec succeeded (close-on-exec); an int: its errno. */
	do
		n = read(p.st[0], &exec_errno, sizeof(exec_errno));
	while (n < 0 && errno == EINTR);
	spawn_close(&p.st[0]);
	if (n != (ssize_t)sizeof(exec_errno))
		exec_errno = 0;

	if (o->out == SPAWN_OUT_CAPTURE) {
		out.fd = p.out[0];
		out.max = o->out_max;
		out.buf = r->out = mm_malloc(o->out_max + 1);
	}
	if (o->err == SPAWN_OUT_CAPTURE) {
		err.fd = p.err[0];
		err.max = o->err_max;
		err.buf = r->err = mm_malloc(o->err_max + 1);
	}
	p.out[0] = p.err[0] = -1;	/* the sinks own them now */
	if (p.in[1] >= 0)
		(void)fcntl(p.in[1], F_SETFL, O_NONBLOCK);
	/* A program that does not read its input must not kill us. */
	sigaction(SIGPIPE, &ign, &old_pipe);
	if (exec_errno != 0)
		spawn_close(&p.in[1]);
	end = spawn_loop(o, &p.in[1], &out, &err, &fed);
	r->input_short = o->input != NULL && fed < o->input_len;
	sigaction(SIGPIPE, &old_pipe, NULL);
	spawn_pipes_close(&p);
	spawn_close(&out.fd);
	spawn_close(&err.fd);
	if (end == SPAWN_END_EXITED) {
		w = spawn_reap(pid, o->timeout_ms != 0 ? started + o->timeout_ms : 0,
			       &status);
		if (w > 0)
			end = SPAWN_END_TIMEOUT;
	}
	if (end != SPAWN_END_EXITED) {
		(void)kill(o->own_group ? -pid : pid, SIGKILL);
		while ((w = (int)waitpid(pid, &status, 0)) < 0 && errno == EINTR)
			;
	}
	if (w < 0) {
		r->end = SPAWN_END_NO_STATUS;
		r->code = errno;
	} else if (exec_errno != 0) {
		r->end = SPAWN_END_NOT_RUN;
		r->code = exec_errno;
	} else if (end != SPAWN_END_EXITED) {
		r->end = end;
	} else if (WIFEXITED(status)) {
		r->end = SPAWN_END_EXITED;
		r->code = WEXITSTATUS(status);
	} else {
		r->end = SPAWN_END_SIGNALED;
		r->code = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	}
	if (r->out != NULL) {
		r->out_len = out.len;
		r->out[out.len] = '\0';
		r->out_truncated = out.truncated;
	}
	if (r->err != NULL) {
		r->err_len = err.len;
		r->err[err.len] = '\0';
		r->err_truncated = err.truncated;
	}
	return 0;
fail:
	saved = errno;
	spawn_pipes_close(&p);
	errno = saved;
	return -1;
}

void spawn_result_clear(struct spawn_result *r)
{
	if (r->out != NULL)
		mm_free_wiped(&r->out, r->out_len);
	if (r->err != NULL)
		mm_free_wiped(&r->err, r->err_len);
	r->out_len = r->err_len = 0;
}

const char *spawn_end_str(const struct spawn_result *r, char *buf, size_t size)
{
	switch (r->end) {
	case SPAWN_END_EXITED:
		snprintf(buf, size, "exited %d", r->code);
		break;
	case SPAWN_END_SIGNALED:
		snprintf(buf, size, "killed by signal %d", r->code);
		break;
	case SPAWN_END_TIMEOUT:
		snprintf(buf, size, "timed out, killed");
		break;
	case SPAWN_END_OVERFLOW:
		snprintf(buf, size, "too much output, killed");
		break;
	case SPAWN_END_NOT_RUN:
		snprintf(buf, size, "cannot run it: %s", strerror(r->code));
		break;
	case SPAWN_END_NO_STATUS:
		snprintf(buf, size, "no exit status: %s", strerror(r->code));
		break;
	}
	return buf;
}
