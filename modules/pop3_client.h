/*
 * NAME
 *	pop3_client 3h
 * SUMMARY
 *	a synchronous POP3 client (RFC 1939, 2449, 2595, 5034, 6856)
 * DESCRIPTION
 *	Greeting, CAPA, STLS or implicit TLS by the same modes as IMAP,
 *	UTF8 (RFC 6856) when listed in CAPA and asked for, so a server that would
 *	substitute messages with raw UTF-8 headers sends them as stored,
 *	USER/PASS (or AUTH PLAIN when offered), UIDL and LIST listings,
 *	and RETR streamed to a callback in bounded chunks with the dot-
 *	stuffing removed by a byte-level state machine, so a message with
 *	lines of any length never needs more than one chunk of memory.
 *	Nothing is ever deleted: there is no DELE here.
 * DIAGNOSTICS
 *	A function that fails returns -1 with *fail_r (the retry policy)
 *	and *error_r set, kept as error(3h) says; so is the text of a
 *	-ERR.
 */
#ifndef MM_POP3_CLIENT_H
#define MM_POP3_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "stream.h"

#define POP3_MAX_UIDL 70	/* RFC 1939: 1 to 70 characters 0x21-0x7E */
#define POP3_MAX_MESSAGES 10000000

struct pop3_client_settings {
	const char *host;
	uint16_t port;		/* 0: 110, or 995 for direct TLS */
	enum cfg_tls tls;
	struct stream_tls tls_opts;
	unsigned connect_timeout_ms;
	unsigned timeout_ms;
	size_t max_line;	/* status and listing lines */
	/* detect: when this server first completed STLS (0: never); if it
	 * offers none now, a downgrade (see imap_client.h). */
	int64_t tls_seen;
	int *downgrade_r;
};

struct pop3_client;

int pop3_client_connect(const struct pop3_client_settings *set,
			struct pop3_client **client_r, enum stream_fail *fail_r,
			const char **error_r);
/* A client on a stream already past the greeting and login (fuzzing,
 * tests). The client owns the stream from now on. */
struct pop3_client *pop3_client_from_stream(struct stream *stream, size_t max_line);
/* Sends QUIT (nothing is deleted: we never mark messages). */
void pop3_client_close(struct pop3_client **client);

/* Before pop3_client_login(), when CAPA lists UTF8: send UTF8 (RFC
 * 6856, AUTHORIZATION state), so a server that would substitute
 * messages with raw UTF-8 headers (Courier) sends them as stored. A -ERR
 * is STREAM_FAIL_FINAL with the reason. Without the capability: nothing
 * sent, 0. */
int pop3_client_enable_utf8(struct pop3_client *client,
			    enum stream_fail *fail_r, const char **error_r);

/* USER/PASS, or AUTH PLAIN when the server lists SASL PLAIN. A -ERR is
 * classed by its extended code (RFC 2449, 3206; resp_code(3)): a wrong
 * password ([AUTH], or no code) is STREAM_FAIL_AUTH; [IN-USE],
 * [LOGIN-DELAY], [SYS/TEMP] are STREAM_FAIL_WAIT; [SYS/PERM] is
 * STREAM_FAIL_FINAL. Other commands' -ERR: as the code says for a
 * command (STREAM_FAIL_FINAL without one). */
int pop3_client_login(struct pop3_client *client, const char *user,
		      const char *password, enum stream_fail *fail_r,
		      const char **error_r);

/* As pop3_client_login(), with SASL PLAIN's authorization identity
 * authzid (an administrator acting for a user: Cyrus, Dovecot, Zimbra);
 * a server without SASL PLAIN is STREAM_FAIL_FINAL. NULL: as
 * pop3_client_login(). */
int pop3_client_login_as(struct pop3_client *client, const char *authzid,
			 const char *user, const char *password,
			 enum stream_fail *fail_r, const char **error_r);

/* Log in as user with an OAuth 2.0 bearer token: AUTH XOAUTH2 or
 * OAUTHBEARER (mech, sasl_oauth(3); RFC 5034: the initial response on
 * the AUTH line when it fits in 255 octets, else after an empty
 * challenge). A server whose CAPA does not list the mechanism is
 * STREAM_FAIL_FINAL, nothing sent. A refused token's error challenge is
 * answered as the mechanism says, and the -ERR that follows classed as
 * for pop3_client_login(), the challenge's text added to *error_r. */
int pop3_client_login_oauth(struct pop3_client *client,
			    enum cfg_source_auth mech, const char *user,
			    const char *token, enum stream_fail *fail_r,
			    const char **error_r);

/* Each message's number and UIDL, in order. fn returns non-zero to
 * stop (with *error_r). */
int pop3_client_uidl(struct pop3_client *client,
		     int (*fn)(uint32_t msgnum, const char *uidl, void *ctx),
		     void *ctx, enum stream_fail *fail_r, const char **error_r);
/* Each message's number and size in octets. */
int pop3_client_list(struct pop3_client *client,
		     int (*fn)(uint32_t msgnum, uint64_t size, void *ctx),
		     void *ctx, enum stream_fail *fail_r, const char **error_r);
/* RETR msgnum; the unstuffed message (CRLF line ends, as sent) goes to
 * fn in chunks; fn returns -1 to abort (the connection is then unusable). */
int pop3_client_retr(struct pop3_client *client, uint32_t msgnum,
		     int (*fn)(const void *data, size_t len, void *ctx),
		     void *ctx, uint64_t *size_r, enum stream_fail *fail_r,
		     const char **error_r);

/* STAT: the number of messages and their total size in octets. */
int pop3_client_stat(struct pop3_client *client, uint64_t *count_r,
		     uint64_t *size_r, enum stream_fail *fail_r,
		     const char **error_r);
/* CAPA's lines as last listed, space-separated (bounded), for reports;
 * "" without CAPA. */
const char *pop3_client_capa(const struct pop3_client *client);
/* The greeting's text after +OK (printable, truncated). */
const char *pop3_client_greeting(const struct pop3_client *client);
int pop3_client_has_uidl(const struct pop3_client *client);
/* Non-zero once the server accepted UTF8 (RFC 6856). */
int pop3_client_utf8(const struct pop3_client *client);
struct stream *pop3_client_stream(struct pop3_client *client);

#endif
