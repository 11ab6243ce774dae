/*
 * NAME
 *	dav_collection 3
 * SUMMARY
 *	the collections of a home, the items of a collection (dav_collection.h)
 */
#include "config.h"

#include <string.h>

#include <libxml/tree.h>

#include "dav_collection.h"
#include "dav_xml.h"
#include "error.h"
#include "log.h"
#include "mm_alloc.h"

static const char propfind_collections[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	"<propfind xmlns=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\" "
	"xmlns:CR=\"urn:ietf:params:xml:ns:carddav\" "
	"xmlns:CS=\"http://calendarserver.org/ns/\" xmlns:I=\"http://apple.com/ns/ical/\">"
	"<prop><resourcetype/><displayname/><I:calendar-color/><C:calendar-description/>"
	"<CR:addressbook-description/><C:supported-calendar-component-set/>"
	"<CS:getctag/><sync-token/></prop></propfind>";
static const char propfind_items[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	"<propfind xmlns=\"DAV:\"><prop><resourcetype/><getetag/><getcontenttype/>"
	"</prop></propfind>";

/* PROPFIND Depth 1 of url; body to fn through dav_multistatus_parse. */
static int dav_propfind_list(struct dav_http *h, const char *url, const char *body,
			     int (*fn)(const struct dav_response *r, void *ctx), void *ctx,
			     enum stream_fail *fail_r, const char **error_r)
{
	struct dav_reply r;
	int ret;

	if (dav_http_request(h, "PROPFIND", url, "1", "application/xml; charset=utf-8",
			     body, strlen(body), NULL, NULL, &r, fail_r, error_r) < 0)
		return -1;
	if (r.status != 207) {
		long st = r.status;

		dav_reply_clear(&r);
		return stream_failf(fail_r, st == 404 ? STREAM_FAIL_FINAL : STREAM_FAIL_TEMP,
				    error_r, "PROPFIND %s: status %ld", url, st);
	}
	ret = dav_multistatus_parse(r.body, r.len, fn, ctx, error_r);
	dav_reply_clear(&r);
	if (ret < 0)
		*fail_r = STREAM_FAIL_FINAL;
	return ret;
}

struct dav_list_ctx {
	const char *base;
	enum dav_service svc;
	int (*cfn)(const struct dav_collection *c, void *ctx);
	int (*ifn)(const struct dav_item *it, void *ctx);
	void *ctx;
};

/* Is url the listed URL itself (the first response of Depth 1)? */
static int dav_same(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	while (la > 0 && a[la - 1] == '/')
		la--;
	while (lb > 0 && b[lb - 1] == '/')
		lb--;
	return la == lb && strncmp(a, b, la) == 0;
}

static int dav_collection_cb(const struct dav_response *r, void *ctx)
{
	struct dav_list_ctx *l = ctx;
	unsigned want = l->svc == DAV_CALDAV ? DAV_KIND_CALENDAR : DAV_KIND_ADDRESSBOOK;
	struct dav_collection c;
	char *url;
	int ret;

	if ((r->kind & want) == 0)
		return 0;
	url = dav_resolve(l->base, r->href);
	if (url == NULL || dav_same(url, l->base)) {
		mm_free(&url);
		return 0;
	}
	c.url = url;
	c.kind = r->kind;
	c.displayname = r->displayname;
	c.color = r->color;
	c.description = r->description;
	c.components = r->components;
	c.ctag = r->getctag;
	c.sync_token = r->sync_token;
	ret = l->cfn(&c, l->ctx);
	mm_free(&url);
	return ret;
}

static int dav_item_cb(const struct dav_response *r, void *ctx)
{
	struct dav_list_ctx *l = ctx;
	struct dav_item it;
	char *url;
	int ret;

	if ((r->kind & DAV_KIND_COLLECTION) != 0 || r->status == 404)
		return 0;
	url = dav_resolve(l->base, r->href);
	if (url == NULL || dav_same(url, l->base)) {
		mm_free(&url);
		return 0;
	}
	it.url = url;
	it.etag = r->getetag;
	it.content_type = r->getcontenttype;
	ret = l->ifn(&it, l->ctx);
	mm_free(&url);
	return ret;
}

int dav_list_collections(struct dav_http *h, const char *home, enum dav_service svc,
			 int (*fn)(const struct dav_collection *c, void *ctx), void *ctx,
			 enum stream_fail *fail_r, const char **error_r)
{
	struct dav_list_ctx l = { home, svc, fn, NULL, ctx };

	return dav_propfind_list(h, home, propfind_collections, dav_collection_cb, &l,
				 fail_r, error_r);
}

int dav_list_items(struct dav_http *h, const char *collection,
		   int (*fn)(const struct dav_item *it, void *ctx), void *ctx,
		   enum stream_fail *fail_r, const char **error_r)
{
	struct dav_list_ctx l = { collection, DAV_CALDAV, NULL, fn, ctx };

	return dav_propfind_list(h, collection, propfind_items, dav_item_cb, &l,
				 fail_r, error_r);
}

#define NS_DAV "DAV:"
#define NS_CALDAV "urn:ietf:params:xml:ns:caldav"
#define NS_CARDDAV "urn:ietf:params:xml:ns:carddav"
#define NS_ICAL "http://apple.com/ns/ical/"

/* The body of MKCALENDAR or extended MKCOL; mm_free it. */
static char *dav_mkcol_body(enum dav_service svc, const char *displayname,
			    const char *color, const char *description,
			    const char *components, size_t *len_r)
{
	xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNodePtr root, set, prop, rt;
	xmlNsPtr d, x;
	xmlChar *mem = NULL;
	char *out;
	int len = 0;

	if (doc == NULL)
		log_panic("dav: out of memory");
	root = xmlNewNode(NULL, BAD_CAST(svc == DAV_CALDAV ? "mkcalendar" : "mkcol"));
	d = xmlNewNs(root, BAD_CAST NS_DAV, BAD_CAST "D");
	x = xmlNewNs(root, BAD_CAST(svc == DAV_CALDAV ? NS_CALDAV : NS_CARDDAV),
		     BAD_CAST(svc == DAV_CALDAV ? "C" : "CR"));
	xmlSetNs(root, svc == DAV_CALDAV ? x : d);
	xmlDocSetRootElement(doc, root);
	set = xmlNewChild(root, d, BAD_CAST "set", NULL);
	prop = xmlNewChild(set, d, BAD_CAST "prop", NULL);
	if (svc == DAV_CARDDAV) {
		rt = xmlNewChild(prop, d, BAD_CAST "resourcetype", NULL);
		xmlNewChild(rt, d, BAD_CAST "collection", NULL);
		xmlNewChild(rt, x, BAD_CAST "addressbook", NULL);
	}
	if (displayname != NULL)
		xmlNewTextChild(prop, d, BAD_CAST "displayname", BAD_CAST displayname);
	if (description != NULL)
		xmlNewTextChild(prop, x, BAD_CAST(svc == DAV_CALDAV ?
			"calendar-description" : "addressbook-description"),
			BAD_CAST description);
	if (color != NULL && svc == DAV_CALDAV) {
		xmlNodePtr c = xmlNewTextChild(prop, NULL, BAD_CAST "calendar-color",
					       BAD_CAST color);

		xmlSetNs(c, xmlNewNs(c, BAD_CAST NS_ICAL, BAD_CAST "I"));
	}
	/* A task list stays one: VTODO only is not every component. */
	if (components != NULL && components[0] != '\0' && svc == DAV_CALDAV) {
		xmlNodePtr set_c = xmlNewChild(prop, x, BAD_CAST
					       "supported-calendar-component-set", NULL);

		for (const char *p = components; *p != '\0';) {
			size_t n = strcspn(p, ",");
			char name[65];

			if (n > 0 && n < sizeof(name)) {
				memcpy(name, p, n);
				name[n] = '\0';
				xmlNewProp(xmlNewChild(set_c, x, BAD_CAST "comp", NULL),
					   BAD_CAST "name", BAD_CAST name);
			}
			p += n + (p[n] == ',');
		}
	}
	xmlDocDumpMemoryEnc(doc, &mem, &len, "utf-8");
	xmlFreeDoc(doc);
	if (mem == NULL || len <= 0)
		log_panic("dav: out of memory");
	out = mm_malloc((size_t)len + 1);
	memcpy(out, mem, (size_t)len);
	out[len] = '\0';
	xmlFree(mem);
	*len_r = (size_t)len;
	return out;
}

/* The first response of a Depth 0 PROPFIND is the resource's. */
static int dav_kind_cb(const struct dav_response *r, void *ctx)
{
	unsigned *kind = ctx;

	*kind = r->kind;
	return 1;
}

/* The enum dav_kind bits of what is at url (0: nothing); -1 when it
 * cannot be asked. */
static int dav_kind_at(struct dav_http *h, const char *url, enum stream_fail *fail_r,
		       const char **error_r)
{
	struct dav_reply r;
	unsigned kind = 0;
	int ret;

	if (dav_http_request(h, "PROPFIND", url, "0", "application/xml; charset=utf-8",
			     propfind_collections, strlen(propfind_collections), NULL,
			     NULL, &r, fail_r, error_r) < 0)
		return -1;
	if (r.status == 404) {
		dav_reply_clear(&r);
		return 0;
	}
	if (r.status != 207) {
		long st = r.status;

		dav_reply_clear(&r);
		return stream_failf(fail_r, STREAM_FAIL_MESSAGE, error_r,
				    "PROPFIND %s: status %ld", url, st);
	}
	ret = dav_multistatus_parse(r.body, r.len, dav_kind_cb, &kind, error_r);
	dav_reply_clear(&r);
	if (ret < 0)
		return stream_failf(fail_r, STREAM_FAIL_MESSAGE, error_r, "%s", *error_r);
	return (int)kind;
}

int dav_make_home(struct dav_http *h, const char *url, enum stream_fail *fail_r,
		  const char **error_r)
{
	struct dav_reply r;
	long st;

	if (dav_http_request(h, "PROPFIND", url, "0", "application/xml; charset=utf-8",
			     propfind_items, strlen(propfind_items), NULL, NULL, &r,
			     fail_r, error_r) < 0)
		return -1;
	st = r.status;
	dav_reply_clear(&r);
	if (st == 207)
		return 0;
	if (st != 404)
		return stream_failf(fail_r, st == 401 || st == 403 ? STREAM_FAIL_FINAL :
				    STREAM_FAIL_TEMP, error_r, "PROPFIND %s: status %ld",
				    url, st);
	if (dav_http_request(h, "MKCOL", url, NULL, NULL, NULL, 0, NULL, NULL, &r,
			     fail_r, error_r) < 0)
		return -1;
	st = r.status;
	dav_reply_clear(&r);
	if (st == 201 || st == 405)
		return 0;
	return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "MKCOL %s: status %ld",
			    url, st);
}

int dav_make_collection(struct dav_http *h, const char *url, enum dav_service svc,
			const char *displayname, const char *color,
			const char *description, const char *components,
			enum stream_fail *fail_r, const char **error_r)
{
	struct dav_reply r;
	size_t len;
	char *body = dav_mkcol_body(svc, displayname, color, description, components,
				    &len);
	long st;
	int ret;

	ret = dav_http_request(h, svc == DAV_CALDAV ? "MKCALENDAR" : "MKCOL", url, NULL,
			       "application/xml; charset=utf-8", body, len, NULL,
			       NULL, &r, fail_r, error_r);
	mm_free(&body);
	if (ret < 0)
		return -1;
	st = r.status;
	dav_reply_clear(&r);
	if (st == 201 || st == 200)
		return 0;
	/* Something there: 405 (RFC 4918), 403 or 409 (RFC 4791's
	 * resource-must-be-null, Radicale's answer), or a refusal for
	 * another reason: asked what is at url. */
	if (st >= 400 && st < 500 && st != 401) {
		ret = dav_kind_at(h, url, fail_r, error_r);
		if (ret < 0 && *fail_r != STREAM_FAIL_MESSAGE)
			return -1;
		if (ret > 0 && (ret & (svc == DAV_CALDAV ? DAV_KIND_CALENDAR :
				       DAV_KIND_ADDRESSBOOK)) != 0)
			return DAV_COLLECTION_EXISTS;
	}
	return stream_failf(fail_r, STREAM_FAIL_MESSAGE, error_r, "%s %s: status %ld",
			    svc == DAV_CALDAV ? "MKCALENDAR" : "MKCOL", url, st);
}
