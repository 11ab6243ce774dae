/*
 * NAME
 *	test_imap_shared 1
 * SUMMARY
 *	unit tests: what shared folders take from IMAP: NAMESPACE responses
 *	as Dovecot, Cyrus and Courier send them (which folders each makes
 *	other users' or shared), and GETACL's ACL response (RFC 4314),
 *	within their bounds; rights compared across spellings and turned
 *	into Dovecot's names and identifiers and back (acl_rights(3))
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "acl_rights.h"
#include "imap_acl.h"
#include "imap_namespace.h"
#include "imap_parse.h"

/* Parse line (without CRLF) into *ns; 0 or -1 with *error_r. */
static int parse(const char *line, struct imap_namespaces *ns, const char **error_r)
{
	struct imap_parser *p = imap_parser_new(NULL);
	const struct imap_arg *args;
	size_t count;
	int ret;

	ck_assert_int_eq(imap_parser_feed_line(p, line, strlen(line)), IMAP_PARSE_DONE);
	args = imap_parser_args(p, &count);
	ret = imap_namespace_parse(args, count, ns, error_r);
	imap_parser_free(&p);
	return ret;
}

static const struct {
	const char *line;
	const char *folder;
	enum imap_ns_kind kind;
} kinds[] = {
	/* Dovecot: a shared and a public namespace beside the personal "" */
	{ "* NAMESPACE ((\"\" \".\")) ((\"shared.\" \".\")) ((\"Public.\" \".\"))", "INBOX",
	  IMAP_NS_PERSONAL },
	{ "* NAMESPACE ((\"\" \".\")) ((\"shared.\" \".\")) ((\"Public.\" \".\"))", "Work.2024",
	  IMAP_NS_PERSONAL },
	{ "* NAMESPACE ((\"\" \".\")) ((\"shared.\" \".\")) ((\"Public.\" \".\"))",
	  "shared.bob@x.test.Team", IMAP_NS_OTHERS },
	{ "* NAMESPACE ((\"\" \".\")) ((\"shared.\" \".\")) ((\"Public.\" \".\"))", "shared",
	  IMAP_NS_OTHERS },
	{ "* NAMESPACE ((\"\" \".\")) ((\"shared.\" \".\")) ((\"Public.\" \".\"))", "Public.Team",
	  IMAP_NS_SHARED },
	{ "* NAMESPACE ((\"\" \".\")) ((\"shared.\" \".\")) ((\"Public.\" \".\"))", "Publications",
	  IMAP_NS_PERSONAL },
	/* Cyrus as shipped: personal INBOX., other users user., shared "" */
	{ "* NAMESPACE ((\"INBOX.\" \".\")) ((\"user.\" \".\")) ((\"\" \".\"))", "INBOX",
	  IMAP_NS_PERSONAL },
	{ "* NAMESPACE ((\"INBOX.\" \".\")) ((\"user.\" \".\")) ((\"\" \".\"))", "INBOX.Sent",
	  IMAP_NS_PERSONAL },
	{ "* NAMESPACE ((\"INBOX.\" \".\")) ((\"user.\" \".\")) ((\"\" \".\"))", "user.bob.Team",
	  IMAP_NS_OTHERS },
	{ "* NAMESPACE ((\"INBOX.\" \".\")) ((\"user.\" \".\")) ((\"\" \".\"))", "Archive",
	  IMAP_NS_SHARED },
	/* Cyrus with altnamespace */
	{ "* NAMESPACE ((\"\" \"/\")) ((\"Other Users/\" \"/\")) ((\"Shared Folders/\" \"/\"))",
	  "Other Users/bob/Team", IMAP_NS_OTHERS },
	{ "* NAMESPACE ((\"\" \"/\")) ((\"Other Users/\" \"/\")) ((\"Shared Folders/\" \"/\"))",
	  "Shared Folders", IMAP_NS_SHARED },
	{ "* NAMESPACE ((\"\" \"/\")) ((\"Other Users/\" \"/\")) ((\"Shared Folders/\" \"/\"))",
	  "Sent", IMAP_NS_PERSONAL },
	/* Courier: no other users, #shared; a response extension skipped */
	{ "* NAMESPACE ((\"INBOX.\" \".\" \"X-EXT\" (\"a\" \"b\"))) NIL ((\"#shared.\" \".\"))",
	  "#shared.news", IMAP_NS_SHARED },
	{ "* NAMESPACE ((\"INBOX.\" \".\" \"X-EXT\" (\"a\" \"b\"))) NIL ((\"#shared.\" \".\"))",
	  "INBOX.Drafts", IMAP_NS_PERSONAL },
	/* personal only: everything is the user's */
	{ "* NAMESPACE ((\"\" NIL)) NIL NIL", "anything", IMAP_NS_PERSONAL },
};

START_TEST(kind_of_folder)
{
	struct imap_namespaces ns;
	const char *error = NULL;

	ck_assert_msg(parse(kinds[_i].line, &ns, &error) == 0, "%s", error);
	ck_assert_msg(imap_namespace_of(&ns, kinds[_i].folder) == kinds[_i].kind,
		      "case %d: %s is %s", _i, kinds[_i].folder,
		      imap_namespace_kind_name(imap_namespace_of(&ns, kinds[_i].folder)));
}
END_TEST

START_TEST(parsed_fields)
{
	struct imap_namespaces ns;
	const char *error = NULL;

	ck_assert_int_eq(parse("* NAMESPACE ((\"\" \"/\") (\"#mh/\" \"/\")) NIL "
			       "((\"#public/\" NIL))", &ns, &error), 0);
	ck_assert_uint_eq(ns.count[IMAP_NS_PERSONAL], 2);
	ck_assert_uint_eq(ns.count[IMAP_NS_OTHERS], 0);
	ck_assert_uint_eq(ns.count[IMAP_NS_SHARED], 1);
	ck_assert_str_eq(ns.ns[IMAP_NS_PERSONAL][1].prefix, "#mh/");
	ck_assert_int_eq(ns.ns[IMAP_NS_PERSONAL][1].separator, '/');
	ck_assert_int_eq(ns.ns[IMAP_NS_SHARED][0].separator, '\0');
}
END_TEST

static const struct {
	const char *line;
	const char *error;
} bad[] = {
	{ "* NAMESPACE ((\"\" \".\")) NIL", "not three" },
	{ "* NAMESPACE ((\"\" \".\")) NIL NIL NIL", "not three" },
	{ "* NAMESPACE (\"\" \".\") NIL NIL", "not (prefix separator" },
	{ "* NAMESPACE ((\"\")) NIL NIL", "not (prefix separator" },
	{ "* NAMESPACE ((NIL \".\")) NIL NIL", "not (prefix separator" },
	{ "* NAMESPACE ((\"\" \"..\")) NIL NIL", "separator" },
	{ "* NAMESPACE ((\"\" X)) NIL NIL", "separator" },
	{ "* NAMESPACE \"x\" NIL NIL", "neither NIL nor a list" },
	{ "* NAMESPACE ((\"a\" \".\") (\"b\" \".\") (\"c\" \".\") (\"d\" \".\") (\"e\" \".\") "
	  "(\"f\" \".\") (\"g\" \".\") (\"h\" \".\") (\"i\" \".\")) NIL NIL", "too many" },
};

START_TEST(malformed)
{
	struct imap_namespaces ns;
	const char *error = NULL;

	ck_assert_int_eq(parse(bad[_i].line, &ns, &error), -1);
	ck_assert_msg(strstr(error, bad[_i].error) != NULL, "case %d: %s", _i, error);
	/* Nothing half-filled is left: every folder is the user's. */
	ck_assert_uint_eq(ns.count[IMAP_NS_PERSONAL] + ns.count[IMAP_NS_OTHERS] +
			  ns.count[IMAP_NS_SHARED], 0);
}
END_TEST

START_TEST(long_prefix)
{
	char line[1024], prefix[IMAP_NAMESPACE_PREFIX_MAX + 1];
	struct imap_namespaces ns;
	const char *error = NULL;

	memset(prefix, 'p', sizeof(prefix) - 1);
	prefix[sizeof(prefix) - 1] = '\0';
	snprintf(line, sizeof(line), "* NAMESPACE ((\"\" \".\")) ((\"%s\" \".\")) NIL", prefix);
	ck_assert_int_eq(parse(line, &ns, &error), -1);
	ck_assert_msg(strstr(error, "too long") != NULL, "%s", error);
	/* One byte less fits. */
	prefix[sizeof(prefix) - 2] = '\0';
	snprintf(line, sizeof(line), "* NAMESPACE ((\"\" \".\")) ((\"%s\" \".\")) NIL", prefix);
	ck_assert_int_eq(parse(line, &ns, &error), 0);
	ck_assert_uint_eq(strlen(ns.ns[IMAP_NS_OTHERS][0].prefix), IMAP_NAMESPACE_PREFIX_MAX - 1);
}
END_TEST

static int parse_acl(const char *line, struct driver_acl *acl, const char **error_r)
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

START_TEST(acl_entries)
{
	struct driver_acl acl = { 0 };
	const char *error = NULL;

	/* Dovecot: the owner, a user, anyone; a negative right. */
	ck_assert_msg(parse_acl("* ACL \"Team\" \"owner\" lrwstipekxacd \"alice@x.test\" lr "
			    "anyone l \"-bob@x.test\" w", &acl, &error) == 0, "%s", error);
	ck_assert_uint_eq(acl.count, 4);
	ck_assert_str_eq(acl.e[1].identifier, "alice@x.test");
	ck_assert_str_eq(acl.e[1].rights, "lr");
	ck_assert_str_eq(acl.e[3].identifier, "-bob@x.test");
	/* A second ACL line adds to the first; an empty ACL is no entry. */
	ck_assert_int_eq(parse_acl("* ACL Team", &acl, &error), 0);
	ck_assert_uint_eq(acl.count, 4);
	ck_assert_int_eq(parse_acl("* ACL Team \"group:staff\" lrs", &acl, &error), 0);
	ck_assert_uint_eq(acl.count, 5);
	ck_assert_str_eq(acl.e[4].identifier, "group:staff");
	driver_acl_free(&acl);
	ck_assert_ptr_null(acl.e);
}
END_TEST

static const struct {
	const char *line;
	const char *error;
} bad_acl[] = {
	{ "* ACL", "not \"ACL mailbox" },
	{ "* ACL Team alice", "without its rights" },
	{ "* ACL Team alice LR", "not RFC 4314 rights" },
	{ "* ACL Team alice llr", "not RFC 4314 rights" },
	{ "* ACL Team alice \"l r\"", "not RFC 4314 rights" },
	{ "* ACL Team \"\" lr", "identifier empty" },
	{ "* ACL Team (a) lr", "identifier empty" },
	{ "* MYRIGHTS Team lr", "not \"ACL mailbox" },
};

START_TEST(malformed_acl)
{
	struct driver_acl acl = { 0 };
	const char *error = NULL;

	ck_assert_int_eq(parse_acl(bad_acl[_i].line, &acl, &error), -1);
	ck_assert_msg(strstr(error, bad_acl[_i].error) != NULL, "case %d: %s", _i, error);
	ck_assert_uint_eq(acl.count, 0);
	driver_acl_free(&acl);
}
END_TEST

/* Bounds: DRIVER_ACL_MAX entries, identifiers and rights by length. */
START_TEST(acl_limits)
{
	struct driver_acl acl = { 0 };
	const char *error = NULL;
	char line[DRIVER_ACL_MAX * 16 + 64], id[DRIVER_ACL_ID_MAX + 1];
	size_t n;

	n = (size_t)snprintf(line, sizeof(line), "* ACL Team");
	for (int i = 0; i < DRIVER_ACL_MAX; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " u%d l", i);
	ck_assert_int_eq(parse_acl(line, &acl, &error), 0);
	ck_assert_uint_eq(acl.count, DRIVER_ACL_MAX);
	ck_assert_int_eq(parse_acl("* ACL Team one l", &acl, &error), -1);
	ck_assert_msg(strstr(error, "more entries") != NULL, "%s", error);
	ck_assert_uint_eq(acl.count, DRIVER_ACL_MAX);
	driver_acl_free(&acl);

	memset(id, 'i', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	snprintf(line, sizeof(line), "* ACL Team \"%s\" l", id);
	ck_assert_int_eq(parse_acl(line, &acl, &error), -1);
	id[sizeof(id) - 2] = '\0';
	snprintf(line, sizeof(line), "* ACL Team \"%s\" l", id);
	ck_assert_int_eq(parse_acl(line, &acl, &error), 0);
	driver_acl_free(&acl);
	ck_assert(imap_acl_rights_valid(""));
	ck_assert(imap_acl_rights_valid("lrswipkxtecda0"));
	ck_assert(!imap_acl_rights_valid("lrl"));
}
END_TEST

/* Cyrus's, an RFC 2086 server's and Dovecot's spellings of one set. */
static const struct {
	const char *in, *norm;
} norms[] = {
	{ "", "" },
	{ "lr", "lr" },
	{ "rl", "lr" },
	{ "lrswipkxtecda", "lrwstipekxa" },	/* Cyrus: c, d beside k x t e */
	{ "lrswipcda", "lrwstipekxa" },		/* RFC 2086 only */
	{ "alrsw", "lrwsa" },
	{ "lr0l9", "lr09" },			/* digits kept, in order, once */
	{ "cc", "kx" },
};

START_TEST(rights_normalized)
{
	char out[DRIVER_ACL_RIGHTS_MAX];

	acl_rights_normalize(norms[_i].in, out);
	ck_assert_str_eq(out, norms[_i].norm);
}
END_TEST

START_TEST(rights_names)
{
	const char *names[ACL_RIGHTS_NAMES_MAX];
	char pos[DRIVER_ACL_RIGHTS_MAX], neg[DRIVER_ACL_RIGHTS_MAX], badc = 0;
	char big[DRIVER_ACL_RIGHTS_MAX * 2] = "";

	ck_assert(acl_rights_same("lrswipkxtecda", "lrwstipekxa"));
	ck_assert(acl_rights_same("lrs", "srl"));
	ck_assert(!acl_rights_same("lr", "lrs"));
	ck_assert_int_eq(acl_rights_to_names("lrs", 0, names, &badc), 3);
	ck_assert_str_eq(names[0], "lookup");
	ck_assert_str_eq(names[1], "read");
	ck_assert_str_eq(names[2], "write-seen");
	ck_assert_int_eq(acl_rights_to_names("c", 1, names, &badc), 2);
	ck_assert_str_eq(names[0], "-create");
	ck_assert_str_eq(names[1], "-delete");
	ck_assert_int_eq(acl_rights_to_names("", 0, names, &badc), 0);
	ck_assert_int_eq(acl_rights_to_names("lr7", 0, names, &badc), -1);
	ck_assert_int_eq(badc, '7');
	ck_assert_int_eq(acl_rights_to_names("lrswipkxtecda", 0, names, &badc), 11);

	ck_assert_int_eq(acl_rights_from_names("lookup read -write-seen", pos, neg), 0);
	ck_assert_str_eq(pos, "lr");
	ck_assert_str_eq(neg, "s");
	ck_assert_int_eq(acl_rights_from_names("admin  :x-custom bogus lookup", pos, neg), 2);
	ck_assert_str_eq(pos, "la");
	ck_assert_str_eq(neg, "");
	ck_assert_int_eq(acl_rights_from_names("", pos, neg), 0);
	ck_assert_str_eq(pos, "");
	/* Repeats are one right, and the output stays bounded. */
	for (size_t i = 0; i < 10; i++)
		strcat(big, "read ");
	ck_assert_int_eq(acl_rights_from_names(big, pos, neg), 0);
	ck_assert_str_eq(pos, "r");
}
END_TEST

START_TEST(identifiers)
{
	char out[DRIVER_ACL_ID_MAX], small[8];

	ck_assert_int_eq(acl_id_to_dovecot("alice@example.com", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "user=alice@example.com");
	ck_assert_int_eq(acl_id_to_dovecot("anyone", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "anyone");
	ck_assert_int_eq(acl_id_to_dovecot("anonymous", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "anyone");
	ck_assert_int_eq(acl_id_to_dovecot("authenticated", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "authenticated");
	ck_assert_int_eq(acl_id_to_dovecot("$sales", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "group=sales");
	ck_assert_int_eq(acl_id_to_dovecot("$", out, sizeof(out)), -1);
	ck_assert_int_eq(acl_id_to_dovecot("", out, sizeof(out)), -1);
	ck_assert_int_eq(acl_id_to_dovecot("alice@example.com", small, sizeof(small)), -1);

	ck_assert_int_eq(acl_id_from_dovecot("user=bob@example.com", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "bob@example.com");
	ck_assert_int_eq(acl_id_from_dovecot("group=sales", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "$sales");
	ck_assert_int_eq(acl_id_from_dovecot("owner", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "owner");
	ck_assert_int_eq(acl_id_from_dovecot("group-override=x", out, sizeof(out)), -1);
	ck_assert_int_eq(acl_id_from_dovecot("user=", out, sizeof(out)), -1);
	ck_assert_int_eq(acl_id_from_dovecot("user=bob@example.com", small,
					     sizeof(small)), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("imap_shared");
	TCase *tn = tcase_create("namespace"), *ta = tcase_create("acl");
	TCase *tr = tcase_create("rights");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tn, kind_of_folder, 0, sizeof(kinds) / sizeof(kinds[0]));
	tcase_add_test(tn, parsed_fields);
	tcase_add_loop_test(tn, malformed, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tn, long_prefix);
	suite_add_tcase(s, tn);
	tcase_add_test(ta, acl_entries);
	tcase_add_loop_test(ta, malformed_acl, 0, sizeof(bad_acl) / sizeof(bad_acl[0]));
	tcase_add_test(ta, acl_limits);
	suite_add_tcase(s, ta);
	tcase_add_loop_test(tr, rights_normalized, 0, sizeof(norms) / sizeof(norms[0]));
	tcase_add_test(tr, rights_names);
	tcase_add_test(tr, identifiers);
	suite_add_tcase(s, tr);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
