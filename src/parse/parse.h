/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet parser: one frame -> struct ft_pkt (flow key, offsets, TCP fields).
 *
 * Pure and bounds-checked: it reads only the len bytes it is given, never
 * allocates, never logs, and keeps no state, so it is safe on any lcore and
 * under a fuzzer. A frame it cannot attribute to a flow gets exactly one
 * enum ft_discard reason.
 *
 * What it follows:
 *   link:   Ethernet (802.3 length frames are non-IP), Linux cooked SLL and SLL2,
 *           BSD NULL/LOOP, raw IP
 *   L2.5:   up to FT_PARSE_MAX_VLAN 802.1Q/802.1ad/0x9100 tags (the first two go in
 *           the key), PPPoE session (PPP IPv4/IPv6; the PPP protocol field may be
 *           the compressed one-byte form, 0x21/0x57, RFC 1661 6.5, which RFC 2516
 *           forbids but real sessions use), MPLS label stacks (up to
 *           FT_PARSE_MAX_MPLS labels, IP guessed from the first nibble after the
 *           bottom label)
 *   L3:     IPv4 with options, IPv6 with up to FT_PARSE_MAX_IPV6_EXT extension
 *           headers (hop-by-hop, routing, fragment, destination options, AH,
 *           mobility, HIP, shim6)
 *   L4:     TCP, UDP, UDP-Lite, SCTP (ports), ICMP and ICMPv6 (type, code);
 *           anything else is a flow keyed by addresses and protocol, ports 0
 *   tunnels (those in the tunnels argument, a set of 1 << (enum ft_tunnel - 1)
 *           bits): GRE (version 0: IPv4, IPv6, MPLS, transparent Ethernet,
 *           ERSPAN type I, II and III; version 1, PPTP: PPP), IPv4 and IPv6 in
 *           IP (protocols 4, 41), VXLAN (UDP to 4789), Geneve (UDP to 6081),
 *           Teredo (UDP from or to 3544, IPv6 with its origin or
 *           authentication indicator), GTP-U G-PDUs (UDP to 2152, extension
 *           headers walked). Up to FT_PARSE_MAX_TUNNELS deep.
 *
 * Tunnels. A packet that is not a fragment and carries one of the tunnels
 * asked for is parsed again from the packet inside, and that one is the flow
 * packet: key (with the tunnel's type in key.tunnel: the innermost one's when
 * tunnels nest), offsets, TCP fields and payload are the inner packet's, and
 * the inner IP's length is bounded by the outer's end. VLAN ids fill the key's
 * two slots in the order they come (outer headers first). When the inside is
 * not a flow packet for the parser (ARP in VXLAN, a cut or malformed inner
 * header, a GTP message other than a G-PDU), the outer packet is the flow
 * packet, as without decapsulation: a tunnel never loses a packet that its
 * outer headers account for. A fragmented outer packet is not looked into
 * (its later fragments could not follow it): it stays a flow of the outer
 * addresses.
 *
 * Lengths: the IP packet ends at the smaller of the captured bytes and the IP
 * length field (so Ethernet padding is not payload, and a snaplen cut is not an
 * error). Lengths the field cannot hold mean "up to the end of the frame":
 *   - an IPv4 total length of 0, at any frame size (TSO/GSO frames captured on
 *     the sending host, before the NIC fills the field, as tshark presumes; and
 *     BIG TCP over 65535 bytes);
 *   - an IPv6 payload length of 0 when a hop-by-hop header follows (jumbogram,
 *     RFC 2675) or when the frame's IPv6 part is longer than 40 + 65535 bytes
 *     (Linux BIG TCP, which drops the jumbo option before a capture sees it).
 *     Otherwise a payload length of 0 is an empty IPv6 packet.
 *
 * Short L4 headers. The L4 header is complete when all of it (TCP: up to the data
 * offset) lies within the IP end. When it is not:
 *   - Capture cut: the IP length field covers the whole header but the capture
 *     stopped before its end (the IP end was clamped to the captured length).
 *     That is not malformation: with >= 4 bytes of TCP/UDP/UDP-Lite/SCTP header
 *     the packet is a flow packet with its ports (TCP also seq with >= 8 bytes,
 *     ack >= 12, flags >= 14, window >= 16; the data offset is read only with
 *     the 20 fixed bytes), and with >= 2 bytes of ICMP/ICMPv6 its type and code.
 *     A TCP header with its 20 fixed bytes whose options run past the cut has
 *     all fixed fields. Such a packet has FT_PKT_F_L4_PARTIAL, no
 *     FT_PKT_F_L4_PAYLOAD, payload_len 0 and payload_offset at the end of the
 *     captured bytes. With fewer bytes: FT_DISCARD_L4_TRUNCATED.
 *   - Header longer than the IP length: the packet itself is malformed, not cut:
 *     FT_DISCARD_L4_TRUNCATED (whatever was captured), except for a first
 *     fragment (below).
 *   - When the IP length is 0 ("up to the end of the frame", above), the frame
 *     end is the IP end, so a short header there is malformed too.
 *
 * Fragments (the documented attribution rule): a first fragment (offset 0)
 * carries the L4 header and goes to its 5-tuple flow; a non-first fragment has no
 * ports and goes to the flow of (addresses, protocol, ports 0). Both are flagged
 * FT_PKT_F_FRAGMENT and counted as fragments. A first fragment whose L4 header
 * does not fit in its IP length (a tiny fragment, RFC 1858) is never a discard:
 * with the bytes a capture cut needs (4 for the ports, 2 for ICMP type and code)
 * it is taken as above (FT_PKT_F_FRAGMENT | FT_PKT_F_L4_PARTIAL, payload_offset
 * at the end of its data within the IP length); with fewer it is taken exactly
 * like a later fragment (FT_PKT_F_LATER_FRAG, ports 0, l4_offset 0, payload the
 * fragment data) though its frag_offset is 0.
 */
#ifndef FT_PARSE_H
#define FT_PARSE_H

#include <stdint.h>

#include "export/export.h"

#define FT_PARSE_MAX_VLAN     4
#define FT_PARSE_MAX_MPLS     8
#define FT_PARSE_MAX_IPV6_EXT 8
#define FT_PARSE_MAX_TUNNELS  2 /* nested tunnels looked into */

/* Link types a port can deliver. Values are the pcap LINKTYPE_* numbers. */
enum ft_link_type {
	FT_LINK_NULL = 0,	  /* BSD loopback, 4-byte host-order address family */
	FT_LINK_ETHERNET = 1,	  /* Ethernet II / 802.3 */
	FT_LINK_RAW = 101,	  /* raw IPv4 or IPv6, version from the first nibble */
	FT_LINK_LOOP = 108,	  /* OpenBSD loopback, 4-byte network-order family */
	FT_LINK_LINUX_SLL = 113,  /* Linux cooked capture v1 (16-byte header) */
	FT_LINK_IPV4 = 228,	  /* raw IPv4 */
	FT_LINK_IPV6 = 229,	  /* raw IPv6 */
	FT_LINK_LINUX_SLL2 = 276, /* Linux cooked capture v2 (20-byte header) */
};

/* Returns 1 if the parser handles this LINKTYPE_* value, 0 if not. */
int ft_parse_link_supported(uint32_t linktype);

/*
 * Packet flags (struct ft_pkt.flags).
 *
 * FT_PKT_F_LATER_FRAG: no L4 header was read, ports are 0, l4_offset is 0 and the
 * payload is the fragment data: a non-first fragment, or a first fragment too
 * short for its ports (then frag_offset is 0).
 * FT_PKT_F_L4_PARTIAL: the L4 header is incomplete (capture cut, or a tiny first
 * fragment): only the fields it holds are set, payload_len is 0.
 */
#define FT_PKT_F_FRAGMENT     0x01 /* an IPv4 or IPv6 fragment */
#define FT_PKT_F_LATER_FRAG   0x02 /* no L4 header: ports 0 (see above) */
#define FT_PKT_F_IPV4_OPTIONS 0x04 /* IPv4 header longer than 20 bytes */
#define FT_PKT_F_L4_PAYLOAD   0x08 /* payload_offset/payload_len describe L4 payload */
#define FT_PKT_F_L4_PARTIAL   0x10 /* L4 header incomplete, partial fields (see above) */
/* A later fragment given its datagram's ports and protocol by src/frag (never
 * set by the parser). */
#define FT_PKT_F_FRAG_ATTRIBUTED 0x20
/* A fragment with more after it (IPv4 MF, IPv6 M). */
#define FT_PKT_F_MORE_FRAGS 0x40
/* An IPv6 first fragment with extension headers after its fragment header
 * (they are part of the fragmentable data, before l4_offset). */
#define FT_PKT_F_FRAG_EXT 0x80

/*
 * The parse result. Lives in the mbuf's private area between rx and the flow
 * table, so it is parsed once even when software dispatch moves the mbuf to
 * another worker. The worker fills ts_ns and port; the parser fills the rest.
 *
 *   0  key            48 B  sorted bidirectional key (pad zeroed)
 *  48  hash            4 B  CRC32C of key (symmetric: both directions equal)
 *  52  l3_offset       2 B  from the start of the frame
 *  54  l4_offset       2 B  0 when there is no L4 header (FT_PKT_F_LATER_FRAG)
 *  56  payload_offset  4 B  L4 payload (TCP/UDP/SCTP/ICMP data) from frame start
 *  60  payload_len     4 B  captured L4 payload bytes within the IP length
 *  64  tcp_seq         4 B  host order
 *  68  tcp_ack         4 B
 *  72  frag_id         4 B  IPv4 identification or IPv6 fragment identification
 *  76  tcp_window      2 B
 *  78  frag_offset     2 B  in 8-byte units
 *  80  dir             1 B  0: the packet's source is key endpoint 0, else 1
 *  81  tcp_flags       1 B  FT_TCP_* bits
 *  82  flags           1 B  FT_PKT_F_*
 *  83  discard         1 B  enum ft_discard when ft_parse() returned -1
 *  84  icmp_type       1 B
 *  85  icmp_code       1 B
 *  86  port            2 B  input port (worker)
 *  88  ts_ns           8 B  packet time, ns since the epoch (worker)
 *  96  wire_len        4 B  frame length in bytes (worker: the mbuf's pkt_len, or
 *                           for a frame a capture file's snaplen cut, the
 *                           length its IP length gives: src/worker)
 *  100 payload_ip_len  4 B  payload_len's bytes as the IP length gives them,
 *                           captured or not: more than payload_len when the
 *                           capture cut the packet (snaplen); 0 without payload
 */
struct ft_pkt {
	struct ft_flow_key key;
	uint32_t hash;
	uint16_t l3_offset;
	uint16_t l4_offset;
	uint32_t payload_offset;
	uint32_t payload_len;
	uint32_t tcp_seq;
	uint32_t tcp_ack;
	uint32_t frag_id;
	uint16_t tcp_window;
	uint16_t frag_offset;
	uint8_t dir;
	uint8_t tcp_flags;
	uint8_t flags;
	uint8_t discard;
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint16_t port;
	uint64_t ts_ns;
	uint32_t wire_len;
	uint32_t payload_ip_len;
};
static_assert(sizeof(struct ft_pkt) == 104, "struct ft_pkt layout");
static_assert(offsetof(struct ft_pkt, ts_ns) == 88, "struct ft_pkt layout");

/*
 * Parse one frame.
 *
 * @param data  first byte of the frame (the link-layer header for link)
 * @param len   captured bytes available at data
 * @param link  link type of the frame (enum ft_link_type)
 * @param tunnels tunnels to look into: 1 << (enum ft_tunnel - 1) bits, 0 for
 *              none, FT_TUNNEL_ALL for all
 * @param pkt   output; every field the parser owns is written, including the
 *              key's padding, whatever the result
 * @return 0 when pkt describes a flow packet; -1 when the frame belongs to no
 *         flow, with pkt->discard set to the reason (enum ft_discard)
 */
int ft_parse(const uint8_t *data, uint32_t len, enum ft_link_type link, unsigned tunnels,
	     struct ft_pkt *pkt);

/*
 * ft_parse() without its fast path: the one parser for every frame, which
 * ft_parse() falls back to for anything but the common case (Ethernet with at
 * most one VLAN tag, IPv4 without options or fragmentation or IPv6 without
 * extension headers, a whole TCP or UDP header, not to a tunnel port). Same contract and, for every
 * input, the same result and the same bytes in pkt as ft_parse(): exposed so
 * tests and the fuzzer can hold the two paths against each other.
 */
int ft_parse_generic(const uint8_t *data, uint32_t len, enum ft_link_type link, unsigned tunnels,
		     struct ft_pkt *pkt);

/*
 * Hash of a flow key: CRC32C over the whole key. Symmetric because the key is.
 * Exposed so tests and the flow table agree with the parser.
 */
uint32_t ft_flow_key_hash(const struct ft_flow_key *key);

/*
 * Hash of a flow key's address pair (and VLANs and family), without ports or
 * protocol: every flow between two hosts, and every fragment of their
 * datagrams, has the same. Symmetric, as the key is sorted by address first.
 */
uint32_t ft_flow_key_pair_hash(const struct ft_flow_key *key);

#endif /* FT_PARSE_H */
