/*
 * NAME
 *	puller_identity 3
 * SUMMARY
 *	OLD's UIDVALIDITY and UIDs kept on a target that can (dovecot)
 * DESCRIPTION
 *	Before a folder's messages: NEW's own mail in it moved aside, the
 *	folder given OLD's UIDVALIDITY (or said why not); after them:
 *	OLD's UIDNEXT set and NEW's own mail back above OLD's UIDs; the
 *	round summary's word on it. copy(3h), IDENTITY, says why and what
 *	each collision becomes.
 */
#include "config.h"

#include "copy.h"
#include "error.h"
#include "log.h"
#include "mm_alloc.h"

/* Where NEW's own messages of target wait while OLD's go in. */
static char *copy_parked_name(const struct copy *c, const char *target)
{
	return mm_asprintf("mailmigrate-parked%c%s", c->mdst.separator != '\0' ?
			   c->mdst.separator : '/', target);
}

/* Does NEW's selected folder hold one of the selected OLD folder's
 * messages (by Message-ID, size and date)? A copy the store forgot (a
 * reset, an earlier copy with the imap target) is not NEW's own mail:
 * moved aside and back, it would be there twice. */
static int copy_new_holds_old(struct copy *c, int *holds_r, enum stream_fail *fail_r,
			      const char **error_r)
{
	struct copy_list l = { 0 };
	int ret;

	*holds_r = 0;
	if (copy_load_seen(c, 1, fail_r, error_r) < 0)
		return -1;
	ret = c->sdrv->list_messages(c->src, 1, DRIVER_WANT_MESSAGE_ID, copy_collect,
				     &l, fail_r, error_r);
	for (size_t i = 0; ret == 0 && !*holds_r && i < l.count; i++)
		*holds_r = copy_match_seen(c, l.msgs[i].size, l.msgs[i].internaldate,
					   copy_message_id_hash(l.msgs[i].message_id)) != 0;
	copy_list_free(&l);
	mm_free(&c->seen);
	c->seen_count = 0;
	return ret;
}

/* A target keeping OLD's identity (dovecot): give the folder OLD's
 * UIDVALIDITY before its messages (copy(3h), IDENTITY). NEW's own mail
 * in a folder new to the store (the notice, a delivery) is moved aside
 * first, to come back after OLD's (copy_identity_done()). A folder
 * still holding messages under another UIDVALIDITY (one of OLD's among
 * them, copied before the store forgot it; a folder OLD renumbered
 * since) keeps NEW's: said in the events once, and copied as to the
 * imap target, matched, with new UIDs.
 * *tst becomes NEW's folder status; c->keep says whether UIDs are
 * asked for. known: the store knows the folder from an earlier round
 * under this UIDVALIDITY; new_folder: the store has no record of it. NEW's
 * own mail is moved aside only in a folder new to the store that holds
 * none of OLD's messages. */
int copy_identity(struct copy *c, const char *folder, const char *target,
		  const struct driver_folder_status *sst, struct driver_folder_status *tst,
		  int known, int new_folder, enum stream_fail *fail_r, const char **error_r)
{
	struct driver_folder_status st;

	c->keep = 0;
	if (c->sdrv == &source_driver_pop3)
		return 0;	/* no UIDs on OLD: the UIDLs are kept instead */
	if (tst->uidvalidity != sst->uidvalidity && new_folder && tst->exists > 0 &&
	    c->tdrv->move_all != NULL) {
		int holds;

		if (copy_new_holds_old(c, &holds, fail_r, error_r) < 0)
			return -1;
		new_folder = !holds;
	}
	if (tst->uidvalidity != sst->uidvalidity && new_folder && tst->exists > 0 &&
	    c->tdrv->move_all != NULL) {
		/* NEW's own mail (the notice, a delivery): aside while OLD's
		 * goes in, back above OLD's UIDs after (copy_identity_done). */
		char *parked = copy_parked_name(c, target);
		uint32_t moved;
		int ret = c->tdrv->move_all(c->dst, target, parked, 0, &moved, fail_r,
					    error_r);

		mm_free(&parked);
		if (ret < 0 || c->tdrv->select(c->dst, target, tst, fail_r, error_r) < 0)
			return -1;
		if (moved > 0)
			copy_event(c, LOG_SEV_INFO, "NEW's %s held %u messages of its "
				   "own: moved aside while OLD's go in under OLD's "
				   "UIDVALIDITY, back above OLD's UIDs after", target,
				   moved);
	}
	if (tst->uidvalidity != sst->uidvalidity) {
		if (known || tst->exists > 0) {
			/* Known: the first round said so already. */
			if (!known) {
				c->identity_lost++;
				copy_event(c, LOG_SEV_WARNING, "UIDVALIDITY of %s not "
					   "kept: NEW's %s already holds %u messages "
					   "under UIDVALIDITY %u (OLD's is %u); copied "
					   "with NEW's UIDVALIDITY and new UIDs, so "
					   "IMAP clients download this folder again",
					   folder, target, tst->exists, tst->uidvalidity,
					   sst->uidvalidity);
			}
			return 0;
		}
		if (c->tdrv->set_identity(c->dst, target, sst->uidvalidity, 0, &st,
					  fail_r, error_r) < 0) {
			if (*fail_r != STREAM_FAIL_FINAL)
				return -1;
			/* A message arrived in between: as above. */
			c->identity_lost++;
			copy_event(c, LOG_SEV_WARNING, "UIDVALIDITY of %s not kept: %s",
				   folder, *error_r);
			return c->tdrv->select(c->dst, target, tst, fail_r, error_r);
		}
		tst->uidvalidity = st.uidvalidity;
		/* A new UIDVALIDITY shows UIDNEXT 1 again, but Dovecot still
		 * gives no UID below the one it had (Maildir's uidlist). */
		if (st.uidnext > tst->uidnext)
			tst->uidnext = st.uidnext;
	}
	c->keep = tst->uidvalidity == sst->uidvalidity;
	return 0;
}

/* After a folder's messages (kept UIDs): NEW's UIDNEXT raised to OLD's,
 * so what OLD had given and expunged is never given again on NEW, and
 * the UIDs that moved counted in the events. */
int copy_identity_done(struct copy *c, const char *folder, const char *target,
		       const struct driver_folder_status *sst, enum stream_fail *fail_r,
		       const char **error_r)
{
	struct driver_folder_status st;

	char *parked;
	uint32_t moved;
	int ret;

	if (c->folder_renumbered > 0)
		copy_event(c, LOG_SEV_WARNING, "%llu messages of %s got new UIDs on "
			   "NEW: their UIDs from OLD were taken there, or given "
			   "before, by NEW's own mail; IMAP clients download just "
			   "those again", (unsigned long long)c->folder_renumbered,
			   folder);
	c->folder_renumbered = 0;
	if (c->keep && sst->uidnext != 0 &&
	    c->tdrv->set_identity(c->dst, target, 0, sst->uidnext, &st, fail_r,
				  error_r) < 0)
		return -1;
	if (c->tdrv->move_all == NULL || c->sdrv == &source_driver_pop3)
		return 0;
	/* NEW's own mail parked by copy_identity(), this round or one a
	 * crash cut short: back, above OLD's UIDs. */
	parked = copy_parked_name(c, target);
	ret = c->tdrv->move_all(c->dst, parked, target, 1, &moved, fail_r, error_r);
	mm_free(&parked);
	if (ret == 0 && moved > 0)
		copy_event(c, LOG_SEV_INFO, "%u messages of NEW's own back in %s, "
			   "above OLD's UIDs", moved, target);
	return ret;
}

/* The round summary's word on OLD's identity (dovecot target): UIDs
 * that moved and UIDVALIDITYs not kept; "" for the imap target. */
const char *copy_identity_summary(const struct copy *c)
{
	if (c->tdrv == NULL || c->tdrv->set_identity == NULL)
		return "";
	return error_setf("; OLD's UIDs kept but %llu (given new ones), "
			  "UIDVALIDITY kept but in %llu folders",
			  (unsigned long long)c->renumbered,
			  (unsigned long long)c->identity_lost);
}
