/*
 * NAME
 *	puller_split 3
 * SUMMARY
 *	a large account's folders copied by two workers at once
 * DESCRIPTION
 *	With workers > 1, a worker that finds no job to take assists the
 *	worker holding a large account's job (split_min_messages, in two
 *	folders or more). The holder, having listed OLD's folders and
 *	created them all on NEW, publishes the round's selectable folders
 *	as a hand-out in the store (store_split_publish()). Both claim the
 *	next folder (store_split_claim(): the cursor moves in the claiming
 *	transaction, so a folder goes to one of them) and copy it with
 *	their own OLD and NEW sessions; each records its batches in its
 *	own pending slot (store_batch_begin(): 0 the holder, 1 the
 *	assistant), so exactly-once holds for each as it does for one.
 *	The holder verifies the folders it copied as it goes, as always.
 *
 *	When no folder is left, the holder waits (its job lease renewed,
 *	polling the store every 250 ms) until the assistant has found none
 *	left either (done), or the assistant's lease has run out: it died,
 *	was stopped, or failed and gave its lease back. Then the holder
 *	closes the hand-out (the assistant can claim and renew no more),
 *	settles slot 1's pending batch as a crash is settled
 *	(copy_settle_pending()), and copies the folder the assistant left
 *	unfinished itself. Last, it verifies the assistant's folders (all
 *	of OLD against the store and NEW, as for its own: the assistant
 *	records where its copy of each folder began, so the dates of what
 *	it put on NEW are checked and OLD's HIGHESTMODSEQ is recorded for
 *	the next round's CHANGEDSINCE), removes the
 *	hand-out, and ends the round as an unsplit one ends. The assistant
 *	never verifies, records the round or finishes the job.
 *
 *	A holder whose round ends early (failure, lost lease, stop) closes
 *	its hand-out; the next round's holder (copy_split_reclaim()) closes
 *	any hand-out left, waits while its assistant's lease runs, settles
 *	slot 1, and only then copies: a folder is never copied by two
 *	workers at once.
 * CONCURRENT WRITES
 *	What both workers write: store_batch_done() adds to the account's
 *	counters in one transaction under the account's lock (LMDB's
 *	single writer; PostgreSQL's row lock), so none is lost; folder
 *	records, the UID map and failed items are per folder, and a folder
 *	has one copier. The progress record (store_progress_put()) is the
 *	holder's alone: the assistant writes none (its messages are not
 *	in the holder's counts of the round, only in the account's). The
 *	alias tally is the holder's, so a domain whose access_mode
 *	gathers aliases is not split; neither is a POP3 source.
 * LIMITS
 *	One assistant per hand-out. The assistant's lease is as long as a
 *	job's (PULLER_LEASE_SECONDS). An assistant on the holder's host
 *	that dies is seen gone at the next poll (puller_owner_gone(): its
 *	pid no longer alive); one on another host costs the holder at most
 *	the lease's wait.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "copy.h"
#include "error.h"
#include "log.h"
#include "mm_alloc.h"

#define SPLIT_POLL_MS 250

int copy_renew(struct copy *c, time_t now, const char **error_r)
{
	if (c->job != NULL)
		return store_job_renew(c->p->store, c->job->id, c->p->owner,
				       c->lease_seconds, now, error_r);
	return store_split_renew(c->p->store, c->account, c->p->owner, c->lease_seconds,
				 now, error_r);
}

time_t copy_lease_every(const struct copy *c)
{
	time_t every = (time_t)c->lease_seconds / 3;

	return every > 0 ? every : 1;
}

int copy_split_wanted(const struct copy *c)
{
	unsigned min = c->p->cfg->split_min_messages;

	return c->job != NULL && c->p->cfg->workers > 1 && min > 0 &&
		c->tally == NULL && c->sdrv != &source_driver_pop3 &&
		c->prog.rec.folder_count >= 2 && c->prog.rec.messages_total >= min;
}

/* Sleep ms, waking early when told to stop. */
static void split_nap(unsigned ms)
{
	for (unsigned slept = 0; slept < ms && !puller_stop; slept += 50) {
		struct timespec ts = { 0, 50 * 1000000L };

		nanosleep(&ts, NULL);
	}
}

/* The holder keeps its job while it waits. >0: lost (outcome set). */
static int split_keep_job(struct copy *c)
{
	time_t now = time(NULL);
	const char *error;
	int ret;

	if (now - c->lease_renewed < copy_lease_every(c))
		return 0;
	ret = copy_renew(c, now, &error);
	if (ret == STORE_NOTFOUND) {
		c->outcome = PULLER_LEASE_LOST;
		return 1;
	}
	if (ret == 0)
		c->lease_renewed = now;
	else
		log_warning("%s: cannot renew the lease: %s", c->account, error);
	return 0;
}

/* Wait until the hand-out's assistant is done or gone (its lease run
 * out: the hand-out is closed then). *gone_r: it was gone; *take_r:
 * the 1-based index of the folder it left unfinished (0: none).
 * 0, >0 stopped or lease lost (outcome set), -1. */
static int split_wait(struct copy *c, int *gone_r, uint32_t *take_r,
		      enum stream_fail *fail_r, const char **error_r)
{
	const char *error;
	int dead;

	*gone_r = 0;
	*take_r = 0;
	for (;;) {
		struct store_split s;
		int ret = store_split_get(c->p->store, c->account, &s, &error);

		if (ret < 0)
			return copy_store_fail(fail_r, error_r, error);
		if (ret == STORE_NOTFOUND)
			return 0;
		if (s.assistant == NULL && s.cursor >= s.count) {
			store_split_clear(&s);	/* nobody joined; none can now */
			return 0;
		}
		if (s.assistant != NULL && s.done) {
			store_split_clear(&s);
			return 0;
		}
		/* Gone: its lease ran out, or (on this host) its process
		 * is no more, which need not wait for the lease. */
		dead = s.assistant != NULL && puller_owner_gone(s.assistant);
		if (s.assistant != NULL && (dead || s.assistant_lease <= time(NULL))) {
			store_split_clear(&s);
			ret = store_split_close(c->p->store, c->account, &s, &error);
			if (ret < 0)
				return copy_store_fail(fail_r, error_r, error);
			if (ret == 0 && !s.done &&
			    (s.assistant_lease <= time(NULL) ||
			     (dead && puller_owner_gone(s.assistant)))) {
				*gone_r = 1;
				*take_r = s.assistant_folder;
				copy_event(c, LOG_SEV_WARNING, "split: the worker "
					   "assisting (%s) stopped (%s) %s; its pending "
					   "batch is settled and the rest copied here",
					   s.assistant, s.assistant_lease <= time(NULL) ?
					   "its lease given back or run out" :
					   "its process is gone",
					   s.assistant_folder != 0 ?
					   error_setf("in %s", s.folders[s.assistant_folder - 1]) :
					   "between folders");
			}
			ret = s.done || *gone_r;
			store_split_clear(&s);
			if (ret)
				return 0;
			/* Renewed just before the close: it stops at its next
			 * renewal, and its lease runs out. */
		} else {
			store_split_clear(&s);
		}
		if (split_keep_job(c) > 0)
			return 1;
		if (puller_stop) {
			c->outcome = PULLER_STOPPED;
			return 1;
		}
		split_nap(SPLIT_POLL_MS);
	}
}

int copy_split_assisted(struct copy *c)
{
	struct store_split s;
	const char *error;
	int ret;

	if (!c->split || store_split_get(c->p->store, c->account, &s, &error) != 0)
		return 0;
	ret = s.assistant != NULL && !s.done && !s.closed && s.assistant_folder != 0;
	store_split_clear(&s);
	return ret;
}

/* Settle what an assistant left pending in slot 1. */
static int split_settle_assistant(struct copy *c, enum stream_fail *fail_r,
				  const char **error_r)
{
	int ret;

	c->slot = 1;
	ret = copy_settle_pending(c, fail_r, error_r);
	c->slot = 0;
	return ret;
}

int copy_split_reclaim(struct copy *c, enum stream_fail *fail_r,
		       const char **error_r)
{
	struct store_split s;
	const char *error;
	int ret, gone;
	uint32_t take;

	ret = store_split_close(c->p->store, c->account, &s, &error);
	if (ret == STORE_NOTFOUND)
		return 0;
	if (ret < 0)
		return copy_store_fail(fail_r, error_r, error);
	if (s.assistant != NULL && !s.done && s.assistant_lease > time(NULL))
		log_info("%s: an earlier round's split assistant (%s) is still "
			 "copying; waiting for it to stop", c->account, s.assistant);
	store_split_clear(&s);
	ret = split_wait(c, &gone, &take, fail_r, error_r);
	if (ret == 0)
		ret = split_settle_assistant(c, fail_r, error_r);
	if (ret == 0 && store_split_del(c->p->store, c->account, &error) < 0)
		ret = copy_store_fail(fail_r, error_r, error);
	return ret;
}

void copy_split_abandon(struct copy *c)
{
	const char *error;

	if (c->split && store_split_close(c->p->store, c->account, NULL, &error) < 0)
		log_warning("%s: cannot close the split: %s", c->account, error);
	c->split = 0;
}

struct split_item {
	size_t i;		/* in OLD's folder list */
	char *target;
	int here;		/* copied by this worker */
};

/* Copy items[k] here and verify it. */
static int split_copy_here(struct copy *c, const struct driver_folder *sf,
			   struct split_item *it, uint32_t *index,
			   enum stream_fail *fail_r, const char **error_r)
{
	int ret;

	it->here = 1;
	puller_progress_folder(&c->prog, ++*index, sf[it->i].name);
	ret = copy_folder_messages(c, &sf[it->i], it->target, fail_r, error_r);
	if (ret == 0)
		ret = copy_verify(c, sf[it->i].name, 1, fail_r, error_r);
	return ret;
}

int copy_split_folders(struct copy *c, const struct driver_folder *sf, size_t ns,
		       enum stream_fail *fail_r, const char **error_r)
{
	struct split_item *items = mm_calloc(ns + 1, sizeof(*items));
	char **names = mm_calloc(ns + 1, sizeof(*names));
	size_t n = 0, next = 0, here = 0;
	uint32_t index = 0, take = 0, claimed;
	struct store_split got = { 0 };
	const char *error;
	int ret = 0, gone = 0, published = 0;

	/* Every folder made on NEW first, so the assistant creates none. */
	for (size_t i = 0; ret == 0 && i < ns; i++) {
		char *target = NULL;

		ret = copy_folder_prepare(c, &sf[i], &target, fail_r, error_r);
		if (ret > 0) {
			items[n].i = i;
			items[n].target = target;
			names[n++] = sf[i].name;
			target = NULL;
			ret = 0;
		}
		mm_free(&target);
	}
	if (ret == 0 && n >= 2) {
		ret = store_split_publish(c->p->store, c->account, c->p->owner, names, n,
					  time(NULL), &error);
		if (ret < 0) {
			ret = copy_store_fail(fail_r, error_r, error);
		} else {
			/* STORE_EXISTS cannot be after copy_split_reclaim();
			 * if it is, the folders are copied here, in order. */
			published = ret == 0;
			c->split = published;
			ret = 0;
		}
		if (published)
			log_info("%s: split: %zu folders (%llu messages on OLD) handed "
				 "out to a worker with nothing to do", c->account, n,
				 (unsigned long long)c->prog.rec.messages_total);
	}
	while (ret == 0) {
		if (published) {
			char *folder;

			ret = store_split_claim(c->p->store, c->account, c->p->owner,
						c->lease_seconds, time(NULL), &claimed,
						&folder, &error);
			if (ret == STORE_NOTFOUND) {
				ret = 0;
				break;
			}
			if (ret < 0) {
				ret = copy_store_fail(fail_r, error_r, error);
				break;
			}
			mm_free(&folder);
			if (claimed >= n) {
				ret = stream_failf(fail_r, STREAM_FAIL_WAIT, error_r,
						   "split: claimed folder %u of %zu",
						   claimed, n);
				break;
			}
		} else if (next < n) {
			claimed = (uint32_t)next++;
		} else {
			break;
		}
		here++;
		ret = split_copy_here(c, sf, &items[claimed], &index, fail_r, error_r);
	}
	if (ret == 0 && published)
		ret = split_wait(c, &gone, &take, fail_r, error_r);
	if (ret == 0 && gone)
		ret = split_settle_assistant(c, fail_r, error_r);
	if (ret == 0 && take != 0 && take <= n && !items[take - 1].here) {
		here++;
		ret = split_copy_here(c, sf, &items[take - 1], &index, fail_r, error_r);
	}
	/* The assistant's folders, proved here as this worker's own are:
	 * with where its copy of each began (store_split_copied()), the
	 * dates of what it put on NEW checked and OLD's HIGHESTMODSEQ
	 * recorded; without (it stopped before saying so), all else. */
	if (ret == 0 && published &&
	    store_split_get(c->p->store, c->account, &got, &error) < 0)
		ret = copy_store_fail(fail_r, error_r, error);
	for (size_t k = 0; ret == 0 && published && k < n; k++) {
		int known = k < got.count && got.starts != NULL &&
			got.starts[k].uidvalidity != 0;

		if (items[k].here)
			continue;
		if (known) {
			c->folder_uidvalidity = got.starts[k].uidvalidity;
			c->folder_uidnext = got.starts[k].uidnext;
			c->folder_modseq = got.starts[k].modseq;
		}
		ret = copy_verify(c, sf[items[k].i].name, known, fail_r, error_r);
	}
	store_split_clear(&got);
	if (ret == 0 && published) {
		copy_event(c, LOG_SEV_INFO, "split: %zu of %zu folders copied by this "
			   "worker, %zu by the worker assisting%s; all %zu verified here",
			   here, n, n - here, gone ? " (until it stopped)" : "", n);
		if (store_split_del(c->p->store, c->account, &error) < 0)
			ret = copy_store_fail(fail_r, error_r, error);
		else
			c->split = 0;
	}
	for (size_t k = 0; k < n; k++)
		mm_free(&items[k].target);
	mm_free(&items);
	mm_free(&names);
	return ret;
}

/* The assistant tells the holder where its copy of folder index began,
 * so the holder verifies it as its own (best effort: without it, the
 * holder verifies all but the dates). */
static void split_copied(struct copy *c, uint32_t index)
{
	struct store_split_start st = { c->folder_uidvalidity, c->folder_uidnext,
					 c->folder_modseq };
	const char *error;

	if (st.uidvalidity != 0 &&
	    store_split_copied(c->p->store, c->account, c->p->owner, index, &st,
			       &error) < 0)
		log_warning("%s: split: where the copy began not recorded: %s",
			    c->account, error);
}

int puller_assist(struct puller *p)
{
	char account[STORE_MAX_ACCOUNT];
	struct copy c = { .p = p, .slot = 1, .account = account,
			  .outcome = PULLER_DONE, .halt = PULLER_DONE,
			  .lease_seconds = puller_lease_seconds() };
	struct driver_folder *sf = NULL, *tf = NULL;
	size_t ns = 0, nt = 0;
	uint64_t folders = 0;
	enum stream_fail fail = STREAM_FAIL_NONE;
	const char *error, *at;
	int ret;

	ret = store_split_join(p->store, p->owner, c.lease_seconds, time(NULL),
			       account, sizeof(account), &error);
	if (ret == STORE_NOTFOUND)
		return 1;
	if (ret < 0) {
		log_error("cannot look for a split to assist: %s", error);
		return -1;
	}
	c.lease_renewed = time(NULL);
	log_info("%s: split: assisting the worker holding its job", account);
	at = strchr(account, '@');
	c.dom = at != NULL ? cfg_domain_find(p->cfg, at + 1) : NULL;
	if (c.dom == NULL) {
		error = "its domain has no [domain] section";
		ret = -1;
	} else if (folder_map_new(c.dom->exclude_folders, c.dom->folder_map, &c.map,
				  &error) < 0) {
		ret = -1;
	} else {
		copy_batches_init(&c);
		c.max_size = p->cfg->max_message_size;
		c.max_size_name = "max_message_size";
		ret = copy_connect(&c, &fail, &error);
	}
	if (ret == 0) {
		uint64_t limit = c.tdrv->append_limit(c.dst);
		struct puller_session s = { .dom = c.dom, .account = c.account, .sdrv = c.sdrv,
					     .tdrv = c.tdrv, .src = c.src, .dst = c.dst };

		if (limit != 0 && limit < c.max_size) {
			c.max_size = limit;
			c.max_size_name = "NEW's APPENDLIMIT";
		}
		c.pipe = c.sdrv->fetch_batch != NULL && c.tdrv->append_commit != NULL &&
			c.tdrv->can_batch(c.dst);
		ret = c.tdrv->namespace_prefix(c.dst, c.dst_prefix, sizeof(c.dst_prefix),
					       &fail, &error);
		c.dst_prefix_known = ret == 1;
		if (ret >= 0)
			ret = puller_source_folders(&s, &sf, &ns, &c.msrc, c.src_prefix,
						    sizeof(c.src_prefix), &fail, &error);
		if (ret == 0)
			ret = c.tdrv->list_folders(c.dst, &tf, &nt, &fail, &error);
		if (ret == 0)
			copy_target_layout(&c, tf, nt);
		driver_folders_free(&tf, nt);
	}
	while (ret == 0 && c.outcome == PULLER_DONE) {
		uint32_t claimed;
		char *folder, *target = NULL;
		size_t i;

		ret = store_split_claim(p->store, account, p->owner, c.lease_seconds,
					time(NULL), &claimed, &folder, &error);
		if (ret == STORE_NOTFOUND) {
			ret = 0;	/* none left (done), or closed */
			break;
		}
		if (ret < 0)
			break;
		c.lease_renewed = time(NULL);
		for (i = 0; i < ns && strcmp(sf[i].name, folder) != 0; i++)
			;
		/* Gone from OLD since the holder listed it: the holder's
		 * verification says so. */
		if (i < ns && folder_map_apply(c.map, &c.msrc, &c.mdst, sf[i].name,
					       sf[i].attrs, &target, &error) > 0) {
			ret = copy_folder_messages(&c, &sf[i], target, &fail, &error);
			folders++;
			if (ret == 0 && c.outcome == PULLER_DONE)
				split_copied(&c, claimed);
		}
		mm_free(&target);
		mm_free(&folder);
	}
	if (ret < 0)
		error = error_setf("%s", error);	/* closing may reuse its buffer */
	/* Sessions closed first: whatever was sent to NEW has landed (or
	 * not) before the holder, told by the lease, matches it. */
	driver_folders_free(&sf, ns);
	if (c.src != NULL)
		c.sdrv->close(&c.src);
	for (int k = 0; k < 2; k++)
		if (c.dsts[k] != NULL)
			c.tdrv->close(&c.dsts[k]);
	if (ret < 0 || c.outcome != PULLER_DONE) {
		const char *why = ret < 0 ? error :
			c.outcome == PULLER_STOPPED ? "stopped" : "the holder took it back";

		log_warning("%s: split: assisting ends: %s", account, why);
	} else {
		copy_event(&c, LOG_SEV_INFO, "split: %s assisted: %llu messages "
			   "(%llu bytes) copied in %llu folders; the job's worker "
			   "verifies them", p->owner, (unsigned long long)c.copied,
			   (unsigned long long)c.bytes, (unsigned long long)folders);
	}
	/* Its lease given back at once, whatever ended it (a failure, a
	 * stop, the hand-out closed under it, none left): a holder waiting
	 * settles slot 1 and copies the rest itself without waiting for
	 * the lease to run out. Once done, the hand-out says so already. */
	if (store_split_renew(p->store, account, p->owner, 0, time(NULL), &error) < 0)
		log_warning("%s: split: cannot give the lease back: %s (it runs out)",
			    account, error);
	for (int u = 0; u < FOLDER_MAP_USES; u++)
		mm_free(&c.special[u]);
	folder_map_free(&c.map);
	copy_batches_free(&c);
	mm_free(&c.seen);
	return 0;
}
