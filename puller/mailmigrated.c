/*
 * NAME
 *	mailmigrated 8
 * SUMMARY
 *	the puller daemon: copy queued mailboxes from OLD to NEW
 * SYNOPSIS
 *	mailmigrated [-c FILE] [-f] [--once]
 * DESCRIPTION
 *	Forks `workers` processes that take jobs from the store and copy
 *	accounts; restarts a worker that dies. SIGTERM and SIGINT: the
 *	workers finish the batch in flight and exit. SIGHUP: the
 *	configuration is read again and the workers restarted with it (a
 *	bad file is reported and the old one kept). -f stays in the
 *	foreground and logs to stderr too; --once exits when no job is
 *	ready (tests, the demo, cron).
 *
 *	With metrics_listen, the address is bound before anything else
 *	(an address in use stops the start, on stderr and in the log,
 *	before the store is touched), and a metrics process is forked
 *	beside the workers to serve /metrics (puller_metrics.c); it is
 *	restarted like a worker if it dies, and with them on SIGHUP.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cfg.h"
#include "crypto.h"
#include "log.h"
#include "mm_alloc.h"
#include "privdrop.h"
#include "metrics_http.h"
#include "puller.h"
#include "puller_child.h"
#include "puller_metrics.h"
#include "throttle.h"

#define MAX_WORKERS 64

static volatile sig_atomic_t got_hup;
/* The /metrics socket (-1: off): the workers do not keep it. */
static int metrics_fd = -1;

static void on_term(int sig)
{
	(void)sig;
	puller_stop = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	got_hup = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: mailmigrated [-c FILE] [-f] [--once]\n");
}

/* Start one worker; its pid, or -1. */
static pid_t start_worker(const struct cfg *cfg, int once)
{
	/* A worker stopped by SIGTERM (or its daemon's death) finishes
	 * its batch and goes. */
	pid_t pid = puller_child_fork(on_term, "worker");

	if (pid == 0) {
		if (metrics_fd >= 0)
			close(metrics_fd);
		_exit(puller_worker_run(cfg, once));
	}
	return pid;
}

static int open_log(const struct cfg *cfg, int foreground)
{
	return log_open_daemon("mailmigrated", cfg->log_file, foreground);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "once", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sigaction sa = { 0 };
	const char *path = NULL, *error;
	char *drop_error = NULL;
	pid_t pids[MAX_WORKERS] = { 0 }, metrics_pid = 0;
	struct cfg *cfg;
	int c, foreground = 0, once = 0, status = 0;
	unsigned n;

	/* First: no core file or ptrace can reveal keys or passwords. */
	if (crypto_harden_process(&error) < 0) {
		fprintf(stderr, "mailmigrated: %s\n", error);
		return 3;
	}
	while ((c = getopt_long(argc, argv, "c:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'o':
			once = 1;
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc) {
		usage();
		return 2;
	}
	if (cfg_load(cfg_path(path), &cfg, &error) < 0) {
		fprintf(stderr, "mailmigrated: %s\n", error);
		return 3;
	}
	if (open_log(cfg, foreground) < 0) {
		cfg_free(&cfg);
		return 3;
	}
	/* Before daemon() and the store: an address that cannot be bound
	 * is said where the admin looks, and nothing else is done. */
	if (cfg->metrics_listen != NULL) {
		char merr[256];

		if (metrics_http_listen(cfg->metrics_listen, &metrics_fd, merr,
					sizeof(merr)) < 0) {
			log_error("metrics_listen: %s; not started", merr);
			if (!foreground)
				fprintf(stderr, "mailmigrated: metrics_listen: %s; not "
					"started\n", merr);
			cfg_free(&cfg);
			return 3;
		}
	}
	/* Nothing the puller opens needs root: run_user from here on
	 * (the store, key_file and the rest are opened by the workers and
	 * the metrics process). */
	if (privdrop_apply(cfg->run_user, cfg->run_group, cfg->log_file,
			   &drop_error) < 0) {
		log_error("%s", drop_error);
		mm_free(&drop_error);
		if (metrics_fd >= 0)
			close(metrics_fd);
		cfg_free(&cfg);
		return 3;
	}
	if (!foreground && !once && daemon(0, 0) < 0) {
		log_error("daemon: %s", strerror(errno));
		cfg_free(&cfg);
		return 3;
	}
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	(void)puller_reclaim(cfg, 0);
	/* One bucket for every worker, made before they are forked. */
	puller_throttle = throttle_new(cfg->max_bytes_per_second);
	if (puller_throttle == NULL)
		log_warning("max_bytes_per_second: no shared memory: not limited");
	if (metrics_fd >= 0) {
		if (puller_counters_init() < 0)
			log_warning("metrics: no shared memory: the workers' "
				    "counters stay at 0");
		metrics_pid = puller_metrics_start(cfg, metrics_fd);
		log_info("metrics on http://%s/metrics", cfg->metrics_listen + 5);
	}
	log_info("starting %u workers (state_dir %s)", cfg->workers, cfg->state_dir);
	n = cfg->workers < MAX_WORKERS ? cfg->workers : MAX_WORKERS;
	for (unsigned i = 0; i < n; i++)
		pids[i] = start_worker(cfg, once);
	for (;;) {
		int wstatus;
		pid_t pid = wait(&wstatus);
		unsigned alive = 0;

		if (puller_stop) {
			puller_children_stop(pids, n);
			break;
		}
		if (got_hup) {
			struct cfg *fresh;

			got_hup = 0;
			if (cfg_load(cfg->path, &fresh, &error) < 0) {
				log_error("SIGHUP: keeping the running configuration: %s",
					  error);
				continue;
			}
			if (!cfg_str_same(fresh->run_user, cfg->run_user) ||
			    !cfg_str_same(fresh->run_group, cfg->run_group))
				log_warning("SIGHUP: run_user or run_group changed: "
					    "takes effect after a restart");
			log_info("SIGHUP: configuration read again; restarting workers");
			puller_children_stop(pids, n);
			puller_children_stop(&metrics_pid, 1);
			if ((fresh->metrics_listen == NULL) != (cfg->metrics_listen == NULL) ||
			    (fresh->metrics_listen != NULL &&
			     strcmp(fresh->metrics_listen, cfg->metrics_listen) != 0))
				log_warning("SIGHUP: metrics_listen changed: takes "
					    "effect after a restart");
			cfg_free(&cfg);
			cfg = fresh;
			if (metrics_fd >= 0)
				metrics_pid = puller_metrics_start(cfg, metrics_fd);
			if (puller_throttle != NULL)
				throttle_set_rate(puller_throttle, cfg->max_bytes_per_second);
			(void)open_log(cfg, foreground);
			n = cfg->workers < MAX_WORKERS ? cfg->workers : MAX_WORKERS;
			log_info("starting %u workers (state_dir %s)", n, cfg->state_dir);
			for (unsigned i = 0; i < n; i++)
				pids[i] = start_worker(cfg, once);
			continue;
		}
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;	/* no children left */
		}
		if (pid == metrics_pid) {
			log_warning("metrics process %ld ended (status %d); starting "
				    "another", (long)pid, wstatus);
			sleep(1);
			metrics_pid = puller_metrics_start(cfg, metrics_fd);
			continue;
		}
		for (unsigned i = 0; i < n; i++) {
			if (pids[i] != pid)
				continue;
			pids[i] = 0;
			if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) != 0)
				status = WEXITSTATUS(wstatus);
			/* A worker killed by a signal left its job leased: give
			 * it back now (a death of that job's worker). */
			if (WIFSIGNALED(wstatus)) {
				log_warning("worker %ld killed by signal %d", (long)pid,
					    WTERMSIG(wstatus));
				(void)puller_reclaim(cfg, 1);
			}
			if (once)
				break;
			if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
				log_warning("worker %ld ended (status %d); starting another",
					    (long)pid, wstatus);
				sleep(1);
				pids[i] = start_worker(cfg, once);
			}
		}
		for (unsigned i = 0; i < n; i++)
			alive += pids[i] > 0;
		if (alive == 0)
			break;
	}
	puller_children_stop(&metrics_pid, 1);
	if (metrics_fd >= 0)
		close(metrics_fd);
	puller_counters_free();
	log_info("stopped");
	throttle_free(&puller_throttle);
	cfg_free(&cfg);
	return status;
}
