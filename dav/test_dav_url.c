/* test_dav_url: the names in a DAV URL's path (dav_url.h). */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dav_url.h"
#include "mm_alloc.h"

static const struct {
	const char *url, *want;		/* want NULL: refused */
} seg_cases[] = {
	{ "http://h/a/b/c.ics", "c.ics" },
	{ "http://h/a/cal/", "cal" },
	{ "http://h/a/cal///", "cal" },
	{ "http://h/alice%40example.test/", "alice@example.test" },
	{ "http://h/a/r%C3%A9union%20d%c3%a9cembre.ics", "r\xc3\xa9union d\xc3\xa9" "cembre.ics" },
	{ "relative.vcf", "relative.vcf" },
	{ "/a/%2F.ics", NULL },		/* a '/' decoded: another path */
	{ "/a/%2f.ics", NULL },
	{ "/a/x%00y", NULL },		/* a NUL decoded */
	{ "/a/x%4", NULL },		/* cut escape */
	{ "/a/x%", NULL },
	{ "/a/x%zz", NULL },
	{ "/a/x%4g", NULL },
	{ "", NULL },
	{ "/", NULL },
	{ "///", NULL },
};

START_TEST(test_last_seg)
{
	char *got = dav_last_seg(seg_cases[_i].url);

	if (seg_cases[_i].want == NULL)
		ck_assert_msg(got == NULL, "%s gave %s", seg_cases[_i].url, got);
	else
		ck_assert_msg(got != NULL && strcmp(got, seg_cases[_i].want) == 0,
			      "%s gave %s", seg_cases[_i].url, got != NULL ? got : "NULL");
	mm_free(&got);
}
END_TEST

/* DAV_SEG_MAX decoded bytes, however long the encoded form; one more
 * is refused. */
START_TEST(test_last_seg_bound)
{
	char url[8 + 3 * (DAV_SEG_MAX + 1) + 1], *got;
	size_t n;

	memcpy(url, "http://h/", 9);
	n = 9;
	for (int i = 0; i < DAV_SEG_MAX; i++, n += 3)
		memcpy(url + n, "%41", 3);
	url[n] = '\0';
	got = dav_last_seg(url);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(strlen(got), DAV_SEG_MAX);
	ck_assert_int_eq(got[0], 'A');
	mm_free(&got);
	memcpy(url + n, "B", 2);
	ck_assert_ptr_null(dav_last_seg(url));
}
END_TEST

START_TEST(test_raw_seg)
{
	ck_assert_str_eq(dav_raw_seg("http://h/a/cal/"), "cal/");
	ck_assert_str_eq(dav_raw_seg("http://h/a/x%20y.ics"), "x%20y.ics");
	ck_assert_str_eq(dav_raw_seg("x.ics"), "x.ics");
	ck_assert_str_eq(dav_raw_seg(""), "");
}
END_TEST

START_TEST(test_name_is_path)
{
	ck_assert(dav_name_is_path("alice/book", "http://h:5232/alice/book/"));
	ck_assert(dav_name_is_path("alice/book", "http://h:5232//alice/book"));
	ck_assert(!dav_name_is_path("Book", "http://h:5232/alice/book/"));
	ck_assert(!dav_name_is_path("alice/boo", "http://h:5232/alice/book/"));
	ck_assert(!dav_name_is_path(NULL, "http://h:5232/alice/book/"));
	ck_assert(!dav_name_is_path("alice/book", "alice/book"));	/* no scheme */
	ck_assert(!dav_name_is_path("h:5232", "http://h:5232"));	/* no path */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dav_url");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_last_seg, 0, sizeof(seg_cases) / sizeof(seg_cases[0]));
	tcase_add_test(tc, test_last_seg_bound);
	tcase_add_test(tc, test_raw_seg);
	tcase_add_test(tc, test_name_is_path);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
