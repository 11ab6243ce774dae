/*
 * NAME
 *	fuzz_pop3_client 1
 * SUMMARY
 *	libFuzzer target: the POP3 client's response handling
 * DESCRIPTION
 *	The input is what a server sends: it is written into one end of a
 *	socketpair, and the client on the other end runs UIDL, LIST and
 *	RETR against it (status lines, multi-line listings, dot-unstuffed
 *	bodies). Whatever the bytes, it must fail cleanly: no crash, no
 *	leak, no read past a bound.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pop3_client.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_uidl(uint32_t msgnum, const char *uidl, void *ctx)
{
	return 0;
}

static int on_list(uint32_t msgnum, uint64_t size, void *ctx)
{
	return 0;
}

static int on_data(const void *buf, size_t len, void *ctx)
{
	*(uint64_t *)ctx += len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_client *c;
	enum stream_fail fail;
	const char *error;
	uint64_t got = 0, total;
	int sv[2];

	/* The socket buffer holds the whole input: write it, then shut
	 * the writing side only. Closing it would make the client's first
	 * command fail (EPIPE) before it reads a byte, so nothing would
	 * be parsed; the commands it writes go to sv[1]'s unread buffer. */
	if (size > 65536 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	if (write(sv[1], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	shutdown(sv[1], SHUT_WR);
	c = pop3_client_from_stream(stream_from_fd(sv[0], 1000), 512);
	if (pop3_client_uidl(c, on_uidl, NULL, &fail, &error) == 0 &&
	    pop3_client_list(c, on_list, NULL, &fail, &error) == 0)
		(void)pop3_client_retr(c, 1, on_data, &got, &total, &fail, &error);
	pop3_client_close(&c);
	close(sv[1]);
	return 0;
}
