/*
 * NAME
 *	store_lmdb_rate 3
 * SUMMARY
 *	the copy rate: messages and bytes per minute, for stats
 * DESCRIPTION
 *	One meta record "rate" holds STORE_RATE_MINUTES buckets (minute
 *	since the epoch, messages, bytes, time of the first copy), indexed by minute modulo their
 *	count; a bucket from an older minute is reused. Every transaction
 *	that records copied messages adds to it, so the figure is as
 *	current as the counters.
 */
#include "config.h"

#include <string.h>

#include "store_lmdb.h"

#define RATE_KEY "rate"
#define RATE_REC_SIZE (STORE_RATE_MINUTES * 32)

int store_rate_load_txn(struct store *store, MDB_txn *txn,
			struct store_rate_bucket b[STORE_RATE_MINUTES],
			const char **error_r)
{
	MDB_val v;
	int ret = store_get(store, txn, STORE_DB_META, RATE_KEY, strlen(RATE_KEY), &v,
			    error_r);

	memset(b, 0, sizeof(*b) * STORE_RATE_MINUTES);
	if (ret < 0)
		return -1;
	if (ret == STORE_NOTFOUND || v.mv_size != RATE_REC_SIZE)
		return 0;	/* none yet, or of another layout: start over */
	for (size_t i = 0; i < STORE_RATE_MINUTES; i++) {
		const unsigned char *p = (const unsigned char *)v.mv_data + i * 32;

		b[i].minute = store_get_be64(p);
		b[i].messages = store_get_be64(p + 8);
		b[i].bytes = store_get_be64(p + 16);
		b[i].first = store_get_be64(p + 24);
	}
	return 0;
}

int store_rate_add_txn(struct store *store, MDB_txn *txn, time_t now,
		       uint64_t messages, uint64_t bytes, const char **error_r)
{
	struct store_rate_bucket b[STORE_RATE_MINUTES];
	unsigned char buf[RATE_REC_SIZE];
	uint64_t minute = now > 0 ? (uint64_t)now / 60 : 0;
	struct store_rate_bucket *cur = &b[minute % STORE_RATE_MINUTES];

	if (messages == 0 && bytes == 0)
		return 0;
	if (store_rate_load_txn(store, txn, b, error_r) < 0)
		return -1;
	if (cur->minute != minute || cur->first == 0) {
		cur->minute = minute;
		cur->messages = cur->bytes = 0;
		cur->first = (uint64_t)now;
	}
	cur->messages += messages;
	cur->bytes += bytes;
	for (size_t i = 0; i < STORE_RATE_MINUTES; i++) {
		store_be64(buf + i * 32, b[i].minute);
		store_be64(buf + i * 32 + 8, b[i].messages);
		store_be64(buf + i * 32 + 16, b[i].bytes);
		store_be64(buf + i * 32 + 24, b[i].first);
	}
	return store_put(store, txn, STORE_DB_META, RATE_KEY, strlen(RATE_KEY), buf,
			 sizeof(buf), error_r);
}

int store_rate_get_txn(struct store *store, MDB_txn *txn, time_t now,
		       unsigned window, uint64_t *messages_r, uint64_t *bytes_r,
		       unsigned *seconds_r, const char **error_r)
{
	struct store_rate_bucket b[STORE_RATE_MINUTES];
	int64_t start = (int64_t)now - (int64_t)window, first = -1;

	*messages_r = *bytes_r = 0;
	*seconds_r = 0;
	if (store_rate_load_txn(store, txn, b, error_r) < 0)
		return -1;
	for (size_t i = 0; i < STORE_RATE_MINUTES; i++) {
		int64_t t = (int64_t)b[i].minute * 60;

		/* Buckets whose minute overlaps the window. */
		if (b[i].messages == 0 || t + 60 <= start || t > (int64_t)now)
			continue;
		*messages_r += b[i].messages;
		*bytes_r += b[i].bytes;
		t = (int64_t)b[i].first;
		if (first < 0 || t < first)
			first = t;
	}
	if (first >= 0) {
		/* From the first activity seen (not before the window) to now. */
		int64_t from = first > start ? first : start;

		*seconds_r = (unsigned)((int64_t)now - from + 1);
	}
	return 0;
}
