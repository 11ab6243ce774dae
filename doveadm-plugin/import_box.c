/*
 * NAME
 *	import_box 3
 * SUMMARY
 *	the mailmigrate-import commands on Dovecot's mail storage
 * DESCRIPTION
 *	One folder is open at a time. The APPENDs between two COMMITs
 *	(or ABORTs, or FOLDERs) are one mailbox transaction, committed
 *	once: a process killed in between leaves only unlinked temporary
 *	files, never part of a batch, so the puller repeats the batch and
 *	gets no duplicate.
 *
 *	A wanted UID is asked of Dovecot (mailbox_save_set_uid) only when
 *	it is at or above the folder's UIDNEXT as the batch began and above
 *	every UID asked for earlier in the batch; otherwise, and whenever
 *	another writer (LMTP) took it meanwhile, Dovecot assigns the next
 *	free one. COMMIT answers wanted and assigned UID for every message,
 *	so the caller sees each one that moved.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* syncfs(2) */
#endif
#include "lib.h"		/* Dovecot's; pulls in its config.h */
#include "array.h"
#include "str.h"
#include "istream.h"
#include "seq-range-array.h"
#include "hash.h"
#include "mail-storage.h"
#include "mail-namespace.h"
#include "mailbox-list-iter.h"
#include "mail-search-build.h"

#include <assert.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "import.h"

/* Our flag bits are Dovecot's: the protocol names them, Dovecot stores. */
static_assert(IMPORT_FLAG_ANSWERED == MAIL_ANSWERED &&
	      IMPORT_FLAG_FLAGGED == MAIL_FLAGGED &&
	      IMPORT_FLAG_DELETED == MAIL_DELETED &&
	      IMPORT_FLAG_SEEN == MAIL_SEEN &&
	      IMPORT_FLAG_DRAFT == MAIL_DRAFT, "flag bits differ");

/* Keywords listed per message by STATE stop at this many bytes of line,
 * so a message with a thousand keywords cannot exceed IMPORT_LINE_MAX. */
#define IMPORT_STATE_FLAGS_MAX 6800
/* A Message-ID longer than this is not listed by STATE ("-"): the line
 * stays under IMPORT_LINE_MAX with the longest flags and UIDL. */
#define IMPORT_STATE_MSGID_MAX 700

struct import_box {
	struct mail_user *user;
	struct mailbox *box;
	struct mailbox_transaction_context *trans;
	/* The batch: UIDNEXT when it began, the highest UID asked for,
	 * and the UID wanted for each saved message, in order. */
	uint32_t batch_next_uid;
	uint32_t batch_highest;
	ARRAY(uint32_t) wanted;
	int fsync_batch;		/* -b: syncfs around commits */
};

/* -b: everything written to the file system of box's mail root (its
 * files, renames, indexes) reaches the disk, in one syncfs(2) where
 * mail_fsync=optimized would fsync each message's file. 0, or -1 with
 * NO temp answered (what is the command's name). */
static int import_box_syncfs(struct mailbox *box, const char *what)
{
	const char *path = mailbox_list_get_root_forced(
		mailbox_get_namespace(box)->list, MAILBOX_LIST_PATH_TYPE_MAILBOX);
	int fd, ret;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ret = fd < 0 ? -1 : syncfs(fd);
	if (ret < 0)
		import_answer_no(IMPORT_CLASS_TEMP, t_strdup_printf(
			"%s: syncfs(%s) failed: %m", what, path));
	if (fd >= 0)
		i_close_fd(&fd);
	return ret;
}

/* Dovecot's error kinds, as the puller's retry classes. */
static enum import_class import_class_of(enum mail_error error,
					 int for_message)
{
	switch (error) {
	case MAIL_ERROR_TEMP:
		return IMPORT_CLASS_TEMP;
	case MAIL_ERROR_INUSE:		/* a lock held elsewhere */
	case MAIL_ERROR_NOQUOTA:	/* until the administrator acts */
		return IMPORT_CLASS_WAIT;
	case MAIL_ERROR_PARAMS:
	case MAIL_ERROR_CONVERSION:
	case MAIL_ERROR_INVALIDDATA:
	case MAIL_ERROR_LIMIT:
		/* Something about this one message: the others can go. */
		return for_message ? IMPORT_CLASS_MESSAGE : IMPORT_CLASS_FINAL;
	default:
		return IMPORT_CLASS_FINAL;
	}
}

/* Answer the folder's last storage error, classified. */
static void import_box_fail(struct import_box *ibox, const char *what,
			    int for_message)
{
	enum mail_error error;
	const char *text = mailbox_get_last_error(ibox->box, &error);

	import_answer_no(import_class_of(error, for_message),
			 t_strdup_printf("%s: %s", what, text));
}

struct import_box *import_box_init(struct mail_user *user, int fsync_batch)
{
	struct import_box *ibox = i_new(struct import_box, 1);

	ibox->user = user;
	ibox->fsync_batch = fsync_batch;
	i_array_init(&ibox->wanted, 64);
	return ibox;
}

static void import_box_rollback(struct import_box *ibox)
{
	if (ibox->trans != NULL)
		mailbox_transaction_rollback(&ibox->trans);
	array_clear(&ibox->wanted);
}

static void import_box_close(struct import_box *ibox)
{
	import_box_rollback(ibox);
	if (ibox->box != NULL)
		mailbox_free(&ibox->box);
}

void import_box_deinit(struct import_box **_ibox)
{
	struct import_box *ibox = *_ibox;

	*_ibox = NULL;
	import_box_close(ibox);
	array_free(&ibox->wanted);
	i_free(ibox);
}

int import_box_in_batch(const struct import_box *ibox)
{
	return ibox->trans != NULL;
}

/* UIDVALIDITY, UIDNEXT and message count as they are now on disk. */
static int import_box_status(struct import_box *ibox,
			     struct mailbox_status *status_r)
{
	if (mailbox_sync(ibox->box, 0) < 0)
		return -1;
	mailbox_get_open_status(ibox->box, STATUS_UIDVALIDITY |
				STATUS_UIDNEXT | STATUS_MESSAGES, status_r);
	return 0;
}

/* The selected folder's status, outside a batch (IDENTITY and STATE);
 * -1 when there is none, answered. */
static int import_box_settled(struct import_box *ibox,
			      struct mailbox_status *status_r)
{
	if (ibox->box == NULL || import_box_in_batch(ibox)) {
		import_answer_no(IMPORT_CLASS_FINAL, ibox->box == NULL ?
				 "no folder: FOLDER first" :
				 "a batch is open: COMMIT or ABORT it first");
		return -1;
	}
	if (import_box_status(ibox, status_r) < 0) {
		import_box_fail(ibox, "sync failed", 0);
		return -1;
	}
	return 0;
}

void import_box_folder(struct import_box *ibox, const char *name,
		       const char *special_use)
{
	struct mail_namespace *ns;
	struct mailbox_status status;
	enum mailbox_existence existence;
	enum mail_error error;
	int created = 0;

	if (import_box_in_batch(ibox)) {
		import_answer_no(IMPORT_CLASS_FINAL,
				 "a batch is open: COMMIT or ABORT it first");
		return;
	}
	import_box_close(ibox);
	ns = mail_namespace_find(ibox->user->namespaces, name);
	ibox->box = mailbox_alloc(ns->list, name, 0);
	if (mailbox_exists(ibox->box, FALSE, &existence) < 0) {
		import_box_fail(ibox, "folder lookup failed", 0);
		import_box_close(ibox);
		return;
	}
	if (existence == MAILBOX_EXISTENCE_NONE) {
		if (mailbox_create(ibox->box, NULL, FALSE) < 0) {
			(void)mailbox_get_last_error(ibox->box, &error);
			if (error != MAIL_ERROR_EXISTS) {
				import_box_fail(ibox, "CREATE failed", 0);
				import_box_close(ibox);
				return;
			}
		} else {
			created = 1;
		}
	}
	if (mailbox_open(ibox->box) < 0) {
		import_box_fail(ibox, "open failed", 0);
		import_box_close(ibox);
		return;
	}
	if (import_box_status(ibox, &status) < 0) {
		import_box_fail(ibox, "sync failed", 0);
		import_box_close(ibox);
		return;
	}
	/* Dovecot 2.3 takes special-use from its configuration only
	 * (mailbox NAME { special_use = ... }): its /private/specialuse
	 * attribute "cannot be changed". So the answer says whether the
	 * folder has the one asked for; the caller maps OLD's \Sent to
	 * NEW's configured folder rather than expect it to be set. */
	if (strcmp(special_use, "-") != 0 &&
	    !mailbox_has_special_use(ibox->box, special_use))
		special_use = "-";
	import_answer("OK\t%u\t%u\t%u\t%d\t%s", status.uidvalidity,
		      status.uidnext, status.messages, created, special_use);
}

/* Give the folder OLD's identity. A UIDVALIDITY is changed only while
 * the folder is empty: Dovecot would change it under messages too, but
 * their UIDs would then mean something else to every client that knew
 * the folder, which is what this target exists to prevent. */
void import_box_identity(struct import_box *ibox, uint32_t uidvalidity,
			 uint32_t min_next_uid)
{
	struct mailbox_status status;
	struct mailbox_update update;

	if (import_box_settled(ibox, &status) < 0)
		return;
	if (uidvalidity != 0 && uidvalidity != status.uidvalidity &&
	    status.messages > 0) {
		import_answer_no(IMPORT_CLASS_FINAL, t_strdup_printf(
			"folder holds %u messages under UIDVALIDITY %u: not changed",
			status.messages, status.uidvalidity));
		return;
	}
	i_zero(&update);
	if (uidvalidity != status.uidvalidity)
		update.uid_validity = uidvalidity;
	update.min_next_uid = min_next_uid;
	if ((update.uid_validity != 0 || update.min_next_uid > status.uidnext) &&
	    mailbox_update(ibox->box, &update) < 0) {
		import_box_fail(ibox, "update failed", 0);
		return;
	}
	if (import_box_status(ibox, &status) < 0) {
		import_box_fail(ibox, "sync failed", 0);
		return;
	}
	import_answer("OK\t%u\t%u", status.uidvalidity, status.uidnext);
}

/* The batch's transaction, begun at its first APPEND. */
static int import_box_batch(struct import_box *ibox)
{
	struct mailbox_status status;

	if (ibox->trans != NULL)
		return 0;
	if (import_box_status(ibox, &status) < 0)
		return -1;
	ibox->batch_next_uid = status.uidnext;
	ibox->batch_highest = 0;
	/* ASSIGN_UIDS: the commit must tell which UID each message got. */
	ibox->trans = mailbox_transaction_begin(ibox->box,
		MAILBOX_TRANSACTION_FLAG_EXTERNAL |
		MAILBOX_TRANSACTION_FLAG_ASSIGN_UIDS, "mailmigrate-import");
	return 0;
}

int import_box_append(struct import_box *ibox, uint32_t uid,
		      const struct import_flags *flags, time_t when, int tz,
		      const char *uidl, struct istream *body, uoff_t size)
{
	struct mail_save_context *save;
	struct mail_keywords *kw = NULL;
	int ret = 0;

	if (ibox->box == NULL) {
		import_answer_no(IMPORT_CLASS_FINAL, "no folder: FOLDER first");
		return 0;
	}
	if (array_count(&ibox->wanted) >= IMPORT_BATCH_MAX) {
		import_answer_no(IMPORT_CLASS_FINAL, t_strdup_printf(
			"batch full (%u messages): COMMIT first",
			IMPORT_BATCH_MAX));
		return 0;
	}
	if (import_box_batch(ibox) < 0) {
		import_box_fail(ibox, "sync failed", 0);
		return 0;
	}
	save = mailbox_save_alloc(ibox->trans);
	if (flags->keyword_count > 0)
		kw = mailbox_keywords_create_valid(ibox->box, flags->keyword);
	mailbox_save_set_flags(save, (enum mail_flags)flags->system, kw);
	if (kw != NULL)
		mailbox_keywords_unref(&kw);
	if (uid != 0 && uid >= ibox->batch_next_uid && uid > ibox->batch_highest) {
		mailbox_save_set_uid(save, uid);
		ibox->batch_highest = uid;
	}
	if (when != (time_t)-1)
		mailbox_save_set_received_date(save, when, tz);
	if (strcmp(uidl, "-") != 0)
		mailbox_save_set_pop3_uidl(save, uidl);
	if (mailbox_save_begin(&save, body) < 0) {
		import_box_fail(ibox, "save failed", 1);
		return 0;
	}
	do {
		if (mailbox_save_continue(save) < 0) {
			ret = -1;
			break;
		}
	} while (i_stream_read(body) > 0);
	if (ret == 0 && (body->stream_errno != 0 || body->v_offset != size)) {
		/* The peer is gone mid-literal: nothing of it is saved. */
		mailbox_save_cancel(&save);
		return -1;
	}
	if (ret < 0) {
		mailbox_save_cancel(&save);
		import_box_fail(ibox, "save failed", 1);
		return 0;
	}
	if (mailbox_save_finish(&save) < 0) {
		import_box_fail(ibox, "save failed", 1);
		return 0;
	}
	array_push_back(&ibox->wanted, &uid);
	import_answer("OK");
	return 0;
}

void import_box_commit(struct import_box *ibox)
{
	struct mail_transaction_commit_changes changes;
	struct seq_range_iter iter;
	struct mailbox_status status;
	const uint32_t *wanted;
	unsigned int i, count;
	uint32_t uid;

	if (ibox->box == NULL) {
		import_answer_no(IMPORT_CLASS_FINAL, "no folder: FOLDER first");
		return;
	}
	count = array_count(&ibox->wanted);
	if (ibox->trans != NULL) {
		/* -b: the batch's files on disk before they are renamed
		 * into place (a crash of the machine then leaves no empty
		 * message), the renames before the answer. */
		if (ibox->fsync_batch && import_box_syncfs(ibox->box, "commit") < 0) {
			import_box_rollback(ibox);
			return;
		}
		if (mailbox_transaction_commit_get_changes(&ibox->trans,
							   &changes) < 0) {
			array_clear(&ibox->wanted);
			import_box_fail(ibox, "commit failed", 0);
			return;
		}
		if (ibox->fsync_batch && import_box_syncfs(ibox->box, "commit") < 0) {
			/* Committed, not known durable: not OK. The
			 * puller finds the batch's messages on NEW when
			 * it settles it. */
			pool_unref(&changes.pool);
			array_clear(&ibox->wanted);
			return;
		}
		wanted = array_front(&ibox->wanted);
		seq_range_array_iter_init(&iter, &changes.saved_uids);
		for (i = 0; i < count; i++) {
			if (!seq_range_array_iter_nth(&iter, i, &uid))
				uid = 0;	/* cannot be: ASSIGN_UIDS */
			import_answer("*\t%u\t%u", wanted[i], uid);
		}
		pool_unref(&changes.pool);
		array_clear(&ibox->wanted);
	}
	if (import_box_status(ibox, &status) < 0) {
		import_box_fail(ibox, "sync failed", 0);
		return;
	}
	import_answer("OK\t%u\t%u\t%u", count, status.uidvalidity,
		      status.uidnext);
}

void import_box_abort(struct import_box *ibox)
{
	import_box_rollback(ibox);
	import_answer("OK");
}

/* The flags of one message in the APPEND syntax. */
static const char *import_flags_str(struct mail *mail)
{
	static const struct {
		enum mail_flags flag;
		const char *name;
	} sys[] = {
		{ MAIL_ANSWERED, "\\Answered" }, { MAIL_FLAGGED, "\\Flagged" },
		{ MAIL_DELETED, "\\Deleted" }, { MAIL_SEEN, "\\Seen" },
		{ MAIL_DRAFT, "\\Draft" },
	};
	enum mail_flags flags = mail_get_flags(mail);
	const char *const *kw = mail_get_keywords(mail);
	string_t *str = t_str_new(128);
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(sys); i++) {
		if ((flags & sys[i].flag) == 0)
			continue;
		if (str_len(str) > 0)
			str_append_c(str, ' ');
		str_append(str, sys[i].name);
	}
	for (; *kw != NULL && str_len(str) < IMPORT_STATE_FLAGS_MAX; kw++) {
		if (str_len(str) > 0)
			str_append_c(str, ' ');
		str_append(str, *kw);
	}
	return str_len(str) == 0 ? "-" : str_c(str);
}

/* A header value fit for one field of a STATE line: trimmed, without
 * control bytes and not over max bytes; else "-". */
static const char *import_field(const char *value, size_t max)
{
	size_t len;

	if (value == NULL)
		return "-";
	while (*value == ' ' || *value == '\t')
		value++;
	len = strlen(value);
	while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
		len--;
	if (len == 0 || len > max)
		return "-";
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
			return "-";
	return t_strndup(value, len);
}

void import_box_state(struct import_box *ibox, uint32_t from_uid,
		      unsigned int max, int want_msgid)
{
	struct mailbox_transaction_context *t;
	struct mailbox_status status;
	struct mail *mail;
	uint32_t seq, seq1, seq2;
	uoff_t size;
	time_t date;
	const char *uidl, *msgid;
	unsigned int n = 0;

	if (import_box_settled(ibox, &status) < 0)
		return;
	t = mailbox_transaction_begin(ibox->box, 0, "mailmigrate-import state");
	mail = mail_alloc(t, MAIL_FETCH_FLAGS | MAIL_FETCH_VIRTUAL_SIZE |
			  MAIL_FETCH_RECEIVED_DATE | MAIL_FETCH_UIDL_BACKEND, NULL);
	mailbox_get_seq_range(ibox->box, from_uid == 0 ? 1 : from_uid,
			      (uint32_t)-1, &seq1, &seq2);
	for (seq = seq1; seq1 != 0 && seq <= seq2 && n < max; seq++, n++) {
		mail_set_seq(mail, seq);
		if (mail_get_virtual_size(mail, &size) < 0) {
			if (mail->expunged)
				continue;
			mail_free(&mail);
			mailbox_transaction_rollback(&t);
			import_box_fail(ibox, "size lookup failed", 0);
			return;
		}
		/* Date, POP3 UIDL and Message-ID are for matching after a
		 * crash: one that cannot be read is "-", not a failure. */
		if (mail_get_received_date(mail, &date) < 0)
			date = (time_t)-1;
		if (mail_get_special(mail, MAIL_FETCH_UIDL_BACKEND, &uidl) < 0)
			uidl = NULL;
		/* The header costs a read of the message (not cached
		 * after a save): only when asked. */
		if (!want_msgid ||
		    mail_get_first_header(mail, "Message-ID", &msgid) <= 0)
			msgid = NULL;
		T_BEGIN {
			import_answer("*\t%u\t%"PRIuUOFF_T"\t%s\t%s\t%s\t%s",
				      mail->uid, size, import_flags_str(mail),
				      date == (time_t)-1 ? "-" :
				      t_strdup_printf("%lld", (long long)date),
				      import_field(uidl, 70),
				      import_field(msgid, IMPORT_STATE_MSGID_MAX));
		} T_END;
	}
	mail_free(&mail);
	mailbox_transaction_rollback(&t);
	import_answer("OK\t%u\t%u\t%u", status.uidvalidity, status.uidnext,
		      status.messages);
}

/* Every folder the user has, for the puller to learn NEW's separator
 * and its configured special-use folders (OLD's \Sent goes there). */
void import_box_list(struct import_box *ibox)
{
	static const char *const patterns[] = { "*", NULL };
	struct mailbox_list_iterate_context *iter;
	const struct mailbox_info *info;
	const char *special;
	char sep;

	iter = mailbox_list_iter_init_namespaces(ibox->user->namespaces, patterns,
						 MAIL_NAMESPACE_TYPE_PRIVATE,
						 MAILBOX_LIST_ITER_RETURN_SPECIALUSE);
	while ((info = mailbox_list_iter_next(iter)) != NULL) T_BEGIN {
		sep = mail_namespace_get_sep(info->ns);
		special = info->special_use == NULL ? "-" :
			t_strcut(info->special_use, ' ');
		if (import_check_name(info->vname) == 0 &&
		    import_check_special_use(special) == 0)
			import_answer("*\t%c\t%s\t%s\t%s", sep != '\0' ? sep : '-',
				      (info->flags & (MAILBOX_NOSELECT |
						      MAILBOX_NONEXISTENT)) != 0 ?
				      "\\Noselect" : "-", special, info->vname);
	} T_END;
	if (mailbox_list_iter_deinit(&iter) < 0) {
		import_answer_no(IMPORT_CLASS_TEMP, "listing folders failed");
		return;
	}
	import_answer("OK");
}

/* Flags as OLD has them now (a later round): replaced, not added to.
 * A message no longer on NEW (expunged there) is not an error, as IMAP
 * UID STORE says nothing of a UID it does not have. */
void import_box_flags(struct import_box *ibox, uint32_t uid,
		      const struct import_flags *flags)
{
	struct mailbox_transaction_context *t;
	struct mailbox_status status;
	struct mail_keywords *kw;
	struct mail *mail;
	int found;

	if (import_box_settled(ibox, &status) < 0)
		return;
	/* Not FLAG_EXTERNAL: that says the change is in the files already,
	 * and Maildir's next sync would take the file names' flags back. */
	t = mailbox_transaction_begin(ibox->box, 0, "mailmigrate-import flags");
	mail = mail_alloc(t, 0, NULL);
	found = mail_set_uid(mail, uid) ? 1 : 0;
	if (found) {
		mail_update_flags(mail, MODIFY_REPLACE, (enum mail_flags)flags->system);
		kw = mailbox_keywords_create_valid(ibox->box, flags->keyword);
		mail_update_keywords(mail, MODIFY_REPLACE, kw);
		mailbox_keywords_unref(&kw);
	}
	mail_free(&mail);
	if (mailbox_transaction_commit(&t) < 0 || mailbox_sync(ibox->box, 0) < 0) {
		import_box_fail(ibox, "flag update failed", 0);
		return;
	}
	import_answer("OK\t%d", found);
}

/* OLD's subscription, as the imap target's SUBSCRIBE gives it. */
void import_box_subscribe(struct import_box *ibox)
{
	struct mailbox_status status;

	if (import_box_settled(ibox, &status) < 0)
		return;
	if (mailbox_set_subscribed(ibox->box, TRUE) < 0) {
		import_box_fail(ibox, "subscribe failed", 0);
		return;
	}
	import_answer("OK");
}

/* Open folder name, creating it if asked; NULL (answered) on failure,
 * *missing_r set when it does not exist and create is 0. */
static struct mailbox *import_box_open_other(struct import_box *ibox,
					     const char *name, int create,
					     int *missing_r)
{
	struct mail_namespace *ns = mail_namespace_find(ibox->user->namespaces, name);
	struct mailbox *box = mailbox_alloc(ns->list, name, 0);
	enum mailbox_existence existence;
	enum mail_error error;

	*missing_r = 0;
	if (mailbox_exists(box, FALSE, &existence) < 0)
		goto fail;
	if (existence == MAILBOX_EXISTENCE_NONE && !create) {
		*missing_r = 1;
		mailbox_free(&box);
		return NULL;
	}
	if (existence == MAILBOX_EXISTENCE_NONE &&
	    mailbox_create(box, NULL, FALSE) < 0) {
		(void)mailbox_get_last_error(box, &error);
		if (error != MAIL_ERROR_EXISTS)
			goto fail;
	}
	if (mailbox_open(box) < 0 || mailbox_sync(box, 0) < 0)
		goto fail;
	return box;
fail:
	import_answer_no(import_class_of(MAIL_ERROR_TEMP, 0), t_strdup_printf(
		"%s: %s", name, mailbox_get_last_internal_error(box, NULL)));
	mailbox_free(&box);
	return NULL;
}

/* For the tests: MAILMIGRATE_IMPORT_CRASH_IN_MOVE names a file; when it
 * exists, it is removed and the process dies by SIGKILL once a move's
 * copies are committed and before its expunges are, the window an
 * interrupted move has to survive. Once per file. */
static void import_box_crash_point(void)
{
	const char *path = getenv("MAILMIGRATE_IMPORT_CRASH_IN_MOVE");

	if (path != NULL && *path != '\0' && unlink(path) == 0)
		(void)raise(SIGKILL);
}

HASH_TABLE_DEFINE_TYPE(import_guids, char *, void *);

/* The GUIDs of box's messages into guids (strings from pool): what an
 * interrupted move already put there. -1 on failure (box's error). */
static int import_box_guids(struct mailbox *box, pool_t pool,
			    HASH_TABLE_TYPE(import_guids) guids)
{
	struct mailbox_transaction_context *t;
	struct mail_search_args *args;
	struct mail_search_context *search;
	struct mail *mail;
	const char *guid;
	int ret = 0;

	t = mailbox_transaction_begin(box, 0, "mailmigrate-import moveall guids");
	args = mail_search_build_init();
	mail_search_build_add_all(args);
	search = mailbox_search_init(t, args, NULL, MAIL_FETCH_GUID, NULL);
	mail_search_args_unref(&args);
	while (ret == 0 && mailbox_search_next(search, &mail)) {
		if (mail_get_special(mail, MAIL_FETCH_GUID, &guid) < 0)
			ret = -1;
		else if (*guid != '\0' && hash_table_lookup(guids, guid) == NULL)
			hash_table_insert(guids, p_strdup(pool, guid), POINTER_CAST(1));
	}
	if (mailbox_search_deinit(&search) < 0)
		ret = -1;
	mailbox_transaction_rollback(&t);
	return ret;
}

/* Park NEW's own messages out of a folder while OLD's go in, and bring
 * them back above OLD's UIDs after. The copies are committed before the
 * expunges, so a kill in between leaves a message in both, never in
 * neither; the move done again then only expunges a message whose GUID
 * the destination holds already (Dovecot keeps a message's GUID when it
 * copies it: Maildir's file name, dbox's GUID), so none ends up twice.
 * A storage that gives no GUID gets no such check. */
void import_box_moveall(struct import_box *ibox, const char *from,
			const char *to, int delete_from)
{
	struct mailbox *src, *dst;
	struct mailbox_transaction_context *st, *dt;
	struct mail_search_args *args;
	struct mail_search_context *search;
	struct mail_save_context *save;
	struct mail *mail;
	HASH_TABLE_TYPE(import_guids) guids;
	pool_t pool;
	const char *guid;
	unsigned int moved = 0;
	int missing, ret = 0;

	if (import_box_in_batch(ibox)) {
		import_answer_no(IMPORT_CLASS_FINAL,
				 "a batch is open: COMMIT or ABORT it first");
		return;
	}
	import_box_close(ibox);
	src = import_box_open_other(ibox, from, 0, &missing);
	if (src == NULL) {
		if (missing)
			import_answer("OK\t0");
		return;
	}
	dst = import_box_open_other(ibox, to, 1, &missing);
	if (dst == NULL) {
		mailbox_free(&src);
		return;
	}
	pool = pool_alloconly_create("mailmigrate-import moveall", 1024);
	hash_table_create(&guids, pool, 0, str_hash, strcmp);
	if (import_box_guids(dst, pool, guids) < 0) {
		import_answer_no(IMPORT_CLASS_TEMP, t_strdup_printf("%s: %s", to,
			mailbox_get_last_internal_error(dst, NULL)));
		hash_table_destroy(&guids);
		pool_unref(&pool);
		mailbox_free(&dst);
		mailbox_free(&src);
		return;
	}
	st = mailbox_transaction_begin(src, 0, "mailmigrate-import moveall");
	/* Saves are EXTERNAL (Dovecot asserts it, as IMAP COPY does); the
	 * expunges not, or Maildir's next sync would bring them back. */
	dt = mailbox_transaction_begin(dst, MAILBOX_TRANSACTION_FLAG_EXTERNAL,
				       "mailmigrate-import moveall");
	args = mail_search_build_init();
	mail_search_build_add_all(args);
	search = mailbox_search_init(st, args, NULL, MAIL_FETCH_GUID, NULL);
	mail_search_args_unref(&args);
	while (ret == 0 && mailbox_search_next(search, &mail)) {
		if (mail_get_special(mail, MAIL_FETCH_GUID, &guid) < 0) {
			ret = -1;
		} else if (*guid != '\0' && hash_table_lookup(guids, guid) != NULL) {
			/* Copied by a move a kill interrupted. */
			mail_expunge(mail);
			moved++;
		} else {
			/* Flags and keywords go with it: they are the
			 * user's, and an EXTERNAL copy does not take them
			 * by itself. */
			save = mailbox_save_alloc(dt);
			mailbox_save_copy_flags(save, mail);
			if (mailbox_move(&save, mail) < 0)
				ret = -1;
			else
				moved++;
		}
	}
	hash_table_destroy(&guids);
	pool_unref(&pool);
	if (mailbox_search_deinit(&search) < 0)
		ret = -1;
	if (ret < 0) {
		mailbox_transaction_rollback(&dt);
		mailbox_transaction_rollback(&st);
		import_answer_no(IMPORT_CLASS_TEMP, t_strdup_printf("move %s -> %s: %s",
			from, to, mailbox_get_last_internal_error(src, NULL)));
	} else if (mailbox_transaction_commit(&dt) < 0) {
		mailbox_transaction_rollback(&st);
		import_answer_no(IMPORT_CLASS_TEMP, t_strdup_printf("move into %s: %s",
			to, mailbox_get_last_internal_error(dst, NULL)));
		ret = -1;
	} else if ((import_box_crash_point(), 0) ||
		   mailbox_transaction_commit(&st) < 0 ||
		   mailbox_sync(src, 0) < 0) {
		import_answer_no(IMPORT_CLASS_TEMP, t_strdup_printf("expunge in %s: %s",
			from, mailbox_get_last_internal_error(src, NULL)));
		ret = -1;
	}
	if (ret == 0 && delete_from && mailbox_delete(src) < 0) {
		import_answer_no(IMPORT_CLASS_TEMP, t_strdup_printf("delete %s: %s",
			from, mailbox_get_last_internal_error(src, NULL)));
		ret = -1;
	}
	if (ret == 0 && ibox->fsync_batch && import_box_syncfs(dst, "move") < 0)
		ret = -1;
	mailbox_free(&dst);
	mailbox_free(&src);
	if (ret == 0)
		import_answer("OK\t%u", moved);
}
