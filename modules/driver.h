/*
 * NAME
 *	driver 3h
 * SUMMARY
 *	one interface for mail sources and targets
 * DESCRIPTION
 *	In the shape of isync's struct driver, but synchronous: one puller
 *	worker process copies one account at a time, and the drivers
 *	pipeline inside each call. Sources: IMAP (folders, flags, dates)
 *	and POP3 (INBOX only, UIDLs). Targets: IMAP as NEW's master user;
 *	Dovecot through our doveadm command, keeping UIDs.
 *
 *	Message bodies never pass through memory whole: a source hands a
 *	body to the target through driver_body, a bounded chunk reader
 *	whose size is known before the first byte (an IMAP literal's
 *	size, or a spooled POP3 message's).
 *
 *	Every call fails with a class (stream_fail: retry now, retry
 *	later, give up) and a message naming what and where. Two classes
 *	say what was refused: STREAM_FAIL_MESSAGE, this one message only
 *	(a target's append that NEW refused for the message itself:
 *	[TOOBIG], [PARSE], a NO without a code; a source's message over
 *	max_message_size): the copy records a failed item and goes on,
 *	and the connection stays usable; STREAM_FAIL_AUTH, the login
 *	refused. A refusal for now ([OVERQUOTA], [UNAVAILABLE], [INUSE],
 *	[LIMIT]) is STREAM_FAIL_WAIT: nothing is given up (resp_code(3)).
 */
#ifndef MM_DRIVER_H
#define MM_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cfg.h"
#include "stream.h"

/* System flags, as IMAP has them (\Recent is never copied). */
#define DRIVER_FLAG_SEEN	0x01
#define DRIVER_FLAG_ANSWERED	0x02
#define DRIVER_FLAG_FLAGGED	0x04
#define DRIVER_FLAG_DELETED	0x08
#define DRIVER_FLAG_DRAFT	0x10

/* Folder attributes: \Noselect and the RFC 6154 special uses. */
#define DRIVER_FOLDER_NOSELECT	0x001
#define DRIVER_FOLDER_SENT	0x010
#define DRIVER_FOLDER_DRAFTS	0x020
#define DRIVER_FOLDER_TRASH	0x040
#define DRIVER_FOLDER_JUNK	0x080
#define DRIVER_FOLDER_ARCHIVE	0x100
#define DRIVER_FOLDER_SPECIAL	0x1f0
/* In OLD's other users' or shared namespace (NAMESPACE, RFC 2342):
 * not the user's own folder. */
#define DRIVER_FOLDER_OTHERS	0x200
#define DRIVER_FOLDER_SHARED	0x400

/* What list_messages() is asked to give besides UID, flags, date, size. */
#define DRIVER_WANT_MESSAGE_ID 0x01	/* message_id, for matching */
#define DRIVER_WANT_UIDL 0x02	/* uidl from the X-UIDL: header (a POP3 copy) */

#define DRIVER_MAX_KEYWORDS 64
#define DRIVER_MAX_KEYWORD 128

struct driver_folder {
	char *name;		/* as the server spells it (modified UTF-7) */
	char separator;		/* '\0' for a flat namespace */
	unsigned attrs;		/* DRIVER_FOLDER_* */
	int subscribed;
};

/* A folder's access control list (RFC 4314): identifier and rights,
 * as the server spells them ("-bob" a negative right). */
#define DRIVER_ACL_MAX 128		/* entries of one folder */
#define DRIVER_ACL_ID_MAX 256		/* bytes of an identifier, NUL too */
#define DRIVER_ACL_RIGHTS_MAX 64	/* bytes of rights, NUL too */
struct driver_acl_entry {
	char identifier[DRIVER_ACL_ID_MAX];
	char rights[DRIVER_ACL_RIGHTS_MAX];
};
struct driver_acl {
	struct driver_acl_entry *e;
	size_t count;
};
void driver_acl_free(struct driver_acl *acl);
/* get_acl(): the server has no ACL extension (no ACL capability). */
#define DRIVER_ACL_NONE 1

struct driver_message {
	uint32_t uid;		/* IMAP UID, or the POP3 message number */
	uint64_t size;		/* RFC822.SIZE / LIST size */
	unsigned flags;		/* DRIVER_FLAG_* */
	char **keywords;
	size_t keywords_count;
	char internaldate[40];	/* "17-Jul-1996 02:44:25 -0700", "" if none */
	char uidl[72];		/* POP3; IMAP: X-UIDL: with DRIVER_WANT_UIDL */
	char *message_id;	/* DRIVER_WANT_MESSAGE_ID: "<id@host>", or NULL */
	/* Its RFC 7162 MODSEQ when the session has CONDSTORE on and the
	 * server said it (list_changed() always does); else 0. */
	uint64_t modseq;
};

struct driver_folder_status {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t exists;
	/* The folder's RFC 7162 HIGHESTMODSEQ as the source's select()
	 * opened it: every change since (a new message, a flag changed)
	 * has a higher MODSEQ. 0: unknown (no CONDSTORE enabled, the
	 * folder is NOMODSEQ, a target): then list_changed() is not to
	 * be used on it. */
	uint64_t highestmodseq;
};

/* A body being copied: size is known; read gives the bytes in order. */
struct driver_body {
	uint64_t size;
	int (*read)(struct driver_body *body, void *buf, size_t len,
		    size_t *got_r, enum stream_fail *fail_r, const char **error_r);
	void *ctx;
};

/* Receives one fetched message: 0 to go on, 1 when this message was
 * refused but the copy goes on, -1 to stop. */
typedef int driver_sink_fn(const struct driver_message *msg,
			   struct driver_body *body, void *ctx);

/* Receives message msgs[index] of a fetch_batch(), as fetch's sink does. */
typedef int driver_batch_sink_fn(size_t index, const struct driver_message *msg,
				 struct driver_body *body, void *ctx);

struct driver_login {
	const char *user;	/* the account, user@domain */
	const char *password;	/* the user's, or the admin's */
	const char *admin_user;	/* NULL: log in as user with its password */
	int admin_star_form;	/* "user*admin" login (Dovecot master);
				 * 0: SASL PLAIN with user as authzid */
	/* CFG_AUTH_XOAUTH2 or CFG_AUTH_OAUTHBEARER: log in as user with
	 * oauth2_token (a bearer token) instead of password; admin_user
	 * is then unused. Zero (CFG_AUTH_PASSWORD): the password. */
	enum cfg_source_auth auth;
	const char *oauth2_token;
};

struct driver_settings {
	const char *host;	/* host[:port] as configured */
	enum cfg_tls tls;
	struct stream_tls tls_opts;
	unsigned connect_timeout_ms;	/* 0: 30 s */
	unsigned timeout_ms;		/* each read and write */
	uint64_t max_message_size;
	/* tls = detect: when this server first completed STARTTLS/STLS
	 * (the store's TLS memory; 0: never); then a server offering none
	 * is refused as a downgrade, and *downgrade_r (if not NULL) set
	 * (imap_client.h). */
	int64_t tls_seen;
	int *downgrade_r;
	/* target_driver_dovecot: the doveadm to run (NULL: /usr/bin/doveadm)
	 * and NEW's dovecot.conf for its -c (NULL: doveadm's default). */
	const char *doveadm;
	const char *doveadm_config;
	/* target_driver_dovecot: 1 to run doveadm with mail_fsync=never
	 * and have it syncfs(2) before and after each batch's commit (as
	 * durable as mail_fsync=optimized); 0: NEW's own mail_fsync. */
	int fsync_batch;
	/* source_driver_pop3: give bodies as OLD has them, without the
	 * "X-UIDL:" header (a target that stores the UIDL itself:
	 * append_add_keep's pop3_uidl). */
	int pop3_no_uidl_header;
};

struct driver_conn;

/* What a source can do. */
struct source_driver {
	const char *name;	/* "imap", "pop3" */
	int (*open)(const struct driver_settings *set, const struct driver_login *login,
		    struct driver_conn **conn_r, enum stream_fail *fail_r,
		    const char **error_r);
	/* The personal namespace prefix (RFC 2342: "" or "INBOX."): 1 with
	 * prefix set, 0 when the server does not say (NULL: never). */
	int (*namespace_prefix)(struct driver_conn *conn, char *prefix, size_t size,
				enum stream_fail *fail_r, const char **error_r);
	/* The first shared namespace's prefix (public folders: Dovecot's
	 * "Public/", Cyrus's "", Courier's "#shared."): 1 with prefix
	 * set, 0 when NAMESPACE names none (NULL: never). */
	int (*shared_prefix)(struct driver_conn *conn, char *prefix, size_t size,
			     enum stream_fail *fail_r, const char **error_r);
	/* Every folder, subscriptions marked. The caller frees with
	 * driver_folders_free(). POP3: just INBOX. */
	int (*list_folders)(struct driver_conn *conn, struct driver_folder **folders_r,
			    size_t *count_r, enum stream_fail *fail_r,
			    const char **error_r);
	/* Open a folder read-only (EXAMINE: nothing turns read on OLD). */
	int (*select)(struct driver_conn *conn, const char *folder,
		      struct driver_folder_status *status_r,
		      enum stream_fail *fail_r, const char **error_r);
	/* How much a folder holds, without opening it (IMAP STATUS
	 * MESSAGES, with SIZE where the server has STATUS=SIZE, RFC 8438;
	 * POP3: LIST): *bytes_r 0 when the server does not say. NULL:
	 * the source cannot tell. */
	int (*folder_size)(struct driver_conn *conn, const char *folder,
			   uint64_t *messages_r, uint64_t *bytes_r,
			   enum stream_fail *fail_r, const char **error_r);
	/* Each message with uid >= first_uid, in UID order; want asks for
	 * more than the summary (DRIVER_WANT_*, where the source can). */
	int (*list_messages)(struct driver_conn *conn, uint32_t first_uid,
			     unsigned want, int (*fn)(const struct driver_message *msg, void *ctx),
			     void *ctx, enum stream_fail *fail_r, const char **error_r);
	/* As list_messages from UID 1, but only the messages whose MODSEQ
	 * is above changedsince (RFC 7162 CHANGEDSINCE): new ones and
	 * those whose flags changed, each with its modseq. Expunged ones
	 * are not said. Only on a folder select() reported a non-zero
	 * highestmodseq for, with 0 < changedsince <= it. NULL: the
	 * source cannot (POP3). */
	int (*list_changed)(struct driver_conn *conn, uint64_t changedsince,
			    unsigned want, int (*fn)(const struct driver_message *msg, void *ctx),
			    void *ctx, enum stream_fail *fail_r, const char **error_r);
	/* Stream msg's exact bytes to sink, which gets the message as
	 * fetched (a POP3 source fills in the date from its headers) and
	 * the body once its size is known, and may read all of it. */
	int (*fetch)(struct driver_conn *conn, const struct driver_message *msg,
		     driver_sink_fn *sink, void *ctx,
		     enum stream_fail *fail_r, const char **error_r);
	/* The bodies of several messages in one command, in order; a
	 * message that vanished on the server is skipped. NULL: fetch one
	 * at a time. */
	int (*fetch_batch)(struct driver_conn *conn,
			   const struct driver_message *const *msgs, size_t count,
			   driver_batch_sink_fn *sink, void *ctx,
			   enum stream_fail *fail_r, const char **error_r);
	void (*close)(struct driver_conn **conn);
	/* 1 if the session runs over TLS (STARTTLS or implicit), else 0:
	 * what the TLS memory records. */
	int (*is_tls)(struct driver_conn *conn);
	/* 1 if folder names from this server are UTF-8 (IMAP after ENABLE
	 * UTF8=ACCEPT, RFC 6855), 0 if modified UTF-7 (NULL: never). */
	int (*utf8_names)(struct driver_conn *conn);
	/* Optional: folder's ACL (GETACL, RFC 4314) into *acl_r
	 * (driver_acl_free()); DRIVER_ACL_NONE when the server has no
	 * ACL extension. A refusal (no right to read it) fails with the
	 * server's class. */
	int (*get_acl)(struct driver_conn *conn, const char *folder,
		       struct driver_acl *acl_r, enum stream_fail *fail_r,
		       const char **error_r);
};

/* What a target can do. */
struct target_driver {
	const char *name;	/* "imap" */
	int (*open)(const struct driver_settings *set, const struct driver_login *login,
		    struct driver_conn **conn_r, enum stream_fail *fail_r,
		    const char **error_r);
	int (*namespace_prefix)(struct driver_conn *conn, char *prefix, size_t size,
				enum stream_fail *fail_r, const char **error_r);
	int (*list_folders)(struct driver_conn *conn, struct driver_folder **folders_r,
			    size_t *count_r, enum stream_fail *fail_r,
			    const char **error_r);
	/* Create (with a special use, when the server takes it) and
	 * subscribe; an existing folder is not an error. */
	int (*create_folder)(struct driver_conn *conn, const char *name,
			     unsigned attrs, int subscribe,
			     enum stream_fail *fail_r, const char **error_r);
	int (*select)(struct driver_conn *conn, const char *folder,
		      struct driver_folder_status *status_r,
		      enum stream_fail *fail_r, const char **error_r);
	/* Each message with uid >= first_uid in the selected folder (to
	 * match what is already on NEW after a crash). */
	int (*list_messages)(struct driver_conn *conn, uint32_t first_uid,
			     unsigned want, int (*fn)(const struct driver_message *msg, void *ctx),
			     void *ctx, enum stream_fail *fail_r, const char **error_r);
	/* The UID of the message in the selected folder whose header
	 * field name has exactly value (the X-UIDL of a POP3 copy), or 0. */
	int (*find_header)(struct driver_conn *conn, const char *name,
			   const char *value, uint32_t *uid_r,
			   enum stream_fail *fail_r, const char **error_r);
	/* Append one message (flags, keywords, date from msg) whose bytes
	 * come from body; *new_uid_r from APPENDUID, or 0 when the server
	 * lacks UIDPLUS. NEW refusing this message: STREAM_FAIL_MESSAGE. */
	int (*append)(struct driver_conn *conn, const char *folder,
		      const struct driver_message *msg, struct driver_body *body,
		      uint32_t *new_uid_r, enum stream_fail *fail_r,
		      const char **error_r);
	/* Appends as one command (MULTIAPPEND, RFC 3502): NEW keeps all of
	 * them or none. can_batch says whether this connection can;
	 * append_result's uids_r[i] is the UID of the i-th message added
	 * (all 0 when the server lacks UIDPLUS), and a refusal of the whole
	 * batch fails with its class: STREAM_FAIL_MESSAGE when a message
	 * in it is at fault (send them one by one to find it).
	 * A connection whose batch was begun but not ended is unusable. */
	int (*can_batch)(struct driver_conn *conn);
	int (*append_begin)(struct driver_conn *conn, const char *folder,
			    enum stream_fail *fail_r, const char **error_r);
	int (*append_add)(struct driver_conn *conn, const struct driver_message *msg,
			  struct driver_body *body, enum stream_fail *fail_r,
			  const char **error_r);
	/* The batch's end in two halves, so the caller can work elsewhere
	 * while NEW commits (driver_append_end() does both): append_commit
	 * ends the batch (NEW begins its commit) without waiting;
	 * append_result waits for the answer. In between the connection is
	 * busy: nothing else goes on it. */
	int (*append_commit)(struct driver_conn *conn, enum stream_fail *fail_r,
			     const char **error_r);
	int (*append_result)(struct driver_conn *conn, uint32_t *uids_r, size_t count,
			     enum stream_fail *fail_r, const char **error_r);
	/* NEW's largest accepted message (APPENDLIMIT), or 0 if unsaid. */
	uint64_t (*append_limit)(struct driver_conn *conn);
	/* Make uid's flags and keywords what msg says. */
	int (*set_flags)(struct driver_conn *conn, uint32_t uid,
			 const struct driver_message *msg,
			 enum stream_fail *fail_r, const char **error_r);
	void (*close)(struct driver_conn **conn);

	/* Optional: a target that keeps OLD's identity (dovecot); NULL
	 * for one that cannot (imap), whose folders and UIDs are NEW's.
	 * set_identity gives folder (created if missing) OLD's
	 * UIDVALIDITY (0: keep) and raises its UIDNEXT to min_next_uid
	 * (0: keep); *status_r is the folder afterwards. Call it with
	 * the UIDVALIDITY before the folder's messages and with OLD's
	 * UIDNEXT after them: a UID below UIDNEXT is never given. A
	 * different UIDVALIDITY on a folder holding messages is refused
	 * (STREAM_FAIL_FINAL). */
	int (*set_identity)(struct driver_conn *conn, const char *folder,
			    uint32_t uidvalidity, uint32_t min_next_uid,
			    struct driver_folder_status *status_r,
			    enum stream_fail *fail_r, const char **error_r);
	/* As append_add, asking for UID want_uid (0: any) and storing
	 * pop3_uidl (NULL: none) as the message's POP3 UIDL. append_result's
	 * uids_r says which UID each message got: want_uid, or a new one
	 * when it was taken. */
	int (*append_add_keep)(struct driver_conn *conn,
			       const struct driver_message *msg,
			       uint32_t want_uid, const char *pop3_uidl,
			       struct driver_body *body,
			       enum stream_fail *fail_r, const char **error_r);
	/* Optional (dovecot): move every message of folder from into
	 * folder to (created if missing; they get new UIDs there), then
	 * delete from if delete_from; *moved_r how many. A from that does
	 * not exist moves nothing. No folder is selected afterwards. */
	int (*move_all)(struct driver_conn *conn, const char *from, const char *to,
			int delete_from, uint32_t *moved_r,
			enum stream_fail *fail_r, const char **error_r);
	/* Optional (imap): folder's ACL as the source's get_acl; set_acl
	 * gives identifier exactly rights (SETACL; "" removes the entry:
	 * DELETEACL). */
	int (*get_acl)(struct driver_conn *conn, const char *folder,
		       struct driver_acl *acl_r, enum stream_fail *fail_r,
		       const char **error_r);
	int (*set_acl)(struct driver_conn *conn, const char *folder,
		       const char *identifier, const char *rights,
		       enum stream_fail *fail_r, const char **error_r);
};

void driver_folders_free(struct driver_folder **folders, size_t count);
/* An RFC 5322 date ("Tue, 15 Nov 1994 08:12:31 +0100 (CET)", obsolete
 * zones and two-digit years too) as an IMAP date-time
 * ("15-Nov-1994 08:12:31 +0100") in out; 0, or -1 if it is not one. */
int pop3_date_to_imap(const char *text, char *out, size_t size);
/* The date for a message's header block (len bytes, stopping at the
 * blank line): the newest (first) Received: field's, else Date:'s, else
 * "" (the target then uses the time of the copy). */
void pop3_header_date(const char *headers, size_t len, char *out, size_t size);
/* "host", "host:port", "[v6]:port" into host and *port_r (0 if none);
 * -1 when malformed. */
int driver_split_host(const char *hostport, char *host, size_t hostsize,
		      uint16_t *port_r);
void driver_message_clear(struct driver_message *msg);
/* End t's batch on conn and wait for NEW's answer (append_commit, then
 * append_result); uids_r as append_result says. */
int driver_append_end(const struct target_driver *t, struct driver_conn *conn,
		      uint32_t *uids_r, size_t count, enum stream_fail *fail_r,
		      const char **error_r);

/* The client under a connection that source_driver_imap (pop3) opened,
 * for what only reports need (capabilities, POP3 STAT: mailmigrate
 * preflight); still the connection's. */
struct imap_client;
struct pop3_client;
struct imap_client *imap_driver_client(struct driver_conn *conn);
struct pop3_client *pop3_driver_client(struct driver_conn *conn);

extern const struct source_driver source_driver_imap;
extern const struct source_driver source_driver_pop3;
extern const struct target_driver target_driver_imap;
/* doveadm mailmigrate-import on NEW (doveadm-plugin/README): keeps
 * UIDVALIDITY, UIDs and POP3 UIDLs. Folder names as for the imap
 * target (modified UTF-7, NEW's separator). list_messages gives each
 * message's date, POP3 UIDL (uidl) and Message-ID besides its size and
 * flags. It cannot find a header (STREAM_FAIL_FINAL, "not supported"):
 * match POP3 copies by the uidl list_messages gives. */
extern const struct target_driver target_driver_dovecot;

#endif
