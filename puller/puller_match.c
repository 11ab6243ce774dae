/*
 * NAME
 *	puller_match 3
 * SUMMARY
 *	what NEW already holds: matching it, settling a crash
 * DESCRIPTION
 *	A batch is recorded as pending before it goes to NEW. After a
 *	crash, and for a folder new to us on a NEW that already holds
 *	mail, or a NEW that gives no APPENDUID, the messages NEW holds are
 *	listed (from a known UIDNEXT on) and matched to OLD's by
 *	INTERNALDATE, Message-ID and size, each NEW message claimed once,
 *	so nothing is appended twice. Also the hashes the store keeps per
 *	message (flags, Message-ID) and the search for the first message
 *	no round recorded.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "copy.h"
#include "log.h"
#include "maildate.h"
#include "mm_alloc.h"

static int keyword_cmp(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* A hash of a message's flags and keywords (order and case of keywords
 * do not count), never 0, which means "unknown". FNV-1a, 32 bits. */
uint32_t copy_flags_hash(const struct driver_message *msg)
{
	char **kw = mm_calloc(msg->keywords_count + 1, sizeof(char *));
	uint32_t h = 2166136261u;

	h = (h ^ (msg->flags & 0xff)) * 16777619u;
	memcpy(kw, msg->keywords, msg->keywords_count * sizeof(char *));
	qsort(kw, msg->keywords_count, sizeof(char *), keyword_cmp);
	for (size_t i = 0; i < msg->keywords_count; i++) {
		for (const char *p = kw[i]; *p != '\0'; p++)
			h = (h ^ (unsigned char)tolower((unsigned char)*p)) * 16777619u;
		h = (h ^ ' ') * 16777619u;
	}
	mm_free(&kw);
	return h != 0 ? h : 1;
}

/* A Message-ID's hash (FNV-1a, 64 bits), never 0 but for none. */
uint64_t copy_message_id_hash(const char *id)
{
	uint64_t h = 14695981039346656037ull;

	if (id == NULL || *id == '\0')
		return 0;
	for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h != 0 ? h : 1;
}

/* Keep a copy of each listed message. */
int copy_collect(const struct driver_message *msg, void *context)
{
	struct copy_list *l = context;
	struct driver_message *m;

	if (l->max_uid != 0 && msg->uid > l->max_uid)
		return 0;
	if (l->count == l->alloc) {
		l->alloc = l->alloc == 0 ? 256 : l->alloc * 2;
		l->msgs = mm_reallocarray(l->msgs, l->alloc, sizeof(*l->msgs));
	}
	m = &l->msgs[l->count++];
	*m = *msg;
	m->keywords = mm_calloc(msg->keywords_count + 1, sizeof(char *));
	for (size_t i = 0; i < msg->keywords_count; i++)
		m->keywords[i] = mm_strdup(msg->keywords[i]);
	m->message_id = msg->message_id != NULL ? mm_strdup(msg->message_id) : NULL;
	return 0;
}

void copy_list_free(struct copy_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		driver_message_clear(&l->msgs[i]);
	mm_free(&l->msgs);
	l->count = l->alloc = 0;
}

/* What NEW holds in the selected folder from first_uid on. */
int copy_load_seen(struct copy *c, uint32_t first_uid,
		   enum stream_fail *fail_r, const char **error_r)
{
	struct copy_list l = { 0 };

	mm_free(&c->seen);
	c->seen_count = 0;
	if (c->tdrv->list_messages(c->dst, first_uid, DRIVER_WANT_MESSAGE_ID,
				   copy_collect, &l, fail_r, error_r) < 0) {
		copy_list_free(&l);
		return -1;
	}
	c->seen = mm_calloc(l.count + 1, sizeof(*c->seen));
	for (size_t i = 0; i < l.count; i++) {
		c->seen[i].uid = l.msgs[i].uid;
		c->seen[i].size = l.msgs[i].size;
		c->seen[i].date = maildate_imap_time(l.msgs[i].internaldate);
		c->seen[i].message_id_hash = copy_message_id_hash(l.msgs[i].message_id);
		c->seen[i].uidl_hash = copy_message_id_hash(l.msgs[i].uidl);
		c->seen[i].flags_hash = copy_flags_hash(&l.msgs[i]);
	}
	c->seen_count = l.count;
	copy_list_free(&l);
	return 0;
}

/* The NEW message not claimed yet that is this OLD message: the same
 * INTERNALDATE and Message-ID (or both without one) and the same size;
 * failing that, with a Message-ID, the same date and Message-ID (an OLD
 * server whose RFC822.SIZE is not the size of what it sends). Its UID,
 * or 0. */
uint32_t copy_match_seen(struct copy *c, uint64_t size, const char *date,
			 uint64_t message_id_hash)
{
	int64_t t = maildate_imap_time(date);

	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1 && message_id_hash == 0)
			break;
		for (size_t i = 0; i < c->seen_count; i++) {
			struct copy_seen *s = &c->seen[i];

			if (s->claimed || s->date != t ||
			    s->message_id_hash != message_id_hash ||
			    (pass == 0 && s->size != size))
				continue;
			s->claimed = 1;
			return s->uid;
		}
	}
	return 0;
}

int copy_match_batch(struct copy *c, uint32_t old_uid, uint64_t size,
		     const char *date, uint64_t message_id_hash, const char *uidl,
		     uint32_t *uid_r, enum stream_fail *fail_r, const char **error_r)
{
	*uid_r = 0;
	if (uidl[0] != '\0' && c->tdrv->append_add_keep == NULL)
		/* The X-UIDL: header the copy was given. */
		return c->tdrv->find_header(c->dst, "X-UIDL", uidl, uid_r, fail_r,
					    error_r);
	if (uidl[0] != '\0') {
		/* The UIDL NEW keeps for the message: exact. */
		uint64_t h = copy_message_id_hash(uidl);

		for (size_t i = 0; i < c->seen_count; i++)
			if (!c->seen[i].claimed && c->seen[i].uidl_hash == h) {
				c->seen[i].claimed = 1;
				*uid_r = c->seen[i].uid;
				return 0;
			}
		return 0;
	}
	/* Under its own UID, with its date and Message-ID: NEW's own mail
	 * at that UID (a delivery, when OLD's could not have it) is not it.
	 * The size is not asked: some OLD servers report it wrongly. */
	for (size_t i = 0; c->keep && i < c->seen_count; i++)
		if (!c->seen[i].claimed && c->seen[i].uid == old_uid &&
		    c->seen[i].date == maildate_imap_time(date) &&
		    c->seen[i].message_id_hash == message_id_hash) {
			c->seen[i].claimed = 1;
			*uid_r = old_uid;
			return 0;
		}
	*uid_r = copy_match_seen(c, size, date, message_id_hash);
	return 0;
}

int copy_seen_flags(const struct copy *c, uint32_t uid, uint32_t *flags_hash)
{
	/* 0: not compared (a POP3 copy, whose flags are not OLD's). */
	if (uid == 0 || *flags_hash == 0)
		return 0;
	for (size_t i = 0; i < c->seen_count; i++)
		if (c->seen[i].claimed && c->seen[i].uid == uid) {
			if (c->seen[i].flags_hash == *flags_hash)
				return 0;
			*flags_hash = c->seen[i].flags_hash;
			return 1;
		}
	return 0;
}

/* Settle a batch left pending by an interruption. */
int copy_settle_pending(struct copy *c, enum stream_fail *fail_r,
			const char **error_r)
{
	struct driver_folder_status st;
	struct store_batch b;
	uint32_t *uids;
	const char *error;
	size_t found = 0, reflag = 0;
	int ret;

	ret = store_batch_pending(c->p->store, c->account, c->slot, &b, &error);
	if (ret == STORE_NOTFOUND)
		return 0;
	if (ret < 0)
		return copy_store_fail(fail_r, error_r, error);
	uids = mm_calloc(b.count, sizeof(*uids));
	ret = c->tdrv->create_folder(c->dst, b.target_folder, 0, 0, fail_r, error_r);
	if (ret == 0)
		ret = c->tdrv->select(c->dst, b.target_folder, &st, fail_r, error_r);
	if (ret == 0 && st.uidvalidity == b.target_uidvalidity)
		ret = copy_load_seen(c, b.target_uidnext, fail_r, error_r);
	/* OLD's UIDs kept there: a message under its own UID is the one. */
	c->keep = c->tdrv->set_identity != NULL && ret == 0 &&
		st.uidvalidity == b.uidvalidity;
	for (size_t i = 0; ret == 0 && st.uidvalidity == b.target_uidvalidity &&
	     i < b.count; i++) {
		ret = copy_match_batch(c, b.msgs[i].old_uid, b.msgs[i].size,
				       b.msgs[i].internaldate, b.msgs[i].message_id_hash,
				       b.msgs[i].uidl, &uids[i], fail_r, error_r);
		found += uids[i] != 0;
		if (ret == 0)
			reflag += copy_seen_flags(c, uids[i], &b.msgs[i].flags_hash);
	}
	if (ret == 0 && store_batch_done(c->p->store, c->account, c->slot, &b, uids, time(NULL),
					 &error) < 0)
		ret = copy_store_fail(fail_r, error_r, error);
	if (ret == 0)
		copy_count_recorded(&b, uids);
	if (ret == 0)
		copy_event(c, LOG_SEV_INFO, "resumed after an interruption: %zu of %zu "
			   "messages of the last batch to %s were already on NEW",
			   found, b.count, b.target_folder);
	if (ret == 0 && reflag != 0)
		copy_event(c, LOG_SEV_WARNING, "%zu of them with other flags or "
			   "keywords on NEW than on OLD: set again in this round",
			   reflag);
	mm_free(&uids);
	mm_free(&c->seen);
	c->seen_count = 0;
	c->keep = 0;
	store_batch_clear(&b);
	return ret;
}

/* Messages appended to a NEW without UIDPLUS: find their UIDs among
 * NEW's messages from the batch's UIDNEXT on, by Message-ID, size and
 * date, as after a crash. One not found fails the attempt (retry later,
 * the batch kept pending and settled then). */
int copy_find_appended(struct copy *c, struct copy_batch *b, struct driver_conn *conn,
		       enum stream_fail *fail_r, const char **error_r)
{
	struct copy_seen *folder_seen = c->seen;
	struct driver_conn *dst = c->dst;
	size_t folder_seen_count = c->seen_count, unknown = 0, found = 0;
	int ret;

	for (size_t i = 0; i < b->rec.count; i++)
		unknown += b->unknown[i];
	if (unknown == 0)
		return 0;
	if (!c->said_no_uidplus) {
		c->said_no_uidplus = 1;
		copy_event(c, LOG_SEV_INFO, "NEW gives no APPENDUID (no UIDPLUS): "
			   "the UIDs of appended messages are looked up on NEW");
	}
	/* The folder's own list (first-time matching) stays as it is. */
	c->seen = NULL;
	c->seen_count = 0;
	c->dst = conn;
	ret = copy_load_seen(c, b->rec.target_uidnext, fail_r, error_r);
	c->dst = dst;
	for (size_t i = 0; ret == 0 && i < c->seen_count; i++)
		for (size_t j = 0; j < b->rec.count; j++)
			if (b->uids[j] != 0 && b->uids[j] == c->seen[i].uid)
				c->seen[i].claimed = 1;
	for (size_t i = 0; ret == 0 && i < b->rec.count; i++) {
		if (!b->unknown[i])
			continue;
		b->uids[i] = copy_match_seen(c, b->rec.msgs[i].size,
					     b->rec.msgs[i].internaldate,
					     b->rec.msgs[i].message_id_hash);
		if (b->uids[i] == 0)
			continue;
		b->unknown[i] = 0;
		if (b->uids[i] >= c->target_uidnext)
			c->target_uidnext = b->uids[i] + 1;
		found++;
	}
	mm_free(&c->seen);
	c->seen = folder_seen;
	c->seen_count = folder_seen_count;
	if (ret == 0 && found < unknown)
		ret = stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
				   "%zu of %zu messages appended to %s not found on NEW "
				   "(it has no UIDPLUS)", unknown - found, unknown,
				   b->rec.target_folder);
	return ret;
}

/* The lowest UID up to the last one handled that no round recorded
 * as copied (a failed item, or a gap the verification found): the
 * listing is cut there and taken again with Message-IDs from there on,
 * so what is copied now can be matched on NEW after a crash. */
int copy_first_gap(struct copy *c, const char *folder, uint32_t uidvalidity,
		   struct copy_list *l, uint32_t *first_uid_r,
		   enum stream_fail *fail_r, const char **error_r)
{
	const char *error;
	uint32_t new_uid;
	size_t i;
	int ret = 0;

	for (i = 0; i < l->count; i++) {
		const struct driver_message *msg = &l->msgs[i];

		if (msg->uidl[0] != '\0') {
			ret = store_uidl_has(c->p->store, c->account, msg->uidl, &error);
			ret = ret < 0 ? -1 : ret == 1 ? 0 : STORE_NOTFOUND;
		} else {
			ret = store_msgmap_get(c->p->store, c->account, folder, uidvalidity,
					       msg->uid, &new_uid, &error);
		}
		if (ret < 0)
			return copy_store_fail(fail_r, error_r, error);
		if (ret == STORE_NOTFOUND)
			break;
	}
	if (i == l->count)
		return 0;
	*first_uid_r = l->msgs[i].uid;
	for (size_t j = i; j < l->count; j++)
		driver_message_clear(&l->msgs[j]);
	l->count = i;
	return 0;
}
