/*
 * NAME
 *	imap_acl 3
 * SUMMARY
 *	the ACL response of GETACL (RFC 4314), bounded
 * DESCRIPTION
 *	imap_acl(3h). RFC 4314 section 3.6:
 *	  acl-data = "ACL" SP mailbox *(SP identifier SP rights)
 *	  identifier = astring, rights = astring
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "imap_acl.h"
#include "mm_alloc.h"

int imap_acl_rights_valid(const char *rights)
{
	for (const char *p = rights; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			return 0;
		if (strchr(p + 1, *p) != NULL)
			return 0;
	}
	return 1;
}

static int acl_field(const struct imap_arg *arg, size_t max, const char **value_r)
{
	const char *v = imap_arg_get_astring(arg);

	if (v == NULL || strlen(v) >= max || strlen(v) != arg->len)
		return -1;
	for (const unsigned char *p = (const unsigned char *)v; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return -1;
	*value_r = v;
	return 0;
}

int imap_acl_parse(const struct imap_arg *args, size_t count, struct driver_acl *acl,
		   const char **error_r)
{
	size_t pairs, have = acl->count;

	if (count < 2 || !imap_arg_is_atom(&args[0], "ACL") ||
	    imap_arg_get_astring(&args[1]) == NULL) {
		*error_r = "ACL: not \"ACL mailbox ...\"";
		return -1;
	}
	if ((count - 2) % 2 != 0) {
		*error_r = "ACL: an identifier without its rights";
		return -1;
	}
	pairs = (count - 2) / 2;
	if (have + pairs > DRIVER_ACL_MAX) {
		*error_r = "ACL: more entries than a folder may have here";
		return -1;
	}
	for (size_t i = 0; i < pairs; i++) {
		const char *id, *rights;

		if (acl_field(&args[2 + 2 * i], DRIVER_ACL_ID_MAX, &id) < 0 || id[0] == '\0') {
			*error_r = "ACL: an identifier empty, too long or with a control byte";
			return -1;
		}
		if (acl_field(&args[3 + 2 * i], DRIVER_ACL_RIGHTS_MAX, &rights) < 0 ||
		    !imap_acl_rights_valid(rights)) {
			*error_r = "ACL: rights that are not RFC 4314 rights";
			return -1;
		}
	}
	acl->e = mm_reallocarray(acl->e, have + pairs + 1, sizeof(*acl->e));
	for (size_t i = 0; i < pairs; i++) {
		struct driver_acl_entry *e = &acl->e[have + i];

		snprintf(e->identifier, sizeof(e->identifier), "%s",
			 imap_arg_get_astring(&args[2 + 2 * i]));
		snprintf(e->rights, sizeof(e->rights), "%s",
			 imap_arg_get_astring(&args[3 + 2 * i]));
	}
	acl->count = have + pairs;
	return 0;
}
