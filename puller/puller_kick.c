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
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "puller.h"

#define PULLER_KICK_TIMEOUT_S 10
#define PULLER_DOVEADM "doveadm"

/* Wait for pid up to the timeout; kill it beyond. The exit status, or -1. */
static int puller_kick_wait(pid_t pid)
{
	struct timespec tick = { 0, 50 * 1000 * 1000 };
	int status;

	for (int i = 0; i < PULLER_KICK_TIMEOUT_S * 20; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (r < 0 && errno != EINTR)
			return -1;
		nanosleep(&tick, NULL);
	}
	kill(pid, SIGKILL);
	(void)waitpid(pid, &status, 0);
	return -1;
}

void puller_kick(struct puller *p, const char *account)
{
	const struct cfg_domain *dom;
	struct store_account acct;
	const char *at = strchr(account, '@'), *error;
	int copied, status;
	pid_t pid;

	dom = at != NULL ? cfg_domain_find(p->cfg, at + 1) : NULL;
	if (dom == NULL || dom->login_action != CFG_LOGIN_PROXY)
		return;
	if (store_account_get(p->store, account, &acct, &error) != 0)
		return;
	copied = acct.state == STORE_STATE_COPIED || acct.state == STORE_STATE_FINISHED;
	store_account_clear(&acct);
	if (!copied)
		return;
	pid = fork();
	if (pid < 0) {
		log_warning("%s: cannot kick proxied sessions: fork: %s", account,
			    strerror(errno));
		return;
	}
	if (pid == 0) {
		const char *conf = p->cfg->target_doveadm_config;
		int fd = open("/dev/null", O_RDWR);

		if (fd >= 0) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		if (conf != NULL)
			execlp(PULLER_DOVEADM, PULLER_DOVEADM, "-c", conf, "proxy",
			       "kick", account, (char *)NULL);
		else
			execlp(PULLER_DOVEADM, PULLER_DOVEADM, "proxy", "kick",
			       account, (char *)NULL);
		_exit(127);
	}
	status = puller_kick_wait(pid);
	if (status != 0)
		log_warning("%s: doveadm proxy kick failed (status %d); its proxied "
			    "sessions end when the clients disconnect", account, status);
	else
		log_info("%s: copied; sessions proxied to OLD kicked", account);
}
