/*
 * NAME
 *	cli 3h
 * SUMMARY
 *	internals of the mailmigrate(8) administration command
 * DESCRIPTION
 *	mailmigrate.c parses the global options and calls one verb;
 *	each verb parses its own options, loads the configuration,
 *	opens the store and returns the process exit status. Output
 *	helpers (tables, JSON, times, sizes) live in cli_out.c, the
 *	shared set-up (configuration, store, key, account names) in
 *	cli_ctx.c, password input in cli_pass.c.
 * DIAGNOSTICS
 *	Every error goes to stderr as "mailmigrate: what: why", through
 *	cli_error(). Exit status: CLI_EXIT_OK, CLI_EXIT_INPUT (partial
 *	success or bad input), CLI_EXIT_USAGE, CLI_EXIT_SYSTEM (store,
 *	system or configuration error).
 * SECURITY
 *	Passwords are read from stdin or /dev/tty only, kept in buffers
 *	that are wiped after use, and never printed: not in messages, not
 *	in JSON. Only the hash scheme name of a stored hash is shown.
 */
#ifndef MM_CLI_H
#define MM_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "cfg.h"
#include "crypto.h"
#include "store.h"
#include "store_cfg.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_INPUT 1	/* partial success, bad input */
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_SYSTEM 3	/* store, system or configuration error */

/* The longest line of a bulk file, and the longest password. */
#define CLI_MAX_LINE 4096

/* State shared by the verbs; cli_ctx_free() releases what is set. */
struct cli_ctx {
	const char *config_path;	/* -c FILE, or NULL */
	struct cfg *cfg;		/* after cli_ctx_config() */
	struct store *store;		/* after cli_ctx_store() */
	int have_key;			/* key given to the store */
	/* An event from before the store was open (init on PostgreSQL
	 * makes the keys first), logged by cli_ctx_store(). */
	enum log_severity held_sev;
	char *held_event;
};

/* A verb: argv[0] is the verb's name. Returns the exit status. */
typedef int cli_verb_fn(struct cli_ctx *ctx, int argc, char **argv);

/* --- mailmigrate.c -------------------------------------------------- */

/* "mailmigrate: text" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "mailmigrate: text" and the usage text on stderr; CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Options every verb takes, to end its struct option table. */
#define CLI_COMMON_LONGOPTS \
	{ "config", required_argument, NULL, 'c' }, \
	{ "help", no_argument, NULL, 'h' }, \
	{ NULL, 0, NULL, 0 }
/* getopt_long() for a verb (shortopts starts with ':' and holds "c:h";
 * options may follow the operands). -c is kept in ctx; -h prints the
 * usage on stdout and is returned; a bad option is reported with the
 * usage on stderr and returned as '?'. -1 at the end: the operands
 * are argv[optind..argc). */
int cli_getopt(struct cli_ctx *ctx, int argc, char **argv,
	       const char *shortopts, const struct option *longopts);
/* Print the usage text to fp. */
void cli_usage(FILE *fp);

/* --- cli_ctx.c ------------------------------------------------------ */

/* Load the configuration (-c, $MAILMIGRATE_CONF or the default).
 * Reports and returns -1 on failure. */
int cli_ctx_config(struct cli_ctx *ctx);
/* Open the store of the loaded configuration: create makes it,
 * readonly opens it for reading only. Reports and returns -1. */
int cli_ctx_store(struct cli_ctx *ctx, int create, int readonly);
/* Load key_file and give it to the store. Reports and returns -1. */
int cli_ctx_key(struct cli_ctx *ctx);
void cli_ctx_free(struct cli_ctx *ctx);
/* "user@domain" for user (USER or USER@DOMAIN), domain (--domain, may
 * be NULL) and default_domain, into buf (STORE_MAX_ACCOUNT bytes).
 * Returns 0, CLI_NAME_NODOMAIN (no domain anywhere), or -1 with
 * *error_r (static) naming what is wrong. */
#define CLI_NAME_NODOMAIN 1
int cli_ctx_account(const struct cli_ctx *ctx, const char *user,
		    const char *domain, char *buf, const char **error_r);
/* Resolve a USER argument for verb, reporting a bad one; 0 or the exit
 * status to return. */
int cli_ctx_user_arg(const struct cli_ctx *ctx, const char *verb,
		     const char *user, const char *domain, char *buf);
/* The [domain] section for the account's domain. Returns 0 with
 * *dom_r (NULL when the configuration has no [domain] sections), or
 * -1 when sections exist but none is the domain. */
int cli_ctx_domain(const struct cli_ctx *ctx, const char *account,
		   const struct cfg_domain **dom_r);
/* Account names a verb acts on. */
struct cli_names {
	char **names;
	size_t count;
	unsigned states;	/* in: bit per enum store_state to take */
};
/* store_account_iter() callback: collect the accounts in n->states. */
int cli_names_collect(const struct store_account *acct, void *n);
void cli_names_free(struct cli_names *n);
/* account (must exist, in one of n->states), or every account in
 * n->states (account NULL), into n. 0, or the exit status (reported). */
int cli_ctx_names(struct cli_ctx *ctx, const char *verb, const char *account,
		  struct cli_names *n);
/* An event in the store's log; failures are reported, not fatal. */
void cli_ctx_event(struct cli_ctx *ctx, enum log_severity sev,
		   const char *account, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* --- cli_pass.c ----------------------------------------------------- */

/* One password for account: from stdin when it is not a tty (one
 * line), else prompted twice on /dev/tty without echo. *password_r
 * is the caller's (mm_free_secret()). Reports and returns
 * CLI_EXIT_INPUT or CLI_EXIT_SYSTEM on failure, 0 on success. */
int cli_pass_read(const char *account, char **password_r);

/* --- cli_out.c ------------------------------------------------------ */

/* Local "2026-11-23 12:00:00 +0000", or "never" for 0, into buf. */
const char *cli_time_local(int64_t t, char *buf, size_t size);
/* UTC "2026-11-23T12:00:00Z" into buf; the caller handles 0. */
const char *cli_time_utc(int64_t t, char *buf, size_t size);
/* "0 B", "512 B", "1.5 KiB", "12.0 MiB" into buf. */
const char *cli_size_human(uint64_t bytes, char *buf, size_t size);
/* Copy text for a terminal: control bytes become '?', UTF-8 stays;
 * truncated to fit buf. */
const char *cli_printable(const char *text, char *buf, size_t size);

/* "Label:" padded to CLI_KV_WIDTH, then value, on stdout. */
#define CLI_KV_WIDTH 26
void cli_kv(const char *label, const char *value);
/* The same with a printf format. */
void cli_kvf(const char *label, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct cli_table;
/* A table of ncols columns; right[i] != 0 right-aligns column i. */
struct cli_table *cli_table_new(size_t ncols, const char *const *headers,
				const int *right);
/* Add a row of ncols strings (copied). */
void cli_table_add(struct cli_table *table, const char *const *cells);
/* Print the header and rows, columns two spaces apart. */
void cli_table_print(const struct cli_table *table, FILE *fp);
void cli_table_free(struct cli_table **table);

/* A streaming JSON writer with two-space indentation. The names given
 * are the stable interface documented in mailmigrate(8). */
struct cli_json {
	FILE *fp;
	int depth;
	int first[16];		/* nothing written yet at this depth */
};
void cli_json_init(struct cli_json *j, FILE *fp);
/* Open/close an object or array; key is NULL inside arrays and at the
 * top. cli_json_end() finishes the document with a newline at depth 0. */
void cli_json_object(struct cli_json *j, const char *key);
void cli_json_array(struct cli_json *j, const char *key);
void cli_json_end(struct cli_json *j, char close);
/* Members: NULL str gives null; time 0 gives null. */
void cli_json_str(struct cli_json *j, const char *key, const char *str);
void cli_json_u64(struct cli_json *j, const char *key, uint64_t value);
void cli_json_i64(struct cli_json *j, const char *key, int64_t value);
void cli_json_bool(struct cli_json *j, const char *key, int value);
void cli_json_null(struct cli_json *j, const char *key);
void cli_json_time(struct cli_json *j, const char *key, int64_t t);
/* A JSON string literal for len bytes of text: escapes ", \, control
 * characters (\u00XX), and invalid UTF-8 (\uFFFD). */
void cli_json_quote(FILE *fp, const char *text, size_t len);

/* --- the verbs -------------------------------------------------------- */

/* cli_progress.c: what is left, and when it ends (stats, top). */
#define CLI_PROGRESS_STALE 600	/* seconds without news: a stalled record */
#define CLI_ETA_MAX (3650 * 86400) /* a time to finish beyond: "over 3650 days" */
struct cli_progress {
	struct store_stats st;
	struct store_progress *running;	/* the records, in account order */
	size_t running_count;
	time_t now;
	uint64_t left_running;	/* bytes, of the copies running */
	uint64_t left_queued;	/* bytes, of the mailboxes queued */
	uint64_t left_total;	/* the two (all three saturate, never wrap) */
	int left_estimated;	/* some of it is a guess */
	int left_known;		/* 0: queued mailboxes and nothing copied yet */
	uint64_t avg_account_bytes; /* of the mailboxes copied; 0: none */
	uint64_t rate_bps;	/* bytes/s of late; 0: idle */
	int64_t eta;		/* seconds to finish; -1: unknown */
};
int cli_progress_read(struct store *store, time_t now, struct cli_progress *pr,
		      const char **error_r);
void cli_progress_free(struct cli_progress *pr);
int cli_progress_stale(const struct cli_progress *pr,
		       const struct store_progress *p);
/* "folder 3/13 Sent, 120/900 messages, 1.2 MiB/9.0 MiB" */
/* "[####----...] 42%" of CLI_PROGRESS_BAR cells; "?%" when total is 0. */
#define CLI_PROGRESS_BAR 20
const char *cli_progress_bar(uint64_t done, uint64_t total, char *buf,
			     size_t size);
const char *cli_progress_line(const struct store_progress *p, char *buf,
			      size_t size);
/* "2h 05m", "unknown" for < 0 */
const char *cli_duration(int64_t seconds, char *buf, size_t size);

int cli_cmd_init(struct cli_ctx *ctx, int argc, char **argv);	/* cli_ctl.c */
int cli_cmd_pause(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_resume(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_reset(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_tls_forget(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_sync(struct cli_ctx *ctx, int argc, char **argv);	/* cli_round.c */
int cli_cmd_finish(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_failed(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_add(struct cli_ctx *ctx, int argc, char **argv);	/* cli_add.c */
int cli_cmd_bulk(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_list(struct cli_ctx *ctx, int argc, char **argv);	/* cli_show.c */
int cli_cmd_show(struct cli_ctx *ctx, int argc, char **argv);
/* cli_show_acl.c: show's rights on shared folders (j NULL: text) */
int cli_show_acl(struct cli_ctx *ctx, const char *account, struct cli_json *j,
		 const char **error_r);
/* cli_show_dav.c: show's calendars and address books (j NULL: text) */
int cli_show_dav(struct cli_ctx *ctx, const char *account, struct cli_json *j,
		 const char **error_r);
int cli_cmd_stats(struct cli_ctx *ctx, int argc, char **argv);	/* cli_stats.c */
int cli_cmd_top(struct cli_ctx *ctx, int argc, char **argv);	/* cli_top.c */
int cli_cmd_log(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_export(struct cli_ctx *ctx, int argc, char **argv); /* cli_export.c */
int cli_export_passwd(struct cli_ctx *ctx, int argc, char **argv); /* cli_export_passwd.c */
int cli_cmd_preflight(struct cli_ctx *ctx, int argc, char **argv); /* cli_preflight*.c */
int cli_cmd_aliases(struct cli_ctx *ctx, int argc, char **argv); /* cli_alias.c */
int cli_cmd_verify(struct cli_ctx *ctx, int argc, char **argv); /* cli_verify.c */
int cli_cmd_store(struct cli_ctx *ctx, int argc, char **argv); /* cli_store.c */

#endif
