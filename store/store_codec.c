/*
 * NAME
 *	store_codec 3
 * SUMMARY
 *	bounded encoding of store records
 * DESCRIPTION
 *	Fixed-width little-endian integers and length-prefixed strings.
 *	The reader never reads past the record: an overrun marks it bad,
 *	and the caller reports the record as damaged.
 */
#include "config.h"

#include <string.h>

#include "mm_alloc.h"
#include "store_codec.h"

#define REC_NULL_STR 0xffffffffU

/* Make room for n more bytes. */
static void rec_reserve(struct rec_writer *w, size_t n)
{
	if (w->len + n <= w->size)
		return;
	while (w->len + n > w->size)
		w->size = w->size == 0 ? 128 : w->size * 2;
	w->buf = mm_realloc(w->buf, w->size);
}

void rec_init(struct rec_writer *w, unsigned char version)
{
	w->buf = NULL;
	w->len = w->size = 0;
	rec_reserve(w, 1);
	w->buf[w->len++] = version;
}

void rec_free(struct rec_writer *w)
{
	mm_free(&w->buf);
	w->len = w->size = 0;
}

void rec_put_bytes(struct rec_writer *w, const void *p, size_t len)
{
	rec_reserve(w, len);
	if (len > 0)
		memcpy(w->buf + w->len, p, len);
	w->len += len;
}

void rec_put_u32(struct rec_writer *w, uint32_t v)
{
	unsigned char b[4];

	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	rec_put_bytes(w, b, 4);
}

void rec_put_u64(struct rec_writer *w, uint64_t v)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	rec_put_bytes(w, b, 8);
}

void rec_put_str(struct rec_writer *w, const char *s)
{
	if (s == NULL) {
		rec_put_u32(w, REC_NULL_STR);
		return;
	}
	rec_put_u32(w, (uint32_t)strlen(s));
	rec_put_bytes(w, s, strlen(s));
}

unsigned char rec_begin(struct rec_reader *r, const void *p, size_t len)
{
	r->p = p;
	r->left = len;
	r->bad = 0;
	if (len == 0) {
		r->bad = 1;
		return 0;
	}
	r->left--;
	return *r->p++;
}

/* Take n bytes, or mark the record bad. */
static const unsigned char *rec_take(struct rec_reader *r, size_t n)
{
	const unsigned char *p = r->p;

	if (r->bad || n > r->left) {
		r->bad = 1;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

uint32_t rec_get_u32(struct rec_reader *r)
{
	const unsigned char *b = rec_take(r, 4);
	uint32_t v = 0;

	if (b == NULL)
		return 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

uint64_t rec_get_u64(struct rec_reader *r)
{
	const unsigned char *b = rec_take(r, 8);
	uint64_t v = 0;

	if (b == NULL)
		return 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

char *rec_get_str(struct rec_reader *r)
{
	uint32_t len = rec_get_u32(r);
	const unsigned char *p;

	if (r->bad || len == REC_NULL_STR)
		return NULL;
	p = rec_take(r, len);
	if (p == NULL)
		return NULL;
	if (memchr(p, '\0', len) != NULL) {
		r->bad = 1;
		return NULL;
	}
	return mm_strndup((const char *)p, len);
}

int rec_end_ok(const struct rec_reader *r)
{
	return !r->bad && r->left == 0;
}

void store_be32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (24 - 8 * i));
}

void store_be64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (56 - 8 * i));
}

uint32_t store_get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t store_get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}
