/*
 * NAME
 *	cli_preflight_dav 3
 * SUMMARY
 *	preflight's calendars and address books (migrate_dav)
 * DESCRIPTION
 *	preflight_old_dav(), for each USER of a domain with migrate_dav:
 *	OLD's DAV server as the puller will ask it (source_dav_url, the
 *	user's login and password, RFC 6764 discovery): the user's
 *	calendars and address books and their items, counted. No password
 *	given (an administrator's login): not asked, a warning.
 *	preflight_new_dav(), for each such domain: NEW's DAV server
 *	(target_dav_url) answers HTTP with a DAV server's answer (a login
 *	asked for, a multistatus, a redirect): the accounts' own logins are
 *	not known before their first round.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli_preflight.h"
#include "dav_collection.h"
#include "dav_discover.h"
#include "dav_http.h"
#include "mm_alloc.h"
#include "token_cmd.h"

struct dav_count {
	struct dav_http *h;
	uint64_t collections, items;
	enum stream_fail fail;
	const char *error;
	int failed;
};

static int dav_count_item(const struct dav_item *it, void *ctx)
{
	(void)it;
	((struct dav_count *)ctx)->items++;
	return 0;
}

static int dav_count_collection(const struct dav_collection *c, void *ctx)
{
	struct dav_count *n = ctx;

	n->collections++;
	if (dav_list_items(n->h, c->url, dav_count_item, n, &n->fail, &n->error) < 0) {
		n->failed = 1;
		return 1;
	}
	return 0;
}

void preflight_old_dav(struct preflight *pf, const struct preflight_check *check,
		       const struct cfg_domain *dom, struct preflight_user *u)
{
	const struct cfg *cfg = pf->ctx->cfg;
	struct dav_http_settings set = { 0 };
	struct dav_count n[2];
	char login[CFG_LOGIN_MAX + 1], *base, *home = NULL, *token = NULL;
	enum stream_fail fail;
	const char *error;

	/* The public folders account has folders only (puller_copy.c). */
	if (u->error != NULL || dom->type != CFG_DOMAIN_BACKUP || !dom->migrate_dav ||
	    cfg_is_public_account(dom, u->account))
		return;
	if (dom->source_auth != CFG_AUTH_PASSWORD) {
		/* OAuth: a token, as the rounds get one */
		if (token_cmd_run(dom->source_oauth2_token_command, u->account,
				  cfg->connect_timeout * 1000, &token, &fail, &error) < 0) {
			preflight_report(pf, check, dom, PREFLIGHT_FAILED, "fix "
					 "source_oauth2_token_command", "dav %s: %s",
					 u->account, error);
			return;
		}
	} else if (u->password == NULL) {
		preflight_report(pf, check, dom, PREFLIGHT_WARNING, "give the user's "
				 "password on stdin", "dav %s: no password given: OLD's "
				 "calendars and address books not looked at", u->account);
		return;
	}
	if (cfg_login_name(dom, u->account, login, sizeof(login), &error) < 0) {
		preflight_report(pf, check, dom, PREFLIGHT_FAILED, "fix source_login",
				 "dav %s: %s", u->account, error);
		mm_free_secret(&token);
		return;
	}
	base = cfg_expand_user(dom->source_dav_url, u->account);
	if (token != NULL) {
		set.bearer = token;
	} else {
		set.user = login;
		set.password = u->password;
	}
	set.timeout_ms = (long)cfg->io_timeout * 1000;
	set.tls_verify = dom->source_tls_verify;
	set.ca_file = dom->source_tls_ca_file;
	memset(n, 0, sizeof(n));
	n[0].h = n[1].h = dav_http_new(&set);
	mm_free_secret(&token);
	preflight_value_str(pf, "url", base);
	for (int s = 0; s < 2; s++) {
		enum dav_service svc = s == 0 ? DAV_CALDAV : DAV_CARDDAV;
		const char *what = s == 0 ? "CalDAV" : "CardDAV";

		mm_free(&home);
		if (dav_discover(n[s].h, base, svc, &home, &n[s].fail, &n[s].error) < 0 ||
		    dav_list_collections(n[s].h, home, svc, dav_count_collection, &n[s],
					 &n[s].fail, &n[s].error) < 0 || n[s].failed) {
			enum stream_fail policy = stream_fail_policy(n[s].fail);

			preflight_report(pf, check, dom, policy == STREAM_FAIL_TEMP ||
					 policy == STREAM_FAIL_WAIT ? PREFLIGHT_WARNING :
					 PREFLIGHT_FAILED, n[s].fail == STREAM_FAIL_AUTH ?
					 dom->source_auth != CFG_AUTH_PASSWORD ?
					 "check source_oauth2_token_command's tokens on "
					 "OLD's DAV server" :
					 "check the password on OLD's DAV server (and "
					 "source_login)" : "fix source_dav_url, or set "
					 "migrate_dav = no", "dav %s: OLD's %s at %s: %s",
					 u->account, what, base, n[s].error);
			goto out;
		}
	}
	preflight_value_u64(pf, "calendars", n[0].collections);
	preflight_value_u64(pf, "calendar_items", n[0].items);
	preflight_value_u64(pf, "addressbooks", n[1].collections);
	preflight_value_u64(pf, "contacts", n[1].items);
	preflight_report(pf, check, dom, PREFLIGHT_OK, NULL, "dav %s: OLD has %llu "
			 "calendars (%llu items) and %llu address books (%llu "
			 "contacts)", u->account, (unsigned long long)n[0].collections,
			 (unsigned long long)n[0].items,
			 (unsigned long long)n[1].collections,
			 (unsigned long long)n[1].items);
out:
	mm_free(&home);
	mm_free(&base);
	dav_http_free(&n[0].h);
}

void preflight_new_dav(struct preflight *pf, const struct preflight_check *check,
		       const struct cfg_domain *dom, struct preflight_user *user)
{
	struct dav_http_settings set = { 0 };
	struct dav_http *h;
	struct dav_reply r;
	enum stream_fail fail;
	const char *error;
	char *base, *wk;
	int ret;

	(void)user;
	if (dom->type != CFG_DOMAIN_BACKUP || !dom->migrate_dav)
		return;
	/* the server, not a user's home: its well-known URI, no login */
	base = cfg_expand_user(dom->target_dav_url, "postmaster");
	wk = dav_resolve(base, "/.well-known/caldav");
	set.timeout_ms = (long)pf->ctx->cfg->io_timeout * 1000;
	set.tls_verify = 1;
	h = dav_http_new(&set);
	preflight_value_str(pf, "url", base);
	memset(&r, 0, sizeof(r));
	ret = wk == NULL ? -1 : dav_http_request(h, "PROPFIND", wk, "0", NULL, NULL, 0, NULL,
						 NULL, &r, &fail, &error);
	if (wk == NULL)
		preflight_report(pf, check, dom, PREFLIGHT_FAILED, "fix target_dav_url",
				 "dav: target_dav_url %s is not a URL", base);
	else if (ret < 0 && fail != STREAM_FAIL_AUTH)
		preflight_report(pf, check, dom, PREFLIGHT_FAILED, "start NEW's DAV "
				 "server (Radicale, SOGo, Nextcloud), or fix "
				 "target_dav_url", "dav: NEW's %s: %s", wk, error);
	else
		preflight_report(pf, check, dom, PREFLIGHT_OK, NULL, "dav: NEW's DAV "
				 "server answers at %s (%s)", wk, ret < 0 ? "asks for a login" :
				 r.status == 207 ? "a multistatus" : r.status / 100 == 3 ?
				 "a redirect" : "an HTTP answer");
	dav_reply_clear(&r);
	dav_http_free(&h);
	mm_free(&wk);
	mm_free(&base);
}
