/*
 * NAME
 *	freewatch 3
 * SUMMARY
 *	tests: count freed blocks that still hold a secret (freewatch.h)
 */
#include "config.h"

#include <malloc.h>
#include <string.h>

#include "freewatch.h"

/* Under valgrind, the unwritten tail of a block is "uninitialised";
 * searching it is fine here (the block is being freed). */
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#endif
#endif
#ifndef VALGRIND_MAKE_MEM_DEFINED
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#endif

void __real_free(void *ptr);
void __wrap_free(void *ptr);

static const char *freewatch_needle;
static unsigned freewatch_hits;

void freewatch_set(const char *needle)
{
	freewatch_needle = needle;
	freewatch_hits = 0;
}

unsigned freewatch_count(void)
{
	return freewatch_hits;
}

/* free(3) for our objects: look for the needle first. */
void __wrap_free(void *ptr)
{
	if (ptr != NULL && freewatch_needle != NULL) {
		size_t size = malloc_usable_size(ptr);

		VALGRIND_MAKE_MEM_DEFINED(ptr, size);
		if (memmem(ptr, size, freewatch_needle,
			   strlen(freewatch_needle)) != NULL)
			freewatch_hits++;
	}
	__real_free(ptr);
}
