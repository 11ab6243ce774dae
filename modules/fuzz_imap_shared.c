/*
 * NAME
 *	fuzz_imap_shared 1
 * SUMMARY
 *	libFuzzer target: the NAMESPACE and ACL parsers
 * DESCRIPTION
 *	The input is a server's lines (LF-ended, a CR before it dropped;
 *	literals are not followed: neither response uses them in
 *	practice, and the IMAP parser has its own target). Each complete
 *	line goes through the IMAP response parser, then to
 *	imap_namespace_parse() and imap_acl_parse() both, and what they
 *	return is checked against their promises: at most
 *	IMAP_NAMESPACE_MAX namespaces of a kind, every prefix and ACL
 *	field NUL-terminated within its array, rights valid RFC 4314
 *	rights, and imap_namespace_of() a kind for any name. A broken
 *	promise aborts; so does any crash, leak or sanitizer report.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_acl.h"
#include "imap_namespace.h"
#include "imap_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_namespaces(const struct imap_namespaces *ns, const char *line,
			     size_t len)
{
	static const char *const names[] = { "INBOX", "inbox", "", "shared",
					     "shared/bob/Team", "user.bob", "Public/x" };
	char name[64];

	for (int k = 0; k < IMAP_NS_KINDS; k++) {
		if (ns->count[k] > IMAP_NAMESPACE_MAX)
			abort();
		for (size_t i = 0; i < ns->count[k]; i++)
			if (memchr(ns->ns[k][i].prefix, '\0', IMAP_NAMESPACE_PREFIX_MAX) == NULL)
				abort();
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((unsigned)imap_namespace_of(ns, names[i]) >= IMAP_NS_KINDS)
			abort();
	/* the line's own bytes as a folder name */
	len = len < sizeof(name) - 1 ? len : sizeof(name) - 1;
	memcpy(name, line, len);
	name[len] = '\0';
	if ((unsigned)imap_namespace_of(ns, name) >= IMAP_NS_KINDS)
		abort();
}

static void check_acl(const struct driver_acl *acl)
{
	for (size_t i = 0; i < acl->count; i++) {
		const struct driver_acl_entry *e = &acl->e[i];

		if (memchr(e->identifier, '\0', sizeof(e->identifier)) == NULL ||
		    memchr(e->rights, '\0', sizeof(e->rights)) == NULL ||
		    !imap_acl_rights_valid(e->rights))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parse_limits limits = { .max_args = 256, .max_depth = 8,
					    .max_kept = 4096, .max_literal = 1 << 16 };
	struct imap_parser *p = imap_parser_new(&limits);
	struct driver_acl acl = { NULL, 0 };
	const char *in = (const char *)data;
	size_t pos = 0;

	while (pos < size) {
		const char *nl = memchr(in + pos, '\n', size - pos);
		size_t len = nl != NULL ? (size_t)(nl - (in + pos)) : size - pos;
		const char *line = in + pos;
		enum imap_parse_status st;

		pos += len + (nl != NULL);
		if (len > 0 && line[len - 1] == '\r')
			len--;
		st = imap_parser_feed_line(p, line, len);
		if (st == IMAP_PARSE_DONE) {
			struct imap_namespaces ns;
			const struct imap_arg *args;
			const char *error;
			size_t count, before = acl.count;

			args = imap_parser_args(p, &count);
			memset(&ns, 0, sizeof(ns));
			if (imap_namespace_parse(args, count, &ns, &error) == 0)
				check_namespaces(&ns, line, len);
			if (imap_acl_parse(args, count, &acl, &error) < 0 && acl.count != before)
				abort();	/* a refusal leaves *acl as it was */
			check_acl(&acl);
		}
		if (st != IMAP_PARSE_NEED_LINE)
			imap_parser_reset(p);
	}
	driver_acl_free(&acl);
	imap_parser_free(&p);
	return 0;
}
