/*
 * NAME
 *	store_cfg 3h
 * SUMMARY
 *	open the store the configuration names
 * DESCRIPTION
 *	store = lmdb:DIR (the default: lmdb:state_dir) or
 *	store = postgresql:CONNINFO, with the database password, if one
 *	is needed, sealed in store_password_file. Every process opens
 *	the store through store_open_cfg(), so the CLI, the puller, the
 *	relay and the auth-hook in Dovecot's auth workers work the same
 *	on either backend.
 *
 *	The password is sealed (AES-256-GCM) under a key derived from
 *	the MAC key of public_key_file, the one key file every process
 *	that opens the store can read (the auth workers get no key_file).
 *	Every host of a site shares key_file and public_key_file, so a
 *	password sealed on one host opens on all. The sealed file is
 *	made by `mailmigrate store password`, the password read on stdin.
 */
#ifndef MM_STORE_CFG_H
#define MM_STORE_CFG_H

#include "cfg.h"
#include "store.h"

#define STORE_PASSWORD_MAX 1024

/* The options for cfg's store: *o with opts' create and readonly (opts
 * may be NULL), the map sizes, event_log_max, connect_timeout, and for
 * PostgreSQL the unsealed password in *password_r (o->password points
 * to it; mm_free_secret() it after the open). */
int store_cfg_options(const struct cfg *cfg, const struct store_options *opts,
		      struct store_options *o, char **password_r,
		      const char **error_r);
/* Open cfg's store: opts (may be NULL) gives create and readonly; the
 * map sizes, event_log_max, connect_timeout and the password come
 * from cfg. */
int store_open_cfg(const struct cfg *cfg, const struct store_options *opts,
		   struct store **store_r, const char **error_r);

/* Seal password with cfg's public_key_file and write it to path
 * (mode 0640, replacing a file there by rename). */
int store_password_write(const struct cfg *cfg, const char *path,
			 const char *password, const char **error_r);
/* Read and open cfg's store_password_file: *password_r (release with
 * mm_free_secret()), or NULL when the configuration has none. */
int store_password_read(const struct cfg *cfg, char **password_r,
			const char **error_r);

#endif
