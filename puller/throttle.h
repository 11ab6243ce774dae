/*
 * NAME
 *	throttle 3h
 * SUMMARY
 *	one token bucket for the whole daemon (max_bytes_per_second)
 * DESCRIPTION
 *	The daemon makes the bucket in shared memory before it forks its
 *	workers, so the limit holds for all of them together. A worker asks
 *	for the bytes it has just read; the answer is how long to wait so
 *	that the rate stays under the limit over any second. Time is passed
 *	in, so the arithmetic is tested without a clock. A rate of 0 means
 *	unlimited.
 */
#ifndef MM_THROTTLE_H
#define MM_THROTTLE_H

#include <signal.h>
#include <stdint.h>

struct throttle;

/* A bucket in shared memory (survives fork), or NULL with errno. */
struct throttle *throttle_new(uint64_t bytes_per_second);
void throttle_free(struct throttle **throttle);
/* Change the rate (SIGHUP). */
void throttle_set_rate(struct throttle *throttle, uint64_t bytes_per_second);

/* Take bytes at time now_ns (a monotonic clock); the nanoseconds to wait
 * before going on, 0 when within the limit. */
uint64_t throttle_reserve(struct throttle *throttle, uint64_t bytes,
			  uint64_t now_ns);
enum throttle_result {
	THROTTLE_OK,		/* taken; any wait is over */
	THROTTLE_INTERRUPTED,	/* *stop was set before the wait was over */
};
/* throttle_reserve() with the monotonic clock, then sleep; stop (NULL:
 * none) is looked at before and during the wait, so a SIGTERM whose
 * handler sets it ends the wait promptly. */
enum throttle_result throttle_take(struct throttle *throttle, uint64_t bytes,
				   volatile sig_atomic_t *stop);

/* A testing aid: take the lock and keep it (a worker killed inside). */
void throttle_test_lock(struct throttle *throttle);

#endif
