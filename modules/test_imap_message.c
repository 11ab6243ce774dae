/*
 * NAME
 *	test_imap_message 1
 * SUMMARY
 *	unit tests: what OLD says about a message and what NEW is told
 * DESCRIPTION
 *	A scripted OLD answers the message listing with hostile FETCH
 *	items (an INTERNALDATE sent as a literal holding CR LF and a
 *	command, a date holding '"', keywords that are no atoms); a
 *	scripted NEW then expects the exact bytes of the APPEND and the
 *	MULTIAPPEND built from them, and nothing else before LOGOUT.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "driver.h"
#include "fakeserver.h"
#include "imap_message.h"
#include "log.h"
#include "mm_alloc.h"

#define OLD_GREETING "* OK [CAPABILITY IMAP4rev1] fake OLD\r\n"
#define NEW_GREETING "* OK [CAPABILITY IMAP4rev1 LITERAL+ MULTIAPPEND UIDPLUS] NEW\r\n"
#define LISTING "M3 UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE)\r"

#define DATE_WARNING "u: INBOX UID 1: the server's INTERNALDATE is not an " \
	"RFC 3501 date-time: copied with the date of the copy"
#define KEYWORD_WARNING "u: INBOX UID 1: a keyword from the server is not " \
	"an IMAP atom: copied without it"

/* The last warning logged. */
static char last_warning[512];

static void keep_warning(enum log_severity sev, const char *text)
{
	if (sev == LOG_SEV_WARNING)
		snprintf(last_warning, sizeof(last_warning), "%s", text);
}

/* What OLD lists, and what NEW must get for it as a single APPEND. */
static const struct {
	const char *what;
	const char *fetch;	/* OLD's untagged FETCH response(s) */
	const char *append;	/* the APPEND line NEW must see */
	const char *warning;	/* what the log says, or NULL */
} hostile[] = {
	{ "a literal date holding CR LF and a command",
	  "* 1 FETCH (UID 1 FLAGS (\\Seen) INTERNALDATE {27}\r\n"
	  "x\"\r\nZ DELETE Sent\r\nY NOOP \" RFC822.SIZE 5)\r\n",
	  "M2 APPEND \"INBOX\" (\\Seen) {5+}\r", DATE_WARNING },
	{ "a literal that is a good date is still a literal",
	  "* 1 FETCH (UID 1 FLAGS () INTERNALDATE {26}\r\n"
	  "17-Jul-1996 02:44:25 -0700 RFC822.SIZE 5)\r\n",
	  "M2 APPEND \"INBOX\" () {5+}\r", DATE_WARNING },
	{ "a date holding a quote",
	  "* 1 FETCH (UID 1 FLAGS (\\Flagged) INTERNALDATE "
	  "\"17-Jul-1996 02:44:25 -0700\\\" \\\"x\" RFC822.SIZE 5)\r\n",
	  "M2 APPEND \"INBOX\" (\\Flagged) {5+}\r", DATE_WARNING },
	{ "a keyword with brackets, spaces and parentheses",
	  "* 1 FETCH (UID 1 FLAGS (\\Seen [a b (c)] $Forwarded) "
	  "INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 5)\r\n",
	  "M2 APPEND \"INBOX\" (\\Seen $Forwarded) \"17-Jul-1996 02:44:25 -0700\" {5+}\r",
	  KEYWORD_WARNING },
	{ "keywords with 8-bit bytes, wildcards and a ']'",
	  "* 1 FETCH (UID 1 FLAGS (K\xc3\xa4se Junk% a*b x] $Label1) "
	  "INTERNALDATE \"01-Jan-2020 00:00:00 +0000\" RFC822.SIZE 5)\r\n",
	  "M2 APPEND \"INBOX\" ($Label1) \"01-Jan-2020 00:00:00 +0000\" {5+}\r",
	  KEYWORD_WARNING },
	{ "dates of the wrong shape or out of range",
	  "* 1 FETCH (UID 1 FLAGS () INTERNALDATE \"32-Jan-2020 00:00:00 +0000\" "
	  "RFC822.SIZE 5)\r\n",
	  "M2 APPEND \"INBOX\" () {5+}\r", DATE_WARNING },
	{ "a date with a one-digit day, written as date-day-fixed",
	  "* 1 FETCH (UID 1 FLAGS (\\Answered) INTERNALDATE \" 7-Jul-1996 02:44:25 +0200\" "
	  "RFC822.SIZE 5)\r\n",
	  "M2 APPEND \"INBOX\" (\\Answered) \" 7-Jul-1996 02:44:25 +0200\" {5+}\r",
	  NULL },
};

/* A message body held in memory. */
struct mem_body {
	struct driver_body body;
	const char *data;
	size_t off;
};

static int mem_read(struct driver_body *body, void *buf, size_t len, size_t *got_r,
		    enum stream_fail *fail_r, const char **error_r)
{
	struct mem_body *mb = body->ctx;
	size_t left = (size_t)body->size - mb->off;

	*got_r = len < left ? len : left;
	memcpy(buf, mb->data + mb->off, *got_r);
	mb->off += *got_r;
	return 0;
}

static void mem_body_init(struct mem_body *mb, const char *data)
{
	mb->body.size = strlen(data);
	mb->body.read = mem_read;
	mb->body.ctx = mb;
	mb->data = data;
	mb->off = 0;
}

struct listed {
	struct driver_message msgs[8];
	size_t count;
};

/* Keep a copy of each message OLD lists. */
static int collect(const struct driver_message *msg, void *context)
{
	struct listed *l = context;
	struct driver_message *m = &l->msgs[l->count++];

	ck_assert_uint_le(l->count, 8);
	*m = *msg;
	m->keywords = mm_calloc(msg->keywords_count + 1, sizeof(char *));
	for (size_t i = 0; i < msg->keywords_count; i++)
		m->keywords[i] = mm_strdup(msg->keywords[i]);
	m->message_id = NULL;
	return 0;
}

static void listed_clear(struct listed *l)
{
	for (size_t i = 0; i < l->count; i++)
		driver_message_clear(&l->msgs[i]);
	l->count = 0;
}

static struct driver_settings settings(char *host, size_t size,
				       const struct fakeserver *fs)
{
	struct driver_settings set = { 0 };

	snprintf(host, size, "127.0.0.1:%u", fs->port);
	set.host = host;
	set.tls = CFG_TLS_NONE;
	set.connect_timeout_ms = 2000;
	set.timeout_ms = 2000;
	return set;
}

/* Log in to a fake OLD whose listing is fetch, and list its INBOX. */
static void list_from_old(const char *fetch, struct listed *l)
{
	const struct fakeserver_step script[] = {
		{ FAKE_SEND, OLD_GREETING, 0, 0 },
		{ FAKE_EXPECT, "M1 LOGIN \"u\" \"p\"\r", 0, 0 },
		{ FAKE_SEND, "M1 OK in\r\n", 0, 0 },
		{ FAKE_EXPECT, "M2 EXAMINE \"INBOX\"\r", 0, 0 },
		{ FAKE_SEND, "* OK [UIDVALIDITY 7] ok\r\nM2 OK [READ-ONLY] done\r\n", 0, 0 },
		{ FAKE_EXPECT, LISTING, 0, 0 },
		{ FAKE_SEND, fetch, 0, 0 },
		{ FAKE_SEND, "M3 OK done\r\n", 0, 0 },
		{ FAKE_EXPECT, "M4 LOGOUT\r", 0, 0 },
		{ FAKE_SEND, "M4 OK bye\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	const struct driver_login login = { .user = "u", .password = "p" };
	struct driver_folder_status st;
	struct driver_settings set;
	struct driver_conn *conn;
	struct fakeserver fs;
	enum stream_fail fail;
	const char *error;
	char host[64];

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	set = settings(host, sizeof(host), &fs);
	ck_assert_int_eq(source_driver_imap.open(&set, &login, &conn, &fail, &error), 0);
	ck_assert_int_eq(source_driver_imap.select(conn, "INBOX", &st, &fail, &error), 0);
	ck_assert_msg(source_driver_imap.list_messages(conn, 1, 0, collect, l, &fail,
						       &error) == 0, "listing: %s", error);
	source_driver_imap.close(&conn);
	ck_assert(fakeserver_stop(&fs));
}

/* One hostile message, one APPEND: NEW sees that line, the body, and
 * then only LOGOUT. */
START_TEST(append_hostile)
{
	const struct fakeserver_step script[] = {
		{ FAKE_SEND, NEW_GREETING, 0, 0 },
		{ FAKE_EXPECT, "M1 LOGIN \"u\" \"p\"\r", 0, 0 },
		{ FAKE_SEND, "M1 OK in\r\n", 0, 0 },
		{ FAKE_EXPECT, hostile[_i].append, 0, 0 },
		{ FAKE_EXPECT, "hello\r", 0, 0 },
		{ FAKE_SEND, "M2 OK [APPENDUID 9 41] done\r\n", 0, 0 },
		{ FAKE_EXPECT, "M3 LOGOUT\r", 0, 0 },
		{ FAKE_SEND, "M3 OK bye\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	const struct driver_login login = { .user = "u", .password = "p" };
	struct listed l = { 0 };
	struct driver_settings set;
	struct driver_conn *conn;
	struct mem_body mb;
	struct fakeserver fs;
	enum stream_fail fail;
	const char *error;
	uint32_t uid;
	char host[64];

	last_warning[0] = '\0';
	log_set_handler(keep_warning);
	list_from_old(hostile[_i].fetch, &l);
	log_set_handler(NULL);
	ck_assert_str_eq(last_warning, hostile[_i].warning != NULL ? hostile[_i].warning : "");
	ck_assert_uint_eq(l.count, 1);
	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	set = settings(host, sizeof(host), &fs);
	ck_assert_int_eq(target_driver_imap.open(&set, &login, &conn, &fail, &error), 0);
	mem_body_init(&mb, "hello");
	ck_assert_msg(target_driver_imap.append(conn, "INBOX", &l.msgs[0], &mb.body, &uid,
						&fail, &error) == 0,
		      "%s: %s", hostile[_i].what, error);
	ck_assert_uint_eq(uid, 41);
	target_driver_imap.close(&conn);
	ck_assert_msg(fakeserver_stop(&fs), "%s: NEW saw other bytes", hostile[_i].what);
	listed_clear(&l);
}
END_TEST

/* All of them in one listing, then one MULTIAPPEND: exact bytes. */
START_TEST(multiappend_hostile)
{
	const struct fakeserver_step script[] = {
		{ FAKE_SEND, NEW_GREETING, 0, 0 },
		{ FAKE_EXPECT, "M1 LOGIN \"u\" \"p\"\r", 0, 0 },
		{ FAKE_SEND, "M1 OK in\r\n", 0, 0 },
		{ FAKE_EXPECT, "M2 APPEND \"INBOX\" (\\Seen) {2+}\r", 0, 0 },
		{ FAKE_EXPECT, "m1 () {2+}\r", 0, 0 },
		{ FAKE_EXPECT, "m2 (\\Flagged) {2+}\r", 0, 0 },
		{ FAKE_EXPECT, "m3 (\\Seen $Forwarded) \"17-Jul-1996 02:44:25 -0700\" {2+}\r", 0, 0 },
		{ FAKE_EXPECT, "m4\r", 0, 0 },
		{ FAKE_SEND, "M2 OK [APPENDUID 9 41:44] done\r\n", 0, 0 },
		{ FAKE_EXPECT, "M3 LOGOUT\r", 0, 0 },
		{ FAKE_SEND, "M3 OK bye\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	static const char *const bodies[] = { "m1", "m2", "m3", "m4" };
	const struct driver_login login = { .user = "u", .password = "p" };
	struct listed l = { 0 };
	struct driver_settings set;
	struct driver_conn *conn;
	struct fakeserver fs;
	enum stream_fail fail;
	const char *error;
	uint32_t uids[4];
	char host[64];
	char *fetch = mm_asprintf("%s%s%s%s", hostile[0].fetch, hostile[1].fetch,
				  hostile[2].fetch, hostile[3].fetch);

	list_from_old(fetch, &l);
	mm_free(&fetch);
	ck_assert_uint_eq(l.count, 4);
	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	set = settings(host, sizeof(host), &fs);
	ck_assert_int_eq(target_driver_imap.open(&set, &login, &conn, &fail, &error), 0);
	ck_assert(target_driver_imap.can_batch(conn));
	ck_assert_int_eq(target_driver_imap.append_begin(conn, "INBOX", &fail, &error), 0);
	for (size_t i = 0; i < 4; i++) {
		struct mem_body mb;

		mem_body_init(&mb, bodies[i]);
		ck_assert_msg(target_driver_imap.append_add(conn, &l.msgs[i], &mb.body,
							    &fail, &error) == 0,
			      "message %zu: %s", i, error);
	}
	ck_assert_msg(driver_append_end(&target_driver_imap, conn, uids, 4, &fail, &error) == 0,
		      "%s", error);
	ck_assert_uint_eq(uids[3], 44);
	target_driver_imap.close(&conn);
	ck_assert_msg(fakeserver_stop(&fs), "NEW saw other bytes");
	listed_clear(&l);
}
END_TEST

/* RFC 3501 date-time, and what is not one. */
static const struct {
	const char *date;
	int valid;
} dates[] = {
	{ "17-Jul-1996 02:44:25 -0700", 1 },
	{ " 7-Jul-1996 02:44:25 +0000", 1 },
	{ "31-dec-2020 23:59:60 +2359", 1 },
	{ "7-Jul-1996 02:44:25 -0700", 0 },	/* date-day, not -fixed */
	{ "07-Jul-1996 02:44:25 -0700 ", 0 },
	{ "00-Jul-1996 02:44:25 -0700", 0 },
	{ "32-Jul-1996 02:44:25 -0700", 0 },
	{ "17-Jux-1996 02:44:25 -0700", 0 },
	{ "17-Jul-96 02:44:25 -0700", 0 },
	{ "17-Jul-1996 24:00:00 -0700", 0 },
	{ "17-Jul-1996 02:60:00 -0700", 0 },
	{ "17-Jul-1996 02:44:61 -0700", 0 },
	{ "17-Jul-1996 02:44:25 0700", 0 },
	{ "17-Jul-1996 02:44:25 *0700", 0 },
	{ "17-Jul-1996 02:44:25 -0760", 0 },
	{ "17-Jul-1996 02:44:25 -07:0", 0 },
	{ "17-Jul-1996 2:44:25 -07000", 0 },
	{ "17-Jul-1996 02:44:25 -0700\"", 0 },
	{ "17-Jul-1996\r\n02:44:25 -07", 0 },
	{ "17-Jul-1996 02:44:2\" -0700", 0 },
	{ "", 0 },
};

START_TEST(date_valid)
{
	ck_assert_msg(imap_message_date_valid(dates[_i].date) == dates[_i].valid,
		      "'%s'", dates[_i].date);
}
END_TEST

/* RFC 3501 flag-keyword atoms, and what is not one. */
static const struct {
	const char *keyword;
	int valid;
} keywords[] = {
	{ "$Forwarded", 1 },
	{ "NonJunk", 1 },
	{ "a.b-c_d+e/f!#&'", 1 },
	{ "[a b (c)]", 0 },
	{ "[ab", 0 },
	{ "a]", 0 },
	{ "a b", 0 },
	{ "(c)", 0 },
	{ "{5}", 0 },
	{ "x%", 0 },
	{ "x*", 0 },
	{ "q\"", 0 },
	{ "\\Seen", 0 },
	{ "tab\t", 0 },
	{ "cr\r", 0 },
	{ "del\x7f", 0 },
	{ "K\xc3\xa4se", 0 },
	{ "", 0 },
};

START_TEST(keyword_valid)
{
	char longest[DRIVER_MAX_KEYWORD + 2];

	ck_assert_msg(imap_message_keyword_valid(keywords[_i].keyword) ==
		      keywords[_i].valid, "'%s'", keywords[_i].keyword);
	memset(longest, 'k', sizeof(longest) - 2);
	longest[sizeof(longest) - 2] = '\0';
	ck_assert(imap_message_keyword_valid(longest));
	longest[sizeof(longest) - 2] = 'k';
	longest[sizeof(longest) - 1] = '\0';
	ck_assert(!imap_message_keyword_valid(longest));
}
END_TEST

/* A message made by another source (or by a bug): the builder refuses
 * what the reader would have left out, rather than send it. */
START_TEST(append_args_refused)
{
	struct driver_message msg = { 0 };
	char *kw[] = { (char *)"$Forwarded", (char *)"a b" };
	const char *error;
	char *out;

	msg.flags = DRIVER_FLAG_SEEN | DRIVER_FLAG_DRAFT;
	ck_assert_int_eq(imap_message_append_args(&msg, 12, 0, &out, &error), 0);
	ck_assert_str_eq(out, "(\\Seen \\Draft) {12}");
	mm_free(&out);
	snprintf(msg.internaldate, sizeof(msg.internaldate), "%s", " 1-Feb-2003 04:05:06 +0100");
	msg.keywords = kw;
	msg.keywords_count = 1;
	ck_assert_int_eq(imap_message_append_args(&msg, 0, 1, &out, &error), 0);
	ck_assert_str_eq(out, "(\\Seen \\Draft $Forwarded) \" 1-Feb-2003 04:05:06 +0100\" {0+}");
	mm_free(&out);
	msg.keywords_count = 2;
	ck_assert_int_eq(imap_message_append_args(&msg, 1, 1, &out, &error), -1);
	ck_assert_str_eq(error, "a keyword is not an IMAP atom");
	ck_assert_int_eq(imap_message_flag_list(&msg, &out, &error), -1);
	msg.keywords_count = 1;
	snprintf(msg.internaldate, sizeof(msg.internaldate), "%s", "x\"\r\nZ DELETE Sent");
	ck_assert_int_eq(imap_message_append_args(&msg, 1, 1, &out, &error), -1);
	ck_assert_str_eq(error, "the date is not an RFC 3501 date-time");
	/* Not NUL-terminated at all. */
	memset(msg.internaldate, '1', sizeof(msg.internaldate));
	ck_assert_int_eq(imap_message_append_args(&msg, 1, 1, &out, &error), -1);
}
END_TEST

/* FETCH attributes that are malformed fail the listing; what is only
 * unusable is dropped and said. */
static const struct {
	const char *line;
	int ret;
	unsigned dropped;
	const char *date;
	size_t keywords;
	uint64_t modseq;
} fetches[] = {
	{ "* 1 FETCH (UID 3 RFC822.SIZE 9 FLAGS (\\Seen \\Recent \\X a) "
	  "INTERNALDATE \"01-Jan-2020 00:00:00 +0000\")", 0, 0, "01-Jan-2020 00:00:00 +0000", 1, 0 },
	{ "* 1 FETCH (UID 3 RFC822.SIZE 9 INTERNALDATE \"01-Jan-2020\")", 0,
	  IMAP_MESSAGE_DROPPED_DATE, "", 0, 0 },
	{ "* 1 FETCH (UID 3 RFC822.SIZE 9 INTERNALDATE "
	  "\"01-Jan-2020 00:00:00 +0000 and much more than fits\")", 0,
	  IMAP_MESSAGE_DROPPED_DATE, "", 0, 0 },
	{ "* 1 FETCH (UID 3 RFC822.SIZE 9 FLAGS (a [b c] d%))", 0,
	  IMAP_MESSAGE_DROPPED_KEYWORD, "", 1, 0 },
	{ "* 1 FETCH (UID 3 RFC822.SIZE 9 INTERNALDATE NIL)", -1, 0, "", 0, 0 },
	{ "* 1 FETCH (UID 3 RFC822.SIZE 9 FLAGS (\"quoted\"))", -1, 0, "", 0, 0 },
	{ "* 1 FETCH (UID 3 FLAGS ())", -1, 0, "", 0, 0 },
	{ "* 1 FETCH (UID 0 RFC822.SIZE 9)", -1, 0, "", 0, 0 },
	{ "* 1 FETCH (UID 3 RFC822.SIZE)", -1, 0, "", 0, 0 },
	{ "* 1 FETCH (UID 3 RFC822.SIZE 9 FLAGS 12)", -1, 0, "", 0, 0 },
	{ "* 1 FETCH (UID 3 RFC822.SIZE 9 FLAGS (a) X)", -1, 0, "", 0, 0 },
	/* RFC 7162 MODSEQ: "(n)", 1 to 2^63-1. */
	{ "* 1 FETCH (UID 3 MODSEQ (12345) RFC822.SIZE 9)", 0, 0, "", 0, 12345 },
	{ "* 1 FETCH (UID 3 RFC822.SIZE 9 MODSEQ (9223372036854775807))", 0, 0, "", 0,
	  9223372036854775807ULL },
	{ "* 1 FETCH (UID 3 RFC822.SIZE 9 MODSEQ (9223372036854775808))", -1, 0, "", 0, 0 },
	{ "* 1 FETCH (UID 3 RFC822.SIZE 9 MODSEQ (18446744073709551617))", -1, 0, "", 0, 0 },
	{ "* 1 FETCH (UID 3 RFC822.SIZE 9 MODSEQ 12)", -1, 0, "", 0, 0 },
	{ "* 1 FETCH (UID 3 RFC822.SIZE 9 MODSEQ (0))", -1, 0, "", 0, 0 },
	{ "* 1 FETCH (UID 3 RFC822.SIZE 9 MODSEQ ())", -1, 0, "", 0, 0 },
	{ "* 1 FETCH (UID 3 RFC822.SIZE 9 MODSEQ (1 2))", -1, 0, "", 0, 0 },
	{ "* 1 FETCH (UID 3 RFC822.SIZE 9 MODSEQ ((5)))", -1, 0, "", 0, 0 },
	{ "* 1 FETCH (UID 3 RFC822.SIZE 9 MODSEQ (\"5\"))", -1, 0, "", 0, 0 },
	{ "* 1 FETCH (UID 3 RFC822.SIZE 9 MODSEQ)", -1, 0, "", 0, 0 },
};

START_TEST(from_fetch)
{
	struct imap_parser *p = imap_parser_new(NULL);
	const struct imap_arg *args;
	struct driver_message msg;
	enum stream_fail fail = STREAM_FAIL_NONE;
	const char *error = NULL;
	unsigned dropped = 0;
	size_t count;
	int ret;

	ck_assert_int_eq(imap_parser_feed_line(p, fetches[_i].line, strlen(fetches[_i].line)),
			 IMAP_PARSE_DONE);
	args = imap_parser_args(p, &count);
	ck_assert_uint_eq(count, 3);
	ret = imap_message_from_fetch(&args[2], &msg, &dropped, &fail, &error);
	ck_assert_int_eq(ret, fetches[_i].ret);
	if (ret == 0) {
		ck_assert_uint_eq(dropped, fetches[_i].dropped);
		ck_assert_str_eq(msg.internaldate, fetches[_i].date);
		ck_assert_uint_eq(msg.keywords_count, fetches[_i].keywords);
		ck_assert_uint_eq(msg.uid, 3);
		ck_assert_uint_eq(msg.size, 9);
		ck_assert_uint_eq(msg.modseq, fetches[_i].modseq);
	} else {
		/* Always classified and said (a FLAGS that is no list was not). */
		ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
		ck_assert_ptr_nonnull(error);
		ck_assert_msg(strncmp(error, "malformed ", 10) == 0 ||
			      strcmp(error, "FETCH response without UID or RFC822.SIZE") == 0,
			      "%s", error);
		ck_assert_ptr_null(msg.keywords);
	}
	driver_message_clear(&msg);
	imap_parser_free(&p);
}
END_TEST

/* The target refuses a message whose date is no date-time before a
 * byte goes out: a failed item (STREAM_FAIL_MESSAGE), and NEW sees
 * only the next command. */
START_TEST(append_refused_unsent)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, NEW_GREETING, 0, 0 },
		{ FAKE_EXPECT, "M1 LOGIN \"u\" \"p\"\r", 0, 0 },
		{ FAKE_SEND, "M1 OK in\r\n", 0, 0 },
		{ FAKE_EXPECT, "M2 UID STORE 5 FLAGS.SILENT (\\Seen)\r", 0, 0 },
		{ FAKE_SEND, "M2 OK stored\r\n", 0, 0 },
		{ FAKE_EXPECT, "M3 LOGOUT\r", 0, 0 },
		{ FAKE_SEND, "M3 OK bye\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	const struct driver_login login = { .user = "u", .password = "p" };
	struct driver_message msg = { 0 };
	char *kw[] = { (char *)"a)" };
	struct driver_settings set;
	struct driver_conn *conn;
	struct mem_body mb;
	struct fakeserver fs;
	enum stream_fail fail;
	const char *error;
	uint32_t uid;
	char host[64];

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	set = settings(host, sizeof(host), &fs);
	ck_assert_int_eq(target_driver_imap.open(&set, &login, &conn, &fail, &error), 0);
	msg.uid = 5;
	msg.flags = DRIVER_FLAG_SEEN;
	snprintf(msg.internaldate, sizeof(msg.internaldate), "x\"\r\nZ DELETE Sent");
	mem_body_init(&mb, "hello");
	ck_assert_int_eq(target_driver_imap.append(conn, "INBOX", &msg, &mb.body, &uid,
						   &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_MESSAGE);
	ck_assert_ptr_nonnull(strstr(error, "not sent"));
	ck_assert_ptr_nonnull(strstr(error, "not an RFC 3501 date-time"));
	/* UID STORE refuses a bad keyword the same way. */
	msg.keywords = kw;
	msg.keywords_count = 1;
	ck_assert_int_eq(target_driver_imap.set_flags(conn, 5, &msg, &fail, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "not an IMAP atom"));
	msg.keywords_count = 0;
	ck_assert_int_eq(target_driver_imap.set_flags(conn, 5, &msg, &fail, &error), 0);
	target_driver_imap.close(&conn);
	ck_assert_msg(fakeserver_stop(&fs), "NEW saw other bytes");
}
END_TEST

/* A folder name that cannot be quoted (a control byte) goes as a
 * literal in APPEND and MULTIAPPEND, as in CREATE and SELECT. */
START_TEST(append_folder_literal)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, NEW_GREETING, 0, 0 },
		{ FAKE_EXPECT, "M1 LOGIN \"u\" \"p\"\r", 0, 0 },
		{ FAKE_SEND, "M1 OK in\r\n", 0, 0 },
		{ FAKE_EXPECT, "M2 APPEND {8+}\r", 0, 0 },
		{ FAKE_EXPECT, "Tab\there (\\Seen) {5+}\r", 0, 0 },
		{ FAKE_EXPECT, "hello\r", 0, 0 },
		{ FAKE_SEND, "M2 OK [APPENDUID 9 41] done\r\n", 0, 0 },
		{ FAKE_EXPECT, "M3 APPEND {8+}\r", 0, 0 },
		{ FAKE_EXPECT, "Tab\there (\\Seen) {5+}\r", 0, 0 },
		{ FAKE_EXPECT, "hello\r", 0, 0 },
		{ FAKE_SEND, "M3 OK [APPENDUID 9 42] done\r\n", 0, 0 },
		{ FAKE_EXPECT, "M4 LOGOUT\r", 0, 0 },
		{ FAKE_SEND, "M4 OK bye\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	const struct driver_login login = { .user = "u", .password = "p" };
	struct driver_message msg = { 0 };
	struct driver_settings set;
	struct driver_conn *conn;
	struct mem_body mb;
	struct fakeserver fs;
	enum stream_fail fail;
	const char *error;
	uint32_t uid;
	char host[64];

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	set = settings(host, sizeof(host), &fs);
	ck_assert_int_eq(target_driver_imap.open(&set, &login, &conn, &fail, &error), 0);
	msg.uid = 5;
	msg.flags = DRIVER_FLAG_SEEN;
	mem_body_init(&mb, "hello");
	ck_assert_msg(target_driver_imap.append(conn, "Tab\there", &msg, &mb.body, &uid,
						&fail, &error) == 0, "%s", error);
	ck_assert_uint_eq(uid, 41);
	ck_assert_msg(target_driver_imap.append_begin(conn, "Tab\there", &fail, &error) == 0,
		      "%s", error);
	mem_body_init(&mb, "hello");
	ck_assert_int_eq(target_driver_imap.append_add(conn, &msg, &mb.body, &fail, &error), 0);
	ck_assert_int_eq(driver_append_end(&target_driver_imap, conn, &uid, 1, &fail, &error), 0);
	ck_assert_uint_eq(uid, 42);
	target_driver_imap.close(&conn);
	ck_assert_msg(fakeserver_stop(&fs), "NEW saw other bytes");
}
END_TEST

/* NEW's refusals of an APPEND, as each response code classes them
 * (resp_code(3)): this message only, or the job's, for now or for good.
 * Dovecot's own wording where it has one. */
static const struct {
	const char *answer;	/* after the tag */
	enum stream_fail fail;
	const char *error;	/* in the error */
} append_refusals[] = {
	{ "NO [OVERQUOTA] Quota exceeded (mailbox for user is full)",
	  STREAM_FAIL_WAIT, "NO [OVERQUOTA] Quota exceeded" },
	{ "NO [UNAVAILABLE] Temporary failure", STREAM_FAIL_WAIT, "[UNAVAILABLE]" },
	{ "NO [INUSE] Mailbox is locked", STREAM_FAIL_WAIT, "[INUSE]" },
	{ "NO [LIMIT] Too many messages", STREAM_FAIL_WAIT, "[LIMIT]" },
	{ "NO [SERVERBUG] Internal error occurred", STREAM_FAIL_WAIT, "[SERVERBUG]" },
	{ "no [overquota] lower case", STREAM_FAIL_WAIT, "[overquota]" },
	{ "NO [TOOBIG] Mail size is larger than the maximum size allowed",
	  STREAM_FAIL_MESSAGE, "[TOOBIG]" },
	{ "NO [PARSE] Invalid message", STREAM_FAIL_MESSAGE, "[PARSE]" },
	{ "NO [CANNOT] Message cannot be stored", STREAM_FAIL_MESSAGE, "[CANNOT]" },
	{ "NO Message refused", STREAM_FAIL_MESSAGE, "refused: NO Message refused" },
	{ "BAD Invalid arguments", STREAM_FAIL_MESSAGE, "BAD Invalid arguments" },
	{ "NO [ALERT] Said for the user", STREAM_FAIL_MESSAGE, "[ALERT]" },
	{ "NO [X-SOMETHING 1] Unknown code", STREAM_FAIL_MESSAGE, "[X-SOMETHING]" },
	{ "NO [TRYCREATE] Mailbox doesn't exist", STREAM_FAIL_TEMP, "[TRYCREATE]" },
	{ "NO [NOPERM] Permission denied", STREAM_FAIL_FINAL, "[NOPERM]" },
	{ "NO [READ-ONLY] Read-only mailbox", STREAM_FAIL_FINAL, "[READ-ONLY]" },
};

/* One APPEND (LITERAL+) refused: the class, the code in the error, and
 * the connection still in step (LOGOUT is the next command). */
START_TEST(append_refusal_class)
{
	char *answer = mm_asprintf("M2 %s\r\n", append_refusals[_i].answer);
	const struct fakeserver_step script[] = {
		{ FAKE_SEND, NEW_GREETING, 0, 0 },
		{ FAKE_EXPECT, "M1 LOGIN \"u\" \"p\"\r", 0, 0 },
		{ FAKE_SEND, "M1 OK in\r\n", 0, 0 },
		{ FAKE_EXPECT, "M2 APPEND \"INBOX\" (\\Seen) {5+}\r", 0, 0 },
		{ FAKE_EXPECT, "hello\r", 0, 0 },
		{ FAKE_SEND, answer, 0, 0 },
		{ FAKE_EXPECT, "M3 LOGOUT\r", 0, 0 },
		{ FAKE_SEND, "M3 OK bye\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	const struct driver_login login = { .user = "u", .password = "p" };
	struct driver_message msg = { 0 };
	struct driver_settings set;
	struct driver_conn *conn;
	struct mem_body mb;
	struct fakeserver fs;
	enum stream_fail fail;
	const char *error;
	uint32_t uid;
	char host[64];

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	set = settings(host, sizeof(host), &fs);
	ck_assert_int_eq(target_driver_imap.open(&set, &login, &conn, &fail, &error), 0);
	msg.uid = 5;
	msg.flags = DRIVER_FLAG_SEEN;
	mem_body_init(&mb, "hello");
	ck_assert_int_eq(target_driver_imap.append(conn, "INBOX", &msg, &mb.body, &uid,
						   &fail, &error), -1);
	ck_assert_msg(fail == append_refusals[_i].fail, "%s: class %s",
		      append_refusals[_i].answer, stream_fail_name(fail));
	ck_assert_msg(strstr(error, append_refusals[_i].error) != NULL, "%s", error);
	target_driver_imap.close(&conn);
	ck_assert_msg(fakeserver_stop(&fs), "NEW saw other bytes");
	mm_free(&answer);
}
END_TEST

/* A MULTIAPPEND refused as a whole: the same classes, so the copy sends
 * the batch one by one only when a message in it is at fault
 * (STREAM_FAIL_MESSAGE), and waits when NEW cannot take any now. */
START_TEST(multiappend_refusal_class)
{
	char *answer = mm_asprintf("M2 %s\r\n", append_refusals[_i].answer);
	const struct fakeserver_step script[] = {
		{ FAKE_SEND, NEW_GREETING, 0, 0 },
		{ FAKE_EXPECT, "M1 LOGIN \"u\" \"p\"\r", 0, 0 },
		{ FAKE_SEND, "M1 OK in\r\n", 0, 0 },
		{ FAKE_EXPECT, "M2 APPEND \"INBOX\" (\\Seen) {5+}\r", 0, 0 },
		{ FAKE_EXPECT, "hello (\\Seen) {5+}\r", 0, 0 },
		{ FAKE_EXPECT, "hello\r", 0, 0 },
		{ FAKE_SEND, answer, 0, 0 },
		{ FAKE_EXPECT, "M3 LOGOUT\r", 0, 0 },
		{ FAKE_SEND, "M3 OK bye\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	const struct driver_login login = { .user = "u", .password = "p" };
	struct driver_message msg = { 0 };
	struct driver_settings set;
	struct driver_conn *conn;
	struct mem_body mb;
	struct fakeserver fs;
	enum stream_fail fail;
	const char *error;
	uint32_t uids[2];
	char host[64];

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	set = settings(host, sizeof(host), &fs);
	ck_assert_int_eq(target_driver_imap.open(&set, &login, &conn, &fail, &error), 0);
	msg.uid = 5;
	msg.flags = DRIVER_FLAG_SEEN;
	ck_assert_int_eq(target_driver_imap.append_begin(conn, "INBOX", &fail, &error), 0);
	for (int i = 0; i < 2; i++) {
		mem_body_init(&mb, "hello");
		ck_assert_int_eq(target_driver_imap.append_add(conn, &msg, &mb.body,
							       &fail, &error), 0);
	}
	ck_assert_int_eq(driver_append_end(&target_driver_imap, conn, uids, 2, &fail, &error), -1);
	ck_assert_msg(fail == append_refusals[_i].fail, "%s: class %s",
		      append_refusals[_i].answer, stream_fail_name(fail));
	ck_assert_msg(strstr(error, append_refusals[_i].error) != NULL, "%s", error);
	target_driver_imap.close(&conn);
	ck_assert_msg(fakeserver_stop(&fs), "NEW saw other bytes");
	mm_free(&answer);
}
END_TEST

/* Without LITERAL+, NEW may refuse before "+": no byte of the message
 * goes out, and the refusal is classed the same way. */
START_TEST(append_refused_before_continuation)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1 UIDPLUS] NEW\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 LOGIN \"u\" \"p\"\r", 0, 0 },
		{ FAKE_SEND, "M1 OK in\r\n", 0, 0 },
		{ FAKE_EXPECT, "M2 APPEND \"INBOX\" (\\Seen) {5}\r", 0, 0 },
		{ FAKE_SEND, "M2 NO [OVERQUOTA] Quota exceeded (mailbox for user is full)\r\n",
		  0, 0 },
		{ FAKE_EXPECT, "M3 APPEND \"INBOX\" (\\Seen) {5}\r", 0, 0 },
		{ FAKE_SEND, "M3 NO [TOOBIG] Too big\r\n", 0, 0 },
		{ FAKE_EXPECT, "M4 LOGOUT\r", 0, 0 },
		{ FAKE_SEND, "M4 OK bye\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	const struct driver_login login = { .user = "u", .password = "p" };
	struct driver_message msg = { 0 };
	struct driver_settings set;
	struct driver_conn *conn;
	struct mem_body mb;
	struct fakeserver fs;
	enum stream_fail fail;
	const char *error;
	uint32_t uid;
	char host[64];

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	set = settings(host, sizeof(host), &fs);
	ck_assert_int_eq(target_driver_imap.open(&set, &login, &conn, &fail, &error), 0);
	msg.uid = 5;
	msg.flags = DRIVER_FLAG_SEEN;
	mem_body_init(&mb, "hello");
	ck_assert_int_eq(target_driver_imap.append(conn, "INBOX", &msg, &mb.body, &uid,
						   &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_WAIT);
	ck_assert_msg(strstr(error, "APPEND refused: NO [OVERQUOTA]") != NULL, "%s", error);
	mem_body_init(&mb, "hello");
	ck_assert_int_eq(target_driver_imap.append(conn, "INBOX", &msg, &mb.body, &uid,
						   &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_MESSAGE);
	target_driver_imap.close(&conn);
	ck_assert_msg(fakeserver_stop(&fs), "NEW saw other bytes");
}
END_TEST

static Suite *message_suite(void)
{
	Suite *s = suite_create("imap_message");
	TCase *tu = tcase_create("pure");
	TCase *tc = tcase_create("driver");

	tcase_add_loop_test(tu, date_valid, 0, sizeof(dates) / sizeof(dates[0]));
	tcase_add_loop_test(tu, keyword_valid, 0, sizeof(keywords) / sizeof(keywords[0]));
	tcase_add_test(tu, append_args_refused);
	tcase_add_loop_test(tu, from_fetch, 0, sizeof(fetches) / sizeof(fetches[0]));
	suite_add_tcase(s, tu);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, append_hostile, 0, sizeof(hostile) / sizeof(hostile[0]));
	tcase_add_test(tc, multiappend_hostile);
	tcase_add_test(tc, append_refused_unsent);
	tcase_add_loop_test(tc, append_refusal_class, 0,
			    sizeof(append_refusals) / sizeof(append_refusals[0]));
	tcase_add_loop_test(tc, multiappend_refusal_class, 0,
			    sizeof(append_refusals) / sizeof(append_refusals[0]));
	tcase_add_test(tc, append_refused_before_continuation);
	tcase_add_test(tc, append_folder_literal);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(message_suite());
	int failed;

	(void)log_open("test_imap_message", LOG_DEST_STDERR, NULL, NULL);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
