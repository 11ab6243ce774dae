/*
 * NAME
 *	store_lmdb_alias 3
 * SUMMARY
 *	aliases: in the account record, and an alias -> account index
 * DESCRIPTION
 *	The access modes and the puller learn the addresses that deliver
 *	to an account (its aliases on OLD). They are kept sorted in the
 *	account record, and indexed in the "aliases" database (key: the
 *	lowercased alias, value: the account name) so the relay answers
 *	a virtual_alias_maps query with one lookup. Record and index
 *	change in the same write transaction.
 *
 *	An alias belongs to one account: the first that claims it, and
 *	never names an account (creating one drops an alias of its name,
 *	store_proposal_forget_txn). Where aliases come from, and which
 *	ones wait for the administrator: store_lmdb_proposal.c. The
 *	index is kept in step by every writer of the aliases list
 *	(store_account_create, store_account_update and hence _put, and
 *	store_account_add_alias); store_reset keeps aliases (they are
 *	not copy progress), so it leaves the index alone.
 * COMPATIBILITY
 *	A store made before the index existed lacks the database: a
 *	handle opened for writing creates it (store_open) and indexes the
 *	aliases the accounts already hold, in one transaction; a read-only
 *	handle reads it as empty until then.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "mm_alloc.h"
#include "store_lmdb.h"

/* The index entry for alias: 0 with its account in buf, STORE_NOTFOUND,
 * or -1. */
static int alias_get(struct store *store, MDB_txn *txn, const char *alias,
		     char *buf, size_t size, const char **error_r)
{
	MDB_val v;
	int ret = store_get(store, txn, STORE_DB_ALIASES, alias, strlen(alias),
			    &v, error_r);

	if (ret != 0)
		return ret;
	if (v.mv_size == 0 || v.mv_size >= size ||
	    memchr(v.mv_data, '\0', v.mv_size) != NULL)
		return store_fail(error_r, "store %s: alias '%.200s': damaged "
				  "index entry", LMDB(store)->dir, alias);
	memcpy(buf, v.mv_data, v.mv_size);
	buf[v.mv_size] = '\0';
	return 0;
}

int store_alias_reindex_txn(struct store *store, MDB_txn *txn,
			    const char *account, char *const *old, size_t old_count,
			    char *const *new, size_t new_count,
			    const char **error_r)
{
	char owner[STORE_MAX_ACCOUNT];
	int ret;

	/* Aliases the account lost: drop them if they are still its own. */
	for (size_t i = 0; i < old_count; i++) {
		size_t j;

		for (j = 0; j < new_count; j++)
			if (strcmp(old[i], new[j]) == 0)
				break;
		if (j < new_count)
			continue;
		ret = alias_get(store, txn, old[i], owner, sizeof(owner), error_r);
		if (ret < 0)
			return -1;
		if (ret == 0 && strcmp(owner, account) == 0 &&
		    store_del(store, txn, STORE_DB_ALIASES, old[i], strlen(old[i]),
			      error_r) < 0)
			return -1;
	}
	/* New ones, unless another account was there first, or one is
	 * an account itself (an account wins over an alias). */
	for (size_t j = 0; j < new_count; j++) {
		MDB_val v;

		ret = alias_get(store, txn, new[j], owner, sizeof(owner), error_r);
		if (ret < 0)
			return -1;
		if (ret == 0)
			continue;
		ret = store_get(store, txn, STORE_DB_ACCOUNTS, new[j], strlen(new[j]),
				&v, error_r);
		if (ret < 0)
			return -1;
		if (ret == 0)
			continue;
		if (store_put(store, txn, STORE_DB_ALIASES, new[j], strlen(new[j]),
			      account, strlen(account), error_r) < 0)
			return -1;
	}
	return 0;
}

struct alias_backfill_ctx {
	struct store *store;
	MDB_txn *txn;
};

static int alias_backfill_one(const MDB_val *k, const MDB_val *v, void *context,
			      const char **error_r)
{
	struct alias_backfill_ctx *ctx = context;
	struct store_account acct;
	char *name = mm_strndup(k->mv_data, k->mv_size);
	int ret = store_account_decode(v, name, &acct, error_r);

	mm_free(&name);
	if (ret < 0)
		return -1;
	ret = store_alias_reindex_txn(ctx->store, ctx->txn, acct.name, NULL, 0,
				      acct.aliases, acct.aliases_count, error_r);
	store_account_clear(&acct);
	return ret < 0 ? -1 : 0;
}

int store_alias_backfill_txn(struct store *store, MDB_txn *txn,
			     const char **error_r)
{
	struct alias_backfill_ctx ctx = { store, txn };

	return store_scan(store, txn, STORE_DB_ACCOUNTS, NULL, 0,
			  alias_backfill_one, &ctx, error_r);
}

static int alias_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int store_alias_attach_txn(struct store *store, MDB_txn *txn,
			   const char *account, const char *alias,
			   const char **error_r)
{
	char owner[STORE_MAX_ACCOUNT];
	struct store_account acct;
	MDB_val v;
	int ret;

	ret = store_account_load(store, txn, account, &acct, error_r);
	if (ret != 0)
		return ret;
	for (size_t i = 0; i < acct.aliases_count; i++) {
		if (strcmp(acct.aliases[i], alias) == 0) {
			store_account_clear(&acct);
			return 0;
		}
	}
	/* An account's own address, or another account's alias, is taken. */
	ret = store_get(store, txn, STORE_DB_ACCOUNTS, alias, strlen(alias), &v,
			error_r);
	if (ret == STORE_NOTFOUND) {
		ret = alias_get(store, txn, alias, owner, sizeof(owner), error_r);
		if (ret == 0 && strcmp(owner, account) == 0)
			ret = STORE_NOTFOUND;	/* indexed, missing from the record */
	}
	if (ret != STORE_NOTFOUND) {
		store_account_clear(&acct);
		return ret < 0 ? -1 : STORE_EXISTS;
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
	ret = store_account_save(store, txn, &acct, error_r);
	if (ret == 0)
		ret = store_put(store, txn, STORE_DB_ALIASES, alias, strlen(alias),
				account, strlen(account), error_r);
	store_account_clear(&acct);
	return ret;
}

int store_alias_detach_txn(struct store *store, MDB_txn *txn,
			   const char *alias, char *owner, size_t size,
			   const char **error_r)
{
	struct store_account acct;
	size_t j = 0;
	int ret;

	ret = alias_get(store, txn, alias, owner, size, error_r);
	if (ret != 0)
		return ret;
	ret = store_account_load(store, txn, owner, &acct, error_r);
	if (ret < 0)
		return -1;
	if (ret == 0) {
		for (size_t i = 0; i < acct.aliases_count; i++) {
			if (strcmp(acct.aliases[i], alias) == 0)
				mm_free(&acct.aliases[i]);
			else
				acct.aliases[j++] = acct.aliases[i];
		}
		acct.aliases_count = j;
		ret = store_account_save(store, txn, &acct, error_r);
		store_account_clear(&acct);
		if (ret < 0)
			return -1;
	}
	if (store_del(store, txn, STORE_DB_ALIASES, alias, strlen(alias),
		      error_r) < 0)
		return -1;
	return 0;
}

struct alias_add_ctx {
	const char *account;
	const char *alias;	/* lowercased */
};

static int alias_add_txn(struct store *store, MDB_txn *txn, void *context,
			 const char **error_r)
{
	struct alias_add_ctx *ctx = context;

	return store_alias_attach_txn(store, txn, ctx->account, ctx->alias, error_r);
}

int lmdb_account_add_alias(struct store *store, const char *name,
			   const char *alias, const char **error_r)
{
	char lower[STORE_MAX_ACCOUNT];
	struct alias_add_ctx ctx = { name, lower };

	if (store_account_name(alias, NULL, lower, sizeof(lower), error_r) < 0)
		return -1;
	if (strcmp(lower, name) == 0)
		return STORE_EXISTS;
	return store_write(store, alias_add_txn, &ctx, error_r);
}

struct alias_lookup_ctx {
	const char *alias;
	char *account;
	size_t size;
};

static int alias_lookup_txn(struct store *store, MDB_txn *txn, void *context,
			    const char **error_r)
{
	struct alias_lookup_ctx *ctx = context;

	return alias_get(store, txn, ctx->alias, ctx->account, ctx->size, error_r);
}

int lmdb_alias_lookup(struct store *store, const char *alias,
		      char *account_r, size_t size, const char **error_r)
{
	char lower[STORE_MAX_ACCOUNT];
	struct alias_lookup_ctx ctx = { lower, account_r, size };
	size_t len = strlen(alias);
	int ret;

	if (len == 0 || len >= sizeof(lower))
		return STORE_NOTFOUND;
	for (size_t i = 0; i <= len; i++)
		lower[i] = (char)tolower((unsigned char)alias[i]);
	ret = store_db_present(store, STORE_DB_ALIASES, error_r);
	if (ret <= 0)
		return ret < 0 ? -1 : STORE_NOTFOUND;
	return store_read(store, alias_lookup_txn, &ctx, error_r);
}
