/*
 * NAME
 *	puller_dav 3
 * SUMMARY
 *	copy one account's calendars and address books from OLD to NEW
 * DESCRIPTION
 *	copy_dav() runs in a round of a domain with migrate_dav, after the
 *	mail and the Sieve scripts. For CalDAV, then CardDAV, it finds the
 *	account's home on OLD (source_dav_url) and on NEW (target_dav_url),
 *	each a bare server (RFC 6764 discovery) or a home, logging in with
 *	the captured password (or, with an OAuth source_auth, a bearer token
 *	from source_oauth2_token_command, NEW then as target_dav_admin_user):
 *	on OLD as the mail copy does (source_login),
 *	on NEW as the account. Every calendar (address book) of OLD's home
 *	is made on NEW under the same name with its display name, colour
 *	and description (a calendar its component set too: a task list stays
 *	one), unless NEW has one of that name; every item of it
 *	is read from OLD (at most max_dav_item_size) and put on NEW under
 *	the same name, byte for byte.
 *
 *	The store records each collection and item put on NEW (store.h,
 *	"calendars and address books"): OLD's ETag when copied, NEW's
 *	after the PUT and the SHA-256 of the bytes. A later round lists
 *	a collection only when its ctag or sync-token changed since a round
 *	copied all of it; it copies an item again only when OLD's ETag
 *	changed, with If-Match NEW's current ETag, and only if that is the
 *	one recorded (else the user changed it on NEW: NEW's is kept, a
 *	failed item says so). A new item is put with If-None-Match: *: an
 *	item of that name on NEW already is compared byte for byte (the
 *	same: recorded; another: a failed item). Items and collections OLD
 *	no longer has are reported in an event and forgotten, never deleted
 *	on NEW.
 *
 *	Each collection's copy is proved: NEW is listed again after it,
 *	and every item this round put there must be listed; one that is not
 *	is a failed item and its record is dropped, so the next round puts
 *	it again.
 * DIAGNOSTICS
 *	Nothing here fails the round but the store: an item that cannot be
 *	copied (over max_dav_item_size, NEW refuses it, OLD answers an
 *	error for it) is a failed item "caldav:COLLECTION/ITEM" (carddav:
 *	for address books), a collection NEW will not make one named
 *	"caldav:COLLECTION/", and a failure of the whole (a login refused,
 *	discovery that finds no home, a server out of reach) one named
 *	"caldav:" with an event. Five failures in a row for want of an
 *	answer (a timeout, 5xx) stop the service for this round: the next
 *	one goes on. An item or collection copied later drops its failed
 *	item.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "puller_dav.h"
#include "dav_url.h"
#include "error.h"
#include "log.h"
#include "mm_alloc.h"
#include "puller_metrics.h"
#include "token_cmd.h"

/* --- one collection -------------------------------------------------------- */

static void dav_coll_run_free(struct dav_coll_run *cr)
{
	dav_list_free(&cr->old_items);
	dav_list_free(&cr->new_items);
	for (size_t i = 0; i < cr->put_count; i++)
		mm_free(&cr->put[i]);
	mm_free(&cr->put);
	mm_free(&cr->new_url);
}

/* A name for an event, added to r->gone_names while there is room
 * (a name that does not fit whole is left out, not cut). */
static void dav_gone_name(struct dav_run *r, const char *name)
{
	size_t len = strlen(r->gone_names), n = strlen(name);

	if (r->gone + r->colls_gone >= DAV_EVENT_NAMES ||
	    len + n + 5 >= sizeof(r->gone_names))
		return;
	if (len > 0) {
		memcpy(r->gone_names + len, ", ", 2);
		len += 2;
	}
	r->gone_names[len++] = '"';
	memcpy(r->gone_names + len, name, n);
	len += n;
	r->gone_names[len++] = '"';
	r->gone_names[len] = '\0';
}

struct dav_gone_ctx {
	const struct dav_list *listed;	/* OLD's listing, sorted */
	unsigned kind;			/* of the records looked at */
	int collections;		/* a collection's own records */
	char **urls;
	size_t count, alloc;
};

static int dav_gone_cb(const char *coll_url, const struct store_dav *d, void *ctx)
{
	struct dav_gone_ctx *g = ctx;
	const struct dav_entry *e;
	char *seg;

	if (d->kind != g->kind || (g->collections && strcmp(coll_url, d->old_url) != 0))
		return 0;
	seg = dav_last_seg(d->old_url);
	e = seg != NULL ? dav_list_find(g->listed, seg) : NULL;
	mm_free(&seg);
	if (e != NULL && strcmp(e->url, d->old_url) == 0)
		return 0;
	if (g->count == g->alloc) {
		g->alloc = g->alloc == 0 ? 16 : g->alloc * 2;
		g->urls = mm_reallocarray(g->urls, g->alloc, sizeof(*g->urls));
	}
	g->urls[g->count++] = mm_strdup(d->old_url);
	return 0;
}

/* Records OLD no longer lists (listed: OLD's listing, sorted): coll's
 * items, or with coll NULL the service's collections (their items'
 * records with them). Reported and forgotten; NEW keeps its copies. */
static int dav_gone(struct dav_run *r, const struct dav_entry *coll,
		    const struct dav_list *listed, enum stream_fail *fail_r,
		    const char **error_r)
{
	struct dav_gone_ctx g = { listed, coll != NULL ? STORE_DAV_ITEM :
				  r->svc == DAV_CALDAV ? STORE_DAV_CALENDAR :
				  STORE_DAV_ADDRESSBOOK, coll == NULL, NULL, 0, 0 };
	const char *error;
	int ret;

	ret = store_dav_iter(r->c->p->store, r->c->account, coll != NULL ? coll->url : NULL,
			     dav_gone_cb, &g, &error);
	for (size_t i = 0; i < g.count; i++) {
		if (ret == 0) {
			char *seg = dav_last_seg(g.urls[i]);
			const char *name = seg != NULL ? seg : "?";
			char what[STORE_MAX_FOLDER];

			ret = store_dav_del(r->c->p->store, r->c->account,
					    coll != NULL ? coll->url : g.urls[i],
					    coll != NULL ? g.urls[i] : NULL, &error);
			if (ret == STORE_NOTFOUND)
				ret = 0;
			dav_item_name(r, coll != NULL ? coll->seg : name,
				      coll != NULL ? name : NULL, what, sizeof(what));
			dav_gone_name(r, what);
			if (coll != NULL)
				r->gone++;
			else
				r->colls_gone++;
			mm_free(&seg);
		}
		mm_free(&g.urls[i]);
	}
	mm_free(&g.urls);
	if (ret < 0) {
		r->store_failed = 1;
		return copy_store_fail(fail_r, error_r, error);
	}
	return 0;
}

/* The round's proof: every item put on NEW in it is listed there. */
static int dav_coll_prove(struct dav_run *r, struct dav_coll_run *cr,
			  enum stream_fail *fail_r, const char **error_r)
{
	struct dav_list now = { 0 };
	const char *error;
	int ret = 0;

	if (cr->put_count == 0)
		return 0;
	if (dav_list_items(r->new, cr->new_url, dav_item_cb, &now, fail_r, error_r) < 0) {
		dav_list_free(&now);
		cr->all_ok = 0;
		return stream_failf(fail_r, *fail_r, error_r, "NEW: listing %s after "
				    "the copy: %s", cr->new_url, *error_r);
	}
	dav_list_sort(&now);
	for (size_t i = 0; i < cr->put_count && ret == 0; i++) {
		const struct dav_entry *o;

		if (dav_list_find(&now, cr->put[i]) != NULL)
			continue;
		cr->all_ok = 0;
		o = dav_list_find(&cr->old_items, cr->put[i]);
		if (o != NULL) {
			ret = store_dav_del(r->c->p->store, r->c->account, cr->old->url,
					    o->url, &error);
			if (ret < 0) {
				r->store_failed = 1;
				ret = copy_store_fail(fail_r, error_r, error);
				break;
			}
		}
		r->copied--;
		ret = dav_failed(r, cr->old->seg, cr->put[i], "put on NEW but not "
				 "listed there after: copied again next round",
				 fail_r, error_r);
	}
	dav_list_free(&now);
	return ret;
}

/* NEW's URL for OLD's collection: recorded, NEW's of the same name, or
 * made now. 1: not made (a failed item recorded). */
static int dav_coll_target(struct dav_run *r, struct dav_coll_run *cr,
			   const struct store_dav *rec, int have_rec,
			   enum stream_fail *fail_r, const char **error_r)
{
	const struct dav_entry *n = dav_list_find(&r->new_colls, cr->old->seg);
	char reason[STREAM_ERROR_MAX];
	const char *raw;
	size_t len;
	int ret;

	if (have_rec && n != NULL && strcmp(n->url, rec->new_url) == 0) {
		cr->new_url = mm_strdup(rec->new_url);
		return 0;
	}
	if (n != NULL) {
		len = strlen(n->url);
		cr->new_url = mm_asprintf("%s%s", n->url, len > 0 && n->url[len - 1] == '/' ?
					  "" : "/");
		return 0;
	}
	raw = dav_raw_seg(cr->old->url);
	len = strlen(raw);
	cr->new_url = mm_asprintf("%s%s%.*s/", r->new_home,
				  r->new_home[strlen(r->new_home) - 1] == '/' ? "" : "/",
				  (int)(len > 0 && raw[len - 1] == '/' ? len - 1 : len), raw);
	ret = dav_make_collection(r->new, cr->new_url, r->svc, cr->old->displayname,
				  cr->old->color, cr->old->description,
				  cr->old->components, fail_r, error_r);
	if (ret == DAV_COLLECTION_EXISTS)
		return 0;
	if (ret == 0) {
		r->made++;
		return 0;
	}
	if (dav_temp(r, *fail_r) < 0)
		return -1;
	snprintf(reason, sizeof(reason), "NEW: %s", *error_r);
	return dav_failed(r, cr->old->seg, NULL, reason, fail_r, error_r) < 0 ? -1 : 1;
}

static int dav_copy_coll(struct dav_run *r, const struct dav_entry *oc,
			 enum stream_fail *fail_r, const char **error_r)
{
	struct dav_coll_run cr = { .old = oc, .all_ok = 1 };
	struct store_dav *rec = mm_calloc(1, sizeof(*rec));
	unsigned kind = r->svc == DAV_CALDAV ? STORE_DAV_CALENDAR : STORE_DAV_ADDRESSBOOK;
	unsigned char tag[STORE_DAV_HASH];
	char reason[STREAM_ERROR_MAX];
	const char *error;
	int ret, have_rec;

	ret = store_dav_get(r->c->p->store, r->c->account, oc->url, NULL, rec, &error);
	if (ret < 0) {
		mm_free(&rec);
		r->store_failed = 1;
		return copy_store_fail(fail_r, error_r, error);
	}
	have_rec = ret == 0;
	dav_tag_hash(oc->ctag, tag);
	if (have_rec && oc->ctag != NULL && memcmp(tag, rec->old_etag, STORE_DAV_HASH) == 0 &&
	    !dav_coll_had_failed(r, oc->seg)) {
		/* Nothing changed on OLD since a round copied all of it. */
		mm_free(&rec);
		r->colls_unchanged++;
		return 0;
	}
	ret = dav_coll_target(r, &cr, rec, have_rec, fail_r, error_r);
	mm_free(&rec);
	if (ret != 0)
		goto out;
	/* NEW's URL recorded at once, as not complete (no ctag). */
	ret = dav_record(r, oc->url, oc->url, kind, cr.new_url, NULL, NULL, NULL, fail_r,
			 error_r);
	if (ret < 0)
		goto out;
	if (dav_list_items(r->old, oc->url, dav_item_cb, &cr.old_items, fail_r,
			   error_r) < 0 ||
	    dav_list_items(r->new, cr.new_url, dav_item_cb, &cr.new_items, fail_r,
			   error_r) < 0) {
		if (dav_temp(r, *fail_r) < 0) {
			ret = -1;
			goto out;
		}
		snprintf(reason, sizeof(reason), "%s", *error_r);
		ret = dav_failed(r, oc->seg, NULL, reason, fail_r, error_r);
		goto out;
	}
	r->temp_run = 0;
	if (cr.old_items.unnamed > 0) {
		/* the others are copied; the collection is not complete */
		cr.all_ok = 0;
		snprintf(reason, sizeof(reason), "%zu items whose names cannot be kept "
			 "on NEW (a '/' or NUL encoded, a bad escape, over %d bytes), "
			 "e.g. %s: not copied", cr.old_items.unnamed, DAV_SEG_MAX,
			 cr.old_items.unnamed_url);
		ret = dav_failed(r, oc->seg, NULL, reason, fail_r, error_r);
		if (ret < 0)
			goto out;
	}
	dav_list_sort(&cr.old_items);
	dav_list_sort(&cr.new_items);
	for (size_t i = 0; i < cr.old_items.count; i++) {
		ret = dav_copy_item(r, &cr, &cr.old_items.v[i], fail_r, error_r);
		if (ret < 0)
			goto out;
	}
	ret = dav_gone(r, oc, &cr.old_items, fail_r, error_r);
	if (ret == 0)
		ret = dav_coll_prove(r, &cr, fail_r, error_r);
	if (ret < 0 && !r->store_failed && dav_temp(r, *fail_r) == 0) {
		snprintf(reason, sizeof(reason), "%s", *error_r);
		ret = dav_failed(r, oc->seg, NULL, reason, fail_r, error_r);
	}
	if (ret == 0 && cr.all_ok)
		ret = dav_record(r, oc->url, oc->url, kind, cr.new_url, oc->ctag, NULL,
				 NULL, fail_r, error_r);
	if (ret == 0 && cr.all_ok)
		ret = dav_ok(r, oc->seg, NULL, fail_r, error_r);
out:
	dav_coll_run_free(&cr);
	return ret < 0 ? -1 : 0;
}

/* --- one service -------------------------------------------------------------- */

/* A handle logged in as user with secret (a password, or with bearer
 * a token alone), its home found from the URL template. */
static int dav_open(struct dav_run *r, const char *side, const char *template,
		    const char *user, const char *secret, int bearer, int verify,
		    const char *ca, struct dav_http **h_r, char **home_r,
		    enum stream_fail *fail_r, const char **error_r)
{
	const struct cfg *cfg = r->c->p->cfg;
	struct dav_http_settings set = { 0 };
	char *base = cfg_expand_user(template, r->c->account);
	int ret;

	if (bearer) {
		set.bearer = secret;
	} else {
		set.user = user;
		set.password = secret;
	}
	set.timeout_ms = (long)cfg->io_timeout * 1000;
	set.tls_verify = verify;
	set.ca_file = ca;
	*h_r = dav_http_new(&set);
	ret = dav_discover(*h_r, base, r->svc, home_r, fail_r, error_r);
	if (ret < 0)
		ret = stream_failf(fail_r, *fail_r, error_r, "%s %s: %s", side, base,
				   *error_r);
	mm_free(&base);
	return ret;
}

/* NEW as target_dav_admin_user: no discovery (the administrator's
 * principal is not the user's); the home is target_dav_url for the
 * account, made (a plain collection, as Radicale makes a user's) when
 * NEW has none yet. */
static int dav_open_new_admin(struct dav_run *r, enum stream_fail *fail_r,
			      const char **error_r)
{
	const struct cfg_domain *dom = r->c->dom;
	struct dav_http_settings set = { 0 };
	char *password = NULL, *base;
	const char *error;
	int ret;

	if (crypto_read_secret(dom->target_dav_admin_password_file, &password, &error) < 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r,
				    "target_dav_admin_password_file: %s", error);
	set.user = dom->target_dav_admin_user;
	set.password = password;
	set.timeout_ms = (long)r->c->p->cfg->io_timeout * 1000;
	set.tls_verify = 1;
	r->new = dav_http_new(&set);
	mm_free_secret(&password);
	base = cfg_expand_user(dom->target_dav_url, r->c->account);
	r->new_home = base[0] != '\0' && base[strlen(base) - 1] == '/' ? base :
		mm_asprintf("%s/", base);
	if (r->new_home != base)
		mm_free(&base);
	ret = dav_make_home(r->new, r->new_home, fail_r, error_r);
	if (ret < 0)
		return stream_failf(fail_r, *fail_r, error_r, "NEW %s (as %s): %s",
				    r->new_home, dom->target_dav_admin_user, *error_r);
	return 0;
}

static int dav_copy_service(struct dav_run *r, const char *password,
			    enum stream_fail *fail_r, const char **error_r)
{
	const struct cfg_domain *dom = r->c->dom;
	char login[CFG_LOGIN_MAX + 1];
	const char *error;

	if (cfg_login_name(dom, r->c->account, login, sizeof(login), &error) < 0)
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "%s", error);
	if (dav_open(r, "OLD", dom->source_dav_url, login, password, r->bearer,
		     dom->source_tls_verify, dom->source_tls_ca_file, &r->old,
		     &r->old_home, fail_r, error_r) < 0)
		return -1;
	if (dav_list_collections(r->old, r->old_home, r->svc, dav_coll_cb, &r->old_colls,
				 fail_r, error_r) < 0)
		return stream_failf(fail_r, *fail_r, error_r, "OLD: %s", *error_r);
	r->listed = 1;
	dav_list_sort(&r->old_colls);
	if (r->old_colls.count > 0) {
		if (dom->target_dav_admin_user != NULL ?
		    dav_open_new_admin(r, fail_r, error_r) < 0 :
		    dav_open(r, "NEW", dom->target_dav_url, r->c->account, password, 0,
			     1, NULL, &r->new, &r->new_home, fail_r, error_r) < 0)
			return -1;
		if (dav_list_collections(r->new, r->new_home, r->svc, dav_coll_cb,
					 &r->new_colls, fail_r, error_r) < 0)
			return stream_failf(fail_r, *fail_r, error_r, "NEW: %s", *error_r);
		dav_list_sort(&r->new_colls);
	}
	for (size_t i = 0; i < r->old_colls.count; i++) {
		if (dav_copy_coll(r, &r->old_colls.v[i], fail_r, error_r) < 0)
			return -1;
	}
	if (dav_gone(r, NULL, &r->old_colls, fail_r, error_r) < 0)
		return -1;
	if (r->old_colls.unnamed > 0)
		/* the others are copied; a failed item for the service */
		return stream_failf(fail_r, STREAM_FAIL_FINAL, error_r, "%zu collections "
				    "whose names cannot be kept on NEW (a '/' or NUL "
				    "encoded, a bad escape, over %d bytes), e.g. %s: not "
				    "copied", r->old_colls.unnamed, DAV_SEG_MAX,
				    r->old_colls.unnamed_url);
	return 0;
}

static void dav_run_free(struct dav_run *r)
{
	dav_list_free(&r->old_colls);
	dav_list_free(&r->new_colls);
	for (size_t i = 0; i < r->was_failed_count; i++)
		mm_free(&r->was_failed[i]);
	mm_free(&r->was_failed);
	mm_free(&r->old_home);
	mm_free(&r->new_home);
	dav_http_free(&r->old);
	dav_http_free(&r->new);
}

/* The round's event for one service. */
static void dav_event(const struct dav_run *r)
{
	const char *what = r->svc == DAV_CALDAV ? "calendars" : "address books";

	copy_event(r->c, r->failed > 0 ? LOG_SEV_WARNING : LOG_SEV_INFO,
		   "%s %zu %s on OLD (%llu made on NEW, %llu unchanged since "
		   "copied); items: %llu copied, %llu unchanged since copied, %llu "
		   "already the same on NEW, %llu not copied (failed items, %llu "
		   "of them changed on both sides); gone from OLD since copied, "
		   "kept on NEW: %llu %s, %llu items%s%s",
		   r->prefix, r->old_colls.count, what, (unsigned long long)r->made,
		   (unsigned long long)r->colls_unchanged, (unsigned long long)r->copied,
		   (unsigned long long)r->unchanged, (unsigned long long)r->same,
		   (unsigned long long)r->failed, (unsigned long long)r->conflicts,
		   (unsigned long long)r->colls_gone, what, (unsigned long long)r->gone,
		   r->gone_names[0] != '\0' ? ": " : "", r->gone_names);
}

/* Out of reach now (a timeout, a 5xx, the token service down) and not
 * the finish round: an event, and the next round goes on; otherwise a
 * failed item. */
static int dav_may_wait(const struct copy *c, enum stream_fail fail)
{
	enum stream_fail policy = stream_fail_policy(fail);

	return (policy == STREAM_FAIL_TEMP || policy == STREAM_FAIL_WAIT) &&
		(c->job == NULL || c->job->kind != STORE_JOB_FINISH);
}

/* One service; only the store fails the round (-1). */
static int dav_service(struct copy *c, enum dav_service svc, const char *password,
		       int bearer, enum stream_fail *fail_r, const char **error_r)
{
	struct dav_run r = { .c = c, .svc = svc, .bearer = bearer };
	char reason[STREAM_ERROR_MAX];
	const char *error;
	int ret;

	r.prefix = svc == DAV_CALDAV ? "caldav:" : "carddav:";
	if (store_failed_iter(c->p->store, c->account, dav_was_failed_cb, &r, &error) < 0) {
		dav_run_free(&r);
		return copy_store_fail(fail_r, error_r, error);
	}
	if (r.was_failed_count > 1)
		qsort(r.was_failed, r.was_failed_count, sizeof(char *), dav_str_cmp);
	ret = dav_copy_service(&r, password, fail_r, error_r);
	if (ret < 0 && !r.store_failed) {
		snprintf(reason, sizeof(reason), "%s", *error_r);
		if (dav_may_wait(c, *fail_r)) {
			/* out of reach now: the next round goes on */
			copy_event(c, LOG_SEV_WARNING, "%s not copied in this round, "
				   "the next round tries again: %s", r.prefix, reason);
			ret = 0;
		} else {
			ret = dav_failed(&r, NULL, NULL, reason, fail_r, error_r);
		}
	} else if (ret == 0) {
		ret = dav_ok(&r, NULL, NULL, fail_r, error_r);
	}
	if (!r.store_failed && r.listed)
		dav_event(&r);
	dav_run_free(&r);
	return ret;
}

/* No secret for OLD's DAV server: a failed item for the whole (the
 * round goes on). */
static int dav_no_secret(struct copy *c, const char *why, enum stream_fail *fail_r,
			 const char **error_r)
{
	struct store_failed it = { (char *)c->account, (char *)"caldav:", 0, 0, 0,
				   time(NULL), NULL };
	const char *error;

	it.reason = mm_asprintf("%s: its DAV servers cannot be asked", why);
	copy_event(c, LOG_SEV_ERROR, "calendars and address books not copied: %s", why);
	c->failed++;
	if (store_failed_add(c->p->store, &it, &error) < 0) {
		mm_free(&it.reason);
		return copy_store_fail(fail_r, error_r, error);
	}
	mm_free(&it.reason);
	return 0;
}

int copy_dav(struct copy *c, enum stream_fail *fail_r, const char **error_r)
{
	int bearer = c->dom->source_auth != CFG_AUTH_PASSWORD;
	char *secret = NULL;
	const char *error;
	int ret;

	if (!c->dom->migrate_dav)
		return 0;
	if (bearer) {
		/* OAuth, as the mail copy: a fresh token for OLD; NEW is
		 * logged in to as target_dav_admin_user (cfg.c needs it). */
		if (c->dom->target_dav_admin_user == NULL)
			return dav_no_secret(c, "source_auth is OAuth and no "
					     "target_dav_admin_user is set", fail_r, error_r);
		if (token_cmd_run(c->dom->source_oauth2_token_command, c->account,
				  c->p->cfg->connect_timeout * 1000, &secret, fail_r,
				  error_r) < 0) {
			if (dav_may_wait(c, *fail_r)) {
				/* the token service is down: the next round */
				copy_event(c, LOG_SEV_WARNING, "calendars and address "
					   "books not copied in this round, the next "
					   "round tries again: %s", *error_r);
				return 0;
			}
			return dav_no_secret(c, *error_r, fail_r, error_r);
		}
	} else {
		ret = store_cred_get(c->p->store, c->account, &secret, &error);
		if (ret == STORE_NOTFOUND)
			return dav_no_secret(c, "no captured password for this account",
					     fail_r, error_r);
		if (ret < 0)
			return copy_store_fail(fail_r, error_r, error);
	}
	ret = dav_service(c, DAV_CALDAV, secret, bearer, fail_r, error_r);
	if (ret == 0)
		ret = dav_service(c, DAV_CARDDAV, secret, bearer, fail_r, error_r);
	mm_free_secret(&secret);
	return ret;
}
