/*
 * NAME
 *	dav_collection 3h
 * SUMMARY
 *	the collections of a home, and the items of a collection
 * DESCRIPTION
 *	dav_list_collections(): PROPFIND Depth 1 of a calendar or address
 *	book home; each calendar (or address book) under it with its
 *	display name, colour, description, ctag and sync-token.
 *	dav_list_items(): PROPFIND Depth 1 of a collection; each item (not
 *	the collection itself, not a sub-collection) with its ETag and
 *	content type. Hrefs are resolved to absolute URLs.
 */
#ifndef MM_DAV_COLLECTION_H
#define MM_DAV_COLLECTION_H

#include "dav_discover.h"

struct dav_collection {
	const char *url;		/* absolute */
	unsigned kind;			/* enum dav_kind */
	const char *displayname, *color, *description, *ctag, *sync_token;
};

struct dav_item {
	const char *url;		/* absolute */
	const char *etag;
	const char *content_type;
};

/* fn for each collection of svc's kind under home; fn's non-zero stops
 * and is returned. -1 with the class and error(3h) text. */
int dav_list_collections(struct dav_http *h, const char *home, enum dav_service svc,
			 int (*fn)(const struct dav_collection *c, void *ctx), void *ctx,
			 enum stream_fail *fail_r, const char **error_r);
int dav_list_items(struct dav_http *h, const char *collection,
		   int (*fn)(const struct dav_item *it, void *ctx), void *ctx,
		   enum stream_fail *fail_r, const char **error_r);

#endif
