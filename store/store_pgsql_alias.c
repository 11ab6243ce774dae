/*
 * NAME
 *	store_pgsql_alias 3
 * SUMMARY
 *	the PostgreSQL store: the alias index and alias proposals
 * DESCRIPTION
 *	mailmigrate.aliases maps an alias to the account that holds it
 *	(the first owner keeps an alias; an account wins over an alias);
 *	the account rows keep their own sorted lists, as on LMDB.
 *	mailmigrate.proposals keeps every proposal record.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mm_alloc.h"
#include "store_pgsql.h"

/* names[0..count) joined by newlines (names hold none). */
static char *names_join(char *const *names, size_t count)
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

int pgsql_alias_reindex_txn(struct pgsql_store *pg, const char *account,
			    char *const *old, size_t old_count,
			    char *const *new, size_t new_count,
			    const char **error_r)
{
	struct pgsql_params p;
	char *lost, *added;
	int ret = 0;

	lost = names_join(old, old_count);
	added = names_join(new, new_count);
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
	 * account itself. */
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

int pgsql_proposal_forget_txn(struct pgsql_store *pg, const char *name,
			      time_t now, const char **error_r)
{
	char owner[STORE_MAX_ACCOUNT], text[2 * STORE_MAX_ACCOUNT + 120];
	struct pgsql_params p;
	uint64_t pending;
	PGresult *res;
	int ret;

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

void pgsql_vfuncs_alias(struct store_vfuncs *v)
{
	(void)v;
}
