/*
 * NAME
 *	puller_metrics 3
 * SUMMARY
 *	mailmigrated's counters and its /metrics process
 * DESCRIPTION
 *	See puller_metrics.h. The page:
 *
 *	From the workers' shared counters (this daemon, since it started):
 *	mailmigrate_copied_messages_total, mailmigrate_copied_bytes_total,
 *	mailmigrate_failed_items_total, mailmigrate_sieve_scripts_total,
 *	mailmigrate_dav_items_total,
 *	mailmigrate_acl_entries_total,
 *	mailmigrate_rounds_total{kind},
 *	mailmigrate_copy_errors_total{class}, and
 *	mailmigrate_store_errors_total (the workers' and this process's).
 *
 *	From the store (every host's work; read at most every
 *	PULLER_METRICS_STORE_SECONDS): mailmigrate_accounts{state},
 *	mailmigrate_store_messages, mailmigrate_store_bytes,
 *	mailmigrate_jobs{state}, mailmigrate_auth_first_logins_total{outcome}
 *	(the auth module's counts, kept in the store), mailmigrate_paused, and
 *	mailmigrate_store_read_timestamp_seconds, when they were read. A
 *	store that cannot be read leaves the last figures (none before
 *	the first read) and is opened again at the next try.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "metrics_http.h"
#include "puller_child.h"
#include "puller_metrics.h"
#include "store.h"
#include "store_cfg.h"

struct puller_counters *puller_counters;

int puller_counters_init(void)
{
	void *p = mmap(NULL, sizeof(struct puller_counters), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	memset(p, 0, sizeof(struct puller_counters));
	puller_counters = p;
	return 0;
}

void puller_counters_free(void)
{
	if (puller_counters != NULL)
		munmap(puller_counters, sizeof(*puller_counters));
	puller_counters = NULL;
}

struct metrics_proc {
	const struct cfg *cfg;
	struct store *store;
	struct store_stats stats;
	int have_stats;
	time_t read_at;		/* last successful read */
	time_t tried_at;	/* last try */
	uint64_t store_errors;	/* this process's */
};

static volatile sig_atomic_t metrics_stop;

static void metrics_on_term(int sig)
{
	(void)sig;
	metrics_stop = 1;
}

/* The store's figures, read again when older than the limit. */
static void metrics_refresh(struct metrics_proc *mp, time_t now)
{
	struct store_stats st;
	const char *error;

	if (mp->tried_at != 0 && now - mp->tried_at < PULLER_METRICS_STORE_SECONDS &&
	    now >= mp->tried_at)
		return;
	mp->tried_at = now;
	if (mp->store == NULL && store_open_cfg(mp->cfg, NULL, &mp->store, &error) < 0) {
		mp->store_errors++;
		log_error("metrics: %s", error);
		return;
	}
	if (store_stats_get(mp->store, now, &st, &error) < 0) {
		mp->store_errors++;
		log_error("metrics: store statistics: %s", error);
		store_close(&mp->store);	/* opened again next time */
		return;
	}
	mp->stats = st;
	mp->have_stats = 1;
	mp->read_at = now;
}

static uint64_t counter(const uint64_t *field)
{
	return __atomic_load_n(field, __ATOMIC_RELAXED);
}

static void metrics_render(struct metrics_text *t, void *ctx)
{
	static const char *const kinds[] = { "copy", "sync", "finish" };
	static const char *const classes[] = { "retry_now", "retry_later", "give_up" };
	struct metrics_proc *mp = ctx;
	const struct puller_counters *pc = puller_counters;

	metrics_refresh(mp, time(NULL));
	metrics_family(t, "mailmigrate_copied_messages_total", "counter",
		       "Messages copied to NEW and recorded by this daemon's workers.");
	metrics_u64(t, "mailmigrate_copied_messages_total", NULL, counter(&pc->messages));
	metrics_family(t, "mailmigrate_copied_bytes_total", "counter",
		       "Bytes of those messages (their size on OLD).");
	metrics_u64(t, "mailmigrate_copied_bytes_total", NULL, counter(&pc->bytes));
	metrics_family(t, "mailmigrate_failed_items_total", "counter",
		       "Messages and folders recorded as failed items (mailmigrate failed).");
	metrics_u64(t, "mailmigrate_failed_items_total", NULL, counter(&pc->failed_items));
	metrics_family(t, "mailmigrate_sieve_scripts_total", "counter",
		       "Sieve scripts put on NEW's ManageSieve (migrate_sieve).");
	metrics_u64(t, "mailmigrate_sieve_scripts_total", NULL, counter(&pc->sieve_scripts));
	metrics_family(t, "mailmigrate_dav_items_total", "counter",
		       "Calendar items and contacts put on NEW's DAV server (migrate_dav).");
	metrics_u64(t, "mailmigrate_dav_items_total", NULL, counter(&pc->dav_items));
	metrics_family(t, "mailmigrate_acl_entries_total", "counter",
		       "ACL entries given on NEW's folders (migrate_shared).");
	metrics_u64(t, "mailmigrate_acl_entries_total", NULL, counter(&pc->acl_entries));
	metrics_family(t, "mailmigrate_rounds_total", "counter",
		       "Rounds completed (an account copied, synced or finished), by job kind.");
	for (int k = 0; k < 3; k++) {
		const char *labels[] = { "kind", kinds[k], NULL };

		metrics_u64(t, "mailmigrate_rounds_total", labels, counter(&pc->rounds[k]));
	}
	metrics_family(t, "mailmigrate_copy_errors_total", "counter",
		       "Failed copy jobs, by what was done: retried at once, later, or "
		       "given up (the account failed).");
	for (int c = 0; c < PULLER_FAIL_CLASSES; c++) {
		const char *labels[] = { "class", classes[c], NULL };

		metrics_u64(t, "mailmigrate_copy_errors_total", labels,
			    counter(&pc->copy_errors[c]));
	}
	metrics_family(t, "mailmigrate_store_errors_total", "counter",
		       "Store calls of this daemon that failed.");
	metrics_u64(t, "mailmigrate_store_errors_total", NULL,
		    counter(&pc->store_errors) + mp->store_errors);
	if (!mp->have_stats)
		return;
	metrics_family(t, "mailmigrate_accounts", "gauge",
		       "Accounts in the store, by state.");
	for (int s = 0; s < STORE_STATE_COUNT; s++) {
		const char *labels[] = { "state", store_state_name(s), NULL };

		metrics_u64(t, "mailmigrate_accounts", labels, mp->stats.by_state[s]);
	}
	metrics_family(t, "mailmigrate_store_messages", "gauge",
		       "Messages the store records as copied, every account and host.");
	metrics_u64(t, "mailmigrate_store_messages", NULL, mp->stats.messages);
	metrics_family(t, "mailmigrate_store_bytes", "gauge",
		       "Bytes the store records as copied, every account and host.");
	metrics_u64(t, "mailmigrate_store_bytes", NULL, mp->stats.bytes);
	metrics_family(t, "mailmigrate_jobs", "gauge",
		       "Copy jobs in the store: waiting, or leased by a worker.");
	metrics_u64(t, "mailmigrate_jobs", (const char *[]){ "state", "pending", NULL },
		    mp->stats.jobs_pending);
	metrics_u64(t, "mailmigrate_jobs", (const char *[]){ "state", "leased", NULL },
		    mp->stats.jobs_leased);
	metrics_family(t, "mailmigrate_auth_first_logins_total", "counter",
		       "First logins the auth module took to OLD, by outcome, "
		       "every Dovecot host of the store.");
	for (int o = 0; o < STORE_FIRST_LOGIN_COUNT; o++) {
		const char *labels[] = { "outcome", store_first_login_name(o), NULL };

		metrics_u64(t, "mailmigrate_auth_first_logins_total", labels,
			    mp->stats.first_logins[o]);
	}
	metrics_family(t, "mailmigrate_paused", "gauge",
		       "1 while the migration is paused (mailmigrate pause).");
	metrics_u64(t, "mailmigrate_paused", NULL, mp->stats.paused ? 1 : 0);
	metrics_family(t, "mailmigrate_store_read_timestamp_seconds", "gauge",
		       "When the store figures above were read (unix time).");
	metrics_u64(t, "mailmigrate_store_read_timestamp_seconds", NULL,
		    (uint64_t)mp->read_at);
}

/* The metrics process: serve until SIGTERM or the daemon's death. */
static int metrics_run(const struct cfg *cfg, int listen_fd)
{
	struct metrics_proc mp = { .cfg = cfg };
	struct metrics_http *h;
	char error[256];

	h = metrics_http_new(listen_fd, metrics_render, &mp, error, sizeof(error));
	if (h == NULL) {
		log_error("metrics: %s", error);
		return 3;
	}
	while (!metrics_stop) {
		struct pollfd pfd = { metrics_http_fd(h), POLLIN, 0 };
		int n = poll(&pfd, 1, 1000);

		if (n < 0 && errno != EINTR) {
			log_error("metrics: poll: %s", strerror(errno));
			break;
		}
		if (n > 0)
			metrics_http_handle(h, time(NULL));
		metrics_http_tick(h, time(NULL));
	}
	metrics_http_free(&h);
	store_close(&mp.store);
	return 0;
}

pid_t puller_metrics_start(const struct cfg *cfg, int listen_fd)
{
	pid_t pid = puller_child_fork(metrics_on_term, "metrics");

	if (pid == 0)
		_exit(metrics_run(cfg, listen_fd));
	return pid;
}
