/*
 * NAME
 *	folder_map 3h
 * SUMMARY
 *	the name each OLD folder gets on NEW
 * DESCRIPTION
 *	Pure functions, no I/O: the puller lists OLD's folders and asks
 *	folder_map_apply() for each one whether to copy it and, if so,
 *	under which raw name to create it on NEW. Two domain settings
 *	steer it, compiled once by folder_map_new():
 *
 *	exclude_folders	globs separated by ';' or ',', each trimmed,
 *		empty ones ignored. A folder is excluded when a glob
 *		matches, by fnmatch(3) with no flags ('*' also matches
 *		'/'; '\' escapes), its raw name exactly as OLD spells it
 *		(prefix, separator, modified UTF-7 and all) or its
 *		decoded path (below). Matching is case-sensitive, except
 *		that a first level of INBOX matches in any case (RFC
 *		3501): "inbox/Spam" excludes "INBOX.Spam" but not
 *		"INBOX.spam", and "inbox*" does not exclude "INBOXfoo".
 *	folder_map	"Old Name=New Name; Other=Else": pairs separated
 *		by ';', names in UTF-8 with '/' between levels, each
 *		name trimmed, empty pairs ignored. '=' cannot appear in
 *		a name. INBOX itself cannot be renamed (its children
 *		can). Pairs are numbered as written, empty ones
 *		included, for error messages.
 *
 *	folder_map_apply() decides, in this order:
 *	1. OLD's personal namespace prefix (e.g. "INBOX.") is removed
 *	   when the name starts with it (its INBOX part in any case);
 *	   a name outside the prefix (another namespace) is used
 *	   whole. INBOX in any case is INBOX; with an empty prefix,
 *	   "INBOX.Receipts" stays under INBOX.
 *	2. The rest is decoded from modified UTF-7 (taken as it is when
 *	   it holds 8-bit bytes that are valid UTF-8; when OLD is in
 *	   UTF8=ACCEPT mode, src->utf8, always taken as UTF-8, and a
 *	   name that is not well-formed UTF-8 is refused) and split on OLD's
 *	   separator (none: a flat name is one level) into the path:
 *	   UTF-8 levels joined by '/', with a first level of INBOX in
 *	   any case written "INBOX". Exclude globs and folder_map
 *	   names match this path, at level boundaries. (A level may
 *	   hold a '/' when OLD's separator is another: it is kept as
 *	   one level, and fails at step 6 on a NEW whose separator is
 *	   '/'.)
 *	3. An excluded folder is not copied. The raw name is matched
 *	   first, before any check, so a glob can exclude a folder
 *	   whose name is malformed; then the path.
 *	4. A folder_map pair whose old name is the path, or one of its
 *	   parents ("Old" for "Old/child"), renames it: the longest
 *	   such match wins, and children keep their names under the
 *	   new name.
 *	5. Otherwise a top-level folder with a special-use attribute
 *	   (\Sent, \Drafts, \Trash, \Junk, \Archive; the first of these
 *	   when several are set), or without one but with a usual name
 *	   for that use (compared ignoring case, ASCII and Latin-1:
 *	   "sent items" is "Sent Items"), goes to NEW's folder for that
 *	   use when NEW has one; the children of a top-level folder
 *	   with a usual name follow it, keeping their own names. A
 *	   deeper folder ("Archive/Sent") never goes to NEW's folder
 *	   for its own use, whatever its attributes. Each call sees one
 *	   folder, so the children of a top-level folder known by its
 *	   attribute alone ("Outbox Copies" with \Sent) keep their OLD
 *	   parent name; a folder_map pair moves them. Several OLD
 *	   folders for one use ("Sent", "Sent Items") all go into NEW's
 *	   one folder.
 *	6. Each level is encoded to modified UTF-7 and the levels are
 *	   joined with NEW's separator; NEW's prefix goes in front,
 *	   except for INBOX and its children (on a NEW whose prefix is
 *	   "INBOX." they are under the prefix already) and for NEW's
 *	   special-use folders (given as NEW spells them).
 *
 *	The usual names: Sent: Sent, Sent Items, Sent Messages, Sent
 *	Mail, Gesendet, Gesendete Elemente, Envoyés; Drafts: Drafts,
 *	Draft, Entwürfe; Trash: Trash, Deleted Items, Deleted Messages,
 *	Papierkorb, Bin; Junk: Junk, Spam, Junk E-mail, Junk Email,
 *	Bulk Mail; Archive: Archive, Archives.
 *
 *	Modified UTF-7 is decoded and encoded strictly, by mutf7(3).
 * LIMITS
 *	FOLDER_MAP_MAX_NAME bytes for a raw name on OLD or NEW and for a
 *	folder_map name; FOLDER_MAP_MAX_TEXT bytes for a name decoded
 *	from or encoded to modified UTF-7.
 * DIAGNOSTICS
 *	Functions that can fail return -1 with *error_r set, kept as
 *	error(3h) says: one thread only. Errors name the folder (escaped and
 *	truncated, as log_printable()) or the setting and pair.
 */
#ifndef MM_FOLDER_MAP_H
#define MM_FOLDER_MAP_H

#include <stddef.h>

#define FOLDER_MAP_MAX_NAME 1024
#define FOLDER_MAP_MAX_TEXT (4 * FOLDER_MAP_MAX_NAME)

/* Indexes of folder_map_target.special[], in the order that decides
 * between several special-use attributes. */
enum folder_map_use {
	FOLDER_MAP_SENT,
	FOLDER_MAP_DRAFTS,
	FOLDER_MAP_TRASH,
	FOLDER_MAP_JUNK,
	FOLDER_MAP_ARCHIVE,
	FOLDER_MAP_USES
};

/* Compiled exclude_folders and folder_map settings; immutable once
 * made, so one may serve many accounts. */
struct folder_map;

/* What NEW looks like. The caller owns every string. */
struct folder_map_target {
	char separator;		/* NEW's hierarchy separator, '/' or '.';
				 * '\0' allows one level only */
	const char *prefix;	/* personal namespace prefix: "" usually, or
				 * "INBOX."; NULL is "" */
	/* NEW's existing folders for each enum folder_map_use, raw as NEW
	 * spells them (prefix included); NULL or "" when NEW has none. */
	const char *special[FOLDER_MAP_USES];
};

/* What OLD looks like. The caller owns the prefix. */
struct folder_map_source {
	char separator;		/* OLD's hierarchy separator; '\0' = flat */
	const char *prefix;	/* personal namespace prefix, "INBOX." or
				 * ""; NULL is "" */
	int utf8;		/* names are UTF-8 (OLD accepted ENABLE
				 * UTF8=ACCEPT, RFC 6855), not modified
				 * UTF-7: '&' stands for itself */
};

/* Compile a domain's exclude_folders and folder_map settings.
 * @param exclude	the exclude_folders value; NULL or "" for none
 * @param map	the folder_map value; NULL or "" for none
 * @param map_r	on success, the caller owns it (folder_map_free())
 * @param error_r	on failure, e.g. "folder_map: pair 2 has no '='"
 * @return 0 or -1 */
int folder_map_new(const char *exclude, const char *map,
		   struct folder_map **map_r, const char **error_r);
/* Free *map and set it to NULL; NULL is fine. */
void folder_map_free(struct folder_map **map);

/* Decide the name on NEW for one folder on OLD.
 * @param map	from folder_map_new(); NULL: no exclusions or renames
 * @param src	OLD's separator and prefix
 * @param dst	NEW's separator, prefix and special-use folders
 * @param old_name	the raw name as OLD lists it (modified UTF-7, or
 *		UTF-8 with src->utf8)
 * @param attrs	its DRIVER_FOLDER_* attributes
 * @param target_r	on 1, the raw name on NEW (modified UTF-7, NEW's
 *		separator and prefix), owned by the caller (free() or
 *		mm_free()); NULL otherwise
 * @param error_r	on -1, why, naming the folder
 * @return 1 to copy, 0 when excluded, -1 when the name is malformed
 *	(bad modified UTF-7, an empty level, over FOLDER_MAP_MAX_NAME
 *	bytes on OLD or NEW) or cannot be written on NEW (a level
 *	holding NEW's separator) */
int folder_map_apply(const struct folder_map *map,
		     const struct folder_map_source *src,
		     const struct folder_map_target *dst,
		     const char *old_name, unsigned attrs,
		     char **target_r, const char **error_r);

#endif
