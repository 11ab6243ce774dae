/*
 * NAME
 *	authdb_mailmigrate 3
 * SUMMARY
 *	the Dovecot 2.3 glue: passdb and userdb "mailmigrate"
 * SYNOPSIS
 *	passdb {
 *	  driver = mailmigrate
 *	  args = /etc/mailmigrate/mailmigrate.conf
 *	}
 *	userdb {
 *	  driver = mailmigrate
 *	  args = /etc/mailmigrate/mailmigrate.conf
 *	}
 * DESCRIPTION
 *	Shaped like Dovecot's own passdb-imap.c. Both are blocking: they
 *	run in auth-worker processes, where the check on OLD may take
 *	seconds. Each worker opens the configuration, the store and the
 *	key on its first request (not in the auth master, which never
 *	calls a blocking module), and again after a failure. A worker
 *	is single-threaded and serves one request at a time, which the
 *	unlocked per-process ring of error texts (error(3h)) relies on.
 *
 *	This is the only file that sees Dovecot's headers; the logic is
 *	in authhook*.c. The module exports authdb_mailmigrate_init,
 *	_deinit and _version only (Makefile.am), so our helpers never
 *	clash with Dovecot's symbols.
 */
#include "lib.h"		/* Dovecot's; pulls in its config.h */
#include "net.h"
#include "auth.h"
#include "passdb.h"
#include "userdb.h"

#include "authhook.h"

struct mailmigrate_passdb_module {
	struct passdb_module module;
	const char *config_path;
};

struct mailmigrate_userdb_module {
	struct userdb_module module;
	const char *config_path;
};

static struct authhook *mailmigrate_hook;
static struct auth_request *mailmigrate_current;

/* Log lines of authhook go to the request's log, as any passdb's. */
static void mailmigrate_log(enum log_severity sev, const char *text, void *ctx)
{
	struct auth_request *request = mailmigrate_current;

	if (request == NULL) {
		if (sev >= LOG_SEV_ERROR)
			i_error("mailmigrate: %s", text);
		else if (sev == LOG_SEV_WARNING)
			i_warning("mailmigrate: %s", text);
		else
			i_info("mailmigrate: %s", text);
		return;
	}
	if (sev >= LOG_SEV_ERROR)
		auth_request_log_error(request, AUTH_SUBSYS_DB, "%s", text);
	else if (sev == LOG_SEV_WARNING)
		auth_request_log_warning(request, AUTH_SUBSYS_DB, "%s", text);
	else if (sev == LOG_SEV_INFO)
		auth_request_log_info(request, AUTH_SUBSYS_DB, "%s", text);
	else
		auth_request_log_debug(request, AUTH_SUBSYS_DB, "%s", text);
}

/* Lines of our libraries (log(3)): into Dovecot's log, as the module's. */
static void mailmigrate_lib_log(enum log_severity sev, const char *text)
{
	mailmigrate_log(sev, text, NULL);
}

/* The hook of this worker, opened on first use. */
static struct authhook *mailmigrate_get(struct auth_request *request,
					const char *path)
{
	const char *error;

	if (mailmigrate_hook != NULL)
		return mailmigrate_hook;
	authhook_set_logger(mailmigrate_log, NULL);
	log_set_handler(mailmigrate_lib_log);
	if (authhook_init(path, &mailmigrate_hook, &error) < 0) {
		auth_request_log_error(request, AUTH_SUBSYS_DB,
				       "cannot start: %s", error);
		return NULL;
	}
	return mailmigrate_hook;
}

static void mailmigrate_fill_request(struct auth_request *request,
				     const char *password,
				     struct authhook_request *req)
{
	req->user = request->fields.user;
	req->password = password;
	req->service = request->fields.service;
	req->local_ip = request->fields.local_ip.family != 0 ?
		net_ip2addr(&request->fields.local_ip) : "";
	req->remote_ip = request->fields.remote_ip.family != 0 ?
		net_ip2addr(&request->fields.remote_ip) : "";
	req->password_verified = request->fields.skip_password_check ? 1 : 0;
}

static void
mailmigrate_verify_plain(struct auth_request *request, const char *password,
			 verify_plain_callback_t *callback)
{
	struct mailmigrate_passdb_module *module =
		(struct mailmigrate_passdb_module *)request->passdb->passdb;
	struct authhook_request req;
	struct authhook_reply reply;
	struct authhook *hook;
	enum authhook_result result;

	hook = mailmigrate_get(request, module->config_path);
	if (hook == NULL) {
		callback(PASSDB_RESULT_INTERNAL_FAILURE, request);
		return;
	}
	i_zero(&req);
	i_zero(&reply);
	mailmigrate_fill_request(request, password, &req);
	mailmigrate_current = request;
	result = authhook_passdb(hook, &req, &reply);
	mailmigrate_current = NULL;
	switch (result) {
	case AUTHHOOK_OK:
		for (size_t i = 0; i < reply.count; i++)
			auth_request_set_field(request, reply.names[i],
					       reply.values[i], NULL);
		authhook_reply_free(&reply);
		callback(PASSDB_RESULT_OK, request);
		return;
	case AUTHHOOK_MISMATCH:
		authhook_reply_free(&reply);
		auth_request_log_password_mismatch(request, AUTH_SUBSYS_DB);
		callback(PASSDB_RESULT_PASSWORD_MISMATCH, request);
		return;
	case AUTHHOOK_UNKNOWN:
		authhook_reply_free(&reply);
		auth_request_log_unknown_user(request, AUTH_SUBSYS_DB);
		callback(PASSDB_RESULT_USER_UNKNOWN, request);
		return;
	case AUTHHOOK_TEMPFAIL:
		break;
	}
	authhook_reply_free(&reply);
	callback(PASSDB_RESULT_INTERNAL_FAILURE, request);
}

static struct passdb_module *
mailmigrate_passdb_preinit(pool_t pool, const char *args)
{
	struct mailmigrate_passdb_module *module;

	module = p_new(pool, struct mailmigrate_passdb_module, 1);
	module->module.blocking = TRUE;
	module->module.default_pass_scheme = "SHA512-CRYPT";
	module->config_path = args != NULL && *args != '\0' ?
		p_strdup(pool, args) : NULL;
	return &module->module;
}

static void mailmigrate_deinit_hook(void)
{
	authhook_deinit(&mailmigrate_hook);
}

static void mailmigrate_passdb_deinit(struct passdb_module *module ATTR_UNUSED)
{
	mailmigrate_deinit_hook();
}

static void mailmigrate_userdb_lookup(struct auth_request *request,
				      userdb_callback_t *callback)
{
	struct mailmigrate_userdb_module *module =
		(struct mailmigrate_userdb_module *)request->userdb->userdb;
	struct authhook_request req;
	struct authhook_reply reply;
	struct authhook *hook;
	enum authhook_result result;

	hook = mailmigrate_get(request, module->config_path);
	if (hook == NULL) {
		callback(USERDB_RESULT_INTERNAL_FAILURE, request);
		return;
	}
	i_zero(&req);
	i_zero(&reply);
	mailmigrate_fill_request(request, NULL, &req);
	mailmigrate_current = request;
	result = authhook_userdb(hook, &req, &reply);
	mailmigrate_current = NULL;
	if (result == AUTHHOOK_OK) {
		for (size_t i = 0; i < reply.count; i++)
			auth_request_set_userdb_field(request, reply.names[i],
						      reply.values[i]);
		authhook_reply_free(&reply);
		callback(USERDB_RESULT_OK, request);
		return;
	}
	authhook_reply_free(&reply);
	if (result == AUTHHOOK_UNKNOWN) {
		auth_request_log_unknown_user(request, AUTH_SUBSYS_DB);
		callback(USERDB_RESULT_USER_UNKNOWN, request);
	} else {
		callback(USERDB_RESULT_INTERNAL_FAILURE, request);
	}
}

static struct userdb_module *
mailmigrate_userdb_preinit(pool_t pool, const char *args)
{
	struct mailmigrate_userdb_module *module;

	module = p_new(pool, struct mailmigrate_userdb_module, 1);
	module->module.blocking = TRUE;
	module->config_path = args != NULL && *args != '\0' ?
		p_strdup(pool, args) : NULL;
	return &module->module;
}

static void mailmigrate_userdb_deinit(struct userdb_module *module ATTR_UNUSED)
{
	mailmigrate_deinit_hook();
}

static struct passdb_module_interface mailmigrate_passdb = {
	.name = "mailmigrate",
	.preinit = mailmigrate_passdb_preinit,
	.deinit = mailmigrate_passdb_deinit,
	.verify_plain = mailmigrate_verify_plain,
};

static struct userdb_module_interface mailmigrate_userdb = {
	.name = "mailmigrate",
	.preinit = mailmigrate_userdb_preinit,
	.deinit = mailmigrate_userdb_deinit,
	.lookup = mailmigrate_userdb_lookup,
};

/* Exported: Dovecot refuses a module built for another version. */
void authdb_mailmigrate_init(void);
void authdb_mailmigrate_deinit(void);
extern const char *authdb_mailmigrate_version;
const char *authdb_mailmigrate_version = DOVECOT_ABI_VERSION;

void authdb_mailmigrate_init(void)
{
	passdb_register_module(&mailmigrate_passdb);
	userdb_register_module(&mailmigrate_userdb);
}

void authdb_mailmigrate_deinit(void)
{
	passdb_unregister_module(&mailmigrate_passdb);
	userdb_unregister_module(&mailmigrate_userdb);
	mailmigrate_deinit_hook();
	log_set_handler(NULL);
}
