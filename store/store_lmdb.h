/*
 * NAME
 *	store_lmdb 3h
 * SUMMARY
 *	the LMDB backend: internals shared by the store_lmdb*.c files
 * DESCRIPTION
 *	struct lmdb_store embeds struct store (store_int.h) as its first
 *	member; LMDB() casts back. The lmdb_*() calls below are the
 *	backend's vtable (store_lmdb.c), each with the contract of the
 *	store_*() call of the same name in store.h.
 *
 *	Every public call wraps its work in store_write() or store_read(),
 *	which own the LMDB transaction: begin, run the callback, commit or
 *	abort, and on MDB_MAP_FULL grow the map and run the callback again
 *	in a fresh transaction. A callback therefore must not keep state
 *	across runs except through its ctx, which it resets on entry.
 *	Records are encoded by store_codec.h.
 */
#ifndef MM_STORE_LMDB_H
#define MM_STORE_LMDB_H

#include <lmdb.h>

#include "store_int.h"
#include "store_codec.h"

enum store_db {
	STORE_DB_META,
	STORE_DB_ACCOUNTS,
	STORE_DB_CREDS,
	STORE_DB_JOBS,
	STORE_DB_JOBIDX,
	STORE_DB_FOLDERS,
	STORE_DB_MSGMAP,
	STORE_DB_UIDLS,
	STORE_DB_EVENTS,
	STORE_DB_PENDING,
	STORE_DB_FAILED,
	STORE_DB_ALIASES,	/* alias -> account; may be missing (older stores) */
	STORE_DB_AUTHLIMIT,	/* the auth-hook's limits; may be missing (older stores) */
	STORE_DB_TLSSEEN,	/* OLD offered STARTTLS; may be missing (older stores) */
	STORE_DB_PROPOSALS,	/* "alias\0account" -> proposal; may be missing (older stores) */
	STORE_DB_PROGRESS,	/* account -> the copy running; may be missing (older stores) */
	STORE_DB_SIEVE,		/* "account\0" SHA-256(name) -> Sieve record; may be missing */
	STORE_DB_SPLIT,		/* account -> split hand-out; may be missing */
	STORE_DB_DAV,		/* "account\0" H(collection) [H(item)] -> DAV record; may be missing */
	STORE_DB_ACL,		/* "account\0" H(folder) H(identifier) -> ACL record; may be missing */
	STORE_DB_COUNT
};

struct lmdb_store {
	struct store store;	/* first: LMDB() casts back */
	MDB_env *env;
	MDB_dbi dbi[STORE_DB_COUNT];
	char *dir;
	uint64_t max_map_size;
	/* Databases added after schema 1 that this environment lacks:
	 * created when the store is opened for writing, read as empty
	 * (and looked for again, store_db_present()) when read-only. */
	unsigned char db_missing[STORE_DB_COUNT];
	int last_rc;		/* LMDB status of the last failure */
	/* The last read transaction, reset and kept for store_read() to
	 * renew: a lookup then costs no allocation and keeps its reader
	 * slot (MDB_NOTLS ties slots to transactions). */
	MDB_txn *rtxn;
};

/* The LMDB store behind s, which store_lmdb_open() made. */
static inline struct lmdb_store *LMDB(struct store *s)
{
	return (struct lmdb_store *)s;
}

/* A transaction body: >= 0 to commit (returned), -1 to abort. */
typedef int store_txn_fn(struct store *store, MDB_txn *txn, void *ctx,
			 const char **error_r);

int store_write(struct store *store, store_txn_fn *fn, void *ctx,
		const char **error_r);
int store_read(struct store *store, store_txn_fn *fn, void *ctx,
	       const char **error_r);

/* store_fail() for an LMDB status, remembered for the retry logic. */
int store_mdb_fail(struct store *store, int rc, const char **error_r,
		   const char *what);

/* Is db in the environment? 1 yes, 0 no (a read-only handle on a store
 * made before db existed; looked for again on each call), -1 error. */
int store_db_present(struct store *store, enum store_db db,
		     const char **error_r);

/* mdb_get that maps MDB_NOTFOUND to STORE_NOTFOUND. */
int store_get(struct store *store, MDB_txn *txn, enum store_db db,
	      const void *key, size_t keylen, MDB_val *val_r,
	      const char **error_r);
int store_put(struct store *store, MDB_txn *txn, enum store_db db,
	      const void *key, size_t keylen, const void *val, size_t vallen,
	      const char **error_r);
/* Delete a key; a missing key is not an error (returns STORE_NOTFOUND). */
int store_del(struct store *store, MDB_txn *txn, enum store_db db,
	      const void *key, size_t keylen, const char **error_r);
/* Delete every key that starts with prefix. */
int store_del_prefix(struct store *store, MDB_txn *txn, enum store_db db,
		     const void *prefix, size_t len, const char **error_r);

/* Call fn for each entry of db whose key starts with prefix (len 0:
 * every entry), in key order. fn returns 0 to go on; anything else
 * stops the scan and is returned (-1 with *error_r set by fn). */
typedef int store_scan_fn(const MDB_val *key, const MDB_val *val, void *ctx,
			  const char **error_r);
int store_scan(struct store *store, MDB_txn *txn, enum store_db db,
	       const void *prefix, size_t len, store_scan_fn *fn, void *ctx,
	       const char **error_r);

/* meta counters: read (0 when missing) and write a u64. */
/* The copy rate (store_lmdb_rate.c): add what a transaction copied; read the
 * messages and bytes of the last window seconds, and the seconds they
 * span (from the first copy in the window's minutes to now; 0: none). */
#define STORE_RATE_MINUTES 16
struct store_rate_bucket {
	uint64_t minute, messages, bytes;
	uint64_t first;		/* the time of the first copy in that minute */
};
/* The buckets (all zero when there is no record yet). */
int store_rate_load_txn(struct store *store, MDB_txn *txn,
			struct store_rate_bucket b[STORE_RATE_MINUTES],
			const char **error_r);
int store_rate_add_txn(struct store *store, MDB_txn *txn, time_t now,
		       uint64_t messages, uint64_t bytes, const char **error_r);
int store_rate_get_txn(struct store *store, MDB_txn *txn, time_t now,
		       unsigned window, uint64_t *messages_r, uint64_t *bytes_r,
		       unsigned *seconds_r, const char **error_r);

int store_meta_get_u64(struct store *store, MDB_txn *txn, const char *name,
		       uint64_t *value_r, const char **error_r);
int store_meta_put_u64(struct store *store, MDB_txn *txn, const char *name,
		       uint64_t value, const char **error_r);

/* Account records (store_lmdb_account.c), for the other store files. */
int store_account_decode(const MDB_val *val, const char *name,
			 struct store_account *acct_r, const char **error_r);
void store_account_encode(const struct store_account *acct,
			  struct rec_writer *w);
int store_account_load(struct store *store, MDB_txn *txn, const char *name,
		       struct store_account *acct_r, const char **error_r);
int store_account_save(struct store *store, MDB_txn *txn,
		       const struct store_account *acct, const char **error_r);

/* Jobs (store_lmdb_job.c), for account creation and reset. */
int store_job_enqueue_txn(struct store *store, MDB_txn *txn,
			  const char *account, enum store_job_kind kind,
			  time_t now, uint64_t *id_r, const char **error_r);
int store_job_cancel_txn(struct store *store, MDB_txn *txn,
			 const char *account, const char **error_r);

/* Creds (store_lmdb_cred.c), for account creation. */
int store_cred_set_txn(struct store *store, MDB_txn *txn, const char *account,
		       const char *password, const char **error_r);

/* The folder key "account\0" + SHA-256(name) (store_lmdb_folder.c). */
#define STORE_FOLDER_KEY_MAX (STORE_MAX_ACCOUNT + 1 + 32)
int store_folder_key(const char *account, const char *name, unsigned char *key,
		     size_t *len_r, const char **error_r);
int store_folder_load(struct store *store, MDB_txn *txn, const char *account,
		      const char *name, struct store_folder *folder_r,
		      const char **error_r);
int store_folder_save(struct store *store, MDB_txn *txn,
		      const struct store_folder *folder, const char **error_r);

/* Claim a POP3 UIDL inside txn: 0, STORE_EXISTS, or -1. */
int store_uidl_add_txn(struct store *store, MDB_txn *txn, const char *account,
		       const char *uidl, time_t now, const char **error_r);

/* Alias index (store_lmdb_alias.c): after an account's aliases changed from
 * old[] to new[] inside txn, drop the entries of the aliases it lost
 * (if still its own) and add the new ones (unless another account
 * holds them: the first owner keeps an alias). */
int store_alias_reindex_txn(struct store *store, MDB_txn *txn,
			    const char *account, char *const *old, size_t old_count,
			    char *const *new, size_t new_count,
			    const char **error_r);

/* Index every alias the account records hold (a store made before the
 * index existed, store_open()); the first owner keeps an alias. */
int store_alias_backfill_txn(struct store *store, MDB_txn *txn,
			     const char **error_r);

/* Give alias to account inside txn (record, sorted, and index).
 * @return 0 (also when it has it), STORE_NOTFOUND (no account),
 *	STORE_EXISTS (alias is an account or another's alias), -1 */
int store_alias_attach_txn(struct store *store, MDB_txn *txn,
			   const char *account, const char *alias,
			   const char **error_r);
/* Take alias away from the account that holds it (record and index):
 * 0 with that account in owner, STORE_NOTFOUND (no such alias), -1. */
int store_alias_detach_txn(struct store *store, MDB_txn *txn,
			   const char *alias, char *owner, size_t size,
			   const char **error_r);

/* Alias proposals (store_lmdb_proposal.c): name became an account: drop an
 * alias and the proposals of that name, with events. */
int store_proposal_forget_txn(struct store *store, MDB_txn *txn,
			      const char *name, time_t now, const char **error_r);
/* A store that lacked the proposals database: one warning event naming
 * how many aliases it holds from before (origin unknown). */
int store_proposal_upgrade_txn(struct store *store, MDB_txn *txn, time_t now,
			       const char **error_r);

/* An event inside txn (store_lmdb_event.c). */
int store_event_add_txn(struct store *store, MDB_txn *txn, time_t now,
			enum log_severity sev, const char *account,
			const char *message, const char **error_r);

/* Per-account progress (store_lmdb_folder.c), for reset. */
int store_folder_forget_txn(struct store *store, MDB_txn *txn,
			    const char *account, const char **error_r);

/* Record decoders, for the dump (store_lmdb_dump.c): a key and value
 * of the database named into a struct the caller clears (with the
 * store_*_clear() of store.h); 0, or -1 for a damaged record. */
int store_job_decode(const MDB_val *k, const MDB_val *v, struct store_job *job_r,
		     const char **error_r);
/* account: the key's "account" part (a folder key is "account\0"
 * + SHA-256 of the name, the name is in the record). */
int store_folder_decode(const char *account, const MDB_val *v,
			struct store_folder *f, const char **error_r);
int store_event_decode(const MDB_val *k, const MDB_val *v,
		       struct store_event *ev, const char **error_r);
void store_event_clear(struct store_event *ev);
int store_batch_decode(const MDB_val *v, struct store_batch *b,
		       const char **error_r);
int store_failed_decode(const MDB_val *k, const MDB_val *v,
			struct store_failed *it, const char **error_r);
int store_proposal_decode(struct store *store, const MDB_val *k,
			  const MDB_val *v, struct store_proposal *p,
			  const char **error_r);
/* A TLS memory record's time (the key is "proto:domain"). */
int store_tls_decode(const MDB_val *v, int64_t *since_r, const char **error_r);

/* The dump (store_lmdb_dump.c). */
int lmdb_dump(struct store *store, store_dump_fn *fn, void *ctx,
	      const char **error_r);
int lmdb_generation(struct store *store, uint64_t *generation_r,
		    const char **error_r);

/* --- the vtable's calls, by file ------------------------------------------ */

/* store_lmdb_account.c */
int lmdb_account_create(struct store *store, const struct store_account *acct,
			const char *password, time_t now, const char **error_r);
int lmdb_account_get(struct store *store, const char *name,
		     struct store_account *acct_r, const char **error_r);
int lmdb_account_put(struct store *store, const struct store_account *acct,
		     const char **error_r);
int lmdb_account_update(struct store *store, const char *name,
			int (*fn)(struct store_account *acct, void *ctx),
			void *ctx, const char **error_r);
int lmdb_account_requeue(struct store *store, const char *name,
			 const char *password_hash, const char *password,
			 time_t now, const char **error_r);
int lmdb_account_set_state(struct store *store, const char *name,
			   enum store_state state, time_t now,
			   const char **error_r);
int lmdb_account_add_late_mail(struct store *store, char *const *names,
			       size_t count, const char **error_r);
int lmdb_account_iter(struct store *store,
		      int (*fn)(const struct store_account *acct, void *ctx),
		      void *ctx, const char **error_r);
/* store_lmdb_alias.c */
int lmdb_account_add_alias(struct store *store, const char *name,
			   const char *alias, const char **error_r);
int lmdb_alias_lookup(struct store *store, const char *alias,
		      char *account_r, size_t size, const char **error_r);
/* store_lmdb_proposal.c */
int lmdb_alias_iter(struct store *store,
		    int (*fn)(const char *alias, const char *account,
			      int origin, void *ctx),
		    void *ctx, const char **error_r);
int lmdb_proposal_add(struct store *store, const char *account,
		      const char *alias, unsigned sources, uint64_t count,
		      time_t now, const char **error_r);
int lmdb_proposal_trust(struct store *store, const char *account,
			const char *alias, unsigned sources, uint64_t count,
			time_t now, const char **error_r);
int lmdb_proposal_approve(struct store *store, const char *alias,
			  const char *account, time_t now, char *account_r,
			  size_t size, const char **error_r);
int lmdb_proposal_reject(struct store *store, const char *alias,
			 const char *account, time_t now, const char **error_r);
int lmdb_proposal_iter(struct store *store,
		       int (*fn)(const struct store_proposal *p, void *ctx),
		       void *ctx, const char **error_r);
/* store_lmdb_cred.c */
int lmdb_cred_set(struct store *store, const char *account,
		  const char *password, const char **error_r);
int lmdb_cred_get(struct store *store, const char *account,
		  char **password_r, const char **error_r);
int lmdb_cred_has(struct store *store, const char *account,
		  const char **error_r);
int lmdb_cred_wipe(struct store *store, const char *account,
		   const char **error_r);
/* store_lmdb_job.c */
int lmdb_job_enqueue(struct store *store, const char *account,
		     enum store_job_kind kind, time_t now, uint64_t *id_r,
		     const char **error_r);
int lmdb_job_take(struct store *store, const char *owner,
		  unsigned lease_seconds, time_t now, struct store_job *job_r,
		  const char **error_r);
int lmdb_job_renew(struct store *store, uint64_t id, const char *owner,
		   unsigned lease_seconds, time_t now, const char **error_r);
int lmdb_job_done(struct store *store, uint64_t id, const char *owner,
		  const char **error_r);
int lmdb_job_retry(struct store *store, uint64_t id, const char *owner,
		   time_t not_before, const char *reason,
		   const char **error_r);
int lmdb_job_died(struct store *store, uint64_t id, const char *owner,
		  time_t not_before, const char *reason, const char **error_r);
int lmdb_job_get(struct store *store, const char *account,
		 struct store_job *job_r, const char **error_r);
int lmdb_job_cancel(struct store *store, const char *account,
		    const char **error_r);
int lmdb_job_iter(struct store *store,
		  int (*fn)(const struct store_job *job, void *ctx),
		  void *ctx, const char **error_r);
/* store_lmdb_folder.c */
int lmdb_folder_get(struct store *store, const char *account,
		    const char *name, struct store_folder *folder_r,
		    const char **error_r);
int lmdb_folder_put(struct store *store, const struct store_folder *folder,
		    const char **error_r);
int lmdb_folder_iter(struct store *store, const char *account,
		     int (*fn)(const struct store_folder *folder, void *ctx),
		     void *ctx, const char **error_r);
int lmdb_message_copied(struct store *store, const char *account,
			const char *folder, uint32_t uidvalidity,
			uint32_t old_uid, uint32_t new_uid, uint64_t size,
			time_t now, const char **error_r);
int lmdb_msgmap_get(struct store *store, const char *account,
		    const char *folder, uint32_t uidvalidity,
		    uint32_t old_uid, uint32_t *new_uid_r,
		    const char **error_r);
int lmdb_msgmap_list(struct store *store, const char *account,
		     const char *folder, uint32_t uidvalidity,
		     struct store_msgmap_entry **entries_r, size_t *count_r,
		     const char **error_r);
int lmdb_msgmap_set_flags_many(struct store *store, const char *account,
			       const char *folder, uint32_t uidvalidity,
			       const struct store_msgmap_entry *entries,
			       size_t count, const char **error_r);
int lmdb_msgmap_forget(struct store *store, const char *account,
		       const char *folder, uint32_t uidvalidity,
		       uint32_t old_uid, const char **error_r);
int lmdb_msgmap_get_flags(struct store *store, const char *account,
			  const char *folder, uint32_t uidvalidity,
			  uint32_t old_uid, uint32_t *new_uid_r,
			  uint32_t *flags_hash_r, const char **error_r);
int lmdb_msgmap_set_flags(struct store *store, const char *account,
			  const char *folder, uint32_t uidvalidity,
			  uint32_t old_uid, uint32_t flags_hash,
			  const char **error_r);
int lmdb_uidl_add(struct store *store, const char *account,
		  const char *uidl, time_t now, const char **error_r);
int lmdb_uidl_has(struct store *store, const char *account,
		  const char *uidl, const char **error_r);
int lmdb_uidl_forget(struct store *store, const char *account,
		     const char *uidl, const char **error_r);
int lmdb_uidl_count(struct store *store, const char *account,
		    uint64_t *count_r, const char **error_r);
/* store_lmdb_batch.c */
int lmdb_batch_begin(struct store *store, const char *account, unsigned slot,
		     const struct store_batch *batch, const char **error_r);
int lmdb_batch_pending(struct store *store, const char *account, unsigned slot,
		       struct store_batch *batch_r, const char **error_r);
int lmdb_batch_done(struct store *store, const char *account, unsigned slot,
		    const struct store_batch *batch, const uint32_t *new_uids,
		    const struct store_batch *next, time_t now, const char **error_r);
int lmdb_batch_abort(struct store *store, const char *account, unsigned slot,
		     const char **error_r);
/* The pending record's key: the account, then for slot > 0 a NUL and
 * the slot's byte (slot 0 keeps the key stores before slots had). */
size_t store_batch_key(const char *account, unsigned slot,
		       char key[STORE_MAX_ACCOUNT + 2]);
/* store_lmdb_split.c */
int lmdb_split_update(struct store *store, const char *account,
		      int (*fn)(struct store_split *s, int exists, void *ctx),
		      void *ctx, const char **error_r);
int lmdb_failed_add(struct store *store, const struct store_failed *item,
		    const char **error_r);
int lmdb_failed_del(struct store *store, const char *account,
		    const char *folder, uint32_t uidvalidity, uint32_t uid,
		    const char **error_r);
int lmdb_failed_iter(struct store *store, const char *account,
		     int (*fn)(const struct store_failed *item, void *ctx),
		     void *ctx, const char **error_r);
/* store_lmdb_event.c */
int lmdb_stats_get(struct store *store, time_t now,
		   struct store_stats *stats_r, const char **error_r);
int lmdb_event_add(struct store *store, time_t now, enum log_severity sev,
		   const char *account, const char *message,
		   const char **error_r);
int lmdb_event_iter(struct store *store, int errors_only, const char *account,
		    size_t n,
		    int (*fn)(const struct store_event *ev, void *ctx),
		    void *ctx, const char **error_r);
int lmdb_paused(struct store *store, int *paused_r, const char **error_r);
int lmdb_set_paused(struct store *store, int paused, const char **error_r);
int lmdb_meta_add(struct store *store, const char *name, uint64_t delta,
		  const char **error_r);
int lmdb_reset(struct store *store, const char *account, time_t now,
	       const char **error_r);
/* store_lmdb_auth.c */
int lmdb_auth_limit(struct store *store,
		    const struct store_auth_limit *limits, size_t n,
		    unsigned window, time_t now, const char **error_r);
int lmdb_auth_fail_add(struct store *store, const unsigned char *mac,
		       size_t len, time_t now, unsigned ttl,
		       const char **error_r);
int lmdb_auth_fail_has(struct store *store, const unsigned char *mac,
		       size_t len, time_t now, const char **error_r);
int lmdb_account_set_password(struct store *store, const char *name,
			      const char *password_hash, const char *password,
			      time_t now, const char **error_r);
/* store_lmdb_acl.c */
int lmdb_acl_put(struct store *store, const char *account, const struct store_acl *acl,
		 const char **error_r);
int lmdb_acl_del(struct store *store, const char *account, const char *folder,
		 const char *identifier, const char **error_r);
int lmdb_acl_iter(struct store *store, const char *account, const char *folder,
		  int (*fn)(const struct store_acl *acl, void *ctx),
		  void *ctx, const char **error_r);
/* Every account's records in one transaction (dump): fn gets the
 * account too. */
int lmdb_acl_scan_txn(struct store *store, MDB_txn *txn,
		      int (*fn)(const char *account, const struct store_acl *acl,
				void *ctx, const char **error_r),
		      void *ctx, const char **error_r);
int lmdb_acl_count_txn(struct store *store, MDB_txn *txn, uint64_t *folders_r,
		       uint64_t *given_r, uint64_t *not_given_r, const char **error_r);

/* store_lmdb_dav.c */
int lmdb_dav_get(struct store *store, const char *account, const char *collection,
		 const char *item, struct store_dav *dav_r, const char **error_r);
int lmdb_dav_put(struct store *store, const char *account, const char *collection,
		 const char *item, const struct store_dav *dav, const char **error_r);
int lmdb_dav_del(struct store *store, const char *account, const char *collection,
		 const char *item, const char **error_r);
int lmdb_dav_iter(struct store *store, const char *account, const char *collection,
		  int (*fn)(const char *collection_url, const struct store_dav *dav,
			    void *ctx),
		  void *ctx, const char **error_r);
/* Every record of every account, in key order (store_dump). */
int lmdb_dav_scan_txn(struct store *store, MDB_txn *txn,
		      int (*fn)(const char *account, const char *collection_url,
				const struct store_dav *dav, void *ctx,
				const char **error_r),
		      void *ctx, const char **error_r);
int lmdb_dav_count_txn(struct store *store, MDB_txn *txn, uint64_t *collections_r,
		       uint64_t *items_r, const char **error_r);

/* store_lmdb_sieve.c */
int lmdb_sieve_get(struct store *store, const char *account, const char *name,
		   struct store_sieve *sieve_r, const char **error_r);
int lmdb_sieve_put(struct store *store, const char *account, const char *name,
		   const struct store_sieve *sieve, const char **error_r);
int lmdb_sieve_iter(struct store *store, const char *account,
		    int (*fn)(const char *name, const struct store_sieve *sieve,
			      void *ctx),
		    void *ctx, const char **error_r);

/* store_lmdb_tls.c */
int lmdb_tls_seen_get(struct store *store, const char *domain,
		      const char *proto, int64_t *since_r,
		      const char **error_r);
int lmdb_tls_seen_add(struct store *store, const char *domain,
		      const char *proto, time_t now, const char **error_r);
int lmdb_tls_seen_forget(struct store *store, const char *domain,
			 const char *proto, const char **error_r);
int lmdb_progress_put(struct store *store, const struct store_progress *p,
		      const char **error_r);
int lmdb_progress_del(struct store *store, const char *account,
		      const char **error_r);
int lmdb_progress_iter(struct store *store,
		       int (*fn)(const struct store_progress *p, void *ctx),
		       void *ctx, const char **error_r);

#endif
