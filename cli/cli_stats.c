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
static void cli_stats_json(const struct store_stats *st)
{
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
	cli_json_time(&j, "last_migrated", st->last_migrated);
	cli_json_u64(&j, "errors", st->errors);
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
	cli_json_end(&j, '}');
}

/* The figures, as aligned lines. */
static void cli_stats_text(const struct store_stats *st)
{
	char t[64], size[32];

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
	cli_kvf("Jobs pending", "%llu", (unsigned long long)st->jobs_pending);
	cli_kvf("Jobs leased", "%llu", (unsigned long long)st->jobs_leased);
	cli_kv("Paused", st->paused ? "yes" : "no");
}

/* mailmigrate stats [--json] */
int cli_cmd_stats(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		CLI_COMMON_LONGOPTS
	};
	struct store_stats st;
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
	if (store_stats_get(ctx->store, time(NULL), &st, &error) < 0) {
		cli_error("stats: %s", error);
		return CLI_EXIT_SYSTEM;
	}
	if (json)
		cli_stats_json(&st);
	else
		cli_stats_text(&st);
	return CLI_EXIT_OK;
}
