/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowtap-bench-parse: ns per packet of ft_parse() over a capture held in
 * memory, the way the worker calls it (frames one after the other into a
 * 32-packet burst of struct ft_pkt), without rx or the flow table.
 *
 *   flowtap-bench-parse [--generic] [--passes N] FILE...
 *
 * --generic times ft_parse_generic() (the parser without its fast path).
 * Frames sit in 256-byte slots (the first 256 bytes of longer ones: the parser
 * never reads payload), so a capture of up to a few thousand frames is in
 * cache, as a burst is after the PMD wrote it; a bigger one is not. Times are
 * this thread's CPU time (other work on a shared core does not count); prints
 * the median and the minimum over the passes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>
#include <time.h>

#include "parse/parse.h"

#define SLOT  256
#define BURST 32

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int
bench_file(const char *path, int generic, unsigned passes)
{
	int (*parse)(const uint8_t *, uint32_t, enum ft_link_type, unsigned, struct ft_pkt *) =
		generic ? ft_parse_generic : ft_parse;
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *hdr;
	const u_char *data;
	struct ft_pkt pkts[BURST];
	uint8_t *frames = NULL;
	uint32_t *lens = NULL;
	size_t n = 0, cap = 0;
	double *ns;
	unsigned long ok = 0;
	pcap_t *pcap;
	int link;

	pcap = pcap_open_offline(path, errbuf);
	if (pcap == NULL) {
		fprintf(stderr, "%s: %s\n", path, errbuf);
		return -1;
	}
	link = pcap_datalink(pcap) == DLT_RAW ? FT_LINK_RAW : pcap_datalink(pcap);
	while (pcap_next_ex(pcap, &hdr, &data) == 1) {
		if (n == cap) {
			cap = cap ? 2 * cap : 4096;
			frames = realloc(frames, cap * SLOT);
			lens = realloc(lens, cap * sizeof(*lens));
			if (frames == NULL || lens == NULL) {
				fprintf(stderr, "out of memory\n");
				exit(1);
			}
		}
		lens[n] = hdr->caplen < SLOT ? hdr->caplen : SLOT;
		memcpy(frames + n * SLOT, data, lens[n]);
		n++;
	}
	pcap_close(pcap);
	if (n == 0) {
		fprintf(stderr, "%s: no frames\n", path);
		return -1;
	}
	ns = calloc(passes, sizeof(*ns));
	/* At least about 4M frames per pass, so a pass lasts tens of ms. */
	unsigned reps = (unsigned)((4000000 + n - 1) / n);

	for (unsigned p = 0; p < passes; p++) {
		struct timespec t0, t1;

		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);

		for (unsigned r = 0; r < reps; r++)
			for (size_t i = 0; i < n; i++)
				ok += parse(frames + i * SLOT, lens[i], (enum ft_link_type)link,
					    FT_TUNNEL_ALL, &pkts[i % BURST]) == 0;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
		ns[p] = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
			 (double)(t1.tv_nsec - t0.tv_nsec)) /
			((double)n * reps);
	}
	qsort(ns, passes, sizeof(*ns), cmp_double);
	printf("%-40s %8zu frames %s: median %.2f ns/packet, min %.2f (%lu parsed)\n", path, n,
	       generic ? "generic" : "ft_parse", ns[passes / 2], ns[0], ok / passes / reps);
	free(ns);
	free(frames);
	free(lens);
	return 0;
}

int
main(int argc, char **argv)
{
	int generic = 0, rc = 0;
	unsigned passes = 11;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--generic") == 0)
			generic = 1;
		else if (strcmp(argv[i], "--passes") == 0 && i + 1 < argc)
			passes = (unsigned)atoi(argv[++i]);
		else
			break;
	}
	if (i == argc || passes == 0) {
		fprintf(stderr, "usage: %s [--generic] [--passes N] FILE...\n", argv[0]);
		return 2;
	}
	for (; i < argc; i++)
		rc |= bench_file(argv[i], generic, passes) != 0;
	return rc;
}
