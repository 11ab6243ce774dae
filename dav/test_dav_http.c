/* test_dav_http: requests against a real Radicale (test_dav_http.sh
 * starts it: MM_DAV_URL, user alice, her password in MM_DAV_PASS_FILE). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dav_collection.h"
#include "dav_discover.h"
#include "dav_http.h"
#include "dav_xml.h"
#include "mm_alloc.h"

static char url[512], pass[128];

static struct dav_http *login(const char *password, size_t max_body)
{
	struct dav_http_settings set = { .user = "alice", .password = password,
					  .timeout_ms = 5000, .max_body = max_body,
					  .tls_verify = 1 };

	return dav_http_new(&set);
}

static const char event[] =
	"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mm//test//EN\r\n"
	"BEGIN:VEVENT\r\nUID:e1@example.test\r\nDTSTAMP:20261201T100000Z\r\n"
	"DTSTART:20261202T100000Z\r\nSUMMARY:Caf\xc3\xa9\r\nEND:VEVENT\r\n"
	"END:VCALENDAR\r\n";

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* text's CRLF-ended lines sorted, joined by "|" (static: one at a time
 * per call site, compared at once). */
static const char *sorted_lines(const char *text)
{
	static char out[2][1024];
	static int k;
	char buf[1024], *lines[64], *p, *save = NULL;
	size_t n = 0;

	k ^= 1;
	snprintf(buf, sizeof(buf), "%s", text);
	for (p = strtok_r(buf, "\r\n", &save); p != NULL && n < 64;
	     p = strtok_r(NULL, "\r\n", &save))
		lines[n++] = p;
	qsort(lines, n, sizeof(lines[0]), cmp_line);
	out[k][0] = '\0';
	for (size_t i = 0; i < n; i++) {
		strncat(out[k], lines[i], sizeof(out[k]) - strlen(out[k]) - 2);
		strcat(out[k], "|");
	}
	return out[k];
}

/* Discovery's first step, a calendar made, an event put once, read back
 * byte for byte; a second create of the same name refused (412). */
START_TEST(test_roundtrip)
{
	struct dav_http *h = login(pass, 0);
	struct dav_reply r;
	enum stream_fail fail;
	const char *error;
	char u[700];

	snprintf(u, sizeof(u), "%s.well-known/caldav", url);
	ck_assert_int_eq(dav_http_request(h, "PROPFIND", u, "0", NULL, NULL, 0, NULL, NULL,
					  &r, &fail, &error), 0);
	ck_assert_int_eq(r.status / 100, 3);
	ck_assert_ptr_nonnull(r.location);
	/* curl puts the login into the URL it resolves: never kept. */
	ck_assert_msg(strstr(r.location, pass) == NULL && strchr(r.location, '@') == NULL,
		      "%s", r.location);
	dav_reply_clear(&r);

	snprintf(u, sizeof(u), "%salice/work/", url);
	ck_assert_int_eq(dav_http_request(h, "MKCOL", u, NULL, "application/xml",
		"<?xml version=\"1.0\"?><D:mkcol xmlns:D=\"DAV:\" "
		"xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><D:set><D:prop><D:resourcetype>"
		"<D:collection/><C:calendar/></D:resourcetype></D:prop></D:set></D:mkcol>",
		strlen("<?xml version=\"1.0\"?><D:mkcol xmlns:D=\"DAV:\" "
		"xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><D:set><D:prop><D:resourcetype>"
		"<D:collection/><C:calendar/></D:resourcetype></D:prop></D:set></D:mkcol>"),
		NULL, NULL, &r, &fail, &error), 0);
	ck_assert_int_eq(r.status, 201);
	dav_reply_clear(&r);

	snprintf(u, sizeof(u), "%salice/work/e1.ics", url);
	ck_assert_int_eq(dav_http_request(h, "PUT", u, NULL, "text/calendar; charset=utf-8",
					  event, strlen(event), NULL, "*", &r, &fail, &error), 0);
	ck_assert_int_eq(r.status, 201);
	dav_reply_clear(&r);
	ck_assert_int_eq(dav_http_request(h, "PUT", u, NULL, "text/calendar; charset=utf-8",
					  event, strlen(event), NULL, "*", &r, &fail, &error), 0);
	ck_assert_int_eq(r.status, 412);
	dav_reply_clear(&r);

	ck_assert_int_eq(dav_http_request(h, "GET", u, NULL, NULL, NULL, 0, NULL, NULL,
					  &r, &fail, &error), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(r.etag);
	/* Radicale stores what vobject serializes again: the same content
	 * lines, CRLF kept, but not always in the order sent (DTSTART
	 * before DTSTAMP). The copy sends the bytes; NEW may reorder. */
	ck_assert_uint_eq(r.len, strlen(event));
	ck_assert_str_eq(sorted_lines(r.body), sorted_lines(event));
	dav_reply_clear(&r);
	dav_http_free(&h);
}
END_TEST

/* A wrong password is AUTH; an answer over max_body is this request's
 * failure; nothing listening is WAIT. */
START_TEST(test_failures)
{
	struct dav_http *h = login("wrong", 0);
	struct dav_reply r;
	enum stream_fail fail;
	const char *error;
	char u[700];

	snprintf(u, sizeof(u), "%salice/", url);
	ck_assert_int_eq(dav_http_request(h, "PROPFIND", u, "1", NULL, NULL, 0, NULL, NULL,
					  &r, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_AUTH);
	ck_assert_ptr_null(strstr(error, "wrong"));
	dav_http_free(&h);

	h = login(pass, 64);
	ck_assert_int_eq(dav_http_request(h, "PROPFIND", u, "1", NULL, NULL, 0, NULL, NULL,
					  &r, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_MESSAGE);
	ck_assert_msg(strstr(error, "over 64 bytes") != NULL, "%s", error);
	dav_http_free(&h);

	h = login(pass, 0);
	ck_assert_int_eq(dav_http_request(h, "GET", "http://127.0.0.1:1/", NULL, NULL, NULL,
					  0, NULL, NULL, &r, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_WAIT);
	dav_http_free(&h);
}
END_TEST

/* From the bare server URL to alice's homes (RFC 6764 well-known,
 * current-user-principal, the home sets); relative hrefs resolved. */
START_TEST(test_discover)
{
	struct dav_http *h = login(pass, 0);
	enum stream_fail fail;
	const char *error;
	char *home = NULL, want[600];

	snprintf(want, sizeof(want), "%salice/", url);
	ck_assert_msg(dav_discover(h, url, DAV_CALDAV, &home, &fail, &error) == 0, "%s", error);
	ck_assert_str_eq(home, want);
	mm_free(&home);
	ck_assert_msg(dav_discover(h, url, DAV_CARDDAV, &home, &fail, &error) == 0, "%s", error);
	ck_assert_str_eq(home, want);
	mm_free(&home);
	ck_assert_int_eq(dav_discover(h, "not a url", DAV_CALDAV, &home, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	/* A server that redirects for ever: given up after 5. */
	ck_assert_int_eq(dav_discover(h, getenv("MM_DAV_LOOP_URL"), DAV_CALDAV, &home,
				      &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	ck_assert_msg(strstr(error, "more than 5 redirects") != NULL, "%s", error);
	ck_assert_ptr_null(home);
	dav_http_free(&h);
}
END_TEST

static int list_cb(const struct dav_collection *c, void *ctx)
{
	char *out = ctx;
	size_t len = strlen(out);

	snprintf(out + len, 1024 - len, "[%s|%s|%s|%s|%d%s%s]", strrchr(c->url, '/') != NULL ?
		 c->url + strlen(url) : c->url,
		 c->displayname != NULL ? c->displayname : "-",
		 c->color != NULL ? c->color : "-",
		 c->description != NULL ? c->description : "-", c->ctag != NULL,
		 c->components != NULL && strcmp(c->components, "VTODO") == 0 ? "|" : "",
		 c->components != NULL && strcmp(c->components, "VTODO") == 0 ?
		 c->components : "");
	return 0;
}

static int item_cb(const struct dav_item *it, void *ctx)
{
	char *out = ctx;
	size_t len = strlen(out);

	snprintf(out + len, 1024 - len, "[%s|%d|%s]", it->url + strlen(url),
		 it->etag != NULL && it->etag[0] == '"', it->content_type != NULL ?
		 it->content_type : "-");
	return 0;
}

/* The home's calendars with their name, colour and description (made
 * by an extended MKCOL, RFC 5689), the address book left out; the
 * calendar's items with their ETags. */
START_TEST(test_list)
{
	static const char mkcol[] =
		"<?xml version=\"1.0\"?><D:mkcol xmlns:D=\"DAV:\" "
		"xmlns:C=\"urn:ietf:params:xml:ns:caldav\" xmlns:I=\"http://apple.com/ns/ical/\">"
		"<D:set><D:prop><D:resourcetype><D:collection/><C:calendar/></D:resourcetype>"
		"<D:displayname>Famille \xc3\xa9t\xc3\xa9</D:displayname>"
		"<I:calendar-color>#00ff00ff</I:calendar-color>"
		"<C:calendar-description>school &amp; holidays</C:calendar-description>"
		"</D:prop></D:set></D:mkcol>";
	static const char mkab[] =
		"<?xml version=\"1.0\"?><D:mkcol xmlns:D=\"DAV:\" "
		"xmlns:CR=\"urn:ietf:params:xml:ns:carddav\"><D:set><D:prop><D:resourcetype>"
		"<D:collection/><CR:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>";
	struct dav_http *h = login(pass, 0);
	struct dav_reply r;
	enum stream_fail fail;
	const char *error;
	char u[700], home[600], out[1024] = "";

	snprintf(home, sizeof(home), "%salice/", url);
	snprintf(u, sizeof(u), "%salice/family/", url);
	ck_assert_int_eq(dav_http_request(h, "MKCOL", u, NULL, "application/xml", mkcol,
					  strlen(mkcol), NULL, NULL, &r, &fail, &error), 0);
	ck_assert_int_eq(r.status, 201);
	dav_reply_clear(&r);
	snprintf(u, sizeof(u), "%salice/book/", url);
	ck_assert_int_eq(dav_http_request(h, "MKCOL", u, NULL, "application/xml", mkab,
					  strlen(mkab), NULL, NULL, &r, &fail, &error), 0);
	ck_assert_int_eq(r.status, 201);
	dav_reply_clear(&r);
	snprintf(u, sizeof(u), "%salice/family/e1.ics", url);
	ck_assert_int_eq(dav_http_request(h, "PUT", u, NULL, "text/calendar", event,
					  strlen(event), NULL, "*", &r, &fail, &error), 0);
	dav_reply_clear(&r);

	ck_assert_msg(dav_list_collections(h, home, DAV_CALDAV, list_cb, out, &fail,
					   &error) == 0, "%s", error);
	ck_assert_msg(strstr(out, "[alice/family/|Famille \xc3\xa9t\xc3\xa9|#00ff00ff|"
			      "school & holidays|1]") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "book") == NULL, "%s", out);
	out[0] = '\0';
	ck_assert_msg(dav_list_collections(h, home, DAV_CARDDAV, list_cb, out, &fail,
					   &error) == 0, "%s", error);
	/* Radicale answers an unnamed collection's displayname with its
	 * path: a copy must not take that for a name OLD gave it. */
	ck_assert_str_eq(out, "[alice/book/|alice/book|-|-|1]");
	out[0] = '\0';
	snprintf(u, sizeof(u), "%salice/family/", url);
	ck_assert_msg(dav_list_items(h, u, item_cb, out, &fail, &error) == 0, "%s", error);
	ck_assert_msg(strncmp(out, "[alice/family/e1.ics|1|text/calendar", 36) == 0, "%s", out);
	snprintf(u, sizeof(u), "%salice/nothing/", url);
	ck_assert_int_eq(dav_list_items(h, u, item_cb, out, &fail, &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_FINAL);
	dav_http_free(&h);
}
END_TEST

/* Collections made by dav_make_collection: a calendar by MKCALENDAR and
 * an address book by extended MKCOL, with their properties escaped; a
 * second make of either finds it there. */
START_TEST(test_make)
{
	struct dav_http *h = login(pass, 0);
	enum stream_fail fail;
	const char *error;
	char u[700], home[600], out[1024] = "";

	snprintf(home, sizeof(home), "%salice/", url);
	snprintf(u, sizeof(u), "%salice/work/", url);	/* test_roundtrip's */
	ck_assert_int_eq(dav_make_collection(h, u, DAV_CALDAV, NULL, NULL, NULL, NULL, &fail,
					     &error), DAV_COLLECTION_EXISTS);
	snprintf(u, sizeof(u), "%salice/travail/", url);
	ck_assert_msg(dav_make_collection(h, u, DAV_CALDAV, "Travail <&> \xc3\xa9t\xc3\xa9",
					  "#ff0000ff", "a \"quoted\" <text>", NULL, &fail,
					  &error) == 0, "%s", error);
	ck_assert_int_eq(dav_make_collection(h, u, DAV_CALDAV, NULL, NULL, NULL, NULL, &fail,
					     &error), DAV_COLLECTION_EXISTS);
	ck_assert_msg(dav_list_collections(h, home, DAV_CALDAV, list_cb, out, &fail,
					   &error) == 0, "%s", error);
	ck_assert_msg(strstr(out, "[alice/travail/|Travail <&> \xc3\xa9t\xc3\xa9|#ff0000ff|"
			      "a \"quoted\" <text>|1]") != NULL, "%s", out);
	/* A task list: its component set kept (RFC 4791 5.2.3). */
	out[0] = '\0';
	snprintf(u, sizeof(u), "%salice/tasks/", url);
	ck_assert_msg(dav_make_collection(h, u, DAV_CALDAV, "Tasks", NULL, NULL, "VTODO",
					  &fail, &error) == 0, "%s", error);
	ck_assert_msg(dav_list_collections(h, home, DAV_CALDAV, list_cb, out, &fail,
					   &error) == 0, "%s", error);
	ck_assert_msg(strstr(out, "[alice/tasks/|Tasks|-|-|1|VTODO]") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "[alice/travail/|Travail") != NULL &&
		      strstr(out, "[alice/travail/|Travail <&> \xc3\xa9t\xc3\xa9|#ff0000ff|"
			     "a \"quoted\" <text>|1|") == NULL, "%s", out);
	out[0] = '\0';
	snprintf(u, sizeof(u), "%salice/contacts/", url);
	ck_assert_msg(dav_make_collection(h, u, DAV_CARDDAV, "Contacts", NULL,
					  "friends & family", NULL, &fail, &error) == 0,
		      "%s", error);
	/* an address book is not a calendar: not "there" for MKCALENDAR */
	ck_assert_int_eq(dav_make_collection(h, u, DAV_CALDAV, NULL, NULL, NULL, NULL, &fail,
					     &error), -1);
	ck_assert_int_eq(fail, STREAM_FAIL_MESSAGE);
	ck_assert_msg(dav_list_collections(h, home, DAV_CARDDAV, list_cb, out, &fail,
					   &error) == 0, "%s", error);
	ck_assert_msg(strstr(out, "[alice/contacts/|Contacts|-|friends & family|1]") !=
		      NULL, "%s", out);
	/* Not the calendar home's to hold: refused, a message-class failure. */
	snprintf(u, sizeof(u), "%snot-alice/x/", url);
	ck_assert_int_eq(dav_make_collection(h, u, DAV_CALDAV, NULL, NULL, NULL, NULL, &fail,
					     &error), -1);
	dav_http_free(&h);
}
END_TEST

int main(void)
{
	const char *u = getenv("MM_DAV_URL"), *pf = getenv("MM_DAV_PASS_FILE");
	Suite *s = suite_create("dav_http");
	TCase *tc = tcase_create("radicale");
	SRunner *sr;
	FILE *f;
	int failed;

	if (u == NULL || pf == NULL || getenv("MM_DAV_LOOP_URL") == NULL ||
	    (f = fopen(pf, "r")) == NULL)
		return 77;	/* run by test_dav_http.sh */
	snprintf(url, sizeof(url), "%s", u);
	if (fgets(pass, sizeof(pass), f) == NULL)
		return 99;
	fclose(f);
	pass[strcspn(pass, "\n")] = '\0';
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_failures);
	tcase_add_test(tc, test_discover);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_make);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
