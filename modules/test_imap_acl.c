/*
 * NAME
 *	test_imap_acl 1
 * SUMMARY
 *	unit tests: GETACL's ACL response (RFC 4314), within its bounds
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "imap_acl.h"
#include "imap_parse.h"

static int parse(const char *line, struct driver_acl *acl, const char **error_r)
{
	struct imap_parser *p = imap_parser_new(NULL);
	const struct imap_arg *args;
	size_t count;
	int ret;

	ck_assert_int_eq(imap_parser_feed_line(p, line, strlen(line)), IMAP_PARSE_DONE);
	args = imap_parser_args(p, &count);
	ret = imap_acl_parse(args, count, acl, error_r);
	imap_parser_free(&p);
	return ret;
}

START_TEST(entries)
{
	struct driver_acl acl = { 0 };
	const char *error = NULL;

	/* Dovecot: the owner, a user, anyone; a negative right. */
	ck_assert_msg(parse("* ACL \"Team\" \"owner\" lrwstipekxacd \"alice@x.test\" lr "
			    "anyone l \"-bob@x.test\" w", &acl, &error) == 0, "%s", error);
	ck_assert_uint_eq(acl.count, 4);
	ck_assert_str_eq(acl.e[1].identifier, "alice@x.test");
	ck_assert_str_eq(acl.e[1].rights, "lr");
	ck_assert_str_eq(acl.e[3].identifier, "-bob@x.test");
	/* A second ACL line adds to the first; an empty ACL is no entry. */
	ck_assert_int_eq(parse("* ACL Team", &acl, &error), 0);
	ck_assert_uint_eq(acl.count, 4);
	ck_assert_int_eq(parse("* ACL Team \"group:staff\" lrs", &acl, &error), 0);
	ck_assert_uint_eq(acl.count, 5);
	ck_assert_str_eq(acl.e[4].identifier, "group:staff");
	driver_acl_free(&acl);
	ck_assert_ptr_null(acl.e);
}
END_TEST

static const struct {
	const char *line;
	const char *error;
} bad[] = {
	{ "* ACL", "not \"ACL mailbox" },
	{ "* ACL Team alice", "without its rights" },
	{ "* ACL Team alice LR", "not RFC 4314 rights" },
	{ "* ACL Team alice llr", "not RFC 4314 rights" },
	{ "* ACL Team alice \"l r\"", "not RFC 4314 rights" },
	{ "* ACL Team \"\" lr", "identifier empty" },
	{ "* ACL Team (a) lr", "identifier empty" },
	{ "* MYRIGHTS Team lr", "not \"ACL mailbox" },
};

START_TEST(malformed)
{
	struct driver_acl acl = { 0 };
	const char *error = NULL;

	ck_assert_int_eq(parse(bad[_i].line, &acl, &error), -1);
	ck_assert_msg(strstr(error, bad[_i].error) != NULL, "case %d: %s", _i, error);
	ck_assert_uint_eq(acl.count, 0);
	driver_acl_free(&acl);
}
END_TEST

/* Bounds: DRIVER_ACL_MAX entries, identifiers and rights by length. */
START_TEST(limits)
{
	struct driver_acl acl = { 0 };
	const char *error = NULL;
	char line[DRIVER_ACL_MAX * 16 + 64], id[DRIVER_ACL_ID_MAX + 1];
	size_t n;

	n = (size_t)snprintf(line, sizeof(line), "* ACL Team");
	for (int i = 0; i < DRIVER_ACL_MAX; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " u%d l", i);
	ck_assert_int_eq(parse(line, &acl, &error), 0);
	ck_assert_uint_eq(acl.count, DRIVER_ACL_MAX);
	ck_assert_int_eq(parse("* ACL Team one l", &acl, &error), -1);
	ck_assert_msg(strstr(error, "more entries") != NULL, "%s", error);
	ck_assert_uint_eq(acl.count, DRIVER_ACL_MAX);
	driver_acl_free(&acl);

	memset(id, 'i', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	snprintf(line, sizeof(line), "* ACL Team \"%s\" l", id);
	ck_assert_int_eq(parse(line, &acl, &error), -1);
	id[sizeof(id) - 2] = '\0';
	snprintf(line, sizeof(line), "* ACL Team \"%s\" l", id);
	ck_assert_int_eq(parse(line, &acl, &error), 0);
	driver_acl_free(&acl);
	ck_assert(imap_acl_rights_valid(""));
	ck_assert(imap_acl_rights_valid("lrswipkxtecda0"));
	ck_assert(!imap_acl_rights_valid("lrl"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("imap_acl");
	TCase *tc = tcase_create("parse");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, entries);
	tcase_add_loop_test(tc, malformed, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, limits);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
