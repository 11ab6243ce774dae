/*
 * NAME
 *	socketmap_null 1
 * SUMMARY
 *	a do-nothing socketmap server: the floor of bench/relay-bench.sh
 * SYNOPSIS
 *	socketmap_null socket
 * DESCRIPTION
 *	Listens on a unix socket and answers every socketmap query
 *	(Postfix's netstring protocol: "name key" in, "OK data" or
 *	"NOTFOUND " out) with the same fixed "OK smtp:[192.0.2.1]",
 *	without looking at the map name or the key. It has the shape of
 *	mailmigrate-relay's server (relay_server.c, relay_conn.c): one
 *	process, one thread, epoll in level-triggered mode, a signalfd for
 *	SIGTERM/SIGINT, non-blocking clients, one read per readiness
 *	event, every complete query in that read answered in order, the
 *	replies written at once and the rest on EPOLLOUT. What it lacks is
 *	everything a real map does (parsing the key, the store, the
 *	cache), so relay_load against it measures the cost of the socket,
 *	the system calls and the load client: the most any socketmap
 *	server can do on this machine.
 *
 *	The netstring length is checked before its payload is read
 *	(10,000 bytes at most, as the relay allows); a malformed one
 *	closes the connection.
 *
 *	Prints "socketmap_null: N queries" on stderr when stopped.
 *	Exit 0, or 1 when it cannot listen.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define NULL_MAX_QUERY 10000
/* One maximal query netstring: "10000:" + payload + ",". */
#define NULL_IN_SIZE (NULL_MAX_QUERY + 7)
#define NULL_EVENTS 256
#define NULL_REPLY "OK smtp:[192.0.2.1]"

struct conn {
	int fd;
	uint32_t events;	/* what epoll watches: EPOLLIN or EPOLLOUT */
	size_t in_len;
	char in[NULL_IN_SIZE];
	char *out;
	size_t out_len, out_off, out_size;
};

static char reply[64];
static size_t reply_len;
static uint64_t queries;

static void die(const char *what)
{
	fprintf(stderr, "socketmap_null: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Queue one reply; the buffer grows to what the replies of one input
 * buffer's queries need, as the relay's does. */
static void conn_reply(struct conn *c)
{
	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + reply_len > c->out_size) {
		size_t size = c->out_size == 0 ? 512 : c->out_size;

		while (size < c->out_len + reply_len)
			size *= 2;
		if ((c->out = realloc(c->out, size)) == NULL)
			die("realloc");
		c->out_size = size;
	}
	memcpy(c->out + c->out_len, reply, reply_len);
	c->out_len += reply_len;
}

/* Answer each complete query netstring in c->in: 0, or -1 for a
 * malformed one. */
static int conn_process(struct conn *c)
{
	size_t done = 0;

	while (done < c->in_len) {
		const char *p = c->in + done, *end = c->in + c->in_len;
		size_t len = 0, digits = 0;

		while (p < end && *p >= '0' && *p <= '9') {
			len = len * 10 + (size_t)(*p - '0');
			if (++digits > 5 || len > NULL_MAX_QUERY)
				return -1;
			p++;
		}
		if (p == end)
			break;		/* the length is not complete yet */
		if (digits == 0 || *p != ':')
			return -1;
		if ((size_t)(end - p) < 1 + len + 1)
			break;		/* the payload is not complete yet */
		if (p[1 + len] != ',')
			return -1;
		queries++;
		conn_reply(c);
		done = (size_t)(p + 1 + len + 1 - c->in);
	}
	if (done > 0) {
		memmove(c->in, c->in + done, c->in_len - done);
		c->in_len -= done;
	}
	return 0;
}

/* Write what is queued: 0 all written, 1 the socket is full, -1. */
static int conn_flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	return 0;
}

static void conn_close(int ep, struct conn *c)
{
	(void)epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	free(c);
}

/* Read once (input), or write what waits (output), then answer and
 * write; watch for what comes next. -1: close the connection. */
static int conn_event(int ep, struct conn *c, uint32_t ev)
{
	struct epoll_event e;
	uint32_t want;
	int r;

	if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
		if ((r = conn_flush(c)) < 0)
			return -1;
	}
	if (c->out_off == c->out_len && (ev & (EPOLLIN | EPOLLHUP))) {
		ssize_t n;

		do {
			n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
		} while (n < 0 && errno == EINTR);
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		if (n == 0)
			return -1;
		c->in_len += (size_t)n;
		if (conn_process(c) < 0)
			return -1;
	}
	if ((r = conn_flush(c)) < 0)
		return -1;
	want = r == 1 ? EPOLLOUT : EPOLLIN;
	if (want != c->events) {
		e.events = want;
		e.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e) < 0)
			return -1;
		c->events = want;
	}
	return 0;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		die(path);
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	(void)unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fd, 1024) < 0)
		die(path);
	return fd;
}

int main(int argc, char **argv)
{
	struct epoll_event e, events[NULL_EVENTS];
	static char listen_tag, signal_tag;
	sigset_t mask;
	int ep, lfd, sfd, stop = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: socketmap_null socket\n");
		return 2;
	}
	reply_len = (size_t)snprintf(reply, sizeof(reply), "%zu:%s,",
				     strlen(NULL_REPLY), NULL_REPLY);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
	    (sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		die("signalfd");
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_unix(argv[1]);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1");
	e.events = EPOLLIN;
	e.data.ptr = &listen_tag;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e) < 0)
		die("epoll_ctl");
	e.data.ptr = &signal_tag;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &e) < 0)
		die("epoll_ctl");
	while (!stop) {
		int n = epoll_wait(ep, events, NULL_EVENTS, 1000);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			void *tag = events[i].data.ptr;

			if (tag == &signal_tag) {
				stop = 1;
			} else if (tag == &listen_tag) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL,
						     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					struct conn *c = calloc(1, sizeof(*c));

					if (c == NULL)
						die("calloc");
					c->fd = fd;
					c->events = EPOLLIN;
					e.events = EPOLLIN;
					e.data.ptr = c;
					if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0)
						die("epoll_ctl");
				}
				if (errno != EAGAIN && errno != EWOULDBLOCK &&
				    errno != EINTR && errno != ECONNABORTED)
					die("accept4");
			} else if (conn_event(ep, tag, events[i].events) < 0) {
				conn_close(ep, tag);
			}
		}
	}
	(void)unlink(argv[1]);
	fprintf(stderr, "socketmap_null: %llu queries\n", (unsigned long long)queries);
	return 0;
}
