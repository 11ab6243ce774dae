/*
 * NAME
 *	puller_acl_state 3
 * SUMMARY
 *	the ACL copy's records: what each round did with each right
 * DESCRIPTION
 *	puller_acl_state(3h) says what they are for. A right is taken
 *	back on NEW only when NEW's holder has exactly what OLD gave (a
 *	user who changed it on NEW meanwhile keeps theirs), and only after
 *	the round read OLD's whole ACL of the folder: a folder OLD would
 *	not show is never taken from.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl_rights.h"
#include "puller_acl_state.h"
#include "log.h"
#include "mm_alloc.h"

/* A session failure (not this folder's answer) stops the pass. */
int acl_session_broken(enum stream_fail fail)
{
	enum stream_fail policy = stream_fail_policy(fail);

	return policy == STREAM_FAIL_TEMP || policy == STREAM_FAIL_WAIT;
}

/* Append ", what" to the list in buf (bounded: what does not fit is
 * left out, the counts say how many). */
void acl_note(char *buf, size_t size, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int ret;

	if (*n >= size)
		return;
	if (*n > 0) {
		ret = snprintf(buf + *n, size - *n, ", ");
		*n += ret > 0 ? (size_t)ret : 0;
		if (*n >= size)
			return;
	}
	va_start(ap, fmt);
	ret = vsnprintf(buf + *n, size - *n, fmt, ap);
	va_end(ap);
	*n += ret > 0 ? (size_t)ret : 0;
}

void acl_recs_free(struct acl_recs *recs)
{
	mm_free(&recs->v);
	mm_free(&recs->seen);
	recs->count = recs->size = 0;
}

static int acl_recs_add(const struct store_acl *a, void *context)
{
	struct acl_recs *recs = context;

	if (recs->count == recs->size) {
		recs->size = recs->size == 0 ? 8 : recs->size * 2;
		recs->v = mm_reallocarray(recs->v, recs->size, sizeof(*recs->v));
		recs->seen = mm_realloc(recs->seen, recs->size);
	}
	recs->v[recs->count] = *a;
	recs->seen[recs->count] = 0;
	recs->count++;
	return 0;
}

int acl_recs_load(struct copy *c, const char *folder, struct acl_recs *recs,
		  enum stream_fail *fail_r, const char **error_r)
{
	const char *error;

	memset(recs, 0, sizeof(*recs));
	if (strlen(folder) > STORE_MAX_FOLDER)
		return 0;	/* the store keeps no record of it */
	if (store_acl_iter(c->p->store, c->account, folder, acl_recs_add, recs,
			   &error) < 0) {
		acl_recs_free(recs);
		return copy_store_fail(fail_r, error_r, error);
	}
	return 0;
}

int acl_recs_note(struct copy *c, struct acl_recs *recs, const char *folder,
		  const char *target, const char *identifier, const char *given_to,
		  const char *rights, enum store_acl_state state,
		  enum stream_fail *fail_r, const char **error_r)
{
	struct store_acl *a = NULL, rec;
	const char *error;

	if (strlen(folder) > STORE_MAX_FOLDER || strlen(target) > STORE_MAX_FOLDER ||
	    strlen(identifier) > STORE_MAX_ACL_ID || strlen(given_to) > STORE_MAX_ACL_ID ||
	    strlen(rights) > STORE_MAX_ACL_RIGHTS || identifier[0] == '\0')
		return 0;	/* beyond the store's bounds: not recorded */
	for (size_t i = 0; i < recs->count; i++)
		if (strcmp(recs->v[i].identifier, identifier) == 0) {
			a = &recs->v[i];
			recs->seen[i] = 1;
			break;
		}
	/* Given by an earlier round and still there: given, not found. */
	if (a != NULL && state == STORE_ACL_THERE && a->state == STORE_ACL_GIVEN &&
	    strcmp(a->given_to, given_to) == 0 && acl_rights_same(a->rights, rights))
		state = STORE_ACL_GIVEN;
	if (a != NULL && a->state == state && strcmp(a->target, target) == 0 &&
	    strcmp(a->given_to, given_to) == 0 && strcmp(a->rights, rights) == 0)
		return 0;	/* as recorded */
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.folder, sizeof(rec.folder), "%s", folder);
	snprintf(rec.target, sizeof(rec.target), "%s", target);
	snprintf(rec.identifier, sizeof(rec.identifier), "%s", identifier);
	snprintf(rec.given_to, sizeof(rec.given_to), "%s", given_to);
	snprintf(rec.rights, sizeof(rec.rights), "%s", rights);
	rec.state = state;
	rec.updated = (int64_t)time(NULL);
	if (store_acl_put(c->p->store, c->account, &rec, &error) < 0)
		return copy_store_fail(fail_r, error_r, error);
	return 0;
}

int acl_recs_take_back(struct copy *c, struct acl_recs *recs, const char *target,
		       const struct driver_acl *cur, struct acl_take_back *tb,
		       enum stream_fail *fail_r, const char **error_r)
{
	const char *error;
	int ret;

	for (size_t i = 0; i < recs->count; i++) {
		const struct store_acl *a = &recs->v[i];
		const char *have = NULL;

		if (recs->seen[i])
			continue;
		if (a->state == STORE_ACL_GIVEN || a->state == STORE_ACL_THERE) {
			for (size_t j = 0; j < cur->count; j++)
				if (strcmp(cur->e[j].identifier, a->given_to) == 0)
					have = cur->e[j].rights;
		}
		if (have != NULL && acl_rights_same(have, a->rights)) {
			if (c->tdrv->set_acl(c->dst, target, a->given_to, "", fail_r,
					     error_r) < 0) {
				if (acl_session_broken(*fail_r))
					return -1;
				/* NEW refused: the record stays, the next
				 * round tries again. */
				tb->kept++;
				acl_note(tb->list, sizeof(tb->list), &tb->n, "%s (%s) not "
					 "taken back: %s", a->given_to, a->rights, *error_r);
				continue;
			}
			tb->taken++;
			acl_note(tb->list, sizeof(tb->list), &tb->n, "%s (%s) taken back",
				 a->given_to, a->rights);
		} else if (have != NULL) {
			tb->kept++;
			acl_note(tb->list, sizeof(tb->list), &tb->n, "%s (%s) kept: NEW's "
				 "are now %s", a->given_to, a->rights, have);
		}
		ret = store_acl_del(c->p->store, c->account, a->folder, a->identifier,
				    &error);
		if (ret < 0 && ret != STORE_NOTFOUND)
			return copy_store_fail(fail_r, error_r, error);
	}
	return 0;
}

/* The folder names of the records not among the round's, once each. */
struct acl_gone {
	char **names;
	size_t count;
	char **gone;
	size_t ngone;
};

static int acl_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int acl_gone_one(const struct store_acl *a, void *context)
{
	struct acl_gone *g = context;
	const char *key = a->folder;

	if (bsearch(&key, g->names, g->count, sizeof(*g->names), acl_name_cmp) != NULL)
		return 0;
	if (g->ngone > 0 && strcmp(g->gone[g->ngone - 1], a->folder) == 0)
		return 0;	/* a folder's records come together */
	g->gone = mm_reallocarray(g->gone, g->ngone + 1, sizeof(*g->gone));
	g->gone[g->ngone++] = mm_strdup(a->folder);
	return 0;
}

int acl_recs_forget_gone(struct copy *c, char **names, size_t count,
			 uint64_t *forgotten_r, enum stream_fail *fail_r,
			 const char **error_r)
{
	struct acl_gone g = { .names = names, .count = count };
	const char *error = NULL;
	int ret = 0;

	*forgotten_r = 0;
	qsort(names, count, sizeof(*names), acl_name_cmp);
	if (store_acl_iter(c->p->store, c->account, NULL, acl_gone_one, &g, &error) < 0)
		ret = -1;
	for (size_t i = 0; i < g.ngone; i++) {
		if (ret == 0) {
			int r = store_acl_del(c->p->store, c->account, g.gone[i], NULL,
					      &error);

			if (r < 0 && r != STORE_NOTFOUND)
				ret = -1;
			else
				(*forgotten_r)++;
		}
		mm_free(&g.gone[i]);
	}
	mm_free(&g.gone);
	return ret < 0 ? copy_store_fail(fail_r, error_r, error) : 0;
}
