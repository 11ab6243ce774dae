/*
 * NAME
 *	puller_copy 3
 * SUMMARY
 *	copy one account from OLD to NEW, resumably and exactly once
 * DESCRIPTION
 *	Folders are created on NEW (names mapped by folder_map(3)) with
 *	their subscriptions; messages go in batches recorded as pending
 *	before they are sent and as done with their new UIDs after. A
 *	batch left pending by a crash is settled first, by matching NEW's
 *	messages from the recorded UIDNEXT on by Message-ID, size and
 *	date. A folder
 *	seen for the first time on a NEW folder that already holds mail,
 *	or whose UIDVALIDITY changed on OLD, is matched the same way
 *	before anything is appended, so nothing lands twice.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alias_tally.h"
#include "driver.h"
#include "folder_map.h"
#include "log.h"
#include "mm_alloc.h"
#include "puller.h"
#include "puller_metrics.h"
#include "throttle.h"

/* A message on NEW, for matching by Message-ID, size and date. */
struct copy_seen {
	uint32_t uid;
	uint64_t size;
	int64_t date;
	uint64_t message_id_hash;
	int claimed;
};

struct copy_list {
	struct driver_message *msgs;
	size_t count, alloc;
	uint32_t max_uid;	/* keep only UIDs up to this; 0: all */
};

struct copy {
	struct puller *p;
	const struct store_job *job;
	const char *account;
	const struct cfg_domain *dom;
	const struct source_driver *sdrv;
	const struct target_driver *tdrv;
	struct driver_conn *src, *dst;
	struct folder_map *map;
	struct folder_map_source msrc;
	struct folder_map_target mdst;
	char src_prefix[64], dst_prefix[64];
	int dst_prefix_known;
	char *special[FOLDER_MAP_USES];
	uint64_t max_size;
	const char *max_size_name;	/* which limit max_size is */
	uint64_t copied, bytes, failed, flag_updates;
	enum puller_outcome outcome;
	/* The batch being filled for the current folder. */
	struct store_batch batch;
	struct driver_message **batch_msgs;
	uint32_t *batch_uids;
	/* Appended, but NEW (no UIDPLUS) did not say under which UID. */
	unsigned char *batch_unknown;
	int said_no_uidplus;
	uint64_t batch_bytes;
	uint32_t target_uidnext;
	struct copy_seen *seen;
	size_t seen_count;
	/* The message in flight, for the append sink. */
	const char *target_folder;
	uint32_t cur_uid;
	/* A batch sent as one MULTIAPPEND: batch indices in the order the
	 * messages were added. */
	size_t added[PULLER_BATCH_MESSAGES];
	size_t added_count;
	size_t batch_todo[PULLER_BATCH_MESSAGES];
	/* Addresses gathered from the headers (access_mode), and whether
	 * this folder's mail counts (received mail, not Sent or Junk). */
	struct alias_tally *tally;
	int tap;
	/* The lease: how long, and when it was last renewed. */
	unsigned lease_seconds;
	time_t lease_renewed;
	/* Set when a message in flight was given up because the lease was
	 * lost or SIGTERM came during a throttle wait: the copy stops with
	 * this outcome (PULLER_DONE: not halted). */
	enum puller_outcome halt;
	/* NEW's UIDNEXT when the current folder's copy began: messages
	 * from there on were copied in this round. */
	uint32_t folder_uidnext;
	/* This round's verification: folders verified, and those that
	 * differ (the first one's reason kept). */
	uint64_t verified, verified_msgs, differ;
	char differ_why[STREAM_ERROR_MAX];
	/* How the append sink failed, if it did. */
	enum stream_fail sink_fail;
	int append_refused;
	char sink_error[600];
	/* What this round has done, for stats and top. */
	struct puller_progress prog;
};

/* A store failure: the store is local, so retry later. */
static int copy_store_fail(enum stream_fail *fail_r, const char **error_r,
			   const char *error)
{
	puller_count(store_errors, 1);
	return stream_failf(fail_r, STREAM_FAIL_WAIT, error_r, "store: %s", error);
}

/* A batch is recorded: its messages that reached NEW (a UID there)
 * count as copied, for the metrics. */
static void copy_count_recorded(const struct store_batch *b, const uint32_t *uids)
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

/* An event for the administrator, and the same line in the log. */
#define copy_event(c, sev, ...) puller_event((c)->p, (c)->account, sev, __VA_ARGS__)

static int keyword_cmp(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* A hash of a message's flags and keywords (order and case of keywords
 * do not count), never 0, which means "unknown". FNV-1a, 32 bits. */
static uint32_t copy_flags_hash(const struct driver_message *msg)
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
static uint64_t copy_message_id_hash(const char *id)
{
	uint64_t h = 14695981039346656037ull;

	if (id == NULL || *id == '\0')
		return 0;
	for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h != 0 ? h : 1;
}

/* Keep a copy of each listed message. */
static int copy_collect(const struct driver_message *msg, void *context)
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

static void copy_list_free(struct copy_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		driver_message_clear(&l->msgs[i]);
	mm_free(&l->msgs);
	l->count = l->alloc = 0;
}

/* What NEW holds in the selected folder from first_uid on. */
static int copy_load_seen(struct copy *c, uint32_t first_uid,
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
		c->seen[i].date = puller_parse_date(l.msgs[i].internaldate);
		c->seen[i].message_id_hash = copy_message_id_hash(l.msgs[i].message_id);
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
static uint32_t copy_match_seen(struct copy *c, uint64_t size, const char *date,
				uint64_t message_id_hash)
{
	int64_t t = puller_parse_date(date);

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

/* Settle a batch left pending by an interruption. */
static int copy_settle_pending(struct copy *c, enum stream_fail *fail_r,
			       const char **error_r)
{
	struct driver_folder_status st;
	struct store_batch b;
	uint32_t *uids;
	const char *error;
	size_t found = 0;
	int ret;

	ret = store_batch_pending(c->p->store, c->account, &b, &error);
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
	for (size_t i = 0; ret == 0 && st.uidvalidity == b.target_uidvalidity &&
	     i < b.count; i++) {
		if (b.msgs[i].uidl[0] != '\0')
			ret = c->tdrv->find_header(c->dst, "X-UIDL", b.msgs[i].uidl,
						   &uids[i], fail_r, error_r);
		else
			uids[i] = copy_match_seen(c, b.msgs[i].size,
						  b.msgs[i].internaldate,
						  b.msgs[i].message_id_hash);
		found += uids[i] != 0;
	}
	if (ret == 0 && store_batch_done(c->p->store, c->account, &b, uids, time(NULL),
					 &error) < 0)
		ret = copy_store_fail(fail_r, error_r, error);
	if (ret == 0)
		copy_count_recorded(&b, uids);
	if (ret == 0)
		copy_event(c, LOG_SEV_INFO, "resumed after an interruption: %zu of %zu "
			   "messages of the last batch to %s were already on NEW",
			   found, b.count, b.target_folder);
	mm_free(&uids);
	mm_free(&c->seen);
	c->seen_count = 0;
	store_batch_clear(&b);
	return ret;
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
	if (c->tdrv->append(c->dst, c->target_folder, msg, &tb.body, &c->cur_uid,
			    &fail, &error) == 0) {
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
static int copy_failed_item(struct copy *c, const char *folder, uint32_t uidvalidity,
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
	if (c->tdrv->append_add(c->dst, msg, &tb.body, &fail, &error) < 0) {
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

/* Messages appended to a NEW without UIDPLUS: find their UIDs among
 * NEW's messages from the batch's UIDNEXT on, by Message-ID, size and
 * date, as after a crash. One not found fails the attempt (retry later,
 * the batch kept pending and settled then). */
static int copy_find_appended(struct copy *c, enum stream_fail *fail_r,
			      const char **error_r)
{
	struct store_batch *b = &c->batch;
	struct copy_seen *folder_seen = c->seen;
	size_t folder_seen_count = c->seen_count, unknown = 0, found = 0;
	int ret;

	for (size_t i = 0; i < b->count; i++)
		unknown += c->batch_unknown[i];
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
	ret = copy_load_seen(c, b->target_uidnext, fail_r, error_r);
	for (size_t i = 0; ret == 0 && i < c->seen_count; i++)
		for (size_t j = 0; j < b->count; j++)
			if (c->batch_uids[j] != 0 && c->batch_uids[j] == c->seen[i].uid)
				c->seen[i].claimed = 1;
	for (size_t i = 0; ret == 0 && i < b->count; i++) {
		if (!c->batch_unknown[i])
			continue;
		c->batch_uids[i] = copy_match_seen(c, b->msgs[i].size,
						   b->msgs[i].internaldate,
						   b->msgs[i].message_id_hash);
		if (c->batch_uids[i] == 0)
			continue;
		c->batch_unknown[i] = 0;
		if (c->batch_uids[i] >= c->target_uidnext)
			c->target_uidnext = c->batch_uids[i] + 1;
		found++;
	}
	mm_free(&c->seen);
	c->seen = folder_seen;
	c->seen_count = folder_seen_count;
	if (ret == 0 && found < unknown)
		ret = stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
				   "%zu of %zu messages appended to %s not found on NEW "
				   "(it has no UIDPLUS)", unknown - found, unknown,
				   b->target_folder);
	return ret;
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
static int copy_flush(struct copy *c, enum stream_fail *fail_r, const char **error_r)
{
	int ret = copy_flush_batch(c, fail_r, error_r);

	if (ret < 0 && c->halt != PULLER_DONE) {
		log_info("%s: %s", c->account, *error_r);
		c->outcome = c->halt;
		return 1;
	}
	return ret;
}

/* The lowest UID up to the last one handled that no round recorded
 * as copied (a failed item, or a gap the verification found): the
 * listing is cut there and taken again with Message-IDs from there on,
 * so what is copied now can be matched on NEW after a crash. */
static int copy_first_gap(struct copy *c, const char *folder, uint32_t uidvalidity,
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

/* Copy the messages of one selectable folder. >0: stop (outcome set). */
static int copy_folder_messages(struct copy *c, const struct driver_folder *f,
				const char *target, enum stream_fail *fail_r,
				const char **error_r)
{
	struct driver_folder_status sst, tst;
	struct store_folder rec;
	struct copy_list l = { 0 };
	uint32_t first_uid = 1, known_uid = 0;
	const char *error;
	int ret, match = 0;

	if (c->sdrv->select(c->src, f->name, &sst, fail_r, error_r) < 0 ||
	    c->tdrv->select(c->dst, target, &tst, fail_r, error_r) < 0)
		return -1;
	ret = store_folder_get(c->p->store, c->account, f->name, &rec, &error);
	if (ret < 0)
		return copy_store_fail(fail_r, error_r, error);
	if (ret == 0 && rec.uidvalidity == sst.uidvalidity) {
		/* Every message is looked at: those handled before for
		 * changed flags, and any that no round recorded (a gap the
		 * verification found) copied now. */
		known_uid = rec.last_uid;
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
	if (first_uid <= known_uid) {
		l.max_uid = known_uid;
		ret = c->sdrv->list_messages(c->src, first_uid, 0, copy_collect, &l,
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
	/* Received mail tells which addresses reach the account. */
	c->tap = c->tally != NULL;
	for (int u = 0; u < FOLDER_MAP_USES; u++)
		if (c->special[u] != NULL && strcmp(c->special[u], target) == 0 &&
		    u != FOLDER_MAP_TRASH && u != FOLDER_MAP_ARCHIVE)
			c->tap = 0;
	c->batch.folder = (char *)f->name;
	c->batch.uidvalidity = sst.uidvalidity;
	c->batch.target_folder = (char *)target;
	c->batch.target_uidvalidity = tst.uidvalidity;
	c->batch.count = 0;
	c->batch_bytes = 0;
	c->target_uidnext = tst.uidnext;
	c->folder_uidnext = tst.uidnext;
	c->target_folder = target;
	ret = 0;
	for (size_t i = 0; ret == 0 && i < l.count; i++) {
		struct driver_message *msg = &l.msgs[i];
		struct store_batch_msg *bm;
		uint32_t new_uid;

		uint32_t hash = msg->uidl[0] != '\0' ? 0 : copy_flags_hash(msg);
		uint32_t old_hash = 0;

		if (msg->uidl[0] != '\0') {
			/* POP3: the UIDL set says what was copied. */
			ret = store_uidl_has(c->p->store, c->account, msg->uidl, &error);
			ret = ret < 0 ? ret : ret == 1 ? 0 : STORE_NOTFOUND;
		} else {
			ret = store_msgmap_get_flags(c->p->store, c->account, f->name,
						     sst.uidvalidity, msg->uid, &new_uid,
						     &old_hash, &error);
		}
		if (ret < 0) {
			ret = copy_store_fail(fail_r, error_r, error);
			break;
		}
		if (ret == 0 && hash != 0 && old_hash != hash) {
			/* Copied before, and its flags changed on OLD since. */
			ret = c->tdrv->set_flags(c->dst, new_uid, msg, fail_r, error_r);
			if (ret == 0 && store_msgmap_set_flags(c->p->store, c->account,
							       f->name, sst.uidvalidity,
							       msg->uid, hash, &error) < 0)
				ret = copy_store_fail(fail_r, error_r, error);
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
		bm = &c->batch.msgs[c->batch.count];
		bm->old_uid = msg->uid;
		bm->size = msg->size;
		snprintf(bm->internaldate, sizeof(bm->internaldate), "%s",
			 msg->internaldate);
		snprintf(bm->uidl, sizeof(bm->uidl), "%s", msg->uidl);
		bm->flags_hash = hash;
		bm->message_id_hash = copy_message_id_hash(msg->message_id);
		c->batch_msgs[c->batch.count] = msg;
		c->batch_uids[c->batch.count] = 0;
		c->batch_unknown[c->batch.count] = 0;
		if (match && msg->uidl[0] != '\0')
			ret = c->tdrv->find_header(c->dst, "X-UIDL", msg->uidl,
						   &c->batch_uids[c->batch.count],
						   fail_r, error_r);
		else if (match)
			c->batch_uids[c->batch.count] =
				copy_match_seen(c, msg->size, msg->internaldate,
						bm->message_id_hash);
		if (ret < 0)
			break;
		c->batch.count++;
		c->batch_bytes += msg->size;
		if (c->batch.count == PULLER_BATCH_MESSAGES ||
		    c->batch_bytes >= PULLER_BATCH_BYTES)
			ret = copy_flush(c, fail_r, error_r);
	}
	if (ret == 0)
		ret = copy_flush(c, fail_r, error_r);
	c->batch.count = 0;
	c->batch.folder = c->batch.target_folder = NULL;
	copy_list_free(&l);
	mm_free(&c->seen);
	c->seen_count = 0;
	return ret;
}

/* The copy's sessions, as puller_conn(3) and puller_verify(3) take them. */
static struct puller_session copy_session(const struct copy *c)
{
	struct puller_session s = { c->dom, c->account, c->sdrv, c->tdrv, c->src, c->dst };

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
		   puller_parse_date(old_date) > time(NULL) + 3600 ?
		   " (OLD's date is in the future, which NEW does not take)" : "");
}

/* Verify the folder just copied, in the same sessions. A difference is
 * an event and a failed item (UID 0, OLD's UIDVALIDITY) naming the
 * folder and the numbers, and holds the account back from "copied";
 * the item goes once the folder verifies again. */
static int copy_verify(struct copy *c, const char *folder, enum stream_fail *fail_r,
		       const char **error_r)
{
	struct puller_session s = copy_session(c);
	struct puller_verify v;
	const char *error;
	int ret;

	if (puller_verify_folder(c->p, &s, folder, PULLER_VERIFY_IN_ROUND,
				 c->folder_uidnext, copy_date_event, c, &v, fail_r,
				 error_r) < 0)
		return -1;
	c->verified++;
	c->verified_msgs += v.old_msgs;
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
	puller_verify_clear(&v);
	return ret < 0 ? copy_store_fail(fail_r, error_r, error) : 0;
}

/* Learn NEW's separator and special-use folders. */
static void copy_target_layout(struct copy *c, const struct driver_folder *folders,
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

/* Every folder: create it on NEW, then copy its messages. */
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
	if (c->tdrv->list_folders(c->dst, &tf, &nt, fail_r, error_r) < 0) {
		driver_folders_free(&sf, ns);
		return -1;
	}
	copy_target_layout(c, tf, nt);
	driver_folders_free(&tf, nt);
	copy_progress_sizes(c, sf, ns);
	for (size_t i = 0, index = 0; ret == 0 && i < ns; i++) {
		char *target = NULL;
		const char *error;
		int m = folder_map_apply(c->map, &c->msrc, &c->mdst, sf[i].name,
					 sf[i].attrs, &target, &error);

		if (m == 0)
			continue;	/* excluded */
		if (m < 0) {
			ret = copy_failed_item(c, sf[i].name, 0, NULL, error, fail_r, error_r);
			continue;
		}
		ret = c->tdrv->create_folder(c->dst, target, sf[i].attrs, sf[i].subscribed,
					     fail_r, error_r);
		if (ret < 0 && *fail_r == STREAM_FAIL_FINAL) {
			/* NEW refuses this name: a failed folder, not a failed account. */
			char reason[STREAM_ERROR_MAX];

			snprintf(reason, sizeof(reason), "%s", *error_r);
			ret = copy_failed_item(c, sf[i].name, 0, NULL, reason, fail_r,
					       error_r);
		} else if (ret == 0 && (sf[i].attrs & DRIVER_FOLDER_NOSELECT) == 0) {
			puller_progress_folder(&c->prog, (uint32_t)++index, sf[i].name);
			ret = copy_folder_messages(c, &sf[i], target, fail_r, error_r);
			if (ret == 0)
				ret = copy_verify(c, sf[i].name, fail_r, error_r);
		}
		mm_free(&target);
	}
	driver_folders_free(&sf, ns);
	return ret;
}

/* Open OLD (with the captured password or the admin login) and NEW. */
static int copy_connect(struct copy *c, enum stream_fail *fail_r, const char **error_r)
{
	struct puller_session s = { .dom = c->dom, .account = c->account };

	int ret = puller_session_open(c->p, &s, fail_r, error_r);

	/* What did open is closed at the end, failure or not. */
	c->sdrv = s.sdrv;
	c->tdrv = s.tdrv;
	c->src = s.src;
	c->dst = s.dst;
	return ret;
}

#define POST_SCRIPT_TIMEOUT 300

/* Run post_migrate_script for a finished account: the address as its
 * only argument, the captured password (if any) on stdin, never in the
 * arguments or the environment. Its exit status and first line of
 * output go to the event log. */
static void copy_post_script(struct copy *c)
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

/* An address gathered from the headers may become an alias when its
 * domain is served here and it is no other account, nor another
 * account's alias (the first to claim it keeps it). */
static int alias_accept(const char *addr, void *context)
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
static void alias_record(const struct alias_tally_found *f, void *context)
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
	c.batch.msgs = mm_calloc(PULLER_BATCH_MESSAGES, sizeof(*c.batch.msgs));
	c.batch_msgs = mm_calloc(PULLER_BATCH_MESSAGES, sizeof(*c.batch_msgs));
	c.batch_uids = mm_calloc(PULLER_BATCH_MESSAGES, sizeof(*c.batch_uids));
	c.batch_unknown = mm_calloc(PULLER_BATCH_MESSAGES, sizeof(*c.batch_unknown));
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
		ret = copy_settle_pending(&c, fail_r, error_r);
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
	if (ret > 0) {
		/* Stopped between batches: the job goes back as it is. */
		ret = 0;
	} else if (ret == 0 && c.outcome == PULLER_DONE) {
		alias_tally_result_found(c.tally, alias_accept, alias_record, &c);
		if (store_account_update(p->store, job->account, set_finished, &c,
					 &error) < 0)
			ret = copy_store_fail(fail_r, error_r, error);
		else
			copy_event(&c, LOG_SEV_INFO, "%s: %llu messages (%llu bytes) "
				   "copied in this round, flags updated on %llu, "
				   "%llu not copied; verified: %llu folders, %llu "
				   "messages on OLD, each copied or a failed item",
				   job->kind == STORE_JOB_FINISH ? "finished" : "copied",
				   (unsigned long long)c.copied,
				   (unsigned long long)c.bytes,
				   (unsigned long long)c.flag_updates,
				   (unsigned long long)c.failed,
				   (unsigned long long)c.verified,
				   (unsigned long long)c.verified_msgs);
		if (ret == 0 && job->kind == STORE_JOB_FINISH) {
			copy_post_script(&c);
			if (store_cred_wipe(p->store, job->account, &error) < 0)
				ret = copy_store_fail(fail_r, error_r, error);
		}
	}
	if (ret < 0) {
		/* Closing talks to the servers (LOGOUT), which may overwrite
		 * the buffer *error_r points to: keep the reason. */
		static char reason[STREAM_ERROR_MAX];

		snprintf(reason, sizeof(reason), "%s", *error_r);
		*error_r = reason;
	}
	puller_progress_end(&c.prog);
	if (c.src != NULL)
		c.sdrv->close(&c.src);
	if (c.dst != NULL)
		c.tdrv->close(&c.dst);
	for (int u = 0; u < FOLDER_MAP_USES; u++)
		mm_free(&c.special[u]);
	folder_map_free(&c.map);
	alias_tally_free(&c.tally);
	mm_free(&c.batch.msgs);
	mm_free(&c.batch_msgs);
	mm_free(&c.batch_uids);
	mm_free(&c.batch_unknown);
	mm_free(&c.seen);
	*outcome_r = c.outcome;
	return ret;
}
