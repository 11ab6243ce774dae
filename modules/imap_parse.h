/*
 * NAME
 *	imap_parse 3h
 * SUMMARY
 *	bounded parser for IMAP server responses (RFC 3501, RFC 7888)
 * DESCRIPTION
 *	The client reads a response line by line. A line that ends in a
 *	literal announcement "{N}" (or "{N+}") is fed to the parser, which
 *	asks for the literal: the caller either hands over the N bytes
 *	(small literals: folder names, headers) or, for message bodies,
 *	streams them elsewhere in bounded chunks and tells the parser it
 *	did (the argument then records only the size). The caller then
 *	reads and feeds the rest of the response, until the parser says
 *	the response is complete.
 *
 *	Every dimension is bounded: line length is the caller's reader's
 *	limit; here, the number of arguments, the nesting depth, the size
 *	of a literal kept in memory and the total kept per response. Bad
 *	input yields IMAP_PARSE_ERROR with a message naming what and where
 *	(the byte offset in the line), and the connection is to be dropped.
 */
#ifndef MM_IMAP_PARSE_H
#define MM_IMAP_PARSE_H

#include <stddef.h>
#include <stdint.h>

enum imap_arg_type {
	IMAP_ARG_NIL,
	IMAP_ARG_ATOM,		/* also numbers and flags like \Seen */
	IMAP_ARG_STRING,	/* quoted or literal kept in memory */
	IMAP_ARG_LITERAL_STREAMED, /* literal sent elsewhere: size only */
	IMAP_ARG_LIST,
};

struct imap_arg {
	enum imap_arg_type type;
	char *str;		/* ATOM, STRING: NUL-terminated, len bytes */
	size_t len;
	int literal;		/* STRING: it came as a literal, not quoted */
	uint64_t literal_size;	/* LITERAL_STREAMED */
	struct imap_arg *list;	/* LIST: count children */
	size_t count;
	/* Text after a resp-text-code or status: the rest of the line. */
};

struct imap_parse_limits {
	size_t max_args;	/* arguments in all, lists included */
	size_t max_depth;	/* list nesting */
	size_t max_kept;	/* bytes of strings kept per response */
	uint64_t max_literal;	/* largest literal announced at all */
};

enum imap_parse_status {
	IMAP_PARSE_DONE,	/* the response is complete */
	IMAP_PARSE_LITERAL,	/* a literal follows: see imap_parser_literal_size() */
	IMAP_PARSE_NEED_LINE,	/* literal taken: feed the line that follows */
	IMAP_PARSE_ERROR,	/* malformed or over a limit */
};

struct imap_parser;

/* limits NULL: the defaults (4096 args, depth 16, 1 MiB kept,
 * 2 GiB literal). */
struct imap_parser *imap_parser_new(const struct imap_parse_limits *limits);
void imap_parser_free(struct imap_parser **parser);
/* Forget the current response; start a new one. */
void imap_parser_reset(struct imap_parser *parser);

/* Feed one line (without CRLF). For the first line of a response the
 * tag ("*", "+" or a command tag) is split off first. */
enum imap_parse_status imap_parser_feed_line(struct imap_parser *parser,
					     const char *line, size_t len);
/* Size of the literal asked for. */
uint64_t imap_parser_literal_size(const struct imap_parser *parser);
/* Was it "{N+}" (non-synchronising)? */
int imap_parser_literal_plus(const struct imap_parser *parser);
/* Hand over the whole literal (len must equal the size announced).
 * Returns IMAP_PARSE_NEED_LINE or IMAP_PARSE_ERROR. */
enum imap_parse_status imap_parser_feed_literal(struct imap_parser *parser,
						const void *data, size_t len);
/* The literal was consumed by the caller (streamed): record its size.
 * Returns IMAP_PARSE_NEED_LINE or IMAP_PARSE_ERROR. */
enum imap_parse_status imap_parser_literal_streamed(struct imap_parser *parser);

/* While a literal is due: the atom just before it in the same list
 * (such as "BODY[]" or "RFC822.TEXT"), or NULL. */
const char *imap_parser_literal_key(const struct imap_parser *parser);

/* While a literal is due: the arguments before it in the innermost
 * open list (in "* 5 FETCH (UID 7 BODY[] {n}": UID, 7, BODY[]). */
const struct imap_arg *imap_parser_literal_siblings(const struct imap_parser *parser,
						   size_t *count_r);

/* After IMAP_PARSE_ERROR: what and where. */
const char *imap_parser_error(const struct imap_parser *parser);

/* After IMAP_PARSE_DONE: */
const char *imap_parser_tag(const struct imap_parser *parser);	/* "*", "+", "A1" */
/* The arguments after the tag. For "A1 OK [code] text" and "* OK ..."
 * the status atom is args[0]; a "[...]" response code is parsed as a
 * list; the human text after it is imap_parser_text(). */
const struct imap_arg *imap_parser_args(const struct imap_parser *parser,
					size_t *count_r);
/* For status responses (OK/NO/BAD/PREAUTH/BYE) and "+": the resp-text,
 * raw, after any response code. "" when none. */
const char *imap_parser_text(const struct imap_parser *parser);

/* Helpers for reading args. */
int imap_arg_is_atom(const struct imap_arg *arg, const char *atom); /* case-insensitive */
/* An nz-number or number (uint32) from an atom: 0 ok, -1 not one. */
int imap_arg_get_u32(const struct imap_arg *arg, uint32_t *value_r);
int imap_arg_get_u64(const struct imap_arg *arg, uint64_t *value_r);
/* A mod-sequence-value (RFC 7162: 1 to 2^63-1) from an atom: 0 ok,
 * -1 not one (zero, a sign, over 63 bits). */
int imap_arg_get_modseq(const struct imap_arg *arg, uint64_t *value_r);
/* ATOM or STRING contents (NIL gives NULL). */
const char *imap_arg_get_astring(const struct imap_arg *arg);

#endif
