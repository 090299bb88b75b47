/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * parse-dump: run ft_parse() on every frame of a capture file and print one line
 * per frame, for tshark_compare.py to hold against tshark's dissection.
 *
 *   <frame number>\t<discard name>                        (ft_parse returned -1)
 *   <frame number>\t<4|6>\t<src>\t<dst>\t<proto>\t<sport>\t<dport>\t<flags>\t<tunnel>
 *
 * src/dst/ports are the packet's own (the key unsorted again with dir); frame
 * numbers start at 1 as tshark's frame.number does. flags is "-" or a string of
 * F (fragment), L (later fragment, or a first one too short for its ports),
 * O (IPv4 options), P (L4 payload described), T (L4 header partial: capture cut
 * or tiny first fragment). tunnel is the one the packet came through (every
 * tunnel the parser knows is looked into), or "none".
 *
 * Usage: parse-dump FILE   (pcap or pcapng; link type from the file)
 * Exit: 0 on success, 2 on a usage, open or read error, 3 on an unsupported link.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "parse/parse.h"

int
main(int argc, char **argv)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *hdr;
	const u_char *data;
	unsigned long frame = 0;
	struct ft_pkt pkt;
	pcap_t *pcap;
	int linktype, r;

	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE\n", argv[0]);
		return 2;
	}
	pcap = pcap_open_offline(argv[1], errbuf);
	if (pcap == NULL) {
		fprintf(stderr, "%s: %s\n", argv[1], errbuf);
		return 2;
	}
	/* pcap_datalink() gives DLT_* values, the parser takes LINKTYPE_* ones; they
	 * differ only for a few old types, of which RAW matters here (12 vs 101). */
	linktype = pcap_datalink(pcap);
	if (linktype == DLT_RAW)
		linktype = FT_LINK_RAW;
	if (!ft_parse_link_supported((uint32_t)linktype)) {
		fprintf(stderr, "%s: link type %d not supported by the parser\n", argv[1],
			pcap_datalink(pcap));
		pcap_close(pcap);
		return 3;
	}

	while ((r = pcap_next_ex(pcap, &hdr, &data)) == 1) {
		char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], flags[8];
		int af, n = 0;

		frame++;
		if (ft_parse(data, hdr->caplen, (enum ft_link_type)linktype, FT_TUNNEL_ALL, &pkt) !=
		    0) {
			printf("%lu\t%s\n", frame, ft_discard_names[pkt.discard]);
			continue;
		}
		af = pkt.key.family == 4 ? AF_INET : AF_INET6;
		inet_ntop(af, pkt.key.addr[pkt.dir], src, sizeof(src));
		inet_ntop(af, pkt.key.addr[!pkt.dir], dst, sizeof(dst));
		if (pkt.flags & FT_PKT_F_FRAGMENT)
			flags[n++] = 'F';
		if (pkt.flags & FT_PKT_F_LATER_FRAG)
			flags[n++] = 'L';
		if (pkt.flags & FT_PKT_F_IPV4_OPTIONS)
			flags[n++] = 'O';
		if (pkt.flags & FT_PKT_F_L4_PAYLOAD)
			flags[n++] = 'P';
		if (pkt.flags & FT_PKT_F_L4_PARTIAL)
			flags[n++] = 'T';
		if (n == 0)
			flags[n++] = '-';
		flags[n] = '\0';
		printf("%lu\t%u\t%s\t%s\t%u\t%u\t%u\t%s\t%s\n", frame, pkt.key.family, src, dst,
		       pkt.key.proto, pkt.key.port[pkt.dir], pkt.key.port[!pkt.dir], flags,
		       ft_tunnel_names[pkt.key.tunnel]);
	}
	if (r == -1) {
		fprintf(stderr, "%s: frame %lu: %s\n", argv[1], frame + 1, pcap_geterr(pcap));
		pcap_close(pcap);
		return 2;
	}
	pcap_close(pcap);
	return 0;
}
