/*
 * NAME
 *	metrics_http 3h
 * SUMMARY
 *	a minimal HTTP server for Prometheus' /metrics
 * DESCRIPTION
 *	Answers "GET /metrics" and "HEAD /metrics" (HTTP/1.0 or 1.1) with
 *	200 and the text a daemon renders (metrics.h), Content-Type
 *	"text/plain; version=0.0.4; charset=utf-8"; another path is 404,
 *	another method 405, anything malformed 400, a request whose line
 *	and headers do not end within METRICS_HTTP_MAX_REQUEST bytes 431.
 *	Every answer closes the connection (no keep-alive, no body read).
 *
 *	Nonblocking, driven by the caller's event loop through one file
 *	descriptor: metrics_http_fd() is an epoll descriptor that turns
 *	readable when the listening socket or a client is ready; the
 *	caller then calls metrics_http_handle(), which does what is ready
 *	and never waits, and metrics_http_tick() about once a second for
 *	the timeouts.
 * LIMITS
 *	METRICS_HTTP_MAX_CLIENTS at once (more are accepted and closed),
 *	METRICS_HTTP_TIMEOUT seconds per client from its connect to the
 *	end of the answer. Only inet:ADDRESS:PORT with a numeric address.
 */
#ifndef MM_METRICS_HTTP_H
#define MM_METRICS_HTTP_H

#include <stddef.h>
#include <time.h>

#include "metrics.h"

#define METRICS_HTTP_MAX_REQUEST 8192
#define METRICS_HTTP_MAX_CLIENTS 16
#define METRICS_HTTP_TIMEOUT 10
#define METRICS_HTTP_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Judge the request read so far (buf[0..len), any bytes).
 * @param head_r	set for a HEAD request (no body in the answer)
 * @return 0 while the header is not complete and within the limit;
 *	else the status to answer: 200, 400, 404, 405 or 431 */
int metrics_http_request(const char *buf, size_t len, int *head_r);

/* Bind and listen on spec, "inet:ADDRESS:PORT" ("[v6]" allowed).
 * @param fd_r	the listening socket (nonblocking, close-on-exec)
 * @param error	on -1, why, naming spec (errsize bytes)
 * @return 0 or -1 */
int metrics_http_listen(const char *spec, int *fd_r, char *error,
			size_t errsize);

/* Render the page into t (empty when called). */
typedef void metrics_http_render_fn(struct metrics_text *t, void *ctx);

struct metrics_http;
/* Serve on listen_fd (from metrics_http_listen(), now owned by the
 * server: closed by metrics_http_free()). NULL with error set if the
 * epoll descriptor cannot be made. */
struct metrics_http *metrics_http_new(int listen_fd, metrics_http_render_fn *render,
				      void *ctx, char *error, size_t errsize);
void metrics_http_free(struct metrics_http **h);
/* Readable when there is something to do. */
int metrics_http_fd(const struct metrics_http *h);
/* Accept, read, answer and write what is ready; never blocks. */
void metrics_http_handle(struct metrics_http *h, time_t now);
/* Close clients older than METRICS_HTTP_TIMEOUT seconds. */
void metrics_http_tick(struct metrics_http *h, time_t now);

#endif
