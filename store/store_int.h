/*
 * NAME
 *	store_int 3h
 * SUMMARY
 *	the store's backend interface
 * DESCRIPTION
 *	store.h is one interface over two backends: LMDB (store_lmdb*.c,
 *	one host, the default) and PostgreSQL (store_pgsql*.c, a store
 *	shared by many hosts). store_open() picks one by the store spec;
 *	every other public call goes through the vtable below, whose
 *	members have the signatures and the contracts of the store_*
 *	calls of the same name in store.h. A backend embeds struct store
 *	as its first member and casts back.
 */
#ifndef MM_STORE_INT_H
#define MM_STORE_INT_H

#include "store.h"

/* The meta values a dump carries, in its order: the flags and the
 * counters kept with the store (store_common.c). */
#define STORE_META_NAMES 7
extern const char *const store_meta_names[STORE_META_NAMES];
/* The meta name of a first-login outcome's counter. */
const char *store_first_login_meta(enum store_first_login outcome);

struct store_vfuncs {
	void (*close)(struct store *store);
	int (*account_create)(struct store *store,
		const struct store_account *acct, const char *password,
		time_t now, const char **error_r);
	int (*account_get)(struct store *store, const char *name,
		struct store_account *acct_r, const char **error_r);
	int (*account_put)(struct store *store,
		const struct store_account *acct, const char **error_r);
	int (*account_update)(struct store *store, const char *name,
		int (*fn)(struct store_account *acct, void *ctx), void *ctx,
		const char **error_r);
	int (*account_requeue)(struct store *store, const char *name,
		const char *password_hash, const char *password, time_t now,
		const char **error_r);
	int (*account_set_state)(struct store *store, const char *name,
		enum store_state state, time_t now, const char **error_r);
	int (*account_add_alias)(struct store *store, const char *name,
		const char *alias, const char **error_r);
	int (*alias_lookup)(struct store *store, const char *alias,
		char *account_r, size_t size, const char **error_r);
	/* NULL: store_address_resolve() asks account_get and
	 * alias_lookup (store.c) */
	int (*address_resolve)(struct store *store, const char *addr,
		struct store_address *addr_r, const char **error_r);
	int (*alias_iter)(struct store *store, int (*fn)(const char *alias,
		const char *account, int origin, void *ctx), void *ctx,
		const char **error_r);
	int (*proposal_add)(struct store *store, const char *account,
		const char *alias, unsigned sources, uint64_t count,
		time_t now, const char **error_r);
	int (*proposal_trust)(struct store *store, const char *account,
		const char *alias, unsigned sources, uint64_t count,
		time_t now, const char **error_r);
	int (*proposal_approve)(struct store *store, const char *alias,
		const char *account, time_t now, char *account_r, size_t size,
		const char **error_r);
	int (*proposal_reject)(struct store *store, const char *alias,
		const char *account, time_t now, const char **error_r);
	int (*proposal_iter)(struct store *store,
		int (*fn)(const struct store_proposal *p, void *ctx),
		void *ctx, const char **error_r);
	int (*account_add_late_mail)(struct store *store, char *const *names,
		size_t count, const char **error_r);
	int (*account_iter)(struct store *store,
		int (*fn)(const struct store_account *acct, void *ctx),
		void *ctx, const char **error_r);
	int (*cred_set)(struct store *store, const char *account,
		const char *password, const char **error_r);
	int (*cred_get)(struct store *store, const char *account,
		char **password_r, const char **error_r);
	int (*cred_has)(struct store *store, const char *account,
		const char **error_r);
	int (*cred_wipe)(struct store *store, const char *account,
		const char **error_r);
	int (*job_enqueue)(struct store *store, const char *account,
		enum store_job_kind kind, time_t now, uint64_t *id_r,
		const char **error_r);
	int (*job_take)(struct store *store, const char *owner,
		unsigned lease_seconds, time_t now, struct store_job *job_r,
		const char **error_r);
	int (*job_renew)(struct store *store, uint64_t id, const char *owner,
		unsigned lease_seconds, time_t now, const char **error_r);
	int (*job_done)(struct store *store, uint64_t id, const char *owner,
		const char **error_r);
	int (*job_retry)(struct store *store, uint64_t id, const char *owner,
		time_t not_before, const char *reason, const char **error_r);
	int (*job_died)(struct store *store, uint64_t id, const char *owner,
		time_t not_before, const char *reason, const char **error_r);
	int (*job_get)(struct store *store, const char *account,
		struct store_job *job_r, const char **error_r);
	int (*job_cancel)(struct store *store, const char *account,
		const char **error_r);
	int (*job_iter)(struct store *store,
		int (*fn)(const struct store_job *job, void *ctx), void *ctx,
		const char **error_r);
	int (*folder_get)(struct store *store, const char *account,
		const char *name, struct store_folder *folder_r,
		const char **error_r);
	int (*folder_put)(struct store *store,
		const struct store_folder *folder, const char **error_r);
	int (*folder_iter)(struct store *store, const char *account,
		int (*fn)(const struct store_folder *folder, void *ctx),
		void *ctx, const char **error_r);
	int (*message_copied)(struct store *store, const char *account,
		const char *folder, uint32_t uidvalidity, uint32_t old_uid,
		uint32_t new_uid, uint64_t size, time_t now,
		const char **error_r);
	int (*msgmap_get)(struct store *store, const char *account,
		const char *folder, uint32_t uidvalidity, uint32_t old_uid,
		uint32_t *new_uid_r, const char **error_r);
	int (*msgmap_list)(struct store *store, const char *account,
		const char *folder, uint32_t uidvalidity,
		struct store_msgmap_entry **entries_r, size_t *count_r,
		const char **error_r);
	int (*msgmap_forget)(struct store *store, const char *account,
		const char *folder, uint32_t uidvalidity, uint32_t old_uid,
		const char **error_r);
	int (*batch_begin)(struct store *store, const char *account,
		unsigned slot, const struct store_batch *batch,
		const char **error_r);
	int (*batch_pending)(struct store *store, const char *account,
		unsigned slot, struct store_batch *batch_r,
		const char **error_r);
	int (*batch_done)(struct store *store, const char *account,
		unsigned slot, const struct store_batch *batch,
		const uint32_t *new_uids, const struct store_batch *next,
		time_t now, const char **error_r);
	int (*batch_abort)(struct store *store, const char *account,
		unsigned slot, const char **error_r);
	/* The split hand-out (store_split.c holds the logic): in one
	 * transaction, account's record (account NULL: each record in
	 * account order, until fn returns other than STORE_NOTFOUND;
	 * records locked by others skipped) is decoded and given to fn;
	 * a missing one (account not NULL) as all zero with ->account set
	 * and *exists 0. fn returns 0 to write *s back, STORE_SPLIT_DELETE
	 * to delete it, anything else to write nothing (returned). */
	int (*split_update)(struct store *store, const char *account,
		int (*fn)(struct store_split *s, int exists, void *ctx),
		void *ctx, const char **error_r);
	int (*failed_add)(struct store *store, const struct store_failed *item,
		const char **error_r);
	int (*failed_del)(struct store *store, const char *account,
		const char *folder, uint32_t uidvalidity, uint32_t uid,
		const char **error_r);
	int (*failed_iter)(struct store *store, const char *account,
		int (*fn)(const struct store_failed *item, void *ctx),
		void *ctx, const char **error_r);
	int (*msgmap_get_flags)(struct store *store, const char *account,
		const char *folder, uint32_t uidvalidity, uint32_t old_uid,
		uint32_t *new_uid_r, uint32_t *flags_hash_r,
		const char **error_r);
	int (*msgmap_set_flags)(struct store *store, const char *account,
		const char *folder, uint32_t uidvalidity, uint32_t old_uid,
		uint32_t flags_hash, const char **error_r);
	int (*msgmap_set_flags_many)(struct store *store, const char *account,
		const char *folder, uint32_t uidvalidity,
		const struct store_msgmap_entry *entries, size_t count,
		const char **error_r);
	int (*uidl_add)(struct store *store, const char *account,
		const char *uidl, time_t now, const char **error_r);
	int (*uidl_has)(struct store *store, const char *account,
		const char *uidl, const char **error_r);
	int (*uidl_forget)(struct store *store, const char *account,
		const char *uidl, const char **error_r);
	int (*uidl_count)(struct store *store, const char *account,
		uint64_t *count_r, const char **error_r);
	int (*stats_get)(struct store *store, time_t now,
		struct store_stats *stats_r, const char **error_r);
	int (*event_add)(struct store *store, time_t now,
		enum log_severity sev, const char *account,
		const char *message, const char **error_r);
	int (*event_iter)(struct store *store, int errors_only,
		const char *account, size_t n,
		int (*fn)(const struct store_event *ev, void *ctx), void *ctx,
		const char **error_r);
	int (*auth_limit)(struct store *store,
		const struct store_auth_limit *limits, size_t n,
		unsigned window, time_t now, const char **error_r);
	int (*auth_fail_add)(struct store *store, const unsigned char *mac,
		size_t len, time_t now, unsigned ttl, const char **error_r);
	int (*auth_fail_has)(struct store *store, const unsigned char *mac,
		size_t len, time_t now, const char **error_r);
	int (*account_set_password)(struct store *store, const char *name,
		const char *password_hash, const char *password, time_t now,
		const char **error_r);
	int (*tls_seen_get)(struct store *store, const char *domain,
		const char *proto, int64_t *since_r, const char **error_r);
	int (*tls_seen_add)(struct store *store, const char *domain,
		const char *proto, time_t now, const char **error_r);
	int (*tls_seen_forget)(struct store *store, const char *domain,
		const char *proto, const char **error_r);
	int (*sieve_get)(struct store *store, const char *account,
		const char *name, struct store_sieve *sieve_r,
		const char **error_r);
	int (*sieve_put)(struct store *store, const char *account,
		const char *name, const struct store_sieve *sieve,
		const char **error_r);
	int (*sieve_iter)(struct store *store, const char *account,
		int (*fn)(const char *name, const struct store_sieve *sieve,
			  void *ctx),
		void *ctx, const char **error_r);
	int (*dav_get)(struct store *store, const char *account, const char *collection,
		const char *item, struct store_dav *dav_r, const char **error_r);
	int (*dav_put)(struct store *store, const char *account, const char *collection,
		const char *item, const struct store_dav *dav, const char **error_r);
	int (*dav_del)(struct store *store, const char *account, const char *collection,
		const char *item, const char **error_r);
	int (*dav_iter)(struct store *store, const char *account, const char *collection,
		int (*fn)(const char *collection_url, const struct store_dav *dav,
			  void *ctx),
		void *ctx, const char **error_r);
	int (*acl_put)(struct store *store, const char *account,
		const struct store_acl *acl, const char **error_r);
	int (*acl_del)(struct store *store, const char *account, const char *folder,
		const char *identifier, const char **error_r);
	int (*acl_iter)(struct store *store, const char *account, const char *folder,
		int (*fn)(const struct store_acl *acl, void *ctx),
		void *ctx, const char **error_r);
	int (*progress_put)(struct store *store,
		const struct store_progress *p, const char **error_r);
	int (*progress_del)(struct store *store, const char *account,
		const char **error_r);
	int (*progress_iter)(struct store *store,
		int (*fn)(const struct store_progress *p, void *ctx),
		void *ctx, const char **error_r);
	int (*paused)(struct store *store, int *paused_r, const char **error_r);
	int (*set_paused)(struct store *store, int paused,
		const char **error_r);
	/* Add delta to meta counter name (made at delta when missing). */
	int (*meta_add)(struct store *store, const char *name, uint64_t delta,
		const char **error_r);
	int (*reset)(struct store *store, const char *account, time_t now,
		const char **error_r);
	int (*dump)(struct store *store, store_dump_fn *fn, void *ctx,
		const char **error_r);
	/* A number that changes with every committed write, from any
	 * process (LMDB: the last transaction id); NULL: cannot tell. */
	int (*generation)(struct store *store, uint64_t *generation_r,
		const char **error_r);
	/* Loading an empty store (NULL: this backend cannot be a copy's
	 * target). load_begin opens the transaction (making the tables
	 * if needed, locking them, refusing with STORE_EXISTS a store
	 * that holds anything); load adds one record; dump inside it
	 * reads what was loaded; load_end commits (commit non-zero) or
	 * rolls back, and ends the load either way. */
	int (*load_begin)(struct store *store, const char **error_r);
	int (*load)(struct store *store, const struct store_dump_rec *rec,
		const char **error_r);
	int (*load_end)(struct store *store, int commit, const char **error_r);
};

#define STORE_SPLIT_DELETE 100
/* The split record's encoding, shared by both backends: account not
 * included (it is the key). */
struct rec_writer;
void store_split_encode(const struct store_split *s, struct rec_writer *w);
/* 0, or -1 for a damaged record (s cleared). account is copied in. */
int store_split_decode(const char *account, const void *data, size_t len,
		       struct store_split *s, const char **error_r);

/* What every backend shares. */
struct store {
	const struct store_vfuncs *v;
	uint64_t event_log_max;	/* events kept */
	int readonly;
	int created;		/* store_open() made a new store */
	int have_key;
	struct crypto_key key;
};

/* The backends' open calls: the spec without its "lmdb:" or
 * "postgresql:" prefix (a "postgresql://" URI whole, as libpq reads
 * it), the options as store_open() has them. */
int store_lmdb_open(const char *dir, const struct store_options *opts,
		    struct store **store_r, const char **error_r);
int store_pgsql_open(const char *conninfo, const struct store_options *opts,
		     struct store **store_r, const char **error_r);

/* Set *error_r (error_failf(): kept as error(3h) says) and return -1. */
int store_fail(const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
