/*
 * NAME
 *	store_codec 3h
 * SUMMARY
 *	bounded encoding of store records, for every backend
 * DESCRIPTION
 *	Record encoding (store_codec.c): a version byte, then fields in a
 *	fixed order; integers little-endian fixed width, strings as a u32
 *	length (0xffffffff: NULL) and bytes. Readers check every length
 *	against what is left, so a damaged record is an error, not a crash.
 *	LMDB keeps its records so; PostgreSQL, which has columns, uses it
 *	for the pending batch's message array.
 *
 *	store_be32() and friends write and read big-endian integers, for
 *	keys that must sort in numeric order.
 */
#ifndef MM_STORE_CODEC_H
#define MM_STORE_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* The caller owns buf: rec_free() it. */
struct rec_writer {
	unsigned char *buf;
	size_t len, size;
};

struct rec_reader {
	const unsigned char *p;
	size_t left;
	int bad;		/* set on the first overrun; sticky */
};

void rec_init(struct rec_writer *w, unsigned char version);
void rec_free(struct rec_writer *w);
void rec_put_u32(struct rec_writer *w, uint32_t v);
void rec_put_u64(struct rec_writer *w, uint64_t v);
void rec_put_str(struct rec_writer *w, const char *s);
void rec_put_bytes(struct rec_writer *w, const void *p, size_t len);

/* Start reading; returns the version byte (0 and bad on empty input). */
unsigned char rec_begin(struct rec_reader *r, const void *p, size_t len);
uint32_t rec_get_u32(struct rec_reader *r);
uint64_t rec_get_u64(struct rec_reader *r);
/* A fresh NUL-terminated copy, or NULL (encoded NULL, or bad). */
char *rec_get_str(struct rec_reader *r);
/* Is the whole record consumed without error? */
int rec_end_ok(const struct rec_reader *r);

void store_be32(unsigned char *p, uint32_t v);
void store_be64(unsigned char *p, uint64_t v);
uint32_t store_get_be32(const unsigned char *p);
uint64_t store_get_be64(const unsigned char *p);

#endif
