/*
 * NAME
 *	imap_client 3
 * SUMMARY
 *	a synchronous IMAP client connection
 * DESCRIPTION
 *	Responses are read line by line into imap_parse(3); literals are
 *	offered to the command's handler (which streams message bodies)
 *	or kept when small. Tagged answers that arrive for a pipelined
 *	command other than the one waited for are remembered until asked.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "error.h"
#include "imap_client.h"
#include "log.h"
#include "mm_alloc.h"
#include "sasl_oauth.h"

#define IMAP_DONE_MAX 64	/* tagged answers kept for pipelined commands */

/* A pipelined command's answer, kept until asked for. */
struct imap_done {
	struct imap_answer answer;
};

struct imap_client {
	struct stream *stream;
	struct imap_parser *parser;
	size_t max_line;
	unsigned caps;
	uint64_t appendlimit;
	char capability[1024];	/* the atoms as sent, space-separated */
	unsigned next_tag;
	char greeting[200];
	struct imap_done done[IMAP_DONE_MAX];
	size_t done_count;
	/* The last tagged response's code, copied out of the parser. */
	struct imap_parser *last;
	int utf8_on;	/* ENABLE UTF8=ACCEPT confirmed (RFC 6855) */
	int condstore_on;	/* ENABLE CONDSTORE confirmed (RFC 7162) */
	int qresync_on;		/* ENABLE QRESYNC confirmed (RFC 7162) */
	char host[256];	/* as connected to, for OAUTHBEARER's host= */
	uint16_t port;
	/* The last tagged answer, its code read once. */
	struct imap_answer answer;
};

/* Server text, made printable and bounded for our messages: valid
 * until the next call (an argument, never kept). */
static const char *imap_printable(const char *text)
{
	static char buf[240];

	return log_printable(buf, sizeof(buf), text, strlen(text));
}

static const struct {
	const char *name;
	unsigned flag;
} imap_caps[] = {
	{ "IMAP4rev1", IMAP_CAP_IMAP4REV1 },
	{ "STARTTLS", IMAP_CAP_STARTTLS },
	{ "LITERAL+", IMAP_CAP_LITERALPLUS },
	{ "UIDPLUS", IMAP_CAP_UIDPLUS },
	{ "MULTIAPPEND", IMAP_CAP_MULTIAPPEND },
	{ "SASL-IR", IMAP_CAP_SASL_IR },
	{ "AUTH=PLAIN", IMAP_CAP_AUTH_PLAIN },
	{ "LOGINDISABLED", IMAP_CAP_LOGINDISABLED },
	{ "SPECIAL-USE", IMAP_CAP_SPECIAL_USE },
	{ "NAMESPACE", IMAP_CAP_NAMESPACE },
	{ "LIST-EXTENDED", IMAP_CAP_LIST_EXTENDED },
	{ "UTF8=ACCEPT", IMAP_CAP_UTF8_ACCEPT },
	{ "ID", IMAP_CAP_ID },
	{ "AUTH=XOAUTH2", IMAP_CAP_AUTH_XOAUTH2 },
	{ "AUTH=OAUTHBEARER", IMAP_CAP_AUTH_OAUTHBEARER },
	{ "STATUS=SIZE", IMAP_CAP_STATUS_SIZE },
	{ "ENABLE", IMAP_CAP_ENABLE },
	{ "CONDSTORE", IMAP_CAP_CONDSTORE },
	{ "QRESYNC", IMAP_CAP_QRESYNC },
	{ "ACL", IMAP_CAP_ACL },
};

/* Replace the capabilities with the atoms in args. */
static void imap_set_caps(struct imap_client *c, const struct imap_arg *args,
			  size_t count)
{
	size_t used = 0;

	c->caps = 0;
	c->appendlimit = 0;
	c->capability[0] = '\0';
	for (size_t i = 0; i < count; i++) {
		const char *name = imap_arg_get_astring(&args[i]);
		size_t len;

		if (name == NULL)
			continue;
		/* Kept whole or not at all, within the buffer. */
		len = strlen(name);
		if (used + len + 2 <= sizeof(c->capability)) {
			snprintf(c->capability + used, sizeof(c->capability) - used,
				 "%s%s", used > 0 ? " " : "", name);
			used += len + (used > 0 ? 1 : 0);
		}
		for (size_t j = 0; j < sizeof(imap_caps) / sizeof(imap_caps[0]); j++)
			if (strcasecmp(name, imap_caps[j].name) == 0)
				c->caps |= imap_caps[j].flag;
		/* LITERAL- (RFC 7888) is LITERAL+ up to 4096 bytes; we use it
		 * only for commands, not bodies: treat as absent. */
		if (strncasecmp(name, "APPENDLIMIT", 11) == 0) {
			c->caps |= IMAP_CAP_APPENDLIMIT;
			if (name[11] == '=')
				c->appendlimit = strtoull(name + 12, NULL, 10);
		}
	}
}

/* A response code [CAPABILITY ...] updates the capabilities. */
static void imap_check_code(struct imap_client *c, const struct imap_arg *args,
			    size_t count)
{
	if (count >= 2 && args[1].type == IMAP_ARG_LIST && args[1].count > 0 &&
	    imap_arg_is_atom(&args[1].list[0], "CAPABILITY"))
		imap_set_caps(c, args[1].list + 1, args[1].count - 1);
}

/* Read one whole response into c->parser, handing literals to h. */
static int imap_read_response(struct imap_client *c,
			      const struct imap_cmd_handlers *h,
			      enum stream_fail *fail_r, const char **error_r)
{
	enum imap_parse_status st;
	const char *line;
	size_t len;

	if (stream_read_line(c->stream, c->max_line, &line, &len, fail_r, error_r) < 0)
		return -1;
	st = imap_parser_feed_line(c->parser, line, len);
	while (st == IMAP_PARSE_LITERAL || st == IMAP_PARSE_NEED_LINE) {
		if (st == IMAP_PARSE_LITERAL) {
			uint64_t size = imap_parser_literal_size(c->parser);
			int taken = 0;

			if (h != NULL && h->literal != NULL) {
				taken = h->literal(c, imap_parser_literal_key(c->parser),
						   size, h->ctx, fail_r, error_r);
				if (taken < 0)
					return -1;
			}
			if (taken) {
				st = imap_parser_literal_streamed(c->parser);
			} else {
				char *buf;
				size_t got, done = 0;

				/* The parser refuses what is over its keep limit. */
				if (size > 1024 * 1024)
					return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
							 "unexpected literal of %llu bytes "
							 "from the server",
							 (unsigned long long)size);
				buf = mm_malloc((size_t)size + 1);
				while (done < size) {
					if (stream_read(c->stream, buf + done, (size_t)size - done,
							&got, fail_r, error_r) < 0) {
						mm_free(&buf);
						return -1;
					}
					done += got;
				}
				st = imap_parser_feed_literal(c->parser, buf, (size_t)size);
				mm_free(&buf);
			}
			continue;
		}
		if (stream_read_line(c->stream, c->max_line, &line, &len, fail_r,
				     error_r) < 0)
			return -1;
		st = imap_parser_feed_line(c->parser, line, len);
	}
	if (st == IMAP_PARSE_ERROR)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				 "malformed response from the server: %s",
				 imap_parser_error(c->parser));
	return 0;
}

static void imap_settings_defaults(const struct imap_client_settings *set,
				   struct imap_client_settings *out)
{
	*out = *set;
	if (out->port == 0)
		out->port = set->tls == CFG_TLS_DIRECT ? 993 : 143;
	if (out->connect_timeout_ms == 0)
		out->connect_timeout_ms = 30000;
	if (out->timeout_ms == 0)
		out->timeout_ms = 120000;
	if (out->max_line == 0)
		out->max_line = 64 * 1024;
}

/* STARTTLS: the command, its OK, then the handshake. */
static int imap_starttls(struct imap_client *c, const struct imap_client_settings *set,
			 enum stream_fail *fail_r, const char **error_r)
{
	unsigned tag;
	enum imap_status status;

	if (imap_client_send(c, "STARTTLS", &tag, fail_r, error_r) < 0 ||
	    imap_client_wait(c, tag, NULL, &status, fail_r, error_r) < 0)
		return -1;
	if (status != IMAP_STATUS_OK)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				 "STARTTLS refused: %s", *error_r);
	if (stream_start_tls(c->stream, &set->tls_opts, fail_r, error_r) < 0)
		return -1;
	/* Capabilities before TLS are not to be trusted (RFC 3501 6.2.1). */
	return imap_client_run(c, "CAPABILITY", NULL, fail_r, error_r);
}

static int imap_caps_untagged(struct imap_client *c, const struct imap_arg *args,
			      size_t count, void *ctx, enum stream_fail *fail_r,
			      const char **error_r)
{
	if (count > 0 && imap_arg_is_atom(&args[0], "CAPABILITY"))
		imap_set_caps(c, args + 1, count - 1);
	return 0;
}

int imap_client_connect(const struct imap_client_settings *settings,
			struct imap_client **client_r, enum stream_fail *fail_r,
			const char **error_r)
{
	struct imap_client_settings set;
	struct imap_client *c;
	const struct imap_arg *args;
	const char *tag;
	size_t count;

	imap_settings_defaults(settings, &set);
	c = mm_calloc(1, sizeof(*c));
	c->max_line = set.max_line;
	c->parser = imap_parser_new(set.limits.max_args != 0 ? &set.limits : NULL);
	snprintf(c->host, sizeof(c->host), "%s", set.host);
	c->port = set.port;
	if (stream_connect(set.host, set.port, set.connect_timeout_ms, &c->stream,
			   fail_r, error_r) < 0)
		goto fail;
	stream_set_timeout(c->stream, set.timeout_ms);
	if (set.tls == CFG_TLS_DIRECT &&
	    stream_start_tls(c->stream, &set.tls_opts, fail_r, error_r) < 0)
		goto fail;
	if (imap_read_response(c, NULL, fail_r, error_r) < 0)
		goto fail;
	args = imap_parser_args(c->parser, &count);
	tag = imap_parser_tag(c->parser);
	/* "*" alone or a "+" continuation: no status word to look at
	 * (args is NULL when count is 0). */
	if (strcmp(tag, "+") == 0 || (strcmp(tag, "*") == 0 && count == 0)) {
		stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
			  "bad greeting from %s: '%s' without a status%s%s", set.host,
			  tag, *imap_parser_text(c->parser) != '\0' ? ": " : "",
			  imap_printable(imap_parser_text(c->parser)));
		goto fail;
	}
	if (strcmp(tag, "*") != 0 || count == 0 ||
	    !(imap_arg_is_atom(&args[0], "OK") || imap_arg_is_atom(&args[0], "PREAUTH"))) {
		stream_failf(fail_r, count > 0 && imap_arg_is_atom(&args[0], "BYE") ?
			  STREAM_FAIL_WAIT : STREAM_FAIL_FINAL, error_r,
			  "bad greeting from %s: %s",
			  set.host, imap_printable(imap_parser_text(c->parser)));
		goto fail;
	}
	snprintf(c->greeting, sizeof(c->greeting), "%s",
		 imap_printable(imap_parser_text(c->parser)));
	imap_check_code(c, args, count);
	if (c->caps == 0) {
		const struct imap_cmd_handlers h = { imap_caps_untagged, NULL, NULL };

		if (imap_client_run(c, "CAPABILITY", &h, fail_r, error_r) < 0)
			goto fail;
	}
	switch (set.tls) {
	case CFG_TLS_STARTTLS:
		if ((c->caps & IMAP_CAP_STARTTLS) == 0) {
			stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				  "%s does not offer STARTTLS, which source_tls = "
				  "starttls requires", set.host);
			goto fail;
		}
		/* fall through */
	case CFG_TLS_DETECT:
		if ((c->caps & IMAP_CAP_STARTTLS) != 0) {
			const struct imap_cmd_handlers h = { imap_caps_untagged, NULL, NULL };

			c->caps = 0;
			if (imap_starttls(c, &set, fail_r, error_r) < 0)
				goto fail;
			if (c->caps == 0 &&
			    imap_client_run(c, "CAPABILITY", &h, fail_r, error_r) < 0)
				goto fail;
		} else if (set.tls_seen != 0) {
			if (set.downgrade_r != NULL)
				*set.downgrade_r = 1;
			stream_fail_downgrade(fail_r, error_r, set.host, "STARTTLS",
					      set.tls_seen);
			goto fail;
		} else {
			log_warning("%s offers no STARTTLS: continuing without TLS "
				    "(source_tls = detect)", set.host);
		}
		break;
	case CFG_TLS_NONE:
	case CFG_TLS_DIRECT:
		break;
	}
	*client_r = c;
	return 0;
fail:
	imap_client_close(&c);
	return -1;
}

void imap_client_close(struct imap_client **cp)
{
	struct imap_client *c = *cp;

	if (c == NULL)
		return;
	stream_close(&c->stream);
	imap_parser_free(&c->parser);
	imap_parser_free(&c->last);
	mm_free(cp);
}

uint32_t imap_client_literal_uid(const struct imap_client *c)
{
	const struct imap_arg *args;
	size_t count;
	uint32_t uid = 0;

	args = imap_parser_literal_siblings(c->parser, &count);
	for (size_t i = 0; i + 1 < count; i++)
		if (imap_arg_is_atom(&args[i], "UID") &&
		    imap_arg_get_u32(&args[i + 1], &uid) == 0)
			return uid;
	return 0;
}

const char *imap_client_capability(const struct imap_client *c)
{
	return c->capability;
}

int imap_client_has_cap(const struct imap_client *c, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = c->capability; *p != '\0';) {
		const char *end = strchr(p, ' ');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

		/* NAME, or NAME=VALUE when name has no '=' itself. */
		if (strncasecmp(p, name, len) == 0 &&
		    (n == len || (p[len] == '=' && strchr(name, '=') == NULL)))
			return 1;
		p += n;
		while (*p == ' ')
			p++;
	}
	return 0;
}

unsigned imap_client_caps(const struct imap_client *c)
{
	return c->caps;
}

uint64_t imap_client_appendlimit(const struct imap_client *c)
{
	return c->appendlimit;
}

const char *imap_client_greeting(const struct imap_client *c)
{
	return c->greeting;
}

struct stream *imap_client_stream(struct imap_client *c)
{
	return c->stream;
}

unsigned imap_client_new_tag(struct imap_client *c)
{
	return ++c->next_tag;
}

int imap_client_send(struct imap_client *c, const char *command, unsigned *tag_r,
		     enum stream_fail *fail_r, const char **error_r)
{
	unsigned tag;

	/* One line, whatever went into it: a CR or LF would start a
	 * command of someone else's choosing. */
	if (strpbrk(command, "\r\n") != NULL)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "not sent: a command holding a line break");
	tag = ++c->next_tag;
	if (stream_printf(c->stream, fail_r, error_r, "M%u %s\r\n", tag, command) < 0 ||
	    stream_flush(c->stream, fail_r, error_r) < 0)
		return -1;
	*tag_r = tag;
	return 0;
}

/* Parse "M<n>" into n; 0 when it is not one of ours. */
static unsigned imap_tag_number(const char *tag)
{
	char *end;
	unsigned long n;

	if (tag[0] != 'M')
		return 0;
	n = strtoul(tag + 1, &end, 10);
	return *end == '\0' && n <= UINT32_MAX ? (unsigned)n : 0;
}

static enum imap_status imap_status_of(const struct imap_arg *arg)
{
	if (imap_arg_is_atom(arg, "OK"))
		return IMAP_STATUS_OK;
	if (imap_arg_is_atom(arg, "NO"))
		return IMAP_STATUS_NO;
	return IMAP_STATUS_BAD;
}

/* The tagged answer in c->parser (args after the tag): status, the
 * response code read once (resp_code(3)), the text. */
static void imap_answer_read(struct imap_client *c, unsigned tag,
			     const struct imap_arg *args, size_t count,
			     struct imap_answer *answer)
{
	const char *atom = NULL;

	memset(answer, 0, sizeof(*answer));
	answer->tag = tag;
	answer->status = count > 0 ? imap_status_of(&args[0]) : IMAP_STATUS_BAD;
	if (count >= 2 && args[1].type == IMAP_ARG_LIST && args[1].count > 0 &&
	    args[1].list[0].type == IMAP_ARG_ATOM)
		atom = args[1].list[0].str;
	answer->code = resp_code_imap(atom);
	if (atom != NULL)
		log_printable(answer->code_atom, sizeof(answer->code_atom), atom,
			      strlen(atom));
	snprintf(answer->text, sizeof(answer->text), "%s",
		 imap_printable(imap_parser_text(c->parser)));
}

/* The text of c->answer for *error_r: a refusal's is an error, in the
 * ring (error(3h)); an OK's is only information, left in the answer
 * (valid until the next one), so a session of successful commands
 * spends no ring slot and ages no error a caller keeps. */
static const char *imap_answer_text(const struct imap_client *c)
{
	if (c->answer.status == IMAP_STATUS_OK)
		return c->answer.text;
	return error_setf("%s", c->answer.text);
}

int imap_client_wait(struct imap_client *c, unsigned tag,
		     const struct imap_cmd_handlers *h, enum imap_status *status_r,
		     enum stream_fail *fail_r, const char **error_r)
{
	/* Was it answered while we waited for another? */
	for (size_t i = 0; i < c->done_count; i++) {
		if (c->done[i].answer.tag != tag)
			continue;
		c->answer = c->done[i].answer;
		*status_r = c->answer.status;
		*error_r = imap_answer_text(c);
		c->done[i] = c->done[--c->done_count];
		return 0;
	}
	for (;;) {
		const struct imap_arg *args;
		const char *rtag;
		size_t count;
		unsigned n;

		if (imap_read_response(c, h, fail_r, error_r) < 0)
			return -1;
		rtag = imap_parser_tag(c->parser);
		args = imap_parser_args(c->parser, &count);
		if (strcmp(rtag, "*") == 0) {
			if (count > 0 && imap_arg_is_atom(&args[0], "BYE"))
				return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r,
						 "server said BYE: %s",
						 imap_printable(imap_parser_text(c->parser)));
			if (count > 0 && imap_arg_is_atom(&args[0], "OK"))
				imap_check_code(c, args, count);
			else if (count > 0 && imap_arg_is_atom(&args[0], "CAPABILITY"))
				imap_set_caps(c, args + 1, count - 1);
			if (h != NULL && h->untagged != NULL &&
			    h->untagged(c, args, count, h->ctx, fail_r, error_r) < 0)
				return -1;
			continue;
		}
		if (strcmp(rtag, "+") == 0)
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					 "unexpected continuation from the server");
		n = imap_tag_number(rtag);
		if (n == 0 || n > c->next_tag)
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					 "answer with unknown tag '%s'",
					 imap_printable(rtag));
		if (count > 0 && imap_arg_is_atom(&args[0], "OK"))
			imap_check_code(c, args, count);
		if (n != tag) {
			if (c->done_count == IMAP_DONE_MAX)
				return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
						 "over %d answers pending", IMAP_DONE_MAX);
			imap_answer_read(c, n, args, count,
					 &c->done[c->done_count].answer);
			c->done_count++;
			continue;
		}
		imap_answer_read(c, n, args, count, &c->answer);
		*status_r = c->answer.status;
		*error_r = imap_answer_text(c);
		/* Keep this answer's response code for the caller. */
		{
			struct imap_parser *tmp = c->last;

			c->last = c->parser;
			c->parser = tmp != NULL ? tmp : imap_parser_new(NULL);
			imap_parser_reset(c->parser);
		}
		return 0;
	}
}

const struct imap_answer *imap_client_last_answer(const struct imap_client *c)
{
	return &c->answer;
}

int imap_client_refused(struct imap_client *c, enum resp_context ctx,
			const char *what, enum stream_fail *fail_r,
			const char **error_r)
{
	const struct imap_answer *a = &c->answer;

	return stream_failf(fail_r, resp_code_class(a->code, ctx), error_r,
			    "%s: %s %s%s%s%s", what,
			    a->status == IMAP_STATUS_OK ? "OK" :
			    a->status == IMAP_STATUS_NO ? "NO" : "BAD",
			    a->code_atom[0] != '\0' ? "[" : "", a->code_atom,
			    a->code_atom[0] != '\0' ? "] " : "", a->text);
}

/* Wait for tag's answer; NO and BAD fail naming verb, never arguments
 * (they may hold a password), as their response code says. */
static int imap_client_finish(struct imap_client *c, unsigned tag, const char *verb,
			      const struct imap_cmd_handlers *h,
			      enum stream_fail *fail_r, const char **error_r)
{
	enum imap_status status;
	char what[48];

	if (imap_client_wait(c, tag, h, &status, fail_r, error_r) < 0)
		return -1;
	if (status == IMAP_STATUS_OK)
		return 0;
	snprintf(what, sizeof(what), "%s failed", verb);
	return imap_client_refused(c, RESP_CONTEXT_COMMAND, what, fail_r, error_r);
}

int imap_client_run(struct imap_client *c, const char *command,
		    const struct imap_cmd_handlers *h, enum stream_fail *fail_r,
		    const char **error_r)
{
	unsigned tag;
	char verb[32];

	if (imap_client_send(c, command, &tag, fail_r, error_r) < 0)
		return -1;
	sscanf(command, "%31s", verb);
	return imap_client_finish(c, tag, verb, h, fail_r, error_r);
}

const struct imap_arg *imap_client_last_code(const struct imap_client *c,
					     size_t *count_r)
{
	const struct imap_arg *args;
	size_t count;

	*count_r = 0;
	if (c->last == NULL)
		return NULL;
	args = imap_parser_args(c->last, &count);
	if (count < 2 || args[1].type != IMAP_ARG_LIST)
		return NULL;
	*count_r = args[1].count;
	return args[1].list;
}

int imap_client_utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		uint32_t cp;
		size_t n, i;

		if (*p < 0x80) {
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf) {
			n = 2;
			cp = *p & 0x1f;
		} else if (*p >= 0xe0 && *p <= 0xef) {
			n = 3;
			cp = *p & 0x0f;
		} else if (*p >= 0xf0 && *p <= 0xf4) {
			n = 4;
			cp = *p & 0x07;
		} else {
			return 0;
		}
		for (i = 1; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		/* Overlong forms, surrogates, past U+10FFFF. */
		if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		p += n;
	}
	return 1;
}

/* Quote s; with utf8, 8-bit bytes (valid UTF-8, checked by the caller)
 * may go in the quoted string, as RFC 6855 allows once enabled. */
static char *imap_quote(const char *s, int utf8)
{
	size_t n = 0;
	char *out, *p;

	for (const char *q = s; *q != '\0'; q++) {
		unsigned char ch = (unsigned char)*q;

		/* RFC 3501 lets a quoted string hold control bytes but CR
		 * and LF; none goes out quoted, so none can end a line or
		 * confuse a server that reads one as its end. */
		if (ch < 0x20 || ch == 0x7f || (ch >= 0x80 && !utf8))
			return NULL;
		n += (ch == '"' || ch == '\\') ? 2 : 1;
	}
	out = p = mm_malloc(n + 3);
	*p++ = '"';
	for (const char *q = s; *q != '\0'; q++) {
		if (*q == '"' || *q == '\\')
			*p++ = '\\';
		*p++ = *q;
	}
	*p++ = '"';
	*p = '\0';
	return out;
}

char *imap_client_quote(const char *s)
{
	return imap_quote(s, 0);
}

/* Wait for a "+" continuation; a tagged answer instead is a refusal. */
int imap_client_wait_continuation(struct imap_client *c, unsigned tag,
				  enum stream_fail *fail_r, const char **error_r)
{
	for (;;) {
		const char *rtag;

		if (imap_read_response(c, NULL, fail_r, error_r) < 0)
			return -1;
		rtag = imap_parser_tag(c->parser);
		if (strcmp(rtag, "+") == 0)
			return 0;
		if (strcmp(rtag, "*") == 0)
			continue;
		if (imap_tag_number(rtag) == tag) {
			const struct imap_arg *args;
			size_t count;

			args = imap_parser_args(c->parser, &count);
			imap_answer_read(c, tag, args, count, &c->answer);
			return imap_client_refused(c, RESP_CONTEXT_COMMAND,
						   "refused", fail_r, error_r);
		}
	}
}

/* Send what is queued and judge the answer to a login command. */
static int imap_login_answer(struct imap_client *c, unsigned tag,
			     enum stream_fail *fail_r, const char **error_r)
{
	enum imap_status status;

	if (stream_flush(c->stream, fail_r, error_r) < 0 ||
	    imap_client_wait(c, tag, NULL, &status, fail_r, error_r) < 0)
		return -1;
	if (status != IMAP_STATUS_OK)
		return imap_client_refused(c, RESP_CONTEXT_LOGIN, "login refused",
					   fail_r, error_r);
	return 0;
}

/* A login command failed before its answer was due: if the server
 * answered it instead of sending "+", that is a login refusal. */
static int imap_login_cut_short(struct imap_client *c, unsigned tag,
				enum stream_fail *fail_r, const char **error_r)
{
	if (c->answer.tag == tag && c->answer.status != IMAP_STATUS_OK)
		return imap_client_refused(c, RESP_CONTEXT_LOGIN, "login refused",
					   fail_r, error_r);
	return -1;
}

/* AUTHENTICATE PLAIN, with SASL-IR when offered. */
static int imap_auth_plain(struct imap_client *c, const char *authzid,
			   const char *user, const char *password,
			   enum stream_fail *fail_r, const char **error_r)
{
	size_t zlen = authzid != NULL ? strlen(authzid) : 0;
	size_t ulen = strlen(user), plen = strlen(password);
	size_t rawlen = zlen + 1 + ulen + 1 + plen;
	unsigned char *raw = mm_malloc(rawlen);
	char *b64 = mm_malloc(4 * ((rawlen + 2) / 3) + 1);
	unsigned tag;
	int ret;

	/* authzid NUL authcid NUL password (RFC 4616). */
	memcpy(raw, authzid != NULL ? authzid : "", zlen);
	raw[zlen] = '\0';
	memcpy(raw + zlen + 1, user, ulen);
	raw[zlen + 1 + ulen] = '\0';
	memcpy(raw + zlen + 2 + ulen, password, plen);
	EVP_EncodeBlock((unsigned char *)b64, raw, (int)rawlen);
	mm_wipe(raw, rawlen);
	mm_free(&raw);
	tag = ++c->next_tag;
	if ((c->caps & IMAP_CAP_SASL_IR) != 0) {
		ret = stream_printf(c->stream, fail_r, error_r,
				    "M%u AUTHENTICATE PLAIN %s\r\n", tag, b64);
	} else {
		ret = stream_printf(c->stream, fail_r, error_r,
				    "M%u AUTHENTICATE PLAIN\r\n", tag);
		if (ret == 0)
			ret = stream_flush(c->stream, fail_r, error_r);
		if (ret == 0)
			ret = imap_client_wait_continuation(c, tag, fail_r, error_r);
		if (ret == 0)
			ret = stream_printf(c->stream, fail_r, error_r, "%s\r\n", b64);
	}
	mm_wipe(b64, strlen(b64));
	mm_free(&b64);
	if (ret < 0)
		return imap_login_cut_short(c, tag, fail_r, error_r);
	return imap_login_answer(c, tag, fail_r, error_r);
}

/* Send one astring argument: quoted, or a literal (LITERAL+ when the
 * server has it, else a synchronising one). */
static int imap_send_astring(struct imap_client *c, unsigned tag, const char *s,
			     int last, enum stream_fail *fail_r, const char **error_r)
{
	char *q;
	int ret;

	q = imap_quote(s, c->utf8_on);

	if (q != NULL) {
		ret = stream_printf(c->stream, fail_r, error_r, " %s%s", q,
				    last ? "\r\n" : "");
		mm_wipe(q, strlen(q));
		mm_free(&q);
		return ret;
	}
	if ((c->caps & IMAP_CAP_LITERALPLUS) != 0)
		ret = stream_printf(c->stream, fail_r, error_r, " {%zu+}\r\n", strlen(s));
	else if ((ret = stream_printf(c->stream, fail_r, error_r, " {%zu}\r\n",
				      strlen(s))) == 0 &&
		 (ret = stream_flush(c->stream, fail_r, error_r)) == 0)
		ret = imap_client_wait_continuation(c, tag, fail_r, error_r);
	if (ret == 0)
		ret = stream_write(c->stream, s, strlen(s), fail_r, error_r);
	if (ret == 0 && last)
		ret = stream_write(c->stream, "\r\n", 2, fail_r, error_r);
	return ret;
}

int imap_client_login(struct imap_client *c, const char *authzid,
		      const char *user, const char *password,
		      enum stream_fail *fail_r, const char **error_r)
{
	unsigned tag;

	if (authzid != NULL || (c->caps & IMAP_CAP_AUTH_PLAIN) != 0)
		return imap_auth_plain(c, authzid, user, password, fail_r, error_r);
	if ((c->caps & IMAP_CAP_LOGINDISABLED) != 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				 "the server refuses LOGIN without TLS "
				 "(LOGINDISABLED): set source_tls");
	tag = ++c->next_tag;
	if (stream_printf(c->stream, fail_r, error_r, "M%u LOGIN", tag) < 0 ||
	    imap_send_astring(c, tag, user, 0, fail_r, error_r) < 0 ||
	    imap_send_astring(c, tag, password, 1, fail_r, error_r) < 0)
		return imap_login_cut_short(c, tag, fail_r, error_r);
	return imap_login_answer(c, tag, fail_r, error_r);
}

/* After an OAuth initial response: the server's error challenge (answered
 * once as mech says), untagged responses, then the tagged answer. */
static int imap_oauth_answer(struct imap_client *c, unsigned tag,
			     enum cfg_source_auth mech, enum stream_fail *fail_r,
			     const char **error_r)
{
	char said[300] = "";
	int challenged = 0;

	if (stream_flush(c->stream, fail_r, error_r) < 0)
		return -1;
	for (;;) {
		const struct imap_arg *args;
		const char *rtag;
		size_t count;

		if (imap_read_response(c, NULL, fail_r, error_r) < 0)
			return -1;
		rtag = imap_parser_tag(c->parser);
		args = imap_parser_args(c->parser, &count);
		if (strcmp(rtag, "*") == 0) {
			if (count > 0 && imap_arg_is_atom(&args[0], "BYE"))
				return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r,
						 "server said BYE: %s",
						 imap_printable(imap_parser_text(c->parser)));
			if (count > 0 && imap_arg_is_atom(&args[0], "CAPABILITY"))
				imap_set_caps(c, args + 1, count - 1);
			continue;
		}
		if (strcmp(rtag, "+") == 0) {
			const char *text = imap_parser_text(c->parser);

			/* One error challenge; a second is no protocol. */
			if (challenged)
				return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
						 "AUTHENTICATE %s: a second challenge "
						 "from the server",
						 sasl_oauth_mech_name(mech));
			challenged = 1;
			sasl_oauth_challenge_text(text, strlen(text), said,
						  sizeof(said));
			if (stream_printf(c->stream, fail_r, error_r, "%s\r\n",
					  sasl_oauth_error_reply(mech)) < 0 ||
			    stream_flush(c->stream, fail_r, error_r) < 0)
				return -1;
			continue;
		}
		if (imap_tag_number(rtag) != tag)
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					 "answer with unexpected tag '%s' during "
					 "AUTHENTICATE", imap_printable(rtag));
		imap_answer_read(c, tag, args, count, &c->answer);
		if (c->answer.status == IMAP_STATUS_OK) {
			imap_check_code(c, args, count);
			return 0;
		}
		imap_client_refused(c, RESP_CONTEXT_LOGIN, "login refused", fail_r,
				    error_r);
		if (said[0] != '\0')
			stream_failf(fail_r, *fail_r, error_r, "%s (the server "
				     "said: %s)", *error_r, said);
		return -1;
	}
}

int imap_client_login_oauth(struct imap_client *c, enum cfg_source_auth mech,
			    const char *user, const char *token,
			    enum stream_fail *fail_r, const char **error_r)
{
	const char *name = sasl_oauth_mech_name(mech);
	unsigned cap = mech == CFG_AUTH_XOAUTH2 ? IMAP_CAP_AUTH_XOAUTH2 :
		IMAP_CAP_AUTH_OAUTHBEARER;
	char *b64;
	unsigned tag;
	int ret;

	if (name == NULL)
		log_panic("imap_client_login_oauth: not an OAuth mechanism");
	if ((c->caps & cap) == 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				 "the server does not offer AUTH=%s, which "
				 "source_auth needs", name);
	b64 = sasl_oauth_initial(mech, user, token, c->host, c->port != 0 ?
				 c->port : 143);
	if (b64 == NULL)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				 "the login name or the token holds a control "
				 "or 8-bit byte: not sent");
	tag = ++c->next_tag;
	if ((c->caps & IMAP_CAP_SASL_IR) != 0) {
		ret = stream_printf(c->stream, fail_r, error_r,
				    "M%u AUTHENTICATE %s %s\r\n", tag, name, b64);
	} else {
		ret = stream_printf(c->stream, fail_r, error_r,
				    "M%u AUTHENTICATE %s\r\n", tag, name);
		if (ret == 0)
			ret = stream_flush(c->stream, fail_r, error_r);
		if (ret == 0)
			ret = imap_client_wait_continuation(c, tag, fail_r, error_r);
		if (ret == 0)
			ret = stream_printf(c->stream, fail_r, error_r, "%s\r\n", b64);
	}
	mm_free_secret(&b64);
	if (ret < 0)
		return imap_login_cut_short(c, tag, fail_r, error_r);
	return imap_oauth_answer(c, tag, mech, fail_r, error_r);
}

struct enable_ctx {
	int utf8, condstore, qresync;
};

/* "* ENABLED UTF8=ACCEPT" (RFC 5161): what the server turned on. */
static int enabled_untagged(struct imap_client *client, const struct imap_arg *args,
			    size_t count, void *context, enum stream_fail *fail_r,
			    const char **error_r)
{
	struct enable_ctx *ctx = context;

	(void)client;
	(void)fail_r;
	(void)error_r;
	if (count == 0 || !imap_arg_is_atom(&args[0], "ENABLED"))
		return 0;
	for (size_t i = 1; i < count; i++)
		if (imap_arg_is_atom(&args[i], "UTF8=ACCEPT"))
			ctx->utf8 = 1;
		else if (imap_arg_is_atom(&args[i], "CONDSTORE"))
			ctx->condstore = 1;
		else if (imap_arg_is_atom(&args[i], "QRESYNC"))
			ctx->qresync = 1;
	return 0;
}

int imap_client_enable_utf8(struct imap_client *c, enum stream_fail *fail_r,
			    const char **error_r)
{
	struct enable_ctx ctx = { 0 };
	struct imap_cmd_handlers h = { enabled_untagged, NULL, &ctx };

	if ((c->caps & IMAP_CAP_UTF8_ACCEPT) == 0 || c->utf8_on)
		return 0;
	if (imap_client_run(c, "ENABLE UTF8=ACCEPT", &h, fail_r, error_r) < 0)
		return -1;
	if (!ctx.utf8)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "the server lists UTF8=ACCEPT but its ENABLED "
				    "response does not confirm it (RFC 6855)");
	c->utf8_on = 1;
	return 0;
}

int imap_client_utf8(const struct imap_client *c)
{
	return c->utf8_on;
}

int imap_client_enable_condstore(struct imap_client *c, enum stream_fail *fail_r,
				 const char **error_r)
{
	struct enable_ctx ctx = { 0 };
	struct imap_cmd_handlers h = { enabled_untagged, NULL, &ctx };
	enum imap_status status;
	unsigned tag;
	int qresync = (c->caps & IMAP_CAP_QRESYNC) != 0;

	/* A server that lists CONDSTORE without ENABLE would need it
	 * turned on per command (SELECT (CONDSTORE)): left as it is. */
	if ((c->caps & (IMAP_CAP_CONDSTORE | IMAP_CAP_QRESYNC)) == 0 ||
	    (c->caps & IMAP_CAP_ENABLE) == 0 || c->condstore_on)
		return 0;
	if (imap_client_send(c, qresync ? "ENABLE CONDSTORE QRESYNC" :
			     "ENABLE CONDSTORE", &tag, fail_r, error_r) < 0 ||
	    imap_client_wait(c, tag, &h, &status, fail_r, error_r) < 0)
		return -1;
	/* Refused: a session without mod-sequences, as before them. */
	if (status != IMAP_STATUS_OK)
		return 0;
	/* QRESYNC enabled implies CONDSTORE (RFC 7162 3.2.3). */
	c->qresync_on = ctx.qresync;
	c->condstore_on = ctx.condstore || ctx.qresync;
	return 0;
}

int imap_client_condstore(const struct imap_client *c)
{
	return c->condstore_on;
}

int imap_client_qresync(const struct imap_client *c)
{
	return c->qresync_on;
}

int imap_client_send_astring(struct imap_client *c, const char *verb, const char *arg,
			     const char *rest, unsigned *tag_r,
			     enum stream_fail *fail_r, const char **error_r)
{
	unsigned tag;

	if (strpbrk(verb, "\r\n") != NULL || (rest != NULL && strpbrk(rest, "\r\n") != NULL))
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "not sent: a command holding a line break");
	/* In UTF8=ACCEPT mode the server reads names as UTF-8: bytes that
	 * are not would name some other folder, or none. Checked before a
	 * byte of the command goes out. */
	if (c->utf8_on && !imap_client_utf8_valid(arg))
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "'%s' is not valid UTF-8: not sent",
				    imap_printable(arg));
	tag = ++c->next_tag;
	if (stream_printf(c->stream, fail_r, error_r, "M%u %s", tag, verb) < 0 ||
	    imap_send_astring(c, tag, arg, rest == NULL, fail_r, error_r) < 0 ||
	    (rest != NULL &&
	     stream_printf(c->stream, fail_r, error_r, " %s\r\n", rest) < 0) ||
	    stream_flush(c->stream, fail_r, error_r) < 0)
		return -1;
	*tag_r = tag;
	return 0;
}

int imap_client_run_astring(struct imap_client *c, const char *verb, const char *arg,
			    const char *rest, const struct imap_cmd_handlers *h,
			    enum stream_fail *fail_r, const char **error_r)
{
	unsigned tag;

	if (imap_client_send_astring(c, verb, arg, rest, &tag, fail_r, error_r) < 0)
		return -1;
	return imap_client_finish(c, tag, verb, h, fail_r, error_r);
}
