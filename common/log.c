/*
 * NAME
 *	log 3
 * SUMMARY
 *	severities with fixed meanings, to syslog, a file or stderr
 * DIAGNOSTICS
 *	log_fatal() exits with status 3 (store or system error);
 *	log_panic() aborts so a core shows our bug.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"

static char log_prog[64] = "mailmigrate";
static enum log_dest log_dest = LOG_DEST_STDERR;
static int log_fd = -1;
static int log_stderr_too;
static int log_debug_on;
static log_handler_fn *log_handler;

void log_set_handler(log_handler_fn *fn)
{
	log_handler = fn;
}

static const char *const log_names[] = {
	"debug", "info", "warning", "error", "fatal", "panic",
};

const char *log_severity_name(enum log_severity sev)
{
	if ((unsigned)sev >= sizeof(log_names) / sizeof(log_names[0]))
		return "unknown";
	return log_names[sev];
}

int log_severity_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++)
		if (strcmp(name, log_names[i]) == 0)
			return (int)i;
	return -1;
}

int log_open(const char *progname, enum log_dest dest, const char *path,
	     const char **error_r)
{
	log_close();
	if (progname != NULL) {
		const char *slash = strrchr(progname, '/');

		/* A copy: the caller's string may not outlive us. */
		snprintf(log_prog, sizeof(log_prog), "%s",
			 slash != NULL ? slash + 1 : progname);
	}
	if (dest == LOG_DEST_FILE) {
		/* O_NOFOLLOW: a symlink planted where the log goes must not
		 * make us append to another file (issue 9). */
		int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
			      O_CLOEXEC, 0640);

		if (fd < 0)
			return error_failf(error_r, "cannot open log_file %s: %s",
					   path, strerror(errno));
		log_fd = fd;
	} else if (dest == LOG_DEST_SYSLOG) {
		openlog(log_prog, LOG_PID | LOG_NDELAY, LOG_MAIL);
	}
	log_dest = dest;
	return 0;
}

int log_open_daemon(const char *progname, const char *log_file, int foreground)
{
	const char *error;

	if (log_open(progname, log_file != NULL ? LOG_DEST_FILE : LOG_DEST_SYSLOG,
		     log_file, &error) < 0) {
		fprintf(stderr, "%s: %s\n", progname, error);
		return -1;
	}
	log_also_stderr(foreground);
	return 0;
}

void log_close(void)
{
	if (log_fd >= 0) {
		close(log_fd);
		log_fd = -1;
	}
	if (log_dest == LOG_DEST_SYSLOG)
		closelog();
	log_dest = LOG_DEST_STDERR;
}

void log_also_stderr(int enable)
{
	log_stderr_too = enable;
}

void log_set_debug(int enable)
{
	log_debug_on = enable;
}

const char *log_progname(void)
{
	return log_prog;
}

static void log_write_fd(int fd, const char *line, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, line, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		line += n;
		len -= (size_t)n;
	}
}

void log_vmsg(enum log_severity sev, const char *fmt, va_list ap)
{
	static const int sysprio[] = {
		LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR, LOG_CRIT, LOG_CRIT,
	};
	char text[2048], line[2300];
	int saved_errno = errno;
	int len;

	if ((unsigned)sev > LOG_SEV_PANIC)
		sev = LOG_SEV_PANIC;	/* a bad severity is our bug: be loud */
	if (sev == LOG_SEV_DEBUG && !log_debug_on)
		return;
	vsnprintf(text, sizeof(text), fmt, ap);
	/* One record per line: fold embedded newlines. */
	for (char *p = text; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (log_handler != NULL) {
		log_handler(sev, text);
		errno = saved_errno;
		return;
	}

	if (log_dest == LOG_DEST_SYSLOG) {
		syslog(sysprio[sev], "%s: %s", log_severity_name(sev), text);
	} else if (log_dest == LOG_DEST_FILE) {
		char stamp[64];
		struct tm tm;
		time_t now = time(NULL);

		localtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S%z", &tm);
		len = snprintf(line, sizeof(line), "%s %s[%ld]: %s: %s\n", stamp,
			       log_prog, (long)getpid(), log_severity_name(sev), text);
		if (len > (int)sizeof(line) - 1)
			len = (int)sizeof(line) - 1;
		log_write_fd(log_fd, line, (size_t)len);
	}
	if (log_dest == LOG_DEST_STDERR || log_stderr_too) {
		len = snprintf(line, sizeof(line), "%s: %s: %s\n", log_prog,
			       log_severity_name(sev), text);
		if (len > (int)sizeof(line) - 1)
			len = (int)sizeof(line) - 1;
		log_write_fd(STDERR_FILENO, line, (size_t)len);
	}
	errno = saved_errno;
}

void log_msg(enum log_severity sev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(sev, fmt, ap);
	va_end(ap);
}

#define LOG_FN(name, sev) \
void name(const char *fmt, ...) \
{ \
	va_list ap; \
	va_start(ap, fmt); \
	log_vmsg(sev, fmt, ap); \
	va_end(ap); \
}
LOG_FN(log_debug, LOG_SEV_DEBUG)
LOG_FN(log_info, LOG_SEV_INFO)
LOG_FN(log_warning, LOG_SEV_WARNING)
LOG_FN(log_error, LOG_SEV_ERROR)

void log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_SEV_FATAL, fmt, ap);
	va_end(ap);
	exit(3);
}

void log_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_SEV_PANIC, fmt, ap);
	va_end(ap);
	abort();
}

char *log_printable(char *buf, size_t bufsize, const char *text, size_t len)
{
	size_t i, n;

	if (bufsize == 0)
		return buf;
	n = len < bufsize - 1 ? len : bufsize - 1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];
		buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	buf[i] = '\0';
	/* Mark truncation so the reader knows there was more. */
	if (len > n && n >= 3)
		memcpy(buf + n - 3, "...", 3);
	return buf;
}
