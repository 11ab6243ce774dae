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

struct alias_tally;

/* NULL for access_mode username: nothing to gather. */
struct alias_tally *alias_tally_new(enum cfg_access_mode mode, const char *account);
void alias_tally_free(struct alias_tally **t);

/* One message: begin, feed its bytes from the start (as many calls as
 * wanted; bytes past the header are ignored), end. */
void alias_tally_begin(struct alias_tally *t);
void alias_tally_feed(struct alias_tally *t, const void *data, size_t len);
void alias_tally_end(struct alias_tally *t);

/* Messages counted so far. */
uint64_t alias_tally_messages(const struct alias_tally *t);

/* Call fn for each address the mode selects and accept (may be NULL)
 * returns non-zero for, in first-seen order; the account itself is
 * never given. */
void alias_tally_result(const struct alias_tally *t,
			int (*accept)(const char *addr, void *ctx),
			void (*fn)(const char *addr, void *ctx), void *ctx);

#endif
