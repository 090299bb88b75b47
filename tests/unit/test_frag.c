/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of src/frag: later fragments get their first fragment's ports;
 * src/frag/defrag puts datagrams together for matching. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_errno.h>

#include "frag/defrag.h"
#include "frag/frag.h"

#include "dpdk_malloc.h"

#define SEC 1000000000ULL

/* A fragment of datagram `id` from 10.0.0.1 to 10.0.0.2 (ports 1111 -> 53 on
 * the first one), as the parser would give it. */
static struct ft_pkt
frag(uint32_t id, int first, uint64_t ts, uint16_t vlan)
{
	struct ft_pkt p;

	memset(&p, 0, sizeof(p));
	p.key.family = 4;
	p.key.proto = 17;
	p.key.addr[0][0] = 10, p.key.addr[0][3] = 1;
	p.key.addr[1][0] = 10, p.key.addr[1][3] = 2;
	p.key.vlan[0] = vlan;
	p.dir = 0;
	p.frag_id = id;
	p.flags = FT_PKT_F_FRAGMENT;
	if (first) {
		p.key.port[0] = 1111;
		p.key.port[1] = 53;
		p.flags |= FT_PKT_F_L4_PAYLOAD;
	} else {
		p.flags |= FT_PKT_F_LATER_FRAG;
		p.frag_offset = 185;
	}
	p.hash = ft_flow_key_hash(&p.key);
	p.ts_ns = ts;
	return p;
}

static struct ft_frag_table *
table(uint32_t entries, uint64_t timeout)
{
	struct ft_frag_table_params fp = {.entries = entries, .timeout_ns = timeout};
	struct ft_frag_table *t = ft_frag_table_create(&fp);

	assert_non_null(t);
	return t;
}

static void
test_attribution(void **state)
{
	struct ft_frag_table *t = table(64, 30 * SEC);
	struct ft_pkt first = frag(7, 1, SEC, 0), later = frag(7, 0, 2 * SEC, 0), p;

	(void)state;
	/* A later fragment before its first one: unknown. */
	p = later;
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_UNATTRIBUTED);
	assert_int_equal(p.key.port[0], 0);
	assert_int_equal(ft_frag_table_packet(t, &first), FT_FRAG_NONE);
	p = later;
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_ATTRIBUTED);
	/* It now is a packet of the first fragment's 5-tuple flow. */
	assert_memory_equal(&p.key, &first.key, sizeof(p.key));
	assert_int_equal(p.hash, first.hash);
	assert_true(p.flags & FT_PKT_F_FRAG_ATTRIBUTED);
	assert_true(p.flags & FT_PKT_F_LATER_FRAG);
	/* Another datagram id, another VLAN, the other direction: not it. */
	p = frag(8, 0, 2 * SEC, 0);
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_UNATTRIBUTED);
	p = frag(7, 0, 2 * SEC, 5);
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_UNATTRIBUTED);
	p = later;
	p.dir = 1;
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_UNATTRIBUTED);
	/* Not a fragment: untouched. */
	p = first;
	p.flags = FT_PKT_F_L4_PAYLOAD;
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_NONE);
	/* Past the timeout (counted from the datagram's last fragment): gone. */
	p = frag(7, 0, 2 * SEC + 30 * SEC, 0);
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_ATTRIBUTED);
	p = frag(7, 0, 2 * SEC + 60 * SEC + 1, 0);
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_UNATTRIBUTED);
	/* A later fragment that waited for its first (the worker looks it up
	 * again after it): older than the entry, still attributed, and the
	 * entry's time does not go back. */
	first = frag(9, 1, 100 * SEC, 0);
	assert_int_equal(ft_frag_table_packet(t, &first), FT_FRAG_NONE);
	p = frag(9, 0, 100 * SEC - 50000000, 0);
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_ATTRIBUTED);
	p = frag(9, 0, 130 * SEC, 0);
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_ATTRIBUTED);
	ft_frag_table_free(t);
}

/* A datagram inside a tunnel is not the one with the same addresses and id
 * outside it. One set of four ways, so the hash cannot tell them apart. */
static void
test_attribution_tunnel(void **state)
{
	struct ft_frag_table *t = table(4, 30 * SEC);
	struct ft_pkt first = frag(7, 1, SEC, 0), p;

	(void)state;
	assert_int_equal(ft_frag_table_packet(t, &first), FT_FRAG_NONE);
	p = frag(7, 0, 2 * SEC, 0);
	p.key.tunnel = FT_TUNNEL_VXLAN;
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_UNATTRIBUTED);
	/* Its own first fragment, in the tunnel, gives it its ports. */
	first.key.tunnel = FT_TUNNEL_VXLAN;
	first.key.port[0] = 2222;
	assert_int_equal(ft_frag_table_packet(t, &first), FT_FRAG_NONE);
	p = frag(7, 0, 2 * SEC, 0);
	p.key.tunnel = FT_TUNNEL_VXLAN;
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_ATTRIBUTED);
	assert_int_equal(p.key.port[0], 2222);
	p = frag(7, 0, 2 * SEC, 0);
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_ATTRIBUTED);
	assert_int_equal(p.key.port[0], 1111);
	ft_frag_table_free(t);
}

/* The protocol is part of an IPv4 datagram's identity, not of an IPv6 one's
 * (RFC 8200): an IPv6 first fragment with a destination options header after
 * its fragment header is UDP, while its later fragments' header names the
 * options; they still join its flow, protocol included. */
static void
test_attribution_protocol(void **state)
{
	struct ft_frag_table *t = table(64, 30 * SEC);
	struct ft_pkt first = frag(9, 1, SEC, 0), p;

	(void)state;
	first.key.family = 6;
	first.flags |= FT_PKT_F_FRAG_EXT;
	first.hash = ft_flow_key_hash(&first.key);
	assert_int_equal(ft_frag_table_packet(t, &first), FT_FRAG_NONE);
	p = frag(9, 0, 2 * SEC, 0);
	p.key.family = 6;
	p.key.proto = 60; /* destination options */
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_ATTRIBUTED);
	assert_memory_equal(&p.key, &first.key, sizeof(p.key));
	assert_int_equal(p.key.proto, 17);
	assert_int_equal(p.hash, first.hash);

	/* IPv4: another protocol is another datagram. */
	first = frag(10, 1, SEC, 0);
	assert_int_equal(ft_frag_table_packet(t, &first), FT_FRAG_NONE);
	p = frag(10, 0, 2 * SEC, 0);
	p.key.proto = 6;
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_UNATTRIBUTED);
	assert_int_equal(p.key.proto, 6);
	p = frag(10, 0, 2 * SEC, 0);
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_ATTRIBUTED);
	ft_frag_table_free(t);
}

/* Bounded memory: more live datagrams than entries crowds the oldest out,
 * never a wrong attribution. */
static void
test_crowding(void **state)
{
	struct ft_frag_table *t = table(16, 30 * SEC);
	unsigned attributed = 0, unattributed = 0;

	(void)state;
	for (uint32_t id = 0; id < 1000; id++) {
		struct ft_pkt p = frag(id, 1, SEC + id, 0);

		p.key.port[0] = (uint16_t)id; /* each datagram its own ports */
		p.hash = ft_flow_key_hash(&p.key);
		ft_frag_table_packet(t, &p);
	}
	for (uint32_t id = 0; id < 1000; id++) {
		struct ft_pkt p = frag(id, 0, 2 * SEC, 0);
		enum ft_frag_result r = ft_frag_table_packet(t, &p);

		if (r == FT_FRAG_ATTRIBUTED) {
			attributed++;
			assert_int_equal(p.key.port[0], (uint16_t)id);
		} else {
			unattributed++;
		}
	}
	assert_true(attributed > 0 && attributed <= 16);
	assert_int_equal(attributed + unattributed, 1000);
	ft_frag_table_free(t);
}

static void
test_bad_params(void **state)
{
	struct ft_frag_table_params fp = {.entries = 12, .timeout_ns = SEC};

	(void)state;
	assert_null(ft_frag_table_create(&fp));
	assert_int_equal(rte_errno, EINVAL);
	fp.entries = 2;
	assert_null(ft_frag_table_create(&fp));
	assert_null(ft_frag_table_create(NULL));
	ft_frag_table_free(NULL);
}

/* --- defragmentation ---------------------------------------------------- */

#define UDP_HDR 8

/* Byte i of datagram `id` (its UDP header included). */
static uint8_t
dbyte(uint32_t id, uint32_t i)
{
	return (uint8_t)(i * 7 + id * 13 + 1);
}

/* A fragment of UDP datagram `id` covering its bytes [off, off + len) (off a
 * multiple of 8; 0 is the first fragment, whose data starts with the 8-byte
 * UDP header), as the parser gives it, with its data in buf. */
static struct ft_pkt
dfrag(uint32_t id, uint32_t off, uint32_t len, int more, uint64_t ts, uint8_t *buf)
{
	struct ft_pkt p = frag(id, off == 0, ts, 0);

	for (uint32_t i = 0; i < len; i++)
		buf[i] = dbyte(id, off + i);
	if (off == 0) {
		/* Its data starts with the UDP header; the payload after it. */
		p.l4_offset = 34;
		p.payload_offset = 34 + UDP_HDR;
		len -= UDP_HDR;
	} else {
		p.frag_offset = (uint16_t)(off / 8);
		p.l4_offset = 0;
		p.payload_offset = 34;
	}
	p.payload_len = p.payload_ip_len = len;
	if (more)
		p.flags |= FT_PKT_F_MORE_FRAGS;
	return p;
}

/* memory 0: enough blocks for every datagram at its largest. */
static struct ft_defrag *
defrag_mem(uint32_t datagrams, uint64_t timeout, uint64_t memory)
{
	struct ft_defrag_params dp = {
		.datagrams = datagrams, .timeout_ns = timeout, .memory = memory};
	struct ft_defrag *d = ft_defrag_create(&dp);

	assert_non_null(d);
	return d;
}

static struct ft_defrag *
defrag(uint32_t datagrams, uint64_t timeout)
{
	return defrag_mem(datagrams, timeout, 0);
}

/* Check a whole datagram `id` of total bytes against what was sent. */
static void
expect_whole(const struct ft_defrag_datagram *dg, uint32_t id, uint32_t total)
{
	assert_int_equal(dg->pkt.payload_len, total - UDP_HDR);
	assert_int_equal(dg->pkt.payload_ip_len, total - UDP_HDR);
	assert_int_equal(dg->pkt.flags, FT_PKT_F_L4_PAYLOAD);
	assert_int_equal(dg->pkt.key.port[0], 1111);
	assert_int_equal(dg->pkt.frag_id, id);
	for (uint32_t i = 0; i < total - UDP_HDR; i++)
		if (dg->payload[i] != dbyte(id, UDP_HDR + i))
			fail_msg("datagram %u byte %u: %u, sent %u", id, i, dg->payload[i],
				 dbyte(id, UDP_HDR + i));
}

/* Every order of three and of four fragments: whole exactly at the last one,
 * with the first fragment's owner and the completing fragment's time. */
static void
test_defrag_orders(void **state)
{
	static const uint32_t lo[4] = {0, 1480, 2960, 4440}, len[4] = {1480, 1480, 1480, 100};
	struct ft_defrag *d = defrag(64, 30 * SEC);
	uint8_t buf[2000];
	struct ft_defrag_stats st;
	uint32_t id = 0;
	int owner;

	(void)state;
	for (unsigned n = 3; n <= 4; n++) {
		unsigned perm[4] = {0, 1, 2, 3};
		uint32_t total = lo[n - 1] + len[n - 1];
		bool more = true;

		while (more) {
			struct ft_defrag_datagram dg;

			id++;
			for (unsigned k = 0; k < n; k++) {
				unsigned f = perm[k];
				struct ft_pkt p =
					dfrag(id, lo[f], len[f], f != n - 1, SEC + k, buf);
				int r = ft_defrag_fragment(d, &p, buf, &owner, 100 + id, f, &dg);

				assert_int_equal(r, k == n - 1);
			}
			expect_whole(&dg, id, total);
			assert_ptr_equal(dg.owner, &owner);
			assert_int_equal(dg.owner_id, 100 + id);
			assert_int_equal(dg.owner_index, 0); /* the first fragment's */
			assert_int_equal(dg.pkt.ts_ns, SEC + n - 1);
			assert_int_equal(dg.fragment_bytes, total - UDP_HDR);
			/* next permutation (lexicographic) */
			more = false;
			for (int i = (int)n - 2; i >= 0; i--) {
				if (perm[i] < perm[i + 1]) {
					int j = (int)n - 1;
					while (perm[j] < perm[i])
						j--;
					unsigned t = perm[i];
					perm[i] = perm[j], perm[j] = t;
					for (int a = i + 1, b = (int)n - 1; a < b; a++, b--)
						t = perm[a], perm[a] = perm[b], perm[b] = t;
					more = true;
					break;
				}
			}
		}
	}
	ft_defrag_get_stats(d, &st);
	assert_int_equal(st.datagrams, 6 + 24);
	assert_int_equal(st.fragments, 6 * 3 + 24 * 4);
	assert_int_equal(st.in_use, 0);
	assert_int_equal(st.held_bytes, 0);
	assert_int_equal(st.overlap_bytes, 0);
	ft_defrag_free(d);
}

/* Overlapping fragments: the first copy of a byte wins, later copies are
 * counted, and what the datagram's fragments carried adds up. */
static void
test_defrag_overlap(void **state)
{
	struct ft_defrag *d = defrag(64, 30 * SEC);
	uint8_t buf[256], evil[256];
	struct ft_defrag_datagram dg;
	struct ft_defrag_stats st;
	struct ft_pkt p;

	(void)state;
	/* [16, 48) first, then [8, 64) with other bytes (its [16, 48) must lose),
	 * then the first fragment [0, 24), whose [16, 24) loses too. */
	p = dfrag(1, 16, 32, 1, SEC, buf);
	assert_int_equal(ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg), 0);
	p = dfrag(1, 8, 56, 0, SEC, evil);
	for (unsigned i = 0; i < 56; i++)
		if (i + 8 < 16 || i + 8 >= 48)
			evil[i] = dbyte(1, 8 + i);
		else
			evil[i] = 0xee;
	assert_int_equal(ft_defrag_fragment(d, &p, evil, NULL, 0, 0, &dg), 0);
	p = dfrag(1, 0, 24, 1, SEC, buf);
	assert_int_equal(ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg), 1);
	expect_whole(&dg, 1, 64);
	/* 32 + 56 + 16 payload bytes carried, 56 in the datagram. */
	assert_int_equal(dg.fragment_bytes, 104);
	ft_defrag_get_stats(d, &st);
	assert_int_equal(st.overlap_bytes, 104 - 56);
	/* An exact duplicate of a fragment. */
	p = dfrag(2, 0, 16, 1, SEC, buf);
	ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	p = dfrag(2, 16, 16, 0, SEC, buf);
	assert_int_equal(ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg), 1);
	expect_whole(&dg, 2, 32);
	ft_defrag_get_stats(d, &st);
	assert_int_equal(st.overlap_bytes, 48 + 8);
	ft_defrag_free(d);
}

/* Datagrams given up, each for its reason, with their bytes; later fragments
 * of an invalid one are given up as they come. */
static void
test_defrag_give_up(void **state)
{
	struct ft_defrag *d = defrag(4, 30 * SEC);
	uint8_t buf[2000];
	struct ft_defrag_datagram dg;
	struct ft_defrag_stats st;
	struct ft_pkt p;
	uint64_t bytes = 0;

	(void)state;
	/* Timeout: the rest comes 31 s after the first fragment. */
	p = dfrag(1, 0, 16, 1, SEC, buf);
	ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	bytes += 8;
	p = dfrag(1, 16, 8, 0, 32 * SEC, buf);
	assert_int_equal(ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg), 0);
	ft_defrag_get_stats(d, &st);
	assert_int_equal(st.given_up[FT_DEFRAG_TIMEOUT], 1);
	assert_int_equal(st.given_up_bytes, bytes);
	assert_int_equal(st.in_use, 1); /* the late fragment waits on its own */
	assert_int_equal(st.held_bytes, 8);
	bytes += 8;

	/* Invalid: a fragment cut by the capture. */
	p = dfrag(2, 8, 100, 1, 32 * SEC, buf);
	p.payload_ip_len = 200;
	assert_int_equal(ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg), 0);
	bytes += 100;
	/* ... and its first fragment later: given up as it comes. */
	p = dfrag(2, 0, 8, 1, 32 * SEC, buf);
	assert_int_equal(ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg), 0);
	ft_defrag_get_stats(d, &st);
	assert_int_equal(st.given_up[FT_DEFRAG_INVALID], 1);
	assert_int_equal(st.given_up_bytes, 8 + 100); /* the late fragment still waits */
	assert_int_equal(st.held_bytes, 8);

	/* Invalid: a first fragment too short for its ports, one said to have
	 * IPv6 headers after its fragment header with no such header in its
	 * frame, past 64 KiB, two ends, bytes past the end. */
	p = dfrag(3, 8, 8, 1, 32 * SEC, buf);
	p.frag_offset = 0; /* LATER_FRAG at offset 0 */
	ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	p = dfrag(4, 0, 16, 1, 32 * SEC, buf);
	p.flags |= FT_PKT_F_FRAG_EXT;
	ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	p = dfrag(6, 65528, 16, 0, 32 * SEC, buf);
	ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	p = dfrag(7, 64, 8, 0, 32 * SEC, buf);
	ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	p = dfrag(7, 80, 8, 0, 32 * SEC, buf);
	ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	p = dfrag(8, 64, 8, 0, 32 * SEC, buf);
	ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	p = dfrag(8, 72, 8, 1, 32 * SEC, buf);
	ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	bytes += 8 + 8 + 16 + 16 + 16;
	ft_defrag_get_stats(d, &st);
	assert_int_equal(st.given_up[FT_DEFRAG_INVALID], 6);
	/* The table holds 4: datagram 1's late fragment and 3-8 took turns; what
	 * was crowded out was either given up already or counted as evicted. */
	assert_int_equal(st.given_up_bytes + st.held_bytes, bytes);
	assert_int_equal(st.datagrams, 0);

	/* A first fragment whose own header length (12) is not the one the
	 * datagram's bytes give (UDP: 8): whole, but which bytes are payload is
	 * in doubt. */
	p = dfrag(9, 0, 24, 1, 32 * SEC, buf);
	p.payload_offset += 4;
	p.payload_len = p.payload_ip_len = 12;
	assert_int_equal(ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg), 0);
	p = dfrag(9, 24, 8, 0, 32 * SEC, buf);
	assert_int_equal(ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg), 0);
	ft_defrag_get_stats(d, &st);
	assert_int_equal(st.given_up[FT_DEFRAG_INVALID], 7);
	ft_defrag_free(d);
}

/* RFC 1858's tiny fragment: a TCP first fragment with 8 bytes of its header
 * (ports and sequence number: a partial parse), the rest of the header and
 * the payload in the next one. The datagram's header is read from its bytes. */
static void
test_defrag_tiny(void **state)
{
	struct ft_defrag *d = defrag(4, 30 * SEC);
	uint8_t seg[60], buf[64];
	struct ft_defrag_datagram dg;
	struct ft_pkt p;

	(void)state;
	memset(seg, 0, sizeof(seg));
	seg[0] = 0x04, seg[1] = 0x57, seg[2] = 0x00, seg[3] = 0x50; /* 1111 -> 80 */
	seg[4] = 0x01, seg[7] = 0x02;				    /* seq 0x01000002 */
	seg[11] = 0x09;						    /* ack 9 */
	seg[12] = 6 << 4;					    /* 24-byte header */
	seg[13] = 0x18;						    /* PSH ACK */
	seg[14] = 0x10;						    /* window 4096 */
	memcpy(seg + 24, "TINY-FIRST-FRAGMENT-PAYLOAD-36-BYTES", 36);
	p = frag(3, 1, SEC, 0);
	p.key.proto = 6;
	p.flags = FT_PKT_F_FRAGMENT | FT_PKT_F_L4_PARTIAL | FT_PKT_F_MORE_FRAGS;
	p.l4_offset = 34;
	p.payload_offset = 34 + 8; /* the end of its data: no payload */
	p.tcp_seq = 0x01000002;
	assert_int_equal(ft_defrag_fragment(d, &p, seg, NULL, 0, 0, &dg), 0);
	p = frag(3, 0, SEC, 0);
	p.key.proto = 6;
	p.frag_offset = 1;
	p.payload_offset = 34;
	p.payload_len = p.payload_ip_len = 52; /* header bytes 8-24 and the payload */
	memcpy(buf, seg + 8, 52);
	assert_int_equal(ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg), 1);
	assert_int_equal(dg.pkt.payload_len, 36);
	assert_memory_equal(dg.payload, "TINY-FIRST-FRAGMENT-PAYLOAD-36-BYTES", 36);
	assert_int_equal(dg.pkt.flags, FT_PKT_F_L4_PAYLOAD);
	assert_int_equal(dg.pkt.tcp_seq, 0x01000002);
	assert_int_equal(dg.pkt.tcp_ack, 9);
	assert_int_equal(dg.pkt.tcp_flags, 0x18);
	assert_int_equal(dg.pkt.tcp_window, 4096);
	assert_int_equal(dg.pkt.payload_offset - dg.pkt.l4_offset, 24);
	/* 52 payload bytes carried (as the parser counted them), 36 in it. */
	assert_int_equal(dg.fragment_bytes, 52);
	ft_defrag_free(d);
}

/* An IPv6 datagram with a hop-by-hop header before its fragment header and
 * 16 bytes of destination options after it, which are datagram data: the UDP
 * header and payload come after them, whatever the fragments' order. A frame
 * whose chain holds no fragment header is invalid. */
/* The first fragment of IPv6 datagram `id` above: ext bytes of options
 * after its fragment header, then the UDP header and its part of the payload,
 * in 40 bytes of fragmentable data. */
static struct ft_pkt
frag6_ext_first(uint32_t id, uint32_t ext)
{
	struct ft_pkt p = frag(id, 1, SEC, 0);

	p.key.family = 6;
	p.flags |= FT_PKT_F_FRAG_EXT | FT_PKT_F_MORE_FRAGS;
	p.l3_offset = 14;
	p.l4_offset = (uint16_t)(14 + 40 + 8 + 8 + ext);
	p.payload_offset = p.l4_offset + UDP_HDR;
	p.payload_len = p.payload_ip_len = 40 - ext - UDP_HDR;
	return p;
}

static void
test_defrag_ipv6_ext(void **state)
{
	struct ft_defrag *d = defrag(4, 30 * SEC);
	static const char text[] = "PAYLOAD-AFTER-IPV6-DESTINATION-OPTIONS!!";
	const uint32_t ext = 16, dlen = ext + UDP_HDR + sizeof(text) - 1; /* 64 */
	uint8_t dgram[64], first[40 + 8 + 8 + 40], buf[64];
	struct ft_defrag_datagram dg;
	struct ft_defrag_stats st;
	struct ft_pkt p;

	(void)state;
	assert_int_equal(dlen, sizeof(dgram));
	memset(dgram, 0, sizeof(dgram));
	dgram[0] = 17, dgram[1] = 1; /* destination options, 16 bytes: then UDP */
	dgram[ext + 0] = 0x04, dgram[ext + 1] = 0x57, dgram[ext + 3] = 53;
	dgram[ext + 5] = (uint8_t)(UDP_HDR + sizeof(text) - 1);
	memcpy(dgram + ext + UDP_HDR, text, sizeof(text) - 1);
	/* The first fragment's frame from its IPv6 header: next header 0, the
	 * hop-by-hop header (next 44), the fragment header, then 40 bytes. */
	memset(first, 0, sizeof(first));
	first[0] = 0x60, first[6] = 0;
	first[40] = 44;
	first[48] = 60;
	memcpy(first + 56, dgram, 40);

	for (int order = 0; order < 2; order++) {
		struct ft_pkt a = frag6_ext_first(20 + (uint32_t)order, ext), b;

		assert_int_equal(ft_defrag_data_offset(&a), 14);
		assert_int_equal(ft_defrag_data_len(&a), sizeof(first));
		b = frag(20 + (uint32_t)order, 0, SEC, 0);
		b.key.family = 6;
		b.key.proto = 60; /* what its fragment header names */
		b.frag_offset = 5;
		b.payload_len = b.payload_ip_len = dlen - 40;
		memcpy(buf, dgram + 40, dlen - 40);
		if (order == 0) {
			assert_int_equal(ft_defrag_fragment(d, &a, first, NULL, 0, 0, &dg), 0);
			assert_int_equal(ft_defrag_fragment(d, &b, buf, NULL, 0, 0, &dg), 1);
		} else {
			assert_int_equal(ft_defrag_fragment(d, &b, buf, NULL, 0, 0, &dg), 0);
			assert_int_equal(ft_defrag_fragment(d, &a, first, NULL, 0, 0, &dg), 1);
		}
		assert_int_equal(dg.pkt.payload_len, sizeof(text) - 1);
		assert_memory_equal(dg.payload, text, sizeof(text) - 1);
		assert_int_equal(dg.pkt.payload_offset, a.l4_offset + UDP_HDR);
		assert_int_equal(dg.pkt.key.proto, 17);
		assert_int_equal(dg.pkt.flags, FT_PKT_F_L4_PAYLOAD);
		assert_int_equal(dg.fragment_bytes, sizeof(text) - 1);
	}

	/* No fragment header in the chain (the hop-by-hop header names UDP). */
	p = frag6_ext_first(30, ext);
	first[40] = 17;
	assert_int_equal(ft_defrag_fragment(d, &p, first, NULL, 0, 0, &dg), 0);
	ft_defrag_get_stats(d, &st);
	assert_int_equal(st.datagrams, 2);
	assert_int_equal(st.given_up[FT_DEFRAG_INVALID], 1);
	ft_defrag_free(d);
}

/* More separate pieces than a datagram may hold: invalid, not a crash or an
 * overrun of the piece list. */
static void
test_defrag_pieces(void **state)
{
	struct ft_defrag *d = defrag(4, 30 * SEC);
	uint8_t buf[64];
	struct ft_defrag_datagram dg;
	struct ft_defrag_stats st;
	struct ft_pkt p;

	(void)state;
	for (uint32_t k = 0; k < FT_DEFRAG_RANGES; k++) {
		p = dfrag(1, 16 + 16 * k, 8, 1, SEC, buf);
		ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	}
	ft_defrag_get_stats(d, &st);
	assert_int_equal(st.given_up[FT_DEFRAG_INVALID], 0);
	p = dfrag(1, 16 + 16 * FT_DEFRAG_RANGES, 8, 1, SEC, buf);
	ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	ft_defrag_get_stats(d, &st);
	assert_int_equal(st.given_up[FT_DEFRAG_INVALID], 1);
	assert_int_equal(st.given_up_bytes, 8 * (FT_DEFRAG_RANGES + 1));
	/* Filling the holes between pieces joins them: 16 pieces, then the holes
	 * one by one, is whole at the last. */
	for (uint32_t k = 0; k < FT_DEFRAG_RANGES; k++) {
		p = dfrag(2, 8 + 16 * k, 8, k + 1 < FT_DEFRAG_RANGES, SEC, buf);
		assert_int_equal(ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg), 0);
	}
	for (uint32_t k = 0; k < FT_DEFRAG_RANGES; k++) {
		p = dfrag(2, 16 * k, 8, 1, SEC, buf);
		assert_int_equal(ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg),
				 k + 1 == FT_DEFRAG_RANGES);
	}
	expect_whole(&dg, 2, 16 * FT_DEFRAG_RANGES);
	ft_defrag_free(d);
}

/* Eviction and the end: the oldest datagram of a full set goes; the rest at
 * ft_defrag_flush(). Every byte is in exactly one place. */
static void
test_defrag_evict_flush(void **state)
{
	struct ft_defrag *d = defrag(1, 30 * SEC);
	uint8_t buf[64];
	struct ft_defrag_datagram dg;
	struct ft_defrag_stats st;
	struct ft_pkt p;

	(void)state;
	p = dfrag(1, 0, 24, 1, SEC, buf);
	ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	p = dfrag(2, 0, 24, 1, 2 * SEC, buf);
	ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	ft_defrag_get_stats(d, &st);
	assert_int_equal(st.given_up[FT_DEFRAG_EVICTED], 1);
	assert_int_equal(st.given_up_bytes, 16);
	assert_int_equal(st.held_bytes, 16);
	/* Datagram 1's rest finds a table without it. */
	p = dfrag(1, 24, 8, 0, 2 * SEC, buf);
	assert_int_equal(ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg), 0);
	ft_defrag_flush(d);
	ft_defrag_get_stats(d, &st);
	assert_int_equal(st.given_up[FT_DEFRAG_EVICTED], 2);
	assert_int_equal(st.given_up[FT_DEFRAG_END], 1);
	assert_int_equal(st.given_up_bytes, 16 + 16 + 8);
	assert_int_equal(st.held_bytes, 0);
	assert_int_equal(st.in_use, 0);
	ft_defrag_free(d);
}

/* The sweep gives up datagrams whose time is over, a few contexts per call,
 * and leaves the others. */
static void
test_defrag_expire(void **state)
{
	struct ft_defrag *d = defrag(16, 30 * SEC);
	uint8_t buf[64];
	struct ft_defrag_datagram dg;
	struct ft_defrag_stats st;
	struct ft_pkt p;
	unsigned n = 0;

	(void)state;
	for (uint32_t id = 1; id <= 6; id++) {
		p = dfrag(id, 0, 24, 1, (id <= 3 ? 1 : 20) * SEC, buf);
		ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	}
	ft_defrag_get_stats(d, &st);
	assert_int_equal(st.in_use, 6);
	/* At 40 s, datagrams 1-3 (1 s) are over, 4-6 (20 s) not. */
	for (unsigned call = 0; call < 4; call++) {
		unsigned k = ft_defrag_expire(d, 40 * SEC, 4);

		assert_true(k <= 3);
		n += k;
	}
	assert_int_equal(n, 3);
	ft_defrag_get_stats(d, &st);
	assert_int_equal(st.given_up[FT_DEFRAG_TIMEOUT], 3);
	assert_int_equal(st.in_use, 3);
	assert_int_equal(st.held_bytes, 3 * 16);
	assert_int_equal(ft_defrag_expire(d, 40 * SEC, 16), 0);
	assert_int_equal(ft_defrag_expire(d, 51 * SEC, 16), 3);
	ft_defrag_free(d);
}

/*
 * Against a model: thousands of datagrams of random sizes cut into random
 * pieces (overlapping, duplicated, with other bytes in the copies that come
 * later), fragments of several datagrams interleaved in random order. The
 * model: the first copy of every byte wins. Every datagram must come back
 * whole exactly once, with the model's bytes, and the bytes must add up.
 */
static void
test_defrag_model(void **state)
{
	enum { NDG = 2000, LIVE = 8, MAXF = 12 };
	/* Blocks for the LIVE datagrams at their largest (4,808 bytes: three
	 * blocks) and no more: a block not given back would, in time, leave a
	 * datagram without room, given up for memory. */
	struct ft_defrag *d = defrag_mem(64, 30 * SEC, LIVE * 3 * FT_DEFRAG_BLOCK);
	static uint8_t model[LIVE][FT_DEFRAG_DATA_MAX];
	static uint8_t covered[LIVE][FT_DEFRAG_DATA_MAX];
	struct {
		uint32_t id, total, nf, next;
		uint32_t off[MAXF], len[MAXF];
		uint8_t fill[MAXF];
	} live[LIVE];
	uint64_t carried = 0, whole_bytes = 0;
	uint32_t started = 0, done = 0, seed = 12345;
	uint8_t buf[FT_DEFRAG_DATA_MAX];
	struct ft_defrag_stats st;

	(void)state;
	memset(live, 0, sizeof(live));
#define RND() (seed = seed * 1103515245 + 12345, (seed >> 8) & 0xffffff)
	while (done < NDG) {
		unsigned s = RND() % LIVE;
		struct ft_defrag_datagram dg;
		struct ft_pkt p;
		uint32_t f, off, len;

		if (live[s].nf == live[s].next) {
			/* Slot free: a new datagram, its pieces chosen now. */
			uint32_t total, n, last = 0;

			if (started == NDG) {
				/* All sent: stop when no slot has more to send
				 * (one given up never comes back whole). */
				bool idle = true;

				for (unsigned k = 0; k < LIVE; k++)
					idle &= live[k].nf == live[k].next;
				if (idle)
					break;
				continue;
			}
			total = 16 + 8 * (RND() % 600);
			n = 1 + RND() % (MAXF - 2);
			live[s].id = ++started;
			live[s].total = total;
			memset(covered[s], 0, total);
			/* A partition in 8-byte units, then a few extra copies. */
			for (uint32_t k = 0; k < n; k++) {
				uint32_t end =
					k + 1 == n ? total
						   : last + 8 * (1 + RND() % ((total - last) / 8 /
										      (n - k) +
									      1));

				if (end > total || (k + 1 < n && end >= total))
					end = k + 1 == n ? total : last + 8;
				if (end > total)
					end = total;
				live[s].off[k] = last;
				live[s].len[k] = end - last;
				last = end;
				if (last == total) {
					n = k + 1;
					break;
				}
			}
			for (uint32_t k = n; k < n + 2 && k < MAXF; k++) {
				uint32_t o = 8 * (RND() % (total / 8));

				live[s].off[k] = o;
				live[s].len[k] = 8 * (1 + RND() % 4);
				if (o + live[s].len[k] > total)
					live[s].len[k] = total - o;
				n = k + 1;
			}
			for (uint32_t k = 0; k < n; k++) {
				uint32_t j = RND() % (k + 1), t;

				t = live[s].off[k], live[s].off[k] = live[s].off[j],
				live[s].off[j] = t;
				t = live[s].len[k], live[s].len[k] = live[s].len[j],
				live[s].len[j] = t;
				live[s].fill[k] = (uint8_t)RND();
			}
			live[s].nf = n;
			live[s].next = 0;
			continue;
		}
		f = live[s].next++;
		off = live[s].off[f];
		len = live[s].len[f];
		/* This copy's bytes: its own fill where the model holds nothing yet
		 * they win; elsewhere they must lose. */
		for (uint32_t i = 0; i < len; i++) {
			buf[i] = (uint8_t)(live[s].fill[f] + i);
			if (!covered[s][off + i]) {
				covered[s][off + i] = 1;
				model[s][off + i] = buf[i];
			}
		}
		p = frag(live[s].id, off == 0, SEC, 0);
		if (off == 0) {
			p.l4_offset = 34;
			p.payload_offset = 34 + UDP_HDR;
			p.payload_len = len - UDP_HDR;
		} else {
			p.frag_offset = (uint16_t)(off / 8);
			p.payload_offset = 34;
			p.payload_len = len;
		}
		p.payload_ip_len = p.payload_len;
		if (off + len != live[s].total)
			p.flags |= FT_PKT_F_MORE_FRAGS;
		carried += p.payload_len;
		if (ft_defrag_fragment(d, &p, buf, NULL, live[s].id, 0, &dg)) {
			uint32_t total = live[s].total;

			assert_int_equal(dg.owner_id, live[s].id);
			assert_int_equal(dg.pkt.payload_len, total - UDP_HDR);
			assert_memory_equal(dg.payload, model[s] + UDP_HDR, total - UDP_HDR);
			whole_bytes += dg.pkt.payload_len;
			done++;
			/* Copies still to come of a datagram already whole start a new
			 * one that never ends: drop them from the plan. */
			live[s].nf = live[s].next;
		}
	}
#undef RND
	ft_defrag_flush(d);
	ft_defrag_get_stats(d, &st);
	assert_int_equal(st.datagrams, NDG);
	assert_int_equal(st.given_up[FT_DEFRAG_MEMORY], 0);
	assert_int_equal(st.held_bytes, 0);
	assert_int_equal(carried, whole_bytes + st.overlap_bytes + st.given_up_bytes);
	ft_defrag_free(d);
}

/* Send datagram id of total bytes in two fragments at time ts; it must come
 * back whole with its bytes. */
static void
whole_in_two(struct ft_defrag *d, uint32_t id, uint32_t total, uint64_t ts)
{
	static uint8_t buf[FT_DEFRAG_DATA_MAX];
	struct ft_defrag_datagram dg;
	uint32_t half = total / 16 * 8;
	struct ft_pkt p;

	p = dfrag(id, 0, half, 1, ts, buf);
	assert_int_equal(ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg), 0);
	p = dfrag(id, half, total - half, 0, ts, buf);
	assert_int_equal(ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg), 1);
	expect_whole(&dg, id, total);
}

/*
 * The block pool: a datagram takes blocks as its bytes come (one per
 * FT_DEFRAG_BLOCK of offsets written), is given up for memory when the pool
 * lacks them (its later fragments then given up as they come), and gives
 * them back however it leaves the table.
 */
static void
test_defrag_memory(void **state)
{
	struct ft_defrag_params bad = {.datagrams = 4, .memory = FT_DEFRAG_BLOCK - 1};
	struct ft_defrag *d = defrag_mem(8, 30 * SEC, 3 * FT_DEFRAG_BLOCK);
	static uint8_t buf[FT_DEFRAG_DATA_MAX];
	struct ft_defrag_datagram dg;
	struct ft_defrag_stats st;
	struct ft_pkt p;

	(void)state;
	assert_null(ft_defrag_create(&bad));
	assert_int_equal(rte_errno, EINVAL);
	bad.memory = FT_DEFRAG_BLOCK;
	assert_int_equal(ft_defrag_memory(&bad) - ft_defrag_memory(&(struct ft_defrag_params){
							  .datagrams = 4, .memory = 0}),
			 -(int64_t)(4 * 32 - 1) * (FT_DEFRAG_BLOCK + 4));

	/* Datagram 1 takes block 0 of its own, datagram 2 its block 1: one left. */
	p = dfrag(1, 0, 1480, 1, SEC, buf);
	assert_int_equal(ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg), 0);
	p = dfrag(2, 2048, 1480, 1, SEC, buf);
	assert_int_equal(ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg), 0);
	/* Datagram 3's [1480, 2960) needs two. */
	p = dfrag(3, 1480, 1480, 1, SEC, buf);
	assert_int_equal(ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg), 0);
	ft_defrag_get_stats(d, &st);
	assert_int_equal(st.given_up[FT_DEFRAG_MEMORY], 1);
	assert_int_equal(st.given_up_bytes, 1480);
	assert_int_equal(st.held_bytes, 1472 + 1480);
	assert_int_equal(st.blocks_used, 2);
	/* Its first fragment is given up as it comes, and takes no block. */
	p = dfrag(3, 0, 1480, 1, SEC, buf);
	assert_int_equal(ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg), 0);
	ft_defrag_get_stats(d, &st);
	assert_int_equal(st.given_up[FT_DEFRAG_MEMORY], 1);
	assert_int_equal(st.given_up_bytes, 1480 + 1472);
	/* Datagram 1's last fragment lies in the block it has: whole, and its
	 * block goes back. */
	p = dfrag(1, 1480, 520, 0, SEC, buf);
	assert_int_equal(ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg), 1);
	expect_whole(&dg, 1, 2000);
	/* Two free: a datagram across a block boundary, one fragment in the
	 * first block, the next in both. */
	p = dfrag(4, 0, 1000, 1, SEC, buf);
	assert_int_equal(ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg), 0);
	p = dfrag(4, 1000, 3000, 0, SEC, buf);
	assert_int_equal(ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg), 1);
	expect_whole(&dg, 4, 4000);
	/* Three blocks' worth while datagram 2 holds one: given up. */
	p = dfrag(5, 0, 6000, 1, SEC, buf);
	assert_int_equal(ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg), 0);
	ft_defrag_get_stats(d, &st);
	assert_int_equal(st.given_up[FT_DEFRAG_MEMORY], 2);
	assert_int_equal(st.datagrams, 2);
	ft_defrag_flush(d);
	ft_defrag_get_stats(d, &st);
	assert_int_equal(st.blocks_used, 0);
	ft_defrag_free(d);

	/* Every way out gives the blocks back: with blocks for one datagram of
	 * 64 KiB, one still goes through after each. */
	d = defrag_mem(4, 30 * SEC, FT_DEFRAG_DATA_MAX);
	whole_in_two(d, 10, FT_DEFRAG_DATA_MAX, SEC);
	/* Timeout, by the sweep. */
	p = dfrag(11, 0, 30000, 1, SEC, buf);
	ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	assert_int_equal(ft_defrag_expire(d, 40 * SEC, 4), 1);
	whole_in_two(d, 12, FT_DEFRAG_DATA_MAX, 40 * SEC);
	/* Timeout, seen by a fragment of its set (one set of four). */
	p = dfrag(13, 0, 30000, 1, 40 * SEC, buf);
	ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	whole_in_two(d, 14, FT_DEFRAG_DATA_MAX, 80 * SEC);
	/* Evicted: five datagrams in a set of four, then the fifth given up
	 * for memory, which must free its own few blocks. */
	for (uint32_t id = 15; id < 20; id++) {
		p = dfrag(id, 0, 4000, 1, 80 * SEC + id, buf);
		ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	}
	ft_defrag_flush(d); /* end */
	whole_in_two(d, 20, FT_DEFRAG_DATA_MAX, 80 * SEC);
	/* Invalid: held bytes, then a fragment cut by the capture. */
	p = dfrag(21, 0, 30000, 1, 80 * SEC, buf);
	ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	p = dfrag(21, 30000, 100, 0, 80 * SEC, buf);
	p.payload_ip_len = 200;
	ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	whole_in_two(d, 22, FT_DEFRAG_DATA_MAX, 80 * SEC);
	/* Memory: a datagram that takes none (datagram 24), and one that holds
	 * 15 blocks when the pool cannot take its next fragment (23). */
	p = dfrag(23, 0, 30000, 1, 80 * SEC, buf);
	ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	p = dfrag(24, 0, 40000, 1, 80 * SEC, buf);
	ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	ft_defrag_get_stats(d, &st);
	assert_int_equal(st.given_up[FT_DEFRAG_MEMORY], 1);
	p = dfrag(26, 0, 30000, 1, 80 * SEC, buf); /* 15 more: 2 left */
	ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	p = dfrag(23, 40000, 6000, 1, 80 * SEC, buf); /* needs 4 */
	ft_defrag_fragment(d, &p, buf, NULL, 0, 0, &dg);
	ft_defrag_get_stats(d, &st);
	assert_int_equal(st.given_up[FT_DEFRAG_MEMORY], 2);
	ft_defrag_flush(d); /* datagram 26: end */
	whole_in_two(d, 25, FT_DEFRAG_DATA_MAX, 80 * SEC);
	ft_defrag_get_stats(d, &st);
	assert_int_equal(st.given_up[FT_DEFRAG_TIMEOUT], 2);
	assert_int_equal(st.given_up[FT_DEFRAG_EVICTED], 1);
	assert_int_equal(st.given_up[FT_DEFRAG_END], 5);
	assert_int_equal(st.given_up[FT_DEFRAG_INVALID], 1);
	assert_int_equal(st.datagrams, 6);
	ft_defrag_free(d);
}

RTE_DEFINE_PER_LCORE(int, _rte_errno);

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attribution),
		cmocka_unit_test(test_attribution_protocol),
		cmocka_unit_test(test_attribution_tunnel),
		cmocka_unit_test(test_crowding),
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_defrag_orders),
		cmocka_unit_test(test_defrag_overlap),
		cmocka_unit_test(test_defrag_give_up),
		cmocka_unit_test(test_defrag_tiny),
		cmocka_unit_test(test_defrag_ipv6_ext),
		cmocka_unit_test(test_defrag_pieces),
		cmocka_unit_test(test_defrag_evict_flush),
		cmocka_unit_test(test_defrag_expire),
		cmocka_unit_test(test_defrag_model),
		cmocka_unit_test(test_defrag_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
