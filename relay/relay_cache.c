/*
 * NAME
 *	relay_cache 3
 * SUMMARY
 *	what the store says of an address, kept for a few seconds
 * DESCRIPTION
 *	Every map answer starts from one resolution: is the address an
 *	account, an alias (and of which account), or nothing the store
 *	knows; and the account's state (store_address_resolve(): one
 *	statement on PostgreSQL). With the store on a shared PostgreSQL
 *	each resolution is a round trip to the database, so a storm of
 *	lookups (a mailing list, a spam run at unknown recipients) would
 *	be a storm of queries: the relay keeps the resolutions it made
 *	for relay_cache_ttl seconds, per process, up to relay_cache_size
 *	addresses (default 65536: every account, alias and unknown
 *	address of a large site). Unknown addresses are kept too;
 *	failures never are.
 *
 *	A hash table (chained, a power of two of buckets at least the
 *	size) over entries kept in the order they were learned: when the
 *	table is full the oldest entry goes, which is the first to expire
 *	anyway. An entry is about 100 bytes plus its address and owner:
 *	a full default table is under 15 MB.
 * BOUND
 *	An account that moves from queued to migrating is seen by every
 *	relay within relay_cache_ttl seconds. Mail routed to OLD in those
 *	seconds is what the relay has always counted as late mail: the
 *	account's late_mail counter (relay_late.c) tells `finish` to look
 *	for it, so nothing is lost. The default is 5 seconds on
 *	PostgreSQL and 0 (no cache) on LMDB, whose lookups cost a few
 *	microseconds.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mm_alloc.h"
#include "relay.h"

struct relay_cache_entry {
	struct relay_cache_entry *chain;	/* next in its bucket */
	struct relay_cache_entry *older, *newer; /* the age list */
	time_t stored;
	uint32_t hash;
	enum store_addr_kind kind;
	enum store_state state;
	int owner_exists;
	char *owner;		/* addr itself for an account */
	char addr[];		/* then, for an alias, its owner */
};

struct relay_cache {
	struct relay_cache_entry **buckets;
	size_t mask;		/* buckets - 1 */
	size_t size, count;
	struct relay_cache_entry *oldest, *newest;
	unsigned ttl;
	uint64_t hits, misses;
};

time_t relay_clock(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

struct relay_cache *relay_cache_new(size_t size, unsigned ttl)
{
	struct relay_cache *cache;
	size_t buckets = 16;

	if (size == 0 || ttl == 0)
		return NULL;
	while (buckets < size)
		buckets <<= 1;
	cache = mm_calloc(1, sizeof(*cache));
	cache->buckets = mm_calloc(buckets, sizeof(*cache->buckets));
	cache->mask = buckets - 1;
	cache->size = size;
	cache->ttl = ttl;
	return cache;
}

void relay_cache_free(struct relay_cache **cachep)
{
	struct relay_cache *cache = *cachep;
	struct relay_cache_entry *e, *next;

	if (cache == NULL)
		return;
	for (e = cache->oldest; e != NULL; e = next) {
		next = e->newer;
		mm_free(&e);
	}
	mm_free(&cache->buckets);
	mm_free(cachep);
}

void relay_cache_counts(const struct relay_cache *cache, uint64_t *hits_r,
			uint64_t *misses_r)
{
	*hits_r = cache == NULL ? 0 : cache->hits;
	*misses_r = cache == NULL ? 0 : cache->misses;
}

size_t relay_cache_count(const struct relay_cache *cache)
{
	return cache == NULL ? 0 : cache->count;
}

/* FNV-1a. */
static uint32_t cache_hash(const char *addr)
{
	uint32_t h = 2166136261u;

	for (; *addr != '\0'; addr++)
		h = (h ^ (unsigned char)*addr) * 16777619u;
	return h;
}

static struct relay_cache_entry *
cache_find(const struct relay_cache *cache, const char *addr, uint32_t hash)
{
	struct relay_cache_entry *e = cache->buckets[hash & cache->mask];

	for (; e != NULL; e = e->chain)
		if (e->hash == hash && strcmp(e->addr, addr) == 0)
			return e;
	return NULL;
}

/* Take e out of its bucket and the age list (not freed). */
static void cache_unlink(struct relay_cache *cache, struct relay_cache_entry *e)
{
	struct relay_cache_entry **pp = &cache->buckets[e->hash & cache->mask];

	while (*pp != e)
		pp = &(*pp)->chain;
	*pp = e->chain;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		cache->oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		cache->newest = e->older;
	cache->count--;
}

/* Keep what the store said of addr (replacing what was kept). */
static void cache_store(struct relay_cache *cache, const char *addr,
			uint32_t hash, const struct store_address *a, time_t now)
{
	struct relay_cache_entry *e = cache_find(cache, addr, hash);
	size_t alen = strlen(addr) + 1;
	size_t olen = a->kind == STORE_ADDR_ALIAS ? strlen(a->owner) + 1 : 0;

	if (e != NULL) {
		cache_unlink(cache, e);
		mm_free(&e);
	}
	if (cache->count == cache->size) {
		e = cache->oldest;
		cache_unlink(cache, e);
		mm_free(&e);
	}
	e = mm_malloc(sizeof(*e) + alen + olen);
	memcpy(e->addr, addr, alen);
	if (olen > 0) {
		e->owner = e->addr + alen;
		memcpy(e->owner, a->owner, olen);
	} else {
		/* An account is its own owner; nothing has none. */
		e->owner = e->addr;
	}
	e->hash = hash;
	e->stored = now;
	e->kind = a->kind;
	e->state = a->state;
	e->owner_exists = a->owner_exists;
	e->chain = cache->buckets[hash & cache->mask];
	cache->buckets[hash & cache->mask] = e;
	e->newer = NULL;
	e->older = cache->newest;
	if (cache->newest != NULL)
		cache->newest->newer = e;
	else
		cache->oldest = e;
	cache->newest = e;
	cache->count++;
}

int relay_resolve(struct relay_maps *maps, const char *addr,
		  struct store_address *a_r, const char **error_r)
{
	struct relay_cache *cache = maps->cache;
	struct relay_cache_entry *e;
	uint32_t hash;
	time_t now;

	if (cache == NULL)
		return store_address_resolve(maps->store, addr, a_r, error_r);
	now = maps->clock != NULL ? maps->clock() : relay_clock();
	hash = cache_hash(addr);
	e = cache_find(cache, addr, hash);
	if (e != NULL && now >= e->stored &&
	    now - e->stored < (time_t)cache->ttl) {
		cache->hits++;
		memset(a_r, 0, sizeof(*a_r));
		a_r->kind = e->kind;
		a_r->state = e->state;
		a_r->owner_exists = e->owner_exists;
		if (e->kind != STORE_ADDR_NONE)
			snprintf(a_r->owner, sizeof(a_r->owner), "%s", e->owner);
		return 0;
	}
	cache->misses++;
	if (store_address_resolve(maps->store, addr, a_r, error_r) < 0)
		return -1;
	cache_store(cache, addr, hash, a_r, now);
	return 0;
}
