/*
 * NAME
 *	puller_acl_state 3h
 * SUMMARY
 *	the ACL copy's records: what each round did with each right
 * DESCRIPTION
 *	puller_acl(3) copies the rights; these keep what it did in the
 *	store (store.h, "rights on shared folders"), so that a later round
 *	takes back on NEW a right OLD no longer gives, and `mailmigrate
 *	show` and `stats` can tell.
 *
 *	acl_recs_load() reads one folder's records; acl_recs_note() writes
 *	one entry's outcome (when it changed) and marks it seen;
 *	acl_recs_take_back() handles the records the round did not see:
 *	an entry OLD no longer lists. acl_recs_forget_gone() drops the
 *	records of folders the round no longer found.
 */
#ifndef MM_PULLER_ACL_STATE_H
#define MM_PULLER_ACL_STATE_H

#include "copy.h"

struct acl_recs {
	struct store_acl *v;
	unsigned char *seen;
	size_t count, size;
};

/* What acl_recs_take_back() did: rights taken back on NEW, and those
 * left because NEW's differ from what a round gave (the user's). */
struct acl_take_back {
	uint64_t taken, kept;
	char list[STREAM_ERROR_MAX];	/* "ID (RIGHTS)" of both, bounded */
	size_t n;
};

/* A session failure (not one folder's or entry's answer): the pass
 * stops. */
int acl_session_broken(enum stream_fail fail);
/* Append ", what" to the list in buf (bounded: what does not fit is
 * left out, the counts say how many). */
void acl_note(char *buf, size_t size, size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

void acl_recs_free(struct acl_recs *recs);
/* folder's records into *recs: 0, or -1 (a store failure: *fail_r). */
int acl_recs_load(struct copy *c, const char *folder, struct acl_recs *recs,
		  enum stream_fail *fail_r, const char **error_r);
/* One of OLD's entries, after the round's try: record it when its
 * outcome differs from the record's (given_to "" unless given or
 * there); a record that says GIVEN stays so while NEW holds the
 * rights. 0 or -1. */
int acl_recs_note(struct copy *c, struct acl_recs *recs, const char *folder,
		  const char *target, const char *identifier, const char *given_to,
		  const char *rights, enum store_acl_state state,
		  enum stream_fail *fail_r, const char **error_r);
/* The records of the folder not noted this round: a right a round gave
 * (or found) whose holder on NEW (cur) still has exactly it is taken
 * back (set_acl ""); one NEW holds otherwise is kept; each record is
 * forgotten. 0, or -1 (the store, or a broken session). */
int acl_recs_take_back(struct copy *c, struct acl_recs *recs, const char *target,
		       const struct driver_acl *cur, struct acl_take_back *tb,
		       enum stream_fail *fail_r, const char **error_r);
/* Forget the records of every folder not among names[0..count): the
 * folder is gone from OLD or no longer copied; NEW is not touched.
 * *forgotten_r folders. 0 or -1. */
int acl_recs_forget_gone(struct copy *c, char **names, size_t count,
			 uint64_t *forgotten_r, enum stream_fail *fail_r,
			 const char **error_r);

#endif
