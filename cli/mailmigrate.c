/*
 * NAME
 *	mailmigrate 8
 * SUMMARY
 *	the administration command: queue accounts, watch, pause, reset
 * SYNOPSIS
 *	mailmigrate [-c FILE] VERB [ARGS]
 * DESCRIPTION
 *	main() parses the global options and hands the rest of the
 *	command line to one verb (cli_*.c). Each verb takes its options
 *	before or after its operands, and -c and --help too.
 * DIAGNOSTICS
 *	"mailmigrate: what: why" on stderr. Exit status 0 ok, 1 partial
 *	success or bad input, 2 usage, 3 store, system or configuration
 *	error (see cli.h).
 */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "crypto.h"
#include "log.h"

struct cli_verb {
	const char *name;
	cli_verb_fn *fn;
};

static const struct cli_verb cli_verbs[] = {
	{ "init", cli_cmd_init },
	{ "add", cli_cmd_add },
	{ "bulk", cli_cmd_bulk },
	{ "list", cli_cmd_list },
	{ "show", cli_cmd_show },
	{ "stats", cli_cmd_stats },
	{ "top", cli_cmd_top },
	{ "log", cli_cmd_log },
	{ "pause", cli_cmd_pause },
	{ "resume", cli_cmd_resume },
	{ "reset", cli_cmd_reset },
	{ "sync", cli_cmd_sync },
	{ "finish", cli_cmd_finish },
	{ "failed", cli_cmd_failed },
	{ "verify", cli_cmd_verify },
	{ "export", cli_cmd_export },
	{ "preflight", cli_cmd_preflight },
	{ "tls-forget", cli_cmd_tls_forget },
	{ "aliases", cli_cmd_aliases },
	{ "store", cli_cmd_store },
};

static const char cli_usage_text[] =
"usage: mailmigrate [-c FILE] VERB [ARGS]\n"
"\n"
"  init                          create state_dir, the store and key_file\n"
"                                (PostgreSQL: make or upgrade the schema)\n"
"  store password [--file PATH]  seal the PostgreSQL password (stdin) into\n"
"                                store_password_file\n"
"  store copy --to postgresql:CONNINFO [--json]\n"
"                                copy the LMDB store into an empty\n"
"                                PostgreSQL store, verified, all or nothing\n"
"  add USER [--domain D] [--messages-only]\n"
"                                queue one account; the password is read\n"
"                                from stdin, or prompted for on a terminal\n"
"  bulk FILE|- [--messages-only] queue the accounts of a file of lines\n"
"                                user:password or user:password:domain\n"
"  list [--state S] [--json]     the accounts\n"
"  show USER [--domain D] [--json]\n"
"                                one account, its job, folders and events\n"
"  stats [--json]                figures of the whole migration, what is\n"
"                                left and when it ends, the copies running\n"
"  top [-n COUNT]                the same, live (q quits); one line a\n"
"                                second when not on a terminal\n"
"  log [--errors] [--account USER] [-n N] [--json]\n"
"                                the last N events (default 50, 0: all)\n"
"  pause | resume                stop or restart taking copy jobs\n"
"  reset [USER]                  forget copy progress (all accounts if no\n"
"                                USER) and queue a new copy\n"
"  sync USER [--domain D] | --all\n"
"                                queue another round: new messages, flags\n"
"  finish                        queue the last round for every account;\n"
"                                each is then finished, its password wiped\n"
"  failed [USER] [--csv]         what could not be copied, and why\n"
"  verify USER [--domain D] | --all [--json]\n"
"                                check each folder now: every message on\n"
"                                OLD copied (still on NEW) or failed\n"
"  aliases [--pending|--rejected] [--json]\n"
"                                aliases, or proposals from mail headers\n"
"  aliases approve ALIAS [ACCOUNT] | approve --all ACCOUNT\n"
"  aliases reject ALIAS [ACCOUNT]\n"
"                                make a proposal an alias, or refuse it\n"
"  export postfix-maps [DIR]     Postfix maps (postmap text) and main.cf\n"
"                                lines that replace the relay\n"
"  export passwd-file [--all] [FILE]\n"
"                                migrated accounts and hashes as a Dovecot\n"
"                                passwd-file (stdout without FILE)\n"
"  preflight [USER...] [--json] [--local]\n"
"                                what to fix, read-only: ok / warning /\n"
"                                failed per check of OLD, each USER (its\n"
"                                password a line of stdin), NEW, Postfix,\n"
"                                Dovecot and the relay\n"
"  tls-forget DOMAIN [--protocol imap|pop3]\n"
"                                forget that OLD offered STARTTLS, so\n"
"                                source_tls = detect accepts plaintext\n"
"  help                          this text\n"
"\n"
"  -c FILE  configuration (default: $MAILMIGRATE_CONF, else\n"
"           " CFG_DEFAULT_PATH ")\n"
"\n"
"Exit status: 0 ok, 1 partial success or bad input, 2 usage,\n"
"3 store, system or configuration error. See mailmigrate(8).\n";

/* The usage text. */
void cli_usage(FILE *fp)
{
	fputs(cli_usage_text, fp);
}

/* An error line on stderr. */
void cli_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("mailmigrate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A usage error: the reason, then the usage text. */
int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("mailmigrate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	cli_usage(stderr);
	return CLI_EXIT_USAGE;
}

/* Report a bad option as getopt_long() left it. */
static void cli_bad_option(int c, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?";
	char shown[80];

	cli_printable(arg, shown, sizeof(shown));
	if (c == ':')
		cli_usage_error("%s: option '%s' needs a value", argv[0], shown);
	else if (optopt != 0 && strncmp(arg, "--", 2) != 0)
		cli_usage_error("%s: unknown option '-%c'", argv[0], optopt);
	else
		cli_usage_error("%s: unknown option '%s'", argv[0], shown);
}

/* getopt_long() with the options every verb shares. */
int cli_getopt(struct cli_ctx *ctx, int argc, char **argv,
	       const char *shortopts, const struct option *longopts)
{
	int c;

	for (;;) {
		c = getopt_long(argc, argv, shortopts, longopts, NULL);
		switch (c) {
		case 'c':
			ctx->config_path = optarg;
			continue;
		case 'h':
			cli_usage(stdout);
			return 'h';
		case '?':
		case ':':
			cli_bad_option(c, argv);
			return '?';
		default:
			return c;
		}
	}
}

/* Global options, then the verb. */
int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "version", no_argument, NULL, 'V' },
		CLI_COMMON_LONGOPTS
	};
	struct cli_ctx ctx = { 0 };
	const char *verb, *error;
	int c, ret;

	/* First: no core file or ptrace can reveal keys or passwords. */
	if (crypto_harden_process(&error) < 0) {
		fprintf(stderr, "mailmigrate: %s\n", error);
		return CLI_EXIT_SYSTEM;
	}
	opterr = 0;
	/* '+': stop at the verb, whose options are its own. */
	while ((c = getopt_long(argc, argv, "+:c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ctx.config_path = optarg;
			break;
		case 'h':
			cli_usage(stdout);
			return CLI_EXIT_OK;
		case 'V':
			printf("mailmigrate %s\n", PACKAGE_VERSION);
			return CLI_EXIT_OK;
		default:
			argv[0] = (char *)"mailmigrate";
			cli_bad_option(c, argv);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_error("no verb given");
	verb = argv[optind];
	if (strcmp(verb, "help") == 0) {
		cli_usage(stdout);
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(cli_verbs) / sizeof(cli_verbs[0]); i++) {
		if (strcmp(verb, cli_verbs[i].name) != 0)
			continue;
		int first = optind;

		/* The verb sees argv[0] = its name; optind 0 restarts getopt. */
		optind = 0;
		ret = cli_verbs[i].fn(&ctx, argc - first, argv + first);
		cli_ctx_free(&ctx);
		if (fflush(stdout) != 0 || ferror(stdout)) {
			cli_error("cannot write the output: %m");
			if (ret == CLI_EXIT_OK)
				ret = CLI_EXIT_SYSTEM;
		}
		return ret;
	}
	{
		char shown[80];

		return cli_usage_error("unknown verb '%s'",
				       cli_printable(verb, shown, sizeof(shown)));
	}
}
