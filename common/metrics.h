/*
 * NAME
 *	metrics 3h
 * SUMMARY
 *	the Prometheus text exposition format, written
 * DESCRIPTION
 *	A text builder for version 0.0.4 of the format Prometheus scrapes:
 *	a "# HELP" and "# TYPE" line per family, then its samples, label
 *	values escaped (backslash, double quote, newline), histograms as
 *	cumulative _bucket{le="..."} samples ending at le="+Inf", then
 *	_sum and _count. Names and label names are the caller's
 *	constants; label values may be any text.
 *
 *	metrics_http.c serves what a daemon writes here on /metrics.
 * OWNERSHIP
 *	struct metrics_text owns its buffer (metrics_text_free()); a
 *	histogram holds its counts inline, so it can live in shared memory.
 */
#ifndef MM_METRICS_H
#define MM_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* The most bucket bounds a histogram has (+Inf not counted). */
#define METRICS_MAX_BUCKETS 24

struct metrics_text {
	char *data;		/* NUL-terminated after len bytes */
	size_t len, size;
};

/* Start empty (no allocation until something is written). */
void metrics_text_init(struct metrics_text *t);
void metrics_text_free(struct metrics_text *t);
/* printf into the text. */
void metrics_text_printf(struct metrics_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "# HELP name help" (help escaped) and "# TYPE name type".
 * @param type	"counter", "gauge" or "histogram" */
void metrics_family(struct metrics_text *t, const char *name, const char *type,
		    const char *help);
/* One sample: name{l1="v1",...} value.
 * @param labels	NULL, or name, value, name, value, ..., NULL */
void metrics_u64(struct metrics_text *t, const char *name,
		 const char *const *labels, uint64_t value);
void metrics_double(struct metrics_text *t, const char *name,
		    const char *const *labels, double value);

/* The shortest decimal that reads back as v ("0.00005", "1e+20"),
 * "NaN", "+Inf" or "-Inf", into buf (32 bytes are enough). */
void metrics_format_double(double v, char *buf, size_t size);

struct metrics_histogram {
	size_t nbounds;				/* <= METRICS_MAX_BUCKETS */
	double bounds[METRICS_MAX_BUCKETS];	/* increasing upper bounds */
	uint64_t counts[METRICS_MAX_BUCKETS + 1]; /* per bucket, not
						     cumulative; last: +Inf */
	uint64_t count;
	double sum;
};

/* Zero h with the bounds (at most METRICS_MAX_BUCKETS, increasing;
 * more are ignored). */
void metrics_histogram_init(struct metrics_histogram *h, const double *bounds,
			    size_t nbounds);
/* Count one observation of v into the first bucket whose bound >= v. */
void metrics_histogram_observe(struct metrics_histogram *h, double v);
/* name_bucket{labels,le="..."} for each bound and +Inf (cumulative),
 * name_sum and name_count; name is the family's, without suffix. */
void metrics_histogram_write(struct metrics_text *t, const char *name,
			     const char *const *labels,
			     const struct metrics_histogram *h);

#endif
