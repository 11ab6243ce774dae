/*
 * NAME
 *	privdrop 3h
 * SUMMARY
 *	daemons started as root become run_user / run_group
 * DESCRIPTION
 *	mailmigrated and mailmigrate-relay are started as root (by an init
 *	system or an administrator) so that they can bind the relay's
 *	socket, give it its group and create its directory. Once that is
 *	done they call privdrop_apply() and run as run_user from then on,
 *	as Postfix's daemons become mail_owner: every file they open later
 *	(the store, key_file, target_master_password_file, the log file
 *	after SIGHUP) must be reachable by that user.
 *
 *	privdrop_apply() sets the supplementary groups (run_user's, from
 *	initgroups(3)), then the group, then the user, real, effective and
 *	saved alike, and checks that the way back is closed: setuid(0) and
 *	setgid(0) must fail. A log_file that exists is given to run_user
 *	first, so that SIGHUP can open it again.
 *
 *	Without run_user a daemon stays as it was started, and says so
 *	(a warning) when that is root. A daemon not started as root cannot
 *	change users: it goes on as it is, with a warning unless it already
 *	is run_user (systemd's User=).
 * DIAGNOSTICS
 *	0 (dropped, or nothing to do), -1 with *error_r (the caller owns it):
 *	an unknown user or group, or a failed or reversible change.
 */
#ifndef MM_PRIVDROP_H
#define MM_PRIVDROP_H

/* Become run_user (NULL: stay) with group run_group (NULL: run_user's
 * login group). log_file (NULL: none) is chowned to them first.
 * @return 0, or -1 with *error_r set (mm_free() it). */
int privdrop_apply(const char *run_user, const char *run_group,
		   const char *log_file, char **error_r);

#endif
