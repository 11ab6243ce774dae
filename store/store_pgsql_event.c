/*
 * NAME
 *	store_pgsql_event 3
 * SUMMARY
 *	the PostgreSQL store: events, statistics, the pause flag
 * DESCRIPTION
 *	mailmigrate.events is the administrator's log, oldest first by
 *	id; beyond event_log_max the oldest rows are deleted by the
 *	writes that add new ones. Error events are also counted in meta
 *	"errors", which outlives the trimmed rows.
 */
#include "config.h"

#include <string.h>

#include "mm_alloc.h"
#include "store_pgsql.h"

int pgsql_event_add_txn(struct pgsql_store *pg, time_t now,
			enum log_severity sev, const char *account,
			const char *message, const char **error_r)
{
	struct pgsql_params p;
	uint64_t id;
	size_t len;
	PGresult *res;
	int bad = 0;

	len = strnlen(message, STORE_MAX_EVENT_TEXT);
	pgsql_params_init(&p);
	pgsql_param_i64(&p, now);
	pgsql_param_u64(&p, (uint64_t)sev);
	pgsql_param_str(&p, account != NULL ? account : "");
	pgsql_param_bytes(&p, message, len);
	res = pgsql_exec(pg, "adding an event",
			 "INSERT INTO mailmigrate.events (time, severity, account,"
			 " message) VALUES ($1, $2, $3, $4) RETURNING id", &p,
			 error_r);
	if (res == NULL)
		return -1;
	id = pgsql_get_u64(res, 0, 0, &bad);
	PQclear(res);
	if (bad)
		return pgsql_damaged(pg, "event id", error_r);
	if (sev >= LOG_SEV_ERROR &&
	    pgsql_run(pg, "counting an error",
		      "INSERT INTO mailmigrate.meta (name, value) VALUES"
		      " ('errors', 1) ON CONFLICT (name)"
		      " DO UPDATE SET value = meta.value + 1", NULL, NULL,
		      error_r) < 0)
		return -1;
	/* Ids only grow: everything event_log_max below this one goes. */
	if (id <= pg->store.event_log_max)
		return 0;
	pgsql_params_init(&p);
	pgsql_param_u64(&p, id - pg->store.event_log_max);
	return pgsql_run(pg, "dropping old events",
			 "DELETE FROM mailmigrate.events WHERE id <= $1", &p, NULL,
			 error_r);
}

void pgsql_vfuncs_event(struct store_vfuncs *v)
{
	(void)v;
}
