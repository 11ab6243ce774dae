/*
 * NAME
 *	puller_conn 3
 * SUMMARY
 *	one account's sessions on OLD and NEW, and its events
 * DESCRIPTION
 *	puller_session_open() logs in to OLD as the domain says (the
 *	captured password, source_admin_user acting for the user as
 *	source_admin_login says, or an OAuth token from
 *	source_oauth2_token_command), with the domain's TLS memory, falling
 *	back to POP3 when OLD has no IMAP, and to NEW as its master user
 *	(target_driver = imap) or through NEW's doveadm (dovecot).
 *	The copy (puller_copy(3)) and the verification (puller_verify(3),
 *	mailmigrate verify) use the same sessions.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "crypto.h"
#include "driver.h"
#include "folder_map.h"
#include "log.h"
#include "mm_alloc.h"
#include "puller.h"
#include "token_cmd.h"

void puller_event(struct puller *p, const char *account, enum log_severity sev,
		  const char *fmt, ...)
{
	char text[STORE_MAX_EVENT_TEXT];
	const char *error;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_msg(sev, "%s: %s", account, text);
	if (store_event_add(p->store, time(NULL), sev, account, text, &error) < 0)
		log_error("%s: cannot record event: %s", account, error);
}

/* A store failure: the store is local, so retry later. */
static int conn_store_fail(enum stream_fail *fail_r, const char **error_r,
			   const char *error)
{
	return stream_failf(fail_r, STREAM_FAIL_WAIT, error_r, "store: %s", error);
}

/* The TLS memory of the account's domain for proto: when OLD first
 * completed STARTTLS there, or 0. Only source_tls = detect needs it
 * (starttls requires TLS anyway). A store failure is a retry later:
 * plaintext is not risked on a guess. */
static int conn_tls_seen(struct puller *p, struct puller_session *s, const char *proto, int64_t *since_r,
			 enum stream_fail *fail_r, const char **error_r)
{
	const char *error;
	int ret;

	*since_r = 0;
	if (s->dom->source_tls != CFG_TLS_DETECT)
		return 0;
	ret = store_tls_seen_get(p->store, s->dom->name, proto, since_r, &error);
	if (ret < 0)
		return conn_store_fail(fail_r, error_r, error);
	return 0;
}

/* After a login on OLD: remember a domain whose OLD completed
 * STARTTLS (detect or starttls), the first time. */
static void conn_tls_remember(struct puller *p, struct puller_session *s, const char *proto, int64_t since)
{
	const char *error;
	int ret;

	if (since != 0 || s->sdrv->is_tls == NULL || !s->sdrv->is_tls(s->src) ||
	    (s->dom->source_tls != CFG_TLS_DETECT &&
	     s->dom->source_tls != CFG_TLS_STARTTLS))
		return;
	ret = store_tls_seen_add(p->store, s->dom->name, proto, time(NULL), &error);
	if (ret < 0)
		log_error("%s: cannot record that OLD %s offers STARTTLS: %s",
			  s->account, s->dom->source_host, error);
	else if (ret == 0)
		puller_event(p, s->account, LOG_SEV_INFO, "OLD %s completed STARTTLS over %s: "
			   "remembered for %s; plaintext will be refused from "
			   "now on (source_tls = %s)", s->dom->source_host, proto,
			   s->dom->name, cfg_tls_name(s->dom->source_tls));
}

/* source_admin_login: "user*admin" (star; auto on POP3) or SASL PLAIN
 * with the user as authzid (authzid; auto on IMAP). */
static int conn_admin_star(const struct cfg_domain *dom, int pop3)
{
	return dom->source_admin_form == CFG_ADMIN_STAR ||
		(dom->source_admin_form == CFG_ADMIN_AUTO && pop3);
}

int puller_session_open(struct puller *p, struct puller_session *s,
			enum stream_fail *fail_r, const char **error_r)
{
	struct driver_settings sset = { 0 };
	struct driver_login slogin = { 0 };
	char *password = NULL, login[CFG_LOGIN_MAX + 1];
	const char *error;
	int64_t seen_imap = 0, seen_pop3 = 0;
	int ret, downgrade = 0;

	if ((s->dom->source_admin_user != NULL ?
	     cfg_admin_login_name(s->dom, s->account, login, sizeof(login), &error) :
	     cfg_login_name(s->dom, s->account, login, sizeof(login), &error)) < 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "%s", error);
	s->sdrv = s->dom->source_protocols == CFG_PROTO_POP3 ? &source_driver_pop3 :
		&source_driver_imap;
	if (conn_tls_seen(p, s, STORE_TLS_IMAP, &seen_imap, fail_r, error_r) < 0 ||
	    conn_tls_seen(p, s, STORE_TLS_POP3, &seen_pop3, fail_r, error_r) < 0)
		return -1;
	s->tdrv = p->cfg->target_driver == CFG_TARGET_DOVECOT ?
		&target_driver_dovecot : &target_driver_imap;
	if (s->dom->source_auth != CFG_AUTH_PASSWORD) {
		/* OAuth: a fresh token for this account; no password is
		 * read (cfg(3): no source_admin_user with OAuth). */
		if (token_cmd_run(s->dom->source_oauth2_token_command, s->account,
				  p->cfg->connect_timeout * 1000, &password,
				  fail_r, error_r) < 0)
			return -1;
		slogin.auth = s->dom->source_auth;
		slogin.oauth2_token = password;
	} else if (s->dom->source_admin_user != NULL) {
		if (crypto_read_secret(s->dom->source_admin_password_file, &password,
				       &error) < 0)
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					    "source_admin_password_file: %s", error);
		/* template: the administrator's own login name, made for
		 * this user (login); else it acts for login. */
		if (s->dom->source_admin_form != CFG_ADMIN_TEMPLATE)
			slogin.admin_user = s->dom->source_admin_user;
	} else {
		ret = store_cred_get(p->store, s->account, &password, &error);
		if (ret == STORE_NOTFOUND)
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "no captured "
					 "password for this account, and no "
					 "source_admin_user for its domain");
		if (ret < 0)
			return conn_store_fail(fail_r, error_r, error);
	}
	slogin.user = login;
	slogin.password = password;
	sset.host = s->dom->source_host;
	sset.tls = s->dom->source_tls;
	sset.tls_opts.verify = s->dom->source_tls_verify;
	sset.tls_opts.ca_file = s->dom->source_tls_ca_file;
	sset.connect_timeout_ms = p->cfg->connect_timeout * 1000;
	sset.timeout_ms = p->cfg->io_timeout * 1000;
	if (!s->dom->source_tls_verify && s->dom->source_tls != CFG_TLS_NONE)
		log_warning("%s: TLS certificate of %s not verified "
			    "(source_tls_verify = no)", s->account, s->dom->source_host);
	sset.max_message_size = p->cfg->max_message_size;
	slogin.admin_star_form = conn_admin_star(s->dom, s->sdrv == &source_driver_pop3);
	sset.tls_seen = s->sdrv == &source_driver_pop3 ? seen_pop3 : seen_imap;
	sset.downgrade_r = &downgrade;
	/* A target keeping POP3 UIDLs itself gets the bodies as they are. */
	sset.pop3_no_uidl_header = s->tdrv->append_add_keep != NULL;
	ret = s->sdrv->open(&sset, &slogin, &s->src, fail_r, error_r);
	/* A downgrade on IMAP is not "no IMAP there": no POP3 fallback,
	 * which would hand the attacker the password in its place. */
	if (ret < 0 && s->dom->source_protocols == CFG_PROTO_BOTH && !downgrade) {
		/* No IMAP there: POP3 on the same host, at its own port. */
		char saved[STREAM_ERROR_MAX], host[256];
		enum stream_fail saved_fail = *fail_r;
		uint16_t port;

		snprintf(saved, sizeof(saved), "%s", *error_r);
		if (driver_split_host(s->dom->source_host, host, sizeof(host), &port) == 0) {
			sset.host = host;
			slogin.admin_star_form = conn_admin_star(s->dom, 1);
			s->sdrv = &source_driver_pop3;
			/* IMAP is unreachable (maybe made so): a domain whose
			 * IMAP had TLS falls back to POP3 only over TLS. */
			sset.tls_seen = seen_pop3 != 0 ? seen_pop3 : seen_imap;
			ret = s->sdrv->open(&sset, &slogin, &s->src, fail_r, error_r);
			if (ret == 0)
				log_info("%s: OLD has no usable IMAP (%s); copying INBOX "
					 "over POP3", s->account, saved);
		}
		if (ret < 0 && downgrade) {
			/* POP3 was stripped too: that is the news. */
			s->sdrv = &source_driver_imap;
			mm_free_secret(&password);
			puller_event(p, s->account, LOG_SEV_ERROR, "%s", *error_r);
			return -1;
		}
		if (ret < 0) {
			s->sdrv = &source_driver_imap;
			mm_free_secret(&password);
			return stream_failf(fail_r, saved_fail, error_r, "%s", saved);
		}
	}
	mm_free_secret(&password);
	if (ret < 0 && downgrade)
		puller_event(p, s->account, LOG_SEV_ERROR, "%s", *error_r);
	if (ret < 0)
		return -1;
	if (s->sdrv == &source_driver_pop3)
		conn_tls_remember(p, s, STORE_TLS_POP3, seen_pop3);
	else
		conn_tls_remember(p, s, STORE_TLS_IMAP, seen_imap);
	return puller_target_open(p, s, &s->dst, fail_r, error_r);
}

int puller_target_open(struct puller *p, const struct puller_session *s,
		       struct driver_conn **conn_r, enum stream_fail *fail_r,
		       const char **error_r)
{
	struct driver_settings tset = { 0 };
	struct driver_login tlogin = { 0 };

	tset.host = p->cfg->target_host;
	tset.tls = p->cfg->target_tls;
	tset.tls_opts.verify = 1;
	tset.connect_timeout_ms = p->cfg->connect_timeout * 1000;
	tset.timeout_ms = p->cfg->io_timeout * 1000;
	tlogin.user = s->account;
	tlogin.admin_user = p->cfg->target_master_user;
	tlogin.admin_star_form = 1;
	tlogin.password = p->target_master_password;
	tset.doveadm = p->cfg->target_doveadm;
	tset.doveadm_config = p->cfg->target_doveadm_config;
	tset.fsync_batch = p->cfg->target_fsync == CFG_FSYNC_BATCH;
	if (s->tdrv->open(&tset, &tlogin, conn_r, fail_r, error_r) < 0) {
		const char *why = *error_r;

		return stream_failf(fail_r, *fail_r, error_r, "NEW: %s", why);
	}
	return 0;
}

/* The personal namespace prefix a folder list implies: "INBOX." when
 * every other folder sits below INBOX (Courier, Cyrus), else "". */
void puller_guess_prefix(const struct driver_folder *folders, size_t count,
			      char *prefix, size_t size)
{
	size_t below = 0, others = 0;
	char sep = '\0';

	prefix[0] = '\0';
	for (size_t i = 0; i < count; i++) {
		if (strcasecmp(folders[i].name, "INBOX") == 0)
			continue;
		others++;
		sep = folders[i].separator;
		if (sep != '\0' && strncasecmp(folders[i].name, "INBOX", 5) == 0 &&
		    folders[i].name[5] == sep)
			below++;
	}
	if (others > 0 && below == others && sep != '\0')
		snprintf(prefix, size, "INBOX%c", sep);
}

static int conn_folder_cmp(const void *a, const void *b)
{
	return strcmp(((const struct driver_folder *)a)->name,
		      ((const struct driver_folder *)b)->name);
}

/* Leave out folder i of sf[*count], counted in s->not_own. */
static void conn_drop_folder(struct puller_session *s, struct driver_folder *sf,
			     size_t *count, size_t i)
{
	if (s->not_own++ == 0)
		snprintf(s->not_own_first, sizeof(s->not_own_first), "%s", sf[i].name);
	mm_free(&sf[i].name);
	sf[i] = sf[--*count];
}

/* The public folders account (cfg_is_public_account()): the folders of
 * OLD's first shared namespace, its prefix OLD's prefix to strip, so
 * "Public.Team" is copied as the account's "Team", which NEW shows its
 * users as a public folder. The login user's own folders, other users'
 * and further shared namespaces' are left out (s->not_own counts the
 * shared ones); none at all is no error: the round copies nothing. */
static int conn_public_folders(struct puller_session *s, struct driver_folder *sf,
			       size_t ns, struct driver_folder **folders_r,
			       size_t *count_r, struct folder_map_source *msrc,
			       char *prefix, size_t size, enum stream_fail *fail_r,
			       const char **error_r)
{
	size_t plen;
	char sep = '\0';
	int ret;

	ret = s->sdrv->shared_prefix == NULL ? 0 :
		s->sdrv->shared_prefix(s->src, prefix, size, fail_r, error_r);
	if (ret < 0) {
		driver_folders_free(&sf, ns);
		return -1;
	}
	if (ret == 0)
		prefix[0] = '\0';
	plen = strlen(prefix);
	s->not_own = 0;
	s->not_own_first[0] = '\0';
	for (size_t i = 0; i < ns;) {
		/* Its namespace's, not the root ("Public" of "Public."). */
		int ours = ret > 0 && (sf[i].attrs & DRIVER_FOLDER_SHARED) != 0 &&
			strncmp(sf[i].name, prefix, plen) == 0 &&
			sf[i].name[plen] != '\0';

		if (ours) {
			sep = sf[i].separator;
			i++;
		} else if ((sf[i].attrs & DRIVER_FOLDER_SHARED) != 0 &&
			   strlen(sf[i].name) + 1 != plen) {
			conn_drop_folder(s, sf, &ns, i);
		} else {
			mm_free(&sf[i].name);
			sf[i] = sf[--ns];
		}
	}
	msrc->prefix = prefix;
	msrc->separator = sep;
	msrc->utf8 = s->sdrv->utf8_names != NULL && s->sdrv->utf8_names(s->src);
	if (ns > 0)
		qsort(sf, ns, sizeof(*sf), conn_folder_cmp);
	*folders_r = sf;
	*count_r = ns;
	return 0;
}

int puller_source_folders(struct puller_session *s, struct driver_folder **folders_r,
			  size_t *count_r, struct folder_map_source *msrc, char *prefix,
			  size_t size, enum stream_fail *fail_r, const char **error_r)
{
	struct driver_folder *sf = NULL;
	size_t ns = 0;
	int ret, inbox = 0;

	if (s->sdrv->list_folders(s->src, &sf, &ns, fail_r, error_r) < 0)
		return -1;
	/* Every mailbox has an INBOX: a session without one (an
	 * administrator logged in as itself, a login OLD maps to another
	 * mailbox) would copy nothing and call it done. */
	for (size_t i = 0; i < ns; i++)
		inbox |= strcasecmp(sf[i].name, "INBOX") == 0;
	if (!inbox) {
		driver_folders_free(&sf, ns);
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "OLD shows "
				 "no INBOX to this login (%zu other folders): "
				 "the session is not the user's mailbox, nothing "
				 "copied; check source_login and "
				 "source_admin_user", ns);
	}
	if (cfg_is_public_account(s->dom, s->account))
		return conn_public_folders(s, sf, ns, folders_r, count_r, msrc,
					   prefix, size, fail_r, error_r);
	/* Other users' and shared folders are their owners': not copied
	 * into this mailbox (once per user who can see them). */
	s->not_own = 0;
	s->not_own_first[0] = '\0';
	for (size_t i = 0; i < ns;) {
		if ((sf[i].attrs & (DRIVER_FOLDER_OTHERS | DRIVER_FOLDER_SHARED)) == 0) {
			i++;
			continue;
		}
		conn_drop_folder(s, sf, &ns, i);
	}
	/* OLD's personal prefix: what NAMESPACE says, else a guess. */
	ret = s->sdrv->namespace_prefix == NULL ? 0 :
		s->sdrv->namespace_prefix(s->src, prefix, size, fail_r, error_r);
	if (ret < 0) {
		driver_folders_free(&sf, ns);
		return -1;
	}
	if (ret == 0)
		puller_guess_prefix(sf, ns, prefix, size);
	msrc->prefix = prefix;
	msrc->separator = sf[0].separator;
	msrc->utf8 = s->sdrv->utf8_names != NULL && s->sdrv->utf8_names(s->src);
	/* Parents sort before their children. */
	qsort(sf, ns, sizeof(*sf), conn_folder_cmp);
	*folders_r = sf;
	*count_r = ns;
	return 0;
}

void puller_session_close(struct puller_session *s)
{
	if (s->src != NULL)
		s->sdrv->close(&s->src);
	if (s->dst != NULL)
		s->tdrv->close(&s->dst);
}
