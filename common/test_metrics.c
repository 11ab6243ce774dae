/*
 * NAME
 *	test_metrics 1
 * SUMMARY
 *	unit tests for metrics(3) and metrics_http(3)
 * DESCRIPTION
 *	The exposition text: families, label escaping, number formats and
 *	histograms, compared byte for byte. The request parser from a
 *	table (good requests, wrong paths and methods, malformed lines and
 *	headers, over-long requests, requests cut short), then fed one
 *	byte at a time. Then a live server on 127.0.0.1: GET, HEAD, 404,
 *	405 and an over-long request, read back over real sockets.
 */
#include "config.h"

#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "metrics.h"
#include "metrics_http.h"
#include "mm_alloc.h"

START_TEST(test_family_and_samples)
{
	struct metrics_text t;
	static const char *const labels[] = { "map", "transport", "answer", "ok",
					      NULL };

	metrics_text_init(&t);
	metrics_family(&t, "mm_lookups_total", "counter", "Lookups\\by map\nand answer");
	metrics_u64(&t, "mm_lookups_total", labels, 18446744073709551615ULL);
	metrics_u64(&t, "mm_up", NULL, 1);
	metrics_double(&t, "mm_ratio", NULL, 0.25);
	ck_assert_str_eq(t.data,
		"# HELP mm_lookups_total Lookups\\\\by map\\nand answer\n"
		"# TYPE mm_lookups_total counter\n"
		"mm_lookups_total{map=\"transport\",answer=\"ok\"} 18446744073709551615\n"
		"mm_up 1\n"
		"mm_ratio 0.25\n");
	ck_assert_uint_eq(t.len, strlen(t.data));
	metrics_text_free(&t);
	ck_assert_ptr_null(t.data);
}
END_TEST

struct escape_case {
	const char *value;
	const char *want;
};

static const struct escape_case escape_cases[] = {
	{ "plain", "x{v=\"plain\"} 7\n" },
	{ "", "x{v=\"\"} 7\n" },
	{ "a\"b", "x{v=\"a\\\"b\"} 7\n" },
	{ "a\\b", "x{v=\"a\\\\b\"} 7\n" },
	{ "a\nb", "x{v=\"a\\nb\"} 7\n" },
	{ "\\\"\n", "x{v=\"\\\\\\\"\\n\"} 7\n" },
	{ "caf\xc3\xa9 {x}", "x{v=\"caf\xc3\xa9 {x}\"} 7\n" },
};

START_TEST(test_label_escaping)
{
	const struct escape_case *c = &escape_cases[_i];
	const char *labels[] = { "v", c->value, NULL };
	struct metrics_text t;

	metrics_text_init(&t);
	metrics_u64(&t, "x", labels, 7);
	ck_assert_str_eq(t.data, c->want);
	metrics_text_free(&t);
}
END_TEST

struct double_case {
	double v;
	const char *want;
};

static const struct double_case double_cases[] = {
	{ 0, "0" }, { 1, "1" }, { 0.00005, "0.00005" }, { 0.0001, "0.0001" },
	{ 0.25, "0.25" }, { 2.5, "2.5" }, { 1e20, "1e+20" }, { -3, "-3" },
	{ 123456789, "123456789" }, { 0.1, "0.1" },
	{ 1.0 / 0.0, "+Inf" }, { -1.0 / 0.0, "-Inf" },
};

START_TEST(test_double_format)
{
	char buf[64];

	metrics_format_double(double_cases[_i].v, buf, sizeof(buf));
	ck_assert_str_eq(buf, double_cases[_i].want);
}
END_TEST

START_TEST(test_double_nan)
{
	char buf[64];

	metrics_format_double(0.0 / 0.0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "NaN");
}
END_TEST

START_TEST(test_histogram)
{
	static const double bounds[] = { 0.00005, 0.001, 1 };
	static const char *const labels[] = { "map", "alias", NULL };
	struct metrics_histogram h;
	struct metrics_text t;

	metrics_histogram_init(&h, bounds, 3);
	metrics_histogram_observe(&h, 0.00001);	/* first bucket */
	metrics_histogram_observe(&h, 0.00005);	/* on the bound: first */
	metrics_histogram_observe(&h, 0.5);
	metrics_histogram_observe(&h, 3);	/* +Inf only */
	metrics_text_init(&t);
	metrics_histogram_write(&t, "lat_seconds", labels, &h);
	ck_assert_str_eq(t.data,
		"lat_seconds_bucket{map=\"alias\",le=\"0.00005\"} 2\n"
		"lat_seconds_bucket{map=\"alias\",le=\"0.001\"} 2\n"
		"lat_seconds_bucket{map=\"alias\",le=\"1\"} 3\n"
		"lat_seconds_bucket{map=\"alias\",le=\"+Inf\"} 4\n"
		"lat_seconds_sum{map=\"alias\"} 3.50006\n"
		"lat_seconds_count{map=\"alias\"} 4\n");
	metrics_text_free(&t);
	/* Without labels: le is the only one. */
	metrics_histogram_init(&h, bounds, 1);
	metrics_text_init(&t);
	metrics_histogram_write(&t, "e", NULL, &h);
	ck_assert_str_eq(t.data, "e_bucket{le=\"0.00005\"} 0\ne_bucket{le=\"+Inf\"} 0\n"
			 "e_sum 0\ne_count 0\n");
	metrics_text_free(&t);
}
END_TEST

struct request_case {
	const char *in;
	int status;
	int head;
};

#define LONG_HEADER_LEN (METRICS_HTTP_MAX_REQUEST + 10)

static const struct request_case request_cases[] = {
	{ "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", 200, 0 },
	{ "GET /metrics HTTP/1.0\r\n\r\n", 200, 0 },
	{ "GET /metrics HTTP/1.0\n\n", 200, 0 },
	{ "HEAD /metrics HTTP/1.1\r\n\r\n", 200, 1 },
	{ "GET /metrics?x=1 HTTP/1.1\r\n\r\n", 200, 0 },
	{ "GET /metrics HTTP/1.1\r\nUser-Agent: Prometheus/2.42.0\r\n"
	  "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\nignored", 200, 0 },
	/* not complete yet */
	{ "", 0, 0 },
	{ "GET /metrics HTTP/1.1", 0, 0 },
	{ "GET /metrics HTTP/1.1\r\n", 0, 0 },
	{ "GET /metrics HTTP/1.1\r\nHost: x\r\n", 0, 0 },
	/* elsewhere, or not GET */
	{ "GET / HTTP/1.1\r\n\r\n", 404, 0 },
	{ "GET /metricsx HTTP/1.1\r\n\r\n", 404, 0 },
	{ "GET /Metrics HTTP/1.1\r\n\r\n", 404, 0 },
	{ "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 405, 0 },
	{ "DELETE /metrics HTTP/1.1\r\n\r\n", 405, 0 },
	{ "get /metrics HTTP/1.1\r\n\r\n", 405, 0 },
	/* malformed: judged as soon as the first line ends */
	{ "GET /metrics\r\n", 400, 0 },
	{ "GET /metrics HTTP/2.0\r\n", 400, 0 },
	{ "GET /metrics HTTP/1.1 x\r\n", 400, 0 },
	{ "GET  /metrics HTTP/1.1\r\n", 400, 0 },
	{ "GET metrics HTTP/1.1\r\n", 400, 0 },
	{ "\r\n", 400, 0 },
	{ "\x16\x03\x01\x02\x05\x01\n", 400, 0 },
	{ "GETTTTTTTTTTTTTTTTTTTT /metrics HTTP/1.1\r\n", 400, 0 },
	{ "GET /met\x01rics HTTP/1.1\r\n", 400, 0 },
	/* bad headers */
	{ "GET /metrics HTTP/1.1\r\nno colon\r\n\r\n", 400, 0 },
	{ "GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n", 400, 0 },
	{ "GET /metrics HTTP/1.1\r\n folded: x\r\n\r\n", 400, 0 },
	{ "GET /metrics HTTP/1.1\r\nX: a\x01z\r\n\r\n", 400, 0 },
};

START_TEST(test_request_table)
{
	const struct request_case *c = &request_cases[_i];
	int head = -1;

	ck_assert_int_eq(metrics_http_request(c->in, strlen(c->in), &head), c->status);
	if (c->status == 200)
		ck_assert_int_eq(head, c->head);
}
END_TEST

/* Over the limit: no end in sight (431), and an end past it (431). */
START_TEST(test_request_too_long)
{
	char *buf = mm_malloc(LONG_HEADER_LEN + 1);
	size_t pre = strlen("GET /metrics HTTP/1.1\r\nX: ");
	int head;

	memcpy(buf, "GET /metrics HTTP/1.1\r\nX: ", pre);
	memset(buf + pre, 'a', LONG_HEADER_LEN - pre);
	ck_assert_int_eq(metrics_http_request(buf, METRICS_HTTP_MAX_REQUEST - 1, &head), 0);
	ck_assert_int_eq(metrics_http_request(buf, METRICS_HTTP_MAX_REQUEST, &head), 431);
	memcpy(buf + LONG_HEADER_LEN - 4, "\r\n\r\n", 4);
	ck_assert_int_eq(metrics_http_request(buf, LONG_HEADER_LEN, &head), 431);
	/* A request line alone that long. */
	memset(buf, 'A', LONG_HEADER_LEN);
	memcpy(buf, "GET /", 5);
	ck_assert_int_eq(metrics_http_request(buf, METRICS_HTTP_MAX_REQUEST, &head), 431);
	mm_free(&buf);
}
END_TEST

/* Every proper prefix of a good request asks for more. */
START_TEST(test_request_byte_by_byte)
{
	const char *req = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n";
	int head;

	for (size_t i = 0; i < strlen(req); i++)
		ck_assert_int_eq(metrics_http_request(req, i, &head), 0);
	ck_assert_int_eq(metrics_http_request(req, strlen(req), &head), 200);
}
END_TEST

START_TEST(test_listen_refused)
{
	char error[256];
	int fd, fd2;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	char spec[64];

	ck_assert_int_eq(metrics_http_listen("unix:/tmp/x", &fd, error, sizeof(error)), -1);
	ck_assert_ptr_nonnull(strstr(error, "expected inet:ADDRESS:PORT"));
	ck_assert_int_eq(metrics_http_listen("inet:localhost:9", &fd, error,
					     sizeof(error)), -1);
	ck_assert_ptr_nonnull(strstr(error, "numeric"));
	/* A port in use: the error names the address. */
	ck_assert_int_eq(metrics_http_listen("inet:127.0.0.1:0", &fd, error,
					     sizeof(error)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	snprintf(spec, sizeof(spec), "inet:127.0.0.1:%u", ntohs(sin.sin_port));
	ck_assert_int_eq(metrics_http_listen(spec, &fd2, error, sizeof(error)), -1);
	ck_assert_ptr_nonnull(strstr(error, spec));
	ck_assert_ptr_nonnull(strstr(error, "in use"));
	close(fd);
}
END_TEST

static void render_page(struct metrics_text *t, void *ctx)
{
	int *calls = ctx;

	(*calls)++;
	metrics_family(t, "mm_calls_total", "counter", "Renders.");
	metrics_u64(t, "mm_calls_total", NULL, (uint64_t)*calls);
}

/* Send req to the server and drive it until the client has the whole
 * answer (the server closes): the answer, NUL-terminated. */
static char *roundtrip(struct metrics_http *h, unsigned port, const char *req,
		       size_t reqlen)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	char *out = mm_calloc(1, 65536);
	size_t len = 0, sent = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	for (int round = 0; round < 2000; round++) {
		struct pollfd pfd = { metrics_http_fd(h), POLLIN, 0 };
		struct pollfd cfd = { fd, POLLIN, 0 };
		ssize_t n;

		if (sent < reqlen) {
			n = send(fd, req + sent, reqlen - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
		}
		if (poll(&pfd, 1, 10) > 0)
			metrics_http_handle(h, time(NULL));
		if (poll(&cfd, 1, 0) > 0) {
			n = recv(fd, out + len, 65535 - len, 0);
			if (n <= 0)
				break;
			len += (size_t)n;
		}
	}
	close(fd);
	return out;
}

START_TEST(test_server)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	char error[256], *ans, *big;
	struct metrics_http *h;
	int fd, calls = 0;
	unsigned port;

	ck_assert_int_eq(metrics_http_listen("inet:127.0.0.1:0", &fd, error,
					     sizeof(error)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	port = ntohs(sin.sin_port);
	h = metrics_http_new(fd, render_page, &calls, error, sizeof(error));
	ck_assert_ptr_nonnull(h);

	ans = roundtrip(h, port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 35);
	ck_assert_msg(strncmp(ans, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", ans);
	ck_assert_ptr_nonnull(strstr(ans, "\r\nContent-Type: text/plain; "
				     "version=0.0.4; charset=utf-8\r\n"));
	ck_assert_ptr_nonnull(strstr(ans, "\r\nConnection: close\r\n"));
	ck_assert_ptr_nonnull(strstr(ans, "\r\n\r\n# HELP mm_calls_total Renders.\n"
				     "# TYPE mm_calls_total counter\nmm_calls_total 1\n"));
	ck_assert_ptr_nonnull(strstr(ans, "Content-Length: 78\r\n"));
	mm_free(&ans);

	ans = roundtrip(h, port, "HEAD /metrics HTTP/1.0\r\n\r\n", 26);
	ck_assert_msg(strncmp(ans, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", ans);
	ck_assert_ptr_nonnull(strstr(ans, "Content-Length: 78\r\n"));
	ck_assert_str_eq(strstr(ans, "\r\n\r\n"), "\r\n\r\n");	/* no body */
	mm_free(&ans);
	ck_assert_int_eq(calls, 2);

	ans = roundtrip(h, port, "GET /other HTTP/1.1\r\n\r\n", 23);
	ck_assert_msg(strncmp(ans, "HTTP/1.1 404 Not Found\r\n", 24) == 0, "%s", ans);
	mm_free(&ans);
	ans = roundtrip(h, port, "PUT /metrics HTTP/1.1\r\n\r\n", 25);
	ck_assert_msg(strncmp(ans, "HTTP/1.1 405 ", 13) == 0, "%s", ans);
	ck_assert_ptr_nonnull(strstr(ans, "\r\nAllow: GET, HEAD\r\n"));
	mm_free(&ans);
	ans = roundtrip(h, port, "SSH-2.0-OpenSSH_9.2\r\n", 21);
	ck_assert_msg(strncmp(ans, "HTTP/1.1 400 ", 13) == 0, "%s", ans);
	mm_free(&ans);
	big = mm_malloc(20000);
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	memset(big + 26, 'b', 20000 - 26);
	ans = roundtrip(h, port, big, 20000);
	ck_assert_msg(strncmp(ans, "HTTP/1.1 431 ", 13) == 0, "%s", ans);
	mm_free(&ans);
	mm_free(&big);
	ck_assert_int_eq(calls, 2);
	metrics_http_tick(h, time(NULL) + METRICS_HTTP_TIMEOUT);
	metrics_http_free(&h);
	ck_assert_ptr_null(h);
}
END_TEST

static Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("text");
	TCase *th = tcase_create("http");

	tcase_add_test(tc, test_family_and_samples);
	tcase_add_loop_test(tc, test_label_escaping, 0,
			    sizeof(escape_cases) / sizeof(escape_cases[0]));
	tcase_add_loop_test(tc, test_double_format, 0,
			    sizeof(double_cases) / sizeof(double_cases[0]));
	tcase_add_test(tc, test_double_nan);
	tcase_add_test(tc, test_histogram);
	suite_add_tcase(s, tc);
	tcase_add_loop_test(th, test_request_table, 0,
			    sizeof(request_cases) / sizeof(request_cases[0]));
	tcase_add_test(th, test_request_too_long);
	tcase_add_test(th, test_request_byte_by_byte);
	tcase_add_test(th, test_listen_refused);
	tcase_add_test(th, test_server);
	tcase_set_timeout(th, 30);
	suite_add_tcase(s, th);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
