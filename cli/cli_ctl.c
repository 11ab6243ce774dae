/*
 * NAME
 *	cli_ctl 3
 * SUMMARY
 *	mailmigrate init, pause, resume and reset
 * DESCRIPTION
 *	init is idempotent: it makes what is missing (state_dir with mode
 *	2770 so the store's files keep its group, the store, key_file
 *	and public_key_file with mode 0600), adds the X25519 key pair to
 *	an old 32-byte key_file (keeping its key), checks what exists,
 *	and says which was which. Run as root with run_user set, it gives
 *	the key files and the LMDB store to run_user (and run_group), which
 *	the daemons become after start-up.
 *	An existing key file is validated before anything is created, so
 *	a refused key leaves the system as it was.
 *
 *	pause and resume set the store's pause flag, which the puller
 *	reads before taking a job. reset forgets copy progress in the
 *	store and queues a new copy; it deletes nothing on either mail
 *	server.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "mm_alloc.h"

/* Make the missing directory that holds path (one level). */
static int cli_init_parent(const char *path)
{
	char *dir = mm_strdup(path), *slash = strrchr(dir, '/');
	struct stat st;
	int ret = 0;

	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (stat(dir, &st) < 0 && errno == ENOENT) {
			if (mkdir(dir, 0755) < 0) {
				cli_error("init: cannot create %s: %s", dir,
					  strerror(errno));
				ret = -1;
			} else {
				printf("created directory %s\n", dir);
			}
		}
	}
	mm_free(&dir);
	return ret;
}

/* Is there a data.mdb (or anything by that name) in dir? */
static int cli_init_have_data(const char *dir)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	return lstat(path, &st) == 0;
}

/* Check or create key_file (adding the key pair to an old one) and
 * public_key_file. */
static int cli_init_key(struct cli_ctx *ctx, int existed)
{
	struct crypto_key key;
	const char *path = ctx->cfg->key_file, *pub = ctx->cfg->public_key_file;
	const char *error;
	struct stat st;
	int ret;

	if (!existed) {
		if (cli_init_parent(path) < 0)
			return -1;
		if (crypto_key_create(path, &error) < 0) {
			cli_error("init: %s", error);
			return -1;
		}
		printf("created key file %s (mode 0600)\n", path);
	} else if ((ret = crypto_key_upgrade(path, &error)) < 0) {
		cli_error("init: %s", error);
		return -1;
	} else if (ret == 1) {
		printf("added an X25519 key pair to key file %s (its old key is "
		       "kept: passwords sealed with it still open)\n", path);
		cli_ctx_event(ctx, LOG_SEV_INFO, NULL, "key pair added to the key "
			      "file by mailmigrate init");
	} else {
		printf("key file %s already exists and is valid\n", path);
	}
	/* Read it back: what the other programs will do. */
	if (crypto_key_load(path, &key, &error) < 0) {
		cli_error("init: %s", error);
		return -1;
	}
	/* Allowed (the puller's group), but the old advice was group
	 * dovecot: say that the workers need only public_key_file now. */
	if (stat(path, &st) == 0 && (st.st_mode & 040) != 0)
		cli_error("init: warning: key file %s is readable by its group "
			  "(gid %lu), which can open every captured password; the "
			  "Dovecot auth workers need only %s: chmod 600 %s",
			  path, (unsigned long)st.st_gid, pub, path);
	if (lstat(pub, &st) < 0) {
		if (cli_init_parent(pub) < 0) {
			crypto_key_wipe(&key);
			return -1;
		}
		ret = crypto_public_create(&key, pub, &error);
		if (ret == 0)
			printf("created public key file %s (mode 0600; for the "
			       "Dovecot auth workers: chgrp dovecot, chmod 640)\n",
			       pub);
	} else {
		ret = crypto_public_check(&key, pub, &error);
		if (ret == 0)
			printf("public key file %s already exists and matches\n", pub);
	}
	crypto_key_wipe(&key);
	if (ret < 0) {
		cli_error("init: %s", error);
		return -1;
	}
	return 0;
}

/* Give path to uid:gid unless it is theirs already; 0 or -1. */
static int cli_init_chown(const char *path, uid_t uid, gid_t gid)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		cli_error("init: %s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode) || (st.st_uid == uid && st.st_gid == gid))
		return 0;
	if (lchown(path, uid, gid) < 0) {
		cli_error("init: cannot give %s to uid %ld: %s", path, (long)uid,
			  strerror(errno));
		return -1;
	}
	printf("gave %s to uid %ld, gid %ld (run_user)\n", path, (long)uid,
	       (long)gid);
	return 0;
}

/* Run as root with run_user set: the daemons become run_user
 * (privdrop.h), so what they open after start-up must be theirs:
 * key_file, public_key_file and the LMDB store. Modes are kept. */
static int cli_init_owner(struct cli_ctx *ctx, int lmdb)
{
	static const char *const store_files[] = { "", "/data.mdb", "/lock.mdb" };
	const struct cfg *cfg = ctx->cfg;
	struct passwd *pw;
	gid_t gid;
	int ret = 0;

	if (cfg->run_user == NULL || geteuid() != 0)
		return 0;
	if ((pw = getpwnam(cfg->run_user)) == NULL) {
		cli_error("init: run_user: no user '%s' on this system",
			  cfg->run_user);
		return -1;
	}
	if (pw->pw_uid == 0)
		return 0;
	gid = pw->pw_gid;
	if (cfg->run_group != NULL) {
		struct group *gr = getgrnam(cfg->run_group);

		if (gr == NULL) {
			cli_error("init: run_group: no group '%s' on this system",
				  cfg->run_group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	ret |= cli_init_chown(cfg->key_file, pw->pw_uid, gid);
	ret |= cli_init_chown(cfg->public_key_file, pw->pw_uid, gid);
	for (size_t i = 0; lmdb && i < sizeof(store_files) / sizeof(*store_files);
	     i++) {
		char *path = mm_asprintf("%s%s", cfg->state_dir, store_files[i]);

		ret |= cli_init_chown(path, pw->pw_uid, gid);
		mm_free(&path);
	}
	return ret;
}

/* init for store = postgresql:...: the keys first (the store password
 * is sealed with public_key_file), then the schema, made or upgraded;
 * no state_dir (nothing is kept there). */
static int cli_init_pgsql(struct cli_ctx *ctx)
{
	struct crypto_key key;
	const char *error;
	struct stat st;
	int key_existed;

	key_existed = lstat(ctx->cfg->key_file, &st) == 0;
	if (key_existed && crypto_key_load(ctx->cfg->key_file, &key, &error) < 0) {
		cli_error("init: %s", error);
		return CLI_EXIT_SYSTEM;
	}
	if (key_existed)
		crypto_key_wipe(&key);
	if (cli_init_key(ctx, key_existed) < 0 || cli_init_owner(ctx, 0) < 0)
		return CLI_EXIT_SYSTEM;
	if (ctx->cfg->store_password_file != NULL &&
	    lstat(ctx->cfg->store_password_file, &st) < 0) {
		cli_error("init: store_password_file %s is missing: make it with "
			  "`mailmigrate store password` (the password on stdin), "
			  "then run init again", ctx->cfg->store_password_file);
		return CLI_EXIT_SYSTEM;
	}
	if (cli_ctx_store(ctx, 1, 0) < 0)
		return CLI_EXIT_SYSTEM;
	if (store_was_created(ctx->store)) {
		printf("created store %s\n", ctx->cfg->store);
		cli_ctx_event(ctx, LOG_SEV_INFO, NULL, "store created by "
			      "mailmigrate init");
	} else {
		printf("store %s already exists (schema up to date)\n",
		       ctx->cfg->store);
	}
	return CLI_EXIT_OK;
}

/* mailmigrate init */
int cli_cmd_init(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_LONGOPTS };
	struct crypto_key key;
	struct stat st;
	const char *error;
	int c, dir_existed, key_existed;

	if ((c = cli_getopt(ctx, argc, argv, ":c:h", opts)) != -1)
		return c == 'h' ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (optind != argc)
		return cli_usage_error("init: takes no operands");
	if (cli_ctx_config(ctx) < 0)
		return CLI_EXIT_SYSTEM;
	if (strncmp(ctx->cfg->store, "postgresql:", 11) == 0)
		return cli_init_pgsql(ctx);

	if (stat(ctx->cfg->state_dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			cli_error("init: state_dir %s is not a directory",
				  ctx->cfg->state_dir);
			return CLI_EXIT_SYSTEM;
		}
		dir_existed = 1;
	} else if (errno == ENOENT) {
		dir_existed = 0;
	} else {
		cli_error("init: cannot access state_dir %s: %s",
			  ctx->cfg->state_dir, strerror(errno));
		return CLI_EXIT_SYSTEM;
	}
	key_existed = lstat(ctx->cfg->key_file, &st) == 0;
	if (key_existed && crypto_key_load(ctx->cfg->key_file, &key, &error) < 0) {
		cli_error("init: %s", error);
		return CLI_EXIT_SYSTEM;
	}
	if (key_existed)
		crypto_key_wipe(&key);

	/* An existing data.mdb is opened without create: store_open(create)
	 * would add our databases to a foreign LMDB environment. */
	if (cli_ctx_store(ctx, !cli_init_have_data(ctx->cfg->state_dir), 0) < 0)
		return CLI_EXIT_SYSTEM;
	if (!dir_existed)
		printf("created state_dir %s (mode 2770)\n", ctx->cfg->state_dir);
	if (store_was_created(ctx->store)) {
		printf("created store in %s\n", ctx->cfg->state_dir);
		cli_ctx_event(ctx, LOG_SEV_INFO, NULL, "store created by "
			      "mailmigrate init");
	} else {
		printf("store in %s already exists\n", ctx->cfg->state_dir);
	}
	if (cli_init_key(ctx, key_existed) < 0 || cli_init_owner(ctx, 1) < 0)
		return CLI_EXIT_SYSTEM;
	return CLI_EXIT_OK;
}

/* pause and resume. */
static int cli_ctl_pause(struct cli_ctx *ctx, int argc, char **argv, int pause)
{
	static const struct option opts[] = { CLI_COMMON_LONGOPTS };
	const char *error;
	int c, was;

	if ((c = cli_getopt(ctx, argc, argv, ":c:h", opts)) != -1)
		return c == 'h' ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (optind != argc)
		return cli_usage_error("%s: takes no operands", argv[0]);
	if (cli_ctx_store(ctx, 0, 0) < 0)
		return CLI_EXIT_SYSTEM;
	if (store_paused(ctx->store, &was, &error) < 0 ||
	    store_set_paused(ctx->store, pause, &error) < 0) {
		cli_error("%s: %s", argv[0], error);
		return CLI_EXIT_SYSTEM;
	}
	if (was != pause)
		cli_ctx_event(ctx, LOG_SEV_INFO, NULL, "migration %s by mailmigrate %s",
			      pause ? "paused" : "resumed", argv[0]);
	cli_kvf("Paused", "%s%s", pause ? "yes" : "no",
		was == pause ? " (unchanged)" : "");
	return CLI_EXIT_OK;
}

/* mailmigrate pause */
int cli_cmd_pause(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_ctl_pause(ctx, argc, argv, 1);
}

/* mailmigrate resume */
int cli_cmd_resume(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_ctl_pause(ctx, argc, argv, 0);
}

/* mailmigrate reset [USER] [--domain D] */
int cli_cmd_reset(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "domain", required_argument, NULL, 'd' },
		CLI_COMMON_LONGOPTS
	};
	char account[STORE_MAX_ACCOUNT];
	const char *domain = NULL, *error;
	struct store_stats st = { 0 };
	int c, ret;

	while ((c = cli_getopt(ctx, argc, argv, ":c:hd:", opts)) != -1) {
		switch (c) {
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
		return cli_usage_error("reset: one USER at most");
	if (cli_ctx_config(ctx) < 0)
		return CLI_EXIT_SYSTEM;
	if (optind < argc) {
		if ((ret = cli_ctx_user_arg(ctx, "reset", argv[optind], domain, account)) != 0)
			return ret;
	} else if (domain != NULL) {
		return cli_usage_error("reset: --domain needs a USER");
	}
	if (cli_ctx_store(ctx, 0, 0) < 0)
		return CLI_EXIT_SYSTEM;
	if (optind == argc &&
	    store_stats_get(ctx->store, time(NULL), &st, &error) < 0) {
		cli_error("reset: %s", error);
		return CLI_EXIT_SYSTEM;
	}
	ret = store_reset(ctx->store, optind < argc ? account : NULL, time(NULL),
			  &error);
	if (ret < 0) {
		cli_error("reset: %s", error);
		return CLI_EXIT_SYSTEM;
	}
	if (ret == STORE_NOTFOUND) {
		cli_error("reset: account '%s' does not exist", account);
		return CLI_EXIT_INPUT;
	}
	if (optind < argc) {
		cli_ctx_event(ctx, LOG_SEV_INFO, account, "copy progress reset by "
			      "mailmigrate reset");
		printf("%s: copy progress forgotten, a new copy is queued\n", account);
	} else {
		cli_ctx_event(ctx, LOG_SEV_INFO, NULL, "copy progress of every "
			      "account reset by mailmigrate reset");
		printf("%llu accounts: copy progress forgotten, new copies are "
		       "queued\n", (unsigned long long)st.accounts);
	}
	printf("Nothing was deleted on either mail server.\n");
	return CLI_EXIT_OK;
}

/* mailmigrate tls-forget DOMAIN [--protocol imap|pop3]: after OLD
 * really stopped offering STARTTLS, let source_tls = detect accept
 * plaintext again (until it sees TLS there anew). */
int cli_cmd_tls_forget(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "protocol", required_argument, NULL, 'p' },
		CLI_COMMON_LONGOPTS
	};
	const char *proto = NULL, *error;
	char shown[300];
	int c, ret;

	while ((c = cli_getopt(ctx, argc, argv, ":c:hp:", opts)) != -1) {
		switch (c) {
		case 'p':
			proto = optarg;
			break;
		case 'h':
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("tls-forget: one DOMAIN");
	if (proto != NULL && strcmp(proto, STORE_TLS_IMAP) != 0 &&
	    strcmp(proto, STORE_TLS_POP3) != 0)
		return cli_usage_error("tls-forget: --protocol is imap or pop3");
	if (cli_ctx_store(ctx, 0, 0) < 0)
		return CLI_EXIT_SYSTEM;
	cli_printable(argv[optind], shown, sizeof(shown));
	ret = store_tls_seen_forget(ctx->store, argv[optind], proto, &error);
	if (ret < 0) {
		cli_error("tls-forget: %s: %s", shown, error);
		return CLI_EXIT_INPUT;
	}
	if (ret == STORE_NOTFOUND) {
		printf("%s: no STARTTLS remembered%s%s; nothing to forget\n", shown,
		       proto != NULL ? " for " : "", proto != NULL ? proto : "");
		return CLI_EXIT_OK;
	}
	cli_ctx_event(ctx, LOG_SEV_WARNING, NULL, "TLS memory of %s (%s) forgotten "
		      "by mailmigrate tls-forget: source_tls = detect accepts "
		      "plaintext from its OLD again", shown,
		      proto != NULL ? proto : "imap and pop3");
	printf("%s: STARTTLS memory forgotten (%s); source_tls = detect accepts "
	       "plaintext from OLD again until it sees TLS there\n", shown,
	       proto != NULL ? proto : "imap and pop3");
	return CLI_EXIT_OK;
}
