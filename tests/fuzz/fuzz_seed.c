/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz-seed: write a libFuzzer seed corpus for fuzz_parse from capture files.
 * Each seed is one frame prefixed with the byte that makes fuzz_parse pick the
 * capture's link type; frames are cut to --max-len bytes (long seeds make
 * libFuzzer slow) and at most --per-file frames are taken from each file,
 * spread over the file.
 *
 * Usage: fuzz-seed OUTDIR [--per-file N] [--max-len N] FILE...
 * Captures whose link type the parser does not take are skipped.
 * Exit: 0; 1 when no seed could be taken; 2 on a usage or write error.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "parse/parse.h"

/* Same order as links[] in fuzz_parse.c. */
static int
selector_of(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
		return 0;
	case DLT_LINUX_SLL:
		return 1;
	case FT_LINK_LINUX_SLL2:
		return 2;
	case DLT_NULL:
		return 3;
	case FT_LINK_LOOP:
		return 4;
	case DLT_RAW:
	case FT_LINK_RAW:
		return 5;
	case FT_LINK_IPV4:
		return 6;
	case FT_LINK_IPV6:
		return 7;
	default:
		return -1;
	}
}

int
main(int argc, char **argv)
{
	unsigned long per_file = 64, max_len = 2048, total = 0;
	const char *outdir;
	int i = 2, first_file;

	if (argc < 3) {
		fprintf(stderr, "usage: %s OUTDIR [--per-file N] [--max-len N] FILE...\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--per-file") == 0)
			per_file = strtoul(argv[i + 1], NULL, 0);
		else if (strcmp(argv[i], "--max-len") == 0)
			max_len = strtoul(argv[i + 1], NULL, 0);
		else
			break;
	}
	first_file = i;
	for (; i < argc; i++) {
		char errbuf[PCAP_ERRBUF_SIZE], *base, *tmp;
		struct pcap_pkthdr *hdr;
		const u_char *data;
		unsigned long frames = 0, taken = 0, step;
		pcap_t *pcap;
		int sel;

		/* First pass: count frames, to spread the seeds over the file. */
		pcap = pcap_open_offline(argv[i], errbuf);
		if (pcap == NULL) {
			fprintf(stderr, "%s: %s (skipped)\n", argv[i], errbuf);
			continue;
		}
		sel = selector_of(pcap_datalink(pcap));
		while (pcap_next_ex(pcap, &hdr, &data) == 1)
			frames++;
		pcap_close(pcap);
		if (sel < 0 || frames == 0)
			continue;
		step = frames > per_file ? frames / per_file : 1;

		pcap = pcap_open_offline(argv[i], errbuf);
		if (pcap == NULL)
			continue;
		tmp = strdup(argv[i]);
		base = basename(tmp);
		for (unsigned long n = 0; pcap_next_ex(pcap, &hdr, &data) == 1 && taken < per_file;
		     n++) {
			char path[4096];
			uint8_t s = (uint8_t)sel;
			size_t len = hdr->caplen < max_len ? hdr->caplen : max_len;
			FILE *f;

			if (n % step)
				continue;
			snprintf(path, sizeof(path), "%s/%s-%lu", outdir, base, n + 1);
			f = fopen(path, "wb");
			if (f == NULL || fwrite(&s, 1, 1, f) != 1 ||
			    fwrite(data, 1, len, f) != len || fclose(f) != 0) {
				fprintf(stderr, "%s: %s\n", path, strerror(errno));
				return 2;
			}
			taken++;
		}
		total += taken;
		free(tmp);
		pcap_close(pcap);
	}
	printf("%lu seeds written to %s\n", total, outdir);
	if (total == 0) {
		/* Fuzzing on without them would pass and prove much less. */
		fprintf(stderr, "no seed taken from %d file(s)\n", argc - first_file);
		return 1;
	}
	return 0;
}
