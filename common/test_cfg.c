/*
 * NAME
 *	test_cfg 1
 * SUMMARY
 *	unit tests for cfg(3)
 * DESCRIPTION
 *	Defaults, the example file from the design, and tables: values
 *	that each key type must accept (and what they become) or refuse,
 *	and whole files with the exact "FILE:LINE: text" error they must
 *	produce. Files on disk for what only a file can hold (a NUL
 *	byte, a 10 MB line) and for cfg_load()'s own errors.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "mm_alloc.h"

#define KB 1024ULL
#define MB (1024ULL * 1024)
#define GB (1024ULL * 1024 * 1024)

/* The example in DESIGN.md, comments and all. */
static const char design_example[] =
	"state_dir = /var/lib/mailmigrate        # LMDB environment\n"
	"key_file = /etc/mailmigrate/secret.key  # 32 bytes, 0600\n"
	"log_file =                              # empty: syslog, mail facility\n"
	"workers = 2\n"
	"max_bytes_per_second = 0                # 0: unlimited\n"
	"max_message_size = 100M\n"
	"post_migrate_script =\n"
	"target_host = 127.0.0.1:143             # NEW server's IMAP\n"
	"target_tls = none                       # none | starttls | direct\n"
	"target_master_user = mailmigrate\n"
	"target_master_password_file = /etc/mailmigrate/master.pass\n"
	"relay_listen = unix:/run/mailmigrate/relay.sock\n"
	"default_domain = example.com\n"
	"user_home = /var/vmail/%d/%n            # userdb answers\n"
	"user_mail = maildir:~/Maildir\n"
	"user_uid = vmail\n"
	"user_gid = vmail\n"
	"\n"
	"[domain example.com]\n"
	"type = backup                           # backup: migrating\n"
	"source_host = 192.168.176.120           # host[:port]\n"
	"source_protocols = both                 # both | imap | pop3\n"
	"source_tls = detect                     # detect | starttls | direct | none\n"
	"source_tls_verify = yes\n"
	"source_tls_ca_file =\n"
	"source_admin_user =                     # optional\n"
	"source_admin_password_file =\n"
	"login_action = reject                   # reject | notice | proxy\n"
	"notice_account = migrate@example.com\n"
	"notice_message = /etc/mailmigrate/notice.txt\n"
	"access_mode = username                  # username | standard | extended\n"
	"passwords_only = no\n"
	"bind_ip =                               # local IP for multi-domain binding\n"
	"relay_nexthop = smtp:[192.168.176.120]:25\n"
	"exclude_folders =\n"
	"folder_map =                            # \"Old Name=New Name; ...\"\n";

/* Parse text that must be good. */
static struct cfg *load_ok(const char *text)
{
	struct cfg *cfg = NULL;
	const char *error = NULL;
	int ret = cfg_load_string("t.conf", text, &cfg, &error);

	ck_assert_msg(ret == 0, "refused: %s", error != NULL ? error : "?");
	ck_assert_ptr_nonnull(cfg);
	return cfg;
}

/* Parse text that must fail with exactly want. */
static void load_fails(const char *text, const char *want)
{
	struct cfg *cfg = NULL;
	const char *error = NULL;
	int ret = cfg_load_string("t.conf", text, &cfg, &error);

	if (ret == 0)
		cfg_free(&cfg);
	ck_assert_msg(ret == -1, "accepted: %s", text);
	ck_assert_ptr_null(cfg);
	ck_assert_ptr_nonnull(error);
	ck_assert_str_eq(error, want);
}

/* Every global default, from cfg_new_defaults() and an empty file. */
static void check_global_defaults(const struct cfg *cfg)
{
	ck_assert_str_eq(cfg->state_dir, "/var/lib/mailmigrate");
	ck_assert_str_eq(cfg->key_file, "/etc/mailmigrate/secret.key");
	ck_assert_ptr_null(cfg->log_file);
	ck_assert_uint_eq(cfg->workers, 2);
	ck_assert_uint_eq(cfg->max_bytes_per_second, 0);
	ck_assert_uint_eq(cfg->max_message_size, 100 * MB);
	ck_assert_ptr_null(cfg->post_migrate_script);
	ck_assert_int_eq(cfg->target_driver, CFG_TARGET_IMAP);
	ck_assert_int_eq(cfg->target_fsync, CFG_FSYNC_BATCH);
	ck_assert_str_eq(cfg->target_doveadm, "/usr/bin/doveadm");
	ck_assert_str_eq(cfg->target_host, "127.0.0.1:143");
	ck_assert_int_eq(cfg->target_tls, CFG_TLS_NONE);
	ck_assert_str_eq(cfg->target_master_user, "mailmigrate");
	ck_assert_str_eq(cfg->target_master_password_file,
			 "/etc/mailmigrate/master.pass");
	ck_assert_str_eq(cfg->relay_listen, "unix:/run/mailmigrate/relay.sock");
	ck_assert_ptr_null(cfg->default_domain);
	ck_assert_str_eq(cfg->user_home, "/var/vmail/%d/%n");
	ck_assert_str_eq(cfg->user_mail, "maildir:~/Maildir");
	ck_assert_str_eq(cfg->user_uid, "vmail");
	ck_assert_str_eq(cfg->user_gid, "vmail");
	ck_assert_uint_eq(cfg->store_max_size, 4 * GB);
	ck_assert_uint_eq(cfg->event_log_max, 100000);
	ck_assert_uint_eq(cfg->domains_count, 0);
}

START_TEST(test_defaults)
{
	struct cfg *cfg = cfg_new_defaults();

	check_global_defaults(cfg);
	ck_assert_ptr_null(cfg->path);
	cfg_free(&cfg);
	ck_assert_ptr_null(cfg);
	cfg_free(&cfg);		/* NULL is fine */

	cfg = load_ok("");
	check_global_defaults(cfg);
	ck_assert_str_eq(cfg->path, "t.conf");
	cfg_free(&cfg);

	cfg = load_ok("# only a comment\n\n   \t\n  # indented\n");
	check_global_defaults(cfg);
	cfg_free(&cfg);
}
END_TEST

/* An empty value means the default, also for keys with one. */
START_TEST(test_empty_means_default)
{
	struct cfg *cfg = load_ok("workers =\nstate_dir =   \ntarget_tls=\n"
				  "max_message_size =\n"
				  "[domain a.example]\nsource_host = h\n"
				  "source_tls =\nsource_tls_verify=\ntype=\n");
	const struct cfg_domain *d = &cfg->domains[0];

	ck_assert_uint_eq(cfg->workers, 2);
	ck_assert_str_eq(cfg->state_dir, "/var/lib/mailmigrate");
	ck_assert_int_eq(cfg->target_tls, CFG_TLS_NONE);
	ck_assert_uint_eq(cfg->max_message_size, 100 * MB);
	ck_assert_int_eq(d->source_tls, CFG_TLS_DETECT);
	ck_assert_int_eq(d->source_tls_verify, 1);
	ck_assert_int_eq(d->type, CFG_DOMAIN_BACKUP);
	cfg_free(&cfg);
}
END_TEST

/* Check the design's example as parsed from text or from a file. */
static void check_design_example(const struct cfg *cfg)
{
	const struct cfg_domain *d;

	ck_assert_str_eq(cfg->state_dir, "/var/lib/mailmigrate");
	ck_assert_ptr_null(cfg->log_file);
	ck_assert_ptr_null(cfg->post_migrate_script);
	ck_assert_uint_eq(cfg->max_message_size, 100 * MB);
	ck_assert_str_eq(cfg->target_host, "127.0.0.1:143");
	ck_assert_str_eq(cfg->default_domain, "example.com");
	ck_assert_str_eq(cfg->user_home, "/var/vmail/%d/%n");
	ck_assert_uint_eq(cfg->domains_count, 1);
	d = cfg_domain_find(cfg, "Example.COM");
	ck_assert_ptr_eq(d, &cfg->domains[0]);
	ck_assert_str_eq(d->name, "example.com");
	ck_assert_uint_eq(d->line, 19);
	ck_assert_int_eq(d->type, CFG_DOMAIN_BACKUP);
	ck_assert_str_eq(d->source_host, "192.168.176.120");
	ck_assert_int_eq(d->source_protocols, CFG_PROTO_BOTH);
	ck_assert_int_eq(d->source_tls, CFG_TLS_DETECT);
	ck_assert_int_eq(d->source_tls_verify, 1);
	ck_assert_ptr_null(d->source_tls_ca_file);
	ck_assert_ptr_null(d->source_admin_user);
	ck_assert_ptr_null(d->source_admin_password_file);
	ck_assert_int_eq(d->login_action, CFG_LOGIN_REJECT);
	ck_assert_str_eq(d->notice_account, "migrate@example.com");
	ck_assert_str_eq(d->notice_message, "/etc/mailmigrate/notice.txt");
	ck_assert_int_eq(d->access_mode, CFG_ACCESS_USERNAME);
	ck_assert_int_eq(d->passwords_only, 0);
	ck_assert_ptr_null(d->bind_ip);
	ck_assert_str_eq(d->relay_nexthop, "smtp:[192.168.176.120]:25");
	ck_assert_ptr_null(d->exclude_folders);
	ck_assert_ptr_null(d->folder_map);
	ck_assert_ptr_null(cfg_domain_find(cfg, "example.org"));
}

START_TEST(test_design_example)
{
	struct cfg *cfg = load_ok(design_example);

	check_design_example(cfg);
	cfg_free(&cfg);
}
END_TEST

/* A temporary file holding data; the caller unlinks path. */
static void temp_file(const void *data, size_t len, char *path, size_t size)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(path, size, "%s/test_cfg.XXXXXX",
		 dir != NULL && *dir != '\0' ? dir : "/tmp");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, (const char *)data + off, len - off);

		ck_assert_int_gt(n, 0);
		off += (size_t)n;
	}
	ck_assert_int_eq(close(fd), 0);
}

START_TEST(test_load_file)
{
	char path[512];
	struct cfg *cfg = NULL;
	const char *error = NULL;

	temp_file(design_example, strlen(design_example), path, sizeof(path));
	ck_assert_msg(cfg_load(path, &cfg, &error) == 0, "%s", error);
	check_design_example(cfg);
	ck_assert_str_eq(cfg->path, path);
	cfg_free(&cfg);
	unlink(path);
}
END_TEST

START_TEST(test_load_missing_file)
{
	struct cfg *cfg = NULL;
	const char *error = NULL;

	ck_assert_int_eq(cfg_load("/nonexistent/mailmigrate.conf", &cfg,
				  &error), -1);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(error, "cannot read /nonexistent/mailmigrate.conf: "
			 "No such file or directory");
	/* A directory opens, but cannot be read. */
	ck_assert_int_eq(cfg_load("/", &cfg, &error), -1);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(error, "cannot read /: Is a directory");
}
END_TEST

/* Only a file can hold a NUL byte. */
START_TEST(test_load_nul_byte)
{
	static const char text[] = "workers = 2\nwor\0kers = 3\n";
	char path[512];
	struct cfg *cfg = NULL;
	const char *error = NULL;
	char want[600];

	temp_file(text, sizeof(text) - 1, path, sizeof(path));
	ck_assert_int_eq(cfg_load(path, &cfg, &error), -1);
	ck_assert_ptr_null(cfg);
	snprintf(want, sizeof(want), "%s:2: NUL byte in line", path);
	ck_assert_str_eq(error, want);
	unlink(path);
}
END_TEST

/* A 10 MB line is refused by its number, and so are lines one byte
 * over the limit; a line at the limit is fine. CRLF files work. */
START_TEST(test_load_long_lines)
{
	static const size_t sizes[] = { 10 * 1024 * 1024, CFG_MAX_LINE + 1,
					CFG_MAX_LINE };
	size_t size = sizes[_i], len = 0;
	char *data = mm_malloc(size + 64), path[512], want[600];
	struct cfg *cfg = NULL;
	const char *error = NULL;
	int ret;

	len += (size_t)snprintf(data, 64, "workers = 3\r\n\r\n");
	data[len++] = '#';
	memset(data + len, 'c', size - 1);
	len += size - 1;
	memcpy(data + len, "\r\nstate_dir = /x\r\n", 18);
	len += 18;
	temp_file(data, len, path, sizeof(path));
	mm_free(&data);
	ret = cfg_load(path, &cfg, &error);
	if (size <= CFG_MAX_LINE) {
		ck_assert_msg(ret == 0, "%s", error);
		ck_assert_uint_eq(cfg->workers, 3);
		ck_assert_str_eq(cfg->state_dir, "/x");
		cfg_free(&cfg);
	} else {
		ck_assert_int_eq(ret, -1);
		ck_assert_ptr_null(cfg);
		snprintf(want, sizeof(want), "%s:3: line over 4096 bytes", path);
		ck_assert_str_eq(error, want);
	}
	unlink(path);
}
END_TEST

/* The same limit for strings. */
START_TEST(test_string_long_lines)
{
	char *text = mm_malloc(CFG_MAX_LINE + 32);
	struct cfg *cfg;

	memset(text, ' ', CFG_MAX_LINE);
	memcpy(text, "workers = 4", 11);
	strcpy(text + CFG_MAX_LINE, "\n");
	cfg = load_ok(text);
	ck_assert_uint_eq(cfg->workers, 4);
	cfg_free(&cfg);
	/* CR is not part of the line. */
	strcpy(text + CFG_MAX_LINE, "\r\n");
	cfg = load_ok(text);
	cfg_free(&cfg);
	strcpy(text + CFG_MAX_LINE, " \n");
	load_fails(text, "t.conf:1: line over 4096 bytes");
	mm_free(&text);
}
END_TEST

START_TEST(test_cfg_path)
{
	ck_assert_int_eq(unsetenv("MAILMIGRATE_CONF"), 0);
	ck_assert_str_eq(cfg_path(NULL), CFG_DEFAULT_PATH);
	ck_assert_str_eq(cfg_path(NULL), "/etc/mailmigrate/mailmigrate.conf");
	ck_assert_str_eq(cfg_path("/cli.conf"), "/cli.conf");
	ck_assert_int_eq(setenv("MAILMIGRATE_CONF", "/env.conf", 1), 0);
	ck_assert_str_eq(cfg_path(NULL), "/env.conf");
	ck_assert_str_eq(cfg_path("/cli.conf"), "/cli.conf");
	ck_assert_int_eq(setenv("MAILMIGRATE_CONF", "", 1), 0);
	ck_assert_str_eq(cfg_path(NULL), CFG_DEFAULT_PATH);
	ck_assert_int_eq(unsetenv("MAILMIGRATE_CONF"), 0);
}
END_TEST

struct size_case {
	const char *text;
	int ok;
	uint64_t value;
	const char *error;
};

static const struct size_case size_cases[] = {
	{ "0", 1, 0, NULL },
	{ "123", 1, 123, NULL },
	{ "64K", 1, 64 * KB, NULL },
	{ "64k", 1, 64 * KB, NULL },
	{ "100M", 1, 100 * MB, NULL },
	{ "100m", 1, 100 * MB, NULL },
	{ "4G", 1, 4 * GB, NULL },
	{ "0G", 1, 0, NULL },
	{ "007", 1, 7, NULL },
	{ "18446744073709551615", 1, UINT64_MAX, NULL },
	{ "17179869183G", 1, 17179869183ULL * GB, NULL },
	{ "17179869184G", 0, 0, "size too large" },
	{ "18014398509481984K", 0, 0, "size too large" },
	{ "18446744073709551616", 0, 0, "size too large" },
	{ "99999999999999999999999", 0, 0, "size too large" },
	{ "", 0, 0, "empty size" },
	{ "K", 0, 0, "'K' is not a size (use a number with an optional K, M or G)" },
	{ "-1", 0, 0, "'-1' is not a size (use a number with an optional K, M or G)" },
	{ " 1", 0, 0, "' 1' is not a size (use a number with an optional K, M or G)" },
	{ "12X", 0, 0, "bad size suffix 'X' (use K, M or G)" },
	{ "12KB", 0, 0, "bad size suffix 'KB' (use K, M or G)" },
	{ "12T", 0, 0, "bad size suffix 'T' (use K, M or G)" },
	{ "1.5M", 0, 0, "bad size suffix '.5M' (use K, M or G)" },
	{ "12 K", 0, 0, "bad size suffix ' K' (use K, M or G)" },
	{ "1\nK", 0, 0, "bad size suffix '?K' (use K, M or G)" },
};

START_TEST(test_parse_size)
{
	const struct size_case *c = &size_cases[_i];
	uint64_t value = 42;
	const char *error = NULL;
	int ret = cfg_parse_size(c->text, &value, &error);

	if (c->ok) {
		ck_assert_msg(ret == 0, "'%s': %s", c->text, error);
		ck_assert_uint_eq(value, c->value);
	} else {
		ck_assert_msg(ret == -1, "'%s' accepted", c->text);
		ck_assert_uint_eq(value, 42);
		ck_assert_str_eq(error, c->error);
	}
}
END_TEST

/* One value for one key: what it becomes, or the exact error. */
struct value_case {
	const char *key;
	int in_domain;		/* the key belongs in a [domain] section */
	const char *value;
	const char *want;	/* normalized text, or a number */
	const char *error;	/* NULL: must be accepted */
};

static const struct value_case value_cases[] = {
	/* unsigned with a range */
	{ "run_user", 0, "mailmigrate", "mailmigrate", NULL },
	{ "run_user", 0, "mail migrate", NULL, "white space in value" },
	{ "workers", 0, "1", "1", NULL },
	{ "workers", 0, "64", "64", NULL },
	{ "workers", 0, "0", NULL, "0 is not in 1..64" },
	{ "workers", 0, "65", NULL, "65 is not in 1..64" },
	{ "workers", 0, "4294967297", NULL, "4294967297 is not in 1..64" },
	{ "workers", 0, "99999999999999999999", NULL, "number too large" },
	{ "workers", 0, "-1", NULL, "'-1' is not a number" },
	{ "workers", 0, "2x", NULL, "'2x' is not a number" },
	{ "workers", 0, "two", NULL, "'two' is not a number" },
	{ "event_log_max", 0, "1", "1", NULL },
	{ "event_log_max", 0, "0", NULL, "0 is less than 1" },
	{ "event_log_max", 0, "10K", NULL, "'10K' is not a number" },
	/* sizes */
	{ "max_message_size", 0, "1", "1", NULL },
	{ "max_message_size", 0, "50m", "52428800", NULL },
	{ "max_message_size", 0, "0", NULL, "0 is less than 1" },
	{ "max_message_size", 0, "10 M", NULL, "bad size suffix ' M' (use K, M or G)" },
	{ "max_bytes_per_second", 0, "0", "0", NULL },
	{ "max_bytes_per_second", 0, "512K", "524288", NULL },
	{ "store_max_size", 0, "1M", "1048576", NULL },
	{ "store_max_size", 0, "1023K", NULL, "1047552 is less than 1048576" },
	/* booleans */
	{ "source_tls_verify", 1, "yes", "1", NULL },
	{ "source_tls_verify", 1, "YES", "1", NULL },
	{ "source_tls_verify", 1, "true", "1", NULL },
	{ "source_tls_verify", 1, "1", "1", NULL },
	{ "source_tls_verify", 1, "no", "0", NULL },
	{ "source_tls_verify", 1, "False", "0", NULL },
	{ "source_tls_verify", 1, "0", "0", NULL },
	{ "passwords_only", 1, "yes", "1", NULL },
	{ "passwords_only", 1, "on", NULL, "expected yes or no" },
	{ "migrate_sieve", 1, "yes", "1", NULL },
	{ "migrate_sieve", 1, "", "0", NULL },
	{ "migrate_shared", 1, "yes", "1", NULL },
	{ "migrate_shared", 1, "", "0", NULL },
	{ "migrate_shared", 1, "maybe", NULL, "expected yes or no" },
	{ "migrate_dav", 1, "", "0", NULL },
	{ "migrate_dav", 1, "no", "0", NULL },
	{ "source_dav_url", 1, "", "(null)", NULL },
	{ "source_dav_url", 1, "https://dav.a.example/%u/", "https://dav.a.example/%u/", NULL },
	{ "target_dav_url", 1, "http://127.0.0.1:5232/", "http://127.0.0.1:5232/", NULL },
	{ "max_dav_item_size", 0, "", "20971520", NULL },
	{ "max_dav_item_size", 0, "50M", "52428800", NULL },
	{ "max_dav_item_size", 0, "0", NULL, "0 is not in 1..1073741824" },
	{ "source_sieve_port", 1, "", "4190", NULL },
	{ "source_sieve_port", 1, "2000", "2000", NULL },
	{ "source_sieve_port", 1, "65536", NULL, "65536 is not in 1..65535" },
	{ "target_sieve_host", 0, "", "(null)", NULL },
	{ "target_sieve_host", 0, "127.0.0.3:4190", "127.0.0.3:4190", NULL },
	{ "max_sieve_script_size", 0, "", "8388608", NULL },
	{ "max_sieve_script_size", 0, "2M", "2097152", NULL },
	{ "max_sieve_script_size", 0, "0", NULL, "0 is not in 1..1073741824" },
	{ "passwords_only", 1, "2", NULL, "expected yes or no" },
	/* enums */
	{ "target_driver", 0, "imap", "0", NULL },
	{ "target_driver", 0, "dovecot", "1", NULL },
	{ "target_driver", 0, "Dovecot", "1", NULL },
	{ "target_driver", 0, "dsync", NULL, "'dsync' is not one of: imap, dovecot" },
	{ "target_doveadm", 0, "/opt/dovecot/bin/doveadm", "/opt/dovecot/bin/doveadm", NULL },
	{ "target_fsync", 0, "batch", "0", NULL },
	{ "target_fsync", 0, "message", "1", NULL },
	{ "target_fsync", 0, "always", NULL, "'always' is not one of: batch, message" },
	{ "target_tls", 0, "none", "0", NULL },
	{ "target_tls", 0, "starttls", "2", NULL },
	{ "target_tls", 0, "DIRECT", "3", NULL },
	{ "target_tls", 0, "detect", NULL, "'detect' is not one of: none, "
	  "starttls, direct; detect is only for source_tls, the NEW server's "
	  "TLS is known" },
	{ "source_tls", 1, "detect", "1", NULL },
	{ "source_tls", 1, "none", "0", NULL },
	{ "source_tls", 1, "starttls", "2", NULL },
	{ "source_tls", 1, "direct", "3", NULL },
	{ "source_tls", 1, "ssl", NULL, "'ssl' is not one of: none, detect, "
	  "starttls, direct" },
	{ "type", 1, "standard", "1", NULL },
	{ "type", 1, "migrating", NULL, "'migrating' is not one of: backup, standard" },
	{ "source_protocols", 1, "imap", "1", NULL },
	{ "source_protocols", 1, "pop3", "2", NULL },
	{ "source_protocols", 1, "pop", NULL, "'pop' is not one of: both, imap, pop3" },
	{ "login_action", 1, "proxy", "2", NULL },
	{ "login_action", 1, "tempfail", NULL, "'tempfail' is not one of: reject, "
	  "notice, proxy" },
	{ "access_mode", 1, "standard", "1", NULL },
	{ "access_mode", 1, "extended", "2", NULL },
	{ "access_mode", 1, "full", NULL, "'full' is not one of: username, "
	  "standard, extended" },
	/* host[:port] */
	{ "target_host", 0, "mail.example.com", "mail.example.com", NULL },
	{ "target_host", 0, "mail.example.com:993", "mail.example.com:993", NULL },
	{ "target_host", 0, "192.0.2.1:110", "192.0.2.1:110", NULL },
	{ "target_host", 0, "localhost", "localhost", NULL },
	{ "target_host", 0, "[2001:db8::1]:993", "[2001:db8::1]:993", NULL },
	{ "target_host", 0, "[2001:db8::1]", "[2001:db8::1]", NULL },
	{ "target_host", 0, "host:1", "host:1", NULL },
	{ "target_host", 0, "host:65535", "host:65535", NULL },
	{ "target_host", 0, "host:0", NULL, "port must be a number 1..65535" },
	{ "target_host", 0, "host:65536", NULL, "port must be a number 1..65535" },
	{ "target_host", 0, "host:100000", NULL, "port must be a number 1..65535" },
	{ "target_host", 0, "host:+1", NULL, "port must be a number 1..65535" },
	{ "target_host", 0, "host:imap", NULL, "port must be a number 1..65535" },
	{ "target_host", 0, "host:", NULL, "missing port after ':'" },
	{ "target_host", 0, ":143", NULL, "missing host" },
	{ "target_host", 0, "[]:143", NULL, "missing host" },
	{ "target_host", 0, "2001:db8::1", NULL, "an IPv6 address must be in "
	  "brackets: [ADDRESS]:PORT" },
	{ "target_host", 0, "[2001:db8::1", NULL, "missing ']'" },
	{ "target_host", 0, "[2001:db8::1]143", NULL, "expected ':PORT' after ']'" },
	{ "target_host", 0, "[zz::1]:143", NULL, "bad IPv6 address in brackets" },
	{ "target_host", 0, "bad_host:143", NULL, "character '_' not allowed in "
	  "name (letters, digits, '-' and '.' only)" },
	{ "target_host", 0, "a..b", NULL, "empty label in name" },
	{ "target_host", 0, ".a", NULL, "empty label in name" },
	{ "target_host", 0, "host name", NULL, "character ' ' not allowed in "
	  "name (letters, digits, '-' and '.' only)" },
	{ "source_host", 1, "old.example.com:995", "old.example.com:995", NULL },
	{ "source_host", 1, "old/x", NULL, "character '/' not allowed in name "
	  "(letters, digits, '-' and '.' only)" },
	/* relay_listen */
	{ "relay_listen", 0, "unix:/run/x.sock", "unix:/run/x.sock", NULL },
	{ "relay_listen", 0, "inet:127.0.0.1:10099", "inet:127.0.0.1:10099", NULL },
	{ "relay_listen", 0, "inet:[::1]:10099", "inet:[::1]:10099", NULL },
	{ "relay_listen", 0, "inet:localhost:1", "inet:localhost:1", NULL },
	{ "relay_listen", 0, "unix:run/x.sock", NULL, "unix: needs an absolute path" },
	{ "relay_listen", 0, "unix:", NULL, "unix: needs an absolute path" },
	{ "relay_listen", 0, "inet:127.0.0.1", NULL, "missing ':PORT'" },
	{ "relay_listen", 0, "inet:[::1]", NULL, "missing ':PORT'" },
	{ "relay_listen", 0, "inet:127.0.0.1:0", NULL, "port must be a number 1..65535" },
	{ "relay_listen", 0, "tcp:127.0.0.1:25", NULL, "expected unix:/PATH or "
	  "inet:HOST:PORT" },
	{ "relay_listen", 0, "/run/x.sock", NULL, "expected unix:/PATH or "
	  "inet:HOST:PORT" },
	{ "relay_listen", 0, "unix:/run/"
	  "0123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789.sock", NULL,
	  "socket path longer than 107 bytes" },
	/* metrics_listen: off unless set; inet with a numeric address only */
	{ "metrics_listen", 0, "", "(null)", NULL },
	{ "metrics_listen", 0, "inet:127.0.0.1:9310", "inet:127.0.0.1:9310", NULL },
	{ "metrics_listen", 0, "inet:[::1]:9310", "inet:[::1]:9310", NULL },
	{ "metrics_listen", 0, "inet:0.0.0.0:9310", "inet:0.0.0.0:9310", NULL },
	{ "metrics_listen", 0, "inet:localhost:9310", NULL, "the address must be "
	  "numeric (IPv4, or IPv6 in brackets), not a host name" },
	{ "metrics_listen", 0, "inet:127.0.0.1", NULL, "missing ':PORT'" },
	{ "metrics_listen", 0, "inet:127.0.0.1:0", NULL, "port must be a number 1..65535" },
	{ "metrics_listen", 0, "inet:127.0.0.1:99999", NULL,
	  "port must be a number 1..65535" },
	{ "metrics_listen", 0, "unix:/run/m.sock", NULL, "expected inet:ADDRESS:PORT, "
	  "e.g. inet:127.0.0.1:9310 (empty: off)" },
	{ "metrics_listen", 0, "off", NULL, "expected inet:ADDRESS:PORT, "
	  "e.g. inet:127.0.0.1:9310 (empty: off)" },
	{ "metrics_listen", 0, "9310", NULL, "expected inet:ADDRESS:PORT, "
	  "e.g. inet:127.0.0.1:9310 (empty: off)" },
	{ "relay_metrics_listen", 0, "inet:127.0.0.1:9311", "inet:127.0.0.1:9311", NULL },
	{ "relay_metrics_listen", 0, "unix:/x", NULL, "expected inet:ADDRESS:PORT, "
	  "e.g. inet:127.0.0.1:9310 (empty: off)" },
	/* relay_nexthop */
	{ "relay_nexthop", 1, "smtp:[192.0.2.1]:25", "smtp:[192.0.2.1]:25", NULL },
	{ "relay_nexthop", 1, "smtp:[mx.example.com]", "smtp:[mx.example.com]", NULL },
	{ "relay_nexthop", 1, "relay:mx.example.com:2525", "relay:mx.example.com:2525",
	  NULL },
	{ "relay_nexthop", 1, "smtp:[2001:db8::1]:25", "smtp:[2001:db8::1]:25", NULL },
	{ "relay_nexthop", 1, "[192.0.2.1]:25", NULL, "expected TRANSPORT:[HOST]:PORT, "
	  "like smtp:[192.0.2.1]:25" },
	{ "relay_nexthop", 1, "smtp", NULL, "expected TRANSPORT:[HOST]:PORT, "
	  "like smtp:[192.0.2.1]:25" },
	{ "relay_nexthop", 1, "smtp:", NULL, "missing host" },
	{ "relay_nexthop", 1, "sm/tp:[h]:25", NULL, "bad character in transport name" },
	{ "relay_nexthop", 1, "smtp:[h]:99999", NULL, "port must be a number 1..65535" },
	/* domain names, lowercased */
	{ "default_domain", 0, "Example.COM", "example.com", NULL },
	{ "default_domain", 0, "xn--bcher-kva.example", "xn--bcher-kva.example", NULL },
	{ "default_domain", 0, "a-b.c-d", "a-b.c-d", NULL },
	{ "default_domain", 0, "a.", NULL, "empty label in name" },
	{ "default_domain", 0, "a_b.example", NULL, "character '_' not allowed in "
	  "name (letters, digits, '-' and '.' only)" },
	{ "default_domain", 0, "caf\xc3\xa9.example", NULL, "character '?' not "
	  "allowed in name (letters, digits, '-' and '.' only)" },
	{ "default_domain", 0,
	  "a234567890123456789012345678901234567890123456789012345678901234.example",
	  NULL, "label longer than 63 bytes in name" },
	{ "default_domain", 0,
	  "a23456789012345678901234567890123456789012345678901234567890123.example",
	  "a23456789012345678901234567890123456789012345678901234567890123.example",
	  NULL },
	/* addresses, normalized */
	{ "bind_ip", 1, "192.0.2.10", "192.0.2.10", NULL },
	{ "bind_ip", 1, "2001:DB8:0:0::1", "2001:db8::1", NULL },
	{ "bind_ip", 1, "192.0.2.256", NULL, "not an IPv4 or IPv6 address" },
	{ "bind_ip", 1, "[::1]", NULL, "not an IPv4 or IPv6 address" },
	{ "bind_ip", 1, "mail.example.com", NULL, "not an IPv4 or IPv6 address" },
	/* paths */
	{ "state_dir", 0, "/srv/mm", "/srv/mm", NULL },
	{ "key_file", 0, "/etc/mm/my key", "/etc/mm/my key", NULL },
	{ "state_dir", 0, "var/lib/mm", NULL, "not an absolute path (it must "
	  "start with '/')" },
	{ "log_file", 0, "~/mm.log", NULL, "not an absolute path (it must "
	  "start with '/')" },
	{ "notice_message", 1, "notice.txt", NULL, "not an absolute path (it must "
	  "start with '/')" },
	{ "post_migrate_script", 0, "/usr/local/bin/after\tx", NULL, "TAB in path" },
	/* words and strings */
	{ "user_uid", 0, "5000", "5000", NULL },
	{ "user_uid", 0, "v mail", NULL, "white space in value" },
	{ "target_master_user", 0, "a\tb", NULL, "control character in value" },
	{ "notice_account", 1, "migrate@example.com", "migrate@example.com", NULL },
	{ "folder_map", 1, "Old Name=New Name; Sent Items=Sent",
	  "Old Name=New Name; Sent Items=Sent", NULL },
	{ "exclude_folders", 1, "Trash\tJunk", "Trash\tJunk", NULL },
	{ "folder_map", 1, "a\x01" "b", NULL, "control character in value" },
	{ "folder_map", 1, "a\x7f" "b", NULL, "control character in value" },
	{ "folder_map", 1, "Entw\xc3\xbcrfe=Drafts", "Entw\xc3\xbcrfe=Drafts", NULL },
};

/* The parsed value of a key as text, for comparison. */
static void value_text(const struct cfg *cfg, const struct cfg_domain *d,
		       const char *key, char *buf, size_t size)
{
#define STR(obj, f) if (strcmp(key, #f) == 0) { \
	snprintf(buf, size, "%s", (obj)->f != NULL ? (obj)->f : "(null)"); return; }
#define NUM(obj, f) if (strcmp(key, #f) == 0) { \
	snprintf(buf, size, "%llu", (unsigned long long)(obj)->f); return; }
	STR(cfg, state_dir) STR(cfg, key_file) STR(cfg, log_file)
	STR(cfg, run_user)
	NUM(cfg, workers) NUM(cfg, max_bytes_per_second)
	NUM(cfg, max_message_size) STR(cfg, post_migrate_script)
	NUM(cfg, target_driver) STR(cfg, target_doveadm) NUM(cfg, target_fsync)
	STR(cfg, target_host) NUM(cfg, target_tls) STR(cfg, target_master_user)
	STR(cfg, relay_listen) STR(cfg, metrics_listen)
	STR(cfg, relay_metrics_listen) STR(cfg, default_domain) STR(cfg, user_uid)
	NUM(cfg, store_max_size) NUM(cfg, event_log_max)
	NUM(d, type) STR(d, source_host) NUM(d, source_protocols)
	NUM(d, source_tls) NUM(d, source_tls_verify) NUM(d, login_action)
	STR(d, notice_account) STR(d, notice_message) NUM(d, access_mode)
	NUM(d, passwords_only) STR(d, bind_ip) STR(d, relay_nexthop)
	STR(d, exclude_folders) STR(d, folder_map)
	NUM(d, migrate_sieve) NUM(d, migrate_shared) NUM(d, source_sieve_port)
	NUM(d, migrate_dav) STR(d, source_dav_url) STR(d, target_dav_url)
	NUM(cfg, max_dav_item_size)
	STR(cfg, target_sieve_host) NUM(cfg, max_sieve_script_size)
#undef STR
#undef NUM
	ck_abort_msg("test table names unknown key %s", key);
}

START_TEST(test_values)
{
	const struct value_case *c = &value_cases[_i];
	char text[1024], want[1200], got[1024];
	struct cfg *cfg;
	int line;

	/* A domain key comes after whatever makes the section valid. */
	if (c->in_domain) {
		snprintf(text, sizeof(text), "[domain d.example]\n%s\n%s = %s\n",
			 strcmp(c->key, "source_host") == 0 ? "type = standard" :
			 "source_host = old.d.example", c->key, c->value);
		line = 3;
	} else {
		snprintf(text, sizeof(text), "\n%s = %s\n", c->key, c->value);
		line = 2;
	}
	if (c->error != NULL) {
		snprintf(want, sizeof(want), "t.conf:%d: bad value for '%s': %s",
			 line, c->key, c->error);
		load_fails(text, want);
		return;
	}
	cfg = load_ok(text);
	value_text(cfg, c->in_domain ? &cfg->domains[0] : NULL, c->key,
		   got, sizeof(got));
	ck_assert_str_eq(got, c->want);
	cfg_free(&cfg);
}
END_TEST

/* Whole files and the exact error each must give. */
struct error_case {
	const char *text;
	const char *error;
};

#define DOM_A "[domain a.example]\nsource_host = old.a.example\n"
#define DOM_B "[domain b.example]\nsource_host = old.b.example\n"

static const struct error_case error_cases[] = {
	{ "bogus = 1\n", "t.conf:1: unknown key 'bogus'" },
	{ "Workers = 1\n", "t.conf:1: unknown key 'Workers'" },
	{ "\x01key = 1\n", "t.conf:1: unknown key '?key'" },
	{ "workers = 2\nsource_host = x\n", "t.conf:2: unknown key 'source_host' "
	  "outside a [domain] section (it is a per-domain setting)" },
	{ DOM_A "workers = 3\n", "t.conf:3: unknown key 'workers' in a [domain] "
	  "section (it is a global setting: put it before the first [domain])" },
	{ DOM_A "bogus = 1\n", "t.conf:3: unknown key 'bogus'" },
	{ "workers = 2\nworkers = 3\n", "t.conf:2: duplicate key 'workers' "
	  "(first at line 1)" },
	{ "workers =\n\nworkers = 3\n", "t.conf:3: duplicate key 'workers' "
	  "(first at line 1)" },
	{ DOM_A "source_host = again\n", "t.conf:3: duplicate key 'source_host' "
	  "(first at line 2)" },
	{ DOM_A DOM_B "[domain A.Example]\n", "t.conf:5: duplicate [domain "
	  "a.example] (first at line 1)" },
	{ "workers 3\n", "t.conf:1: missing '=' in 'workers 3' (expected key = value)" },
	{ "workers # = 3\n", "t.conf:1: missing '=' in 'workers' (expected key = value)" },
	{ " = 3\n", "t.conf:1: missing key before '='" },
	{ "[domain]\n", "t.conf:1: malformed section header '[domain]' "
	  "(expected [domain NAME])" },
	{ "[domain ]\n", "t.conf:1: malformed section header '[domain ]' "
	  "(expected [domain NAME])" },
	{ "[global]\n", "t.conf:1: malformed section header '[global]' "
	  "(expected [domain NAME])" },
	{ "[Domain a.example]\n", "t.conf:1: malformed section header "
	  "'[Domain a.example]' (expected [domain NAME])" },
	{ "[domaina.example]\n", "t.conf:1: malformed section header "
	  "'[domaina.example]' (expected [domain NAME])" },
	{ "[domain a.example\n", "t.conf:1: malformed section header "
	  "'[domain a.example' (expected [domain NAME])" },
	{ "[domain a.example] x\n", "t.conf:1: malformed section header "
	  "'[domain a.example] x' (expected [domain NAME])" },
	{ "[domain a b]\n", "t.conf:1: malformed section header '[domain a b]' "
	  "(expected [domain NAME])" },
	{ "[domain a_b.example]\n", "t.conf:1: bad domain name 'a_b.example' in "
	  "section header: character '_' not allowed in name (letters, digits, "
	  "'-' and '.' only)" },
	{ "[domain a..example]\n", "t.conf:1: bad domain name 'a..example' in "
	  "section header: empty label in name" },
	{ "workers = 2\r\nbogus = 1\r\n", "t.conf:2: unknown key 'bogus'" },
	{ "workers = 2\nstate_dir\t=\trelative # comment\n", "t.conf:2: bad value "
	  "for 'state_dir': not an absolute path (it must start with '/')" },
	{ "workers = 2\nrun_group = mail\n", "t.conf:2: run_group needs run_user" },
	/* cross-checks, at the [domain] header */
	{ "workers = 2\n[domain a.example]\ntype = backup\n", "t.conf:2: "
	  "[domain a.example]: type = backup needs source_host" },
	{ "[domain a.example]\n", "t.conf:1: [domain a.example]: type = backup "
	  "needs source_host" },
	{ DOM_A "login_action = notice\n", "t.conf:1: [domain a.example]: "
	  "login_action = notice needs notice_account" },
	{ DOM_A "bind_ip = 192.0.2.1\n" DOM_B "bind_ip = 192.0.2.2\n"
	  "[domain c.example]\nsource_host = old.c.example\nbind_ip = 192.0.2.1\n",
	  "t.conf:7: [domain c.example]: bind_ip 192.0.2.1 is also used by "
	  "[domain a.example] (line 1)" },
	{ DOM_A "bind_ip = ::1\n" DOM_B "bind_ip = 0:0::1\n",
	  "t.conf:4: [domain b.example]: bind_ip ::1 is also used by "
	  "[domain a.example] (line 1)" },
	{ "default_domain = c.example\n" DOM_A, "t.conf:1: default_domain "
	  "c.example has no [domain c.example] section" },
	{ DOM_A "source_login = %x\n", "t.conf:1: [domain a.example]: "
	  "source_login '%x': unknown variable (known: %u the full address, "
	  "%n the local part, %d the domain, %% a %)" },
	{ DOM_A "source_admin_login = master\n", "t.conf:1: [domain a.example]: "
	  "source_admin_login 'master': expected auto, authzid, star or "
	  "template:TEMPLATE" },
	{ DOM_A "source_admin_login = template:\n", "t.conf:1: [domain "
	  "a.example]: source_admin_login 'template:' needs a template after "
	  "the colon" },
	{ DOM_A "source_admin_login = template:%a/%x\n", "t.conf:1: [domain "
	  "a.example]: source_admin_login 'template:%a/%x': unknown variable "
	  "(known: %u the full address, %n the local part, %d the domain, %a "
	  "source_admin_user, %% a %)" },
	{ DOM_A "source_login = %a\n", "t.conf:1: [domain a.example]: "
	  "source_login '%a': unknown variable (known: %u the full address, "
	  "%n the local part, %d the domain, %% a %)" },
	{ DOM_A "source_login = ann%\n", "t.conf:1: [domain a.example]: "
	  "source_login 'ann%': a '%' ends it (known: %u the full address, "
	  "%n the local part, %d the domain, %% a %)" },
	/* source_auth and source_oauth2_token_command */
	{ DOM_A "source_auth = oauth\n", "t.conf:3: bad value for "
	  "'source_auth': 'oauth' is not one of: password, xoauth2, oauthbearer" },
	{ DOM_A "source_auth = xoauth2\n", "t.conf:1: [domain a.example]: "
	  "source_auth = xoauth2 needs source_oauth2_token_command" },
	{ DOM_A "source_oauth2_token_command = /usr/bin/tok\n", "t.conf:1: "
	  "[domain a.example]: source_oauth2_token_command is set but "
	  "source_auth = password (set source_auth = xoauth2 or oauthbearer)" },
	{ DOM_A "source_auth = oauthbearer\nsource_oauth2_token_command = tok\n",
	  "t.conf:4: bad value for 'source_oauth2_token_command': not an "
	  "absolute path (it must start with '/')" },
	{ DOM_A "source_auth = oauthbearer\nsource_oauth2_token_command = /t\n"
	  "source_admin_user = adm\n", "t.conf:1: [domain a.example]: "
	  "source_admin_user does not apply with source_auth = oauthbearer (the "
	  "token command gives each account its own token)" },
	{ DOM_A "source_auth = xoauth2\nsource_oauth2_token_command = /t\n"
	  "login_action = proxy\n", "t.conf:1: [domain a.example]: login_action "
	  "= proxy needs source_auth = password (Dovecot proxies with the user's "
	  "password; OLD wants a token)" },
	/* migrate_dav and its URLs */
	{ DOM_A "migrate_dav = yes\n", "t.conf:1: [domain a.example]: migrate_dav "
	  "= yes needs source_dav_url" },
	{ DOM_A "migrate_dav = yes\nsource_dav_url = https://dav/%u/\n",
	  "t.conf:1: [domain a.example]: migrate_dav = yes needs target_dav_url" },
	{ DOM_A "migrate_dav = yes\nsource_dav_url = ftp://dav/\n"
	  "target_dav_url = http://new/\n", "t.conf:1: [domain a.example]: "
	  "source_dav_url 'ftp://dav/': not an http:// or https:// URL (known: "
	  "%u the full address, %n the local part, %d the domain, %% a %)" },
	{ DOM_A "migrate_dav = yes\nsource_dav_url = https://dav/%x/\n"
	  "target_dav_url = http://new/\n", "t.conf:1: [domain a.example]: "
	  "source_dav_url 'https://dav/%x/': unknown variable (known: %u the full "
	  "address, %n the local part, %d the domain, %% a %)" },
	{ DOM_A "migrate_dav = yes\nsource_dav_url = https://dav/\n"
	  "target_dav_url = http://new/a\"b\n", "t.conf:1: [domain a.example]: "
	  "target_dav_url 'http://new/a\"b': a character a URL must not hold "
	  "(space, quote, control, non-ASCII) (known: %u the full address, %n "
	  "the local part, %d the domain, %% a %)" },
	{ DOM_A "migrate_dav = yes\nsource_dav_url = https://dav/\n"
	  "target_dav_url = http://new/\nsource_auth = xoauth2\n"
	  "source_oauth2_token_command = /t\n", "t.conf:1: [domain a.example]: "
	  "migrate_dav = yes with source_auth = xoauth2 needs target_dav_admin_user "
	  "(OLD's DAV server is asked with a token; there is no user password for "
	  "NEW's)" },
	/* target_dav_admin_user */
	{ DOM_A "migrate_dav = yes\nsource_dav_url = https://dav/%u/\n"
	  "target_dav_url = https://new/%u/\ntarget_dav_admin_user = adm\n",
	  "t.conf:1: [domain a.example]: target_dav_admin_user and "
	  "target_dav_admin_password_file go together" },
	{ DOM_A "migrate_dav = yes\nsource_dav_url = https://dav/%u/\n"
	  "target_dav_url = https://new/\ntarget_dav_admin_user = adm\n"
	  "target_dav_admin_password_file = /etc/p\n", "t.conf:1: [domain "
	  "a.example]: target_dav_admin_user needs target_dav_url to be each "
	  "user's home (%u or %n in it): the administrator's login finds no "
	  "user's home" },
	/* public_folders_account */
	{ DOM_A "migrate_shared = yes\npublic_folders_account = p@a.example\n",
	  "t.conf:1: [domain a.example]: public_folders_account needs "
	  "public_folders_login" },
	{ DOM_A "migrate_shared = yes\npublic_folders_login = ann@a.example\n",
	  "t.conf:1: [domain a.example]: public_folders_login needs "
	  "public_folders_account" },
	{ DOM_A "migrate_shared = yes\npublic_folders_account = p@b.example\n"
	  "public_folders_login = ann@a.example\n", "t.conf:1: [domain "
	  "a.example]: public_folders_account 'p@b.example': not an address in "
	  "this domain" },
	{ DOM_A "migrate_shared = yes\npublic_folders_account = p@a.example\n"
	  "public_folders_login = ann\n", "t.conf:1: [domain a.example]: "
	  "public_folders_login 'ann': not an address in this domain" },
	{ DOM_A "migrate_shared = yes\npublic_folders_account = P@a.example\n"
	  "public_folders_login = p@a.example\n", "t.conf:1: [domain a.example]: "
	  "public_folders_account is an account of NEW that holds no user's mail; "
	  "public_folders_login the user whose session on OLD shows the public "
	  "folders: not the same" },
	{ DOM_A "public_folders_account = p@a.example\n"
	  "public_folders_login = ann@a.example\n", "t.conf:1: [domain "
	  "a.example]: public_folders_account needs migrate_shared = yes" },
	{ DOM_A "migrate_shared = yes\nsource_protocols = pop3\n"
	  "public_folders_account = p@a.example\npublic_folders_login = "
	  "ann@a.example\n", "t.conf:1: [domain a.example]: "
	  "public_folders_account needs IMAP from OLD (source_protocols)" },
};

START_TEST(test_errors)
{
	load_fails(error_cases[_i].text, error_cases[_i].error);
}
END_TEST

/* Things that look odd but are fine. */
START_TEST(test_accepted_forms)
{
	struct cfg *cfg = load_ok(
		"workers=5# five\n"
		"  max_message_size  =  1G   \n"
		"default_domain = B.example\n"
		"\t[ domain  A.EXAMPLE ]  # first\n"
		"source_host = [2001:db8::25]:143\n"
		"bind_ip = 2001:db8:0::1\n"
		"folder_map = Old=New; Sent Items=Sent # two mappings\n"
		"[domain b.example]\n"
		"source_host = old.b.example:110\n"
		"relay_nexthop = relay:[smtp.b.example]:587\n"
		"source_tls_verify = no\n"
		"bind_ip = 192.0.2.7\n"
		"[domain c.example]\n"
		"type = standard\n"
		"login_action = notice\n"
		"notice_account = migrate@c.example\n");
	const struct cfg_domain *a, *b, *c;

	ck_assert_uint_eq(cfg->workers, 5);
	ck_assert_uint_eq(cfg->max_message_size, GB);
	ck_assert_str_eq(cfg->default_domain, "b.example");
	ck_assert_uint_eq(cfg->domains_count, 3);
	a = cfg_domain_find(cfg, "a.example");
	b = cfg_domain_find(cfg, "B.EXAMPLE");
	c = cfg_domain_find(cfg, "c.example");
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(a->line, 4);
	ck_assert_uint_eq(b->line, 8);
	ck_assert_uint_eq(c->line, 13);
	ck_assert_str_eq(a->relay_nexthop, "smtp:[2001:db8::25]:25");
	ck_assert_str_eq(a->bind_ip, "2001:db8::1");
	ck_assert_str_eq(a->folder_map, "Old=New; Sent Items=Sent");
	ck_assert_str_eq(b->relay_nexthop, "relay:[smtp.b.example]:587");
	ck_assert_str_eq(b->source_host, "old.b.example:110");
	ck_assert_int_eq(b->source_tls_verify, 0);
	ck_assert_int_eq(c->type, CFG_DOMAIN_STANDARD);
	ck_assert_ptr_null(c->source_host);
	ck_assert_ptr_null(c->relay_nexthop);
	ck_assert_int_eq(c->login_action, CFG_LOGIN_NOTICE);
	ck_assert_ptr_eq(cfg_domain_by_ip(cfg, "192.0.2.7"), b);
	ck_assert_ptr_eq(cfg_domain_by_ip(cfg, "2001:db8::1"), a);
	ck_assert_ptr_eq(cfg_domain_by_ip(cfg, "2001:DB8:0:0:0:0:0:1"), a);
	ck_assert_ptr_null(cfg_domain_by_ip(cfg, "192.0.2.8"));
	ck_assert_ptr_null(cfg_domain_by_ip(cfg, "garbage"));
	ck_assert_ptr_null(cfg_domain_find(cfg, "d.example"));
	cfg_free(&cfg);
}
END_TEST

/* The default next hop is the source host, without its port. */
START_TEST(test_default_nexthop)
{
	static const char *const hosts[][2] = {
		{ "192.168.176.120", "smtp:[192.168.176.120]:25" },
		{ "old.example.com:993", "smtp:[old.example.com]:25" },
		{ "[2001:db8::1]:143", "smtp:[2001:db8::1]:25" },
		{ "[old.example.com]", "smtp:[old.example.com]:25" },
	};
	char text[256];
	struct cfg *cfg;

	snprintf(text, sizeof(text), "[domain x.example]\nsource_host = %s\n",
		 hosts[_i][0]);
	cfg = load_ok(text);
	ck_assert_str_eq(cfg->domains[0].relay_nexthop, hosts[_i][1]);
	cfg_free(&cfg);
}
END_TEST

/* source_login: the name OLD knows, %u by default; cfg_login_name()
 * bounds what it gives. */
START_TEST(test_source_login)
{
	char buf[CFG_LOGIN_MAX + 1], text[1024], big[400];
	const char *error = NULL;
	struct cfg *cfg;

	cfg = load_ok(DOM_A "[domain b.example]\nsource_host = o\n"
		      "source_login = %n\n[domain c.example]\nsource_host = o\n"
		      "source_login = EX\\%n%%%d\n");
	ck_assert_str_eq(cfg->domains[0].source_login, "%u");
	ck_assert_int_eq(cfg_login_name(&cfg->domains[0], "ann@a.example", buf,
					sizeof(buf), &error), 0);
	ck_assert_str_eq(buf, "ann@a.example");
	ck_assert_int_eq(cfg_login_name(&cfg->domains[1], "ann@b.example", buf,
					sizeof(buf), &error), 0);
	ck_assert_str_eq(buf, "ann");
	ck_assert_int_eq(cfg_login_name(&cfg->domains[2], "ann@c.example", buf,
					sizeof(buf), &error), 0);
	ck_assert_str_eq(buf, "EX\\ann%c.example");
	cfg_free(&cfg);

	/* source_admin_login: auto by default; a template with %a. */
	cfg = load_ok(DOM_A "source_admin_user = mmadmin\nsource_login = %n\n"
		      "[domain b.example]\nsource_host = o\nsource_admin_user = adm\n"
		      "source_admin_login = template:EX\\%a\\%n\n"
		      "[domain c.example]\nsource_host = o\n"
		      "source_admin_login = star\n");
	ck_assert_int_eq(cfg->domains[0].source_admin_form, CFG_ADMIN_AUTO);
	ck_assert_int_eq(cfg->domains[1].source_admin_form, CFG_ADMIN_TEMPLATE);
	ck_assert_int_eq(cfg->domains[2].source_admin_form, CFG_ADMIN_STAR);
	ck_assert_int_eq(cfg_admin_login_name(&cfg->domains[0], "ann@a.example",
					      buf, sizeof(buf), &error), 0);
	ck_assert_str_eq(buf, "ann");
	ck_assert_int_eq(cfg_admin_login_name(&cfg->domains[1], "ann@b.example",
					      buf, sizeof(buf), &error), 0);
	ck_assert_str_eq(buf, "EX\\adm\\ann");
	cfg_free(&cfg);

	/* source_auth: password by default; OAuth with its command. */
	cfg = load_ok(DOM_A "[domain b.example]\nsource_host = o\n"
		      "source_auth = xoauth2\nsource_oauth2_token_command = "
		      "/usr/local/bin/token\n[domain c.example]\nsource_host = o\n"
		      "source_auth = oauthbearer\nsource_oauth2_token_command = /t\n");
	ck_assert_int_eq(cfg->domains[0].source_auth, CFG_AUTH_PASSWORD);
	ck_assert_ptr_null(cfg->domains[0].source_oauth2_token_command);
	ck_assert_int_eq(cfg->domains[1].source_auth, CFG_AUTH_XOAUTH2);
	ck_assert_str_eq(cfg->domains[1].source_oauth2_token_command,
			 "/usr/local/bin/token");
	ck_assert_int_eq(cfg->domains[2].source_auth, CFG_AUTH_OAUTHBEARER);
	cfg_free(&cfg);

	/* public_folders_account: read in public_folders_login's session,
	 * by source_login and the admin's template; both lowercased. */
	cfg = load_ok(DOM_A "source_login = %n\nmigrate_shared = yes\n"
		      "public_folders_account = Public@A.example\n"
		      "public_folders_login = ann@a.example\nsource_admin_user = adm\n"
		      "source_admin_login = template:%a/%n\n");
	ck_assert_str_eq(cfg->domains[0].public_folders_account, "public@a.example");
	ck_assert(cfg_is_public_account(&cfg->domains[0], "PUBLIC@a.example"));
	ck_assert(!cfg_is_public_account(&cfg->domains[0], "ann@a.example"));
	ck_assert_int_eq(cfg_login_name(&cfg->domains[0], "public@a.example", buf,
					sizeof(buf), &error), 0);
	ck_assert_str_eq(buf, "ann");
	ck_assert_int_eq(cfg_admin_login_name(&cfg->domains[0], "public@a.example",
					      buf, sizeof(buf), &error), 0);
	ck_assert_str_eq(buf, "adm/ann");
	ck_assert_int_eq(cfg_login_name(&cfg->domains[0], "bob@a.example", buf,
					sizeof(buf), &error), 0);
	ck_assert_str_eq(buf, "bob");
	cfg_free(&cfg);

	/* 310 bytes of text and the address: over CFG_LOGIN_MAX. */
	memset(big, 'x', 310);
	big[310] = '\0';
	snprintf(text, sizeof(text), DOM_A "source_login = %s%%u\n", big);
	cfg = load_ok(text);
	ck_assert_int_eq(cfg_login_name(&cfg->domains[0], "ann@a.example", buf,
					sizeof(buf), &error), -1);
	snprintf(text, sizeof(text), "ann@a.example: source_login '%s%%u' of "
		 "[domain a.example] gives too long a login name (at most 320 "
		 "bytes)", big);
	ck_assert_str_eq(error, text);
	cfg_free(&cfg);
}
END_TEST

/* default_domain needs no section while there are none; the same key
 * may appear once in each of several sections. */
START_TEST(test_default_domain_without_sections)
{
	struct cfg *cfg = load_ok("default_domain = lonely.example\n");

	ck_assert_str_eq(cfg->default_domain, "lonely.example");
	cfg_free(&cfg);
	cfg = load_ok(DOM_A "login_action = proxy\n" DOM_B "login_action = proxy\n");
	ck_assert_int_eq(cfg->domains[0].login_action, CFG_LOGIN_PROXY);
	ck_assert_int_eq(cfg->domains[1].login_action, CFG_LOGIN_PROXY);
	cfg_free(&cfg);
}
END_TEST

/* Text of n standard domains d0.example .. d<n-1>.example. */
static char *many_domains(size_t n)
{
	size_t size = n * 48 + 1, len = 0;
	char *text = mm_malloc(size);

	text[0] = '\0';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, size - len,
					"[domain d%zu.example]\ntype = standard\n", i);
	return text;
}

START_TEST(test_domain_limit)
{
	char *text = many_domains(CFG_MAX_DOMAINS);
	struct cfg *cfg = load_ok(text);
	char want[128];

	ck_assert_uint_eq(cfg->domains_count, CFG_MAX_DOMAINS);
	ck_assert_str_eq(cfg_domain_find(cfg, "d9999.example")->name,
			 "d9999.example");
	ck_assert_uint_eq(cfg_domain_find(cfg, "d9999.example")->line,
			  2 * CFG_MAX_DOMAINS - 1);
	cfg_free(&cfg);
	mm_free(&text);

	text = many_domains(CFG_MAX_DOMAINS + 1);
	snprintf(want, sizeof(want), "t.conf:%d: too many domains (limit %d)",
		 2 * CFG_MAX_DOMAINS + 1, CFG_MAX_DOMAINS);
	load_fails(text, want);
	mm_free(&text);
}
END_TEST

START_TEST(test_enum_names)
{
	ck_assert_str_eq(cfg_tls_name(CFG_TLS_NONE), "none");
	ck_assert_str_eq(cfg_tls_name(CFG_TLS_DETECT), "detect");
	ck_assert_str_eq(cfg_tls_name(CFG_TLS_STARTTLS), "starttls");
	ck_assert_str_eq(cfg_tls_name(CFG_TLS_DIRECT), "direct");
	ck_assert_str_eq(cfg_tls_name((enum cfg_tls)42), "unknown");
	ck_assert_str_eq(cfg_domain_type_name(CFG_DOMAIN_BACKUP), "backup");
	ck_assert_str_eq(cfg_domain_type_name(CFG_DOMAIN_STANDARD), "standard");
	ck_assert_str_eq(cfg_protocols_name(CFG_PROTO_BOTH), "both");
	ck_assert_str_eq(cfg_protocols_name(CFG_PROTO_IMAP), "imap");
	ck_assert_str_eq(cfg_protocols_name(CFG_PROTO_POP3), "pop3");
	ck_assert_str_eq(cfg_login_action_name(CFG_LOGIN_REJECT), "reject");
	ck_assert_str_eq(cfg_login_action_name(CFG_LOGIN_NOTICE), "notice");
	ck_assert_str_eq(cfg_login_action_name(CFG_LOGIN_PROXY), "proxy");
	ck_assert_str_eq(cfg_access_mode_name(CFG_ACCESS_USERNAME), "username");
	ck_assert_str_eq(cfg_access_mode_name(CFG_ACCESS_STANDARD), "standard");
	ck_assert_str_eq(cfg_access_mode_name(CFG_ACCESS_EXTENDED), "extended");
	ck_assert_str_eq(cfg_source_auth_name(CFG_AUTH_PASSWORD), "password");
	ck_assert_str_eq(cfg_source_auth_name(CFG_AUTH_XOAUTH2), "xoauth2");
	ck_assert_str_eq(cfg_source_auth_name(CFG_AUTH_OAUTHBEARER), "oauthbearer");
}
END_TEST

static Suite *cfg_suite(void)
{
	Suite *s = suite_create("cfg");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_source_login);
	tcase_add_test(tc, test_empty_means_default);
	tcase_add_test(tc, test_design_example);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_load_missing_file);
	tcase_add_test(tc, test_load_nul_byte);
	tcase_add_loop_test(tc, test_load_long_lines, 0, 3);
	tcase_add_test(tc, test_string_long_lines);
	tcase_add_test(tc, test_cfg_path);
	tcase_add_loop_test(tc, test_parse_size, 0,
			    sizeof(size_cases) / sizeof(size_cases[0]));
	tcase_add_loop_test(tc, test_values, 0,
			    sizeof(value_cases) / sizeof(value_cases[0]));
	tcase_add_loop_test(tc, test_errors, 0,
			    sizeof(error_cases) / sizeof(error_cases[0]));
	tcase_add_test(tc, test_accepted_forms);
	tcase_add_loop_test(tc, test_default_nexthop, 0, 4);
	tcase_add_test(tc, test_default_domain_without_sections);
	tcase_add_test(tc, test_domain_limit);
	tcase_add_test(tc, test_enum_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cfg_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
