/*
 * NAME
 *	metrics 3
 * SUMMARY
 *	the Prometheus text exposition format, written
 * DESCRIPTION
 *	See metrics.h. The escaping follows the format's rules: in label
 *	values \ " and newline become \\ \" \n; in HELP text \ and
 *	newline only. Any other byte passes as it is (the format is
 *	UTF-8; we write what we were given).
 */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "mm_alloc.h"

void metrics_text_init(struct metrics_text *t)
{
	t->data = NULL;
	t->len = t->size = 0;
}

void metrics_text_free(struct metrics_text *t)
{
	mm_free(&t->data);
	t->len = t->size = 0;
}

/* Room for n more bytes and a NUL. */
static void text_reserve(struct metrics_text *t, size_t n)
{
	size_t want = t->len + n + 1;

	if (want <= t->size)
		return;
	if (t->size == 0)
		t->size = 4096;
	while (t->size < want)
		t->size *= 2;
	t->data = mm_realloc(t->data, t->size);
}

static void text_add(struct metrics_text *t, const char *s, size_t n)
{
	text_reserve(t, n);
	memcpy(t->data + t->len, s, n);
	t->len += n;
	t->data[t->len] = '\0';
}

void metrics_text_printf(struct metrics_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	text_reserve(t, (size_t)n);
	va_start(ap, fmt);
	(void)vsnprintf(t->data + t->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

/* s escaped: always \ and newline, and " too in a label value. */
static void text_escaped(struct metrics_text *t, const char *s, int quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			text_add(t, "\\\\", 2);
		else if (*s == '\n')
			text_add(t, "\\n", 2);
		else if (*s == '"' && quote)
			text_add(t, "\\\"", 2);
		else
			text_add(t, s, 1);
	}
}

void metrics_family(struct metrics_text *t, const char *name, const char *type,
		    const char *help)
{
	metrics_text_printf(t, "# HELP %s ", name);
	text_escaped(t, help, 0);
	metrics_text_printf(t, "\n# TYPE %s %s\n", name, type);
}

/* name{labels[,le="le"]} with a space after it. */
static void sample_head(struct metrics_text *t, const char *name,
			const char *const *labels, const char *le)
{
	int first = 1;

	text_add(t, name, strlen(name));
	if ((labels == NULL || labels[0] == NULL) && le == NULL) {
		text_add(t, " ", 1);
		return;
	}
	text_add(t, "{", 1);
	for (size_t i = 0; labels != NULL && labels[i] != NULL &&
	     labels[i + 1] != NULL; i += 2) {
		metrics_text_printf(t, "%s%s=\"", first ? "" : ",", labels[i]);
		text_escaped(t, labels[i + 1], 1);
		text_add(t, "\"", 1);
		first = 0;
	}
	if (le != NULL)
		metrics_text_printf(t, "%sle=\"%s\"", first ? "" : ",", le);
	text_add(t, "} ", 2);
}

void metrics_u64(struct metrics_text *t, const char *name,
		 const char *const *labels, uint64_t value)
{
	sample_head(t, name, labels, NULL);
	metrics_text_printf(t, "%llu\n", (unsigned long long)value);
}

void metrics_format_double(double v, char *buf, size_t size)
{
	if (isnan(v)) {
		snprintf(buf, size, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, size, "%cInf", v > 0 ? '+' : '-');
		return;
	}
	/* The fewest digits that read back as the same double. */
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	/* 5e-05 reads better, and the same, as 0.00005. */
	if (strchr(buf, 'e') != NULL && (v < 0 ? -v : v) >= 1e-9 &&
	    (v < 0 ? -v : v) < 1e15) {
		char fixed[64];

		for (int dec = 0; dec <= 20; dec++) {
			snprintf(fixed, sizeof(fixed), "%.*f", dec, v);
			if (strtod(fixed, NULL) == v) {
				snprintf(buf, size, "%s", fixed);
				break;
			}
		}
	}
}

void metrics_double(struct metrics_text *t, const char *name,
		    const char *const *labels, double value)
{
	char num[64];

	metrics_format_double(value, num, sizeof(num));
	sample_head(t, name, labels, NULL);
	metrics_text_printf(t, "%s\n", num);
}

void metrics_histogram_init(struct metrics_histogram *h, const double *bounds,
			    size_t nbounds)
{
	memset(h, 0, sizeof(*h));
	if (nbounds > METRICS_MAX_BUCKETS)
		nbounds = METRICS_MAX_BUCKETS;
	for (size_t i = 0; i < nbounds; i++)
		h->bounds[i] = bounds[i];
	h->nbounds = nbounds;
}

void metrics_histogram_observe(struct metrics_histogram *h, double v)
{
	size_t i = 0;

	while (i < h->nbounds && v > h->bounds[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum += v;
}

void metrics_histogram_write(struct metrics_text *t, const char *name,
			     const char *const *labels,
			     const struct metrics_histogram *h)
{
	char sub[256], le[64];
	uint64_t cumulative = 0;

	snprintf(sub, sizeof(sub), "%s_bucket", name);
	for (size_t i = 0; i <= h->nbounds; i++) {
		cumulative += h->counts[i];
		if (i < h->nbounds)
			metrics_format_double(h->bounds[i], le, sizeof(le));
		else
			snprintf(le, sizeof(le), "+Inf");
		sample_head(t, sub, labels, le);
		metrics_text_printf(t, "%llu\n", (unsigned long long)cumulative);
	}
	snprintf(sub, sizeof(sub), "%s_sum", name);
	metrics_double(t, sub, labels, h->sum);
	snprintf(sub, sizeof(sub), "%s_count", name);
	metrics_u64(t, sub, labels, h->count);
}
