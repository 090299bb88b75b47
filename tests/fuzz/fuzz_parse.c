/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for ft_parse(). The first input byte picks the link type
 * (its low three bits: the eight the parser supports) and the tunnels looked
 * into (bit 7 set: none, else all), the rest is the frame, parsed in
 * place so the frame ends exactly where libFuzzer's buffer does (ASan sees any
 * over-read).
 *
 * Besides crashes and sanitizer reports, it aborts when an output invariant of
 * parse.h does not hold: offsets and payload within the frame (payload_ip_len
 * at least payload_len, more only when the frame ends inside the payload), key
 * padding and unused IPv4 address bytes zero, endpoints sorted, hash == ft_flow_key_hash(key),
 * one discard reason the parser may give, every parser-owned byte written
 * (two parses into differently pre-filled structs must agree), and the same
 * result and bytes from the generic parser (ft_parse_generic(), no fast path).
 * For a packet whose L4 header was read (whole: FT_PKT_F_L4_PAYLOAD, or partial:
 * FT_PKT_F_L4_PARTIAL, exactly one of them) the ports or ICMP type/code are the
 * frame's bytes at l4_offset, and a partial header has no payload and no TCP
 * field beyond the bytes it holds. FT_PKT_F_LATER_FRAG with frag_offset 0 (a
 * tiny first fragment) has fewer bytes than the ports or type/code need.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "parse/parse.h"

static const enum ft_link_type links[] = {
	FT_LINK_ETHERNET, FT_LINK_LINUX_SLL, FT_LINK_LINUX_SLL2, FT_LINK_NULL,
	FT_LINK_LOOP,	  FT_LINK_RAW,	     FT_LINK_IPV4,	 FT_LINK_IPV6,
};

static int
endpoint_le(const struct ft_flow_key *k)
{
	int c = memcmp(k->addr[0], k->addr[1], 16);

	return c < 0 || (c == 0 && k->port[0] <= k->port[1]);
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static int
is_port_proto(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 136 || proto == 132;
}

static int
is_icmp_proto(uint8_t proto)
{
	return proto == 1 || proto == 58;
}

static int
all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ft_pkt a, b, g;
	enum ft_link_type link;
	unsigned tunnels;
	const uint8_t *frame;
	uint32_t len, have;
	int ra, rb, rg;

	if (size == 0 || size - 1 > UINT32_MAX)
		return 0;
	static_assert(sizeof(links) / sizeof(links[0]) == 8, "three bits pick the link");
	link = links[data[0] & 7];
	tunnels = (data[0] & 0x80) ? 0 : FT_TUNNEL_ALL;
	len = (uint32_t)(size - 1);
	frame = data + 1;

	memset(&a, 0x00, sizeof(a));
	memset(&b, 0xff, sizeof(b));
	memset(&g, 0x00, sizeof(g));
	ra = ft_parse(data + 1, len, link, tunnels, &a);
	rb = ft_parse(data + 1, len, link, tunnels, &b);
	rg = ft_parse_generic(data + 1, len, link, tunnels, &g);

	CHECK(ra == rb);
	CHECK(ra == rg && memcmp(&a, &g, sizeof(a)) == 0);
	CHECK(memcmp(&a, &b, offsetof(struct ft_pkt, port)) == 0);
	CHECK(a.payload_ip_len == b.payload_ip_len);
	/* The worker's fields are not the parser's. */
	CHECK(a.port == 0 && a.ts_ns == 0 && a.wire_len == 0);
	CHECK(b.port == 0xffff && b.ts_ns == UINT64_MAX && b.wire_len == UINT32_MAX);

	if (ra != 0) {
		CHECK(ra == -1);
		CHECK(a.discard < FT_DISCARD_FLOW_TABLE_FULL);
		return 0;
	}
	CHECK(all_zero(a.key.pad, sizeof(a.key.pad)));
	/* A tunnel only when asked for. */
	CHECK(a.key.tunnel < FT_TUNNEL_MAX);
	CHECK(a.key.tunnel == 0 || (tunnels & (1u << (a.key.tunnel - 1))));
	CHECK(a.key.family == 4 || a.key.family == 6);
	if (a.key.family == 4)
		CHECK(all_zero(a.key.addr[0] + 4, 12) && all_zero(a.key.addr[1] + 4, 12));
	CHECK(endpoint_le(&a.key));
	CHECK(a.key.vlan[0] <= 0x0fff && a.key.vlan[1] <= 0x0fff);
	CHECK(a.hash == ft_flow_key_hash(&a.key));
	CHECK(a.dir <= 1);
	CHECK(a.discard == 0);
	CHECK(a.l3_offset < len);
	CHECK(a.l4_offset <= len);
	CHECK((uint64_t)a.payload_offset + a.payload_len <= len);
	/* The IP length says at least what was captured of it, and more only when
	 * the capture stopped before the payload's end. */
	CHECK(a.payload_ip_len >= a.payload_len);
	CHECK(a.payload_ip_len == a.payload_len || a.payload_offset + a.payload_len == len);
	CHECK(!(a.flags & ~(FT_PKT_F_FRAGMENT | FT_PKT_F_LATER_FRAG | FT_PKT_F_IPV4_OPTIONS |
			    FT_PKT_F_L4_PAYLOAD | FT_PKT_F_L4_PARTIAL | FT_PKT_F_MORE_FRAGS |
			    FT_PKT_F_FRAG_EXT)));
	if (a.flags & (FT_PKT_F_MORE_FRAGS | FT_PKT_F_FRAG_EXT))
		CHECK(a.flags & FT_PKT_F_FRAGMENT);
	if (a.flags & FT_PKT_F_FRAG_EXT)
		CHECK(a.key.family == 6);
	if (a.key.proto != 6)
		CHECK(a.tcp_seq == 0 && a.tcp_ack == 0 && a.tcp_flags == 0 && a.tcp_window == 0);
	if (!is_icmp_proto(a.key.proto))
		CHECK(a.icmp_type == 0 && a.icmp_code == 0);
	if (a.flags & FT_PKT_F_LATER_FRAG) {
		CHECK(a.flags & FT_PKT_F_FRAGMENT);
		CHECK(a.l4_offset == 0);
		CHECK(a.key.port[0] == 0 && a.key.port[1] == 0);
		CHECK(!(a.flags & (FT_PKT_F_L4_PAYLOAD | FT_PKT_F_L4_PARTIAL)));
		CHECK(a.tcp_seq == 0 && a.tcp_ack == 0 && a.tcp_flags == 0 && a.tcp_window == 0);
		CHECK(a.icmp_type == 0 && a.icmp_code == 0);
		if (a.frag_offset == 0) /* a tiny first fragment */
			CHECK((is_port_proto(a.key.proto) && a.payload_len < 4) ||
			      (is_icmp_proto(a.key.proto) && a.payload_len < 2));
		return 0;
	}
	CHECK(a.l4_offset > a.l3_offset && a.l4_offset <= a.payload_offset);
	if (!is_port_proto(a.key.proto) && !is_icmp_proto(a.key.proto)) {
		CHECK(!(a.flags & (FT_PKT_F_L4_PAYLOAD | FT_PKT_F_L4_PARTIAL)));
		CHECK(a.key.port[0] == 0 && a.key.port[1] == 0);
		return 0;
	}
	/* An L4 header was read, whole or in part: the fields are the frame's. */
	CHECK(!(a.flags & FT_PKT_F_L4_PAYLOAD) != !(a.flags & FT_PKT_F_L4_PARTIAL));
	have = a.payload_offset - a.l4_offset;
	if (is_icmp_proto(a.key.proto)) {
		CHECK(have >= 2);
		CHECK(a.icmp_type == frame[a.l4_offset] && a.icmp_code == frame[a.l4_offset + 1]);
		CHECK(a.key.port[0] == 0 && a.key.port[1] == 0);
	} else {
		CHECK(have >= 4);
		CHECK(a.key.port[a.dir] == get16(frame + a.l4_offset));
		CHECK(a.key.port[!a.dir] == get16(frame + a.l4_offset + 2));
	}
	if (a.flags & FT_PKT_F_L4_PARTIAL) {
		CHECK(a.payload_len == 0);
		CHECK(have >= 8 || a.tcp_seq == 0);
		CHECK(have >= 12 || a.tcp_ack == 0);
		CHECK(have >= 14 || a.tcp_flags == 0);
		CHECK(have >= 16 || a.tcp_window == 0);
	} else if (a.key.proto == 6) {
		CHECK(have >= 20 && a.tcp_flags == frame[a.l4_offset + 13]);
	} else {
		CHECK(have == (a.key.proto == 132 ? 12u : is_icmp_proto(a.key.proto) ? 4u : 8u));
	}
	return 0;
}
