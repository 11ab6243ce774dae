/*
 * NAME
 *	test_managesieve_client 1
 * SUMMARY
 *	unit tests: the ManageSieve client against scripted fake servers
 * DESCRIPTION
 *	The protocol's edge cases a real server does not produce on demand:
 *	literals in names, scripts and reasons, a literal cut short, an
 *	over-long line, NO with a literal reason, BYE, a script over the
 *	limit (read and dropped, the session goes on). The normal paths run
 *	against real Dovecot Pigeonhole in tests/integration/test_sieve.sh.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "fakeserver.h"
#include "freewatch.h"
#include "managesieve_client.h"
#include "mm_alloc.h"

#define GREETING \
	"\"IMPLEMENTATION\" \"Fake Sieve\"\r\n" \
	"\"SIEVE\" \"fileinto vacation\"\r\n" \
	"\"SASL\" \"PLAIN LOGIN\"\r\n" \
	"\"VERSION\" \"1.0\"\r\n" \
	"OK \"ready\"\r\n"
/* base64("\0alice\0Secret-Pw-9") */
#define LOGIN_PLAIN "AUTHENTICATE \"PLAIN\" \"AGFsaWNlAFNlY3JldC1Qdy05\"\r"

static int start(const struct fakeserver_step *script, struct fakeserver *fs,
		 struct managesieve_client **c, uint64_t max_script,
		 enum stream_fail *fail, const char **error)
{
	struct managesieve_settings set = { 0 };

	ck_assert_int_eq(fakeserver_start(script, fs), 0);
	set.host = "127.0.0.1";
	set.port = fs->port;
	set.tls = CFG_TLS_NONE;
	set.connect_timeout_ms = 2000;
	set.timeout_ms = 2000;
	set.max_line = 256;
	set.max_script = max_script;
	set.max_scripts = 3;
	*c = NULL;
	return managesieve_connect(&set, c, fail, error);
}

START_TEST(greeting_login_list_get)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, GREETING, 0, 0 },
		{ FAKE_EXPECT, LOGIN_PLAIN, 0, 0 },
		{ FAKE_SEND, "OK \"Logged in\"\r\n", 0, 0 },
		{ FAKE_EXPECT, "LISTSCRIPTS\r", 0, 0 },
		{ FAKE_SEND, "\"main\" ACTIVE\r\n{8}\r\nwith \"q\"\r\n\"b\\\\s\"\r\n"
		  "OK \"Listscripts completed.\"\r\n", 0, 0 },
		{ FAKE_EXPECT, "GETSCRIPT \"with \\\"q\\\"\"\r", 0, 0 },
		/* CRLF, a bare LF, a NUL and UTF-8 inside: byte for byte */
		{ FAKE_SEND, "{14}\r\nkeep;\r\n\n" "\0" "\xc3\xa9" "x\r\n\r\nOK \"Getscript\"\r\n", 38, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct managesieve_client *c;
	struct managesieve_script *s;
	enum stream_fail fail;
	const char *error;
	char *data;
	size_t n, len;

	ck_assert_int_eq(start(script, &fs, &c, 0, &fail, &error), 0);
	ck_assert_str_eq(managesieve_implementation(c), "Fake Sieve");
	ck_assert_str_eq(managesieve_extensions(c), "fileinto vacation");
	ck_assert(managesieve_has_sasl(c, "plain"));
	ck_assert(!managesieve_has_sasl(c, "PLAI"));
	ck_assert(!managesieve_is_tls(c));
	/* The encoded credentials are wiped too (stream buffers, ours). */
	freewatch_set("AGFsaWNlAFNlY3JldC1Qdy05");
	ck_assert_int_eq(managesieve_login(c, NULL, "alice", "Secret-Pw-9", &fail,
					   &error), 0);
	ck_assert_int_eq(managesieve_list(c, &s, &n, &fail, &error), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(s[0].name, "main");
	ck_assert(s[0].active);
	ck_assert_str_eq(s[1].name, "with \"q\"");
	ck_assert(!s[1].active);
	ck_assert_str_eq(s[2].name, "b\\s");
	ck_assert_msg(managesieve_get(c, s[1].name, &data, &len, &fail, &error) == 0, "%s", error);
	ck_assert_uint_eq(len, 14);
	ck_assert(memcmp(data, "keep;\r\n\n" "\0" "\xc3\xa9" "x\r\n", 14) == 0);
	mm_free(&data);
	managesieve_scripts_free(&s, n);
	managesieve_close(&c);
	ck_assert_uint_eq(freewatch_count(), 0);
	freewatch_set(NULL);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* An admin or master login: the user as authzid; NO is an auth failure
 * whose reason is a literal; no buffer keeps the password. */
START_TEST(login_authzid_refused)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, GREETING, 0, 0 },
		/* base64("alice@x.test\0mailmigrate\0Secret-Pw-9") */
		{ FAKE_EXPECT, "AUTHENTICATE \"PLAIN\" "
		  "\"YWxpY2VAeC50ZXN0AG1haWxtaWdyYXRlAFNlY3JldC1Qdy05\"\r", 0, 0 },
		{ FAKE_SEND, "NO (AUTH-TOO-WEAK) {17}\r\nAuthentication\r\nX\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct managesieve_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(start(script, &fs, &c, 0, &fail, &error), 0);
	freewatch_set("Secret-Pw-9");
	ck_assert_int_eq(managesieve_login(c, "alice@x.test", "mailmigrate",
					   "Secret-Pw-9", &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_AUTH);
	ck_assert_msg(strstr(error, "NO (AUTH-TOO-WEAK)") != NULL, "%s", error);
	ck_assert_msg(strstr(error, "Authentication??X") != NULL, "%s", error);
	managesieve_close(&c);
	ck_assert_uint_eq(freewatch_count(), 0);
	freewatch_set(NULL);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

#define GREETING_OAUTH \
	"\"IMPLEMENTATION\" \"Fake Sieve\"\r\n" \
	"\"SASL\" \"PLAIN OAUTHBEARER XOAUTH2\"\r\n" \
	"OK \"ready\"\r\n"

/* OAUTHBEARER: the initial response as a string, with host and port
 * (RFC 7628 3.1; only its start is fixed here, the port is the fake
 * server's); accepted. No buffer keeps the token. */
START_TEST(login_oauthbearer)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, GREETING_OAUTH, 0, 0 },
		/* base64("n,a=alice,^Ahost=127.0.0.1^Aport") ... */
		{ FAKE_EXPECT, "AUTHENTICATE \"OAUTHBEARER\" "
		  "\"bixhPWFsaWNlLAFob3N0PTEyNy4wLjAuMQFwb3J0", 0, 0 },
		{ FAKE_SEND, "OK \"Logged in\"\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct managesieve_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(start(script, &fs, &c, 0, &fail, &error), 0);
	freewatch_set("tok-1");
	ck_assert_msg(managesieve_login_oauth(c, CFG_AUTH_OAUTHBEARER, "alice", "tok-1",
					      &fail, &error) == 0, "%s", error);
	managesieve_close(&c);
	ck_assert_uint_eq(freewatch_count(), 0);
	freewatch_set(NULL);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* XOAUTH2 refused: the server's error challenge (base64 of its JSON) is
 * answered with an empty string, then its NO is an auth failure that
 * carries the JSON. A mechanism the server does not list is not tried. */
START_TEST(login_xoauth2_refused)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, GREETING_OAUTH, 0, 0 },
		/* base64("user=alice^Aauth=Bearer tok-1^A^A") */
		{ FAKE_EXPECT, "AUTHENTICATE \"XOAUTH2\" "
		  "\"dXNlcj1hbGljZQFhdXRoPUJlYXJlciB0b2stMQEB\"\r", 0, 0 },
		/* base64("{\"status\":\"401\"}") */
		{ FAKE_SEND, "\"eyJzdGF0dXMiOiI0MDEifQ==\"\r\n", 0, 0 },
		{ FAKE_EXPECT, "\"\"\r", 0, 0 },
		{ FAKE_SEND, "NO \"Authentication failed\"\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	static const struct fakeserver_step plain_only[] = {
		{ FAKE_SEND, GREETING, 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct managesieve_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(start(script, &fs, &c, 0, &fail, &error), 0);
	ck_assert_int_eq(managesieve_login_oauth(c, CFG_AUTH_XOAUTH2, "alice", "tok-1",
						 &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_AUTH);
	ck_assert_msg(strstr(error, "NO Authentication failed") != NULL, "%s", error);
	ck_assert_msg(strstr(error, "{\"status\":\"401\"}") != NULL, "%s", error);
	managesieve_close(&c);
	ck_assert(fakeserver_stop(&fs));

	ck_assert_int_eq(start(plain_only, &fs, &c, 0, &fail, &error), 0);
	ck_assert_int_eq(managesieve_login_oauth(c, CFG_AUTH_XOAUTH2, "alice", "tok-1",
						 &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_msg(strstr(error, "does not offer SASL XOAUTH2") != NULL, "%s", error);
	managesieve_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* PUTSCRIPT: the script as a literal, byte for byte; NEW's NO (with a
 * quoted or a literal reason) is this script's failure, and the session
 * goes on (SETACTIVE after it). */
START_TEST(put_refused_then_setactive)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, GREETING, 0, 0 },
		{ FAKE_EXPECT, "PUTSCRIPT \"bad\" {7+}\r", 0, 0 },
		{ FAKE_DRAIN, NULL, 0, 9 },	/* the 7 bytes and CRLF */
		{ FAKE_SEND, "NO {29}\r\nline 1: unknown extension 'x'\r\n", 0, 0 },
		{ FAKE_EXPECT, "PUTSCRIPT \"big\" {4+}\r", 0, 0 },
		{ FAKE_DRAIN, NULL, 0, 6 },
		{ FAKE_SEND, "NO (QUOTA/MAXSIZE) \"Script is too large\"\r\n", 0, 0 },
		{ FAKE_EXPECT, "PUTSCRIPT \"ok\" {2+}\r", 0, 0 },
		{ FAKE_DRAIN, NULL, 0, 4 },
		{ FAKE_SEND, "OK\r\n", 0, 0 },
		{ FAKE_EXPECT, "SETACTIVE \"ok\"\r", 0, 0 },
		{ FAKE_SEND, "OK \"Setactive completed.\"\r\n", 0, 0 },
		{ FAKE_EXPECT, "SETACTIVE \"\"\r", 0, 0 },
		{ FAKE_SEND, "NO (TRYLATER) \"busy\"\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct managesieve_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(start(script, &fs, &c, 0, &fail, &error), 0);
	ck_assert_int_eq(managesieve_put(c, "bad", "a\r\nb\"c\\", 7, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_MESSAGE);
	ck_assert_msg(strstr(error, "unknown extension 'x'") != NULL, "%s", error);
	ck_assert_int_eq(managesieve_put(c, "big", "1234", 4, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_MESSAGE);
	ck_assert_msg(strstr(error, "(QUOTA/MAXSIZE) Script is too large") != NULL,
		      "%s", error);
	ck_assert_int_eq(managesieve_put(c, "ok", "k;", 2, &fail, &error), 0);
	ck_assert_int_eq(managesieve_setactive(c, "ok", &fail, &error), 0);
	ck_assert_int_eq(managesieve_setactive(c, "", &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_WAIT);
	managesieve_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* A script over max_script is read and dropped (a failed item), and
 * the next GETSCRIPT on the same session works. */
START_TEST(get_over_limit_drained)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, GREETING, 0, 0 },
		{ FAKE_EXPECT, "GETSCRIPT \"huge\"\r", 0, 0 },
		{ FAKE_SEND, "{40000}\r\n", 0, 0 },
		{ FAKE_SEND_REPEAT, "0123456789", 0, 4000 },
		{ FAKE_SEND, "\r\nOK\r\n", 0, 0 },
		{ FAKE_EXPECT, "GETSCRIPT \"small\"\r", 0, 0 },
		{ FAKE_SEND, "{3+}\r\nabc\r\nOK\r\n", 0, 0 },
		{ FAKE_EXPECT, "GETSCRIPT \"gone\"\r", 0, 0 },
		{ FAKE_SEND, "NO (NONEXISTENT) \"There is no script by that name\"\r\n",
		  0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct managesieve_client *c;
	enum stream_fail fail;
	const char *error;
	char *data;
	size_t len;

	ck_assert_int_eq(start(script, &fs, &c, 1000, &fail, &error), 0);
	ck_assert_int_eq(managesieve_get(c, "huge", &data, &len, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_MESSAGE);
	ck_assert_msg(strstr(error, "larger than 1000 bytes") != NULL, "%s", error);
	ck_assert_ptr_null(data);
	ck_assert_int_eq(managesieve_get(c, "small", &data, &len, &fail, &error), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_str_eq(data, "abc");
	mm_free(&data);
	ck_assert_int_eq(managesieve_get(c, "gone", &data, &len, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_MESSAGE);
	ck_assert_msg(strstr(error, "(NONEXISTENT)") != NULL, "%s", error);
	managesieve_close(&c);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* Servers that break the session: each fails with its class. */
static const struct {
	const char *name;
	const char *after_greeting;	/* sent after LISTSCRIPTS */
	int close;			/* then close the connection */
	enum stream_fail fail;
	const char *says;
} broken[] = {
	{ "cut literal", "{50}\r\nonly a few bytes", 1, STREAM_FAIL_TEMP, "cut short" },
	{ "over-long line", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0,
	  STREAM_FAIL_FINAL, "" },
	{ "BYE", "BYE (TRYLATER) \"shutting down\"\r\n", 1, STREAM_FAIL_WAIT, "BYE" },
	{ "BYE plain", "BYE \"idle\"\r\n", 1, STREAM_FAIL_TEMP, "idle" },
	{ "too many", "\"a\"\r\n\"b\"\r\n\"c\"\r\n\"d\"\r\nOK\r\n", 0, STREAM_FAIL_FINAL,
	  "more than 3" },
	{ "name literal too long", "{600}\r\n", 0, STREAM_FAIL_FINAL, "literal of 600" },
	{ "bad literal", "{12a}\r\n", 0, STREAM_FAIL_FINAL, "bad literal" },
	{ "unterminated quote", "\"abc\r\n", 0, STREAM_FAIL_FINAL, "quoted" },
	{ "not a script line", "main ACTIVE\r\nOK\r\n", 0, STREAM_FAIL_FINAL,
	  "not a script line" },
	{ "second word", "\"main\" PASSIVE\r\nOK\r\n", 0, STREAM_FAIL_FINAL,
	  "not a script line" },
	{ "NO", "NO \"no listing\"\r\n", 0, STREAM_FAIL_FINAL, "LISTSCRIPTS NO no listing" },
};

START_TEST(broken_servers)
{
	const struct fakeserver_step script[] = {
		{ FAKE_SEND, GREETING, 0, 0 },
		{ FAKE_EXPECT, "LISTSCRIPTS\r", 0, 0 },
		{ FAKE_SEND, broken[_i].after_greeting, 0, 0 },
		{ broken[_i].close ? FAKE_CLOSE : FAKE_END, NULL, 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct managesieve_client *c;
	struct managesieve_script *s;
	enum stream_fail fail;
	const char *error;
	size_t n;

	ck_assert_int_eq(start(script, &fs, &c, 0, &fail, &error), 0);
	ck_assert_int_eq(managesieve_list(c, &s, &n, &fail, &error), -1);
	ck_assert_msg(fail == broken[_i].fail, "%s: class %d: %s", broken[_i].name,
		      fail, error);
	ck_assert_msg(strstr(error, broken[_i].says) != NULL, "%s: %s",
		      broken[_i].name, error);
	ck_assert_ptr_null(s);
	managesieve_close(&c);
	fakeserver_stop(&fs);
}
END_TEST

/* The greeting: starttls required but not offered; NO (TRYLATER). */
START_TEST(greeting_failures)
{
	static const struct fakeserver_step no_tls[] = {
		{ FAKE_SEND, GREETING, 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	static const struct fakeserver_step busy[] = {
		{ FAKE_SEND, "NO (TRYLATER) \"too many connections\"\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct managesieve_settings set = { 0 };
	struct fakeserver fs;
	struct managesieve_client *c;
	enum stream_fail fail;
	const char *error;

	ck_assert_int_eq(fakeserver_start(no_tls, &fs), 0);
	set.host = "127.0.0.1";
	set.port = fs.port;
	set.tls = CFG_TLS_STARTTLS;
	set.connect_timeout_ms = set.timeout_ms = 2000;
	ck_assert_int_eq(managesieve_connect(&set, &c, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_msg(strstr(error, "no STARTTLS") != NULL, "%s", error);
	fakeserver_stop(&fs);

	ck_assert_int_eq(fakeserver_start(busy, &fs), 0);
	set.port = fs.port;
	set.tls = CFG_TLS_NONE;
	ck_assert_int_eq(managesieve_connect(&set, &c, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_WAIT);
	ck_assert_msg(strstr(error, "too many connections") != NULL, "%s", error);
	fakeserver_stop(&fs);
}
END_TEST

/* What managesieve_connect() makes of what answers on the port:
 * another protocol's greeting is "no ManageSieve here"
 * (MANAGESIEVE_ABSENT); a server that accepts and never greets, or
 * whose greeting is cut short, is out of reach now (-1, retried). */
static const struct {
	const char *name;
	const char *greeting;	/* NULL: accept and say nothing */
	int close;		/* close after it */
	int ret;
	enum stream_fail policy;	/* for -1 */
	const char *error;
} answers[] = {
	{ "IMAP", "* OK [CAPABILITY IMAP4rev1] Dovecot (Debian) ready.\r\n", 0,
	  MANAGESIEVE_ABSENT, STREAM_FAIL_FINAL, "not ManageSieve's" },
	{ "POP3", "+OK Dovecot ready.\r\n", 0, MANAGESIEVE_ABSENT, STREAM_FAIL_FINAL,
	  "+OK Dovecot" },
	{ "SMTP", "220 mx.example.test ESMTP Postfix\r\n", 0, MANAGESIEVE_ABSENT,
	  STREAM_FAIL_FINAL, "220 mx" },
	{ "silent", NULL, 0, -1, STREAM_FAIL_WAIT, "" },
	{ "cut", "\"IMPLEMENTATION\" \"Fake Sieve\"\r\n", 1, -1, STREAM_FAIL_TEMP, "" },
	{ "TRYLATER", "NO (TRYLATER) \"too many connections\"\r\n", 0, -1,
	  STREAM_FAIL_WAIT, "too many" },
	{ "lower-case ok", "ok\r\n", 0, 0, STREAM_FAIL_NONE, "" },
};

START_TEST(connect_absent_or_out_of_reach)
{
	const struct fakeserver_step script[] = {
		{ answers[_i].greeting != NULL ? FAKE_SEND : FAKE_HANG,
		  answers[_i].greeting, 0, 0 },
		{ answers[_i].close ? FAKE_CLOSE : FAKE_HANG, NULL, 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct managesieve_settings set = { 0 };
	struct fakeserver fs;
	struct managesieve_client *c = NULL;
	enum stream_fail fail = STREAM_FAIL_NONE;
	const char *error = "";
	int ret;

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	set.host = "127.0.0.1";
	set.port = fs.port;
	set.tls = CFG_TLS_NONE;
	/* The bound of the silent case: it fails within this. */
	set.connect_timeout_ms = set.timeout_ms = 300;
	ret = managesieve_connect(&set, &c, &fail, &error);
	ck_assert_msg(ret == answers[_i].ret, "%s: %d: %s", answers[_i].name, ret, error);
	if (ret != 0) {
		ck_assert_ptr_null(c);
		ck_assert_msg(stream_fail_policy(fail) == answers[_i].policy,
			      "%s: class %s: %s", answers[_i].name,
			      stream_fail_name(fail), error);
		ck_assert_msg(strstr(error, answers[_i].error) != NULL, "%s: %s",
			      answers[_i].name, error);
	}
	managesieve_close(&c);
	fakeserver_stop(&fs);
}
END_TEST

/* A port that refuses the connection (bound, not listening: nothing
 * serves there, and no other test can take it meanwhile). */
START_TEST(connect_refused_is_absent)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	struct managesieve_settings set = { 0 };
	struct managesieve_client *c = NULL;
	enum stream_fail fail;
	const char *error;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	set.host = "127.0.0.1";
	set.port = ntohs(sin.sin_port);
	set.connect_timeout_ms = set.timeout_ms = 2000;
	ck_assert_int_eq(managesieve_connect(&set, &c, &fail, &error), MANAGESIEVE_ABSENT);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(error, "refused") != NULL, "%s", error);
	close(fd);
}
END_TEST

static Suite *managesieve_suite(void)
{
	Suite *s = suite_create("managesieve_client");
	TCase *tc = tcase_create("protocol");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, greeting_login_list_get);
	tcase_add_test(tc, login_authzid_refused);
	tcase_add_test(tc, login_oauthbearer);
	tcase_add_test(tc, login_xoauth2_refused);
	tcase_add_test(tc, put_refused_then_setactive);
	tcase_add_test(tc, get_over_limit_drained);
	tcase_add_loop_test(tc, broken_servers, 0, sizeof(broken) / sizeof(broken[0]));
	tcase_add_test(tc, greeting_failures);
	tcase_add_loop_test(tc, connect_absent_or_out_of_reach, 0,
			    sizeof(answers) / sizeof(answers[0]));
	tcase_add_test(tc, connect_refused_is_absent);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(managesieve_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
