/*
 * NAME
 *	test_throttle 1
 * SUMMARY
 *	unit tests: the token bucket, with time passed in
 */
#include "config.h"

#include <check.h>
#include <sys/wait.h>
#include <unistd.h>

#include "throttle.h"

#define SEC 1000000000ULL

START_TEST(unlimited)
{
	struct throttle *t = throttle_new(0);

	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(throttle_reserve(t, 1ULL << 40, 1 * SEC), 0);
	ck_assert_uint_eq(throttle_reserve(NULL, 100, 1 * SEC), 0);
	throttle_free(&t);
	ck_assert_ptr_null(t);
}
END_TEST

START_TEST(rate_held)
{
	struct throttle *t = throttle_new(1000);	/* 1000 bytes/s */

	/* A second's burst is free, then the debt is paid in time. */
	ck_assert_uint_eq(throttle_reserve(t, 1000, 10 * SEC), 0);
	ck_assert_uint_eq(throttle_reserve(t, 500, 10 * SEC), SEC / 2);
	/* Half a second later the debt is paid; 250 more cost 0.25 s. */
	ck_assert_uint_eq(throttle_reserve(t, 250, 10 * SEC + SEC / 2), SEC / 4);
	/* After a long pause, at most one second of tokens builds up. */
	ck_assert_uint_eq(throttle_reserve(t, 1000, 100 * SEC), 0);
	ck_assert_uint_eq(throttle_reserve(t, 2000, 100 * SEC), 2 * SEC);
	/* By 102 s that debt is paid; a lower rate then applies at once. */
	ck_assert_uint_eq(throttle_reserve(t, 0, 102 * SEC), 0);
	throttle_set_rate(t, 100);
	ck_assert_uint_eq(throttle_reserve(t, 200, 102 * SEC), 2 * SEC);
	throttle_set_rate(t, 0);
	ck_assert_uint_eq(throttle_reserve(t, 1ULL << 30, 102 * SEC), 0);
	throttle_free(&t);
}
END_TEST

/* One bucket for all the workers: a child's bytes count for the parent. */
START_TEST(shared_across_fork)
{
	struct throttle *t = throttle_new(1000);
	int status;
	pid_t pid;

	ck_assert_uint_eq(throttle_reserve(t, 600, 5 * SEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(throttle_reserve(t, 400, 5 * SEC) == 0 ? 0 : 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The bucket is empty now, for the parent too. */
	ck_assert_uint_eq(throttle_reserve(t, 100, 5 * SEC), SEC / 10);
	throttle_free(&t);
}
END_TEST

static Suite *throttle_suite(void)
{
	Suite *s = suite_create("throttle");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, unlimited);
	tcase_add_test(tc, rate_held);
	tcase_add_test(tc, shared_across_fork);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(throttle_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
