/*
 * NAME
 *	fuzz_alias_tally 1
 * SUMMARY
 *	libFuzzer target: the header scan that gathers an account's aliases
 * DESCRIPTION
 *	The input is a mailbox as the puller copies it: its first byte
 *	picks the access_mode (bit 0: standard or extended) and seeds the
 *	chunking, the rest is messages separated by two NUL bytes. Each
 *	message goes through alias_tally_begin/feed/end in chunks of 1 to
 *	4096 bytes, as the target's body reads hand them over, and through
 *	a second tally in one piece: both must select the same addresses
 *	in the same order (where a read splits the header must not change
 *	what is found). Every address given, by the tally or by
 *	mail_header_addresses() over the whole message, must be one
 *	lowercase "local@domain" within MAIL_HEADER_MAX_ADDRESS. Any
 *	crash, leak, sanitizer report or broken rule is a bug.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "alias_tally.h"
#include "mail_header.h"

#define ACCOUNT "user@example.com"

struct picked {
	char addr[ALIAS_TALLY_MAX][MAIL_HEADER_MAX_ADDRESS + 1];
	size_t count;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Trap unless addr is one lowercase addr-spec with a single '@'. */
static void check_address(const char *addr)
{
	size_t n = strlen(addr);
	const char *at = strchr(addr, '@');

	if (n == 0 || n > MAIL_HEADER_MAX_ADDRESS || at == NULL || at == addr ||
	    at[1] == '\0' || strchr(at + 1, '@') != NULL)
		__builtin_trap();
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)addr[i];

		if (ch <= ' ' || ch == 0x7f || (ch >= 'A' && ch <= 'Z') ||
		    strchr("<>,:;\"()", ch) != NULL)
			__builtin_trap();
	}
}

static void scanned(enum mail_header_source src, const char *addr, void *ctx)
{
	if ((unsigned)src > MAIL_HEADER_RECEIVED_FOR)
		__builtin_trap();
	check_address(addr);
}

/* A domain check like the puller's: some addresses are not ours. */
static int accept_addr(const char *addr, void *ctx)
{
	return strchr(addr, '@')[1] != 'x';
}

static void pick(const char *addr, void *ctx)
{
	struct picked *p = ctx;

	check_address(addr);
	if (strcmp(addr, ACCOUNT) == 0 || p->count == ALIAS_TALLY_MAX)
		__builtin_trap();
	memcpy(p->addr[p->count++], addr, strlen(addr) + 1);
}

/* The next chunk size: mostly small, sometimes up to 4096 bytes. */
static size_t next_chunk(uint32_t *state)
{
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return (x & 3) == 0 ? 1 + (x >> 2) % 4096 : 1 + (x >> 2) % 16;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct picked chunked, whole;
	struct alias_tally *t, *ref;
	uint32_t state;
	size_t pos = 1;

	if (size == 0)
		return 0;
	state = 0x9e3779b9u ^ data[0];
	t = alias_tally_new(data[0] & 1 ? CFG_ACCESS_EXTENDED : CFG_ACCESS_STANDARD,
			    ACCOUNT);
	ref = alias_tally_new(data[0] & 1 ? CFG_ACCESS_EXTENDED : CFG_ACCESS_STANDARD,
			      ACCOUNT);
	while (pos < size) {
		const uint8_t *msg = data + pos, *end = data + size;
		size_t len = 0, off = 0;

		while (msg + len < end && !(msg[len] == '\0' && msg + len + 1 < end &&
					     msg[len + 1] == '\0'))
			len++;
		pos += len + 2;

		alias_tally_begin(t);
		while (off < len) {
			size_t n = next_chunk(&state);

			if (n > len - off)
				n = len - off;
			alias_tally_feed(t, msg + off, n);
			off += n;
		}
		alias_tally_end(t);

		alias_tally_begin(ref);
		alias_tally_feed(ref, msg, len);
		alias_tally_end(ref);

		mail_header_addresses((const char *)msg, len, scanned, NULL);
	}
	if (alias_tally_messages(t) != alias_tally_messages(ref))
		__builtin_trap();
	chunked.count = whole.count = 0;
	alias_tally_result(t, accept_addr, pick, &chunked);
	alias_tally_result(ref, accept_addr, pick, &whole);
	if (chunked.count != whole.count)
		__builtin_trap();
	for (size_t i = 0; i < chunked.count; i++)
		if (strcmp(chunked.addr[i], whole.addr[i]) != 0)
			__builtin_trap();
	alias_tally_free(&t);
	alias_tally_free(&ref);
	return 0;
}
