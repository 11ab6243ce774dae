/*
 * NAME
 *	authhook_userdb 3
 * SUMMARY
 *	the userdb half: where a migrated user's mail lives
 * DESCRIPTION
 *	Accounts in the store, and each domain's notice_account, get
 *	home, mail, uid and gid from user_home, user_mail, user_uid and
 *	user_gid, with %u (user@domain), %n (user) and %d (domain)
 *	expanded. Anyone else is unknown here, for the next userdb.
 */
#include "config.h"

#include <string.h>

#include "authhook.h"
#include "mm_alloc.h"

char *authhook_expand(const char *template, const char *account)
{
	return cfg_expand_user(template, account);
}
