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
 */
#include "config.h"

#include <string.h>

#include "alias_tally.h"
#include "mail_header.h"
#include "mm_alloc.h"

#define KIND_TO 1
#define KIND_CC 2
#define KIND_ENVELOPE 4

struct alias_entry {
	char *addr;
	uint64_t to;		/* messages with it in To: */
	uint64_t to_cc;		/* messages with it in To: or Cc: */
	uint64_t envelope;	/* messages delivered to it */
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
	mm_free(&t->account);
	mm_free(tp);
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

static void tally_addr(enum mail_header_source src, const char *addr, void *ctx)
{
	struct alias_tally *t = ctx;
	struct alias_entry *e = NULL;
	uint64_t msg = t->messages + 1;
	unsigned kind = src == MAIL_HEADER_TO ? KIND_TO : src == MAIL_HEADER_CC ?
		KIND_CC : KIND_ENVELOPE;

	for (size_t i = 0; i < t->count; i++) {
		if (strcmp(t->entries[i].addr, addr) == 0) {
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
		e->addr = mm_strdup(addr);
	}
	/* Each message counts once per address and kind. */
	if (e->cur_msg != msg) {
		e->cur_msg = msg;
		e->cur_kinds = 0;
	}
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
	mail_header_addresses(t->hdr, t->hdr_len, tally_addr, t);
	t->messages++;
	t->hdr_len = 0;
	t->hdr_done = 1;
}

uint64_t alias_tally_messages(const struct alias_tally *t)
{
	return t == NULL ? 0 : t->messages;
}

void alias_tally_result(const struct alias_tally *t,
			int (*accept)(const char *addr, void *ctx),
			void (*fn)(const char *addr, void *ctx), void *ctx)
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
			fn(best->addr, ctx);
		return;
	}
	for (size_t i = 0; i < t->count; i++) {
		const struct alias_entry *e = &t->entries[i];

		if (strcmp(e->addr, t->account) == 0)
			continue;
		if (e->envelope == 0 && (e->to_cc < 2 || e->to_cc * 4 < t->messages))
			continue;
		if (accept == NULL || accept(e->addr, ctx))
			fn(e->addr, ctx);
	}
}
