/*
 * NAME
 *	cfg 3
 * SUMMARY
 *	the mailmigrate.conf parser
 * DESCRIPTION
 *	Every key is one row of a table (name, type, offset into struct
 *	cfg or struct cfg_domain, default text, range, enum names), so
 *	defaults, parsing, checking and freeing are all driven by the
 *	same rows and cannot drift apart. Defaults are parsed with the
 *	same code as file values; a default that does not parse is a
 *	panic.
 *
 *	cfg_load() reads the file through linereader(3), so an over-long
 *	line is refused before it is read whole; cfg_load_string() cuts a
 *	string into lines with the same limit. Both feed one parsing
 *	core, cfg_parse_line(), and end with the same cross-checks,
 *	cfg_parse_finish().
 *
 *	Comments: the first '#' on a line starts a comment, wherever it
 *	is, so no value can hold a '#'. None needs one: paths, host
 *	names, addresses and folder names as used here do not contain it.
 * DIAGNOSTICS
 *	Every error is one line, "FILE:LINE: text", kept as error(3h)
 *	says. Text from the file is shown escaped and truncated
 *	(log_printable()).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cfg.h"
#include "error.h"
#include "linereader.h"
#include "log.h"
#include "mm_alloc.h"

/* How a value is checked and stored. */
enum cfg_type {
	CFG_STRING,	/* char *: any text without control characters */
	CFG_WORD,	/* char *: printable, no white space */
	CFG_PATH,	/* char *: absolute path */
	CFG_HOSTPORT,	/* char *: host[:port], [v6addr][:port] */
	CFG_LISTEN,	/* char *: unix:/PATH or inet:HOST:PORT */
	CFG_INET_LISTEN, /* char *: inet:ADDRESS:PORT, a numeric address */
	CFG_NEXTHOP,	/* char *: transport:[host]:port */
	CFG_DOMAIN,	/* char *: domain name, stored lowercased */
	CFG_IP,		/* char *: IPv4 or IPv6 address, normalized */
	CFG_BOOL,	/* int: yes/no/true/false/1/0 */
	CFG_UINT,	/* unsigned: min..max */
	CFG_COUNT,	/* uint64_t: min..max, no suffix */
	CFG_SIZE,	/* uint64_t: K/M/G suffix, min..max */
	CFG_ENUM,	/* int-sized enum: one of names */
};

struct cfg_enum_name {
	const char *name;
	int value;
};

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t offset;		/* into struct cfg or struct cfg_domain */
	const char *def;	/* default as file text; NULL: none */
	uint64_t min, max;	/* CFG_UINT, CFG_COUNT, CFG_SIZE */
	const struct cfg_enum_name *names;	/* CFG_ENUM */
	const char *hint;	/* added to a "bad value" error */
};

/* Enum fields are written through int *: make sure that is their size. */
_Static_assert(sizeof(enum cfg_tls) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_domain_type) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_protocols) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_login_action) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_access_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_target_driver) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_target_fsync) == sizeof(int), "enum size");

static const struct cfg_enum_name cfg_tls_names[] = {
	{ "none", CFG_TLS_NONE },
	{ "detect", CFG_TLS_DETECT },
	{ "starttls", CFG_TLS_STARTTLS },
	{ "direct", CFG_TLS_DIRECT },
	{ NULL, 0 },
};

/* The NEW server is ours: its TLS is known, never guessed. */
static const struct cfg_enum_name cfg_target_tls_names[] = {
	{ "none", CFG_TLS_NONE },
	{ "starttls", CFG_TLS_STARTTLS },
	{ "direct", CFG_TLS_DIRECT },
	{ NULL, 0 },
};

static const struct cfg_enum_name cfg_target_driver_names[] = {
	{ "imap", CFG_TARGET_IMAP },
	{ "dovecot", CFG_TARGET_DOVECOT },
	{ NULL, 0 },
};

static const struct cfg_enum_name cfg_target_fsync_names[] = {
	{ "batch", CFG_FSYNC_BATCH },
	{ "message", CFG_FSYNC_MESSAGE },
	{ NULL, 0 },
};

static const struct cfg_enum_name cfg_domain_type_names[] = {
	{ "backup", CFG_DOMAIN_BACKUP },
	{ "standard", CFG_DOMAIN_STANDARD },
	{ NULL, 0 },
};

static const struct cfg_enum_name cfg_protocols_names[] = {
	{ "both", CFG_PROTO_BOTH },
	{ "imap", CFG_PROTO_IMAP },
	{ "pop3", CFG_PROTO_POP3 },
	{ NULL, 0 },
};

static const struct cfg_enum_name cfg_login_action_names[] = {
	{ "reject", CFG_LOGIN_REJECT },
	{ "notice", CFG_LOGIN_NOTICE },
	{ "proxy", CFG_LOGIN_PROXY },
	{ NULL, 0 },
};

static const struct cfg_enum_name cfg_access_mode_names[] = {
	{ "username", CFG_ACCESS_USERNAME },
	{ "standard", CFG_ACCESS_STANDARD },
	{ "extended", CFG_ACCESS_EXTENDED },
	{ NULL, 0 },
};

static const struct cfg_enum_name cfg_source_auth_names[] = {
	{ "password", CFG_AUTH_PASSWORD },
	{ "xoauth2", CFG_AUTH_XOAUTH2 },
	{ "oauthbearer", CFG_AUTH_OAUTHBEARER },
	{ NULL, 0 },
};

#define CFG_K 1024ULL
#define CFG_M (1024ULL * 1024)
#define CFG_G (1024ULL * 1024 * 1024)

#define GKEY(field, ktype, kdef, ...) { .name = #field, .type = (ktype), \
	.offset = offsetof(struct cfg, field), .def = (kdef), __VA_ARGS__ }
#define DKEY(field, ktype, kdef, ...) { .name = #field, .type = (ktype), \
	.offset = offsetof(struct cfg_domain, field), .def = (kdef), __VA_ARGS__ }

/* Keys before the first [domain] section. */
static const struct cfg_key cfg_global_keys[] = {
	GKEY(state_dir, CFG_PATH, "/var/lib/mailmigrate"),
	GKEY(store, CFG_STRING, NULL),	/* NULL: "lmdb:" state_dir */
	GKEY(store_password_file, CFG_PATH, NULL),
	GKEY(key_file, CFG_PATH, "/etc/mailmigrate/secret.key"),
	GKEY(public_key_file, CFG_PATH, NULL),	/* NULL: key_file ".pub" */
	GKEY(log_file, CFG_PATH, NULL),
	GKEY(run_user, CFG_WORD, NULL),		/* NULL: stay as started */
	GKEY(run_group, CFG_WORD, NULL),	/* NULL: run_user's group */
	GKEY(workers, CFG_UINT, "2", .min = 1, .max = 64),
	GKEY(split_min_messages, CFG_UINT, "2000", .min = 0, .max = 1000000000),
	GKEY(max_bytes_per_second, CFG_SIZE, "0", .min = 0, .max = UINT64_MAX),
	GKEY(max_message_size, CFG_SIZE, "100M", .min = 1, .max = UINT64_MAX),
	GKEY(post_migrate_script, CFG_PATH, NULL),
	GKEY(target_driver, CFG_ENUM, "imap", .names = cfg_target_driver_names),
	GKEY(target_doveadm, CFG_PATH, "/usr/bin/doveadm"),
	GKEY(target_fsync, CFG_ENUM, "batch", .names = cfg_target_fsync_names),
	GKEY(target_host, CFG_HOSTPORT, "127.0.0.1:143"),
	GKEY(target_tls, CFG_ENUM, "none", .names = cfg_target_tls_names,
	     .hint = "detect is only for source_tls, the NEW server's TLS is known"),
	GKEY(target_master_user, CFG_WORD, "mailmigrate"),
	GKEY(target_master_password_file, CFG_PATH, "/etc/mailmigrate/master.pass"),
	GKEY(target_sieve_host, CFG_HOSTPORT, NULL),	/* NULL: target_host:4190 */
	GKEY(max_sieve_script_size, CFG_SIZE, "8M", .min = 1, .max = 1024ULL * 1024 * 1024),
	GKEY(max_dav_item_size, CFG_SIZE, "20M", .min = 1, .max = 1024ULL * 1024 * 1024),
	GKEY(relay_listen, CFG_LISTEN, "unix:/run/mailmigrate/relay.sock"),
	GKEY(relay_socket_group, CFG_WORD, "postfix"),
	/* NULL: no metrics served (mailmigrated; the relay's own key, as
	 * both daemons read one file and run on one host) */
	GKEY(metrics_listen, CFG_INET_LISTEN, NULL),
	GKEY(relay_metrics_listen, CFG_INET_LISTEN, NULL),
	GKEY(relay_idle_timeout, CFG_UINT, "60", .min = 1, .max = 86400),
	GKEY(relay_request_timeout, CFG_UINT, "10", .min = 1, .max = 3600),
	GKEY(relay_max_clients, CFG_UINT, "2000", .min = 1, .max = 1000000),
	/* "auto": 5 on PostgreSQL, 0 (off) on LMDB (cfg_parse_finish) */
	GKEY(relay_cache_ttl, CFG_UINT, "5", .min = 0, .max = 3600),
	GKEY(relay_cache_size, CFG_UINT, "65536", .min = 1, .max = 1000000),
	GKEY(default_domain, CFG_DOMAIN, NULL),
	GKEY(user_home, CFG_PATH, "/var/vmail/%d/%n"),
	GKEY(user_mail, CFG_WORD, "maildir:~/Maildir"),
	GKEY(user_uid, CFG_WORD, "vmail"),
	GKEY(user_gid, CFG_WORD, "vmail"),
	GKEY(store_max_size, CFG_SIZE, "4G", .min = CFG_M, .max = UINT64_MAX),
	GKEY(event_log_max, CFG_COUNT, "100000", .min = 1, .max = UINT64_MAX),
	GKEY(auth_source_timeout, CFG_UINT, "15", .min = 1, .max = 300),
	GKEY(auth_rate_window, CFG_UINT, "60", .min = 1, .max = 86400),
	GKEY(auth_rate_user, CFG_UINT, "10", .min = 0, .max = 1000000),
	GKEY(auth_rate_ip, CFG_UINT, "30", .min = 0, .max = 1000000),
	GKEY(auth_negative_ttl, CFG_UINT, "300", .min = 0, .max = 86400),
	GKEY(target_lmtp, CFG_LISTEN, "unix:/run/dovecot/lmtp"),
	GKEY(target_doveadm_config, CFG_PATH, NULL),
	GKEY(postfix_config_dir, CFG_PATH, "/etc/postfix"),
	GKEY(connect_timeout, CFG_UINT, "30", .min = 1, .max = 3600),
	GKEY(io_timeout, CFG_UINT, "120", .min = 1, .max = 86400),
	GKEY(max_worker_deaths, CFG_UINT, "3", .min = 1, .max = 1000),
};

/* Keys inside a [domain NAME] section. */
static const struct cfg_key cfg_domain_keys[] = {
	DKEY(type, CFG_ENUM, "backup", .names = cfg_domain_type_names),
	DKEY(source_host, CFG_HOSTPORT, NULL),
	DKEY(source_protocols, CFG_ENUM, "both", .names = cfg_protocols_names),
	DKEY(source_tls, CFG_ENUM, "detect", .names = cfg_tls_names),
	DKEY(source_tls_verify, CFG_BOOL, "yes"),
	DKEY(source_tls_ca_file, CFG_PATH, NULL),
	DKEY(source_login, CFG_WORD, "%u"),
	DKEY(source_admin_user, CFG_WORD, NULL),
	DKEY(source_admin_password_file, CFG_PATH, NULL),
	DKEY(source_admin_login, CFG_STRING, "auto"),
	DKEY(source_auth, CFG_ENUM, "password", .names = cfg_source_auth_names),
	DKEY(source_oauth2_token_command, CFG_PATH, NULL),
	DKEY(login_action, CFG_ENUM, "reject", .names = cfg_login_action_names),
	DKEY(notice_account, CFG_WORD, NULL),
	DKEY(notice_message, CFG_PATH, NULL),
	DKEY(access_mode, CFG_ENUM, "username", .names = cfg_access_mode_names),
	DKEY(passwords_only, CFG_BOOL, "no"),
	DKEY(bind_ip, CFG_IP, NULL),
	DKEY(relay_nexthop, CFG_NEXTHOP, NULL),	/* empty: from source_host */
	DKEY(exclude_folders, CFG_STRING, NULL),
	DKEY(folder_map, CFG_STRING, NULL),
	DKEY(source_mx_names, CFG_STRING, NULL),
	DKEY(migrate_sieve, CFG_BOOL, "no"),
	DKEY(migrate_shared, CFG_BOOL, "no"),
	DKEY(public_folders_account, CFG_WORD, NULL),
	DKEY(public_folders_login, CFG_WORD, NULL),
	DKEY(source_sieve_port, CFG_UINT, "4190", .min = 1, .max = 65535),
	DKEY(migrate_dav, CFG_BOOL, "no"),
	DKEY(source_dav_url, CFG_STRING, NULL),
	DKEY(target_dav_url, CFG_STRING, NULL),
	DKEY(target_dav_admin_user, CFG_WORD, NULL),
	DKEY(target_dav_admin_password_file, CFG_PATH, NULL),
};

#define CFG_NKEYS(table) (sizeof(table) / sizeof((table)[0]))
#define CFG_NONE ((size_t)-1)
#define CFG_SHOW_MAX 100	/* bytes of file text quoted in an error */
#define CFG_HOST_MAX 253

/* Parser state shared by cfg_load() and cfg_load_string(). */
struct cfg_parser {
	struct cfg *cfg;
	const char *name;	/* file name for messages */
	size_t cur;		/* current domain index, CFG_NONE: global */
	size_t domains_alloc;
	size_t *sorted;		/* domain indices sorted by name */
	const char *error;	/* the failure, error(3h) */
	unsigned long global_seen[CFG_NKEYS(cfg_global_keys)];
	unsigned long domain_seen[CFG_NKEYS(cfg_domain_keys)];
};

/* Quote untrusted text for a message: escaped, truncated, in buf. */
static const char *cfg_show(char *buf, size_t bufsize, const char *text)
{
	return log_printable(buf, bufsize, text, strlen(text));
}

/* The failure: "NAME:LINE: text" (error(3h)); returns -1. */
static int __attribute__((format(printf, 3, 4)))
cfg_fail(struct cfg_parser *p, unsigned long line, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->error = error_setf("%s:%lu: %s", p->name, line, msg);
	return -1;
}

/* Set the reason for a bad value (error(3h)); returns -1. */
static int __attribute__((format(printf, 2, 3)))
cfg_bad(const char **reason_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	*reason_r = error_vsetf(fmt, ap);
	va_end(ap);
	return -1;
}

/* Point to the field a key describes inside obj. */
static void *cfg_field(const struct cfg_key *key, void *obj)
{
	return (char *)obj + key->offset;
}

/* Is the field a char * owned by the configuration? (The string
 * types come first in enum cfg_type.) */
static int cfg_type_is_string(enum cfg_type type)
{
	return type <= CFG_IP;
}

/* The key called name in table, or NULL. */
static const struct cfg_key *cfg_key_find(const struct cfg_key *table, size_t n,
					  const char *name, size_t *idx_r)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(table[i].name, name) == 0) {
			*idx_r = i;
			return &table[i];
		}
	}
	return NULL;
}

/* Find the first control byte (TAB allowed when allow_tab). */
static const char *cfg_find_control(const char *text, int allow_tab)
{
	for (const char *s = text; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c < 0x20 && !(allow_tab && c == '\t')) || c == 0x7f)
			return s;
	}
	return NULL;
}

/* Check a DNS name: letters, digits, '-', '.', labels of 1..63 bytes,
 * at most 253 bytes. Copies it, lowercased if lower, into out. */
static int cfg_check_dnsname(const char *text, int lower, char *out,
			     size_t outsize, const char **reason_r)
{
	size_t len = strlen(text), label = 0;
	char show[8];

	if (len == 0)
		return cfg_bad(reason_r, "empty name");
	if (len > CFG_HOST_MAX || len >= outsize)
		return cfg_bad(reason_r, "name longer than %d bytes", CFG_HOST_MAX);
	for (size_t i = 0; i <= len; i++) {
		char c = text[i];

		if (c == '.' || c == '\0') {
			if (label == 0)
				return cfg_bad(reason_r, "empty label in name");
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '-') {
			if (++label > 63)
				return cfg_bad(reason_r,
					       "label longer than 63 bytes in name");
		} else {
			return cfg_bad(reason_r, "character '%s' not allowed in name "
				       "(letters, digits, '-' and '.' only)",
				       log_printable(show, sizeof(show), &c, 1));
		}
		if (lower && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		out[i] = c;
	}
	return 0;
}

/* Parse a decimal port 1..65535. */
static int cfg_check_port(const char *text, unsigned *port_r,
			  const char **reason_r)
{
	unsigned long port = 0;
	size_t i;

	if (*text == '\0')
		return cfg_bad(reason_r, "missing port after ':'");
	for (i = 0; text[i] != '\0'; i++) {
		if (text[i] < '0' || text[i] > '9' || i >= 5)
			return cfg_bad(reason_r, "port must be a number 1..65535");
		port = port * 10 + (unsigned long)(text[i] - '0');
	}
	if (port < 1 || port > 65535)
		return cfg_bad(reason_r, "port must be a number 1..65535");
	*port_r = (unsigned)port;
	return 0;
}

/* Split and check host[:port] or [address-or-host][:port].
 * The bare host (no brackets) goes to host (size CFG_HOST_MAX + 1);
 * *port_r is 0 when no port was given. */
static int cfg_check_hostport(const char *text, int port_required,
			      char *host, unsigned *port_r,
			      const char **reason_r)
{
	char buf[CFG_HOST_MAX + 1];
	const char *port = NULL, *colon;
	size_t hlen;

	*port_r = 0;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL)
			return cfg_bad(reason_r, "missing ']'");
		hlen = (size_t)(close - text - 1);
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return cfg_bad(reason_r, "expected ':PORT' after ']'");
		text++;
	} else {
		colon = strchr(text, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			return cfg_bad(reason_r, "an IPv6 address must be in "
				       "brackets: [ADDRESS]:PORT");
		hlen = colon != NULL ? (size_t)(colon - text) : strlen(text);
		if (colon != NULL)
			port = colon + 1;
	}
	if (hlen == 0)
		return cfg_bad(reason_r, "missing host");
	if (hlen > CFG_HOST_MAX)
		return cfg_bad(reason_r, "host longer than %d bytes", CFG_HOST_MAX);
	memcpy(buf, text, hlen);
	buf[hlen] = '\0';
	if (strchr(buf, ':') != NULL) {
		struct in6_addr a6;

		if (inet_pton(AF_INET6, buf, &a6) != 1)
			return cfg_bad(reason_r, "bad IPv6 address in brackets");
		memcpy(host, buf, hlen + 1);
	} else if (cfg_check_dnsname(buf, 0, host, CFG_HOST_MAX + 1,
				     reason_r) < 0) {
		return -1;
	}
	if (port != NULL)
		return cfg_check_port(port, port_r, reason_r);
	if (port_required)
		return cfg_bad(reason_r, "missing ':PORT'");
	return 0;
}

/* Check "unix:/abs/path" or "inet:HOST:PORT". */
static int cfg_check_listen(const char *text, const char **reason_r)
{
	char host[CFG_HOST_MAX + 1];
	unsigned port;

	if (strncmp(text, "unix:", 5) == 0) {
		const char *path = text + 5;
		struct sockaddr_un sun;

		if (path[0] != '/')
			return cfg_bad(reason_r, "unix: needs an absolute path");
		if (strlen(path) >= sizeof(sun.sun_path))
			return cfg_bad(reason_r, "socket path longer than %zu bytes",
				       sizeof(sun.sun_path) - 1);
		if (strchr(path, ' ') != NULL || strchr(path, '\t') != NULL)
			return cfg_bad(reason_r, "white space in socket path");
		return 0;
	}
	if (strncmp(text, "inet:", 5) == 0)
		return cfg_check_hostport(text + 5, 1, host, &port, reason_r);
	return cfg_bad(reason_r, "expected unix:/PATH or inet:HOST:PORT");
}

/* Check "inet:ADDRESS:PORT" with a numeric address: a listener that
 * must not depend on name resolution (metrics_listen). */
static int cfg_check_inet_listen(const char *text, const char **reason_r)
{
	char host[CFG_HOST_MAX + 1];
	struct in6_addr a6;
	struct in_addr a4;
	unsigned port;

	if (strncmp(text, "inet:", 5) != 0)
		return cfg_bad(reason_r, "expected inet:ADDRESS:PORT, e.g. "
			       "inet:127.0.0.1:9310 (empty: off)");
	if (cfg_check_hostport(text + 5, 1, host, &port, reason_r) < 0)
		return -1;
	if (inet_pton(AF_INET, host, &a4) != 1 && inet_pton(AF_INET6, host, &a6) != 1)
		return cfg_bad(reason_r, "the address must be numeric (IPv4, or "
			       "IPv6 in brackets), not a host name");
	return 0;
}

/* Check "transport:destination" as in Postfix transport(5). */
static int cfg_check_nexthop(const char *text, const char **reason_r)
{
	char host[CFG_HOST_MAX + 1];
	const char *colon = strchr(text, ':');
	unsigned port;

	if (colon == NULL || colon == text || text[0] == '[')
		return cfg_bad(reason_r, "expected TRANSPORT:[HOST]:PORT, "
			       "like smtp:[192.0.2.1]:25");
	for (const char *s = text; s < colon; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		      *s == '.'))
			return cfg_bad(reason_r, "bad character in transport name");
	}
	return cfg_check_hostport(colon + 1, 0, host, &port, reason_r);
}

/* Parse a decimal uint64_t, overflow-checked. */
static int cfg_parse_u64(const char *text, uint64_t *value_r, size_t *used_r)
{
	uint64_t value = 0;
	size_t i;

	for (i = 0; text[i] >= '0' && text[i] <= '9'; i++) {
		unsigned digit = (unsigned)(text[i] - '0');

		if (value > (UINT64_MAX - digit) / 10)
			return -1;
		value = value * 10 + digit;
	}
	*value_r = value;
	*used_r = i;
	return 0;
}

/* "123", "64K", "100M", "4G" (powers of 1024) into *value_r. */
int cfg_parse_size(const char *text, uint64_t *value_r, const char **error_r)
{
	char show[CFG_SHOW_MAX];
	uint64_t value, mult;
	size_t used;

	if (*text == '\0') {
		*error_r = "empty size";
		return -1;
	}
	if (cfg_parse_u64(text, &value, &used) < 0) {
		*error_r = "size too large";
		return -1;
	}
	if (used == 0) {
		return error_failf(error_r, "'%s' is not a size (use a "
				   "number with an optional K, M or G)",
				   cfg_show(show, sizeof(show), text));
	}
	switch (text[used]) {
	case '\0':
		mult = 1;
		break;
	case 'k': case 'K':
		mult = CFG_K;
		break;
	case 'm': case 'M':
		mult = CFG_M;
		break;
	case 'g': case 'G':
		mult = CFG_G;
		break;
	default:
		mult = 0;
		break;
	}
	if (mult == 0 || (mult > 1 && text[used + 1] != '\0')) {
		return error_failf(error_r, "bad size suffix '%s' (use K, M "
				   "or G)", cfg_show(show, sizeof(show), text + used));
	}
	if (value > UINT64_MAX / mult) {
		*error_r = "size too large";
		return -1;
	}
	*value_r = value * mult;
	return 0;
}

/* Check a range for UINT, COUNT and SIZE keys. */
static int cfg_check_range(const struct cfg_key *key, uint64_t value,
			   const char **reason_r)
{
	if (value < key->min || value > key->max) {
		if (key->max == UINT64_MAX)
			return cfg_bad(reason_r, "%" PRIu64 " is less than %" PRIu64,
				       value, key->min);
		return cfg_bad(reason_r, "%" PRIu64 " is not in %" PRIu64 "..%"
			       PRIu64, value, key->min, key->max);
	}
	return 0;
}

/* Parse a number without suffix and check its range. */
static int cfg_check_number(const struct cfg_key *key, const char *text,
			    uint64_t *value_r, const char **reason_r)
{
	char show[CFG_SHOW_MAX];
	size_t used;

	if (cfg_parse_u64(text, value_r, &used) < 0)
		return cfg_bad(reason_r, "number too large");
	if (used == 0 || text[used] != '\0')
		return cfg_bad(reason_r, "'%s' is not a number",
			       cfg_show(show, sizeof(show), text));
	return cfg_check_range(key, *value_r, reason_r);
}

/* Match text against an enum's names, ignoring case. */
static int cfg_check_enum(const struct cfg_key *key, const char *text,
			  int *value_r, const char **reason_r)
{
	char show[CFG_SHOW_MAX], list[200];
	size_t off = 0;

	for (const struct cfg_enum_name *n = key->names; n->name != NULL; n++) {
		if (strcasecmp(n->name, text) == 0) {
			*value_r = n->value;
			return 0;
		}
	}
	list[0] = '\0';
	for (const struct cfg_enum_name *n = key->names; n->name != NULL; n++) {
		int len = snprintf(list + off, sizeof(list) - off, "%s%s",
				   off == 0 ? "" : ", ", n->name);

		if (len < 0 || (size_t)len >= sizeof(list) - off)
			break;
		off += (size_t)len;
	}
	return cfg_bad(reason_r, "'%s' is not one of: %s",
		       cfg_show(show, sizeof(show), text), list);
}

/* Check a string-typed value; the normalized copy goes to *out_r. */
static int cfg_check_string(const struct cfg_key *key, const char *text,
			    char **out_r, const char **reason_r)
{
	char host[CFG_HOST_MAX + 1];
	unsigned port;

	if (cfg_find_control(text, key->type == CFG_STRING ||
			     key->type == CFG_PATH) != NULL)
		return cfg_bad(reason_r, "control character in value");
	switch (key->type) {
	case CFG_STRING:
		break;
	case CFG_WORD:
		if (strchr(text, ' ') != NULL)
			return cfg_bad(reason_r, "white space in value");
		break;
	case CFG_PATH:
		if (text[0] != '/')
			return cfg_bad(reason_r, "not an absolute path "
				       "(it must start with '/')");
		if (strchr(text, '\t') != NULL)
			return cfg_bad(reason_r, "TAB in path");
		break;
	case CFG_HOSTPORT:
		if (cfg_check_hostport(text, 0, host, &port, reason_r) < 0)
			return -1;
		break;
	case CFG_LISTEN:
		if (cfg_check_listen(text, reason_r) < 0)
			return -1;
		break;
	case CFG_INET_LISTEN:
		if (cfg_check_inet_listen(text, reason_r) < 0)
			return -1;
		break;
	case CFG_NEXTHOP:
		if (cfg_check_nexthop(text, reason_r) < 0)
			return -1;
		break;
	case CFG_DOMAIN:
		if (cfg_check_dnsname(text, 1, host, sizeof(host), reason_r) < 0)
			return -1;
		*out_r = mm_strdup(host);
		return 0;
	case CFG_IP: {
		char norm[INET6_ADDRSTRLEN];
		struct in6_addr a6;
		struct in_addr a4;

		if (inet_pton(AF_INET, text, &a4) == 1)
			inet_ntop(AF_INET, &a4, norm, sizeof(norm));
		else if (inet_pton(AF_INET6, text, &a6) == 1)
			inet_ntop(AF_INET6, &a6, norm, sizeof(norm));
		else
			return cfg_bad(reason_r, "not an IPv4 or IPv6 address");
		*out_r = mm_strdup(norm);
		return 0;
	}
	default:
		log_panic("cfg_check_string: key %s has type %d", key->name,
			  (int)key->type);
	}
	*out_r = mm_strdup(text);
	return 0;
}

/* Store text (NULL or "": the key's default) into the field of obj. */
static int cfg_set(const struct cfg_key *key, void *obj, const char *text,
		   const char **reason_r)
{
	void *field = cfg_field(key, obj);
	uint64_t num;
	int val;

	if (text == NULL || *text == '\0')
		text = key->def;
	if (cfg_type_is_string(key->type)) {
		char *copy = NULL;

		if (text != NULL && cfg_check_string(key, text, &copy, reason_r) < 0)
			return -1;
		mm_free((char **)field);
		*(char **)field = copy;
		return 0;
	}
	if (text == NULL)
		log_panic("cfg: key %s has no default", key->name);
	switch (key->type) {
	case CFG_BOOL:
		if (strcasecmp(text, "yes") == 0 || strcasecmp(text, "true") == 0 ||
		    strcmp(text, "1") == 0)
			*(int *)field = 1;
		else if (strcasecmp(text, "no") == 0 ||
			 strcasecmp(text, "false") == 0 || strcmp(text, "0") == 0)
			*(int *)field = 0;
		else
			return cfg_bad(reason_r, "expected yes or no");
		return 0;
	case CFG_UINT:
		if (cfg_check_number(key, text, &num, reason_r) < 0)
			return -1;
		*(unsigned *)field = (unsigned)num;
		return 0;
	case CFG_COUNT:
		if (cfg_check_number(key, text, &num, reason_r) < 0)
			return -1;
		*(uint64_t *)field = num;
		return 0;
	case CFG_SIZE:
		if (cfg_parse_size(text, &num, reason_r) < 0 ||
		    cfg_check_range(key, num, reason_r) < 0)
			return -1;
		*(uint64_t *)field = num;
		return 0;
	case CFG_ENUM:
		if (cfg_check_enum(key, text, &val, reason_r) < 0)
			return -1;
		*(int *)field = val;
		return 0;
	default:
		log_panic("cfg_set: key %s has type %d", key->name, (int)key->type);
	}
}

/* Apply every default of a table to obj. */
static void cfg_set_defaults(const struct cfg_key *table, size_t n, void *obj)
{
	const char *reason;

	for (size_t i = 0; i < n; i++)
		if (cfg_set(&table[i], obj, NULL, &reason) < 0)
			log_panic("cfg: bad default for %s: %s", table[i].name,
				  reason);
}

/* Free the strings a table describes in obj. */
static void cfg_free_fields(const struct cfg_key *table, size_t n, void *obj)
{
	for (size_t i = 0; i < n; i++)
		if (cfg_type_is_string(table[i].type))
			mm_free((char **)cfg_field(&table[i], obj));
}

/* The configuration file to read. */
const char *cfg_path(const char *cli_path)
{
	const char *env;

	if (cli_path != NULL)
		return cli_path;
	env = getenv("MAILMIGRATE_CONF");
	if (env != NULL && *env != '\0')
		return env;
	return CFG_DEFAULT_PATH;
}

/* A configuration with every default and no domains. */
struct cfg *cfg_new_defaults(void)
{
	struct cfg *cfg = mm_calloc(1, sizeof(*cfg));

	cfg_set_defaults(cfg_global_keys, CFG_NKEYS(cfg_global_keys), cfg);
	return cfg;
}

/* Free a configuration and everything it holds; NULL is fine. */
void cfg_free(struct cfg **cfgp)
{
	struct cfg *cfg = *cfgp;

	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->domains_count; i++) {
		struct cfg_domain *d = &cfg->domains[i];

		cfg_free_fields(cfg_domain_keys, CFG_NKEYS(cfg_domain_keys), d);
		mm_free(&d->name);
	}
	mm_free(&cfg->domains);
	cfg_free_fields(cfg_global_keys, CFG_NKEYS(cfg_global_keys), cfg);
	mm_free(&cfg->path);
	mm_free(cfgp);
}

int cfg_str_same(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

/* The [domain] section for name, ignoring case. */
const struct cfg_domain *cfg_domain_find(const struct cfg *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->domains_count; i++)
		if (strcasecmp(cfg->domains[i].name, name) == 0)
			return &cfg->domains[i];
	return NULL;
}

/* The section bound to ip; both sides are compared normalized. */
const struct cfg_domain *cfg_domain_by_ip(const struct cfg *cfg, const char *ip)
{
	char norm[INET6_ADDRSTRLEN];
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, ip, &a4) == 1)
		ip = inet_ntop(AF_INET, &a4, norm, sizeof(norm));
	else if (inet_pton(AF_INET6, ip, &a6) == 1)
		ip = inet_ntop(AF_INET6, &a6, norm, sizeof(norm));
	if (ip == NULL)
		return NULL;
	for (size_t i = 0; i < cfg->domains_count; i++)
		if (cfg->domains[i].bind_ip != NULL &&
		    strcmp(cfg->domains[i].bind_ip, ip) == 0)
			return &cfg->domains[i];
	return NULL;
}

/* The name of a value in an enum table. */
static const char *cfg_enum_name(const struct cfg_enum_name *names, int value)
{
	for (; names->name != NULL; names++)
		if (names->value == value)
			return names->name;
	return "unknown";
}

/* The configuration names of the enums, "unknown" for a stray value. */
const char *cfg_tls_name(enum cfg_tls tls)
{
	return cfg_enum_name(cfg_tls_names, (int)tls);
}

const char *cfg_domain_type_name(enum cfg_domain_type type)
{
	return cfg_enum_name(cfg_domain_type_names, (int)type);
}

const char *cfg_protocols_name(enum cfg_protocols protos)
{
	return cfg_enum_name(cfg_protocols_names, (int)protos);
}

const char *cfg_login_action_name(enum cfg_login_action action)
{
	return cfg_enum_name(cfg_login_action_names, (int)action);
}

const char *cfg_source_auth_name(enum cfg_source_auth auth)
{
	return cfg_enum_name(cfg_source_auth_names, (int)auth);
}

const char *cfg_target_driver_name(enum cfg_target_driver driver)
{
	return cfg_enum_name(cfg_target_driver_names, (int)driver);
}

const char *cfg_access_mode_name(enum cfg_access_mode mode)
{
	return cfg_enum_name(cfg_access_mode_names, (int)mode);
}

/* Strip spaces, TABs and CRs from both ends, in place. */
static char *cfg_trim(char *s)
{
	size_t len;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
			   s[len - 1] == '\r'))
		s[--len] = '\0';
	return s;
}

/* Binary search of the sorted domain index; *pos_r: where name goes. */
static int cfg_sorted_find(const struct cfg_parser *p, const char *name,
			   size_t *pos_r)
{
	size_t lo = 0, hi = p->cfg->domains_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(p->cfg->domains[p->sorted[mid]].name, name);

		if (cmp == 0) {
			*pos_r = mid;
			return 1;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos_r = lo;
	return 0;
}

/* Handle "[domain NAME]": start a new section. */
static int cfg_parse_section(struct cfg_parser *p, unsigned long lineno,
			     char *line)
{
	char name[CFG_HOST_MAX + 1], show[CFG_SHOW_MAX];
	struct cfg *cfg = p->cfg;
	struct cfg_domain *d;
	const char *reason;
	char *s = line + 1, *start, *end;
	size_t pos, idx;

	while (*s == ' ' || *s == '\t')
		s++;
	if (strncmp(s, "domain", 6) != 0 || (s[6] != ' ' && s[6] != '\t'))
		return cfg_fail(p, lineno, "malformed section header '%s' "
				"(expected [domain NAME])",
				cfg_show(show, sizeof(show), line));
	s += 6;
	while (*s == ' ' || *s == '\t')
		s++;
	start = s;
	while (*s != '\0' && *s != ']' && *s != ' ' && *s != '\t')
		s++;
	end = s;
	while (*s == ' ' || *s == '\t')
		s++;
	if (start == end || s[0] != ']' || s[1] != '\0')
		return cfg_fail(p, lineno, "malformed section header '%s' "
				"(expected [domain NAME])",
				cfg_show(show, sizeof(show), line));
	*end = '\0';
	if (cfg_check_dnsname(start, 1, name, sizeof(name), &reason) < 0)
		return cfg_fail(p, lineno, "bad domain name '%s' in section "
				"header: %s", cfg_show(show, sizeof(show), start),
				reason);
	if (cfg_sorted_find(p, name, &pos))
		return cfg_fail(p, lineno, "duplicate [domain %s] (first at line %u)",
				name, cfg->domains[p->sorted[pos]].line);
	if (cfg->domains_count >= CFG_MAX_DOMAINS)
		return cfg_fail(p, lineno, "too many domains (limit %d)",
				CFG_MAX_DOMAINS);
	if (cfg->domains_count == p->domains_alloc) {
		p->domains_alloc = p->domains_alloc == 0 ? 8 : p->domains_alloc * 2;
		if (p->domains_alloc > CFG_MAX_DOMAINS)
			p->domains_alloc = CFG_MAX_DOMAINS;
		cfg->domains = mm_reallocarray(cfg->domains, p->domains_alloc,
					       sizeof(*cfg->domains));
		p->sorted = mm_reallocarray(p->sorted, p->domains_alloc,
					    sizeof(*p->sorted));
	}
	idx = cfg->domains_count++;
	d = &cfg->domains[idx];
	memset(d, 0, sizeof(*d));
	d->name = mm_strdup(name);
	d->line = (unsigned)lineno;
	cfg_set_defaults(cfg_domain_keys, CFG_NKEYS(cfg_domain_keys), d);
	memmove(p->sorted + pos + 1, p->sorted + pos,
		(cfg->domains_count - 1 - pos) * sizeof(*p->sorted));
	p->sorted[pos] = idx;
	p->cur = idx;
	memset(p->domain_seen, 0, sizeof(p->domain_seen));
	return 0;
}

/* Handle "key = value" in the current section. */
static int cfg_parse_setting(struct cfg_parser *p, unsigned long lineno,
			     char *line)
{
	char show[CFG_SHOW_MAX];
	const struct cfg_key *table, *other, *key;
	size_t n, nother, idx;
	unsigned long *seen;
	const char *reason;
	char *eq = strchr(line, '='), *name, *value;
	void *obj;

	if (eq == NULL)
		return cfg_fail(p, lineno, "missing '=' in '%s' "
				"(expected key = value)",
				cfg_show(show, sizeof(show), line));
	*eq = '\0';
	name = cfg_trim(line);
	value = cfg_trim(eq + 1);
	if (*name == '\0')
		return cfg_fail(p, lineno, "missing key before '='");
	if (p->cur == CFG_NONE) {
		table = cfg_global_keys, n = CFG_NKEYS(cfg_global_keys);
		other = cfg_domain_keys, nother = CFG_NKEYS(cfg_domain_keys);
		seen = p->global_seen;
		obj = p->cfg;
	} else {
		table = cfg_domain_keys, n = CFG_NKEYS(cfg_domain_keys);
		other = cfg_global_keys, nother = CFG_NKEYS(cfg_global_keys);
		seen = p->domain_seen;
		obj = &p->cfg->domains[p->cur];
	}
	key = cfg_key_find(table, n, name, &idx);
	if (key == NULL) {
		if (cfg_key_find(other, nother, name, &idx) == NULL)
			return cfg_fail(p, lineno, "unknown key '%s'",
					cfg_show(show, sizeof(show), name));
		if (p->cur == CFG_NONE)
			return cfg_fail(p, lineno, "unknown key '%s' outside a "
					"[domain] section (it is a per-domain "
					"setting)", name);
		return cfg_fail(p, lineno, "unknown key '%s' in a [domain] section "
				"(it is a global setting: put it before the "
				"first [domain])", name);
	}
	if (seen[idx] != 0)
		return cfg_fail(p, lineno, "duplicate key '%s' (first at line %lu)",
				key->name, seen[idx]);
	seen[idx] = lineno;
	if (cfg_set(key, obj, value, &reason) < 0)
		return cfg_fail(p, lineno, "bad value for '%s': %s%s%s", key->name,
				reason, key->hint != NULL ? "; " : "",
				key->hint != NULL ? key->hint : "");
	return 0;
}

/* The parsing core: one line of the file, without its line end. */
static int cfg_parse_line(struct cfg_parser *p, unsigned long lineno,
			  const char *text, size_t len)
{
	char buf[CFG_MAX_LINE + 1], *line, *hash;

	if (len > CFG_MAX_LINE)
		return cfg_fail(p, lineno, "line over %d bytes", CFG_MAX_LINE);
	if (memchr(text, '\0', len) != NULL)
		return cfg_fail(p, lineno, "NUL byte in line");
	memcpy(buf, text, len);
	buf[len] = '\0';
	if ((hash = strchr(buf, '#')) != NULL)
		*hash = '\0';
	line = cfg_trim(buf);
	if (*line == '\0')
		return 0;
	if (*line == '[')
		return cfg_parse_section(p, lineno, line);
	return cfg_parse_setting(p, lineno, line);
}

/* One domain with a bind_ip; sorted by address, then by line. */
struct cfg_ip_use {
	const char *ip;
	const struct cfg_domain *domain;
};

/* qsort() order for cfg_check_bind_ips(). */
static int cfg_ip_use_cmp(const void *a, const void *b)
{
	const struct cfg_ip_use *x = a, *y = b;
	int cmp = strcmp(x->ip, y->ip);

	if (cmp != 0)
		return cmp;
	return x->domain->line < y->domain->line ? -1 :
		x->domain->line > y->domain->line;
}

/* Refuse two domains bound to one address: logins could not tell them
 * apart. The error names the later section. */
static int cfg_check_bind_ips(struct cfg_parser *p)
{
	struct cfg *cfg = p->cfg;
	struct cfg_ip_use *uses;
	const struct cfg_ip_use *bad = NULL;
	size_t n = 0;
	int ret = 0;

	uses = mm_reallocarray(NULL, cfg->domains_count, sizeof(*uses));
	for (size_t i = 0; i < cfg->domains_count; i++) {
		if (cfg->domains[i].bind_ip != NULL) {
			uses[n].ip = cfg->domains[i].bind_ip;
			uses[n].domain = &cfg->domains[i];
			n++;
		}
	}
	qsort(uses, n, sizeof(*uses), cfg_ip_use_cmp);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(uses[i].ip, uses[i - 1].ip) == 0 &&
		    (i < 2 || strcmp(uses[i - 1].ip, uses[i - 2].ip) != 0) &&
		    (bad == NULL || uses[i].domain->line < bad->domain->line))
			bad = &uses[i];
	}
	if (bad != NULL)
		ret = cfg_fail(p, bad->domain->line, "[domain %s]: bind_ip %s is "
			       "also used by [domain %s] (line %u)",
			       bad->domain->name, bad->ip, bad[-1].domain->name,
			       bad[-1].domain->line);
	mm_free(&uses);
	return ret;
}

/* A login template: only %u, %n, %d and %% (cfg_expand_user), and
 * %a where admin. */
static int cfg_check_template(const char *template, int admin,
			      const char **bad_r)
{
	for (const char *t = template; *t != '\0'; t++) {
		if (*t != '%')
			continue;
		if (t[1] == '\0') {
			*bad_r = "a '%' ends it";
			return -1;
		}
		if (strchr(admin ? "unda%" : "und%", t[1]) == NULL) {
			*bad_r = "unknown variable";
			return -1;
		}
		t++;
	}
	return 0;
}

/* source_admin_login: auto, authzid, star or template:T. */
static int cfg_admin_form(struct cfg_parser *p, struct cfg_domain *d)
{
	const char *v = d->source_admin_login, *bad;

	d->source_admin_template = NULL;
	if (strcmp(v, "auto") == 0)
		d->source_admin_form = CFG_ADMIN_AUTO;
	else if (strcmp(v, "authzid") == 0)
		d->source_admin_form = CFG_ADMIN_AUTHZID;
	else if (strcmp(v, "star") == 0)
		d->source_admin_form = CFG_ADMIN_STAR;
	else if (strncmp(v, "template:", 9) == 0) {
		d->source_admin_form = CFG_ADMIN_TEMPLATE;
		d->source_admin_template = v + 9;
		if (*d->source_admin_template == '\0')
			return cfg_fail(p, d->line, "[domain %s]: "
					"source_admin_login 'template:' needs a "
					"template after the colon", d->name);
		if (cfg_check_template(d->source_admin_template, 1, &bad) < 0)
			return cfg_fail(p, d->line, "[domain %s]: "
					"source_admin_login '%s': %s (known: %%u "
					"the full address, %%n the local part, %%d "
					"the domain, %%a source_admin_user, %%%% a %%)",
					d->name, v, bad);
	} else
		return cfg_fail(p, d->line, "[domain %s]: source_admin_login "
				"'%s': expected auto, authzid, star or "
				"template:TEMPLATE", d->name, v);
	return 0;
}

/* source_auth and what goes with it: a token command for OAuth, and
 * neither an administrator (the command gives each account its own
 * token) nor proxying (Dovecot would proxy with the user's password). */
static int cfg_check_source_auth(struct cfg_parser *p, const struct cfg_domain *d)
{
	const char *auth = cfg_source_auth_name(d->source_auth);

	if (d->source_auth == CFG_AUTH_PASSWORD) {
		if (d->source_oauth2_token_command != NULL)
			return cfg_fail(p, d->line, "[domain %s]: "
					"source_oauth2_token_command is set but "
					"source_auth = password (set source_auth = "
					"xoauth2 or oauthbearer)", d->name);
		return 0;
	}
	if (d->source_oauth2_token_command == NULL)
		return cfg_fail(p, d->line, "[domain %s]: source_auth = %s needs "
				"source_oauth2_token_command", d->name, auth);
	if (d->source_admin_user != NULL)
		return cfg_fail(p, d->line, "[domain %s]: source_admin_user does "
				"not apply with source_auth = %s (the token "
				"command gives each account its own token)",
				d->name, auth);
	if (d->login_action == CFG_LOGIN_PROXY)
		return cfg_fail(p, d->line, "[domain %s]: login_action = proxy "
				"needs source_auth = password (Dovecot proxies "
				"with the user's password; OLD wants a token)",
				d->name);
	return 0;
}

/* source_dav_url or target_dav_url: an http or https URL, its
 * template known, nothing that would need quoting. */
static int cfg_check_dav_url(struct cfg_parser *p, const struct cfg_domain *d,
			     const char *key, const char *url)
{
	const char *bad = NULL;

	if (url == NULL)
		return cfg_fail(p, d->line, "[domain %s]: migrate_dav = yes "
				"needs %s", d->name, key);
	if (strncasecmp(url, "http://", 7) != 0 &&
	    strncasecmp(url, "https://", 8) != 0)
		bad = "not an http:// or https:// URL";
	else if (strlen(url) > CFG_DAV_URL_MAX)
		bad = "too long";
	for (const char *c = url; bad == NULL && *c != '\0'; c++) {
		if ((unsigned char)*c <= ' ' || *c == '"' || *c == '<' ||
		    *c == '>' || *c == '\\' || *c == '`' || *c == '{' ||
		    *c == '}' || *c == '|' || (unsigned char)*c >= 0x7f)
			bad = "a character a URL must not hold (space, quote, "
			      "control, non-ASCII)";
	}
	if (bad == NULL && cfg_check_template(url, 0, &bad) < 0)
		bad = bad != NULL ? bad : "a bad template";
	if (bad != NULL)
		return cfg_fail(p, d->line, "[domain %s]: %s '%s': %s (known: "
				"%%u the full address, %%n the local part, %%d the "
				"domain, %%%% a %%)", d->name, key, url, bad);
	return 0;
}

/* target_dav_admin_user and its password file: both or neither, and
 * target_dav_url a user's home (%u or %n in it): the administrator's own
 * principal is not the user's, so NEW's home is not discovered. */
static int cfg_check_dav_admin(struct cfg_parser *p, const struct cfg_domain *d)
{
	if (d->target_dav_admin_user == NULL && d->target_dav_admin_password_file == NULL)
		return 0;
	if (d->target_dav_admin_user == NULL || d->target_dav_admin_password_file == NULL)
		return cfg_fail(p, d->line, "[domain %s]: target_dav_admin_user and "
				"target_dav_admin_password_file go together", d->name);
	if (d->target_dav_url == NULL ||
	    (strstr(d->target_dav_url, "%u") == NULL && strstr(d->target_dav_url, "%n") == NULL))
		return cfg_fail(p, d->line, "[domain %s]: target_dav_admin_user needs "
				"target_dav_url to be each user's home (%%u or %%n in "
				"it): the administrator's login finds no user's home",
				d->name);
	return 0;
}

/* public_folders_account and public_folders_login: both or neither,
 * addresses of this domain (lowercased here), not the same one, and
 * with migrate_shared and IMAP from OLD. */
static int cfg_check_public(struct cfg_parser *p, struct cfg_domain *d)
{
	char *const names[] = { d->public_folders_account, d->public_folders_login };
	static const char *const keys[] = { "public_folders_account",
					    "public_folders_login" };

	if (names[0] == NULL && names[1] == NULL)
		return 0;
	if (names[0] == NULL || names[1] == NULL)
		return cfg_fail(p, d->line, "[domain %s]: %s needs %s", d->name,
				keys[names[0] == NULL], keys[names[0] != NULL]);
	for (size_t i = 0; i < 2; i++) {
		const char *at = strchr(names[i], '@');

		for (char *c = names[i]; *c != '\0'; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		if (at == NULL || at == names[i] || strcmp(at + 1, d->name) != 0 ||
		    strlen(names[i]) > CFG_LOGIN_MAX)
			return cfg_fail(p, d->line, "[domain %s]: %s '%s': not an "
					"address in this domain", d->name, keys[i],
					names[i]);
	}
	if (strcmp(names[0], names[1]) == 0)
		return cfg_fail(p, d->line, "[domain %s]: public_folders_account "
				"is an account of NEW that holds no user's mail; "
				"public_folders_login the user whose session on OLD "
				"shows the public folders: not the same", d->name);
	if (!d->migrate_shared)
		return cfg_fail(p, d->line, "[domain %s]: public_folders_account "
				"needs migrate_shared = yes", d->name);
	if (d->source_protocols == CFG_PROTO_POP3)
		return cfg_fail(p, d->line, "[domain %s]: public_folders_account "
				"needs IMAP from OLD (source_protocols)", d->name);
	return 0;
}

/* Fill in defaults that depend on other keys, then cross-check. */
static int cfg_parse_finish(struct cfg_parser *p)
{
	struct cfg *cfg = p->cfg;
	const char *bad;
	size_t idx = 0;

	for (size_t i = 0; i < cfg->domains_count; i++) {
		struct cfg_domain *d = &cfg->domains[i];

		if (d->type == CFG_DOMAIN_BACKUP && d->source_host == NULL)
			return cfg_fail(p, d->line, "[domain %s]: type = backup "
					"needs source_host", d->name);
		if (d->login_action == CFG_LOGIN_NOTICE &&
		    d->notice_account == NULL)
			return cfg_fail(p, d->line, "[domain %s]: login_action = "
					"notice needs notice_account", d->name);
		if (cfg_admin_form(p, d) < 0 || cfg_check_source_auth(p, d) < 0 ||
		    cfg_check_public(p, d) < 0)
			return -1;
		if (d->migrate_dav &&
		    (cfg_check_dav_url(p, d, "source_dav_url", d->source_dav_url) < 0 ||
		     cfg_check_dav_url(p, d, "target_dav_url", d->target_dav_url) < 0))
			return -1;
		if (cfg_check_dav_admin(p, d) < 0)
			return -1;
		if (d->migrate_dav && d->source_auth != CFG_AUTH_PASSWORD &&
		    d->target_dav_admin_user == NULL)
			return cfg_fail(p, d->line, "[domain %s]: migrate_dav = yes "
					"with source_auth = %s needs "
					"target_dav_admin_user (OLD's DAV server is "
					"asked with a token; there is no user password "
					"for NEW's)", d->name,
					cfg_source_auth_name(d->source_auth));
		if (cfg_check_template(d->source_login, 0, &bad) < 0)
			return cfg_fail(p, d->line, "[domain %s]: source_login "
					"'%s': %s (known: %%u the full address, "
					"%%n the local part, %%d the domain, %%%% a %%)",
					d->name, d->source_login, bad);
		if (d->relay_nexthop == NULL && d->source_host != NULL) {
			char host[CFG_HOST_MAX + 1];
			const char *reason;
			unsigned port;

			if (cfg_check_hostport(d->source_host, 0, host, &port,
					       &reason) < 0)
				log_panic("cfg: source_host %s was accepted: %s",
					  d->source_host, reason);
			d->relay_nexthop = mm_asprintf("smtp:[%s]:25", host);
		}
	}
	if (cfg_check_bind_ips(p) < 0)
		return -1;
	/* The relay's cache: off by default on LMDB, whose lookups cost
	 * microseconds (relay_cache.c). */
	if (cfg_key_find(cfg_global_keys, CFG_NKEYS(cfg_global_keys),
			 "relay_cache_ttl", &idx) == NULL)
		log_panic("cfg: no relay_cache_ttl key");
	if (p->global_seen[idx] == 0 &&
	    (cfg->store == NULL || strncmp(cfg->store, "lmdb:", 5) == 0))
		cfg->relay_cache_ttl = 0;
	/* The store: LMDB in state_dir unless set. */
	if (cfg->store == NULL) {
		cfg->store = mm_asprintf("lmdb:%s", cfg->state_dir);
	} else if (!(strncmp(cfg->store, "lmdb:/", 6) == 0 ||
		     (strncmp(cfg->store, "postgresql:", 11) == 0 &&
		      cfg->store[11] != '\0'))) {
		if (cfg_key_find(cfg_global_keys, CFG_NKEYS(cfg_global_keys),
				 "store", &idx) == NULL)
			log_panic("cfg: no store key");
		return cfg_fail(p, p->global_seen[idx], "store must be "
				"lmdb:/ABSOLUTE/DIR or postgresql:CONNINFO");
	}
	/* A group to drop to needs the user who drops to it. */
	if (cfg->run_group != NULL && cfg->run_user == NULL) {
		if (cfg_key_find(cfg_global_keys, CFG_NKEYS(cfg_global_keys),
				 "run_group", &idx) == NULL)
			log_panic("cfg: no run_group key");
		return cfg_fail(p, p->global_seen[idx], "run_group needs "
				"run_user");
	}
	/* Next to key_file unless set. */
	if (cfg->public_key_file == NULL)
		cfg->public_key_file = mm_asprintf("%s.pub", cfg->key_file);
	if (cfg->default_domain != NULL && cfg->domains_count > 0 &&
	    cfg_domain_find(cfg, cfg->default_domain) == NULL) {
		if (cfg_key_find(cfg_global_keys, CFG_NKEYS(cfg_global_keys),
				 "default_domain", &idx) == NULL)
			log_panic("cfg: no default_domain key");
		return cfg_fail(p, p->global_seen[idx], "default_domain %s has "
				"no [domain %s] section", cfg->default_domain,
				cfg->default_domain);
	}
	return 0;
}

/* Set up a parser over a fresh default configuration. */
static void cfg_parser_init(struct cfg_parser *p, const char *name)
{
	memset(p, 0, sizeof(*p));
	p->cfg = cfg_new_defaults();
	p->cfg->path = mm_strdup(name);
	p->name = p->cfg->path;
	p->cur = CFG_NONE;
}

/* Hand the configuration out, or free it on failure. */
static int cfg_parser_done(struct cfg_parser *p, int ret, struct cfg **cfg_r,
			   const char **error_r)
{
	if (ret == 0)
		ret = cfg_parse_finish(p);
	mm_free(&p->sorted);
	if (ret < 0) {
		*error_r = p->error != NULL ? p->error : "invalid configuration";
		cfg_free(&p->cfg);
		return -1;
	}
	*cfg_r = p->cfg;
	return 0;
}

/* Read and check the file at path. */
int cfg_load(const char *path, struct cfg **cfg_r, const char **error_r)
{
	struct cfg_parser p;
	struct linereader *lr;
	const char *line;
	size_t len;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return error_failf(error_r, "cannot read %s: %s", path,
				   strerror(errno));
	cfg_parser_init(&p, path);
	lr = linereader_new(fd, CFG_MAX_LINE);
	while (ret == 0) {
		enum linereader_status st = linereader_next(lr, &line, &len);
		unsigned long lineno = linereader_lineno(lr);

		if (st == LINEREADER_EOF)
			break;
		if (st == LINEREADER_ERROR) {
			p.error = error_setf("cannot read %s: %s",
				 path, strerror(errno));
			ret = -1;
		} else if (st == LINEREADER_TOOLONG) {
			ret = cfg_fail(&p, lineno, "line over %d bytes",
				       CFG_MAX_LINE);
		} else {
			ret = cfg_parse_line(&p, lineno, line, len);
		}
	}
	linereader_free(&lr);
	close(fd);
	return cfg_parser_done(&p, ret, cfg_r, error_r);
}

/* Parse text as if read from a file named name. */
int cfg_load_string(const char *name, const char *text, struct cfg **cfg_r,
		    const char **error_r)
{
	struct cfg_parser p;
	unsigned long lineno = 0;
	int ret = 0;

	cfg_parser_init(&p, name);
	while (ret == 0 && *text != '\0') {
		const char *lf = strchr(text, '\n');
		size_t len = lf != NULL ? (size_t)(lf - text) : strlen(text);

		lineno++;
		if (lf != NULL && len > 0 && text[len - 1] == '\r')
			ret = cfg_parse_line(&p, lineno, text, len - 1);
		else
			ret = cfg_parse_line(&p, lineno, text, len);
		text += lf != NULL ? len + 1 : len;
	}
	return cfg_parser_done(&p, ret, cfg_r, error_r);
}

/* user_home, user_mail and source_login: %u, %n, %d and %% for
 * account. */
static char *cfg_expand(const char *template, const char *account,
			const char *admin);

char *cfg_expand_user(const char *template, const char *account)
{
	return cfg_expand(template, account, NULL);
}

/* %u, %n, %d, %% and, with admin, %a; anything else kept as it is. */
static char *cfg_expand(const char *template, const char *account,
			const char *admin)
{
	const char *at = strchr(account, '@');
	size_t nlen = at != NULL ? (size_t)(at - account) : strlen(account);
	const char *domain = at != NULL ? at + 1 : "";
	size_t size = 64, len = 0;
	char *out = mm_malloc(size);

	for (const char *p = template; *p != '\0'; p++) {
		const char *add = p;
		size_t alen = 1;

		if (p[0] == '%' && p[1] != '\0') {
			switch (p[1]) {
			case 'u': add = account; alen = strlen(account); p++; break;
			case 'n': add = account; alen = nlen; p++; break;
			case 'd': add = domain; alen = strlen(domain); p++; break;
			case '%': alen = 1; p++; break;
			case 'a':
				if (admin == NULL)
					break;
				add = admin; alen = strlen(admin); p++; break;
			default: break;	/* kept as it is */
			}
		}
		while (len + alen + 1 > size) {
			size *= 2;
			out = mm_realloc(out, size);
		}
		memcpy(out + len, add, alen);
		len += alen;
	}
	out[len] = '\0';
	return out;
}

static int cfg_name_from(const struct cfg_domain *dom, const char *key,
			 const char *template, const char *account, char *buf,
			 size_t size, const char **error_r)
{
	char *name = cfg_expand(template, account, dom->source_admin_user);
	size_t len = strlen(name);

	if (len == 0 || len > CFG_LOGIN_MAX || len >= size) {
		*error_r = error_setf("%s: %s '%s' of [domain %s] gives %s login "
				      "name (at most %d bytes)", account, key,
				      template, dom->name, len == 0 ? "an empty" :
				      "too long a", CFG_LOGIN_MAX);
		mm_free(&name);
		return -1;
	}
	memcpy(buf, name, len + 1);
	mm_free(&name);
	return 0;
}

int cfg_is_public_account(const struct cfg_domain *dom, const char *account)
{
	return dom->public_folders_account != NULL &&
		strcasecmp(account, dom->public_folders_account) == 0;
}

int cfg_login_name(const struct cfg_domain *dom, const char *account,
		   char *buf, size_t size, const char **error_r)
{
	/* The public folders are read in public_folders_login's session. */
	if (cfg_is_public_account(dom, account))
		account = dom->public_folders_login;
	return cfg_name_from(dom, "source_login", dom->source_login, account,
			     buf, size, error_r);
}

int cfg_admin_login_name(const struct cfg_domain *dom, const char *account,
			 char *buf, size_t size, const char **error_r)
{
	if (dom->source_admin_form != CFG_ADMIN_TEMPLATE)
		return cfg_login_name(dom, account, buf, size, error_r);
	if (cfg_is_public_account(dom, account))
		account = dom->public_folders_login;
	return cfg_name_from(dom, "source_admin_login",
			     dom->source_admin_template, account, buf, size,
			     error_r);
}
