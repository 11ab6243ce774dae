/*
 * NAME
 *	relay_cache 3
 * SUMMARY
 *	what the store says of an address, kept for a few seconds
 * DESCRIPTION
 *	Every map answer starts from one resolution: is the address an
 *	account, an alias (and of which account), or nothing the store
 *	knows; and the account's state. With the store on a shared
 *	PostgreSQL each resolution is one to three queries, so a storm
 *	of lookups (a mailing list, a spam run at unknown recipients)
 *	would be a storm of queries: the relay keeps the resolutions it
 *	made for relay_cache_ttl seconds, per process, in a fixed table
 *	of relay_cache_size slots (direct-mapped: a new address takes the
 *	slot of an old one). Unknown addresses are kept too; failures
 *	never are.
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

struct relay_cache_slot {
	char *addr;			/* NULL: empty */
	time_t stored;
	struct relay_entry entry;
};

struct relay_cache {
	struct relay_cache_slot *slots;
	size_t size;
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

	if (size == 0 || ttl == 0)
		return NULL;
	cache = mm_calloc(1, sizeof(*cache));
	cache->slots = mm_calloc(size, sizeof(*cache->slots));
	cache->size = size;
	cache->ttl = ttl;
	return cache;
}

void relay_cache_free(struct relay_cache **cachep)
{
	struct relay_cache *cache = *cachep;

	if (cache == NULL)
		return;
	for (size_t i = 0; i < cache->size; i++)
		mm_free(&cache->slots[i].addr);
	mm_free(&cache->slots);
	mm_free(cachep);
}

void relay_cache_counts(const struct relay_cache *cache, uint64_t *hits_r,
			uint64_t *misses_r)
{
	*hits_r = cache == NULL ? 0 : cache->hits;
	*misses_r = cache == NULL ? 0 : cache->misses;
}

/* FNV-1a. */
static size_t cache_slot(const struct relay_cache *cache, const char *addr)
{
	uint32_t h = 2166136261u;

	for (; *addr != '\0'; addr++)
		h = (h ^ (unsigned char)*addr) * 16777619u;
	return h % cache->size;
}

/* Ask the store: 0 with *e, or -1. */
static int resolve_store(struct relay_maps *maps, const char *addr,
			 struct relay_entry *e, const char **error_r)
{
	struct store_account acct;
	int ret;

	memset(e, 0, sizeof(*e));
	ret = store_account_get(maps->store, addr, &acct, error_r);
	if (ret == 0) {
		e->kind = RELAY_ADDR_ACCOUNT;
		snprintf(e->owner, sizeof(e->owner), "%s", acct.name);
		e->owner_exists = 1;
		e->state = acct.state;
		store_account_clear(&acct);
		return 0;
	}
	if (ret < 0)
		return -1;
	ret = store_alias_lookup(maps->store, addr, e->owner, sizeof(e->owner),
				 error_r);
	if (ret == STORE_NOTFOUND) {
		e->kind = RELAY_ADDR_NONE;
		return 0;
	}
	if (ret < 0)
		return -1;
	e->kind = RELAY_ADDR_ALIAS;
	ret = store_account_get(maps->store, e->owner, &acct, error_r);
	if (ret < 0)
		return -1;
	if (ret == 0) {
		e->owner_exists = 1;
		e->state = acct.state;
		store_account_clear(&acct);
	}
	return 0;
}

int relay_resolve(struct relay_maps *maps, const char *addr,
		  struct relay_entry *e_r, const char **error_r)
{
	struct relay_cache *cache = maps->cache;
	struct relay_cache_slot *slot;
	time_t now;

	if (cache == NULL)
		return resolve_store(maps, addr, e_r, error_r);
	now = maps->clock != NULL ? maps->clock() : relay_clock();
	slot = &cache->slots[cache_slot(cache, addr)];
	if (slot->addr != NULL && strcmp(slot->addr, addr) == 0 &&
	    now >= slot->stored && now - slot->stored < (time_t)cache->ttl) {
		cache->hits++;
		*e_r = slot->entry;
		return 0;
	}
	cache->misses++;
	if (resolve_store(maps, addr, e_r, error_r) < 0)
		return -1;
	if (slot->addr == NULL || strcmp(slot->addr, addr) != 0) {
		mm_free(&slot->addr);
		slot->addr = mm_strdup(addr);
	}
	slot->stored = now;
	slot->entry = *e_r;
	return 0;
}
