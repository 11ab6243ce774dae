/*
 * NAME
 *	imap_namespace 3h
 * SUMMARY
 *	the NAMESPACE response (RFC 2342): whose is a folder
 * DESCRIPTION
 *	An OLD server lists, under LIST "" "*", more than the user's own
 *	folders: Dovecot its shared namespace ("shared/bob/Team") and its
 *	public one, Cyrus other users' folders the user may read
 *	("user.bob.Team") and its shared folders (prefix ""), Courier its
 *	shared folders. Copied as the user's own, each would land in the
 *	user's mailbox on NEW, once per user who sees it. The NAMESPACE
 *	response says which prefixes are the user's (personal), other
 *	users' and shared; imap_namespace_of() gives a folder the kind of
 *	the longest prefix it starts with, INBOX always personal.
 * LIMITS
 *	IMAP_NAMESPACE_MAX namespaces of each kind, prefixes of at most
 *	IMAP_NAMESPACE_PREFIX_MAX - 1 bytes; more, or anything that is not
 *	RFC 2342's syntax, is refused (STREAM_FAIL_FINAL's caller decides).
 *	Namespace response extensions are skipped.
 */
#ifndef MM_IMAP_NAMESPACE_H
#define MM_IMAP_NAMESPACE_H

#include <stddef.h>

#include "imap_parse.h"

#define IMAP_NAMESPACE_MAX 8
#define IMAP_NAMESPACE_PREFIX_MAX 256

enum imap_ns_kind {
	IMAP_NS_PERSONAL,
	IMAP_NS_OTHERS,		/* other users' */
	IMAP_NS_SHARED,
	IMAP_NS_KINDS
};

struct imap_ns {
	char prefix[IMAP_NAMESPACE_PREFIX_MAX];
	char separator;		/* '\0': NIL (a flat namespace) */
};

struct imap_namespaces {
	struct imap_ns ns[IMAP_NS_KINDS][IMAP_NAMESPACE_MAX];
	size_t count[IMAP_NS_KINDS];
};

/* args, count: the untagged response after "*" (args[0] the atom
 * NAMESPACE). 0 with *ns filled, or -1 with *error_r (static text). */
int imap_namespace_parse(const struct imap_arg *args, size_t count,
			 struct imap_namespaces *ns, const char **error_r);

/* The kind of folder name: the namespace whose prefix is the longest
 * one name starts with (its root too: the prefix without its trailing
 * separator); personal on a tie, for INBOX, and when none matches. */
enum imap_ns_kind imap_namespace_of(const struct imap_namespaces *ns, const char *name);

/* "other users'" / "shared" / "personal", for events. */
const char *imap_namespace_kind_name(enum imap_ns_kind kind);

#endif
