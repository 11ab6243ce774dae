/*
 * NAME
 *	test_imap_client 1
 * SUMMARY
 *	unit tests: the IMAP client against scripted fake servers
 * DESCRIPTION
 *	The paths a real Dovecot does not take on demand; the normal paths
 *	(TLS modes, logins) run against real Dovecot in tests/integration.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "fakeserver.h"
#include "freewatch.h"
#include "imap_client.h"
#include "log.h"
#include "mm_alloc.h"
#include "sasl_oauth.h"

static struct imap_client_settings settings(const struct fakeserver *fs,
					    enum cfg_tls tls)
{
	struct imap_client_settings set = { 0 };

	set.host = "127.0.0.1";
	set.port = fs->port;
	set.tls = tls;
	set.connect_timeout_ms = 2000;
	set.timeout_ms = 2000;
	return set;
}

/* Connect to a server playing script; returns the result of connect. */
static int try_connect(const struct fakeserver_step *script, enum cfg_tls tls,
		       struct fakeserver *fs, struct imap_client **c,
		       enum stream_fail *fail, const char **error)
{
	struct imap_client_settings set;

	ck_assert_int_eq(fakeserver_start(script, fs), 0);
	set = settings(fs, tls);
	*c = NULL;
	return imap_client_connect(&set, c, fail, error);
}

START_TEST(greeting_caps_and_login_quoted)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS "
		  "MULTIAPPEND APPENDLIMIT=1048576] ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 LOGIN \"u@x.test\" \"p \\\"q\\\" \\\\\"\r", 0, 0 },
		{ FAKE_SEND, "M1 OK [CAPABILITY IMAP4rev1 UIDPLUS ID] Logged in\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct imap_client *c;
	enum stream_fail fail;
	const char *error;
	unsigned caps;

	ck_assert_int_eq(try_connect(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	caps = imap_client_caps(c);
	ck_assert(caps & IMAP_CAP_LITERALPLUS);
	ck_assert(caps & IMAP_CAP_MULTIAPPEND);
	ck_assert(!(caps & IMAP_CAP_STARTTLS));
	ck_assert_uint_eq(imap_client_appendlimit(c), 1048576);
	ck_assert_str_eq(imap_client_greeting(c), "ready");
	ck_assert_int_eq(imap_client_login(c, NULL, "u@x.test", "p \"q\" \\",
					   &fail, &error), 0);
	/* The login's answer replaced the capabilities. */
	caps = imap_client_caps(c);
	ck_assert(caps & IMAP_CAP_ID);
	ck_assert(!(caps & IMAP_CAP_MULTIAPPEND));
	imap_client_close(&c);
	ck_assert_ptr_null(c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* An 8-bit password goes as a literal, waiting for "+" without LITERAL+. */
START_TEST(login_literal_sync)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1] ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 LOGIN \"u\" {7}\r", 0, 0 },
		{ FAKE_SEND, "+ OK\r\n", 0, 0 },
		{ FAKE_EXPECT, "p\xc3\xa4sswd\r", 0, 0 },
		{ FAKE_SEND, "M1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct imap_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(try_connect(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(imap_client_login(c, NULL, "u", "p\xc3\xa4sswd", &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_AUTH);
	ck_assert_ptr_nonnull(strstr(error, "login refused: NO [AUTHENTICATIONFAILED] "
				     "Authentication failed."));
	ck_assert_int_eq(imap_client_last_answer(c)->code, RESP_CODE_AUTHENTICATIONFAILED);
	/* The password is nowhere in the error. */
	ck_assert_ptr_null(strstr(error, "sswd"));
	imap_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* AUTH=PLAIN with SASL-IR, on behalf of another user (master login). */
START_TEST(auth_plain_authzid)
{
	/* base64("user@x.test\0admin\0secret") */
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 AUTHENTICATE PLAIN dXNlckB4LnRlc3QAYWRtaW4Ac2VjcmV0\r", 0, 0 },
		{ FAKE_SEND, "M1 OK Logged in\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct imap_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(try_connect(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(imap_client_login(c, "user@x.test", "admin", "secret",
					   &fail, &error), 0);
	imap_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* No buffer that held the password is freed unwiped (issue 9): the
 * formatted LOGIN / AUTHENTICATE command and the stream's buffers. */
static const struct {
	const char *greeting;
	const char *expect;	/* the line carrying the secret */
	const char *needle;	/* what must not be left in freed memory */
} wipe_cases[] = {
	{ "* OK [CAPABILITY IMAP4rev1] ready\r\n",
	  "M1 LOGIN \"u\" \"Wipe-Me-Pw-7\"\r", "Wipe-Me-Pw-7" },
	/* base64("\0u\0Wipe-Me-Pw-7") */
	{ "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\r\n",
	  "M1 AUTHENTICATE PLAIN AHUAV2lwZS1NZS1Qdy03\r", "AHUAV2lwZS1NZS1Qdy03" },
	{ "* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n",
	  "M1 LOGIN \"u\" {13+}\r", "Wipe-Me-Pw-7\xc3" },
};

START_TEST(login_buffers_wiped)
{
	const struct fakeserver_step script[] = {
		{ FAKE_SEND, wipe_cases[_i].greeting, 0, 0 },
		{ FAKE_EXPECT, wipe_cases[_i].expect, 0, 0 },
		{ _i == 2 ? FAKE_EXPECT : FAKE_SLEEP_MS, "Wipe-Me-Pw-7\xc3\r", 0, 0 },
		{ FAKE_SEND, "M1 OK Logged in\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	const char *password = _i == 2 ? "Wipe-Me-Pw-7\xc3" : "Wipe-Me-Pw-7";
	struct fakeserver fs;
	struct imap_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(try_connect(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	freewatch_set(wipe_cases[_i].needle);
	ck_assert_int_eq(imap_client_login(c, NULL, "u", password, &fail, &error), 0);
	imap_client_close(&c);
	ck_assert_uint_eq(freewatch_count(), 0);
	freewatch_set(NULL);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* AUTHENTICATE without SASL-IR waits for the "+". */
START_TEST(auth_plain_no_sasl_ir)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 CAPABILITY\r", 0, 0 },
		{ FAKE_SEND, "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nM1 OK done\r\n", 0, 0 },
		{ FAKE_EXPECT, "M2 AUTHENTICATE PLAIN\r", 0, 0 },
		{ FAKE_SEND, "+ \r\n", 0, 0 },
		{ FAKE_EXPECT, "AHUAcA==\r", 0, 0 },
		{ FAKE_SEND, "M2 OK Logged in\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct imap_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(try_connect(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert(imap_client_caps(c) & IMAP_CAP_AUTH_PLAIN);
	ck_assert_int_eq(imap_client_login(c, NULL, "u", "p", &fail, &error), 0);
	imap_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* Greetings and servers that must be refused, each classified. */
static const struct {
	const char *greeting;
	enum cfg_tls tls;
	enum stream_fail fail;
	const char *expect;
} bad[] = {
	{ "* BYE Too many connections\r\n", CFG_TLS_NONE, STREAM_FAIL_WAIT,
	  "bad greeting from 127.0.0.1: Too many connections" },
	{ "* NO go away\r\n", CFG_TLS_NONE, STREAM_FAIL_FINAL, "bad greeting" },
	/* No status word at all: an untagged line, a continuation. */
	{ "*\r\n", CFG_TLS_NONE, STREAM_FAIL_FINAL,
	  "bad greeting from 127.0.0.1: '*' without a status" },
	{ "* \r\n", CFG_TLS_NONE, STREAM_FAIL_FINAL, "'*' without a status" },
	{ "+ x\r\n", CFG_TLS_NONE, STREAM_FAIL_FINAL,
	  "bad greeting from 127.0.0.1: '+' without a status: x" },
	{ "+\r\n", CFG_TLS_NONE, STREAM_FAIL_FINAL, "'+' without a status" },
	{ "* 3 EXISTS\r\n", CFG_TLS_NONE, STREAM_FAIL_FINAL, "bad greeting" },
	{ "M1 OK early\r\n", CFG_TLS_NONE, STREAM_FAIL_FINAL,
	  "bad greeting from 127.0.0.1: early" },
	{ "hello there\r\n", CFG_TLS_NONE, STREAM_FAIL_FINAL, "malformed response" },
	{ "* OK [CAPABILITY IMAP4rev1] no tls here\r\n", CFG_TLS_STARTTLS,
	  STREAM_FAIL_FINAL, "does not offer STARTTLS" },
	{ "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] ready\r\n", CFG_TLS_NONE,
	  STREAM_FAIL_FINAL, "LOGINDISABLED" },
	{ "* OK [CAPABILITY IMAP4rev1 ((] x\r\n", CFG_TLS_NONE, STREAM_FAIL_FINAL,
	  "malformed response" },
};

START_TEST(bad_servers)
{
	struct fakeserver_step script[] = {
		{ FAKE_SEND, bad[_i].greeting, 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct imap_client *c;
	enum stream_fail fail = STREAM_FAIL_NONE;
	const char *error;
	int ret = try_connect(script, bad[_i].tls, &fs, &c, &fail, &error);

	if (ret == 0)	/* refused only at login */
		ret = imap_client_login(c, NULL, "u", "p", &fail, &error);
	ck_assert_int_eq(ret, -1);
	ck_assert_int_eq(fail, bad[_i].fail);
	ck_assert_msg(strstr(error, bad[_i].expect) != NULL, "got '%s'", error);
	imap_client_close(&c);
	fakeserver_stop(&fs);
}
END_TEST

/* detect and a server without STARTTLS: plain when TLS was never seen
 * there; refused as a downgrade (retry later, before any LOGIN could
 * be sent) when the TLS memory says it completed STARTTLS before. */
static const int64_t downgrade_seen[] = { 0, 1700000000 };

START_TEST(detect_downgrade)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] stripped\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct imap_client_settings set;
	struct fakeserver fs;
	struct imap_client *c = NULL;
	enum stream_fail fail = STREAM_FAIL_NONE;
	const char *error = NULL;
	int downgrade = 0, ret;

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	set = settings(&fs, CFG_TLS_DETECT);
	set.tls_seen = downgrade_seen[_i];
	set.downgrade_r = &downgrade;
	ret = imap_client_connect(&set, &c, &fail, &error);
	if (downgrade_seen[_i] == 0) {
		ck_assert_int_eq(ret, 0);
		ck_assert_int_eq(downgrade, 0);
	} else {
		ck_assert_int_eq(ret, -1);
		ck_assert_ptr_null(c);
		ck_assert_int_eq(fail, STREAM_FAIL_WAIT);
		ck_assert_int_eq(downgrade, 1);
		ck_assert_msg(strstr(error, "127.0.0.1 no longer offers STARTTLS (it did "
				     "on 2023-11-14 22:13:20 UTC): refusing plaintext")
			      != NULL, "got '%s'", error);
	}
	imap_client_close(&c);
	fakeserver_stop(&fs);
}
END_TEST

START_TEST(hung_banner)
{
	static const struct fakeserver_step script[] = { { FAKE_HANG, NULL, 0, 0 } };
	struct imap_client_settings set;
	struct fakeserver fs;
	struct imap_client *c = NULL;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	set = settings(&fs, CFG_TLS_NONE);
	set.timeout_ms = 300;
	ck_assert_int_eq(imap_client_connect(&set, &c, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_WAIT);
	ck_assert_ptr_nonnull(strstr(error, "timed out"));
	ck_assert_ptr_null(c);
	fakeserver_stop(&fs);
}
END_TEST

struct fetch_seen {
	uint64_t streamed;
	int untagged;
};

static int stream_body(struct imap_client *c, const char *key, uint64_t size,
		       void *ctx, enum stream_fail *fail_r, const char **error_r)
{
	struct fetch_seen *seen = ctx;
	char buf[7];
	uint64_t left = size;

	if (key == NULL || strcmp(key, "BODY[]") != 0)
		return 0;
	/* Deliberately small chunks: bodies are never held whole. */
	while (left > 0) {
		size_t got;

		if (stream_read(imap_client_stream(c), buf,
				left < sizeof(buf) ? (size_t)left : sizeof(buf),
				&got, fail_r, error_r) < 0)
			return -1;
		left -= got;
	}
	seen->streamed += size;
	return 1;
}

static int count_untagged(struct imap_client *c, const struct imap_arg *args,
			  size_t count, void *ctx, enum stream_fail *fail_r,
			  const char **error_r)
{
	((struct fetch_seen *)ctx)->untagged++;
	return 0;
}

/* Pipelined commands answered out of order; bodies streamed. */
START_TEST(pipelined_fetch)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1] ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 UID FETCH 1 (BODY.PEEK[])\r", 0, 0 },
		{ FAKE_EXPECT, "M2 NOOP\r", 0, 0 },
		{ FAKE_SEND, "M2 OK noop\r\n* 1 FETCH (UID 1 BODY[] {20}\r\n"
		  "01234567890123456789 FLAGS (\\Seen))\r\n"
		  "* 1 FETCH (BODY[HEADER] {3}\r\nabc)\r\n"
		  "M1 OK [APPENDUID 5 6] fetched\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	const struct imap_cmd_handlers h = { count_untagged, stream_body, NULL };
	struct imap_cmd_handlers hh = h;
	struct fetch_seen seen = { 0 };
	const struct imap_arg *code;
	struct fakeserver fs;
	struct imap_client *c;
	enum stream_fail fail;
	enum imap_status status;
	const char *error;
	unsigned t1, t2;
	size_t count;

	hh.ctx = &seen;
	ck_assert_int_eq(try_connect(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(imap_client_send(c, "UID FETCH 1 (BODY.PEEK[])", &t1, &fail,
					  &error), 0);
	ck_assert_int_eq(imap_client_send(c, "NOOP", &t2, &fail, &error), 0);
	ck_assert_int_eq(imap_client_wait(c, t1, &hh, &status, &fail, &error), 0);
	ck_assert_int_eq(status, IMAP_STATUS_OK);
	ck_assert_str_eq(error, "fetched");
	code = imap_client_last_code(c, &count);
	ck_assert_uint_eq(count, 3);
	ck_assert(imap_arg_is_atom(&code[0], "APPENDUID"));
	ck_assert_uint_eq(seen.streamed, 20);
	ck_assert_int_eq(seen.untagged, 2);
	/* M2 was answered first; its answer was kept. */
	ck_assert_int_eq(imap_client_wait(c, t2, &hh, &status, &fail, &error), 0);
	ck_assert_int_eq(status, IMAP_STATUS_OK);
	ck_assert_str_eq(error, "noop");
	imap_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* Cut mid-literal: a TEMP failure, so the caller resumes later. */
START_TEST(cut_mid_literal)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1] ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 UID FETCH", 0, 0 },
		{ FAKE_SEND, "* 1 FETCH (UID 1 BODY[] {100000}\r\n", 0, 0 },
		{ FAKE_SEND_REPEAT, "0123456789", 0, 500 },
		{ FAKE_CLOSE, NULL, 0, 0 },
	};
	struct fetch_seen seen = { 0 };
	const struct imap_cmd_handlers h = { count_untagged, stream_body, &seen };
	struct fakeserver fs;
	struct imap_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(try_connect(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(imap_client_run(c, "UID FETCH 1:* (BODY.PEEK[])", &h, &fail,
					 &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_TEMP);
	ck_assert_ptr_nonnull(strstr(error, "closed by the server"));
	imap_client_close(&c);
	fakeserver_stop(&fs);
}
END_TEST

/* A malformed FETCH response: FINAL, with what and where. */
START_TEST(malformed_fetch)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1] ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 UID FETCH", 0, 0 },
		{ FAKE_SEND, "* 1 FETCH (UID 1 FLAGS (\\Seen)))\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct imap_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(try_connect(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(imap_client_run(c, "UID FETCH 1:* (FLAGS)", NULL, &fail,
					 &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_msg(strstr(error, "malformed response from the server: "
			     "unexpected ')' at byte 31") != NULL, "got '%s'", error);
	imap_client_close(&c);
	fakeserver_stop(&fs);
}
END_TEST

/* A command with an astring argument: quoted with what follows, as a
 * LITERAL+ literal, and a synchronising literal the server refuses. */
START_TEST(run_astring)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 EXAMINE \"a \\\"b\\\"\" (CONDSTORE)\r", 0, 0 },
		{ FAKE_SEND, "* 3 EXISTS\r\nM1 OK done\r\n", 0, 0 },
		{ FAKE_EXPECT, "M2 EXAMINE {5+}\r", 0, 0 },
		{ FAKE_EXPECT, "K\xc3\xa4se\r", 0, 0 },
		{ FAKE_SEND, "M2 NO [NONEXISTENT] no such folder\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	static const struct fakeserver_step sync_script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1] ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 SELECT {5}\r", 0, 0 },
		{ FAKE_SEND, "M1 BAD no literals today\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct imap_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(try_connect(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(imap_client_run_astring(c, "EXAMINE", "a \"b\"", "(CONDSTORE)",
						 NULL, &fail, &error), 0);
	ck_assert_int_eq(imap_client_run_astring(c, "EXAMINE", "K\xc3\xa4se", NULL,
						 NULL, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_ptr_nonnull(strstr(error, "EXAMINE failed: NO"));
	imap_client_close(&c);
	ck_assert(fakeserver_stop(&fs));

	ck_assert_int_eq(try_connect(sync_script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(imap_client_run_astring(c, "SELECT", "K\xc3\xa4se", NULL,
						 NULL, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	imap_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* UTF8=ACCEPT listed: ENABLE after login, ENABLED checked; then a
 * UTF-8 name goes as a quoted string, one that is not UTF-8 is never
 * sent (the next command gets the next tag). */
START_TEST(enable_utf8)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1 LITERAL+ ENABLE UTF8=ACCEPT] ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 LOGIN \"u\" \"p\"\r", 0, 0 },
		{ FAKE_SEND, "M1 OK done\r\n", 0, 0 },
		{ FAKE_EXPECT, "M2 ENABLE UTF8=ACCEPT\r", 0, 0 },
		{ FAKE_SEND, "* ENABLED UTF8=ACCEPT\r\nM2 OK enabled\r\n", 0, 0 },
		{ FAKE_EXPECT, "M3 EXAMINE \"Entw\xc3\xbcrfe \\\"x\\\"\"\r", 0, 0 },
		{ FAKE_SEND, "M3 OK done\r\n", 0, 0 },
		{ FAKE_EXPECT, "M4 EXAMINE \"A&B\"\r", 0, 0 },
		{ FAKE_SEND, "M4 OK done\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct imap_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(try_connect(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(imap_client_login(c, NULL, "u", "p", &fail, &error), 0);
	ck_assert(!imap_client_utf8(c));
	ck_assert_int_eq(imap_client_enable_utf8(c, &fail, &error), 0);
	ck_assert(imap_client_utf8(c));
	ck_assert_int_eq(imap_client_run_astring(c, "EXAMINE", "Entw\xc3\xbcrfe \"x\"",
						 NULL, NULL, &fail, &error), 0);
	/* Latin-1, not UTF-8: refused, nothing sent. */
	ck_assert_int_eq(imap_client_run_astring(c, "EXAMINE", "Entw\xfcrfe",
						 NULL, NULL, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_msg(strstr(error, "not valid UTF-8") != NULL, "got '%s'", error);
	ck_assert_msg(imap_client_run_astring(c, "EXAMINE", "A&B", NULL, NULL,
					      &fail, &error) == 0, "got '%s'", error);
	imap_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* ENABLE refused, or not confirmed: a final failure with the reason. */
static const struct {
	const char *answer;
	const char *expect;
} enable_refusals[] = {
	{ "M2 NO not today\r\n", "ENABLE failed: NO not today" },
	{ "M2 BAD what\r\n", "ENABLE failed: BAD what" },
	{ "* ENABLED\r\nM2 OK nothing enabled\r\n", "does not confirm it" },
	{ "* ENABLED CONDSTORE\r\nM2 OK\r\n", "does not confirm it" },
};

START_TEST(enable_utf8_refused)
{
	struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1 UTF8=ACCEPT] ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 LOGIN \"u\" \"p\"\r", 0, 0 },
		{ FAKE_SEND, "M1 OK done\r\n", 0, 0 },
		{ FAKE_EXPECT, "M2 ENABLE UTF8=ACCEPT\r", 0, 0 },
		{ FAKE_SEND, enable_refusals[_i].answer, 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct imap_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(try_connect(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(imap_client_login(c, NULL, "u", "p", &fail, &error), 0);
	ck_assert_int_eq(imap_client_enable_utf8(c, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_msg(strstr(error, enable_refusals[_i].expect) != NULL, "got '%s'", error);
	ck_assert(!imap_client_utf8(c));
	imap_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* Without UTF8=ACCEPT nothing is sent. */
START_TEST(enable_utf8_not_listed)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1 ENABLE] ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 NOOP\r", 0, 0 },
		{ FAKE_SEND, "M1 OK done\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct imap_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(try_connect(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(imap_client_enable_utf8(c, &fail, &error), 0);
	ck_assert(!imap_client_utf8(c));
	ck_assert_int_eq(imap_client_run(c, "NOOP", NULL, &fail, &error), 0);
	imap_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* Well-formed UTF-8 only. */
START_TEST(utf8_valid)
{
	ck_assert(imap_client_utf8_valid(""));
	ck_assert(imap_client_utf8_valid("INBOX&-x"));
	ck_assert(imap_client_utf8_valid("Donn\xc3\xa9" "es \xe2\x82\xac \xf0\x9f\x93\xa7"));
	ck_assert(!imap_client_utf8_valid("Donn\xe9" "es"));	/* Latin-1 */
	ck_assert(!imap_client_utf8_valid("\xc0\xaf"));	/* overlong '/' */
	ck_assert(!imap_client_utf8_valid("\xed\xa0\x80"));	/* surrogate */
	ck_assert(!imap_client_utf8_valid("\xf4\x90\x80\x80"));	/* > U+10FFFF */
	ck_assert(!imap_client_utf8_valid("\xe2\x82"));	/* cut short */
}
END_TEST

/* A command holding a line break is refused before a byte goes out:
 * the server sees the next command, with the next tag. */
START_TEST(send_refuses_line_breaks)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1] ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 NOOP\r", 0, 0 },
		{ FAKE_SEND, "M1 OK done\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	static const char *const bad_commands[] = {
		"NOOP\r\nZ DELETE Sent", "NOOP\nZ DELETE Sent", "NOOP\rZ DELETE Sent",
	};
	struct fakeserver fs;
	struct imap_client *c;
	enum stream_fail fail;
	const char *error;
	unsigned tag = 0;

	ck_assert_int_eq(try_connect(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	for (size_t i = 0; i < sizeof(bad_commands) / sizeof(bad_commands[0]); i++) {
		ck_assert_int_eq(imap_client_send(c, bad_commands[i], &tag, &fail, &error), -1);
		ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
		ck_assert_ptr_nonnull(strstr(error, "line break"));
	}
	ck_assert_int_eq(imap_client_send_astring(c, "EXAMINE", "INBOX", "(A)\r\nZ DELETE Sent",
						  &tag, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_int_eq(imap_client_send_astring(c, "EXAMINE\n", "INBOX", NULL,
						  &tag, &fail, &error), -1);
	ck_assert_int_eq(imap_client_run(c, "NOOP", NULL, &fail, &error), 0);
	imap_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

START_TEST(quote)
{
	char *q = imap_client_quote("a\"b\\c d");

	ck_assert_str_eq(q, "\"a\\\"b\\\\c d\"");
	mm_free(&q);
	ck_assert_ptr_null(imap_client_quote("line\r\nbreak"));
	ck_assert_ptr_null(imap_client_quote("\xc3\xa4"));
	/* Every control byte (NUL ends a C string): a literal, never quoted. */
	for (int ch = 1; ch < 0x20; ch++) {
		char s[4] = { 'a', (char)ch, 'b', '\0' };

		ck_assert_msg(imap_client_quote(s) == NULL, "0x%02x quoted", ch);
	}
	ck_assert_ptr_null(imap_client_quote("del\x7f"));
	q = imap_client_quote("");
	ck_assert_str_eq(q, "\"\"");
	mm_free(&q);
}
END_TEST

/* Login refusals, classed by their response codes: only refused
 * credentials are STREAM_FAIL_AUTH (the auth-hook's wrong password);
 * Dovecot's wording where it has one. */
static const struct {
	const char *answer;	/* after the tag */
	enum stream_fail fail;
	enum resp_code code;
} login_refusals[] = {
	{ "NO [AUTHENTICATIONFAILED] Authentication failed.", STREAM_FAIL_AUTH,
	  RESP_CODE_AUTHENTICATIONFAILED },
	{ "NO Login failed.", STREAM_FAIL_AUTH, RESP_CODE_NONE },
	{ "BAD Error in IMAP command", STREAM_FAIL_AUTH, RESP_CODE_NONE },
	{ "NO [ALERT] Bad password", STREAM_FAIL_AUTH, RESP_CODE_ALERT },
	{ "NO [AUTHORIZATIONFAILED] Not a master user", STREAM_FAIL_AUTH,
	  RESP_CODE_AUTHORIZATIONFAILED },
	{ "NO [EXPIRED] Password expired", STREAM_FAIL_AUTH, RESP_CODE_EXPIRED },
	{ "NO [UNAVAILABLE] Temporary authentication failure. [h:2026-01-01]",
	  STREAM_FAIL_WAIT, RESP_CODE_UNAVAILABLE },
	{ "NO [SERVERBUG] Internal error", STREAM_FAIL_WAIT, RESP_CODE_SERVERBUG },
	{ "NO [INUSE] Mailbox in use", STREAM_FAIL_WAIT, RESP_CODE_INUSE },
	{ "NO [LIMIT] Too many connections", STREAM_FAIL_WAIT, RESP_CODE_LIMIT },
	{ "NO [PRIVACYREQUIRED] Plaintext authentication disallowed",
	  STREAM_FAIL_FINAL, RESP_CODE_PRIVACYREQUIRED },
	{ "NO [CONTACTADMIN] Account locked", STREAM_FAIL_FINAL, RESP_CODE_CONTACTADMIN },
	{ "NO [X-VENDOR-THING] What is this", STREAM_FAIL_AUTH, RESP_CODE_OTHER },
	{ "NO [authenticationfailed] lower case", STREAM_FAIL_AUTH,
	  RESP_CODE_AUTHENTICATIONFAILED },
};

START_TEST(login_refusal_class)
{
	char *answer = mm_asprintf("M1 %s\r\n", login_refusals[_i].answer);
	const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1] ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 LOGIN \"u\" \"secret\"\r", 0, 0 },
		{ FAKE_SEND, answer, 0, 0 },
		{ FAKE_EXPECT, "M2 NOOP\r", 0, 0 },
		{ FAKE_SEND, "M2 OK done\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct imap_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(try_connect(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(imap_client_login(c, NULL, "u", "secret", &fail, &error), -1);
	ck_assert_msg(fail == login_refusals[_i].fail, "%s: class %s",
		      login_refusals[_i].answer, stream_fail_name(fail));
	ck_assert_int_eq(imap_client_last_answer(c)->code, login_refusals[_i].code);
	ck_assert_int_eq(imap_client_last_answer(c)->tag, 1);
	ck_assert_msg(strncmp(error, "login refused: ", 15) == 0, "%s", error);
	ck_assert_ptr_null(strstr(error, "secret"));
	/* Still in step. */
	ck_assert_int_eq(imap_client_run(c, "NOOP", NULL, &fail, &error), 0);
	imap_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
	mm_free(&answer);
}
END_TEST

/* AUTHENTICATE refused before its "+": a login refusal all the same,
 * classed by its code. */
START_TEST(auth_plain_refused_early)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 AUTHENTICATE PLAIN\r", 0, 0 },
		{ FAKE_SEND, "M1 NO [UNAVAILABLE] Try later\r\n", 0, 0 },
		{ FAKE_EXPECT, "M2 AUTHENTICATE PLAIN\r", 0, 0 },
		{ FAKE_SEND, "M2 NO [AUTHENTICATIONFAILED] No\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct imap_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(try_connect(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(imap_client_login(c, NULL, "u", "p", &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_WAIT);
	ck_assert_msg(strstr(error, "login refused: NO [UNAVAILABLE] Try later") != NULL,
		      "%s", error);
	ck_assert_int_eq(imap_client_login(c, NULL, "u", "p", &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_AUTH);
	imap_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* Commands: the code read once, kept with a pipelined answer until it
 * is asked for, and classed for a command. */
START_TEST(command_refusal_codes)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1] ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 SELECT a\r", 0, 0 },
		{ FAKE_EXPECT, "M2 SELECT b\r", 0, 0 },
		{ FAKE_EXPECT, "M3 SELECT c\r", 0, 0 },
		{ FAKE_SEND, "M3 NO [NONEXISTENT] no c\r\nM2 NO [INUSE] b busy\r\n"
		  "M1 OK [READ-WRITE] a\r\n", 0, 0 },
		{ FAKE_EXPECT, "M4 CREATE x\r", 0, 0 },
		{ FAKE_SEND, "M4 NO [UNAVAILABLE] later\r\n", 0, 0 },
		{ FAKE_EXPECT, "M5 FETCH 1 BODY[]\r", 0, 0 },
		{ FAKE_SEND, "M5 NO [EXPUNGEISSUED] gone\r\n", 0, 0 },
		{ FAKE_EXPECT, "M6 NOOP\r", 0, 0 },
		{ FAKE_SEND, "M6 BAD what\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct imap_client *c;
	enum stream_fail fail;
	enum imap_status status;
	const char *error;
	unsigned t1, t2, t3;

	ck_assert_int_eq(try_connect(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(imap_client_send(c, "SELECT a", &t1, &fail, &error), 0);
	ck_assert_int_eq(imap_client_send(c, "SELECT b", &t2, &fail, &error), 0);
	ck_assert_int_eq(imap_client_send(c, "SELECT c", &t3, &fail, &error), 0);
	ck_assert_int_eq(imap_client_wait(c, t1, NULL, &status, &fail, &error), 0);
	ck_assert_int_eq(status, IMAP_STATUS_OK);
	ck_assert_int_eq(imap_client_last_answer(c)->code, RESP_CODE_READ_WRITE);
	ck_assert_int_eq(imap_client_wait(c, t2, NULL, &status, &fail, &error), 0);
	ck_assert_int_eq(status, IMAP_STATUS_NO);
	ck_assert_int_eq(imap_client_last_answer(c)->code, RESP_CODE_INUSE);
	ck_assert_int_eq(imap_client_refused(c, RESP_CONTEXT_COMMAND, "SELECT failed",
					     &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_WAIT);
	ck_assert_str_eq(error, "SELECT failed: NO [INUSE] b busy");
	ck_assert_int_eq(imap_client_wait(c, t3, NULL, &status, &fail, &error), 0);
	ck_assert_int_eq(imap_client_last_answer(c)->code, RESP_CODE_NONEXISTENT);
	ck_assert_int_eq(imap_client_last_answer(c)->tag, t3);
	ck_assert_int_eq(imap_client_run(c, "CREATE x", NULL, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_WAIT);
	ck_assert_str_eq(error, "CREATE failed: NO [UNAVAILABLE] later");
	ck_assert_int_eq(imap_client_run(c, "FETCH 1 BODY[]", NULL, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_TEMP);
	ck_assert_int_eq(imap_client_run(c, "NOOP", NULL, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_str_eq(error, "NOOP failed: BAD what");
	imap_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* The one table: every code has a name that reads back as itself (IMAP
 * and POP3 apart), and a class in every context. */
START_TEST(resp_code_table)
{
	static const enum stream_fail none_class[] = {
		[RESP_CONTEXT_LOGIN] = STREAM_FAIL_AUTH,
		[RESP_CONTEXT_APPEND] = STREAM_FAIL_MESSAGE,
		[RESP_CONTEXT_COMMAND] = STREAM_FAIL_FINAL,
	};

	for (int code = RESP_CODE_ALERT; code < RESP_CODE_COUNT; code++) {
		const char *name = resp_code_name((enum resp_code)code);
		char text[64];

		ck_assert_msg(name != NULL && *name != '\0' && strcmp(name, "?") != 0,
			      "code %d has no name", code);
		snprintf(text, sizeof(text), "[%s] x", name);
		if (code >= RESP_CODE_POP3_LOGIN_DELAY) {
			ck_assert_int_eq(resp_code_pop3(text, strlen(text)), code);
			ck_assert_int_eq(resp_code_imap(name), RESP_CODE_OTHER);
		} else {
			ck_assert_int_eq(resp_code_imap(name), code);
			ck_assert_int_eq(resp_code_pop3(text, strlen(text)), RESP_CODE_OTHER);
		}
		for (int ctx = RESP_CONTEXT_LOGIN; ctx <= RESP_CONTEXT_COMMAND; ctx++) {
			enum stream_fail f = resp_code_class((enum resp_code)code,
							     (enum resp_context)ctx);

			ck_assert_msg(f != STREAM_FAIL_NONE, "%s: no class", name);
			/* Only a login refuses credentials; only an APPEND
			 * refuses one message. */
			ck_assert(f != STREAM_FAIL_AUTH || ctx == RESP_CONTEXT_LOGIN);
			ck_assert(f != STREAM_FAIL_MESSAGE || ctx == RESP_CONTEXT_APPEND);
		}
	}
	for (int ctx = RESP_CONTEXT_LOGIN; ctx <= RESP_CONTEXT_COMMAND; ctx++) {
		ck_assert_int_eq(resp_code_class(RESP_CODE_NONE, (enum resp_context)ctx),
				 none_class[ctx]);
		ck_assert_int_eq(resp_code_class(RESP_CODE_OTHER, (enum resp_context)ctx),
				 none_class[ctx]);
		ck_assert_int_eq(resp_code_class(RESP_CODE_ALERT, (enum resp_context)ctx),
				 none_class[ctx]);
	}
	/* What the issue asks of an APPEND. */
	ck_assert_int_eq(resp_code_class(RESP_CODE_OVERQUOTA, RESP_CONTEXT_APPEND),
			 STREAM_FAIL_WAIT);
	ck_assert_int_eq(resp_code_class(RESP_CODE_UNAVAILABLE, RESP_CONTEXT_APPEND),
			 STREAM_FAIL_WAIT);
	ck_assert_int_eq(resp_code_class(RESP_CODE_INUSE, RESP_CONTEXT_APPEND),
			 STREAM_FAIL_WAIT);
	ck_assert_int_eq(resp_code_class(RESP_CODE_LIMIT, RESP_CONTEXT_APPEND),
			 STREAM_FAIL_WAIT);
	ck_assert_int_eq(resp_code_class(RESP_CODE_TOOBIG, RESP_CONTEXT_APPEND),
			 STREAM_FAIL_MESSAGE);
	ck_assert_int_eq(resp_code_class(RESP_CODE_PARSE, RESP_CONTEXT_APPEND),
			 STREAM_FAIL_MESSAGE);
	/* POP3: levels of a hierarchy; brackets that are no code. */
	ck_assert_int_eq(resp_code_pop3("[SYS/TEMP/DISK] x", 17), RESP_CODE_POP3_SYS_TEMP);
	ck_assert_int_eq(resp_code_pop3("[sys/perm] x", 12), RESP_CODE_POP3_SYS_PERM);
	ck_assert_int_eq(resp_code_pop3("[SYS/TEMPX] x", 13), RESP_CODE_OTHER);
	ck_assert_int_eq(resp_code_pop3("[SYS] x", 7), RESP_CODE_OTHER);
	ck_assert_int_eq(resp_code_pop3("[AUTH", 5), RESP_CODE_NONE);
	ck_assert_int_eq(resp_code_pop3("no [AUTH] here", 14), RESP_CODE_NONE);
	ck_assert_int_eq(resp_code_pop3("", 0), RESP_CODE_NONE);
	/* Only the length given is read. */
	ck_assert_int_eq(resp_code_pop3("[AUTH] x", 5), RESP_CODE_NONE);
	ck_assert_int_eq(resp_code_imap(NULL), RESP_CODE_NONE);
	ck_assert_int_eq(resp_code_imap("overquota"), RESP_CODE_OVERQUOTA);
	ck_assert_int_eq(resp_code_imap("SYS/TEMP"), RESP_CODE_OTHER);
	ck_assert_str_eq(stream_fail_name(STREAM_FAIL_MESSAGE), "message");
	ck_assert_int_eq(stream_fail_policy(STREAM_FAIL_MESSAGE), STREAM_FAIL_FINAL);
	ck_assert_int_eq(stream_fail_policy(STREAM_FAIL_AUTH), STREAM_FAIL_FINAL);
	ck_assert_int_eq(stream_fail_policy(STREAM_FAIL_WAIT), STREAM_FAIL_WAIT);
}
END_TEST

/* --- OAuth 2.0: AUTHENTICATE XOAUTH2 and OAUTHBEARER ------------------ */

#define XOAUTH2_IR "dXNlcj11QHgudGVzdAFhdXRoPUJlYXJlciB0b2stMTIzAQE="
/* The first 33 bytes of "n,a=u@x.test,^Ahost=127.0.0.1^Aport=": the
 * port is the fake server's, chosen at run time. */
#define OAUTHBEARER_IR_START "bixhPXVAeC50ZXN0LAFob3N0PTEyNy4wLjAuMQFwb3J0"
/* {"status":"invalid_token","schemes":"bearer"} */
#define OAUTH_ERROR_JSON "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NoZW1lcyI6ImJlYXJlciJ9"

/* The messages themselves, decoded: both forms, saslname escaping,
 * host and port, and what cannot go in. */
START_TEST(sasl_oauth_messages)
{
	char *b64, text[300];

	b64 = sasl_oauth_initial(CFG_AUTH_XOAUTH2, "u@x.test", "tok-123", "h", 1);
	ck_assert_str_eq(b64, XOAUTH2_IR);
	mm_free_secret(&b64);
	/* base64("n,a=a=3Db=2Cc,^Aauth=Bearer t^A^A") */
	b64 = sasl_oauth_initial(CFG_AUTH_OAUTHBEARER, "a=b,c", "t", NULL, 0);
	ck_assert_str_eq(b64, "bixhPWE9M0RiPTJDYywBYXV0aD1CZWFyZXIgdAEB");
	mm_free_secret(&b64);
	/* base64("n,a=u,^Ahost=h.test^Aport=993^Aauth=Bearer t^A^A") */
	b64 = sasl_oauth_initial(CFG_AUTH_OAUTHBEARER, "u", "t", "h.test", 993);
	ck_assert_str_eq(b64, "bixhPXUsAWhvc3Q9aC50ZXN0AXBvcnQ9OTkzAWF1dGg9QmVhcmVyIHQBAQ==");
	mm_free_secret(&b64);
	ck_assert_ptr_null(sasl_oauth_initial(CFG_AUTH_XOAUTH2, "u", "t\001x", NULL, 0));
	ck_assert_ptr_null(sasl_oauth_initial(CFG_AUTH_XOAUTH2, "u\n", "t", NULL, 0));
	ck_assert_ptr_null(sasl_oauth_initial(CFG_AUTH_OAUTHBEARER, "u", "t\xc3\xa4",
					      NULL, 0));
	ck_assert_ptr_null(sasl_oauth_initial(CFG_AUTH_PASSWORD, "u", "t", NULL, 0));
	ck_assert_str_eq(sasl_oauth_mech_name(CFG_AUTH_XOAUTH2), "XOAUTH2");
	ck_assert_str_eq(sasl_oauth_mech_name(CFG_AUTH_OAUTHBEARER), "OAUTHBEARER");
	ck_assert_str_eq(sasl_oauth_error_reply(CFG_AUTH_XOAUTH2), "");
	ck_assert_str_eq(sasl_oauth_error_reply(CFG_AUTH_OAUTHBEARER), "AQ==");
	sasl_oauth_challenge_text(OAUTH_ERROR_JSON, strlen(OAUTH_ERROR_JSON), text,
				  sizeof(text));
	ck_assert_str_eq(text, "{\"status\":\"invalid_token\",\"schemes\":\"bearer\"}");
	/* Not base64, control bytes, too short: nothing, or escaped. */
	sasl_oauth_challenge_text("!!!!", 4, text, sizeof(text));
	ck_assert_str_eq(text, "");
	sasl_oauth_challenge_text("AQ==", 4, text, sizeof(text));
	ck_assert_ptr_null(strchr(text, '\001'));
	sasl_oauth_challenge_text("", 0, text, sizeof(text));
	ck_assert_str_eq(text, "");
}
END_TEST

/* XOAUTH2 with SASL-IR: one line, and the answer's capabilities. */
START_TEST(oauth_xoauth2_sasl_ir)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN "
		  "AUTH=XOAUTH2] ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 AUTHENTICATE XOAUTH2 " XOAUTH2_IR "\r", 0, 0 },
		{ FAKE_SEND, "M1 OK [CAPABILITY IMAP4rev1 ID] Logged in\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct imap_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(try_connect(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert(imap_client_caps(c) & IMAP_CAP_AUTH_XOAUTH2);
	ck_assert(!(imap_client_caps(c) & IMAP_CAP_AUTH_OAUTHBEARER));
	freewatch_set("tok-123");
	ck_assert_int_eq(imap_client_login_oauth(c, CFG_AUTH_XOAUTH2, "u@x.test",
						 "tok-123", &fail, &error), 0);
	ck_assert(imap_client_caps(c) & IMAP_CAP_ID);
	imap_client_close(&c);
	ck_assert_uint_eq(freewatch_count(), 0);
	freewatch_set(NULL);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* OAUTHBEARER without SASL-IR: the initial response after the "+". */
START_TEST(oauth_oauthbearer_no_sasl_ir)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1 AUTH=OAUTHBEARER] ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 AUTHENTICATE OAUTHBEARER\r", 0, 0 },
		{ FAKE_SEND, "+ \r\n", 0, 0 },
		{ FAKE_EXPECT, OAUTHBEARER_IR_START, 0, 0 },
		{ FAKE_SEND, "M1 OK Logged in\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct imap_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(try_connect(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(imap_client_login_oauth(c, CFG_AUTH_OAUTHBEARER, "u@x.test",
						 "tok-123", &fail, &error), 0);
	imap_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* A refused token: the JSON error challenge, answered as the mechanism
 * says (XOAUTH2: an empty line; OAUTHBEARER: ^A), then the NO, classed
 * like a refused password; the connection stays in step. */
static const struct {
	enum cfg_source_auth mech;
	const char *command;
	const char *reply;
	const char *answer;
	enum stream_fail fail;
} oauth_refusals[] = {
	{ CFG_AUTH_XOAUTH2, "M1 AUTHENTICATE XOAUTH2 " XOAUTH2_IR "\r", "\r",
	  "NO [AUTHENTICATIONFAILED] Authentication failed.", STREAM_FAIL_AUTH },
	{ CFG_AUTH_OAUTHBEARER, "M1 AUTHENTICATE OAUTHBEARER " OAUTHBEARER_IR_START,
	  "AQ==\r", "NO [AUTHENTICATIONFAILED] Authentication failed.",
	  STREAM_FAIL_AUTH },
	{ CFG_AUTH_XOAUTH2, "M1 AUTHENTICATE XOAUTH2 " XOAUTH2_IR "\r", "\r",
	  "NO [UNAVAILABLE] Token service down", STREAM_FAIL_WAIT },
};

START_TEST(oauth_refused)
{
	char *answer = mm_asprintf("M1 %s\r\n", oauth_refusals[_i].answer);
	const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2 "
		  "AUTH=OAUTHBEARER] ready\r\n", 0, 0 },
		{ FAKE_EXPECT, oauth_refusals[_i].command, 0, 0 },
		{ FAKE_SEND, "+ " OAUTH_ERROR_JSON "\r\n", 0, 0 },
		{ FAKE_EXPECT, oauth_refusals[_i].reply, 0, 0 },
		{ FAKE_SEND, answer, 0, 0 },
		{ FAKE_EXPECT, "M2 NOOP\r", 0, 0 },
		{ FAKE_SEND, "M2 OK done\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct imap_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(try_connect(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(imap_client_login_oauth(c, oauth_refusals[_i].mech, "u@x.test",
						 "tok-123", &fail, &error), -1);
	ck_assert_int_eq(fail, oauth_refusals[_i].fail);
	ck_assert_msg(strncmp(error, "login refused: ", 15) == 0, "%s", error);
	ck_assert_msg(strstr(error, "(the server said: {\"status\":\"invalid_token\"")
		      != NULL, "%s", error);
	ck_assert_ptr_null(strstr(error, "tok-123"));
	ck_assert_int_eq(imap_client_run(c, "NOOP", NULL, &fail, &error), 0);
	imap_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
	mm_free(&answer);
}
END_TEST

/* Not offered: nothing sent (the next command is M1); a second
 * challenge is no protocol we know. */
START_TEST(oauth_not_offered_and_second_challenge)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 NOOP\r", 0, 0 },
		{ FAKE_SEND, "M1 OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] "
		  "done\r\n", 0, 0 },
		{ FAKE_EXPECT, "M2 AUTHENTICATE XOAUTH2 " XOAUTH2_IR "\r", 0, 0 },
		{ FAKE_SEND, "+ " OAUTH_ERROR_JSON "\r\n", 0, 0 },
		{ FAKE_EXPECT, "\r", 0, 0 },
		{ FAKE_SEND, "+ again\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct imap_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(try_connect(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(imap_client_login_oauth(c, CFG_AUTH_XOAUTH2, "u@x.test",
						 "tok-123", &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_str_eq(error, "the server does not offer AUTH=XOAUTH2, which "
			 "source_auth needs");
	ck_assert_int_eq(imap_client_run(c, "NOOP", NULL, &fail, &error), 0);
	ck_assert_int_eq(imap_client_login_oauth(c, CFG_AUTH_XOAUTH2, "u@x.test",
						 "tok-123", &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_msg(strstr(error, "a second challenge") != NULL, "%s", error);
	imap_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

static Suite *client_suite(void)
{
	Suite *s = suite_create("imap_client");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, greeting_caps_and_login_quoted);
	tcase_add_test(tc, login_literal_sync);
	tcase_add_loop_test(tc, login_buffers_wiped, 0,
			    sizeof(wipe_cases) / sizeof(wipe_cases[0]));
	tcase_add_test(tc, auth_plain_authzid);
	tcase_add_test(tc, auth_plain_no_sasl_ir);
	tcase_add_loop_test(tc, login_refusal_class, 0,
			    sizeof(login_refusals) / sizeof(login_refusals[0]));
	tcase_add_test(tc, auth_plain_refused_early);
	tcase_add_test(tc, sasl_oauth_messages);
	tcase_add_test(tc, oauth_xoauth2_sasl_ir);
	tcase_add_test(tc, oauth_oauthbearer_no_sasl_ir);
	tcase_add_loop_test(tc, oauth_refused, 0,
			    sizeof(oauth_refusals) / sizeof(oauth_refusals[0]));
	tcase_add_test(tc, oauth_not_offered_and_second_challenge);
	tcase_add_test(tc, command_refusal_codes);
	tcase_add_test(tc, resp_code_table);
	tcase_add_loop_test(tc, detect_downgrade, 0,
			    sizeof(downgrade_seen) / sizeof(downgrade_seen[0]));
	tcase_add_loop_test(tc, bad_servers, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, hung_banner);
	tcase_add_test(tc, pipelined_fetch);
	tcase_add_test(tc, cut_mid_literal);
	tcase_add_test(tc, malformed_fetch);
	tcase_add_test(tc, run_astring);
	tcase_add_test(tc, enable_utf8);
	tcase_add_loop_test(tc, enable_utf8_refused, 0,
			    sizeof(enable_refusals) / sizeof(enable_refusals[0]));
	tcase_add_test(tc, enable_utf8_not_listed);
	tcase_add_test(tc, utf8_valid);
	tcase_add_test(tc, send_refuses_line_breaks);
	tcase_add_test(tc, quote);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(client_suite());
	int failed;

	/* Warnings (detect without STARTTLS) stay quiet in test output. */
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
