/*
 * NAME
 *	mail_header 3
 * SUMMARY
 *	bounded reading of a message's header block
 * DESCRIPTION
 *	Enough of RFC 5322 to find dates, Message-IDs and recipient
 *	addresses in mail of any age: fields unfolded into a fixed buffer,
 *	address lists split outside quoted strings, comments and angle
 *	brackets, groups skipped over. Malformed input yields fewer
 *	results, never an overrun.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "mail_header.h"

size_t mail_header_next(const char *hdr, size_t len, size_t *pos, char *field,
			size_t size)
{
	size_t i = *pos, n = 0;

	while (i < len) {
		char ch = hdr[i++];

		if (ch == '\n') {
			if (n > 0 && i < len && (hdr[i] == ' ' || hdr[i] == '\t'))
				continue;	/* folded: go on */
			break;
		}
		if (ch != '\r' && n + 1 < size)
			field[n++] = ch == '\t' ? ' ' : ch;
	}
	field[n] = '\0';
	*pos = n == 0 ? len : i;	/* the empty line ends the block */
	return n;
}

/* The value of field if it is called name (with the colon), else NULL. */
static const char *field_value(const char *field, const char *name)
{
	size_t n = strlen(name);

	if (strncasecmp(field, name, n) != 0 || field[n] != ':')
		return NULL;
	field += n + 1;
	while (*field == ' ')
		field++;
	return field;
}

int mail_header_token(const char *hdr, size_t len, const char *name, char *out,
		      size_t size)
{
	char field[MAIL_HEADER_MAX_FIELD];
	size_t pos = 0;

	out[0] = '\0';
	while (mail_header_next(hdr, len, &pos, field, sizeof(field)) > 0) {
		const char *v = field_value(field, name);
		size_t n;

		if (v == NULL)
			continue;
		n = strcspn(v, " ");
		if (n == 0 || n >= size || v[n + strspn(v + n, " ")] != '\0')
			return 0;
		memcpy(out, v, n);
		out[n] = '\0';
		return 1;
	}
	return 0;
}

int mail_header_message_id(const char *hdr, size_t len, char *out, size_t size)
{
	char field[MAIL_HEADER_MAX_FIELD];
	size_t pos = 0;

	out[0] = '\0';
	while (mail_header_next(hdr, len, &pos, field, sizeof(field)) > 0) {
		const char *v = field_value(field, "Message-ID"), *lt, *gt;
		size_t n;

		if (v == NULL)
			continue;
		lt = strchr(v, '<');
		gt = lt != NULL ? strchr(lt, '>') : NULL;
		if (lt != NULL && gt != NULL) {
			v = lt;
			n = (size_t)(gt - lt) + 1;
		} else {
			n = strlen(v);
			while (n > 0 && v[n - 1] == ' ')
				n--;
		}
		if (n == 0 || n >= size)
			return 0;
		memcpy(out, v, n);
		out[n] = '\0';
		return 1;
	}
	return 0;
}

struct addr_ctx {
	void (*fn)(const struct mail_header_addr *a, void *ctx);
	void *ctx;
	enum mail_header_source src;
	unsigned received;	/* Received: fields seen so far */
	char by[MAIL_HEADER_MAX_HOST + 1];	/* the current one's "by" host */
};

/* Check and lowercase one address candidate, then report it. */
static void addr_emit(struct addr_ctx *ac, const char *s, size_t n)
{
	char addr[MAIL_HEADER_MAX_ADDRESS + 1];
	const char *at;

	while (n > 0 && *s == ' ') {
		s++;
		n--;
	}
	while (n > 0 && s[n - 1] == ' ')
		n--;
	if (n == 0 || n > MAIL_HEADER_MAX_ADDRESS)
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= ' ' || ch == 0x7f || ch == '<' || ch == '>' || ch == ',' ||
		    ch == ':' || ch == ';' || ch == '"' || ch == '(' || ch == ')')
			return;
		addr[i] = (char)tolower(ch);
	}
	addr[n] = '\0';
	at = strchr(addr, '@');
	if (at == NULL || at == addr || at[1] == '\0' || strchr(at + 1, '@') != NULL)
		return;
	{
		struct mail_header_addr a = {
			ac->src, addr,
			ac->src == MAIL_HEADER_RECEIVED_FOR ? ac->received : 0,
			ac->src == MAIL_HEADER_RECEIVED_FOR ? ac->by : "",
		};

		ac->fn(&a, ac->ctx);
	}
}

/* An RFC 5322 address list: mailboxes split at ',' outside quotes,
 * comments and angle brackets; "name: a, b;" groups opened at ':'. */
static void addr_list(struct addr_ctx *ac, const char *v)
{
	char bare[MAIL_HEADER_MAX_ADDRESS + 2];
	const char *angle = NULL, *angle_end = NULL;
	size_t nbare = 0;
	int depth = 0, quoted = 0, in_angle = 0, bare_space = 0;

	for (const char *p = v;; p++) {
		char ch = *p;

		if (ch == '\0' || (!quoted && depth == 0 && !in_angle &&
				   (ch == ',' || ch == ';'))) {
			if (angle != NULL && angle_end != NULL)
				addr_emit(ac, angle, (size_t)(angle_end - angle));
			else if (nbare > 0 && !bare_space && nbare <= MAIL_HEADER_MAX_ADDRESS)
				addr_emit(ac, bare, nbare);
			angle = angle_end = NULL;
			nbare = 0;
			bare_space = 0;
			if (ch == '\0')
				return;
			continue;
		}
		if (quoted) {
			if (ch == '\\' && p[1] != '\0')
				p++;
			else if (ch == '"')
				quoted = 0;
			continue;
		}
		if (in_angle) {
			if (ch == '>') {
				angle_end = p;
				in_angle = 0;
			}
			continue;
		}
		if (depth > 0) {
			if (ch == '\\' && p[1] != '\0')
				p++;
			else if (ch == '(')
				depth++;
			else if (ch == ')')
				depth--;
			continue;
		}
		switch (ch) {
		case '"':
			quoted = 1;
			bare_space = nbare > 0;
			break;
		case '(':
			depth = 1;
			break;
		case '<':
			in_angle = 1;
			angle = p + 1;
			angle_end = NULL;
			break;
		case ':':
			/* A group's name (or a source route: ignored). */
			nbare = 0;
			bare_space = 0;
			break;
		case ' ':
			if (nbare > 0)
				bare_space = 1;
			break;
		default:
			if (bare_space) {
				/* "display name" words: not an addr-spec. */
				nbare = MAIL_HEADER_MAX_ADDRESS + 1;
			} else if (nbare <= MAIL_HEADER_MAX_ADDRESS) {
				bare[nbare++] = ch;
			}
			break;
		}
	}
}

/* The host after the first " by " of a Received: value (before its
 * date), lowercased into ac->by; "" if none or too long. */
static void received_by(struct addr_ctx *ac, const char *v, size_t end)
{
	const char *p = NULL, *q;

	ac->by[0] = '\0';
	if (strncasecmp(v, "by ", 3) == 0) {
		p = v + 3;
	} else {
		for (size_t i = 0; i + 4 <= end; i++) {
			if (strncasecmp(v + i, " by ", 4) == 0) {
				p = v + i + 4;
				break;
			}
		}
	}
	if (p == NULL)
		return;
	while (p < v + end && *p == ' ')
		p++;
	for (q = p; q < v + end && *q != ' ' && *q != ';' && *q != '('; q++)
		;
	if (q == p || (size_t)(q - p) > MAIL_HEADER_MAX_HOST)
		return;
	for (size_t i = 0; i < (size_t)(q - p); i++)
		ac->by[i] = (char)tolower((unsigned char)p[i]);
	ac->by[q - p] = '\0';
}

/* "Received: from a by b with ESMTP id c for <x@y>; date". Comments
 * are dropped first: they hold peer-chosen text (HELO names, rDNS). */
static void received_for(struct addr_ctx *ac, const char *value)
{
	char v[MAIL_HEADER_MAX_FIELD];
	const char *semi;
	size_t n = 0, end;
	int depth = 0;

	for (const char *p = value; *p != '\0' && n + 1 < sizeof(v); p++) {
		if (*p == '\\' && depth > 0 && p[1] != '\0')
			p++;
		else if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		else if (depth == 0)
			v[n++] = *p;
	}
	v[n] = '\0';
	semi = strrchr(v, ';');
	end = semi != NULL ? (size_t)(semi - v) : n;
	ac->received++;
	received_by(ac, v, end);
	for (size_t i = 0; i + 5 <= end; i++) {
		const char *p, *q;

		if (strncasecmp(v + i, " for ", 5) != 0)
			continue;
		p = v + i + 5;
		while (*p == ' ')
			p++;
		if (*p == '<')
			p++;
		q = p;
		while (q < v + end && *q != '>' && *q != ' ' && *q != ';')
			q++;
		addr_emit(ac, p, (size_t)(q - p));
		return;
	}
}

void mail_header_addresses_at(const char *hdr, size_t len,
			      void (*fn)(const struct mail_header_addr *a,
					 void *ctx),
			      void *ctx)
{
	char field[MAIL_HEADER_MAX_FIELD];
	struct addr_ctx ac = { fn, ctx, MAIL_HEADER_TO, 0, "" };
	size_t pos = 0;

	while (mail_header_next(hdr, len, &pos, field, sizeof(field)) > 0) {
		const char *v;

		if ((v = field_value(field, "To")) != NULL) {
			ac.src = MAIL_HEADER_TO;
			addr_list(&ac, v);
		} else if ((v = field_value(field, "Cc")) != NULL) {
			ac.src = MAIL_HEADER_CC;
			addr_list(&ac, v);
		} else if ((v = field_value(field, "X-Envelope-To")) != NULL) {
			ac.src = MAIL_HEADER_ENVELOPE_TO;
			addr_list(&ac, v);
		} else if ((v = field_value(field, "Received")) != NULL) {
			ac.src = MAIL_HEADER_RECEIVED_FOR;
			received_for(&ac, v);
		}
	}
}

struct addr_compat {
	void (*fn)(enum mail_header_source src, const char *addr, void *ctx);
	void *ctx;
};

static void addr_compat_one(const struct mail_header_addr *a, void *context)
{
	struct addr_compat *c = context;

	c->fn(a->src, a->addr, c->ctx);
}

void mail_header_addresses(const char *hdr, size_t len,
			   void (*fn)(enum mail_header_source src, const char *addr,
				      void *ctx),
			   void *ctx)
{
	struct addr_compat c = { fn, ctx };

	mail_header_addresses_at(hdr, len, addr_compat_one, &c);
}
