/*
 * NAME
 *	driver_copy_test 1
 * SUMMARY
 *	copy one account from OLD to NEW through the drivers, for the
 *	integration test against real Dovecot servers
 * SYNOPSIS
 *	driver_copy_test OLD_HOST NEW_HOST USER USER_PASS_FILE MASTER_USER
 *		MASTER_PASS_FILE [CA_FILE]
 * DESCRIPTION
 *	Every folder (OLD's separator translated to NEW's), every message
 *	with flags, keywords and date, and the subscriptions; nothing
 *	recorded, no resume: the puller adds those. OLD is read over
 *	STARTTLS with the certificate verified against CA_FILE when given.
 *	$DRIVER_TLS picks OLD's TLS mode (none, detect, starttls, direct;
 *	default starttls with a CA file, else none).
 *	Exits 0 on success; prints what failed otherwise.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "log.h"
#include "mm_alloc.h"

struct copy {
	const struct target_driver *tdrv;
	struct driver_conn *target;
	const char *target_folder;
	unsigned long copied;
	enum stream_fail fail;
	const char *error;
	struct driver_message *msgs;
	size_t count;
};

static char *read_secret(const char *path)
{
	char buf[1024];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL || fgets(buf, sizeof(buf), f) == NULL) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(2);
	}
	fclose(f);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	return mm_strdup(buf);
}

static int collect(const struct driver_message *msg, void *context)
{
	struct copy *c = context;
	struct driver_message *m;

	c->msgs = mm_reallocarray(c->msgs, c->count + 1, sizeof(*c->msgs));
	m = &c->msgs[c->count++];
	*m = *msg;
	m->keywords = mm_calloc(msg->keywords_count + 1, sizeof(char *));
	for (size_t i = 0; i < msg->keywords_count; i++)
		m->keywords[i] = mm_strdup(msg->keywords[i]);
	m->message_id = NULL;
	return 0;
}

static int sink(const struct driver_message *msg, struct driver_body *body,
		void *context)
{
	struct copy *c = context;
	uint32_t uid;

	if (c->tdrv->append(c->target, c->target_folder, msg, body, &uid,
			    &c->fail, &c->error) < 0)
		return -1;
	if (uid == 0) {
		c->error = "no APPENDUID from NEW";
		return -1;
	}
	return 0;
}

/* OLD's name with its separator, as NEW spells it with its own. */
static char *map_name(const char *name, char from, char to)
{
	char *out = mm_strdup(name);

	if (from != '\0' && to != '\0')
		for (char *p = out; *p != '\0'; p++)
			if (*p == from)
				*p = to;
	return out;
}

int main(int argc, char **argv)
{
	struct driver_settings sset = { 0 }, tset = { 0 };
	struct driver_login slogin = { 0 }, tlogin = { 0 };
	struct driver_conn *source = NULL;
	struct driver_folder *folders = NULL, *tfolders = NULL;
	size_t nfolders = 0, ntfolders = 0;
	struct copy c = { .tdrv = &target_driver_imap };
	char tsep = '/';
	int status = 1;

	if (argc < 7) {
		fprintf(stderr, "usage: %s OLD NEW USER PASSFILE MASTER MASTERPASSFILE [CA]\n",
			argv[0]);
		return 2;
	}
	log_open(argv[0], LOG_DEST_STDERR, NULL, &c.error);
	sset.host = argv[1];
	sset.tls = argc > 7 ? CFG_TLS_STARTTLS : CFG_TLS_NONE;
	if (getenv("DRIVER_TLS") != NULL) {
		static const char *const modes[] = { "none", "detect", "starttls", "direct" };
		static const enum cfg_tls values[] = { CFG_TLS_NONE, CFG_TLS_DETECT,
						       CFG_TLS_STARTTLS, CFG_TLS_DIRECT };

		for (size_t i = 0; i < 4; i++)
			if (strcmp(getenv("DRIVER_TLS"), modes[i]) == 0)
				sset.tls = values[i];
	}
	sset.tls_opts.verify = 1;
	sset.tls_opts.ca_file = argc > 7 ? argv[7] : NULL;
	sset.timeout_ms = 30000;
	slogin.user = argv[3];
	slogin.password = read_secret(argv[4]);
	tset.host = argv[2];
	tset.tls = CFG_TLS_NONE;
	tset.timeout_ms = 30000;
	tlogin.user = argv[3];
	tlogin.admin_user = argv[5];
	tlogin.admin_star_form = 1;
	tlogin.password = read_secret(argv[6]);

	if (source_driver_imap.open(&sset, &slogin, &source, &c.fail, &c.error) < 0 ||
	    target_driver_imap.open(&tset, &tlogin, &c.target, &c.fail, &c.error) < 0 ||
	    source_driver_imap.list_folders(source, &folders, &nfolders, &c.fail,
					    &c.error) < 0 ||
	    target_driver_imap.list_folders(c.target, &tfolders, &ntfolders, &c.fail,
					    &c.error) < 0)
		goto out;
	for (size_t i = 0; i < ntfolders; i++)
		if (tfolders[i].separator != '\0')
			tsep = tfolders[i].separator;
	for (size_t i = 0; i < nfolders; i++) {
		struct driver_folder_status st, tst;
		char *tname = map_name(folders[i].name, folders[i].separator, tsep);
		int ret;

		c.target_folder = tname;
		ret = target_driver_imap.create_folder(c.target, tname, folders[i].attrs,
						       folders[i].subscribed, &c.fail,
						       &c.error);
		if (ret == 0 && (folders[i].attrs & DRIVER_FOLDER_NOSELECT) == 0) {
			c.count = 0;
			ret = source_driver_imap.select(source, folders[i].name, &st,
							&c.fail, &c.error);
			if (ret == 0)
				ret = target_driver_imap.select(c.target, tname, &tst,
								&c.fail, &c.error);
			if (ret == 0)
				ret = source_driver_imap.list_messages(source, 1, 0, collect, &c,
								       &c.fail, &c.error);
			for (c.copied = 0; ret == 0 && c.copied < c.count; c.copied++)
				ret = source_driver_imap.fetch(source, &c.msgs[c.copied], sink,
							       &c, &c.fail, &c.error);
			for (size_t m = 0; m < c.count; m++)
				driver_message_clear(&c.msgs[m]);
			printf("%s -> %s: %zu messages\n", folders[i].name, tname, c.count);
		}
		mm_free(&tname);
		if (ret < 0)
			goto out;
	}
	status = 0;
out:
	if (status != 0)
		fprintf(stderr, "driver_copy_test: failed (class %d, %s): %s\n",
			(int)c.fail, stream_fail_name(c.fail),
			c.error != NULL ? c.error : "?");
	mm_free(&c.msgs);
	driver_folders_free(&folders, nfolders);
	driver_folders_free(&tfolders, ntfolders);
	if (source != NULL)
		source_driver_imap.close(&source);
	if (c.target != NULL)
		target_driver_imap.close(&c.target);
	mm_free_secret((char **)&slogin.password);
	mm_free_secret((char **)&tlogin.password);
	return status;
}
