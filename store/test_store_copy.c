/*
 * NAME
 *	test_store_copy 1
 * SUMMARY
 *	unit tests for store_copy(): an LMDB store moved to PostgreSQL
 * DESCRIPTION
 *	The source is an LMDB store made under test_dir and filled with
 *	every kind of record; the target is the PostgreSQL test database
 *	(MM_TEST_PGSQL; without it only the refusals that need no server
 *	run). What was copied is checked through the public API, never
 *	through the dump under test: both stores are described as text
 *	by the same calls and the texts compared. Then: a target that
 *	holds something is refused with nothing written, a source written
 *	to during the copy (from the progress callback, while the source
 *	snapshot is open) is rolled back by the generation check, and a
 *	UID map entry whose folder record is gone stops the copy.
 */
#include "config.h"

#include <lmdb.h>
#include <stdarg.h>

#include "test_util.h"

#define NOW 1700000000

static char lmdb_dir[128];

/* A text that grows. */
struct text {
	char *s;
	size_t len;
};

static void text_add(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	char *more;

	va_start(ap, fmt);
	more = mm_vasprintf(fmt, ap);
	va_end(ap);
	t->s = mm_realloc(t->s, t->len + strlen(more) + 1);
	memcpy(t->s + t->len, more, strlen(more) + 1);
	t->len += strlen(more);
	mm_free(&more);
}

/* An ACL record as text into buf (512 bytes), the records in the
 * identifiers' order whatever the backend's ("$staff" before "bob"). */
static int acl_text(const struct store_acl *a, void *ctx)
{
	char *buf = ctx, one[256];

	snprintf(one, sizeof(one), "%s=%s:%s:%s:%s:%s:%lld;", a->identifier, a->given_to,
		 a->rights, store_acl_state_name(a->state), a->folder, a->target,
		 (long long)a->updated);
	if (a->identifier[0] == '$') {
		memmove(buf + strlen(one), buf, strlen(buf) + 1);
		memcpy(buf, one, strlen(one));
	} else {
		snprintf(buf + strlen(buf), 512 - strlen(buf), "%s", one);
	}
	return 0;
}

/* Bytes as hex, so non-UTF-8 names compare and print. */
static void text_hex(struct text *t, const char *s)
{
	if (s == NULL) {
		text_add(t, "(null) ");
		return;
	}
	for (; *s != '\0'; s++)
		text_add(t, "%02x", (unsigned char)*s);
	text_add(t, " ");
}

static struct store *open_lmdb(int readonly)
{
	struct store_options opts = { .create = !readonly, .readonly = readonly };
	struct crypto_key key;
	struct store *store;
	const char *error;

	ck_assert_msg(store_open(lmdb_dir, &opts, &store, &error) == 0,
		      "store_open %s: %s", lmdb_dir, error);
	test_key(&key, 0x5a);
	store_set_key(store, &key);
	crypto_key_wipe(&key);
	return store;
}

static void lmdb_setup(void)
{
	test_setup();
	snprintf(lmdb_dir, sizeof(lmdb_dir), "lmdb:%s/lmdb", test_dir);
}

/* --- describing a store through the public API ---------------------------- */

struct describe {
	struct store *store;
	struct text *t;
	char names[16][STORE_MAX_ACCOUNT];
	size_t n;
	/* the folders of one account, for their UID maps (looked up
	 * after the iteration: no store call inside another) */
	char *folders[8];
	uint32_t uidvalidity[8], last_uid[8];
	size_t nf;
};

static int describe_folder(const struct store_folder *f, void *context)
{
	struct describe *d = context;

	text_add(d->t, "folder %s ", f->account);
	text_hex(d->t, f->name);
	text_hex(d->t, f->target_name);
	text_add(d->t, "%u %u %u %llu %llu %d %llu\n", f->uidvalidity, f->last_uid,
		 f->target_uidvalidity, (unsigned long long)f->messages,
		 (unsigned long long)f->bytes, f->subscribed,
		 (unsigned long long)f->highestmodseq);
	ck_assert_uint_lt(d->nf, 8);
	d->folders[d->nf] = mm_strdup(f->name);
	d->uidvalidity[d->nf] = f->uidvalidity;
	d->last_uid[d->nf++] = f->last_uid;
	return 0;
}

/* The UID map of the folders describe_folder() saw. */
static void describe_msgmap(struct describe *d, const char *account)
{
	uint32_t new_uid, flags;
	const char *error;

	for (size_t i = 0; i < d->nf; i++) {
		for (uint32_t uid = 1; uid <= d->last_uid[i] + 1; uid++) {
			int ret = store_msgmap_get_flags(d->store, account,
							 d->folders[i],
							 d->uidvalidity[i], uid,
							 &new_uid, &flags, &error);

			ck_assert_msg(ret >= 0, "%s", error);
			if (ret == 0)
				text_add(d->t, "  uid %u -> %u flags %u\n", uid,
					 new_uid, flags);
		}
		mm_free(&d->folders[i]);
	}
	d->nf = 0;
}

static int describe_account(const struct store_account *a, void *context)
{
	struct describe *d = context;

	text_add(d->t, "account %s %s %d %u %s %lld %lld %lld %lld %lld %llu %llu "
		 "%llu %llu %llu ", a->name, a->domain, (int)a->state, a->flags,
		 a->password_hash != NULL ? a->password_hash : "(null)",
		 (long long)a->created, (long long)a->updated,
		 (long long)a->copy_started, (long long)a->copy_finished,
		 (long long)a->finished, (unsigned long long)a->messages,
		 (unsigned long long)a->bytes, (unsigned long long)a->folders,
		 (unsigned long long)a->errors, (unsigned long long)a->late_mail);
	text_hex(d->t, a->last_error);
	for (size_t i = 0; i < a->aliases_count; i++)
		text_add(d->t, "alias=%s ", a->aliases[i]);
	text_add(d->t, "\n");
	ck_assert_uint_lt(d->n, 16);
	snprintf(d->names[d->n++], STORE_MAX_ACCOUNT, "%s", a->name);
	return 0;
}

static int describe_job(const struct store_job *j, void *context)
{
	struct describe *d = context;

	text_add(d->t, "job %s %d %lld %lld %lld %s %u %u ", j->account,
		 (int)j->kind, (long long)j->enqueued, (long long)j->not_before,
		 (long long)j->lease_until, j->owner != NULL ? j->owner : "(null)",
		 j->attempts, j->deaths);
	text_hex(d->t, j->last_error);
	text_add(d->t, "\n");
	return 0;
}

static int describe_failed(const struct store_failed *it, void *context)
{
	struct describe *d = context;

	text_add(d->t, "failed %s ", it->account);
	text_hex(d->t, it->folder);
	text_add(d->t, "%u %u %llu %lld ", it->uidvalidity, it->uid,
		 (unsigned long long)it->size, (long long)it->time);
	text_hex(d->t, it->reason);
	text_add(d->t, "\n");
	return 0;
}

static int describe_proposal(const struct store_proposal *p, void *context)
{
	struct describe *d = context;

	text_add(d->t, "proposal %s %s %d %u %llu %lld %lld\n", p->alias,
		 p->account, (int)p->state, p->sources,
		 (unsigned long long)p->count, (long long)p->first_seen,
		 (long long)p->last_seen);
	return 0;
}

static int describe_alias(const char *alias, const char *account, int origin,
			  void *context)
{
	struct describe *d = context;

	text_add(d->t, "alias %s %s %d\n", alias, account, origin);
	return 0;
}

static int describe_event(const struct store_event *ev, void *context)
{
	struct describe *d = context;

	text_add(d->t, "event %lld %d %s ", (long long)ev->time,
		 (int)ev->severity, ev->account);
	text_hex(d->t, ev->message);
	text_add(d->t, "\n");
	return 0;
}

/* Everything store holds, as text (the caller frees it). */
static char *describe(struct store *store)
{
	static const char *const uidls[] = { "uidl-1", "uidl-2", "uidl-3" };
	static const char *const domains[] = { "example.test", "old.test",
					       "none.test" };
	struct text t = { NULL, 0 };
	struct describe d = { .store = store, .t = &t };
	struct store_stats st;
	const char *error;
	int paused;

	ck_assert_msg(store_account_iter(store, describe_account, &d, &error) == 0,
		      "%s", error);
	for (size_t i = 0; i < d.n; i++) {
		struct store_batch b;
		char *password = NULL;
		uint64_t count;
		int ret;

		ret = store_cred_get(store, d.names[i], &password, &error);
		ck_assert_msg(ret >= 0, "%s", error);
		text_add(&t, "cred %s %s\n", d.names[i], ret == 0 ? password : "-");
		if (password != NULL)
			mm_free_secret(&password);
		ck_assert_msg(store_folder_iter(store, d.names[i], describe_folder,
						&d, &error) == 0, "%s", error);
		describe_msgmap(&d, d.names[i]);
		ck_assert_int_eq(store_uidl_count(store, d.names[i], &count, &error), 0);
		text_add(&t, "uidls %s %llu", d.names[i], (unsigned long long)count);
		for (size_t u = 0; u < 3; u++)
			text_add(&t, " %d", store_uidl_has(store, d.names[i], uidls[u],
							   &error));
		text_add(&t, "\n");
		for (unsigned slot = 0; slot < STORE_BATCH_SLOTS; slot++) {
		ret = store_batch_pending(store, d.names[i], slot, &b, &error);
		ck_assert_msg(ret >= 0, "%s", error);
		if (ret == 0) {
			text_add(&t, "batch %s %u ", d.names[i], slot);
			text_hex(&t, b.folder);
			text_hex(&t, b.target_folder);
			text_add(&t, "%u %u %u\n", b.uidvalidity, b.target_uidvalidity,
				 b.target_uidnext);
			for (size_t m = 0; m < b.count; m++)
				text_add(&t, "  msg %u %llu %s %s %u %llu\n",
					 b.msgs[m].old_uid,
					 (unsigned long long)b.msgs[m].size,
					 b.msgs[m].internaldate, b.msgs[m].uidl,
					 b.msgs[m].flags_hash, (unsigned long long)
					 b.msgs[m].message_id_hash);
			store_batch_clear(&b);
		}
		}
	}
	ck_assert(store_job_iter(store, describe_job, &d, &error) == 0);
	ck_assert(store_failed_iter(store, NULL, describe_failed, &d, &error) == 0);
	ck_assert(store_proposal_iter(store, describe_proposal, &d, &error) == 0);
	ck_assert(store_alias_iter(store, describe_alias, &d, &error) == 0);
	ck_assert(store_event_iter(store, 0, NULL, 0, describe_event, &d,
				   &error) == 0);
	ck_assert(store_paused(store, &paused, &error) == 0);
	ck_assert(store_stats_get(store, NOW + 30, &st, &error) == 0);
	text_add(&t, "paused %d stats %lld %llu %llu %llu %llu %lld %llu %llu %llu "
		 "%d %llu %llu %u\n", paused, (long long)st.started,
		 (unsigned long long)st.accounts, (unsigned long long)st.aliases,
		 (unsigned long long)st.messages, (unsigned long long)st.bytes,
		 (long long)st.last_migrated, (unsigned long long)st.errors,
		 (unsigned long long)st.jobs_pending,
		 (unsigned long long)st.jobs_leased, st.paused,
		 (unsigned long long)st.rate_messages,
		 (unsigned long long)st.rate_bytes, st.rate_seconds);
	for (int s = 0; s < STORE_STATE_COUNT; s++)
		text_add(&t, "state %d %llu\n", s,
			 (unsigned long long)st.by_state[s]);
	{
		static const char *const scripts[] = { "main", "vacation \xc3\xa4", "none" };

		for (size_t i = 0; i < 3; i++) {
			struct store_sieve sv = { { 0 }, 0 };
			int r = store_sieve_get(store, "alice@example.test", scripts[i], &sv,
						&error);

			ck_assert_msg(r >= 0, "%s", error);
			text_add(&t, "sieve %zu %d %d %02x%02x\n", i, r, sv.active,
				 sv.sha256[0], sv.sha256[31]);
		}
	}
	{
		struct store_dav dv;
		int r = store_dav_get(store, "alice@example.test", "http://old/alice/cal/",
				      "http://old/alice/cal/r%C3%A9.ics", &dv, &error);

		ck_assert_msg(r >= 0, "%s", error);
		text_add(&t, "dav %d %u %s %s %02x%02x%02x %lld %llu %llu\n", r, dv.kind,
			 r == 0 ? dv.old_url : "-", r == 0 ? dv.new_url : "-",
			 dv.old_etag[0], dv.new_etag[0], dv.sha256[31],
			 (long long)dv.copied, (unsigned long long)st.dav_collections,
			 (unsigned long long)st.dav_items);
	}
	{
		char acl[512] = "";

		ck_assert_msg(store_acl_iter(store, "alice@example.test", NULL, acl_text, acl,
					     &error) == 0, "%s", error);
		text_add(&t, "acl %s %llu %llu %llu\n", acl, (unsigned long long)st.acl_folders,
			 (unsigned long long)st.acl_given, (unsigned long long)st.acl_not_given);
	}
	for (size_t i = 0; i < 3; i++) {
		int64_t since = 0;
		int r1 = store_tls_seen_get(store, domains[i], STORE_TLS_IMAP, &since,
					    &error);
		int64_t since2 = 0;
		int r2 = store_tls_seen_get(store, domains[i], STORE_TLS_POP3,
					    &since2, &error);

		text_add(&t, "tls %s %d %lld %d %lld\n", domains[i], r1,
			 (long long)since, r2, (long long)since2);
	}
	return t.s;
}

/* --- filling the source ------------------------------------------------------ */

static void add_account(struct store *store, const char *name,
			enum store_state state, const char *password)
{
	struct store_account acct = { 0 };
	const char *error;

	acct.name = (char *)name;
	acct.domain = (char *)"example.test";
	acct.state = state;
	acct.password_hash = (char *)"{SHA512-CRYPT}$6$salt$hash";
	ck_assert_msg(store_account_create(store, &acct, password, NOW, &error) == 0,
		      "%s", error);
}

static void put_folder(struct store *store, const char *account,
		       const char *name, const char *target, uint32_t uidvalidity)
{
	struct store_folder f = { 0 };
	const char *error;

	f.account = (char *)account;
	f.name = (char *)name;
	f.target_name = (char *)target;
	f.uidvalidity = uidvalidity;
	f.target_uidvalidity = uidvalidity + 7;
	f.subscribed = 1;
	/* A HIGHESTMODSEQ past 32 bits, as Dovecot's are. */
	f.highestmodseq = ((uint64_t)uidvalidity << 33) + 5;
	ck_assert_msg(store_folder_put(store, &f, &error) == 0, "%s", error);
}

/* A folder name that is not UTF-8 and holds what COPY must escape. */
#define ODD_FOLDER "Sent\xff\xfe\tTab\\Back\nLine"

/* Every kind of record the copy moves. */
static void fill(struct store *store)
{
	struct store_batch_msg msgs[2];
	struct store_batch batch = { 0 };
	struct store_failed item = { 0 };
	struct store_job job;
	char who[STORE_MAX_ACCOUNT];
	const char *error;
	uint64_t id;

	add_account(store, "alice@example.test", STORE_STATE_QUEUED, "pw-alice");
	add_account(store, "bob@example.test", STORE_STATE_QUEUED, "pw\tbob\\");
	add_account(store, "carol@example.test", STORE_STATE_PASSWORDS_ONLY,
		    "pw-carol");
	add_account(store, "dave@example.test", STORE_STATE_QUEUED, NULL);
	add_account(store, "erin@example.test", STORE_STATE_QUEUED, "pw-erin");
	ck_assert(store_account_set_state(store, "bob@example.test",
					  STORE_STATE_COPIED, NOW + 5, &error) == 0);
	ck_assert(store_account_set_state(store, "dave@example.test",
					  STORE_STATE_FAILED, NOW + 6, &error) == 0);
	ck_assert(store_account_add_alias(store, "bob@example.test",
					  "robert@example.test", &error) == 0);
	ck_assert(store_account_add_alias(store, "bob@example.test",
					  "bobby@example.test", &error) == 0);

	/* Jobs: alice's leased, dave's retried with an odd reason, erin
	 * queued behind (FIFO: alice, dave, erin, then bob's sync). */
	ck_assert_int_eq(store_job_cancel(store, "bob@example.test", &error), 0);
	ck_assert_int_eq(store_job_take(store, "host:1:0", 600, NOW + 10, &job,
					&error), 0);
	ck_assert_str_eq(job.account, "alice@example.test");
	store_job_clear(&job);
	ck_assert_int_eq(store_job_take(store, "host:1:1", 600, NOW + 11, &job,
					&error), 0);
	ck_assert_str_eq(job.account, "dave@example.test");
	ck_assert_int_eq(store_job_retry(store, job.id, "host:1:1", NOW + 500,
					 "server said: \"no\"\t\\\n\xff", &error), 0);
	store_job_clear(&job);
	ck_assert_int_ge(store_job_enqueue(store, "bob@example.test",
					   STORE_JOB_SYNC, NOW + 12, &id, &error), 0);

	/* Folders, UID map (with flags), UIDLs. */
	put_folder(store, "bob@example.test", "INBOX", "INBOX", 11);
	put_folder(store, "bob@example.test", ODD_FOLDER, "Sent", 12);
	put_folder(store, "alice@example.test", ODD_FOLDER, NULL, 13);
	for (uint32_t uid = 1; uid <= 5; uid++) {
		ck_assert(store_message_copied(store, "bob@example.test", "INBOX", 11,
					       uid, uid + 100, 1000 + uid, NOW + 20,
					       &error) == 0);
		ck_assert(store_message_copied(store, "bob@example.test", ODD_FOLDER,
					       12, uid * 2, uid + 200, 2000, NOW + 21,
					       &error) == 0);
	}
	ck_assert(store_msgmap_set_flags(store, "bob@example.test", "INBOX", 11, 3,
					 0xdeadbeef, &error) == 0);
	ck_assert(store_uidl_add(store, "alice@example.test", "uidl-1", NOW + 30,
				 &error) == 0);
	ck_assert(store_uidl_add(store, "alice@example.test", "uidl-3", NOW + 31,
				 &error) == 0);

	/* A pending batch. */
	memset(msgs, 0, sizeof(msgs));
	msgs[0].old_uid = 6;
	msgs[0].size = 600;
	snprintf(msgs[0].internaldate, sizeof(msgs[0].internaldate),
		 "01-Jan-2020 10:00:00 +0000");
	msgs[0].flags_hash = 77;
	msgs[0].message_id_hash = 0x1234567890abcdefULL;
	msgs[1].old_uid = 7;
	msgs[1].size = 700;
	snprintf(msgs[1].uidl, sizeof(msgs[1].uidl), "u7");
	batch.folder = (char *)ODD_FOLDER;
	batch.uidvalidity = 12;
	batch.target_folder = (char *)"Sent";
	batch.target_uidvalidity = 19;
	batch.target_uidnext = 300;
	batch.msgs = msgs;
	batch.count = 2;
	ck_assert_msg(store_batch_begin(store, "bob@example.test", 0, &batch, &error) == 0,
		      "%s", error);
	/* and a split's assistant's (slot 1), of another folder */
	batch.folder = (char *)"Sent";
	batch.count = 1;
	ck_assert_msg(store_batch_begin(store, "bob@example.test", 1, &batch, &error) == 0,
		      "%s", error);

	/* Failed items: a message and a folder. */
	item.account = (char *)"bob@example.test";
	item.folder = (char *)ODD_FOLDER;
	item.uidvalidity = 12;
	item.uid = 9;
	item.size = 99999;
	item.time = NOW + 40;
	item.reason = (char *)"too big\xff\t\\";
	ck_assert(store_failed_add(store, &item, &error) == 0);
	item.folder = (char *)"Junk";
	item.uidvalidity = 0;
	item.uid = 0;
	item.reason = (char *)"folder failed";
	ck_assert(store_failed_add(store, &item, &error) == 0);

	/* Proposals in every state. */
	ck_assert(store_proposal_add(store, "alice@example.test", "al@example.test",
				     STORE_ALIAS_SRC_TO, 3, NOW + 50, &error) == 0);
	ck_assert(store_proposal_add(store, "erin@example.test", "al@example.test",
				     STORE_ALIAS_SRC_CC, 1, NOW + 50, &error) == 0);
	ck_assert(store_proposal_add(store, "alice@example.test",
				     "spam@example.test", STORE_ALIAS_SRC_TO, 1,
				     NOW + 51, &error) == 0);
	ck_assert(store_proposal_reject(store, "spam@example.test", NULL, NOW + 52,
					&error) == 0);
	ck_assert(store_proposal_add(store, "erin@example.test", "e@example.test",
				     STORE_ALIAS_SRC_ENVELOPE_TO, 2, NOW + 53,
				     &error) == 0);
	ck_assert(store_proposal_approve(store, "e@example.test", NULL, NOW + 54,
					 who, sizeof(who), &error) == 0);
	ck_assert(store_proposal_trust(store, "alice@example.test",
				       "alice.smith@example.test",
				       STORE_ALIAS_SRC_RECEIVED_MX, 4, NOW + 55,
				       &error) == 0);

	/* Events, the pause flag, the TLS memory. */
	ck_assert(store_event_add(store, NOW + 60, LOG_SEV_INFO, NULL, "started",
				  &error) == 0);
	ck_assert(store_event_add(store, NOW + 61, LOG_SEV_ERROR,
				  "bob@example.test", "line\none\ttab\\ \xfe",
				  &error) == 0);
	ck_assert(store_event_add(store, NOW + 62, LOG_SEV_WARNING,
				  "alice@example.test", "warned", &error) == 0);
	ck_assert(store_set_paused(store, 1, &error) == 0);
	ck_assert(store_tls_seen_add(store, "example.test", STORE_TLS_IMAP, NOW + 70,
				     &error) == 0);
	ck_assert(store_tls_seen_add(store, "old.test", STORE_TLS_POP3, NOW + 71,
				     &error) == 0);
	/* Sieve records: one active, one with a non-ASCII name. */
	{
		struct store_sieve sv = { { 0 }, 1 };

		memset(sv.sha256, 0x5a, sizeof(sv.sha256));
		ck_assert(store_sieve_put(store, "alice@example.test", "main", &sv,
					  &error) == 0);
		sv.active = 0;
		sv.sha256[0] = 0x00;
		ck_assert(store_sieve_put(store, "alice@example.test",
					  "vacation \xc3\xa4", &sv, &error) == 0);
	}	/* DAV records: a calendar with an item, an address book. */
	{
		static struct store_dav d;
		const char *cal = "http://old/alice/cal/", *ditem = "http://old/alice/cal/r%C3%A9.ics";

		memset(&d, 0, sizeof(d));
		d.kind = STORE_DAV_CALENDAR;
		snprintf(d.old_url, sizeof(d.old_url), "%s", cal);
		snprintf(d.new_url, sizeof(d.new_url), "http://new/alice/cal/");
		memset(d.old_etag, 0x11, sizeof(d.old_etag));
		d.copied = NOW + 80;
		ck_assert(store_dav_put(store, "alice@example.test", cal, NULL, &d, &error) == 0);
		d.kind = STORE_DAV_ITEM;
		snprintf(d.old_url, sizeof(d.old_url), "%s", ditem);
		snprintf(d.new_url, sizeof(d.new_url), "http://new/alice/cal/r%%C3%%A9.ics");
		memset(d.new_etag, 0x22, sizeof(d.new_etag));
		memset(d.sha256, 0x33, sizeof(d.sha256));
		ck_assert(store_dav_put(store, "alice@example.test", cal, ditem, &d, &error) == 0);
		d.kind = STORE_DAV_ADDRESSBOOK;
		snprintf(d.old_url, sizeof(d.old_url), "http://old/alice/book/");
		snprintf(d.new_url, sizeof(d.new_url), "http://new/alice/book/");
		ck_assert(store_dav_put(store, "alice@example.test", "http://old/alice/book/",
					NULL, &d, &error) == 0);
	}	/* ACL records: one given, one with no account on NEW. */
	{
		static struct store_acl a;

		memset(&a, 0, sizeof(a));
		snprintf(a.folder, sizeof(a.folder), "Team \xc3\xa4");
		snprintf(a.target, sizeof(a.target), "Team \xc3\xa4");
		snprintf(a.identifier, sizeof(a.identifier), "bob");
		snprintf(a.given_to, sizeof(a.given_to), "bob@example.test");
		snprintf(a.rights, sizeof(a.rights), "lrswi");
		a.state = STORE_ACL_GIVEN;
		a.updated = NOW + 90;
		ck_assert(store_acl_put(store, "alice@example.test", &a, &error) == 0);
		snprintf(a.identifier, sizeof(a.identifier), "$staff");
		a.given_to[0] = '\0';
		a.state = STORE_ACL_UNMAPPED;
		ck_assert(store_acl_put(store, "alice@example.test", &a, &error) == 0);
	}
}

static struct store *open_target(void)
{
	return test_open(0, 0);
}

static long long target_rows(void)
{
	return test_pg_value("SELECT (SELECT count(*) FROM mailmigrate.accounts)"
			     " + (SELECT count(*) FROM mailmigrate.creds)"
			     " + (SELECT count(*) FROM mailmigrate.jobs)"
			     " + (SELECT count(*) FROM mailmigrate.folders)"
			     " + (SELECT count(*) FROM mailmigrate.msgmap)"
			     " + (SELECT count(*) FROM mailmigrate.uidls)"
			     " + (SELECT count(*) FROM mailmigrate.events)"
			     " + (SELECT count(*) FROM mailmigrate.aliases)"
			     " + (SELECT count(*) FROM mailmigrate.proposals)"
			     " + (SELECT count(*) FROM mailmigrate.batches)"
			     " + (SELECT count(*) FROM mailmigrate.failed)"
			     " + (SELECT count(*) FROM mailmigrate.tls_seen)"
			     " + (SELECT count(*) FROM mailmigrate.rate)"
			     " + (SELECT count(*) FROM mailmigrate.sieve)"
			     " + (SELECT count(*) FROM mailmigrate.dav)"
			     " + (SELECT count(*) FROM mailmigrate.acl)"
			     " + (SELECT count(*) FROM mailmigrate.meta"
			     " WHERE name <> 'schema_version')");
}

/* --- the tests ------------------------------------------------------------------- */

START_TEST(copy_everything)
{
	struct store_copy_report report = { 0 };
	struct store *src, *dst;
	struct store_job j1, j2;
	char *before, *after;
	const char *error;
	int ret;

	src = open_lmdb(0);
	fill(src);
	store_close(&src);
	src = open_lmdb(1);	/* as the CLI opens it */
	dst = open_target();
	ret = store_copy(src, dst, &report, &error);
	ck_assert_msg(ret == 0, "store_copy: %d %s", ret, ret != 0 ? error : "");
	ck_assert(report.verified);
	ck_assert(!report.differs);
	ck_assert(!report.source_changed);
	ck_assert_uint_eq(report.kinds[STORE_DUMP_ACCOUNT].source, 5);
	ck_assert_uint_eq(report.kinds[STORE_DUMP_CRED].source, 4);
	ck_assert_uint_eq(report.kinds[STORE_DUMP_JOB].source, 4);
	ck_assert_uint_eq(report.kinds[STORE_DUMP_FOLDER].source, 3);
	ck_assert_uint_eq(report.kinds[STORE_DUMP_MSGMAP].source, 10);
	ck_assert_uint_eq(report.kinds[STORE_DUMP_UIDL].source, 2);
	ck_assert_uint_eq(report.kinds[STORE_DUMP_ALIAS].source, 4);
	ck_assert_uint_eq(report.kinds[STORE_DUMP_PROPOSAL].source, 5);
	ck_assert_uint_eq(report.kinds[STORE_DUMP_BATCH].source, 2);
	ck_assert_uint_eq(report.kinds[STORE_DUMP_FAILED].source, 2);
	ck_assert_uint_eq(report.kinds[STORE_DUMP_TLS].source, 2);
	ck_assert_uint_ge(report.kinds[STORE_DUMP_RATE].source, 1);
	ck_assert_uint_ge(report.kinds[STORE_DUMP_EVENT].source, 3);
	ck_assert_uint_eq(report.kinds[STORE_DUMP_SIEVE].source, 2);
	for (int k = 0; k < STORE_DUMP_KINDS; k++) {
		ck_assert_msg(report.kinds[k].same, "%s", store_dump_kind_name(k));
		ck_assert_uint_eq(report.kinds[k].source, report.kinds[k].target);
	}

	/* Everything reads back the same through the public API. */
	before = describe(src);
	after = describe(dst);
	ck_assert_str_eq(before, after);
	mm_free(&before);
	mm_free(&after);

	/* The queue goes on where it was: the same first job, the ids
	 * and event numbers carry on after the copied ones. */
	store_close(&src);
	src = open_lmdb(0);
	ck_assert_int_eq(store_job_take(src, "w", 60, NOW + 100, &j1, &error), 0);
	ck_assert_int_eq(store_job_take(dst, "w", 60, NOW + 100, &j2, &error), 0);
	ck_assert_str_eq(j1.account, j2.account);
	ck_assert_uint_eq(j1.id, j2.id);
	ck_assert_uint_eq(j1.attempts, j2.attempts);
	store_job_clear(&j1);
	store_job_clear(&j2);
	ck_assert_int_eq(store_job_enqueue(dst, "carol@example.test", STORE_JOB_SYNC,
					   NOW + 101, &j1.id, &error), 0);
	ck_assert_int_gt(j1.id, test_pg_value("SELECT max(id) FROM mailmigrate.jobs"
					      " WHERE account <> 'carol@example.test'"));
	ck_assert(store_event_add(dst, NOW + 102, LOG_SEV_INFO, NULL, "after",
				  &error) == 0);
	ck_assert_int_eq(test_pg_value("SELECT max(id) FROM mailmigrate.events"),
			 test_pg_value("SELECT value FROM mailmigrate.meta"
				       " WHERE name = 'event_seq'"));
	ck_assert_int_eq(test_pg_value("SELECT count(*) FROM mailmigrate.events"
				       " WHERE message = 'after'::bytea AND id > ("
				       "SELECT max(id) FROM mailmigrate.events"
				       " WHERE message <> 'after'::bytea)"), 1);

	/* A second copy into it is refused: it is not empty now. */
	ret = store_copy(src, dst, &report, &error);
	ck_assert_int_eq(ret, STORE_EXISTS);
	store_close(&src);
	store_close(&dst);
}
END_TEST

START_TEST(refuse_nonempty_target)
{
	struct store_copy_report report = { 0 };
	struct store *src, *dst;
	const char *error;
	long long rows;
	int ret;

	src = open_lmdb(0);
	fill(src);
	dst = open_target();
	ck_assert(store_event_add(dst, NOW, LOG_SEV_INFO, NULL, "init", &error) == 0);
	rows = target_rows();
	ret = store_copy(src, dst, &report, &error);
	ck_assert_int_eq(ret, STORE_EXISTS);
	ck_assert_msg(strstr(error, "not empty") != NULL &&
		      strstr(error, "events") != NULL, "%s", error);
	ck_assert_int_eq(target_rows(), rows);
	ck_assert_uint_eq(report.records, 0);
	/* The handle works after the refusal. */
	ck_assert(store_event_add(dst, NOW, LOG_SEV_INFO, NULL, "still", &error) == 0);
	store_close(&src);
	store_close(&dst);
}
END_TEST

/* The progress callback writes to the source while its snapshot is
 * open, as a daemon would. */
static void write_source(uint64_t records, void *context)
{
	struct store *src = context;
	static int done;
	const char *error;

	(void)records;
	if (done++ > 0)
		return;
	ck_assert(store_event_add(src, NOW + 90, LOG_SEV_INFO, NULL, "meanwhile",
				  &error) == 0);
	ck_assert(store_uidl_add(src, "alice@example.test", "uidl-2", NOW + 91,
				 &error) == 0);
}

START_TEST(source_written_during_copy)
{
	struct store_copy_report report = { 0 };
	struct store *src, *dst;
	const char *error;
	int ret;

	src = open_lmdb(0);
	fill(src);
	dst = open_target();
	report.progress = write_source;
	report.progress_ctx = src;
	ret = store_copy(src, dst, &report, &error);
	ck_assert_int_eq(ret, -1);
	/* What was copied is the snapshot and verified as such: it is
	 * the generation check that refused it. */
	ck_assert(report.verified);
	ck_assert(!report.differs);
	ck_assert(report.source_changed);
	ck_assert_uint_eq(report.source_writes, 2);
	ck_assert_msg(strstr(error, "written 2 times") != NULL &&
		      strstr(error, "mailmigrate pause") != NULL &&
		      strstr(error, "rolled back") != NULL, "%s", error);
	ck_assert_int_eq(target_rows(), 0);
	/* Once quiet, it goes through. */
	report.progress = NULL;
	ret = store_copy(src, dst, &report, &error);
	ck_assert_msg(ret == 0, "%s", ret != 0 ? error : "");
	ck_assert_int_eq(test_pg_value("SELECT count(*) FROM mailmigrate.uidls"), 3);
	store_close(&src);
	store_close(&dst);
}
END_TEST

/* Drop every record of an LMDB database of the test's source store. */
static void lmdb_empty(const char *name)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;

	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 32), 0);
	ck_assert_int_eq(mdb_env_open(env, lmdb_dir + strlen("lmdb:"), MDB_NOTLS,
				      0660), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, name, 0, &dbi), 0);
	ck_assert_int_eq(mdb_drop(txn, dbi, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

START_TEST(msgmap_without_folder)
{
	struct store_copy_report report = { 0 };
	struct store *src, *dst;
	const char *error;
	int ret;

	src = open_lmdb(0);
	add_account(src, "bob@example.test", STORE_STATE_QUEUED, "pw");
	put_folder(src, "bob@example.test", "INBOX", "INBOX", 11);
	ck_assert(store_message_copied(src, "bob@example.test", "INBOX", 11, 4, 40,
				       100, NOW, &error) == 0);
	store_close(&src);
	lmdb_empty("folders");
	src = open_lmdb(1);
	dst = open_target();
	ret = store_copy(src, dst, &report, &error);
	ck_assert_int_eq(ret, -1);
	ck_assert_msg(strstr(error, "bob@example.test") != NULL &&
		      strstr(error, "UID 4") != NULL &&
		      strstr(error, "no record") != NULL, "%s", error);
	ck_assert(!report.verified);
	ck_assert_int_eq(target_rows(), 0);
	store_close(&src);
	store_close(&dst);
}
END_TEST

/* No server needed: an LMDB target has no load members. */
START_TEST(refuse_lmdb_target)
{
	struct store_copy_report report = { 0 };
	struct store_options opts = { .create = 1 };
	struct store *src, *dst;
	const char *error;
	char dir[160];

	src = open_lmdb(0);
	snprintf(dir, sizeof(dir), "lmdb:%s/other", test_dir);
	ck_assert(store_open(dir, &opts, &dst, &error) == 0);
	ck_assert_int_eq(store_copy(src, dst, &report, &error), -1);
	ck_assert_str_eq(error, "store copy: the target must be postgresql:...");
	store_close(&src);
	store_close(&dst);
}
END_TEST

static Suite *copy_suite(void)
{
	Suite *s = suite_create("store_copy");
	TCase *tc = tcase_create("lmdb");

	tcase_add_checked_fixture(tc, lmdb_setup, test_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, refuse_lmdb_target);
	suite_add_tcase(s, tc);
	if (test_is_pgsql()) {
		tc = tcase_create("pgsql");
		tcase_add_checked_fixture(tc, lmdb_setup, test_teardown);
		tcase_set_timeout(tc, 300);
		tcase_add_test(tc, copy_everything);
		tcase_add_test(tc, refuse_nonempty_target);
		tcase_add_test(tc, source_written_during_copy);
		tcase_add_test(tc, msgmap_without_folder);
		suite_add_tcase(s, tc);
	} else {
		printf("test_store_copy: the copies need MM_TEST_PGSQL (a libpq "
		       "conninfo of a test server; store/test_pgsql.sh sets it)\n");
	}
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(copy_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
