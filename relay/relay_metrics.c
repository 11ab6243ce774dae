/*
 * NAME
 *	relay_metrics 3
 * SUMMARY
 *	mailmigrate-relay's /metrics page
 * DESCRIPTION
 *	Everything shown is counted by this process since it started, in
 *	memory (relay_map.c), so a scrape costs no store read and cannot
 *	slow the lookups down: the page is rendered in the event loop.
 *	Every map and answer is shown from the start, zeros included, so
 *	a rate() over a series that appears late is never missed.
 *
 *	mailmigrate_relay_lookups_total{map,answer}	counter
 *	mailmigrate_relay_lookup_duration_seconds{map}	histogram
 *	mailmigrate_relay_store_errors_total		counter
 *	mailmigrate_relay_cache_hits_total, _misses_total	counter
 *	mailmigrate_relay_clients			gauge
 *
 *	A query the relay refuses before any map is asked (malformed, an
 *	unknown map, a key too long to be an address) is not a lookup.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>

#include "relay.h"

/* 50 µs (an LMDB lookup) to 1 s (a PostgreSQL store in trouble). */
static const double relay_latency_bounds[] = {
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1,
};

void relay_metrics_init(struct relay_maps *maps)
{
	for (int m = 0; m < RELAY_MAP_COUNT; m++)
		metrics_histogram_init(&maps->latency[m], relay_latency_bounds,
				       sizeof(relay_latency_bounds) /
				       sizeof(relay_latency_bounds[0]));
}

/* "OK" -> "ok": labels are lowercase. */
static void relay_lower(const char *s, char *buf, size_t size)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < size; i++)
		buf[i] = (char)tolower((unsigned char)s[i]);
	buf[i] = '\0';
}

void relay_metrics_render(struct metrics_text *t, const struct relay_maps *maps,
			  size_t clients)
{
	uint64_t hits, misses;

	metrics_family(t, "mailmigrate_relay_lookups_total", "counter",
		       "Socketmap lookups answered, by map and answer.");
	for (int m = 0; m < RELAY_MAP_COUNT; m++)
		for (int a = 0; a < RELAY_STATUS_COUNT; a++) {
			char answer[16];
			const char *labels[] = { "map", relay_map_name(m),
						 "answer", answer, NULL };

			relay_lower(relay_status_name(a), answer, sizeof(answer));
			metrics_u64(t, "mailmigrate_relay_lookups_total", labels,
				    maps->answers[m][a]);
		}
	metrics_family(t, "mailmigrate_relay_lookup_duration_seconds", "histogram",
		       "Time to answer one lookup, by map.");
	for (int m = 0; m < RELAY_MAP_COUNT; m++) {
		const char *labels[] = { "map", relay_map_name(m), NULL };

		metrics_histogram_write(t, "mailmigrate_relay_lookup_duration_seconds",
					labels, &maps->latency[m]);
	}
	metrics_family(t, "mailmigrate_relay_store_errors_total", "counter",
		       "Lookups the store could not answer (answered TEMP: Postfix "
		       "defers the mail).");
	metrics_u64(t, "mailmigrate_relay_store_errors_total", NULL, maps->temp);
	relay_cache_counts(maps->cache, &hits, &misses);
	metrics_family(t, "mailmigrate_relay_cache_hits_total", "counter",
		       "Resolutions answered from the relay's cache (relay_cache_ttl).");
	metrics_u64(t, "mailmigrate_relay_cache_hits_total", NULL,
		    maps->cache_hits_before + hits);
	metrics_family(t, "mailmigrate_relay_cache_misses_total", "counter",
		       "Resolutions that asked the store.");
	metrics_u64(t, "mailmigrate_relay_cache_misses_total", NULL,
		    maps->cache_misses_before + misses);
	metrics_family(t, "mailmigrate_relay_clients", "gauge",
		       "Postfix connections open now.");
	metrics_u64(t, "mailmigrate_relay_clients", NULL, clients);
}
