/*
 * NAME
 *	test_relay_request 1
 * SUMMARY
 *	unit tests: socketmap query parsing, replies, a connection's
 *	stream (pipelined, split, malformed, oversize queries)
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mm_alloc.h"
#include "relay.h"

static const struct {
	const char *payload;
	int ret;		/* 0, RELAY_NOTFOUND or -1 */
	enum relay_map map;
	const char *key;	/* on 0 */
	const char *error;	/* on -1, a part of it */
} parse_cases[] = {
	{ "transport carol@example.test", 0, RELAY_MAP_TRANSPORT, "carol@example.test", NULL },
	{ "mailbox a@b.c", 0, RELAY_MAP_MAILBOX, "a@b.c", NULL },
	{ "alias x@y.z", 0, RELAY_MAP_ALIAS, "x@y.z", NULL },
	{ "transport *", 0, RELAY_MAP_TRANSPORT, "*", NULL },
	{ "transport a b", 0, RELAY_MAP_TRANSPORT, "a b", NULL },
	{ "transport", -1, 0, NULL, "no space" },
	{ " a@b.c", -1, 0, NULL, "empty map name" },
	{ "transport ", -1, 0, NULL, "empty key" },
	{ "virtual a@b.c", -1, 0, NULL, "unknown map" },
	{ "Transport a@b.c", -1, 0, NULL, "unknown map" },
	{ "transportx a@b.c", -1, 0, NULL, "unknown map" },
	{ "transport a\nb", -1, 0, NULL, "control character" },
	{ "transport a\rb", -1, 0, NULL, "control character" },
};

START_TEST(parse_table)
{
	char key[RELAY_MAX_KEY];
	const char *error = NULL;
	enum relay_map map = RELAY_MAP_COUNT;
	int ret;

	ret = relay_request_parse(parse_cases[_i].payload,
				  strlen(parse_cases[_i].payload), &map, key,
				  sizeof(key), &error);
	ck_assert_msg(ret == parse_cases[_i].ret, "'%s': %d", parse_cases[_i].payload,
		      ret);
	if (ret == 0) {
		ck_assert_int_eq(map, parse_cases[_i].map);
		ck_assert_str_eq(key, parse_cases[_i].key);
	} else {
		ck_assert_ptr_nonnull(strstr(error, parse_cases[_i].error));
	}
}
END_TEST

/* A NUL inside the key is a control byte; an over-long key is a valid
 * query we cannot know. */
START_TEST(parse_nul_and_long_key)
{
	char key[RELAY_MAX_KEY], payload[2000];
	const char *error;
	enum relay_map map;

	ck_assert_int_eq(relay_request_parse("alias a\0b", 9, &map, key,
					     sizeof(key), &error), -1);
	memcpy(payload, "alias ", 6);
	memset(payload + 6, 'a', sizeof(payload) - 6);
	ck_assert_int_eq(relay_request_parse(payload, sizeof(payload), &map, key,
					     sizeof(key), &error), RELAY_NOTFOUND);
	ck_assert_str_eq(key, "");
}
END_TEST

START_TEST(reply_format)
{
	char buf[RELAY_REPLY_SIZE], big[4000];
	size_t n;

	n = relay_reply_format(RELAY_OK, "smtp:[192.0.2.1]:25", buf, sizeof(buf));
	ck_assert_str_eq(buf, "22:OK smtp:[192.0.2.1]:25,");
	ck_assert_uint_eq(n, strlen(buf));
	relay_reply_format(RELAY_NOTFOUND, NULL, buf, sizeof(buf));
	ck_assert_str_eq(buf, "9:NOTFOUND ,");
	relay_reply_format(RELAY_TEMP, "store error", buf, sizeof(buf));
	ck_assert_str_eq(buf, "16:TEMP store error,");
	relay_reply_format(RELAY_PERM, "bad", buf, sizeof(buf));
	ck_assert_str_eq(buf, "8:PERM bad,");
	/* Data is cut to fit the buffer; the netstring stays well formed. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	n = relay_reply_format(RELAY_OK, big, buf, sizeof(buf));
	ck_assert_uint_lt(n, sizeof(buf));
	ck_assert_int_eq(buf[n - 1], ',');
}
END_TEST

/* A stub map: OK for "x@y", NOTFOUND otherwise. */
enum relay_status relay_map_lookup(struct relay_maps *maps, enum relay_map map,
				   const char *key, char *data, size_t datasize)
{
	maps->lookups[map]++;
	if (strcmp(key, "x@y") == 0) {
		snprintf(data, datasize, "smtp:[h]:25");
		return RELAY_OK;
	}
	return RELAY_NOTFOUND;
}

/* Feed text to a connection's buffer and process it. */
static int feed(struct relay_conn *conn, struct relay_maps *maps,
		const char *text, size_t len)
{
	const char *error;

	if (conn->in == NULL)
		conn->in = mm_malloc(RELAY_IN_SIZE);
	ck_assert_uint_le(conn->in_len + len, RELAY_IN_SIZE);
	memcpy(conn->in + conn->in_len, text, len);
	conn->in_len += len;
	return relay_conn_process(conn, maps, &error);
}

static const char *output(struct relay_conn *conn)
{
	conn->out = mm_realloc(conn->out, conn->out_len + 1);
	conn->out[conn->out_len] = '\0';
	return conn->out;
}

START_TEST(stream_pipelined_and_split)
{
	struct relay_conn conn = { .fd = -1 };
	struct relay_maps maps = { 0 };
	const char *q = "13:transport x@y,13:transport a@b,9:mailbox *,";

	/* Byte by byte: the same answers as all at once. */
	for (size_t i = 0; i < strlen(q); i++)
		ck_assert_int_eq(feed(&conn, &maps, q + i, 1), 0);
	ck_assert_str_eq(output(&conn), "14:OK smtp:[h]:25,9:NOTFOUND ,9:NOTFOUND ,");
	ck_assert_uint_eq(conn.in_len, 0);
	ck_assert_uint_eq(maps.lookups[RELAY_MAP_TRANSPORT], 2);
	ck_assert_uint_eq(maps.lookups[RELAY_MAP_MAILBOX], 1);
	relay_conn_free_buffers(&conn);
}
END_TEST

START_TEST(stream_bad_query_answered_perm)
{
	struct relay_conn conn = { .fd = -1 };
	struct relay_maps maps = { 0 };

	ck_assert_int_eq(feed(&conn, &maps, "11:virtual x@y,", 15), 0);
	ck_assert_ptr_nonnull(strstr(output(&conn), ":PERM bad query: unknown map"));
	relay_conn_free_buffers(&conn);
}
END_TEST

/* Log lines, for counting them. */
static char logged[4096];
static unsigned logged_lines;

static void capture(enum log_severity sev, const char *text)
{
	size_t len = strlen(logged);

	(void)sev;
	logged_lines++;
	snprintf(logged + len, sizeof(logged) - len, "%s\n", text);
}

/* Many bad queries on one connection: answered PERM each, the
 * connection kept, and one log line when it closes (count and the
 * first), none per query. */
START_TEST(stream_bad_queries_one_line)
{
	struct relay_conn conn = { .fd = -1, .id = 7 };
	struct relay_maps maps = { 0 };
	const char *out;
	size_t perm = 0;

	snprintf(conn.peer, sizeof(conn.peer), "unix");
	logged[0] = '\0';
	logged_lines = 0;
	log_set_handler(capture);
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(feed(&conn, &maps, "11:virtual x@y,", 15), 0);
	ck_assert_int_eq(feed(&conn, &maps, "13:transport x@y,", 17), 0);
	ck_assert_int_eq(feed(&conn, &maps, "9:transport,", 12), 0);
	for (out = output(&conn); (out = strstr(out, ":PERM bad query")) != NULL; out++)
		perm++;
	ck_assert_uint_eq(perm, 51);
	ck_assert_ptr_nonnull(strstr(output(&conn), "14:OK smtp:[h]:25,"));
	ck_assert_msg(logged_lines == 0, "%u lines logged before the close",
		      logged_lines);
	relay_conn_closed(&conn);
	ck_assert_uint_eq(logged_lines, 1);
	ck_assert_msg(strstr(logged, "client #7 (unix): 51 bad queries of 52 "
				     "answered PERM (the first: 'virtual x@y': "
				     "unknown map name") != NULL, "%s", logged);
	/* A clean connection says nothing at close. */
	relay_conn_free_buffers(&conn);
	memset(&conn, 0, sizeof(conn));
	conn.fd = -1;
	ck_assert_int_eq(feed(&conn, &maps, "13:transport x@y,", 17), 0);
	relay_conn_closed(&conn);
	ck_assert_uint_eq(logged_lines, 1);
	log_set_handler(NULL);
	relay_conn_free_buffers(&conn);
}
END_TEST

static const char *const malformed[] = {
	"x", ":abc,", "01:a,", "3:abc;", "10001:", "99999999999999999999:",
	"-1:,",
};

START_TEST(stream_malformed)
{
	struct relay_conn conn = { .fd = -1 };
	struct relay_maps maps = { 0 };

	ck_assert_int_eq(feed(&conn, &maps, malformed[_i], strlen(malformed[_i])), -1);
	relay_conn_free_buffers(&conn);
}
END_TEST

/* The largest query fits; one byte more is refused by its length. */
START_TEST(stream_query_limit)
{
	struct relay_conn conn = { .fd = -1 };
	struct relay_maps maps = { 0 };
	char *q = mm_malloc(RELAY_IN_SIZE);
	int n = snprintf(q, RELAY_IN_SIZE, "10000:alias ");

	memset(q + n, 'a', 10000 - 6);
	q[n + 10000 - 6] = ',';
	ck_assert_int_eq(feed(&conn, &maps, q, (size_t)n + 10000 - 6 + 1), 0);
	ck_assert_str_eq(output(&conn), "9:NOTFOUND ,");
	relay_conn_free_buffers(&conn);
	ck_assert_int_eq(feed(&conn, &maps, "10001:", 6), -1);
	relay_conn_free_buffers(&conn);
	mm_free(&q);
}
END_TEST

static Suite *request_suite(void)
{
	Suite *s = suite_create("relay_request");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, parse_table, 0,
			    sizeof(parse_cases) / sizeof(parse_cases[0]));
	tcase_add_test(tc, parse_nul_and_long_key);
	tcase_add_test(tc, reply_format);
	tcase_add_test(tc, stream_pipelined_and_split);
	tcase_add_test(tc, stream_bad_query_answered_perm);
	tcase_add_test(tc, stream_bad_queries_one_line);
	tcase_add_loop_test(tc, stream_malformed, 0,
			    sizeof(malformed) / sizeof(malformed[0]));
	tcase_add_test(tc, stream_query_limit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(request_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
