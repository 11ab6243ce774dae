/*
 * NAME
 *	copy 3h
 * SUMMARY
 *	internals of the copy of one account (puller_copy_account())
 * DESCRIPTION
 *	The copy is split by concern, around struct copy, the state of
 *	one account's copy for one round:
 *
 *	puller_copy.c	the orchestration: connect, settle, every
 *			folder (create, copy its messages, verify),
 *			finish.
 *	puller_match.c	what NEW holds: loading and matching its
 *			messages by Message-ID, size and date (a new or
 *			renumbered folder, a NEW without UIDPLUS), and
 *			settling a batch left pending by a crash.
 *	puller_batch.c	the batches on their way: the sinks the source
 *			hands bodies to (throttled, the lease kept), the
 *			pipeline below, the MULTIAPPEND or one-by-one
 *			send, and recording them in the store.
 *	puller_identity.c  OLD's UIDVALIDITY and UIDs kept (IDENTITY
 *			below): before and after a folder's messages.
 *	puller_sieve.c	the account's Sieve scripts (migrate_sieve),
 *			after its mail.
 *	puller_post.c	after a finished copy: the aliases gathered from
 *			the headers, and post_migrate_script.
 *
 *	None of this is for use outside those files.
 * PIPELINE
 *	OLD and NEW work at the same time: while NEW commits batch N, batch
 *	N+1 streams from OLD into NEW's second session. Per batch, on the
 *	session that has none under way (copy_step()):
 *	1. N+1's bodies: one FETCH from OLD into one MULTIAPPEND (or
 *	   APPENDs to doveadm), not ended yet;
 *	2. N's answer read (NEW committed it meanwhile), its UIDs taken;
 *	3. N+1 ended (append_commit): NEW commits it now;
 *	4. one store commit: N done, and N+1 with N+2 (the batch the
 *	   folder's loop filled meanwhile, the next to stream) pending.
 *	N+1 is committed only after N is answered, so NEW gives UIDs in
 *	OLD's order and the dovecot target keeps OLD's. Nothing goes to NEW
 *	that the store does not hold as pending: a kill -9 at any point
 *	leaves at most the two batches in flight pending, as one record
 *	of both (copy_union()), and copy_settle_pending() matches them as
 *	it matches one.
 *
 *	Why two sessions and not a writer thread or buffered batches:
 *	the bodies already stream socket to socket in 64 KiB chunks, so a
 *	batch in flight costs NEW's socket and no memory of ours (the
 *	per-worker bound, PULLER_BATCH_BYTES of bodies named in a batch
 *	and the 64 KiB chunk, is kept; a 100 MiB message is never held,
 *	once or twice). A buffered N+1 would have to be held whole while
 *	NEW commits N; a thread would share the drivers' state. Two batches
 *	in flight is all the overlap there is: NEW commits one batch at a
 *	time per folder, and a third would wait behind N+1's commit. The
 *	second session is opened only when a folder has a second batch,
 *	so small accounts cost one login as before; if it cannot be had,
 *	the copy goes on a batch at a time. Other commands for NEW in the
 *	loop (flags, matching) go to the session with no batch under
 *	way, which has the folder selected too.
 * IDENTITY (target_driver = dovecot)
 *	A target with set_identity and append_add_keep keeps what clients
 *	have cached: per folder, OLD's UIDVALIDITY is set before its first
 *	message (copy_identity(), puller_identity.c), each message is asked for
 *	OLD's UID (c->keep), and OLD's UIDNEXT is set after the folder's
 *	messages. A POP3 source has no UIDs: its UIDLs are stored as the
 *	messages' POP3 UIDLs and bodies go without the X-UIDL: header.
 *
 *	Collisions. Dovecot never gives a UID below a folder's UIDNEXT, so
 *	"reserve OLD's range first" (raise UIDNEXT before the copy) would
 *	make every copied UID a new one; it is raised after instead. What
 *	the copy does with mail NEW already holds:
 *	- a folder NEW holds messages in at the first round (the notice, a
 *	  delivery, the user's own mail), under another UIDVALIDITY, none of
 *	  them one of OLD's (copy_new_holds_old()): those messages are
 *	  moved aside (target move_all into
 *	  "mailmigrate-parked/<folder>"), the folder, empty now, gets OLD's
 *	  UIDVALIDITY, OLD's messages go in, and NEW's own come back after,
 *	  above OLD's UIDNEXT (copy_identity(), copy_identity_done()). The
 *	  parked folder on NEW is the record: whatever round finishes the
 *	  folder brings back what it holds, so a crash loses none (a kill
 *	  inside one move leaves a message in both folders; the move done
 *	  again expunges without copying what the destination holds by
 *	  GUID, so none ends up twice: doveadm-plugin/README, MOVEALL).
 *	  OLD's UIDs below the UIDNEXT NEW had (the notice's UID 1) cannot
 *	  be had: those messages get new ones, counted.
 *	- a folder still holding mail under another UIDVALIDITY (one of
 *	  OLD's messages among it: a copy the store forgot after a reset or
 *	  an earlier run with the imap target; mail that arrived between
 *	  the move and the change; a folder OLD renumbered since the last
 *	  round): NEW's UIDVALIDITY stays, an
 *	  event says so, and it is copied as to the imap target (new UIDs,
 *	  matched by Message-ID, size and date); counted in the summary.
 *	- a UID taken on a kept folder (a delivery between rounds took the
 *	  UID OLD gave its next message, or NEW had given it before): that
 *	  message gets a new UID, counted: an event per folder and the
 *	  round's summary. Such messages are sent last in their folder,
 *	  after UIDNEXT is raised to OLD's, so each lands above OLD's range
 *	  and takes no UID of OLD's next ones.
 *	Nothing is ever refused or dropped for a collision, and no UID a
 *	client cached as one of OLD's messages shows another message.
 *
 *	After a crash, a pending batch is matched first by UID (NEW's UID
 *	== OLD's UID, the same date and Message-ID), then as for the imap
 *	target; a POP3 copy by the UIDL NEW stores (copy_match_batch()).
 * OWNERSHIP
 *	struct copy lives on puller_copy_account()'s stack; it owns seen,
 *	special[], map, tally and the batch arrays (freed at its end).
 *	batch_msgs[] point into the folder's message list, owned by
 *	copy_folder_messages(). Every error_r set here is stream_failf()'s
 *	(error(3h)'s lifetime) or a driver's or the store's, valid until
 *	their next failure.
 */
#ifndef MM_PULLER_COPY_H
#define MM_PULLER_COPY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "alias_tally.h"
#include "driver.h"
#include "folder_map.h"
#include "puller.h"

/* A message on NEW, for matching by Message-ID, size and date. */
struct copy_seen {
	uint32_t uid;
	uint64_t size;
	int64_t date;
	uint64_t message_id_hash;
	uint64_t uidl_hash;	/* the POP3 UIDL NEW stores (dovecot target), or 0 */
	uint32_t flags_hash;	/* copy_flags_hash() of its flags on NEW */
	int claimed;
};

struct copy_list {
	struct driver_message *msgs;
	size_t count, alloc;
	uint32_t max_uid;	/* keep only UIDs up to this; 0: all */
};

/* Batches a folder's copy holds: being filled, queued, sent. */
#define COPY_SLOTS 3

/* A batch of one folder's messages on its way to NEW (puller_batch.c). */
struct copy_batch {
	struct store_batch rec;		/* msgs[PULLER_BATCH_MESSAGES], owned */
	struct driver_message **msgs;	/* into the folder's message list */
	uint32_t *uids;			/* each one's UID on NEW; 0: not there */
	/* Appended, but NEW (no UIDPLUS) did not say under which UID. */
	unsigned char *unknown;
	uint64_t bytes;
	/* Sent as one MULTIAPPEND: batch indices in the order the messages
	 * were added, and the NEW session it went to while its answer is
	 * not read (NULL: none). */
	size_t added[PULLER_BATCH_MESSAGES];
	size_t added_count;
	size_t todo[PULLER_BATCH_MESSAGES];
	struct driver_conn *dst;
};

struct copy {
	struct puller *p;
	const struct store_job *job;	/* NULL: an assistant (puller_split(3)) */
	/* The pending-batch slot (store_batch_begin()): 0 the job's holder,
	 * 1 an assistant of a split. */
	unsigned slot;
	/* This round published a split hand-out (closed if it ends early). */
	int split;
	const char *account;
	const struct cfg_domain *dom;
	const struct source_driver *sdrv;
	const struct target_driver *tdrv;
	struct driver_conn *src, *dst;
	/* NEW's sessions: dsts[0] the first, dsts[1] the one opened for
	 * the pipeline (NULL until needed). dst is one of them that has no
	 * batch under way, with the current folder selected. */
	struct driver_conn *dsts[2];
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
	/* The current folder's batches (copy(3h), PIPELINE): fill is being
	 * filled; queued is full and pending in the store, not sent yet;
	 * sent is committed on NEW, its answer not read. cur is the one
	 * the sinks add to. union_msgs holds the pending record of two. */
	struct copy_batch slots[COPY_SLOTS];
	struct copy_batch *fill, *queued, *sent, *cur;
	struct store_batch_msg *union_msgs;
	/* Batches overlap: a source with fetch_batch, a target with
	 * append_commit whose first session can batch; cleared when the
	 * second session cannot be had. */
	int pipe;
	int said_no_uidplus;
	uint32_t target_uidnext;
	struct copy_seen *seen;
	size_t seen_count;
	/* The message in flight, for the append sink. */
	const char *target_folder;
	uint32_t cur_uid;
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
	uint64_t verified_from_record;	/* of verified: OLD not listed again */
	uint64_t verified_from_changes;	/* of verified: only OLD's changes listed */
	char differ_why[STREAM_ERROR_MAX];
	/* OLD's HIGHESTMODSEQ and UIDVALIDITY as the current folder's copy
	 * opened it (0: unknown): recorded once the folder verifies, so the
	 * next round asks only for what changed since (RFC 7162). */
	uint64_t folder_modseq;
	uint32_t folder_uidvalidity;
	/* Messages OLD listed in this round's copy steps (the verification
	 * lists on its own); folders listed by CHANGEDSINCE, and those of
	 * them unchanged, not listed at all. */
	uint64_t listed, changedsince_folders, unchanged_folders;
	/* How the append sink failed, if it did. */
	enum stream_fail sink_fail;
	int append_refused;
	char sink_error[600];
	/* The target keeps OLD's identity in the current folder
	 * (set_identity, append_add_keep: the dovecot target, with OLD's
	 * UIDVALIDITY on NEW's folder): messages are asked for OLD's UIDs. */
	int keep;
	/* Messages whose OLD UID was taken on NEW (given a new one), in
	 * this round and in the current folder; folders whose UIDVALIDITY
	 * could not be kept. */
	uint64_t renumbered, folder_renumbered, identity_lost;
	/* What this round has done, for stats and top. */
	struct puller_progress prog;
};

/* An event for the administrator, and the same line in the log. */
#define copy_event(c, sev, ...) puller_event((c)->p, (c)->account, sev, __VA_ARGS__)

/* puller_copy.c */
/* A store failure (counted): STREAM_FAIL_WAIT, the store is local. */
int copy_store_fail(enum stream_fail *fail_r, const char **error_r, const char *error);

/* puller_match.c */
/* A hash of a message's flags and keywords; never 0 ("unknown"). */
uint32_t copy_flags_hash(const struct driver_message *msg);
/* A Message-ID's hash; 0 for none. */
uint64_t copy_message_id_hash(const char *id);
/* A list_messages() callback: keep a copy of each message in the
 * struct copy_list given as context (freed by copy_list_free()). */
int copy_collect(const struct driver_message *msg, void *context);
void copy_list_free(struct copy_list *l);
/* Load into c->seen what NEW holds in the selected folder from
 * first_uid on (c->seen is replaced). */
int copy_load_seen(struct copy *c, uint32_t first_uid, enum stream_fail *fail_r,
		   const char **error_r);
/* Claim the c->seen message that is this OLD message: its UID, or 0. */
uint32_t copy_match_seen(struct copy *c, uint64_t size, const char *date,
			 uint64_t message_id_hash);
/* The same for a message of a batch: with OLD's UIDs kept (c->keep),
 * first NEW's message under old_uid with its date and Message-ID; a POP3 copy
 * (uidl set) on a target without find_header by the UIDL NEW stores. */
int copy_match_batch(struct copy *c, uint32_t old_uid, uint64_t size,
		     const char *date, uint64_t message_id_hash, const char *uidl,
		     uint32_t *uid_r, enum stream_fail *fail_r, const char **error_r);
/* A matched message's flags as NEW has them: *flags_hash (OLD's, as
 * the record will keep it) becomes the hash of the flags of NEW's
 * message uid when they differ, so the folder's next comparison with
 * OLD sets them again (a copy interrupted inside NEW's commit can keep
 * the message and lose its keywords). 1 when they differ, else 0. */
int copy_seen_flags(const struct copy *c, uint32_t uid, uint32_t *flags_hash);
/* Settle the batch a crash left pending, before anything else. */
int copy_settle_pending(struct copy *c, enum stream_fail *fail_r,
			const char **error_r);
/* Find on NEW (session conn, the folder selected) the UIDs of b's
 * messages NEW did not tell (no UIDPLUS); one not found fails the
 * attempt. */
int copy_find_appended(struct copy *c, struct copy_batch *b, struct driver_conn *conn,
		       enum stream_fail *fail_r, const char **error_r);
/* Cut the folder's list l at the first message no round recorded;
 * *first_uid_r is set to its UID. */
int copy_first_gap(struct copy *c, const char *folder, uint32_t uidvalidity,
		   struct copy_list *l, uint32_t *first_uid_r,
		   enum stream_fail *fail_r, const char **error_r);

/* puller_batch.c */
/* Record (store and event) a message or folder (msg NULL) that cannot
 * be copied, and go on. */
int copy_failed_item(struct copy *c, const char *folder, uint32_t uidvalidity,
		     const struct driver_message *msg, const char *reason,
		     enum stream_fail *fail_r, const char **error_r);
/* Count a recorded batch's messages that reached NEW, for the metrics. */
void copy_count_recorded(const struct store_batch *b, const uint32_t *uids);
/* The batches' memory, and the folder they are for (at its start). */
void copy_batches_init(struct copy *c);
void copy_batches_free(struct copy *c);
void copy_batches_folder(struct copy *c, const char *folder, uint32_t uidvalidity,
			 const char *target, uint32_t target_uidvalidity);
/* c->fill is full: send it on (with the pipeline: queue it, and move
 * the batch before it along). 0, >0: stop (outcome set), -1: failed
 * (what was in flight stays pending). */
int copy_queue(struct copy *c, enum stream_fail *fail_r, const char **error_r);
/* Send c->fill and every batch still in flight, and record them: on
 * return nothing of the folder is under way. As copy_queue(). */
int copy_flush(struct copy *c, enum stream_fail *fail_r, const char **error_r);

/* puller_copy.c */
/* Open OLD and NEW into c (what opened stays there for closing). */
int copy_connect(struct copy *c, enum stream_fail *fail_r, const char **error_r);
/* Learn NEW's separator and special-use folders from its list. */
void copy_target_layout(struct copy *c, const struct driver_folder *folders,
			size_t count);
/* Copy the messages of one selectable folder (on NEW as target). >0:
 * stop (outcome set). */
int copy_folder_messages(struct copy *c, const struct driver_folder *f,
			 const char *target, enum stream_fail *fail_r,
			 const char **error_r);
/* Verify a folder in c's sessions: a difference is a failed item and
 * an event. here: this worker copied it in this round (else the
 * assistant did). */
int copy_verify(struct copy *c, const char *folder, int here, enum stream_fail *fail_r,
		const char **error_r);

/* puller_identity.c */
/* Before a folder's messages: OLD's UIDVALIDITY given to NEW's folder
 * when it can be (NEW's own mail in a folder new to the store moved
 * aside first); *tst becomes NEW's folder status, c->keep says whether
 * OLD's UIDs are asked for. known: the store knows the folder under
 * this UIDVALIDITY; new_folder: the store has no record of it. */
int copy_identity(struct copy *c, const char *folder, const char *target,
		  const struct driver_folder_status *sst, struct driver_folder_status *tst,
		  int known, int new_folder, enum stream_fail *fail_r, const char **error_r);
/* After them: OLD's UIDNEXT on NEW, NEW's own mail back, the UIDs that
 * moved said. */
int copy_identity_done(struct copy *c, const char *folder, const char *target,
		       const struct driver_folder_status *sst, enum stream_fail *fail_r,
		       const char **error_r);
/* "; OLD's UIDs kept but ..." for the round's summary, "" for a target
 * that keeps no identity; error(3h)'s lifetime. */
const char *copy_identity_summary(const struct copy *c);

/* puller_split.c */
/* Renew what c works under: the job's lease, or the assistant's. 0,
 * STORE_NOTFOUND (lost), -1 (store). */
int copy_renew(struct copy *c, time_t now, const char **error_r);
/* How often the lease is renewed: at a third of it (at least 1 s), so a
 * renewal that waits for the store's lock still lands in time. */
time_t copy_lease_every(const struct copy *c);
/* Should this round's folders be split (the holder, after sizes)? */
int copy_split_wanted(const struct copy *c);
/* The holder's folders of a split round: created, handed out, copied,
 * the assistant waited for, every one verified. */
int copy_split_folders(struct copy *c, const struct driver_folder *sf, size_t ns,
		       enum stream_fail *fail_r, const char **error_r);
/* At a round's start: an earlier round's hand-out closed, its
 * assistant waited for while its lease runs, slot 1 settled. */
int copy_split_reclaim(struct copy *c, enum stream_fail *fail_r,
		       const char **error_r);
/* The holder's round ends early: close the hand-out (best effort). */
void copy_split_abandon(struct copy *c);
/* The holder's hand-out has an assistant copying a folder now (a test
 * aid's condition: MAILMIGRATED_CRASH_HOLDER_IN_FLIGHT). */
int copy_split_assisted(struct copy *c);

/* OLD's folder sf mapped to NEW's name (*target_r, mm_free it, set
 * whatever the outcome) and made on NEW. 1: to be copied; 0: not
 * (excluded, \Noselect, or a name the map or NEW refuses: then a failed
 * item is recorded); -1: failed. */
int copy_folder_prepare(struct copy *c, const struct driver_folder *sf, char **target_r,
			enum stream_fail *fail_r, const char **error_r);

/* puller_sieve.c */
/* With migrate_sieve: copy the account's Sieve scripts OLD -> NEW
 * (puller_sieve(3)). Only a store failure fails (-1); the rest are
 * failed items and events. */
int copy_sieve(struct copy *c, enum stream_fail *fail_r, const char **error_r);

/* puller_dav.c */
/* With migrate_dav: copy the account's calendars and address books OLD
 * -> NEW (puller_dav(3)). Only a store failure fails (-1); the rest are
 * failed items and events. */
int copy_dav(struct copy *c, enum stream_fail *fail_r, const char **error_r);

/* puller_acl.c */
/* With migrate_shared: give on NEW the rights the user gave others on
 * OLD on their folders (puller_acl(3)). Only the store and a broken
 * session fail (-1); the rest are failed items and events. */
int copy_acls(struct copy *c, enum stream_fail *fail_r, const char **error_r);

/* puller_post.c */
/* alias_tally_result_found() callbacks, context the struct copy. */
int copy_alias_accept(const char *addr, void *context);
void copy_alias_record(const struct alias_tally_found *f, void *context);
/* Run post_migrate_script for a finished account; the outcome is an
 * event, never a failure of the copy. */
void copy_post_script(struct copy *c);

#endif
