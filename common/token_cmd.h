/*
 * NAME
 *	token_cmd 3h
 * SUMMARY
 *	run source_oauth2_token_command: an OAuth 2.0 bearer token for
 *	one account
 * DESCRIPTION
 *	The command (an absolute path, run with no arguments, in its own
 *	process group) gets the account and a newline on its standard
 *	input and prints the token on its standard output. The token
 *	never passes through an argument vector, the environment or a
 *	log line; the output buffer is wiped whatever happens.
 *
 *	What counts as a token: at most TOKEN_CMD_MAX bytes once one
 *	trailing newline (LF or CRLF) is taken off, at least one byte,
 *	and only printable ASCII without spaces (RFC 6750 b64token and
 *	JWTs are). More output is an error, never a truncated token.
 * DIAGNOSTICS
 *	Every error names the key (source_oauth2_token_command), the
 *	command and the account, and is classed (stream(3)):
 *	  STREAM_FAIL_FINAL  the command cannot be run (missing, not
 *			     executable, not a program), or its output is
 *			     no token (too long, a space or control byte):
 *			     a configuration error; retrying will not help.
 *	  STREAM_FAIL_WAIT   it ran and failed: a non-zero exit, killed by
 *			     a signal, no answer within the timeout (the
 *			     whole process group is then killed), or no
 *			     output: the token service may be down; retry
 *			     later.
 *	On failure, the first line the command wrote to its standard
 *	error (printable, truncated) is part of the message; its standard
 *	output never is.
 */
#ifndef MM_TOKEN_CMD_H
#define MM_TOKEN_CMD_H

#include "stream.h"

/* The longest token accepted, in bytes. */
#define TOKEN_CMD_MAX 16384

/* Run command for account and read its token.
 * @param command	absolute path of an executable
 * @param account	user@domain, written to its standard input
 * @param timeout_ms	for the whole run (0: 30 s)
 * @param token_r	on success, the token; the caller frees it with
 *			mm_free_secret()
 * @return 0, or -1 with *fail_r and *error_r (stream_failf()) */
int token_cmd_run(const char *command, const char *account,
		  unsigned timeout_ms, char **token_r,
		  enum stream_fail *fail_r, const char **error_r);

#endif
