/*
 * NAME
 *	store_lmdb_cred 3
 * SUMMARY
 *	captured passwords, sealed to the key pair's public key
 * DESCRIPTION
 *	Only sealed bytes reach the store (crypto_seal(), with the account
 *	name as additional data). A store given only the public key (the
 *	auth workers) seals and cannot open; key_file opens both record
 *	versions (crypto.h). Wiping overwrites the record with zeros
 *	in the same transaction that deletes it; LMDB's copy-on-write may
 *	keep the old sealed page in free space until reused, which is why
 *	nothing but sealed bytes is ever written.
 */
#include "config.h"

#include <string.h>

#include "mm_alloc.h"
#include "store_lmdb.h"

int store_cred_set_txn(struct store *store, MDB_txn *txn, const char *account,
		       const char *password, const char **error_r)
{
	unsigned char *sealed;
	size_t len;
	const char *error;
	int ret;

	if (!store->have_key)
		return store_fail(error_r, "no key loaded to seal the password");
	if (crypto_seal(&store->key, account, password, strlen(password),
			&sealed, &len, &error) < 0)
		return store_fail(error_r, "account '%.200s': %s", account, error);
	ret = store_put(store, txn, STORE_DB_CREDS, account, strlen(account),
			sealed, len, error_r);
	mm_free(&sealed);
	return ret;
}

struct cred_ctx {
	const char *account;
	const char *password;
	char **password_r;
};

static int cred_set_txn(struct store *store, MDB_txn *txn, void *context,
			const char **error_r)
{
	struct cred_ctx *ctx = context;

	return store_cred_set_txn(store, txn, ctx->account, ctx->password, error_r);
}

int lmdb_cred_set(struct store *store, const char *account,
		  const char *password, const char **error_r)
{
	struct cred_ctx ctx = { account, password, NULL };

	return store_write(store, cred_set_txn, &ctx, error_r);
}

static int cred_get_txn(struct store *store, MDB_txn *txn, void *context,
			const char **error_r)
{
	struct cred_ctx *ctx = context;
	const char *error;
	MDB_val v;
	int ret;

	ret = store_get(store, txn, STORE_DB_CREDS, ctx->account,
			strlen(ctx->account), &v, error_r);
	if (ret != 0)
		return ret;
	if (crypto_open(&store->key, ctx->account, v.mv_data, v.mv_size,
			ctx->password_r, &error) < 0)
		return store_fail(error_r, "%s", error);
	return 0;
}

int lmdb_cred_get(struct store *store, const char *account,
		  char **password_r, const char **error_r)
{
	struct cred_ctx ctx = { account, NULL, password_r };

	*password_r = NULL;
	if (!store->have_key)
		return store_fail(error_r, "no key loaded to open the password");
	return store_read(store, cred_get_txn, &ctx, error_r);
}

static int cred_has_txn(struct store *store, MDB_txn *txn, void *context,
			const char **error_r)
{
	struct cred_ctx *ctx = context;
	MDB_val v;
	int ret = store_get(store, txn, STORE_DB_CREDS, ctx->account,
			    strlen(ctx->account), &v, error_r);

	if (ret < 0)
		return -1;
	return ret == 0 ? 1 : 0;
}

int lmdb_cred_has(struct store *store, const char *account,
		  const char **error_r)
{
	struct cred_ctx ctx = { account, NULL, NULL };

	return store_read(store, cred_has_txn, &ctx, error_r);
}

static int cred_wipe_txn(struct store *store, MDB_txn *txn, void *context,
			 const char **error_r)
{
	struct cred_ctx *ctx = context;
	MDB_val k = { strlen(ctx->account), (void *)ctx->account }, v;
	size_t len;
	int rc;

	rc = mdb_get(txn, LMDB(store)->dbi[STORE_DB_CREDS], &k, &v);
	if (rc == MDB_NOTFOUND)
		return STORE_NOTFOUND;
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, "creds");
	len = v.mv_size;
	v.mv_size = len;
	v.mv_data = NULL;
	rc = mdb_put(txn, LMDB(store)->dbi[STORE_DB_CREDS], &k, &v,
		     MDB_RESERVE);
	if (rc != 0)
		return store_mdb_fail(store, rc, error_r, "creds");
	memset(v.mv_data, 0, len);
	return store_del(store, txn, STORE_DB_CREDS, ctx->account,
			 strlen(ctx->account), error_r) < 0 ? -1 : 0;
}

int lmdb_cred_wipe(struct store *store, const char *account,
		   const char **error_r)
{
	struct cred_ctx ctx = { account, NULL, NULL };

	return store_write(store, cred_wipe_txn, &ctx, error_r);
}
