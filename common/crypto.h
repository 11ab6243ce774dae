/*
 * NAME
 *	crypto 3h
 * SUMMARY
 *	the key file, AES-256-GCM for captured passwords, password hashes
 * DESCRIPTION
 *	The key file holds exactly CRYPTO_KEY_LEN random bytes, mode 0600
 *	(or 0640, read by the store's group: the Dovecot auth workers);
 *	one writable by group or readable by others is refused. Captured passwords are
 *	sealed with AES-256-GCM, a fresh 96-bit nonce each time, and the
 *	account name as additional data, so a sealed password cannot be
 *	moved to another account. Hashes are Dovecot's {SHA512-CRYPT}
 *	scheme, which `doveadm pw -t` verifies.
 */
#ifndef MM_CRYPTO_H
#define MM_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_KEY_LEN 32
#define CRYPTO_NONCE_LEN 12
#define CRYPTO_TAG_LEN 16
/* Sealed layout: version byte, nonce, tag, ciphertext. */
#define CRYPTO_SEAL_OVERHEAD (1 + CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN)
#define CRYPTO_MAX_SECRET 4096

struct crypto_key {
	unsigned char bytes[CRYPTO_KEY_LEN];
};

/* Make a new key file at path (O_EXCL, mode 0600); it must not exist. */
int crypto_key_create(const char *path, const char **error_r);
/* Read the key file, refusing a missing, short, long, or group/world-
 * accessible one. */
int crypto_key_load(const char *path, struct crypto_key *key_r,
		    const char **error_r);
void crypto_key_wipe(struct crypto_key *key);

/* Seal secret[0..len) for account. The caller owns *sealed_r. */
int crypto_seal(const struct crypto_key *key, const char *account,
		const void *secret, size_t len,
		unsigned char **sealed_r, size_t *sealed_len_r,
		const char **error_r);
/* Open a sealed blob; *secret_r is NUL-terminated, owned by the caller,
 * to be released with mm_free_secret(). Fails on a wrong key, a wrong
 * account or any altered byte. */
int crypto_open(const struct crypto_key *key, const char *account,
		const unsigned char *sealed, size_t sealed_len,
		char **secret_r, const char **error_r);

/* Longer passwords than libxcrypt's SHA512-CRYPT takes. */
#define CRYPTO_CRYPT_MAX_PASSWORD 512

/* "{SHA512-CRYPT}$6$salt$hash" for password; for one of
 * CRYPTO_CRYPT_MAX_PASSWORD bytes or more, Dovecot's
 * "{PBKDF2}$1$salt$rounds$hex" (PBKDF2-HMAC-SHA1, 20000 rounds), which
 * Dovecot checks too. Caller owns the result. */
int crypto_hash_password(const char *password, char **hash_r,
			 const char **error_r);
/* 1 if password matches hash ({SHA512-CRYPT}, {SHA256-CRYPT},
 * {BLF-CRYPT}, {CRYPT} or {PBKDF2}),
 * 0 if not, -1 with *error_r for an unknown scheme or bad hash. */
int crypto_verify_password(const char *password, const char *hash,
			   const char **error_r);

/* The first line of a password file (target_master_password_file,
 * source_admin_password_file), without its line end, in *secret_r
 * (mm_free_secret() it). Read without stdio, so no copy is left in a
 * buffer we cannot wipe. An empty or missing file is an error, so are
 * a symbolic link (O_NOFOLLOW), a file that is not regular, and one
 * writable by its group or accessible by others (as for key_file). */
int crypto_read_secret(const char *path, char **secret_r, const char **error_r);

#define CRYPTO_MAC_LEN 32
/* HMAC-SHA256 under a key derived from the key file for label (one
 * label per use, so one MAC cannot stand for another), over
 * data[0..len), into out. For look-up keys that must not reveal what
 * they stand for (the auth-hook's failed user+password pairs). */
int crypto_mac(const struct crypto_key *key, const char *label,
	       const void *data, size_t len,
	       unsigned char out[CRYPTO_MAC_LEN], const char **error_r);

/* No core file (RLIMIT_CORE 0) and not dumpable (PR_SET_DUMPABLE 0:
 * no core, no ptrace or /proc/PID/mem by the same user): a crash or a
 * local attacker must not get the keys and passwords in our memory.
 * The daemons and the CLI call it first thing. */
int crypto_harden_process(const char **error_r);

/* n random bytes from OpenSSL's CSPRNG. */
int crypto_random(void *buf, size_t n, const char **error_r);

#endif
