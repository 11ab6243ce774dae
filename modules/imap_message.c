/*
 * NAME
 *	imap_message 3
 * SUMMARY
 *	a message's attributes, from OLD's FETCH to NEW's APPEND
 * DESCRIPTION
 *	The date and keyword checks are written out byte by byte from
 *	RFC 3501's grammar (date-time, flag-keyword), not with sscanf,
 *	which would take leading spaces, signs and short fields.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "imap_client.h"
#include "imap_message.h"
#include "mail_header.h"
#include "mm_alloc.h"

static const struct {
	const char *name;
	unsigned flag;
} imap_message_system_flags[] = {
	{ "\\Seen", DRIVER_FLAG_SEEN },
	{ "\\Answered", DRIVER_FLAG_ANSWERED },
	{ "\\Flagged", DRIVER_FLAG_FLAGGED },
	{ "\\Deleted", DRIVER_FLAG_DELETED },
	{ "\\Draft", DRIVER_FLAG_DRAFT },
};
#define IMAP_MESSAGE_NSYSTEM \
	(sizeof(imap_message_system_flags) / sizeof(imap_message_system_flags[0]))

static const char imap_message_months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* n digits at s as a number, or -1 if any is not a digit. */
static int imap_message_digits(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* date-time: date-day-fixed "-" date-month "-" date-year SP time SP zone,
 * 26 bytes exactly. */
int imap_message_date_valid(const char *s)
{
	int day, month = -1, hh, mm, ss, zh, zm;

	if (strlen(s) != 26 || s[2] != '-' || s[6] != '-' || s[11] != ' ' ||
	    s[14] != ':' || s[17] != ':' || s[20] != ' ' ||
	    (s[21] != '+' && s[21] != '-'))
		return 0;
	day = s[0] == ' ' ? imap_message_digits(s + 1, 1) : imap_message_digits(s, 2);
	for (int i = 0; i < 12; i++)
		if (strncasecmp(s + 3, imap_message_months[i], 3) == 0)
			month = i;
	hh = imap_message_digits(s + 12, 2);
	mm = imap_message_digits(s + 15, 2);
	ss = imap_message_digits(s + 18, 2);
	zh = imap_message_digits(s + 22, 2);
	zm = imap_message_digits(s + 24, 2);
	return day >= 1 && day <= 31 && month >= 0 &&
	       imap_message_digits(s + 7, 4) >= 0 &&
	       hh >= 0 && hh <= 23 && mm >= 0 && mm <= 59 && ss >= 0 && ss <= 60 &&
	       zh >= 0 && zh <= 23 && zm >= 0 && zm <= 59;
}

int imap_message_keyword_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > DRIVER_MAX_KEYWORD)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		/* CHAR less CTL and SP; atom-specials; '[' (see the header). */
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\][", c) != NULL)
			return 0;
	}
	return 1;
}

/* FLAGS (...) into msg: system flags, and keywords (not \Recent). */
static int imap_message_flags(const struct imap_arg *list, struct driver_message *msg,
			      unsigned *dropped_r, enum stream_fail *fail_r,
			      const char **error_r)
{
	for (size_t i = 0; i < list->count; i++) {
		const struct imap_arg *f = &list->list[i];
		int system = 0;

		if (f->type != IMAP_ARG_ATOM)
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					    "malformed FLAGS");
		for (size_t j = 0; j < IMAP_MESSAGE_NSYSTEM; j++) {
			if (strcasecmp(f->str, imap_message_system_flags[j].name) == 0) {
				msg->flags |= imap_message_system_flags[j].flag;
				system = 1;
			}
		}
		if (system || f->str[0] == '\\')
			continue;	/* \Recent and unknown system flags */
		if (strlen(f->str) != f->len || !imap_message_keyword_valid(f->str)) {
			*dropped_r |= IMAP_MESSAGE_DROPPED_KEYWORD;
			continue;
		}
		if (msg->keywords_count == DRIVER_MAX_KEYWORDS)
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					    "over %d keywords", DRIVER_MAX_KEYWORDS);
		msg->keywords = mm_reallocarray(msg->keywords, msg->keywords_count + 1,
						sizeof(char *));
		msg->keywords[msg->keywords_count++] = mm_strdup(f->str);
	}
	return 0;
}

/* INTERNALDATE's value into msg, if it is a quoted date-time. */
static int imap_message_date(const struct imap_arg *v, struct driver_message *msg,
			     unsigned *dropped_r)
{
	if (v->type != IMAP_ARG_STRING)
		return -1;
	if (v->literal || v->len >= sizeof(msg->internaldate) ||
	    strlen(v->str) != v->len || !imap_message_date_valid(v->str)) {
		msg->internaldate[0] = '\0';
		*dropped_r |= IMAP_MESSAGE_DROPPED_DATE;
		return 0;
	}
	memcpy(msg->internaldate, v->str, v->len + 1);
	return 0;
}

int imap_message_from_fetch(const struct imap_arg *list, struct driver_message *msg,
			    unsigned *dropped_r, enum stream_fail *fail_r,
			    const char **error_r)
{
	const struct imap_arg *l = list->list;
	int have_size = 0;

	memset(msg, 0, sizeof(*msg));
	*dropped_r = 0;
	if (list->type != IMAP_ARG_LIST || list->count % 2 != 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "malformed FETCH response");
	for (size_t i = 0; i < list->count; i += 2) {
		const struct imap_arg *v = &l[i + 1];

		if (imap_arg_is_atom(&l[i], "UID")) {
			if (imap_arg_get_u32(v, &msg->uid) < 0 || msg->uid == 0)
				goto bad;
		} else if (imap_arg_is_atom(&l[i], "RFC822.SIZE")) {
			if (imap_arg_get_u64(v, &msg->size) < 0)
				goto bad;
			have_size = 1;
		} else if (imap_arg_is_atom(&l[i], "INTERNALDATE")) {
			if (imap_message_date(v, msg, dropped_r) < 0)
				goto bad;
		} else if (imap_arg_is_atom(&l[i], "FLAGS")) {
			if (v->type != IMAP_ARG_LIST)
				goto bad;
			if (imap_message_flags(v, msg, dropped_r, fail_r, error_r) < 0)
				goto fail;
		} else if (imap_arg_is_atom(&l[i], "MODSEQ")) {
			/* "MODSEQ (n)": one mod-sequence-value in a list. */
			if (v->type != IMAP_ARG_LIST || v->count != 1 ||
			    imap_arg_get_modseq(&v->list[0], &msg->modseq) < 0)
				goto bad;
		} else if (l[i].type == IMAP_ARG_ATOM &&
			   strncasecmp(l[i].str, "BODY[HEADER.FIELDS", 18) == 0) {
			char id[MAIL_HEADER_MAX_FIELD];

			if (v->type != IMAP_ARG_STRING && v->type != IMAP_ARG_NIL)
				goto bad;
			if (v->type == IMAP_ARG_STRING && msg->message_id == NULL &&
			    mail_header_message_id(v->str, v->len, id, sizeof(id)))
				msg->message_id = mm_strdup(id);
			if (v->type == IMAP_ARG_STRING && msg->uidl[0] == '\0')
				(void)mail_header_token(v->str, v->len, "X-UIDL", msg->uidl,
							sizeof(msg->uidl));
		}
	}
	if (msg->uid == 0 || !have_size) {
		driver_message_clear(msg);
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "FETCH response without UID or RFC822.SIZE");
	}
	return 0;
bad:
	stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "malformed FETCH response item");
fail:
	driver_message_clear(msg);
	return -1;
}

int imap_message_flag_list(const struct driver_message *msg, char **out_r,
			   const char **error_r)
{
	size_t size = 64;
	char *out, *p;

	for (size_t i = 0; i < msg->keywords_count; i++) {
		if (!imap_message_keyword_valid(msg->keywords[i])) {
			*error_r = "a keyword is not an IMAP atom";
			return -1;
		}
		size += strlen(msg->keywords[i]) + 1;
	}
	out = p = mm_malloc(size);
	*p++ = '(';
	for (size_t j = 0; j < IMAP_MESSAGE_NSYSTEM; j++)
		if (msg->flags & imap_message_system_flags[j].flag)
			p += sprintf(p, "%s%s", p[-1] == '(' ? "" : " ",
				     imap_message_system_flags[j].name);
	for (size_t i = 0; i < msg->keywords_count; i++)
		p += sprintf(p, "%s%s", p[-1] == '(' ? "" : " ", msg->keywords[i]);
	*p++ = ')';
	*p = '\0';
	*out_r = out;
	return 0;
}

int imap_message_append_args(const struct driver_message *msg, uint64_t size,
			     int plus, char **out_r, const char **error_r)
{
	char *flags, *date = NULL;

	if (msg->internaldate[0] != '\0') {
		if (memchr(msg->internaldate, '\0', sizeof(msg->internaldate)) == NULL ||
		    !imap_message_date_valid(msg->internaldate) ||
		    (date = imap_client_quote(msg->internaldate)) == NULL) {
			*error_r = "the date is not an RFC 3501 date-time";
			return -1;
		}
	}
	if (imap_message_flag_list(msg, &flags, error_r) < 0) {
		mm_free(&date);
		return -1;
	}
	*out_r = mm_asprintf("%s%s%s {%llu%s}", flags, date != NULL ? " " : "",
			     date != NULL ? date : "", (unsigned long long)size,
			     plus ? "+" : "");
	mm_free(&flags);
	mm_free(&date);
	return 0;
}
