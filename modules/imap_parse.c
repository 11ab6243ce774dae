/*
 * NAME
 *	imap_parse 3
 * SUMMARY
 *	bounded parser for IMAP server responses
 * DESCRIPTION
 *	A stack of argument vectors follows the list nesting, so a
 *	response split by literals resumes where it stopped. Lists close
 *	into their parent; the response is done when a line ends with
 *	every list closed and no literal pending.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "imap_parse.h"
#include "mm_alloc.h"

#define IMAP_TAG_MAX 64

struct imap_vec {
	struct imap_arg *items;
	size_t count, alloc;
	char close;		/* ')' for a list, ']' for a response code */
};

enum imap_state {
	IMAP_STATE_TAG,		/* nothing yet */
	IMAP_STATE_ARGS,	/* in the arguments */
	IMAP_STATE_LITERAL,	/* waiting for the literal */
	IMAP_STATE_DONE,
	IMAP_STATE_ERROR,
};

struct imap_parser {
	struct imap_parse_limits limits;
	enum imap_state state;
	char tag[IMAP_TAG_MAX + 1];
	struct imap_vec *stack;	/* stack[0] is the response itself */
	size_t depth;
	size_t args_total;
	size_t kept;
	uint64_t literal_size;
	int literal_plus;
	int status_response;	/* OK/NO/BAD/PREAUTH/BYE or "+": text follows */
	char *text;
	char error[256];
};

static const struct imap_parse_limits imap_default_limits = {
	.max_args = 4096,
	.max_depth = 16,
	.max_kept = 1 << 20,
	.max_literal = 2ULL << 30,
};

static void imap_arg_free(struct imap_arg *arg)
{
	mm_free(&arg->str);
	for (size_t i = 0; i < arg->count; i++)
		imap_arg_free(&arg->list[i]);
	mm_free(&arg->list);
	arg->count = 0;
}

static void imap_vec_free(struct imap_vec *vec)
{
	for (size_t i = 0; i < vec->count; i++)
		imap_arg_free(&vec->items[i]);
	mm_free(&vec->items);
	vec->count = vec->alloc = 0;
}

struct imap_parser *imap_parser_new(const struct imap_parse_limits *limits)
{
	struct imap_parser *p = mm_calloc(1, sizeof(*p));

	p->limits = limits != NULL ? *limits : imap_default_limits;
	if (p->limits.max_depth == 0)
		p->limits.max_depth = 1;
	p->stack = mm_calloc(p->limits.max_depth + 1, sizeof(*p->stack));
	return p;
}

void imap_parser_reset(struct imap_parser *p)
{
	for (size_t i = 0; i <= p->depth; i++)
		imap_vec_free(&p->stack[i]);
	p->depth = 0;
	p->stack[0].close = '\0';
	p->state = IMAP_STATE_TAG;
	p->tag[0] = '\0';
	p->args_total = p->kept = 0;
	p->literal_size = 0;
	p->literal_plus = 0;
	p->status_response = 0;
	mm_free(&p->text);
	p->error[0] = '\0';
}

void imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;

	if (p == NULL)
		return;
	imap_parser_reset(p);
	mm_free(&p->stack);
	mm_free(pp);
}

/* Enter the error state with a message; returns IMAP_PARSE_ERROR. */
static enum imap_parse_status imap_fail(struct imap_parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static enum imap_parse_status imap_fail(struct imap_parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
	p->state = IMAP_STATE_ERROR;
	return IMAP_PARSE_ERROR;
}

/* Append an argument to the innermost open vector; NULL over a limit. */
static struct imap_arg *imap_push(struct imap_parser *p)
{
	struct imap_vec *vec = &p->stack[p->depth];
	struct imap_arg *arg;

	if (p->args_total >= p->limits.max_args)
		return NULL;
	if (vec->count == vec->alloc) {
		vec->alloc = vec->alloc == 0 ? 8 : vec->alloc * 2;
		vec->items = mm_reallocarray(vec->items, vec->alloc, sizeof(*vec->items));
	}
	arg = &vec->items[vec->count++];
	memset(arg, 0, sizeof(*arg));
	p->args_total++;
	return arg;
}

/* Count bytes kept in memory against the limit. */
static int imap_keep(struct imap_parser *p, size_t n)
{
	if (n > p->limits.max_kept || p->kept > p->limits.max_kept - n)
		return -1;
	p->kept += n;
	return 0;
}

static int imap_atom_char(unsigned char c, char close)
{
	if (c <= 0x20 || c == 0x7f)
		return 0;
	if (c == '(' || c == ')' || c == '{' || c == '"')
		return 0;
	if (c == ']' && close == ']')
		return 0;
	return 1;
}

/* Parse the text after a status atom: optional "[code]", then text. */
static enum imap_parse_status imap_status_text(struct imap_parser *p,
					       const char *line, size_t len,
					       size_t *pos);

static enum imap_parse_status imap_parse_args(struct imap_parser *p,
					      const char *line, size_t len,
					      size_t pos)
{
	while (pos < len) {
		unsigned char c = (unsigned char)line[pos];
		struct imap_vec *top = &p->stack[p->depth];

		if (c == ' ') {
			pos++;
			continue;
		}
		if (c == '(' || (c == '[' && p->status_response && p->depth == 0 &&
				 top->count == 1)) {
			struct imap_arg *arg;

			if (p->depth >= p->limits.max_depth)
				return imap_fail(p, "lists nested over %zu deep at byte %zu",
						 p->limits.max_depth, pos);
			if ((arg = imap_push(p)) == NULL)
				return imap_fail(p, "over %zu arguments at byte %zu",
						 p->limits.max_args, pos);
			arg->type = IMAP_ARG_LIST;
			/* Reserve the slot; children build on the stack. */
			p->depth++;
			memset(&p->stack[p->depth], 0, sizeof(p->stack[p->depth]));
			p->stack[p->depth].close = c == '(' ? ')' : ']';
			pos++;
			continue;
		}
		if (c == ')' || (c == ']' && top->close == ']')) {
			struct imap_vec done;
			struct imap_arg *slot;

			if (p->depth == 0 || top->close != (char)c)
				return imap_fail(p, "unexpected '%c' at byte %zu", c, pos);
			done = *top;
			p->depth--;
			slot = &p->stack[p->depth].items[p->stack[p->depth].count - 1];
			slot->list = done.items;
			slot->count = done.count;
			pos++;
			if (c == ']') {
				/* The response code is over; the rest is text. */
				if (pos < len && line[pos] == ' ')
					pos++;
				mm_free(&p->text);
				p->text = mm_strndup(line + pos, len - pos);
				return IMAP_PARSE_DONE;
			}
			continue;
		}
		if (c == '"') {
			struct imap_arg *arg;
			char *out;
			size_t n = 0, start = ++pos;

			/* First find the end and the unescaped length. */
			for (; pos < len && line[pos] != '"'; pos++, n++) {
				if (line[pos] == '\\') {
					if (pos + 1 >= len ||
					    (line[pos + 1] != '\\' && line[pos + 1] != '"'))
						return imap_fail(p, "bad escape in quoted string "
								 "at byte %zu", pos);
					pos++;
				}
			}
			if (pos >= len)
				return imap_fail(p, "unterminated quoted string at byte %zu",
						 start - 1);
			if (imap_keep(p, n + 1) < 0)
				return imap_fail(p, "response keeps over %zu bytes",
						 p->limits.max_kept);
			if ((arg = imap_push(p)) == NULL)
				return imap_fail(p, "over %zu arguments at byte %zu",
						 p->limits.max_args, start - 1);
			arg->type = IMAP_ARG_STRING;
			arg->str = out = mm_malloc(n + 1);
			arg->len = n;
			for (size_t i = start; i < pos; i++) {
				if (line[i] == '\\')
					i++;
				*out++ = line[i];
			}
			*out = '\0';
			pos++;
			continue;
		}
		if (c == '{') {
			uint64_t size = 0;
			size_t start = pos++;
			int digits = 0, plus = 0;

			for (; pos < len && isdigit((unsigned char)line[pos]); pos++) {
				unsigned d = (unsigned)(line[pos] - '0');

				if (size > (UINT64_MAX - d) / 10)
					return imap_fail(p, "literal size overflows at byte %zu",
							 start);
				size = size * 10 + d;
				digits++;
			}
			if (pos < len && line[pos] == '+') {
				plus = 1;
				pos++;
			}
			if (digits == 0 || pos >= len || line[pos] != '}' || pos + 1 != len)
				return imap_fail(p, "bad literal announcement at byte %zu",
						 start);
			if (size > p->limits.max_literal)
				return imap_fail(p, "literal of %llu bytes over the limit of "
						 "%llu at byte %zu", (unsigned long long)size,
						 (unsigned long long)p->limits.max_literal, start);
			p->literal_size = size;
			p->literal_plus = plus;
			p->state = IMAP_STATE_LITERAL;
			return IMAP_PARSE_LITERAL;
		}
		if (imap_atom_char(c, top->close)) {
			struct imap_arg *arg;
			size_t start = pos;
			int brackets = 0;

			/* An atom; "BODY[...]" may hold spaces and parens. */
			for (; pos < len; pos++) {
				unsigned char a = (unsigned char)line[pos];

				if (a == '[' && top->close != ']') {
					brackets++;
				} else if (a == ']' && brackets > 0) {
					brackets--;
				} else if (brackets > 0) {
					if (a < 0x20 || a == 0x7f)
						break;
				} else if (!imap_atom_char(a, top->close)) {
					break;
				}
			}
			if (brackets > 0)
				return imap_fail(p, "unterminated '[' in atom at byte %zu",
						 start);
			if (imap_keep(p, pos - start + 1) < 0)
				return imap_fail(p, "response keeps over %zu bytes",
						 p->limits.max_kept);
			if ((arg = imap_push(p)) == NULL)
				return imap_fail(p, "over %zu arguments at byte %zu",
						 p->limits.max_args, start);
			if (pos - start == 3 && strncasecmp(line + start, "NIL", 3) == 0) {
				arg->type = IMAP_ARG_NIL;
			} else {
				arg->type = IMAP_ARG_ATOM;
				arg->str = mm_strndup(line + start, pos - start);
				arg->len = pos - start;
			}
			/* A status atom first: the rest of the line is text. */
			if (p->depth == 0 && p->stack[0].count == 1 &&
			    !p->status_response && arg->type == IMAP_ARG_ATOM &&
			    (strcasecmp(arg->str, "OK") == 0 || strcasecmp(arg->str, "NO") == 0 ||
			     strcasecmp(arg->str, "BAD") == 0 || strcasecmp(arg->str, "BYE") == 0 ||
			     strcasecmp(arg->str, "PREAUTH") == 0)) {
				p->status_response = 1;
				return imap_status_text(p, line, len, &pos);
			}
			continue;
		}
		return imap_fail(p, "unexpected byte 0x%02x at byte %zu", c, pos);
	}
	if (p->depth > 0)
		return imap_fail(p, "line ends inside a %s",
				 p->stack[p->depth].close == ']' ? "response code" : "list");
	return IMAP_PARSE_DONE;
}

static enum imap_parse_status imap_status_text(struct imap_parser *p,
					       const char *line, size_t len,
					       size_t *pos)
{
	if (*pos < len && line[*pos] != ' ')
		return imap_fail(p, "no space after the status at byte %zu", *pos);
	if (*pos < len)
		(*pos)++;
	if (*pos < len && line[*pos] == '[') {
		/* The code is parsed as a list; its ']' sets the text. */
		return imap_parse_args(p, line, len, *pos);
	}
	mm_free(&p->text);
	p->text = mm_strndup(line + *pos, len - *pos);
	return IMAP_PARSE_DONE;
}

enum imap_parse_status imap_parser_feed_line(struct imap_parser *p,
					     const char *line, size_t len)
{
	enum imap_parse_status st;
	size_t pos = 0;

	if (p->state == IMAP_STATE_ERROR)
		return IMAP_PARSE_ERROR;
	if (p->state == IMAP_STATE_DONE)
		imap_parser_reset(p);
	if (p->state == IMAP_STATE_LITERAL)
		return imap_fail(p, "a line was fed where a literal was due");
	if (memchr(line, '\0', len) != NULL)
		return imap_fail(p, "NUL byte in response at byte %zu",
				 (size_t)((const char *)memchr(line, '\0', len) - line));
	if (p->state == IMAP_STATE_TAG) {
		while (pos < len && line[pos] != ' ')
			pos++;
		if (pos == 0 || pos > IMAP_TAG_MAX)
			return imap_fail(p, "bad tag (%zu bytes) at byte 0", pos);
		memcpy(p->tag, line, pos);
		p->tag[pos] = '\0';
		for (size_t i = 0; i < pos; i++)
			if (!imap_atom_char((unsigned char)line[i], '\0') && line[i] != '+')
				return imap_fail(p, "bad character in tag at byte %zu", i);
		p->state = IMAP_STATE_ARGS;
		if (pos < len)
			pos++;
		if (strcmp(p->tag, "+") == 0) {
			p->status_response = 1;
			p->text = mm_strndup(line + pos, len - pos);
			p->state = IMAP_STATE_DONE;
			return IMAP_PARSE_DONE;
		}
		/* A tagged response must start with a status. */
		if (strcmp(p->tag, "*") != 0) {
			size_t end = pos;

			while (end < len && line[end] != ' ')
				end++;
			if (!((end - pos == 2 && (strncasecmp(line + pos, "OK", 2) == 0 ||
						  strncasecmp(line + pos, "NO", 2) == 0)) ||
			      (end - pos == 3 && strncasecmp(line + pos, "BAD", 3) == 0)))
				return imap_fail(p, "tagged response without OK/NO/BAD "
						 "at byte %zu", pos);
		}
	}
	st = imap_parse_args(p, line, len, pos);
	if (st == IMAP_PARSE_DONE)
		p->state = IMAP_STATE_DONE;
	return st;
}

uint64_t imap_parser_literal_size(const struct imap_parser *p)
{
	return p->literal_size;
}

int imap_parser_literal_plus(const struct imap_parser *p)
{
	return p->literal_plus;
}

/* The literal is in: the response goes on with the next line. */
static enum imap_parse_status imap_after_literal(struct imap_parser *p)
{
	p->state = IMAP_STATE_ARGS;
	return IMAP_PARSE_NEED_LINE;
}

const char *imap_parser_literal_key(const struct imap_parser *p)
{
	const struct imap_vec *top = &p->stack[p->depth];

	if (p->state != IMAP_STATE_LITERAL || top->count == 0 ||
	    top->items[top->count - 1].type != IMAP_ARG_ATOM)
		return NULL;
	return top->items[top->count - 1].str;
}

enum imap_parse_status imap_parser_feed_literal(struct imap_parser *p,
						const void *data, size_t len)
{
	struct imap_arg *arg;

	if (p->state != IMAP_STATE_LITERAL)
		return imap_fail(p, "a literal was fed where none was due");
	if ((uint64_t)len != p->literal_size)
		return imap_fail(p, "literal of %zu bytes fed, %llu announced", len,
				 (unsigned long long)p->literal_size);
	if (imap_keep(p, len + 1) < 0)
		return imap_fail(p, "literal of %zu bytes over the %zu bytes kept "
				 "per response", len, p->limits.max_kept);
	if ((arg = imap_push(p)) == NULL)
		return imap_fail(p, "over %zu arguments", p->limits.max_args);
	arg->type = IMAP_ARG_STRING;
	arg->str = mm_malloc(len + 1);
	memcpy(arg->str, data, len);
	arg->str[len] = '\0';
	arg->len = len;
	arg->literal = 1;
	return imap_after_literal(p);
}

enum imap_parse_status imap_parser_literal_streamed(struct imap_parser *p)
{
	struct imap_arg *arg;

	if (p->state != IMAP_STATE_LITERAL)
		return imap_fail(p, "a literal was streamed where none was due");
	if ((arg = imap_push(p)) == NULL)
		return imap_fail(p, "over %zu arguments", p->limits.max_args);
	arg->type = IMAP_ARG_LITERAL_STREAMED;
	arg->literal_size = p->literal_size;
	return imap_after_literal(p);
}

const struct imap_arg *imap_parser_literal_siblings(const struct imap_parser *p,
						   size_t *count_r)
{
	const struct imap_vec *top = &p->stack[p->depth];

	*count_r = p->state == IMAP_STATE_LITERAL ? top->count : 0;
	return *count_r > 0 ? top->items : NULL;
}

const char *imap_parser_error(const struct imap_parser *p)
{
	return p->error[0] != '\0' ? p->error : "no error";
}

const char *imap_parser_tag(const struct imap_parser *p)
{
	return p->tag;
}

const struct imap_arg *imap_parser_args(const struct imap_parser *p,
					size_t *count_r)
{
	*count_r = p->stack[0].count;
	return p->stack[0].items;
}

const char *imap_parser_text(const struct imap_parser *p)
{
	return p->text != NULL ? p->text : "";
}

int imap_arg_is_atom(const struct imap_arg *arg, const char *atom)
{
	return arg->type == IMAP_ARG_ATOM && strcasecmp(arg->str, atom) == 0;
}

int imap_arg_get_u64(const struct imap_arg *arg, uint64_t *value_r)
{
	uint64_t v = 0;

	if (arg->type != IMAP_ARG_ATOM || arg->len == 0 || arg->len > 20)
		return -1;
	for (size_t i = 0; i < arg->len; i++) {
		unsigned d;

		if (!isdigit((unsigned char)arg->str[i]))
			return -1;
		d = (unsigned)(arg->str[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*value_r = v;
	return 0;
}

int imap_arg_get_u32(const struct imap_arg *arg, uint32_t *value_r)
{
	uint64_t v;

	if (imap_arg_get_u64(arg, &v) < 0 || v > UINT32_MAX)
		return -1;
	*value_r = (uint32_t)v;
	return 0;
}

int imap_arg_get_modseq(const struct imap_arg *arg, uint64_t *value_r)
{
	uint64_t v;

	if (imap_arg_get_u64(arg, &v) < 0 || v == 0 || v > INT64_MAX)
		return -1;
	*value_r = v;
	return 0;
}

const char *imap_arg_get_astring(const struct imap_arg *arg)
{
	if (arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_STRING)
		return arg->str;
	return NULL;
}
