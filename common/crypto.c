/*
 * NAME
 *	crypto 3
 * SUMMARY
 *	the key file, AES-256-GCM for captured passwords, password hashes
 * DESCRIPTION
 *	OpenSSL does the cryptography and libxcrypt the crypt(3) hashes;
 *	this file only wires them with the checks an administrator needs:
 *	a key file that others can read is refused, not silently used.
 */
#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "crypto.h"
#include "mm_alloc.h"

#define CRYPTO_SEAL_VERSION 1

static char crypto_errbuf[512];

/* Format an error into the module's static buffer. */
static int crypto_fail(const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int crypto_fail(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(crypto_errbuf, sizeof(crypto_errbuf), fmt, ap);
	va_end(ap);
	*error_r = crypto_errbuf;
	return -1;
}

/* The last OpenSSL error as text (the queue is cleared). */
static const char *crypto_ossl_error(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "unknown OpenSSL error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

int crypto_random(void *buf, size_t n, const char **error_r)
{
	if (n > (size_t)INT32_MAX || RAND_bytes(buf, (int)n) != 1)
		return crypto_fail(error_r, "random bytes: %s", crypto_ossl_error());
	return 0;
}

/* write(2) all of buf, retrying on EINTR. */
static int crypto_write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int crypto_key_create(const char *path, const char **error_r)
{
	unsigned char key[CRYPTO_KEY_LEN];
	int fd, ret = 0;

	if (crypto_random(key, sizeof(key), error_r) < 0)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		mm_wipe(key, sizeof(key));
		return crypto_fail(error_r, "cannot create key file %s: %s", path,
				   strerror(errno));
	}
	if (fchmod(fd, 0600) < 0 || crypto_write_all(fd, key, sizeof(key)) < 0 ||
	    fsync(fd) < 0) {
		ret = crypto_fail(error_r, "cannot write key file %s: %s", path,
				  strerror(errno));
		unlink(path);
	}
	mm_wipe(key, sizeof(key));
	if (close(fd) < 0 && ret == 0) {
		ret = crypto_fail(error_r, "cannot write key file %s: %s", path,
				  strerror(errno));
		unlink(path);
	}
	return ret;
}

int crypto_key_load(const char *path, struct crypto_key *key_r,
		    const char **error_r)
{
	struct stat st;
	size_t got = 0;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return crypto_fail(error_r, "cannot open key file %s: %s%s", path,
				   strerror(errno),
				   errno == ENOENT ? " (run 'mailmigrate init')" : "");
	if (fstat(fd, &st) < 0) {
		close(fd);
		return crypto_fail(error_r, "cannot stat key file %s: %s", path,
				   strerror(errno));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return crypto_fail(error_r, "key file %s is not a regular file", path);
	}
	/* Group read is allowed: the Dovecot auth workers read the key
	 * through the store's group (contrib/dovecot/README). */
	if ((st.st_mode & 037) != 0) {
		close(fd);
		return crypto_fail(error_r,
				   "key file %s is writable by group or accessible "
				   "by others (mode %04o); refusing it: chmod 600 "
				   "(or 640 for the store's group) it",
				   path, (unsigned)(st.st_mode & 07777));
	}
	if (st.st_size != CRYPTO_KEY_LEN) {
		close(fd);
		return crypto_fail(error_r, "key file %s has %lld bytes, not %d",
				   path, (long long)st.st_size, CRYPTO_KEY_LEN);
	}
	while (got < CRYPTO_KEY_LEN) {
		ssize_t n = read(fd, key_r->bytes + got, CRYPTO_KEY_LEN - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			crypto_key_wipe(key_r);
			return crypto_fail(error_r, "cannot read key file %s: %s", path,
					   n < 0 ? strerror(errno) : "short file");
		}
		got += (size_t)n;
	}
	close(fd);
	return 0;
}

int crypto_read_secret(const char *path, char **secret_r, const char **error_r)
{
	char buf[CRYPTO_MAX_SECRET + 1];
	size_t got = 0, len;
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return crypto_fail(error_r, "cannot read %s: %s%s", path, strerror(errno),
				   errno == ELOOP ? " (a symbolic link: refused)" : "");
	if (fstat(fd, &st) < 0) {
		close(fd);
		return crypto_fail(error_r, "cannot stat %s: %s", path, strerror(errno));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return crypto_fail(error_r, "%s is not a regular file", path);
	}
	/* As for the key file: group read is allowed (the puller's group). */
	if ((st.st_mode & 027) != 0) {
		close(fd);
		return crypto_fail(error_r, "%s is writable by group or accessible by "
				   "others (mode %04o); refusing it: chmod 600 (or "
				   "640) it", path, (unsigned)(st.st_mode & 07777));
	}
	while (got < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			mm_wipe(buf, got);
			return crypto_fail(error_r, "cannot read %s: %s", path,
					   strerror(errno));
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	len = strcspn(buf, "\r\n");
	if (len == 0) {
		mm_wipe(buf, got);
		return crypto_fail(error_r, "%s holds no password on its first line", path);
	}
	*secret_r = mm_strndup(buf, len);
	mm_wipe(buf, got);
	return 0;
}

int crypto_harden_process(const char **error_r)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) < 0)
		return crypto_fail(error_r, "setrlimit(RLIMIT_CORE, 0): %s",
				   strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return crypto_fail(error_r, "prctl(PR_SET_DUMPABLE, 0): %s",
				   strerror(errno));
	return 0;
}

void crypto_key_wipe(struct crypto_key *key)
{
	mm_wipe(key->bytes, sizeof(key->bytes));
}

int crypto_seal(const struct crypto_key *key, const char *account,
		const void *secret, size_t len,
		unsigned char **sealed_r, size_t *sealed_len_r,
		const char **error_r)
{
	unsigned char *out, *nonce, *tag, *ct;
	EVP_CIPHER_CTX *ctx;
	int n, ok;

	if (len > CRYPTO_MAX_SECRET)
		return crypto_fail(error_r, "secret over %d bytes", CRYPTO_MAX_SECRET);
	out = mm_malloc(CRYPTO_SEAL_OVERHEAD + len);
	out[0] = CRYPTO_SEAL_VERSION;
	nonce = out + 1;
	tag = nonce + CRYPTO_NONCE_LEN;
	ct = tag + CRYPTO_TAG_LEN;
	if (crypto_random(nonce, CRYPTO_NONCE_LEN, error_r) < 0) {
		mm_free(&out);
		return -1;
	}
	ctx = EVP_CIPHER_CTX_new();
	ok = ctx != NULL &&
		EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key->bytes, nonce) == 1 &&
		EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)account,
				  (int)strlen(account)) == 1 &&
		EVP_EncryptUpdate(ctx, ct, &n, secret, (int)len) == 1 &&
		EVP_EncryptFinal_ex(ctx, ct + n, &n) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAG_LEN, tag) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok) {
		mm_wipe(out, CRYPTO_SEAL_OVERHEAD + len);
		mm_free(&out);
		return crypto_fail(error_r, "AES-256-GCM seal: %s", crypto_ossl_error());
	}
	*sealed_r = out;
	*sealed_len_r = CRYPTO_SEAL_OVERHEAD + len;
	return 0;
}

int crypto_open(const struct crypto_key *key, const char *account,
		const unsigned char *sealed, size_t sealed_len,
		char **secret_r, const char **error_r)
{
	const unsigned char *nonce, *tag, *ct;
	EVP_CIPHER_CTX *ctx;
	size_t len;
	char *out;
	int n, ok;

	if (sealed_len < CRYPTO_SEAL_OVERHEAD ||
	    sealed_len - CRYPTO_SEAL_OVERHEAD > CRYPTO_MAX_SECRET)
		return crypto_fail(error_r, "sealed secret has a bad length (%zu)",
				   sealed_len);
	if (sealed[0] != CRYPTO_SEAL_VERSION)
		return crypto_fail(error_r, "sealed secret has unknown version %u",
				   sealed[0]);
	nonce = sealed + 1;
	tag = nonce + CRYPTO_NONCE_LEN;
	ct = tag + CRYPTO_TAG_LEN;
	len = sealed_len - CRYPTO_SEAL_OVERHEAD;
	out = mm_malloc(len + 1);
	ctx = EVP_CIPHER_CTX_new();
	ok = ctx != NULL &&
		EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key->bytes, nonce) == 1 &&
		EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)account,
				  (int)strlen(account)) == 1 &&
		EVP_DecryptUpdate(ctx, (unsigned char *)out, &n, ct, (int)len) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG_LEN,
				    (void *)tag) == 1 &&
		EVP_DecryptFinal_ex(ctx, (unsigned char *)out + n, &n) == 1;
	EVP_CIPHER_CTX_free(ctx);
	ERR_clear_error();
	if (!ok) {
		mm_wipe(out, len + 1);
		mm_free(&out);
		return crypto_fail(error_r, "sealed secret of '%s' does not open "
				   "(wrong key file, or the record was altered)",
				   account);
	}
	out[len] = '\0';
	*secret_r = out;
	return 0;
}

int crypto_mac(const struct crypto_key *key, const char *label,
	       const void *data, size_t len,
	       unsigned char out[CRYPTO_MAC_LEN], const char **error_r)
{
	unsigned char subkey[EVP_MAX_MD_SIZE];
	unsigned int n = 0, m = 0;
	int ok;

	/* subkey = HMAC(key, label); out = HMAC(subkey, data) */
	ok = HMAC(EVP_sha256(), key->bytes, CRYPTO_KEY_LEN,
		  (const unsigned char *)label, strlen(label), subkey, &n) != NULL &&
		HMAC(EVP_sha256(), subkey, (int)n, data, len, out, &m) != NULL &&
		m == CRYPTO_MAC_LEN;
	mm_wipe(subkey, sizeof(subkey));
	if (!ok)
		return crypto_fail(error_r, "HMAC-SHA256: %s", crypto_ossl_error());
	return 0;
}

/* Dovecot's {PBKDF2}: "$1$SALT$ROUNDS$HEX", PBKDF2-HMAC-SHA1 over the
 * salt's characters, 20 bytes. For passwords SHA512-CRYPT cannot take. */
#define CRYPTO_PBKDF2_ROUNDS 20000
#define CRYPTO_PBKDF2_LEN 20
#define CRYPTO_PBKDF2_SALT 16

static int crypto_pbkdf2(const char *password, const char *salt, unsigned rounds,
			 unsigned char out[CRYPTO_PBKDF2_LEN])
{
	return PKCS5_PBKDF2_HMAC_SHA1(password, (int)strlen(password),
				      (const unsigned char *)salt, (int)strlen(salt),
				      (int)rounds, CRYPTO_PBKDF2_LEN, out) == 1 ? 0 : -1;
}

static int crypto_hash_pbkdf2(const char *password, char **hash_r,
			      const char **error_r)
{
	static const char alphabet[] =
		"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	unsigned char rnd[CRYPTO_PBKDF2_SALT], key[CRYPTO_PBKDF2_LEN];
	char salt[CRYPTO_PBKDF2_SALT + 1], hex[2 * CRYPTO_PBKDF2_LEN + 1];

	if (crypto_random(rnd, sizeof(rnd), error_r) < 0)
		return -1;
	for (size_t i = 0; i < CRYPTO_PBKDF2_SALT; i++)
		salt[i] = alphabet[rnd[i] % 64];
	salt[CRYPTO_PBKDF2_SALT] = '\0';
	if (crypto_pbkdf2(password, salt, CRYPTO_PBKDF2_ROUNDS, key) < 0)
		return crypto_fail(error_r, "PBKDF2: %s", crypto_ossl_error());
	for (size_t i = 0; i < CRYPTO_PBKDF2_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	mm_wipe(key, sizeof(key));
	*hash_r = mm_asprintf("{PBKDF2}$1$%s$%u$%s", salt, CRYPTO_PBKDF2_ROUNDS, hex);
	return 0;
}

/* 1 if password matches a {PBKDF2} setting, 0 if not, -1 if malformed. */
static int crypto_verify_pbkdf2(const char *password, const char *setting)
{
	char salt[128], hex[2 * CRYPTO_PBKDF2_LEN + 1];
	unsigned char key[CRYPTO_PBKDF2_LEN];
	unsigned rounds;
	int n = 0, match;

	if (sscanf(setting, "$1$%127[^$]$%u$%40[0-9a-f]%n", salt, &rounds, hex,
		   &n) != 3 || setting[n] != '\0' ||
	    strlen(hex) != 2 * CRYPTO_PBKDF2_LEN || rounds == 0 || rounds > 10000000)
		return -1;
	if (crypto_pbkdf2(password, salt, rounds, key) < 0)
		return -1;
	match = 1;
	for (size_t i = 0; i < CRYPTO_PBKDF2_LEN; i++) {
		unsigned b;

		sscanf(hex + 2 * i, "%2x", &b);
		match &= (unsigned char)b == key[i];
	}
	mm_wipe(key, sizeof(key));
	return match;
}

int crypto_hash_password(const char *password, char **hash_r,
			 const char **error_r)
{
	char rbytes[16], setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data;
	const char *hash;

	/* libxcrypt's SHA512-CRYPT takes passwords below 512 bytes. */
	if (strlen(password) >= CRYPTO_CRYPT_MAX_PASSWORD)
		return crypto_hash_pbkdf2(password, hash_r, error_r);
	if (crypto_random(rbytes, sizeof(rbytes), error_r) < 0)
		return -1;
	if (crypt_gensalt_rn("$6$", 0, rbytes, sizeof(rbytes), setting,
			     sizeof(setting)) == NULL)
		return crypto_fail(error_r, "crypt_gensalt: %s", strerror(errno));
	data = mm_calloc(1, sizeof(*data));
	hash = crypt_rn(password, setting, data, sizeof(*data));
	if (hash == NULL || hash[0] == '*') {
		mm_wipe(data, sizeof(*data));
		mm_free(&data);
		return crypto_fail(error_r, "SHA512-CRYPT failed");
	}
	*hash_r = mm_asprintf("{SHA512-CRYPT}%s", hash);
	mm_wipe(data, sizeof(*data));
	mm_free(&data);
	return 0;
}

int crypto_verify_password(const char *password, const char *hash,
			   const char **error_r)
{
	static const char *const schemes[] = {
		"{SHA512-CRYPT}", "{SHA256-CRYPT}", "{BLF-CRYPT}", "{CRYPT}",
	};
	struct crypt_data *data;
	const char *setting = NULL, *got;
	int match;

	if (strncmp(hash, "{PBKDF2}", 8) == 0) {
		match = crypto_verify_pbkdf2(password, hash + 8);
		if (match < 0)
			return crypto_fail(error_r, "malformed password hash");
		return match;
	}

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i]);

		if (strncmp(hash, schemes[i], n) == 0) {
			setting = hash + n;
			break;
		}
	}
	if (setting == NULL || setting[0] != '$')
		return crypto_fail(error_r, "unsupported password hash scheme");
	data = mm_calloc(1, sizeof(*data));
	got = crypt_rn(password, setting, data, sizeof(*data));
	if (got == NULL || got[0] == '*') {
		mm_wipe(data, sizeof(*data));
		mm_free(&data);
		return crypto_fail(error_r, "malformed password hash");
	}
	match = strlen(got) == strlen(setting) &&
		CRYPTO_memcmp(got, setting, strlen(got)) == 0;
	mm_wipe(data, sizeof(*data));
	mm_free(&data);
	return match ? 1 : 0;
}
