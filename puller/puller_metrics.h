/*
 * NAME
 *	puller_metrics 3h
 * SUMMARY
 *	mailmigrated's counters and its /metrics process
 * DESCRIPTION
 *	The workers are processes, so what they count goes to one page of
 *	shared memory, mapped by the daemon before it forks them; each
 *	field is only ever added to, atomically. The page is served by a
 *	process of its own (puller_metrics_start()), forked by the daemon
 *	like a worker: the daemon's own loop is a wait() for its children,
 *	and a store read for the page (accounts by state) must not hold up
 *	a worker. It reads the store at most once per
 *	PULLER_METRICS_STORE_SECONDS, whatever the scrape rate.
 */
#ifndef MM_PULLER_METRICS_H
#define MM_PULLER_METRICS_H

#include <stdint.h>
#include <sys/types.h>

#include "cfg.h"

#define PULLER_METRICS_STORE_SECONDS 5

/* How a failed job was judged (puller_worker.c). */
enum puller_fail_class {
	PULLER_FAIL_RETRY_NOW,
	PULLER_FAIL_RETRY_LATER,
	PULLER_FAIL_GIVE_UP,
};
#define PULLER_FAIL_CLASSES 3

/* In shared memory; every field is a counter since the daemon started. */
struct puller_counters {
	uint64_t messages;		/* copied to NEW and recorded */
	uint64_t bytes;			/* their sizes on OLD */
	uint64_t failed_items;		/* recorded as failed items */
	uint64_t rounds[3];		/* done, by enum store_job_kind */
	uint64_t copy_errors[PULLER_FAIL_CLASSES];
	uint64_t store_errors;		/* store calls that failed */
	uint64_t sieve_scripts;		/* Sieve scripts put on NEW */
	uint64_t dav_items;		/* events and contacts put on NEW */
	uint64_t acl_entries;		/* ACL entries given on NEW */
};

/* NULL (the CLI, the tests): nothing is counted. */
extern struct puller_counters *puller_counters;

#define puller_count(field, n) do { \
	if (puller_counters != NULL) \
		__atomic_add_fetch(&puller_counters->field, (uint64_t)(n), \
				   __ATOMIC_RELAXED); \
	} while (0)

/* Map the shared page into puller_counters (before forking). -1 if
 * there is no shared memory (nothing is counted then). */
int puller_counters_init(void);
void puller_counters_free(void);

/* Fork the process that serves /metrics on listen_fd (from
 * metrics_http_listen()) until SIGTERM or the daemon's death.
 * @return its pid, or -1 (logged) */
pid_t puller_metrics_start(const struct cfg *cfg, int listen_fd);

#endif
