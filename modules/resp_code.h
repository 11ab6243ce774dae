/*
 * NAME
 *	resp_code 3h
 * SUMMARY
 *	server response codes, and the one table of what each means
 * DESCRIPTION
 *	A refusal from a server says why in a response code: IMAP's
 *	"NO [OVERQUOTA] ..." (RFC 3501, RFC 5530 and the extensions),
 *	POP3's "-ERR [SYS/TEMP] ..." (RFC 2449, RFC 3206). The IMAP and
 *	POP3 clients read the code once, into an enum resp_code, and one
 *	table here gives the failure class (stream(3): retry now, retry
 *	later, give up, this message only, credentials refused) for what
 *	was asked: a login, an APPEND, or any other command. The puller
 *	and the auth-hook act on the class, never on the server's text.
 *
 *	A refusal without a code is, for a login, refused credentials
 *	(STREAM_FAIL_AUTH); for an APPEND, this message refused
 *	(STREAM_FAIL_MESSAGE); for anything else, give up
 *	(STREAM_FAIL_FINAL). A code that does not say more (ALERT, a code
 *	unknown here) counts as none.
 */
#ifndef MM_RESP_CODE_H
#define MM_RESP_CODE_H

#include <stddef.h>

#include "stream.h"

enum resp_code {
	RESP_CODE_NONE,		/* no response code */
	RESP_CODE_OTHER,	/* one not known here */
	/* RFC 3501, RFC 9051 */
	RESP_CODE_ALERT,
	RESP_CODE_BADCHARSET,
	RESP_CODE_CAPABILITY,
	RESP_CODE_PARSE,
	RESP_CODE_PERMANENTFLAGS,
	RESP_CODE_READ_ONLY,
	RESP_CODE_READ_WRITE,
	RESP_CODE_TRYCREATE,
	RESP_CODE_UIDNEXT,
	RESP_CODE_UIDVALIDITY,
	RESP_CODE_UNSEEN,
	RESP_CODE_CLOSED,
	RESP_CODE_HASCHILDREN,
	/* RFC 3516 BINARY */
	RESP_CODE_UNKNOWN_CTE,
	/* RFC 4315 UIDPLUS */
	RESP_CODE_APPENDUID,
	RESP_CODE_COPYUID,
	RESP_CODE_UIDNOTSTICKY,
	/* RFC 4469 CATENATE; TOOBIG also RFC 7889 APPENDLIMIT */
	RESP_CODE_BADURL,
	RESP_CODE_TOOBIG,
	/* RFC 4978 COMPRESS */
	RESP_CODE_COMPRESSIONACTIVE,
	/* RFC 5530 */
	RESP_CODE_UNAVAILABLE,
	RESP_CODE_AUTHENTICATIONFAILED,
	RESP_CODE_AUTHORIZATIONFAILED,
	RESP_CODE_EXPIRED,
	RESP_CODE_PRIVACYREQUIRED,
	RESP_CODE_CONTACTADMIN,
	RESP_CODE_NOPERM,
	RESP_CODE_INUSE,
	RESP_CODE_EXPUNGEISSUED,
	RESP_CODE_CORRUPTION,
	RESP_CODE_SERVERBUG,
	RESP_CODE_CLIENTBUG,
	RESP_CODE_CANNOT,
	RESP_CODE_LIMIT,
	RESP_CODE_OVERQUOTA,
	RESP_CODE_ALREADYEXISTS,
	RESP_CODE_NONEXISTENT,
	/* RFC 6154 SPECIAL-USE */
	RESP_CODE_USEATTR,
	/* POP3: RFC 2449, RFC 3206 */
	RESP_CODE_POP3_LOGIN_DELAY,
	RESP_CODE_POP3_IN_USE,
	RESP_CODE_POP3_SYS_TEMP,
	RESP_CODE_POP3_SYS_PERM,
	RESP_CODE_POP3_AUTH,
	RESP_CODE_COUNT
};

/* What the refused command asked for. */
enum resp_context {
	RESP_CONTEXT_LOGIN,	/* LOGIN, AUTHENTICATE; POP3 USER, PASS, AUTH */
	RESP_CONTEXT_APPEND,	/* one message, or a MULTIAPPEND batch */
	RESP_CONTEXT_COMMAND,	/* anything else */
};

/* An IMAP response code's atom ("OVERQUOTA", any case): its code,
 * RESP_CODE_OTHER if unknown here, RESP_CODE_NONE for NULL. */
enum resp_code resp_code_imap(const char *atom);
/* A POP3 -ERR's text ("[SYS/TEMP/x] try later"): the code in brackets
 * at its start, matched by hierarchy level (RFC 2449: "SYS/TEMP/x" is
 * SYS/TEMP), RESP_CODE_OTHER if unknown, RESP_CODE_NONE if none. */
enum resp_code resp_code_pop3(const char *text, size_t len);
/* "OVERQUOTA", "SYS/TEMP"; "" for NONE, "?" for OTHER. */
const char *resp_code_name(enum resp_code code);
/* The failure class of a refusal (NO, BAD, -ERR) with code, for what
 * ctx says was asked. */
enum stream_fail resp_code_class(enum resp_code code, enum resp_context ctx);

#endif
