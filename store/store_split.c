/*
 * NAME
 *	store_split 3
 * SUMMARY
 *	the split hand-out: a large account's folders over two workers
 * DESCRIPTION
 *	What store.h promises of store_split_*, written once over the
 *	backends' split_update (one transaction each: LMDB's write
 *	transaction, PostgreSQL's row lock), with the record's encoding
 *	both keep: a store_codec record, version 1: holder, u32 count and
 *	the folder names, u32 cursor, assistant (NULL: none), u64 its
 *	lease, u32 its folder, u64 its folders, u32 closed, u32 done, u64
 *	created; version 2 adds, for each folder, where the assistant's
 *	copy of it began (u32 OLD's UIDVALIDITY, u32 NEW's UIDNEXT, u64
 *	OLD's HIGHESTMODSEQ; zeros: not copied by it). Version 1 (a
 *	daemon of before) is read with none known.
 * GUARANTEES
 *	A folder is claimed once per hand-out: the cursor moves in the
 *	claiming transaction. The assistant can claim or renew only while
 *	the hand-out is open and names it; once the holder has closed it,
 *	what the assistant still has in flight is its slot's pending
 *	batch, which the holder settles when the assistant's lease has run
 *	out (puller_split(3)).
 */
#include "config.h"

#include <string.h>

#include "mm_alloc.h"
#include "store_codec.h"
#include "store_int.h"

#define SPLIT_REC_VERSION 2

void store_split_clear(struct store_split *s)
{
	for (size_t i = 0; s->folders != NULL && i < s->count; i++)
		mm_free(&s->folders[i]);
	mm_free(&s->folders);
	mm_free(&s->starts);
	mm_free(&s->account);
	mm_free(&s->holder);
	mm_free(&s->assistant);
	memset(s, 0, sizeof(*s));
}

void store_split_encode(const struct store_split *s, struct rec_writer *w)
{
	rec_init(w, SPLIT_REC_VERSION);
	rec_put_str(w, s->holder != NULL ? s->holder : "");
	rec_put_u32(w, (uint32_t)s->count);
	for (size_t i = 0; i < s->count; i++)
		rec_put_str(w, s->folders[i]);
	rec_put_u32(w, s->cursor);
	rec_put_str(w, s->assistant);
	rec_put_u64(w, (uint64_t)s->assistant_lease);
	rec_put_u32(w, s->assistant_folder);
	rec_put_u64(w, s->assistant_folders);
	rec_put_u32(w, (uint32_t)s->closed);
	rec_put_u32(w, (uint32_t)s->done);
	rec_put_u64(w, (uint64_t)s->created);
	for (size_t i = 0; i < s->count; i++) {
		const struct store_split_start *st = &s->starts[i];

		rec_put_u32(w, st->uidvalidity);
		rec_put_u32(w, st->uidnext);
		rec_put_u64(w, st->modseq);
	}
}

int store_split_decode(const char *account, const void *data, size_t len,
		       struct store_split *s, const char **error_r)
{
	struct rec_reader r;
	uint32_t n;
	int version;

	memset(s, 0, sizeof(*s));
	version = rec_begin(&r, data, len);
	if (version != 1 && version != SPLIT_REC_VERSION)
		return store_fail(error_r, "damaged split record of '%.200s'", account);
	s->account = mm_strdup(account);
	s->holder = rec_get_str(&r);
	n = rec_get_u32(&r);
	if (!r.bad && n <= STORE_MAX_SPLIT_FOLDERS) {
		s->folders = mm_calloc(n + 1, sizeof(*s->folders));
		for (uint32_t i = 0; i < n && !r.bad; i++) {
			s->folders[i] = rec_get_str(&r);
			s->count = i + 1;
			if (s->folders[i] == NULL)
				r.bad = 1;
		}
	} else {
		r.bad = 1;
	}
	s->cursor = rec_get_u32(&r);
	s->assistant = rec_get_str(&r);
	s->assistant_lease = (int64_t)rec_get_u64(&r);
	s->assistant_folder = rec_get_u32(&r);
	s->assistant_folders = rec_get_u64(&r);
	s->closed = (int)rec_get_u32(&r);
	s->done = (int)rec_get_u32(&r);
	s->created = (int64_t)rec_get_u64(&r);
	s->starts = mm_calloc(s->count + 1, sizeof(*s->starts));
	for (size_t i = 0; version >= 2 && i < s->count && !r.bad; i++) {
		s->starts[i].uidvalidity = rec_get_u32(&r);
		s->starts[i].uidnext = rec_get_u32(&r);
		s->starts[i].modseq = rec_get_u64(&r);
	}
	if (!rec_end_ok(&r) || s->holder == NULL || s->cursor > s->count ||
	    s->assistant_folder > s->count) {
		store_split_clear(s);
		return store_fail(error_r, "damaged split record of '%.200s'", account);
	}
	return 0;
}

/* Does an assistant still work on s at now (it may write its slot)? */
static int split_assistant_live(const struct store_split *s, time_t now)
{
	return s->assistant != NULL && !s->done && s->assistant_lease > now;
}

struct split_ctx {
	const char *owner;
	char *const *folders;
	size_t count;
	unsigned lease_seconds;
	time_t now;
	uint32_t index;
	char *folder;
	char *account;
	struct store_split *out;
	const struct store_split_start *start;
};

static int split_publish_fn(struct store_split *s, int exists, void *context)
{
	struct split_ctx *ctx = context;
	char *account;

	if (exists && split_assistant_live(s, ctx->now))
		return STORE_EXISTS;
	account = s->account;
	s->account = NULL;
	store_split_clear(s);
	s->account = account;
	s->holder = mm_strdup(ctx->owner);
	s->folders = mm_calloc(ctx->count + 1, sizeof(*s->folders));
	for (size_t i = 0; i < ctx->count; i++)
		s->folders[i] = mm_strdup(ctx->folders[i]);
	s->count = ctx->count;
	s->starts = mm_calloc(ctx->count + 1, sizeof(*s->starts));
	s->created = ctx->now;
	return 0;
}

int store_split_publish(struct store *store, const char *account,
			const char *holder, char *const *folders, size_t count,
			time_t now, const char **error_r)
{
	struct split_ctx ctx = { .owner = holder, .folders = folders,
				 .count = count, .now = now };

	if (count > STORE_MAX_SPLIT_FOLDERS)
		return store_fail(error_r, "split of %zu folders (at most %d)", count,
				  STORE_MAX_SPLIT_FOLDERS);
	for (size_t i = 0; i < count; i++)
		if (folders[i] == NULL || strlen(folders[i]) > STORE_MAX_FOLDER)
			return store_fail(error_r, "split folder %zu: no name or "
					  "too long", i);
	return store->v->split_update(store, account, split_publish_fn, &ctx,
				      error_r);
}

static int split_join_fn(struct store_split *s, int exists, void *context)
{
	struct split_ctx *ctx = context;

	if (!exists || s->closed || s->assistant != NULL || s->cursor >= s->count ||
	    strcmp(s->holder, ctx->owner) == 0)
		return STORE_NOTFOUND;
	s->assistant = mm_strdup(ctx->owner);
	s->assistant_lease = ctx->now + ctx->lease_seconds;
	mm_free(&ctx->account);	/* a backend may run the body again */
	ctx->account = mm_strdup(s->account);
	return 0;
}

int store_split_join(struct store *store, const char *owner,
		     unsigned lease_seconds, time_t now, char *account_r,
		     size_t size, const char **error_r)
{
	struct split_ctx ctx = { .owner = owner, .lease_seconds = lease_seconds,
				 .now = now };
	int ret = store->v->split_update(store, NULL, split_join_fn, &ctx, error_r);

	if (ret == 0) {
		if (strlen(ctx.account) >= size) {
			mm_free(&ctx.account);
			return store_fail(error_r, "account name too long");
		}
		memcpy(account_r, ctx.account, strlen(ctx.account) + 1);
	}
	mm_free(&ctx.account);
	return ret;
}

static int split_claim_fn(struct store_split *s, int exists, void *context)
{
	struct split_ctx *ctx = context;
	int holder;

	if (!exists)
		return STORE_NOTFOUND;
	holder = strcmp(s->holder, ctx->owner) == 0;
	if (!holder) {
		if (s->closed || s->assistant == NULL ||
		    strcmp(s->assistant, ctx->owner) != 0)
			return STORE_NOTFOUND;
		if (s->assistant_folder != 0)
			s->assistant_folders++;
		s->assistant_folder = 0;
		s->assistant_lease = ctx->now + ctx->lease_seconds;
	}
	if (s->cursor >= s->count) {
		if (!holder) {
			s->done = 1;
			return 0;	/* written: done */
		}
		return STORE_NOTFOUND;
	}
	ctx->index = s->cursor++;
	mm_free(&ctx->folder);
	ctx->folder = mm_strdup(s->folders[ctx->index]);
	if (!holder)
		s->assistant_folder = ctx->index + 1;
	return 0;
}

int store_split_claim(struct store *store, const char *account,
		      const char *owner, unsigned lease_seconds, time_t now,
		      uint32_t *index_r, char **folder_r, const char **error_r)
{
	struct split_ctx ctx = { .owner = owner, .lease_seconds = lease_seconds,
				 .now = now };
	int ret = store->v->split_update(store, account, split_claim_fn, &ctx,
					 error_r);

	if (ret == 0 && ctx.folder == NULL)
		ret = STORE_NOTFOUND;	/* the assistant: marked done */
	if (ret == 0) {
		*index_r = ctx.index;
		*folder_r = ctx.folder;
	} else {
		mm_free(&ctx.folder);
	}
	return ret;
}

static int split_renew_fn(struct store_split *s, int exists, void *context)
{
	struct split_ctx *ctx = context;

	/* Giving the lease back (0) is the assistant's last word, taken
	 * after a close too: the holder need not wait for it to run out. */
	if (!exists || (s->closed && ctx->lease_seconds != 0) ||
	    s->assistant == NULL || strcmp(s->assistant, ctx->owner) != 0)
		return STORE_NOTFOUND;
	s->assistant_lease = ctx->now + ctx->lease_seconds;
	return 0;
}

int store_split_renew(struct store *store, const char *account,
		      const char *owner, unsigned lease_seconds, time_t now,
		      const char **error_r)
{
	struct split_ctx ctx = { .owner = owner, .lease_seconds = lease_seconds,
				 .now = now };

	return store->v->split_update(store, account, split_renew_fn, &ctx, error_r);
}

static int split_copied_fn(struct store_split *s, int exists, void *context)
{
	struct split_ctx *ctx = context;

	if (!exists || s->closed || s->assistant == NULL ||
	    strcmp(s->assistant, ctx->owner) != 0 || ctx->index >= s->count)
		return STORE_NOTFOUND;
	s->starts[ctx->index] = *ctx->start;
	return 0;
}

int store_split_copied(struct store *store, const char *account,
		       const char *owner, uint32_t index,
		       const struct store_split_start *start, const char **error_r)
{
	struct split_ctx ctx = { .owner = owner, .index = index, .start = start };

	return store->v->split_update(store, account, split_copied_fn, &ctx, error_r);
}

/* A deep copy of s into *out. */
static void split_copy(const struct store_split *s, struct store_split *out)
{
	store_split_clear(out);
	*out = *s;
	out->account = mm_strdup(s->account);
	out->holder = mm_strdup(s->holder);
	out->assistant = s->assistant != NULL ? mm_strdup(s->assistant) : NULL;
	out->folders = mm_calloc(s->count + 1, sizeof(*out->folders));
	for (size_t i = 0; i < s->count; i++)
		out->folders[i] = mm_strdup(s->folders[i]);
	out->starts = mm_calloc(s->count + 1, sizeof(*out->starts));
	if (s->starts != NULL)
		memcpy(out->starts, s->starts, s->count * sizeof(*s->starts));
}

static int split_get_fn(struct store_split *s, int exists, void *context)
{
	struct split_ctx *ctx = context;

	if (!exists)
		return STORE_NOTFOUND;
	split_copy(s, ctx->out);
	return STORE_EXISTS;	/* nothing written */
}

int store_split_get(struct store *store, const char *account,
		    struct store_split *split_r, const char **error_r)
{
	struct split_ctx ctx = { .out = split_r };
	int ret;

	memset(split_r, 0, sizeof(*split_r));
	ret = store->v->split_update(store, account, split_get_fn, &ctx, error_r);
	return ret == STORE_EXISTS ? 0 : ret;
}

static int split_close_fn(struct store_split *s, int exists, void *context)
{
	struct split_ctx *ctx = context;

	if (!exists)
		return STORE_NOTFOUND;
	s->closed = 1;
	if (ctx->out != NULL)
		split_copy(s, ctx->out);
	return 0;
}

int store_split_close(struct store *store, const char *account,
		      struct store_split *split_r, const char **error_r)
{
	struct split_ctx ctx = { .out = split_r };
	int ret;

	if (split_r != NULL)
		memset(split_r, 0, sizeof(*split_r));
	ret = store->v->split_update(store, account, split_close_fn, &ctx, error_r);
	if (ret != 0 && split_r != NULL)
		store_split_clear(split_r);
	return ret;
}

static int split_del_fn(struct store_split *s, int exists, void *context)
{
	(void)s;
	(void)context;
	return exists ? STORE_SPLIT_DELETE : STORE_NOTFOUND;
}

int store_split_del(struct store *store, const char *account,
		    const char **error_r)
{
	int ret = store->v->split_update(store, account, split_del_fn, NULL, error_r);

	return ret == STORE_SPLIT_DELETE ? 0 : ret;
}
