/*
 * NAME
 *	fakeserver 3
 * SUMMARY
 *	a forked, scripted TCP server for failure tests
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fakeserver.h"

/* Send all of buf; 0 or -1. */
static int fake_send(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read one line (up to LF) into buf; its length or -1. */
static ssize_t fake_read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;

	while (n + 1 < size) {
		ssize_t r = read(fd, buf + n, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

/* Play the script on fd; 0 if every step went as written. */
static int fake_play(int fd, const struct fakeserver_step *steps)
{
	char line[8192], sink[65536];

	for (const struct fakeserver_step *st = steps;; st++) {
		size_t len = st->text != NULL ? (st->len != 0 ? st->len : strlen(st->text)) : 0;
		struct timespec ts;

		switch (st->op) {
		case FAKE_END:
			/* Wait for the client to hang up. */
			while (read(fd, sink, sizeof(sink)) > 0)
				;
			return 0;
		case FAKE_SEND:
			if (fake_send(fd, st->text, len) < 0)
				return -1;
			break;
		case FAKE_SEND_REPEAT:
			for (unsigned long i = 0; i < st->count; i++)
				if (fake_send(fd, st->text, len) < 0)
					return -1;
			break;
		case FAKE_EXPECT:
			if (fake_read_line(fd, line, sizeof(line)) < 0 ||
			    strncmp(line, st->text, len) != 0)
				return -1;
			break;
		case FAKE_DRAIN:
			for (unsigned long left = st->count; left > 0;) {
				ssize_t r = read(fd, sink, left < sizeof(sink) ? left : sizeof(sink));

				if (r <= 0)
					return -1;
				left -= (unsigned long)r;
			}
			break;
		case FAKE_SLEEP_MS:
			ts.tv_sec = (time_t)(st->count / 1000);
			ts.tv_nsec = (long)(st->count % 1000) * 1000000L;
			nanosleep(&ts, NULL);
			break;
		case FAKE_CLOSE:
			close(fd);
			return 0;
		case FAKE_HANG:
			for (;;)
				pause();
		}
	}
}

int fakeserver_start(const struct fakeserver_step *steps,
		     struct fakeserver *server_r)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int lfd, pipefd[2], one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -1;
	(void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(lfd, 4) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) < 0 ||
	    pipe(pipefd) < 0) {
		close(lfd);
		return -1;
	}
	server_r->port = ntohs(sin.sin_port);
	server_r->pid = fork();
	if (server_r->pid < 0) {
		close(lfd);
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (server_r->pid == 0) {
		int fd, ok;

		close(pipefd[0]);
		fd = accept(lfd, NULL, NULL);
		close(lfd);
		ok = fd >= 0 && fake_play(fd, steps) == 0;
		if (ok && write(pipefd[1], "K", 1) != 1)
			ok = 0;
		_exit(ok ? 0 : 1);
	}
	close(lfd);
	close(pipefd[1]);
	server_r->status_fd = pipefd[0];
	return 0;
}

int fakeserver_stop(struct fakeserver *server)
{
	char c = 0;
	int status;

	/* A finished script has written its 'K'; give it a moment. */
	struct timespec ts = { 0, 50 * 1000000L };

	if (waitpid(server->pid, &status, WNOHANG) == 0) {
		nanosleep(&ts, NULL);
		if (waitpid(server->pid, &status, WNOHANG) == 0) {
			kill(server->pid, SIGKILL);
			waitpid(server->pid, &status, 0);
		}
	}
	if (read(server->status_fd, &c, 1) != 1)
		c = 0;
	close(server->status_fd);
	return c == 'K';
}
