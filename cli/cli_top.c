/*
 * NAME
 *	cli_top 3
 * SUMMARY
 *	mailmigrate top: the migration, live
 * DESCRIPTION
 *	Every interval (1 s) it reads the store's figures and the copies
 *	running (cli_progress.c) and shows them:
 *
 *	- on a terminal, a screen redrawn in place: the mailboxes by
 *	  state, what was copied, the rate, what is left and when it
 *	  ends, one line per copy running with a progress bar (bytes
 *	  when OLD told the size, else messages), and the last errors;
 *	  cut to the terminal's width and height, redrawn on a resize.
 *	  q (or Ctrl-C) quits and gives the terminal back as it was.
 *	  A terminal smaller than TOP_MIN_COLS x TOP_MIN_ROWS is refused
 *	  before anything is changed on it.
 *	- otherwise (a pipe, a file, a log), one line per refresh, of
 *	  key=value pairs.
 *
 *	-n COUNT stops after COUNT refreshes (0, the default: until q or
 *	a signal). The store is opened read-only: top changes nothing.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "mm_alloc.h"

#define TOP_MIN_COLS 60
#define TOP_MIN_ROWS 12
#define TOP_MAX_COLS 400
#define TOP_ERRORS 3

static volatile sig_atomic_t top_quit;
static volatile sig_atomic_t top_resized;

static void top_on_signal(int sig)
{
	if (sig == SIGWINCH)
		top_resized = 1;
	else
		top_quit = 1;
}

struct top {
	struct cli_ctx *ctx;
	int tty;
	unsigned cols, rows;
	unsigned line;		/* lines drawn in this screen */
	struct termios saved;
	int saved_ok;
	/* The last errors, newest last. */
	char errors[TOP_ERRORS][TOP_MAX_COLS];
	size_t nerrors;
};

static int top_size(struct top *t)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_col == 0 ||
	    ws.ws_row == 0)
		return -1;
	t->cols = ws.ws_col > TOP_MAX_COLS - 1 ? TOP_MAX_COLS - 1 : ws.ws_col;
	t->rows = ws.ws_row;
	return 0;
}

/* One screen line, cut to the width; nothing past the last row. */
static void top_line(struct top *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void top_line(struct top *t, const char *fmt, ...)
{
	char buf[TOP_MAX_COLS];
	va_list ap;

	if (t->line >= t->rows)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (strlen(buf) > t->cols)
		buf[t->cols] = '\0';
	/* Erase the rest of the line: a shorter line replaces a longer. */
	printf("%s%s\033[K", t->line > 0 ? "\r\n" : "", buf);
	t->line++;
}

static int top_error_collect(const struct store_event *ev, void *context)
{
	struct top *t = context;
	char when[64], text[TOP_MAX_COLS], who[200];
	struct tm tm;
	time_t tt = (time_t)ev->time;

	if (t->nerrors == TOP_ERRORS) {
		memmove(t->errors[0], t->errors[1],
			sizeof(t->errors[0]) * (TOP_ERRORS - 1));
		t->nerrors--;
	}
	localtime_r(&tt, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	snprintf(t->errors[t->nerrors++], sizeof(t->errors[0]), "%s %s%s%s",
		 when, cli_printable(ev->account, who, sizeof(who)),
		 ev->account[0] != '\0' ? ": " : "",
		 cli_printable(ev->message, text, sizeof(text)));
	return 0;
}

/* "[#######-------]  48%" of done over total (0 total: no bar). */
static void top_screen(struct top *t, const struct cli_progress *pr)
{
	const struct store_stats *st = &pr->st;
	char now[64], size[32], left[32], eta[32], rate[32], bar[64], who[64];
	char folder[64];
	struct tm tm;
	time_t tt = pr->now;
	size_t shown = 0, room;

	localtime_r(&tt, &tm);
	strftime(now, sizeof(now), "%Y-%m-%d %H:%M:%S", &tm);
	t->line = 0;
	printf("\033[H");
	top_line(t, "mailmigrate top - %s%s    q quits", now,
		 st->paused ? "  PAUSED" : "");
	top_line(t, "Mailboxes %llu: %llu queued, %llu migrating, %llu migrated, "
		 "%llu failed",
		 (unsigned long long)st->accounts,
		 (unsigned long long)st->by_state[STORE_STATE_QUEUED],
		 (unsigned long long)st->by_state[STORE_STATE_MIGRATING],
		 (unsigned long long)(st->by_state[STORE_STATE_COPIED] +
				      st->by_state[STORE_STATE_FINISHED]),
		 (unsigned long long)st->by_state[STORE_STATE_FAILED]);
	if (pr->rate_bps > 0)
		snprintf(rate, sizeof(rate), "%.1f msg/s, %s/s",
			 (double)st->rate_messages / st->rate_seconds,
			 cli_size_human(pr->rate_bps, size, sizeof(size)));
	else
		snprintf(rate, sizeof(rate), "idle");
	top_line(t, "Copied %llu messages, %s   Rate %s   Errors %llu",
		 (unsigned long long)st->messages,
		 cli_size_human(st->bytes, left, sizeof(left)), rate,
		 (unsigned long long)st->errors);
	if (pr->left_known)
		snprintf(left, sizeof(left), "%s%s",
			 cli_size_human(pr->left_total, size,
					sizeof(size)),
			 pr->left_estimated ? " (est.)" : "");
	else
		snprintf(left, sizeof(left), "unknown");
	top_line(t, "Left %s   ETA %s   Jobs %llu pending, %llu running", left,
		 pr->eta == 0 ? "done" : cli_duration(pr->eta, eta, sizeof(eta)),
		 (unsigned long long)st->jobs_pending,
		 (unsigned long long)st->jobs_leased);
	top_line(t, "%s", "");
	top_line(t, "%-28s %-14s %-27s %s", "ACCOUNT", "FOLDER", "PROGRESS",
		 "MESSAGES");
	/* Rows left for copies, keeping the errors' block. */
	room = t->rows > t->line + 2 + TOP_ERRORS ?
		t->rows - t->line - 2 - TOP_ERRORS : 1;
	for (size_t i = 0; i < pr->running_count; i++) {
		const struct store_progress *p = &pr->running[i];

		if (shown + 1 == room && pr->running_count - i > 1) {
			top_line(t, "  (%zu more)", pr->running_count - i);
			shown++;
			break;
		}
		cli_printable(p->account, who, sizeof(who));
		if (cli_progress_stale(pr, p)) {
			top_line(t, "%-28.28s stalled, no news for %s", who,
				 cli_duration(pr->now - p->updated, eta,
					      sizeof(eta)));
		} else {
			char name[48];

			snprintf(folder, sizeof(folder), "%u/%u %s", p->folder_index,
				 p->folder_count,
				 cli_printable(p->folder != NULL ? p->folder : "",
					       name, sizeof(name)));
			if (p->bytes_total != 0)
				cli_progress_bar(p->bytes_done, p->bytes_total, bar,
					sizeof(bar));
			else
				cli_progress_bar(p->messages_done, p->messages_total, bar,
					sizeof(bar));
			top_line(t, "%-28.28s %-14.14s %-27s %llu/%llu", who, folder,
				 bar, (unsigned long long)p->messages_done,
				 (unsigned long long)p->messages_total);
		}
		shown++;
	}
	if (pr->running_count == 0)
		top_line(t, "  (no copy running)");
	top_line(t, "%s", "");
	top_line(t, "Last errors:");
	for (size_t i = 0; i < t->nerrors; i++)
		top_line(t, "  %s", t->errors[i]);
	if (t->nerrors == 0)
		top_line(t, "  (none)");
	/* Clear what an earlier, longer screen left below. */
	printf("\033[J");
	fflush(stdout);
}

/* One line of key=value pairs, for a pipe or a file. */
static void top_plain(const struct cli_progress *pr)
{
	const struct store_stats *st = &pr->st;
	char now[64];
	struct tm tm;
	time_t tt = pr->now;

	gmtime_r(&tt, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%s mailboxes=%llu queued=%llu migrating=%llu migrated=%llu "
	       "failed=%llu messages=%llu bytes=%llu rate_bytes_per_second=%llu "
	       "errors=%llu", now, (unsigned long long)st->accounts,
	       (unsigned long long)st->by_state[STORE_STATE_QUEUED],
	       (unsigned long long)st->by_state[STORE_STATE_MIGRATING],
	       (unsigned long long)(st->by_state[STORE_STATE_COPIED] +
				    st->by_state[STORE_STATE_FINISHED]),
	       (unsigned long long)st->by_state[STORE_STATE_FAILED],
	       (unsigned long long)st->messages, (unsigned long long)st->bytes,
	       (unsigned long long)pr->rate_bps, (unsigned long long)st->errors);
	if (pr->left_known)
		printf(" bytes_left=%llu",
		       (unsigned long long)(pr->left_total));
	else
		printf(" bytes_left=unknown");
	if (pr->eta >= 0)
		printf(" eta_seconds=%lld", (long long)pr->eta);
	else
		printf(" eta_seconds=unknown");
	printf(" running=%zu", pr->running_count);
	for (size_t i = 0; i < pr->running_count; i++) {
		const struct store_progress *p = &pr->running[i];
		char who[200];

		printf("%s%s:%llu/%llu", i == 0 ? " " : ",",
		       cli_printable(p->account, who, sizeof(who)),
		       (unsigned long long)p->messages_done,
		       (unsigned long long)p->messages_total);
	}
	putchar('\n');
	fflush(stdout);
}

/* The terminal: no echo, a key at a time, no cursor; and back. */
static void top_term_enter(struct top *t)
{
	struct termios raw;

	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &t->saved) == 0) {
		raw = t->saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
			t->saved_ok = 1;
	}
	/* The alternate screen, and the cursor hidden. */
	printf("\033[?1049h\033[?25l\033[H\033[2J");
	fflush(stdout);
}

static void top_term_leave(struct top *t)
{
	printf("\033[?25h\033[?1049l");
	fflush(stdout);
	if (t->saved_ok)
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
}

/* Wait up to ms for a key; 1 when it is q. */
static int top_wait_key(int ms)
{
	struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
	char buf[16];
	ssize_t n;

	if (poll(&pfd, 1, ms) <= 0)
		return 0;
	n = read(STDIN_FILENO, buf, sizeof(buf));
	if (n == 0 && !isatty(STDIN_FILENO)) {
		/* stdin at its end (not a terminal): only wait from now on. */
		(void)poll(NULL, 0, ms);
		return 0;
	}
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == 'q' || buf[i] == 'Q')
			return 1;
	return 0;
}

/* mailmigrate top [-n COUNT] */
int cli_cmd_top(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		CLI_COMMON_LONGOPTS
	};
	struct top t = { .ctx = ctx };
	struct sigaction sa;
	unsigned long count = 0, done = 0;
	const char *error;
	char *end;
	int c, ret = CLI_EXIT_OK;

	while ((c = cli_getopt(ctx, argc, argv, ":c:hn:", opts)) != -1) {
		switch (c) {
		case 'n':
			errno = 0;
			count = strtoul(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' ||
			    errno != 0 || count > 1000000)
				return cli_usage_error("top: -n needs a number of "
						       "refreshes (0: until q)");
			break;
		case 'h':
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage_error("top: takes no operands");
	t.tty = isatty(STDOUT_FILENO);
	if (t.tty && top_size(&t) == 0 &&
	    (t.cols < TOP_MIN_COLS || t.rows < TOP_MIN_ROWS)) {
		cli_error("top: the terminal is %ux%u; top needs at least %ux%u "
			  "(or send its output to a pipe or a file for one line "
			  "a second)", t.cols, t.rows, TOP_MIN_COLS, TOP_MIN_ROWS);
		return CLI_EXIT_USAGE;
	}
	if (t.tty && t.cols == 0) {
		t.cols = 80;
		t.rows = 24;
	}
	if (cli_ctx_store(ctx, 0, 1) < 0)
		return CLI_EXIT_SYSTEM;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = top_on_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)sigaction(SIGWINCH, &sa, NULL);
	if (t.tty)
		top_term_enter(&t);
	while (!top_quit) {
		struct cli_progress pr;

		if (cli_progress_read(ctx->store, time(NULL), &pr, &error) < 0) {
			if (t.tty)
				top_term_leave(&t);
			cli_error("top: %s", error);
			return CLI_EXIT_SYSTEM;
		}
		t.nerrors = 0;
		(void)store_event_iter(ctx->store, 1, NULL, TOP_ERRORS,
				       top_error_collect, &t, &error);
		if (t.tty) {
			if (top_resized) {
				top_resized = 0;
				(void)top_size(&t);
				printf("\033[2J");
			}
			if (t.cols < TOP_MIN_COLS || t.rows < TOP_MIN_ROWS) {
				printf("\033[H\033[2Jterminal too small");
				fflush(stdout);
			} else {
				top_screen(&t, &pr);
			}
		} else {
			top_plain(&pr);
		}
		cli_progress_free(&pr);
		if (count != 0 && ++done >= count)
			break;
		if (top_wait_key(1000))
			break;
	}
	if (t.tty)
		top_term_leave(&t);
	return ret;
}
