/*
 * NAME
 *	cli_export 3
 * SUMMARY
 *	mailmigrate export postfix-maps: static maps that replace the relay
 * DESCRIPTION
 *	When every domain is switched to standard, mailmigrate-relay and
 *	its socketmaps can go: this writes the same answers as Postfix
 *	lookup tables, in the text form postmap(1) reads (one "key value"
 *	line each, keys sorted), plus the main.cf lines that use them as
 *	lmdb: tables:
 *
 *	virtual_mailbox	every account in the store ("user@domain OK")
 *	virtual_alias	every alias ("alias user@domain")
 *	transport	accounts the relay still sends to OLD: queued ones in
 *			domains still of type backup (empty once all are
 *			standard)
 *	main.cf		transport_maps, virtual_mailbox_maps,
 *			virtual_alias_maps = lmdb:DIR/...
 *
 *	Each file is written to a temporary name and renamed, so a
 *	reader never sees half a map. A domain still of type backup is
 *	warned about: its users unknown to the store cannot be listed, so
 *	only the relay routes them to OLD.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "mm_alloc.h"

enum export_map { EXPORT_MAILBOX, EXPORT_ALIAS, EXPORT_TRANSPORT, EXPORT_MAINCF,
		  EXPORT_COUNT };

static const char *const export_names[EXPORT_COUNT] = {
	"virtual_mailbox", "virtual_alias", "transport", "main.cf",
};

struct export_ctx {
	struct cli_ctx *cli;
	FILE *fp[EXPORT_COUNT];
	char tmp[EXPORT_COUNT][PATH_MAX];
	char path[EXPORT_COUNT][PATH_MAX];
	uint64_t lines[EXPORT_COUNT];
};

/* One account's lines. */
static int export_account(const struct store_account *acct, void *context)
{
	struct export_ctx *ctx = context;
	const struct cfg_domain *dom = cfg_domain_find(ctx->cli->cfg, acct->domain);

	fprintf(ctx->fp[EXPORT_MAILBOX], "%s OK\n", acct->name);
	ctx->lines[EXPORT_MAILBOX]++;
	for (size_t i = 0; i < acct->aliases_count; i++) {
		fprintf(ctx->fp[EXPORT_ALIAS], "%s %s\n", acct->aliases[i],
			acct->name);
		ctx->lines[EXPORT_ALIAS]++;
	}
	if (dom != NULL && dom->type == CFG_DOMAIN_BACKUP &&
	    dom->relay_nexthop != NULL && acct->state == STORE_STATE_QUEUED) {
		fprintf(ctx->fp[EXPORT_TRANSPORT], "%s %s\n", acct->name,
			dom->relay_nexthop);
		ctx->lines[EXPORT_TRANSPORT]++;
	}
	return ferror(ctx->fp[EXPORT_MAILBOX]) || ferror(ctx->fp[EXPORT_ALIAS]) ||
		ferror(ctx->fp[EXPORT_TRANSPORT]) ? -1 : 0;
}

/* Close every file; rename them into place when ok. */
static int export_finish(struct export_ctx *ctx, int ok)
{
	for (int m = 0; m < EXPORT_COUNT; m++) {
		if (ctx->fp[m] == NULL)
			continue;
		if (fclose(ctx->fp[m]) != 0 && ok) {
			cli_error("export: cannot write %s: %s", ctx->tmp[m],
				  strerror(errno));
			ok = 0;
		}
		ctx->fp[m] = NULL;
	}
	for (int m = 0; m < EXPORT_COUNT; m++) {
		if (ctx->tmp[m][0] == '\0')
			continue;
		if (ok && rename(ctx->tmp[m], ctx->path[m]) < 0) {
			cli_error("export: cannot rename %s to %s: %s", ctx->tmp[m],
				  ctx->path[m], strerror(errno));
			ok = 0;
		}
		if (!ok)
			(void)unlink(ctx->tmp[m]);
	}
	return ok ? 0 : -1;
}

/* Open the temporary files in dir (absolute). */
static int export_open(struct export_ctx *ctx, const char *dir)
{
	for (int m = 0; m < EXPORT_COUNT; m++) {
		int n = snprintf(ctx->path[m], sizeof(ctx->path[m]), "%s/%s", dir,
				 export_names[m]);
		int fd;

		if (n < 0 || (size_t)n + 16 >= sizeof(ctx->path[m])) {
			cli_error("export: directory name too long");
			return -1;
		}
		snprintf(ctx->tmp[m], sizeof(ctx->tmp[m]), "%s.tmpXXXXXX",
			 ctx->path[m]);
		fd = mkstemp(ctx->tmp[m]);
		if (fd < 0) {
			cli_error("export: cannot create a file in %s: %s", dir,
				  strerror(errno));
			ctx->tmp[m][0] = '\0';
			return -1;
		}
		(void)fchmod(fd, 0644);
		ctx->fp[m] = fdopen(fd, "w");
		if (ctx->fp[m] == NULL) {
			close(fd);
			cli_error("export: %s: %s", ctx->tmp[m], strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* mailmigrate export postfix-maps [DIR] */
static int cli_export_postfix_maps(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_LONGOPTS };
	struct export_ctx ectx = { .cli = ctx };
	char dir[PATH_MAX];
	const char *error;
	struct stat st;
	int c;

	while ((c = cli_getopt(ctx, argc, argv, ":c:h", opts)) != -1) {
		if (c == 'h')
			return CLI_EXIT_OK;
		return CLI_EXIT_USAGE;
	}
	if (optind + 1 < argc)
		return cli_usage_error("export postfix-maps: one DIR at most");
	if (realpath(optind < argc ? argv[optind] : ".", dir) == NULL ||
	    stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		cli_error("export postfix-maps: '%s' is not a directory",
			  optind < argc ? argv[optind] : ".");
		return CLI_EXIT_INPUT;
	}
	if (cli_ctx_config(ctx) < 0 || cli_ctx_store(ctx, 0, 1) < 0)
		return CLI_EXIT_SYSTEM;
	if (export_open(&ectx, dir) < 0) {
		export_finish(&ectx, 0);
		return CLI_EXIT_SYSTEM;
	}
	fprintf(ectx.fp[EXPORT_TRANSPORT], "# Written by mailmigrate export "
		"postfix-maps: recipients still routed to OLD.\n");
	fprintf(ectx.fp[EXPORT_MAILBOX], "# Written by mailmigrate export "
		"postfix-maps: the mailboxes on this server.\n");
	fprintf(ectx.fp[EXPORT_ALIAS], "# Written by mailmigrate export "
		"postfix-maps: alias -> account.\n");
	if (store_account_iter(ctx->store, export_account, &ectx, &error) != 0) {
		cli_error("export postfix-maps: %s", error);
		export_finish(&ectx, 0);
		return CLI_EXIT_SYSTEM;
	}
	fprintf(ectx.fp[EXPORT_MAINCF],
		"# Written by mailmigrate export postfix-maps: replaces the\n"
		"# socketmap:...relay.sock lines of main.cf. Run first:\n"
		"#   postmap lmdb:%s/transport\n"
		"#   postmap lmdb:%s/virtual_mailbox\n"
		"#   postmap lmdb:%s/virtual_alias\n"
		"transport_maps = lmdb:%s/transport\n"
		"virtual_mailbox_maps = lmdb:%s/virtual_mailbox\n"
		"virtual_alias_maps = lmdb:%s/virtual_alias\n",
		dir, dir, dir, dir, dir, dir);
	if (export_finish(&ectx, 1) < 0)
		return CLI_EXIT_SYSTEM;
	printf("%s/virtual_mailbox: %llu accounts\n", dir,
	       (unsigned long long)ectx.lines[EXPORT_MAILBOX]);
	printf("%s/virtual_alias: %llu aliases\n", dir,
	       (unsigned long long)ectx.lines[EXPORT_ALIAS]);
	printf("%s/transport: %llu recipients still routed to OLD\n", dir,
	       (unsigned long long)ectx.lines[EXPORT_TRANSPORT]);
	printf("%s/main.cf: the main.cf lines that use them (after postmap)\n", dir);
	for (size_t i = 0; i < ctx->cfg->domains_count; i++) {
		const struct cfg_domain *d = &ctx->cfg->domains[i];

		if (d->type == CFG_DOMAIN_BACKUP)
			cli_error("export postfix-maps: warning: domain %s is still "
				  "type = backup: its users unknown to the store "
				  "reach OLD only through the relay; switch it to "
				  "standard before removing the relay", d->name);
	}
	return CLI_EXIT_OK;
}

/* mailmigrate export WHAT ... */
int cli_cmd_export(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "postfix-maps") == 0)
		return cli_export_postfix_maps(ctx, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "passwd-file") == 0)
		return cli_export_passwd(ctx, argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
			  strcmp(argv[1], "--help") == 0)) {
		cli_usage(stdout);
		return CLI_EXIT_OK;
	}
	return cli_usage_error("export: what? (postfix-maps, passwd-file)");
}
