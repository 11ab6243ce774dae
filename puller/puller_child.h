/*
 * NAME
 *	puller_child 3h
 * SUMMARY
 *	mailmigrated's child processes: the workers and the metrics process
 * DESCRIPTION
 *	Every child of the daemon is started and stopped the same way: it
 *	dies with the daemon (a daemon killed with SIGKILL leaves no
 *	worker copying on its own), stops on SIGTERM or SIGINT through its
 *	own handler, and leaves SIGHUP (the daemon's reload) alone.
 */
#ifndef MM_PULLER_CHILD_H
#define MM_PULLER_CHILD_H

#include <sys/types.h>

/* fork(). In the child: SIGTERM when the daemon dies, on_term for
 * SIGTERM and SIGINT, SIGHUP ignored; 0 returned, and the child must
 * _exit(). In the daemon: the child's pid, or -1 (logged with what). */
pid_t puller_child_fork(void (*on_term)(int), const char *what);

/* SIGTERM to each pid > 0, then wait for every one; all set to 0. */
void puller_children_stop(pid_t *pids, unsigned n);

#endif
