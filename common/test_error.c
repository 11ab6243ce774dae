/*
 * NAME
 *	test_error 1
 * SUMMARY
 *	unit tests for error(3)
 * DESCRIPTION
 *	The lifetime error(3h) promises: a text survives ERROR_RING - 1
 *	later errors unchanged; an earlier error, even the one whose slot
 *	is next, can be an argument; long texts are cut, not overrun.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

START_TEST(test_lifetime)
{
	const char *first = error_setf("first %d", 1), *later = NULL;

	for (int i = 0; i < ERROR_RING - 1; i++) {
		later = error_setf("later %d", i);
		ck_assert_str_eq(first, "first 1");
	}
	{
		char want[32];

		snprintf(want, sizeof(want), "later %d", ERROR_RING - 2);
		ck_assert_str_eq(later, want);
	}
	/* One more: the first one's slot is taken again. */
	ck_assert_ptr_eq(error_setf("wraps"), first);
	ck_assert_str_eq(first, "wraps");
}
END_TEST

START_TEST(test_argument)
{
	const char *e = error_setf("cause"), *wrapped;

	/* Make e's slot the next one to be written. */
	for (int i = 0; i < ERROR_RING - 1; i++)
		(void)error_setf("noise %d", i);
	wrapped = error_setf("context: %s (%s)", e, e);
	ck_assert_ptr_eq(wrapped, e);
	ck_assert_str_eq(wrapped, "context: cause (cause)");
}
END_TEST

START_TEST(test_bounded)
{
	char *big = malloc(3 * ERROR_MAX);
	const char *e;

	ck_assert_ptr_nonnull(big);
	memset(big, 'a', 3 * ERROR_MAX - 1);
	big[3 * ERROR_MAX - 1] = '\0';
	e = error_setf("%s", big);
	ck_assert_uint_eq(strlen(e), ERROR_MAX - 1);
	free(big);
}
END_TEST

START_TEST(test_failf)
{
	const char *error = NULL;

	ck_assert_int_eq(error_failf(&error, "%s: %d", "x", 7), -1);
	ck_assert_str_eq(error, "x: 7");
}
END_TEST

static Suite *error_suite(void)
{
	Suite *s = suite_create("error");
	TCase *tc = tcase_create("error");

	tcase_add_test(tc, test_lifetime);
	tcase_add_test(tc, test_argument);
	tcase_add_test(tc, test_bounded);
	tcase_add_test(tc, test_failf);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(error_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
