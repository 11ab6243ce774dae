/*
 * NAME
 *	cli_preflight_new 3
 * SUMMARY
 *	mailmigrate preflight: the checks on NEW and on this host
 * DESCRIPTION
 *	NEW: the master login the puller makes (target_host as
 *	target_master_user, for the first USER, else a notice_account),
 *	NEW's APPENDLIMIT against the largest message the USERs hold on
 *	OLD, and the free space (and inodes) of the file system under
 *	user_home against the size of their mail, with a margin
 *	(preflight_space_required()).
 *
 *	The host: `postconf -c postfix_config_dir` shows the socketmap
 *	lines of contrib/postfix/main.cf.mailmigrate for relay_listen,
 *	`doveconf -n` (-c target_doveadm_config) a passdb and a userdb
 *	with driver = mailmigrate, and the relay answers a lookup of "*"
 *	(a key Postfix asks for, which touches no account). postconf and
 *	doveconf are run without a shell, their output bounded; one that is
 *	not installed is a warning.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_preflight.h"
#include "crypto.h"
#include "driver.h"
#include "mm_alloc.h"
#include "netstring.h"
#include "stream.h"

#define PREFLIGHT_CMD_MAX_OUTPUT (256 * 1024)
#define PREFLIGHT_CMD_TIMEOUT_MS 10000
#define PREFLIGHT_RELAY_TIMEOUT_MS 5000

static const struct preflight_check preflight_appendlimit_check = {
	"new_appendlimit", PREFLIGHT_ONCE, NULL, 1
};

/* The account to log in to NEW as: the first good USER, else the first
 * notice_account; NULL when there is none. */
static const char *preflight_new_account(const struct preflight *pf)
{
	const struct cfg *cfg = pf->ctx->cfg;

	for (size_t i = 0; i < pf->users_count; i++)
		if (pf->users[i].error == NULL)
			return pf->users[i].account;
	for (size_t d = 0; d < cfg->domains_count; d++)
		if (cfg->domains[d].notice_account != NULL)
			return cfg->domains[d].notice_account;
	return NULL;
}

/* The largest message the USERs hold on OLD; 0 when none was seen. */
static uint64_t preflight_largest(const struct preflight *pf, int *any_r)
{
	uint64_t largest = 0;

	*any_r = 0;
	for (size_t i = 0; i < pf->users_count; i++) {
		if (!pf->users[i].measured)
			continue;
		*any_r = 1;
		if (pf->users[i].largest > largest)
			largest = pf->users[i].largest;
	}
	return largest;
}

/* NEW's APPENDLIMIT (0: none listed) against the largest message. */
static void preflight_appendlimit(struct preflight *pf, uint64_t limit)
{
	const struct preflight_check *check = &preflight_appendlimit_check;
	const struct cfg *cfg = pf->ctx->cfg;
	char a[32], b[32];
	int any;
	uint64_t largest = preflight_largest(pf, &any);

	preflight_value_u64(pf, "appendlimit", limit);
	if (any)
		preflight_value_u64(pf, "largest", largest);
	else
		preflight_value_str(pf, "largest", NULL);
	if (any && limit != 0 && largest > limit)
		preflight_report(pf, check, NULL, PREFLIGHT_FAILED,
				 "raise NEW's limit (Dovecot: quota_max_mail_size), or "
				 "expect those messages as failed items",
				 "the largest message on OLD (%s) is over NEW's "
				 "APPENDLIMIT (%s): NEW will refuse it",
				 cli_size_human(largest, a, sizeof(a)),
				 cli_size_human(limit, b, sizeof(b)));
	else if (any && largest > cfg->max_message_size)
		preflight_report(pf, check, NULL, PREFLIGHT_WARNING,
				 "raise max_message_size to copy it",
				 "the largest message on OLD (%s) is over "
				 "max_message_size (%s): it will be a failed item",
				 cli_size_human(largest, a, sizeof(a)),
				 cli_size_human(cfg->max_message_size, b, sizeof(b)));
	else if (limit == 0)
		preflight_report(pf, check, NULL, PREFLIGHT_OK, NULL,
				 "NEW lists no APPENDLIMIT%s%s", any ?
				 "; the largest message on OLD is " : "",
				 any ? cli_size_human(largest, a, sizeof(a)) : "");
	else if (any)
		preflight_report(pf, check, NULL, PREFLIGHT_OK, NULL,
				 "NEW's APPENDLIMIT %s takes the largest message on "
				 "OLD (%s)", cli_size_human(limit, b, sizeof(b)),
				 cli_size_human(largest, a, sizeof(a)));
	else
		preflight_report(pf, check, NULL, PREFLIGHT_OK, NULL,
				 "NEW's APPENDLIMIT is %s (give USERs to compare "
				 "with their largest message)",
				 cli_size_human(limit, b, sizeof(b)));
}

void preflight_new_login(struct preflight *pf, const struct preflight_check *check,
			 const struct cfg_domain *dom, struct preflight_user *user)
{
	const struct cfg *cfg = pf->ctx->cfg;
	struct driver_settings set = { 0 };
	struct driver_login login = { 0 };
	struct driver_conn *conn = NULL;
	enum stream_fail fail;
	const char *error, *account = preflight_new_account(pf);
	char *password = NULL;

	(void)dom;
	(void)user;
	if (crypto_read_secret(cfg->target_master_password_file, &password, &error) < 0) {
		preflight_report(pf, check, NULL, PREFLIGHT_FAILED,
				 "write NEW's master password there (mode 0600)",
				 "target_master_password_file: %s", error);
		return;
	}
	if (account == NULL) {
		mm_free_secret(&password);
		preflight_report(pf, check, NULL, PREFLIGHT_WARNING,
				 "give a USER (mailmigrate preflight USER)",
				 "NEW's master login not tried: no USER and no "
				 "notice_account to log in as");
		return;
	}
	set.host = cfg->target_host;
	set.tls = cfg->target_tls;
	set.tls_opts.verify = 1;
	set.connect_timeout_ms = cfg->connect_timeout * 1000;
	set.timeout_ms = cfg->io_timeout * 1000;
	login.user = account;
	login.admin_user = cfg->target_master_user;
	login.admin_star_form = 1;
	login.password = password;
	preflight_value_str(pf, "host", cfg->target_host);
	preflight_value_str(pf, "login", account);
	if (target_driver_imap.open(&set, &login, &conn, &fail, &error) < 0) {
		mm_free_secret(&password);
		preflight_report(pf, check, NULL, PREFLIGHT_FAILED,
				 fail == STREAM_FAIL_AUTH ? "check target_master_user, "
				 "target_master_password_file and NEW's master passdb "
				 "(and that the account exists on NEW)" :
				 "start NEW's IMAP service, or fix target_host and "
				 "target_tls",
				 "NEW %s: master login as %s*%s: %s", cfg->target_host,
				 account, cfg->target_master_user, error);
		return;
	}
	mm_free_secret(&password);
	preflight_report(pf, check, NULL, PREFLIGHT_OK, NULL,
			 "NEW %s: master login as %s*%s works", cfg->target_host,
			 account, cfg->target_master_user);
	preflight_appendlimit(pf, target_driver_imap.append_limit(conn));
	target_driver_imap.close(&conn);
}

/* The nearest existing directory at or above path, in place. */
static void preflight_existing_dir(char *path)
{
	struct stat st;

	while (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		char *slash = strrchr(path, '/');

		if (slash == NULL || slash == path) {
			snprintf(path, 2, "/");
			return;
		}
		*slash = '\0';
	}
}

void preflight_new_space(struct preflight *pf, const struct preflight_check *check,
			 const struct cfg_domain *dom, struct preflight_user *user)
{
	const struct cfg *cfg = pf->ctx->cfg;
	const char *account = NULL;
	char path[4096], a[32], b[32], c[32];
	struct statvfs vfs;
	uint64_t need = 0, messages = 0, free_bytes;
	enum preflight_status status;
	int any = 0;

	(void)dom;
	(void)user;
	for (size_t i = 0; i < pf->users_count; i++) {
		if (pf->users[i].error == NULL && account == NULL)
			account = pf->users[i].account;
		if (pf->users[i].measured) {
			any = 1;
			need += pf->users[i].bytes;
			messages += pf->users[i].messages;
		}
	}
	/* A user's home, or the template's part before its first %. */
	if (account != NULL) {
		char *home = cfg_expand_user(cfg->user_home, account);

		snprintf(path, sizeof(path), "%s", home);
		mm_free(&home);
	} else {
		snprintf(path, sizeof(path), "%.*s", (int)strcspn(cfg->user_home, "%"),
			 cfg->user_home);
	}
	preflight_existing_dir(path);
	for (size_t n = strlen(path); n > 1 && path[n - 1] == '/'; n--)
		path[n - 1] = '\0';
	if (statvfs(path, &vfs) < 0) {
		preflight_report(pf, check, NULL, PREFLIGHT_FAILED, "fix user_home",
				 "user_home's file system (%s): %s", path, strerror(errno));
		return;
	}
	free_bytes = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	preflight_value_str(pf, "path", path);
	preflight_value_u64(pf, "free_bytes", free_bytes);
	preflight_value_u64(pf, "free_inodes", vfs.f_favail);
	if (!any) {
		preflight_report(pf, check, NULL, PREFLIGHT_OK, NULL,
				 "%s free under %s (user_home); give USERs to compare "
				 "with the size of their mail",
				 cli_size_human(free_bytes, a, sizeof(a)), path);
		return;
	}
	status = preflight_space_status(free_bytes, need);
	preflight_value_u64(pf, "need_bytes", need);
	preflight_value_u64(pf, "required_bytes", preflight_space_required(need));
	if (vfs.f_files != 0 && vfs.f_favail < messages) {
		preflight_report(pf, check, NULL, PREFLIGHT_FAILED,
				 "make room on NEW (inodes) before copying",
				 "%llu inodes free under %s (user_home), and the USERs "
				 "hold %llu messages (a file each)",
				 (unsigned long long)vfs.f_favail, path,
				 (unsigned long long)messages);
		return;
	}
	preflight_report(pf, check, NULL, status, status == PREFLIGHT_OK ? NULL :
			 "make room on NEW (or a larger file system for user_home) "
			 "before copying",
			 "%s free under %s (user_home) for %s of mail on OLD%s; "
			 "with the margin %s", cli_size_human(free_bytes, a, sizeof(a)),
			 path, cli_size_human(need, b, sizeof(b)),
			 status == PREFLIGHT_FAILED ? ": it does not fit" :
			 status == PREFLIGHT_WARNING ? ": it fits, barely" : "",
			 cli_size_human(preflight_space_required(need), c, sizeof(c)));
}

/* Run argv (no shell), its stdout and stderr into out (bounded, NUL-
 * terminated). 0 with *status_r (a waitpid status), or -1 with errno
 * (ENOENT: not installed; ETIMEDOUT; E2BIG: too much output). */
static int preflight_cmd(char *const argv[], char *out, size_t size, int *status_r)
{
	int outp[2], errp[2], err = 0, status = 0;
	size_t used = 0;
	ssize_t n;
	pid_t pid;
	struct timespec start, now;

	if (pipe2(outp, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(errp, O_CLOEXEC) < 0) {
		close(outp[0]);
		close(outp[1]);
		return -1;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		err = errno;
		close(outp[0]);
		close(outp[1]);
		close(errp[0]);
		close(errp[1]);
		errno = err;
		return -1;
	}
	if (pid == 0) {
		int fd = open("/dev/null", O_RDONLY);

		if (fd >= 0)
			dup2(fd, STDIN_FILENO);
		dup2(outp[1], STDOUT_FILENO);
		dup2(outp[1], STDERR_FILENO);
		execvp(argv[0], argv);
		err = errno;
		(void)write(errp[1], &err, sizeof(err));
		_exit(127);
	}
	close(outp[1]);
	close(errp[1]);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p = { outp[0], POLLIN, 0 };
		long spent;

		clock_gettime(CLOCK_MONOTONIC, &now);
		spent = (now.tv_sec - start.tv_sec) * 1000 +
			(now.tv_nsec - start.tv_nsec) / 1000000;
		if (spent >= PREFLIGHT_CMD_TIMEOUT_MS) {
			err = ETIMEDOUT;
			break;
		}
		if (poll(&p, 1, (int)(PREFLIGHT_CMD_TIMEOUT_MS - spent)) < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			break;
		}
		if (used + 1 >= size) {
			err = E2BIG;
			break;
		}
		n = read(outp[0], out + used, size - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	out[used] = '\0';
	if (err != 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	/* exec failed: the child said why. */
	if (err == 0 && read(errp[0], &err, sizeof(err)) != (ssize_t)sizeof(err))
		err = 0;
	close(outp[0]);
	close(errp[0]);
	if (err != 0) {
		errno = err;
		return -1;
	}
	*status_r = status;
	return 0;
}

/* The first line of text that is no "#" comment (doveconf starts its
 * output with one, errors or not), for a message. */
static const char *preflight_first_line(const char *text, char *buf, size_t size)
{
	while (*text == '#' && strchr(text, '\n') != NULL)
		text = strchr(text, '\n') + 1;
	snprintf(buf, size, "%.*s", (int)strcspn(text, "\n"), text);
	return buf;
}

/* Run a tool and report the failures common to postconf and doveconf;
 * 0 when it ran and exited 0 (its output in out). */
static int preflight_tool(struct preflight *pf, const struct preflight_check *check,
			  char *const argv[], const char *what_to_set, char *out, size_t size)
{
	char line[300];
	int status;

	if (preflight_cmd(argv, out, size, &status) < 0) {
		if (errno == ENOENT)
			preflight_report(pf, check, NULL, PREFLIGHT_WARNING,
					 "run preflight on the NEW host, where it is "
					 "installed (or fix PATH)",
					 "%s is not installed here: not checked", argv[0]);
		else
			preflight_report(pf, check, NULL, PREFLIGHT_WARNING, NULL,
					 "%s: %s", argv[0], strerror(errno));
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		preflight_report(pf, check, NULL, PREFLIGHT_WARNING, what_to_set,
				 "%s %s %s failed: %s", argv[0], argv[1], argv[2],
				 preflight_first_line(out, line, sizeof(line)));
		return -1;
	}
	return 0;
}

void preflight_postconf(struct preflight *pf, const struct preflight_check *check,
			const struct cfg_domain *dom, struct preflight_user *user)
{
	static const char *const params[] = {
		"transport_maps", "virtual_mailbox_maps", "virtual_alias_maps"
	};
	static const char *const maps[] = { "transport", "mailbox", "alias" };
	const struct cfg *cfg = pf->ctx->cfg;
	char *argv[] = { "postconf", "-c", cfg->postfix_config_dir, "-h",
			 "transport_maps", "virtual_mailbox_maps",
			 "virtual_alias_maps", NULL };
	char *out = mm_malloc(PREFLIGHT_CMD_MAX_OUTPUT), *line;
	char missing[1024] = "", want[600];
	size_t nmissing = 0;

	(void)dom;
	(void)user;
	preflight_value_str(pf, "config_dir", cfg->postfix_config_dir);
	if (preflight_tool(pf, check, argv, "set postfix_config_dir to NEW's Postfix "
			   "configuration directory", out, PREFLIGHT_CMD_MAX_OUTPUT) < 0) {
		mm_free(&out);
		return;
	}
	line = out;
	for (size_t i = 0; i < 3; i++) {
		size_t len = strcspn(line, "\n");
		char *end = line + len;
		int found = 0;

		snprintf(want, sizeof(want), "socketmap:%s:%s", cfg->relay_listen, maps[i]);
		/* One value: table names separated by commas or spaces. */
		for (char *p = line; p < end;) {
			size_t n = strcspn(p, ", \t\n");

			if (n == strlen(want) && strncmp(p, want, n) == 0)
				found = 1;
			p += n;
			while (p < end && strchr(", \t", *p) != NULL)
				p++;
		}
		if (!found) {
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing),
				 "%s%s = %s", nmissing > 0 ? ", " : "", params[i], want);
			nmissing++;
		}
		line = *end == '\n' ? end + 1 : end;
	}
	mm_free(&out);
	preflight_value_u64(pf, "missing", nmissing);
	if (nmissing == 0)
		preflight_report(pf, check, NULL, PREFLIGHT_OK, NULL,
				 "postconf -c %s: transport_maps, virtual_mailbox_maps "
				 "and virtual_alias_maps ask the relay (socketmap:%s)",
				 cfg->postfix_config_dir, cfg->relay_listen);
	else
		preflight_report(pf, check, NULL, PREFLIGHT_FAILED,
				 "add them as contrib/postfix/main.cf.mailmigrate says "
				 "(postconf -e), then postfix reload",
				 "postconf -c %s lacks: %s", cfg->postfix_config_dir, missing);
}

void preflight_doveconf(struct preflight *pf, const struct preflight_check *check,
			const struct cfg_domain *dom, struct preflight_user *user)
{
	const struct cfg *cfg = pf->ctx->cfg;
	char *argv[] = { "doveconf", "-c", cfg->target_doveadm_config, "-n", NULL };
	char *out = mm_malloc(PREFLIGHT_CMD_MAX_OUTPUT), *line;
	const char *shown = cfg->target_doveadm_config != NULL ?
		cfg->target_doveadm_config : "(doveconf's default)";
	int depth = 0, passdb = 0, userdb = 0, in_passdb = 0, in_userdb = 0;

	(void)dom;
	(void)user;
	/* Without target_doveadm_config: doveconf's own default file. */
	if (cfg->target_doveadm_config == NULL) {
		argv[1] = "-n";
		argv[2] = NULL;
	}
	preflight_value_str(pf, "config", cfg->target_doveadm_config);
	if (preflight_tool(pf, check, argv, "set target_doveadm_config to NEW's "
			   "dovecot.conf", out, PREFLIGHT_CMD_MAX_OUTPUT) < 0) {
		mm_free(&out);
		return;
	}
	/* "passdb {" (or "passdb NAME {") at the top, "driver = mailmigrate"
	 * right inside it. */
	for (line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		char *p = line + strspn(line, " \t");
		size_t len = strlen(p);

		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\r'))
			p[--len] = '\0';
		if (len > 0 && p[len - 1] == '{') {
			if (depth == 0) {
				in_passdb = strncmp(p, "passdb ", 7) == 0;
				in_userdb = strncmp(p, "userdb ", 7) == 0;
			}
			depth++;
		} else if (strcmp(p, "}") == 0) {
			if (depth > 0 && --depth == 0)
				in_passdb = in_userdb = 0;
		} else if (depth == 1 && strcmp(p, "driver = mailmigrate") == 0) {
			passdb |= in_passdb;
			userdb |= in_userdb;
		}
	}
	mm_free(&out);
	preflight_value_u64(pf, "passdb", (uint64_t)passdb);
	preflight_value_u64(pf, "userdb", (uint64_t)userdb);
	if (passdb && userdb)
		preflight_report(pf, check, NULL, PREFLIGHT_OK, NULL,
				 "doveconf %s: passdb and userdb with driver = "
				 "mailmigrate", shown);
	else
		preflight_report(pf, check, NULL, PREFLIGHT_FAILED,
				 "!include contrib/dovecot/auth-mailmigrate.conf.ext "
				 "in NEW's dovecot.conf (contrib/dovecot/README)",
				 "doveconf %s: no %s%s%s with driver = mailmigrate: "
				 "users of backup domains cannot log in on NEW", shown,
				 passdb ? "" : "passdb", !passdb && !userdb ? " and no " : "",
				 userdb ? "" : "userdb");
}

/* Connect to relay_listen: unix:/PATH or inet:HOST:PORT. */
static int preflight_relay_connect(const char *listen_on, struct stream **stream_r,
				   const char **error_r)
{
	enum stream_fail fail;

	if (strncmp(listen_on, "unix:", 5) == 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int fd;

		if (strlen(listen_on + 5) >= sizeof(sun.sun_path)) {
			*error_r = "the socket path is too long";
			return -1;
		}
		memcpy(sun.sun_path, listen_on + 5, strlen(listen_on + 5) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			*error_r = strerror(errno);
			if (fd >= 0)
				close(fd);
			return -1;
		}
		*stream_r = stream_from_fd(fd, PREFLIGHT_RELAY_TIMEOUT_MS);
		return 0;
	}
	if (strncmp(listen_on, "inet:", 5) == 0) {
		char host[256];
		uint16_t port;

		if (driver_split_host(listen_on + 5, host, sizeof(host), &port) < 0 ||
		    port == 0) {
			*error_r = "expected inet:HOST:PORT";
			return -1;
		}
		return stream_connect(host, port, PREFLIGHT_RELAY_TIMEOUT_MS, stream_r,
				      &fail, error_r);
	}
	*error_r = "expected unix:/PATH or inet:HOST:PORT";
	return -1;
}

void preflight_relay(struct preflight *pf, const struct preflight_check *check,
		     const struct cfg_domain *dom, struct preflight_user *user)
{
	static const char query[] = "transport *";
	const struct cfg *cfg = pf->ctx->cfg;
	struct stream *stream = NULL;
	enum stream_fail fail;
	const char *error, *payload;
	char buf[512], reply[256], *req;
	size_t used = 0, got, len, plen, consumed;
	enum netstring_status st = NETSTRING_NEED_MORE;

	(void)dom;
	(void)user;
	preflight_value_str(pf, "listen", cfg->relay_listen);
	if (preflight_relay_connect(cfg->relay_listen, &stream, &error) < 0) {
		preflight_report(pf, check, NULL, PREFLIGHT_FAILED,
				 "start mailmigrate-relay, or fix relay_listen",
				 "relay %s: %s", cfg->relay_listen, error);
		return;
	}
	/* "*": asked by Postfix itself, never an account: nothing counted. */
	req = netstring_encode(query, sizeof(query) - 1, &len);
	if (stream_write(stream, req, len, &fail, &error) < 0 ||
	    stream_flush(stream, &fail, &error) < 0)
		st = NETSTRING_ERROR;
	mm_free(&req);
	while (st == NETSTRING_NEED_MORE && used < sizeof(buf)) {
		if (stream_read(stream, buf + used, sizeof(buf) - used, &got, &fail,
				&error) < 0) {
			st = NETSTRING_ERROR;
			break;
		}
		used += got;
		st = netstring_parse(buf, used, sizeof(buf), &payload, &plen, &consumed,
				     &error);
	}
	stream_close(&stream);
	if (st == NETSTRING_NEED_MORE)
		error = "reply too long";
	if (st != NETSTRING_OK) {
		preflight_report(pf, check, NULL, PREFLIGHT_FAILED,
				 "see the relay's log (mailmigrate-relay(8))",
				 "relay %s: no answer to a lookup: %s", cfg->relay_listen,
				 error);
		return;
	}
	/* Copied out of buf (payload points into it), made printable. */
	snprintf(reply, sizeof(reply), "%.*s", (int)(plen < 200 ? plen : 200), payload);
	cli_printable(reply, buf, sizeof(buf));
	snprintf(reply, sizeof(reply), "%.200s", buf);
	/* "NOTFOUND " has a trailing space. */
	for (size_t n = strlen(reply); n > 0 && reply[n - 1] == ' '; n--)
		reply[n - 1] = '\0';
	preflight_value_str(pf, "reply", reply);
	if (strncmp(reply, "OK", 2) == 0 || strncmp(reply, "NOTFOUND", 8) == 0)
		preflight_report(pf, check, NULL, PREFLIGHT_OK, NULL,
				 "relay %s answers (%s for %s)", cfg->relay_listen,
				 reply, query);
	else
		preflight_report(pf, check, NULL, PREFLIGHT_FAILED,
				 "see the relay's log: TEMP is a store failure, "
				 "Postfix defers mail meanwhile",
				 "relay %s answers \"%s\" to %s", cfg->relay_listen,
				 reply, query);
}
