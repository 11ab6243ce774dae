/*
 * NAME
 *	store_pgsql_alias 3
 * SUMMARY
 *	the PostgreSQL store: the alias index
 * DESCRIPTION
 *	mailmigrate.aliases maps an alias to the account that holds it;
 *	the account rows keep their own sorted lists, as on LMDB
 *	(store_alias.c is the reference for every rule here): the first
 *	owner keeps an alias, and an account wins over an alias.
 *	Proposals, the other half of the area: store_pgsql_proposal.c.
 * CONCURRENCY
 *	LMDB serialises every writer, so "is this name an account?" and
 *	"index it as an alias" cannot interleave with an account of that
 *	name being made. Here they could (READ COMMITTED, two hosts), so
 *	both sides first take a transaction-scoped advisory lock on the
 *	name (pgsql_name_lock()) and look only after it: whoever comes
 *	second sees what the first committed. Locks are taken after the
 *	account row's lock, in hash order within one statement; a
 *	deadlock that slips through is retried by pgsql_write().
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "mm_alloc.h"
#include "store_pgsql.h"

/* names[0..count) joined by newlines (names hold none). */
char *pgsql_names_join(char *const *names, size_t count)
{
	size_t len = 1;
	char *s, *p;

	for (size_t i = 0; i < count; i++)
		len += strlen(names[i]) + 1;
	s = p = mm_malloc(len);
	for (size_t i = 0; i < count; i++) {
		size_t n = strlen(names[i]);

		if (i > 0)
			*p++ = '\n';
		memcpy(p, names[i], n);
		p += n;
	}
	*p = '\0';
	return s;
}

int pgsql_name_lock(struct pgsql_store *pg, const char *names,
		    const char **error_r)
{
	struct pgsql_params p;

	pgsql_params_init(&p);
	pgsql_param_str(&p, names);
	return pgsql_run(pg, "locking names",
			 "SELECT pg_advisory_xact_lock(" PGSQL_NAME_LOCK ", h)"
			 " FROM (SELECT DISTINCT hashtext(n) AS h"
			 " FROM unnest(string_to_array($1, E'\\n')) n) s ORDER BY h",
			 &p, NULL, error_r);
}

int pgsql_alias_reindex_txn(struct pgsql_store *pg, const char *account,
			    char *const *old, size_t old_count,
			    char *const *new, size_t new_count,
			    const char **error_r)
{
	struct pgsql_params p;
	char *lost, *added;
	int ret = 0;

	lost = pgsql_names_join(old, old_count);
	added = pgsql_names_join(new, new_count);
	/* Aliases the account lost: dropped if they are still its own. */
	if (old_count > 0) {
		pgsql_params_init(&p);
		pgsql_param_str(&p, account);
		pgsql_param_str(&p, lost);
		pgsql_param_str(&p, added);
		ret = pgsql_run(pg, "dropping aliases from the index",
				"DELETE FROM mailmigrate.aliases WHERE account = $1"
				" AND alias = ANY (string_to_array($2, E'\\n'))"
				" AND alias <> ALL (string_to_array($3, E'\\n'))",
				&p, NULL, error_r);
	}
	/* New ones, unless another account was there first, or one is an
	 * account itself: looked at under the names' locks. */
	if (ret == 0 && new_count > 0)
		ret = pgsql_name_lock(pg, added, error_r);
	if (ret == 0 && new_count > 0) {
		pgsql_params_init(&p);
		pgsql_param_str(&p, account);
		pgsql_param_str(&p, added);
		ret = pgsql_run(pg, "indexing aliases",
				"INSERT INTO mailmigrate.aliases (alias, account)"
				" SELECT a, $1 FROM unnest(string_to_array($2, E'\\n')) a"
				" WHERE NOT EXISTS (SELECT 1 FROM mailmigrate.accounts"
				" WHERE name = a) ON CONFLICT (alias) DO NOTHING",
				&p, NULL, error_r);
	}
	mm_free(&lost);
	mm_free(&added);
	return ret;
}

static int alias_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Is name an account (*account_r) and whose alias is it (owner, ""
 * for none)? 0 or -1. */
static int alias_taken(struct pgsql_store *pg, const char *name, int *account_r,
		       char owner[STORE_MAX_ACCOUNT], const char **error_r)
{
	struct pgsql_params p;
	PGresult *res;
	const char *who;

	pgsql_params_init(&p);
	pgsql_param_str(&p, name);
	res = pgsql_exec(pg, "looking a name up",
			 "SELECT EXISTS (SELECT 1 FROM mailmigrate.accounts"
			 " WHERE name = $1), (SELECT account FROM mailmigrate.aliases"
			 " WHERE alias = $1)", &p, error_r);
	if (res == NULL)
		return -1;
	*account_r = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	who = PQgetisnull(res, 0, 1) ? "" : PQgetvalue(res, 0, 1);
	if (strlen(who) >= STORE_MAX_ACCOUNT) {
		PQclear(res);
		return pgsql_damaged(pg, "alias index entry", error_r);
	}
	memcpy(owner, who, strlen(who) + 1);
	PQclear(res);
	return 0;
}

int pgsql_alias_attach_txn(struct pgsql_store *pg, const char *account,
			   const char *alias, const char **error_r)
{
	char owner[STORE_MAX_ACCOUNT];
	struct store_account acct;
	struct pgsql_params p;
	int ret, is_account;

	ret = pgsql_account_load(pg, account, 1, &acct, error_r);
	if (ret != 0)
		return ret;
	for (size_t i = 0; i < acct.aliases_count; i++) {
		if (strcmp(acct.aliases[i], alias) == 0) {
			store_account_clear(&acct);
			return 0;
		}
	}
	/* An account's own address, or another account's alias, is taken;
	 * one indexed as ours but missing from the record is not. */
	if (pgsql_name_lock(pg, alias, error_r) < 0 ||
	    alias_taken(pg, alias, &is_account, owner, error_r) < 0) {
		store_account_clear(&acct);
		return -1;
	}
	if (is_account || (owner[0] != '\0' && strcmp(owner, account) != 0)) {
		store_account_clear(&acct);
		return STORE_EXISTS;
	}
	if (acct.aliases_count >= STORE_MAX_ALIASES) {
		store_account_clear(&acct);
		return store_fail(error_r, "account '%.200s': over %d aliases",
				  account, STORE_MAX_ALIASES);
	}
	acct.aliases = mm_reallocarray(acct.aliases, acct.aliases_count + 1,
				       sizeof(char *));
	acct.aliases[acct.aliases_count++] = mm_strdup(alias);
	qsort(acct.aliases, acct.aliases_count, sizeof(char *), alias_cmp);
	ret = pgsql_account_save(pg, &acct, error_r);
	store_account_clear(&acct);
	if (ret != 0)
		return ret;
	pgsql_params_init(&p);
	pgsql_param_str(&p, alias);
	pgsql_param_str(&p, account);
	return pgsql_run(pg, "indexing an alias",
			 "INSERT INTO mailmigrate.aliases (alias, account)"
			 " VALUES ($1, $2) ON CONFLICT (alias) DO NOTHING", &p, NULL,
			 error_r);
}

int pgsql_alias_detach_txn(struct pgsql_store *pg, const char *alias,
			   char *owner, size_t size, const char **error_r)
{
	struct pgsql_params p;
	PGresult *res;
	const char *who;

	pgsql_params_init(&p);
	pgsql_param_str(&p, alias);
	res = pgsql_exec(pg, "taking an alias away",
			 "DELETE FROM mailmigrate.aliases WHERE alias = $1"
			 " RETURNING account", &p, error_r);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return STORE_NOTFOUND;
	}
	who = PQgetvalue(res, 0, 0);
	if (*who == '\0' || strlen(who) >= size) {
		PQclear(res);
		return pgsql_damaged(pg, "alias index entry", error_r);
	}
	memcpy(owner, who, strlen(who) + 1);
	PQclear(res);
	pgsql_params_init(&p);
	pgsql_param_str(&p, owner);
	pgsql_param_str(&p, alias);
	return pgsql_run(pg, "taking an alias away",
			 "UPDATE mailmigrate.accounts"
			 " SET aliases = array_remove(aliases, $2) WHERE name = $1",
			 &p, NULL, error_r);
}

/* --- the public calls ---------------------------------------------------------- */

struct alias_ctx {
	const char *account;
	const char *alias;	/* lowercased */
	char *account_r;
	size_t size;
};

static int alias_add_txn(struct pgsql_store *pg, void *context,
			 const char **error_r)
{
	struct alias_ctx *ctx = context;

	return pgsql_alias_attach_txn(pg, ctx->account, ctx->alias, error_r);
}

static int pgsql_account_add_alias(struct store *store, const char *name,
				   const char *alias, const char **error_r)
{
	char lower[STORE_MAX_ACCOUNT];
	struct alias_ctx ctx = { name, lower, NULL, 0 };

	if (store_account_name(alias, NULL, lower, sizeof(lower), error_r) < 0)
		return -1;
	if (strcmp(lower, name) == 0)
		return STORE_EXISTS;
	return pgsql_write(store, alias_add_txn, &ctx, error_r);
}

static int alias_lookup_txn(struct pgsql_store *pg, void *context,
			    const char **error_r)
{
	struct alias_ctx *ctx = context;
	struct pgsql_params p;
	PGresult *res;
	const char *who;
	size_t len;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->alias);
	res = pgsql_exec(pg, "looking an alias up",
			 "SELECT account FROM mailmigrate.aliases WHERE alias = $1",
			 &p, error_r);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return STORE_NOTFOUND;
	}
	who = PQgetvalue(res, 0, 0);
	len = strlen(who);
	if (len == 0 || len >= ctx->size) {
		PQclear(res);
		return store_fail(error_r, "store postgresql:%s: alias '%.200s': "
				  "damaged index entry", pg->where, ctx->alias);
	}
	memcpy(ctx->account_r, who, len + 1);
	PQclear(res);
	return 0;
}

static int pgsql_alias_lookup(struct store *store, const char *alias,
			      char *account_r, size_t size, const char **error_r)
{
	char lower[STORE_MAX_ACCOUNT];
	struct alias_ctx ctx = { NULL, lower, account_r, size };
	size_t len = strlen(alias);

	if (len == 0 || len >= sizeof(lower))
		return STORE_NOTFOUND;
	for (size_t i = 0; i <= len; i++)
		lower[i] = (char)tolower((unsigned char)alias[i]);
	return pgsql_single(store, alias_lookup_txn, &ctx, error_r);
}

/* --- one address, one statement (the relay's question) ------------------ */

struct address_ctx {
	const char *addr;
	struct store_address *r;
};

/* The account row if there is one, else the alias row with its owner's
 * state (NULL when the owner is gone): one statement, one round trip. */
static int address_resolve_txn(struct pgsql_store *pg, void *context,
			       const char **error_r)
{
	struct address_ctx *ctx = context;
	struct store_address *r = ctx->r;
	struct pgsql_params p;
	PGresult *res;
	const char *who;
	uint32_t kind, state = 0;
	size_t len;
	int bad = 0;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->addr);
	res = pgsql_exec(pg, "resolving an address",
			 "SELECT 0, name, state FROM mailmigrate.accounts"
			 " WHERE name = $1"
			 " UNION ALL"
			 " SELECT 1, al.account, o.state"
			 " FROM mailmigrate.aliases al"
			 " LEFT JOIN mailmigrate.accounts o ON o.name = al.account"
			 " WHERE al.alias = $1"
			 " ORDER BY 1 LIMIT 1",
			 &p, error_r);
	if (res == NULL)
		return -1;
	r->kind = STORE_ADDR_NONE;
	r->owner[0] = '\0';
	r->owner_exists = 0;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	kind = pgsql_get_u32(res, 0, 0, &bad);
	who = PQgetvalue(res, 0, 1);
	len = strlen(who);
	if (!PQgetisnull(res, 0, 2)) {
		state = pgsql_get_u32(res, 0, 2, &bad);
		r->owner_exists = 1;
	}
	if (bad || kind > 1 || len == 0 || len >= sizeof(r->owner) ||
	    state >= STORE_STATE_COUNT) {
		PQclear(res);
		return store_fail(error_r, "store postgresql:%s: address "
				  "'%.200s': damaged account or alias row",
				  pg->where, ctx->addr);
	}
	r->kind = kind == 0 ? STORE_ADDR_ACCOUNT : STORE_ADDR_ALIAS;
	memcpy(r->owner, who, len + 1);
	r->state = (enum store_state)state;
	PQclear(res);
	return 0;
}

static int pgsql_address_resolve(struct store *store, const char *addr,
				 struct store_address *addr_r,
				 const char **error_r)
{
	struct address_ctx ctx = { addr, addr_r };

	return pgsql_single(store, address_resolve_txn, &ctx, error_r);
}

static int alias_iter_txn(struct pgsql_store *pg, void *context,
			  const char **error_r)
{
	PGresult **res = context;

	/* The origin is the (alias, account) proposal record, when it says
	 * approved or trusted; none: gathered before proposals. */
	*res = pgsql_exec(pg, "reading the aliases",
			  "SELECT a.alias, a.account, p.state"
			  " FROM mailmigrate.aliases a LEFT JOIN mailmigrate.proposals p"
			  " ON p.alias = a.alias AND p.account = a.account"
			  " ORDER BY a.alias", NULL, error_r);
	return *res == NULL ? -1 : 0;
}

static int pgsql_alias_iter(struct store *store,
			    int (*fn)(const char *alias, const char *account,
				      int origin, void *ctx),
			    void *ctx, const char **error_r)
{
	PGresult *res = NULL;
	int ret = 0;

	if (pgsql_single(store, alias_iter_txn, &res, error_r) < 0)
		return -1;
	for (int row = 0; row < PQntuples(res) && ret == 0; row++) {
		int origin = -1, bad = 0;
		uint32_t state;

		if (!PQgetisnull(res, row, 2)) {
			state = pgsql_get_u32(res, row, 2, &bad);
			if (bad)
				ret = pgsql_damaged(PGSQL(store), "alias proposal record",
						    error_r);
			else if (state == STORE_PROPOSAL_APPROVED ||
				 state == STORE_PROPOSAL_TRUSTED)
				origin = (int)state;
		}
		if (ret == 0)
			ret = fn(PQgetvalue(res, row, 0), PQgetvalue(res, row, 1),
				 origin, ctx);
	}
	PQclear(res);
	return ret;
}

void pgsql_vfuncs_alias(struct store_vfuncs *v)
{
	v->account_add_alias = pgsql_account_add_alias;
	v->alias_lookup = pgsql_alias_lookup;
	v->address_resolve = pgsql_address_resolve;
	v->alias_iter = pgsql_alias_iter;
	pgsql_vfuncs_proposal(v);
}
