/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowtap-rules: check and compile a rules file as flowtap would, and print
 * what it costs; optionally measure Hyperscan's raw block-mode throughput over
 * the payloads of a capture (the ceiling tools/bench/match.sh compares flowtap
 * with).
 *
 *   flowtap-rules [--cache-dir DIR] [--bench PCAP [--seconds S]] RULES
 *
 * The bench also scans the same payloads in stream mode, one stream per flow
 * direction in capture order (no reassembly): what Hyperscan's stream mode
 * costs on this traffic before any of flowtap's own work.
 *
 * Exit status: 0 valid, 1 a capture or system error, 2 a bad rules file (the
 * message names the file, the line, the rule and Hyperscan's message).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
		"  -b, --bench PCAP      then scan the L4 payload of every packet of PCAP in "
		"block\n"
		"                        mode, repeatedly, and print the throughput\n"
		"  -s, --seconds S       how long to scan (default 5)\n"
		"  -h, --help            this text\n"
		"\n"
		"Exit status: 0 valid, 1 capture or system error, 2 bad rules.\n");
}

struct payloads {
	uint8_t *bytes;
	uint32_t *off;	  /* n + 1 offsets into bytes */
	uint32_t *stream; /* n: flow direction of each payload */
	size_t n, cap, len, bytes_cap;
	uint32_t nstreams;
};

/* Flow directions seen, for stream mode: open addressing on the key hash. */
struct dirs {
	struct ft_flow_key *key;
	uint8_t *dir;
	uint32_t *id; /* stream number + 1; 0: empty slot */
	uint32_t mask;
};

static uint32_t
dir_id(struct dirs *t, const struct ft_pkt *pkt, struct payloads *p)
{
	uint32_t i = (pkt->hash * 2 + pkt->dir) & t->mask;

	while (t->id[i] != 0) {
		if (t->dir[i] == pkt->dir && memcmp(&t->key[i], &pkt->key, sizeof(pkt->key)) == 0)
			return t->id[i] - 1;
		i = (i + 1) & t->mask;
	}
	t->key[i] = pkt->key;
	t->dir[i] = pkt->dir;
	t->id[i] = ++p->nstreams;
	return t->id[i] - 1;
}

static int
add_payload(struct payloads *p, const uint8_t *data, uint32_t len, uint32_t stream)
{
	if (p->n + 2 > p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 65536;
		uint32_t *no = realloc(p->off, nc * sizeof(*no));
		uint32_t *ns;

		if (no == NULL)
			return -1;
		p->off = no;
		ns = realloc(p->stream, nc * sizeof(*ns));
		if (ns == NULL)
			return -1;
		p->stream = ns;
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
	p->stream[p->n] = stream;
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
	struct dirs t = {.mask = (1u << 22) - 1};
	int link, rc, ret = -1;

	t.key = calloc(t.mask + 1, sizeof(*t.key));
	t.dir = calloc(t.mask + 1, sizeof(*t.dir));
	t.id = calloc(t.mask + 1, sizeof(*t.id));
	if (t.key == NULL || t.dir == NULL || t.id == NULL) {
		fprintf(stderr, "flowtap-rules: out of memory\n");
		goto out;
	}
	if (pc == NULL) {
		fprintf(stderr, "flowtap-rules: %s: %s\n", path, errbuf);
		goto out;
	}
	link = pcap_datalink(pc);
	if (!ft_parse_link_supported((uint32_t)link)) {
		fprintf(stderr, "flowtap-rules: %s: link type %d is not supported\n", path, link);
		goto out;
	}
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
		struct ft_pkt pkt;

		if (ft_parse(data, h->caplen, (enum ft_link_type)link, FT_TUNNEL_ALL, &pkt) != 0 ||
		    pkt.payload_len == 0 || (pkt.flags & FT_PKT_F_FRAGMENT))
			continue;
		if (p->nstreams == t.mask / 2 ||
		    add_payload(p, data + pkt.payload_offset, pkt.payload_len,
				dir_id(&t, &pkt, p)) != 0) {
			fprintf(stderr, "flowtap-rules: %s: out of memory\n", path);
			goto out;
		}
	}
	if (rc == -1)
		fprintf(stderr, "flowtap-rules: %s: %s (using what was read)\n", path,
			pcap_geterr(pc));
	ret = 0;
out:
	if (pc != NULL)
		pcap_close(pc);
	free(t.key);
	free(t.dir);
	free(t.id);
	return ret;
}

static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
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

/* Scan every payload once per pass, for `seconds`, in block mode or (streams
 * not NULL) in stream mode; print the throughput. */
static int
scan_passes(const struct ft_match_db *db, const struct payloads *p, hs_stream_t **streams,
	    double seconds)
{
	uint64_t t0, t, c0, cpu, passes = 0, matches = 0, bytes;
	const char *mode = streams != NULL ? "stream" : "block";

	t0 = ft_mono_ns();
	c0 = cpu_ns();
	do {
		for (size_t i = 0; i < p->n; i++) {
			const char *data = (const char *)p->bytes + p->off[i];
			unsigned len = p->off[i + 1] - p->off[i];
			hs_error_t rc =
				streams != NULL
					? hs_scan_stream(streams[p->stream[i]], data, len, 0,
							 db->scratch, count_match, &matches)
					: hs_scan(db->block, data, len, 0, db->scratch, count_match,
						  &matches);

			if (rc != HS_SUCCESS) {
				fprintf(stderr, "flowtap-rules: %s scan failed (%d)\n", mode, rc);
				return -1;
			}
		}
		for (uint32_t s = 0; streams != NULL && s < p->nstreams; s++)
			hs_reset_stream(streams[s], 0, db->scratch, count_match, &matches);
		passes++;
		t = ft_mono_ns() - t0;
	} while ((double)t < seconds * 1e9);
	cpu = cpu_ns() - c0;
	bytes = passes * p->len;
	printf("%s scan: %zu packets, %zu payload bytes, %" PRIu32 " flow directions, %" PRIu64
	       " passes in %.2f s (%.2f s of CPU)\n",
	       mode, p->n, p->len, p->nstreams, passes, (double)t / 1e9, (double)cpu / 1e9);
	/* Per CPU second, as flowtap reports it: other processes sharing the core
	 * do not count. */
	printf("%s scan throughput: %.1f MB per CPU second (%.2f Gbit/s), %.1f ns per packet, "
	       "%" PRIu64 " matches per pass; wall clock %.1f MB/s\n",
	       mode, (double)bytes * 1e3 / (double)cpu, (double)bytes * 8 / (double)cpu,
	       (double)cpu / (double)(passes * p->n), matches / passes,
	       (double)bytes * 1e3 / (double)t);
	return 0;
}

static int
bench(const struct ft_match_db *db, const char *pcap, double seconds)
{
	struct payloads p = {0};
	hs_stream_t **streams = NULL;
	uint32_t opened = 0;
	int rc = 1;

	if (read_payloads(pcap, &p) != 0)
		goto out;
	if (p.n == 0) {
		fprintf(stderr, "flowtap-rules: %s: no packet with payload\n", pcap);
		goto out;
	}
	if (scan_passes(db, &p, NULL, seconds) != 0)
		goto out;
	streams = calloc(p.nstreams, sizeof(*streams));
	if (streams == NULL)
		goto out;
	for (; opened < p.nstreams; opened++)
		if (hs_open_stream(db->stream, 0, &streams[opened]) != HS_SUCCESS)
			goto out;
	if (scan_passes(db, &p, streams, seconds) != 0)
		goto out;
	rc = 0;
out:
	for (uint32_t s = 0; s < opened; s++)
		hs_close_stream(streams[s], NULL, NULL, NULL);
	free(streams);
	free(p.bytes);
	free(p.off);
	free(p.stream);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"cache-dir", required_argument, NULL, 'c'},
		{"bench", required_argument, NULL, 'b'},
		{"seconds", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
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
				fprintf(stderr,
					"flowtap-rules: --seconds: '%s' is not a positive number\n",
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
	if (ft_rules_load(argv[optind], &rules, err, sizeof(err)) != 0) {
		fprintf(stderr, "flowtap-rules: %s\n", err);
		return 2;
	}
	if (ft_match_db_build(rules, cache, &db, err, sizeof(err)) != 0) {
		fprintf(stderr, "flowtap-rules: %s\n", err);
		ft_rules_free(rules);
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
