/*
 * NAME
 *	mutf7 3h
 * SUMMARY
 *	IMAP folder names: modified UTF-7 to UTF-8 and back
 * DESCRIPTION
 *	Modified UTF-7 (RFC 3501 5.1.3) is handled strictly both ways:
 *	only printable ASCII stands for itself, '&' is "&-", a shift
 *	holds minimal modified base64 (',' for '/', no padding, zero
 *	trailing bits, no second shift straight after the first), never
 *	printable ASCII, and well-formed UTF-16. Controls (U+0000 to
 *	U+001F, U+007F) are refused either way: no server takes them in
 *	a folder name. UTF-8 must be well formed (no overlong forms,
 *	surrogates or code points over U+10FFFF).
 *
 *	mutf7_to_utf8() and utf8_to_mutf7() convert a string into a new
 *	one; mutf7_decode() and mutf7_encode() write into the caller's
 *	buffer, for callers that work in fixed, bounded buffers
 *	(folder_map(3)). mutf7_utf8_get() is the strict UTF-8 decoder
 *	they use.
 * LIMITS
 *	MUTF7_MAX_TEXT bytes in and out of mutf7_to_utf8() and
 *	utf8_to_mutf7(); mutf7_decode() and mutf7_encode() write at most
 *	outsize - 1 bytes and a NUL.
 * DIAGNOSTICS
 *	mutf7_to_utf8() and utf8_to_mutf7() return -1 with *error_r
 *	set, kept as error(3h) says. mutf7_decode() and mutf7_encode() return
 *	-1 with the reason in the caller's err buffer. Errors give the
 *	byte offset of the fault in the input.
 */
#ifndef MM_MUTF7_H
#define MM_MUTF7_H

#include <stddef.h>
#include <stdint.h>

#define MUTF7_MAX_TEXT 4096

/* Decode modified UTF-7 to UTF-8.
 * @param in	at most MUTF7_MAX_TEXT bytes
 * @param out_r	on success, owned by the caller (free() or mm_free())
 * @return 0 or -1 with *error_r */
int mutf7_to_utf8(const char *in, char **out_r, const char **error_r);
/* Encode UTF-8 as modified UTF-7; the same contract. */
int utf8_to_mutf7(const char *in, char **out_r, const char **error_r);

/* Decode modified UTF-7 into out, NUL-terminated.
 * @param outsize	out's size; more than outsize - 1 bytes decoded
 *		is an error ("longer than N bytes decoded")
 * @param len_r	on success, the length written (the NUL not counted)
 * @param err	on -1, why, e.g. "unterminated shift at offset 3"
 * @return 0 or -1 */
int mutf7_decode(const char *in, char *out, size_t outsize, size_t *len_r,
		 char *err, size_t errsize);
/* Encode UTF-8 as modified UTF-7 into out; the same contract. */
int mutf7_encode(const char *in, char *out, size_t outsize, size_t *len_r,
		 char *err, size_t errsize);

/* Decode one UTF-8 code point at s, strictly (no overlong forms,
 * surrogates or code points over U+10FFFF). A NUL is never a
 * continuation byte, so this stops at the end of a string.
 * @param cp_r	the code point
 * @param len_r	its length in bytes
 * @return 0 or -1 when malformed */
int mutf7_utf8_get(const unsigned char *s, uint32_t *cp_r, size_t *len_r);

#endif
