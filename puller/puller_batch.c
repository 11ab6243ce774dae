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
	time_t now = time(NULL), every = (time_t)c->lease_seconds / 3;
	const char *error;
	int ret;

	if (now - c->lease_renewed < (every > 0 ? every : 1))
		return 0;
	ret = store_job_renew(c->p->store, c->job->id, c->p->owner, c->lease_seconds,
			      now, &error);
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
	    c->tdrv->append_end(c->dst, new_uid_r, 1, fail_r, error_r) < 0)
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
	copy_event(c, LOG_SEV_ERROR, "not copied: %s UID %u (%llu bytes): %s", folder,
		   msg != NULL ? msg->uid : 0,
		   (unsigned long long)(msg != NULL ? msg->size : 0), reason);
	if (store_failed_add(c->p->store, &it, &error) < 0)
		return copy_store_fail(fail_r, error_r, error);
	puller_count(failed_items, 1);
	return 0;
}

/* The batch sink: add this message to NEW's MULTIAPPEND. */
static int copy_batch_sink(size_t k, const struct driver_message *msg,
			   struct driver_body *body, void *context)
{
	struct copy *c = context;
	struct throttled_body tb = { { body->size, throttled_read, &tb }, body, c,
				     c->tap ? c->tally : NULL };
	enum stream_fail fail;
	const char *error;
	char reason[256];

	if (copy_over_size(c, msg, body, reason, sizeof(reason)) != NULL) {
		/* Left out of the MULTIAPPEND (the source drains it), and
		 * recorded: a failed item, not in the batch's UIDs. */
		if (copy_failed_item(c, c->batch.folder, c->batch.uidvalidity, msg,
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
	c->added[c->added_count++] = c->batch_todo[k];
	return 0;
}

/* Send the batch's messages to NEW as one MULTIAPPEND, fed by one
 * pipelined FETCH: one commit on NEW for the whole batch. 0 when done
 * (batch_uids set), 1 when NEW refused the batch as a whole (to be sent
 * one by one), -1 on failure (the target connection is then unusable:
 * closing it makes NEW drop the half batch, and the pending record
 * settles it at the next attempt). */
static int copy_flush_multi(struct copy *c, enum stream_fail *fail_r,
			    const char **error_r)
{
	const struct driver_message *todo[PULLER_BATCH_MESSAGES];
	uint32_t uids[PULLER_BATCH_MESSAGES];
	struct store_batch *b = &c->batch;
	size_t n = 0;

	for (size_t i = 0; i < b->count; i++) {
		if (c->batch_uids[i] != 0)
			continue;	/* matched on NEW already */
		c->batch_todo[n] = i;
		todo[n++] = c->batch_msgs[i];
	}
	if (n == 0)
		return 0;
	c->added_count = 0;
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
	if (c->added_count == 0) {
		/* Everything vanished from OLD: end an empty command cleanly. */
		(void)c->tdrv->append_end(c->dst, uids, 0, fail_r, error_r);
		return 0;
	}
	if (c->tdrv->append_end(c->dst, uids, c->added_count, fail_r, error_r) < 0) {
		/* A message in it at fault: one by one, to find which. A
		 * refusal for now ([OVERQUOTA]) is the job's: NEW kept
		 * none of the batch, which waits as it is. */
		if (*fail_r == STREAM_FAIL_MESSAGE)
			return 1;
		return -1;
	}
	for (size_t k = 0; k < c->added_count; k++) {
		size_t i = c->added[k];

		c->batch_uids[i] = uids[k];
		c->batch_unknown[i] = uids[k] == 0;
		copy_count_moved(c, c->batch_msgs[i], uids[k]);
		if (uids[k] >= c->target_uidnext)
			c->target_uidnext = uids[k] + 1;
		c->copied++;
		c->bytes += c->batch_msgs[i]->size;
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

/* A testing aid (mailmigrated(8), ENVIRONMENT): when
 * MAILMIGRATED_CRASH_AFTER_APPEND names a file that exists, the worker
 * removes it and dies by SIGKILL right after NEW took a batch and
 * before the store records it, the narrowest window exactly-once has
 * to survive. Once per file. */
static void copy_crash_point(void)
{
	const char *path = getenv("MAILMIGRATED_CRASH_AFTER_APPEND");

	if (path != NULL && *path != '\0' && unlink(path) == 0) {
		log_warning("MAILMIGRATED_CRASH_AFTER_APPEND: dying after an append");
		raise(SIGKILL);
	}
}

/* Send the batch to NEW and record it. */
static int copy_flush_batch(struct copy *c, enum stream_fail *fail_r,
			    const char **error_r)
{
	struct store_batch *b = &c->batch;
	const char *error;
	time_t now;

	if (b->count == 0)
		return 0;
	b->target_uidnext = c->target_uidnext;
	if (store_batch_begin(c->p->store, c->account, b, &error) < 0)
		return copy_store_fail(fail_r, error_r, error);
	if (c->sdrv->fetch_batch != NULL && c->tdrv->can_batch(c->dst)) {
		int ret = copy_flush_multi(c, fail_r, error_r);

		if (ret < 0)
			return -1;
		if (ret == 0)
			goto sent;
		/* NEW refused the batch as a whole: one by one, so the
		 * message at fault is found and recorded. */
	}
	for (size_t i = 0; i < b->count; i++) {
		const struct driver_message *msg = c->batch_msgs[i];
		int ret;

		if (c->batch_uids[i] != 0)
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
			if (copy_failed_item(c, b->folder, b->uidvalidity, msg,
					     c->sink_error, fail_r, error_r) < 0)
				return -1;
			continue;
		}
		if (ret < 0 && c->sink_fail != STREAM_FAIL_NONE)
			return stream_failf(fail_r, c->sink_fail, error_r, "NEW: %s",
					 c->sink_error);
		if (ret < 0)
			return -1;	/* the batch stays pending */
		c->batch_uids[i] = c->cur_uid;
		c->batch_unknown[i] = c->cur_uid == 0;
		if (c->cur_uid >= c->target_uidnext)
			c->target_uidnext = c->cur_uid + 1;
		c->copied++;
		c->bytes += msg->size;
		/* SIGTERM or pause: this message is in; record what is, stop. */
		if (i + 1 < b->count && copy_should_stop(c)) {
			for (size_t j = i + 1; j < b->count; j++)
				c->batch_uids[j] = 0;
			break;
		}
	}
sent:
	copy_crash_point();
	if (copy_find_appended(c, fail_r, error_r) < 0)
		return -1;	/* the batch stays pending */
	now = time(NULL);
	if (store_batch_done(c->p->store, c->account, b, c->batch_uids, now, &error) < 0)
		return copy_store_fail(fail_r, error_r, error);
	puller_progress_add(&c->prog, b->count, c->batch_bytes);
	copy_count_recorded(b, c->batch_uids);
	b->count = 0;
	c->batch_bytes = 0;
	/* Keep the lease, and stop between batches when asked to. */
	if (store_job_renew(c->p->store, c->job->id, c->p->owner, c->lease_seconds,
			    now, &error) != 0) {
		c->outcome = PULLER_LEASE_LOST;
		return 1;
	}
	c->lease_renewed = now;
	if (copy_should_stop(c))
		return 1;
	return 0;
}

/* copy_flush_batch(), and a message given up in flight (lease lost,
 * SIGTERM in a throttle wait) made a stop: the batch stays pending and
 * is settled at the next attempt, by this worker or the one that has
 * the job now. >0: stop (outcome set). */
int copy_flush(struct copy *c, enum stream_fail *fail_r, const char **error_r)
{
	int ret = copy_flush_batch(c, fail_r, error_r);

	if (ret < 0 && c->halt != PULLER_DONE) {
		log_info("%s: %s", c->account, *error_r);
		c->outcome = c->halt;
		return 1;
	}
	return ret;
}
