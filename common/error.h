/*
 * NAME
 *	error 3h
 * SUMMARY
 *	the text of a failure: one place, one lifetime
 * DESCRIPTION
 *	Every `const char **error_r` that a function of this tree (common/,
 *	modules/, store/, puller/, relay/, auth-hook/) sets to text it
 *	formatted points into one ring of ERROR_RING
 *	slots of ERROR_MAX bytes, owned by the process: error_setf()
 *	formats into the next slot and returns it. There is no per-module
 *	static buffer, so an error of one module no longer dies when
 *	another module fails, and callers need no defensive copies.
 * LIFETIME
 *	The rule, for every error_r in this tree that says "error(3)":
 *	the text stays valid and unchanged until ERROR_RING - 1 more
 *	errors have been set in this process after it. A caller may
 *	clean up after a failure (close connections, which may fail in
 *	turn, a few times each) and still report the first error; to
 *	keep it beyond that, or across a loop of failures, copy it
 *	(mm_strdup). Processes, not threads: the ring is not locked.
 * LIMITS
 *	A longer text is cut at ERROR_MAX - 1 bytes.
 */
#ifndef MM_ERROR_H
#define MM_ERROR_H

#include <stdarg.h>

#define ERROR_MAX 4096
#define ERROR_RING 16

/* Format an error into the ring; the text, valid as LIFETIME says.
 * An argument may be an earlier error: it is read before its slot
 * can be reused. */
const char *error_setf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *error_vsetf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* error_setf() for the common shape: *error_r set, -1 returned. */
int error_failf(const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
