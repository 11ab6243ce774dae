/*
 * NAME
 *	cli_store 3
 * SUMMARY
 *	mailmigrate store: the store itself
 * DESCRIPTION
 *	store password [--file PATH] seals the PostgreSQL password read
 *	on stdin (or asked for on a terminal) into store_password_file
 *	(or PATH), so it is never in the configuration, on a command
 *	line or unencrypted on disk; then, when the configuration points
 *	at that file, tries to open the store with it and says whether it
 *	did (before `mailmigrate init` there is no schema to open).
 *
 *	store copy --to postgresql:CONNINFO [--json] moves a migration
 *	that started on one host: the configured store (LMDB, opened
 *	read-only) is copied into an empty PostgreSQL store, made if
 *	missing, with the password of the configuration's
 *	store_password_file (the one the hosts will use after the move).
 *	store_copy() verifies the copy and commits it only if the source
 *	did not change meanwhile; the LMDB store is left as it was.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "mm_alloc.h"

static int cli_store_password(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_LONGOPTS,
		{ "file", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct store_options ro = { .readonly = 1 };
	const char *path = NULL, *error;
	char *password = NULL;
	int c, ret;

	while ((c = cli_getopt(ctx, argc, argv, ":c:hf:", opts)) != -1) {
		if (c == 'f')
			path = optarg;
		else
			return c == 'h' ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	}
	if (optind != argc)
		return cli_usage_error("store password: takes no operands");
	if (cli_ctx_config(ctx) < 0)
		return CLI_EXIT_SYSTEM;
	if (path == NULL)
		path = ctx->cfg->store_password_file;
	if (path == NULL)
		return cli_usage_error("store password: no store_password_file in "
				       "%s: set it, or give --file PATH",
				       ctx->cfg->path);
	if (path[0] != '/')
		return cli_usage_error("store password: --file needs an absolute "
				       "path");
	ret = cli_pass_read("the store", &password);
	if (ret != 0)
		return ret;
	ret = store_password_write(ctx->cfg, path, password, &error);
	mm_free_secret(&password);
	if (ret < 0) {
		cli_error("store password: %s", error);
		return CLI_EXIT_SYSTEM;
	}
	printf("sealed the store password into %s (mode 0640; copy it with "
	       "key_file and public_key_file to every host)\n", path);
	if (ctx->cfg->store_password_file == NULL ||
	    strcmp(path, ctx->cfg->store_password_file) != 0 ||
	    strncmp(ctx->cfg->store, "postgresql:", 11) != 0)
		return CLI_EXIT_OK;
	/* A proof, not a condition: before `mailmigrate init` there is
	 * no schema to open yet. */
	if (store_open_cfg(ctx->cfg, &ro, &ctx->store, &error) < 0)
		printf("note: store %s did not open with it yet: %s\n",
		       ctx->cfg->store, error);
	else
		printf("opened store %s with it\n", ctx->cfg->store);
	return CLI_EXIT_OK;
}

/* A line on a terminal's stderr as a big copy goes on. */
static void cli_store_copy_progress(uint64_t records, void *ctx)
{
	(void)ctx;
	fprintf(stderr, "\rstore copy: %llu records read", (unsigned long long)records);
	fflush(stderr);
}

static void cli_store_copy_json(const struct cli_ctx *ctx, const char *to,
				const struct store_copy_report *r, int ret,
				const char *error)
{
	struct cli_json j;

	cli_json_init(&j, stdout);
	cli_json_object(&j, NULL);
	cli_json_str(&j, "source", ctx->cfg->store);
	cli_json_str(&j, "target", to);
	cli_json_bool(&j, "copied", ret == 0);
	cli_json_u64(&j, "records", r->records);
	cli_json_u64(&j, "milliseconds", (uint64_t)(r->seconds * 1000));
	cli_json_bool(&j, "verified", r->verified);
	cli_json_array(&j, "kinds");
	for (int k = 0; k < STORE_DUMP_KINDS && r->records > 0; k++) {
		cli_json_object(&j, NULL);
		cli_json_str(&j, "kind", store_dump_kind_name(k));
		cli_json_u64(&j, "source", r->kinds[k].source);
		if (r->verified) {
			cli_json_u64(&j, "target", r->kinds[k].target);
			cli_json_bool(&j, "ok", r->kinds[k].same);
		} else {
			cli_json_null(&j, "target");
			cli_json_null(&j, "ok");
		}
		cli_json_end(&j, '}');
	}
	cli_json_end(&j, ']');
	cli_json_bool(&j, "source_changed", r->source_changed);
	cli_json_u64(&j, "source_writes", r->source_writes);
	cli_json_array(&j, "not_copied");
	cli_json_str(&j, NULL, "auth-limits");
	cli_json_str(&j, NULL, "failed-login-cache");
	cli_json_end(&j, ']');
	cli_json_str(&j, "error", ret == 0 ? NULL : error);
	cli_json_end(&j, '}');
}

static void cli_store_copy_text(const struct cli_ctx *ctx, const char *to,
				const struct store_copy_report *r, int ret)
{
	const char *pwfile = ctx->cfg->store_password_file;

	printf("store copy: %s -> %s\n", ctx->cfg->store, to);
	if (r->records > 0) {
		printf("%-12s %12s %12s  %s\n", "kind", "source", "target", "check");
		for (int k = 0; k < STORE_DUMP_KINDS; k++) {
			if (r->verified)
				printf("%-12s %12llu %12llu  %s\n",
				       store_dump_kind_name(k),
				       (unsigned long long)r->kinds[k].source,
				       (unsigned long long)r->kinds[k].target,
				       r->kinds[k].same ? "ok" : "DIFFERS");
			else
				printf("%-12s %12llu %12s  %s\n",
				       store_dump_kind_name(k),
				       (unsigned long long)r->kinds[k].source, "-",
				       "not verified");
		}
	}
	printf("not copied: the auth-hook's rate limits and failed-login cache "
	       "(they expire within minutes and are made again by new logins)\n");
	if (ret != 0)
		return;
	printf("copied %llu records in %.2f s, verified record by record, "
	       "committed\n\n", (unsigned long long)r->records, r->seconds);
	printf("next steps:\n"
	       "  1. on every host, in the configuration: store = %s\n"
	       "     and store_password_file = %s\n"
	       "  2. copy key_file, public_key_file and the password file to every "
	       "host\n"
	       "  3. restart the daemons (mailmigrated, mailmigrate-relay, Dovecot's "
	       "auth) on every host, then resume if paused\n"
	       "the LMDB store %s stays as it was: do not start anything on it "
	       "again, or the two stores part ways\n", to,
	       pwfile != NULL ? pwfile : "(none: libpq's own ways)",
	       ctx->cfg->store);
}

static int cli_store_copy(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		CLI_COMMON_LONGOPTS,
	};
	struct store_options want = { .create = 1 }, o;
	struct store_copy_report report = { 0 };
	struct store *target = NULL;
	const char *to = NULL, *error = NULL;
	char *password = NULL;
	int c, ret, json = 0;

	while ((c = cli_getopt(ctx, argc, argv, ":c:ht:j", opts)) != -1) {
		if (c == 't')
			to = optarg;
		else if (c == 'j')
			json = 1;
		else
			return c == 'h' ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	}
	if (optind != argc)
		return cli_usage_error("store copy: takes no operands");
	if (to == NULL)
		return cli_usage_error("store copy: --to postgresql:CONNINFO is "
				       "needed");
	if (strncmp(to, "postgresql:", 11) != 0)
		return cli_usage_error("store copy: the target must be "
				       "postgresql:...");
	if (cli_ctx_config(ctx) < 0 || cli_ctx_store(ctx, 0, 1) < 0)
		return CLI_EXIT_SYSTEM;
	/* The target with the options and the password file the hosts
	 * will open it with. */
	if (store_cfg_options(ctx->cfg, &want, &o, &password, &error) < 0 ||
	    (password == NULL && store_password_read(ctx->cfg, &password,
						     &error) < 0)) {
		cli_error("store copy: %s", error);
		return CLI_EXIT_SYSTEM;
	}
	o.password = password;
	ret = store_open(to, &o, &target, &error);
	if (password != NULL)
		mm_free_secret(&password);
	if (ret < 0) {
		cli_error("store copy: %s", error);
		return CLI_EXIT_SYSTEM;
	}
	if (!json && isatty(STDERR_FILENO))
		report.progress = cli_store_copy_progress;
	ret = store_copy(ctx->store, target, &report, &error);
	if (report.progress != NULL)
		fprintf(stderr, "\n");
	store_close(&target);
	if (json)
		cli_store_copy_json(ctx, to, &report, ret, error);
	else
		cli_store_copy_text(ctx, to, &report, ret);
	if (ret == 0)
		return CLI_EXIT_OK;
	cli_error("%s", error);
	/* Refused or rolled back, the target as it was: run it again
	 * when what the message says is done. */
	if (ret == STORE_EXISTS || report.source_changed || report.differs)
		return CLI_EXIT_INPUT;
	return CLI_EXIT_SYSTEM;
}

/* mailmigrate store SUBCOMMAND */
int cli_cmd_store(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("store: which? (password, copy)");
	if (strcmp(argv[1], "password") == 0)
		return cli_store_password(ctx, argc - 1, argv + 1);
	if (strcmp(argv[1], "copy") == 0)
		return cli_store_copy(ctx, argc - 1, argv + 1);
	return cli_usage_error("store: unknown subcommand '%.40s' (password, "
			       "copy)", argv[1]);
}
