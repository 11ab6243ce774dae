/*
 * NAME
 *	dav_xml 3
 * SUMMARY
 *	a WebDAV multistatus read with libxml2, bounded (dav_xml.h)
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "dav_xml.h"
#include "error.h"

#define NS_DAV "DAV:"
#define NS_CALDAV "urn:ietf:params:xml:ns:caldav"
#define NS_CARDDAV "urn:ietf:params:xml:ns:carddav"
#define NS_CS "http://calendarserver.org/ns/"
#define NS_APPLE "http://apple.com/ns/ical/"

/* Is node the element ns:name? */
static int dav_is(const xmlNode *node, const char *ns, const char *name)
{
	return node != NULL && node->type == XML_ELEMENT_NODE && node->ns != NULL &&
	       strcmp((const char *)node->ns->href, ns) == 0 &&
	       strcmp((const char *)node->name, name) == 0;
}

static const xmlNode *dav_child(const xmlNode *node, const char *ns, const char *name)
{
	for (const xmlNode *c = node != NULL ? node->children : NULL; c != NULL;
	     c = c->next)
		if (dav_is(c, ns, name))
			return c;
	return NULL;
}

/* node's text (its text and CDATA children), or NULL when it has none.
 * Over max: -1. The caller frees *text_r (xmlFree). */
static int dav_text(const xmlNode *node, size_t max, char **text_r, size_t *len_r)
{
	size_t len = 0;
	char *out;

	*text_r = NULL;
	*len_r = 0;
	for (const xmlNode *c = node->children; c != NULL; c = c->next) {
		if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE)
			continue;
		len += strlen((const char *)c->content);
		if (len > max)
			return -1;
	}
	out = malloc(len + 1);
	if (out == NULL)
		return -1;
	len = 0;
	for (const xmlNode *c = node->children; c != NULL; c = c->next) {
		size_t n;

		if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE)
			continue;
		n = strlen((const char *)c->content);
		memcpy(out + len, c->content, n);
		len += n;
	}
	out[len] = '\0';
	*text_r = out;
	*len_r = len;
	return 0;
}

/* The HTTP status code of a "HTTP/1.1 200 OK" text, 0 if none. */
static int dav_status_code(const char *s)
{
	const char *sp = s != NULL ? strchr(s, ' ') : NULL;
	long code;

	if (sp == NULL)
		return 0;
	code = strtol(sp + 1, NULL, 10);
	return code >= 100 && code <= 599 ? (int)code : 0;
}

/* The texts a response owns while fn runs. */
enum { T_HREF, T_STATUS, T_NAME, T_COLOR, T_DESC, T_ETAG, T_CTAG, T_TOKEN, T_TYPE,
       T_PRINCIPAL, T_CALHOME, T_ABHOME, T_DATA, T_COMPS, T_COUNT };

struct dav_texts {
	char *t[T_COUNT];
	size_t len[T_COUNT];
};

static void dav_texts_free(struct dav_texts *tx)
{
	for (int i = 0; i < T_COUNT; i++)
		free(tx->t[i]);
	memset(tx, 0, sizeof(*tx));
}

/* Keep node's text as tx->t[i] (the first one found wins). */
static int dav_keep(struct dav_texts *tx, int i, const xmlNode *node, size_t max)
{
	if (node == NULL || tx->t[i] != NULL)
		return 0;
	return dav_text(node, max, &tx->t[i], &tx->len[i]);
}

/* A property whose value is an <href>: its text. */
static int dav_keep_href(struct dav_texts *tx, int i, const xmlNode *prop)
{
	return dav_keep(tx, i, dav_child(prop, NS_DAV, "href"), DAV_XML_TEXT_MAX);
}

/* supported-calendar-component-set (RFC 4791 5.2.3): its comp names,
 * "VEVENT,VTODO", as tx's T_COMPS. A name that is not a bounded token
 * of letters and '-' fails the document; so does a list over
 * DAV_XML_TEXT_MAX. */
static int dav_keep_comps(struct dav_texts *tx, const xmlNode *set)
{
	char out[DAV_XML_TEXT_MAX + 1];
	size_t n = 0;

	if (set == NULL || tx->t[T_COMPS] != NULL)
		return 0;
	for (const xmlNode *c = set->children; c != NULL; c = c->next) {
		xmlChar *name;
		size_t len;
		int ok = 1;

		if (!dav_is(c, NS_CALDAV, "comp"))
			continue;
		name = xmlGetNoNsProp(c, BAD_CAST "name");
		if (name == NULL)
			return -1;
		len = strlen((const char *)name);
		for (size_t i = 0; i < len; i++)
			ok &= (name[i] >= 'A' && name[i] <= 'Z') ||
				(name[i] >= 'a' && name[i] <= 'z') || name[i] == '-';
		if (!ok || len == 0 || len > 64 || n + len + 1 > DAV_XML_TEXT_MAX) {
			xmlFree(name);
			return -1;
		}
		if (n > 0)
			out[n++] = ',';
		memcpy(out + n, name, len);
		n += len;
		xmlFree(name);
	}
	out[n] = '\0';
	tx->t[T_COMPS] = strdup(out);
	if (tx->t[T_COMPS] == NULL)
		return -1;
	tx->len[T_COMPS] = n;
	return 0;
}

static int dav_props(const xmlNode *prop, struct dav_response *r, struct dav_texts *tx,
		     size_t data_max)
{
	const xmlNode *rt = dav_child(prop, NS_DAV, "resourcetype");

	if (rt != NULL) {
		if (dav_child(rt, NS_DAV, "collection") != NULL)
			r->kind |= DAV_KIND_COLLECTION;
		if (dav_child(rt, NS_CALDAV, "calendar") != NULL)
			r->kind |= DAV_KIND_CALENDAR;
		if (dav_child(rt, NS_CARDDAV, "addressbook") != NULL)
			r->kind |= DAV_KIND_ADDRESSBOOK;
		if (dav_child(rt, NS_DAV, "principal") != NULL)
			r->kind |= DAV_KIND_PRINCIPAL;
	}
	if (dav_keep(tx, T_NAME, dav_child(prop, NS_DAV, "displayname"), DAV_XML_TEXT_MAX) < 0 ||
	    dav_keep(tx, T_COLOR, dav_child(prop, NS_APPLE, "calendar-color"), DAV_XML_TEXT_MAX) < 0 ||
	    dav_keep(tx, T_DESC, dav_child(prop, NS_CALDAV, "calendar-description"), DAV_XML_TEXT_MAX) < 0 ||
	    dav_keep(tx, T_DESC, dav_child(prop, NS_CARDDAV, "addressbook-description"), DAV_XML_TEXT_MAX) < 0 ||
	    dav_keep(tx, T_ETAG, dav_child(prop, NS_DAV, "getetag"), DAV_XML_TEXT_MAX) < 0 ||
	    dav_keep(tx, T_CTAG, dav_child(prop, NS_CS, "getctag"), DAV_XML_TEXT_MAX) < 0 ||
	    dav_keep(tx, T_TOKEN, dav_child(prop, NS_DAV, "sync-token"), DAV_XML_TEXT_MAX) < 0 ||
	    dav_keep(tx, T_TYPE, dav_child(prop, NS_DAV, "getcontenttype"), DAV_XML_TEXT_MAX) < 0 ||
	    dav_keep(tx, T_DATA, dav_child(prop, NS_CALDAV, "calendar-data"), data_max) < 0 ||
	    dav_keep(tx, T_DATA, dav_child(prop, NS_CARDDAV, "address-data"), data_max) < 0)
		return -1;
	if (dav_keep_comps(tx, dav_child(prop, NS_CALDAV,
					 "supported-calendar-component-set")) < 0)
		return -1;
	if (dav_child(prop, NS_DAV, "current-user-principal") != NULL &&
	    dav_keep_href(tx, T_PRINCIPAL, dav_child(prop, NS_DAV, "current-user-principal")) < 0)
		return -1;
	if (dav_child(prop, NS_CALDAV, "calendar-home-set") != NULL &&
	    dav_keep_href(tx, T_CALHOME, dav_child(prop, NS_CALDAV, "calendar-home-set")) < 0)
		return -1;
	if (dav_child(prop, NS_CARDDAV, "addressbook-home-set") != NULL &&
	    dav_keep_href(tx, T_ABHOME, dav_child(prop, NS_CARDDAV, "addressbook-home-set")) < 0)
		return -1;
	return 0;
}

/* One <response>: -1 over a bound, else fn's value. */
static int dav_response(const xmlNode *resp, size_t data_max,
			int (*fn)(const struct dav_response *r, void *ctx), void *ctx,
			const char **error_r)
{
	struct dav_response r;
	struct dav_texts tx;
	const xmlNode *c;
	int ret = 0;

	memset(&r, 0, sizeof(r));
	memset(&tx, 0, sizeof(tx));
	if (dav_keep(&tx, T_HREF, dav_child(resp, NS_DAV, "href"), DAV_XML_TEXT_MAX) < 0 ||
	    dav_keep(&tx, T_STATUS, dav_child(resp, NS_DAV, "status"), 256) < 0)
		ret = -1;
	for (c = resp->children; ret == 0 && c != NULL; c = c->next) {
		char *st;
		size_t len;

		if (!dav_is(c, NS_DAV, "propstat"))
			continue;
		if (dav_child(c, NS_DAV, "status") == NULL ||
		    dav_text(dav_child(c, NS_DAV, "status"), 256, &st, &len) < 0) {
			ret = -1;
			break;
		}
		/* Properties the server has not (404) say nothing. */
		if (dav_status_code(st) == 200)
			ret = dav_props(dav_child(c, NS_DAV, "prop"), &r, &tx, data_max);
		free(st);
	}
	if (ret < 0) {
		dav_texts_free(&tx);
		return error_failf(error_r, "multistatus: a text over its limit");
	}
	if (tx.t[T_HREF] == NULL) {
		dav_texts_free(&tx);
		return error_failf(error_r, "multistatus: a response without href");
	}
	r.href = tx.t[T_HREF];
	r.status = dav_status_code(tx.t[T_STATUS]);
	r.displayname = tx.t[T_NAME];
	r.color = tx.t[T_COLOR];
	r.description = tx.t[T_DESC];
	r.getetag = tx.t[T_ETAG];
	r.getctag = tx.t[T_CTAG];
	r.sync_token = tx.t[T_TOKEN];
	r.getcontenttype = tx.t[T_TYPE];
	r.current_user_principal = tx.t[T_PRINCIPAL];
	r.calendar_home = tx.t[T_CALHOME];
	r.addressbook_home = tx.t[T_ABHOME];
	r.components = tx.t[T_COMPS];
	r.data = tx.t[T_DATA];
	r.data_len = tx.len[T_DATA];
	ret = fn(&r, ctx);
	dav_texts_free(&tx);
	return ret;
}

int dav_multistatus_parse(const char *xml, size_t len,
			  int (*fn)(const struct dav_response *r, void *ctx),
			  void *ctx, const char **error_r)
{
	xmlDoc *doc;
	const xmlNode *root;
	int ret = 0;

	if (len > INT_MAX)
		return error_failf(error_r, "multistatus: %zu bytes is too long", len);
	/* No network, no entity substitution, no DTD loading. */
	doc = xmlReadMemory(xml, (int)len, "multistatus.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL)
		return error_failf(error_r, "multistatus: not well-formed XML");
	if (doc->intSubset != NULL || doc->extSubset != NULL) {
		xmlFreeDoc(doc);
		return error_failf(error_r, "multistatus: a DTD is not accepted");
	}
	root = xmlDocGetRootElement(doc);
	if (!dav_is(root, NS_DAV, "multistatus")) {
		xmlFreeDoc(doc);
		return error_failf(error_r, "multistatus: the root is not DAV:multistatus");
	}
	for (const xmlNode *c = root->children; ret == 0 && c != NULL; c = c->next)
		if (dav_is(c, NS_DAV, "response"))
			ret = dav_response(c, len, fn, ctx, error_r);
	xmlFreeDoc(doc);
	return ret;
}
