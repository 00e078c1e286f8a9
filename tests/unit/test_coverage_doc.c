/* SPDX-License-Identifier: MIT */
/*
 * docs/protocol-coverage.md must list every request (both directions) and
 * every protocol feature bit that lib/wire knows, each on a table row.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/wire.h"
#include <vhu/gpu.h>
#include <vhu/names.h>

static char *doc;

static int load_doc(void **state)
{
	const char *path = getenv("VHU_COVERAGE_DOC");
	FILE *f;
	long len;

	(void)state;
	if (!path)
		return -1;
	f = fopen(path, "r");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	doc = calloc(1, (size_t)len + 1);
	if (!doc || fread(doc, 1, (size_t)len, f) != (size_t)len) {
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

static int free_doc(void **state)
{
	(void)state;
	free(doc);
	return 0;
}

/* "| id | `NAME` |" must appear: the name on its own table row. */
static void expect_row(unsigned int id, const char *name)
{
	char row[160];

	snprintf(row, sizeof(row), "| %u | `%s` |", id, name);
	if (!strstr(doc, row))
		fail_msg("docs/protocol-coverage.md has no row \"%s\"", row);
}

static void every_frontend_request_listed(void **state)
{
	(void)state;
	for (uint32_t id = 1; id < vhu_rule_count(VHU_DIR_TO_BACKEND); id++)
		expect_row(id, vhu_request_name(id));
}

static void every_backend_request_listed(void **state)
{
	(void)state;
	for (uint32_t id = 1; id < vhu_rule_count(VHU_DIR_TO_FRONTEND); id++)
		expect_row(id, vhu_backend_request_name(id));
}

static void every_gpu_request_listed(void **state)
{
	(void)state;
	for (uint32_t id = 1; id < vhu_rule_count(VHU_DIR_GPU); id++)
		expect_row(id, vhu_gpu_request_name(id));
}

static void every_protocol_bit_listed(void **state)
{
	(void)state;
	for (unsigned int bit = 0; vhu_protocol_feature_name(bit); bit++)
		expect_row(bit, vhu_protocol_feature_name(bit));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_frontend_request_listed),
		cmocka_unit_test(every_backend_request_listed),
		cmocka_unit_test(every_gpu_request_listed),
		cmocka_unit_test(every_protocol_bit_listed),
	};

	return cmocka_run_group_tests(tests, load_doc, free_doc);
}
