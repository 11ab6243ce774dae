/*
 * NAME
 *	relay 3h
 * SUMMARY
 *	internals of mailmigrate-relay(8), the Postfix socketmap server
 * DESCRIPTION
 *	relay_request.c parses one socketmap query ("name key", the
 *	payload of a netstring) and formats replies; relay_map.c answers
 *	the transport, mailbox and alias maps from the configuration and
 *	the store; relay_late.c batches the late_mail counts written to
 *	the store; relay_conn.c is one client connection (buffers,
 *	timeouts); relay_server.c the listening socket and the event
 *	loop; mailmigrate-relay.c the program (options, signals, reload).
 * LIMITS
 *	Queries over NETSTRING_SOCKETMAP_MAX_QUERY bytes are refused,
 *	replies never exceed NETSTRING_SOCKETMAP_MAX_REPLY bytes (Postfix's
 *	limits, socketmap_table(5)).
 */
#ifndef MM_RELAY_H
#define MM_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cfg.h"
#include "metrics.h"
#include "netstring.h"
#include "store.h"
#include "store_cfg.h"

enum relay_map {
	RELAY_MAP_TRANSPORT,	/* transport_maps */
	RELAY_MAP_MAILBOX,	/* virtual_mailbox_maps */
	RELAY_MAP_ALIAS,	/* virtual_alias_maps */
};
#define RELAY_MAP_COUNT 3

enum relay_status {
	RELAY_OK,
	RELAY_NOTFOUND,
	RELAY_TEMP,		/* Postfix defers: nothing is lost */
	RELAY_PERM,
};
#define RELAY_STATUS_COUNT 4

/* The longest map name and key we look at; longer keys are valid
 * queries that cannot name an address we know (NOTFOUND). */
#define RELAY_MAX_MAP_NAME 32
#define RELAY_MAX_KEY STORE_MAX_ACCOUNT
/* The longest reply payload we make ("OK " + a next hop or account). */
#define RELAY_MAX_DATA 1024

/* --- relay_request.c ---------------------------------------------------- */

/* Parse a socketmap query payload "name key".
 * @param map_r		the map asked for
 * @param key		receives the key, NUL-terminated (keysize bytes)
 * @param error_r	on -1, a static text naming what is wrong
 * @return 0; RELAY_NOTFOUND for a well-formed query whose key is too long
 *	to be ours; -1 for a malformed query or an unknown map (answered
 *	PERM, the connection kept) */
int relay_request_parse(const char *payload, size_t len, enum relay_map *map_r,
			char *key, size_t keysize, const char **error_r);
const char *relay_map_name(enum relay_map map);
const char *relay_status_name(enum relay_status status);
/* The reply netstring for status and data ("OK data", "NOTFOUND ",
 * "TEMP reason", "PERM reason") into buf; data is truncated so the
 * payload stays within NETSTRING_SOCKETMAP_MAX_REPLY and bufsize.
 * @return the bytes written (no NUL counted) */
size_t relay_reply_format(enum relay_status status, const char *data,
			  char *buf, size_t bufsize);

/* --- relay_late.c: late_mail counts, written in batches ----------------- */

/* An account is counted at most once in this many seconds. */
#define RELAY_LATE_WINDOW 60

struct relay_late;
struct relay_late *relay_late_new(void);
/* Hand what is left to the writer (if started) and let it finish
 * (waiting a few seconds at most). */
void relay_late_free(struct relay_late **late);
/* Fork the writer: a process of its own that opens the store at dir
 * and adds the counts it is handed, so a store write that has to wait
 * (another process holds the write lock, a slow disk) never holds up
 * the event loop. Call it before the caller opens the store (LMDB
 * handles do not survive fork). Without it, relay_late_flush() writes
 * itself. A writer that dies is started again at the next flush.
 * @return 0, or -1 with *error_r (kept as error(3h) says) */
int relay_late_start(struct relay_late *late, const char *spec,
		     const struct store_options *opts, const char **error_r);
/* Note one transport answer that routed account's mail to OLD while the
 * account was queued (ignored if it was counted in this window). */
void relay_late_note(struct relay_late *late, const char *account);
/* Pending accounts. */
size_t relay_late_pending(const struct relay_late *late);
/* Add the pending counts to the store (one late_mail increment per
 * account, one transaction); failures are logged and the counts kept
 * for next time. With a writer (relay_late_start()) the counts are
 * handed to it without waiting, and store is not used. now starts a
 * new window when the last one is over.
 * @return 0 or -1 */
int relay_late_flush(struct relay_late *late, struct store *store, time_t now);

/* --- relay_cache.c: resolutions, kept relay_cache_ttl seconds ----------- */

struct relay_maps;
struct relay_cache;
/* A cache keeping up to size resolutions ttl seconds each; NULL (no
 * cache) when either is 0. */
struct relay_cache *relay_cache_new(size_t size, unsigned ttl);
void relay_cache_free(struct relay_cache **cache);
void relay_cache_counts(const struct relay_cache *cache, uint64_t *hits_r,
			uint64_t *misses_r);
/* Addresses kept now (expired ones included, until they are pushed out). */
size_t relay_cache_count(const struct relay_cache *cache);
/* Resolve addr through maps' cache (if any) and store: 0 or -1. */
int relay_resolve(struct relay_maps *maps, const char *addr,
		  struct store_address *a_r, const char **error_r);
/* Monotonic seconds: the cache's clock unless maps->clock is set. */
time_t relay_clock(void);

/* --- relay_map.c ---------------------------------------------------------- */

struct relay_maps {
	const struct cfg *cfg;
	struct store *store;
	struct relay_late *late;	/* NULL: late mail not counted */
	struct relay_cache *cache;	/* NULL: every lookup asks the store */
	time_t (*clock)(void);		/* NULL: relay_clock() (tests set it) */
	/* counters for the log, the metrics and tests */
	uint64_t lookups[RELAY_MAP_COUNT];
	uint64_t to_old;		/* transport OK answers */
	uint64_t temp;			/* store errors */
	uint64_t answers[RELAY_MAP_COUNT][RELAY_STATUS_COUNT];
	/* seconds per lookup, by map (relay_metrics_init() sets the
	 * bounds; without it every lookup counts in +Inf) */
	struct metrics_histogram latency[RELAY_MAP_COUNT];
	/* cache counts of caches a SIGHUP dropped */
	uint64_t cache_hits_before, cache_misses_before;
};

/* Answer one lookup. key is any text (Postfix sends lowercased full
 * addresses, and "*" or a sender that we do not know).
 * @param data	receives the reply data (datasize bytes): the next hop,
 *		the account, "ok", or the reason for TEMP
 * @return the status */
enum relay_status relay_map_lookup(struct relay_maps *maps, enum relay_map map,
				   const char *key, char *data, size_t datasize);

/* --- relay_metrics.c: what /metrics shows ------------------------------- */

/* The latency buckets into maps->latency. */
void relay_metrics_init(struct relay_maps *maps);
/* The page for maps (metrics_http_render_fn; ctx: struct relay_maps);
 * clients: connected clients now. */
void relay_metrics_render(struct metrics_text *t, const struct relay_maps *maps,
			  size_t clients);

/* --- relay_conn.c: one client --------------------------------------------- */

/* Room for the longest query netstring: "10000:" + payload + ','. */
#define RELAY_IN_SIZE (NETSTRING_SOCKETMAP_MAX_QUERY + 16)
/* Room for one reply netstring. */
#define RELAY_REPLY_SIZE (RELAY_MAX_DATA + 32)

struct relay_conn {
	int fd;
	uint64_t id;			/* for the log: "client #id" */
	char peer[80];			/* "unix" or "127.0.0.1:4567" */
	char *in;			/* RELAY_IN_SIZE bytes, on first read */
	size_t in_len;
	char *out;			/* replies not yet written */
	size_t out_len, out_off, out_size;
	time_t last_active;		/* last byte read or written */
	time_t request_start;		/* first byte of a partial query; 0 */
	uint64_t queries;
	uint64_t bad_queries;		/* answered PERM: logged at close */
	char bad_first[200];		/* the first of them, for that line */
	int dead;			/* closed, freed after this round */
	struct relay_conn *prev, *next;
};

enum relay_conn_result {
	RELAY_CONN_READ,		/* wait for input */
	RELAY_CONN_WRITE,		/* replies pending: wait until writable */
	RELAY_CONN_CLOSE,		/* logged; close it */
};

/* One read, then answer every complete query in the buffer and write
 * the replies. */
enum relay_conn_result relay_conn_input(struct relay_conn *conn,
					struct relay_maps *maps, time_t now);
/* Write pending replies; then answer queries already buffered. */
enum relay_conn_result relay_conn_output(struct relay_conn *conn,
					 struct relay_maps *maps, time_t now);
/* Answer the queries in buf (a whole stream, for the fuzzer and the
 * unit tests): replies are appended to conn's output buffer.
 * @return 0, or -1 after a malformed netstring (*error_r kept as
 *	error(3h) says) */
int relay_conn_process(struct relay_conn *conn, struct relay_maps *maps,
		       const char **error_r);
void relay_conn_free_buffers(struct relay_conn *conn);
/* The connection is closing: one log line for its bad queries, if it
 * sent any (how many, and the first), instead of one per query, so a
 * client cannot flood the log. */
void relay_conn_closed(struct relay_conn *conn);

/* --- relay_server.c ------------------------------------------------------ */

struct relay_server;

/* Listen on cfg->relay_listen; serve /metrics on metrics_fd (a
 * listening socket from metrics_http_listen(), now the server's; -1:
 * none). -1 with *error_r (kept as error(3h) says) on failure. */
int relay_server_new(struct relay_maps *maps, int metrics_fd,
		     struct relay_server **server_r, const char **error_r);
/* The configuration was reloaded: take the new limits (not the
 * listening address; that needs a restart). */
void relay_server_reconfigure(struct relay_server *server);
/* Serve until *stop is set or a SIGTERM/SIGINT arrives; SIGHUP calls
 * reload(). Returns 0, or -1 after a fatal event-loop error. */
int relay_server_run(struct relay_server *server, void (*reload)(void *ctx),
		     void *ctx);
void relay_server_free(struct relay_server **server);

#endif
