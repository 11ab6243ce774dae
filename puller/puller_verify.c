/*
 * NAME
 *	puller_verify 3
 * SUMMARY
 *	prove one folder's copy: OLD now, the store's record, NEW now
 * DESCRIPTION
 *	Every message OLD holds in the folder is accounted for: copied
 *	(in the UID map, or for POP3 in the UIDL set), a failed item (the
 *	reason recorded), arrived after the last round (above the highest
 *	UID it handled: the next round's), or missing, which no round
 *	explains. Every copied message must still be on NEW under the UID
 *	recorded (a POP3 copy: with the X-UIDL: header it was given, or
 *	on the dovecot target with the UIDL NEW stores). Missing or gone messages make the folder differ; the
 *	puller then holds the account back from "copied" and copies what
 *	is missing at the next attempt, and mailmigrate verify shows it.
 *	RFC822.SIZE sums, INTERNALDATEs and each copy's flags and keywords
 *	are compared and shown too, but do not hold an account back: some
 *	servers report sizes only roughly, NEW may replace a date it will
 *	not keep (Dovecot: an APPEND date more than about two hours ahead),
 *	which the copy reports message by message, and a flag a user set
 *	on either side since the copy is no loss; the round reports the
 *	count as a warning.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "copy.h"
#include "driver.h"
#include "maildate.h"
#include "mm_alloc.h"
#include "puller.h"

/* A message as listed, the little verification needs of it. */
struct verify_msg {
	uint32_t uid;
	uint32_t new_uid;	/* OLD: its UID on NEW, when mapped */
	int copied;		/* OLD: recorded as copied */
	uint64_t size;
	uint32_t flags_hash;	/* copy_flags_hash() */
	char date[40];
	char uidl[72];
};

struct verify_list {
	struct verify_msg *msgs;
	size_t count, alloc;
};

static int verify_collect(const struct driver_message *msg, void *context)
{
	struct verify_list *l = context;
	struct verify_msg *m;

	if (l->count == l->alloc) {
		l->alloc = l->alloc == 0 ? 256 : l->alloc * 2;
		l->msgs = mm_reallocarray(l->msgs, l->alloc, sizeof(*l->msgs));
	}
	m = &l->msgs[l->count++];
	memset(m, 0, sizeof(*m));
	m->uid = msg->uid;
	m->size = msg->size;
	m->flags_hash = copy_flags_hash(msg);
	snprintf(m->date, sizeof(m->date), "%s", msg->internaldate);
	snprintf(m->uidl, sizeof(m->uidl), "%s", msg->uidl);
	return 0;
}

static int verify_uid_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct verify_msg *)a)->uid;
	uint32_t y = ((const struct verify_msg *)b)->uid;

	return x < y ? -1 : x > y;
}

static const struct verify_msg *verify_find(const struct verify_list *l, uint32_t uid)
{
	struct verify_msg key = { .uid = uid };

	return bsearch(&key, l->msgs, l->count, sizeof(*l->msgs), verify_uid_cmp);
}

static int verify_uidl_cmp(const void *a, const void *b)
{
	return strcmp(((const struct verify_msg *)a)->uidl,
		      ((const struct verify_msg *)b)->uidl);
}

/* A copy NEW lost: forget it, so the next attempt copies it again. */
static int verify_forget(struct puller *p, const char *account, const char *folder,
			 uint32_t uidvalidity, const struct verify_msg *m,
			 enum stream_fail *fail_r, const char **error_r)
{
	const char *error;
	int ret = m->uidl[0] != '\0' ?
		store_uidl_forget(p->store, account, m->uidl, &error) :
		store_msgmap_forget(p->store, account, folder, uidvalidity, m->uid,
				    &error);

	if (ret < 0)
		return stream_failf(fail_r, STREAM_FAIL_WAIT, error_r, "store: %s", error);
	return 0;
}

/* The folder's failed items: messages (uid != 0) of this UIDVALIDITY in
 * *items (sorted by UID); *folder_failed when the folder itself failed
 * (NEW refused its name, OLD's name is malformed). */
struct verify_failed {
	const char *folder;
	uint32_t uidvalidity;
	struct verify_list items;
	int folder_failed;
};

static int verify_failed_one(const struct store_failed *it, void *context)
{
	struct verify_failed *vf = context;
	struct driver_message m = { .uid = it->uid, .size = it->size };

	if (strcmp(it->folder, vf->folder) != 0)
		return 0;
	if (it->uid == 0 && it->uidvalidity == 0)
		vf->folder_failed = 1;
	else if (it->uid != 0 && it->uidvalidity == vf->uidvalidity)
		verify_collect(&m, &vf->items);
	return 0;
}

void puller_verify_clear(struct puller_verify *v)
{
	mm_free(&v->folder);
	mm_free(&v->target);
	memset(v, 0, sizeof(*v));
}

/* What differs, in words, for the event, the failed item and the table. */
static void verify_explain(struct puller_verify *v)
{
	size_t n = 0;

	v->why[0] = '\0';
#define WHY(...) do { if (n < sizeof(v->why)) \
	n += (size_t)snprintf(v->why + n, sizeof(v->why) - n, __VA_ARGS__); } while (0)
	if (v->missing > 0)
		WHY("neither copied nor failed: %llu of OLD's %llu messages (%llu "
		    "bytes)", (unsigned long long)v->missing,
		    (unsigned long long)v->old_msgs, (unsigned long long)v->missing_bytes);
	if (v->gone > 0)
		WHY("%scopies no longer on NEW: %llu", n > 0 ? "; " : "",
		    (unsigned long long)v->gone);
#undef WHY
}

/* OLD's uid in the folder's map: 1 with *new_uid_r, or 0. */
static int verify_map_find(const struct store_msgmap_entry *map, size_t count,
			   uint32_t uid, uint32_t *new_uid_r)
{
	const struct store_msgmap_entry *e = store_msgmap_find(map, count, uid);

	*new_uid_r = e == NULL ? 0 : e->new_uid;
	return e != NULL;
}

/*
 * OLD's messages that changed since the record's HIGHESTMODSEQ (new
 * ones, flags changed; RFC 7162 CHANGEDSINCE), each classified as the
 * full verification does: copied (*new_uid set), failed, or later.
 * 1: all accounted for; 0: one is missing (the caller verifies in full,
 * which says which); -1: failed.
 */
static int verify_changes(struct puller_session *s, const struct store_folder *rec,
			  const struct store_msgmap_entry *map, size_t nmap,
			  const struct verify_failed *failed, struct verify_list *changed,
			  struct puller_verify *v, enum stream_fail *fail_r,
			  const char **error_r)
{
	if (s->sdrv->list_changed(s->src, rec->highestmodseq, 0, verify_collect, changed,
				  fail_r, error_r) < 0)
		return -1;
	for (size_t i = 0; i < changed->count; i++) {
		struct verify_msg *m = &changed->msgs[i];

		if (verify_map_find(map, nmap, m->uid, &m->new_uid)) {
			m->copied = 1;
			v->copied++;
		} else if (verify_find(&failed->items, m->uid) != NULL) {
			v->failed++;
			v->failed_bytes += m->size;
		} else if (m->uid > rec->last_uid) {
			v->later++;
			continue;
		} else {
			return 0;
		}
		v->old_msgs++;
	}
	return 1;
}

/*
 * A folder OLD has not changed since a round proved it (the same
 * UIDVALIDITY and RFC 7162 HIGHESTMODSEQ: no message came or went, no
 * flag changed, since the record was written, which is only after a
 * verification that found nothing missing, failed or gone), and that
 * holds no more messages than the record accounts for (copied + failed;
 * fewer when OLD expunged some before that round: their copies stay on
 * NEW and in the map): OLD's messages are among the record's, so OLD is
 * not listed again. NEW is: every recorded copy must still be there
 * under its UID. Sizes and dates were compared when the folder was
 * proved.
 *
 * A folder OLD changed since (a higher HIGHESTMODSEQ, list_changed()
 * on OLD): every message OLD holds now either has a MODSEQ no higher
 * than the record's, so was there when the proved round began and is
 * in the map, or is among the changes. Only the changes are listed on
 * OLD and classified; those copied are compared with NEW (sizes, flags,
 * dates) as in full; OLD's messages beyond the changes must be no more
 * than the map holds. A change that is neither copied, failed nor later
 * sends the folder to the full verification.
 *
 * 1: proved so (v filled); 0: not this way (something differs: the
 * caller verifies in full, which says what and forgets what is gone);
 * -1: failed.
 */
static int verify_from_record(struct puller_session *s, const struct store_folder *rec,
			      const struct driver_folder_status *sst,
			      const struct store_msgmap_entry *map, size_t nmap,
			      const struct verify_failed *failed, uint32_t dates_from,
			      puller_verify_date_fn *date_fn, void *ctx,
			      struct puller_verify *v, enum stream_fail *fail_r,
			      const char **error_r)
{
	struct driver_folder_status tst;
	struct verify_list new = { 0 }, changed = { 0 };
	uint64_t gone = 0, new_copied_bytes = 0;
	int since = 0, ret = 0;

	if (rec->highestmodseq == 0 || rec->uidvalidity != sst->uidvalidity)
		return 0;
	if (sst->highestmodseq > rec->highestmodseq && s->sdrv->list_changed != NULL)
		since = 1;
	else if (sst->highestmodseq != rec->highestmodseq ||
		 sst->exists > (uint64_t)nmap + failed->items.count)
		return 0;
	if (since) {
		ret = verify_changes(s, rec, map, nmap, failed, &changed, v, fail_r,
				     error_r);
		/* The unchanged ones, all in the map. */
		if (ret > 0 && (v->old_msgs + v->later > sst->exists ||
				sst->exists - (v->old_msgs + v->later) > nmap))
			ret = 0;
		if (ret <= 0)
			goto out;
		ret = 0;
	}
	if (s->tdrv->select(s->dst, rec->target_name, &tst, fail_r, error_r) < 0) {
		ret = -1;
		goto out;
	}
	if (tst.uidvalidity != rec->target_uidvalidity)
		goto out;
	if (s->tdrv->list_messages(s->dst, 1, 0, verify_collect, &new, fail_r,
				   error_r) < 0) {
		ret = -1;
		goto out;
	}
	qsort(new.msgs, new.count, sizeof(*new.msgs), verify_uid_cmp);
	for (size_t i = 0; i < nmap; i++) {
		const struct verify_msg *n = verify_find(&new, map[i].new_uid);

		if (n == NULL)
			gone++;
		else
			new_copied_bytes += n->size;
	}
	if (gone > 0)
		goto out;
	for (size_t i = 0; i < changed.count; i++) {
		const struct verify_msg *m = &changed.msgs[i];
		const struct verify_msg *n = m->copied ? verify_find(&new, m->new_uid) : NULL;

		if (n == NULL)
			continue;
		v->copied_bytes += m->size;
		v->old_bytes += m->size;
		if (n->size != m->size)
			v->sizes++;
		if (n->flags_hash != m->flags_hash)
			v->flags++;
		if (maildate_imap_time(n->date) != maildate_imap_time(m->date)) {
			v->dates++;
			if (date_fn != NULL && m->new_uid >= dates_from)
				date_fn(v, m->uid, m->new_uid, m->date, n->date, ctx);
		}
	}
	ret = 1;
	if (since) {
		/* The changes counted above; the unchanged ones copied. */
		v->from_changes = 1;
		v->copied += sst->exists - (v->old_msgs + v->later);
		v->old_msgs = sst->exists - v->later;
	} else {
		v->from_record = 1;
		v->failed = failed->items.count < sst->exists ?
			failed->items.count : sst->exists;
		v->old_msgs = sst->exists;
		v->copied = v->old_msgs - v->failed;
		for (size_t i = 0; i < failed->items.count; i++)
			v->failed_bytes += failed->items.msgs[i].size;
	}
	v->new_msgs = new.count;
	for (size_t i = 0; i < new.count; i++)
		v->new_bytes += new.msgs[i].size;
	v->new_copied_bytes = new_copied_bytes;
out:
	if (ret == 0) {
		/* Counted for nothing: the full verification counts again. */
		v->copied = v->failed = v->later = v->old_msgs = 0;
		v->copied_bytes = v->old_bytes = v->failed_bytes = 0;
		v->sizes = v->flags = v->dates = 0;
	}
	mm_free(&new.msgs);
	mm_free(&changed.msgs);
	return ret;
}

int puller_verify_folder(struct puller *p, struct puller_session *s, const char *folder,
			 unsigned flags, uint32_t dates_from, puller_verify_date_fn *date_fn,
			 void *ctx, struct puller_verify *v, enum stream_fail *fail_r,
			 const char **error_r)
{
	struct driver_folder_status sst, tst;
	struct verify_list old = { 0 }, new = { 0 };
	struct verify_failed failed = { .folder = folder };
	struct store_folder rec = { 0 };
	struct store_msgmap_entry *map = NULL;
	size_t nmap = 0;
	const char *error;
	int ret, have_rec, pop3 = s->sdrv == &source_driver_pop3;

	memset(v, 0, sizeof(*v));
	v->folder = mm_strdup(folder);
	v->state = "ok";
	ret = store_folder_get(p->store, s->account, folder, &rec, &error);
	if (ret < 0)
		return stream_failf(fail_r, STREAM_FAIL_WAIT, error_r, "store: %s", error);
	have_rec = ret == 0;
	if (have_rec)
		v->target = mm_strdup(rec.target_name);
	if (s->sdrv->select(s->src, folder, &sst, fail_r, error_r) < 0)
		goto fail;
	v->uidvalidity = sst.uidvalidity;
	failed.uidvalidity = sst.uidvalidity;
	if (store_failed_iter(p->store, s->account, verify_failed_one, &failed,
			      &error) < 0) {
		stream_failf(fail_r, STREAM_FAIL_WAIT, error_r, "store: %s", error);
		goto fail;
	}
	qsort(failed.items.msgs, failed.items.count, sizeof(*failed.items.msgs),
	      verify_uid_cmp);
	/* The folder's UID map in one read, rather than a look-up per
	 * message (a round trip each on PostgreSQL). */
	if (have_rec && !pop3 && rec.uidvalidity == sst.uidvalidity &&
	    store_msgmap_list(p->store, s->account, folder, sst.uidvalidity, &map,
			      &nmap, &error) < 0) {
		stream_failf(fail_r, STREAM_FAIL_WAIT, error_r, "store: %s", error);
		goto fail;
	}
	if (have_rec && !pop3 && (flags & PULLER_VERIFY_IN_ROUND) != 0) {
		ret = verify_from_record(s, &rec, &sst, map, nmap, &failed, dates_from,
					 date_fn, ctx, v, fail_r, error_r);
		if (ret < 0)
			goto fail;
		if (ret > 0)
			goto done;
	}
	if (s->sdrv->list_messages(s->src, 1, 0, verify_collect, &old, fail_r,
				   error_r) < 0)
		goto fail;
	if (!have_rec) {
		/* No round has copied this folder. */
		v->state = failed.folder_failed ? "failed" : "not copied";
		v->later = old.count;
		for (size_t i = 0; i < old.count; i++)
			v->old_bytes += old.msgs[i].size;
		goto done;
	}
	if (rec.uidvalidity != sst.uidvalidity) {
		v->state = "differs";
		v->differs = 1;
		snprintf(v->why, sizeof(v->why), "UIDVALIDITY changed on OLD (%u -> %u): "
			 "the next round matches the folder against NEW again",
			 rec.uidvalidity, sst.uidvalidity);
		goto done;
	}
	/* Each of OLD's messages: copied, failed, later, or missing. */
	for (size_t i = 0; i < old.count; i++) {
		struct verify_msg *m = &old.msgs[i];

		if (pop3 && m->uidl[0] != '\0')
			ret = store_uidl_has(p->store, s->account, m->uidl, &error);
		else {
			ret = verify_map_find(map, nmap, m->uid, &m->new_uid);
		}
		if (ret < 0) {
			stream_failf(fail_r, STREAM_FAIL_WAIT, error_r, "store: %s", error);
			goto fail;
		}
		if (ret == 1) {
			m->copied = 1;
			v->copied++;
			v->copied_bytes += m->size;
			v->old_msgs++;
			v->old_bytes += m->size;
			continue;
		}
		m->new_uid = 0;
		if (verify_find(&failed.items, m->uid) != NULL) {
			v->failed++;
			v->failed_bytes += m->size;
		} else if (pop3 ? (flags & PULLER_VERIFY_IN_ROUND) == 0 :
			   m->uid > rec.last_uid) {
			v->later++;
			continue;
		} else {
			v->missing++;
			v->missing_bytes += m->size;
		}
		v->old_msgs++;
		v->old_bytes += m->size;
	}
	/* NEW: every copied message under the UID recorded. */
	if (s->tdrv->select(s->dst, rec.target_name, &tst, fail_r, error_r) < 0)
		goto fail;
	if (tst.uidvalidity != rec.target_uidvalidity) {
		v->state = "differs";
		v->differs = 1;
		snprintf(v->why, sizeof(v->why), "the folder %s on NEW was made again "
			 "(UIDVALIDITY %u -> %u): what was copied to it is gone",
			 rec.target_name, rec.target_uidvalidity, tst.uidvalidity);
		goto done;
	}
	if (s->tdrv->list_messages(s->dst, 1, pop3 ? DRIVER_WANT_UIDL : 0, verify_collect,
				   &new, fail_r, error_r) < 0)
		goto fail;
	/* By UID; a POP3 copy by the X-UIDL: it carries. */
	qsort(new.msgs, new.count, sizeof(*new.msgs), pop3 ? verify_uidl_cmp :
	      verify_uid_cmp);
	v->new_msgs = new.count;
	for (size_t i = 0; i < new.count; i++)
		v->new_bytes += new.msgs[i].size;
	for (size_t i = 0; i < old.count; i++) {
		const struct verify_msg *m = &old.msgs[i], *n;

		if (!m->copied)
			continue;
		n = pop3 ? bsearch(m, new.msgs, new.count, sizeof(*new.msgs),
				   verify_uidl_cmp) :
			verify_find(&new, m->new_uid);
		if (n == NULL) {
			v->gone++;
			if ((flags & PULLER_VERIFY_IN_ROUND) != 0 &&
			    verify_forget(p, s->account, folder, sst.uidvalidity, m,
					  fail_r, error_r) < 0)
				goto fail;
			continue;
		}
		v->new_copied_bytes += n->size;
		/* A POP3 copy has "X-UIDL: <uidl>" CRLF more, but on a
		 * target that stores the UIDL itself (dovecot). */
		if (n->size != m->size + (pop3 && s->tdrv->append_add_keep == NULL ?
					  10 + strlen(m->uidl) : 0))
			v->sizes++;
		/* A POP3 source has no flags of its own to compare. */
		if (!pop3 && n->flags_hash != m->flags_hash)
			v->flags++;
		if (!pop3 && maildate_imap_time(n->date) != maildate_imap_time(m->date)) {
			v->dates++;
			if (date_fn != NULL && m->new_uid >= dates_from)
				date_fn(v, m->uid, m->new_uid, m->date, n->date, ctx);
		}
	}
	verify_explain(v);
	if (v->why[0] != '\0') {
		v->state = "differs";
		v->differs = 1;
	}
done:
	ret = 0;
	if (0) {
fail:
		ret = -1;
	}
	store_folder_clear(&rec);
	mm_free(&old.msgs);
	mm_free(&new.msgs);
	mm_free(&failed.items.msgs);
	mm_free(&map);
	return ret;
}
