/*
 * NAME
 *	import_proto 3h
 * SUMMARY
 *	the mailmigrate-import line protocol, without Dovecot
 * DESCRIPTION
 *	The words of the protocol between the puller and the doveadm
 *	command (README): one command per line, fields separated by TAB,
 *	a message body as a counted literal after its APPEND line. This
 *	file splits and checks lines and fields; doveadm_mailmigrate.c
 *	acts on them. Nothing here allocates: fields point into the line,
 *	which the caller owns and keeps until it is done with them.
 *
 *	Every number is parsed overflow-safe with an upper bound, every
 *	name checked for the bytes that would break the framing, so a
 *	bad line is refused with a reason naming the field.
 */
#ifndef IMPORT_PROTO_H
#define IMPORT_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Protocol version, sent in the greeting. */
#define IMPORT_PROTO_VERSION 1
/* Longest line, including its LF: a line longer is refused before it
 * is complete. */
#define IMPORT_LINE_MAX 8192
/* stdin's buffer while a literal is read (lines: IMPORT_LINE_MAX). */
#define IMPORT_BODY_BUFFER (256 * 1024)
/* Most fields on one line. */
#define IMPORT_FIELDS_MAX 8
/* Default and ceiling of the literal (message body) limit. */
#define IMPORT_LITERAL_DEFAULT (100u * 1024 * 1024)
#define IMPORT_LITERAL_CEILING (2047u * 1024 * 1024)
/* Most APPENDs in one batch (one transaction). */
#define IMPORT_BATCH_MAX 5000
/* Most keywords on one message, and the longest keyword. */
#define IMPORT_KEYWORDS_MAX 64
#define IMPORT_KEYWORD_LEN_MAX 128
/* Most messages one STATE lists. */
#define IMPORT_STATE_MAX 100000

enum import_cmd {
	IMPORT_CMD_UNKNOWN,
	IMPORT_CMD_FOLDER,	/* FOLDER name special-use */
	IMPORT_CMD_IDENTITY,	/* IDENTITY uidvalidity min-next-uid */
	IMPORT_CMD_APPEND,	/* APPEND uid flags date uidl size */
	IMPORT_CMD_COMMIT,	/* COMMIT */
	IMPORT_CMD_ABORT,	/* ABORT */
	IMPORT_CMD_STATE,	/* STATE from-uid max */
	IMPORT_CMD_QUIT,	/* QUIT */
	IMPORT_CMD_LIST,	/* LIST */
	IMPORT_CMD_FLAGS,	/* FLAGS uid flags */
	IMPORT_CMD_SUBSCRIBE,	/* SUBSCRIBE */
	IMPORT_CMD_MOVEALL,	/* MOVEALL from to delete-from */
	IMPORT_CMD_PLUGINS,	/* PLUGINS */
};

struct import_line {
	enum import_cmd cmd;
	unsigned int count;	/* fields after the command word */
	char *field[IMPORT_FIELDS_MAX];
};

/* The system flags, as bits (the same values as Dovecot's enum
 * mail_flags, which the glue relies on and checks at compile time). */
#define IMPORT_FLAG_ANSWERED	0x01
#define IMPORT_FLAG_FLAGGED	0x02
#define IMPORT_FLAG_DELETED	0x04
#define IMPORT_FLAG_SEEN	0x08
#define IMPORT_FLAG_DRAFT	0x10

struct import_flags {
	unsigned int system;	/* IMPORT_FLAG_* */
	unsigned int keyword_count;
	const char *keyword[IMPORT_KEYWORDS_MAX + 1];	/* NULL-terminated */
};

/* Split a line (without its LF; a trailing CR is dropped) in place.
 * Returns 0, or -1 with *error_r (static text) for a line that has a
 * NUL or other control byte, too many fields or a wrong field count
 * for its command. An unknown command word gives IMPORT_CMD_UNKNOWN
 * and 0: the caller answers it and carries on. */
int import_line_split(char *line, size_t len, struct import_line *out_r,
		      const char **error_r);

/* An unsigned decimal up to max, no sign, no leading zeros (but "0"),
 * at most 20 digits. 0 or -1. */
int import_parse_uint(const char *s, uint64_t max, uint64_t *out_r);

/* A flag list: "-" for none, else atoms separated by one space:
 * \Seen \Answered \Flagged \Deleted \Draft (any case; \Recent is
 * ignored, as IMAP's APPEND cannot set it either), other atoms are
 * keywords (IMAP atom characters only). The list points into s, which
 * is changed in place. 0 or -1 with *error_r. */
int import_parse_flags(char *s, struct import_flags *out_r,
		       const char **error_r);

/* INTERNALDATE as "UNIXTIME +HHMM" (or -HHMM), e.g. "1577869200
 * +0100": the instant and the zone it was given in, which IMAP shows.
 * "-" for none (*when_r = -1). 0 or -1. */
int import_parse_date(const char *s, time_t *when_r, int *tz_minutes_r);

/* A folder name (UTF-8, Dovecot's separator between levels): not
 * empty, at most 1000 bytes, no control bytes. 0 or -1. */
int import_check_name(const char *s);

/* A POP3 UIDL: "-" for none, else 1..70 printable ASCII bytes
 * (RFC 1939: 0x21..0x7E). 0 or -1. */
int import_check_uidl(const char *s);

/* A special-use: "-" for none, else one of \All \Archive \Drafts
 * \Flagged \Junk \Sent \Trash (RFC 6154). 0 or -1. */
int import_check_special_use(const char *s);

#endif
