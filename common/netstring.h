/*
 * NAME
 *	netstring 3h
 * SUMMARY
 *	netstring codec with Postfix's socketmap limits
 * DESCRIPTION
 *	"<decimal length>:<payload>," as in D. J. Bernstein's
 *	netstrings and Postfix socketmap_table(5). The length is parsed
 *	before any payload is read, with an overflow-safe check against
 *	the caller's maximum, so a peer cannot make us buffer more.
 *	A leading zero is allowed only for the length 0 itself.
 */
#ifndef MM_NETSTRING_H
#define MM_NETSTRING_H

#include <stddef.h>

/* Postfix socketmap: queries up to 10,000 bytes, replies 100,000. */
#define NETSTRING_SOCKETMAP_MAX_QUERY 10000
#define NETSTRING_SOCKETMAP_MAX_REPLY 100000

enum netstring_status {
	NETSTRING_OK,		/* one netstring parsed */
	NETSTRING_NEED_MORE,	/* valid so far, incomplete */
	NETSTRING_ERROR,	/* malformed or too long: close the peer */
};

/* Parse the netstring at the start of buf[0..len).
 * @param max_payload	the largest payload accepted
 * @param payload_r	on OK, points into buf (not NUL-terminated)
 * @param payload_len_r	on OK, the payload length
 * @param consumed_r	on OK, bytes used from buf (prefix+payload+',')
 * @param error_r	on ERROR, the text ("length over 10000 bytes",
 *			"non-digit in length", "missing ','"), kept as
 *			error(3h) says
 * @return the status */
enum netstring_status netstring_parse(const char *buf, size_t len,
				      size_t max_payload,
				      const char **payload_r, size_t *payload_len_r,
				      size_t *consumed_r, const char **error_r);

/* Encode payload as a netstring. The caller owns the result, which is
 * NUL-terminated after *out_len_r bytes. */
char *netstring_encode(const char *payload, size_t len, size_t *out_len_r);

#endif
