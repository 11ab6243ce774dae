/*
 * NAME
 *	relay_late 3
 * SUMMARY
 *	late_mail counts, batched off the lookup path
 * DESCRIPTION
 *	A transport answer that sends a queued account's mail to OLD is
 *	noted here and added to the account's late_mail counter in the
 *	store by relay_late_flush(), which the event loop calls once a
 *	second: all pending accounts in one write transaction, so a lookup
 *	never waits for a write. An account is counted at most once per
 *	RELAY_LATE_WINDOW seconds: Postfix looks a recipient up several
 *	times per message (smtpd at RCPT, the queue manager, address
 *	verification), and the counter is a mark for the final round
 *	(which mailboxes may hold mail that reached OLD after their copy
 *	was queued), not a message count. Notes beyond RELAY_LATE_MAX
 *	pending accounts are dropped and the loss is logged.
 */
#include "config.h"

#include <string.h>

#include "log.h"
#include "mm_alloc.h"
#include "relay.h"

#define RELAY_LATE_MAX 16384
#define RELAY_LATE_SLOTS (RELAY_LATE_MAX * 2)	/* power of two */
/* Accounts written per flush: one transaction stays short (a few ms),
 * so the event loop is never held long; the rest waits a second. */
#define RELAY_LATE_BATCH 1024

/* A set of account names: open addressing, index + 1 in slots. */
struct late_set {
	char **names;		/* RELAY_LATE_MAX */
	size_t count;
	uint16_t slots[RELAY_LATE_SLOTS];
};

struct relay_late {
	struct late_set pending;	/* to be written */
	struct late_set counted;	/* written in this window */
	time_t window_start;
	uint64_t dropped;		/* notes lost while pending was full */
};

/* FNV-1a. */
static uint32_t late_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The slot holding name, or the empty one where it would go. */
static size_t set_slot(const struct late_set *set, const char *name)
{
	size_t slot = late_hash(name) & (RELAY_LATE_SLOTS - 1);

	while (set->slots[slot] != 0 &&
	       strcmp(set->names[set->slots[slot] - 1], name) != 0)
		slot = (slot + 1) & (RELAY_LATE_SLOTS - 1);
	return slot;
}

/* Add name (owned by the set from now on); 0, or -1 when full. */
static int set_add(struct late_set *set, char *name)
{
	size_t slot = set_slot(set, name);

	if (set->slots[slot] != 0)
		return 0;
	if (set->count >= RELAY_LATE_MAX)
		return -1;
	set->names[set->count++] = name;
	set->slots[slot] = (uint16_t)set->count;
	return 0;
}

static void set_clear(struct late_set *set)
{
	for (size_t i = 0; i < set->count; i++)
		mm_free(&set->names[i]);
	set->count = 0;
	memset(set->slots, 0, sizeof(set->slots));
}

struct relay_late *relay_late_new(void)
{
	struct relay_late *late = mm_calloc(1, sizeof(struct relay_late));

	late->pending.names = mm_calloc(RELAY_LATE_MAX, sizeof(char *));
	late->counted.names = mm_calloc(RELAY_LATE_MAX, sizeof(char *));
	return late;
}

void relay_late_free(struct relay_late **latep)
{
	struct relay_late *late = *latep;

	if (late == NULL)
		return;
	set_clear(&late->pending);
	set_clear(&late->counted);
	mm_free(&late->pending.names);
	mm_free(&late->counted.names);
	mm_free(latep);
}

void relay_late_note(struct relay_late *late, const char *account)
{
	char *name;

	if (late->counted.slots[set_slot(&late->counted, account)] != 0 ||
	    late->pending.slots[set_slot(&late->pending, account)] != 0)
		return;
	name = mm_strdup(account);
	if (set_add(&late->pending, name) < 0) {
		mm_free(&name);
		late->dropped++;
	}
}

size_t relay_late_pending(const struct relay_late *late)
{
	return late->pending.count;
}

int relay_late_flush(struct relay_late *late, struct store *store, time_t now)
{
	struct late_set *p = &late->pending;
	const char *error;
	size_t n, rest;

	if (now - late->window_start >= RELAY_LATE_WINDOW) {
		set_clear(&late->counted);
		late->window_start = now;
	}
	if (late->dropped > 0) {
		log_warning("late mail: %llu notes lost (over %d accounts "
			    "pending at once)", (unsigned long long)late->dropped,
			    RELAY_LATE_MAX);
		late->dropped = 0;
	}
	if (p->count == 0)
		return 0;
	n = p->count < RELAY_LATE_BATCH ? p->count : RELAY_LATE_BATCH;
	if (store_account_add_late_mail(store, p->names, n, &error) < 0) {
		/* Kept for the next flush. */
		log_error("late mail for %zu accounts not recorded yet: %s",
			  p->count, error);
		return -1;
	}
	/* Counted: not again in this window. */
	for (size_t i = 0; i < n; i++) {
		if (set_add(&late->counted, p->names[i]) < 0)
			mm_free(&p->names[i]);
		p->names[i] = NULL;
	}
	/* The rest stays pending: index it again. */
	memset(p->slots, 0, sizeof(p->slots));
	rest = p->count - n;
	memmove(p->names, p->names + n, rest * sizeof(char *));
	p->count = 0;
	for (size_t i = 0; i < rest; i++)
		(void)set_add(p, p->names[i]);
	return 0;
}
