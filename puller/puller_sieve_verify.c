/*
 * NAME
 *	puller_sieve_verify 3
 * SUMMARY
 *	prove an account's Sieve copy: the store's record against NEW now
 * DESCRIPTION
 *	puller_sieve_verify() logs in to NEW's ManageSieve as the puller
 *	does (puller_sieve_open_new()) and checks each script the store
 *	records as put on NEW (store_sieve_put(): its SHA-256, whether a
 *	round made it active): still there with those bytes (same), there
 *	with other bytes (changed: the user's own edit on NEW, which later
 *	rounds keep, so not a loss), or not there at all (gone: the
 *	account differs). It also says which script the record made
 *	active and which one NEW has active now, and counts the account's
 *	Sieve failed items ("sieve:NAME", which `mailmigrate failed`
 *	lists with their reasons). OLD is not asked: each round compares
 *	OLD's scripts with the record, and puts what changed.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "managesieve_client.h"
#include "mm_alloc.h"
#include "puller.h"

struct sieve_rec {
	char *name;
	unsigned char sha256[STORE_SIEVE_HASH];
	int active;
};

struct sieve_recs {
	struct sieve_rec *r;
	size_t count;
};

static int sieve_rec_collect(const char *name, const struct store_sieve *sieve,
			     void *context)
{
	struct sieve_recs *l = context;
	struct sieve_rec *r;

	l->r = mm_reallocarray(l->r, l->count + 1, sizeof(*l->r));
	r = &l->r[l->count++];
	r->name = mm_strdup(name);
	memcpy(r->sha256, sieve->sha256, STORE_SIEVE_HASH);
	r->active = sieve->active;
	return 0;
}

static int sieve_failed_count(const struct store_failed *item, void *context)
{
	uint64_t *n = context;

	if (strncmp(item->folder, "sieve:", 6) == 0)
		(*n)++;
	return 0;
}

/* Add "what" to v->why, "; "-separated, cut to fit. */
static void sieve_why(struct puller_sieve_verify *v, const char *what, const char *name)
{
	size_t n = strlen(v->why);

	if (n + 1 < sizeof(v->why))
		snprintf(v->why + n, sizeof(v->why) - n, "%s%s \"%s\"", n > 0 ? "; " : "",
			 what, name);
}

int puller_sieve_verify(struct puller *p, const char *account, struct puller_sieve_verify *v,
			enum stream_fail *fail_r, const char **error_r)
{
	struct sieve_recs recs = { 0 };
	struct managesieve_client *new = NULL;
	struct managesieve_script *list = NULL;
	size_t count = 0;
	const char *error;
	int ret;

	memset(v, 0, sizeof(*v));
	if (store_sieve_iter(p->store, account, sieve_rec_collect, &recs, &error) < 0 ||
	    store_failed_iter(p->store, account, sieve_failed_count, &v->failed,
			      &error) < 0) {
		ret = stream_failf(fail_r, STREAM_FAIL_WAIT, error_r, "store: %s", error);
		goto out;
	}
	v->recorded = recs.count;
	ret = puller_sieve_open_new(p, account, &new, fail_r, error_r);
	if (ret == 0)
		ret = managesieve_list(new, &list, &count, fail_r, error_r);
	if (ret < 0)
		goto out;
	for (size_t i = 0; i < count; i++)
		if (list[i].active)
			snprintf(v->active_new, sizeof(v->active_new), "%s", list[i].name);
	for (size_t i = 0; ret == 0 && i < recs.count; i++) {
		const struct sieve_rec *r = &recs.r[i];
		unsigned char sha256[STORE_SIEVE_HASH];
		unsigned int mdlen = 0;
		char *data = NULL;
		size_t len, k;

		if (r->active)
			snprintf(v->active_recorded, sizeof(v->active_recorded), "%s",
				 r->name);
		for (k = 0; k < count && strcmp(list[k].name, r->name) != 0; k++)
			;
		if (k == count) {
			v->gone++;
			sieve_why(v, "copied, not on NEW:", r->name);
			continue;
		}
		ret = managesieve_get(new, r->name, &data, &len, fail_r, error_r);
		if (ret < 0 && *fail_r == STREAM_FAIL_MESSAGE) {
			/* Listed, then not given (or over the limit): not as
			 * copied, and not known to be the user's. */
			v->gone++;
			sieve_why(v, "not readable on NEW:", r->name);
			ret = 0;
			continue;
		}
		if (ret < 0)
			break;
		if (EVP_Digest(data, len, sha256, &mdlen, EVP_sha256(), NULL) != 1 ||
		    mdlen != STORE_SIEVE_HASH) {
			mm_free(&data);
			ret = stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
					   "SHA-256 failed");
			break;
		}
		mm_free(&data);
		if (memcmp(sha256, r->sha256, STORE_SIEVE_HASH) == 0)
			v->same++;
		else
			v->changed++;
	}
	v->differs = v->gone > 0;
out:
	managesieve_scripts_free(&list, count);
	managesieve_close(&new);
	for (size_t i = 0; i < recs.count; i++)
		mm_free(&recs.r[i].name);
	mm_free(&recs.r);
	return ret < 0 ? -1 : 0;
}
