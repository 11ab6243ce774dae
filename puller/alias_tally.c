/*
 * NAME
 *	alias_tally 3
 * SUMMARY
 *	gather an account's addresses from the headers of its copied mail
 * DESCRIPTION
 *	The header of each message is kept (bounded) while its body
 *	streams to NEW, then read by mail_header_addresses(). Counts are
 *	per distinct address; the selection happens at the end of the
 *	round, so one odd message cannot make an alias in "standard" mode.
 *	An address is trusted once it is the "for" of a message's topmost
 *	Received: field written by one of source_mx_names.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "alias_tally.h"
#include "mail_header.h"
#include "mm_alloc.h"

#define KIND_TO 1
#define KIND_CC 2
#define KIND_ENVELOPE 4
#define KIND_SEEN 8		/* any: counted in seen */

struct alias_entry {
	char *addr;
	uint64_t to;		/* messages with it in To: */
	uint64_t to_cc;		/* messages with it in To: or Cc: */
	uint64_t envelope;	/* messages delivered to it */
	uint64_t seen;		/* messages it was in at all */
	uint64_t trusted;	/* messages whose own Received: hop names it */
	unsigned sources;	/* ALIAS_TALLY_* */
	uint64_t cur_msg;	/* the message cur_kinds is about */
	unsigned cur_kinds;	/* KIND_* already counted for it */
};

struct alias_tally {
	enum cfg_access_mode mode;
	char *account;
	char hdr[ALIAS_TALLY_HEADER];
	size_t hdr_len;
	int hdr_done;
	uint64_t messages;
	struct alias_entry *entries;
	size_t count;
	char *mx[ALIAS_TALLY_MAX_MX];	/* source_mx_names, lowercased */
	size_t mx_count;
};

struct alias_tally *alias_tally_new(enum cfg_access_mode mode, const char *account)
{
	struct alias_tally *t;

	if (mode == CFG_ACCESS_USERNAME)
		return NULL;
	t = mm_calloc(1, sizeof(*t));
	t->mode = mode;
	t->account = mm_strdup(account);
	return t;
}

void alias_tally_free(struct alias_tally **tp)
{
	struct alias_tally *t = *tp;

	if (t == NULL)
		return;
	for (size_t i = 0; i < t->count; i++)
		mm_free(&t->entries[i].addr);
	mm_free(&t->entries);
	for (size_t i = 0; i < t->mx_count; i++)
		mm_free(&t->mx[i]);
	mm_free(&t->account);
	mm_free(tp);
}

void alias_tally_set_mx_names(struct alias_tally *t, const char *names)
{
	const char *p = names, *q;

	if (t == NULL || names == NULL)
		return;
	while (*p != '\0' && t->mx_count < ALIAS_TALLY_MAX_MX) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		for (q = p; *q != '\0' && *q != ' ' && *q != ',' && *q != '\t'; q++)
			;
		if (q > p && (size_t)(q - p) <= MAIL_HEADER_MAX_HOST)
			t->mx[t->mx_count++] = mm_strndup(p, (size_t)(q - p));
		p = q;
	}
}

/* Is host (lowercased) one of source_mx_names? */
static int tally_is_mx(const struct alias_tally *t, const char *host)
{
	if (host[0] == '\0')
		return 0;
	for (size_t i = 0; i < t->mx_count; i++)
		if (strcasecmp(t->mx[i], host) == 0)
			return 1;
	return 0;
}

void alias_tally_begin(struct alias_tally *t)
{
	if (t == NULL)
		return;
	t->hdr_len = 0;
	t->hdr_done = 0;
}

void alias_tally_feed(struct alias_tally *t, const void *data, size_t len)
{
	size_t from, room;

	if (t == NULL || t->hdr_done)
		return;
	room = sizeof(t->hdr) - t->hdr_len;
	if (len > room)
		len = room;
	from = t->hdr_len > 3 ? t->hdr_len - 3 : 0;
	memcpy(t->hdr + t->hdr_len, data, len);
	t->hdr_len += len;
	/* Stop keeping bytes at the empty line that ends the header. */
	for (size_t i = from; i + 1 < t->hdr_len; i++) {
		if (t->hdr[i] != '\n')
			continue;
		if (t->hdr[i + 1] == '\n' ||
		    (t->hdr[i + 1] == '\r' && i + 2 < t->hdr_len && t->hdr[i + 2] == '\n')) {
			t->hdr_len = i + 1;
			t->hdr_done = 1;
			return;
		}
	}
	if (t->hdr_len == sizeof(t->hdr))
		t->hdr_done = 1;
}

static void tally_addr(const struct mail_header_addr *a, void *ctx)
{
	struct alias_tally *t = ctx;
	struct alias_entry *e = NULL;
	uint64_t msg = t->messages + 1;
	unsigned kind, source;
	int trusted = 0;

	switch (a->src) {
	case MAIL_HEADER_TO:
		kind = KIND_TO;
		source = ALIAS_TALLY_TO;
		break;
	case MAIL_HEADER_CC:
		kind = KIND_CC;
		source = ALIAS_TALLY_CC;
		break;
	case MAIL_HEADER_ENVELOPE_TO:
		kind = KIND_ENVELOPE;
		source = ALIAS_TALLY_ENVELOPE_TO;
		break;
	default:
		kind = KIND_ENVELOPE;
		trusted = a->received == 1 && tally_is_mx(t, a->by);
		source = trusted ? ALIAS_TALLY_RECEIVED_MX : ALIAS_TALLY_RECEIVED;
		break;
	}
	for (size_t i = 0; i < t->count; i++) {
		if (strcmp(t->entries[i].addr, a->addr) == 0) {
			e = &t->entries[i];
			break;
		}
	}
	if (e == NULL) {
		if (t->count == ALIAS_TALLY_MAX)
			return;
		t->entries = mm_reallocarray(t->entries, t->count + 1, sizeof(*e));
		e = &t->entries[t->count++];
		memset(e, 0, sizeof(*e));
		e->addr = mm_strdup(a->addr);
	}
	/* Each message counts once per address and kind. */
	if (e->cur_msg != msg) {
		e->cur_msg = msg;
		e->cur_kinds = 0;
	}
	e->sources |= source;
	if (trusted)
		e->trusted++;	/* one topmost Received: per message */
	if ((e->cur_kinds & KIND_SEEN) == 0)
		e->seen++;
	e->cur_kinds |= KIND_SEEN;
	if ((e->cur_kinds & kind) != 0)
		return;
	if (kind == KIND_ENVELOPE)
		e->envelope++;
	else if ((e->cur_kinds & (KIND_TO | KIND_CC)) == 0)
		e->to_cc++;
	if (kind == KIND_TO)
		e->to++;
	e->cur_kinds |= kind;
}

void alias_tally_end(struct alias_tally *t)
{
	if (t == NULL || t->hdr_len == 0)
		return;
	mail_header_addresses_at(t->hdr, t->hdr_len, tally_addr, t);
	t->messages++;
	t->hdr_len = 0;
	t->hdr_done = 1;
}

uint64_t alias_tally_messages(const struct alias_tally *t)
{
	return t == NULL ? 0 : t->messages;
}

/* Give e to fn as an alias_tally_found. */
static void tally_give(const struct alias_entry *e,
		       void (*fn)(const struct alias_tally_found *f, void *ctx),
		       void *ctx)
{
	struct alias_tally_found f = { e->addr, e->sources, e->seen, e->trusted > 0 };

	fn(&f, ctx);
}

void alias_tally_result_found(const struct alias_tally *t,
			      int (*accept)(const char *addr, void *ctx),
			      void (*fn)(const struct alias_tally_found *f,
					 void *ctx),
			      void *ctx)
{
	const struct alias_entry *best = NULL;

	if (t == NULL)
		return;
	if (t->mode == CFG_ACCESS_STANDARD) {
		for (size_t i = 0; i < t->count; i++)
			if (t->entries[i].to > 0 &&
			    (best == NULL || t->entries[i].to > best->to))
				best = &t->entries[i];
		/* The login name is the address most written to: no alias. */
		if (best != NULL && strcmp(best->addr, t->account) != 0 &&
		    (accept == NULL || accept(best->addr, ctx)))
			tally_give(best, fn, ctx);
		return;
	}
	for (size_t i = 0; i < t->count; i++) {
		const struct alias_entry *e = &t->entries[i];

		if (strcmp(e->addr, t->account) == 0)
			continue;
		if (e->envelope == 0 && (e->to_cc < 2 || e->to_cc * 4 < t->messages))
			continue;
		if (accept == NULL || accept(e->addr, ctx))
			tally_give(e, fn, ctx);
	}
}

struct tally_compat {
	int (*accept)(const char *addr, void *ctx);
	void (*fn)(const char *addr, void *ctx);
	void *ctx;
};

static int tally_compat_accept(const char *addr, void *context)
{
	struct tally_compat *c = context;

	return c->accept == NULL || c->accept(addr, c->ctx);
}

static void tally_compat_one(const struct alias_tally_found *f, void *context)
{
	struct tally_compat *c = context;

	c->fn(f->addr, c->ctx);
}

void alias_tally_result(const struct alias_tally *t,
			int (*accept)(const char *addr, void *ctx),
			void (*fn)(const char *addr, void *ctx), void *ctx)
{
	struct tally_compat c = { accept, fn, ctx };

	alias_tally_result_found(t, tally_compat_accept, tally_compat_one, &c);
}
