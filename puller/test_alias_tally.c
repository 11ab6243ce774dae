/*
 * NAME
 *	test_alias_tally 1
 * SUMMARY
 *	unit tests: addresses gathered per access_mode
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "alias_tally.h"

/* Feed a message in chunks of n bytes, as a body stream would. */
static void feed(struct alias_tally *t, const char *msg, size_t n)
{
	size_t len = strlen(msg);

	alias_tally_begin(t);
	for (size_t i = 0; i < len; i += n)
		alias_tally_feed(t, msg + i, len - i < n ? len - i : n);
	alias_tally_end(t);
}

struct out {
	char text[8192];
	const char *refuse;
};

static int accept_fn(const char *addr, void *ctx)
{
	const struct out *o = ctx;

	return o->refuse == NULL || strcmp(addr, o->refuse) != 0;
}

static void add(const char *addr, void *ctx)
{
	struct out *o = ctx;
	size_t n = strlen(o->text);

	snprintf(o->text + n, sizeof(o->text) - n, "%s%s", n > 0 ? " " : "", addr);
}

START_TEST(test_username_gathers_nothing)
{
	ck_assert_ptr_null(alias_tally_new(CFG_ACCESS_USERNAME, "u@x.test"));
	/* A NULL tally takes calls and gives nothing. */
	alias_tally_begin(NULL);
	alias_tally_feed(NULL, "To: a@x.test\r\n\r\n", 16);
	alias_tally_end(NULL);
	ck_assert_uint_eq(alias_tally_messages(NULL), 0);
}
END_TEST

START_TEST(test_standard_most_frequent_to)
{
	struct alias_tally *t = alias_tally_new(CFG_ACCESS_STANDARD, "jdoe@x.test");
	struct out o = { "", NULL };

	feed(t, "To: John <john.doe@x.test>\r\nCc: boss@x.test\r\n\r\nTo: body@x.test\r\n", 7);
	feed(t, "To: john.doe@x.test, list@x.test\r\n\r\nbody", 3);
	feed(t, "To: list@x.test\r\nTo: list@x.test\r\n\r\n", 1);
	feed(t, "Cc: boss@x.test\r\n\r\n", 100);
	ck_assert_uint_eq(alias_tally_messages(t), 4);
	/* john.doe: 2 messages; list: 2 (counted once per message) but
	 * seen later; boss only in Cc. */
	alias_tally_result(t, accept_fn, add, &o);
	ck_assert_str_eq(o.text, "john.doe@x.test");
	alias_tally_free(&t);
	ck_assert_ptr_null(t);
}
END_TEST

START_TEST(test_standard_login_is_address)
{
	struct alias_tally *t = alias_tally_new(CFG_ACCESS_STANDARD, "u@x.test");
	struct out o = { "", NULL };

	feed(t, "To: U@X.test\r\n\r\n", 64);
	feed(t, "To: u@x.test, other@x.test\r\n\r\n", 64);
	alias_tally_result(t, accept_fn, add, &o);
	ck_assert_str_eq(o.text, "");
	alias_tally_free(&t);
}
END_TEST

START_TEST(test_standard_refused)
{
	struct alias_tally *t = alias_tally_new(CFG_ACCESS_STANDARD, "u@x.test");
	struct out o = { "", "v@x.test" };

	feed(t, "To: v@x.test\r\n\r\n", 64);
	alias_tally_result(t, accept_fn, add, &o);
	ck_assert_str_eq(o.text, "");
	alias_tally_free(&t);
}
END_TEST

START_TEST(test_extended)
{
	struct alias_tally *t = alias_tally_new(CFG_ACCESS_EXTENDED, "u@x.test");
	struct out o = { "", "other.account@x.test" };
	char msg[256];

	/* Delivered once to a secret address: an alias at once. */
	feed(t, "Received: from a by b for <secret@x.test>; Mon, 1 Jan 2024\r\n"
		"To: undisclosed-recipients:;\r\n\r\n", 5);
	feed(t, "X-Envelope-To: other.account@x.test\r\n\r\n", 5);
	/* Eight messages to "me", two of them also Cc "team", one to a
	 * colleague once. */
	for (int i = 0; i < 8; i++) {
		snprintf(msg, sizeof(msg), "To: me@x.test%s\r\n%s\r\n\r\n",
			 i == 0 ? ", colleague@x.test" : "",
			 i < 2 ? "Cc: team@x.test, me@x.test" : "X-N: 1");
		feed(t, msg, 4);
	}
	ck_assert_uint_eq(alias_tally_messages(t), 10);
	alias_tally_result(t, accept_fn, add, &o);
	/* team: 2 of 10 messages, under a quarter; colleague: one. */
	ck_assert_str_eq(o.text, "secret@x.test me@x.test");
	alias_tally_free(&t);
}
END_TEST

START_TEST(test_header_bounded)
{
	struct alias_tally *t = alias_tally_new(CFG_ACCESS_EXTENDED, "u@x.test");
	struct out o = { "", NULL };
	static char big[ALIAS_TALLY_HEADER * 2 + 64];

	/* A header longer than the limit: what fits is read, no more. */
	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "X-Envelope-To: e@x.test\r\nX-Long: ", 33);
	memcpy(big + sizeof(big) - 40, "\r\nX-Envelope-To: late@x.test\r\n\r\n", 32);
	big[sizeof(big) - 8] = '\0';
	feed(t, big, 1000);
	alias_tally_result(t, accept_fn, add, &o);
	ck_assert_str_eq(o.text, "e@x.test");
	alias_tally_free(&t);
}
END_TEST

START_TEST(test_many_addresses)
{
	struct alias_tally *t = alias_tally_new(CFG_ACCESS_EXTENDED, "u@x.test");
	struct out o = { "", NULL };
	char msg[128];

	for (int i = 0; i < ALIAS_TALLY_MAX + 10; i++) {
		snprintf(msg, sizeof(msg), "X-Envelope-To: a%d@x.test\r\n\r\n", i);
		feed(t, msg, 64);
	}
	alias_tally_result(t, NULL, add, &o);
	ck_assert_ptr_nonnull(strstr(o.text, "a255@x.test"));
	ck_assert_ptr_null(strstr(o.text, "a256@x.test"));
	alias_tally_free(&t);
}
END_TEST

/* "addr:sources:messages:trusted|untrusted" for each address found. */
static void add_found(const struct alias_tally_found *f, void *ctx)
{
	struct out *o = ctx;
	size_t n = strlen(o->text);

	snprintf(o->text + n, sizeof(o->text) - n, "%s%s:%u:%llu:%s", n > 0 ? " " : "",
		 f->addr, f->sources, (unsigned long long)f->messages,
		 f->trusted ? "trusted" : "proposed");
}

/* Which addresses are OLD's own word: only the "for" of the topmost
 * Received: field, and only when OLD's MTA (source_mx_names) wrote it.
 * Everything below it, and every other header, the sender may forge. */
static const struct {
	const char *mx;		/* source_mx_names */
	const char *msg;
	const char *want;
} trust[] = {
	/* The ceo case: one forged X-Envelope-To is a proposal. */
	{ "mx.old.test", "Received: from s by mx.old.test for <u@x.test>; Mon\r\n"
	  "X-Envelope-To: ceo@x.test\r\n\r\n", "ceo@x.test:4:1:proposed" },
	{ "mx.old.test, store.old.test", "Received: from mx by Store.Old.TEST (Dovecot) "
	  "with LMTP id 1 for <alt@x.test>; Mon\r\n\r\n", "alt@x.test:16:1:trusted" },
	/* A forged hop below OLD's own, naming OLD's host: proposed. */
	{ "mx.old.test", "Received: from s by mx.old.test for <alt@x.test>; Mon\r\n"
	  "Received: from t by mx.old.test for <ceo@x.test>; Sun\r\n\r\n",
	  "alt@x.test:16:1:trusted ceo@x.test:8:1:proposed" },
	/* The topmost hop by another host, or no source_mx_names. */
	{ "mx.old.test", "Received: from s by relay.test for <alt@x.test>; Mon\r\n\r\n",
	  "alt@x.test:8:1:proposed" },
	{ NULL, "Received: from s by mx.old.test for <alt@x.test>; Mon\r\n\r\n",
	  "alt@x.test:8:1:proposed" },
	/* A host name hidden in a comment is not the "by" host. */
	{ "mx.old.test", "Received: from s (by mx.old.test) by evil.test for <ceo@x.test>;"
	  " Mon\r\n\r\n", "ceo@x.test:8:1:proposed" },
};

START_TEST(test_trust)
{
	struct alias_tally *t = alias_tally_new(CFG_ACCESS_EXTENDED, "u@x.test");
	struct out o = { "", NULL };

	alias_tally_set_mx_names(t, trust[_i].mx);
	feed(t, trust[_i].msg, 7);
	alias_tally_result_found(t, NULL, add_found, &o);
	ck_assert_str_eq(o.text, trust[_i].want);
	alias_tally_free(&t);
}
END_TEST

/* Trusted in one message is enough; counts add up over messages. */
START_TEST(test_trust_counts)
{
	struct alias_tally *t = alias_tally_new(CFG_ACCESS_EXTENDED, "u@x.test");
	struct out o = { "", NULL };

	alias_tally_set_mx_names(t, "a.test b.test,mx.old.test");
	feed(t, "To: alt@x.test\r\n\r\n", 64);
	feed(t, "Received: by mx.old.test for <alt@x.test>; Mon\r\nTo: alt@x.test\r\n\r\n", 64);
	feed(t, "X-Envelope-To: alt@x.test\r\n\r\n", 64);
	alias_tally_result_found(t, NULL, add_found, &o);
	ck_assert_str_eq(o.text, "alt@x.test:21:3:trusted");
	alias_tally_free(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("alias_tally");
	TCase *tc = tcase_create("all");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_username_gathers_nothing);
	tcase_add_test(tc, test_standard_most_frequent_to);
	tcase_add_test(tc, test_standard_login_is_address);
	tcase_add_test(tc, test_standard_refused);
	tcase_add_test(tc, test_extended);
	tcase_add_test(tc, test_header_bounded);
	tcase_add_test(tc, test_many_addresses);
	tcase_add_loop_test(tc, test_trust, 0, sizeof(trust) / sizeof(trust[0]));
	tcase_add_test(tc, test_trust_counts);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
