/*
 * NAME
 *	store_copy 3
 * SUMMARY
 *	move a store to PostgreSQL: copy, verify, commit or nothing
 * DESCRIPTION
 *	store_copy() is backend-neutral: it reads the source with
 *	store_dump() (one snapshot) and hands each record to the
 *	target's load member, all in one transaction of the target.
 *	Before that transaction commits, it reads the target back with
 *	store_dump() (inside the same transaction) and compares the two
 *	kind by kind:
 *
 *	- the count of records;
 *	- a multiset digest: the sum, modulo 2^64, of the first 8 bytes
 *	  of SHA-256 over each record's canonical form (copy_canon()), so
 *	  the order in which a backend lists a kind does not matter;
 *	- for jobs and events, whose order is their meaning (FIFO, the
 *	  log), SHA-256 over the sequence of canonical forms in the
 *	  order the dumps give (id order on both backends).
 *
 *	The canonical form holds every field of a record but the ids a
 *	store numbers itself (job and event ids): a loader may number
 *	them anew, and the sequence digest shows it kept their order.
 *
 *	Consistency: the source's generation (LMDB's last committed
 *	transaction id) is read before its snapshot and again after
 *	the verification. If any process committed a write to the source
 *	meanwhile, what was copied is no longer the store: the target is
 *	rolled back and the caller told how many writes happened.
 * DIAGNOSTICS
 *	Every failure rolls the target back, so it is as empty as it was.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "mm_alloc.h"
#include "store_codec.h"
#include "store_int.h"

#define COPY_CANON_VERSION 1
#define COPY_PROGRESS_EVERY 10000

static const char *const dump_kind_names[STORE_DUMP_KINDS] = {
	"meta", "accounts", "passwords", "aliases", "proposals", "jobs",
	"folders", "uid-map", "uidls", "batches", "failed", "events",
	"tls-memory", "copy-rate", "sieve", "dav", "acl",
};

const char *store_dump_kind_name(enum store_dump_kind kind)
{
	return (unsigned)kind < STORE_DUMP_KINDS ? dump_kind_names[kind] : "?";
}

/* What one side of the copy held, kind by kind. */
struct copy_side {
	uint64_t count[STORE_DUMP_KINDS];
	uint64_t sum[STORE_DUMP_KINDS];
	EVP_MD_CTX *seq[STORE_DUMP_KINDS];	/* jobs and events only */
	enum store_dump_kind last_kind;
	int bad_kind;				/* a record of no known kind */
};

struct copy_ctx {
	struct store *to;
	struct store_copy_report *report;
	struct copy_side side;
};

static int copy_ordered(enum store_dump_kind kind)
{
	return kind == STORE_DUMP_JOB || kind == STORE_DUMP_EVENT;
}

/* The record as bytes that are the same whichever backend read it:
 * every field, in a fixed order, but the store's own ids. */
static void copy_canon(const struct store_dump_rec *rec, struct rec_writer *w)
{
	rec_init(w, COPY_CANON_VERSION);
	rec_put_u32(w, (uint32_t)rec->kind);
	switch (rec->kind) {
	case STORE_DUMP_META:
		rec_put_str(w, rec->name);
		rec_put_u64(w, rec->value);
		break;
	case STORE_DUMP_ACCOUNT: {
		const struct store_account *a = rec->account;

		rec_put_str(w, a->name);
		rec_put_str(w, a->domain);
		rec_put_u32(w, (uint32_t)a->state);
		rec_put_u32(w, a->flags);
		rec_put_str(w, a->password_hash);
		rec_put_u64(w, (uint64_t)a->created);
		rec_put_u64(w, (uint64_t)a->updated);
		rec_put_u64(w, (uint64_t)a->copy_started);
		rec_put_u64(w, (uint64_t)a->copy_finished);
		rec_put_u64(w, (uint64_t)a->finished);
		rec_put_u64(w, a->messages);
		rec_put_u64(w, a->bytes);
		rec_put_u64(w, a->folders);
		rec_put_u64(w, a->errors);
		rec_put_u64(w, a->late_mail);
		rec_put_str(w, a->last_error);
		rec_put_u32(w, (uint32_t)a->aliases_count);
		for (size_t i = 0; i < a->aliases_count; i++)
			rec_put_str(w, a->aliases[i]);
		break;
	}
	case STORE_DUMP_CRED:
		rec_put_str(w, rec->owner);
		rec_put_u64(w, rec->len);
		rec_put_bytes(w, rec->data, rec->len);
		break;
	case STORE_DUMP_ALIAS:
		rec_put_str(w, rec->name);
		rec_put_str(w, rec->owner);
		break;
	case STORE_DUMP_PROPOSAL: {
		const struct store_proposal *p = rec->proposal;

		rec_put_str(w, p->alias);
		rec_put_str(w, p->account);
		rec_put_u32(w, (uint32_t)p->state);
		rec_put_u32(w, p->sources);
		rec_put_u64(w, p->count);
		rec_put_u64(w, (uint64_t)p->first_seen);
		rec_put_u64(w, (uint64_t)p->last_seen);
		break;
	}
	case STORE_DUMP_JOB: {
		const struct store_job *j = rec->job;

		rec_put_str(w, j->account);
		rec_put_u32(w, (uint32_t)j->kind);
		rec_put_u64(w, (uint64_t)j->enqueued);
		rec_put_u64(w, (uint64_t)j->not_before);
		rec_put_u64(w, (uint64_t)j->lease_until);
		rec_put_str(w, j->owner);
		rec_put_u32(w, j->attempts);
		rec_put_str(w, j->last_error);
		rec_put_u32(w, j->deaths);
		break;
	}
	case STORE_DUMP_FOLDER: {
		const struct store_folder *f = rec->folder;

		rec_put_str(w, f->account);
		rec_put_str(w, f->name);
		rec_put_str(w, f->target_name);
		rec_put_u32(w, f->uidvalidity);
		rec_put_u32(w, f->last_uid);
		rec_put_u32(w, f->target_uidvalidity);
		rec_put_u64(w, f->messages);
		rec_put_u64(w, f->bytes);
		rec_put_u32(w, f->subscribed != 0);
		rec_put_u64(w, f->highestmodseq);
		break;
	}
	case STORE_DUMP_MSGMAP:
		rec_put_str(w, rec->owner);
		rec_put_str(w, rec->name);
		rec_put_u32(w, rec->uidvalidity);
		rec_put_u32(w, rec->old_uid);
		rec_put_u32(w, rec->new_uid);
		rec_put_u32(w, rec->flags_hash);
		break;
	case STORE_DUMP_UIDL:
		rec_put_str(w, rec->owner);
		rec_put_str(w, rec->name);
		rec_put_u64(w, (uint64_t)rec->time);
		break;
	case STORE_DUMP_BATCH: {
		const struct store_batch *b = rec->batch;

		rec_put_str(w, rec->owner);
		rec_put_u32(w, (uint32_t)rec->value);	/* the slot */
		rec_put_str(w, b->folder);
		rec_put_u32(w, b->uidvalidity);
		rec_put_str(w, b->target_folder);
		rec_put_u32(w, b->target_uidvalidity);
		rec_put_u32(w, b->target_uidnext);
		rec_put_u32(w, (uint32_t)b->count);
		for (size_t i = 0; i < b->count; i++) {
			const struct store_batch_msg *m = &b->msgs[i];

			rec_put_u32(w, m->old_uid);
			rec_put_u64(w, m->size);
			rec_put_str(w, m->internaldate);
			rec_put_str(w, m->uidl);
			rec_put_u32(w, m->flags_hash);
			rec_put_u64(w, m->message_id_hash);
		}
		break;
	}
	case STORE_DUMP_FAILED: {
		const struct store_failed *it = rec->failed;

		rec_put_str(w, it->account);
		rec_put_str(w, it->folder);
		rec_put_u32(w, it->uidvalidity);
		rec_put_u32(w, it->uid);
		rec_put_u64(w, it->size);
		rec_put_u64(w, (uint64_t)it->time);
		rec_put_str(w, it->reason);
		break;
	}
	case STORE_DUMP_EVENT: {
		const struct store_event *ev = rec->event;

		rec_put_u64(w, (uint64_t)ev->time);
		rec_put_u32(w, (uint32_t)ev->severity);
		rec_put_str(w, ev->account);
		rec_put_str(w, ev->message);
		break;
	}
	case STORE_DUMP_TLS:
		rec_put_str(w, rec->name);
		rec_put_str(w, rec->proto);
		rec_put_u64(w, (uint64_t)rec->time);
		break;
	case STORE_DUMP_RATE:
		rec_put_u64(w, (uint64_t)rec->time);
		rec_put_u64(w, rec->value);
		rec_put_u64(w, rec->bytes);
		rec_put_u64(w, (uint64_t)rec->first);
		break;
	case STORE_DUMP_SIEVE:
		rec_put_str(w, rec->owner);
		rec_put_str(w, rec->name);
		rec_put_bytes(w, rec->data, rec->len);
		rec_put_u64(w, rec->value);
		break;
	case STORE_DUMP_DAV:
		rec_put_str(w, rec->owner);
		rec_put_str(w, rec->name);
		rec_put_u32(w, rec->dav->kind);
		rec_put_str(w, rec->dav->old_url);
		rec_put_str(w, rec->dav->new_url);
		rec_put_bytes(w, rec->dav->old_etag, STORE_DAV_HASH);
		rec_put_bytes(w, rec->dav->new_etag, STORE_DAV_HASH);
		rec_put_bytes(w, rec->dav->sha256, STORE_DAV_HASH);
		rec_put_u64(w, (uint64_t)rec->dav->copied);
		break;
	case STORE_DUMP_ACL:
		rec_put_str(w, rec->owner);
		rec_put_str(w, rec->acl->folder);
		rec_put_str(w, rec->acl->identifier);
		rec_put_str(w, rec->acl->target);
		rec_put_str(w, rec->acl->given_to);
		rec_put_str(w, rec->acl->rights);
		rec_put_u32(w, rec->acl->state);
		rec_put_u64(w, (uint64_t)rec->acl->updated);
		break;
	}
}

static int copy_side_init(struct copy_side *side, const char **error_r)
{
	memset(side, 0, sizeof(*side));
	for (int k = 0; k < STORE_DUMP_KINDS; k++) {
		if (!copy_ordered((enum store_dump_kind)k))
			continue;
		side->seq[k] = EVP_MD_CTX_new();
		if (side->seq[k] == NULL ||
		    EVP_DigestInit_ex(side->seq[k], EVP_sha256(), NULL) != 1)
			return store_fail(error_r, "store copy: SHA-256 failed");
	}
	return 0;
}

static void copy_side_free(struct copy_side *side)
{
	for (int k = 0; k < STORE_DUMP_KINDS; k++)
		EVP_MD_CTX_free(side->seq[k]);
	memset(side, 0, sizeof(*side));
}

/* Count the record and add it to its kind's digests. */
static int copy_account(struct copy_side *side, const struct store_dump_rec *rec,
			const char **error_r)
{
	unsigned char md[EVP_MAX_MD_SIZE], len[8];
	unsigned int mdlen = 0;
	struct rec_writer w;
	int ok;

	if ((unsigned)rec->kind >= STORE_DUMP_KINDS)
		return store_fail(error_r, "store copy: a record of unknown kind %d",
				  (int)rec->kind);
	copy_canon(rec, &w);
	ok = EVP_Digest(w.buf, w.len, md, &mdlen, EVP_sha256(), NULL) == 1 &&
		mdlen >= 8;
	if (ok && copy_ordered(rec->kind)) {
		store_be64(len, w.len);
		ok = EVP_DigestUpdate(side->seq[rec->kind], len, 8) == 1 &&
			EVP_DigestUpdate(side->seq[rec->kind], w.buf, w.len) == 1;
	}
	rec_free(&w);
	if (!ok)
		return store_fail(error_r, "store copy: SHA-256 failed");
	side->count[rec->kind]++;
	side->sum[rec->kind] += store_get_be64(md);
	side->last_kind = rec->kind;
	return 0;
}

/* The dump's callback on the source: into the target. */
static int copy_load_one(const struct store_dump_rec *rec, void *context,
			 const char **error_r)
{
	struct copy_ctx *ctx = context;
	struct store_copy_report *report = ctx->report;
	uint64_t n = report->records;

	if (n > 0 && rec->kind != ctx->side.last_kind &&
	    report->progress != NULL)
		report->progress(n, report->progress_ctx);
	if (copy_account(&ctx->side, rec, error_r) < 0 ||
	    ctx->to->v->load(ctx->to, rec, error_r) < 0)
		return -1;
	report->records = ++n;
	if (n % COPY_PROGRESS_EVERY == 0 && report->progress != NULL)
		report->progress(n, report->progress_ctx);
	return 0;
}

/* The dump's callback on the target, read back. */
static int copy_verify_one(const struct store_dump_rec *rec, void *context,
			   const char **error_r)
{
	struct copy_side *side = context;

	return copy_account(side, rec, error_r);
}

/* Fill report->kinds from the two sides: 0 when all match, else 1. */
static int copy_compare(struct copy_side *src, struct copy_side *dst,
			struct store_copy_report *report, const char **error_r)
{
	int differs = 0;

	for (int k = 0; k < STORE_DUMP_KINDS; k++) {
		struct store_copy_kind *ck = &report->kinds[k];
		unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
		unsigned int alen = 0, blen = 0;

		ck->source = src->count[k];
		ck->target = dst->count[k];
		ck->same = src->count[k] == dst->count[k] &&
			src->sum[k] == dst->sum[k];
		if (copy_ordered((enum store_dump_kind)k)) {
			if (EVP_DigestFinal_ex(src->seq[k], a, &alen) != 1 ||
			    EVP_DigestFinal_ex(dst->seq[k], b, &blen) != 1)
				return store_fail(error_r, "store copy: SHA-256 failed");
			if (alen != blen || memcmp(a, b, alen) != 0)
				ck->same = 0;
		}
		differs |= !ck->same;
	}
	report->verified = 1;
	report->differs = differs;
	return differs;
}

/* The names of the kinds that differ, for the message. */
static void copy_differing(const struct store_copy_report *report, char *buf,
			   size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int k = 0; k < STORE_DUMP_KINDS && n < size; k++) {
		if (report->kinds[k].same)
			continue;
		n += (size_t)snprintf(buf + n, size - n, "%s%s", n > 0 ? ", " : "",
				      dump_kind_names[k]);
	}
}

static double copy_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) +
		(double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Everything after load_begin: 0 when the target may commit. */
static int copy_run(struct store *from, struct store *to, uint64_t gen0,
		    struct copy_ctx *ctx, const char **error_r)
{
	struct store_copy_report *report = ctx->report;
	struct copy_side dst;
	uint64_t gen1;
	char kinds[256];
	int ret;

	ret = store_dump(from, copy_load_one, ctx, error_r);
	if (ret != 0)
		return -1;
	if (report->progress != NULL)
		report->progress(report->records, report->progress_ctx);
	ret = copy_side_init(&dst, error_r);
	if (ret == 0)
		ret = store_dump(to, copy_verify_one, &dst, error_r);
	if (ret == 0)
		ret = copy_compare(&ctx->side, &dst, report, error_r);
	copy_side_free(&dst);
	if (ret < 0)
		return -1;
	if (ret > 0) {
		copy_differing(report, kinds, sizeof(kinds));
		return store_fail(error_r, "store copy: the target read back "
				  "differs from the source in: %s; rolled back, "
				  "the target is as empty as before", kinds);
	}
	if (from->v->generation(from, &gen1, error_r) < 0)
		return -1;
	if (gen1 != gen0) {
		report->source_changed = 1;
		report->source_writes = gen1 - gen0;
		return store_fail(error_r, "store copy: the source store was "
				  "written %llu time%s during the copy, so the "
				  "copy is not the store any more: rolled back, "
				  "the target is as empty as before. Stop the "
				  "writers first (`mailmigrate pause`, then stop "
				  "mailmigrated, mailmigrate-relay and Dovecot's "
				  "logins), or run it in a quiet moment, then run "
				  "it again", (unsigned long long)report->source_writes,
				  report->source_writes == 1 ? "" : "s");
	}
	return 0;
}

int store_copy(struct store *from, struct store *to,
	       struct store_copy_report *report, const char **error_r)
{
	struct copy_ctx ctx = { .to = to, .report = report };
	struct timespec start;
	const char *ignored;
	uint64_t gen0;
	int ret;

	report->records = 0;
	memset(report->kinds, 0, sizeof(report->kinds));
	report->verified = report->differs = report->source_changed = 0;
	report->source_writes = 0;
	report->seconds = 0;
	clock_gettime(CLOCK_MONOTONIC, &start);
	if (to->v->load_begin == NULL || to->v->load == NULL ||
	    to->v->load_end == NULL)
		return store_fail(error_r, "store copy: the target must be "
				  "postgresql:...");
	if (from->v->generation == NULL)
		return store_fail(error_r, "store copy: the source must be an "
				  "LMDB store (lmdb:DIR); a PostgreSQL store "
				  "moves with pg_dump");
	if (to->readonly)
		return store_fail(error_r, "store copy: the target is open read-only");
	if (from->v->generation(from, &gen0, error_r) < 0)
		return -1;
	ret = to->v->load_begin(to, error_r);
	if (ret != 0)
		return ret;
	ret = copy_side_init(&ctx.side, error_r);
	if (ret == 0)
		ret = copy_run(from, to, gen0, &ctx, error_r);
	copy_side_free(&ctx.side);
	if (ret < 0) {
		char why[1024];

		/* Keep the body's message, not the rollback's: both live
		 * in the one error buffer. */
		snprintf(why, sizeof(why), "%s", *error_r);
		(void)to->v->load_end(to, 0, &ignored);
		report->seconds = copy_since(&start);
		return store_fail(error_r, "%s", why);
	}
	ret = to->v->load_end(to, 1, error_r);
	report->seconds = copy_since(&start);
	return ret < 0 ? -1 : 0;
}
