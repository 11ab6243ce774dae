/*
 * NAME
 *	relay_server 3
 * SUMMARY
 *	the listening socket and the event loop
 * DESCRIPTION
 *	One process, one thread, epoll in level-triggered mode: the
 *	listening socket, a signalfd for SIGTERM/SIGINT/SIGHUP, and every
 *	client. Each readiness event does one read of at most one query's
 *	worth of bytes, so a busy client cannot starve the others. Once a
 *	second the clients are checked for timeouts (idle, a query not
 *	complete in time, replies not read) and late_mail counts are
 *	written to the store.
 *
 *	With relay_metrics_listen, the /metrics server (metrics_http.c)
 *	is one more descriptor in the same loop; its page is rendered
 *	from the counters in memory (relay_metrics.c), never the store.
 *
 *	A unix socket is made mode 0660 with group relay_socket_group
 *	(postfix: trivial-rewrite and smtpd run as that user), or 0666
 *	when that is "none". A stale socket file is replaced; a live one
 *	(another relay answers on it) is an error.
 * LIMITS
 *	relay_max_clients connections; over that a new one is accepted,
 *	logged and closed. RLIMIT_NOFILE is raised to fit.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "metrics_http.h"
#include "mm_alloc.h"
#include "relay.h"

#define RELAY_BACKLOG 1024
#define RELAY_EVENTS 256

struct relay_server {
	struct relay_maps *maps;
	int listen_fd, epoll_fd, signal_fd, spare_fd;
	char *unix_path;		/* unlinked on exit */
	struct relay_conn *conns;	/* doubly linked */
	struct relay_conn *dead;	/* closed this round, freed after */
	size_t nconns;
	uint64_t next_id;
	time_t last_tick;
	struct metrics_http *metrics;	/* NULL: relay_metrics_listen off */
};

/* Make the directory of a socket path if missing (one level); one
 * made here belongs to run_user, who removes the socket at exit. */
static int server_socket_dir(const char *path, const char *run_user,
			     const char **error_r)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) < 0) {
		if (errno == EEXIST)
			return 0;
		return error_failf(error_r, "cannot create %s: %s", dir,
				   strerror(errno));
	}
	if (run_user != NULL && geteuid() == 0) {
		struct passwd *pw = getpwnam(run_user);

		if (pw != NULL && chown(dir, pw->pw_uid, pw->pw_gid) < 0)
			return error_failf(error_r, "cannot give %s to %s: %s", dir,
					   run_user, strerror(errno));
	}
	return 0;
}

/* Is a relay (or anything) answering on the unix socket path? */
static int server_unix_alive(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int alive;

	if (fd < 0)
		return 0;
	alive = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return alive;
}

static int server_listen_unix(struct relay_server *server, const char *path,
			      const char **error_r)
{
	const char *group = server->maps->cfg->relay_socket_group;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t mode = 0666;
	gid_t gid = (gid_t)-1;

	if (strlen(path) >= sizeof(sun.sun_path))
		return error_failf(error_r, "relay_listen: socket path too long");
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (group != NULL && strcmp(group, "none") != 0) {
		struct group *gr = getgrnam(group);

		if (gr == NULL)
			return error_failf(error_r, "relay_socket_group: no group "
					   "'%.100s' on this system (\"none\": a "
					   "socket anyone may use)", group);
		gid = gr->gr_gid;
		mode = 0660;
	}
	if (server_socket_dir(path, server->maps->cfg->run_user,
			      error_r) < 0)
		return -1;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return error_failf(error_r, "relay_listen: %s exists and is "
					   "not a socket; refusing to replace it",
					   path);
		if (server_unix_alive(&sun))
			return error_failf(error_r, "relay_listen: %s is in use "
					   "(another mailmigrate-relay running?)",
					   path);
		(void)unlink(path);
	}
	server->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
				   SOCK_CLOEXEC, 0);
	if (server->listen_fd < 0)
		return error_failf(error_r, "socket: %s", strerror(errno));
	if (bind(server->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return error_failf(error_r, "relay_listen: bind %s: %s", path,
				   strerror(errno));
	server->unix_path = mm_strdup(path);
	if ((gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) ||
	    chmod(path, mode) < 0)
		return error_failf(error_r, "relay_listen: cannot give %s group "
				   "%s, mode %o: %s", path, group, (unsigned)mode,
				   strerror(errno));
	return 0;
}

static int server_listen_inet(struct relay_server *server, const char *hostport,
			      const char **error_r)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV |
					      AI_PASSIVE };
	char host[300], *colon;
	struct addrinfo *ai;
	int one = 1, rc;

	snprintf(host, sizeof(host), "%s", hostport);
	colon = strrchr(host, ':');
	if (colon == NULL)
		return error_failf(error_r, "relay_listen: no port in inet:%s",
				   hostport);
	*colon = '\0';
	if (host[0] == '[' && colon > host + 1 && colon[-1] == ']') {
		colon[-1] = '\0';
		memmove(host, host + 1, strlen(host));
	}
	rc = getaddrinfo(host, colon + 1, &hints, &ai);
	if (rc != 0)
		return error_failf(error_r, "relay_listen: inet:%s: %s (a numeric "
				   "address is needed)", hostport, gai_strerror(rc));
	server->listen_fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
				   SOCK_CLOEXEC, 0);
	if (server->listen_fd < 0) {
		freeaddrinfo(ai);
		return error_failf(error_r, "socket: %s", strerror(errno));
	}
	(void)setsockopt(server->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one,
			 sizeof(one));
	rc = bind(server->listen_fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (rc < 0)
		return error_failf(error_r, "relay_listen: bind inet:%s: %s",
				   hostport, strerror(errno));
	return 0;
}

/* Room for relay_max_clients descriptors. */
static void server_raise_nofile(unsigned max_clients)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_clients + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ?
		want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
		log_warning("open files limited to %llu: fewer than "
			    "relay_max_clients (%u) clients can connect",
			    (unsigned long long)rl.rlim_cur, max_clients);
}

static int server_watch(struct relay_server *server, int fd, void *ptr,
			uint32_t events, int op)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	return epoll_ctl(server->epoll_fd, op, fd, &ev);
}

/* metrics_http_render_fn: the relay's page. */
static void server_render_metrics(struct metrics_text *t, void *ctx)
{
	const struct relay_server *server = ctx;

	relay_metrics_render(t, server->maps, server->nconns);
}

int relay_server_new(struct relay_maps *maps, int metrics_fd,
		     struct relay_server **server_r, const char **error_r)
{
	const char *listen_on = maps->cfg->relay_listen;
	struct relay_server *server = mm_calloc(1, sizeof(*server));
	sigset_t mask;
	int ret;

	server->maps = maps;
	server->listen_fd = server->epoll_fd = server->signal_fd = -1;
	server->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	server_raise_nofile(maps->cfg->relay_max_clients);
	if (strncmp(listen_on, "unix:", 5) == 0)
		ret = server_listen_unix(server, listen_on + 5, error_r);
	else if (strncmp(listen_on, "inet:", 5) == 0)
		ret = server_listen_inet(server, listen_on + 5, error_r);
	else
		ret = error_failf(error_r, "relay_listen: expected unix:/PATH or "
				  "inet:HOST:PORT, got '%.100s'", listen_on);
	if (ret == 0 && listen(server->listen_fd, RELAY_BACKLOG) < 0)
		ret = error_failf(error_r, "relay_listen: listen: %s",
				  strerror(errno));
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (ret == 0 && (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
			 (server->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK |
						       SFD_CLOEXEC)) < 0))
		ret = error_failf(error_r, "signalfd: %s", strerror(errno));
	if (ret == 0 && (server->epoll_fd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		ret = error_failf(error_r, "epoll_create1: %s", strerror(errno));
	if (ret == 0 &&
	    (server_watch(server, server->listen_fd, server, EPOLLIN,
			  EPOLL_CTL_ADD) < 0 ||
	     server_watch(server, server->signal_fd, &server->signal_fd, EPOLLIN,
			  EPOLL_CTL_ADD) < 0))
		ret = error_failf(error_r, "epoll_ctl: %s", strerror(errno));
	if (metrics_fd >= 0) {
		char merr[256];

		server->metrics = metrics_http_new(metrics_fd, server_render_metrics,
						   server, merr, sizeof(merr));
		if (server->metrics == NULL)
			ret = error_failf(error_r, "%s", merr);
		else if (ret == 0 &&
			 server_watch(server, metrics_http_fd(server->metrics),
				      &server->metrics, EPOLLIN, EPOLL_CTL_ADD) < 0)
			ret = error_failf(error_r, "epoll_ctl: %s", strerror(errno));
	}
	if (ret < 0) {
		relay_server_free(&server);
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	*server_r = server;
	return 0;
}

void relay_server_reconfigure(struct relay_server *server)
{
	server_raise_nofile(server->maps->cfg->relay_max_clients);
}

/* Unlink conn from the live list, close it; freed after the round. */
static void server_close(struct relay_server *server, struct relay_conn *conn)
{
	if (conn->dead)
		return;
	relay_conn_closed(conn);
	conn->dead = 1;
	(void)epoll_ctl(server->epoll_fd, EPOLL_CTL_DEL, conn->fd, NULL);
	close(conn->fd);
	conn->fd = -1;
	if (conn->prev != NULL)
		conn->prev->next = conn->next;
	else
		server->conns = conn->next;
	if (conn->next != NULL)
		conn->next->prev = conn->prev;
	conn->prev = NULL;
	conn->next = server->dead;
	server->dead = conn;
	server->nconns--;
}

static void server_reap(struct relay_server *server)
{
	while (server->dead != NULL) {
		struct relay_conn *conn = server->dead;

		server->dead = conn->next;
		relay_conn_free_buffers(conn);
		mm_free(&conn);
	}
}

/* "127.0.0.1:4567", or "unix". */
static void server_peer_name(const struct sockaddr_storage *ss, char *buf,
			     size_t size)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, size, "%s:%u", host, ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, size, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, size, "unix");
	}
}

/* Accept what is waiting. */
static void server_accept(struct relay_server *server, time_t now)
{
	for (int i = 0; i < RELAY_EVENTS; i++) {
		struct sockaddr_storage ss;
		socklen_t sslen = sizeof(ss);
		struct relay_conn *conn;
		int fd = accept4(server->listen_fd, (struct sockaddr *)&ss, &sslen,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if ((errno == EMFILE || errno == ENFILE) &&
			    server->spare_fd >= 0) {
				/* Out of descriptors: take the waiting client
				 * with the spare one and close it, so it is
				 * told and the loop does not spin. */
				close(server->spare_fd);
				fd = accept4(server->listen_fd, NULL, NULL,
					     SOCK_CLOEXEC);
				if (fd >= 0)
					close(fd);
				server->spare_fd = open("/dev/null",
							O_RDONLY | O_CLOEXEC);
				log_error("out of file descriptors with %zu "
					  "clients: refused a client", server->nconns);
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_error("accept: %s", strerror(errno));
			return;
		}
		server->next_id++;
		if (server->nconns >= server->maps->cfg->relay_max_clients) {
			char peer[80];

			server_peer_name(&ss, peer, sizeof(peer));
			log_warning("client #%llu (%s): refused: %zu clients "
				    "connected (relay_max_clients)",
				    (unsigned long long)server->next_id, peer,
				    server->nconns);
			close(fd);
			continue;
		}
		conn = mm_calloc(1, sizeof(*conn));
		conn->fd = fd;
		conn->id = server->next_id;
		server_peer_name(&ss, conn->peer, sizeof(conn->peer));
		conn->last_active = now;
		if (server_watch(server, fd, conn, EPOLLIN, EPOLL_CTL_ADD) < 0) {
			log_error("epoll_ctl: %s", strerror(errno));
			close(fd);
			mm_free(&conn);
			continue;
		}
		conn->next = server->conns;
		if (server->conns != NULL)
			server->conns->prev = conn;
		server->conns = conn;
		server->nconns++;
		log_debug("client #%llu (%s): connected (%zu clients)",
			  (unsigned long long)conn->id, conn->peer, server->nconns);
	}
}

/* Act on what a conn_* call said. */
static void server_after(struct relay_server *server, struct relay_conn *conn,
			 enum relay_conn_result r, uint32_t *events)
{
	uint32_t want = r == RELAY_CONN_WRITE ? EPOLLOUT : EPOLLIN;

	if (r == RELAY_CONN_CLOSE) {
		server_close(server, conn);
		return;
	}
	if (want != *events) {
		if (server_watch(server, conn->fd, conn, want, EPOLL_CTL_MOD) < 0) {
			log_error("client #%llu: epoll_ctl: %s",
				  (unsigned long long)conn->id, strerror(errno));
			server_close(server, conn);
			return;
		}
		*events = want;
	}
}

/* Once a second: timeouts, late mail. */
static void server_tick(struct relay_server *server, time_t now)
{
	const struct cfg *cfg = server->maps->cfg;
	struct relay_conn *conn, *next;

	for (conn = server->conns; conn != NULL; conn = next) {
		next = conn->next;
		if (conn->request_start != 0 &&
		    now - conn->request_start >= (time_t)cfg->relay_request_timeout) {
			log_warning("client #%llu (%s): query not complete after "
				    "%us (%zu bytes so far; relay_request_timeout); "
				    "closing", (unsigned long long)conn->id,
				    conn->peer, cfg->relay_request_timeout,
				    conn->in_len);
			server_close(server, conn);
		} else if (now - conn->last_active >= (time_t)cfg->relay_idle_timeout) {
			if (conn->out_off < conn->out_len)
				log_warning("client #%llu (%s): has not read its "
					    "replies for %us; closing",
					    (unsigned long long)conn->id, conn->peer,
					    cfg->relay_idle_timeout);
			else
				log_info("client #%llu (%s): idle for %us "
					 "(relay_idle_timeout); closing",
					 (unsigned long long)conn->id, conn->peer,
					 cfg->relay_idle_timeout);
			server_close(server, conn);
		}
	}
	server_reap(server);
	if (server->metrics != NULL)
		metrics_http_tick(server->metrics, now);
	/* Also with nothing pending: what the writer did not take yet. */
	if (server->maps->late != NULL)
		(void)relay_late_flush(server->maps->late, server->maps->store, now);
}

/* Read the signals; 1 to stop. */
static int server_signals(struct relay_server *server,
			  void (*reload)(void *ctx), void *ctx)
{
	struct signalfd_siginfo si;
	int stop = 0;

	while (read(server->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			if (reload != NULL)
				reload(ctx);
		} else {
			log_info("%s: stopping", strsignal((int)si.ssi_signo));
			stop = 1;
		}
	}
	return stop;
}

int relay_server_run(struct relay_server *server, void (*reload)(void *ctx),
		     void *ctx)
{
	struct epoll_event events[RELAY_EVENTS];
	int stop = 0;

	server->last_tick = time(NULL);
	while (!stop) {
		int n = epoll_wait(server->epoll_fd, events, RELAY_EVENTS, 1000);
		time_t now = time(NULL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("epoll_wait: %s", strerror(errno));
			return -1;
		}
		for (int i = 0; i < n; i++) {
			void *ptr = events[i].data.ptr;
			struct relay_conn *conn = ptr;
			uint32_t ev = events[i].events, cur;
			enum relay_conn_result r;

			if (ptr == server) {
				server_accept(server, now);
				continue;
			}
			if (ptr == &server->signal_fd) {
				stop |= server_signals(server, reload, ctx);
				continue;
			}
			if (ptr == &server->metrics) {
				metrics_http_handle(server->metrics, now);
				continue;
			}
			if (conn->dead)
				continue;
			cur = conn->out_off < conn->out_len ? EPOLLOUT : EPOLLIN;
			if (cur == EPOLLOUT)
				r = relay_conn_output(conn, server->maps, now);
			else if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
				r = relay_conn_input(conn, server->maps, now);
			else
				continue;
			server_after(server, conn, r, &cur);
		}
		server_reap(server);
		if (now != server->last_tick) {
			server->last_tick = now;
			server_tick(server, now);
		}
	}
	return 0;
}

void relay_server_free(struct relay_server **serverp)
{
	struct relay_server *server = *serverp;

	if (server == NULL)
		return;
	while (server->conns != NULL)
		server_close(server, server->conns);
	server_reap(server);
	if (server->maps->late != NULL && server->maps->store != NULL &&
	    relay_late_pending(server->maps->late) > 0)
		(void)relay_late_flush(server->maps->late, server->maps->store,
				       time(NULL));
	metrics_http_free(&server->metrics);
	if (server->listen_fd >= 0)
		close(server->listen_fd);
	if (server->unix_path != NULL)
		(void)unlink(server->unix_path);
	if (server->epoll_fd >= 0)
		close(server->epoll_fd);
	if (server->signal_fd >= 0)
		close(server->signal_fd);
	if (server->spare_fd >= 0)
		close(server->spare_fd);
	mm_free(&server->unix_path);
	mm_free(serverp);
}
