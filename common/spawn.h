/*
 * NAME
 *	spawn 3h
 * SUMMARY
 *	run a program and wait for it, bounded in time and output
 * DESCRIPTION
 *	spawn_run() forks and execs argv without a shell, with the
 *	environment given explicitly, standard input from /dev/null, a
 *	given descriptor or a few bytes written through a pipe (then
 *	closed), and standard output and error each sent to /dev/null or
 *	captured into a bounded buffer. It waits for the program up to a
 *	deadline and kills it (SIGKILL, its process group when it has one
 *	of its own) beyond, and tells how it ended as a value: exited with
 *	a code, killed by a signal, timed out, too much output, or not run
 *	at all (exec's errno carried back through a close-on-exec pipe, so
 *	"cannot run it" is told apart from "it ran and exited 127").
 *	Descriptors opened here are close-on-exec and all closed again
 *	before spawn_run() returns; the child inherits only 0, 1 and 2.
 * OWNERSHIP
 *	The caller owns struct spawn_result's buffers and frees them with
 *	spawn_result_clear(), which wipes them first (a token, a password
 *	echoed back).
 */
#ifndef MM_SPAWN_H
#define MM_SPAWN_H

#include <stddef.h>

/* Where an output of the program goes. */
enum spawn_output {
	SPAWN_OUT_NULL,		/* /dev/null */
	SPAWN_OUT_CAPTURE,	/* its own buffer, up to *_max bytes */
	SPAWN_OUT_MERGE,	/* stderr only: into stdout's capture */
};

/* What to do with output beyond *_max bytes. */
enum spawn_overflow {
	SPAWN_OVERFLOW_DROP,	/* read and drop the rest */
	SPAWN_OVERFLOW_KILL,	/* kill the program: SPAWN_END_OVERFLOW */
};

struct spawn_opts {
	char *const *argv;	/* argv[0] is the program */
	char *const *envp;	/* its whole environment (environ to pass
				 * ours on); never NULL */
	int path_search;	/* argv[0] without '/' looked up in PATH */
	int stdin_fd;		/* >0: this descriptor; 0: /dev/null (never
				 * the parent's own stdin); input wins */
	const void *input;	/* written to its stdin, then closed */
	size_t input_len;
	enum spawn_output out, err;
	size_t out_max, err_max;
	enum spawn_overflow overflow;	/* stdout's; stderr's are dropped */
	unsigned timeout_ms;	/* 0: no deadline */
	int own_group;		/* a process group of its own, killed whole */
};

enum spawn_end {
	SPAWN_END_EXITED,	/* code: its exit status */
	SPAWN_END_SIGNALED,	/* code: the signal */
	SPAWN_END_TIMEOUT,	/* killed at the deadline */
	SPAWN_END_OVERFLOW,	/* killed for too much output */
	SPAWN_END_NOT_RUN,	/* code: exec's errno */
	SPAWN_END_NO_STATUS,	/* code: waitpid's errno (reaped elsewhere) */
};

struct spawn_result {
	enum spawn_end end;
	int code;
	char *out, *err;	/* NUL-terminated, or NULL when not captured */
	size_t out_len, err_len;
	int out_truncated, err_truncated;
	int input_short;	/* it did not read all of opts->input */
};

/* Run opts->argv and wait for it.
 * @param opts what to run and how
 * @param result_r how it ended, and what it said (spawn_result_clear())
 * @param step_r for -1: the step that failed ("pipe", "fork",
 *	"/dev/null"), a constant string; errno says why
 * @return 0 once it has ended, however it ended; -1 when it was not
 *	started (nothing to clear) */
int spawn_run(const struct spawn_opts *opts, struct spawn_result *result_r,
	      const char **step_r);

/* Wipe and free the captured output. */
void spawn_result_clear(struct spawn_result *r);

/* How it ended, in words ("exited 3", "killed by signal 9", "timed
 * out", ...), into buf. Returns buf. */
const char *spawn_end_str(const struct spawn_result *r, char *buf, size_t size);

#endif
