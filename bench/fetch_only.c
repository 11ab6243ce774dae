/*
 * NAME
 *	fetch_only 1
 * SUMMARY
 *	the read bound of a copy: fetch every message of an IMAP account
 *	and throw it away
 * SYNOPSIS
 *	fetch_only HOST[:PORT] USER PASSWORD_FILE
 * DESCRIPTION
 *	Logs in (plain IMAP, no TLS), lists every folder, and for each
 *	one EXAMINE + "UID FETCH 1:* (BODY.PEEK[])" in one command, the
 *	literals read in 64 KiB chunks and discarded. Built on the
 *	project's imap_client(3) and stream(3), as mailmigrated is, so
 *	the bound includes the same parser and buffering, and nothing a
 *	copier must do on top (flags, dates, APPEND, the store).
 *
 *	Prints "fetch_only: MESSAGES messages BYTES bytes SECONDS s
 *	FOLDERS folders" on stdout. Exit 0, or 1 on any failure.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "driver.h"
#include "imap_client.h"
#include "mm_alloc.h"

struct folders {
	char **names;
	size_t count, alloc;
};

struct totals {
	uint64_t messages, bytes;
};

static int list_untagged(struct imap_client *client, const struct imap_arg *args,
			 size_t count, void *context, enum stream_fail *fail_r,
			 const char **error_r)
{
	struct folders *f = context;
	const char *name;

	(void)client;
	if (count != 4 || !imap_arg_is_atom(&args[0], "LIST"))
		return 0;
	if (args[1].type != IMAP_ARG_LIST || (name = imap_arg_get_astring(&args[3])) == NULL)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "malformed LIST");
	for (size_t i = 0; i < args[1].count; i++)
		if (imap_arg_is_atom(&args[1].list[i], "\\Noselect") ||
		    imap_arg_is_atom(&args[1].list[i], "\\NonExistent"))
			return 0;
	if (f->count == f->alloc) {
		f->alloc = f->alloc == 0 ? 32 : f->alloc * 2;
		f->names = mm_reallocarray(f->names, f->alloc, sizeof(*f->names));
	}
	f->names[f->count++] = mm_strdup(name);
	return 0;
}

static int body_literal(struct imap_client *client, const char *key, uint64_t size,
			void *context, enum stream_fail *fail_r, const char **error_r)
{
	struct totals *t = context;
	struct stream *s = imap_client_stream(client);
	static char buf[65536];

	if (key == NULL || strcmp(key, "BODY[]") != 0)
		return 0;
	t->messages++;
	t->bytes += size;
	while (size > 0) {
		size_t got;

		if (stream_read(s, buf, size < sizeof(buf) ? (size_t)size : sizeof(buf),
				&got, fail_r, error_r) < 0)
			return -1;
		size -= got;
	}
	return 1;
}

static int read_password(const char *path, char *buf, size_t size)
{
	FILE *fp = fopen(path, "r");
	size_t n;

	if (fp == NULL)
		return -1;
	n = fread(buf, 1, size - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return n > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct imap_client_settings set = { 0 };
	struct imap_cmd_handlers lh = { list_untagged, NULL, NULL };
	struct imap_cmd_handlers fh = { NULL, body_literal, NULL };
	struct imap_client *client;
	struct folders folders = { 0 };
	struct totals totals = { 0 };
	struct timespec t0, t1;
	enum stream_fail fail;
	const char *error;
	char host[256], password[1024];

	if (argc != 4) {
		fprintf(stderr, "usage: fetch_only HOST[:PORT] USER PASSWORD_FILE\n");
		return 2;
	}
	if (driver_split_host(argv[1], host, sizeof(host), &set.port) < 0) {
		fprintf(stderr, "fetch_only: bad host %s\n", argv[1]);
		return 2;
	}
	if (read_password(argv[3], password, sizeof(password)) < 0) {
		fprintf(stderr, "fetch_only: cannot read %s\n", argv[3]);
		return 1;
	}
	set.host = host;
	set.tls = CFG_TLS_NONE;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (imap_client_connect(&set, &client, &fail, &error) < 0 ||
	    imap_client_login(client, NULL, argv[2], password, &fail, &error) < 0)
		goto fail;
	lh.ctx = &folders;
	fh.ctx = &totals;
	if (imap_client_run(client, "LIST \"\" \"*\"", &lh, &fail, &error) < 0)
		goto fail;
	for (size_t i = 0; i < folders.count; i++) {
		char *q = imap_client_quote(folders.names[i]), *cmd;
		int ret;

		if (q == NULL) {
			error = "unquotable folder name";
			goto fail;
		}
		cmd = mm_asprintf("EXAMINE %s", q);
		ret = imap_client_run(client, cmd, NULL, &fail, &error);
		mm_free(&cmd);
		mm_free(&q);
		if (ret < 0 ||
		    imap_client_run(client, "UID FETCH 1:* (BODY.PEEK[])", &fh, &fail,
				    &error) < 0)
			goto fail;
	}
	(void)imap_client_run(client, "LOGOUT", NULL, &fail, &error);
	imap_client_close(&client);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("fetch_only: %llu messages %llu bytes %.3f s %zu folders\n",
	       (unsigned long long)totals.messages, (unsigned long long)totals.bytes,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       folders.count);
	for (size_t i = 0; i < folders.count; i++)
		mm_free(&folders.names[i]);
	mm_free(&folders.names);
	return 0;
fail:
	fprintf(stderr, "fetch_only: %s\n", error);
	return 1;
}
