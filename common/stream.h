/*
 * NAME
 *	stream 3h
 * SUMMARY
 *	a TCP connection, plain or TLS, with timeouts and bounded reads
 * DESCRIPTION
 *	What the protocol drivers need from a connection: connect with a
 *	timeout, STARTTLS or implicit TLS with the certificate and host
 *	name checked by OpenSSL (SSL_set1_host / the IP address), lines
 *	read with a maximum length that is enforced before the line is
 *	complete, raw reads in bounded chunks for message literals, and
 *	buffered writes so commands can be pipelined.
 *
 *	Every failure is classified as isync does:
 *	STREAM_FAIL_TEMP	retry now (connection dropped mid-session)
 *	STREAM_FAIL_WAIT	retry later (refused, unreachable, timeout)
 *	STREAM_FAIL_FINAL	give up and tell the administrator (TLS
 *				verification, protocol violation)
 *	and two refusals that say what was refused, for the callers that
 *	act on them; to any other they are STREAM_FAIL_FINAL
 *	(stream_fail_policy()):
 *	STREAM_FAIL_MESSAGE	this one message only: the target refused
 *				it (too large, unparsable, RFC 5530
 *				[TOOBIG], [PARSE]); the copy records a
 *				failed item and goes on, the connection
 *				is still usable
 *	STREAM_FAIL_AUTH	the server refused the credentials (a wrong
 *				password or user, [AUTHENTICATIONFAILED],
 *				POP3 [AUTH]): the auth-hook's "wrong
 *				password", the puller's give up
 *	Server response codes are turned into these classes by one table,
 *	resp_code(3).
 */
#ifndef MM_STREAM_H
#define MM_STREAM_H

#include <stddef.h>
#include <stdint.h>

enum stream_fail {
	STREAM_FAIL_NONE,
	STREAM_FAIL_TEMP,
	STREAM_FAIL_WAIT,
	STREAM_FAIL_FINAL,
	STREAM_FAIL_MESSAGE,
	STREAM_FAIL_AUTH,
};

/* What a class means for retrying the whole job: TEMP, WAIT or FINAL
 * (MESSAGE and AUTH give up, as FINAL; NONE stays NONE). */
enum stream_fail stream_fail_policy(enum stream_fail fail);
/* "temp", "wait", "final", "message", "auth" ("none"), for logs. */
const char *stream_fail_name(enum stream_fail fail);

/* Errors are at most this long, including the NUL. */
#define STREAM_ERROR_MAX 1024

/* Classify and describe a failure: *fail_r = fail, *error_r the
 * formatted text (at most STREAM_ERROR_MAX - 1 bytes), kept as error(3h)
 * says; returns -1. An argument may be a previous error:
 * the text is formatted before it is stored. Every driver and client
 * reports its failures through this. */
int stream_failf(enum stream_fail *fail_r, enum stream_fail fail,
		 const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A server that completed STARTTLS (verb: "STARTTLS", "STLS") at
 * since (unix time) and offers none now: someone on the path may be
 * deleting it to read the password. STREAM_FAIL_WAIT with a message
 * saying so and how to accept it if real; returns -1. */
int stream_fail_downgrade(enum stream_fail *fail_r, const char **error_r,
			  const char *host, const char *verb, int64_t since);

struct stream_tls {
	int verify;		/* check the chain and the name */
	const char *ca_file;	/* NULL: the system store */
	const char *name;	/* host name or IP to check; NULL: the host */
	/* Check the chain and the name as verify does, but finish the
	 * handshake whatever the outcome, for stream_tls_peer() to report
	 * (mailmigrate preflight). Never for a session that sends a
	 * password. */
	int inspect;
};

/* What OpenSSL found of the peer's certificate. */
struct stream_tls_peer {
	int have_cert;		/* the server sent one */
	long verify_result;	/* X509_V_OK, or OpenSSL's X509_V_ERR_* */
	char verify_error[128];	/* X509_verify_cert_error_string() */
	int64_t not_after;	/* unix time */
	int64_t not_before;
	char subject[256];	/* one line, printable */
	char issuer[256];
};

struct stream;

/* Connect to host:port within timeout_ms (also the read/write timeout
 * until stream_set_timeout()). host may be a name, IPv4 or IPv6. */
int stream_connect(const char *host, uint16_t port, unsigned timeout_ms,
		   struct stream **stream_r, enum stream_fail *fail_r,
		   const char **error_r);
/* As stream_connect(); on failure *refused_r is 1 when every address
 * of host refused the connection (ECONNREFUSED: nothing listens on the
 * port, the host said so), 0 for any other failure (a timeout, no
 * route, DNS): telling "no such service here" from "not reachable now". */
int stream_connect_probe(const char *host, uint16_t port, unsigned timeout_ms,
			 struct stream **stream_r, int *refused_r,
			 enum stream_fail *fail_r, const char **error_r);
/* Wrap an existing connected socket (tests, accepted connections). */
struct stream *stream_from_fd(int fd, unsigned timeout_ms);
void stream_close(struct stream **stream);

void stream_set_timeout(struct stream *stream, unsigned timeout_ms);
/* Start TLS as a client: implicit TLS right after connect, or after a
 * STARTTLS/STLS exchange. Buffered input must be empty (no plaintext
 * may be injected into the TLS session: CVE-2011-0411). */
int stream_start_tls(struct stream *stream, const struct stream_tls *tls,
		     enum stream_fail *fail_r, const char **error_r);
int stream_is_tls(const struct stream *stream);
/* The certificate the peer showed, checked as stream_tls asked (verify
 * or inspect: chain, name, dates by OpenSSL). -1 on a plain stream. */
int stream_tls_peer(const struct stream *stream, struct stream_tls_peer *peer);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384", or "plain". */
const char *stream_tls_description(const struct stream *stream);

/* Read one line, without its CRLF (or LF). A line longer than max_line
 * fails with STREAM_FAIL_FINAL as soon as max_line bytes arrive without
 * an end. *line_r is valid until the next read. */
int stream_read_line(struct stream *stream, size_t max_line,
		     const char **line_r, size_t *len_r,
		     enum stream_fail *fail_r, const char **error_r);
/* Read between 1 and size bytes (buffered bytes first). */
int stream_read(struct stream *stream, void *buf, size_t size, size_t *got_r,
		enum stream_fail *fail_r, const char **error_r);
/* Bytes already buffered and readable without blocking. */
size_t stream_buffered(const struct stream *stream);

/* Queue bytes for sending; flushes when the buffer fills. */
int stream_write(struct stream *stream, const void *data, size_t len,
		 enum stream_fail *fail_r, const char **error_r);
int stream_printf(struct stream *stream, enum stream_fail *fail_r,
		  const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int stream_flush(struct stream *stream, enum stream_fail *fail_r,
		 const char **error_r);

/* Total bytes read and written, for statistics and throttling. */
uint64_t stream_bytes_in(const struct stream *stream);
uint64_t stream_bytes_out(const struct stream *stream);

#endif
