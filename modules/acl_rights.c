/*
 * NAME
 *	acl_rights 3
 * SUMMARY
 *	RFC 4314 rights and identifiers, compared and spelled Dovecot's way
 * DESCRIPTION
 *	See acl_rights(3h). Dovecot's names are those of its acl plugin
 *	(doveadm-acl(1), the dovecot-acl file format); the letters are
 *	RFC 4314's.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "acl_rights.h"

/* The canonical order, and Dovecot's name of each. */
static const struct {
	char letter;
	const char *name, *neg_name;
} acl_rights_map[ACL_RIGHTS_NAMES_MAX] = {
	{ 'l', "lookup", "-lookup" },
	{ 'r', "read", "-read" },
	{ 'w', "write", "-write" },
	{ 's', "write-seen", "-write-seen" },
	{ 't', "write-deleted", "-write-deleted" },
	{ 'i', "insert", "-insert" },
	{ 'p', "post", "-post" },
	{ 'e', "expunge", "-expunge" },
	{ 'k', "create", "-create" },
	{ 'x', "delete", "-delete" },
	{ 'a', "admin", "-admin" },
};

void acl_rights_normalize(const char *rights, char out[DRIVER_ACL_RIGHTS_MAX])
{
	char have[256] = { 0 };
	size_t n = 0;

	for (const char *p = rights; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch == 'c')
			have['k'] = have['x'] = 1;
		else if (ch == 'd')
			have['t'] = have['e'] = 1;
		else
			have[ch] = 1;
	}
	for (size_t i = 0; i < ACL_RIGHTS_NAMES_MAX; i++)
		if (have[(unsigned char)acl_rights_map[i].letter]) {
			out[n++] = acl_rights_map[i].letter;
			have[(unsigned char)acl_rights_map[i].letter] = 0;
		}
	/* Others (digits), in their order, once each. */
	for (const char *p = rights; *p != '\0' && n < DRIVER_ACL_RIGHTS_MAX - 1; p++)
		if (*p != 'c' && *p != 'd' && have[(unsigned char)*p]) {
			out[n++] = *p;
			have[(unsigned char)*p] = 0;
		}
	out[n] = '\0';
}

int acl_rights_same(const char *a, const char *b)
{
	char na[DRIVER_ACL_RIGHTS_MAX], nb[DRIVER_ACL_RIGHTS_MAX];

	acl_rights_normalize(a, na);
	acl_rights_normalize(b, nb);
	return strcmp(na, nb) == 0;
}

int acl_rights_to_names(const char *rights, int negative,
			const char *names[ACL_RIGHTS_NAMES_MAX], char *bad)
{
	char norm[DRIVER_ACL_RIGHTS_MAX];
	int n = 0;

	acl_rights_normalize(rights, norm);
	for (const char *p = norm; *p != '\0'; p++) {
		size_t i;

		for (i = 0; i < ACL_RIGHTS_NAMES_MAX; i++)
			if (acl_rights_map[i].letter == *p)
				break;
		if (i == ACL_RIGHTS_NAMES_MAX) {
			*bad = *p;
			return -1;
		}
		names[n++] = negative ? acl_rights_map[i].neg_name : acl_rights_map[i].name;
	}
	return n;
}

/* Add letter to buf (unnormalized), bounded. */
static void acl_rights_add(char *buf, size_t *len, char letter)
{
	if (*len < DRIVER_ACL_RIGHTS_MAX - 1 && memchr(buf, letter, *len) == NULL) {
		buf[(*len)++] = letter;
		buf[*len] = '\0';
	}
}

int acl_rights_from_names(const char *names, char pos[DRIVER_ACL_RIGHTS_MAX],
			  char neg[DRIVER_ACL_RIGHTS_MAX])
{
	char p[DRIVER_ACL_RIGHTS_MAX] = "", m[DRIVER_ACL_RIGHTS_MAX] = "";
	size_t plen = 0, mlen = 0;
	int skipped = 0;

	while (*names != '\0') {
		const char *end = strchr(names, ' ');
		size_t len = end != NULL ? (size_t)(end - names) : strlen(names);
		int negative = names[0] == '-';
		const char *name = names + negative;
		size_t nlen = len - (size_t)negative, i;

		for (i = 0; len > 0 && i < ACL_RIGHTS_NAMES_MAX; i++)
			if (strlen(acl_rights_map[i].name) == nlen &&
			    strncmp(acl_rights_map[i].name, name, nlen) == 0)
				break;
		if (len == 0)
			;	/* two spaces */
		else if (i == ACL_RIGHTS_NAMES_MAX)
			skipped++;
		else if (negative)
			acl_rights_add(m, &mlen, acl_rights_map[i].letter);
		else
			acl_rights_add(p, &plen, acl_rights_map[i].letter);
		names += len;
		if (*names == ' ')
			names++;
	}
	acl_rights_normalize(p, pos);
	acl_rights_normalize(m, neg);
	return skipped;
}

int acl_id_to_dovecot(const char *id, char *out, size_t size)
{
	int ret;

	if (id[0] == '\0')
		return -1;
	if (strcmp(id, "anyone") == 0 || strcmp(id, "anonymous") == 0)
		ret = snprintf(out, size, "anyone");
	else if (strcmp(id, "authenticated") == 0 || strcmp(id, "owner") == 0)
		ret = snprintf(out, size, "%s", id);
	else if (id[0] == '$')
		ret = id[1] == '\0' ? -1 : snprintf(out, size, "group=%s", id + 1);
	else
		ret = snprintf(out, size, "user=%s", id);
	return ret < 0 || (size_t)ret >= size ? -1 : 0;
}

int acl_id_from_dovecot(const char *id, char *out, size_t size)
{
	int ret;

	if (strncmp(id, "user=", 5) == 0)
		ret = snprintf(out, size, "%s", id + 5);
	else if (strncmp(id, "group=", 6) == 0)
		ret = snprintf(out, size, "$%s", id + 6);
	else if (strcmp(id, "anyone") == 0 || strcmp(id, "authenticated") == 0 ||
		 strcmp(id, "owner") == 0)
		ret = snprintf(out, size, "%s", id);
	else
		return -1;	/* group-override=, or what a later Dovecot adds */
	return ret < 0 || (size_t)ret >= size || out[0] == '\0' ? -1 : 0;
}
