/*
 * NAME
 *	cli_preflight_host 3
 * SUMMARY
 *	mailmigrate preflight: this host's Postfix, Dovecot and relay
 * DESCRIPTION
 *	`postconf -c postfix_config_dir` shows the socketmap lines of
 *	contrib/postfix/main.cf.mailmigrate for relay_listen, `doveconf -n`
 *	(-c target_doveadm_config) a passdb and a userdb with driver =
 *	mailmigrate, and the relay answers a lookup of "*" (a key Postfix
 *	asks for, which touches no account). postconf and doveconf are run
 *	without a shell, with a deadline and their output bounded; one that
 *	is not installed is a warning.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli_preflight.h"
#include "driver.h"
#include "mm_alloc.h"
#include "netstring.h"
#include "spawn.h"
#include "stream.h"

#define PREFLIGHT_CMD_MAX_OUTPUT (256 * 1024)
#define PREFLIGHT_CMD_TIMEOUT_MS 10000
#define PREFLIGHT_RELAY_TIMEOUT_MS 5000

/* Run argv (no shell, PATH searched), its stdout and stderr into out
 * (bounded, NUL-terminated). 0 with *exit_r (its exit status, -1 when
 * killed by a signal), or -1 with errno (ENOENT: not installed;
 * ETIMEDOUT; E2BIG: too much output). */
static int preflight_cmd(char *const argv[], char *out, size_t size, int *exit_r)
{
	struct spawn_opts o = { .argv = argv, .envp = environ, .path_search = 1,
				.out = SPAWN_OUT_CAPTURE, .err = SPAWN_OUT_MERGE,
				.out_max = size - 1, .overflow = SPAWN_OVERFLOW_KILL,
				.timeout_ms = PREFLIGHT_CMD_TIMEOUT_MS };
	struct spawn_result r;
	const char *step;
	int err = 0;

	*exit_r = -1;
	if (spawn_run(&o, &r, &step) < 0)
		return -1;
	memcpy(out, r.out, r.out_len + 1);
	switch (r.end) {
	case SPAWN_END_EXITED:
		*exit_r = r.code;
		break;
	case SPAWN_END_SIGNALED:
		*exit_r = -1;
		break;
	case SPAWN_END_TIMEOUT:
		err = ETIMEDOUT;
		break;
	case SPAWN_END_OVERFLOW:
		err = E2BIG;
		break;
	case SPAWN_END_NOT_RUN:
	case SPAWN_END_NO_STATUS:
		err = r.code;
		break;
	}
	spawn_result_clear(&r);
	if (err != 0) {
		errno = err;
		return -1;
	}
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
	int code;

	if (preflight_cmd(argv, out, size, &code) < 0) {
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
	if (code != 0) {
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
