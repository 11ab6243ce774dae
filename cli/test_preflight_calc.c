/*
 * NAME
 *	test_preflight_calc 1
 * SUMMARY
 *	unit tests: mailmigrate preflight's certificate days and free-space
 *	margin, at their boundaries
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "cli_preflight.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))
#define DAY 86400
#define MIB (1024 * 1024ULL)

static const int64_t now = 1796000000;	/* a fixed clock */

/* Days left: floor, so a certificate 1 s past its end is -1 day. */
static const struct {
	int64_t not_after;
	int64_t days;
} days_cases[] = {
	{ now, 0 },
	{ now + DAY - 1, 0 },
	{ now + DAY, 1 },
	{ now + 3650LL * DAY, 3650 },
	{ now - 1, -1 },
	{ now - DAY, -1 },
	{ now - DAY - 1, -2 },
	{ now - 10LL * DAY - 7200, -11 },
	{ 0, -(now + DAY - 1) / DAY },
};

START_TEST(test_cert_days)
{
	ck_assert_int_eq(preflight_cert_days(days_cases[_i].not_after, now),
			 days_cases[_i].days);
}
END_TEST

/* Status by days, chain and name, and source_tls_verify. */
static const struct {
	int64_t days;
	int verified, verify_configured;
	enum preflight_status status;
} status_cases[] = {
	{ 365, 1, 1, PREFLIGHT_OK },
	{ PREFLIGHT_CERT_WARN_DAYS, 1, 1, PREFLIGHT_OK },
	{ PREFLIGHT_CERT_WARN_DAYS - 1, 1, 1, PREFLIGHT_WARNING },
	{ 0, 1, 1, PREFLIGHT_WARNING },		/* expires today */
	{ -1, 1, 1, PREFLIGHT_FAILED },		/* expired: refused */
	{ -1, 0, 0, PREFLIGHT_WARNING },	/* verify = no: only a warning */
	{ 365, 0, 1, PREFLIGHT_FAILED },	/* wrong name or chain */
	{ 365, 0, 0, PREFLIGHT_WARNING },
	{ 5, 1, 0, PREFLIGHT_WARNING },
};

START_TEST(test_cert_status)
{
	ck_assert_int_eq(preflight_cert_status(status_cases[_i].days,
					       status_cases[_i].verified,
					       status_cases[_i].verify_configured),
			 status_cases[_i].status);
}
END_TEST

/* The margin: 20 %, at least 16 MiB, saturating. */
static const struct {
	uint64_t need, required;
} required_cases[] = {
	{ 0, 16 * MIB },
	{ 1, 1 + 16 * MIB },
	{ 80 * MIB, 96 * MIB },		/* 20 % is exactly the minimum */
	{ 100 * MIB, 120 * MIB },
	{ 1000, 1000 + 16 * MIB },
	{ 1000 * MIB + 50, 1258291260 },	/* 1048576050 + 209715210: no overflow, no rounding up */
	{ UINT64_MAX - 1, UINT64_MAX },
	{ UINT64_MAX, UINT64_MAX },
};

START_TEST(test_space_required)
{
	ck_assert_uint_eq(preflight_space_required(required_cases[_i].need),
			  required_cases[_i].required);
}
END_TEST

static const struct {
	uint64_t free_bytes, need;
	enum preflight_status status;
} space_cases[] = {
	{ 1 * MIB, 1300000, PREFLIGHT_FAILED },	/* the 1 MiB tmpfs */
	{ 100 * MIB, 100 * MIB + 1, PREFLIGHT_FAILED },	/* one byte short */
	{ 100 * MIB, 100 * MIB, PREFLIGHT_WARNING },	/* fits, no margin */
	{ 120 * MIB - 1, 100 * MIB, PREFLIGHT_WARNING },
	{ 120 * MIB, 100 * MIB, PREFLIGHT_OK },
	{ 16 * MIB, 0, PREFLIGHT_OK },
	{ 0, 0, PREFLIGHT_WARNING },
	{ UINT64_MAX, UINT64_MAX, PREFLIGHT_OK },
};

START_TEST(test_space_status)
{
	ck_assert_int_eq(preflight_space_status(space_cases[_i].free_bytes,
						space_cases[_i].need),
			 space_cases[_i].status);
}
END_TEST

static Suite *preflight_calc_suite(void)
{
	Suite *s = suite_create("preflight_calc");
	TCase *tc = tcase_create("calc");

	tcase_add_loop_test(tc, test_cert_days, 0, N_ELEMENTS(days_cases));
	tcase_add_loop_test(tc, test_cert_status, 0, N_ELEMENTS(status_cases));
	tcase_add_loop_test(tc, test_space_required, 0, N_ELEMENTS(required_cases));
	tcase_add_loop_test(tc, test_space_status, 0, N_ELEMENTS(space_cases));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(preflight_calc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
