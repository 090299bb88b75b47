/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test input files for unit tests that read files (configuration, rules).
 * Include after <cmocka.h>.
 */
#ifndef FT_TEST_FILES_H
#define FT_TEST_FILES_H

#include <stdio.h>

/* Write text to dir/name; returns its path, valid until eight later calls. */
static inline const char *
ft_test_write_file(const char *dir, const char *name, const char *text)
{
	static char paths[8][512];
	static unsigned slot;
	char *p = paths[slot++ % 8];
	FILE *f;

	snprintf(p, sizeof(paths[0]), "%s/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

#endif /* FT_TEST_FILES_H */
