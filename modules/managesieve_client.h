/*
 * NAME
 *	managesieve_client 3h
 * SUMMARY
 *	a synchronous ManageSieve (RFC 5804) client: greeting, STARTTLS,
 *	SASL PLAIN, XOAUTH2 and OAUTHBEARER, LISTSCRIPTS, GETSCRIPT, PUTSCRIPT, SETACTIVE, LOGOUT
 * DESCRIPTION
 *	What the puller needs to copy a user's Sieve scripts from OLD's
 *	ManageSieve (Dovecot Pigeonhole, Cyrus timsieved) to NEW's: the
 *	capabilities of the greeting (IMPLEMENTATION, SASL, SIEVE,
 *	STARTTLS, VERSION, MAXREDIRECTS kept as text), STARTTLS through
 *	stream(3) (the capabilities are read again after it, as RFC 5804
 *	section 2.2 requires), AUTHENTICATE "PLAIN" with an initial
 *	response and an optional authzid (an admin or master login acting
 *	for the user), and the script commands.
 *
 *	Responses are read one logical line at a time: atoms, quoted
 *	strings and literals ({n} or {n+}), then OK, NO or BYE with an
 *	optional response code in parentheses and a human text (quoted or
 *	a literal). Strings that go out pass through one function that
 *	writes a quoted string or a non-synchronising literal.
 * LIMITS
 *	A response line is at most max_line bytes (checked before it
 *	ends), a literal other than a script at most max_line bytes, a
 *	script at most max_script bytes, a listing at most max_scripts
 *	scripts, a script name at most MANAGESIEVE_NAME_MAX bytes, at most
 *	MANAGESIEVE_TOKENS_MAX tokens per response line.
 * DIAGNOSTICS
 *	Failures are classified as stream(3h) says:
 *	STREAM_FAIL_AUTH	the login was refused (NO to AUTHENTICATE)
 *	STREAM_FAIL_MESSAGE	this script only: NEW refused it (NO to
 *				PUTSCRIPT, with the server's reason), OLD
 *				would not give it (NO to GETSCRIPT), or
 *				it is over max_script (read and dropped);
 *				the connection is still usable
 *	STREAM_FAIL_WAIT	unreachable, timeout; NO or BYE with
 *				(TRYLATER); a refused connection too,
 *				which managesieve_connect() returns as
 *				MANAGESIEVE_ABSENT
 *	STREAM_FAIL_TEMP	the connection dropped or BYE mid-session
 *	STREAM_FAIL_FINAL	protocol violation, TLS, anything else
 *	The passwords are never logged and wiped from memory after use.
 */
#ifndef MM_MANAGESIEVE_CLIENT_H
#define MM_MANAGESIEVE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "stream.h"

#define MANAGESIEVE_PORT 4190
#define MANAGESIEVE_NAME_MAX 512	/* bytes of a script name */
#define MANAGESIEVE_TOKENS_MAX 16	/* per logical response line */

struct managesieve_settings {
	const char *host;
	uint16_t port;		/* 0: 4190 */
	/* none; starttls (required); detect (STARTTLS when offered);
	 * direct is not in RFC 5804 and is taken as starttls */
	enum cfg_tls tls;
	struct stream_tls tls_opts;
	unsigned connect_timeout_ms;
	unsigned timeout_ms;
	size_t max_line;	/* 0: 8192 */
	uint64_t max_script;	/* 0: 1 MiB */
	size_t max_scripts;	/* 0: 1000 */
};

/* One script of LISTSCRIPTS. name is owned by the listing. */
struct managesieve_script {
	char *name;
	int active;
};

struct managesieve_client;

/* Connect, read the greeting's capabilities, and STARTTLS as tls says.
 * MANAGESIEVE_ABSENT (with *fail_r STREAM_FAIL_WAIT or _FINAL and
 * *error_r saying which) when nothing serves ManageSieve there: the
 * connection was refused (ECONNREFUSED from each address) or the
 * greeting's first line is not ManageSieve's (another protocol on the
 * port). Anything else that fails (a timeout, no route, TLS, a greeting
 * cut short) is -1: the service may be there and out of reach now.
 * @return 0 with *client_r, MANAGESIEVE_ABSENT, or -1 */
#define MANAGESIEVE_ABSENT 1
int managesieve_connect(const struct managesieve_settings *set,
			struct managesieve_client **client_r,
			enum stream_fail *fail_r, const char **error_r);
/* LOGOUT (not waited for long) and close; *client becomes NULL. */
void managesieve_close(struct managesieve_client **client);

/* The IMPLEMENTATION capability ("Dovecot Pigeonhole"), or "". */
const char *managesieve_implementation(const struct managesieve_client *client);
/* The SIEVE capability (the extensions, space separated), or "". */
const char *managesieve_extensions(const struct managesieve_client *client);
/* Is the SASL mechanism offered (case-insensitive)? */
int managesieve_has_sasl(const struct managesieve_client *client, const char *mech);
/* Is the connection under TLS? */
int managesieve_is_tls(const struct managesieve_client *client);

/* AUTHENTICATE "PLAIN": user with password; with authzid (may be NULL)
 * user logs in as authzid (an admin or master login acting for the
 * user). The password is wiped from the buffers used. */
int managesieve_login(struct managesieve_client *client, const char *authzid,
		      const char *user, const char *password,
		      enum stream_fail *fail_r, const char **error_r);

/* AUTHENTICATE "XOAUTH2" or "OAUTHBEARER" (RFC 7628, sasl_oauth(3h))
 * as user with an OAuth 2.0 bearer token, the initial response as a
 * string; the mechanism must be in the SASL capability (else
 * STREAM_FAIL_FINAL). A refusal is STREAM_FAIL_AUTH with the server's
 * error challenge (its JSON) in *error_r. The token is wiped from the
 * buffers used. */
int managesieve_login_oauth(struct managesieve_client *client,
			    enum cfg_source_auth mech, const char *user,
			    const char *token, enum stream_fail *fail_r,
			    const char **error_r);

/* LISTSCRIPTS: *scripts_r (managesieve_scripts_free()) and *count_r. */
int managesieve_list(struct managesieve_client *client,
		     struct managesieve_script **scripts_r, size_t *count_r,
		     enum stream_fail *fail_r, const char **error_r);
void managesieve_scripts_free(struct managesieve_script **scripts, size_t count);

/* GETSCRIPT: the content, byte for byte, in *data_r (the caller frees
 * it; a NUL follows the len bytes). */
int managesieve_get(struct managesieve_client *client, const char *name,
		    char **data_r, size_t *len_r, enum stream_fail *fail_r,
		    const char **error_r);
/* PUTSCRIPT: store (and check) the script. A NO is STREAM_FAIL_MESSAGE
 * with the server's reason in *error_r. */
int managesieve_put(struct managesieve_client *client, const char *name,
		    const char *data, size_t len, enum stream_fail *fail_r,
		    const char **error_r);
/* SETACTIVE name; "" deactivates every script. */
int managesieve_setactive(struct managesieve_client *client, const char *name,
			  enum stream_fail *fail_r, const char **error_r);

#endif
