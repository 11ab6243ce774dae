/*
 * NAME
 *	metrics_http 3
 * SUMMARY
 *	a minimal HTTP server for Prometheus' /metrics
 * DESCRIPTION
 *	See metrics_http.h. One epoll descriptor of its own holds the
 *	listening socket and the clients, so a daemon adds a single
 *	descriptor to its loop and does not learn about HTTP clients.
 *	A client is read until its header ends (or the limit), answered
 *	in one rendered buffer, written as the socket takes it, and
 *	closed. Whatever it sent beyond the header is read and dropped
 *	before the close, so the kernel does not answer it with a reset
 *	that could cut the reply short.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics_http.h"
#include "mm_alloc.h"

#define METRICS_HTTP_BACKLOG 64
#define METRICS_HTTP_MAX_METHOD 16

struct metrics_client {
	int fd;
	time_t started;
	char in[METRICS_HTTP_MAX_REQUEST];
	size_t in_len;
	int answering;			/* out holds the whole answer */
	struct metrics_text out;
	size_t out_off;
};

struct metrics_http {
	int listen_fd, epoll_fd;
	metrics_http_render_fn *render;
	void *ctx;
	struct metrics_client *clients[METRICS_HTTP_MAX_CLIENTS];
};

/* --- the request ---------------------------------------------------------- */

/* The line at buf[off..len): its length without CR LF or LF in
 * *linelen_r, where the next one starts in *next_r; 0 if no LF yet. */
static int request_line(const char *buf, size_t len, size_t off,
			size_t *linelen_r, size_t *next_r)
{
	const char *lf = memchr(buf + off, '\n', len - off);
	size_t n;

	if (lf == NULL)
		return 0;
	n = (size_t)(lf - (buf + off));
	*next_r = off + n + 1;
	if (n > 0 && buf[off + n - 1] == '\r')
		n--;
	*linelen_r = n;
	return 1;
}

static int http_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* "METHOD /target HTTP/1.x": 0 with the method and the path (before
 * any '?') located, or 400. */
static int request_first(const char *s, size_t n, size_t *mlen_r,
			 const char **path_r, size_t *plen_r)
{
	size_t i = 0, t;

	while (i < n && i <= METRICS_HTTP_MAX_METHOD && http_tchar(s[i]))
		i++;
	if (i == 0 || i > METRICS_HTTP_MAX_METHOD || i >= n || s[i] != ' ')
		return 400;
	*mlen_r = i++;
	t = i;
	if (i >= n || s[i] != '/')
		return 400;
	while (i < n && s[i] != ' ') {
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return 400;
		i++;
	}
	*path_r = s + t;
	*plen_r = i - t;
	for (size_t k = t; k < i; k++)
		if (s[k] == '?') {
			*plen_r = k - t;
			break;
		}
	if (i >= n || n - i - 1 != 8 ||
	    (memcmp(s + i + 1, "HTTP/1.0", 8) != 0 &&
	     memcmp(s + i + 1, "HTTP/1.1", 8) != 0))
		return 400;
	return 0;
}

/* "Name: value", no control characters but TAB; no folding. */
static int request_header(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && http_tchar(s[i]))
		i++;
	if (i == 0 || i >= n || s[i] != ':')
		return 400;
	for (; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return 400;
	return 0;
}

int metrics_http_request(const char *buf, size_t len, int *head_r)
{
	const char *path = NULL;
	size_t off = 0, n, next, mlen = 0, plen = 0;
	int first = 1, st;

	*head_r = 0;
	for (;;) {
		if (!request_line(buf, len, off, &n, &next))
			return len >= METRICS_HTTP_MAX_REQUEST ? 431 : 0;
		if (next > METRICS_HTTP_MAX_REQUEST)
			return 431;
		if (first) {
			/* Judged at once: a client that is not speaking
			 * HTTP is told without waiting for more. */
			if ((st = request_first(buf, n, &mlen, &path, &plen)) != 0)
				return st;
			first = 0;
		} else if (n == 0) {
			break;
		} else if ((st = request_header(buf + off, n)) != 0) {
			return st;
		}
		off = next;
	}
	if (plen != 8 || memcmp(path, "/metrics", 8) != 0)
		return 404;
	if (mlen == 4 && memcmp(buf, "HEAD", 4) == 0)
		*head_r = 1;
	else if (mlen != 3 || memcmp(buf, "GET", 3) != 0)
		return 405;
	return 200;
}

/* --- the socket ----------------------------------------------------------- */

int metrics_http_listen(const char *spec, int *fd_r, char *error, size_t errsize)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV |
					      AI_PASSIVE };
	char host[300], *colon;
	struct addrinfo *ai;
	int fd, one = 1, rc;

	if (strncmp(spec, "inet:", 5) != 0 ||
	    strlen(spec + 5) >= sizeof(host)) {
		snprintf(error, errsize, "expected inet:ADDRESS:PORT, "
			 "got '%.100s'", spec);
		return -1;
	}
	snprintf(host, sizeof(host), "%s", spec + 5);
	colon = strrchr(host, ':');
	if (colon == NULL) {
		snprintf(error, errsize, "no port in %.100s", spec);
		return -1;
	}
	*colon = '\0';
	if (host[0] == '[' && colon > host + 1 && colon[-1] == ']') {
		colon[-1] = '\0';
		memmove(host, host + 1, strlen(host));
	}
	rc = getaddrinfo(host, colon + 1, &hints, &ai);
	if (rc != 0) {
		snprintf(error, errsize, "%.100s: %s (a numeric "
			 "address and port are needed)", spec, gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(error, errsize, "socket: %s", strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	rc = bind(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (rc < 0 || listen(fd, METRICS_HTTP_BACKLOG) < 0) {
		snprintf(error, errsize, "cannot listen on %.100s: %s",
			 spec, strerror(errno));
		close(fd);
		return -1;
	}
	*fd_r = fd;
	return 0;
}

struct metrics_http *metrics_http_new(int listen_fd, metrics_http_render_fn *render,
				      void *ctx, char *error, size_t errsize)
{
	struct metrics_http *h = mm_calloc(1, sizeof(*h));
	struct epoll_event ev = { .events = EPOLLIN };

	h->listen_fd = listen_fd;
	h->render = render;
	h->ctx = ctx;
	ev.data.ptr = h;
	h->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (h->epoll_fd < 0 ||
	    epoll_ctl(h->epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev) < 0) {
		snprintf(error, errsize, "metrics: epoll: %s", strerror(errno));
		metrics_http_free(&h);
		return NULL;
	}
	return h;
}

int metrics_http_fd(const struct metrics_http *h)
{
	return h->epoll_fd;
}

static void client_close(struct metrics_http *h, size_t slot)
{
	struct metrics_client *c = h->clients[slot];
	char drain[4096];

	/* Read what the client sent beyond its header (bounded): unread
	 * input makes close() send a reset, which may lose the answer. */
	for (int i = 0; i < 16 && read(c->fd, drain, sizeof(drain)) > 0; i++)
		;
	(void)epoll_ctl(h->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	metrics_text_free(&c->out);
	mm_free(&h->clients[slot]);
}

void metrics_http_free(struct metrics_http **hp)
{
	struct metrics_http *h = *hp;

	if (h == NULL)
		return;
	for (size_t i = 0; i < METRICS_HTTP_MAX_CLIENTS; i++)
		if (h->clients[i] != NULL)
			client_close(h, i);
	if (h->listen_fd >= 0)
		close(h->listen_fd);
	if (h->epoll_fd >= 0)
		close(h->epoll_fd);
	mm_free(hp);
}

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	default: return "Bad Request";
	}
}

/* The whole answer into c->out. */
static void client_answer(struct metrics_http *h, struct metrics_client *c,
			  int status, int head)
{
	struct metrics_text body;

	metrics_text_init(&body);
	if (status == 200)
		h->render(&body, h->ctx);
	else
		metrics_text_printf(&body, "%d %s\n", status, status_text(status));
	metrics_text_printf(&c->out, "HTTP/1.1 %d %s\r\n"
			    "Content-Type: %s\r\n"
			    "Content-Length: %zu\r\n"
			    "%s"
			    "Connection: close\r\n\r\n",
			    status, status_text(status),
			    status == 200 ? METRICS_HTTP_CONTENT_TYPE :
			    "text/plain; charset=utf-8", body.len,
			    status == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (!head && body.len > 0)
		metrics_text_printf(&c->out, "%s", body.data);
	metrics_text_free(&body);
	c->answering = 1;
}

/* Write what the socket takes; 1 when all is written (or it failed). */
static int client_write(struct metrics_client *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = write(c->fd, c->out.data + c->out_off,
				  c->out.len - c->out_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return 1;
		c->out_off += (size_t)n;
	}
	return 1;
}

static void client_io(struct metrics_http *h, size_t slot)
{
	struct metrics_client *c = h->clients[slot];
	int status, head;

	if (!c->answering) {
		ssize_t n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n <= 0) {
			client_close(h, slot);
			return;
		}
		c->in_len += (size_t)n;
		status = metrics_http_request(c->in, c->in_len, &head);
		if (status == 0)
			return;
		client_answer(h, c, status, head);
	}
	if (client_write(c)) {
		client_close(h, slot);
	} else {
		struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };

		(void)epoll_ctl(h->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
	}
}

static void http_accept(struct metrics_http *h, time_t now)
{
	for (int i = 0; i < METRICS_HTTP_MAX_CLIENTS * 2; i++) {
		int fd = accept4(h->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN };
		size_t slot;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		for (slot = 0; slot < METRICS_HTTP_MAX_CLIENTS; slot++)
			if (h->clients[slot] == NULL)
				break;
		if (slot == METRICS_HTTP_MAX_CLIENTS) {
			close(fd);	/* too many at once: a scrape storm */
			continue;
		}
		h->clients[slot] = mm_calloc(1, sizeof(struct metrics_client));
		h->clients[slot]->fd = fd;
		h->clients[slot]->started = now;
		ev.data.ptr = h->clients[slot];
		if (epoll_ctl(h->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
			client_close(h, slot);
	}
}

void metrics_http_handle(struct metrics_http *h, time_t now)
{
	struct epoll_event evs[METRICS_HTTP_MAX_CLIENTS + 1];
	int n = epoll_wait(h->epoll_fd, evs, METRICS_HTTP_MAX_CLIENTS + 1, 0);

	for (int i = 0; i < n; i++) {
		if (evs[i].data.ptr == h) {
			http_accept(h, now);
			continue;
		}
		for (size_t slot = 0; slot < METRICS_HTTP_MAX_CLIENTS; slot++)
			if (h->clients[slot] == evs[i].data.ptr) {
				client_io(h, slot);
				break;
			}
	}
}

void metrics_http_tick(struct metrics_http *h, time_t now)
{
	for (size_t slot = 0; slot < METRICS_HTTP_MAX_CLIENTS; slot++)
		if (h->clients[slot] != NULL &&
		    now - h->clients[slot]->started >= METRICS_HTTP_TIMEOUT)
			client_close(h, slot);
}
