/*
 * NAME
 *	puller_dav_item 3
 * SUMMARY
 *	copy one calendar item or contact from OLD to NEW
 * DESCRIPTION
 *	puller_dav(3) says when an item is copied, put again, or left.
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

/* --- one item -------------------------------------------------------------- */


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
int dav_copy_item(struct dav_run *r, struct dav_coll_run *cr,
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
		dav_tag_hash(it->etag != NULL ? it->etag : got.etag, rec->old_etag);
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
	/* OLD's ETag as its listing gives it: what the next round compares
	 * (a server may quote or weaken the GET's header otherwise) */
	ret = dav_record(r, cr->old->url, it->url, STORE_DAV_ITEM, new_url,
			 it->etag != NULL ? it->etag : got.etag, new_etag, sha256,
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
