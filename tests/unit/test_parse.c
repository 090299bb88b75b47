/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the packet parser. Frames are built here field by field from the
 * wire formats (RFC 791, 8200, 793, 768, 4960, 2516, 3032, the pcap link-type
 * documentation), and every expected value comes from what the test put in the
 * frame, never from the parser.
 *
 * Every ft_parse() call goes through parse_frame(), which also checks the output
 * contract: the frame is copied into a malloc'd buffer of exactly its length (so
 * an ASan build catches any over-read), it is parsed into two structs pre-filled
 * with different bytes (every byte the parser owns must come out equal, and the
 * worker's fields untouched), and on success the key/offset invariants hold.
 *
 * The builders also record, for sweep(), what every prefix of the frame must
 * give: below each need() bound a discard reason; from the L4 header's first
 * ports (ICMP: type and code) to its end a partial flow packet (a capture cut is
 * not malformation); from the header's end the full packet with its payload cut.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parse/parse.h"

#define FRAME_MAX  (80 * 1024)
#define BOUNDS_MAX 48

/* "A prefix shorter than end is discarded with reason." */
struct bound {
	uint32_t end;
	uint8_t reason;
};

/* What the L4 builder wrote, for the checks of partial headers. */
enum l4_kind {
	L4_NONE = 0,
	L4_TCP,
	L4_PORTS, /* UDP, UDP-Lite, SCTP */
	L4_ICMP,
};

struct frame {
	uint32_t n;
	unsigned int nb;
	struct bound bounds[BOUNDS_MAX];
	uint32_t l3;	  /* where the test put the IP header */
	uint32_t l4;	  /* L4 header */
	uint32_t payload; /* first byte after the L4 header */
	/* L4 header as built: a prefix of the frame cut inside it is a partial packet */
	enum l4_kind kind;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t tcp_flags;
	uint16_t win;
	uint8_t icmp_type, icmp_code;
	uint8_t b[FRAME_MAX];
};

static struct frame F, G;

/* ---------------------------------------------------------------- builders */

static void
frame_reset(struct frame *f)
{
	memset(f, 0, sizeof(*f));
}

static void
put8(struct frame *f, uint8_t v)
{
	assert_true(f->n < FRAME_MAX);
	f->b[f->n++] = v;
}

static void
put16(struct frame *f, uint16_t v)
{
	put8(f, v >> 8);
	put8(f, v & 0xff);
}

static void
put32(struct frame *f, uint32_t v)
{
	put16(f, v >> 16);
	put16(f, v & 0xffff);
}

static void
putn(struct frame *f, const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		put8(f, p[i]);
}

static void
put_fill(struct frame *f, uint32_t n, uint8_t v)
{
	for (uint32_t i = 0; i < n; i++)
		put8(f, v);
}

static void
set16(struct frame *f, uint32_t at, uint16_t v)
{
	f->b[at] = v >> 8;
	f->b[at + 1] = v & 0xff;
}

static void
need(struct frame *f, uint32_t end, uint8_t reason)
{
	assert_true(f->nb < BOUNDS_MAX);
	f->bounds[f->nb].end = end;
	f->bounds[f->nb].reason = reason;
	f->nb++;
}

static void
eth(struct frame *f, uint16_t type)
{
	static const uint8_t macs[12] = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02};

	putn(f, macs, sizeof(macs));
	put16(f, type);
	need(f, f->n, FT_DISCARD_L2_TRUNCATED);
}

/* 802.1Q/802.1ad tag body: TCI, then the next ethertype (the TPID came before). */
static void
vlan_tag(struct frame *f, uint16_t tci, uint16_t next_type)
{
	put16(f, tci);
	put16(f, next_type);
	need(f, f->n, FT_DISCARD_L2_TRUNCATED);
}

static void
sll(struct frame *f, uint16_t proto)
{
	put16(f, 0); /* packet type: to us */
	put16(f, 1); /* ARPHRD_ETHER */
	put16(f, 6); /* address length */
	put32(f, 0x02000000);
	put32(f, 0x00010000); /* address, padded to 8 */
	put16(f, proto);
	need(f, f->n, FT_DISCARD_L2_TRUNCATED);
}

static void
sll2(struct frame *f, uint16_t proto)
{
	put16(f, proto);
	put16(f, 0); /* reserved */
	put32(f, 3); /* ifindex */
	put16(f, 1); /* ARPHRD_ETHER */
	put8(f, 4);  /* packet type: outgoing */
	put8(f, 6);  /* address length */
	put32(f, 0x02000000);
	put32(f, 0x00010000);
	need(f, f->n, FT_DISCARD_L2_TRUNCATED);
}

static void
null_hdr(struct frame *f, uint32_t family, int big_endian)
{
	if (big_endian) {
		put32(f, family);
	} else {
		put8(f, family & 0xff);
		put8(f, (family >> 8) & 0xff);
		put8(f, (family >> 16) & 0xff);
		put8(f, family >> 24);
	}
	need(f, f->n, FT_DISCARD_L2_TRUNCATED);
}

static void
pppoe(struct frame *f, uint16_t ppp_proto)
{
	put8(f, 0x11);	  /* version 1, type 1 */
	put8(f, 0x00);	  /* code: session data */
	put16(f, 0x2a2a); /* session id */
	put16(f, 0);	  /* length (not used by the parser) */
	put16(f, ppp_proto);
	need(f, f->n, FT_DISCARD_L2_TRUNCATED);
}

/* Session header with a compressed (one-byte) PPP protocol field. */
static void
pppoe_pfc(struct frame *f, uint8_t ppp_proto)
{
	put8(f, 0x11);
	put8(f, 0x00);
	put16(f, 0x0001);
	put16(f, 0);
	need(f, f->n + 1, FT_DISCARD_L2_TRUNCATED);
	put8(f, ppp_proto);
}

static void
mpls(struct frame *f, uint32_t label, int bottom)
{
	put32(f, label << 12 | 0x0 << 9 | (bottom ? 1u : 0u) << 8 | 64);
	/* After the bottom label the parser needs one byte to see the IP version. */
	need(f, f->n + (bottom ? 1 : 0), FT_DISCARD_L2_TRUNCATED);
}

/* IPv4 header with opt_words 4-byte NOP options; total length set by ipv4_done(). */
static uint32_t
ipv4(struct frame *f, uint32_t src, uint32_t dst, uint8_t proto, unsigned int opt_words,
     uint16_t id, uint16_t frag)
{
	uint32_t at = f->n;

	f->l3 = at;
	put8(f, 0x45 + opt_words);
	put8(f, 0);
	put16(f, 0);
	put16(f, id);
	put16(f, frag);
	put8(f, 64);
	put8(f, proto);
	put16(f, 0);
	put32(f, src);
	put32(f, dst);
	for (unsigned int i = 0; i < opt_words; i++)
		put32(f, 0x01010101);
	need(f, f->n, FT_DISCARD_IPV4_TRUNCATED);
	return at;
}

static void
ipv4_done(struct frame *f, uint32_t at)
{
	set16(f, at + 2, f->n - at);
}

static uint32_t
ipv6(struct frame *f, const uint8_t src[16], const uint8_t dst[16], uint8_t next)
{
	uint32_t at = f->n;

	f->l3 = at;
	put32(f, 0x60000000);
	put16(f, 0);
	put8(f, next);
	put8(f, 64);
	putn(f, src, 16);
	putn(f, dst, 16);
	need(f, f->n, FT_DISCARD_IPV6_TRUNCATED);
	return at;
}

static void
ipv6_done(struct frame *f, uint32_t at)
{
	set16(f, at + 4, f->n - at - 40);
}

/* Hop-by-hop, routing, destination options, mobility...: (len + 1) * 8 bytes. */
static void
ipv6_ext(struct frame *f, uint8_t next, uint8_t len_units)
{
	uint32_t size = (len_units + 1u) * 8;

	put8(f, next);
	put8(f, len_units);
	put_fill(f, size - 2, 0x00); /* Pad1/PadN-ish zero options */
	need(f, f->n, FT_DISCARD_IPV6_BAD_EXT);
}

static void
ipv6_ah(struct frame *f, uint8_t next, uint8_t len_field)
{
	uint32_t size = (len_field + 2u) * 4;

	put8(f, next);
	put8(f, len_field);
	put16(f, 0);
	put32(f, 0x1000); /* SPI */
	put32(f, 7);	  /* sequence */
	put_fill(f, size - 12, 0xab);
	need(f, f->n, FT_DISCARD_IPV6_BAD_EXT);
}

static void
ipv6_frag(struct frame *f, uint8_t next, uint16_t offset, int more, uint32_t id)
{
	put8(f, next);
	put8(f, 0);
	put16(f, (uint16_t)(offset << 3 | (more ? 1 : 0)));
	put32(f, id);
	need(f, f->n, FT_DISCARD_IPV6_BAD_EXT);
}

/*
 * The L4 builders: a capture that stops inside the header still yields the flow
 * once the ports (ICMP: type and code) are in, so the discard bound is there,
 * not at the header's end. Everything the IP length covers counts as sent, and
 * the IP length is set last (ipv4_done/ipv6_done) to cover the whole frame.
 */
static void
tcp(struct frame *f, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
    uint16_t win, unsigned int opt_words)
{
	f->l4 = f->n;
	f->kind = L4_TCP;
	f->sport = sport;
	f->dport = dport;
	f->seq = seq;
	f->ack = ack;
	f->tcp_flags = flags;
	f->win = win;
	put16(f, sport);
	put16(f, dport);
	put32(f, seq);
	put32(f, ack);
	put8(f, (uint8_t)((5 + opt_words) << 4));
	put8(f, flags);
	put16(f, win);
	put16(f, 0);
	put16(f, 0);
	for (unsigned int i = 0; i < opt_words; i++)
		put32(f, 0x01010101);
	need(f, f->l4 + 4, FT_DISCARD_L4_TRUNCATED);
	f->payload = f->n;
}

static void
udp(struct frame *f, uint16_t sport, uint16_t dport)
{
	f->l4 = f->n;
	f->kind = L4_PORTS;
	f->sport = sport;
	f->dport = dport;
	put16(f, sport);
	put16(f, dport);
	put16(f, 8);
	put16(f, 0);
	need(f, f->l4 + 4, FT_DISCARD_L4_TRUNCATED);
	f->payload = f->n;
}

static void
sctp(struct frame *f, uint16_t sport, uint16_t dport)
{
	f->l4 = f->n;
	f->kind = L4_PORTS;
	f->sport = sport;
	f->dport = dport;
	put16(f, sport);
	put16(f, dport);
	put32(f, 0xdeadbeef); /* verification tag */
	put32(f, 0);	      /* checksum */
	need(f, f->l4 + 4, FT_DISCARD_L4_TRUNCATED);
	f->payload = f->n;
}

/* ICMP/ICMPv6: the parser reads type and code; its payload starts after 4 bytes. */
static void
icmp(struct frame *f, uint8_t type, uint8_t code)
{
	f->l4 = f->n;
	f->kind = L4_ICMP;
	f->icmp_type = type;
	f->icmp_code = code;
	put8(f, type);
	put8(f, code);
	put16(f, 0);
	need(f, f->l4 + 2, FT_DISCARD_L4_TRUNCATED);
	f->payload = f->n;
	put32(f, 0x00010002); /* echo id / sequence */
}

static void
data(struct frame *f, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		put8(f, (uint8_t)(i * 7 + 1));
}

/* --------------------------------------------------------- expected values */

/* Bitwise CRC-32C (Castagnoli, reflected 0x82F63B78), the textbook definition. */
static uint32_t
ref_crc32c(const void *buf, size_t n)
{
	const uint8_t *p = buf;
	uint32_t crc = 0xffffffff;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78 & (0u - (crc & 1)));
	}
	return ~crc;
}

/* (address, port) of endpoint a is lower than or equal to b's, as big-endian numbers. */
static int
endpoint_le(const uint8_t *a, uint16_t ap, const uint8_t *b, uint16_t bp, size_t alen)
{
	int c = memcmp(a, b, alen);

	return c < 0 || (c == 0 && ap <= bp);
}

static struct ft_flow_key
make_key(int family, const uint8_t *s, uint16_t sp, const uint8_t *d, uint16_t dp, uint8_t proto,
	 uint16_t vlan0, uint16_t vlan1, uint8_t *dir)
{
	struct ft_flow_key k;
	size_t alen = family == 4 ? 4 : 16;

	memset(&k, 0, sizeof(k));
	k.family = (uint8_t)family;
	k.proto = proto;
	k.vlan[0] = vlan0;
	k.vlan[1] = vlan1;
	if (endpoint_le(s, sp, d, dp, alen)) {
		*dir = 0;
		memcpy(k.addr[0], s, alen);
		memcpy(k.addr[1], d, alen);
		k.port[0] = sp;
		k.port[1] = dp;
	} else {
		*dir = 1;
		memcpy(k.addr[0], d, alen);
		memcpy(k.addr[1], s, alen);
		k.port[0] = dp;
		k.port[1] = sp;
	}
	return k;
}

static struct ft_flow_key
key4(uint32_t s, uint16_t sp, uint32_t d, uint16_t dp, uint8_t proto, uint16_t vlan0,
     uint16_t vlan1, uint8_t *dir)
{
	uint8_t sb[4] = {s >> 24, s >> 16, s >> 8, s};
	uint8_t db[4] = {d >> 24, d >> 16, d >> 8, d};

	return make_key(4, sb, sp, db, dp, proto, vlan0, vlan1, dir);
}

static struct ft_flow_key
key6(const uint8_t *s, uint16_t sp, const uint8_t *d, uint16_t dp, uint8_t proto, uint8_t *dir)
{
	return make_key(6, s, sp, d, dp, proto, 0, 0, dir);
}

/* --------------------------------------------------------------- harness */

#define WORKER_OFF offsetof(struct ft_pkt, port)
#define WORKER_END offsetof(struct ft_pkt, payload_ip_len)

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

static void
check_success_invariants(const uint8_t *data, uint32_t len, const struct ft_pkt *p)
{
	static const uint8_t zero[16];
	uint32_t have;

	assert_memory_equal(p->key.pad, zero, sizeof(p->key.pad));
	assert_true(p->key.tunnel < FT_TUNNEL_MAX);
	assert_int_equal(p->hash, ref_crc32c(&p->key, sizeof(p->key)));
	assert_int_equal(p->hash, ft_flow_key_hash(&p->key));
	assert_true(p->key.family == 4 || p->key.family == 6);
	if (p->key.family == 4) {
		assert_memory_equal(p->key.addr[0] + 4, zero, 12);
		assert_memory_equal(p->key.addr[1] + 4, zero, 12);
	}
	/* Sorted: endpoint 0 <= endpoint 1. */
	assert_true(
		endpoint_le(p->key.addr[0], p->key.port[0], p->key.addr[1], p->key.port[1], 16));
	assert_true(p->dir <= 1);
	assert_true(p->l3_offset < len);
	assert_true(p->payload_offset <= len);
	assert_true(p->payload_len <= len - p->payload_offset);
	assert_true(p->key.vlan[0] <= 0x0fff && p->key.vlan[1] <= 0x0fff);
	if (p->flags & FT_PKT_F_LATER_FRAG) {
		assert_true(p->flags & FT_PKT_F_FRAGMENT);
		assert_int_equal(p->l4_offset, 0);
		assert_int_equal(p->key.port[0], 0);
		assert_int_equal(p->key.port[1], 0);
		assert_false(p->flags & (FT_PKT_F_L4_PAYLOAD | FT_PKT_F_L4_PARTIAL));
		/* frag_offset 0: a first fragment too short for its ports/type. */
		if (p->frag_offset == 0) {
			assert_true(is_port_proto(p->key.proto) || is_icmp_proto(p->key.proto));
			assert_true(p->payload_len < (is_icmp_proto(p->key.proto) ? 2u : 4u));
		}
		assert_true(p->tcp_seq == 0 && p->tcp_ack == 0 && p->tcp_flags == 0 &&
			    p->tcp_window == 0 && p->icmp_type == 0 && p->icmp_code == 0);
		return;
	}
	assert_true(p->l4_offset > p->l3_offset);
	assert_true(p->l4_offset <= p->payload_offset);
	if (p->flags & FT_PKT_F_L4_PAYLOAD)
		assert_true(p->payload_offset > p->l4_offset);
	if (p->key.proto != 6)
		assert_true(p->tcp_seq == 0 && p->tcp_ack == 0 && p->tcp_flags == 0 &&
			    p->tcp_window == 0);
	if (!is_icmp_proto(p->key.proto))
		assert_true(p->icmp_type == 0 && p->icmp_code == 0);
	if (!is_port_proto(p->key.proto) && !is_icmp_proto(p->key.proto)) {
		assert_false(p->flags & (FT_PKT_F_L4_PAYLOAD | FT_PKT_F_L4_PARTIAL));
		assert_true(p->key.port[0] == 0 && p->key.port[1] == 0);
		return;
	}
	/* An L4 header was read: its fields are the frame's bytes at l4_offset. */
	have = p->payload_offset - p->l4_offset;
	assert_true(!(p->flags & FT_PKT_F_L4_PAYLOAD) != !(p->flags & FT_PKT_F_L4_PARTIAL));
	if (is_icmp_proto(p->key.proto)) {
		assert_true(have >= 2);
		assert_int_equal(p->icmp_type, data[p->l4_offset]);
		assert_int_equal(p->icmp_code, data[p->l4_offset + 1]);
		assert_true(p->key.port[0] == 0 && p->key.port[1] == 0);
	} else {
		assert_true(have >= 4);
		assert_int_equal(p->key.port[p->dir], get16(data + p->l4_offset));
		assert_int_equal(p->key.port[!p->dir], get16(data + p->l4_offset + 2));
	}
	if (p->flags & FT_PKT_F_L4_PARTIAL) {
		assert_int_equal(p->payload_len, 0);
		/* TCP fields the partial header does not reach are 0. */
		if (have < 8)
			assert_int_equal(p->tcp_seq, 0);
		if (have < 12)
			assert_int_equal(p->tcp_ack, 0);
		if (have < 14)
			assert_int_equal(p->tcp_flags, 0);
		if (have < 16)
			assert_int_equal(p->tcp_window, 0);
	} else if (p->key.proto == 6) {
		assert_true(have >= 20);
		assert_int_equal(p->tcp_flags, data[p->l4_offset + 13]);
	}
}

/* The tunnels every parse below looks into (a test may narrow them). */
static unsigned tunnels = FT_TUNNEL_ALL;

/*
 * Parse data[0..len) from an exact-size heap copy, twice, into structs pre-filled
 * with 0x00 and 0xa5; returns ft_parse's result with *out the parse. The generic
 * parser (no fast path) must give the same result and the same bytes.
 */
static int
parse_bytes(const uint8_t *data, uint32_t len, enum ft_link_type link, struct ft_pkt *out)
{
	struct ft_pkt a, b, g;
	uint8_t *copy = malloc(len);
	int ra, rb, rg;

	assert_true(copy != NULL || len == 0);
	if (len)
		memcpy(copy, data, len);
	memset(&a, 0x00, sizeof(a));
	memset(&b, 0xa5, sizeof(b));
	memset(&g, 0x00, sizeof(g));
	ra = ft_parse(copy, len, link, tunnels, &a);
	rb = ft_parse(copy, len, link, tunnels, &b);
	rg = ft_parse_generic(copy, len, link, tunnels, &g);
	free(copy);

	assert_int_equal(ra, rb);
	assert_int_equal(ra, rg);
	assert_memory_equal(&a, &g, sizeof(a));
	assert_true(ra == 0 || ra == -1);
	/* Every parser-owned byte written, whatever was there before. */
	assert_memory_equal(&a, &b, WORKER_OFF);
	assert_int_equal(a.payload_ip_len, b.payload_ip_len);
	/* The worker's fields (port, ts_ns, wire_len) untouched. */
	for (size_t i = WORKER_OFF; i < WORKER_END; i++) {
		assert_int_equal(((uint8_t *)&a)[i], 0x00);
		assert_int_equal(((uint8_t *)&b)[i], 0xa5);
	}
	if (ra == 0)
		check_success_invariants(data, len, &a);
	else
		assert_true(a.discard < FT_DISCARD_FLOW_TABLE_FULL);
	*out = a;
	return ra;
}

static int
parse_frame(const struct frame *f, enum ft_link_type link, struct ft_pkt *out)
{
	return parse_bytes(f->b, f->n, link, out);
}

static void
expect_ok(const struct frame *f, enum ft_link_type link, struct ft_pkt *p)
{
	int r = parse_frame(f, link, p);

	if (r != 0)
		fail_msg("expected success, got discard %s", ft_discard_names[p->discard]);
}

static void
expect_discard(const struct frame *f, enum ft_link_type link, enum ft_discard reason)
{
	struct ft_pkt p;
	int r = parse_frame(f, link, &p);

	if (r != -1)
		fail_msg("expected discard %s, parse succeeded", ft_discard_names[reason]);
	if (p.discard != reason)
		fail_msg("expected discard %s, got %s", ft_discard_names[reason],
			 ft_discard_names[p.discard]);
}

/* Offsets of an L4 packet as the builder recorded them, no padding after it. */
static void
expect_offsets(const struct frame *f, const struct ft_pkt *p)
{
	assert_int_equal(p->l3_offset, f->l3);
	assert_int_equal(p->l4_offset, f->l4);
	assert_int_equal(p->payload_offset, f->payload);
	assert_int_equal(p->payload_len, f->n - f->payload);
	assert_int_equal(p->payload_ip_len, p->payload_len);
	assert_true(p->flags & FT_PKT_F_L4_PAYLOAD);
}

static void
expect_key(const struct ft_pkt *p, const struct ft_flow_key *k, uint8_t dir)
{
	assert_memory_equal(&p->key, k, sizeof(*k));
	assert_int_equal(p->dir, dir);
}

/*
 * Every prefix of the frame (its IP length always says more than the prefix
 * holds, so every cut is a capture cut): shorter than a recorded bound -> that
 * bound's reason; inside the L4 header past the bounds -> the flow packet with
 * the header fields the prefix holds, FT_PKT_F_L4_PARTIAL, no payload; at least
 * the whole header stack -> the full packet with the payload cut to the prefix.
 * The frame's own parse gives the key and the other flags (each test checks
 * that parse against what it built); the L4 fields come from the builder.
 */
static void
sweep(const struct frame *f, enum ft_link_type link)
{
	struct ft_pkt full;

	expect_ok(f, link, &full);
	assert_int_equal(full.l4_offset, f->l4);
	assert_int_equal(full.payload_offset, f->payload);
	for (uint32_t k = 0; k <= f->n; k++) {
		struct ft_pkt p;
		int r = parse_bytes(f->b, k, link, &p);
		const struct bound *b = NULL;
		uint32_t have = k - f->l4; /* L4 header bytes in the prefix */

		for (unsigned int i = 0; i < f->nb; i++) {
			if (k < f->bounds[i].end) {
				b = &f->bounds[i];
				break;
			}
		}
		if (b) {
			if (r != -1 || p.discard != b->reason)
				fail_msg("prefix %u of %u: expected %s, got %s", k, f->n,
					 ft_discard_names[b->reason],
					 r ? ft_discard_names[p.discard] : "success");
			continue;
		}
		if (r != 0)
			fail_msg("prefix %u of %u: expected success, got %s", k, f->n,
				 ft_discard_names[p.discard]);
		assert_memory_equal(&p.key, &full.key, sizeof(p.key));
		assert_int_equal(p.hash, full.hash);
		assert_int_equal(p.dir, full.dir);
		assert_int_equal(p.l3_offset, f->l3);
		assert_int_equal(p.l4_offset, f->l4);
		if (k >= f->payload) {
			assert_int_equal(p.flags, full.flags);
			assert_int_equal(p.payload_offset, f->payload);
			assert_int_equal(p.payload_len, k - f->payload);
			/* The IP length still says the whole payload (snaplen). */
			assert_int_equal(p.payload_ip_len, full.payload_ip_len);
			assert_int_equal(p.tcp_seq, full.tcp_seq);
			assert_int_equal(p.tcp_ack, full.tcp_ack);
			assert_int_equal(p.tcp_flags, full.tcp_flags);
			assert_int_equal(p.tcp_window, full.tcp_window);
			continue;
		}
		/* A partial L4 header: only a builder that records one allows this. */
		assert_int_not_equal(f->kind, L4_NONE);
		if (p.flags != ((full.flags & ~FT_PKT_F_L4_PAYLOAD) | FT_PKT_F_L4_PARTIAL))
			fail_msg("prefix %u of %u: flags 0x%x, expected partial", k, f->n, p.flags);
		assert_int_equal(p.payload_offset, k);
		assert_int_equal(p.payload_len, 0);
		assert_int_equal(p.payload_ip_len, 0);
		if (f->kind == L4_ICMP) {
			assert_int_equal(p.icmp_type, f->icmp_type);
			assert_int_equal(p.icmp_code, f->icmp_code);
			continue;
		}
		assert_int_equal(p.key.port[p.dir], f->sport);
		assert_int_equal(p.key.port[!p.dir], f->dport);
		if (f->kind != L4_TCP)
			continue;
		assert_int_equal(p.tcp_seq, have >= 8 ? f->seq : 0);
		assert_int_equal(p.tcp_ack, have >= 12 ? f->ack : 0);
		assert_int_equal(p.tcp_flags, have >= 14 ? f->tcp_flags : 0);
		assert_int_equal(p.tcp_window, have >= 16 ? f->win : 0);
	}
}

static const uint8_t A6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
static const uint8_t B6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};
static const uint8_t C6[16] = {0xfe, 0x80, 0,	 0,    0,    0,	   0,	 0,
			       0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55};

#define IP_A 0x0a000001u /* 10.0.0.1 */
#define IP_B 0x0a000002u
#define IP_C 0xc0a80164u /* 192.168.1.100 */

/* Ethernet / IPv4 / TCP with payload_bytes of data. */
static void
build_eth_v4_tcp(struct frame *f, uint32_t s, uint16_t sp, uint32_t d, uint16_t dp,
		 uint32_t payload_bytes)
{
	uint32_t ip;

	frame_reset(f);
	eth(f, 0x0800);
	ip = ipv4(f, s, d, 6, 0, 0x1234, 0x4000);
	tcp(f, sp, dp, 1000, 2000, FT_TCP_ACK | FT_TCP_PSH, 502, 0);
	data(f, payload_bytes);
	ipv4_done(f, ip);
}

/* ------------------------------------------------------------- the tests */

static void
test_hash_is_crc32c(void **state)
{
	struct ft_flow_key k;
	const char *check = "123456789";

	(void)state;
	/* The reference itself: the CRC-32C check value. */
	assert_int_equal(ref_crc32c(check, 9), 0xe3069283);
	memset(&k, 0, sizeof(k));
	assert_int_equal(ft_flow_key_hash(&k), ref_crc32c(&k, sizeof(k)));
	for (unsigned int i = 0; i < sizeof(k); i++)
		((uint8_t *)&k)[i] = (uint8_t)(i * 37 + 11);
	assert_int_equal(ft_flow_key_hash(&k), ref_crc32c(&k, sizeof(k)));
}

static void
test_link_supported(void **state)
{
	static const uint32_t yes[] = {0, 1, 101, 108, 113, 228, 229, 276};
	static const uint32_t no[] = {2, 9, 12, 14, 100, 105, 127, 192, 220, 0xffffffff};

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_int_equal(ft_parse_link_supported(yes[i]), 1);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_int_equal(ft_parse_link_supported(no[i]), 0);
}

static void
test_ethernet_ipv4_tcp(void **state)
{
	struct ft_pkt p;
	struct ft_flow_key k;
	uint8_t dir;

	(void)state;
	build_eth_v4_tcp(&F, IP_C, 443, IP_A, 51000, 100);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key4(IP_C, 443, IP_A, 51000, 6, 0, 0, &dir);
	assert_int_equal(dir, 1); /* 192.168.1.100 > 10.0.0.1 */
	expect_key(&p, &k, dir);
	expect_offsets(&F, &p);
	assert_int_equal(p.l3_offset, 14);
	assert_int_equal(p.l4_offset, 34);
	assert_int_equal(p.payload_offset, 54);
	assert_int_equal(p.payload_len, 100);
	assert_int_equal(p.tcp_seq, 1000);
	assert_int_equal(p.tcp_ack, 2000);
	assert_int_equal(p.tcp_window, 502);
	assert_int_equal(p.tcp_flags, FT_TCP_ACK | FT_TCP_PSH);
	assert_int_equal(p.flags, FT_PKT_F_L4_PAYLOAD);
	assert_int_equal(p.frag_id, 0x1234);
	assert_int_equal(p.frag_offset, 0);
	assert_int_equal(p.discard, 0);
}

static void
test_linux_sll(void **state)
{
	struct ft_pkt p;
	struct ft_flow_key k;
	uint8_t dir;
	uint32_t ip;

	(void)state;
	frame_reset(&F);
	sll(&F, 0x0800);
	ip = ipv4(&F, IP_A, IP_B, 17, 0, 1, 0);
	udp(&F, 5353, 53);
	data(&F, 30);
	ipv4_done(&F, ip);
	expect_ok(&F, FT_LINK_LINUX_SLL, &p);
	k = key4(IP_A, 5353, IP_B, 53, 17, 0, 0, &dir);
	expect_key(&p, &k, dir);
	expect_offsets(&F, &p);
	assert_int_equal(p.l3_offset, 16);
	sweep(&F, FT_LINK_LINUX_SLL);

	/* SLL carrying a VLAN tag (the kernel leaves some tags in the data). */
	frame_reset(&F);
	sll(&F, 0x8100);
	vlan_tag(&F, 0x2064, 0x86dd); /* PCP 1, VID 100 */
	ip = ipv6(&F, A6, B6, 6);
	tcp(&F, 80, 40000, 5, 6, FT_TCP_SYN | FT_TCP_ACK, 100, 3);
	ipv6_done(&F, ip);
	expect_ok(&F, FT_LINK_LINUX_SLL, &p);
	k = key6(A6, 80, B6, 40000, 6, &dir);
	k.vlan[0] = 100;
	expect_key(&p, &k, dir);
	expect_offsets(&F, &p);
	assert_int_equal(p.l3_offset, 20);

	/* Not IP: ARP. */
	frame_reset(&F);
	sll(&F, 0x0806);
	data(&F, 28);
	expect_discard(&F, FT_LINK_LINUX_SLL, FT_DISCARD_NON_IP);
	/* Shorter than the 16-byte header. */
	F.n = 15;
	expect_discard(&F, FT_LINK_LINUX_SLL, FT_DISCARD_L2_TRUNCATED);
}

static void
test_linux_sll2(void **state)
{
	struct ft_pkt p;
	struct ft_flow_key k;
	uint8_t dir;
	uint32_t ip;

	(void)state;
	frame_reset(&F);
	sll2(&F, 0x86dd);
	ip = ipv6(&F, B6, A6, 6);
	tcp(&F, 22, 50022, 77, 88, FT_TCP_ACK, 1024, 0);
	data(&F, 64);
	ipv6_done(&F, ip);
	expect_ok(&F, FT_LINK_LINUX_SLL2, &p);
	k = key6(B6, 22, A6, 50022, 6, &dir);
	assert_int_equal(dir, 1);
	expect_key(&p, &k, dir);
	expect_offsets(&F, &p);
	assert_int_equal(p.l3_offset, 20);
	sweep(&F, FT_LINK_LINUX_SLL2);

	frame_reset(&F);
	sll2(&F, 0x0800);
	ip = ipv4(&F, IP_B, IP_A, 1, 0, 9, 0);
	icmp(&F, 8, 0);
	ipv4_done(&F, ip);
	expect_ok(&F, FT_LINK_LINUX_SLL2, &p);
	assert_int_equal(p.icmp_type, 8);
	assert_int_equal(p.key.family, 4);
}

static void
test_null_and_loop(void **state)
{
	static const uint32_t v6_families[] = {10, 24, 28, 30};
	struct ft_pkt p;
	struct ft_flow_key k;
	uint8_t dir;
	uint32_t ip;

	(void)state;
	/* NULL, AF_INET, written by a little- and by a big-endian machine. */
	for (int be = 0; be <= 1; be++) {
		frame_reset(&F);
		null_hdr(&F, 2, be);
		ip = ipv4(&F, IP_A, IP_C, 6, 0, 3, 0);
		tcp(&F, 1234, 80, 1, 0, FT_TCP_SYN, 65535, 2);
		ipv4_done(&F, ip);
		expect_ok(&F, FT_LINK_NULL, &p);
		k = key4(IP_A, 1234, IP_C, 80, 6, 0, 0, &dir);
		expect_key(&p, &k, dir);
		expect_offsets(&F, &p);
		assert_int_equal(p.l3_offset, 4);
		sweep(&F, FT_LINK_NULL);
	}
	/* Every AF_INET6 value, both byte orders. */
	for (size_t i = 0; i < sizeof(v6_families) / sizeof(v6_families[0]); i++) {
		for (int be = 0; be <= 1; be++) {
			frame_reset(&F);
			null_hdr(&F, v6_families[i], be);
			ip = ipv6(&F, C6, A6, 17);
			udp(&F, 546, 547);
			ipv6_done(&F, ip);
			expect_ok(&F, FT_LINK_NULL, &p);
			k = key6(C6, 546, A6, 547, 17, &dir);
			expect_key(&p, &k, dir);
		}
	}
	/* Other families: not IP. */
	frame_reset(&F);
	null_hdr(&F, 7, 0); /* AF_OSI-ish */
	data(&F, 40);
	expect_discard(&F, FT_LINK_NULL, FT_DISCARD_NON_IP);
	frame_reset(&F);
	null_hdr(&F, 0x12345678, 0);
	data(&F, 40);
	expect_discard(&F, FT_LINK_NULL, FT_DISCARD_NON_IP);

	/* LOOP: network order only. */
	frame_reset(&F);
	null_hdr(&F, 24, 1);
	ip = ipv6(&F, A6, B6, 58);
	icmp(&F, 128, 0);
	ipv6_done(&F, ip);
	expect_ok(&F, FT_LINK_LOOP, &p);
	assert_int_equal(p.key.family, 6);
	assert_int_equal(p.key.proto, 58);
	assert_int_equal(p.icmp_type, 128);
	sweep(&F, FT_LINK_LOOP);
	frame_reset(&F);
	null_hdr(&F, 2, 0); /* little-endian on a LOOP link: 0x02000000, not AF_INET */
	ip = ipv4(&F, IP_A, IP_B, 17, 0, 0, 0);
	udp(&F, 1, 2);
	ipv4_done(&F, ip);
	expect_discard(&F, FT_LINK_LOOP, FT_DISCARD_NON_IP);
	F.n = 3;
	expect_discard(&F, FT_LINK_LOOP, FT_DISCARD_L2_TRUNCATED);
	expect_discard(&F, FT_LINK_NULL, FT_DISCARD_L2_TRUNCATED);
}

static void
test_raw_links(void **state)
{
	struct ft_pkt p;
	struct ft_flow_key k;
	uint8_t dir;
	uint32_t ip;

	(void)state;
	/* RAW (101) IPv4: an empty frame cannot say its version. */
	frame_reset(&F);
	need(&F, 1, FT_DISCARD_L2_TRUNCATED);
	ip = ipv4(&F, IP_B, IP_A, 17, 0, 0, 0);
	udp(&F, 53, 33333);
	data(&F, 12);
	ipv4_done(&F, ip);
	expect_ok(&F, FT_LINK_RAW, &p);
	k = key4(IP_B, 53, IP_A, 33333, 17, 0, 0, &dir);
	expect_key(&p, &k, dir);
	expect_offsets(&F, &p);
	assert_int_equal(p.l3_offset, 0);
	sweep(&F, FT_LINK_RAW);

	/* RAW IPv6. */
	frame_reset(&F);
	need(&F, 1, FT_DISCARD_L2_TRUNCATED);
	ip = ipv6(&F, A6, C6, 132);
	sctp(&F, 36412, 36412);
	data(&F, 16);
	ipv6_done(&F, ip);
	expect_ok(&F, FT_LINK_RAW, &p);
	k = key6(A6, 36412, C6, 36412, 132, &dir);
	expect_key(&p, &k, dir);
	expect_offsets(&F, &p);
	sweep(&F, FT_LINK_RAW);

	/* The IPV6 link type takes it too; the IPV4 one calls it a bad version. */
	expect_ok(&F, FT_LINK_IPV6, &p);
	expect_key(&p, &k, dir);
	expect_discard(&F, FT_LINK_IPV4, FT_DISCARD_IP_BAD_VERSION);

	/* IPV4 (228): no link header, so a short frame is an IPv4 truncation. */
	frame_reset(&F);
	ip = ipv4(&F, IP_A, IP_B, 6, 0, 0, 0);
	tcp(&F, 10, 20, 0, 0, FT_TCP_RST, 0, 0);
	ipv4_done(&F, ip);
	expect_ok(&F, FT_LINK_IPV4, &p);
	assert_int_equal(p.tcp_flags, FT_TCP_RST);
	sweep(&F, FT_LINK_IPV4);
	expect_discard(&F, FT_LINK_IPV6, FT_DISCARD_IP_BAD_VERSION);

	/* A version nibble that is neither 4 nor 6. */
	F.b[0] = 0x55;
	expect_discard(&F, FT_LINK_RAW, FT_DISCARD_IP_BAD_VERSION);

	/* An unsupported link type value: nothing is parsed. */
	build_eth_v4_tcp(&F, IP_A, 1, IP_B, 2, 0);
	expect_discard(&F, (enum ft_link_type)105, FT_DISCARD_NON_IP);
}

static void
test_vlan_stacks(void **state)
{
	static const uint16_t tpids[] = {0x8100, 0x88a8, 0x9100};
	struct ft_pkt p;
	struct ft_flow_key k;
	uint8_t dir;
	uint32_t ip;

	(void)state;
	/* 1..4 tags with each TPID: accepted, the first two VIDs (12 bits) keyed. */
	for (unsigned int tags = 1; tags <= FT_PARSE_MAX_VLAN; tags++) {
		for (size_t t = 0; t < 3; t++) {
			uint16_t vids[FT_PARSE_MAX_VLAN];

			frame_reset(&F);
			eth(&F, tpids[t]);
			for (unsigned int i = 0; i < tags; i++) {
				vids[i] = (uint16_t)(100 * (i + 1) + t);
				/* PCP 5 and DEI set: must not leak into the key. */
				vlan_tag(&F, 0xb000 | vids[i], i + 1 < tags ? 0x8100 : 0x0800);
			}
			ip = ipv4(&F, IP_A, IP_B, 1, 0, 0, 0);
			icmp(&F, 0, 0);
			ipv4_done(&F, ip);
			expect_ok(&F, FT_LINK_ETHERNET, &p);
			k = key4(IP_A, 0, IP_B, 0, 1, vids[0], tags > 1 ? vids[1] : 0, &dir);
			expect_key(&p, &k, dir);
			expect_offsets(&F, &p);
			assert_int_equal(p.l3_offset, 14 + 4 * tags);
			if (tags == 3)
				sweep(&F, FT_LINK_ETHERNET);
		}
	}
	/* One tag more than the parser follows. */
	frame_reset(&F);
	eth(&F, 0x88a8);
	for (unsigned int i = 0; i <= FT_PARSE_MAX_VLAN; i++)
		vlan_tag(&F, (uint16_t)(i + 1), i < FT_PARSE_MAX_VLAN ? 0x8100 : 0x0800);
	ip = ipv4(&F, IP_A, IP_B, 17, 0, 0, 0);
	udp(&F, 1, 2);
	ipv4_done(&F, ip);
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_L2_TOO_DEEP);

	/* A tag cut short. */
	frame_reset(&F);
	eth(&F, 0x8100);
	put16(&F, 5);
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_L2_TRUNCATED);

	/* VLAN 0 (priority tag) is keyed as untagged: VID 0. */
	frame_reset(&F);
	eth(&F, 0x8100);
	vlan_tag(&F, 0xe000, 0x0800);
	ip = ipv4(&F, IP_A, IP_B, 17, 0, 0, 0);
	udp(&F, 7, 8);
	ipv4_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	assert_int_equal(p.key.vlan[0], 0);
}

static void
test_pppoe(void **state)
{
	struct ft_pkt p;
	struct ft_flow_key k;
	uint8_t dir;
	uint32_t ip;

	(void)state;
	frame_reset(&F);
	eth(&F, 0x8864);
	pppoe(&F, 0x0021);
	ip = ipv4(&F, IP_C, IP_A, 6, 0, 0, 0);
	tcp(&F, 8080, 1025, 1, 2, FT_TCP_FIN | FT_TCP_ACK, 3, 1);
	data(&F, 9);
	ipv4_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key4(IP_C, 8080, IP_A, 1025, 6, 0, 0, &dir);
	expect_key(&p, &k, dir);
	expect_offsets(&F, &p);
	assert_int_equal(p.l3_offset, 22);
	sweep(&F, FT_LINK_ETHERNET);

	frame_reset(&F);
	eth(&F, 0x8100);
	vlan_tag(&F, 7, 0x8864);
	pppoe(&F, 0x0057);
	ip = ipv6(&F, A6, B6, 17);
	udp(&F, 4500, 4500);
	ipv6_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key6(A6, 4500, B6, 4500, 17, &dir);
	k.vlan[0] = 7;
	expect_key(&p, &k, dir);
	assert_int_equal(p.l3_offset, 26);

	/* Compressed protocol field (RFC 1661 6.5), IPv4 and IPv6. */
	frame_reset(&F);
	eth(&F, 0x8864);
	pppoe_pfc(&F, 0x21);
	ip = ipv4(&F, IP_C, IP_A, 6, 0, 0, 0);
	tcp(&F, 8080, 1025, 1, 2, FT_TCP_ACK, 3, 0);
	data(&F, 9);
	ipv4_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key4(IP_C, 8080, IP_A, 1025, 6, 0, 0, &dir);
	expect_key(&p, &k, dir);
	expect_offsets(&F, &p);
	assert_int_equal(p.l3_offset, 21);
	sweep(&F, FT_LINK_ETHERNET);
	frame_reset(&F);
	eth(&F, 0x8864);
	pppoe_pfc(&F, 0x57);
	ip = ipv6(&F, B6, A6, 17);
	udp(&F, 1, 2);
	ipv6_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	expect_offsets(&F, &p);
	assert_int_equal(p.key.family, 6);
	/* A compressed field naming something else (0x23, OSI): not IP. */
	F.b[20] = 0x23;
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_NON_IP);

	/* LCP (0xc021) in a PPPoE session: not IP. */
	frame_reset(&F);
	eth(&F, 0x8864);
	pppoe(&F, 0xc021);
	data(&F, 20);
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_NON_IP);
	/* PPPoE discovery (0x8863) is another ethertype: not IP. */
	set16(&F, 12, 0x8863);
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_NON_IP);
	/* PPP says IPv4, the header is IPv6. */
	frame_reset(&F);
	eth(&F, 0x8864);
	pppoe(&F, 0x0021);
	ip = ipv6(&F, A6, B6, 59);
	ipv6_done(&F, ip);
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_IP_BAD_VERSION);
}

static void
test_mpls(void **state)
{
	struct ft_pkt p;
	struct ft_flow_key k;
	uint8_t dir;
	uint32_t ip;

	(void)state;
	frame_reset(&F);
	eth(&F, 0x8847);
	mpls(&F, 16001, 1);
	ip = ipv4(&F, IP_A, IP_B, 17, 0, 0, 0);
	udp(&F, 4789, 12345);
	data(&F, 50);
	ipv4_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key4(IP_A, 4789, IP_B, 12345, 17, 0, 0, &dir);
	expect_key(&p, &k, dir);
	expect_offsets(&F, &p);
	assert_int_equal(p.l3_offset, 18);

	/* Full-depth stack, IPv6, multicast ethertype, behind a VLAN tag. */
	frame_reset(&F);
	eth(&F, 0x8100);
	vlan_tag(&F, 300, 0x8848);
	for (unsigned int i = 0; i < FT_PARSE_MAX_MPLS; i++)
		mpls(&F, 100 + i, i + 1 == FT_PARSE_MAX_MPLS);
	ip = ipv6(&F, C6, B6, 6);
	tcp(&F, 179, 50179, 1, 1, FT_TCP_ACK, 1, 0);
	ipv6_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key6(C6, 179, B6, 50179, 6, &dir);
	k.vlan[0] = 300;
	expect_key(&p, &k, dir);
	expect_offsets(&F, &p);
	assert_int_equal(p.l3_offset, 18 + 4 * FT_PARSE_MAX_MPLS);
	sweep(&F, FT_LINK_ETHERNET);

	/* One label too many (no bottom-of-stack within the limit). */
	frame_reset(&F);
	eth(&F, 0x8847);
	for (unsigned int i = 0; i <= FT_PARSE_MAX_MPLS; i++)
		mpls(&F, 100 + i, i == FT_PARSE_MAX_MPLS);
	ip = ipv4(&F, IP_A, IP_B, 17, 0, 0, 0);
	udp(&F, 1, 2);
	ipv4_done(&F, ip);
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_L2_TOO_DEEP);

	/* Pseudowire control word (first nibble 0) then Ethernet: not IP. */
	frame_reset(&F);
	eth(&F, 0x8847);
	mpls(&F, 16, 1);
	put32(&F, 0x00000001);
	eth(&F, 0x0800);
	data(&F, 40);
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_NON_IP);
	/* Bottom label, then nothing. */
	frame_reset(&F);
	eth(&F, 0x8847);
	mpls(&F, 16, 1);
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_L2_TRUNCATED);
}

static void
test_non_ip_ethernet(void **state)
{
	(void)state;
	/* 802.3 length frame (LLC/STP). */
	frame_reset(&F);
	eth(&F, 38);
	put8(&F, 0x42);
	put8(&F, 0x42);
	put8(&F, 0x03);
	data(&F, 35);
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_NON_IP);
	/* 0x05ff, the last value below the ethertype range. */
	set16(&F, 12, 0x05ff);
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_NON_IP);
	/* ARP and LLDP. */
	set16(&F, 12, 0x0806);
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_NON_IP);
	set16(&F, 12, 0x88cc);
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_NON_IP);
	/* Ethertype IPv4 over an IPv6 header. */
	frame_reset(&F);
	eth(&F, 0x0800);
	ipv6(&F, A6, B6, 59);
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_IP_BAD_VERSION);
	set16(&F, 12, 0x86dd);
	F.b[14] = 0x45;
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_IP_BAD_VERSION);
	/* Shorter than an Ethernet header. */
	F.n = 13;
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_L2_TRUNCATED);
	F.n = 0;
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_L2_TRUNCATED);
	/* Header only: the IPv6 header is missing. */
	F.n = 14;
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_IPV6_TRUNCATED);
	set16(&F, 12, 0x0800);
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_IPV4_TRUNCATED);
}

static void
test_ipv4_header_errors(void **state)
{
	struct ft_pkt p;
	uint32_t ip;

	(void)state;
	/* Options: IHL 15 (40 bytes of options). */
	frame_reset(&F);
	eth(&F, 0x0800);
	ip = ipv4(&F, IP_A, IP_B, 6, 10, 0, 0);
	tcp(&F, 1, 2, 3, 4, FT_TCP_SYN, 5, 0);
	ipv4_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	expect_offsets(&F, &p);
	assert_int_equal(p.l4_offset, 14 + 60);
	assert_int_equal(p.flags, FT_PKT_F_IPV4_OPTIONS | FT_PKT_F_L4_PAYLOAD);
	sweep(&F, FT_LINK_ETHERNET);

	/* IHL < 5. */
	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		F.b[ip] = 0x40 | ihl;
		expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_IPV4_BAD_IHL);
	}
	/* IHL larger than what was captured. */
	frame_reset(&F);
	eth(&F, 0x0800);
	ip = ipv4(&F, IP_A, IP_B, 17, 0, 0, 0);
	F.b[ip] = 0x46;
	set16(&F, ip + 2, 20);
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_IPV4_TRUNCATED);

	/* Total length below the header length (not 0). */
	frame_reset(&F);
	eth(&F, 0x0800);
	ip = ipv4(&F, IP_A, IP_B, 17, 1, 0, 0);
	udp(&F, 1, 2);
	data(&F, 20);
	ipv4_done(&F, ip);
	for (uint16_t tot = 1; tot < 24; tot++) {
		set16(&F, ip + 2, tot);
		expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_IPV4_BAD_LENGTH);
	}
	/* Total length 0 on a normal-sized frame: not bad, a TSO/GSO frame captured
	 * on the sender (the NIC fills the field): the packet runs to the frame end. */
	set16(&F, ip + 2, 0);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	expect_offsets(&F, &p);
	assert_int_equal(p.payload_len, 20);
	/* The IP length ends before the UDP header does (bytes captured): the sender
	 * made it malformed, no capture cut it: a discard, not a partial header. */
	set16(&F, ip + 2, 24);
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_L4_TRUNCATED);
	set16(&F, ip + 2, 24 + 7);
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_L4_TRUNCATED);
	/* ... and so it stays when the capture also stops inside the header. */
	F.n = ip + 24 + 5;
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_L4_TRUNCATED);
	F.n = ip + 24 + 8 + 20;
	set16(&F, ip + 2, 24 + 8);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	assert_int_equal(p.payload_len, 0);
	assert_int_equal(p.flags, FT_PKT_F_IPV4_OPTIONS | FT_PKT_F_L4_PAYLOAD);
}

static void
test_big_tcp(void **state)
{
	struct ft_pkt p;
	uint32_t ip;

	(void)state;
	/* IPv4 with total length 0 and 70000 bytes of IP: up to the frame end. */
	frame_reset(&F);
	eth(&F, 0x0800);
	ip = ipv4(&F, IP_A, IP_B, 6, 0, 0, 0x4000);
	tcp(&F, 40000, 5201, 1, 1, FT_TCP_ACK, 64, 3);
	data(&F, 70000 - 20 - 32);
	assert_int_equal(F.n - ip, 70000);
	set16(&F, ip + 2, 0);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	expect_offsets(&F, &p);
	assert_int_equal(p.payload_len, 70000 - 52);

	/* Length 0 means the frame end at any size (TSO/GSO frames captured on the
	 * sender): 65536, 65535, and 2016 bytes of IP as in tcpdump's
	 * ipv4_tcp_http_xml_tso test capture. */
	F.n = ip + 65536;
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	assert_int_equal(p.payload_len, 65536 - 52);
	F.n = ip + 65535;
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	assert_int_equal(p.payload_len, 65535 - 52);
	F.n = ip + 2016;
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	assert_int_equal(p.flags, FT_PKT_F_L4_PAYLOAD);
	assert_int_equal(p.payload_offset, F.payload);
	assert_int_equal(p.payload_len, 2016 - 52);
	/* With length 0 the frame end is the IP end, so a TCP header it cuts is
	 * malformed, not cut by a capture: a discard (the same bytes with a length
	 * field that covers the header are a partial packet). */
	F.n = ip + 20 + 30;
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_L4_TRUNCATED);
	F.n = ip + 20 + 10;
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_L4_TRUNCATED);
	set16(&F, ip + 2, 1500);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	assert_int_equal(p.flags, FT_PKT_F_L4_PARTIAL);

	/* IPv6 jumbogram: payload length 0, hop-by-hop first (jumbo option). */
	frame_reset(&F);
	eth(&F, 0x86dd);
	ip = ipv6(&F, A6, B6, 0);
	ipv6_ext(&F, 58, 0);
	icmp(&F, 128, 0);
	data(&F, 66000);
	set16(&F, ip + 4, 0);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	expect_offsets(&F, &p);
	assert_int_equal(p.l4_offset, 14 + 40 + 8);
	/* With a hop-by-hop header first, 0 means the frame end at any size. */
	F.n = ip + 40 + 8 + 4 + 100;
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	expect_offsets(&F, &p);
	assert_int_equal(p.payload_len, 100);

	/* Payload length 0, no hop-by-hop, more than 40 + 65535 bytes of IPv6: Linux
	 * BIG TCP as a capture sees it (the jumbo option is gone), as in tcpdump's
	 * bigtcp-ipv6-vxlan-ipv6 capture (UDP/VXLAN): up to the frame end. */
	frame_reset(&F);
	eth(&F, 0x86dd);
	ip = ipv6(&F, A6, B6, 17);
	udp(&F, 50000, 4789);
	data(&F, 80000);
	set16(&F, ip + 4, 0);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	expect_offsets(&F, &p);
	assert_int_equal(p.payload_len, 80000);
	assert_int_equal(p.key.port[p.dir], 50000);
	/* One byte over the field's range: the frame end; exactly 40 + 65535 bytes:
	 * the field could have said it, so 0 is an empty packet, and the UDP header
	 * lies outside it (malformed): a discard. */
	F.n = ip + 40 + 65536;
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	assert_int_equal(p.payload_len, 65536 - 8);
	F.n = ip + 40 + 65535;
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_L4_TRUNCATED);
	F.n = ip + 40 + 100;
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_L4_TRUNCATED);
	/* An empty IPv6 packet whose next header needs no bytes (59): a flow packet
	 * with nothing after the fixed header, even with bytes captured after it. */
	F.b[ip + 6] = 59;
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	assert_int_equal(p.key.proto, 59);
	assert_int_equal(p.payload_offset, ip + 40);
	assert_int_equal(p.payload_len, 0);
}

static void
test_ipv4_fragments(void **state)
{
	struct ft_pkt first, later;
	struct ft_flow_key k;
	uint8_t dir;
	uint32_t ip;

	(void)state;
	/* First fragment: MF, offset 0, carries the UDP header -> 5-tuple flow. */
	frame_reset(&F);
	eth(&F, 0x8100);
	vlan_tag(&F, 42, 0x0800);
	ip = ipv4(&F, IP_C, IP_A, 17, 0, 0xbeef, 0x2000);
	udp(&F, 53, 40000);
	data(&F, 1472);
	ipv4_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &first);
	k = key4(IP_C, 53, IP_A, 40000, 17, 42, 0, &dir);
	expect_key(&first, &k, dir);
	expect_offsets(&F, &first);
	assert_int_equal(first.flags,
			 FT_PKT_F_FRAGMENT | FT_PKT_F_L4_PAYLOAD | FT_PKT_F_MORE_FRAGS);
	assert_int_equal(first.frag_id, 0xbeef);
	assert_int_equal(first.frag_offset, 0);

	/* Later fragment (offset 185 * 8, MF clear): ports 0, no L4 header. */
	frame_reset(&F);
	eth(&F, 0x8100);
	vlan_tag(&F, 42, 0x0800);
	ip = ipv4(&F, IP_C, IP_A, 17, 0, 0xbeef, 185);
	data(&F, 100);
	ipv4_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &later);
	k = key4(IP_C, 0, IP_A, 0, 17, 42, 0, &dir);
	expect_key(&later, &k, dir);
	assert_int_equal(later.flags, FT_PKT_F_FRAGMENT | FT_PKT_F_LATER_FRAG);
	assert_int_equal(later.frag_id, 0xbeef);
	assert_int_equal(later.frag_offset, 185);
	assert_int_equal(later.l4_offset, 0);
	/* The fragment data is reported as (non-L4) payload. */
	assert_int_equal(later.payload_offset, 18 + 20);
	assert_int_equal(later.payload_len, 100);
	assert_int_equal(later.l3_offset, 18);

	/* Middle fragment (MF and offset): a later fragment too. A few bytes only:
	 * there is no L4 header to be truncated. */
	frame_reset(&F);
	eth(&F, 0x0800);
	ip = ipv4(&F, IP_A, IP_B, 6, 0, 7, 0x2000 | 1);
	data(&F, 3);
	ipv4_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &later);
	assert_int_equal(later.flags,
			 FT_PKT_F_FRAGMENT | FT_PKT_F_LATER_FRAG | FT_PKT_F_MORE_FRAGS);
	assert_int_equal(later.frag_offset, 1);
	assert_int_equal(later.tcp_flags, 0);
	assert_int_equal(later.key.proto, 6);

	/* DF alone is not a fragment. */
	build_eth_v4_tcp(&F, IP_A, 1, IP_B, 2, 0);
	expect_ok(&F, FT_LINK_ETHERNET, &later);
	assert_false(later.flags & FT_PKT_F_FRAGMENT);

	/* First fragments too short for their L4 header: test_tiny_first_fragments. */
}

/*
 * Build Ethernet / [VLAN] / IPv4 or IPv6 (+ fragment header) / the L4 header
 * (tcp_opts option words for TCP) as the first fragment (offset 0, MF) of
 * datagram 0x77, then cut the IP length to m bytes of L4 header, as a tiny
 * fragment carries (the frame is cut there too, then padded to Ethernet's 60
 * bytes when shorter: padding is not fragment data).
 */
static void
build_tiny_first(struct frame *f, int v6, uint8_t proto, unsigned int tcp_opts, uint32_t m,
		 uint16_t frag_field)
{
	uint32_t ip;

	frame_reset(f);
	eth(f, 0x8100);
	vlan_tag(f, 42, v6 ? 0x86dd : 0x0800);
	if (v6) {
		ip = ipv6(f, C6, A6, 44);
		ipv6_frag(f, proto, 0, frag_field != 0, 0x77);
	} else {
		ip = ipv4(f, IP_C, IP_A, proto, 0, 0x77, frag_field);
	}
	switch (proto) {
	case 6:
		tcp(f, 12345, 8080, 0x01020304, 0x05060708, FT_TCP_SYN, 0x0a0b, tcp_opts);
		break;
	case 132:
		sctp(f, 2905, 2906);
		break;
	case 1:
	case 58:
		icmp(f, 8, 0);
		break;
	default:
		udp(f, 53, 40000);
		break;
	}
	f->n = f->l4 + m;
	if (v6)
		ipv6_done(f, ip);
	else
		ipv4_done(f, ip);
	while (f->n < 60)
		put8(f, 0xee);
}

/* A tiny first fragment (RFC 1858) is never a discard. */
static void
test_tiny_first_fragments(void **state)
{
	static const struct {
		uint8_t proto;
		uint32_t hdr; /* the whole L4 header (TCP: without options) */
		uint32_t min; /* bytes for the ports, or ICMP type and code */
	} l4s[] = {{6, 20, 4}, {17, 8, 4}, {136, 8, 4}, {132, 12, 4}, {1, 4, 2}};
	struct ft_pkt p;
	struct ft_flow_key k;
	uint8_t dir;

	(void)state;
	for (int v6 = 0; v6 <= 1; v6++) {
		for (size_t i = 0; i < sizeof(l4s) / sizeof(l4s[0]); i++) {
			uint8_t proto = l4s[i].proto == 1 && v6 ? 58 : l4s[i].proto;
			int icmp_p = proto == 1 || proto == 58;

			for (uint32_t m = 0; m <= l4s[i].hdr; m++) {
				build_tiny_first(&F, v6, proto, 0, m, v6 ? 1 : 0x2000);
				expect_ok(&F, FT_LINK_ETHERNET, &p);
				assert_int_equal(p.key.proto, proto);
				assert_int_equal(p.frag_id, 0x77);
				assert_int_equal(p.frag_offset, 0);
				assert_int_equal(p.l3_offset, F.l3);
				if (m < l4s[i].min) {
					/* No ports: exactly what a later fragment gives. */
					k = v6 ? key6(C6, 0, A6, 0, proto, &dir)
					       : key4(IP_C, 0, IP_A, 0, proto, 42, 0, &dir);
					if (v6)
						k.vlan[0] = 42;
					expect_key(&p, &k, dir);
					assert_int_equal(p.flags, FT_PKT_F_FRAGMENT |
									  FT_PKT_F_LATER_FRAG |
									  FT_PKT_F_MORE_FRAGS);
					assert_int_equal(p.l4_offset, 0);
					assert_int_equal(p.payload_offset, F.l4);
					assert_int_equal(p.payload_len, m);
					assert_int_equal(p.icmp_type, 0);
					continue;
				}
				if (icmp_p) {
					k = v6 ? key6(C6, 0, A6, 0, proto, &dir)
					       : key4(IP_C, 0, IP_A, 0, proto, 42, 0, &dir);
					assert_int_equal(p.icmp_type, 8);
				} else {
					k = v6 ? key6(C6, F.sport, A6, F.dport, proto, &dir)
					       : key4(IP_C, F.sport, IP_A, F.dport, proto, 42, 0,
						      &dir);
				}
				if (v6)
					k.vlan[0] = 42;
				expect_key(&p, &k, dir);
				assert_int_equal(p.l4_offset, F.l4);
				if (m == l4s[i].hdr) {
					/* The whole header: an ordinary first fragment. */
					assert_int_equal(p.flags, FT_PKT_F_FRAGMENT |
									  FT_PKT_F_L4_PAYLOAD |
									  FT_PKT_F_MORE_FRAGS);
					assert_int_equal(p.payload_offset, F.l4 + m);
					continue;
				}
				assert_int_equal(p.flags, FT_PKT_F_FRAGMENT | FT_PKT_F_L4_PARTIAL |
								  FT_PKT_F_MORE_FRAGS);
				/* The end of the fragment's data, not of the padded frame. */
				assert_int_equal(p.payload_offset, F.l4 + m);
				assert_true(p.payload_offset < F.n || v6);
				assert_int_equal(p.payload_len, 0);
				if (proto == 6) {
					assert_int_equal(p.tcp_seq, m >= 8 ? F.seq : 0);
					assert_int_equal(p.tcp_ack, m >= 12 ? F.ack : 0);
					assert_int_equal(p.tcp_flags, m >= 14 ? F.tcp_flags : 0);
					assert_int_equal(p.tcp_window, m >= 16 ? F.win : 0);
				}
			}
			/* Not a fragment (MF clear, offset 0): the same short header is
			 * malformed. */
			for (uint32_t m = 0; m < l4s[i].hdr; m++) {
				build_tiny_first(&F, v6, proto, 0, m, v6 ? 0 : 0x4000);
				expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_L4_TRUNCATED);
			}
		}
	}

	/* tcpdump/suricata's case: 8 bytes of TCP in the first fragment (ports and
	 * sequence number), as in suricata-verify's defrag-eth-vlan-ipv4-tcp-syn. */
	build_tiny_first(&F, 0, 6, 0, 8, 0x2000);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key4(IP_C, 12345, IP_A, 8080, 6, 42, 0, &dir);
	expect_key(&p, &k, dir);
	assert_int_equal(p.tcp_seq, 0x01020304);
	assert_int_equal(p.tcp_flags, 0);

	/* The 20 fixed TCP bytes but options past the fragment's end: every fixed
	 * field, partial, no payload. */
	for (uint32_t m = 20; m < 32; m++) {
		build_tiny_first(&F, 0, 6, 3, m, 0x2000);
		expect_ok(&F, FT_LINK_ETHERNET, &p);
		assert_int_equal(p.flags,
				 FT_PKT_F_FRAGMENT | FT_PKT_F_L4_PARTIAL | FT_PKT_F_MORE_FRAGS);
		assert_int_equal(p.tcp_seq, 0x01020304);
		assert_int_equal(p.tcp_ack, 0x05060708);
		assert_int_equal(p.tcp_flags, FT_TCP_SYN);
		assert_int_equal(p.tcp_window, 0x0a0b);
		assert_int_equal(p.payload_offset, F.l4 + m);
		assert_int_equal(p.payload_len, 0);
	}
	build_tiny_first(&F, 0, 6, 3, 32, 0x2000);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	assert_int_equal(p.flags, FT_PKT_F_FRAGMENT | FT_PKT_F_L4_PAYLOAD | FT_PKT_F_MORE_FRAGS);

	/* A first fragment whose IP length holds the whole header but whose capture
	 * stops before the ports: a capture cut like any other, so a discard. */
	frame_reset(&F);
	eth(&F, 0x0800);
	uint32_t ip = ipv4(&F, IP_A, IP_B, 6, 0, 7, 0x2000);
	tcp(&F, 1, 2, 3, 4, FT_TCP_ACK, 5, 0);
	data(&F, 1000);
	ipv4_done(&F, ip);
	F.n = F.l4 + 3;
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_L4_TRUNCATED);
	F.n = F.l4 + 4;
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	assert_int_equal(p.flags, FT_PKT_F_FRAGMENT | FT_PKT_F_L4_PARTIAL | FT_PKT_F_MORE_FRAGS);
	/* A tiny first fragment cut by the capture too: still not a discard. */
	set16(&F, ip + 2, 20 + 8);
	F.n = F.l4 + 3;
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	assert_int_equal(p.flags, FT_PKT_F_FRAGMENT | FT_PKT_F_LATER_FRAG | FT_PKT_F_MORE_FRAGS);
	assert_int_equal(p.payload_len, 3);
}

static void
test_ipv6_fragments(void **state)
{
	struct ft_pkt p;
	struct ft_flow_key k;
	uint8_t dir;
	uint32_t ip;

	(void)state;
	/* First fragment, with a destination-options header after it. */
	frame_reset(&F);
	eth(&F, 0x86dd);
	ip = ipv6(&F, A6, C6, 44);
	ipv6_frag(&F, 60, 0, 1, 0xa1b2c3d4);
	ipv6_ext(&F, 6, 0);
	tcp(&F, 443, 55555, 9, 10, FT_TCP_ACK, 7, 0);
	data(&F, 1200);
	ipv6_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key6(A6, 443, C6, 55555, 6, &dir);
	expect_key(&p, &k, dir);
	expect_offsets(&F, &p);
	/* Its data starts at the options header, not at TCP: FRAG_EXT. */
	assert_int_equal(p.flags, FT_PKT_F_FRAGMENT | FT_PKT_F_L4_PAYLOAD | FT_PKT_F_MORE_FRAGS |
					  FT_PKT_F_FRAG_EXT);
	assert_int_equal(p.frag_id, 0xa1b2c3d4);
	assert_int_equal(p.frag_offset, 0);
	sweep(&F, FT_LINK_ETHERNET);

	/* Later fragment: what follows the fragment header is data, even if it
	 * looks like an extension header. */
	frame_reset(&F);
	eth(&F, 0x86dd);
	ip = ipv6(&F, C6, A6, 0);
	ipv6_ext(&F, 44, 0);
	ipv6_frag(&F, 60, 151, 0, 0xa1b2c3d4);
	put8(&F, 6); /* would be a destination-options header claiming 2 KB */
	put8(&F, 255);
	data(&F, 30);
	ipv6_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key6(C6, 0, A6, 0, 60, &dir);
	expect_key(&p, &k, dir);
	assert_int_equal(p.flags, FT_PKT_F_FRAGMENT | FT_PKT_F_LATER_FRAG);
	assert_int_equal(p.frag_id, 0xa1b2c3d4);
	assert_int_equal(p.frag_offset, 151);
	assert_int_equal(p.l4_offset, 0);
	assert_int_equal(p.payload_offset, 14 + 40 + 8 + 8);
	assert_int_equal(p.payload_len, 32);

	/* Atomic fragment (offset 0, M clear, RFC 6946): not a fragment. */
	frame_reset(&F);
	eth(&F, 0x86dd);
	ip = ipv6(&F, A6, B6, 44);
	ipv6_frag(&F, 17, 0, 0, 99);
	udp(&F, 9, 9);
	ipv6_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	expect_offsets(&F, &p);
	assert_int_equal(p.flags, FT_PKT_F_L4_PAYLOAD);
	assert_int_equal(p.frag_id, 99);
}

static void
test_ipv6_ext_chains(void **state)
{
	struct ft_pkt p;
	struct ft_flow_key k;
	uint8_t dir;
	uint32_t ip;

	(void)state;
	/* Hop-by-hop, routing, destination options, AH, mobility, HIP, shim6, TCP. */
	frame_reset(&F);
	eth(&F, 0x86dd);
	ip = ipv6(&F, A6, B6, 0);
	ipv6_ext(&F, 43, 0);
	ipv6_ext(&F, 60, 2); /* 24 bytes */
	ipv6_ext(&F, 51, 1);
	ipv6_ah(&F, 135, 4); /* (4 + 2) * 4 = 24 bytes: AH counts 4-byte units */
	ipv6_ext(&F, 139, 0);
	ipv6_ext(&F, 140, 0);
	ipv6_ext(&F, 6, 0);
	tcp(&F, 5000, 6000, 1, 2, FT_TCP_SYN, 3, 0);
	data(&F, 10);
	ipv6_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key6(A6, 5000, B6, 6000, 6, &dir);
	expect_key(&p, &k, dir);
	expect_offsets(&F, &p);
	assert_int_equal(p.l4_offset, 14 + 40 + 8 + 24 + 16 + 24 + 8 + 8 + 8);
	sweep(&F, FT_LINK_ETHERNET);

	/* Exactly FT_PARSE_MAX_IPV6_EXT headers: accepted; one more: bad_ext. */
	for (unsigned int n = FT_PARSE_MAX_IPV6_EXT; n <= FT_PARSE_MAX_IPV6_EXT + 1; n++) {
		frame_reset(&F);
		eth(&F, 0x86dd);
		ip = ipv6(&F, A6, B6, 60);
		for (unsigned int i = 0; i < n; i++)
			ipv6_ext(&F, i + 1 < n ? 60 : 17, 0);
		udp(&F, 1, 2);
		ipv6_done(&F, ip);
		if (n == FT_PARSE_MAX_IPV6_EXT) {
			expect_ok(&F, FT_LINK_ETHERNET, &p);
			expect_offsets(&F, &p);
		} else {
			expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_IPV6_BAD_EXT);
		}
	}

	/* An extension header longer than the IPv6 payload length says (the
	 * captured frame has the bytes): bad_ext, the IP end bounds it. */
	frame_reset(&F);
	eth(&F, 0x86dd);
	ip = ipv6(&F, A6, B6, 60);
	ipv6_ext(&F, 17, 3);
	udp(&F, 1, 2);
	ipv6_done(&F, ip);
	set16(&F, ip + 4, 16);
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_IPV6_BAD_EXT);

	/* No next header (59) and ESP (50) end the walk, no ports. */
	frame_reset(&F);
	eth(&F, 0x86dd);
	ip = ipv6(&F, B6, A6, 60);
	ipv6_ext(&F, 59, 0);
	data(&F, 5);
	ipv6_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key6(B6, 0, A6, 0, 59, &dir);
	expect_key(&p, &k, dir);
	assert_false(p.flags & FT_PKT_F_L4_PAYLOAD);
	assert_int_equal(p.l4_offset, 14 + 48);
	frame_reset(&F);
	eth(&F, 0x86dd);
	ip = ipv6(&F, B6, A6, 50);
	put32(&F, 0x100);
	put32(&F, 1);
	data(&F, 40);
	ipv6_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	assert_int_equal(p.key.proto, 50);
	assert_int_equal(p.key.port[0] + p.key.port[1], 0);
	assert_int_equal(p.l4_offset, 54);
	assert_int_equal(p.payload_offset, 54);
	assert_int_equal(p.payload_len, 48);

	/* IPv6 header cut. */
	F.n = 14 + 39;
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_IPV6_TRUNCATED);
}

static void
test_l4_protocols(void **state)
{
	struct ft_pkt p;
	struct ft_flow_key k;
	uint8_t dir;
	uint32_t ip;

	(void)state;
	/* TCP with 40 bytes of options. */
	frame_reset(&F);
	eth(&F, 0x0800);
	ip = ipv4(&F, IP_A, IP_B, 6, 0, 0, 0);
	tcp(&F, 0xfffe, 0x8001, 0xfedcba98, 0x01234567, 0xff, 0xabcd, 10);
	data(&F, 3);
	ipv4_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	expect_offsets(&F, &p);
	assert_int_equal(p.tcp_seq, 0xfedcba98);
	assert_int_equal(p.tcp_ack, 0x01234567);
	assert_int_equal(p.tcp_flags, 0xff);
	assert_int_equal(p.tcp_window, 0xabcd);
	k = key4(IP_A, 0xfffe, IP_B, 0x8001, 6, 0, 0, &dir);
	expect_key(&p, &k, dir);
	sweep(&F, FT_LINK_ETHERNET);
	/* Data offset < 5. */
	for (uint8_t off = 0; off < 5; off++) {
		F.b[F.l4 + 12] = (uint8_t)(off << 4);
		expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_TCP_BAD_OFFSET);
	}
	/* Data offset beyond the IP end (IP length shortened, bytes captured). */
	F.b[F.l4 + 12] = 15 << 4;
	set16(&F, ip + 2, 20 + 56);
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_L4_TRUNCATED);

	/* UDP, UDP-Lite, SCTP over IPv4; UDP and SCTP over IPv6. */
	static const struct {
		uint8_t proto;
		uint32_t hdr;
	} l4s[] = {{17, 8}, {136, 8}, {132, 12}};
	for (size_t i = 0; i < 3; i++) {
		for (int v6 = 0; v6 <= 1; v6++) {
			frame_reset(&F);
			eth(&F, v6 ? 0x86dd : 0x0800);
			ip = v6 ? ipv6(&F, B6, A6, l4s[i].proto)
				: ipv4(&F, IP_B, IP_A, l4s[i].proto, 0, 0, 0);
			if (l4s[i].hdr == 12)
				sctp(&F, 2905, 2905);
			else
				udp(&F, 2905, 2905);
			data(&F, 17);
			if (v6)
				ipv6_done(&F, ip);
			else
				ipv4_done(&F, ip);
			expect_ok(&F, FT_LINK_ETHERNET, &p);
			expect_offsets(&F, &p);
			assert_int_equal(p.payload_offset - p.l4_offset, l4s[i].hdr);
			if (v6)
				k = key6(B6, 2905, A6, 2905, l4s[i].proto, &dir);
			else
				k = key4(IP_B, 2905, IP_A, 2905, l4s[i].proto, 0, 0, &dir);
			/* Same ports: order by address; B > A so the packet is dir 1. */
			assert_int_equal(dir, 1);
			expect_key(&p, &k, dir);
			sweep(&F, FT_LINK_ETHERNET);
		}
	}

	/* ICMP and ICMPv6: type and code, ports 0. */
	frame_reset(&F);
	eth(&F, 0x0800);
	ip = ipv4(&F, IP_A, IP_B, 1, 0, 0, 0);
	icmp(&F, 3, 13);
	ipv4_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	expect_offsets(&F, &p);
	assert_int_equal(p.icmp_type, 3);
	assert_int_equal(p.icmp_code, 13);
	k = key4(IP_A, 0, IP_B, 0, 1, 0, 0, &dir);
	expect_key(&p, &k, dir);
	sweep(&F, FT_LINK_ETHERNET);
	frame_reset(&F);
	eth(&F, 0x86dd);
	ip = ipv6(&F, C6, A6, 58);
	icmp(&F, 135, 0);
	ipv6_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	expect_offsets(&F, &p);
	assert_int_equal(p.icmp_type, 135);
	k = key6(C6, 0, A6, 0, 58, &dir);
	expect_key(&p, &k, dir);

	/* GRE (47): keyed by addresses and protocol; no L4 header parsed. */
	frame_reset(&F);
	eth(&F, 0x0800);
	ip = ipv4(&F, IP_A, IP_C, 47, 0, 0, 0);
	put16(&F, 0);
	put16(&F, 0x0800);
	data(&F, 40);
	ipv4_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key4(IP_A, 0, IP_C, 0, 47, 0, 0, &dir);
	expect_key(&p, &k, dir);
	assert_int_equal(p.flags, 0);
	assert_int_equal(p.l4_offset, 34);
	assert_int_equal(p.payload_offset, 34);
	assert_int_equal(p.payload_len, 44);
	assert_int_equal(p.icmp_type, 0);
}

static void
test_key_symmetry(void **state)
{
	struct ft_pkt fwd, rev;
	uint32_t ip;

	(void)state;
	/* IPv4 TCP, with QinQ. */
	for (int swap = 0; swap <= 1; swap++) {
		struct frame *f = swap ? &G : &F;

		frame_reset(f);
		eth(f, 0x88a8);
		vlan_tag(f, 10, 0x8100);
		vlan_tag(f, 20, 0x0800);
		ip = swap ? ipv4(f, IP_C, IP_A, 6, 0, 0, 0) : ipv4(f, IP_A, IP_C, 6, 0, 0, 0);
		if (swap)
			tcp(f, 443, 50000, 1, 1, FT_TCP_ACK, 1, 0);
		else
			tcp(f, 50000, 443, 1, 1, FT_TCP_ACK, 1, 0);
		ipv4_done(f, ip);
	}
	expect_ok(&F, FT_LINK_ETHERNET, &fwd);
	expect_ok(&G, FT_LINK_ETHERNET, &rev);
	assert_memory_equal(&fwd.key, &rev.key, sizeof(fwd.key));
	assert_int_equal(fwd.hash, rev.hash);
	assert_int_equal(fwd.dir, 0);
	assert_int_equal(rev.dir, 1);
	assert_int_equal(fwd.key.vlan[0], 10);
	assert_int_equal(fwd.key.vlan[1], 20);
	/* The address pair's hash: the same both ways, for any ports and
	 * protocol; another for other VLANs or addresses. */
	{
		struct ft_flow_key k = fwd.key;
		uint32_t pair = ft_flow_key_pair_hash(&fwd.key);

		assert_int_equal(ft_flow_key_pair_hash(&rev.key), pair);
		k.port[0] = 1, k.port[1] = 2, k.proto = 17;
		assert_int_equal(ft_flow_key_pair_hash(&k), pair);
		k.vlan[1] = 21;
		assert_int_not_equal(ft_flow_key_pair_hash(&k), pair);
		k = fwd.key;
		k.addr[1][3] ^= 1;
		assert_int_not_equal(ft_flow_key_pair_hash(&k), pair);
	}

	/* IPv6 UDP whose addresses differ only in the last byte. */
	for (int swap = 0; swap <= 1; swap++) {
		struct frame *f = swap ? &G : &F;

		frame_reset(f);
		eth(f, 0x86dd);
		ip = swap ? ipv6(f, B6, A6, 17) : ipv6(f, A6, B6, 17);
		if (swap)
			udp(f, 1, 65535);
		else
			udp(f, 65535, 1);
		ipv6_done(f, ip);
	}
	expect_ok(&F, FT_LINK_ETHERNET, &fwd);
	expect_ok(&G, FT_LINK_ETHERNET, &rev);
	assert_memory_equal(&fwd.key, &rev.key, sizeof(fwd.key));
	assert_int_equal(fwd.hash, rev.hash);
	assert_int_equal(fwd.dir, 0);
	assert_int_equal(rev.dir, 1);
	assert_memory_equal(fwd.key.addr[0], A6, 16);
	assert_int_equal(fwd.key.port[0], 65535);

	/* Same address both sides: ports decide; equal ports: dir 0 both ways. */
	build_eth_v4_tcp(&F, IP_A, 9000, IP_A, 80, 0);
	build_eth_v4_tcp(&G, IP_A, 80, IP_A, 9000, 0);
	expect_ok(&F, FT_LINK_ETHERNET, &fwd);
	expect_ok(&G, FT_LINK_ETHERNET, &rev);
	assert_memory_equal(&fwd.key, &rev.key, sizeof(fwd.key));
	assert_int_equal(fwd.key.port[0], 80);
	assert_int_equal(fwd.dir, 1);
	assert_int_equal(rev.dir, 0);
	build_eth_v4_tcp(&F, IP_A, 7, IP_A, 7, 0);
	expect_ok(&F, FT_LINK_ETHERNET, &fwd);
	assert_int_equal(fwd.dir, 0);

	/* Address order is unsigned big-endian: 128.0.0.1 > 127.255.255.255,
	 * 10.0.1.0 > 10.0.0.255 (a little-endian compare would get these wrong). */
	build_eth_v4_tcp(&F, 0x80000001, 1, 0x7fffffff, 2, 0);
	expect_ok(&F, FT_LINK_ETHERNET, &fwd);
	assert_int_equal(fwd.dir, 1);
	assert_int_equal(fwd.key.addr[0][0], 0x7f);
	build_eth_v4_tcp(&F, 0x0a000100, 2, 0x0a0000ff, 1, 0);
	expect_ok(&F, FT_LINK_ETHERNET, &fwd);
	assert_int_equal(fwd.dir, 1);
	assert_int_equal(fwd.key.addr[0][3], 0xff);
	assert_int_equal(fwd.key.port[0], 1);

	/* Different flows get different keys (and here different hashes). */
	build_eth_v4_tcp(&F, IP_A, 1000, IP_B, 80, 0);
	build_eth_v4_tcp(&G, IP_A, 1001, IP_B, 80, 0);
	expect_ok(&F, FT_LINK_ETHERNET, &fwd);
	expect_ok(&G, FT_LINK_ETHERNET, &rev);
	assert_memory_not_equal(&fwd.key, &rev.key, sizeof(fwd.key));
	assert_int_not_equal(fwd.hash, rev.hash);
}

static void
test_no_stale_fields(void **state)
{
	struct ft_pkt p, fresh;
	uint32_t ip;

	(void)state;
	/* A packet that fills almost every field... */
	frame_reset(&F);
	eth(&F, 0x8100);
	vlan_tag(&F, 11, 0x8100);
	vlan_tag(&F, 12, 0x0800);
	ip = ipv4(&F, IP_C, IP_A, 6, 2, 0x4242, 0x2000);
	tcp(&F, 1, 2, 3, 4, 0x3f, 5, 1);
	data(&F, 10);
	ipv4_done(&F, ip);
	assert_int_equal(parse_frame(&F, FT_LINK_ETHERNET, &p), 0);
	/* ... then one that fills few, into the same struct. */
	frame_reset(&G);
	null_hdr(&G, 30, 0);
	ip = ipv6(&G, A6, B6, 58);
	icmp(&G, 1, 4);
	ipv6_done(&G, ip);
	assert_int_equal(ft_parse(G.b, G.n, FT_LINK_NULL, FT_TUNNEL_ALL, &p), 0);
	memset(&fresh, 0, sizeof(fresh));
	assert_int_equal(ft_parse(G.b, G.n, FT_LINK_NULL, FT_TUNNEL_ALL, &fresh), 0);
	assert_memory_equal(&p, &fresh, WORKER_OFF);
	/* And a discard after a success leaves no flow data behind except the
	 * fields it reached. */
	assert_int_equal(ft_parse(F.b, F.n, FT_LINK_ETHERNET, FT_TUNNEL_ALL, &p), 0);
	F.b[F.l3] = 0x44;
	assert_int_equal(ft_parse(F.b, F.n, FT_LINK_ETHERNET, FT_TUNNEL_ALL, &p), -1);
	assert_int_equal(p.discard, FT_DISCARD_IPV4_BAD_IHL);
	assert_int_equal(p.hash, 0);
	assert_int_equal(p.key.family, 0);
	assert_int_equal(p.tcp_seq, 0);
	assert_int_equal(p.flags, 0);
}

static void
test_ethernet_padding(void **state)
{
	struct ft_pkt p;

	(void)state;
	/* 40-byte IPv4/TCP in a 60-byte minimum frame: 6 bytes of padding. */
	build_eth_v4_tcp(&F, IP_A, 1, IP_B, 2, 0);
	assert_int_equal(F.n, 54);
	put_fill(&F, 6, 0xee);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	assert_int_equal(p.payload_offset, 54);
	assert_int_equal(p.payload_len, 0);
	/* 3 bytes of data + 3 bytes of padding. */
	build_eth_v4_tcp(&F, IP_A, 1, IP_B, 2, 3);
	put_fill(&F, 3, 0xee);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	assert_int_equal(p.payload_len, 3);
	/* UDP over IPv6 with trailing bytes beyond the payload length. */
	frame_reset(&F);
	eth(&F, 0x86dd);
	uint32_t ip = ipv6(&F, A6, B6, 17);
	udp(&F, 1, 2);
	data(&F, 2);
	ipv6_done(&F, ip);
	put_fill(&F, 20, 0);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	assert_int_equal(p.payload_len, 2);
}

static void
test_snaplen_cut(void **state)
{
	struct ft_pkt p;
	struct ft_flow_key k;
	uint8_t dir;

	(void)state;
	/* 1400 bytes of TCP data, 96 bytes captured: still the flow, payload cut. */
	build_eth_v4_tcp(&F, IP_A, 1, IP_B, 2, 1400);
	F.n = 96;
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	assert_int_equal(p.payload_offset, 54);
	assert_int_equal(p.payload_len, 96 - 54);
	assert_int_equal(p.tcp_seq, 1000);
	/* Cut inside the TCP header: a capture cut, not malformation, so still the
	 * flow, with the fields the cut left and no payload. 19 of 20 bytes: all but
	 * the checksum and urgent pointer. */
	F.n = 53;
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key4(IP_A, 1, IP_B, 2, 6, 0, 0, &dir);
	expect_key(&p, &k, dir);
	assert_int_equal(p.flags, FT_PKT_F_L4_PARTIAL);
	assert_int_equal(p.l4_offset, 34);
	assert_int_equal(p.payload_offset, 53);
	assert_int_equal(p.payload_len, 0);
	assert_int_equal(p.tcp_seq, 1000);
	assert_int_equal(p.tcp_ack, 2000);
	assert_int_equal(p.tcp_flags, FT_TCP_ACK | FT_TCP_PSH);
	assert_int_equal(p.tcp_window, 502);
	/* 13 bytes: no flags byte yet (so no window either). */
	F.n = 34 + 13;
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	expect_key(&p, &k, dir);
	assert_int_equal(p.tcp_ack, 2000);
	assert_int_equal(p.tcp_flags, 0);
	assert_int_equal(p.tcp_window, 0);
	/* 4 bytes: the ports alone; 3: no ports, a discard. */
	F.n = 34 + 4;
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	expect_key(&p, &k, dir);
	assert_int_equal(p.tcp_seq, 0);
	assert_int_equal(p.payload_offset, 38);
	F.n = 34 + 3;
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_L4_TRUNCATED);

	/* Cut inside the TCP options that the data offset announces (tcpdump's
	 * heapoverflow-tcp_print capture: data offset 15, 30 bytes captured): every
	 * fixed field, partial, no payload. */
	frame_reset(&F);
	eth(&F, 0x0800);
	uint32_t ip = ipv4(&F, IP_A, IP_B, 6, 0, 0, 0);
	tcp(&F, 1, 2, 3, 4, FT_TCP_SYN, 5, 10);
	data(&F, 100);
	ipv4_done(&F, ip);
	for (uint32_t cut = 20; cut < 60; cut++) {
		F.n = F.l4 + cut;
		expect_ok(&F, FT_LINK_ETHERNET, &p);
		assert_int_equal(p.flags, FT_PKT_F_L4_PARTIAL);
		assert_int_equal(p.tcp_seq, 3);
		assert_int_equal(p.tcp_ack, 4);
		assert_int_equal(p.tcp_flags, FT_TCP_SYN);
		assert_int_equal(p.tcp_window, 5);
		assert_int_equal(p.payload_offset, F.n);
		assert_int_equal(p.payload_len, 0);
	}
	F.n = F.l4 + 60;
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	assert_int_equal(p.flags, FT_PKT_F_L4_PAYLOAD);
	/* The IP length ends inside those options (bytes captured or not): the
	 * sender's header is malformed, a discard. */
	set16(&F, ip + 2, 20 + 59);
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_L4_TRUNCATED);
	F.n = F.l4 + 30;
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_L4_TRUNCATED);
	/* ... and inside the fixed header, with fewer bytes captured still. */
	set16(&F, ip + 2, 20 + 19);
	F.n = F.l4 + 10;
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_L4_TRUNCATED);

	/* UDP over IPv6 behind a destination-options header, cut after the ports;
	 * ICMP cut after type and code; a byte less: a discard. */
	frame_reset(&F);
	eth(&F, 0x86dd);
	ip = ipv6(&F, A6, B6, 60);
	ipv6_ext(&F, 17, 0);
	udp(&F, 33000, 443);
	data(&F, 1200);
	ipv6_done(&F, ip);
	F.n = F.l4 + 4;
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key6(A6, 33000, B6, 443, 17, &dir);
	expect_key(&p, &k, dir);
	assert_int_equal(p.flags, FT_PKT_F_L4_PARTIAL);
	assert_int_equal(p.l4_offset, 14 + 48);
	assert_int_equal(p.payload_offset, F.n);
	F.n = F.l4 + 3;
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_L4_TRUNCATED);
	frame_reset(&F);
	eth(&F, 0x0800);
	ip = ipv4(&F, IP_A, IP_B, 1, 0, 0, 0);
	icmp(&F, 3, 4);
	data(&F, 28);
	ipv4_done(&F, ip);
	F.n = F.l4 + 2;
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	assert_int_equal(p.flags, FT_PKT_F_L4_PARTIAL);
	assert_int_equal(p.icmp_type, 3);
	assert_int_equal(p.icmp_code, 4);
	assert_int_equal(p.payload_offset, F.n);
	F.n = F.l4 + 1;
	expect_discard(&F, FT_LINK_ETHERNET, FT_DISCARD_L4_TRUNCATED);
}

/* Sweep frames not already swept above: PPPoE/IPv6/hop-by-hop/fragment/UDP,
 * MPLS/IPv4 options/ICMP behind SLL, LOOP/IPv6/AH/SCTP. */
static void
test_truncation_sweep(void **state)
{
	uint32_t ip;

	(void)state;
	frame_reset(&F);
	eth(&F, 0x8864);
	pppoe(&F, 0x0057);
	ip = ipv6(&F, A6, B6, 0);
	ipv6_ext(&F, 44, 1);
	ipv6_frag(&F, 17, 0, 1, 5);
	udp(&F, 500, 4500);
	data(&F, 25);
	ipv6_done(&F, ip);
	sweep(&F, FT_LINK_ETHERNET);

	frame_reset(&F);
	sll(&F, 0x8847);
	mpls(&F, 1, 0);
	mpls(&F, 2, 1);
	ip = ipv4(&F, IP_A, IP_B, 1, 3, 0, 0);
	icmp(&F, 11, 1);
	data(&F, 28);
	ipv4_done(&F, ip);
	sweep(&F, FT_LINK_LINUX_SLL);

	frame_reset(&F);
	null_hdr(&F, 28, 1);
	ip = ipv6(&F, C6, B6, 51);
	ipv6_ah(&F, 132, 7);
	sctp(&F, 9899, 9899);
	data(&F, 4);
	ipv6_done(&F, ip);
	sweep(&F, FT_LINK_LOOP);
	sweep(&F, FT_LINK_NULL);
}

/*
 * The fast path (Ethernet, at most one VLAN tag, IPv4 IHL 5 unfragmented or IPv6
 * without extension headers, whole TCP/UDP header) against the generic parser:
 * common frames with every byte of their headers set to values that move each
 * of the fast path's decisions across its edge (ethertype, version/IHL, fragment
 * bits, IP length, protocol, TCP data offset), each frame then cut at every
 * length. parse_bytes() holds ft_parse() to ft_parse_generic() byte for byte.
 */
static void
test_fast_path_agrees(void **state)
{
	static const uint8_t values[] = {0x00, 0x01, 0x04, 0x05, 0x06, 0x08, 0x11, 0x14, 0x1f,
					 0x20, 0x2c, 0x3a, 0x40, 0x45, 0x46, 0x50, 0x60, 0x81,
					 0x86, 0x88, 0x91, 0xa8, 0xdd, 0xf0, 0xff};
	struct ft_pkt p;
	unsigned variant;

	(void)state;
	for (variant = 0; variant < 8; variant++) {
		uint32_t ip, hdr_end;

		frame_reset(&F);
		eth(&F, (variant & 4) ? 0x8100 : (variant & 1) ? 0x86dd : 0x0800);
		if (variant & 4)
			vlan_tag(&F, 0x2064, (variant & 1) ? 0x86dd : 0x0800);
		if (variant & 1)
			ip = ipv6(&F, A6, C6, (variant & 2) ? 17 : 6);
		else
			ip = ipv4(&F, IP_C, IP_A, (variant & 2) ? 17 : 6, 0, 0x4242, 0x4000);
		if (variant & 2)
			udp(&F, 53, 40000);
		else
			tcp(&F, 40000, 443, 7, 9, FT_TCP_SYN, 1024, 1);
		hdr_end = F.n;
		data(&F, 6);
		if (variant & 1)
			ipv6_done(&F, ip);
		else
			ipv4_done(&F, ip);
		/* The untouched frame takes the fast path and parses. */
		expect_ok(&F, FT_LINK_ETHERNET, &p);
		for (uint32_t at = 12; at < hdr_end; at++) {
			uint8_t saved = F.b[at];

			for (size_t v = 0; v < sizeof(values); v++) {
				F.b[at] = values[v];
				for (uint32_t cut = at; cut <= F.n;
				     cut += (cut < hdr_end + 2 ? 1 : 4))
					parse_bytes(F.b, cut, FT_LINK_ETHERNET, &p);
			}
			F.b[at] = saved;
		}
	}
}

/* ----------------------------------------------------------------- tunnels */

/*
 * Tunnel frames, from their specifications: GRE (RFC 2784, 2890; version 1 and
 * PPTP: RFC 2637), ERSPAN (draft-foschiano-erspan), IP in IP (RFC 2003, 4213),
 * VXLAN (RFC 7348), Geneve (RFC 8926), Teredo (RFC 4380), GTP-U (3GPP TS
 * 29.281). The outer packet goes IP_A -> IP_B; the inner one is IPv4 TCP
 * IP_C:40000 -> IP_D:443 or IPv6 UDP A6:5353 -> C6:53 (rev: the other way).
 */
#define IP_D 0xac100009u /* 172.16.0.9 */
#define IP_E 0x0b000001u /* a middle tunnel's endpoints */
#define IP_F 0x0b000002u

#define INNER_TCP_SEQ 0x01020304u
#define INNER_TCP_ACK 0x0a0b0c0du

enum {
	TC_GRE_CKS,
	TC_GRE_V6,
	TC_GRE_TEB,
	TC_ERSPAN2,
	TC_ERSPAN3,
	TC_ERSPAN3_O,
	TC_ERSPAN1,
	TC_PPTP,
	TC_PPTP_PFC,
	TC_IPIP,
	TC_6IN4,
	TC_4IN6,
	TC_VXLAN,
	TC_GENEVE,
	TC_TEREDO,
	TC_GTP,
	TC_N
};

struct tun_case {
	const char *name;
	uint8_t tunnel; /* key.tunnel of the inner packet */
	uint8_t v6;	/* the inner packet is IPv6 UDP (else IPv4 TCP) */
	uint8_t vlan;	/* VLAN 10 on the outer Ethernet, 300 on the inner */
	uint16_t l3;	/* the inner IP header's offset: the headers' sizes */
	uint8_t proto;	/* the outer packet: protocol, UDP ports */
	uint16_t sport, dport;
};

static const struct tun_case tun_cases[TC_N] = {
	/* Ethernet 14 + IPv4 20 + GRE 4 + checksum 4 + key 4 + sequence 4 */
	[TC_GRE_CKS] = {"gre cks", FT_TUNNEL_GRE, 0, 0, 14 + 20 + 16, 47, 0, 0},
	[TC_GRE_V6] = {"gre ipv6", FT_TUNNEL_GRE, 1, 0, 14 + 20 + 4, 47, 0, 0},
	/* + key 4, inner Ethernet 14 and tag 4 */
	[TC_GRE_TEB] = {"gre teb", FT_TUNNEL_GRE, 0, 1, 18 + 20 + 8 + 18, 47, 0, 0},
	/* GRE 4 + sequence 4, ERSPAN 8, Ethernet 14 */
	[TC_ERSPAN2] = {"erspan2", FT_TUNNEL_GRE, 0, 0, 34 + 8 + 8 + 14, 47, 0, 0},
	[TC_ERSPAN3] = {"erspan3", FT_TUNNEL_GRE, 0, 0, 34 + 8 + 12 + 14, 47, 0, 0},
	[TC_ERSPAN3_O] = {"erspan3 o", FT_TUNNEL_GRE, 0, 0, 34 + 8 + 12 + 8 + 14, 47, 0, 0},
	[TC_ERSPAN1] = {"erspan1", FT_TUNNEL_GRE, 0, 0, 34 + 4 + 14, 47, 0, 0},
	/* GRE 4 + key 4 + sequence 4 + ack 4, PPP ff 03 00 21 */
	[TC_PPTP] = {"pptp", FT_TUNNEL_GRE, 0, 0, 34 + 16 + 4, 47, 0, 0},
	/* GRE 4 + key 4, PPP 21 */
	[TC_PPTP_PFC] = {"pptp pfc", FT_TUNNEL_GRE, 0, 0, 34 + 8 + 1, 47, 0, 0},
	[TC_IPIP] = {"ipip", FT_TUNNEL_IPIP, 0, 0, 34, 4, 0, 0},
	[TC_6IN4] = {"6in4", FT_TUNNEL_IPIP, 1, 0, 34, 41, 0, 0},
	[TC_4IN6] = {"4in6", FT_TUNNEL_IPIP, 0, 0, 14 + 40, 4, 0, 0},
	/* UDP 8, VXLAN 8, Ethernet 14 */
	[TC_VXLAN] = {"vxlan", FT_TUNNEL_VXLAN, 0, 0, 34 + 8 + 8 + 14, 17, 49152, 4789},
	/* UDP 8, Geneve 8 + options 8, Ethernet 14 */
	[TC_GENEVE] = {"geneve", FT_TUNNEL_GENEVE, 0, 0, 34 + 8 + 16 + 14, 17, 49153, 6081},
	/* UDP 8, origin indication 8 */
	[TC_TEREDO] = {"teredo", FT_TUNNEL_TEREDO, 1, 0, 34 + 8 + 8, 17, 3544, 50000},
	/* UDP 8, GTP 8 + sequence/N-PDU/next type 4 + extension 4 */
	[TC_GTP] = {"gtp-u", FT_TUNNEL_GTP, 0, 0, 34 + 8 + 12 + 4, 17, 2152, 2152},
};

static unsigned
tun_bit(unsigned t)
{
	return 1u << (t - 1);
}

/* cmocka teardown: a failed test must not leave the tunnel set narrowed. */
static int
restore_tunnels(void **state)
{
	(void)state;
	tunnels = FT_TUNNEL_ALL;
	return 0;
}

/* GRE header: the optional words its flags announce (version 0: C checksum and
 * reserved1, K key, S sequence; version 1: K payload length and call id, S, A
 * acknowledgment). */
static void
gre(struct frame *f, uint16_t flags, uint16_t proto)
{
	put16(f, flags);
	put16(f, proto);
	if (flags & 0x8000)
		put32(f, 0xbeef0000);
	if (flags & 0x2000)
		put32(f, 0x00400123);
	if (flags & 0x1000)
		put32(f, 42);
	if ((flags & 7) == 1 && (flags & 0x0080))
		put32(f, 41);
}

/* The inner packet (see above) with payload bytes of data, up to the frame end. */
static void
inner_ip(struct frame *f, int v6, int rev, uint32_t payload)
{
	uint32_t ip;

	if (v6) {
		ip = rev ? ipv6(f, C6, A6, 17) : ipv6(f, A6, C6, 17);
		udp(f, rev ? 53 : 5353, rev ? 5353 : 53);
		set16(f, f->l4 + 4, (uint16_t)(8 + payload));
		data(f, payload);
		ipv6_done(f, ip);
		return;
	}
	ip = ipv4(f, rev ? IP_D : IP_C, rev ? IP_C : IP_D, 6, 0, 0x5151, 0x4000);
	tcp(f, rev ? 443 : 40000, rev ? 40000 : 443, INNER_TCP_SEQ, INNER_TCP_ACK,
	    FT_TCP_ACK | FT_TCP_PSH, 1000, 0);
	data(f, payload);
	ipv4_done(f, ip);
}

/* Outer Ethernet (VLAN 10 if vlan) and IPv4 IP_A -> IP_B (rev: back). */
static uint32_t
outer4(struct frame *f, uint8_t proto, int vlan, int rev)
{
	frame_reset(f);
	if (vlan) {
		eth(f, 0x8100);
		vlan_tag(f, 10, 0x0800);
	} else {
		eth(f, 0x0800);
	}
	return ipv4(f, rev ? IP_B : IP_A, rev ? IP_A : IP_B, proto, 0, 0x0777, 0);
}

/* Tunnel case c, the inner packet with payload bytes of data. The reverse
 * direction of Teredo (client to server) has no origin indication. */
static void
build_tun(struct frame *f, unsigned c, int rev, uint32_t payload)
{
	const struct tun_case *t = &tun_cases[c];
	uint32_t ip, u = 0, gtp = 0;

	if (c == TC_4IN6) {
		frame_reset(f);
		eth(f, 0x86dd);
		ip = rev ? ipv6(f, B6, A6, 4) : ipv6(f, A6, B6, 4);
		inner_ip(f, 0, rev, payload);
		ipv6_done(f, ip);
		return;
	}
	ip = outer4(f, t->proto, t->vlan, rev);
	if (t->proto == 17) {
		u = f->n;
		if (rev && c == TC_TEREDO)
			udp(f, t->dport, t->sport);
		else
			udp(f, t->sport, t->dport);
	}
	switch (c) {
	case TC_GRE_CKS:
		gre(f, 0xb000, 0x0800); /* C, K, S */
		break;
	case TC_GRE_V6:
		gre(f, 0, 0x86dd);
		break;
	case TC_GRE_TEB:
		gre(f, 0x2000, 0x6558);
		eth(f, 0x8100);
		vlan_tag(f, 300, 0x0800);
		break;
	case TC_ERSPAN2:
		gre(f, 0x1000, 0x88be);
		put16(f, 0x1000 | 10); /* version 1, VLAN */
		put16(f, 0x0007);      /* COS, En, T, session id */
		put32(f, 0x00000001);  /* reserved, index */
		eth(f, 0x0800);
		break;
	case TC_ERSPAN3:
	case TC_ERSPAN3_O:
		gre(f, 0x1000, 0x22eb);
		put16(f, 0x2000 | 10); /* version 2, VLAN */
		put16(f, 0x0007);      /* COS, BSO, T, session id */
		put32(f, 0x12345678);  /* timestamp */
		put16(f, 0x0000);      /* SGT */
		/* P, FT, HW ID, D, Gra, O (a subheader follows) */
		put16(f, c == TC_ERSPAN3_O ? 0x0001 : 0x0000);
		if (c == TC_ERSPAN3_O)
			put_fill(f, 8, 0x0c); /* platform specific subheader */
		eth(f, 0x0800);
		break;
	case TC_ERSPAN1:
		gre(f, 0, 0x88be);
		eth(f, 0x0800);
		break;
	case TC_PPTP:
		gre(f, 0x3081, 0x880b); /* K, S, A, version 1 */
		put8(f, 0xff);		/* address, control */
		put8(f, 0x03);
		put16(f, 0x0021);
		break;
	case TC_PPTP_PFC:
		gre(f, 0x2001, 0x880b);
		put8(f, 0x21);
		break;
	case TC_VXLAN:
		put32(f, 0x08000000); /* I, reserved */
		put32(f, 0x00123400); /* VNI, reserved */
		eth(f, 0x0800);
		break;
	case TC_GENEVE:
		put8(f, 0x02);	      /* version 0, 2 words of options */
		put8(f, 0x00);	      /* O, C */
		put16(f, 0x6558);     /* protocol */
		put32(f, 0x00abcd00); /* VNI, reserved */
		put16(f, 0x0102);     /* option class */
		put8(f, 0x80);	      /* type */
		put8(f, 0x01);	      /* 1 word of data */
		put32(f, 0xdeadbeef);
		eth(f, 0x0800);
		break;
	case TC_TEREDO:
		if (!rev) {
			put16(f, 0x0000);	  /* origin indication */
			put16(f, 50000 ^ 0xffff); /* obfuscated port, address */
			put32(f, ~IP_B);
		}
		break;
	case TC_GTP:
		gtp = f->n;
		put8(f, 0x34);	      /* version 1, PT, E */
		put8(f, 0xff);	      /* G-PDU */
		put16(f, 0);	      /* length, set below */
		put32(f, 0x11223344); /* TEID */
		put16(f, 0);	      /* sequence number */
		put8(f, 0);	      /* N-PDU number */
		put8(f, 0x85);	      /* next: PDU session container */
		put8(f, 1);	      /* 4 bytes */
		put8(f, 0x00);
		put8(f, 0x09); /* QFI */
		put8(f, 0x00); /* no next extension */
		break;
	default:
		break;
	}
	inner_ip(f, t->v6, rev, payload);
	if (gtp)
		set16(f, gtp + 2, f->n - gtp - 8);
	if (u)
		set16(f, u + 4, f->n - u);
	ipv4_done(f, ip);
}

static struct ft_flow_key
inner_key(const struct tun_case *t, uint8_t *dir)
{
	struct ft_flow_key k;

	if (t->v6)
		k = key6(A6, 5353, C6, 53, 17, dir);
	else
		k = key4(IP_C, 40000, IP_D, 443, 6, t->vlan ? 10 : 0, t->vlan ? 300 : 0, dir);
	k.tunnel = t->tunnel;
	return k;
}

/* The frame of case c parses as its outer packet, as without the tunnel:
 * key.tunnel 0, the outer VLAN alone, payload after the outer UDP header (UDP)
 * or the outer IP header (GRE, IP in IP). */
static void
expect_outer(const struct frame *f, unsigned c)
{
	const struct tun_case *t = &tun_cases[c];
	uint32_t l3 = t->vlan ? 18 : 14, l4, pl, ip_len_end;
	struct ft_pkt p;
	struct ft_flow_key k;
	uint8_t dir;

	expect_ok(f, FT_LINK_ETHERNET, &p);
	if (c == TC_4IN6) {
		k = key6(A6, 0, B6, 0, 4, &dir);
		l4 = l3 + 40;
		ip_len_end = l4 + get16(f->b + l3 + 4);
	} else {
		k = key4(IP_A, t->sport, IP_B, t->dport, t->proto, t->vlan ? 10 : 0, 0, &dir);
		l4 = l3 + 20;
		ip_len_end = l3 + get16(f->b + l3 + 2);
	}
	pl = l4 + (t->proto == 17 ? 8 : 0);
	expect_key(&p, &k, dir);
	assert_int_equal(p.l3_offset, l3);
	assert_int_equal(p.l4_offset, l4);
	assert_int_equal(p.payload_offset, pl);
	assert_int_equal(p.payload_len, (f->n < ip_len_end ? f->n : ip_len_end) - pl);
	assert_int_equal(p.payload_ip_len, ip_len_end - pl);
	assert_int_equal(p.flags, t->proto == 17 ? FT_PKT_F_L4_PAYLOAD : 0);
	assert_int_equal(p.tcp_seq, 0);
}

/* Each tunnel: the inner packet's flow, both ways; the outer one's when the
 * tunnel is not asked for. */
static void
test_tunnels(void **state)
{
	struct ft_pkt p, q;
	struct ft_flow_key k;
	uint8_t dir;

	(void)state;
	for (unsigned c = 0; c < TC_N; c++) {
		const struct tun_case *t = &tun_cases[c];
		uint32_t l4 = t->l3 + (t->v6 ? 40 : 20);

		print_message("%s\n", t->name);
		tunnels = FT_TUNNEL_ALL;
		build_tun(&F, c, 0, t->v6 ? 11 : 25);
		expect_ok(&F, FT_LINK_ETHERNET, &p);
		k = inner_key(t, &dir);
		expect_key(&p, &k, dir);
		assert_int_equal(p.key.tunnel, t->tunnel);
		assert_int_equal(p.l3_offset, t->l3);
		assert_int_equal(p.l4_offset, l4);
		assert_int_equal(p.payload_offset, l4 + (t->v6 ? 8 : 20));
		assert_int_equal(p.payload_offset + p.payload_len, F.n);
		assert_int_equal(p.payload_len, t->v6 ? 11 : 25);
		assert_int_equal(p.payload_ip_len, p.payload_len);
		assert_int_equal(p.flags, FT_PKT_F_L4_PAYLOAD);
		expect_offsets(&F, &p); /* where the builders put the inner headers */
		if (t->v6) {
			assert_int_equal(p.tcp_seq, 0);
			assert_int_equal(p.frag_id, 0);
		} else {
			assert_int_equal(p.tcp_seq, INNER_TCP_SEQ);
			assert_int_equal(p.tcp_ack, INNER_TCP_ACK);
			assert_int_equal(p.tcp_flags, FT_TCP_ACK | FT_TCP_PSH);
			assert_int_equal(p.tcp_window, 1000);
			assert_int_equal(p.frag_id, 0x5151); /* the inner IPv4's */
		}

		/* The reply: the same key and hash, the other direction. */
		build_tun(&G, c, 1, 3);
		expect_ok(&G, FT_LINK_ETHERNET, &q);
		assert_memory_equal(&q.key, &p.key, sizeof(p.key));
		assert_int_equal(q.hash, p.hash);
		assert_int_equal(q.dir, !p.dir);

		/* This tunnel alone: the same; not this one: the outer packet. */
		tunnels = tun_bit(t->tunnel);
		expect_ok(&F, FT_LINK_ETHERNET, &q);
		assert_memory_equal(&q, &p, WORKER_OFF);
		tunnels = 0;
		expect_outer(&F, c);
		tunnels = FT_TUNNEL_ALL & ~tun_bit(t->tunnel);
		expect_outer(&F, c);
		tunnels = tun_bit(t->tunnel == FT_TUNNEL_GRE ? FT_TUNNEL_VXLAN : FT_TUNNEL_GRE);
		expect_outer(&F, c);
	}
	tunnels = FT_TUNNEL_ALL;
}

/*
 * Every prefix of each tunnel frame past the outer headers (a capture cut): the
 * outer packet until the inner one has its ports (a cut tunnel header, inner
 * Ethernet or IP header, or fewer than 4 bytes of inner L4 header: no inner
 * flow packet), then the inner packet, partial until its L4 header is whole.
 */
static void
test_tunnel_cuts(void **state)
{
	(void)state;
	for (unsigned c = 0; c < TC_N; c++) {
		const struct tun_case *t = &tun_cases[c];
		struct ft_pkt outer, inner, p;
		uint32_t l4 = t->l3 + (t->v6 ? 40 : 20), pl = l4 + (t->v6 ? 8 : 20);

		print_message("%s\n", t->name);
		build_tun(&F, c, 0, 9);
		expect_ok(&F, FT_LINK_ETHERNET, &inner);
		tunnels = 0;
		expect_ok(&F, FT_LINK_ETHERNET, &outer);
		tunnels = FT_TUNNEL_ALL;
		for (uint32_t n = outer.payload_offset; n <= F.n; n++) {
			assert_int_equal(parse_bytes(F.b, n, FT_LINK_ETHERNET, &p), 0);
			if (n < l4 + 4) {
				if (p.key.tunnel != 0)
					fail_msg("%s cut at %u: inner packet", t->name, n);
				assert_memory_equal(&p.key, &outer.key, sizeof(p.key));
				assert_int_equal(p.l4_offset, outer.l4_offset);
				assert_int_equal(p.flags, outer.flags);
				assert_int_equal(p.payload_offset, outer.payload_offset);
				assert_int_equal(p.payload_len, n - outer.payload_offset);
				assert_int_equal(p.payload_ip_len, outer.payload_ip_len);
				continue;
			}
			if (p.key.tunnel != t->tunnel)
				fail_msg("%s cut at %u: outer packet", t->name, n);
			assert_memory_equal(&p.key, &inner.key, sizeof(p.key));
			assert_int_equal(p.dir, inner.dir);
			assert_int_equal(p.l3_offset, t->l3);
			assert_int_equal(p.l4_offset, l4);
			if (n >= pl) {
				assert_int_equal(p.flags, FT_PKT_F_L4_PAYLOAD);
				assert_int_equal(p.payload_offset, pl);
				assert_int_equal(p.payload_len, n - pl);
				assert_int_equal(p.payload_ip_len, 9);
			} else {
				assert_int_equal(p.flags, FT_PKT_F_L4_PARTIAL);
				assert_int_equal(p.payload_offset, n);
				assert_int_equal(p.payload_len, 0);
			}
		}
	}
}

/* Insides that are not a flow packet, and fragmented outer packets: the outer
 * packet is the flow packet. */
static void
test_tunnel_fallbacks(void **state)
{
	struct ft_pkt p;
	struct ft_flow_key k;
	uint8_t dir;
	uint32_t ip, u;

	(void)state;
	/* ARP in VXLAN. */
	ip = outer4(&F, 17, 0, 0);
	u = F.n;
	udp(&F, 49152, 4789);
	put32(&F, 0x08000000);
	put32(&F, 0x00123400);
	eth(&F, 0x0806);
	put32(&F, 0x00010800); /* Ethernet, IPv4 */
	put32(&F, 0x06040001); /* request */
	put_fill(&F, 20, 0x11);
	set16(&F, u + 4, F.n - u);
	ipv4_done(&F, ip);
	expect_outer(&F, TC_VXLAN);

	/* The inner IPv4 header cut by the capture (the outer length says more),
	 * or by the sender (the outer packet ends there too). */
	build_tun(&F, TC_VXLAN, 0, 25);
	F.n = tun_cases[TC_VXLAN].l3 + 12;
	expect_outer(&F, TC_VXLAN);
	ipv4_done(&F, 14);
	expect_outer(&F, TC_VXLAN);
	build_tun(&F, TC_GRE_CKS, 0, 25);
	F.n = tun_cases[TC_GRE_CKS].l3 + 19;
	ipv4_done(&F, 14);
	expect_outer(&F, TC_GRE_CKS);
	/* An inner IPv4 length that ends inside its TCP header (malformed). */
	build_tun(&F, TC_VXLAN, 0, 25);
	set16(&F, tun_cases[TC_VXLAN].l3 + 2, 20 + 10);
	expect_outer(&F, TC_VXLAN);

	/* VXLAN without the I flag. */
	build_tun(&F, TC_VXLAN, 0, 25);
	F.b[34 + 8] = 0x00;
	expect_outer(&F, TC_VXLAN);

	/* GTP-U messages other than a G-PDU: echo request, end marker. */
	build_tun(&F, TC_GTP, 0, 25);
	F.b[34 + 8 + 1] = 0x01;
	expect_outer(&F, TC_GTP);
	F.b[34 + 8 + 1] = 0xfe;
	expect_outer(&F, TC_GTP);

	/* GRE with the routing bit (RFC 1701); GRE version 2; version 1 that is
	 * not PPP, or without its key. */
	build_tun(&F, TC_GRE_V6, 0, 11);
	set16(&F, 34, 0x4000);
	expect_outer(&F, TC_GRE_V6);
	set16(&F, 34, 0x0002);
	expect_outer(&F, TC_GRE_V6);
	set16(&F, 34, 0x2001);
	expect_outer(&F, TC_GRE_V6); /* protocol 0x86dd */
	build_tun(&F, TC_PPTP_PFC, 0, 25);
	set16(&F, 34, 0x0001); /* no K: the 0x21 sits in the "key" */
	expect_outer(&F, TC_PPTP_PFC);
	build_tun(&F, TC_PPTP_PFC, 0, 25);
	F.b[tun_cases[TC_PPTP_PFC].l3 - 1] = 0x23; /* not IPv4 */
	expect_outer(&F, TC_PPTP_PFC);

	/* Teredo: an IPv6 payload length one more or one less than the UDP
	 * payload holds. */
	build_tun(&F, TC_TEREDO, 0, 11);
	set16(&F, 50 + 4, 8 + 11 + 1);
	expect_outer(&F, TC_TEREDO);
	set16(&F, 50 + 4, 8 + 11 - 1);
	expect_outer(&F, TC_TEREDO);
	set16(&F, 50 + 4, 8 + 11);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	assert_int_equal(p.key.tunnel, FT_TUNNEL_TEREDO);

	/* An outer first fragment (MF) carrying GRE: the outer flow's fragment. */
	build_tun(&F, TC_GRE_CKS, 0, 25);
	set16(&F, 14 + 6, 0x2000);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key4(IP_A, 0, IP_B, 0, 47, 0, 0, &dir);
	expect_key(&p, &k, dir);
	assert_int_equal(p.flags, FT_PKT_F_FRAGMENT | FT_PKT_F_MORE_FRAGS);
	assert_int_equal(p.frag_id, 0x0777);
	assert_int_equal(p.l3_offset, 14);
	assert_int_equal(p.l4_offset, 34);
	assert_int_equal(p.payload_offset, 34);
	assert_int_equal(p.payload_len, F.n - 34);
	assert_int_equal(p.tcp_seq, 0);
	/* ... VXLAN: the outer UDP flow; its last fragment: ports 0. */
	build_tun(&F, TC_VXLAN, 0, 25);
	set16(&F, 14 + 6, 0x2000);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key4(IP_A, 49152, IP_B, 4789, 17, 0, 0, &dir);
	expect_key(&p, &k, dir);
	assert_int_equal(p.flags, FT_PKT_F_FRAGMENT | FT_PKT_F_MORE_FRAGS | FT_PKT_F_L4_PAYLOAD);
	assert_int_equal(p.payload_offset, 42);
	set16(&F, 14 + 6, 5);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key4(IP_A, 0, IP_B, 0, 17, 0, 0, &dir);
	expect_key(&p, &k, dir);
	assert_int_equal(p.flags, FT_PKT_F_FRAGMENT | FT_PKT_F_LATER_FRAG);
	assert_int_equal(p.frag_offset, 5);
	assert_int_equal(p.l4_offset, 0);
	assert_int_equal(p.payload_offset, 34);
	/* ... IPv6 first fragment carrying GRE. */
	frame_reset(&F);
	eth(&F, 0x86dd);
	ip = ipv6(&F, A6, B6, 44);
	ipv6_frag(&F, 47, 0, 1, 0x99);
	gre(&F, 0, 0x0800);
	inner_ip(&F, 0, 0, 25);
	ipv6_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key6(A6, 0, B6, 0, 47, &dir);
	expect_key(&p, &k, dir);
	assert_int_equal(p.flags, FT_PKT_F_FRAGMENT | FT_PKT_F_MORE_FRAGS);
	assert_int_equal(p.frag_id, 0x99);
	assert_int_equal(p.l4_offset, 14 + 48);
	assert_int_equal(p.payload_offset, 14 + 48);
}

/* Tunnels in tunnels: two levels are taken off, a third is not. */
static void
test_tunnel_nesting(void **state)
{
	struct ft_pkt p;
	struct ft_flow_key k;
	uint8_t dir;
	uint32_t ip, mid, mid2, u;

	(void)state;
	/* IPv4 in IPv4 in GRE: the innermost packet, tunnel IPIP. */
	ip = outer4(&F, 47, 0, 0);
	gre(&F, 0, 0x0800);
	mid = ipv4(&F, IP_E, IP_F, 4, 0, 0x0888, 0);
	inner_ip(&F, 0, 0, 25);
	ipv4_done(&F, mid);
	ipv4_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key4(IP_C, 40000, IP_D, 443, 6, 0, 0, &dir);
	k.tunnel = FT_TUNNEL_IPIP;
	expect_key(&p, &k, dir);
	assert_int_equal(p.l3_offset, 14 + 20 + 4 + 20);
	assert_int_equal(p.l4_offset, 14 + 20 + 4 + 20 + 20);
	expect_offsets(&F, &p);
	assert_int_equal(p.tcp_seq, INNER_TCP_SEQ);
	/* GRE alone: the middle packet, in GRE; IPIP alone: the outer one. */
	tunnels = tun_bit(FT_TUNNEL_GRE);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key4(IP_E, 0, IP_F, 0, 4, 0, 0, &dir);
	k.tunnel = FT_TUNNEL_GRE;
	expect_key(&p, &k, dir);
	assert_int_equal(p.l3_offset, 38);
	assert_int_equal(p.l4_offset, 58);
	assert_int_equal(p.payload_offset, 58);
	assert_int_equal(p.payload_len, F.n - 58);
	assert_int_equal(p.flags, 0);
	assert_int_equal(p.frag_id, 0x0888);
	tunnels = tun_bit(FT_TUNNEL_IPIP);
	expect_outer(&F, TC_GRE_V6);
	tunnels = FT_TUNNEL_ALL;

	/* GRE in IPv4 in GRE: the second level's packet (GRE, ports 0), in IPIP. */
	ip = outer4(&F, 47, 0, 0);
	gre(&F, 0, 0x0800);
	mid = ipv4(&F, IP_E, IP_F, 4, 0, 0, 0);
	mid2 = ipv4(&F, IP_F, IP_B, 47, 0, 0, 0);
	gre(&F, 0x2000, 0x0800);
	inner_ip(&F, 0, 0, 25);
	ipv4_done(&F, mid2);
	ipv4_done(&F, mid);
	ipv4_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key4(IP_F, 0, IP_B, 0, 47, 0, 0, &dir);
	k.tunnel = FT_TUNNEL_IPIP;
	expect_key(&p, &k, dir);
	assert_int_equal(p.l3_offset, 58);
	assert_int_equal(p.l4_offset, 78);
	assert_int_equal(p.payload_offset, 78);
	assert_int_equal(p.payload_len, F.n - 78);
	assert_int_equal(p.flags, 0);

	/* VXLAN in GRE (transparent Ethernet), a VLAN tag at each Ethernet
	 * header: the innermost packet, tunnel VXLAN, the first two tags. */
	ip = outer4(&F, 47, 1, 0);
	gre(&F, 0, 0x6558);
	eth(&F, 0x8100);
	vlan_tag(&F, 20, 0x0800);
	mid = ipv4(&F, IP_E, IP_F, 17, 0, 0, 0);
	u = F.n;
	udp(&F, 1024, 4789);
	put32(&F, 0x08000000);
	put32(&F, 0x00000100);
	eth(&F, 0x8100);
	vlan_tag(&F, 30, 0x0800);
	inner_ip(&F, 0, 0, 25);
	set16(&F, u + 4, F.n - u);
	ipv4_done(&F, mid);
	ipv4_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key4(IP_C, 40000, IP_D, 443, 6, 10, 20, &dir);
	k.tunnel = FT_TUNNEL_VXLAN;
	expect_key(&p, &k, dir);
	/* 18 + 20 + GRE 4 + 18 + 20 + UDP 8 + VXLAN 8 + 18 */
	assert_int_equal(p.l3_offset, 114);
	expect_offsets(&F, &p);

	/* VXLAN in GRE in IPv4 in IPv4: the VXLAN packet (UDP to 4789), in GRE. */
	ip = outer4(&F, 4, 0, 0);
	mid = ipv4(&F, IP_E, IP_F, 47, 0, 0, 0);
	gre(&F, 0, 0x0800);
	mid2 = ipv4(&F, IP_F, IP_E, 17, 0, 0, 0);
	u = F.n;
	udp(&F, 1024, 4789);
	put32(&F, 0x08000000);
	put32(&F, 0x00000100);
	eth(&F, 0x0800);
	inner_ip(&F, 0, 0, 25);
	set16(&F, u + 4, F.n - u);
	ipv4_done(&F, mid2);
	ipv4_done(&F, mid);
	ipv4_done(&F, ip);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = key4(IP_F, 1024, IP_E, 4789, 17, 0, 0, &dir);
	k.tunnel = FT_TUNNEL_GRE;
	expect_key(&p, &k, dir);
	assert_int_equal(p.l3_offset, 14 + 20 + 20 + 4);
	assert_int_equal(p.l4_offset, 78);
	assert_int_equal(p.payload_offset, 86);
	assert_int_equal(p.payload_len, F.n - 86);
	assert_int_equal(p.flags, FT_PKT_F_L4_PAYLOAD);
}

/* The inner packet's payload: cut by the capture, and Ethernet padding. */
static void
test_tunnel_payload(void **state)
{
	const struct tun_case *t = &tun_cases[TC_VXLAN];
	struct ft_pkt p;
	struct ft_flow_key k;
	uint8_t dir;

	(void)state;
	/* 1000 bytes of inner TCP data, 50 captured. */
	build_tun(&F, TC_VXLAN, 0, 1000);
	F.n = t->l3 + 40 + 50;
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = inner_key(t, &dir);
	expect_key(&p, &k, dir);
	assert_int_equal(p.flags, FT_PKT_F_L4_PAYLOAD);
	assert_int_equal(p.l3_offset, t->l3);
	assert_int_equal(p.payload_offset, t->l3 + 40);
	assert_int_equal(p.payload_len, 50);
	assert_int_equal(p.payload_ip_len, 1000);
	assert_int_equal(p.tcp_seq, INNER_TCP_SEQ);
	/* The same in GRE, cut inside the inner TCP header: partial. */
	build_tun(&F, TC_GRE_CKS, 0, 1000);
	F.n = tun_cases[TC_GRE_CKS].l3 + 20 + 13;
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	k = inner_key(&tun_cases[TC_GRE_CKS], &dir);
	expect_key(&p, &k, dir);
	assert_int_equal(p.flags, FT_PKT_F_L4_PARTIAL);
	assert_int_equal(p.tcp_ack, INNER_TCP_ACK);
	assert_int_equal(p.tcp_flags, 0);
	assert_int_equal(p.payload_len, 0);
	assert_int_equal(p.payload_ip_len, 0);

	/* Bytes after the outer IP packet (padding, a trailer) are not the inner
	 * packet's payload. */
	build_tun(&F, TC_IPIP, 0, 2);
	put_fill(&F, 8, 0xee);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	assert_int_equal(p.key.tunnel, FT_TUNNEL_IPIP);
	assert_int_equal(p.payload_offset, 34 + 40);
	assert_int_equal(p.payload_len, 2);
	assert_int_equal(p.payload_ip_len, 2);
	/* ... nor the bytes between the inner IP packet's end and the outer's. */
	build_tun(&F, TC_VXLAN, 0, 2);
	put_fill(&F, 8, 0xee);
	ipv4_done(&F, 14);
	set16(&F, 34 + 4, F.n - 34);
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	assert_int_equal(p.key.tunnel, FT_TUNNEL_VXLAN);
	assert_int_equal(p.payload_len, 2);
	assert_int_equal(p.payload_ip_len, 2);

	/* An inner IP length past the outer packet's end is bounded by it: the
	 * inner packet carries no more than the outer one. 25 bytes of data, the
	 * inner total length 100 more. */
	build_tun(&F, TC_VXLAN, 0, 25);
	set16(&F, t->l3 + 2, (uint16_t)(20 + 20 + 25 + 100)); /* inner IPv4 total length */
	expect_ok(&F, FT_LINK_ETHERNET, &p);
	assert_int_equal(p.key.tunnel, FT_TUNNEL_VXLAN);
	assert_int_equal(p.payload_len, 25);
	assert_int_equal(p.payload_ip_len, 25);
	/* The outer packet's length (not the capture) ends inside the inner TCP
	 * header: the sender cut it, so the inside is malformed, and the packet
	 * is the outer flow's. */
	build_tun(&F, TC_VXLAN, 0, 25);
	set16(&F, 14 + 2, (uint16_t)(t->l3 + 20 + 13 - 14)); /* outer IPv4 total length */
	expect_outer(&F, TC_VXLAN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_is_crc32c),
		cmocka_unit_test(test_link_supported),
		cmocka_unit_test(test_ethernet_ipv4_tcp),
		cmocka_unit_test(test_linux_sll),
		cmocka_unit_test(test_linux_sll2),
		cmocka_unit_test(test_null_and_loop),
		cmocka_unit_test(test_raw_links),
		cmocka_unit_test(test_vlan_stacks),
		cmocka_unit_test(test_pppoe),
		cmocka_unit_test(test_mpls),
		cmocka_unit_test(test_non_ip_ethernet),
		cmocka_unit_test(test_ipv4_header_errors),
		cmocka_unit_test(test_big_tcp),
		cmocka_unit_test(test_ipv4_fragments),
		cmocka_unit_test(test_tiny_first_fragments),
		cmocka_unit_test(test_ipv6_fragments),
		cmocka_unit_test(test_ipv6_ext_chains),
		cmocka_unit_test(test_l4_protocols),
		cmocka_unit_test(test_key_symmetry),
		cmocka_unit_test(test_no_stale_fields),
		cmocka_unit_test(test_ethernet_padding),
		cmocka_unit_test(test_snaplen_cut),
		cmocka_unit_test(test_truncation_sweep),
		cmocka_unit_test(test_fast_path_agrees),
		cmocka_unit_test_teardown(test_tunnels, restore_tunnels),
		cmocka_unit_test_teardown(test_tunnel_cuts, restore_tunnels),
		cmocka_unit_test_teardown(test_tunnel_fallbacks, restore_tunnels),
		cmocka_unit_test_teardown(test_tunnel_nesting, restore_tunnels),
		cmocka_unit_test_teardown(test_tunnel_payload, restore_tunnels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
