/*
 * NAME
 *	crypto 3
 * SUMMARY
 *	the key files, sealing captured passwords, password hashes
 * DESCRIPTION
 *	OpenSSL does the cryptography (X25519, HKDF-SHA256, AES-256-GCM)
 *	and libxcrypt the crypt(3) hashes; this file only wires them with
 *	the checks an administrator needs: a key file that others can read
 *	is refused, not silently used. The layouts of key_file,
 *	public_key_file and the sealed records are in crypto.h.
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
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "crypto.h"
#include "error.h"
#include "mm_alloc.h"

#define CRYPTO_SEAL_VERSION 1
#define CRYPTO_SEAL2_VERSION 2
#define CRYPTO_SEAL2_INFO "mailmigrate seal v2"

/* Format an error (error(3h)). */
static int crypto_fail(const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int crypto_fail(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	*error_r = error_vsetf(fmt, ap);
	va_end(ap);
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

/* The X25519 public key of priv. */
static int crypto_x25519_public(const unsigned char *priv, unsigned char *pub,
				const char **error_r)
{
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv,
						    CRYPTO_X25519_LEN);
	size_t len = CRYPTO_X25519_LEN;
	int ok = pk != NULL && EVP_PKEY_get_raw_public_key(pk, pub, &len) == 1 &&
		len == CRYPTO_X25519_LEN;

	EVP_PKEY_free(pk);
	if (!ok)
		return crypto_fail(error_r, "X25519: %s", crypto_ossl_error());
	return 0;
}

/* The X25519 shared secret of priv and peer (OpenSSL refuses an
 * all-zero result, from a low-order peer key). */
static int crypto_x25519_shared(const unsigned char *priv, const unsigned char *peer,
				unsigned char *out, const char **error_r)
{
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv,
						    CRYPTO_X25519_LEN);
	EVP_PKEY *pp = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer,
						   CRYPTO_X25519_LEN);
	EVP_PKEY_CTX *ctx = pk != NULL ? EVP_PKEY_CTX_new(pk, NULL) : NULL;
	size_t len = CRYPTO_X25519_LEN;
	int ok = ctx != NULL && pp != NULL && EVP_PKEY_derive_init(ctx) == 1 &&
		EVP_PKEY_derive_set_peer(ctx, pp) == 1 &&
		EVP_PKEY_derive(ctx, out, &len) == 1 && len == CRYPTO_X25519_LEN;

	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pp);
	EVP_PKEY_free(pk);
	if (!ok)
		return crypto_fail(error_r, "X25519: %s", crypto_ossl_error());
	return 0;
}

/* The version-2 record key: HKDF-SHA256 of the shared secret, salted
 * with both public keys. */
static int crypto_seal2_key(const unsigned char *shared, const unsigned char *eph_pub,
			    const unsigned char *rcpt_pub, unsigned char *key,
			    const char **error_r)
{
	unsigned char salt[2 * CRYPTO_X25519_LEN];
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	size_t len = CRYPTO_KEY_LEN;
	int ok;

	memcpy(salt, eph_pub, CRYPTO_X25519_LEN);
	memcpy(salt + CRYPTO_X25519_LEN, rcpt_pub, CRYPTO_X25519_LEN);
	ok = ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 &&
		EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) == 1 &&
		EVP_PKEY_CTX_set1_hkdf_salt(ctx, salt, sizeof(salt)) == 1 &&
		EVP_PKEY_CTX_set1_hkdf_key(ctx, shared, CRYPTO_X25519_LEN) == 1 &&
		EVP_PKEY_CTX_add1_hkdf_info(ctx, (const unsigned char *)CRYPTO_SEAL2_INFO,
					    (int)strlen(CRYPTO_SEAL2_INFO)) == 1 &&
		EVP_PKEY_derive(ctx, key, &len) == 1 && len == CRYPTO_KEY_LEN;
	EVP_PKEY_CTX_free(ctx);
	if (!ok)
		return crypto_fail(error_r, "HKDF-SHA256: %s", crypto_ossl_error());
	return 0;
}

/* Create path (O_EXCL, mode) holding len bytes, or remove it again. */
static int crypto_file_create(const char *path, const char *what, mode_t mode,
			      const void *data, size_t len, const char **error_r)
{
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return crypto_fail(error_r, "cannot create %s %s: %s", what, path,
				   strerror(errno));
	if (fchmod(fd, mode) < 0 || crypto_write_all(fd, data, len) < 0 ||
	    fsync(fd) < 0) {
		ret = crypto_fail(error_r, "cannot write %s %s: %s", what, path,
				  strerror(errno));
		unlink(path);
	}
	if (close(fd) < 0 && ret == 0) {
		ret = crypto_fail(error_r, "cannot write %s %s: %s", what, path,
				  strerror(errno));
		unlink(path);
	}
	return ret;
}

int crypto_key_create(const char *path, const char **error_r)
{
	unsigned char key[CRYPTO_KEY_FILE_LEN];
	int ret;

	if (crypto_random(key, sizeof(key), error_r) < 0)
		return -1;
	ret = crypto_file_create(path, "key file", 0600, key, sizeof(key), error_r);
	mm_wipe(key, sizeof(key));
	return ret;
}

/* Read a key file of one of the sizes allowed (n1 or n2) into buf,
 * refusing a symlink, a non-regular file, group write and any access
 * by others. *len_r: the size read. */
static int crypto_key_read(const char *path, const char *what, unsigned char *buf,
			   size_t n1, size_t n2, size_t *len_r, const char **error_r)
{
	struct stat st;
	size_t got = 0, want;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return crypto_fail(error_r, "cannot open %s %s: %s%s", what, path,
				   strerror(errno),
				   errno == ENOENT ? " (run 'mailmigrate init')" : "");
	if (fstat(fd, &st) < 0) {
		close(fd);
		return crypto_fail(error_r, "cannot stat %s %s: %s", what, path,
				   strerror(errno));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return crypto_fail(error_r, "%s %s is not a regular file", what, path);
	}
	/* Group read is allowed: the puller's group for key_file, group
	 * dovecot for public_key_file (contrib/dovecot/README). */
	if ((st.st_mode & 037) != 0) {
		close(fd);
		return crypto_fail(error_r,
				   "%s %s is writable by group or accessible "
				   "by others (mode %04o); refusing it: chmod 600 "
				   "(or 640 for the store's group) it",
				   what, path, (unsigned)(st.st_mode & 07777));
	}
	if (st.st_size != (off_t)n1 && st.st_size != (off_t)n2) {
		close(fd);
		if (n1 == n2)
			return crypto_fail(error_r, "%s %s has %lld bytes, not %zu",
					   what, path, (long long)st.st_size, n1);
		return crypto_fail(error_r, "%s %s has %lld bytes, not %zu (or %zu, "
				   "the old layout)", what, path,
				   (long long)st.st_size, n1, n2);
	}
	want = (size_t)st.st_size;
	while (got < want) {
		ssize_t n = read(fd, buf + got, want - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			mm_wipe(buf, got);
			return crypto_fail(error_r, "cannot read %s %s: %s", what, path,
					   n < 0 ? strerror(errno) : "short file");
		}
		got += (size_t)n;
	}
	close(fd);
	*len_r = want;
	return 0;
}

int crypto_key_load(const char *path, struct crypto_key *key_r,
		    const char **error_r)
{
	unsigned char buf[CRYPTO_KEY_FILE_LEN];
	size_t len;

	memset(key_r, 0, sizeof(*key_r));
	if (crypto_key_read(path, "key file", buf, CRYPTO_KEY_FILE_LEN,
			    CRYPTO_KEY_LEN, &len, error_r) < 0)
		return -1;
	memcpy(key_r->bytes, buf, CRYPTO_KEY_LEN);
	key_r->have = CRYPTO_HAVE_LEGACY;
	if (len == CRYPTO_KEY_FILE_LEN) {
		memcpy(key_r->private_key, buf + CRYPTO_KEY_LEN, CRYPTO_X25519_LEN);
		if (crypto_x25519_public(key_r->private_key, key_r->public_key,
					 error_r) < 0) {
			mm_wipe(buf, sizeof(buf));
			crypto_key_wipe(key_r);
			return -1;
		}
		key_r->have |= CRYPTO_HAVE_PRIVATE | CRYPTO_HAVE_PUBLIC;
	}
	mm_wipe(buf, sizeof(buf));
	return 0;
}

int crypto_key_upgrade(const char *path, const char **error_r)
{
	unsigned char buf[CRYPTO_KEY_FILE_LEN];
	struct crypto_key key;
	struct stat st;
	char *tmp;
	int ret;

	if (crypto_key_load(path, &key, error_r) < 0)
		return -1;
	if ((key.have & CRYPTO_HAVE_PRIVATE) != 0) {
		crypto_key_wipe(&key);
		return 0;
	}
	if (lstat(path, &st) < 0) {
		crypto_key_wipe(&key);
		return crypto_fail(error_r, "cannot stat key file %s: %s", path,
				   strerror(errno));
	}
	memcpy(buf, key.bytes, CRYPTO_KEY_LEN);
	crypto_key_wipe(&key);
	if (crypto_random(buf + CRYPTO_KEY_LEN, CRYPTO_X25519_LEN, error_r) < 0) {
		mm_wipe(buf, sizeof(buf));
		return -1;
	}
	tmp = mm_asprintf("%s.new", path);
	(void)unlink(tmp);	/* left by an interrupted upgrade */
	ret = crypto_file_create(tmp, "key file", st.st_mode & 0700, buf,
				 sizeof(buf), error_r);
	mm_wipe(buf, sizeof(buf));
	if (ret == 0 && (chown(tmp, st.st_uid, st.st_gid) < 0 ||
			 chmod(tmp, st.st_mode & 07777) < 0 || rename(tmp, path) < 0)) {
		ret = crypto_fail(error_r, "cannot replace key file %s: %s", path,
				  strerror(errno));
		unlink(tmp);
	}
	mm_free(&tmp);
	return ret < 0 ? -1 : 1;
}

int crypto_public_create(const struct crypto_key *key, const char *path,
			 const char **error_r)
{
	unsigned char buf[CRYPTO_PUBLIC_FILE_LEN];
	int ret;

	if ((key->have & CRYPTO_HAVE_PUBLIC) == 0)
		return crypto_fail(error_r, "no key pair in the key file "
				   "(run 'mailmigrate init')");
	memcpy(buf, key->public_key, CRYPTO_X25519_LEN);
	if (crypto_random(buf + CRYPTO_X25519_LEN, CRYPTO_KEY_LEN, error_r) < 0)
		return -1;
	ret = crypto_file_create(path, "public key file", 0600, buf, sizeof(buf),
				 error_r);
	mm_wipe(buf, sizeof(buf));
	return ret;
}

int crypto_key_load_legacy(const char *path, struct crypto_key *key_r,
			   const char **error_r)
{
	if (crypto_key_load(path, key_r, error_r) < 0)
		return -1;
	if ((key_r->have & CRYPTO_HAVE_PRIVATE) != 0) {
		crypto_key_wipe(key_r);
		return crypto_fail(error_r, "key file %s holds the key pair, so "
				   "its public_key_file is needed (run "
				   "`mailmigrate init` to write it again)", path);
	}
	/* What crypto_mac() was keyed with before public_key_file. */
	memcpy(key_r->mac_key, key_r->bytes, CRYPTO_KEY_LEN);
	key_r->have |= CRYPTO_HAVE_MAC;
	return 0;
}

int crypto_public_load(const char *path, struct crypto_key *key_r,
		       const char **error_r)
{
	unsigned char buf[CRYPTO_PUBLIC_FILE_LEN];
	size_t len;

	memset(key_r, 0, sizeof(*key_r));
	if (crypto_key_read(path, "public key file", buf, CRYPTO_PUBLIC_FILE_LEN,
			    CRYPTO_PUBLIC_FILE_LEN, &len, error_r) < 0)
		return -1;
	memcpy(key_r->public_key, buf, CRYPTO_X25519_LEN);
	memcpy(key_r->mac_key, buf + CRYPTO_X25519_LEN, CRYPTO_KEY_LEN);
	key_r->have = CRYPTO_HAVE_PUBLIC | CRYPTO_HAVE_MAC;
	mm_wipe(buf, sizeof(buf));
	return 0;
}

int crypto_public_check(const struct crypto_key *key, const char *path,
			const char **error_r)
{
	struct crypto_key pub;
	int match;

	if (crypto_public_load(path, &pub, error_r) < 0)
		return -1;
	match = (key->have & CRYPTO_HAVE_PUBLIC) != 0 &&
		CRYPTO_memcmp(pub.public_key, key->public_key, CRYPTO_X25519_LEN) == 0;
	crypto_key_wipe(&pub);
	if (!match)
		return crypto_fail(error_r, "public key file %s does not hold the "
				   "public key of the key file: what the auth "
				   "workers seal could not be opened", path);
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
	mm_wipe(key, sizeof(*key));
}

/* AES-256-GCM of secret[0..len) into ct and tag, account as AAD. */
static int crypto_gcm_seal(const unsigned char *key, const unsigned char *nonce,
			   const char *account, const void *secret, size_t len,
			   unsigned char *ct, unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n, ok;

	ok = ctx != NULL &&
		EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
		EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)account,
				  (int)strlen(account)) == 1 &&
		EVP_EncryptUpdate(ctx, ct, &n, secret, (int)len) == 1 &&
		EVP_EncryptFinal_ex(ctx, ct + n, &n) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAG_LEN, tag) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* Open AES-256-GCM ct[0..len) into out (len + 1 bytes, NUL-ended). */
static int crypto_gcm_open(const unsigned char *key, const unsigned char *nonce,
			   const char *account, const unsigned char *ct, size_t len,
			   const unsigned char *tag, char *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n, ok;

	ok = ctx != NULL &&
		EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
		EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)account,
				  (int)strlen(account)) == 1 &&
		EVP_DecryptUpdate(ctx, (unsigned char *)out, &n, ct, (int)len) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG_LEN,
				    (void *)tag) == 1 &&
		EVP_DecryptFinal_ex(ctx, (unsigned char *)out + n, &n) == 1;
	EVP_CIPHER_CTX_free(ctx);
	ERR_clear_error();
	out[len] = '\0';
	return ok ? 0 : -1;
}

int crypto_seal_legacy(const struct crypto_key *key, const char *account,
		       const void *secret, size_t len,
		       unsigned char **sealed_r, size_t *sealed_len_r,
		       const char **error_r)
{
	unsigned char *out, *nonce, *tag;

	if (len > CRYPTO_MAX_SECRET)
		return crypto_fail(error_r, "secret over %d bytes", CRYPTO_MAX_SECRET);
	if ((key->have & CRYPTO_HAVE_LEGACY) == 0)
		return crypto_fail(error_r, "no version-1 key loaded");
	out = mm_malloc(CRYPTO_SEAL_OVERHEAD + len);
	out[0] = CRYPTO_SEAL_VERSION;
	nonce = out + 1;
	tag = nonce + CRYPTO_NONCE_LEN;
	if (crypto_random(nonce, CRYPTO_NONCE_LEN, error_r) < 0) {
		mm_free(&out);
		return -1;
	}
	if (crypto_gcm_seal(key->bytes, nonce, account, secret, len,
			    tag + CRYPTO_TAG_LEN, tag) < 0) {
		mm_free_wiped(&out, CRYPTO_SEAL_OVERHEAD + len);
		return crypto_fail(error_r, "AES-256-GCM seal: %s", crypto_ossl_error());
	}
	*sealed_r = out;
	*sealed_len_r = CRYPTO_SEAL_OVERHEAD + len;
	return 0;
}

int crypto_seal(const struct crypto_key *key, const char *account,
		const void *secret, size_t len,
		unsigned char **sealed_r, size_t *sealed_len_r,
		const char **error_r)
{
	unsigned char eph[CRYPTO_X25519_LEN], shared[CRYPTO_X25519_LEN];
	unsigned char aes[CRYPTO_KEY_LEN];
	unsigned char *out, *eph_pub, *nonce, *tag;
	int ret;

	if (len > CRYPTO_MAX_SECRET)
		return crypto_fail(error_r, "secret over %d bytes", CRYPTO_MAX_SECRET);
	/* An install whose key_file predates the key pair (32 bytes, no
	 * `mailmigrate init` since the upgrade) seals as it always did,
	 * rather than refusing every first login; the auth-hook and
	 * preflight say so. */
	if ((key->have & CRYPTO_HAVE_PUBLIC) == 0 &&
	    (key->have & CRYPTO_HAVE_LEGACY) != 0)
		return crypto_seal_legacy(key, account, secret, len, sealed_r,
					  sealed_len_r, error_r);
	if ((key->have & CRYPTO_HAVE_PUBLIC) == 0)
		return crypto_fail(error_r, "no public key loaded to seal with "
				   "(run 'mailmigrate init' to add the key pair)");
	out = mm_malloc(CRYPTO_SEAL2_OVERHEAD + len);
	out[0] = CRYPTO_SEAL2_VERSION;
	eph_pub = out + 1;
	nonce = eph_pub + CRYPTO_X25519_LEN;
	tag = nonce + CRYPTO_NONCE_LEN;
	ret = crypto_random(eph, sizeof(eph), error_r) < 0 ||
		crypto_random(nonce, CRYPTO_NONCE_LEN, error_r) < 0 ||
		crypto_x25519_public(eph, eph_pub, error_r) < 0 ||
		crypto_x25519_shared(eph, key->public_key, shared, error_r) < 0 ||
		crypto_seal2_key(shared, eph_pub, key->public_key, aes, error_r) < 0 ? -1 : 0;
	if (ret == 0 && crypto_gcm_seal(aes, nonce, account, secret, len,
					tag + CRYPTO_TAG_LEN, tag) < 0)
		ret = crypto_fail(error_r, "AES-256-GCM seal: %s", crypto_ossl_error());
	mm_wipe(eph, sizeof(eph));
	mm_wipe(shared, sizeof(shared));
	mm_wipe(aes, sizeof(aes));
	if (ret < 0) {
		mm_free_wiped(&out, CRYPTO_SEAL2_OVERHEAD + len);
		return -1;
	}
	*sealed_r = out;
	*sealed_len_r = CRYPTO_SEAL2_OVERHEAD + len;
	return 0;
}

int crypto_open(const struct crypto_key *key, const char *account,
		const unsigned char *sealed, size_t sealed_len,
		char **secret_r, const char **error_r)
{
	unsigned char shared[CRYPTO_X25519_LEN], aes[CRYPTO_KEY_LEN];
	const unsigned char *nonce, *tag, *ct, *aes_key;
	size_t overhead, len;
	char *out;
	int ok;

	if (sealed_len < 1)
		return crypto_fail(error_r, "sealed secret has a bad length (0)");
	switch (sealed[0]) {
	case CRYPTO_SEAL_VERSION:
		overhead = CRYPTO_SEAL_OVERHEAD;
		break;
	case CRYPTO_SEAL2_VERSION:
		overhead = CRYPTO_SEAL2_OVERHEAD;
		break;
	default:
		return crypto_fail(error_r, "sealed secret has unknown version %u",
				   sealed[0]);
	}
	if (sealed_len < overhead || sealed_len - overhead > CRYPTO_MAX_SECRET)
		return crypto_fail(error_r, "sealed secret has a bad length (%zu)",
				   sealed_len);
	len = sealed_len - overhead;
	if (sealed[0] == CRYPTO_SEAL_VERSION) {
		if ((key->have & CRYPTO_HAVE_LEGACY) == 0)
			return crypto_fail(error_r, "no key file loaded to open the "
					   "version-1 secret of '%s'", account);
		nonce = sealed + 1;
		aes_key = key->bytes;
	} else {
		const unsigned char *eph_pub = sealed + 1;

		if ((key->have & CRYPTO_HAVE_PRIVATE) == 0)
			return crypto_fail(error_r, "no private key loaded to open the "
					   "secret of '%s' (public_key_file only "
					   "seals; key_file opens)", account);
		nonce = eph_pub + CRYPTO_X25519_LEN;
		if (crypto_x25519_shared(key->private_key, eph_pub, shared, error_r) < 0 ||
		    crypto_seal2_key(shared, eph_pub, key->public_key, aes, error_r) < 0) {
			mm_wipe(shared, sizeof(shared));
			ERR_clear_error();
			return crypto_fail(error_r, "sealed secret of '%s' does not open "
					   "(the record was altered)", account);
		}
		aes_key = aes;
	}
	tag = nonce + CRYPTO_NONCE_LEN;
	ct = tag + CRYPTO_TAG_LEN;
	out = mm_malloc(len + 1);
	ok = crypto_gcm_open(aes_key, nonce, account, ct, len, tag, out) == 0;
	mm_wipe(shared, sizeof(shared));
	mm_wipe(aes, sizeof(aes));
	if (!ok) {
		mm_free_wiped(&out, len + 1);
		return crypto_fail(error_r, "sealed secret of '%s' does not open "
				   "(wrong key file, or the record was altered)",
				   account);
	}
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

	if ((key->have & CRYPTO_HAVE_MAC) == 0)
		return crypto_fail(error_r, "no MAC key loaded (public_key_file)");
	/* subkey = HMAC(key, label); out = HMAC(subkey, data) */
	ok = HMAC(EVP_sha256(), key->mac_key, CRYPTO_KEY_LEN,
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
