/*
 * NAME
 *	test_throttle 1
 * SUMMARY
 *	unit tests: the token bucket, with time passed in
 */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
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

/* Milliseconds on the monotonic clock. */
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A worker killed while it holds the lock does not block the others:
 * the next taker gets the lock (robust mutex) within a bound. */
START_TEST(lock_holder_killed)
{
	struct throttle *t = throttle_new(1000);
	int status;
	pid_t holder, taker;
	uint64_t t0;

	holder = fork();
	ck_assert_int_ge(holder, 0);
	if (holder == 0) {
		throttle_test_lock(t);
		raise(SIGKILL);	/* dies holding it */
		_exit(1);
	}
	ck_assert_int_eq(waitpid(holder, &status, 0), holder);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* Another worker takes bytes: it must not hang. */
	taker = fork();
	ck_assert_int_ge(taker, 0);
	if (taker == 0)
		_exit(throttle_reserve(t, 100, 5 * SEC) == 0 ? 0 : 1);
	t0 = now_ms();
	while (waitpid(taker, &status, WNOHANG) == 0 && now_ms() - t0 < 5000) {
		struct timespec ts = { 0, 10 * 1000000L };

		nanosleep(&ts, NULL);
	}
	if (now_ms() - t0 >= 5000) {
		kill(taker, SIGKILL);
		waitpid(taker, &status, 0);
		ck_abort_msg("the lock of a killed holder was never given up");
	}
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The parent too, and the bucket still counts. */
	ck_assert_uint_eq(throttle_reserve(t, 900, 5 * SEC), 0);
	ck_assert_uint_eq(throttle_reserve(t, 100, 5 * SEC), SEC / 10);
	throttle_free(&t);
}
END_TEST

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

/* SIGTERM during a long wait (a debt of 100 s): the take returns
 * promptly, saying it was interrupted. */
START_TEST(wait_interrupted)
{
	struct sigaction sa;
	struct itimerval it = { { 0, 0 }, { 0, 200 * 1000 } };
	struct throttle *t = throttle_new(1000);
	uint64_t t0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGALRM, &sa, NULL);
	got_term = 0;
	/* Within the limit: no wait, not interrupted. */
	ck_assert_int_eq(throttle_take(t, 500, &got_term), THROTTLE_OK);
	/* Already told to stop: no wait at all. */
	got_term = 1;
	t0 = now_ms();
	ck_assert_int_eq(throttle_take(t, 100000, &got_term), THROTTLE_INTERRUPTED);
	ck_assert_uint_lt(now_ms() - t0, 1000);
	/* Told while waiting (the signal 0.2 s into a 100 s wait). */
	got_term = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	t0 = now_ms();
	ck_assert_int_eq(throttle_take(t, 100000, &got_term), THROTTLE_INTERRUPTED);
	ck_assert_uint_lt(now_ms() - t0, 2000);
	ck_assert_int_eq(got_term, 1);
	/* A NULL flag: the old behaviour, a plain wait (a short one here). */
	throttle_set_rate(t, 0);
	ck_assert_int_eq(throttle_take(t, 100, NULL), THROTTLE_OK);
	ck_assert_int_eq(throttle_take(NULL, 100, NULL), THROTTLE_OK);
	throttle_free(&t);
}
END_TEST

static Suite *throttle_suite(void)
{
	Suite *s = suite_create("throttle");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);	/* the tests bound their own waits */

	tcase_add_test(tc, unlimited);
	tcase_add_test(tc, rate_held);
	tcase_add_test(tc, shared_across_fork);
	tcase_add_test(tc, lock_holder_killed);
	tcase_add_test(tc, wait_interrupted);
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
