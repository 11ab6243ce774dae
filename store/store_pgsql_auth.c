/*
 * NAME
 *	store_pgsql_auth 3
 * SUMMARY
 *	the PostgreSQL store: the auth-hook's rate limits and failed-login
 *	cache, and the TLS memory
 * DESCRIPTION
 *	mailmigrate.auth_limits holds one fixed-window counter per key
 *	(window_start, hits, expires = the window's end), keyed by the
 *	key's bytes; mailmigrate.auth_fails one row per failed user and
 *	password check, keyed by its MAC (crypto_mac(): nothing a password
 *	could be recovered from), with its expiry. The rules are those of
 *	the LMDB backend (store_auth.c): a hit is counted on all the
 *	limits of a call or on none; one at its limit refuses the call
 *	(STORE_EXISTS); a window that ended starts afresh at the hit.
 *
 *	Expired rows are deleted by the writes that add rows (a counted
 *	hit, a failure remembered), at most STORE_AUTH_PRUNE_MAX of them
 *	across both tables per write: PostgreSQL has no DELETE ... LIMIT,
 *	so the rows are picked by a subquery along the expires index
 *	(which only ever finds expired rows, so nothing else is looked
 *	at and nothing needs to remember where the last write stopped),
 *	skipping rows that another login has locked.
 * CONCURRENCY
 *	Every login on every host comes here, at once. A limit must never
 *	count past itself however the hits interleave, so a call first
 *	makes sure each of its keys has a row and locks them all, in key
 *	order (INSERT ... ON CONFLICT DO UPDATE ... WHERE false, which
 *	locks the row it does not change; a row being made or deleted by
 *	another login is waited for), then reads the rows as now committed
 *	(a new statement, a new snapshot), decides, and counts all or none
 *	in that same statement. Two logins on one key are thus serialised
 *	on the key's row for the length of one statement, and logins on
 *	other keys never wait for each other.
 *
 *	tls_seen is written once per domain and protocol (INSERT ... ON
 *	CONFLICT DO NOTHING keeps the first time when two hosts race).
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm_alloc.h"
#include "store_pgsql.h"

#define STORE_AUTH_MAX_KEY 400
#define STORE_TLS_MAX_DOMAIN 253

#define STR2(x) #x
#define STR(x) STR2(x)

/* Delete expired rows of both tables, STORE_AUTH_PRUNE_MAX at most
 * together, as CTEs "pl" and "pf" of a statement whose $now is the
 * time, whose $keep is an array of auth_limits keys to leave alone
 * (the statement's own) and $mac the auth_fails key to leave alone;
 * cond gates the whole (SQL, "true" for always). */
#define AUTH_PRUNE_CTES(now, keep, mac, cond) \
	" pl AS (DELETE FROM mailmigrate.auth_limits WHERE key IN" \
	" (SELECT key FROM mailmigrate.auth_limits WHERE expires <= " now \
	" AND " cond " AND key <> ALL (" keep ") ORDER BY expires" \
	" LIMIT " STR(STORE_AUTH_PRUNE_MAX) " FOR UPDATE SKIP LOCKED)" \
	" RETURNING 1)," \
	" pf AS (DELETE FROM mailmigrate.auth_fails WHERE mac IN" \
	" (SELECT mac FROM mailmigrate.auth_fails WHERE expires <= " now \
	" AND " cond " AND mac IS DISTINCT FROM " mac " ORDER BY expires" \
	" LIMIT " STR(STORE_AUTH_PRUNE_MAX) " - (SELECT count(*) FROM pl)" \
	" FOR UPDATE SKIP LOCKED) RETURNING 1)"

struct auth_key {
	const char *key;
	size_t len;
	unsigned limit;
};

static int auth_key_cmp(const void *a, const void *b)
{
	const struct auth_key *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->key, y->key, n);

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* A PostgreSQL array literal of the keys as hex strings (decoded to
 * bytea by the statement: no quoting of what a login sent), and one
 * of their limits. The caller mm_free()s both. */
static void auth_key_arrays(const struct auth_key *keys, size_t n,
			    char **hex_r, char **limits_r)
{
	static const char digits[] = "0123456789abcdef";
	size_t hlen = 3, llen = 3;
	char *h, *l;

	for (size_t i = 0; i < n; i++) {
		hlen += keys[i].len * 2 + 3;
		llen += 11;
	}
	h = *hex_r = mm_malloc(hlen);
	l = *limits_r = mm_malloc(llen);
	*h++ = '{';
	*l++ = '{';
	for (size_t i = 0; i < n; i++) {
		if (i > 0) {
			*h++ = ',';
			*l++ = ',';
		}
		*h++ = '"';
		for (size_t j = 0; j < keys[i].len; j++) {
			unsigned char c = (unsigned char)keys[i].key[j];

			*h++ = digits[c >> 4];
			*h++ = digits[c & 15];
		}
		*h++ = '"';
		l += snprintf(l, 11, "%u", keys[i].limit);
	}
	*h++ = '}';
	*h = '\0';
	*l++ = '}';
	*l = '\0';
}

struct auth_limit_ctx {
	const char *hex;	/* the keys, sorted, one each */
	const char *limits;
	unsigned window;
	time_t now;
};

static int auth_limit_txn(struct pgsql_store *pg, void *context,
			  const char **error_r)
{
	struct auth_limit_ctx *ctx = context;
	struct pgsql_params p;
	PGresult *res;
	int pass;

	/* Every key has a row (a new one: no hits, a window from now),
	 * locked by us, in key order. */
	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->hex);
	pgsql_param_i64(&p, ctx->now);
	pgsql_param_u64(&p, ctx->window);
	if (pgsql_run(pg, "locking rate limits",
		      "INSERT INTO mailmigrate.auth_limits AS a (key, window_start,"
		      " hits, expires) SELECT decode(k, 'hex'), $2::bigint, 0,"
		      " $2::bigint + $3::bigint FROM unnest($1::text[])"
		      " WITH ORDINALITY AS u(k, i) ORDER BY i"
		      " ON CONFLICT (key) DO UPDATE SET hits = a.hits WHERE false",
		      &p, NULL, error_r) < 0)
		return -1;
	/* Now their committed state: refuse if one is at its limit in its
	 * window, else count one on each (an ended window starts again at
	 * now); and prune when counted. */
	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->hex);
	pgsql_param_i64(&p, ctx->now);
	pgsql_param_u64(&p, ctx->window);
	pgsql_param_str(&p, ctx->limits);
	res = pgsql_exec(pg, "counting rate limits",
			 "WITH k AS (SELECT decode(h, 'hex') AS key, l AS lim"
			 " FROM unnest($1::text[], $4::bigint[]) AS u(h, l)),"
			 " cur AS (SELECT a.key, k.lim, a.expires <= $2::bigint AS ended,"
			 " CASE WHEN a.expires <= $2::bigint THEN 0 ELSE a.hits END"
			 " AS hits FROM mailmigrate.auth_limits a JOIN k"
			 " ON a.key = k.key),"
			 " ok AS (SELECT NOT EXISTS (SELECT 1 FROM cur WHERE lim <> 0"
			 " AND hits >= lim) AS pass),"
			 " upd AS (UPDATE mailmigrate.auth_limits a"
			 " SET hits = cur.hits + 1,"
			 " window_start = CASE WHEN cur.ended THEN $2::bigint"
			 " ELSE a.window_start END,"
			 " expires = CASE WHEN cur.ended THEN $2::bigint + $3::bigint"
			 " ELSE a.expires END"
			 " FROM cur WHERE a.key = cur.key AND (SELECT pass FROM ok)"
			 " RETURNING 1),"
			 AUTH_PRUNE_CTES("$2::bigint", "SELECT key FROM k", "NULL",
					 "(SELECT pass FROM ok)")
			 " SELECT (SELECT pass FROM ok), (SELECT count(*) FROM upd),"
			 " (SELECT count(*) FROM pl) + (SELECT count(*) FROM pf)",
			 &p, error_r);
	if (res == NULL)
		return -1;
	pass = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return pass ? 0 : STORE_EXISTS;
}

static int pgsql_auth_limit(struct store *store,
			    const struct store_auth_limit *limits, size_t n,
			    unsigned window, time_t now, const char **error_r)
{
	struct auth_limit_ctx ctx = { NULL, NULL, window == 0 ? 1 : window, now };
	struct auth_key *keys;
	char *hex, *lims;
	size_t count = 0;
	int ret;

	if (store->readonly)
		return store_fail(error_r, "store opened read-only");
	keys = mm_calloc(n + 1, sizeof(*keys));
	for (size_t i = 0; i < n; i++) {
		keys[i].key = limits[i].key;
		keys[i].len = strlen(limits[i].key);
		keys[i].limit = limits[i].limit;
		if (keys[i].len > STORE_AUTH_MAX_KEY) {
			mm_free(&keys);
			return store_fail(error_r, "rate limit key too long");
		}
	}
	/* Key order is lock order; a key given twice is one row, counted
	 * once and held to the stricter limit (as LMDB, which reads both
	 * before it writes either). */
	qsort(keys, n, sizeof(*keys), auth_key_cmp);
	for (size_t i = 0; i < n; i++) {
		if (count > 0 && auth_key_cmp(&keys[count - 1], &keys[i]) == 0) {
			struct auth_key *k = &keys[count - 1];

			if (k->limit == 0 || (keys[i].limit != 0 &&
					      keys[i].limit < k->limit))
				k->limit = keys[i].limit;
			continue;
		}
		keys[count++] = keys[i];
	}
	auth_key_arrays(keys, count, &hex, &lims);
	mm_free(&keys);
	ctx.hex = hex;
	ctx.limits = lims;
	ret = pgsql_write(store, auth_limit_txn, &ctx, error_r);
	mm_free(&hex);
	mm_free(&lims);
	return ret;
}

struct auth_fail_ctx {
	const unsigned char *mac;
	size_t len;
	time_t now;
	unsigned ttl;
	int found;
};

static int auth_fail_add_txn(struct pgsql_store *pg, void *context,
			     const char **error_r)
{
	struct auth_fail_ctx *ctx = context;
	struct pgsql_params p;

	/* One statement: remember it (a later failure sets the expiry
	 * anew, as LMDB's put does), and prune others. */
	pgsql_params_init(&p);
	pgsql_param_bytes(&p, ctx->mac, ctx->len);
	pgsql_param_i64(&p, ctx->now);
	pgsql_param_i64(&p, (int64_t)ctx->now + ctx->ttl);
	return pgsql_run(pg, "remembering a failed login",
			 "WITH ins AS (INSERT INTO mailmigrate.auth_fails (mac, expires)"
			 " VALUES ($1::bytea, $3::bigint) ON CONFLICT (mac) DO UPDATE"
			 " SET expires = EXCLUDED.expires RETURNING 1),"
			 AUTH_PRUNE_CTES("$2::bigint", "'{}'::bytea[]", "$1::bytea",
					 "true")
			 " SELECT (SELECT count(*) FROM ins),"
			 " (SELECT count(*) FROM pl) + (SELECT count(*) FROM pf)",
			 &p, NULL, error_r);
}

static int pgsql_auth_fail_add(struct store *store, const unsigned char *mac,
			       size_t len, time_t now, unsigned ttl,
			       const char **error_r)
{
	struct auth_fail_ctx ctx = { mac, len, now, ttl, 0 };

	if (len > STORE_AUTH_MAX_KEY)
		return store_fail(error_r, "failed-login key too long");
	if (store->readonly)
		return store_fail(error_r, "store opened read-only");
	return pgsql_single_write(store, auth_fail_add_txn, &ctx, error_r);
}

static int auth_fail_has_txn(struct pgsql_store *pg, void *context,
			     const char **error_r)
{
	struct auth_fail_ctx *ctx = context;
	struct pgsql_params p;
	PGresult *res;

	pgsql_params_init(&p);
	pgsql_param_bytes(&p, ctx->mac, ctx->len);
	pgsql_param_i64(&p, ctx->now);
	res = pgsql_exec(pg, "looking for a failed login",
			 "SELECT 1 FROM mailmigrate.auth_fails WHERE mac = $1::bytea"
			 " AND expires > $2::bigint", &p, error_r);
	if (res == NULL)
		return -1;
	ctx->found = PQntuples(res) > 0;
	PQclear(res);
	return 0;
}

static int pgsql_auth_fail_has(struct store *store, const unsigned char *mac,
			       size_t len, time_t now, const char **error_r)
{
	struct auth_fail_ctx ctx = { mac, len, now, 0, 0 };

	if (len > STORE_AUTH_MAX_KEY)
		return store_fail(error_r, "failed-login key too long");
	if (pgsql_single(store, auth_fail_has_txn, &ctx, error_r) < 0)
		return -1;
	return ctx.found;
}

/* --- TLS memory ------------------------------------------------------------------ */

/* The lowercased domain into buf (STORE_TLS_MAX_DOMAIN + 1); -1 for an
 * empty or over-long one or a protocol that is neither. */
static int tls_name(const char *domain, const char *proto, char *buf,
		    const char **error_r)
{
	size_t dlen = strlen(domain);

	if (strcmp(proto, STORE_TLS_IMAP) != 0 && strcmp(proto, STORE_TLS_POP3) != 0)
		return store_fail(error_r, "unknown protocol for the TLS memory");
	if (dlen == 0 || dlen > STORE_TLS_MAX_DOMAIN)
		return store_fail(error_r, "bad domain name for the TLS memory");
	for (size_t i = 0; i <= dlen; i++)
		buf[i] = (char)tolower((unsigned char)domain[i]);
	return 0;
}

struct tls_ctx {
	const char *domain;	/* lowercased */
	const char *proto;	/* NULL: both (forget) */
	time_t now;
	int64_t since;
};

static int tls_get_txn(struct pgsql_store *pg, void *context,
		       const char **error_r)
{
	struct tls_ctx *ctx = context;
	struct pgsql_params p;
	PGresult *res;
	int bad = 0;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->domain);
	pgsql_param_str(&p, ctx->proto);
	res = pgsql_exec(pg, "reading the TLS memory",
			 "SELECT since FROM mailmigrate.tls_seen"
			 " WHERE domain = $1 AND proto = $2", &p, error_r);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return STORE_NOTFOUND;
	}
	ctx->since = pgsql_get_i64(res, 0, 0, &bad);
	PQclear(res);
	return bad ? pgsql_damaged(pg, "TLS memory record", error_r) : 0;
}

static int pgsql_tls_seen_get(struct store *store, const char *domain,
			      const char *proto, int64_t *since_r,
			      const char **error_r)
{
	char name[STORE_TLS_MAX_DOMAIN + 1];
	struct tls_ctx ctx = { name, proto, 0, 0 };
	int ret;

	if (tls_name(domain, proto, name, error_r) < 0)
		return -1;
	ret = pgsql_single(store, tls_get_txn, &ctx, error_r);
	if (ret == 0)
		*since_r = ctx.since;
	return ret;
}

static int tls_add_txn(struct pgsql_store *pg, void *context,
		       const char **error_r)
{
	struct tls_ctx *ctx = context;
	struct pgsql_params p;
	uint64_t rows;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->domain);
	pgsql_param_str(&p, ctx->proto);
	pgsql_param_i64(&p, ctx->now);
	if (pgsql_run(pg, "writing the TLS memory",
		      "INSERT INTO mailmigrate.tls_seen (domain, proto, since)"
		      " VALUES ($1, $2, $3) ON CONFLICT (domain, proto) DO NOTHING",
		      &p, &rows, error_r) < 0)
		return -1;
	return rows == 0 ? STORE_EXISTS : 0;
}

static int pgsql_tls_seen_add(struct store *store, const char *domain,
			      const char *proto, time_t now,
			      const char **error_r)
{
	char name[STORE_TLS_MAX_DOMAIN + 1];
	struct tls_ctx ctx = { name, proto, now, 0 };

	if (tls_name(domain, proto, name, error_r) < 0)
		return -1;
	if (store->readonly)
		return store_fail(error_r, "store opened read-only");
	return pgsql_single_write(store, tls_add_txn, &ctx, error_r);
}

static int tls_forget_txn(struct pgsql_store *pg, void *context,
			  const char **error_r)
{
	struct tls_ctx *ctx = context;
	struct pgsql_params p;
	uint64_t rows;

	pgsql_params_init(&p);
	pgsql_param_str(&p, ctx->domain);
	pgsql_param_str(&p, ctx->proto);
	if (pgsql_run(pg, "forgetting the TLS memory",
		      "DELETE FROM mailmigrate.tls_seen WHERE domain = $1"
		      " AND ($2::text IS NULL OR proto = $2)", &p, &rows,
		      error_r) < 0)
		return -1;
	return rows == 0 ? STORE_NOTFOUND : 0;
}

static int pgsql_tls_seen_forget(struct store *store, const char *domain,
				 const char *proto, const char **error_r)
{
	char name[STORE_TLS_MAX_DOMAIN + 1];
	struct tls_ctx ctx = { name, proto, 0, 0 };

	/* NULL is both protocols; the domain is checked as for either. */
	if (tls_name(domain, proto == NULL ? STORE_TLS_IMAP : proto, name,
		     error_r) < 0)
		return -1;
	if (store->readonly)
		return store_fail(error_r, "store opened read-only");
	return pgsql_single_write(store, tls_forget_txn, &ctx, error_r);
}

void pgsql_vfuncs_auth(struct store_vfuncs *v)
{
	v->auth_limit = pgsql_auth_limit;
	v->auth_fail_add = pgsql_auth_fail_add;
	v->auth_fail_has = pgsql_auth_fail_has;
	v->tls_seen_get = pgsql_tls_seen_get;
	v->tls_seen_add = pgsql_tls_seen_add;
	v->tls_seen_forget = pgsql_tls_seen_forget;
}
