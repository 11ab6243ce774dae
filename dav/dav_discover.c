/*
 * NAME
 *	dav_discover 3
 * SUMMARY
 *	a user's calendar or address book home (dav_discover.h)
 */
#include "config.h"

#include <string.h>

#include "dav_discover.h"
#include "dav_xml.h"
#include "error.h"
#include "mm_alloc.h"

static const char propfind_principal[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	"<propfind xmlns=\"DAV:\"><prop><current-user-principal/></prop></propfind>";
static const char propfind_calhome[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	"<propfind xmlns=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
	"<prop><C:calendar-home-set/></prop></propfind>";
static const char propfind_abhome[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	"<propfind xmlns=\"DAV:\" xmlns:CR=\"urn:ietf:params:xml:ns:carddav\">"
	"<prop><CR:addressbook-home-set/></prop></propfind>";

struct dav_found {
	enum { WANT_PRINCIPAL, WANT_CALHOME, WANT_ABHOME } want;
	char *href;
};

static int dav_found_cb(const struct dav_response *r, void *ctx)
{
	struct dav_found *f = ctx;
	const char *v = f->want == WANT_PRINCIPAL ? r->current_user_principal :
			f->want == WANT_CALHOME ? r->calendar_home : r->addressbook_home;

	if (v == NULL || f->href != NULL)
		return 0;
	f->href = mm_strdup(v);
	return 1;
}

/* PROPFIND Depth 0 of body on *url; redirects followed (each replacing
 * *url) when follow. On a 207: *href_r the property wanted (NULL if the
 * server has none). *status_r the final status. */
static int dav_propfind_one(struct dav_http *h, char **url, const char *body, int want,
			    int follow, int *status_r, char **href_r,
			    enum stream_fail *fail_r, const char **error_r)
{
	struct dav_found f = { want, NULL };
	struct dav_reply r;
	int hops = 0, ret;

	*href_r = NULL;
	for (;;) {
		if (dav_http_request(h, "PROPFIND", *url, "0",
				     "application/xml; charset=utf-8", body, strlen(body),
				     NULL, NULL, &r, fail_r, error_r) < 0)
			return -1;
		*status_r = (int)r.status;
		if (!follow || r.status < 300 || r.status > 399)
			break;
		if (r.location == NULL || ++hops > DAV_MAX_REDIRECTS) {
			dav_reply_clear(&r);
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					    "DAV discovery: %s", hops > DAV_MAX_REDIRECTS ?
					    "more than 5 redirects (a loop?)" :
					    "a redirect without Location");
		}
		mm_free(url);
		*url = mm_strdup(r.location);
		dav_reply_clear(&r);
	}
	if (r.status != 207) {
		dav_reply_clear(&r);
		return 0;
	}
	ret = dav_multistatus_parse(r.body, r.len, dav_found_cb, &f, error_r);
	dav_reply_clear(&r);
	if (ret < 0) {
		mm_free(&f.href);
		*fail_r = STREAM_FAIL_FINAL;
		return -1;
	}
	*href_r = f.href;
	return 0;
}

int dav_discover(struct dav_http *h, const char *base, enum dav_service svc,
		 char **home_r, enum stream_fail *fail_r, const char **error_r)
{
	char *url, *href = NULL, *principal;
	int status;

	*home_r = NULL;
	url = dav_resolve(base, svc == DAV_CALDAV ? "/.well-known/caldav" :
			  "/.well-known/carddav");
	if (url == NULL)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "DAV discovery: %s is not a URL", base);
	if (dav_propfind_one(h, &url, propfind_principal, WANT_PRINCIPAL, 1, &status,
			     &href, fail_r, error_r) < 0) {
		mm_free(&url);
		return -1;
	}
	if (href == NULL && (status == 404 || status == 405 || status == 501)) {
		/* No well-known URI: the URL given is the service. */
		mm_free(&url);
		url = dav_resolve(base, base);
		if (dav_propfind_one(h, &url, propfind_principal, WANT_PRINCIPAL, 1,
				     &status, &href, fail_r, error_r) < 0) {
			mm_free(&url);
			return -1;
		}
	}
	if (href == NULL) {
		mm_free(&url);
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "DAV discovery: no current-user-principal (status %d)",
				    status);
	}
	principal = dav_resolve(url, href);
	mm_free(&href);
	mm_free(&url);
	if (principal == NULL)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "DAV discovery: a principal href that is not a URL");
	if (dav_propfind_one(h, &principal, svc == DAV_CALDAV ? propfind_calhome :
			     propfind_abhome, svc == DAV_CALDAV ? WANT_CALHOME : WANT_ABHOME,
			     0, &status, &href, fail_r, error_r) < 0) {
		mm_free(&principal);
		return -1;
	}
	if (href == NULL) {
		mm_free(&principal);
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "DAV discovery: the principal has no %s home (status %d)",
				    svc == DAV_CALDAV ? "calendar" : "address book", status);
	}
	*home_r = dav_resolve(principal, href);
	mm_free(&href);
	mm_free(&principal);
	if (*home_r == NULL)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "DAV discovery: a home href that is not a URL");
	return 0;
}
