/*
 * NAME
 *	import_proto 3
 * SUMMARY
 *	split and check mailmigrate-import lines (import_proto.h)
 * DESCRIPTION
 *	Plain C, no Dovecot: unit-tested with Check (test_import_proto.c)
 *	and linked into the doveadm plugin.
 */
#include <string.h>
#include <strings.h>

#include "import_proto.h"

struct import_verb {
	const char *word;
	enum import_cmd cmd;
	unsigned int fields;
	unsigned int optional;		/* more fields it may have */
};

static const struct import_verb import_verbs[] = {
	{ "FOLDER", IMPORT_CMD_FOLDER, 2, 0 },
	{ "IDENTITY", IMPORT_CMD_IDENTITY, 2, 0 },
	{ "APPEND", IMPORT_CMD_APPEND, 5, 0 },
	{ "COMMIT", IMPORT_CMD_COMMIT, 0, 0 },
	{ "ABORT", IMPORT_CMD_ABORT, 0, 0 },
	{ "STATE", IMPORT_CMD_STATE, 2, 1 },
	{ "QUIT", IMPORT_CMD_QUIT, 0, 0 },
	{ "LIST", IMPORT_CMD_LIST, 0, 0 },
	{ "FLAGS", IMPORT_CMD_FLAGS, 2, 0 },
	{ "SUBSCRIBE", IMPORT_CMD_SUBSCRIBE, 0, 0 },
	{ "MOVEALL", IMPORT_CMD_MOVEALL, 3, 0 },
	{ "PLUGINS", IMPORT_CMD_PLUGINS, 0, 0 },
};

/* Split on TAB; the field count is checked against the verb's. */
int import_line_split(char *line, size_t len, struct import_line *out_r,
		      const char **error_r)
{
	const struct import_verb *verb = NULL;
	char *p, *word;
	size_t i;

	memset(out_r, 0, sizeof(*out_r));
	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		/* TAB separates; any other control byte (NUL included)
		 * would let a name smuggle framing into a later field. */
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			*error_r = "control character in line";
			return -1;
		}
	}
	line[len] = '\0';
	word = line;
	p = strchr(line, '\t');
	if (p != NULL)
		*p++ = '\0';
	for (i = 0; i < sizeof(import_verbs) / sizeof(import_verbs[0]); i++)
		if (strcmp(word, import_verbs[i].word) == 0)
			verb = &import_verbs[i];
	if (verb == NULL) {
		out_r->cmd = IMPORT_CMD_UNKNOWN;
		return 0;
	}
	while (p != NULL) {
		if (out_r->count == IMPORT_FIELDS_MAX) {
			*error_r = "too many fields";
			return -1;
		}
		out_r->field[out_r->count++] = p;
		p = strchr(p, '\t');
		if (p != NULL)
			*p++ = '\0';
	}
	if (out_r->count < verb->fields ||
	    out_r->count > verb->fields + verb->optional) {
		*error_r = "wrong number of fields for the command";
		return -1;
	}
	out_r->cmd = verb->cmd;
	return 0;
}

/* Overflow-safe: the bound is checked before each multiplication. */
int import_parse_uint(const char *s, uint64_t max, uint64_t *out_r)
{
	uint64_t v = 0;
	size_t n = 0;

	if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (; *s != '\0'; s++, n++) {
		unsigned int d;

		if (*s < '0' || *s > '9' || n == 20)
			return -1;
		d = (unsigned int)(*s - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out_r = v;
	return 0;
}

/* IMAP atom-specials (RFC 3501) and '\\' are not keyword bytes. */
static int import_keyword_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > IMPORT_KEYWORD_LEN_MAX)
		return 0;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return 0;
	}
	return 1;
}

int import_parse_flags(char *s, struct import_flags *out_r,
		       const char **error_r)
{
	static const struct {
		const char *name;
		unsigned int bit;
	} sys[] = {
		{ "\\Answered", IMPORT_FLAG_ANSWERED },
		{ "\\Flagged", IMPORT_FLAG_FLAGGED },
		{ "\\Deleted", IMPORT_FLAG_DELETED },
		{ "\\Seen", IMPORT_FLAG_SEEN },
		{ "\\Draft", IMPORT_FLAG_DRAFT },
		{ "\\Recent", 0 },
	};
	char *atom, *next;
	size_t i;

	memset(out_r, 0, sizeof(*out_r));
	if (strcmp(s, "-") == 0)
		return 0;
	for (atom = s; atom != NULL; atom = next) {
		next = strchr(atom, ' ');
		if (next != NULL)
			*next++ = '\0';
		if (atom[0] == '\\') {
			for (i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
				if (strcasecmp(atom, sys[i].name) == 0)
					break;
			if (i == sizeof(sys) / sizeof(sys[0])) {
				*error_r = "unknown system flag";
				return -1;
			}
			out_r->system |= sys[i].bit;
			continue;
		}
		if (!import_keyword_ok(atom)) {
			*error_r = "bad keyword (empty, too long or not an atom)";
			return -1;
		}
		if (out_r->keyword_count == IMPORT_KEYWORDS_MAX) {
			*error_r = "too many keywords";
			return -1;
		}
		out_r->keyword[out_r->keyword_count++] = atom;
	}
	out_r->keyword[out_r->keyword_count] = NULL;
	return 0;
}

int import_parse_date(const char *s, time_t *when_r, int *tz_minutes_r)
{
	const char *sp = strchr(s, ' ');
	char num[21];
	uint64_t t, zone;
	size_t n;

	if (strcmp(s, "-") == 0) {
		*when_r = -1;
		*tz_minutes_r = 0;
		return 0;
	}
	if (sp == NULL || (size_t)(sp - s) >= sizeof(num))
		return -1;
	n = (size_t)(sp - s);
	memcpy(num, s, n);
	num[n] = '\0';
	/* Up to year 9999: no time_t overflow on any host. */
	if (import_parse_uint(num, 253402300799ull, &t) < 0)
		return -1;
	sp++;
	if ((sp[0] != '+' && sp[0] != '-') || strlen(sp) != 5)
		return -1;
	for (n = 1; n < 5; n++)
		if (sp[n] < '0' || sp[n] > '9')
			return -1;
	zone = (uint64_t)((sp[1] - '0') * 10 + (sp[2] - '0')) * 60 +
		(uint64_t)((sp[3] - '0') * 10 + (sp[4] - '0'));
	/* RFC 5322 zones stay within a day. */
	if (zone >= 24 * 60 || sp[3] > '5')
		return -1;
	*when_r = (time_t)t;
	*tz_minutes_r = sp[0] == '-' ? -(int)zone : (int)zone;
	return 0;
}

int import_check_name(const char *s)
{
	size_t n = strlen(s);

	/* import_line_split already refused control bytes. */
	return n == 0 || n > 1000 ? -1 : 0;
}

int import_check_uidl(const char *s)
{
	size_t n = strlen(s);

	if (strcmp(s, "-") == 0)
		return 0;
	if (n == 0 || n > 70)
		return -1;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return -1;
	return 0;
}

int import_check_special_use(const char *s)
{
	static const char *const uses[] = {
		"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk",
		"\\Sent", "\\Trash",
	};
	size_t i;

	if (strcmp(s, "-") == 0)
		return 0;
	for (i = 0; i < sizeof(uses) / sizeof(uses[0]); i++)
		if (strcasecmp(s, uses[i]) == 0)
			return 0;
	return -1;
}
