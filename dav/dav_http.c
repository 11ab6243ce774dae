/*
 * NAME
 *	dav_http 3
 * SUMMARY
 *	one WebDAV request over libcurl (dav_http.h)
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "dav_http.h"
#include "error.h"
#include "mm_alloc.h"

#define DAV_TIMEOUT_MS_DEFAULT 60000
#define DAV_MAX_BODY_DEFAULT (64u << 20)
#define DAV_HEADER_MAX 4096

struct dav_http {
	CURL *curl;
	struct dav_http_settings set;
	char *user, *password, *bearer;
};

struct dav_sink {
	struct dav_reply *r;
	size_t max;
	size_t cap;
	int over;
};

static size_t dav_body_cb(char *data, size_t size, size_t n, void *ctx)
{
	struct dav_sink *s = ctx;
	size_t len = size * n;

	if (s->r->len + len > s->max) {
		s->over = 1;
		return 0;	/* curl stops: CURLE_WRITE_ERROR */
	}
	if (s->r->len + len + 1 > s->cap) {
		size_t cap = s->cap == 0 ? 16384 : s->cap;

		while (cap < s->r->len + len + 1)
			cap *= 2;
		s->r->body = mm_realloc(s->r->body, cap);
		s->cap = cap;
	}
	memcpy(s->r->body + s->r->len, data, len);
	s->r->len += len;
	s->r->body[s->r->len] = '\0';
	return len;
}

/* ETag: kept as sent (quotes included); Location is read from curl. */
static size_t dav_header_cb(char *data, size_t size, size_t n, void *ctx)
{
	struct dav_reply *r = ctx;
	size_t len = size * n;

	if (len > 5 && len < DAV_HEADER_MAX && strncasecmp(data, "ETag:", 5) == 0) {
		const char *v = data + 5;
		size_t vl = len - 5;

		while (vl > 0 && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		mm_free(&r->etag);
		r->etag = mm_strndup(v, vl);
	}
	return len;
}

/* Shared with discovery: libcurl's URL parser resolves, and drops the
 * login curl puts into a URL it resolved against the request's. */
char *dav_resolve(const char *base, const char *href)
{
	CURLU *u = curl_url();
	char *out = NULL, *copy = NULL;

	if (u != NULL && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_URL, href, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK) {
		copy = mm_strdup(out);
		curl_free(out);
	}
	if (u != NULL)
		curl_url_cleanup(u);
	return copy;
}

struct dav_http *dav_http_new(const struct dav_http_settings *set)
{
	struct dav_http *h = mm_calloc(1, sizeof(*h));

	h->set = *set;
	h->user = set->user != NULL ? mm_strdup(set->user) : NULL;
	h->password = set->password != NULL ? mm_strdup(set->password) : NULL;
	h->bearer = set->bearer != NULL ? mm_strdup(set->bearer) : NULL;
	h->set.user = h->user;
	h->set.password = h->password;
	h->set.bearer = h->bearer;
	return h;
}

void dav_http_free(struct dav_http **hp)
{
	struct dav_http *h = *hp;

	if (h == NULL)
		return;
	*hp = NULL;
	if (h->curl != NULL)
		curl_easy_cleanup(h->curl);
	if (h->password != NULL)
		explicit_bzero(h->password, strlen(h->password));
	mm_free(&h->password);
	if (h->bearer != NULL)
		explicit_bzero(h->bearer, strlen(h->bearer));
	mm_free(&h->bearer);
	mm_free(&h->user);
	mm_free(&h);
}

void dav_http_max_body(struct dav_http *h, size_t max_body)
{
	h->set.max_body = max_body;
}

void dav_reply_clear(struct dav_reply *r)
{
	mm_free(&r->body);
	mm_free(&r->etag);
	mm_free(&r->location);
	memset(r, 0, sizeof(*r));
}

static enum stream_fail dav_curl_class(CURLcode code)
{
	switch (code) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
		return STREAM_FAIL_WAIT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return STREAM_FAIL_FINAL;
	default:
		return STREAM_FAIL_TEMP;
	}
}

int dav_http_request(struct dav_http *h, const char *method, const char *url,
		     const char *depth, const char *content_type, const char *body,
		     size_t len, const char *if_match, const char *if_none_match,
		     struct dav_reply *r, enum stream_fail *fail_r, const char **error_r)
{
	struct dav_sink sink = { r, h->set.max_body != 0 ? h->set.max_body :
				 DAV_MAX_BODY_DEFAULT, 0, 0 };
	struct curl_slist *hdrs = NULL;
	char line[DAV_HEADER_MAX];
	const char *loc = NULL;
	CURLcode code;

	memset(r, 0, sizeof(*r));
	if (h->curl == NULL && (h->curl = curl_easy_init()) == NULL)
		return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r, "curl: no handle");
	curl_easy_reset(h->curl);
	curl_easy_setopt(h->curl, CURLOPT_URL, url);
	curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, h->set.timeout_ms > 0 ?
			 h->set.timeout_ms : (long)DAV_TIMEOUT_MS_DEFAULT);
	curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYPEER, h->set.tls_verify ? 1L : 0L);
	curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYHOST, h->set.tls_verify ? 2L : 0L);
	if (h->set.ca_file != NULL)
		curl_easy_setopt(h->curl, CURLOPT_CAINFO, h->set.ca_file);
	if (h->set.bearer != NULL) {
		curl_easy_setopt(h->curl, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
		curl_easy_setopt(h->curl, CURLOPT_XOAUTH2_BEARER, h->set.bearer);
	} else if (h->set.user != NULL) {
		curl_easy_setopt(h->curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(h->curl, CURLOPT_USERNAME, h->set.user);
		curl_easy_setopt(h->curl, CURLOPT_PASSWORD,
				 h->set.password != NULL ? h->set.password : "");
	}
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, dav_body_cb);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(h->curl, CURLOPT_HEADERFUNCTION, dav_header_cb);
	curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, r);
	if (body != NULL) {
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	if (depth != NULL) {
		snprintf(line, sizeof(line), "Depth: %s", depth);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (content_type != NULL) {
		snprintf(line, sizeof(line), "Content-Type: %s", content_type);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (if_match != NULL) {
		snprintf(line, sizeof(line), "If-Match: %s", if_match);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (if_none_match != NULL) {
		snprintf(line, sizeof(line), "If-None-Match: %s", if_none_match);
		hdrs = curl_slist_append(hdrs, line);
	}
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, hdrs);
	code = curl_easy_perform(h->curl);
	curl_slist_free_all(hdrs);
	if (sink.over) {
		dav_reply_clear(r);
		return stream_failf(fail_r, STREAM_FAIL_MESSAGE, error_r,
				    "%s %s: answer over %zu bytes", method, url, sink.max);
	}
	if (code != CURLE_OK) {
		dav_reply_clear(r);
		return stream_failf(fail_r, dav_curl_class(code), error_r, "%s %s: %s",
				    method, url, curl_easy_strerror(code));
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(h->curl, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK &&
	    loc != NULL)
		r->location = dav_resolve(loc, loc);
	if (r->body == NULL)
		r->body = mm_strdup("");
	if (r->status == 401) {
		dav_reply_clear(r);
		return stream_failf(fail_r, STREAM_FAIL_AUTH, error_r,
				    "%s %s: login refused (401)", method, url);
	}
	if (r->status >= 500) {
		long st = r->status;

		dav_reply_clear(r);
		return stream_failf(fail_r, st == 503 ? STREAM_FAIL_WAIT : STREAM_FAIL_TEMP,
				    error_r, "%s %s: server error %ld", method, url, st);
	}
	return 0;
}
