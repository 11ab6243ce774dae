/*
 * NAME
 *	dovecot_target 3
 * SUMMARY
 *	target driver "dovecot": doveadm mailmigrate-import on NEW
 * DESCRIPTION
 *	Runs NEW's doveadm with our command plugin (doveadm-plugin/) for
 *	one user and speaks its line protocol (doveadm-plugin/README) over
 *	a pair of pipes: folders get OLD's UIDVALIDITY, messages OLD's UIDs
 *	and POP3 UIDLs, so clients keep their caches after the cut-over.
 *	No password goes anywhere: doveadm runs as root (or the mail user)
 *	on NEW and opens the mail directly; the user name goes on its
 *	command line, which is not a secret.
 *
 *	Answers are read with the bounded line reader; a NO carries its
 *	class (temp, wait, final, message), mapped one to one onto
 *	enum stream_fail. A connection whose stream went out of step (a
 *	body that failed halfway, a BAD on framing, doveadm gone) is
 *	broken: every later call fails at once, and close kills doveadm,
 *	whose open batch is then never committed.
 *
 *	APPENDs are not waited for one by one: their answers are read
 *	when the batch is ended (or when DOVECOT_UNANSWERED_MAX are
 *	outstanding), so the next message streams in while doveadm saves
 *	the last. A batch with a refused APPEND is dropped (ABORT in
 *	place of COMMIT) and its result is the first refusal, as a
 *	MULTIAPPEND that NEW refuses: all of the batch or none of it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dovecot_acl.h"
#include "driver.h"
#include "linereader.h"
#include "log.h"
#include "mm_alloc.h"
#include "mutf7.h"

#define DOVECOT_DOVEADM_DEFAULT "/usr/bin/doveadm"
/* The plugin's IMPORT_LINE_MAX: no answer is longer. */
#define DOVECOT_LINE_MAX 8192
/* STATE pages: the plugin's ceiling. */
#define DOVECOT_STATE_PAGE 100000
/* Each answer's deadline without driver_settings.timeout_ms. */
#define DOVECOT_TIMEOUT_MS_DEFAULT 120000
/* How long close waits for doveadm to exit after QUIT, then kills it. */
#define DOVECOT_EXIT_WAIT_MS 5000
/* APPENDs sent before their answers are read. An APPEND's answer is
 * at most "NO <class> " and 400 bytes of reason: 32 of them stay far
 * below a pipe's capacity (64 KiB on Linux), so doveadm never blocks
 * writing answers while we block writing it the next message. */
#define DOVECOT_UNANSWERED_MAX 32
/* doveadm's stdin: Linux's default pipe-max-size. */
#define DOVECOT_PIPE_SIZE (1 << 20)

struct dovecot_conn {
	pid_t pid;
	int to_fd;			/* doveadm's stdin */
	int from_fd;			/* doveadm's stdout */
	struct linereader *lr;
	uint64_t max_literal;		/* from the greeting */
	int timeout_ms;			/* for each answer to begin */
	char *folder;			/* the FOLDER last selected (mUTF-7) */
	int broken;
	unsigned unanswered;		/* APPENDs sent, answers not read */
	enum stream_fail refused_fail;	/* the batch's first refusal, or NONE */
	char refused[320];		/* its text */
	int aborting;			/* ABORT sent in place of COMMIT */
	struct dovecot_acl_cmd acl;	/* doveadm acl for this user */
	char *acl_doveadm, *acl_config, *acl_user;	/* acl's strings */
	char *acl_plugins;		/* its -o, once asked (PLUGINS) */
	int plugins_asked;
};

static struct dovecot_conn *dovecot_conn(struct driver_conn *conn)
{
	return (struct dovecot_conn *)conn;
}

/* Write all of it; SIGPIPE held off so a dead doveadm is an error. */
static int dovecot_write(struct dovecot_conn *dc, const void *data, size_t len,
			 enum stream_fail *fail_r, const char **error_r)
{
	struct sigaction ign, old;
	const char *p = data;
	int ret = 0;

	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, &old);
	while (len > 0) {
		ssize_t n = write(dc->to_fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			dc->broken = 1;
			ret = stream_failf(fail_r, STREAM_FAIL_TEMP, error_r,
					   "doveadm mailmigrate-import: write: %s",
					   strerror(errno));
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	sigaction(SIGPIPE, &old, NULL);
	return ret;
}

/* One answer line. EOF or a read error: doveadm is gone. */
static int dovecot_read(struct dovecot_conn *dc, const char **line_r,
			enum stream_fail *fail_r, const char **error_r)
{
	struct pollfd pfd;
	size_t len;
	int r;

	/* A doveadm that hangs (a lock held elsewhere, a stuck fsync) must
	 * not hold the worker for ever: wait for the answer to begin. */
	if (!linereader_has_line(dc->lr)) {
		pfd.fd = dc->from_fd;
		pfd.events = POLLIN;
		do
			r = poll(&pfd, 1, dc->timeout_ms);
		while (r < 0 && errno == EINTR);
		if (r == 0) {
			dc->broken = 1;
			return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r,
					    "doveadm mailmigrate-import: no answer in %d ms",
					    dc->timeout_ms);
		}
	}
	switch (linereader_next(dc->lr, line_r, &len)) {
	case LINEREADER_LINE:
		if (strlen(*line_r) == len)
			return 0;
		break;
	case LINEREADER_EOF:
		dc->broken = 1;
		return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r,
				    "doveadm mailmigrate-import ended unexpectedly");
	case LINEREADER_ERROR:
		dc->broken = 1;
		return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r,
				    "doveadm mailmigrate-import: read: %s",
				    strerror(errno));
	case LINEREADER_TOOLONG:
		break;
	}
	dc->broken = 1;
	return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
			    "doveadm mailmigrate-import: malformed answer line");
}

/* A NO or BAD as a failure of its class; the peer's text escaped. */
static int dovecot_refused(const char *what, const char *line, int in_append,
			   enum stream_fail *fail_r, const char **error_r)
{
	static const struct {
		const char *name;
		enum stream_fail fail;
	} classes[] = {
		{ "temp", STREAM_FAIL_TEMP }, { "wait", STREAM_FAIL_WAIT },
		{ "final", STREAM_FAIL_FINAL }, { "message", STREAM_FAIL_MESSAGE },
	};
	enum stream_fail fail = STREAM_FAIL_FINAL;
	char text[256];
	const char *reason = line;
	size_t i, n;

	if (strncmp(line, "NO\t", 3) == 0) {
		for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
			n = strlen(classes[i].name);
			if (strncmp(line + 3, classes[i].name, n) == 0 &&
			    line[3 + n] == '\t') {
				fail = classes[i].fail;
				reason = line + 4 + n;
			}
		}
	} else if (strncmp(line, "BAD\t", 4) == 0) {
		/* A bad field of one APPEND (a keyword OLD allows and
		 * Dovecot does not): that message only, the stream is in
		 * step. Any other BAD is our bug: give up. */
		if (in_append && strncmp(line + 4, "APPEND: ", 8) == 0)
			fail = STREAM_FAIL_MESSAGE;
		reason = line + 4;
	}
	log_printable(text, sizeof(text), reason, strlen(reason));
	return stream_failf(fail_r, fail, error_r, "%s refused by NEW's doveadm: %.200s",
			    what, text);
}

/* Read the answers of the APPENDs sent: the batch's first refusal is
 * kept for its end (the others only counted). -1: doveadm failed. */
static int dovecot_drain(struct dovecot_conn *dc, enum stream_fail *fail_r,
			 const char **error_r)
{
	enum stream_fail fail;
	const char *line, *error;

	while (dc->unanswered > 0) {
		if (dovecot_read(dc, &line, fail_r, error_r) < 0)
			return -1;
		dc->unanswered--;
		if (strcmp(line, "OK") == 0 || dc->refused_fail != STREAM_FAIL_NONE)
			continue;
		(void)dovecot_refused("APPEND", line, 1, &fail, &error);
		dc->refused_fail = fail;
		snprintf(dc->refused, sizeof(dc->refused), "%s", error);
	}
	return 0;
}

/* Send one command line and read the one-line answer; *line_r is the
 * answer after "OK" (and its TAB), valid until the next read. */
static int dovecot_cmd(struct dovecot_conn *dc, const char *what, const char *cmd,
		       const char **line_r, enum stream_fail *fail_r,
		       const char **error_r)
{
	const char *line;

	if (dc->broken)
		return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r,
				    "doveadm mailmigrate-import: connection broken");
	/* Answers to a batch nobody ends (close): out of the way. */
	if (dovecot_drain(dc, fail_r, error_r) < 0 ||
	    dovecot_write(dc, cmd, strlen(cmd), fail_r, error_r) < 0 ||
	    dovecot_read(dc, &line, fail_r, error_r) < 0)
		return -1;
	if (strcmp(line, "OK") == 0 || strncmp(line, "OK\t", 3) == 0) {
		*line_r = line[2] == '\0' ? "" : line + 3;
		return 0;
	}
	return dovecot_refused(what, line, 0, fail_r, error_r);
}

/* A folder name for the protocol: UTF-8, no TAB/CR/LF. */
static int dovecot_folder_name(const char *folder, char **name_r,
			       enum stream_fail *fail_r, const char **error_r)
{
	const char *error;

	if (mutf7_to_utf8(folder, name_r, &error) < 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "folder name: %s", error);
	if (strpbrk(*name_r, "\t\r\n") != NULL || **name_r == '\0') {
		mm_free(name_r);
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "folder name holds a control character");
	}
	return 0;
}

/* FOLDER: select (creating if missing); the answer's status. */
static int dovecot_folder(struct dovecot_conn *dc, const char *folder,
			  const char *special_use,
			  struct driver_folder_status *status_r,
			  enum stream_fail *fail_r, const char **error_r)
{
	char *name, *cmd;
	const char *ans;
	unsigned long uv, next, exists;
	int ret;

	if (dovecot_folder_name(folder, &name, fail_r, error_r) < 0)
		return -1;
	cmd = mm_asprintf("FOLDER\t%s\t%s\n", name, special_use);
	ret = dovecot_cmd(dc, "FOLDER", cmd, &ans, fail_r, error_r);
	mm_free(&cmd);
	mm_free(&name);
	if (ret < 0)
		return -1;
	if (sscanf(ans, "%lu\t%lu\t%lu\t", &uv, &next, &exists) != 3) {
		dc->broken = 1;
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "doveadm mailmigrate-import: malformed FOLDER answer");
	}
	if (status_r != NULL) {
		status_r->uidvalidity = (uint32_t)uv;
		status_r->uidnext = (uint32_t)next;
		status_r->exists = (uint32_t)exists;
	}
	mm_free(&dc->folder);
	dc->folder = mm_strdup(folder);
	return 0;
}

/* doveadm's exit, for the error of a session that never greeted. */
static int dovecot_exit_failure(struct dovecot_conn *dc, const char *doveadm,
				enum stream_fail *fail_r, const char **error_r)
{
	int status;

	if (waitpid(dc->pid, &status, 0) == dc->pid) {
		dc->pid = -1;
		/* 67 EX_NOUSER: no such user on NEW. 75 EX_TEMPFAIL:
		 * Dovecot's own "try again". */
		if (WIFEXITED(status) && WEXITSTATUS(status) == 75)
			return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r,
					    "%s: temporary failure (exit 75)", doveadm);
		if (WIFEXITED(status))
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					    "%s mailmigrate-import failed (exit %d%s)",
					    doveadm, WEXITSTATUS(status),
					    WEXITSTATUS(status) == 67 ? ": no such user" :
					    WEXITSTATUS(status) == 64 ?
					    ": usage, is the mailmigrate plugin installed?" :
					    WEXITSTATUS(status) == 127 ? ": cannot run it" : "");
	}
	return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r,
			    "%s mailmigrate-import ended without a greeting", doveadm);
}

static void dovecot_close(struct driver_conn **connp);

static int dovecot_open(const struct driver_settings *set,
			const struct driver_login *login,
			struct driver_conn **conn_r, enum stream_fail *fail_r,
			const char **error_r)
{
	const char *doveadm = set->doveadm != NULL ? set->doveadm :
		DOVECOT_DOVEADM_DEFAULT;
	const char *argv[16], *line;
	char limit[24];
	struct dovecot_conn *dc;
	int to[2], from[2];
	size_t n = 0;
	int ret;

	*conn_r = NULL;
	/* The user becomes an argument: nothing that doveadm could take
	 * for an option or that breaks a line. */
	if (login->user == NULL || login->user[0] == '\0' || login->user[0] == '-' ||
	    strpbrk(login->user, "\t\r\n") != NULL)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "dovecot target: bad user name");
	snprintf(limit, sizeof(limit), "%llu", (unsigned long long)
		 (set->max_message_size > 0 ? set->max_message_size : 100u << 20));
	argv[n++] = doveadm;
	if (set->doveadm_config != NULL) {
		argv[n++] = "-c";
		argv[n++] = set->doveadm_config;
	}
	if (set->fsync_batch) {
		/* An fsync per message costs more than the copy itself;
		 * the plugin makes each batch durable instead (-b). */
		argv[n++] = "-o";
		argv[n++] = "mail_fsync=never";
	}
	argv[n++] = "mailmigrate-import";
	argv[n++] = "-u";
	argv[n++] = login->user;
	argv[n++] = "-m";
	argv[n++] = limit;
	if (set->fsync_batch)
		argv[n++] = "-b";
	argv[n] = NULL;

	if (pipe2(to, O_CLOEXEC) < 0)
		return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r, "pipe: %s",
				    strerror(errno));
	if (pipe2(from, O_CLOEXEC) < 0) {
		close(to[0]);
		close(to[1]);
		return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r, "pipe: %s",
				    strerror(errno));
	}
	/* Room for the bodies in flight, as a socket to an imap process
	 * has: with a pipe's 64 KiB the worker and doveadm take turns
	 * every few KiB. A smaller pipe (the system's pipe-max-size) only
	 * costs speed. */
	(void)fcntl(to[1], F_SETPIPE_SZ, DOVECOT_PIPE_SIZE);
	dc = mm_malloc(sizeof(*dc));
	memset(dc, 0, sizeof(*dc));
	dc->pid = fork();
	if (dc->pid == 0) {
		/* The puller may ignore SIGPIPE; doveadm should not. */
		signal(SIGPIPE, SIG_DFL);
		if (dup2(to[0], STDIN_FILENO) < 0 || dup2(from[1], STDOUT_FILENO) < 0)
			_exit(127);
		/* Nothing of the puller's (the store's files, sockets to
		 * OLD) reaches doveadm: only stdin, stdout and stderr. */
		closefrom(STDERR_FILENO + 1);
		execv(doveadm, (char *const *)argv);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	dc->to_fd = to[1];
	dc->from_fd = from[0];
	if (dc->pid < 0) {
		ret = stream_failf(fail_r, STREAM_FAIL_TEMP, error_r, "fork: %s",
				   strerror(errno));
		dc->pid = -1;
		dovecot_close((struct driver_conn **)&dc);
		return ret;
	}
	dc->lr = linereader_new(dc->from_fd, DOVECOT_LINE_MAX);
	dc->timeout_ms = set->timeout_ms > 0 && set->timeout_ms <= 86400000u ?
		(int)set->timeout_ms : DOVECOT_TIMEOUT_MS_DEFAULT;
	dc->acl_doveadm = mm_strdup(doveadm);
	dc->acl_config = set->doveadm_config != NULL ? mm_strdup(set->doveadm_config) :
		NULL;
	dc->acl_user = mm_strdup(login->user);
	dc->acl = (struct dovecot_acl_cmd){ dc->acl_doveadm, dc->acl_config,
					    dc->acl_user, (unsigned)dc->timeout_ms, NULL };
	if (dovecot_read(dc, &line, fail_r, error_r) < 0) {
		ret = dovecot_exit_failure(dc, doveadm, fail_r, error_r);
		dovecot_close((struct driver_conn **)&dc);
		return ret;
	}
	/* "OK mailmigrate-import 1 <max line> <max literal>" */
	{
		unsigned version, maxline;
		unsigned long long maxlit;

		if (sscanf(line, "OK\tmailmigrate-import\t%u\t%u\t%llu",
			   &version, &maxline, &maxlit) != 3 || version != 1) {
			dovecot_close((struct driver_conn **)&dc);
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					    "%s mailmigrate-import: unexpected greeting",
					    doveadm);
		}
		dc->max_literal = maxlit;
	}
	*conn_r = (struct driver_conn *)dc;
	return 0;
}

static void dovecot_close(struct driver_conn **connp)
{
	struct dovecot_conn *dc = dovecot_conn(*connp);
	const char *line;
	enum stream_fail fail;
	const char *error;
	int status, waited = 0;

	if (dc == NULL)
		return;
	*connp = NULL;
	/* QUIT only in step; otherwise the kill below drops the batch. */
	if (dc->pid > 0 && !dc->broken && dc->lr != NULL)
		(void)dovecot_cmd(dc, "QUIT", "QUIT\n", &line, &fail, &error);
	if (dc->to_fd >= 0)
		close(dc->to_fd);
	while (dc->pid > 0 && waitpid(dc->pid, &status, WNOHANG) == 0) {
		struct timespec ts = { 0, 10 * 1000000 };

		if (waited >= DOVECOT_EXIT_WAIT_MS || dc->broken) {
			kill(dc->pid, SIGKILL);
			(void)waitpid(dc->pid, &status, 0);
			break;
		}
		nanosleep(&ts, NULL);
		waited += 10;
	}
	if (dc->lr != NULL)
		linereader_free(&dc->lr);
	if (dc->from_fd >= 0)
		close(dc->from_fd);
	mm_free(&dc->folder);
	mm_free(&dc->acl_doveadm);
	mm_free(&dc->acl_config);
	mm_free(&dc->acl_user);
	mm_free(&dc->acl_plugins);
	mm_free(&dc);
}

static int dovecot_unsupported(const char *what, enum stream_fail *fail_r,
			       const char **error_r)
{
	return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
			    "dovecot target: %s not supported", what);
}

static int dovecot_namespace_prefix(struct driver_conn *conn, char *prefix,
				    size_t size, enum stream_fail *fail_r,
				    const char **error_r)
{
	(void)conn;
	(void)prefix;
	(void)size;
	(void)fail_r;
	(void)error_r;
	return 0;	/* unsaid */
}

/* "* sep noselect special-use name" into f (name in modified UTF-7,
 * as the imap target gives names); -1 if malformed. */
static int dovecot_list_line(char *line, struct driver_folder *f)
{
	static const struct {
		const char *name;
		unsigned attr;
	} uses[] = {
		{ "\\Sent", DRIVER_FOLDER_SENT }, { "\\Drafts", DRIVER_FOLDER_DRAFTS },
		{ "\\Trash", DRIVER_FOLDER_TRASH }, { "\\Junk", DRIVER_FOLDER_JUNK },
		{ "\\Archive", DRIVER_FOLDER_ARCHIVE },
	};
	char *field[4], *p = line + 2;
	const char *error;
	size_t i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < 4; i++) {
		field[i] = p;
		p = i < 3 ? strchr(p, '\t') : NULL;
		if (i < 3 && p == NULL)
			return -1;
		if (p != NULL)
			*p++ = '\0';
	}
	if (strlen(field[0]) != 1 || field[3][0] == '\0')
		return -1;
	f->separator = field[0][0] == '-' ? '\0' : field[0][0];
	if (strcmp(field[1], "\\Noselect") == 0)
		f->attrs |= DRIVER_FOLDER_NOSELECT;
	for (i = 0; i < sizeof(uses) / sizeof(uses[0]); i++)
		if (strcmp(field[2], uses[i].name) == 0)
			f->attrs |= uses[i].attr;
	if (utf8_to_mutf7(field[3], &f->name, &error) < 0)
		return -1;
	return 0;
}

/* LIST: NEW's folders with separator and configured special-use. */
static int dovecot_list_folders(struct driver_conn *conn,
				struct driver_folder **folders_r, size_t *count_r,
				enum stream_fail *fail_r, const char **error_r)
{
	struct dovecot_conn *dc = dovecot_conn(conn);
	struct driver_folder *folders = NULL;
	size_t count = 0, alloc = 0;
	const char *line;
	char *copy;
	int ret;

	*folders_r = NULL;
	*count_r = 0;
	if (dc->broken)
		return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r,
				    "doveadm mailmigrate-import: connection broken");
	if (dovecot_write(dc, "LIST\n", 5, fail_r, error_r) < 0)
		return -1;
	for (;;) {
		if (dovecot_read(dc, &line, fail_r, error_r) < 0) {
			driver_folders_free(&folders, count);
			return -1;
		}
		if (strncmp(line, "*\t", 2) != 0)
			break;
		if (count == alloc) {
			alloc = alloc == 0 ? 16 : alloc * 2;
			folders = mm_reallocarray(folders, alloc, sizeof(*folders));
		}
		copy = mm_strdup(line);
		ret = dovecot_list_line(copy, &folders[count]);
		mm_free(&copy);
		if (ret < 0) {
			/* Not a name we can use: NEW's own, skipped. */
			log_warning("doveadm mailmigrate-import: LIST line skipped");
			continue;
		}
		count++;
	}
	if (strcmp(line, "OK") != 0) {
		driver_folders_free(&folders, count);
		return dovecot_refused("LIST", line, 0, fail_r, error_r);
	}
	*folders_r = folders;
	*count_r = count;
	return 0;
}

static const char *dovecot_special_use(unsigned attrs)
{
	if (attrs & DRIVER_FOLDER_SENT)
		return "\\Sent";
	if (attrs & DRIVER_FOLDER_DRAFTS)
		return "\\Drafts";
	if (attrs & DRIVER_FOLDER_TRASH)
		return "\\Trash";
	if (attrs & DRIVER_FOLDER_JUNK)
		return "\\Junk";
	if (attrs & DRIVER_FOLDER_ARCHIVE)
		return "\\Archive";
	return "-";
}

/* Dovecot 2.3 takes special-use from its configuration only: the
 * caller maps OLD's \Sent to NEW's configured folder. */
static int dovecot_create_folder(struct driver_conn *conn, const char *name,
				 unsigned attrs, int subscribe,
				 enum stream_fail *fail_r, const char **error_r)
{
	struct dovecot_conn *dc = dovecot_conn(conn);
	const char *ans;

	if (dovecot_folder(dc, name, dovecot_special_use(attrs), NULL, fail_r,
			   error_r) < 0)
		return -1;
	return subscribe ? dovecot_cmd(dc, "SUBSCRIBE", "SUBSCRIBE\n", &ans, fail_r,
				       error_r) : 0;
}

static int dovecot_select(struct driver_conn *conn, const char *folder,
			  struct driver_folder_status *status_r,
			  enum stream_fail *fail_r, const char **error_r)
{
	return dovecot_folder(dovecot_conn(conn), folder, "-", status_r,
			      fail_r, error_r);
}

static int dovecot_set_identity(struct driver_conn *conn, const char *folder,
				uint32_t uidvalidity, uint32_t min_next_uid,
				struct driver_folder_status *status_r,
				enum stream_fail *fail_r, const char **error_r)
{
	struct dovecot_conn *dc = dovecot_conn(conn);
	unsigned long uv, next;
	const char *ans;
	char cmd[64];

	if (dovecot_folder(dc, folder, "-", status_r, fail_r, error_r) < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "IDENTITY\t%u\t%u\n", uidvalidity, min_next_uid);
	if (dovecot_cmd(dc, "IDENTITY", cmd, &ans, fail_r, error_r) < 0)
		return -1;
	if (sscanf(ans, "%lu\t%lu", &uv, &next) != 2) {
		dc->broken = 1;
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "doveadm mailmigrate-import: malformed IDENTITY answer");
	}
	status_r->uidvalidity = (uint32_t)uv;
	status_r->uidnext = (uint32_t)next;
	return 0;
}

/* A STATE date (UNIXTIME) as an IMAP date-time in UTC, for matching
 * by instant; "" when it is "-" or not a number. */
static void dovecot_state_date(const char *s, char *out, size_t size)
{
	static const char months[][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	unsigned long long t;
	struct tm tm;
	time_t tt;
	char *end;

	out[0] = '\0';
	if (*s < '0' || *s > '9')
		return;
	t = strtoull(s, &end, 10);
	if (*end != '\0' || t > (unsigned long long)INT32_MAX * 4)
		return;
	tt = (time_t)t;
	if (gmtime_r(&tt, &tm) == NULL)
		return;
	snprintf(out, size, "%02d-%s-%04d %02d:%02d:%02d +0000", tm.tm_mday,
		 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
}

/* "* uid size flags date uidl message-id" into msg; keywords and
 * message_id are msg's (freed by the caller with driver_message_clear). */
static int dovecot_state_line(char *line, struct driver_message *msg)
{
	static const struct {
		const char *name;
		unsigned flag;
	} sys[] = {
		{ "\\Seen", DRIVER_FLAG_SEEN }, { "\\Answered", DRIVER_FLAG_ANSWERED },
		{ "\\Flagged", DRIVER_FLAG_FLAGGED }, { "\\Deleted", DRIVER_FLAG_DELETED },
		{ "\\Draft", DRIVER_FLAG_DRAFT },
	};
	unsigned long uid;
	unsigned long long size;
	char *field[4], *atom, *save, *p;
	size_t i;
	int n = 0;

	memset(msg, 0, sizeof(*msg));
	if (sscanf(line, "*\t%lu\t%llu\t%n", &uid, &size, &n) != 2 || n == 0)
		return -1;
	msg->uid = (uint32_t)uid;
	msg->size = size;
	p = line + n;
	for (i = 0; i < 4; i++) {
		field[i] = p;
		p = strchr(p, '\t');
		if ((p == NULL) != (i == 3))
			return -1;
		if (p != NULL)
			*p++ = '\0';
	}
	dovecot_state_date(field[1], msg->internaldate, sizeof(msg->internaldate));
	if (strcmp(field[2], "-") != 0 && strlen(field[2]) < sizeof(msg->uidl))
		snprintf(msg->uidl, sizeof(msg->uidl), "%s", field[2]);
	if (strcmp(field[3], "-") != 0)
		msg->message_id = mm_strdup(field[3]);
	if (strcmp(field[0], "-") == 0)
		return 0;
	for (atom = strtok_r(field[0], " ", &save); atom != NULL;
	     atom = strtok_r(NULL, " ", &save)) {
		for (i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
			if (strcmp(atom, sys[i].name) == 0)
				msg->flags |= sys[i].flag;
		if (atom[0] == '\\' || msg->keywords_count == DRIVER_MAX_KEYWORDS)
			continue;
		msg->keywords = mm_reallocarray(msg->keywords,
						msg->keywords_count + 1,
						sizeof(*msg->keywords));
		msg->keywords[msg->keywords_count++] = mm_strdup(atom);
	}
	return 0;
}

/* STATE, page by page: the plugin lists at most DOVECOT_STATE_PAGE. */
static int dovecot_list_messages(struct driver_conn *conn, uint32_t first_uid,
				 unsigned want,
				 int (*fn)(const struct driver_message *msg, void *ctx),
				 void *ctx, enum stream_fail *fail_r,
				 const char **error_r)
{
	struct dovecot_conn *dc = dovecot_conn(conn);
	struct driver_message msg;
	const char *line;
	char cmd[64], *copy;
	unsigned long n;
	uint32_t next = first_uid;
	int stop = 0;

	if (dc->broken)
		return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r,
				    "doveadm mailmigrate-import: connection broken");
	do {
		/* Message-IDs only for matching: reading the header costs
		 * doveadm a read of each message. */
		snprintf(cmd, sizeof(cmd), "STATE\t%u\t%u\t%s\n", next,
			 DOVECOT_STATE_PAGE, (want & DRIVER_WANT_MESSAGE_ID) != 0 ?
			 "message-id" : "-");
		if (dovecot_write(dc, cmd, strlen(cmd), fail_r, error_r) < 0)
			return -1;
		n = 0;
		for (;;) {
			if (dovecot_read(dc, &line, fail_r, error_r) < 0)
				return -1;
			if (strncmp(line, "*\t", 2) != 0)
				break;
			copy = mm_strdup(line);
			if (dovecot_state_line(copy, &msg) < 0) {
				mm_free(&copy);
				dc->broken = 1;
				return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
						    "doveadm mailmigrate-import: malformed STATE line");
			}
			mm_free(&copy);
			n++;
			next = msg.uid + 1;
			/* Read the page to its end even when fn stops. */
			if (!stop && fn(&msg, ctx) != 0)
				stop = 1;
			driver_message_clear(&msg);
		}
		if (strncmp(line, "OK\t", 3) != 0)
			return dovecot_refused("STATE", line, 0, fail_r, error_r);
	} while (!stop && n == DOVECOT_STATE_PAGE && next != 0);
	return 0;
}

static int dovecot_find_header(struct driver_conn *conn, const char *name,
			       const char *value, uint32_t *uid_r,
			       enum stream_fail *fail_r, const char **error_r)
{
	(void)conn;
	(void)name;
	(void)value;
	*uid_r = 0;
	return dovecot_unsupported("finding a header (POP3 UIDLs are kept as "
				   "UIDLs)", fail_r, error_r);
}

static void dovecot_flags(const struct driver_message *msg, char *out, size_t size);

/* FLAGS: uid's flags and keywords made OLD's, in the selected folder. */
static int dovecot_set_flags(struct driver_conn *conn, uint32_t uid,
			     const struct driver_message *msg,
			     enum stream_fail *fail_r, const char **error_r)
{
	struct dovecot_conn *dc = dovecot_conn(conn);
	char flags[DRIVER_MAX_KEYWORDS * (DRIVER_MAX_KEYWORD + 1) + 64];
	const char *ans;
	char *cmd;
	int ret;

	dovecot_flags(msg, flags, sizeof(flags));
	cmd = mm_asprintf("FLAGS\t%u\t%s\n", uid, flags);
	ret = dovecot_cmd(dc, "FLAGS", cmd, &ans, fail_r, error_r);
	mm_free(&cmd);
	return ret;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static long long dovecot_days(long long y, unsigned m, unsigned d)
{
	long long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

/* "17-Jul-1996 02:44:25 -0700" as "UNIXTIME -0700"; "-" if none or
 * not a date (NEW then uses the time of the copy). No TZ involved. */
static void dovecot_date(const char *imap, char *out, size_t size)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char mon[4], sign;
	unsigned d, y, h, mi, s, zone;
	const char *p;
	long long t;
	int n = 0;

	snprintf(out, size, "-");
	if (sscanf(imap, " %2u-%3s-%4u %2u:%2u:%2u %c%4u%n", &d, mon, &y, &h,
		   &mi, &s, &sign, &zone, &n) != 8 || imap[n] != '\0' ||
	    (sign != '+' && sign != '-') || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || s > 60 || zone % 100 > 59 || zone / 100 > 23 || y < 1970)
		return;
	p = strstr(months, mon);
	if (p == NULL || strlen(mon) != 3 || (p - months) % 3 != 0)
		return;
	t = dovecot_days(y, (unsigned)((p - months) / 3 + 1), d) * 86400 +
		h * 3600 + mi * 60 + s;
	t -= (sign == '-' ? -1 : 1) * (long long)((zone / 100) * 3600 + (zone % 100) * 60);
	if (t < 0)
		return;
	snprintf(out, size, "%lld %c%04u", t, sign, zone);
}

static void dovecot_flags(const struct driver_message *msg, char *out, size_t size)
{
	static const struct {
		unsigned flag;
		const char *name;
	} sys[] = {
		{ DRIVER_FLAG_SEEN, "\\Seen" }, { DRIVER_FLAG_ANSWERED, "\\Answered" },
		{ DRIVER_FLAG_FLAGGED, "\\Flagged" }, { DRIVER_FLAG_DELETED, "\\Deleted" },
		{ DRIVER_FLAG_DRAFT, "\\Draft" },
	};
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
		if (msg->flags & sys[i].flag)
			len += (size_t)snprintf(out + len, size - len, "%s%s",
						len > 0 ? " " : "", sys[i].name);
	for (i = 0; i < msg->keywords_count && i < DRIVER_MAX_KEYWORDS; i++) {
		/* The keyword parser bounds each at DRIVER_MAX_KEYWORD and
		 * has no space in it; the plugin checks the rest. */
		if (len + strlen(msg->keywords[i]) + 2 >= size)
			break;
		len += (size_t)snprintf(out + len, size - len, "%s%s",
					len > 0 ? " " : "", msg->keywords[i]);
	}
	if (len == 0)
		snprintf(out, size, "-");
}

static int dovecot_append_begin(struct driver_conn *conn, const char *folder,
				enum stream_fail *fail_r, const char **error_r)
{
	struct dovecot_conn *dc = dovecot_conn(conn);

	if (dc->folder != NULL && strcmp(dc->folder, folder) == 0 && !dc->broken)
		return 0;
	return dovecot_folder(dc, folder, "-", NULL, fail_r, error_r);
}

static int dovecot_append_add_keep(struct driver_conn *conn,
				   const struct driver_message *msg,
				   uint32_t want_uid, const char *pop3_uidl,
				   struct driver_body *body,
				   enum stream_fail *fail_r, const char **error_r)
{
	struct dovecot_conn *dc = dovecot_conn(conn);
	char flags[DRIVER_MAX_KEYWORDS * (DRIVER_MAX_KEYWORD + 1) + 64];
	char date[48], buf[65536], *cmd;
	uint64_t left;
	size_t got;
	int ret;

	if (dc->broken)
		return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r,
				    "doveadm mailmigrate-import: connection broken");
	if (body->size > dc->max_literal)
		return stream_failf(fail_r, STREAM_FAIL_MESSAGE, error_r,
				    "message of %llu bytes over NEW's limit of %llu",
				    (unsigned long long)body->size,
				    (unsigned long long)dc->max_literal);
	if (pop3_uidl != NULL && (pop3_uidl[0] == '\0' || strlen(pop3_uidl) > 70 ||
				  strpbrk(pop3_uidl, " \t\r\n") != NULL))
		pop3_uidl = NULL;	/* RFC 1939 says 1..70 printable */
	dovecot_flags(msg, flags, sizeof(flags));
	dovecot_date(msg->internaldate, date, sizeof(date));
	cmd = mm_asprintf("APPEND\t%u\t%s\t%s\t%s\t%llu\n", want_uid, flags, date,
			  pop3_uidl != NULL ? pop3_uidl : "-",
			  (unsigned long long)body->size);
	ret = dovecot_write(dc, cmd, strlen(cmd), fail_r, error_r);
	mm_free(&cmd);
	if (ret < 0)
		return -1;
	/* The literal in bounded chunks; once begun it must be whole, or
	 * the stream is out of step. */
	for (left = body->size; left > 0; left -= got) {
		if (body->read(body, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf),
			       &got, fail_r, error_r) < 0 || got == 0) {
			if (got == 0 && left > 0)
				(void)stream_failf(fail_r, STREAM_FAIL_TEMP, error_r,
						   "message body ended early");
			dc->broken = 1;
			return -1;
		}
		if (dovecot_write(dc, buf, got, fail_r, error_r) < 0)
			return -1;
	}
	/* Its answer is read with the batch's end (DESCRIPTION). */
	if (++dc->unanswered >= DOVECOT_UNANSWERED_MAX)
		return dovecot_drain(dc, fail_r, error_r);
	return 0;
}

/* Generic appends (the imap target's contract): NEW chooses the UIDs. */
static int dovecot_append_add(struct driver_conn *conn,
			      const struct driver_message *msg,
			      struct driver_body *body, enum stream_fail *fail_r,
			      const char **error_r)
{
	return dovecot_append_add_keep(conn, msg, 0, NULL, body, fail_r, error_r);
}

/* COMMIT sent: doveadm commits the batch now; or, when it refused one
 * of the batch's APPENDs, ABORT (append_result then fails as that
 * APPEND did). */
static int dovecot_append_commit(struct driver_conn *conn, enum stream_fail *fail_r,
				 const char **error_r)
{
	struct dovecot_conn *dc = dovecot_conn(conn);

	if (dc->broken)
		return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r,
				    "doveadm mailmigrate-import: connection broken");
	if (dovecot_drain(dc, fail_r, error_r) < 0)
		return -1;
	if (dc->refused_fail != STREAM_FAIL_NONE) {
		dc->aborting = 1;
		return dovecot_write(dc, "ABORT\n", 6, fail_r, error_r);
	}
	return dovecot_write(dc, "COMMIT\n", 7, fail_r, error_r);
}

/* ABORT's answer, then the refusal that made the batch go. */
static int dovecot_append_aborted(struct dovecot_conn *dc, enum stream_fail *fail_r,
				  const char **error_r)
{
	enum stream_fail fail = dc->refused_fail;
	const char *line;

	dc->aborting = 0;
	dc->refused_fail = STREAM_FAIL_NONE;
	if (dovecot_read(dc, &line, fail_r, error_r) < 0)
		return -1;
	if (strcmp(line, "OK") != 0)
		return dovecot_refused("ABORT", line, 0, fail_r, error_r);
	return stream_failf(fail_r, fail, error_r, "%s (the batch was not committed)",
			    dc->refused);
}

/* COMMIT's answer: each message's UID, then OK. */
static int dovecot_append_result(struct driver_conn *conn, uint32_t *uids_r,
				 size_t count, enum stream_fail *fail_r,
				 const char **error_r)
{
	struct dovecot_conn *dc = dovecot_conn(conn);
	const char *line;
	unsigned long want, got;
	size_t i = 0;

	memset(uids_r, 0, count * sizeof(*uids_r));
	if (dc->broken)
		return stream_failf(fail_r, STREAM_FAIL_TEMP, error_r,
				    "doveadm mailmigrate-import: connection broken");
	if (dc->aborting)
		return dovecot_append_aborted(dc, fail_r, error_r);
	for (;;) {
		if (dovecot_read(dc, &line, fail_r, error_r) < 0)
			return -1;
		if (strncmp(line, "*\t", 2) != 0)
			break;
		if (sscanf(line, "*\t%lu\t%lu", &want, &got) != 2) {
			dc->broken = 1;
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					    "doveadm mailmigrate-import: malformed COMMIT line");
		}
		if (i < count)
			uids_r[i] = (uint32_t)got;
		i++;
	}
	if (strncmp(line, "OK\t", 3) != 0)
		return dovecot_refused("COMMIT", line, 0, fail_r, error_r);
	if (i != count)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "COMMIT named %zu messages, %zu were sent", i, count);
	return 0;
}

static int dovecot_append(struct driver_conn *conn, const char *folder,
			  const struct driver_message *msg, struct driver_body *body,
			  uint32_t *new_uid_r, enum stream_fail *fail_r,
			  const char **error_r)
{
	*new_uid_r = 0;
	if (dovecot_append_begin(conn, folder, fail_r, error_r) < 0 ||
	    dovecot_append_add(conn, msg, body, fail_r, error_r) < 0)
		return -1;
	return driver_append_end(&target_driver_dovecot, conn, new_uid_r, 1, fail_r,
				 error_r);
}

static int dovecot_move_all(struct driver_conn *conn, const char *from,
			    const char *to, int delete_from, uint32_t *moved_r,
			    enum stream_fail *fail_r, const char **error_r)
{
	struct dovecot_conn *dc = dovecot_conn(conn);
	char *f = NULL, *t = NULL, *cmd;
	const char *ans;
	unsigned long n;
	int ret;

	*moved_r = 0;
	if (dovecot_folder_name(from, &f, fail_r, error_r) < 0)
		return -1;
	if (dovecot_folder_name(to, &t, fail_r, error_r) < 0) {
		mm_free(&f);
		return -1;
	}
	cmd = mm_asprintf("MOVEALL\t%s\t%s\t%d\n", f, t, delete_from ? 1 : 0);
	mm_free(&f);
	mm_free(&t);
	/* The plugin closes the selected folder. */
	mm_free(&dc->folder);
	ret = dovecot_cmd(dc, "MOVEALL", cmd, &ans, fail_r, error_r);
	mm_free(&cmd);
	if (ret < 0)
		return -1;
	if (sscanf(ans, "%lu", &n) != 1) {
		dc->broken = 1;
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "doveadm mailmigrate-import: malformed MOVEALL answer");
	}
	*moved_r = (uint32_t)n;
	return 0;
}

static int dovecot_can_batch(struct driver_conn *conn)
{
	return !dovecot_conn(conn)->broken;
}

static uint64_t dovecot_append_limit(struct driver_conn *conn)
{
	return dovecot_conn(conn)->max_literal;
}

/* doveadm acl's -o: the user's mail_plugins (PLUGINS) and acl, asked
 * once. A plugin without PLUGINS leaves doveadm's own. */
static int dovecot_acl_plugins(struct dovecot_conn *dc, enum stream_fail *fail_r,
			       const char **error_r)
{
	const char *line;

	if (dc->plugins_asked)
		return 0;
	if (dovecot_cmd(dc, "PLUGINS", "PLUGINS\n", &line, fail_r, error_r) < 0) {
		if (dc->broken)
			return -1;
	} else {
		int has_acl = 0;

		for (const char *w = line; *w != '\0'; w += strcspn(w, " ")) {
			w += strspn(w, " ");
			has_acl |= strncmp(w, "acl", 3) == 0 &&
				(w[3] == ' ' || w[3] == '\0');
		}
		dc->acl_plugins = mm_asprintf("mail_plugins=%s%s%s", line,
					      line[0] != '\0' && !has_acl ? " " : "",
					      has_acl ? "" : "acl");
		dc->acl.plugins = dc->acl_plugins;
	}
	dc->plugins_asked = 1;
	return 0;
}

static int dovecot_get_acl(struct driver_conn *conn, const char *folder,
			   struct driver_acl *acl_r, enum stream_fail *fail_r,
			   const char **error_r)
{
	struct dovecot_conn *dc = dovecot_conn(conn);

	memset(acl_r, 0, sizeof(*acl_r));
	if (dovecot_acl_plugins(dc, fail_r, error_r) < 0)
		return -1;
	return dovecot_acl_get(&dc->acl, folder, acl_r, fail_r, error_r);
}

static int dovecot_set_acl(struct driver_conn *conn, const char *folder,
			   const char *identifier, const char *rights,
			   enum stream_fail *fail_r, const char **error_r)
{
	struct dovecot_conn *dc = dovecot_conn(conn);

	if (dovecot_acl_plugins(dc, fail_r, error_r) < 0)
		return -1;
	return dovecot_acl_set(&dc->acl, folder, identifier, rights, fail_r, error_r);
}

const struct target_driver target_driver_dovecot = {
	.name = "dovecot",
	.open = dovecot_open,
	.namespace_prefix = dovecot_namespace_prefix,
	.list_folders = dovecot_list_folders,
	.create_folder = dovecot_create_folder,
	.select = dovecot_select,
	.list_messages = dovecot_list_messages,
	.find_header = dovecot_find_header,
	.append = dovecot_append,
	.append_limit = dovecot_append_limit,
	.can_batch = dovecot_can_batch,
	.append_begin = dovecot_append_begin,
	.append_add = dovecot_append_add,
	.append_commit = dovecot_append_commit,
	.append_result = dovecot_append_result,
	.set_flags = dovecot_set_flags,
	.close = dovecot_close,
	.set_identity = dovecot_set_identity,
	.append_add_keep = dovecot_append_add_keep,
	.move_all = dovecot_move_all,
	.get_acl = dovecot_get_acl,
	.set_acl = dovecot_set_acl,
};
