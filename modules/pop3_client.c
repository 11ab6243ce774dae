/*
 * NAME
 *	pop3_client 3
 * SUMMARY
 *	a synchronous POP3 client
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "error.h"
#include "log.h"
#include "mm_alloc.h"
#include "pop3_client.h"
#include "resp_code.h"
#include "sasl_oauth.h"

#define POP3_CHUNK 16384

struct pop3_client {
	struct stream *stream;
	size_t max_line;
	int cap_stls, cap_uidl, cap_sasl_plain, cap_user, cap_utf8;
	int cap_sasl_xoauth2, cap_sasl_oauthbearer;
	char host[256];		/* as connected to, for OAUTHBEARER's host= */
	uint16_t port;
	int have_capa, utf8_on;
	char capa[512];		/* CAPA's lines, space-separated, bounded */
	char greeting[200];	/* the text after +OK, printable */
	/* The last -ERR's extended response code (RFC 2449, 3206). */
	enum resp_code code;
};

/* Server text, made printable and bounded, for one of our messages:
 * valid until the next call (an argument, never kept). */
static const char *pop3_printable(const char *text, size_t len)
{
	static char buf[240];

	return log_printable(buf, sizeof(buf), text, len);
}

/* Read a status line: 0 for +OK (text after it in *text_r), 1 for -ERR
 * (the text in *error_r), 2 for a SASL challenge "+ text" when
 * challenge is set (the text in *text_r), -1 on failure. */
static int pop3_status_or_challenge(struct pop3_client *c, int challenge,
				    const char **text_r, enum stream_fail *fail_r,
				    const char **error_r)
{
	const char *line;
	size_t len;

	if (stream_read_line(c->stream, c->max_line, &line, &len, fail_r, error_r) < 0)
		return -1;
	if (challenge && len >= 1 && line[0] == '+' && (len == 1 || line[1] == ' ')) {
		*text_r = len > 2 ? line + 2 : "";
		return 2;
	}
	if (len >= 3 && strncmp(line, "+OK", 3) == 0 && (len == 3 || line[3] == ' ')) {
		*text_r = len > 4 ? line + 4 : "";
		return 0;
	}
	if (len >= 4 && strncmp(line, "-ERR", 4) == 0) {
		c->code = resp_code_pop3(len > 5 ? line + 5 : "", len > 5 ? len - 5 : 0);
		*error_r = error_setf("%s", pop3_printable(len > 5 ? line + 5 : "",
							   len > 5 ? len - 5 : 0));
		return 1;
	}
	return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
			 "malformed POP3 status line: %s", pop3_printable(line, len));
}

/* Read a status line: 0 for +OK (text after it in *text_r), 1 for -ERR
 * (the text in *error_r), -1 on failure. */
static int pop3_status(struct pop3_client *c, const char **text_r,
		       enum stream_fail *fail_r, const char **error_r)
{
	return pop3_status_or_challenge(c, 0, text_r, fail_r, error_r);
}

/* Send a command line and read its status. */
static int pop3_command(struct pop3_client *c, const char *cmd, const char **text_r,
			enum stream_fail *fail_r, const char **error_r)
{
	if (stream_printf(c->stream, fail_r, error_r, "%s\r\n", cmd) < 0 ||
	    stream_flush(c->stream, fail_r, error_r) < 0)
		return -1;
	return pop3_status(c, text_r, fail_r, error_r);
}

/* Read a multi-line answer's lines (dot-unstuffed) up to the ".". */
static int pop3_multiline(struct pop3_client *c,
			  int (*fn)(const char *line, size_t len, void *ctx),
			  void *ctx, enum stream_fail *fail_r, const char **error_r)
{
	const char *line;
	size_t len;
	int stop = 0;

	for (;;) {
		if (stream_read_line(c->stream, c->max_line, &line, &len, fail_r,
				     error_r) < 0)
			return -1;
		if (len == 1 && line[0] == '.')
			return stop ? -1 : 0;
		if (len > 0 && line[0] == '.') {
			line++;
			len--;
		}
		/* After a refusal, read on to the end to stay in sync. */
		if (!stop && fn(line, len, ctx) != 0)
			stop = 1;
	}
}

static int pop3_capa_line(const char *line, size_t len, void *ctx)
{
	struct pop3_client *c = ctx;
	size_t used = strlen(c->capa);

	/* Kept for reports: whole lines, as many as fit. */
	if (used + len + 2 <= sizeof(c->capa))
		snprintf(c->capa + used, sizeof(c->capa) - used, "%s%s",
			 used > 0 ? " " : "", pop3_printable(line, len));

	if (len == 4 && strncasecmp(line, "STLS", 4) == 0)
		c->cap_stls = 1;
	else if (len == 4 && strncasecmp(line, "UIDL", 4) == 0)
		c->cap_uidl = 1;
	else if (len == 4 && strncasecmp(line, "USER", 4) == 0)
		c->cap_user = 1;
	else if ((len == 4 || (len > 4 && line[4] == ' ')) &&
		 strncasecmp(line, "UTF8", 4) == 0)
		c->cap_utf8 = 1;	/* "UTF8" or "UTF8 USER" (RFC 6856) */
	else if (len > 5 && strncasecmp(line, "SASL ", 5) == 0) {
		char buf[512];

		snprintf(buf, sizeof(buf), " %.*s ", (int)(len - 4), line + 4);
		for (char *p = buf; *p != '\0'; p++)
			*p = (char)toupper((unsigned char)*p);
		if (strstr(buf, " PLAIN ") != NULL)
			c->cap_sasl_plain = 1;
		if (strstr(buf, " XOAUTH2 ") != NULL)
			c->cap_sasl_xoauth2 = 1;
		if (strstr(buf, " OAUTHBEARER ") != NULL)
			c->cap_sasl_oauthbearer = 1;
	}
	return 0;
}

/* CAPA (RFC 2449); a server without it just lacks the extensions. */
static int pop3_capa(struct pop3_client *c, enum stream_fail *fail_r,
		     const char **error_r)
{
	const char *text;
	int ret;

	c->cap_stls = c->cap_uidl = c->cap_sasl_plain = c->cap_user = 0;
	c->cap_utf8 = c->cap_sasl_xoauth2 = c->cap_sasl_oauthbearer = 0;
	c->capa[0] = '\0';
	ret = pop3_command(c, "CAPA", &text, fail_r, error_r);
	if (ret < 0)
		return -1;
	c->have_capa = ret == 0;
	if (ret == 1)
		return 0;
	return pop3_multiline(c, pop3_capa_line, c, fail_r, error_r);
}

int pop3_client_connect(const struct pop3_client_settings *set,
			struct pop3_client **client_r, enum stream_fail *fail_r,
			const char **error_r)
{
	struct pop3_client *c = mm_calloc(1, sizeof(*c));
	uint16_t port = set->port != 0 ? set->port :
		(set->tls == CFG_TLS_DIRECT ? 995 : 110);
	const char *text;
	int ret;

	c->max_line = set->max_line != 0 ? set->max_line : 8192;
	snprintf(c->host, sizeof(c->host), "%s", set->host);
	c->port = port;
	if (stream_connect(set->host, port, set->connect_timeout_ms != 0 ?
			   set->connect_timeout_ms : 30000, &c->stream, fail_r,
			   error_r) < 0)
		goto fail;
	stream_set_timeout(c->stream, set->timeout_ms != 0 ? set->timeout_ms : 120000);
	if (set->tls == CFG_TLS_DIRECT &&
	    stream_start_tls(c->stream, &set->tls_opts, fail_r, error_r) < 0)
		goto fail;
	ret = pop3_status(c, &text, fail_r, error_r);
	if (ret < 0)
		goto fail;
	if (ret == 1) {
		stream_failf(fail_r, STREAM_FAIL_WAIT, error_r, "%s refused the "
			  "connection: %s", set->host, *error_r);
		goto fail;
	}
	snprintf(c->greeting, sizeof(c->greeting), "%s",
		 pop3_printable(text, strlen(text)));
	if (pop3_capa(c, fail_r, error_r) < 0)
		goto fail;
	if (set->tls == CFG_TLS_STARTTLS && !c->cap_stls) {
		stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "%s does not offer "
			  "STLS, which source_tls = starttls requires", set->host);
		goto fail;
	}
	if ((set->tls == CFG_TLS_STARTTLS || set->tls == CFG_TLS_DETECT) && c->cap_stls) {
		ret = pop3_command(c, "STLS", &text, fail_r, error_r);
		if (ret < 0)
			goto fail;
		if (ret == 1) {
			stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				  "STLS refused: %s", *error_r);
			goto fail;
		}
		if (stream_start_tls(c->stream, &set->tls_opts, fail_r, error_r) < 0 ||
		    pop3_capa(c, fail_r, error_r) < 0)
			goto fail;
	} else if (set->tls == CFG_TLS_DETECT && set->tls_seen != 0) {
		if (set->downgrade_r != NULL)
			*set->downgrade_r = 1;
		stream_fail_downgrade(fail_r, error_r, set->host, "STLS",
				      set->tls_seen);
		goto fail;
	} else if (set->tls == CFG_TLS_DETECT) {
		log_warning("%s offers no STLS: continuing without TLS "
			    "(source_tls = detect)", set->host);
	}
	*client_r = c;
	return 0;
fail:
	pop3_client_close(&c);
	return -1;
}

struct pop3_client *pop3_client_from_stream(struct stream *stream, size_t max_line)
{
	struct pop3_client *c = mm_calloc(1, sizeof(*c));

	c->stream = stream;
	c->max_line = max_line != 0 ? max_line : 8192;
	c->cap_uidl = 1;
	return c;
}

void pop3_client_close(struct pop3_client **cp)
{
	struct pop3_client *c = *cp;
	enum stream_fail fail;
	const char *error;

	if (c == NULL)
		return;
	if (c->stream != NULL) {
		/* Best effort; QUIT deletes nothing since we never DELE. */
		stream_set_timeout(c->stream, 2000);
		if (stream_printf(c->stream, &fail, &error, "QUIT\r\n") == 0)
			(void)stream_flush(c->stream, &fail, &error);
		stream_close(&c->stream);
	}
	mm_free(cp);
}

/* A -ERR at login, classed by its code (resp_code(3)): wrong
 * credentials ([AUTH], or no code), not now ([IN-USE], [SYS/TEMP],
 * [LOGIN-DELAY]), or give up ([SYS/PERM]). */
static int pop3_login_refused(struct pop3_client *c, enum stream_fail *fail_r,
			      const char **error_r)
{
	enum stream_fail fail = resp_code_class(c->code, RESP_CONTEXT_LOGIN);

	/* *error_r is read before its ring slot can be reused (error(3h)). */
	return stream_failf(fail_r, fail, error_r, "login refused%s: %s",
			    fail == STREAM_FAIL_WAIT ? " for now" : "", *error_r);
}

/* UTF8 (RFC 6856), in the AUTHORIZATION state before the
 * credentials: a server that lists UTF8 in CAPA may replace a message
 * whose header holds raw UTF-8 with a stand-in of its own (Courier:
 * "Cannot display Unicode content") for a client that did not send it,
 * so a refusal is an error, never a reason to copy on without it. */
int pop3_client_enable_utf8(struct pop3_client *c, enum stream_fail *fail_r,
			    const char **error_r)
{
	const char *text;
	int ret;

	if (!c->cap_utf8 || c->utf8_on)
		return 0;
	ret = pop3_command(c, "UTF8", &text, fail_r, error_r);
	if (ret < 0)
		return -1;
	if (ret == 1)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				 "the server lists UTF8 in CAPA but refused "
				 "the UTF8 command (RFC 6856): %s; without it, "
				 "messages with UTF-8 headers may be replaced "
				 "by the server's substitutes", *error_r);
	c->utf8_on = 1;
	return 0;
}

int pop3_client_login(struct pop3_client *c, const char *user,
		      const char *password, enum stream_fail *fail_r,
		      const char **error_r)
{
	return pop3_client_login_as(c, NULL, user, password, fail_r, error_r);
}

int pop3_client_login_as(struct pop3_client *c, const char *authzid,
			 const char *user, const char *password,
			 enum stream_fail *fail_r, const char **error_r)
{
	const char *text;
	char *cmd;
	int ret;

	if (strpbrk(user, "\r\n") != NULL || strpbrk(password, "\r\n") != NULL)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				 "user name or password holds a line break");
	if (authzid != NULL && !c->cap_sasl_plain)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				 "acting for %s needs SASL PLAIN (RFC 5034), "
				 "which the POP3 server does not list", authzid);
	if (c->cap_sasl_plain) {
		size_t zlen = authzid != NULL ? strlen(authzid) : 0;
		size_t ulen = strlen(user), plen = strlen(password);
		size_t rawlen = zlen + 1 + ulen + 1 + plen;
		unsigned char *raw = mm_malloc(rawlen);
		char *b64 = mm_malloc(4 * ((rawlen + 2) / 3) + 1);

		if (zlen > 0)
			memcpy(raw, authzid, zlen);
		raw[zlen] = '\0';
		memcpy(raw + zlen + 1, user, ulen);
		raw[zlen + 1 + ulen] = '\0';
		memcpy(raw + zlen + 2 + ulen, password, plen);
		EVP_EncodeBlock((unsigned char *)b64, raw, (int)rawlen);
		mm_wipe(raw, rawlen);
		mm_free(&raw);
		cmd = mm_asprintf("AUTH PLAIN %s", b64);
		mm_wipe(b64, strlen(b64));
		mm_free(&b64);
		ret = pop3_command(c, cmd, &text, fail_r, error_r);
		mm_free_secret(&cmd);
		if (ret < 0)
			return -1;
		return ret == 1 ? pop3_login_refused(c, fail_r, error_r) : 0;
	}
	cmd = mm_asprintf("USER %s", user);
	ret = pop3_command(c, cmd, &text, fail_r, error_r);
	mm_free(&cmd);
	if (ret != 0)
		return ret < 0 ? -1 : pop3_login_refused(c, fail_r, error_r);
	cmd = mm_asprintf("PASS %s", password);
	ret = pop3_command(c, cmd, &text, fail_r, error_r);
	mm_free_secret(&cmd);
	if (ret < 0)
		return -1;
	return ret == 1 ? pop3_login_refused(c, fail_r, error_r) : 0;
}

/* RFC 5034: an AUTH command line is at most 255 octets with its CRLF;
 * a longer initial response goes after an empty challenge. */
#define POP3_AUTH_LINE_MAX 255

int pop3_client_login_oauth(struct pop3_client *c, enum cfg_source_auth mech,
			    const char *user, const char *token,
			    enum stream_fail *fail_r, const char **error_r)
{
	const char *name = sasl_oauth_mech_name(mech), *text;
	char said[300] = "", *b64;
	int ret, challenged = 0;

	if (name == NULL)
		log_panic("pop3_client_login_oauth: not an OAuth mechanism");
	if (!(mech == CFG_AUTH_XOAUTH2 ? c->cap_sasl_xoauth2 :
	      c->cap_sasl_oauthbearer))
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				 "the POP3 server does not list SASL %s in CAPA, "
				 "which source_auth needs", name);
	b64 = sasl_oauth_initial(mech, user, token, c->host, c->port);
	if (b64 == NULL)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				 "the login name or the token holds a control "
				 "or 8-bit byte: not sent");
	if (strlen("AUTH ") + strlen(name) + 1 + strlen(b64) + 2 <= POP3_AUTH_LINE_MAX) {
		ret = stream_printf(c->stream, fail_r, error_r, "AUTH %s %s\r\n",
				    name, b64);
	} else {
		ret = stream_printf(c->stream, fail_r, error_r, "AUTH %s\r\n", name);
		if (ret == 0)
			ret = stream_flush(c->stream, fail_r, error_r);
		if (ret == 0) {
			ret = pop3_status_or_challenge(c, 1, &text, fail_r, error_r);
			if (ret == 0)
				ret = stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
						   "AUTH %s: +OK before the "
						   "credentials", name);
			else if (ret == 1) {
				mm_free_secret(&b64);
				return pop3_login_refused(c, fail_r, error_r);
			} else if (ret == 2)
				ret = stream_printf(c->stream, fail_r, error_r,
						    "%s\r\n", b64);
		}
	}
	mm_free_secret(&b64);
	if (ret < 0)
		return -1;
	for (;;) {
		if (stream_flush(c->stream, fail_r, error_r) < 0)
			return -1;
		ret = pop3_status_or_challenge(c, 1, &text, fail_r, error_r);
		if (ret < 0)
			return -1;
		if (ret == 0)
			return 0;
		if (ret == 1)
			break;
		/* The error challenge: answered once, as mech says. */
		if (challenged)
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					 "AUTH %s: a second challenge from the "
					 "server", name);
		challenged = 1;
		sasl_oauth_challenge_text(text, strlen(text), said, sizeof(said));
		if (stream_printf(c->stream, fail_r, error_r, "%s\r\n",
				  sasl_oauth_error_reply(mech)) < 0)
			return -1;
	}
	pop3_login_refused(c, fail_r, error_r);
	if (said[0] != '\0')
		stream_failf(fail_r, *fail_r, error_r, "%s (the server said: %s)",
			     *error_r, said);
	return -1;
}

struct pop3_listing {
	int (*uidl_fn)(uint32_t msgnum, const char *uidl, void *ctx);
	int (*list_fn)(uint32_t msgnum, uint64_t size, void *ctx);
	void *ctx;
	uint32_t last;
	char error[300];
};

/* "N rest": the message number (ascending, 1..max) and the rest. */
static int pop3_listing_line(struct pop3_listing *l, const char *line, size_t len,
			     uint32_t *num_r, const char **rest_r, size_t *restlen_r)
{
	unsigned long n = 0;
	size_t i = 0;

	while (i < len && isdigit((unsigned char)line[i]) && n <= POP3_MAX_MESSAGES)
		n = n * 10 + (unsigned long)(line[i++] - '0');
	if (i == 0 || i >= len || line[i] != ' ' || n == 0 || n > POP3_MAX_MESSAGES ||
	    n <= l->last) {
		snprintf(l->error, sizeof(l->error), "malformed listing line: %s",
			 pop3_printable(line, len));
		return -1;
	}
	l->last = (uint32_t)n;
	*num_r = (uint32_t)n;
	*rest_r = line + i + 1;
	*restlen_r = len - i - 1;
	return 0;
}

static int pop3_uidl_line(const char *line, size_t len, void *ctx)
{
	struct pop3_listing *l = ctx;
	char uidl[POP3_MAX_UIDL + 1];
	const char *rest;
	size_t restlen;
	uint32_t num;

	if (pop3_listing_line(l, line, len, &num, &rest, &restlen) < 0)
		return -1;
	if (restlen == 0 || restlen > POP3_MAX_UIDL) {
		snprintf(l->error, sizeof(l->error), "UIDL of message %u has %zu "
			 "characters (1 to %d allowed)", num, restlen, POP3_MAX_UIDL);
		return -1;
	}
	for (size_t i = 0; i < restlen; i++) {
		if (rest[i] < 0x21 || rest[i] > 0x7e) {
			snprintf(l->error, sizeof(l->error), "UIDL of message %u "
				 "holds a bad character", num);
			return -1;
		}
	}
	memcpy(uidl, rest, restlen);
	uidl[restlen] = '\0';
	if (l->uidl_fn(num, uidl, l->ctx) != 0) {
		snprintf(l->error, sizeof(l->error), "listing stopped by the caller");
		return -1;
	}
	return 0;
}

static int pop3_list_line(const char *line, size_t len, void *ctx)
{
	struct pop3_listing *l = ctx;
	const char *rest;
	size_t restlen, i = 0;
	uint64_t size = 0;
	uint32_t num;

	if (pop3_listing_line(l, line, len, &num, &rest, &restlen) < 0)
		return -1;
	while (i < restlen && isdigit((unsigned char)rest[i]) && size < (1ULL << 50))
		size = size * 10 + (uint64_t)(rest[i++] - '0');
	if (i == 0 || (i < restlen && rest[i] != ' ')) {
		snprintf(l->error, sizeof(l->error), "malformed LIST line: %s",
			 pop3_printable(line, len));
		return -1;
	}
	if (l->list_fn(num, size, l->ctx) != 0) {
		snprintf(l->error, sizeof(l->error), "listing stopped by the caller");
		return -1;
	}
	return 0;
}

/* Run a listing command and feed each line to linefn. */
static int pop3_listing(struct pop3_client *c, const char *cmd,
			int (*linefn)(const char *line, size_t len, void *ctx),
			struct pop3_listing *l, enum stream_fail *fail_r,
			const char **error_r)
{
	const char *text;
	int ret = pop3_command(c, cmd, &text, fail_r, error_r);

	if (ret < 0)
		return -1;
	if (ret == 1)
		return stream_failf(fail_r, resp_code_class(c->code, RESP_CONTEXT_COMMAND),
				    error_r, "%s refused: %s", cmd, *error_r);
	l->error[0] = '\0';
	if (pop3_multiline(c, linefn, l, fail_r, error_r) < 0) {
		if (l->error[0] != '\0')
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "%s: %s",
					 cmd, l->error);
		return -1;
	}
	return 0;
}

int pop3_client_uidl(struct pop3_client *c,
		     int (*fn)(uint32_t msgnum, const char *uidl, void *ctx),
		     void *ctx, enum stream_fail *fail_r, const char **error_r)
{
	struct pop3_listing l = { .uidl_fn = fn, .ctx = ctx };

	return pop3_listing(c, "UIDL", pop3_uidl_line, &l, fail_r, error_r);
}

int pop3_client_list(struct pop3_client *c,
		     int (*fn)(uint32_t msgnum, uint64_t size, void *ctx),
		     void *ctx, enum stream_fail *fail_r, const char **error_r)
{
	struct pop3_listing l = { .list_fn = fn, .ctx = ctx };

	return pop3_listing(c, "LIST", pop3_list_line, &l, fail_r, error_r);
}

/*
 * The RETR body: bytes after the status line up to CRLF "." CRLF. The
 * state remembers where a line starts, so a "." there is either the
 * end (followed by CRLF) or stuffing (followed by another ".").
 */
enum retr_state {
	RETR_LINE_START,	/* at the start of a line */
	RETR_MID_LINE,
	RETR_DOT,		/* "." at a line start */
	RETR_DOT_CR,		/* "." CR at a line start */
	RETR_DONE,
};

int pop3_client_retr(struct pop3_client *c, uint32_t msgnum,
		     int (*fn)(const void *data, size_t len, void *ctx),
		     void *ctx, uint64_t *size_r, enum stream_fail *fail_r,
		     const char **error_r)
{
	enum retr_state st = RETR_LINE_START;
	unsigned char in[POP3_CHUNK], out[POP3_CHUNK + 2];
	const char *text;
	uint64_t total = 0;
	char cmd[32];
	int ret;

	snprintf(cmd, sizeof(cmd), "RETR %u", msgnum);
	ret = pop3_command(c, cmd, &text, fail_r, error_r);
	if (ret < 0)
		return -1;
	if (ret == 1)
		return stream_failf(fail_r, resp_code_class(c->code, RESP_CONTEXT_COMMAND),
				    error_r, "RETR %u refused: %s", msgnum, *error_r);
	while (st != RETR_DONE) {
		size_t got, i, n = 0;

		if (stream_read(c->stream, in, sizeof(in), &got, fail_r, error_r) < 0)
			return -1;
		for (i = 0; i < got && st != RETR_DONE; i++) {
			unsigned char b = in[i];

			if (st == RETR_DOT) {
				/* ".." is a stuffed "."; "." CR may end it. */
				if (b == '\r') {
					st = RETR_DOT_CR;
					continue;
				}
				out[n++] = '.';
				if (b == '.') {
					st = RETR_MID_LINE;
					continue;
				}
				/* A lone "." mid-message: a server bug, kept as sent. */
				st = RETR_MID_LINE;
			} else if (st == RETR_DOT_CR) {
				if (b == '\n') {
					st = RETR_DONE;
					continue;
				}
				out[n++] = '.';
				out[n++] = '\r';
				st = RETR_MID_LINE;
			} else if (st == RETR_LINE_START && b == '.') {
				st = RETR_DOT;
				continue;
			}
			out[n++] = b;
			st = b == '\n' ? RETR_LINE_START : RETR_MID_LINE;
		}
		if (n > 0) {
			total += n;
			if (fn(out, n, ctx) < 0)
				return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
						 "RETR %u: aborted by the receiver", msgnum);
		}
		/* We send one command at a time: nothing may follow the end. */
		if (st == RETR_DONE && (i < got || stream_buffered(c->stream) > 0))
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					 "RETR %u: data after the end of the message",
					 msgnum);
	}
	*size_r = total;
	return 0;
}

int pop3_client_utf8(const struct pop3_client *c)
{
	return c->utf8_on;
}

int pop3_client_stat(struct pop3_client *c, uint64_t *count_r, uint64_t *size_r,
		     enum stream_fail *fail_r, const char **error_r)
{
	unsigned long long n, size;
	const char *text;
	char extra;
	int ret = pop3_command(c, "STAT", &text, fail_r, error_r);

	if (ret < 0)
		return -1;
	if (ret == 1)
		return stream_failf(fail_r, resp_code_class(c->code, RESP_CONTEXT_COMMAND),
				    error_r, "STAT refused: %s", *error_r);
	/* "+OK nn mm": two decimal numbers, nothing else but a space. */
	if (strlen(text) > 60 || strspn(text, "0123456789 ") != strlen(text) ||
	    sscanf(text, "%llu %llu%c", &n, &size, &extra) != 2 ||
	    n > POP3_MAX_MESSAGES)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "malformed STAT answer: %s",
				    pop3_printable(text, strlen(text)));
	*count_r = n;
	*size_r = size;
	return 0;
}

const char *pop3_client_capa(const struct pop3_client *c)
{
	return c->capa;
}

const char *pop3_client_greeting(const struct pop3_client *c)
{
	return c->greeting;
}

int pop3_client_has_uidl(const struct pop3_client *c)
{
	return c->cap_uidl || !c->have_capa;
}

struct stream *pop3_client_stream(struct pop3_client *c)
{
	return c->stream;
}
