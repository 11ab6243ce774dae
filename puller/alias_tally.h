/*
 * NAME
 *	alias_tally 3h
 * SUMMARY
 *	gather an account's addresses from the headers of its copied mail
 * DESCRIPTION
 *	The access_mode of a domain (mailmigrate.conf(5)) says what
 *	addresses, besides the login name, reach an account:
 *	"standard": the one address most often in the To: field of its
 *	received mail; "extended": every address that mail was delivered
 *	to (X-Envelope-To:, the "for" clause of Received:), and the To:
 *	and Cc: addresses seen in at least a quarter of its received
 *	mail (and in two messages or more). The puller feeds the first
 *	bytes of each copied message; alias_tally_result() gives the
 *	addresses an accept function (domain served here, not another
 *	account) lets through.
 * TRUST
 *	Every header but one is written by whoever sent the message: a
 *	single "X-Envelope-To: ceo@domain" would make ceo an alias of the
 *	mailbox that received it. Only the "for" clause of the topmost
 *	Received: field (the last hop: nothing the sender writes can be
 *	above it) whose "by" host is one of the domain's
 *	source_mx_names is OLD's own word; alias_tally_result_found()
 *	marks such an address trusted. The caller makes every other
 *	one a proposal for the administrator to approve.
 * LIMITS
 *	ALIAS_TALLY_HEADER bytes of header per message, ALIAS_TALLY_MAX
 *	distinct addresses per account (later ones are not counted).
 */
#ifndef MM_ALIAS_TALLY_H
#define MM_ALIAS_TALLY_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

#define ALIAS_TALLY_HEADER 16384
#define ALIAS_TALLY_MAX 256
#define ALIAS_TALLY_MAX_MX 32	/* source_mx_names kept (later ones ignored) */

/* Where an address was seen (bits of alias_tally_found.sources; the
 * same values as STORE_ALIAS_SRC_*). */
#define ALIAS_TALLY_TO 0x01
#define ALIAS_TALLY_CC 0x02
#define ALIAS_TALLY_ENVELOPE_TO 0x04	/* X-Envelope-To: */
#define ALIAS_TALLY_RECEIVED 0x08	/* Received: "for", any other hop */
#define ALIAS_TALLY_RECEIVED_MX 0x10	/* the topmost Received: by OLD's MTA */

/* One address the mode selected. */
struct alias_tally_found {
	const char *addr;	/* valid during the callback */
	unsigned sources;	/* ALIAS_TALLY_* */
	uint64_t messages;	/* messages it was seen in */
	int trusted;		/* seen in OLD's own Received: hop */
};

struct alias_tally;

/* NULL for access_mode username: nothing to gather. */
struct alias_tally *alias_tally_new(enum cfg_access_mode mode, const char *account);
void alias_tally_free(struct alias_tally **t);

/* One message: begin, feed its bytes from the start (as many calls as
 * wanted; bytes past the header are ignored), end. */
void alias_tally_begin(struct alias_tally *t);
void alias_tally_feed(struct alias_tally *t, const void *data, size_t len);
void alias_tally_end(struct alias_tally *t);

/* Trust the "for" of the topmost Received: field when its "by" host
 * is one of names (source_mx_names: host names separated by spaces or
 * commas, compared without case; NULL: trust none). Names over
 * MAIL_HEADER_MAX_HOST bytes are ignored. */
void alias_tally_set_mx_names(struct alias_tally *t, const char *names);

/* Messages counted so far. */
uint64_t alias_tally_messages(const struct alias_tally *t);

/* Call fn for each address the mode selects and accept (may be NULL)
 * returns non-zero for, in first-seen order; the account itself is
 * never given. */
void alias_tally_result(const struct alias_tally *t,
			int (*accept)(const char *addr, void *ctx),
			void (*fn)(const char *addr, void *ctx), void *ctx);
/* The same, with where each address was seen and whether it is
 * trusted (see TRUST). */
void alias_tally_result_found(const struct alias_tally *t,
			      int (*accept)(const char *addr, void *ctx),
			      void (*fn)(const struct alias_tally_found *f,
					 void *ctx),
			      void *ctx);

#endif
