/*
 * NAME
 *	append_only 1
 * SUMMARY
 *	the write bound of a copy: append a corpus from local files into
 *	an IMAP account, batched as mailmigrated batches
 * SYNOPSIS
 *	append_only [-s] [-b MESSAGES] [-B BYTES] HOST[:PORT] LOGIN PASSWORD_FILE CORPUS_DIR
 * DESCRIPTION
 *	Reads CORPUS_DIR/index.tsv (written by puller_corpus.py: folder,
 *	flags, INTERNALDATE, IMAP size, file), creates each folder and
 *	sends its messages as MULTIAPPEND commands (LITERAL+) of at most
 *	MESSAGES messages (default 64) and BYTES bytes (default 16 MiB):
 *	the batches of mailmigrated (puller/puller.h PULLER_BATCH_*), so
 *	NEW commits (and fsyncs) exactly as often as under mailmigrated.
 *	Each file is read in 64 KiB chunks with its LF line ends made
 *	CRLF on the way: the bytes NEW receives are those FETCH BODY[]
 *	returns from OLD. Plain IMAP (no TLS), imap_client(3) and
 *	stream(3), as mailmigrated.
 *
 *	It is a bound, not a copier: no OLD, no flags to parse, no UID
 *	bookkeeping, no store. Larger batches (-b 100000 -B 1G: one
 *	commit per folder) show what NEW could take with fewer commits.
 *
 *	-s SELECTs each folder before appending to it, as mailmigrated
 *	does (to learn UIDVALIDITY and UIDNEXT): NEW then syncs the
 *	selected folder after every APPEND. For measuring that cost.
 *
 *	Prints "append_only: MESSAGES messages BYTES bytes SECONDS s
 *	BATCHES batches" on stdout. Exit 0, or 1 on any failure.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "imap_client.h"
#include "mm_alloc.h"

#define CHUNK 65536

struct item {
	char *folder, *flags, *date, *path;
	uint64_t size;
};

static char sep = '/';

static int list_sep(struct imap_client *client, const struct imap_arg *args,
		    size_t count, void *context, enum stream_fail *fail_r,
		    const char **error_r)
{
	const char *s;

	(void)client; (void)context; (void)fail_r; (void)error_r;
	if (count == 4 && imap_arg_is_atom(&args[0], "LIST") &&
	    (s = imap_arg_get_astring(&args[2])) != NULL && s[0] != '\0')
		sep = s[0];
	return 0;
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

static struct item *read_index(const char *dir, size_t *count_r)
{
	char *path = mm_asprintf("%s/index.tsv", dir), *line = NULL;
	FILE *fp = fopen(path, "r");
	struct item *items = NULL;
	size_t count = 0, alloc = 0, cap = 0;
	ssize_t len;

	if (fp == NULL) {
		fprintf(stderr, "append_only: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	while ((len = getline(&line, &cap, fp)) > 0) {
		char *f[5], *p = line;

		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		for (int i = 0; i < 5; i++) {
			f[i] = p;
			p = i < 4 ? strchr(p, '\t') : NULL;
			if (i < 4 && p == NULL) {
				fprintf(stderr, "append_only: bad line in %s\n", path);
				exit(1);
			}
			if (p != NULL)
				*p++ = '\0';
		}
		if (count == alloc) {
			alloc = alloc == 0 ? 1024 : alloc * 2;
			items = mm_reallocarray(items, alloc, sizeof(*items));
		}
		for (char *s = f[0]; *s != '\0'; s++)
			if (*s == '/')
				*s = sep;
		items[count].folder = mm_strdup(f[0]);
		items[count].flags = mm_strdup(f[1]);
		items[count].date = mm_strdup(f[2]);
		items[count].size = strtoull(f[3], NULL, 10);
		items[count].path = mm_asprintf("%s/%s", dir, f[4]);
		count++;
	}
	free(line);
	fclose(fp);
	mm_free(&path);
	*count_r = count;
	return items;
}

/* Send one file as a literal, LF made CRLF; exactly it->size bytes. */
static int send_body(struct stream *s, const struct item *it,
		     enum stream_fail *fail_r, const char **error_r)
{
	static char in[CHUNK], out[2 * CHUNK];
	FILE *fp = fopen(it->path, "rb");
	uint64_t sent = 0;
	size_t n;

	if (fp == NULL)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "%s: %s",
				    it->path, strerror(errno));
	while ((n = fread(in, 1, sizeof(in), fp)) > 0) {
		size_t o = 0;

		for (size_t i = 0; i < n; i++) {
			if (in[i] == '\n')
				out[o++] = '\r';
			out[o++] = in[i];
		}
		if (stream_write(s, out, o, fail_r, error_r) < 0) {
			fclose(fp);
			return -1;
		}
		sent += o;
	}
	fclose(fp);
	if (sent != it->size)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "%s: %llu bytes, index says %llu", it->path,
				    (unsigned long long)sent, (unsigned long long)it->size);
	return 0;
}

int main(int argc, char **argv)
{
	struct imap_client_settings set = { 0 };
	struct imap_cmd_handlers sh = { list_sep, NULL, NULL };
	struct imap_client *client;
	struct item *items;
	struct timespec t0, t1;
	enum stream_fail fail;
	enum imap_status status;
	const char *error;
	char host[256], password[1024];
	size_t count, max_msgs = 64, batches = 0;
	uint64_t max_bytes = 16 << 20, total = 0;
	int opt, select_first = 0;

	while ((opt = getopt(argc, argv, "sb:B:")) != -1) {
		switch (opt) {
		case 's': select_first = 1; break;
		case 'b': max_msgs = strtoull(optarg, NULL, 10); break;
		case 'B': max_bytes = strtoull(optarg, NULL, 10); break;
		default: goto usage;
		}
	}
	if (argc - optind != 4 || max_msgs == 0 || max_bytes == 0)
		goto usage;
	if (driver_split_host(argv[optind], host, sizeof(host), &set.port) < 0) {
		fprintf(stderr, "append_only: bad host %s\n", argv[optind]);
		return 2;
	}
	if (read_password(argv[optind + 2], password, sizeof(password)) < 0) {
		fprintf(stderr, "append_only: cannot read %s\n", argv[optind + 2]);
		return 1;
	}
	set.host = host;
	set.tls = CFG_TLS_NONE;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (imap_client_connect(&set, &client, &fail, &error) < 0 ||
	    imap_client_login(client, NULL, argv[optind + 1], password, &fail, &error) < 0 ||
	    imap_client_run(client, "LIST \"\" \"\"", &sh, &fail, &error) < 0)
		goto fail;
	if ((imap_client_caps(client) & IMAP_CAP_MULTIAPPEND) == 0 ||
	    (imap_client_caps(client) & IMAP_CAP_LITERALPLUS) == 0) {
		error = "the server lacks MULTIAPPEND or LITERAL+";
		goto fail;
	}
	items = read_index(argv[optind + 3], &count);
	for (size_t i = 0; i < count;) {
		struct stream *s = imap_client_stream(client);
		char *q = imap_client_quote(items[i].folder), *cmd;
		size_t j = i;
		uint64_t bytes = 0;
		unsigned tag;

		if (q == NULL) {
			error = "unquotable folder name";
			goto fail;
		}
		if (i == 0 || strcmp(items[i - 1].folder, items[i].folder) != 0) {
			/* A new folder: create it (INBOX exists: NO is fine). */
			cmd = mm_asprintf("CREATE %s", q);
			tag = 0;
			if (imap_client_send(client, cmd, &tag, &fail, &error) < 0 ||
			    stream_flush(s, &fail, &error) < 0 ||
			    imap_client_wait(client, tag, NULL, &status, &fail, &error) < 0)
				goto fail;
			mm_free(&cmd);
			if (select_first) {
				cmd = mm_asprintf("SELECT %s", q);
				if (imap_client_run(client, cmd, NULL, &fail, &error) < 0)
					goto fail;
				mm_free(&cmd);
			}
		}
		tag = imap_client_new_tag(client);
		if (stream_printf(s, &fail, &error, "M%u APPEND %s", tag, q) < 0)
			goto fail;
		mm_free(&q);
		while (j < count && j - i < max_msgs &&
		       (j == i || bytes + items[j].size <= max_bytes) &&
		       strcmp(items[j].folder, items[i].folder) == 0) {
			if (stream_printf(s, &fail, &error, " (%s) \"%s\" {%llu+}\r\n",
					  items[j].flags, items[j].date,
					  (unsigned long long)items[j].size) < 0 ||
			    send_body(s, &items[j], &fail, &error) < 0)
				goto fail;
			bytes += items[j].size;
			j++;
		}
		if (stream_write(s, "\r\n", 2, &fail, &error) < 0 ||
		    stream_flush(s, &fail, &error) < 0 ||
		    imap_client_wait(client, tag, NULL, &status, &fail, &error) < 0)
			goto fail;
		if (status != IMAP_STATUS_OK) {
			fprintf(stderr, "append_only: APPEND to %s refused: %s\n",
				items[i].folder, error);
			return 1;
		}
		total += bytes;
		batches++;
		i = j;
	}
	(void)imap_client_run(client, "LOGOUT", NULL, &fail, &error);
	imap_client_close(&client);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("append_only: %zu messages %llu bytes %.3f s %zu batches\n", count,
	       (unsigned long long)total,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       batches);
	return 0;
usage:
	fprintf(stderr, "usage: append_only [-s] [-b MESSAGES] [-B BYTES] HOST[:PORT] "
		"LOGIN PASSWORD_FILE CORPUS_DIR\n");
	return 2;
fail:
	fprintf(stderr, "append_only: %s\n", error);
	return 1;
}
