/*
 * NAME
 *	mutf7 3
 * SUMMARY
 *	IMAP folder names: modified UTF-7 to UTF-8 and back
 * DESCRIPTION
 *	See mutf7.h for the rules. Text is worked on in bounded buffers;
 *	nothing here reads past a terminating NUL or writes past the
 *	buffer it was given.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "mm_alloc.h"
#include "mutf7.h"

/* A bounded output buffer: appends fail instead of growing past max. */
struct mutf7_buf {
	char *data;		/* max + 1 bytes */
	size_t len;
	size_t max;
};

/* Format into a caller's error buffer (internal layers). */
static int mutf7_fail(char *err, size_t errsize, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int mutf7_fail(char *err, size_t errsize, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsize, fmt, ap);
	va_end(ap);
	return -1;
}

/* Use data (size bytes, at least 1) as an empty buffer. */
static void buf_init(struct mutf7_buf *b, char *data, size_t size)
{
	b->data = data;
	b->len = 0;
	b->max = size - 1;
	b->data[0] = '\0';
}

/* Append n bytes; -1 (nothing written) when they do not fit. */
static int buf_put(struct mutf7_buf *b, const char *p, size_t n)
{
	if (n > b->max - b->len)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static int buf_putc(struct mutf7_buf *b, char c)
{
	return buf_put(b, &c, 1);
}

/* --- UTF-8 ------------------------------------------------------------- */

/* Decode one code point at s, strictly; -1 when malformed. Stops at a
 * NUL, which is never a continuation byte. */
int mutf7_utf8_get(const unsigned char *s, uint32_t *cp_r, size_t *len_r)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0x80) {
		*cp_r = s[0];
		*len_r = 1;
		return 0;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return -1;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return -1;
	*cp_r = cp;
	*len_r = n;
	return 0;
}

static int utf8_put(struct mutf7_buf *b, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_put(b, u, n);
}

/* --- modified UTF-7 ---------------------------------------------------- */

static const char mb64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int mb64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

/* Printable ASCII: what stands for itself in modified UTF-7. */
static int is_printable(uint32_t c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* Decode one shift starting after its '&' at *pp (which is not '-');
 * leave *pp after the closing '-'. */
static int mutf7_shift(const unsigned char **pp, const unsigned char *start,
		       struct mutf7_buf *out, char *err, size_t errsize)
{
	const unsigned char *p = *pp;
	uint32_t bits = 0, high = 0, unit, cp;
	unsigned nbits = 0;
	int v;

	for (; *p != '-'; p++) {
		if (*p == '\0')
			return mutf7_fail(err, errsize, "unterminated shift at offset %zu",
				       (size_t)(*pp - 1 - start));
		if ((v = mb64_value(*p)) < 0)
			return mutf7_fail(err, errsize, "byte 0x%02x at offset %zu "
				       "is not modified base64", *p, (size_t)(p - start));
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		unit = (bits >> nbits) & 0xffff;
		bits &= (1U << nbits) - 1;
		if (high != 0) {
			if (unit < 0xdc00 || unit > 0xdfff)
				return mutf7_fail(err, errsize, "unpaired high surrogate "
					       "before offset %zu", (size_t)(p - start));
			cp = 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00);
			high = 0;
		} else if (unit >= 0xd800 && unit <= 0xdbff) {
			high = unit;
			continue;
		} else if (unit >= 0xdc00 && unit <= 0xdfff) {
			return mutf7_fail(err, errsize, "unpaired low surrogate "
				       "before offset %zu", (size_t)(p - start));
		} else if (unit < 0x20 || unit == 0x7f) {
			return mutf7_fail(err, errsize, "control character U+%04X "
				       "before offset %zu", (unsigned)unit,
				       (size_t)(p - start));
		} else if (is_printable(unit)) {
			return mutf7_fail(err, errsize, "printable ASCII '%c' encoded "
				       "in a shift before offset %zu", (char)unit,
				       (size_t)(p - start));
		} else {
			cp = unit;
		}
		if (utf8_put(out, cp) < 0)
			return mutf7_fail(err, errsize, "longer than %zu bytes decoded",
				       out->max);
	}
	if (high != 0)
		return mutf7_fail(err, errsize, "unpaired high surrogate at the end "
			       "of the shift ending at offset %zu", (size_t)(p - start));
	/* A minimal shift leaves fewer than 6 bits over, all zero. */
	if (nbits >= 6)
		return mutf7_fail(err, errsize, "non-minimal shift ending at offset %zu "
			       "(base64 left over)", (size_t)(p - start));
	if (bits != 0)
		return mutf7_fail(err, errsize, "non-zero trailing bits in the shift "
			       "ending at offset %zu", (size_t)(p - start));
	*pp = p + 1;
	return 0;
}

/* Decode modified UTF-7 in, appending UTF-8 to out. */
static int decode_into(const char *in, struct mutf7_buf *out, char *err,
		       size_t errsize)
{
	const unsigned char *start = (const unsigned char *)in, *p = start;
	int after_shift = 0;

	while (*p != '\0') {
		if (*p != '&') {
			if (!is_printable(*p))
				return mutf7_fail(err, errsize, "byte 0x%02x at offset %zu "
					       "is not printable ASCII", *p,
					       (size_t)(p - start));
			if (buf_putc(out, (char)*p) < 0)
				goto too_long;
			p++;
			after_shift = 0;
			continue;
		}
		if (p[1] == '-') {
			if (buf_putc(out, '&') < 0)
				goto too_long;
			p += 2;
			after_shift = 0;
			continue;
		}
		/* Two shifts back to back would be one in minimal form. */
		if (after_shift)
			return mutf7_fail(err, errsize, "non-minimal: a shift straight "
				       "after another at offset %zu", (size_t)(p - start));
		p++;
		if (mutf7_shift(&p, start, out, err, errsize) < 0)
			return -1;
		after_shift = 1;
	}
	return 0;
too_long:
	return mutf7_fail(err, errsize, "longer than %zu bytes decoded", out->max);
}

/* Add one UTF-16 unit to a shift being encoded. */
static int mutf7_unit(struct mutf7_buf *out, uint32_t unit, uint32_t *bits,
		      unsigned *nbits)
{
	*bits = (*bits << 16) | unit;
	*nbits += 16;
	while (*nbits >= 6) {
		*nbits -= 6;
		if (buf_putc(out, mb64_chars[(*bits >> *nbits) & 0x3f]) < 0)
			return -1;
	}
	*bits &= (1U << *nbits) - 1;
	return 0;
}

/* Encode UTF-8 in as modified UTF-7, appending to out. */
static int encode_into(const char *in, struct mutf7_buf *out, char *err,
		       size_t errsize)
{
	const unsigned char *start = (const unsigned char *)in, *p = start;
	uint32_t cp, bits;
	unsigned nbits;
	size_t n;

	while (*p != '\0') {
		if (is_printable(*p)) {
			if (buf_put(out, *p == '&' ? "&-" : (const char *)p,
				    *p == '&' ? 2 : 1) < 0)
				goto too_long;
			p++;
			continue;
		}
		/* One shift for the whole run up to the next printable. */
		if (buf_putc(out, '&') < 0)
			goto too_long;
		bits = 0;
		nbits = 0;
		while (*p != '\0' && !is_printable(*p)) {
			if (mutf7_utf8_get(p, &cp, &n) < 0)
				return mutf7_fail(err, errsize, "not valid UTF-8 at "
					       "offset %zu", (size_t)(p - start));
			if (cp < 0x80)
				return mutf7_fail(err, errsize, "control character "
					       "U+%04X at offset %zu", (unsigned)cp,
					       (size_t)(p - start));
			p += n;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				if (mutf7_unit(out, 0xd800 + (cp >> 10), &bits, &nbits) < 0 ||
				    mutf7_unit(out, 0xdc00 + (cp & 0x3ff), &bits, &nbits) < 0)
					goto too_long;
			} else if (mutf7_unit(out, cp, &bits, &nbits) < 0) {
				goto too_long;
			}
		}
		if (nbits > 0 &&
		    buf_putc(out, mb64_chars[(bits << (6 - nbits)) & 0x3f]) < 0)
			goto too_long;
		if (buf_putc(out, '-') < 0)
			goto too_long;
	}
	return 0;
too_long:
	return mutf7_fail(err, errsize, "longer than %zu bytes encoded", out->max);
}

int mutf7_decode(const char *in, char *out, size_t outsize, size_t *len_r,
		 char *err, size_t errsize)
{
	struct mutf7_buf b;

	buf_init(&b, out, outsize);
	if (decode_into(in, &b, err, errsize) < 0)
		return -1;
	*len_r = b.len;
	return 0;
}

int mutf7_encode(const char *in, char *out, size_t outsize, size_t *len_r,
		 char *err, size_t errsize)
{
	struct mutf7_buf b;

	buf_init(&b, out, outsize);
	if (encode_into(in, &b, err, errsize) < 0)
		return -1;
	*len_r = b.len;
	return 0;
}

int mutf7_to_utf8(const char *in, char **out_r, const char **error_r)
{
	char out[MUTF7_MAX_TEXT + 1], err[256];
	size_t len;

	*out_r = NULL;
	if (strlen(in) > MUTF7_MAX_TEXT) {
		return error_failf(error_r, "modified UTF-7: longer than %d bytes",
				   MUTF7_MAX_TEXT);
	}
	if (mutf7_decode(in, out, sizeof(out), &len, err, sizeof(err)) < 0) {
		return error_failf(error_r, "bad modified UTF-7: %s", err);
	}
	*out_r = mm_memdup(out, len + 1);
	return 0;
}

int utf8_to_mutf7(const char *in, char **out_r, const char **error_r)
{
	char out[MUTF7_MAX_TEXT + 1], err[256];
	size_t len;

	*out_r = NULL;
	if (strlen(in) > MUTF7_MAX_TEXT) {
		return error_failf(error_r, "UTF-8: longer than %d bytes",
				   MUTF7_MAX_TEXT);
	}
	if (mutf7_encode(in, out, sizeof(out), &len, err, sizeof(err)) < 0) {
		return error_failf(error_r, "cannot encode as modified UTF-7: %s",
				   err);
	}
	*out_r = mm_memdup(out, len + 1);
	return 0;
}
