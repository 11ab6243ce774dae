/*
 * NAME
 *	job_bench 1
 * SUMMARY
 *	one puller host taking and finishing jobs as fast as the store
 *	lets it: the load of bench/job-bench.sh
 * SYNOPSIS
 *	job_bench -s SPEC -o HOST -w WORKERS -g GOFIFO -d DIR
 *	job_bench -s SPEC -l
 * DESCRIPTION
 *	The first form forks WORKERS processes, as mailmigrated forks its
 *	workers, each opening the store SPEC ("lmdb:DIR" or
 *	"postgresql:CONNINFO") on its own: a store handle belongs to one
 *	process (store.h, LOCKING). Each one's lease owner is HOST:PID.
 *	When its store is open a worker makes DIR/HOST.PID.ready and waits
 *	until something is written into the named pipe GOFIFO, so every
 *	worker of every host starts at once; then it calls store_job_take()
 *	and store_job_done() until no job is left, writing the id and
 *	account of each job it took to DIR/HOST.PID.ids. Each worker
 *	prints one line on stdout:
 *	worker=HOST:PID taken=N done=N failed=N start_ns=T end_ns=T
 *	(CLOCK_MONOTONIC, which every process of the machine shares: the
 *	script takes the first start and the last end of all hosts).
 *	A job whose store_job_done() finds it gone or held by another
 *	owner counts as failed.
 *
 *	The second form prints the number of jobs left in the store.
 *
 *	Exit 0, or 1 if a worker failed (store error, a job not done).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

/* Long enough that no lease runs out during a run. */
#define JOB_BENCH_LEASE 600
/* How long a worker waits for the start. */
#define JOB_BENCH_GO_MS 120000

struct job_bench {
	const char *spec, *host, *fifo, *dir;
};

/* The workers, so that a host stopped by the script stops them too. */
static pid_t worker_pids[256];
static volatile sig_atomic_t worker_count;

static void stop_workers(int sig)
{
	for (sig_atomic_t i = 0; i < worker_count; i++)
		(void)kill(worker_pids[i], SIGTERM);
	signal(sig, SIG_DFL);
	raise(sig);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Wait until the start signal: data in the FIFO (never read, so every
 * worker sees it). 0, or -1 on timeout. */
static int wait_go(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n;

	do {
		n = poll(&p, 1, JOB_BENCH_GO_MS);
	} while (n < 0 && errno == EINTR);
	return n == 1 && (p.revents & POLLIN) ? 0 : -1;
}

/* One worker: its own store, take and finish until none is left.
 * The exit status of the worker process. */
static int worker_run(const struct job_bench *b)
{
	struct store_options opts = { 0 };
	struct store *store;
	struct store_job job;
	const char *error;
	char owner[128], path[4096];
	uint64_t taken = 0, done = 0, failed = 0, start, end;
	FILE *ids;
	int fd, ready, ret;

	snprintf(owner, sizeof(owner), "%s:%ld", b->host, (long)getpid());
	if (store_open(b->spec, &opts, &store, &error) < 0) {
		fprintf(stderr, "job_bench %s: %s\n", owner, error);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/%s.%ld.ids", b->dir, b->host, (long)getpid());
	if ((ids = fopen(path, "w")) == NULL) {
		fprintf(stderr, "job_bench %s: %s: %s\n", owner, path, strerror(errno));
		return 1;
	}
	/* Opened without blocking: the start may come before we poll. */
	if ((fd = open(b->fifo, O_RDONLY | O_NONBLOCK)) < 0) {
		fprintf(stderr, "job_bench %s: %s: %s\n", owner, b->fifo, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/%s.%ld.ready", b->dir, b->host, (long)getpid());
	if ((ready = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0 ||
	    close(ready) < 0) {
		fprintf(stderr, "job_bench %s: %s: %s\n", owner, path, strerror(errno));
		return 1;
	}
	if (wait_go(fd) < 0) {
		fprintf(stderr, "job_bench %s: no start signal in %d s\n", owner,
			JOB_BENCH_GO_MS / 1000);
		return 1;
	}
	start = now_ns();
	for (;;) {
		ret = store_job_take(store, owner, JOB_BENCH_LEASE, time(NULL),
				     &job, &error);
		if (ret == STORE_NOTFOUND)
			break;
		if (ret < 0) {
			fprintf(stderr, "job_bench %s: take: %s\n", owner, error);
			failed++;
			break;
		}
		taken++;
		fprintf(ids, "%" PRIu64 " %s\n", job.id, job.account);
		ret = store_job_done(store, job.id, owner, &error);
		if (ret == 0) {
			done++;
		} else {
			fprintf(stderr, "job_bench %s: done %" PRIu64 " (%s): %s\n",
				owner, job.id, job.account,
				ret < 0 ? error : "gone, or held by another owner");
			failed++;
		}
		store_job_clear(&job);
	}
	end = now_ns();
	store_close(&store);
	if (fclose(ids) != 0) {
		fprintf(stderr, "job_bench %s: writing the ids: %s\n", owner,
			strerror(errno));
		failed++;
	}
	printf("worker=%s taken=%" PRIu64 " done=%" PRIu64 " failed=%" PRIu64
	       " start_ns=%" PRIu64 " end_ns=%" PRIu64 "\n",
	       owner, taken, done, failed, start, end);
	fflush(stdout);
	return failed == 0 ? 0 : 1;
}

static int count_job(const struct store_job *job, void *context)
{
	(void)job;
	(*(uint64_t *)context)++;
	return 0;
}

/* Print the number of jobs left in spec's store. */
static int jobs_left(const char *spec)
{
	struct store_options opts = { .readonly = 1 };
	struct store *store;
	const char *error;
	uint64_t n = 0;

	if (store_open(spec, &opts, &store, &error) < 0 ||
	    store_job_iter(store, count_job, &n, &error) < 0) {
		fprintf(stderr, "job_bench: %s\n", error);
		return 1;
	}
	store_close(&store);
	printf("%" PRIu64 "\n", n);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: job_bench -s SPEC -o HOST -w WORKERS -g GOFIFO -d DIR\n"
		"       job_bench -s SPEC -l\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct job_bench b = { 0 };
	unsigned long workers = 0;
	int c, left = 0, status = 0;

	while ((c = getopt(argc, argv, "s:o:w:g:d:l")) != -1) {
		switch (c) {
		case 's': b.spec = optarg; break;
		case 'o': b.host = optarg; break;
		case 'w': workers = strtoul(optarg, NULL, 10); break;
		case 'g': b.fifo = optarg; break;
		case 'd': b.dir = optarg; break;
		case 'l': left = 1; break;
		default: usage();
		}
	}
	if (optind != argc || b.spec == NULL)
		usage();
	if (left)
		return jobs_left(b.spec);
	if (b.host == NULL || b.fifo == NULL || b.dir == NULL || workers == 0 ||
	    workers > 256)
		usage();
	/* Workers are forked before any store is opened, as mailmigrated
	 * does: a store handle does not survive fork(). */
	signal(SIGTERM, stop_workers);
	signal(SIGINT, stop_workers);
	for (unsigned long i = 0; i < workers; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			fprintf(stderr, "job_bench: fork: %s\n", strerror(errno));
			status = 1;
			break;
		}
		if (pid == 0) {
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			_exit(worker_run(&b));
		}
		worker_pids[worker_count] = pid;
		worker_count = worker_count + 1;
	}
	for (;;) {
		int st;
		pid_t pid = wait(&st);

		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			status = 1;
	}
	return status;
}
