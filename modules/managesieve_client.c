/*
 * NAME
 *	managesieve_client 3
 * SUMMARY
 *	a bounded ManageSieve (RFC 5804) client
 * DESCRIPTION
 *	managesieve_client(3h) says what it does and guarantees. One
 *	reader (ms_read()) turns a logical response line (a line, and the
 *	lines after each literal it announces) into tokens; the commands
 *	read data lines until OK, NO or BYE. One writer (ms_put_string())
 *	sends every string: quoted when it can be, else a non-synchronising
 *	literal ({n+}, the only client literal RFC 5804 has).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "error.h"
#include "log.h"
#include "managesieve_client.h"
#include "mm_alloc.h"
#include "sasl_oauth.h"

#define MS_QUOTED_MAX 1024	/* RFC 5804: quoted strings up to 1024 octets */
#define MS_CAP_MAX 2048		/* bytes of a capability value kept */
#define MS_REASON_MAX 300	/* bytes of a server's reason reported */
#define MS_DRAIN_CHUNK 16384

enum ms_kind {
	MS_ATOM,
	MS_STRING,	/* quoted or literal */
	MS_CODE,	/* a response code, the text inside the parentheses */
};

struct ms_token {
	enum ms_kind kind;
	char *data;	/* NUL-terminated; strings may hold NULs before it */
	size_t len;
	int over;	/* a literal over its limit: read, dropped, data "" */
};

struct ms_line {
	struct ms_token tok[MANAGESIEVE_TOKENS_MAX];
	size_t count;
};

struct managesieve_client {
	struct stream *stream;
	char host[256];
	uint16_t port;
	size_t max_line;
	uint64_t max_script;
	size_t max_scripts;
	int starttls;
	int greeting;	/* the next line read is the greeting's first */
	int foreign;	/* that line was not ManageSieve's */
	char implementation[256];
	char sasl[MS_CAP_MAX];
	char sieve[MS_CAP_MAX];
};

static void ms_line_clear(struct ms_line *l)
{
	for (size_t i = 0; i < l->count; i++)
		mm_free(&l->tok[i].data);
	l->count = 0;
}

/* Peer text for a message: escaped and cut. */
static const char *ms_printable(const char *text, size_t len)
{
	static char buf[MS_REASON_MAX];

	return log_printable(buf, sizeof(buf), text, len);
}

static int ms_add(struct ms_line *l, enum ms_kind kind, const char *data, size_t len,
		  enum stream_fail *fail_r, const char **error_r)
{
	struct ms_token *t;

	if (l->count == MANAGESIEVE_TOKENS_MAX)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "ManageSieve: "
				    "more than %d items in a response line",
				    MANAGESIEVE_TOKENS_MAX);
	t = &l->tok[l->count++];
	t->kind = kind;
	t->data = mm_malloc(len + 1);
	memcpy(t->data, data, len);
	t->data[len] = '\0';
	t->len = len;
	t->over = 0;
	return 0;
}

/* Read a literal of size bytes into a token; over limit it is read in
 * chunks and dropped (the token says so). */
static int ms_literal(struct managesieve_client *c, struct ms_line *l, uint64_t size,
		      uint64_t limit, enum stream_fail *fail_r, const char **error_r)
{
	struct ms_token *t;
	char *buf;
	size_t got, have = 0;
	int over = size > limit;

	if (ms_add(l, MS_STRING, "", 0, fail_r, error_r) < 0)
		return -1;
	t = &l->tok[l->count - 1];
	t->over = over;
	if (!over) {
		mm_free(&t->data);
		t->data = mm_malloc((size_t)size + 1);
	}
	buf = over ? mm_malloc(MS_DRAIN_CHUNK) : t->data;
	while (size > 0) {
		size_t want = over ? (size < MS_DRAIN_CHUNK ? (size_t)size : MS_DRAIN_CHUNK) :
			(size_t)size;

		if (stream_read(c->stream, over ? buf : buf + have, want, &got, fail_r,
				error_r) < 0) {
			if (over)
				mm_free(&buf);
			return stream_failf(fail_r, *fail_r, error_r, "ManageSieve: "
					    "literal cut short: %s", *error_r);
		}
		size -= got;
		if (!over)
			have += got;
	}
	if (over) {
		mm_free(&buf);
	} else {
		t->data[have] = '\0';
		t->len = have;
	}
	return 0;
}

/* Can line be the first of a ManageSieve greeting? A capability (a
 * quoted string or a literal) or a status (OK, NO, BYE); an IMAP "* OK",
 * POP3 "+OK" or SMTP "220" greeting is not. */
static int ms_sieve_first_line(const char *line, size_t len)
{
	static const char *const status[] = { "OK", "NO", "BYE" };

	if (len > 0 && (line[0] == '"' || line[0] == '{'))
		return 1;
	for (size_t i = 0; i < sizeof(status) / sizeof(status[0]); i++) {
		size_t n = strlen(status[i]);

		if (len >= n && strncasecmp(line, status[i], n) == 0 &&
		    (len == n || line[n] == ' '))
			return 1;
	}
	return 0;
}

/* Read one logical response line into l (cleared first). A literal
 * is at most max_literal bytes; one over it fails, unless drain is
 * set: then it is read, dropped and marked over. */
static int ms_read(struct managesieve_client *c, struct ms_line *l, uint64_t max_literal,
		   int drain, enum stream_fail *fail_r, const char **error_r)
{
	const char *line;
	size_t len;

	ms_line_clear(l);
	for (;;) {
		size_t i = 0;
		int literal = 0;
		uint64_t size = 0;

		if (stream_read_line(c->stream, c->max_line, &line, &len, fail_r,
				     error_r) < 0)
			return -1;
		if (c->greeting) {
			c->greeting = 0;
			if (!ms_sieve_first_line(line, len)) {
				c->foreign = 1;
				return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
						    "%s: the greeting is not ManageSieve's: "
						    "\"%s\"", c->host,
						    ms_printable(line, len));
			}
		}
		while (i < len) {
			if (line[i] == ' ') {
				i++;
			} else if (line[i] == '"') {
				char *q = mm_malloc(len);
				size_t n = 0;

				for (i++; i < len && line[i] != '"'; i++) {
					if (line[i] == '\\' && i + 1 < len)
						i++;
					q[n++] = line[i];
				}
				if (i >= len || n > MS_QUOTED_MAX) {
					mm_free(&q);
					return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
							    "ManageSieve: bad quoted "
							    "string in \"%s\"",
							    ms_printable(line, len));
				}
				i++;
				if (ms_add(l, MS_STRING, q, n, fail_r, error_r) < 0) {
					mm_free(&q);
					return -1;
				}
				mm_free(&q);
			} else if (line[i] == '(') {
				size_t start = ++i;
				int quoted = 0;

				for (; i < len && (quoted || line[i] != ')'); i++) {
					if (line[i] == '\\' && quoted && i + 1 < len)
						i++;
					else if (line[i] == '"')
						quoted = !quoted;
				}
				if (i >= len)
					return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
							    "ManageSieve: response code "
							    "without ')' in \"%s\"",
							    ms_printable(line, len));
				if (ms_add(l, MS_CODE, line + start, i - start, fail_r,
					   error_r) < 0)
					return -1;
				i++;
			} else if (line[i] == '{') {
				size_t j = i + 1;

				for (; j < len && line[j] >= '0' && line[j] <= '9'; j++) {
					if (size > (UINT64_MAX - 9) / 10)
						break;
					size = size * 10 + (uint64_t)(line[j] - '0');
				}
				if (j < len && line[j] == '+')
					j++;
				if (j == i + 1 || j + 1 != len || line[j] != '}')
					return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
							    "ManageSieve: bad literal "
							    "in \"%s\"",
							    ms_printable(line, len));
				literal = 1;
				i = len;
			} else {
				size_t start = i;

				while (i < len && line[i] != ' ' && line[i] != '"' &&
				       line[i] != '(' && line[i] != '{')
					i++;
				if (ms_add(l, MS_ATOM, line + start, i - start, fail_r,
					   error_r) < 0)
					return -1;
			}
		}
		if (!literal)
			return 0;
		if (size > max_literal && !drain)
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					    "ManageSieve: a literal of %llu bytes "
					    "(at most %llu here)",
					    (unsigned long long)size,
					    (unsigned long long)max_literal);
		if (ms_literal(c, l, size, max_literal, fail_r, error_r) < 0)
			return -1;
	}
}

/* The status of a line: 0 OK, 1 NO, 2 BYE, -1 not a status line. */
static int ms_status(const struct ms_line *l)
{
	if (l->count == 0 || l->tok[0].kind != MS_ATOM)
		return -1;
	if (strcasecmp(l->tok[0].data, "OK") == 0)
		return 0;
	if (strcasecmp(l->tok[0].data, "NO") == 0)
		return 1;
	if (strcasecmp(l->tok[0].data, "BYE") == 0)
		return 2;
	return -1;
}

/* The code of a status line ("QUOTA/MAXSIZE"), or "". */
static const char *ms_code(const struct ms_line *l)
{
	return l->count > 1 && l->tok[1].kind == MS_CODE ? l->tok[1].data : "";
}

/* The human text of a status line, printable, or "". */
static const char *ms_text(const struct ms_line *l)
{
	for (size_t i = 1; i < l->count; i++)
		if (l->tok[i].kind == MS_STRING)
			return ms_printable(l->tok[i].data, l->tok[i].len);
	return "";
}

/* A NO or BYE answer to what: classified; returns -1. */
static int ms_refused(const struct managesieve_client *c, const struct ms_line *l,
		      const char *what, enum stream_fail no_class,
		      enum stream_fail *fail_r, const char **error_r)
{
	const char *code = ms_code(l);
	int st = ms_status(l);
	enum stream_fail fail = st == 2 ? STREAM_FAIL_TEMP : no_class;
	char text[MS_REASON_MAX];

	if (strncasecmp(code, "TRYLATER", 8) == 0)
		fail = STREAM_FAIL_WAIT;
	snprintf(text, sizeof(text), "%s", ms_text(l));
	return stream_failf(fail_r, fail, error_r, "%s: %s %s%s%s%s%s", c->host, what,
			    st == 2 ? "BYE" : "NO", *code != '\0' ? " (" : "",
			    ms_printable(code, strlen(code)), *code != '\0' ? ")" : "",
			    *text != '\0' ? error_setf(" %s", text) : "");
}

/* The one answer loop: lines up to the status (OK, or NO/BYE as
 * ms_refused() classes them with what and no_class), each line before
 * it given to fn (NULL: ignored); fn's -1 ends the loop. Literals up to
 * max_literal (over: the token marked, read no further). */
static int ms_response(struct managesieve_client *c, uint64_t max_literal, int script,
		       const char *what, enum stream_fail no_class,
		       int (*fn)(struct managesieve_client *c, struct ms_line *l,
				 void *ctx, enum stream_fail *fail_r,
				 const char **error_r),
		       void *ctx, enum stream_fail *fail_r, const char **error_r)
{
	struct ms_line l = { .count = 0 };
	int ret, st;

	if (stream_flush(c->stream, fail_r, error_r) < 0)
		return -1;
	for (;;) {
		ret = ms_read(c, &l, max_literal, script, fail_r, error_r);
		if (ret < 0)
			break;
		st = ms_status(&l);
		if (st == 0)
			break;
		if (st > 0) {
			ret = ms_refused(c, &l, what, no_class, fail_r, error_r);
			break;
		}
		if (fn != NULL && (ret = fn(c, &l, ctx, fail_r, error_r)) < 0)
			break;
	}
	ms_line_clear(&l);
	return ret;
}

/* Wait for the status of a command that sends no data back (anything
 * else before it is not ours: ignored). */
static int ms_answer(struct managesieve_client *c, const char *what,
		     enum stream_fail no_class, enum stream_fail *fail_r,
		     const char **error_r)
{
	return ms_response(c, c->max_line, 0, what, no_class, NULL, NULL, fail_r,
			   error_r);
}

/* Keep a capability's value, cut to fit. */
static void ms_keep(char *dst, size_t size, const struct ms_token *t)
{
	snprintf(dst, size, "%s", t != NULL ? ms_printable(t->data, t->len) : "");
}

static int ms_capability_line(struct managesieve_client *c, struct ms_line *l,
			      void *ctx, enum stream_fail *fail_r, const char **error_r)
{
	const struct ms_token *v = l->count > 1 ? &l->tok[1] : NULL;

	(void)ctx;
	(void)fail_r;
	(void)error_r;
	if (l->count == 0 || l->tok[0].kind != MS_STRING)
		return 0;
	if (strcasecmp(l->tok[0].data, "IMPLEMENTATION") == 0)
		ms_keep(c->implementation, sizeof(c->implementation), v);
	else if (strcasecmp(l->tok[0].data, "SASL") == 0)
		ms_keep(c->sasl, sizeof(c->sasl), v);
	else if (strcasecmp(l->tok[0].data, "SIEVE") == 0)
		ms_keep(c->sieve, sizeof(c->sieve), v);
	else if (strcasecmp(l->tok[0].data, "STARTTLS") == 0)
		c->starttls = 1;
	return 0;
}

/* Read the capabilities up to OK (greeting, after STARTTLS). */
static int ms_capabilities(struct managesieve_client *c, enum stream_fail *fail_r,
			   const char **error_r)
{
	c->starttls = 0;
	c->implementation[0] = c->sasl[0] = c->sieve[0] = '\0';
	return ms_response(c, c->max_line, 0, "greeting", STREAM_FAIL_WAIT,
			   ms_capability_line, NULL, fail_r, error_r);
}

/* The one way a string goes out: quoted (short, no CR, LF or NUL) or
 * a non-synchronising literal. */
static int ms_put_string(struct managesieve_client *c, const char *s, size_t len,
			 enum stream_fail *fail_r, const char **error_r)
{
	int quoted = len <= MS_QUOTED_MAX;

	for (size_t i = 0; quoted && i < len; i++)
		quoted = s[i] != '\r' && s[i] != '\n' && s[i] != '\0';
	if (!quoted) {
		if (stream_printf(c->stream, fail_r, error_r, "{%zu+}\r\n", len) < 0)
			return -1;
		return stream_write(c->stream, s, len, fail_r, error_r);
	}
	if (stream_write(c->stream, "\"", 1, fail_r, error_r) < 0)
		return -1;
	for (size_t i = 0, start = 0; i <= len; i++) {
		if (i < len && s[i] != '"' && s[i] != '\\')
			continue;
		if (stream_write(c->stream, s + start, i - start, fail_r, error_r) < 0)
			return -1;
		if (i < len && stream_write(c->stream, "\\", 1, fail_r, error_r) < 0)
			return -1;
		start = i;
	}
	return stream_write(c->stream, "\"", 1, fail_r, error_r);
}

/* A script name we are willing to send or keep. */
static int ms_check_name(const char *name, size_t len, enum stream_fail *fail_r,
			 const char **error_r)
{
	if (len == 0 || len > MANAGESIEVE_NAME_MAX || memchr(name, '\0', len) != NULL)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "ManageSieve: "
				    "a script name of %zu bytes (1 to %d, no NUL)",
				    len, MANAGESIEVE_NAME_MAX);
	return 0;
}

int managesieve_connect(const struct managesieve_settings *set,
			struct managesieve_client **client_r,
			enum stream_fail *fail_r, const char **error_r)
{
	struct managesieve_client *c = mm_calloc(1, sizeof(*c));
	uint16_t port = set->port != 0 ? set->port : MANAGESIEVE_PORT;
	int want_tls = set->tls != CFG_TLS_NONE, refused, ret = -1;

	c->max_line = set->max_line != 0 ? set->max_line : 8192;
	c->max_script = set->max_script != 0 ? set->max_script : 1024 * 1024;
	c->max_scripts = set->max_scripts != 0 ? set->max_scripts : 1000;
	snprintf(c->host, sizeof(c->host), "%s", set->host);
	c->port = port;
	*client_r = NULL;
	if (stream_connect_probe(set->host, port, set->connect_timeout_ms != 0 ?
				 set->connect_timeout_ms : 30000, &c->stream, &refused,
				 fail_r, error_r) < 0) {
		/* Refused: nothing listens there (an answer, not an outage). */
		if (refused)
			ret = MANAGESIEVE_ABSENT;
		goto fail;
	}
	stream_set_timeout(c->stream, set->timeout_ms != 0 ? set->timeout_ms : 120000);
	c->greeting = 1;
	if (ms_capabilities(c, fail_r, error_r) < 0) {
		if (c->foreign)
			ret = MANAGESIEVE_ABSENT;
		goto fail;
	}
	if (want_tls && !c->starttls && set->tls != CFG_TLS_DETECT) {
		stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "%s: ManageSieve offers "
			     "no STARTTLS, which the TLS setting requires", set->host);
		goto fail;
	}
	if (want_tls && c->starttls) {
		if (stream_printf(c->stream, fail_r, error_r, "STARTTLS\r\n") < 0 ||
		    ms_answer(c, "STARTTLS", STREAM_FAIL_FINAL, fail_r, error_r) < 0)
			goto fail;
		if (stream_start_tls(c->stream, &set->tls_opts, fail_r, error_r) < 0 ||
		    ms_capabilities(c, fail_r, error_r) < 0)
			goto fail;
	} else if (want_tls) {
		log_warning("%s: ManageSieve offers no STARTTLS: continuing without "
			    "TLS (detect)", set->host);
	}
	*client_r = c;
	return 0;
fail:
	stream_close(&c->stream);
	mm_free(&c);
	return ret;
}

void managesieve_close(struct managesieve_client **client)
{
	struct managesieve_client *c = *client;
	enum stream_fail fail;
	const char *error;

	if (c == NULL)
		return;
	if (c->stream != NULL) {
		/* Best effort: the answer is not waited for. */
		stream_set_timeout(c->stream, 2000);
		if (stream_printf(c->stream, &fail, &error, "LOGOUT\r\n") == 0)
			(void)stream_flush(c->stream, &fail, &error);
		stream_close(&c->stream);
	}
	mm_free(client);
}

const char *managesieve_implementation(const struct managesieve_client *client)
{
	return client->implementation;
}

const char *managesieve_extensions(const struct managesieve_client *client)
{
	return client->sieve;
}

int managesieve_has_sasl(const struct managesieve_client *client, const char *mech)
{
	size_t n = strlen(mech);

	for (const char *p = client->sasl; *p != '\0'; ) {
		size_t w = strcspn(p, " ");

		if (w == n && strncasecmp(p, mech, n) == 0)
			return 1;
		p += w;
		p += strspn(p, " ");
	}
	return 0;
}

int managesieve_is_tls(const struct managesieve_client *client)
{
	return stream_is_tls(client->stream);
}

int managesieve_login(struct managesieve_client *c, const char *authzid,
		      const char *user, const char *password,
		      enum stream_fail *fail_r, const char **error_r)
{
	size_t zlen = authzid != NULL ? strlen(authzid) : 0;
	size_t ulen = strlen(user), plen = strlen(password);
	size_t rawlen = zlen + 1 + ulen + 1 + plen;
	unsigned char *raw = mm_malloc(rawlen);
	size_t blen = 4 * ((rawlen + 2) / 3);
	char *b64 = mm_malloc(blen + 1);
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
	ret = stream_printf(c->stream, fail_r, error_r, "AUTHENTICATE \"PLAIN\" ");
	if (ret == 0)
		ret = ms_put_string(c, b64, blen, fail_r, error_r);
	if (ret == 0)
		ret = stream_write(c->stream, "\r\n", 2, fail_r, error_r);
	mm_wipe(b64, blen);
	mm_free(&b64);
	if (ret < 0)
		return -1;
	/* A challenge instead of a status (a string) is a protocol error
	 * for PLAIN with an initial response: ms_answer() skips it and the
	 * server then refuses or times out. */
	return ms_answer(c, "login", STREAM_FAIL_AUTH, fail_r, error_r);
}

struct ms_oauth_ctx {
	enum cfg_source_auth mech;
	int challenged;
	char said[MS_REASON_MAX];
};

/* A string alone before the status is a SASL challenge (RFC 5804 2.1):
 * with OAuth only the server's error (a JSON object, RFC 7628 3.2.2),
 * answered so that the server sends its NO; a second is no protocol. */
static int ms_oauth_challenge(struct managesieve_client *c, struct ms_line *l,
			      void *context, enum stream_fail *fail_r,
			      const char **error_r)
{
	struct ms_oauth_ctx *ctx = context;
	const char *reply = sasl_oauth_error_reply(ctx->mech);

	if (l->count != 1 || l->tok[0].kind != MS_STRING)
		return 0;
	if (ctx->challenged++)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "%s: "
				    "AUTHENTICATE %s: a second challenge from the "
				    "server", c->host, sasl_oauth_mech_name(ctx->mech));
	sasl_oauth_challenge_text(l->tok[0].data, l->tok[0].len, ctx->said,
				  sizeof(ctx->said));
	if (ms_put_string(c, reply, strlen(reply), fail_r, error_r) < 0 ||
	    stream_write(c->stream, "\r\n", 2, fail_r, error_r) < 0)
		return -1;
	return stream_flush(c->stream, fail_r, error_r);
}

int managesieve_login_oauth(struct managesieve_client *c, enum cfg_source_auth mech,
			    const char *user, const char *token,
			    enum stream_fail *fail_r, const char **error_r)
{
	struct ms_oauth_ctx ctx = { .mech = mech };
	const char *name = sasl_oauth_mech_name(mech);
	char *b64;
	int ret;

	if (name == NULL)
		log_panic("managesieve_login_oauth: not an OAuth mechanism");
	if (!managesieve_has_sasl(c, name))
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "%s: the "
				    "ManageSieve server does not offer SASL %s, "
				    "which source_auth needs (it offers: %s)", c->host,
				    name, ms_printable(c->sasl, strlen(c->sasl)));
	b64 = sasl_oauth_initial(mech, user, token, c->host, c->port);
	if (b64 == NULL)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "the login "
				    "name or the token holds a control or 8-bit byte: "
				    "not sent");
	ret = stream_printf(c->stream, fail_r, error_r, "AUTHENTICATE \"%s\" ", name);
	if (ret == 0)
		ret = ms_put_string(c, b64, strlen(b64), fail_r, error_r);
	if (ret == 0)
		ret = stream_write(c->stream, "\r\n", 2, fail_r, error_r);
	mm_free_secret(&b64);
	if (ret == 0)
		ret = ms_response(c, c->max_line, 0, "login", STREAM_FAIL_AUTH,
				  ms_oauth_challenge, &ctx, fail_r, error_r);
	if (ret < 0 && *fail_r == STREAM_FAIL_AUTH && ctx.said[0] != '\0')
		return stream_failf(fail_r, STREAM_FAIL_AUTH, error_r, "%s (the "
				    "server said: %s)", *error_r, ctx.said);
	return ret;
}

void managesieve_scripts_free(struct managesieve_script **scripts, size_t count)
{
	if (*scripts == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		mm_free(&(*scripts)[i].name);
	mm_free(scripts);
}

struct ms_list_ctx {
	struct managesieve_script *s;
	size_t n;
};

static int ms_list_line(struct managesieve_client *c, struct ms_line *l, void *context,
			enum stream_fail *fail_r, const char **error_r)
{
	struct ms_list_ctx *ctx = context;

	if (l->count == 0 || l->tok[0].kind != MS_STRING ||
	    (l->count > 1 && (l->tok[1].kind != MS_ATOM ||
			      strcasecmp(l->tok[1].data, "ACTIVE") != 0)))
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "%s: "
				    "LISTSCRIPTS: not a script line", c->host);
	if (ms_check_name(l->tok[0].data, l->tok[0].len, fail_r, error_r) < 0)
		return -1;
	if (ctx->n == c->max_scripts)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "%s: more "
				    "than %zu Sieve scripts", c->host, c->max_scripts);
	ctx->s = mm_reallocarray(ctx->s, ctx->n + 1, sizeof(*ctx->s));
	ctx->s[ctx->n].name = mm_strdup(l->tok[0].data);
	ctx->s[ctx->n].active = l->count > 1;
	ctx->n++;
	return 0;
}

int managesieve_list(struct managesieve_client *c, struct managesieve_script **scripts_r,
		     size_t *count_r, enum stream_fail *fail_r, const char **error_r)
{
	struct ms_list_ctx ctx = { NULL, 0 };

	*scripts_r = NULL;
	*count_r = 0;
	if (stream_printf(c->stream, fail_r, error_r, "LISTSCRIPTS\r\n") < 0 ||
	    ms_response(c, MANAGESIEVE_NAME_MAX, 0, "LISTSCRIPTS", STREAM_FAIL_FINAL,
			ms_list_line, &ctx, fail_r, error_r) < 0) {
		managesieve_scripts_free(&ctx.s, ctx.n);
		return -1;
	}
	*scripts_r = ctx.s;
	*count_r = ctx.n;
	return 0;
}

struct ms_get_ctx {
	char *data;
	size_t len;
	int have, over;
};

static int ms_get_line(struct managesieve_client *c, struct ms_line *l, void *context,
		       enum stream_fail *fail_r, const char **error_r)
{
	struct ms_get_ctx *ctx = context;

	if (l->count != 1 || l->tok[0].kind != MS_STRING || ctx->have)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "%s: "
				    "GETSCRIPT: not a script", c->host);
	ctx->have = 1;
	ctx->over = l->tok[0].over;
	ctx->data = l->tok[0].data;
	ctx->len = l->tok[0].len;
	l->tok[0].data = NULL;
	return 0;
}

int managesieve_get(struct managesieve_client *c, const char *name, char **data_r,
		    size_t *len_r, enum stream_fail *fail_r, const char **error_r)
{
	struct ms_get_ctx ctx = { NULL, 0, 0, 0 };
	char what[MS_REASON_MAX + 16];
	int ret;

	*data_r = NULL;
	*len_r = 0;
	if (ms_check_name(name, strlen(name), fail_r, error_r) < 0 ||
	    stream_printf(c->stream, fail_r, error_r, "GETSCRIPT ") < 0 ||
	    ms_put_string(c, name, strlen(name), fail_r, error_r) < 0 ||
	    stream_printf(c->stream, fail_r, error_r, "\r\n") < 0)
		return -1;
	snprintf(what, sizeof(what), "GETSCRIPT %s", ms_printable(name, strlen(name)));
	ret = ms_response(c, c->max_script, 1, what, STREAM_FAIL_MESSAGE, ms_get_line,
			  &ctx, fail_r, error_r);
	if (ret == 0 && !ctx.have)
		ret = stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "%s: GETSCRIPT: "
				   "OK without the script", c->host);
	if (ret == 0 && ctx.over)
		ret = stream_failf(fail_r, STREAM_FAIL_MESSAGE, error_r, "larger than "
				   "%llu bytes, the most a script is read",
				   (unsigned long long)c->max_script);
	if (ret < 0) {
		mm_free(&ctx.data);
		return -1;
	}
	*data_r = ctx.data;
	*len_r = ctx.len;
	return 0;
}

int managesieve_put(struct managesieve_client *c, const char *name, const char *data,
		    size_t len, enum stream_fail *fail_r, const char **error_r)
{
	if (ms_check_name(name, strlen(name), fail_r, error_r) < 0)
		return -1;
	/* The script always as a literal: byte for byte, whatever it holds. */
	if (stream_printf(c->stream, fail_r, error_r, "PUTSCRIPT ") < 0 ||
	    ms_put_string(c, name, strlen(name), fail_r, error_r) < 0 ||
	    stream_printf(c->stream, fail_r, error_r, " {%zu+}\r\n", len) < 0 ||
	    stream_write(c->stream, data, len, fail_r, error_r) < 0 ||
	    stream_write(c->stream, "\r\n", 2, fail_r, error_r) < 0)
		return -1;
	return ms_answer(c, "PUTSCRIPT", STREAM_FAIL_MESSAGE, fail_r, error_r);
}

int managesieve_setactive(struct managesieve_client *c, const char *name,
			  enum stream_fail *fail_r, const char **error_r)
{
	if ((*name != '\0' && ms_check_name(name, strlen(name), fail_r, error_r) < 0) ||
	    stream_printf(c->stream, fail_r, error_r, "SETACTIVE ") < 0 ||
	    ms_put_string(c, name, strlen(name), fail_r, error_r) < 0 ||
	    stream_printf(c->stream, fail_r, error_r, "\r\n") < 0)
		return -1;
	return ms_answer(c, "SETACTIVE", STREAM_FAIL_FINAL, fail_r, error_r);
}
