/*
 * NAME
 *	test_mail_header 1
 * SUMMARY
 *	unit tests: header fields, Message-IDs and recipient addresses
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "mail_header.h"

START_TEST(test_next_unfolds)
{
	const char *h = "Subject: a\r\n b\r\n\tc\r\nTo: x@y\nX: 1\r\n\r\nBody: no\r\n";
	char f[64];
	size_t pos = 0;

	ck_assert_uint_eq(mail_header_next(h, strlen(h), &pos, f, sizeof(f)), 14);
	ck_assert_str_eq(f, "Subject: a b c");
	ck_assert_uint_gt(mail_header_next(h, strlen(h), &pos, f, sizeof(f)), 0);
	ck_assert_str_eq(f, "To: x@y");
	ck_assert_uint_gt(mail_header_next(h, strlen(h), &pos, f, sizeof(f)), 0);
	ck_assert_str_eq(f, "X: 1");
	ck_assert_uint_eq(mail_header_next(h, strlen(h), &pos, f, sizeof(f)), 0);
	ck_assert_uint_eq(pos, strlen(h));
	/* The end stays the end. */
	ck_assert_uint_eq(mail_header_next(h, strlen(h), &pos, f, sizeof(f)), 0);
}
END_TEST

START_TEST(test_next_bounded)
{
	char h[5000], f[16];
	size_t pos = 0;

	memset(h, 'a', sizeof(h));
	memcpy(h, "X: ", 3);
	/* No line end at all, and a field longer than the buffer. */
	ck_assert_uint_eq(mail_header_next(h, sizeof(h), &pos, f, sizeof(f)), 15);
	ck_assert_uint_eq(strlen(f), 15);
	ck_assert_uint_eq(pos, sizeof(h));
	ck_assert_uint_eq(mail_header_next(h, sizeof(h), &pos, f, sizeof(f)), 0);
	/* Empty input. */
	pos = 0;
	ck_assert_uint_eq(mail_header_next("", 0, &pos, f, sizeof(f)), 0);
}
END_TEST

static const struct {
	const char *hdr;
	const char *id;		/* NULL: none found */
} ids[] = {
	{ "Message-ID: <a@b>\r\n\r\n", "<a@b>" },
	{ "message-id:<A.B@C>\r\n", "<A.B@C>" },
	{ "Subject: x\r\nMessage-Id:\r\n  <folded@x> (comment)\r\n", "<folded@x>" },
	{ "Message-ID: bare-id@host  \r\n", "bare-id@host" },
	{ "Subject: x\r\n\r\nMessage-ID: <in@body>\r\n", NULL },
	{ "Message-IDx: <no@no>\r\n", NULL },
	{ "Message-ID: \r\n", NULL },
};

START_TEST(test_message_id)
{
	char out[64];
	int found = mail_header_message_id(ids[_i].hdr, strlen(ids[_i].hdr), out,
					   sizeof(out));

	if (ids[_i].id == NULL) {
		ck_assert_int_eq(found, 0);
	} else {
		ck_assert_int_eq(found, 1);
		ck_assert_str_eq(out, ids[_i].id);
	}
}
END_TEST

/* The X-UIDL: of a POP3 copy: one token, the first such field, bounded. */
START_TEST(test_token)
{
	static const char hdr[] = "Subject: x\r\nX-UIDL:  00000001 \r\n"
		"X-UIDL: second\r\n\r\nX-UIDL: body\r\n";
	char out[16];

	ck_assert_int_eq(mail_header_token(hdr, sizeof(hdr) - 1, "X-UIDL", out,
					   sizeof(out)), 1);
	ck_assert_str_eq(out, "00000001");
	ck_assert_int_eq(mail_header_token(hdr, sizeof(hdr) - 1, "x-uidl", out,
					   sizeof(out)), 1);
	/* Not one token, too long, absent (the body does not count). */
	ck_assert_int_eq(mail_header_token("X-UIDL: a b\r\n", 13, "X-UIDL", out,
					   sizeof(out)), 0);
	ck_assert_int_eq(mail_header_token("X-UIDL: 0123456789abcdef\r\n", 26,
					   "X-UIDL", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(mail_header_token("Subject: y\r\n\r\nX-UIDL: z\r\n", 25,
					   "X-UIDL", out, sizeof(out)), 0);
	ck_assert_int_eq(mail_header_token("X-UIDLS: z\r\n", 12, "X-UIDL", out,
					   sizeof(out)), 0);
}
END_TEST

START_TEST(test_message_id_too_long)
{
	char out[8];

	ck_assert_int_eq(mail_header_message_id("Message-ID: <longer@x>\r\n", 24, out,
						sizeof(out)), 0);
}
END_TEST

struct got {
	char text[1024];
};

static void collect(enum mail_header_source src, const char *addr, void *ctx)
{
	struct got *g = ctx;
	static const char *const names[] = { "to", "cc", "env", "rcvd" };
	size_t n = strlen(g->text);

	snprintf(g->text + n, sizeof(g->text) - n, "%s%s=%s", n > 0 ? " " : "",
		 names[src], addr);
}

static const struct {
	const char *hdr;
	const char *want;
} addrs[] = {
	{ "To: a@b.test\r\n", "to=a@b.test" },
	{ "To: \"Doe, John\" <John.Doe@Example.TEST>, other@x.test\r\n",
	  "to=john.doe@example.test to=other@x.test" },
	{ "To: John Doe <j@x.test> (work), (c) k@x.test\r\n",
	  "to=j@x.test to=k@x.test" },
	{ "Cc: list: a@x.test, B@x.test;, c@x.test\r\n",
	  "cc=a@x.test cc=b@x.test cc=c@x.test" },
	{ "To: undisclosed-recipients:;\r\n", "" },
	{ "To: John Doe j@x.test\r\n", "" },
	{ "To: <@route.test:r@x.test>\r\n", "" },
	{ "To: a@@b, @b, a@, <>\r\n", "" },
	{ "X-Envelope-To: <e@x.test>\r\n", "env=e@x.test" },
	{ "Received: from a by b with ESMTP id 1\r\n\tfor <R@X.test>; Mon, 1 Jan 2024\r\n",
	  "rcvd=r@x.test" },
	{ "Received: from a by b for r2@x.test; Mon, 1 Jan 2024\r\n", "rcvd=r2@x.test" },
	{ "Received: from a (for <no@x>) by b; Mon\r\n", "" },
	/* A comment is the peer's text (a HELO name): no "for" in it. */
	{ "Received: from a (HELO x for <ceo@x.test>) by b; Mon\r\n", "" },
	{ "Received: from a (x) by b (y; z) for <r3@x.test>; Mon\r\n", "rcvd=r3@x.test" },
	{ "Received: from a by b; Mon, 1 Jan for <late@x.test>\r\n", "" },
	{ "From: f@x.test\r\nTo: t@x.test\r\n\r\nTo: body@x.test\r\n", "to=t@x.test" },
	{ "To: \"unterminated <q@x.test>\r\n", "" },
	{ "To: (unterminated <q@x.test>\r\n", "" },
	{ "To: <unterminated@x.test\r\n", "" },
};

START_TEST(test_addresses)
{
	struct got g = { "" };

	mail_header_addresses(addrs[_i].hdr, strlen(addrs[_i].hdr), collect, &g);
	ck_assert_str_eq(g.text, addrs[_i].want);
}
END_TEST

START_TEST(test_address_too_long)
{
	char hdr[1000];
	struct got g = { "" };

	snprintf(hdr, sizeof(hdr), "To: <%0400d@x.test>, ok@x.test\r\n", 1);
	mail_header_addresses(hdr, strlen(hdr), collect, &g);
	ck_assert_str_eq(g.text, "to=ok@x.test");
}
END_TEST

/* Each Received: "for" with its hop number and "by" host. */
static void collect_at(const struct mail_header_addr *a, void *ctx)
{
	struct got *g = ctx;
	size_t n = strlen(g->text);

	snprintf(g->text + n, sizeof(g->text) - n, "%s%u:%s:%s", n > 0 ? " " : "",
		 a->received, a->by, a->addr);
}

static const struct {
	const char *hdr;
	const char *want;
} hops[] = {
	{ "Received: from a by MX.Old.test (Postfix) with ESMTP id 1 for <u@x.test>; Mon\r\n",
	  "1:mx.old.test:u@x.test" },
	{ "Return-Path: <s@y>\r\nX-Envelope-To: e@x.test\r\n"
	  "Received: from in by store.old.test for <u@x.test>; Mon\r\n"
	  "Received: from a by b; Sun\r\n"
	  "Received: from s by mx.old.test for <ceo@x.test>; Sat\r\n",
	  "0::e@x.test 1:store.old.test:u@x.test 3:mx.old.test:ceo@x.test" },
	/* Comments are peer text: no "by" or "for" taken from them. */
	{ "Received: from a (HELO x by mx.old.test for <ceo@x.test>) by real.test; Mon\r\n", "" },
	{ "Received: from a (c) by real.test (x for <c@x.test>) for <u@x.test>; Mon\r\n",
	  "1:real.test:u@x.test" },
	{ "Received: by local.test for <u@x.test>; Mon\r\n", "1:local.test:u@x.test" },
	{ "Received: from a for <u@x.test>; Mon\r\n", "1::u@x.test" },
};

START_TEST(test_addresses_at)
{
	struct got g = { "" };

	mail_header_addresses_at(hops[_i].hdr, strlen(hops[_i].hdr), collect_at, &g);
	ck_assert_str_eq(g.text, hops[_i].want);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mail_header");
	TCase *tc = tcase_create("all");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_next_unfolds);
	tcase_add_test(tc, test_next_bounded);
	tcase_add_loop_test(tc, test_addresses_at, 0, sizeof(hops) / sizeof(hops[0]));
	tcase_add_loop_test(tc, test_message_id, 0, sizeof(ids) / sizeof(ids[0]));
	tcase_add_test(tc, test_token);
	tcase_add_test(tc, test_message_id_too_long);
	tcase_add_loop_test(tc, test_addresses, 0, sizeof(addrs) / sizeof(addrs[0]));
	tcase_add_test(tc, test_address_too_long);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
