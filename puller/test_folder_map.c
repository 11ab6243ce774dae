/*
 * NAME
 *	test_folder_map 1
 * SUMMARY
 *	unit tests: OLD folder names to NEW ones (prefixes, separators,
 *	INBOX, modified UTF-7 names, exclude globs, folder_map, special
 *	use); the codec itself is tested by test_mutf7
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "folder_map.h"
#include "mm_alloc.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* --- compiling the settings -------------------------------------------- */

static const struct {
	const char *exclude;
	const char *map;
	const char *error;	/* NULL: accepted */
} settings[] = {
	{ NULL, NULL, NULL },
	{ "", "", NULL },
	{ " ; , ", "  ;  ; ", NULL },
	{ "Trash*, Spam ;*/Old*", " Old = New ; ; A/B=C/D ;", NULL },
	{ NULL, "K\xc3\xa4se=Cheese", NULL },
	{ NULL, "INBOX/Receipts=Receipts", NULL },
	{ NULL, "Old Inbox=INBOX", NULL },
	{ NULL, "Broken", "folder_map: pair 1 has no '='" },
	{ NULL, "Old=New; Broken", "folder_map: pair 2 has no '='" },
	{ NULL, "A=B;;C", "folder_map: pair 3 has no '='" },
	{ NULL, "A=B=C", "folder_map: pair 1 has more than one '='" },
	{ NULL, "A=B; x=y=z", "folder_map: pair 2 has more than one '='" },
	{ NULL, " =New", "folder_map: pair 1 has an empty old name" },
	{ NULL, "A=B; Old= ", "folder_map: pair 2 has an empty new name" },
	{ NULL, "A//B=C", "folder_map: pair 1: empty level in old name 'A//B'" },
	{ NULL, "/A=C", "folder_map: pair 1: empty level in old name '/A'" },
	{ NULL, "A=B/", "folder_map: pair 1: empty level in new name 'B/'" },
	{ NULL, "X=Y;INBOX=Old Inbox", "folder_map: pair 2: INBOX itself cannot be renamed" },
	{ NULL, "inbox=Old Inbox", "folder_map: pair 1: INBOX itself cannot be renamed" },
	{ NULL, "A=B; A=C", "folder_map: pair 2 repeats 'A'" },
	{ NULL, "inbox/x=B; INBOX/x=C", "folder_map: pair 2 repeats 'INBOX/x'" },
	{ NULL, "A\x01=B", "folder_map: pair 1: old name 'A?': control character U+0001" },
	{ NULL, "A=\xff", "folder_map: pair 1: new name '?': not valid UTF-8" },
};

START_TEST(compile)
{
	struct folder_map *map = NULL;
	const char *error = NULL;
	int ret;

	ret = folder_map_new(settings[_i].exclude, settings[_i].map, &map, &error);
	if (settings[_i].error == NULL) {
		ck_assert_msg(ret == 0, "'%s': %s", settings[_i].map, error);
		ck_assert_ptr_nonnull(map);
	} else {
		ck_assert_int_eq(ret, -1);
		ck_assert_ptr_null(map);
		ck_assert_msg(strstr(error, settings[_i].error) != NULL,
			      "got '%s', want '%s'", error, settings[_i].error);
	}
	folder_map_free(&map);
	ck_assert_ptr_null(map);
	folder_map_free(&map);
}
END_TEST

START_TEST(compile_long_name)
{
	char *text = mm_malloc(FOLDER_MAP_MAX_NAME + 8);
	struct folder_map *map;
	const char *error;

	memset(text, 'a', FOLDER_MAP_MAX_NAME);
	strcpy(text + FOLDER_MAP_MAX_NAME, "=B");
	ck_assert_int_eq(folder_map_new(NULL, text, &map, &error), 0);
	folder_map_free(&map);
	strcpy(text + FOLDER_MAP_MAX_NAME, "a=B");
	ck_assert_int_eq(folder_map_new(NULL, text, &map, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "folder_map: pair 1: old name"));
	ck_assert_ptr_nonnull(strstr(error, "is longer than 1024 bytes"));
	mm_free(&text);
}
END_TEST

/* --- applying ---------------------------------------------------------- */

enum old_kind { O_SLASH, O_DOT, O_COURIER, O_FLAT, O_SLASH_PFX, O_BARE,
		O_UTF8, O_UTF8_COURIER };
static const struct folder_map_source olds[] = {
	[O_SLASH] = { '/', "" },
	[O_DOT] = { '.', NULL },
	[O_COURIER] = { '.', "INBOX." },
	[O_FLAT] = { '\0', "" },
	[O_SLASH_PFX] = { '/', "INBOX/" },
	[O_BARE] = { '.', "INBOX" },		/* no trailing separator */
	/* After ENABLE UTF8=ACCEPT (RFC 6855): names are UTF-8. */
	[O_UTF8] = { '/', "", 1 },
	[O_UTF8_COURIER] = { '.', "INBOX.", 1 },
};

enum new_kind { N_PLAIN, N_STD, N_DOT, N_DE, N_DOTPLAIN, N_DOTPFX, N_FLAT };
static const struct folder_map_target news[] = {
	[N_PLAIN] = { '/', "", { NULL, NULL, NULL, NULL, NULL } },
	[N_STD] = { '/', "", { "Sent", "Drafts", "Trash", "Junk", "Archive" } },
	[N_DOT] = { '.', "INBOX.", { "INBOX.Sent Messages", "INBOX.Drafts",
				     "INBOX.Deleted Messages", "INBOX.Spam", "" } },
	[N_DE] = { '/', NULL, { "Gesendet", "Entw&APw-rfe", "Papierkorb", NULL,
				"Archiv" } },
	[N_DOTPLAIN] = { '.', "", { NULL, NULL, NULL, NULL, NULL } },
	[N_DOTPFX] = { '.', "INBOX.", { NULL, NULL, NULL, NULL, NULL } },
	[N_FLAT] = { '\0', "", { "Sent", NULL, NULL, NULL, NULL } },
};

#define SENT DRIVER_FOLDER_SENT
#define DRAFTS DRIVER_FOLDER_DRAFTS
#define TRASH DRIVER_FOLDER_TRASH
#define ARCHIVE DRIVER_FOLDER_ARCHIVE
#define NOSEL DRIVER_FOLDER_NOSELECT

static const struct {
	const char *exclude;
	const char *map;
	enum old_kind old;
	enum new_kind new;
	const char *name;	/* raw, on OLD */
	unsigned attrs;
	int ret;		/* 1 copy, 0 excluded, -1 error */
	const char *expect;	/* raw name on NEW, or an error substring */
} cases[] = {
	/* Prefixes and separators. */
	{ NULL, NULL, O_COURIER, N_PLAIN, "INBOX.Sent Items", 0, 1, "Sent Items" },
	/* OLD in UTF8=ACCEPT mode: UTF-8 names, '&' is itself, the prefix
	 * stripped as before; NEW gets modified UTF-7. */
	{ NULL, NULL, O_UTF8, N_PLAIN, "Donn\xc3\xa9" "es/Entw\xc3\xbc" "rfe", 0, 1,
	  "Donn&AOk-es/Entw&APw-rfe" },
	{ NULL, NULL, O_UTF8, N_PLAIN, "A&B", 0, 1, "A&-B" },
	{ NULL, NULL, O_UTF8, N_PLAIN, "Entw&APw-rfe", 0, 1, "Entw&-APw-rfe" },
	{ NULL, NULL, O_UTF8_COURIER, N_PLAIN, "INBOX.Donn\xc3\xa9" "es.2019", 0, 1,
	  "Donn&AOk-es/2019" },
	{ NULL, NULL, O_UTF8_COURIER, N_STD, "INBOX.Entw\xc3\xbc" "rfe", 0, 1, "Drafts" },
	{ NULL, NULL, O_UTF8, N_PLAIN, "Donn\xe9" "es", 0, -1,
	  "folder 'Donn?es': not well-formed UTF-8" },
	{ NULL, NULL, O_UTF8, N_PLAIN, "a\xc0\xaf" "b", 0, -1, "not well-formed UTF-8" },
	{ "Donn*", NULL, O_UTF8, N_PLAIN, "Donn\xe9" "es", 0, 0, NULL },
	{ "Entw\xc3\xbc" "rfe", NULL, O_UTF8, N_PLAIN, "Entw\xc3\xbc" "rfe", 0, 0, NULL },
	{ NULL, NULL, O_COURIER, N_PLAIN, "INBOX.Work.Projects", 0, 1, "Work/Projects" },
	{ NULL, NULL, O_COURIER, N_PLAIN, "inbox.Work", 0, 1, "Work" },
	{ NULL, NULL, O_COURIER, N_PLAIN, "INBOX", 0, 1, "INBOX" },
	{ NULL, NULL, O_COURIER, N_PLAIN, "Inbox", 0, 1, "INBOX" },
	{ NULL, NULL, O_COURIER, N_DOTPFX, "INBOX", 0, 1, "INBOX" },
	{ NULL, NULL, O_COURIER, N_DOTPFX, "INBOX.Work.Projects", 0, 1,
	  "INBOX.Work.Projects" },
	{ NULL, NULL, O_COURIER, N_DOTPLAIN, "INBOX.Work.Projects", 0, 1,
	  "Work.Projects" },
	{ NULL, NULL, O_COURIER, N_PLAIN, "shared.team", 0, 1, "shared/team" },
	{ NULL, NULL, O_SLASH, N_PLAIN, "Work/Projects/2024", 0, 1,
	  "Work/Projects/2024" },
	{ NULL, NULL, O_SLASH, N_DOTPFX, "Work/Projects", 0, 1,
	  "INBOX.Work.Projects" },
	{ NULL, NULL, O_SLASH, N_DOTPLAIN, "Work/Projects", 0, 1, "Work.Projects" },
	{ NULL, NULL, O_SLASH, N_DOTPFX, "INBOX", NOSEL, 1, "INBOX" },
	{ NULL, NULL, O_SLASH, N_DOTPFX, "INBOX/Receipts", 0, 1, "INBOX.Receipts" },
	{ NULL, NULL, O_SLASH, N_PLAIN, "inbox/Receipts", 0, 1, "INBOX/Receipts" },
	{ NULL, NULL, O_SLASH, N_PLAIN, "Inboxes/x", 0, 1, "Inboxes/x" },
	{ NULL, NULL, O_SLASH_PFX, N_PLAIN, "INBOX/Work/x", 0, 1, "Work/x" },
	{ NULL, NULL, O_SLASH_PFX, N_PLAIN, "INBOX", 0, 1, "INBOX" },
	{ NULL, NULL, O_BARE, N_PLAIN, "INBOX", 0, 1, "INBOX" },
	{ NULL, NULL, O_BARE, N_PLAIN, "inbox", 0, 1, "INBOX" },
	{ NULL, NULL, O_DOT, N_PLAIN, "INBOX.Receipts", 0, 1, "INBOX/Receipts" },
	{ NULL, NULL, O_DOT, N_PLAIN, "iNbOx.Receipts.2024", 0, 1,
	  "INBOX/Receipts/2024" },
	{ NULL, NULL, O_DOT, N_DOTPLAIN, "INBOX.Receipts", 0, 1, "INBOX.Receipts" },
	{ NULL, NULL, O_DOT, N_DOTPFX, "Work.x", 0, 1, "INBOX.Work.x" },
	{ NULL, NULL, O_DOT, N_DOTPLAIN, "Work/Home.x", 0, 1, "Work/Home.x" },
	{ NULL, NULL, O_FLAT, N_PLAIN, "Work.Projects", 0, 1, "Work.Projects" },
	{ NULL, NULL, O_FLAT, N_PLAIN, "inbox", 0, 1, "INBOX" },
	{ NULL, NULL, O_FLAT, N_DOTPFX, "Work", 0, 1, "INBOX.Work" },
	{ NULL, NULL, O_FLAT, N_FLAT, "Work", 0, 1, "Work" },

	/* Non-ASCII names. */
	{ NULL, NULL, O_SLASH, N_DOTPLAIN, "K&AOQ-se", 0, 1, "K&AOQ-se" },
	{ NULL, NULL, O_SLASH, N_DOTPFX, "Rezepte/K&AOQ-se", 0, 1,
	  "INBOX.Rezepte.K&AOQ-se" },
	{ NULL, NULL, O_COURIER, N_PLAIN, "INBOX.&ZeVnLIqe-.&U,BTFw-", 0, 1,
	  "&ZeVnLIqe-/&U,BTFw-" },
	{ NULL, NULL, O_SLASH, N_PLAIN, "Tom &- Jerry", 0, 1, "Tom &- Jerry" },
	{ NULL, NULL, O_SLASH, N_PLAIN, "Fun &2D3eAA-", 0, 1, "Fun &2D3eAA-" },

	/* Special use by usual name, in several languages and cases. */
	{ NULL, NULL, O_COURIER, N_STD, "INBOX.Sent Items", 0, 1, "Sent" },
	{ NULL, NULL, O_COURIER, N_STD, "INBOX.sent items", 0, 1, "Sent" },
	{ NULL, NULL, O_COURIER, N_STD, "INBOX.SENT MESSAGES", 0, 1, "Sent" },
	{ NULL, NULL, O_SLASH, N_STD, "Sent Mail", 0, 1, "Sent" },
	{ NULL, NULL, O_SLASH, N_STD, "Gesendet", 0, 1, "Sent" },
	{ NULL, NULL, O_SLASH, N_STD, "Gesendete Elemente", 0, 1, "Sent" },
	{ NULL, NULL, O_SLASH, N_STD, "Envoy&AOk-s", 0, 1, "Sent" },
	{ NULL, NULL, O_SLASH, N_STD, "ENVOY&AMk-S", 0, 1, "Sent" },
	{ NULL, NULL, O_SLASH, N_STD, "Draft", 0, 1, "Drafts" },
	{ NULL, NULL, O_SLASH, N_STD, "Entw&APw-rfe", 0, 1, "Drafts" },
	{ NULL, NULL, O_SLASH, N_STD, "ENTW&ANw-RFE", 0, 1, "Drafts" },
	{ NULL, NULL, O_SLASH, N_DE, "Drafts", 0, 1, "Entw&APw-rfe" },
	{ NULL, NULL, O_SLASH, N_DE, "Gesendete Elemente", 0, 1, "Gesendet" },
	{ NULL, NULL, O_SLASH, N_STD, "Deleted Items", 0, 1, "Trash" },
	{ NULL, NULL, O_SLASH, N_STD, "Papierkorb", 0, 1, "Trash" },
	{ NULL, NULL, O_SLASH, N_STD, "bin", 0, 1, "Trash" },
	{ NULL, NULL, O_SLASH, N_STD, "Junk E-mail", 0, 1, "Junk" },
	{ NULL, NULL, O_SLASH, N_STD, "Bulk Mail", 0, 1, "Junk" },
	{ NULL, NULL, O_SLASH, N_STD, "Archives", 0, 1, "Archive" },
	{ NULL, NULL, O_COURIER, N_DOT, "INBOX.Sent", 0, 1, "INBOX.Sent Messages" },
	{ NULL, NULL, O_COURIER, N_DOT, "INBOX.Trash", 0, 1,
	  "INBOX.Deleted Messages" },
	{ NULL, NULL, O_COURIER, N_DOT, "INBOX.Junk Email", 0, 1, "INBOX.Spam" },
	{ NULL, NULL, O_COURIER, N_DOT, "INBOX.Spam", 0, 1, "INBOX.Spam" },
	/* Children follow a top level with a usual name. */
	{ NULL, NULL, O_COURIER, N_DOT, "INBOX.Sent Items.2019", 0, 1,
	  "INBOX.Sent Messages.2019" },
	{ NULL, NULL, O_SLASH, N_STD, "Papierkorb/Alt/K&AOQ-se", 0, 1,
	  "Trash/Alt/K&AOQ-se" },
	{ NULL, NULL, O_SLASH, N_DE, "Archive/Sent", SENT, 1, "Archiv/Sent" },
	/* Deeper folders never go to NEW's folder for their own use. */
	{ NULL, NULL, O_SLASH, N_STD, "Projects/Sent", SENT, 1, "Projects/Sent" },
	{ NULL, NULL, O_SLASH, N_STD, "Projects/Trash", 0, 1, "Projects/Trash" },
	{ NULL, NULL, O_DOT, N_STD, "INBOX.Sent", SENT, 1, "INBOX/Sent" },
	/* Names that only resemble the usual ones. */
	{ NULL, NULL, O_SLASH, N_STD, "Sent Items 2019", 0, 1, "Sent Items 2019" },
	{ NULL, NULL, O_SLASH, N_STD, "My Drafts", 0, 1, "My Drafts" },
	/* NEW lacks the folder for that use. */
	{ NULL, NULL, O_SLASH, N_PLAIN, "Sent Items", SENT, 1, "Sent Items" },
	{ NULL, NULL, O_SLASH, N_DE, "Junk E-mail", 0, 1, "Junk E-mail" },
	{ NULL, NULL, O_COURIER, N_DOT, "INBOX.Archive", ARCHIVE, 1,
	  "INBOX.Archive" },

	/* Special use by attribute. */
	{ NULL, NULL, O_SLASH, N_STD, "Outbox Copies", SENT, 1, "Sent" },
	{ NULL, NULL, O_SLASH, N_STD, "Old Stuff", ARCHIVE | NOSEL, 1, "Archive" },
	{ NULL, NULL, O_SLASH, N_STD, "Both", TRASH | SENT, 1, "Sent" },
	{ NULL, NULL, O_SLASH, N_STD, "Sent", ARCHIVE, 1, "Archive" },
	{ NULL, NULL, O_SLASH, N_DE, "Brouillons", DRAFTS, 1, "Entw&APw-rfe" },
	{ NULL, NULL, O_SLASH, N_STD, "INBOX", SENT, 1, "INBOX" },
	{ NULL, NULL, O_SLASH, N_DOT, "Outbox Copies/2019", SENT, 1,
	  "INBOX.Outbox Copies.2019" },
	{ NULL, NULL, O_FLAT, N_FLAT, "Gesendet", 0, 1, "Sent" },

	/* folder_map renames. */
	{ NULL, "Old Projects=Archive/Projects", O_SLASH, N_DOTPFX, "Old Projects",
	  0, 1, "INBOX.Archive.Projects" },
	{ NULL, "Old Projects=Archive/Projects", O_SLASH, N_DOTPFX,
	  "Old Projects/2019/Q1", 0, 1, "INBOX.Archive.Projects.2019.Q1" },
	{ NULL, "Old Projects=Archive/Projects", O_SLASH, N_DOTPFX,
	  "Old Projects 2", 0, 1, "INBOX.Old Projects 2" },
	{ NULL, "A=X; A/B=Y", O_SLASH, N_PLAIN, "A/B/C", 0, 1, "Y/C" },
	{ NULL, "A=X; A/B=Y", O_SLASH, N_PLAIN, "A/BB", 0, 1, "X/BB" },
	{ NULL, "A=X; A/B=Y", O_SLASH, N_PLAIN, "A", 0, 1, "X" },
	{ NULL, "A=X", O_SLASH, N_PLAIN, "AB", 0, 1, "AB" },
	{ NULL, "a=X", O_SLASH, N_PLAIN, "A", 0, 1, "A" },
	{ NULL, "Sent Items=Sent Items", O_COURIER, N_STD, "INBOX.Sent Items", 0, 1,
	  "Sent Items" },
	{ NULL, "Outbox=Sent Mail", O_SLASH, N_STD, "Outbox", SENT, 1, "Sent Mail" },
	{ NULL, " K\xc3\xa4se = Cheese ", O_COURIER, N_PLAIN, "INBOX.K&AOQ-se.Gouda",
	  0, 1, "Cheese/Gouda" },
	{ NULL, "Cheese=K\xc3\xa4se/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", O_SLASH,
	  N_DOTPFX, "Cheese", 0, 1, "INBOX.K&AOQ-se.&ZeVnLIqe-" },
	{ NULL, "INBOX/Receipts=Receipts", O_DOT, N_DOTPFX, "inbox.Receipts", 0, 1,
	  "INBOX.Receipts" },
	{ NULL, "INBOX/Receipts=Receipts", O_DOT, N_PLAIN, "INBOX.Receipts.2024", 0, 1,
	  "Receipts/2024" },
	{ NULL, "Old Inbox=inbox", O_SLASH, N_DOTPFX, "Old Inbox", 0, 1, "INBOX" },
	{ NULL, "Old Inbox=inbox", O_SLASH, N_DOTPFX, "Old Inbox/x", 0, 1,
	  "INBOX.x" },

	/* Exclude globs. */
	{ "Trash*", NULL, O_SLASH, N_PLAIN, "Trash", 0, 0, NULL },
	{ "Trash*", NULL, O_SLASH, N_PLAIN, "Trash/Old", 0, 0, NULL },
	{ "Trash*", NULL, O_SLASH, N_PLAIN, "Trashcan", 0, 0, NULL },
	{ "Trash*", NULL, O_COURIER, N_PLAIN, "INBOX.Trash", 0, 0, NULL },
	{ "Trash*", NULL, O_SLASH, N_PLAIN, "trash", 0, 1, "trash" },
	{ "Trash*", NULL, O_SLASH, N_PLAIN, "My Trash", 0, 1, "My Trash" },
	{ "*/Old*", NULL, O_SLASH, N_PLAIN, "Work/Oldies", 0, 0, NULL },
	{ "*/Old*", NULL, O_COURIER, N_PLAIN, "INBOX.Work.Old.x", 0, 0, NULL },
	{ "*/Old*", NULL, O_SLASH, N_PLAIN, "Old", 0, 1, "Old" },
	{ "*/Old*", NULL, O_SLASH, N_PLAIN, "Work/old", 0, 1, "Work/old" },
	{ "INBOX/Spam", NULL, O_DOT, N_PLAIN, "INBOX.Spam", 0, 0, NULL },
	{ "INBOX/Spam", NULL, O_DOT, N_PLAIN, "inbox.Spam", 0, 0, NULL },
	{ "inbox/Spam", NULL, O_DOT, N_PLAIN, "Inbox.Spam", 0, 0, NULL },
	{ "INBOX/Spam", NULL, O_DOT, N_PLAIN, "INBOX.spam", 0, 1, "INBOX/spam" },
	{ "INBOX/Spam", NULL, O_DOT, N_PLAIN, "INBOX.Spam.x", 0, 1, "INBOX/Spam/x" },
	{ "inbox", NULL, O_SLASH, N_PLAIN, "INBOX", 0, 0, NULL },
	{ "inbox*", NULL, O_SLASH, N_PLAIN, "INBOXfoo", 0, 1, "INBOXfoo" },
	{ "Inbox*", NULL, O_SLASH, N_PLAIN, "Inboxes", 0, 0, NULL },
	{ "INBOX.Trash", NULL, O_COURIER, N_PLAIN, "INBOX.Trash", 0, 0, NULL },
	{ "inbox.Trash", NULL, O_COURIER, N_PLAIN, "INBOX.Trash", 0, 0, NULL },
	{ "INBOX.Trash", NULL, O_COURIER, N_PLAIN, "INBOX.trash", 0, 1, "trash" },
	{ "K\xc3\xa4se*", NULL, O_SLASH, N_PLAIN, "K&AOQ-se/Gouda", 0, 0, NULL },
	{ "K&AOQ-se", NULL, O_SLASH, N_PLAIN, "K&AOQ-se", 0, 0, NULL },
	{ "Trash , Spam ; Junk", NULL, O_SLASH, N_STD, "Spam", 0, 0, NULL },
	{ "Trash , Spam ; Junk", NULL, O_SLASH, N_STD, "Junk", 0, 0, NULL },
	{ "Trash , Spam ; Junk", NULL, O_SLASH, N_STD, "Trash2", 0, 1, "Trash2" },
	{ "Old*", "Old=New", O_SLASH, N_PLAIN, "Old", 0, 0, NULL },
	{ "Old*", "Old=New", O_SLASH, N_PLAIN, "My Old", 0, 1, "My Old" },
	{ "New", "Old=New", O_SLASH, N_PLAIN, "Old", 0, 1, "New" },
	{ "*", NULL, O_SLASH, N_PLAIN, "anything/at all", 0, 0, NULL },

	/* Malformed names. */
	{ NULL, NULL, O_SLASH, N_PLAIN, "", 0, -1, "empty name" },
	{ NULL, NULL, O_SLASH, N_PLAIN, "K&AOQ", 0, -1,
	  "folder 'K&AOQ': bad modified UTF-7: unterminated shift" },
	{ NULL, NULL, O_SLASH, N_PLAIN, "&AGE-", 0, -1, "printable ASCII 'a'" },
	/* Raw UTF-8 from OLD is taken as UTF-8; invalid 8-bit is not. */
	{ NULL, NULL, O_SLASH, N_PLAIN, "K\xc3\xa4se/Gr\xc3\xbc\xc3\x9f\x65", 0, 1,
	  "K&AOQ-se/Gr&APwA3w-e" },
	{ NULL, NULL, O_COURIER, N_DOT, "INBOX.Gesch\xc3\xa4\x66t", 0, 1,
	  "INBOX.Gesch&AOQ-ft" },
	{ NULL, NULL, O_SLASH, N_PLAIN, "K\xe4se", 0, -1,
	  "folder 'K?se': bad modified UTF-7: byte 0xe4" },
	{ NULL, NULL, O_SLASH, N_PLAIN, "K\xc3\xa4\tse", 0, -1,
	  "bad modified UTF-7: byte 0xc3" },
	{ NULL, NULL, O_SLASH, N_PLAIN, "&2D0-", 0, -1, "unpaired high surrogate" },
	/* ... unless excluded by their raw form. */
	{ "*", NULL, O_SLASH, N_PLAIN, "&2D0-", 0, 0, NULL },
	{ "K*se", NULL, O_SLASH, N_PLAIN, "K\xc3\xa4se", 0, 0, NULL },
	{ "Bad*", NULL, O_DOT, N_PLAIN, "Bad..x", 0, 0, NULL },
	{ "Bad/*", NULL, O_DOT, N_PLAIN, "Bad..x", 0, -1, "empty hierarchy level" },
	{ NULL, NULL, O_DOT, N_PLAIN, "A..B", 0, -1,
	  "folder 'A..B': empty hierarchy level" },
	{ NULL, NULL, O_DOT, N_PLAIN, ".A", 0, -1, "empty hierarchy level" },
	{ NULL, NULL, O_DOT, N_PLAIN, "A.", 0, -1, "empty hierarchy level" },
	{ NULL, NULL, O_SLASH, N_PLAIN, "/", 0, -1, "empty hierarchy level" },
	{ NULL, NULL, O_COURIER, N_PLAIN, "INBOX.", 0, -1, "empty hierarchy level" },
	/* A level holding NEW's separator cannot be written on NEW. */
	{ NULL, NULL, O_SLASH, N_DOTPLAIN, "Mr. Smith", 0, -1,
	  "folder 'Mr. Smith': level 'Mr. Smith' contains NEW's separator '.'" },
	{ NULL, NULL, O_SLASH, N_DOTPFX, "Clients/A.B/x", 0, -1,
	  "level 'A.B' contains NEW's separator '.'" },
	{ NULL, NULL, O_FLAT, N_PLAIN, "Work/Home", 0, -1,
	  "level 'Work/Home' contains NEW's separator '/'" },
	{ NULL, NULL, O_SLASH, N_STD, "Sent/v1.0", 0, 1, "Sent/v1.0" },
	{ NULL, NULL, O_SLASH, N_DOT, "Sent/v1.0", 0, -1,
	  "level 'v1.0' contains NEW's separator '.'" },
	{ NULL, "A=B.C", O_SLASH, N_DOTPLAIN, "A", 0, -1,
	  "level 'B.C' contains NEW's separator '.'" },
	{ NULL, NULL, O_SLASH, N_FLAT, "A/B", 0, -1,
	  "folder 'A/B': NEW has no hierarchy separator" },
	{ NULL, NULL, O_SLASH, N_FLAT, "Sent Items/2019", 0, -1,
	  "NEW has no hierarchy separator" },
};

START_TEST(apply)
{
	struct folder_map *map;
	const char *error = NULL;
	char *target = (char *)"unset";
	int ret;

	ck_assert_int_eq(folder_map_new(cases[_i].exclude, cases[_i].map, &map,
					&error), 0);
	ret = folder_map_apply(map, &olds[cases[_i].old], &news[cases[_i].new],
			       cases[_i].name, cases[_i].attrs, &target, &error);
	folder_map_free(&map);
	ck_assert_msg(ret == cases[_i].ret, "'%s': returned %d, want %d (%s)",
		      cases[_i].name, ret, cases[_i].ret,
		      ret < 0 ? error : ret > 0 ? target : "excluded");
	if (ret == 1) {
		ck_assert_str_eq(target, cases[_i].expect);
		mm_free(&target);
	} else {
		ck_assert_ptr_null(target);
		if (ret < 0)
			ck_assert_msg(strstr(error, cases[_i].expect) != NULL,
				      "'%s': got '%s', want '%s'", cases[_i].name,
				      error, cases[_i].expect);
	}
}
END_TEST

/* A name of exactly FOLDER_MAP_MAX_NAME bytes passes; one more fails, on
 * OLD, or on NEW once a prefix or special folder makes it longer. */
START_TEST(apply_limits)
{
	char *name = mm_malloc(FOLDER_MAP_MAX_NAME + 2), *target;
	const char *error;

	memset(name, 'a', FOLDER_MAP_MAX_NAME);
	name[FOLDER_MAP_MAX_NAME] = '\0';
	ck_assert_int_eq(folder_map_apply(NULL, &olds[O_SLASH], &news[N_PLAIN],
					  name, 0, &target, &error), 1);
	ck_assert_str_eq(target, name);
	mm_free(&target);

	ck_assert_int_eq(folder_map_apply(NULL, &olds[O_SLASH], &news[N_DOTPFX],
					  name, 0, &target, &error), -1);
	ck_assert_ptr_null(target);
	ck_assert_ptr_nonnull(strstr(error, "longer than 1024 bytes on NEW"));

	/* OLD's prefix is not part of the name on NEW. */
	memcpy(name, "INBOX.", 6);
	ck_assert_int_eq(folder_map_apply(NULL, &olds[O_COURIER], &news[N_PLAIN],
					  name, 0, &target, &error), 1);
	ck_assert_uint_eq(strlen(target), FOLDER_MAP_MAX_NAME - 6);
	mm_free(&target);

	/* Short enough on OLD, too long on NEW under a special folder
	 * with a longer name. */
	memset(name, 'a', FOLDER_MAP_MAX_NAME);
	memcpy(name, "Sent/", 5);
	ck_assert_int_eq(folder_map_apply(NULL, &olds[O_SLASH], &news[N_DOT],
					  name, 0, &target, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "longer than 1024 bytes on NEW"));

	name[FOLDER_MAP_MAX_NAME] = 'a';
	name[FOLDER_MAP_MAX_NAME + 1] = '\0';
	ck_assert_int_eq(folder_map_apply(NULL, &olds[O_SLASH], &news[N_PLAIN],
					  name, 0, &target, &error), -1);
	ck_assert_ptr_null(target);
	ck_assert_ptr_nonnull(strstr(error, "longer than 1024 bytes on OLD"));
	ck_assert_ptr_nonnull(strstr(error, "..."));
	mm_free(&name);
}
END_TEST

/* One compiled map serves many folders, and the error buffer of one
 * call does not leak into the next result. */
START_TEST(apply_reuse)
{
	struct folder_map *map;
	const char *error;
	char *target;

	ck_assert_int_eq(folder_map_new("Trash*", "Old=New", &map, &error), 0);
	ck_assert_int_eq(folder_map_apply(map, &olds[O_COURIER], &news[N_DOT],
					  "INBOX.Old.x", 0, &target, &error), 1);
	ck_assert_str_eq(target, "INBOX.New.x");
	free(target);
	ck_assert_int_eq(folder_map_apply(map, &olds[O_COURIER], &news[N_DOT],
					  "INBOX.Trash", TRASH, &target, &error), 0);
	ck_assert_ptr_null(target);
	ck_assert_int_eq(folder_map_apply(map, &olds[O_COURIER], &news[N_DOT],
					  "INBOX.a..b", 0, &target, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "empty hierarchy level"));
	ck_assert_int_eq(folder_map_apply(map, &olds[O_COURIER], &news[N_DOT],
					  "INBOX.Drafts", DRAFTS, &target, &error), 1);
	ck_assert_str_eq(target, "INBOX.Drafts");
	mm_free(&target);
	folder_map_free(&map);
	ck_assert_ptr_null(map);
}
END_TEST

static Suite *folder_map_suite(void)
{
	Suite *s = suite_create("folder_map");
	TCase *tc = tcase_create("compile");

	tcase_add_loop_test(tc, compile, 0, N_ELEMENTS(settings));
	tcase_add_test(tc, compile_long_name);
	suite_add_tcase(s, tc);

	tc = tcase_create("apply");
	tcase_add_loop_test(tc, apply, 0, N_ELEMENTS(cases));
	tcase_add_test(tc, apply_limits);
	tcase_add_test(tc, apply_reuse);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(folder_map_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
