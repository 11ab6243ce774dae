/*
 * NAME
 *	store_common 3
 * SUMMARY
 *	the store's backend-neutral parts: names, account name checks,
 *	freeing records
 * DESCRIPTION
 *	What store.h declares that touches no store: the names of the
 *	account states, job kinds and proposal states, the check and
 *	lowercasing of "user@domain", and the *_clear() calls that free
 *	the records the backends fill in. Both backends and every caller
 *	share them, so a name or a rule is the same whatever the store.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "mm_alloc.h"
#include "store_int.h"

/* --- accounts --------------------------------------------------------- */


static const char *const store_state_names[STORE_STATE_COUNT] = {
	"queued", "migrating", "copied", "finished", "failed", "passwords-only",
};

const char *store_state_name(enum store_state state)
{
	if ((unsigned)state >= STORE_STATE_COUNT)
		return "unknown";
	return store_state_names[state];
}

int store_state_parse(const char *name, enum store_state *state_r)
{
	for (int i = 0; i < STORE_STATE_COUNT; i++) {
		if (strcmp(name, store_state_names[i]) == 0) {
			*state_r = (enum store_state)i;
			return 0;
		}
	}
	return -1;
}

void store_account_clear(struct store_account *acct)
{
	mm_free(&acct->name);
	mm_free(&acct->domain);
	mm_free(&acct->password_hash);
	mm_free(&acct->last_error);
	for (size_t i = 0; i < acct->aliases_count; i++)
		mm_free(&acct->aliases[i]);
	mm_free(&acct->aliases);
	memset(acct, 0, sizeof(*acct));
}

/* Is c allowed in the local part? Printable ASCII except the
 * characters that break our formats or Dovecot's (':', '*', space). */
static int store_local_char_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != ':' && c != '*' && c != '@' &&
		c != '"' && c != '\\' && c != ',';
}

/* A domain: labels of letters, digits and '-', joined by '.'. */
static int store_domain_ok(const char *d, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > 253)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c == '.') {
			if (label == 0 || d[i - 1] == '-')
				return 0;
			label = 0;
		} else if (isalnum(c) || (c == '-' && label > 0)) {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0 && d[len - 1] != '-';
}

int store_account_name(const char *user, const char *domain, char *buf,
		       size_t bufsize, const char **error_r)
{
	const char *at = strchr(user, '@');
	size_t local_len = at != NULL ? (size_t)(at - user) : strlen(user);
	const char *dom = at != NULL ? at + 1 : domain;
	size_t n;

	if (local_len == 0)
		return store_fail(error_r, "empty user name");
	if (local_len > 64)
		return store_fail(error_r, "user name over 64 characters");
	for (size_t i = 0; i < local_len; i++)
		if (!store_local_char_ok((unsigned char)user[i]))
			return store_fail(error_r, "bad character in user name");
	/* The local part becomes a path component (user_home =
	 * /var/vmail/%d/%n): one plain name, never a way up or across,
	 * nor a Dovecot %-variable. */
	for (size_t i = 0; i < local_len; i++) {
		if (user[i] == '/' || user[i] == '%')
			return store_fail(error_r, "user name holds '%c'", user[i]);
		if (i == 0 && user[i] == '.')
			return store_fail(error_r, "user name starts with '.'");
		if (i > 0 && user[i] == '.' && user[i - 1] == '.')
			return store_fail(error_r, "user name holds '..'");
	}
	if (dom == NULL || *dom == '\0')
		return store_fail(error_r, "no domain for user (give user@domain or a domain)");
	if (at != NULL && domain != NULL && *domain != '\0' &&
	    strcasecmp(dom, domain) != 0)
		return store_fail(error_r, "user's domain differs from the domain given");
	if (!store_domain_ok(dom, strlen(dom)))
		return store_fail(error_r, "bad domain '%.80s'", dom);
	n = local_len + 1 + strlen(dom);
	if (n + 1 > bufsize || n + 1 > STORE_MAX_ACCOUNT)
		return store_fail(error_r, "account name too long");
	for (size_t i = 0; i < local_len; i++)
		buf[i] = (char)tolower((unsigned char)user[i]);
	buf[local_len] = '@';
	for (size_t i = 0; dom[i] != '\0'; i++)
		buf[local_len + 1 + i] = (char)tolower((unsigned char)dom[i]);
	buf[n] = '\0';
	return 0;
}

/* --- meta: flags and counters ------------------------------------------ */

const char *const store_meta_names[STORE_META_NAMES] = {
	"paused", "started", "errors",
	"first_login_migrated", "first_login_refused",
	"first_login_unavailable", "first_login_failed",
};

const char *store_first_login_name(enum store_first_login outcome)
{
	static const char *const names[STORE_FIRST_LOGIN_COUNT] = {
		"migrated", "refused", "unavailable", "failed",
	};

	return (unsigned)outcome < STORE_FIRST_LOGIN_COUNT ? names[outcome] : "?";
}

const char *store_acl_state_name(enum store_acl_state state)
{
	static const char *const names[STORE_ACL_STATE_MAX + 1] = {
		"?", "given", "there", "unmapped", "refused",
	};

	return (unsigned)state <= STORE_ACL_STATE_MAX ? names[state] : "?";
}

const char *store_first_login_meta(enum store_first_login outcome)
{
	return (unsigned)outcome < STORE_FIRST_LOGIN_COUNT ?
		store_meta_names[3 + outcome] : NULL;
}

/* --- alias proposals --------------------------------------------------- */


static const char *const proposal_state_names[] = {
	"pending", "rejected", "approved", "trusted",
};

const char *store_proposal_state_name(enum store_proposal_state state)
{
	if ((unsigned)state >= sizeof(proposal_state_names) /
	    sizeof(proposal_state_names[0]))
		return "unknown";
	return proposal_state_names[state];
}

void store_proposal_clear(struct store_proposal *p)
{
	mm_free(&p->alias);
	mm_free(&p->account);
	memset(p, 0, sizeof(*p));
}

/* --- jobs -------------------------------------------------------------- */


static const char *const job_kind_names[] = { "copy", "sync", "finish" };

const char *store_job_kind_name(enum store_job_kind kind)
{
	if ((unsigned)kind >= sizeof(job_kind_names) / sizeof(job_kind_names[0]))
		return "unknown";
	return job_kind_names[kind];
}

void store_job_clear(struct store_job *job)
{
	mm_free(&job->account);
	mm_free(&job->owner);
	mm_free(&job->last_error);
	mm_free(&job->previous_owner);
	memset(job, 0, sizeof(*job));
}

/* --- folders, batches, failed items ------------------------------------ */


void store_folder_clear(struct store_folder *folder)
{
	mm_free(&folder->account);
	mm_free(&folder->name);
	mm_free(&folder->target_name);
	memset(folder, 0, sizeof(*folder));
}

void store_batch_clear(struct store_batch *b)
{
	mm_free(&b->folder);
	mm_free(&b->target_folder);
	mm_free(&b->msgs);
	memset(b, 0, sizeof(*b));
}

void store_failed_clear(struct store_failed *item)
{
	mm_free(&item->account);
	mm_free(&item->folder);
	mm_free(&item->reason);
	memset(item, 0, sizeof(*item));
}
