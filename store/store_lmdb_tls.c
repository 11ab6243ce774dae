/*
 * NAME
 *	store_lmdb_tls 3
 * SUMMARY
 *	the TLS memory: which domains' OLD offered STARTTLS, since when
 * DESCRIPTION
 *	source_tls = detect takes STARTTLS when OLD offers it and goes on
 *	in plaintext when it does not, so an attacker on the path who
 *	deletes STARTTLS from the capabilities would get the passwords.
 *	Once OLD has completed STARTTLS (IMAP) or STLS (POP3) for a
 *	domain, the tlsseen database remembers it, and the clients refuse
 *	plaintext from then on (modules/imap_client.c, pop3_client.c).
 *
 *	Key: "PROTO:DOMAIN" (PROTO "imap" or "pop3", DOMAIN lowercased).
 *	Value: a store_codec record, version 1: u64 the unix time TLS was
 *	first completed.
 *
 *	The record is written once and never updated, so a connection
 *	costs one read; it goes only by `mailmigrate tls-forget`.
 * COMPATIBILITY
 *	A store made before this database existed lacks it: a handle
 *	opened for writing creates it (store_open), a read-only one reads
 *	it as empty until then.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "mm_alloc.h"
#include "store_lmdb.h"

#define STORE_TLS_VERSION 1
#define STORE_TLS_MAX_DOMAIN 253
#define STORE_TLS_MAX_KEY (5 + STORE_TLS_MAX_DOMAIN + 1)

/* "proto:domain" (lowercased) into key; -1 for a bad protocol or an
 * empty or over-long domain. */
static int tls_key(const char *domain, const char *proto, char *key,
		   size_t *len_r, const char **error_r)
{
	size_t dlen = strlen(domain);

	if (strcmp(proto, STORE_TLS_IMAP) != 0 && strcmp(proto, STORE_TLS_POP3) != 0)
		return store_fail(error_r, "unknown protocol for the TLS memory");
	if (dlen == 0 || dlen > STORE_TLS_MAX_DOMAIN)
		return store_fail(error_r, "bad domain name for the TLS memory");
	memcpy(key, proto, 4);
	key[4] = ':';
	for (size_t i = 0; i < dlen; i++)
		key[5 + i] = (char)tolower((unsigned char)domain[i]);
	*len_r = 5 + dlen;
	return 0;
}

/* The time in a stored record: 0, or -1 for a damaged one. */
int store_tls_decode(const MDB_val *v, int64_t *since_r, const char **error_r)
{
	struct rec_reader r;
	uint64_t since;

	if (rec_begin(&r, v->mv_data, v->mv_size) != STORE_TLS_VERSION)
		return store_fail(error_r, "damaged TLS memory record");
	since = rec_get_u64(&r);
	if (!rec_end_ok(&r))
		return store_fail(error_r, "damaged TLS memory record");
	*since_r = (int64_t)since;
	return 0;
}

struct tls_ctx {
	const char *key;
	size_t keylen;
	time_t now;
	int64_t since;
};

static int tls_get_txn(struct store *store, MDB_txn *txn, void *context,
		       const char **error_r)
{
	struct tls_ctx *ctx = context;
	MDB_val v;
	int ret;

	ret = store_get(store, txn, STORE_DB_TLSSEEN, ctx->key, ctx->keylen, &v,
			error_r);
	if (ret != 0)
		return ret;
	return store_tls_decode(&v, &ctx->since, error_r);
}

int lmdb_tls_seen_get(struct store *store, const char *domain,
		      const char *proto, int64_t *since_r, const char **error_r)
{
	char key[STORE_TLS_MAX_KEY];
	struct tls_ctx ctx = { key, 0, 0, 0 };
	int ret;

	if (tls_key(domain, proto, key, &ctx.keylen, error_r) < 0)
		return -1;
	ret = store_db_present(store, STORE_DB_TLSSEEN, error_r);
	if (ret <= 0)
		return ret < 0 ? -1 : STORE_NOTFOUND;
	ret = store_read(store, tls_get_txn, &ctx, error_r);
	if (ret == 0)
		*since_r = ctx.since;
	return ret;
}

static int tls_add_txn(struct store *store, MDB_txn *txn, void *context,
		       const char **error_r)
{
	struct tls_ctx *ctx = context;
	struct rec_writer w;
	MDB_val v;
	int ret;

	ret = store_get(store, txn, STORE_DB_TLSSEEN, ctx->key, ctx->keylen, &v,
			error_r);
	if (ret < 0)
		return -1;
	if (ret == 0)
		return STORE_EXISTS;
	rec_init(&w, STORE_TLS_VERSION);
	rec_put_u64(&w, (uint64_t)ctx->now);
	ret = store_put(store, txn, STORE_DB_TLSSEEN, ctx->key, ctx->keylen,
			w.buf, w.len, error_r);
	rec_free(&w);
	return ret;
}

int lmdb_tls_seen_add(struct store *store, const char *domain,
		      const char *proto, time_t now, const char **error_r)
{
	char key[STORE_TLS_MAX_KEY];
	struct tls_ctx ctx = { key, 0, now, 0 };

	if (tls_key(domain, proto, key, &ctx.keylen, error_r) < 0)
		return -1;
	return store_write(store, tls_add_txn, &ctx, error_r);
}

struct tls_forget_ctx {
	const char *keys[2];
	size_t lens[2];
	size_t n;
};

static int tls_forget_txn(struct store *store, MDB_txn *txn, void *context,
			  const char **error_r)
{
	struct tls_forget_ctx *ctx = context;
	int ret = STORE_NOTFOUND;

	for (size_t i = 0; i < ctx->n; i++) {
		int r = store_del(store, txn, STORE_DB_TLSSEEN, ctx->keys[i],
				  ctx->lens[i], error_r);

		if (r < 0)
			return -1;
		if (r == 0)
			ret = 0;
	}
	return ret;
}

int lmdb_tls_seen_forget(struct store *store, const char *domain,
			 const char *proto, const char **error_r)
{
	char imap[STORE_TLS_MAX_KEY], pop3[STORE_TLS_MAX_KEY];
	struct tls_forget_ctx ctx = { { imap, pop3 }, { 0, 0 }, 0 };

	if (proto == NULL || strcmp(proto, STORE_TLS_IMAP) == 0) {
		if (tls_key(domain, STORE_TLS_IMAP, imap, &ctx.lens[ctx.n], error_r) < 0)
			return -1;
		ctx.keys[ctx.n++] = imap;
	}
	if (proto == NULL || strcmp(proto, STORE_TLS_POP3) == 0) {
		if (tls_key(domain, STORE_TLS_POP3, pop3, &ctx.lens[ctx.n], error_r) < 0)
			return -1;
		ctx.keys[ctx.n++] = pop3;
	}
	if (ctx.n == 0)
		return store_fail(error_r, "unknown protocol for the TLS memory");
	return store_write(store, tls_forget_txn, &ctx, error_r);
}
