/*
 * NAME
 *	acl_rights 3h
 * SUMMARY
 *	RFC 4314 rights and identifiers, compared and spelled Dovecot's way
 * DESCRIPTION
 *	Servers spell the same rights differently: Cyrus adds RFC 2086's
 *	"c" and "d" to the letters they stand for ("lrswipkxtecda"), an old
 *	server gives only those ("lrswipcda"), Dovecot neither. Rights are
 *	compared in one form: acl_rights_normalize() turns "c" into "k" and
 *	"x", "d" into "t" and "e" (RFC 4314 section 2.1.1), drops repeats
 *	and orders them "lrwstipekxa", other letters (RFC 4314's digits)
 *	after, in their order.
 *
 *	Dovecot's own tools (doveadm acl, dovecot-acl files) name rights
 *	("lookup", "read", ..., a negative one "-read") and identifiers
 *	("user=NAME", "group=NAME", "anyone", "authenticated", "owner");
 *	IMAP spells them as letters and "NAME", "$GROUP" (Dovecot's
 *	imap_acl), a negative entry as "-NAME". The functions below convert
 *	both ways; what has no counterpart is refused, not guessed.
 * LIMITS
 *	Rights of at most DRIVER_ACL_RIGHTS_MAX - 1 letters, identifiers of
 *	at most DRIVER_ACL_ID_MAX - 1 bytes (driver(3h)).
 */
#ifndef MM_ACL_RIGHTS_H
#define MM_ACL_RIGHTS_H

#include <stddef.h>

#include "driver.h"

/* rights in the one form, into out (DRIVER_ACL_RIGHTS_MAX bytes). */
void acl_rights_normalize(const char *rights, char out[DRIVER_ACL_RIGHTS_MAX]);

/* Do a and b grant the same, in any spelling? */
int acl_rights_same(const char *a, const char *b);

/* IMAP's letters (normalized first) as Dovecot's names, "-" before
 * each when negative, into names[] (static strings). The count, or -1
 * with *bad the letter Dovecot has no name for. */
#define ACL_RIGHTS_NAMES_MAX 11
int acl_rights_to_names(const char *rights, int negative,
			const char *names[ACL_RIGHTS_NAMES_MAX], char *bad);

/* Dovecot's names, space separated ("lookup read -write"), as letters:
 * the positive into pos, the negative into neg (each
 * DRIVER_ACL_RIGHTS_MAX bytes), normalized. Names Dovecot's own
 * extensions use (":name") and unknown ones are left out: 0, or the
 * number left out. */
int acl_rights_from_names(const char *names, char pos[DRIVER_ACL_RIGHTS_MAX],
			  char neg[DRIVER_ACL_RIGHTS_MAX]);

/* IMAP's identifier (without a leading "-") as Dovecot's into out[size]:
 * 0, or -1 (out of room, or empty). */
int acl_id_to_dovecot(const char *id, char *out, size_t size);

/* Dovecot's identifier as IMAP's into out[size]: 0, or -1 when IMAP has
 * no spelling for it (group-override=) or it does not fit. */
int acl_id_from_dovecot(const char *id, char *out, size_t size);

#endif
