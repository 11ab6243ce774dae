/*
 * NAME
 *	cli_verify 3
 * SUMMARY
 *	mailmigrate verify: prove accounts' copies against OLD and NEW now
 * DESCRIPTION
 *	For one account or every account a round has started, log in to
 *	OLD and NEW as the puller does (puller_session_open()) and check
 *	each of OLD's folders as every round's end does (puller_verify(3)):
 *	each of OLD's messages copied, a failed item, or newer than the
 *	last round; each copied message still on NEW. A table per account,
 *	or JSON. Nothing is changed: a difference found here is for the
 *	administrator; the next round acts on it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "crypto.h"
#include "driver.h"
#include "folder_map.h"
#include "mm_alloc.h"
#include "mutf7.h"
#include "puller.h"

struct cli_verify {
	struct cli_ctx *ctx;
	struct puller p;
	int json;
	struct cli_json j;
	uint64_t accounts, differ, errors;
};

static void cli_verify_json_folder(struct cli_json *j, const struct puller_verify *v)
{
	cli_json_object(j, NULL);
	cli_json_str(j, "folder", v->folder);
	cli_json_str(j, "target", v->target);
	cli_json_str(j, "state", v->state);
	cli_json_u64(j, "old_messages", v->old_msgs);
	cli_json_u64(j, "old_bytes", v->old_bytes);
	cli_json_u64(j, "copied", v->copied);
	cli_json_u64(j, "copied_bytes", v->copied_bytes);
	cli_json_u64(j, "failed", v->failed);
	cli_json_u64(j, "failed_bytes", v->failed_bytes);
	cli_json_u64(j, "missing", v->missing);
	cli_json_u64(j, "missing_bytes", v->missing_bytes);
	cli_json_u64(j, "newer", v->later);
	cli_json_u64(j, "new_messages", v->new_msgs);
	cli_json_u64(j, "new_bytes", v->new_bytes);
	cli_json_u64(j, "new_copied_bytes", v->new_copied_bytes);
	cli_json_u64(j, "gone", v->gone);
	cli_json_u64(j, "sizes_differ", v->sizes);
	cli_json_u64(j, "dates_differ", v->dates);
	cli_json_u64(j, "flags_differ", v->flags);
	cli_json_str(j, "why", v->why[0] != '\0' ? v->why : NULL);
	cli_json_end(j, '}');
}

static void cli_verify_row(struct cli_table *t, const struct puller_verify *v,
			   int utf8_names)
{
	char cells[12][64];
	const char *row[13];
	const uint64_t n[] = { v->old_msgs, v->old_bytes, v->copied, v->failed,
			       v->missing, v->later, v->new_msgs, v->new_bytes,
			       v->gone, v->dates };

	char *utf8 = NULL;
	const char *error;

	/* Modified UTF-7 shown as the UTF-8 it stands for. */
	if (!utf8_names && mutf7_to_utf8(v->folder, &utf8, &error) == 0)
		cli_printable(utf8, cells[0], sizeof(cells[0]));
	else
		cli_printable(v->folder, cells[0], sizeof(cells[0]));
	mm_free(&utf8);
	row[0] = cells[0];
	for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
		snprintf(cells[i + 1], sizeof(cells[i + 1]), "%llu",
			 (unsigned long long)n[i]);
		row[i + 1] = cells[i + 1];
	}
	row[11] = v->state;
	cli_table_add(t, row);
}

/* The folder's fate by the domain's exclude_folders and folder_map:
 * 1 copied, 0 excluded, -1 a name the copy refuses. */
static int cli_verify_mapped(const struct folder_map *map, const struct folder_map_source *msrc,
			     const struct driver_folder *f)
{
	struct folder_map_target mdst = { .separator = '/', .prefix = "" };
	char *target = NULL;
	const char *error;
	int ret = folder_map_apply(map, msrc, &mdst, f->name, f->attrs, &target, &error);

	mm_free(&target);
	return ret;
}

/* Verify one account's folders in its sessions; 0, or -1 with the
 * failure (reported by the caller). */
static int cli_verify_folders(struct cli_verify *cv, struct puller_session *s,
			      struct cli_table *t, char **whys, size_t *nwhy,
			      int *differs_r, struct puller_acl_verify *acl,
			      enum stream_fail *fail_r, const char **error_r)
{
	struct driver_folder *sf = NULL;
	struct folder_map *map = NULL;
	struct folder_map_source msrc = { 0 };
	char prefix[64] = "";
	size_t ns = 0;
	int ret;

	if (puller_source_folders(s, &sf, &ns, &msrc, prefix, sizeof(prefix), fail_r,
				  error_r) < 0)
		return -1;
	if (folder_map_new(s->dom->exclude_folders, s->dom->folder_map, &map,
			   error_r) < 0) {
		driver_folders_free(&sf, ns);
		*fail_r = STREAM_FAIL_FINAL;
		return -1;
	}
	ret = 0;
	for (size_t i = 0; ret == 0 && i < ns; i++) {
		struct puller_verify v;

		if ((sf[i].attrs & DRIVER_FOLDER_NOSELECT) != 0)
			continue;
		ret = puller_verify_folder(&cv->p, s, sf[i].name, 0, 0, NULL, NULL, &v,
					   fail_r, error_r);
		if (ret < 0)
			break;
		if (strcmp(v.state, "not copied") == 0) {
			int m = cli_verify_mapped(map, &msrc, &sf[i]);

			v.state = m == 0 ? "excluded" : m < 0 ? "failed" : "not copied";
		}
		/* migrate_shared: the rights on what was copied. */
		if (s->dom->migrate_shared && v.target != NULL &&
		    strcmp(v.state, "not copied") != 0)
			ret = puller_acl_verify_folder(&cv->p, s, sf[i].name, v.target,
						       acl, fail_r, error_r);
		if (v.differs) {
			char line[sizeof(v.why) + 256];

			*differs_r = 1;
			snprintf(line, sizeof(line), "%s: %s", v.folder, v.why);
			whys[(*nwhy)++] = mm_strdup(line);
		}
		if (cv->json)
			cli_verify_json_folder(&cv->j, &v);
		else
			cli_verify_row(t, &v, msrc.utf8);
		puller_verify_clear(&v);
		if (*nwhy == PULLER_MAX_FOLDERS)
			break;
	}
	folder_map_free(&map);
	driver_folders_free(&sf, ns);
	return ret;
}

/* migrate_shared: what cli_verify_folders() found of the rights. */
static void cli_verify_acl(struct cli_verify *cv, const struct puller_acl_verify *a,
			   char **whys, size_t *nwhy, int *differs_r, char *line,
			   size_t size)
{
	const char *none = a->old_none ? "OLD has no ACL extension" :
		a->new_none ? "NEW has no ACL extension (or target_driver cannot "
		"read them)" : NULL;

	if (a->differs && *nwhy < PULLER_MAX_FOLDERS) {
		*differs_r = 1;
		whys[(*nwhy)++] = mm_asprintf("ACLs: %s", a->why);
	}
	if (cv->json) {
		cli_json_object(&cv->j, "acl");
		cli_json_bool(&cv->j, "checked", none == NULL);
		cli_json_str(&cv->j, "why_not_checked", none);
		cli_json_u64(&cv->j, "folders", a->folders);
		cli_json_u64(&cv->j, "entries", a->entries);
		cli_json_u64(&cv->j, "same", a->same);
		cli_json_u64(&cv->j, "no_account", a->unmapped);
		cli_json_u64(&cv->j, "failed_folders", a->failed_folders);
		cli_json_u64(&cv->j, "differ_folders", a->differ_folders);
		cli_json_u64(&cv->j, "not_read", a->not_read);
		cli_json_end(&cv->j, '}');
		return;
	}
	if (none != NULL)
		snprintf(line, size, "ACLs: not checked: %s", none);
	else
		snprintf(line, size, "ACLs: %llu folders with rights for others on "
			 "OLD, %llu entries: %llu on NEW as on OLD, %llu with no "
			 "account on NEW; %llu folders not all given (failed items), "
			 "%llu differ, %llu not read", (unsigned long long)a->folders,
			 (unsigned long long)a->entries, (unsigned long long)a->same,
			 (unsigned long long)a->unmapped,
			 (unsigned long long)a->failed_folders,
			 (unsigned long long)a->differ_folders,
			 (unsigned long long)a->not_read);
}

/* migrate_sieve: the scripts the rounds put on NEW, against NEW now. */
static int cli_verify_sieve(struct cli_verify *cv, const char *account, char **whys, size_t *nwhy,
			    int *differs_r, char *line, size_t size,
			    enum stream_fail *fail_r, const char **error_r)
{
	struct puller_sieve_verify v;
	char shown[STORE_MAX_SIEVE_NAME + 1];

	if (puller_sieve_verify(&cv->p, account, &v, fail_r, error_r) < 0)
		return -1;
	if (v.differs) {
		*differs_r = 1;
		whys[(*nwhy)++] = mm_asprintf("Sieve: %s", v.why);
	}
	if (cv->json) {
		cli_json_object(&cv->j, "sieve");
		cli_json_u64(&cv->j, "recorded", v.recorded);
		cli_json_u64(&cv->j, "same", v.same);
		cli_json_u64(&cv->j, "changed_on_new", v.changed);
		cli_json_u64(&cv->j, "gone", v.gone);
		cli_json_u64(&cv->j, "failed", v.failed);
		cli_json_str(&cv->j, "active_recorded", v.active_recorded[0] != '\0' ?
			     v.active_recorded : NULL);
		cli_json_str(&cv->j, "active_on_new", v.active_new[0] != '\0' ?
			     v.active_new : NULL);
		cli_json_end(&cv->j, '}');
		return 0;
	}
	snprintf(line, size, "Sieve: %llu scripts copied: %llu on NEW as copied, "
		 "%llu changed on NEW since, %llu gone; %llu not copied (failed "
		 "items); active on NEW: %s", (unsigned long long)v.recorded,
		 (unsigned long long)v.same, (unsigned long long)v.changed,
		 (unsigned long long)v.gone, (unsigned long long)v.failed,
		 v.active_new[0] != '\0' ?
		 cli_printable(v.active_new, shown, sizeof(shown)) : "none");
	return 0;
}

/* migrate_dav: the calendars and address books the rounds put on NEW,
 * against NEW now. */
static int cli_verify_dav(struct cli_verify *cv, const char *account, char **whys,
			  size_t *nwhy, int *differs_r, char *line, size_t size,
			  enum stream_fail *fail_r, const char **error_r)
{
	struct puller_dav_verify v;

	if (puller_dav_verify(&cv->p, account, &v, fail_r, error_r) < 0)
		return -1;
	if (v.differs) {
		*differs_r = 1;
		whys[(*nwhy)++] = mm_asprintf("calendars and address books: %s", v.why);
	}
	if (cv->json) {
		cli_json_object(&cv->j, "dav");
		cli_json_u64(&cv->j, "collections", v.collections);
		cli_json_u64(&cv->j, "items", v.items);
		cli_json_u64(&cv->j, "same", v.same);
		cli_json_u64(&cv->j, "changed_on_new", v.changed);
		cli_json_u64(&cv->j, "gone", v.gone);
		cli_json_u64(&cv->j, "failed", v.failed);
		cli_json_bool(&cv->j, "checked", !v.no_password);
		cli_json_end(&cv->j, '}');
		return 0;
	}
	if (v.no_password)
		snprintf(line, size, "Calendars and address books: %llu collections "
			 "copied, not checked on NEW: no captured password (wiped by "
			 "the finish round); %llu not copied (failed items)",
			 (unsigned long long)v.collections, (unsigned long long)v.failed);
	else
		snprintf(line, size, "Calendars and address books: %llu collections, "
			 "%llu items copied: %llu on NEW as copied, %llu changed on NEW "
			 "since, %llu gone; %llu not copied (failed items)",
			 (unsigned long long)v.collections, (unsigned long long)v.items,
			 (unsigned long long)v.same, (unsigned long long)v.changed,
			 (unsigned long long)v.gone, (unsigned long long)v.failed);
	return 0;
}

static void cli_verify_account(struct cli_verify *cv, const char *account)
{
	static const char *const headers[] = {
		"FOLDER", "OLD", "OLD BYTES", "COPIED", "FAILED", "MISSING", "NEWER",
		"NEW", "NEW BYTES", "GONE", "DATES", "RESULT",
	};
	static const int right[] = { 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 };
	struct puller_session s = { .account = account };
	struct cli_table *t = NULL;
	enum stream_fail fail = STREAM_FAIL_NONE;
	const char *error = NULL;
	char **whys = mm_calloc(PULLER_MAX_FOLDERS, sizeof(char *));
	char reason[STREAM_ERROR_MAX] = "", sieve_line[STORE_MAX_SIEVE_NAME + 256] = "";
	char dav_line[512] = "", acl_line[512] = "";
	struct puller_acl_verify acl = { 0 };
	size_t nwhy = 0;
	int differs = 0, ret;

	cv->accounts++;
	if (cli_ctx_domain(cv->ctx, account, &s.dom) < 0 || s.dom == NULL) {
		snprintf(reason, sizeof(reason), "its domain has no [domain] section");
		ret = -1;
	} else {
		if (cv->json) {
			cli_json_object(&cv->j, NULL);
			cli_json_str(&cv->j, "account", account);
			cli_json_array(&cv->j, "folders");
		} else {
			t = cli_table_new(12, headers, right);
		}
		ret = puller_session_open(&cv->p, &s, &fail, &error);
		if (ret == 0)
			ret = cli_verify_folders(cv, &s, t, whys, &nwhy, &differs, &acl,
						 &fail, &error);
		if (ret < 0)
			snprintf(reason, sizeof(reason), "%s", error);
		puller_session_close(&s);
		if (cv->json)
			cli_json_end(&cv->j, ']');
		if (ret == 0 && s.dom->migrate_shared)
			cli_verify_acl(cv, &acl, whys, &nwhy, &differs, acl_line,
				       sizeof(acl_line));
		/* Sieve and DAV are asked of NEW only: checked even when OLD
		 * could not be (a finished account's password is wiped). */
		if (s.dom->migrate_sieve && nwhy < PULLER_MAX_FOLDERS &&
		    !cfg_is_public_account(s.dom, account) &&
		    cli_verify_sieve(cv, account, whys, &nwhy, &differs, sieve_line,
				     sizeof(sieve_line), &fail, &error) < 0 && ret == 0) {
			snprintf(reason, sizeof(reason), "Sieve: %s", error);
			ret = -1;
		}
		if (s.dom->migrate_dav && nwhy < PULLER_MAX_FOLDERS &&
		    !cfg_is_public_account(s.dom, account) &&
		    cli_verify_dav(cv, account, whys, &nwhy, &differs, dav_line,
				   sizeof(dav_line), &fail, &error) < 0 && ret == 0) {
			snprintf(reason, sizeof(reason), "calendars and address books: %s",
				 error);
			ret = -1;
		}
	}
	if (ret < 0)
		cv->errors++;
	else if (differs)
		cv->differ++;
	if (cv->json) {
		if (s.dom == NULL) {
			cli_json_object(&cv->j, NULL);
			cli_json_str(&cv->j, "account", account);
		}
		cli_json_str(&cv->j, "result", ret < 0 ? "error" : differs ? "differs" : "ok");
		cli_json_str(&cv->j, "error", ret < 0 ? reason : NULL);
		cli_json_array(&cv->j, "differences");
		for (size_t i = 0; i < nwhy; i++)
			cli_json_str(&cv->j, NULL, whys[i]);
		cli_json_end(&cv->j, ']');
		cli_json_end(&cv->j, '}');
	} else {
		char shown[STREAM_ERROR_MAX];

		printf("%s: %s\n", account, ret < 0 ? "not verified" :
		       differs ? "DIFFERS from OLD" : "every message accounted for");
		if (t != NULL && ret == 0)
			cli_table_print(t, stdout);
		if (acl_line[0] != '\0')
			printf("%s\n", acl_line);
		if (sieve_line[0] != '\0')
			printf("%s\n", sieve_line);
		if (dav_line[0] != '\0')
			printf("%s\n", dav_line);
		for (size_t i = 0; i < nwhy; i++)
			printf("  differs: %s\n", cli_printable(whys[i], shown, sizeof(shown)));
		if (ret < 0)
			printf("  error: %s\n", cli_printable(reason, shown, sizeof(shown)));
		printf("\n");
	}
	cli_table_free(&t);
	for (size_t i = 0; i < nwhy; i++)
		mm_free(&whys[i]);
	mm_free(&whys);
}

/* NEW's ManageSieve is logged in to as the master user. */
static int cli_verify_wants_sieve(const struct cfg *cfg)
{
	for (size_t i = 0; i < cfg->domains_count; i++)
		if (cfg->domains[i].migrate_sieve)
			return 1;
	return 0;
}

int cli_cmd_verify(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "domain", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		CLI_COMMON_LONGOPTS
	};
	struct cli_verify cv = { .ctx = ctx };
	struct cli_names n = { .states = ~((1u << STORE_STATE_QUEUED) |
					      (1u << STORE_STATE_PASSWORDS_ONLY)) };
	char account[STORE_MAX_ACCOUNT];
	const char *domain = NULL, *error;
	int c, all = 0, ret;

	while ((c = cli_getopt(ctx, argc, argv, ":c:had:j", opts)) != -1) {
		switch (c) {
		case 'a':
			all = 1;
			break;
		case 'd':
			domain = optarg;
			break;
		case 'j':
			cv.json = 1;
			break;
		case 'h':
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (all ? optind != argc : optind + 1 != argc)
		return cli_usage_error(all ? "verify: --all takes no USER" :
				       optind == argc ? "verify: give USER or --all" :
				       "verify: one USER only");
	if (cli_ctx_config(ctx) < 0)
		return CLI_EXIT_SYSTEM;
	if (!all && (ret = cli_ctx_user_arg(ctx, "verify", argv[optind], domain,
					    account)) != 0)
		return ret;
	/* Read-write: a first STARTTLS of OLD is remembered, as the
	 * puller would. */
	if (cli_ctx_store(ctx, 0, 0) < 0)
		return CLI_EXIT_SYSTEM;
	/* Every account a round has started. */
	if ((ret = cli_ctx_names(ctx, "verify", all ? NULL : account, &n)) != 0)
		return ret;
	/* The captured passwords are sealed: the key opens them. */
	ret = cli_ctx_key(ctx) < 0 ? -1 : 0;
	if (ret == 0 && (ctx->cfg->target_driver == CFG_TARGET_IMAP ||
			 cli_verify_wants_sieve(ctx->cfg)) &&
	    crypto_read_secret(ctx->cfg->target_master_password_file,
					   &cv.p.target_master_password, &error) < 0) {
		cli_error("verify: target_master_password_file: %s", error);
		ret = -1;
	}
	if (ret < 0) {
		cli_names_free(&n);
		return CLI_EXIT_SYSTEM;
	}
	cv.p.cfg = ctx->cfg;
	cv.p.store = ctx->store;
	snprintf(cv.p.owner, sizeof(cv.p.owner), "mailmigrate-verify");
	if (cv.json) {
		cli_json_init(&cv.j, stdout);
		cli_json_object(&cv.j, NULL);
		cli_json_array(&cv.j, "accounts");
	}
	for (size_t i = 0; i < n.count; i++)
		cli_verify_account(&cv, n.names[i]);
	cli_names_free(&n);
	mm_free_secret(&cv.p.target_master_password);
	if (cv.json) {
		cli_json_end(&cv.j, ']');
		cli_json_u64(&cv.j, "accounts_verified", cv.accounts - cv.errors);
		cli_json_u64(&cv.j, "accounts_differ", cv.differ);
		cli_json_u64(&cv.j, "accounts_not_verified", cv.errors);
		cli_json_end(&cv.j, '}');
	} else if (all) {
		printf("%llu accounts: %llu every message accounted for, %llu differ, "
		       "%llu not verified\n", (unsigned long long)cv.accounts,
		       (unsigned long long)(cv.accounts - cv.differ - cv.errors),
		       (unsigned long long)cv.differ, (unsigned long long)cv.errors);
	}
	return cv.differ > 0 || cv.errors > 0 ? CLI_EXIT_INPUT : CLI_EXIT_OK;
}
