/*
 * NAME
 *	store_pgsql_proposal 3
 * SUMMARY
 *	the PostgreSQL store: alias proposals
 * DESCRIPTION
 *	mailmigrate.proposals holds one row per (alias, account): its
 *	state (pending, rejected, approved, trusted), the header kinds
 *	the address was seen in, the messages it was seen in, and the
 *	first and last time a round saw it. The rules are those of the
 *	LMDB backend (store_proposal.c): a pending proposal is no alias;
 *	approving one adds the alias (pgsql_alias_attach_txn()) and keeps
 *	the row as its origin; a rejected one is kept so later rounds do
 *	not propose it again; creating an account drops an alias and the
 *	proposals of its name (pgsql_proposal_forget_txn()).
 *
 *	Rows are listed in byte order of alias, then account (the
 *	columns are COLLATE "C"), as LMDB's "alias\0account" keys are.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mm_alloc.h"
#include "store_pgsql.h"

/* Row row of a SELECT PGSQL_PROPOSAL_COLUMNS into *p: 0 or -1. */
int pgsql_proposal_decode(struct pgsql_store *pg, PGresult *res, int row,
			   struct store_proposal *p, const char **error_r)
{
	uint32_t state;
	int bad = 0;

	memset(p, 0, sizeof(*p));
	p->alias = pgsql_get_str(res, row, 0);
	p->account = pgsql_get_str(res, row, 1);
	state = pgsql_get_u32(res, row, 2, &bad);
	p->state = (enum store_proposal_state)state;
	p->sources = pgsql_get_u32(res, row, 3, &bad);
	p->count = pgsql_get_u64(res, row, 4, &bad);
	p->first_seen = pgsql_get_i64(res, row, 5, &bad);
	p->last_seen = pgsql_get_i64(res, row, 6, &bad);
	if (bad || p->alias == NULL || p->account == NULL ||
	    p->alias[0] == '\0' || p->account[0] == '\0' ||
	    state > STORE_PROPOSAL_TRUSTED) {
		store_proposal_clear(p);
		return pgsql_damaged(pg, "alias proposal record", error_r);
	}
	return 0;
}

/* account's record for alias, locked: 0 with *p, STORE_NOTFOUND, -1. */
static int proposal_load(struct pgsql_store *pg, const char *alias,
			 const char *account, struct store_proposal *p,
			 const char **error_r)
{
	struct pgsql_params params;
	PGresult *res;
	int ret;

	memset(p, 0, sizeof(*p));
	pgsql_params_init(&params);
	pgsql_param_str(&params, alias);
	pgsql_param_str(&params, account);
	res = pgsql_exec(pg, "reading an alias proposal",
			 "SELECT " PGSQL_PROPOSAL_COLUMNS " FROM mailmigrate.proposals"
			 " WHERE alias = $1 AND account = $2 FOR UPDATE", &params,
			 error_r);
	if (res == NULL)
		return -1;
	ret = PQntuples(res) == 0 ? STORE_NOTFOUND :
		pgsql_proposal_decode(pg, res, 0, p, error_r);
	PQclear(res);
	return ret;
}

static int proposal_save(struct pgsql_store *pg, const struct store_proposal *p,
			 const char **error_r)
{
	struct pgsql_params params;

	pgsql_params_init(&params);
	pgsql_param_str(&params, p->alias);
	pgsql_param_str(&params, p->account);
	pgsql_param_u64(&params, (uint64_t)p->state);
	pgsql_param_u64(&params, p->sources);
	pgsql_param_u64(&params, p->count);
	pgsql_param_i64(&params, p->first_seen);
	pgsql_param_i64(&params, p->last_seen);
	return pgsql_run(pg, "writing an alias proposal",
			 "INSERT INTO mailmigrate.proposals (" PGSQL_PROPOSAL_COLUMNS ")"
			 " VALUES ($1, $2, $3, $4, $5, $6, $7)"
			 " ON CONFLICT (alias, account) DO UPDATE SET"
			 " state = EXCLUDED.state, sources = EXCLUDED.sources,"
			 " count = EXCLUDED.count, first_seen = EXCLUDED.first_seen,"
			 " last_seen = EXCLUDED.last_seen", &params, NULL, error_r);
}

/* Lowercase and check an alias argument into buf (STORE_MAX_ACCOUNT). */
static int proposal_name(const char *alias, char *buf, const char **error_r)
{
	return store_account_name(alias, NULL, buf, STORE_MAX_ACCOUNT, error_r);
}

/* Is name an account, or some account's alias? 1, 0, or -1. */
static int proposal_taken(struct pgsql_store *pg, const char *name,
			  const char **error_r)
{
	struct pgsql_params p;
	PGresult *res;
	int ret;

	pgsql_params_init(&p);
	pgsql_param_str(&p, name);
	res = pgsql_exec(pg, "looking a name up",
			 "SELECT EXISTS (SELECT 1 FROM mailmigrate.accounts"
			 " WHERE name = $1) OR EXISTS (SELECT 1 FROM"
			 " mailmigrate.aliases WHERE alias = $1)", &p, error_r);
	if (res == NULL)
		return -1;
	ret = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return ret;
}

/* --- add, trust ------------------------------------------------------------------ */

struct proposal_add_ctx {
	const char *account;
	const char *alias;
	unsigned sources;
	uint64_t count;
	time_t now;
};

static int proposal_add_txn(struct pgsql_store *pg, void *context,
			    const char **error_r)
{
	struct proposal_add_ctx *ctx = context;
	struct pgsql_params p;
	uint64_t rows;

	/* One statement: nothing for a name that is taken (an account or
	 * an alias) or that the administrator rejected for this account;
	 * else a new pending row, or one added to (an approved or trusted
	 * row whose alias is gone is proposed again). */
	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->alias);
	pgsql_param_str(&p, ctx->account);
	pgsql_param_u64(&p, ctx->sources);
	pgsql_param_u64(&p, ctx->count);
	pgsql_param_i64(&p, ctx->now);
	pgsql_param_u64(&p, STORE_PROPOSAL_PENDING);
	pgsql_param_u64(&p, STORE_PROPOSAL_REJECTED);
	if (pgsql_run(pg, "adding an alias proposal",
		      "INSERT INTO mailmigrate.proposals AS p (" PGSQL_PROPOSAL_COLUMNS ")"
		      " SELECT $1, $2, $6::smallint, $3::integer, $4::bigint,"
		      " $5::bigint, $5::bigint"
		      " WHERE NOT EXISTS (SELECT 1 FROM mailmigrate.accounts"
		      " WHERE name = $1) AND NOT EXISTS (SELECT 1 FROM"
		      " mailmigrate.aliases WHERE alias = $1)"
		      " ON CONFLICT (alias, account) DO UPDATE SET state = $6,"
		      " sources = p.sources | EXCLUDED.sources,"
		      " count = p.count + EXCLUDED.count, last_seen = EXCLUDED.last_seen"
		      " WHERE p.state <> $7", &p, &rows, error_r) < 0)
		return -1;
	return rows == 0 ? STORE_EXISTS : 0;
}

static int pgsql_proposal_add(struct store *store, const char *account,
			      const char *alias, unsigned sources, uint64_t count,
			      time_t now, const char **error_r)
{
	char lower[STORE_MAX_ACCOUNT];
	struct proposal_add_ctx ctx = { account, lower, sources, count, now };

	if (proposal_name(alias, lower, error_r) < 0)
		return -1;
	if (strcmp(lower, account) == 0)
		return STORE_EXISTS;
	return pgsql_single_write(store, proposal_add_txn, &ctx, error_r);
}

/* Give alias to account (record and index) and keep p as its origin
 * with state; drop the other accounts' proposals of it but their
 * rejections (the alias may be taken away again). Nothing is written
 * unless the alias could be given (attach returns 0). */
static int proposal_grant_txn(struct pgsql_store *pg, struct store_proposal *p,
			      enum store_proposal_state state, time_t now,
			      const char **error_r)
{
	struct pgsql_params params;
	int ret;

	ret = pgsql_alias_attach_txn(pg, p->account, p->alias, error_r);
	if (ret != 0)
		return ret;
	pgsql_params_init(&params);
	pgsql_param_str(&params, p->alias);
	pgsql_param_str(&params, p->account);
	pgsql_param_u64(&params, STORE_PROPOSAL_REJECTED);
	if (pgsql_run(pg, "dropping moot alias proposals",
		      "DELETE FROM mailmigrate.proposals WHERE alias = $1"
		      " AND account <> $2 AND state <> $3", &params, NULL,
		      error_r) < 0)
		return -1;
	p->state = state;
	p->last_seen = now;
	if (p->first_seen == 0)
		p->first_seen = now;
	return proposal_save(pg, p, error_r);
}

static int proposal_trust_txn(struct pgsql_store *pg, void *context,
			      const char **error_r)
{
	struct proposal_add_ctx *ctx = context;
	struct store_proposal p;
	int ret;

	ret = proposal_load(pg, ctx->alias, ctx->account, &p, error_r);
	if (ret < 0)
		return -1;
	if (ret == STORE_NOTFOUND) {
		p.alias = mm_strdup(ctx->alias);
		p.account = mm_strdup(ctx->account);
		p.first_seen = ctx->now;
	}
	p.sources |= ctx->sources;
	p.count += ctx->count;
	ret = proposal_grant_txn(pg, &p, STORE_PROPOSAL_TRUSTED, ctx->now, error_r);
	store_proposal_clear(&p);
	return ret;
}

static int pgsql_proposal_trust(struct store *store, const char *account,
				const char *alias, unsigned sources,
				uint64_t count, time_t now, const char **error_r)
{
	char lower[STORE_MAX_ACCOUNT];
	struct proposal_add_ctx ctx = { account, lower, sources, count, now };

	if (proposal_name(alias, lower, error_r) < 0)
		return -1;
	if (strcmp(lower, account) == 0)
		return STORE_EXISTS;
	return pgsql_write(store, proposal_trust_txn, &ctx, error_r);
}

/* --- approve, reject ----------------------------------------------------------- */

struct proposal_decide_ctx {
	const char *alias;
	const char *account;	/* NULL: the only pending one / all */
	time_t now;
	char chosen[STORE_MAX_ACCOUNT];	/* out: the account approved */
};

static int proposal_approve_txn(struct pgsql_store *pg, void *context,
				const char **error_r)
{
	struct proposal_decide_ctx *ctx = context;
	char text[2 * STORE_MAX_ACCOUNT + 100];
	struct store_proposal p;
	struct pgsql_params params;
	PGresult *res;
	int n, ret;

	ctx->chosen[0] = '\0';
	/* The pending ones (of ctx->account if set), locked, the first in
	 * account order chosen; two are enough to know it is ambiguous. */
	pgsql_params_init(&params);
	pgsql_param_str(&params, ctx->alias);
	pgsql_param_str(&params, ctx->account);
	pgsql_param_u64(&params, STORE_PROPOSAL_PENDING);
	res = pgsql_exec(pg, "reading pending alias proposals",
			 "SELECT account FROM mailmigrate.proposals"
			 " WHERE alias = $1 AND state = $3"
			 " AND ($2::text IS NULL OR account = $2)"
			 " ORDER BY account LIMIT 2 FOR UPDATE", &params, error_r);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	if (n > 0)
		snprintf(ctx->chosen, sizeof(ctx->chosen), "%s",
			 PQgetvalue(res, 0, 0));
	PQclear(res);
	if (n == 0)
		return STORE_NOTFOUND;
	if (n > 1)
		return STORE_AMBIGUOUS;
	ret = proposal_taken(pg, ctx->alias, error_r);
	if (ret != 0)
		return ret < 0 ? -1 : STORE_EXISTS;
	ret = proposal_load(pg, ctx->alias, ctx->chosen, &p, error_r);
	if (ret != 0)
		return ret < 0 ? -1 : STORE_NOTFOUND;
	ret = proposal_grant_txn(pg, &p, STORE_PROPOSAL_APPROVED, ctx->now, error_r);
	store_proposal_clear(&p);
	if (ret != 0)
		return ret;
	snprintf(text, sizeof(text), "alias %s approved by the administrator",
		 ctx->alias);
	return pgsql_event_add_txn(pg, ctx->now, LOG_SEV_INFO, ctx->chosen, text,
				   error_r);
}

static int pgsql_proposal_approve(struct store *store, const char *alias,
				  const char *account, time_t now,
				  char *account_r, size_t size,
				  const char **error_r)
{
	char lower[STORE_MAX_ACCOUNT];
	struct proposal_decide_ctx ctx = { lower, account, now, "" };
	int ret;

	if (proposal_name(alias, lower, error_r) < 0)
		return -1;
	ret = pgsql_write(store, proposal_approve_txn, &ctx, error_r);
	if (account_r != NULL && size > 0)
		snprintf(account_r, size, "%s", ctx.chosen);
	return ret;
}

static int proposal_reject_txn(struct pgsql_store *pg, void *context,
			       const char **error_r)
{
	struct proposal_decide_ctx *ctx = context;
	char text[STORE_MAX_ACCOUNT + 100];
	struct pgsql_params params;
	uint64_t rows;

	pgsql_params_init(&params);
	pgsql_param_str(&params, ctx->alias);
	pgsql_param_str(&params, ctx->account);
	pgsql_param_u64(&params, STORE_PROPOSAL_PENDING);
	pgsql_param_u64(&params, STORE_PROPOSAL_REJECTED);
	if (pgsql_run(pg, "rejecting alias proposals",
		      "UPDATE mailmigrate.proposals SET state = $4"
		      " WHERE alias = $1 AND state = $3"
		      " AND ($2::text IS NULL OR account = $2)", &params, &rows,
		      error_r) < 0)
		return -1;
	if (rows == 0)
		return STORE_NOTFOUND;
	snprintf(text, sizeof(text), "alias %s rejected by the administrator",
		 ctx->alias);
	return pgsql_event_add_txn(pg, ctx->now, LOG_SEV_INFO, ctx->account, text,
				   error_r);
}

static int pgsql_proposal_reject(struct store *store, const char *alias,
				 const char *account, time_t now,
				 const char **error_r)
{
	char lower[STORE_MAX_ACCOUNT];
	struct proposal_decide_ctx ctx = { lower, account, now, "" };

	if (proposal_name(alias, lower, error_r) < 0)
		return -1;
	return pgsql_write(store, proposal_reject_txn, &ctx, error_r);
}

/* --- iteration, an account's name taken back ----------------------------------- */

static int proposal_iter_txn(struct pgsql_store *pg, void *context,
			     const char **error_r)
{
	PGresult **res = context;

	*res = pgsql_exec(pg, "reading the alias proposals",
			  "SELECT " PGSQL_PROPOSAL_COLUMNS " FROM mailmigrate.proposals"
			  " ORDER BY alias, account", NULL, error_r);
	return *res == NULL ? -1 : 0;
}

static int pgsql_proposal_iter(struct store *store,
			       int (*fn)(const struct store_proposal *p, void *ctx),
			       void *ctx, const char **error_r)
{
	PGresult *res = NULL;
	int ret = 0;

	if (pgsql_single(store, proposal_iter_txn, &res, error_r) < 0)
		return -1;
	for (int row = 0; row < PQntuples(res) && ret == 0; row++) {
		struct store_proposal p;

		ret = pgsql_proposal_decode(PGSQL(store), res, row, &p, error_r);
		if (ret == 0) {
			ret = fn(&p, ctx);
			store_proposal_clear(&p);
		}
	}
	PQclear(res);
	return ret;
}

int pgsql_proposal_forget_txn(struct pgsql_store *pg, const char *name,
			      time_t now, const char **error_r)
{
	char owner[STORE_MAX_ACCOUNT], text[2 * STORE_MAX_ACCOUNT + 120];
	struct pgsql_params p;
	uint64_t pending;
	PGresult *res;
	int ret;

	/* Under the name's lock: an alias of it indexed by a writer that
	 * committed before is seen here; one that comes after sees the
	 * account (store_pgsql_alias.c). */
	if (pgsql_name_lock(pg, name, error_r) < 0)
		return -1;
	ret = pgsql_alias_detach_txn(pg, name, owner, sizeof(owner), error_r);
	if (ret < 0)
		return -1;
	if (ret == 0) {
		snprintf(text, sizeof(text), "alias %s removed: %s is an account now",
			 name, name);
		if (pgsql_event_add_txn(pg, now, LOG_SEV_WARNING, owner, text,
					error_r) < 0)
			return -1;
	}
	pgsql_params_init(&p);
	pgsql_param_str(&p, name);
	pgsql_param_u64(&p, STORE_PROPOSAL_PENDING);
	res = pgsql_exec(pg, "dropping alias proposals",
			 "WITH gone AS (DELETE FROM mailmigrate.proposals"
			 " WHERE alias = $1 RETURNING state)"
			 " SELECT count(*) FROM gone WHERE state = $2", &p, error_r);
	if (res == NULL)
		return -1;
	ret = 0;
	pending = pgsql_get_u64(res, 0, 0, &ret);
	PQclear(res);
	if (ret)
		return pgsql_damaged(pg, "proposal count", error_r);
	if (pending > 0) {
		snprintf(text, sizeof(text), "alias proposal %s dropped: %s is an "
			 "account now", name, name);
		if (pgsql_event_add_txn(pg, now, LOG_SEV_INFO, name, text,
					error_r) < 0)
			return -1;
	}
	return 0;
}

void pgsql_vfuncs_proposal(struct store_vfuncs *v)
{
	v->proposal_add = pgsql_proposal_add;
	v->proposal_trust = pgsql_proposal_trust;
	v->proposal_approve = pgsql_proposal_approve;
	v->proposal_reject = pgsql_proposal_reject;
	v->proposal_iter = pgsql_proposal_iter;
}
