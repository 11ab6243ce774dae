/*
 * NAME
 *	mm_alloc 3h
 * SUMMARY
 *	memory allocation that never returns NULL
 * DESCRIPTION
 *	One allocation family for the whole project, in the spirit of
 *	Postfix mymalloc(3): an allocation failure is a fatal resource
 *	error (logged, exit 3), so call sites need no NULL checks.
 *	mm_free() takes a pointer to the pointer and clears it.
 */
#ifndef MM_ALLOC_H
#define MM_ALLOC_H

#include <stddef.h>
#include <stdarg.h>

void *mm_malloc(size_t size);
void *mm_calloc(size_t nmemb, size_t size);
void *mm_realloc(void *ptr, size_t size);
/* Grow an array of nmemb elements of size bytes, checking for overflow. */
void *mm_reallocarray(void *ptr, size_t nmemb, size_t size);
char *mm_strdup(const char *s);
char *mm_strndup(const char *s, size_t n);
void *mm_memdup(const void *p, size_t n);
/* The caller owns the returned string. */
char *mm_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *mm_vasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* free(*ptr) and set *ptr to NULL. */
#define mm_free(pp) mm_free_impl((void **)(pp))
void mm_free_impl(void **ptr);
/* Overwrite n bytes so the compiler cannot drop it (passwords, keys). */
void mm_wipe(void *p, size_t n);
/* Wipe a NUL-terminated secret, free it, set the pointer to NULL. */
void mm_free_secret(char **secret);
/* Wipe the first n bytes of *ptr, free it, set the pointer to NULL: for
 * buffers that held a password (a formatted command, a stream buffer). */
#define mm_free_wiped(pp, n) mm_free_wiped_impl((void **)(pp), (n))
void mm_free_wiped_impl(void **ptr, size_t n);

#endif
