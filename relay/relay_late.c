/*
 * NAME
 *	relay_late 3
 * SUMMARY
 *	late_mail counts, batched off the lookup path
 * DESCRIPTION
 *	A transport answer that sends a queued account's mail to OLD is
 *	noted here and added to the account's late_mail counter in the
 *	store by relay_late_flush(), which the event loop calls once a
 *	second. The write itself is done by the writer, a process forked
 *	by relay_late_start() with a store handle of its own: the event
 *	loop hands it the names over a socket pair, without waiting, so a
 *	store write that waits for LMDB's write lock (held by another
 *	process) or a slow disk never holds up a lookup. What the writer
 *	cannot take yet stays pending here (bounded, as below). Without a
 *	writer (the unit tests) the flush writes itself, all pending
 *	accounts of a batch in one transaction. An account is counted at most once per
 *	RELAY_LATE_WINDOW seconds: Postfix looks a recipient up several
 *	times per message (smtpd at RCPT, the queue manager, address
 *	verification), and the counter is a mark for the final round
 *	(which mailboxes may hold mail that reached OLD after their copy
 *	was queued), not a message count. Notes beyond RELAY_LATE_MAX
 *	pending accounts are dropped and the loss is logged.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "mm_alloc.h"
#include "relay.h"

#define RELAY_LATE_MAX 16384
#define RELAY_LATE_SLOTS (RELAY_LATE_MAX * 2)	/* power of two */
/* Accounts written per flush: one transaction stays short (a few ms),
 * so the event loop is never held long; the rest waits a second. */
#define RELAY_LATE_BATCH 1024
/* Bytes of names handed to the writer and not yet read by it. */
#define RELAY_LATE_OUT_MAX (64 * 1024)
/* How long relay_late_free() waits for the writer to finish. */
#define RELAY_LATE_EXIT_MS 5000

/* A set of account names: open addressing, index + 1 in slots. */
struct late_set {
	char **names;		/* RELAY_LATE_MAX */
	size_t count;
	uint16_t slots[RELAY_LATE_SLOTS];
};

struct relay_late {
	struct late_set pending;	/* to be written */
	struct late_set counted;	/* written in this window */
	time_t window_start;
	uint64_t dropped;		/* notes lost while pending was full */
	/* The writer (relay_late_start()); fd -1: none, write ourselves. */
	int writer_fd;
	pid_t writer_pid;
	char *dir;			/* the store spec, for a restart */
	struct store_options opts;
	char *password;			/* opts.password's copy, or NULL */
	char *out;			/* "name\n"... not yet sent */
	size_t out_len;
};

/* FNV-1a. */
static uint32_t late_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The slot holding name, or the empty one where it would go. */
static size_t set_slot(const struct late_set *set, const char *name)
{
	size_t slot = late_hash(name) & (RELAY_LATE_SLOTS - 1);

	while (set->slots[slot] != 0 &&
	       strcmp(set->names[set->slots[slot] - 1], name) != 0)
		slot = (slot + 1) & (RELAY_LATE_SLOTS - 1);
	return slot;
}

/* Add name (owned by the set from now on); 0, or -1 when full. */
static int set_add(struct late_set *set, char *name)
{
	size_t slot = set_slot(set, name);

	if (set->slots[slot] != 0)
		return 0;
	if (set->count >= RELAY_LATE_MAX)
		return -1;
	set->names[set->count++] = name;
	set->slots[slot] = (uint16_t)set->count;
	return 0;
}

static void set_clear(struct late_set *set)
{
	for (size_t i = 0; i < set->count; i++)
		mm_free(&set->names[i]);
	set->count = 0;
	memset(set->slots, 0, sizeof(set->slots));
}

struct relay_late *relay_late_new(void)
{
	struct relay_late *late = mm_calloc(1, sizeof(struct relay_late));

	late->pending.names = mm_calloc(RELAY_LATE_MAX, sizeof(char *));
	late->counted.names = mm_calloc(RELAY_LATE_MAX, sizeof(char *));
	late->writer_fd = -1;
	return late;
}

/* Milliseconds on the monotonic clock. */
static uint64_t late_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The writer: add the names read from fd to the store, a batch per
 * transaction; a failed write is tried again a second later. Ends at
 * end of input (the relay closed its side, or died) once what it holds
 * is written. */
static void late_writer_run(int fd, const char *dir, const struct store_options *opts)
{
	char buf[RELAY_LATE_OUT_MAX];
	char **names = mm_calloc(RELAY_LATE_BATCH, sizeof(char *));
	struct store *store = NULL;
	size_t len = 0, n = 0;
	unsigned failures = 0;
	const char *error;
	int eof = 0;

	for (;;) {
		char *nl;

		/* Take what has come; wait a while only with nothing to do. */
		if (!eof && n < RELAY_LATE_BATCH && len < sizeof(buf)) {
			struct pollfd pfd = { fd, POLLIN, 0 };

			if (poll(&pfd, 1, n > 0 ? 0 : 1000) > 0) {
				ssize_t got = read(fd, buf + len, sizeof(buf) - len);

				if (got > 0)
					len += (size_t)got;
				else if (got == 0 || (errno != EINTR && errno != EAGAIN))
					eof = 1;
			}
		}
		while (n < RELAY_LATE_BATCH && (nl = memchr(buf, '\n', len)) != NULL) {
			size_t l = (size_t)(nl - buf);

			if (l > 0 && l < STORE_MAX_ACCOUNT)
				names[n++] = mm_strndup(buf, l);
			memmove(buf, nl + 1, len - l - 1);
			len -= l + 1;
		}
		if (len == sizeof(buf) && memchr(buf, '\n', len) == NULL)
			len = 0;	/* no name is that long: not ours */
		if (n == 0) {
			if (eof)
				break;
			continue;
		}
		if (store == NULL && store_open(dir, opts, &store, &error) < 0)
			store = NULL;
		else if (store_account_add_late_mail(store, names, n, &error) == 0)
			error = NULL;
		if (error == NULL) {
			for (size_t i = 0; i < n; i++)
				mm_free(&names[i]);
			n = 0;
			failures = 0;
			continue;
		}
		log_error("late mail for %zu accounts not recorded yet: %s", n, error);
		if (eof && ++failures >= 5) {
			log_error("late mail for %zu accounts lost at exit", n);
			break;
		}
		(void)poll(NULL, 0, 1000);
	}
	for (size_t i = 0; i < n; i++)
		mm_free(&names[i]);
	mm_free(&names);
	store_close(&store);
}

/* Close our side of the writer and wait for it, up to wait_ms. */
static void late_writer_stop(struct relay_late *late, unsigned wait_ms)
{
	uint64_t t0 = late_ms();
	int status;

	if (late->writer_fd >= 0)
		close(late->writer_fd);
	late->writer_fd = -1;
	if (late->writer_pid <= 0)
		return;
	while (waitpid(late->writer_pid, &status, WNOHANG) == 0) {
		if (late_ms() - t0 >= wait_ms) {
			log_warning("late mail writer %ld still busy; not waiting for it",
				    (long)late->writer_pid);
			break;
		}
		(void)poll(NULL, 0, 10);
	}
	late->writer_pid = 0;
}

/* Fork the writer; 0 or -1 with *error_r. */
static int late_writer_fork(struct relay_late *late, const char **error_r)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return error_failf(error_r, "late mail writer: socketpair: %s",
				   strerror(errno));
	pid = fork();
	if (pid < 0) {
		int err = errno;

		close(sv[0]);
		close(sv[1]);
		return error_failf(error_r, "late mail writer: fork: %s",
				   strerror(err));
	}
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = SIG_IGN };
		sigset_t none;

		/* It ends when the relay closes its side, after writing
		 * what it holds: signals to the process group do not cut
		 * it short. */
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		close(sv[0]);
		late_writer_run(sv[1], late->dir, &late->opts);
		_exit(0);
	}
	close(sv[1]);
	(void)fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	late->writer_fd = sv[0];
	late->writer_pid = pid;
	return 0;
}

int relay_late_start(struct relay_late *late, const char *spec,
		     const struct store_options *opts, const char **error_r)
{
	mm_free(&late->dir);
	late->dir = mm_strdup(spec);
	if (late->password != NULL)
		mm_free_secret(&late->password);
	late->opts = *opts;
	late->opts.create = 0;
	/* The writer opens the store again after a restart: its own copy
	 * of the password, wiped when the relay ends. */
	if (opts->password != NULL)
		late->password = mm_strdup(opts->password);
	late->opts.password = late->password;
	if (late->out == NULL)
		late->out = mm_malloc(RELAY_LATE_OUT_MAX);
	return late_writer_fork(late, error_r);
}

/* Send what the writer has not taken yet, without waiting (or waiting
 * up to wait_ms); a writer gone is started again. 0, or -1. */
static int late_send(struct relay_late *late, unsigned wait_ms)
{
	uint64_t t0 = late_ms();
	const char *error;

	while (late->out_len > 0) {
		ssize_t n = send(late->writer_fd, late->out, late->out_len,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			memmove(late->out, late->out + n, late->out_len - (size_t)n);
			late->out_len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { late->writer_fd, POLLOUT, 0 };
			uint64_t spent = late_ms() - t0;

			if (spent >= wait_ms)
				return 0;	/* the writer is busy: later */
			(void)poll(&pfd, 1, (int)(wait_ms - spent));
			continue;
		}
		log_error("late mail writer gone (%s); starting another",
			  n < 0 ? strerror(errno) : "closed");
		late_writer_stop(late, 0);
		if (late_writer_fork(late, &error) < 0) {
			log_error("%s", error);
			return -1;
		}
	}
	return 0;
}

/* n pending names were written or handed over: counted, not again in
 * this window; the rest stays pending. */
static void late_mark_counted(struct relay_late *late, size_t n)
{
	struct late_set *p = &late->pending;
	size_t rest;

	for (size_t i = 0; i < n; i++) {
		if (set_add(&late->counted, p->names[i]) < 0)
			mm_free(&p->names[i]);
		p->names[i] = NULL;
	}
	/* The rest stays pending: index it again. */
	memset(p->slots, 0, sizeof(p->slots));
	rest = p->count - n;
	memmove(p->names, p->names + n, rest * sizeof(char *));
	p->count = 0;
	for (size_t i = 0; i < rest; i++)
		(void)set_add(p, p->names[i]);
}

/* Hand pending names to the writer, as many as its buffer takes. */
static int late_hand_over(struct relay_late *late, unsigned wait_ms)
{
	struct late_set *p = &late->pending;
	size_t n = 0;

	while (n < p->count) {
		size_t l = strlen(p->names[n]);

		if (late->out_len + l + 1 > RELAY_LATE_OUT_MAX)
			break;
		memcpy(late->out + late->out_len, p->names[n], l);
		late->out[late->out_len + l] = '\n';
		late->out_len += l + 1;
		n++;
	}
	if (n > 0)
		late_mark_counted(late, n);
	return late_send(late, wait_ms);
}

void relay_late_free(struct relay_late **latep)
{
	struct relay_late *late = *latep;

	if (late == NULL)
		return;
	if (late->writer_fd >= 0) {
		/* What is left goes to the writer, which then finishes. */
		for (int i = 0; i < 32 && late->writer_fd >= 0 &&
		     (late->pending.count > 0 || late->out_len > 0); i++)
			if (late_hand_over(late, 200) < 0)
				break;
		late_writer_stop(late, RELAY_LATE_EXIT_MS);
	}
	mm_free(&late->out);
	mm_free(&late->dir);
	if (late->password != NULL)
		mm_free_secret(&late->password);
	set_clear(&late->pending);
	set_clear(&late->counted);
	mm_free(&late->pending.names);
	mm_free(&late->counted.names);
	mm_free(latep);
}

void relay_late_note(struct relay_late *late, const char *account)
{
	char *name;

	if (late->counted.slots[set_slot(&late->counted, account)] != 0 ||
	    late->pending.slots[set_slot(&late->pending, account)] != 0)
		return;
	name = mm_strdup(account);
	if (set_add(&late->pending, name) < 0) {
		mm_free(&name);
		late->dropped++;
	}
}

size_t relay_late_pending(const struct relay_late *late)
{
	return late->pending.count;
}

int relay_late_flush(struct relay_late *late, struct store *store, time_t now)
{
	struct late_set *p = &late->pending;
	const char *error;
	size_t n;

	if (now - late->window_start >= RELAY_LATE_WINDOW) {
		set_clear(&late->counted);
		late->window_start = now;
	}
	if (late->dropped > 0) {
		log_warning("late mail: %llu notes lost (over %d accounts "
			    "pending at once)", (unsigned long long)late->dropped,
			    RELAY_LATE_MAX);
		late->dropped = 0;
	}
	if (late->writer_fd >= 0)
		return late_hand_over(late, 0);
	if (p->count == 0)
		return 0;
	n = p->count < RELAY_LATE_BATCH ? p->count : RELAY_LATE_BATCH;
	if (store_account_add_late_mail(store, p->names, n, &error) < 0) {
		/* Kept for the next flush. */
		log_error("late mail for %zu accounts not recorded yet: %s",
			  p->count, error);
		return -1;
	}
	late_mark_counted(late, n);
	return 0;
}
