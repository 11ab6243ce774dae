/*
 * NAME
 *	cfg 3h
 * SUMMARY
 *	the mailmigrate.conf parser
 * DESCRIPTION
 *	"key = value" lines, '#' comments (to end of line, also after a
 *	value), blank lines, and "[domain NAME]" sections. Global keys
 *	stand before the first section; domain keys only inside one.
 *	Every key is known: an unknown key, a bad value, a duplicate key
 *	or domain, or an over-long line is an error naming FILE:LINE and
 *	the key. Values are trimmed; an empty value means the default.
 *	The file to read: -c FILE, else $MAILMIGRATE_CONF, else
 *	CFG_DEFAULT_PATH (cfg_path()).
 * LIMITS
 *	CFG_MAX_LINE bytes per line, CFG_MAX_DOMAINS sections.
 */
#ifndef MM_CFG_H
#define MM_CFG_H

#include <stddef.h>
#include <stdint.h>

#define CFG_DEFAULT_PATH "/etc/mailmigrate/mailmigrate.conf"
#define CFG_MAX_LINE 4096
#define CFG_MAX_DOMAINS 10000

enum cfg_tls {
	CFG_TLS_NONE,
	CFG_TLS_DETECT,		/* STARTTLS when offered, else plain + warning */
	CFG_TLS_STARTTLS,	/* STARTTLS required */
	CFG_TLS_DIRECT,		/* implicit TLS */
};

enum cfg_domain_type {
	CFG_DOMAIN_BACKUP,	/* migrating: OLD is consulted */
	CFG_DOMAIN_STANDARD,	/* done: OLD is never contacted */
};

enum cfg_protocols {
	CFG_PROTO_BOTH,
	CFG_PROTO_IMAP,
	CFG_PROTO_POP3,
};

enum cfg_login_action {
	CFG_LOGIN_REJECT,
	CFG_LOGIN_NOTICE,
	CFG_LOGIN_PROXY,
};

enum cfg_access_mode {
	CFG_ACCESS_USERNAME,
	CFG_ACCESS_STANDARD,
	CFG_ACCESS_EXTENDED,
};

/* How source_admin_user acts for a user (source_admin_login). */
enum cfg_admin_form {
	CFG_ADMIN_AUTO,		/* IMAP authzid, POP3 star */
	CFG_ADMIN_AUTHZID,	/* SASL PLAIN, the user as authorization id */
	CFG_ADMIN_STAR,		/* "user*admin" (Dovecot master users) */
	CFG_ADMIN_TEMPLATE,	/* a login name made from a template */
};

/* How the puller writes to NEW (target_driver). */
enum cfg_target_driver {
	CFG_TARGET_IMAP,	/* IMAP APPEND as the master user: new UIDs */
	CFG_TARGET_DOVECOT,	/* doveadm mailmigrate-import: OLD's UIDs kept */
};

/* How the dovecot target makes what it wrote durable. */
enum cfg_target_fsync {
	CFG_FSYNC_BATCH,	/* syncfs(2) before and after each batch's commit */
	CFG_FSYNC_MESSAGE,	/* NEW's own mail_fsync (an fsync per message) */
};

/* How the puller logs in to OLD (source_auth). */
enum cfg_source_auth {
	CFG_AUTH_PASSWORD,	/* the captured or the admin password */
	CFG_AUTH_XOAUTH2,	/* SASL XOAUTH2 (Google, Microsoft) */
	CFG_AUTH_OAUTHBEARER,	/* SASL OAUTHBEARER (RFC 7628) */
};

struct cfg_domain {
	char *name;			/* lowercased */
	unsigned line;			/* line of the [domain] header */
	enum cfg_domain_type type;	/* default backup */
	char *source_host;		/* host[:port]; required for backup */
	enum cfg_protocols source_protocols;	/* default both */
	enum cfg_tls source_tls;	/* default detect */
	int source_tls_verify;		/* default 1 */
	char *source_tls_ca_file;	/* NULL: system store */
	char *source_login;		/* name OLD knows: template, %u %n %d */
	char *source_admin_user;	/* NULL: use user passwords */
	char *source_admin_password_file;
	char *source_admin_login;	/* auto|authzid|star|template:T */
	enum cfg_admin_form source_admin_form;	/* from source_admin_login */
	const char *source_admin_template;	/* T, inside source_admin_login */
	enum cfg_source_auth source_auth;	/* default password */
	char *source_oauth2_token_command;	/* prints a bearer token for
						 * the account on its stdin */
	enum cfg_login_action login_action;	/* default reject */
	char *notice_account;
	char *notice_message;		/* path of the template */
	enum cfg_access_mode access_mode;	/* default username */
	int passwords_only;		/* default 0 */
	char *bind_ip;			/* NULL: none */
	char *relay_nexthop;		/* default smtp:[source host]:25 */
	char *exclude_folders;		/* raw list of globs, NULL: none */
	char *folder_map;		/* raw "Old=New; ...", NULL: none */
	char *source_mx_names;		/* hosts OLD's MTA names in its own
					 * Received: "by" (spaces or commas
					 * between), NULL: none */
	int migrate_sieve;		/* copy Sieve scripts, default 0 */
	int migrate_shared;		/* copy folders' ACLs, default 0 */
	char *public_folders_account;	/* NEW's account whose folders are
					 * NEW's public namespace: OLD's shared
					 * folders go there, once; NULL: none */
	char *public_folders_login;	/* the user whose OLD session shows
					 * them (an address, by source_login) */
	unsigned source_sieve_port;	/* OLD's ManageSieve on source_host's
					 * host, default 4190 */
	int migrate_dav;		/* copy calendars and address books,
					 * default 0 */
	char *source_dav_url;		/* OLD's CalDAV/CardDAV: an http(s)
					 * URL template (%u %n %d), a bare
					 * server or a user's home; NULL: none */
	char *target_dav_url;		/* NEW's, the same way */
	char *target_dav_admin_user;	/* NEW's DAV logged in to as this
					 * administrator (target_dav_url then
					 * each user's home); NULL: as the user */
	char *target_dav_admin_password_file;
};

struct cfg {
	char *path;			/* the file read */
	char *state_dir;		/* default /var/lib/mailmigrate */
	char *store;			/* "lmdb:DIR" | "postgresql:CONNINFO";
					 * default "lmdb:" state_dir */
	char *store_password_file;	/* PostgreSQL's password, sealed;
					 * NULL: none */
	char *key_file;			/* default /etc/mailmigrate/secret.key */
	char *public_key_file;		/* default key_file with ".pub" */
	char *log_file;			/* NULL: syslog, mail facility */
	char *run_user;			/* daemons started as root become it
					 * (privdrop.h); NULL: they stay root */
	char *run_group;		/* NULL: run_user's login group */
	unsigned workers;		/* default 2, 1..64 */
	/* a round's account this large (messages on OLD, in 2 folders or
	 * more) is split by folder with an idle worker; 0: never */
	unsigned split_min_messages;	/* default 2000 */
	uint64_t max_bytes_per_second;	/* 0: unlimited */
	uint64_t max_message_size;	/* default 100M */
	char *post_migrate_script;	/* NULL: none */
	enum cfg_target_driver target_driver;	/* default imap */
	char *target_doveadm;		/* dovecot target: doveadm to run,
					 * default /usr/bin/doveadm */
	enum cfg_target_fsync target_fsync;	/* default batch */
	char *target_host;		/* default 127.0.0.1:143 */
	enum cfg_tls target_tls;	/* default none; detect is refused */
	char *target_master_user;	/* default mailmigrate */
	char *target_master_password_file; /* default /etc/mailmigrate/master.pass */
	char *target_sieve_host;	/* NEW's ManageSieve; NULL: target_host's
					 * host, port 4190 */
	uint64_t max_sieve_script_size;	/* read from OLD at most, default 8M */
	uint64_t max_dav_item_size;	/* an event or contact read from OLD
					 * at most, default 20M */
	char *relay_listen;		/* default unix:/run/mailmigrate/relay.sock */
	char *relay_socket_group;	/* default postfix; NULL: mode 0666 */
	char *metrics_listen;		/* mailmigrated's: inet:ADDRESS:PORT; NULL: off */
	char *relay_metrics_listen;	/* mailmigrate-relay's; NULL: off */
	unsigned relay_idle_timeout;	/* seconds, default 60 */
	unsigned relay_request_timeout;	/* seconds for one query, default 10 */
	unsigned relay_max_clients;	/* default 2000 */
	unsigned relay_cache_ttl;	/* seconds; default 5 on PostgreSQL,
					 * 0 (no cache) on LMDB */
	unsigned relay_cache_size;	/* addresses kept, default 65536 */
	char *default_domain;		/* NULL: none */
	char *user_home;		/* default /var/vmail/%d/%n */
	char *user_mail;		/* default maildir:~/Maildir */
	char *user_uid;			/* default vmail */
	char *user_gid;			/* default vmail */
	uint64_t store_max_size;	/* LMDB map limit, default 4G */
	uint64_t event_log_max;		/* events kept, default 100000 */
	/* auth-hook (the Dovecot module) */
	unsigned auth_source_timeout;	/* seconds for a check on OLD, default 15 */
	unsigned auth_rate_window;	/* seconds, default 60 */
	unsigned auth_rate_user;	/* OLD checks per user per window, default 10 */
	unsigned auth_rate_ip;		/* OLD checks per client IP per window, default 30 */
	unsigned auth_negative_ttl;	/* seconds a failed user+password is
					   refused without asking OLD, default 300 */
	char *target_lmtp;		/* notices: host:port or unix:/PATH, default
					   unix:/run/dovecot/lmtp */
	char *target_doveadm_config;	/* NEW's dovecot.conf for doveadm; NULL:
					   doveadm's default */
	char *postfix_config_dir;	/* NEW's Postfix, for preflight's
					   postconf; default /etc/postfix */
	unsigned connect_timeout;	/* seconds, default 30 */
	unsigned io_timeout;		/* seconds without progress, default 120 */
	unsigned max_worker_deaths;	/* a job whose workers died this often is
					   given up, default 3, 1..1000 */

	struct cfg_domain *domains;
	size_t domains_count;
};

/* The configuration file to read: cli_path if not NULL, else
 * $MAILMIGRATE_CONF if set and non-empty, else CFG_DEFAULT_PATH. */
const char *cfg_path(const char *cli_path);

/* Read and check the file at path.
 * @param path	the file
 * @param cfg_r	on success, the caller owns it (cfg_free())
 * @param error_r	on failure, "FILE:LINE: text", kept as error(3h)
 *		says
 * @return 0 or -1 */
int cfg_load(const char *path, struct cfg **cfg_r, const char **error_r);

/* Parse text as if read from a file named name (for tests). */
int cfg_load_string(const char *name, const char *text, struct cfg **cfg_r,
		    const char **error_r);

/* A configuration with every default and no domains. */
struct cfg *cfg_new_defaults(void);
void cfg_free(struct cfg **cfg);

/* The [domain] section for name (case-insensitive), or NULL. */
const struct cfg_domain *cfg_domain_find(const struct cfg *cfg, const char *name);
/* Are two optional values (NULL: unset) the same? */
int cfg_str_same(const char *a, const char *b);
/* The section whose bind_ip equals ip, or NULL. */
const struct cfg_domain *cfg_domain_by_ip(const struct cfg *cfg, const char *ip);

/* "123", "64K", "100M", "4G" (powers of 1024) into *value_r.
 * Returns 0, or -1 with *error_r (static) naming what is wrong. */
int cfg_parse_size(const char *text, uint64_t *value_r, const char **error_r);

/* template (user_home, user_mail) with %u (user@domain), %n (user),
 * %d (domain) and %% expanded for account; other % sequences are kept.
 * The caller owns the result. */
char *cfg_expand_user(const char *template, const char *account);

/* The name account logs in to OLD with: dom's source_login expanded
 * into buf (size at least CFG_LOGIN_MAX + 1). -1 with *error_r naming the
 * key and the account when the result is empty or longer than
 * CFG_LOGIN_MAX. */
#define CFG_LOGIN_MAX 320
/* source_dav_url and target_dav_url, as written */
#define CFG_DAV_URL_MAX 1024
int cfg_login_name(const struct cfg_domain *dom, const char *account,
		   char *buf, size_t size, const char **error_r);
/* Is account dom's public_folders_account? Its rounds copy OLD's shared
 * folders, read in public_folders_login's session (cfg_login_name()
 * and cfg_admin_login_name() give that user's name). */
int cfg_is_public_account(const struct cfg_domain *dom, const char *account);

/* With source_admin_login = template:T, the name the administrator logs
 * in with for account: T with %u %n %d and %a (source_admin_user). As
 * cfg_login_name() otherwise. */
int cfg_admin_login_name(const struct cfg_domain *dom, const char *account,
			 char *buf, size_t size, const char **error_r);

const char *cfg_tls_name(enum cfg_tls tls);
const char *cfg_domain_type_name(enum cfg_domain_type type);
const char *cfg_protocols_name(enum cfg_protocols protos);
const char *cfg_login_action_name(enum cfg_login_action action);
const char *cfg_access_mode_name(enum cfg_access_mode mode);
const char *cfg_source_auth_name(enum cfg_source_auth auth);
const char *cfg_target_driver_name(enum cfg_target_driver driver);

#endif
