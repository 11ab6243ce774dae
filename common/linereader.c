/*
 * NAME
 *	linereader 3
 * SUMMARY
 *	bounded line reader over a file descriptor
 * DESCRIPTION
 *	The buffer holds at most max_line + 2 bytes of one line: the
 *	line itself, a CR that may be followed by LF, and one byte more
 *	that proves the line too long. Anything beyond that is refused
 *	at once (LINEREADER_TOOLONG) and the rest of the line is read in
 *	buffer-sized chunks and thrown away up to the next LF, so a peer
 *	cannot make us hold more than max_line bytes, however long the
 *	line is or however slowly it arrives.
 *
 *	A CR is stripped only just before a LF. A last line without LF
 *	keeps any trailing CR as data.
 * DIAGNOSTICS
 *	LINEREADER_ERROR with errno from read(2); EINTR is retried.
 *	A maximum that cannot be allocated is a panic (our bug).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "linereader.h"
#include "log.h"
#include "mm_alloc.h"

struct linereader {
	int fd;
	size_t max_line;
	char *buf;		/* cap + 1 bytes: room for a NUL */
	size_t cap;		/* max_line + 2 */
	size_t start;		/* first unreturned byte */
	size_t end;		/* end of the buffered bytes */
	size_t scanned;		/* buf[start..scanned) holds no LF */
	unsigned long lineno;
	int had_cr;
	int skipping;		/* inside a refused line, until its LF */
	int eof;
};

/* Make a reader for fd; lines over max_line bytes are refused. */
struct linereader *linereader_new(int fd, size_t max_line)
{
	struct linereader *lr;

	if (max_line > SIZE_MAX / 2)
		log_panic("linereader_new: max_line %zu is absurd", max_line);
	lr = mm_calloc(1, sizeof(*lr));
	lr->fd = fd;
	lr->max_line = max_line;
	lr->cap = max_line + 2;
	lr->buf = mm_malloc(lr->cap + 1);
	return lr;
}

/* Wipe and free the reader; the fd is left open. */
void linereader_free(struct linereader **lrp)
{
	struct linereader *lr = *lrp;

	if (lr == NULL)
		return;
	mm_wipe(lr->buf, lr->cap + 1);
	mm_free(&lr->buf);
	mm_wipe(lr, sizeof(*lr));
	mm_free(lrp);
}

/* read(2) into buf[end..cap), retrying EINTR; returns read()'s result. */
static ssize_t linereader_fill(struct linereader *lr)
{
	ssize_t n;

	do {
		n = read(lr->fd, lr->buf + lr->end, lr->cap - lr->end);
	} while (n < 0 && errno == EINTR);
	if (n > 0)
		lr->end += (size_t)n;
	else if (n == 0)
		lr->eof = 1;
	return n;
}

/* Throw bytes away up to and including the next LF.
 * Returns 1 when the LF was found, 0 at EOF, -1 on a read error. */
static int linereader_skip(struct linereader *lr)
{
	for (;;) {
		char *lf = memchr(lr->buf + lr->start, '\n', lr->end - lr->start);

		if (lf != NULL) {
			lr->start = (size_t)(lf - lr->buf) + 1;
			lr->scanned = lr->start;
			lr->skipping = 0;
			return 1;
		}
		/* Nothing here is kept: reuse the whole buffer. */
		lr->start = lr->end = lr->scanned = 0;
		if (lr->eof)
			return 0;
		if (linereader_fill(lr) < 0)
			return -1;
	}
}

/* Hand out buf[start..start+len) as the current line, consuming used. */
static enum linereader_status
linereader_emit(struct linereader *lr, size_t len, size_t used, int had_cr,
		const char **line_r, size_t *len_r)
{
	char *line = lr->buf + lr->start;

	line[len] = '\0';
	lr->start += used;
	lr->scanned = lr->start;
	lr->had_cr = had_cr;
	lr->lineno++;
	*line_r = line;
	*len_r = len;
	return LINEREADER_LINE;
}

/* Refuse the line being read and arrange for its rest to be skipped. */
static enum linereader_status linereader_refuse(struct linereader *lr)
{
	lr->start = lr->end = lr->scanned = 0;
	lr->skipping = 1;
	lr->had_cr = 0;
	lr->lineno++;
	return LINEREADER_TOOLONG;
}

/* The next line, a refused line, EOF or a read error. */
enum linereader_status linereader_next(struct linereader *lr,
				       const char **line_r, size_t *len_r)
{
	if (lr->skipping) {
		int ret = linereader_skip(lr);

		if (ret < 0)
			return LINEREADER_ERROR;
		if (ret == 0)
			return LINEREADER_EOF;
	}
	for (;;) {
		size_t pending = lr->end - lr->start;
		char *lf = memchr(lr->buf + lr->scanned, '\n',
				  lr->end - lr->scanned);

		if (lf != NULL) {
			size_t used = (size_t)(lf - (lr->buf + lr->start)) + 1;
			size_t len = used - 1;
			int cr = len > 0 && lr->buf[lr->start + len - 1] == '\r';

			if (cr)
				len--;
			if (len > lr->max_line) {
				/* Whole line arrived in one read: just drop it. */
				lr->start += used;
				lr->scanned = lr->start;
				lr->had_cr = 0;
				lr->lineno++;
				return LINEREADER_TOOLONG;
			}
			return linereader_emit(lr, len, used, cr, line_r, len_r);
		}
		lr->scanned = lr->end;
		/* No LF yet: refuse as soon as the line cannot fit, that is
		 * more than max_line bytes that are not max_line + CR. */
		if (pending > lr->max_line + 1 ||
		    (pending == lr->max_line + 1 && lr->buf[lr->end - 1] != '\r'))
			return linereader_refuse(lr);
		if (lr->eof) {
			if (pending == 0)
				return LINEREADER_EOF;
			if (pending > lr->max_line)
				return linereader_refuse(lr);
			return linereader_emit(lr, pending, pending, 0,
					       line_r, len_r);
		}
		if (lr->start > 0) {
			memmove(lr->buf, lr->buf + lr->start, pending);
			lr->start = 0;
			lr->end = pending;
			lr->scanned = pending;
		}
		if (linereader_fill(lr) < 0)
			return LINEREADER_ERROR;
	}
}

/* Number of the line last returned or refused, from 1. */
int linereader_has_line(const struct linereader *lr)
{
	/* A refused line being skipped still needs reads to its LF. */
	if (lr->skipping)
		return 0;
	return lr->eof ||
		memchr(lr->buf + lr->start, '\n', lr->end - lr->start) != NULL;
}

unsigned long linereader_lineno(const struct linereader *lr)
{
	return lr->lineno;
}

/* Did the line last returned end in CRLF? */
int linereader_had_cr(const struct linereader *lr)
{
	return lr->had_cr;
}
