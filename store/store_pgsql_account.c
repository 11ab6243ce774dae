/*
 * NAME
 *	store_pgsql_account 3
 * SUMMARY
 *	the PostgreSQL store: accounts and their sealed passwords
 * DESCRIPTION
 *	One row per account in mailmigrate.accounts; the record's
 *	aliases are a text[] column kept as the LMDB record keeps them,
 *	the alias index is mailmigrate.aliases (store_pgsql_alias.c).
 *	A change is a row locked FOR UPDATE, changed and written back in
 *	one transaction; counters the relay bumps are one UPDATE.
 *	Iterations read every row in one snapshot and call back after
 *	the transaction, so a callback may use the store.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mm_alloc.h"
#include "store_pgsql.h"

static int aliases_ok(const struct store_account *acct, const char **error_r)
{
	if (acct->aliases_count > STORE_MAX_ALIASES)
		return store_fail(error_r, "account '%.200s': over %d aliases",
				  acct->name, STORE_MAX_ALIASES);
	for (size_t i = 0; i < acct->aliases_count; i++) {
		if (acct->aliases[i][0] == '\0' ||
		    strchr(acct->aliases[i], '\n') != NULL)
			return store_fail(error_r, "account '%.200s': bad alias",
					  acct->name);
	}
	return 0;
}

/* Row row of a SELECT PGSQL_ACCOUNT_COLUMNS into *acct_r: 0 or -1. */
int pgsql_account_decode(struct pgsql_store *pg, PGresult *res, int row,
			  struct store_account *acct_r, const char **error_r)
{
	const char *list;
	int bad = 0;
	uint32_t state;

	memset(acct_r, 0, sizeof(*acct_r));
	acct_r->name = pgsql_get_str(res, row, 0);
	acct_r->domain = pgsql_get_str(res, row, 1);
	state = pgsql_get_u32(res, row, 2, &bad);
	acct_r->state = (enum store_state)state;
	acct_r->flags = pgsql_get_u32(res, row, 3, &bad);
	acct_r->password_hash = pgsql_get_str(res, row, 4);
	acct_r->created = pgsql_get_i64(res, row, 5, &bad);
	acct_r->updated = pgsql_get_i64(res, row, 6, &bad);
	acct_r->copy_started = pgsql_get_i64(res, row, 7, &bad);
	acct_r->copy_finished = pgsql_get_i64(res, row, 8, &bad);
	acct_r->finished = pgsql_get_i64(res, row, 9, &bad);
	acct_r->messages = pgsql_get_u64(res, row, 10, &bad);
	acct_r->bytes = pgsql_get_u64(res, row, 11, &bad);
	acct_r->folders = pgsql_get_u64(res, row, 12, &bad);
	acct_r->errors = pgsql_get_u64(res, row, 13, &bad);
	acct_r->late_mail = pgsql_get_u64(res, row, 14, &bad);
	acct_r->last_error = pgsql_get_bstr(res, row, 15, 65536, &bad);
	list = PQgetvalue(res, row, 16);
	if (*list != '\0') {
		size_t n = 1;

		for (const char *p = list; *p != '\0'; p++)
			n += *p == '\n';
		if (n > STORE_MAX_ALIASES) {
			bad = 1;
		} else {
			acct_r->aliases = mm_calloc(n, sizeof(char *));
			for (const char *p = list;; ) {
				size_t len = strcspn(p, "\n");

				acct_r->aliases[acct_r->aliases_count++] =
					mm_strndup(p, len);
				if (p[len] == '\0')
					break;
				p += len + 1;
			}
		}
	}
	if (bad || acct_r->name == NULL || acct_r->domain == NULL ||
	    state >= STORE_STATE_COUNT) {
		char name[STORE_MAX_ACCOUNT];

		snprintf(name, sizeof(name), "%s", PQgetvalue(res, row, 0));
		store_account_clear(acct_r);
		return store_fail(error_r, "account '%.200s': damaged record", name);
	}
	return 0;
}

int pgsql_account_load(struct pgsql_store *pg, const char *name, int lock,
		       struct store_account *acct_r, const char **error_r)
{
	struct pgsql_params p;
	PGresult *res;
	int ret;

	memset(acct_r, 0, sizeof(*acct_r));
	pgsql_params_init(&p);
	pgsql_param_str(&p, name);
	res = pgsql_exec(pg, "reading an account", lock ?
			 "SELECT " PGSQL_ACCOUNT_COLUMNS " FROM mailmigrate.accounts"
			 " WHERE name = $1 FOR UPDATE" :
			 "SELECT " PGSQL_ACCOUNT_COLUMNS " FROM mailmigrate.accounts"
			 " WHERE name = $1", &p, error_r);
	if (res == NULL)
		return -1;
	ret = PQntuples(res) == 0 ? STORE_NOTFOUND :
		pgsql_account_decode(pg, res, 0, acct_r, error_r);
	PQclear(res);
	return ret;
}

/* The columns after name, $2..$17, as account_write_sql lists them. */
static void account_params(struct pgsql_params *p,
			   const struct store_account *acct, char **aliases_r)
{
	*aliases_r = pgsql_names_join(acct->aliases, acct->aliases_count);
	pgsql_params_init(p);
	pgsql_param_str(p, acct->name);
	pgsql_param_str(p, acct->domain);
	pgsql_param_u64(p, (uint64_t)acct->state);
	pgsql_param_u64(p, acct->flags);
	pgsql_param_str(p, acct->password_hash);
	pgsql_param_i64(p, acct->created);
	pgsql_param_i64(p, acct->updated);
	pgsql_param_i64(p, acct->copy_started);
	pgsql_param_i64(p, acct->copy_finished);
	pgsql_param_i64(p, acct->finished);
	pgsql_param_u64(p, acct->messages);
	pgsql_param_u64(p, acct->bytes);
	pgsql_param_u64(p, acct->folders);
	pgsql_param_u64(p, acct->errors);
	pgsql_param_u64(p, acct->late_mail);
	pgsql_param_bstr(p, acct->last_error);
	pgsql_param_str(p, *aliases_r);
}

#define ACCOUNT_ALIASES_PARAM \
	"CASE WHEN $17 = '' THEN '{}'::text[] ELSE string_to_array($17, E'\\n') END"

int pgsql_account_save(struct pgsql_store *pg, const struct store_account *acct,
		       const char **error_r)
{
	struct pgsql_params p;
	uint64_t rows;
	char *aliases;
	int ret;

	if (aliases_ok(acct, error_r) < 0)
		return -1;
	account_params(&p, acct, &aliases);
	ret = pgsql_run(pg, "writing an account",
			"UPDATE mailmigrate.accounts SET domain = $2, state = $3,"
			" flags = $4, password_hash = $5, created = $6, updated = $7,"
			" copy_started = $8, copy_finished = $9, finished = $10,"
			" messages = $11, bytes = $12, folders = $13, errors = $14,"
			" late_mail = $15, last_error = $16, aliases = "
			ACCOUNT_ALIASES_PARAM " WHERE name = $1", &p, &rows, error_r);
	mm_free(&aliases);
	if (ret < 0)
		return -1;
	return rows == 0 ? STORE_NOTFOUND : 0;
}

/* Insert acct: 0, STORE_EXISTS (nothing written), or -1. */
static int account_insert(struct pgsql_store *pg, const struct store_account *acct,
			  const char **error_r)
{
	struct pgsql_params p;
	uint64_t rows;
	char *aliases;
	int ret;

	if (aliases_ok(acct, error_r) < 0)
		return -1;
	account_params(&p, acct, &aliases);
	ret = pgsql_run(pg, "adding an account",
			"INSERT INTO mailmigrate.accounts (name, domain, state,"
			" flags, password_hash, created, updated, copy_started,"
			" copy_finished, finished, messages, bytes, folders,"
			" errors, late_mail, last_error, aliases) VALUES ($1, $2,"
			" $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,"
			" $16, " ACCOUNT_ALIASES_PARAM ")"
			" ON CONFLICT (name) DO NOTHING", &p, &rows, error_r);
	mm_free(&aliases);
	if (ret < 0)
		return -1;
	return rows == 0 ? STORE_EXISTS : 0;
}

/* --- create, requeue --------------------------------------------------------- */

struct account_create_ctx {
	const struct store_account *acct;
	const char *password;
	time_t now;
};

static int account_create_txn(struct pgsql_store *pg, void *context,
			      const char **error_r)
{
	struct account_create_ctx *ctx = context;
	struct store_account acct = *ctx->acct;
	uint64_t started, id;
	int ret;

	acct.created = acct.updated = ctx->now;
	/* The insert first: an existing account changes nothing. */
	ret = account_insert(pg, &acct, error_r);
	if (ret != 0)
		return ret;
	/* Someone's alias (or a proposal) of this name: the account wins. */
	if (pgsql_proposal_forget_txn(pg, acct.name, ctx->now, error_r) < 0)
		return -1;
	if (acct.aliases_count > 0 &&
	    pgsql_alias_reindex_txn(pg, acct.name, NULL, 0, acct.aliases,
				    acct.aliases_count, error_r) < 0)
		return -1;
	if (ctx->password != NULL &&
	    pgsql_cred_set_txn(pg, acct.name, ctx->password, error_r) < 0)
		return -1;
	if (acct.state == STORE_STATE_QUEUED &&
	    pgsql_job_enqueue_txn(pg, acct.name, STORE_JOB_COPY, ctx->now, &id,
				  error_r) < 0)
		return -1;
	if (pgsql_meta_get(pg, "started", &started, error_r) < 0)
		return -1;
	if (started == 0 &&
	    pgsql_meta_put(pg, "started", (uint64_t)ctx->now, error_r) < 0)
		return -1;
	return 0;
}

static int pgsql_account_create(struct store *store,
				const struct store_account *acct,
				const char *password, time_t now,
				const char **error_r)
{
	struct account_create_ctx ctx = { acct, password, now };

	if (acct->name == NULL || acct->domain == NULL)
		return store_fail(error_r, "account without a name or domain");
	if (password != NULL && !store->have_key)
		return store_fail(error_r, "no key loaded to seal the password");
	return pgsql_write(store, account_create_txn, &ctx, error_r);
}

struct account_requeue_ctx {
	const char *name;
	const char *hash;
	const char *password;
	time_t now;
};

static int account_requeue_txn(struct pgsql_store *pg, void *context,
			       const char **error_r)
{
	struct account_requeue_ctx *ctx = context;
	struct store_account acct;
	uint64_t id;
	int ret;

	ret = pgsql_account_load(pg, ctx->name, 1, &acct, error_r);
	if (ret != 0)
		return ret;
	acct.flags |= STORE_ACCOUNT_MESSAGES_ONLY;
	if (ctx->hash != NULL) {
		mm_free(&acct.password_hash);
		acct.password_hash = mm_strdup(ctx->hash);
	}
	/* A copy in progress keeps its state; anything else waits anew. */
	if (acct.state != STORE_STATE_MIGRATING)
		acct.state = STORE_STATE_QUEUED;
	acct.updated = ctx->now;
	ret = pgsql_account_save(pg, &acct, error_r);
	if (ret == 0 && ctx->password != NULL)
		ret = pgsql_cred_set_txn(pg, ctx->name, ctx->password, error_r);
	if (ret == 0)
		ret = pgsql_job_enqueue_txn(pg, ctx->name, STORE_JOB_COPY, ctx->now,
					    &id, error_r) < 0 ? -1 : 0;
	store_account_clear(&acct);
	return ret;
}

static int pgsql_account_requeue(struct store *store, const char *name,
				 const char *password_hash, const char *password,
				 time_t now, const char **error_r)
{
	struct account_requeue_ctx ctx = { name, password_hash, password, now };

	if (password != NULL && !store->have_key)
		return store_fail(error_r, "no key loaded to seal the password");
	return pgsql_write(store, account_requeue_txn, &ctx, error_r);
}

/* --- get, update, put --------------------------------------------------------- */

struct account_get_ctx {
	const char *name;
	struct store_account *acct;
};

static int account_get_txn(struct pgsql_store *pg, void *context,
			   const char **error_r)
{
	struct account_get_ctx *ctx = context;

	return pgsql_account_load(pg, ctx->name, 0, ctx->acct, error_r);
}

static int pgsql_account_get(struct store *store, const char *name,
			     struct store_account *acct_r, const char **error_r)
{
	struct account_get_ctx ctx = { name, acct_r };

	memset(acct_r, 0, sizeof(*acct_r));
	return pgsql_single(store, account_get_txn, &ctx, error_r);
}

struct account_update_ctx {
	const char *name;
	int (*fn)(struct store_account *acct, void *ctx);
	void *fn_ctx;
};

static int account_update_txn(struct pgsql_store *pg, void *context,
			      const char **error_r)
{
	struct account_update_ctx *ctx = context;
	struct store_account acct;
	char **old = NULL;
	size_t old_count;
	int ret;

	ret = pgsql_account_load(pg, ctx->name, 1, &acct, error_r);
	if (ret != 0)
		return ret;
	/* fn may change the aliases: keep the index in step. */
	old_count = acct.aliases_count;
	if (old_count > 0) {
		old = mm_calloc(old_count, sizeof(char *));
		for (size_t i = 0; i < old_count; i++)
			old[i] = mm_strdup(acct.aliases[i]);
	}
	ret = ctx->fn(&acct, ctx->fn_ctx);
	if (ret == 0) {
		/* The key never changes under an update. */
		mm_free(&acct.name);
		acct.name = mm_strdup(ctx->name);
		ret = pgsql_account_save(pg, &acct, error_r);
	}
	if (ret == 0)
		ret = pgsql_alias_reindex_txn(pg, ctx->name, old, old_count,
					      acct.aliases, acct.aliases_count,
					      error_r);
	for (size_t i = 0; i < old_count; i++)
		mm_free(&old[i]);
	mm_free(&old);
	store_account_clear(&acct);
	return ret;
}

static int pgsql_account_update(struct store *store, const char *name,
				int (*fn)(struct store_account *acct, void *ctx),
				void *ctx, const char **error_r)
{
	struct account_update_ctx uctx = { name, fn, ctx };

	return pgsql_write(store, account_update_txn, &uctx, error_r);
}

/* Copy src's fields into dst (which is replaced). */
static int account_replace(struct store_account *dst, void *context)
{
	const struct store_account *src = context;
	char *name = dst->name;

	dst->name = NULL;
	store_account_clear(dst);
	dst->name = name;
	dst->domain = mm_strdup(src->domain);
	dst->state = src->state;
	dst->flags = src->flags;
	dst->password_hash = src->password_hash ? mm_strdup(src->password_hash) : NULL;
	dst->created = src->created;
	dst->updated = src->updated;
	dst->copy_started = src->copy_started;
	dst->copy_finished = src->copy_finished;
	dst->finished = src->finished;
	dst->messages = src->messages;
	dst->bytes = src->bytes;
	dst->folders = src->folders;
	dst->errors = src->errors;
	dst->late_mail = src->late_mail;
	dst->last_error = src->last_error ? mm_strdup(src->last_error) : NULL;
	dst->aliases = mm_calloc(src->aliases_count, sizeof(char *));
	for (size_t i = 0; i < src->aliases_count; i++)
		dst->aliases[i] = mm_strdup(src->aliases[i]);
	dst->aliases_count = src->aliases_count;
	return 0;
}

static int pgsql_account_put(struct store *store, const struct store_account *acct,
			     const char **error_r)
{
	if (acct->domain == NULL)
		return store_fail(error_r, "account without a domain");
	if (aliases_ok(acct, error_r) < 0)
		return -1;
	return pgsql_account_update(store, acct->name, account_replace,
				    (void *)acct, error_r);
}

struct state_ctx {
	enum store_state state;
	time_t now;
};

static int account_set_state(struct store_account *acct, void *context)
{
	const struct state_ctx *ctx = context;

	acct->state = ctx->state;
	acct->updated = ctx->now;
	switch (ctx->state) {
	case STORE_STATE_MIGRATING:
		if (acct->copy_started == 0)
			acct->copy_started = ctx->now;
		break;
	case STORE_STATE_COPIED:
		acct->copy_finished = ctx->now;
		break;
	case STORE_STATE_FINISHED:
		acct->finished = ctx->now;
		if (acct->copy_finished == 0)
			acct->copy_finished = ctx->now;
		break;
	default:
		break;
	}
	return 0;
}

static int pgsql_account_set_state(struct store *store, const char *name,
				   enum store_state state, time_t now,
				   const char **error_r)
{
	struct state_ctx ctx = { state, now };

	if ((unsigned)state >= STORE_STATE_COUNT)
		return store_fail(error_r, "bad account state %d", (int)state);
	return pgsql_account_update(store, name, account_set_state, &ctx, error_r);
}

/* --- the relay's late mail, iteration, passwords ------------------------------ */

struct late_mail_ctx {
	char *const *names;
	size_t count;
};

static int account_late_mail_txn(struct pgsql_store *pg, void *context,
				 const char **error_r)
{
	struct late_mail_ctx *ctx = context;
	struct pgsql_params p;
	char *list;
	int ret;

	/* One statement; names not in the store match no row. */
	list = pgsql_names_join(ctx->names, ctx->count);
	pgsql_params_init(&p);
	pgsql_param_str(&p, list);
	ret = pgsql_run(pg, "counting late mail",
			"UPDATE mailmigrate.accounts SET late_mail = late_mail + 1"
			" WHERE name = ANY (string_to_array($1, E'\\n'))", &p, NULL,
			error_r);
	mm_free(&list);
	return ret;
}

static int pgsql_account_add_late_mail(struct store *store, char *const *names,
				       size_t count, const char **error_r)
{
	struct late_mail_ctx ctx = { names, count };

	if (count == 0)
		return 0;
	for (size_t i = 0; i < count; i++) {
		if (strchr(names[i], '\n') != NULL)
			return store_fail(error_r, "bad account name");
	}
	return pgsql_single_write(store, account_late_mail_txn, &ctx, error_r);
}

static int account_iter_txn(struct pgsql_store *pg, void *context,
			    const char **error_r)
{
	PGresult **res = context;

	*res = pgsql_exec(pg, "reading the accounts", "SELECT " PGSQL_ACCOUNT_COLUMNS
			  " FROM mailmigrate.accounts ORDER BY name COLLATE \"C\"",
			  NULL, error_r);
	return *res == NULL ? -1 : 0;
}

static int pgsql_account_iter(struct store *store,
			      int (*fn)(const struct store_account *acct, void *ctx),
			      void *ctx, const char **error_r)
{
	PGresult *res = NULL;
	int ret;

	if (pgsql_single(store, account_iter_txn, &res, error_r) < 0)
		return -1;
	ret = 0;
	for (int row = 0; row < PQntuples(res) && ret == 0; row++) {
		struct store_account acct;

		ret = pgsql_account_decode(PGSQL(store), res, row, &acct, error_r);
		if (ret == 0) {
			ret = fn(&acct, ctx);
			store_account_clear(&acct);
		}
	}
	PQclear(res);
	return ret;
}

struct set_password_ctx {
	const char *name;
	const char *hash;
	const char *password;
	time_t now;
};

static int set_password_txn(struct pgsql_store *pg, void *context,
			    const char **error_r)
{
	struct set_password_ctx *ctx = context;
	struct store_account acct;
	int ret;

	ret = pgsql_account_load(pg, ctx->name, 1, &acct, error_r);
	if (ret != 0)
		return ret;
	mm_free(&acct.password_hash);
	acct.password_hash = mm_strdup(ctx->hash);
	acct.updated = ctx->now;
	ret = pgsql_account_save(pg, &acct, error_r);
	if (ret == 0 && ctx->password != NULL)
		ret = pgsql_cred_set_txn(pg, ctx->name, ctx->password, error_r);
	store_account_clear(&acct);
	return ret;
}

static int pgsql_account_set_password(struct store *store, const char *name,
				      const char *password_hash,
				      const char *password, time_t now,
				      const char **error_r)
{
	struct set_password_ctx ctx = { name, password_hash, password, now };

	if (password != NULL && !store->have_key)
		return store_fail(error_r, "no key loaded to seal the password");
	return pgsql_write(store, set_password_txn, &ctx, error_r);
}

/* --- sealed passwords ------------------------------------------------------------ */

int pgsql_cred_set_txn(struct pgsql_store *pg, const char *account,
		       const char *password, const char **error_r)
{
	struct pgsql_params p;
	unsigned char *sealed;
	const char *error;
	size_t len;
	int ret;

	if (!pg->store.have_key)
		return store_fail(error_r, "no key loaded to seal the password");
	if (crypto_seal(&pg->store.key, account, password, strlen(password),
			&sealed, &len, &error) < 0)
		return store_fail(error_r, "account '%.200s': %s", account, error);
	pgsql_params_init(&p);
	pgsql_param_str(&p, account);
	pgsql_param_bytes(&p, sealed, len);
	ret = pgsql_run(pg, "storing a sealed password",
			"INSERT INTO mailmigrate.creds (account, sealed)"
			" VALUES ($1, $2) ON CONFLICT (account)"
			" DO UPDATE SET sealed = EXCLUDED.sealed", &p, NULL, error_r);
	mm_free(&sealed);
	return ret;
}

struct cred_ctx {
	const char *account;
	const char *password;
	char **password_r;
};

static int cred_set_txn(struct pgsql_store *pg, void *context,
			const char **error_r)
{
	struct cred_ctx *ctx = context;

	return pgsql_cred_set_txn(pg, ctx->account, ctx->password, error_r);
}

static int pgsql_cred_set(struct store *store, const char *account,
			  const char *password, const char **error_r)
{
	struct cred_ctx ctx = { account, password, NULL };

	return pgsql_single_write(store, cred_set_txn, &ctx, error_r);
}

static int cred_get_txn(struct pgsql_store *pg, void *context,
			const char **error_r)
{
	struct cred_ctx *ctx = context;
	struct pgsql_params p;
	unsigned char *sealed;
	const char *error;
	PGresult *res;
	size_t len;
	int ret;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	res = pgsql_exec(pg, "reading a sealed password",
			 "SELECT sealed FROM mailmigrate.creds WHERE account = $1",
			 &p, error_r);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return STORE_NOTFOUND;
	}
	ret = pgsql_get_bytes(res, 0, 0, &sealed, &len);
	PQclear(res);
	if (ret < 0 || sealed == NULL)
		return pgsql_damaged(pg, "sealed password", error_r);
	ret = crypto_open(&pg->store.key, ctx->account, sealed, len,
			  ctx->password_r, &error);
	mm_free(&sealed);
	if (ret < 0)
		return store_fail(error_r, "%s", error);
	return 0;
}

static int pgsql_cred_get(struct store *store, const char *account,
			  char **password_r, const char **error_r)
{
	struct cred_ctx ctx = { account, NULL, password_r };

	*password_r = NULL;
	if (!store->have_key)
		return store_fail(error_r, "no key loaded to open the password");
	return pgsql_single(store, cred_get_txn, &ctx, error_r);
}

static int cred_has_txn(struct pgsql_store *pg, void *context,
			const char **error_r)
{
	struct cred_ctx *ctx = context;
	struct pgsql_params p;
	PGresult *res;
	int ret;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	res = pgsql_exec(pg, "looking for a sealed password",
			 "SELECT 1 FROM mailmigrate.creds WHERE account = $1",
			 &p, error_r);
	if (res == NULL)
		return -1;
	ret = PQntuples(res) > 0 ? 1 : 0;
	PQclear(res);
	return ret;
}

static int pgsql_cred_has(struct store *store, const char *account,
			  const char **error_r)
{
	struct cred_ctx ctx = { account, NULL, NULL };

	return pgsql_single(store, cred_has_txn, &ctx, error_r);
}

static int cred_wipe_txn(struct pgsql_store *pg, void *context,
			 const char **error_r)
{
	struct cred_ctx *ctx = context;
	struct pgsql_params p;
	uint64_t rows;

	/* The row goes; its dead tuple (sealed bytes, never a password)
	 * stays until VACUUM reclaims it. */
	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	if (pgsql_run(pg, "deleting a sealed password",
		      "DELETE FROM mailmigrate.creds WHERE account = $1", &p,
		      &rows, error_r) < 0)
		return -1;
	return rows == 0 ? STORE_NOTFOUND : 0;
}

static int pgsql_cred_wipe(struct store *store, const char *account,
			   const char **error_r)
{
	struct cred_ctx ctx = { account, NULL, NULL };

	return pgsql_single_write(store, cred_wipe_txn, &ctx, error_r);
}

void pgsql_vfuncs_account(struct store_vfuncs *v)
{
	v->account_create = pgsql_account_create;
	v->account_get = pgsql_account_get;
	v->account_put = pgsql_account_put;
	v->account_update = pgsql_account_update;
	v->account_requeue = pgsql_account_requeue;
	v->account_set_state = pgsql_account_set_state;
	v->account_add_late_mail = pgsql_account_add_late_mail;
	v->account_iter = pgsql_account_iter;
	v->account_set_password = pgsql_account_set_password;
	v->cred_set = pgsql_cred_set;
	v->cred_get = pgsql_cred_get;
	v->cred_has = pgsql_cred_has;
	v->cred_wipe = pgsql_cred_wipe;
}
