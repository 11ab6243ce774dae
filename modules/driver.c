/*
 * NAME
 *	driver 3
 * SUMMARY
 *	helpers shared by the drivers
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "mm_alloc.h"

void driver_folders_free(struct driver_folder **folders, size_t count)
{
	if (*folders == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		mm_free(&(*folders)[i].name);
	mm_free(folders);
}

void driver_acl_free(struct driver_acl *acl)
{
	mm_free(&acl->e);
	acl->count = 0;
}

int driver_append_end(const struct target_driver *t, struct driver_conn *conn,
		      uint32_t *uids_r, size_t count, enum stream_fail *fail_r,
		      const char **error_r)
{
	memset(uids_r, 0, count * sizeof(*uids_r));
	if (t->append_commit(conn, fail_r, error_r) < 0)
		return -1;
	return t->append_result(conn, uids_r, count, fail_r, error_r);
}

void driver_message_clear(struct driver_message *msg)
{
	for (size_t i = 0; i < msg->keywords_count; i++)
		mm_free(&msg->keywords[i]);
	mm_free(&msg->keywords);
	mm_free(&msg->message_id);
	memset(msg, 0, sizeof(*msg));
}

int driver_split_host(const char *hostport, char *host, size_t hostsize,
		      uint16_t *port_r)
{
	const char *colon;
	size_t len;

	*port_r = 0;
	if (hostport[0] == '[') {
		const char *end = strchr(hostport, ']');

		if (end == NULL)
			return -1;
		len = (size_t)(end - hostport - 1);
		if (len + 1 > hostsize)
			return -1;
		memcpy(host, hostport + 1, len);
		host[len] = '\0';
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL)
			return -1;
	} else {
		colon = strrchr(hostport, ':');
		if (colon != NULL && strchr(hostport, ':') != colon)
			colon = NULL;	/* a bare IPv6 address */
		len = colon != NULL ? (size_t)(colon - hostport) : strlen(hostport);
		if (len == 0 || len + 1 > hostsize)
			return -1;
		memcpy(host, hostport, len);
		host[len] = '\0';
	}
	if (colon != NULL) {
		char *end;
		unsigned long port = strtoul(colon + 1, &end, 10);

		if (*end != '\0' || port == 0 || port > 65535)
			return -1;
		*port_r = (uint16_t)port;
	}
	return 0;
}
