/*
 * NAME
 *	test_netstring 1
 * SUMMARY
 *	unit tests for netstring(3)
 * DESCRIPTION
 *	Table-driven: every input with its maximum and the status,
 *	payload, bytes used or error the parser must give. Then a stream
 *	fed one byte at a time, the socketmap limit (10,000 against
 *	10,001 bytes), length prefixes that overflow, and encode/parse
 *	round trips.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm_alloc.h"
#include "netstring.h"

#define NS_MAXQ NETSTRING_SOCKETMAP_MAX_QUERY

struct parse_case {
	const char *in;
	size_t len;		/* 0: strlen(in) */
	size_t max;
	enum netstring_status status;
	const char *payload;	/* OK: expected payload */
	size_t payload_len;
	size_t consumed;
	const char *error;	/* ERROR: expected text */
};

static const struct parse_case parse_cases[] = {
	/* valid */
	{ "5:hello,", 0, NS_MAXQ, NETSTRING_OK, "hello", 5, 8, NULL },
	{ "0:,", 0, NS_MAXQ, NETSTRING_OK, "", 0, 3, NULL },
	{ "5:hello,3:abc,", 0, NS_MAXQ, NETSTRING_OK, "hello", 5, 8, NULL },
	{ "3:a,b,", 0, NS_MAXQ, NETSTRING_OK, "a,b", 3, 6, NULL },
	{ "3:a\0b,", 6, NS_MAXQ, NETSTRING_OK, "a\0b", 3, 6, NULL },
	{ "2:12,", 0, 2, NETSTRING_OK, "12", 2, 5, NULL },
	{ "0:,", 0, 0, NETSTRING_OK, "", 0, 3, NULL },
	{ "10:0123456789,", 0, 10, NETSTRING_OK, "0123456789", 10, 14, NULL },
	/* valid beginnings */
	{ "", 0, NS_MAXQ, NETSTRING_NEED_MORE, NULL, 0, 0, NULL },
	{ "5", 0, NS_MAXQ, NETSTRING_NEED_MORE, NULL, 0, 0, NULL },
	{ "0", 0, NS_MAXQ, NETSTRING_NEED_MORE, NULL, 0, 0, NULL },
	{ "0:", 0, NS_MAXQ, NETSTRING_NEED_MORE, NULL, 0, 0, NULL },
	{ "5:", 0, NS_MAXQ, NETSTRING_NEED_MORE, NULL, 0, 0, NULL },
	{ "5:hel", 0, NS_MAXQ, NETSTRING_NEED_MORE, NULL, 0, 0, NULL },
	{ "5:hello", 0, NS_MAXQ, NETSTRING_NEED_MORE, NULL, 0, 0, NULL },
	{ "1000", 0, NS_MAXQ, NETSTRING_NEED_MORE, NULL, 0, 0, NULL },
	{ "10000", 0, NS_MAXQ, NETSTRING_NEED_MORE, NULL, 0, 0, NULL },
	{ "10000:", 0, NS_MAXQ, NETSTRING_NEED_MORE, NULL, 0, 0, NULL },
	/* bad lengths */
	{ ":", 0, NS_MAXQ, NETSTRING_ERROR, NULL, 0, 0, "empty length" },
	{ ":hello,", 0, NS_MAXQ, NETSTRING_ERROR, NULL, 0, 0, "empty length" },
	{ "00", 0, NS_MAXQ, NETSTRING_ERROR, NULL, 0, 0, "leading zero in length" },
	{ "00:,", 0, NS_MAXQ, NETSTRING_ERROR, NULL, 0, 0, "leading zero in length" },
	{ "05:hello,", 0, NS_MAXQ, NETSTRING_ERROR, NULL, 0, 0, "leading zero in length" },
	{ "x", 0, NS_MAXQ, NETSTRING_ERROR, NULL, 0, 0, "non-digit in length" },
	{ "-1:a,", 0, NS_MAXQ, NETSTRING_ERROR, NULL, 0, 0, "non-digit in length" },
	{ "+1:a,", 0, NS_MAXQ, NETSTRING_ERROR, NULL, 0, 0, "non-digit in length" },
	{ " 5:hello,", 0, NS_MAXQ, NETSTRING_ERROR, NULL, 0, 0, "non-digit in length" },
	{ "5 :hello,", 0, NS_MAXQ, NETSTRING_ERROR, NULL, 0, 0, "non-digit in length" },
	{ "5x", 0, NS_MAXQ, NETSTRING_ERROR, NULL, 0, 0, "non-digit in length" },
	{ "0x", 0, NS_MAXQ, NETSTRING_ERROR, NULL, 0, 0, "non-digit in length" },
	{ "\0", 1, NS_MAXQ, NETSTRING_ERROR, NULL, 0, 0, "non-digit in length" },
	/* too long, refused from the digits alone */
	{ "10001", 0, NS_MAXQ, NETSTRING_ERROR, NULL, 0, 0, "length over 10000 bytes" },
	{ "10001:", 0, NS_MAXQ, NETSTRING_ERROR, NULL, 0, 0, "length over 10000 bytes" },
	{ "20000", 0, NS_MAXQ, NETSTRING_ERROR, NULL, 0, 0, "length over 10000 bytes" },
	{ "100000", 0, NS_MAXQ, NETSTRING_ERROR, NULL, 0, 0, "length over 10000 bytes" },
	{ "99999999999999999999:", 0, NS_MAXQ, NETSTRING_ERROR, NULL, 0, 0,
	  "length over 10000 bytes" },
	{ "1", 0, 0, NETSTRING_ERROR, NULL, 0, 0, "length over 0 bytes" },
	{ "3:abc,", 0, 2, NETSTRING_ERROR, NULL, 0, 0, "length over 2 bytes" },
	/* overflow of size_t itself */
	{ "18446744073709551615", 0, SIZE_MAX, NETSTRING_NEED_MORE, NULL, 0, 0, NULL },
	{ "18446744073709551616", 0, SIZE_MAX, NETSTRING_ERROR, NULL, 0, 0,
	  "length over 18446744073709551615 bytes" },
	{ "99999999999999999999:", 0, SIZE_MAX, NETSTRING_ERROR, NULL, 0, 0,
	  "length over 18446744073709551615 bytes" },
	{ "184467440737095516150", 0, SIZE_MAX, NETSTRING_ERROR, NULL, 0, 0,
	  "length over 18446744073709551615 bytes" },
	/* bad terminator */
	{ "5:hello;", 0, NS_MAXQ, NETSTRING_ERROR, NULL, 0, 0, "missing ','" },
	{ "5:hellooo,", 0, NS_MAXQ, NETSTRING_ERROR, NULL, 0, 0, "missing ','" },
	{ "0:x", 0, NS_MAXQ, NETSTRING_ERROR, NULL, 0, 0, "missing ','" },
	{ "3:ab,", 0, NS_MAXQ, NETSTRING_NEED_MORE, NULL, 0, 0, NULL },
};

START_TEST(test_parse_table)
{
	const struct parse_case *c = &parse_cases[_i];
	size_t len = c->len != 0 ? c->len : strlen(c->in);
	const char *payload = NULL, *error = NULL;
	size_t payload_len = 12345, consumed = 12345;
	enum netstring_status st;

	st = netstring_parse(c->in, len, c->max, &payload, &payload_len,
			     &consumed, &error);
	ck_assert_msg(st == c->status, "case %d '%s': status %d, want %d",
		      _i, c->in, (int)st, (int)c->status);
	switch (c->status) {
	case NETSTRING_OK:
		ck_assert_ptr_nonnull(payload);
		ck_assert_uint_eq(payload_len, c->payload_len);
		ck_assert_mem_eq(payload, c->payload, c->payload_len);
		ck_assert_uint_eq(consumed, c->consumed);
		/* The payload points into the input, after the prefix. */
		ck_assert_ptr_eq(payload, c->in + (c->consumed - c->payload_len - 1));
		break;
	case NETSTRING_NEED_MORE:
		/* Outputs untouched: nothing was parsed. */
		ck_assert_ptr_null(payload);
		ck_assert_uint_eq(consumed, 12345);
		break;
	case NETSTRING_ERROR:
		ck_assert_ptr_nonnull(error);
		ck_assert_str_eq(error, c->error);
		break;
	}
}
END_TEST

/* Every proper prefix of a valid netstring must say NEED_MORE. */
START_TEST(test_prefixes_need_more)
{
	static const char *const valid[] = {
		"0:,", "5:hello,", "12:hello, world,", "10000:",
	};
	const char *in = valid[_i];
	size_t full = strlen(in);

	for (size_t len = 0; len < full; len++) {
		const char *payload, *error;
		size_t plen, consumed;

		ck_assert_msg(netstring_parse(in, len, NS_MAXQ, &payload, &plen,
					      &consumed, &error) ==
			      NETSTRING_NEED_MORE, "'%s' cut at %zu", in, len);
	}
}
END_TEST

/* A stream of netstrings arriving one byte per read. */
START_TEST(test_byte_by_byte)
{
	static const char stream[] = "3:abc,0:,5:he,lo,1:\0,11:hello world,";
	static const char *const want[] = { "abc", "", "he,lo", "\0", "hello world" };
	static const size_t want_len[] = { 3, 0, 5, 1, 11 };
	char buf[sizeof(stream)];
	size_t have = 0, got = 0, need_more = 0;

	for (size_t i = 0; i < sizeof(stream) - 1; i++) {
		const char *payload, *error;
		size_t plen, consumed;
		enum netstring_status st;

		buf[have++] = stream[i];
		st = netstring_parse(buf, have, NS_MAXQ, &payload, &plen,
				     &consumed, &error);
		ck_assert_msg(st != NETSTRING_ERROR, "error at byte %zu: %s", i,
			      error);
		if (st == NETSTRING_NEED_MORE) {
			need_more++;
			continue;
		}
		ck_assert_uint_lt(got, 5);
		ck_assert_uint_eq(plen, want_len[got]);
		ck_assert_mem_eq(payload, want[got], plen);
		ck_assert_uint_eq(consumed, have);
		memmove(buf, buf + consumed, have - consumed);
		have -= consumed;
		got++;
	}
	ck_assert_uint_eq(got, 5);
	ck_assert_uint_eq(have, 0);
	ck_assert_uint_eq(need_more, sizeof(stream) - 1 - 5);
}
END_TEST

/* Postfix socketmap: 10,000 bytes are a query, 10,001 are not. */
START_TEST(test_socketmap_limit)
{
	static const size_t sizes[] = { 10000, 10001 };
	size_t size = sizes[_i];
	char *payload = mm_malloc(size), *enc;
	const char *p, *error = NULL;
	size_t enc_len, plen, consumed;
	enum netstring_status st;

	memset(payload, 'q', size);
	enc = netstring_encode(payload, size, &enc_len);
	ck_assert_uint_eq(enc_len, size + 7);
	st = netstring_parse(enc, enc_len, NETSTRING_SOCKETMAP_MAX_QUERY, &p,
			     &plen, &consumed, &error);
	if (size <= NETSTRING_SOCKETMAP_MAX_QUERY) {
		ck_assert_int_eq(st, NETSTRING_OK);
		ck_assert_uint_eq(plen, size);
		ck_assert_uint_eq(consumed, enc_len);
		ck_assert_mem_eq(p, payload, size);
	} else {
		ck_assert_int_eq(st, NETSTRING_ERROR);
		ck_assert_str_eq(error, "length over 10000 bytes");
		/* Refused from the prefix alone, before any payload. */
		error = NULL;
		st = netstring_parse(enc, 6, NETSTRING_SOCKETMAP_MAX_QUERY, &p,
				     &plen, &consumed, &error);
		ck_assert_int_eq(st, NETSTRING_ERROR);
		ck_assert_str_eq(error, "length over 10000 bytes");
	}
	/* The reply limit is larger. */
	st = netstring_parse(enc, enc_len, NETSTRING_SOCKETMAP_MAX_REPLY, &p,
			     &plen, &consumed, &error);
	ck_assert_int_eq(st, NETSTRING_OK);
	mm_free(&enc);
	mm_free(&payload);
}
END_TEST

struct roundtrip_case {
	const char *payload;
	size_t len;
	const char *encoded;
	size_t encoded_len;
};

static const struct roundtrip_case roundtrip_cases[] = {
	{ "", 0, "0:,", 3 },
	{ "a", 1, "1:a,", 4 },
	{ "hello", 5, "5:hello,", 8 },
	{ "1:a,", 4, "4:1:a,,", 7 },
	{ "\0\r\n,:", 5, "5:\0\r\n,:,", 8 },
	{ "OK smtp:[192.0.2.1]:25", 22, "22:OK smtp:[192.0.2.1]:25,", 26 },
};

START_TEST(test_roundtrip)
{
	const struct roundtrip_case *c = &roundtrip_cases[_i];
	size_t enc_len, plen, consumed;
	const char *p, *error;
	char *enc;

	enc = netstring_encode(c->payload, c->len, &enc_len);
	ck_assert_uint_eq(enc_len, c->encoded_len);
	ck_assert_mem_eq(enc, c->encoded, enc_len);
	ck_assert_int_eq(enc[enc_len], '\0');
	ck_assert_int_eq(netstring_parse(enc, enc_len, NS_MAXQ, &p, &plen,
					 &consumed, &error), NETSTRING_OK);
	ck_assert_uint_eq(plen, c->len);
	ck_assert_mem_eq(p, c->payload, c->len);
	ck_assert_uint_eq(consumed, enc_len);
	mm_free(&enc);
}
END_TEST

static Suite *netstring_suite(void)
{
	Suite *s = suite_create("netstring");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_parse_table, 0,
			    sizeof(parse_cases) / sizeof(parse_cases[0]));
	tcase_add_loop_test(tc, test_prefixes_need_more, 0, 4);
	tcase_add_test(tc, test_byte_by_byte);
	tcase_add_loop_test(tc, test_socketmap_limit, 0, 2);
	tcase_add_loop_test(tc, test_roundtrip, 0,
			    sizeof(roundtrip_cases) / sizeof(roundtrip_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(netstring_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
