/*
 * NAME
 *	dav_discover 3h
 * SUMMARY
 *	a user's calendar or address book home, from a bare server URL
 * DESCRIPTION
 *	RFC 6764 6: PROPFIND of current-user-principal on
 *	/.well-known/caldav (carddav), following at most DAV_MAX_REDIRECTS
 *	redirects (more: a loop, given up); a server without the
 *	well-known URI (404, 405, 501) is asked at the URL given. Then
 *	the principal's calendar-home-set (RFC 4791 6.2.1) or
 *	addressbook-home-set (RFC 6352 7.1.1). Hrefs are resolved
 *	against the URL that gave them.
 */
#ifndef MM_DAV_DISCOVER_H
#define MM_DAV_DISCOVER_H

#include "dav_http.h"

#define DAV_MAX_REDIRECTS 5

enum dav_service {
	DAV_CALDAV,
	DAV_CARDDAV,
};

/* *home_r (mm_free it): the absolute URL of the home. -1 with the
 * class and error(3h) text. */
int dav_discover(struct dav_http *h, const char *base, enum dav_service svc,
		 char **home_r, enum stream_fail *fail_r, const char **error_r);


#endif
