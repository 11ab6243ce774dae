/*
 * NAME
 *	test_maildate 1
 * SUMMARY
 *	unit tests for maildate(3)
 * DESCRIPTION
 *	Table-driven: IMAP date-times (what the puller compares) with the
 *	time they stand for, RFC 5322 dates (what the POP3 driver reads
 *	from Date: and Received:) with the IMAP date-time they become,
 *	and garbage in both, which must be refused. The epoch is checked
 *	against values computed independently (Python's calendar.timegm).
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "maildate.h"

/* IMAP date-times; valid 0: refused. */
static const struct {
	const char *in;
	int valid;
	int64_t time;
} imap_dates[] = {
	{ "15-Nov-1994 08:12:31 +0100", 1, 784883551 },
	{ "17-Jul-1996 02:44:25 -0700", 1, 837596665 },
	{ " 1-Jan-1970 00:00:00 +0000", 1, 0 },
	{ "01-jan-1970 00:00:00 +0000", 1, 0 },
	{ "29-Feb-2000 23:59:60 +0000", 1, 951868800 },	/* leap second */
	{ "01-Jan-2099 10:00:00 +0000", 1, 4070944800 },
	{ "01-Mar-1965 00:00:00 +0000", 1, -152668800 },
	{ "15-Nov-1994 08:12:31 +0100 ", 1, 784883551 },
	{ "", 0, 0 },
	{ "garbage", 0, 0 },
	{ "15-Nov-1994", 0, 0 },
	{ "15-Nov-1994 08:12:31", 0, 0 },
	{ "15-Nov-1994 08:12:31 0100", 0, 0 },
	{ "15-Nov-1994 08:12:31 +01", 0, 0 },
	{ "15-Nov-1994 08:12:31 +01000", 0, 0 },
	{ "15-Nov-1994 08:12:31 +2400", 0, 0 },
	{ "15-Nov-1994 08:12:31 GMT", 0, 0 },
	{ "15-Nov-1994 08:12:31 +0100 x", 0, 0 },
	{ "15-Nov-94 08:12:31 +0100", 0, 0 },
	{ "15-November-1994 08:12:31 +0100", 0, 0 },
	{ "15-Foo-1994 08:12:31 +0100", 0, 0 },
	{ "00-Nov-1994 08:12:31 +0100", 0, 0 },
	{ "32-Nov-1994 08:12:31 +0100", 0, 0 },
	{ "15-Nov-1994 24:00:00 +0100", 0, 0 },
	{ "15-Nov-1994 08:60:00 +0100", 0, 0 },
	{ "15-Nov-1994 08:12:61 +0100", 0, 0 },
	{ "15-Nov-1994 -8:12:31 +0100", 0, 0 },
	{ "15-Nov-1994 08:12:31 +-100", 0, 0 },
	{ "99999999999-Nov-1994 08:12:31 +0100", 0, 0 },
	{ "15-Nov-19940 08:12:31 +0100", 0, 0 },
	{ "Tue, 15 Nov 1994 08:12:31 +0100", 0, 0 },
};

START_TEST(test_imap)
{
	struct maildate d;
	int ret = maildate_parse_imap(imap_dates[_i].in, &d);

	if (!imap_dates[_i].valid) {
		ck_assert_msg(ret == -1, "'%s' taken", imap_dates[_i].in);
		ck_assert_msg(maildate_imap_time(imap_dates[_i].in) == -1, "'%s' has a "
			      "time", imap_dates[_i].in);
		return;
	}
	ck_assert_msg(ret == 0, "'%s' refused", imap_dates[_i].in);
	ck_assert_msg(maildate_time(&d) == imap_dates[_i].time, "'%s': %lld",
		      imap_dates[_i].in, (long long)maildate_time(&d));
	ck_assert_msg(maildate_imap_time(imap_dates[_i].in) == imap_dates[_i].time,
		      "'%s'", imap_dates[_i].in);
}
END_TEST

/* RFC 5322 dates as IMAP date-times; NULL: refused. */
static const struct {
	const char *in, *out;
} rfc_dates[] = {
	{ "Tue, 15 Nov 1994 08:12:31 +0100 (CET)", "15-Nov-1994 08:12:31 +0100" },
	{ "15 Nov 1994 08:12 -0500", "15-Nov-1994 08:12:00 -0500" },
	{ "15 Nov 1994 08:12:31 +0100", "15-Nov-1994 08:12:31 +0100" },
	{ "Tuesday, 15 Nov 1994 08:12:31 +0100", "15-Nov-1994 08:12:31 +0100" },
	{ "Tue,15 Nov 1994 08:12:31 +0100", "15-Nov-1994 08:12:31 +0100" },
	{ "  Wed,  2 Feb 2005 10:00:00 +0530", "02-Feb-2005 10:00:00 +0530" },
	{ "\r\n\tWed, 2 Feb 2005 10:00:00 +0530", "02-Feb-2005 10:00:00 +0530" },
	/* Two- and three-digit years (RFC 5322 4.3). */
	{ "Mon, 1 Jan 01 00:00:00 GMT", "01-Jan-2001 00:00:00 +0000" },
	{ "Mon, 1 Jan 49 00:00:00 GMT", "01-Jan-2049 00:00:00 +0000" },
	{ "Fri, 31 Dec 99 23:59:60 EST", "31-Dec-1999 23:59:59 -0500" },
	{ "Fri, 31 Dec 50 23:59:59 UT", "31-Dec-1950 23:59:59 +0000" },
	{ "Sat, 1 Jan 105 00:00:00 +0000", "01-Jan-2005 00:00:00 +0000" },
	/* Obsolete and unknown zones. */
	{ "Sun, 4 Apr 2010 07:08:09 pdt", "04-Apr-2010 07:08:09 -0700" },
	{ "Sun, 4 Apr 2010 07:08:09 CDT", "04-Apr-2010 07:08:09 -0500" },
	{ "Sun, 4 Apr 2010 07:08:09 MST", "04-Apr-2010 07:08:09 -0700" },
	{ "Sun, 4 Apr 2010 07:08:09 EDT", "04-Apr-2010 07:08:09 -0400" },
	{ "Sun, 4 Apr 2010 07:08:09 Z", "04-Apr-2010 07:08:09 +0000" },
	{ "Sun, 4 Apr 2010 07:08:09 A", "04-Apr-2010 07:08:09 +0000" },
	{ "Sat, 3 Mar 2012 04:05:06 XYZ", "03-Mar-2012 04:05:06 +0000" },
	{ "Sat, 3 Mar 2012 04:05:06", "03-Mar-2012 04:05:06 +0000" },
	{ "Sat, 3 Mar 2012 04:05:06 -0000", "03-Mar-2012 04:05:06 +0000" },
	/* Refused. */
	{ "garbage", NULL },
	{ "", NULL },
	{ "Tue,", NULL },
	{ "32 Jan 2000 00:00:00 +0000", NULL },
	{ "0 Jan 2000 00:00:00 +0000", NULL },
	{ "1 Foo 2000 00:00:00 +0000", NULL },
	{ "1 January 2000 00:00:00 +0000", NULL },
	{ "1 Jan 2000 24:00:00 +0000", NULL },
	{ "1 Jan 2000 -1:00:00 +0000", NULL },
	{ "1 Jan 2000 10:-5:00 +0000", NULL },
	{ "1 Jan 2000 10:05:-1 +0000", NULL },
	{ "1 Jan 2000 10:05:01 +9999", NULL },
	{ "1 Jan 2000 10:05:01 -2400", NULL },
	{ "1 Jan 2000 10:05:01 +01", NULL },
	{ "1 Jan 20000 10:05:01 +0000", NULL },
	{ "1 Jan 2 10:05:01 +0000", NULL },
	{ "1 Jan 2000", NULL },
	{ "1 Jan 2000 10", NULL },
	{ "Averyveryverylongdayname, 1 Jan 2000 10:05:01 +0000", NULL },
	{ "99999999999999999999 Jan 2000 10:05:01 +0000", NULL },
	{ "15-Nov-1994 08:12:31 +0100", NULL },
	/* Before 1970: parsed; the POP3 driver refuses it itself. */
	{ "1 Jan 1965 00:00:00 +0000", "01-Jan-1965 00:00:00 +0000" },
};

START_TEST(test_rfc5322)
{
	struct maildate d;
	char out[MAILDATE_IMAP_SIZE + 10];
	int ret = maildate_parse_rfc5322(rfc_dates[_i].in, &d);

	if (rfc_dates[_i].out == NULL) {
		ck_assert_msg(ret == -1, "'%s' taken", rfc_dates[_i].in);
		return;
	}
	ck_assert_msg(ret == 0, "'%s' refused", rfc_dates[_i].in);
	maildate_format_imap(&d, out, sizeof(out));
	ck_assert_str_eq(out, rfc_dates[_i].out);
	ck_assert_uint_eq(strlen(out), MAILDATE_IMAP_SIZE - 1);
	/* What it is written as reads back as the same time (but for a
	 * leap second, written :59). */
	if (d.sec < 60)
		ck_assert_msg(maildate_imap_time(out) == maildate_time(&d), "'%s'", out);
}
END_TEST

/* A bounded output: never past size, always terminated. */
START_TEST(test_format_bounded)
{
	struct maildate d;
	char out[12];

	ck_assert_int_eq(maildate_parse_imap("15-Nov-1994 08:12:31 +0100", &d), 0);
	memset(out, 'x', sizeof(out));
	maildate_format_imap(&d, out, 10);
	ck_assert_str_eq(out, "15-Nov-19");
	ck_assert_int_eq(out[10], 'x');
}
END_TEST

static Suite *maildate_suite(void)
{
	Suite *s = suite_create("maildate");
	TCase *tc = tcase_create("maildate");

	tcase_add_loop_test(tc, test_imap, 0, sizeof(imap_dates) / sizeof(imap_dates[0]));
	tcase_add_loop_test(tc, test_rfc5322, 0, sizeof(rfc_dates) / sizeof(rfc_dates[0]));
	tcase_add_test(tc, test_format_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(maildate_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
