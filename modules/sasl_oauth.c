/*
 * NAME
 *	sasl_oauth 3
 * SUMMARY
 *	XOAUTH2 and OAUTHBEARER client messages
 * DESCRIPTION
 *	See sasl_oauth.h. Sizes are computed before anything is written,
 *	and every buffer that held the token is wiped before it is freed.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "log.h"
#include "mm_alloc.h"
#include "sasl_oauth.h"

#define SASL_OAUTH_CHALLENGE_MAX 2048	/* base64 bytes decoded for a message */

const char *sasl_oauth_mech_name(enum cfg_source_auth mech)
{
	switch (mech) {
	case CFG_AUTH_XOAUTH2:
		return "XOAUTH2";
	case CFG_AUTH_OAUTHBEARER:
		return "OAUTHBEARER";
	case CFG_AUTH_PASSWORD:
		break;
	}
	return NULL;
}

/* No control byte (^A separates fields) and no 8-bit byte in s. */
static int sasl_oauth_clean(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/* user as an RFC 5801 saslname into out (NULL: just count); its length. */
static size_t sasl_oauth_saslname(const char *user, char *out)
{
	size_t n = 0;

	for (; *user != '\0'; user++) {
		const char *rep = *user == ',' ? "=2C" : *user == '=' ? "=3D" : NULL;

		if (rep != NULL) {
			if (out != NULL)
				memcpy(out + n, rep, 3);
			n += 3;
		} else {
			if (out != NULL)
				out[n] = *user;
			n++;
		}
	}
	return n;
}

char *sasl_oauth_initial(enum cfg_source_auth mech, const char *user,
			 const char *token, const char *host, uint16_t port)
{
	size_t ulen = strlen(user), tlen = strlen(token), len = 0, size;
	char portbuf[8] = "";
	char *raw, *b64;

	if (mech == CFG_AUTH_PASSWORD || !sasl_oauth_clean(user) ||
	    !sasl_oauth_clean(token) || (host != NULL && !sasl_oauth_clean(host)))
		return NULL;
	if (host == NULL || port == 0)
		host = NULL;
	else
		snprintf(portbuf, sizeof(portbuf), "%u", (unsigned)port);
	/* The largest of the two forms, with room for the NUL. */
	size = 16 + sasl_oauth_saslname(user, NULL) + ulen + tlen +
		(host != NULL ? strlen(host) + strlen(portbuf) + 12 : 0) + 32;
	raw = mm_malloc(size);
	if (mech == CFG_AUTH_XOAUTH2) {
		len = (size_t)snprintf(raw, size, "user=%s\001auth=Bearer %s\001\001",
				       user, token);
	} else {
		memcpy(raw, "n,a=", 4);
		len = 4 + sasl_oauth_saslname(user, raw + 4);
		if (host != NULL)
			len += (size_t)snprintf(raw + len, size - len,
						",\001host=%s\001port=%s\001",
						host, portbuf);
		else
			len += (size_t)snprintf(raw + len, size - len, ",\001");
		len += (size_t)snprintf(raw + len, size - len,
					"auth=Bearer %s\001\001", token);
	}
	if (len >= size)
		log_panic("sasl_oauth: message of %zu bytes in %zu", len, size);
	b64 = mm_malloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)raw, (int)len);
	mm_free_wiped(&raw, size);
	return b64;
}

const char *sasl_oauth_error_reply(enum cfg_source_auth mech)
{
	return mech == CFG_AUTH_OAUTHBEARER ? "AQ==" : "";
}

void sasl_oauth_challenge_text(const char *b64, size_t len, char *buf,
			       size_t size)
{
	unsigned char raw[SASL_OAUTH_CHALLENGE_MAX / 4 * 3 + 3];
	int n;

	buf[0] = '\0';
	/* Whole quads only, at most SASL_OAUTH_CHALLENGE_MAX of them. */
	if (len > SASL_OAUTH_CHALLENGE_MAX)
		len = SASL_OAUTH_CHALLENGE_MAX;
	len -= len % 4;
	if (len == 0)
		return;
	n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len);
	if (n < 0)
		return;
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	if (b64[len - 1] == '=')
		n--;
	if (b64[len - 2] == '=')
		n--;
	log_printable(buf, size, (const char *)raw, (size_t)n);
}
