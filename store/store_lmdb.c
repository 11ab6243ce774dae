/*
 * NAME
 *	store_lmdb 3
 * SUMMARY
 *	the LMDB backend: open the environment and run transactions on it
 * DESCRIPTION
 *	store_lmdb_open() makes the store behind a "lmdb:DIR" spec (or a
 *	bare path) and hands store.c its vtable, lmdb_vfuncs: the calls
 *	of the store_lmdb_*.c files.
 *
 *	store_lmdb_open() refuses anything that is not our store before LMDB
 *	touches it: a data.mdb without LMDB's meta-page magic is reported
 *	as corrupt or foreign and left byte for byte as it was. Write
 *	transactions that run out of map space are retried after the map
 *	is doubled, up to max_map_size (as Postfix slmdb does).
 *
 *	Reader slots: every process that reads holds one slot of the lock
 *	file's reader table (MDB_NOTLS ties a slot to the kept read
 *	transaction), and a process killed by SIGKILL or a crash leaves
 *	its slot taken. LMDB clears the table only when no process has
 *	the environment open, which on a busy server (the relay, Dovecot's
 *	auth processes) is never. So store_lmdb_open() reclaims the slots of
 *	dead processes (mdb_reader_check), and so does a transaction that
 *	finds the table full, once, before it gives up.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mm_alloc.h"
#include "store_lmdb.h"

#define STORE_DEFAULT_MAX_MAP (4ULL << 30)
#define STORE_DEFAULT_INITIAL_MAP (64ULL << 20)
#define STORE_MIN_MAP (1ULL << 20)
#define STORE_DEFAULT_EVENTS 100000
#define STORE_TXN_RETRIES 16
/* Reader slots in lock.mdb (64 bytes each, so the file is about 64 KiB):
 * one per process reading the store (auth workers, relay, puller
 * workers, CLI), with room for the dead ones left between two checks.
 * Set when the first process creates the lock file; later openers
 * take the size the file has. */
#define STORE_MAX_READERS 1024

/* LMDB's meta page: magic at byte 16 of the file, then the version. */
#define LMDB_MAGIC 0xBEEFC0DEU
#define LMDB_DATA_VERSION 1

static const char *const store_db_names[STORE_DB_COUNT] = {
	"meta", "accounts", "creds", "jobs", "jobidx", "folders", "msgmap",
	"uidls", "events", "pending", "failed", "aliases", "authlimit",
	"tlsseen", "aliasprop", "progress", "sieve", "split", "dav", "acl",
};

/* Added after schema version 1: a store made by an older mailmigrate
 * lacks them. Not a schema change: missing means empty. */
static int store_db_optional(int db)
{
	return db == STORE_DB_ALIASES || db == STORE_DB_AUTHLIMIT ||
		db == STORE_DB_TLSSEEN || db == STORE_DB_PROPOSALS ||
		db == STORE_DB_PROGRESS || db == STORE_DB_SIEVE ||
		db == STORE_DB_SPLIT || db == STORE_DB_DAV || db == STORE_DB_ACL;
}

static int store_begin(struct store *store, unsigned flags, MDB_txn **txn_r,
		       const char **error_r);

int store_mdb_fail(struct store *store, int rc, const char **error_r,
		   const char *what)
{
	struct lmdb_store *ls = LMDB(store);

	ls->last_rc = rc;
	if (rc == MDB_MAP_FULL)
		return store_fail(error_r, "store %s is full: %s", ls->dir, what);
	return store_fail(error_r, "store %s: %s: %s", ls->dir, what,
			  mdb_strerror(rc));
}

/* Make dir and its missing parents; the last one with mode. */
static int store_mkdirs(const char *dir, mode_t mode, const char **error_r)
{
	char *path = mm_strdup(dir);

	for (char *p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			store_fail(error_r, "cannot create %s: %s", path, strerror(errno));
			mm_free(&path);
			return -1;
		}
		*p = '/';
	}
	mm_free(&path);
	if (mkdir(dir, mode) < 0 && errno != EEXIST)
		return store_fail(error_r, "cannot create store directory %s: %s",
				  dir, strerror(errno));
	/* mkdir(2) applies the umask and ignores the setgid bit: set them. */
	if (chmod(dir, mode) < 0)
		return store_fail(error_r, "cannot chmod %s: %s", dir, strerror(errno));
	return 0;
}

/* Check data.mdb, if present, is an LMDB file before LMDB opens it.
 * *exists_r says whether there is one. */
static int store_check_datafile(const char *dir, int *exists_r,
				const char **error_r)
{
	unsigned char head[24];
	struct stat st;
	char path[4096];
	uint32_t magic, version;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			*exists_r = 0;
			return 0;
		}
		return store_fail(error_r, "cannot open %s: %s", path, strerror(errno));
	}
	*exists_r = 1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return store_fail(error_r, "%s is not a regular file", path);
	}
	n = read(fd, head, sizeof(head));
	close(fd);
	if (n != (ssize_t)sizeof(head))
		return store_fail(error_r, "%s is not an LMDB store (%s); "
				  "refusing to touch it", path,
				  n < 0 ? strerror(errno) : "too short: corrupt or foreign file");
	memcpy(&magic, head + 16, 4);
	memcpy(&version, head + 20, 4);
	if (magic != LMDB_MAGIC)
		return store_fail(error_r, "%s is not an LMDB store (corrupt or "
				  "foreign file); refusing to touch it", path);
	if (version != LMDB_DATA_VERSION)
		return store_fail(error_r, "%s has LMDB data version %u, not %u; "
				  "refusing to touch it", path, version, LMDB_DATA_VERSION);
	return 0;
}

/* Open every named database; with create, make missing ones and write
 * the schema version. */
static int store_open_dbs(struct store *store, int create, const char **error_r)
{
	struct lmdb_store *ls = LMDB(store);
	MDB_txn *txn;
	MDB_val val;
	char version[32];
	int rc;

	if (store_begin(store, create ? 0 : MDB_RDONLY, &txn, error_r) < 0)
		return -1;
	rc = mdb_dbi_open(txn, store_db_names[STORE_DB_META], 0,
			  &ls->dbi[STORE_DB_META]);
	if (rc == MDB_NOTFOUND && create) {
		MDB_dbi main;
		MDB_stat st;

		/* Only an empty environment may become a store: one that
		 * holds anything belongs to some other program. */
		rc = mdb_dbi_open(txn, NULL, 0, &main);
		if (rc == 0)
			rc = mdb_stat(txn, main, &st);
		if (rc != 0) {
			mdb_txn_abort(txn);
			return store_mdb_fail(store, rc, error_r, "read environment");
		}
		if (st.ms_entries > 0) {
			mdb_txn_abort(txn);
			return store_fail(error_r, "%s holds an LMDB environment that "
					  "is not a mailmigrate store; refusing to "
					  "use it", ls->dir);
		}
		rc = mdb_dbi_open(txn, store_db_names[STORE_DB_META], MDB_CREATE,
				  &ls->dbi[STORE_DB_META]);
	}
	if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) {
		mdb_txn_abort(txn);
		return store_fail(error_r, "%s holds an LMDB environment that is "
				  "not a mailmigrate store; refusing to use it",
				  ls->dir);
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return store_mdb_fail(store, rc, error_r, "open meta database");
	}
	MDB_val key = { strlen("schema_version"), (void *)"schema_version" };
	rc = mdb_get(txn, ls->dbi[STORE_DB_META], &key, &val);
	if (rc == MDB_NOTFOUND && create) {
		snprintf(version, sizeof(version), "%d", STORE_SCHEMA_VERSION);
		val.mv_size = strlen(version);
		val.mv_data = version;
		rc = mdb_put(txn, ls->dbi[STORE_DB_META], &key, &val, 0);
		if (rc != 0) {
			mdb_txn_abort(txn);
			return store_mdb_fail(store, rc, error_r, "write schema version");
		}
		store->created = 1;
	} else if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return store_fail(error_r, "%s holds an LMDB environment that is "
				  "not a mailmigrate store (no schema version); "
				  "refusing to use it", ls->dir);
	} else if (rc != 0) {
		mdb_txn_abort(txn);
		return store_mdb_fail(store, rc, error_r, "read schema version");
	} else {
		size_t n = val.mv_size < sizeof(version) - 1 ? val.mv_size :
			sizeof(version) - 1;

		memcpy(version, val.mv_data, n);
		version[n] = '\0';
		if (strcmp(version, "1") != 0) {
			char shown[40];

			mdb_txn_abort(txn);
			log_printable(shown, sizeof(shown), version, n);
			return store_fail(error_r, "store %s has schema version '%s'; "
					  "this mailmigrate knows version %d only: "
					  "refusing to use it", ls->dir, shown,
					  STORE_SCHEMA_VERSION);
		}
	}
	for (int db = STORE_DB_META + 1; db < STORE_DB_COUNT; db++) {
		rc = mdb_dbi_open(txn, store_db_names[db], create ? MDB_CREATE : 0,
				  &ls->dbi[db]);
		if (rc == MDB_NOTFOUND && store_db_optional(db)) {
			ls->db_missing[db] = 1;
			continue;
		}
		if (rc != 0) {
			mdb_txn_abort(txn);
			if (rc == MDB_NOTFOUND)
				return store_fail(error_r, "store %s lacks its '%s' "
						  "database: damaged store",
						  ls->dir, store_db_names[db]);
			return store_mdb_fail(store, rc, error_r, "open database");
		}
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, "commit");
	return 0;
}

/* A writer adds the optional databases an older store lacks. */
static int store_create_missing(struct store *store, const char **error_r)
{
	struct lmdb_store *ls = LMDB(store);
	MDB_txn *txn;
	int rc, any = 0;

	for (int db = 0; db < STORE_DB_COUNT; db++)
		any |= ls->db_missing[db];
	if (!any)
		return 0;
	if (store_begin(store, 0, &txn, error_r) < 0)
		return -1;
	unsigned char was_missing[STORE_DB_COUNT];

	for (int db = 0; db < STORE_DB_COUNT; db++) {
		if (!ls->db_missing[db])
			continue;
		rc = mdb_dbi_open(txn, store_db_names[db], MDB_CREATE,
				  &ls->dbi[db]);
		if (rc != 0) {
			mdb_txn_abort(txn);
			return store_mdb_fail(store, rc, error_r,
					      "create a new database");
		}
	}
	memcpy(was_missing, ls->db_missing, sizeof(was_missing));
	memset(ls->db_missing, 0, sizeof(ls->db_missing));
	/* Index the aliases accounts already hold, in the same transaction. */
	if (was_missing[STORE_DB_ALIASES] &&
	    store_alias_backfill_txn(store, txn, error_r) < 0) {
		mdb_txn_abort(txn);
		memcpy(ls->db_missing, was_missing, sizeof(was_missing));
		return -1;
	}
	/* Aliases from before proposals: kept, and the log says so. */
	if (was_missing[STORE_DB_PROPOSALS] &&
	    store_proposal_upgrade_txn(store, txn, time(NULL), error_r) < 0) {
		mdb_txn_abort(txn);
		memcpy(ls->db_missing, was_missing, sizeof(was_missing));
		return -1;
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0) {
		memcpy(ls->db_missing, was_missing, sizeof(was_missing));
		return store_mdb_fail(store, rc, error_r, "commit");
	}
	return 0;
}

int store_db_present(struct store *store, enum store_db db,
		     const char **error_r)
{
	struct lmdb_store *ls = LMDB(store);
	MDB_txn *txn;
	int rc;

	if (!ls->db_missing[db])
		return 1;
	/* Another process may have made it since we opened. */
	if (store_begin(store, MDB_RDONLY, &txn, error_r) < 0)
		return -1;
	rc = mdb_dbi_open(txn, store_db_names[db], 0, &ls->dbi[db]);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return 0;
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return store_mdb_fail(store, rc, error_r, store_db_names[db]);
	}
	/* Committing a read transaction keeps the handle open. */
	rc = mdb_txn_commit(txn);
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, "commit");
	ls->db_missing[db] = 0;
	return 1;
}

/* Release what the LMDB store holds; store_close() wipes the key and
 * frees the struct. */
static void lmdb_close(struct store *store)
{
	struct lmdb_store *ls = LMDB(store);

	if (ls->rtxn != NULL)
		mdb_txn_abort(ls->rtxn);
	if (ls->env != NULL)
		mdb_env_close(ls->env);
	mm_free(&ls->dir);
}

static const struct store_vfuncs lmdb_vfuncs = {
	.close = lmdb_close,
	.account_create = lmdb_account_create,
	.account_get = lmdb_account_get,
	.account_put = lmdb_account_put,
	.account_update = lmdb_account_update,
	.account_requeue = lmdb_account_requeue,
	.account_set_state = lmdb_account_set_state,
	.account_add_alias = lmdb_account_add_alias,
	.alias_lookup = lmdb_alias_lookup,
	.alias_iter = lmdb_alias_iter,
	.proposal_add = lmdb_proposal_add,
	.proposal_trust = lmdb_proposal_trust,
	.proposal_approve = lmdb_proposal_approve,
	.proposal_reject = lmdb_proposal_reject,
	.proposal_iter = lmdb_proposal_iter,
	.account_add_late_mail = lmdb_account_add_late_mail,
	.account_iter = lmdb_account_iter,
	.cred_set = lmdb_cred_set,
	.cred_get = lmdb_cred_get,
	.cred_has = lmdb_cred_has,
	.cred_wipe = lmdb_cred_wipe,
	.job_enqueue = lmdb_job_enqueue,
	.job_take = lmdb_job_take,
	.job_renew = lmdb_job_renew,
	.job_done = lmdb_job_done,
	.job_retry = lmdb_job_retry,
	.job_died = lmdb_job_died,
	.job_get = lmdb_job_get,
	.job_cancel = lmdb_job_cancel,
	.job_iter = lmdb_job_iter,
	.folder_get = lmdb_folder_get,
	.folder_put = lmdb_folder_put,
	.folder_iter = lmdb_folder_iter,
	.message_copied = lmdb_message_copied,
	.msgmap_get = lmdb_msgmap_get,
	.msgmap_list = lmdb_msgmap_list,
	.msgmap_set_flags_many = lmdb_msgmap_set_flags_many,
	.msgmap_forget = lmdb_msgmap_forget,
	.batch_begin = lmdb_batch_begin,
	.batch_pending = lmdb_batch_pending,
	.batch_done = lmdb_batch_done,
	.batch_abort = lmdb_batch_abort,
	.split_update = lmdb_split_update,
	.failed_add = lmdb_failed_add,
	.failed_del = lmdb_failed_del,
	.failed_iter = lmdb_failed_iter,
	.msgmap_get_flags = lmdb_msgmap_get_flags,
	.msgmap_set_flags = lmdb_msgmap_set_flags,
	.uidl_add = lmdb_uidl_add,
	.uidl_has = lmdb_uidl_has,
	.uidl_forget = lmdb_uidl_forget,
	.uidl_count = lmdb_uidl_count,
	.stats_get = lmdb_stats_get,
	.event_add = lmdb_event_add,
	.event_iter = lmdb_event_iter,
	.auth_limit = lmdb_auth_limit,
	.auth_fail_add = lmdb_auth_fail_add,
	.auth_fail_has = lmdb_auth_fail_has,
	.account_set_password = lmdb_account_set_password,
	.tls_seen_get = lmdb_tls_seen_get,
	.tls_seen_add = lmdb_tls_seen_add,
	.tls_seen_forget = lmdb_tls_seen_forget,
	.sieve_get = lmdb_sieve_get,
	.sieve_put = lmdb_sieve_put,
	.sieve_iter = lmdb_sieve_iter,
	.dav_get = lmdb_dav_get,
	.dav_put = lmdb_dav_put,
	.dav_del = lmdb_dav_del,
	.dav_iter = lmdb_dav_iter,
	.acl_put = lmdb_acl_put,
	.acl_del = lmdb_acl_del,
	.acl_iter = lmdb_acl_iter,
	.progress_put = lmdb_progress_put,
	.progress_del = lmdb_progress_del,
	.progress_iter = lmdb_progress_iter,
	.paused = lmdb_paused,
	.set_paused = lmdb_set_paused,
	.meta_add = lmdb_meta_add,
	.reset = lmdb_reset,
	.dump = lmdb_dump,
	.generation = lmdb_generation,
	/* no load: LMDB is never a copy's target */
};

int store_lmdb_open(const char *dir, const struct store_options *opts,
		    struct store **store_r, const char **error_r)
{
	struct store_options defaults = { 0 };
	struct lmdb_store *ls;
	struct store *store;
	struct stat st;
	uint64_t initial;
	int exists = 0, rc;
	char path[4096];

	if (opts == NULL)
		opts = &defaults;
	if (strlen(dir) > 3000)
		return store_fail(error_r, "store directory name too long");
	if (stat(dir, &st) < 0) {
		if (errno != ENOENT)
			return store_fail(error_r, "cannot access store directory %s: %s",
					  dir, strerror(errno));
		if (!opts->create)
			return store_fail(error_r, "store directory %s does not exist "
					  "(run 'mailmigrate init')", dir);
		if (store_mkdirs(dir, 02770, error_r) < 0)
			return -1;
	} else if (!S_ISDIR(st.st_mode)) {
		return store_fail(error_r, "store directory %s is not a directory", dir);
	}
	if (store_check_datafile(dir, &exists, error_r) < 0)
		return -1;
	if (!exists && !opts->create)
		return store_fail(error_r, "no store in %s (run 'mailmigrate init')", dir);

	ls = mm_calloc(1, sizeof(*ls));
	store = &ls->store;
	store->v = &lmdb_vfuncs;
	ls->dir = mm_strdup(dir);
	store->readonly = opts->readonly;
	ls->max_map_size = opts->max_map_size != 0 ? opts->max_map_size :
		STORE_DEFAULT_MAX_MAP;
	if (ls->max_map_size < STORE_MIN_MAP)
		ls->max_map_size = STORE_MIN_MAP;
	store->event_log_max = opts->event_log_max != 0 ? opts->event_log_max :
		STORE_DEFAULT_EVENTS;
	initial = opts->initial_map_size != 0 ? opts->initial_map_size :
		STORE_DEFAULT_INITIAL_MAP;
	if (initial > ls->max_map_size)
		initial = ls->max_map_size;

	if ((rc = mdb_env_create(&ls->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(ls->env, STORE_DB_COUNT)) != 0 ||
	    (rc = mdb_env_set_maxreaders(ls->env, STORE_MAX_READERS)) != 0 ||
	    (rc = mdb_env_set_mapsize(ls->env, initial)) != 0) {
		store_mdb_fail(store, rc, error_r, "create environment");
		store_close(&store);
		return -1;
	}
	rc = mdb_env_open(ls->env, dir,
			  MDB_NOTLS | (opts->readonly ? MDB_RDONLY : 0), 0660);
	if (rc != 0) {
		if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH)
			store_fail(error_r, "%s/data.mdb is not a usable LMDB store "
				   "(%s); refusing to touch it", dir, mdb_strerror(rc));
		else
			store_mdb_fail(store, rc, error_r, "open environment");
		store_close(&store);
		return -1;
	}
	/* Slots left by dead processes (see above). */
	if ((rc = mdb_reader_check(ls->env, NULL)) != 0) {
		store_mdb_fail(store, rc, error_r, "check reader slots");
		store_close(&store);
		return -1;
	}
	if (store_open_dbs(store, opts->create && !opts->readonly, error_r) < 0 ||
	    (!opts->readonly && store_create_missing(store, error_r) < 0)) {
		store_close(&store);
		return -1;
	}
	if (store->created) {
		/* Group-shared: auth workers, relay and puller may run as
		 * different users of one group. */
		snprintf(path, sizeof(path), "%s/data.mdb", dir);
		(void)chmod(path, 0660);
		snprintf(path, sizeof(path), "%s/lock.mdb", dir);
		(void)chmod(path, 0660);
	}
	*store_r = store;
	return 0;
}

/* Double the map, up to the limit. */
static int store_grow(struct store *store, const char **error_r)
{
	struct lmdb_store *ls = LMDB(store);
	MDB_envinfo info;
	uint64_t size;
	int rc;

	mdb_env_info(ls->env, &info);
	size = info.me_mapsize;
	if (size >= ls->max_map_size)
		return store_fail(error_r, "store %s is full: it reached "
				  "store_max_size (%llu bytes); raise it",
				  ls->dir, (unsigned long long)ls->max_map_size);
	size = size * 2 > ls->max_map_size ? ls->max_map_size : size * 2;
	rc = mdb_env_set_mapsize(ls->env, size);
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, "grow map");
	return 0;
}

/* Begin a transaction, adopting a map grown by another process and
 * reclaiming, once, the reader slots of dead processes when the table
 * is full. */
static int store_begin(struct store *store, unsigned flags, MDB_txn **txn_r,
		       const char **error_r)
{
	struct lmdb_store *ls = LMDB(store);
	int rc = mdb_txn_begin(ls->env, NULL, flags, txn_r);
	int dead = 0;

	if (rc == MDB_READERS_FULL && mdb_reader_check(ls->env, &dead) == 0 &&
	    dead > 0)
		rc = mdb_txn_begin(ls->env, NULL, flags, txn_r);
	if (rc == MDB_MAP_RESIZED) {
		rc = mdb_env_set_mapsize(ls->env, 0);
		if (rc == 0)
			rc = mdb_txn_begin(ls->env, NULL, flags, txn_r);
	}
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, "begin transaction");
	return 0;
}

int store_write(struct store *store, store_txn_fn *fn, void *ctx,
		const char **error_r)
{
	struct lmdb_store *ls = LMDB(store);
	MDB_txn *txn;
	int ret, rc;

	if (store->readonly)
		return store_fail(error_r, "store %s is open read-only", ls->dir);
	for (int attempt = 0; attempt < STORE_TXN_RETRIES; attempt++) {
		ls->last_rc = 0;
		if (store_begin(store, 0, &txn, error_r) < 0)
			return -1;
		ret = fn(store, txn, ctx, error_r);
		if (ret < 0) {
			mdb_txn_abort(txn);
			if (ls->last_rc != MDB_MAP_FULL)
				return -1;
		} else {
			rc = mdb_txn_commit(txn);
			if (rc == 0)
				return ret;
			if (rc != MDB_MAP_FULL)
				return store_mdb_fail(store, rc, error_r, "commit");
		}
		if (store_grow(store, error_r) < 0)
			return -1;
	}
	return store_fail(error_r, "store %s: transaction retried %d times",
			  ls->dir, STORE_TXN_RETRIES);
}

int store_read(struct store *store, store_txn_fn *fn, void *ctx,
	       const char **error_r)
{
	struct lmdb_store *ls = LMDB(store);
	MDB_txn *txn = ls->rtxn;
	int ret, rc;

	ls->last_rc = 0;
	ls->rtxn = NULL;
	if (txn != NULL && (rc = mdb_txn_renew(txn)) != 0) {
		/* MDB_MAP_RESIZED among others: start afresh below. */
		mdb_txn_abort(txn);
		txn = NULL;
	}
	if (txn == NULL && store_begin(store, MDB_RDONLY, &txn, error_r) < 0)
		return -1;
	ret = fn(store, txn, ctx, error_r);
	mdb_txn_reset(txn);
	ls->rtxn = txn;
	return ret;
}

int store_get(struct store *store, MDB_txn *txn, enum store_db db,
	      const void *key, size_t keylen, MDB_val *val_r,
	      const char **error_r)
{
	struct lmdb_store *ls = LMDB(store);
	MDB_val k = { keylen, (void *)key };
	int rc;

	if (ls->db_missing[db])
		return STORE_NOTFOUND;
	rc = mdb_get(txn, ls->dbi[db], &k, val_r);
	if (rc == MDB_NOTFOUND)
		return STORE_NOTFOUND;
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, store_db_names[db]);
	return 0;
}

int store_put(struct store *store, MDB_txn *txn, enum store_db db,
	      const void *key, size_t keylen, const void *val, size_t vallen,
	      const char **error_r)
{
	struct lmdb_store *ls = LMDB(store);
	MDB_val k = { keylen, (void *)key }, v = { vallen, (void *)val };
	int rc;

	if (ls->db_missing[db])
		return store_fail(error_r, "store %s lacks its '%s' database "
				  "(opened read-only)", ls->dir,
				  store_db_names[db]);
	if (keylen == 0 || keylen > (size_t)mdb_env_get_maxkeysize(ls->env))
		return store_fail(error_r, "store key for '%s' has a bad length (%zu)",
				  store_db_names[db], keylen);
	rc = mdb_put(txn, ls->dbi[db], &k, &v, 0);
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, store_db_names[db]);
	return 0;
}

int store_del(struct store *store, MDB_txn *txn, enum store_db db,
	      const void *key, size_t keylen, const char **error_r)
{
	struct lmdb_store *ls = LMDB(store);
	MDB_val k = { keylen, (void *)key };
	int rc;

	if (ls->db_missing[db])
		return STORE_NOTFOUND;
	rc = mdb_del(txn, ls->dbi[db], &k, NULL);
	if (rc == MDB_NOTFOUND)
		return STORE_NOTFOUND;
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, store_db_names[db]);
	return 0;
}

int store_del_prefix(struct store *store, MDB_txn *txn, enum store_db db,
		     const void *prefix, size_t len, const char **error_r)
{
	MDB_cursor *cur;
	MDB_val k = { len, (void *)prefix }, v;
	int rc;

	rc = mdb_cursor_open(txn, LMDB(store)->dbi[db], &cur);
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, store_db_names[db]);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size >= len && memcmp(k.mv_data, prefix, len) == 0) {
		rc = mdb_cursor_del(cur, 0);
		if (rc != 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
		if (rc == EINVAL || rc == MDB_NOTFOUND)
			rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_mdb_fail(store, rc, error_r, store_db_names[db]);
	return 0;
}

int store_scan(struct store *store, MDB_txn *txn, enum store_db db,
	       const void *prefix, size_t len, store_scan_fn *fn, void *ctx,
	       const char **error_r)
{
	struct lmdb_store *ls = LMDB(store);
	MDB_cursor *cur;
	MDB_val k = { len, (void *)prefix }, v;
	int rc, ret = 0;

	if (ls->db_missing[db])
		return 0;
	rc = mdb_cursor_open(txn, ls->dbi[db], &cur);
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, store_db_names[db]);
	for (rc = mdb_cursor_get(cur, &k, &v, len > 0 ? MDB_SET_RANGE : MDB_FIRST);
	     rc == 0 && ret == 0 && k.mv_size >= len &&
	     (len == 0 || memcmp(k.mv_data, prefix, len) == 0);
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		ret = fn(&k, &v, ctx, error_r);
	mdb_cursor_close(cur);
	if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND)
		return store_mdb_fail(store, rc, error_r, store_db_names[db]);
	return ret;
}

int store_meta_get_u64(struct store *store, MDB_txn *txn, const char *name,
		       uint64_t *value_r, const char **error_r)
{
	MDB_val v;
	int ret = store_get(store, txn, STORE_DB_META, name, strlen(name), &v,
			    error_r);

	if (ret < 0)
		return -1;
	if (ret == STORE_NOTFOUND) {
		*value_r = 0;
		return 0;
	}
	if (v.mv_size != 8)
		return store_fail(error_r, "store %s: meta '%s' is damaged",
				  LMDB(store)->dir, name);
	*value_r = store_get_be64(v.mv_data);
	return 0;
}

int store_meta_put_u64(struct store *store, MDB_txn *txn, const char *name,
		       uint64_t value, const char **error_r)
{
	unsigned char buf[8];

	store_be64(buf, value);
	return store_put(store, txn, STORE_DB_META, name, strlen(name), buf, 8,
			 error_r);
}
