/*
 * NAME
 *	puller 3h
 * SUMMARY
 *	the puller: mailmigrated's workers and the copy of one account
 * DESCRIPTION
 *	mailmigrated forks `workers` processes. Each opens the store, takes
 *	a job under a lease, copies that account from OLD to NEW through
 *	the drivers, and gives the job back done, to retry (with back-off)
 *	or failed. The copy goes in batches: a batch is recorded as
 *	pending before it is sent to NEW and as done, with the new UIDs,
 *	after; a crash between the two is resolved at the next attempt by
 *	matching what NEW holds, so nothing is copied twice or lost.
 */
#ifndef MM_PULLER_H
#define MM_PULLER_H

#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "cfg.h"
#include "driver.h"
#include "log.h"
#include "store.h"
#include "store_cfg.h"
#include "stream.h"

#define PULLER_LEASE_SECONDS 300
#define PULLER_BATCH_MESSAGES 64
#define PULLER_BATCH_BYTES (16 * 1024 * 1024)
#define PULLER_MAX_FOLDERS 20000

struct throttle;
/* max_bytes_per_second, shared by all workers; NULL: unlimited. */
extern struct throttle *puller_throttle;

/* Set by the signal handlers; checked between messages. */
extern volatile sig_atomic_t puller_stop;

struct puller {
	const struct cfg *cfg;
	struct store *store;
	char owner[128];	/* "host:pid", the lease holder */
	char *target_master_password;
};

enum puller_outcome {
	PULLER_DONE,		/* the job is finished */
	PULLER_STOPPED,		/* stopped by pause or SIGTERM: give it back */
	PULLER_LEASE_LOST,	/* another worker has it now */
};

/* puller_progress.c: the copy's progress in the store (stats, top). */
struct puller_progress {
	struct store *store;	/* NULL: not begun, or ended */
	struct store_progress rec;
	time_t written;
	int failed;		/* a write failed this round (logged once) */
};
void puller_progress_begin(struct puller_progress *pp, struct store *store,
			   const char *account, const char *owner, time_t now);
/* What OLD holds in the folders to copy (bytes 0: not told). */
void puller_progress_total(struct puller_progress *pp, uint32_t folders,
			   uint64_t messages, uint64_t bytes);
/* Folder index (1-based) of the total starts. */
void puller_progress_folder(struct puller_progress *pp, uint32_t index,
			    const char *folder);
/* Messages handled (copied and recorded, found, or failed items). */
void puller_progress_add(struct puller_progress *pp, uint64_t messages,
			 uint64_t bytes);
/* The round is over: the record goes. */
void puller_progress_end(struct puller_progress *pp);

/* Copy job's account. 0 with *outcome_r, or -1 with the failure class
 * and a message. */
int puller_copy_account(struct puller *p, const struct store_job *job,
			enum puller_outcome *outcome_r, enum stream_fail *fail_r,
			const char **error_r);

/* With no job to take: assist the worker copying a large account, if
 * one has folders to hand out (puller_split(3)). 0 if it assisted, 1
 * if there was none, -1 on a store failure. */
int puller_assist(struct puller *p);

/* One account's sessions on OLD and NEW (puller_conn.c). */
struct puller_session {
	const struct cfg_domain *dom;	/* in: the account's domain */
	const char *account;		/* in: user@domain */
	const struct source_driver *sdrv;
	const struct target_driver *tdrv;
	struct driver_conn *src, *dst;
	/* puller_source_folders(): folders OLD listed in its other users'
	 * or shared namespaces, left out, and the first of them. */
	size_t not_own;
	char not_own_first[256];
};

/* Log in to OLD as s->dom says and to NEW as its master user. On
 * failure too, what was opened stays in s for puller_session_close(). */
int puller_session_open(struct puller *p, struct puller_session *s,
			enum stream_fail *fail_r, const char **error_r);
void puller_session_close(struct puller_session *s);
/* Another session on NEW for s->account (s->tdrv), as the master user:
 * the copy's second, for sending one batch while NEW commits another. */
int puller_target_open(struct puller *p, const struct puller_session *s,
		       struct driver_conn **conn_r, enum stream_fail *fail_r,
		       const char **error_r);
/* OLD's folders, sorted by name (parents first), and how OLD lays out
 * their names in *msrc (its personal prefix, by NAMESPACE or guessed,
 * in prefix[size]); those in OLD's other users' or shared namespaces
 * left out (s->not_own counts them): they are not this user's. An OLD session without INBOX fails FINAL with the
 * reason: it is not the user's mailbox. The caller frees the folders
 * (driver_folders_free()). */
struct folder_map_source;
int puller_source_folders(struct puller_session *s, struct driver_folder **folders_r,
			  size_t *count_r, struct folder_map_source *msrc, char *prefix,
			  size_t size, enum stream_fail *fail_r, const char **error_r);
/* The personal namespace prefix a folder list implies: "INBOX." when
 * every other folder sits below INBOX (Courier, Cyrus), else "". */
void puller_guess_prefix(const struct driver_folder *folders, size_t count,
			 char *prefix, size_t size);

/* An event for the administrator (the store's log), and the same line
 * in the log. */
void puller_event(struct puller *p, const char *account, enum log_severity sev,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* One folder's verification (puller_verify.c): each of OLD's messages
 * now, against what the store recorded and what NEW holds. */
struct puller_verify {
	char *folder;		/* OLD's name */
	char *target;		/* NEW's, as recorded; NULL if none */
	uint32_t uidvalidity;	/* OLD's */
	/* "ok", "differs", "not copied" (no round has: new on OLD, or
	 * excluded), "failed" (the folder itself: a failed item says why) */
	const char *state;
	int differs;
	char why[512];		/* what differs, in words, or "" */
	uint64_t old_msgs, old_bytes;	/* OLD's, up to what the rounds handled */
	uint64_t later;			/* OLD's newer ones: the next round's */
	uint64_t copied, copied_bytes;	/* of old_msgs, recorded as copied */
	uint64_t failed, failed_bytes;	/* of old_msgs, failed items */
	uint64_t missing, missing_bytes; /* of old_msgs, neither: differs */
	uint64_t new_msgs, new_bytes;	/* NEW's folder, all of it */
	uint64_t new_copied_bytes;	/* NEW's sizes of the copied ones */
	uint64_t gone;			/* copied, not on NEW: differs */
	uint64_t sizes;			/* copied, NEW's size not OLD's */
	uint64_t dates;			/* copied, NEW's INTERNALDATE not OLD's */
	uint64_t flags;			/* copied, NEW's flags or keywords not OLD's */
	/* In a round: OLD unchanged since a round proved the folder (its
	 * HIGHESTMODSEQ): OLD's messages taken from the record, not listed
	 * again; NEW listed; old_bytes and copied_bytes not known (0). */
	int from_record;
	/* In a round: OLD changed since a round proved the folder: only
	 * the changes listed on OLD (RFC 7162 CHANGEDSINCE), the others
	 * taken from the record; NEW listed; old_bytes and copied_bytes
	 * those of the changes. */
	int from_changes;
};

/* Right after a round's copy, in its sessions: a POP3 message not
 * recorded is missing (the session is a snapshot), not a newer one; and
 * a copy gone from NEW is forgotten (UID map, UIDL set), so the next
 * attempt copies it again (the rounds run before users move to NEW). */
#define PULLER_VERIFY_IN_ROUND 0x01

/* Called for each copied message (NEW UID >= dates_from) whose
 * INTERNALDATE NEW did not keep. */
typedef void puller_verify_date_fn(const struct puller_verify *v, uint32_t old_uid,
				   uint32_t new_uid, const char *old_date,
				   const char *new_date, void *ctx);

/* Verify folder (OLD's name) of s->account; s is open. 0 with *v
 * (puller_verify_clear() it), or -1 with the failure class. */
int puller_verify_folder(struct puller *p, struct puller_session *s, const char *folder,
			 unsigned flags, uint32_t dates_from, puller_verify_date_fn *date_fn,
			 void *ctx, struct puller_verify *v, enum stream_fail *fail_r,
			 const char **error_r);
void puller_verify_clear(struct puller_verify *v);

/* NEW's ManageSieve (target_sieve_host, else target_host's host at
 * 4190; TLS as target_tls): connected, its greeting read (host and
 * *port_r say where), or logged in to as target_master_user acting for
 * account: 0 with *client_r (managesieve_close() it), or -1. */
struct managesieve_client;
int puller_sieve_connect_new(const struct cfg *cfg, struct managesieve_client **client_r,
			     char *host, size_t host_size, uint16_t *port_r,
			     enum stream_fail *fail_r, const char **error_r);
int puller_sieve_open_new(const struct puller *p, const char *account,
			  struct managesieve_client **client_r,
			  enum stream_fail *fail_r, const char **error_r);

/* An account's calendars and address books against NEW now
 * (puller_dav_verify(3)). */
struct puller_dav_verify {
	uint64_t collections;	/* recorded as made or found on NEW */
	uint64_t items;		/* recorded as put on NEW */
	uint64_t same;		/* on NEW with the ETag the copy got */
	uint64_t changed;	/* on NEW with another: edited there */
	uint64_t gone;		/* recorded, not on NEW: differs */
	uint64_t failed;	/* "caldav:" and "carddav:" failed items */
	int no_password;	/* none captured (wiped): not asked */
	char why[512];		/* the gone ones, in words, or "" */
	int differs;
};
int puller_dav_verify(struct puller *p, const char *account,
		      struct puller_dav_verify *v,
		      enum stream_fail *fail_r, const char **error_r);

/* migrate_shared: the rights others have on an account's folders, OLD's
 * against NEW's copy now (puller_acl(3)); counts add up over folders. */
struct puller_acl_verify {
	uint64_t folders;	/* folders with rights for others on OLD */
	uint64_t entries;	/* OLD's entries for others */
	uint64_t same;		/* on NEW with OLD's rights */
	uint64_t unmapped;	/* identifiers with no account on NEW */
	uint64_t failed_folders; /* not all given: the failed item says why */
	uint64_t differ_folders; /* not all given, no failed item: differs */
	uint64_t not_read;	/* folders whose ACL OLD or NEW would not show */
	int old_none, new_none;	/* OLD or NEW has no ACL extension */
	int differs;
	char why[512];
};
/* One folder (OLD's name; target NEW's) in s, open; nothing changed. 0,
 * or -1 with the failure class. */
int puller_acl_verify_folder(struct puller *p, const struct puller_session *s,
			     const char *folder, const char *target,
			     struct puller_acl_verify *v, enum stream_fail *fail_r,
			     const char **error_r);

/* An account's Sieve copy against NEW now (puller_sieve_verify(3)). */
struct puller_sieve_verify {
	uint64_t recorded;	/* scripts the store says were put on NEW */
	uint64_t same;		/* on NEW with the bytes put there */
	uint64_t changed;	/* on NEW with other bytes: edited there */
	uint64_t gone;		/* recorded, not (readable) on NEW: differs */
	uint64_t failed;	/* "sieve:" failed items */
	char active_recorded[STORE_MAX_SIEVE_NAME + 1];	/* "": none */
	char active_new[STORE_MAX_SIEVE_NAME + 1];	/* "": none */
	char why[512];		/* the gone ones, in words, or "" */
	int differs;
};
int puller_sieve_verify(struct puller *p, const char *account,
			struct puller_sieve_verify *v,
			enum stream_fail *fail_r, const char **error_r);

/* After account's copy (puller_kick.c): end its sessions that NEW
 * proxies to OLD (login_action = proxy), so clients reconnect locally. */
void puller_kick(struct puller *p, const char *account);

/* Give back the jobs leased by processes of this host that are gone
 * (a daemon killed with SIGKILL, a worker that crashed), so a restart
 * resumes them at once. worker_died: the daemon saw its worker killed
 * by a signal (a crash, perhaps on what that job copies): each counts
 * as a death of the job's worker. At start-up (0) they do not: the
 * daemon itself was stopped (kill -9, a reboot, systemd), which says
 * nothing about the job. */
int puller_reclaim(const struct cfg *cfg, int worker_died);
/* A lease owner ("host:pid") on this host whose process is gone (or a
 * zombie): 1. Another host's, or a live one: 0 (its lease decides). */
int puller_owner_gone(const char *owner);

/* The lease a worker takes a job under and renews: PULLER_LEASE_SECONDS,
 * or MAILMIGRATED_LEASE_SECONDS from the environment (tests only). */
unsigned puller_lease_seconds(void);

/* The worker loop; returns the exit status. once: exit when no job is
 * ready instead of waiting. */
int puller_worker_run(const struct cfg *cfg, int once);

#endif
