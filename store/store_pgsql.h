/*
 * NAME
 *	store_pgsql 3h
 * SUMMARY
 *	internals shared by the store_pgsql*.c files
 * DESCRIPTION
 *	The PostgreSQL backend keeps the store in the schema "mailmigrate"
 *	of the database the conninfo names (tables in store_pgsql_schema.c).
 *	Every public call runs in one transaction through pgsql_write() or
 *	pgsql_read(), which own BEGIN/COMMIT: a body that fails with a
 *	serialization failure or a deadlock is run again from the start
 *	in a fresh transaction (so a body keeps no state across runs
 *	except through its ctx, which it resets on entry), and a
 *	connection found broken before the transaction began is made
 *	again. A connection lost during COMMIT is reported, never
 *	retried: the outcome is unknown and the callers' records (the
 *	pending batch, the job lease) are what make a retry safe.
 *
 *	Statements go through pgsql_exec() with parameters collected in
 *	a struct pgsql_params: text for numbers and names, binary for
 *	bytea (folder names and server texts, which need not be UTF-8).
 *	Results are text; pgsql_get_*() read them with bounds.
 *
 *	Numbers: uint32 UIDs and UIDVALIDITYs and uint64 counters are
 *	bigint (counters stay below 2^63); times are unix seconds.
 */
#ifndef MM_STORE_PGSQL_H
#define MM_STORE_PGSQL_H

#include <libpq-fe.h>

#include "store_int.h"
#include "store_codec.h"

#define PGSQL_SCHEMA_VERSION 7

struct pgsql_store {
	struct store store;
	PGconn *conn;
	char *where;		/* "host:port/dbname", for messages */
	char **keywords;	/* connection parameters, for reconnecting */
	char **values;		/* (the password among them, wiped on close) */
	char last_sqlstate[6];	/* of the last failed statement; "" */
	int in_txn;
	/* statements prepared on this connection (store_pgsql.c) */
	struct pgsql_prepared *prepared;
	size_t prepared_count;
	unsigned prepared_gen;	/* in their names; moves on when forgotten */
	int replan;		/* a statement failed on a stale plan */
	struct pgsql_load *load; /* a copy loading (store_pgsql_dump.c) */
};

#define PGSQL_MAX_PREPARED 256

struct pgsql_prepared {
	uint64_t hash;		/* of sql */
	char *sql;
};

static inline struct pgsql_store *PGSQL(struct store *store)
{
	return (struct pgsql_store *)store;
}

/* --- transactions ---------------------------------------------------------- */

/* A transaction body: -1 to roll back; anything else (0,
 * STORE_NOTFOUND, ...) commits and is returned. A body that must not
 * write on a non-zero result finds out before it writes. */
typedef int pgsql_txn_fn(struct pgsql_store *pg, void *ctx,
			 const char **error_r);

/* Run fn in a read-write transaction (READ COMMITTED: bodies lock the
 * rows they change with SELECT ... FOR UPDATE or change them in one
 * statement). */
int pgsql_write(struct store *store, pgsql_txn_fn *fn, void *ctx,
		const char **error_r);
/* Run fn in a read-only transaction that sees one snapshot
 * (REPEATABLE READ READ ONLY): iterations and multi-query reads. */
int pgsql_read(struct store *store, pgsql_txn_fn *fn, void *ctx,
	       const char **error_r);
/* Run fn, a body of one statement, with no BEGIN/COMMIT around it
 * (the statement is its own transaction): one round trip, for the
 * lookups of the relay and the auth-hook and for single writes. */
int pgsql_single(struct store *store, pgsql_txn_fn *fn, void *ctx,
		 const char **error_r);
/* The same for a write: refused on a read-only handle, as
 * pgsql_write() refuses it; and never sent twice: a connection that
 * the server closed while idle is found before the statement goes out
 * and made again, but one that breaks under the statement is a
 * failure (the statement may have run; the caller retries later, as
 * for any store failure). */
int pgsql_single_write(struct store *store, pgsql_txn_fn *fn, void *ctx,
		       const char **error_r);

/* --- statements ------------------------------------------------------------- */

#define PGSQL_MAX_PARAMS 24

struct pgsql_params {
	int n;
	const char *values[PGSQL_MAX_PARAMS];
	int lengths[PGSQL_MAX_PARAMS];
	int formats[PGSQL_MAX_PARAMS];	/* 0 text, 1 binary */
	char num[PGSQL_MAX_PARAMS][24];	/* the text of number parameters */
};

void pgsql_params_init(struct pgsql_params *p);
/* Text parameter; NULL is SQL NULL. The string must outlive the
 * statement. */
void pgsql_param_str(struct pgsql_params *p, const char *s);
void pgsql_param_u64(struct pgsql_params *p, uint64_t v);
void pgsql_param_i64(struct pgsql_params *p, int64_t v);
/* bytea; data NULL is SQL NULL. */
void pgsql_param_bytes(struct pgsql_params *p, const void *data, size_t len);
/* A string as bytea (its bytes, no NUL); NULL is SQL NULL. */
void pgsql_param_bstr(struct pgsql_params *p, const char *s);

/* Run sql with params (NULL: none) inside the current transaction.
 * @return the result (PQclear() it) with status COMMAND_OK or
 *	TUPLES_OK, or NULL with *error_r naming what and the server's
 *	message, and pg->last_sqlstate set */
PGresult *pgsql_exec(struct pgsql_store *pg, const char *what,
		     const char *sql, const struct pgsql_params *params,
		     const char **error_r);
/* The same for a statement whose rows are not wanted: 0 or -1. With
 * rows_r (may be NULL) the number of rows it changed. */
int pgsql_run(struct pgsql_store *pg, const char *what, const char *sql,
	      const struct pgsql_params *params, uint64_t *rows_r,
	      const char **error_r);

/* Field readers (text results). A NULL field reads as 0 / NULL. A
 * field that does not parse sets *bad (sticky, never cleared). */
uint64_t pgsql_get_u64(PGresult *res, int row, int col, int *bad);
int64_t pgsql_get_i64(PGresult *res, int row, int col, int *bad);
uint32_t pgsql_get_u32(PGresult *res, int row, int col, int *bad);
/* A fresh NUL-terminated copy of a text field (mm_free() it), or NULL
 * for SQL NULL. */
char *pgsql_get_str(PGresult *res, int row, int col);
/* A bytea field as a fresh NUL-terminated string (a NUL inside, or
 * more than max bytes, sets *bad), or NULL for SQL NULL. */
char *pgsql_get_bstr(PGresult *res, int row, int col, size_t max, int *bad);
/* A bytea field as fresh bytes in *data_r / *len_r (mm_free() it);
 * SQL NULL gives NULL and 0. */
int pgsql_get_bytes(PGresult *res, int row, int col, unsigned char **data_r,
		    size_t *len_r);

/* Set *error_r for a damaged row (a field that did not parse). */
int pgsql_damaged(struct pgsql_store *pg, const char *what,
		  const char **error_r);

/* --- shared bodies (used across the store_pgsql files) ---------------------- */

/* meta counters: read (0 when missing) and write. */
int pgsql_meta_get(struct pgsql_store *pg, const char *name, uint64_t *value_r,
		   const char **error_r);
int pgsql_meta_put(struct pgsql_store *pg, const char *name, uint64_t value,
		   const char **error_r);

/* Accounts (store_pgsql_account.c): the row of name, locked FOR
 * UPDATE when lock; 0, STORE_NOTFOUND, or -1. */
int pgsql_account_load(struct pgsql_store *pg, const char *name, int lock,
		       struct store_account *acct_r, const char **error_r);
/* Write every field of acct over its existing row: 0, STORE_NOTFOUND,
 * or -1. */
int pgsql_account_save(struct pgsql_store *pg, const struct store_account *acct,
		       const char **error_r);

/* Jobs (store_pgsql_job.c): as store_job_enqueue, inside a body. */
int pgsql_job_enqueue_txn(struct pgsql_store *pg, const char *account,
			  enum store_job_kind kind, time_t now, uint64_t *id_r,
			  const char **error_r);
int pgsql_job_cancel_txn(struct pgsql_store *pg, const char *account,
			 const char **error_r);

/* Creds (store_pgsql_cred.c): seal and store inside a body. */
int pgsql_cred_set_txn(struct pgsql_store *pg, const char *account,
		       const char *password, const char **error_r);

/* Events (store_pgsql_event.c): one event inside a body; severity
 * error and worse also counts in meta "errors"; the oldest beyond
 * event_log_max are dropped. */
int pgsql_event_add_txn(struct pgsql_store *pg, time_t now,
			enum log_severity sev, const char *account,
			const char *message, const char **error_r);

/* Aliases (store_pgsql_alias.c): as store_alias_reindex_txn and
 * store_alias_attach_txn / _detach_txn of the LMDB backend. attach:
 * 0 (given, or the account had it), STORE_NOTFOUND (no account),
 * STORE_EXISTS (taken), -1; nothing written but on 0. */
int pgsql_alias_reindex_txn(struct pgsql_store *pg, const char *account,
			    char *const *old, size_t old_count,
			    char *const *new, size_t new_count,
			    const char **error_r);
int pgsql_alias_attach_txn(struct pgsql_store *pg, const char *account,
			   const char *alias, const char **error_r);
int pgsql_alias_detach_txn(struct pgsql_store *pg, const char *alias,
			   char *owner, size_t size, const char **error_r);
/* Names (accounts, aliases) joined by newlines (they hold none); the
 * caller mm_free()s it. */
char *pgsql_names_join(char *const *names, size_t count);
/* Take the transaction's advisory lock on each of names (joined by
 * newlines), in one order: whoever asks whether a name is an account
 * or an alias, and then makes it one, holds it (store_pgsql_alias.c). */
#define PGSQL_NAME_LOCK "7237"	/* the first key of the two-key form */
int pgsql_name_lock(struct pgsql_store *pg, const char *names,
		    const char **error_r);
/* Proposals (store_pgsql_proposal.c): name became an account. */
int pgsql_proposal_forget_txn(struct pgsql_store *pg, const char *name,
			      time_t now, const char **error_r);
/* Folders (store_pgsql_folder.c): forget an account's copy progress. */
int pgsql_folder_forget_txn(struct pgsql_store *pg, const char *account,
			    const char **error_r);

/* --- rows shared with the dump (store_pgsql_dump.c) --------------------------- */

/* The columns each decoder below reads, in its order. */
#define PGSQL_ACCOUNT_COLUMNS \
	"name, domain, state, flags, password_hash, created, updated," \
	" copy_started, copy_finished, finished, messages, bytes, folders," \
	" errors, late_mail, last_error, array_to_string(aliases, E'\\n')"
#define PGSQL_JOB_COLUMNS \
	"id, account, kind, enqueued, not_before, lease_until, owner," \
	" attempts, last_error, deaths"
#define PGSQL_FOLDER_COLUMNS \
	"account, name, target_name, uidvalidity, last_uid," \
	" target_uidvalidity, messages, bytes, subscribed, highestmodseq"
#define PGSQL_PROPOSAL_COLUMNS \
	"alias, account, state, sources, count, first_seen, last_seen"

/* Events: id, time, severity, account, message. */
#define PGSQL_EVENT_COLUMNS "id, time, severity, account, message"

/* Row row of a SELECT of the matching columns into the struct (the
 * caller clears it): 0, or -1 for a damaged row. */
int pgsql_account_decode(struct pgsql_store *pg, PGresult *res, int row,
			 struct store_account *acct_r, const char **error_r);
int pgsql_job_decode(struct pgsql_store *pg, PGresult *res, int row,
		     struct store_job *job_r, const char **error_r);
int pgsql_folder_decode(struct pgsql_store *pg, PGresult *res, int row,
			struct store_folder *f, const char **error_r);
int pgsql_proposal_decode(struct pgsql_store *pg, PGresult *res, int row,
			  struct store_proposal *p, const char **error_r);
int pgsql_event_decode(struct pgsql_store *pg, PGresult *res, int row,
		       struct store_event *ev, const char **error_r);
/* The pending batch's messages as the msgs column holds them
 * (store_codec.h record): encode into *w (rec_free() it); decode into
 * b->msgs and b->count: 0, or -1 for a damaged record. */
void pgsql_batch_msgs_encode(const struct store_batch *b, struct rec_writer *w);
int pgsql_batch_msgs_decode(const unsigned char *data, size_t len,
			    struct store_batch *b);

/* --- the vtable, filled by area ---------------------------------------------- */

void pgsql_vfuncs_account(struct store_vfuncs *v);	/* accounts, creds */
void pgsql_vfuncs_alias(struct store_vfuncs *v);	/* aliases, proposals */
void pgsql_vfuncs_proposal(struct store_vfuncs *v);	/* (called by _alias) */
void pgsql_vfuncs_job(struct store_vfuncs *v);		/* jobs */
void pgsql_vfuncs_folder(struct store_vfuncs *v);	/* folders, UID map, batches,
							   failed items, UIDLs, reset */
void pgsql_vfuncs_event(struct store_vfuncs *v);	/* events, stats, pause */
void pgsql_vfuncs_auth(struct store_vfuncs *v);		/* auth limits, TLS memory */
void pgsql_vfuncs_progress(struct store_vfuncs *v);	/* copies running */
void pgsql_vfuncs_sieve(struct store_vfuncs *v);	/* Sieve records */
void pgsql_vfuncs_dav(struct store_vfuncs *v);	/* DAV records */
/* store_pgsql_dav.c: the columns of a DAV record after its account, and
 * a row of them from col on into collection (STORE_MAX_DAV_URL + 1
 * bytes) and *d; -1 when damaged. */
#define PGSQL_DAV_COLUMNS "collection, item, kind, new_url, old_etag, new_etag," \
	" sha256, copied"
int pgsql_dav_row(PGresult *res, int row, int col, char *collection,
		  struct store_dav *d);
void pgsql_vfuncs_acl(struct store_vfuncs *v);	/* ACL records */
/* store_pgsql_acl.c: the columns of an ACL record after its account,
 * and a row of them from col on into *a; -1 when damaged. */
#define PGSQL_ACL_COLUMNS "folder, identifier, target, given_to, rights, state, updated"
int pgsql_acl_row(PGresult *res, int row, int col, struct store_acl *a);
void pgsql_vfuncs_split(struct store_vfuncs *v);	/* split hand-outs */
void pgsql_vfuncs_dump(struct store_vfuncs *v);		/* dump, load */
/* Free a load that was never ended (the connection's close rolls it
 * back). */
void pgsql_load_free(struct pgsql_store *pg);

/* The schema (store_pgsql_schema.c): check the version, and with
 * create make or upgrade it. *created_r: it was made now. */
int pgsql_schema_open(struct pgsql_store *pg, int create, int *created_r,
		      const char **error_r);

#endif
