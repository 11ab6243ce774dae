/*
 * NAME
 *	imap_driver 3
 * SUMMARY
 *	the IMAP source and target drivers
 * DESCRIPTION
 *	The source opens folders with EXAMINE and fetches BODY.PEEK[], so
 *	nothing turns read on OLD. A body is handed to the sink as a
 *	driver_body reading straight from the connection: the bytes go
 *	from OLD's socket to NEW's in bounded chunks. The target appends
 *	with flags, keywords and the original INTERNALDATE, using LITERAL+
 *	when NEW has it, and reads the new UID from APPENDUID.
 *
 *	What OLD says of a message reaches NEW's commands only through
 *	imap_message(3), which keeps a date or keyword only in RFC 3501's
 *	shape; folder names go through imap_client_send_astring() or
 *	imap_client_quote().
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "driver.h"
#include "imap_client.h"
#include "imap_acl.h"
#include "imap_message.h"
#include "imap_namespace.h"
#include "log.h"
#include "mm_alloc.h"

#define IMAP_DRIVER_CHUNK 65536

struct imap_conn {
	struct imap_client *client;
	uint64_t max_message_size;
	unsigned batch_tag;	/* a MULTIAPPEND under way: its tag */
	char *user;		/* the account, for warnings */
	char *folder;		/* the folder selected, for warnings */
	struct imap_namespaces *ns;	/* NAMESPACE's answer, once asked */
	int ns_asked;
};

static struct imap_conn *imap_conn(struct driver_conn *conn)
{
	return (struct imap_conn *)conn;
}

static void imap_driver_close(struct driver_conn **connp);

/* Connect and log in, as the user, on behalf of the user with an admin
 * login (AUTHENTICATE PLAIN authzid), or as "user*admin". */
static int imap_driver_open(const struct driver_settings *set,
			    const struct driver_login *login,
			    struct driver_conn **conn_r, enum stream_fail *fail_r,
			    const char **error_r)
{
	struct imap_client_settings cs = { 0 };
	struct imap_conn *ic;
	char host[256];
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
	ic = mm_calloc(1, sizeof(*ic));
	ic->max_message_size = set->max_message_size;
	if (imap_client_connect(&cs, &ic->client, fail_r, error_r) < 0) {
		mm_free(&ic);
		return -1;
	}
	ic->user = mm_strdup(login->user);
	if (login->auth != CFG_AUTH_PASSWORD) {
		ret = imap_client_login_oauth(ic->client, login->auth, login->user,
					      login->oauth2_token, fail_r, error_r);
	} else if (login->admin_user != NULL && login->admin_star_form) {
		char *name = mm_asprintf("%s*%s", login->user, login->admin_user);

		ret = imap_client_login(ic->client, NULL, name, login->password,
					fail_r, error_r);
		mm_free(&name);
	} else if (login->admin_user != NULL) {
		ret = imap_client_login(ic->client, login->user, login->admin_user,
					login->password, fail_r, error_r);
	} else {
		ret = imap_client_login(ic->client, NULL, login->user,
					login->password, fail_r, error_r);
	}
	if (ret < 0) {
		imap_client_close(&ic->client);
		mm_free(&ic->user);
		mm_free(&ic);
		return -1;
	}
	*conn_r = (struct driver_conn *)ic;
	return 0;
}

/* The source: as imap_driver_open(), then ENABLE UTF8=ACCEPT when OLD
 * lists it (RFC 6855), so what OLD sends is what it stores: a server
 * such as Courier may otherwise downgrade or replace a message whose
 * header holds raw UTF-8. Never on the target: NEW takes our APPEND
 * literals byte for byte as they are. Then ENABLE CONDSTORE (and
 * QRESYNC) when OLD has it, so a later round asks only for what
 * changed (RFC 7162). */
static int imap_source_open(const struct driver_settings *set,
			    const struct driver_login *login,
			    struct driver_conn **conn_r, enum stream_fail *fail_r,
			    const char **error_r)
{
	if (imap_driver_open(set, login, conn_r, fail_r, error_r) < 0)
		return -1;
	if (imap_client_enable_utf8(imap_conn(*conn_r)->client, fail_r,
				    error_r) < 0 ||
	    imap_client_enable_condstore(imap_conn(*conn_r)->client, fail_r,
					 error_r) < 0) {
		imap_driver_close(conn_r);
		return -1;
	}
	return 0;
}

/* Are OLD's folder names UTF-8 (UTF8=ACCEPT enabled)? */
static int imap_source_utf8_names(struct driver_conn *conn)
{
	return imap_client_utf8(imap_conn(conn)->client);
}

static void imap_driver_close(struct driver_conn **connp)
{
	struct imap_conn *ic = imap_conn(*connp);
	enum stream_fail fail;
	const char *error;

	if (ic == NULL)
		return;
	/* LOGOUT is a courtesy; a dead connection is closed all the same.
	 * Not in the middle of a MULTIAPPEND: it would be taken as message
	 * data, and closing is what makes NEW drop the half batch. */
	stream_set_timeout(imap_client_stream(ic->client), 2000);
	if (ic->batch_tag == 0)
		(void)imap_client_run(ic->client, "LOGOUT", NULL, &fail, &error);
	imap_client_close(&ic->client);
	mm_free(&ic->user);
	mm_free(&ic->folder);
	mm_free(&ic->ns);
	mm_free(connp);
}

/* Does the session run over TLS? */
static int imap_driver_is_tls(struct driver_conn *conn)
{
	return stream_is_tls(imap_client_stream(imap_conn(conn)->client));
}

/* "* NAMESPACE (("" "/")) (("shared/" "/")) NIL" (RFC 2342). */
static int namespace_untagged(struct imap_client *client, const struct imap_arg *args,
			      size_t count, void *context, enum stream_fail *fail_r,
			      const char **error_r)
{
	struct imap_conn *ic = context;
	const char *error;

	(void)client;
	if (count < 1 || !imap_arg_is_atom(&args[0], "NAMESPACE"))
		return 0;
	if (imap_namespace_parse(args, count, ic->ns, &error) < 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "malformed NAMESPACE response: %s", error);
	return 0;
}

/* Ask NAMESPACE once, when the server has it. 1: known (ic->ns), 0:
 * the server has no NAMESPACE, -1: failed. */
static int imap_driver_namespaces(struct imap_conn *ic, enum stream_fail *fail_r,
				  const char **error_r)
{
	struct imap_cmd_handlers h = { namespace_untagged, NULL, ic };

	if (ic->ns_asked)
		return ic->ns != NULL;
	if ((imap_client_caps(ic->client) & IMAP_CAP_NAMESPACE) == 0) {
		ic->ns_asked = 1;
		return 0;
	}
	ic->ns = mm_calloc(1, sizeof(*ic->ns));
	if (imap_client_run(ic->client, "NAMESPACE", &h, fail_r, error_r) < 0) {
		mm_free(&ic->ns);
		return -1;
	}
	ic->ns_asked = 1;
	return 1;
}

/* The first namespace of kind: 1 with prefix, 0 none. */
static int imap_driver_ns_prefix(struct driver_conn *conn, enum imap_ns_kind kind,
				 char *prefix, size_t size, enum stream_fail *fail_r,
				 const char **error_r)
{
	struct imap_conn *ic = imap_conn(conn);
	int ret = imap_driver_namespaces(ic, fail_r, error_r);

	if (ret <= 0 || ic->ns->count[kind] == 0)
		return ret < 0 ? -1 : 0;
	if (strlen(ic->ns->ns[kind][0].prefix) >= size)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "malformed NAMESPACE response: the %s "
				    "prefix is too long", imap_namespace_kind_name(kind));
	snprintf(prefix, size, "%s", ic->ns->ns[kind][0].prefix);
	return 1;
}

static int imap_driver_namespace_prefix(struct driver_conn *conn, char *prefix,
					size_t size, enum stream_fail *fail_r,
					const char **error_r)
{
	return imap_driver_ns_prefix(conn, IMAP_NS_PERSONAL, prefix, size, fail_r,
				     error_r);
}

static int imap_driver_shared_prefix(struct driver_conn *conn, char *prefix,
				     size_t size, enum stream_fail *fail_r,
				     const char **error_r)
{
	return imap_driver_ns_prefix(conn, IMAP_NS_SHARED, prefix, size, fail_r,
				     error_r);
}

struct acl_ctx {
	struct driver_acl *acl;
	const char *error;
};

/* "* ACL mailbox identifier rights ..." (RFC 4314). */
static int acl_untagged(struct imap_client *client, const struct imap_arg *args,
			size_t count, void *context, enum stream_fail *fail_r,
			const char **error_r)
{
	struct acl_ctx *ctx = context;

	(void)client;
	if (count < 1 || !imap_arg_is_atom(&args[0], "ACL"))
		return 0;
	if (imap_acl_parse(args, count, ctx->acl, &ctx->error) < 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "malformed ACL response: %s", ctx->error);
	return 0;
}

static int imap_driver_get_acl(struct driver_conn *conn, const char *folder,
			       struct driver_acl *acl_r, enum stream_fail *fail_r,
			       const char **error_r)
{
	struct imap_conn *ic = imap_conn(conn);
	struct acl_ctx ctx = { acl_r, NULL };
	struct imap_cmd_handlers h = { acl_untagged, NULL, &ctx };

	acl_r->e = NULL;
	acl_r->count = 0;
	if ((imap_client_caps(ic->client) & IMAP_CAP_ACL) == 0)
		return DRIVER_ACL_NONE;
	if (imap_client_run_astring(ic->client, "GETACL", folder, NULL, &h, fail_r,
				    error_r) < 0) {
		driver_acl_free(acl_r);
		return -1;
	}
	return 0;
}

static int imap_driver_set_acl(struct driver_conn *conn, const char *folder,
			       const char *identifier, const char *rights,
			       enum stream_fail *fail_r, const char **error_r)
{
	struct imap_conn *ic = imap_conn(conn);
	char *qid = imap_client_quote(identifier), *rest;
	int ret;

	if (qid == NULL || !imap_acl_rights_valid(rights)) {
		mm_free(&qid);
		return stream_failf(fail_r, STREAM_FAIL_MESSAGE, error_r, "an "
				    "identifier or rights that cannot be sent");
	}
	if (rights[0] == '\0')
		rest = mm_strdup(qid);
	else
		rest = mm_asprintf("%s \"%s\"", qid, rights);
	ret = imap_client_run_astring(ic->client, rights[0] == '\0' ? "DELETEACL" :
				      "SETACL", folder, rest, NULL, fail_r, error_r);
	mm_free(&qid);
	mm_free(&rest);
	return ret;
}

struct list_ctx {
	struct driver_folder *folders;
	size_t count, alloc;
	int lsub;
};

static const struct {
	const char *attr;
	unsigned flag;
} folder_attrs[] = {
	{ "\\Noselect", DRIVER_FOLDER_NOSELECT },
	{ "\\NonExistent", DRIVER_FOLDER_NOSELECT },
	{ "\\Sent", DRIVER_FOLDER_SENT },
	{ "\\Drafts", DRIVER_FOLDER_DRAFTS },
	{ "\\Trash", DRIVER_FOLDER_TRASH },
	{ "\\Junk", DRIVER_FOLDER_JUNK },
	{ "\\Archive", DRIVER_FOLDER_ARCHIVE },
};

/* "* LIST (attrs) sep name" or "* LSUB ...". */
static int list_untagged(struct imap_client *client, const struct imap_arg *args,
			 size_t count, void *context, enum stream_fail *fail_r,
			 const char **error_r)
{
	struct list_ctx *ctx = context;
	const char *name, *sep;
	unsigned attrs = 0;

	if (count == 0 || !imap_arg_is_atom(&args[0], ctx->lsub ? "LSUB" : "LIST"))
		return 0;
	if (count != 4 || args[1].type != IMAP_ARG_LIST ||
	    (name = imap_arg_get_astring(&args[3])) == NULL)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					"malformed %s response", ctx->lsub ? "LSUB" : "LIST");
	sep = args[2].type == IMAP_ARG_NIL ? "" : imap_arg_get_astring(&args[2]);
	if (sep == NULL || strlen(sep) > 1)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					"bad hierarchy separator in LIST");
	if (strlen(name) > 1024)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					"folder name over 1024 bytes in LIST");
	for (size_t i = 0; i < args[1].count; i++)
		for (size_t j = 0; j < sizeof(folder_attrs) / sizeof(folder_attrs[0]); j++)
			if (args[1].list[i].type == IMAP_ARG_ATOM &&
			    strcasecmp(args[1].list[i].str, folder_attrs[j].attr) == 0)
				attrs |= folder_attrs[j].flag;
	if (ctx->lsub) {
		/* Mark the listed folder; subscriptions to nothing are left.
		   \Noselect in LSUB: a parent of subscribed folders, not
		   subscribed itself (RFC 3501 6.3.9; Courier lists them). */
		if ((attrs & DRIVER_FOLDER_NOSELECT) != 0)
			return 0;
		for (size_t i = 0; i < ctx->count; i++)
			if (strcmp(ctx->folders[i].name, name) == 0)
				ctx->folders[i].subscribed = 1;
		return 0;
	}
	if (ctx->count == 100000)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					"over 100000 folders");
	if (ctx->count == ctx->alloc) {
		ctx->alloc = ctx->alloc == 0 ? 32 : ctx->alloc * 2;
		ctx->folders = mm_reallocarray(ctx->folders, ctx->alloc,
					       sizeof(*ctx->folders));
	}
	ctx->folders[ctx->count].name = mm_strdup(name);
	ctx->folders[ctx->count].separator = sep[0];
	ctx->folders[ctx->count].attrs = attrs;
	ctx->folders[ctx->count].subscribed = 0;
	ctx->count++;
	return 0;
}

static int imap_driver_list_folders(struct driver_conn *conn,
				    struct driver_folder **folders_r,
				    size_t *count_r, enum stream_fail *fail_r,
				    const char **error_r)
{
	struct imap_conn *ic = imap_conn(conn);
	struct list_ctx ctx = { 0 };
	struct imap_cmd_handlers h = { list_untagged, NULL, &ctx };
	int ret;

	/* RFC 6154: plain LIST need not say which folder is \Sent. */
	if (imap_client_run(ic->client, (imap_client_caps(ic->client) &
					 IMAP_CAP_SPECIAL_USE) != 0 ?
			    "LIST \"\" \"*\" RETURN (SPECIAL-USE)" : "LIST \"\" \"*\"",
			    &h, fail_r, error_r) < 0)
		goto fail;
	ctx.lsub = 1;
	if (imap_client_run(ic->client, "LSUB \"\" \"*\"", &h, fail_r, error_r) < 0)
		goto fail;
	/* Other users' and shared folders, as NAMESPACE says: marked. */
	ret = imap_driver_namespaces(ic, fail_r, error_r);
	if (ret < 0)
		goto fail;
	for (size_t i = 0; ret > 0 && i < ctx.count; i++) {
		enum imap_ns_kind k = imap_namespace_of(ic->ns, ctx.folders[i].name);

		if (k == IMAP_NS_OTHERS)
			ctx.folders[i].attrs |= DRIVER_FOLDER_OTHERS;
		else if (k == IMAP_NS_SHARED)
			ctx.folders[i].attrs |= DRIVER_FOLDER_SHARED;
	}
	*folders_r = ctx.folders;
	*count_r = ctx.count;
	return 0;
fail:
	driver_folders_free(&ctx.folders, ctx.count);
	return -1;
}

/* "* OK [UIDVALIDITY n]", "* OK [UIDNEXT n]", "* n EXISTS"; with
 * CONDSTORE on, "* OK [HIGHESTMODSEQ n]" or "* OK [NOMODSEQ]". A
 * HIGHESTMODSEQ from a session that did not enable CONDSTORE is not
 * believed: nothing asked for it. */
struct select_ctx {
	struct driver_folder_status *st;
	int nomodseq;		/* said NOMODSEQ: no HIGHESTMODSEQ believed */
};

static int select_untagged(struct imap_client *client, const struct imap_arg *args,
			   size_t count, void *context, enum stream_fail *fail_r,
			   const char **error_r)
{
	struct select_ctx *ctx = context;
	struct driver_folder_status *st = ctx->st;
	int condstore = imap_client_condstore(client);

	if (count >= 2 && imap_arg_is_atom(&args[0], "OK") &&
	    args[1].type == IMAP_ARG_LIST && args[1].count == 1 &&
	    imap_arg_is_atom(&args[1].list[0], "NOMODSEQ")) {
		ctx->nomodseq = 1;
	} else if (count >= 2 && imap_arg_is_atom(&args[0], "OK") &&
	    args[1].type == IMAP_ARG_LIST && args[1].count == 2) {
		if (imap_arg_is_atom(&args[1].list[0], "UIDVALIDITY"))
			(void)imap_arg_get_u32(&args[1].list[1], &st->uidvalidity);
		else if (imap_arg_is_atom(&args[1].list[0], "UIDNEXT"))
			(void)imap_arg_get_u32(&args[1].list[1], &st->uidnext);
		else if (condstore &&
			 imap_arg_is_atom(&args[1].list[0], "HIGHESTMODSEQ") &&
			 imap_arg_get_modseq(&args[1].list[1], &st->highestmodseq) < 0)
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					    "malformed HIGHESTMODSEQ (RFC 7162: 1 to "
					    "2^63-1)");
	} else if (count == 2 && imap_arg_is_atom(&args[1], "EXISTS")) {
		(void)imap_arg_get_u32(&args[0], &st->exists);
	}
	return 0;
}

/* SELECT or EXAMINE a folder and report its status. */
static int imap_driver_open_folder(struct driver_conn *conn, const char *verb,
				   const char *folder,
				   struct driver_folder_status *status_r,
				   enum stream_fail *fail_r, const char **error_r)
{
	struct imap_conn *ic = imap_conn(conn);
	struct select_ctx ctx = { status_r, 0 };
	struct imap_cmd_handlers h = { select_untagged, NULL, &ctx };
	int ret;

	/* Folder names go through imap_client_send_astring(): a name with
	 * 8-bit bytes (from a server that does not encode them in modified
	 * UTF-7) goes as a literal; after ENABLE UTF8=ACCEPT, as a quoted
	 * UTF-8 string, and one that is not UTF-8 is never sent. */
	memset(status_r, 0, sizeof(*status_r));
	if (imap_client_utf8(ic->client) && !imap_client_utf8_valid(folder)) {
		char pname[204];

		log_printable(pname, sizeof(pname), folder, strlen(folder));
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "folder '%s': not valid UTF-8, which a server "
				    "in UTF8=ACCEPT mode requires: not sent", pname);
	}
	mm_free(&ic->folder);
	ic->folder = mm_strdup(folder);
	ret = imap_client_run_astring(ic->client, verb, folder, NULL, &h, fail_r,
				      error_r);
	if (ret == 0 && status_r->uidvalidity == 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					"%s gave no UIDVALIDITY", verb);
	/* NOMODSEQ and a HIGHESTMODSEQ both: neither is believed. */
	if (ctx.nomodseq)
		status_r->highestmodseq = 0;
	return ret;
}

static int imap_source_select(struct driver_conn *conn, const char *folder,
			      struct driver_folder_status *status_r,
			      enum stream_fail *fail_r, const char **error_r)
{
	return imap_driver_open_folder(conn, "EXAMINE", folder, status_r, fail_r,
				       error_r);
}

static int imap_target_select(struct driver_conn *conn, const char *folder,
			      struct driver_folder_status *status_r,
			      enum stream_fail *fail_r, const char **error_r)
{
	return imap_driver_open_folder(conn, "SELECT", folder, status_r, fail_r,
				       error_r);
}

struct status_ctx {
	uint64_t messages, bytes;
};

/* "* STATUS name (MESSAGES n SIZE m)": the one folder asked for. */
static int status_untagged(struct imap_client *client, const struct imap_arg *args,
			   size_t count, void *context, enum stream_fail *fail_r,
			   const char **error_r)
{
	struct status_ctx *st = context;
	const struct imap_arg *l;

	(void)client;
	(void)fail_r;
	(void)error_r;
	if (count != 3 || !imap_arg_is_atom(&args[0], "STATUS") ||
	    args[2].type != IMAP_ARG_LIST)
		return 0;
	l = args[2].list;
	for (size_t i = 0; i + 1 < args[2].count; i += 2) {
		if (imap_arg_is_atom(&l[i], "MESSAGES"))
			(void)imap_arg_get_u64(&l[i + 1], &st->messages);
		else if (imap_arg_is_atom(&l[i], "SIZE"))
			(void)imap_arg_get_u64(&l[i + 1], &st->bytes);
	}
	return 0;
}

static int imap_source_folder_size(struct driver_conn *conn, const char *folder,
				   uint64_t *messages_r, uint64_t *bytes_r,
				   enum stream_fail *fail_r, const char **error_r)
{
	struct imap_conn *ic = imap_conn(conn);
	struct status_ctx st = { 0, 0 };
	struct imap_cmd_handlers h = { status_untagged, NULL, &st };
	int size = (imap_client_caps(ic->client) & IMAP_CAP_STATUS_SIZE) != 0;

	if (imap_client_run_astring(ic->client, "STATUS", folder,
				    size ? "(MESSAGES SIZE)" : "(MESSAGES)", &h,
				    fail_r, error_r) < 0)
		return -1;
	*messages_r = st.messages;
	*bytes_r = size ? st.bytes : 0;
	return 0;
}

struct fetch_list_ctx {
	struct imap_conn *ic;
	uint32_t first_uid;
	int (*fn)(const struct driver_message *msg, void *ctx);
	void *fn_ctx;
	int stopped;
	unsigned want;
	uint64_t changedsince;	/* list_changed(): its CHANGEDSINCE */
};

/* "* n FETCH (UID u FLAGS (...) INTERNALDATE "..." RFC822.SIZE s)". */
static int fetch_list_untagged(struct imap_client *client,
			       const struct imap_arg *args, size_t count,
			       void *context, enum stream_fail *fail_r,
			       const char **error_r)
{
	struct fetch_list_ctx *ctx = context;
	struct driver_message msg;
	unsigned dropped;

	if (count != 3 || !imap_arg_is_atom(&args[1], "FETCH") || ctx->stopped)
		return 0;
	if (imap_message_from_fetch(&args[2], &msg, &dropped, fail_r, error_r) < 0)
		return -1;
	if (dropped != 0) {
		char user[200], folder[200];
		const char *f = ctx->ic->folder != NULL ? ctx->ic->folder : "";

		log_printable(user, sizeof(user), ctx->ic->user, strlen(ctx->ic->user));
		log_printable(folder, sizeof(folder), f, strlen(f));
		if ((dropped & IMAP_MESSAGE_DROPPED_DATE) != 0)
			log_warning("%s: %s UID %u: the server's INTERNALDATE is not an "
				    "RFC 3501 date-time: copied with the date of the copy",
				    user, folder, msg.uid);
		if ((dropped & IMAP_MESSAGE_DROPPED_KEYWORD) != 0)
			log_warning("%s: %s UID %u: a keyword from the server is not an "
				    "IMAP atom: copied without it", user, folder, msg.uid);
	}
	/* "n:*" also returns the last message when n is past it. */
	/* An X-UIDL: not asked for (a server sending more fields than
	 * named) says nothing: only a POP3 copy on NEW is looked up so. */
	if ((ctx->want & DRIVER_WANT_UIDL) == 0)
		msg.uidl[0] = '\0';
	/* A MODSEQ from a session without CONDSTORE: nothing asked for
	 * it, nothing is built on it. */
	if (!imap_client_condstore(client)) {
		msg.modseq = 0;
	} else if (ctx->changedsince != 0 && msg.modseq == 0) {
		/* RFC 7162 3.1.4.1: every answer to CHANGEDSINCE has it. */
		uint32_t uid = msg.uid;

		driver_message_clear(&msg);
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "FETCH (CHANGEDSINCE) answered without MODSEQ "
				    "for UID %u", uid);
	}
	if (msg.uid >= ctx->first_uid && ctx->fn(&msg, ctx->fn_ctx) != 0)
		ctx->stopped = 1;
	driver_message_clear(&msg);
	return 0;
}

static int imap_source_list_messages(struct driver_conn *conn, uint32_t first_uid,
				     unsigned want, int (*fn)(const struct driver_message *msg, void *ctx),
				     void *ctx, enum stream_fail *fail_r,
				     const char **error_r)
{
	struct imap_conn *ic = imap_conn(conn);
	struct fetch_list_ctx fctx = { ic, first_uid == 0 ? 1 : first_uid, fn, ctx, 0,
				       want, 0 };
	struct imap_cmd_handlers h = { fetch_list_untagged, NULL, &fctx };
	char cmd[128];

	static const char *const fields[4] = {
		"", " BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]",
		" BODY.PEEK[HEADER.FIELDS (X-UIDL)]",
		" BODY.PEEK[HEADER.FIELDS (MESSAGE-ID X-UIDL)]",
	};

	snprintf(cmd, sizeof(cmd), "UID FETCH %u:* (UID FLAGS INTERNALDATE RFC822.SIZE%s)",
		 fctx.first_uid,
		 fields[want & (DRIVER_WANT_MESSAGE_ID | DRIVER_WANT_UIDL)]);
	return imap_client_run(ic->client, cmd, &h, fail_r, error_r);
}

/* "UID FETCH 1:* (...) (CHANGEDSINCE n)" (RFC 7162 3.1.4.1): what
 * changed since n, each message with its MODSEQ. */
static int imap_source_list_changed(struct driver_conn *conn, uint64_t changedsince,
				    unsigned want,
				    int (*fn)(const struct driver_message *msg, void *ctx),
				    void *ctx, enum stream_fail *fail_r,
				    const char **error_r)
{
	struct imap_conn *ic = imap_conn(conn);
	struct fetch_list_ctx fctx = { ic, 1, fn, ctx, 0, want, changedsince };
	struct imap_cmd_handlers h = { fetch_list_untagged, NULL, &fctx };
	char cmd[192];

	static const char *const fields[4] = {
		"", " BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]",
		" BODY.PEEK[HEADER.FIELDS (X-UIDL)]",
		" BODY.PEEK[HEADER.FIELDS (MESSAGE-ID X-UIDL)]",
	};

	if (!imap_client_condstore(ic->client) || changedsince == 0 ||
	    changedsince > INT64_MAX)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "CHANGEDSINCE %llu asked of a session without "
				    "CONDSTORE", (unsigned long long)changedsince);
	snprintf(cmd, sizeof(cmd), "UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE "
		 "MODSEQ%s) (CHANGEDSINCE %llu)",
		 fields[want & (DRIVER_WANT_MESSAGE_ID | DRIVER_WANT_UIDL)],
		 (unsigned long long)changedsince);
	return imap_client_run(ic->client, cmd, &h, fail_r, error_r);
}

/* A literal being streamed: read it from the connection. */
struct imap_body {
	struct driver_body body;
	struct stream *stream;
	uint64_t left;
};

static int imap_body_read(struct driver_body *body, void *buf, size_t len,
			  size_t *got_r, enum stream_fail *fail_r, const char **error_r)
{
	struct imap_body *ib = body->ctx;

	if (ib->left == 0) {
		*got_r = 0;
		return 0;
	}
	if (len > ib->left)
		len = (size_t)ib->left;
	if (stream_read(ib->stream, buf, len, got_r, fail_r, error_r) < 0)
		return -1;
	ib->left -= *got_r;
	return 0;
}

struct fetch_batch_ctx {
	const struct driver_message *const *msgs;
	size_t count, next;
	driver_batch_sink_fn *sink;
	void *sink_ctx;
};

static int fetch_batch_literal(struct imap_client *client, const char *key,
			       uint64_t size, void *context, enum stream_fail *fail_r,
			       const char **error_r)
{
	struct fetch_batch_ctx *ctx = context;
	uint32_t uid = imap_client_literal_uid(client);
	struct imap_body ib;
	char buf[IMAP_DRIVER_CHUNK];
	size_t k = ctx->next;

	if (key == NULL || strcasecmp(key, "BODY[]") != 0)
		return 0;
	/* Which message: by the UID before the literal, else by order
	 * (responses come in sequence order, which is UID order). */
	if (uid != 0)
		while (k < ctx->count && ctx->msgs[k]->uid != uid)
			k++;
	if (k >= ctx->count)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "FETCH body for UID %u, which was not asked for", uid);
	ctx->next = k + 1;
	ib.body.size = size;
	ib.body.read = imap_body_read;
	ib.body.ctx = &ib;
	ib.stream = imap_client_stream(client);
	ib.left = size;
	*fail_r = STREAM_FAIL_NONE;
	if (ctx->sink(k, ctx->msgs[k], &ib.body, ctx->sink_ctx) < 0) {
		*fail_r = *fail_r == STREAM_FAIL_NONE ? STREAM_FAIL_FINAL : *fail_r;
		return -1;
	}
	while (ib.left > 0) {
		size_t got;

		if (imap_body_read(&ib.body, buf, sizeof(buf), &got, fail_r, error_r) < 0)
			return -1;
	}
	return 1;
}

static int imap_source_fetch_batch(struct driver_conn *conn,
				   const struct driver_message *const *msgs,
				   size_t count, driver_batch_sink_fn *sink, void *ctx,
				   enum stream_fail *fail_r, const char **error_r)
{
	struct imap_conn *ic = imap_conn(conn);
	struct fetch_batch_ctx fctx = { msgs, count, 0, sink, ctx };
	struct imap_cmd_handlers h = { NULL, fetch_batch_literal, &fctx };
	size_t size = 64 + count * 11, len;
	char *cmd = mm_malloc(size);
	int ret;

	len = (size_t)snprintf(cmd, size, "UID FETCH ");
	for (size_t i = 0; i < count; i++)
		len += (size_t)snprintf(cmd + len, size - len, "%s%u", i == 0 ? "" : ",",
					msgs[i]->uid);
	snprintf(cmd + len, size - len, " (BODY.PEEK[])");
	ret = imap_client_run(ic->client, cmd, &h, fail_r, error_r);
	mm_free(&cmd);
	return ret;
}

struct fetch_one_ctx {
	driver_sink_fn *sink;
	void *sink_ctx;
	int delivered;
};

static int fetch_one_sink(size_t index, const struct driver_message *msg,
			  struct driver_body *body, void *context)
{
	struct fetch_one_ctx *ctx = context;

	ctx->delivered = 1;
	return ctx->sink(msg, body, ctx->sink_ctx);
}

/* One message: a batch of one that must not have vanished. */
static int imap_source_fetch(struct driver_conn *conn, const struct driver_message *msg,
			     driver_sink_fn *sink, void *ctx, enum stream_fail *fail_r,
			     const char **error_r)
{
	struct fetch_one_ctx fctx = { sink, ctx, 0 };

	*fail_r = STREAM_FAIL_NONE;
	if (imap_source_fetch_batch(conn, &msg, 1, fetch_one_sink, &fctx, fail_r,
				    error_r) < 0)
		return -1;
	if (!fctx.delivered)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "message UID %u vanished from the server", msg->uid);
	return 0;
}

static int imap_target_create_folder(struct driver_conn *conn, const char *name,
				     unsigned attrs, int subscribe,
				     enum stream_fail *fail_r, const char **error_r)
{
	struct imap_conn *ic = imap_conn(conn);
	enum imap_status status;
	unsigned tag;

	if (imap_client_send_astring(ic->client, "CREATE", name, NULL, &tag, fail_r,
				     error_r) < 0 ||
	    imap_client_wait(ic->client, tag, NULL, &status, fail_r, error_r) < 0)
		return -1;
	/* An existing folder is fine: [ALREADYEXISTS] or, from a server
	 * without response codes, its wording. Any other refusal is
	 * classed by its code ([UNAVAILABLE]: retry later). */
	if (status != IMAP_STATUS_OK) {
		const struct imap_answer *a = imap_client_last_answer(ic->client);

		if (a->code != RESP_CODE_ALREADYEXISTS &&
		    (a->code != RESP_CODE_NONE || strcasestr(a->text, "exists") == NULL))
			return imap_client_refused(ic->client, RESP_CONTEXT_COMMAND,
						   "CREATE failed", fail_r, error_r);
	}
	(void)attrs;	/* NEW's special-use folders are configured there */
	if (subscribe)
		return imap_client_run_astring(ic->client, "SUBSCRIBE", name, NULL, NULL,
					       fail_r, error_r);
	return 0;
}

static int imap_target_append(struct driver_conn *conn, const char *folder,
			      const struct driver_message *msg, struct driver_body *body,
			      uint32_t *new_uid_r, enum stream_fail *fail_r,
			      const char **error_r)
{
	struct imap_conn *ic = imap_conn(conn);
	struct stream *s = imap_client_stream(ic->client);
	int plus = (imap_client_caps(ic->client) & IMAP_CAP_LITERALPLUS) != 0;
	char *args;
	char buf[IMAP_DRIVER_CHUNK];
	const struct imap_arg *code;
	enum imap_status status;
	uint64_t left = body->size;
	unsigned tag;
	size_t count;
	int ret;

	*new_uid_r = 0;
	/* Refused here, nothing is sent: a failed item, and the copy goes on. */
	if (imap_message_append_args(msg, body->size, plus, &args, error_r) < 0)
		return stream_failf(fail_r, STREAM_FAIL_MESSAGE, error_r,
				    "APPEND refused: not sent: %s", *error_r);
	/* The folder quoted, or a literal (as CREATE and SELECT send it). */
	ret = imap_client_send_astring(ic->client, "APPEND", folder, args, &tag,
				       fail_r, error_r);
	mm_free(&args);
	if (ret < 0)
		return -1;
	if (!plus) {
		/* Wait for "+ ": a tagged answer here refuses the message,
		 * as its response code says ([OVERQUOTA]: retry later). */
		if (imap_client_wait_continuation(ic->client, tag, fail_r, error_r) < 0) {
			if (imap_client_last_answer(ic->client)->tag != tag)
				return -1;
			return imap_client_refused(ic->client, RESP_CONTEXT_APPEND,
						   "APPEND refused", fail_r, error_r);
		}
	}
	while (left > 0) {
		size_t got;

		if (body->read(body, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf),
			       &got, fail_r, error_r) < 0)
			return -1;
		if (got == 0)
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
						"message ended %llu bytes early",
						(unsigned long long)left);
		if (stream_write(s, buf, got, fail_r, error_r) < 0)
			return -1;
		left -= got;
	}
	if (stream_write(s, "\r\n", 2, fail_r, error_r) < 0 ||
	    stream_flush(s, fail_r, error_r) < 0 ||
	    imap_client_wait(ic->client, tag, NULL, &status, fail_r, error_r) < 0)
		return -1;
	/* This message refused ([TOOBIG], [PARSE], no code), or not now
	 * ([OVERQUOTA], [UNAVAILABLE], [INUSE], [LIMIT]): resp_code(3). */
	if (status != IMAP_STATUS_OK)
		return imap_client_refused(ic->client, RESP_CONTEXT_APPEND,
					   "APPEND refused", fail_r, error_r);
	/* APPENDUID only from a server that says it has UIDPLUS; without
	 * it the caller finds the message on NEW. */
	code = imap_client_last_code(ic->client, &count);
	if (count == 3 && imap_arg_is_atom(&code[0], "APPENDUID") &&
	    (imap_client_caps(ic->client) & IMAP_CAP_UIDPLUS) != 0)
		(void)imap_arg_get_u32(&code[2], new_uid_r);
	return 0;
}

static int imap_target_can_batch(struct driver_conn *conn)
{
	unsigned caps = imap_client_caps(imap_conn(conn)->client);

	return (caps & IMAP_CAP_MULTIAPPEND) != 0 && (caps & IMAP_CAP_LITERALPLUS) != 0;
}

static int imap_target_append_begin(struct driver_conn *conn, const char *folder,
				    enum stream_fail *fail_r, const char **error_r)
{
	struct imap_conn *ic = imap_conn(conn);
	struct stream *s = imap_client_stream(ic->client);
	char *q = imap_client_quote(folder);
	int ret;

	/* Batches need LITERAL+ (can_batch): a name that cannot be quoted
	 * goes as a literal that needs no "+" from NEW. */
	if (q == NULL && (imap_client_caps(ic->client) & IMAP_CAP_LITERALPLUS) == 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "folder name cannot be quoted");
	ic->batch_tag = imap_client_new_tag(ic->client);
	if (q != NULL)
		ret = stream_printf(s, fail_r, error_r, "M%u APPEND %s", ic->batch_tag, q);
	else if ((ret = stream_printf(s, fail_r, error_r, "M%u APPEND {%zu+}\r\n",
				      ic->batch_tag, strlen(folder))) == 0)
		ret = stream_write(s, folder, strlen(folder), fail_r, error_r);
	mm_free(&q);
	return ret;
}

static int imap_target_append_add(struct driver_conn *conn,
				  const struct driver_message *msg,
				  struct driver_body *body, enum stream_fail *fail_r,
				  const char **error_r)
{
	struct imap_conn *ic = imap_conn(conn);
	struct stream *s = imap_client_stream(ic->client);
	char *args, buf[IMAP_DRIVER_CHUNK];
	uint64_t left = body->size;
	int ret;

	/* Half a MULTIAPPEND is out already: a refusal ends the batch. */
	if (imap_message_append_args(msg, body->size, 1, &args, error_r) < 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "message UID %u not sent: %s", msg->uid, *error_r);
	ret = stream_printf(s, fail_r, error_r, " %s\r\n", args);
	mm_free(&args);
	while (ret == 0 && left > 0) {
		size_t got;

		if (body->read(body, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf),
			       &got, fail_r, error_r) < 0)
			return -1;
		if (got == 0)
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					    "message ended %llu bytes early",
					    (unsigned long long)left);
		ret = stream_write(s, buf, got, fail_r, error_r);
		left -= got;
	}
	return ret;
}

/* "3955:3957,3960" into uids[0..count); 0 or -1 when it does not fit. */
static int imap_uid_set(const char *set, uint32_t *uids, size_t count)
{
	size_t n = 0;
	const char *p = set;

	while (*p != '\0') {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;

		if (end == p || a == 0 || a > UINT32_MAX)
			return -1;
		p = end;
		if (*p == ':') {
			b = strtoul(p + 1, &end, 10);
			if (end == p + 1 || b < a || b > UINT32_MAX)
				return -1;
			p = end;
		}
		for (unsigned long u = a; u <= b; u++) {
			if (n == count)
				return -1;
			uids[n++] = (uint32_t)u;
		}
		if (*p == ',')
			p++;
		else if (*p != '\0')
			return -1;
	}
	return n == count ? 0 : -1;
}

/* The MULTIAPPEND's closing CRLF: NEW commits the batch now. */
static int imap_target_append_commit(struct driver_conn *conn,
				     enum stream_fail *fail_r, const char **error_r)
{
	struct stream *s = imap_client_stream(imap_conn(conn)->client);

	if (stream_write(s, "\r\n", 2, fail_r, error_r) < 0 ||
	    stream_flush(s, fail_r, error_r) < 0)
		return -1;
	return 0;
}

/* NEW's answer to the MULTIAPPEND: its APPENDUID. */
static int imap_target_append_result(struct driver_conn *conn, uint32_t *uids_r,
				     size_t count, enum stream_fail *fail_r,
				     const char **error_r)
{
	struct imap_conn *ic = imap_conn(conn);
	const struct imap_arg *code;
	enum imap_status status;
	unsigned tag = ic->batch_tag;
	size_t n;

	memset(uids_r, 0, count * sizeof(*uids_r));
	if (imap_client_wait(ic->client, tag, NULL, &status, fail_r, error_r) < 0)
		return -1;
	ic->batch_tag = 0;
	/* The whole batch refused: STREAM_FAIL_MESSAGE when some message in
	 * it is at fault, else what the code says for all of it. */
	if (status != IMAP_STATUS_OK)
		return imap_client_refused(ic->client, RESP_CONTEXT_APPEND,
					   "APPEND of the batch refused", fail_r,
					   error_r);
	if ((imap_client_caps(ic->client) & IMAP_CAP_UIDPLUS) == 0)
		return 0;	/* no APPENDUID: the caller finds them on NEW */
	code = imap_client_last_code(ic->client, &n);
	if (n != 3 || !imap_arg_is_atom(&code[0], "APPENDUID") ||
	    imap_arg_get_astring(&code[2]) == NULL ||
	    imap_uid_set(imap_arg_get_astring(&code[2]), uids_r, count) < 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "NEW's APPENDUID does not name %zu messages", count);
	return 0;
}

static int imap_target_set_flags(struct driver_conn *conn, uint32_t uid,
				 const struct driver_message *msg,
				 enum stream_fail *fail_r, const char **error_r)
{
	struct imap_conn *ic = imap_conn(conn);
	char *flags, *cmd;
	int ret;

	if (imap_message_flag_list(msg, &flags, error_r) < 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "flags of UID %u not sent: %s", uid, *error_r);
	cmd = mm_asprintf("UID STORE %u FLAGS.SILENT %s", uid, flags);
	ret = imap_client_run(ic->client, cmd, NULL, fail_r, error_r);

	mm_free(&cmd);
	mm_free(&flags);
	return ret;
}

struct search_ctx {
	uint32_t uid;
};

/* "* SEARCH 4 9": the last (newest) match. */
static int search_untagged(struct imap_client *client, const struct imap_arg *args,
			   size_t count, void *context, enum stream_fail *fail_r,
			   const char **error_r)
{
	struct search_ctx *ctx = context;

	if (count == 0 || !imap_arg_is_atom(&args[0], "SEARCH"))
		return 0;
	for (size_t i = 1; i < count; i++)
		if (imap_arg_get_u32(&args[i], &ctx->uid) < 0)
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
						"malformed SEARCH response");
	return 0;
}

static int imap_target_find_header(struct driver_conn *conn, const char *name,
				   const char *value, uint32_t *uid_r,
				   enum stream_fail *fail_r, const char **error_r)
{
	struct imap_conn *ic = imap_conn(conn);
	struct search_ctx ctx = { 0 };
	struct imap_cmd_handlers h = { search_untagged, NULL, &ctx };
	char *qn = imap_client_quote(name), *qv = imap_client_quote(value), *cmd;
	int ret;

	*uid_r = 0;
	if (qn == NULL || qv == NULL) {
		mm_free(&qn);
		mm_free(&qv);
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					"header search text cannot be quoted");
	}
	cmd = mm_asprintf("UID SEARCH HEADER %s %s", qn, qv);
	mm_free(&qn);
	mm_free(&qv);
	ret = imap_client_run(ic->client, cmd, &h, fail_r, error_r);
	mm_free(&cmd);
	if (ret == 0)
		*uid_r = ctx.uid;
	return ret;
}

static uint64_t imap_target_append_limit(struct driver_conn *conn)
{
	return imap_client_appendlimit(imap_conn(conn)->client);
}

struct imap_client *imap_driver_client(struct driver_conn *conn)
{
	return ((struct imap_conn *)conn)->client;
}

const struct source_driver source_driver_imap = {
	.name = "imap",
	.open = imap_source_open,
	.namespace_prefix = imap_driver_namespace_prefix,
	.shared_prefix = imap_driver_shared_prefix,
	.list_folders = imap_driver_list_folders,
	.select = imap_source_select,
	.folder_size = imap_source_folder_size,
	.list_messages = imap_source_list_messages,
	.list_changed = imap_source_list_changed,
	.fetch = imap_source_fetch,
	.fetch_batch = imap_source_fetch_batch,
	.close = imap_driver_close,
	.is_tls = imap_driver_is_tls,
	.utf8_names = imap_source_utf8_names,
	.get_acl = imap_driver_get_acl,
};

const struct target_driver target_driver_imap = {
	.name = "imap",
	.open = imap_driver_open,
	.namespace_prefix = imap_driver_namespace_prefix,
	.list_folders = imap_driver_list_folders,
	.create_folder = imap_target_create_folder,
	.select = imap_target_select,
	.list_messages = imap_source_list_messages,
	.find_header = imap_target_find_header,
	.append = imap_target_append,
	.append_limit = imap_target_append_limit,
	.can_batch = imap_target_can_batch,
	.append_begin = imap_target_append_begin,
	.append_add = imap_target_append_add,
	.append_commit = imap_target_append_commit,
	.append_result = imap_target_append_result,
	.set_flags = imap_target_set_flags,
	.close = imap_driver_close,
	.get_acl = imap_driver_get_acl,
	.set_acl = imap_driver_set_acl,
};
