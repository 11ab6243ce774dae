/*
 * NAME
 *	test_progress 1
 * SUMMARY
 *	unit tests: what stats and top make of hostile progress records
 * DESCRIPTION
 *	The progress records hold what OLD said (folder names, STATUS
 *	SIZE, message counts) through a puller. A hostile or broken OLD
 *	can say anything: names with terminal escapes, invalid UTF-8 or
 *	4 KiB long, sizes near 2^64, more messages done than there are.
 *	Written to a real (LMDB) store and read back by cli_progress_read()
 *	as stats and top do, they must come out as printable, bounded
 *	lines and sums that saturate instead of wrapping.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "store.h"

static const time_t now = 1796000000;	/* a fixed clock */
static char dir[64];
static struct store *store;

static void setup(void)
{
	struct store_options opts = { .create = 1 };
	const char *error;

	snprintf(dir, sizeof(dir), "/tmp/mmprogress.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_msg(store_open(dir, &opts, &store, &error) == 0, "%s", error);
}

static void teardown(void)
{
	char cmd[128];

	store_close(&store);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void put(const char *account, const char *folder, uint64_t msgs_done,
		uint64_t msgs_total, uint64_t bytes_done, uint64_t bytes_total)
{
	struct store_progress p = {
		.account = (char *)account, .owner = (char *)"host:1",
		.folder = (char *)folder, .folder_index = 1, .folder_count = 2,
		.messages_done = msgs_done, .messages_total = msgs_total,
		.bytes_done = bytes_done, .bytes_total = bytes_total,
		.started = now - 10, .updated = now - 1,
	};
	const char *error;

	ck_assert_msg(store_progress_put(store, &p, &error) == 0, "%s", error);
}

/* Printable: no C0, DEL or C1 control, and valid UTF-8 as far as a
 * terminal cares (no lone continuation or lead bytes). */
static void assert_printable(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; p[i] != '\0'; i++) {
		ck_assert_msg(p[i] >= 0x20 && p[i] != 0x7f,
			      "control byte 0x%02x at %zu in \"%s\"", p[i], i, s);
		ck_assert_msg(!(p[i] == 0xc2 && p[i + 1] >= 0x80 && p[i + 1] < 0xa0),
			      "C1 control at %zu", i);
	}
}

START_TEST(hostile_folder_names)
{
	static const char *const names[] = {
		"\x1b[2J\x1b[HINBOX",		/* clears the screen */
		"Sent\r\nFake: line",		/* a second line */
		"\xc2\x9b" "31mred",		/* C1 CSI */
		"bad \xff\xfe utf-8 \xe2\x82",	/* invalid and cut UTF-8 */
		"\x7f\x01\x02",
	};
	struct cli_progress pr;
	char line[400], big[4097];
	const char *error;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char account[32];

		snprintf(account, sizeof(account), "u%zu@example.test", i);
		put(account, names[i], 1, 2, 10, 20);
	}
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[100] = '\x1b';
	put("z@example.test", big, 1, 2, 10, 20);
	ck_assert_msg(cli_progress_read(store, now, &pr, &error) == 0, "%s", error);
	ck_assert_uint_eq(pr.running_count, 6);
	for (size_t i = 0; i < pr.running_count; i++) {
		cli_progress_line(&pr.running[i], line, sizeof(line));
		assert_printable(line);
		ck_assert_uint_lt(strlen(line), sizeof(line));
	}
	/* The long name is cut, and the cut is shown. */
	cli_progress_line(&pr.running[5], line, sizeof(line));
	ck_assert_uint_lt(strlen(line), 200);
	cli_progress_free(&pr);
}
END_TEST

START_TEST(hostile_sizes)
{
	struct cli_progress pr;
	const char *error;

	/* Claims near 2^64, twice: the sum saturates, no wrap to "little
	 * left". More done than the total: nothing left of that one. */
	put("a@example.test", "INBOX", 1, 2, 1, UINT64_MAX - 5);
	put("b@example.test", "INBOX", 1, 2, 1, UINT64_MAX / 2 + 10);
	put("c@example.test", "INBOX", 9, 2, 900, 100);
	/* No size from OLD: messages left times the copy's average. */
	put("d@example.test", "INBOX", 1, UINT64_MAX, UINT64_MAX / 2, 0);
	ck_assert_msg(cli_progress_read(store, now, &pr, &error) == 0, "%s", error);
	ck_assert_uint_eq(pr.running_count, 4);
	ck_assert(pr.left_running == UINT64_MAX);
	ck_assert(pr.left_total == UINT64_MAX);
	ck_assert(pr.left_estimated);
	/* Nothing copied in the window: no time to finish, not a wrapped one. */
	ck_assert_int_eq(pr.eta, -1);
	cli_progress_free(&pr);
}
END_TEST

START_TEST(bars)
{
	char buf[64];

	ck_assert_str_eq(cli_progress_bar(0, 0, buf, sizeof(buf)),
			 "[                    ]   ?%");
	ck_assert_str_eq(cli_progress_bar(5, 10, buf, sizeof(buf)),
			 "[##########----------]  50%");
	ck_assert_str_eq(cli_progress_bar(11, 10, buf, sizeof(buf)),
			 "[####################] 100%");
	/* done * 100 would wrap in 64 bits; a hair under half is 49 %
	 * and 9 cells (floors both). */
	ck_assert_str_eq(cli_progress_bar(UINT64_MAX / 2, UINT64_MAX, buf, sizeof(buf)),
			 "[#########-----------]  49%");
	ck_assert_str_eq(cli_progress_bar(UINT64_MAX / 4 * 3, UINT64_MAX, buf, sizeof(buf)),
			 "[##############------]  74%");
	ck_assert_str_eq(cli_progress_bar(UINT64_MAX, UINT64_MAX, buf, sizeof(buf)),
			 "[####################] 100%");
	ck_assert_str_eq(cli_progress_bar(1, UINT64_MAX, buf, sizeof(buf)),
			 "[--------------------]   0%");
	/* A small buffer: cut, terminated. */
	cli_progress_bar(5, 10, buf, 8);
	ck_assert_uint_eq(strlen(buf), 7);
}
END_TEST

START_TEST(durations)
{
	char buf[32];

	ck_assert_str_eq(cli_duration(-1, buf, sizeof(buf)), "unknown");
	ck_assert_str_eq(cli_duration(59, buf, sizeof(buf)), "59s");
	ck_assert_str_eq(cli_duration(3599, buf, sizeof(buf)), "59m 59s");
	ck_assert_str_eq(cli_duration(2 * 86400, buf, sizeof(buf)), "2d 00h");
	ck_assert_str_eq(cli_duration(CLI_ETA_MAX, buf, sizeof(buf)),
			 "over 3650 days");
	ck_assert_str_eq(cli_duration(INT64_MAX, buf, sizeof(buf)),
			 "over 3650 days");
}
END_TEST

static Suite *progress_suite(void)
{
	Suite *s = suite_create("progress");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, hostile_folder_names);
	tcase_add_test(tc, hostile_sizes);
	tcase_add_test(tc, bars);
	tcase_add_test(tc, durations);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(progress_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
