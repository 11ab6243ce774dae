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
 */
#include "config.h"

#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

#include "throttle.h"

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
	pthread_mutex_init(&t->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	t->rate = bytes_per_second;
	t->tokens = (double)bytes_per_second;
	t->last_ns = 0;
	return t;
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
	pthread_mutex_lock(&t->lock);
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
	pthread_mutex_lock(&t->lock);
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

void throttle_take(struct throttle *t, uint64_t bytes)
{
	struct timespec now, ts;
	uint64_t wait;

	if (t == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	wait = throttle_reserve(t, bytes, (uint64_t)now.tv_sec * 1000000000ULL +
				(uint64_t)now.tv_nsec);
	if (wait == 0)
		return;
	ts.tv_sec = (time_t)(wait / 1000000000ULL);
	ts.tv_nsec = (long)(wait % 1000000000ULL);
	while (nanosleep(&ts, &ts) < 0)
		;
}
