/*
 * NAME
 *	relay_load 1
 * SUMMARY
 *	socketmap load client for bench/relay-bench.sh
 * SYNOPSIS
 *	relay_load [-c clients] [-n queries] [-m map] -k keyfile socket
 * DESCRIPTION
 *	Opens `clients` connections to a socketmap server (a unix socket
 *	path, or HOST:PORT) and keeps one query outstanding on each, as
 *	Postfix's processes do, cycling through the keys of keyfile (one
 *	per line), until `queries` replies have arrived. One thread, epoll:
 *	the client's own cost stays small next to the server's. Latency is
 *	from the write of a query to the last byte of its reply
 *	(CLOCK_MONOTONIC). The first 5% of the queries warm up and are not
 *	counted. Prints one line:
 *	clients= queries= seconds= qps= p50_us= p99_us= max_us= ok= notfound= other=
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	char q[1100];
	size_t qlen;
	char r[1100];
	size_t rlen;
	uint64_t sent_ns;
};

static char **keys;
static size_t nkeys;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "relay_load: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int connect_to(const char *where)
{
	int fd;

	if (where[0] == '/') {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", where);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
			die(where);
	} else {
		char host[256], *colon;
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;

		snprintf(host, sizeof(host), "%s", where);
		colon = strrchr(host, ':');
		if (colon == NULL)
			die("want HOST:PORT");
		*colon = '\0';
		if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
			die(where);
		fd = socket(ai->ai_family, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
			die(where);
		freeaddrinfo(ai);
	}
	return fd;
}

static void send_query(struct conn *c, const char *map, uint64_t seq)
{
	const char *key = keys[seq % nkeys];
	size_t plen = strlen(map) + 1 + strlen(key);

	c->qlen = (size_t)snprintf(c->q, sizeof(c->q), "%zu:%s %s,", plen, map, key);
	c->rlen = 0;
	c->sent_ns = now_ns();
	if (write(c->fd, c->q, c->qlen) != (ssize_t)c->qlen)
		die("write");
}

/* A complete reply netstring in c->r? Its payload's first word in *ok_r. */
static int reply_done(struct conn *c, int *kind_r)
{
	char *colon = memchr(c->r, ':', c->rlen);
	size_t len;

	if (colon == NULL)
		return 0;
	len = strtoul(c->r, NULL, 10);
	if ((size_t)(colon - c->r) + 1 + len + 1 > c->rlen)
		return 0;
	*kind_r = strncmp(colon + 1, "OK ", 3) == 0 ? 0 :
		strncmp(colon + 1, "NOTFOUND", 8) == 0 ? 1 : 2;
	return 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *map = "transport", *keyfile = NULL;
	unsigned clients = 1;
	uint64_t queries = 100000, sent = 0, done = 0, counted = 0, warm;
	uint64_t kinds[3] = { 0 }, *lat, t0 = 0, t1;
	struct epoll_event ev, events[256];
	struct conn *conns;
	char line[1024];
	int c, ep;
	FILE *fp;

	while ((c = getopt(argc, argv, "c:n:m:k:")) != -1) {
		switch (c) {
		case 'c': clients = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'n': queries = strtoull(optarg, NULL, 10); break;
		case 'm': map = optarg; break;
		case 'k': keyfile = optarg; break;
		default:
			fprintf(stderr, "usage: relay_load [-c clients] [-n queries] "
				"[-m map] -k keyfile socket\n");
			return 2;
		}
	}
	if (optind + 1 != argc || keyfile == NULL || clients == 0 ||
	    queries < clients)
		return 2;
	if ((fp = fopen(keyfile, "r")) == NULL)
		die(keyfile);
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '\0')
			continue;
		keys = realloc(keys, (nkeys + 1) * sizeof(char *));
		keys[nkeys++] = strdup(line);
	}
	fclose(fp);
	if (nkeys == 0)
		die("no keys");
	warm = queries / 20;
	lat = malloc(queries * sizeof(uint64_t));
	conns = calloc(clients, sizeof(*conns));
	if ((ep = epoll_create1(0)) < 0)
		die("epoll_create1");
	for (unsigned i = 0; i < clients; i++) {
		conns[i].fd = connect_to(argv[optind]);
		ev.events = EPOLLIN;
		ev.data.ptr = &conns[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) < 0)
			die("epoll_ctl");
	}
	for (unsigned i = 0; i < clients; i++)
		send_query(&conns[i], map, sent++ * 7919 + i);
	while (done < queries) {
		int n = epoll_wait(ep, events, 256, 10000);

		if (n <= 0)
			die(n == 0 ? "no reply in 10 s" : "epoll_wait");
		for (int i = 0; i < n; i++) {
			struct conn *k = events[i].data.ptr;
			ssize_t r = read(k->fd, k->r + k->rlen, sizeof(k->r) - k->rlen);
			int kind;

			if (r <= 0)
				die("read (server closed?)");
			k->rlen += (size_t)r;
			if (!reply_done(k, &kind))
				continue;
			t1 = now_ns();
			done++;
			if (done == warm)
				t0 = t1;
			if (done > warm) {
				lat[counted++] = t1 - k->sent_ns;
				kinds[kind]++;
			}
			if (sent < queries)
				send_query(k, map, sent++ * 7919);
		}
	}
	t1 = now_ns();
	qsort(lat, counted, sizeof(uint64_t), cmp_u64);
	printf("clients=%u queries=%llu seconds=%.3f qps=%.0f p50_us=%.1f "
	       "p99_us=%.1f max_us=%.1f ok=%llu notfound=%llu other=%llu\n",
	       clients, (unsigned long long)counted, (t1 - t0) / 1e9,
	       counted / ((t1 - t0) / 1e9), lat[counted / 2] / 1e3,
	       lat[counted * 99 / 100] / 1e3, lat[counted - 1] / 1e3,
	       (unsigned long long)kinds[0], (unsigned long long)kinds[1],
	       (unsigned long long)kinds[2]);
	return kinds[2] == 0 ? 0 : 1;
}
