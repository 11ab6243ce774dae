/*
 * NAME
 *	log 3h
 * SUMMARY
 *	severities with fixed meanings, to syslog, a file or stderr
 * DESCRIPTION
 *	As Postfix msg(3):
 *	panic	our own bug; logs and aborts.
 *	fatal	bad configuration or missing resource; logs and exits 3.
 *	error	a counted, recoverable failure.
 *	warning	something the administrator should know.
 *	info	normal progress.
 *	debug	only when enabled.
 *	Peer text must go through log_printable() before it is logged.
 *	Nothing may ever log a password.
 */
#ifndef MM_LOG_H
#define MM_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_severity {
	LOG_SEV_DEBUG,
	LOG_SEV_INFO,
	LOG_SEV_WARNING,
	LOG_SEV_ERROR,
	LOG_SEV_FATAL,
	LOG_SEV_PANIC,
};

enum log_dest {
	LOG_DEST_STDERR,	/* "prog: error: text" on stderr (CLI, tests) */
	LOG_DEST_SYSLOG,	/* syslog(3), mail facility */
	LOG_DEST_FILE,		/* appended, one timestamped line each */
};

/* Set the program name and destination. path is used with LOG_DEST_FILE.
 * Returns 0, or -1 with *error_r set (the file cannot be opened), kept
 * as error(3h) says. */
int log_open(const char *progname, enum log_dest dest, const char *path,
	     const char **error_r);
/* A daemon's log: log_file (NULL: syslog), also to stderr when in the
 * foreground; a file that cannot be opened is said on stderr. 0 or -1. */
int log_open_daemon(const char *progname, const char *log_file, int foreground);
/* Hand every line (one record, newlines folded) to fn instead of the
 * destination: a host program's log, such as Dovecot's for the auth
 * module. NULL: back to the destination. */
typedef void log_handler_fn(enum log_severity sev, const char *text);
void log_set_handler(log_handler_fn *fn);
/* Also copy every line to stderr (foreground daemons, -f). */
void log_also_stderr(int enable);
void log_set_debug(int enable);
void log_close(void);
const char *log_progname(void);

/* The name of a severity: "info", "warning", ... */
const char *log_severity_name(enum log_severity sev);
/* Parse a severity name; -1 when unknown. */
int log_severity_parse(const char *name);

void log_msg(enum log_severity sev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_severity sev, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void log_panic(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* Copy at most len bytes of untrusted text into buf (size bufsize),
 * replacing control and non-ASCII bytes with '?' and truncating;
 * returns buf. As Postfix printable(). */
char *log_printable(char *buf, size_t bufsize, const char *text, size_t len);

#endif
