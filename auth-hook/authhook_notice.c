/*
 * NAME
 *	authhook_notice 3
 * SUMMARY
 *	the notice a migrated user finds in the INBOX on NEW
 * DESCRIPTION
 *	notice_message is a template: a whole message (header fields, a
 *	blank line, the body) or just a body, with %u (the address), %d
 *	(the domain) and %% expanded. It is delivered once, when the first
 *	login creates the account, by LMTP to NEW's Dovecot (target_lmtp):
 *	LMTP needs no password, so the auth workers never hold the master
 *	password, and Sieve and quota apply as to any delivery.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "authhook.h"
#include "crypto.h"
#include "driver.h"
#include "error.h"
#include "mm_alloc.h"
#include "stream.h"

#define NOTICE_MAX (64 * 1024)
#define NOTICE_MAX_LINE 2048

int authhook_notice_text(const char *path, const char *account,
			 char **text_r, const char **error_r)
{
	char *raw, *out;
	size_t got = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_failf(error_r, "cannot open notice_message %s: %s",
				   path, strerror(errno));
	raw = mm_malloc(NOTICE_MAX + 1);
	while (got < NOTICE_MAX &&
	       ((n = read(fd, raw + got, NOTICE_MAX - got)) > 0 ||
		(n < 0 && errno == EINTR)))
		if (n > 0)
			got += (size_t)n;
	close(fd);
	if (got == NOTICE_MAX) {
		mm_free(&raw);
		return error_failf(error_r, "notice_message %s is over %d bytes",
				   path, NOTICE_MAX);
	}
	raw[got] = '\0';
	if (memchr(raw, '\0', got) != NULL) {
		mm_free(&raw);
		return error_failf(error_r, "notice_message %s holds a NUL byte", path);
	}
	out = authhook_expand(raw, account);
	mm_free(&raw);
	*text_r = out;
	return 0;
}

/* Open the LMTP connection named by target. */
static int notice_connect(const char *target, unsigned timeout_ms,
			  struct stream **stream_r, const char **error_r)
{
	enum stream_fail fail;
	const char *error;

	if (strncmp(target, "unix:", 5) == 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int fd;

		if (strlen(target + 5) >= sizeof(sun.sun_path))
			return error_failf(error_r, "target_lmtp path too long");
		strcpy(sun.sun_path, target + 5);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			int err = errno;

			if (fd >= 0)
				close(fd);
			return error_failf(error_r, "cannot connect to %s: %s",
					   target, strerror(err));
		}
		*stream_r = stream_from_fd(fd, timeout_ms);
		return 0;
	}
	if (strncmp(target, "inet:", 5) == 0) {
		char host[256];
		uint16_t port = 0;

		if (driver_split_host(target + 5, host, sizeof(host), &port) < 0 ||
		    port == 0)
			return error_failf(error_r, "bad target_lmtp '%.200s'", target);
		if (stream_connect(host, port, timeout_ms, stream_r, &fail, &error) < 0)
			return error_failf(error_r, "%s", error);
		return 0;
	}
	return error_failf(error_r, "bad target_lmtp '%.200s'", target);
}

/* Read one LMTP reply (multi-line too); 0 if its code is 2xx/3xx as
 * want says ('2' or '3'). */
static int notice_reply(struct stream *s, char want, const char *what,
			const char **error_r)
{
	enum stream_fail fail;
	const char *line, *error;
	char shown[200];
	size_t len;

	do {
		if (stream_read_line(s, NOTICE_MAX_LINE, &line, &len, &fail,
				     &error) < 0)
			return error_failf(error_r, "LMTP %s: %s", what, error);
		if (len < 3)
			return error_failf(error_r, "LMTP %s: short reply", what);
	} while (len > 3 && line[3] == '-');
	if (line[0] != want)
		return error_failf(error_r, "LMTP %s refused: %s", what,
				   log_printable(shown, sizeof(shown), line, len));
	return 0;
}

/* Send the message, dot-stuffed, with CRLF line ends. */
static int notice_send_body(struct stream *s, const char *account,
			    const char *text, const char **error_r)
{
	enum stream_fail fail;
	const char *p = text, *error;
	char date[64], id[80];
	unsigned char rnd[8];
	time_t now = time(NULL);
	struct tm tm;
	int has_header;

	/* A body alone gets a header block of its own. */
	has_header = strncmp(text, "Subject:", 8) == 0 ||
		strncmp(text, "From:", 5) == 0;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	if (crypto_random(rnd, sizeof(rnd), &error) < 0)
		memset(rnd, 0, sizeof(rnd));
	snprintf(id, sizeof(id), "<mailmigrate.%02x%02x%02x%02x%02x%02x%02x%02x.%lld@notice>",
		 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7],
		 (long long)now);
	if (stream_printf(s, &fail, &error, "Date: %s\r\nMessage-ID: %s\r\n",
			  date, id) < 0)
		return error_failf(error_r, "LMTP DATA: %s", error);
	if (!has_header &&
	    stream_printf(s, &fail, &error, "From: Mail Migration <MAILER-DAEMON>\r\n"
			  "To: <%s>\r\nSubject: Your mailbox is moving\r\n"
			  "MIME-Version: 1.0\r\n"
			  "Content-Type: text/plain; charset=utf-8\r\n\r\n",
			  account) < 0)
		return error_failf(error_r, "LMTP DATA: %s", error);
	while (*p != '\0') {
		size_t len = strcspn(p, "\r\n");

		if ((p[0] == '.' && stream_write(s, ".", 1, &fail, &error) < 0) ||
		    stream_write(s, p, len, &fail, &error) < 0 ||
		    stream_write(s, "\r\n", 2, &fail, &error) < 0)
			return error_failf(error_r, "LMTP DATA: %s", error);
		p += len;
		if (*p == '\r')
			p++;
		if (*p == '\n')
			p++;
	}
	if (stream_write(s, ".\r\n", 3, &fail, &error) < 0 ||
	    stream_flush(s, &fail, &error) < 0)
		return error_failf(error_r, "LMTP DATA: %s", error);
	return 0;
}

int authhook_notice_deliver(const char *target, const char *account,
			    const char *text, unsigned timeout_ms,
			    const char **error_r)
{
	struct stream *s;
	enum stream_fail fail;
	const char *error;
	int ret = -1;

	if (notice_connect(target, timeout_ms, &s, error_r) < 0)
		return -1;
	if (notice_reply(s, '2', "greeting", error_r) < 0)
		goto out;
	if (stream_printf(s, &fail, &error, "LHLO mailmigrate\r\n") < 0 ||
	    stream_flush(s, &fail, &error) < 0) {
		error_failf(error_r, "LMTP: %s", error);
		goto out;
	}
	if (notice_reply(s, '2', "LHLO", error_r) < 0)
		goto out;
	if (stream_printf(s, &fail, &error, "MAIL FROM:<>\r\n") < 0 ||
	    stream_flush(s, &fail, &error) < 0) {
		error_failf(error_r, "LMTP: %s", error);
		goto out;
	}
	if (notice_reply(s, '2', "MAIL FROM", error_r) < 0)
		goto out;
	if (stream_printf(s, &fail, &error, "RCPT TO:<%s>\r\n", account) < 0 ||
	    stream_flush(s, &fail, &error) < 0) {
		error_failf(error_r, "LMTP: %s", error);
		goto out;
	}
	if (notice_reply(s, '2', "RCPT TO", error_r) < 0)
		goto out;
	if (stream_printf(s, &fail, &error, "DATA\r\n") < 0 ||
	    stream_flush(s, &fail, &error) < 0) {
		error_failf(error_r, "LMTP: %s", error);
		goto out;
	}
	if (notice_reply(s, '3', "DATA", error_r) < 0 ||
	    notice_send_body(s, account, text, error_r) < 0 ||
	    notice_reply(s, '2', "message", error_r) < 0)
		goto out;
	ret = 0;
	(void)stream_printf(s, &fail, &error, "QUIT\r\n");
	(void)stream_flush(s, &fail, &error);
out:
	stream_close(&s);
	return ret;
}
