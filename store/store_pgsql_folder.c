/*
 * NAME
 *	store_pgsql_folder 3
 * SUMMARY
 *	the PostgreSQL store: folders, the UID map, batches, failed items,
 *	POP3 UIDLs, reset
 * DESCRIPTION
 *	Tables folders, msgmap, uidls, batches and failed, keyed by the
 *	account and (as bytea, for OLD need not send UTF-8) the folder
 *	name; a changed UIDVALIDITY is a fresh UID map by itself, as on
 *	LMDB. The checks LMDB's keys make (account and folder name
 *	lengths, UIDL lengths) are made here too, with the same words.
 *
 *	The copy's hot paths cost few round trips: store_batch_done()
 *	sends the whole batch as array parameters (PostgreSQL's binary
 *	array format, so UIDLs travel as bytes) to one statement that
 *	maps, claims UIDLs, counts and drops the pending record; the
 *	look-ups of the copy loop (msgmap_get, uidl_has) are one
 *	statement without BEGIN.
 *
 *	Locking: a call that changes an account's counters locks the
 *	account row first and its folder rows after, as reset and the
 *	account calls do, so they cannot deadlock with each other; the
 *	copy rate's row of the current minute, shared by every worker,
 *	is written last, just before COMMIT.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mm_alloc.h"
#include "store_codec.h"
#include "store_pgsql.h"

#define BATCH_MSGS_VERSION 1
/* Reasons of failed items: LMDB keeps any length; this is plenty. */
#define FAILED_REASON_MAX (1024 * 1024)
/* Minutes of the copy rate kept (LMDB keeps as many buckets). */
#define RATE_MINUTES 16

/* --- checks and shared pieces ----------------------------------------------- */

/* The account as LMDB's keys take it: 0 or -1. */
static int account_ok(const char *account, const char **error_r)
{
	size_t n = strlen(account);

	if (n == 0 || n + 1 > STORE_MAX_ACCOUNT)
		return store_fail(error_r, "bad account name length (%zu)", n);
	return 0;
}

/* The account and a folder name as LMDB's folder keys take them. */
static int folder_ok(const char *account, const char *name,
		     const char **error_r)
{
	if (account_ok(account, error_r) < 0)
		return -1;
	if (strlen(name) > STORE_MAX_FOLDER)
		return store_fail(error_r, "folder name over %d bytes",
				  STORE_MAX_FOLDER);
	return 0;
}

static int uidl_ok(const char *account, const char *uidl, const char **error_r)
{
	size_t ulen = strlen(uidl);

	if (account_ok(account, error_r) < 0)
		return -1;
	if (ulen == 0 || ulen > STORE_MAX_UIDL)
		return store_fail(error_r, "UIDL length %zu out of range 1..%d",
				  ulen, STORE_MAX_UIDL);
	return 0;
}

/* Lock account's row for the counters this transaction changes:
 * 0, or -1 when there is no such account (as LMDB says it). */
static int account_lock(struct pgsql_store *pg, const char *account,
			const char **error_r)
{
	struct pgsql_params p;
	PGresult *res;
	int n;

	pgsql_params_init(&p);
	pgsql_param_str(&p, account);
	res = pgsql_exec(pg, "locking an account",
			 "SELECT 1 FROM mailmigrate.accounts WHERE name = $1"
			 " FOR UPDATE", &p, error_r);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	if (n == 0)
		return store_fail(error_r, "account '%.200s' does not exist",
				  account);
	return 0;
}

/* Add what a transaction copied to the copy rate (the row of now's
 * minute), as LMDB's store_rate_add_txn() does; first is the time of
 * the minute's first copy (the least written: hosts' clocks and
 * commits need not come in order). The first write of a minute also drops
 * the minutes no one reads any more, after the current minute's row
 * is locked, so every writer locks rate rows in one order. */
static int rate_add(struct pgsql_store *pg, time_t now, uint64_t messages,
		    uint64_t bytes, const char **error_r)
{
	int64_t minute = now > 0 ? (int64_t)now / 60 : 0;
	struct pgsql_params p;
	PGresult *res;
	int fresh;

	if (messages == 0 && bytes == 0)
		return 0;
	pgsql_params_init(&p);
	pgsql_param_i64(&p, minute);
	pgsql_param_u64(&p, messages);
	pgsql_param_u64(&p, bytes);
	pgsql_param_i64(&p, now);
	res = pgsql_exec(pg, "adding to the copy rate",
			 "INSERT INTO mailmigrate.rate AS r (minute, messages,"
			 " bytes, first) VALUES ($1, $2, $3, $4)"
			 " ON CONFLICT (minute) DO UPDATE SET"
			 " messages = r.messages + EXCLUDED.messages,"
			 " bytes = r.bytes + EXCLUDED.bytes,"
			 " first = CASE WHEN r.first = 0 THEN EXCLUDED.first"
			 " ELSE LEAST(r.first, NULLIF(EXCLUDED.first, 0)) END"
			 " RETURNING xmax = 0", &p, error_r);
	if (res == NULL)
		return -1;
	fresh = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!fresh)
		return 0;
	pgsql_params_init(&p);
	pgsql_param_i64(&p, minute - RATE_MINUTES);
	return pgsql_run(pg, "dropping old copy rates",
			 "DELETE FROM mailmigrate.rate WHERE minute <= $1", &p,
			 NULL, error_r);
}

/* --- folders -------------------------------------------------------------------- */

int pgsql_folder_decode(struct pgsql_store *pg, PGresult *res, int row,
			 struct store_folder *f, const char **error_r)
{
	int bad = 0;

	memset(f, 0, sizeof(*f));
	f->account = pgsql_get_str(res, row, 0);
	f->name = pgsql_get_bstr(res, row, 1, STORE_MAX_FOLDER, &bad);
	f->target_name = pgsql_get_bstr(res, row, 2, STORE_MAX_FOLDER, &bad);
	f->uidvalidity = pgsql_get_u32(res, row, 3, &bad);
	f->last_uid = pgsql_get_u32(res, row, 4, &bad);
	f->target_uidvalidity = pgsql_get_u32(res, row, 5, &bad);
	f->messages = pgsql_get_u64(res, row, 6, &bad);
	f->bytes = pgsql_get_u64(res, row, 7, &bad);
	f->subscribed = strcmp(PQgetvalue(res, row, 8), "t") == 0;
	f->highestmodseq = pgsql_get_u64(res, row, 9, &bad);
	if (bad || f->account == NULL || f->name == NULL) {
		char account[STORE_MAX_ACCOUNT];

		snprintf(account, sizeof(account), "%s", PQgetvalue(res, row, 0));
		store_folder_clear(f);
		return store_fail(error_r, "account '%.200s': damaged folder record",
				  account);
	}
	return 0;
}

struct folder_ctx {
	const char *account;
	const char *name;
	const struct store_folder *in;
	struct store_folder *out;
	uint32_t uidvalidity, old_uid, new_uid;
	uint32_t *new_uid_r;
	uint32_t flags_hash;
	uint64_t size;
	time_t now;
	const char *uidl;
	uint64_t count;
	PGresult *res;		/* iterations: the rows, read after the txn */
};

/* The parameters every UID map statement starts with: $1 account,
 * $2 folder, $3 uidvalidity, $4 old UID. */
static void msgmap_params(struct pgsql_params *p, const struct folder_ctx *ctx)
{
	pgsql_params_init(p);
	pgsql_param_str(p, ctx->account);
	pgsql_param_bstr(p, ctx->name);
	pgsql_param_u64(p, ctx->uidvalidity);
	pgsql_param_u64(p, ctx->old_uid);
}

static int folder_get_body(struct pgsql_store *pg, void *context,
			   const char **error_r)
{
	struct folder_ctx *ctx = context;
	struct pgsql_params p;
	PGresult *res;
	int ret;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	pgsql_param_bstr(&p, ctx->name);
	res = pgsql_exec(pg, "reading a folder", "SELECT " PGSQL_FOLDER_COLUMNS
			 " FROM mailmigrate.folders WHERE account = $1 AND name = $2",
			 &p, error_r);
	if (res == NULL)
		return -1;
	ret = PQntuples(res) == 0 ? STORE_NOTFOUND :
		pgsql_folder_decode(pg, res, 0, ctx->out, error_r);
	PQclear(res);
	return ret;
}

static int pgsql_folder_get(struct store *store, const char *account,
			    const char *name, struct store_folder *folder_r,
			    const char **error_r)
{
	struct folder_ctx ctx = { .account = account, .name = name,
				  .out = folder_r };

	memset(folder_r, 0, sizeof(*folder_r));
	if (folder_ok(account, name, error_r) < 0)
		return -1;
	return pgsql_single(store, folder_get_body, &ctx, error_r);
}

static int folder_put_body(struct pgsql_store *pg, void *context,
			   const char **error_r)
{
	struct folder_ctx *ctx = context;
	const struct store_folder *f = ctx->in;
	struct pgsql_params p;

	pgsql_params_init(&p);
	pgsql_param_str(&p, f->account);
	pgsql_param_bstr(&p, f->name);
	pgsql_param_bstr(&p, f->target_name);
	pgsql_param_u64(&p, f->uidvalidity);
	pgsql_param_u64(&p, f->last_uid);
	pgsql_param_u64(&p, f->target_uidvalidity);
	pgsql_param_u64(&p, f->messages);
	pgsql_param_u64(&p, f->bytes);
	pgsql_param_str(&p, f->subscribed ? "t" : "f");
	pgsql_param_u64(&p, f->highestmodseq);
	return pgsql_run(pg, "writing a folder",
			 "INSERT INTO mailmigrate.folders (" PGSQL_FOLDER_COLUMNS ")"
			 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
			 " ON CONFLICT (account, name) DO UPDATE SET"
			 " target_name = EXCLUDED.target_name,"
			 " uidvalidity = EXCLUDED.uidvalidity,"
			 " last_uid = EXCLUDED.last_uid,"
			 " target_uidvalidity = EXCLUDED.target_uidvalidity,"
			 " messages = EXCLUDED.messages, bytes = EXCLUDED.bytes,"
			 " subscribed = EXCLUDED.subscribed,"
			 " highestmodseq = EXCLUDED.highestmodseq", &p, NULL, error_r);
}

static int pgsql_folder_put(struct store *store,
			    const struct store_folder *folder,
			    const char **error_r)
{
	struct folder_ctx ctx = { .in = folder };

	if (folder->account == NULL || folder->name == NULL)
		return store_fail(error_r, "folder without account or name");
	if (folder_ok(folder->account, folder->name, error_r) < 0)
		return -1;
	if (folder->target_name != NULL &&
	    strlen(folder->target_name) > STORE_MAX_FOLDER)
		return store_fail(error_r, "folder name over %d bytes",
				  STORE_MAX_FOLDER);
	return pgsql_single_write(store, folder_put_body, &ctx, error_r);
}

static int folder_iter_body(struct pgsql_store *pg, void *context,
			    const char **error_r)
{
	struct folder_ctx *ctx = context;
	struct pgsql_params p;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	ctx->res = pgsql_exec(pg, "reading the folders", "SELECT " PGSQL_FOLDER_COLUMNS
			      " FROM mailmigrate.folders WHERE account = $1"
			      " ORDER BY name", &p, error_r);
	return ctx->res == NULL ? -1 : 0;
}

static int pgsql_folder_iter(struct store *store, const char *account,
			     int (*fn)(const struct store_folder *folder,
				       void *ctx),
			     void *ctx, const char **error_r)
{
	struct folder_ctx fctx = { .account = account };
	int ret;

	if (account_ok(account, error_r) < 0)
		return -1;
	if (pgsql_single(store, folder_iter_body, &fctx, error_r) < 0)
		return -1;
	ret = 0;
	for (int row = 0; row < PQntuples(fctx.res) && ret == 0; row++) {
		struct store_folder f;

		ret = pgsql_folder_decode(PGSQL(store), fctx.res, row, &f, error_r);
		if (ret == 0) {
			ret = fn(&f, ctx);
			store_folder_clear(&f);
		}
	}
	PQclear(fctx.res);
	return ret;
}

/* --- the UID map -------------------------------------------------------------------- */

static int message_copied_body(struct pgsql_store *pg, void *context,
			       const char **error_r)
{
	struct folder_ctx *ctx = context;
	struct pgsql_params p;
	PGresult *res;
	uint64_t rows;
	int created;

	/* Mapped before: nothing changes (LMDB looks before it looks
	 * at the account, and so does this). */
	msgmap_params(&p, ctx);
	pgsql_param_u64(&p, ctx->new_uid);
	if (pgsql_run(pg, "mapping a message",
		      "INSERT INTO mailmigrate.msgmap (account, folder,"
		      " uidvalidity, old_uid, new_uid, flags_hash)"
		      " VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT DO NOTHING",
		      &p, &rows, error_r) < 0)
		return -1;
	if (rows == 0)
		return STORE_EXISTS;
	if (account_lock(pg, ctx->account, error_r) < 0)
		return -1;
	/* A folder not recorded yet is made, with the message's
	 * UIDVALIDITY; last_uid moves only within that UIDVALIDITY. */
	msgmap_params(&p, ctx);
	pgsql_param_u64(&p, ctx->size);
	res = pgsql_exec(pg, "counting a copied message",
			 "INSERT INTO mailmigrate.folders AS fo (account, name,"
			 " uidvalidity, last_uid, messages, bytes)"
			 " VALUES ($1, $2, $3, $4, 1, $5)"
			 " ON CONFLICT (account, name) DO UPDATE SET"
			 " last_uid = CASE WHEN fo.uidvalidity = EXCLUDED.uidvalidity"
			 " AND EXCLUDED.last_uid > fo.last_uid"
			 " THEN EXCLUDED.last_uid ELSE fo.last_uid END,"
			 " messages = fo.messages + 1,"
			 " bytes = fo.bytes + EXCLUDED.bytes"
			 " RETURNING xmax = 0", &p, error_r);
	if (res == NULL)
		return -1;
	created = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	pgsql_param_u64(&p, ctx->size);
	pgsql_param_i64(&p, ctx->now);
	pgsql_param_u64(&p, created ? 1 : 0);
	if (pgsql_run(pg, "counting a copied message",
		      "UPDATE mailmigrate.accounts SET messages = messages + 1,"
		      " bytes = bytes + $2, updated = $3, folders = folders + $4"
		      " WHERE name = $1", &p, NULL, error_r) < 0)
		return -1;
	return rate_add(pg, ctx->now, 1, ctx->size, error_r);
}

static int pgsql_message_copied(struct store *store, const char *account,
				const char *folder, uint32_t uidvalidity,
				uint32_t old_uid, uint32_t new_uid,
				uint64_t size, time_t now, const char **error_r)
{
	struct folder_ctx ctx = { .account = account, .name = folder,
				  .uidvalidity = uidvalidity, .old_uid = old_uid,
				  .new_uid = new_uid, .size = size, .now = now };

	if (folder_ok(account, folder, error_r) < 0)
		return -1;
	return pgsql_write(store, message_copied_body, &ctx, error_r);
}

static int msgmap_get_body(struct pgsql_store *pg, void *context,
			   const char **error_r)
{
	struct folder_ctx *ctx = context;
	struct pgsql_params p;
	PGresult *res;
	int bad = 0;

	msgmap_params(&p, ctx);
	res = pgsql_exec(pg, "reading the UID map",
			 "SELECT new_uid, flags_hash FROM mailmigrate.msgmap"
			 " WHERE account = $1 AND folder = $2 AND uidvalidity = $3"
			 " AND old_uid = $4", &p, error_r);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return STORE_NOTFOUND;
	}
	*ctx->new_uid_r = pgsql_get_u32(res, 0, 0, &bad);
	ctx->flags_hash = pgsql_get_u32(res, 0, 1, &bad);
	PQclear(res);
	if (bad)
		return store_fail(error_r, "damaged UID map entry");
	return 0;
}

static int pgsql_msgmap_get_flags(struct store *store, const char *account,
				  const char *folder, uint32_t uidvalidity,
				  uint32_t old_uid, uint32_t *new_uid_r,
				  uint32_t *flags_hash_r, const char **error_r)
{
	struct folder_ctx ctx = { .account = account, .name = folder,
				  .uidvalidity = uidvalidity, .old_uid = old_uid,
				  .new_uid_r = new_uid_r };
	int ret;

	if (folder_ok(account, folder, error_r) < 0)
		return -1;
	/* Once per message in the copy loop: one round trip. */
	ret = pgsql_single(store, msgmap_get_body, &ctx, error_r);
	if (ret == 0)
		*flags_hash_r = ctx.flags_hash;
	return ret;
}

static int msgmap_list_body(struct pgsql_store *pg, void *context,
			    const char **error_r)
{
	struct folder_ctx *ctx = context;
	struct pgsql_params p;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	pgsql_param_bstr(&p, ctx->name);
	pgsql_param_u64(&p, ctx->uidvalidity);
	ctx->res = pgsql_exec(pg, "reading the UID map",
			      "SELECT old_uid, new_uid, flags_hash FROM mailmigrate.msgmap"
			      " WHERE account = $1 AND folder = $2 AND uidvalidity = $3"
			      " ORDER BY old_uid", &p, error_r);
	return ctx->res == NULL ? -1 : 0;
}

/* One statement for the folder's whole map (the verification's). */
static int pgsql_msgmap_list(struct store *store, const char *account,
			     const char *folder, uint32_t uidvalidity,
			     struct store_msgmap_entry **entries_r, size_t *count_r,
			     const char **error_r)
{
	struct folder_ctx ctx = { .account = account, .name = folder,
				  .uidvalidity = uidvalidity };
	struct store_msgmap_entry *e;
	int rows, bad = 0;

	if (folder_ok(account, folder, error_r) < 0 ||
	    pgsql_single(store, msgmap_list_body, &ctx, error_r) < 0)
		return -1;
	rows = PQntuples(ctx.res);
	if (rows == 0) {
		PQclear(ctx.res);
		return 0;
	}
	e = mm_reallocarray(NULL, (size_t)rows, sizeof(*e));
	for (int row = 0; row < rows; row++) {
		e[row].old_uid = pgsql_get_u32(ctx.res, row, 0, &bad);
		e[row].new_uid = pgsql_get_u32(ctx.res, row, 1, &bad);
		e[row].flags_hash = pgsql_get_u32(ctx.res, row, 2, &bad);
	}
	PQclear(ctx.res);
	if (bad) {
		mm_free(&e);
		return store_fail(error_r, "damaged UID map entry");
	}
	*entries_r = e;
	*count_r = (size_t)rows;
	return 0;
}

static int pgsql_msgmap_get(struct store *store, const char *account,
			    const char *folder, uint32_t uidvalidity,
			    uint32_t old_uid, uint32_t *new_uid_r,
			    const char **error_r)
{
	uint32_t flags_hash;

	return pgsql_msgmap_get_flags(store, account, folder, uidvalidity,
				      old_uid, new_uid_r, &flags_hash, error_r);
}

static int msgmap_set_flags_body(struct pgsql_store *pg, void *context,
				 const char **error_r)
{
	struct folder_ctx *ctx = context;
	struct pgsql_params p;
	uint64_t rows;

	msgmap_params(&p, ctx);
	pgsql_param_u64(&p, ctx->flags_hash);
	if (pgsql_run(pg, "writing the flags of a message",
		      "UPDATE mailmigrate.msgmap SET flags_hash = $5"
		      " WHERE account = $1 AND folder = $2 AND uidvalidity = $3"
		      " AND old_uid = $4", &p, &rows, error_r) < 0)
		return -1;
	return rows == 0 ? STORE_NOTFOUND : 0;
}

static int pgsql_msgmap_set_flags(struct store *store, const char *account,
				  const char *folder, uint32_t uidvalidity,
				  uint32_t old_uid, uint32_t flags_hash,
				  const char **error_r)
{
	struct folder_ctx ctx = { .account = account, .name = folder,
				  .uidvalidity = uidvalidity, .old_uid = old_uid,
				  .flags_hash = flags_hash };

	if (folder_ok(account, folder, error_r) < 0)
		return -1;
	return pgsql_single_write(store, msgmap_set_flags_body, &ctx, error_r);
}

static int msgmap_forget_body(struct pgsql_store *pg, void *context,
			      const char **error_r)
{
	struct folder_ctx *ctx = context;
	struct pgsql_params p;
	uint64_t rows;

	msgmap_params(&p, ctx);
	if (pgsql_run(pg, "forgetting a copied message",
		      "DELETE FROM mailmigrate.msgmap WHERE account = $1"
		      " AND folder = $2 AND uidvalidity = $3 AND old_uid = $4",
		      &p, &rows, error_r) < 0)
		return -1;
	return rows == 0 ? STORE_NOTFOUND : 0;
}

static int pgsql_msgmap_forget(struct store *store, const char *account,
			       const char *folder, uint32_t uidvalidity,
			       uint32_t old_uid, const char **error_r)
{
	struct folder_ctx ctx = { .account = account, .name = folder,
				  .uidvalidity = uidvalidity, .old_uid = old_uid };

	if (folder_ok(account, folder, error_r) < 0)
		return -1;
	return pgsql_single_write(store, msgmap_forget_body, &ctx, error_r);
}

/* --- POP3 UIDLs ------------------------------------------------------------------- */

static void uidl_params(struct pgsql_params *p, const struct folder_ctx *ctx)
{
	pgsql_params_init(p);
	pgsql_param_str(p, ctx->account);
	pgsql_param_bstr(p, ctx->uidl);
}

static int uidl_add_body(struct pgsql_store *pg, void *context,
			 const char **error_r)
{
	struct folder_ctx *ctx = context;
	struct pgsql_params p;
	uint64_t rows;

	/* One statement: of two sessions claiming one UIDL, one wins. */
	uidl_params(&p, ctx);
	pgsql_param_i64(&p, ctx->now);
	if (pgsql_run(pg, "claiming a UIDL",
		      "INSERT INTO mailmigrate.uidls (account, uidl, added)"
		      " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", &p, &rows,
		      error_r) < 0)
		return -1;
	return rows == 0 ? STORE_EXISTS : 0;
}

static int pgsql_uidl_add(struct store *store, const char *account,
			  const char *uidl, time_t now, const char **error_r)
{
	struct folder_ctx ctx = { .account = account, .uidl = uidl, .now = now };

	if (uidl_ok(account, uidl, error_r) < 0)
		return -1;
	return pgsql_single_write(store, uidl_add_body, &ctx, error_r);
}

static int uidl_has_body(struct pgsql_store *pg, void *context,
			 const char **error_r)
{
	struct folder_ctx *ctx = context;
	struct pgsql_params p;
	PGresult *res;
	int ret;

	uidl_params(&p, ctx);
	res = pgsql_exec(pg, "looking for a UIDL",
			 "SELECT 1 FROM mailmigrate.uidls WHERE account = $1"
			 " AND uidl = $2", &p, error_r);
	if (res == NULL)
		return -1;
	ret = PQntuples(res) > 0 ? 1 : 0;
	PQclear(res);
	return ret;
}

static int pgsql_uidl_has(struct store *store, const char *account,
			  const char *uidl, const char **error_r)
{
	struct folder_ctx ctx = { .account = account, .uidl = uidl };

	if (uidl_ok(account, uidl, error_r) < 0)
		return -1;
	return pgsql_single(store, uidl_has_body, &ctx, error_r);
}

static int uidl_forget_body(struct pgsql_store *pg, void *context,
			    const char **error_r)
{
	struct folder_ctx *ctx = context;
	struct pgsql_params p;
	uint64_t rows;

	uidl_params(&p, ctx);
	if (pgsql_run(pg, "forgetting a UIDL",
		      "DELETE FROM mailmigrate.uidls WHERE account = $1"
		      " AND uidl = $2", &p, &rows, error_r) < 0)
		return -1;
	return rows == 0 ? STORE_NOTFOUND : 0;
}

static int pgsql_uidl_forget(struct store *store, const char *account,
			     const char *uidl, const char **error_r)
{
	struct folder_ctx ctx = { .account = account, .uidl = uidl };

	if (uidl_ok(account, uidl, error_r) < 0)
		return -1;
	return pgsql_single_write(store, uidl_forget_body, &ctx, error_r);
}

static int uidl_count_body(struct pgsql_store *pg, void *context,
			   const char **error_r)
{
	struct folder_ctx *ctx = context;
	struct pgsql_params p;
	PGresult *res;
	int bad = 0;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	res = pgsql_exec(pg, "counting UIDLs",
			 "SELECT count(*) FROM mailmigrate.uidls WHERE account = $1",
			 &p, error_r);
	if (res == NULL)
		return -1;
	ctx->count = pgsql_get_u64(res, 0, 0, &bad);
	PQclear(res);
	return bad ? pgsql_damaged(pg, "UIDL count", error_r) : 0;
}

static int pgsql_uidl_count(struct store *store, const char *account,
			    uint64_t *count_r, const char **error_r)
{
	struct folder_ctx ctx = { .account = account };
	int ret;

	if (account_ok(account, error_r) < 0)
		return -1;
	ret = pgsql_single(store, uidl_count_body, &ctx, error_r);
	if (ret == 0)
		*count_r = ctx.count;
	return ret;
}

/* --- binary array parameters --------------------------------------------------------- */

/*
 * A one-dimensional array in PostgreSQL's binary format (what
 * array_recv() reads): ndim, a has-nulls flag, the element type's OID,
 * the length and lower bound of the dimension, then each element as a
 * 4-byte length (-1: NULL) and its bytes, all in network order. The
 * statement names the type ($n::bigint[]), which the header's OID
 * must match. Binary, so bytea elements (UIDLs) need no quoting.
 */
#define PG_OID_BYTEA 17
#define PG_OID_INT8 20
#define ARRAY_HEADER 20

struct pg_array {
	unsigned char *buf;
	size_t len, size;
	uint32_t count;
	int has_null;
};

static void array_reserve(struct pg_array *a, size_t n)
{
	if (a->len + n <= a->size)
		return;
	while (a->len + n > a->size)
		a->size = a->size == 0 ? 256 : a->size * 2;
	a->buf = mm_realloc(a->buf, a->size);
}

static void array_init(struct pg_array *a, uint32_t elem_oid)
{
	memset(a, 0, sizeof(*a));
	array_reserve(a, ARRAY_HEADER);
	store_be32(a->buf, 1);		/* ndim */
	store_be32(a->buf + 4, 0);	/* has nulls: set by array_end() */
	store_be32(a->buf + 8, elem_oid);
	store_be32(a->buf + 12, 0);	/* length: set by array_end() */
	store_be32(a->buf + 16, 1);	/* lower bound */
	a->len = ARRAY_HEADER;
}

static void array_add_int8(struct pg_array *a, uint64_t v)
{
	array_reserve(a, 12);
	store_be32(a->buf + a->len, 8);
	store_be32(a->buf + a->len + 4, (uint32_t)(v >> 32));
	store_be32(a->buf + a->len + 8, (uint32_t)v);
	a->len += 12;
	a->count++;
}

/* data NULL: an SQL NULL element. */
static void array_add_bytes(struct pg_array *a, const void *data, size_t len)
{
	array_reserve(a, 4 + (data == NULL ? 0 : len));
	if (data == NULL) {
		store_be32(a->buf + a->len, 0xffffffffU);
		a->len += 4;
		a->has_null = 1;
	} else {
		store_be32(a->buf + a->len, (uint32_t)len);
		memcpy(a->buf + a->len + 4, data, len);
		a->len += 4 + len;
	}
	a->count++;
}

static void array_end(struct pg_array *a)
{
	store_be32(a->buf + 4, (uint32_t)a->has_null);
	store_be32(a->buf + 12, a->count);
}

static void array_free(struct pg_array *a)
{
	mm_free(&a->buf);
}

/* --- a later round's flag changes, many at once ------------------------------------------ */

struct flags_many_ctx {
	const char *account, *folder;
	uint32_t uidvalidity;
	const struct store_msgmap_entry *entries;
	size_t count;
};

static int flags_many_body(struct pgsql_store *pg, void *context,
			   const char **error_r)
{
	struct flags_many_ctx *ctx = context;
	struct pg_array uids, hashes;
	struct pgsql_params p;
	uint64_t rows;
	int ret;

	array_init(&uids, PG_OID_INT8);
	array_init(&hashes, PG_OID_INT8);
	for (size_t i = 0; i < ctx->count; i++) {
		array_add_int8(&uids, ctx->entries[i].old_uid);
		array_add_int8(&hashes, ctx->entries[i].flags_hash);
	}
	array_end(&uids);
	array_end(&hashes);
	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	pgsql_param_bstr(&p, ctx->folder);
	pgsql_param_u64(&p, ctx->uidvalidity);
	pgsql_param_bytes(&p, uids.buf, uids.len);
	pgsql_param_bytes(&p, hashes.buf, hashes.len);
	ret = pgsql_run(pg, "writing the flags of messages",
			"UPDATE mailmigrate.msgmap AS m SET flags_hash = u.flags_hash"
			" FROM unnest($4::bigint[], $5::bigint[]) AS u(old_uid, flags_hash)"
			" WHERE m.account = $1 AND m.folder = $2 AND m.uidvalidity = $3"
			" AND m.old_uid = u.old_uid", &p, &rows, error_r);
	array_free(&uids);
	array_free(&hashes);
	return ret < 0 ? -1 : 0;
}

/* One statement for all of them (arrays), as store_batch_done(). */
static int pgsql_msgmap_set_flags_many(struct store *store, const char *account,
				       const char *folder, uint32_t uidvalidity,
				       const struct store_msgmap_entry *entries,
				       size_t count, const char **error_r)
{
	struct flags_many_ctx ctx = { account, folder, uidvalidity, entries, count };

	if (folder_ok(account, folder, error_r) < 0)
		return -1;
	return pgsql_single_write(store, flags_many_body, &ctx, error_r);
}

/* --- copy batches -------------------------------------------------------------------- */

/* The messages of a pending batch as one record (the backend-neutral
 * codec): a count, then each message's fields. */
void pgsql_batch_msgs_encode(const struct store_batch *b, struct rec_writer *w)
{
	rec_init(w, BATCH_MSGS_VERSION);
	rec_put_u32(w, (uint32_t)b->count);
	for (size_t i = 0; i < b->count; i++) {
		rec_put_u32(w, b->msgs[i].old_uid);
		rec_put_u64(w, b->msgs[i].size);
		rec_put_str(w, b->msgs[i].internaldate);
		rec_put_str(w, b->msgs[i].uidl);
		rec_put_u32(w, b->msgs[i].flags_hash);
		rec_put_u64(w, b->msgs[i].message_id_hash);
	}
}

int pgsql_batch_msgs_decode(const unsigned char *data, size_t len,
			     struct store_batch *b)
{
	struct rec_reader r;
	uint32_t n;

	if (rec_begin(&r, data, len) != BATCH_MSGS_VERSION)
		return -1;
	n = rec_get_u32(&r);
	if (r.bad || n == 0 || n > STORE_MAX_BATCH)
		return -1;
	b->msgs = mm_calloc(n, sizeof(*b->msgs));
	b->count = n;
	for (uint32_t i = 0; i < n && !r.bad; i++) {
		struct store_batch_msg *m = &b->msgs[i];
		char *date, *uidl;

		m->old_uid = rec_get_u32(&r);
		m->size = rec_get_u64(&r);
		date = rec_get_str(&r);
		uidl = rec_get_str(&r);
		m->flags_hash = rec_get_u32(&r);
		m->message_id_hash = rec_get_u64(&r);
		if (date != NULL && strlen(date) < sizeof(m->internaldate) &&
		    uidl != NULL && strlen(uidl) < sizeof(m->uidl)) {
			memcpy(m->internaldate, date, strlen(date) + 1);
			memcpy(m->uidl, uidl, strlen(uidl) + 1);
		} else {
			r.bad = 1;
		}
		mm_free(&date);
		mm_free(&uidl);
	}
	return rec_end_ok(&r) ? 0 : -1;
}

struct batch_ctx {
	const char *account;
	unsigned slot;		/* the pending record's (store_batch_begin()) */
	const struct store_batch *in;
	struct store_batch *out;
	const uint32_t *new_uids;
	const struct store_batch *next;	/* batch_done: pending after it */
	time_t now;
	const struct store_failed *failed;
	PGresult *res;		/* failed_iter: the rows, read after the txn */
};

/* What LMDB would refuse to key or fail to read back: the account,
 * the folder names, the messages' UIDLs, with dates their dates. */
static int batch_ok(const char *account, const struct store_batch *b,
		    int dates, const char **error_r)
{
	if (b->folder == NULL || b->target_folder == NULL)
		return store_fail(error_r, "batch without a folder");
	if (folder_ok(account, b->folder, error_r) < 0 ||
	    folder_ok(account, b->target_folder, error_r) < 0)
		return -1;
	for (size_t i = 0; i < b->count; i++) {
		if (dates && memchr(b->msgs[i].internaldate, '\0',
				    sizeof(b->msgs[i].internaldate)) == NULL)
			return store_fail(error_r, "batch message %zu: bad date", i);
		if (memchr(b->msgs[i].uidl, '\0', sizeof(b->msgs[i].uidl)) == NULL)
			return store_fail(error_r, "batch message %zu: bad UIDL", i);
	}
	return 0;
}

static int batch_begin_body(struct pgsql_store *pg, void *context,
			    const char **error_r)
{
	struct batch_ctx *ctx = context;
	const struct store_batch *b = ctx->in;
	struct pgsql_params p;
	struct rec_writer w;
	int ret;

	pgsql_batch_msgs_encode(b, &w);
	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	pgsql_param_bstr(&p, b->folder);
	pgsql_param_u64(&p, b->uidvalidity);
	pgsql_param_bstr(&p, b->target_folder);
	pgsql_param_u64(&p, b->target_uidvalidity);
	pgsql_param_u64(&p, b->target_uidnext);
	pgsql_param_bytes(&p, w.buf, w.len);
	pgsql_param_u64(&p, ctx->slot);
	ret = pgsql_run(pg, "recording a pending batch",
			"INSERT INTO mailmigrate.batches (account, folder,"
			" uidvalidity, target_folder, target_uidvalidity,"
			" target_uidnext, msgs, slot) VALUES ($1, $2, $3, $4, $5,"
			" $6, $7, $8)"
			" ON CONFLICT (account, slot) DO UPDATE SET"
			" folder = EXCLUDED.folder,"
			" uidvalidity = EXCLUDED.uidvalidity,"
			" target_folder = EXCLUDED.target_folder,"
			" target_uidvalidity = EXCLUDED.target_uidvalidity,"
			" target_uidnext = EXCLUDED.target_uidnext,"
			" msgs = EXCLUDED.msgs", &p, NULL, error_r);
	rec_free(&w);
	return ret;
}

static int pgsql_batch_begin(struct store *store, const char *account,
			     unsigned slot, const struct store_batch *batch,
			     const char **error_r)
{
	struct batch_ctx ctx = { .account = account, .slot = slot, .in = batch };

	if (batch->count == 0 || batch->count > STORE_MAX_BATCH)
		return store_fail(error_r, "batch of %zu messages (1..%d allowed)",
				  batch->count, STORE_MAX_BATCH);
	if (batch_ok(account, batch, 1, error_r) < 0)
		return -1;
	return pgsql_single_write(store, batch_begin_body, &ctx, error_r);
}

static int batch_pending_body(struct pgsql_store *pg, void *context,
			      const char **error_r)
{
	struct batch_ctx *ctx = context;
	struct store_batch *b = ctx->out;
	struct pgsql_params p;
	unsigned char *msgs;
	size_t len;
	PGresult *res;
	int bad = 0;

	store_batch_clear(b);
	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	pgsql_param_u64(&p, ctx->slot);
	res = pgsql_exec(pg, "reading the pending batch",
			 "SELECT folder, uidvalidity, target_folder,"
			 " target_uidvalidity, target_uidnext, msgs"
			 " FROM mailmigrate.batches WHERE account = $1 AND slot = $2",
			 &p, error_r);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return STORE_NOTFOUND;
	}
	b->folder = pgsql_get_bstr(res, 0, 0, STORE_MAX_FOLDER, &bad);
	b->uidvalidity = pgsql_get_u32(res, 0, 1, &bad);
	b->target_folder = pgsql_get_bstr(res, 0, 2, STORE_MAX_FOLDER, &bad);
	b->target_uidvalidity = pgsql_get_u32(res, 0, 3, &bad);
	b->target_uidnext = pgsql_get_u32(res, 0, 4, &bad);
	if (pgsql_get_bytes(res, 0, 5, &msgs, &len) < 0)
		bad = 1;
	PQclear(res);
	if (!bad && (msgs == NULL || pgsql_batch_msgs_decode(msgs, len, b) < 0))
		bad = 1;
	mm_free(&msgs);
	if (bad || b->folder == NULL || b->target_folder == NULL) {
		store_batch_clear(b);
		return store_fail(error_r, "damaged pending batch record");
	}
	return 0;
}

static int pgsql_batch_pending(struct store *store, const char *account,
			       unsigned slot, struct store_batch *batch_r,
			       const char **error_r)
{
	struct batch_ctx ctx = { .account = account, .slot = slot, .out = batch_r };
	int ret;

	memset(batch_r, 0, sizeof(*batch_r));
	ret = pgsql_single(store, batch_pending_body, &ctx, error_r);
	if (ret != 0)
		store_batch_clear(batch_r);
	return ret;
}

/*
 * The batch reached NEW, in one statement after the account's row is
 * locked: the appended messages (new UID not 0) come as parallel
 * arrays; an IMAP message is mapped unless it was (its first copy in
 * the batch wins, as on LMDB), a POP3 message's UIDL is claimed
 * unless it was; only what this inserted is counted in the folder
 * (made if new, with the batch's names and UIDVALIDITYs), in the
 * account and in the rate; last_uid moves to the highest UID mapped
 * when the folder's UIDVALIDITY is the batch's; the pending record
 * goes. The CTEs touch different tables, so the order PostgreSQL
 * runs them in does not matter.
 *	$1 account, $2 folder, $3 uidvalidity, $4 target folder,
 *	$5 target uidvalidity, $6 now, $7..$11 old UIDs, new UIDs, flags
 *	hashes, sizes, UIDLs (NULL for IMAP), $12 the pending slot. Two
 *	slots of one account (a split) record one after the other: the
 *	account's row lock orders them, and the counters are added to.
 */
static const char batch_done_sql[] =
	"WITH m AS ("
	" SELECT * FROM unnest($7::bigint[], $8::bigint[], $9::bigint[],"
	" $10::bigint[], $11::bytea[]) WITH ORDINALITY"
	" AS m(old_uid, new_uid, flags_hash, size, uidl, ord)),"
	" imap AS (SELECT DISTINCT ON (old_uid) old_uid, new_uid, flags_hash,"
	" size FROM m WHERE uidl IS NULL ORDER BY old_uid, ord),"
	" pop AS (SELECT DISTINCT ON (uidl) uidl, size FROM m"
	" WHERE uidl IS NOT NULL ORDER BY uidl, ord),"
	" mapped AS (INSERT INTO mailmigrate.msgmap (account, folder, uidvalidity,"
	" old_uid, new_uid, flags_hash) SELECT $1, $2, $3, old_uid, new_uid,"
	" flags_hash FROM imap ON CONFLICT DO NOTHING RETURNING old_uid),"
	" claimed AS (INSERT INTO mailmigrate.uidls (account, uidl, added)"
	" SELECT $1, uidl, $6 FROM pop ON CONFLICT DO NOTHING RETURNING uidl),"
	" n AS (SELECT"
	" (SELECT count(*) FROM mapped) + (SELECT count(*) FROM claimed)"
	" AS messages,"
	" (SELECT coalesce(sum(imap.size), 0) FROM mapped JOIN imap USING (old_uid))"
	" + (SELECT coalesce(sum(pop.size), 0) FROM claimed JOIN pop USING (uidl))"
	" AS bytes,"
	" (SELECT coalesce(max(old_uid), 0) FROM mapped) AS last_uid),"
	" f AS (INSERT INTO mailmigrate.folders AS fo (account, name, target_name,"
	" uidvalidity, target_uidvalidity, last_uid, messages, bytes)"
	" SELECT $1, $2, $4, $3, $5, n.last_uid, n.messages, n.bytes FROM n"
	" ON CONFLICT (account, name) DO UPDATE SET"
	" last_uid = CASE WHEN fo.uidvalidity = EXCLUDED.uidvalidity"
	" AND EXCLUDED.last_uid > fo.last_uid"
	" THEN EXCLUDED.last_uid ELSE fo.last_uid END,"
	" messages = fo.messages + EXCLUDED.messages,"
	" bytes = fo.bytes + EXCLUDED.bytes"
	" RETURNING xmax = 0 AS created),"
	" a AS (UPDATE mailmigrate.accounts AS ac SET"
	" messages = ac.messages + n.messages, bytes = ac.bytes + n.bytes,"
	" updated = $6, folders = ac.folders"
	" + (SELECT count(*) FROM f WHERE created)"
	" FROM n WHERE ac.name = $1 RETURNING 1),"
	" d AS (DELETE FROM mailmigrate.batches WHERE account = $1"
	" AND slot = $12)"
	" SELECT n.messages::bigint, n.bytes::bigint, (SELECT count(*) FROM a)"
	" FROM n";

static int batch_done_body(struct pgsql_store *pg, void *context,
			   const char **error_r)
{
	struct batch_ctx *ctx = context;
	const struct store_batch *b = ctx->in;
	struct pg_array old_uids, new_uids, flags, sizes, uidls;
	struct pgsql_params p;
	uint64_t messages = 0, bytes = 0;
	PGresult *res;
	int bad = 0;

	if (account_lock(pg, ctx->account, error_r) < 0)
		return -1;
	array_init(&old_uids, PG_OID_INT8);
	array_init(&new_uids, PG_OID_INT8);
	array_init(&flags, PG_OID_INT8);
	array_init(&sizes, PG_OID_INT8);
	array_init(&uidls, PG_OID_BYTEA);
	for (size_t i = 0; i < b->count; i++) {
		const struct store_batch_msg *m = &b->msgs[i];

		if (ctx->new_uids[i] == 0)
			continue;	/* not appended */
		array_add_int8(&old_uids, m->old_uid);
		array_add_int8(&new_uids, ctx->new_uids[i]);
		array_add_int8(&flags, m->flags_hash);
		array_add_int8(&sizes, m->size);
		/* POP3: the UIDL is the identity; numbers are not. */
		array_add_bytes(&uidls, m->uidl[0] != '\0' ? m->uidl : NULL,
				strlen(m->uidl));
	}
	array_end(&old_uids);
	array_end(&new_uids);
	array_end(&flags);
	array_end(&sizes);
	array_end(&uidls);
	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	pgsql_param_bstr(&p, b->folder);
	pgsql_param_u64(&p, b->uidvalidity);
	pgsql_param_bstr(&p, b->target_folder);
	pgsql_param_u64(&p, b->target_uidvalidity);
	pgsql_param_i64(&p, ctx->now);
	pgsql_param_bytes(&p, old_uids.buf, old_uids.len);
	pgsql_param_bytes(&p, new_uids.buf, new_uids.len);
	pgsql_param_bytes(&p, flags.buf, flags.len);
	pgsql_param_bytes(&p, sizes.buf, sizes.len);
	pgsql_param_bytes(&p, uidls.buf, uidls.len);
	pgsql_param_u64(&p, ctx->slot);
	res = pgsql_exec(pg, "recording a copied batch", batch_done_sql, &p,
			 error_r);
	array_free(&old_uids);
	array_free(&new_uids);
	array_free(&flags);
	array_free(&sizes);
	array_free(&uidls);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		messages = pgsql_get_u64(res, 0, 0, &bad);
		bytes = pgsql_get_u64(res, 0, 1, &bad);
		if (pgsql_get_u64(res, 0, 2, &bad) != 1)
			bad = 1;
	} else {
		bad = 1;
	}
	PQclear(res);
	if (bad)
		return store_fail(error_r, "store postgresql:%s: account "
				  "'%.200s': a batch counted wrong", pg->where,
				  ctx->account);
	if (rate_add(pg, ctx->now, messages, bytes, error_r) < 0)
		return -1;
	if (ctx->next != NULL) {
		/* The next pending batch, in the same transaction. */
		struct batch_ctx next = { .account = ctx->account, .slot = ctx->slot,
					  .in = ctx->next };

		return batch_begin_body(pg, &next, error_r);
	}
	return 0;
}

static int pgsql_batch_done(struct store *store, const char *account,
			    unsigned slot, const struct store_batch *batch,
			    const uint32_t *new_uids, const struct store_batch *next,
			    time_t now, const char **error_r)
{
	struct batch_ctx ctx = { .account = account, .slot = slot, .in = batch,
				 .new_uids = new_uids, .next = next, .now = now };

	if (batch->count > STORE_MAX_BATCH)
		return store_fail(error_r, "batch of %zu messages (1..%d allowed)",
				  batch->count, STORE_MAX_BATCH);
	if (batch_ok(account, batch, 0, error_r) < 0 ||
	    (next != NULL && batch_ok(account, next, 1, error_r) < 0))
		return -1;
	return pgsql_write(store, batch_done_body, &ctx, error_r);
}

static int batch_abort_body(struct pgsql_store *pg, void *context,
			    const char **error_r)
{
	struct batch_ctx *ctx = context;
	struct pgsql_params p;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	pgsql_param_u64(&p, ctx->slot);
	return pgsql_run(pg, "dropping the pending batch",
			 "DELETE FROM mailmigrate.batches WHERE account = $1"
			 " AND slot = $2", &p, NULL, error_r);
}

static int pgsql_batch_abort(struct store *store, const char *account,
			     unsigned slot, const char **error_r)
{
	struct batch_ctx ctx = { .account = account, .slot = slot };

	return pgsql_single_write(store, batch_abort_body, &ctx, error_r);
}

/* --- failed items ------------------------------------------------------------------ */

static int failed_add_body(struct pgsql_store *pg, void *context,
			   const char **error_r)
{
	struct batch_ctx *ctx = context;
	const struct store_failed *it = ctx->failed;
	struct pgsql_params p;

	/* Recorded again: updated, and counted once. */
	if (account_lock(pg, it->account, error_r) < 0)
		return -1;
	pgsql_params_init(&p);
	pgsql_param_str(&p, it->account);
	pgsql_param_bstr(&p, it->folder);
	pgsql_param_u64(&p, it->uidvalidity);
	pgsql_param_u64(&p, it->uid);
	pgsql_param_u64(&p, it->size);
	pgsql_param_i64(&p, it->time);
	pgsql_param_bytes(&p, it->reason, strnlen(it->reason, FAILED_REASON_MAX));
	return pgsql_run(pg, "recording a failed item",
			 "WITH f AS (INSERT INTO mailmigrate.failed (account,"
			 " folder, uidvalidity, uid, size, time, reason)"
			 " VALUES ($1, $2, $3, $4, $5, $6, $7)"
			 " ON CONFLICT (account, folder, uidvalidity, uid)"
			 " DO UPDATE SET size = EXCLUDED.size,"
			 " time = EXCLUDED.time, reason = EXCLUDED.reason"
			 " RETURNING xmax = 0 AS fresh)"
			 " UPDATE mailmigrate.accounts SET errors = errors + 1,"
			 " updated = $6 WHERE name = $1"
			 " AND (SELECT fresh FROM f)", &p, NULL, error_r);
}

static int pgsql_failed_add(struct store *store, const struct store_failed *item,
			    const char **error_r)
{
	struct batch_ctx ctx = { .failed = item };

	if (item->account == NULL || item->folder == NULL || item->reason == NULL)
		return store_fail(error_r, "failed item without account, folder "
				  "or reason");
	if (folder_ok(item->account, item->folder, error_r) < 0)
		return -1;
	return pgsql_write(store, failed_add_body, &ctx, error_r);
}

static int failed_del_body(struct pgsql_store *pg, void *context,
			   const char **error_r)
{
	struct batch_ctx *ctx = context;
	const struct store_failed *it = ctx->failed;
	struct pgsql_params p;
	PGresult *res;
	int n;

	/* Gone, and uncounted (never below 0) if the account exists. */
	pgsql_params_init(&p);
	pgsql_param_str(&p, it->account);
	pgsql_param_bstr(&p, it->folder);
	pgsql_param_u64(&p, it->uidvalidity);
	pgsql_param_u64(&p, it->uid);
	res = pgsql_exec(pg, "dropping a failed item",
			 "WITH d AS (DELETE FROM mailmigrate.failed"
			 " WHERE account = $1 AND folder = $2 AND uidvalidity = $3"
			 " AND uid = $4 RETURNING 1),"
			 " a AS (UPDATE mailmigrate.accounts SET errors = errors - 1"
			 " WHERE name = $1 AND errors > 0"
			 " AND EXISTS (SELECT 1 FROM d) RETURNING 1)"
			 " SELECT count(*) FROM d", &p, error_r);
	if (res == NULL)
		return -1;
	n = strcmp(PQgetvalue(res, 0, 0), "0") != 0;
	PQclear(res);
	return n ? 0 : STORE_NOTFOUND;
}

static int pgsql_failed_del(struct store *store, const char *account,
			    const char *folder, uint32_t uidvalidity,
			    uint32_t uid, const char **error_r)
{
	struct store_failed it = { (char *)account, (char *)folder, uidvalidity,
				   uid, 0, 0, NULL };
	struct batch_ctx ctx = { .failed = &it };

	if (folder_ok(account, folder, error_r) < 0)
		return -1;
	return pgsql_single_write(store, failed_del_body, &ctx, error_r);
}

static int failed_iter_body(struct pgsql_store *pg, void *context,
			    const char **error_r)
{
	struct batch_ctx *ctx = context;
	struct pgsql_params p;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	ctx->res = pgsql_exec(pg, "reading the failed items",
			      "SELECT account, folder, uidvalidity, uid, size, time,"
			      " reason FROM mailmigrate.failed"
			      " WHERE $1::text IS NULL OR account = $1"
			      " ORDER BY account COLLATE \"C\", folder, uidvalidity,"
			      " uid", &p, error_r);
	return ctx->res == NULL ? -1 : 0;
}

static int pgsql_failed_iter(struct store *store, const char *account,
			     int (*fn)(const struct store_failed *item,
				       void *ctx),
			     void *ctx, const char **error_r)
{
	struct batch_ctx bctx = { .account = account };
	int ret = 0;

	if (pgsql_single(store, failed_iter_body, &bctx, error_r) < 0)
		return -1;
	for (int row = 0; row < PQntuples(bctx.res) && ret == 0; row++) {
		struct store_failed it;
		int bad = 0;

		memset(&it, 0, sizeof(it));
		it.account = pgsql_get_str(bctx.res, row, 0);
		it.folder = pgsql_get_bstr(bctx.res, row, 1, STORE_MAX_FOLDER, &bad);
		it.uidvalidity = pgsql_get_u32(bctx.res, row, 2, &bad);
		it.uid = pgsql_get_u32(bctx.res, row, 3, &bad);
		it.size = pgsql_get_u64(bctx.res, row, 4, &bad);
		it.time = pgsql_get_i64(bctx.res, row, 5, &bad);
		it.reason = pgsql_get_bstr(bctx.res, row, 6, FAILED_REASON_MAX,
					   &bad);
		if (bad || it.account == NULL || it.folder == NULL ||
		    it.reason == NULL)
			ret = store_fail(error_r, "damaged failed-item record");
		else
			ret = fn(&it, ctx);
		store_failed_clear(&it);
	}
	PQclear(bctx.res);
	return ret;
}

/* --- forgetting progress: reset ----------------------------------------------------- */

/* The rows of an account's copy progress: folders, UID map, UIDLs,
 * failed items, the Sieve, DAV and ACL records, the pending batch. ACCOUNTS is the condition on a
 * table's account column. The tables differ, so the order the
 * deletes run in does not matter. */
#define FORGET_SQL(ACCOUNTS) \
	"WITH f AS (DELETE FROM mailmigrate.folders WHERE account " ACCOUNTS ")," \
	" m AS (DELETE FROM mailmigrate.msgmap WHERE account " ACCOUNTS ")," \
	" u AS (DELETE FROM mailmigrate.uidls WHERE account " ACCOUNTS ")," \
	" x AS (DELETE FROM mailmigrate.failed WHERE account " ACCOUNTS ")," \
	" s AS (DELETE FROM mailmigrate.sieve WHERE account " ACCOUNTS ")," \
	" d AS (DELETE FROM mailmigrate.dav WHERE account " ACCOUNTS ")," \
	" a AS (DELETE FROM mailmigrate.acl WHERE account " ACCOUNTS ")" \
	" DELETE FROM mailmigrate.batches WHERE account " ACCOUNTS

#define EVERY_ACCOUNT "IN (SELECT name FROM mailmigrate.accounts)"

int pgsql_folder_forget_txn(struct pgsql_store *pg, const char *account,
			    const char **error_r)
{
	struct pgsql_params p;

	pgsql_params_init(&p);
	pgsql_param_str(&p, account);
	return pgsql_run(pg, "forgetting copy progress", FORGET_SQL("= $1"),
			 &p, NULL, error_r);
}

/* The account fields a reset zeroes; $1 is now. Passwords-only
 * accounts stay passwords-only, every other goes back to queued. */
#define RESET_SET \
	"UPDATE mailmigrate.accounts SET messages = 0, bytes = 0, folders = 0," \
	" errors = 0, late_mail = 0, copy_started = 0, copy_finished = 0," \
	" finished = 0, last_error = NULL, updated = $1," \
	" state = CASE WHEN state = $2 THEN state ELSE $3 END"

struct reset_ctx {
	const char *account;
	time_t now;
};

static void reset_params(struct pgsql_params *p, time_t now)
{
	pgsql_params_init(p);
	pgsql_param_i64(p, now);
	pgsql_param_u64(p, STORE_STATE_PASSWORDS_ONLY);
	pgsql_param_u64(p, STORE_STATE_QUEUED);
}

/* One account, as LMDB's reset_one(): its row first (locked by the
 * UPDATE; none is STORE_NOTFOUND, nothing written), then its progress,
 * then its job, cancelled and, when it is queued, queued anew at the
 * back. */
static int reset_one(struct pgsql_store *pg, const char *account, time_t now,
		     const char **error_r)
{
	struct pgsql_params p;
	PGresult *res;
	uint64_t id;
	int bad = 0, state;

	reset_params(&p, now);
	pgsql_param_str(&p, account);
	res = pgsql_exec(pg, "resetting an account",
			 RESET_SET " WHERE name = $4 RETURNING state", &p, error_r);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return STORE_NOTFOUND;
	}
	state = (int)pgsql_get_u32(res, 0, 0, &bad);
	PQclear(res);
	if (bad)
		return pgsql_damaged(pg, "account state", error_r);
	if (pgsql_folder_forget_txn(pg, account, error_r) < 0 ||
	    pgsql_job_cancel_txn(pg, account, error_r) < 0)
		return -1;
	if (state == STORE_STATE_QUEUED &&
	    pgsql_job_enqueue_txn(pg, account, STORE_JOB_COPY, now, &id,
				  error_r) < 0)
		return -1;
	return 0;
}

/* Every account, set-wise with the same outcome as reset_one() in
 * name order (the new jobs queue in that order). */
static int reset_all(struct pgsql_store *pg, time_t now, const char **error_r)
{
	struct pgsql_params p;

	reset_params(&p, now);
	if (pgsql_run(pg, "resetting the accounts", RESET_SET, &p, NULL,
		      error_r) < 0 ||
	    pgsql_run(pg, "forgetting copy progress", FORGET_SQL(EVERY_ACCOUNT),
		      NULL, NULL, error_r) < 0 ||
	    pgsql_run(pg, "cancelling the jobs",
		      "DELETE FROM mailmigrate.jobs WHERE account " EVERY_ACCOUNT,
		      NULL, NULL, error_r) < 0)
		return -1;
	pgsql_params_init(&p);
	pgsql_param_u64(&p, STORE_JOB_COPY);
	pgsql_param_i64(&p, now);
	pgsql_param_u64(&p, STORE_STATE_QUEUED);
	return pgsql_run(pg, "queueing the copies",
			 "INSERT INTO mailmigrate.jobs (account, kind, enqueued)"
			 " SELECT name, $1, $2 FROM mailmigrate.accounts"
			 " WHERE state = $3 ORDER BY name COLLATE \"C\"", &p,
			 NULL, error_r);
}

static int reset_body(struct pgsql_store *pg, void *context,
		      const char **error_r)
{
	struct reset_ctx *ctx = context;

	if (ctx->account != NULL)
		return reset_one(pg, ctx->account, ctx->now, error_r);
	return reset_all(pg, ctx->now, error_r);
}

static int pgsql_reset(struct store *store, const char *account, time_t now,
		       const char **error_r)
{
	struct reset_ctx ctx = { account, now };

	return pgsql_write(store, reset_body, &ctx, error_r);
}

void pgsql_vfuncs_folder(struct store_vfuncs *v)
{
	v->folder_get = pgsql_folder_get;
	v->folder_put = pgsql_folder_put;
	v->folder_iter = pgsql_folder_iter;
	v->message_copied = pgsql_message_copied;
	v->msgmap_get = pgsql_msgmap_get;
	v->msgmap_list = pgsql_msgmap_list;
	v->msgmap_set_flags_many = pgsql_msgmap_set_flags_many;
	v->msgmap_forget = pgsql_msgmap_forget;
	v->msgmap_get_flags = pgsql_msgmap_get_flags;
	v->msgmap_set_flags = pgsql_msgmap_set_flags;
	v->batch_begin = pgsql_batch_begin;
	v->batch_pending = pgsql_batch_pending;
	v->batch_done = pgsql_batch_done;
	v->batch_abort = pgsql_batch_abort;
	v->failed_add = pgsql_failed_add;
	v->failed_del = pgsql_failed_del;
	v->failed_iter = pgsql_failed_iter;
	v->uidl_add = pgsql_uidl_add;
	v->uidl_has = pgsql_uidl_has;
	v->uidl_forget = pgsql_uidl_forget;
	v->uidl_count = pgsql_uidl_count;
	v->reset = pgsql_reset;
}
