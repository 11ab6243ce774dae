/*
 * NAME
 *	dovecot_target_test 1
 * SUMMARY
 *	drive target_driver_dovecot against a real NEW, for the
 *	integration test (tests/integration/test_dovecot_target.sh)
 * SYNOPSIS
 *	dovecot_target_test DOVEADM USER
 * DESCRIPTION
 *	Gives folder "Kept" UIDVALIDITY 4242, appends two messages asking
 *	for UIDs 5 and 9 (flags, a keyword, a date, POP3 UIDLs), reserves
 *	UIDs up to 50, lists the folder back; appends one message the
 *	generic way (NEW chooses the UID) to a folder with a non-ASCII
 *	name; then opens a user NEW does not know. Prints one line per
 *	result for the test to compare; exits 0 when every call did what
 *	it should, 1 otherwise (the failure printed with its class).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "mm_alloc.h"

struct mem_body {
	const char *data;
	size_t off;
};

static int mem_read(struct driver_body *body, void *buf, size_t len,
		    size_t *got_r, enum stream_fail *fail_r, const char **error_r)
{
	struct mem_body *mb = body->ctx;
	size_t left = body->size - mb->off;

	(void)fail_r;
	(void)error_r;
	/* Small chunks: the driver must loop. */
	if (len > 7)
		len = 7;
	if (len > left)
		len = left;
	memcpy(buf, mb->data + mb->off, len);
	mb->off += len;
	*got_r = len;
	return 0;
}

static int failed(const char *what, enum stream_fail fail, const char *error)
{
	printf("FAIL %s: class %s: %s\n", what, stream_fail_name(fail), error);
	return 1;
}

static int print_msg(const struct driver_message *msg, void *ctx)
{
	(void)ctx;
	printf("msg %u %llu %u", msg->uid, (unsigned long long)msg->size, msg->flags);
	for (size_t i = 0; i < msg->keywords_count; i++)
		printf(" %s", msg->keywords[i]);
	printf(" [%s] %s %s\n", msg->internaldate, msg->uidl[0] != '\0' ? msg->uidl : "-",
	       msg->message_id != NULL ? msg->message_id : "-");
	return 0;
}

int main(int argc, char **argv)
{
	const struct target_driver *t = &target_driver_dovecot;
	static const char *const bodies[] = {
		"Subject: five\r\n\r\nbody five \xc3\xa4\r\n",
		"Subject: nine\r\n\r\nbody nine, no final CRLF",
	};
	struct driver_settings set;
	struct driver_login login;
	struct driver_conn *conn;
	struct driver_folder_status st;
	struct driver_message msg;
	struct driver_body body;
	struct mem_body mb;
	enum stream_fail fail;
	const char *error;
	char *kw[] = { "work" };
	uint32_t uids[2], uid;
	size_t i;

	if (argc != 3) {
		fprintf(stderr, "usage: dovecot_target_test DOVEADM USER\n");
		return 2;
	}
	memset(&set, 0, sizeof(set));
	set.doveadm = argv[1];
	set.max_message_size = 1 << 20;
	memset(&login, 0, sizeof(login));
	login.user = argv[2];
	if (t->open(&set, &login, &conn, &fail, &error) < 0)
		return failed("open", fail, error);
	printf("limit %llu\n", (unsigned long long)t->append_limit(conn));
	if (t->set_identity(conn, "Kept", 4242, 0, &st, &fail, &error) < 0)
		return failed("set_identity", fail, error);
	printf("identity %u %u\n", st.uidvalidity, st.uidnext);
	if (t->append_begin(conn, "Kept", &fail, &error) < 0)
		return failed("append_begin", fail, error);
	for (i = 0; i < 2; i++) {
		memset(&msg, 0, sizeof(msg));
		msg.flags = i == 0 ? DRIVER_FLAG_SEEN | DRIVER_FLAG_FLAGGED : 0;
		msg.keywords = i == 0 ? kw : NULL;
		msg.keywords_count = i == 0 ? 1 : 0;
		snprintf(msg.internaldate, sizeof(msg.internaldate), "%s",
			 i == 0 ? "01-Jan-2020 10:00:00 +0100" : "17-Jul-1996 02:44:25 -0700");
		mb.data = bodies[i];
		mb.off = 0;
		body.size = strlen(bodies[i]);
		body.read = mem_read;
		body.ctx = &mb;
		if (t->append_add_keep(conn, &msg, i == 0 ? 5 : 9, i == 0 ? "U5" : "U9",
				       &body, &fail, &error) < 0)
			return failed("append_add_keep", fail, error);
	}
	if (driver_append_end(t, conn, uids, 2, &fail, &error) < 0)
		return failed("driver_append_end", fail, error);
	printf("uids %u %u\n", uids[0], uids[1]);
	if (t->set_identity(conn, "Kept", 4242, 50, &st, &fail, &error) < 0)
		return failed("set_identity", fail, error);
	printf("identity %u %u\n", st.uidvalidity, st.uidnext);
	if (t->list_messages(conn, 1, 0, print_msg, NULL, &fail, &error) < 0)
		return failed("list_messages", fail, error);
	/* Flags as OLD has them in a later round: replaced. */
	memset(&msg, 0, sizeof(msg));
	msg.flags = DRIVER_FLAG_ANSWERED;
	msg.keywords = kw;
	msg.keywords_count = 1;
	if (t->set_flags(conn, 9, &msg, &fail, &error) < 0 ||
	    t->set_flags(conn, 5, &(struct driver_message){ .flags = DRIVER_FLAG_SEEN |
				  DRIVER_FLAG_FLAGGED, .keywords = kw,
				  .keywords_count = 1 }, &fail, &error) < 0 ||
	    t->set_flags(conn, 77, &msg, &fail, &error) < 0)
		return failed("set_flags", fail, error);
	if (t->list_messages(conn, 1, 0, print_msg, NULL, &fail, &error) < 0)
		return failed("list_messages", fail, error);
	/* Another UIDVALIDITY on a folder holding mail: refused, final. */
	if (t->set_identity(conn, "Kept", 4243, 0, &st, &fail, &error) == 0)
		return failed("set_identity 4243", STREAM_FAIL_NONE, "accepted");
	printf("refused %s: %s\n", stream_fail_name(fail), error);
	/* The generic append, to "Ä" in modified UTF-7. */
	memset(&msg, 0, sizeof(msg));
	mb.data = bodies[0];
	mb.off = 0;
	body.size = strlen(bodies[0]);
	if (t->create_folder(conn, "&AMQ-", DRIVER_FOLDER_SENT, 1, &fail, &error) < 0 ||
	    t->append(conn, "&AMQ-", &msg, &body, &uid, &fail, &error) < 0)
		return failed("append", fail, error);
	printf("plain %u\n", uid);
	{
		struct driver_folder *folders;
		size_t count;

		if (t->list_folders(conn, &folders, &count, &fail, &error) < 0)
			return failed("list_folders", fail, error);
		for (i = 0; i < count; i++)
			if (strcmp(folders[i].name, "INBOX") != 0)
				printf("folder %s %c %#x\n", folders[i].name,
				       folders[i].separator, folders[i].attrs);
		driver_folders_free(&folders, count);
	}
	if (t->find_header(conn, "X-UIDL", "x", &uid, &fail, &error) == 0)
		return failed("find_header", STREAM_FAIL_NONE, "accepted");
	printf("unsupported %s: %s\n", stream_fail_name(fail), error);
	t->close(&conn);

	login.user = "nosuchuser@example.test";
	if (t->open(&set, &login, &conn, &fail, &error) == 0)
		return failed("open of an unknown user", STREAM_FAIL_NONE, "accepted");
	printf("unknown %s: %s\n", stream_fail_name(fail), error);
	return 0;
}
