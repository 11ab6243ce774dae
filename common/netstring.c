/*
 * NAME
 *	netstring 3
 * SUMMARY
 *	netstring codec with Postfix's socketmap limits
 * DESCRIPTION
 *	netstring_parse() looks at what has arrived so far and says
 *	whether it is one complete netstring, a valid beginning of one
 *	(NETSTRING_NEED_MORE), or something no further input can repair
 *	(NETSTRING_ERROR). The length is checked against max_payload
 *	digit by digit, before a single payload byte is looked at, so a
 *	length prefix that is too large is refused as soon as its digits
 *	say so ("99999..." fails at the digit that passes the maximum,
 *	without waiting for the ':').
 * DIAGNOSTICS
 *	Error texts are static, but for "length over N bytes", kept as
 *	error(3h) says.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "mm_alloc.h"
#include "netstring.h"

/* Parse one netstring at the start of buf[0..len). */
enum netstring_status netstring_parse(const char *buf, size_t len,
				      size_t max_payload,
				      const char **payload_r, size_t *payload_len_r,
				      size_t *consumed_r, const char **error_r)
{
	size_t value = 0, i, avail;

	if (len == 0)
		return NETSTRING_NEED_MORE;
	if (buf[0] == ':') {
		*error_r = "empty length";
		return NETSTRING_ERROR;
	}
	for (i = 0; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
		size_t digit = (size_t)(buf[i] - '0');

		if (i == 1 && buf[0] == '0') {
			*error_r = "leading zero in length";
			return NETSTRING_ERROR;
		}
		/* value * 10 + digit > max_payload, without overflow. */
		if (value > max_payload / 10 ||
		    (value == max_payload / 10 && digit > max_payload % 10)) {
			*error_r = error_setf("length over %zu bytes", max_payload);
			return NETSTRING_ERROR;
		}
		value = value * 10 + digit;
	}
	if (i == len)
		return NETSTRING_NEED_MORE;
	if (buf[i] != ':') {
		*error_r = "non-digit in length";
		return NETSTRING_ERROR;
	}
	i++;
	avail = len - i;
	if (avail <= value)
		return NETSTRING_NEED_MORE;
	if (buf[i + value] != ',') {
		*error_r = "missing ','";
		return NETSTRING_ERROR;
	}
	*payload_r = buf + i;
	*payload_len_r = value;
	*consumed_r = i + value + 1;
	return NETSTRING_OK;
}

/* "<len>:<payload>," in a new buffer owned by the caller. */
char *netstring_encode(const char *payload, size_t len, size_t *out_len_r)
{
	char prefix[32];
	int plen;
	char *out;

	plen = snprintf(prefix, sizeof(prefix), "%zu:", len);
	if (plen < 0 || (size_t)plen >= sizeof(prefix) ||
	    len > SIZE_MAX - (size_t)plen - 2)
		log_panic("netstring_encode: payload of %zu bytes", len);
	out = mm_malloc((size_t)plen + len + 2);
	memcpy(out, prefix, (size_t)plen);
	if (len > 0)
		memcpy(out + plen, payload, len);
	out[(size_t)plen + len] = ',';
	out[(size_t)plen + len + 1] = '\0';
	*out_len_r = (size_t)plen + len + 1;
	return out;
}
