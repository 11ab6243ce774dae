/*
 * NAME
 *	cli_progress 3
 * SUMMARY
 *	how far the migration is and when it will end: for stats and top
 * DESCRIPTION
 *	cli_progress_read() takes the store's figures (store_stats_get())
 *	and the records of the copies running (store_progress_iter(),
 *	written by the pullers) and works out what is left:
 *
 *	- of each copy running, the bytes OLD said its folders hold (IMAP
 *	  STATUS SIZE, POP3 LIST) less those done; when OLD did not say,
 *	  the messages left at the copy's own average message size so far
 *	  (or the migration's), an estimate;
 *	- of the mailboxes queued, whose sizes nobody knows before their
 *	  copy starts, their number times the average size of the
 *	  mailboxes copied so far (copied or finished, from the store's
 *	  figures by state), an estimate (unknown before the first one is
 *	  copied);
 *
 *	and the time to finish: bytes left over the rate of the last
 *	STORE_RATE_WINDOW seconds (unknown when nothing was copied in
 *	it). A record not updated for CLI_PROGRESS_STALE seconds belongs
 *	to a worker that stopped without removing it (killed): it is
 *	shown as stalled and left out of the sums; the account's next
 *	round replaces it.
 *
 *	The sizes come from OLD and the pullers: sums and products
 *	saturate at UINT64_MAX rather than wrap, so a server that claims
 *	an absurd size shows as "a lot left", never as nearly done.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "mm_alloc.h"

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

static int progress_collect(const struct store_progress *p, void *context)
{
	struct cli_progress *pr = context;
	struct store_progress *c;

	pr->running = mm_reallocarray(pr->running, pr->running_count + 1,
				      sizeof(*pr->running));
	c = &pr->running[pr->running_count++];
	*c = *p;
	c->account = mm_strdup(p->account);
	c->owner = mm_strdup(p->owner);
	c->folder = p->folder != NULL ? mm_strdup(p->folder) : NULL;
	return 0;
}

int cli_progress_stale(const struct cli_progress *pr,
		       const struct store_progress *p)
{
	return pr->now - p->updated > CLI_PROGRESS_STALE;
}

/* Bytes left of one copy running; *estimated set when a guess. */
static uint64_t progress_left(const struct cli_progress *pr,
			      const struct store_progress *p, int *estimated)
{
	uint64_t msgs_left, avg;

	if (p->bytes_total != 0)
		return p->bytes_total > p->bytes_done ?
			p->bytes_total - p->bytes_done : 0;
	msgs_left = p->messages_total > p->messages_done ?
		p->messages_total - p->messages_done : 0;
	if (msgs_left == 0)
		return 0;
	*estimated = 1;
	if (p->messages_done > 0)
		avg = p->bytes_done / p->messages_done;
	else if (pr->st.messages > 0)
		avg = pr->st.bytes / pr->st.messages;
	else
		return 0;
	return sat_mul(msgs_left, avg);
}

int cli_progress_read(struct store *store, time_t now, struct cli_progress *pr,
		      const char **error_r)
{
	uint64_t queued, copied_accounts, copied_bytes;
	int unknown = 0;

	memset(pr, 0, sizeof(*pr));
	pr->now = now;
	pr->eta = -1;
	if (store_stats_get(store, now, &pr->st, error_r) < 0 ||
	    store_progress_iter(store, progress_collect, pr, error_r) < 0) {
		cli_progress_free(pr);
		return -1;
	}
	for (size_t i = 0; i < pr->running_count; i++)
		if (!cli_progress_stale(pr, &pr->running[i]))
			pr->left_running = sat_add(pr->left_running,
						   progress_left(pr, &pr->running[i],
								 &pr->left_estimated));
	/* A queued mailbox is taken to be as big as the average of those
	 * copied whole. */
	queued = pr->st.by_state[STORE_STATE_QUEUED];
	copied_accounts = pr->st.by_state[STORE_STATE_COPIED] +
		pr->st.by_state[STORE_STATE_FINISHED];
	copied_bytes = pr->st.bytes_by_state[STORE_STATE_COPIED] +
		pr->st.bytes_by_state[STORE_STATE_FINISHED];
	if (copied_accounts > 0)
		pr->avg_account_bytes = copied_bytes / copied_accounts;
	if (queued > 0) {
		if (copied_accounts > 0) {
			pr->left_queued = sat_mul(queued, pr->avg_account_bytes);
			pr->left_estimated = 1;
		} else {
			unknown = 1;
		}
	}
	pr->left_total = sat_add(pr->left_running, pr->left_queued);
	pr->left_known = !unknown;
	if (pr->st.rate_seconds > 0 && pr->st.rate_bytes > 0)
		pr->rate_bps = pr->st.rate_bytes / pr->st.rate_seconds;
	if (!unknown && pr->rate_bps > 0)
		pr->eta = pr->left_total / pr->rate_bps > CLI_ETA_MAX ?
			CLI_ETA_MAX : (int64_t)(pr->left_total / pr->rate_bps);
	else if (!unknown && pr->left_total == 0)
		pr->eta = 0;
	return 0;
}

void cli_progress_free(struct cli_progress *pr)
{
	for (size_t i = 0; i < pr->running_count; i++)
		store_progress_clear(&pr->running[i]);
	mm_free(&pr->running);
	pr->running_count = 0;
}

const char *cli_duration(int64_t seconds, char *buf, size_t size)
{
	if (seconds < 0)
		snprintf(buf, size, "unknown");
	else if (seconds >= CLI_ETA_MAX)
		snprintf(buf, size, "over %d days", CLI_ETA_MAX / 86400);
	else if (seconds < 60)
		snprintf(buf, size, "%llds", (long long)seconds);
	else if (seconds < 3600)
		snprintf(buf, size, "%lldm %02llds", (long long)(seconds / 60),
			 (long long)(seconds % 60));
	else if (seconds < 86400 * 2)
		snprintf(buf, size, "%lldh %02lldm", (long long)(seconds / 3600),
			 (long long)(seconds % 3600 / 60));
	else
		snprintf(buf, size, "%lldd %02lldh", (long long)(seconds / 86400),
			 (long long)(seconds % 86400 / 3600));
	return buf;
}

const char *cli_progress_bar(uint64_t done, uint64_t total, char *buf,
			     size_t size)
{
	char bar[CLI_PROGRESS_BAR + 1];
	unsigned pct, fill;

	if (total == 0) {
		snprintf(buf, size, "[%*s]   ?%%", CLI_PROGRESS_BAR, "");
		return buf;
	}
	if (done > total)
		done = total;
	/* done * 100 must not wrap: a huge total loses its low bits
	 * (done's with it), which no percentage shows. */
	while (total > UINT64_MAX / 100) {
		total >>= 1;
		done >>= 1;
	}
	pct = (unsigned)(done * 100 / total);
	fill = (unsigned)(done * CLI_PROGRESS_BAR / total);
	memset(bar, '#', fill);
	memset(bar + fill, '-', CLI_PROGRESS_BAR - fill);
	bar[CLI_PROGRESS_BAR] = '\0';
	snprintf(buf, size, "[%s] %3u%%", bar, pct);
	return buf;
}

const char *cli_progress_line(const struct store_progress *p, char *buf,
			      size_t size)
{
	char folder[160], name[100], done[32], total[32];

	if (p->folder_index == 0)
		snprintf(folder, sizeof(folder), "listing %u folders",
			 p->folder_count);
	else
		snprintf(folder, sizeof(folder), "folder %u/%u %s",
			 p->folder_index, p->folder_count,
			 cli_printable(p->folder != NULL ? p->folder : "", name,
				       sizeof(name)));
	cli_size_human(p->bytes_done, done, sizeof(done));
	if (p->bytes_total != 0)
		cli_size_human(p->bytes_total, total, sizeof(total));
	else
		snprintf(total, sizeof(total), "?");
	snprintf(buf, size, "%s, %llu/%llu messages, %s/%s", folder,
		 (unsigned long long)p->messages_done,
		 (unsigned long long)p->messages_total, done, total);
	return buf;
}
