/*
 * NAME
 *	puller_child 3
 * SUMMARY
 *	mailmigrated's child processes: the workers and the metrics process
 * DESCRIPTION
 *	See puller_child.h.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "puller_child.h"

pid_t puller_child_fork(void (*on_term)(int), const char *what)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct sigaction sa = { .sa_handler = on_term };

		(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
		/* The daemon died before prctl(): nobody to work for. */
		if (getppid() == 1)
			_exit(0);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sa.sa_handler = SIG_IGN;
		sigaction(SIGHUP, &sa, NULL);
		return 0;
	}
	if (pid < 0)
		log_error("%s: fork: %s", what, strerror(errno));
	return pid;
}

void puller_children_stop(pid_t *pids, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	for (unsigned i = 0; i < n; i++) {
		if (pids[i] > 0)
			while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
				;
		pids[i] = 0;
	}
}
