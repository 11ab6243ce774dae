/*
 * NAME
 *	store_pgsql_job 3
 * SUMMARY
 *	the PostgreSQL store: the job queue, FIFO with leases
 * DESCRIPTION
 *	mailmigrate.jobs holds one row per account at most (UNIQUE
 *	account); id gives the FIFO order.
 */
#include "config.h"

#include <string.h>

#include "mm_alloc.h"
#include "store_pgsql.h"

int pgsql_job_enqueue_txn(struct pgsql_store *pg, const char *account,
			  enum store_job_kind kind, time_t now, uint64_t *id_r,
			  const char **error_r)
{
	struct pgsql_params p;
	PGresult *res;
	int bad = 0, existed;

	/* Insert, or raise the kind of the job the account has (copy <
	 * sync < finish); xmax = 0 tells a fresh row from an updated one. */
	pgsql_params_init(&p);
	pgsql_param_str(&p, account);
	pgsql_param_u64(&p, (uint64_t)kind);
	pgsql_param_i64(&p, now);
	res = pgsql_exec(pg, "queueing a job",
			 "INSERT INTO mailmigrate.jobs (account, kind, enqueued)"
			 " VALUES ($1, $2, $3) ON CONFLICT (account) DO UPDATE"
			 " SET kind = GREATEST(jobs.kind, EXCLUDED.kind)"
			 " RETURNING id, NOT (xmax = 0)", &p, error_r);
	if (res == NULL)
		return -1;
	*id_r = pgsql_get_u64(res, 0, 0, &bad);
	existed = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	if (bad)
		return pgsql_damaged(pg, "job id", error_r);
	return existed ? STORE_EXISTS : 0;
}

int pgsql_job_cancel_txn(struct pgsql_store *pg, const char *account,
			 const char **error_r)
{
	struct pgsql_params p;
	uint64_t rows;

	pgsql_params_init(&p);
	pgsql_param_str(&p, account);
	if (pgsql_run(pg, "cancelling a job",
		      "DELETE FROM mailmigrate.jobs WHERE account = $1", &p, &rows,
		      error_r) < 0)
		return -1;
	return rows == 0 ? STORE_NOTFOUND : 0;
}

void pgsql_vfuncs_job(struct store_vfuncs *v)
{
	(void)v;
}
