/*
 * NAME
 *	puller_dav_state 3
 * SUMMARY
 *	the DAV copy's bookkeeping: listings, store records, failed items
 * DESCRIPTION
 *	puller_dav(3) says what they are for.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "puller_dav.h"
#include "dav_url.h"
#include "error.h"
#include "log.h"
#include "mm_alloc.h"
#include "puller_metrics.h"

void dav_entry_free(struct dav_entry *e)
{
	mm_free(&e->url);
	mm_free(&e->seg);
	mm_free(&e->etag);
	mm_free(&e->displayname);
	mm_free(&e->color);
	mm_free(&e->description);
	mm_free(&e->components);
	mm_free(&e->ctag);
}

void dav_list_free(struct dav_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		dav_entry_free(&l->v[i]);
	mm_free(&l->v);
	mm_free(&l->unnamed_url);
	l->count = l->alloc = l->unnamed = 0;
}

struct dav_entry *dav_list_add(struct dav_list *l, const char *url)
{
	char *seg = dav_last_seg(url);
	struct dav_entry *e;

	if (seg == NULL) {
		if (l->unnamed++ == 0)
			l->unnamed_url = mm_strdup(url);
		return NULL;
	}
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

void dav_list_sort(struct dav_list *l)
{
	if (l->count > 1)
		qsort(l->v, l->count, sizeof(*l->v), dav_entry_cmp);
}

const struct dav_entry *dav_list_find(const struct dav_list *l, const char *seg)
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

int dav_coll_cb(const struct dav_collection *col, void *ctx)
{
	struct dav_list *l = ctx;
	struct dav_entry *e = dav_list_add(l, col->url);

	if (e == NULL)
		return 0;	/* no name to give it on NEW: counted in l */
	if (!dav_name_is_path(col->displayname, col->url))
		e->displayname = dav_strdup_or_null(col->displayname);
	e->color = dav_strdup_or_null(col->color);
	e->description = dav_strdup_or_null(col->description);
	e->components = dav_strdup_or_null(col->components);
	e->ctag = dav_strdup_or_null(col->ctag != NULL ? col->ctag : col->sync_token);
	return 0;
}

int dav_item_cb(const struct dav_item *it, void *ctx)
{
	struct dav_list *l = ctx;
	struct dav_entry *e = dav_list_add(l, it->url);

	if (e != NULL)
		e->etag = dav_strdup_or_null(it->etag);
	return 0;
}

void dav_sha256(const void *data, size_t len, unsigned char *out)
{
	unsigned int mdlen = 0;

	if (EVP_Digest(data, len, out, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != STORE_DAV_HASH)
		log_panic("dav: SHA-256 failed");
}

/* The hash an ETag (or ctag) is recorded as; all zero for none. Its
 * opaque part only (RFC 9110 8.8.3: W/ and the quotes dropped), so the
 * ETag: header of a PUT or GET and the getetag of a listing compare
 * equal when a server writes one weak or unquoted and the other not. */
void dav_tag_hash(const char *tag, unsigned char *out)
{
	size_t len;

	if (tag != NULL && strncmp(tag, "W/", 2) == 0)
		tag += 2;
	len = tag != NULL ? strlen(tag) : 0;
	if (len >= 2 && tag[0] == '"' && tag[len - 1] == '"') {
		tag++;
		len -= 2;
	}
	if (len == 0)
		memset(out, 0, STORE_DAV_HASH);
	else
		dav_sha256(tag, len, out);
}

int dav_zero(const unsigned char *h)
{
	for (size_t i = 0; i < STORE_DAV_HASH; i++)
		if (h[i] != 0)
			return 0;
	return 1;
}

/* --- failed items ------------------------------------------------------ */

int dav_str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int dav_was_failed_cb(const struct store_failed *item, void *ctx)
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
const char *dav_item_name(const struct dav_run *r, const char *coll,
			  const char *item, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s%s", r->prefix, coll != NULL ? coll : "",
		 coll != NULL ? "/" : "", item != NULL ? item : "");
	return buf;
}

int dav_failed(struct dav_run *r, const char *coll, const char *item,
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
int dav_ok(struct dav_run *r, const char *coll, const char *item,
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
int dav_coll_had_failed(const struct dav_run *r, const char *coll)
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
int dav_temp(struct dav_run *r, enum stream_fail fail)
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

int dav_put_rec(struct dav_run *r, const char *coll_url, const char *item_url,
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

int dav_record(struct dav_run *r, const char *coll_url, const char *old_url,
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
