/* test_dav_xml: the multistatus reader on answers shaped as Radicale
 * 3.1 gives them, and on the documents it must refuse. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dav_xml.h"

struct seen {
	int n;
	char out[8][512];
	int stop_at;
};

static int collect(const struct dav_response *r, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < 8)
		snprintf(s->out[s->n], sizeof(s->out[0]), "%s|%d|%u|%s|%s|%s|%s|%s|%s|%s|%s",
			 r->href, r->status, r->kind,
			 r->displayname != NULL ? r->displayname : "-",
			 r->color != NULL ? r->color : "-",
			 r->description != NULL ? r->description : "-",
			 r->getctag != NULL ? r->getctag : "-",
			 r->sync_token != NULL ? r->sync_token : "-",
			 r->current_user_principal != NULL ? r->current_user_principal : "-",
			 r->calendar_home != NULL ? r->calendar_home : "-",
			 r->getetag != NULL ? r->getetag : "-");
	s->n++;
	return s->stop_at != 0 && s->n == s->stop_at ? 7 : 0;
}

static const char home[] =
	"<?xml version='1.0' encoding='utf-8'?>\n"
	"<multistatus xmlns=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\" "
	"xmlns:CR=\"urn:ietf:params:xml:ns:carddav\" xmlns:CS=\"http://calendarserver.org/ns/\" "
	"xmlns:ICAL=\"http://apple.com/ns/ical/\">"
	"<response><href>/alice/</href><propstat><prop>"
	"<resourcetype><principal/><collection/></resourcetype>"
	"<current-user-principal><href>/alice/</href></current-user-principal>"
	"<C:calendar-home-set><href>/alice/</href></C:calendar-home-set>"
	"</prop><status>HTTP/1.1 200 OK</status></propstat>"
	"<propstat><prop><displayname/></prop><status>HTTP/1.1 404 Not Found</status></propstat>"
	"</response>"
	"<response><href>/alice/cal%20work/</href><propstat><prop>"
	"<resourcetype><C:calendar/><collection/></resourcetype>"
	"<displayname>Arbeit \xc3\xa4</displayname><ICAL:calendar-color>#ff0000ff</ICAL:calendar-color>"
	"<C:calendar-description>Team &amp; me</C:calendar-description>"
	"<CS:getctag>\"c1\"</CS:getctag><sync-token>http://radicale.org/ns/sync/abc</sync-token>"
	"</prop><status>HTTP/1.1 200 OK</status></propstat></response>"
	"<response><href>/alice/contacts/</href><propstat><prop>"
	"<resourcetype><CR:addressbook/><collection/></resourcetype>"
	"</prop><status>HTTP/1.1 200 OK</status></propstat></response>"
	"<response><href>/alice/gone.ics</href><status>HTTP/1.1 404 Not Found</status></response>"
	"</multistatus>";

START_TEST(test_home)
{
	struct seen s = { 0 };
	const char *error = NULL;

	ck_assert_int_eq(dav_multistatus_parse(home, strlen(home), collect, &s, &error), 0);
	ck_assert_int_eq(s.n, 4);
	ck_assert_str_eq(s.out[0], "/alice/|0|9|-|-|-|-|-|/alice/|/alice/|-");
	ck_assert_str_eq(s.out[1], "/alice/cal%20work/|0|3|Arbeit \xc3\xa4|#ff0000ff|"
			 "Team & me|\"c1\"|http://radicale.org/ns/sync/abc|-|-|-");
	ck_assert_str_eq(s.out[2], "/alice/contacts/|0|5|-|-|-|-|-|-|-|-");
	ck_assert_str_eq(s.out[3], "/alice/gone.ics|404|0|-|-|-|-|-|-|-|-");
}
END_TEST

/* fn's non-zero stops the walk and is returned. */
START_TEST(test_stop)
{
	struct seen s = { .stop_at = 2 };
	const char *error = NULL;

	ck_assert_int_eq(dav_multistatus_parse(home, strlen(home), collect, &s, &error), 7);
	ck_assert_int_eq(s.n, 2);
}
END_TEST

static int keep_data(const struct dav_response *r, void *ctx)
{
	char **out = ctx;

	*out = r->data != NULL ? strdup(r->data) : NULL;
	return 0;
}

/* calendar-data in a multiget: XML makes every CRLF an LF (XML 1.0
 * 2.11), so an item's bytes must come from GET, not from a REPORT. */
START_TEST(test_data_newlines)
{
	static const char doc[] =
		"<multistatus xmlns=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
		"<response><href>/a/c/e.ics</href><propstat><prop><getetag>\"e1\"</getetag>"
		"<C:calendar-data>BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n</C:calendar-data>"
		"</prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>";
	char *data = NULL;
	const char *error = NULL;

	ck_assert_int_eq(dav_multistatus_parse(doc, strlen(doc), keep_data, &data, &error), 0);
	ck_assert_ptr_nonnull(data);
	ck_assert_str_eq(data, "BEGIN:VCALENDAR\nEND:VCALENDAR\n");
	free(data);
}
END_TEST

struct bad_case {
	const char *doc;
	const char *error;
};

static int never(const struct dav_response *r, void *ctx)
{
	(void)r;
	(void)ctx;
	return 0;
}

static int comps_cb(const struct dav_response *r, void *ctx)
{
	snprintf(ctx, 128, "%s", r->components != NULL ? r->components : "(none)");
	return 0;
}

/* supported-calendar-component-set: comp names joined, bounded. */
START_TEST(test_components)
{
	static const char head[] =
		"<multistatus xmlns=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
		"<response><href>/a/todo/</href><propstat><prop>";
	static const char tail[] =
		"</prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>";
	static const struct {
		const char *prop;
		int ret;
		const char *comps;
	} cases[] = {
		{ "<C:supported-calendar-component-set><C:comp name=\"VTODO\"/>"
		  "</C:supported-calendar-component-set>", 0, "VTODO" },
		{ "<C:supported-calendar-component-set><C:comp name=\"VEVENT\"/>"
		  "<C:comp name=\"VJOURNAL\"/><C:comp name=\"VTODO\"/>"
		  "</C:supported-calendar-component-set>", 0, "VEVENT,VJOURNAL,VTODO" },
		{ "<C:supported-calendar-component-set/>", 0, "" },
		{ "<displayname>x</displayname>", 0, "(none)" },
		{ "<C:supported-calendar-component-set><C:comp name=\"V,X\"/>"
		  "</C:supported-calendar-component-set>", -1, NULL },
		{ "<C:supported-calendar-component-set><C:comp/>"
		  "</C:supported-calendar-component-set>", -1, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char doc[1024], got[128] = "";
		const char *error = NULL;
		int n = snprintf(doc, sizeof(doc), "%s%s%s", head, cases[i].prop, tail);

		ck_assert_int_eq(dav_multistatus_parse(doc, (size_t)n, comps_cb, got, &error),
				 cases[i].ret);
		if (cases[i].ret == 0)
			ck_assert_str_eq(got, cases[i].comps);
	}
}
END_TEST

START_TEST(test_refused)
{
	static char longhref[DAV_XML_TEXT_MAX + 200];
	static const struct bad_case cases[] = {
		{ "<?xml version=\"1.0\"?><!DOCTYPE m [<!ENTITY a \"aaaaaaaa\">"
		  "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
		  "<multistatus xmlns=\"DAV:\"><response><href>&b;</href></response>"
		  "</multistatus>", "a DTD is not accepted" },
		{ "<multistatus xmlns=\"DAV:\"><response>", "not well-formed" },
		{ "<html><body>500</body></html>", "not DAV:multistatus" },
		{ "<multistatus xmlns=\"urn:x\"/>", "not DAV:multistatus" },
		{ "<multistatus xmlns=\"DAV:\"><response><status>HTTP/1.1 200 OK</status>"
		  "</response></multistatus>", "without href" },
		{ NULL, "over its limit" },
	};
	const char *error;
	char *doc;

	memset(longhref, 'x', sizeof(longhref) - 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].doc != NULL) {
			doc = strdup(cases[i].doc);
		} else {
			size_t n = strlen(longhref) + 100;

			doc = malloc(n);
			snprintf(doc, n, "<multistatus xmlns=\"DAV:\"><response><href>%s</href>"
				 "</response></multistatus>", longhref);
		}
		error = NULL;
		ck_assert_int_eq(dav_multistatus_parse(doc, strlen(doc), never, NULL, &error), -1);
		ck_assert_msg(error != NULL && strstr(error, cases[i].error) != NULL,
			      "case %zu: %s", i, error != NULL ? error : "(none)");
		free(doc);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dav_xml");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_home);
	tcase_add_test(tc, test_stop);
	tcase_add_test(tc, test_data_newlines);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_components);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
