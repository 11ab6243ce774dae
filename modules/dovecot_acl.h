/*
 * NAME
 *	dovecot_acl 3h
 * SUMMARY
 *	target driver "dovecot": folders' ACLs by doveadm acl
 * DESCRIPTION
 *	The dovecot target writes mail through doveadm mailmigrate-import,
 *	which has no ACL commands: Dovecot's own acl plugin has them
 *	(doveadm acl get, set, delete). Each call runs NEW's doveadm once,
 *	as the target runs it (-c the same config, as root or the mail
 *	user), for the account (-u), and speaks IMAP's spelling to the
 *	caller (acl_rights(3h)): get_acl() gives entries as GETACL would,
 *	set_acl() takes SETACL's identifier and rights. The acl plugin is
 *	loaded for these runs only (-o mail_plugins= the user's, as the
 *	import command reports them with PLUGINS, and acl): loaded for
 *	every doveadm, it would check doveadm save and the like against
 *	the users' ACLs too (the notice account's read-only entry). A
 *	doveadm that has no acl command even so gives DRIVER_ACL_NONE.
 */
#ifndef MM_DOVECOT_ACL_H
#define MM_DOVECOT_ACL_H

#include "driver.h"

struct dovecot_acl_cmd {
	const char *doveadm;	/* the program */
	const char *config;	/* its -c, or NULL */
	const char *user;	/* -u */
	unsigned timeout_ms;	/* for each run */
	const char *plugins;	/* "mail_plugins=... acl" for its -o, or
				 * NULL: doveadm's own (which must have acl) */
};

/* folder: NEW's name as the target's protocol has it (modified UTF-7). */
int dovecot_acl_get(const struct dovecot_acl_cmd *cmd, const char *folder,
		    struct driver_acl *acl_r, enum stream_fail *fail_r,
		    const char **error_r);
int dovecot_acl_set(const struct dovecot_acl_cmd *cmd, const char *folder,
		    const char *identifier, const char *rights,
		    enum stream_fail *fail_r, const char **error_r);

#endif
