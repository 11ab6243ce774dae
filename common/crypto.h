/*
 * NAME
 *	crypto 3h
 * SUMMARY
 *	the key files, sealing captured passwords, password hashes
 * DESCRIPTION
 *	Captured passwords are sealed to a public key, so the Dovecot auth
 *	workers (group dovecot), which seal them on first login, cannot
 *	open what they or anyone else sealed; only the holder of the
 *	private key (the puller and the CLI, as root or the store's owner)
 *	can.
 *
 *	key_file (0600; made by `mailmigrate init`): 64 bytes, the
 *	version-1 AES-256-GCM key (32, kept so records sealed before the
 *	key pair existed still open) and the X25519 private key (32). A
 *	32-byte key_file is the old layout: it opens version-1 records
 *	only, and `mailmigrate init` upgrades it in place (the old key is
 *	kept, the private key appended).
 *
 *	public_key_file (default key_file with ".pub" appended; 0640 for
 *	group dovecot): 64 bytes, the X25519 public key (32) and the
 *	auth-hook's MAC key (32) for its failed-login cache and rate keys.
 *	The MAC key opens nothing; it only keeps the cache's keys from
 *	revealing which user+password pairs failed, so the file is still
 *	refused when writable by group or readable by others.
 *
 *	A sealed record (the account name is the additional data, so it
 *	cannot be moved to another account):
 *	  version 2: 0x02, ephemeral X25519 public key (32), nonce (12),
 *	    tag (16), ciphertext. The AES-256-GCM key is
 *	    HKDF-SHA256(X25519(ephemeral, recipient), salt = ephemeral
 *	    public key || recipient public key, info = "mailmigrate seal
 *	    v2"): a fresh key per record.
 *	  version 1 (written before the key pair; still opened): 0x01,
 *	    nonce (12), tag (16), ciphertext under key_file's first 32
 *	    bytes.
 *	Hashes are Dovecot's {SHA512-CRYPT} scheme, which `doveadm pw -t`
 *	verifies.
 */
#ifndef MM_CRYPTO_H
#define MM_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_KEY_LEN 32
#define CRYPTO_X25519_LEN 32
#define CRYPTO_NONCE_LEN 12
#define CRYPTO_TAG_LEN 16
/* Version 1 layout: version byte, nonce, tag, ciphertext. */
#define CRYPTO_SEAL_OVERHEAD (1 + CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN)
/* Version 2: version byte, ephemeral public key, nonce, tag, ciphertext. */
#define CRYPTO_SEAL2_OVERHEAD (1 + CRYPTO_X25519_LEN + CRYPTO_NONCE_LEN + \
			       CRYPTO_TAG_LEN)
#define CRYPTO_MAX_SECRET 4096
/* key_file: legacy key + private key; public_key_file: public + MAC key. */
#define CRYPTO_KEY_FILE_LEN (CRYPTO_KEY_LEN + CRYPTO_X25519_LEN)
#define CRYPTO_PUBLIC_FILE_LEN (CRYPTO_X25519_LEN + CRYPTO_KEY_LEN)

/* Which parts of a struct crypto_key are loaded. */
#define CRYPTO_HAVE_LEGACY	0x01	/* bytes: opens version 1 */
#define CRYPTO_HAVE_PRIVATE	0x02	/* private_key: opens version 2 */
#define CRYPTO_HAVE_PUBLIC	0x04	/* public_key: seals */
#define CRYPTO_HAVE_MAC		0x08	/* mac_key: crypto_mac() */

struct crypto_key {
	unsigned char bytes[CRYPTO_KEY_LEN];	/* version-1 AES key */
	unsigned char private_key[CRYPTO_X25519_LEN];
	unsigned char public_key[CRYPTO_X25519_LEN];
	unsigned char mac_key[CRYPTO_KEY_LEN];
	unsigned have;				/* CRYPTO_HAVE_* */
};

/* Make a new key_file at path (O_EXCL, mode 0600; it must not exist):
 * a version-1 key and an X25519 private key. */
int crypto_key_create(const char *path, const char **error_r);
/* Read key_file, refusing a missing, short, long, or group-writable /
 * other-accessible one. 64 bytes: everything but the MAC key (the
 * public key is derived); 32 bytes (old layout): the version-1 key. */
int crypto_key_load(const char *path, struct crypto_key *key_r,
		    const char **error_r);
/* Give an old 32-byte key_file its X25519 private key, keeping the
 * version-1 key, its owner and mode (written aside, then renamed).
 * @return 1 upgraded, 0 already 64 bytes, -1 error */
int crypto_key_upgrade(const char *path, const char **error_r);
/* Write public_key_file at path (O_EXCL, mode 0600: the administrator
 * gives it to group dovecot) from a loaded key_file: the public key
 * and a new random MAC key. */
int crypto_public_create(const struct crypto_key *key, const char *path,
			 const char **error_r);
/* Read public_key_file into *key_r (CRYPTO_HAVE_PUBLIC | _MAC), with
 * the checks of crypto_key_load(). */
int crypto_public_load(const char *path, struct crypto_key *key_r,
		       const char **error_r);
/* 0 if public_key_file at path holds the public key of key's private
 * key, else -1 with *error_r (a key pair that does not match would seal
 * what the puller cannot open). */
int crypto_public_check(const struct crypto_key *key, const char *path,
			const char **error_r);
/* For a reader of public_key_file on an install not yet upgraded
 * (`mailmigrate init` not run since the key pair came): load the old
 * 32-byte key_file at path as the auth workers did before, sealing
 * version 1 and keying crypto_mac() with it (the failed-login cache
 * keeps its keys). Refused for a 64-byte key_file: that install has
 * been upgraded, and its public_key_file must be there. */
int crypto_key_load_legacy(const char *path, struct crypto_key *key_r,
			   const char **error_r);
void crypto_key_wipe(struct crypto_key *key);

/* Seal secret[0..len) for account to key's public key (version 2);
 * with only an old 32-byte key_file loaded (no key pair yet), as
 * version 1 under it, as releases before the key pair did. The caller
 * owns *sealed_r. */
int crypto_seal(const struct crypto_key *key, const char *account,
		const void *secret, size_t len,
		unsigned char **sealed_r, size_t *sealed_len_r,
		const char **error_r);
/* Seal as version 1 under the symmetric key: what older releases wrote
 * (crypto_seal() for a key_file not yet upgraded; the tests, to make
 * old records). */
int crypto_seal_legacy(const struct crypto_key *key, const char *account,
		       const void *secret, size_t len,
		       unsigned char **sealed_r, size_t *sealed_len_r,
		       const char **error_r);
/* Open a sealed blob (version 1 with the version-1 key, version 2 with
 * the private key); *secret_r is NUL-terminated, owned by the caller,
 * to be released with mm_free_secret(). Fails on a missing or wrong
 * key, a wrong account or any altered byte. */
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
/* HMAC-SHA256 under a key derived from public_key_file's MAC key for
 * label (one label per use, so one MAC cannot stand for another), over
 * data[0..len), into out. For look-up keys that must not reveal what
 * they stand for (the auth-hook's failed user+password pairs). Needs
 * CRYPTO_HAVE_MAC. */
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
