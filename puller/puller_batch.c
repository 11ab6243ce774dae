/*
 * NAME
 *	puller_batch 3
 * SUMMARY
 *	a batch of messages on its way from OLD to NEW, and its record
 * DESCRIPTION
 *	The source hands each message's body to a sink: copy_sink() for
 *	one APPEND, copy_batch_sink() for one message of a MULTIAPPEND.
 *	The body is read through a wrapper that counts it against
 *	max_bytes_per_second, feeds the alias tally and renews the lease.
 *	A message NEW refuses on its own (or over the size limit) is a
 *	failed item and the batch goes on; any other failure leaves the
 *	batch pending in the store, to be settled by puller_match(3) at
 *	the next attempt. Once sent, the batch is recorded done with its
 *	new UIDs, the lease renewed, and a pause or SIGTERM honoured.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "copy.h"
#include "log.h"
#include "mm_alloc.h"
#include "puller_metrics.h"
#include "throttle.h"

/* A batch is recorded: its messages that reached NEW (a UID there)
 * count as copied, for the metrics. */
void copy_count_recorded(const struct store_batch *b, const uint32_t *uids)
{
	uint64_t n = 0, bytes = 0;

	for (size_t i = 0; i < b->count; i++)
		if (uids[i] != 0) {
			n++;
			bytes += b->msgs[i].size;
		}
	puller_count(messages, n);
	puller_count(bytes, bytes);
}

/* Renew the lease while one message streams: a large message, a slow
 * OLD or a low max_bytes_per_second can take longer than a lease, and
 * another worker must not take the job meanwhile. At a third of the
 * lease, so a renewal that has to wait for the store lock still lands
 * in time. A lost lease halts the copy; a store failure is retried at
 * the next chunk (the lease has time left). */
static int copy_keep_lease(struct copy *c, enum stream_fail *fail_r,
			   const char **error_r)
{
	time_t now = time(NULL), every = copy_lease_every(c);
	const char *error;
	int ret;

	if (now - c->lease_renewed < every)
		return 0;
	ret = copy_renew(c, now, &error);
	if (ret == 0) {
		c->lease_renewed = now;
		return 0;
	}
	if (ret < 0) {
		/* Tried again in a second, not at every chunk. */
		log_warning("%s: cannot renew the lease: %s", c->account, error);
		if (every > 1)
			c->lease_renewed = now - every + 1;
		return 0;
	}
	c->halt = PULLER_LEASE_LOST;
	return stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
			    "lease lost in the middle of a message");
}

/* The body as the target reads it, counted against max_bytes_per_second,
 * with the lease kept. */
struct throttled_body {
	struct driver_body body;
	struct driver_body *inner;
	struct copy *c;
	struct alias_tally *tally;	/* NULL: no header to look at */
};

static int throttled_read(struct driver_body *body, void *buf, size_t len,
			  size_t *got_r, enum stream_fail *fail_r, const char **error_r)
{
	struct throttled_body *tb = body->ctx;

	if (tb->inner->read(tb->inner, buf, len, got_r, fail_r, error_r) < 0)
		return -1;
	alias_tally_feed(tb->tally, buf, *got_r);
	if (copy_keep_lease(tb->c, fail_r, error_r) < 0)
		return -1;
	if (throttle_take(puller_throttle, *got_r, &puller_stop) == THROTTLE_INTERRUPTED) {
		tb->c->halt = PULLER_STOPPED;
		return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r,
				    "stopped (SIGTERM) while held by max_bytes_per_second");
	}
	return 0;
}

/* Is the body OLD actually sends over the limit? RFC822.SIZE was
 * checked before; this is the size of the literal (or of the spooled
 * message), the bytes that would be streamed, which a server may
 * announce smaller than it is. The reason, or NULL. */
static const char *copy_over_size(struct copy *c, const struct driver_message *msg,
				  const struct driver_body *body, char *reason,
				  size_t size)
{
	if (body->size <= c->max_size)
		return NULL;
	snprintf(reason, size, "%llu bytes sent by OLD (RFC822.SIZE said %llu), "
		 "over %s (%llu bytes)", (unsigned long long)body->size,
		 (unsigned long long)msg->size, c->max_size_name,
		 (unsigned long long)c->max_size);
	return reason;
}

/* Add one message to NEW's batch: on a target keeping OLD's identity
 * under OLD's UID (c->keep) and with its POP3 UIDL stored as such. */
static int copy_append_add(struct copy *c, const struct driver_message *msg,
			   struct driver_body *body, enum stream_fail *fail_r,
			   const char **error_r)
{
	if (c->tdrv->append_add_keep == NULL)
		return c->tdrv->append_add(c->dst, msg, body, fail_r, error_r);
	return c->tdrv->append_add_keep(c->dst, msg, c->keep ? msg->uid : 0,
					msg->uidl[0] != '\0' ? msg->uidl : NULL,
					body, fail_r, error_r);
}

/* A message appended with its UID asked for got another (taken on
 * NEW): counted for the folder's event and the round's summary. */
static void copy_count_moved(struct copy *c, const struct driver_message *msg,
			     uint32_t new_uid)
{
	if (c->keep && new_uid != 0 && new_uid != msg->uid) {
		c->renumbered++;
		c->folder_renumbered++;
		log_info("%s: %s UID %u is UID %u on NEW (taken there)",
			 c->account, c->target_folder, msg->uid, new_uid);
	}
}

/* One message as its own batch (the one-by-one path). */
static int copy_append_one(struct copy *c, const struct driver_message *msg,
			   struct driver_body *body, uint32_t *new_uid_r,
			   enum stream_fail *fail_r, const char **error_r)
{
	if (c->tdrv->append_add_keep == NULL)
		return c->tdrv->append(c->dst, c->target_folder, msg, body, new_uid_r,
				       fail_r, error_r);
	*new_uid_r = 0;
	if (c->tdrv->append_begin(c->dst, c->target_folder, fail_r, error_r) < 0 ||
	    copy_append_add(c, msg, body, fail_r, error_r) < 0 ||
	    driver_append_end(c->tdrv, c->dst, new_uid_r, 1, fail_r, error_r) < 0)
		return -1;
	copy_count_moved(c, msg, *new_uid_r);
	return 0;
}

/* The append sink: the source hands over one message's body. A
 * refusal of this one message by NEW (STREAM_FAIL_MESSAGE: [TOOBIG],
 * [PARSE], a NO without a code) returns 1 so the source drains the
 * body and the batch goes on; anything else, a refusal for now
 * ([OVERQUOTA]: STREAM_FAIL_WAIT) included, stops the copy with the
 * append's failure class: the batch stays pending and the next attempt
 * settles it, so nothing is lost and nothing copied twice. */
static int copy_sink(const struct driver_message *msg, struct driver_body *body,
		     void *context)
{
	struct copy *c = context;
	enum stream_fail fail;
	const char *error;

	struct throttled_body tb = { { body->size, throttled_read, &tb }, body, c,
				     c->tap ? c->tally : NULL };
	char reason[256];

	c->sink_fail = STREAM_FAIL_NONE;
	c->append_refused = 0;
	c->cur_uid = 0;
	if (copy_over_size(c, msg, body, reason, sizeof(reason)) != NULL) {
		/* Not sent: the source drains it, the batch goes on. */
		snprintf(c->sink_error, sizeof(c->sink_error), "%s", reason);
		c->append_refused = 1;
		return 1;
	}
	alias_tally_begin(tb.tally);
	if (copy_append_one(c, msg, &tb.body, &c->cur_uid, &fail, &error) == 0) {
		alias_tally_end(tb.tally);
		return 0;
	}
	snprintf(c->sink_error, sizeof(c->sink_error), "%s", error);
	c->sink_fail = fail;
	c->cur_uid = 0;
	if (fail == STREAM_FAIL_MESSAGE) {
		c->append_refused = 1;
		return 1;
	}
	return -1;
}

/* Record a message that cannot be copied, and go on. */
int copy_failed_item(struct copy *c, const char *folder, uint32_t uidvalidity,
		     const struct driver_message *msg, const char *reason,
		     enum stream_fail *fail_r, const char **error_r)
{
	struct store_failed it = { (char *)c->account, (char *)folder, uidvalidity,
				   msg != NULL ? msg->uid : 0, msg != NULL ? msg->size : 0,
				   time(NULL), (char *)reason };
	const char *error;

	c->failed++;
	if (msg != NULL)
		copy_event(c, LOG_SEV_ERROR, "not copied: %s UID %u (%llu bytes): %s",
			   folder, msg->uid, (unsigned long long)msg->size, reason);
	else
		copy_event(c, LOG_SEV_ERROR, "not copied: %s: %s", folder, reason);
	if (store_failed_add(c->p->store, &it, &error) < 0)
		return copy_store_fail(fail_r, error_r, error);
	puller_count(failed_items, 1);
	return 0;
}

/* The batch sink: add this message to NEW's MULTIAPPEND (c->cur). */
static int copy_batch_sink(size_t k, const struct driver_message *msg,
			   struct driver_body *body, void *context)
{
	struct copy *c = context;
	struct copy_batch *b = c->cur;
	struct throttled_body tb = { { body->size, throttled_read, &tb }, body, c,
				     c->tap ? c->tally : NULL };
	enum stream_fail fail;
	const char *error;
	char reason[256];

	if (copy_over_size(c, msg, body, reason, sizeof(reason)) != NULL) {
		/* Left out of the MULTIAPPEND (the source drains it), and
		 * recorded: a failed item, not in the batch's UIDs. */
		if (copy_failed_item(c, b->rec.folder, b->rec.uidvalidity, msg,
				     reason, &fail, &error) < 0) {
			snprintf(c->sink_error, sizeof(c->sink_error), "%s", error);
			c->sink_fail = fail;
			return -1;
		}
		return 0;
	}
	alias_tally_begin(tb.tally);
	if (copy_append_add(c, msg, &tb.body, &fail, &error) < 0) {
		snprintf(c->sink_error, sizeof(c->sink_error), "%s", error);
		c->sink_fail = fail;
		return -1;
	}
	alias_tally_end(tb.tally);
	b->added[b->added_count++] = b->todo[k];
	return 0;
}

void copy_batches_init(struct copy *c)
{
	for (size_t i = 0; i < COPY_SLOTS; i++) {
		struct copy_batch *b = &c->slots[i];

		b->rec.msgs = mm_calloc(PULLER_BATCH_MESSAGES, sizeof(*b->rec.msgs));
		b->msgs = mm_calloc(PULLER_BATCH_MESSAGES, sizeof(*b->msgs));
		b->uids = mm_calloc(PULLER_BATCH_MESSAGES, sizeof(*b->uids));
		b->unknown = mm_calloc(PULLER_BATCH_MESSAGES, sizeof(*b->unknown));
	}
	c->union_msgs = mm_calloc(2 * PULLER_BATCH_MESSAGES, sizeof(*c->union_msgs));
	c->fill = &c->slots[0];
	c->queued = c->sent = c->cur = NULL;
}

void copy_batches_free(struct copy *c)
{
	for (size_t i = 0; i < COPY_SLOTS; i++) {
		struct copy_batch *b = &c->slots[i];

		mm_free(&b->rec.msgs);
		mm_free(&b->msgs);
		mm_free(&b->uids);
		mm_free(&b->unknown);
	}
	mm_free(&c->union_msgs);
}

void copy_batches_folder(struct copy *c, const char *folder, uint32_t uidvalidity,
			 const char *target, uint32_t target_uidvalidity)
{
	for (size_t i = 0; i < COPY_SLOTS; i++) {
		struct copy_batch *b = &c->slots[i];

		b->rec.folder = (char *)folder;
		b->rec.uidvalidity = uidvalidity;
		b->rec.target_folder = (char *)target;
		b->rec.target_uidvalidity = target_uidvalidity;
		b->rec.count = 0;
		b->bytes = 0;
		b->added_count = 0;
		b->dst = NULL;
	}
	c->fill = &c->slots[0];
	c->queued = c->sent = c->cur = NULL;
}

/* Stream b's messages not on NEW yet from OLD into one MULTIAPPEND on
 * c->dst, fed by one pipelined FETCH, without ending it (copy_commit()):
 * b->dst is then that session. Nothing to send, or everything vanished
 * from OLD: b->dst stays NULL. -1 on failure (the session is unusable:
 * closing it makes NEW drop the half batch, and the pending record
 * settles it at the next attempt). */
static int copy_stream(struct copy *c, struct copy_batch *b, enum stream_fail *fail_r,
		       const char **error_r)
{
	const struct driver_message *todo[PULLER_BATCH_MESSAGES];
	uint32_t uids[1];
	size_t n = 0;

	b->dst = NULL;
	b->added_count = 0;
	for (size_t i = 0; i < b->rec.count; i++) {
		if (b->uids[i] != 0)
			continue;	/* matched on NEW already */
		b->todo[n] = i;
		todo[n++] = b->msgs[i];
	}
	if (n == 0)
		return 0;
	c->cur = b;
	c->sink_fail = STREAM_FAIL_NONE;
	if (c->tdrv->append_begin(c->dst, c->target_folder, fail_r, error_r) < 0)
		return -1;
	if (c->sdrv->fetch_batch(c->src, todo, n, copy_batch_sink, c, fail_r,
				 error_r) < 0) {
		if (c->sink_fail != STREAM_FAIL_NONE)
			return stream_failf(fail_r, c->sink_fail, error_r, "NEW: %s",
					    c->sink_error);
		return -1;
	}
	if (b->added_count == 0) {
		/* Everything vanished from OLD: end an empty command cleanly. */
		(void)driver_append_end(c->tdrv, c->dst, uids, 0, fail_r, error_r);
		return 0;
	}
	b->dst = c->dst;
	return 0;
}

/* End b's MULTIAPPEND: NEW commits it now, the answer is read later
 * (copy_answer()). A target without the halves commits there. */
static int copy_commit(struct copy *c, struct copy_batch *b, enum stream_fail *fail_r,
		       const char **error_r)
{
	if (b->dst == NULL)
		return 0;
	return c->tdrv->append_commit(b->dst, fail_r, error_r);
}

/* NEW's answer to b, and its UIDs taken. 0 when done, 1 when NEW
 * refused the batch as a whole (a message in it at fault: to be sent
 * one by one), -1 on failure. A refusal for now ([OVERQUOTA]) is the
 * job's: NEW kept none of the batch, which waits as it is. */
static int copy_answer(struct copy *c, struct copy_batch *b, enum stream_fail *fail_r,
		       const char **error_r)
{
	uint32_t uids[PULLER_BATCH_MESSAGES];
	struct driver_conn *conn = b->dst;
	int ret;

	if (conn == NULL)
		return 0;
	b->dst = NULL;
	ret = c->tdrv->append_result(conn, uids, b->added_count, fail_r, error_r);
	if (ret < 0)
		return *fail_r == STREAM_FAIL_MESSAGE ? 1 : -1;
	for (size_t k = 0; k < b->added_count; k++) {
		size_t i = b->added[k];

		b->uids[i] = uids[k];
		b->unknown[i] = uids[k] == 0;
		copy_count_moved(c, b->msgs[i], uids[k]);
		if (uids[k] >= c->target_uidnext)
			c->target_uidnext = uids[k] + 1;
		c->copied++;
		c->bytes += b->msgs[i]->size;
	}
	return 0;
}

/* SIGTERM, or mailmigrate pause: the copy stops after the message in
 * flight. Sets the outcome. */
static int copy_should_stop(struct copy *c)
{
	const char *error;
	int paused = 0;

	if (!puller_stop &&
	    (store_paused(c->p->store, &paused, &error) < 0 || !paused))
		return 0;
	c->outcome = PULLER_STOPPED;
	return 1;
}

/* b's messages one at a time on c->dst, each its own commit on NEW (no
 * batch on this NEW, or NEW refused the batch as a whole: the message
 * at fault is found and recorded). 0, >0 when SIGTERM or a pause came
 * (what is in is kept, the rest left out), -1 (b stays pending). */
static int copy_send_each(struct copy *c, struct copy_batch *b,
			  enum stream_fail *fail_r, const char **error_r)
{
	for (size_t i = 0; i < b->rec.count; i++) {
		const struct driver_message *msg = b->msgs[i];
		int ret;

		if (b->uids[i] != 0)
			continue;	/* matched on NEW already */
		c->cur_uid = 0;
		c->sink_fail = STREAM_FAIL_NONE;
		c->append_refused = 0;
		ret = c->sdrv->fetch(c->src, msg, copy_sink, c, fail_r, error_r);
		if (ret < 0 && c->sink_fail == STREAM_FAIL_NONE &&
		    *fail_r == STREAM_FAIL_MESSAGE) {
			/* The source turned this one message down (POP3:
			 * over max_message_size once spooled). */
			snprintf(c->sink_error, sizeof(c->sink_error), "%s", *error_r);
			c->append_refused = 1;
			ret = 0;
		}
		if (ret == 0 && c->append_refused) {
			/* NEW refused this one message: record it, go on. */
			if (copy_failed_item(c, b->rec.folder, b->rec.uidvalidity, msg,
					     c->sink_error, fail_r, error_r) < 0)
				return -1;
			continue;
		}
		if (ret < 0 && c->sink_fail != STREAM_FAIL_NONE)
			return stream_failf(fail_r, c->sink_fail, error_r, "NEW: %s",
					    c->sink_error);
		if (ret < 0)
			return -1;	/* the batch stays pending */
		b->uids[i] = c->cur_uid;
		b->unknown[i] = c->cur_uid == 0;
		if (c->cur_uid >= c->target_uidnext)
			c->target_uidnext = c->cur_uid + 1;
		c->copied++;
		c->bytes += msg->size;
		/* SIGTERM or pause: this message is in; record what is, stop. */
		if (i + 1 < b->rec.count && copy_should_stop(c)) {
			for (size_t j = i + 1; j < b->rec.count; j++)
				b->uids[j] = 0;
			return 1;
		}
	}
	return 0;
}

/* A testing aid (mailmigrated(8), ENVIRONMENT): when the variable
 * names a file that exists, the worker removes it and dies by SIGKILL.
 * MAILMIGRATED_CRASH_AFTER_APPEND: right after NEW took a batch and
 * before the store records it, the narrowest window exactly-once has
 * to survive; MAILMIGRATED_CRASH_IN_FLIGHT: there too, but only with
 * the next batch committed on NEW as well (two batches in flight, the
 * store knowing neither done); MAILMIGRATED_CRASH_ASSIST_IN_FLIGHT: as
 * that, only in the assistant of a split account (puller_split(3));
 * MAILMIGRATED_CRASH_HOLDER_IN_FLIGHT: as that, in the holder of a split
 * account while its assistant is copying a folder. Once per file. */
static void copy_crash_point(const char *name)
{
	const char *path = getenv(name);

	if (path != NULL && *path != '\0' && unlink(path) == 0) {
		log_warning("%s: dying after an append", name);
		raise(SIGKILL);
	}
}

/* The pending record for a and b (either NULL): both batches' messages
 * in one, with NEW's UIDNEXT before them. NULL when there is none. */
static const struct store_batch *copy_union(struct copy *c, const struct copy_batch *a,
					    const struct copy_batch *b,
					    struct store_batch *u)
{
	const struct copy_batch *ab[2] = { a, b };
	size_t n = 0;

	for (size_t k = 0; k < 2; k++) {
		if (ab[k] == NULL || ab[k]->rec.count == 0)
			continue;
		if (n == 0)
			*u = ab[k]->rec;	/* the folder's names */
		u->count = n;
		u->msgs = c->union_msgs;
		memcpy(u->msgs + u->count, ab[k]->rec.msgs,
		       ab[k]->rec.count * sizeof(*u->msgs));
		n += ab[k]->rec.count;
	}
	u->count = n;
	u->target_uidnext = c->target_uidnext;
	return n > 0 ? u : NULL;
}

/* b is answered (on session conn): the UIDs NEW did not tell found,
 * then b recorded done and next pending in its place, in one store
 * commit. */
static int copy_record(struct copy *c, struct copy_batch *b, struct driver_conn *conn,
		       const struct store_batch *next, enum stream_fail *fail_r,
		       const char **error_r)
{
	const char *error;

	if (copy_find_appended(c, b, conn, fail_r, error_r) < 0)
		return -1;	/* the batch stays pending */
	if (store_batch_done_next(c->p->store, c->account, c->slot, &b->rec, b->uids, next,
				  time(NULL), &error) < 0)
		return copy_store_fail(fail_r, error_r, error);
	puller_progress_add(&c->prog, b->rec.count, b->bytes);
	copy_count_recorded(&b->rec, b->uids);
	b->rec.count = 0;
	b->bytes = 0;
	return 0;
}

/* Keep the lease: between batches once a third of it has passed (not
 * at every batch: the store commits once per batch), and always when
 * the folder's batches are done (force), before its verification and
 * the next folder's listing, which renew nothing. >0: lost (outcome
 * set). */
static int copy_lease(struct copy *c, int force)
{
	time_t now = time(NULL);
	const char *error;

	if (!force && now - c->lease_renewed < copy_lease_every(c))
		return 0;
	if (copy_renew(c, now, &error) != 0) {
		c->outcome = PULLER_LEASE_LOST;
		return 1;
	}
	c->lease_renewed = now;
	return 0;
}

/* Between batches: the lease kept, and a stop when asked to. >0: stop
 * (outcome set). */
static int copy_between(struct copy *c)
{
	if (copy_lease(c, 0) > 0)
		return 1;
	return copy_should_stop(c);
}

/* The answer to b (a MULTIAPPEND, or one by one), the UIDs NEW did not
 * tell found on b's session. 0, >0 stop (SIGTERM or a pause in the one
 * by one: recorded as far as it went by the caller), -1. */
static int copy_settle_sent(struct copy *c, struct copy_batch *b,
			    struct driver_conn **conn_r, enum stream_fail *fail_r,
			    const char **error_r)
{
	struct driver_conn *dst = c->dst;
	int ret;

	*conn_r = b->dst != NULL ? b->dst : c->dst;
	ret = copy_answer(c, b, fail_r, error_r);
	if (ret <= 0)
		return ret;
	/* NEW refused the batch as a whole: one by one, on the session it
	 * went to (free again), so the message at fault is found. */
	c->dst = *conn_r;
	ret = copy_send_each(c, b, fail_r, error_r);
	c->dst = dst;
	return ret;
}

/* One batch at a time (no pipeline): pending, sent, answered, recorded. */
static int copy_flush_one(struct copy *c, struct copy_batch *b, enum stream_fail *fail_r,
			  const char **error_r)
{
	struct driver_conn *conn = c->dst;
	struct store_batch u;
	const char *error;
	int ret = 0, stop = 0;

	if (b->rec.count == 0)
		return 0;
	if (store_batch_begin(c->p->store, c->account, c->slot, copy_union(c, b, NULL, &u),
			      &error) < 0)
		return copy_store_fail(fail_r, error_r, error);
	b->rec.target_uidnext = c->target_uidnext;
	if (c->sdrv->fetch_batch != NULL && c->tdrv->can_batch(c->dst)) {
		ret = copy_stream(c, b, fail_r, error_r);
		if (ret == 0)
			ret = copy_commit(c, b, fail_r, error_r);
		if (ret == 0)
			ret = copy_settle_sent(c, b, &conn, fail_r, error_r);
	} else {
		ret = copy_send_each(c, b, fail_r, error_r);
	}
	if (ret < 0)
		return -1;
	stop = ret > 0;
	copy_crash_point("MAILMIGRATED_CRASH_AFTER_APPEND");
	if (copy_record(c, b, conn, NULL, fail_r, error_r) < 0)
		return -1;
	return stop ? 1 : copy_between(c);
}

/* The second NEW session, opened when the pipeline first needs it, with
 * the folder selected; NULL and the pipeline off when it cannot be had
 * (said once: the copy goes on a batch at a time). */
static struct driver_conn *copy_other_dst(struct copy *c)
{
	struct puller_session s = { .dom = c->dom, .account = c->account, .sdrv = c->sdrv,
				     .tdrv = c->tdrv, .src = c->src };
	struct driver_folder_status st;
	struct driver_conn *other;
	enum stream_fail fail;
	const char *error;

	other = c->dsts[0] == c->dst ? c->dsts[1] : c->dsts[0];
	if (other != NULL)
		return other;
	if (puller_target_open(c->p, &s, &c->dsts[1], &fail, &error) < 0 ||
	    c->tdrv->select(c->dsts[1], c->target_folder, &st, &fail, &error) < 0) {
		log_warning("%s: no second session on NEW, batches go one at a time: %s",
			    c->account, error);
		if (c->dsts[1] != NULL)
			c->tdrv->close(&c->dsts[1]);
		c->pipe = 0;
		return NULL;
	}
	return c->dsts[1];
}

/* The pipeline's step (copy(3h), PIPELINE): the queued batch streams
 * from OLD into the free session while NEW commits the sent one; then
 * the sent one's answer is read, the queued one committed, and in one
 * store commit the sent one recorded done and the queued one with next
 * (NULL: none) recorded pending. The queued one is sent next. */
static int copy_step(struct copy *c, struct copy_batch *next, enum stream_fail *fail_r,
		     const char **error_r)
{
	struct copy_batch *q = c->queued, *s = c->sent;
	struct driver_conn *other = NULL, *sconn = NULL;
	struct store_batch u;
	const char *error;
	int ret;

	if (s != NULL || next != NULL) {
		/* Something to overlap: the batch goes to the other session. */
		other = copy_other_dst(c);
		if (other == NULL) {
			/* None to be had: one at a time from here on. */
			c->queued = NULL;
			ret = copy_flush_one(c, q, fail_r, error_r);
			if (ret == 0 && next != NULL)
				ret = copy_flush_one(c, next, fail_r, error_r);
			return ret;
		}
	}
	if (copy_stream(c, q, fail_r, error_r) < 0)
		return -1;
	if (s != NULL) {
		ret = copy_settle_sent(c, s, &sconn, fail_r, error_r);
		if (ret < 0)
			return -1;
		if (ret > 0) {
			/* Stopped in the one by one: what is in recorded; q,
			 * streamed but not committed, stays pending (NEW drops
			 * it with the session). */
			c->sent = c->queued = NULL;
			if (copy_record(c, s, sconn, copy_union(c, q, NULL, &u), fail_r,
					error_r) < 0)
				return -1;
			return 1;
		}
	}
	if (copy_commit(c, q, fail_r, error_r) < 0)
		return -1;
	c->sent = q;
	c->queued = next;
	if (s != NULL) {
		copy_crash_point("MAILMIGRATED_CRASH_AFTER_APPEND");
		if (q->dst != NULL)
			copy_crash_point("MAILMIGRATED_CRASH_IN_FLIGHT");
		/* The same, only in a split's assistant (slot 1). */
		if (q->dst != NULL && c->slot == 1)
			copy_crash_point("MAILMIGRATED_CRASH_ASSIST_IN_FLIGHT");
		/* Or in its holder while the assistant is copying a folder. */
		if (q->dst != NULL && c->slot == 0 &&
		    getenv("MAILMIGRATED_CRASH_HOLDER_IN_FLIGHT") != NULL &&
		    copy_split_assisted(c))
			copy_crash_point("MAILMIGRATED_CRASH_HOLDER_IN_FLIGHT");
		if (copy_record(c, s, sconn, copy_union(c, q, next, &u), fail_r,
				error_r) < 0)
			return -1;
	} else if (next != NULL) {
		if (store_batch_begin(c->p->store, c->account, c->slot, copy_union(c, q, next, &u),
				      &error) < 0)
			return copy_store_fail(fail_r, error_r, error);
	}
	/* The next batch goes to the session that is free now. */
	if (q->dst != NULL && other != NULL)
		c->dst = other;
	return copy_between(c);
}

/* The sent batch's answer read and recorded; the queued one, if any,
 * never sent, is pending no more (a stop, or the folder's end). */
static int copy_finish_sent(struct copy *c, enum stream_fail *fail_r, const char **error_r)
{
	struct copy_batch *s = c->sent;
	struct driver_conn *sconn;
	int ret;

	c->sent = c->queued = NULL;
	if (s == NULL)
		return store_batch_abort(c->p->store, c->account, c->slot, error_r) < 0 ?
			copy_store_fail(fail_r, error_r, *error_r) : 0;
	ret = copy_settle_sent(c, s, &sconn, fail_r, error_r);
	if (ret < 0)
		return -1;
	copy_crash_point("MAILMIGRATED_CRASH_AFTER_APPEND");
	if (copy_record(c, s, sconn, NULL, fail_r, error_r) < 0)
		return -1;
	return ret;
}

/* A stop between batches with one sent: a pause or SIGTERM records it
 * (its answer read), the queued one never sent; a lost lease leaves
 * both pending as they are, for the worker that has the job now to
 * settle (recording here could drop that worker's own pending record). */
static int copy_stop_sent(struct copy *c, enum stream_fail *fail_r,
			  const char **error_r)
{
	if (c->sent == NULL || c->outcome == PULLER_LEASE_LOST)
		return 0;
	c->queued = NULL;
	return copy_finish_sent(c, fail_r, error_r) < 0 ? -1 : 0;
}

/* A free slot for the next batch to fill. */
static struct copy_batch *copy_free_slot(struct copy *c)
{
	for (size_t i = 0; i < COPY_SLOTS; i++)
		if (&c->slots[i] != c->sent && &c->slots[i] != c->queued &&
		    &c->slots[i] != c->fill)
			return &c->slots[i];
	return c->fill;	/* not reached: three slots, at most two taken */
}

static int copy_queue_batch(struct copy *c, enum stream_fail *fail_r,
			    const char **error_r)
{
	struct copy_batch *f = c->fill;
	struct store_batch u;
	const char *error;
	int ret;

	if (f->rec.count == 0)
		return 0;
	if (!c->pipe)
		return copy_flush_one(c, f, fail_r, error_r);
	f->rec.target_uidnext = c->target_uidnext;
	if (c->queued == NULL) {
		/* The folder's first: pending now, sent with the next. */
		if (store_batch_begin(c->p->store, c->account, c->slot, copy_union(c, f, NULL, &u),
				      &error) < 0)
			return copy_store_fail(fail_r, error_r, error);
		c->queued = f;
		c->fill = copy_free_slot(c);
		return 0;
	}
	ret = copy_step(c, f, fail_r, error_r);
	c->fill = copy_free_slot(c);
	if (ret > 0 && copy_stop_sent(c, fail_r, error_r) < 0)
		return -1;
	return ret;
}

static int copy_flush_all(struct copy *c, enum stream_fail *fail_r, const char **error_r)
{
	int sent = c->fill->rec.count > 0 || c->queued != NULL || c->sent != NULL;
	int ret = copy_queue_batch(c, fail_r, error_r);

	c->fill->rec.count = 0;
	c->fill->bytes = 0;
	while (ret == 0 && (c->queued != NULL || c->sent != NULL)) {
		if (c->queued != NULL) {
			ret = copy_step(c, NULL, fail_r, error_r);
			if (ret > 0 && copy_stop_sent(c, fail_r, error_r) < 0)
				return -1;
		} else {
			ret = copy_finish_sent(c, fail_r, error_r);
			if (ret == 0)
				ret = copy_between(c);
		}
	}
	if (ret == 0 && sent)
		ret = copy_lease(c, 1);
	return ret;
}

/* A message given up in flight (lease lost, SIGTERM in a throttle wait)
 * made a stop: what was in flight stays pending and is settled at the
 * next attempt, by this worker or the one that has the job now. >0:
 * stop (outcome set). */
static int copy_halted(struct copy *c, int ret, const char **error_r)
{
	if (ret < 0 && c->halt != PULLER_DONE) {
		log_info("%s: %s", c->account, *error_r);
		c->outcome = c->halt;
		return 1;
	}
	return ret;
}

int copy_queue(struct copy *c, enum stream_fail *fail_r, const char **error_r)
{
	return copy_halted(c, copy_queue_batch(c, fail_r, error_r), error_r);
}

int copy_flush(struct copy *c, enum stream_fail *fail_r, const char **error_r)
{
	return copy_halted(c, copy_flush_all(c, fail_r, error_r), error_r);
}
