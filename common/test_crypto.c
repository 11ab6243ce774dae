/*
 * NAME
 *	test_crypto 1
 * SUMMARY
 *	unit tests for the key file, sealing and password hashes
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto.h"
#include "mm_alloc.h"

static char tmpdir[64];

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/mmcrypto.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static char *tmppath(const char *name)
{
	return mm_asprintf("%s/%s", tmpdir, name);
}

START_TEST(key_create_and_load)
{
	char *path = tmppath("key");
	struct crypto_key k1, k2;
	struct stat st;
	const char *error;

	ck_assert_int_eq(crypto_key_create(path, &error), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_size, CRYPTO_KEY_FILE_LEN);
	ck_assert_int_eq(crypto_key_load(path, &k1, &error), 0);
	ck_assert_int_eq(crypto_key_load(path, &k2, &error), 0);
	ck_assert_mem_eq(k1.bytes, k2.bytes, CRYPTO_KEY_LEN);
	ck_assert_mem_eq(k1.private_key, k2.private_key, CRYPTO_X25519_LEN);
	ck_assert_uint_eq(k1.have, CRYPTO_HAVE_LEGACY | CRYPTO_HAVE_PRIVATE |
			  CRYPTO_HAVE_PUBLIC);
	/* The key_file holds no MAC key: that is public_key_file's. */
	ck_assert_int_eq(crypto_mac(&k1, "x", "y", 1, (unsigned char[CRYPTO_MAC_LEN]){ 0 },
				    &error), -1);
	/* An existing key is never overwritten. */
	ck_assert_int_eq(crypto_key_create(path, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "cannot create key file"));
	ck_assert_int_eq(crypto_key_load(path, &k2, &error), 0);
	ck_assert_mem_eq(k1.bytes, k2.bytes, CRYPTO_KEY_LEN);
	/* Readable by the store's group (the auth workers) is fine. */
	ck_assert_int_eq(chmod(path, 0640), 0);
	ck_assert_int_eq(crypto_key_load(path, &k2, &error), 0);
	ck_assert_mem_eq(k1.bytes, k2.bytes, CRYPTO_KEY_LEN);
	crypto_key_wipe(&k1);
	for (size_t i = 0; i < CRYPTO_KEY_LEN; i++)
		ck_assert_uint_eq(k1.bytes[i], 0);
	mm_free(&path);
}
END_TEST

/* Key files that must be refused, each with its reason. */
static const struct {
	const char *what;
	mode_t mode;
	size_t size;
	const char *expect;
} bad_keys[] = {
	{ "group-writable", 0660, CRYPTO_KEY_LEN, "writable by group or accessible by others" },
	{ "world-readable", 0604, CRYPTO_KEY_LEN, "writable by group or accessible by others" },
	{ "group-write-only", 0620, CRYPTO_KEY_LEN, "writable by group or accessible by others" },
	{ "short", 0600, 31, "has 31 bytes, not 64 (or 32, the old layout)" },
	{ "long", 0600, 33, "has 33 bytes, not 64" },
	{ "longer", 0600, 65, "has 65 bytes, not 64" },
	{ "empty", 0600, 0, "has 0 bytes, not 64" },
};

START_TEST(key_refused)
{
	char *path = tmppath("badkey");
	unsigned char buf[80] = { 1 };
	struct crypto_key key;
	const char *error;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, bad_keys[_i].size), (ssize_t)bad_keys[_i].size);
	close(fd);
	ck_assert_int_eq(chmod(path, bad_keys[_i].mode), 0);
	ck_assert_int_eq(crypto_key_load(path, &key, &error), -1);
	ck_assert_msg(strstr(error, bad_keys[_i].expect) != NULL,
		      "%s: got '%s'", bad_keys[_i].what, error);
	ck_assert_ptr_nonnull(strstr(error, path));
	mm_free(&path);
}
END_TEST

START_TEST(key_missing)
{
	char *path = tmppath("nokey");
	struct crypto_key key;
	const char *error;

	ck_assert_int_eq(crypto_key_load(path, &key, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "No such file"));
	ck_assert_ptr_nonnull(strstr(error, "mailmigrate init"));
	/* A directory is not a key file. */
	ck_assert_int_eq(crypto_key_load(tmpdir, &key, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "not a regular file"));
	mm_free(&path);
}
END_TEST

/* Write a key file of n bytes of fill (mode 0600) at name. */
static char *write_key(const char *name, unsigned char fill, size_t n)
{
	unsigned char buf[CRYPTO_KEY_FILE_LEN];
	char *path = tmppath(name);
	int fd;

	memset(buf, fill, sizeof(buf));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
	close(fd);
	return path;
}

/* A full key (version-1 key and X25519 pair) made of fill bytes,
 * through a key file as the programs load it. */
static void make_key(struct crypto_key *key, unsigned char fill)
{
	char name[32], *path;
	const char *error;

	snprintf(name, sizeof(name), "key%u", fill);
	path = write_key(name, fill, CRYPTO_KEY_FILE_LEN);
	ck_assert_int_eq(crypto_key_load(path, key, &error), 0);
	ck_assert_uint_eq(key->have, CRYPTO_HAVE_LEGACY | CRYPTO_HAVE_PRIVATE |
			  CRYPTO_HAVE_PUBLIC);
	mm_free(&path);
}

START_TEST(seal_roundtrip)
{
	static const char *const secrets[] = {
		"", "x", "p@ss word \"quoted\" 'single'", "pässwörd-ñ-日本",
	};
	struct crypto_key key;
	const char *error;

	make_key(&key, 7);
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		unsigned char *sealed;
		size_t len;
		char *plain;

		ck_assert_int_eq(crypto_seal(&key, "a@b.test", secrets[i],
					     strlen(secrets[i]), &sealed, &len,
					     &error), 0);
		ck_assert_uint_eq(len, CRYPTO_SEAL2_OVERHEAD + strlen(secrets[i]));
		ck_assert_uint_eq(sealed[0], 2);
		/* The plaintext is not in the sealed bytes. */
		if (strlen(secrets[i]) > 3)
			ck_assert_ptr_null(memmem(sealed, len, secrets[i],
						  strlen(secrets[i])));
		ck_assert_int_eq(crypto_open(&key, "a@b.test", sealed, len, &plain,
					     &error), 0);
		ck_assert_str_eq(plain, secrets[i]);
		mm_free_secret(&plain);
		ck_assert_ptr_null(plain);
		mm_free(&sealed);
	}
}
END_TEST

START_TEST(seal_long_secret)
{
	char secret[500 + 1];
	struct crypto_key key;
	unsigned char *sealed;
	const char *error;
	size_t len;
	char *plain;
	char *big;

	memset(secret, 'z', 500);
	secret[500] = '\0';
	make_key(&key, 1);
	ck_assert_int_eq(crypto_seal(&key, "u@d", secret, 500, &sealed, &len, &error), 0);
	ck_assert_int_eq(crypto_open(&key, "u@d", sealed, len, &plain, &error), 0);
	ck_assert_str_eq(plain, secret);
	mm_free_secret(&plain);
	mm_free(&sealed);

	big = mm_calloc(1, CRYPTO_MAX_SECRET + 1);
	ck_assert_int_eq(crypto_seal(&key, "u@d", big, CRYPTO_MAX_SECRET + 1,
				     &sealed, &len, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "over"));
	mm_free(&big);
}
END_TEST

START_TEST(seal_tamper)
{
	struct crypto_key key, other;
	unsigned char *sealed;
	const char *error;
	char *plain = NULL;
	size_t len;

	make_key(&key, 3);
	make_key(&other, 4);
	ck_assert_int_eq(crypto_seal(&key, "a@b", "secret", 6, &sealed, &len, &error), 0);
	/* Wrong key, wrong account, each altered byte: all refused. */
	ck_assert_int_eq(crypto_open(&other, "a@b", sealed, len, &plain, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "does not open"));
	ck_assert_int_eq(crypto_open(&key, "c@b", sealed, len, &plain, &error), -1);
	for (size_t i = 1; i < len; i++) {
		sealed[i] ^= 0x40;
		ck_assert_int_eq(crypto_open(&key, "a@b", sealed, len, &plain, &error), -1);
		sealed[i] ^= 0x40;
	}
	sealed[0] = 9;
	ck_assert_int_eq(crypto_open(&key, "a@b", sealed, len, &plain, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "unknown version"));
	/* Relabelled as a version-1 record: refused too. */
	sealed[0] = 1;
	ck_assert_int_eq(crypto_open(&key, "a@b", sealed, len, &plain, &error), -1);
	sealed[0] = 2;
	ck_assert_int_eq(crypto_open(&key, "a@b", sealed, CRYPTO_SEAL2_OVERHEAD - 1,
				     &plain, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "bad length"));
	ck_assert_ptr_null(plain);
	/* Untouched, it opens. */
	ck_assert_int_eq(crypto_open(&key, "a@b", sealed, len, &plain, &error), 0);
	ck_assert_str_eq(plain, "secret");
	mm_free_secret(&plain);
	mm_free(&sealed);
}
END_TEST

/* The auth workers' view: public_key_file seals, and opens nothing;
 * key_file's private key opens (issue 9). */
START_TEST(seal_public_open_private)
{
	char *pub = tmppath("key.pub");
	struct crypto_key priv, pubkey, other;
	unsigned char *sealed;
	const char *error;
	char *plain = NULL;
	struct stat st;
	size_t len;

	make_key(&priv, 21);
	make_key(&other, 22);
	ck_assert_int_eq(crypto_public_create(&priv, pub, &error), 0);
	ck_assert_int_eq(stat(pub, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_size, CRYPTO_PUBLIC_FILE_LEN);
	/* Never overwritten. */
	ck_assert_int_eq(crypto_public_create(&priv, pub, &error), -1);
	ck_assert_int_eq(crypto_public_check(&priv, pub, &error), 0);
	ck_assert_int_eq(crypto_public_check(&other, pub, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "does not hold the public key"));
	/* Group dovecot may read it (0640), others not. */
	ck_assert_int_eq(chmod(pub, 0640), 0);
	ck_assert_int_eq(crypto_public_load(pub, &pubkey, &error), 0);
	ck_assert_uint_eq(pubkey.have, CRYPTO_HAVE_PUBLIC | CRYPTO_HAVE_MAC);
	ck_assert_mem_eq(pubkey.public_key, priv.public_key, CRYPTO_X25519_LEN);
	ck_assert_int_eq(crypto_seal(&pubkey, "a@b", "pw-captured", 11, &sealed,
				     &len, &error), 0);
	ck_assert_int_eq(crypto_open(&pubkey, "a@b", sealed, len, &plain, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "no private key"));
	ck_assert_int_eq(crypto_open(&other, "a@b", sealed, len, &plain, &error), -1);
	ck_assert_ptr_null(plain);
	ck_assert_int_eq(crypto_open(&priv, "a@b", sealed, len, &plain, &error), 0);
	ck_assert_str_eq(plain, "pw-captured");
	mm_free_secret(&plain);
	mm_free(&sealed);
	/* A version-1 record cannot be made or opened with it either. */
	ck_assert_int_eq(crypto_seal_legacy(&pubkey, "a@b", "x", 1, &sealed, &len,
					    &error), -1);
	ck_assert_int_eq(chmod(pub, 0604), 0);
	ck_assert_int_eq(crypto_public_load(pub, &pubkey, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "accessible by others"));
	crypto_key_wipe(&pubkey);
	mm_free(&pub);
}
END_TEST

/* A store sealed with an old 32-byte key_file still opens after
 * `mailmigrate init` added the key pair (crypto_key_upgrade). */
START_TEST(legacy_records_open)
{
	char *path = write_key("old.key", 0x5a, CRYPTO_KEY_LEN);
	struct crypto_key old, key;
	unsigned char *v1, *v2;
	size_t l1, l2;
	const char *error;
	char *plain = NULL;
	struct stat st;

	ck_assert_int_eq(chmod(path, 0640), 0);
	ck_assert_int_eq(crypto_key_load(path, &old, &error), 0);
	ck_assert_uint_eq(old.have, CRYPTO_HAVE_LEGACY);
	ck_assert_int_eq(crypto_seal_legacy(&old, "a@b", "old-pw", 6, &v1, &l1,
					    &error), 0);
	ck_assert_uint_eq(v1[0], 1);
	ck_assert_uint_eq(l1, CRYPTO_SEAL_OVERHEAD + 6);
	ck_assert_int_eq(crypto_open(&old, "a@b", v1, l1, &plain, &error), 0);
	mm_free_secret(&plain);
	/* The old key alone (an install not yet upgraded) seals as it did
	 * before: version 1, which that key opens. */
	ck_assert_int_eq(crypto_seal(&old, "a@b", "x", 1, &v2, &l2, &error), 0);
	ck_assert_uint_eq(v2[0], 1);
	ck_assert_int_eq(crypto_open(&old, "a@b", v2, l2, &plain, &error), 0);
	ck_assert_str_eq(plain, "x");
	mm_free_secret(&plain);
	mm_free(&v2);
	/* Nothing to seal with at all: refused, saying what to do. */
	{
		struct crypto_key none = { .have = CRYPTO_HAVE_MAC };

		ck_assert_int_eq(crypto_seal(&none, "a@b", "x", 1, &v2, &l2, &error), -1);
		ck_assert_ptr_nonnull(strstr(error, "mailmigrate init"));
	}
	/* Upgrade: the old key kept, the pair added, mode kept; twice is
	 * a no-op. */
	ck_assert_int_eq(crypto_key_upgrade(path, &error), 1);
	ck_assert_int_eq(crypto_key_upgrade(path, &error), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	ck_assert_int_eq(st.st_size, CRYPTO_KEY_FILE_LEN);
	ck_assert_int_eq(crypto_key_load(path, &key, &error), 0);
	ck_assert_mem_eq(key.bytes, old.bytes, CRYPTO_KEY_LEN);
	ck_assert_int_eq(crypto_open(&key, "a@b", v1, l1, &plain, &error), 0);
	ck_assert_str_eq(plain, "old-pw");
	mm_free_secret(&plain);
	/* The old record still wants its account and every byte. */
	ck_assert_int_eq(crypto_open(&key, "c@b", v1, l1, &plain, &error), -1);
	v1[l1 - 1] ^= 1;
	ck_assert_int_eq(crypto_open(&key, "a@b", v1, l1, &plain, &error), -1);
	ck_assert_ptr_null(plain);
	/* New seals are version 2. */
	ck_assert_int_eq(crypto_seal(&key, "a@b", "new-pw", 6, &v2, &l2, &error), 0);
	ck_assert_uint_eq(v2[0], 2);
	ck_assert_int_eq(crypto_open(&key, "a@b", v2, l2, &plain, &error), 0);
	ck_assert_str_eq(plain, "new-pw");
	mm_free_secret(&plain);
	mm_free(&v1);
	mm_free(&v2);
	crypto_key_wipe(&old);
	crypto_key_wipe(&key);
	mm_free(&path);
}
END_TEST

START_TEST(seal_nonce_fresh)
{
	struct crypto_key key;
	unsigned char *s1, *s2;
	size_t l1, l2;
	const char *error;

	make_key(&key, 5);
	ck_assert_int_eq(crypto_seal(&key, "a@b", "same", 4, &s1, &l1, &error), 0);
	ck_assert_int_eq(crypto_seal(&key, "a@b", "same", 4, &s2, &l2, &error), 0);
	ck_assert_uint_eq(l1, l2);
	ck_assert_int_ne(memcmp(s1, s2, l1), 0);
	mm_free(&s1);
	mm_free(&s2);
}
END_TEST

START_TEST(hash_verify)
{
	static const char *const pws[] = {
		"secret", "with space", "qu\"ote's", "nön-äscii-日本", "",
	};
	const char *error;

	for (size_t i = 0; i < sizeof(pws) / sizeof(pws[0]); i++) {
		char *hash;

		ck_assert_int_eq(crypto_hash_password(pws[i], &hash, &error), 0);
		ck_assert_msg(strncmp(hash, "{SHA512-CRYPT}$6$", 17) == 0, "%s", hash);
		ck_assert_int_eq(crypto_verify_password(pws[i], hash, &error), 1);
		ck_assert_int_eq(crypto_verify_password("wrong", hash, &error), 0);
		mm_free(&hash);
	}
}
END_TEST

START_TEST(hash_known_and_bad)
{
	/* Made with `doveadm pw -s SHA512-CRYPT -p test`. */
	const char *known = "{SHA512-CRYPT}$6$IN.OJiPNz.EFpF7Q$61C2oAejX8kyqWLS37KeFoeXd.vNilmmD5rg9VBr5Rw3sm0r.VbKw0LBm6Ha7iAwlf9XPxTGTNXxK6KTZG6Sg.";
	const char *error;
	char *hash;

	ck_assert_int_eq(crypto_verify_password("test", known, &error), 1);
	ck_assert_int_eq(crypto_verify_password("Test", known, &error), 0);
	ck_assert_int_eq(crypto_verify_password("x", "{PLAIN}x", &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "unsupported"));
	ck_assert_int_eq(crypto_verify_password("x", "$6$abc$def", &error), -1);
	/* Salts differ between two hashes of one password. */
	ck_assert_int_eq(crypto_hash_password("same", &hash, &error), 0);
	ck_assert_int_ne(strcmp(hash, known), 0);
	mm_free(&hash);
}
END_TEST

/* doveadm pw -t accepts our hash, when doveadm is installed. */
START_TEST(hash_doveadm_accepts)
{
	const char *error;
	char *hash, *cmd;
	int status;

	if (access("/usr/bin/doveadm", X_OK) != 0)
		return;
	ck_assert_int_eq(crypto_hash_password("doveadm-check", &hash, &error), 0);
	/* The hash is not secret; the test password goes on stdin. */
	cmd = mm_asprintf("echo doveadm-check | /usr/bin/doveadm pw -t '%s' >/dev/null 2>&1", hash);
	status = system(cmd);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "doveadm pw -t refused %s", hash);
	mm_free(&cmd);
	mm_free(&hash);
}
END_TEST

/* Password files: the first line only, its line end cut; nothing else. */
START_TEST(read_secret)
{
	static const struct {
		const char *content, *expect;	/* expect NULL: an error */
	} cases[] = {
		{ "master pw\r\nsecond line\n", "master pw" },
		{ "no newline at all", "no newline at all" },
		{ "p\xc3\xa4ss \"q\"\n", "p\xc3\xa4ss \"q\"" },
		{ "", NULL },
		{ "\nsecond line\n", NULL },
	};
	char *path = tmppath("secret"), *got;
	const char *error;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		FILE *f = fopen(path, "w");

		ck_assert_ptr_nonnull(f);
		fputs(cases[i].content, f);
		fclose(f);
		ck_assert_int_eq(chmod(path, 0600), 0);
		got = NULL;
		if (cases[i].expect != NULL) {
			ck_assert_int_eq(crypto_read_secret(path, &got, &error), 0);
			ck_assert_str_eq(got, cases[i].expect);
			mm_free_secret(&got);
		} else {
			ck_assert_int_eq(crypto_read_secret(path, &got, &error), -1);
			ck_assert_ptr_nonnull(strstr(error, "no password on its first line"));
			ck_assert_ptr_null(got);
		}
	}
	unlink(path);
	ck_assert_int_eq(crypto_read_secret(path, &got, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "No such file"));
	mm_free(&path);
}
END_TEST

/* A password file others could read or change, or a symbolic link,
 * is refused (issue 9); group read is allowed, as for the key file. */
static const struct {
	mode_t mode;
	int symlink;
	const char *expect;	/* NULL: accepted */
} secret_files[] = {
	{ 0600, 0, NULL },
	{ 0400, 0, NULL },
	{ 0640, 0, NULL },
	{ 0660, 0, "writable by group or accessible by others (mode 0660)" },
	{ 0620, 0, "writable by group or accessible by others (mode 0620)" },
	{ 0604, 0, "writable by group or accessible by others (mode 0604)" },
	{ 0644, 0, "writable by group or accessible by others (mode 0644)" },
	{ 0602, 0, "writable by group or accessible by others (mode 0602)" },
	{ 0600, 1, "a symbolic link: refused" },
};

START_TEST(read_secret_refused)
{
	char *path = tmppath("secret"), *link = tmppath("link"), *got = NULL;
	const char *error;
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs("pw\n", f);
	fclose(f);
	ck_assert_int_eq(chmod(path, secret_files[_i].mode), 0);
	if (secret_files[_i].symlink)
		ck_assert_int_eq(symlink(path, link), 0);
	if (secret_files[_i].expect == NULL) {
		ck_assert_int_eq(crypto_read_secret(path, &got, &error), 0);
		ck_assert_str_eq(got, "pw");
		mm_free_secret(&got);
	} else {
		ck_assert_int_eq(crypto_read_secret(secret_files[_i].symlink ?
						    link : path, &got, &error), -1);
		ck_assert_msg(strstr(error, secret_files[_i].expect) != NULL,
			      "%s", error);
		ck_assert_ptr_null(got);
	}
	/* A directory is no password file either. */
	ck_assert_int_eq(crypto_read_secret(tmpdir, &got, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "not a regular file"));
	mm_free(&path);
	mm_free(&link);
}
END_TEST

/* After crypto_harden_process(): no core file, not dumpable (in the
 * forked test process, so the runner keeps its own settings). */
START_TEST(harden_process)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	const char *error;

	(void)setrlimit(RLIMIT_CORE, &rl);
	ck_assert_int_eq(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), 0);
	ck_assert_int_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
	ck_assert_int_eq(crypto_harden_process(&error), 0);
	ck_assert_int_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
	ck_assert_int_eq(getrlimit(RLIMIT_CORE, &rl), 0);
	ck_assert_uint_eq(rl.rlim_cur, 0);
	ck_assert_uint_eq(rl.rlim_max, 0);
}
END_TEST

/* The MAC is stable for one key and label, and differs when either
 * or the data changes. */
START_TEST(mac_keyed)
{
	struct crypto_key k1, k2;
	unsigned char a[CRYPTO_MAC_LEN], b[CRYPTO_MAC_LEN];
	const char *error;

	memset(&k1, 0, sizeof(k1));
	memset(&k2, 0, sizeof(k2));
	memset(k1.mac_key, 1, sizeof(k1.mac_key));
	memset(k2.mac_key, 2, sizeof(k2.mac_key));
	k1.have = k2.have = CRYPTO_HAVE_MAC;
	ck_assert_int_eq(crypto_mac(&k1, "neg", "u\0p", 3, a, &error), 0);
	ck_assert_int_eq(crypto_mac(&k1, "neg", "u\0p", 3, b, &error), 0);
	ck_assert_mem_eq(a, b, CRYPTO_MAC_LEN);
	ck_assert_int_eq(crypto_mac(&k2, "neg", "u\0p", 3, b, &error), 0);
	ck_assert(memcmp(a, b, CRYPTO_MAC_LEN) != 0);
	ck_assert_int_eq(crypto_mac(&k1, "other", "u\0p", 3, b, &error), 0);
	ck_assert(memcmp(a, b, CRYPTO_MAC_LEN) != 0);
	ck_assert_int_eq(crypto_mac(&k1, "neg", "u\0q", 3, b, &error), 0);
	ck_assert(memcmp(a, b, CRYPTO_MAC_LEN) != 0);
	/* The data is not in the MAC in any plain form. */
	ck_assert_ptr_null(memmem(a, sizeof(a), "u\0p", 3));
}
END_TEST

/* Passwords SHA512-CRYPT cannot take get {PBKDF2}, which Dovecot's
 * own hashes (doveadm pw -s PBKDF2) match and doveadm accepts. */
START_TEST(hash_long_password)
{
	char pw[700], *hash, *cmd, path[] = "/tmp/mmpw.XXXXXX";
	const char *error;
	int fd, status;

	memset(pw, 'L', sizeof(pw) - 1);
	pw[sizeof(pw) - 1] = '\0';
	ck_assert_int_eq(crypto_hash_password(pw, &hash, &error), 0);
	ck_assert_msg(strncmp(hash, "{PBKDF2}$1$", 11) == 0, "%s", hash);
	ck_assert_int_eq(crypto_verify_password(pw, hash, &error), 1);
	pw[600] = 'x';
	ck_assert_int_eq(crypto_verify_password(pw, hash, &error), 0);
	pw[600] = 'L';
	/* 511 bytes is still SHA512-CRYPT. */
	pw[511] = '\0';
	mm_free(&hash);
	ck_assert_int_eq(crypto_hash_password(pw, &hash, &error), 0);
	ck_assert_msg(strncmp(hash, "{SHA512-CRYPT}", 14) == 0, "%s", hash);
	mm_free(&hash);
	pw[511] = 'L';
	/* Dovecot's own hash of "abc". */
	ck_assert_int_eq(crypto_verify_password("abc", "{PBKDF2}$1$UVwpZw.MP93Scr5z$5000$"
		"ae5fe86714695db5ae699dab8fbba1ad34db0701", &error), 1);
	ck_assert_int_eq(crypto_verify_password("abd", "{PBKDF2}$1$UVwpZw.MP93Scr5z$5000$"
		"ae5fe86714695db5ae699dab8fbba1ad34db0701", &error), 0);
	ck_assert_int_eq(crypto_verify_password("abc", "{PBKDF2}$1$x$5000$zz", &error), -1);
	if (access("/usr/bin/doveadm", X_OK) != 0)
		return;
	ck_assert_int_eq(crypto_hash_password(pw, &hash, &error), 0);
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, pw, strlen(pw)), (ssize_t)strlen(pw));
	ck_assert_int_eq(write(fd, "\n", 1), 1);
	close(fd);
	/* The password on stdin, never argv; a new session so that doveadm
	 * reads stdin, not a terminal. */
	cmd = mm_asprintf("setsid /usr/bin/doveadm -c /dev/null pw -t '%s' <%s >/dev/null 2>&1",
			  hash, path);
	status = system(cmd);
	unlink(path);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "doveadm pw -t refused %s", hash);
	mm_free(&cmd);
	mm_free(&hash);
}
END_TEST

static Suite *crypto_suite(void)
{
	Suite *s = suite_create("crypto");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, key_create_and_load);
	tcase_add_loop_test(tc, key_refused, 0, sizeof(bad_keys) / sizeof(bad_keys[0]));
	tcase_add_test(tc, key_missing);
	tcase_add_test(tc, seal_roundtrip);
	tcase_add_test(tc, seal_long_secret);
	tcase_add_test(tc, seal_tamper);
	tcase_add_test(tc, seal_nonce_fresh);
	tcase_add_test(tc, seal_public_open_private);
	tcase_add_test(tc, legacy_records_open);
	tcase_add_test(tc, hash_verify);
	tcase_add_test(tc, hash_known_and_bad);
	tcase_add_test(tc, hash_doveadm_accepts);
	tcase_add_test(tc, read_secret);
	tcase_add_loop_test(tc, read_secret_refused, 0,
			    sizeof(secret_files) / sizeof(secret_files[0]));
	tcase_add_test(tc, harden_process);
	tcase_add_test(tc, mac_keyed);
	tcase_add_test(tc, hash_long_password);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(crypto_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
