/*
 * NAME
 *	stream 3
 * SUMMARY
 *	a TCP connection, plain or TLS, with timeouts and bounded reads
 * DESCRIPTION
 *	Non-blocking sockets and poll(2) give every read, write, connect
 *	and handshake a deadline. OpenSSL checks certificates and names;
 *	nothing here second-guesses it.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "error.h"
#include "mm_alloc.h"
#include "stream.h"

#define STREAM_OUT_MAX (64 * 1024)
#define STREAM_IN_MIN (16 * 1024)

struct stream {
	int fd;
	unsigned timeout_ms;
	SSL_CTX *ctx;
	SSL *ssl;
	char desc[96];
	unsigned char *in;
	size_t in_start, in_end, in_size;
	unsigned char *out;
	size_t out_len;
	uint64_t bytes_in, bytes_out;
};

int stream_failf(enum stream_fail *fail_r, enum stream_fail fail,
		 const char **error_r, const char *fmt, ...)
{
	char buf[STREAM_ERROR_MAX];
	va_list ap;

	/* Format first: an argument may be the previous error itself. */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	*fail_r = fail;
	*error_r = error_setf("%s", buf);
	return -1;
}

enum stream_fail stream_fail_policy(enum stream_fail fail)
{
	switch (fail) {
	case STREAM_FAIL_NONE:
	case STREAM_FAIL_TEMP:
	case STREAM_FAIL_WAIT:
	case STREAM_FAIL_FINAL:
		return fail;
	case STREAM_FAIL_MESSAGE:
	case STREAM_FAIL_AUTH:
		break;
	}
	return STREAM_FAIL_FINAL;
}

const char *stream_fail_name(enum stream_fail fail)
{
	switch (fail) {
	case STREAM_FAIL_NONE:
		return "none";
	case STREAM_FAIL_TEMP:
		return "temp";
	case STREAM_FAIL_WAIT:
		return "wait";
	case STREAM_FAIL_FINAL:
		return "final";
	case STREAM_FAIL_MESSAGE:
		return "message";
	case STREAM_FAIL_AUTH:
		return "auth";
	}
	return "unknown";
}

int stream_fail_downgrade(enum stream_fail *fail_r, const char **error_r,
			  const char *host, const char *verb, int64_t since)
{
	char date[40] = "an earlier connection";
	time_t t = (time_t)since;
	struct tm tm;

	if (gmtime_r(&t, &tm) != NULL)
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", &tm);
	return stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
			    "%.200s no longer offers %s (it did on %s): refusing "
			    "plaintext, possibly a downgrade attack on the path; "
			    "if TLS was really switched off there, run "
			    "`mailmigrate tls-forget DOMAIN` (or set source_tls = "
			    "none)", host, verb, date);
}

/* OpenSSL's first queued error, as text, clearing the queue. */
static const char *stream_ssl_error(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "no details from OpenSSL";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

static int stream_set_nonblock(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

struct stream *stream_from_fd(int fd, unsigned timeout_ms)
{
	struct stream *s = mm_calloc(1, sizeof(*s));

	(void)stream_set_nonblock(fd);
	s->fd = fd;
	s->timeout_ms = timeout_ms;
	s->in_size = STREAM_IN_MIN;
	s->in = mm_malloc(s->in_size);
	s->out = mm_malloc(STREAM_OUT_MAX);
	snprintf(s->desc, sizeof(s->desc), "plain");
	return s;
}

void stream_close(struct stream **sp)
{
	struct stream *s = *sp;

	if (s == NULL)
		return;
	if (s->ssl != NULL) {
		SSL_shutdown(s->ssl);	/* best effort; the peer may be gone */
		SSL_free(s->ssl);
	}
	if (s->ctx != NULL)
		SSL_CTX_free(s->ctx);
	if (s->fd >= 0)
		close(s->fd);
	/* Both may hold a password (LOGIN, AUTHENTICATE, PASS). */
	mm_free_wiped(&s->in, s->in_size);
	mm_free_wiped(&s->out, STREAM_OUT_MAX);
	mm_free(sp);
	ERR_clear_error();
}

void stream_set_timeout(struct stream *s, unsigned timeout_ms)
{
	s->timeout_ms = timeout_ms;
}

/* Wait until fd is ready for events; 0, or -1 on timeout/error. */
static int stream_wait(struct stream *s, short events, enum stream_fail *fail_r,
		       const char **error_r, const char *what)
{
	struct pollfd pfd = { .fd = s->fd, .events = events };
	int n;

	do {
		n = poll(&pfd, 1, (int)s->timeout_ms);
	} while (n < 0 && errno == EINTR);
	if (n == 0)
		return stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
				   "timed out after %u s %s", s->timeout_ms / 1000, what);
	if (n < 0)
		return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r, "poll: %s",
				   strerror(errno));
	return 0;
}

/* Connect one address with a deadline; *refused_r: the address
 * answered with a refusal (ECONNREFUSED). */
static int stream_connect_addr(const struct addrinfo *ai, unsigned timeout_ms,
			       int *fd_r, int *refused_r, enum stream_fail *fail_r,
			       const char **error_r)
{
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int fd, err = 0, n, one = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return stream_failf(fail_r, STREAM_FAIL_WAIT, error_r, "socket: %s",
				   strerror(errno));
	(void)stream_set_nonblock(fd);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
		err = errno;
	} else {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		do {
			n = poll(&pfd, 1, (int)timeout_ms);
		} while (n < 0 && errno == EINTR);
		if (n == 0) {
			close(fd);
			return stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
					   "connect timed out after %u s", timeout_ms / 1000);
		}
		if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
	}
	if (err != 0) {
		close(fd);
		*refused_r = err == ECONNREFUSED;
		return stream_failf(fail_r, STREAM_FAIL_WAIT, error_r, "connect: %s",
				   strerror(err));
	}
	*fd_r = fd;
	return 0;
}

int stream_connect(const char *host, uint16_t port, unsigned timeout_ms,
		   struct stream **stream_r, enum stream_fail *fail_r,
		   const char **error_r)
{
	int refused;

	return stream_connect_probe(host, port, timeout_ms, stream_r, &refused, fail_r,
				    error_r);
}

int stream_connect_probe(const char *host, uint16_t port, unsigned timeout_ms,
			 struct stream **stream_r, int *refused_r,
			 enum stream_fail *fail_r, const char **error_r)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char portstr[8];
	int rc, fd = -1, refused = 0, all_refused = 1, tried = 0;

	*refused_r = 0;
	snprintf(portstr, sizeof(portstr), "%u", port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0)
		return stream_failf(fail_r, rc == EAI_AGAIN ? STREAM_FAIL_WAIT :
				   STREAM_FAIL_FINAL, error_r, "cannot resolve %.200s: %s",
				   host, gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		tried = 1;
		refused = 0;
		if (stream_connect_addr(ai, timeout_ms, &fd, &refused, fail_r,
					error_r) == 0)
			break;
		all_refused = all_refused && refused;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		char saved[STREAM_ERROR_MAX];

		*refused_r = tried && all_refused;
		snprintf(saved, sizeof(saved), "%s", *error_r);
		return stream_failf(fail_r, *fail_r, error_r, "%.200s port %u: %s",
				   host, port, saved);
	}
	*stream_r = stream_from_fd(fd, timeout_ms);
	return 0;
}

/* Is name an IP address literal? */
static int stream_is_ip(const char *name)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

int stream_start_tls(struct stream *s, const struct stream_tls *tls,
		     enum stream_fail *fail_r, const char **error_r)
{
	int rc, err;

	if (s->ssl != NULL)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				   "TLS is already on");
	if (s->in_end > s->in_start)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				   "server sent data before the TLS handshake "
				   "(possible injection); refusing");
	ERR_clear_error();
	s->ctx = SSL_CTX_new(TLS_client_method());
	if (s->ctx == NULL)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "TLS: %s",
				   stream_ssl_error());
	if (tls->verify || tls->inspect) {
		/* inspect: the same checks, the outcome only recorded. */
		SSL_CTX_set_verify(s->ctx, tls->verify ? SSL_VERIFY_PEER :
				   SSL_VERIFY_NONE, NULL);
		if (tls->ca_file != NULL && tls->ca_file[0] != '\0') {
			if (SSL_CTX_load_verify_locations(s->ctx, tls->ca_file, NULL) != 1)
				return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
						   "cannot load CA file %.200s: %s",
						   tls->ca_file, stream_ssl_error());
		} else if (SSL_CTX_set_default_verify_paths(s->ctx) != 1) {
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					   "cannot load the system CA store: %s",
					   stream_ssl_error());
		}
	} else {
		SSL_CTX_set_verify(s->ctx, SSL_VERIFY_NONE, NULL);
	}
	s->ssl = SSL_new(s->ctx);
	if (s->ssl == NULL || SSL_set_fd(s->ssl, s->fd) != 1)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "TLS: %s",
				   stream_ssl_error());
	if (tls->name != NULL && tls->name[0] != '\0') {
		if (stream_is_ip(tls->name)) {
			if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl),
							  tls->name) != 1)
				return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
						   "TLS: bad IP %.100s", tls->name);
		} else {
			SSL_set_tlsext_host_name(s->ssl, tls->name);
			if ((tls->verify || tls->inspect) &&
			    SSL_set1_host(s->ssl, tls->name) != 1)
				return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
						   "TLS: bad host name %.100s", tls->name);
		}
	}
	for (;;) {
		ERR_clear_error();
		rc = SSL_connect(s->ssl);
		if (rc == 1)
			break;
		err = SSL_get_error(s->ssl, rc);
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
			if (stream_wait(s, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
					fail_r, error_r, "in the TLS handshake") < 0)
				return -1;
			continue;
		}
		if (SSL_get_verify_result(s->ssl) != X509_V_OK)
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					   "TLS certificate verification failed: %s",
					   X509_verify_cert_error_string(
						   SSL_get_verify_result(s->ssl)));
		if (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN)
			return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r,
					   "connection lost in the TLS handshake");
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				   "TLS handshake failed: %s", stream_ssl_error());
	}
	snprintf(s->desc, sizeof(s->desc), "%s %s", SSL_get_version(s->ssl),
		 SSL_get_cipher_name(s->ssl));
	return 0;
}

/* An X509 name as one printable line. */
static void stream_x509_name(const X509_NAME *name, char *buf, size_t size)
{
	X509_NAME_oneline(name, buf, (int)size);
	for (char *p = buf; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = '?';
}

/* An ASN1_TIME as unix time, by its distance from the epoch. */
static int64_t stream_asn1_time(const ASN1_TIME *t)
{
	ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
	int days = 0, secs = 0;

	if (epoch == NULL || t == NULL || ASN1_TIME_diff(&days, &secs, epoch, t) != 1)
		days = secs = 0;
	ASN1_TIME_free(epoch);
	return (int64_t)days * 86400 + secs;
}

int stream_tls_peer(const struct stream *s, struct stream_tls_peer *peer)
{
	X509 *cert;

	memset(peer, 0, sizeof(*peer));
	if (s->ssl == NULL)
		return -1;
	peer->verify_result = SSL_get_verify_result(s->ssl);
	snprintf(peer->verify_error, sizeof(peer->verify_error), "%s",
		 X509_verify_cert_error_string(peer->verify_result));
	cert = SSL_get1_peer_certificate(s->ssl);
	if (cert == NULL)
		return 0;
	peer->have_cert = 1;
	peer->not_after = stream_asn1_time(X509_get0_notAfter(cert));
	peer->not_before = stream_asn1_time(X509_get0_notBefore(cert));
	stream_x509_name(X509_get_subject_name(cert), peer->subject, sizeof(peer->subject));
	stream_x509_name(X509_get_issuer_name(cert), peer->issuer, sizeof(peer->issuer));
	X509_free(cert);
	return 0;
}

int stream_is_tls(const struct stream *s)
{
	return s->ssl != NULL;
}

const char *stream_tls_description(const struct stream *s)
{
	return s->desc;
}

/* Read more bytes into the input buffer; at least one, or fail. */
static int stream_fill(struct stream *s, enum stream_fail *fail_r,
		       const char **error_r)
{
	ssize_t n;

	if (s->in_start > 0 && s->in_start == s->in_end)
		s->in_start = s->in_end = 0;
	if (s->in_end == s->in_size) {
		if (s->in_start > 0) {
			memmove(s->in, s->in + s->in_start, s->in_end - s->in_start);
			s->in_end -= s->in_start;
			s->in_start = 0;
		} else {
			/* Not realloc: it would free the old copy unwiped. */
			unsigned char *bigger = mm_malloc(s->in_size * 2);

			memcpy(bigger, s->in, s->in_end);
			mm_free_wiped(&s->in, s->in_size);
			s->in = bigger;
			s->in_size *= 2;
		}
	}
	for (;;) {
		if (s->ssl != NULL) {
			int rc, err;

			ERR_clear_error();
			rc = SSL_read(s->ssl, s->in + s->in_end, (int)(s->in_size - s->in_end));
			if (rc > 0) {
				n = rc;
				break;
			}
			err = SSL_get_error(s->ssl, rc);
			if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
				if (stream_wait(s, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
						fail_r, error_r, "waiting for the server") < 0)
					return -1;
				continue;
			}
			if (err == SSL_ERROR_ZERO_RETURN ||
			    (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
				return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r,
						   "connection closed by the server");
			return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r,
					   "TLS read: %s", stream_ssl_error());
		}
		n = read(s->fd, s->in + s->in_end, s->in_size - s->in_end);
		if (n > 0)
			break;
		if (n == 0)
			return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r,
					   "connection closed by the server");
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (stream_wait(s, POLLIN, fail_r, error_r,
					"waiting for the server") < 0)
				return -1;
			continue;
		}
		return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r, "read: %s",
				   strerror(errno));
	}
	s->in_end += (size_t)n;
	s->bytes_in += (uint64_t)n;
	return 0;
}

int stream_read_line(struct stream *s, size_t max_line, const char **line_r,
		     size_t *len_r, enum stream_fail *fail_r, const char **error_r)
{
	size_t scanned = 0;

	for (;;) {
		unsigned char *start = s->in + s->in_start;
		size_t avail = s->in_end - s->in_start;
		unsigned char *nl = memchr(start + scanned, '\n', avail - scanned);

		if (nl != NULL) {
			size_t len = (size_t)(nl - start);

			if (len > max_line + 1 || (len == max_line + 1 && nl[-1] != '\r'))
				return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
						   "line over %zu bytes from the server",
						   max_line);
			s->in_start += len + 1;
			if (len > 0 && start[len - 1] == '\r')
				len--;
			start[len] = '\0';
			*line_r = (const char *)start;
			*len_r = len;
			return 0;
		}
		scanned = avail;
		if (avail > max_line + 1)
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					   "line over %zu bytes from the server", max_line);
		if (stream_fill(s, fail_r, error_r) < 0)
			return -1;
	}
}

int stream_read(struct stream *s, void *buf, size_t size, size_t *got_r,
		enum stream_fail *fail_r, const char **error_r)
{
	size_t n;

	if (size == 0) {
		*got_r = 0;
		return 0;
	}
	if (s->in_end == s->in_start && stream_fill(s, fail_r, error_r) < 0)
		return -1;
	n = s->in_end - s->in_start;
	if (n > size)
		n = size;
	memcpy(buf, s->in + s->in_start, n);
	s->in_start += n;
	*got_r = n;
	return 0;
}

size_t stream_buffered(const struct stream *s)
{
	return s->in_end - s->in_start;
}

int stream_flush(struct stream *s, enum stream_fail *fail_r, const char **error_r)
{
	size_t done = 0;

	while (done < s->out_len) {
		ssize_t n;

		if (s->ssl != NULL) {
			int rc, err;

			ERR_clear_error();
			rc = SSL_write(s->ssl, s->out + done, (int)(s->out_len - done));
			if (rc > 0) {
				done += (size_t)rc;
				continue;
			}
			err = SSL_get_error(s->ssl, rc);
			if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
				if (stream_wait(s, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
						fail_r, error_r, "sending to the server") < 0)
					return -1;
				continue;
			}
			return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r,
					   "TLS write: %s", stream_ssl_error());
		}
		n = send(s->fd, s->out + done, s->out_len - done, MSG_NOSIGNAL);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (stream_wait(s, POLLOUT, fail_r, error_r,
					"sending to the server") < 0)
				return -1;
			continue;
		}
		return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r, "write: %s",
				   strerror(errno));
	}
	s->bytes_out += s->out_len;
	/* What was sent may have been a password: leave no copy behind. */
	mm_wipe(s->out, s->out_len);
	s->out_len = 0;
	return 0;
}

int stream_write(struct stream *s, const void *data, size_t len,
		 enum stream_fail *fail_r, const char **error_r)
{
	const unsigned char *p = data;

	while (len > 0) {
		size_t n = STREAM_OUT_MAX - s->out_len;

		if (n == 0) {
			if (stream_flush(s, fail_r, error_r) < 0)
				return -1;
			continue;
		}
		if (n > len)
			n = len;
		memcpy(s->out + s->out_len, p, n);
		s->out_len += n;
		p += n;
		len -= n;
	}
	return 0;
}

int stream_printf(struct stream *s, enum stream_fail *fail_r,
		  const char **error_r, const char *fmt, ...)
{
	char *text;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	text = mm_vasprintf(fmt, ap);
	va_end(ap);
	ret = stream_write(s, text, strlen(text), fail_r, error_r);
	/* The text may be a LOGIN or PASS command. */
	mm_free_secret(&text);
	return ret;
}

uint64_t stream_bytes_in(const struct stream *s)
{
	return s->bytes_in;
}

uint64_t stream_bytes_out(const struct stream *s)
{
	return s->bytes_out + s->out_len;
}
