/*
 * NAME
 *	cli_preflight_old 3
 * SUMMARY
 *	mailmigrate preflight: the checks on OLD
 * DESCRIPTION
 *	Per backup domain and protocol (source_protocols): OLD answers at
 *	source_host, with TLS as source_tls says (the certificate's chain,
 *	name and dates checked by OpenSSL and reported whatever the
 *	outcome), its greeting and server name (IMAP ID), and the
 *	capabilities the copy cares about. No login there.
 *
 *	Per USER: the login the puller would make (the USER's password
 *	from stdin, or the domain's administrator, or an OAuth token),
 *	then, read-only, the folders (LIST), their messages and sizes
 *	(EXAMINE and FETCH RFC822.SIZE), and POP3 STAT and LIST. The
 *	figures feed NEW's checks (cli_preflight_new(3)).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/x509.h>

#include "cli_preflight.h"
#include "crypto.h"
#include "driver.h"
#include "folder_map.h"
#include "imap_namespace.h"
#include "imap_client.h"
#include "managesieve_client.h"
#include "mm_alloc.h"
#include "pop3_client.h"
#include "puller.h"
#include "token_cmd.h"

static const struct preflight_check preflight_old_acl_check = {
	"old_acl", PREFLIGHT_USER, NULL, 1
};

/* The capabilities of OLD's IMAP the copy cares about, and what their
 * absence costs. */
static const struct {
	const char *name;
	const char *without;
} preflight_imap_caps[] = {
	{ "IDLE", NULL },
	{ "UIDPLUS", NULL },
	{ "LITERAL+", "one round trip more per folder name" },
	{ "NAMESPACE", "the folder prefix is guessed from LIST" },
	{ "UTF8=ACCEPT", "raw UTF-8 headers may be changed by OLD" },
	{ "CONDSTORE", NULL },
	{ "APPENDLIMIT", NULL },
};

/* The store's TLS memory for a detect domain: 0 when unknown. */
static int64_t preflight_tls_seen(struct preflight *pf, const struct cfg_domain *dom,
				  const char *proto)
{
	const char *error;
	int64_t since = 0;

	if (dom->source_tls != CFG_TLS_DETECT || pf->ctx->store == NULL ||
	    store_tls_seen_get(pf->ctx->store, dom->name, proto, &since, &error) != 0)
		return 0;
	return since;
}

/* The certificate OLD showed on stream, judged as the puller would
 * (source_tls_verify) and reported with its dates. */
static void preflight_old_cert(struct preflight *pf, const struct preflight_check *check,
			       const struct cfg_domain *dom, const char *proto,
			       const char *name, struct stream *stream)
{
	struct stream_tls_peer peer;
	char until[40];
	const char *hint = NULL;
	enum preflight_status status;
	int64_t days;
	int verified;

	if (stream_tls_peer(stream, &peer) < 0 || !peer.have_cert) {
		preflight_report(pf, check, dom, PREFLIGHT_FAILED,
				 "give OLD a certificate", "%s: TLS without a "
				 "certificate", proto);
		return;
	}
	days = preflight_cert_days(peer.not_after, (int64_t)time(NULL));
	verified = peer.verify_result == X509_V_OK;
	status = preflight_cert_status(days, verified, dom->source_tls_verify);
	preflight_time(peer.not_after, until, sizeof(until));
	if (days < 0)
		hint = dom->source_tls_verify ?
			"renew OLD's certificate (or set source_tls_verify = no "
			"until it is renewed)" : "renew OLD's certificate";
	else if (!verified)
		hint = "give OLD a certificate for source_host's name from a CA "
			"in the system store, or set source_tls_ca_file";
	else if (status == PREFLIGHT_WARNING)
		hint = "renew OLD's certificate before it expires";
	preflight_value_str(pf, "protocol", proto);
	preflight_value_i64(pf, "days_left", days);
	preflight_value_str(pf, "not_after", until);
	preflight_value_str(pf, "verify", verified ? "ok" : peer.verify_error);
	preflight_value_str(pf, "subject", peer.subject);
	if (days < 0)
		preflight_report(pf, check, dom, status, hint, "%s: certificate %s "
				 "expired %lld days ago (%s); chain and name for %s: %s%s",
				 proto, peer.subject,
				 (long long)(((int64_t)time(NULL) - peer.not_after) / 86400),
				 until, name,
				 verified ? "ok" : peer.verify_error,
				 dom->source_tls_verify ? "; the puller and the auth "
				 "module refuse it" : "");
	else
		preflight_report(pf, check, dom, status, hint, "%s: certificate %s, "
				 "issuer %s, valid until %s (%lld days); chain and "
				 "name for %s: %s%s", proto, peer.subject, peer.issuer,
				 until, (long long)days, name,
				 verified ? "ok" : peer.verify_error,
				 !verified && dom->source_tls_verify ? "; the puller "
				 "and the auth module refuse it" : "");
}

/* A connection's TLS line: the certificate, or what plaintext means. */
static void preflight_old_tls(struct preflight *pf, const struct preflight_check *check,
			      const struct cfg_domain *dom, const char *proto,
			      const char *name, struct stream *stream)
{
	if (stream_is_tls(stream)) {
		preflight_old_cert(pf, check, dom, proto, name, stream);
		return;
	}
	/* source_tls = none was reported by the source_tls check. */
	if (dom->source_tls != CFG_TLS_NONE)
		preflight_report(pf, check, dom, PREFLIGHT_WARNING,
				 "offer STARTTLS on OLD, or set source_tls = direct "
				 "if it has implicit TLS",
				 "%s: OLD offers no STARTTLS: logins go in clear", proto);
}

/* "name version" from an untagged ID response. */
struct preflight_id {
	char name[128];
};

static int preflight_id_untagged(struct imap_client *client, const struct imap_arg *args,
				 size_t count, void *context, enum stream_fail *fail_r,
				 const char **error_r)
{
	struct preflight_id *id = context;
	const char *name = NULL, *version = NULL;

	(void)client;
	(void)fail_r;
	(void)error_r;
	if (count < 2 || !imap_arg_is_atom(&args[0], "ID") || args[1].type != IMAP_ARG_LIST)
		return 0;
	for (size_t i = 0; i + 1 < args[1].count; i += 2) {
		const char *key = imap_arg_get_astring(&args[1].list[i]);
		const char *value = imap_arg_get_astring(&args[1].list[i + 1]);

		if (key == NULL || value == NULL)
			continue;
		if (strcasecmp(key, "name") == 0)
			name = value;
		else if (strcasecmp(key, "version") == 0)
			version = value;
	}
	if (name != NULL)
		snprintf(id->name, sizeof(id->name), "%.60s%s%.60s", name,
			 version != NULL ? " " : "", version != NULL ? version : "");
	return 0;
}

/* The settings for OLD's proto from dom. */
static void preflight_old_tls_opts(const struct cfg_domain *dom, const char *host,
				   struct stream_tls *tls)
{
	/* inspect: the handshake completes so the certificate can be
	 * reported; no password is sent on these connections. */
	tls->verify = 0;
	tls->inspect = 1;
	tls->ca_file = dom->source_tls_ca_file;
	tls->name = host;
}

void preflight_old_imap(struct preflight *pf, const struct preflight_check *check,
			const struct cfg_domain *dom, struct preflight_user *user)
{
	const struct cfg *cfg = pf->ctx->cfg;
	struct imap_client_settings set = { 0 };
	struct imap_client *client = NULL;
	struct preflight_id id = { "" };
	enum stream_fail fail;
	const char *error;
	char host[256], has[256] = "", lacks[256] = "";
	uint16_t port;

	(void)user;
	if (dom->type != CFG_DOMAIN_BACKUP || dom->source_protocols == CFG_PROTO_POP3)
		return;
	if (driver_split_host(dom->source_host, host, sizeof(host), &port) < 0) {
		preflight_report(pf, check, dom, PREFLIGHT_FAILED, "fix source_host",
				 "imap: bad source_host '%s'", dom->source_host);
		return;
	}
	set.host = host;
	set.port = port != 0 ? port : dom->source_tls == CFG_TLS_DIRECT ? 993 : 143;
	set.tls = dom->source_tls;
	preflight_old_tls_opts(dom, host, &set.tls_opts);
	set.connect_timeout_ms = cfg->connect_timeout * 1000;
	set.timeout_ms = cfg->io_timeout * 1000;
	set.tls_seen = preflight_tls_seen(pf, dom, STORE_TLS_IMAP);
	preflight_value_str(pf, "protocol", "imap");
	preflight_value_str(pf, "host", host);
	preflight_value_u64(pf, "port", set.port);
	if (imap_client_connect(&set, &client, &fail, &error) < 0) {
		preflight_report(pf, check, dom, PREFLIGHT_FAILED,
				 "start OLD's IMAP service, or fix source_host, "
				 "source_protocols or the firewall",
				 "imap %s:%u: %s", host, set.port, error);
		return;
	}
	if ((imap_client_caps(client) & IMAP_CAP_ID) != 0) {
		const struct imap_cmd_handlers h = { preflight_id_untagged, NULL, &id };

		/* The server's own name; a refusal only leaves it unknown. */
		(void)imap_client_run(client, "ID NIL", &h, &fail, &error);
	}
	preflight_value_str(pf, "greeting", imap_client_greeting(client));
	preflight_value_str(pf, "server", id.name[0] != '\0' ? id.name : NULL);
	preflight_value_str(pf, "tls", stream_tls_description(imap_client_stream(client)));
	preflight_report(pf, check, dom, PREFLIGHT_OK, NULL,
			 "imap %s:%u answers (%s): \"%s\"%s%s", host, set.port,
			 stream_tls_description(imap_client_stream(client)),
			 imap_client_greeting(client), id.name[0] != '\0' ?
			 "; server " : "", id.name);
	preflight_old_tls(pf, check, dom, "imap", host, imap_client_stream(client));
	for (size_t i = 0; i < sizeof(preflight_imap_caps) / sizeof(preflight_imap_caps[0]); i++) {
		char *list = imap_client_has_cap(client, preflight_imap_caps[i].name) ?
			has : lacks;

		snprintf(list + strlen(list), 256 - strlen(list), "%s%s",
			 list[0] != '\0' ? " " : "", preflight_imap_caps[i].name);
	}
	preflight_value_str(pf, "capabilities", imap_client_capability(client));
	preflight_report(pf, check, dom, PREFLIGHT_OK, NULL,
			 "imap capabilities before login: %s%s%s (after login a "
			 "server may list more: give a USER to see them)",
			 has[0] != '\0' ? has : "none that matter",
			 lacks[0] != '\0' ? "; not listed: " : "", lacks);
	imap_client_close(&client);
}

void preflight_old_pop3(struct preflight *pf, const struct preflight_check *check,
			const struct cfg_domain *dom, struct preflight_user *user)
{
	const struct cfg *cfg = pf->ctx->cfg;
	struct pop3_client_settings set = { 0 };
	struct pop3_client *client = NULL;
	enum stream_fail fail;
	const char *error, *capa;
	char host[256], padded[600];
	uint16_t port;
	int uidl, utf8;

	(void)user;
	if (dom->type != CFG_DOMAIN_BACKUP || dom->source_protocols == CFG_PROTO_IMAP)
		return;
	if (driver_split_host(dom->source_host, host, sizeof(host), &port) < 0) {
		preflight_report(pf, check, dom, PREFLIGHT_FAILED, "fix source_host",
				 "pop3: bad source_host '%s'", dom->source_host);
		return;
	}
	/* source_host's port is IMAP's when both are used (puller_conn). */
	if (dom->source_protocols != CFG_PROTO_POP3)
		port = 0;
	set.host = host;
	set.port = port != 0 ? port : dom->source_tls == CFG_TLS_DIRECT ? 995 : 110;
	set.tls = dom->source_tls;
	preflight_old_tls_opts(dom, host, &set.tls_opts);
	set.connect_timeout_ms = cfg->connect_timeout * 1000;
	set.timeout_ms = cfg->io_timeout * 1000;
	set.tls_seen = preflight_tls_seen(pf, dom, STORE_TLS_POP3);
	preflight_value_str(pf, "protocol", "pop3");
	preflight_value_str(pf, "host", host);
	preflight_value_u64(pf, "port", set.port);
	if (pop3_client_connect(&set, &client, &fail, &error) < 0) {
		preflight_report(pf, check, dom, PREFLIGHT_FAILED,
				 "start OLD's POP3 service, or fix source_host, "
				 "source_protocols or the firewall",
				 "pop3 %s:%u: %s", host, set.port, error);
		return;
	}
	preflight_value_str(pf, "greeting", pop3_client_greeting(client));
	preflight_value_str(pf, "tls", stream_tls_description(pop3_client_stream(client)));
	preflight_report(pf, check, dom, PREFLIGHT_OK, NULL, "pop3 %s:%u answers (%s): \"%s\"",
			 host, set.port, stream_tls_description(pop3_client_stream(client)),
			 pop3_client_greeting(client));
	preflight_old_tls(pf, check, dom, "pop3", host, pop3_client_stream(client));
	capa = pop3_client_capa(client);
	snprintf(padded, sizeof(padded), " %s ", capa);
	for (char *p = padded; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	uidl = pop3_client_has_uidl(client);
	utf8 = strstr(padded, " UTF8 ") != NULL;
	preflight_value_str(pf, "capabilities", capa);
	preflight_report(pf, check, dom, uidl ? PREFLIGHT_OK : PREFLIGHT_WARNING,
			 uidl ? NULL : "copy over IMAP (source_protocols = imap) if "
			 "OLD has it",
			 "pop3 capabilities: UIDL %s, UTF8 %s%s", uidl ? "yes" : "no",
			 utf8 ? "yes" : "no", uidl ? "" : ": without UIDL the puller "
			 "cannot tell messages apart between rounds");
	pop3_client_close(&client);
}

/* migrate_sieve: OLD's ManageSieve answers on source_sieve_port (its
 * greeting, TLS and Sieve extensions). Nothing there is a warning: the
 * puller then copies no scripts and says so in an event. */
/* Is word (len bytes) one of list's space-separated words (any case)? */
static int preflight_word_in(const char *list, const char *word, size_t len)
{
	for (const char *p = list; *p != '\0';) {
		size_t n = strcspn(p, " ");

		if (n == len && strncasecmp(p, word, len) == 0)
			return 1;
		p += n;
		p += strspn(p, " ");
	}
	return 0;
}

/* The Sieve extensions of OLD's (old_ext) that NEW's ManageSieve does
 * not list, space-separated, into buf; "" when NEW lists them all or
 * does not answer (the new_sieve check says why). */
static void preflight_sieve_lacking(struct preflight *pf, const char *old_ext,
				    char *buf, size_t size)
{
	struct managesieve_client *client = NULL;
	enum stream_fail fail;
	const char *error, *new_ext;
	char host[256];
	uint16_t port;
	size_t n = 0;

	buf[0] = '\0';
	if (puller_sieve_connect_new(pf->ctx->cfg, &client, host, sizeof(host), &port,
				     &fail, &error) < 0)
		return;
	new_ext = managesieve_extensions(client);
	for (const char *p = old_ext + strspn(old_ext, " "); *p != '\0';) {
		size_t len = strcspn(p, " ");

		if (!preflight_word_in(new_ext, p, len) && n + len + 2 < size)
			n += (size_t)snprintf(buf + n, size - n, "%s%.*s", n > 0 ? " " : "",
					      (int)len, p);
		p += len;
		p += strspn(p, " ");
	}
	managesieve_close(&client);
}

void preflight_old_sieve(struct preflight *pf, const struct preflight_check *check,
			 const struct cfg_domain *dom, struct preflight_user *user)
{
	char lacking[512];
	const struct cfg *cfg = pf->ctx->cfg;
	struct managesieve_settings set = { 0 };
	struct managesieve_client *client = NULL;
	enum stream_fail fail;
	const char *error;
	char host[256];
	uint16_t port;
	int ret;

	(void)user;
	if (dom->type != CFG_DOMAIN_BACKUP || !dom->migrate_sieve)
		return;
	if (driver_split_host(dom->source_host, host, sizeof(host), &port) < 0) {
		preflight_report(pf, check, dom, PREFLIGHT_FAILED, "fix source_host",
				 "sieve: bad source_host '%s'", dom->source_host);
		return;
	}
	set.host = host;
	set.port = (uint16_t)dom->source_sieve_port;
	set.tls = dom->source_tls;
	preflight_old_tls_opts(dom, host, &set.tls_opts);
	set.connect_timeout_ms = cfg->connect_timeout * 1000;
	set.timeout_ms = cfg->io_timeout * 1000;
	preflight_value_str(pf, "protocol", "managesieve");
	preflight_value_str(pf, "host", host);
	preflight_value_u64(pf, "port", set.port);
	ret = managesieve_connect(&set, &client, &fail, &error);
	if (ret != 0) {
		enum stream_fail policy = stream_fail_policy(fail);
		int soft = ret == MANAGESIEVE_ABSENT || policy == STREAM_FAIL_WAIT ||
			policy == STREAM_FAIL_TEMP;

		preflight_report(pf, check, dom, soft ? PREFLIGHT_WARNING :
				 PREFLIGHT_FAILED,
				 "start OLD's ManageSieve, fix source_sieve_port, or "
				 "set migrate_sieve = no",
				 "sieve %s:%u: %s%s", host, set.port, error,
				 ret == MANAGESIEVE_ABSENT ? " (no ManageSieve there: no "
				 "Sieve scripts would be copied)" : soft ? " (not "
				 "reachable now: each round would try again)" : "");
		return;
	}
	preflight_value_str(pf, "server", managesieve_implementation(client));
	preflight_value_str(pf, "extensions", managesieve_extensions(client));
	preflight_sieve_lacking(pf, managesieve_extensions(client), lacking,
				sizeof(lacking));
	if (lacking[0] != '\0')
		preflight_value_str(pf, "new_lacks", lacking);
	preflight_report(pf, check, dom, lacking[0] != '\0' ? PREFLIGHT_WARNING :
			 PREFLIGHT_OK, lacking[0] != '\0' ? "add them to NEW's "
			 "sieve_extensions (Pigeonhole), or expect the scripts that "
			 "use them as failed items" : NULL,
			 "sieve %s:%u answers (%s): \"%s\"; extensions: %s%s%s", host,
			 set.port, managesieve_is_tls(client) ? "TLS" : "plain",
			 managesieve_implementation(client),
			 managesieve_extensions(client), lacking[0] != '\0' ?
			 "; NEW's ManageSieve lacks: " : "", lacking);
	managesieve_close(&client);
}

/* The login the puller would make for u on OLD over drv. */
static int preflight_old_login(struct preflight *pf, const struct preflight_user *u,
			       const struct source_driver *drv, struct driver_conn **conn_r,
			       char *login_name, size_t size, enum stream_fail *fail_r,
			       const char **error_r)
{
	const struct cfg *cfg = pf->ctx->cfg;
	const struct cfg_domain *dom = u->dom;
	struct driver_settings set = { 0 };
	struct driver_login login = { 0 };
	char *secret = NULL;
	const char *error;
	int pop3 = drv == &source_driver_pop3, ret;
	uint16_t port;
	char host[256];

	if ((dom->source_admin_user != NULL ?
	     cfg_admin_login_name(dom, u->account, login_name, size, &error) :
	     cfg_login_name(dom, u->account, login_name, size, &error)) < 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "%s", error);
	if (dom->source_auth != CFG_AUTH_PASSWORD) {
		if (token_cmd_run(dom->source_oauth2_token_command, u->account,
				  cfg->connect_timeout * 1000, &secret, fail_r, error_r) < 0)
			return -1;
		login.auth = dom->source_auth;
		login.oauth2_token = secret;
	} else if (dom->source_admin_user != NULL) {
		if (crypto_read_secret(dom->source_admin_password_file, &secret, &error) < 0)
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					    "source_admin_password_file: %s", error);
		if (dom->source_admin_form != CFG_ADMIN_TEMPLATE)
			login.admin_user = dom->source_admin_user;
	}
	login.user = login_name;
	login.password = secret != NULL ? secret : u->password;
	login.admin_star_form = dom->source_admin_form == CFG_ADMIN_STAR ||
		(dom->source_admin_form == CFG_ADMIN_AUTO && pop3);
	set.host = dom->source_host;
	/* POP3 next to IMAP: source_host's port is IMAP's. */
	if (pop3 && dom->source_protocols == CFG_PROTO_BOTH &&
	    driver_split_host(dom->source_host, host, sizeof(host), &port) == 0)
		set.host = host;
	set.tls = dom->source_tls;
	set.tls_opts.verify = dom->source_tls_verify;
	set.tls_opts.ca_file = dom->source_tls_ca_file;
	set.connect_timeout_ms = cfg->connect_timeout * 1000;
	set.timeout_ms = cfg->io_timeout * 1000;
	set.max_message_size = cfg->max_message_size;
	set.tls_seen = preflight_tls_seen(pf, dom, pop3 ? STORE_TLS_POP3 : STORE_TLS_IMAP);
	ret = drv->open(&set, &login, conn_r, fail_r, error_r);
	mm_free_secret(&secret);
	return ret;
}

/* The mailbox's figures, for list_messages(). */
struct preflight_tally {
	uint64_t messages, bytes, largest;
};

static int preflight_tally_message(const struct driver_message *msg, void *context)
{
	struct preflight_tally *t = context;

	t->messages++;
	t->bytes += msg->size;
	if (msg->size > t->largest)
		t->largest = msg->size;
	return 0;
}

/* Every selectable folder of u's mailbox on conn, read-only: the
 * folders a round copies (puller_source_folders(): the user's own, or
 * for the public folders account OLD's public ones under the shared
 * prefix, into prefix[size]; *not_own_r those left out). */
static int preflight_old_measure(struct preflight_user *u, struct driver_conn *conn,
				 char *prefix, size_t size, size_t *not_own_r,
				 enum stream_fail *fail_r, const char **error_r)
{
	const struct source_driver *drv = &source_driver_imap;
	struct puller_session s = { .dom = u->dom, .account = u->account, .sdrv = drv,
				    .src = conn };
	struct folder_map_source msrc = { 0 };
	struct driver_folder *folders = NULL;
	struct preflight_tally t = { 0 };
	size_t count = 0;
	int ret = 0;

	if (puller_source_folders(&s, &folders, &count, &msrc, prefix, size, fail_r,
				  error_r) < 0)
		return -1;
	*not_own_r = s.not_own;
	u->folders = 0;
	for (size_t i = 0; ret == 0 && i < count; i++) {
		struct driver_folder_status st;

		if ((folders[i].attrs & DRIVER_FOLDER_NOSELECT) != 0)
			continue;
		u->folders++;
		/* EXAMINE: nothing changes on OLD, not even \Recent. */
		ret = drv->select(conn, folders[i].name, &st, fail_r, error_r);
		if (ret == 0 && st.exists > 0)
			ret = drv->list_messages(conn, 1, 0, preflight_tally_message, &t,
						 fail_r, error_r);
	}
	driver_folders_free(&folders, count);
	u->messages = t.messages;
	u->bytes = t.bytes;
	u->largest = t.largest;
	return ret;
}

/* POP3 STAT, and LIST for the largest message. */
static int preflight_pop3_list(uint32_t msgnum, uint64_t size, void *context)
{
	struct preflight_tally *t = context;

	(void)msgnum;
	t->messages++;
	t->bytes += size;
	if (size > t->largest)
		t->largest = size;
	return 0;
}

/* Log in on POP3 and take STAT (and LIST); with measure, the figures
 * become u's (a POP3-only domain). */
static void preflight_old_user_pop3(struct preflight *pf, const struct preflight_check *check,
				    struct preflight_user *u, int measure)
{
	struct driver_conn *conn = NULL;
	struct preflight_tally t = { 0 };
	struct pop3_client *client;
	enum stream_fail fail;
	const char *error;
	char login[CFG_LOGIN_MAX + 1], size[32], large[32];
	uint64_t count, bytes;

	preflight_value_str(pf, "protocol", "pop3");
	if (preflight_old_login(pf, u, &source_driver_pop3, &conn, login, sizeof(login),
				&fail, &error) < 0) {
		preflight_report(pf, check, u->dom, PREFLIGHT_FAILED,
				 fail == STREAM_FAIL_AUTH ? "check the user name and "
				 "password on OLD (and source_login)" : NULL,
				 "pop3 login as %s on OLD: %s", login, error);
		return;
	}
	client = pop3_driver_client(conn);
	if (pop3_client_stat(client, &count, &bytes, &fail, &error) < 0 ||
	    pop3_client_list(client, preflight_pop3_list, &t, &fail, &error) < 0) {
		preflight_report(pf, check, u->dom, PREFLIGHT_FAILED, NULL,
				 "pop3 as %s: %s", login, error);
		source_driver_pop3.close(&conn);
		return;
	}
	source_driver_pop3.close(&conn);
	if (measure) {
		u->measured = 1;
		u->folders = 1;
		u->messages = count;
		u->bytes = bytes;
		u->largest = t.largest;
	}
	preflight_value_u64(pf, "messages", count);
	preflight_value_u64(pf, "bytes", bytes);
	preflight_value_u64(pf, "largest", t.largest);
	preflight_report(pf, check, u->dom, PREFLIGHT_OK, NULL,
			 "pop3 login as %s ok; STAT: %llu messages, %s (largest %s)",
			 login, (unsigned long long)count,
			 cli_size_human(bytes, size, sizeof(size)),
			 cli_size_human(t.largest, large, sizeof(large)));
}

void preflight_old_user(struct preflight *pf, const struct preflight_check *check,
			const struct cfg_domain *dom, struct preflight_user *u)
{
	struct driver_conn *conn = NULL;
	struct imap_client *client;
	enum stream_fail fail;
	const char *error;
	char login[CFG_LOGIN_MAX + 1] = "", size[32], large[32];
	char has[256] = "", lacks[256] = "", prefix[IMAP_NAMESPACE_PREFIX_MAX] = "";
	char whose[IMAP_NAMESPACE_PREFIX_MAX + 128];
	size_t not_own = 0;

	if (u->error != NULL) {
		preflight_report(pf, check, dom, PREFLIGHT_FAILED,
				 "give USER@DOMAIN of a configured [domain]", "%s",
				 u->error);
		return;
	}
	if (dom->type != CFG_DOMAIN_BACKUP) {
		preflight_report(pf, check, dom, PREFLIGHT_WARNING, NULL,
				 "domain %s is standard: OLD is not asked", dom->name);
		return;
	}
	if (dom->source_protocols == CFG_PROTO_POP3) {
		preflight_old_user_pop3(pf, check, u, 1);
		return;
	}
	preflight_value_str(pf, "protocol", "imap");
	if (preflight_old_login(pf, u, &source_driver_imap, &conn, login, sizeof(login),
				&fail, &error) < 0) {
		preflight_report(pf, check, dom, PREFLIGHT_FAILED,
				 fail == STREAM_FAIL_AUTH ? "check the user name and "
				 "password on OLD (and source_login)" : NULL,
				 "imap login as %s on OLD: %s", login[0] != '\0' ?
				 login : u->account, error);
		return;
	}
	if (preflight_old_measure(u, conn, prefix, sizeof(prefix), &not_own, &fail,
				  &error) < 0) {
		preflight_report(pf, check, dom, PREFLIGHT_FAILED, NULL,
				 "imap as %s: %s", login, error);
		source_driver_imap.close(&conn);
		return;
	}
	u->measured = 1;
	client = imap_driver_client(conn);
	for (size_t i = 0; i < sizeof(preflight_imap_caps) / sizeof(preflight_imap_caps[0]); i++) {
		char *list = imap_client_has_cap(client, preflight_imap_caps[i].name) ?
			has : lacks;

		snprintf(list + strlen(list), 256 - strlen(list), "%s%s",
			 list[0] != '\0' ? " " : "", preflight_imap_caps[i].name);
	}
	preflight_value_u64(pf, "folders", u->folders);
	preflight_value_u64(pf, "messages", u->messages);
	preflight_value_u64(pf, "bytes", u->bytes);
	preflight_value_u64(pf, "largest", u->largest);
	preflight_value_str(pf, "capabilities", imap_client_capability(client));
	/* Whose folders were counted. */
	if (cfg_is_public_account(dom, u->account))
		snprintf(whose, sizeof(whose), " (public_folders_account: OLD's "
			 "shared namespace \"%s\"; %zu in further shared namespaces "
			 "not copied)", prefix, not_own);
	else if (not_own > 0)
		snprintf(whose, sizeof(whose), " (the user's own; %zu of other "
			 "users' or shared namespaces not copied)", not_own);
	else
		whose[0] = '\0';
	preflight_value_u64(pf, "not_own_folders", not_own);
	preflight_report(pf, check, dom, PREFLIGHT_OK, NULL,
			 "imap login as %s ok; %llu folders%s, %llu messages, %s "
			 "(largest %s); capabilities: %s%s%s", login,
			 (unsigned long long)u->folders, whose,
			 (unsigned long long)u->messages,
			 cli_size_human(u->bytes, size, sizeof(size)),
			 cli_size_human(u->largest, large, sizeof(large)),
			 has[0] != '\0' ? has : "none that matter",
			 lacks[0] != '\0' ? "; not listed: " : "", lacks);
	/* migrate_shared reads each folder's ACL in the user's session. */
	if (dom->migrate_shared)
		preflight_report(pf, &preflight_old_acl_check, dom,
				 imap_client_has_cap(client, "ACL") ? PREFLIGHT_OK :
				 PREFLIGHT_WARNING, imap_client_has_cap(client, "ACL") ?
				 NULL : "set migrate_shared = no, or give OLD the ACL "
				 "extension", "migrate_shared: OLD %s ACL (RFC 4314) after "
				 "login as %s%s", imap_client_has_cap(client, "ACL") ?
				 "lists" : "does not list", login,
				 imap_client_has_cap(client, "ACL") ? "" : ": no rights "
				 "would be copied");
	source_driver_imap.close(&conn);
	if (dom->source_protocols == CFG_PROTO_BOTH)
		preflight_old_user_pop3(pf, check, u, 0);
}
