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
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

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

/* mailmigrate store SUBCOMMAND */
int cli_cmd_store(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("store: which? (password)");
	if (strcmp(argv[1], "password") == 0)
		return cli_store_password(ctx, argc - 1, argv + 1);
	return cli_usage_error("store: unknown subcommand '%.40s' (password)",
			       argv[1]);
}
