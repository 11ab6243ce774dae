/*
 * NAME
 *	test_imap_condstore 1
 * SUMMARY
 *	unit tests: the IMAP source's CONDSTORE/QRESYNC (RFC 7162) against
 *	scripted fake OLD servers
 * DESCRIPTION
 *	ENABLE as the capabilities say (and a refusal that only leaves
 *	the session without mod-sequences), HIGHESTMODSEQ and NOMODSEQ
 *	from EXAMINE, the CHANGEDSINCE listing with each MODSEQ, and what
 *	a hostile or broken OLD sends instead: a HIGHESTMODSEQ past 63
 *	bits, a CHANGEDSINCE answer without MODSEQ, MODSEQ and
 *	HIGHESTMODSEQ from a server nobody asked (not believed). The
 *	normal path runs against real Dovecot in
 *	tests/integration/test_sync_modseq.sh.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "driver.h"
#include "fakeserver.h"
#include "imap_client.h"
#include "log.h"
#include "mm_alloc.h"

#define LOGIN_EXPECT "M1 LOGIN \"u\" \"p\"\r"
#define CAPS_CONDSTORE "M1 OK [CAPABILITY IMAP4rev1 ENABLE CONDSTORE] in\r\n"
#define CAPS_QRESYNC "M1 OK [CAPABILITY IMAP4rev1 ENABLE CONDSTORE QRESYNC] in\r\n"
#define CAPS_PLAIN "M1 OK [CAPABILITY IMAP4rev1 ENABLE] in\r\n"
#define EXAMINE_EXPECT(tag) tag " EXAMINE \"INBOX\"\r"
#define CHANGED_EXPECT(tag, n) tag " UID FETCH 1:* (UID FLAGS INTERNALDATE " \
	"RFC822.SIZE MODSEQ) (CHANGEDSINCE " n ")\r"

struct listed {
	uint32_t uids[8];
	uint64_t modseqs[8];
	size_t count;
};

static int collect(const struct driver_message *msg, void *context)
{
	struct listed *l = context;

	ck_assert_uint_lt(l->count, 8);
	l->uids[l->count] = msg->uid;
	l->modseqs[l->count++] = msg->modseq;
	return 0;
}

static struct driver_conn *open_old(const struct fakeserver_step *script,
				    struct fakeserver *fs, char *host, size_t size)
{
	const struct driver_login login = { .user = "u", .password = "p" };
	struct driver_settings set = { 0 };
	struct driver_conn *conn = NULL;
	enum stream_fail fail;
	const char *error = NULL;

	ck_assert_int_eq(fakeserver_start(script, fs), 0);
	snprintf(host, size, "127.0.0.1:%u", fs->port);
	set.host = host;
	set.tls = CFG_TLS_NONE;
	set.connect_timeout_ms = 2000;
	set.timeout_ms = 2000;
	ck_assert_msg(source_driver_imap.open(&set, &login, &conn, &fail, &error) == 0,
		      "open: %s", error);
	return conn;
}

/* CONDSTORE and QRESYNC listed after login: both enabled, EXAMINE
 * gives HIGHESTMODSEQ, and a later round lists only what changed. */
START_TEST(enable_examine_changed)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1] OLD\r\n", 0, 0 },
		{ FAKE_EXPECT, LOGIN_EXPECT, 0, 0 },
		{ FAKE_SEND, CAPS_QRESYNC, 0, 0 },
		{ FAKE_EXPECT, "M2 ENABLE CONDSTORE QRESYNC\r", 0, 0 },
		{ FAKE_SEND, "* ENABLED CONDSTORE QRESYNC\r\nM2 OK enabled\r\n", 0, 0 },
		{ FAKE_EXPECT, EXAMINE_EXPECT("M3"), 0, 0 },
		{ FAKE_SEND, "* 3 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n"
		  "* OK [UIDNEXT 9] ok\r\n* OK [HIGHESTMODSEQ 9223372036854775807] ok\r\n"
		  "M3 OK [READ-ONLY] done\r\n", 0, 0 },
		{ FAKE_EXPECT, CHANGED_EXPECT("M4", "41"), 0, 0 },
		{ FAKE_SEND, "* 2 FETCH (UID 5 FLAGS (\\Seen) MODSEQ (42) RFC822.SIZE 10)\r\n"
		  "* 3 FETCH (UID 8 MODSEQ (50) FLAGS () RFC822.SIZE 11)\r\n"
		  "* VANISHED (EARLIER) 2:3\r\n"
		  "M4 OK done\r\n", 0, 0 },
		{ FAKE_EXPECT, "M5 LOGOUT\r", 0, 0 },
		{ FAKE_SEND, "M5 OK bye\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct driver_folder_status st;
	struct listed l = { 0 };
	struct fakeserver fs;
	struct driver_conn *conn;
	enum stream_fail fail;
	const char *error = NULL;
	char host[64];

	conn = open_old(script, &fs, host, sizeof(host));
	ck_assert(imap_client_condstore(imap_driver_client(conn)));
	ck_assert(imap_client_qresync(imap_driver_client(conn)));
	ck_assert_int_eq(source_driver_imap.select(conn, "INBOX", &st, &fail, &error), 0);
	ck_assert_uint_eq(st.uidvalidity, 7);
	ck_assert_uint_eq(st.exists, 3);
	ck_assert_uint_eq(st.highestmodseq, 9223372036854775807ULL);
	ck_assert_msg(source_driver_imap.list_changed(conn, 41, 0, collect, &l, &fail,
						      &error) == 0, "%s", error);
	ck_assert_uint_eq(l.count, 2);
	ck_assert_uint_eq(l.uids[0], 5);
	ck_assert_uint_eq(l.modseqs[0], 42);
	ck_assert_uint_eq(l.uids[1], 8);
	ck_assert_uint_eq(l.modseqs[1], 50);
	source_driver_imap.close(&conn);
	ck_assert_msg(fakeserver_stop(&fs), "OLD saw other bytes");
}
END_TEST

/* How OLD answers ENABLE, and what the session has then. Only
 * CONDSTORE listed: ENABLE CONDSTORE alone. */
static const struct {
	const char *caps;
	const char *enable;	/* the ENABLE expected, NULL: none sent */
	const char *answer;
	int condstore, qresync;
} enables[] = {
	{ CAPS_CONDSTORE, "M2 ENABLE CONDSTORE\r",
	  "* ENABLED CONDSTORE\r\nM2 OK done\r\n", 1, 0 },
	/* Refused, or not confirmed: on without mod-sequences, no failure. */
	{ CAPS_CONDSTORE, "M2 ENABLE CONDSTORE\r", "M2 NO not today\r\n", 0, 0 },
	{ CAPS_CONDSTORE, "M2 ENABLE CONDSTORE\r", "M2 BAD what\r\n", 0, 0 },
	{ CAPS_CONDSTORE, "M2 ENABLE CONDSTORE\r", "* ENABLED\r\nM2 OK nothing\r\n", 0, 0 },
	{ CAPS_QRESYNC, "M2 ENABLE CONDSTORE QRESYNC\r",
	  "* ENABLED QRESYNC\r\nM2 OK done\r\n", 1, 1 },
	{ CAPS_QRESYNC, "M2 ENABLE CONDSTORE QRESYNC\r",
	  "* ENABLED CONDSTORE\r\nM2 OK done\r\n", 1, 0 },
	/* Not listed, or no ENABLE: nothing sent. */
	{ CAPS_PLAIN, NULL, NULL, 0, 0 },
	{ "M1 OK [CAPABILITY IMAP4rev1 CONDSTORE] in\r\n", NULL, NULL, 0, 0 },
};

START_TEST(enable_answers)
{
	struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1] OLD\r\n", 0, 0 },
		{ FAKE_EXPECT, LOGIN_EXPECT, 0, 0 },
		{ FAKE_SEND, enables[_i].caps, 0, 0 },
		{ FAKE_EXPECT, enables[_i].enable, 0, 0 },
		{ FAKE_SEND, enables[_i].answer, 0, 0 },
		{ FAKE_EXPECT, "M3 LOGOUT\r", 0, 0 },
		{ FAKE_SEND, "M3 OK bye\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct driver_conn *conn;
	char host[64];

	if (enables[_i].enable == NULL) {
		script[3].text = "M2 LOGOUT\r";
		script[4].text = "M2 OK bye\r\n";
		script[5].op = FAKE_END;
	}
	conn = open_old(script, &fs, host, sizeof(host));
	ck_assert_int_eq(imap_client_condstore(imap_driver_client(conn)),
			 enables[_i].condstore);
	ck_assert_int_eq(imap_client_qresync(imap_driver_client(conn)),
			 enables[_i].qresync);
	source_driver_imap.close(&conn);
	ck_assert_msg(fakeserver_stop(&fs), "OLD saw other bytes");
}
END_TEST

/* A server nobody asked for mod-sequences: its HIGHESTMODSEQ and
 * MODSEQ are not believed (0), and list_changed is refused unsent. */
START_TEST(not_enabled_not_believed)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1] OLD\r\n", 0, 0 },
		{ FAKE_EXPECT, LOGIN_EXPECT, 0, 0 },
		{ FAKE_SEND, CAPS_PLAIN, 0, 0 },
		{ FAKE_EXPECT, EXAMINE_EXPECT("M2"), 0, 0 },
		{ FAKE_SEND, "* OK [UIDVALIDITY 7] ok\r\n* OK [HIGHESTMODSEQ 99] ok\r\n"
		  "M2 OK done\r\n", 0, 0 },
		{ FAKE_EXPECT, "M3 UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE)\r", 0, 0 },
		{ FAKE_SEND, "* 1 FETCH (UID 4 MODSEQ (98) FLAGS () RFC822.SIZE 3)\r\n"
		  "M3 OK done\r\n", 0, 0 },
		{ FAKE_EXPECT, "M4 LOGOUT\r", 0, 0 },
		{ FAKE_SEND, "M4 OK bye\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct driver_folder_status st;
	struct listed l = { 0 };
	struct fakeserver fs;
	struct driver_conn *conn;
	enum stream_fail fail;
	const char *error = NULL;
	char host[64];

	conn = open_old(script, &fs, host, sizeof(host));
	ck_assert_int_eq(source_driver_imap.select(conn, "INBOX", &st, &fail, &error), 0);
	ck_assert_uint_eq(st.highestmodseq, 0);
	ck_assert_int_eq(source_driver_imap.list_changed(conn, 5, 0, collect, &l, &fail,
							 &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_int_eq(source_driver_imap.list_messages(conn, 1, 0, collect, &l, &fail,
							  &error), 0);
	ck_assert_uint_eq(l.count, 1);
	ck_assert_uint_eq(l.uids[0], 4);
	ck_assert_uint_eq(l.modseqs[0], 0);
	source_driver_imap.close(&conn);
	ck_assert_msg(fakeserver_stop(&fs), "OLD saw other bytes");
}
END_TEST

/* What a broken or hostile OLD answers EXAMINE with: the status, or
 * a final failure. */
static const struct {
	const char *answer;
	int ret;
	uint64_t highestmodseq;
} examines[] = {
	{ "* OK [UIDVALIDITY 7] ok\r\n* OK [HIGHESTMODSEQ 1] ok\r\nM3 OK done\r\n", 0, 1 },
	/* NOMODSEQ: unknown, also when a HIGHESTMODSEQ comes as well. */
	{ "* OK [UIDVALIDITY 7] ok\r\n* OK [NOMODSEQ] no\r\nM3 OK done\r\n", 0, 0 },
	{ "* OK [UIDVALIDITY 7] ok\r\n* OK [HIGHESTMODSEQ 5] ok\r\n* OK [NOMODSEQ] no\r\n"
	  "M3 OK done\r\n", 0, 0 },
	/* Past 63 bits, past 64 bits, zero, not a number: malformed. */
	{ "* OK [UIDVALIDITY 7] ok\r\n* OK [HIGHESTMODSEQ 9223372036854775808] ok\r\n"
	  "M3 OK done\r\n", -1, 0 },
	{ "* OK [UIDVALIDITY 7] ok\r\n* OK [HIGHESTMODSEQ 18446744073709551616] ok\r\n"
	  "M3 OK done\r\n", -1, 0 },
	{ "* OK [UIDVALIDITY 7] ok\r\n* OK [HIGHESTMODSEQ 0] ok\r\nM3 OK done\r\n", -1, 0 },
	{ "* OK [UIDVALIDITY 7] ok\r\n* OK [HIGHESTMODSEQ (5)] ok\r\nM3 OK done\r\n", -1, 0 },
	{ "* OK [UIDVALIDITY 7] ok\r\n* OK [HIGHESTMODSEQ -5] ok\r\nM3 OK done\r\n", -1, 0 },
};

START_TEST(examine_hostile)
{
	struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1] OLD\r\n", 0, 0 },
		{ FAKE_EXPECT, LOGIN_EXPECT, 0, 0 },
		{ FAKE_SEND, CAPS_CONDSTORE, 0, 0 },
		{ FAKE_EXPECT, "M2 ENABLE CONDSTORE\r", 0, 0 },
		{ FAKE_SEND, "* ENABLED CONDSTORE\r\nM2 OK done\r\n", 0, 0 },
		{ FAKE_EXPECT, EXAMINE_EXPECT("M3"), 0, 0 },
		{ FAKE_SEND, examines[_i].answer, 0, 0 },
		{ FAKE_EXPECT, "M4 LOGOUT\r", 0, 0 },
		{ FAKE_SEND, "M4 OK bye\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct driver_folder_status st;
	struct fakeserver fs;
	struct driver_conn *conn;
	enum stream_fail fail = STREAM_FAIL_NONE;
	const char *error = NULL;
	char host[64];

	conn = open_old(script, &fs, host, sizeof(host));
	ck_assert_int_eq(source_driver_imap.select(conn, "INBOX", &st, &fail, &error),
			 examines[_i].ret);
	if (examines[_i].ret == 0) {
		ck_assert_uint_eq(st.highestmodseq, examines[_i].highestmodseq);
	} else {
		ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
		ck_assert_msg(strstr(error, "malformed HIGHESTMODSEQ") != NULL, "%s", error);
	}
	source_driver_imap.close(&conn);
	ck_assert_msg(fakeserver_stop(&fs), "OLD saw other bytes");
}
END_TEST

/* A CHANGEDSINCE answer without MODSEQ, or with a malformed one: the
 * listing fails, nothing half-listed is taken for the truth. */
static const char *const changed_hostile[] = {
	"* 1 FETCH (UID 5 FLAGS () RFC822.SIZE 10)\r\nM4 OK done\r\n",
	"* 1 FETCH (UID 5 FLAGS () RFC822.SIZE 10 MODSEQ 42)\r\nM4 OK done\r\n",
	"* 1 FETCH (UID 5 FLAGS () RFC822.SIZE 10 MODSEQ (99999999999999999999))\r\n"
	"M4 OK done\r\n",
	"* 1 FETCH (UID 5 FLAGS () RFC822.SIZE 10 MODSEQ (42)\r\nM4 OK done\r\n",
};

START_TEST(changed_malformed)
{
	struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1] OLD\r\n", 0, 0 },
		{ FAKE_EXPECT, LOGIN_EXPECT, 0, 0 },
		{ FAKE_SEND, CAPS_CONDSTORE, 0, 0 },
		{ FAKE_EXPECT, "M2 ENABLE CONDSTORE\r", 0, 0 },
		{ FAKE_SEND, "* ENABLED CONDSTORE\r\nM2 OK done\r\n", 0, 0 },
		{ FAKE_EXPECT, EXAMINE_EXPECT("M3"), 0, 0 },
		{ FAKE_SEND, "* OK [UIDVALIDITY 7] ok\r\n* OK [HIGHESTMODSEQ 50] ok\r\n"
		  "M3 OK done\r\n", 0, 0 },
		{ FAKE_EXPECT, CHANGED_EXPECT("M4", "41"), 0, 0 },
		{ FAKE_SEND, changed_hostile[_i], 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct driver_folder_status st;
	struct listed l = { 0 };
	struct fakeserver fs;
	struct driver_conn *conn;
	enum stream_fail fail = STREAM_FAIL_NONE;
	const char *error = NULL;
	char host[64];

	conn = open_old(script, &fs, host, sizeof(host));
	ck_assert_int_eq(source_driver_imap.select(conn, "INBOX", &st, &fail, &error), 0);
	ck_assert_int_eq(source_driver_imap.list_changed(conn, 41, 0, collect, &l, &fail,
							 &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_uint_eq(l.count, 0);
	source_driver_imap.close(&conn);
	fakeserver_stop(&fs);
}
END_TEST

static Suite *condstore_suite(void)
{
	Suite *s = suite_create("imap_condstore");
	TCase *tc = tcase_create("driver");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, enable_examine_changed);
	tcase_add_loop_test(tc, enable_answers, 0, sizeof(enables) / sizeof(enables[0]));
	tcase_add_test(tc, not_enabled_not_believed);
	tcase_add_loop_test(tc, examine_hostile, 0, sizeof(examines) / sizeof(examines[0]));
	tcase_add_loop_test(tc, changed_malformed, 0,
			    sizeof(changed_hostile) / sizeof(changed_hostile[0]));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(condstore_suite());
	int failed;

	(void)log_open("test_imap_condstore", LOG_DEST_STDERR, NULL, NULL);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
