/*
 * NAME
 *	maildate 3
 * SUMMARY
 *	the dates of mail: IMAP INTERNALDATE and RFC 5322 Date
 * DESCRIPTION
 *	A small hand-written reader, one cursor over the text: a number
 *	takes 1 to N digits and nothing else, a month is three letters
 *	from the table, a zone is a sign and four digits or a name. The
 *	time is computed from the civil date without the C library's
 *	time zone (days from 1970-01-01 by the proleptic Gregorian
 *	calendar), so it does not depend on TZ.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "maildate.h"

static const char *const maildate_months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static int maildate_isdigit(char c)
{
	return c >= '0' && c <= '9';
}

static int maildate_isalpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void maildate_spaces(const char **p)
{
	while (**p == ' ' || **p == '\t' || **p == '\r' || **p == '\n')
		(*p)++;
}

/* min to max digits at *p as a number; -1 if fewer, or more follow. */
static int maildate_number(const char **p, int min, int max)
{
	int v = 0, n = 0;

	while (n < max && maildate_isdigit((*p)[n])) {
		v = v * 10 + ((*p)[n] - '0');
		n++;
	}
	if (n < min || maildate_isdigit((*p)[n]))
		return -1;
	*p += n;
	return v;
}

/* Three letters naming a month, not followed by a letter. */
static int maildate_month(const char **p)
{
	for (int i = 0; i < 12; i++)
		if (strncasecmp(*p, maildate_months[i], 3) == 0 &&
		    !maildate_isalpha((*p)[3])) {
			*p += 3;
			return i;
		}
	return -1;
}

/* "+hhmm" or "-hhmm", less than a day: its minutes east of UTC in
 * *minutes_r; -1 if there is none. */
static int maildate_numeric_zone(const char **p, int *minutes_r)
{
	const char *q = *p + 1;
	int hhmm, minutes;

	if (**p != '+' && **p != '-')
		return -1;
	if ((hhmm = maildate_number(&q, 4, 4)) < 0)
		return -1;
	minutes = (hhmm / 100) * 60 + hhmm % 100;
	if (minutes >= 24 * 60)
		return -1;
	*minutes_r = **p == '-' ? -minutes : minutes;
	*p = q;
	return 0;
}

/* hh:mm, then :ss when seconds_optional is 0 or a ':' follows. */
static int maildate_time_of_day(const char **p, struct maildate *d,
				int seconds_optional)
{
	d->sec = 0;
	if ((d->hour = maildate_number(p, 1, 2)) < 0 || **p != ':')
		return -1;
	(*p)++;
	if ((d->min = maildate_number(p, 1, 2)) < 0)
		return -1;
	if (**p == ':' || !seconds_optional) {
		if (**p != ':')
			return -1;
		(*p)++;
		if ((d->sec = maildate_number(p, 1, 2)) < 0)
			return -1;
	}
	return d->hour <= 23 && d->min <= 59 && d->sec <= 60 ? 0 : -1;
}

int maildate_parse_imap(const char *s, struct maildate *d_r)
{
	const char *p = s;
	struct maildate d;

	maildate_spaces(&p);
	if ((d.day = maildate_number(&p, 1, 2)) < 0 || *p++ != '-' ||
	    (d.month = maildate_month(&p)) < 0 || *p++ != '-' ||
	    (d.year = maildate_number(&p, 4, 4)) < 0 || *p++ != ' ' ||
	    maildate_time_of_day(&p, &d, 0) < 0 || *p++ != ' ' ||
	    maildate_numeric_zone(&p, &d.zone_minutes) < 0)
		return -1;
	maildate_spaces(&p);
	if (*p != '\0' || d.day < 1 || d.day > 31)
		return -1;
	*d_r = d;
	return 0;
}

/* A zone's name (RFC 5322 4.3): minutes east of UTC; an unknown one,
 * the military letters included, is +0000. 0, or -1 without one. */
static int maildate_named_zone(const char **p, int *minutes_r)
{
	static const struct {
		const char *name;
		int minutes;
	} zones[] = {
		{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 },
		{ "EST", -300 }, { "EDT", -240 }, { "CST", -360 }, { "CDT", -300 },
		{ "MST", -420 }, { "MDT", -360 }, { "PST", -480 }, { "PDT", -420 },
	};
	size_t n = 0;

	while (maildate_isalpha((*p)[n]) && n < 8)
		n++;
	*minutes_r = 0;
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		if (strlen(zones[i].name) == n && strncasecmp(*p, zones[i].name, n) == 0)
			*minutes_r = zones[i].minutes;
	*p += n;
	return 0;
}

int maildate_parse_rfc5322(const char *s, struct maildate *d_r)
{
	const char *p = s;
	struct maildate d;
	size_t yearlen;

	maildate_spaces(&p);
	/* An optional day name, and its comma. */
	if (maildate_isalpha(*p)) {
		for (int n = 0; maildate_isalpha(*p); n++, p++)
			if (n == 9)	/* "Wednesday" is the longest */
				return -1;
		maildate_spaces(&p);
		if (*p == ',')
			p++;
		maildate_spaces(&p);
	}
	if ((d.day = maildate_number(&p, 1, 2)) < 0)
		return -1;
	maildate_spaces(&p);
	if ((d.month = maildate_month(&p)) < 0)
		return -1;
	maildate_spaces(&p);
	yearlen = strspn(p, "0123456789");
	if ((d.year = maildate_number(&p, 2, 4)) < 0)
		return -1;
	/* RFC 5322 4.3: two digits are 1950-2049, three are from 1900. */
	if (yearlen == 2)
		d.year += d.year < 50 ? 2000 : 1900;
	else if (yearlen == 3)
		d.year += 1900;
	maildate_spaces(&p);
	if (maildate_time_of_day(&p, &d, 1) < 0)
		return -1;
	maildate_spaces(&p);
	/* A zone; none, or a name, is what section 4.3 allows. */
	if (*p == '+' || *p == '-') {
		if (maildate_numeric_zone(&p, &d.zone_minutes) < 0)
			return -1;
	} else {
		(void)maildate_named_zone(&p, &d.zone_minutes);
	}
	if (d.day < 1 || d.day > 31)
		return -1;
	*d_r = d;
	return 0;
}

int64_t maildate_time(const struct maildate *d)
{
	/* Days from 1970-01-01 of the civil date (Howard Hinnant's
	 * days_from_civil), March-based years. */
	int64_t y = d->year - (d->month < 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = (d->month + 10) % 12;	/* March is 0 */
	int64_t doy = (153 * mp + 2) / 5 + d->day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = era * 146097 + doe - 719468;

	return days * 86400 + d->hour * 3600 + d->min * 60 + d->sec -
	       (int64_t)d->zone_minutes * 60;
}

int64_t maildate_imap_time(const char *s)
{
	struct maildate d;

	return maildate_parse_imap(s, &d) < 0 ? -1 : maildate_time(&d);
}

void maildate_format_imap(const struct maildate *d, char *out, size_t size)
{
	int z = abs(d->zone_minutes);

	snprintf(out, size, "%02d-%s-%04d %02d:%02d:%02d %c%02d%02d", d->day,
		 maildate_months[d->month], d->year, d->hour, d->min,
		 d->sec > 59 ? 59 : d->sec, d->zone_minutes < 0 ? '-' : '+',
		 z / 60, z % 60);
}
