/*
 * NAME
 *	store_pgsql 3
 * SUMMARY
 *	the PostgreSQL store: connection, transactions, statements
 * DESCRIPTION
 *	store = postgresql:CONNINFO opens the store in the database
 *	CONNINFO names (a libpq key=value string or a postgresql:// URI).
 *	The password never comes from the conninfo (refused there: it
 *	would sit in the configuration and in error messages) but from
 *	store_options, where the caller put it after unsealing
 *	store_password_file with key_file; without one, libpq's own
 *	ways apply (peer, a client certificate, ~/.pgpass).
 *
 *	Failure classes: every failure is -1 with a message, as for
 *	LMDB, and every caller treats a store failure as "retry later"
 *	(the relay answers TEMP, the auth-hook a temporary failure, the
 *	puller gives the job back). What this file adds: a serialization
 *	failure or deadlock (40001, 40P01) runs the transaction again at
 *	once, up to PGSQL_TXN_TRIES times; a broken connection (the
 *	server restarted, failed over, or is in recovery) is made again
 *	at the start of the next call.
 * STATEMENTS
 *	A statement with parameters is prepared on its connection the
 *	first time its text is run and executed by name after that, so
 *	the server parses and plans it once per connection (the relay and
 *	the auth-hook ask the same few questions all day). Up to
 *	PGSQL_MAX_PREPARED texts per connection; more run unprepared.
 *	A new connection starts with none. A plan the server refuses to
 *	reuse because a table changed shape under it (0A000, after `init`
 *	upgraded the schema while we ran) makes us forget every prepared
 *	statement and run the transaction again.
 * SECURITY
 *	The connection parameters, the password among them, are kept
 *	for reconnecting and wiped on close. Error messages name the
 *	host, port and database, never the password.
 */
#include "config.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mm_alloc.h"
#include "store_pgsql.h"

#define PGSQL_TXN_TRIES 10

static void pgsql_close(struct store *store);

/* --- statements ---------------------------------------------------------------- */

void pgsql_params_init(struct pgsql_params *p)
{
	p->n = 0;
}

static int pgsql_param_slot(struct pgsql_params *p)
{
	/* A programming error, not input: the statements are ours. */
	if (p->n >= PGSQL_MAX_PARAMS)
		abort();
	return p->n++;
}

void pgsql_param_str(struct pgsql_params *p, const char *s)
{
	int i = pgsql_param_slot(p);

	p->values[i] = s;
	p->lengths[i] = 0;
	p->formats[i] = 0;
}

void pgsql_param_u64(struct pgsql_params *p, uint64_t v)
{
	int i = pgsql_param_slot(p);

	snprintf(p->num[i], sizeof(p->num[i]), "%llu", (unsigned long long)v);
	p->values[i] = p->num[i];
	p->lengths[i] = 0;
	p->formats[i] = 0;
}

void pgsql_param_i64(struct pgsql_params *p, int64_t v)
{
	int i = pgsql_param_slot(p);

	snprintf(p->num[i], sizeof(p->num[i]), "%lld", (long long)v);
	p->values[i] = p->num[i];
	p->lengths[i] = 0;
	p->formats[i] = 0;
}

void pgsql_param_bytes(struct pgsql_params *p, const void *data, size_t len)
{
	int i = pgsql_param_slot(p);

	p->values[i] = data;
	p->lengths[i] = (int)len;
	p->formats[i] = 1;
}

void pgsql_param_bstr(struct pgsql_params *p, const char *s)
{
	pgsql_param_bytes(p, s, s == NULL ? 0 : strlen(s));
}

/* The first line of the server's message, with its SQLSTATE. */
static int pgsql_fail_res(struct pgsql_store *pg, const char *what,
			  const PGresult *res, const char **error_r)
{
	const char *msg, *state;
	size_t len;

	state = res == NULL ? NULL : PQresultErrorField(res, PG_DIAG_SQLSTATE);
	msg = res == NULL ? NULL : PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (msg == NULL)
		msg = PQerrorMessage(pg->conn);
	len = strcspn(msg, "\n");
	snprintf(pg->last_sqlstate, sizeof(pg->last_sqlstate), "%s",
		 state == NULL ? "" : state);
	return store_fail(error_r, "store postgresql:%s: %s: %.*s%s%s%s", pg->where,
			  what, (int)(len > 400 ? 400 : len), msg,
			  state == NULL ? "" : " (", state == NULL ? "" : state,
			  state == NULL ? "" : ")");
}

/* FNV-1a, 64 bits. */
static uint64_t pgsql_sql_hash(const char *sql)
{
	uint64_t h = 14695981039346656037u;

	for (; *sql != '\0'; sql++)
		h = (h ^ (unsigned char)*sql) * 1099511628211u;
	return h;
}

static void pgsql_prepared_forget(struct pgsql_store *pg)
{
	for (size_t i = 0; i < pg->prepared_count; i++)
		mm_free(&pg->prepared[i].sql);
	mm_free(&pg->prepared);
	pg->prepared_count = 0;
	pg->prepared_gen++;
}

/* The name sql is prepared under on this connection, preparing it if
 * there is room: 0 with name filled, 1 to run it unprepared, -1 when
 * preparing failed (*res_r holds the failure). */
static int pgsql_prepared_name(struct pgsql_store *pg, const char *sql,
			       const struct pgsql_params *params, char *name,
			       size_t size, PGresult **res_r)
{
	uint64_t hash = pgsql_sql_hash(sql);
	size_t i;

	*res_r = NULL;
	for (i = 0; i < pg->prepared_count; i++)
		if (pg->prepared[i].hash == hash &&
		    strcmp(pg->prepared[i].sql, sql) == 0)
			break;
	snprintf(name, size, "mm%u_%zu", pg->prepared_gen, i);
	if (i < pg->prepared_count)
		return 0;
	if (i == PGSQL_MAX_PREPARED)
		return 1;
	*res_r = PQprepare(pg->conn, name, sql, params->n, NULL);
	if (*res_r == NULL || PQresultStatus(*res_r) != PGRES_COMMAND_OK)
		return -1;
	PQclear(*res_r);
	*res_r = NULL;
	if (pg->prepared_count == 0)
		pg->prepared = mm_calloc(PGSQL_MAX_PREPARED,
					 sizeof(*pg->prepared));
	pg->prepared[i].hash = hash;
	pg->prepared[i].sql = mm_strdup(sql);
	pg->prepared_count++;
	return 0;
}

PGresult *pgsql_exec(struct pgsql_store *pg, const char *what,
		     const char *sql, const struct pgsql_params *params,
		     const char **error_r)
{
	ExecStatusType status;
	PGresult *res;
	char name[32];
	int prepared = 0;

	pg->last_sqlstate[0] = '\0';
	if (params == NULL) {	/* may be several statements (the schema) */
		res = PQexec(pg->conn, sql);
	} else {
		switch (pgsql_prepared_name(pg, sql, params, name, sizeof(name),
					    &res)) {
		case 0:
			prepared = 1;
			res = PQexecPrepared(pg->conn, name, params->n,
					     params->values, params->lengths,
					     params->formats, 0);
			break;
		case 1:
			res = PQexecParams(pg->conn, sql, params->n, NULL,
					   params->values, params->lengths,
					   params->formats, 0);
			break;
		default:
			break;	/* res: the failure to prepare */
		}
	}
	status = res == NULL ? PGRES_FATAL_ERROR : PQresultStatus(res);
	if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
		return res;
	(void)pgsql_fail_res(pg, what, res, error_r);
	if (prepared && strcmp(pg->last_sqlstate, "0A000") == 0) {
		/* A stale plan: forget them all, and say so to pgsql_txn(). */
		pgsql_prepared_forget(pg);
		pg->replan = 1;
	}
	PQclear(res);
	return NULL;
}

int pgsql_run(struct pgsql_store *pg, const char *what, const char *sql,
	      const struct pgsql_params *params, uint64_t *rows_r,
	      const char **error_r)
{
	PGresult *res;

	res = pgsql_exec(pg, what, sql, params, error_r);
	if (res == NULL)
		return -1;
	if (rows_r != NULL)
		*rows_r = strtoull(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

int pgsql_damaged(struct pgsql_store *pg, const char *what,
		  const char **error_r)
{
	return store_fail(error_r, "store postgresql:%s: damaged %s", pg->where,
			  what);
}

/* --- fields ------------------------------------------------------------------- */

uint64_t pgsql_get_u64(PGresult *res, int row, int col, int *bad)
{
	const char *s;
	char *end;
	unsigned long long v;

	if (PQgetisnull(res, row, col))
		return 0;
	s = PQgetvalue(res, row, col);
	if (*s < '0' || *s > '9') {
		*bad = 1;
		return 0;
	}
	v = strtoull(s, &end, 10);
	if (*end != '\0') {
		*bad = 1;
		return 0;
	}
	return v;
}

int64_t pgsql_get_i64(PGresult *res, int row, int col, int *bad)
{
	const char *s;
	char *end;
	long long v;

	if (PQgetisnull(res, row, col))
		return 0;
	s = PQgetvalue(res, row, col);
	v = strtoll(s, &end, 10);
	if (end == s || *end != '\0') {
		*bad = 1;
		return 0;
	}
	return v;
}

uint32_t pgsql_get_u32(PGresult *res, int row, int col, int *bad)
{
	uint64_t v = pgsql_get_u64(res, row, col, bad);

	if (v > UINT32_MAX) {
		*bad = 1;
		return 0;
	}
	return (uint32_t)v;
}

char *pgsql_get_str(PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return mm_strdup(PQgetvalue(res, row, col));
}

int pgsql_get_bytes(PGresult *res, int row, int col, unsigned char **data_r,
		    size_t *len_r)
{
	unsigned char *raw;
	size_t len;

	*data_r = NULL;
	*len_r = 0;
	if (PQgetisnull(res, row, col))
		return 0;
	raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col),
			      &len);
	if (raw == NULL)
		return -1;
	*data_r = mm_malloc(len + 1);
	memcpy(*data_r, raw, len);
	(*data_r)[len] = '\0';
	*len_r = len;
	PQfreemem(raw);
	return 0;
}

char *pgsql_get_bstr(PGresult *res, int row, int col, size_t max, int *bad)
{
	unsigned char *data;
	size_t len;

	if (pgsql_get_bytes(res, row, col, &data, &len) < 0) {
		*bad = 1;
		return NULL;
	}
	if (data != NULL && (len > max || memchr(data, '\0', len) != NULL)) {
		*bad = 1;
		mm_free(&data);
	}
	return (char *)data;
}

/* --- meta ---------------------------------------------------------------------- */

int pgsql_meta_get(struct pgsql_store *pg, const char *name, uint64_t *value_r,
		   const char **error_r)
{
	struct pgsql_params p;
	PGresult *res;
	int bad = 0;

	pgsql_params_init(&p);
	pgsql_param_str(&p, name);
	res = pgsql_exec(pg, "reading meta",
			 "SELECT value FROM mailmigrate.meta WHERE name = $1",
			 &p, error_r);
	if (res == NULL)
		return -1;
	*value_r = PQntuples(res) == 1 ? pgsql_get_u64(res, 0, 0, &bad) : 0;
	PQclear(res);
	return bad ? pgsql_damaged(pg, "meta value", error_r) : 0;
}

int pgsql_meta_put(struct pgsql_store *pg, const char *name, uint64_t value,
		   const char **error_r)
{
	struct pgsql_params p;

	pgsql_params_init(&p);
	pgsql_param_str(&p, name);
	pgsql_param_u64(&p, value);
	return pgsql_run(pg, "writing meta",
			 "INSERT INTO mailmigrate.meta (name, value) VALUES ($1, $2)"
			 " ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
			 &p, NULL, error_r);
}

/* --- connection and transactions --------------------------------------------- */

/* Notices (CREATE ... IF NOT EXISTS, DROP ... CASCADE) are not ours
 * to print: libpq would write them to stderr, which is Dovecot's log in
 * the auth workers. */
static void pgsql_notice_drop(void *ctx, const char *message)
{
	(void)ctx;
	(void)message;
}

/* Connect (again); 0 or -1. */
static int pgsql_connect(struct pgsql_store *pg, const char **error_r)
{
	PGresult *res;

	if (pg->conn != NULL) {
		PQfinish(pg->conn);
		pg->conn = NULL;
	}
	pgsql_prepared_forget(pg);	/* a new session has none */
	pg->conn = PQconnectdbParams((const char *const *)pg->keywords,
				     (const char *const *)pg->values, 0);
	if (pg->conn == NULL)
		return store_fail(error_r, "store postgresql:%s: out of memory",
				  pg->where);
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		const char *msg = PQerrorMessage(pg->conn);
		size_t len = strcspn(msg, "\n");

		/* libpq prefixes "connection to server at ... failed: ". */
		return store_fail(error_r, "store postgresql:%s: cannot connect: "
				  "%.*s", pg->where, (int)(len > 400 ? 400 : len),
				  msg);
	}
	PQsetNoticeProcessor(pg->conn, pgsql_notice_drop, NULL);
	res = pgsql_exec(pg, "setting up the session",
			 pg->store.readonly ?
			 "SET default_transaction_read_only = on;"
			 " SET client_min_messages = warning" :
			 "SET client_min_messages = warning", NULL, error_r);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static int pgsql_sqlstate_retry(const char *state)
{
	return strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0;
}

/* Whether the connection can take a statement: a server that ended our
 * session (a restart, a failover, pg_terminate_backend) said so and
 * closed the socket; reading what is there finds that out before a
 * statement is sent into a dead session. */
static int pgsql_alive(struct pgsql_store *pg)
{
	struct pollfd pfd;

	if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK)
		return 0;
	/* An idle session hears nothing from the server but its goodbye
	 * (the FATAL message, then the end of the stream): read while
	 * there is something, a few times at most. */
	pfd.fd = PQsocket(pg->conn);
	pfd.events = POLLIN;
	for (int i = 0; i < 4 && pfd.fd >= 0 && poll(&pfd, 1, 0) == 1 &&
	     PQstatus(pg->conn) == CONNECTION_OK; i++)
		(void)PQconsumeInput(pg->conn);
	return PQstatus(pg->conn) == CONNECTION_OK;
}

/* write: a single statement that changes something (begin NULL) is
 * never sent twice: if its connection broke under it, it may have run. */
static int pgsql_txn(struct store *store, const char *begin, int write,
		     pgsql_txn_fn *fn, void *ctx, const char **error_r)
{
	struct pgsql_store *pg = PGSQL(store);
	int ret, reconnected = 0;

	if (pg->in_txn)
		return store_fail(error_r, "store postgresql:%s: a store call "
				  "inside a store call", pg->where);
	for (unsigned tries = 0; tries < PGSQL_TXN_TRIES; tries++) {
		if (!pgsql_alive(pg) && pgsql_connect(pg, error_r) < 0)
			return -1;
		if (begin != NULL &&
		    pgsql_run(pg, "beginning a transaction", begin, NULL, NULL,
			      error_r) < 0) {
			/* Broken since the last call: once more, fresh. */
			if (PQstatus(pg->conn) != CONNECTION_OK && !reconnected) {
				reconnected = 1;
				tries--;
				continue;
			}
			return -1;
		}
		pg->in_txn = 1;
		pg->replan = 0;
		ret = fn(pg, ctx, error_r);
		pg->in_txn = 0;
		if (ret < 0) {
			char state[sizeof(pg->last_sqlstate)];

			memcpy(state, pg->last_sqlstate, sizeof(state));
			if (begin != NULL && PQstatus(pg->conn) == CONNECTION_OK) {
				const char *ignored;

				(void)pgsql_run(pg, "rolling back", "ROLLBACK", NULL,
						NULL, &ignored);
			}
			if (pgsql_sqlstate_retry(state) || pg->replan)
				continue;
			/* A single read on a connection that broke since
			 * pgsql_alive() looked: once more, fresh. */
			if (begin == NULL && !write && !reconnected &&
			    PQstatus(pg->conn) != CONNECTION_OK) {
				reconnected = 1;
				tries--;
				continue;
			}
			/* The message of the body's failure, not ROLLBACK's. */
			return -1;
		}
		if (begin != NULL &&
		    pgsql_run(pg, "committing", "COMMIT", NULL, NULL, error_r) < 0) {
			if (pgsql_sqlstate_retry(pg->last_sqlstate))
				continue;
			return -1;
		}
		return ret;
	}
	return store_fail(error_r, "store postgresql:%s: a transaction failed "
			  "%d times on conflicts with others", pg->where,
			  PGSQL_TXN_TRIES);
}

int pgsql_write(struct store *store, pgsql_txn_fn *fn, void *ctx,
		const char **error_r)
{
	if (store->readonly)
		return store_fail(error_r, "store opened read-only");
	return pgsql_txn(store, "BEGIN", 1, fn, ctx, error_r);
}

int pgsql_single(struct store *store, pgsql_txn_fn *fn, void *ctx,
		 const char **error_r)
{
	return pgsql_txn(store, NULL, 0, fn, ctx, error_r);
}

int pgsql_single_write(struct store *store, pgsql_txn_fn *fn, void *ctx,
		       const char **error_r)
{
	if (store->readonly)
		return store_fail(error_r, "store opened read-only");
	return pgsql_txn(store, NULL, 1, fn, ctx, error_r);
}

int pgsql_read(struct store *store, pgsql_txn_fn *fn, void *ctx,
	       const char **error_r)
{
	return pgsql_txn(store, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
			 0, fn, ctx, error_r);
}

/* --- open and close -------------------------------------------------------------- */

static void pgsql_free_params(struct pgsql_store *pg)
{
	if (pg->keywords == NULL)
		return;
	for (size_t i = 0; pg->keywords[i] != NULL; i++) {
		mm_free(&pg->keywords[i]);
		if (pg->values[i] != NULL)
			mm_free_secret(&pg->values[i]);
	}
	mm_free(&pg->keywords);
	mm_free(&pg->values);
}

/* Parse conninfo into keywords/values, refusing a password, adding the
 * one from opts, a connect timeout and our application name. */
static int pgsql_params_make(struct pgsql_store *pg, const char *conninfo,
			     const struct store_options *opts,
			     const char **error_r)
{
	PQconninfoOption *parsed, *o;
	const char *host = NULL, *port = NULL, *dbname = NULL, *user = NULL;
	int have_timeout = 0;
	char *perr = NULL, timeout[16];
	size_t n = 0, i = 0;
	char where[512];

	parsed = PQconninfoParse(conninfo, &perr);
	if (parsed == NULL) {
		size_t len = perr == NULL ? 0 : strcspn(perr, "\n");

		(void)store_fail(error_r, "store postgresql: cannot parse the "
				 "connection string: %.*s", (int)len,
				 perr == NULL ? "out of memory" : perr);
		PQfreemem(perr);
		return -1;
	}
	for (o = parsed; o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "password") == 0) {
			PQconninfoFree(parsed);
			return store_fail(error_r, "store postgresql: a password in "
					  "the connection string is refused: "
					  "put it sealed in store_password_file "
					  "(`mailmigrate store password`)");
		}
		n++;
	}
	pg->keywords = mm_calloc(n + 5, sizeof(char *));
	pg->values = mm_calloc(n + 5, sizeof(char *));
	for (o = parsed; o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		pg->keywords[i] = mm_strdup(o->keyword);
		pg->values[i++] = mm_strdup(o->val);
		if (strcmp(o->keyword, "host") == 0)
			host = pg->values[i - 1];
		else if (strcmp(o->keyword, "hostaddr") == 0 && host == NULL)
			host = pg->values[i - 1];
		else if (strcmp(o->keyword, "port") == 0)
			port = pg->values[i - 1];
		else if (strcmp(o->keyword, "dbname") == 0)
			dbname = pg->values[i - 1];
		else if (strcmp(o->keyword, "user") == 0)
			user = pg->values[i - 1];
		else if (strcmp(o->keyword, "connect_timeout") == 0)
			have_timeout = 1;
	}
	PQconninfoFree(parsed);
	if (opts->password != NULL) {
		pg->keywords[i] = mm_strdup("password");
		pg->values[i++] = mm_strdup(opts->password);
	}
	/* The conninfo's own connect_timeout wins over ours. */
	if (!have_timeout) {
		snprintf(timeout, sizeof(timeout), "%u",
			 opts->connect_timeout == 0 ? 10 : opts->connect_timeout);
		pg->keywords[i] = mm_strdup("connect_timeout");
		pg->values[i++] = mm_strdup(timeout);
	}
	pg->keywords[i] = mm_strdup("fallback_application_name");
	pg->values[i++] = mm_strdup("mailmigrate");
	snprintf(where, sizeof(where), "%.200s%s%.10s/%.100s", host == NULL ?
		 "(default host)" : host, port == NULL ? "" : ":",
		 port == NULL ? "" : port, dbname != NULL ? dbname :
		 user != NULL ? user : "(default database)");
	pg->where = mm_strdup(where);
	return 0;
}

static struct store_vfuncs pgsql_vfuncs;
static int pgsql_vfuncs_made;

int store_pgsql_open(const char *conninfo, const struct store_options *opts,
		     struct store **store_r, const char **error_r)
{
	static const struct store_options defaults;
	struct pgsql_store *pg;
	int created;

	*store_r = NULL;
	if (opts == NULL)
		opts = &defaults;
	if (!pgsql_vfuncs_made) {
		pgsql_vfuncs.close = pgsql_close;
		pgsql_vfuncs_account(&pgsql_vfuncs);
		pgsql_vfuncs_alias(&pgsql_vfuncs);
		pgsql_vfuncs_job(&pgsql_vfuncs);
		pgsql_vfuncs_folder(&pgsql_vfuncs);
		pgsql_vfuncs_event(&pgsql_vfuncs);
		pgsql_vfuncs_auth(&pgsql_vfuncs);
		pgsql_vfuncs_progress(&pgsql_vfuncs);
		pgsql_vfuncs_sieve(&pgsql_vfuncs);
		pgsql_vfuncs_dav(&pgsql_vfuncs);
		pgsql_vfuncs_acl(&pgsql_vfuncs);
		pgsql_vfuncs_split(&pgsql_vfuncs);
		pgsql_vfuncs_dump(&pgsql_vfuncs);
		pgsql_vfuncs_made = 1;
	}
	pg = mm_calloc(1, sizeof(*pg));
	pg->store.v = &pgsql_vfuncs;
	pg->store.readonly = opts->readonly;
	pg->store.event_log_max = opts->event_log_max == 0 ? 100000 :
		opts->event_log_max;
	if (pgsql_params_make(pg, conninfo, opts, error_r) < 0 ||
	    pgsql_connect(pg, error_r) < 0 ||
	    pgsql_schema_open(pg, opts->create && !opts->readonly, &created,
			      error_r) < 0) {
		struct store *store = &pg->store;

		pgsql_close(store);
		mm_free(&store);
		return -1;
	}
	pg->store.created = created;
	*store_r = &pg->store;
	return 0;
}

static void pgsql_close(struct store *store)
{
	struct pgsql_store *pg = PGSQL(store);

	if (pg->conn != NULL)
		PQfinish(pg->conn);
	pg->conn = NULL;
	pgsql_prepared_forget(pg);
	pgsql_load_free(pg);
	pgsql_free_params(pg);
	mm_free(&pg->where);
}
