/*
 * NAME
 *	freewatch 3h
 * SUMMARY
 *	tests: count freed blocks that still hold a secret
 * DESCRIPTION
 *	A test linked with -Wl,--wrap=free gets __wrap_free() from
 *	freewatch.c: while a needle is set, every block freed through
 *	free(3) by our code (mm_free and friends) is searched for it
 *	before it is released. A count above zero means a buffer that
 *	held a password was freed without being wiped. Frees inside
 *	shared libraries (OpenSSL, libc) are not seen.
 */
#ifndef MM_FREEWATCH_H
#define MM_FREEWATCH_H

#include <stddef.h>

/* Watch for needle (NULL: stop) and reset the count. The caller keeps
 * needle alive while watching. */
void freewatch_set(const char *needle);
/* Freed blocks that held the needle since freewatch_set(). */
unsigned freewatch_count(void);

#endif
