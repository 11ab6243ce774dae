/*
 * NAME
 *	imap_namespace 3
 * SUMMARY
 *	the NAMESPACE response (RFC 2342): whose is a folder
 * DESCRIPTION
 *	imap_namespace(3h). RFC 2342 section 5:
 *	  Namespace = nil / "(" 1*( "(" string SP (<"> QUOTED_CHAR <">
 *	      / nil) *(Namespace_Response_Extension) ")" ) ")"
 *	for the personal, the other users' and the shared namespaces in
 *	that order.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "imap_namespace.h"

static int ns_kind(const struct imap_arg *arg, struct imap_namespaces *ns,
		   enum imap_ns_kind kind, const char **error_r)
{
	if (arg->type == IMAP_ARG_NIL)
		return 0;
	if (arg->type != IMAP_ARG_LIST) {
		*error_r = "NAMESPACE: a namespace list is neither NIL nor a list";
		return -1;
	}
	for (size_t i = 0; i < arg->count; i++) {
		const struct imap_arg *d = &arg->list[i];
		struct imap_ns *n;
		const char *prefix;

		if (d->type != IMAP_ARG_LIST || d->count < 2 ||
		    d->list[0].type != IMAP_ARG_STRING ||
		    (prefix = imap_arg_get_astring(&d->list[0])) == NULL) {
			*error_r = "NAMESPACE: a namespace is not (prefix separator ...)";
			return -1;
		}
		if (ns->count[kind] == IMAP_NAMESPACE_MAX) {
			*error_r = "NAMESPACE: too many namespaces of one kind";
			return -1;
		}
		if (d->list[0].len >= IMAP_NAMESPACE_PREFIX_MAX ||
		    strlen(prefix) != d->list[0].len) {
			*error_r = "NAMESPACE: a prefix too long or holding a NUL";
			return -1;
		}
		n = &ns->ns[kind][ns->count[kind]];
		memcpy(n->prefix, prefix, d->list[0].len + 1);
		if (d->list[1].type == IMAP_ARG_NIL) {
			n->separator = '\0';
		} else if (d->list[1].type == IMAP_ARG_STRING && d->list[1].len == 1 &&
			   !d->list[1].literal) {
			n->separator = d->list[1].str[0];
		} else {
			*error_r = "NAMESPACE: a separator is not one quoted character or NIL";
			return -1;
		}
		ns->count[kind]++;
	}
	return 0;
}

int imap_namespace_parse(const struct imap_arg *args, size_t count,
			 struct imap_namespaces *ns, const char **error_r)
{
	memset(ns, 0, sizeof(*ns));
	if (count != 1 + IMAP_NS_KINDS || !imap_arg_is_atom(&args[0], "NAMESPACE")) {
		*error_r = "NAMESPACE: not three namespace lists";
		return -1;
	}
	for (int k = 0; k < IMAP_NS_KINDS; k++)
		if (ns_kind(&args[1 + k], ns, (enum imap_ns_kind)k, error_r) < 0) {
			memset(ns, 0, sizeof(*ns));
			return -1;
		}
	return 0;
}

/* How much of name the namespace's prefix covers: its length when name
 * starts with it or is its root (the prefix less its separator), else
 * -1. */
static long ns_match(const struct imap_ns *n, const char *name)
{
	size_t len = strlen(n->prefix);

	if (strncmp(name, n->prefix, len) == 0)
		return (long)len;
	if (len > 0 && n->separator != '\0' && n->prefix[len - 1] == n->separator &&
	    strlen(name) == len - 1 && strncmp(name, n->prefix, len - 1) == 0)
		return (long)len;
	return -1;
}

enum imap_ns_kind imap_namespace_of(const struct imap_namespaces *ns, const char *name)
{
	enum imap_ns_kind best = IMAP_NS_PERSONAL;
	long best_len = -1;

	if (strcasecmp(name, "INBOX") == 0)
		return IMAP_NS_PERSONAL;
	for (int k = 0; k < IMAP_NS_KINDS; k++)
		for (size_t i = 0; i < ns->count[k]; i++) {
			long m = ns_match(&ns->ns[k][i], name);

			/* Strictly longer: personal wins a tie. */
			if (m > best_len) {
				best_len = m;
				best = (enum imap_ns_kind)k;
			}
		}
	return best;
}

const char *imap_namespace_kind_name(enum imap_ns_kind kind)
{
	switch (kind) {
	case IMAP_NS_OTHERS:
		return "other users'";
	case IMAP_NS_SHARED:
		return "shared";
	default:
		return "personal";
	}
}
