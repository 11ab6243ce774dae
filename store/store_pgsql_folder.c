/*
 * NAME
 *	store_pgsql_folder 3
 * SUMMARY
 *	the PostgreSQL store: folders, the UID map, batches, failed items,
 *	POP3 UIDLs, reset
 */
#include "config.h"

#include <string.h>

#include "mm_alloc.h"
#include "store_pgsql.h"

void pgsql_vfuncs_folder(struct store_vfuncs *v)
{
	(void)v;
}
