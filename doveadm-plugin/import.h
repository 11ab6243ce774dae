/*
 * NAME
 *	import 3h
 * SUMMARY
 *	private header of the doveadm mailmigrate-import command
 * DESCRIPTION
 *	doveadm_mailmigrate.c: the module, the command and its read loop
 *	(framing, literals, answers). import_box.c: what each command does
 *	to the mail storage (one folder open at a time, one transaction
 *	per batch). import_proto.c: the words, without Dovecot.
 *
 *	Answers (README): "OK[\t...]", "NO\t<class>\t<reason>" with class
 *	temp (retry now), wait (retry later), final (give up), message
 *	(this message only), "BAD\t<reason>" for a protocol error, and
 *	"*\t..." data lines before a COMMIT's or STATE's OK.
 */
#ifndef IMPORT_H
#define IMPORT_H

#include "import_proto.h"

struct mail_user;
struct istream;
struct import_box;

/* How a storage failure is answered, by Dovecot's mail_error. */
enum import_class {
	IMPORT_CLASS_TEMP,
	IMPORT_CLASS_WAIT,
	IMPORT_CLASS_FINAL,
	IMPORT_CLASS_MESSAGE,
};

/* Where answers go: one line each, written at once (the peer waits). */
void import_answer(const char *fmt, ...) ATTR_FORMAT(1, 2);
/* "NO\t<class>\t<reason>", the reason on one line, at most 400 bytes. */
void import_answer_no(enum import_class cls, const char *reason);

/* The user's session. import_box_deinit rolls back an open batch: a
 * batch is in the folder only after its COMMIT was answered OK. */
/* fsync_batch: doveadm runs with mail_fsync=never (-o), and each
 * COMMIT and MOVEALL is made durable by syncfs(2) instead (-b). */
struct import_box *import_box_init(struct mail_user *user, int fsync_batch);
void import_box_deinit(struct import_box **ibox);

/* The commands; each writes its own answer. */
void import_box_folder(struct import_box *ibox, const char *name,
		       const char *special_use);
void import_box_identity(struct import_box *ibox, uint32_t uidvalidity,
			 uint32_t min_next_uid);
/* APPEND: body is a stream of exactly the literal's size (the caller
 * skips whatever this leaves unread) of size bytes. Returns -1 when the input ended
 * before the literal did (the peer is gone), else 0. */
int import_box_append(struct import_box *ibox, uint32_t uid,
		      const struct import_flags *flags, time_t when, int tz,
		      const char *uidl, struct istream *body, uoff_t size);
void import_box_commit(struct import_box *ibox);
void import_box_abort(struct import_box *ibox);
/* STATE: want_msgid 0 answers "-" for every Message-ID (the header is
 * not read). */
void import_box_state(struct import_box *ibox, uint32_t from_uid,
		      unsigned int max, int want_msgid);
/* Every folder of the user's private namespaces, with its separator
 * and special-use (LIST). */
void import_box_list(struct import_box *ibox);
/* Make the selected folder's message uid have exactly these flags and
 * keywords (FLAGS), in a transaction of its own; refused in a batch. */
void import_box_flags(struct import_box *ibox, uint32_t uid,
		      const struct import_flags *flags);
/* Subscribe to the selected folder (SUBSCRIBE); refused in a batch. */
void import_box_subscribe(struct import_box *ibox);
/* Move every message of folder from into folder to (created when
 * missing; new UIDs there), then delete from if asked and it is empty
 * (MOVEALL). Closes the selected folder; refused in a batch. A from
 * that does not exist moves nothing. */
void import_box_moveall(struct import_box *ibox, const char *from,
			const char *to, int delete_from);
/* A batch is open (APPENDs not yet committed). */
int import_box_in_batch(const struct import_box *ibox);

#endif
