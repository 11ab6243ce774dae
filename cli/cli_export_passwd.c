/*
 * NAME
 *	cli_export_passwd 3
 * SUMMARY
 *	mailmigrate export passwd-file [--all] [FILE]
 * DESCRIPTION
 *	When a domain is switched to type = standard, the auth-hook can go:
 *	this writes the accounts and their hashes as a Dovecot passwd-file,
 *
 *	  user@domain:{SHA512-CRYPT}$6$...:UID:GID::HOME::userdb_mail=MAIL
 *
 *	(uid, gid, home and mail from user_uid, user_gid, user_home and
 *	user_mail), so `passdb { driver = passwd-file }` and the same
 *	userdb take over with no password reset. Accounts whose copy is
 *	not done (queued, migrating, failed) are left out, and named on
 *	stderr, unless --all; accounts without a hash are always left out.
 *	FILE is replaced atomically (mode 0640); without FILE, or with
 *	"-", the lines go to stdout.
 * DIAGNOSTICS
 *	Exit 0; 1 when some accounts were left out; 3 on a store or file
 *	error.
 * SECURITY
 *	Hashes only: captured passwords are never exported.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "mm_alloc.h"

struct export_passwd {
	const struct cfg *cfg;
	FILE *fp;
	int all;
	unsigned long written, skipped;
};

/* Can a passwd-file field hold s? No ':' and no line breaks. */
static int export_field_ok(const char *s)
{
	return strpbrk(s, ":\r\n") == NULL;
}

static int export_passwd_one(const struct store_account *acct, void *context)
{
	struct export_passwd *e = context;
	char *home, *mail;
	int done = acct->state == STORE_STATE_COPIED ||
		acct->state == STORE_STATE_FINISHED ||
		acct->state == STORE_STATE_PASSWORDS_ONLY;

	if (acct->password_hash == NULL || !export_field_ok(acct->password_hash)) {
		cli_error("export: %s: no password hash; left out", acct->name);
		e->skipped++;
		return 0;
	}
	if (!done && !e->all) {
		cli_error("export: %s: %s, not migrated yet; left out (--all "
			  "exports it)", acct->name, store_state_name(acct->state));
		e->skipped++;
		return 0;
	}
	home = cfg_expand_user(e->cfg->user_home, acct->name);
	mail = cfg_expand_user(e->cfg->user_mail, acct->name);
	/* The extra fields come last: ':' is fine there, blanks are not. */
	if (!export_field_ok(home) || strpbrk(mail, " \t\r\n") != NULL) {
		cli_error("export: %s: user_home holds ':' or user_mail a blank; "
			  "left out", acct->name);
		e->skipped++;
	} else {
		fprintf(e->fp, "%s:%s:%s:%s::%s::userdb_mail=%s\n", acct->name,
			acct->password_hash, e->cfg->user_uid, e->cfg->user_gid,
			home, mail);
		e->written++;
	}
	mm_free(&home);
	mm_free(&mail);
	return 0;
}

int cli_export_passwd(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		CLI_COMMON_LONGOPTS
	};
	struct export_passwd e = { 0 };
	const char *file = NULL, *error;
	char *tmp = NULL;
	int c, fd, ret;

	while ((c = cli_getopt(ctx, argc, argv, ":c:ha", opts)) != -1) {
		switch (c) {
		case 'a':
			e.all = 1;
			break;
		case 'h':
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (argc - optind > 1)
		return cli_usage_error("export passwd-file: one FILE at most");
	if (optind < argc && strcmp(argv[optind], "-") != 0)
		file = argv[optind];
	if (cli_ctx_store(ctx, 0, 1) < 0)
		return CLI_EXIT_SYSTEM;
	e.cfg = ctx->cfg;
	e.fp = stdout;
	if (file != NULL) {
		tmp = mm_asprintf("%s.tmp.%ld", file, (long)getpid());
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (fd < 0 || (e.fp = fdopen(fd, "w")) == NULL) {
			cli_error("export: cannot create %s: %s", tmp, strerror(errno));
			if (fd >= 0)
				close(fd);
			mm_free(&tmp);
			return CLI_EXIT_SYSTEM;
		}
	}
	ret = store_account_iter(ctx->store, export_passwd_one, &e, &error);
	if (ret < 0)
		cli_error("export: %s", error);
	if (file != NULL) {
		if (ret == 0 && (fflush(e.fp) != 0 || fsync(fileno(e.fp)) < 0 ||
				 ferror(e.fp))) {
			cli_error("export: cannot write %s: %s", tmp, strerror(errno));
			ret = -1;
		}
		fclose(e.fp);
		if (ret == 0 && rename(tmp, file) < 0) {
			cli_error("export: cannot rename %s to %s: %s", tmp, file,
				  strerror(errno));
			ret = -1;
		}
		if (ret < 0)
			unlink(tmp);
		mm_free(&tmp);
	}
	if (ret < 0)
		return CLI_EXIT_SYSTEM;
	if (file != NULL)
		fprintf(stderr, "mailmigrate: export: %lu accounts written to %s, "
			"%lu left out\n", e.written, file, e.skipped);
	return e.skipped > 0 ? CLI_EXIT_INPUT : CLI_EXIT_OK;
}
