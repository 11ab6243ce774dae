/*
 * NAME
 *	cli_show 3
 * SUMMARY
 *	mailmigrate list, show and log
 * DESCRIPTION
 *	The verbs that only look: the store is opened read-only, so they
 *	work for any member of the store's group and change nothing.
 *	Text is for people, --json for programs; the JSON member names
 *	are a stable interface documented in mailmigrate(8).
 * SECURITY
 *	show says whether a captured password is stored and names the
 *	hash scheme; it never prints the password nor the hash.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "mm_alloc.h"

#define CLI_LOG_DEFAULT 50
#define CLI_SHOW_EVENTS 10

/* The scheme of a hash ("SHA512-CRYPT"), into buf; NULL if none. */
static const char *cli_show_scheme(const char *hash, char *buf, size_t size)
{
	const char *end;

	if (hash == NULL || hash[0] != '{' || (end = strchr(hash, '}')) == NULL ||
	    (size_t)(end - hash) >= size)
		return hash == NULL ? NULL : "unknown";
	memcpy(buf, hash + 1, (size_t)(end - hash - 1));
	buf[end - hash - 1] = '\0';
	return buf;
}

/* The account members shared by list and show. */
static void cli_show_account_json(struct cli_json *j,
				  const struct store_account *a)
{
	cli_json_str(j, "account", a->name);
	cli_json_str(j, "domain", a->domain);
	cli_json_str(j, "state", store_state_name(a->state));
	cli_json_array(j, "flags");
	if ((a->flags & STORE_ACCOUNT_MESSAGES_ONLY) != 0)
		cli_json_str(j, NULL, "messages-only");
	cli_json_end(j, ']');
	cli_json_u64(j, "messages", a->messages);
	cli_json_u64(j, "bytes", a->bytes);
	cli_json_u64(j, "folders", a->folders);
	cli_json_u64(j, "errors", a->errors);
	cli_json_u64(j, "late_mail", a->late_mail);
	cli_json_time(j, "created", a->created);
	cli_json_time(j, "updated", a->updated);
	cli_json_time(j, "copy_started", a->copy_started);
	cli_json_time(j, "copy_finished", a->copy_finished);
	cli_json_time(j, "finished", a->finished);
	cli_json_str(j, "last_error", a->last_error);
	cli_json_array(j, "aliases");
	for (size_t i = 0; i < a->aliases_count; i++)
		cli_json_str(j, NULL, a->aliases[i]);
	cli_json_end(j, ']');
}

/* --- list ---------------------------------------------------------------- */

struct cli_list {
	int json;
	int have_state;
	enum store_state state;
	struct cli_json j;
	struct cli_table *table;
};

/* One account, as a JSON object or a table row. */
static int cli_list_one(const struct store_account *a, void *context)
{
	struct cli_list *l = context;
	char msgs[32], size[32], updated[64];

	if (l->have_state && a->state != l->state)
		return 0;
	if (l->json) {
		cli_json_object(&l->j, NULL);
		cli_show_account_json(&l->j, a);
		cli_json_end(&l->j, '}');
		return 0;
	}
	snprintf(msgs, sizeof(msgs), "%llu", (unsigned long long)a->messages);
	const char *row[] = {
		a->name, store_state_name(a->state), msgs,
		cli_size_human(a->bytes, size, sizeof(size)),
		cli_time_local(a->updated, updated, sizeof(updated)),
	};
	cli_table_add(l->table, row);
	return 0;
}

/* mailmigrate list [--state S] [--json] */
int cli_cmd_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		CLI_COMMON_LONGOPTS
	};
	static const char *const headers[] = {
		"ACCOUNT", "STATE", "MESSAGES", "SIZE", "UPDATED",
	};
	static const int right[] = { 0, 0, 1, 1, 0 };
	struct cli_list l = { 0 };
	const char *error;
	char shown[80];
	int c, ret;

	while ((c = cli_getopt(ctx, argc, argv, ":c:hs:j", opts)) != -1) {
		switch (c) {
		case 's':
			if (store_state_parse(optarg, &l.state) < 0)
				return cli_usage_error("list: unknown state '%s' "
						       "(queued, migrating, copied, "
						       "finished, failed, passwords-only)",
						       cli_printable(optarg, shown,
								     sizeof(shown)));
			l.have_state = 1;
			break;
		case 'j':
			l.json = 1;
			break;
		case 'h':
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage_error("list: takes no operands");
	if (cli_ctx_store(ctx, 0, 1) < 0)
		return CLI_EXIT_SYSTEM;
	if (l.json) {
		cli_json_init(&l.j, stdout);
		cli_json_array(&l.j, NULL);
	} else {
		l.table = cli_table_new(5, headers, right);
	}
	ret = store_account_iter(ctx->store, cli_list_one, &l, &error);
	if (ret < 0) {
		cli_table_free(&l.table);
		cli_error("list: %s", error);
		return CLI_EXIT_SYSTEM;
	}
	if (l.json) {
		cli_json_end(&l.j, ']');
	} else {
		cli_table_print(l.table, stdout);
		cli_table_free(&l.table);
	}
	return CLI_EXIT_OK;
}

/* --- show ------------------------------------------------------------------ */

struct cli_show {
	const char *account;
	size_t folders;
	struct store_job job;
	int have_job;
	struct cli_json *j;		/* NULL: text */
	struct cli_table *table;
};

/* One folder, as JSON or a table row. */
static int cli_show_folder(const struct store_folder *f, void *context)
{
	struct cli_show *s = context;
	char name[600], target[600], msgs[32], size[32], uv[32], uid[32];

	s->folders++;
	if (s->j != NULL) {
		cli_json_object(s->j, NULL);
		cli_json_str(s->j, "name", f->name);
		cli_json_str(s->j, "target_name", f->target_name);
		cli_json_u64(s->j, "uidvalidity", f->uidvalidity);
		cli_json_u64(s->j, "last_uid", f->last_uid);
		cli_json_u64(s->j, "target_uidvalidity", f->target_uidvalidity);
		cli_json_u64(s->j, "messages", f->messages);
		cli_json_u64(s->j, "bytes", f->bytes);
		cli_json_bool(s->j, "subscribed", f->subscribed);
		cli_json_end(s->j, '}');
		return 0;
	}
	snprintf(msgs, sizeof(msgs), "%llu", (unsigned long long)f->messages);
	snprintf(uv, sizeof(uv), "%lu", (unsigned long)f->uidvalidity);
	snprintf(uid, sizeof(uid), "%lu", (unsigned long)f->last_uid);
	const char *row[] = {
		cli_printable(f->name, name, sizeof(name)),
		cli_printable(f->target_name != NULL ? f->target_name : "", target,
			      sizeof(target)),
		msgs, cli_size_human(f->bytes, size, sizeof(size)), uv, uid,
	};
	cli_table_add(s->table, row);
	return 0;
}

/* An account's Sieve records, sorted by name for the output (the
 * store's order is the backend's). */
struct cli_sieve_rec {
	char *name;
	struct store_sieve rec;
};

struct cli_sieve_list {
	struct cli_sieve_rec *recs;
	size_t count, alloc;
};

static int cli_show_sieve_add(const char *name, const struct store_sieve *sieve,
			      void *context)
{
	struct cli_sieve_list *l = context;

	if (l->count == l->alloc) {
		l->alloc = l->alloc == 0 ? 8 : l->alloc * 2;
		l->recs = mm_reallocarray(l->recs, l->alloc, sizeof(*l->recs));
	}
	l->recs[l->count].name = mm_strdup(name);
	l->recs[l->count].rec = *sieve;
	l->count++;
	return 0;
}

static int cli_show_sieve_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cli_sieve_rec *)a)->name,
		      ((const struct cli_sieve_rec *)b)->name);
}

static void cli_show_sieve_free(struct cli_sieve_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		mm_free(&l->recs[i].name);
	mm_free(&l->recs);
	l->count = l->alloc = 0;
}

/* The Sieve scripts a round put on NEW (migrate_sieve): the name, the
 * SHA-256 of the bytes (all of it in JSON, its first 12 digits in
 * text) and whether it was made the active one. */
static int cli_show_sieve(struct cli_ctx *ctx, const char *account,
			  struct cli_json *j, const char **error_r)
{
	static const char *const headers[] = { "SIEVE SCRIPT", "SHA-256", "ACTIVE" };
	static const int right[] = { 0, 0, 0 };
	struct cli_sieve_list l = { NULL, 0, 0 };
	struct cli_table *table;
	char hex[2 * STORE_SIEVE_HASH + 1], name[4 * STORE_MAX_SIEVE_NAME + 8];

	if (store_sieve_iter(ctx->store, account, cli_show_sieve_add, &l, error_r) < 0) {
		cli_show_sieve_free(&l);
		return -1;
	}
	if (l.count > 1)
		qsort(l.recs, l.count, sizeof(*l.recs), cli_show_sieve_cmp);
	if (j != NULL) {
		cli_json_array(j, "sieve");
		for (size_t i = 0; i < l.count; i++) {
			for (size_t b = 0; b < STORE_SIEVE_HASH; b++)
				snprintf(hex + 2 * b, 3, "%02x", l.recs[i].rec.sha256[b]);
			cli_json_object(j, NULL);
			cli_json_str(j, "name", l.recs[i].name);
			cli_json_str(j, "sha256", hex);
			cli_json_bool(j, "active", l.recs[i].rec.active);
			cli_json_end(j, '}');
		}
		cli_json_end(j, ']');
		cli_show_sieve_free(&l);
		return 0;
	}
	if (l.count == 0) {
		cli_kv("Sieve scripts", "none copied");
		return 0;
	}
	printf("\nSieve scripts copied:\n");
	table = cli_table_new(3, headers, right);
	for (size_t i = 0; i < l.count; i++) {
		for (size_t b = 0; b < 6; b++)
			snprintf(hex + 2 * b, 3, "%02x", l.recs[i].rec.sha256[b]);
		const char *row[] = {
			cli_printable(l.recs[i].name, name, sizeof(name)), hex,
			l.recs[i].rec.active ? "yes" : "no",
		};
		cli_table_add(table, row);
	}
	cli_table_print(table, stdout);
	cli_table_free(&table);
	cli_show_sieve_free(&l);
	return 0;
}

/* Where events go: JSON, or text lines when j is NULL. */
struct cli_events {
	struct cli_json *j;
	size_t count;
};

/* One event, as JSON or a text line (shared with log). */
static int cli_show_event(const struct store_event *ev, void *context)
{
	struct cli_events *out = context;
	struct cli_json *j = out->j;
	char when[64], text[4 * STORE_MAX_EVENT_TEXT + 8], who[2 * STORE_MAX_ACCOUNT];

	out->count++;
	if (j != NULL) {
		cli_json_object(j, NULL);
		cli_json_u64(j, "id", ev->id);
		cli_json_time(j, "time", ev->time);
		cli_json_str(j, "severity", log_severity_name(ev->severity));
		cli_json_str(j, "account", ev->account[0] != '\0' ? ev->account : NULL);
		cli_json_str(j, "message", ev->message);
		cli_json_end(j, '}');
		return 0;
	}
	cli_printable(ev->account, who, sizeof(who));
	printf("%s %-7s %s%s%s\n", cli_time_local(ev->time, when, sizeof(when)),
	       log_severity_name(ev->severity), who, who[0] != '\0' ? ": " : "",
	       cli_printable(ev->message, text, sizeof(text)));
	return 0;
}

/* Is a captured password stored? 1, 0, or -1 with why into buf.
 * Only the record's presence is checked: no key, nothing decrypted. */
static int cli_show_captured(struct cli_ctx *ctx, const char *account,
			     char *why, size_t size)
{
	const char *error;
	int ret = store_cred_has(ctx->store, account, &error);

	if (ret < 0)
		snprintf(why, size, "%s", error);
	return ret;
}

/* The job, as JSON. */
static void cli_show_job_json(struct cli_json *j, const struct cli_show *s,
			      time_t now)
{
	if (!s->have_job) {
		cli_json_null(j, "job");
		return;
	}
	cli_json_object(j, "job");
	cli_json_u64(j, "id", s->job.id);
	cli_json_str(j, "kind", store_job_kind_name(s->job.kind));
	cli_json_time(j, "enqueued", s->job.enqueued);
	cli_json_time(j, "not_before", s->job.not_before);
	cli_json_bool(j, "leased", s->job.lease_until > now);
	cli_json_time(j, "lease_until", s->job.lease_until);
	cli_json_str(j, "owner", s->job.owner);
	cli_json_u64(j, "attempts", s->job.attempts);
	cli_json_u64(j, "worker_deaths", s->job.deaths);
	cli_json_str(j, "last_error", s->job.last_error);
	cli_json_end(j, '}');
}

/* The job, as text lines. */
static void cli_show_job_text(const struct cli_show *s, time_t now)
{
	char t1[64], t2[64], buf[1200];

	if (!s->have_job) {
		cli_kv("Job", "none");
		return;
	}
	cli_kvf("Job", "%s (#%llu), queued %s, %u attempts",
		store_job_kind_name(s->job.kind), (unsigned long long)s->job.id,
		cli_time_local(s->job.enqueued, t1, sizeof(t1)), s->job.attempts);
	if (s->job.lease_until > now)
		cli_kvf("Job lease", "held by %s until %s",
			cli_printable(s->job.owner != NULL ? s->job.owner : "?", buf,
				      sizeof(buf)),
			cli_time_local(s->job.lease_until, t2, sizeof(t2)));
	else
		cli_kv("Job lease", "free");
	if (s->job.deaths > 0)
		cli_kvf("Job worker deaths", "%u", s->job.deaths);
	if (s->job.not_before > now)
		cli_kv("Job not before", cli_time_local(s->job.not_before, t1,
							 sizeof(t1)));
	if (s->job.last_error != NULL)
		cli_kv("Job last error", cli_printable(s->job.last_error, buf,
						       sizeof(buf)));
}

/* The account's fields, as text lines. */
static void cli_show_account_text(const struct store_account *a,
				  const char *scheme, int captured,
				  const char *why)
{
	char t[64], size[32], buf[1200];

	cli_kv("Account", a->name);
	cli_kv("Domain", a->domain);
	cli_kv("State", store_state_name(a->state));
	cli_kv("Flags", (a->flags & STORE_ACCOUNT_MESSAGES_ONLY) != 0 ?
	       "messages-only" : "none");
	cli_kvf("Password hash", scheme != NULL ? "{%s}" : "%s",
		scheme != NULL ? scheme : "none");
	if (captured < 0)
		cli_kvf("Captured password", "unknown (%s)",
			cli_printable(why, buf, sizeof(buf)));
	else
		cli_kv("Captured password", captured ? "stored (sealed)" : "none");
	cli_kv("Created", cli_time_local(a->created, t, sizeof(t)));
	cli_kv("Updated", cli_time_local(a->updated, t, sizeof(t)));
	cli_kv("Copy started", cli_time_local(a->copy_started, t, sizeof(t)));
	cli_kv("Copy finished", cli_time_local(a->copy_finished, t, sizeof(t)));
	cli_kv("Finished", cli_time_local(a->finished, t, sizeof(t)));
	cli_kvf("Messages", "%llu", (unsigned long long)a->messages);
	cli_kvf("Size", "%s (%llu bytes)", cli_size_human(a->bytes, size,
							  sizeof(size)),
		(unsigned long long)a->bytes);
	cli_kvf("Folders", "%llu", (unsigned long long)a->folders);
	cli_kvf("Errors", "%llu", (unsigned long long)a->errors);
	cli_kvf("Late mail", "%llu", (unsigned long long)a->late_mail);
	cli_kv("Last error", a->last_error != NULL ?
	       cli_printable(a->last_error, buf, sizeof(buf)) : "none");
	if (a->aliases_count == 0)
		cli_kv("Aliases", "none");
	for (size_t i = 0; i < a->aliases_count; i++)
		cli_kv(i == 0 ? "Aliases" : "", cli_printable(a->aliases[i], buf,
							       sizeof(buf)));
}

/* Print everything about one account; returns the exit status. */
static int cli_show_print(struct cli_ctx *ctx, const struct store_account *a,
			  int json)
{
	static const char *const headers[] = {
		"FOLDER", "TARGET", "MESSAGES", "SIZE", "UIDVALIDITY", "LAST UID",
	};
	static const int right[] = { 0, 0, 1, 1, 1, 1 };
	struct cli_show s = { .account = a->name };
	struct cli_events events = { NULL, 0 };
	struct cli_json j;
	char scheme_buf[64], why[600] = "";
	const char *scheme, *error;
	time_t now = time(NULL);
	int captured, ret;

	scheme = cli_show_scheme(a->password_hash, scheme_buf, sizeof(scheme_buf));
	captured = cli_show_captured(ctx, a->name, why, sizeof(why));
	ret = store_job_get(ctx->store, a->name, &s.job, &error);
	if (ret < 0)
		goto fail;
	s.have_job = ret == 0;
	if (json) {
		s.j = &j;
		cli_json_init(&j, stdout);
		cli_json_object(&j, NULL);
		cli_show_account_json(&j, a);
		cli_json_str(&j, "password_scheme", scheme);
		if (captured < 0)
			cli_json_null(&j, "captured_password");
		else
			cli_json_bool(&j, "captured_password", captured);
		cli_show_job_json(&j, &s, now);
		cli_json_array(&j, "folders");
	} else {
		cli_show_account_text(a, scheme, captured, why);
		cli_show_job_text(&s, now);
		s.table = cli_table_new(6, headers, right);
	}
	ret = store_folder_iter(ctx->store, a->name, cli_show_folder, &s, &error);
	if (ret < 0)
		goto fail;
	if (json) {
		cli_json_end(&j, ']');
	} else if (s.folders == 0) {
		cli_kv("Folder progress", "none yet");
	} else {
		printf("\nFolder progress:\n");
		cli_table_print(s.table, stdout);
	}
	if (cli_show_sieve(ctx, a->name, s.j, &error) < 0 ||
	    cli_show_dav(ctx, a->name, s.j, &error) < 0 ||
	    cli_show_acl(ctx, a->name, s.j, &error) < 0)
		goto fail;
	if (json)
		cli_json_array(&j, "events");
	if (!json)
		printf("\nLast events:\n");
	events.j = s.j;
	ret = store_event_iter(ctx->store, 0, a->name, CLI_SHOW_EVENTS,
			       cli_show_event, &events, &error);
	if (ret < 0)
		goto fail;
	if (!json && events.count == 0)
		printf("none\n");
	if (json) {
		cli_json_end(&j, ']');
		cli_json_end(&j, '}');
	}
	cli_table_free(&s.table);
	store_job_clear(&s.job);
	return CLI_EXIT_OK;
fail:
	cli_table_free(&s.table);
	store_job_clear(&s.job);
	fflush(stdout);
	cli_error("show: %s", error);
	return CLI_EXIT_SYSTEM;
}

/* mailmigrate show USER [--domain D] [--json] */
int cli_cmd_show(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "domain", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		CLI_COMMON_LONGOPTS
	};
	struct store_account acct;
	char account[STORE_MAX_ACCOUNT];
	const char *domain = NULL, *error;
	int c, json = 0, ret;

	while ((c = cli_getopt(ctx, argc, argv, ":c:hd:j", opts)) != -1) {
		switch (c) {
		case 'd':
			domain = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error(optind == argc ? "show: no USER given" :
				       "show: one USER only");
	if (cli_ctx_config(ctx) < 0)
		return CLI_EXIT_SYSTEM;
	if ((ret = cli_ctx_user_arg(ctx, "show", argv[optind], domain, account)) != 0)
		return ret;
	if (cli_ctx_store(ctx, 0, 1) < 0)
		return CLI_EXIT_SYSTEM;
	ret = store_account_get(ctx->store, account, &acct, &error);
	if (ret < 0) {
		cli_error("show: %s", error);
		return CLI_EXIT_SYSTEM;
	}
	if (ret == STORE_NOTFOUND) {
		cli_error("show: account '%s' does not exist", account);
		return CLI_EXIT_INPUT;
	}
	ret = cli_show_print(ctx, &acct, json);
	store_account_clear(&acct);
	return ret;
}

/* --- log ---------------------------------------------------------------------- */

/* A count for -n: digits only, at most 10^9. */
static int cli_log_count(const char *text, size_t *n_r)
{
	unsigned long long v;
	char *end;

	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0' || v > 1000000000ULL)
		return -1;
	*n_r = (size_t)v;
	return 0;
}

/* mailmigrate log [--errors] [--account USER] [-n N] [--json] */
int cli_cmd_log(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "errors", no_argument, NULL, 'e' },
		{ "account", required_argument, NULL, 'a' },
		{ "lines", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		CLI_COMMON_LONGOPTS
	};
	char account[STORE_MAX_ACCOUNT], shown[200];
	const char *user = NULL, *error;
	struct cli_events events = { NULL, 0 };
	struct cli_json j;
	size_t n = CLI_LOG_DEFAULT;
	int c, json = 0, errors_only = 0, ret;

	while ((c = cli_getopt(ctx, argc, argv, ":c:hea:n:j", opts)) != -1) {
		switch (c) {
		case 'e':
			errors_only = 1;
			break;
		case 'a':
			user = optarg;
			break;
		case 'n':
			if (cli_log_count(optarg, &n) < 0)
				return cli_usage_error("log: -n needs a number of "
						       "events (0: all), not '%s'",
						       cli_printable(optarg, shown,
								     sizeof(shown)));
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage_error("log: takes no operands");
	if (cli_ctx_config(ctx) < 0)
		return CLI_EXIT_SYSTEM;
	if (user != NULL) {
		cli_printable(user, shown, sizeof(shown));
		ret = cli_ctx_account(ctx, user, NULL, account, &error);
		if (ret == CLI_NAME_NODOMAIN)
			return cli_usage_error("log: no domain for '%s': give "
					       "USER@DOMAIN or set default_domain",
					       shown);
		if (ret < 0) {
			cli_error("log: '%s': %s", shown, error);
			return CLI_EXIT_INPUT;
		}
	}
	if (cli_ctx_store(ctx, 0, 1) < 0)
		return CLI_EXIT_SYSTEM;
	if (json) {
		cli_json_init(&j, stdout);
		cli_json_array(&j, NULL);
		events.j = &j;
	}
	ret = store_event_iter(ctx->store, errors_only,
			       user != NULL ? account : NULL, n, cli_show_event,
			       &events, &error);
	if (ret < 0) {
		fflush(stdout);
		cli_error("log: %s", error);
		return CLI_EXIT_SYSTEM;
	}
	if (json)
		cli_json_end(&j, ']');
	return CLI_EXIT_OK;
}
