/*
 * NAME
 *	fuzz_relay_request 1
 * SUMMARY
 *	libFuzzer target: a client's byte stream through the netstring
 *	reader and the socketmap query parser
 * DESCRIPTION
 *	The input is fed to one connection in chunks whose sizes come
 *	from the input's first byte, as a client splitting its writes
 *	would; the maps are a stub, so only our parsing is exercised.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mm_alloc.h"
#include "relay.h"

enum relay_status relay_map_lookup(struct relay_maps *maps, enum relay_map map,
				   const char *key, char *data, size_t datasize)
{
	if ((unsigned)map >= RELAY_MAP_COUNT || strlen(key) >= RELAY_MAX_KEY)
		__builtin_trap();
	maps->lookups[map]++;
	if (key[0] == 'o') {
		snprintf(data, datasize, "smtp:[%s]:25", key);
		return RELAY_OK;
	}
	return key[0] == 't' ? RELAY_TEMP : RELAY_NOTFOUND;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relay_conn conn = { .fd = -1 };
	struct relay_maps maps = { 0 };
	size_t chunk, off = 0;
	const char *error;

	if (size == 0)
		return 0;
	chunk = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	conn.in = mm_malloc(RELAY_IN_SIZE);
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;

		if (n > RELAY_IN_SIZE - conn.in_len)
			n = RELAY_IN_SIZE - conn.in_len;
		memcpy(conn.in + conn.in_len, data + off, n);
		conn.in_len += n;
		off += n;
		if (relay_conn_process(&conn, &maps, &error) < 0)
			break;
		/* What is left is one incomplete query, never a full buffer. */
		if (conn.in_len >= RELAY_IN_SIZE)
			__builtin_trap();
		conn.out_len = conn.out_off = 0;
	}
	relay_conn_free_buffers(&conn);
	return 0;
}
