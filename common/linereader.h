/*
 * NAME
 *	linereader 3h
 * SUMMARY
 *	bounded line reader over a file descriptor
 * DESCRIPTION
 *	Returns one line at a time without its LF (and without a CR
 *	just before it). A line longer than the maximum is refused as
 *	soon as the maximum is passed, before the rest arrives: its bytes
 *	are skipped up to the next LF without being buffered, and
 *	LINEREADER_TOOLONG is returned once for it. Lines may hold NUL
 *	bytes; the length says where they end. The buffer is wiped when
 *	the reader is freed (bulk files hold passwords).
 */
#ifndef MM_LINEREADER_H
#define MM_LINEREADER_H

#include <stddef.h>

enum linereader_status {
	LINEREADER_LINE,	/* *line_r, *len_r set */
	LINEREADER_EOF,		/* no more input */
	LINEREADER_TOOLONG,	/* a line over max_line bytes was skipped */
	LINEREADER_ERROR,	/* read(2) failed: errno is set */
};

struct linereader;

/* fd stays the caller's: it is not closed by linereader_free(). */
struct linereader *linereader_new(int fd, size_t max_line);
void linereader_free(struct linereader **lr);

/* The next line. *line_r is valid until the next call; it is NUL-
 * terminated at *len_r for convenience, but may hold NULs before that.
 * A last line with no LF is returned as a line. */
enum linereader_status linereader_next(struct linereader *lr,
				       const char **line_r, size_t *len_r);

/* 1 when the next linereader_next() returns without reading: a whole
 * line (or the end) is buffered. A caller with a deadline polls the fd
 * only when this is 0. */
int linereader_has_line(const struct linereader *lr);

/* Number of the line last returned (or skipped), from 1. */
unsigned long linereader_lineno(const struct linereader *lr);
/* Did the line last returned end in CRLF? */
int linereader_had_cr(const struct linereader *lr);

#endif
