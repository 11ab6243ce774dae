/*
 * NAME
 *	authhook_source 3
 * SUMMARY
 *	a login on the OLD server, to check a user's password
 * DESCRIPTION
 *	The same client code the puller uses (imap_client, pop3_client),
 *	so TLS modes and certificate checks are the same: connect as
 *	source_host and source_tls say, log in, log out. Only a login the
 *	server refuses is a wrong password; everything else (no
 *	connection, a timeout, a TLS failure, a server that says it is
 *	busy) is a temporary failure, for the client to try again later.
 *	That includes a downgrade: with source_tls = detect, a server the
 *	TLS memory says completed STARTTLS before and that offers none
 *	now gets no password (imap_client.h). The caller learns whether
 *	the check ran over TLS, and verified, to decide what to trust.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "authhook.h"
#include "driver.h"
#include "imap_client.h"
#include "pop3_client.h"

#define AUTHHOOK_MAX_LINE 8192

static enum authhook_source_result
authhook_source_imap(const struct cfg_domain *dom, const char *host, uint16_t port,
		     const char *user, const char *password, unsigned timeout_ms,
		     struct authhook_source_tls *tls, const char **error_r)
{
	struct imap_client_settings cs = { 0 };
	struct imap_client *client;
	enum stream_fail fail;
	const char *error;
	int ret;

	cs.host = host;
	cs.port = port;
	cs.tls = dom->source_tls;
	cs.tls_opts.verify = dom->source_tls_verify;
	cs.tls_opts.ca_file = dom->source_tls_ca_file;
	cs.tls_opts.name = host;
	cs.connect_timeout_ms = timeout_ms;
	cs.timeout_ms = timeout_ms;
	cs.max_line = AUTHHOOK_MAX_LINE;
	cs.tls_seen = tls->seen;
	cs.downgrade_r = &tls->downgrade;
	if (imap_client_connect(&cs, &client, &fail, &error) < 0) {
		*error_r = error;
		return AUTHHOOK_SOURCE_TEMPFAIL;
	}
	tls->used = stream_is_tls(imap_client_stream(client));
	tls->verified = tls->used && dom->source_tls_verify;
	/* Only credentials refused (STREAM_FAIL_AUTH: [AUTHENTICATIONFAILED],
	 * a NO without a code) are a wrong password; the response code
	 * table (resp_code(3)) makes [UNAVAILABLE], [INUSE], [LIMIT],
	 * [SERVERBUG] and the rest something else. */
	ret = imap_client_login(client, NULL, user, password, &fail, &error);
	if (ret < 0)
		*error_r = error;
	else
		(void)imap_client_run(client, "LOGOUT", NULL, &fail, &error);
	imap_client_close(&client);
	if (ret == 0)
		return AUTHHOOK_SOURCE_OK;
	return fail == STREAM_FAIL_AUTH ? AUTHHOOK_SOURCE_REFUSED :
		AUTHHOOK_SOURCE_TEMPFAIL;
}

static enum authhook_source_result
authhook_source_pop3(const struct cfg_domain *dom, const char *host, uint16_t port,
		     const char *user, const char *password, unsigned timeout_ms,
		     struct authhook_source_tls *tls, const char **error_r)
{
	struct pop3_client_settings cs = { 0 };
	struct pop3_client *client;
	enum stream_fail fail;
	const char *error;
	int ret;

	cs.host = host;
	cs.port = port;
	cs.tls = dom->source_tls;
	cs.tls_opts.verify = dom->source_tls_verify;
	cs.tls_opts.ca_file = dom->source_tls_ca_file;
	cs.tls_opts.name = host;
	cs.connect_timeout_ms = timeout_ms;
	cs.timeout_ms = timeout_ms;
	cs.max_line = AUTHHOOK_MAX_LINE;
	cs.tls_seen = tls->seen;
	cs.downgrade_r = &tls->downgrade;
	if (pop3_client_connect(&cs, &client, &fail, &error) < 0) {
		*error_r = error;
		return AUTHHOOK_SOURCE_TEMPFAIL;
	}
	tls->used = stream_is_tls(pop3_client_stream(client));
	tls->verified = tls->used && dom->source_tls_verify;
	ret = pop3_client_login(client, user, password, &fail, &error);
	if (ret < 0)
		*error_r = error;
	pop3_client_close(&client);	/* QUIT: nothing is deleted */
	if (ret == 0)
		return AUTHHOOK_SOURCE_OK;
	/* [AUTH] or no code; [IN-USE], [SYS/TEMP] wait (resp_code(3)). */
	if (fail == STREAM_FAIL_AUTH)
		return AUTHHOOK_SOURCE_REFUSED;
	return AUTHHOOK_SOURCE_TEMPFAIL;
}

enum authhook_source_result
authhook_source_check(const struct cfg_domain *dom, int imap,
		      const char *user, const char *password,
		      unsigned timeout_ms, const char **error_r)
{
	return authhook_source_check_tls(dom, imap, user, password, timeout_ms,
					 NULL, error_r);
}

enum authhook_source_result
authhook_source_check_tls(const struct cfg_domain *dom, int imap,
			  const char *user, const char *password,
			  unsigned timeout_ms, struct authhook_source_tls *tls,
			  const char **error_r)
{
	struct authhook_source_tls none = { 0, 0, 0, 0 };
	char host[256], login[CFG_LOGIN_MAX + 1];
	uint16_t port = 0;

	if (tls == NULL)
		tls = &none;
	tls->used = tls->verified = tls->downgrade = 0;

	if (dom->source_host == NULL) {
		*error_r = "no source_host for the domain";
		return AUTHHOOK_SOURCE_TEMPFAIL;
	}
	if (driver_split_host(dom->source_host, host, sizeof(host), &port) < 0) {
		*error_r = "bad source_host";
		return AUTHHOOK_SOURCE_TEMPFAIL;
	}
	/* The name OLD knows (source_login); the account stays user. */
	if (cfg_login_name(dom, user, login, sizeof(login), error_r) < 0)
		return AUTHHOOK_SOURCE_TEMPFAIL;
	*error_r = "";
	return imap ? authhook_source_imap(dom, host, port, login, password,
					   timeout_ms, tls, error_r) :
		authhook_source_pop3(dom, host, port, login, password,
				     timeout_ms, tls, error_r);
}
