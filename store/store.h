/*
 * NAME
 *	store 3h
 * SUMMARY
 *	the mailmigrate store, shared by every process
 * DESCRIPTION
 *	One interface over two backends (store_int.h): LMDB on one host
 *	(the default) and PostgreSQL shared by many hosts (store_pgsql.c
 *	describes its schema, its locking and its failure classes).
 *
 *	LMDB: one environment under state_dir, opened at once by Dovecot
 *	auth workers, the relay, the puller and the CLI. Named databases:
 *	meta (schema version, pause flag, start time, error count),
 *	accounts, creds (AES-256-GCM sealed passwords), jobs and jobidx
 *	(FIFO with leases, one job per account at most), folders, msgmap
 *	(old UID -> new UID per folder and UIDVALIDITY), uidls (POP3),
 *	events (the administrator's log), aliases (alias -> account
 *	index), authlimit (the auth-hook's rate limits and failed-login
 *	cache), tlsseen (which domains' OLD offered STARTTLS, and since
 *	when), aliasprop (alias proposals and the origin of aliases); the
 *	last four were added after schema 1: missing in older
 *	stores, made when one is opened for writing, read as empty until
 *	then.
 *
 *	Every call runs in its own transaction and is atomic: a crash at
 *	any point leaves the store as before or after the call. Writes
 *	that hit MDB_MAP_FULL abort, grow the map (doubling, up to
 *	max_map_size) and retry; a map grown by another process is picked
 *	up (MDB_MAP_RESIZED).
 * LOCKING
 *	LMDB serialises writers across processes; keep write transactions
 *	short. A struct store belongs to one thread. After fork(), the
 *	child must not use the parent's handle: open a new one.
 * RETURN VALUES
 *	0 success; STORE_NOTFOUND / STORE_EXISTS / STORE_AMBIGUOUS where
 *	documented;
 *	-1 with *error_r set, kept as error(3h) says, for store or
 *	system errors.
 */
#ifndef MM_STORE_H
#define MM_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "crypto.h"
#include "log.h"

#define STORE_SCHEMA_VERSION 1
#define STORE_NOTFOUND 1
#define STORE_EXISTS 2
#define STORE_AMBIGUOUS 3	/* where documented: more than one matches */

/* user@domain: 64 local + 1 + 253 domain, with room to spare. */
#define STORE_MAX_ACCOUNT 320
#define STORE_MAX_FOLDER 1024
#define STORE_MAX_UIDL 128	/* RFC 1939 allows 70; be liberal */
#define STORE_MAX_EVENT_TEXT 1000
#define STORE_MAX_ALIASES 1000

struct store;

struct store_options {
	uint64_t max_map_size;	/* LMDB growth limit, bytes; 0: 4 GiB */
	uint64_t initial_map_size; /* 0: 64 MiB (capped by max) */
	uint64_t event_log_max;	/* events kept; 0: 100000 */
	int create;		/* make the directory and store if missing */
	int readonly;		/* open read-only (no writes allowed) */
	/* PostgreSQL: the password, unsealed by the caller from
	 * store_password_file (NULL: none, libpq's own ways apply) */
	const char *password;
	unsigned connect_timeout; /* PostgreSQL: seconds; 0: 10 */
};

/* Open (or with create, make) the store that spec names:
 * "lmdb:DIR" or a bare path (LMDB in DIR), or "postgresql:CONNINFO"
 * (a libpq key=value string or postgresql:// URI; a password in it is
 * refused: it comes in opts).
 * LMDB refuses a directory holding no store (unless create), a file
 * that is not LMDB, an LMDB that is not ours, and an unknown schema
 * version; PostgreSQL a database without our schema (unless create)
 * and a schema newer than this build; in each case nothing is
 * written. */
int store_open(const char *spec, const struct store_options *opts,
	       struct store **store_r, const char **error_r);
void store_close(struct store **store);
/* Did store_open() make a new store? */
int store_was_created(const struct store *store);
/* Give the key used by the creds calls (copied; wiped on close). */
void store_set_key(struct store *store, const struct crypto_key *key);

/* --- accounts ---------------------------------------------------------- */

enum store_state {
	STORE_STATE_QUEUED,
	STORE_STATE_MIGRATING,
	STORE_STATE_COPIED,
	STORE_STATE_FINISHED,
	STORE_STATE_FAILED,
	STORE_STATE_PASSWORDS_ONLY,
};
#define STORE_STATE_COUNT 6

/* "queued", "migrating", "copied", "finished", "failed", "passwords-only" */
const char *store_state_name(enum store_state state);
/* 0 and *state_r, or -1 for an unknown name. */
int store_state_parse(const char *name, enum store_state *state_r);

#define STORE_ACCOUNT_MESSAGES_ONLY 0x01 /* existed on NEW: copy messages only */

struct store_account {
	char *name;		/* user@domain, lowercased; the key */
	char *domain;
	enum store_state state;
	unsigned flags;		/* STORE_ACCOUNT_* */
	char *password_hash;	/* "{SHA512-CRYPT}$6$...", NULL: none */
	int64_t created;	/* unix times; 0: not yet */
	int64_t updated;
	int64_t copy_started;
	int64_t copy_finished;
	int64_t finished;
	uint64_t messages;	/* copied so far */
	uint64_t bytes;
	uint64_t folders;
	uint64_t errors;	/* failed items */
	uint64_t late_mail;	/* relayed to OLD after the copy started */
	char *last_error;	/* NULL: none */
	char **aliases;
	size_t aliases_count;
};

/* Free the fields of *acct (not acct itself) and zero it. */
void store_account_clear(struct store_account *acct);

/* Lowercase and check "user@domain" (or "user" joined with domain)
 * into buf; -1 with *error_r naming what is wrong. */
int store_account_name(const char *user, const char *domain, char *buf,
		       size_t bufsize, const char **error_r);

/* Create an account with, if password is not NULL, its sealed password
 * (needs store_set_key()), and a copy job unless its state is
 * passwords-only: all in one transaction. An alias of the same name
 * (some other account's) and the proposals of that name are dropped in
 * the same transaction, with an event: an account wins over an alias.
 * @return 0, STORE_EXISTS (nothing written), or -1 */
int store_account_create(struct store *store, const struct store_account *acct,
			 const char *password, time_t now, const char **error_r);
/* @return 0 with *acct_r filled (store_account_clear() it),
 *	STORE_NOTFOUND or -1 */
int store_account_get(struct store *store, const char *name,
		      struct store_account *acct_r, const char **error_r);
/* Replace a stored account (it must exist: else STORE_NOTFOUND). */
int store_account_put(struct store *store, const struct store_account *acct,
		      const char **error_r);
/* Read-modify-write in one transaction: fn changes *acct and returns 0
 * to write it, or non-zero to write nothing (returned as is). */
int store_account_update(struct store *store, const char *name,
			 int (*fn)(struct store_account *acct, void *ctx),
			 void *ctx, const char **error_r);
/* For an existing account, in one transaction: flag it messages-only,
 * replace its hash (if not NULL) and sealed password, set it back to
 * queued unless a copy is running, and queue a copy job.
 * @return 0, STORE_NOTFOUND (nothing written), or -1 */
int store_account_requeue(struct store *store, const char *name,
			  const char *password_hash, const char *password,
			  time_t now, const char **error_r);
/* Set the state (and the matching timestamp). */
int store_account_set_state(struct store *store, const char *name,
			    enum store_state state, time_t now,
			    const char **error_r);
/* Add an alias (an address that delivers to the account) once: kept
 * sorted in the account record and indexed alias -> account in the
 * same transaction. Adding one the account has is a no-op (0).
 * @return 0, STORE_NOTFOUND (no such account), STORE_EXISTS (the
 *	alias is an account, or another account's alias: the first
 *	owner keeps it; nothing written), or -1 */
int store_account_add_alias(struct store *store, const char *name,
			    const char *alias, const char **error_r);
/* The account an alias belongs to (the alias is lowercased first).
 * @param account_r	receives "user@domain", NUL-terminated
 * @param size		its size (STORE_MAX_ACCOUNT is enough)
 * @return 0, STORE_NOTFOUND (also for a store made before the index
 *	existed and opened read-only), or -1 */
int store_alias_lookup(struct store *store, const char *alias,
		       char *account_r, size_t size, const char **error_r);
/* What the store says of one address, in one look: an account, an
 * alias (and of which account), or neither; and that account's state.
 * The relay's question for every map lookup (relay_cache.c).
 * An account is looked up first: an alias entry of an account's name
 * is not an alias. */
enum store_addr_kind {
	STORE_ADDR_NONE,		/* neither an account nor an alias */
	STORE_ADDR_ACCOUNT,
	STORE_ADDR_ALIAS,
};
struct store_address {
	enum store_addr_kind kind;
	char owner[STORE_MAX_ACCOUNT];	/* the account: itself or the alias's */
	int owner_exists;		/* an alias's account is in the store */
	enum store_state state;		/* the owner's, if it exists */
};
/* Resolve addr (lowercased first) into *addr_r: on PostgreSQL one
 * statement, on LMDB the account and alias reads.
 * @return 0 (also for an address the store does not know: kind NONE)
 *	or -1 */
int store_address_resolve(struct store *store, const char *addr,
			  struct store_address *addr_r, const char **error_r);
/* Each alias in the index, in alias order, with its origin:
 * STORE_PROPOSAL_APPROVED or _TRUSTED, or -1 when unknown (gathered
 * before alias proposals existed). fn returns non-zero to stop. */
int store_alias_iter(struct store *store,
		     int (*fn)(const char *alias, const char *account, int origin,
			       void *ctx),
		     void *ctx, const char **error_r);

/* --- alias proposals --------------------------------------------------- */

/* Addresses the puller finds in sender-written headers are proposals
 * until the administrator approves them; only the "for" of OLD's own
 * Received: hop (source_mx_names) makes an alias at once. */
enum store_proposal_state {
	STORE_PROPOSAL_PENDING,		/* waits for the administrator */
	STORE_PROPOSAL_REJECTED,	/* refused: not proposed again */
	STORE_PROPOSAL_APPROVED,	/* an alias, approved */
	STORE_PROPOSAL_TRUSTED,		/* an alias, from OLD's own Received: hop */
};
/* "pending", "rejected", "approved", "trusted" */
const char *store_proposal_state_name(enum store_proposal_state state);

/* Header kinds an address was seen in (bits). */
#define STORE_ALIAS_SRC_TO 0x01
#define STORE_ALIAS_SRC_CC 0x02
#define STORE_ALIAS_SRC_ENVELOPE_TO 0x04	/* X-Envelope-To: */
#define STORE_ALIAS_SRC_RECEIVED 0x08		/* Received: for, a sender-writable hop */
#define STORE_ALIAS_SRC_RECEIVED_MX 0x10	/* Received: for, OLD's own hop */

struct store_proposal {
	char *alias;		/* lowercased */
	char *account;
	enum store_proposal_state state;
	unsigned sources;	/* STORE_ALIAS_SRC_* */
	uint64_t count;		/* messages it was seen in, all rounds */
	int64_t first_seen;	/* unix times of the rounds that saw it */
	int64_t last_seen;
};
void store_proposal_clear(struct store_proposal *p);

/* The puller saw alias in count messages of account's mail: record a
 * pending proposal (or add to one). Nothing is written for an alias
 * that is an account or any account's alias, or that the
 * administrator rejected for this account.
 * @return 0, STORE_EXISTS (nothing written), or -1 */
int store_proposal_add(struct store *store, const char *account,
		       const char *alias, unsigned sources, uint64_t count,
		       time_t now, const char **error_r);
/* An alias from OLD's own Received: hop: added to the account and
 * indexed (as store_account_add_alias), its origin recorded as
 * trusted, other accounts' pending proposals of it dropped; one
 * transaction. @return as store_account_add_alias */
int store_proposal_trust(struct store *store, const char *account,
			 const char *alias, unsigned sources, uint64_t count,
			 time_t now, const char **error_r);
/* Approve the pending proposal of alias by account (NULL: the only
 * pending one): the alias is added and indexed, its record kept as
 * origin "approved", others' pending proposals dropped, an event; one
 * transaction. The account approved into account_r (may be NULL).
 * @return 0, STORE_NOTFOUND (no such pending proposal), STORE_EXISTS
 *	(alias is an account or an alias now), STORE_AMBIGUOUS (account
 *	NULL and several accounts proposed it), or -1; nothing written
 *	but on 0 */
int store_proposal_approve(struct store *store, const char *alias,
			   const char *account, time_t now, char *account_r,
			   size_t size, const char **error_r);
/* Reject the pending proposals of alias (by account; NULL: all):
 * kept as rejected so later rounds do not propose it again; an event.
 * @return 0, STORE_NOTFOUND (none pending), or -1 */
int store_proposal_reject(struct store *store, const char *alias,
			  const char *account, time_t now, const char **error_r);
/* Every record (all states) in alias, then account order. */
int store_proposal_iter(struct store *store,
			int (*fn)(const struct store_proposal *p, void *ctx),
			void *ctx, const char **error_r);

/* Add one to the late_mail counter of each named account, all in one
 * write transaction (the relay's batch); names not in the store are
 * skipped. @return 0 or -1 (nothing written) */
int store_account_add_late_mail(struct store *store, char *const *names,
				size_t count, const char **error_r);
/* Call fn for each account in name order, in one read transaction;
 * fn returns non-zero to stop (that value is returned). */
int store_account_iter(struct store *store,
		       int (*fn)(const struct store_account *acct, void *ctx),
		       void *ctx, const char **error_r);

/* --- captured passwords ---------------------------------------------- */

/* Seal and store password for account (needs store_set_key()). */
int store_cred_set(struct store *store, const char *account,
		   const char *password, const char **error_r);
/* @return 0 with *password_r (mm_free_secret() it), STORE_NOTFOUND, -1 */
int store_cred_get(struct store *store, const char *account,
		   char **password_r, const char **error_r);
/* 1 if a sealed password is stored for account, 0 if not, -1. Needs
 * no key. */
int store_cred_has(struct store *store, const char *account,
		   const char **error_r);
/* Overwrite the sealed record with zeros, then delete it. */
int store_cred_wipe(struct store *store, const char *account,
		    const char **error_r);

/* --- jobs: FIFO with leases ------------------------------------------ */

enum store_job_kind {
	STORE_JOB_COPY,		/* first copy */
	STORE_JOB_SYNC,		/* another round */
	STORE_JOB_FINISH,	/* last round, then finished */
};
const char *store_job_kind_name(enum store_job_kind kind);

struct store_job {
	uint64_t id;		/* FIFO order */
	char *account;
	enum store_job_kind kind;
	int64_t enqueued;
	int64_t not_before;	/* back-off: not taken before this */
	int64_t lease_until;	/* 0: free; else leased until then */
	char *owner;		/* the lease holder, e.g. "host:pid:worker" */
	unsigned attempts;	/* times taken, this one included */
	char *last_error;
	/* Workers that died holding it (a crash, kill -9, a lease that ran
	 * out): counted when the job is given back by store_job_died() or
	 * taken again with its lease expired, so a job that kills every
	 * worker can be given up rather than taken for ever. */
	unsigned deaths;
	/* store_job_take() only: the holder whose lease had run out when
	 * this take took the job from it (a death counted), else NULL. */
	char *previous_owner;
};
void store_job_clear(struct store_job *job);

/* Queue a job for account. An account has one job at most: if it has
 * one, *id_r is that job's (its kind upgraded if the new one asks for
 * more: copy < sync < finish) and STORE_EXISTS is returned. */
int store_job_enqueue(struct store *store, const char *account,
		      enum store_job_kind kind, time_t now, uint64_t *id_r,
		      const char **error_r);
/* Lease the oldest job that is free (or whose lease expired) and due;
 * attempts + 1, and deaths + 1 when an expired lease was still held.
 * @return 0 with *job_r, STORE_NOTFOUND when none is ready, -1 */
int store_job_take(struct store *store, const char *owner,
		   unsigned lease_seconds, time_t now, struct store_job *job_r,
		   const char **error_r);
/* Extend a lease. STORE_NOTFOUND if the job is gone or held by another
 * owner (our lease expired and it was taken): stop working on it. */
int store_job_renew(struct store *store, uint64_t id, const char *owner,
		    unsigned lease_seconds, time_t now, const char **error_r);
/* The job is done: delete it. STORE_NOTFOUND as for renew. */
int store_job_done(struct store *store, uint64_t id, const char *owner,
		   const char **error_r);
/* Give the job back to be tried again at not_before (the next take
 * counts the attempt), with the reason kept. STORE_NOTFOUND as for
 * renew. */
int store_job_retry(struct store *store, uint64_t id, const char *owner,
		    time_t not_before, const char *reason,
		    const char **error_r);
/* owner, which held the job, died: give it back as store_job_retry()
 * does, with deaths + 1. STORE_NOTFOUND as for renew. */
int store_job_died(struct store *store, uint64_t id, const char *owner,
		   time_t not_before, const char *reason, const char **error_r);
/* account's job: 0 with *job_r (store_job_clear() it), STORE_NOTFOUND,
 * or -1. */
int store_job_get(struct store *store, const char *account,
		  struct store_job *job_r, const char **error_r);
/* Remove account's job, if any (0 or STORE_NOTFOUND). */
int store_job_cancel(struct store *store, const char *account,
		     const char **error_r);
/* Each job in FIFO order, in one read transaction. */
int store_job_iter(struct store *store,
		   int (*fn)(const struct store_job *job, void *ctx),
		   void *ctx, const char **error_r);

/* --- folders and the UID map ----------------------------------------- */

struct store_folder {
	char *account;
	char *name;		/* the OLD name, as OLD spells it */
	char *target_name;	/* the NEW name it maps to */
	uint32_t uidvalidity;	/* OLD's */
	uint32_t last_uid;	/* highest OLD UID handled */
	uint32_t target_uidvalidity;
	uint64_t messages;
	uint64_t bytes;
	int subscribed;
	/* OLD's RFC 7162 HIGHESTMODSEQ for this UIDVALIDITY when a round
	 * last finished the folder and verified it: the next round need
	 * ask only for what changed since. 0: unknown (no CONDSTORE, not
	 * yet, or a round that did not prove the folder). Kept only as
	 * long as uidvalidity: a record put with another UIDVALIDITY is
	 * put with its own (0). */
	uint64_t highestmodseq;
};
void store_folder_clear(struct store_folder *folder);

int store_folder_get(struct store *store, const char *account,
		     const char *name, struct store_folder *folder_r,
		     const char **error_r);
int store_folder_put(struct store *store, const struct store_folder *folder,
		     const char **error_r);
int store_folder_iter(struct store *store, const char *account,
		      int (*fn)(const struct store_folder *folder, void *ctx),
		      void *ctx, const char **error_r);

/* Record one copied message in one transaction: the UID map entry,
 * the folder's last_uid, messages and bytes, the account's counters.
 * STORE_EXISTS (nothing changed) if old_uid was already recorded. */
int store_message_copied(struct store *store, const char *account,
			 const char *folder, uint32_t uidvalidity,
			 uint32_t old_uid, uint32_t new_uid, uint64_t size,
			 time_t now, const char **error_r);
/* @return 0 with *new_uid_r, STORE_NOTFOUND, -1 */
int store_msgmap_get(struct store *store, const char *account,
		     const char *folder, uint32_t uidvalidity,
		     uint32_t old_uid, uint32_t *new_uid_r,
		     const char **error_r);

/* Every UID map entry of one folder under one UIDVALIDITY, ordered by
 * OLD's UID, in one read (the verification's, instead of a look-up per
 * message): *entries_r (mm_free() it, NULL when none) and *count_r.
 * 0 or -1. */
struct store_msgmap_entry {
	uint32_t old_uid;
	uint32_t new_uid;
	uint32_t flags_hash;	/* 0: unknown */
};
int store_msgmap_list(struct store *store, const char *account,
		      const char *folder, uint32_t uidvalidity,
		      struct store_msgmap_entry **entries_r, size_t *count_r,
		      const char **error_r);
/* The entry of old_uid in such a list, or NULL. */
const struct store_msgmap_entry *
store_msgmap_find(const struct store_msgmap_entry *entries, size_t count,
		  uint32_t old_uid);

/* Forget one UID map entry (a copy NEW no longer holds), so the next
 * round copies the message again: 0, STORE_NOTFOUND, or -1. */
int store_msgmap_forget(struct store *store, const char *account,
			const char *folder, uint32_t uidvalidity,
			uint32_t old_uid, const char **error_r);

/* --- copy batches: exactly once across crashes ---------------------------- */

/*
 * Before a batch of messages is sent to NEW, it is recorded as pending
 * with NEW's UIDNEXT at that moment; when NEW has answered with the new
 * UIDs, store_batch_done() records them (POP3 messages: their UIDLs
 * in the UIDL set) and drops the pending batch in
 * one transaction. After a crash, a pending batch tells the puller
 * which messages may already be on NEW (UID >= target_uidnext, matched
 * by Message-ID, size and date) before it appends anything again.
 */
struct store_batch_msg {
	uint32_t old_uid;	/* the POP3 message number for a POP3 source */
	uint64_t size;
	char internaldate[40];
	char uidl[72];		/* POP3: the UIDL, recorded instead of a UID */
	uint32_t flags_hash;	/* OLD's flags and keywords, as copied */
	uint64_t message_id_hash; /* of OLD's Message-ID; 0: none or unknown */
};

struct store_batch {
	char *folder;			/* OLD's name */
	uint32_t uidvalidity;		/* OLD's */
	char *target_folder;		/* NEW's name */
	uint32_t target_uidvalidity;
	uint32_t target_uidnext;	/* NEW's UIDNEXT before the batch */
	struct store_batch_msg *msgs;
	size_t count;
};
#define STORE_MAX_BATCH 4096

void store_batch_clear(struct store_batch *batch);
/* Pending batches are kept per (account, slot): slot 0 is the job's
 * holder, slot 1 the worker assisting it (store_split_*). Each slot
 * holds at most one pending record. */
#define STORE_BATCH_SLOTS 2
/* Record batch as pending for account's slot (replacing any other). */
int store_batch_begin(struct store *store, const char *account, unsigned slot,
		      const struct store_batch *batch, const char **error_r);
/* @return 0 with *batch_r (store_batch_clear() it), STORE_NOTFOUND, -1 */
int store_batch_pending(struct store *store, const char *account, unsigned slot,
			struct store_batch *batch_r, const char **error_r);
/* The batch reached NEW: new_uids[i] is msgs[i]'s UID on NEW (0 for
 * one that was not appended). UID map, folder and account counters,
 * and the slot's pending record, in one transaction. Messages already
 * mapped are left as they were. Two slots of one account may record
 * at once: the counters are added to under the account's lock. */
int store_batch_done(struct store *store, const char *account, unsigned slot,
		     const struct store_batch *batch, const uint32_t *new_uids,
		     time_t now, const char **error_r);
/* As store_batch_done(), and next (NULL: none) recorded as the slot's
 * pending batch in the same transaction: a copy that sends the next
 * batch while NEW answers this one spends one commit per batch. */
int store_batch_done_next(struct store *store, const char *account,
			  unsigned slot, const struct store_batch *batch,
			  const uint32_t *new_uids,
			  const struct store_batch *next, time_t now,
			  const char **error_r);
/* Nothing of the slot's pending batch reached NEW: drop it. */
int store_batch_abort(struct store *store, const char *account, unsigned slot,
		      const char **error_r);

/* --- split: a large account's folders over two workers ---------------- */

/*
 * A hand-out lets a second worker (the assistant, with no job of its
 * own) copy some of the folders of an account whose job another worker
 * (the holder) has: the holder publishes the round's folders in copy
 * order; both claim the next one (cursor + 1, one transaction) and copy
 * it with their own sessions and their own pending-batch slot (holder
 * 0, assistant 1). The assistant holds a lease on its part, renewed as
 * it goes; a claim or renewal fails once the holder has closed the
 * hand-out. The record is the round's only: not migration data, not
 * dumped or copied (like store_progress).
 */
#define STORE_MAX_SPLIT_FOLDERS 4096
/* Where the assistant's copy of a folder began (store_split_copied()),
 * so the holder verifies that folder as its own: OLD's UIDVALIDITY
 * (0: not known) and HIGHESTMODSEQ, NEW's UIDNEXT. */
struct store_split_start {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t modseq;
};
struct store_split {
	char *account;
	char *holder;		/* the job's lease holder */
	char **folders;		/* OLD's names, in copy order */
	size_t count;
	uint32_t cursor;	/* folders[0..cursor) claimed */
	char *assistant;	/* NULL: none joined */
	int64_t assistant_lease; /* until then; renewed by its claims */
	/* 1-based index of the folder the assistant is copying; 0: none */
	uint32_t assistant_folder;
	uint64_t assistant_folders; /* folders it claimed, all done but that */
	int closed;		/* the holder took it back: no more claims
				   or renewals by the assistant */
	int done;		/* the assistant found no folder left */
	int64_t created;
	/* count entries: the assistant's folders it finished copying */
	struct store_split_start *starts;
};
void store_split_clear(struct store_split *s);

/* Publish account's hand-out (replacing one of an earlier round), held
 * by holder: cursor 0, no assistant.
 * @return 0, STORE_EXISTS when the one there has an assistant whose
 *	lease runs and which is not done (nothing written; wait for it
 *	or close it), or -1 */
int store_split_publish(struct store *store, const char *account,
			const char *holder, char *const *folders, size_t count,
			time_t now, const char **error_r);
/* Join the first hand-out (in account order) that is open, has no
 * assistant and folders left, as its assistant with a lease until
 * now + lease_seconds; its account into account_r.
 * @return 0, STORE_NOTFOUND (none), or -1 */
int store_split_join(struct store *store, const char *owner,
		     unsigned lease_seconds, time_t now, char *account_r,
		     size_t size, const char **error_r);
/* Claim the next folder for owner (the holder or the assistant): its
 * index (0-based) and name (mm_free() it). The assistant's lease is
 * renewed and the claim remembered as the folder it copies (its
 * previous one is done: it claims after finishing one); finding none
 * left marks it done.
 * @return 0, STORE_NOTFOUND (none left; or for the assistant: closed,
 *	or not the assistant any more), or -1 */
int store_split_claim(struct store *store, const char *account,
		      const char *owner, unsigned lease_seconds, time_t now,
		      uint32_t *index_r, char **folder_r, const char **error_r);
/* The assistant renews its lease. STORE_NOTFOUND when the hand-out is
 * closed or gone, or owner is not its assistant: stop. lease_seconds 0
 * gives it back (it has stopped: its sessions are closed), which a
 * closed hand-out takes too. */
int store_split_renew(struct store *store, const char *account,
		      const char *owner, unsigned lease_seconds, time_t now,
		      const char **error_r);
/* The assistant has copied folder index (its claim) whole: where the
 * copy began, for the holder's verification.
 * @return 0, STORE_NOTFOUND (closed or gone, not its assistant, an
 *	index out of range), or -1 */
int store_split_copied(struct store *store, const char *account,
		       const char *owner, uint32_t index,
		       const struct store_split_start *start, const char **error_r);
/* @return 0 with *split_r (store_split_clear() it), STORE_NOTFOUND, -1 */
int store_split_get(struct store *store, const char *account,
		    struct store_split *split_r, const char **error_r);
/* The holder closes the hand-out (no more assistant claims or
 * renewals) and gets it as it was closed into *split_r (may be NULL).
 * @return 0, STORE_NOTFOUND, or -1 */
int store_split_close(struct store *store, const char *account,
		      struct store_split *split_r, const char **error_r);
/* Remove it: 0, STORE_NOTFOUND, or -1. */
int store_split_del(struct store *store, const char *account,
		    const char **error_r);

/* --- failed items --------------------------------------------------------- */

struct store_failed {
	char *account;
	char *folder;
	uint32_t uidvalidity;
	uint32_t uid;		/* 0: the folder itself failed */
	uint64_t size;
	int64_t time;
	char *reason;
};
void store_failed_clear(struct store_failed *item);
/* Record a message (or folder, uid 0) that could not be copied, and
 * count it in the account's errors. Recording it again updates it. */
int store_failed_add(struct store *store, const struct store_failed *item,
		     const char **error_r);
/* Drop one failed item (a folder's verification that holds again),
 * uncounting it from the account's errors: 0, STORE_NOTFOUND, or -1. */
int store_failed_del(struct store *store, const char *account, const char *folder,
		     uint32_t uidvalidity, uint32_t uid, const char **error_r);
/* Each failed item, of account (NULL: all), in key order. */
int store_failed_iter(struct store *store, const char *account,
		      int (*fn)(const struct store_failed *item, void *ctx),
		      void *ctx, const char **error_r);

/* The UID map entry with the hash of OLD's flags and keywords as last
 * copied to NEW (0: unknown), so a later round updates NEW only for
 * messages whose flags changed on OLD. 0, STORE_NOTFOUND, or -1. */
int store_msgmap_get_flags(struct store *store, const char *account,
			   const char *folder, uint32_t uidvalidity,
			   uint32_t old_uid, uint32_t *new_uid_r,
			   uint32_t *flags_hash_r, const char **error_r);
/* Record that NEW now has the flags whose hash is flags_hash. */
int store_msgmap_set_flags(struct store *store, const char *account,
			   const char *folder, uint32_t uidvalidity,
			   uint32_t old_uid, uint32_t flags_hash,
			   const char **error_r);

/* Record the flags hashes of many messages of one folder (entries'
 * old_uid and flags_hash; new_uid is not looked at) in one transaction:
 * a later round's flag changes. An entry no longer in the map (forgotten
 * meanwhile) is skipped. 0 or -1. */
int store_msgmap_set_flags_many(struct store *store, const char *account,
				const char *folder, uint32_t uidvalidity,
				const struct store_msgmap_entry *entries,
				size_t count, const char **error_r);

/* --- POP3 UIDLs --------------------------------------------------------- */

/* Claim uidl for account: 0 if newly added, STORE_EXISTS if present.
 * Atomic, so concurrent sessions copy each message once. */
int store_uidl_add(struct store *store, const char *account,
		   const char *uidl, time_t now, const char **error_r);
/* 1 if present, 0 if not, -1 */
int store_uidl_has(struct store *store, const char *account,
		   const char *uidl, const char **error_r);
/* Forget uidl (a copy NEW no longer holds), so the next round copies
 * the message again: 0, STORE_NOTFOUND, or -1. */
int store_uidl_forget(struct store *store, const char *account,
		      const char *uidl, const char **error_r);
/* Count of account's UIDLs in *count_r. */
int store_uidl_count(struct store *store, const char *account,
		     uint64_t *count_r, const char **error_r);

/* --- Sieve scripts ------------------------------------------------------ */

/*
 * What a round put on NEW of an account's Sieve script (migrate_sieve,
 * puller_sieve(3)): the SHA-256 of the bytes and whether it was made
 * the active one, so a later round puts only a script OLD changed since,
 * and leaves alone what the user changed on NEW meanwhile. Forgotten by
 * store_reset() with the rest of the copy progress; dumped and copied
 * (STORE_DUMP_SIEVE) with the rest.
 */
#define STORE_SIEVE_HASH 32
#define STORE_MAX_SIEVE_NAME 512
struct store_sieve {
	unsigned char sha256[STORE_SIEVE_HASH];
	int active;
};
/* @return 0 with *sieve_r, STORE_NOTFOUND, or -1 */
int store_sieve_get(struct store *store, const char *account, const char *name,
		    struct store_sieve *sieve_r, const char **error_r);
/* Record (or replace) it: 0 or -1. */
int store_sieve_put(struct store *store, const char *account, const char *name,
		    const struct store_sieve *sieve, const char **error_r);
/* Call fn for each of account's Sieve records (mailmigrate show): name
 * and sieve are the store's, valid during the call. The order is the
 * backend's (not the names'). fn returning non-zero stops the walk and
 * is returned.
 * @return 0, fn's non-zero, or -1 */
int store_sieve_iter(struct store *store, const char *account,
		     int (*fn)(const char *name, const struct store_sieve *sieve,
			       void *ctx),
		     void *ctx, const char **error_r);

/* --- calendars and address books ------------------------------------- */

/*
 * What a round put on NEW of an account's calendars, address books and
 * their items (migrate_dav, puller_dav(3)): one record per collection
 * and per item, keyed by OLD's URL of the collection and of the item,
 * holding where the copy is on NEW, the SHA-256 of OLD's ETag when it
 * was copied and of NEW's ETag after the PUT, and the SHA-256 of the
 * bytes. A later round copies an item again only when OLD's ETag
 * changed, puts it with If-Match NEW's recorded ETag (so a change the
 * user made on NEW meanwhile is not overwritten), and reports (does not
 * delete) a recorded item OLD no longer has. Forgotten by store_reset()
 * with the rest of the copy progress; dumped and copied (STORE_DUMP_DAV).
 */
#define STORE_DAV_HASH 32
#define STORE_MAX_DAV_URL 2048
enum store_dav_kind {
	STORE_DAV_CALENDAR = 1,		/* a calendar collection */
	STORE_DAV_ADDRESSBOOK = 2,	/* an address book collection */
	STORE_DAV_ITEM = 3,		/* an iCalendar object or a vCard */
};
struct store_dav {
	unsigned kind;				/* enum store_dav_kind */
	char old_url[STORE_MAX_DAV_URL + 1];	/* the record's key: OLD's URL */
	char new_url[STORE_MAX_DAV_URL + 1];	/* the copy's URL on NEW */
	unsigned char old_etag[STORE_DAV_HASH];	/* SHA-256 of OLD's ETag
						   when copied (collection:
						   of its ctag/sync-token) */
	unsigned char new_etag[STORE_DAV_HASH];	/* SHA-256 of NEW's ETag after
						   the PUT; all zero: NEW
						   gave none */
	unsigned char sha256[STORE_DAV_HASH];	/* of the bytes copied
						   (collection: zero) */
	int64_t copied;				/* unix time of the copy */
};
/* collection is OLD's URL of a collection; item NULL for the
 * collection's own record, else OLD's URL of an item in it. URLs are
 * at most STORE_MAX_DAV_URL bytes.
 * @return 0 with *dav_r, STORE_NOTFOUND, or -1 */
int store_dav_get(struct store *store, const char *account, const char *collection,
		  const char *item, struct store_dav *dav_r, const char **error_r);
/* Record (or replace) it; dav->old_url must be item (or collection).
 * @return 0 or -1 */
int store_dav_put(struct store *store, const char *account, const char *collection,
		  const char *item, const struct store_dav *dav, const char **error_r);
/* Forget one (item NULL: the collection's record and all its items'):
 * 0, STORE_NOTFOUND, or -1 */
int store_dav_del(struct store *store, const char *account, const char *collection,
		  const char *item, const char **error_r);
/* Call fn for each of account's DAV records, collection NULL: all of
 * them, else that collection's own and its items'. collection_url (the
 * collection a record belongs to) and dav are the store's, valid during
 * the call; a collection's records come together, the collection's own
 * before its items'; otherwise the order is the backend's. fn returning
 * non-zero stops the walk and is returned.
 * @return 0, fn's non-zero, or -1 */
int store_dav_iter(struct store *store, const char *account, const char *collection,
		   int (*fn)(const char *collection_url, const struct store_dav *dav,
			     void *ctx),
		   void *ctx, const char **error_r);

/* --- rights on shared folders ------------------------------------------ */

/*
 * What a round did with each right a user gave another on one of their
 * folders (migrate_shared, puller_acl(3)): one record per folder and
 * identifier of OLD's ACL, holding the rights OLD lists, whom on NEW
 * they went to, and whether they were given, were there already, or
 * could not be (no account on NEW, NEW refused them). A later round
 * that no longer finds an entry on OLD takes back on NEW what it gave,
 * if NEW still holds exactly that, and forgets the record. Forgotten by
 * store_reset() with the rest of the copy progress; dumped and copied
 * (STORE_DUMP_ACL).
 */
#define STORE_MAX_ACL_ID 255		/* bytes of an identifier */
#define STORE_MAX_ACL_RIGHTS 63		/* bytes of rights */
enum store_acl_state {
	STORE_ACL_GIVEN = 1,		/* set on NEW by a round */
	STORE_ACL_THERE = 2,		/* NEW held these rights already */
	STORE_ACL_UNMAPPED = 3,		/* no account on NEW: not given */
	STORE_ACL_REFUSED = 4,		/* NEW would not take it */
};
#define STORE_ACL_STATE_MAX 4
/* "given", "there", "unmapped", "refused" */
const char *store_acl_state_name(enum store_acl_state state);
struct store_acl {
	char folder[STORE_MAX_FOLDER + 1];	/* OLD's name of the folder */
	char target[STORE_MAX_FOLDER + 1];	/* NEW's name of it */
	char identifier[STORE_MAX_ACL_ID + 1];	/* OLD's */
	char given_to[STORE_MAX_ACL_ID + 1];	/* NEW's; "" when not given */
	char rights[STORE_MAX_ACL_RIGHTS + 1];	/* OLD's (RFC 4314 letters) */
	unsigned state;				/* enum store_acl_state */
	int64_t updated;			/* unix time the round wrote it */
};
/* Record (or replace) the entry acl->folder, acl->identifier: 0 or -1. */
int store_acl_put(struct store *store, const char *account,
		  const struct store_acl *acl, const char **error_r);
/* Forget one entry (identifier NULL: all of folder's).
 * @return 0, STORE_NOTFOUND, or -1 */
int store_acl_del(struct store *store, const char *account, const char *folder,
		  const char *identifier, const char **error_r);
/* Call fn for each of account's ACL records, folder NULL: all of them,
 * else that folder's. A folder's records come together; otherwise the
 * order is the backend's. acl is the store's, valid during the call;
 * fn returning non-zero stops the walk and is returned.
 * @return 0, fn's non-zero, or -1 */
int store_acl_iter(struct store *store, const char *account, const char *folder,
		   int (*fn)(const struct store_acl *acl, void *ctx),
		   void *ctx, const char **error_r);

/* --- statistics ------------------------------------------------------- */

/* How a first login ended: a user the store does not know, in a
 * backup domain, whose password the auth module took to OLD. */
enum store_first_login {
	STORE_FIRST_LOGIN_MIGRATED,	/* OLD said yes: account made, copy queued */
	STORE_FIRST_LOGIN_REFUSED,	/* OLD (or its recent word) said no */
	STORE_FIRST_LOGIN_UNAVAILABLE,	/* no answer: OLD down, TLS, rate limits */
	STORE_FIRST_LOGIN_FAILED,	/* ours: the store, the key, source_auth */
};
#define STORE_FIRST_LOGIN_COUNT 4
/* "migrated", "refused", "unavailable", "failed" */
const char *store_first_login_name(enum store_first_login outcome);
/* Count one first login with outcome: a counter kept with the store's
 * own (meta "first_login_<name>"), so every Dovecot host of a shared
 * store adds to the same one, and `store copy` carries it.
 * @return 0 or -1 */
int store_first_login_count(struct store *store, enum store_first_login outcome,
			    const char **error_r);

struct store_stats {
	int64_t started;		/* first account added; 0: never */
	uint64_t accounts;		/* mailboxes total */
	uint64_t by_state[STORE_STATE_COUNT];
	uint64_t bytes_by_state[STORE_STATE_COUNT];	/* copied so far */
	uint64_t aliases;
	uint64_t messages;
	uint64_t bytes;
	int64_t last_migrated;		/* newest copy_finished; 0: none */
	uint64_t errors;		/* error events ever logged */
	uint64_t jobs_pending;		/* not leased */
	uint64_t jobs_leased;		/* leased and not expired at now */
	int paused;
	/* Copied in the last STORE_RATE_WINDOW seconds, and the seconds
	 * that spans (0: nothing copied in it). */
	uint64_t rate_messages;
	uint64_t rate_bytes;
	unsigned rate_seconds;
	/* First logins (the auth module) by outcome, ever. */
	uint64_t first_logins[STORE_FIRST_LOGIN_COUNT];
	/* Sieve records (store_sieve_put): scripts put on NEW, or found
	 * there the same, over all accounts. */
	uint64_t sieve_scripts;
	/* DAV records (store_dav_put), over all accounts: calendars and
	 * address books, and their items. */
	uint64_t dav_collections;
	uint64_t dav_items;
	/* ACL records (store_acl_put), over all accounts: folders with
	 * rights for others, their entries given on NEW (or there already)
	 * and not given. */
	uint64_t acl_folders;
	uint64_t acl_given;
	uint64_t acl_not_given;
};
#define STORE_RATE_WINDOW 300
int store_stats_get(struct store *store, time_t now, struct store_stats *stats_r,
		    const char **error_r);

/* --- progress of the copies running ------------------------------------ */

/* What a worker copying an account has done of its round: written as it
 * goes (at each folder, and at most once a second within one) and
 * removed when the round ends. A worker killed mid-round leaves its
 * record until the account's next round replaces or removes it: a
 * reader tells a stale one by updated (older than the job lease).
 * Not migration data: `store copy` leaves it behind. */
struct store_progress {
	char *account;
	char *owner;		/* the worker, "host:pid" */
	char *folder;		/* OLD's name of the folder being copied;
				 * NULL between folders */
	uint32_t folder_index;	/* 1-based; 0: listing folders */
	uint32_t folder_count;
	uint64_t messages_done;	/* looked at this round (copied or found) */
	uint64_t messages_total; /* in the account's folders on OLD */
	uint64_t bytes_done;
	uint64_t bytes_total;	/* 0: OLD does not tell sizes up front */
	int64_t started;	/* the round's start */
	int64_t updated;
};
#define STORE_MAX_PROGRESS 4096	/* records a listing returns at most */
/* Free the fields of *p (not p itself) and zero it. */
void store_progress_clear(struct store_progress *p);
/* Write (replace) the record of p->account. */
int store_progress_put(struct store *store, const struct store_progress *p,
		       const char **error_r);
/* @return 0, STORE_NOTFOUND or -1 */
int store_progress_del(struct store *store, const char *account,
		       const char **error_r);
/* Each record, in account order (at most STORE_MAX_PROGRESS); fn
 * returns non-zero to stop. */
int store_progress_iter(struct store *store,
			int (*fn)(const struct store_progress *p, void *ctx),
			void *ctx, const char **error_r);

/* --- events ------------------------------------------------------------ */

struct store_event {
	uint64_t id;
	int64_t time;
	enum log_severity severity;
	char *account;		/* "" when global */
	char *message;
};

/* Append an event (text truncated to STORE_MAX_EVENT_TEXT); severity
 * error or worse also counts in the stats. Oldest events beyond
 * event_log_max are dropped. account may be NULL. */
int store_event_add(struct store *store, time_t now, enum log_severity sev,
		    const char *account, const char *message,
		    const char **error_r);
/* The last n events (0: all) in time order, only errors and worse if
 * errors_only, only account's if account is not NULL. */
int store_event_iter(struct store *store, int errors_only, const char *account,
		     size_t n,
		     int (*fn)(const struct store_event *ev, void *ctx),
		     void *ctx, const char **error_r);

/* --- auth-hook: rate limits and the failed-login cache ------------------ */

/* Rate limits and cached failures are shared by every Dovecot auth
 * worker through the store. Expired entries are pruned by the writes
 * that add new ones, each looking at no more than STORE_AUTH_PRUNE_MAX
 * entries (going on where the last one stopped), so no login pays for
 * a scan of the whole database. */
#define STORE_AUTH_PRUNE_MAX 256
struct store_auth_limit {
	const char *key;	/* "user:NAME", "ip:ADDR": any text */
	unsigned limit;		/* hits allowed per window; 0: no limit */
};
/* Count one hit on each of limits[0..n) in fixed windows of window
 * seconds, all or none in one transaction.
 * @return 0 (counted), STORE_EXISTS when one of them already had its
 *	limit of hits in the current window (nothing counted), or -1 */
int store_auth_limit(struct store *store, const struct store_auth_limit *limits,
		     size_t n, unsigned window, time_t now, const char **error_r);
/* Remember a failed check (mac: a keyed hash of user and password,
 * never the password) from now for ttl seconds. */
int store_auth_fail_add(struct store *store, const unsigned char *mac,
			size_t len, time_t now, unsigned ttl,
			const char **error_r);
/* 1 if mac is remembered and not expired at now, 0 if not, -1. */
int store_auth_fail_has(struct store *store, const unsigned char *mac,
			size_t len, time_t now, const char **error_r);
/* An existing account's password changed: replace its hash and sealed
 * password in one transaction (the state and jobs stay as they are).
 * @return 0, STORE_NOTFOUND, or -1 */
int store_account_set_password(struct store *store, const char *name,
			       const char *password_hash, const char *password,
			       time_t now, const char **error_r);

/* --- TLS memory: OLD servers that offered STARTTLS ---------------------- */

/*
 * With source_tls = detect, a domain whose OLD once completed STARTTLS
 * (IMAP) or STLS (POP3) is remembered, per protocol: from then on a
 * connection where it offers none is a downgrade and is refused. IMAP
 * and POP3 are kept apart because they are often different daemons,
 * one with TLS and one without. Written once (the first time), read on
 * every connection; only `mailmigrate tls-forget` removes a record.
 */
#define STORE_TLS_IMAP "imap"
#define STORE_TLS_POP3 "pop3"
/* When OLD of domain first completed STARTTLS over proto ("imap" or
 * "pop3"; the domain is lowercased).
 * @return 0 with *since_r, STORE_NOTFOUND (never, or a store made
 *	before the database existed and opened read-only), or -1 */
int store_tls_seen_get(struct store *store, const char *domain,
		       const char *proto, int64_t *since_r, const char **error_r);
/* Remember that it did, at now, unless it is remembered already.
 * @return 0 (recorded), STORE_EXISTS (kept the earlier time), or -1 */
int store_tls_seen_add(struct store *store, const char *domain,
		       const char *proto, time_t now, const char **error_r);
/* Forget it for proto (NULL: both protocols).
 * @return 0 (something was forgotten), STORE_NOTFOUND (nothing was
 *	remembered), or -1 */
int store_tls_seen_forget(struct store *store, const char *domain,
			  const char *proto, const char **error_r);

/* --- control ------------------------------------------------------------ */

int store_paused(struct store *store, int *paused_r, const char **error_r);
int store_set_paused(struct store *store, int paused, const char **error_r);
/* Forget copy progress for account (NULL: all accounts): folders, UID
 * map, UIDLs, Sieve, DAV and ACL records dropped, counters zeroed, state back to queued (not
 * for passwords-only), a copy job queued. Nothing is deleted on
 * either mail server. STORE_NOTFOUND for an unknown account. */
int store_reset(struct store *store, const char *account, time_t now,
		const char **error_r);

/* --- moving a store: dump and copy ----------------------------------------- */

/*
 * store_dump() hands every record of a store to a callback, read in
 * one snapshot, in a form that is the same on every backend;
 * store_copy() loads them into an empty PostgreSQL store in one
 * transaction, reads that back and compares (store_copy.c). The
 * auth-hook's rate limits and failed-login cache are not dumped: they
 * live minutes and are made again by the next logins.
 */
enum store_dump_kind {
	STORE_DUMP_META,	/* name and value: paused, started, errors */
	STORE_DUMP_ACCOUNT,	/* account */
	STORE_DUMP_CRED,	/* owner, data/len: the sealed bytes as stored */
	STORE_DUMP_ALIAS,	/* name: the alias, owner: its account */
	STORE_DUMP_PROPOSAL,	/* proposal */
	STORE_DUMP_JOB,		/* job; in FIFO order */
	STORE_DUMP_FOLDER,	/* folder */
	STORE_DUMP_MSGMAP,	/* owner, name: the folder, uidvalidity,
				   old_uid, new_uid, flags_hash */
	STORE_DUMP_UIDL,	/* owner, name: the UIDL, time: added */
	STORE_DUMP_BATCH,	/* owner, batch: the pending batch,
				   value: its slot */
	STORE_DUMP_FAILED,	/* failed */
	STORE_DUMP_EVENT,	/* event; in time (id) order */
	STORE_DUMP_TLS,		/* name: the domain, proto, time: since */
	STORE_DUMP_RATE,	/* time: the minute (unix time / 60), value:
				   messages, bytes, first */
	STORE_DUMP_SIEVE,	/* owner, name: the script, data/len: its
				   SHA-256, value: made active (0/1) */
	STORE_DUMP_DAV,		/* owner, name: the collection's OLD URL,
				   dav: the record */
	STORE_DUMP_ACL,		/* owner, acl: the record */
};
#define STORE_DUMP_KINDS 17
/* "meta", "accounts", "passwords", "aliases", "proposals", "jobs",
 * "folders", "uid-map", "uidls", "batches", "failed", "events",
 * "tls-memory", "copy-rate", "sieve", "dav", "acl" */
const char *store_dump_kind_name(enum store_dump_kind kind);

/* One record; the fields its kind names are set, the others zero.
 * Everything it points to belongs to the dump and lives until the
 * callback returns. Ids (job->id, event->id) are the source's own;
 * a store that is loaded may number them anew, in the same order. */
struct store_dump_rec {
	enum store_dump_kind kind;
	const struct store_account *account;
	const struct store_proposal *proposal;
	const struct store_job *job;
	const struct store_folder *folder;
	const struct store_batch *batch;
	const struct store_failed *failed;
	const struct store_event *event;
	const struct store_dav *dav;
	const struct store_acl *acl;
	const char *owner;	/* the account a record belongs to */
	const char *name;
	const char *proto;
	const unsigned char *data;
	size_t len;
	uint32_t uidvalidity, old_uid, new_uid, flags_hash;
	uint64_t value, bytes;
	int64_t time, first;
};

/* 0 to go on; anything else stops the dump and is returned (-1 with
 * *error_r set). */
typedef int store_dump_fn(const struct store_dump_rec *rec, void *ctx,
			  const char **error_r);
/* Call fn for every record of store, kind by kind in the order of
 * enum store_dump_kind, all from one snapshot (LMDB: one read
 * transaction; PostgreSQL: one REPEATABLE READ transaction). A record
 * that cannot be read whole, or a UID map entry whose folder record
 * is missing, stops the dump with -1: nothing is skipped. */
int store_dump(struct store *store, store_dump_fn *fn, void *ctx,
	       const char **error_r);

struct store_copy_kind {
	uint64_t source, target;	/* records of the kind */
	int same;			/* the digests (and order) match */
};

struct store_copy_report {
	/* in: called after each kind and every 10000 records of the
	 * load, while the source's snapshot is open (may be NULL) */
	void (*progress)(uint64_t records, void *ctx);
	void *progress_ctx;
	/* out: */
	struct store_copy_kind kinds[STORE_DUMP_KINDS];
	uint64_t records;		/* copied (source records) */
	int verified;			/* the target was read back: kinds[]
					   target and same are set */
	int differs;			/* ... and some kind differs */
	int source_changed;		/* the source was written meanwhile */
	uint64_t source_writes;		/* its write transactions since */
	double seconds;			/* the whole copy, wall clock */
};

/* Copy every record of from (store_dump) into to, an empty PostgreSQL
 * store, in one transaction of to; read to back inside it and compare
 * kind by kind (count, a digest of the records, and the order of jobs
 * and events); and commit only when everything matches and from
 * committed no write since its snapshot was taken (its generation:
 * LMDB's last transaction id). from must be able to tell its
 * generation (LMDB); to must be able to load (PostgreSQL).
 * @return 0 (copied and committed), STORE_EXISTS (to is not empty:
 *	*error_r says what it holds; nothing written), or -1 (rolled
 *	back, to as empty as before; report says why when it got that
 *	far: differs, source_changed) */
int store_copy(struct store *from, struct store *to,
	       struct store_copy_report *report, const char **error_r);

#endif
