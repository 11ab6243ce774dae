/*
 * NAME
 *	folder_map 3
 * SUMMARY
 *	the name each OLD folder gets on NEW
 * DESCRIPTION
 *	See folder_map.h for the rules. Names are worked on as UTF-8
 *	levels in fixed, bounded buffers; nothing here reads past a
 *	terminating NUL or writes past FOLDER_MAP_MAX_TEXT bytes.
 */
#include "config.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "driver.h"
#include "error.h"
#include "folder_map.h"
#include "log.h"
#include "mm_alloc.h"
#include "mutf7.h"

/* One folder_map pair, both sides in '/' form with INBOX canonical. */
struct folder_map_pair {
	char *old_path;
	char **new_levels;	/* each separately allocated */
	size_t new_count;
};

struct folder_map {
	char **globs;		/* as written, trimmed */
	char **globs_inbox;	/* the same with a leading INBOX in capitals,
				 * NULL unless the glob starts with INBOX */
	size_t globs_count;
	struct folder_map_pair *pairs;
	size_t pairs_count;
};

/* A bounded output buffer: appends fail instead of growing past max. */
struct fm_buf {
	char data[FOLDER_MAP_MAX_TEXT + 1];
	size_t len;
	size_t max;
};

/* An error's text (error(3h)). */
static const char *fm_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static const char *fm_error(const char *fmt, ...)
{
	va_list ap;

	const char *text;

	va_start(ap, fmt);
	text = error_vsetf(fmt, ap);
	va_end(ap);
	return text;
}

static void buf_init(struct fm_buf *b, size_t max)
{
	b->len = 0;
	b->max = max < FOLDER_MAP_MAX_TEXT ? max : FOLDER_MAP_MAX_TEXT;
	b->data[0] = '\0';
}

/* Append n bytes; -1 (nothing written) when they do not fit. */
static int buf_put(struct fm_buf *b, const char *p, size_t n)
{
	if (n > b->max - b->len)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static int buf_putc(struct fm_buf *b, char c)
{
	return buf_put(b, &c, 1);
}

/* --- UTF-8 ------------------------------------------------------------- */

/* Case folding for the usual special-use names: ASCII and the Latin-1
 * capitals (U+00C0 to U+00DE but the multiplication sign). */
static uint32_t fold(uint32_t cp)
{
	if (cp >= 'A' && cp <= 'Z')
		return cp + 0x20;
	if (cp >= 0xc0 && cp <= 0xde && cp != 0xd7)
		return cp + 0x20;
	return cp;
}

/* Are the UTF-8 strings a and b equal ignoring case as fold() does? */
static int utf8_caseeq(const char *a, const char *b)
{
	const unsigned char *p = (const unsigned char *)a;
	const unsigned char *q = (const unsigned char *)b;
	uint32_t ca, cb;
	size_t na, nb;

	while (*p != '\0' && *q != '\0') {
		if (mutf7_utf8_get(p, &ca, &na) < 0 ||
		    mutf7_utf8_get(q, &cb, &nb) < 0)
			return 0;
		if (fold(ca) != fold(cb))
			return 0;
		p += na;
		q += nb;
	}
	return *p == '\0' && *q == '\0';
}

/* Is s well-formed UTF-8 without control characters (ASCII is)? */
static int utf8_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		uint32_t cp;
		size_t n;

		if (mutf7_utf8_get(p, &cp, &n) < 0 || cp < 0x20 || cp == 0x7f)
			return 0;
		p += n;
	}
	return 1;
}

/* Does s hold 8-bit bytes, all of them valid UTF-8 sequences? */
static int raw_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int high = 0;

	while (*p != '\0') {
		uint32_t cp;
		size_t n;

		if (mutf7_utf8_get(p, &cp, &n) < 0 || cp < 0x20 || cp == 0x7f)
			return 0;
		high |= *p >= 0x80;
		p += n;
	}
	return high;
}

/* --- compiling the settings -------------------------------------------- */

/* Does s start with "INBOX" in any case, followed by end or sep? */
static int starts_inbox(const char *s, char sep)
{
	return strncasecmp(s, "INBOX", 5) == 0 &&
		(s[5] == '\0' || (sep != '\0' && s[5] == sep));
}

/* Trim blanks around [*p, *p+*len). */
static void trim(const char **p, size_t *len)
{
	while (*len > 0 && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*len)--;
	}
	while (*len > 0 && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t'))
		(*len)--;
}

static void folder_map_add_glob(struct folder_map *map, const char *p, size_t len)
{
	char *glob = mm_strndup(p, len), *inbox = NULL;

	/* The INBOX part of a glob is case-insensitive: keep a second
	 * spelling to try on names whose first level is INBOX. */
	if (strncasecmp(glob, "INBOX", 5) == 0) {
		inbox = mm_strdup(glob);
		memcpy(inbox, "INBOX", 5);
	}
	map->globs = mm_reallocarray(map->globs, map->globs_count + 1,
				     sizeof(*map->globs));
	map->globs_inbox = mm_reallocarray(map->globs_inbox, map->globs_count + 1,
					   sizeof(*map->globs_inbox));
	map->globs[map->globs_count] = glob;
	map->globs_inbox[map->globs_count] = inbox;
	map->globs_count++;
}

static void folder_map_parse_exclude(struct folder_map *map, const char *text)
{
	const char *p = text, *end;
	size_t len;

	while (*p != '\0') {
		end = p + strcspn(p, ";,");
		len = (size_t)(end - p);
		trim(&p, &len);
		if (len > 0)
			folder_map_add_glob(map, p, len);
		p = *end == '\0' ? end : end + 1;
	}
}

/* Check a folder_map name (trimmed, NUL-terminated) and put it in
 * canonical form: INBOX first level in capitals. */
static int folder_map_check_name(char *name, unsigned pair, const char *side,
				 const char **error_r)
{
	char pname[204], err[256];
	struct fm_buf enc;
	const char *p;

	log_printable(pname, sizeof(pname), name, strlen(name));
	if (strlen(name) > FOLDER_MAP_MAX_NAME) {
		*error_r = fm_error("folder_map: pair %u: %s name '%s' is longer "
				    "than %d bytes", pair, side, pname,
				    FOLDER_MAP_MAX_NAME);
		return -1;
	}
	if (mutf7_encode(name, enc.data, sizeof(enc.data), &enc.len, err,
			 sizeof(err)) < 0) {
		*error_r = fm_error("folder_map: pair %u: %s name '%s': %s",
				    pair, side, pname, err);
		return -1;
	}
	for (p = name;; p++) {
		if ((*p == '/' || *p == '\0') &&
		    (p == name || p[-1] == '/')) {
			*error_r = fm_error("folder_map: pair %u: empty level in "
					    "%s name '%s'", pair, side, pname);
			return -1;
		}
		if (*p == '\0')
			break;
	}
	if (starts_inbox(name, '/'))
		memcpy(name, "INBOX", 5);
	return 0;
}

/* Split a checked '/' name into separately allocated levels. */
static char **split_levels(const char *name, size_t *count_r)
{
	size_t count = 1, i = 0;
	const char *p, *slash;
	char **levels;

	for (p = name; *p != '\0'; p++)
		count += *p == '/';
	levels = mm_calloc(count, sizeof(*levels));
	for (p = name;; p = slash + 1) {
		slash = strchr(p, '/');
		if (slash == NULL) {
			levels[i++] = mm_strdup(p);
			break;
		}
		levels[i++] = mm_strndup(p, (size_t)(slash - p));
	}
	*count_r = count;
	return levels;
}

static int folder_map_parse_pair(struct folder_map *map, const char *p,
				 size_t len, unsigned pair, const char **error_r)
{
	const char *eq = memchr(p, '=', len), *oldp, *newp;
	size_t oldlen, newlen, i;
	char *old_name, *new_name;
	struct folder_map_pair *fp;
	char pname[204];

	if (eq == NULL) {
		*error_r = fm_error("folder_map: pair %u has no '='", pair);
		return -1;
	}
	if (memchr(eq + 1, '=', len - (size_t)(eq + 1 - p)) != NULL) {
		*error_r = fm_error("folder_map: pair %u has more than one '=' "
				    "('=' is not allowed in a folder name)", pair);
		return -1;
	}
	oldp = p;
	oldlen = (size_t)(eq - p);
	newp = eq + 1;
	newlen = len - oldlen - 1;
	trim(&oldp, &oldlen);
	trim(&newp, &newlen);
	if (oldlen == 0 || newlen == 0) {
		*error_r = fm_error("folder_map: pair %u has an empty %s name",
				    pair, oldlen == 0 ? "old" : "new");
		return -1;
	}
	old_name = mm_strndup(oldp, oldlen);
	new_name = mm_strndup(newp, newlen);
	if (folder_map_check_name(old_name, pair, "old", error_r) < 0 ||
	    folder_map_check_name(new_name, pair, "new", error_r) < 0)
		goto fail;
	if (strcmp(old_name, "INBOX") == 0) {
		*error_r = fm_error("folder_map: pair %u: INBOX itself cannot be "
				    "renamed (its children can)", pair);
		goto fail;
	}
	for (i = 0; i < map->pairs_count; i++) {
		if (strcmp(map->pairs[i].old_path, old_name) == 0) {
			log_printable(pname, sizeof(pname), old_name, oldlen);
			*error_r = fm_error("folder_map: pair %u repeats '%s'",
					    pair, pname);
			goto fail;
		}
	}
	map->pairs = mm_reallocarray(map->pairs, map->pairs_count + 1,
				     sizeof(*map->pairs));
	fp = &map->pairs[map->pairs_count++];
	fp->old_path = old_name;
	fp->new_levels = split_levels(new_name, &fp->new_count);
	mm_free(&new_name);
	return 0;
fail:
	mm_free(&old_name);
	mm_free(&new_name);
	return -1;
}

static int folder_map_parse_map(struct folder_map *map, const char *text,
				const char **error_r)
{
	const char *p = text, *end;
	unsigned pair = 1;
	size_t len;

	for (; *p != '\0'; pair++) {
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		len = (size_t)(end - p);
		trim(&p, &len);
		if (len > 0 && folder_map_parse_pair(map, p, len, pair, error_r) < 0)
			return -1;
		p = *end == '\0' ? end : end + 1;
	}
	return 0;
}

int folder_map_new(const char *exclude, const char *map_text,
		   struct folder_map **map_r, const char **error_r)
{
	struct folder_map *map = mm_calloc(1, sizeof(*map));

	*map_r = NULL;
	if (exclude != NULL)
		folder_map_parse_exclude(map, exclude);
	if (map_text != NULL && folder_map_parse_map(map, map_text, error_r) < 0) {
		folder_map_free(&map);
		return -1;
	}
	*map_r = map;
	return 0;
}

void folder_map_free(struct folder_map **mapp)
{
	struct folder_map *map = *mapp;
	size_t i, j;

	if (map == NULL)
		return;
	for (i = 0; i < map->globs_count; i++) {
		mm_free(&map->globs[i]);
		mm_free(&map->globs_inbox[i]);
	}
	mm_free(&map->globs);
	mm_free(&map->globs_inbox);
	for (i = 0; i < map->pairs_count; i++) {
		for (j = 0; j < map->pairs[i].new_count; j++)
			mm_free(&map->pairs[i].new_levels[j]);
		mm_free(&map->pairs[i].new_levels);
		mm_free(&map->pairs[i].old_path);
	}
	mm_free(&map->pairs);
	mm_free(mapp);
}

/* --- applying ---------------------------------------------------------- */

static const struct {
	enum folder_map_use use;
	const char *name;	/* UTF-8 */
} usual_names[] = {
	{ FOLDER_MAP_SENT, "Sent" },
	{ FOLDER_MAP_SENT, "Sent Items" },
	{ FOLDER_MAP_SENT, "Sent Messages" },
	{ FOLDER_MAP_SENT, "Sent Mail" },
	{ FOLDER_MAP_SENT, "Gesendet" },
	{ FOLDER_MAP_SENT, "Gesendete Elemente" },
	{ FOLDER_MAP_SENT, "Envoy\xc3\xa9s" },
	{ FOLDER_MAP_DRAFTS, "Drafts" },
	{ FOLDER_MAP_DRAFTS, "Draft" },
	{ FOLDER_MAP_DRAFTS, "Entw\xc3\xbcrfe" },
	{ FOLDER_MAP_TRASH, "Trash" },
	{ FOLDER_MAP_TRASH, "Deleted Items" },
	{ FOLDER_MAP_TRASH, "Deleted Messages" },
	{ FOLDER_MAP_TRASH, "Papierkorb" },
	{ FOLDER_MAP_TRASH, "Bin" },
	{ FOLDER_MAP_JUNK, "Junk" },
	{ FOLDER_MAP_JUNK, "Spam" },
	{ FOLDER_MAP_JUNK, "Junk E-mail" },
	{ FOLDER_MAP_JUNK, "Junk Email" },
	{ FOLDER_MAP_JUNK, "Bulk Mail" },
	{ FOLDER_MAP_ARCHIVE, "Archive" },
	{ FOLDER_MAP_ARCHIVE, "Archives" },
};

static const unsigned use_attrs[FOLDER_MAP_USES] = {
	DRIVER_FOLDER_SENT, DRIVER_FOLDER_DRAFTS, DRIVER_FOLDER_TRASH,
	DRIVER_FOLDER_JUNK, DRIVER_FOLDER_ARCHIVE,
};

/* The special use of a path (levels in UTF-8), or -1. */
static int folder_map_special_use(char *const *levels, size_t count,
				  unsigned attrs)
{
	size_t i;

	if (strcmp(levels[0], "INBOX") == 0)
		return -1;
	/* A child's own attribute says nothing about its top level. */
	if (count == 1) {
		for (i = 0; i < FOLDER_MAP_USES; i++)
			if ((attrs & use_attrs[i]) != 0)
				return (int)i;
	}
	for (i = 0; i < sizeof(usual_names) / sizeof(usual_names[0]); i++)
		if (utf8_caseeq(levels[0], usual_names[i].name))
			return (int)usual_names[i].use;
	return -1;
}

/* Does an exclude glob match name? sep: the separator after a first
 * level of INBOX, which matches in any case. */
static int folder_map_excluded(const struct folder_map *map, const char *name,
			       char sep)
{
	char *inbox = NULL;
	int hit = 0;
	size_t i;

	if (map == NULL)
		return 0;
	if (starts_inbox(name, sep)) {
		inbox = mm_strdup(name);
		memcpy(inbox, "INBOX", 5);
	}
	for (i = 0; i < map->globs_count && !hit; i++) {
		const char *gi = map->globs_inbox[i];

		hit = fnmatch(map->globs[i], name, 0) == 0 ||
			(gi != NULL && inbox != NULL && fnmatch(gi, inbox, 0) == 0);
	}
	mm_free(&inbox);
	return hit;
}

/* OLD's name without its personal prefix (INBOX part in any case). */
static const char *strip_prefix(const char *name, const char *prefix, char sep)
{
	size_t plen = strlen(prefix), skip = 0;

	if (plen == 0 || strlen(name) < plen)
		return name;
	if (starts_inbox(prefix, sep)) {
		if (strncasecmp(name, prefix, 5) != 0)
			return name;
		skip = 5;
	}
	/* The prefix alone ("INBOX" for a prefix "INBOX") is no child. */
	if (strncmp(name + skip, prefix + skip, plen - skip) != 0 ||
	    name[plen] == '\0')
		return name;
	return name + plen;
}

/* The longest folder_map pair matching path or a parent of it; its
 * number of levels in *levels_r. ends[i]: where level i ends in path. */
static const struct folder_map_pair *
folder_map_lookup(const struct folder_map *map, const char *path,
		  const size_t *ends, size_t count, size_t *levels_r)
{
	size_t k, i;

	for (k = count; k > 0; k--) {
		for (i = 0; i < map->pairs_count; i++) {
			const char *old = map->pairs[i].old_path;

			if (strlen(old) == ends[k - 1] &&
			    memcmp(old, path, ends[k - 1]) == 0) {
				*levels_r = k;
				return &map->pairs[i];
			}
		}
	}
	return NULL;
}

/* Write the levels as NEW's raw name after head (a raw special-use
 * folder) or NEW's prefix. */
static int folder_map_encode(const struct folder_map_target *dst,
			     const char *head, const char *const *levels,
			     size_t count, struct fm_buf *out, const char *pname,
			     const char **error_r)
{
	char err[256], plevel[204];
	const char *prefix = dst->prefix != NULL ? dst->prefix : "";
	struct fm_buf enc;
	int first = head == NULL;
	size_t i;

	if (head != NULL) {
		if (buf_put(out, head, strlen(head)) < 0)
			goto too_long;
	} else if (strcmp(levels[0], "INBOX") != 0) {
		if (buf_put(out, prefix, strlen(prefix)) < 0)
			goto too_long;
	}
	if (dst->separator == '\0' && count > (first ? 1U : 0U)) {
		*error_r = fm_error("folder '%s': NEW has no hierarchy separator "
				    "for a name of several levels", pname);
		return -1;
	}
	for (i = 0; i < count; i++, first = 0) {
		if (dst->separator != '\0' && strchr(levels[i], dst->separator) != NULL) {
			log_printable(plevel, sizeof(plevel), levels[i],
				      strlen(levels[i]));
			*error_r = fm_error("folder '%s': level '%s' contains NEW's "
					    "separator '%c'", pname, plevel,
					    dst->separator);
			return -1;
		}
		if (!first && buf_putc(out, dst->separator) < 0)
			goto too_long;
		if (mutf7_encode(levels[i], enc.data, sizeof(enc.data), &enc.len,
				 err, sizeof(err)) < 0) {
			*error_r = fm_error("folder '%s': %s", pname, err);
			return -1;
		}
		if (buf_put(out, enc.data, enc.len) < 0)
			goto too_long;
	}
	return 0;
too_long:
	*error_r = fm_error("folder '%s': longer than %d bytes on NEW", pname,
			    FOLDER_MAP_MAX_NAME);
	return -1;
}

int folder_map_apply(const struct folder_map *map,
		     const struct folder_map_source *src,
		     const struct folder_map_target *dst,
		     const char *old_name, unsigned attrs,
		     char **target_r, const char **error_r)
{
	const char *src_prefix = src->prefix != NULL ? src->prefix : "";
	char pname[204], err[256], *path = NULL, **levels = NULL;
	const char **out_levels = NULL, *head = NULL;
	const struct folder_map_pair *pair = NULL;
	size_t len = strlen(old_name), count, i, k = 0, n, *ends = NULL;
	struct fm_buf dec, out;
	const char *rest;
	int use, ret = -1;

	*target_r = NULL;
	log_printable(pname, sizeof(pname), old_name, len);
	if (len == 0) {
		*error_r = fm_error("folder '': empty name");
		return -1;
	}
	/* 3, first half: the raw form, before anything can fail, so that
	 * a name we cannot read can still be excluded. */
	if (folder_map_excluded(map, old_name, src->separator))
		return 0;
	if (len > FOLDER_MAP_MAX_NAME) {
		*error_r = fm_error("folder '%s': longer than %d bytes on OLD",
				    pname, FOLDER_MAP_MAX_NAME);
		return -1;
	}

	/* 1, 2: the path, in '/' form and as levels. */
	rest = strip_prefix(old_name, src_prefix, src->separator);
	buf_init(&dec, FOLDER_MAP_MAX_TEXT);
	if (src->utf8) {
		/* RFC 6855: after ENABLE UTF8=ACCEPT names are UTF-8 and
		 * never modified UTF-7, so "A&B" is the name "A&B". */
		if (!utf8_text(rest)) {
			*error_r = fm_error("folder '%s': not well-formed UTF-8 "
					    "(OLD is in UTF8=ACCEPT mode)", pname);
			return -1;
		}
		if (buf_put(&dec, rest, strlen(rest)) < 0) {
			*error_r = fm_error("folder '%s': longer than %d bytes",
					    pname, FOLDER_MAP_MAX_TEXT);
			return -1;
		}
	} else if (raw_utf8(rest)) {
		/* A server that sends UTF-8 names as they are (RFC 6855
		 * style, or simply broken): take them as UTF-8. */
		if (buf_put(&dec, rest, strlen(rest)) < 0) {
			*error_r = fm_error("folder '%s': longer than %d bytes",
					    pname, FOLDER_MAP_MAX_TEXT);
			return -1;
		}
	} else if (mutf7_decode(rest, dec.data, sizeof(dec.data), &dec.len, err,
				sizeof(err)) < 0) {
		*error_r = fm_error("folder '%s': bad modified UTF-7: %s", pname, err);
		return -1;
	}
	count = 1;
	for (i = 0; src->separator != '\0' && i < dec.len; i++)
		count += dec.data[i] == src->separator;
	levels = mm_calloc(count, sizeof(*levels));
	ends = mm_calloc(count, sizeof(*ends));
	path = mm_memdup(dec.data, dec.len + 1);
	levels[0] = dec.data;
	for (i = 0, n = 0; i <= dec.len; i++) {
		if (i < dec.len && (src->separator == '\0' ||
				    dec.data[i] != src->separator))
			continue;
		if (i < dec.len) {
			dec.data[i] = '\0';
			path[i] = '/';
			levels[n + 1] = dec.data + i + 1;
		}
		ends[n] = i;
		if (*levels[n] == '\0') {
			*error_r = fm_error("folder '%s': empty hierarchy level", pname);
			goto out;
		}
		n++;
	}
	if (strcasecmp(levels[0], "INBOX") == 0) {
		memcpy(levels[0], "INBOX", 5);
		memcpy(path, "INBOX", 5);
	}

	/* 3: excluded by the path. */
	if (folder_map_excluded(map, path, '/')) {
		ret = 0;
		goto out;
	}

	/* 4, 5: renamed by folder_map, or to NEW's special-use folder. */
	if (map != NULL)
		pair = folder_map_lookup(map, path, ends, count, &k);
	out_levels = mm_calloc(count + (pair != NULL ? pair->new_count : 0),
			       sizeof(*out_levels));
	n = 0;
	if (pair != NULL) {
		for (i = 0; i < pair->new_count; i++)
			out_levels[n++] = pair->new_levels[i];
	} else if ((use = folder_map_special_use(levels, count, attrs)) >= 0 &&
		   dst->special[use] != NULL && *dst->special[use] != '\0') {
		head = dst->special[use];
		k = 1;
	}
	for (i = k; i < count; i++)
		out_levels[n++] = levels[i];

	/* 6: NEW's raw name. */
	buf_init(&out, FOLDER_MAP_MAX_NAME);
	if (folder_map_encode(dst, head, out_levels, n, &out, pname, error_r) < 0)
		goto out;
	*target_r = mm_memdup(out.data, out.len + 1);
	ret = 1;
out:
	mm_free(&out_levels);
	mm_free(&levels);
	mm_free(&ends);
	mm_free(&path);
	return ret;
}
