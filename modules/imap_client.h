/*
 * NAME
 *	imap_client 3h
 * SUMMARY
 *	a synchronous IMAP client connection: greeting, TLS, login,
 *	tagged commands with their untagged responses
 * DESCRIPTION
 *	Built on stream(3) and imap_parse(3). One command may be sent
 *	while earlier ones are outstanding (pipelining): responses are
 *	matched to commands by tag. Untagged responses go to the
 *	callback of the command being waited for.
 *
 *	TLS modes (mailmigrate.conf(5) source_tls): none; direct
 *	(implicit TLS before the greeting); starttls (required: no
 *	STARTTLS capability is a final failure); detect (STARTTLS when
 *	offered, else plain with a warning logged; but if the caller says
 *	this server completed STARTTLS before, tls_seen, plain is refused
 *	as a downgrade before anything else is sent).
 *
 *	Passwords are never logged: the debug trace masks LOGIN and
 *	AUTHENTICATE arguments, as isync does.
 * DIAGNOSTICS
 *	A function that fails returns -1 with *fail_r (the retry policy)
 *	and *error_r set, kept as error(3h) says.
 */
#ifndef MM_IMAP_CLIENT_H
#define MM_IMAP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "imap_parse.h"
#include "resp_code.h"
#include "stream.h"

#define IMAP_CAP_IMAP4REV1	0x0001
#define IMAP_CAP_STARTTLS	0x0002
#define IMAP_CAP_LITERALPLUS	0x0004	/* LITERAL+ or LITERAL- */
#define IMAP_CAP_UIDPLUS	0x0008
#define IMAP_CAP_MULTIAPPEND	0x0010
#define IMAP_CAP_SASL_IR	0x0020
#define IMAP_CAP_AUTH_PLAIN	0x0040
#define IMAP_CAP_LOGINDISABLED	0x0080
#define IMAP_CAP_SPECIAL_USE	0x0100
#define IMAP_CAP_NAMESPACE	0x0200
#define IMAP_CAP_LIST_EXTENDED	0x0400
#define IMAP_CAP_APPENDLIMIT	0x0800
#define IMAP_CAP_UTF8_ACCEPT	0x1000
#define IMAP_CAP_ID		0x2000
#define IMAP_CAP_AUTH_XOAUTH2	0x4000
#define IMAP_CAP_AUTH_OAUTHBEARER 0x8000
#define IMAP_CAP_STATUS_SIZE	0x10000	/* RFC 8438 */
#define IMAP_CAP_ENABLE		0x20000	/* RFC 5161 */
#define IMAP_CAP_CONDSTORE	0x40000	/* RFC 7162 */
#define IMAP_CAP_QRESYNC	0x80000	/* RFC 7162; implies CONDSTORE */
#define IMAP_CAP_ACL		0x100000	/* RFC 4314 */

struct imap_client_settings {
	const char *host;
	uint16_t port;		/* 0: 143, or 993 for direct TLS */
	enum cfg_tls tls;
	struct stream_tls tls_opts;	/* verify, CA file, name */
	unsigned connect_timeout_ms;
	unsigned timeout_ms;		/* each read and write */
	size_t max_line;		/* longest response line */
	struct imap_parse_limits limits;
	/* detect: when this server first completed STARTTLS (unix time,
	 * from the store's TLS memory; 0: never). If it offers none now,
	 * the connection fails STREAM_FAIL_WAIT (stream_fail_downgrade)
	 * and *downgrade_r, when not NULL, is set to 1. */
	int64_t tls_seen;
	int *downgrade_r;
};

enum imap_status {
	IMAP_STATUS_OK,
	IMAP_STATUS_NO,
	IMAP_STATUS_BAD,
};

/* A tagged answer: its status and response code (resp_code(3)), read
 * once here; text is the human text after the code, printable and
 * truncated. */
struct imap_answer {
	unsigned tag;
	enum imap_status status;
	enum resp_code code;
	char code_atom[40];	/* the code as sent ("OVERQUOTA"), or "" */
	char text[240];
};

struct imap_client;

/* Called for each untagged response while a command is awaited; a
 * literal announced in it is offered to literal_fn first (if set),
 * which may stream it (return 1), or leave it to be kept (return 0).
 * Return -1 from either to fail the command with *fail_r and
 * *error_r set. */
struct imap_cmd_handlers {
	int (*untagged)(struct imap_client *client, const struct imap_arg *args,
			size_t count, void *ctx, enum stream_fail *fail_r,
			const char **error_r);
	int (*literal)(struct imap_client *client, const char *key,
		       uint64_t size, void *ctx, enum stream_fail *fail_r,
		       const char **error_r);
	void *ctx;
};

/* Connect, read the greeting, learn the capabilities, and secure the
 * connection as the TLS mode says. */
int imap_client_connect(const struct imap_client_settings *set,
			struct imap_client **client_r, enum stream_fail *fail_r,
			const char **error_r);
void imap_client_close(struct imap_client **client);

unsigned imap_client_caps(const struct imap_client *client);
/* The capabilities as the server listed them last, space-separated
 * (bounded: what does not fit is left out), for reports. */
const char *imap_client_capability(const struct imap_client *client);
/* Does the list hold name (case-insensitive; "APPENDLIMIT" also
 * matches "APPENDLIMIT=N", "UTF8=ACCEPT" only itself)? */
int imap_client_has_cap(const struct imap_client *client, const char *name);
/* APPENDLIMIT=N from the capabilities, or 0. */
uint64_t imap_client_appendlimit(const struct imap_client *client);
/* The greeting's text, for logs (printable, truncated). */
const char *imap_client_greeting(const struct imap_client *client);
struct stream *imap_client_stream(struct imap_client *client);

/* Log in as user (authzid: log in as user on behalf of authzid, with
 * AUTHENTICATE PLAIN; NULL for a plain login). A refusal is classed by
 * its response code (resp_code(3), RESP_CONTEXT_LOGIN): rejected
 * credentials are STREAM_FAIL_AUTH, [UNAVAILABLE] STREAM_FAIL_WAIT, and
 * so on, with "login refused: NO [CODE] text" in *error_r. */
int imap_client_login(struct imap_client *client, const char *authzid,
		      const char *user, const char *password,
		      enum stream_fail *fail_r, const char **error_r);

/* Log in as user with an OAuth 2.0 bearer token: AUTHENTICATE XOAUTH2
 * or OAUTHBEARER (mech, sasl_oauth(3)), with SASL-IR when offered. A
 * server that does not list AUTH=mech is STREAM_FAIL_FINAL, nothing
 * sent. A token the server refuses comes back as a challenge with a
 * JSON error, which is answered as the mechanism says; the tagged NO
 * that follows is classed as for imap_client_login() (a refused token
 * is STREAM_FAIL_AUTH), the JSON's text added to *error_r. */
int imap_client_login_oauth(struct imap_client *client,
			    enum cfg_source_auth mech, const char *user,
			    const char *token, enum stream_fail *fail_r,
			    const char **error_r);

/* After login, when the server lists UTF8=ACCEPT: ENABLE UTF8=ACCEPT
 * (RFC 6855, 5161), so a server that would downgrade or substitute
 * messages with raw UTF-8 headers sends them as stored. A NO or BAD, or
 * an ENABLED response without UTF8=ACCEPT, is STREAM_FAIL_FINAL. From
 * then on mailbox names from the server are UTF-8 (not modified
 * UTF-7), and imap_client_send_astring() sends a name as a quoted
 * UTF-8 string, refusing one that is not valid UTF-8. Without the
 * capability: nothing sent, 0. */
int imap_client_enable_utf8(struct imap_client *client,
			    enum stream_fail *fail_r, const char **error_r);
/* Non-zero once UTF8=ACCEPT is enabled. */
int imap_client_utf8(const struct imap_client *client);
/* After login, when the server lists CONDSTORE (or QRESYNC, which
 * implies it) and ENABLE: ENABLE CONDSTORE, with QRESYNC when listed
 * (RFC 7162, 5161). What the ENABLED response confirms is on from then
 * on: EXAMINE and SELECT report HIGHESTMODSEQ, FETCH takes CHANGEDSINCE.
 * A NO or BAD is no failure: the session goes on without (0, nothing
 * on), as with a server that lists neither. Only a broken connection
 * fails. */
int imap_client_enable_condstore(struct imap_client *client,
				 enum stream_fail *fail_r, const char **error_r);
/* Non-zero once ENABLED confirmed CONDSTORE (QRESYNC: either). */
int imap_client_condstore(const struct imap_client *client);
/* Non-zero once ENABLED confirmed QRESYNC. */
int imap_client_qresync(const struct imap_client *client);
/* Is s well-formed UTF-8 (no overlong form, surrogate, or code point
 * past U+10FFFF)? ASCII is. */
int imap_client_utf8_valid(const char *s);

/* A new tag, for a command the caller writes itself (MULTIAPPEND). */
unsigned imap_client_new_tag(struct imap_client *client);
/* Send a command (the tag is added). The caller formats arguments
 * with imap_client_quote() when they are strings. A command holding
 * CR or LF is refused (STREAM_FAIL_FINAL), nothing sent. Returns the
 * tag. */
int imap_client_send(struct imap_client *client, const char *command,
		     unsigned *tag_r, enum stream_fail *fail_r,
		     const char **error_r);
/* Wait for the tagged answer to tag, passing untagged responses to h.
 * *status_r is the answer; its text is in *error_r: for NO and BAD
 * kept as error(3h) says, for OK until the client's next answer. */
int imap_client_wait(struct imap_client *client, unsigned tag,
		     const struct imap_cmd_handlers *h, enum imap_status *status_r,
		     enum stream_fail *fail_r, const char **error_r);
/* Send "VERB arg[ rest]" with arg as a quoted string, or as a literal
 * when it cannot be quoted (8-bit, a control byte); *tag_r is its tag.
 * After imap_client_enable_utf8(): valid UTF-8 goes quoted, anything
 * else is refused (STREAM_FAIL_FINAL), nothing sent. */
int imap_client_send_astring(struct imap_client *client, const char *verb,
			     const char *arg, const char *rest, unsigned *tag_r,
			     enum stream_fail *fail_r, const char **error_r);
/* The same, then wait as imap_client_run() does. */
int imap_client_run_astring(struct imap_client *client, const char *verb,
			    const char *arg, const char *rest,
			    const struct imap_cmd_handlers *h,
			    enum stream_fail *fail_r, const char **error_r);
/* send + wait; NO/BAD fail as their response code says for a command
 * (resp_code(3): STREAM_FAIL_FINAL without a code). */
int imap_client_run(struct imap_client *client, const char *command,
		    const struct imap_cmd_handlers *h, enum stream_fail *fail_r,
		    const char **error_r);
/* The text of the last tagged response, its response code's first
 * args (e.g. APPENDUID 38505 3955), or NULL. */
const struct imap_arg *imap_client_last_code(const struct imap_client *client,
					     size_t *count_r);

/* The last tagged answer read: the one imap_client_wait() returned, or
 * the one imap_client_wait_continuation() met instead of "+" (tag 0:
 * none yet). */
const struct imap_answer *imap_client_last_answer(const struct imap_client *client);
/* Fail for the last answer, a refusal: the class its response code has
 * for ctx (resp_code_class()), the text "what: NO [CODE] text".
 * Returns -1. */
int imap_client_refused(struct imap_client *client, enum resp_context ctx,
			const char *what, enum stream_fail *fail_r,
			const char **error_r);

/* After sending a command with a synchronising literal: wait for the
 * server's "+". A tagged answer instead is a refusal, classed as for a
 * command (imap_client_refused(); the caller may class it again for
 * what it asked, when imap_client_last_answer() has its tag). */
int imap_client_wait_continuation(struct imap_client *client, unsigned tag,
				  enum stream_fail *fail_r, const char **error_r);

/* While a literal handler runs: the UID given before the literal in
 * the same FETCH response, or 0 when the server puts it after. */
uint32_t imap_client_literal_uid(const struct imap_client *client);

/* s as an IMAP quoted string, or NULL if it needs a literal (any
 * control byte: CR, LF, TAB, 0x01-0x1f, 0x7f; or 8-bit). The one
 * quoting function for strings sent to a server. The caller owns the
 * result. */
char *imap_client_quote(const char *s);

#endif
