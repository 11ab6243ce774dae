/*
 * NAME
 *	relay_late 3
 * SUMMARY
 *	late_mail counts, batched off the lookup path
 * DESCRIPTION
 *	A transport answer that sends a queued account's mail to OLD is
 *	noted here and added to the account's late_mail counter in the
 *	store by relay_late_flush(), which the event loop calls about
 *	once a second. A lookup thus never waits for a write
 *	transaction, and the several lookups Postfix makes for one
 *	message (smtpd at RCPT, the queue manager, address verification)
 *	usually count once. The counter is a hint for the final round
 *	(which mailboxes may have mail on OLD that arrived after their
 *	copy was queued), not an exact message count.
 */
#include "config.h"

#include <string.h>

#include "log.h"
#include "mm_alloc.h"
#include "relay.h"

#define RELAY_LATE_MAX 4096
#define RELAY_LATE_SLOTS (RELAY_LATE_MAX * 2)	/* power of two */

struct relay_late {
	char **names;		/* RELAY_LATE_MAX, the pending accounts */
	size_t count;
	/* Open addressing over names: index + 1, 0 empty. A note costs
	 * one hash, never a scan of what is pending. */
	uint16_t slots[RELAY_LATE_SLOTS];
	uint64_t dropped;	/* notes lost while the table was full */
};

struct relay_late *relay_late_new(void)
{
	struct relay_late *late = mm_calloc(1, sizeof(struct relay_late));

	late->names = mm_calloc(RELAY_LATE_MAX, sizeof(char *));
	return late;
}

/* FNV-1a. */
static uint32_t late_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

void relay_late_free(struct relay_late **latep)
{
	struct relay_late *late = *latep;

	if (late == NULL)
		return;
	for (size_t i = 0; i < late->count; i++)
		mm_free(&late->names[i]);
	mm_free(&late->names);
	mm_free(latep);
}

void relay_late_note(struct relay_late *late, const char *account)
{
	size_t slot = late_hash(account) & (RELAY_LATE_SLOTS - 1);

	while (late->slots[slot] != 0) {
		if (strcmp(late->names[late->slots[slot] - 1], account) == 0)
			return;
		slot = (slot + 1) & (RELAY_LATE_SLOTS - 1);
	}
	if (late->count >= RELAY_LATE_MAX) {
		late->dropped++;
		return;
	}
	late->names[late->count++] = mm_strdup(account);
	late->slots[slot] = (uint16_t)late->count;
}

size_t relay_late_pending(const struct relay_late *late)
{
	return late->count;
}

int relay_late_flush(struct relay_late *late, struct store *store, time_t now)
{
	const char *error;

	(void)now;
	if (late->dropped > 0) {
		log_warning("late mail: %llu notes lost (over %d accounts "
			    "pending at once)", (unsigned long long)late->dropped,
			    RELAY_LATE_MAX);
		late->dropped = 0;
	}
	if (store_account_add_late_mail(store, late->names, late->count,
					&error) < 0) {
		/* Kept for the next flush. */
		log_error("late mail for %zu accounts not recorded yet: %s",
			  late->count, error);
		return -1;
	}
	for (size_t i = 0; i < late->count; i++)
		mm_free(&late->names[i]);
	late->count = 0;
	memset(late->slots, 0, sizeof(late->slots));
	return 0;
}
