/*
 * NAME
 *	mm_alloc 3
 * SUMMARY
 *	memory allocation that never returns NULL
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "log.h"
#include "mm_alloc.h"

static void mm_out_of_memory(size_t size)
{
	log_fatal("out of memory allocating %zu bytes", size);
}

void *mm_malloc(size_t size)
{
	void *p = malloc(size == 0 ? 1 : size);

	if (p == NULL)
		mm_out_of_memory(size);
	return p;
}

void *mm_calloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb == 0 ? 1 : nmemb, size == 0 ? 1 : size);

	if (p == NULL)
		mm_out_of_memory(nmemb * size);
	return p;
}

void *mm_realloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size == 0 ? 1 : size);

	if (p == NULL)
		mm_out_of_memory(size);
	return p;
}

void *mm_reallocarray(void *ptr, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size)
		log_panic("mm_reallocarray: %zu * %zu overflows", nmemb, size);
	return mm_realloc(ptr, nmemb * size);
}

char *mm_strdup(const char *s)
{
	return mm_memdup(s, strlen(s) + 1);
}

char *mm_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = mm_malloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void *mm_memdup(const void *src, size_t n)
{
	void *p = mm_malloc(n);

	memcpy(p, src, n);
	return p;
}

char *mm_vasprintf(const char *fmt, va_list ap)
{
	va_list ap2;
	int len;
	char *p;

	va_copy(ap2, ap);
	len = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (len < 0)
		log_panic("mm_vasprintf: bad format '%s'", fmt);
	p = mm_malloc((size_t)len + 1);
	vsnprintf(p, (size_t)len + 1, fmt, ap);
	return p;
}

char *mm_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = mm_vasprintf(fmt, ap);
	va_end(ap);
	return p;
}

void mm_free_impl(void **ptr)
{
	free(*ptr);
	*ptr = NULL;
}

void mm_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		OPENSSL_cleanse(p, n);
}

void mm_free_wiped_impl(void **ptr, size_t n)
{
	mm_wipe(*ptr, n);
	mm_free_impl(ptr);
}

void mm_free_secret(char **secret)
{
	if (*secret != NULL) {
		mm_wipe(*secret, strlen(*secret));
		mm_free(secret);
	}
}
