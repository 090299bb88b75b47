/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test input files for unit tests that read files (configuration, rules).
 * Include after <cmocka.h>.
 */
#ifndef FT_TEST_FILES_H
#define FT_TEST_FILES_H

#include <stdio.h>
#include <stdlib.h>

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

/* Run a group of tests with dir (a mkdtemp() template) created first and
 * removed after; the group's status, or 1 if dir could not be made or removed. */
static inline int
ft_test_run_in_tmpdir(const char *group, const struct CMUnitTest *tests, size_t count, char *dir)
{
	char cmd[256];
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	rc = _cmocka_run_group_tests(group, tests, count, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0 && rc == 0)
		rc = 1;
	return rc;
}
#define FT_TEST_RUN_IN_TMPDIR(tests, dir)                                                          \
	ft_test_run_in_tmpdir(#tests, tests, sizeof(tests) / sizeof((tests)[0]), dir)

#endif /* FT_TEST_FILES_H */
