/*
 * NAME
 *	test_stream 1
 * SUMMARY
 *	unit tests: the connection layer against scripted fake servers
 * DESCRIPTION
 *	TLS is tested against the real Dovecot of the integration tests;
 *	here the failures a real server will not produce on demand.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fakeserver.h"
#include "mm_alloc.h"
#include "stream.h"

static struct stream *connect_to(const struct fakeserver *fs, unsigned timeout_ms)
{
	struct stream *s = NULL;
	enum stream_fail fail;
	const char *error;

	ck_assert_msg(stream_connect("127.0.0.1", fs->port, timeout_ms, &s, &fail,
				     &error) == 0, "connect: %s", error);
	return s;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(lines_and_writes)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK ready\r\nsecond line\nthird", 0, 0 },
		{ FAKE_SLEEP_MS, NULL, 0, 50 },
		{ FAKE_SEND, " part\r\n\r\n", 0, 0 },
		{ FAKE_EXPECT, "A1 NOOP", 0, 0 },
		{ FAKE_EXPECT, "A2 LOGOUT", 0, 0 },
		{ FAKE_SEND, "A2 OK bye\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct stream *s;
	enum stream_fail fail;
	const char *line, *error;
	size_t len;

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	s = connect_to(&fs, 5000);
	ck_assert_int_eq(stream_read_line(s, 100, &line, &len, &fail, &error), 0);
	ck_assert_str_eq(line, "* OK ready");
	ck_assert_uint_eq(len, 10);
	ck_assert_int_eq(stream_read_line(s, 100, &line, &len, &fail, &error), 0);
	ck_assert_str_eq(line, "second line");
	/* A line that arrives in two pieces. */
	ck_assert_int_eq(stream_read_line(s, 100, &line, &len, &fail, &error), 0);
	ck_assert_str_eq(line, "third part");
	ck_assert_int_eq(stream_read_line(s, 100, &line, &len, &fail, &error), 0);
	ck_assert_uint_eq(len, 0);
	/* Pipelined: two commands in one flush. */
	ck_assert_int_eq(stream_printf(s, &fail, &error, "A1 NOOP\r\n"), 0);
	ck_assert_int_eq(stream_printf(s, &fail, &error, "A2 LOGOUT\r\n"), 0);
	ck_assert_uint_eq(stream_bytes_out(s), 20);
	ck_assert_int_eq(stream_flush(s, &fail, &error), 0);
	ck_assert_int_eq(stream_read_line(s, 100, &line, &len, &fail, &error), 0);
	ck_assert_str_eq(line, "A2 OK bye");
	ck_assert_str_eq(stream_tls_description(s), "plain");
	ck_assert(!stream_is_tls(s));
	stream_close(&s);
	ck_assert_ptr_null(s);
	ck_assert_msg(fakeserver_stop(&fs), "server script did not complete");
}
END_TEST

/* A banner that never comes: a WAIT failure after the timeout. */
START_TEST(hung_banner)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_HANG, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct stream *s;
	enum stream_fail fail = STREAM_FAIL_NONE;
	const char *line, *error;
	double t0;
	size_t len;

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	s = connect_to(&fs, 300);
	t0 = now_s();
	ck_assert_int_eq(stream_read_line(s, 100, &line, &len, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_WAIT);
	ck_assert_ptr_nonnull(strstr(error, "timed out"));
	ck_assert(now_s() - t0 >= 0.25);
	stream_close(&s);
	fakeserver_stop(&fs);
}
END_TEST

/* A line over the limit fails before it ends: no waiting for a LF. */
START_TEST(line_too_long)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND_REPEAT, "xxxxxxxxxx", 0, 20 },
		{ FAKE_HANG, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct stream *s;
	enum stream_fail fail;
	const char *line, *error;
	size_t len;

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	s = connect_to(&fs, 10000);
	ck_assert_int_eq(stream_read_line(s, 100, &line, &len, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_ptr_nonnull(strstr(error, "line over 100 bytes"));
	stream_close(&s);
	fakeserver_stop(&fs);
}
END_TEST

/* Exactly at the limit is fine, with CRLF or LF. */
START_TEST(line_at_limit)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND_REPEAT, "y", 0, 100 },
		{ FAKE_SEND, "\r\n", 0, 0 },
		{ FAKE_SEND_REPEAT, "z", 0, 100 },
		{ FAKE_SEND, "\n", 0, 0 },
		{ FAKE_SEND_REPEAT, "w", 0, 101 },
		{ FAKE_SEND, "\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct stream *s;
	enum stream_fail fail;
	const char *line, *error;
	size_t len;

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	s = connect_to(&fs, 5000);
	ck_assert_int_eq(stream_read_line(s, 100, &line, &len, &fail, &error), 0);
	ck_assert_uint_eq(len, 100);
	ck_assert_int_eq(stream_read_line(s, 100, &line, &len, &fail, &error), 0);
	ck_assert_uint_eq(len, 100);
	ck_assert_int_eq(stream_read_line(s, 100, &line, &len, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	stream_close(&s);
	fakeserver_stop(&fs);
}
END_TEST

/* The connection cut in the middle of a literal: TEMP, data so far kept. */
START_TEST(cut_mid_literal)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* 1 FETCH (BODY[] {1000}\r\n", 0, 0 },
		{ FAKE_SEND_REPEAT, "0123456789", 0, 40 },
		{ FAKE_CLOSE, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct stream *s;
	enum stream_fail fail;
	const char *line, *error;
	char buf[64];
	size_t len, got, total = 0;
	int ret;

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	s = connect_to(&fs, 5000);
	ck_assert_int_eq(stream_read_line(s, 200, &line, &len, &fail, &error), 0);
	while ((ret = stream_read(s, buf, sizeof(buf), &got, &fail, &error)) == 0) {
		ck_assert_uint_le(got, sizeof(buf));
		total += got;
	}
	ck_assert_uint_eq(total, 400);
	ck_assert_int_eq(fail, STREAM_FAIL_TEMP);
	ck_assert_ptr_nonnull(strstr(error, "closed by the server"));
	stream_close(&s);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* Bulk writes go out whole, in bounded buffers. */
START_TEST(bulk_write)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_DRAIN, NULL, 0, 1000000 },
		{ FAKE_SEND, "got it\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	struct stream *s;
	enum stream_fail fail;
	const char *line, *error;
	char *block = mm_malloc(1000);
	size_t len;

	memset(block, 'b', 1000);
	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	s = connect_to(&fs, 5000);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(stream_write(s, block, 1000, &fail, &error), 0);
	ck_assert_int_eq(stream_flush(s, &fail, &error), 0);
	ck_assert_uint_eq(stream_bytes_out(s), 1000000);
	ck_assert_int_eq(stream_read_line(s, 100, &line, &len, &fail, &error), 0);
	ck_assert_str_eq(line, "got it");
	ck_assert_uint_eq(stream_bytes_in(s), 8);
	stream_close(&s);
	mm_free(&block);
	ck_assert(fakeserver_stop(&fs));
}
END_TEST

/* Plaintext already buffered when TLS starts: refused (CVE-2011-0411). */
START_TEST(starttls_injection)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "A1 OK Begin TLS\r\n* injected\r\n", 0, 0 },
		{ FAKE_HANG, NULL, 0, 0 },
	};
	struct stream_tls tls = { .verify = 1, .name = "127.0.0.1" };
	struct fakeserver fs;
	struct stream *s;
	enum stream_fail fail;
	const char *line, *error;
	size_t len;

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	s = connect_to(&fs, 5000);
	ck_assert_int_eq(stream_read_line(s, 100, &line, &len, &fail, &error), 0);
	ck_assert_int_eq(stream_start_tls(s, &tls, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_ptr_nonnull(strstr(error, "injection"));
	stream_close(&s);
	fakeserver_stop(&fs);
}
END_TEST

/* A server that is not speaking TLS: the handshake fails, classified. */
START_TEST(tls_to_plain_server)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SLEEP_MS, NULL, 0, 100 },
		{ FAKE_SEND, "* OK this is not TLS\r\n", 0, 0 },
		{ FAKE_CLOSE, NULL, 0, 0 },
	};
	struct stream_tls tls = { .verify = 1, .name = "127.0.0.1" };
	struct fakeserver fs;
	struct stream *s;
	enum stream_fail fail = STREAM_FAIL_NONE;
	const char *error;

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	s = connect_to(&fs, 5000);
	ck_assert_int_eq(stream_start_tls(s, &tls, &fail, &error), -1);
	ck_assert_msg(fail == STREAM_FAIL_FINAL || fail == STREAM_FAIL_TEMP,
		      "fail %d: %s", fail, error);
	stream_close(&s);
	fakeserver_stop(&fs);
}
END_TEST

START_TEST(connect_refused)
{
	struct fakeserver fs;
	static const struct fakeserver_step script[] = { { FAKE_CLOSE, NULL, 0, 0 } };
	struct stream *s = NULL;
	enum stream_fail fail;
	const char *error;
	uint16_t port;

	/* A port that was just free: take one, then let it go. */
	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	port = fs.port;
	s = connect_to(&fs, 2000);
	stream_close(&s);
	fakeserver_stop(&fs);
	ck_assert_int_eq(stream_connect("127.0.0.1", port, 2000, &s, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_WAIT);
	ck_assert_ptr_nonnull(strstr(error, "refused"));
	ck_assert_ptr_nonnull(strstr(error, "127.0.0.1 port"));
	ck_assert_ptr_null(s);
}
END_TEST

static Suite *stream_suite(void)
{
	Suite *s = suite_create("stream");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, lines_and_writes);
	tcase_add_test(tc, hung_banner);
	tcase_add_test(tc, line_too_long);
	tcase_add_test(tc, line_at_limit);
	tcase_add_test(tc, cut_mid_literal);
	tcase_add_test(tc, bulk_write);
	tcase_add_test(tc, starttls_injection);
	tcase_add_test(tc, tls_to_plain_server);
	tcase_add_test(tc, connect_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(stream_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
