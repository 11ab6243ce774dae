/*
 * NAME
 *	fakeserver 3h
 * SUMMARY
 *	a forked, scripted TCP server for failure tests
 * DESCRIPTION
 *	For what a real server will not do on demand (a banner that never
 *	comes, a connection cut in the middle of a literal, a malformed
 *	response), as Dovecot's test-imapc-client does: the test gives a
 *	script, the server forks, listens on 127.0.0.1 on a free port,
 *	accepts one connection and plays the script. The test then checks
 *	the client; fakeserver_stop() kills and reaps the server and says
 *	whether every step ran as scripted.
 */
#ifndef MM_FAKESERVER_H
#define MM_FAKESERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum fakeserver_op {
	FAKE_END,		/* script ends: wait for the client to close */
	FAKE_SEND,		/* send text (len, or strlen when 0) */
	FAKE_EXPECT,		/* read a line; it must start with text */
	FAKE_SLEEP_MS,		/* pause ms */
	FAKE_CLOSE,		/* close the connection now */
	FAKE_HANG,		/* do nothing until killed */
	FAKE_SEND_REPEAT,	/* send text count times */
	FAKE_DRAIN,		/* read and count count bytes, then go on */
};

struct fakeserver_step {
	enum fakeserver_op op;
	const char *text;
	size_t len;
	unsigned long count;	/* SLEEP_MS: ms; REPEAT, DRAIN: times/bytes */
};

struct fakeserver {
	pid_t pid;
	uint16_t port;
	int status_fd;		/* the child writes 'K' if all went well */
};

/* Start a server playing steps (ending with FAKE_END or FAKE_HANG).
 * Returns 0, or -1 if it could not listen or fork. */
int fakeserver_start(const struct fakeserver_step *steps,
		     struct fakeserver *server_r);
/* Kill the server if still running; 1 if its script completed, else 0. */
int fakeserver_stop(struct fakeserver *server);

#endif
