/*
 * NAME
 *	authhook 3
 * SUMMARY
 *	the login flow of the auth-hook (see authhook.h)
 * DESCRIPTION
 *	One struct authhook per auth-worker process: the configuration,
 *	the store (opened read-write through the store's group) and
 *	public_key_file (seals, and keys the failed-login cache; opens
 *	nothing). Every answer is built from the store as it is at that
 *	moment, so many workers answer consistently: the store's
 *	transactions decide races (100 parallel first logins create one
 *	account and one job; the others find it).
 *
 *	Errors are set in error(3h)'s ring, which is per process and not
 *	locked. That is safe here: Dovecot's auth and auth-worker
 *	processes are single-threaded (one ioloop; a blocking passdb runs
 *	in a worker process, never in a thread), so no two logins format
 *	an error at the same time in one process.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "authhook.h"
#include "crypto.h"
#include "driver.h"
#include "error.h"
#include "mm_alloc.h"

struct authhook {
	struct cfg *cfg;
	struct store *store;
	struct crypto_key key;
	time_t fixed_now;
};

static authhook_log_fn *authhook_logger;
static void *authhook_logger_ctx;

void authhook_set_logger(authhook_log_fn *fn, void *ctx)
{
	authhook_logger = fn;
	authhook_logger_ctx = ctx;
}

void authhook_log(enum log_severity sev, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (authhook_logger != NULL)
		authhook_logger(sev, text, authhook_logger_ctx);
	else
		log_msg(sev, "%s", text);
}

static time_t authhook_now(const struct authhook *hook)
{
	return hook->fixed_now != 0 ? hook->fixed_now : time(NULL);
}

void authhook_set_now(struct authhook *hook, time_t now)
{
	hook->fixed_now = now;
}

const struct cfg *authhook_cfg(const struct authhook *hook)
{
	return hook->cfg;
}

/* public_key_file could not be read (error): on an install upgraded
 * from a release without it, whose key_file is still the old 32-byte
 * one, work as that release did (seal with key_file) and say loudly
 * what to do, rather than refuse every login. Anything else fails. */
static int authhook_key_not_upgraded(struct authhook *hook, const char *error,
				     const char **error_r)
{
	const char *pub = hook->cfg->public_key_file, *error2;
	struct stat st;

	if (stat(pub, &st) == 0 || errno != ENOENT) {
		*error_r = error;
		return -1;
	}
	if (crypto_key_load_legacy(hook->cfg->key_file, &hook->key, &error2) < 0)
		return error_failf(error_r, "%s (and key_file: %s)", error, error2);
	authhook_log(LOG_SEV_WARNING, "public_key_file %s does not exist: sealing "
		     "captured passwords with key_file %s as before, which lets "
		     "group %s open them all; run `mailmigrate init` to add the "
		     "key pair, give the auth workers only %s, and make key_file "
		     "0600", pub, hook->cfg->key_file, "dovecot", pub);
	return 0;
}

/* The store, opened now if it could not be before: 0, or -1 (logged;
 * the caller answers a temporary failure). */
static int authhook_store(struct authhook *hook)
{
	const char *error;

	if (hook->store != NULL)
		return 0;
	if (store_open_cfg(hook->cfg, NULL, &hook->store, &error) < 0) {
		authhook_log(LOG_SEV_ERROR, "%s", error);
		return -1;
	}
	store_set_key(hook->store, &hook->key);
	authhook_log(LOG_SEV_INFO, "store %s open", hook->cfg->store);
	return 0;
}

int authhook_init(const char *path, struct authhook **hook_r,
		  const char **error_r)
{
	struct store_options opts = { 0 };
	struct authhook *hook;
	const char *error;

	hook = mm_calloc(1, sizeof(*hook));
	if (cfg_load(cfg_path(path), &hook->cfg, error_r) < 0)
		goto fail;
	/* The public key only: the workers seal what they capture but
	 * can open nothing (key_file stays the puller's). */
	if (crypto_public_load(hook->cfg->public_key_file, &hook->key, &error) < 0 &&
	    authhook_key_not_upgraded(hook, error, error_r) < 0)
		goto fail;
	if (store_open_cfg(hook->cfg, &opts, &hook->store, &error) < 0) {
		/* A database that is down or in recovery as Dovecot starts:
		 * every login is a temporary failure until it opens
		 * (authhook_store()). An LMDB store that does not open is
		 * a configuration error. */
		if (strncmp(hook->cfg->store, "postgresql:", 11) != 0) {
			*error_r = error;
			goto fail;
		}
		authhook_log(LOG_SEV_ERROR, "%s; logins of users to migrate "
			     "fail temporarily until it opens", error);
	} else {
		store_set_key(hook->store, &hook->key);
	}
	*hook_r = hook;
	return 0;
fail:
	/* *error_r (error(3h)) outlives the clean-up, which sets none. */
	authhook_deinit(&hook);
	return -1;
}

void authhook_deinit(struct authhook **hookp)
{
	struct authhook *hook = *hookp;

	if (hook == NULL)
		return;
	store_close(&hook->store);
	cfg_free(&hook->cfg);
	crypto_key_wipe(&hook->key);
	mm_free(hookp);
}

/* --- replies ---------------------------------------------------------- */

void authhook_reply_add(struct authhook_reply *reply, const char *name,
			const char *value)
{
	for (size_t i = 0; i < reply->count; i++) {
		if (strcmp(reply->names[i], name) == 0) {
			mm_free_secret(&reply->values[i]);
			reply->values[i] = mm_strdup(value);
			return;
		}
	}
	if (reply->count >= AUTHHOOK_MAX_FIELDS)
		log_panic("authhook: more than %d reply fields", AUTHHOOK_MAX_FIELDS);
	reply->names[reply->count] = name;
	reply->values[reply->count] = mm_strdup(value);
	reply->count++;
}

const char *authhook_reply_get(const struct authhook_reply *reply,
			       const char *name)
{
	for (size_t i = 0; i < reply->count; i++)
		if (strcmp(reply->names[i], name) == 0)
			return reply->values[i];
	return NULL;
}

void authhook_reply_free(struct authhook_reply *reply)
{
	for (size_t i = 0; i < reply->count; i++)
		mm_free_secret(&reply->values[i]);	/* "pass" is one */
	mm_free(&reply->account);
	memset(reply, 0, sizeof(*reply));
}

/* --- the account a login names ---------------------------------------- */

/* The account and its domain section for req: 0, or -1 when the login
 * is not for one of our domains (or not an address we can store). */
static int authhook_account(struct authhook *hook,
			    const struct authhook_request *req,
			    char account[STORE_MAX_ACCOUNT],
			    const struct cfg_domain **dom_r)
{
	const struct cfg_domain *dom = NULL;
	const char *domain = NULL, *error;

	if (strchr(req->user, '@') == NULL) {
		if (req->local_ip != NULL && req->local_ip[0] != '\0' &&
		    (dom = cfg_domain_by_ip(hook->cfg, req->local_ip)) != NULL)
			domain = dom->name;
		else
			domain = hook->cfg->default_domain;
		if (domain == NULL)
			return -1;
	}
	if (store_account_name(req->user, domain, account, STORE_MAX_ACCOUNT,
			       &error) < 0)
		return -1;
	*dom_r = cfg_domain_find(hook->cfg, strchr(account, '@') + 1);
	return *dom_r != NULL ? 0 : -1;
}

/* --- checks on OLD --------------------------------------------------- */

/* The keyed hash standing for a failed account+password pair. */
static int authhook_fail_mac(struct authhook *hook, const char *account,
			     const char *password, unsigned char mac[CRYPTO_MAC_LEN])
{
	size_t alen = strlen(account), plen = strlen(password);
	char *buf = mm_malloc(alen + 1 + plen);
	const char *error;
	int ret;

	memcpy(buf, account, alen);
	buf[alen] = '\0';
	memcpy(buf + alen + 1, password, plen);
	ret = crypto_mac(&hook->key, "mailmigrate auth-hook failed login",
			 buf, alen + 1 + plen, mac, &error);
	mm_wipe(buf, alen + 1 + plen);
	mm_free(&buf);
	if (ret < 0)
		authhook_log(LOG_SEV_ERROR, "%s: %s", account, error);
	return ret;
}

/* Should the login be checked over IMAP (1) or POP3 (0)? */
static int authhook_use_imap(const struct cfg_domain *dom, const char *service)
{
	if (dom->source_protocols == CFG_PROTO_IMAP)
		return 1;
	if (dom->source_protocols == CFG_PROTO_POP3)
		return 0;
	return service == NULL || strcmp(service, "pop3") != 0;
}

/* The TLS memory for the check about to be made: when OLD of dom first
 * completed STARTTLS over proto, or 0 (also when source_tls is not
 * detect: the other modes need no memory). -1 on a store error. */
static int authhook_tls_seen(struct authhook *hook, const struct cfg_domain *dom,
			     const char *proto, const char *account,
			     int64_t *since_r)
{
	const char *error;

	*since_r = 0;
	if (dom->source_tls != CFG_TLS_DETECT)
		return 0;
	if (store_tls_seen_get(hook->store, dom->name, proto, since_r, &error) < 0) {
		authhook_log(LOG_SEV_ERROR, "%s: %s", account, error);
		return -1;
	}
	return 0;
}

/* After a check on OLD: remember that it completed STARTTLS (detect
 * or starttls), or report a downgrade. */
static void authhook_tls_learn(struct authhook *hook, const struct cfg_domain *dom,
			       const char *proto, const char *account,
			       const struct authhook_source_tls *tls,
			       const char *check_error)
{
	const char *error;
	char text[STORE_MAX_EVENT_TEXT];
	int ret;

	if (tls->downgrade) {
		snprintf(text, sizeof(text), "login refused for now: %.900s", check_error);
		authhook_log(LOG_SEV_ERROR, "%s: %s", account, text);
		(void)store_event_add(hook->store, authhook_now(hook), LOG_SEV_ERROR,
				      account, text, &error);
		return;
	}
	if (tls->seen != 0 || !tls->used ||
	    (dom->source_tls != CFG_TLS_DETECT && dom->source_tls != CFG_TLS_STARTTLS))
		return;
	ret = store_tls_seen_add(hook->store, dom->name, proto, authhook_now(hook),
				 &error);
	if (ret < 0) {
		authhook_log(LOG_SEV_ERROR, "%s: cannot record that OLD offers "
			     "STARTTLS: %s", account, error);
	} else if (ret == 0) {
		snprintf(text, sizeof(text), "OLD %.300s completed STARTTLS over %s: "
			 "remembered for %.260s; plaintext will be refused from now on",
			 dom->source_host, proto, dom->name);
		authhook_log(LOG_SEV_INFO, "%s: %s", account, text);
		(void)store_event_add(hook->store, authhook_now(hook), LOG_SEV_INFO,
				      NULL, text, &error);
	}
}

void authhook_rate_ip_key(const char *ip, char *buf, size_t size)
{
	struct in6_addr a6;
	char addr[INET6_ADDRSTRLEN + 1], text[INET6_ADDRSTRLEN];
	const char *pct = strchr(ip, '%');
	size_t len = pct != NULL ? (size_t)(pct - ip) : strlen(ip);

	/* Without a zone index ("fe80::1%eth0"). */
	if (len < sizeof(addr)) {
		memcpy(addr, ip, len);
		addr[len] = '\0';
		if (inet_pton(AF_INET6, addr, &a6) == 1) {
			if (IN6_IS_ADDR_V4MAPPED(&a6) &&
			    inet_ntop(AF_INET, &a6.s6_addr[12], text, sizeof(text)) != NULL) {
				snprintf(buf, size, "ip:%s", text);
				return;
			}
			memset(&a6.s6_addr[8], 0, 8);
			if (inet_ntop(AF_INET6, &a6, text, sizeof(text)) != NULL) {
				snprintf(buf, size, "ip6:%s/64", text);
				return;
			}
		}
	}
	snprintf(buf, size, "ip:%.60s", ip);
}

/* Ask OLD whether password is account's, within the limits and the
 * failed-login cache. *verified_r: OLD answered over TLS with its
 * certificate verified (only that answer may replace a stored hash). */
static enum authhook_source_result
authhook_ask_old(struct authhook *hook, const struct cfg_domain *dom,
		 const struct authhook_request *req, const char *account,
		 int *verified_r)
{
	struct store_auth_limit limits[2];
	struct authhook_source_tls tls = { 0, 0, 0, 0 };
	unsigned char mac[CRYPTO_MAC_LEN];
	enum authhook_source_result res;
	char ukey[STORE_MAX_ACCOUNT + 8], ikey[80];
	const char *error, *proto;
	time_t now = authhook_now(hook);
	int ret, imap;

	*verified_r = 0;

	if (hook->cfg->auth_negative_ttl > 0) {
		if (authhook_fail_mac(hook, account, req->password, mac) < 0)
			return AUTHHOOK_SOURCE_TEMPFAIL;
		ret = store_auth_fail_has(hook->store, mac, sizeof(mac), now, &error);
		if (ret < 0) {
			authhook_log(LOG_SEV_ERROR, "%s: %s", account, error);
			return AUTHHOOK_SOURCE_TEMPFAIL;
		}
		if (ret == 1) {
			authhook_log(LOG_SEV_INFO, "%s: password refused by OLD a "
				     "moment ago; not asking again", account);
			return AUTHHOOK_SOURCE_REFUSED;
		}
	}
	snprintf(ukey, sizeof(ukey), "user:%s", account);
	authhook_rate_ip_key(req->remote_ip != NULL ? req->remote_ip : "", ikey,
			     sizeof(ikey));
	limits[0].key = ukey;
	limits[0].limit = hook->cfg->auth_rate_user;
	limits[1].key = ikey;
	limits[1].limit = hook->cfg->auth_rate_ip;
	ret = store_auth_limit(hook->store, limits,
			       req->remote_ip != NULL && req->remote_ip[0] != '\0' ? 2 : 1,
			       hook->cfg->auth_rate_window, now, &error);
	if (ret < 0) {
		authhook_log(LOG_SEV_ERROR, "%s: %s", account, error);
		return AUTHHOOK_SOURCE_TEMPFAIL;
	}
	if (ret == STORE_EXISTS) {
		authhook_log(LOG_SEV_WARNING, "%s: too many checks on OLD for this "
			     "user or client address %s (auth_rate_user, "
			     "auth_rate_ip); try later", account,
			     req->remote_ip != NULL ? req->remote_ip : "");
		return AUTHHOOK_SOURCE_TEMPFAIL;
	}
	imap = authhook_use_imap(dom, req->service);
	proto = imap ? STORE_TLS_IMAP : STORE_TLS_POP3;
	if (authhook_tls_seen(hook, dom, proto, account, &tls.seen) < 0)
		return AUTHHOOK_SOURCE_TEMPFAIL;
	res = authhook_source_check_tls(dom, imap, account, req->password,
					hook->cfg->auth_source_timeout * 1000,
					&tls, &error);
	authhook_tls_learn(hook, dom, proto, account, &tls, error);
	switch (res) {
	case AUTHHOOK_SOURCE_OK:
		*verified_r = tls.verified;
		break;
	case AUTHHOOK_SOURCE_REFUSED:
		authhook_log(LOG_SEV_INFO, "%s: OLD %s refused the password: %s",
			     account, dom->source_host, error);
		if (hook->cfg->auth_negative_ttl > 0 &&
		    store_auth_fail_add(hook->store, mac, sizeof(mac), now,
					hook->cfg->auth_negative_ttl, &error) < 0)
			authhook_log(LOG_SEV_ERROR, "%s: %s", account, error);
		break;
	case AUTHHOOK_SOURCE_TEMPFAIL:
		authhook_log(LOG_SEV_WARNING, "%s: cannot check the password on "
			     "OLD %s: %s", account, dom->source_host, error);
		break;
	}
	return res;
}

/* --- login actions ----------------------------------------------------- */

/* Fill reply as the domain's login_action says for a verified login to
 * an account whose mailbox is not on NEW yet. */
static void authhook_action(const struct cfg_domain *dom,
			    const struct authhook_request *req,
			    const char *account, struct authhook_reply *reply)
{
	char host[256], port[8];
	uint16_t p = 0;
	int imap;

	switch (dom->login_action) {
	case CFG_LOGIN_REJECT:
		authhook_reply_add(reply, "nologin", "y");
		authhook_reply_add(reply, "reason", AUTHHOOK_REJECT_REASON);
		break;
	case CFG_LOGIN_NOTICE:
		if (dom->notice_account == NULL) {
			/* Refusing is the safe choice without a notice account. */
			authhook_reply_add(reply, "nologin", "y");
			authhook_reply_add(reply, "reason", AUTHHOOK_REJECT_REASON);
			break;
		}
		authhook_reply_add(reply, "user", dom->notice_account);
		break;
	case CFG_LOGIN_PROXY:
		if (driver_split_host(dom->source_host, host, sizeof(host), &p) < 0)
			snprintf(host, sizeof(host), "%s", dom->source_host);
		imap = req->service == NULL || strcmp(req->service, "pop3") != 0;
		if (p == 0)
			p = dom->source_tls == CFG_TLS_DIRECT ? (imap ? 993 : 995) :
				(imap ? 143 : 110);
		snprintf(port, sizeof(port), "%u", (unsigned)p);
		authhook_reply_add(reply, "proxy", "y");
		authhook_reply_add(reply, "host", host);
		authhook_reply_add(reply, "port", port);
		authhook_reply_add(reply, "destuser", account);
		authhook_reply_add(reply, "pass", req->password);
		if (dom->source_tls == CFG_TLS_DIRECT)
			authhook_reply_add(reply, "ssl", dom->source_tls_verify ?
					   "yes" : "any-cert");
		else if (dom->source_tls == CFG_TLS_STARTTLS ||
			 dom->source_tls == CFG_TLS_DETECT)
			authhook_reply_add(reply, "starttls", dom->source_tls_verify ?
					   "yes" : "any-cert");
		break;
	}
}

/* --- accounts ------------------------------------------------------------ */

/* Hash password; NULL (logged) on failure. */
static char *authhook_hash(const char *account, const char *password)
{
	const char *error;
	char *hash;

	if (crypto_hash_password(password, &hash, &error) < 0) {
		authhook_log(LOG_SEV_ERROR, "%s: cannot hash the password: %s",
			     account, error);
		return NULL;
	}
	return hash;
}

/* A new account for a password OLD accepted: created with its sealed
 * password and copy job (passwords-only: no job), then the notice.
 * 0 created, STORE_EXISTS (another login won the race), -1. */
static int authhook_create(struct authhook *hook, const struct cfg_domain *dom,
			   const char *account, const char *password)
{
	struct store_account acct = { 0 };
	const char *error;
	char *hash, *text;
	int ret;

	if ((hash = authhook_hash(account, password)) == NULL)
		return -1;
	acct.name = (char *)account;
	acct.domain = (char *)dom->name;
	acct.state = dom->passwords_only ? STORE_STATE_PASSWORDS_ONLY :
		STORE_STATE_QUEUED;
	acct.password_hash = hash;
	ret = store_account_create(hook->store, &acct,
				   dom->passwords_only ? NULL : password,
				   authhook_now(hook), &error);
	mm_free(&hash);
	if (ret < 0) {
		authhook_log(LOG_SEV_ERROR, "%s: cannot create the account: %s",
			     account, error);
		return -1;
	}
	if (ret == STORE_EXISTS)
		return ret;
	(void)store_event_add(hook->store, authhook_now(hook), LOG_SEV_INFO, account,
			      dom->passwords_only ?
			      "first login: password checked on OLD and stored" :
			      "first login: password checked on OLD, copy queued",
			      &error);
	authhook_log(LOG_SEV_INFO, "%s: first login, password checked on OLD; %s",
		     account, dom->passwords_only ? "password stored" :
		     "account created, copy queued");
	if (dom->passwords_only || dom->notice_message == NULL)
		return 0;
	/* A notice that cannot be delivered does not fail the login. */
	if (authhook_notice_text(dom->notice_message, account, &text, &error) < 0) {
		authhook_log(LOG_SEV_WARNING, "%s: notice not delivered: %s",
			     account, error);
		return 0;
	}
	if (authhook_notice_deliver(hook->cfg->target_lmtp, account, text,
				    hook->cfg->auth_source_timeout * 1000,
				    &error) < 0)
		authhook_log(LOG_SEV_WARNING, "%s: notice not delivered: %s",
			     account, error);
	mm_free(&text);
	return 0;
}

/* A stored hash did not match, but OLD accepts the password: OLD's
 * password changed. Store the new one. */
static void authhook_password_changed(struct authhook *hook, const char *account,
				      const char *password, int keep_cred)
{
	const char *error;
	char *hash;

	if ((hash = authhook_hash(account, password)) == NULL)
		return;
	if (store_account_set_password(hook->store, account, hash,
				       keep_cred ? password : NULL,
				       authhook_now(hook), &error) < 0)
		authhook_log(LOG_SEV_ERROR, "%s: cannot store the new password: %s",
			     account, error);
	else
		authhook_log(LOG_SEV_INFO, "%s: password changed on OLD; new one "
			     "stored", account);
	mm_free(&hash);
}

/* OLD accepted a password that is not the stored one, but not over
 * TLS with a verified certificate: the answer may be forged, so the
 * hash stays and the login is refused. Tell the administrator why. */
static void authhook_password_unverified(struct authhook *hook,
					 const struct cfg_domain *dom,
					 const char *account)
{
	char text[STORE_MAX_EVENT_TEXT];
	const char *error;

	snprintf(text, sizeof(text), "OLD accepted a password that differs from "
		 "the stored one, but not over TLS with a verified certificate "
		 "(source_tls = %s, source_tls_verify = %s): the stored password "
		 "is kept and the login refused; give the new one with "
		 "`mailmigrate add --messages-only`, or have OLD checked over "
		 "verified TLS",
		 cfg_tls_name(dom->source_tls), dom->source_tls_verify ? "yes" : "no");
	authhook_log(LOG_SEV_WARNING, "%s: %s", account, text);
	(void)store_event_add(hook->store, authhook_now(hook), LOG_SEV_WARNING,
			      account, text, &error);
}

static int authhook_state_local(enum store_state state)
{
	return state == STORE_STATE_COPIED || state == STORE_STATE_FINISHED ||
		state == STORE_STATE_PASSWORDS_ONLY;
}

/* Count a first login's outcome (mailmigrate_auth_first_logins_total):
 * a store that cannot count is logged, and the login goes on. */
static void authhook_count(struct authhook *hook, const char *account,
			   enum store_first_login outcome)
{
	const char *error;

	if (store_first_login_count(hook->store, outcome, &error) < 0)
		authhook_log(LOG_SEV_ERROR, "%s: counting a first login: %s",
			     account, error);
}

/* A known account: the stored hash, or OLD for a password changed there. */
static enum authhook_result
authhook_known(struct authhook *hook, const struct cfg_domain *dom,
	       const struct authhook_request *req, const struct store_account *acct,
	       struct authhook_reply *reply)
{
	const char *error;
	int ok = 0, verified = 0;

	if (req->password_verified) {
		ok = 1;
	} else if (acct->password_hash != NULL) {
		ok = crypto_verify_password(req->password, acct->password_hash, &error);
		if (ok < 0) {
			authhook_log(LOG_SEV_ERROR, "%s: stored hash: %s",
				     acct->name, error);
			ok = 0;
		}
	}
	if (!ok) {
		/* Copied and finished accounts live on NEW now: its hash is
		 * the truth. The others may have a new password on OLD. */
		if (acct->state == STORE_STATE_COPIED ||
		    acct->state == STORE_STATE_FINISHED ||
		    dom->type != CFG_DOMAIN_BACKUP)
			return AUTHHOOK_MISMATCH;
		/* OLD takes tokens, not passwords: the hash set by the
		 * administrator is the only word. */
		if (dom->source_auth != CFG_AUTH_PASSWORD)
			return AUTHHOOK_MISMATCH;
		switch (authhook_ask_old(hook, dom, req, acct->name, &verified)) {
		case AUTHHOOK_SOURCE_OK:
			/* A stored hash is replaced only on OLD's word over
			 * verified TLS: a forged OK on a plaintext or
			 * unverified session must not set the password. */
			if (acct->password_hash != NULL && !verified) {
				authhook_password_unverified(hook, dom, acct->name);
				return AUTHHOOK_MISMATCH;
			}
			authhook_password_changed(hook, acct->name, req->password,
						  acct->state != STORE_STATE_PASSWORDS_ONLY);
			break;
		case AUTHHOOK_SOURCE_REFUSED:
			return AUTHHOOK_MISMATCH;
		case AUTHHOOK_SOURCE_TEMPFAIL:
			return AUTHHOOK_TEMPFAIL;
		}
	}
	/* Master logins (the puller's) and migrated accounts log in here. */
	if (req->password_verified || authhook_state_local(acct->state) ||
	    dom->type != CFG_DOMAIN_BACKUP)
		return AUTHHOOK_OK;
	authhook_action(dom, req, acct->name, reply);
	return AUTHHOOK_OK;
}

enum authhook_result authhook_passdb(struct authhook *hook,
				     const struct authhook_request *req,
				     struct authhook_reply *reply)
{
	const struct cfg_domain *dom;
	struct store_account acct;
	char account[STORE_MAX_ACCOUNT];
	const char *error;
	enum authhook_result result;
	int ret, aliased = 0, verified;

	if (authhook_account(hook, req, account, &dom) < 0)
		return AUTHHOOK_UNKNOWN;
	reply->account = mm_strdup(account);
	if (strcmp(account, req->user) != 0)
		authhook_reply_add(reply, "user", account);
	if (req->password == NULL && !req->password_verified)
		return AUTHHOOK_UNKNOWN;
	if (authhook_store(hook) < 0)
		return AUTHHOOK_TEMPFAIL;
	for (int round = 0; round < 2; round++) {
		ret = store_account_get(hook->store, account, &acct, &error);
		if (ret < 0) {
			authhook_log(LOG_SEV_ERROR, "%s: %s", account, error);
			return AUTHHOOK_TEMPFAIL;
		}
		if (ret == 0) {
			result = authhook_known(hook, dom, req, &acct, reply);
			store_account_clear(&acct);
			return result;
		}
		/* An alias the puller gathered (access_mode standard or
		 * extended) logs in as its account, with its password. */
		if (round == 0 && !aliased) {
			char owner[STORE_MAX_ACCOUNT];

			ret = store_alias_lookup(hook->store, account, owner,
						 sizeof(owner), &error);
			if (ret < 0) {
				authhook_log(LOG_SEV_ERROR, "%s: %s", account, error);
				return AUTHHOOK_TEMPFAIL;
			}
			if (ret == 0 && strchr(owner, '@') != NULL &&
			    (dom = cfg_domain_find(hook->cfg,
						   strchr(owner, '@') + 1)) != NULL) {
				snprintf(account, sizeof(account), "%s", owner);
				mm_free(&reply->account);
				reply->account = mm_strdup(account);
				authhook_reply_add(reply, "user", account);
				aliased = 1;
				round--;
				continue;
			}
			if (ret == 0)
				return AUTHHOOK_UNKNOWN;
		}
		/* Unknown here. */
		if (dom->type != CFG_DOMAIN_BACKUP || req->password_verified ||
		    round > 0)
			return AUTHHOOK_UNKNOWN;
		if (dom->source_auth != CFG_AUTH_PASSWORD) {
			authhook_log(LOG_SEV_WARNING, "%s: not migrated: [domain %s] "
				     "has source_auth = %s, so OLD cannot check a "
				     "password; add the account with `mailmigrate "
				     "add` or `bulk`", account, dom->name,
				     cfg_source_auth_name(dom->source_auth));
			authhook_count(hook, account, STORE_FIRST_LOGIN_FAILED);
			return AUTHHOOK_TEMPFAIL;
		}
		switch (authhook_ask_old(hook, dom, req, account, &verified)) {
		case AUTHHOOK_SOURCE_OK:
			break;
		case AUTHHOOK_SOURCE_REFUSED:
			authhook_count(hook, account, STORE_FIRST_LOGIN_REFUSED);
			return AUTHHOOK_MISMATCH;
		case AUTHHOOK_SOURCE_TEMPFAIL:
			authhook_count(hook, account, STORE_FIRST_LOGIN_UNAVAILABLE);
			return AUTHHOOK_TEMPFAIL;
		}
		ret = authhook_create(hook, dom, account, req->password);
		if (ret < 0) {
			authhook_count(hook, account, STORE_FIRST_LOGIN_FAILED);
			return AUTHHOOK_TEMPFAIL;
		}
		if (ret == 0) {
			authhook_count(hook, account, STORE_FIRST_LOGIN_MIGRATED);
			if (dom->passwords_only)
				return AUTHHOOK_OK;
			authhook_action(dom, req, account, reply);
			return AUTHHOOK_OK;
		}
		/* Another login created it meanwhile: answer as for it. */
	}
	return AUTHHOOK_TEMPFAIL;
}

/* Is name some domain's notice_account? */
static int authhook_is_notice_account(const struct cfg *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->domains_count; i++)
		if (cfg->domains[i].notice_account != NULL &&
		    strcasecmp(cfg->domains[i].notice_account, name) == 0)
			return 1;
	return 0;
}

enum authhook_result authhook_userdb(struct authhook *hook,
				     const struct authhook_request *req,
				     struct authhook_reply *reply)
{
	const struct cfg_domain *dom;
	char account[STORE_MAX_ACCOUNT], *v;
	const char *error;
	int ret;

	if (authhook_store(hook) < 0)
		return AUTHHOOK_TEMPFAIL;
	if (authhook_is_notice_account(hook->cfg, req->user)) {
		if (store_account_name(req->user, NULL, account, sizeof(account),
				       &error) < 0)
			return AUTHHOOK_UNKNOWN;
	} else {
		if (authhook_account(hook, req, account, &dom) < 0)
			return AUTHHOOK_UNKNOWN;
		struct store_account acct;

		ret = store_account_get(hook->store, account, &acct, &error);
		if (ret == 0)
			store_account_clear(&acct);
		if (ret < 0) {
			authhook_log(LOG_SEV_ERROR, "%s: %s", account, error);
			return AUTHHOOK_TEMPFAIL;
		}
		if (ret == STORE_NOTFOUND)
			return AUTHHOOK_UNKNOWN;
	}
	reply->account = mm_strdup(account);
	v = authhook_expand(hook->cfg->user_home, account);
	authhook_reply_add(reply, "home", v);
	mm_free(&v);
	v = authhook_expand(hook->cfg->user_mail, account);
	authhook_reply_add(reply, "mail", v);
	mm_free(&v);
	authhook_reply_add(reply, "uid", hook->cfg->user_uid);
	authhook_reply_add(reply, "gid", hook->cfg->user_gid);
	return AUTHHOOK_OK;
}
