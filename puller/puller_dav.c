/*
 * NAME
 *	puller_dav 3
 * SUMMARY
 *	copy one account's calendars and address books from OLD to NEW
 * DESCRIPTION
 *	copy_dav() runs in a round of a domain with migrate_dav, after the
 *	mail and the Sieve scripts. For CalDAV, then CardDAV, it finds the
 *	account's home on OLD (source_dav_url) and on NEW (target_dav_url),
 *	each a bare server (RFC 6764 discovery) or a home, logging in with
 *	the captured password: on OLD as the mail copy does (source_login),
 *	on NEW as the account. Every calendar (address book) of OLD's home
 *	is made on NEW under the same name with its display name, colour
 *	and description, unless NEW has one of that name; every item of it
 *	is read from OLD (at most max_dav_item_size) and put on NEW under
 *	the same name, byte for byte.
 *
 *	The store records each collection and item put on NEW (store.h,
 *	"calendars and address books"): OLD's ETag when copied, NEW's
 *	after the PUT and the SHA-256 of the bytes. A later round lists
 *	a collection only when its ctag or sync-token changed since a round
 *	copied all of it; it copies an item again only when OLD's ETag
 *	changed, with If-Match NEW's current ETag, and only if that is the
 *	one recorded (else the user changed it on NEW: NEW's is kept, a
 *	failed item says so). A new item is put with If-None-Match: *: an
 *	item of that name on NEW already is compared byte for byte (the
 *	same: recorded; another: a failed item). Items and collections OLD
 *	no longer has are reported in an event and forgotten, never deleted
 *	on NEW.
 *
 *	Each collection's copy is proved: NEW is listed again after it,
 *	and every item this round put there must be listed; one that is not
 *	is a failed item and its record is dropped, so the next round puts
 *	it again.
 * DIAGNOSTICS
 *	Nothing here fails the round but the store: an item that cannot be
 *	copied (over max_dav_item_size, NEW refuses it, OLD answers an
 *	error for it) is a failed item "caldav:COLLECTION/ITEM" (carddav:
 *	for address books), a collection NEW will not make one named
 *	"caldav:COLLECTION/", and a failure of the whole (a login refused,
 *	discovery that finds no home, a server out of reach) one named
 *	"caldav:" with an event. Five failures in a row for want of an
 *	answer (a timeout, 5xx) stop the service for this round: the next
 *	one goes on. An item or collection copied later drops its failed
 *	item.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "copy.h"
#include "dav_collection.h"
#include "dav_discover.h"
#include "dav_http.h"
#include "dav_url.h"
#include "error.h"
#include "log.h"
#include "mm_alloc.h"
#include "puller_metrics.h"

/* Failures for want of an answer in a row before the service stops. */
#define DAV_MAX_TEMP_RUN 5
/* Names of items and collections quoted in one event, at most. */
#define DAV_EVENT_NAMES 5

/* One entry of a listing: a collection or an item. */
struct dav_entry {
	char *url;
	char *seg;		/* last path segment, percent-decoded */
	char *etag;		/* NULL: none given */
	char *displayname, *color, *description, *ctag;	/* collections */
};

struct dav_list {
	struct dav_entry *v;
	size_t count, alloc;
};

struct dav_run {
	struct copy *c;
	enum dav_service svc;
	const char *prefix;		/* "caldav:" or "carddav:" */
	struct dav_http *old, *new;
	char *old_home, *new_home;
	struct dav_list old_colls, new_colls;
	/* failed items of earlier rounds of this service, sorted */
	char **was_failed;
	size_t was_failed_count, was_failed_alloc;
	int temp_run;			/* failures in a row for want of an answer */
	int listed;			/* OLD's collections were listed */
	int store_failed;
	uint64_t made, colls_unchanged, copied, unchanged, same, failed, gone,
		 colls_gone, conflicts;
	char gone_names[256];
};

static void dav_entry_free(struct dav_entry *e)
{
	mm_free(&e->url);
	mm_free(&e->seg);
	mm_free(&e->etag);
	mm_free(&e->displayname);
	mm_free(&e->color);
	mm_free(&e->description);
	mm_free(&e->ctag);
}

static void dav_list_free(struct dav_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		dav_entry_free(&l->v[i]);
	mm_free(&l->v);
	l->count = l->alloc = 0;
}

static struct dav_entry *dav_list_add(struct dav_list *l, const char *url)
{
	char *seg = dav_last_seg(url);
	struct dav_entry *e;

	if (seg == NULL)
		return NULL;
	if (l->count == l->alloc) {
		l->alloc = l->alloc == 0 ? 64 : l->alloc * 2;
		l->v = mm_reallocarray(l->v, l->alloc, sizeof(*l->v));
	}
	e = &l->v[l->count++];
	memset(e, 0, sizeof(*e));
	e->url = mm_strdup(url);
	e->seg = seg;
	return e;
}

static int dav_entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dav_entry *)a)->seg, ((const struct dav_entry *)b)->seg);
}

static void dav_list_sort(struct dav_list *l)
{
	if (l->count > 1)
		qsort(l->v, l->count, sizeof(*l->v), dav_entry_cmp);
}

static const struct dav_entry *dav_list_find(const struct dav_list *l, const char *seg)
{
	struct dav_entry key = { .seg = (char *)seg };

	if (l->count == 0)
		return NULL;
	return bsearch(&key, l->v, l->count, sizeof(*l->v), dav_entry_cmp);
}

static char *dav_strdup_or_null(const char *s)
{
	return s != NULL && *s != '\0' ? mm_strdup(s) : NULL;
}

static int dav_coll_cb(const struct dav_collection *col, void *ctx)
{
	struct dav_list *l = ctx;
	struct dav_entry *e = dav_list_add(l, col->url);

	if (e == NULL)
		return 0;	/* no name to give it on NEW: left out */
	if (!dav_name_is_path(col->displayname, col->url))
		e->displayname = dav_strdup_or_null(col->displayname);
	e->color = dav_strdup_or_null(col->color);
	e->description = dav_strdup_or_null(col->description);
	e->ctag = dav_strdup_or_null(col->ctag != NULL ? col->ctag : col->sync_token);
	return 0;
}

static int dav_item_cb(const struct dav_item *it, void *ctx)
{
	struct dav_list *l = ctx;
	struct dav_entry *e = dav_list_add(l, it->url);

	if (e != NULL)
		e->etag = dav_strdup_or_null(it->etag);
	return 0;
}

static void dav_sha256(const void *data, size_t len, unsigned char *out)
{
	unsigned int mdlen = 0;

	if (EVP_Digest(data, len, out, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != STORE_DAV_HASH)
		log_panic("dav: SHA-256 failed");
}

/* The hash an ETag (or ctag) is recorded as; all zero for none. */
static void dav_tag_hash(const char *tag, unsigned char *out)
{
	if (tag == NULL || *tag == '\0')
		memset(out, 0, STORE_DAV_HASH);
	else
		dav_sha256(tag, strlen(tag), out);
}

static int dav_zero(const unsigned char *h)
{
	for (size_t i = 0; i < STORE_DAV_HASH; i++)
		if (h[i] != 0)
			return 0;
	return 1;
}

/* --- failed items ------------------------------------------------------ */

static int dav_str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int dav_was_failed_cb(const struct store_failed *item, void *ctx)
{
	struct dav_run *r = ctx;

	if (strncmp(item->folder, r->prefix, strlen(r->prefix)) != 0)
		return 0;
	if (r->was_failed_count == r->was_failed_alloc) {
		r->was_failed_alloc = r->was_failed_alloc == 0 ? 16 : r->was_failed_alloc * 2;
		r->was_failed = mm_reallocarray(r->was_failed, r->was_failed_alloc,
						sizeof(*r->was_failed));
	}
	r->was_failed[r->was_failed_count++] = mm_strdup(item->folder);
	return 0;
}

/* "caldav:COLL/ITEM" for coll (a segment, NULL: the whole service) and
 * item (NULL: the collection) into buf. */
static const char *dav_item_name(const struct dav_run *r, const char *coll,
				 const char *item, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s%s", r->prefix, coll != NULL ? coll : "",
		 coll != NULL ? "/" : "", item != NULL ? item : "");
	return buf;
}

static int dav_failed(struct dav_run *r, const char *coll, const char *item,
		      const char *reason, enum stream_fail *fail_r, const char **error_r)
{
	char name[STORE_MAX_FOLDER];

	dav_item_name(r, coll, item, name, sizeof(name));
	r->failed++;
	if (copy_failed_item(r->c, name, 0, NULL, reason, fail_r, error_r) < 0) {
		r->store_failed = 1;
		return -1;
	}
	return 0;
}

/* Copied (or found the same): the failed item of an earlier round, if
 * any, goes. */
static int dav_ok(struct dav_run *r, const char *coll, const char *item,
		  enum stream_fail *fail_r, const char **error_r)
{
	char name[STORE_MAX_FOLDER], *key = name, **hit;
	const char *error;

	dav_item_name(r, coll, item, name, sizeof(name));
	hit = r->was_failed_count == 0 ? NULL :
		bsearch(&key, r->was_failed, r->was_failed_count, sizeof(char *),
			dav_str_cmp);
	if (hit == NULL)
		return 0;
	if (store_failed_del(r->c->p->store, r->c->account, name, 0, 0, &error) < 0) {
		r->store_failed = 1;
		return copy_store_fail(fail_r, error_r, error);
	}
	return 0;
}

/* Was coll (a segment) or anything in it a failed item before? */
static int dav_coll_had_failed(const struct dav_run *r, const char *coll)
{
	char name[STORE_MAX_FOLDER];
	size_t len;

	dav_item_name(r, coll, NULL, name, sizeof(name));
	len = strlen(name);
	for (size_t i = 0; i < r->was_failed_count; i++)
		if (strncmp(r->was_failed[i], name, len) == 0)
			return 1;
	return 0;
}

/* A request failed for want of an answer: a run of them stops the
 * service (-1, the class kept); else 0 and the caller records the
 * item as failed. */
static int dav_temp(struct dav_run *r, enum stream_fail fail)
{
	enum stream_fail policy = stream_fail_policy(fail);

	if (policy == STREAM_FAIL_TEMP || policy == STREAM_FAIL_WAIT) {
		if (++r->temp_run >= DAV_MAX_TEMP_RUN)
			return -1;
	} else if (fail == STREAM_FAIL_AUTH) {
		return -1;
	}
	return 0;
}

static int dav_put_rec(struct dav_run *r, const char *coll_url, const char *item_url,
		       const struct store_dav *d, enum stream_fail *fail_r,
		       const char **error_r)
{
	const char *error;

	if (store_dav_put(r->c->p->store, r->c->account, coll_url, item_url, d,
			  &error) < 0) {
		r->store_failed = 1;
		return copy_store_fail(fail_r, error_r, error);
	}
	return 0;
}

static int dav_record(struct dav_run *r, const char *coll_url, const char *old_url,
		      unsigned kind, const char *new_url, const char *old_tag,
		      const char *new_tag, const unsigned char *sha256,
		      enum stream_fail *fail_r, const char **error_r)
{
	struct store_dav *d = mm_calloc(1, sizeof(*d));
	int ret;

	d->kind = kind;
	snprintf(d->old_url, sizeof(d->old_url), "%s", old_url);
	snprintf(d->new_url, sizeof(d->new_url), "%s", new_url);
	dav_tag_hash(old_tag, d->old_etag);
	dav_tag_hash(new_tag, d->new_etag);
	if (sha256 != NULL)
		memcpy(d->sha256, sha256, STORE_DAV_HASH);
	d->copied = (int64_t)time(NULL);
	ret = dav_put_rec(r, coll_url, kind == STORE_DAV_ITEM ? old_url : NULL, d,
			  fail_r, error_r);
	mm_free(&d);
	return ret;
}

/* --- one item -------------------------------------------------------------- */

struct dav_coll_run {
	const struct dav_entry *old;	/* OLD's collection */
	char *new_url;			/* NEW's, ending in '/' */
	struct dav_list old_items, new_items;
	char **put;			/* segments put on NEW in this round */
	size_t put_count, put_alloc;
	int all_ok;
};

static void dav_coll_put(struct dav_coll_run *cr, const char *seg)
{
	if (cr->put_count == cr->put_alloc) {
		cr->put_alloc = cr->put_alloc == 0 ? 64 : cr->put_alloc * 2;
		cr->put = mm_reallocarray(cr->put, cr->put_alloc, sizeof(*cr->put));
	}
	cr->put[cr->put_count++] = mm_strdup(seg);
}

static const char *dav_content_type(const struct dav_run *r)
{
	return r->svc == DAV_CALDAV ? "text/calendar; charset=utf-8" :
		"text/vcard; charset=utf-8";
}

/* A short, printable excerpt of an error answer's body, for a reason. */
static void dav_body_excerpt(const struct dav_reply *rep, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	if (rep->body == NULL || size < 8)
		return;
	for (size_t i = 0; i < rep->len && n + 4 < size && n < 120; i++) {
		unsigned char ch = (unsigned char)rep->body[i];

		buf[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : ' ';
	}
	buf[n] = '\0';
}

/* The item's bytes on NEW are these? 1 yes, 0 no or unreadable. */
static int dav_new_same(struct dav_run *r, const char *url, const char *data, size_t len,
			char **etag_r)
{
	struct dav_reply rep;
	enum stream_fail fail;
	const char *error;
	int same;

	if (dav_http_request(r->new, "GET", url, NULL, NULL, NULL, 0, NULL, NULL, &rep,
			     &fail, &error) < 0)
		return 0;
	same = rep.status == 200 && rep.len == len && memcmp(rep.body, data, len) == 0;
	if (same && rep.etag != NULL)
		*etag_r = mm_strdup(rep.etag);
	dav_reply_clear(&rep);
	return same;
}

/* Copy one of OLD's items. 0: done (copied, unchanged, or a failed item
 * recorded: cr->all_ok cleared); -1: the service stops (or the store
 * failed). */
static int dav_copy_item(struct dav_run *r, struct dav_coll_run *cr,
			 const struct dav_entry *it, enum stream_fail *fail_r,
			 const char **error_r)
{
	const struct dav_entry *n = dav_list_find(&cr->new_items, it->seg);
	const char *coll = cr->old->seg, *error, *if_match = NULL, *if_none = "*";
	unsigned char tag[STORE_DAV_HASH], sha256[STORE_DAV_HASH];
	char reason[STREAM_ERROR_MAX], excerpt[128], *new_url, *new_etag = NULL;
	struct store_dav *rec = mm_calloc(1, sizeof(*rec));
	struct dav_reply got, put;
	enum stream_fail fail;
	int have_rec, ret;

	memset(&got, 0, sizeof(got));
	memset(&put, 0, sizeof(put));
	ret = store_dav_get(r->c->p->store, r->c->account, cr->old->url, it->url, rec,
			    &error);
	if (ret < 0) {
		mm_free(&rec);
		r->store_failed = 1;
		return copy_store_fail(fail_r, error_r, error);
	}
	have_rec = ret == 0;
	dav_tag_hash(it->etag, tag);
	if (have_rec && it->etag != NULL && memcmp(tag, rec->old_etag, STORE_DAV_HASH) == 0) {
		/* OLD did not change it since it was copied: NEW keeps what
		 * it has (the user's own change, or deletion, if any). */
		mm_free(&rec);
		r->unchanged++;
		return dav_ok(r, coll, it->seg, fail_r, error_r);
	}
	new_url = mm_asprintf("%s%s", cr->new_url, dav_raw_seg(it->url));
	/* an item's bound, not a listing's */
	dav_http_max_body(r->old, r->c->p->cfg->max_dav_item_size);
	ret = dav_http_request(r->old, "GET", it->url, NULL, NULL, NULL, 0, NULL, NULL, &got,
			       &fail, &error);
	dav_http_max_body(r->old, 0);
	if (ret < 0) {
		if (dav_temp(r, fail) < 0) {
			ret = stream_failf(fail_r, fail, error_r, "OLD: %s", error);
			goto out;
		}
		snprintf(reason, sizeof(reason), "OLD: %s%s", error,
			 fail == STREAM_FAIL_MESSAGE ? " (max_dav_item_size)" : "");
		cr->all_ok = 0;
		ret = dav_failed(r, coll, it->seg, reason, fail_r, error_r);
		goto out;
	}
	r->temp_run = 0;
	if (got.status != 200) {
		cr->all_ok = 0;
		if (got.status == 404) {
			/* gone between the listing and now: the next round
			 * says so */
			ret = 0;
			goto out;
		}
		snprintf(reason, sizeof(reason), "OLD answered GET with status %ld",
			 got.status);
		ret = dav_failed(r, coll, it->seg, reason, fail_r, error_r);
		goto out;
	}
	dav_sha256(got.body != NULL ? got.body : "", got.len, sha256);
	if (have_rec && memcmp(sha256, rec->sha256, STORE_DAV_HASH) == 0) {
		/* the same bytes as copied (OLD's ETag changed, or OLD gives
		 * none): recorded again with OLD's ETag now */
		r->unchanged++;
		dav_tag_hash(got.etag != NULL ? got.etag : it->etag, rec->old_etag);
		rec->copied = (int64_t)time(NULL);
		ret = dav_put_rec(r, cr->old->url, it->url, rec, fail_r, error_r);
		if (ret == 0)
			ret = dav_ok(r, coll, it->seg, fail_r, error_r);
		goto out;
	}
	if (have_rec) {
		/* OLD changed it: NEW's copy is replaced only if it is the
		 * one this store put there. */
		unsigned char now[STORE_DAV_HASH];

		mm_free(&new_url);
		new_url = mm_strdup(rec->new_url);
		dav_tag_hash(n != NULL ? n->etag : NULL, now);
		if (n != NULL && !dav_zero(rec->new_etag) &&
		    memcmp(now, rec->new_etag, STORE_DAV_HASH) != 0) {
			r->conflicts++;
			cr->all_ok = 0;
			ret = dav_failed(r, coll, it->seg, "changed on OLD and on NEW "
					 "since it was copied: NEW's kept", fail_r,
					 error_r);
			goto out;
		}
		if_none = n == NULL ? "*" : NULL;
		if_match = n != NULL ? n->etag : NULL;
	}
	if (dav_http_request(r->new, "PUT", new_url, NULL, dav_content_type(r), got.body,
			     got.len, if_match, if_none, &put, &fail, &error) < 0) {
		if (dav_temp(r, fail) < 0) {
			ret = stream_failf(fail_r, fail, error_r, "NEW: %s", error);
			goto out;
		}
		snprintf(reason, sizeof(reason), "NEW: %s", error);
		cr->all_ok = 0;
		ret = dav_failed(r, coll, it->seg, reason, fail_r, error_r);
		goto out;
	}
	r->temp_run = 0;
	if (put.status == 412 && !have_rec) {
		/* NEW holds an item of that name: the same bytes are a
		 * copy made before this store knew of it */
		if (!dav_new_same(r, new_url, got.body, got.len, &new_etag)) {
			cr->all_ok = 0;
			ret = dav_failed(r, coll, it->seg, "NEW holds another item "
					 "of that name: NEW's kept", fail_r, error_r);
			goto out;
		}
		r->same++;
	} else if (put.status == 412) {
		r->conflicts++;
		cr->all_ok = 0;
		ret = dav_failed(r, coll, it->seg, "changed on NEW while being "
				 "copied again: NEW's kept", fail_r, error_r);
		goto out;
	} else if (put.status < 200 || put.status > 299) {
		dav_body_excerpt(&put, excerpt, sizeof(excerpt));
		snprintf(reason, sizeof(reason), "NEW refused it: status %ld%s%s",
			 put.status, excerpt[0] != '\0' ? ": " : "", excerpt);
		cr->all_ok = 0;
		ret = dav_failed(r, coll, it->seg, reason, fail_r, error_r);
		goto out;
	} else {
		r->copied++;
		puller_count(dav_items, 1);
		dav_coll_put(cr, it->seg);
		if (put.etag != NULL)
			new_etag = mm_strdup(put.etag);
	}
	ret = dav_record(r, cr->old->url, it->url, STORE_DAV_ITEM, new_url,
			 got.etag != NULL ? got.etag : it->etag, new_etag, sha256,
			 fail_r, error_r);
	if (ret == 0)
		ret = dav_ok(r, coll, it->seg, fail_r, error_r);
out:
	mm_free(&new_etag);
	mm_free(&new_url);
	mm_free(&rec);
	dav_reply_clear(&got);
	dav_reply_clear(&put);
	return ret;
}

/* --- one collection -------------------------------------------------------- */

static void dav_coll_run_free(struct dav_coll_run *cr)
{
	dav_list_free(&cr->old_items);
	dav_list_free(&cr->new_items);
	for (size_t i = 0; i < cr->put_count; i++)
		mm_free(&cr->put[i]);
	mm_free(&cr->put);
	mm_free(&cr->new_url);
}

/* A name for an event, added to r->gone_names while there is room. */
static void dav_gone_name(struct dav_run *r, const char *name)
{
	size_t len = strlen(r->gone_names);

	if (r->gone + r->colls_gone > DAV_EVENT_NAMES || len + 4 >= sizeof(r->gone_names))
		return;
	snprintf(r->gone_names + len, sizeof(r->gone_names) - len, "%s\"%s\"",
		 len > 0 ? ", " : "", name);
}

struct dav_gone_ctx {
	const struct dav_list *old_items;	/* sorted */
	char **urls;
	size_t count, alloc;
};

static int dav_gone_cb(const char *coll_url, const struct store_dav *d, void *ctx)
{
	struct dav_gone_ctx *g = ctx;
	const struct dav_entry *e;
	char *seg;

	(void)coll_url;
	if (d->kind != STORE_DAV_ITEM)
		return 0;
	seg = dav_last_seg(d->old_url);
	e = seg != NULL ? dav_list_find(g->old_items, seg) : NULL;
	mm_free(&seg);
	if (e != NULL && strcmp(e->url, d->old_url) == 0)
		return 0;
	if (g->count == g->alloc) {
		g->alloc = g->alloc == 0 ? 16 : g->alloc * 2;
		g->urls = mm_reallocarray(g->urls, g->alloc, sizeof(*g->urls));
	}
	g->urls[g->count++] = mm_strdup(d->old_url);
	return 0;
}

/* Items recorded in the collection that OLD no longer lists: reported,
 * and forgotten (NEW keeps its copy). */
static int dav_coll_gone(struct dav_run *r, struct dav_coll_run *cr,
			 enum stream_fail *fail_r, const char **error_r)
{
	struct dav_gone_ctx g = { &cr->old_items, NULL, 0, 0 };
	const char *error;
	int ret;

	ret = store_dav_iter(r->c->p->store, r->c->account, cr->old->url, dav_gone_cb,
			     &g, &error);
	for (size_t i = 0; i < g.count; i++) {
		if (ret == 0) {
			char *seg = dav_last_seg(g.urls[i]);
			char name[STORE_MAX_FOLDER];

			ret = store_dav_del(r->c->p->store, r->c->account, cr->old->url,
					    g.urls[i], &error);
			if (ret == STORE_NOTFOUND)
				ret = 0;
			dav_item_name(r, cr->old->seg, seg != NULL ? seg : "?", name,
				      sizeof(name));
			dav_gone_name(r, name);
			r->gone++;
			mm_free(&seg);
		}
		mm_free(&g.urls[i]);
	}
	mm_free(&g.urls);
	if (ret < 0) {
		r->store_failed = 1;
		return copy_store_fail(fail_r, error_r, error);
	}
	return 0;
}

/* The round's proof: every item put on NEW in it is listed there. */
static int dav_coll_prove(struct dav_run *r, struct dav_coll_run *cr,
			  enum stream_fail *fail_r, const char **error_r)
{
	struct dav_list now = { 0 };
	const char *error;
	int ret = 0;

	if (cr->put_count == 0)
		return 0;
	if (dav_list_items(r->new, cr->new_url, dav_item_cb, &now, fail_r, error_r) < 0) {
		dav_list_free(&now);
		cr->all_ok = 0;
		return stream_failf(fail_r, *fail_r, error_r, "NEW: listing %s after "
				    "the copy: %s", cr->new_url, *error_r);
	}
	dav_list_sort(&now);
	for (size_t i = 0; i < cr->put_count && ret == 0; i++) {
		const struct dav_entry *o;

		if (dav_list_find(&now, cr->put[i]) != NULL)
			continue;
		cr->all_ok = 0;
		o = dav_list_find(&cr->old_items, cr->put[i]);
		if (o != NULL) {
			ret = store_dav_del(r->c->p->store, r->c->account, cr->old->url,
					    o->url, &error);
			if (ret < 0) {
				r->store_failed = 1;
				ret = copy_store_fail(fail_r, error_r, error);
				break;
			}
		}
		r->copied--;
		ret = dav_failed(r, cr->old->seg, cr->put[i], "put on NEW but not "
				 "listed there after: copied again next round",
				 fail_r, error_r);
	}
	dav_list_free(&now);
	return ret;
}

/* NEW's URL for OLD's collection: recorded, NEW's of the same name, or
 * made now. 1: not made (a failed item recorded). */
static int dav_coll_target(struct dav_run *r, struct dav_coll_run *cr,
			   const struct store_dav *rec, int have_rec,
			   enum stream_fail *fail_r, const char **error_r)
{
	const struct dav_entry *n = dav_list_find(&r->new_colls, cr->old->seg);
	char reason[STREAM_ERROR_MAX];
	const char *raw;
	size_t len;
	int ret;

	if (have_rec && n != NULL && strcmp(n->url, rec->new_url) == 0) {
		cr->new_url = mm_strdup(rec->new_url);
		return 0;
	}
	if (n != NULL) {
		len = strlen(n->url);
		cr->new_url = mm_asprintf("%s%s", n->url, len > 0 && n->url[len - 1] == '/' ?
					  "" : "/");
		return 0;
	}
	raw = dav_raw_seg(cr->old->url);
	len = strlen(raw);
	cr->new_url = mm_asprintf("%s%s%.*s/", r->new_home,
				  r->new_home[strlen(r->new_home) - 1] == '/' ? "" : "/",
				  (int)(len > 0 && raw[len - 1] == '/' ? len - 1 : len), raw);
	ret = dav_make_collection(r->new, cr->new_url, r->svc, cr->old->displayname,
				  cr->old->color, cr->old->description, fail_r, error_r);
	if (ret == DAV_COLLECTION_EXISTS)
		return 0;
	if (ret == 0) {
		r->made++;
		return 0;
	}
	if (dav_temp(r, *fail_r) < 0)
		return -1;
	snprintf(reason, sizeof(reason), "NEW: %s", *error_r);
	return dav_failed(r, cr->old->seg, NULL, reason, fail_r, error_r) < 0 ? -1 : 1;
}

static int dav_copy_coll(struct dav_run *r, const struct dav_entry *oc,
			 enum stream_fail *fail_r, const char **error_r)
{
	struct dav_coll_run cr = { .old = oc, .all_ok = 1 };
	struct store_dav *rec = mm_calloc(1, sizeof(*rec));
	unsigned kind = r->svc == DAV_CALDAV ? STORE_DAV_CALENDAR : STORE_DAV_ADDRESSBOOK;
	unsigned char tag[STORE_DAV_HASH];
	char reason[STREAM_ERROR_MAX];
	const char *error;
	int ret, have_rec;

	ret = store_dav_get(r->c->p->store, r->c->account, oc->url, NULL, rec, &error);
	if (ret < 0) {
		mm_free(&rec);
		r->store_failed = 1;
		return copy_store_fail(fail_r, error_r, error);
	}
	have_rec = ret == 0;
	dav_tag_hash(oc->ctag, tag);
	if (have_rec && oc->ctag != NULL && memcmp(tag, rec->old_etag, STORE_DAV_HASH) == 0 &&
	    !dav_coll_had_failed(r, oc->seg)) {
		/* Nothing changed on OLD since a round copied all of it. */
		mm_free(&rec);
		r->colls_unchanged++;
		return 0;
	}
	ret = dav_coll_target(r, &cr, rec, have_rec, fail_r, error_r);
	mm_free(&rec);
	if (ret != 0)
		goto out;
	/* NEW's URL recorded at once, as not complete (no ctag). */
	ret = dav_record(r, oc->url, oc->url, kind, cr.new_url, NULL, NULL, NULL, fail_r,
			 error_r);
	if (ret < 0)
		goto out;
	if (dav_list_items(r->old, oc->url, dav_item_cb, &cr.old_items, fail_r,
			   error_r) < 0 ||
	    dav_list_items(r->new, cr.new_url, dav_item_cb, &cr.new_items, fail_r,
			   error_r) < 0) {
		if (dav_temp(r, *fail_r) < 0) {
			ret = -1;
			goto out;
		}
		snprintf(reason, sizeof(reason), "%s", *error_r);
		ret = dav_failed(r, oc->seg, NULL, reason, fail_r, error_r);
		goto out;
	}
	r->temp_run = 0;
	dav_list_sort(&cr.old_items);
	dav_list_sort(&cr.new_items);
	for (size_t i = 0; i < cr.old_items.count; i++) {
		ret = dav_copy_item(r, &cr, &cr.old_items.v[i], fail_r, error_r);
		if (ret < 0)
			goto out;
	}
	ret = dav_coll_gone(r, &cr, fail_r, error_r);
	if (ret == 0)
		ret = dav_coll_prove(r, &cr, fail_r, error_r);
	if (ret < 0 && !r->store_failed && dav_temp(r, *fail_r) == 0) {
		snprintf(reason, sizeof(reason), "%s", *error_r);
		ret = dav_failed(r, oc->seg, NULL, reason, fail_r, error_r);
	}
	if (ret == 0 && cr.all_ok)
		ret = dav_record(r, oc->url, oc->url, kind, cr.new_url, oc->ctag, NULL,
				 NULL, fail_r, error_r);
	if (ret == 0 && cr.all_ok)
		ret = dav_ok(r, oc->seg, NULL, fail_r, error_r);
out:
	dav_coll_run_free(&cr);
	return ret < 0 ? -1 : 0;
}

/* --- one service -------------------------------------------------------------- */

struct dav_colls_gone_ctx {
	const struct dav_run *r;
	unsigned kind;
	char **urls;
	size_t count, alloc;
};

static int dav_colls_gone_cb(const char *coll_url, const struct store_dav *d, void *ctx)
{
	struct dav_colls_gone_ctx *g = ctx;

	if (d->kind != g->kind || strcmp(coll_url, d->old_url) != 0)
		return 0;
	for (size_t i = 0; i < g->r->old_colls.count; i++)
		if (strcmp(g->r->old_colls.v[i].url, d->old_url) == 0)
			return 0;
	if (g->count == g->alloc) {
		g->alloc = g->alloc == 0 ? 8 : g->alloc * 2;
		g->urls = mm_reallocarray(g->urls, g->alloc, sizeof(*g->urls));
	}
	g->urls[g->count++] = mm_strdup(d->old_url);
	return 0;
}

/* Collections recorded that OLD no longer lists: reported, forgotten
 * with their items' records; NEW keeps them. */
static int dav_colls_gone(struct dav_run *r, enum stream_fail *fail_r,
			  const char **error_r)
{
	struct dav_colls_gone_ctx g = { r, r->svc == DAV_CALDAV ? STORE_DAV_CALENDAR :
					STORE_DAV_ADDRESSBOOK, NULL, 0, 0 };
	const char *error;
	int ret;

	ret = store_dav_iter(r->c->p->store, r->c->account, NULL, dav_colls_gone_cb, &g,
			     &error);
	for (size_t i = 0; i < g.count; i++) {
		if (ret == 0) {
			char *seg = dav_last_seg(g.urls[i]);
			char name[STORE_MAX_FOLDER];

			ret = store_dav_del(r->c->p->store, r->c->account, g.urls[i], NULL,
					    &error);
			if (ret == STORE_NOTFOUND)
				ret = 0;
			dav_item_name(r, seg != NULL ? seg : "?", NULL, name, sizeof(name));
			dav_gone_name(r, name);
			r->colls_gone++;
			mm_free(&seg);
		}
		mm_free(&g.urls[i]);
	}
	mm_free(&g.urls);
	if (ret < 0) {
		r->store_failed = 1;
		return copy_store_fail(fail_r, error_r, error);
	}
	return 0;
}

/* A handle logged in as user, its home found from the URL template. */
static int dav_open(struct dav_run *r, const char *side, const char *template,
		    const char *user, const char *password, int verify, const char *ca,
		    struct dav_http **h_r, char **home_r, enum stream_fail *fail_r,
		    const char **error_r)
{
	const struct cfg *cfg = r->c->p->cfg;
	struct dav_http_settings set = { 0 };
	char *base = cfg_expand_user(template, r->c->account);
	int ret;

	set.user = user;
	set.password = password;
	set.timeout_ms = (long)cfg->io_timeout * 1000;
	set.tls_verify = verify;
	set.ca_file = ca;
	*h_r = dav_http_new(&set);
	ret = dav_discover(*h_r, base, r->svc, home_r, fail_r, error_r);
	if (ret < 0)
		ret = stream_failf(fail_r, *fail_r, error_r, "%s %s: %s", side, base,
				   *error_r);
	mm_free(&base);
	return ret;
}

static int dav_copy_service(struct dav_run *r, const char *password,
			    enum stream_fail *fail_r, const char **error_r)
{
	const struct cfg_domain *dom = r->c->dom;
	char login[CFG_LOGIN_MAX + 1];
	const char *error;

	if (cfg_login_name(dom, r->c->account, login, sizeof(login), &error) < 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "%s", error);
	if (dav_open(r, "OLD", dom->source_dav_url, login, password,
		     dom->source_tls_verify, dom->source_tls_ca_file, &r->old,
		     &r->old_home, fail_r, error_r) < 0)
		return -1;
	if (dav_list_collections(r->old, r->old_home, r->svc, dav_coll_cb, &r->old_colls,
				 fail_r, error_r) < 0)
		return stream_failf(fail_r, *fail_r, error_r, "OLD: %s", *error_r);
	r->listed = 1;
	if (r->old_colls.count > 0) {
		if (dav_open(r, "NEW", dom->target_dav_url, r->c->account, password, 1, NULL,
			     &r->new, &r->new_home, fail_r, error_r) < 0)
			return -1;
		if (dav_list_collections(r->new, r->new_home, r->svc, dav_coll_cb,
					 &r->new_colls, fail_r, error_r) < 0)
			return stream_failf(fail_r, *fail_r, error_r, "NEW: %s", *error_r);
		dav_list_sort(&r->new_colls);
	}
	for (size_t i = 0; i < r->old_colls.count; i++) {
		if (dav_copy_coll(r, &r->old_colls.v[i], fail_r, error_r) < 0)
			return -1;
	}
	return dav_colls_gone(r, fail_r, error_r);
}

static void dav_run_free(struct dav_run *r)
{
	dav_list_free(&r->old_colls);
	dav_list_free(&r->new_colls);
	for (size_t i = 0; i < r->was_failed_count; i++)
		mm_free(&r->was_failed[i]);
	mm_free(&r->was_failed);
	mm_free(&r->old_home);
	mm_free(&r->new_home);
	dav_http_free(&r->old);
	dav_http_free(&r->new);
}

/* The round's event for one service. */
static void dav_event(const struct dav_run *r)
{
	const char *what = r->svc == DAV_CALDAV ? "calendars" : "address books";

	copy_event(r->c, r->failed > 0 ? LOG_SEV_WARNING : LOG_SEV_INFO,
		   "%s %zu %s on OLD (%llu made on NEW, %llu unchanged since "
		   "copied); items: %llu copied, %llu unchanged since copied, %llu "
		   "already the same on NEW, %llu not copied (failed items, %llu "
		   "of them changed on both sides); gone from OLD since copied, "
		   "kept on NEW: %llu %s, %llu items%s%s",
		   r->prefix, r->old_colls.count, what, (unsigned long long)r->made,
		   (unsigned long long)r->colls_unchanged, (unsigned long long)r->copied,
		   (unsigned long long)r->unchanged, (unsigned long long)r->same,
		   (unsigned long long)r->failed, (unsigned long long)r->conflicts,
		   (unsigned long long)r->colls_gone, what, (unsigned long long)r->gone,
		   r->gone_names[0] != '\0' ? ": " : "", r->gone_names);
}

/* One service; only the store fails the round (-1). */
static int dav_service(struct copy *c, enum dav_service svc, const char *password,
		       enum stream_fail *fail_r, const char **error_r)
{
	struct dav_run r = { .c = c, .svc = svc };
	char reason[STREAM_ERROR_MAX];
	const char *error;
	int ret;

	r.prefix = svc == DAV_CALDAV ? "caldav:" : "carddav:";
	if (store_failed_iter(c->p->store, c->account, dav_was_failed_cb, &r, &error) < 0) {
		dav_run_free(&r);
		return copy_store_fail(fail_r, error_r, error);
	}
	if (r.was_failed_count > 1)
		qsort(r.was_failed, r.was_failed_count, sizeof(char *), dav_str_cmp);
	ret = dav_copy_service(&r, password, fail_r, error_r);
	if (ret < 0 && !r.store_failed) {
		enum stream_fail policy = stream_fail_policy(*fail_r);

		snprintf(reason, sizeof(reason), "%s", *error_r);
		if ((policy == STREAM_FAIL_TEMP || policy == STREAM_FAIL_WAIT) &&
		    (c->job == NULL || c->job->kind != STORE_JOB_FINISH)) {
			/* out of reach now: the next round goes on */
			copy_event(c, LOG_SEV_WARNING, "%s not copied in this round, "
				   "the next round tries again: %s", r.prefix, reason);
			ret = 0;
		} else {
			ret = dav_failed(&r, NULL, NULL, reason, fail_r, error_r);
		}
	} else if (ret == 0) {
		ret = dav_ok(&r, NULL, NULL, fail_r, error_r);
	}
	if (!r.store_failed && r.listed)
		dav_event(&r);
	dav_run_free(&r);
	return ret;
}

int copy_dav(struct copy *c, enum stream_fail *fail_r, const char **error_r)
{
	char *password = NULL;
	const char *error;
	int ret;

	if (!c->dom->migrate_dav)
		return 0;
	ret = store_cred_get(c->p->store, c->account, &password, &error);
	if (ret == STORE_NOTFOUND) {
		struct store_failed it = { (char *)c->account, (char *)"caldav:", 0, 0, 0,
					   time(NULL), (char *)"no captured password for "
					   "this account: its DAV servers cannot be asked" };

		copy_event(c, LOG_SEV_ERROR, "calendars and address books not copied: "
			   "no captured password for this account");
		c->failed++;
		if (store_failed_add(c->p->store, &it, &error) < 0)
			return copy_store_fail(fail_r, error_r, error);
		return 0;
	}
	if (ret < 0)
		return copy_store_fail(fail_r, error_r, error);
	ret = dav_service(c, DAV_CALDAV, password, fail_r, error_r);
	if (ret == 0)
		ret = dav_service(c, DAV_CARDDAV, password, fail_r, error_r);
	mm_free_secret(&password);
	return ret;
}
