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

struct relay_late {
	char **names;
	size_t count;
	uint64_t dropped;	/* notes lost while the table was full */
};

struct relay_late *relay_late_new(void)
{
	return mm_calloc(1, sizeof(struct relay_late));
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
	for (size_t i = 0; i < late->count; i++)
		if (strcmp(late->names[i], account) == 0)
			return;
	if (late->count >= RELAY_LATE_MAX) {
		late->dropped++;
		return;
	}
	late->names = mm_reallocarray(late->names, late->count + 1, sizeof(char *));
	late->names[late->count++] = mm_strdup(account);
}

size_t relay_late_pending(const struct relay_late *late)
{
	return late->count;
}

static int late_increment(struct store_account *acct, void *ctx)
{
	(void)ctx;
	acct->late_mail++;
	return 0;
}

int relay_late_flush(struct relay_late *late, struct store *store, time_t now)
{
	const char *error;
	size_t kept = 0;
	int ret = 0;

	(void)now;
	if (late->dropped > 0) {
		log_warning("late mail: %llu notes lost (over %d accounts "
			    "pending at once)", (unsigned long long)late->dropped,
			    RELAY_LATE_MAX);
		late->dropped = 0;
	}
	for (size_t i = 0; i < late->count; i++) {
		int r = store_account_update(store, late->names[i], late_increment,
					     NULL, &error);

		if (r < 0) {
			/* Keep it for the next flush. */
			log_error("late mail for %s not recorded yet: %s",
				  late->names[i], error);
			late->names[kept++] = late->names[i];
			ret = -1;
			continue;
		}
		/* STORE_NOTFOUND: the account was removed meanwhile. */
		mm_free(&late->names[i]);
	}
	late->count = kept;
	return ret;
}
