/*
 * NAME
 *	test_mutf7 1
 * SUMMARY
 *	unit tests: modified UTF-7 to UTF-8 and back, strictly
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mm_alloc.h"
#include "mutf7.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* --- modified UTF-7 both ways ------------------------------------------ */

/* Valid pairs: each must convert to the other exactly. */
static const struct {
	const char *mutf7;
	const char *utf8;
} round_trips[] = {
	{ "", "" },
	{ "INBOX", "INBOX" },
	{ "Sent Items", "Sent Items" },
	{ "&-", "&" },
	{ "A&-B", "A&B" },
	{ "&-&-", "&&" },
	{ "K&AOQ-se", "K\xc3\xa4se" },
	{ "&ZeVnLIqe-", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
	{ "Entw&APw-rfe", "Entw\xc3\xbc" "rfe" },
	{ "&AOQ-&-", "\xc3\xa4&" },
	{ "&-&AOQ-", "&\xc3\xa4" },
	{ "&AOQ-&-&AOQ-", "\xc3\xa4&\xc3\xa4" },
	{ "&AOQA9gD8-", "\xc3\xa4\xc3\xb6\xc3\xbc" },
	{ "&2D3eAA-", "\xf0\x9f\x98\x80" },			/* U+1F600 */
	{ "Hi &2D3eAA- there", "Hi \xf0\x9f\x98\x80 there" },
	{ "&2D3eANg93gE-", "\xf0\x9f\x98\x80\xf0\x9f\x98\x81" },
	{ "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	  "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
	{ "&AIA-", "\xc2\x80" },				/* U+0080 */
	{ "&2,,f,w-", "\xf4\x8f\xbf\xbf" },			/* U+10FFFF */
	{ "~!\"#$%'()*+,-./:;<=>?@[\\]^_`{|}",
	  "~!\"#$%'()*+,-./:;<=>?@[\\]^_`{|}" },
};

START_TEST(mutf7_round_trip)
{
	const char *error = NULL;
	char *out;

	ck_assert_int_eq(mutf7_to_utf8(round_trips[_i].mutf7, &out, &error), 0);
	ck_assert_str_eq(out, round_trips[_i].utf8);
	mm_free(&out);
	ck_assert_int_eq(utf8_to_mutf7(round_trips[_i].utf8, &out, &error), 0);
	ck_assert_str_eq(out, round_trips[_i].mutf7);
	mm_free(&out);
}
END_TEST

/* Modified UTF-7 that must be refused, with a word from the error. */
static const struct {
	const char *mutf7;
	const char *error;
} bad_mutf7[] = {
	{ "&", "unterminated shift at offset 0" },
	{ "K&AOQ", "unterminated shift at offset 1" },
	{ "&AOQ-&APw-", "shift straight after another at offset 5" },
	{ "&AGE-", "printable ASCII 'a' encoded" },
	{ "&ACY-", "printable ASCII '&' encoded" },
	{ "&ACA-", "printable ASCII ' ' encoded" },
	{ "&AOQ=-", "byte 0x3d at offset 4 is not modified base64" },
	{ "&AOQ/-", "byte 0x2f at offset 4 is not modified base64" },
	{ "&AO Q-", "byte 0x20 at offset 3 is not modified base64" },
	{ "&AOR-", "non-zero trailing bits" },
	{ "&AOQA-", "non-minimal shift" },
	{ "&A-", "non-minimal shift" },
	{ "&AA-", "non-minimal shift" },
	{ "&2D0-", "unpaired high surrogate at the end" },
	{ "&3gA-", "unpaired low surrogate" },
	{ "&2D3YPQ-", "unpaired high surrogate before" },
	{ "&2D0AQQ-", "unpaired high surrogate before" },
	{ "&AAA-", "control character U+0000" },
	{ "&AB8-", "control character U+001F" },
	{ "&AH8-", "control character U+007F" },
	{ "a\tb", "byte 0x09 at offset 1 is not printable ASCII" },
	{ "a\x7f", "byte 0x7f at offset 1 is not printable ASCII" },
	{ "K\xc3\xa4se", "byte 0xc3 at offset 1 is not printable ASCII" },
};

START_TEST(mutf7_invalid)
{
	const char *error = NULL;
	char *out = (char *)"unset";

	ck_assert_int_eq(mutf7_to_utf8(bad_mutf7[_i].mutf7, &out, &error), -1);
	ck_assert_ptr_null(out);
	ck_assert_msg(strstr(error, bad_mutf7[_i].error) != NULL,
		      "'%s': got '%s', want '%s'", bad_mutf7[_i].mutf7, error,
		      bad_mutf7[_i].error);
	ck_assert_ptr_nonnull(strstr(error, "bad modified UTF-7"));
}
END_TEST

/* UTF-8 that cannot be encoded. */
static const struct {
	const char *utf8;
	const char *error;
} bad_utf8[] = {
	{ "\xff", "not valid UTF-8 at offset 0" },
	{ "ab\xc3", "not valid UTF-8 at offset 2" },
	{ "\xc3(", "not valid UTF-8 at offset 0" },
	{ "\xc0\xaf", "not valid UTF-8" },			/* overlong '/' */
	{ "\xe0\x80\xaf", "not valid UTF-8" },			/* overlong */
	{ "\xf0\x82\x82\xac", "not valid UTF-8" },		/* overlong */
	{ "\xed\xa0\x80", "not valid UTF-8" },			/* U+D800 */
	{ "\xf4\x90\x80\x80", "not valid UTF-8" },		/* > U+10FFFF */
	{ "\x80", "not valid UTF-8" },
	{ "a\tb", "control character U+0009 at offset 1" },
	{ "\x7f", "control character U+007F at offset 0" },
	{ "\xc3\xa4\n", "control character U+000A at offset 2" },
};

START_TEST(utf8_invalid)
{
	const char *error = NULL;
	char *out = (char *)"unset";

	ck_assert_int_eq(utf8_to_mutf7(bad_utf8[_i].utf8, &out, &error), -1);
	ck_assert_ptr_null(out);
	ck_assert_msg(strstr(error, bad_utf8[_i].error) != NULL,
		      "got '%s', want '%s'", error, bad_utf8[_i].error);
}
END_TEST

/* Input and output are both bounded. */
START_TEST(mutf7_limits)
{
	char *in = mm_malloc(MUTF7_MAX_TEXT + 2), *out;
	const char *error;
	size_t i;

	memset(in, 'a', MUTF7_MAX_TEXT);
	in[MUTF7_MAX_TEXT] = '\0';
	ck_assert_int_eq(mutf7_to_utf8(in, &out, &error), 0);
	ck_assert_uint_eq(strlen(out), MUTF7_MAX_TEXT);
	mm_free(&out);
	ck_assert_int_eq(utf8_to_mutf7(in, &out, &error), 0);
	ck_assert_uint_eq(strlen(out), MUTF7_MAX_TEXT);
	mm_free(&out);

	in[MUTF7_MAX_TEXT] = 'a';
	in[MUTF7_MAX_TEXT + 1] = '\0';
	ck_assert_int_eq(mutf7_to_utf8(in, &out, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "longer than 4096 bytes"));
	ck_assert_int_eq(utf8_to_mutf7(in, &out, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "longer than 4096 bytes"));

	/* 2048 x U+00E4 is 4096 bytes in, 5464 out: refused. */
	for (i = 0; i < MUTF7_MAX_TEXT; i += 2)
		memcpy(in + i, "\xc3\xa4", 2);
	in[MUTF7_MAX_TEXT] = '\0';
	ck_assert_int_eq(utf8_to_mutf7(in, &out, &error), -1);
	ck_assert_ptr_null(out);
	ck_assert_ptr_nonnull(strstr(error, "longer than 4096 bytes encoded"));

	/* 2048 x "&-" decodes to 2048 bytes. */
	for (i = 0; i < MUTF7_MAX_TEXT; i += 2)
		memcpy(in + i, "&-", 2);
	ck_assert_int_eq(mutf7_to_utf8(in, &out, &error), 0);
	ck_assert_uint_eq(strlen(out), MUTF7_MAX_TEXT / 2);
	mm_free(&out);
	mm_free(&in);
}
END_TEST

/* The buffer functions write no more than they are given. */
START_TEST(mutf7_buffers)
{
	char out[6], err[256];
	size_t len = 99;

	ck_assert_int_eq(mutf7_decode("abc", out, 3, &len, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "longer than 2 bytes decoded"));
	ck_assert_int_eq(mutf7_decode("abc", out, 4, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_str_eq(out, "abc");
	ck_assert_int_eq(mutf7_encode("\xc3\xa4", out, 5, &len, err,
				      sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "longer than 4 bytes encoded"));
	ck_assert_int_eq(mutf7_encode("\xc3\xa4", out, 6, &len, err,
				      sizeof(err)), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_str_eq(out, "&AOQ-");
	ck_assert_int_eq(mutf7_decode("&AOQ", out, sizeof(out), &len, err,
				      sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "unterminated shift at offset 0"));
}
END_TEST

static Suite *mutf7_suite(void)
{
	Suite *s = suite_create("mutf7");
	TCase *tc = tcase_create("mutf7");

	tcase_add_loop_test(tc, mutf7_round_trip, 0, N_ELEMENTS(round_trips));
	tcase_add_loop_test(tc, mutf7_invalid, 0, N_ELEMENTS(bad_mutf7));
	tcase_add_loop_test(tc, utf8_invalid, 0, N_ELEMENTS(bad_utf8));
	tcase_add_test(tc, mutf7_limits);
	tcase_add_test(tc, mutf7_buffers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mutf7_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
