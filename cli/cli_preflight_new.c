/*
 * NAME
 *	cli_preflight_new 3
 * SUMMARY
 *	mailmigrate preflight: the checks on NEW
 * DESCRIPTION
 *	NEW: the master login the puller makes (target_host as
 *	target_master_user, for the first USER, else a notice_account),
 *	with target_driver = dovecot NEW's doveadm running our plugin's
 *	command for that account,
 *	NEW's APPENDLIMIT against the largest message the USERs hold on
 *	OLD, and the free space (and inodes) of the file system under
 *	user_home against the size of their mail, with a margin
 *	(preflight_space_required()). The host's Postfix, Dovecot and
 *	relay: cli_preflight_host(3).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "cli_preflight.h"
#include "crypto.h"
#include "driver.h"
#include "imap_client.h"
#include "managesieve_client.h"
#include "mm_alloc.h"
#include "puller.h"

static const struct preflight_check preflight_appendlimit_check = {
	"new_appendlimit", PREFLIGHT_ONCE, NULL, 1
};
static const struct preflight_check preflight_doveadm_check = {
	"new_doveadm", PREFLIGHT_ONCE, NULL, 1
};
static const struct preflight_check preflight_new_acl_check = {
	"new_acl", PREFLIGHT_ONCE, NULL, 1
};

/* Does a backup domain set migrate_shared? */
static int preflight_wants_acl(const struct cfg *cfg)
{
	for (size_t d = 0; d < cfg->domains_count; d++)
		if (cfg->domains[d].type == CFG_DOMAIN_BACKUP &&
		    cfg->domains[d].migrate_shared)
			return 1;
	return 0;
}

/* migrate_shared in a domain, target_driver = imap: NEW must take
 * SETACL (imap_acl). (The dovecot target: preflight_new_doveadm().) */
static void preflight_new_acl(struct preflight *pf, struct driver_conn *conn)
{
	const struct cfg *cfg = pf->ctx->cfg;
	struct imap_client *client = imap_driver_client(conn);

	if (!preflight_wants_acl(cfg) || cfg->target_driver != CFG_TARGET_IMAP)
		return;
	if (!imap_client_has_cap(client, "ACL"))
		preflight_report(pf, &preflight_new_acl_check, NULL, PREFLIGHT_FAILED,
				 "load imap_acl in NEW's IMAP (contrib/dovecot/"
				 "notice-acl.conf.ext)", "migrate_shared: NEW does not "
				 "list ACL (RFC 4314): no rights can be given there");
	else
		preflight_report(pf, &preflight_new_acl_check, NULL, PREFLIGHT_OK, NULL,
				 "migrate_shared: NEW lists ACL (RFC 4314)");
}

/* migrate_shared, target_driver = dovecot: NEW's doveadm reads the
 * account's INBOX ACL (its acl commands, as the copy uses them). */
static void preflight_new_doveadm_acl(struct preflight *pf, struct driver_conn *conn,
				      const char *doveadm)
{
	struct driver_acl acl = { 0 };
	enum stream_fail fail;
	const char *error;
	int ret;

	if (!preflight_wants_acl(pf->ctx->cfg))
		return;
	ret = target_driver_dovecot.get_acl(conn, "INBOX", &acl, &fail, &error);
	driver_acl_free(&acl);
	if (ret == DRIVER_ACL_NONE)
		preflight_report(pf, &preflight_new_acl_check, NULL, PREFLIGHT_FAILED,
				 "install Dovecot's acl plugin (lib01_acl_plugin.so, "
				 "dovecot-core) and its doveadm module "
				 "(lib10_doveadm_acl_plugin.so) on this host",
				 "migrate_shared: %s has no acl command, even with the acl "
				 "plugin loaded: no rights can be given on NEW", doveadm);
	else if (ret < 0)
		preflight_report(pf, &preflight_new_acl_check, NULL, PREFLIGHT_FAILED,
				 NULL, "migrate_shared: %s", error);
	else
		preflight_report(pf, &preflight_new_acl_check, NULL, PREFLIGHT_OK, NULL,
				 "migrate_shared: %s acl reads NEW's ACLs", doveadm);
}

/* target_driver = dovecot: NEW's doveadm runs our command for account
 * (the plugin installed, the user known to NEW). */
static void preflight_new_doveadm(struct preflight *pf, const char *account)
{
	const struct cfg *cfg = pf->ctx->cfg;
	const char *doveadm = cfg->target_doveadm != NULL ? cfg->target_doveadm :
		"/usr/bin/doveadm";
	struct driver_settings set = { 0 };
	struct driver_login login = { 0 };
	struct driver_conn *conn = NULL;
	enum stream_fail fail;
	const char *error;

	set.doveadm = cfg->target_doveadm;
	set.doveadm_config = cfg->target_doveadm_config;
	set.timeout_ms = cfg->io_timeout * 1000;
	set.max_message_size = cfg->max_message_size;
	login.user = account;
	preflight_value_str(pf, "doveadm", doveadm);
	preflight_value_str(pf, "login", account);
	if (target_driver_dovecot.open(&set, &login, &conn, &fail, &error) < 0) {
		preflight_report(pf, &preflight_doveadm_check, NULL, PREFLIGHT_FAILED,
				 "install dovecot-mailmigrate (its doveadm plugin) on "
				 "this host, or fix target_doveadm and "
				 "target_doveadm_config (target_driver = dovecot)",
				 "NEW's doveadm for %s: %s", account, error);
		return;
	}
	preflight_report(pf, &preflight_doveadm_check, NULL, PREFLIGHT_OK, NULL,
			 "%s mailmigrate-import works for %s (target_driver = "
			 "dovecot keeps UIDVALIDITY, UIDs and POP3 UIDLs)", doveadm,
			 account);
	preflight_new_doveadm_acl(pf, conn, doveadm);
	target_driver_dovecot.close(&conn);
}

/* The account to log in to NEW as: the first good USER, else the first
 * notice_account; NULL when there is none. */
static const char *preflight_new_account(const struct preflight *pf)
{
	const struct cfg *cfg = pf->ctx->cfg;

	for (size_t i = 0; i < pf->users_count; i++)
		if (pf->users[i].error == NULL)
			return pf->users[i].account;
	for (size_t d = 0; d < cfg->domains_count; d++)
		if (cfg->domains[d].notice_account != NULL)
			return cfg->domains[d].notice_account;
	return NULL;
}

/* The largest message the USERs hold on OLD; 0 when none was seen. */
static uint64_t preflight_largest(const struct preflight *pf, int *any_r)
{
	uint64_t largest = 0;

	*any_r = 0;
	for (size_t i = 0; i < pf->users_count; i++) {
		if (!pf->users[i].measured)
			continue;
		*any_r = 1;
		if (pf->users[i].largest > largest)
			largest = pf->users[i].largest;
	}
	return largest;
}

/* NEW's APPENDLIMIT (0: none listed) against the largest message. */
static void preflight_appendlimit(struct preflight *pf, uint64_t limit)
{
	const struct preflight_check *check = &preflight_appendlimit_check;
	const struct cfg *cfg = pf->ctx->cfg;
	char a[32], b[32];
	int any;
	uint64_t largest = preflight_largest(pf, &any);

	preflight_value_u64(pf, "appendlimit", limit);
	if (any)
		preflight_value_u64(pf, "largest", largest);
	else
		preflight_value_str(pf, "largest", NULL);
	if (any && limit != 0 && largest > limit)
		preflight_report(pf, check, NULL, PREFLIGHT_FAILED,
				 "raise NEW's limit (Dovecot: quota_max_mail_size), or "
				 "expect those messages as failed items",
				 "the largest message on OLD (%s) is over NEW's "
				 "APPENDLIMIT (%s): NEW will refuse it",
				 cli_size_human(largest, a, sizeof(a)),
				 cli_size_human(limit, b, sizeof(b)));
	else if (any && largest > cfg->max_message_size)
		preflight_report(pf, check, NULL, PREFLIGHT_WARNING,
				 "raise max_message_size to copy it",
				 "the largest message on OLD (%s) is over "
				 "max_message_size (%s): it will be a failed item",
				 cli_size_human(largest, a, sizeof(a)),
				 cli_size_human(cfg->max_message_size, b, sizeof(b)));
	else if (limit == 0)
		preflight_report(pf, check, NULL, PREFLIGHT_OK, NULL,
				 "NEW lists no APPENDLIMIT%s%s", any ?
				 "; the largest message on OLD is " : "",
				 any ? cli_size_human(largest, a, sizeof(a)) : "");
	else if (any)
		preflight_report(pf, check, NULL, PREFLIGHT_OK, NULL,
				 "NEW's APPENDLIMIT %s takes the largest message on "
				 "OLD (%s)", cli_size_human(limit, b, sizeof(b)),
				 cli_size_human(largest, a, sizeof(a)));
	else
		preflight_report(pf, check, NULL, PREFLIGHT_OK, NULL,
				 "NEW's APPENDLIMIT is %s (give USERs to compare "
				 "with their largest message)",
				 cli_size_human(limit, b, sizeof(b)));
}

void preflight_new_login(struct preflight *pf, const struct preflight_check *check,
			 const struct cfg_domain *dom, struct preflight_user *user)
{
	const struct cfg *cfg = pf->ctx->cfg;
	struct driver_settings set = { 0 };
	struct driver_login login = { 0 };
	struct driver_conn *conn = NULL;
	enum stream_fail fail;
	const char *error, *account = preflight_new_account(pf);
	char *password = NULL;

	(void)dom;
	(void)user;
	if (crypto_read_secret(cfg->target_master_password_file, &password, &error) < 0) {
		preflight_report(pf, check, NULL, PREFLIGHT_FAILED,
				 "write NEW's master password there (mode 0600)",
				 "target_master_password_file: %s", error);
		return;
	}
	if (account == NULL) {
		mm_free_secret(&password);
		preflight_report(pf, check, NULL, PREFLIGHT_WARNING,
				 "give a USER (mailmigrate preflight USER)",
				 "NEW's master login not tried: no USER and no "
				 "notice_account to log in as");
		return;
	}
	set.host = cfg->target_host;
	set.tls = cfg->target_tls;
	set.tls_opts.verify = 1;
	set.connect_timeout_ms = cfg->connect_timeout * 1000;
	set.timeout_ms = cfg->io_timeout * 1000;
	login.user = account;
	login.admin_user = cfg->target_master_user;
	login.admin_star_form = 1;
	login.password = password;
	preflight_value_str(pf, "host", cfg->target_host);
	preflight_value_str(pf, "login", account);
	if (target_driver_imap.open(&set, &login, &conn, &fail, &error) < 0) {
		mm_free_secret(&password);
		preflight_report(pf, check, NULL, PREFLIGHT_FAILED,
				 fail == STREAM_FAIL_AUTH ? "check target_master_user, "
				 "target_master_password_file and NEW's master passdb "
				 "(and that the account exists on NEW)" :
				 "start NEW's IMAP service, or fix target_host and "
				 "target_tls",
				 "NEW %s: master login as %s*%s: %s", cfg->target_host,
				 account, cfg->target_master_user, error);
		return;
	}
	mm_free_secret(&password);
	preflight_report(pf, check, NULL, PREFLIGHT_OK, NULL,
			 "NEW %s: master login as %s*%s works", cfg->target_host,
			 account, cfg->target_master_user);
	preflight_appendlimit(pf, target_driver_imap.append_limit(conn));
	preflight_new_acl(pf, conn);
	target_driver_imap.close(&conn);
	if (cfg->target_driver == CFG_TARGET_DOVECOT)
		preflight_new_doveadm(pf, account);
}

/* migrate_sieve: NEW's ManageSieve takes the master login the puller
 * makes there (for the first USER, else a notice_account). */
void preflight_new_sieve(struct preflight *pf, const struct preflight_check *check,
			 const struct cfg_domain *dom, struct preflight_user *user)
{
	const struct cfg *cfg = pf->ctx->cfg;
	struct puller p = { .cfg = cfg };
	struct managesieve_client *client = NULL;
	enum stream_fail fail;
	const char *error, *account = preflight_new_account(pf);
	int any = 0;

	(void)dom;
	(void)user;
	for (size_t d = 0; d < cfg->domains_count; d++)
		any |= cfg->domains[d].type == CFG_DOMAIN_BACKUP &&
			cfg->domains[d].migrate_sieve;
	if (!any)
		return;
	if (account == NULL) {
		preflight_report(pf, check, NULL, PREFLIGHT_WARNING,
				 "give a USER (mailmigrate preflight USER)",
				 "NEW's ManageSieve login not tried: no USER and no "
				 "notice_account to log in as");
		return;
	}
	if (crypto_read_secret(cfg->target_master_password_file,
			       &p.target_master_password, &error) < 0) {
		preflight_report(pf, check, NULL, PREFLIGHT_FAILED,
				 "write NEW's master password there (mode 0600)",
				 "target_master_password_file: %s", error);
		return;
	}
	preflight_value_str(pf, "protocol", "managesieve");
	preflight_value_str(pf, "login", account);
	if (puller_sieve_open_new(&p, account, &client, &fail, &error) < 0) {
		mm_free_secret(&p.target_master_password);
		preflight_report(pf, check, NULL, PREFLIGHT_FAILED,
				 fail == STREAM_FAIL_AUTH ? "let NEW's master passdb "
				 "serve the managesieve service too (and check that the "
				 "account exists on NEW)" : "run Pigeonhole's ManageSieve "
				 "on NEW (protocols = ... sieve), or set target_sieve_host",
				 "NEW's ManageSieve: master login as %s*%s: %s", account,
				 cfg->target_master_user, error);
		return;
	}
	mm_free_secret(&p.target_master_password);
	preflight_value_str(pf, "server", managesieve_implementation(client));
	preflight_value_str(pf, "extensions", managesieve_extensions(client));
	preflight_report(pf, check, NULL, PREFLIGHT_OK, NULL,
			 "NEW's ManageSieve (%s, %s): master login as %s*%s works; "
			 "extensions: %s", managesieve_implementation(client),
			 managesieve_is_tls(client) ? "TLS" : "plain", account,
			 cfg->target_master_user, managesieve_extensions(client));
	managesieve_close(&client);
}

/* The nearest existing directory at or above path, in place. */
static void preflight_existing_dir(char *path)
{
	struct stat st;

	while (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		char *slash = strrchr(path, '/');

		if (slash == NULL || slash == path) {
			snprintf(path, 2, "/");
			return;
		}
		*slash = '\0';
	}
}

void preflight_new_space(struct preflight *pf, const struct preflight_check *check,
			 const struct cfg_domain *dom, struct preflight_user *user)
{
	const struct cfg *cfg = pf->ctx->cfg;
	const char *account = NULL;
	char path[4096], a[32], b[32], c[32];
	struct statvfs vfs;
	uint64_t need = 0, messages = 0, free_bytes;
	enum preflight_status status;
	int any = 0;

	(void)dom;
	(void)user;
	for (size_t i = 0; i < pf->users_count; i++) {
		if (pf->users[i].error == NULL && account == NULL)
			account = pf->users[i].account;
		if (pf->users[i].measured) {
			any = 1;
			need += pf->users[i].bytes;
			messages += pf->users[i].messages;
		}
	}
	/* A user's home, or the template's part before its first %. */
	if (account != NULL) {
		char *home = cfg_expand_user(cfg->user_home, account);

		snprintf(path, sizeof(path), "%s", home);
		mm_free(&home);
	} else {
		snprintf(path, sizeof(path), "%.*s", (int)strcspn(cfg->user_home, "%"),
			 cfg->user_home);
	}
	preflight_existing_dir(path);
	for (size_t n = strlen(path); n > 1 && path[n - 1] == '/'; n--)
		path[n - 1] = '\0';
	if (statvfs(path, &vfs) < 0) {
		preflight_report(pf, check, NULL, PREFLIGHT_FAILED, "fix user_home",
				 "user_home's file system (%s): %s", path, strerror(errno));
		return;
	}
	free_bytes = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	preflight_value_str(pf, "path", path);
	preflight_value_u64(pf, "free_bytes", free_bytes);
	preflight_value_u64(pf, "free_inodes", vfs.f_favail);
	if (!any) {
		preflight_report(pf, check, NULL, PREFLIGHT_OK, NULL,
				 "%s free under %s (user_home); give USERs to compare "
				 "with the size of their mail",
				 cli_size_human(free_bytes, a, sizeof(a)), path);
		return;
	}
	status = preflight_space_status(free_bytes, need);
	preflight_value_u64(pf, "need_bytes", need);
	preflight_value_u64(pf, "required_bytes", preflight_space_required(need));
	if (vfs.f_files != 0 && vfs.f_favail < messages) {
		preflight_report(pf, check, NULL, PREFLIGHT_FAILED,
				 "make room on NEW (inodes) before copying",
				 "%llu inodes free under %s (user_home), and the USERs "
				 "hold %llu messages (a file each)",
				 (unsigned long long)vfs.f_favail, path,
				 (unsigned long long)messages);
		return;
	}
	preflight_report(pf, check, NULL, status, status == PREFLIGHT_OK ? NULL :
			 "make room on NEW (or a larger file system for user_home) "
			 "before copying",
			 "%s free under %s (user_home) for %s of mail on OLD%s; "
			 "with the margin %s", cli_size_human(free_bytes, a, sizeof(a)),
			 path, cli_size_human(need, b, sizeof(b)),
			 status == PREFLIGHT_FAILED ? ": it does not fit" :
			 status == PREFLIGHT_WARNING ? ": it fits, barely" : "",
			 cli_size_human(preflight_space_required(need), c, sizeof(c)));
}
