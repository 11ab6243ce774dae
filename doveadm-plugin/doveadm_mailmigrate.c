/*
 * NAME
 *	doveadm_mailmigrate 3
 * SUMMARY
 *	doveadm mailmigrate-import: write a user's mail keeping its UIDs
 * SYNOPSIS
 *	doveadm [-c CONF] mailmigrate-import -u USER [-m MAX_LITERAL]
 * DESCRIPTION
 *	A doveadm command plugin (lib10_doveadm_mailmigrate_plugin.so in
 *	Dovecot's doveadm module directory, which doveadm loads at start).
 *	The puller's dovecot target driver runs it on NEW and speaks the
 *	line protocol of README over stdin and stdout: folders, identities
 *	(UIDVALIDITY, next UID) and messages with their UID, flags, date
 *	and POP3 UIDL, written through Dovecot's storage API as dsync
 *	writes them, so clients keep their caches after the cut-over.
 *
 *	Framing is checked before the payload: a line longer than
 *	IMPORT_LINE_MAX is refused before it ends, a literal larger than
 *	-m (default IMPORT_LITERAL_DEFAULT) before a byte of it is read.
 *	Either leaves the stream out of step, so the answer is BAD and the
 *	command ends (exit 65), rolling back the open batch. An unknown
 *	command or a bad field is BAD too, but the stream is still in step
 *	and the command carries on.
 * DIAGNOSTICS
 *	Answers on stdout (import.h); Dovecot's log (stderr) for the rest.
 */
#include "lib.h"		/* Dovecot's; pulls in its config.h */
#include "istream.h"
#include "mail-storage.h"
#include "doveadm-mail.h"
#include "doveadm-cmd.h"

#include <unistd.h>
#include <stdarg.h>
#include <sysexits.h>

#include "import.h"

const char *doveadm_mailmigrate_plugin_version = DOVECOT_ABI_VERSION;
void doveadm_mailmigrate_plugin_init(struct module *module);
void doveadm_mailmigrate_plugin_deinit(void);

struct mailmigrate_cmd_context {
	struct doveadm_mail_cmd_context ctx;
	uint64_t max_literal;
	bool fsync_batch;		/* -b */
};

/* Write all of it: the peer is a pipe and waits for whole lines. A
 * failed write means the puller is gone; the next read sees EOF. */
static void import_write(const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		data += n;
		len -= (size_t)n;
	}
}

void import_answer(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	T_BEGIN {
		const char *line = t_strdup_vprintf(fmt, args);

		import_write(line, strlen(line));
		import_write("\n", 1);
	} T_END;
	va_end(args);
}

void import_answer_no(enum import_class cls, const char *reason)
{
	static const char *const names[] = {
		[IMPORT_CLASS_TEMP] = "temp",
		[IMPORT_CLASS_WAIT] = "wait",
		[IMPORT_CLASS_FINAL] = "final",
		[IMPORT_CLASS_MESSAGE] = "message",
	};
	char text[401];
	size_t i;

	/* Storage errors may carry a path or peer text: one line, bounded. */
	i_strocpy(text, reason, sizeof(text));
	for (i = 0; text[i] != '\0'; i++)
		if ((unsigned char)text[i] < 0x20)
			text[i] = ' ';
	import_answer("NO\t%s\t%s", names[cls], text);
}

/* Read and drop what is left of a literal. */
static void import_drain(struct istream *body)
{
	const unsigned char *data;
	size_t size;

	while (i_stream_read_more(body, &data, &size) > 0)
		i_stream_skip(body, size);
}

/* APPEND: check every field, then hand the literal to the storage.
 * Returns -1 when the stream is out of step (BAD answered or peer
 * gone), else 0. */
static int import_append(struct mailmigrate_cmd_context *mctx,
			 struct import_box *ibox, struct istream *input,
			 struct import_line *l)
{
	struct import_flags flags;
	struct istream *body;
	uint64_t uid, size;
	uoff_t start;
	time_t when;
	int tz, ret;
	const char *error;

	/* The size first: without it the literal cannot be skipped. */
	if (import_parse_uint(l->field[4], mctx->max_literal, &size) < 0) {
		import_answer("BAD\tliteral size not a number or above %"PRIu64,
			      mctx->max_literal);
		return -1;
	}
	error = NULL;
	if (import_parse_uint(l->field[0], (uint32_t)-1, &uid) < 0)
		error = "bad UID";
	else if (import_parse_flags(l->field[1], &flags, &error) < 0)
		;
	else if (import_parse_date(l->field[2], &when, &tz) < 0)
		error = "bad date (want UNIXTIME +HHMM)";
	else if (import_check_uidl(l->field[3]) < 0)
		error = "bad POP3 UIDL";

	start = input->v_offset;
	/* The body in large reads (the line limit is for lines only). */
	i_stream_set_max_buffer_size(input, IMPORT_BODY_BUFFER);
	body = i_stream_create_limit(input, size);
	if (error != NULL) {
		import_answer("BAD\tAPPEND: %s", error);
		ret = 0;
	} else {
		ret = import_box_append(ibox, (uint32_t)uid, &flags, when, tz,
					l->field[3], body, size);
	}
	import_drain(body);
	if (body->v_offset != size)
		ret = -1;	/* EOF inside the literal: the peer is gone */
	i_stream_unref(&body);
	i_stream_set_max_buffer_size(input, IMPORT_LINE_MAX);
	/* The limit stream read ahead in the parent: continue after it. */
	if (ret == 0)
		i_stream_seek(input, start + size);
	return ret;
}

/* One command. Returns 1 to go on, 0 after QUIT, -1 out of step. */
static int import_dispatch(struct mailmigrate_cmd_context *mctx,
			   struct import_box *ibox, struct istream *input,
			   char *line)
{
	struct import_line l;
	const char *error;
	uint64_t a, b;

	if (import_line_split(line, strlen(line), &l, &error) < 0) {
		import_answer("BAD\t%s", error);
		/* An APPEND we could not read may be followed by its
		 * literal: we cannot tell where it ends. */
		return strncmp(line, "APPEND", 6) == 0 ? -1 : 1;
	}
	switch (l.cmd) {
	case IMPORT_CMD_UNKNOWN:
		import_answer("BAD\tunknown command");
		return 1;
	case IMPORT_CMD_FOLDER:
		if (import_check_name(l.field[0]) < 0)
			import_answer("BAD\tFOLDER: bad folder name");
		else if (import_check_special_use(l.field[1]) < 0)
			import_answer("BAD\tFOLDER: bad special-use");
		else
			import_box_folder(ibox, l.field[0], l.field[1]);
		return 1;
	case IMPORT_CMD_IDENTITY:
		if (import_parse_uint(l.field[0], (uint32_t)-1, &a) < 0 ||
		    import_parse_uint(l.field[1], (uint32_t)-1, &b) < 0)
			import_answer("BAD\tIDENTITY: bad number");
		else
			import_box_identity(ibox, (uint32_t)a, (uint32_t)b);
		return 1;
	case IMPORT_CMD_APPEND:
		return import_append(mctx, ibox, input, &l) < 0 ? -1 : 1;
	case IMPORT_CMD_COMMIT:
		import_box_commit(ibox);
		return 1;
	case IMPORT_CMD_ABORT:
		import_box_abort(ibox);
		return 1;
	case IMPORT_CMD_STATE:
		if (import_parse_uint(l.field[0], (uint32_t)-1, &a) < 0 ||
		    import_parse_uint(l.field[1], IMPORT_STATE_MAX, &b) < 0)
			import_answer("BAD\tSTATE: bad number (max %u)",
				      IMPORT_STATE_MAX);
		else if (l.count > 2 && strcmp(l.field[2], "-") != 0 &&
			 strcmp(l.field[2], "message-id") != 0)
			import_answer("BAD\tSTATE: fields are - or message-id");
		else
			import_box_state(ibox, (uint32_t)a, (unsigned int)b,
					 l.count == 2 || strcmp(l.field[2], "-") != 0);
		return 1;
	case IMPORT_CMD_LIST:
		import_box_list(ibox);
		return 1;
	case IMPORT_CMD_FLAGS: {
		struct import_flags flags;

		if (import_parse_uint(l.field[0], (uint32_t)-1, &a) < 0 || a == 0)
			import_answer("BAD\tFLAGS: bad UID");
		else if (import_parse_flags(l.field[1], &flags, &error) < 0)
			import_answer("BAD\tFLAGS: %s", error);
		else
			import_box_flags(ibox, (uint32_t)a, &flags);
		return 1;
	}
	case IMPORT_CMD_MOVEALL:
		if (import_check_name(l.field[0]) < 0 || import_check_name(l.field[1]) < 0)
			import_answer("BAD\tMOVEALL: bad folder name");
		else if (strcmp(l.field[2], "0") != 0 && strcmp(l.field[2], "1") != 0)
			import_answer("BAD\tMOVEALL: delete is 0 or 1");
		else
			import_box_moveall(ibox, l.field[0], l.field[1],
					  strcmp(l.field[2], "1") == 0);
		return 1;
	case IMPORT_CMD_SUBSCRIBE:
		import_box_subscribe(ibox);
		return 1;
	case IMPORT_CMD_PLUGINS: {
		/* The user's mail_plugins as this doveadm has them: the
		 * puller runs doveadm acl with these and acl. */
		const char *plugins = mctx->ctx.cur_mail_user->set->mail_plugins;

		if (plugins == NULL || strlen(plugins) > IMPORT_LINE_MAX / 2 ||
		    strpbrk(plugins, "\t\r\n") != NULL)
			import_answer("NO\tfinal\tmail_plugins not shown");
		else
			import_answer("OK\t%s", plugins);
		return 1;
	}
	case IMPORT_CMD_QUIT:
		import_answer("OK\tbye");
		return 0;
	}
	i_unreached();
}

static int cmd_mailmigrate_run(struct doveadm_mail_cmd_context *ctx,
			       struct mail_user *user)
{
	struct mailmigrate_cmd_context *mctx =
		container_of(ctx, struct mailmigrate_cmd_context, ctx);
	struct import_box *ibox;
	struct istream *input;
	char *line;
	int ret = 1;

	/* Blocking reads of stdin; the buffer is the line limit. */
	input = i_stream_create_fd(STDIN_FILENO, IMPORT_LINE_MAX);
	ibox = import_box_init(user, mctx->fsync_batch);
	import_answer("OK\tmailmigrate-import\t%d\t%u\t%"PRIu64,
		      IMPORT_PROTO_VERSION, IMPORT_LINE_MAX, mctx->max_literal);
	while (ret > 0) {
		line = i_stream_read_next_line(input);
		if (line == NULL) {
			if (input->stream_errno == ENOBUFS) {
				import_answer("BAD\tline longer than %u bytes",
					      IMPORT_LINE_MAX - 1);
				ret = -1;
			} else if (input->eof || input->stream_errno != 0 ||
				   doveadm_is_killed()) {
				/* The puller is gone: its open batch with it. */
				ret = 0;
			}
			continue;
		}
		if (strlen(line) >= IMPORT_LINE_MAX) {
			/* Read ahead with a literal's larger buffer: the
			 * limit holds all the same. */
			import_answer("BAD\tline longer than %u bytes",
				      IMPORT_LINE_MAX - 1);
			ret = -1;
			continue;
		}
		T_BEGIN {
			ret = import_dispatch(mctx, ibox, input, line);
		} T_END;
	}
	if (ret < 0)
		ctx->exit_code = EX_DATAERR;
	import_box_deinit(&ibox);
	i_stream_unref(&input);
	return ret < 0 ? -1 : 0;
}

static bool cmd_mailmigrate_parse_arg(struct doveadm_mail_cmd_context *ctx,
				      int c)
{
	struct mailmigrate_cmd_context *mctx =
		container_of(ctx, struct mailmigrate_cmd_context, ctx);

	if (c == 'b') {
		mctx->fsync_batch = TRUE;
		return TRUE;
	}
	if (c != 'm')
		return FALSE;
	if (import_parse_uint(optarg, IMPORT_LITERAL_CEILING,
			      &mctx->max_literal) < 0 || mctx->max_literal == 0)
		i_fatal_status(EX_USAGE, "-m: a size in bytes, 1..%u",
			       IMPORT_LITERAL_CEILING);
	return TRUE;
}

static void cmd_mailmigrate_init(struct doveadm_mail_cmd_context *ctx,
				 const char *const args[])
{
	if (args[0] != NULL)
		doveadm_mail_help_name("mailmigrate-import");
	/* One user's stream on stdin: -A would hand it to the first. */
	if (ctx->iterate_all_users)
		i_fatal_status(EX_USAGE, "mailmigrate-import: -u USER, not -A");
}

static struct doveadm_mail_cmd_context *cmd_mailmigrate_alloc(void)
{
	struct mailmigrate_cmd_context *mctx;

	mctx = doveadm_mail_cmd_alloc(struct mailmigrate_cmd_context);
	mctx->max_literal = IMPORT_LITERAL_DEFAULT;
	mctx->ctx.getopt_args = "m:b";
	mctx->ctx.v.parse_arg = cmd_mailmigrate_parse_arg;
	mctx->ctx.v.init = cmd_mailmigrate_init;
	mctx->ctx.v.run = cmd_mailmigrate_run;
	return &mctx->ctx;
}

static struct doveadm_cmd_ver2 doveadm_cmd_mailmigrate_import = {
	.name = "mailmigrate-import",
	.mail_cmd = cmd_mailmigrate_alloc,
	.usage = DOVEADM_CMD_MAIL_USAGE_PREFIX "[-m <max-literal>] [-b]",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_MAIL_COMMON
DOVEADM_CMD_PARAM('m', "max-literal", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('b', "fsync-batch", CMD_PARAM_BOOL, 0)
DOVEADM_CMD_PARAMS_END
};

void doveadm_mailmigrate_plugin_init(struct module *module ATTR_UNUSED)
{
	doveadm_cmd_register_ver2(&doveadm_cmd_mailmigrate_import);
}

void doveadm_mailmigrate_plugin_deinit(void)
{
}
