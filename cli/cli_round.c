/*
 * NAME
 *	cli_round 3
 * SUMMARY
 *	mailmigrate sync, finish and failed
 * DESCRIPTION
 *	sync queues another round (new messages, changed flags) for one
 *	account or all of them; finish queues the last round for every
 *	account still being migrated, after which the puller marks it
 *	finished and wipes its captured password; failed lists what could
 *	not be copied, with the reasons, as a table or CSV.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "mm_alloc.h"

/* Queue a job of kind for each name; the exit status. */
static int cli_queue_jobs(struct cli_ctx *ctx, const char *verb,
			  const struct cli_names *n, enum store_job_kind kind)
{
	const char *error;
	uint64_t id;

	for (size_t i = 0; i < n->count; i++) {
		if (store_job_enqueue(ctx->store, n->names[i], kind, time(NULL), &id,
				      &error) < 0) {
			cli_error("%s: %s", verb, error);
			return CLI_EXIT_SYSTEM;
		}
		cli_ctx_event(ctx, LOG_SEV_INFO, n->names[i], "%s round queued by "
			      "mailmigrate %s", store_job_kind_name(kind), verb);
	}
	return CLI_EXIT_OK;
}

#define STATES_SYNCABLE ((1u << STORE_STATE_QUEUED) | (1u << STORE_STATE_MIGRATING) | \
			 (1u << STORE_STATE_COPIED) | (1u << STORE_STATE_FAILED) | \
			 (1u << STORE_STATE_FINISHED))
#define STATES_FINISHABLE ((1u << STORE_STATE_QUEUED) | (1u << STORE_STATE_MIGRATING) | \
			   (1u << STORE_STATE_COPIED))

/* mailmigrate sync USER [--domain D] | --all */
int cli_cmd_sync(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "domain", required_argument, NULL, 'd' },
		CLI_COMMON_LONGOPTS
	};
	struct cli_names n = { .states = STATES_SYNCABLE };
	char account[STORE_MAX_ACCOUNT];
	const char *domain = NULL;
	int c, all = 0, ret;

	while ((c = cli_getopt(ctx, argc, argv, ":c:had:", opts)) != -1) {
		switch (c) {
		case 'a':
			all = 1;
			break;
		case 'd':
			domain = optarg;
			break;
		case 'h':
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (all == (optind < argc) || optind + 1 < argc)
		return cli_usage_error("sync: give one USER, or --all");
	if (cli_ctx_config(ctx) < 0)
		return CLI_EXIT_SYSTEM;
	if (!all && (ret = cli_ctx_user_arg(ctx, "sync", argv[optind], domain,
					    account)) != 0)
		return ret;
	if (cli_ctx_store(ctx, 0, 0) < 0)
		return CLI_EXIT_SYSTEM;
	if ((ret = cli_ctx_names(ctx, "sync", all ? NULL : account, &n)) != 0)
		return ret;
	ret = cli_queue_jobs(ctx, "sync", &n, STORE_JOB_SYNC);
	if (ret == CLI_EXIT_OK)
		printf("%zu account%s queued for another round\n", n.count,
		       n.count == 1 ? "" : "s");
	cli_names_free(&n);
	return ret;
}

/* mailmigrate finish */
/* Count accounts the relay sent mail to OLD for after their copy was
 * queued (late_mail). */
static int cli_count_late(const struct store_account *acct, void *context)
{
	size_t *late = context;

	if (acct->late_mail > 0)
		(*late)++;
	return 0;
}

int cli_cmd_finish(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_LONGOPTS };
	struct cli_names n = { .states = STATES_FINISHABLE };
	const char *error;
	int c, ret;

	while ((c = cli_getopt(ctx, argc, argv, ":c:h", opts)) != -1) {
		if (c == 'h')
			return CLI_EXIT_OK;
		return CLI_EXIT_USAGE;
	}
	if (optind != argc)
		return cli_usage_error("finish: no arguments expected");
	if (cli_ctx_config(ctx) < 0 || cli_ctx_store(ctx, 0, 0) < 0)
		return CLI_EXIT_SYSTEM;
	if (store_account_iter(ctx->store, cli_names_collect, &n, &error) < 0) {
		cli_error("finish: %s", error);
		return CLI_EXIT_SYSTEM;
	}
	ret = cli_queue_jobs(ctx, "finish", &n, STORE_JOB_FINISH);
	if (ret == CLI_EXIT_OK) {
		size_t late = 0;

		printf("%zu account%s queued for the final round; mailmigrated marks "
		       "each finished and wipes its captured password\n", n.count,
		       n.count == 1 ? "" : "s");
		if (store_account_iter(ctx->store, cli_count_late, &late, &error) == 0 &&
		    late > 0)
			printf("%zu account%s had mail relayed to OLD after the copy was "
			       "queued (late mail, see mailmigrate show): the final "
			       "round copies it\n", late, late == 1 ? "" : "s");
	}
	cli_names_free(&n);
	return ret;
}

struct cli_failed {
	int csv;
	size_t count;
	struct cli_table *table;
};

/* One CSV field, quoted when it needs to be (RFC 4180). */
static void cli_csv_field(const char *s, int last)
{
	if (strpbrk(s, ",\"\r\n") != NULL) {
		putchar('"');
		for (; *s != '\0'; s++) {
			if (*s == '"')
				putchar('"');
			putchar(*s);
		}
		putchar('"');
	} else {
		fputs(s, stdout);
	}
	putchar(last ? '\n' : ',');
}

static int cli_failed_row(const struct store_failed *it, void *context)
{
	struct cli_failed *f = context;
	char uid[16], size[32], when[64], uv[16], folder[600], reason[600];

	f->count++;
	snprintf(uid, sizeof(uid), "%u", it->uid);
	snprintf(uv, sizeof(uv), "%u", it->uidvalidity);
	if (f->csv) {
		snprintf(size, sizeof(size), "%llu", (unsigned long long)it->size);
		cli_csv_field(it->account, 0);
		cli_csv_field(it->folder, 0);
		cli_csv_field(uv, 0);
		cli_csv_field(uid, 0);
		cli_csv_field(size, 0);
		cli_csv_field(cli_time_utc(it->time, when, sizeof(when)), 0);
		cli_csv_field(it->reason, 1);
	} else {
		const char *cells[] = {
			it->account, cli_printable(it->folder, folder, sizeof(folder)),
			it->uid == 0 ? "(folder)" : uid,
			cli_size_human(it->size, size, sizeof(size)),
			cli_time_local(it->time, when, sizeof(when)),
			cli_printable(it->reason, reason, sizeof(reason)),
		};

		cli_table_add(f->table, cells);
	}
	return 0;
}

/* mailmigrate failed [USER] [--csv] */
int cli_cmd_failed(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "csv", no_argument, NULL, 'C' },
		{ "domain", required_argument, NULL, 'd' },
		CLI_COMMON_LONGOPTS
	};
	static const char *const headers[] = {
		"ACCOUNT", "FOLDER", "UID", "SIZE", "WHEN", "REASON",
	};
	static const int right[] = { 0, 0, 1, 1, 0, 0 };
	struct cli_failed f = { 0 };
	char account[STORE_MAX_ACCOUNT];
	const char *domain = NULL, *error;
	int c, ret;

	while ((c = cli_getopt(ctx, argc, argv, ":c:hd:", opts)) != -1) {
		switch (c) {
		case 'C':
			f.csv = 1;
			break;
		case 'd':
			domain = optarg;
			break;
		case 'h':
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind + 1 < argc)
		return cli_usage_error("failed: one USER at most");
	if (cli_ctx_config(ctx) < 0)
		return CLI_EXIT_SYSTEM;
	if (optind < argc &&
	    (ret = cli_ctx_user_arg(ctx, "failed", argv[optind], domain, account)) != 0)
		return ret;
	if (cli_ctx_store(ctx, 0, 1) < 0)
		return CLI_EXIT_SYSTEM;
	if (f.csv)
		printf("account,folder,uidvalidity,uid,size,time,reason\n");
	else
		f.table = cli_table_new(6, headers, right);
	ret = store_failed_iter(ctx->store, optind < argc ? account : NULL,
				cli_failed_row, &f, &error);
	if (ret < 0) {
		cli_table_free(&f.table);
		cli_error("failed: %s", error);
		return CLI_EXIT_SYSTEM;
	}
	if (!f.csv) {
		if (f.count == 0)
			printf("No failed items.\n");
		else
			cli_table_print(f.table, stdout);
		cli_table_free(&f.table);
	}
	return CLI_EXIT_OK;
}
