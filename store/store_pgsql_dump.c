/*
 * NAME
 *	store_pgsql_dump 3
 * SUMMARY
 *	the PostgreSQL store: every record (store_dump), and loading an
 *	empty store in one transaction (store_copy's target)
 * DESCRIPTION
 *	pgsql_dump() reads every table in one REPEATABLE READ READ ONLY
 *	transaction, through a cursor (FETCH in blocks), so a store of
 *	millions of UID map entries is never held in memory whole. Jobs
 *	and events come in id order; the rest in no particular order.
 *
 *	Loading: load_begin opens a transaction, locks every table the
 *	copy fills (EXCLUSIVE: others may read, none may write, and two
 *	copies do not run at once) and refuses a store that holds any
 *	row in them (meta: any but the schema version). load streams
 *	the records with COPY ... FROM STDIN, one COPY per run of
 *	records of one table, in text format: text columns escaped
 *	(backslash, tab, newline, carriage return), bytea as "\\x" and hex,
 *	the account's aliases as an array literal. Job and event ids are
 *	the source's (so their order is kept); the jobs' id sequence and
 *	meta "event_seq" are set past the highest, so new ones follow.
 *	A dump while loading runs inside the load's transaction and sees
 *	what was loaded; load_end commits or rolls back. While a load is
 *	open every other call on the handle is refused.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mm_alloc.h"
#include "store_pgsql.h"

#define LOAD_FLUSH_AT (256 * 1024)	/* bytes of COPY data sent at once */
#define DUMP_FETCH "1000"		/* rows per FETCH */
/* As the backend's own readers allow. */
#define DUMP_TEXT_MAX 65536
#define DUMP_REASON_MAX (1024 * 1024)

/* The tables a copy fills, in the order of enum store_dump_kind. */
static const struct {
	const char *table;
	const char *columns;
} load_tables[STORE_DUMP_KINDS] = {
	{ "meta", "name, value" },
	{ "accounts", "name, domain, state, flags, password_hash, created,"
	  " updated, copy_started, copy_finished, finished, messages, bytes,"
	  " folders, errors, late_mail, last_error, aliases" },
	{ "creds", "account, sealed" },
	{ "aliases", "alias, account" },
	{ "proposals", "alias, account, state, sources, count, first_seen,"
	  " last_seen" },
	{ "jobs", "id, account, kind, enqueued, not_before, lease_until, owner,"
	  " attempts, last_error, deaths" },
	{ "folders", "account, name, target_name, uidvalidity, last_uid,"
	  " target_uidvalidity, messages, bytes, subscribed, highestmodseq" },
	{ "msgmap", "account, folder, uidvalidity, old_uid, new_uid, flags_hash" },
	{ "uidls", "account, uidl, added" },
	{ "batches", "account, slot, folder, uidvalidity, target_folder,"
	  " target_uidvalidity, target_uidnext, msgs" },
	{ "failed", "account, folder, uidvalidity, uid, size, time, reason" },
	{ "events", "id, time, severity, account, message" },
	{ "tls_seen", "domain, proto, since" },
	{ "rate", "minute, messages, bytes, first" },
	{ "sieve", "account, name, sha256, active" },
	{ "dav", "account, " PGSQL_DAV_COLUMNS },
	{ "acl", "account, " PGSQL_ACL_COLUMNS },
};

struct pgsql_load {
	int copying;		/* a COPY is open ... */
	enum store_dump_kind kind; /* ... into this kind's table */
	char *buf;		/* COPY data not sent yet */
	size_t len, size;
	uint64_t max_job_id, max_event_id;
};

/* --- COPY data ------------------------------------------------------------ */

static void buf_reserve(struct pgsql_load *l, size_t n)
{
	if (l->len + n <= l->size)
		return;
	while (l->len + n > l->size)
		l->size = l->size == 0 ? 4096 : l->size * 2;
	l->buf = mm_realloc(l->buf, l->size);
}

static void buf_char(struct pgsql_load *l, char c)
{
	buf_reserve(l, 1);
	l->buf[l->len++] = c;
}

/* The end of a field: a tab (the line's last one becomes a newline). */
static void buf_sep(struct pgsql_load *l)
{
	buf_char(l, '\t');
}

static void buf_null(struct pgsql_load *l)
{
	buf_reserve(l, 3);
	memcpy(l->buf + l->len, "\\N\t", 3);
	l->len += 3;
}

/* COPY text escaping of one byte. */
static void buf_escaped(struct pgsql_load *l, unsigned char c)
{
	switch (c) {
	case '\\':
		buf_char(l, '\\');
		buf_char(l, '\\');
		break;
	case '\t':
		buf_char(l, '\\');
		buf_char(l, 't');
		break;
	case '\n':
		buf_char(l, '\\');
		buf_char(l, 'n');
		break;
	case '\r':
		buf_char(l, '\\');
		buf_char(l, 'r');
		break;
	default:
		buf_char(l, (char)c);
	}
}

/* A text column; NULL is SQL NULL. */
static void buf_text(struct pgsql_load *l, const char *s)
{
	if (s == NULL) {
		buf_null(l);
		return;
	}
	for (; *s != '\0'; s++)
		buf_escaped(l, (unsigned char)*s);
	buf_sep(l);
}

/* A bytea column in hex ("\x..."; its backslash escaped for COPY). */
static void buf_bytes(struct pgsql_load *l, const void *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = data;

	if (data == NULL) {
		buf_null(l);
		return;
	}
	buf_reserve(l, 3 + 2 * len + 1);
	memcpy(l->buf + l->len, "\\\\x", 3);
	l->len += 3;
	for (size_t i = 0; i < len; i++) {
		l->buf[l->len++] = hex[p[i] >> 4];
		l->buf[l->len++] = hex[p[i] & 15];
	}
	buf_sep(l);
}

/* A string as bytea (its bytes); NULL is SQL NULL. */
static void buf_bstr(struct pgsql_load *l, const char *s)
{
	buf_bytes(l, s, s == NULL ? 0 : strlen(s));
}

static void buf_u64(struct pgsql_load *l, uint64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)v);

	buf_reserve(l, (size_t)n + 1);
	memcpy(l->buf + l->len, num, (size_t)n);
	l->len += (size_t)n;
	buf_sep(l);
}

static void buf_i64(struct pgsql_load *l, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%lld", (long long)v);

	buf_reserve(l, (size_t)n + 1);
	memcpy(l->buf + l->len, num, (size_t)n);
	l->len += (size_t)n;
	buf_sep(l);
}

/* A text[] column: {"a","b"}, each element's quotes and backslashes
 * escaped for the array, and the whole for COPY. */
static void buf_array(struct pgsql_load *l, char *const *v, size_t n)
{
	buf_char(l, '{');
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_char(l, ',');
		buf_char(l, '"');
		for (const char *p = v[i]; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				buf_escaped(l, '\\');
			buf_escaped(l, (unsigned char)*p);
		}
		buf_char(l, '"');
	}
	buf_char(l, '}');
	buf_sep(l);
}

/* The line's last tab becomes its newline. */
static void buf_line_end(struct pgsql_load *l)
{
	l->buf[l->len - 1] = '\n';
}

/* --- COPY on the wire -------------------------------------------------------- */

static int load_fail(struct pgsql_store *pg, const char *what, PGresult *res,
		     const char **error_r)
{
	const char *msg = NULL, *state = NULL;
	size_t len;

	if (res != NULL) {
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	}
	if (msg == NULL)
		msg = PQerrorMessage(pg->conn);
	len = strcspn(msg, "\n");
	snprintf(pg->last_sqlstate, sizeof(pg->last_sqlstate), "%s",
		 state == NULL ? "" : state);
	return store_fail(error_r, "store postgresql:%s: %s: %.*s", pg->where,
			  what, (int)(len > 400 ? 400 : len), msg);
}

static int load_send(struct pgsql_store *pg, const char **error_r)
{
	struct pgsql_load *l = pg->load;

	if (l->len == 0)
		return 0;
	if (PQputCopyData(pg->conn, l->buf, (int)l->len) != 1)
		return load_fail(pg, "copying into the store", NULL, error_r);
	l->len = 0;
	return 0;
}

static int load_copy_start(struct pgsql_store *pg, enum store_dump_kind kind,
			   const char **error_r)
{
	struct pgsql_load *l = pg->load;
	PGresult *res;
	char sql[512];

	snprintf(sql, sizeof(sql), "COPY mailmigrate.%s (%s) FROM STDIN",
		 load_tables[kind].table, load_tables[kind].columns);
	res = PQexec(pg->conn, sql);
	if (res == NULL || PQresultStatus(res) != PGRES_COPY_IN) {
		int ret = load_fail(pg, "starting a COPY", res, error_r);

		PQclear(res);
		return ret;
	}
	PQclear(res);
	l->copying = 1;
	l->kind = kind;
	return 0;
}

/* End the open COPY, if any: sent whole, or (error not NULL) given up. */
static int load_copy_end(struct pgsql_store *pg, const char *error,
			 const char **error_r)
{
	struct pgsql_load *l = pg->load;
	PGresult *res;
	int ret = 0;

	if (!l->copying)
		return 0;
	l->copying = 0;
	if (error == NULL && load_send(pg, error_r) < 0)
		error = "the copy failed";
	l->len = 0;
	if (PQputCopyEnd(pg->conn, error) != 1)
		return load_fail(pg, "ending a COPY", NULL, error_r);
	while ((res = PQgetResult(pg->conn)) != NULL) {
		if (ret == 0 && error == NULL &&
		    PQresultStatus(res) != PGRES_COMMAND_OK)
			ret = load_fail(pg, "copying into the store", res, error_r);
		PQclear(res);
	}
	return error != NULL ? -1 : ret;
}

/* Everything loaded is in the tables, the counters past it. */
static int load_flush(struct pgsql_store *pg, const char **error_r)
{
	struct pgsql_load *l = pg->load;
	struct pgsql_params p;

	if (load_copy_end(pg, NULL, error_r) < 0)
		return -1;
	if (l->max_job_id > 0) {
		pgsql_params_init(&p);
		pgsql_param_u64(&p, l->max_job_id);
		if (pgsql_run(pg, "setting the job sequence",
			      "SELECT setval(pg_get_serial_sequence("
			      "'mailmigrate.jobs', 'id'), $1::bigint)", &p, NULL,
			      error_r) < 0)
			return -1;
	}
	if (l->max_event_id > 0 &&
	    pgsql_meta_put(pg, "event_seq", l->max_event_id, error_r) < 0)
		return -1;
	return 0;
}

/* --- loading ----------------------------------------------------------------- */

/* The tables that must be empty, as one query of booleans. */
static char *load_empty_sql(void)
{
	size_t size = 256;
	char *sql;
	size_t n;

	for (int k = 0; k < STORE_DUMP_KINDS; k++)
		size += strlen(load_tables[k].table) + 80;
	sql = mm_malloc(size);
	n = (size_t)snprintf(sql, size, "SELECT");
	for (int k = 0; k < STORE_DUMP_KINDS; k++)
		n += (size_t)snprintf(sql + n, size - n, "%s EXISTS (SELECT 1 FROM "
				      "mailmigrate.%s%s)", k > 0 ? "," : "",
				      load_tables[k].table,
				      k == STORE_DUMP_META ?
				      " WHERE name <> 'schema_version'" : "");
	return sql;
}

static int load_begin_txn(struct pgsql_store *pg, const char **error_r)
{
	char lock[512], held[512], *sql;
	size_t n, h = 0;
	PGresult *res;

	n = (size_t)snprintf(lock, sizeof(lock), "LOCK TABLE");
	for (int k = 0; k < STORE_DUMP_KINDS; k++)
		n += (size_t)snprintf(lock + n, sizeof(lock) - n, "%s mailmigrate.%s",
				      k > 0 ? "," : "", load_tables[k].table);
	snprintf(lock + n, sizeof(lock) - n, " IN EXCLUSIVE MODE");
	if (pgsql_run(pg, "beginning the copy", "BEGIN", NULL, NULL, error_r) < 0 ||
	    pgsql_run(pg, "locking the tables", lock, NULL, NULL, error_r) < 0)
		return -1;
	sql = load_empty_sql();
	res = pgsql_exec(pg, "looking whether the target is empty", sql, NULL,
			 error_r);
	mm_free(&sql);
	if (res == NULL)
		return -1;
	held[0] = '\0';
	for (int k = 0; k < STORE_DUMP_KINDS; k++) {
		if (strcmp(PQgetvalue(res, 0, k), "t") != 0)
			continue;
		h += (size_t)snprintf(held + h, sizeof(held) - h, "%s%s",
				      h > 0 ? ", " : "", load_tables[k].table);
		if (h >= sizeof(held))
			break;
	}
	PQclear(res);
	if (held[0] != '\0') {
		(void)store_fail(error_r, "store copy: the target postgresql:%s is "
				 "not empty (rows in %s): a copy fills only an "
				 "empty store, nothing was written (use a new "
				 "database, or drop its schema mailmigrate if "
				 "what it holds is not wanted)", pg->where, held);
		return STORE_EXISTS;
	}
	return 0;
}

static int pgsql_load_begin(struct store *store, const char **error_r)
{
	struct pgsql_store *pg = PGSQL(store);
	const char *ignored;
	int ret;

	if (store->readonly)
		return store_fail(error_r, "store opened read-only");
	if (pg->in_txn || pg->load != NULL)
		return store_fail(error_r, "store postgresql:%s: a load inside a "
				  "store call", pg->where);
	if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK) {
		/* The connection broke since open: the next call makes it
		 * again; this one asks for it. */
		return store_fail(error_r, "store postgresql:%s: not connected",
				  pg->where);
	}
	ret = load_begin_txn(pg, error_r);
	if (ret != 0) {
		char why[1024];

		snprintf(why, sizeof(why), "%s", *error_r);
		(void)pgsql_run(pg, "rolling back", "ROLLBACK", NULL, NULL,
				&ignored);
		(void)store_fail(error_r, "%s", why);
		return ret;
	}
	pg->load = mm_calloc(1, sizeof(*pg->load));
	pg->in_txn = 1;		/* every other call is refused */
	return 0;
}

/* One record as a line of its table's COPY. */
static void load_line(struct pgsql_load *l, const struct store_dump_rec *rec)
{
	switch (rec->kind) {
	case STORE_DUMP_META:
		buf_text(l, rec->name);
		buf_u64(l, rec->value);
		break;
	case STORE_DUMP_ACCOUNT: {
		const struct store_account *a = rec->account;

		buf_text(l, a->name);
		buf_text(l, a->domain);
		buf_u64(l, (uint64_t)a->state);
		buf_u64(l, a->flags);
		buf_text(l, a->password_hash);
		buf_i64(l, a->created);
		buf_i64(l, a->updated);
		buf_i64(l, a->copy_started);
		buf_i64(l, a->copy_finished);
		buf_i64(l, a->finished);
		buf_u64(l, a->messages);
		buf_u64(l, a->bytes);
		buf_u64(l, a->folders);
		buf_u64(l, a->errors);
		buf_u64(l, a->late_mail);
		buf_bstr(l, a->last_error);
		buf_array(l, a->aliases, a->aliases_count);
		break;
	}
	case STORE_DUMP_CRED:
		buf_text(l, rec->owner);
		buf_bytes(l, rec->data, rec->len);
		break;
	case STORE_DUMP_ALIAS:
		buf_text(l, rec->name);
		buf_text(l, rec->owner);
		break;
	case STORE_DUMP_PROPOSAL: {
		const struct store_proposal *p = rec->proposal;

		buf_text(l, p->alias);
		buf_text(l, p->account);
		buf_u64(l, (uint64_t)p->state);
		buf_u64(l, p->sources);
		buf_u64(l, p->count);
		buf_i64(l, p->first_seen);
		buf_i64(l, p->last_seen);
		break;
	}
	case STORE_DUMP_JOB: {
		const struct store_job *j = rec->job;

		buf_u64(l, j->id);
		buf_text(l, j->account);
		buf_u64(l, (uint64_t)j->kind);
		buf_i64(l, j->enqueued);
		buf_i64(l, j->not_before);
		buf_i64(l, j->lease_until);
		buf_text(l, j->owner);
		buf_u64(l, j->attempts);
		buf_bstr(l, j->last_error);
		buf_u64(l, j->deaths);
		if (j->id > l->max_job_id)
			l->max_job_id = j->id;
		break;
	}
	case STORE_DUMP_FOLDER: {
		const struct store_folder *f = rec->folder;

		buf_text(l, f->account);
		buf_bstr(l, f->name);
		buf_bstr(l, f->target_name);
		buf_u64(l, f->uidvalidity);
		buf_u64(l, f->last_uid);
		buf_u64(l, f->target_uidvalidity);
		buf_u64(l, f->messages);
		buf_u64(l, f->bytes);
		buf_text(l, f->subscribed ? "t" : "f");
		buf_u64(l, f->highestmodseq);
		break;
	}
	case STORE_DUMP_MSGMAP:
		buf_text(l, rec->owner);
		buf_bstr(l, rec->name);
		buf_u64(l, rec->uidvalidity);
		buf_u64(l, rec->old_uid);
		buf_u64(l, rec->new_uid);
		buf_u64(l, rec->flags_hash);
		break;
	case STORE_DUMP_UIDL:
		buf_text(l, rec->owner);
		buf_bstr(l, rec->name);
		buf_i64(l, rec->time);
		break;
	case STORE_DUMP_BATCH: {
		const struct store_batch *b = rec->batch;
		struct rec_writer w;

		buf_text(l, rec->owner);
		buf_u64(l, rec->value);	/* the slot */
		buf_bstr(l, b->folder);
		buf_u64(l, b->uidvalidity);
		buf_bstr(l, b->target_folder);
		buf_u64(l, b->target_uidvalidity);
		buf_u64(l, b->target_uidnext);
		pgsql_batch_msgs_encode(b, &w);
		buf_bytes(l, w.buf, w.len);
		rec_free(&w);
		break;
	}
	case STORE_DUMP_FAILED: {
		const struct store_failed *it = rec->failed;

		buf_text(l, it->account);
		buf_bstr(l, it->folder);
		buf_u64(l, it->uidvalidity);
		buf_u64(l, it->uid);
		buf_u64(l, it->size);
		buf_i64(l, it->time);
		buf_bstr(l, it->reason);
		break;
	}
	case STORE_DUMP_EVENT: {
		const struct store_event *ev = rec->event;

		buf_u64(l, ev->id);
		buf_i64(l, ev->time);
		buf_u64(l, (uint64_t)ev->severity);
		buf_text(l, ev->account != NULL ? ev->account : "");
		buf_bstr(l, ev->message);
		if (ev->id > l->max_event_id)
			l->max_event_id = ev->id;
		break;
	}
	case STORE_DUMP_TLS:
		buf_text(l, rec->name);
		buf_text(l, rec->proto);
		buf_i64(l, rec->time);
		break;
	case STORE_DUMP_RATE:
		buf_i64(l, rec->time);
		buf_u64(l, rec->value);
		buf_u64(l, rec->bytes);
		buf_i64(l, rec->first);
		break;
	case STORE_DUMP_SIEVE:
		buf_text(l, rec->owner);
		buf_bstr(l, rec->name);
		buf_bytes(l, rec->data, rec->len);
		buf_u64(l, rec->value);
		break;
	case STORE_DUMP_DAV:
		buf_text(l, rec->owner);
		buf_bstr(l, rec->name);
		buf_bstr(l, rec->dav->kind == STORE_DAV_ITEM ? rec->dav->old_url : "");
		buf_u64(l, rec->dav->kind);
		buf_bstr(l, rec->dav->new_url);
		buf_bytes(l, rec->dav->old_etag, STORE_DAV_HASH);
		buf_bytes(l, rec->dav->new_etag, STORE_DAV_HASH);
		buf_bytes(l, rec->dav->sha256, STORE_DAV_HASH);
		buf_i64(l, rec->dav->copied);
		break;
	case STORE_DUMP_ACL:
		buf_text(l, rec->owner);
		buf_bstr(l, rec->acl->folder);
		buf_bstr(l, rec->acl->identifier);
		buf_bstr(l, rec->acl->target);
		buf_bstr(l, rec->acl->given_to);
		buf_bstr(l, rec->acl->rights);
		buf_u64(l, rec->acl->state);
		buf_i64(l, rec->acl->updated);
		break;
	}
	buf_line_end(l);
}

static int pgsql_load(struct store *store, const struct store_dump_rec *rec,
		      const char **error_r)
{
	struct pgsql_store *pg = PGSQL(store);
	struct pgsql_load *l = pg->load;

	if (l == NULL)
		return store_fail(error_r, "store postgresql:%s: load without "
				  "load_begin", pg->where);
	if ((unsigned)rec->kind >= STORE_DUMP_KINDS)
		return store_fail(error_r, "store copy: a record of unknown kind");
	if (rec->kind == STORE_DUMP_META && rec->value == 0)
		return 0;	/* as absent: a PostgreSQL store reads it 0 */
	if (l->copying && l->kind != rec->kind &&
	    load_copy_end(pg, NULL, error_r) < 0)
		return -1;
	if (!l->copying && load_copy_start(pg, rec->kind, error_r) < 0)
		return -1;
	load_line(l, rec);
	return l->len >= LOAD_FLUSH_AT ? load_send(pg, error_r) : 0;
}

static int pgsql_load_end(struct store *store, int commit, const char **error_r)
{
	struct pgsql_store *pg = PGSQL(store);
	const char *ignored;
	int ret = 0;

	if (pg->load == NULL)
		return store_fail(error_r, "store postgresql:%s: load_end without "
				  "load_begin", pg->where);
	if (commit) {
		ret = load_flush(pg, error_r);
		if (ret == 0)
			ret = pgsql_run(pg, "committing the copy", "COMMIT", NULL,
					NULL, error_r);
	}
	if (!commit || ret < 0) {
		char why[1024];

		snprintf(why, sizeof(why), "%s", ret < 0 ? *error_r : "");
		(void)load_copy_end(pg, "store copy rolled back", &ignored);
		(void)pgsql_run(pg, "rolling back", "ROLLBACK", NULL, NULL,
				&ignored);
		if (ret < 0)
			(void)store_fail(error_r, "%s", why);
	}
	mm_free(&pg->load->buf);
	mm_free(&pg->load);
	pg->in_txn = 0;
	return ret;
}

void pgsql_load_free(struct pgsql_store *pg)
{
	if (pg->load == NULL)
		return;
	mm_free(&pg->load->buf);
	mm_free(&pg->load);
}

/* --- dump --------------------------------------------------------------------- */

struct dump_ctx {
	store_dump_fn *fn;
	void *fn_ctx;
};

typedef int dump_row_fn(struct pgsql_store *pg, struct dump_ctx *ctx,
			PGresult *res, int row, const char **error_r);

/* Call rowfn for each row of sql, read through a cursor. */
static int dump_rows(struct pgsql_store *pg, struct dump_ctx *ctx,
		     const char *what, const char *sql, dump_row_fn *rowfn,
		     const char **error_r)
{
	char *declare = mm_asprintf("DECLARE mm_dump NO SCROLL CURSOR FOR %s", sql);
	PGresult *res;
	int ret = 0, n;

	ret = pgsql_run(pg, what, declare, NULL, NULL, error_r);
	mm_free(&declare);
	if (ret < 0)
		return -1;
	do {
		res = pgsql_exec(pg, what, "FETCH FORWARD " DUMP_FETCH
				 " FROM mm_dump", NULL, error_r);
		if (res == NULL)
			return -1;
		n = PQntuples(res);
		for (int row = 0; row < n && ret == 0; row++)
			ret = rowfn(pg, ctx, res, row, error_r);
		PQclear(res);
	} while (ret == 0 && n > 0);
	if (ret != 0)
		return ret;
	return pgsql_run(pg, what, "CLOSE mm_dump", NULL, NULL, error_r);
}

static int dump_account(struct pgsql_store *pg, struct dump_ctx *ctx,
			PGresult *res, int row, const char **error_r)
{
	struct store_dump_rec rec = { .kind = STORE_DUMP_ACCOUNT };
	struct store_account acct;
	int ret;

	if (pgsql_account_decode(pg, res, row, &acct, error_r) < 0)
		return -1;
	rec.account = &acct;
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	store_account_clear(&acct);
	return ret;
}

static int dump_cred(struct pgsql_store *pg, struct dump_ctx *ctx,
		     PGresult *res, int row, const char **error_r)
{
	struct store_dump_rec rec = { .kind = STORE_DUMP_CRED };
	unsigned char *sealed;
	size_t len;
	int ret;

	if (pgsql_get_bytes(res, row, 1, &sealed, &len) < 0 || sealed == NULL)
		return pgsql_damaged(pg, "sealed password", error_r);
	rec.owner = PQgetvalue(res, row, 0);
	rec.data = sealed;
	rec.len = len;
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	mm_free(&sealed);
	return ret;
}

static int dump_alias(struct pgsql_store *pg, struct dump_ctx *ctx,
		      PGresult *res, int row, const char **error_r)
{
	struct store_dump_rec rec = { .kind = STORE_DUMP_ALIAS };

	(void)pg;
	rec.name = PQgetvalue(res, row, 0);
	rec.owner = PQgetvalue(res, row, 1);
	return ctx->fn(&rec, ctx->fn_ctx, error_r);
}

static int dump_proposal(struct pgsql_store *pg, struct dump_ctx *ctx,
			 PGresult *res, int row, const char **error_r)
{
	struct store_dump_rec rec = { .kind = STORE_DUMP_PROPOSAL };
	struct store_proposal p;
	int ret;

	if (pgsql_proposal_decode(pg, res, row, &p, error_r) < 0)
		return -1;
	rec.proposal = &p;
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	store_proposal_clear(&p);
	return ret;
}

static int dump_job(struct pgsql_store *pg, struct dump_ctx *ctx,
		    PGresult *res, int row, const char **error_r)
{
	struct store_dump_rec rec = { .kind = STORE_DUMP_JOB };
	struct store_job job;
	int ret;

	if (pgsql_job_decode(pg, res, row, &job, error_r) < 0)
		return -1;
	rec.job = &job;
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	store_job_clear(&job);
	return ret;
}

static int dump_folder(struct pgsql_store *pg, struct dump_ctx *ctx,
		       PGresult *res, int row, const char **error_r)
{
	struct store_dump_rec rec = { .kind = STORE_DUMP_FOLDER };
	struct store_folder f;
	int ret;

	if (pgsql_folder_decode(pg, res, row, &f, error_r) < 0)
		return -1;
	rec.folder = &f;
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	store_folder_clear(&f);
	return ret;
}

static int dump_msgmap(struct pgsql_store *pg, struct dump_ctx *ctx,
		       PGresult *res, int row, const char **error_r)
{
	struct store_dump_rec rec = { .kind = STORE_DUMP_MSGMAP };
	char *folder;
	int bad = 0, ret;

	folder = pgsql_get_bstr(res, row, 1, STORE_MAX_FOLDER, &bad);
	rec.owner = PQgetvalue(res, row, 0);
	rec.uidvalidity = pgsql_get_u32(res, row, 2, &bad);
	rec.old_uid = pgsql_get_u32(res, row, 3, &bad);
	rec.new_uid = pgsql_get_u32(res, row, 4, &bad);
	rec.flags_hash = pgsql_get_u32(res, row, 5, &bad);
	if (bad || folder == NULL) {
		mm_free(&folder);
		return pgsql_damaged(pg, "UID map entry", error_r);
	}
	rec.name = folder;
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	mm_free(&folder);
	return ret;
}

static int dump_uidl(struct pgsql_store *pg, struct dump_ctx *ctx,
		     PGresult *res, int row, const char **error_r)
{
	struct store_dump_rec rec = { .kind = STORE_DUMP_UIDL };
	char *uidl;
	int bad = 0, ret;

	uidl = pgsql_get_bstr(res, row, 1, STORE_MAX_UIDL, &bad);
	rec.owner = PQgetvalue(res, row, 0);
	rec.time = pgsql_get_i64(res, row, 2, &bad);
	if (bad || uidl == NULL) {
		mm_free(&uidl);
		return pgsql_damaged(pg, "UIDL record", error_r);
	}
	rec.name = uidl;
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	mm_free(&uidl);
	return ret;
}

static int dump_batch(struct pgsql_store *pg, struct dump_ctx *ctx,
		      PGresult *res, int row, const char **error_r)
{
	struct store_dump_rec rec = { .kind = STORE_DUMP_BATCH };
	struct store_batch b;
	unsigned char *msgs = NULL;
	size_t len = 0;
	int bad = 0, ret;

	memset(&b, 0, sizeof(b));
	rec.value = pgsql_get_u64(res, row, 1, &bad);	/* the slot */
	b.folder = pgsql_get_bstr(res, row, 2, STORE_MAX_FOLDER, &bad);
	b.uidvalidity = pgsql_get_u32(res, row, 3, &bad);
	b.target_folder = pgsql_get_bstr(res, row, 4, STORE_MAX_FOLDER, &bad);
	b.target_uidvalidity = pgsql_get_u32(res, row, 5, &bad);
	b.target_uidnext = pgsql_get_u32(res, row, 6, &bad);
	if (rec.value >= STORE_BATCH_SLOTS)
		bad = 1;
	if (pgsql_get_bytes(res, row, 7, &msgs, &len) < 0)
		bad = 1;
	if (!bad && (msgs == NULL || pgsql_batch_msgs_decode(msgs, len, &b) < 0))
		bad = 1;
	mm_free(&msgs);
	if (bad || b.folder == NULL || b.target_folder == NULL) {
		store_batch_clear(&b);
		return pgsql_damaged(pg, "pending batch record", error_r);
	}
	rec.owner = PQgetvalue(res, row, 0);
	rec.batch = &b;
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	store_batch_clear(&b);
	return ret;
}

static int dump_failed(struct pgsql_store *pg, struct dump_ctx *ctx,
		       PGresult *res, int row, const char **error_r)
{
	struct store_dump_rec rec = { .kind = STORE_DUMP_FAILED };
	struct store_failed it;
	int bad = 0, ret;

	memset(&it, 0, sizeof(it));
	it.account = pgsql_get_str(res, row, 0);
	it.folder = pgsql_get_bstr(res, row, 1, STORE_MAX_FOLDER, &bad);
	it.uidvalidity = pgsql_get_u32(res, row, 2, &bad);
	it.uid = pgsql_get_u32(res, row, 3, &bad);
	it.size = pgsql_get_u64(res, row, 4, &bad);
	it.time = pgsql_get_i64(res, row, 5, &bad);
	it.reason = pgsql_get_bstr(res, row, 6, DUMP_REASON_MAX, &bad);
	if (bad || it.account == NULL || it.folder == NULL) {
		store_failed_clear(&it);
		return pgsql_damaged(pg, "failed-item record", error_r);
	}
	rec.failed = &it;
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	store_failed_clear(&it);
	return ret;
}

static int dump_event(struct pgsql_store *pg, struct dump_ctx *ctx,
		      PGresult *res, int row, const char **error_r)
{
	struct store_dump_rec rec = { .kind = STORE_DUMP_EVENT };
	struct store_event ev;
	int ret;

	if (pgsql_event_decode(pg, res, row, &ev, error_r) < 0)
		return -1;
	rec.event = &ev;
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	mm_free(&ev.account);
	mm_free(&ev.message);
	return ret;
}

static int dump_tls(struct pgsql_store *pg, struct dump_ctx *ctx,
		    PGresult *res, int row, const char **error_r)
{
	struct store_dump_rec rec = { .kind = STORE_DUMP_TLS };
	int bad = 0;

	rec.name = PQgetvalue(res, row, 0);
	rec.proto = PQgetvalue(res, row, 1);
	rec.time = pgsql_get_i64(res, row, 2, &bad);
	if (bad)
		return pgsql_damaged(pg, "TLS memory record", error_r);
	return ctx->fn(&rec, ctx->fn_ctx, error_r);
}

static int dump_rate(struct pgsql_store *pg, struct dump_ctx *ctx,
		     PGresult *res, int row, const char **error_r)
{
	struct store_dump_rec rec = { .kind = STORE_DUMP_RATE };
	int bad = 0;

	rec.time = pgsql_get_i64(res, row, 0, &bad);
	rec.value = pgsql_get_u64(res, row, 1, &bad);
	rec.bytes = pgsql_get_u64(res, row, 2, &bad);
	rec.first = pgsql_get_i64(res, row, 3, &bad);
	if (bad)
		return pgsql_damaged(pg, "copy rate record", error_r);
	return ctx->fn(&rec, ctx->fn_ctx, error_r);
}

static int dump_sieve(struct pgsql_store *pg, struct dump_ctx *ctx,
		      PGresult *res, int row, const char **error_r)
{
	struct store_dump_rec rec = { .kind = STORE_DUMP_SIEVE };
	unsigned char *hash = NULL;
	size_t len = 0;
	char *name;
	int bad = 0, ret;

	rec.owner = PQgetvalue(res, row, 0);
	name = pgsql_get_bstr(res, row, 1, STORE_MAX_SIEVE_NAME, &bad);
	if (pgsql_get_bytes(res, row, 2, &hash, &len) < 0 || len != STORE_SIEVE_HASH)
		bad = 1;
	rec.value = pgsql_get_u64(res, row, 3, &bad);
	if (bad || name == NULL || rec.value > 1) {
		mm_free(&name);
		mm_free(&hash);
		return pgsql_damaged(pg, "Sieve record", error_r);
	}
	rec.name = name;
	rec.data = hash;
	rec.len = len;
	ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	mm_free(&name);
	mm_free(&hash);
	return ret;
}

static int dump_dav(struct pgsql_store *pg, struct dump_ctx *ctx,
		    PGresult *res, int row, const char **error_r)
{
	struct store_dump_rec rec = { .kind = STORE_DUMP_DAV };
	char *coll = mm_malloc(STORE_MAX_DAV_URL + 1);
	struct store_dav *d = mm_malloc(sizeof(*d));
	int ret;

	rec.owner = PQgetvalue(res, row, 0);
	if (pgsql_dav_row(res, row, 1, coll, d) < 0) {
		ret = pgsql_damaged(pg, "DAV record", error_r);
	} else {
		rec.name = coll;
		rec.dav = d;
		ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	}
	mm_free(&coll);
	mm_free(&d);
	return ret;
}

static int dump_acl(struct pgsql_store *pg, struct dump_ctx *ctx,
		    PGresult *res, int row, const char **error_r)
{
	struct store_dump_rec rec = { .kind = STORE_DUMP_ACL };
	struct store_acl *a = mm_malloc(sizeof(*a));
	int ret;

	rec.owner = PQgetvalue(res, row, 0);
	if (pgsql_acl_row(res, row, 1, a) < 0) {
		ret = pgsql_damaged(pg, "ACL record", error_r);
	} else {
		rec.acl = a;
		ret = ctx->fn(&rec, ctx->fn_ctx, error_r);
	}
	mm_free(&a);
	return ret;
}

static int dump_meta(struct pgsql_store *pg, struct dump_ctx *ctx,
		     const char **error_r)
{
	struct store_dump_rec rec = { .kind = STORE_DUMP_META };
	int ret;

	for (size_t i = 0; i < STORE_META_NAMES; i++) {
		rec.name = store_meta_names[i];
		if (pgsql_meta_get(pg, rec.name, &rec.value, error_r) < 0)
			return -1;
		if ((ret = ctx->fn(&rec, ctx->fn_ctx, error_r)) != 0)
			return ret;
	}
	return 0;
}

static int dump_body(struct pgsql_store *pg, void *context,
		     const char **error_r)
{
	static const struct {
		const char *what;
		const char *sql;
		dump_row_fn *fn;
	} reads[] = {
		{ "reading the accounts", "SELECT " PGSQL_ACCOUNT_COLUMNS
		  " FROM mailmigrate.accounts", dump_account },
		{ "reading the sealed passwords", "SELECT account, sealed FROM"
		  " mailmigrate.creds", dump_cred },
		{ "reading the aliases", "SELECT alias, account FROM"
		  " mailmigrate.aliases", dump_alias },
		{ "reading the alias proposals", "SELECT " PGSQL_PROPOSAL_COLUMNS
		  " FROM mailmigrate.proposals", dump_proposal },
		{ "reading the jobs", "SELECT " PGSQL_JOB_COLUMNS
		  " FROM mailmigrate.jobs ORDER BY id", dump_job },
		{ "reading the folders", "SELECT " PGSQL_FOLDER_COLUMNS
		  " FROM mailmigrate.folders", dump_folder },
		{ "reading the UID map", "SELECT account, folder, uidvalidity,"
		  " old_uid, new_uid, flags_hash FROM mailmigrate.msgmap",
		  dump_msgmap },
		{ "reading the UIDLs", "SELECT account, uidl, added FROM"
		  " mailmigrate.uidls", dump_uidl },
		{ "reading the pending batches", "SELECT account, slot, folder,"
		  " uidvalidity, target_folder, target_uidvalidity,"
		  " target_uidnext, msgs FROM mailmigrate.batches", dump_batch },
		{ "reading the failed items", "SELECT account, folder,"
		  " uidvalidity, uid, size, time, reason FROM mailmigrate.failed",
		  dump_failed },
		{ "reading the events", "SELECT " PGSQL_EVENT_COLUMNS
		  " FROM mailmigrate.events ORDER BY id", dump_event },
		{ "reading the TLS memory", "SELECT domain, proto, since FROM"
		  " mailmigrate.tls_seen", dump_tls },
		{ "reading the copy rate", "SELECT minute, messages, bytes, first"
		  " FROM mailmigrate.rate", dump_rate },
		{ "reading the Sieve records", "SELECT account, name, sha256, active"
		  " FROM mailmigrate.sieve", dump_sieve },
		{ "reading the DAV records", "SELECT account, " PGSQL_DAV_COLUMNS
		  " FROM mailmigrate.dav", dump_dav },
		{ "reading the ACL records", "SELECT account, " PGSQL_ACL_COLUMNS
		  " FROM mailmigrate.acl", dump_acl },
	};
	struct dump_ctx *ctx = context;
	int ret;

	if ((ret = dump_meta(pg, ctx, error_r)) != 0)
		return ret;
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		ret = dump_rows(pg, ctx, reads[i].what, reads[i].sql, reads[i].fn,
				error_r);
		if (ret != 0)
			return ret;
	}
	return 0;
}

static int pgsql_dump(struct store *store, store_dump_fn *fn, void *fn_ctx,
		      const char **error_r)
{
	struct pgsql_store *pg = PGSQL(store);
	struct dump_ctx ctx = { fn, fn_ctx };

	if (pg->load != NULL) {
		/* Inside the load: what it wrote, before it commits. */
		if (load_flush(pg, error_r) < 0)
			return -1;
		return dump_body(pg, &ctx, error_r);
	}
	return pgsql_read(store, dump_body, &ctx, error_r);
}

void pgsql_vfuncs_dump(struct store_vfuncs *v)
{
	v->dump = pgsql_dump;
	v->load_begin = pgsql_load_begin;
	v->load = pgsql_load;
	v->load_end = pgsql_load_end;
}
