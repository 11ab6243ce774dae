/*
 * NAME
 *	cli_ctx 3
 * SUMMARY
 *	mailmigrate(8) set-up: configuration, store, key, account names
 * DESCRIPTION
 *	Each verb asks for what it needs, in this order: the
 *	configuration, the store (read-only for the verbs that only
 *	look), the key (only to seal or open passwords). Every failure
 *	here is reported once, on stderr, by the function that saw it.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "mm_alloc.h"

/* Load the configuration file. */
int cli_ctx_config(struct cli_ctx *ctx)
{
	const char *path = cfg_path(ctx->config_path);
	const char *error;

	if (ctx->cfg != NULL)
		return 0;
	if (cfg_load(path, &ctx->cfg, &error) < 0) {
		cli_error("%s", error);
		return -1;
	}
	return 0;
}

/* Open the store named by state_dir. */
int cli_ctx_store(struct cli_ctx *ctx, int create, int readonly)
{
	struct store_options opts = { 0 };
	const char *error;

	if (ctx->store != NULL)
		return 0;
	if (cli_ctx_config(ctx) < 0)
		return -1;
	opts.create = create;
	opts.readonly = readonly;
	if (store_open_cfg(ctx->cfg, &opts, &ctx->store, &error) < 0) {
		cli_error("%s", error);
		return -1;
	}
	if (ctx->held_event != NULL && !readonly) {
		char *text = ctx->held_event;

		ctx->held_event = NULL;
		cli_ctx_event(ctx, ctx->held_sev, NULL, "%s", text);
		mm_free(&text);
	}
	return 0;
}

/* Load key_file into the store, wiping our copy. */
int cli_ctx_key(struct cli_ctx *ctx)
{
	struct crypto_key key;
	const char *error;

	if (ctx->have_key)
		return 0;
	if (crypto_key_load(ctx->cfg->key_file, &key, &error) < 0) {
		cli_error("%s", error);
		return -1;
	}
	store_set_key(ctx->store, &key);
	crypto_key_wipe(&key);
	ctx->have_key = 1;
	return 0;
}

/* Close the store and free the configuration. */
void cli_ctx_free(struct cli_ctx *ctx)
{
	store_close(&ctx->store);
	cfg_free(&ctx->cfg);
	mm_free(&ctx->held_event);
	ctx->have_key = 0;
}

/* Resolve USER, USER@DOMAIN, --domain and default_domain. */
int cli_ctx_account(const struct cli_ctx *ctx, const char *user,
		    const char *domain, char *buf, const char **error_r)
{
	if (strchr(user, '@') == NULL && (domain == NULL || *domain == '\0')) {
		domain = ctx->cfg->default_domain;
		if (domain == NULL || *domain == '\0')
			return CLI_NAME_NODOMAIN;
	}
	return store_account_name(user, domain, buf, STORE_MAX_ACCOUNT, error_r);
}

/* The account named by a USER argument, for verb; 0, or the exit
 * status after the error has been reported. */
int cli_ctx_user_arg(const struct cli_ctx *ctx, const char *verb,
		     const char *user, const char *domain, char *buf)
{
	char shown[200];
	const char *error;
	int ret = cli_ctx_account(ctx, user, domain, buf, &error);

	if (ret == 0)
		return 0;
	cli_printable(user, shown, sizeof(shown));
	if (ret == CLI_NAME_NODOMAIN)
		return cli_usage_error("%s: no domain for '%s': give USER@DOMAIN "
				       "or --domain, or set default_domain", verb,
				       shown);
	cli_error("%s: '%s': %s", verb, shown, error);
	return CLI_EXIT_INPUT;
}

/* The configured [domain] of an account, if sections exist. */
int cli_ctx_domain(const struct cli_ctx *ctx, const char *account,
		   const struct cfg_domain **dom_r)
{
	const char *at = strchr(account, '@');

	*dom_r = NULL;
	if (ctx->cfg->domains_count == 0)
		return 0;
	*dom_r = at != NULL ? cfg_domain_find(ctx->cfg, at + 1) : NULL;
	return *dom_r != NULL ? 0 : -1;
}

/* Record what the administrator did in the store's event log. */
void cli_ctx_event(struct cli_ctx *ctx, enum log_severity sev,
		   const char *account, const char *fmt, ...)
{
	char text[STORE_MAX_EVENT_TEXT + 1];
	const char *error;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (ctx->store == NULL) {
		/* Global events only come before the store (init). */
		mm_free(&ctx->held_event);
		ctx->held_event = mm_strdup(text);
		ctx->held_sev = sev;
		return;
	}
	if (store_event_add(ctx->store, time(NULL), sev, account, text,
			    &error) < 0)
		cli_error("warning: cannot log an event: %s", error);
}

int cli_names_collect(const struct store_account *acct, void *context)
{
	struct cli_names *n = context;

	if ((n->states & (1u << acct->state)) == 0)
		return 0;
	n->names = mm_reallocarray(n->names, n->count + 1, sizeof(char *));
	n->names[n->count++] = mm_strdup(acct->name);
	return 0;
}

void cli_names_free(struct cli_names *n)
{
	for (size_t i = 0; i < n->count; i++)
		mm_free(&n->names[i]);
	mm_free(&n->names);
	n->count = 0;
}

int cli_ctx_names(struct cli_ctx *ctx, const char *verb, const char *account,
		  struct cli_names *n)
{
	struct store_account acct;
	const char *error;
	int ret;

	if (account == NULL) {
		if (store_account_iter(ctx->store, cli_names_collect, n, &error) < 0) {
			cli_names_free(n);
			cli_error("%s: %s", verb, error);
			return CLI_EXIT_SYSTEM;
		}
		return 0;
	}
	ret = store_account_get(ctx->store, account, &acct, &error);
	if (ret < 0) {
		cli_error("%s: %s", verb, error);
		return CLI_EXIT_SYSTEM;
	}
	if (ret == STORE_NOTFOUND) {
		cli_error("%s: account '%s' does not exist", verb, account);
		return CLI_EXIT_INPUT;
	}
	ret = acct.state;
	store_account_clear(&acct);
	if ((n->states & (1u << ret)) == 0) {
		cli_error("%s: account '%s' is %s%s", verb, account,
			  store_state_name((enum store_state)ret),
			  ret == STORE_STATE_PASSWORDS_ONLY ? ": no messages are copied" :
			  ": no round has started");
		return CLI_EXIT_INPUT;
	}
	n->names = mm_calloc(1, sizeof(char *));
	n->names[0] = mm_strdup(account);
	n->count = 1;
	return 0;
}
