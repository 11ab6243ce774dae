/*
 * NAME
 *	puller_progress 3
 * SUMMARY
 *	what a copy running has done, written to the store for stats and top
 * DESCRIPTION
 *	A round first asks OLD how much each folder it will copy holds
 *	(puller_copy.c, the source driver's folder_size: IMAP STATUS,
 *	POP3 LIST), then reports each folder it starts and the messages
 *	it has handled: copied and recorded (a batch counts once the store
 *	has it), found copied before, updated, or given up as a failed
 *	item. The record is written at each folder and at most once a
 *	second in between, so a fast copy costs one small write a second
 *	per worker; it is removed when the round ends, however it ends.
 *
 *	Progress is not migration data: a write that fails is logged once
 *	per round and otherwise ignored (the store failure that matters
 *	shows up in the copy's own writes).
 */
#include "config.h"

#include <string.h>

#include "log.h"
#include "mm_alloc.h"
#include "puller.h"

static void progress_write(struct puller_progress *pp, time_t now)
{
	const char *error;

	/* None begun: a split's assistant, whose messages are the
	 * holder's to show (puller_split(3)), writes none. */
	if (pp->store == NULL)
		return;
	pp->rec.updated = now;
	pp->written = now;
	if (store_progress_put(pp->store, &pp->rec, &error) < 0 && !pp->failed) {
		pp->failed = 1;
		log_warning("%s: progress not recorded: %s", pp->rec.account,
			    error);
	}
}

void puller_progress_begin(struct puller_progress *pp, struct store *store,
			   const char *account, const char *owner, time_t now)
{
	memset(pp, 0, sizeof(*pp));
	pp->store = store;
	pp->rec.account = mm_strdup(account);
	pp->rec.owner = mm_strdup(owner);
	pp->rec.started = now;
	progress_write(pp, now);
}

void puller_progress_total(struct puller_progress *pp, uint32_t folders,
			   uint64_t messages, uint64_t bytes)
{
	pp->rec.folder_count = folders;
	pp->rec.messages_total = messages;
	pp->rec.bytes_total = bytes;
	progress_write(pp, time(NULL));
}

void puller_progress_folder(struct puller_progress *pp, uint32_t index,
			    const char *folder)
{
	mm_free(&pp->rec.folder);
	pp->rec.folder = mm_strdup(folder);
	pp->rec.folder_index = index;
	progress_write(pp, time(NULL));
}

void puller_progress_add(struct puller_progress *pp, uint64_t messages,
			 uint64_t bytes)
{
	time_t now = time(NULL);

	pp->rec.messages_done += messages;
	pp->rec.bytes_done += bytes;
	/* A total OLD under-reported (mail arrived since) grows. */
	if (pp->rec.messages_done > pp->rec.messages_total)
		pp->rec.messages_total = pp->rec.messages_done;
	if (pp->rec.bytes_total != 0 && pp->rec.bytes_done > pp->rec.bytes_total)
		pp->rec.bytes_total = pp->rec.bytes_done;
	if (now != pp->written)
		progress_write(pp, now);
}

void puller_progress_end(struct puller_progress *pp)
{
	const char *error;

	if (pp->store == NULL)
		return;
	if (store_progress_del(pp->store, pp->rec.account, &error) < 0)
		log_warning("%s: progress record not removed: %s",
			    pp->rec.account, error);
	store_progress_clear(&pp->rec);
	pp->store = NULL;
}
