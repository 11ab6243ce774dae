/*
 * NAME
 *	store_pgsql_auth 3
 * SUMMARY
 *	the PostgreSQL store: the auth-hook's rate limits and failed-login
 *	cache, and the TLS memory
 */
#include "config.h"

#include <string.h>

#include "mm_alloc.h"
#include "store_pgsql.h"

void pgsql_vfuncs_auth(struct store_vfuncs *v)
{
	(void)v;
}
