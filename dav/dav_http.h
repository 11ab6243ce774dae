/*
 * NAME
 *	dav_http 3h
 * SUMMARY
 *	one WebDAV request over libcurl, bounded and classified
 * DESCRIPTION
 *	A handle per server and login (HTTP keep-alive between requests).
 *	The password goes to libcurl's CURLOPT_PASSWORD, never into a URL.
 *	Redirects are not followed here: the caller sees 3xx with its
 *	Location and decides (discovery follows a few, RFC 6764), so a
 *	loop is the caller's to stop. An answer's body over max_body is a
 *	failure of this one request (STREAM_FAIL_MESSAGE), not read on.
 *	Failures: no connection, a timeout, a 5xx or 503 are
 *	STREAM_FAIL_TEMP or WAIT; 401 is STREAM_FAIL_AUTH; any other
 *	status is the caller's to read (a 404 of a deleted item, a 412
 *	of a changed ETag).
 */
#ifndef MM_DAV_HTTP_H
#define MM_DAV_HTTP_H

#include <stddef.h>

#include "stream.h"

struct dav_http_settings {
	const char *user;
	const char *password;
	const char *bearer;		/* an OAuth 2.0 token (RFC 6750): sent
					   instead of user and password */
	long timeout_ms;		/* each request; 0: 60000 */
	size_t max_body;		/* an answer's body; 0: 64 MiB */
	int tls_verify;			/* check https certificates (default 1) */
	const char *ca_file;		/* NULL: the system's */
};

struct dav_reply {
	long status;
	char *body;			/* NUL-terminated, len bytes */
	size_t len;
	char *etag;			/* ETag:, or NULL */
	char *location;			/* Location: (absolute), or NULL */
};

struct dav_http;

struct dav_http *dav_http_new(const struct dav_http_settings *set);
void dav_http_free(struct dav_http **h);
void dav_reply_clear(struct dav_reply *r);
/* The bound on an answer's body from the next request on (0: 64 MiB):
 * a listing may be larger than any one item. */
void dav_http_max_body(struct dav_http *h, size_t max_body);

/* method on url; depth, content_type, if_match, if_none_match NULL when
 * not sent; body (len bytes) NULL for none. 0 with *r filled
 * (dav_reply_clear() it) for any status but 401 and 5xx, -1 (class and
 * error(3h) text) otherwise. */
int dav_http_request(struct dav_http *h, const char *method, const char *url,
		     const char *depth, const char *content_type, const char *body,
		     size_t len, const char *if_match, const char *if_none_match,
		     struct dav_reply *r, enum stream_fail *fail_r, const char **error_r);

/* href (absolute, or a path) resolved against base; NULL if either is
 * not a URL. The result has no user or password (curl puts the login of
 * CURLOPT_USERNAME/PASSWORD into a Location it resolves, and redirect
 * targets get logged). mm_free it. */
char *dav_resolve(const char *base, const char *href);

#endif
