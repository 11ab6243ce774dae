/*
 * NAME
 *	pop3_driver 3
 * SUMMARY
 *	the POP3 source driver: INBOX only, UIDLs, dates from headers
 * DESCRIPTION
 *	A POP3 mailbox is one folder, INBOX, whose messages are known by
 *	their UIDL (RFC 1939); the message numbers stand in for UIDs within
 *	one session only. Each message is spooled to an unlinked temporary
 *	file in $TMPDIR (else /tmp), so memory stays bounded and its exact
 *	size is known; a spool that cannot be written (a full disk, a
 *	quota) is retry later, never a failed account. Each message is
 *	given to the target with an "X-UIDL: <uidl>" header first, so
 *	Dovecot's pop3_reuse_xuidl keeps POP3 clients from downloading it
 *	again; not for a target that stores the UIDL itself
 *	(pop3_no_uidl_header: the dovecot target), where bodies stay byte
 *	for byte. POP3 has no dates: the date is the newest Received: header's,
 *	else the Date: header's, else now. Nothing is deleted on OLD.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "mail_header.h"
#include "maildate.h"
#include "log.h"
#include "mm_alloc.h"
#include "pop3_client.h"

#define POP3_HEADER_SCAN (256 * 1024)	/* headers read for the date */

struct pop3_conn {
	struct pop3_client *client;
	uint64_t max_message_size;
	int no_uidl_header;	/* driver_settings.pop3_no_uidl_header */
};

struct pop3_listing {
	struct driver_message *msgs;
	size_t count;
};

static struct pop3_conn *pop3_conn(struct driver_conn *conn)
{
	return (struct pop3_conn *)conn;
}

static int pop3_driver_open(const struct driver_settings *set,
			    const struct driver_login *login,
			    struct driver_conn **conn_r, enum stream_fail *fail_r,
			    const char **error_r)
{
	struct pop3_client_settings cs = { 0 };
	struct pop3_conn *pc;
	char host[256], *user;
	int ret;

	if (driver_split_host(set->host, host, sizeof(host), &cs.port) < 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					"bad host '%.200s'", set->host);
	cs.host = host;
	cs.tls = set->tls;
	cs.tls_opts = set->tls_opts;
	if (cs.tls_opts.name == NULL)
		cs.tls_opts.name = host;
	cs.connect_timeout_ms = set->connect_timeout_ms;
	cs.timeout_ms = set->timeout_ms;
	cs.tls_seen = set->tls_seen;
	cs.downgrade_r = set->downgrade_r;
	pc = mm_calloc(1, sizeof(*pc));
	pc->max_message_size = set->max_message_size;
	pc->no_uidl_header = set->pop3_no_uidl_header;
	if (pop3_client_connect(&cs, &pc->client, fail_r, error_r) < 0) {
		mm_free(&pc);
		return -1;
	}
	/* An administrator acts for the user as "user*admin" or with
	 * SASL PLAIN's authorization identity (driver.h). */
	user = login->admin_user == NULL ? mm_strdup(login->user) :
		login->admin_star_form ?
		mm_asprintf("%s*%s", login->user, login->admin_user) :
		mm_strdup(login->admin_user);
	/* UTF8 before the credentials (RFC 6856): what OLD sends is then
	 * what it stores (pop3_client.h). The auth-hook's password check
	 * fetches nothing and does without. */
	ret = pop3_client_enable_utf8(pc->client, fail_r, error_r);
	if (ret == 0 && login->auth != CFG_AUTH_PASSWORD)
		ret = pop3_client_login_oauth(pc->client, login->auth, login->user,
					      login->oauth2_token, fail_r, error_r);
	else if (ret == 0)
		ret = pop3_client_login_as(pc->client, login->admin_user != NULL &&
					   !login->admin_star_form ? login->user : NULL,
					   user, login->password, fail_r, error_r);
	mm_free(&user);
	if (ret == 0 && !pop3_client_has_uidl(pc->client))
		ret = stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "the POP3 "
				       "server has no UIDL: messages cannot be "
				       "told apart between rounds");
	if (ret < 0) {
		pop3_client_close(&pc->client);
		mm_free(&pc);
		return -1;
	}
	*conn_r = (struct driver_conn *)pc;
	return 0;
}

static void pop3_driver_close(struct driver_conn **connp)
{
	struct pop3_conn *pc = pop3_conn(*connp);

	if (pc == NULL)
		return;
	pop3_client_close(&pc->client);
	mm_free(connp);
}

/* Does the session run over TLS? */
static int pop3_driver_is_tls(struct driver_conn *conn)
{
	return stream_is_tls(pop3_client_stream(pop3_conn(conn)->client));
}

static int pop3_driver_list_folders(struct driver_conn *conn,
				    struct driver_folder **folders_r,
				    size_t *count_r, enum stream_fail *fail_r,
				    const char **error_r)
{
	struct driver_folder *f = mm_calloc(1, sizeof(*f));

	f->name = mm_strdup("INBOX");
	f->subscribed = 1;
	*folders_r = f;
	*count_r = 1;
	return 0;
}

static int pop3_driver_select(struct driver_conn *conn, const char *folder,
			      struct driver_folder_status *status_r,
			      enum stream_fail *fail_r, const char **error_r)
{
	memset(status_r, 0, sizeof(*status_r));
	if (strcasecmp(folder, "INBOX") != 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					"POP3 has INBOX only, not %.200s", folder);
	/* No UIDVALIDITY in POP3: the UIDLs identify messages. */
	status_r->uidvalidity = 1;
	status_r->uidnext = 1;
	return 0;
}

struct pop3_size {
	uint64_t messages, bytes;
};

static int pop3_on_size(uint32_t msgnum, uint64_t size, void *context)
{
	struct pop3_size *sz = context;

	(void)msgnum;
	sz->messages++;
	sz->bytes += size;
	return 0;
}

/* INBOX's messages and octets, from LIST (what RETR will send). */
static int pop3_driver_folder_size(struct driver_conn *conn, const char *folder,
				   uint64_t *messages_r, uint64_t *bytes_r,
				   enum stream_fail *fail_r, const char **error_r)
{
	struct pop3_size sz = { 0, 0 };

	if (strcasecmp(folder, "INBOX") != 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					"POP3 has INBOX only, not %.200s", folder);
	if (pop3_client_list(pop3_conn(conn)->client, pop3_on_size, &sz, fail_r,
			     error_r) < 0)
		return -1;
	*messages_r = sz.messages;
	*bytes_r = sz.bytes;
	return 0;
}

static int pop3_on_uidl(uint32_t msgnum, const char *uidl, void *context)
{
	struct pop3_listing *l = context;
	struct driver_message *m;

	l->msgs = mm_reallocarray(l->msgs, l->count + 1, sizeof(*l->msgs));
	m = &l->msgs[l->count++];
	memset(m, 0, sizeof(*m));
	m->uid = msgnum;
	snprintf(m->uidl, sizeof(m->uidl), "%s", uidl);
	return 0;
}

static int pop3_on_list(uint32_t msgnum, uint64_t size, void *context)
{
	struct pop3_listing *l = context;

	for (size_t i = 0; i < l->count; i++) {
		if (l->msgs[i].uid == msgnum) {
			l->msgs[i].size = size;
			return 0;
		}
	}
	return 0;
}

static int pop3_driver_list_messages(struct driver_conn *conn, uint32_t first_uid,
				     unsigned want,
				     int (*fn)(const struct driver_message *msg, void *ctx),
				     void *ctx, enum stream_fail *fail_r,
				     const char **error_r)
{
	struct pop3_conn *pc = pop3_conn(conn);
	struct pop3_listing l = { 0 };
	int ret;

	(void)first_uid;	/* POP3 lists all; the UIDLs decide */
	(void)want;	/* no TOP: POP3 copies are matched by X-UIDL */
	ret = pop3_client_uidl(pc->client, pop3_on_uidl, &l, fail_r, error_r);
	if (ret == 0)
		ret = pop3_client_list(pc->client, pop3_on_list, &l, fail_r, error_r);
	for (size_t i = 0; ret == 0 && i < l.count; i++)
		if (fn(&l.msgs[i], ctx) != 0)
			break;
	mm_free(&l.msgs);
	return ret;
}

/* --- dates from headers --------------------------------------------------- */

/* An RFC 5322 date ("Tue, 15 Nov 1994 08:12:31 +0100") as an IMAP
 * date-time ("15-Nov-1994 08:12:31 +0100"); 0, or -1 if it is none.
 * Not before 1970: what NEW's APPEND takes. */
int pop3_date_to_imap(const char *text, char *out, size_t size)
{
	struct maildate d;

	if (maildate_parse_rfc5322(text, &d) < 0 || d.year < 1970)
		return -1;
	maildate_format_imap(&d, out, size);
	return 0;
}

void pop3_header_date(const char *headers, size_t len, char *out, size_t size)
{
	char field[MAIL_HEADER_MAX_FIELD];
	int have_date = 0;
	size_t pos = 0;

	out[0] = '\0';
	while (mail_header_next(headers, len, &pos, field, sizeof(field)) > 0) {
		if (strncasecmp(field, "Received:", 9) == 0) {
			/* The first Received: is the newest hop; the date
			 * follows its last ';'. */
			const char *semi = strrchr(field, ';');

			if (semi != NULL && pop3_date_to_imap(semi + 1, out, size) == 0)
				return;
		} else if (!have_date && strncasecmp(field, "Date:", 5) == 0 &&
			   pop3_date_to_imap(field + 5, out, size) == 0) {
			have_date = 1;
			/* Keep looking for a Received: first. */
		}
	}
}

/* --- fetching: spool, then hand over ----------------------------------- */

struct pop3_spool {
	FILE *f;
	uint64_t size;
	uint64_t max;
	int too_big;
	int write_errno;	/* the spool could not be written: ENOSPC... */
};

/* An unlinked temporary file in $TMPDIR, else /tmp: nothing stays on
 * disk after us. NULL with errno. */
static FILE *pop3_spool_open(void)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	FILE *f;
	int fd;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	if ((size_t)snprintf(path, sizeof(path), "%s/mailmigrate-pop3.XXXXXX", dir) >=
	    sizeof(path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	(void)unlink(path);
	f = fdopen(fd, "w+");
	if (f == NULL) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return f;
}

static int pop3_spool_write(const void *data, size_t len, void *context)
{
	struct pop3_spool *sp = context;

	sp->size += len;
	if (sp->max != 0 && sp->size > sp->max) {
		sp->too_big = 1;
		return 0;	/* read on to the end; keep nothing more */
	}
	if (sp->write_errno != 0)
		return 0;	/* likewise: the session stays in step */
	if (fwrite(data, 1, len, sp->f) != len)
		sp->write_errno = errno != 0 ? errno : EIO;
	return 0;
}

struct pop3_body {
	struct driver_body body;
	FILE *f;
	char header[POP3_MAX_UIDL + 16];
	size_t header_len, header_off;
};

static int pop3_body_read(struct driver_body *body, void *buf, size_t len,
			  size_t *got_r, enum stream_fail *fail_r, const char **error_r)
{
	struct pop3_body *pb = body->ctx;

	if (pb->header_off < pb->header_len) {
		size_t n = pb->header_len - pb->header_off;

		if (n > len)
			n = len;
		memcpy(buf, pb->header + pb->header_off, n);
		pb->header_off += n;
		*got_r = n;
		return 0;
	}
	*got_r = fread(buf, 1, len, pb->f);
	if (*got_r == 0 && ferror(pb->f))
		return stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
					"reading the spooled message: %s",
					strerror(errno));
	return 0;
}

static int pop3_driver_fetch(struct driver_conn *conn, const struct driver_message *msg,
			     driver_sink_fn *sink, void *ctx, enum stream_fail *fail_r,
			     const char **error_r)
{
	struct pop3_conn *pc = pop3_conn(conn);
	struct pop3_spool sp = { .max = pc->max_message_size };
	struct driver_message fetched = *msg;
	struct pop3_body pb;
	char *head;
	size_t headlen;
	uint64_t size;
	int ret;

	sp.f = pop3_spool_open();
	if (sp.f == NULL)
		return stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
					"cannot make a temporary file: %s", strerror(errno));
	errno = 0;
	if (pop3_client_retr(pc->client, msg->uid, pop3_spool_write, &sp, &size,
			     fail_r, error_r) < 0) {
		fclose(sp.f);
		return -1;
	}
	if (!sp.too_big && sp.write_errno == 0 && fflush(sp.f) != 0)
		sp.write_errno = errno != 0 ? errno : EIO;
	if (!sp.too_big && sp.write_errno != 0) {
		/* A full disk or quota is the spool's, not the message's:
		 * the whole job waits and is tried again later. */
		fclose(sp.f);
		return stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
					"cannot spool message %u (%llu bytes) to "
					"a temporary file in %.200s: %s", msg->uid,
					(unsigned long long)size,
					getenv("TMPDIR") != NULL && *getenv("TMPDIR") != '\0' ?
					getenv("TMPDIR") : "/tmp",
					strerror(sp.write_errno));
	}
	if (sp.too_big) {
		fclose(sp.f);
		return stream_failf(fail_r, STREAM_FAIL_MESSAGE, error_r,
					"not copied: %llu bytes, over "
					"max_message_size", (unsigned long long)size);
	}
	/* The header block, for the date. */
	head = mm_malloc(POP3_HEADER_SCAN);
	rewind(sp.f);
	headlen = fread(head, 1, POP3_HEADER_SCAN, sp.f);
	pop3_header_date(head, headlen, fetched.internaldate,
			 sizeof(fetched.internaldate));
	mm_free(&head);
	rewind(sp.f);
	memset(&pb, 0, sizeof(pb));
	pb.f = sp.f;
	pb.header_len = pc->no_uidl_header ? 0 :
		(size_t)snprintf(pb.header, sizeof(pb.header), "X-UIDL: %s\r\n",
				 msg->uidl);
	pb.body.size = pb.header_len + size;
	pb.body.read = pop3_body_read;
	pb.body.ctx = &pb;
	fetched.size = pb.body.size;
	fetched.flags = 0;
	ret = sink(&fetched, &pb.body, ctx);
	fclose(sp.f);
	return ret < 0 ? -1 : 0;
}

struct pop3_client *pop3_driver_client(struct driver_conn *conn)
{
	return ((struct pop3_conn *)conn)->client;
}

const struct source_driver source_driver_pop3 = {
	.name = "pop3",
	.open = pop3_driver_open,
	.list_folders = pop3_driver_list_folders,
	.select = pop3_driver_select,
	.folder_size = pop3_driver_folder_size,
	.list_messages = pop3_driver_list_messages,
	.fetch = pop3_driver_fetch,
	.close = pop3_driver_close,
	.is_tls = pop3_driver_is_tls,
};
