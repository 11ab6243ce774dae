/*
 * NAME
 *	maildate 3h
 * SUMMARY
 *	the dates of mail: IMAP INTERNALDATE and RFC 5322 Date
 * DESCRIPTION
 *	One parser for the two forms a message's date comes in: the IMAP
 *	date-time of RFC 3501 ("15-Nov-1994 08:12:31 +0100", what OLD and
 *	NEW say in INTERNALDATE and APPEND takes) and the RFC 5322
 *	date-time of a Date: or Received: header ("Tue, 15 Nov 1994
 *	08:12:31 +0100"), with what section 4.3 says a reader must take:
 *	no day name, no seconds, two- and three-digit years, the named
 *	zones (UT, GMT, EST...; unknown ones, military letters included,
 *	are +0000), and a trailing comment. Anything else is refused, never
 *	guessed at.
 * GUARANTEES
 *	The text is read once, left to right, each number with a fixed
 *	maximum of digits (no overflow, no sign), and nothing is
 *	allocated. A parsed date is in range: day 1-31, hour 0-23,
 *	minute 0-59, second 0-60, year 0-9999, zone within a day.
 */
#ifndef MM_MAILDATE_H
#define MM_MAILDATE_H

#include <stddef.h>
#include <stdint.h>

/* "dd-Mon-yyyy hh:mm:ss +zzzz" and its NUL. */
#define MAILDATE_IMAP_SIZE 27

/* A date as written, and its zone. */
struct maildate {
	int year, month, day;	/* month 0-11 */
	int hour, min, sec;
	int zone_minutes;	/* east of UTC, -1439..1439 */
};

/* Parse an IMAP date-time (leading spaces and a space-padded day taken).
 * @return 0, or -1 if s is none */
int maildate_parse_imap(const char *s, struct maildate *d_r);

/* Parse an RFC 5322 date-time, obsolete forms taken (see above).
 * @return 0, or -1 if s is none */
int maildate_parse_rfc5322(const char *s, struct maildate *d_r);

/* Seconds since the epoch (UTC) of d; a leap second counts as the next. */
int64_t maildate_time(const struct maildate *d);

/* The time of an IMAP date-time, or -1 if s is none (the puller's
 * comparisons: a date against another, or against the clock). */
int64_t maildate_imap_time(const char *s);

/* d as an IMAP date-time ("05-Jan-2001 00:00:00 +0000"; a leap second
 * written as :59, which every server's APPEND takes) into out. */
void maildate_format_imap(const struct maildate *d, char *out, size_t size);

#endif
