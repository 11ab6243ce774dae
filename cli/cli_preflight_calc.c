/*
 * NAME
 *	cli_preflight_calc 3
 * SUMMARY
 *	the arithmetic of mailmigrate preflight, without a clock or a disk
 * DESCRIPTION
 *	Time and sizes are passed in, so test_preflight_calc.c checks the
 *	boundaries (a certificate expiring today, a file system one byte
 *	short) without waiting for a date or filling a disk.
 */
#include "config.h"

#include "cli_preflight.h"

int64_t preflight_cert_days(int64_t not_after, int64_t now)
{
	int64_t left = not_after - now;

	/* Floor division: 1 s past the end is -1 day, not 0. */
	return left >= 0 ? left / 86400 : -((-left + 86399) / 86400);
}

enum preflight_status preflight_cert_status(int64_t days, int verified,
					    int verify_configured)
{
	if (days < 0 || !verified)
		return verify_configured ? PREFLIGHT_FAILED : PREFLIGHT_WARNING;
	if (days < PREFLIGHT_CERT_WARN_DAYS)
		return PREFLIGHT_WARNING;
	return PREFLIGHT_OK;
}

uint64_t preflight_space_required(uint64_t need)
{
	uint64_t margin = need / 100 * PREFLIGHT_SPACE_MARGIN_PCT +
		need % 100 * PREFLIGHT_SPACE_MARGIN_PCT / 100;

	if (margin < PREFLIGHT_SPACE_MARGIN_MIN)
		margin = PREFLIGHT_SPACE_MARGIN_MIN;
	return need > UINT64_MAX - margin ? UINT64_MAX : need + margin;
}

enum preflight_status preflight_space_status(uint64_t free_bytes, uint64_t need)
{
	if (free_bytes < need)
		return PREFLIGHT_FAILED;
	if (free_bytes < preflight_space_required(need))
		return PREFLIGHT_WARNING;
	return PREFLIGHT_OK;
}
