/*
 * NAME
 *	puller_sieve 3
 * SUMMARY
 *	copy one account's Sieve scripts from OLD's ManageSieve to NEW's
 * DESCRIPTION
 *	copy_sieve() runs in a round of a domain with migrate_sieve, after
 *	the account's mail (and before the post-migrate script of a finish
 *	round). It logs in to OLD's ManageSieve (RFC 5804) as the mail copy
 *	logs in to OLD (the captured password from the store,
 *	source_admin_user acting for the user, or with source_auth xoauth2
 *	or oauthbearer a token from source_oauth2_token_command), and to NEW's as
 *	target_master_user with the account as authorization identity. Each
 *	of OLD's scripts is read whole (at most max_sieve_script_size); the
 *	store records what was put on NEW (the SHA-256 of the bytes, and
 *	whether it was made active: store_sieve_put()). A script whose bytes
 *	are the ones recorded is left alone on NEW: OLD did not change it,
 *	and what the user changed on NEW since stays. Any other is put on
 *	NEW byte for byte, unless NEW holds the same bytes under that name
 *	already, and recorded. Then the script OLD has active is made
 *	active on NEW, unless the record says an earlier round did (the
 *	user may have chosen another on NEW since). Scripts NEW holds and
 *	OLD does not are left alone, and NEW's active script is not touched
 *	when OLD has none active.
 * DIAGNOSTICS
 *	Nothing here fails the account's round: the mail is copied. A
 *	script that cannot be copied (NEW refuses it: PUTSCRIPT NO, an
 *	extension NEW lacks, over NEW's size limit; OLD will not give it;
 *	over max_sieve_script_size) is a failed item named "sieve:NAME"
 *	with the reason; one that is copied later drops its failed item.
 *	A failure of the whole (a login refused, NEW's ManageSieve down, a
 *	protocol error) is a failed item named "sieve:" and an event. OLD
 *	without ManageSieve (source_sieve_port refuses the connection, or
 *	what answers is not ManageSieve) is an event, not a failure. OLD's
 *	ManageSieve out of reach now (a timeout, no route, the connection or
 *	its TLS handshake cut short, TRYLATER) is an event saying the next
 *	round tries again: nothing is recorded, so it does. A store failure
 *	is the round's (retried).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "copy.h"
#include "crypto.h"
#include "error.h"
#include "log.h"
#include "managesieve_client.h"
#include "mm_alloc.h"
#include "puller_metrics.h"
#include "token_cmd.h"

#define SIEVE_ITEM "sieve:"
#define SIEVE_PORT_MAX_TEXT 300

struct sieve_run {
	struct copy *c;
	struct managesieve_client *old, *new;
	struct managesieve_script *old_list, *new_list;
	size_t old_count, new_count;
	uint64_t copied, unchanged, same, refused;
	int store_failed;	/* a failure is the store's: the round's */
	char old_host[256];
	uint16_t old_port;
};

/* A failed item "sieve:NAME" ("sieve:" for the whole) with reason. */
static int sieve_failed(struct sieve_run *r, const char *name, const char *reason,
			enum stream_fail *fail_r, const char **error_r)
{
	char folder[sizeof(SIEVE_ITEM) + MANAGESIEVE_NAME_MAX];

	snprintf(folder, sizeof(folder), SIEVE_ITEM "%s", name);
	if (copy_failed_item(r->c, folder, 0, NULL, reason, fail_r, error_r) < 0) {
		r->store_failed = 1;
		return -1;
	}
	return 0;
}

/* A script copied now, or found the same on NEW: its failed item of an
 * earlier round, if any, goes. */
static int sieve_ok(struct sieve_run *r, const char *name, enum stream_fail *fail_r,
		    const char **error_r)
{
	char folder[sizeof(SIEVE_ITEM) + MANAGESIEVE_NAME_MAX];
	const char *error;
	int ret;

	snprintf(folder, sizeof(folder), SIEVE_ITEM "%s", name);
	ret = store_failed_del(r->c->p->store, r->c->account, folder, 0, 0, &error);
	if (ret < 0) {
		r->store_failed = 1;
		return copy_store_fail(fail_r, error_r, error);
	}
	return 0;
}


int puller_sieve_connect_new(const struct cfg *cfg, struct managesieve_client **client_r,
			     char *host, size_t host_size, uint16_t *port_r,
			     enum stream_fail *fail_r, const char **error_r)
{
	struct managesieve_settings set = { 0 };
	const char *hostport = cfg->target_sieve_host != NULL ? cfg->target_sieve_host :
		cfg->target_host;

	*client_r = NULL;
	if (driver_split_host(hostport, host, host_size, port_r) < 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "NEW's "
				    "ManageSieve host is malformed");
	if (cfg->target_sieve_host == NULL || *port_r == 0)
		*port_r = MANAGESIEVE_PORT;
	set.host = host;
	set.port = *port_r;
	set.tls = cfg->target_tls;
	set.tls_opts.verify = 1;
	set.connect_timeout_ms = cfg->connect_timeout * 1000;
	set.timeout_ms = cfg->io_timeout * 1000;
	set.max_script = cfg->max_sieve_script_size;
	if (managesieve_connect(&set, client_r, fail_r, error_r) != 0) {
		managesieve_close(client_r);
		return stream_failf(fail_r, *fail_r, error_r, "NEW %s port %u: %s",
				    host, (unsigned)*port_r, *error_r);
	}
	return 0;
}

int puller_sieve_open_new(const struct puller *p, const char *account,
			  struct managesieve_client **client_r,
			  enum stream_fail *fail_r, const char **error_r)
{
	char host[256];
	uint16_t port;

	if (p->target_master_password == NULL)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "no "
				    "target_master_password_file read");
	if (puller_sieve_connect_new(p->cfg, client_r, host, sizeof(host), &port,
				     fail_r, error_r) < 0)
		return -1;
	if (managesieve_login(*client_r, account, p->cfg->target_master_user,
			      p->target_master_password, fail_r, error_r) < 0) {
		managesieve_close(client_r);
		return stream_failf(fail_r, *fail_r, error_r, "NEW %s port %u: %s",
				    host, (unsigned)port, *error_r);
	}
	return 0;
}

/* Log in to OLD's ManageSieve as the mail copy logs in to OLD. 1: OLD
 * has no ManageSieve (said in an event). */
static int sieve_open_old(struct sieve_run *r, enum stream_fail *fail_r,
			  const char **error_r)
{
	struct copy *c = r->c;
	const struct cfg_domain *dom = c->dom;
	const struct cfg *cfg = c->p->cfg;
	struct managesieve_settings set = { 0 };
	char login[CFG_LOGIN_MAX + 1], *password = NULL, *star = NULL;
	const char *error, *authzid = NULL, *user = login;
	int ret;

	if (driver_split_host(dom->source_host, r->old_host, sizeof(r->old_host),
			      &r->old_port) < 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "source_host "
				    "is malformed");
	r->old_port = (uint16_t)dom->source_sieve_port;
	set.host = r->old_host;
	set.port = r->old_port;
	set.tls = dom->source_tls;
	set.tls_opts.verify = dom->source_tls_verify;
	set.tls_opts.ca_file = dom->source_tls_ca_file;
	set.connect_timeout_ms = cfg->connect_timeout * 1000;
	set.timeout_ms = cfg->io_timeout * 1000;
	set.max_script = cfg->max_sieve_script_size;
	ret = managesieve_connect(&set, &r->old, fail_r, error_r);
	if (ret == MANAGESIEVE_ABSENT) {
		copy_event(c, LOG_SEV_INFO, "sieve: OLD has no ManageSieve on %s port "
			   "%u (%s): no Sieve scripts copied", r->old_host,
			   (unsigned)r->old_port, *error_r);
		return 1;
	}
	if (ret < 0) {
		enum stream_fail policy = stream_fail_policy(*fail_r);

		if (policy != STREAM_FAIL_TEMP && policy != STREAM_FAIL_WAIT)
			return -1;
		if (c->job != NULL && c->job->kind == STORE_JOB_FINISH) {
			/* No round follows a finish (and the password is
			 * wiped): not copied is a failed item, never
			 * silence. */
			copy_event(c, LOG_SEV_ERROR, "sieve: OLD's ManageSieve on %s "
				   "port %u not reachable in the finish round (%s): "
				   "no round follows, the Sieve scripts are not copied",
				   r->old_host, (unsigned)r->old_port, *error_r);
			if (sieve_failed(r, "", error_setf("OLD's ManageSieve not "
					 "reachable in the finish round: %s", *error_r),
					 fail_r, error_r) < 0)
				return -1;
			return 1;
		}
		/* Out of reach now, not absent: nothing is recorded (no
		 * Sieve record, an earlier "sieve:" failed item kept), so
		 * the next round asks again. */
		copy_event(c, LOG_SEV_WARNING, "sieve: OLD's ManageSieve on %s port "
			   "%u not reachable now (%s): no Sieve scripts copied in "
			   "this round, the next round tries again", r->old_host,
			   (unsigned)r->old_port, *error_r);
		return 1;
	}
	if (dom->source_auth != CFG_AUTH_PASSWORD) {
		/* OAuth, as the mail copy: a fresh token for the account. */
		if (cfg_login_name(dom, c->account, login, sizeof(login), &error) < 0)
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "%s", error);
		if (token_cmd_run(dom->source_oauth2_token_command, c->account,
				  cfg->connect_timeout * 1000, &password, fail_r,
				  error_r) < 0)
			return -1;
		ret = managesieve_login_oauth(r->old, dom->source_auth, login, password,
					      fail_r, error_r);
		mm_free_secret(&password);
		if (ret < 0)
			return stream_failf(fail_r, *fail_r, error_r, "OLD %s: %s",
					    r->old_host, *error_r);
		return 0;
	}
	if (dom->source_admin_user != NULL) {
		if (cfg_admin_login_name(dom, c->account, login, sizeof(login), &error) < 0)
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "%s", error);
		if (crypto_read_secret(dom->source_admin_password_file, &password,
				       &error) < 0)
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					    "source_admin_password_file: %s", error);
		if (dom->source_admin_form == CFG_ADMIN_STAR) {
			star = mm_asprintf("%s*%s", login, dom->source_admin_user);
			user = star;
		} else if (dom->source_admin_form != CFG_ADMIN_TEMPLATE) {
			authzid = login;
			user = dom->source_admin_user;
		}
	} else {
		if (cfg_login_name(dom, c->account, login, sizeof(login), &error) < 0)
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "%s", error);
		ret = store_cred_get(c->p->store, c->account, &password, &error);
		if (ret == STORE_NOTFOUND)
			return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "no "
					    "captured password for this account, and "
					    "no source_admin_user for its domain");
		if (ret < 0) {
			r->store_failed = 1;
			return copy_store_fail(fail_r, error_r, error);
		}
	}
	ret = managesieve_login(r->old, authzid, user, password, fail_r, error_r);
	mm_free_secret(&password);
	mm_free(&star);
	if (ret < 0)
		return stream_failf(fail_r, *fail_r, error_r, "OLD %s: %s", r->old_host,
				    *error_r);
	return 0;
}

/* Log in to NEW's ManageSieve as target_master_user for the account. */
static int sieve_open_new(struct sieve_run *r, enum stream_fail *fail_r,
			  const char **error_r)
{
	return puller_sieve_open_new(r->c->p, r->c->account, &r->new, fail_r, error_r);
}

/* NEW's script of that name in the listing, or NULL. */
static const struct managesieve_script *sieve_on_new(const struct sieve_run *r,
						     const char *name)
{
	for (size_t i = 0; i < r->new_count; i++)
		if (strcmp(r->new_list[i].name, name) == 0)
			return &r->new_list[i];
	return NULL;
}

/* Record what NEW holds now of name (store.h, Sieve scripts). */
static int sieve_record(struct sieve_run *r, const char *name,
			const unsigned char *sha256, int active,
			enum stream_fail *fail_r, const char **error_r)
{
	struct store_sieve rec;
	const char *error;

	memcpy(rec.sha256, sha256, STORE_SIEVE_HASH);
	rec.active = active;
	if (store_sieve_put(r->c->p->store, r->c->account, name, &rec, &error) < 0) {
		r->store_failed = 1;
		return copy_store_fail(fail_r, error_r, error);
	}
	return 0;
}

/* Copy one of OLD's scripts. 0: copied, left as recorded or the same
 * on NEW (*ok_r = 1, *was_active_r: the record says an earlier round
 * made it active), or a failed item (*ok_r = 0); -1: the session or
 * the store failed. is_active: it is OLD's active script. */
static int sieve_copy_one(struct sieve_run *r, const char *name, int is_active,
			  int *ok_r, int *was_active_r, enum stream_fail *fail_r,
			  const char **error_r)
{
	char *data = NULL, *have = NULL, reason[STREAM_ERROR_MAX];
	unsigned char sha256[STORE_SIEVE_HASH];
	unsigned int mdlen = 0;
	struct store_sieve rec;
	const char *error;
	size_t len, have_len;
	int ret, have_rec;

	*ok_r = *was_active_r = 0;
	if (managesieve_get(r->old, name, &data, &len, fail_r, error_r) < 0) {
		if (*fail_r != STREAM_FAIL_MESSAGE)
			return -1;
		snprintf(reason, sizeof(reason), "OLD: %s", *error_r);
		r->refused++;
		return sieve_failed(r, name, reason, fail_r, error_r);
	}
	if (EVP_Digest(data, len, sha256, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != STORE_SIEVE_HASH) {
		mm_free(&data);
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "SHA-256 failed");
	}
	ret = store_sieve_get(r->c->p->store, r->c->account, name, &rec, &error);
	if (ret < 0) {
		mm_free(&data);
		r->store_failed = 1;
		return copy_store_fail(fail_r, error_r, error);
	}
	have_rec = ret == 0;
	if (have_rec && memcmp(rec.sha256, sha256, STORE_SIEVE_HASH) == 0) {
		/* OLD's bytes are the ones put on NEW before: NEW keeps what
		 * it has (the user's own change, if any). */
		mm_free(&data);
		r->unchanged++;
		*ok_r = 1;
		*was_active_r = rec.active && is_active;
		/* No longer OLD's active one: forgotten, so that OLD
		 * activating it again is copied. */
		if (rec.active && !is_active &&
		    sieve_record(r, name, sha256, 0, fail_r, error_r) < 0)
			return -1;
		return sieve_ok(r, name, fail_r, error_r);
	}
	if (sieve_on_new(r, name) != NULL) {
		ret = managesieve_get(r->new, name, &have, &have_len, fail_r, error_r);
		if (ret < 0 && *fail_r != STREAM_FAIL_MESSAGE) {
			mm_free(&data);
			return -1;
		}
		if (ret == 0 && have_len == len && memcmp(have, data, len) == 0) {
			mm_free(&have);
			mm_free(&data);
			r->same++;
			*ok_r = 1;
			if (sieve_record(r, name, sha256, 0, fail_r, error_r) < 0)
				return -1;
			return sieve_ok(r, name, fail_r, error_r);
		}
		mm_free(&have);
	}
	ret = managesieve_put(r->new, name, data, len, fail_r, error_r);
	mm_free(&data);
	if (ret < 0) {
		if (*fail_r != STREAM_FAIL_MESSAGE)
			return -1;
		snprintf(reason, sizeof(reason), "NEW refused it: %s", *error_r);
		r->refused++;
		return sieve_failed(r, name, reason, fail_r, error_r);
	}
	r->copied++;
	puller_count(sieve_scripts, 1);
	*ok_r = 1;
	if (sieve_record(r, name, sha256, 0, fail_r, error_r) < 0)
		return -1;
	return sieve_ok(r, name, fail_r, error_r);
}

/* Make OLD's active script active on NEW, and record that. 1: NEW
 * refused (a failed item). */
static int sieve_activate(struct sieve_run *r, const char *name,
			  enum stream_fail *fail_r, const char **error_r)
{
	const struct managesieve_script *n = sieve_on_new(r, name);
	struct store_sieve rec;
	const char *error;
	int ret;

	if (n == NULL || !n->active) {
		if (managesieve_setactive(r->new, name, fail_r, error_r) < 0) {
			char reason[STREAM_ERROR_MAX];

			if (*fail_r != STREAM_FAIL_MESSAGE && *fail_r != STREAM_FAIL_FINAL)
				return -1;
			snprintf(reason, sizeof(reason), "SETACTIVE: %s", *error_r);
			return sieve_failed(r, name, reason, fail_r, error_r) < 0 ? -1 : 1;
		}
	}
	ret = store_sieve_get(r->c->p->store, r->c->account, name, &rec, &error);
	if (ret != 0) {
		r->store_failed = 1;
		return copy_store_fail(fail_r, error_r, ret < 0 ? error :
				       "the Sieve record just written is gone");
	}
	return sieve_record(r, name, rec.sha256, 1, fail_r, error_r);
}

/* Every script, then the active one. */
static int sieve_copy_all(struct sieve_run *r, enum stream_fail *fail_r,
			  const char **error_r)
{
	const char *active = NULL, *active_said = "none on OLD";
	int active_ok = 0, was_active = 0, ok, was;

	if (managesieve_list(r->old, &r->old_list, &r->old_count, fail_r, error_r) < 0)
		return stream_failf(fail_r, *fail_r, error_r, "OLD %s: %s", r->old_host,
				    *error_r);
	if (r->old_count == 0) {
		copy_event(r->c, LOG_SEV_INFO, "sieve: OLD holds no Sieve scripts");
		return 0;
	}
	if (sieve_open_new(r, fail_r, error_r) < 0 ||
	    managesieve_list(r->new, &r->new_list, &r->new_count, fail_r, error_r) < 0)
		return -1;
	for (size_t i = 0; i < r->old_count; i++) {
		if (sieve_copy_one(r, r->old_list[i].name, r->old_list[i].active, &ok,
				   &was, fail_r, error_r) < 0)
			return -1;
		if (r->old_list[i].active) {
			active = r->old_list[i].name;
			active_ok = ok;
			was_active = was;
		}
	}
	if (active != NULL && !active_ok) {
		active_said = "not copied, NEW's active script left as it was";
	} else if (active != NULL && was_active) {
		active_said = "made active on NEW by an earlier round";
	} else if (active != NULL) {
		int ret = sieve_activate(r, active, fail_r, error_r);

		if (ret < 0)
			return -1;
		active_said = ret > 0 ? "refused by NEW (a failed item)" :
			"made active on NEW";
	}
	copy_event(r->c, r->refused > 0 ? LOG_SEV_WARNING : LOG_SEV_INFO,
		   "sieve: %zu scripts on OLD: %llu copied, %llu unchanged since "
		   "copied, %llu already the same on NEW, %llu not copied (failed "
		   "items); active: %s%s%s%s",
		   r->old_count, (unsigned long long)r->copied,
		   (unsigned long long)r->unchanged, (unsigned long long)r->same,
		   (unsigned long long)r->refused,
		   active != NULL ? "\"" : "", active != NULL ? active : "",
		   active != NULL ? "\" " : "", active_said);
	return 0;
}

int copy_sieve(struct copy *c, enum stream_fail *fail_r, const char **error_r)
{
	struct sieve_run r = { .c = c };
	int ret;

	if (!c->dom->migrate_sieve)
		return 0;
	ret = sieve_open_old(&r, fail_r, error_r);
	if (ret == 0)
		ret = sieve_copy_all(&r, fail_r, error_r);
	if (ret < 0 && !r.store_failed) {
		/* The scripts, not the mail: a failed item, the round goes on. */
		char reason[STREAM_ERROR_MAX];

		snprintf(reason, sizeof(reason), "%s", *error_r);
		ret = sieve_failed(&r, "", reason, fail_r, error_r);
	} else if (ret == 0) {
		ret = sieve_ok(&r, "", fail_r, error_r);
	} else if (ret > 0) {
		ret = 0;
	}
	managesieve_scripts_free(&r.old_list, r.old_count);
	managesieve_scripts_free(&r.new_list, r.new_count);
	managesieve_close(&r.old);
	managesieve_close(&r.new);
	return ret;
}
