/*
 * NAME
 *	dav_xml 3h
 * SUMMARY
 *	a WebDAV multistatus (RFC 4918 13) read with libxml2, bounded
 * DESCRIPTION
 *	The answer to PROPFIND and REPORT, one struct dav_response per
 *	<response>, handed to a callback in document order: its href,
 *	the HTTP status of a response without properties, and the
 *	properties the copy of calendars and address books needs (RFC
 *	4791, 6352, 6578, 5397, the Apple calendar colour, the calendar's
 *	component set), each taken
 *	only from a propstat whose status is 200.
 *
 *	A document with a DTD is refused (no entity is ever expanded),
 *	the network is never used, names are matched by namespace URI,
 *	and every text kept has a bound: a longer one fails the document
 *	(DAV_XML_TEXT_MAX) rather than being cut, since a cut href or
 *	ETag would name another item.
 */
#ifndef MM_DAV_XML_H
#define MM_DAV_XML_H

#include <stddef.h>

/* The largest href, ETag, name or token kept. */
#define DAV_XML_TEXT_MAX 2048
/* calendar-data / address-data (a multiget's items) are limited by the
 * caller's bound on the whole answer. */

enum dav_kind {
	DAV_KIND_COLLECTION = 0x01,
	DAV_KIND_CALENDAR = 0x02,	/* C:calendar */
	DAV_KIND_ADDRESSBOOK = 0x04,	/* CR:addressbook */
	DAV_KIND_PRINCIPAL = 0x08,
};

struct dav_response {
	const char *href;		/* as sent (percent-encoded) */
	int status;			/* <response><status>; 0: none */
	unsigned kind;			/* enum dav_kind bits */
	const char *displayname;
	const char *color;		/* Apple calendar-color */
	const char *description;	/* calendar- or addressbook-description */
	const char *getetag;
	const char *getctag;		/* CalendarServer getctag */
	const char *sync_token;
	const char *getcontenttype;
	const char *current_user_principal;	/* its href */
	const char *calendar_home;	/* calendar-home-set's href */
	const char *addressbook_home;	/* addressbook-home-set's href */
	const char *components;		/* supported-calendar-component-set:
					 * "VEVENT,VTODO" ("" for an empty
					 * set), NULL when not given */
	const char *data;		/* calendar-data or address-data */
	size_t data_len;
};

/* Parse xml (len bytes) and call fn for each response; fn's non-zero
 * stops the walk and is returned. -1 with *error_r (error(3h)) when the
 * document is not a bounded, DTD-free multistatus. Every pointer in a
 * response is valid during the call only. */
int dav_multistatus_parse(const char *xml, size_t len,
			  int (*fn)(const struct dav_response *r, void *ctx),
			  void *ctx, const char **error_r);

#endif
