/*
 * NAME
 *	fuzz_imap_append 1
 * SUMMARY
 *	libFuzzer target: what OLD sends that becomes NEW's APPEND
 * DESCRIPTION
 *	The input is OLD's answer to the message listing, framed as for
 *	fuzz_imap_parse (lines end at LF, a CR before it dropped; a
 *	literal's N bytes follow its line), and it takes the driver's
 *	path: every literal is kept (imap_driver's listing has no literal
 *	handler), each "* n FETCH (...)" goes through
 *	imap_message_from_fetch(), and each message read is built into
 *	APPEND (with and without LITERAL+), MULTIAPPEND and UID STORE
 *	arguments as imap_driver builds them.
 *
 *	Checked here, with checks of its own rather than the code's, and
 *	aborting on a violation: the command line (all of it is outside
 *	the literal) holds no CR, LF, NUL or other control byte and has
 *	the shape '(' flags ')' [SP date] SP '{' size ['+'] '}'; the date
 *	is RFC 3501's date-time; every flag is a system flag or an atom;
 *	a message read is never refused by the builder. Crashes, leaks and
 *	sanitizer reports are bugs too.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "imap_message.h"
#include "imap_parse.h"
#include "mm_alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void violation(const char *what, const char *text)
{
	fprintf(stderr, "fuzz_imap_append: %s: '%s'\n", what, text);
	abort();
}

/* An RFC 3501 ATOM-CHAR, and not '[' (what the builder promises). */
static int oracle_atom_char(unsigned char c)
{
	static const char specials[] = "(){%*\"\\][";

	return c > 0x20 && c < 0x7f && memchr(specials, c, sizeof(specials) - 1) == NULL;
}

/* date-time's contents: "dd-Mon-yyyy hh:mm:ss +zzzz", day " d" too. */
static int oracle_date(const char *s, size_t len)
{
	static const char shape[] = "DD-MMM-dddd dd:dd:dd sdddd";
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int month = 0;

	if (len != sizeof(shape) - 1)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		switch (shape[i]) {
		case 'D':
			if (!((c >= '0' && c <= '9') || (i == 0 && c == ' ')))
				return 0;
			break;
		case 'd':
			if (c < '0' || c > '9')
				return 0;
			break;
		case 'M':
			if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
				return 0;
			break;
		case 's':
			if (c != '+' && c != '-')
				return 0;
			break;
		default:
			if (c != shape[i])
				return 0;
		}
	}
	for (size_t m = 0; m < 36; m += 3)
		if ((s[3] | 0x20) == (months[m] | 0x20) && (s[4] | 0x20) == months[m + 1] &&
		    (s[5] | 0x20) == months[m + 2])
			month = 1;
	return month;
}

/* One flag of a list built for NEW. */
static int oracle_flag(const char *s, size_t len)
{
	static const char *const system[] = {
		"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft",
	};

	for (size_t i = 0; i < 5; i++)
		if (strlen(system[i]) == len && memcmp(s, system[i], len) == 0)
			return 1;
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!oracle_atom_char((unsigned char)s[i]))
			return 0;
	return 1;
}

/* "(f1 f2)" at s: the length taken, or 0 if it is not a flag list. */
static size_t oracle_flag_list(const char *s)
{
	size_t pos = 1;

	if (s[0] != '(')
		return 0;
	while (s[pos] != ')') {
		size_t start = pos;

		while (s[pos] != ' ' && s[pos] != ')' && s[pos] != '\0')
			pos++;
		if (s[pos] == '\0' || !oracle_flag(s + start, pos - start))
			return 0;
		if (s[pos] == ' ') {
			pos++;
			if (s[pos] == ')')
				return 0;
		}
	}
	return pos + 1;
}

/* What follows the folder in APPEND: flags, date, literal announcement. */
static void check_append_args(const char *args, const struct driver_message *msg,
			      int plus)
{
	char want[32];
	const char *p;
	size_t n;

	for (p = args; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			violation("control byte in the command line", args);
	if ((n = oracle_flag_list(args)) == 0)
		violation("not a flag list of atoms", args);
	p = args + n;
	if (p[0] == ' ' && p[1] == '"') {
		const char *end = strchr(p + 2, '"');

		if (end == NULL || !oracle_date(p + 2, (size_t)(end - (p + 2))))
			violation("not an RFC 3501 date-time", args);
		if (msg->internaldate[0] == '\0')
			violation("a date where the message has none", args);
		p = end + 1;
	} else if (msg->internaldate[0] != '\0') {
		violation("the message's date left out", args);
	}
	snprintf(want, sizeof(want), " {%llu%s}", (unsigned long long)msg->size,
		 plus ? "+" : "");
	if (strcmp(p, want) != 0)
		violation("not ending in the literal announcement", args);
}

/* A message as imap_driver reads it: check it and what is built of it. */
static void check_message(const struct driver_message *msg)
{
	const char *error;
	char *out;

	if (msg->internaldate[0] != '\0' &&
	    !oracle_date(msg->internaldate, strlen(msg->internaldate)))
		violation("a date kept that is not date-time", msg->internaldate);
	for (size_t i = 0; i < msg->keywords_count; i++) {
		const char *k = msg->keywords[i];

		if (k[0] == '\\' || !oracle_flag(k, strlen(k)))
			violation("a keyword kept that is not an atom", k);
	}
	for (int plus = 0; plus < 2; plus++) {
		if (imap_message_append_args(msg, msg->size, plus, &out, &error) < 0)
			violation("a message read is refused by the builder", error);
		check_append_args(out, msg, plus);
		mm_free(&out);
	}
	if (imap_message_flag_list(msg, &out, &error) < 0)
		violation("flags read are refused by the builder", error);
	if (oracle_flag_list(out) != strlen(out))
		violation("UID STORE flags are not a flag list", out);
	mm_free(&out);
}

/* A complete response: if it is a FETCH, take the driver's path. */
static void check_response(struct imap_parser *p)
{
	const struct imap_arg *args;
	struct driver_message msg;
	enum stream_fail fail;
	const char *error;
	unsigned dropped;
	size_t count;

	args = imap_parser_args(p, &count);
	if (strcmp(imap_parser_tag(p), "*") != 0 || count != 3 ||
	    !imap_arg_is_atom(&args[1], "FETCH"))
		return;
	if (imap_message_from_fetch(&args[2], &msg, &dropped, &fail, &error) < 0) {
		if (fail != STREAM_FAIL_FINAL || msg.keywords != NULL)
			violation("a refusal not final, or not cleared", error);
		return;
	}
	check_message(&msg);
	driver_message_clear(&msg);
}

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
			st = imap_parser_feed_literal(p, in + pos, (size_t)n);
			pos += (size_t)n;
			if (st == IMAP_PARSE_NEED_LINE)
				break;
		}
		if (st == IMAP_PARSE_DONE)
			check_response(p);
		else if (st == IMAP_PARSE_ERROR)
			imap_parser_reset(p);
	}
out:
	imap_parser_free(&p);
	return 0;
}
