/*
 * NAME
 *	dav_url 3
 * SUMMARY
 *	the names in a DAV URL's path (dav_url.h)
 */
#include "config.h"

#include <string.h>

#include "dav_url.h"
#include "mm_alloc.h"

static int dav_hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* The last segment of url's path (a trailing '/' not counted), percent-
 * decoded; NULL if empty, too long, or decoding gives a NUL or a '/'. */
char *dav_last_seg(const char *url)
{
	size_t len = strlen(url), start, n = 0;
	char out[DAV_SEG_MAX + 1];

	while (len > 0 && url[len - 1] == '/')
		len--;
	start = len;
	while (start > 0 && url[start - 1] != '/')
		start--;
	for (size_t i = start; i < len; i++) {
		int ch = (unsigned char)url[i];

		if (ch == '%') {
			int hi = i + 2 < len ? dav_hexval(url[i + 1]) : -1;
			int lo = hi >= 0 ? dav_hexval(url[i + 2]) : -1;

			if (lo < 0)
				return NULL;
			ch = hi * 16 + lo;
			i += 2;
			if (ch == 0 || ch == '/')
				return NULL;
		}
		if (n >= DAV_SEG_MAX)
			return NULL;
		out[n++] = (char)ch;
	}
	if (n == 0)
		return NULL;
	out[n] = '\0';
	return mm_strdup(out);
}

/* url's last segment as sent (percent-encoded), with its trailing '/'
 * if any; a pointer into url. */
const char *dav_raw_seg(const char *url)
{
	size_t len = strlen(url);
	const char *end = url + len;

	while (end > url && end[-1] == '/')
		end--;
	while (end > url && end[-1] != '/')
		end--;
	return end;
}

/* Radicale names an unnamed collection by its path: not a name OLD's
 * user gave it (dav/test_dav_http.c). */
int dav_name_is_path(const char *name, const char *url)
{
	const char *path = strstr(url, "://");
	size_t len;

	if (name == NULL || path == NULL || (path = strchr(path + 3, '/')) == NULL)
		return 0;
	while (*path == '/')
		path++;
	len = strlen(path);
	while (len > 0 && path[len - 1] == '/')
		len--;
	return strlen(name) == len && strncmp(name, path, len) == 0;
}
