/*
 * NAME
 *	cli_stats 3
 * SUMMARY
 *	mailmigrate stats: figures of the whole migration
 * DESCRIPTION
 *	Read-only, as the other verbs that only look (cli_show.c): the
 *	store is opened read-only. Text is for people, --json for
 *	programs; the JSON member names are a stable interface documented
 *	in mailmigrate(8).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* --- stats ------------------------------------------------------------------ */

/* The figures, as JSON. */
static void cli_stats_json(const struct cli_progress *pr)
{
	const struct store_stats *st = &pr->st;
	struct cli_json j;

	cli_json_init(&j, stdout);
	cli_json_object(&j, NULL);
	cli_json_time(&j, "started", st->started);
	cli_json_u64(&j, "mailboxes_total", st->accounts);
	cli_json_u64(&j, "mailboxes_queued", st->by_state[STORE_STATE_QUEUED]);
	cli_json_u64(&j, "mailboxes_migrating", st->by_state[STORE_STATE_MIGRATING]);
	cli_json_u64(&j, "mailboxes_copied", st->by_state[STORE_STATE_COPIED]);
	cli_json_u64(&j, "mailboxes_finished", st->by_state[STORE_STATE_FINISHED]);
	cli_json_u64(&j, "mailboxes_migrated", st->by_state[STORE_STATE_COPIED] +
		     st->by_state[STORE_STATE_FINISHED]);
	cli_json_u64(&j, "mailboxes_failed", st->by_state[STORE_STATE_FAILED]);
	cli_json_u64(&j, "mailboxes_passwords_only",
		     st->by_state[STORE_STATE_PASSWORDS_ONLY]);
	cli_json_u64(&j, "aliases", st->aliases);
	cli_json_u64(&j, "messages", st->messages);
	cli_json_u64(&j, "bytes", st->bytes);
	cli_json_u64(&j, "sieve_scripts", st->sieve_scripts);
	cli_json_u64(&j, "dav_collections", st->dav_collections);
	cli_json_u64(&j, "dav_items", st->dav_items);
	cli_json_u64(&j, "acl_folders", st->acl_folders);
	cli_json_u64(&j, "acl_entries_given", st->acl_given);
	cli_json_u64(&j, "acl_entries_not_given", st->acl_not_given);
	cli_json_time(&j, "last_migrated", st->last_migrated);
	cli_json_u64(&j, "errors", st->errors);
	for (int o = 0; o < STORE_FIRST_LOGIN_COUNT; o++) {
		char key[48];

		snprintf(key, sizeof(key), "first_logins_%s", store_first_login_name(o));
		cli_json_u64(&j, key, st->first_logins[o]);
	}
	/* The rate over the last minutes, as whole units per hour and the
	 * counts it comes from (JSON numbers here are integers). */
	cli_json_u64(&j, "rate_window_seconds", st->rate_seconds);
	cli_json_u64(&j, "rate_messages", st->rate_messages);
	cli_json_u64(&j, "rate_bytes", st->rate_bytes);
	cli_json_u64(&j, "rate_messages_per_hour", st->rate_seconds == 0 ? 0 :
		     st->rate_messages * 3600 / st->rate_seconds);
	cli_json_u64(&j, "rate_bytes_per_second", st->rate_seconds == 0 ? 0 :
		     st->rate_bytes / st->rate_seconds);
	cli_json_u64(&j, "jobs_pending", st->jobs_pending);
	cli_json_u64(&j, "jobs_leased", st->jobs_leased);
	cli_json_bool(&j, "paused", st->paused);
	/* What is left and when it ends (cli_progress.c). */
	if (pr->left_known)
		cli_json_u64(&j, "bytes_left", pr->left_total);
	else
		cli_json_null(&j, "bytes_left");
	cli_json_u64(&j, "bytes_left_running", pr->left_running);
	cli_json_u64(&j, "bytes_left_queued", pr->left_queued);
	cli_json_bool(&j, "bytes_left_estimated", pr->left_estimated);
	cli_json_u64(&j, "average_mailbox_bytes", pr->avg_account_bytes);
	if (pr->eta >= 0)
		cli_json_u64(&j, "eta_seconds", (uint64_t)pr->eta);
	else
		cli_json_null(&j, "eta_seconds");
	cli_json_array(&j, "running");
	for (size_t i = 0; i < pr->running_count; i++) {
		const struct store_progress *p = &pr->running[i];

		cli_json_object(&j, NULL);
		cli_json_str(&j, "account", p->account);
		cli_json_str(&j, "worker", p->owner);
		if (p->folder != NULL)
			cli_json_str(&j, "folder", p->folder);
		else
			cli_json_null(&j, "folder");
		cli_json_u64(&j, "folder_index", p->folder_index);
		cli_json_u64(&j, "folder_count", p->folder_count);
		cli_json_u64(&j, "messages_done", p->messages_done);
		cli_json_u64(&j, "messages_total", p->messages_total);
		cli_json_u64(&j, "bytes_done", p->bytes_done);
		if (p->bytes_total != 0)
			cli_json_u64(&j, "bytes_total", p->bytes_total);
		else
			cli_json_null(&j, "bytes_total");
		cli_json_time(&j, "started", p->started);
		cli_json_time(&j, "updated", p->updated);
		cli_json_bool(&j, "stalled", cli_progress_stale(pr, p));
		cli_json_end(&j, '}');
	}
	cli_json_end(&j, ']');
	cli_json_end(&j, '}');
}

/* The figures, as aligned lines. */
static void cli_stats_text(const struct cli_progress *pr)
{
	const struct store_stats *st = &pr->st;
	char t[64], size[32], line[400], eta[32];

	cli_kv("Start of migration", cli_time_local(st->started, t, sizeof(t)));
	cli_kvf("Mailboxes total", "%llu", (unsigned long long)st->accounts);
	cli_kvf("Mailboxes queued", "%llu",
		(unsigned long long)st->by_state[STORE_STATE_QUEUED]);
	cli_kvf("Mailboxes migrating", "%llu",
		(unsigned long long)st->by_state[STORE_STATE_MIGRATING]);
	cli_kvf("Mailboxes migrated", "%llu",
		(unsigned long long)(st->by_state[STORE_STATE_COPIED] +
				     st->by_state[STORE_STATE_FINISHED]));
	cli_kvf("Mailboxes failed", "%llu",
		(unsigned long long)st->by_state[STORE_STATE_FAILED]);
	cli_kvf("Mailboxes passwords-only", "%llu",
		(unsigned long long)st->by_state[STORE_STATE_PASSWORDS_ONLY]);
	cli_kvf("Aliases created", "%llu", (unsigned long long)st->aliases);
	cli_kvf("Messages migrated", "%llu", (unsigned long long)st->messages);
	if (st->bytes < 1024)
		cli_kvf("Bytes migrated", "%llu", (unsigned long long)st->bytes);
	else
		cli_kvf("Bytes migrated", "%llu (%s)", (unsigned long long)st->bytes,
			cli_size_human(st->bytes, size, sizeof(size)));
	cli_kvf("Sieve scripts copied", "%llu", (unsigned long long)st->sieve_scripts);
	cli_kvf("Calendars, address books", "%llu (%llu items)",
		(unsigned long long)st->dav_collections, (unsigned long long)st->dav_items);
	cli_kvf("Shared folders' rights", "%llu folders: %llu entries given, %llu not",
		(unsigned long long)st->acl_folders, (unsigned long long)st->acl_given,
		(unsigned long long)st->acl_not_given);
	cli_kv("Last migrated mailbox", cli_time_local(st->last_migrated, t,
						       sizeof(t)));
	if (st->rate_seconds == 0)
		cli_kv("Rate (last 5 minutes)", "idle");
	else
		cli_kvf("Rate (last 5 minutes)", "%.1f messages/s, %s/s",
			(double)st->rate_messages / st->rate_seconds,
			cli_size_human(st->rate_bytes / st->rate_seconds, size,
				       sizeof(size)));
	cli_kvf("Errors", "%llu", (unsigned long long)st->errors);
	cli_kvf("First logins", "%llu migrated, %llu refused, %llu OLD unavailable, "
		"%llu failed",
		(unsigned long long)st->first_logins[STORE_FIRST_LOGIN_MIGRATED],
		(unsigned long long)st->first_logins[STORE_FIRST_LOGIN_REFUSED],
		(unsigned long long)st->first_logins[STORE_FIRST_LOGIN_UNAVAILABLE],
		(unsigned long long)st->first_logins[STORE_FIRST_LOGIN_FAILED]);
	cli_kvf("Jobs pending", "%llu", (unsigned long long)st->jobs_pending);
	cli_kvf("Jobs leased", "%llu", (unsigned long long)st->jobs_leased);
	cli_kv("Paused", st->paused ? "yes" : "no");
	if (!pr->left_known)
		cli_kv("Bytes left", "unknown until a first mailbox is copied");
	else if (pr->left_queued > 0)
		cli_kvf("Bytes left", "%s (estimate: %llu queued mailboxes at %s, "
			"the average so far)",
			cli_size_human(pr->left_total, size,
				       sizeof(size)),
			(unsigned long long)st->by_state[STORE_STATE_QUEUED],
			cli_size_human(pr->avg_account_bytes, t, sizeof(t)));
	else
		cli_kvf("Bytes left", "%s%s", cli_size_human(pr->left_running,
							     size, sizeof(size)),
			pr->left_estimated ? " (estimate)" : "");
	if (pr->eta == 0 && pr->left_total == 0)
		cli_kv("Time to finish", "nothing left");
	else if (pr->eta >= 0 && pr->rate_bps > 0)
		cli_kvf("Time to finish", "%s at %s/s (the last 5 minutes' rate)",
			cli_duration(pr->eta, eta, sizeof(eta)),
			cli_size_human(pr->rate_bps, size, sizeof(size)));
	else
		cli_kv("Time to finish", pr->left_known ?
		       "unknown (nothing copied in the last 5 minutes)" :
		       "unknown (no mailbox copied yet)");
	cli_kvf("Copies running", "%zu", pr->running_count);
	for (size_t i = 0; i < pr->running_count; i++) {
		const struct store_progress *p = &pr->running[i];
		char who[200];

		cli_printable(p->account, who, sizeof(who));
		if (cli_progress_stale(pr, p))
			printf("  %s: stalled, no news for %s (worker %s)\n", who,
			       cli_duration(pr->now - p->updated, eta, sizeof(eta)),
			       p->owner);
		else
			printf("  %s: %s (worker %s)\n", who,
			       cli_progress_line(p, line, sizeof(line)), p->owner);
	}
}

/* mailmigrate stats [--json] */
int cli_cmd_stats(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		CLI_COMMON_LONGOPTS
	};
	struct cli_progress pr;
	const char *error;
	int c, json = 0;

	while ((c = cli_getopt(ctx, argc, argv, ":c:hj", opts)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'h':
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage_error("stats: takes no operands");
	if (cli_ctx_store(ctx, 0, 1) < 0)
		return CLI_EXIT_SYSTEM;
	if (cli_progress_read(ctx->store, time(NULL), &pr, &error) < 0) {
		cli_error("stats: %s", error);
		return CLI_EXIT_SYSTEM;
	}
	if (json)
		cli_stats_json(&pr);
	else
		cli_stats_text(&pr);
	cli_progress_free(&pr);
	return CLI_EXIT_OK;
}
