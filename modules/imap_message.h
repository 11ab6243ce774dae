/*
 * NAME
 *	imap_message 3h
 * SUMMARY
 *	a message's attributes, from OLD's FETCH to NEW's APPEND
 * DESCRIPTION
 *	The one place where what OLD says about a message (flags,
 *	keywords, INTERNALDATE, size: values a hostile or broken server
 *	chooses) becomes text in a command for NEW. Both directions are
 *	pure functions, no connection, so fuzz_imap_append drives them.
 *
 *	Reading (imap_message_from_fetch): an INTERNALDATE is kept only
 *	when it is RFC 3501's date-time sent as a quoted string (never a
 *	literal), a keyword only when it is an RFC 3501 flag-keyword atom.
 *	Anything else is left out and said in *dropped_r: the message is
 *	then copied with NEW's date, or without that keyword.
 *
 *	Writing (imap_message_flag_list, imap_message_append_args): the
 *	same checks again, refusing what fails them, so no source slips a
 *	byte past: the text built is atoms, a date quoted by
 *	imap_client_quote() and a literal announcement, and holds no CR,
 *	LF, NUL or other control byte.
 */
#ifndef MM_IMAP_MESSAGE_H
#define MM_IMAP_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "driver.h"
#include "imap_parse.h"
#include "stream.h"

/* What imap_message_from_fetch() left out (*dropped_r bits). */
#define IMAP_MESSAGE_DROPPED_DATE	0x01	/* INTERNALDATE: NEW's date */
#define IMAP_MESSAGE_DROPPED_KEYWORD	0x02	/* one keyword or more */

/* 1 if s is an RFC 3501 date-time's contents ("17-Jul-1996 02:44:25
 * -0700", the day may be " 7"), fields in range; else 0. */
int imap_message_date_valid(const char *s);

/* 1 if s is a keyword NEW can be sent as it is: an RFC 3501 atom
 * (printable ASCII, none of the atom-specials "(){%*\"\\]" and not
 * '[', which Dovecot reads as opening a section), not a \system flag,
 * at most DRIVER_MAX_KEYWORD bytes; else 0. */
int imap_message_keyword_valid(const char *s);

/* The attributes of a FETCH response ("(UID 4 FLAGS (\Seen) ...)", list
 * an IMAP_ARG_LIST) into msg, which is cleared first; the caller frees
 * it with driver_message_clear(). UID and RFC822.SIZE are required;
 * MODSEQ, when there, must be "(n)" with n a mod-sequence-value.
 * What is left out is said in *dropped_r (IMAP_MESSAGE_DROPPED_*).
 * @return 0, or -1 (STREAM_FAIL_FINAL) when malformed; msg is then clear */
int imap_message_from_fetch(const struct imap_arg *list, struct driver_message *msg,
			    unsigned *dropped_r, enum stream_fail *fail_r,
			    const char **error_r);

/* msg's flags and keywords as an IMAP list, "(\Seen $Forwarded)".
 * @param out_r the list; the caller owns it
 * @return 0, or -1 with *error_r (static text) when a keyword is
 *	not valid */
int imap_message_flag_list(const struct driver_message *msg, char **out_r,
			   const char **error_r);

/* The arguments of one message in an APPEND or MULTIAPPEND after the
 * folder: "(\Seen) \"17-Jul-1996 02:44:25 -0700\" {size+}" (no date
 * when msg has none; "+" when plus). The caller adds the space before
 * and the CR LF after, then sends the size bytes of the literal.
 * @param out_r the text; the caller owns it
 * @return 0, or -1 with *error_r (static text) when a keyword or the
 *	date is not valid: nothing is to be sent */
int imap_message_append_args(const struct driver_message *msg, uint64_t size,
			     int plus, char **out_r, const char **error_r);

#endif
