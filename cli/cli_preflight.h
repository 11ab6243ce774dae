/*
 * NAME
 *	cli_preflight 3h
 * SUMMARY
 *	internals of mailmigrate preflight: the checks and their report
 * DESCRIPTION
 *	cli_preflight.c holds the table of checks, the report (text or
 *	JSON) and the checks of this host's own files (store, keys, the
 *	TLS settings); cli_preflight_old.c the checks on OLD (each
 *	domain's servers, each USER's mailbox); cli_preflight_new.c the
 *	checks on NEW (master login, free space, APPENDLIMIT);
 *	cli_preflight_host.c those of the host's Postfix, Dovecot and
 *	relay; cli_preflight_calc.c the pure
 *	arithmetic (certificate dates, the free-space margin), unit-tested
 *	by test_preflight_calc.c.
 *
 *	Read-only: the store is opened for reading, OLD is asked with
 *	EXAMINE, LIST, FETCH of sizes and POP3 STAT/LIST (nothing is
 *	marked or deleted), NEW only logged in to, postconf and doveconf
 *	only asked.
 */
#ifndef MM_CLI_PREFLIGHT_H
#define MM_CLI_PREFLIGHT_H

#include <stdint.h>

#include "cli.h"

enum preflight_status {
	PREFLIGHT_OK,
	PREFLIGHT_WARNING,
	PREFLIGHT_FAILED,
};

/* What a check runs for. */
enum preflight_scope {
	PREFLIGHT_ONCE,
	PREFLIGHT_DOMAIN,	/* each [domain] section */
	PREFLIGHT_USER,		/* each USER operand */
};

/* A USER operand, and what OLD showed of its mailbox. */
struct preflight_user {
	const char *arg;		/* as given */
	char account[STORE_MAX_ACCOUNT];
	const struct cfg_domain *dom;	/* NULL: no section for it */
	char *error;			/* the name is bad: why (ours) */
	char *password;			/* from stdin; NULL with an admin
					 * login or OAuth (ours, wiped) */
	int measured;			/* OLD showed the mailbox */
	uint64_t folders, messages, bytes, largest;
};

/* A value a finding carries into --json besides its text. */
struct preflight_value {
	const char *key;		/* static */
	const char *str;		/* NULL: num */
	uint64_t num;
	int64_t snum;			/* with is_signed */
	int is_null, is_signed;
};
#define PREFLIGHT_MAX_VALUES 12

struct preflight {
	struct cli_ctx *ctx;
	/* Why the store could not be opened: a copy, owned, freed at
	 * the end of the run. It is kept in the struct for the whole
	 * loop of checks, which may fail many times over (error(3h)'s
	 * ring keeps ERROR_RING - 1 more), whichever row reports it. */
	char *store_error;
	struct cli_json json;
	int as_json;
	unsigned counts[3];
	int local;			/* --local: no remote checks */
	struct preflight_user *users;
	size_t users_count;
	const struct preflight_user *user;	/* the USER being checked */
	/* values for the next preflight_report() */
	struct preflight_value values[PREFLIGHT_MAX_VALUES];
	size_t values_count;
	char strbuf[PREFLIGHT_MAX_VALUES][256];
};

struct preflight_check {
	const char *name;	/* stable: the "check" member of --json */
	enum preflight_scope scope;
	void (*run)(struct preflight *pf, const struct preflight_check *check,
		    const struct cfg_domain *dom, struct preflight_user *user);
	/* Talks to a server or runs a program: left out by --local. */
	int remote;
};

/* --- cli_preflight.c ------------------------------------------------ */

/* Report one finding for dom (or none) and pf->user; hint (may be
 * NULL) says what to do. The values set since the last report go with
 * it. */
void preflight_report(struct preflight *pf, const struct preflight_check *check,
		      const struct cfg_domain *dom, enum preflight_status status,
		      const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* Values for the next report (--json members). */
void preflight_value_u64(struct preflight *pf, const char *key, uint64_t num);
void preflight_value_i64(struct preflight *pf, const char *key, int64_t num);
void preflight_value_str(struct preflight *pf, const char *key, const char *str);
/* "2026-12-03 08:00:00 UTC" into buf. */
const char *preflight_time(int64_t t, char *buf, size_t size);

/* --- cli_preflight_old.c -------------------------------------------- */

void preflight_old_imap(struct preflight *pf, const struct preflight_check *check,
			const struct cfg_domain *dom, struct preflight_user *user);
void preflight_old_pop3(struct preflight *pf, const struct preflight_check *check,
			const struct cfg_domain *dom, struct preflight_user *user);
void preflight_old_user(struct preflight *pf, const struct preflight_check *check,
			const struct cfg_domain *dom, struct preflight_user *user);
void preflight_old_sieve(struct preflight *pf, const struct preflight_check *check,
			 const struct cfg_domain *dom, struct preflight_user *user);

/* --- cli_preflight_new.c -------------------------------------------- */

void preflight_new_login(struct preflight *pf, const struct preflight_check *check,
			 const struct cfg_domain *dom, struct preflight_user *user);
void preflight_new_space(struct preflight *pf, const struct preflight_check *check,
			 const struct cfg_domain *dom, struct preflight_user *user);
void preflight_new_sieve(struct preflight *pf, const struct preflight_check *check,
			 const struct cfg_domain *dom, struct preflight_user *user);
/* --- cli_preflight_dav.c --------------------------------------------- */

void preflight_old_dav(struct preflight *pf, const struct preflight_check *check,
		       const struct cfg_domain *dom, struct preflight_user *user);
void preflight_new_dav(struct preflight *pf, const struct preflight_check *check,
		       const struct cfg_domain *dom, struct preflight_user *user);

/* --- cli_preflight_host.c ------------------------------------------- */

void preflight_postconf(struct preflight *pf, const struct preflight_check *check,
			const struct cfg_domain *dom, struct preflight_user *user);
void preflight_doveconf(struct preflight *pf, const struct preflight_check *check,
			const struct cfg_domain *dom, struct preflight_user *user);
void preflight_relay(struct preflight *pf, const struct preflight_check *check,
		     const struct cfg_domain *dom, struct preflight_user *user);

/* --- cli_preflight_calc.c: pure, unit-tested -------------------------- */

/* Days left to not_after at now, rounded down (negative: expired that
 * many whole days ago, -1 for less than a day). */
int64_t preflight_cert_days(int64_t not_after, int64_t now);
/* A certificate's status: expired (days < 0) or not valid for the chain
 * or the name (verified == 0): failed when source_tls_verify = yes (the
 * puller and the auth module refuse it), a warning when no; expiring
 * within PREFLIGHT_CERT_WARN_DAYS: a warning; else ok. */
#define PREFLIGHT_CERT_WARN_DAYS 21
enum preflight_status preflight_cert_status(int64_t days, int verified,
					    int verify_configured);
/* The room NEW needs for need bytes of mail: need plus a margin of
 * PREFLIGHT_SPACE_MARGIN_PCT percent and PREFLIGHT_SPACE_MARGIN_MIN
 * (Maildir file names, indexes, mail that arrives meanwhile), without
 * overflow. */
#define PREFLIGHT_SPACE_MARGIN_PCT 20
#define PREFLIGHT_SPACE_MARGIN_MIN (16 * 1024 * 1024ULL)
uint64_t preflight_space_required(uint64_t need);
/* free bytes against need: failed below need, a warning below
 * preflight_space_required(need), else ok. */
enum preflight_status preflight_space_status(uint64_t free_bytes, uint64_t need);

#endif
