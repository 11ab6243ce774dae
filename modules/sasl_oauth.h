/*
 * NAME
 *	sasl_oauth 3h
 * SUMMARY
 *	the client side of SASL XOAUTH2 and OAUTHBEARER (RFC 7628)
 * DESCRIPTION
 *	The messages the IMAP and POP3 clients send when source_auth says
 *	so, built in one place:
 *	  XOAUTH2 (Google, Microsoft):
 *	    "user=" user ^A "auth=Bearer " token ^A ^A
 *	  OAUTHBEARER (RFC 7628 3.1):
 *	    "n,a=" saslname "," ^A ["host=" host ^A "port=" port ^A]
 *	    "auth=Bearer " token ^A ^A
 *	    (saslname: "," as "=2C" and "=" as "=3D", RFC 5801)
 *	both base64-encoded for the wire. A server refusing the token
 *	sends a challenge holding a JSON error instead of its tagged or
 *	final answer; the client answers it (XOAUTH2: an empty response;
 *	OAUTHBEARER: ^A, RFC 7628 3.2.3) and then gets the refusal.
 * SECURITY
 *	The token is in every message built here: the caller wipes them
 *	(mm_free_secret()).
 */
#ifndef MM_SASL_OAUTH_H
#define MM_SASL_OAUTH_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

/* "XOAUTH2" or "OAUTHBEARER" (NULL for CFG_AUTH_PASSWORD). */
const char *sasl_oauth_mech_name(enum cfg_source_auth mech);

/* The initial response for mech, base64-encoded; host NULL or port 0
 * leave out host= and port= (OAUTHBEARER only). NULL when user or token
 * holds a byte that cannot go in (a control byte: ^A ends a field).
 * The caller owns the result and wipes it (mm_free_secret()). */
char *sasl_oauth_initial(enum cfg_source_auth mech, const char *user,
			 const char *token, const char *host, uint16_t port);

/* The base64 response to the server's error challenge: "" for
 * XOAUTH2, "AQ==" (^A) for OAUTHBEARER. */
const char *sasl_oauth_error_reply(enum cfg_source_auth mech);

/* The server's error challenge (base64 of a JSON object, len bytes) as
 * printable text in buf, truncated; "" when it does not decode. */
void sasl_oauth_challenge_text(const char *b64, size_t len, char *buf,
			       size_t size);

#endif
