/*
 * NAME
 *	test_pop3_client 1
 * SUMMARY
 *	unit tests: the POP3 client against scripted fake servers
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "fakeserver.h"
#include "freewatch.h"
#include "mm_alloc.h"
#include "driver.h"
#include "imap_message.h"
#include "pop3_client.h"

static int connect_to(const struct fakeserver_step *script, enum cfg_tls tls,
		      struct fakeserver *fs, struct pop3_client **c,
		      enum stream_fail *fail, const char **error)
{
	struct pop3_client_settings set = { 0 };

	ck_assert_int_eq(fakeserver_start(script, fs), 0);
	set.host = "127.0.0.1";
	set.port = fs->port;
	set.tls = tls;
	set.connect_timeout_ms = 2000;
	set.timeout_ms = 2000;
	*c = NULL;
	return pop3_client_connect(&set, c, fail, error);
}

#define CAPA_PLAIN "+OK\r\nCAPA\r\nUSER\r\nUIDL\r\n.\r\n"

struct seen {
	char text[4096];
	size_t chunks;
	unsigned count;
};

static int on_uidl(uint32_t num, const char *uidl, void *ctx)
{
	struct seen *s = ctx;

	snprintf(s->text + strlen(s->text), sizeof(s->text) - strlen(s->text),
		 "%u=%s;", num, uidl);
	s->count++;
	return 0;
}

static int on_list(uint32_t num, uint64_t size, void *ctx)
{
	struct seen *s = ctx;

	snprintf(s->text + strlen(s->text), sizeof(s->text) - strlen(s->text),
		 "%u:%llu;", num, (unsigned long long)size);
	return 0;
}

static int on_data(const void *data, size_t len, void *ctx)
{
	struct seen *s = ctx;
	size_t used = strlen(s->text);

	ck_assert_uint_lt(used + len, sizeof(s->text));
	memcpy(s->text + used, data, len);
	s->text[used + len] = '\0';
	s->chunks++;
	return 0;
}

START_TEST(login_uidl_list_retr)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "+OK POP3 ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "CAPA\r", 0, 0 },
		{ FAKE_SEND, CAPA_PLAIN, 0, 0 },
		{ FAKE_EXPECT, "USER u@x.test\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\n", 0, 0 },
		{ FAKE_EXPECT, "PASS pass word\r", 0, 0 },
		{ FAKE_SEND, "+OK Logged in.\r\n", 0, 0 },
		{ FAKE_EXPECT, "UIDL\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\n1 000001a\r\n2 \x21~uid\r\n.\r\n", 0, 0 },
		{ FAKE_EXPECT, "LIST\r", 0, 0 },
		{ FAKE_SEND, "+OK 2 messages\r\n1 120\r\n2 5000000\r\n.\r\n", 0, 0 },
		{ FAKE_EXPECT, "RETR 2\r", 0, 0 },
		/* Stuffed dots, and the terminator split across reads. */
		{ FAKE_SEND, "+OK\r\nSubject: x\r\n\r\n..\r\n..dots\r\nbody.\r\n\r", 0, 0 },
		{ FAKE_SLEEP_MS, NULL, 0, 30 },
		{ FAKE_SEND, "\n.", 0, 0 },
		{ FAKE_SLEEP_MS, NULL, 0, 30 },
		{ FAKE_SEND, "\r", 0, 0 },
		{ FAKE_SLEEP_MS, NULL, 0, 30 },
		{ FAKE_SEND, "\n", 0, 0 },
		{ FAKE_EXPECT, "QUIT\r", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct seen s = { .text = "" };
	struct fakeserver fs;
	struct pop3_client *c;
	enum stream_fail fail;
	const char *error;
	uint64_t size;

	ck_assert_int_eq(connect_to(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert(pop3_client_has_uidl(c));
	ck_assert_int_eq(pop3_client_login(c, "u@x.test", "pass word", &fail, &error), 0);
	ck_assert_int_eq(pop3_client_uidl(c, on_uidl, &s, &fail, &error), 0);
	ck_assert_str_eq(s.text, "1=000001a;2=!~uid;");
	s.text[0] = '\0';
	ck_assert_int_eq(pop3_client_list(c, on_list, &s, &fail, &error), 0);
	ck_assert_str_eq(s.text, "1:120;2:5000000;");
	s.text[0] = '\0';
	ck_assert_int_eq(pop3_client_retr(c, 2, on_data, &s, &size, &fail, &error), 0);
	ck_assert_str_eq(s.text, "Subject: x\r\n\r\n.\r\n.dots\r\nbody.\r\n\r\n");
	ck_assert_uint_eq(size, strlen(s.text));
	pop3_client_close(&c);
	ck_assert_ptr_null(c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

START_TEST(auth_plain)
{
	/* base64("\0u\0p w") */
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "+OK ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "CAPA\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\nSASL LOGIN plain\r\n.\r\n", 0, 0 },
		{ FAKE_EXPECT, "AUTH PLAIN AHUAcCB3\r", 0, 0 },
		{ FAKE_SEND, "+OK Logged in.\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct pop3_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(connect_to(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert(!pop3_client_has_uidl(c));
	ck_assert_int_eq(pop3_client_login(c, "u", "p w", &fail, &error), 0);
	pop3_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* Login refusals, classed by their extended codes (RFC 2449, 3206;
 * resp_code(3)): refused credentials are STREAM_FAIL_AUTH (the
 * auth-hook's wrong password), "not now" waits, SYS/PERM gives up. */
static const struct {
	const char *answer;
	enum stream_fail fail;
	const char *expect;
} refusals[] = {
	{ "-ERR [AUTH] Authentication failed.\r\n", STREAM_FAIL_AUTH,
	  "login refused: [AUTH] Authentication failed." },
	{ "-ERR Authentication failed.\r\n", STREAM_FAIL_AUTH,
	  "login refused: Authentication failed." },
	{ "-ERR\r\n", STREAM_FAIL_AUTH, "login refused: " },
	{ "-ERR [auth] lower case\r\n", STREAM_FAIL_AUTH, "login refused: [auth]" },
	{ "-ERR [IN-USE] Mailbox locked\r\n", STREAM_FAIL_WAIT, "refused for now" },
	{ "-ERR [SYS/TEMP] try later\r\n", STREAM_FAIL_WAIT, "refused for now" },
	{ "-ERR [SYS/TEMP/DISK] deeper level\r\n", STREAM_FAIL_WAIT, "refused for now" },
	{ "-ERR [LOGIN-DELAY] Wait 15 minutes\r\n", STREAM_FAIL_WAIT,
	  "refused for now: [LOGIN-DELAY]" },
	{ "-ERR [SYS/PERM] Account disabled\r\n", STREAM_FAIL_FINAL,
	  "login refused: [SYS/PERM] Account disabled" },
	{ "-ERR [X-VENDOR] what\r\n", STREAM_FAIL_AUTH, "login refused: [X-VENDOR]" },
	{ "+NOPE\r\n", STREAM_FAIL_FINAL, "malformed POP3 status line: +NOPE" },
};

START_TEST(login_refused)
{
	struct fakeserver_step script[] = {
		{ FAKE_SEND, "+OK ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "CAPA\r", 0, 0 },
		{ FAKE_SEND, "-ERR no CAPA\r\n", 0, 0 },
		{ FAKE_EXPECT, "USER u\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\n", 0, 0 },
		{ FAKE_EXPECT, "PASS secret\r", 0, 0 },
		{ FAKE_SEND, refusals[_i].answer, 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct pop3_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(connect_to(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	/* No CAPA: assume UIDL (RFC 1939 servers mostly have it). */
	ck_assert(pop3_client_has_uidl(c));
	ck_assert_int_eq(pop3_client_login(c, "u", "secret", &fail, &error), -1);
	ck_assert_int_eq(fail, refusals[_i].fail);
	ck_assert_msg(strstr(error, refusals[_i].expect) != NULL, "got '%s'", error);
	ck_assert_ptr_null(strstr(error, "secret"));
	pop3_client_close(&c);
	fakeserver_stop(&fs);
}
END_TEST

/* CAPA lists UTF8 (Courier: "UTF8 USER"): UTF8 goes first, in the
 * AUTHORIZATION state before the credentials (RFC 6856), and the raw
 * UTF-8 header then arrives byte for byte. */
START_TEST(utf8_sent)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "+OK ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "CAPA\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\nUSER\r\nUTF8 USER\r\nUIDL\r\n.\r\n", 0, 0 },
		{ FAKE_EXPECT, "UTF8\r", 0, 0 },
		{ FAKE_SEND, "+OK UTF8 enabled\r\n", 0, 0 },
		{ FAKE_EXPECT, "USER u\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\n", 0, 0 },
		{ FAKE_EXPECT, "PASS secret\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\n", 0, 0 },
		{ FAKE_EXPECT, "RETR 1\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\nSubject: Entw\xc3\xbcrfe \xe2\x82\xac\r\n\r\nx\r\n.\r\n", 0, 0 },
		{ FAKE_EXPECT, "QUIT\r", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct seen s = { .text = "" };
	struct fakeserver fs;
	struct pop3_client *c;
	enum stream_fail fail;
	const char *error;
	uint64_t size;

	ck_assert_int_eq(connect_to(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert(!pop3_client_utf8(c));
	ck_assert_int_eq(pop3_client_enable_utf8(c, &fail, &error), 0);
	ck_assert(pop3_client_utf8(c));
	ck_assert_int_eq(pop3_client_login(c, "u", "secret", &fail, &error), 0);
	ck_assert_int_eq(pop3_client_retr(c, 1, on_data, &s, &size, &fail, &error), 0);
	ck_assert_str_eq(s.text, "Subject: Entw\xc3\xbcrfe \xe2\x82\xac\r\n\r\nx\r\n");
	pop3_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* An administrator acting for a user: SASL PLAIN with the user as
 * authorization identity; without SASL PLAIN, a final failure and no
 * credentials sent. */
START_TEST(login_as_authzid)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "+OK ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "CAPA\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\nSASL PLAIN\r\nUIDL\r\n.\r\n", 0, 0 },
		{ FAKE_EXPECT, "AUTH PLAIN YW5uAG1tYWRtaW4AcHc=\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\n", 0, 0 },
		{ FAKE_EXPECT, "QUIT\r", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	static const struct fakeserver_step no_plain[] = {
		{ FAKE_SEND, "+OK ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "CAPA\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\nUSER\r\nUIDL\r\n.\r\n", 0, 0 },
		{ FAKE_EXPECT, "QUIT\r", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct pop3_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(connect_to(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(pop3_client_login_as(c, "ann", "mmadmin", "pw", &fail,
					      &error), 0);
	pop3_client_close(&c);
	ck_assert(fakeserver_stop(&fs));

	ck_assert_int_eq(connect_to(no_plain, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(pop3_client_login_as(c, "ann", "mmadmin", "pw", &fail,
					      &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_str_eq(error, "acting for ann needs SASL PLAIN (RFC 5034), "
			 "which the POP3 server does not list");
	pop3_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* UTF8 listed but refused: a final failure with the reason (the driver
 * then never sends the credentials: the copy would hold substitutes). */
START_TEST(utf8_refused)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "+OK ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "CAPA\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\nUSER\r\nUTF8\r\n.\r\n", 0, 0 },
		{ FAKE_EXPECT, "UTF8\r", 0, 0 },
		{ FAKE_SEND, "-ERR not now\r\n", 0, 0 },
		{ FAKE_EXPECT, "QUIT\r", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct pop3_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(connect_to(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(pop3_client_enable_utf8(c, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_msg(strstr(error, "refused the UTF8 command") != NULL &&
		      strstr(error, "not now") != NULL, "got '%s'", error);
	ck_assert(!pop3_client_utf8(c));
	pop3_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* A capability that only starts with UTF8 is not UTF8. */
START_TEST(utf8_not_listed)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "+OK ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "CAPA\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\nUSER\r\nUTF8X\r\n.\r\n", 0, 0 },
		{ FAKE_EXPECT, "USER u\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\n", 0, 0 },
		{ FAKE_EXPECT, "PASS secret\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\n", 0, 0 },
		{ FAKE_EXPECT, "QUIT\r", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct pop3_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(connect_to(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(pop3_client_enable_utf8(c, &fail, &error), 0);
	ck_assert(!pop3_client_utf8(c));
	ck_assert_int_eq(pop3_client_login(c, "u", "secret", &fail, &error), 0);
	pop3_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* Broken listings: refused with what is wrong. */
static const struct {
	const char *listing;
	const char *expect;
} bad_listings[] = {
	{ "1 a\r\n1 b\r\n.\r\n", "malformed listing line: 1 b" },
	{ "x a\r\n.\r\n", "malformed listing line" },
	{ "1 \r\n.\r\n", "1 to 70 allowed" },
	{ "1 has space\r\n.\r\n", "bad character" },
	{ "1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n.\r\n",
	  "71 characters" },
	{ "0 a\r\n.\r\n", "malformed listing line" },
};

START_TEST(bad_uidl)
{
	struct fakeserver_step script[] = {
		{ FAKE_SEND, "+OK ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "CAPA\r", 0, 0 },
		{ FAKE_SEND, CAPA_PLAIN, 0, 0 },
		{ FAKE_EXPECT, "UIDL\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\n", 0, 0 },
		{ FAKE_SEND, bad_listings[_i].listing, 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct seen s = { .text = "" };
	struct fakeserver fs;
	struct pop3_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(connect_to(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(pop3_client_uidl(c, on_uidl, &s, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_msg(strstr(error, bad_listings[_i].expect) != NULL, "got '%s'", error);
	pop3_client_close(&c);
	fakeserver_stop(&fs);
}
END_TEST

/* Commands after the login: a -ERR is classed by its code too (a busy
 * server waits; no code gives up), and USER refused is a login refusal. */
START_TEST(command_refusal_codes)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "+OK ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "CAPA\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\nUSER\r\nUIDL\r\n.\r\n", 0, 0 },
		{ FAKE_EXPECT, "USER nobody\r", 0, 0 },
		{ FAKE_SEND, "-ERR [AUTH] no such user\r\n", 0, 0 },
		{ FAKE_EXPECT, "RETR 1\r", 0, 0 },
		{ FAKE_SEND, "-ERR [SYS/TEMP] busy\r\n", 0, 0 },
		{ FAKE_EXPECT, "RETR 2\r", 0, 0 },
		{ FAKE_SEND, "-ERR no such message\r\n", 0, 0 },
		{ FAKE_EXPECT, "UIDL\r", 0, 0 },
		{ FAKE_SEND, "-ERR [IN-USE] locked\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct seen s = { .text = "" };
	struct fakeserver fs;
	struct pop3_client *c;
	enum stream_fail fail;
	const char *error;
	uint64_t size;

	ck_assert_int_eq(connect_to(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(pop3_client_login(c, "nobody", "pw", &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_AUTH);
	ck_assert_int_eq(pop3_client_retr(c, 1, on_data, &s, &size, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_WAIT);
	ck_assert_str_eq(error, "RETR 1 refused: [SYS/TEMP] busy");
	ck_assert_int_eq(pop3_client_retr(c, 2, on_data, &s, &size, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_int_eq(pop3_client_uidl(c, NULL, NULL, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_WAIT);
	pop3_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

START_TEST(retr_cut_and_trailing_data)
{
	static const struct fakeserver_step cut[] = {
		{ FAKE_SEND, "+OK ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "CAPA\r", 0, 0 },
		{ FAKE_SEND, CAPA_PLAIN, 0, 0 },
		{ FAKE_EXPECT, "RETR 1\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\nSubject: cut\r\n\r\nhalf a bo", 0, 0 },
		{ FAKE_CLOSE, NULL, 0, 0 },
	};
	static const struct fakeserver_step trailing[] = {
		{ FAKE_SEND, "+OK ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "CAPA\r", 0, 0 },
		{ FAKE_SEND, CAPA_PLAIN, 0, 0 },
		{ FAKE_EXPECT, "RETR 1\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\nx\r\n.\r\n+OK surprise\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct seen s = { .text = "" };
	struct fakeserver fs;
	struct pop3_client *c;
	enum stream_fail fail;
	const char *error;
	uint64_t size;

	ck_assert_int_eq(connect_to(cut, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(pop3_client_retr(c, 1, on_data, &s, &size, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_TEMP);
	pop3_client_close(&c);
	fakeserver_stop(&fs);

	s.text[0] = '\0';
	ck_assert_int_eq(connect_to(trailing, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(pop3_client_retr(c, 1, on_data, &s, &size, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_ptr_nonnull(strstr(error, "data after the end"));
	pop3_client_close(&c);
	fakeserver_stop(&fs);
}
END_TEST

struct big_seen {
	uint64_t total, dots;
	size_t chunks, max_chunk;
};

static int big_sink(const void *data, size_t len, void *ctx)
{
	struct big_seen *b = ctx;
	const char *p = data;

	for (size_t i = 0; i < len; i++)
		b->dots += p[i] == '.';
	b->total += len;
	b->chunks++;
	if (len > b->max_chunk)
		b->max_chunk = len;
	return 0;
}

/* A long message in many chunks, none over the chunk size. */
START_TEST(retr_big)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "+OK ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "CAPA\r", 0, 0 },
		{ FAKE_SEND, CAPA_PLAIN, 0, 0 },
		{ FAKE_EXPECT, "RETR 1\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\n", 0, 0 },
		/* 2 MB with one 1 MB line: no line limit applies to bodies. */
		{ FAKE_SEND_REPEAT, "0123456789", 0, 100000 },
		{ FAKE_SEND, "\r\n", 0, 0 },
		{ FAKE_SEND_REPEAT, "..abcdefg\r\n", 0, 100000 },
		{ FAKE_SEND, ".\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct big_seen big = { 0 };
	struct fakeserver fs;
	struct pop3_client *c;
	enum stream_fail fail;
	const char *error;
	uint64_t size;

	ck_assert_int_eq(connect_to(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(pop3_client_retr(c, 1, big_sink, &big, &size, &fail, &error), 0);
	/* 1,000,000 + CRLF, then 100,000 lines ".abcdefg" CRLF unstuffed. */
	ck_assert_uint_eq(size, 1000002 + 100000 * 10);
	ck_assert_uint_eq(big.total, size);
	ck_assert_uint_eq(big.dots, 100000);
	ck_assert_uint_le(big.max_chunk, 16384 + 2);
	ck_assert_uint_gt(big.chunks, 100);
	pop3_client_close(&c);
	fakeserver_stop(&fs);
}
END_TEST

/* detect and no STLS: plain when never seen; a downgrade when the TLS
 * memory says STLS was completed before (nothing sent after CAPA). */
static const int64_t downgrade_seen[] = { 0, 1700000000 };

START_TEST(detect_downgrade)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "+OK ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "CAPA\r", 0, 0 },
		{ FAKE_SEND, CAPA_PLAIN, 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct pop3_client_settings set = { 0 };
	struct fakeserver fs;
	struct pop3_client *c = NULL;
	enum stream_fail fail = STREAM_FAIL_NONE;
	const char *error = NULL;
	int downgrade = 0, ret;

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	set.host = "127.0.0.1";
	set.port = fs.port;
	set.tls = CFG_TLS_DETECT;
	set.connect_timeout_ms = 2000;
	set.timeout_ms = 2000;
	set.tls_seen = downgrade_seen[_i];
	set.downgrade_r = &downgrade;
	ret = pop3_client_connect(&set, &c, &fail, &error);
	if (downgrade_seen[_i] == 0) {
		ck_assert_int_eq(ret, 0);
		ck_assert_int_eq(downgrade, 0);
	} else {
		ck_assert_int_eq(ret, -1);
		ck_assert_ptr_null(c);
		ck_assert_int_eq(fail, STREAM_FAIL_WAIT);
		ck_assert_int_eq(downgrade, 1);
		ck_assert_msg(strstr(error, "127.0.0.1 no longer offers STLS (it did on "
				     "2023-11-14 22:13:20 UTC): refusing plaintext")
			      != NULL, "got '%s'", error);
	}
	pop3_client_close(&c);
	fakeserver_stop(&fs);
}
END_TEST

START_TEST(stls_required_missing)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "+OK ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "CAPA\r", 0, 0 },
		{ FAKE_SEND, CAPA_PLAIN, 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct pop3_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(connect_to(script, CFG_TLS_STARTTLS, &fs, &c, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_ptr_nonnull(strstr(error, "does not offer STLS"));
	ck_assert_ptr_null(c);
	fakeserver_stop(&fs);
}
END_TEST

START_TEST(greeting_err)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "-ERR [SYS/TEMP] overloaded\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct pop3_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(connect_to(script, CFG_TLS_NONE, &fs, &c, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_WAIT);
	ck_assert_ptr_nonnull(strstr(error, "refused the connection: [SYS/TEMP] overloaded"));
	fakeserver_stop(&fs);
}
END_TEST

/* Greetings without a status (the IMAP client once read past such a
 * line's arguments): refused, never a crash. */
static const char *const bad_greetings[] = {
	"+\r\n", "+ x\r\n", "*\r\n", "* OK imap, not pop3\r\n", "\r\n", "+OKAY\r\n",
	"-\r\n",
};

START_TEST(greeting_without_status)
{
	struct fakeserver_step script[] = {
		{ FAKE_SEND, bad_greetings[_i], 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct pop3_client *c;
	enum stream_fail fail = STREAM_FAIL_NONE;
	const char *error;

	ck_assert_int_eq(connect_to(script, CFG_TLS_NONE, &fs, &c, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_msg(strstr(error, "malformed POP3 status line") != NULL, "got '%s'",
		      error);
	ck_assert_ptr_null(c);
	fakeserver_stop(&fs);
}
END_TEST

/* RFC 5322 dates as IMAP dates; NULL: not a date. */
static const struct {
	const char *in, *out;
} dates[] = {
	{ "Tue, 15 Nov 1994 08:12:31 +0100 (CET)", "15-Nov-1994 08:12:31 +0100" },
	{ "15 Nov 1994 08:12 -0500", "15-Nov-1994 08:12:00 -0500" },
	{ "Mon, 1 Jan 01 00:00:00 GMT", "01-Jan-2001 00:00:00 +0000" },
	{ "Fri, 31 Dec 99 23:59:60 EST", "31-Dec-1999 23:59:59 -0500" },
	{ "  Wed,  2 Feb 2005 10:00:00 +0530", "02-Feb-2005 10:00:00 +0530" },
	{ "Sat, 3 Mar 2012 04:05:06 XYZ", "03-Mar-2012 04:05:06 +0000" },
	{ "Sun, 4 Apr 2010 07:08:09 pdt", "04-Apr-2010 07:08:09 -0700" },
	{ "garbage", NULL },
	{ "", NULL },
	{ "32 Jan 2000 00:00:00 +0000", NULL },
	{ "1 Foo 2000 00:00:00 +0000", NULL },
	{ "1 Jan 2000 24:00:00 +0000", NULL },
	/* Nothing that is no RFC 3501 date-time (NEW's APPEND refuses it). */
	{ "1 Jan 2000 -1:00:00 +0000", NULL },
	{ "1 Jan 2000 10:-5:00 +0000", NULL },
	{ "1 Jan 2000 10:05:-1 +0000", NULL },
	{ "1 Jan 2000 10:05:01 +9999", NULL },
	{ "1 Jan 2000 10:05:01 -2400", NULL },
};

START_TEST(rfc5322_dates)
{
	char out[40];
	int ret = pop3_date_to_imap(dates[_i].in, out, sizeof(out));

	if (dates[_i].out == NULL) {
		ck_assert_msg(ret == -1, "'%s' taken as %s", dates[_i].in, out);
	} else {
		ck_assert_int_eq(ret, 0);
		ck_assert_str_eq(out, dates[_i].out);
		/* What NEW's APPEND is built with takes it. */
		ck_assert(imap_message_date_valid(out));
	}
}
END_TEST

/* Which header gives the date. */
static const struct {
	const char *headers, *out;
} header_dates[] = {
	{ "Received: from b by c; Tue, 2 Jan 2018 10:00:00 +0000\r\n"
	  "Received: from a by b; Mon, 1 Jan 2018 09:00:00 +0000\r\n"
	  "Date: Sun, 31 Dec 2017 08:00:00 +0000\r\n\r\nbody\r\n",
	  "02-Jan-2018 10:00:00 +0000" },
	{ "Subject: x\r\nDate: Sun, 31 Dec 2017 08:00:00 +0100\r\n\r\n",
	  "31-Dec-2017 08:00:00 +0100" },
	{ "Received: from a\r\n\tby b with ESMTP;\r\n Wed, 7 Mar 2018 11:12:13 -0800\r\n"
	  "Date: Sun, 31 Dec 2017 08:00:00 +0000\r\n\r\n", "07-Mar-2018 11:12:13 -0800" },
	{ "Received: without a date\r\nDate: 1 Jun 2016 01:02:03 +0000\r\n\r\n",
	  "01-Jun-2016 01:02:03 +0000" },
	{ "Subject: no dates\r\n\r\nDate: 1 Jun 2016 01:02:03 +0000\r\n", "" },
	{ "", "" },
};

START_TEST(header_date)
{
	char out[40] = "unchanged";

	pop3_header_date(header_dates[_i].headers, strlen(header_dates[_i].headers),
			 out, sizeof(out));
	ck_assert_str_eq(out, header_dates[_i].out);
}
END_TEST

/* No buffer that held the password is freed unwiped (issue 9): the
 * formatted PASS / AUTH PLAIN command and the stream's buffers. */
static const struct {
	const char *capa;	/* the CAPA answer */
	const char *expect;	/* the line carrying the secret */
	const char *needle;	/* what must not be left in freed memory */
} wipe_cases[] = {
	{ CAPA_PLAIN, "PASS Wipe-Me-Pw-7\r", "Wipe-Me-Pw-7" },
	/* base64("\0u\0Wipe-Me-Pw-7") */
	{ "+OK\r\nSASL PLAIN\r\n.\r\n", "AUTH PLAIN AHUAV2lwZS1NZS1Qdy03\r",
	  "AHUAV2lwZS1NZS1Qdy03" },
};

START_TEST(login_buffers_wiped)
{
	const struct fakeserver_step script[] = {
		{ FAKE_SEND, "+OK ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "CAPA\r", 0, 0 },
		{ FAKE_SEND, wipe_cases[_i].capa, 0, 0 },
		{ FAKE_EXPECT, _i == 0 ? "USER u\r" : wipe_cases[_i].expect, 0, 0 },
		{ FAKE_SEND, "+OK\r\n", 0, 0 },
		{ _i == 0 ? FAKE_EXPECT : FAKE_END, wipe_cases[_i].expect, 0, 0 },
		{ FAKE_SEND, "+OK Logged in.\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct pop3_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(connect_to(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	freewatch_set(wipe_cases[_i].needle);
	ck_assert_int_eq(pop3_client_login(c, "u", "Wipe-Me-Pw-7", &fail, &error), 0);
	pop3_client_close(&c);
	ck_assert_uint_eq(freewatch_count(), 0);
	freewatch_set(NULL);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* --- OAuth 2.0: AUTH XOAUTH2 and OAUTHBEARER (RFC 5034, 7628) -------- */

#define XOAUTH2_IR "dXNlcj11QHgudGVzdAFhdXRoPUJlYXJlciB0b2stMTIzAQE="
/* The first 33 bytes of "n,a=u@x.test,^Ahost=127.0.0.1^Aport=". */
#define OAUTHBEARER_IR_START "bixhPXVAeC50ZXN0LAFob3N0PTEyNy4wLjAuMQFwb3J0"
/* {"status":"invalid_token","schemes":"bearer"} */
#define OAUTH_ERROR_JSON "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NoZW1lcyI6ImJlYXJlciJ9"
#define OAUTH_CAPA "+OK\r\nSASL PLAIN XOAUTH2 OAUTHBEARER\r\nUIDL\r\n.\r\n"

/* A short initial response on the AUTH line; a long one (a 300-byte
 * token) after the empty challenge. */
START_TEST(oauth_login)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "+OK ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "CAPA\r", 0, 0 },
		{ FAKE_SEND, OAUTH_CAPA, 0, 0 },
		{ FAKE_EXPECT, "AUTH XOAUTH2 " XOAUTH2_IR "\r", 0, 0 },
		{ FAKE_SEND, "+OK Logged in.\r\n", 0, 0 },
		{ FAKE_EXPECT, "QUIT\r", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	static const struct fakeserver_step long_token[] = {
		{ FAKE_SEND, "+OK ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "CAPA\r", 0, 0 },
		{ FAKE_SEND, OAUTH_CAPA, 0, 0 },
		{ FAKE_EXPECT, "AUTH OAUTHBEARER\r", 0, 0 },
		{ FAKE_SEND, "+ \r\n", 0, 0 },
		{ FAKE_EXPECT, OAUTHBEARER_IR_START, 0, 0 },
		{ FAKE_SEND, "+OK Logged in.\r\n", 0, 0 },
		{ FAKE_EXPECT, "QUIT\r", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct pop3_client *c;
	enum stream_fail fail;
	const char *error;
	char token[301];

	ck_assert_int_eq(connect_to(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	freewatch_set("tok-123");
	ck_assert_int_eq(pop3_client_login_oauth(c, CFG_AUTH_XOAUTH2, "u@x.test",
						 "tok-123", &fail, &error), 0);
	pop3_client_close(&c);
	ck_assert_uint_eq(freewatch_count(), 0);
	freewatch_set(NULL);
	ck_assert(fakeserver_stop(&fs));

	memset(token, 'T', 300);
	token[300] = '\0';
	ck_assert_int_eq(connect_to(long_token, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(pop3_client_login_oauth(c, CFG_AUTH_OAUTHBEARER, "u@x.test",
						 token, &fail, &error), 0);
	pop3_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* A refused token: the error challenge answered as the mechanism says,
 * then the -ERR, classed like a refused password. */
static const struct {
	enum cfg_source_auth mech;
	const char *command;
	const char *reply;
	const char *answer;
	enum stream_fail fail;
} oauth_refusals[] = {
	{ CFG_AUTH_XOAUTH2, "AUTH XOAUTH2 " XOAUTH2_IR "\r", "\r",
	  "-ERR [AUTH] Authentication failed.\r\n", STREAM_FAIL_AUTH },
	{ CFG_AUTH_OAUTHBEARER, "AUTH OAUTHBEARER " OAUTHBEARER_IR_START, "AQ==\r",
	  "-ERR [AUTH] Authentication failed.\r\n", STREAM_FAIL_AUTH },
	{ CFG_AUTH_OAUTHBEARER, "AUTH OAUTHBEARER " OAUTHBEARER_IR_START, "AQ==\r",
	  "-ERR [SYS/TEMP] Token service down\r\n", STREAM_FAIL_WAIT },
};

START_TEST(oauth_refused)
{
	const struct fakeserver_step script[] = {
		{ FAKE_SEND, "+OK ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "CAPA\r", 0, 0 },
		{ FAKE_SEND, OAUTH_CAPA, 0, 0 },
		{ FAKE_EXPECT, oauth_refusals[_i].command, 0, 0 },
		{ FAKE_SEND, "+ " OAUTH_ERROR_JSON "\r\n", 0, 0 },
		{ FAKE_EXPECT, oauth_refusals[_i].reply, 0, 0 },
		{ FAKE_SEND, oauth_refusals[_i].answer, 0, 0 },
		{ FAKE_EXPECT, "QUIT\r", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct pop3_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(connect_to(script, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(pop3_client_login_oauth(c, oauth_refusals[_i].mech, "u@x.test",
						 "tok-123", &fail, &error), -1);
	ck_assert_int_eq(fail, oauth_refusals[_i].fail);
	ck_assert_msg(strncmp(error, "login refused", 13) == 0, "%s", error);
	ck_assert_msg(strstr(error, "(the server said: {\"status\":\"invalid_token\"")
		      != NULL, "%s", error);
	ck_assert_ptr_null(strstr(error, "tok-123"));
	pop3_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* Not in CAPA: nothing sent. Refused before the empty challenge: a
 * login refusal by its code. */
START_TEST(oauth_not_listed_and_refused_early)
{
	static const struct fakeserver_step no_oauth[] = {
		{ FAKE_SEND, "+OK ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "CAPA\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\nSASL PLAIN\r\nUIDL\r\n.\r\n", 0, 0 },
		{ FAKE_EXPECT, "QUIT\r", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	static const struct fakeserver_step early[] = {
		{ FAKE_SEND, "+OK ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "CAPA\r", 0, 0 },
		{ FAKE_SEND, OAUTH_CAPA, 0, 0 },
		{ FAKE_EXPECT, "AUTH XOAUTH2\r", 0, 0 },
		{ FAKE_SEND, "-ERR [SYS/TEMP] busy\r\n", 0, 0 },
		{ FAKE_EXPECT, "QUIT\r", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct pop3_client *c;
	enum stream_fail fail;
	const char *error;
	char token[301];

	ck_assert_int_eq(connect_to(no_oauth, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(pop3_client_login_oauth(c, CFG_AUTH_OAUTHBEARER, "u@x.test",
						 "tok-123", &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_str_eq(error, "the POP3 server does not list SASL OAUTHBEARER in "
			 "CAPA, which source_auth needs");
	pop3_client_close(&c);
	ck_assert(fakeserver_stop(&fs));

	memset(token, 'T', 300);
	token[300] = '\0';
	ck_assert_int_eq(connect_to(early, CFG_TLS_NONE, &fs, &c, &fail, &error), 0);
	ck_assert_int_eq(pop3_client_login_oauth(c, CFG_AUTH_XOAUTH2, "u@x.test",
						 token, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_WAIT);
	ck_assert_msg(strstr(error, "login refused for now: [SYS/TEMP] busy") != NULL,
		      "%s", error);
	pop3_client_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

static Suite *pop3_suite(void)
{
	Suite *s = suite_create("pop3_client");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, login_uidl_list_retr);
	tcase_add_test(tc, auth_plain);
	tcase_add_test(tc, utf8_sent);
	tcase_add_test(tc, login_as_authzid);
	tcase_add_test(tc, oauth_login);
	tcase_add_loop_test(tc, oauth_refused, 0,
			    sizeof(oauth_refusals) / sizeof(oauth_refusals[0]));
	tcase_add_test(tc, oauth_not_listed_and_refused_early);
	tcase_add_test(tc, utf8_refused);
	tcase_add_test(tc, utf8_not_listed);
	tcase_add_loop_test(tc, login_buffers_wiped, 0,
			    sizeof(wipe_cases) / sizeof(wipe_cases[0]));
	tcase_add_loop_test(tc, login_refused, 0, sizeof(refusals) / sizeof(refusals[0]));
	tcase_add_loop_test(tc, bad_uidl, 0, sizeof(bad_listings) / sizeof(bad_listings[0]));
	tcase_add_test(tc, command_refusal_codes);
	tcase_add_test(tc, retr_cut_and_trailing_data);
	tcase_add_test(tc, retr_big);
	tcase_add_test(tc, stls_required_missing);
	tcase_add_loop_test(tc, detect_downgrade, 0,
			    sizeof(downgrade_seen) / sizeof(downgrade_seen[0]));
	tcase_add_test(tc, greeting_err);
	tcase_add_loop_test(tc, greeting_without_status, 0,
			    sizeof(bad_greetings) / sizeof(bad_greetings[0]));
	tcase_add_loop_test(tc, rfc5322_dates, 0, sizeof(dates) / sizeof(dates[0]));
	tcase_add_loop_test(tc, header_date, 0, sizeof(header_dates) / sizeof(header_dates[0]));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pop3_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
