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
 *	dav_make_collection(): a calendar (MKCALENDAR, RFC 4791 5.3.1) or
 *	an address book (extended MKCOL, RFC 5689) at url, with the display
 *	name, colour, description and a calendar's component set ("VTODO":
 *	a task list) given (each NULL: not set); the
 *	request body is built with libxml2, so any text is escaped.
 */
#ifndef MM_DAV_COLLECTION_H
#define MM_DAV_COLLECTION_H

#include "dav_discover.h"

struct dav_collection {
	const char *url;		/* absolute */
	unsigned kind;			/* enum dav_kind */
	const char *displayname, *color, *description, *ctag, *sync_token;
	const char *components;		/* "VEVENT,VTODO", or NULL */
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

/* 0: made (201); DAV_COLLECTION_EXISTS: something is at url already
 * (405, RFC 4918 9.3.1); -1 with the class and error(3h) text (a
 * refusal, 403 or 409 say, is STREAM_FAIL_MESSAGE). */
#define DAV_COLLECTION_EXISTS 1
/* A user's home at url, for an administrator's login that discovers
 * none: 0 when it is there or was made (plain MKCOL), else -1. */
int dav_make_home(struct dav_http *h, const char *url, enum stream_fail *fail_r,
		  const char **error_r);
int dav_make_collection(struct dav_http *h, const char *url, enum dav_service svc,
			const char *displayname, const char *color,
			const char *description, const char *components,
			enum stream_fail *fail_r, const char **error_r);

#endif
