/*
 * NAME
 *	mailmigrate-relay 8
 * SUMMARY
 *	Postfix socketmap server: route each recipient to OLD or NEW
 * SYNOPSIS
 *	mailmigrate-relay [-c FILE] [-f]
 * DESCRIPTION
 *	Answers Postfix's transport, mailbox and alias socketmap queries
 *	on relay_listen from the configuration and the store (see
 *	relay_map.c). -f stays in the foreground and logs to stderr too.
 *	SIGTERM/SIGINT: clean exit (late mail written, socket removed).
 *	SIGHUP: the configuration is read again; a bad file is reported
 *	and the running one kept; relay_listen and state_dir changes
 *	need a restart. With relay_metrics_listen, /metrics serves the
 *	counters (relay_metrics.c); an address that cannot be bound stops
 *	the start before anything else is done, the store not opened.
 * EXIT STATUS
 *	0 after SIGTERM, 2 usage, 3 configuration, store or socket error.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "crypto.h"
#include "log.h"
#include "metrics_http.h"
#include "mm_alloc.h"
#include "privdrop.h"
#include "relay.h"

struct relay_main {
	struct cfg *cfg;
	struct relay_maps maps;
	struct relay_server *server;
	int foreground;
};

static void usage(FILE *fp)
{
	fprintf(fp, "usage: mailmigrate-relay [-c FILE] [-f]\n");
}

static int open_log(const struct cfg *cfg, int foreground)
{
	return log_open_daemon("mailmigrate-relay", cfg->log_file, foreground);
}

static void log_counters(const struct relay_maps *maps)
{
	uint64_t hits, misses;

	relay_cache_counts(maps->cache, &hits, &misses);
	log_info("lookups: transport %llu, mailbox %llu, alias %llu; routed to "
		 "OLD %llu; store errors (TEMP) %llu; cache hits %llu, "
		 "misses %llu, %zu addresses kept",
		 (unsigned long long)maps->lookups[RELAY_MAP_TRANSPORT],
		 (unsigned long long)maps->lookups[RELAY_MAP_MAILBOX],
		 (unsigned long long)maps->lookups[RELAY_MAP_ALIAS],
		 (unsigned long long)maps->to_old,
		 (unsigned long long)maps->temp, (unsigned long long)hits,
		 (unsigned long long)misses, relay_cache_count(maps->cache));
}

/* SIGHUP: read the configuration again. */
static void relay_reload(void *context)
{
	struct relay_main *m = context;
	struct cfg *fresh;
	const char *error;

	if (cfg_load(m->cfg->path, &fresh, &error) < 0) {
		log_error("SIGHUP: keeping the running configuration: %s", error);
		return;
	}
	if (strcmp(fresh->relay_listen, m->cfg->relay_listen) != 0)
		log_warning("SIGHUP: relay_listen changed to %s: takes effect "
			    "after a restart", fresh->relay_listen);
	if (!cfg_str_same(fresh->run_user, m->cfg->run_user) ||
	    !cfg_str_same(fresh->run_group, m->cfg->run_group))
		log_warning("SIGHUP: run_user or run_group changed: takes "
			    "effect after a restart");
	if ((fresh->relay_metrics_listen == NULL) != (m->cfg->relay_metrics_listen == NULL) ||
	    (fresh->relay_metrics_listen != NULL &&
	     strcmp(fresh->relay_metrics_listen, m->cfg->relay_metrics_listen) != 0))
		log_warning("SIGHUP: relay_metrics_listen changed: takes effect "
			    "after a restart");
	if (strcmp(fresh->store, m->cfg->store) != 0)
		log_warning("SIGHUP: store changed to %s: takes effect "
			    "after a restart", fresh->store);
	(void)open_log(fresh, m->foreground);
	m->maps.cfg = fresh;
	/* A fresh cache (with the new lifetime and size): what was kept
	 * is forgotten, so a SIGHUP also shows every change at once. */
	{
		uint64_t hits, misses;

		relay_cache_counts(m->maps.cache, &hits, &misses);
		m->maps.cache_hits_before += hits;
		m->maps.cache_misses_before += misses;
	}
	relay_cache_free(&m->maps.cache);
	m->maps.cache = relay_cache_new(fresh->relay_cache_size,
					fresh->relay_cache_ttl);
	cfg_free(&m->cfg);
	m->cfg = fresh;
	relay_server_reconfigure(m->server);
	log_info("SIGHUP: configuration read again (%zu domains)",
		 fresh->domains_count);
	log_counters(&m->maps);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct store_options sopts = { 0 };
	char *password = NULL, *drop_error = NULL;
	struct relay_main m = { 0 };
	const char *path = NULL, *error;
	char abspath[PATH_MAX];
	struct store *store = NULL;
	int c, status = 0, metrics_fd = -1;

	/* First: no core file or ptrace can reveal keys or passwords. */
	if (crypto_harden_process(&error) < 0) {
		fprintf(stderr, "mailmigrate-relay: %s\n", error);
		return 3;
	}
	while ((c = getopt_long(argc, argv, "c:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			m.foreground = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	/* daemon() changes to /: SIGHUP must still find the file. */
	if (!m.foreground && realpath(cfg_path(path), abspath) != NULL)
		path = abspath;
	if (cfg_load(cfg_path(path), &m.cfg, &error) < 0) {
		fprintf(stderr, "mailmigrate-relay: %s\n", error);
		return 3;
	}
	if (open_log(m.cfg, m.foreground) < 0) {
		cfg_free(&m.cfg);
		return 3;
	}
	/* First, as relay_listen would be if it came first: a metrics
	 * address that cannot be bound stops the start, said on stderr
	 * (before daemon()) and in the log, with nothing opened. */
	if (m.cfg->relay_metrics_listen != NULL) {
		char merr[256];

		if (metrics_http_listen(m.cfg->relay_metrics_listen, &metrics_fd,
					merr, sizeof(merr)) < 0) {
			log_error("relay_metrics_listen: %s; not started", merr);
			if (!m.foreground)
				fprintf(stderr, "mailmigrate-relay: relay_metrics_listen: %s; not "
					"started\n", merr);
			cfg_free(&m.cfg);
			return 3;
		}
	}
	/* Fork before the store is opened: LMDB handles do not survive it. */
	if (!m.foreground && daemon(0, 0) < 0) {
		log_error("daemon: %s", strerror(errno));
		cfg_free(&m.cfg);
		return 3;
	}
	if (store_cfg_options(m.cfg, NULL, &sopts, &password, &error) < 0) {
		log_error("%s", error);
		cfg_free(&m.cfg);
		return 3;
	}
	/* The socket first, while still root (its directory, its group),
	 * then run_user for everything else: the store, the late mail
	 * writer, SIGHUP's reading of the configuration and log file. */
	m.maps.cfg = m.cfg;
	relay_metrics_init(&m.maps);
	m.maps.cache = relay_cache_new(m.cfg->relay_cache_size,
				       m.cfg->relay_cache_ttl);
	if (relay_server_new(&m.maps, metrics_fd, &m.server, &error) < 0) {
		log_error("%s", error);
		status = 3;
	} else if (privdrop_apply(m.cfg->run_user, m.cfg->run_group,
				  m.cfg->log_file, &drop_error) < 0) {
		log_error("%s", drop_error);
		mm_free(&drop_error);
		status = 3;
	}
	if (status == 0) {
		/* The late mail writer is a process of its own, so a store
		 * write never holds up a lookup; forked before the store is
		 * opened (LMDB handles do not survive a fork). */
		m.maps.late = relay_late_new();
		if (relay_late_start(m.maps.late, m.cfg->store, &sopts, &error) < 0)
			log_error("%s; late mail is written by the event loop", error);
		if (store_open(m.cfg->store, &sopts, &store, &error) < 0) {
			log_error("%s", error);
			status = 3;
		}
	}
	if (password != NULL)
		mm_free_secret(&password);
	m.maps.store = store;
	if (status == 0) {
		log_info("listening on %s (store %s, %zu domains, cache %us)",
			 m.cfg->relay_listen, m.cfg->store,
			 m.cfg->domains_count, m.cfg->relay_cache_ttl);
		if (m.cfg->relay_metrics_listen != NULL)
			log_info("metrics on http://%s/metrics",
				 m.cfg->relay_metrics_listen + 5);
		if (relay_server_run(m.server, relay_reload, &m) < 0)
			status = 3;
		log_counters(&m.maps);
		log_info("stopped");
	}
	relay_server_free(&m.server);
	relay_late_free(&m.maps.late);
	relay_cache_free(&m.maps.cache);
	store_close(&store);
	cfg_free(&m.cfg);
	log_close();
	return status;
}
