/*
 * NAME
 *	puller_copy 3
 * SUMMARY
 *	copy one account from OLD to NEW, resumably and exactly once
 * DESCRIPTION
 *	The orchestration of puller_copy_account(): connect to OLD and
 *	NEW, settle a batch a crash left pending, then folder by folder
 *	create it on NEW (names mapped by folder_map(3)) with its
 *	subscription, copy its messages in batches and verify it; at the
 *	end record the account copied or finished. Messages go in batches
 *	recorded as pending before they are sent and as done with their
 *	new UIDs after (puller_batch(3)). A folder seen for the first time
 *	on a NEW folder that already holds mail, or whose UIDVALIDITY
 *	changed on OLD, is matched first (puller_match(3)), so nothing
 *	lands twice. copy(3h) maps the other files.
 *
 *	Later rounds on an OLD with CONDSTORE (RFC 7162): a folder whose
 *	UIDVALIDITY is the one recorded, and whose HIGHESTMODSEQ was
 *	recorded when a round last proved it, is listed by CHANGEDSINCE
 *	that value (messages whose flags changed; new ones are listed from
 *	the last UID handled on, as always), and not at all when OLD's
 *	HIGHESTMODSEQ is still that value. The value is recorded only
 *	after the folder's copy is done and its verification found every
 *	message of OLD copied, none failed, none gone from NEW: a crash
 *	before, or a folder that does not verify, leaves the old value or
 *	0, and the next round does the folder again from there, or whole
 *	as without CONDSTORE. The round's verification (puller_verify(3))
 *	lists NEW whole, and of OLD only what changed since the folder
 *	was proved, when OLD can say.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "copy.h"
#include "error.h"
#include "log.h"
#include "maildate.h"
#include "mm_alloc.h"
#include "puller_metrics.h"

/* A store failure: the store is local, so retry later. */
int copy_store_fail(enum stream_fail *fail_r, const char **error_r,
		    const char *error)
{
	puller_count(store_errors, 1);
	return stream_failf(fail_r, STREAM_FAIL_WAIT, error_r, "store: %s", error);
}

/* A testing aid (mailmigrated(8), ENVIRONMENT): while
 * MAILMIGRATED_CRASH_AFTER_CONNECT names a file that exists, every
 * worker dies by SIGKILL once it has logged in to OLD and NEW, as a
 * worker would that some account's mail crashes each time. */
static void copy_crash_connected(void)
{
	const char *path = getenv("MAILMIGRATED_CRASH_AFTER_CONNECT");

	if (path != NULL && *path != '\0' && access(path, F_OK) == 0) {
		log_warning("MAILMIGRATED_CRASH_AFTER_CONNECT: dying after the logins");
		raise(SIGKILL);
	}
}

/* The flags hashes of a later round's flag changes, written to the store
 * together (one transaction per COPY_FLAGS_RECORD) rather than one per
 * message. A crash before they are written costs only sending those
 * flags to NEW again next round. */
#define COPY_FLAGS_RECORD 512

struct copy_flags_rec {
	struct store_msgmap_entry *e;
	size_t count;
};

static int copy_flags_record(struct copy *c, const char *folder, uint32_t uidvalidity,
			     struct copy_flags_rec *r, enum stream_fail *fail_r,
			     const char **error_r)
{
	const char *error;
	int ret = store_msgmap_set_flags_many(c->p->store, c->account, folder,
					      uidvalidity, r->e, r->count, &error);

	r->count = 0;
	return ret < 0 ? copy_store_fail(fail_r, error_r, error) : 0;
}

/* OLD's messages found on NEW with other flags (first-time matching):
 * recorded with NEW's flags when their batch was, now given OLD's and
 * recorded so; a stop in between leaves the record saying what NEW
 * has, and the next full listing sets them. */
struct copy_reflag {
	const struct driver_message **msgs;
	uint32_t *uids;
	size_t count;
};

static int copy_reflag_matched(struct copy *c, const char *folder, uint32_t uidvalidity,
			       struct copy_reflag *r, enum stream_fail *fail_r,
			       const char **error_r)
{
	struct copy_flags_rec rec = { 0 };
	int ret = 0;

	if (r->count == 0)
		return 0;
	rec.e = mm_calloc(r->count, sizeof(*rec.e));
	for (size_t i = 0; ret == 0 && i < r->count; i++) {
		ret = c->tdrv->set_flags(c->dst, r->uids[i], r->msgs[i], fail_r, error_r);
		if (ret == 0) {
			rec.e[rec.count].old_uid = r->msgs[i]->uid;
			rec.e[rec.count++].flags_hash = copy_flags_hash(r->msgs[i]);
			c->flag_updates++;
		}
	}
	if (rec.count > 0) {
		enum stream_fail fail2;
		const char *error2;

		if (ret == 0)
			ret = copy_flags_record(c, folder, uidvalidity, &rec, fail_r, error_r);
		else
			(void)copy_flags_record(c, folder, uidvalidity, &rec, &fail2,
						&error2);
	}
	if (ret == 0)
		copy_event(c, LOG_SEV_INFO, "%zu of OLD's messages found on NEW in %s "
			   "with other flags or keywords: given OLD's", r->count, folder);
	mm_free(&rec.e);
	return ret;
}

int copy_folder_messages(struct copy *c, const struct driver_folder *f,
				const char *target, enum stream_fail *fail_r,
				const char **error_r)
{
	struct driver_folder_status sst, tst;
	struct store_folder rec;
	struct copy_list l = { 0 };
	struct store_msgmap_entry *map = NULL;
	struct copy_flags_rec flagged = { 0 };
	struct copy_reflag reflag = { 0 };
	size_t nmap = 0;
	uint32_t first_uid = 1, known_uid = 0, floor;
	size_t *defer, ndefer = 0;
	uint64_t since = 0;
	const char *error;
	int ret, match = 0;

	c->folder_modseq = 0;
	c->folder_uidvalidity = 0;
	if (c->sdrv->select(c->src, f->name, &sst, fail_r, error_r) < 0 ||
	    c->tdrv->select(c->dst, target, &tst, fail_r, error_r) < 0)
		return -1;
	c->folder_modseq = sst.highestmodseq;
	c->folder_uidvalidity = sst.uidvalidity;
	ret = store_folder_get(c->p->store, c->account, f->name, &rec, &error);
	if (ret < 0)
		return copy_store_fail(fail_r, error_r, error);
	if (c->tdrv->set_identity != NULL &&
	    copy_identity(c, f->name, target, &sst, &tst, ret == 0 &&
			  rec.uidvalidity == sst.uidvalidity, ret == STORE_NOTFOUND,
			  fail_r, error_r) < 0) {
		store_folder_clear(&rec);
		return -1;
	}
	if (ret == 0 && rec.uidvalidity == sst.uidvalidity) {
		/* Every message is looked at: those handled before for
		 * changed flags, and any that no round recorded (a gap the
		 * verification found) copied now. */
		known_uid = rec.last_uid;
		/* What changed since the round that last proved the folder,
		 * when OLD can say (CONDSTORE) and nothing made us forget. A
		 * HIGHESTMODSEQ lower than recorded is no longer OLD's
		 * history of the folder (restored, another server): listed
		 * whole. */
		if (rec.highestmodseq != 0 && sst.highestmodseq != 0 &&
		    c->sdrv->list_changed != NULL) {
			if (sst.highestmodseq >= rec.highestmodseq)
				since = rec.highestmodseq;
			else
				copy_event(c, LOG_SEV_WARNING, "HIGHESTMODSEQ of %s went "
					   "back on OLD (%llu -> %llu): listing it whole",
					   f->name,
					   (unsigned long long)rec.highestmodseq,
					   (unsigned long long)sst.highestmodseq);
		}
	} else {
		if (ret == 0)
			copy_event(c, LOG_SEV_WARNING, "UIDVALIDITY of %s changed on "
				   "OLD (%u -> %u): matching it against NEW again",
				   f->name, rec.uidvalidity, sst.uidvalidity);
		/* New to us, or renumbered: match what NEW has first. */
		match = tst.exists > 0;
		store_folder_clear(&rec);
		rec.account = mm_strdup(c->account);
		rec.name = mm_strdup(f->name);
		rec.target_name = mm_strdup(target);
		rec.uidvalidity = sst.uidvalidity;
		rec.target_uidvalidity = tst.uidvalidity;
		rec.subscribed = f->subscribed;
		if (store_folder_put(c->p->store, &rec, &error) < 0) {
			store_folder_clear(&rec);
			return copy_store_fail(fail_r, error_r, error);
		}
	}
	store_folder_clear(&rec);
	if (match && copy_load_seen(c, 1, fail_r, error_r) < 0)
		return -1;
	/* Messages to copy are listed with their Message-IDs, for matching
	 * after a crash; those handled in an earlier round (looked at for
	 * their flags only) without. */
	if (since != 0)
		c->changedsince_folders++;
	if (since != 0 && since == sst.highestmodseq) {
		/* Nothing changed on OLD since the folder was last proved:
		 * nothing new (a new message has a higher MODSEQ), no flag
		 * changed. Nothing to list or copy; verified as always. */
		c->unchanged_folders++;
		first_uid = 0;
	} else if (first_uid <= known_uid) {
		/* The messages handled before (with CONDSTORE: only those
		 * whose flags changed); new ones come with their Message-IDs
		 * below, as always. */
		l.max_uid = known_uid;
		ret = since != 0 ?
			c->sdrv->list_changed(c->src, since, 0, copy_collect, &l, fail_r,
					      error_r) :
			c->sdrv->list_messages(c->src, first_uid, 0, copy_collect, &l,
					       fail_r, error_r);
		l.max_uid = 0;
		first_uid = known_uid + 1;
		if (ret == 0)
			ret = copy_first_gap(c, f->name, sst.uidvalidity, &l, &first_uid,
					     fail_r, error_r);
		if (ret < 0) {
			copy_list_free(&l);
			return -1;
		}
	}
	if (first_uid != 0 &&
	    c->sdrv->list_messages(c->src, first_uid, DRIVER_WANT_MESSAGE_ID,
				   copy_collect, &l, fail_r, error_r) < 0) {
		copy_list_free(&l);
		return -1;
	}
	c->listed += l.count;
	/* Received mail tells which addresses reach the account. */
	c->tap = c->tally != NULL;
	for (int u = 0; u < FOLDER_MAP_USES; u++)
		if (c->special[u] != NULL && strcmp(c->special[u], target) == 0 &&
		    u != FOLDER_MAP_TRASH && u != FOLDER_MAP_ARCHIVE)
			c->tap = 0;
	copy_batches_folder(c, f->name, sst.uidvalidity, target, tst.uidvalidity);
	c->target_uidnext = tst.uidnext;
	c->folder_uidnext = tst.uidnext;
	c->target_folder = target;
	/* NEW's other session, if the pipeline opened one, sends this
	 * folder's batches too (after the identity is set, so it sees it). */
	for (int k = 0; k < 2; k++) {
		struct driver_folder_status st;

		if (c->dsts[k] != NULL && c->dsts[k] != c->dst &&
		    c->tdrv->select(c->dsts[k], target, &st, fail_r, error_r) < 0) {
			copy_list_free(&l);
			mm_free(&c->seen);
			c->seen_count = 0;
			return -1;
		}
	}
	/* Kept UIDs: a message whose OLD UID is below NEW's UIDNEXT cannot
	 * have it (Dovecot gives a new one above the batch, where it would
	 * take the UID of one of OLD's next messages, and so on). Those go
	 * last, once UIDNEXT is OLD's: each one moves, no other does. */
	floor = c->keep ? tst.uidnext : 0;
	/* What earlier rounds copied, in one read: each listed message is
	 * looked up here, not in the store (a round trip each on
	 * PostgreSQL). Read after a pending batch was settled; what this
	 * loop copies is not looked up again. */
	if (c->sdrv != &source_driver_pop3 &&
	    store_msgmap_list(c->p->store, c->account, f->name, sst.uidvalidity, &map,
			      &nmap, &error) < 0) {
		copy_list_free(&l);
		return copy_store_fail(fail_r, error_r, error);
	}
	defer = mm_calloc(l.count + 1, sizeof(*defer));
	ret = 0;
	for (int pass = 0; pass < 2 && ret == 0; pass++) {
		if (pass == 1 && ndefer == 0)
			break;
		if (pass == 1) {
			struct driver_folder_status st;

			ret = copy_flush(c, fail_r, error_r);
			if (ret == 0)
				ret = c->tdrv->set_identity(c->dst, target, 0, sst.uidnext, &st,
							    fail_r, error_r);
			if (ret != 0)
				break;
			c->target_uidnext = st.uidnext;
		}
		for (size_t k = 0; ret == 0 && k < (pass == 0 ? l.count : ndefer); k++) {
			size_t i = pass == 0 ? k : defer[k];
			struct driver_message *msg = &l.msgs[i];
			struct store_batch_msg *bm;
			uint32_t new_uid = 0;

			uint32_t hash = msg->uidl[0] != '\0' ? 0 : copy_flags_hash(msg);
			uint32_t old_hash = 0;

			if (msg->uidl[0] != '\0') {
				/* POP3: the UIDL set says what was copied. */
				ret = store_uidl_has(c->p->store, c->account, msg->uidl, &error);
				ret = ret < 0 ? ret : ret == 1 ? 0 : STORE_NOTFOUND;
			} else {
				const struct store_msgmap_entry *e =
					store_msgmap_find(map, nmap, msg->uid);

				ret = e == NULL ? STORE_NOTFOUND : 0;
				new_uid = e == NULL ? 0 : e->new_uid;
				old_hash = e == NULL ? 0 : e->flags_hash;
			}
			if (ret < 0) {
				ret = copy_store_fail(fail_r, error_r, error);
				break;
			}
			if (ret == 0 && hash != 0 && old_hash != hash) {
				/* Copied before, and its flags changed on OLD since. */
				ret = c->tdrv->set_flags(c->dst, new_uid, msg, fail_r, error_r);
				if (ret == 0) {
					if (flagged.e == NULL)
						flagged.e = mm_calloc(COPY_FLAGS_RECORD,
								      sizeof(*flagged.e));
					flagged.e[flagged.count].old_uid = msg->uid;
					flagged.e[flagged.count++].flags_hash = hash;
					if (flagged.count == COPY_FLAGS_RECORD)
						ret = copy_flags_record(c, f->name,
									sst.uidvalidity,
									&flagged, fail_r,
									error_r);
				}
				if (ret < 0)
					break;
				c->flag_updates++;
				puller_progress_add(&c->prog, 1, msg->size);
				continue;
			}
			if (ret == 0) {
				puller_progress_add(&c->prog, 1, msg->size);
				continue;	/* copied before */
			}
			ret = 0;
			if (msg->size > c->max_size) {
				char reason[128];

				snprintf(reason, sizeof(reason), "%llu bytes, over %s "
					 "(%llu bytes)", (unsigned long long)msg->size,
					 c->max_size_name, (unsigned long long)c->max_size);
				ret = copy_failed_item(c, f->name, sst.uidvalidity, msg, reason,
						       fail_r, error_r);
				puller_progress_add(&c->prog, 1, msg->size);
				continue;
			}
			if (pass == 0 && msg->uid < floor) {
				defer[ndefer++] = i;
				continue;
			}
			bm = &c->fill->rec.msgs[c->fill->rec.count];
			bm->old_uid = msg->uid;
			bm->size = msg->size;
			snprintf(bm->internaldate, sizeof(bm->internaldate), "%s",
				 msg->internaldate);
			snprintf(bm->uidl, sizeof(bm->uidl), "%s", msg->uidl);
			bm->flags_hash = hash;
			bm->message_id_hash = copy_message_id_hash(msg->message_id);
			c->fill->msgs[c->fill->rec.count] = msg;
			c->fill->uids[c->fill->rec.count] = 0;
			c->fill->unknown[c->fill->rec.count] = 0;
			if (match)
				ret = copy_match_batch(c, msg->uid, msg->size, msg->internaldate,
						       bm->message_id_hash, msg->uidl,
						       &c->fill->uids[c->fill->rec.count],
						       fail_r, error_r);
			if (ret < 0)
				break;
			if (match && copy_seen_flags(c, c->fill->uids[c->fill->rec.count],
						     &bm->flags_hash)) {
				if (reflag.msgs == NULL) {
					reflag.msgs = mm_calloc(l.count, sizeof(*reflag.msgs));
					reflag.uids = mm_calloc(l.count, sizeof(*reflag.uids));
				}
				reflag.msgs[reflag.count] = msg;
				reflag.uids[reflag.count++] = c->fill->uids[c->fill->rec.count];
			}
			c->fill->rec.count++;
			c->fill->bytes += msg->size;
			if (c->fill->rec.count == PULLER_BATCH_MESSAGES ||
			    c->fill->bytes >= PULLER_BATCH_BYTES)
				ret = copy_queue(c, fail_r, error_r);
		}
	}
	mm_free(&defer);
	mm_free(&map);
	/* Flags NEW has now are recorded even when the copy stopped. */
	if (flagged.count > 0) {
		enum stream_fail fail2;
		const char *error2;

		if (ret == 0)
			ret = copy_flags_record(c, f->name, sst.uidvalidity, &flagged,
						fail_r, error_r);
		else	/* the stop's reason stands; at worst sent again */
			(void)copy_flags_record(c, f->name, sst.uidvalidity, &flagged,
						&fail2, &error2);
	}
	mm_free(&flagged.e);
	if (ret == 0)
		ret = copy_flush(c, fail_r, error_r);
	if (ret == 0)
		ret = copy_reflag_matched(c, f->name, sst.uidvalidity, &reflag, fail_r,
					  error_r);
	mm_free(&reflag.msgs);
	mm_free(&reflag.uids);
	if (ret == 0 && c->tdrv->set_identity != NULL)
		ret = copy_identity_done(c, f->name, target, &sst, fail_r, error_r);
	c->folder_renumbered = 0;
	c->keep = 0;
	copy_batches_folder(c, NULL, 0, NULL, 0);
	copy_list_free(&l);
	mm_free(&c->seen);
	c->seen_count = 0;
	return ret;
}

/* The copy's sessions, as puller_conn(3) and puller_verify(3) take them. */
static struct puller_session copy_session(const struct copy *c)
{
	struct puller_session s = { .dom = c->dom, .account = c->account, .sdrv = c->sdrv,
				     .tdrv = c->tdrv, .src = c->src, .dst = c->dst };

	return s;
}

/* A copied message whose date NEW did not keep: an event naming it. */
static void copy_date_event(const struct puller_verify *v, uint32_t old_uid,
			    uint32_t new_uid, const char *old_date, const char *new_date,
			    void *context)
{
	struct copy *c = context;

	copy_event(c, LOG_SEV_WARNING, "date not kept: %s UID %u was received "
		   "%s on OLD; NEW (%s UID %u) recorded %s instead%s", v->folder,
		   old_uid, old_date, v->target, new_uid, new_date,
		   maildate_imap_time(old_date) > time(NULL) + 3600 ?
		   " (OLD's date is in the future, which NEW does not take)" : "");
}

/* Record the HIGHESTMODSEQ the folder's copy began with (modseq), or
 * forget it (0), on its record while that is for the same UIDVALIDITY;
 * written only when it changes. */
static int copy_record_modseq(struct copy *c, const char *folder, uint64_t modseq,
			      const char **error_r)
{
	struct store_folder rec;
	int ret = store_folder_get(c->p->store, c->account, folder, &rec, error_r);

	if (ret == STORE_NOTFOUND)
		return 0;
	if (ret < 0)
		return -1;
	if (rec.uidvalidity == c->folder_uidvalidity && rec.highestmodseq != modseq) {
		rec.highestmodseq = modseq;
		ret = store_folder_put(c->p->store, &rec, error_r);
	}
	store_folder_clear(&rec);
	return ret;
}

/* Verify the folder just copied, in the same sessions. A difference is
 * an event and a failed item (UID 0, OLD's UIDVALIDITY) naming the
 * folder and the numbers, and holds the account back from "copied";
 * the item goes once the folder verifies again. */
int copy_verify(struct copy *c, const char *folder, int here, enum stream_fail *fail_r,
		const char **error_r)
{
	struct puller_session s = copy_session(c);
	struct puller_verify v;
	const char *error;
	int ret;

	/* A folder the assistant copied: where its copy began on NEW is not
	 * known here, so no message's date is looked at. */
	if (puller_verify_folder(c->p, &s, folder, PULLER_VERIFY_IN_ROUND,
				 here ? c->folder_uidnext : UINT32_MAX, copy_date_event,
				 c, &v, fail_r, error_r) < 0)
		return -1;
	c->verified++;
	c->verified_msgs += v.old_msgs;
	c->verified_from_record += (uint64_t)v.from_record;
	c->verified_from_changes += (uint64_t)v.from_changes;
	if (v.flags > 0)
		copy_event(c, LOG_SEV_WARNING, "verify: %s: %llu copied messages have "
			   "other flags or keywords on NEW than on OLD (changed on "
			   "either side since, or NEW did not keep them)", v.folder,
			   (unsigned long long)v.flags);
	if (v.differs) {
		char reason[STREAM_ERROR_MAX];
		struct store_failed it = { (char *)c->account, v.folder, v.uidvalidity, 0,
					   v.missing_bytes, time(NULL), reason };

		snprintf(reason, sizeof(reason), "verify: %s", v.why);
		if (c->differ++ == 0)
			snprintf(c->differ_why, sizeof(c->differ_why), "%s: %s", v.folder,
				 v.why);
		copy_event(c, LOG_SEV_ERROR, "verify: %s differs from OLD: %s (OLD %llu "
			   "messages, %llu bytes; copied %llu, failed %llu; NEW holds "
			   "%llu)", v.folder, v.why, (unsigned long long)v.old_msgs,
			   (unsigned long long)v.old_bytes, (unsigned long long)v.copied,
			   (unsigned long long)v.failed, (unsigned long long)v.new_msgs);
		ret = store_failed_add(c->p->store, &it, &error);
		if (ret == 0)
			puller_count(failed_items, 1);
	} else {
		ret = store_failed_del(c->p->store, c->account, v.folder, v.uidvalidity, 0,
				       &error);
		if (ret == 0)
			copy_event(c, LOG_SEV_INFO, "verify: %s matches OLD again "
				   "(%llu messages)", v.folder,
				   (unsigned long long)v.old_msgs);
		ret = ret == STORE_NOTFOUND ? 0 : ret;
	}
	/* Proved: every message OLD held when the copy began is copied
	 * (none failed, missing or gone from NEW), so the next round need
	 * ask OLD only for what changed since. Else forgotten: the next
	 * round lists the folder whole, retrying what failed. */
	if (ret == 0 && here && c->folder_uidvalidity == v.uidvalidity)
		ret = copy_record_modseq(c, folder, v.differs || v.failed > 0 ? 0 :
					 c->folder_modseq, &error);
	else if (ret == 0 && !here && (v.differs || v.failed > 0)) {
		/* The assistant's: what it began with is not known here; a
		 * value recorded by an earlier round still holds when the
		 * folder proves, and is forgotten when it does not. */
		c->folder_uidvalidity = v.uidvalidity;
		ret = copy_record_modseq(c, folder, 0, &error);
	}
	puller_verify_clear(&v);
	return ret < 0 ? copy_store_fail(fail_r, error_r, error) : 0;
}

void copy_target_layout(struct copy *c, const struct driver_folder *folders,
			       size_t count)
{
	static const unsigned uses[FOLDER_MAP_USES] = {
		DRIVER_FOLDER_SENT, DRIVER_FOLDER_DRAFTS, DRIVER_FOLDER_TRASH,
		DRIVER_FOLDER_JUNK, DRIVER_FOLDER_ARCHIVE,
	};

	c->mdst.separator = '/';
	for (size_t i = 0; i < count; i++) {
		if (folders[i].separator != '\0')
			c->mdst.separator = folders[i].separator;
		for (int u = 0; u < FOLDER_MAP_USES; u++)
			if ((folders[i].attrs & uses[u]) != 0 && c->special[u] == NULL)
				c->special[u] = mm_strdup(folders[i].name);
	}
	if (!c->dst_prefix_known)
		puller_guess_prefix(folders, count, c->dst_prefix, sizeof(c->dst_prefix));
	c->mdst.prefix = c->dst_prefix;
	for (int u = 0; u < FOLDER_MAP_USES; u++)
		c->mdst.special[u] = c->special[u];
}

/* How much the folders to copy hold on OLD, for the progress: asked
 * folder by folder where the source can tell (a refusal or a failure
 * here only leaves the totals short; the copy finds out for itself). */
static void copy_progress_sizes(struct copy *c, const struct driver_folder *sf,
				size_t ns)
{
	uint64_t messages = 0, bytes = 0, m, b;
	uint32_t folders = 0;
	int sizes = c->sdrv->folder_size != NULL;

	for (size_t i = 0; i < ns; i++) {
		char *target = NULL;
		const char *error;
		enum stream_fail fail;

		if ((sf[i].attrs & DRIVER_FOLDER_NOSELECT) != 0 ||
		    folder_map_apply(c->map, &c->msrc, &c->mdst, sf[i].name,
				     sf[i].attrs, &target, &error) <= 0)
			continue;
		mm_free(&target);
		folders++;
		if (!sizes)
			continue;
		if (c->sdrv->folder_size(c->src, sf[i].name, &m, &b, &fail,
					 &error) < 0) {
			log_debug("%s: no size of %s: %s", c->account, sf[i].name,
				  error);
			sizes = 0;
			messages = bytes = 0;
			continue;
		}
		messages += m;
		/* Bytes only when every folder told them. */
		bytes = b == 0 && m > 0 ? UINT64_MAX : bytes == UINT64_MAX ?
			bytes : bytes + b;
	}
	puller_progress_total(&c->prog, folders, messages,
			      bytes == UINT64_MAX ? 0 : bytes);
}

/* Every folder: create it on NEW, then copy its messages (a large
 * account with a worker idle: split, puller_split(3)). */
static int copy_folders(struct copy *c, enum stream_fail *fail_r, const char **error_r)
{
	struct driver_folder *sf = NULL, *tf = NULL;
	struct puller_session s;
	size_t ns = 0, nt = 0;
	int ret = 0;

	ret = c->tdrv->namespace_prefix(c->dst, c->dst_prefix, sizeof(c->dst_prefix),
					fail_r, error_r);
	if (ret < 0)
		return -1;
	c->dst_prefix_known = ret == 1;
	ret = 0;
	s = copy_session(c);
	if (puller_source_folders(&s, &sf, &ns, &c->msrc, c->src_prefix,
				  sizeof(c->src_prefix), fail_r, error_r) < 0)
		return -1;
	if (cfg_is_public_account(c->dom, c->account))
		copy_event(c, s.not_own > 0 ? LOG_SEV_WARNING : LOG_SEV_INFO,
			   "public folders: %zu folders of OLD's shared namespace "
			   "\"%s\" as %s sees them, copied as this account's (NEW's "
			   "public namespace); %zu in further shared namespaces not "
			   "copied%s%s%s", ns, c->src_prefix, c->dom->public_folders_login,
			   s.not_own, s.not_own > 0 ? ", such as \"" : "",
			   s.not_own > 0 ? s.not_own_first : "", s.not_own > 0 ? "\"" : "");
	else if (s.not_own > 0)
		copy_event(c, LOG_SEV_INFO, "%zu folders OLD lists in its other users' "
			   "or shared namespaces (NAMESPACE), such as \"%s\", are not "
			   "this user's: not copied into this mailbox%s%s%s", s.not_own,
			   s.not_own_first, c->dom->public_folders_account != NULL ?
			   " (the shared ones are copied once, as " : "",
			   c->dom->public_folders_account != NULL ?
			   c->dom->public_folders_account : "",
			   c->dom->public_folders_account != NULL ? "'s)" : "");
	if (c->tdrv->list_folders(c->dst, &tf, &nt, fail_r, error_r) < 0) {
		driver_folders_free(&sf, ns);
		return -1;
	}
	copy_target_layout(c, tf, nt);
	driver_folders_free(&tf, nt);
	copy_progress_sizes(c, sf, ns);
	if (copy_split_wanted(c)) {
		ret = copy_split_folders(c, sf, ns, fail_r, error_r);
		driver_folders_free(&sf, ns);
		return ret;
	}
	for (size_t i = 0, index = 0; ret == 0 && i < ns; i++) {
		char *target = NULL;

		ret = copy_folder_prepare(c, &sf[i], &target, fail_r, error_r);
		if (ret > 0) {
			puller_progress_folder(&c->prog, (uint32_t)++index, sf[i].name);
			ret = copy_folder_messages(c, &sf[i], target, fail_r, error_r);
			if (ret == 0)
				ret = copy_verify(c, sf[i].name, 1, fail_r, error_r);
		}
		mm_free(&target);
	}
	driver_folders_free(&sf, ns);
	return ret;
}

int copy_folder_prepare(struct copy *c, const struct driver_folder *sf, char **target_r,
			enum stream_fail *fail_r, const char **error_r)
{
	const char *error;
	int m = folder_map_apply(c->map, &c->msrc, &c->mdst, sf->name, sf->attrs,
				 target_r, &error);

	if (m == 0)
		return 0;	/* excluded */
	if (m < 0)
		return copy_failed_item(c, sf->name, 0, NULL, error, fail_r, error_r);
	if (c->tdrv->create_folder(c->dst, *target_r, sf->attrs, sf->subscribed,
				   fail_r, error_r) < 0) {
		/* NEW refuses this name: a failed folder, not a failed account. */
		char reason[STREAM_ERROR_MAX];

		if (*fail_r != STREAM_FAIL_FINAL)
			return -1;
		snprintf(reason, sizeof(reason), "%s", *error_r);
		return copy_failed_item(c, sf->name, 0, NULL, reason, fail_r, error_r);
	}
	return (sf->attrs & DRIVER_FOLDER_NOSELECT) == 0;
}

int copy_connect(struct copy *c, enum stream_fail *fail_r, const char **error_r)
{
	struct puller_session s = { .dom = c->dom, .account = c->account };

	int ret = puller_session_open(c->p, &s, fail_r, error_r);

	/* What did open is closed at the end, failure or not. */
	c->sdrv = s.sdrv;
	c->tdrv = s.tdrv;
	c->src = s.src;
	c->dst = c->dsts[0] = s.dst;
	return ret;
}

static int set_finished(struct store_account *acct, void *context)
{
	const struct copy *c = context;
	time_t now = time(NULL);

	acct->updated = now;
	if (c->job->kind == STORE_JOB_FINISH) {
		acct->state = STORE_STATE_FINISHED;
		acct->finished = now;
	} else {
		acct->state = STORE_STATE_COPIED;
	}
	acct->copy_finished = now;
	mm_free(&acct->last_error);
	return 0;
}

int puller_copy_account(struct puller *p, const struct store_job *job,
			enum puller_outcome *outcome_r, enum stream_fail *fail_r,
			const char **error_r)
{
	struct copy c = { .p = p, .job = job, .account = job->account,
			  .outcome = PULLER_DONE, .halt = PULLER_DONE,
			  .lease_seconds = puller_lease_seconds(),
			  .lease_renewed = time(NULL) };
	struct store_account acct;
	const char *error, *at;
	int ret;

	*fail_r = STREAM_FAIL_NONE;
	ret = store_account_get(p->store, job->account, &acct, &error);
	if (ret == STORE_NOTFOUND)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				 "the account is not in the store");
	if (ret < 0)
		return copy_store_fail(fail_r, error_r, error);
	ret = acct.state;
	store_account_clear(&acct);
	if (ret == STORE_STATE_PASSWORDS_ONLY) {
		*outcome_r = PULLER_DONE;
		return 0;
	}
	at = strchr(job->account, '@');
	c.dom = at != NULL ? cfg_domain_find(p->cfg, at + 1) : NULL;
	if (c.dom == NULL)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "its domain has no "
				 "[domain] section in %s", p->cfg->path);
	if (folder_map_new(c.dom->exclude_folders, c.dom->folder_map, &c.map,
			   &error) < 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "%s", error);
	copy_batches_init(&c);
	c.max_size = p->cfg->max_message_size;
	c.max_size_name = "max_message_size";
	c.tally = alias_tally_new(c.dom->access_mode, job->account);
	alias_tally_set_mx_names(c.tally, c.dom->source_mx_names);
	if (store_account_set_state(p->store, job->account, STORE_STATE_MIGRATING,
				    time(NULL), &error) < 0) {
		ret = copy_store_fail(fail_r, error_r, error);
	} else {
		puller_progress_begin(&c.prog, p->store, job->account, p->owner,
				      time(NULL));
		ret = copy_connect(&c, fail_r, error_r);
	}
	if (ret == 0) {
		uint64_t limit = c.tdrv->append_limit(c.dst);

		copy_crash_connected();

		/* NEW's APPENDLIMIT, when lower, is the one that counts. */
		if (limit != 0 && limit < c.max_size) {
			c.max_size = limit;
			c.max_size_name = "NEW's APPENDLIMIT";
		}
		/* A split of an earlier round first: its assistant gone, what
		 * it left pending (slot 1) settled; then this worker's own. */
		ret = copy_split_reclaim(&c, fail_r, error_r);
		if (ret == 0)
			ret = copy_settle_pending(&c, fail_r, error_r);
		/* Batches overlap where a batch is one FETCH into one
		 * MULTIAPPEND whose end and answer come apart. */
		c.pipe = c.sdrv->fetch_batch != NULL && c.tdrv->append_commit != NULL &&
			c.tdrv->can_batch(c.dst);
	}
	if (ret == 0)
		ret = copy_folders(&c, fail_r, error_r);
	if (ret == 0 && c.outcome == PULLER_DONE && c.differ > 0)
		ret = stream_failf(fail_r, STREAM_FAIL_TEMP, error_r, "verify: %llu of "
				   "%llu folders differ from OLD, the account is not "
				   "copied (mailmigrate verify %s); %s",
				   (unsigned long long)c.differ,
				   (unsigned long long)c.verified, job->account,
				   c.differ_why);
	/* The Sieve scripts after the mail, before the round is recorded
	 * and the post-migrate script runs (last). The public folders
	 * account has folders only: the Sieve scripts, calendars and
	 * address books its OLD session would show are its login user's. */
	if (ret == 0 && c.outcome == PULLER_DONE && !cfg_is_public_account(c.dom, c.account))
		ret = copy_sieve(&c, fail_r, error_r);
	if (ret == 0 && c.outcome == PULLER_DONE)
		ret = copy_acls(&c, fail_r, error_r);
	if (ret == 0 && c.outcome == PULLER_DONE && !cfg_is_public_account(c.dom, c.account))
		ret = copy_dav(&c, fail_r, error_r);
	if (ret > 0) {
		/* Stopped between batches: the job goes back as it is. */
		ret = 0;
	} else if (ret == 0 && c.outcome == PULLER_DONE) {
		alias_tally_result_found(c.tally, copy_alias_accept, copy_alias_record, &c);
		if (store_account_update(p->store, job->account, set_finished, &c,
					 &error) < 0)
			ret = copy_store_fail(fail_r, error_r, error);
		else
			copy_event(&c, LOG_SEV_INFO, "%s: %llu messages (%llu bytes) "
				   "copied in this round, flags updated on %llu, "
				   "%llu not copied; verified: %llu folders, %llu "
				   "messages on OLD, each copied or a failed item "
				   "(%llu folders unchanged on OLD since proved: "
				   "checked on NEW only; %llu changed: only the changes "
				   "listed on OLD); OLD listed %llu messages (%llu folders asked "
				   "only for changes since the last round, %llu of "
				   "them unchanged)%s",
				   job->kind == STORE_JOB_FINISH ? "finished" : "copied",
				   (unsigned long long)c.copied,
				   (unsigned long long)c.bytes,
				   (unsigned long long)c.flag_updates,
				   (unsigned long long)c.failed,
				   (unsigned long long)c.verified,
				   (unsigned long long)c.verified_msgs,
				   (unsigned long long)c.verified_from_record,
				   (unsigned long long)c.verified_from_changes,
				   (unsigned long long)c.listed,
				   (unsigned long long)c.changedsince_folders,
				   (unsigned long long)c.unchanged_folders,
				   copy_identity_summary(&c));
		if (ret == 0 && job->kind == STORE_JOB_FINISH) {
			copy_post_script(&c);
			if (store_cred_wipe(p->store, job->account, &error) < 0)
				ret = copy_store_fail(fail_r, error_r, error);
		}
	}
	if (ret != 0 || c.outcome != PULLER_DONE)
		copy_split_abandon(&c);	/* the assistant, if any, stops */
	if (ret < 0)
		/* Closing talks to the servers (LOGOUT), which may overwrite
		 * a driver's own buffer *error_r points to: the reason into
		 * error(3h)'s ring, which outlives a few more failures. */
		*error_r = error_setf("%s", *error_r);
	puller_progress_end(&c.prog);
	if (c.src != NULL)
		c.sdrv->close(&c.src);
	for (int k = 0; k < 2; k++)
		if (c.dsts[k] != NULL)
			c.tdrv->close(&c.dsts[k]);
	c.dst = NULL;
	for (int u = 0; u < FOLDER_MAP_USES; u++)
		mm_free(&c.special[u]);
	folder_map_free(&c.map);
	alias_tally_free(&c.tally);
	copy_batches_free(&c);
	mm_free(&c.seen);
	*outcome_r = c.outcome;
	return ret;
}
