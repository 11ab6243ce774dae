/*
 * NAME
 *	cli_preflight 3
 * SUMMARY
 *	mailmigrate preflight: what to fix before (and while) migrating
 * DESCRIPTION
 *	Read-only (cli_preflight(3h)). Each check in preflight_checks[]
 *	runs once, once per configured domain, or once per USER operand,
 *	in the order of the table (a run of per-domain rows domain by
 *	domain, a run of per-user rows user by user), and reports lines:
 *	a status (ok, warning, failed), the domain or account (or none),
 *	what it found, and for a warning or a failure what to do. New
 *	checks are new rows of the table.
 *
 *	Here: the table, the report, the USER operands and their
 *	passwords (stdin, one line per USER that needs one, as add takes
 *	it), and the checks of this host's files: the store, the key
 *	files (sealed to the key pair, or still with an old key_file the
 *	auth workers read), the TLS settings for OLD (source_tls and the
 *	store's TLS memory, per protocol), certificate verification, and
 *	an OAuth domain's source_oauth2_token_command (an executable
 *	regular file that only its owner may change).
 * DIAGNOSTICS
 *	Exit status CLI_EXIT_OK when nothing failed (warnings allowed),
 *	CLI_EXIT_INPUT when a check failed, CLI_EXIT_SYSTEM when the
 *	configuration cannot be read.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_preflight.h"
#include "crypto.h"
#include "linereader.h"
#include "mm_alloc.h"

static const char *const preflight_status_names[] = { "ok", "warning", "failed" };

void preflight_value_u64(struct preflight *pf, const char *key, uint64_t num)
{
	if (pf->values_count == PREFLIGHT_MAX_VALUES)
		return;
	pf->values[pf->values_count++] = (struct preflight_value){ .key = key, .num = num };
}

void preflight_value_i64(struct preflight *pf, const char *key, int64_t num)
{
	if (pf->values_count == PREFLIGHT_MAX_VALUES)
		return;
	pf->values[pf->values_count++] = (struct preflight_value){ .key = key, .snum = num,
								   .is_signed = 1 };
}

void preflight_value_str(struct preflight *pf, const char *key, const char *str)
{
	size_t i = pf->values_count;

	if (i == PREFLIGHT_MAX_VALUES)
		return;
	/* Copied: the text may live in a buffer the next call reuses. */
	if (str != NULL)
		snprintf(pf->strbuf[i], sizeof(pf->strbuf[i]), "%s", str);
	pf->values[i] = (struct preflight_value){ .key = key, .str = pf->strbuf[i],
						  .is_null = str == NULL };
	pf->values_count++;
}

void preflight_report(struct preflight *pf, const struct preflight_check *check,
		      const struct cfg_domain *dom, enum preflight_status status,
		      const char *hint, const char *fmt, ...)
{
	const char *who = pf->user != NULL ? pf->user->account :
		dom != NULL ? dom->name : NULL;
	char text[1024], shown[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	pf->counts[status]++;
	if (pf->as_json) {
		cli_json_object(&pf->json, NULL);
		cli_json_str(&pf->json, "check", check->name);
		cli_json_str(&pf->json, "domain", dom != NULL ? dom->name : NULL);
		if (pf->user != NULL)
			cli_json_str(&pf->json, "user", pf->user->account);
		cli_json_str(&pf->json, "status", preflight_status_names[status]);
		cli_json_str(&pf->json, "message", text);
		cli_json_str(&pf->json, "hint", hint);
		for (size_t i = 0; i < pf->values_count; i++) {
			const struct preflight_value *v = &pf->values[i];

			if (v->is_null)
				cli_json_null(&pf->json, v->key);
			else if (v->is_signed)
				cli_json_i64(&pf->json, v->key, v->snum);
			else if (v->str != NULL)
				cli_json_str(&pf->json, v->key, v->str);
			else
				cli_json_u64(&pf->json, v->key, v->num);
		}
		cli_json_end(&pf->json, '}');
	} else {
		/* Server text is in there: shown printable. */
		cli_printable(text, shown, sizeof(shown));
		printf("%-8s%s%s%s%s%s\n", preflight_status_names[status],
		       who != NULL ? who : "", who != NULL ? ": " : "", shown,
		       hint != NULL ? "; " : "", hint != NULL ? hint : "");
	}
	pf->values_count = 0;
}

/* "2026-12-03 08:00:00 UTC" */
const char *preflight_time(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, size, "?");
	return buf;
}

/* --- checks ----------------------------------------------------------- */

/* Can the store be read? Everything the migration knows is there. */
static void preflight_store(struct preflight *pf, const struct preflight_check *check,
			    const struct cfg_domain *dom, struct preflight_user *user)
{
	const char *spec = pf->ctx->cfg->store;
	int lmdb = strncmp(spec, "lmdb:", 5) == 0;

	(void)dom;
	(void)user;
	/* LMDB by its directory, as before; PostgreSQL by its spec. */
	if (lmdb)
		spec += 5;
	if (pf->ctx->store == NULL)
		preflight_report(pf, check, NULL, PREFLIGHT_FAILED, lmdb ?
				 "run `mailmigrate init`, or fix state_dir" :
				 "run `mailmigrate init`, or fix store (and "
				 "store_password_file)",
				 "store %s: %s", spec, pf->store_error);
	else
		preflight_report(pf, check, NULL, PREFLIGHT_OK, NULL,
				 "store %s readable", spec);
}

/* The TLS memory for one protocol of a detect domain. */
/* What a login sends OLD: passwords, or OAuth tokens (source_auth). */
static const char *preflight_secrets(const struct cfg_domain *dom)
{
	return dom->source_auth == CFG_AUTH_PASSWORD ? "passwords" : "tokens";
}

static void preflight_tls_memory(struct preflight *pf, const struct preflight_check *check,
				 const struct cfg_domain *dom, const char *proto)
{
	const char *error;
	char when[40];
	int64_t since = 0;
	int ret;

	if (pf->ctx->store == NULL) {
		preflight_report(pf, check, dom, PREFLIGHT_WARNING, NULL,
				 "%s: source_tls = detect, and whether OLD offered "
				 "STARTTLS is unknown (no store)", proto);
		return;
	}
	ret = store_tls_seen_get(pf->ctx->store, dom->name, proto, &since, &error);
	if (ret < 0) {
		preflight_report(pf, check, dom, PREFLIGHT_FAILED, NULL,
				 "%s: the TLS memory cannot be read: %s", proto, error);
	} else if (ret == 0) {
		preflight_report(pf, check, dom, PREFLIGHT_OK, NULL,
				 "%s: STARTTLS seen on OLD since %s; plaintext refused",
				 proto, preflight_time(since, when, sizeof(when)));
	} else {
		preflight_report(pf, check, dom, PREFLIGHT_WARNING,
				 "set source_tls = starttls (or direct) if OLD has TLS",
				 "%s: source_tls = detect and STARTTLS never seen on OLD: "
				 "%s may go in clear", proto, preflight_secrets(dom));
	}
}

/* How the checks on OLD are secured: source_tls, and for detect what
 * the store remembers of each protocol the domain uses. */
static void preflight_source_tls(struct preflight *pf, const struct preflight_check *check,
				 const struct cfg_domain *dom, struct preflight_user *user)
{
	(void)user;
	if (dom->type != CFG_DOMAIN_BACKUP)
		return;
	switch (dom->source_tls) {
	case CFG_TLS_NONE:
		preflight_report(pf, check, dom, PREFLIGHT_WARNING,
				 "set source_tls = starttls or direct if OLD has TLS",
				 "source_tls = none: %s go to OLD in clear",
				 preflight_secrets(dom));
		break;
	case CFG_TLS_DETECT:
		if (dom->source_protocols != CFG_PROTO_POP3)
			preflight_tls_memory(pf, check, dom, STORE_TLS_IMAP);
		if (dom->source_protocols != CFG_PROTO_IMAP)
			preflight_tls_memory(pf, check, dom, STORE_TLS_POP3);
		break;
	case CFG_TLS_STARTTLS:
	case CFG_TLS_DIRECT:
		preflight_report(pf, check, dom, PREFLIGHT_OK, NULL,
				 "source_tls = %s: TLS required",
				 cfg_tls_name(dom->source_tls));
		break;
	}
}

/* Is OLD's certificate checked? Without it, TLS keeps out readers but
 * not someone on the path, and a changed password on OLD is not taken. */
static void preflight_source_tls_verify(struct preflight *pf,
					const struct preflight_check *check,
					const struct cfg_domain *dom, struct preflight_user *user)
{
	(void)user;
	if (dom->type != CFG_DOMAIN_BACKUP || dom->source_tls == CFG_TLS_NONE)
		return;
	if (dom->source_tls_verify)
		preflight_report(pf, check, dom, PREFLIGHT_OK, NULL,
				 "OLD's TLS certificate is verified");
	else
		preflight_report(pf, check, dom, PREFLIGHT_WARNING,
				 "give OLD a valid certificate (or source_tls_ca_file) "
				 "and set source_tls_verify = yes",
				 "source_tls_verify = no: OLD's certificate is not "
				 "checked, and passwords changed on OLD are not taken");
}

/* The key files: whether captured passwords are sealed to the key pair
 * (the auth workers hold only public_key_file) or, on an install not
 * upgraded since, with key_file, which the auth workers then read. */
static void preflight_keys(struct preflight *pf, const struct preflight_check *check,
			   const struct cfg_domain *dom, struct preflight_user *user)
{
	const struct cfg *cfg = pf->ctx->cfg;
	struct crypto_key key;
	struct stat st;
	const char *error;

	(void)dom;
	(void)user;
	if (crypto_key_load(cfg->key_file, &key, &error) < 0) {
		preflight_report(pf, check, NULL, PREFLIGHT_FAILED,
				 "run `mailmigrate init`, or fix key_file", "%s", error);
		return;
	}
	if ((key.have & CRYPTO_HAVE_PRIVATE) == 0)
		preflight_report(pf, check, NULL, PREFLIGHT_WARNING,
				 "run `mailmigrate init` (it adds the key pair and "
				 "public_key_file), give the auth workers only "
				 "public_key_file, and make key_file 0600",
				 "key_file %s has the old layout: the auth workers seal "
				 "with it, so whoever they run as can open every "
				 "captured password", cfg->key_file);
	else if (crypto_public_check(&key, cfg->public_key_file, &error) < 0)
		preflight_report(pf, check, NULL, PREFLIGHT_FAILED,
				 "run `mailmigrate init` to write public_key_file",
				 "%s", error);
	else if (stat(cfg->key_file, &st) == 0 && (st.st_mode & S_IRGRP) != 0)
		preflight_report(pf, check, NULL, PREFLIGHT_WARNING,
				 "chmod 600 key_file: the auth workers need only "
				 "public_key_file",
				 "key_file %s is readable by its group, which can open "
				 "every captured password", cfg->key_file);
	else
		preflight_report(pf, check, NULL, PREFLIGHT_OK, NULL,
				 "key_file %s holds the key pair, public_key_file %s "
				 "matches it", cfg->key_file, cfg->public_key_file);
	crypto_key_wipe(&key);
}

/* Checks that run once come first, then each domain's in turn. */
/* source_oauth2_token_command: can the puller run it, and can nobody
 * but its owner change it (it hands out every account's token)? Not
 * run: that would ask the token service. */
static void preflight_token_command(struct preflight *pf,
				    const struct preflight_check *check,
				    const struct cfg_domain *dom, struct preflight_user *user)
{
	const char *cmd = dom->source_oauth2_token_command;
	struct stat st;

	(void)user;
	if (dom->type != CFG_DOMAIN_BACKUP || dom->source_auth == CFG_AUTH_PASSWORD)
		return;
	if (stat(cmd, &st) < 0 || !S_ISREG(st.st_mode) || access(cmd, X_OK) < 0)
		preflight_report(pf, check, dom, PREFLIGHT_FAILED,
				 "install it, or fix source_oauth2_token_command",
				 "source_oauth2_token_command %s: %s", cmd,
				 stat(cmd, &st) < 0 ? strerror(errno) :
				 !S_ISREG(st.st_mode) ? "not a regular file" :
				 "not executable");
	else if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		preflight_report(pf, check, dom, PREFLIGHT_WARNING,
				 "chmod go-w it",
				 "source_oauth2_token_command %s is writable by "
				 "group or others: whoever changes it gets every "
				 "account's token", cmd);
	else
		preflight_report(pf, check, dom, PREFLIGHT_OK, NULL,
				 "source_oauth2_token_command %s is executable "
				 "(source_auth = %s)", cmd,
				 cfg_source_auth_name(dom->source_auth));
}

static const struct preflight_check preflight_checks[] = {
	{ "store", PREFLIGHT_ONCE, preflight_store, 0 },
	{ "keys", PREFLIGHT_ONCE, preflight_keys, 0 },
	{ "source_tls", PREFLIGHT_DOMAIN, preflight_source_tls, 0 },
	{ "source_tls_verify", PREFLIGHT_DOMAIN, preflight_source_tls_verify, 0 },
	{ "source_oauth2_token_command", PREFLIGHT_DOMAIN, preflight_token_command, 0 },
	{ "old_imap", PREFLIGHT_DOMAIN, preflight_old_imap, 1 },
	{ "old_pop3", PREFLIGHT_DOMAIN, preflight_old_pop3, 1 },
	{ "old_sieve", PREFLIGHT_DOMAIN, preflight_old_sieve, 1 },
	{ "old_user", PREFLIGHT_USER, preflight_old_user, 1 },
	{ "old_dav", PREFLIGHT_USER, preflight_old_dav, 1 },
	{ "new_login", PREFLIGHT_ONCE, preflight_new_login, 1 },
	{ "new_space", PREFLIGHT_ONCE, preflight_new_space, 0 },
	{ "new_sieve", PREFLIGHT_ONCE, preflight_new_sieve, 1 },
	{ "new_dav", PREFLIGHT_DOMAIN, preflight_new_dav, 1 },
	{ "postconf", PREFLIGHT_ONCE, preflight_postconf, 1 },
	{ "doveconf", PREFLIGHT_ONCE, preflight_doveconf, 1 },
	{ "relay", PREFLIGHT_ONCE, preflight_relay, 1 },
};
#define PREFLIGHT_CHECKS (sizeof(preflight_checks) / sizeof(preflight_checks[0]))

/* Does checking user on OLD need its password on stdin? Not with an
 * administrator's login or OAuth, nor for a domain OLD is done with. */
static int preflight_needs_password(const struct preflight_user *u)
{
	return u->error == NULL && u->dom != NULL && u->dom->type == CFG_DOMAIN_BACKUP &&
		u->dom->source_auth == CFG_AUTH_PASSWORD &&
		u->dom->source_admin_user == NULL;
}

/* Each USER's account and domain, and the passwords: one line of stdin
 * for each USER that needs one, in order (or asked on the terminal).
 * A bad USER is a finding (failed), not the end. 0, or an exit status
 * (reported). */
static int preflight_users(struct preflight *pf, char **args, size_t count)
{
	struct linereader *lr = NULL;
	const char *error;
	int ret = 0;

	pf->users = mm_calloc(count == 0 ? 1 : count, sizeof(*pf->users));
	pf->users_count = count;
	for (size_t i = 0; i < count; i++) {
		struct preflight_user *u = &pf->users[i];

		u->arg = args[i];
		ret = cli_ctx_account(pf->ctx, args[i], NULL, u->account, &error);
		if (ret != 0) {
			/* Shown as given, made printable. */
			cli_printable(args[i], u->account, sizeof(u->account));
			u->error = ret == CLI_NAME_NODOMAIN ?
				mm_strdup("no domain: give USER@DOMAIN, or set "
					  "default_domain") : mm_strdup(error);
			ret = 0;
		} else if (cli_ctx_domain(pf->ctx, u->account, &u->dom) < 0 || u->dom == NULL)
			u->error = mm_asprintf("no [domain] section for %s",
					       strchr(u->account, '@') + 1);
	}
	for (size_t i = 0; ret == 0 && i < count; i++) {
		struct preflight_user *u = &pf->users[i];
		const char *line;
		size_t len;

		if (!preflight_needs_password(u))
			continue;
		if (isatty(STDIN_FILENO)) {
			ret = cli_pass_read(u->account, &u->password);
			continue;
		}
		if (lr == NULL)
			lr = linereader_new(STDIN_FILENO, CLI_MAX_LINE);
		switch (linereader_next(lr, &line, &len)) {
		case LINEREADER_LINE:
			if (len > 0 && line[len - 1] == '\r')
				len--;
			if (len == 0 || memchr(line, '\0', len) != NULL)
				u->error = mm_strdup("the password line on stdin is "
						     "empty or holds a NUL byte");
			else
				u->password = mm_strndup(line, len);
			break;
		case LINEREADER_EOF:
			u->error = mm_strdup("no password for it on stdin (one line "
					     "per USER that logs in with its own)");
			break;
		case LINEREADER_TOOLONG:
			u->error = mm_asprintf("its password on stdin is over %d bytes",
					       CLI_MAX_LINE);
			break;
		case LINEREADER_ERROR:
			cli_error("preflight: cannot read stdin: %s", strerror(errno));
			ret = CLI_EXIT_SYSTEM;
			break;
		}
	}
	linereader_free(&lr);
	return ret;
}

static void preflight_users_free(struct preflight *pf)
{
	for (size_t i = 0; i < pf->users_count; i++) {
		mm_free_secret(&pf->users[i].password);
		mm_free(&pf->users[i].error);
	}
	mm_free(&pf->users);
}

/* Rows first..last-1 of one scope, for dom or for each user. */
static void preflight_run_rows(struct preflight *pf, size_t first, size_t last)
{
	const struct cfg *cfg = pf->ctx->cfg;

	switch (preflight_checks[first].scope) {
	case PREFLIGHT_ONCE:
		for (size_t i = first; i < last; i++)
			if (!pf->local || !preflight_checks[i].remote)
				preflight_checks[i].run(pf, &preflight_checks[i], NULL, NULL);
		break;
	case PREFLIGHT_DOMAIN:
		for (size_t d = 0; d < cfg->domains_count; d++)
			for (size_t i = first; i < last; i++)
				if (!pf->local || !preflight_checks[i].remote)
					preflight_checks[i].run(pf, &preflight_checks[i],
								&cfg->domains[d], NULL);
		break;
	case PREFLIGHT_USER:
		for (size_t u = 0; u < pf->users_count; u++) {
			pf->user = &pf->users[u];
			for (size_t i = first; i < last; i++)
				preflight_checks[i].run(pf, &preflight_checks[i],
							pf->users[u].dom, &pf->users[u]);
			pf->user = NULL;
		}
		break;
	}
}

/* mailmigrate preflight [USER...] [--json] [--local] */
int cli_cmd_preflight(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "local", no_argument, NULL, 'l' },
		CLI_COMMON_LONGOPTS
	};
	struct preflight pf = { 0 };
	struct store_options sopts = { .readonly = 1 };
	const char *error;
	int c, ret;

	pf.ctx = ctx;
	while ((c = cli_getopt(ctx, argc, argv, ":c:hjl", opts)) != -1) {
		switch (c) {
		case 'j':
			pf.as_json = 1;
			break;
		case 'l':
			pf.local = 1;
			break;
		case 'h':
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (argc - optind > 1000)
		return cli_usage_error("preflight: at most 1000 USERs");
	if (pf.local && optind != argc)
		return cli_usage_error("preflight: --local takes no USER (a USER is "
				       "checked on OLD)");
	if (cli_ctx_config(ctx) < 0)
		return CLI_EXIT_SYSTEM;
	if ((ret = preflight_users(&pf, argv + optind, (size_t)(argc - optind))) != 0) {
		preflight_users_free(&pf);
		return ret;
	}
	/* A store that cannot be opened is a finding, not the end. */
	if (store_open_cfg(ctx->cfg, &sopts, &ctx->store, &error) < 0) {
		pf.store_error = mm_strdup(error);
		ctx->store = NULL;
	}
	if (pf.as_json) {
		cli_json_init(&pf.json, stdout);
		cli_json_object(&pf.json, NULL);
		cli_json_array(&pf.json, "checks");
	}
	for (size_t i = 0, j; i < PREFLIGHT_CHECKS; i = j) {
		for (j = i + 1; j < PREFLIGHT_CHECKS &&
			     preflight_checks[j].scope == preflight_checks[i].scope; j++)
			;
		preflight_run_rows(&pf, i, j);
		fflush(stdout);
	}
	preflight_users_free(&pf);
	mm_free(&pf.store_error);
	if (pf.as_json) {
		cli_json_end(&pf.json, ']');
		cli_json_u64(&pf.json, "ok", pf.counts[PREFLIGHT_OK]);
		cli_json_u64(&pf.json, "warnings", pf.counts[PREFLIGHT_WARNING]);
		cli_json_u64(&pf.json, "failed", pf.counts[PREFLIGHT_FAILED]);
		cli_json_end(&pf.json, '}');
	} else {
		printf("%u ok, %u warnings, %u failed\n", pf.counts[PREFLIGHT_OK],
		       pf.counts[PREFLIGHT_WARNING], pf.counts[PREFLIGHT_FAILED]);
	}
	return pf.counts[PREFLIGHT_FAILED] != 0 ? CLI_EXIT_INPUT : CLI_EXIT_OK;
}
