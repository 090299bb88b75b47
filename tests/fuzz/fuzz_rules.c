/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the rules file parser (ft_rules_load). The input is the
 * file, handed over through a memfd. Besides crashes and sanitizer reports, it
 * aborts when a loaded rule set breaks what match.h promises: at least one
 * rule, lines increasing, IDs and names unique, names non-empty, directions
 * and port ranges valid, every rule's text and expression present; and when a
 * refusal has no message naming the file.
 */
#include <string.h>

#include "fuzz.h"
#include "match/match.h"

static void
check(const struct ft_rules *rs)
{
	CHECK(rs->count >= 1 && rs->count <= FT_RULES_MAX);
	for (unsigned i = 0; i < rs->count; i++) {
		const struct ft_rule *r = &rs->rule[i];

		CHECK(r->expr != NULL && r->text != NULL);
		CHECK(r->name[0] != '\0' && memchr(r->name, '\0', sizeof(r->name)) != NULL);
		CHECK(memchr(r->meta, '\0', sizeof(r->meta)) != NULL);
		CHECK(r->dir >= FT_RULE_DIR_FWD && r->dir <= FT_RULE_DIR_BOTH);
		CHECK(r->ports + r->nports <= rs->nports);
		for (unsigned k = 0; k < r->nports; k++)
			CHECK(rs->ports[r->ports + k].lo <= rs->ports[r->ports + k].hi);
		CHECK(i == 0 || r->line > rs->rule[i - 1].line);
		for (unsigned j = 0; j < i; j++) {
			CHECK(rs->rule[j].id != r->id);
			CHECK(strcmp(rs->rule[j].name, r->name) != 0);
		}
		CHECK(((r->hs_flags & HS_FLAG_SOM_LEFTMOST) == 0) || rs->som);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[PATH_MAX + 1024];
	struct ft_rules *rs = NULL;
	int fd = fuzz_file(data, size, path, sizeof(path));

	if (fd < 0)
		return 0;
	err[0] = '\0';
	if (ft_rules_load(path, &rs, err, sizeof(err)) == 0) {
		check(rs);
		ft_rules_free(rs);
	} else {
		CHECK(rs == NULL && strncmp(err, path, strlen(path)) == 0);
	}
	close(fd);
	return 0;
}
