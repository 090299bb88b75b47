/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of src/match: the rules parser (every error path), Hyperscan's
 * errors with file, line and rule, the database cache (reuse, and stale,
 * damaged, foreign or unwritable caches), and matching through the per-worker
 * API on hand-built flows: patterns across TCP segments, reordered,
 * retransmitted, conflicting, gaps, direction and protocol/port scopes, UDP
 * stream and block modes, the stream pool running out, depth, end-of-data
 * matches, start of match, the per-flow event limit and the flow summary.
 *
 * DPDK allocation is redirected to libc at link time (-Wl,--wrap), so no EAL.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_errno.h>

#include "match/match.h"

#include "dpdk_malloc.h"
#include "test_files.h"

static char tmpdir[] = "/tmp/ft-test-match-XXXXXX";

static const char *
write_file(const char *name, const char *text)
{
	return ft_test_write_file(tmpdir, name, text);
}

/* ---------------------------------------------------------------- parser */

static void
test_rules_valid(void **state)
{
	struct ft_rules *rs;
	char err[1024];
	const char *path = write_file("ok.rules",
				      "# a comment\n"
				      "\n"
				      "   # an indented comment\n"
				      "1:/GET \\/admin/i\n"
				      "2:/foo/bar/sm name=slash-inside dir=to_server proto=tcp,udp "
				      "port=80,8000-8080 meta=\"severity high, see /x\"\n"
				      "  3:/x{2,3}y/H{min_offset=4, max_offset=100,min_length=3} "
				      "name=ext.rule:1 # trailing comment /with/slashes\n"
				      "4:/a/L dir=to_client proto=17 port=any name=som\n"
				      "5:/b/Q\n"
				      "6:/1 & 5/C name=combo\n"
				      "4294967295:/zzz/ proto=any\n"
				      "7:/hamming/{edit_distance=1} \t meta=plain\n"
				      "8:/ham/{hamming_distance=2}\n"
				      "9:/ord/O\n");

	(void)state;
	assert_int_equal(ft_rules_load(path, &rs, err, sizeof(err)), 0);
	assert_int_equal(rs->count, 10);
	assert_int_equal(rs->rule[0].id, 1);
	assert_string_equal(rs->rule[0].expr, "GET \\/admin");
	assert_int_equal(rs->rule[0].hs_flags, HS_FLAG_CASELESS);
	assert_string_equal(rs->rule[0].name, "1"); /* default: the ID */
	assert_int_equal(rs->rule[0].dir, FT_RULE_DIR_BOTH);
	assert_true(rs->rule[0].any_proto);
	assert_int_equal(rs->rule[0].line, 4);

	assert_string_equal(rs->rule[1].expr, "foo/bar"); /* the last '/' that parses */
	assert_int_equal(rs->rule[1].hs_flags, HS_FLAG_DOTALL | HS_FLAG_MULTILINE);
	assert_string_equal(rs->rule[1].name, "slash-inside");
	assert_int_equal(rs->rule[1].dir, FT_RULE_DIR_FWD);
	assert_false(rs->rule[1].any_proto);
	assert_true(ft_rule_scope(rs, &rs->rule[1], 6, 80));
	assert_true(ft_rule_scope(rs, &rs->rule[1], 17, 8080));
	assert_true(ft_rule_scope(rs, &rs->rule[1], 6, 8000));
	assert_false(ft_rule_scope(rs, &rs->rule[1], 6, 81));
	assert_false(ft_rule_scope(rs, &rs->rule[1], 132, 80));
	assert_string_equal(rs->rule[1].meta, "severity high, see /x");

	assert_string_equal(rs->rule[2].expr, "x{2,3}y");
	assert_true(rs->rule[2].has_ext);
	assert_int_equal(rs->rule[2].ext.flags,
			 HS_EXT_FLAG_MIN_OFFSET | HS_EXT_FLAG_MAX_OFFSET | HS_EXT_FLAG_MIN_LENGTH);
	assert_int_equal(rs->rule[2].ext.min_offset, 4);
	assert_int_equal(rs->rule[2].ext.max_offset, 100);
	assert_int_equal(rs->rule[2].ext.min_length, 3);
	assert_int_equal(rs->rule[2].hs_flags, HS_FLAG_SINGLEMATCH);
	assert_string_equal(rs->rule[2].name, "ext.rule:1");

	assert_int_equal(rs->rule[3].dir, FT_RULE_DIR_REV);
	assert_int_equal(rs->rule[3].nports, 0);
	assert_true(ft_rule_scope(rs, &rs->rule[3], 17, 1));
	assert_false(ft_rule_scope(rs, &rs->rule[3], 6, 1));
	assert_true(rs->som);
	assert_int_equal(rs->rule[4].hs_flags, HS_FLAG_QUIET);
	/* Combinations refer to IDs; compiled with indices (rule 1 is index 0). */
	assert_string_equal(rs->rule[5].expr, "0 & 4");
	assert_int_equal(rs->rule[6].id, 4294967295u);
	assert_true(rs->rule[6].any_proto);
	assert_int_equal(rs->rule[7].ext.edit_distance, 1);
	assert_string_equal(rs->rule[7].meta, "plain");
	assert_int_equal(rs->rule[8].ext.hamming_distance, 2);
	assert_int_equal(rs->rule[9].hs_flags, 0);
	ft_rules_free(rs);
	ft_rules_free(NULL);
}

/* Every error names the file and line, quotes the rule, and says why. */
static void
expect_rules_error(const char *text, unsigned line, const char *what)
{
	struct ft_rules *rs = (void *)1;
	char err[1024], at[600];
	const char *path = write_file("bad.rules", text);

	assert_int_equal(ft_rules_load(path, &rs, err, sizeof(err)), -1);
	assert_null(rs);
	snprintf(at, sizeof(at), "%s:%u: ", path, line);
	if (strstr(err, at) == NULL || strstr(err, what) == NULL)
		fail_msg("error '%s' lacks '%s' or '%s'", err, at, what);
}

static void
test_rules_errors(void **state)
{
	struct ft_rules *rs;
	char err[1024];

	(void)state;
	/* The file as a whole. */
	assert_int_equal(ft_rules_load("/nonexistent/x.rules", &rs, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/x.rules: cannot open rules file"));
	assert_int_equal(
		ft_rules_load(write_file("empty.rules", "# nothing\n\n"), &rs, err, sizeof(err)),
		-1);
	assert_non_null(strstr(err, "no rules"));

	/* The signature. */
	expect_rules_error("1:/ok/\nno colon here\n", 2,
			   "rule 'no colon here': expected ID:/regex/flags");
	expect_rules_error("abc:/x/\n", 1, "'abc' is not an ID");
	expect_rules_error(":/x/\n", 1, "is not an ID");
	expect_rules_error("4294967296:/x/\n", 1, "is not an ID");
	expect_rules_error("-1:/x/\n", 1, "is not an ID");
	expect_rules_error("1:x/\n", 1, "expected '/' after the ID");
	expect_rules_error("1: /x/\n", 1, "expected '/' after the ID");
	expect_rules_error("1:/abc\n", 1, "no closing '/'");
	expect_rules_error("1:/\n", 1, "no closing '/'");
	expect_rules_error("1:/abc/iz\n", 1, "unknown flag 'z'");
	expect_rules_error("1:/abc/i{min_offset}\n", 1, "expected key=value");
	expect_rules_error("1:/abc/{max_length=3}\n", 1, "unknown key 'max_length'");
	expect_rules_error("1:/abc/{min_offset=x}\n", 1, "min_offset: 'x' is not a number");
	expect_rules_error("1:/abc/{min_offset=}\n", 1, "is not a number");
	expect_rules_error("1:/abc/{edit_distance=99999999999}\n", 1, "edit_distance");
	expect_rules_error("1:/abc/{min_offset=1 max_offset=2}\n", 1, "expected ',' or '}'");
	expect_rules_error("1:/abc/{min_offset=1;max_offset=2}\n", 1, "'1;max_offset=2' is not");
	expect_rules_error("1:/abc/{min_offset=1\n", 1, "expected ',' or '}'");
	expect_rules_error("1:/abc/{min_offset=1}x\n", 1, "expected whitespace before attributes");

	/* Attributes. */
	expect_rules_error("1:/abc/ name\n", 1, "expected attribute key=value at 'name'");
	expect_rules_error("1:/abc/ =x\n", 1, "expected attribute key=value");
	expect_rules_error("1:/abc/ colour=red\n", 1, "unknown attribute 'colour'");
	expect_rules_error("1:/abc/ a_very_long_attribute_key_indeed_x=1\n", 1,
			   "unknown attribute");
	expect_rules_error("1:/abc/ meta=\"open\n", 1, "meta: unterminated quoted value");
	expect_rules_error("1:/abc/ meta=\"a\"b\n", 1, "meta: text after the closing quote");
	expect_rules_error("1:/abc/ meta=a\"b\n", 1, "meta: a quote inside a bare value");
	expect_rules_error("1:/abc/ name=\n", 1, "name: empty value");
	expect_rules_error("1:/abc/ name=\"\"\n", 1, "name: empty value");
	expect_rules_error("1:/abc/ name=a name=b\n", 1, "attribute name given twice");
	expect_rules_error("1:/abc/ dir=both dir=both\n", 1, "attribute dir given twice");
	expect_rules_error("1:/abc/ proto=tcp proto=udp\n", 1, "attribute proto given twice");
	expect_rules_error("1:/abc/ port=1 port=2\n", 1, "attribute port given twice");
	expect_rules_error("1:/abc/ meta=a meta=b\n", 1, "attribute meta given twice");
	expect_rules_error("1:/abc/ name=has/slash\n", 1, "is not a name");
	expect_rules_error(
		"1:/abc/ name=0123456789012345678901234567890123456789012345678901234567\n", 1,
		"is not a name");
	expect_rules_error("1:/abc/ dir=sideways\n", 1,
			   "dir: 'sideways' is not one of to_server, to_client, both");
	expect_rules_error("1:/abc/ proto=tcpx\n", 1, "proto: 'tcpx' is not a protocol");
	expect_rules_error("1:/abc/ proto=256\n", 1, "proto: '256' is not a protocol");
	expect_rules_error("1:/abc/ proto=tcp,,udp\n", 1, "proto: empty or overlong item");
	expect_rules_error("1:/abc/ proto=tcp,any\n", 1, "proto: 'any' cannot be combined");
	expect_rules_error("1:/abc/ port=80,any\n", 1, "port: 'any' cannot be combined");
	expect_rules_error("1:/abc/ port=65536\n", 1, "port: '65536' is not a port");
	expect_rules_error("1:/abc/ port=http\n", 1, "port: 'http' is not a port");
	expect_rules_error("1:/abc/ port=90-80\n", 1, "port: '90-80' is not a range");
	expect_rules_error("1:/abc/ port=1-70000\n", 1, "is not a range");
	{
		char line[1024] = "1:/abc/ port=1";

		for (int i = 2; i <= 65; i++)
			sprintf(line + strlen(line), ",%d", i);
		strcat(line, "\n");
		expect_rules_error(line, 1, "port: more than 64 ports");
	}
	expect_rules_error(
		"1:/abc/ "
		"meta=\"0123456789012345678901234567890123456789012345678901234567890123\"\n",
		1, "meta: longer than 63 characters");
	{
		char line[400] = "1:/abc/ meta=\"";

		memset(line + strlen(line), 'a', 300);
		strcat(line, "\"\n");
		expect_rules_error(line, 1, "meta: value too long");
	}

	/* Across the file. */
	expect_rules_error("1:/a/\n2:/b/\n1:/c/\n", 3, "ID 1 already used at line 1");
	expect_rules_error("1:/a/ name=x\n2:/b/ name=x\n", 2, "name 'x' already used at line 1");
	expect_rules_error("5:/a/ name=6\n6:/b/\n", 2, "name '6' already used at line 1");
	expect_rules_error("1:/a/\n2:/1 & 3/C\n", 2, "combination: no rule with ID 3");

	/* Lines. */
	{
		size_t n = FT_RULE_LINE_MAX + 100;
		char *big = malloc(n + 16);

		strcpy(big, "1:/ok/\n2:/");
		memset(big + strlen(big), 'a', n);
		strcpy(big + 10 + n, "/\n");
		expect_rules_error(big, 2, "line longer than");
		free(big);
	}
	{
		const char *path = write_file("nul.rules", "");
		FILE *f = fopen(path, "w");

		fwrite("1:/a\0b/\n", 1, 8, f);
		fclose(f);
		assert_int_equal(ft_rules_load(path, &rs, err, sizeof(err)), -1);
		assert_non_null(strstr(err, ":1: NUL byte"));
	}
	{
		/* One rule too many. */
		char path[600];
		FILE *f;

		snprintf(path, sizeof(path), "%s/many.rules", tmpdir);
		f = fopen(path, "w");
		for (unsigned i = 0; i <= FT_RULES_MAX; i++)
			fprintf(f, "%u:/a/\n", i);
		fclose(f);
		assert_int_equal(ft_rules_load(path, &rs, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "more than 100000 rules"));
		unlink(path);
	}
}

/* ---------------------------------------------------------------- database */

static void
expect_compile_error(const char *text, const char *what)
{
	struct ft_rules *rs;
	struct ft_match_db *db = (void *)1;
	char err[2048];
	const char *path = write_file("hs.rules", text);

	assert_int_equal(ft_rules_load(path, &rs, err, sizeof(err)), 0);
	assert_int_equal(ft_match_db_build(rs, NULL, &db, err, sizeof(err)), -1);
	assert_null(db);
	if (strstr(err, what) == NULL || strstr(err, path) == NULL)
		fail_msg("error '%s' lacks '%s'", err, what);
	ft_rules_free(rs);
}

static void
test_hyperscan_errors(void **state)
{
	(void)state;
	/* File, line, the rule as written, and Hyperscan's own message. */
	expect_compile_error("1:/ok/\n# c\n2:/(a)\\1/ name=backref\n",
			     ":3: rule '2:/(a)\\1/ name=backref': Hyperscan: Back-references are "
			     "unsupported.");
	expect_compile_error("7:/a*/\n",
			     ":1: rule '7:/a*/': Hyperscan: Pattern matches empty buffer");
	expect_compile_error("1:/[z-a]/\n", ":1: rule '1:/[z-a]/': Hyperscan: ");
	expect_compile_error("1:/a/\n2:/b/\n3:/1 & (2/C\n", ":3: rule '3:/1 & (2/C': Hyperscan: ");
}

static struct ft_rules *
load(const char *name, const char *text)
{
	struct ft_rules *rs;
	char err[1024];

	if (ft_rules_load(write_file(name, text), &rs, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return rs;
}

static struct ft_match_db *
build(const struct ft_rules *rs, const char *cache)
{
	struct ft_match_db *db;
	char err[2048];

	if (ft_match_db_build(rs, cache, &db, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return db;
}

/* Matches of a block scan of "xxfooxxbarxx" with whatever database. */
static int
count_cb(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx)
{
	(void)from;
	(void)flags;
	((unsigned *)ctx)[id] += (unsigned)to;
	return 0;
}

static void
block_matches(const struct ft_match_db *db, unsigned out[2])
{
	out[0] = out[1] = 0;
	assert_int_equal(hs_scan(db->block, "xxfooxxbarxx", 12, 0, db->scratch, count_cb, out),
			 HS_SUCCESS);
}

static void
corrupt(const char *path, long at, uint8_t xor)
{
	FILE *f = fopen(path, "r+b");
	int c;

	assert_non_null(f);
	fseek(f, at, at < 0 ? SEEK_END : SEEK_SET);
	c = fgetc(f);
	fseek(f, -1, SEEK_CUR);
	fputc(c ^ xor, f);
	fclose(f);
}

static void
test_cache(void **state)
{
	char cache[600], path[PATH_MAX];
	struct ft_rules *rs = load("c.rules", "1:/foo/\n2:/bar/ name=b\n");
	struct ft_rules *rs2;
	struct ft_match_db *db;
	unsigned m[2];
	struct stat st;

	(void)state;
	snprintf(cache, sizeof(cache), "%s/cache/sub", tmpdir);
	/* First build compiles and writes the cache (creating the folders). */
	db = build(rs, cache);
	assert_false(db->from_cache);
	assert_string_equal(db->cache_note, "");
	assert_true(db->stream_state_bytes > 0);
	assert_true(db->stream_db_bytes > 0 && db->block_db_bytes > 0);
	snprintf(path, sizeof(path), "%s", db->cache_path);
	assert_int_equal(stat(path, &st), 0);
	block_matches(db, m);
	assert_int_equal(m[0], 5);
	assert_int_equal(m[1], 10);
	ft_match_db_free(db);

	/* Second: from the cache, same results. */
	db = build(rs, cache);
	assert_true(db->from_cache);
	assert_string_equal(db->cache_path, path);
	block_matches(db, m);
	assert_int_equal(m[0], 5);
	assert_int_equal(m[1], 10);
	ft_match_db_free(db);

	/* A name change keeps the database; a pattern change does not. */
	rs2 = load("c2.rules", "1:/foo/ name=renamed\n2:/bar/ name=b dir=to_server\n");
	db = build(rs2, cache);
	assert_true(db->from_cache);
	ft_match_db_free(db);
	ft_rules_free(rs2);
	rs2 = load("c3.rules", "1:/foo/i\n2:/bar/\n");
	db = build(rs2, cache);
	assert_false(db->from_cache);
	assert_string_not_equal(db->cache_path, path);
	ft_match_db_free(db);
	ft_rules_free(rs2);

	/* Damaged: a flipped byte in the database part. */
	corrupt(path, -10, 0x55);
	db = build(rs, cache);
	assert_false(db->from_cache);
	assert_non_null(strstr(db->cache_note, "checksum mismatch"));
	block_matches(db, m);
	assert_int_equal(m[0], 5);
	ft_match_db_free(db);
	/* ... and replaced: the next build uses it again. */
	db = build(rs, cache);
	assert_true(db->from_cache);
	ft_match_db_free(db);

	/* Foreign: another key under our file name (checksum consistent). */
	{
		FILE *f = fopen(path, "r+b");
		uint8_t hdr[40];
		uint64_t klen, total, sum = 0xcbf29ce484222325ULL;
		uint8_t *body;

		assert_int_equal(fread(hdr, 1, 40, f), 40);
		klen = 0;
		for (int i = 0; i < 8; i++)
			klen |= (uint64_t)hdr[8 + i] << (8 * i);
		fseek(f, 0, SEEK_END);
		total = (uint64_t)ftell(f) - 40;
		body = malloc(total);
		fseek(f, 40, SEEK_SET);
		assert_int_equal(fread(body, 1, total, f), total);
		body[klen / 2] ^= 1; /* e.g. another Hyperscan version or CPU */
		for (uint64_t i = 0; i < total; i++) {
			sum ^= body[i];
			sum *= 0x100000001b3ULL;
		}
		for (int i = 0; i < 8; i++)
			hdr[32 + i] = (uint8_t)(sum >> (8 * i));
		fseek(f, 0, SEEK_SET);
		fwrite(hdr, 1, 40, f);
		fwrite(body, 1, total, f);
		fclose(f);
		free(body);
	}
	db = build(rs, cache);
	assert_false(db->from_cache);
	assert_non_null(strstr(db->cache_note, "built for other rules, another Hyperscan"));
	ft_match_db_free(db);

	/* Truncated, and not a cache file at all. */
	assert_int_equal(truncate(path, 100), 0);
	db = build(rs, cache);
	assert_false(db->from_cache);
	assert_non_null(strstr(db->cache_note, "not a flowtap cache file"));
	ft_match_db_free(db);
	assert_int_equal(truncate(path, 3), 0);
	db = build(rs, cache);
	assert_non_null(strstr(db->cache_note, "not a cache file"));
	ft_match_db_free(db);
	write_file("cache/sub/junk", "x");
	{
		char cmd[2 * PATH_MAX];

		snprintf(cmd, sizeof(cmd), "cp %s/cache/sub/junk %s", tmpdir, path);
		assert_int_equal(system(cmd), 0);
	}
	db = build(rs, cache);
	assert_non_null(strstr(db->cache_note, "not a cache file"));
	ft_match_db_free(db);

	/* A cache folder that cannot be created is not an error. */
	{
		char file_as_dir[700];

		snprintf(file_as_dir, sizeof(file_as_dir), "%s/cache/sub/junk/below", tmpdir);
		db = build(rs, file_as_dir);
		assert_false(db->from_cache);
		assert_non_null(strstr(db->cache_note, "cannot create"));
		block_matches(db, m);
		assert_int_equal(m[1], 10);
		ft_match_db_free(db);
	}
	ft_rules_free(rs);
}

/* ---------------------------------------------------------------- matching */

#define MAX_EV 256

struct harness {
	struct ft_rules *rules;
	struct ft_match_db *db;
	struct ft_match *m;
	uint64_t hits[64];
	struct ft_match_record ev[MAX_EV];
	unsigned nev;
	struct ft_flow flow;
	uint32_t seq[2];
	uint64_t ts;
};

static void
emit(void *ctx, const struct ft_match_record *ev)
{
	struct harness *h = ctx;

	assert_true(h->nev < MAX_EV);
	h->ev[h->nev++] = *ev;
}

struct opts {
	uint32_t streams;
	uint64_t depth;
	enum ft_match_mode tcp, udp, other;
	enum ft_match_fallback no_stream;
	uint32_t max_events;
	uint64_t reorder_memory;
	uint32_t chunk_size, chunks;
	uint64_t chunk_delay;
	uint32_t defrag; /* datagrams; 0: fragments not scanned */
};

static struct harness *
harness(const char *rules, const struct opts *o)
{
	struct harness *h = aligned_alloc(64, sizeof(*h)); /* struct ft_flow is aligned */
	struct ft_match_params p = {
		.flows = 4,
		.streams = o->streams,
		.depth = o->depth,
		.tcp = o->tcp,
		.udp = o->udp,
		.other = o->other,
		.no_stream = o->no_stream,
		.max_events_per_flow = o->max_events,
		.chunk_size = o->chunk_size,
		.chunks = o->chunks,
		.chunk_delay_ns = o->chunk_delay,
		.reasm = {.memory = o->reorder_memory ? o->reorder_memory : 1 << 20,
			  .flow_bytes = 1 << 16,
			  .socket_id = -1},
		.defrag = {.datagrams = o->defrag, .timeout_ns = 30000000000ULL, .socket_id = -1},
		.socket_id = -1,
		.emit = emit,
	};

	memset(h, 0, sizeof(*h));
	h->rules = load("m.rules", rules);
	h->db = build(h->rules, NULL);
	p.db = h->db;
	p.emit_ctx = h;
	p.rule_hits = h->hits;
	h->m = ft_match_create(&p);
	assert_non_null(h->m);
	return h;
}

static void
harness_free(struct harness *h)
{
	ft_match_free(h->m);
	ft_match_db_free(h->db);
	ft_rules_free(h->rules);
	free(h);
}

/* A flow: 10.0.0.1:40000 (initiator) -> 10.0.0.2:port. Key endpoint 0 is the
 * initiator, so a packet's dir is its direction. */
static void
flow_init(struct harness *h, uint8_t proto, uint16_t port)
{
	memset(&h->flow, 0, sizeof(h->flow));
	h->flow.key.family = 4;
	h->flow.key.proto = proto;
	h->flow.key.addr[0][0] = 10;
	h->flow.key.addr[0][3] = 1;
	h->flow.key.addr[1][0] = 10;
	h->flow.key.addr[1][3] = 2;
	h->flow.key.port[0] = 40000;
	h->flow.key.port[1] = port;
	h->flow.id = 77;
	h->flow.flags = FT_FLOW_E_IN_USE;
	h->seq[0] = 1000;
	h->seq[1] = 0xfffffff0u; /* the reverse stream wraps early */
	h->ts = 1000;
}

static void
packet(struct harness *h, unsigned dir, uint8_t flags, uint32_t seq, const char *data, size_t len)
{
	struct ft_pkt pkt;

	memset(&pkt, 0, sizeof(pkt));
	pkt.key = h->flow.key;
	pkt.dir = (uint8_t)dir;
	pkt.tcp_seq = seq;
	pkt.tcp_ack = h->seq[dir ^ 1];
	pkt.tcp_flags = flags;
	pkt.flags = FT_PKT_F_L4_PAYLOAD;
	pkt.payload_len = (uint32_t)len;
	pkt.ts_ns = ++h->ts;
	h->flow.last_ns = pkt.ts_ns;
	ft_match_packet(h->m, &h->flow, 1, &pkt, (const uint8_t *)data);
}

/* Payload at stream offset off of direction dir (SYN at seq[dir]). */
static void
tcp(struct harness *h, unsigned dir, uint32_t off, const char *data)
{
	packet(h, dir, FT_TCP_ACK | FT_TCP_PSH, h->seq[dir] + 1 + off, data, strlen(data));
}

/* A bare ack from direction dir at its stream offset off, acknowledging the
 * other direction up to offset acked. */
static void
ack(struct harness *h, unsigned dir, uint32_t off, uint32_t acked)
{
	struct ft_pkt pkt;

	memset(&pkt, 0, sizeof(pkt));
	pkt.key = h->flow.key;
	pkt.dir = (uint8_t)dir;
	pkt.tcp_seq = h->seq[dir] + 1 + off;
	pkt.tcp_ack = h->seq[dir ^ 1] + 1 + acked;
	pkt.tcp_flags = FT_TCP_ACK;
	pkt.flags = FT_PKT_F_L4_PAYLOAD;
	pkt.ts_ns = ++h->ts;
	ft_match_packet(h->m, &h->flow, 1, &pkt, NULL);
}

static void
syn(struct harness *h)
{
	packet(h, 0, FT_TCP_SYN, h->seq[0], NULL, 0);
	packet(h, 1, FT_TCP_SYN | FT_TCP_ACK, h->seq[1], NULL, 0);
}

static void
udp(struct harness *h, unsigned dir, const char *data)
{
	packet(h, dir, 0, 0, data, strlen(data));
}

static struct ft_flow_match
end(struct harness *h)
{
	struct ft_flow_match s;

	ft_match_flow_end(h->m, &h->flow, 1, &s);
	return s;
}

static void
expect_event(const struct harness *h, unsigned i, uint32_t rule, unsigned dir, uint64_t offset)
{
	if (i >= h->nev)
		fail_msg("event %u missing (%u events)", i, h->nev);
	if (h->ev[i].rule_id != rule || h->ev[i].dir != dir || h->ev[i].offset != offset)
		fail_msg("event %u: rule %u dir %u offset %llu, want rule %u dir %u offset %llu", i,
			 h->ev[i].rule_id, h->ev[i].dir, (unsigned long long)h->ev[i].offset, rule,
			 dir, (unsigned long long)offset);
	assert_int_equal(h->ev[i].flow_id, 77);
	assert_memory_equal(&h->ev[i].key, &h->flow.key, sizeof(h->flow.key));
}

static const struct opts defaults = {.streams = 8};

/* Events at one offset come in no documented order: sort by (dir, offset, rule). */
static int
cmp_event(const void *x, const void *y)
{
	const struct ft_match_record *a = x, *b = y;

	if (a->dir != b->dir)
		return a->dir < b->dir ? -1 : 1;
	if (a->offset != b->offset)
		return a->offset < b->offset ? -1 : 1;
	return a->rule_id < b->rule_id ? -1 : a->rule_id > b->rule_id;
}

static void
sort_events(struct harness *h)
{
	qsort(h->ev, h->nev, sizeof(h->ev[0]), cmp_event);
}

static void
test_tcp_split(void **state)
{
	struct harness *h = harness("10:/EVILPAYLOAD/\n11:/GET \\/[a-z]+ HTTP/\n", &defaults);
	struct ft_flow_match s;
	struct ft_worker_counters c;

	(void)state;
	flow_init(h, 6, 80);
	syn(h);
	tcp(h, 0, 0, "xxGET /ad"); /* regex split over 3 segments */
	tcp(h, 0, 9, "min");
	tcp(h, 0, 12, " HTTP/1.1 EVIL"); /* literal over 2 */
	tcp(h, 0, 26, "PAYLOAD..");
	tcp(h, 1, 0, "..EVILPAYLOAD"); /* whole, in the wrapping direction */
	assert_int_equal(h->nev, 3);
	expect_event(h, 0, 11, 0, 17);
	assert_int_equal(h->ev[0].ts_ns, 1005); /* the packet that completed it */
	expect_event(h, 1, 10, 0, 33);
	expect_event(h, 2, 10, 1, 13);
	assert_int_equal(h->ev[0].flags, 0);
	assert_int_equal(h->ev[0].initiator, 0);
	assert_int_equal(h->hits[0], 2);
	assert_int_equal(h->hits[1], 1);
	ft_match_counters(h->m, &c);
	assert_int_equal(c.match_streams_used, 2);
	s = end(h);
	assert_int_equal(s.events, 3);
	assert_int_equal(s.nrules, 2);
	assert_int_equal(s.rules[0], 11);
	assert_int_equal(s.rules[1], 10);
	assert_int_equal(s.scanned_bytes[0], 35);
	assert_int_equal(s.scanned_bytes[1], 13);
	assert_int_equal(s.dir_flags[0], FT_FLOW_MATCH_D_STREAM);
	ft_match_counters(h->m, &c);
	assert_int_equal(c.match_streams_used, 0);
	assert_int_equal(c.match_scanned_bytes, 48);
	assert_int_equal(c.match_events, 3);
	/* The index starts clean for the next flow. */
	h->nev = 0;
	flow_init(h, 6, 80);
	syn(h);
	tcp(h, 0, 0, "PAYLOAD");
	assert_int_equal(h->nev, 0);
	s = end(h);
	assert_int_equal(s.events, 0);
	harness_free(h);
}

static void
test_tcp_reorder_retransmit(void **state)
{
	struct harness *h = harness("3:/EVILPAYLOAD/\n", &defaults);
	struct ft_flow_match s;
	struct ft_worker_counters c;

	(void)state;
	flow_init(h, 6, 8080);
	syn(h);
	tcp(h, 0, 0, "aaaa");
	tcp(h, 0, 8, "PAYLOAD"); /* reordered: after the next one */
	tcp(h, 0, 4, "EVIL");
	tcp(h, 0, 4, "EVILPAYLOAD"); /* retransmitted whole: not again */
	tcp(h, 0, 0, "aaaaEVILPAY"); /* and partly */
	assert_int_equal(h->nev, 1);
	expect_event(h, 0, 3, 0, 15);
	/* Conflicting retransmission carrying the pattern: first copy wins. */
	tcp(h, 0, 15, "bbbbbbbbbbb");
	tcp(h, 0, 15, "EVILPAYLOAD");
	assert_int_equal(h->nev, 1);
	/* Reordered copy of held bytes with other content: the held one wins. */
	tcp(h, 0, 30, "PAYLOADzz");
	tcp(h, 0, 30, "xxxxxxxxx");
	tcp(h, 0, 26, "EVIL");
	assert_int_equal(h->nev, 2);
	expect_event(h, 1, 3, 0, 37);
	ft_match_counters(h->m, &c);
	assert_int_equal(c.reasm_retrans_bytes, 11 + 11 + 11 + 9);
	assert_int_equal(c.reasm_held_bytes, 7 + 9);
	s = end(h);
	assert_int_equal(s.scanned_bytes[0], 39);
	assert_int_equal(s.gaps[0], 0);
	harness_free(h);
}

static void
test_tcp_gap(void **state)
{
	struct harness *h = harness("3:/EVILPAYLOAD/\n", &defaults);
	struct ft_flow_match s;

	(void)state;
	flow_init(h, 6, 80);
	syn(h);
	tcp(h, 1, 0, "xxEVIL");
	/* "PAY" never captured: the pattern straddles a gap. */
	tcp(h, 1, 9, "LOAD..EVILPAYLOAD");
	assert_int_equal(h->nev, 0);
	/* The client acknowledges everything: the hole is given up. */
	packet(h, 0, FT_TCP_ACK, h->seq[0] + 1, NULL, 0);
	ack(h, 0, 0, 26); /* beyond the hole */
	assert_int_equal(h->nev, 1);
	expect_event(h, 0, 3, 1, 26); /* offsets keep counting across the gap */
	/* A held pattern after another hole, given up at the flow's end. */
	tcp(h, 1, 40, "EVILPAYLOAD");
	assert_int_equal(h->nev, 1);
	s = end(h);
	assert_int_equal(h->nev, 2);
	expect_event(h, 1, 3, 1, 51);
	assert_int_equal(h->ev[1].ts_ns, h->flow.last_ns);
	assert_int_equal(s.gaps[1], 2);
	assert_int_equal(s.gap_bytes[1], 3 + 14);
	assert_int_equal(s.scanned_bytes[1], 6 + 17 + 11);
	harness_free(h);
}

/* Bytes the reorder memory had no room for (the receiver's acks seen, so they
 * are dropped rather than holes skipped) are in the flow's summary, per
 * direction and per record. */
static void
test_tcp_dropped(void **state)
{
	struct opts o = defaults;
	struct harness *h;
	struct ft_flow_match s;
	struct ft_worker_counters c;

	(void)state;
	o.reorder_memory = 2 * 512; /* two hold slots */
	h = harness("3:/EVILPAYLOAD/\n", &o);
	flow_init(h, 6, 80);
	syn(h);			  /* the server's SYN+ACK: the client's receiver is seen */
	tcp(h, 0, 100, "aaaa");	  /* held */
	tcp(h, 0, 200, "bbbb");	  /* held */
	tcp(h, 0, 300, "cccccc"); /* no slot left, nothing held beyond it: dropped */
	ft_match_flow_segment(h->m, 1, &s);
	assert_int_equal(s.dropped_bytes[0], 6);
	assert_int_equal(s.dropped_bytes[1], 0);
	tcp(h, 0, 400, "dd");
	tcp(h, 1, 0, "response");
	s = end(h);
	assert_int_equal(s.dropped_bytes[0], 2); /* this record's only */
	assert_int_equal(s.dropped_bytes[1], 0);
	assert_int_equal(s.scanned_bytes[0], 8);
	assert_int_equal(s.gap_bytes[0], 100 + 96); /* given up at the end */
	ft_match_counters(h->m, &c);
	assert_int_equal(c.reasm_dropped_bytes, 6 + 2);
	harness_free(h);
}

static void
test_scopes(void **state)
{
	struct harness *h = harness("1:/abc/ dir=to_server\n"
				    "2:/abc/ dir=to_client name=rev\n"
				    "3:/abc/ proto=udp\n"
				    "4:/abc/ port=80,443\n"
				    "5:/abc/ port=1000-2000 proto=tcp\n",
				    &defaults);

	(void)state;
	flow_init(h, 6, 443);
	syn(h);
	tcp(h, 0, 0, "abc");
	tcp(h, 1, 0, "abc");
	sort_events(h);
	assert_int_equal(h->nev, 4);
	expect_event(h, 0, 1, 0, 3);
	expect_event(h, 1, 4, 0, 3);
	expect_event(h, 2, 2, 1, 3);
	expect_event(h, 3, 4, 1, 3);
	end(h);
	/* The server port is the responder's, whichever endpoint sorts first. */
	h->nev = 0;
	flow_init(h, 6, 1500);
	h->flow.key.port[0] = 1500;
	h->flow.key.port[1] = 40000;
	h->flow.flags |= FT_FLOW_E_INITIATOR_HI;
	packet(h, 1, FT_TCP_SYN, h->seq[0], NULL, 0); /* endpoint 1 initiates: dir fwd */
	packet(h, 1, FT_TCP_ACK, h->seq[0] + 1, "abc", 3);
	sort_events(h);
	assert_int_equal(h->nev, 2);
	expect_event(h, 0, 1, 0, 3);
	expect_event(h, 1, 5, 0, 3);
	assert_int_equal(h->ev[0].initiator, 1);
	end(h);
	harness_free(h);
}

static void
test_udp_modes(void **state)
{
	struct opts o = defaults;
	struct harness *h = harness("11:/X-Token: 0123/\n", &o);
	struct ft_flow_match s;

	(void)state;
	flow_init(h, 17, 5000);
	udp(h, 0, "..X-To");
	udp(h, 0, "ken: ");
	udp(h, 0, "0123..X-Token: 0123");
	assert_int_equal(h->nev, 2);
	expect_event(h, 0, 11, 0, 15);
	expect_event(h, 1, 11, 0, 30);
	s = end(h);
	assert_int_equal(s.dir_flags[0], FT_FLOW_MATCH_D_STREAM);
	harness_free(h);

	o.udp = FT_MATCH_BLOCK;
	h = harness("11:/X-Token: 0123/\n", &o);
	flow_init(h, 17, 5000);
	udp(h, 0, "..X-To");
	udp(h, 0, "ken: ");
	udp(h, 0, "0123..X-Token: 0123");
	assert_int_equal(h->nev, 1); /* only the one inside a datagram */
	expect_event(h, 0, 11, 0, 30);
	assert_int_equal(h->ev[0].flags, FT_MATCH_EV_F_BLOCK);
	s = end(h);
	assert_int_equal(s.dir_flags[0], FT_FLOW_MATCH_D_BLOCK);
	harness_free(h);

	o.udp = FT_MATCH_OFF;
	h = harness("11:/X-Token: 0123/\n", &o);
	flow_init(h, 17, 5000);
	udp(h, 0, "X-Token: 0123");
	assert_int_equal(h->nev, 0);
	{
		struct ft_worker_counters c;

		ft_match_counters(h->m, &c);
		assert_int_equal(c.match_off_bytes, 13);
	}
	end(h);
	harness_free(h);
}

static void
test_pool_exhausted(void **state)
{
	struct opts o = defaults;
	struct harness *h;
	struct ft_worker_counters c;
	struct ft_flow_match s;

	(void)state;
	o.streams = 1;
	h = harness("3:/EVILPAYLOAD/\n", &o);
	flow_init(h, 6, 80);
	syn(h);
	tcp(h, 0, 0, "EVIL");	      /* takes the only state */
	tcp(h, 1, 0, "EVIL");	      /* none left: block mode, in sequence order */
	tcp(h, 1, 4, "PAYLOAD");      /* split: missed */
	tcp(h, 1, 11, "EVILPAYLOAD"); /* whole in a segment: found */
	tcp(h, 0, 4, "PAYLOAD");
	assert_int_equal(h->nev, 2);
	expect_event(h, 0, 3, 1, 22);
	assert_int_equal(h->ev[0].flags, FT_MATCH_EV_F_BLOCK);
	expect_event(h, 1, 3, 0, 11);
	ft_match_counters(h->m, &c);
	assert_int_equal(c.match_no_stream, 1);
	s = end(h);
	assert_int_equal(s.dir_flags[1], FT_FLOW_MATCH_D_BLOCK | FT_FLOW_MATCH_D_NO_STATE);
	harness_free(h);

	o.no_stream = FT_MATCH_FALLBACK_SKIP;
	o.streams = 0;
	h = harness("3:/EVILPAYLOAD/\n", &o);
	flow_init(h, 6, 80);
	syn(h);
	tcp(h, 0, 0, "EVILPAYLOAD");
	tcp(h, 0, 20, "LATER"); /* out of order: not held, as never scanned */
	assert_int_equal(h->nev, 0);
	ft_match_counters(h->m, &c);
	assert_int_equal(c.match_no_stream_bytes, 16);
	assert_int_equal(c.match_scanned_bytes, 0);
	assert_int_equal(c.reasm_held_segments, 0);
	s = end(h);
	assert_int_equal(s.dir_flags[0], FT_FLOW_MATCH_D_NO_STATE);
	harness_free(h);
}

static void
test_depth(void **state)
{
	struct opts o = defaults;
	struct harness *h;
	struct ft_worker_counters c;
	struct ft_flow_match s;

	(void)state;
	o.depth = 20;
	h = harness("3:/EVILPAYLOAD/\n", &o);
	flow_init(h, 6, 80);
	syn(h);
	tcp(h, 0, 0, "EVILPAYLOAD");  /* 0-11 */
	tcp(h, 0, 11, "EVILPAYLOAD"); /* 11-22: ends past the depth */
	tcp(h, 0, 22, "EVILPAYLOAD");
	assert_int_equal(h->nev, 1);
	ft_match_counters(h->m, &c);
	assert_int_equal(c.match_depth_reached, 1);
	assert_int_equal(c.match_depth_bytes, 2 + 11);
	assert_int_equal(c.match_streams_used, 0); /* given back at the depth */
	s = end(h);
	assert_int_equal(s.scanned_bytes[0], 20);
	assert_true(s.dir_flags[0] & FT_FLOW_MATCH_D_DEPTH);
	harness_free(h);
}

/* Chunked scanning: short pieces wait in a buffer; everything that ends a
 * buffer scans it first, with the events' offsets and the bytes' counts as if
 * each piece had been scanned when it came. */
static void
test_chunks(void **state)
{
	struct opts o = defaults;
	struct harness *h;
	struct ft_worker_counters c;
	struct ft_flow_match s;

	(void)state;
	o.chunk_size = 32;
	o.chunks = 2;
	o.chunk_delay = 100;
	o.depth = 90;
	h = harness("3:/EVILPAYLOAD/\n", &o);
	flow_init(h, 6, 80);
	syn(h);
	tcp(h, 0, 0, "xxEVIL");	     /* 0-6: into a buffer */
	tcp(h, 0, 6, "PAYLOADyy");   /* 6-15: the pattern ends at 13 */
	tcp(h, 1, 0, "EVILPAYLOAD"); /* the other direction's own buffer */
	ft_match_counters(h->m, &c);
	assert_int_equal(h->nev, 0); /* nothing scanned yet */
	assert_int_equal(c.match_scanned_bytes, 0);
	assert_int_equal(c.match_chunks, 2);
	assert_int_equal(c.match_chunks_used, 2);
	assert_int_equal(c.match_chunk_bytes, 15 + 11);
	tcp(h, 0, 15, "0123456789abcdefghijk"); /* 15-36: does not fit, scans 0-15 */
	assert_int_equal(h->nev, 1);
	expect_event(h, 0, 3, 0, 13);
	assert_int_equal(h->ev[0].ts_ns, h->flow.last_ns); /* found now */
	ft_match_counters(h->m, &c);
	assert_int_equal(c.match_scanned_bytes, 15);
	/* Both buffers taken: a third direction's piece is scanned at once. */
	{
		struct ft_flow other = h->flow;
		struct ft_pkt pkt;

		other.key.port[0] = 40001;
		other.id = 78;
		memset(&pkt, 0, sizeof(pkt));
		pkt.key = other.key;
		pkt.flags = FT_PKT_F_L4_PAYLOAD;
		pkt.payload_len = 11;
		pkt.ts_ns = ++h->ts;
		ft_match_packet(h->m, &other, 2, &pkt, (const uint8_t *)"EVILPAYLOAD");
		assert_int_equal(h->nev, 2);
		assert_int_equal(h->ev[1].flow_id, 78);
		ft_match_counters(h->m, &c);
		assert_int_equal(c.match_chunk_pool_empty, 1);
		assert_int_equal(c.match_chunk_bytes, 21 + 11);
		ft_match_flow_end(h->m, &other, 2, &s);
	}
	/* A buffer waits chunk_delay at most: ft_match_tick() scans it with its
	 * flow's last packet time. Direction 1's buffer is 5 ns old here. */
	assert_int_equal(ft_match_tick(h->m, h->ts), 0);
	h->flow.last_ns = h->ts + 7;
	assert_int_equal(ft_match_tick(h->m, h->ts + 200), 2); /* oldest first */
	assert_int_equal(h->nev, 3);
	expect_event(h, 2, 3, 1, 11);
	assert_int_equal(h->ev[2].ts_ns, h->ts + 7);
	ft_match_counters(h->m, &c);
	assert_int_equal(c.match_scanned_bytes, 15 + 11 + 21 + 11);
	/* A piece that comes after the delay scans the buffer first; the pattern
	 * it completes waits in the next buffer. */
	tcp(h, 0, 36, "EVILPAY");
	h->ts += 200;
	tcp(h, 0, 43, "LOAD");
	ft_match_counters(h->m, &c);
	assert_int_equal(c.match_scanned_bytes, 15 + 11 + 21 + 11 + 7);
	assert_int_equal(h->nev, 3);
	/* A gap scans the buffer before the stream restarts after it. */
	tcp(h, 0, 47, "EVILPAYLOAD"); /* 47-58 */
	tcp(h, 0, 60, "zz");	      /* held: 58-60 missing */
	ack(h, 1, 11, 62); /* the hole is acked: given up */
	assert_int_equal(h->nev, 5);
	expect_event(h, 3, 3, 0, 47);
	expect_event(h, 4, 3, 0, 58);
	/* The depth (90) scans the buffer before the stream is given back. */
	tcp(h, 0, 62, "EVILPAYLOAD");		/* 62-73 */
	tcp(h, 0, 73, "EVILPAYLOAD0123456789"); /* 73-94: cut at 90 */
	assert_int_equal(h->nev, 7);
	expect_event(h, 5, 3, 0, 73);
	expect_event(h, 6, 3, 0, 84);
	ft_match_counters(h->m, &c);
	assert_int_equal(c.match_depth_reached, 1);
	assert_int_equal(c.match_depth_bytes, 4);
	/* The flow's end scans what is left, before end-of-data. */
	tcp(h, 1, 11, "EVILPAYLOAD");
	assert_int_equal(h->nev, 7);
	s = end(h);
	assert_int_equal(h->nev, 8);
	expect_event(h, 7, 3, 1, 22);
	assert_int_equal(s.scanned_bytes[0], 90 - 2);
	assert_int_equal(s.scanned_bytes[1], 22);
	assert_int_equal(s.gap_bytes[0], 2);
	ft_match_counters(h->m, &c);
	assert_int_equal(c.match_scanned_bytes, 90 - 2 + 22 + 11);
	assert_int_equal(c.match_streams_used, 0);
	assert_int_equal(c.match_chunks_used, 0);
	assert_int_equal(c.match_chunk_bytes, 0);
	harness_free(h);
}

static void
test_eod_som_limit(void **state)
{
	struct opts o = defaults;
	struct harness *h;
	struct ft_flow_match s;
	struct ft_worker_counters c;

	(void)state;
	o.max_events = 2;
	h = harness("1:/end$/ name=eod\n2:/a+b/L name=som\n3:/x/\n", &o);
	flow_init(h, 6, 80);
	syn(h);
	tcp(h, 0, 0, "..aa");
	tcp(h, 0, 4, "ab..end");
	assert_int_equal(h->nev, 1);
	expect_event(h, 0, 2, 0, 6);
	assert_int_equal(h->ev[0].start, 2);
	assert_int_equal(h->ev[0].flags, FT_MATCH_EV_F_SOM);
	s = end(h);
	assert_int_equal(h->nev, 2);
	expect_event(h, 1, 1, 0, 11);
	assert_int_equal(h->ev[1].flags, FT_MATCH_EV_F_EOD);
	assert_int_equal(s.events, 2);
	/* Three "x": two exported, the third counted and flagged. */
	h->nev = 0;
	flow_init(h, 17, 53);
	udp(h, 0, "xxx");
	assert_int_equal(h->nev, 2);
	s = end(h);
	assert_int_equal(s.events, 3);
	assert_true(s.flags & FT_FLOW_MATCH_F_SUPPRESSED);
	assert_int_equal(h->hits[2], 3);
	ft_match_counters(h->m, &c);
	assert_int_equal(c.match_events_suppressed, 1);
	assert_int_equal(c.match_events, 5);
	harness_free(h);
}

static void
test_more_rules_and_fragments(void **state)
{
	struct harness *h = harness("1:/a/\n2:/b/\n3:/c/\n4:/d/\n5:/e/\n", &defaults);
	struct ft_flow_match s;
	struct ft_worker_counters c;
	struct ft_pkt pkt;

	(void)state;
	flow_init(h, 17, 53);
	udp(h, 1, "edcba");
	s = end(h);
	assert_int_equal(s.nrules, 4);
	assert_int_equal(s.rules[0], 5);
	assert_int_equal(s.rules[3], 2);
	assert_true(s.flags & FT_FLOW_MATCH_F_MORE_RULES);
	/* Fragments are not scanned: counted. */
	flow_init(h, 17, 53);
	memset(&pkt, 0, sizeof(pkt));
	pkt.flags = FT_PKT_F_FRAGMENT | FT_PKT_F_L4_PAYLOAD;
	pkt.payload_len = 5;
	h->nev = 0;
	ft_match_packet(h->m, &h->flow, 1, &pkt, (const uint8_t *)"abcde");
	assert_int_equal(h->nev, 0);
	ft_match_counters(h->m, &c);
	assert_int_equal(c.match_fragment_bytes, 5);
	end(h);
	harness_free(h);
}

/* A UDP fragment of the harness's flow: its datagram bytes [off, off + len),
 * the first fragment (off 0) an 8-byte UDP header, then data. */
static void
udp_fragment(struct harness *h, uint32_t off, const char *data, bool more)
{
	uint8_t bytes[64] = {0x9c, 0x40, 0x00, 0x35}; /* 40000 -> 53 */
	struct ft_pkt pkt;

	memset(&pkt, 0, sizeof(pkt));
	pkt.key = h->flow.key;
	pkt.frag_id = 9;
	pkt.flags = FT_PKT_F_FRAGMENT | (more ? FT_PKT_F_MORE_FRAGS : 0);
	if (off == 0) {
		pkt.flags |= FT_PKT_F_L4_PAYLOAD;
		pkt.l4_offset = 34;
		pkt.payload_offset = 42;
	} else {
		pkt.flags |= FT_PKT_F_LATER_FRAG;
		pkt.key.port[0] = pkt.key.port[1] = 0; /* unattributed: another flow */
		pkt.frag_offset = (uint16_t)(off / 8);
		pkt.payload_offset = 34;
	}
	pkt.payload_len = pkt.payload_ip_len = (uint32_t)strlen(data);
	pkt.ts_ns = ++h->ts;
	memcpy(bytes + (off == 0 ? 8 : 0), data, pkt.payload_len);
	ft_match_packet(h->m, &h->flow, off == 0 ? 1 : 2, &pkt, bytes);
}

/* With defragmentation, a pattern split across fragments is found once, in
 * the first fragment's flow, at its offset; a datagram whose flow ended is
 * counted, not scanned. */
static void
test_fragments_defragmented(void **state)
{
	struct opts o = defaults;
	struct harness *h;
	struct ft_worker_counters c;
	struct ft_flow_match s;

	(void)state;
	o.defrag = 4;
	h = harness("1:/SPLITPATTERN/\n", &o);
	flow_init(h, 17, 53);
	udp(h, 0, "hello ");
	/* The later fragment first: it waits, nothing is scanned. */
	udp_fragment(h, 16, "PATTERNz", false);
	assert_int_equal(h->nev, 0);
	udp_fragment(h, 0, "abcSPLIT", true);
	assert_int_equal(h->nev, 1);
	assert_int_equal(h->ev[0].rule_id, 1);
	assert_int_equal(h->ev[0].flow_id, 77);
	assert_int_equal(h->ev[0].offset, 6 + 15); /* after "hello " */
	assert_int_equal(h->ev[0].dir, 0);
	s = end(h);
	assert_int_equal(s.scanned_bytes[0], 6 + 16);
	ft_match_counters(h->m, &c);
	assert_int_equal(c.defrag_datagrams, 1);
	assert_int_equal(c.defrag_fragments, 2);
	assert_int_equal(c.match_fragment_bytes, 0);

	/* First fragment in flow 77, which ends; the rest comes in flow 78. */
	flow_init(h, 17, 53);
	udp_fragment(h, 0, "abcSPLIT", true);
	end(h);
	flow_init(h, 17, 53);
	h->flow.id = 78;
	h->nev = 0;
	udp_fragment(h, 16, "PATTERNz", false);
	assert_int_equal(h->nev, 0);
	ft_match_counters(h->m, &c);
	assert_int_equal(c.defrag_flow_ended, 1);
	assert_int_equal(c.match_fragment_bytes, 16);

	/* Incomplete at the end of input: given up, counted. */
	udp_fragment(h, 0, "abcSPLIT", true);
	ft_match_input_end(h->m);
	ft_match_counters(h->m, &c);
	assert_int_equal(c.defrag_end, 1);
	assert_int_equal(c.match_fragment_bytes, 24);
	assert_int_equal(c.defrag_held_bytes, 0);
	end(h);
	harness_free(h);
}

/* Active timeouts: a record per segment; the streams go on across them. */
static void
test_segments(void **state)
{
	struct harness *h = harness("3:/EVILPAYLOAD/\n4:/abc/\n", &defaults);
	struct ft_flow_match s;
	struct ft_worker_counters c;

	(void)state;
	flow_init(h, 6, 80);
	syn(h);
	tcp(h, 0, 0, "abc..EVIL");
	ft_match_flow_segment(h->m, 1, &s);
	assert_int_equal(s.events, 1);
	assert_int_equal(s.nrules, 1);
	assert_int_equal(s.rules[0], 4);
	assert_int_equal(s.scanned_bytes[0], 9);
	assert_int_equal(s.dir_flags[0], FT_FLOW_MATCH_D_STREAM);
	ft_match_counters(h->m, &c);
	assert_int_equal(c.match_streams_used, 1); /* still the flow's */
	tcp(h, 0, 9, "PAYLOAD");		   /* across the segment boundary */
	tcp(h, 1, 0, "abc");
	s = end(h);
	assert_int_equal(h->nev, 3);
	expect_event(h, 1, 3, 0, 16);
	assert_int_equal(s.events, 2);
	assert_int_equal(s.nrules, 2);
	assert_int_equal(s.rules[0], 3);
	assert_int_equal(s.scanned_bytes[0], 7);
	assert_int_equal(s.scanned_bytes[1], 3);
	harness_free(h);
}

static void
test_create_args(void **state)
{
	struct harness *h = harness("1:/a/\n", &defaults);
	struct ft_match_params p = {
		.db = h->db, .flows = 1, .emit = emit, .rule_hits = h->hits, .socket_id = -1};

	(void)state;
	p.flows = 0;
	assert_null(ft_match_create(&p));
	assert_int_equal(rte_errno, EINVAL);
	p.flows = 1;
	p.emit = NULL;
	assert_null(ft_match_create(&p));
	p.emit = emit;
	p.rule_hits = NULL;
	assert_null(ft_match_create(&p));
	p.rule_hits = h->hits;
	p.udp = 7;
	assert_null(ft_match_create(&p));
	p.udp = FT_MATCH_STREAM;
	p.reasm.memory = 4096; /* with flow_bytes 0: the reassembler refuses */
	assert_null(ft_match_create(&p));
	p.reasm.memory = 0;
	p.streams = 3;
	ft_match_free(ft_match_create(&p));
	assert_true(ft_match_memory(&p) > 3 * h->db->stream_state_bytes);
	ft_match_free(NULL);
	harness_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules_valid),
		cmocka_unit_test(test_rules_errors),
		cmocka_unit_test(test_hyperscan_errors),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_tcp_split),
		cmocka_unit_test(test_tcp_reorder_retransmit),
		cmocka_unit_test(test_tcp_gap),
		cmocka_unit_test(test_tcp_dropped),
		cmocka_unit_test(test_scopes),
		cmocka_unit_test(test_udp_modes),
		cmocka_unit_test(test_pool_exhausted),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_chunks),
		cmocka_unit_test(test_eod_som_limit),
		cmocka_unit_test(test_more_rules_and_fragments),
		cmocka_unit_test(test_fragments_defragmented),
		cmocka_unit_test(test_segments),
		cmocka_unit_test(test_create_args),
	};

	return FT_TEST_RUN_IN_TMPDIR(tests, tmpdir);
}
