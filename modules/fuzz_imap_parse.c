/*
 * NAME
 *	fuzz_imap_parse 1
 * SUMMARY
 *	libFuzzer target: the IMAP response parser
 * DESCRIPTION
 *	The input is a server's byte stream: lines end at LF (a CR before
 *	it is dropped); when the parser asks for a literal, the next N
 *	bytes are handed over whole, or streamed when N is odd, so both
 *	paths are covered. Any crash, leak or sanitizer report is a bug.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "imap_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parse_limits limits = { .max_args = 256, .max_depth = 8,
					    .max_kept = 4096, .max_literal = 1 << 20 };
	struct imap_parser *p = imap_parser_new(&limits);
	const char *in = (const char *)data;
	size_t pos = 0;

	while (pos < size) {
		const char *nl = memchr(in + pos, '\n', size - pos);
		size_t len = nl != NULL ? (size_t)(nl - (in + pos)) : size - pos;
		enum imap_parse_status st;

		st = imap_parser_feed_line(p, in + pos, len > 0 && in[pos + len - 1] == '\r' ?
					   len - 1 : len);
		pos += len + (nl != NULL);
		while (st == IMAP_PARSE_LITERAL) {
			uint64_t n = imap_parser_literal_size(p);

			if (n > size - pos)
				goto out;
			if (n % 2 == 1)
				st = imap_parser_literal_streamed(p);
			else
				st = imap_parser_feed_literal(p, in + pos, (size_t)n);
			pos += (size_t)n;
			if (st == IMAP_PARSE_NEED_LINE)
				break;
		}
		if (st == IMAP_PARSE_ERROR)
			imap_parser_reset(p);
	}
out:
	imap_parser_free(&p);
	return 0;
}
