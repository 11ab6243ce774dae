/*
 * NAME
 *	store_pgsql_dav 3
 * SUMMARY
 *	what a round put on NEW of calendars and address books (PostgreSQL)
 * DESCRIPTION
 *	store.h, "calendars and address books", says what the records are
 *	for. Table mailmigrate.dav (schema 6): account, collection and item
 *	(OLD's URLs as bytea; item '' for the collection's own record, so
 *	it sorts first), kind, new_url, the three hashes and the copy
 *	time. One statement each, its own transaction.
 */
#include "config.h"

#include <string.h>

#include "mm_alloc.h"
#include "store_pgsql.h"

/* Columns from $col on: collection, item, kind, new_url, old_etag,
 * new_etag, sha256, copied (PGSQL_DAV_COLUMNS). collection gets
 * STORE_MAX_DAV_URL + 1 bytes. */
int pgsql_dav_row(PGresult *res, int row, int col, char *collection,
		  struct store_dav *d)
{
	char *coll, *item, *new_url;
	unsigned char *h[3] = { NULL, NULL, NULL };
	unsigned char *dst[3] = { d->old_etag, d->new_etag, d->sha256 };
	size_t len;
	int bad = 0;

	memset(d, 0, sizeof(*d));
	coll = pgsql_get_bstr(res, row, col, STORE_MAX_DAV_URL, &bad);
	item = pgsql_get_bstr(res, row, col + 1, STORE_MAX_DAV_URL, &bad);
	d->kind = pgsql_get_u32(res, row, col + 2, &bad);
	new_url = pgsql_get_bstr(res, row, col + 3, STORE_MAX_DAV_URL, &bad);
	for (int i = 0; i < 3; i++) {
		if (pgsql_get_bytes(res, row, col + 4 + i, &h[i], &len) < 0 ||
		    len != STORE_DAV_HASH)
			bad = 1;
		else
			memcpy(dst[i], h[i], STORE_DAV_HASH);
		mm_free(&h[i]);
	}
	d->copied = pgsql_get_i64(res, row, col + 7, &bad);
	if (coll == NULL || item == NULL || new_url == NULL || *coll == '\0' ||
	    (*item != '\0' ? d->kind != STORE_DAV_ITEM :
	     d->kind != STORE_DAV_CALENDAR && d->kind != STORE_DAV_ADDRESSBOOK))
		bad = 1;
	if (!bad) {
		memcpy(collection, coll, strlen(coll) + 1);
		snprintf(d->old_url, sizeof(d->old_url), "%s", *item != '\0' ? item : coll);
		snprintf(d->new_url, sizeof(d->new_url), "%s", new_url);
	}
	mm_free(&coll);
	mm_free(&item);
	mm_free(&new_url);
	return bad ? -1 : 0;
}

struct dav_ctx {
	const char *account, *collection, *item;
	const struct store_dav *in;
	struct store_dav *out;
};

static int dav_get_txn(struct pgsql_store *pg, void *context, const char **error_r)
{
	struct dav_ctx *ctx = context;
	char collection[STORE_MAX_DAV_URL + 1];
	struct pgsql_params p;
	PGresult *res;
	int ret = 0;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	pgsql_param_bstr(&p, ctx->collection);
	pgsql_param_bstr(&p, ctx->item != NULL ? ctx->item : "");
	res = pgsql_exec(pg, "reading a DAV record", "SELECT " PGSQL_DAV_COLUMNS
			 " FROM mailmigrate.dav WHERE account = $1 AND collection = $2"
			 " AND item = $3", &p, error_r);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0)
		ret = STORE_NOTFOUND;
	else if (pgsql_dav_row(res, 0, 0, collection, ctx->out) < 0)
		ret = pgsql_damaged(pg, "DAV record", error_r);
	PQclear(res);
	return ret;
}

static int pgsql_dav_get(struct store *store, const char *account, const char *collection,
			 const char *item, struct store_dav *dav_r, const char **error_r)
{
	struct dav_ctx ctx = { account, collection, item, NULL, dav_r };

	return pgsql_single(store, dav_get_txn, &ctx, error_r);
}

static int dav_put_txn(struct pgsql_store *pg, void *context, const char **error_r)
{
	struct dav_ctx *ctx = context;
	const struct store_dav *d = ctx->in;
	struct pgsql_params p;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	pgsql_param_bstr(&p, ctx->collection);
	pgsql_param_bstr(&p, ctx->item != NULL ? ctx->item : "");
	pgsql_param_u64(&p, d->kind);
	pgsql_param_bstr(&p, d->new_url);
	pgsql_param_bytes(&p, d->old_etag, STORE_DAV_HASH);
	pgsql_param_bytes(&p, d->new_etag, STORE_DAV_HASH);
	pgsql_param_bytes(&p, d->sha256, STORE_DAV_HASH);
	pgsql_param_i64(&p, d->copied);
	return pgsql_run(pg, "writing a DAV record",
			 "INSERT INTO mailmigrate.dav (account, " PGSQL_DAV_COLUMNS ")"
			 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
			 " ON CONFLICT (account, collection, item) DO UPDATE SET"
			 " kind = $4, new_url = $5, old_etag = $6, new_etag = $7,"
			 " sha256 = $8, copied = $9", &p, NULL, error_r);
}

static int pgsql_dav_put(struct store *store, const char *account, const char *collection,
			 const char *item, const struct store_dav *dav, const char **error_r)
{
	struct dav_ctx ctx = { account, collection, item, dav, NULL };

	return pgsql_single_write(store, dav_put_txn, &ctx, error_r);
}

static int dav_del_txn(struct pgsql_store *pg, void *context, const char **error_r)
{
	struct dav_ctx *ctx = context;
	struct pgsql_params p;
	uint64_t n = 0;
	int ret;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	pgsql_param_bstr(&p, ctx->collection);
	if (ctx->item != NULL) {
		pgsql_param_bstr(&p, ctx->item);
		ret = pgsql_run(pg, "forgetting a DAV record", "DELETE FROM mailmigrate.dav"
				" WHERE account = $1 AND collection = $2 AND item = $3",
				&p, &n, error_r);
	} else {
		ret = pgsql_run(pg, "forgetting a DAV collection", "DELETE FROM"
				" mailmigrate.dav WHERE account = $1 AND collection = $2",
				&p, &n, error_r);
	}
	if (ret < 0)
		return -1;
	return n == 0 ? STORE_NOTFOUND : 0;
}

static int pgsql_dav_del(struct store *store, const char *account, const char *collection,
			 const char *item, const char **error_r)
{
	struct dav_ctx ctx = { account, collection, item, NULL, NULL };

	return pgsql_single_write(store, dav_del_txn, &ctx, error_r);
}

struct dav_iter_ctx {
	const char *account, *collection;
	PGresult *res;
};

static int dav_iter_txn(struct pgsql_store *pg, void *context, const char **error_r)
{
	struct dav_iter_ctx *ctx = context;
	struct pgsql_params p;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->account);
	if (ctx->collection != NULL) {
		pgsql_param_bstr(&p, ctx->collection);
		ctx->res = pgsql_exec(pg, "reading the DAV records", "SELECT "
				      PGSQL_DAV_COLUMNS " FROM mailmigrate.dav WHERE"
				      " account = $1 AND collection = $2 ORDER BY item",
				      &p, error_r);
	} else {
		ctx->res = pgsql_exec(pg, "reading the DAV records", "SELECT "
				      PGSQL_DAV_COLUMNS " FROM mailmigrate.dav WHERE"
				      " account = $1 ORDER BY collection, item", &p,
				      error_r);
	}
	return ctx->res == NULL ? -1 : 0;
}

static int pgsql_dav_iter(struct store *store, const char *account, const char *collection,
			  int (*fn)(const char *collection_url, const struct store_dav *dav,
				    void *ctx),
			  void *ctx, const char **error_r)
{
	struct dav_iter_ctx ictx = { account, collection, NULL };
	char *coll = mm_malloc(STORE_MAX_DAV_URL + 1);
	struct store_dav *rec = mm_malloc(sizeof(*rec));
	int ret = 0;

	if (pgsql_single(store, dav_iter_txn, &ictx, error_r) < 0) {
		mm_free(&coll);
		mm_free(&rec);
		return -1;
	}
	for (int row = 0; row < PQntuples(ictx.res) && ret == 0; row++) {
		if (pgsql_dav_row(ictx.res, row, 0, coll, rec) < 0)
			ret = pgsql_damaged(PGSQL(store), "DAV record", error_r);
		else
			ret = fn(coll, rec, ctx);
	}
	PQclear(ictx.res);
	mm_free(&coll);
	mm_free(&rec);
	return ret;
}

void pgsql_vfuncs_dav(struct store_vfuncs *v)
{
	v->dav_get = pgsql_dav_get;
	v->dav_put = pgsql_dav_put;
	v->dav_del = pgsql_dav_del;
	v->dav_iter = pgsql_dav_iter;
}
