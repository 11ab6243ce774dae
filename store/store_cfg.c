/*
 * NAME
 *	store_cfg 3
 * SUMMARY
 *	open the store the configuration names
 * DESCRIPTION
 *	See store_cfg.h. The sealed password file is the sealed bytes and
 *	nothing else, at most 4 KiB; the seal binds the label "store
 *	password", so a sealed user password cannot pass for it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mm_alloc.h"
#include "store_cfg.h"
#include "store_int.h"

#define STORE_PASSWORD_LABEL "store password"
#define STORE_PASSWORD_FILE_MAX 4096

/* The sealing key: a version-1 key derived from public_key_file's MAC
 * key. */
static int store_password_key(const struct cfg *cfg, struct crypto_key *key_r,
			      const char **error_r)
{
	struct crypto_key pub;
	unsigned char derived[CRYPTO_MAC_LEN];
	const char *error;
	int ret;

	memset(key_r, 0, sizeof(*key_r));
	if (crypto_public_load(cfg->public_key_file, &pub, &error) < 0)
		return store_fail(error_r, "store_password_file needs public_key_file: "
				  "%s", error);
	ret = crypto_mac(&pub, "mailmigrate store password key", "", 0, derived,
			 &error);
	crypto_key_wipe(&pub);
	if (ret < 0)
		return store_fail(error_r, "store password key: %s", error);
	memcpy(key_r->bytes, derived, sizeof(key_r->bytes));
	key_r->have = CRYPTO_HAVE_LEGACY;
	memset(derived, 0, sizeof(derived));
	return 0;
}

int store_password_write(const struct cfg *cfg, const char *path,
			 const char *password, const char **error_r)
{
	struct crypto_key key;
	unsigned char *sealed;
	const char *error;
	size_t len;
	char *tmp;
	int fd, ret;

	if (*password == '\0' || strlen(password) > STORE_PASSWORD_MAX)
		return store_fail(error_r, "the store password must be 1..%d bytes",
				  STORE_PASSWORD_MAX);
	if (store_password_key(cfg, &key, error_r) < 0)
		return -1;
	ret = crypto_seal_legacy(&key, STORE_PASSWORD_LABEL, password,
				 strlen(password), &sealed, &len, &error);
	crypto_key_wipe(&key);
	if (ret < 0)
		return store_fail(error_r, "sealing the store password: %s", error);
	tmp = mm_asprintf("%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0) {
		ret = store_fail(error_r, "%s: %s", tmp, strerror(errno));
	} else if (write(fd, sealed, len) != (ssize_t)len || fsync(fd) < 0) {
		ret = store_fail(error_r, "%s: %s", tmp, strerror(errno));
		(void)close(fd);
	} else if (close(fd) < 0 || rename(tmp, path) < 0) {
		ret = store_fail(error_r, "%s: %s", path, strerror(errno));
	} else {
		ret = 0;
	}
	if (ret < 0)
		(void)unlink(tmp);
	mm_free(&tmp);
	mm_free(&sealed);
	return ret;
}

int store_password_read(const struct cfg *cfg, char **password_r,
			const char **error_r)
{
	unsigned char buf[STORE_PASSWORD_FILE_MAX + 1];
	const char *path = cfg->store_password_file, *error;
	struct crypto_key key;
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd, ret;

	*password_r = NULL;
	if (path == NULL)
		return 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return store_fail(error_r, "store_password_file %s: %s", path,
				  strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0007) != 0) {
		(void)close(fd);
		return store_fail(error_r, "store_password_file %s: not a regular "
				  "file, or readable by others (chmod o-rwx)", path);
	}
	while (len < sizeof(buf) &&
	       (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	(void)close(fd);
	if (len == 0 || len > STORE_PASSWORD_FILE_MAX)
		return store_fail(error_r, "store_password_file %s: empty or too "
				  "long: make it with `mailmigrate store password`",
				  path);
	if (store_password_key(cfg, &key, error_r) < 0)
		return -1;
	ret = crypto_open(&key, STORE_PASSWORD_LABEL, buf, len, password_r, &error);
	crypto_key_wipe(&key);
	if (ret < 0)
		return store_fail(error_r, "store_password_file %s: %s (sealed with "
				  "another public_key_file?)", path, error);
	return 0;
}

int store_cfg_options(const struct cfg *cfg, const struct store_options *opts,
		      struct store_options *o, char **password_r,
		      const char **error_r)
{
	memset(o, 0, sizeof(*o));
	*password_r = NULL;
	if (opts != NULL) {
		o->create = opts->create;
		o->readonly = opts->readonly;
	}
	o->max_map_size = cfg->store_max_size;
	o->event_log_max = cfg->event_log_max;
	o->connect_timeout = cfg->connect_timeout;
	if (strncmp(cfg->store, "postgresql:", 11) == 0) {
		if (store_password_read(cfg, password_r, error_r) < 0)
			return -1;
		o->password = *password_r;
	}
	return 0;
}

int store_open_cfg(const struct cfg *cfg, const struct store_options *opts,
		   struct store **store_r, const char **error_r)
{
	struct store_options o;
	char *password;
	int ret;

	*store_r = NULL;
	if (store_cfg_options(cfg, opts, &o, &password, error_r) < 0)
		return -1;
	ret = store_open(cfg->store, &o, store_r, error_r);
	if (password != NULL)
		mm_free_secret(&password);
	return ret;
}
