/*
 * NAME
 *	authhook 3h
 * SUMMARY
 *	the auth-hook's logic, without Dovecot: who may log in, and how
 * DESCRIPTION
 *	authdb_mailmigrate.c is the only file that knows Dovecot; it turns
 *	a passdb or userdb request into a struct authhook_request, calls
 *	authhook_passdb() or authhook_userdb(), and turns the answer into
 *	passdb fields. Everything else here is plain C on our libraries,
 *	so it is unit-tested without Dovecot.
 *
 *	A login (DESIGN.md, flow 1), for the account user@domain, the
 *	domain taken from the login name, else from the local address the
 *	client connected to (bind_ip), else default_domain:
 *	  copied, finished	the stored hash decides.
 *	  queued, migrating,
 *	  failed		the stored hash, or on a mismatch OLD (the
 *				password may have changed there: the hash and
 *				sealed password are then replaced, but only
 *				if OLD said yes over TLS with its certificate
 *				verified; else the login is refused and the
 *				stored hash stays); then the domain's
 *				login_action.
 *	  passwords-only	the stored hash, or on a mismatch OLD (the
 *				same rule).
 *	  an alias		(gathered by the puller, access_mode standard
 *				or extended) logs in as its account.
 *	  unknown		standard domain: unknown. backup domain: OLD
 *				decides, over the protocol of the login; on
 *				success the account is created (hash, sealed
 *				password and copy job in one transaction),
 *				the notice delivered, then login_action.
 *	A domain with source_auth = xoauth2 or oauthbearer: OLD takes
 *	tokens, not passwords, so it is never asked; an unknown user is a
 *	temporary failure (logged: the administrator adds such accounts
 *	with mailmigrate add or bulk), and a known one has only the
 *	stored hash.
 *	Checks on OLD are rate-limited per user and per client address
 *	(beyond the limit: a temporary failure), and a failed user and
 *	password pair is refused without asking OLD for
 *	auth_negative_ttl seconds (kept as a keyed hash, never the
 *	password). OLD unreachable or slow is a temporary failure, and
 *	nothing is created.
 *
 *	TLS memory (source_tls = detect): a check that completed STARTTLS
 *	on OLD is remembered in the store for the domain and protocol;
 *	from then on an OLD offering no STARTTLS is refused before the
 *	password is sent (a temporary failure, an error event: someone
 *	on the path may be stripping it), so a forged OK can neither
 *	create an account nor replace a hash.
 * DIAGNOSTICS
 *	Every *error_r set here is kept as error(3h) says (the ring is
 *	per process and unlocked: Dovecot's auth processes are single-
 *	threaded, see authhook.c).
 * SECURITY
 *	Passwords are never logged, and are wiped after use where we
 *	copy them. Log lines name the account, never the password.
 */
#ifndef MM_AUTHHOOK_H
#define MM_AUTHHOOK_H

#include <stddef.h>
#include <time.h>

#include "cfg.h"
#include "log.h"
#include "store.h"
#include "store_cfg.h"

#define AUTHHOOK_MAX_FIELDS 12

enum authhook_result {
	AUTHHOOK_OK,		/* log in (maybe elsewhere: see fields) */
	AUTHHOOK_MISMATCH,	/* wrong password */
	AUTHHOOK_UNKNOWN,	/* not ours: the next passdb may know it */
	AUTHHOOK_TEMPFAIL,	/* try later (OLD down, limits, store) */
};

/* What Dovecot tells us about a login. */
struct authhook_request {
	const char *user;	/* as the client gave it */
	const char *password;	/* NULL for a userdb lookup */
	const char *service;	/* "imap", "pop3", ... */
	const char *local_ip;	/* "" if unknown */
	const char *remote_ip;	/* "" if unknown */
	int password_verified;	/* a master passdb already checked it */
};

/* name=value pairs for Dovecot (reason, nologin, user, proxy, ...). */
struct authhook_reply {
	const char *names[AUTHHOOK_MAX_FIELDS];
	char *values[AUTHHOOK_MAX_FIELDS];	/* owned; wiped when freed */
	size_t count;
	char *account;		/* the account, user@domain, or NULL */
};

/* The message a refused first login shows. */
#define AUTHHOOK_REJECT_REASON \
	"Your mailbox is being moved to the new server. Try again in a few minutes."

struct authhook;

/* Read the configuration at path (NULL: cfg_path(NULL)), open the store
 * and load the key. -1 with *error_r naming what failed. */
int authhook_init(const char *path, struct authhook **hook_r,
		  const char **error_r);
void authhook_deinit(struct authhook **hook);
const struct cfg *authhook_cfg(const struct authhook *hook);
/* For tests: the time used instead of the clock (0: the clock). */
void authhook_set_now(struct authhook *hook, time_t now);

/* The passdb answer for req. The caller frees reply with
 * authhook_reply_free(). */
enum authhook_result authhook_passdb(struct authhook *hook,
				     const struct authhook_request *req,
				     struct authhook_reply *reply);
/* The userdb answer: home, mail, uid, gid of a known account or of a
 * domain's notice_account. */
enum authhook_result authhook_userdb(struct authhook *hook,
				     const struct authhook_request *req,
				     struct authhook_reply *reply);
void authhook_reply_free(struct authhook_reply *reply);
/* Add a field (value copied). */
void authhook_reply_add(struct authhook_reply *reply, const char *name,
			const char *value);
/* The value of field name, or NULL. */
const char *authhook_reply_get(const struct authhook_reply *reply,
			       const char *name);

/* The rate-limit key of a client address (auth_rate_ip): "ip:ADDR" for
 * IPv4 (an IPv4-mapped IPv6 address too), "ip6:PREFIX::/64" for IPv6,
 * since a client holds a whole /64 and would otherwise get a fresh
 * limit with each of its addresses; anything else as text. */
void authhook_rate_ip_key(const char *ip, char *buf, size_t size);

/* Where log lines of the module go (Dovecot's log); NULL: log(3). */
typedef void authhook_log_fn(enum log_severity sev, const char *text, void *ctx);
void authhook_set_logger(authhook_log_fn *fn, void *ctx);
void authhook_log(enum log_severity sev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* --- authhook_source.c: the check on OLD --------------------------- */

enum authhook_source_result {
	AUTHHOOK_SOURCE_OK,
	AUTHHOOK_SOURCE_REFUSED,	/* wrong password */
	AUTHHOOK_SOURCE_TEMPFAIL,	/* unreachable, slow, busy, TLS */
};

/* What the check on OLD knew and learnt about TLS. */
struct authhook_source_tls {
	int64_t seen;		/* in: the store's TLS memory for the
				   protocol (0: never); with source_tls =
				   detect, plaintext is then refused */
	int used;		/* out: the session ran over TLS */
	int verified;		/* out: ... and the certificate was checked */
	int downgrade;		/* out: refused: no STARTTLS any more */
};

/* Log in to OLD as user with password over IMAP (imap nonzero) or
 * POP3, as the domain's source_host and source_tls say, then log out.
 * *error_r says why it failed. tls may be NULL. */
enum authhook_source_result
authhook_source_check_tls(const struct cfg_domain *dom, int imap,
			  const char *user, const char *password,
			  unsigned timeout_ms, struct authhook_source_tls *tls,
			  const char **error_r);
/* The same without the TLS memory (tls NULL). */
enum authhook_source_result
authhook_source_check(const struct cfg_domain *dom, int imap,
		      const char *user, const char *password,
		      unsigned timeout_ms, const char **error_r);

/* --- authhook_notice.c: the notice in the user's INBOX ------------- */

/* The template at path with %u (the address), %d (the domain) and %%
 * expanded; at most 64 KiB. The caller owns *text_r. */
int authhook_notice_text(const char *path, const char *account,
			 char **text_r, const char **error_r);
/* Deliver text to account by LMTP (target: inet:HOST:PORT or
 * unix:/PATH), from MAILER-DAEMON, with a Date and a Message-ID. */
int authhook_notice_deliver(const char *target, const char *account,
			    const char *text, unsigned timeout_ms,
			    const char **error_r);

/* --- authhook_userdb.c: templates ----------------------------------- */

/* template with %u (user@domain), %n (user), %d (domain), %% expanded.
 * The caller owns the result. */
char *authhook_expand(const char *template, const char *account);

#endif
