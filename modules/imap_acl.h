/*
 * NAME
 *	imap_acl 3h
 * SUMMARY
 *	the ACL response of GETACL (RFC 4314), bounded
 * DESCRIPTION
 *	"* ACL mailbox identifier rights [identifier rights ...]": each
 *	pair into a struct driver_acl (driver(3h)). Rights are what RFC
 *	4314 section 2.1 allows (letters and digits; RFC 2086's "c" and
 *	"d" too); an identifier is any astring without a control byte.
 * LIMITS
 *	DRIVER_ACL_MAX entries per folder, identifiers and rights of at
 *	most DRIVER_ACL_ID_MAX - 1 and DRIVER_ACL_RIGHTS_MAX - 1 bytes;
 *	more, or an odd number of fields, is refused.
 */
#ifndef MM_IMAP_ACL_H
#define MM_IMAP_ACL_H

#include <stddef.h>

#include "driver.h"
#include "imap_parse.h"

/* args, count: an untagged response (args[0] the atom ACL). Its entries
 * are added to *acl (which may hold entries of an earlier ACL line).
 * 0, or -1 with *error_r (static text) and *acl as it was. */
int imap_acl_parse(const struct imap_arg *args, size_t count, struct driver_acl *acl,
		   const char **error_r);

/* Are rights RFC 4314 rights (lowercase letters and digits, no
 * repeat)? "" is (no rights). */
int imap_acl_rights_valid(const char *rights);

#endif
