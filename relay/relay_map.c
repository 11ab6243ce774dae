/*
 * NAME
 *	relay_map 3
 * SUMMARY
 *	the transport, mailbox and alias maps
 * DESCRIPTION
 *	transport: a recipient in a "type = backup" domain whose account
 *	is unknown to the store, or queued (its copy has not started),
 *	is routed to OLD: OK relay_nexthop. Everyone else is NOTFOUND and
 *	Postfix delivers on NEW (migrating, copied, finished, failed and
 *	passwords-only accounts, standard domains, domains we do not
 *	know, "*" and anything that is not an address). An alias is
 *	resolved to its account first.
 *
 *	mailbox: OK for an address the store knows (account or alias),
 *	and for every address of a backup domain whose local part can be
 *	an account name (no '/', '%', leading '.' or '..'): OLD decides whether the
 *	user exists (reject_unverified_recipient asks it during the SMTP
 *	dialogue, so nothing bounces later).
 *
 *	alias: OK account for an alias in the store's index, unless the
 *	address is an account itself (accounts are looked up first, in
 *	every map). A proposed alias (store.h) is no alias yet.
 *
 *	A store error is TEMP: Postfix defers the mail and asks again.
 *	Each answer starts from relay_resolve() (relay_cache.c), which
 *	may answer from what it learned up to relay_cache_ttl seconds
 *	ago.
 * LATE MAIL
 *	A transport OK for an account that is in the store (so queued:
 *	its copy job is pending and may start any moment) is noted in
 *	relay_late; the account's late_mail counter then tells `finish`
 *	which mailboxes may hold mail that reached OLD after the copy was
 *	queued. Unknown recipients are not counted: they have no account.
 *	relay_late.c counts an account at most once a minute.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "relay.h"

/* A lowercased copy of an address key into addr; its domain in
 * *domain_r. -1 for a key that is not local@domain. */
static int map_address(const char *key, char *addr, size_t size,
		       const char **domain_r)
{
	size_t len = strlen(key);
	const char *at = strrchr(key, '@');

	if (at == NULL || at == key || at[1] == '\0' || len >= size)
		return -1;
	for (size_t i = 0; i <= len; i++)
		addr[i] = (char)tolower((unsigned char)key[i]);
	*domain_r = addr + (at - key) + 1;
	return 0;
}

/* A store failure: logged here, answered TEMP. */
static enum relay_status map_temp(struct relay_maps *maps, enum relay_map map,
				  const char *addr, const char *error,
				  char *data, size_t datasize)
{
	char shown[RELAY_MAX_KEY];

	maps->temp++;
	log_error("%s lookup of %s: %s; answering TEMP (Postfix will retry)",
		  relay_map_name(map),
		  log_printable(shown, sizeof(shown), addr, strlen(addr)), error);
	snprintf(data, datasize, "mailmigrate store error");
	return RELAY_TEMP;
}

static enum relay_status map_transport(struct relay_maps *maps,
				       const char *addr, const char *domain,
				       char *data, size_t datasize)
{
	const struct cfg_domain *dom = cfg_domain_find(maps->cfg, domain);
	struct store_address e;
	const char *error;
	int to_old;

	if (dom == NULL || dom->type != CFG_DOMAIN_BACKUP ||
	    dom->relay_nexthop == NULL)
		return RELAY_NOTFOUND;
	if (relay_resolve(maps, addr, &e, &error) < 0)
		return map_temp(maps, RELAY_MAP_TRANSPORT, addr, error, data,
				datasize);
	if (!e.owner_exists) {
		to_old = 1;
	} else {
		to_old = e.state == STORE_STATE_QUEUED;
		if (to_old && maps->late != NULL)
			relay_late_note(maps->late, e.owner);
	}
	if (!to_old)
		return RELAY_NOTFOUND;
	maps->to_old++;
	snprintf(data, datasize, "%s", dom->relay_nexthop);
	return RELAY_OK;
}

static enum relay_status map_mailbox(struct relay_maps *maps, const char *addr,
				     const char *domain, char *data,
				     size_t datasize)
{
	const struct cfg_domain *dom = cfg_domain_find(maps->cfg, domain);
	char owner[STORE_MAX_ACCOUNT];
	struct store_address e;
	const char *error;

	if (relay_resolve(maps, addr, &e, &error) < 0)
		return map_temp(maps, RELAY_MAP_MAILBOX, addr, error, data,
				datasize);
	if (e.owner_exists) {
		snprintf(data, datasize, "%s", e.owner);
		return RELAY_OK;
	}
	/* Anyone of a backup domain, but only a name that can be an
	 * account: nothing that would reach a path on NEW as more than
	 * one plain directory name (store_account_name() says). */
	if (dom != NULL && dom->type == CFG_DOMAIN_BACKUP &&
	    store_account_name(addr, NULL, owner, sizeof(owner), &error) == 0) {
		snprintf(data, datasize, "%s", addr);
		return RELAY_OK;
	}
	return RELAY_NOTFOUND;
}

static enum relay_status map_alias(struct relay_maps *maps, const char *addr,
				   char *data, size_t datasize)
{
	struct store_address e;
	const char *error;

	/* An account is never rewritten to another (an alias entry of its
	 * name may be left from a store made before accounts won). */
	if (relay_resolve(maps, addr, &e, &error) < 0)
		return map_temp(maps, RELAY_MAP_ALIAS, addr, error, data, datasize);
	if (e.kind != STORE_ADDR_ALIAS)
		return RELAY_NOTFOUND;
	snprintf(data, datasize, "%s", e.owner);
	return RELAY_OK;
}

static enum relay_status map_lookup(struct relay_maps *maps, enum relay_map map,
				  const char *key, char *data, size_t datasize)
{
	char addr[RELAY_MAX_KEY];
	const char *domain;

	if (map_address(key, addr, sizeof(addr), &domain) < 0)
		return RELAY_NOTFOUND;
	switch (map) {
	case RELAY_MAP_TRANSPORT:
		return map_transport(maps, addr, domain, data, datasize);
	case RELAY_MAP_MAILBOX:
		return map_mailbox(maps, addr, domain, data, datasize);
	case RELAY_MAP_ALIAS:
		return map_alias(maps, addr, data, datasize);
	}
	return RELAY_PERM;
}

/* Seconds since start, by the monotonic clock. */
static double map_elapsed(const struct timespec *start)
{
	struct timespec now;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) +
		(double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

enum relay_status relay_map_lookup(struct relay_maps *maps, enum relay_map map,
				   const char *key, char *data, size_t datasize)
{
	enum relay_status status;
	struct timespec start;

	data[0] = '\0';
	if ((unsigned)map >= RELAY_MAP_COUNT)
		return RELAY_PERM;
	(void)clock_gettime(CLOCK_MONOTONIC, &start);
	maps->lookups[map]++;
	status = map_lookup(maps, map, key, data, datasize);
	if ((unsigned)status < RELAY_STATUS_COUNT)
		maps->answers[map][status]++;
	metrics_histogram_observe(&maps->latency[map], map_elapsed(&start));
	return status;
}
