/*
 * NAME
 *	relay_conn 3
 * SUMMARY
 *	one socketmap client: bounded input, queued replies
 * DESCRIPTION
 *	Input is read into a buffer that holds exactly one maximal query
 *	netstring, so a client can never make us buffer more than
 *	RELAY_IN_SIZE bytes; the netstring length is checked before its
 *	payload arrives, and a query announced over 10,000 bytes closes
 *	the connection at once. Pipelined queries are answered in order.
 *	While replies wait for the client to read them, no more input is
 *	read: the output buffer is bounded by the replies to one input
 *	buffer's worth of queries. A bad query is answered PERM and the
 *	connection kept; they are counted and logged in one line when the
 *	connection closes (the first one shown), so a client sending
 *	thousands cannot flood the log.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "mm_alloc.h"
#include "relay.h"

/* Append one reply to the output buffer. */
static void conn_reply(struct relay_conn *conn, const char *reply, size_t len)
{
	if (conn->out_off > 0 && conn->out_off == conn->out_len)
		conn->out_off = conn->out_len = 0;
	if (conn->out_len + len > conn->out_size) {
		size_t size = conn->out_size == 0 ? 512 : conn->out_size;

		while (size < conn->out_len + len)
			size *= 2;
		conn->out = mm_realloc(conn->out, size);
		conn->out_size = size;
	}
	memcpy(conn->out + conn->out_len, reply, len);
	conn->out_len += len;
}

/* Answer one query payload. */
static void conn_query(struct relay_conn *conn, struct relay_maps *maps,
		       const char *payload, size_t len)
{
	char key[RELAY_MAX_KEY], data[RELAY_MAX_DATA], reply[RELAY_REPLY_SIZE];
	enum relay_status status;
	enum relay_map map;
	const char *error;
	int ret;

	conn->queries++;
	ret = relay_request_parse(payload, len, &map, key, sizeof(key), &error);
	if (ret < 0) {
		char shown[120];

		if (conn->bad_queries++ == 0)
			snprintf(conn->bad_first, sizeof(conn->bad_first), "'%s': %s",
				 log_printable(shown, sizeof(shown), payload, len),
				 error);
		status = RELAY_PERM;
		snprintf(data, sizeof(data), "bad query: %s", error);
	} else if (ret == RELAY_NOTFOUND) {
		status = RELAY_NOTFOUND;
	} else {
		status = relay_map_lookup(maps, map, key, data, sizeof(data));
	}
	len = relay_reply_format(status, status == RELAY_NOTFOUND ? NULL : data,
				 reply, sizeof(reply));
	conn_reply(conn, reply, len);
}

int relay_conn_process(struct relay_conn *conn, struct relay_maps *maps,
		       const char **error_r)
{
	size_t done = 0;

	while (done < conn->in_len) {
		const char *payload;
		size_t payload_len, consumed;
		enum netstring_status st;

		st = netstring_parse(conn->in + done, conn->in_len - done,
				     NETSTRING_SOCKETMAP_MAX_QUERY, &payload,
				     &payload_len, &consumed, error_r);
		if (st == NETSTRING_ERROR)
			return -1;
		if (st == NETSTRING_NEED_MORE)
			break;
		conn_query(conn, maps, payload, payload_len);
		done += consumed;
	}
	if (done > 0) {
		memmove(conn->in, conn->in + done, conn->in_len - done);
		conn->in_len -= done;
	}
	return 0;
}

/* Try to write what is pending. */
static enum relay_conn_result conn_flush(struct relay_conn *conn, time_t now)
{
	while (conn->out_off < conn->out_len) {
		ssize_t n = send(conn->fd, conn->out + conn->out_off,
				 conn->out_len - conn->out_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return RELAY_CONN_WRITE;
			log_info("client #%llu (%s): write: %s; closing",
				 (unsigned long long)conn->id, conn->peer,
				 strerror(errno));
			return RELAY_CONN_CLOSE;
		}
		conn->out_off += (size_t)n;
		conn->last_active = now;
	}
	conn->out_off = conn->out_len = 0;
	return RELAY_CONN_READ;
}

/* Answer what is buffered, then write. */
static enum relay_conn_result conn_answer(struct relay_conn *conn,
					  struct relay_maps *maps, time_t now)
{
	const char *error;

	if (relay_conn_process(conn, maps, &error) < 0) {
		char shown[40];

		log_warning("client #%llu (%s): malformed query netstring (%s) "
			    "starting '%s'; closing", (unsigned long long)conn->id,
			    conn->peer, error,
			    log_printable(shown, sizeof(shown), conn->in,
					  conn->in_len < 24 ? conn->in_len : 24));
		return RELAY_CONN_CLOSE;
	}
	if (conn->in_len == 0)
		conn->request_start = 0;
	else if (conn->request_start == 0)
		conn->request_start = now;
	return conn_flush(conn, now);
}

enum relay_conn_result relay_conn_input(struct relay_conn *conn,
					struct relay_maps *maps, time_t now)
{
	ssize_t n;

	if (conn->in == NULL)
		conn->in = mm_malloc(RELAY_IN_SIZE);
	if (conn->in_len == RELAY_IN_SIZE)
		log_panic("relay: client #%llu: input buffer full",
			  (unsigned long long)conn->id);
	do {
		n = read(conn->fd, conn->in + conn->in_len,
			 RELAY_IN_SIZE - conn->in_len);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return RELAY_CONN_READ;
		log_info("client #%llu (%s): read: %s; closing",
			 (unsigned long long)conn->id, conn->peer, strerror(errno));
		return RELAY_CONN_CLOSE;
	}
	if (n == 0) {
		if (conn->in_len > 0)
			log_warning("client #%llu (%s): disconnected in the middle "
				    "of a query (%zu bytes received)",
				    (unsigned long long)conn->id, conn->peer,
				    conn->in_len);
		else
			log_debug("client #%llu (%s): disconnected after %llu "
				  "queries", (unsigned long long)conn->id,
				  conn->peer, (unsigned long long)conn->queries);
		return RELAY_CONN_CLOSE;
	}
	conn->in_len += (size_t)n;
	conn->last_active = now;
	if (conn->request_start == 0)
		conn->request_start = now;
	return conn_answer(conn, maps, now);
}

enum relay_conn_result relay_conn_output(struct relay_conn *conn,
					 struct relay_maps *maps, time_t now)
{
	enum relay_conn_result r = conn_flush(conn, now);

	if (r != RELAY_CONN_READ || conn->in_len == 0)
		return r;
	return conn_answer(conn, maps, now);
}

void relay_conn_free_buffers(struct relay_conn *conn)
{
	mm_free(&conn->in);
	mm_free(&conn->out);
	conn->in_len = conn->out_len = conn->out_off = conn->out_size = 0;
}

void relay_conn_closed(struct relay_conn *conn)
{
	if (conn->bad_queries == 0)
		return;
	log_warning("client #%llu (%s): %llu bad %s of %llu answered PERM "
		    "(the first: %s)", (unsigned long long)conn->id, conn->peer,
		    (unsigned long long)conn->bad_queries,
		    conn->bad_queries == 1 ? "query" : "queries",
		    (unsigned long long)conn->queries, conn->bad_first);
	conn->bad_queries = 0;
}
