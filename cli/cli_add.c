/*
 * NAME
 *	cli_add 3
 * SUMMARY
 *	mailmigrate add and bulk: queue accounts for migration
 * DESCRIPTION
 *	An account is created with its {SHA512-CRYPT} hash, its sealed
 *	password and its copy job in one store transaction; an account
 *	of a passwords_only domain gets the hash only (state
 *	passwords-only, no job, no sealed password). --messages-only
 *	works on an account that exists: it is flagged, its hash and
 *	sealed password replaced, and a copy job queued.
 *
 *	Bulk lines are "user:password" or "user:password:domain". With
 *	three or more fields the last is the domain and everything
 *	between the first and the last colon is the password, so a
 *	password holding ':' needs the domain field. Lines are read with
 *	linereader, so an over-long line is refused without being
 *	buffered; '#' comments and blank lines are skipped, CRLF is fine.
 * DIAGNOSTICS
 *	A bad bulk line is reported as "FILE:LINE: reason" and never
 *	echoes the password; the good lines are still queued and the
 *	exit status is 1. A store error stops at once with status 3.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "linereader.h"
#include "mm_alloc.h"

/* What add and bulk were asked to do with one account. */
struct cli_add_req {
	const char *account;		/* user@domain, normalised */
	const struct cfg_domain *dom;	/* its section, NULL if none */
	const char *password;
	int messages_only;
	const char *verb;		/* "add" or "bulk", for the event */
};


/* The domain part of a normalised account name. */
static const char *cli_add_domain_of(const char *account)
{
	const char *at = strchr(account, '@');

	return at != NULL ? at + 1 : account;
}

/* Does the request fit the account's existence? Returns 0,
 * CLI_EXIT_INPUT or CLI_EXIT_SYSTEM with reason filled in. */
static int cli_add_precheck(struct cli_ctx *ctx, const struct cli_add_req *req,
			    char *reason, size_t size)
{
	struct store_account acct;
	const char *error;
	int ret;

	if (req->messages_only && req->dom != NULL && req->dom->passwords_only) {
		snprintf(reason, size, "domain '%s' is passwords-only: no messages "
			 "are copied", cli_add_domain_of(req->account));
		return CLI_EXIT_INPUT;
	}
	ret = store_account_get(ctx->store, req->account, &acct, &error);
	if (ret < 0) {
		snprintf(reason, size, "%s", error);
		return CLI_EXIT_SYSTEM;
	}
	store_account_clear(&acct);
	if (ret == 0 && !req->messages_only) {
		snprintf(reason, size, "account '%s' already exists, cannot migrate",
			 req->account);
		return CLI_EXIT_INPUT;
	}
	if (ret == STORE_NOTFOUND && req->messages_only) {
		snprintf(reason, size, "account '%s' does not exist", req->account);
		return CLI_EXIT_INPUT;
	}
	return 0;
}

/* Create a new account with its hash, sealed password and job. */
static int cli_add_create(struct cli_ctx *ctx, const struct cli_add_req *req,
			  const char *hash, char *reason, size_t size)
{
	struct store_account acct;
	const char *error;
	int passwords_only = req->dom != NULL && req->dom->passwords_only;
	int ret;

	memset(&acct, 0, sizeof(acct));
	acct.name = (char *)req->account;
	acct.domain = (char *)cli_add_domain_of(req->account);
	acct.state = passwords_only ? STORE_STATE_PASSWORDS_ONLY :
		STORE_STATE_QUEUED;
	acct.password_hash = (char *)hash;
	/* Nothing is copied for passwords-only: keep no captured password. */
	ret = store_account_create(ctx->store, &acct,
				   passwords_only ? NULL : req->password,
				   time(NULL), &error);
	if (ret < 0) {
		snprintf(reason, size, "%s", error);
		return CLI_EXIT_SYSTEM;
	}
	if (ret == STORE_EXISTS) {
		snprintf(reason, size, "account '%s' already exists, cannot migrate",
			 req->account);
		return CLI_EXIT_INPUT;
	}
	if (passwords_only)
		cli_ctx_event(ctx, LOG_SEV_INFO, req->account, "added by mailmigrate "
			      "%s: passwords only, no messages are copied", req->verb);
	else
		cli_ctx_event(ctx, LOG_SEV_INFO, req->account, "queued for migration "
			      "by mailmigrate %s", req->verb);
	return 0;
}

/* Flag an existing account, replace its password, queue a copy. */
static int cli_add_messages_only(struct cli_ctx *ctx,
				 const struct cli_add_req *req,
				 const char *hash, char *reason, size_t size)
{
	const char *error;
	int ret;

	ret = store_account_requeue(ctx->store, req->account, hash, req->password,
				    time(NULL), &error);
	if (ret == STORE_NOTFOUND) {
		snprintf(reason, size, "account '%s' does not exist", req->account);
		return CLI_EXIT_INPUT;
	}
	if (ret < 0) {
		snprintf(reason, size, "%s", error);
		return CLI_EXIT_SYSTEM;
	}
	cli_ctx_event(ctx, LOG_SEV_INFO, req->account, "queued for a messages-only "
		      "copy by mailmigrate %s", req->verb);
	return 0;
}

/* Queue one account. Returns 0, CLI_EXIT_INPUT or CLI_EXIT_SYSTEM with
 * reason filled in (it never holds the password). */
static int cli_add_one(struct cli_ctx *ctx, const struct cli_add_req *req,
		       char *reason, size_t size)
{
	const char *error;
	char *hash;
	int ret;

	if ((ret = cli_add_precheck(ctx, req, reason, size)) != 0)
		return ret;
	/* No password (copied with source_admin_user): no hash, none sealed. */
	hash = NULL;
	if (req->password != NULL &&
	    crypto_hash_password(req->password, &hash, &error) < 0) {
		snprintf(reason, size, "%s", error);
		return CLI_EXIT_SYSTEM;
	}
	if (req->messages_only)
		ret = cli_add_messages_only(ctx, req, hash, reason, size);
	else
		ret = cli_add_create(ctx, req, hash, reason, size);
	mm_free(&hash);
	return ret;
}

/* What happened to an account, for the administrator. */
static const char *cli_add_outcome(const struct cli_add_req *req)
{
	if (req->messages_only)
		return "queued for a messages-only copy";
	if (req->dom != NULL && req->dom->passwords_only)
		return "added, passwords only (no messages are copied)";
	return "queued for migration";
}

/* mailmigrate add USER [--domain D] [--messages-only] */
int cli_cmd_add(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "domain", required_argument, NULL, 'd' },
		{ "messages-only", no_argument, NULL, 'm' },
		CLI_COMMON_LONGOPTS
	};
	struct cli_add_req req = { .verb = "add" };
	char account[STORE_MAX_ACCOUNT], reason[1024];
	const char *domain = NULL;
	char *password = NULL;
	int c, ret;

	while ((c = cli_getopt(ctx, argc, argv, ":c:hd:m", opts)) != -1) {
		switch (c) {
		case 'd':
			domain = optarg;
			break;
		case 'm':
			req.messages_only = 1;
			break;
		case 'h':
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error(optind == argc ? "add: no USER given" :
				       "add: one USER only (use bulk for many)");
	if (cli_ctx_config(ctx) < 0)
		return CLI_EXIT_SYSTEM;
	if ((ret = cli_ctx_user_arg(ctx, "add", argv[optind], domain, account)) != 0)
		return ret;
	req.account = account;
	if (cli_ctx_domain(ctx, account, &req.dom) < 0) {
		cli_error("add: domain '%s' is not configured",
			  cli_add_domain_of(account));
		return CLI_EXIT_INPUT;
	}
	if (cli_ctx_store(ctx, 0, 0) < 0 || cli_ctx_key(ctx) < 0)
		return CLI_EXIT_SYSTEM;
	/* Say "exists" before asking for a password that would be wasted. */
	if ((ret = cli_add_precheck(ctx, &req, reason, sizeof(reason))) != 0) {
		cli_error("add: %s", reason);
		return ret;
	}
	if ((ret = cli_pass_read(account, &password)) != 0)
		return ret;
	req.password = password;
	ret = cli_add_one(ctx, &req, reason, sizeof(reason));
	mm_free_secret(&password);
	if (ret != 0) {
		cli_error("add: %s", reason);
		return ret;
	}
	printf("%s: %s\n", account, cli_add_outcome(&req));
	return CLI_EXIT_OK;
}

/* --- bulk --------------------------------------------------------------- */

struct cli_bulk {
	struct cli_ctx *ctx;
	const char *name;		/* the file, as shown in messages */
	int messages_only;
	unsigned long queued, rejected;
};

/* Report a bad line; the reason never holds the password. */
static void cli_bulk_reject(struct cli_bulk *bulk, unsigned long lineno,
			    const char *reason)
{
	cli_error("%s:%lu: %s", bulk->name, lineno, reason);
	bulk->rejected++;
}

/* Is the line blank or a comment? */
static int cli_bulk_skip(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i == len || line[i] == '#';
}

/* Split buf (one line, NUL-terminated) into its fields, in place.
 * Returns NULL, or the reason the line is bad. */
static const char *cli_bulk_split(char *buf, char **user_r, char **password_r,
				  char **domain_r)
{
	char *first = strchr(buf, ':'), *last = strrchr(buf, ':');

	if (first == NULL) {
		/* A user alone: allowed where source_admin_user or an
		 * OAuth token copies. */
		*user_r = buf;
		*password_r = NULL;
		*domain_r = NULL;
		return *buf == '\0' ? "empty user" : NULL;
	}
	*first = '\0';
	*user_r = buf;
	*password_r = first + 1;
	*domain_r = NULL;
	if (last != first) {
		*last = '\0';
		*domain_r = last + 1;
	}
	if (**user_r == '\0')
		return "empty user";
	if (**password_r == '\0')
		return "empty password";
	if (*domain_r != NULL && **domain_r == '\0')
		return "empty domain field";
	return NULL;
}

/* Check one line and queue its account. Returns 0 (queued or rejected)
 * or -1 after a store error (reported). */
static int cli_bulk_line(struct cli_bulk *bulk, unsigned long lineno,
			 char *buf)
{
	struct cli_add_req req = { .messages_only = bulk->messages_only,
				   .verb = "bulk" };
	char account[STORE_MAX_ACCOUNT], reason[1024], shown[100];
	char *user, *password, *domain;
	const char *bad, *error;
	int ret;

	if ((bad = cli_bulk_split(buf, &user, &password, &domain)) != NULL) {
		cli_bulk_reject(bulk, lineno, bad);
		return 0;
	}
	if (domain != NULL && store_account_name("postmaster", domain, account,
						 sizeof(account), &error) < 0) {
		/* Not shown: after the last ':' may be a password's tail. */
		cli_bulk_reject(bulk, lineno, "bad domain field (the text after "
				"the last ':', not shown: it may be the end of a "
				"password holding ':', which needs the domain "
				"field)");
		return 0;
	}
	ret = cli_ctx_account(bulk->ctx, user, domain, account, &error);
	if (ret != 0) {
		cli_bulk_reject(bulk, lineno, ret == CLI_NAME_NODOMAIN ?
				"no domain (write user@domain or user:password:"
				"domain, or set default_domain)" : error);
		return 0;
	}
	req.account = account;
	if (cli_ctx_domain(bulk->ctx, account, &req.dom) < 0) {
		if (domain != NULL) {
			/* The domain field: maybe a password's tail. */
			cli_bulk_reject(bulk, lineno, "the domain field (the "
					"text after the last ':', not shown: it may "
					"be the end of a password holding ':', which "
					"needs the domain field) is not configured");
			return 0;
		}
		cli_printable(cli_add_domain_of(account), shown, sizeof(shown));
		snprintf(reason, sizeof(reason), "domain '%s' is not configured",
			 shown);
		cli_bulk_reject(bulk, lineno, reason);
		return 0;
	}
	/* A user alone: OLD is read with the administrator's password or
	 * an OAuth token, and no password is set on NEW. */
	if (password == NULL && (req.dom == NULL ||
				 (req.dom->source_admin_user == NULL &&
				  req.dom->source_auth == CFG_AUTH_PASSWORD))) {
		cli_bulk_reject(bulk, lineno, "no colon (expected user:password or "
				"user:password:domain; a user alone needs "
				"source_admin_user or source_auth = xoauth2 or "
				"oauthbearer for its domain)");
		return 0;
	}
	req.password = password;
	ret = cli_add_one(bulk->ctx, &req, reason, sizeof(reason));
	if (ret == CLI_EXIT_SYSTEM) {
		cli_error("%s:%lu: %s", bulk->name, lineno, reason);
		return -1;
	}
	if (ret != 0)
		cli_bulk_reject(bulk, lineno, reason);
	else
		bulk->queued++;
	return 0;
}

/* Read and queue every line of fd. Returns the exit status. */
static int cli_bulk_read(struct cli_bulk *bulk, int fd)
{
	struct linereader *lr = linereader_new(fd, CLI_MAX_LINE);
	char buf[CLI_MAX_LINE + 1];
	enum linereader_status st;
	const char *line;
	size_t len;
	int ret = CLI_EXIT_OK;

	while ((st = linereader_next(lr, &line, &len)) != LINEREADER_EOF) {
		unsigned long lineno = linereader_lineno(lr);

		if (st == LINEREADER_ERROR) {
			cli_error("cannot read %s: %s", bulk->name, strerror(errno));
			ret = CLI_EXIT_SYSTEM;
			break;
		}
		if (st == LINEREADER_TOOLONG) {
			char reason[64];

			snprintf(reason, sizeof(reason), "line too long (over %d bytes)",
				 CLI_MAX_LINE);
			cli_bulk_reject(bulk, lineno, reason);
			continue;
		}
		if (memchr(line, '\0', len) != NULL) {
			cli_bulk_reject(bulk, lineno, "NUL byte");
			continue;
		}
		if (cli_bulk_skip(line, len))
			continue;
		memcpy(buf, line, len + 1);
		if (cli_bulk_line(bulk, lineno, buf) < 0)
			ret = CLI_EXIT_SYSTEM;
		mm_wipe(buf, len);
		if (ret != CLI_EXIT_OK)
			break;
	}
	linereader_free(&lr);
	return ret;
}

/* Open the bulk file ("-": stdin). Returns the fd, or -1 (reported)
 * with *status_r set. */
static int cli_bulk_open(const char *path, const char *shown, int *status_r)
{
	struct stat st;
	int fd;

	if (strcmp(path, "-") == 0) {
		if (isatty(STDIN_FILENO)) {
			*status_r = cli_usage_error("bulk: stdin is a terminal, where "
						    "passwords would be echoed: give "
						    "a file or a pipe");
			return -1;
		}
		return STDIN_FILENO;
	}
	fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		cli_error("bulk: cannot open %s: %s", shown, strerror(errno));
		*status_r = CLI_EXIT_INPUT;
		return -1;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		cli_error("bulk: %s is a directory", shown);
		close(fd);
		*status_r = CLI_EXIT_INPUT;
		return -1;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0)
		cli_error("warning: %s holds passwords and others can read it "
			  "(mode %04o): delete it when done", shown,
			  (unsigned)(st.st_mode & 07777));
	return fd;
}

/* mailmigrate bulk FILE|- [--messages-only] */
int cli_cmd_bulk(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "messages-only", no_argument, NULL, 'm' },
		CLI_COMMON_LONGOPTS
	};
	struct cli_bulk bulk = { .ctx = ctx };
	char shown[200];
	int c, fd, ret;

	while ((c = cli_getopt(ctx, argc, argv, ":c:hm", opts)) != -1) {
		switch (c) {
		case 'm':
			bulk.messages_only = 1;
			break;
		case 'h':
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error(optind == argc ? "bulk: no FILE given "
				       "('-' for stdin)" : "bulk: one FILE only");
	cli_printable(strcmp(argv[optind], "-") == 0 ? "stdin" : argv[optind],
		      shown, sizeof(shown));
	bulk.name = shown;
	if (cli_ctx_store(ctx, 0, 0) < 0 || cli_ctx_key(ctx) < 0)
		return CLI_EXIT_SYSTEM;
	if ((fd = cli_bulk_open(argv[optind], shown, &ret)) < 0)
		return ret;
	ret = cli_bulk_read(&bulk, fd);
	if (fd != STDIN_FILENO)
		close(fd);
	printf("%lu accounts queued, %lu lines rejected\n", bulk.queued,
	       bulk.rejected);
	if (ret == CLI_EXIT_OK && bulk.rejected > 0)
		ret = CLI_EXIT_INPUT;
	return ret;
}
