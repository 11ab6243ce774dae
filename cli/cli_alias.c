/*
 * NAME
 *	cli_alias 3
 * SUMMARY
 *	mailmigrate aliases: list aliases and proposals, approve, reject
 * DESCRIPTION
 *	The puller makes an alias at once only from OLD's own Received:
 *	hop; every address taken from a header the sender wrote is a
 *	proposal (store_proposal.c) that the administrator approves or
 *	rejects here. Listings are tables, or JSON with --json (names
 *	documented in mailmigrate(8)).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "mm_alloc.h"

/* Which records a listing shows. */
enum cli_alias_show {
	CLI_ALIAS_ACTIVE,
	CLI_ALIAS_PENDING,
	CLI_ALIAS_REJECTED,
};

struct cli_alias_list {
	enum cli_alias_show show;
	int json;
	struct cli_json j;
	struct cli_table *table;
	size_t count;
	const char *account;	/* approve --all: whose proposals */
	char **names;		/* approve --all: collected */
	size_t names_count;
};

static const char *cli_alias_origin(int origin)
{
	return origin < 0 ? "unknown" :
		store_proposal_state_name((enum store_proposal_state)origin);
}

/* The header kinds as "To, X-Envelope-To" into buf. */
static const char *cli_alias_sources(unsigned sources, char *buf, size_t size)
{
	static const struct {
		unsigned bit;
		const char *name;
	} kinds[] = {
		{ STORE_ALIAS_SRC_TO, "To" },
		{ STORE_ALIAS_SRC_CC, "Cc" },
		{ STORE_ALIAS_SRC_ENVELOPE_TO, "X-Envelope-To" },
		{ STORE_ALIAS_SRC_RECEIVED, "Received" },
		{ STORE_ALIAS_SRC_RECEIVED_MX, "Received (OLD)" },
	};
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if ((sources & kinds[i].bit) != 0 && n < size)
			n += (size_t)snprintf(buf + n, size - n, "%s%s",
					      n > 0 ? ", " : "", kinds[i].name);
	return buf;
}

static int cli_alias_active_row(const char *alias, const char *account,
				int origin, void *context)
{
	struct cli_alias_list *l = context;
	char a[400], b[400];

	l->count++;
	if (l->json) {
		cli_json_object(&l->j, NULL);
		cli_json_str(&l->j, "alias", alias);
		cli_json_str(&l->j, "account", account);
		cli_json_str(&l->j, "origin", cli_alias_origin(origin));
		cli_json_end(&l->j, '}');
	} else {
		const char *cells[] = {
			cli_printable(alias, a, sizeof(a)),
			cli_printable(account, b, sizeof(b)),
			cli_alias_origin(origin),
		};

		cli_table_add(l->table, cells);
	}
	return 0;
}

static int cli_alias_proposal_row(const struct store_proposal *p, void *context)
{
	struct cli_alias_list *l = context;
	enum store_proposal_state want = l->show == CLI_ALIAS_REJECTED ?
		STORE_PROPOSAL_REJECTED : STORE_PROPOSAL_PENDING;
	char a[400], b[400], src[128], n[32], first[64], last[64];

	if (p->state != want)
		return 0;
	l->count++;
	if (l->json) {
		cli_json_object(&l->j, NULL);
		cli_json_str(&l->j, "alias", p->alias);
		cli_json_str(&l->j, "account", p->account);
		cli_json_str(&l->j, "state", store_proposal_state_name(p->state));
		cli_json_array(&l->j, "sources");
		if (p->sources & STORE_ALIAS_SRC_TO)
			cli_json_str(&l->j, NULL, "to");
		if (p->sources & STORE_ALIAS_SRC_CC)
			cli_json_str(&l->j, NULL, "cc");
		if (p->sources & STORE_ALIAS_SRC_ENVELOPE_TO)
			cli_json_str(&l->j, NULL, "x-envelope-to");
		if (p->sources & STORE_ALIAS_SRC_RECEIVED)
			cli_json_str(&l->j, NULL, "received");
		if (p->sources & STORE_ALIAS_SRC_RECEIVED_MX)
			cli_json_str(&l->j, NULL, "received-mx");
		cli_json_end(&l->j, ']');
		cli_json_u64(&l->j, "messages", p->count);
		cli_json_time(&l->j, "first_seen", p->first_seen);
		cli_json_time(&l->j, "last_seen", p->last_seen);
		cli_json_end(&l->j, '}');
	} else {
		const char *cells[] = {
			cli_printable(p->alias, a, sizeof(a)),
			cli_printable(p->account, b, sizeof(b)),
			cli_alias_sources(p->sources, src, sizeof(src)),
			n,
			cli_time_local(p->first_seen, first, sizeof(first)),
			cli_time_local(p->last_seen, last, sizeof(last)),
		};

		snprintf(n, sizeof(n), "%llu", (unsigned long long)p->count);
		cli_table_add(l->table, cells);
	}
	return 0;
}

/* mailmigrate aliases [--pending | --rejected] [--json] */
static int cli_alias_list(struct cli_ctx *ctx, enum cli_alias_show show, int json)
{
	static const char *const active_headers[] = { "ALIAS", "ACCOUNT", "ORIGIN" };
	static const int active_right[] = { 0, 0, 0 };
	static const char *const prop_headers[] = {
		"ALIAS", "ACCOUNT", "SEEN IN", "MESSAGES", "FIRST SEEN", "LAST SEEN",
	};
	static const int prop_right[] = { 0, 0, 0, 1, 0, 0 };
	struct cli_alias_list l = { .show = show, .json = json };
	const char *error;
	int ret;

	if (cli_ctx_store(ctx, 0, 1) < 0)
		return CLI_EXIT_SYSTEM;
	if (json) {
		cli_json_init(&l.j, stdout);
		cli_json_array(&l.j, NULL);
	} else if (show == CLI_ALIAS_ACTIVE) {
		l.table = cli_table_new(3, active_headers, active_right);
	} else {
		l.table = cli_table_new(6, prop_headers, prop_right);
	}
	if (show == CLI_ALIAS_ACTIVE)
		ret = store_alias_iter(ctx->store, cli_alias_active_row, &l, &error);
	else
		ret = store_proposal_iter(ctx->store, cli_alias_proposal_row, &l, &error);
	if (ret < 0) {
		cli_table_free(&l.table);
		cli_error("aliases: %s", error);
		return CLI_EXIT_SYSTEM;
	}
	if (json) {
		cli_json_end(&l.j, ']');
	} else {
		if (l.count == 0)
			printf("%s\n", show == CLI_ALIAS_ACTIVE ? "No aliases." :
			       show == CLI_ALIAS_PENDING ? "No pending proposals." :
			       "No rejected proposals.");
		else
			cli_table_print(l.table, stdout);
		cli_table_free(&l.table);
	}
	return CLI_EXIT_OK;
}

/* Approve one proposal; reports and returns the exit status. */
static int cli_alias_approve_one(struct cli_ctx *ctx, const char *alias,
				 const char *account)
{
	char who[STORE_MAX_ACCOUNT];
	const char *error;
	int ret;

	ret = store_proposal_approve(ctx->store, alias, account, time(NULL), who,
				     sizeof(who), &error);
	switch (ret) {
	case 0:
		printf("%s: now an alias of %s\n", alias, who);
		return CLI_EXIT_OK;
	case STORE_NOTFOUND:
		cli_error("approve: no pending proposal of %s%s%s", alias,
			  account != NULL ? " for " : "", account != NULL ? account : "");
		return CLI_EXIT_INPUT;
	case STORE_EXISTS:
		cli_error("approve: %s is an account or an alias already", alias);
		return CLI_EXIT_INPUT;
	case STORE_AMBIGUOUS:
		cli_error("approve: %s was proposed for several accounts: name one "
			  "(see mailmigrate aliases --pending)", alias);
		return CLI_EXIT_INPUT;
	default:
		cli_error("approve: %s", error);
		return CLI_EXIT_SYSTEM;
	}
}

static int cli_alias_collect(const struct store_proposal *p, void *context)
{
	struct cli_alias_list *l = context;

	if (p->state != STORE_PROPOSAL_PENDING || strcmp(p->account, l->account) != 0)
		return 0;
	l->names = mm_reallocarray(l->names, l->names_count + 1, sizeof(char *));
	l->names[l->names_count++] = mm_strdup(p->alias);
	return 0;
}

/* approve --all ACCOUNT: every pending proposal of the account. */
static int cli_alias_approve_all(struct cli_ctx *ctx, const char *account)
{
	struct cli_alias_list l = { .account = account };
	const char *error;
	int ret, worst = CLI_EXIT_OK;

	if (store_proposal_iter(ctx->store, cli_alias_collect, &l, &error) < 0) {
		cli_error("approve: %s", error);
		return CLI_EXIT_SYSTEM;
	}
	if (l.names_count == 0)
		printf("%s: no pending proposals\n", account);
	for (size_t i = 0; i < l.names_count; i++) {
		ret = cli_alias_approve_one(ctx, l.names[i], account);
		if (ret > worst)
			worst = ret;
		mm_free(&l.names[i]);
	}
	mm_free(&l.names);
	return worst;
}

/* mailmigrate aliases [--pending|--rejected] [--json]
 *		   | approve ALIAS [ACCOUNT] | approve --all ACCOUNT
 *		   | reject ALIAS [ACCOUNT] */
int cli_cmd_aliases(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pending", no_argument, NULL, 'p' },
		{ "rejected", no_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "all", no_argument, NULL, 'a' },
		CLI_COMMON_LONGOPTS
	};
	enum cli_alias_show show = CLI_ALIAS_ACTIVE;
	char alias[STORE_MAX_ACCOUNT], account[STORE_MAX_ACCOUNT];
	const char *action, *error;
	int c, ret, json = 0, all = 0, nargs;

	while ((c = cli_getopt(ctx, argc, argv, ":c:h", opts)) != -1) {
		switch (c) {
		case 'p':
			show = CLI_ALIAS_PENDING;
			break;
		case 'r':
			show = CLI_ALIAS_REJECTED;
			break;
		case 'j':
			json = 1;
			break;
		case 'a':
			all = 1;
			break;
		case 'h':
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	nargs = argc - optind;
	if (cli_ctx_config(ctx) < 0)
		return CLI_EXIT_SYSTEM;
	if (nargs == 0) {
		if (all)
			return cli_usage_error("aliases: --all is for approve");
		return cli_alias_list(ctx, show, json);
	}
	action = argv[optind];
	if (strcmp(action, "approve") != 0 && strcmp(action, "reject") != 0)
		return cli_usage_error("aliases: approve or reject, or no operand");
	if (show != CLI_ALIAS_ACTIVE || json)
		return cli_usage_error("aliases %s: takes no --pending, --rejected "
				       "or --json", action);
	if (all) {
		if (strcmp(action, "approve") != 0 || nargs != 2)
			return cli_usage_error("aliases: approve --all ACCOUNT");
		if ((ret = cli_ctx_user_arg(ctx, "aliases", argv[optind + 1], NULL,
					    account)) != 0)
			return ret;
		if (cli_ctx_store(ctx, 0, 0) < 0)
			return CLI_EXIT_SYSTEM;
		return cli_alias_approve_all(ctx, account);
	}
	if (nargs < 2 || nargs > 3)
		return cli_usage_error("aliases %s ALIAS [ACCOUNT]", action);
	if ((ret = cli_ctx_user_arg(ctx, "aliases", argv[optind + 1], NULL, alias)) != 0)
		return ret;
	if (nargs == 3 &&
	    (ret = cli_ctx_user_arg(ctx, "aliases", argv[optind + 2], NULL, account)) != 0)
		return ret;
	if (cli_ctx_store(ctx, 0, 0) < 0)
		return CLI_EXIT_SYSTEM;
	if (strcmp(action, "approve") == 0)
		return cli_alias_approve_one(ctx, alias, nargs == 3 ? account : NULL);
	ret = store_proposal_reject(ctx->store, alias, nargs == 3 ? account : NULL,
				    time(NULL), &error);
	if (ret < 0) {
		cli_error("reject: %s", error);
		return CLI_EXIT_SYSTEM;
	}
	if (ret == STORE_NOTFOUND) {
		cli_error("reject: no pending proposal of %s", alias);
		return CLI_EXIT_INPUT;
	}
	printf("%s: rejected; it will not be proposed again\n", alias);
	return CLI_EXIT_OK;
}
