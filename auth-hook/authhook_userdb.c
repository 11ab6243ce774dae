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
	const char *at = strchr(account, '@');
	size_t nlen = at != NULL ? (size_t)(at - account) : strlen(account);
	const char *domain = at != NULL ? at + 1 : "";
	size_t size = 64, len = 0;
	char *out = mm_malloc(size);

	for (const char *p = template; *p != '\0'; p++) {
		const char *add = p;
		size_t alen = 1;

		if (p[0] == '%' && p[1] != '\0') {
			switch (p[1]) {
			case 'u': add = account; alen = strlen(account); p++; break;
			case 'n': add = account; alen = nlen; p++; break;
			case 'd': add = domain; alen = strlen(domain); p++; break;
			case '%': alen = 1; p++; break;
			default: break;	/* kept as it is */
			}
		}
		while (len + alen + 1 > size) {
			size *= 2;
			out = mm_realloc(out, size);
		}
		memcpy(out + len, add, alen);
		len += alen;
	}
	out[len] = '\0';
	return out;
}
