/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowtap-rules: check and compile a rules file as flowtap would, and print
 * what it costs; optionally measure Hyperscan's raw block-mode throughput over
 * the payloads of a capture (the ceiling tools/bench/match.sh compares flowtap
 * with).
 *
 *   flowtap-rules [--cache-dir DIR] [--bench PCAP [--seconds S]] RULES
 *
 * Exit status: 0 valid, 1 a capture or system error, 2 a bad rules file (the
 * message names the file, the line, the rule and Hyperscan's message).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "common/common.h"
#include "match.h"

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: flowtap-rules [options] RULES\n"
		"\n"
		"Check and compile a rules file (Hyperscan signatures with flowtap's\n"
		"attributes, see config/rules/README.md) for stream and block mode, and print\n"
		"the databases' sizes, the stream state per flow direction and the compile time.\n"
		"\n"
		"  -c, --cache-dir DIR   use (and fill) flowtap's database cache in DIR\n"
		"  -b, --bench PCAP      then scan the L4 payload of every packet of PCAP in block\n"
		"                        mode, repeatedly, and print the throughput\n"
		"  -s, --seconds S       how long to scan (default 5)\n"
		"  -h, --help            this text\n"
		"\n"
		"Exit status: 0 valid, 1 capture or system error, 2 bad rules.\n");
}

struct payloads {
	uint8_t *bytes;
	uint32_t *off; /* n + 1 offsets into bytes */
	size_t n, cap, len, bytes_cap;
};

static int
add_payload(struct payloads *p, const uint8_t *data, uint32_t len)
{
	if (p->n + 2 > p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 65536;
		uint32_t *no = realloc(p->off, nc * sizeof(*no));

		if (no == NULL)
			return -1;
		p->off = no;
		p->cap = nc;
	}
	if (p->len + len > p->bytes_cap) {
		size_t nc = p->bytes_cap ? p->bytes_cap * 2 : (1 << 24);
		uint8_t *nb;

		while (nc < p->len + len)
			nc *= 2;
		if (nc > UINT32_MAX)
			return -1;
		nb = realloc(p->bytes, nc);
		if (nb == NULL)
			return -1;
		p->bytes = nb;
		p->bytes_cap = nc;
	}
	memcpy(p->bytes + p->len, data, len);
	p->off[p->n++] = (uint32_t)p->len;
	p->len += len;
	p->off[p->n] = (uint32_t)p->len;
	return 0;
}

/* Every packet's L4 payload, as flowtap's parser finds it (IP fragments are
 * left out, as flowtap does not scan them). */
static int
read_payloads(const char *path, struct payloads *p)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *pc = pcap_open_offline(path, errbuf);
	int link, rc;

	if (pc == NULL) {
		fprintf(stderr, "flowtap-rules: %s: %s\n", path, errbuf);
		return -1;
	}
	link = pcap_datalink(pc);
	if (!ft_parse_link_supported((uint32_t)link)) {
		fprintf(stderr, "flowtap-rules: %s: link type %d is not supported\n", path, link);
		pcap_close(pc);
		return -1;
	}
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
		struct ft_pkt pkt;

		if (ft_parse(data, h->caplen, (enum ft_link_type)link, &pkt) != 0 ||
		    pkt.payload_len == 0 || (pkt.flags & FT_PKT_F_FRAGMENT))
			continue;
		if (add_payload(p, data + pkt.payload_offset, pkt.payload_len) != 0) {
			fprintf(stderr, "flowtap-rules: %s: out of memory\n", path);
			pcap_close(pc);
			return -1;
		}
	}
	if (rc == -1)
		fprintf(stderr, "flowtap-rules: %s: %s (using what was read)\n", path,
			pcap_geterr(pc));
	pcap_close(pc);
	return 0;
}

static int
count_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
	    void *ctx)
{
	(void)id;
	(void)from;
	(void)to;
	(void)flags;
	(*(uint64_t *)ctx)++;
	return 0;
}

static int
bench(const struct ft_match_db *db, const char *pcap, double seconds)
{
	struct payloads p = {0};
	uint64_t t0, t, passes = 0, matches = 0, bytes = 0;
	int rc = 1;

	if (read_payloads(pcap, &p) != 0)
		goto out;
	if (p.n == 0) {
		fprintf(stderr, "flowtap-rules: %s: no packet with payload\n", pcap);
		goto out;
	}
	t0 = ft_mono_ns();
	do {
		for (size_t i = 0; i < p.n; i++) {
			if (hs_scan(db->block, (const char *)p.bytes + p.off[i],
				    p.off[i + 1] - p.off[i], 0, db->scratch, count_match,
				    &matches) != HS_SUCCESS) {
				fprintf(stderr, "flowtap-rules: hs_scan failed\n");
				goto out;
			}
		}
		passes++;
		t = ft_mono_ns() - t0;
	} while ((double)t < seconds * 1e9);
	bytes = passes * p.len;
	printf("block scan: %zu packets, %zu payload bytes, %" PRIu64 " passes in %.2f s\n", p.n,
	       p.len, passes, (double)t / 1e9);
	printf("block scan throughput: %.1f MB/s (%.2f Gbit/s), %.1f ns per packet, %" PRIu64
	       " matches per pass\n",
	       (double)bytes * 1e3 / (double)t, (double)bytes * 8 / (double)t,
	       (double)t / (double)(passes * p.n), matches / passes);
	rc = 0;
out:
	free(p.bytes);
	free(p.off);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"cache-dir", required_argument, NULL, 'c'}, {"bench", required_argument, NULL, 'b'},
		{"seconds", required_argument, NULL, 's'},   {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *cache = NULL, *pcap = NULL;
	double seconds = 5;
	struct ft_rules *rules;
	struct ft_match_db *db;
	char err[PATH_MAX + 1024];
	unsigned nsom = 0, next = 0;
	size_t scratch = 0;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:b:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cache = optarg;
			break;
		case 'b':
			pcap = optarg;
			break;
		case 's':
			seconds = atof(optarg);
			if (seconds <= 0) {
				fprintf(stderr, "flowtap-rules: --seconds: '%s' is not a positive number\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	if (ft_rules_load(argv[optind], &rules, err, sizeof(err)) != 0 ||
	    ft_match_db_build(rules, cache, &db, err, sizeof(err)) != 0) {
		fprintf(stderr, "flowtap-rules: %s\n", err);
		return 2;
	}
	for (unsigned i = 0; i < rules->count; i++) {
		nsom += (rules->rule[i].hs_flags & HS_FLAG_SOM_LEFTMOST) != 0;
		next += rules->rule[i].has_ext;
	}
	hs_scratch_size(db->scratch, &scratch);
	printf("rules: %u in %s (%u with start of match, %u with extended parameters)\n",
	       rules->count, rules->path, nsom, next);
	if (db->from_cache)
		printf("loaded from cache %s in %.3f ms\n", db->cache_path, db->build_ns / 1e6);
	else
		printf("compile time: %.1f ms (stream and block mode)%s%s\n", db->build_ns / 1e6,
		       db->cache_path[0] ? ", cached in " : "", db->cache_path);
	if (db->cache_note[0] != '\0')
		printf("cache: %s\n", db->cache_note);
	printf("stream database: %zu bytes\n", db->stream_db_bytes);
	printf("block database: %zu bytes\n", db->block_db_bytes);
	printf("stream state: %zu bytes per flow direction\n", db->stream_state_bytes);
	printf("scratch: %zu bytes per worker\n", scratch);
	rc = pcap != NULL ? bench(db, pcap, seconds) : 0;
	ft_match_db_free(db);
	ft_rules_free(rules);
	return rc;
}
