/*
 * NAME
 *	fuzz_dav_xml 1
 * SUMMARY
 *	libFuzzer target: the WebDAV multistatus reader (dav_xml(3h))
 * DESCRIPTION
 *	The input is an answer to PROPFIND or REPORT as a DAV server
 *	(Radicale, SOGo, Nextcloud, or anything OLD runs) could send it.
 *	dav_multistatus_parse() reads it, and what it hands the callback
 *	is checked against its promises: an href for each response, every
 *	text NUL-terminated and at most DAV_XML_TEXT_MAX - 1 bytes, kind
 *	only dav_kind's bits, a status of three digits or none, data
 *	within the input's length; the callback's non-zero (after the
 *	third response) is what the call returns. A broken promise
 *	aborts; so does any crash, leak or sanitizer report (libxml2's
 *	own code included).
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dav_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_ctx {
	size_t size;
	unsigned responses;
};

static void check_text(const char *s)
{
	if (s != NULL && memchr(s, '\0', DAV_XML_TEXT_MAX) == NULL)
		abort();
}

static int check_response(const struct dav_response *r, void *context)
{
	struct fuzz_ctx *ctx = context;
	const char *texts[] = { r->href, r->displayname, r->color, r->description,
				r->getetag, r->getctag, r->sync_token,
				r->getcontenttype, r->current_user_principal,
				r->calendar_home, r->addressbook_home, r->components };

	if (r->href == NULL)
		abort();
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		check_text(texts[i]);
	if ((r->kind & ~(unsigned)(DAV_KIND_COLLECTION | DAV_KIND_CALENDAR |
				   DAV_KIND_ADDRESSBOOK | DAV_KIND_PRINCIPAL)) != 0)
		abort();
	if (r->status != 0 && (r->status < 100 || r->status > 599))
		abort();
	if (r->data != NULL && (r->data_len > ctx->size || r->data[r->data_len] != '\0'))
		abort();
	/* Touch every byte the caller would read. */
	for (size_t i = 0; r->data != NULL && i < r->data_len; i++)
		if (r->data[i] == '\x01' && i == SIZE_MAX)
			abort();
	return ++ctx->responses == 3 ? 7 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_ctx ctx = { .size = size };
	const char *error = NULL;
	int ret;

	ret = dav_multistatus_parse((const char *)data, size, check_response, &ctx,
				    &error);
	if (ret == -1 && error == NULL)
		abort();
	if (ret != -1 && ret != 0 && ret != 7)
		abort();
	if (ret == 7 && ctx.responses != 3)
		abort();
	if (ret == 0 && ctx.responses >= 3)
		abort();
	return 0;
}
