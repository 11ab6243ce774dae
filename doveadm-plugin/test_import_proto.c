/*
 * NAME
 *	test_import_proto 1
 * SUMMARY
 *	unit tests for import_proto(3)
 * DESCRIPTION
 *	Table-driven: lines with the command and field count they must
 *	give or the refusal; numbers at and past their bounds; flag lists,
 *	dates with zones, UIDLs and special-uses, good and bad.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import_proto.h"

struct split_case {
	const char *in;
	int ret;
	enum import_cmd cmd;
	unsigned int count;
	const char *last;	/* the last field, when count > 0 */
};

static const struct split_case split_cases[] = {
	{ "FOLDER\tINBOX\t-", 0, IMPORT_CMD_FOLDER, 2, "-" },
	{ "FOLDER\tSent Items\t\\Sent\r", 0, IMPORT_CMD_FOLDER, 2, "\\Sent" },
	{ "FOLDER\tINBOX", -1, IMPORT_CMD_UNKNOWN, 0, NULL },
	{ "IDENTITY\t1234\t55", 0, IMPORT_CMD_IDENTITY, 2, "55" },
	{ "APPEND\t7\t\\Seen\t-\t-\t10", 0, IMPORT_CMD_APPEND, 5, "10" },
	{ "APPEND\t7\t\\Seen\t-\t-\t10\tx", -1, IMPORT_CMD_UNKNOWN, 0, NULL },
	{ "APPEND\t7\t\\Seen\t-\t-\t10\tx\tx\tx\tx", -1, IMPORT_CMD_UNKNOWN, 0, NULL },
	{ "COMMIT", 0, IMPORT_CMD_COMMIT, 0, NULL },
	{ "COMMIT\t", -1, IMPORT_CMD_UNKNOWN, 0, NULL },
	{ "ABORT", 0, IMPORT_CMD_ABORT, 0, NULL },
	{ "STATE\t1\t100", 0, IMPORT_CMD_STATE, 2, "100" },
	{ "STATE\t1\t100\t-", 0, IMPORT_CMD_STATE, 3, "-" },
	{ "STATE\t1\t100\t-\tx", -1, IMPORT_CMD_UNKNOWN, 0, NULL },
	{ "QUIT", 0, IMPORT_CMD_QUIT, 0, NULL },
	{ "LIST", 0, IMPORT_CMD_LIST, 0, NULL },
	{ "LIST\t*", -1, IMPORT_CMD_UNKNOWN, 0, NULL },
	{ "FLAGS\t7\t\\Seen $Label1", 0, IMPORT_CMD_FLAGS, 2, "\\Seen $Label1" },
	{ "FLAGS\t7", -1, IMPORT_CMD_UNKNOWN, 0, NULL },
	{ "SUBSCRIBE", 0, IMPORT_CMD_SUBSCRIBE, 0, NULL },
	{ "PLUGINS", 0, IMPORT_CMD_PLUGINS, 0, NULL },
	{ "PLUGINS\tx", -1, IMPORT_CMD_UNKNOWN, 0, NULL },
	{ "MOVEALL\tINBOX\tparked/INBOX\t0", 0, IMPORT_CMD_MOVEALL, 3, "0" },
	{ "MOVEALL\tINBOX\tparked/INBOX", -1, IMPORT_CMD_UNKNOWN, 0, NULL },
	{ "SUBSCRIBE\tINBOX", -1, IMPORT_CMD_UNKNOWN, 0, NULL },
	{ "quit", 0, IMPORT_CMD_UNKNOWN, 0, NULL },
	{ "FETCH\t1", 0, IMPORT_CMD_UNKNOWN, 0, NULL },
	{ "", 0, IMPORT_CMD_UNKNOWN, 0, NULL },
	{ "FOLDER\ta\x01" "b\t-", -1, IMPORT_CMD_UNKNOWN, 0, NULL },
	{ "FOLDER\ta\x7f" "b\t-", -1, IMPORT_CMD_UNKNOWN, 0, NULL },
};

START_TEST(test_split)
{
	const struct split_case *c = &split_cases[_i];
	struct import_line l;
	const char *error = NULL;
	char buf[256];
	int ret;

	snprintf(buf, sizeof(buf), "%s", c->in);
	ret = import_line_split(buf, strlen(buf), &l, &error);
	ck_assert_msg(ret == c->ret, "%s: ret %d", c->in, ret);
	if (ret < 0) {
		ck_assert_ptr_nonnull(error);
		return;
	}
	ck_assert_int_eq(l.cmd, c->cmd);
	ck_assert_uint_eq(l.count, c->count);
	if (c->count > 0)
		ck_assert_str_eq(l.field[l.count - 1], c->last);
}
END_TEST

/* An embedded NUL is a control byte, not the end of the line. */
START_TEST(test_split_nul)
{
	char buf[] = "QUIT\0x";
	struct import_line l;
	const char *error = NULL;

	ck_assert_int_eq(import_line_split(buf, 6, &l, &error), -1);
	ck_assert_str_eq(error, "control character in line");
}
END_TEST

struct uint_case {
	const char *in;
	uint64_t max;
	int ret;
	uint64_t out;
};

static const struct uint_case uint_cases[] = {
	{ "0", 10, 0, 0 },
	{ "10", 10, 0, 10 },
	{ "11", 10, -1, 0 },
	{ "4294967295", 4294967295u, 0, 4294967295u },
	{ "4294967296", 4294967295u, -1, 0 },
	{ "18446744073709551615", UINT64_MAX, 0, UINT64_MAX },
	{ "18446744073709551616", UINT64_MAX, -1, 0 },
	{ "99999999999999999999999", UINT64_MAX, -1, 0 },
	{ "01", 10, -1, 0 },
	{ "", 10, -1, 0 },
	{ "-1", 10, -1, 0 },
	{ "+1", 10, -1, 0 },
	{ "1 ", 10, -1, 0 },
};

START_TEST(test_uint)
{
	const struct uint_case *c = &uint_cases[_i];
	uint64_t out = 12345;
	int ret = import_parse_uint(c->in, c->max, &out);

	ck_assert_msg(ret == c->ret, "%s: ret %d", c->in, ret);
	if (ret == 0)
		ck_assert_uint_eq(out, c->out);
}
END_TEST

START_TEST(test_flags)
{
	struct import_flags f;
	const char *error = NULL;
	char buf[2048];
	size_t i;

	snprintf(buf, sizeof(buf), "\\Seen \\flagged $Forwarded work \\Recent");
	ck_assert_int_eq(import_parse_flags(buf, &f, &error), 0);
	ck_assert_uint_eq(f.system, IMPORT_FLAG_SEEN | IMPORT_FLAG_FLAGGED);
	ck_assert_uint_eq(f.keyword_count, 2);
	ck_assert_str_eq(f.keyword[0], "$Forwarded");
	ck_assert_str_eq(f.keyword[1], "work");
	ck_assert_ptr_null(f.keyword[2]);

	snprintf(buf, sizeof(buf), "-");
	ck_assert_int_eq(import_parse_flags(buf, &f, &error), 0);
	ck_assert_uint_eq(f.system, 0);
	ck_assert_uint_eq(f.keyword_count, 0);

	snprintf(buf, sizeof(buf), "\\Bogus");
	ck_assert_int_eq(import_parse_flags(buf, &f, &error), -1);
	ck_assert_str_eq(error, "unknown system flag");
	snprintf(buf, sizeof(buf), "a  b");
	ck_assert_int_eq(import_parse_flags(buf, &f, &error), -1);
	snprintf(buf, sizeof(buf), "a(b");
	ck_assert_int_eq(import_parse_flags(buf, &f, &error), -1);
	snprintf(buf, sizeof(buf), "\\Seen ");
	ck_assert_int_eq(import_parse_flags(buf, &f, &error), -1);

	/* IMPORT_KEYWORDS_MAX keywords pass, one more does not. */
	buf[0] = '\0';
	for (i = 0; i < IMPORT_KEYWORDS_MAX; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
			 "%sk%zu", i == 0 ? "" : " ", i);
	ck_assert_int_eq(import_parse_flags(buf, &f, &error), 0);
	ck_assert_uint_eq(f.keyword_count, IMPORT_KEYWORDS_MAX);
	buf[0] = '\0';
	for (i = 0; i <= IMPORT_KEYWORDS_MAX; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
			 "%sk%zu", i == 0 ? "" : " ", i);
	ck_assert_int_eq(import_parse_flags(buf, &f, &error), -1);
	ck_assert_str_eq(error, "too many keywords");
}
END_TEST

struct date_case {
	const char *in;
	int ret;
	long long when;
	int tz;
};

static const struct date_case date_cases[] = {
	{ "1577869200 +0100", 0, 1577869200, 60 },
	{ "0 -0930", 0, 0, -570 },
	{ "-", 0, -1, 0 },
	{ "1577869200 +2400", -1, 0, 0 },
	{ "1577869200 +0160", -1, 0, 0 },
	{ "1577869200 0100", -1, 0, 0 },
	{ "1577869200", -1, 0, 0 },
	{ "1577869200  +0100", -1, 0, 0 },
	{ "253402300800 +0000", -1, 0, 0 },
	{ "x +0000", -1, 0, 0 },
};

START_TEST(test_date)
{
	const struct date_case *c = &date_cases[_i];
	time_t when;
	int tz;
	int ret = import_parse_date(c->in, &when, &tz);

	ck_assert_msg(ret == c->ret, "%s: ret %d", c->in, ret);
	if (ret == 0) {
		ck_assert_int_eq((long long)when, c->when);
		ck_assert_int_eq(tz, c->tz);
	}
}
END_TEST

START_TEST(test_names)
{
	char name[1002];

	ck_assert_int_eq(import_check_uidl("-"), 0);
	ck_assert_int_eq(import_check_uidl("00000001abcd"), 0);
	ck_assert_int_eq(import_check_uidl("a b"), -1);
	ck_assert_int_eq(import_check_uidl(""), -1);
	ck_assert_int_eq(import_check_uidl(
		"0123456789012345678901234567890123456789012345678901234567890123456789"), 0);
	ck_assert_int_eq(import_check_uidl(
		"01234567890123456789012345678901234567890123456789012345678901234567890"), -1);
	ck_assert_int_eq(import_check_special_use("\\Sent"), 0);
	ck_assert_int_eq(import_check_special_use("\\trash"), 0);
	ck_assert_int_eq(import_check_special_use("-"), 0);
	ck_assert_int_eq(import_check_special_use("\\Important"), -1);
	ck_assert_int_eq(import_check_name("INBOX"), 0);
	ck_assert_int_eq(import_check_name(""), -1);
	memset(name, 'a', 1000);
	name[1000] = '\0';
	ck_assert_int_eq(import_check_name(name), 0);
	name[1000] = 'a';
	name[1001] = '\0';
	ck_assert_int_eq(import_check_name(name), -1);
}
END_TEST

static Suite *import_proto_suite(void)
{
	Suite *s = suite_create("import_proto");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_split, 0,
			    sizeof(split_cases) / sizeof(split_cases[0]));
	tcase_add_test(tc, test_split_nul);
	tcase_add_loop_test(tc, test_uint, 0,
			    sizeof(uint_cases) / sizeof(uint_cases[0]));
	tcase_add_test(tc, test_flags);
	tcase_add_loop_test(tc, test_date, 0,
			    sizeof(date_cases) / sizeof(date_cases[0]));
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(import_proto_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
