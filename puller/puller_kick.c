/*
 * NAME
 *	puller_kick 3
 * SUMMARY
 *	end a migrated user's sessions that NEW proxies to OLD
 * DESCRIPTION
 *	With login_action = proxy, Dovecot on NEW proxies a user's
 *	sessions to OLD until the copy is done; the next login is local.
 *	Clients stay connected for hours, so when an account is copied
 *	its proxied sessions are ended (`doveadm proxy kick USER`, with
 *	target_doveadm_config when set) and the clients reconnect, to
 *	NEW. A failure is logged and otherwise ignored: the sessions end
 *	by themselves some time, and then the next login is local.
 *	Only the user name goes on doveadm's command line; no password.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "puller.h"
#include "spawn.h"

#define PULLER_KICK_TIMEOUT_S 10
#define PULLER_DOVEADM "doveadm"

void puller_kick(struct puller *p, const char *account)
{
	const struct cfg_domain *dom;
	struct store_account acct;
	const char *at = strchr(account, '@'), *conf = p->cfg->target_doveadm_config;
	const char *error, *step;
	char *argv[7];
	struct spawn_opts o = { .argv = argv, .envp = environ, .path_search = 1,
				.timeout_ms = PULLER_KICK_TIMEOUT_S * 1000 };
	struct spawn_result r;
	int copied, status, n = 0;

	dom = at != NULL ? cfg_domain_find(p->cfg, at + 1) : NULL;
	if (dom == NULL || dom->login_action != CFG_LOGIN_PROXY)
		return;
	if (store_account_get(p->store, account, &acct, &error) != 0)
		return;
	copied = acct.state == STORE_STATE_COPIED || acct.state == STORE_STATE_FINISHED;
	store_account_clear(&acct);
	if (!copied)
		return;
	argv[n++] = PULLER_DOVEADM;
	if (conf != NULL) {
		argv[n++] = "-c";
		argv[n++] = (char *)conf;
	}
	argv[n++] = "proxy";
	argv[n++] = "kick";
	argv[n++] = (char *)account;
	argv[n] = NULL;
	if (spawn_run(&o, &r, &step) < 0) {
		log_warning("%s: cannot kick proxied sessions: %s: %s", account, step,
			    strerror(errno));
		return;
	}
	/* Not run at all is what a shell would say: 127. */
	status = r.end == SPAWN_END_EXITED ? r.code :
		 r.end == SPAWN_END_NOT_RUN ? 127 : -1;
	spawn_result_clear(&r);
	if (status != 0)
		log_warning("%s: doveadm proxy kick failed (status %d); its proxied "
			    "sessions end when the clients disconnect", account, status);
	else
		log_info("%s: copied; sessions proxied to OLD kicked", account);
}
