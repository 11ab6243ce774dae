/*
 * NAME
 *	token_cmd 3
 * SUMMARY
 *	run source_oauth2_token_command and read one bearer token
 * DESCRIPTION
 *	Run through spawn(3): the account in, the token out (bounded: more
 *	kills the command), the command's complaints out (the first line
 *	kept, the rest dropped), in a process group of its own killed
 *	whole at the deadline. spawn(3) carries exec's errno back, so
 *	"cannot run it" (a configuration error) is told apart from "it
 *	ran and failed" (retry later) without guessing from exit status
 *	127.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mm_alloc.h"
#include "spawn.h"
#include "token_cmd.h"

#define TOKEN_CMD_KEY "source_oauth2_token_command"
#define TOKEN_CMD_TIMEOUT_MS 30000
/* The token, a CRLF, and one byte to see that there is more. */
#define TOKEN_CMD_BUF (TOKEN_CMD_MAX + 3)

/* The first line the command wrote to its standard error.  */
#define TOKEN_CMD_ERR_LINE 200

/* ": first line of its standard error" for a message, or "". */
static const char *token_cmd_err_text(const struct spawn_result *r, char *buf,
				      size_t size)
{
	char shown[TOKEN_CMD_ERR_LINE * 4];
	size_t len = strcspn(r->err, "\n");

	while (len > 0 && r->err[len - 1] == '\r')
		len--;
	if (len == 0)
		return "";
	log_printable(shown, sizeof(shown), r->err, len);
	snprintf(buf, size, ": %s", shown);
	return buf;
}

/* Is every byte of s[0..len) printable ASCII other than a space? The
 * offset of the first that is not in *bad_r. */
static int token_cmd_valid(const char *s, size_t len, size_t *bad_r)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= 0x20 || ch >= 0x7f) {
			*bad_r = i;
			return 0;
		}
	}
	return 1;
}

int token_cmd_run(const char *command, const char *account,
		  unsigned timeout_ms, char **token_r,
		  enum stream_fail *fail_r, const char **error_r)
{
	char *argv[] = { (char *)command, NULL };
	struct spawn_opts o = { .argv = argv, .envp = environ,
				.out = SPAWN_OUT_CAPTURE, .err = SPAWN_OUT_CAPTURE,
				.out_max = TOKEN_CMD_BUF - 1,
				.err_max = TOKEN_CMD_ERR_LINE - 1,
				.overflow = SPAWN_OVERFLOW_KILL, .own_group = 1 };
	struct spawn_result r;
	char *input, errtext[TOKEN_CMD_ERR_LINE * 4 + 4];
	const char *step, *buf;
	size_t len, bad;
	int ret = -1;

	*token_r = NULL;
	o.timeout_ms = timeout_ms != 0 ? timeout_ms : TOKEN_CMD_TIMEOUT_MS;
	input = mm_asprintf("%s\n", account);
	o.input = input;
	o.input_len = strlen(input);
	ret = spawn_run(&o, &r, &step);
	mm_free(&input);
	if (ret < 0)
		return stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
				    TOKEN_CMD_KEY " %s for %s: %s: %s",
				    command, account, step, strerror(errno));
	ret = -1;
	buf = r.out;
	len = r.out_len;
	/* One trailing newline is the end of the line, not the token. */
	if (len > 0 && buf[len - 1] == '\n') {
		len--;
		if (len > 0 && buf[len - 1] == '\r')
			len--;
	}
	if (r.end == SPAWN_END_NOT_RUN)
		stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
			     TOKEN_CMD_KEY " %s for %s: cannot run it: %s",
			     command, account, strerror(r.code));
	else if (r.end == SPAWN_END_OVERFLOW || len > TOKEN_CMD_MAX)
		stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
			     TOKEN_CMD_KEY " %s for %s: printed more than %d "
			     "bytes, too long for a token", command, account,
			     TOKEN_CMD_MAX);
	else if (r.end == SPAWN_END_TIMEOUT)
		stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
			     TOKEN_CMD_KEY " %s for %s: no token within %u ms: "
			     "killed%s", command, account, o.timeout_ms,
			     token_cmd_err_text(&r, errtext, sizeof(errtext)));
	else if (r.end == SPAWN_END_NO_STATUS)
		/* Its exit status is the verdict: none (SIGCHLD ignored,
		 * someone else reaped it) is no success. */
		stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
			     TOKEN_CMD_KEY " %s for %s: no exit status: %s",
			     command, account, strerror(r.code));
	else if (r.end == SPAWN_END_SIGNALED)
		stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
			     TOKEN_CMD_KEY " %s for %s: killed by signal %d%s",
			     command, account, r.code,
			     token_cmd_err_text(&r, errtext, sizeof(errtext)));
	else if (r.code != 0)
		stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
			     TOKEN_CMD_KEY " %s for %s: exited with status %d%s",
			     command, account, r.code,
			     token_cmd_err_text(&r, errtext, sizeof(errtext)));
	else if (len == 0)
		stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
			     TOKEN_CMD_KEY " %s for %s: printed no token%s",
			     command, account,
			     token_cmd_err_text(&r, errtext, sizeof(errtext)));
	else if (!token_cmd_valid(buf, len, &bad))
		stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
			     TOKEN_CMD_KEY " %s for %s: printed no token: byte "
			     "%zu of its output is 0x%02x, not printable ASCII "
			     "(a token is one line without spaces)", command,
			     account, bad + 1, (unsigned char)buf[bad]);
	else {
		*token_r = mm_strndup(buf, len);
		ret = 0;
	}
	mm_wipe(errtext, sizeof(errtext));
	spawn_result_clear(&r);
	return ret;
}
