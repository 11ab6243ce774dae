/*
 * NAME
 *	mail_header 3h
 * SUMMARY
 *	bounded reading of a message's header block
 * DESCRIPTION
 *	The header block is the bytes before the first empty line (CRLF or
 *	bare LF). Fields are returned unfolded, tabs as spaces, CRs
 *	dropped, cut at the caller's buffer size; nothing here allocates
 *	or reads past len.
 */
#ifndef MM_MAIL_HEADER_H
#define MM_MAIL_HEADER_H

#include <stddef.h>

#define MAIL_HEADER_MAX_FIELD 1024	/* longer fields are cut */
#define MAIL_HEADER_MAX_ADDRESS 320

/* The next field at *pos into field (NUL-terminated, at most size - 1
 * bytes). @return its length, or 0 at the end of the header block. */
size_t mail_header_next(const char *hdr, size_t len, size_t *pos, char *field,
			size_t size);

/* The Message-ID ("<local@domain>", the angle brackets kept; a value
 * without them is taken trimmed) in out. 1 if found, 0 if not. */
int mail_header_message_id(const char *hdr, size_t len, char *out, size_t size);
/* The value of the first field called name (without the colon) when it
 * is one token (no spaces inside) shorter than size, such as the X-UIDL:
 * of a POP3 copy, into out: 1, else 0. */
int mail_header_token(const char *hdr, size_t len, const char *name, char *out,
		      size_t size);

/* Where an address was found. */
enum mail_header_source {
	MAIL_HEADER_TO,
	MAIL_HEADER_CC,
	MAIL_HEADER_ENVELOPE_TO,	/* X-Envelope-To: */
	MAIL_HEADER_RECEIVED_FOR,	/* Received: ... for <addr> */
};

/* Call fn for each address (lowercased, "local@domain") in the To:,
 * Cc:, X-Envelope-To: fields and the "for" clause of Received: fields;
 * fn returns non-zero to stop. Group syntax, display names, comments
 * and quoted strings are skipped; an address over
 * MAIL_HEADER_MAX_ADDRESS bytes or without '@' is ignored. */
void mail_header_addresses(const char *hdr, size_t len,
			   void (*fn)(enum mail_header_source src, const char *addr,
				      void *ctx),
			   void *ctx);

#define MAIL_HEADER_MAX_HOST 253

/* One address found by mail_header_addresses_at(); valid during the
 * callback only. */
struct mail_header_addr {
	enum mail_header_source src;
	const char *addr;	/* lowercased "local@domain" */
	/* MAIL_HEADER_RECEIVED_FOR: which Received: field, counted from
	 * the top (1: the last hop, written by the receiving MTA; the
	 * ones below may be the sender's own words), and its "by" host,
	 * lowercased ("" when it has none or one over
	 * MAIL_HEADER_MAX_HOST bytes). 0 and "" for the other sources. */
	unsigned received;
	const char *by;
};

/* The same addresses as mail_header_addresses(), with the Received:
 * hop each "for" clause came from. */
void mail_header_addresses_at(const char *hdr, size_t len,
			      void (*fn)(const struct mail_header_addr *a,
					 void *ctx),
			      void *ctx);

#endif
