/*
 * NAME
 *	test_imap_parse 1
 * SUMMARY
 *	unit tests: the IMAP response parser, on what real servers send
 *	and on what a broken or hostile one might
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "imap_parse.h"
#include "mm_alloc.h"

/* Render args as text: atoms raw, strings quoted, lists in (). */
static void dump_args(char *buf, size_t size, const struct imap_arg *args,
		      size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const struct imap_arg *a = &args[i];
		size_t used = strlen(buf);

		if (i > 0)
			snprintf(buf + used, size - used, " ");
		used = strlen(buf);
		switch (a->type) {
		case IMAP_ARG_NIL:
			snprintf(buf + used, size - used, "NIL");
			break;
		case IMAP_ARG_ATOM:
			snprintf(buf + used, size - used, "%s", a->str);
			break;
		case IMAP_ARG_STRING:
			snprintf(buf + used, size - used, "\"%s\"", a->str);
			break;
		case IMAP_ARG_LITERAL_STREAMED:
			snprintf(buf + used, size - used, "<%llu>",
				 (unsigned long long)a->literal_size);
			break;
		case IMAP_ARG_LIST:
			snprintf(buf + used, size - used, "(");
			dump_args(buf, size, a->list, a->count);
			used = strlen(buf);
			snprintf(buf + used, size - used, ")");
			break;
		}
	}
}

/* One response: its lines and literals in order. A piece that starts
 * with '\x01' is a literal to feed, '\x02' one to stream. */
static const struct {
	const char *pieces[4];
	const char *expect;	/* "tag: args | text", or "ERROR: substring" */
} cases[] = {
	{ { "* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR] Dovecot ready." },
	  "*: OK (CAPABILITY IMAP4rev1 LITERAL+ SASL-IR) | Dovecot ready." },
	{ { "A1 OK [APPENDUID 38505 3955] Append completed (0.001 + 0.000 secs)." },
	  "A1: OK (APPENDUID 38505 3955) | Append completed (0.001 + 0.000 secs)." },
	{ { "a2 NO [AUTHENTICATIONFAILED] Authentication failed." },
	  "a2: NO (AUTHENTICATIONFAILED) | Authentication failed." },
	{ { "A3 OK" }, "A3: OK | " },
	{ { "A4 BAD Error in IMAP command: Unknown command (\"x\")" },
	  "A4: BAD | Error in IMAP command: Unknown command (\"x\")" },
	{ { "* LIST (\\HasNoChildren \\Sent) \".\" \"INBOX.Sent Items\"" },
	  "*: LIST (\\HasNoChildren \\Sent) \".\" \"INBOX.Sent Items\" | " },
	{ { "* LIST (\\Noselect \\HasChildren) NIL \"\"" },
	  "*: LIST (\\Noselect \\HasChildren) NIL \"\" | " },
	{ { "* LIST () \"/\" {7}", "\x01K\xc3\xa4se/x", "" },
	  "*: LIST () \"/\" \"K\xc3\xa4se/x\" | " },
	{ { "* 12 FETCH (UID 5 FLAGS (\\Seen $Forwarded) INTERNALDATE "
	    "\"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 44827 BODY[] {5}",
	    "\x01hello", ")" },
	  "*: 12 FETCH (UID 5 FLAGS (\\Seen $Forwarded) INTERNALDATE "
	  "\"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 44827 BODY[] \"hello\") | " },
	{ { "* 13 FETCH (BODY[] {20971520}", "\x02", " UID 9 FLAGS ())" },
	  "*: 13 FETCH (BODY[] <20971520> UID 9 FLAGS ()) | " },
	{ { "* 1 FETCH (UID 1 BODY[HEADER.FIELDS (MESSAGE-ID DATE)] {0}", "\x01", ")" },
	  "*: 1 FETCH (UID 1 BODY[HEADER.FIELDS (MESSAGE-ID DATE)] \"\") | " },
	{ { "* 2 FETCH (BODY[]<0> {3+}", "\x01" "abc", ")" },
	  "*: 2 FETCH (BODY[]<0> \"abc\") | " },
	{ { "* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL" },
	  "*: NAMESPACE ((\"INBOX.\" \".\")) NIL NIL | " },
	{ { "+ go ahead" }, "+:  | go ahead" },
	{ { "+ " }, "+:  | " },
	{ { "+" }, "+:  | " },
	{ { "* BYE Server shutting down." }, "*: BYE | Server shutting down." },
	{ { "* 3 EXISTS" }, "*: 3 EXISTS | " },
	{ { "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\*)] Flags permitted." },
	  "*: OK (PERMANENTFLAGS (\\Answered \\Flagged \\*)) | Flags permitted." },
	{ { "* OK [UIDVALIDITY 3857529045] UIDs valid" },
	  "*: OK (UIDVALIDITY 3857529045) | UIDs valid" },
	{ { "* LIST () \"/\" \"a\\\"b\\\\c\"" }, "*: LIST () \"/\" \"a\"b\\c\" | " },
	{ { "* STATUS \"INBOX\" (MESSAGES 231 UIDNEXT 44292)" },
	  "*: STATUS \"INBOX\" (MESSAGES 231 UIDNEXT 44292) | " },
	{ { "* SEARCH 2 84 882" }, "*: SEARCH 2 84 882 | " },
	{ { "* SEARCH" }, "*: SEARCH | " },
	{ { "* PREAUTH [CAPABILITY IMAP4rev1] Logged in" },
	  "*: PREAUTH (CAPABILITY IMAP4rev1) | Logged in" },
	/* Malformed input: refused with what and where. */
	{ { "* 1 FETCH (UID 5" }, "ERROR: line ends inside a list" },
	{ { "* 1 FETCH (UID 5))" }, "ERROR: unexpected ')' at byte 17" },
	{ { "* LIST () \"/\" \"unterminated" }, "ERROR: unterminated quoted string at byte 14" },
	{ { "* LIST () \"/\" \"bad\\x\"" }, "ERROR: bad escape in quoted string" },
	{ { "* 1 FETCH (BODY[] {12a}" }, "ERROR: bad literal announcement at byte 18" },
	{ { "* 1 FETCH (BODY[] {}" }, "ERROR: bad literal announcement" },
	{ { "* 1 FETCH (BODY[] {5} (x)" }, "ERROR: bad literal announcement" },
	{ { "* 1 FETCH (BODY[] {99999999999999999999999}" }, "ERROR: overflows" },
	{ { "* 1 FETCH (BODY[] {3000000000}" }, "ERROR: over the limit" },
	{ { "A1 FOO bar" }, "ERROR: tagged response without OK/NO/BAD" },
	{ { "" }, "ERROR: bad tag" },
	{ { " OK" }, "ERROR: bad tag" },
	{ { "* 1 FETCH (BODY[HEADER" }, "ERROR: unterminated '['" },
	{ { "* 1 FETCH (UID \x01)" }, "ERROR: unexpected byte 0x01 at byte 15" },
	{ { "* OK [ALERT text" }, "ERROR: line ends inside a response code" },
	{ { "* 1 FETCH (BODY[] {5}", "\x01toolong", ")" }, "ERROR: 7 bytes fed, 5 announced" },
	{ { "* ((((((((((((((((((x))))))))))))))))))" }, "ERROR: nested over 16 deep" },
	{ { "* OKAY then" }, "*: OKAY then | " },
	{ { "* 1 FETCH (X ])" }, "*: 1 FETCH (X ]) | " },
};

START_TEST(responses)
{
	struct imap_parser *p = imap_parser_new(NULL);
	enum imap_parse_status st = IMAP_PARSE_ERROR;
	char got[1024] = "";
	size_t i;

	for (i = 0; i < 4 && cases[_i].pieces[i] != NULL; i++) {
		const char *piece = cases[_i].pieces[i];

		if (piece[0] == '\x01')
			st = imap_parser_feed_literal(p, piece + 1, strlen(piece + 1));
		else if (piece[0] == '\x02')
			st = imap_parser_literal_streamed(p);
		else
			st = imap_parser_feed_line(p, piece, strlen(piece));
		if (st == IMAP_PARSE_ERROR || st == IMAP_PARSE_DONE)
			break;
	}
	if (st == IMAP_PARSE_ERROR) {
		snprintf(got, sizeof(got), "ERROR: %s", imap_parser_error(p));
		ck_assert_msg(strncmp(cases[_i].expect, "ERROR: ", 7) == 0 &&
			      strstr(got, cases[_i].expect + 7) != NULL,
			      "case %d: expected '%s', got '%s'", _i,
			      cases[_i].expect, got);
	} else {
		const struct imap_arg *args;
		size_t count;

		ck_assert_msg(st == IMAP_PARSE_DONE, "case %d: not done (%d)", _i, st);
		args = imap_parser_args(p, &count);
		snprintf(got, sizeof(got), "%s: ", imap_parser_tag(p));
		dump_args(got, sizeof(got), args, count);
		snprintf(got + strlen(got), sizeof(got) - strlen(got), " | %s",
			 imap_parser_text(p));
		ck_assert_msg(strcmp(got, cases[_i].expect) == 0,
			      "case %d:\nexpected '%s'\n     got '%s'", _i,
			      cases[_i].expect, got);
	}
	imap_parser_free(&p);
	ck_assert_ptr_null(p);
}
END_TEST

START_TEST(literal_key_and_reuse)
{
	struct imap_parser *p = imap_parser_new(NULL);
	const struct imap_arg *args;
	uint32_t u32;
	uint64_t u64;
	size_t count;

	ck_assert_int_eq(imap_parser_feed_line(p, "* 7 FETCH (UID 99 RFC822.SIZE 5 BODY[] {5+}",
					       43), IMAP_PARSE_LITERAL);
	ck_assert_str_eq(imap_parser_literal_key(p), "BODY[]");
	ck_assert_uint_eq(imap_parser_literal_size(p), 5);
	ck_assert_int_eq(imap_parser_literal_plus(p), 1);
	/* A line where the literal is due is an error. */
	ck_assert_int_eq(imap_parser_literal_streamed(p), IMAP_PARSE_NEED_LINE);
	ck_assert_ptr_null(imap_parser_literal_key(p));
	ck_assert_int_eq(imap_parser_feed_line(p, ")", 1), IMAP_PARSE_DONE);
	args = imap_parser_args(p, &count);
	ck_assert_uint_eq(count, 3);
	ck_assert_int_eq(imap_arg_get_u32(&args[0], &u32), 0);
	ck_assert_uint_eq(u32, 7);
	ck_assert(imap_arg_is_atom(&args[1], "fetch"));
	ck_assert_int_eq(args[2].type, IMAP_ARG_LIST);
	ck_assert_int_eq(imap_arg_get_u64(&args[2].list[1], &u64), 0);
	ck_assert_uint_eq(u64, 99);
	ck_assert_int_eq(imap_arg_get_u32(&args[2].list[0], &u32), -1);
	ck_assert_ptr_null(imap_arg_get_astring(&args[2].list[5]));
	/* The next response starts afresh. */
	ck_assert_int_eq(imap_parser_feed_line(p, "A9 OK done", 10), IMAP_PARSE_DONE);
	ck_assert_str_eq(imap_parser_tag(p), "A9");
	ck_assert_str_eq(imap_parser_text(p), "done");
	args = imap_parser_args(p, &count);
	ck_assert_uint_eq(count, 1);
	/* 4294967296 is not a u32. */
	ck_assert_int_eq(imap_parser_feed_line(p, "* 4294967296 EXISTS", 19),
			 IMAP_PARSE_DONE);
	args = imap_parser_args(p, &count);
	ck_assert_int_eq(imap_arg_get_u32(&args[0], &u32), -1);
	ck_assert_int_eq(imap_arg_get_u64(&args[0], &u64), 0);
	imap_parser_free(&p);
}
END_TEST

/* RFC 7162 mod-sequence-value: 1 to 2^63-1, digits only. */
static const struct {
	const char *atom;
	int ret;
	uint64_t value;
} modseqs[] = {
	{ "1", 0, 1 },
	{ "9223372036854775807", 0, 9223372036854775807ULL },
	{ "9223372036854775808", -1, 0 },	/* 2^63 */
	{ "18446744073709551615", -1, 0 },	/* 2^64-1 */
	{ "18446744073709551616", -1, 0 },	/* wraps in 64 bits */
	{ "99999999999999999999999", -1, 0 },
	{ "0", -1, 0 },
	{ "+5", -1, 0 },
	{ "-5", -1, 0 },
	{ "12a", -1, 0 },
};

START_TEST(modseq)
{
	struct imap_arg a = { .type = IMAP_ARG_ATOM };
	uint64_t v = 77;

	a.str = (char *)modseqs[_i].atom;
	a.len = strlen(a.str);
	ck_assert_int_eq(imap_arg_get_modseq(&a, &v), modseqs[_i].ret);
	ck_assert_uint_eq(v, modseqs[_i].ret == 0 ? modseqs[_i].value : 77);
	/* Only an atom: a quoted "5" is no mod-sequence. */
	a.type = IMAP_ARG_STRING;
	ck_assert_int_eq(imap_arg_get_modseq(&a, &v), -1);
}
END_TEST

START_TEST(limits)
{
	struct imap_parse_limits lim = { .max_args = 5, .max_depth = 2,
					 .max_kept = 64, .max_literal = 100 };
	char big[80];
	struct imap_parser *p = imap_parser_new(&lim);

	ck_assert_int_eq(imap_parser_feed_line(p, "* SEARCH 1 2 3 4 5", 18),
			 IMAP_PARSE_ERROR);
	ck_assert_ptr_nonnull(strstr(imap_parser_error(p), "over 5 arguments"));
	/* After an error the parser stays failed until reset. */
	ck_assert_int_eq(imap_parser_feed_line(p, "* OK", 4), IMAP_PARSE_ERROR);
	imap_parser_reset(p);
	ck_assert_int_eq(imap_parser_feed_line(p, "* X (((a)))", 11), IMAP_PARSE_ERROR);
	ck_assert_ptr_nonnull(strstr(imap_parser_error(p), "nested over 2"));
	imap_parser_reset(p);
	snprintf(big, sizeof(big), "* X \"%070d\"", 0);
	ck_assert_int_eq(imap_parser_feed_line(p, big, strlen(big)), IMAP_PARSE_ERROR);
	ck_assert_ptr_nonnull(strstr(imap_parser_error(p), "keeps over 64"));
	imap_parser_reset(p);
	ck_assert_int_eq(imap_parser_feed_line(p, "* X {101}", 9), IMAP_PARSE_ERROR);
	imap_parser_reset(p);
	ck_assert_int_eq(imap_parser_feed_line(p, "* X {70}", 8), IMAP_PARSE_LITERAL);
	ck_assert_int_eq(imap_parser_feed_literal(p, big, 70),
			 IMAP_PARSE_ERROR);
	ck_assert_ptr_nonnull(strstr(imap_parser_error(p), "kept per response"));
	imap_parser_reset(p);
	/* Streamed literals cost nothing kept. */
	ck_assert_int_eq(imap_parser_feed_line(p, "* X {100}", 9), IMAP_PARSE_LITERAL);
	ck_assert_int_eq(imap_parser_literal_streamed(p), IMAP_PARSE_NEED_LINE);
	ck_assert_int_eq(imap_parser_feed_line(p, "", 0), IMAP_PARSE_DONE);
	ck_assert_int_eq(imap_parser_feed_line(p, "* X\0Y", 5), IMAP_PARSE_ERROR);
	ck_assert_ptr_nonnull(strstr(imap_parser_error(p), "NUL byte"));
	imap_parser_free(&p);
}
END_TEST

static Suite *imap_parse_suite(void)
{
	Suite *s = suite_create("imap_parse");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, responses, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, literal_key_and_reuse);
	tcase_add_test(tc, limits);
	tcase_add_loop_test(tc, modseq, 0, sizeof(modseqs) / sizeof(modseqs[0]));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(imap_parse_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
