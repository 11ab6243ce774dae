/*
 * NAME
 *	dovecot_acl 3
 * SUMMARY
 *	target driver "dovecot": folders' ACLs by doveadm acl
 * DESCRIPTION
 *	See dovecot_acl(3h). "doveadm -f tab acl get" prints a header and
 *	one line per entry: ID, "global" or empty, the rights by name
 *	(negative ones "-name"). An entry with both becomes two of IMAP's
 *	("alice" and "-alice"). "doveadm acl set" replaces both the
 *	positive and the negative rights of an identifier, SETACL one of
 *	them: setting "-alice" reads alice's positive rights first and
 *	gives them again beside the new negative ones.
 * DIAGNOSTICS
 *	doveadm's exit: 75 (temporary) is STREAM_FAIL_TEMP, as are a time
 *	out and a signal; 68 (no such folder), a usage error (an identifier
 *	or right Dovecot refuses) and anything else STREAM_FAIL_FINAL, with
 *	the first line doveadm wrote on stderr.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl_rights.h"
#include "dovecot_acl.h"
#include "mm_alloc.h"
#include "mutf7.h"
#include "spawn.h"

extern char **environ;

/* What one doveadm acl run may print: DRIVER_ACL_MAX entries of an
 * identifier and every right's name, with room to spare. */
#define DOVECOT_ACL_OUT_MAX (DRIVER_ACL_MAX * (DRIVER_ACL_ID_MAX + 160))
#define DOVECOT_ACL_ERR_MAX 4096
#define DOVECOT_ACL_ARGS (10 + 3 + 2 * ACL_RIGHTS_NAMES_MAX + 1)

/* The first line of doveadm's stderr, printable, into buf. */
static const char *acl_err_line(const struct spawn_result *r, char *buf, size_t size)
{
	size_t n = 0;

	for (const char *p = r->err != NULL ? r->err : ""; *p != '\0' && *p != '\n' &&
	     n + 1 < size; p++)
		buf[n++] = (unsigned char)*p < 0x20 ? ' ' : *p;
	buf[n] = '\0';
	return buf;
}

/* Run doveadm [-c CONF] [-f tab] acl VERB -u USER -- MAILBOX args...;
 * 0 with *r (the caller clears it), or -1. Its exit is the caller's. */
static int acl_run(const struct dovecot_acl_cmd *cmd, int tab, const char *verb,
		   const char *folder, const char *const *args, size_t nargs,
		   struct spawn_result *r, enum stream_fail *fail_r,
		   const char **error_r)
{
	const char *argv[DOVECOT_ACL_ARGS], *step;
	char *name = NULL;
	const char *error;
	size_t n = 0;
	struct spawn_opts o = { 0 };
	int ret;

	if (mutf7_to_utf8(folder, &name, &error) < 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "doveadm acl: "
				    "folder %s: %s", folder, error);
	argv[n++] = cmd->doveadm;
	if (cmd->config != NULL) {
		argv[n++] = "-c";
		argv[n++] = cmd->config;
	}
	if (cmd->plugins != NULL) {
		argv[n++] = "-o";
		argv[n++] = cmd->plugins;
	}
	if (tab) {
		argv[n++] = "-f";
		argv[n++] = "tab";
	}
	argv[n++] = "acl";
	argv[n++] = verb;
	argv[n++] = "-u";
	argv[n++] = cmd->user;
	argv[n++] = "--";
	argv[n++] = name;
	for (size_t i = 0; i < nargs && n + 1 < DOVECOT_ACL_ARGS; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	o.argv = (char *const *)argv;
	o.envp = environ;
	o.out = tab ? SPAWN_OUT_CAPTURE : SPAWN_OUT_NULL;
	o.out_max = DOVECOT_ACL_OUT_MAX;
	o.overflow = SPAWN_OVERFLOW_KILL;
	o.err = SPAWN_OUT_CAPTURE;
	o.err_max = DOVECOT_ACL_ERR_MAX;
	o.timeout_ms = cmd->timeout_ms;
	ret = spawn_run(&o, r, &step);
	mm_free(&name);
	if (ret < 0)
		return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r, "doveadm acl: "
				    "%s failed", step);
	return 0;
}

/* Classify a run that did not exit 0: -1 always, or DRIVER_ACL_NONE
 * (doveadm has no acl command, or the user no ACLs) when none_ok. */
static int acl_run_failed(const struct dovecot_acl_cmd *cmd, const char *verb,
			  const char *folder, struct spawn_result *r, int none_ok,
			  enum stream_fail *fail_r, const char **error_r)
{
	char line[512], how[64];
	enum stream_fail fail = STREAM_FAIL_FINAL;
	int ret;

	acl_err_line(r, line, sizeof(line));
	if (none_ok && r->err != NULL && (strstr(r->err, "Unknown command 'acl'") != NULL ||
					  strstr(r->err, "ACL not enabled") != NULL)) {
		spawn_result_clear(r);
		return DRIVER_ACL_NONE;
	}
	if (r->end == SPAWN_END_TIMEOUT || r->end == SPAWN_END_SIGNALED ||
	    (r->end == SPAWN_END_EXITED && r->code == 75))
		fail = STREAM_FAIL_TEMP;
	ret = stream_failf(fail_r, fail, error_r, "%s acl %s %s: %s%s%s%s", cmd->doveadm,
			   verb, folder, spawn_end_str(r, how, sizeof(how)),
			   r->end == SPAWN_END_EXITED && r->code == 68 ?
			   " (no such folder)" : "", line[0] != '\0' ? ": " : "", line);
	spawn_result_clear(r);
	return ret;
}

/* Add one of IMAP's entries to acl (bounded). */
static int acl_add(struct driver_acl *acl, const char *neg, const char *id,
		   const char *rights)
{
	struct driver_acl_entry *e;
	int ret;

	if (acl->count >= DRIVER_ACL_MAX)
		return -1;
	acl->e = mm_reallocarray(acl->e, acl->count + 1, sizeof(*acl->e));
	e = &acl->e[acl->count];
	ret = snprintf(e->identifier, sizeof(e->identifier), "%s%s", neg, id);
	if (ret < 0 || (size_t)ret >= sizeof(e->identifier))
		return -1;
	snprintf(e->rights, sizeof(e->rights), "%s", rights);
	acl->count++;
	return 0;
}

/* doveadm's table into acl: -1 when it is not one. */
static int acl_parse_table(char *out, struct driver_acl *acl)
{
	char *line, *next;
	int header = 1;

	for (line = out; line != NULL && *line != '\0'; line = next) {
		char *id, *global, *names, id_imap[DRIVER_ACL_ID_MAX];
		char pos[DRIVER_ACL_RIGHTS_MAX], neg[DRIVER_ACL_RIGHTS_MAX];

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		id = line;
		global = strchr(id, '\t');
		if (global == NULL)
			return -1;
		*global++ = '\0';
		names = strchr(global, '\t');
		if (names == NULL)
			return -1;
		*names++ = '\0';
		if (header) {
			header = 0;
			if (strcmp(id, "ID") != 0)
				return -1;
			continue;
		}
		if (acl_id_from_dovecot(id, id_imap, sizeof(id_imap)) < 0)
			continue;	/* group-override=: IMAP has no word */
		(void)acl_rights_from_names(names, pos, neg);
		if ((pos[0] != '\0' || neg[0] == '\0') &&
		    acl_add(acl, "", id_imap, pos) < 0)
			return -1;
		if (neg[0] != '\0' && acl_add(acl, "-", id_imap, neg) < 0)
			return -1;
	}
	return header ? -1 : 0;
}

int dovecot_acl_get(const struct dovecot_acl_cmd *cmd, const char *folder,
		    struct driver_acl *acl_r, enum stream_fail *fail_r,
		    const char **error_r)
{
	struct spawn_result r;
	struct driver_acl acl = { 0 };

	memset(acl_r, 0, sizeof(*acl_r));
	if (acl_run(cmd, 1, "get", folder, NULL, 0, &r, fail_r, error_r) < 0)
		return -1;
	if (r.end != SPAWN_END_EXITED || r.code != 0)
		return acl_run_failed(cmd, "get", folder, &r, 1, fail_r, error_r);
	if (acl_parse_table(r.out, &acl) < 0) {
		driver_acl_free(&acl);
		spawn_result_clear(&r);
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "%s acl get %s: "
				    "not the table expected (ID, Global, Rights), or "
				    "more than %d entries", cmd->doveadm, folder,
				    DRIVER_ACL_MAX);
	}
	spawn_result_clear(&r);
	*acl_r = acl;
	return 0;
}

int dovecot_acl_set(const struct dovecot_acl_cmd *cmd, const char *folder,
		    const char *identifier, const char *rights,
		    enum stream_fail *fail_r, const char **error_r)
{
	const char *args[1 + 2 * ACL_RIGHTS_NAMES_MAX];
	char id[DRIVER_ACL_ID_MAX], bad = 0;
	const char *imap_id = identifier[0] == '-' ? identifier + 1 : identifier;
	struct driver_acl cur = { 0 };
	struct spawn_result r;
	size_t n = 0;
	int negative = identifier[0] == '-', k;

	if (acl_id_to_dovecot(imap_id, id, sizeof(id)) < 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "identifier "
				    "'%s' has no Dovecot spelling", identifier);
	args[n++] = id;
	/* SETACL changes one sign; doveadm acl set replaces both. */
	k = dovecot_acl_get(cmd, folder, &cur, fail_r, error_r);
	if (k == DRIVER_ACL_NONE)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "%s has no acl "
				    "command (Dovecot's acl plugin, loaded for it with "
				    "-o mail_plugins)", cmd->doveadm);
	if (k < 0)
		return -1;
	for (size_t i = 0; i < cur.count; i++) {
		const char *cid = cur.e[i].identifier;
		int cneg = cid[0] == '-';

		if (cneg != negative && strcmp(cid + cneg, imap_id) == 0) {
			k = acl_rights_to_names(cur.e[i].rights, cneg, args + n, &bad);
			if (k > 0)
				n += (size_t)k;
		}
	}
	driver_acl_free(&cur);
	k = acl_rights_to_names(rights, negative, args + n, &bad);
	if (k < 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "right '%c' "
				    "has no Dovecot name", bad);
	n += (size_t)k;
	/* Nothing left to give: the entry goes (DELETEACL's meaning). */
	if (acl_run(cmd, 0, n > 1 ? "set" : "delete", folder, args, n > 1 ? n : 1, &r,
		    fail_r, error_r) < 0)
		return -1;
	if (r.end != SPAWN_END_EXITED || r.code != 0)
		return acl_run_failed(cmd, n > 1 ? "set" : "delete", folder, &r, 0,
				      fail_r, error_r);
	spawn_result_clear(&r);
	return 0;
}
