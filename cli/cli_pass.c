/*
 * NAME
 *	cli_pass 3
 * SUMMARY
 *	read an account's password for mailmigrate add
 * DESCRIPTION
 *	Never from the command line, where ps(1) and shell history would
 *	show it. When stdin is not a terminal, its first line is the
 *	password (CR and LF stripped, at most CLI_MAX_LINE bytes, refused
 *	before more is buffered). On a terminal, /dev/tty is asked twice
 *	with echo off; the terminal's settings come back on every way out,
 *	a fatal signal included (the handler restores them and re-raises),
 *	and job-control stops are held off while echo is off.
 * SECURITY
 *	Every buffer that held the password is wiped before it is freed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "linereader.h"
#include "mm_alloc.h"

static volatile sig_atomic_t cli_pass_fd = -1;
static struct termios cli_pass_saved;

static const int cli_pass_fatal[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

/* A fatal signal while echo is off: restore the terminal, then die of it. */
static void cli_pass_signal(int sig)
{
	int fd = cli_pass_fd;

	if (fd >= 0) {
		(void)tcsetattr(fd, TCSANOW, &cli_pass_saved);
		(void)write(fd, "\n", 1);
	}
	/* SA_RESETHAND made the action default again: this kills us once
	 * the handler returns. */
	raise(sig);
}

/* The first line of stdin. */
static int cli_pass_stdin(char **password_r)
{
	struct linereader *lr = linereader_new(STDIN_FILENO, CLI_MAX_LINE);
	const char *line;
	size_t len;
	int ret = CLI_EXIT_INPUT;

	switch (linereader_next(lr, &line, &len)) {
	case LINEREADER_EOF:
		cli_error("no password on stdin");
		break;
	case LINEREADER_TOOLONG:
		cli_error("the password on stdin is over %d bytes", CLI_MAX_LINE);
		break;
	case LINEREADER_ERROR:
		cli_error("cannot read the password from stdin: %s", strerror(errno));
		ret = CLI_EXIT_SYSTEM;
		break;
	case LINEREADER_LINE:
		/* A last line without LF may keep its CR. */
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (memchr(line, '\0', len) != NULL)
			cli_error("the password on stdin holds a NUL byte");
		else if (len == 0)
			cli_error("empty password");
		else {
			*password_r = mm_strndup(line, len);
			ret = 0;
		}
		break;
	}
	linereader_free(&lr);
	return ret;
}

/* Prompt and read one line from the terminal into buf (echo is off).
 * Returns 0, CLI_EXIT_INPUT or CLI_EXIT_SYSTEM (reported). */
static int cli_pass_ask(int fd, const char *prompt, char *buf, size_t size)
{
	size_t len = 0;
	int toolong = 0;
	ssize_t n;
	char c;

	(void)write(fd, prompt, strlen(prompt));
	for (;;) {
		n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_error("cannot read the password from /dev/tty: %s",
				  strerror(errno));
			return CLI_EXIT_SYSTEM;
		}
		if (n == 0 || c == '\n')
			break;
		if (len + 1 < size)
			buf[len++] = c;
		else
			toolong = 1;
	}
	(void)write(fd, "\n", 1);
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	if (toolong) {
		cli_error("the password is over %zu bytes", size - 1);
		return CLI_EXIT_INPUT;
	}
	if (len == 0) {
		cli_error(n == 0 ? "no password given" : "empty password");
		return CLI_EXIT_INPUT;
	}
	if (memchr(buf, '\0', len) != NULL) {
		cli_error("the password holds a NUL byte");
		return CLI_EXIT_INPUT;
	}
	return 0;
}

/* Ask twice on /dev/tty without echo. */
static int cli_pass_tty(const char *account, char **password_r)
{
	char first[CLI_MAX_LINE + 1], again[CLI_MAX_LINE + 1];
	struct sigaction sa, old[sizeof(cli_pass_fatal) / sizeof(int)];
	sigset_t stops, oldmask;
	struct termios quiet;
	char prompt[STORE_MAX_ACCOUNT + 32];
	int fd, ret;

	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		cli_error("cannot open /dev/tty to ask for the password: %s "
			  "(give it on stdin)", strerror(errno));
		return CLI_EXIT_SYSTEM;
	}
	if (tcgetattr(fd, &cli_pass_saved) < 0) {
		cli_error("cannot read the terminal settings: %s", strerror(errno));
		close(fd);
		return CLI_EXIT_SYSTEM;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cli_pass_signal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(cli_pass_fatal) / sizeof(int); i++)
		sigaction(cli_pass_fatal[i], &sa, &old[i]);
	sigemptyset(&stops);
	sigaddset(&stops, SIGTSTP);
	sigaddset(&stops, SIGTTIN);
	sigaddset(&stops, SIGTTOU);
	sigprocmask(SIG_BLOCK, &stops, &oldmask);

	quiet = cli_pass_saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	cli_pass_fd = fd;
	ret = CLI_EXIT_SYSTEM;
	if (tcsetattr(fd, TCSAFLUSH, &quiet) < 0) {
		cli_error("cannot turn terminal echo off: %s", strerror(errno));
	} else {
		snprintf(prompt, sizeof(prompt), "Password for %s: ", account);
		ret = cli_pass_ask(fd, prompt, first, sizeof(first));
		if (ret == 0)
			ret = cli_pass_ask(fd, "Again: ", again, sizeof(again));
		if (ret == 0 && strcmp(first, again) != 0) {
			cli_error("the passwords do not match");
			ret = CLI_EXIT_INPUT;
		}
		(void)tcsetattr(fd, TCSAFLUSH, &cli_pass_saved);
	}
	cli_pass_fd = -1;
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	for (size_t i = 0; i < sizeof(cli_pass_fatal) / sizeof(int); i++)
		sigaction(cli_pass_fatal[i], &old[i], NULL);
	close(fd);
	if (ret == 0)
		*password_r = mm_strdup(first);
	mm_wipe(first, sizeof(first));
	mm_wipe(again, sizeof(again));
	return ret;
}

/* The password for account, from stdin or the terminal. */
int cli_pass_read(const char *account, char **password_r)
{
	*password_r = NULL;
	if (!isatty(STDIN_FILENO))
		return cli_pass_stdin(password_r);
	return cli_pass_tty(account, password_r);
}
