/*
 * NAME
 *	error 3
 * SUMMARY
 *	the text of a failure: one place, one lifetime
 * DESCRIPTION
 *	A ring of fixed slots (error(3h) says for how long a text lives).
 *	The text is formatted into a scratch buffer first and then copied
 *	into its slot, so an argument that is itself an earlier error
 *	(even the one about to be overwritten) is read whole.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "error.h"

static char error_ring[ERROR_RING][ERROR_MAX];
static unsigned error_next;

const char *error_vsetf(const char *fmt, va_list ap)
{
	char buf[ERROR_MAX];
	char *slot;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	slot = error_ring[error_next];
	error_next = (error_next + 1) % ERROR_RING;
	memcpy(slot, buf, strlen(buf) + 1);
	return slot;
}

const char *error_setf(const char *fmt, ...)
{
	const char *text;
	va_list ap;

	va_start(ap, fmt);
	text = error_vsetf(fmt, ap);
	va_end(ap);
	return text;
}

int error_failf(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	*error_r = error_vsetf(fmt, ap);
	va_end(ap);
	return -1;
}
