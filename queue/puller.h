/*
 * NAME
 *	puller 3h
 * SUMMARY
 *	the puller: mailmigrated's workers and the copy of one account
 * DESCRIPTION
 *	mailmigrated forks `workers` processes. Each opens the store, takes
 *	a job under a lease, copies that account from OLD to NEW through
 *	the drivers, and gives the job back done, to retry (with back-off)
 *	or failed. The copy goes in batches: a batch is recorded as
 *	pending before it is sent to NEW and as done, with the new UIDs,
 *	after; a crash between the two is resolved at the next attempt by
 *	matching what NEW holds, so nothing is copied twice or lost.
 */
#ifndef MM_PULLER_H
#define MM_PULLER_H

#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "cfg.h"
#include "store.h"
#include "stream.h"

#define PULLER_LEASE_SECONDS 300
#define PULLER_BATCH_MESSAGES 64
#define PULLER_BATCH_BYTES (16 * 1024 * 1024)
#define PULLER_MAX_FOLDERS 20000

struct throttle;
/* max_bytes_per_second, shared by all workers; NULL: unlimited. */
extern struct throttle *puller_throttle;

/* Set by the signal handlers; checked between messages. */
extern volatile sig_atomic_t puller_stop;

struct puller {
	const struct cfg *cfg;
	struct store *store;
	char owner[128];	/* "host:pid", the lease holder */
	char *target_master_password;
};

enum puller_outcome {
	PULLER_DONE,		/* the job is finished */
	PULLER_STOPPED,		/* stopped by pause or SIGTERM: give it back */
	PULLER_LEASE_LOST,	/* another worker has it now */
};

/* Copy job's account. 0 with *outcome_r, or -1 with the failure class
 * and a message. */
int puller_copy_account(struct puller *p, const struct store_job *job,
			enum puller_outcome *outcome_r, enum stream_fail *fail_r,
			const char **error_r);

/* After account's copy (puller_kick.c): end its sessions that NEW
 * proxies to OLD (login_action = proxy), so clients reconnect locally. */
void puller_kick(struct puller *p, const char *account);

/* Give back the jobs leased by processes of this host that are gone
 * (a daemon killed with SIGKILL, a worker that crashed), so a restart
 * resumes them at once. worker_died: the daemon saw its worker killed
 * by a signal (a crash, perhaps on what that job copies): each counts
 * as a death of the job's worker. At start-up (0) they do not: the
 * daemon itself was stopped (kill -9, a reboot, systemd), which says
 * nothing about the job. */
int puller_reclaim(const struct cfg *cfg, int worker_died);

/* The lease a worker takes a job under and renews: PULLER_LEASE_SECONDS,
 * or MAILMIGRATED_LEASE_SECONDS from the environment (tests only). */
unsigned puller_lease_seconds(void);

/* The worker loop; returns the exit status. once: exit when no job is
 * ready instead of waiting. */
int puller_worker_run(const struct cfg *cfg, int once);

#endif
