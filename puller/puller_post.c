/*
 * NAME
 *	puller_post 3
 * SUMMARY
 *	after a finished copy: aliases and post_migrate_script
 * DESCRIPTION
 *	The addresses gathered from the account's received mail become
 *	aliases (OLD's own Received: hop) or proposals for the
 *	administrator. When the account is finished, post_migrate_script
 *	runs with the address as its only argument and the captured
 *	password on stdin; its exit status and first line of output are
 *	an event. Neither can fail the copy.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "copy.h"
#include "log.h"
#include "mm_alloc.h"

/* An address gathered from the headers may become an alias when its
 * domain is served here and it is no other account, nor another
 * account's alias (the first to claim it keeps it). */
int copy_alias_accept(const char *addr, void *context)
{
	struct copy *c = context;
	struct store_account other;
	char owner[STORE_MAX_ACCOUNT];
	const char *at = strrchr(addr, '@'), *error;
	int ret;

	if (at == NULL || cfg_domain_find(c->p->cfg, at + 1) == NULL)
		return 0;
	ret = store_account_get(c->p->store, addr, &other, &error);
	if (ret == 0)
		store_account_clear(&other);
	if (ret != STORE_NOTFOUND)
		return 0;
	ret = store_alias_lookup(c->p->store, addr, owner, sizeof(owner), &error);
	if (ret == 0 && strcmp(owner, c->account) != 0) {
		copy_event(c, LOG_SEV_WARNING, "address %s seen in this account's mail "
			   "is already an alias of %s: left there", addr, owner);
		return 0;
	}
	return ret == 0 || ret == STORE_NOTFOUND;
}

/* Only OLD's own Received: hop makes an alias at once: every other
 * header is the sender's word, a proposal for the administrator. */
void copy_alias_record(const struct alias_tally_found *f, void *context)
{
	struct copy *c = context;
	const char *error;
	int ret;

	if (f->trusted)
		ret = store_proposal_trust(c->p->store, c->account, f->addr,
					   f->sources, f->messages, time(NULL), &error);
	else
		ret = store_proposal_add(c->p->store, c->account, f->addr, f->sources,
					 f->messages, time(NULL), &error);
	if (ret < 0)
		copy_event(c, LOG_SEV_ERROR, "alias %s not recorded: %s", f->addr, error);
	else if (ret == 0 && f->trusted)
		copy_event(c, LOG_SEV_INFO, "alias %s added (OLD's own Received: hop)",
			   f->addr);
	else if (ret == 0)
		copy_event(c, LOG_SEV_INFO, "alias %s proposed: it waits for "
			   "`mailmigrate aliases approve`", f->addr);
}

#define POST_SCRIPT_TIMEOUT 300

/* Run post_migrate_script for a finished account: the address as its
 * only argument, the captured password (if any) on stdin, never in the
 * arguments or the environment. Its exit status and first line of
 * output go to the event log. */
void copy_post_script(struct copy *c)
{
	const char *script = c->p->cfg->post_migrate_script, *error;
	char *password = NULL, line[512] = "", buf[4096];
	int in[2], out[2], status = 0, line_done = 0, ready;
	size_t linelen = 0;
	time_t deadline;
	pid_t pid;

	if (script == NULL || script[0] == '\0')
		return;
	if (store_cred_get(c->p->store, c->account, &password, &error) < 0)
		copy_event(c, LOG_SEV_WARNING, "post_migrate_script: no password to "
			   "give it: %s", error);
	if (pipe(in) < 0 || pipe(out) < 0) {
		copy_event(c, LOG_SEV_ERROR, "post_migrate_script: pipe: %s",
			   strerror(errno));
		mm_free_secret(&password);
		return;
	}
	pid = fork();
	if (pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(out[1], STDERR_FILENO);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execl(script, script, c->account, (char *)NULL);
		fprintf(stderr, "cannot run %s: %s\n", script, strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (pid > 0 && password != NULL) {
		size_t len = strlen(password);
		struct sigaction ign = { .sa_handler = SIG_IGN }, old;

		/* A script that does not read stdin must not kill us. */
		sigaction(SIGPIPE, &ign, &old);
		if (write(in[1], password, len) != (ssize_t)len || write(in[1], "\n", 1) != 1)
			log_warning("%s: post_migrate_script did not take the password",
				    c->account);
		sigaction(SIGPIPE, &old, NULL);
	}
	mm_free_secret(&password);
	close(in[1]);
	if (pid < 0) {
		close(out[0]);
		copy_event(c, LOG_SEV_ERROR, "post_migrate_script: fork: %s",
			   strerror(errno));
		return;
	}
	/* The first line, bounded; the rest read and dropped until the
	 * script closes its output or its time is up. */
	deadline = time(NULL) + POST_SCRIPT_TIMEOUT;
	for (;;) {
		struct pollfd pfd = { .fd = out[0], .events = POLLIN };
		ssize_t n;

		ready = poll(&pfd, 1, 1000);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready == 0) {
			if (time(NULL) < deadline)
				continue;
			kill(pid, SIGKILL);
			snprintf(line, sizeof(line), "(killed after %d s)", POST_SCRIPT_TIMEOUT);
			linelen = strlen(line);
			break;
		}
		n = read(out[0], buf, sizeof(buf));
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n && !line_done; i++) {
			if (buf[i] == '\n')
				line_done = 1;
			else if (linelen + 1 < sizeof(line))
				line[linelen++] = buf[i];
		}
	}
	line[linelen] = '\0';
	close(out[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	{
		char shown[sizeof(line)];

		log_printable(shown, sizeof(shown), line, linelen);
		if (WIFEXITED(status))
			copy_event(c, WEXITSTATUS(status) == 0 ? LOG_SEV_INFO :
				   LOG_SEV_ERROR, "post_migrate_script exited %d: %s",
				   WEXITSTATUS(status), shown);
		else
			copy_event(c, LOG_SEV_ERROR, "post_migrate_script killed by "
				   "signal %d: %s", WIFSIGNALED(status) ?
				   WTERMSIG(status) : 0, shown);
	}
}
