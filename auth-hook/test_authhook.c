/*
 * NAME
 *	test_authhook 1
 * SUMMARY
 *	unit tests: the auth-hook's login flow, without Dovecot
 * DESCRIPTION
 *	OLD is a forked, scripted fake server (common/fakeserver.c), or a
 *	port nothing listens on: a test that must not reach OLD points
 *	the domain there, so asking OLD would show as a temporary failure.
 *	The store is a fresh one per test; times are fixed.
 */
#include "config.h"

#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authhook.h"
#include "crypto.h"
#include "fakeserver.h"
#include "mm_alloc.h"

static char dir[64], conf_path[128];
static char logbuf[16384];

static void test_logger(enum log_severity sev, const char *text, void *ctx)
{
	size_t len = strlen(logbuf);

	snprintf(logbuf + len, sizeof(logbuf) - len, "%s: %s\n",
		 log_severity_name(sev), text);
}

static void setup(void)
{
	char path[160];
	const char *error;

	snprintf(dir, sizeof(dir), "/tmp/mmhook.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(conf_path, sizeof(conf_path), "%s/mm.conf", dir);
	snprintf(path, sizeof(path), "%s/key", dir);
	ck_assert_int_eq(crypto_key_create(path, &error), 0);
	{
		/* The hook reads only public_key_file (key_file ".pub"). */
		struct crypto_key key;
		char pub[170];

		snprintf(pub, sizeof(pub), "%s/key.pub", dir);
		ck_assert_int_eq(crypto_key_load(path, &key, &error), 0);
		ck_assert_int_eq(crypto_public_create(&key, pub, &error), 0);
		crypto_key_wipe(&key);
	}
	logbuf[0] = '\0';
	authhook_set_logger(test_logger, NULL);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A port on 127.0.0.1 that nothing listens on. */
static unsigned closed_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* Write the configuration with OLD at port and the given domain
 * settings for example.test, and open the hook on it. */
static struct authhook *hook_open(unsigned port, const char *domain_extra,
				  const char *global_extra)
{
	if (global_extra == NULL)
		global_extra = "auth_rate_user = 100";
	struct store_options opts = { .create = 1 };
	struct authhook *hook;
	struct store *store;
	const char *error;
	FILE *f = fopen(conf_path, "w");
	char state[128];

	ck_assert_ptr_nonnull(f);
	snprintf(state, sizeof(state), "%s/state", dir);
	fprintf(f, "state_dir = %s/state\nkey_file = %s/key\n"
		"user_home = /home/%%d/%%n\nuser_mail = maildir:~/M\n"
		"user_uid = 8\nuser_gid = 8\ndefault_domain = example.test\n"
		"auth_source_timeout = 5\n%s\n"
		"[domain example.test]\nsource_host = 127.0.0.1:%u\n"
		"%s%s\n"
		"[domain bind.test]\nsource_host = 127.0.0.1:%u\n"
		"source_tls = none\nbind_ip = 127.0.0.9\n"
		"[domain std.test]\ntype = standard\n",
		dir, dir, global_extra != NULL ? global_extra : "", port,
		domain_extra != NULL && strstr(domain_extra, "source_tls =") != NULL ?
		"" : "source_tls = none\n",
		domain_extra != NULL ? domain_extra : "", port);
	fclose(f);
	ck_assert_int_eq(store_open(state, &opts, &store, &error), 0);
	store_close(&store);
	ck_assert_msg(authhook_init(conf_path, &hook, &error) == 0, "%s", error);
	authhook_set_now(hook, 100000);
	return hook;
}

/* A store handle of our own, to look at what the hook did. */
static struct store *peek(void)
{
	struct store *store;
	char state[128];
	const char *error;

	snprintf(state, sizeof(state), "%s/state", dir);
	ck_assert_int_eq(store_open(state, NULL, &store, &error), 0);
	return store;
}

static int account_state(const char *name)
{
	struct store *store = peek();
	struct store_account acct;
	const char *error;
	int ret;

	ret = store_account_get(store, name, &acct, &error);
	if (ret == 0) {
		ret = (int)acct.state;
		store_account_clear(&acct);
	} else {
		ret = -1;
	}
	store_close(&store);
	return ret;
}

static int has_job(const char *name)
{
	struct store *store = peek();
	struct store_job job;
	const char *error;
	int ret = store_job_get(store, name, &job, &error);

	if (ret == 0)
		store_job_clear(&job);
	store_close(&store);
	return ret == 0;
}

static enum authhook_result login_from(struct authhook *hook, const char *user,
				       const char *password, const char *service,
				       const char *remote_ip,
				       struct authhook_reply *reply)
{
	struct authhook_request req = { user, password, service, "127.0.0.3",
					remote_ip, 0 };

	memset(reply, 0, sizeof(*reply));
	return authhook_passdb(hook, &req, reply);
}

static enum authhook_result login(struct authhook *hook, const char *user,
				  const char *password, const char *service,
				  struct authhook_reply *reply)
{
	return login_from(hook, user, password, service, "127.0.0.1", reply);
}

/* OLD accepting user with password over IMAP. */
#define IMAP_OK(user, pass) \
	{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1] old\r\n", 0, 0 }, \
	{ FAKE_EXPECT, "M1 LOGIN \"" user "\" \"" pass "\"\r", 0, 0 }, \
	{ FAKE_SEND, "M1 OK Logged in\r\n", 0, 0 }, \
	{ FAKE_EXPECT, "M2 LOGOUT\r", 0, 0 }, \
	{ FAKE_SEND, "* BYE\r\nM2 OK bye\r\n", 0, 0 }, \
	{ FAKE_END, NULL, 0, 0 }

/* Each login_action on the first login of an unknown user. */
static const struct {
	const char *domain_extra;
	const char *field, *value;	/* a field the reply must hold */
	const char *field2, *value2;
} actions[] = {
	{ "login_action = reject", "nologin", "y", "reason", AUTHHOOK_REJECT_REASON },
	{ "login_action = notice\nnotice_account = info@example.test",
	  "user", "info@example.test", NULL, NULL },
	{ "login_action = proxy", "proxy", "y", "pass", "pw \"x\"" },
};

START_TEST(first_login_actions)
{
	static const struct fakeserver_step script[] = {
		IMAP_OK("ann@example.test", "pw \\\"x\\\""),
	};
	struct authhook_reply reply;
	struct authhook *hook;
	struct fakeserver fs;

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	hook = hook_open(fs.port, actions[_i].domain_extra, NULL);
	ck_assert_int_eq(login(hook, "Ann@Example.test", "pw \"x\"", "imap", &reply),
			 AUTHHOOK_OK);
	ck_assert(fakeserver_stop(&fs));
	ck_assert_str_eq(reply.account, "ann@example.test");
	ck_assert_pstr_eq(authhook_reply_get(&reply, actions[_i].field),
			  actions[_i].value);
	if (actions[_i].field2 != NULL)
		ck_assert_pstr_eq(authhook_reply_get(&reply, actions[_i].field2),
				  actions[_i].value2);
	authhook_reply_free(&reply);
	ck_assert_int_eq(account_state("ann@example.test"), STORE_STATE_QUEUED);
	ck_assert(has_job("ann@example.test"));
	/* The next login needs no OLD (it is gone): the stored hash. */
	ck_assert_int_eq(login(hook, "ann@example.test", "pw \"x\"", "imap", &reply),
			 AUTHHOOK_OK);
	ck_assert_pstr_eq(authhook_reply_get(&reply, actions[_i].field),
			  actions[_i].value);
	authhook_reply_free(&reply);
	ck_assert_ptr_null(strstr(logbuf, "pw \"x\""));
	authhook_deinit(&hook);
}
END_TEST

/* An install upgraded from a release without public_key_file: its
 * key_file is the old 32 bytes and no .pub exists. Logins go on as
 * before (sealed with key_file, version 1, which the puller opens) with
 * a warning saying what to do; once key_file holds the key pair, a
 * missing public_key_file is an error again. */
static char *sealed_password(const char *name);

START_TEST(key_not_upgraded)
{
	static const struct fakeserver_step script[] = {
		IMAP_OK("ann@example.test", "old pw"),
	};
	struct authhook_reply reply;
	struct authhook *hook;
	struct fakeserver fs;
	char path[160], pub[170];
	unsigned char legacy[CRYPTO_KEY_LEN];
	const char *error;
	char *pw;
	FILE *f;

	snprintf(path, sizeof(path), "%s/key", dir);
	snprintf(pub, sizeof(pub), "%s/key.pub", dir);
	ck_assert_int_eq(unlink(pub), 0);
	ck_assert_int_eq(unlink(path), 0);
	memset(legacy, 0x5a, sizeof(legacy));
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	ck_assert_int_eq(fwrite(legacy, 1, sizeof(legacy), f), sizeof(legacy));
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, 0600), 0);

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	hook = hook_open(fs.port, NULL, NULL);
	ck_assert_ptr_nonnull(strstr(logbuf, "run `mailmigrate init`"));
	ck_assert_int_eq(login(hook, "ann@example.test", "old pw", "imap", &reply),
			 AUTHHOOK_OK);
	authhook_reply_free(&reply);
	ck_assert(fakeserver_stop(&fs));
	authhook_deinit(&hook);
	pw = sealed_password("ann@example.test");
	ck_assert_str_eq(pw, "old pw");
	mm_free_secret(&pw);

	/* key_file with the key pair, public_key_file gone: refused. */
	ck_assert_int_eq(crypto_key_upgrade(path, &error), 1);
	ck_assert_int_ne(authhook_init(conf_path, &hook, &error), 0);
	ck_assert_ptr_nonnull(strstr(error, "public_key_file is needed"));
}
END_TEST

/* A wrong password: refused, nothing stored, and the same pair is not
 * sent to OLD again. */
START_TEST(wrong_password_cached)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1] old\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 LOGIN \"bo@example.test\" \"bad\"\r", 0, 0 },
		{ FAKE_SEND, "M1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct authhook_reply reply;
	struct authhook *hook;
	struct fakeserver fs;

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	hook = hook_open(fs.port, NULL, NULL);
	ck_assert_int_eq(login(hook, "bo@example.test", "bad", "imap", &reply),
			 AUTHHOOK_MISMATCH);
	authhook_reply_free(&reply);
	ck_assert(fakeserver_stop(&fs));
	ck_assert_int_eq(account_state("bo@example.test"), -1);
	/* OLD is gone now: had it been asked, this would be TEMPFAIL. */
	ck_assert_int_eq(login(hook, "bo@example.test", "bad", "imap", &reply),
			 AUTHHOOK_MISMATCH);
	authhook_reply_free(&reply);
	ck_assert_ptr_nonnull(strstr(logbuf, "not asking again"));
	/* Another password is another pair: OLD is asked (and is down). */
	ck_assert_int_eq(login(hook, "bo@example.test", "bad2", "imap", &reply),
			 AUTHHOOK_TEMPFAIL);
	authhook_reply_free(&reply);
	ck_assert_ptr_null(strstr(logbuf, "bad"));
	authhook_deinit(&hook);
}
END_TEST

/* OLD down, OLD busy: a temporary failure, nothing created. */
START_TEST(old_down_or_busy)
{
	static const struct fakeserver_step busy[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1] old\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 LOGIN", 0, 0 },
		{ FAKE_SEND, "M1 NO [UNAVAILABLE] Try later\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct authhook_reply reply;
	struct authhook *hook;
	struct fakeserver fs;

	hook = hook_open(closed_port(), NULL, NULL);
	ck_assert_int_eq(login(hook, "cy@example.test", "pw", "imap", &reply),
			 AUTHHOOK_TEMPFAIL);
	authhook_reply_free(&reply);
	authhook_deinit(&hook);
	ck_assert_int_eq(account_state("cy@example.test"), -1);

	ck_assert_int_eq(fakeserver_start(busy, &fs), 0);
	hook = hook_open(fs.port, NULL, NULL);
	ck_assert_int_eq(login(hook, "cy@example.test", "pw", "imap", &reply),
			 AUTHHOOK_TEMPFAIL);
	authhook_reply_free(&reply);
	ck_assert(fakeserver_stop(&fs));
	ck_assert_int_eq(account_state("cy@example.test"), -1);
	authhook_deinit(&hook);
}
END_TEST

/* A POP3 login is checked over POP3; passwords_only stores the hash
 * with no job and logs in locally. */
START_TEST(pop3_passwords_only)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "+OK old\r\n", 0, 0 },
		{ FAKE_EXPECT, "CAPA\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\nUSER\r\n.\r\n", 0, 0 },
		{ FAKE_EXPECT, "USER dee@example.test\r", 0, 0 },
		{ FAKE_SEND, "+OK\r\n", 0, 0 },
		{ FAKE_EXPECT, "PASS s p a c e\r", 0, 0 },
		{ FAKE_SEND, "+OK in\r\n", 0, 0 },
		{ FAKE_EXPECT, "QUIT\r", 0, 0 },
		{ FAKE_SEND, "+OK bye\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct authhook_reply reply;
	struct authhook *hook;
	struct fakeserver fs;
	struct store *store;
	const char *error;

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	hook = hook_open(fs.port, "passwords_only = yes", NULL);
	ck_assert_int_eq(login(hook, "dee@example.test", "s p a c e", "pop3", &reply),
			 AUTHHOOK_OK);
	ck_assert(fakeserver_stop(&fs));
	ck_assert_uint_eq(reply.count, 0);
	authhook_reply_free(&reply);
	ck_assert_int_eq(account_state("dee@example.test"), STORE_STATE_PASSWORDS_ONLY);
	ck_assert(!has_job("dee@example.test"));
	store = peek();
	ck_assert_int_eq(store_cred_has(store, "dee@example.test", &error), 0);
	store_close(&store);
	ck_assert_int_eq(login(hook, "dee@example.test", "s p a c e", "pop3", &reply),
			 AUTHHOOK_OK);
	authhook_reply_free(&reply);
	authhook_deinit(&hook);
}
END_TEST

/* Copied accounts: the hash decides, OLD is never asked. Standard
 * domains: unknown users are unknown. Master logins: no check. */
START_TEST(local_accounts)
{
	struct authhook_reply reply;
	struct authhook_request req = { "ed@example.test", NULL, "imap", "", "", 1 };
	struct store_account acct = { 0 };
	struct authhook *hook;
	struct store *store;
	const char *error;
	char *hash;

	hook = hook_open(closed_port(), "login_action = proxy", NULL);
	ck_assert_int_eq(crypto_hash_password("ed pw", &hash, &error), 0);
	acct.name = (char *)"ed@example.test";
	acct.domain = (char *)"example.test";
	acct.state = STORE_STATE_COPIED;
	acct.password_hash = hash;
	store = peek();
	ck_assert_int_eq(store_account_create(store, &acct, NULL, 1, &error), 0);
	store_close(&store);
	mm_free(&hash);
	ck_assert_int_eq(login(hook, "ed@example.test", "ed pw", "imap", &reply),
			 AUTHHOOK_OK);
	ck_assert_uint_eq(reply.count, 0);	/* no proxy: local */
	authhook_reply_free(&reply);
	ck_assert_int_eq(login(hook, "ed@example.test", "not it", "imap", &reply),
			 AUTHHOOK_MISMATCH);
	authhook_reply_free(&reply);
	/* An alias logs in as its account, with the account's password. */
	store = peek();
	ck_assert_int_eq(store_account_add_alias(store, "ed@example.test",
						 "edward@example.test", &error), 0);
	store_close(&store);
	ck_assert_int_eq(login(hook, "Edward@example.test", "ed pw", "imap", &reply),
			 AUTHHOOK_OK);
	ck_assert_pstr_eq(authhook_reply_get(&reply, "user"), "ed@example.test");
	ck_assert_str_eq(reply.account, "ed@example.test");
	authhook_reply_free(&reply);
	ck_assert_int_eq(login(hook, "edward@example.test", "not it", "imap", &reply),
			 AUTHHOOK_MISMATCH);
	authhook_reply_free(&reply);
	ck_assert_int_eq(login(hook, "fay@std.test", "pw", "imap", &reply),
			 AUTHHOOK_UNKNOWN);
	authhook_reply_free(&reply);
	ck_assert_int_eq(login(hook, "fay@nowhere.test", "pw", "imap", &reply),
			 AUTHHOOK_UNKNOWN);
	authhook_reply_free(&reply);
	memset(&reply, 0, sizeof(reply));
	ck_assert_int_eq(authhook_passdb(hook, &req, &reply), AUTHHOOK_OK);
	ck_assert_uint_eq(reply.count, 0);
	authhook_reply_free(&reply);
	req.user = "gus@example.test";
	ck_assert_int_eq(authhook_passdb(hook, &req, &reply), AUTHHOOK_UNKNOWN);
	authhook_reply_free(&reply);
	/* userdb: templates for a known account, nothing for others. */
	req.user = "ed@example.test";
	ck_assert_int_eq(authhook_userdb(hook, &req, &reply), AUTHHOOK_OK);
	ck_assert_pstr_eq(authhook_reply_get(&reply, "home"), "/home/example.test/ed");
	ck_assert_pstr_eq(authhook_reply_get(&reply, "mail"), "maildir:~/M");
	ck_assert_pstr_eq(authhook_reply_get(&reply, "uid"), "8");
	authhook_reply_free(&reply);
	req.user = "gus@example.test";
	ck_assert_int_eq(authhook_userdb(hook, &req, &reply), AUTHHOOK_UNKNOWN);
	authhook_reply_free(&reply);
	authhook_deinit(&hook);
}
END_TEST

/* A bare user name takes its domain from the local address (bind_ip),
 * else default_domain; the reply renames the user. */
START_TEST(bind_ip_domain)
{
	static const struct fakeserver_step script[] = {
		IMAP_OK("hal@bind.test", "pw"),
	};
	struct authhook_request req = { "Hal", "pw", "imap", "127.0.0.9",
					"127.0.0.1", 0 };
	struct authhook_reply reply = { 0 };
	struct authhook *hook;
	struct fakeserver fs;

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	hook = hook_open(fs.port, NULL, NULL);
	ck_assert_int_eq(authhook_passdb(hook, &req, &reply), AUTHHOOK_OK);
	ck_assert(fakeserver_stop(&fs));
	ck_assert_pstr_eq(authhook_reply_get(&reply, "user"), "hal@bind.test");
	authhook_reply_free(&reply);
	ck_assert_int_eq(account_state("hal@bind.test"), STORE_STATE_QUEUED);
	/* Another local address: default_domain (OLD down: TEMPFAIL). */
	req.local_ip = "127.0.0.3";
	ck_assert_int_eq(authhook_passdb(hook, &req, &reply), AUTHHOOK_TEMPFAIL);
	ck_assert_str_eq(reply.account, "hal@example.test");
	authhook_reply_free(&reply);
	authhook_deinit(&hook);
}
END_TEST

/* The sealed password of name, from a store handle of our own. */
static char *sealed_password(const char *name)
{
	struct store *store = peek();
	struct crypto_key key;
	char keypath[128], *pw = NULL;
	const char *error;

	snprintf(keypath, sizeof(keypath), "%s/key", dir);
	ck_assert_int_eq(crypto_key_load(keypath, &key, &error), 0);
	store_set_key(store, &key);
	crypto_key_wipe(&key);
	ck_assert_int_eq(store_cred_get(store, name, &pw, &error), 0);
	store_close(&store);
	return pw;
}

/* Is there an event of name holding text? */
static int has_event_fn(const struct store_event *ev, void *ctx)
{
	return strstr(ev->message, ctx) != NULL ? 1 : 0;
}

static int has_event(const char *name, const char *text)
{
	struct store *store = peek();
	const char *error;
	int ret = store_event_iter(store, 0, name, 0, has_event_fn, (void *)text,
				   &error);

	store_close(&store);
	return ret == 1;
}

/* A queued account whose password changed on OLD, checked without
 * verified TLS (plaintext: none, or detect where OLD offers no
 * STARTTLS and never did): OLD says yes, but that answer may be
 * forged, so the stored hash and sealed password stay, the login is
 * refused and the administrator told. (Over verified TLS the new
 * hash is stored: tests/integration/test_auth.sh, which has TLS.) */
static const char *const unverified_modes[] = {
	"source_tls = none", "source_tls = detect", "source_tls = detect\n"
	"source_tls_verify = no",
};

START_TEST(password_changed_on_old_unverified)
{
	static const struct fakeserver_step first[] = { IMAP_OK("ivo@example.test", "old") };
	static const struct fakeserver_step second[] = { IMAP_OK("ivo@example.test", "new") };
	struct authhook_reply reply;
	struct authhook *hook;
	struct fakeserver fs;
	char *pw;

	ck_assert_int_eq(fakeserver_start(first, &fs), 0);
	hook = hook_open(fs.port, unverified_modes[_i], NULL);
	ck_assert_int_eq(login(hook, "ivo@example.test", "old", "imap", &reply), AUTHHOOK_OK);
	authhook_reply_free(&reply);
	ck_assert(fakeserver_stop(&fs));
	authhook_deinit(&hook);

	ck_assert_int_eq(fakeserver_start(second, &fs), 0);
	hook = hook_open(fs.port, unverified_modes[_i], NULL);
	ck_assert_int_eq(login(hook, "ivo@example.test", "new", "imap", &reply),
			 AUTHHOOK_MISMATCH);
	authhook_reply_free(&reply);
	ck_assert(fakeserver_stop(&fs));
	ck_assert_ptr_nonnull(strstr(logbuf, "ivo@example.test: OLD accepted a password "
				     "that differs from the stored one, but not over TLS "
				     "with a verified certificate"));
	ck_assert(has_event("ivo@example.test", "the stored password is kept"));
	/* OLD is gone: the old password still logs in from the hash, the
	 * new one does not, and the sealed password is the old one. */
	ck_assert_int_eq(login(hook, "ivo@example.test", "old", "imap", &reply), AUTHHOOK_OK);
	authhook_reply_free(&reply);
	ck_assert_int_eq(login(hook, "ivo@example.test", "new", "imap", &reply),
			 AUTHHOOK_TEMPFAIL);
	authhook_reply_free(&reply);
	authhook_deinit(&hook);
	pw = sealed_password("ivo@example.test");
	ck_assert_str_eq(pw, "old");
	mm_free_secret(&pw);
	ck_assert_ptr_null(strstr(logbuf, "new\""));
}
END_TEST

/* source_tls = detect, and the store remembers that OLD completed
 * STARTTLS: an OLD offering none now gets no password (the script's
 * LOGIN never comes), the login is a temporary failure, no account is
 * created and no hash replaced, and an error event says why. */
START_TEST(downgrade_refused)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1] stripped\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 LOGIN", 0, 0 },
		{ FAKE_SEND, "M1 OK forged\r\n", 0, 0 },
		{ FAKE_EXPECT, "M2 LOGOUT\r", 0, 0 },
		{ FAKE_SEND, "* BYE\r\nM2 OK bye\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct authhook_reply reply;
	struct authhook *hook;
	struct fakeserver fs;
	struct store *store;
	const char *error;
	char *pw;

	/* An account with its password, made while OLD was honest. */
	hook = hook_open(closed_port(), "source_tls = detect", NULL);
	authhook_deinit(&hook);
	store = peek();
	{
		struct crypto_key key;
		struct store_account acct = { 0 };
		char keypath[128], *hash;

		snprintf(keypath, sizeof(keypath), "%s/key", dir);
		ck_assert_int_eq(crypto_key_load(keypath, &key, &error), 0);
		store_set_key(store, &key);
		crypto_key_wipe(&key);
		ck_assert_int_eq(crypto_hash_password("old", &hash, &error), 0);
		acct.name = "jo@example.test";
		acct.domain = "example.test";
		acct.state = STORE_STATE_QUEUED;
		acct.password_hash = hash;
		ck_assert_int_eq(store_account_create(store, &acct, "old", 1000, &error), 0);
		mm_free(&hash);
	}
	ck_assert_int_eq(store_tls_seen_add(store, "example.test", STORE_TLS_IMAP,
					    90000, &error), 0);
	store_close(&store);

	for (int i = 0; i < 2; i++) {
		/* An unknown user, then the known one with another password. */
		const char *user = i == 0 ? "kai@example.test" : "jo@example.test";

		ck_assert_int_eq(fakeserver_start(script, &fs), 0);
		hook = hook_open(fs.port, "source_tls = detect", NULL);
		ck_assert_int_eq(login(hook, user, "new", "imap", &reply),
				 AUTHHOOK_TEMPFAIL);
		authhook_reply_free(&reply);
		authhook_deinit(&hook);
		/* The script did not complete: no LOGIN reached it. */
		ck_assert(!fakeserver_stop(&fs));
	}
	ck_assert_int_eq(account_state("kai@example.test"), -1);
	ck_assert_ptr_nonnull(strstr(logbuf, "kai@example.test: login refused for now: "
				     "127.0.0.1 no longer offers STARTTLS (it did on "));
	ck_assert(has_event("kai@example.test", "possibly a downgrade attack"));
	pw = sealed_password("jo@example.test");
	ck_assert_str_eq(pw, "old");
	mm_free_secret(&pw);
}
END_TEST

/* Beyond auth_rate_user checks in the window: a temporary failure. */
START_TEST(rate_limited)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1] old\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 LOGIN", 0, 0 },
		{ FAKE_SEND, "M1 NO [AUTHENTICATIONFAILED] no\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct authhook_reply reply;
	struct authhook *hook;
	struct fakeserver fs;

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	hook = hook_open(fs.port, NULL, "auth_rate_user = 1");
	ck_assert_int_eq(login(hook, "jo@example.test", "a", "imap", &reply),
			 AUTHHOOK_MISMATCH);
	authhook_reply_free(&reply);
	ck_assert(fakeserver_stop(&fs));
	ck_assert_int_eq(login(hook, "jo@example.test", "b", "imap", &reply),
			 AUTHHOOK_TEMPFAIL);
	authhook_reply_free(&reply);
	ck_assert_ptr_nonnull(strstr(logbuf, "too many checks"));
	/* The next window. */
	authhook_set_now(hook, 100000 + 61);
	ck_assert_int_eq(login(hook, "jo@example.test", "b", "imap", &reply),
			 AUTHHOOK_TEMPFAIL);	/* asked OLD: down now */
	authhook_reply_free(&reply);
	ck_assert_ptr_nonnull(strstr(logbuf, "cannot check the password"));
	authhook_deinit(&hook);
}
END_TEST

/* An IPv6 client has a /64 to pick addresses from: the per-address
 * limit holds for the whole /64, not per address. */
START_TEST(rate_limited_ipv6_prefix)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "* OK [CAPABILITY IMAP4rev1] old\r\n", 0, 0 },
		{ FAKE_EXPECT, "M1 LOGIN", 0, 0 },
		{ FAKE_SEND, "M1 NO [AUTHENTICATIONFAILED] no\r\n", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct authhook_reply reply;
	struct authhook *hook;
	struct fakeserver fs;

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	hook = hook_open(fs.port, NULL, "auth_rate_ip = 1");
	ck_assert_int_eq(login_from(hook, "ann@example.test", "a", "imap",
				    "2001:db8:1:2::10", &reply), AUTHHOOK_MISMATCH);
	authhook_reply_free(&reply);
	ck_assert(fakeserver_stop(&fs));
	/* Another user, another address of the same /64: limited. */
	logbuf[0] = '\0';
	ck_assert_int_eq(login_from(hook, "bob@example.test", "b", "imap",
				    "2001:db8:1:2:ffff:ffff:ffff:fffe", &reply),
			 AUTHHOOK_TEMPFAIL);
	authhook_reply_free(&reply);
	ck_assert_ptr_nonnull(strstr(logbuf, "too many checks"));
	/* Another /64: not limited (OLD is asked, and is down now). */
	logbuf[0] = '\0';
	ck_assert_int_eq(login_from(hook, "bob@example.test", "b", "imap",
				    "2001:db8:1:3::10", &reply), AUTHHOOK_TEMPFAIL);
	authhook_reply_free(&reply);
	ck_assert_ptr_null(strstr(logbuf, "too many checks"));
	ck_assert_ptr_nonnull(strstr(logbuf, "cannot check the password"));
	authhook_deinit(&hook);
}
END_TEST

/* The rate-limit key of a client address. */
static const struct {
	const char *ip, *key;
} ip_keys[] = {
	{ "192.0.2.7", "ip:192.0.2.7" },
	{ "2001:db8:1:2:3:4:5:6", "ip6:2001:db8:1:2::/64" },
	{ "2001:DB8:1:2::ffff", "ip6:2001:db8:1:2::/64" },
	{ "2001:db8:1:3::1", "ip6:2001:db8:1:3::/64" },
	{ "::1", "ip6:::/64" },
	{ "fe80::1%eth0", "ip6:fe80::/64" },
	{ "::ffff:192.0.2.7", "ip:192.0.2.7" },
	{ "", "ip:" },
	{ "not an address", "ip:not an address" },
};

START_TEST(rate_ip_key)
{
	char key[80];

	authhook_rate_ip_key(ip_keys[_i].ip, key, sizeof(key));
	ck_assert_str_eq(key, ip_keys[_i].key);
}
END_TEST

static const struct {
	const char *template, *account, *expect;
} expansions[] = {
	{ "/var/vmail/%d/%n", "ann@example.test", "/var/vmail/example.test/ann" },
	{ "%u", "ann@example.test", "ann@example.test" },
	{ "100%% %x %", "a@b.c", "100% %x %" },
	{ "", "a@b.c", "" },
};

START_TEST(expand)
{
	char *out = authhook_expand(expansions[_i].template, expansions[_i].account);

	ck_assert_str_eq(out, expansions[_i].expect);
	mm_free(&out);
}
END_TEST

START_TEST(notice_text)
{
	char path[160], *text;
	const char *error;
	FILE *f;

	snprintf(path, sizeof(path), "%s/notice", dir);
	ck_assert_int_eq(authhook_notice_text(path, "a@b.test", &text, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "cannot open notice_message"));
	f = fopen(path, "w");
	fputs("Subject: moving %u\n\nHi %n at %d.\n", f);
	fclose(f);
	ck_assert_int_eq(authhook_notice_text(path, "a@b.test", &text, &error), 0);
	ck_assert_str_eq(text, "Subject: moving a@b.test\n\nHi a at b.test.\n");
	mm_free(&text);
	f = fopen(path, "w");
	for (int i = 0; i < 70000; i++)
		fputc('x', f);
	fclose(f);
	ck_assert_int_eq(authhook_notice_text(path, "a@b.test", &text, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "over"));
}
END_TEST

/* The notice goes by LMTP, dot-stuffed, to the account. */
START_TEST(notice_lmtp)
{
	static const struct fakeserver_step script[] = {
		{ FAKE_SEND, "220 lmtp ready\r\n", 0, 0 },
		{ FAKE_EXPECT, "LHLO mailmigrate\r", 0, 0 },
		{ FAKE_SEND, "250-new\r\n250 PIPELINING\r\n", 0, 0 },
		{ FAKE_EXPECT, "MAIL FROM:<>\r", 0, 0 },
		{ FAKE_SEND, "250 ok\r\n", 0, 0 },
		{ FAKE_EXPECT, "RCPT TO:<k@example.test>\r", 0, 0 },
		{ FAKE_SEND, "250 ok\r\n", 0, 0 },
		{ FAKE_EXPECT, "DATA\r", 0, 0 },
		{ FAKE_SEND, "354 go\r\n", 0, 0 },
		{ FAKE_EXPECT, "Date: ", 0, 0 },
		{ FAKE_EXPECT, "Message-ID: <mailmigrate.", 0, 0 },
		{ FAKE_EXPECT, "Subject: hi\r", 0, 0 },
		{ FAKE_EXPECT, "\r", 0, 0 },
		{ FAKE_EXPECT, "..dot\r", 0, 0 },
		{ FAKE_EXPECT, ".\r", 0, 0 },
		{ FAKE_SEND, "250 2.0.0 <k@example.test> saved\r\n", 0, 0 },
		{ FAKE_EXPECT, "QUIT\r", 0, 0 },
		{ FAKE_END, NULL, 0, 0 },
	};
	struct fakeserver fs;
	char target[64];
	const char *error;

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	snprintf(target, sizeof(target), "inet:127.0.0.1:%u", fs.port);
	ck_assert_msg(authhook_notice_deliver(target, "k@example.test",
		"Subject: hi\n\n.dot\n", 2000, &error) == 0, "%s", error);
	ck_assert(fakeserver_stop(&fs));
	snprintf(target, sizeof(target), "inet:127.0.0.1:%u", closed_port());
	ck_assert_int_eq(authhook_notice_deliver(target, "k@example.test", "x", 2000,
						 &error), -1);
}
END_TEST

/* source_auth = xoauth2: OLD takes tokens, so it is never asked for a
 * password. An unknown user is a temporary failure that says why (even
 * though OLD, here, would say yes); a known one has its stored hash. */
START_TEST(oauth_domain)
{
	static const struct fakeserver_step script[] = {
		IMAP_OK("ivy@example.test", "pw"),
	};
	struct authhook_reply reply;
	struct store_account acct = { 0 };
	struct fakeserver fs;
	struct authhook *hook;
	struct store *store;
	const char *error;
	char *hash;

	ck_assert_int_eq(fakeserver_start(script, &fs), 0);
	hook = hook_open(fs.port, "source_auth = xoauth2\n"
			 "source_oauth2_token_command = /bin/false", NULL);
	ck_assert_int_eq(login(hook, "ivy@example.test", "pw", "imap", &reply),
			 AUTHHOOK_TEMPFAIL);
	authhook_reply_free(&reply);
	ck_assert_int_eq(account_state("ivy@example.test"), -1);
	ck_assert(!has_job("ivy@example.test"));
	ck_assert_msg(strstr(logbuf, "warning: ivy@example.test: not migrated: "
			     "[domain example.test] has source_auth = xoauth2, so "
			     "OLD cannot check a password; add the account with "
			     "`mailmigrate add` or `bulk`") != NULL, "%s", logbuf);
	ck_assert_ptr_null(strstr(logbuf, "pw"));
	/* OLD was never contacted: its script did not run. */
	ck_assert(!fakeserver_stop(&fs));

	/* Added by the administrator: the stored hash decides, then
	 * login_action (reject); a wrong password is wrong. */
	ck_assert_int_eq(crypto_hash_password("new pw", &hash, &error), 0);
	acct.name = (char *)"jo@example.test";
	acct.domain = (char *)"example.test";
	acct.state = STORE_STATE_QUEUED;
	acct.password_hash = hash;
	store = peek();
	ck_assert_int_eq(store_account_create(store, &acct, NULL, 1, &error), 0);
	store_close(&store);
	mm_free(&hash);
	ck_assert_int_eq(login(hook, "jo@example.test", "new pw", "imap", &reply),
			 AUTHHOOK_OK);
	ck_assert_pstr_eq(authhook_reply_get(&reply, "nologin"), "y");
	authhook_reply_free(&reply);
	ck_assert_int_eq(login(hook, "jo@example.test", "other", "imap", &reply),
			 AUTHHOOK_MISMATCH);
	authhook_reply_free(&reply);
	authhook_deinit(&hook);
}
END_TEST

static Suite *authhook_suite(void)
{
	Suite *s = suite_create("authhook");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, first_login_actions, 0,
			    sizeof(actions) / sizeof(actions[0]));
	tcase_add_test(tc, key_not_upgraded);
	tcase_add_test(tc, wrong_password_cached);
	tcase_add_test(tc, old_down_or_busy);
	tcase_add_test(tc, pop3_passwords_only);
	tcase_add_test(tc, local_accounts);
	tcase_add_test(tc, oauth_domain);
	tcase_add_test(tc, bind_ip_domain);
	tcase_add_loop_test(tc, password_changed_on_old_unverified, 0,
			    sizeof(unverified_modes) / sizeof(unverified_modes[0]));
	tcase_add_test(tc, downgrade_refused);
	tcase_add_test(tc, rate_limited);
	tcase_add_test(tc, rate_limited_ipv6_prefix);
	tcase_add_loop_test(tc, rate_ip_key, 0, sizeof(ip_keys) / sizeof(ip_keys[0]));
	tcase_add_loop_test(tc, expand, 0, sizeof(expansions) / sizeof(expansions[0]));
	tcase_add_test(tc, notice_text);
	tcase_add_test(tc, notice_lmtp);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(authhook_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
