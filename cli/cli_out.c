/*
 * NAME
 *	cli_out 3
 * SUMMARY
 *	output for mailmigrate(8): aligned tables, JSON, times, sizes
 * DESCRIPTION
 *	Text output is for people: local times, sizes in KiB/MiB, and
 *	control bytes from stored text (folder names, peer error messages)
 *	shown as '?' so they cannot drive the terminal. JSON output is for
 *	programs: UTC times ("2026-11-23T12:00:00Z") or null, numbers for
 *	counters, and strings that are always valid JSON and valid UTF-8:
 *	control characters as \u00XX, invalid UTF-8 bytes as \uFFFD.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "log.h"
#include "mm_alloc.h"

#define CLI_JSON_MAX_DEPTH ((int)(sizeof(((struct cli_json *)0)->first) / sizeof(int)))

/* Length of the valid UTF-8 sequence at p (at most len bytes), or 0.
 * Overlong forms, surrogates and code points over U+10FFFF are not
 * valid (RFC 3629). */
static size_t cli_utf8_len(const unsigned char *p, size_t len)
{
	unsigned char c = p[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (len < n)
		return 0;
	/* The second byte's range excludes overlongs and surrogates. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* Local time for people. */
const char *cli_time_local(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || localtime_r(&tt, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S %z", &tm) == 0)
		snprintf(buf, size, "%s", t == 0 ? "never" : "?");
	return buf;
}

/* UTC time for programs. */
const char *cli_time_utc(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "1970-01-01T00:00:00Z");
	return buf;
}

/* A size in bytes for people, in powers of 1024. */
const char *cli_size_human(uint64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = {
		"KiB", "MiB", "GiB", "TiB", "PiB", "EiB",
	};
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(buf, size, "%llu B", (unsigned long long)bytes);
		return buf;
	}
	v /= 1024.0;
	while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, size, "%.1f %s", v, units[u]);
	return buf;
}

/* Stored text for a terminal: valid UTF-8 stays, the rest is '?'. */
const char *cli_printable(const char *text, char *buf, size_t size)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t len = strlen(text), i = 0, o = 0;

	if (size == 0)
		return buf;
	while (i < len) {
		size_t n = cli_utf8_len(p + i, len - i);

		/* C0, DEL and C1 controls: terminals act on them. */
		if (n == 0 || p[i] < 0x20 || p[i] == 0x7f ||
		    (n == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0)) {
			if (n == 0)
				n = 1;
			if (o + 1 >= size)
				break;
			buf[o++] = '?';
		} else {
			if (o + n >= size)
				break;
			memcpy(buf + o, p + i, n);
			o += n;
		}
		i += n;
	}
	if (i < len && size > 4) {
		/* Mark the cut, on a character boundary. */
		size_t keep = o > size - 4 ? size - 4 : o;

		if (keep < o)
			while (keep > 0 && ((unsigned char)buf[keep] & 0xc0) == 0x80)
				keep--;
		memcpy(buf + keep, "...", 3);
		o = keep + 3;
	}
	buf[o] = '\0';
	return buf;
}

/* One aligned "Label:  value" line. */
void cli_kv(const char *label, const char *value)
{
	char head[CLI_KV_WIDTH + 8];

	snprintf(head, sizeof(head), "%s:", label);
	printf("%-*s %s\n", CLI_KV_WIDTH - 1, head, value);
}

/* The same, formatted. */
void cli_kvf(const char *label, const char *fmt, ...)
{
	char value[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	cli_kv(label, value);
}

/* --- tables ------------------------------------------------------------ */

struct cli_table {
	size_t ncols;
	int *right;
	char **cells;		/* (rows + 1) * ncols, the header first */
	size_t rows;		/* data rows */
};

/* Columns shown on a terminal: UTF-8 continuation bytes take none. */
static size_t cli_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

/* A table with a header row. */
struct cli_table *cli_table_new(size_t ncols, const char *const *headers,
				const int *right)
{
	struct cli_table *t = mm_calloc(1, sizeof(*t));

	t->ncols = ncols;
	t->right = mm_memdup(right, ncols * sizeof(int));
	t->cells = mm_reallocarray(NULL, ncols, sizeof(char *));
	for (size_t i = 0; i < ncols; i++)
		t->cells[i] = mm_strdup(headers[i]);
	return t;
}

/* Append a row. */
void cli_table_add(struct cli_table *t, const char *const *cells)
{
	size_t base = (t->rows + 1) * t->ncols;

	t->cells = mm_reallocarray(t->cells, base + t->ncols, sizeof(char *));
	for (size_t i = 0; i < t->ncols; i++)
		t->cells[base + i] = mm_strdup(cells[i]);
	t->rows++;
}

/* Print with each column as wide as its widest cell. */
void cli_table_print(const struct cli_table *t, FILE *fp)
{
	size_t *width = mm_calloc(t->ncols, sizeof(size_t));

	for (size_t r = 0; r <= t->rows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t w = cli_width(t->cells[r * t->ncols + c]);

			if (w > width[c])
				width[c] = w;
		}
	for (size_t r = 0; r <= t->rows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[r * t->ncols + c];
			size_t pad = width[c] - cli_width(cell);
			int last = c + 1 == t->ncols;

			if (t->right[c])
				fprintf(fp, "%*s", (int)pad, "");
			fputs(cell, fp);
			if (!t->right[c] && !last)
				fprintf(fp, "%*s", (int)pad, "");
			fputs(last ? "\n" : "  ", fp);
		}
	}
	mm_free(&width);
}

/* Free the table and its cells; NULL is fine. */
void cli_table_free(struct cli_table **tp)
{
	struct cli_table *t = *tp;

	if (t == NULL)
		return;
	for (size_t i = 0; i < (t->rows + 1) * t->ncols; i++)
		mm_free(&t->cells[i]);
	mm_free(&t->cells);
	mm_free(&t->right);
	mm_free(tp);
}

/* --- JSON ------------------------------------------------------------- */

/* A JSON string literal. */
void cli_json_quote(FILE *fp, const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t i = 0;

	fputc('"', fp);
	while (i < len) {
		unsigned char c = p[i];
		size_t n;

		switch (c) {
		case '"': fputs("\\\"", fp); i++; continue;
		case '\\': fputs("\\\\", fp); i++; continue;
		case '\n': fputs("\\n", fp); i++; continue;
		case '\r': fputs("\\r", fp); i++; continue;
		case '\t': fputs("\\t", fp); i++; continue;
		case '\b': fputs("\\b", fp); i++; continue;
		case '\f': fputs("\\f", fp); i++; continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7f) {
			fprintf(fp, "\\u%04x", c);
			i++;
			continue;
		}
		n = cli_utf8_len(p + i, len - i);
		if (n == 0) {
			fputs("\\ufffd", fp);
			i++;
			continue;
		}
		fwrite(p + i, 1, n, fp);
		i += n;
	}
	fputc('"', fp);
}

/* Start a document on fp. */
void cli_json_init(struct cli_json *j, FILE *fp)
{
	memset(j, 0, sizeof(*j));
	j->fp = fp;
	j->first[0] = 1;
}

/* The separator, indentation and key before a value. */
static void cli_json_member(struct cli_json *j, const char *key)
{
	if (j->depth > 0) {
		fputs(j->first[j->depth] ? "\n" : ",\n", j->fp);
		fprintf(j->fp, "%*s", j->depth * 2, "");
	}
	j->first[j->depth] = 0;
	if (key != NULL) {
		cli_json_quote(j->fp, key, strlen(key));
		fputs(": ", j->fp);
	}
}

/* Open a container. */
static void cli_json_open(struct cli_json *j, const char *key, char open)
{
	cli_json_member(j, key);
	fputc(open, j->fp);
	if (j->depth + 1 >= CLI_JSON_MAX_DEPTH)
		log_panic("cli_json: nested too deep");
	j->first[++j->depth] = 1;
}

/* Open an object (a member named key, or an element). */
void cli_json_object(struct cli_json *j, const char *key)
{
	cli_json_open(j, key, '{');
}

/* Open an array. */
void cli_json_array(struct cli_json *j, const char *key)
{
	cli_json_open(j, key, '[');
}

/* Close what is open with close ('}' or ']'). */
void cli_json_end(struct cli_json *j, char close)
{
	if (j->depth == 0)
		log_panic("cli_json_end: nothing open");
	if (!j->first[j->depth--])
		fprintf(j->fp, "\n%*s", j->depth * 2, "");
	fputc(close, j->fp);
	if (j->depth == 0)
		fputc('\n', j->fp);
}

/* A string, or null. */
void cli_json_str(struct cli_json *j, const char *key, const char *str)
{
	cli_json_member(j, key);
	if (str == NULL)
		fputs("null", j->fp);
	else
		cli_json_quote(j->fp, str, strlen(str));
}

/* A counter. */
void cli_json_u64(struct cli_json *j, const char *key, uint64_t value)
{
	cli_json_member(j, key);
	fprintf(j->fp, "%llu", (unsigned long long)value);
}

void cli_json_i64(struct cli_json *j, const char *key, int64_t value)
{
	cli_json_member(j, key);
	fprintf(j->fp, "%lld", (long long)value);
}

/* true or false. */
void cli_json_bool(struct cli_json *j, const char *key, int value)
{
	cli_json_member(j, key);
	fputs(value ? "true" : "false", j->fp);
}

/* null. */
void cli_json_null(struct cli_json *j, const char *key)
{
	cli_json_member(j, key);
	fputs("null", j->fp);
}

/* A UTC time, or null for 0 (never). */
void cli_json_time(struct cli_json *j, const char *key, int64_t t)
{
	char buf[64];

	if (t == 0) {
		cli_json_null(j, key);
		return;
	}
	cli_json_str(j, key, cli_time_utc(t, buf, sizeof(buf)));
}
