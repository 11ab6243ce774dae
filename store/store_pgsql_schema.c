/*
 * NAME
 *	store_pgsql_schema 3
 * SUMMARY
 *	the PostgreSQL store's tables, made and upgraded by mailmigrate init
 * DESCRIPTION
 *	Everything lives in the schema "mailmigrate", so the store can
 *	share a database with other software and grants can be given
 *	per schema (contrib/postgresql). meta holds the schema version;
 *	a store whose version is newer than this build is refused, one
 *	that is older is upgraded only by `mailmigrate init` (create),
 *	step by step, each step in the transaction that records it.
 *	Making and upgrading hold a transaction-scoped advisory lock, so
 *	two hosts running init at once do it once.
 *
 *	Columns that carry what OLD sent (folder names, server texts in
 *	reasons and events) are bytea: OLD need not send UTF-8, and the
 *	database must not refuse what LMDB would keep.
 */
#include "config.h"

#include <string.h>

#include "store_pgsql.h"

/* pg_advisory_xact_lock key: "mailmigrate" folded into 63 bits. */
#define PGSQL_SCHEMA_LOCK "7236489123000417"

/* Version 1, as one script. */
static const char schema_v1[] =
	"CREATE SCHEMA IF NOT EXISTS mailmigrate;\n"
	/* schema_version, paused (0/1), started (unix time of the first
	 * account), errors (error events ever), event_seq */
	"CREATE TABLE mailmigrate.meta (\n"
	"  name text PRIMARY KEY,\n"
	"  value bigint NOT NULL);\n"
	"CREATE TABLE mailmigrate.accounts (\n"
	"  name text PRIMARY KEY,\n"
	"  domain text NOT NULL,\n"
	"  state smallint NOT NULL,\n"
	"  flags integer NOT NULL DEFAULT 0,\n"
	"  password_hash text,\n"
	"  created bigint NOT NULL DEFAULT 0,\n"
	"  updated bigint NOT NULL DEFAULT 0,\n"
	"  copy_started bigint NOT NULL DEFAULT 0,\n"
	"  copy_finished bigint NOT NULL DEFAULT 0,\n"
	"  finished bigint NOT NULL DEFAULT 0,\n"
	"  messages bigint NOT NULL DEFAULT 0,\n"
	"  bytes bigint NOT NULL DEFAULT 0,\n"
	"  folders bigint NOT NULL DEFAULT 0,\n"
	"  errors bigint NOT NULL DEFAULT 0,\n"
	"  late_mail bigint NOT NULL DEFAULT 0,\n"
	"  last_error bytea,\n"
	/* the account record's aliases, sorted; the index is aliases */
	"  aliases text[] NOT NULL DEFAULT '{}');\n"
	"CREATE INDEX accounts_state ON mailmigrate.accounts (state);\n"
	"CREATE TABLE mailmigrate.creds (\n"
	"  account text PRIMARY KEY,\n"
	"  sealed bytea NOT NULL);\n"
	/* alias -> account: the first owner keeps an alias; byte order
	 * (COLLATE "C"), so the key serves the listing in LMDB's order */
	"CREATE TABLE mailmigrate.aliases (\n"
	"  alias text COLLATE \"C\" PRIMARY KEY,\n"
	"  account text NOT NULL);\n"
	"CREATE INDEX aliases_account ON mailmigrate.aliases (account);\n"
	/* every proposal record, pending, rejected, approved, trusted */
	"CREATE TABLE mailmigrate.proposals (\n"
	"  alias text COLLATE \"C\" NOT NULL,\n"
	"  account text COLLATE \"C\" NOT NULL,\n"
	"  state smallint NOT NULL,\n"
	"  sources integer NOT NULL DEFAULT 0,\n"
	"  count bigint NOT NULL DEFAULT 0,\n"
	"  first_seen bigint NOT NULL DEFAULT 0,\n"
	"  last_seen bigint NOT NULL DEFAULT 0,\n"
	"  PRIMARY KEY (alias, account));\n"
	/* one job per account at most; id is the FIFO order */
	"CREATE TABLE mailmigrate.jobs (\n"
	"  id bigserial PRIMARY KEY,\n"
	"  account text NOT NULL UNIQUE,\n"
	"  kind smallint NOT NULL,\n"
	"  enqueued bigint NOT NULL,\n"
	"  not_before bigint NOT NULL DEFAULT 0,\n"
	"  lease_until bigint NOT NULL DEFAULT 0,\n"
	"  owner text,\n"
	"  attempts integer NOT NULL DEFAULT 0,\n"
	"  last_error bytea,\n"
	"  deaths integer NOT NULL DEFAULT 0);\n"
	"CREATE TABLE mailmigrate.folders (\n"
	"  account text NOT NULL,\n"
	"  name bytea NOT NULL,\n"
	"  target_name bytea,\n"
	"  uidvalidity bigint NOT NULL DEFAULT 0,\n"
	"  last_uid bigint NOT NULL DEFAULT 0,\n"
	"  target_uidvalidity bigint NOT NULL DEFAULT 0,\n"
	"  messages bigint NOT NULL DEFAULT 0,\n"
	"  bytes bigint NOT NULL DEFAULT 0,\n"
	"  subscribed boolean NOT NULL DEFAULT false,\n"
	"  PRIMARY KEY (account, name));\n"
	"CREATE TABLE mailmigrate.msgmap (\n"
	"  account text NOT NULL,\n"
	"  folder bytea NOT NULL,\n"
	"  uidvalidity bigint NOT NULL,\n"
	"  old_uid bigint NOT NULL,\n"
	"  new_uid bigint NOT NULL,\n"
	"  flags_hash bigint NOT NULL DEFAULT 0,\n"
	"  PRIMARY KEY (account, folder, uidvalidity, old_uid));\n"
	"CREATE TABLE mailmigrate.uidls (\n"
	"  account text NOT NULL,\n"
	"  uidl bytea NOT NULL,\n"
	"  added bigint NOT NULL,\n"
	"  PRIMARY KEY (account, uidl));\n"
	/* the pending batch of each account; msgs: the messages encoded
	 * as store_codec.h records */
	"CREATE TABLE mailmigrate.batches (\n"
	"  account text PRIMARY KEY,\n"
	"  folder bytea NOT NULL,\n"
	"  uidvalidity bigint NOT NULL,\n"
	"  target_folder bytea NOT NULL,\n"
	"  target_uidvalidity bigint NOT NULL,\n"
	"  target_uidnext bigint NOT NULL,\n"
	"  msgs bytea NOT NULL);\n"
	"CREATE TABLE mailmigrate.failed (\n"
	"  account text NOT NULL,\n"
	"  folder bytea NOT NULL,\n"
	"  uidvalidity bigint NOT NULL,\n"
	"  uid bigint NOT NULL,\n"
	"  size bigint NOT NULL DEFAULT 0,\n"
	"  time bigint NOT NULL DEFAULT 0,\n"
	"  reason bytea,\n"
	"  PRIMARY KEY (account, folder, uidvalidity, uid));\n"
	/* id: meta event_seq, counted in the adding transaction, so ids
	 * have no gaps and follow commit order (trimming keeps exactly
	 * event_log_max); the indexes serve "the last n" of one account
	 * and of the errors (severity >= LOG_SEV_ERROR, 3) */
	"CREATE TABLE mailmigrate.events (\n"
	"  id bigint PRIMARY KEY,\n"
	"  time bigint NOT NULL,\n"
	"  severity smallint NOT NULL,\n"
	"  account text NOT NULL DEFAULT '',\n"
	"  message bytea NOT NULL);\n"
	"CREATE INDEX events_account ON mailmigrate.events (account, id);\n"
	"CREATE INDEX events_errors ON mailmigrate.events (id)"
	" WHERE severity >= 3;\n"
	/* the auth-hook's rate limits (fixed windows) and failed logins;
	 * keys are bytes (any text a login brings, not always UTF-8) */
	"CREATE TABLE mailmigrate.auth_limits (\n"
	"  key bytea PRIMARY KEY,\n"
	"  window_start bigint NOT NULL,\n"
	"  hits integer NOT NULL,\n"
	"  expires bigint NOT NULL);\n"
	"CREATE INDEX auth_limits_expires ON mailmigrate.auth_limits (expires);\n"
	"CREATE TABLE mailmigrate.auth_fails (\n"
	"  mac bytea PRIMARY KEY,\n"
	"  expires bigint NOT NULL);\n"
	"CREATE INDEX auth_fails_expires ON mailmigrate.auth_fails (expires);\n"
	"CREATE TABLE mailmigrate.tls_seen (\n"
	"  domain text NOT NULL,\n"
	"  proto text NOT NULL,\n"
	"  since bigint NOT NULL,\n"
	"  PRIMARY KEY (domain, proto));\n"
	/* what was copied per minute, for the rate in stats; first: the
	 * unix time of the first copy in that minute (the writers keep
	 * the least; 0: unknown, read as the minute's start); the first
	 * write of a minute drops the minutes older than 16 */
	"CREATE TABLE mailmigrate.rate (\n"
	"  minute bigint PRIMARY KEY,\n"
	"  messages bigint NOT NULL DEFAULT 0,\n"
	"  bytes bigint NOT NULL DEFAULT 0,\n"
	"  first bigint NOT NULL DEFAULT 0);\n";

/* Upgrade steps: steps[v] takes a store at version v to v + 1 (a new
 * store is made at version 1 and taken through every step). */
static const char *const upgrade_steps[PGSQL_SCHEMA_VERSION] = {
	NULL,
	/* 1 -> 2: the progress of the copies running (store.h), written
	 * by the pullers, read by stats and top; not migration data */
	"CREATE TABLE mailmigrate.progress (\n"
	"  account text COLLATE \"C\" PRIMARY KEY,\n"
	"  owner text NOT NULL,\n"
	"  folder bytea,\n"
	"  folder_index bigint NOT NULL,\n"
	"  folder_count bigint NOT NULL,\n"
	"  messages_done bigint NOT NULL,\n"
	"  messages_total bigint NOT NULL,\n"
	"  bytes_done bigint NOT NULL,\n"
	"  bytes_total bigint NOT NULL,\n"
	"  started bigint NOT NULL,\n"
	"  updated bigint NOT NULL);\n",
	/* 2 -> 3: OLD's HIGHESTMODSEQ when a round last proved the
	 * folder (RFC 7162; 0: unknown), so the next asks only for what
	 * changed. A mod-sequence is at most 2^63-1: bigint holds it. */
	"ALTER TABLE mailmigrate.folders\n"
	"  ADD COLUMN highestmodseq bigint NOT NULL DEFAULT 0;\n",
	/* 3 -> 4: what a round put on NEW of each Sieve script
	 * (migrate_sieve): the SHA-256 of its bytes, made active or not */
	"CREATE TABLE mailmigrate.sieve (\n"
	"  account text COLLATE \"C\" NOT NULL,\n"
	"  name bytea NOT NULL,\n"
	"  sha256 bytea NOT NULL,\n"
	"  active integer NOT NULL,\n"
	"  PRIMARY KEY (account, name));\n",
	/* 4 -> 5: pending batches per (account, slot): slot 0 the job's
	 * holder, 1 the worker assisting it with a split account; and the
	 * split hand-outs (store_split.c's record, as LMDB keeps it) */
	"ALTER TABLE mailmigrate.batches\n"
	"  ADD COLUMN slot integer NOT NULL DEFAULT 0;\n"
	"ALTER TABLE mailmigrate.batches DROP CONSTRAINT batches_pkey;\n"
	"ALTER TABLE mailmigrate.batches ADD PRIMARY KEY (account, slot);\n"
	"CREATE TABLE mailmigrate.split (\n"
	"  account text COLLATE \"C\" PRIMARY KEY,\n"
	"  rec bytea NOT NULL);\n",
	/* 5 -> 6: what a round put on NEW of calendars and address books
	 * (migrate_dav): a row per collection (item '') and per item,
	 * keyed by OLD's URLs */
	"CREATE TABLE mailmigrate.dav (\n"
	"  account text COLLATE \"C\" NOT NULL,\n"
	"  collection bytea NOT NULL,\n"
	"  item bytea NOT NULL,\n"
	"  kind integer NOT NULL,\n"
	"  new_url bytea NOT NULL,\n"
	"  old_etag bytea NOT NULL,\n"
	"  new_etag bytea NOT NULL,\n"
	"  sha256 bytea NOT NULL,\n"
	"  copied bigint NOT NULL,\n"
	"  PRIMARY KEY (account, collection, item));\n",
	/* 6 -> 7: what a round did with each right on a user's folders
	 * (migrate_shared): a row per folder and identifier of OLD's ACL */
	"CREATE TABLE mailmigrate.acl (\n"
	"  account text COLLATE \"C\" NOT NULL,\n"
	"  folder bytea NOT NULL,\n"
	"  identifier bytea NOT NULL,\n"
	"  target bytea NOT NULL,\n"
	"  given_to bytea NOT NULL,\n"
	"  rights bytea NOT NULL,\n"
	"  state integer NOT NULL,\n"
	"  updated bigint NOT NULL,\n"
	"  PRIMARY KEY (account, folder, identifier));\n",
};

static int schema_version(struct pgsql_store *pg, int *exists_r,
			  uint64_t *version_r, const char **error_r)
{
	PGresult *res;
	int bad = 0;

	*exists_r = 0;
	*version_r = 0;
	res = pgsql_exec(pg, "looking for the schema",
			 "SELECT to_regclass('mailmigrate.meta') IS NOT NULL",
			 NULL, error_r);
	if (res == NULL)
		return -1;
	*exists_r = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!*exists_r)
		return 0;
	res = pgsql_exec(pg, "reading the schema version",
			 "SELECT value FROM mailmigrate.meta"
			 " WHERE name = 'schema_version'", NULL, error_r);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
		*version_r = pgsql_get_u64(res, 0, 0, &bad);
	PQclear(res);
	if (bad || *version_r == 0)
		return pgsql_damaged(pg, "schema version", error_r);
	return 0;
}

struct schema_ctx {
	int create;
	int created;
};

static int schema_txn(struct pgsql_store *pg, void *context,
		      const char **error_r)
{
	struct schema_ctx *ctx = context;
	uint64_t version;
	int exists;

	ctx->created = 0;
	if (schema_version(pg, &exists, &version, error_r) < 0)
		return -1;
	if (exists && version == PGSQL_SCHEMA_VERSION)
		return 0;
	if (exists && version > PGSQL_SCHEMA_VERSION)
		return store_fail(error_r, "store postgresql:%s has schema "
				  "version %llu, newer than this mailmigrate "
				  "(%d): upgrade mailmigrate on this host",
				  pg->where, (unsigned long long)version,
				  PGSQL_SCHEMA_VERSION);
	if (!ctx->create)
		return store_fail(error_r, exists ?
				  "store postgresql:%s has schema version %llu, "
				  "older than this mailmigrate: run "
				  "`mailmigrate init` to upgrade it" :
				  "store postgresql:%s has no mailmigrate schema"
				  "%.0llu: run `mailmigrate init` first", pg->where,
				  (unsigned long long)version);
	/* One host at a time; look again under the lock. */
	if (pgsql_run(pg, "locking the schema",
		      "SELECT pg_advisory_xact_lock(" PGSQL_SCHEMA_LOCK ")",
		      NULL, NULL, error_r) < 0 ||
	    schema_version(pg, &exists, &version, error_r) < 0)
		return -1;
	if (!exists) {
		if (pgsql_run(pg, "making the schema", schema_v1, NULL, NULL,
			      error_r) < 0 ||
		    pgsql_meta_put(pg, "schema_version", 1, error_r) < 0)
			return -1;
		ctx->created = 1;
		version = 1;
	}
	for (; version < PGSQL_SCHEMA_VERSION; version++) {
		if (pgsql_run(pg, "upgrading the schema", upgrade_steps[version],
			      NULL, NULL, error_r) < 0 ||
		    pgsql_meta_put(pg, "schema_version", version + 1, error_r) < 0)
			return -1;
	}
	return 0;
}

int pgsql_schema_open(struct pgsql_store *pg, int create, int *created_r,
		      const char **error_r)
{
	struct schema_ctx ctx = { create, 0 };
	int ret;

	/* Looking needs no write (a read-only handle looks too). */
	ret = create ? pgsql_write(&pg->store, schema_txn, &ctx, error_r) :
		pgsql_read(&pg->store, schema_txn, &ctx, error_r);
	*created_r = ctx.created;
	return ret < 0 ? -1 : 0;
}
