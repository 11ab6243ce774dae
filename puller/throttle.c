/*
 * NAME
 *	throttle 3
 * SUMMARY
 *	one token bucket for the whole daemon
 * DESCRIPTION
 *	The bucket holds at most one second of tokens. Taking more than
 *	there are leaves it in debt, and the taker waits the debt off, so
 *	a large read is paid for in full and concurrent takers queue up
 *	behind it fairly.
 *
 *	The lock is a robust process-shared mutex: a worker killed while
 *	it holds it (SIGKILL, a crash) does not block the others; the
 *	next taker gets it, marks it consistent and goes on (the bucket's
 *	figures are at worst off by that worker's last take). A wait is
 *	slept in slices of at most THROTTLE_SLICE_NS, looking at the stop
 *	flag between them, so a SIGTERM is honoured at once even when the
 *	signal lands just before the sleep starts.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

#include "throttle.h"

#define THROTTLE_SLICE_NS (100 * 1000000ULL)

struct throttle {
	pthread_mutex_t lock;	/* process-shared */
	uint64_t rate;		/* bytes per second; 0: unlimited */
	double tokens;		/* may go negative: debt */
	uint64_t last_ns;
};

struct throttle *throttle_new(uint64_t bytes_per_second)
{
	pthread_mutexattr_t attr;
	struct throttle *t;

	t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		 -1, 0);
	if (t == MAP_FAILED)
		return NULL;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&t->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	t->rate = bytes_per_second;
	t->tokens = (double)bytes_per_second;
	t->last_ns = 0;
	return t;
}

/* Take the lock, taking it over from a holder that died. */
static void throttle_lock(struct throttle *t)
{
	if (pthread_mutex_lock(&t->lock) == EOWNERDEAD)
		(void)pthread_mutex_consistent(&t->lock);
}

void throttle_free(struct throttle **tp)
{
	if (*tp == NULL)
		return;
	pthread_mutex_destroy(&(*tp)->lock);
	munmap(*tp, sizeof(**tp));
	*tp = NULL;
}

void throttle_set_rate(struct throttle *t, uint64_t bytes_per_second)
{
	throttle_lock(t);
	t->rate = bytes_per_second;
	if (t->tokens > (double)bytes_per_second)
		t->tokens = (double)bytes_per_second;
	pthread_mutex_unlock(&t->lock);
}

uint64_t throttle_reserve(struct throttle *t, uint64_t bytes, uint64_t now_ns)
{
	uint64_t wait = 0;

	if (t == NULL)
		return 0;
	throttle_lock(t);
	if (t->rate != 0) {
		/* Refill for the time gone by, up to one second's worth. */
		if (t->last_ns != 0 && now_ns > t->last_ns) {
			t->tokens += (double)t->rate * (double)(now_ns - t->last_ns) / 1e9;
			if (t->tokens > (double)t->rate)
				t->tokens = (double)t->rate;
		}
		t->last_ns = now_ns;
		t->tokens -= (double)bytes;
		if (t->tokens < 0)
			wait = (uint64_t)(-t->tokens * 1e9 / (double)t->rate);
	}
	pthread_mutex_unlock(&t->lock);
	return wait;
}

enum throttle_result throttle_take(struct throttle *t, uint64_t bytes,
				   volatile sig_atomic_t *stop)
{
	struct timespec now, ts;
	uint64_t wait;

	if (t == NULL)
		return THROTTLE_OK;
	clock_gettime(CLOCK_MONOTONIC, &now);
	wait = throttle_reserve(t, bytes, (uint64_t)now.tv_sec * 1000000000ULL +
				(uint64_t)now.tv_nsec);
	while (wait > 0) {
		uint64_t slice = wait < THROTTLE_SLICE_NS ? wait : THROTTLE_SLICE_NS;

		if (stop != NULL && *stop)
			return THROTTLE_INTERRUPTED;
		ts.tv_sec = (time_t)(slice / 1000000000ULL);
		ts.tv_nsec = (long)(slice % 1000000000ULL);
		/* A signal cuts the slice short: look at stop again. */
		if (nanosleep(&ts, &ts) < 0)
			slice -= (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
		wait -= slice;
	}
	return THROTTLE_OK;
}

void throttle_test_lock(struct throttle *t)
{
	throttle_lock(t);
}
