/*
 * NAME
 *	puller_dav 3h
 * SUMMARY
 *	the parts of the DAV copy (puller_dav(3)), shared by its files
 * DESCRIPTION
 *	puller_dav.c: a service (CalDAV, CardDAV) and its collections;
 *	puller_dav_item.c: one item; puller_dav_state.c: listings, the
 *	store's records and the failed items.
 */
#ifndef MM_PULLER_DAV_H
#define MM_PULLER_DAV_H

#include "copy.h"
#include "dav_collection.h"
#include "dav_discover.h"
#include "dav_http.h"
#include "dav_url.h"

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
	char *components;		/* a calendar's, "VTODO", or NULL */
};

struct dav_list {
	struct dav_entry *v;
	size_t count, alloc;
	/* listed, but with no name to give it on NEW (dav_last_seg()
	 * refused its last segment): not copied, never silently */
	size_t unnamed;
	char *unnamed_url;		/* the first of them */
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
	int bearer;			/* the secret is an OAuth token for OLD
					   (source_auth), not the password */
	int temp_run;			/* failures in a row for want of an answer */
	int listed;			/* OLD's collections were listed */
	int store_failed;
	uint64_t made, colls_unchanged, copied, unchanged, same, failed, gone,
		 colls_gone, conflicts;
	char gone_names[256];
};

struct dav_coll_run {
	const struct dav_entry *old;	/* OLD's collection */
	char *new_url;			/* NEW's, ending in '/' */
	struct dav_list old_items, new_items;
	char **put;			/* segments put on NEW in this round */
	size_t put_count, put_alloc;
	int all_ok;
};

/* puller_dav_state.c: listings (sorted by decoded name, found by it) */
void dav_entry_free(struct dav_entry *e);
void dav_list_free(struct dav_list *l);
struct dav_entry *dav_list_add(struct dav_list *l, const char *url);
void dav_list_sort(struct dav_list *l);
const struct dav_entry *dav_list_find(const struct dav_list *l,
				      const char *seg);
int dav_coll_cb(const struct dav_collection *col, void *ctx);
int dav_item_cb(const struct dav_item *it, void *ctx);
/* what the store records: SHA-256 of bytes, of tags (all zero: none) */
void dav_sha256(const void *data, size_t len, unsigned char *out);
void dav_tag_hash(const char *tag, unsigned char *out);
int dav_zero(const unsigned char *h);
/* failed items "caldav:COLL/ITEM": recorded, dropped when copied */
int dav_str_cmp(const void *a, const void *b);
int dav_was_failed_cb(const struct store_failed *item, void *ctx);
const char *dav_item_name(const struct dav_run *r, const char *coll,
			  const char *item, char *buf, size_t size);
int dav_failed(struct dav_run *r, const char *coll, const char *item,
	       const char *reason, enum stream_fail *fail_r,
	       const char **error_r);
int dav_ok(struct dav_run *r, const char *coll, const char *item,
	   enum stream_fail *fail_r, const char **error_r);
int dav_coll_had_failed(const struct dav_run *r, const char *coll);
/* a request without an answer: -1 when a run of them stops the service */
int dav_temp(struct dav_run *r, enum stream_fail fail);
/* the store's records (store.h: calendars and address books) */
int dav_put_rec(struct dav_run *r, const char *coll_url, const char *item_url,
		const struct store_dav *d, enum stream_fail *fail_r,
		const char **error_r);
int dav_record(struct dav_run *r, const char *coll_url, const char *old_url,
	       unsigned kind, const char *new_url, const char *old_tag,
	       const char *new_tag, const unsigned char *sha256,
	       enum stream_fail *fail_r, const char **error_r);
/* puller_dav_item.c: 0 done (copied, unchanged, or a failed item:
 * cr->all_ok cleared); -1 the service stops or the store failed */
int dav_copy_item(struct dav_run *r, struct dav_coll_run *cr,
		  const struct dav_entry *it, enum stream_fail *fail_r,
		  const char **error_r);

#endif
