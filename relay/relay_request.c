/*
 * NAME
 *	relay_request 3
 * SUMMARY
 *	socketmap queries and replies
 * DESCRIPTION
 *	A query is the payload of one netstring: a map name, one space,
 *	a key (socketmap_table(5)). The name must be one we serve; the
 *	key is any text without control bytes. Replies are "OK data",
 *	"NOTFOUND ", "TEMP reason" or "PERM reason" as a netstring.
 *	Nothing here allocates: a query is parsed into the caller's
 *	buffers, so the request parser can run under a fuzzer at speed.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "relay.h"

static const char *const relay_map_names[RELAY_MAP_COUNT] = {
	"transport", "mailbox", "alias",
};

static const char *const relay_status_names[] = {
	"OK", "NOTFOUND", "TEMP", "PERM",
};

const char *relay_map_name(enum relay_map map)
{
	return (unsigned)map < RELAY_MAP_COUNT ? relay_map_names[map] : "?";
}

const char *relay_status_name(enum relay_status status)
{
	return (unsigned)status <= RELAY_PERM ? relay_status_names[status] : "?";
}

int relay_request_parse(const char *payload, size_t len, enum relay_map *map_r,
			char *key, size_t keysize, const char **error_r)
{
	const char *space = memchr(payload, ' ', len);
	size_t name_len, key_len;

	if (space == NULL) {
		*error_r = "no space between map name and key";
		return -1;
	}
	name_len = (size_t)(space - payload);
	key_len = len - name_len - 1;
	if (name_len == 0) {
		*error_r = "empty map name";
		return -1;
	}
	if (key_len == 0) {
		*error_r = "empty key";
		return -1;
	}
	for (size_t i = name_len + 1; i < len; i++) {
		unsigned char c = (unsigned char)payload[i];

		if (c < 0x20 || c == 0x7f) {
			*error_r = "control character in key";
			return -1;
		}
	}
	*map_r = RELAY_MAP_COUNT;
	for (int m = 0; m < RELAY_MAP_COUNT; m++) {
		if (strlen(relay_map_names[m]) == name_len &&
		    memcmp(relay_map_names[m], payload, name_len) == 0)
			*map_r = (enum relay_map)m;
	}
	if (*map_r == RELAY_MAP_COUNT) {
		*error_r = "unknown map name (transport, mailbox or alias)";
		return -1;
	}
	if (key_len >= keysize || key_len >= RELAY_MAX_KEY) {
		key[0] = '\0';
		return RELAY_NOTFOUND;
	}
	memcpy(key, space + 1, key_len);
	key[key_len] = '\0';
	return 0;
}

size_t relay_reply_format(enum relay_status status, const char *data,
			  char *buf, size_t bufsize)
{
	const char *word = relay_status_names[status <= RELAY_PERM ? status :
					      RELAY_PERM];
	size_t data_len = data != NULL ? strlen(data) : 0;
	size_t payload, max;
	int n;

	/* "<len>:" + word + ' ' + data + ','; at most 6 + 1 bytes of prefix. */
	if (bufsize < 32)
		return 0;
	max = bufsize - 16 - strlen(word);
	if (max > NETSTRING_SOCKETMAP_MAX_REPLY - strlen(word) - 1)
		max = NETSTRING_SOCKETMAP_MAX_REPLY - strlen(word) - 1;
	if (data_len > max)
		data_len = max;
	payload = strlen(word) + 1 + data_len;
	n = snprintf(buf, bufsize, "%zu:%s %.*s,", payload, word, (int)data_len,
		     data_len > 0 ? data : "");
	return n < 0 ? 0 : (size_t)n;
}
