/*
 * NAME
 *	puller_acl 3
 * SUMMARY
 *	copy the rights a user gave others on their folders (RFC 4314)
 * DESCRIPTION
 *	copy_acls() runs in a round of a domain with migrate_shared, after
 *	the account's mail and Sieve scripts. A folder a user shares (bob's
 *	Team, readable by alice) is copied with its owner's mailbox; what
 *	must move too is who may read it. For each of the user's own
 *	folders (puller_source_folders(): other users' and shared ones are
 *	not theirs), OLD's ACL is read with GETACL in the user's session,
 *	and each entry for another identifier is given on NEW's copy with
 *	SETACL in the master session acting for the user (Dovecot's acl
 *	plugin, imap_acl), unless NEW's entry holds those rights already.
 *	The owner's own entry is NEW's business ("owner" and the user's
 *	login are skipped).
 *
 *	Identifiers: "anyone", "authenticated" and "anonymous" are kept; an
 *	address (or a bare name, taken in the account's domain) is kept
 *	when it is an account of this migration (the store knows it), with
 *	its "-" of a negative right; anything else (a name no account
 *	has, a group: "$team", "group:team", "#team", which Dovecot's
 *	acl plugin spells otherwise) is not set, and the folder gets a
 *	failed item "acl:FOLDER" naming the identifiers and their rights,
 *	which goes once the folder's entries are all set.
 *
 *	What the round did with each entry is recorded (puller_acl_state(3):
 *	given, there already, no account, refused); an entry recorded by an
 *	earlier round that OLD no longer lists is taken back on NEW when
 *	NEW's holder still has exactly those rights, kept (and said) when
 *	the user changed them on NEW. The records of folders OLD no longer
 *	lists are forgotten; NEW's copies keep their rights.
 * DIAGNOSTICS
 *	Nothing here fails the round but the store and a broken session:
 *	OLD without the ACL extension is an event; an ACL OLD will not
 *	show (no "a" right) or NEW will not take is a warning event for
 *	that folder; a target that cannot set ACLs says so in an event
 *	and copies none. Rights are compared in one spelling (Cyrus's
 *	"lrswipkxtecda" is Dovecot's "lrwstipekxa": acl_rights(3h)).
 *
 *	puller_acl_verify_folder() walks the same entries in verify's
 *	sessions and changes nothing: each of OLD's entries for another
 *	identifier is on NEW with the same rights, or accounted for by
 *	the folder's failed item, or it differs.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "acl_rights.h"
#include "copy.h"
#include "puller_acl_state.h"
#include "error.h"
#include "log.h"
#include "mm_alloc.h"
#include "puller_metrics.h"

#define ACL_ITEM "acl:"

struct acl_run {
	struct puller *p;
	const char *account;
	const struct source_driver *sdrv;
	const struct target_driver *tdrv;
	struct driver_conn *src, *dst;
	struct copy *c;			/* a round's; NULL: verify, nothing set */
	struct puller_acl_verify *v;	/* verify's counts, or NULL */
	char login[CFG_LOGIN_MAX + 1];	/* the user's name on OLD */
	uint64_t folders, set, same, unmapped, refused;
	uint64_t taken_back, kept;	/* OLD took back: on NEW too, or not */
};

/* Is identifier this user (the owner of the folders)? A bare name is
 * one in the account's domain (Cyrus: "bob" for bob@its default domain). */
static int acl_is_owner(const struct acl_run *r, const char *id)
{
	const char *at = strchr(r->account, '@');

	if (id[0] == '-')
		id++;
	if (strcasecmp(id, "owner") == 0 || strcasecmp(id, r->account) == 0 ||
	    strcasecmp(id, r->login) == 0)
		return 1;
	return strchr(id, '@') == NULL && at != NULL &&
		strlen(id) == (size_t)(at - r->account) &&
		strncasecmp(id, r->account, strlen(id)) == 0;
}

/* NEW's spelling of OLD's identifier into out; 0 when it maps to no
 * account of this migration (or is a group). */
static int acl_map(struct acl_run *r, const char *id, char *out, size_t size,
		   enum stream_fail *fail_r, const char **error_r)
{
	static const char *const kept[] = { "anyone", "authenticated", "anonymous" };
	struct store_account acct;
	const char *name = id[0] == '-' ? id + 1 : id, *error, *at;
	char account[STORE_MAX_ACCOUNT];
	int ret;

	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (strcasecmp(name, kept[i]) == 0) {
			snprintf(out, size, "%s", id);
			return 1;
		}
	if (name[0] == '$' || name[0] == '#' || strncasecmp(name, "group:", 6) == 0 ||
	    name[0] == '\0')
		return 0;
	at = strchr(r->account, '@');
	if (strchr(name, '@') != NULL)
		ret = snprintf(account, sizeof(account), "%s", name);
	else
		ret = snprintf(account, sizeof(account), "%s%s", name, at != NULL ? at : "");
	if (ret < 0 || (size_t)ret >= sizeof(account))
		return 0;
	for (char *p = account; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	ret = store_account_get(r->p->store, account, &acct, &error);
	if (ret == STORE_NOTFOUND)
		return 0;
	if (ret < 0) {
		return copy_store_fail(fail_r, error_r, error);
	}
	store_account_clear(&acct);
	snprintf(out, size, "%s%s", id[0] == '-' ? "-" : "", account);
	return 1;
}

/* NEW's rights for identifier in cur, or NULL. */
static const char *acl_rights_of(const struct driver_acl *cur, const char *id)
{
	for (size_t i = 0; i < cur->count; i++)
		if (strcmp(cur->e[i].identifier, id) == 0)
			return cur->e[i].rights;
	return NULL;
}

struct acl_failed_find {
	const char *item;
	char *reason;
};

static int acl_failed_find_one(const struct store_failed *it, void *context)
{
	struct acl_failed_find *f = context;

	if (it->uid == 0 && strcmp(it->folder, f->item) == 0) {
		f->reason = mm_strdup(it->reason != NULL ? it->reason : "");
		return 1;
	}
	return 0;
}

/* Verify: does the folder's failed item name OLD's entry e (as the round
 * wrote it: "ID (RIGHTS) ...")? 1, 0, or -1. The item's reason is read
 * once per folder, into *reason (the caller frees it). */
static int acl_failed_names(struct acl_run *r, const char *item,
			    const struct driver_acl_entry *e, char **reason,
			    int *loaded, enum stream_fail *fail_r, const char **error_r)
{
	struct acl_failed_find f = { .item = item };
	char entry[DRIVER_ACL_ID_MAX + DRIVER_ACL_RIGHTS_MAX + 8];
	const char *error;

	if (!*loaded) {
		if (store_failed_iter(r->p->store, r->account, acl_failed_find_one, &f,
				      &error) < 0)
			return copy_store_fail(fail_r, error_r, error);
		*reason = f.reason;
		*loaded = 1;
	}
	if (*reason == NULL)
		return 0;
	snprintf(entry, sizeof(entry), "%s (%s)", e->identifier, e->rights);
	return strstr(*reason, entry) != NULL;
}

/* One folder: 0 (done, or reported), 1 (stop: OLD or NEW has no
 * ACLs), -1. */
static int acl_folder(struct acl_run *r, const char *folder, const char *target,
		      enum stream_fail *fail_r, const char **error_r)
{
	struct copy *c = r->c;
	struct driver_acl old = { 0 }, cur = { 0 };
	struct acl_recs recs = { 0 };
	struct acl_take_back tb = { 0 };
	char item[sizeof(ACL_ITEM) + 1024], missing[STREAM_ERROR_MAX] = "";
	const char *error;
	char *reason = NULL;		/* verify: the failed item's */
	size_t n = 0, entries = 0, same = 0, unmapped = 0;
	int ret, loaded = 0, failed = 0;

	snprintf(item, sizeof(item), ACL_ITEM "%s", folder);
	ret = r->sdrv->get_acl(r->src, folder, &old, fail_r, error_r);
	if (ret == DRIVER_ACL_NONE) {
		if (c != NULL)
			copy_event(c, LOG_SEV_INFO, "ACLs: OLD has no ACL extension "
				   "(RFC 4314): no rights to copy");
		else
			r->v->old_none = 1;
		return 1;
	}
	if (ret < 0) {
		if (acl_session_broken(*fail_r))
			return -1;
		if (c != NULL)
			copy_event(c, LOG_SEV_WARNING, "ACLs: the rights on %s not read "
				   "on OLD: %s", folder, *error_r);
		else
			r->v->not_read++;
		return 0;
	}
	for (size_t i = 0; i < old.count; i++)
		entries += !acl_is_owner(r, old.e[i].identifier);
	/* A round reads what earlier ones did: an entry OLD no longer
	 * lists is taken back below. */
	if (c != NULL && acl_recs_load(c, folder, &recs, fail_r, error_r) < 0) {
		driver_acl_free(&old);
		return -1;
	}
	if (entries == 0 && recs.count == 0) {
		driver_acl_free(&old);
		return 0;
	}
	if (entries > 0) {
		r->folders++;
		if (r->v != NULL) {
			r->v->folders++;
			r->v->entries += entries;
		}
	}
	ret = r->tdrv->get_acl(r->dst, target, &cur, fail_r, error_r);
	if (ret == DRIVER_ACL_NONE) {
		driver_acl_free(&old);
		acl_recs_free(&recs);
		if (c != NULL)
			copy_event(c, LOG_SEV_WARNING, "ACLs: not copied: NEW has no ACL "
				   "extension (load imap_acl: contrib/dovecot/"
				   "notice-acl.conf.ext)");
		else
			r->v->new_none = 1;
		return 1;
	}
	for (size_t i = 0; ret == 0 && i < old.count; i++) {
		const struct driver_acl_entry *e = &old.e[i];
		char id[STORE_MAX_ACCOUNT + 1], rights[DRIVER_ACL_RIGHTS_MAX];
		const char *have;

		if (acl_is_owner(r, e->identifier))
			continue;
		ret = acl_map(r, e->identifier, id, sizeof(id), fail_r, error_r);
		if (ret < 0)
			break;
		if (ret == 0) {
			unmapped++;
			if (c != NULL) {
				acl_note(missing, sizeof(missing), &n, "%s (%s) has no "
					 "account on NEW", e->identifier, e->rights);
				ret = acl_recs_note(c, &recs, folder, target, e->identifier,
						    "", e->rights, STORE_ACL_UNMAPPED,
						    fail_r, error_r);
			}
			continue;
		}
		ret = 0;
		have = acl_rights_of(&cur, id);
		if (have != NULL && acl_rights_same(have, e->rights)) {
			same++;
			if (c != NULL)
				ret = acl_recs_note(c, &recs, folder, target, e->identifier,
						    id, e->rights, STORE_ACL_THERE, fail_r,
						    error_r);
			continue;
		}
		if (c == NULL) {
			ret = acl_failed_names(r, item, e, &reason, &loaded, fail_r,
					       error_r);
			if (ret > 0)
				failed = 1;
			else if (ret == 0)
				acl_note(missing, sizeof(missing), &n, "%s has %s on OLD, "
					 "%s on NEW", id, e->rights, have != NULL &&
					 have[0] != '\0' ? have : "none");
			ret = ret < 0 ? -1 : 0;
			continue;
		}
		/* RFC 4314's letters: "c" and "d" of RFC 2086 (Cyrus adds them)
		 * as the rights they stand for. */
		acl_rights_normalize(e->rights, rights);
		ret = r->tdrv->set_acl(r->dst, target, id, rights, fail_r, error_r);
		if (ret == 0) {
			r->set++;
			puller_count(acl_entries, 1);
			ret = acl_recs_note(c, &recs, folder, target, e->identifier, id,
					    e->rights, STORE_ACL_GIVEN, fail_r, error_r);
		} else if (!acl_session_broken(*fail_r)) {
			/* This entry only (Dovecot: acl_anyone = forbid). */
			r->refused++;
			acl_note(missing, sizeof(missing), &n, "%s (%s) refused by NEW: "
				 "%s", e->identifier, e->rights, *error_r);
			ret = acl_recs_note(c, &recs, folder, target, e->identifier, "",
					    e->rights, STORE_ACL_REFUSED, fail_r, error_r);
		}
	}
	/* What OLD no longer gives (the round read its whole ACL). */
	if (ret == 0 && c != NULL && recs.count > 0) {
		ret = acl_recs_take_back(c, &recs, target, &cur, &tb, fail_r, error_r);
		r->taken_back += tb.taken;
		r->kept += tb.kept;
		if (tb.n > 0)
			copy_event(c, tb.kept > 0 ? LOG_SEV_WARNING : LOG_SEV_INFO,
				   "ACLs: %s: no longer given on OLD: %s", folder, tb.list);
	}
	acl_recs_free(&recs);
	driver_acl_free(&old);
	driver_acl_free(&cur);
	mm_free(&reason);
	r->same += same;
	r->unmapped += unmapped;
	if (ret < 0) {
		if (acl_session_broken(*fail_r))
			return -1;
		if (c == NULL) {
			r->v->not_read++;
			return 0;
		}
		copy_event(c, LOG_SEV_WARNING, "ACLs: the rights on %s not given on NEW "
			   "(%s): %s", folder, target, *error_r);
		return 0;
	}
	if (c == NULL) {
		r->v->same += same;
		r->v->unmapped += unmapped;
		r->v->failed_folders += failed;
		if (n > 0) {
			size_t w = strlen(r->v->why);

			r->v->differs = 1;
			r->v->differ_folders++;
			acl_note(r->v->why, sizeof(r->v->why), &w, "%s: %s", folder,
				 missing);
		}
		return 0;
	}
	if (n > 0) {
		copy_event(c, LOG_SEV_WARNING, "ACLs: %s: not given on NEW: %s", folder,
			   missing);
		return copy_failed_item(c, item, 0, NULL, error_setf("not given on NEW: "
					"%s", missing), fail_r, error_r);
	}
	ret = store_failed_del(c->p->store, c->account, item, 0, 0, &error);
	if (ret < 0 && ret != STORE_NOTFOUND)
		return copy_store_fail(fail_r, error_r, error);
	return 0;
}

int copy_acls(struct copy *c, enum stream_fail *fail_r, const char **error_r)
{
	struct puller_session s = { .dom = c->dom, .account = c->account, .sdrv = c->sdrv,
				    .tdrv = c->tdrv, .src = c->src, .dst = c->dst };
	struct acl_run r = { .p = c->p, .account = c->account, .sdrv = c->sdrv,
			     .tdrv = c->tdrv, .src = c->src, .dst = c->dst, .c = c };
	struct driver_folder *sf = NULL;
	const char *error;
	char **seen;
	size_t ns = 0, nseen = 0;
	uint64_t forgotten = 0;
	int ret = 0;

	if (!c->dom->migrate_shared)
		return 0;
	if (c->sdrv->get_acl == NULL)
		return 0;	/* POP3: no folders, no rights */
	if (c->tdrv->get_acl == NULL || c->tdrv->set_acl == NULL) {
		copy_event(c, LOG_SEV_WARNING, "ACLs: not copied: target_driver = %s "
			   "cannot set them", c->tdrv->name);
		return 0;
	}
	/* The public folders account owns its folders on NEW; on OLD they
	 * have no owner, and the user whose session reads them is one
	 * more identifier. */
	if (cfg_is_public_account(c->dom, c->account) ||
	    cfg_login_name(c->dom, c->account, r.login, sizeof(r.login), &error) < 0)
		r.login[0] = '\0';
	if (puller_source_folders(&s, &sf, &ns, &c->msrc, c->src_prefix,
				  sizeof(c->src_prefix), fail_r, error_r) < 0)
		return -1;
	seen = mm_reallocarray(NULL, ns + 1, sizeof(*seen));
	for (size_t i = 0; ret == 0 && i < ns; i++) {
		char *target = NULL;

		if ((sf[i].attrs & DRIVER_FOLDER_NOSELECT) != 0 ||
		    folder_map_apply(c->map, &c->msrc, &c->mdst, sf[i].name, sf[i].attrs,
				     &target, &error) <= 0) {
			mm_free(&target);
			continue;	/* excluded, or a name NEW has not */
		}
		ret = acl_folder(&r, sf[i].name, target, fail_r, error_r);
		mm_free(&target);
		seen[nseen++] = sf[i].name;
	}
	/* Every folder looked at: the records of the others are of folders
	 * OLD no longer has (or this round no longer copies). */
	if (ret == 0)
		ret = acl_recs_forget_gone(c, seen, nseen, &forgotten, fail_r, error_r);
	mm_free(&seen);
	driver_folders_free(&sf, ns);
	if (ret > 0)
		ret = 0;
	if (ret == 0 && forgotten > 0)
		copy_event(c, LOG_SEV_INFO, "ACLs: rights recorded on %llu folders OLD "
			   "no longer lists: forgotten (NEW's copies keep theirs)",
			   (unsigned long long)forgotten);
	if (ret == 0 && (r.folders > 0 || r.taken_back + r.kept > 0))
		copy_event(c, r.unmapped + r.refused + r.kept > 0 ? LOG_SEV_WARNING :
			   LOG_SEV_INFO,
			   "ACLs: %llu folders with rights for others on OLD: %llu "
			   "entries given on NEW, %llu there already, %llu refused by "
			   "NEW, %llu with no account on NEW (failed items " ACL_ITEM
			   "FOLDER); no longer given on OLD: %llu taken back on NEW, "
			   "%llu kept", (unsigned long long)r.folders,
			   (unsigned long long)r.set, (unsigned long long)r.same,
			   (unsigned long long)r.refused, (unsigned long long)r.unmapped,
			   (unsigned long long)r.taken_back, (unsigned long long)r.kept);
	return ret;
}

int puller_acl_verify_folder(struct puller *p, const struct puller_session *s,
			     const char *folder, const char *target,
			     struct puller_acl_verify *v, enum stream_fail *fail_r,
			     const char **error_r)
{
	struct acl_run r = { .p = p, .account = s->account, .sdrv = s->sdrv,
			     .tdrv = s->tdrv, .src = s->src, .dst = s->dst, .v = v };
	const char *error;
	int ret;

	if (v->old_none || v->new_none || s->sdrv->get_acl == NULL)
		return 0;
	if (s->tdrv->get_acl == NULL) {
		v->new_none = 1;
		return 0;
	}
	if (cfg_is_public_account(s->dom, s->account) ||
	    cfg_login_name(s->dom, s->account, r.login, sizeof(r.login), &error) < 0)
		r.login[0] = '\0';
	ret = acl_folder(&r, folder, target, fail_r, error_r);
	return ret < 0 ? -1 : 0;
}
