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
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "copy.h"
#include "log.h"
#include "mm_alloc.h"
#include "spawn.h"

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
#define POST_SCRIPT_LINE 512

/* Run post_migrate_script for a finished account: the address as its
 * only argument, the captured password (if any) on stdin, never in the
 * arguments or the environment. Its exit status and first line of
 * output go to the event log. */
void copy_post_script(struct copy *c)
{
	const char *script = c->p->cfg->post_migrate_script, *error, *step;
	char *argv[] = { (char *)script, (char *)c->account, NULL };
	struct spawn_opts o = { .argv = argv, .envp = environ,
				.out = SPAWN_OUT_CAPTURE, .err = SPAWN_OUT_MERGE,
				.out_max = POST_SCRIPT_LINE - 1,
				.overflow = SPAWN_OVERFLOW_DROP,
				.timeout_ms = POST_SCRIPT_TIMEOUT * 1000 };
	struct spawn_result r;
	char *password = NULL, *input = NULL, shown[POST_SCRIPT_LINE];
	size_t linelen;
	int ret;

	if (script == NULL || script[0] == '\0')
		return;
	if (store_cred_get(c->p->store, c->account, &password, &error) < 0)
		copy_event(c, LOG_SEV_WARNING, "post_migrate_script: no password to "
			   "give it: %s", error);
	if (password != NULL) {
		input = mm_asprintf("%s\n", password);
		o.input = input;
		o.input_len = strlen(input);
	}
	ret = spawn_run(&o, &r, &step);
	mm_free_secret(&input);
	mm_free_secret(&password);
	if (ret < 0) {
		copy_event(c, LOG_SEV_ERROR, "post_migrate_script: %s: %s", step,
			   strerror(errno));
		return;
	}
	if (r.input_short)
		log_warning("%s: post_migrate_script did not take the password",
			    c->account);
	/* The first line of what it said, shown escaped. */
	linelen = strcspn(r.out, "\n");
	log_printable(shown, sizeof(shown), r.out, linelen);
	switch (r.end) {
	case SPAWN_END_EXITED:
		copy_event(c, r.code == 0 ? LOG_SEV_INFO : LOG_SEV_ERROR,
			   "post_migrate_script exited %d: %s", r.code, shown);
		break;
	case SPAWN_END_NOT_RUN:
		copy_event(c, LOG_SEV_ERROR, "post_migrate_script exited 127: "
			   "cannot run %s: %s", script, strerror(r.code));
		break;
	case SPAWN_END_TIMEOUT:
		copy_event(c, LOG_SEV_ERROR, "post_migrate_script killed by signal "
			   "%d: (killed after %d s)", SIGKILL, POST_SCRIPT_TIMEOUT);
		break;
	case SPAWN_END_SIGNALED:
		copy_event(c, LOG_SEV_ERROR, "post_migrate_script killed by signal "
			   "%d: %s", r.code, shown);
		break;
	case SPAWN_END_OVERFLOW:	/* not with SPAWN_OVERFLOW_DROP */
	case SPAWN_END_NO_STATUS: {
		char how[128];

		copy_event(c, LOG_SEV_ERROR, "post_migrate_script: %s: %s",
			   spawn_end_str(&r, how, sizeof(how)), shown);
		break;
	}
	}
	spawn_result_clear(&r);
}
