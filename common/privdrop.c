/*
 * NAME
 *	privdrop 3
 * SUMMARY
 *	daemons started as root become run_user / run_group
 * DESCRIPTION
 *	See privdrop.h. The order is the only safe one: supplementary
 *	groups and the group while still root, the user last, then a check
 *	that root cannot be had back.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mm_alloc.h"
#include "privdrop.h"

/* Give an existing log file to the user the daemon becomes (not a link:
 * log_open() refuses those anyway). */
static int privdrop_log_file(const char *log_file, uid_t uid, gid_t gid,
			     char **error_r)
{
	int fd = open(log_file, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = mm_asprintf("log_file %s: %s", log_file, strerror(errno));
		return -1;
	}
	if (fchown(fd, uid, gid) < 0) {
		*error_r = mm_asprintf("log_file %s: cannot give it to uid %ld: %s",
				       log_file, (long)uid, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int privdrop_apply(const char *run_user, const char *run_group,
		   const char *log_file, char **error_r)
{
	struct passwd *pw;
	uid_t uid;
	gid_t gid;

	*error_r = NULL;
	if (run_user == NULL) {
		if (geteuid() == 0)
			log_warning("running as root: set run_user in the "
				    "configuration (mailmigrate.conf(5))");
		return 0;
	}
	errno = 0;
	if ((pw = getpwnam(run_user)) == NULL) {
		*error_r = mm_asprintf("run_user: no user '%.100s' on this system%s%s",
				       run_user, errno != 0 ? ": " : "",
				       errno != 0 ? strerror(errno) : "");
		return -1;
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (run_group != NULL) {
		struct group *gr;

		errno = 0;
		if ((gr = getgrnam(run_group)) == NULL) {
			*error_r = mm_asprintf("run_group: no group '%.100s' on "
					       "this system", run_group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (geteuid() != 0) {
		if (geteuid() != uid)
			log_warning("run_user %s: not started as root, so going on "
				    "as uid %ld", run_user, (long)geteuid());
		return 0;
	}
	if (uid == 0)
		return 0;	/* run_user = root: asked for */
	if (log_file != NULL && privdrop_log_file(log_file, uid, gid, error_r) < 0)
		return -1;
	if (initgroups(run_user, gid) < 0) {
		*error_r = mm_asprintf("initgroups %s: %s", run_user, strerror(errno));
		return -1;
	}
	if (setresgid(gid, gid, gid) < 0) {
		*error_r = mm_asprintf("setresgid %ld: %s", (long)gid, strerror(errno));
		return -1;
	}
	if (setresuid(uid, uid, uid) < 0) {
		*error_r = mm_asprintf("setresuid %ld: %s", (long)uid, strerror(errno));
		return -1;
	}
	/* The way back must be closed. */
	if (getuid() != uid || geteuid() != uid || getgid() != gid ||
	    getegid() != gid || setuid(0) == 0 || setgid(0) == 0) {
		*error_r = mm_asprintf("run_user %s: the change of user did not hold",
				       run_user);
		return -1;
	}
	log_info("running as %s (uid %ld, gid %ld)", run_user, (long)uid, (long)gid);
	return 0;
}
