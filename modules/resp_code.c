/*
 * NAME
 *	resp_code 3
 * SUMMARY
 *	server response codes, and the one table of what each means
 * DESCRIPTION
 *	One row per code: its name, whether it is POP3's, and its class
 *	for a login, an APPEND and any other command (STREAM_FAIL_NONE:
 *	as a refusal without a code). Why each row says what it says:
 *
 *	Retry later (STREAM_FAIL_WAIT): the server is not able now, and
 *	will be without anyone's help or once the administrator made
 *	room: UNAVAILABLE, INUSE, LIMIT, OVERQUOTA (a full quota on NEW
 *	is not the message's fault: nothing is given up, the job waits
 *	until there is room), SERVERBUG (it may be a passing state),
 *	POP3 SYS/TEMP, IN-USE, LOGIN-DELAY.
 *
 *	Retry now (STREAM_FAIL_TEMP): what was there changed under us:
 *	EXPUNGEISSUED, TRYCREATE (the folder was created before the
 *	APPEND; the next attempt creates it again).
 *
 *	This message only (STREAM_FAIL_MESSAGE), on APPEND: TOOBIG, PARSE,
 *	UNKNOWN-CTE, BADURL, CANNOT (RFC 5530: it can never succeed), and
 *	a refusal without a code.
 *
 *	Credentials refused (STREAM_FAIL_AUTH), on a login:
 *	AUTHENTICATIONFAILED, AUTHORIZATIONFAILED (the admin may not act
 *	for the user), EXPIRED (the password is right but no longer
 *	usable), POP3 AUTH, and a refusal without a code.
 *
 *	Give up (STREAM_FAIL_FINAL): what needs the administrator: NOPERM,
 *	PRIVACYREQUIRED (set source_tls), CONTACTADMIN, CORRUPTION,
 *	CLIENTBUG, READ-ONLY, NONEXISTENT, ALREADYEXISTS, POP3 SYS/PERM.
 *	To the auth-hook these are "try again later", not a wrong
 *	password.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "resp_code.h"

#define N STREAM_FAIL_NONE
#define T STREAM_FAIL_TEMP
#define W STREAM_FAIL_WAIT
#define F STREAM_FAIL_FINAL
#define M STREAM_FAIL_MESSAGE
#define A STREAM_FAIL_AUTH

static const struct {
	const char *name;
	int pop3;
	/* indexed by enum resp_context */
	enum stream_fail fail[3];
} resp_codes[RESP_CODE_COUNT] = {
	[RESP_CODE_NONE] = { "", 0, { N, N, N } },
	[RESP_CODE_OTHER] = { "?", 0, { N, N, N } },
	[RESP_CODE_ALERT] = { "ALERT", 0, { N, N, N } },
	[RESP_CODE_BADCHARSET] = { "BADCHARSET", 0, { N, N, N } },
	[RESP_CODE_CAPABILITY] = { "CAPABILITY", 0, { N, N, N } },
	[RESP_CODE_PARSE] = { "PARSE", 0, { N, M, N } },
	[RESP_CODE_PERMANENTFLAGS] = { "PERMANENTFLAGS", 0, { N, N, N } },
	[RESP_CODE_READ_ONLY] = { "READ-ONLY", 0, { F, F, F } },
	[RESP_CODE_READ_WRITE] = { "READ-WRITE", 0, { N, N, N } },
	[RESP_CODE_TRYCREATE] = { "TRYCREATE", 0, { F, T, T } },
	[RESP_CODE_UIDNEXT] = { "UIDNEXT", 0, { N, N, N } },
	[RESP_CODE_UIDVALIDITY] = { "UIDVALIDITY", 0, { N, N, N } },
	[RESP_CODE_UNSEEN] = { "UNSEEN", 0, { N, N, N } },
	[RESP_CODE_CLOSED] = { "CLOSED", 0, { N, N, N } },
	[RESP_CODE_HASCHILDREN] = { "HASCHILDREN", 0, { F, F, F } },
	[RESP_CODE_UNKNOWN_CTE] = { "UNKNOWN-CTE", 0, { F, M, F } },
	[RESP_CODE_APPENDUID] = { "APPENDUID", 0, { N, N, N } },
	[RESP_CODE_COPYUID] = { "COPYUID", 0, { N, N, N } },
	[RESP_CODE_UIDNOTSTICKY] = { "UIDNOTSTICKY", 0, { N, N, N } },
	[RESP_CODE_BADURL] = { "BADURL", 0, { F, M, F } },
	[RESP_CODE_TOOBIG] = { "TOOBIG", 0, { F, M, F } },
	[RESP_CODE_COMPRESSIONACTIVE] = { "COMPRESSIONACTIVE", 0, { F, F, F } },
	[RESP_CODE_UNAVAILABLE] = { "UNAVAILABLE", 0, { W, W, W } },
	[RESP_CODE_AUTHENTICATIONFAILED] = { "AUTHENTICATIONFAILED", 0, { A, F, F } },
	[RESP_CODE_AUTHORIZATIONFAILED] = { "AUTHORIZATIONFAILED", 0, { A, F, F } },
	[RESP_CODE_EXPIRED] = { "EXPIRED", 0, { A, F, F } },
	[RESP_CODE_PRIVACYREQUIRED] = { "PRIVACYREQUIRED", 0, { F, F, F } },
	[RESP_CODE_CONTACTADMIN] = { "CONTACTADMIN", 0, { F, F, F } },
	[RESP_CODE_NOPERM] = { "NOPERM", 0, { F, F, F } },
	[RESP_CODE_INUSE] = { "INUSE", 0, { W, W, W } },
	[RESP_CODE_EXPUNGEISSUED] = { "EXPUNGEISSUED", 0, { T, T, T } },
	[RESP_CODE_CORRUPTION] = { "CORRUPTION", 0, { F, F, F } },
	[RESP_CODE_SERVERBUG] = { "SERVERBUG", 0, { W, W, W } },
	[RESP_CODE_CLIENTBUG] = { "CLIENTBUG", 0, { F, F, F } },
	[RESP_CODE_CANNOT] = { "CANNOT", 0, { F, M, F } },
	[RESP_CODE_LIMIT] = { "LIMIT", 0, { W, W, W } },
	[RESP_CODE_OVERQUOTA] = { "OVERQUOTA", 0, { W, W, W } },
	[RESP_CODE_ALREADYEXISTS] = { "ALREADYEXISTS", 0, { F, F, F } },
	[RESP_CODE_NONEXISTENT] = { "NONEXISTENT", 0, { F, F, F } },
	[RESP_CODE_USEATTR] = { "USEATTR", 0, { F, F, F } },
	[RESP_CODE_POP3_LOGIN_DELAY] = { "LOGIN-DELAY", 1, { W, W, W } },
	[RESP_CODE_POP3_IN_USE] = { "IN-USE", 1, { W, W, W } },
	[RESP_CODE_POP3_SYS_TEMP] = { "SYS/TEMP", 1, { W, W, W } },
	[RESP_CODE_POP3_SYS_PERM] = { "SYS/PERM", 1, { F, F, F } },
	[RESP_CODE_POP3_AUTH] = { "AUTH", 1, { A, F, F } },
};

/* A refusal without a code (or with one that says no more). */
static const enum stream_fail resp_default[3] = {
	[RESP_CONTEXT_LOGIN] = A,
	[RESP_CONTEXT_APPEND] = M,
	[RESP_CONTEXT_COMMAND] = F,
};

#undef N
#undef T
#undef W
#undef F
#undef M
#undef A

enum resp_code resp_code_imap(const char *atom)
{
	if (atom == NULL || *atom == '\0')
		return RESP_CODE_NONE;
	for (int i = RESP_CODE_ALERT; i < RESP_CODE_COUNT; i++)
		if (!resp_codes[i].pop3 && strcasecmp(atom, resp_codes[i].name) == 0)
			return (enum resp_code)i;
	return RESP_CODE_OTHER;
}

enum resp_code resp_code_pop3(const char *text, size_t len)
{
	const char *end;
	size_t clen;

	if (len == 0 || text[0] != '[')
		return RESP_CODE_NONE;
	/* RFC 2449: a code is short; a bracket far off is text. */
	end = memchr(text + 1, ']', len - 1 < 64 ? len - 1 : 64);
	if (end == NULL)
		return RESP_CODE_NONE;
	clen = (size_t)(end - (text + 1));
	for (int i = RESP_CODE_ALERT; i < RESP_CODE_COUNT; i++) {
		size_t nlen = strlen(resp_codes[i].name);

		if (resp_codes[i].pop3 && clen >= nlen &&
		    strncasecmp(text + 1, resp_codes[i].name, nlen) == 0 &&
		    (clen == nlen || text[1 + nlen] == '/'))
			return (enum resp_code)i;
	}
	return RESP_CODE_OTHER;
}

const char *resp_code_name(enum resp_code code)
{
	if ((unsigned)code >= RESP_CODE_COUNT)
		return "?";
	return resp_codes[code].name;
}

enum stream_fail resp_code_class(enum resp_code code, enum resp_context ctx)
{
	enum stream_fail fail;

	if ((unsigned)ctx > RESP_CONTEXT_COMMAND)
		ctx = RESP_CONTEXT_COMMAND;
	if ((unsigned)code >= RESP_CODE_COUNT)
		code = RESP_CODE_OTHER;
	fail = resp_codes[code].fail[ctx];
	return fail != STREAM_FAIL_NONE ? fail : resp_default[ctx];
}
