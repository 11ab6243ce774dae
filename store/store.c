/*
 * NAME
 *	store 3
 * SUMMARY
 *	the store's front: pick a backend by the store spec, dispatch
 *	every call to it
 * DESCRIPTION
 *	store_open() reads the spec: "lmdb:DIR", or a bare path, is LMDB
 *	in DIR (store_lmdb.c); "postgresql:CONNINFO" is PostgreSQL
 *	(store_pgsql.c). A
 *	spec that starts with some other "word:" is refused, so a typo
 *	in the type is not taken for a directory.
 *
 *	Every other call with a struct store goes through the backend's
 *	vtable (store_int.h) and has the contract store.h gives it; what
 *	all backends share (the key, the created flag, the error buffer)
 *	is kept here.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "mm_alloc.h"
#include "store_int.h"

#define STORE_SPEC_LMDB "lmdb:"
#define STORE_SPEC_PGSQL "postgresql:"

int store_fail(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	*error_r = error_vsetf(fmt, ap);
	va_end(ap);
	return -1;
}

/* The length of spec's "word:" type prefix, colon included, or 0 when
 * it has none (a bare path). A word is a letter, then letters, digits,
 * '+', '-' or '.', as a URI scheme is. */
static size_t store_spec_prefix(const char *spec)
{
	size_t i = 0;

	if (!((spec[0] >= 'a' && spec[0] <= 'z') ||
	      (spec[0] >= 'A' && spec[0] <= 'Z')))
		return 0;
	while ((spec[i] >= 'a' && spec[i] <= 'z') ||
	       (spec[i] >= 'A' && spec[i] <= 'Z') ||
	       (spec[i] >= '0' && spec[i] <= '9') ||
	       spec[i] == '+' || spec[i] == '-' || spec[i] == '.')
		i++;
	return spec[i] == ':' ? i + 1 : 0;
}

int store_open(const char *spec, const struct store_options *opts,
	       struct store **store_r, const char **error_r)
{
	size_t prefix = store_spec_prefix(spec);

	if (prefix == 0)
		return store_lmdb_open(spec, opts, store_r, error_r);
	if (prefix == strlen(STORE_SPEC_LMDB) &&
	    strncmp(spec, STORE_SPEC_LMDB, prefix) == 0)
		return store_lmdb_open(spec + prefix, opts, store_r, error_r);
	if (prefix == strlen(STORE_SPEC_PGSQL) &&
	    strncmp(spec, STORE_SPEC_PGSQL, prefix) == 0) {
		/* "postgresql://..." is a libpq URI as it stands. */
		if (strncmp(spec + prefix, "//", 2) == 0)
			return store_pgsql_open(spec, opts, store_r, error_r);
		return store_pgsql_open(spec + prefix, opts, store_r, error_r);
	}
	return store_fail(error_r, "store: unknown store type '%.*s' "
			  "(lmdb: or postgresql:)", (int)prefix - 1, spec);
}

void store_close(struct store **storep)
{
	struct store *store = *storep;

	if (store == NULL)
		return;
	store->v->close(store);
	crypto_key_wipe(&store->key);
	mm_free(storep);
}

int store_was_created(const struct store *store)
{
	return store->created;
}

void store_set_key(struct store *store, const struct crypto_key *key)
{
	store->key = *key;
	store->have_key = 1;
}

/* --- the calls, each to the backend's vtable ----------------------------- */

int store_account_create(struct store *store, const struct store_account *acct,
			 const char *password, time_t now, const char **error_r)
{
	return store->v->account_create(store, acct, password, now, error_r);
}

int store_account_get(struct store *store, const char *name,
		      struct store_account *acct_r, const char **error_r)
{
	return store->v->account_get(store, name, acct_r, error_r);
}

int store_account_put(struct store *store, const struct store_account *acct,
		      const char **error_r)
{
	return store->v->account_put(store, acct, error_r);
}

int store_account_update(struct store *store, const char *name,
			 int (*fn)(struct store_account *acct, void *ctx),
			 void *ctx, const char **error_r)
{
	return store->v->account_update(store, name, fn, ctx, error_r);
}

int store_account_requeue(struct store *store, const char *name,
			  const char *password_hash, const char *password,
			  time_t now, const char **error_r)
{
	return store->v->account_requeue(store, name, password_hash, password,
					 now, error_r);
}

int store_account_set_state(struct store *store, const char *name,
			    enum store_state state, time_t now,
			    const char **error_r)
{
	return store->v->account_set_state(store, name, state, now, error_r);
}

int store_account_add_alias(struct store *store, const char *name,
			    const char *alias, const char **error_r)
{
	return store->v->account_add_alias(store, name, alias, error_r);
}

int store_alias_lookup(struct store *store, const char *alias,
		       char *account_r, size_t size, const char **error_r)
{
	return store->v->alias_lookup(store, alias, account_r, size, error_r);
}

/* The backend-neutral resolution: an account, else an alias and its
 * owner's state. Each read is its own transaction: an owner that goes
 * between the two reads is an alias without an owner, as it would be a
 * moment later anyway. */
static int address_resolve_reads(struct store *store, const char *addr,
				 struct store_address *r, const char **error_r)
{
	struct store_account acct;
	int ret;

	ret = store_account_get(store, addr, &acct, error_r);
	if (ret == 0) {
		r->kind = STORE_ADDR_ACCOUNT;
		snprintf(r->owner, sizeof(r->owner), "%s", acct.name);
		r->owner_exists = 1;
		r->state = acct.state;
		store_account_clear(&acct);
		return 0;
	}
	if (ret != STORE_NOTFOUND)
		return -1;
	ret = store_alias_lookup(store, addr, r->owner, sizeof(r->owner),
				 error_r);
	if (ret == STORE_NOTFOUND) {
		r->owner[0] = '\0';
		return 0;
	}
	if (ret != 0)
		return -1;
	r->kind = STORE_ADDR_ALIAS;
	ret = store_account_get(store, r->owner, &acct, error_r);
	if (ret == 0) {
		r->owner_exists = 1;
		r->state = acct.state;
		store_account_clear(&acct);
		return 0;
	}
	return ret == STORE_NOTFOUND ? 0 : -1;
}

int store_address_resolve(struct store *store, const char *addr,
			  struct store_address *addr_r, const char **error_r)
{
	char lower[STORE_MAX_ACCOUNT];
	size_t len = strlen(addr);

	memset(addr_r, 0, sizeof(*addr_r));
	addr_r->kind = STORE_ADDR_NONE;
	if (len == 0 || len >= sizeof(lower))
		return 0;
	for (size_t i = 0; i <= len; i++)
		lower[i] = (char)tolower((unsigned char)addr[i]);
	if (store->v->address_resolve != NULL)
		return store->v->address_resolve(store, lower, addr_r, error_r);
	return address_resolve_reads(store, lower, addr_r, error_r);
}

int store_alias_iter(struct store *store,
		     int (*fn)(const char *alias, const char *account,
			       int origin, void *ctx),
		     void *ctx, const char **error_r)
{
	return store->v->alias_iter(store, fn, ctx, error_r);
}

int store_proposal_add(struct store *store, const char *account,
		       const char *alias, unsigned sources, uint64_t count,
		       time_t now, const char **error_r)
{
	return store->v->proposal_add(store, account, alias, sources, count,
				      now, error_r);
}

int store_proposal_trust(struct store *store, const char *account,
			 const char *alias, unsigned sources, uint64_t count,
			 time_t now, const char **error_r)
{
	return store->v->proposal_trust(store, account, alias, sources, count,
					now, error_r);
}

int store_proposal_approve(struct store *store, const char *alias,
			   const char *account, time_t now, char *account_r,
			   size_t size, const char **error_r)
{
	return store->v->proposal_approve(store, alias, account, now, account_r,
					  size, error_r);
}

int store_proposal_reject(struct store *store, const char *alias,
			  const char *account, time_t now, const char **error_r)
{
	return store->v->proposal_reject(store, alias, account, now, error_r);
}

int store_proposal_iter(struct store *store,
			int (*fn)(const struct store_proposal *p, void *ctx),
			void *ctx, const char **error_r)
{
	return store->v->proposal_iter(store, fn, ctx, error_r);
}

int store_account_add_late_mail(struct store *store, char *const *names,
				size_t count, const char **error_r)
{
	return store->v->account_add_late_mail(store, names, count, error_r);
}

int store_account_iter(struct store *store,
		       int (*fn)(const struct store_account *acct, void *ctx),
		       void *ctx, const char **error_r)
{
	return store->v->account_iter(store, fn, ctx, error_r);
}

int store_cred_set(struct store *store, const char *account,
		   const char *password, const char **error_r)
{
	return store->v->cred_set(store, account, password, error_r);
}

int store_cred_get(struct store *store, const char *account,
		   char **password_r, const char **error_r)
{
	return store->v->cred_get(store, account, password_r, error_r);
}

int store_cred_has(struct store *store, const char *account,
		   const char **error_r)
{
	return store->v->cred_has(store, account, error_r);
}

int store_cred_wipe(struct store *store, const char *account,
		    const char **error_r)
{
	return store->v->cred_wipe(store, account, error_r);
}

int store_job_enqueue(struct store *store, const char *account,
		      enum store_job_kind kind, time_t now, uint64_t *id_r,
		      const char **error_r)
{
	return store->v->job_enqueue(store, account, kind, now, id_r, error_r);
}

int store_job_take(struct store *store, const char *owner,
		   unsigned lease_seconds, time_t now, struct store_job *job_r,
		   const char **error_r)
{
	return store->v->job_take(store, owner, lease_seconds, now, job_r,
				  error_r);
}

int store_job_renew(struct store *store, uint64_t id, const char *owner,
		    unsigned lease_seconds, time_t now, const char **error_r)
{
	return store->v->job_renew(store, id, owner, lease_seconds, now,
				   error_r);
}

int store_job_done(struct store *store, uint64_t id, const char *owner,
		   const char **error_r)
{
	return store->v->job_done(store, id, owner, error_r);
}

int store_job_retry(struct store *store, uint64_t id, const char *owner,
		    time_t not_before, const char *reason,
		    const char **error_r)
{
	return store->v->job_retry(store, id, owner, not_before, reason,
				   error_r);
}

int store_job_died(struct store *store, uint64_t id, const char *owner,
		   time_t not_before, const char *reason, const char **error_r)
{
	return store->v->job_died(store, id, owner, not_before, reason,
				  error_r);
}

int store_job_get(struct store *store, const char *account,
		  struct store_job *job_r, const char **error_r)
{
	return store->v->job_get(store, account, job_r, error_r);
}

int store_job_cancel(struct store *store, const char *account,
		     const char **error_r)
{
	return store->v->job_cancel(store, account, error_r);
}

int store_job_iter(struct store *store,
		   int (*fn)(const struct store_job *job, void *ctx),
		   void *ctx, const char **error_r)
{
	return store->v->job_iter(store, fn, ctx, error_r);
}

int store_folder_get(struct store *store, const char *account,
		     const char *name, struct store_folder *folder_r,
		     const char **error_r)
{
	return store->v->folder_get(store, account, name, folder_r, error_r);
}

int store_folder_put(struct store *store, const struct store_folder *folder,
		     const char **error_r)
{
	return store->v->folder_put(store, folder, error_r);
}

int store_folder_iter(struct store *store, const char *account,
		      int (*fn)(const struct store_folder *folder, void *ctx),
		      void *ctx, const char **error_r)
{
	return store->v->folder_iter(store, account, fn, ctx, error_r);
}

int store_message_copied(struct store *store, const char *account,
			 const char *folder, uint32_t uidvalidity,
			 uint32_t old_uid, uint32_t new_uid, uint64_t size,
			 time_t now, const char **error_r)
{
	return store->v->message_copied(store, account, folder, uidvalidity,
					old_uid, new_uid, size, now, error_r);
}

int store_msgmap_get(struct store *store, const char *account,
		     const char *folder, uint32_t uidvalidity,
		     uint32_t old_uid, uint32_t *new_uid_r,
		     const char **error_r)
{
	return store->v->msgmap_get(store, account, folder, uidvalidity,
				    old_uid, new_uid_r, error_r);
}

int store_msgmap_list(struct store *store, const char *account,
		      const char *folder, uint32_t uidvalidity,
		      struct store_msgmap_entry **entries_r, size_t *count_r,
		      const char **error_r)
{
	*entries_r = NULL;
	*count_r = 0;
	return store->v->msgmap_list(store, account, folder, uidvalidity,
				     entries_r, count_r, error_r);
}

static int msgmap_entry_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct store_msgmap_entry *)a)->old_uid;
	uint32_t y = ((const struct store_msgmap_entry *)b)->old_uid;

	return x < y ? -1 : x > y;
}

const struct store_msgmap_entry *
store_msgmap_find(const struct store_msgmap_entry *entries, size_t count,
		  uint32_t old_uid)
{
	struct store_msgmap_entry key = { .old_uid = old_uid };

	if (count == 0)
		return NULL;
	return bsearch(&key, entries, count, sizeof(*entries), msgmap_entry_cmp);
}

int store_msgmap_forget(struct store *store, const char *account,
			const char *folder, uint32_t uidvalidity,
			uint32_t old_uid, const char **error_r)
{
	return store->v->msgmap_forget(store, account, folder, uidvalidity,
				       old_uid, error_r);
}

/* A slot out of range is our bug, told as a store error. */
static int batch_slot_ok(unsigned slot, const char **error_r)
{
	if (slot >= STORE_BATCH_SLOTS)
		return store_fail(error_r, "pending batch slot %u (0..%d allowed)",
				  slot, STORE_BATCH_SLOTS - 1);
	return 0;
}

int store_batch_begin(struct store *store, const char *account, unsigned slot,
		      const struct store_batch *batch, const char **error_r)
{
	if (batch_slot_ok(slot, error_r) < 0)
		return -1;
	return store->v->batch_begin(store, account, slot, batch, error_r);
}

int store_batch_pending(struct store *store, const char *account, unsigned slot,
			struct store_batch *batch_r, const char **error_r)
{
	if (batch_slot_ok(slot, error_r) < 0)
		return -1;
	return store->v->batch_pending(store, account, slot, batch_r, error_r);
}

int store_batch_done(struct store *store, const char *account, unsigned slot,
		     const struct store_batch *batch, const uint32_t *new_uids,
		     time_t now, const char **error_r)
{
	if (batch_slot_ok(slot, error_r) < 0)
		return -1;
	return store->v->batch_done(store, account, slot, batch, new_uids, NULL,
				    now, error_r);
}

int store_batch_done_next(struct store *store, const char *account,
			  unsigned slot, const struct store_batch *batch,
			  const uint32_t *new_uids,
			  const struct store_batch *next, time_t now,
			  const char **error_r)
{
	if (batch_slot_ok(slot, error_r) < 0)
		return -1;
	if (next != NULL && (next->count == 0 || next->count > STORE_MAX_BATCH))
		return store_fail(error_r, "batch of %zu messages (1..%d allowed)",
				  next->count, STORE_MAX_BATCH);
	return store->v->batch_done(store, account, slot, batch, new_uids, next,
				    now, error_r);
}

int store_batch_abort(struct store *store, const char *account, unsigned slot,
		      const char **error_r)
{
	if (batch_slot_ok(slot, error_r) < 0)
		return -1;
	return store->v->batch_abort(store, account, slot, error_r);
}

int store_failed_add(struct store *store, const struct store_failed *item,
		     const char **error_r)
{
	return store->v->failed_add(store, item, error_r);
}

int store_failed_del(struct store *store, const char *account,
		     const char *folder, uint32_t uidvalidity, uint32_t uid,
		     const char **error_r)
{
	return store->v->failed_del(store, account, folder, uidvalidity, uid,
				    error_r);
}

int store_failed_iter(struct store *store, const char *account,
		      int (*fn)(const struct store_failed *item, void *ctx),
		      void *ctx, const char **error_r)
{
	return store->v->failed_iter(store, account, fn, ctx, error_r);
}

int store_msgmap_get_flags(struct store *store, const char *account,
			   const char *folder, uint32_t uidvalidity,
			   uint32_t old_uid, uint32_t *new_uid_r,
			   uint32_t *flags_hash_r, const char **error_r)
{
	return store->v->msgmap_get_flags(store, account, folder, uidvalidity,
					  old_uid, new_uid_r, flags_hash_r,
					  error_r);
}

int store_msgmap_set_flags(struct store *store, const char *account,
			   const char *folder, uint32_t uidvalidity,
			   uint32_t old_uid, uint32_t flags_hash,
			   const char **error_r)
{
	return store->v->msgmap_set_flags(store, account, folder, uidvalidity,
					  old_uid, flags_hash, error_r);
}

int store_msgmap_set_flags_many(struct store *store, const char *account,
				const char *folder, uint32_t uidvalidity,
				const struct store_msgmap_entry *entries,
				size_t count, const char **error_r)
{
	if (count == 0)
		return 0;
	return store->v->msgmap_set_flags_many(store, account, folder, uidvalidity,
					       entries, count, error_r);
}

int store_uidl_add(struct store *store, const char *account,
		   const char *uidl, time_t now, const char **error_r)
{
	return store->v->uidl_add(store, account, uidl, now, error_r);
}

int store_uidl_has(struct store *store, const char *account,
		   const char *uidl, const char **error_r)
{
	return store->v->uidl_has(store, account, uidl, error_r);
}

int store_uidl_forget(struct store *store, const char *account,
		      const char *uidl, const char **error_r)
{
	return store->v->uidl_forget(store, account, uidl, error_r);
}

int store_uidl_count(struct store *store, const char *account,
		     uint64_t *count_r, const char **error_r)
{
	return store->v->uidl_count(store, account, count_r, error_r);
}

int store_stats_get(struct store *store, time_t now,
		    struct store_stats *stats_r, const char **error_r)
{
	return store->v->stats_get(store, now, stats_r, error_r);
}

int store_event_add(struct store *store, time_t now, enum log_severity sev,
		    const char *account, const char *message,
		    const char **error_r)
{
	return store->v->event_add(store, now, sev, account, message, error_r);
}

int store_event_iter(struct store *store, int errors_only, const char *account,
		     size_t n,
		     int (*fn)(const struct store_event *ev, void *ctx),
		     void *ctx, const char **error_r)
{
	return store->v->event_iter(store, errors_only, account, n, fn, ctx,
				    error_r);
}

int store_auth_limit(struct store *store,
		     const struct store_auth_limit *limits, size_t n,
		     unsigned window, time_t now, const char **error_r)
{
	return store->v->auth_limit(store, limits, n, window, now, error_r);
}

int store_auth_fail_add(struct store *store, const unsigned char *mac,
			size_t len, time_t now, unsigned ttl,
			const char **error_r)
{
	return store->v->auth_fail_add(store, mac, len, now, ttl, error_r);
}

int store_auth_fail_has(struct store *store, const unsigned char *mac,
			size_t len, time_t now, const char **error_r)
{
	return store->v->auth_fail_has(store, mac, len, now, error_r);
}

int store_account_set_password(struct store *store, const char *name,
			       const char *password_hash, const char *password,
			       time_t now, const char **error_r)
{
	return store->v->account_set_password(store, name, password_hash,
					      password, now, error_r);
}

void store_progress_clear(struct store_progress *p)
{
	mm_free(&p->account);
	mm_free(&p->owner);
	mm_free(&p->folder);
	memset(p, 0, sizeof(*p));
}

int store_progress_put(struct store *store, const struct store_progress *p,
		       const char **error_r)
{
	if (p->account == NULL || p->account[0] == '\0' ||
	    strlen(p->account) >= STORE_MAX_ACCOUNT)
		return store_fail(error_r, "progress of no account");
	return store->v->progress_put(store, p, error_r);
}

int store_progress_del(struct store *store, const char *account,
		       const char **error_r)
{
	return store->v->progress_del(store, account, error_r);
}

int store_progress_iter(struct store *store,
			int (*fn)(const struct store_progress *p, void *ctx),
			void *ctx, const char **error_r)
{
	return store->v->progress_iter(store, fn, ctx, error_r);
}

int store_tls_seen_get(struct store *store, const char *domain,
		       const char *proto, int64_t *since_r,
		       const char **error_r)
{
	return store->v->tls_seen_get(store, domain, proto, since_r, error_r);
}

int store_tls_seen_add(struct store *store, const char *domain,
		       const char *proto, time_t now, const char **error_r)
{
	return store->v->tls_seen_add(store, domain, proto, now, error_r);
}

int store_tls_seen_forget(struct store *store, const char *domain,
			  const char *proto, const char **error_r)
{
	return store->v->tls_seen_forget(store, domain, proto, error_r);
}

/* A Sieve record's account and name, checked before either backend. */
static int store_sieve_check(const char *account, const char *name,
			     const char **error_r)
{
	size_t a = strlen(account), n = strlen(name);

	if (a == 0 || a >= STORE_MAX_ACCOUNT)
		return store_fail(error_r, "bad account name length (%zu)", a);
	if (n == 0 || n > STORE_MAX_SIEVE_NAME)
		return store_fail(error_r, "bad Sieve script name length (%zu)", n);
	return 0;
}

int store_sieve_get(struct store *store, const char *account, const char *name,
		    struct store_sieve *sieve_r, const char **error_r)
{
	if (store_sieve_check(account, name, error_r) < 0)
		return -1;
	return store->v->sieve_get(store, account, name, sieve_r, error_r);
}

int store_sieve_put(struct store *store, const char *account, const char *name,
		    const struct store_sieve *sieve, const char **error_r)
{
	if (store_sieve_check(account, name, error_r) < 0)
		return -1;
	if (store->readonly)
		return store_fail(error_r, "store opened read-only");
	return store->v->sieve_put(store, account, name, sieve, error_r);
}

int store_sieve_iter(struct store *store, const char *account,
		     int (*fn)(const char *name, const struct store_sieve *sieve,
			       void *ctx),
		     void *ctx, const char **error_r)
{
	size_t a = strlen(account);

	if (a == 0 || a >= STORE_MAX_ACCOUNT)
		return store_fail(error_r, "bad account name length (%zu)", a);
	return store->v->sieve_iter(store, account, fn, ctx, error_r);
}

/* A DAV record's keys, checked before either backend. */
static int store_dav_check(const char *account, const char *collection,
			   const char *item, const char **error_r)
{
	size_t a = strlen(account), c = collection != NULL ? strlen(collection) : 1;

	if (a == 0 || a >= STORE_MAX_ACCOUNT)
		return store_fail(error_r, "bad account name length (%zu)", a);
	if (c == 0 || c > STORE_MAX_DAV_URL)
		return store_fail(error_r, "bad DAV collection URL length (%zu)", c);
	if (item != NULL && (*item == '\0' || strlen(item) > STORE_MAX_DAV_URL))
		return store_fail(error_r, "bad DAV item URL length (%zu)", strlen(item));
	return 0;
}

int store_dav_get(struct store *store, const char *account, const char *collection,
		  const char *item, struct store_dav *dav_r, const char **error_r)
{
	if (collection == NULL || store_dav_check(account, collection, item, error_r) < 0)
		return collection == NULL ? store_fail(error_r, "no DAV collection") : -1;
	return store->v->dav_get(store, account, collection, item, dav_r, error_r);
}

int store_dav_put(struct store *store, const char *account, const char *collection,
		  const char *item, const struct store_dav *dav, const char **error_r)
{
	if (collection == NULL || store_dav_check(account, collection, item, error_r) < 0)
		return collection == NULL ? store_fail(error_r, "no DAV collection") : -1;
	if (strnlen(dav->old_url, sizeof(dav->old_url)) == sizeof(dav->old_url) ||
	    strnlen(dav->new_url, sizeof(dav->new_url)) == sizeof(dav->new_url))
		return store_fail(error_r, "DAV record URL not terminated");
	if (strcmp(dav->old_url, item != NULL ? item : collection) != 0)
		return store_fail(error_r, "DAV record's old_url is not its key");
	if (dav->new_url[0] == '\0')
		return store_fail(error_r, "DAV record without NEW's URL");
	if (item != NULL ? dav->kind != STORE_DAV_ITEM :
	    (dav->kind != STORE_DAV_CALENDAR && dav->kind != STORE_DAV_ADDRESSBOOK))
		return store_fail(error_r, "bad DAV record kind %u for %s", dav->kind,
				  item != NULL ? "an item" : "a collection");
	if (store->readonly)
		return store_fail(error_r, "store opened read-only");
	return store->v->dav_put(store, account, collection, item, dav, error_r);
}

int store_dav_del(struct store *store, const char *account, const char *collection,
		  const char *item, const char **error_r)
{
	if (collection == NULL || store_dav_check(account, collection, item, error_r) < 0)
		return collection == NULL ? store_fail(error_r, "no DAV collection") : -1;
	if (store->readonly)
		return store_fail(error_r, "store opened read-only");
	return store->v->dav_del(store, account, collection, item, error_r);
}

int store_dav_iter(struct store *store, const char *account, const char *collection,
		   int (*fn)(const char *collection_url, const struct store_dav *dav,
			     void *ctx),
		   void *ctx, const char **error_r)
{
	if (store_dav_check(account, collection, NULL, error_r) < 0)
		return -1;
	return store->v->dav_iter(store, account, collection, fn, ctx, error_r);
}

/* An ACL record's keys, checked before either backend. */
static int store_acl_check(const char *account, const char *folder,
			   const char *identifier, const char **error_r)
{
	size_t a = strlen(account), f = folder != NULL ? strlen(folder) : 1;

	if (a == 0 || a >= STORE_MAX_ACCOUNT)
		return store_fail(error_r, "bad account name length (%zu)", a);
	if (f == 0 || f > STORE_MAX_FOLDER)
		return store_fail(error_r, "bad ACL folder name length (%zu)", f);
	if (identifier != NULL && (*identifier == '\0' ||
				   strlen(identifier) > STORE_MAX_ACL_ID))
		return store_fail(error_r, "bad ACL identifier length (%zu)",
				  strlen(identifier));
	return 0;
}

int store_acl_put(struct store *store, const char *account,
		  const struct store_acl *acl, const char **error_r)
{
	if (strnlen(acl->folder, sizeof(acl->folder)) == sizeof(acl->folder) ||
	    strnlen(acl->target, sizeof(acl->target)) == sizeof(acl->target) ||
	    strnlen(acl->identifier, sizeof(acl->identifier)) == sizeof(acl->identifier) ||
	    strnlen(acl->given_to, sizeof(acl->given_to)) == sizeof(acl->given_to) ||
	    strnlen(acl->rights, sizeof(acl->rights)) == sizeof(acl->rights))
		return store_fail(error_r, "ACL record string not terminated");
	if (store_acl_check(account, acl->folder, acl->identifier, error_r) < 0)
		return -1;
	if (acl->target[0] == '\0')
		return store_fail(error_r, "ACL record without NEW's folder");
	if (acl->state < STORE_ACL_GIVEN || acl->state > STORE_ACL_STATE_MAX)
		return store_fail(error_r, "bad ACL record state %u", acl->state);
	if ((acl->state == STORE_ACL_GIVEN || acl->state == STORE_ACL_THERE) !=
	    (acl->given_to[0] != '\0'))
		return store_fail(error_r, "ACL record: given_to and state disagree");
	if (store->readonly)
		return store_fail(error_r, "store opened read-only");
	return store->v->acl_put(store, account, acl, error_r);
}

int store_acl_del(struct store *store, const char *account, const char *folder,
		  const char *identifier, const char **error_r)
{
	if (folder == NULL || store_acl_check(account, folder, identifier, error_r) < 0)
		return folder == NULL ? store_fail(error_r, "no ACL folder") : -1;
	if (store->readonly)
		return store_fail(error_r, "store opened read-only");
	return store->v->acl_del(store, account, folder, identifier, error_r);
}

int store_acl_iter(struct store *store, const char *account, const char *folder,
		   int (*fn)(const struct store_acl *acl, void *ctx),
		   void *ctx, const char **error_r)
{
	if (store_acl_check(account, folder, NULL, error_r) < 0)
		return -1;
	return store->v->acl_iter(store, account, folder, fn, ctx, error_r);
}

int store_paused(struct store *store, int *paused_r, const char **error_r)
{
	return store->v->paused(store, paused_r, error_r);
}

int store_set_paused(struct store *store, int paused, const char **error_r)
{
	return store->v->set_paused(store, paused, error_r);
}

int store_first_login_count(struct store *store, enum store_first_login outcome,
			    const char **error_r)
{
	const char *name = store_first_login_meta(outcome);

	if (name == NULL)
		return store_fail(error_r, "first login of no known outcome");
	if (store->readonly)
		return store_fail(error_r, "store opened read-only");
	return store->v->meta_add(store, name, 1, error_r);
}

int store_reset(struct store *store, const char *account, time_t now,
		const char **error_r)
{
	return store->v->reset(store, account, now, error_r);
}

int store_dump(struct store *store, store_dump_fn *fn, void *ctx,
	       const char **error_r)
{
	return store->v->dump(store, fn, ctx, error_r);
}
