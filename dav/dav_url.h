/*
 * NAME
 *	dav_url 3h
 * SUMMARY
 *	the names in a DAV URL's path, bounded
 * DESCRIPTION
 *	dav_last_seg(): the last segment of a URL's path (a trailing '/'
 *	not counted), percent-decoded: the name a collection or an item
 *	has, compared between OLD and NEW (servers encode differently).
 *	NULL when there is none, when it is over DAV_SEG_MAX bytes decoded,
 *	or when decoding gives a NUL or a '/' (it would name something
 *	else), or a bad escape.
 *	dav_raw_seg(): that segment as sent (a pointer into the URL, with
 *	its trailing '/' if any), to be put after NEW's collection URL.
 *	dav_name_is_path(): whether a display name is the collection's
 *	path (Radicale's answer for a collection without one).
 */
#ifndef MM_DAV_URL_H
#define MM_DAV_URL_H

#define DAV_SEG_MAX 512

/* mm_free it */
char *dav_last_seg(const char *url);
const char *dav_raw_seg(const char *url);
int dav_name_is_path(const char *name, const char *url);

#endif
