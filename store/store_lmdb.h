/*
 * NAME
 *	store_private 3h
 * SUMMARY
 *	internals shared by the store_*.c files
 * DESCRIPTION
 *	Every public call wraps its work in store_write() or store_read(),
 *	which own the LMDB transaction: begin, run the callback, commit or
 *	abort, and on MDB_MAP_FULL grow the map and run the callback again
 *	in a fresh transaction. A callback therefore must not keep state
 *	across runs except through its ctx, which it resets on entry.
 *
 *	Record encoding (store_codec.c): a version byte, then fields in a
 *	fixed order; integers little-endian fixed width, strings as a u32
 *	length (0xffffffff: NULL) and bytes. Readers check every length
 *	against what is left, so a damaged record is an error, not a crash.
 */
#ifndef MM_STORE_PRIVATE_H
#define MM_STORE_PRIVATE_H

#include <lmdb.h>

#include "store.h"

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
	STORE_DB_COUNT
};

struct store {
	MDB_env *env;
	MDB_dbi dbi[STORE_DB_COUNT];
	char *dir;
	uint64_t max_map_size;
	uint64_t event_log_max;
	int readonly;
	int created;
	/* Databases added after schema 1 that this environment lacks:
	 * created when the store is opened for writing, read as empty
	 * (and looked for again, store_db_present()) when read-only. */
	unsigned char db_missing[STORE_DB_COUNT];
	int have_key;
	struct crypto_key key;
	int last_rc;		/* LMDB status of the last failure */
	/* The last read transaction, reset and kept for store_read() to
	 * renew: a lookup then costs no allocation and keeps its reader
	 * slot (MDB_NOTLS ties slots to transactions). */
	MDB_txn *rtxn;
};

/* A transaction body: >= 0 to commit (returned), -1 to abort. */
typedef int store_txn_fn(struct store *store, MDB_txn *txn, void *ctx,
			 const char **error_r);

int store_write(struct store *store, store_txn_fn *fn, void *ctx,
		const char **error_r);
int store_read(struct store *store, store_txn_fn *fn, void *ctx,
	       const char **error_r);

/* Set *error_r (static buffer) and return -1. */
int store_fail(const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The same for an LMDB status, remembered for the retry logic. */
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
/* The copy rate (store_rate.c): add what a transaction copied; read the
 * messages and bytes of the last window seconds, and the seconds they
 * span (from the first copy in the window's minutes to now; 0: none). */
#define STORE_RATE_MINUTES 16
int store_rate_add_txn(struct store *store, MDB_txn *txn, time_t now,
		       uint64_t messages, uint64_t bytes, const char **error_r);
int store_rate_get_txn(struct store *store, MDB_txn *txn, time_t now,
		       unsigned window, uint64_t *messages_r, uint64_t *bytes_r,
		       unsigned *seconds_r, const char **error_r);

int store_meta_get_u64(struct store *store, MDB_txn *txn, const char *name,
		       uint64_t *value_r, const char **error_r);
int store_meta_put_u64(struct store *store, MDB_txn *txn, const char *name,
		       uint64_t value, const char **error_r);

/* --- codec --------------------------------------------------------------- */

struct rec_writer {
	unsigned char *buf;
	size_t len, size;
};

struct rec_reader {
	const unsigned char *p;
	size_t left;
	int bad;		/* set on the first overrun; sticky */
};

void rec_init(struct rec_writer *w, unsigned char version);
void rec_free(struct rec_writer *w);
void rec_put_u32(struct rec_writer *w, uint32_t v);
void rec_put_u64(struct rec_writer *w, uint64_t v);
void rec_put_str(struct rec_writer *w, const char *s);
void rec_put_bytes(struct rec_writer *w, const void *p, size_t len);

/* Start reading; returns the version byte (0 and bad on empty input). */
unsigned char rec_begin(struct rec_reader *r, const void *p, size_t len);
uint32_t rec_get_u32(struct rec_reader *r);
uint64_t rec_get_u64(struct rec_reader *r);
/* A fresh NUL-terminated copy, or NULL (encoded NULL, or bad). */
char *rec_get_str(struct rec_reader *r);
/* Is the whole record consumed without error? */
int rec_end_ok(const struct rec_reader *r);

void store_be32(unsigned char *p, uint32_t v);
void store_be64(unsigned char *p, uint64_t v);
uint32_t store_get_be32(const unsigned char *p);
uint64_t store_get_be64(const unsigned char *p);

/* Account records (store_account.c), for the other store files. */
int store_account_decode(const MDB_val *val, const char *name,
			 struct store_account *acct_r, const char **error_r);
void store_account_encode(const struct store_account *acct,
			  struct rec_writer *w);
int store_account_load(struct store *store, MDB_txn *txn, const char *name,
		       struct store_account *acct_r, const char **error_r);
int store_account_save(struct store *store, MDB_txn *txn,
		       const struct store_account *acct, const char **error_r);

/* Jobs (store_job.c), for account creation and reset. */
int store_job_enqueue_txn(struct store *store, MDB_txn *txn,
			  const char *account, enum store_job_kind kind,
			  time_t now, uint64_t *id_r, const char **error_r);
int store_job_cancel_txn(struct store *store, MDB_txn *txn,
			 const char *account, const char **error_r);

/* Creds (store_cred.c), for account creation. */
int store_cred_set_txn(struct store *store, MDB_txn *txn, const char *account,
		       const char *password, const char **error_r);

/* The folder key "account\0" + SHA-256(name) (store_folder.c). */
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

/* Alias index (store_alias.c): after an account's aliases changed from
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

/* Alias proposals (store_proposal.c): name became an account: drop an
 * alias and the proposals of that name, with events. */
int store_proposal_forget_txn(struct store *store, MDB_txn *txn,
			      const char *name, time_t now, const char **error_r);
/* A store that lacked the proposals database: one warning event naming
 * how many aliases it holds from before (origin unknown). */
int store_proposal_upgrade_txn(struct store *store, MDB_txn *txn, time_t now,
			       const char **error_r);

/* An event inside txn (store_event.c). */
int store_event_add_txn(struct store *store, MDB_txn *txn, time_t now,
			enum log_severity sev, const char *account,
			const char *message, const char **error_r);

/* Per-account progress (store_folder.c), for reset. */
int store_folder_forget_txn(struct store *store, MDB_txn *txn,
			    const char *account, const char **error_r);

#endif
