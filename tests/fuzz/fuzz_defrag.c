/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for IP defragmentation (src/frag/defrag): the input is a
 * program of fragments of eight datagrams (IPv4 or IPv6 identity) into a table
 * of 1 to 32 contexts, whose bytes share a pool of 1 to 128 blocks or one of
 * 32 blocks per context: offsets anywhere up to and past 64 KiB, lengths up to
 * 1,600 bytes, first fragments that carry the UDP header (or whose parse says
 * 12 bytes), more-fragments set or not, and now and then a capture cut, a
 * tiny first fragment (part of the header), one too short for its ports, or
 * one flagged with IPv6 headers after its fragment header that its frame does
 * not hold. IPv6 datagrams 4-7 do hold 8 bytes of destination options there
 * (their first fragments' frames start at the IPv6 header, with a hop-by-hop
 * header before the fragment header); time steps forward, past the
 * timeout, and back; the sweep of expired datagrams now and then. Every copy
 * of a byte carries the same value, a function of its datagram and offset, so
 * a whole datagram's payload can be checked.
 *
 * Besides crashes and sanitizer reports, it aborts when:
 *   - a whole datagram's payload is not the bytes at its offsets, or it is not
 *     the fragment's datagram;
 *   - the counters do not account for every payload byte given exactly once:
 *     whole payloads + overlap + given up + held, after every fragment;
 *   - more blocks are in use than the pool has, or none while bytes are held;
 *   - after ft_defrag_flush(), anything is still held, or a block in use.
 */
#include <stdbool.h>
#include <string.h>

#include "frag/defrag.h"
#include "fuzz.h"

/* No EAL here: allocation comes from the C library. */
#include "../unit/dpdk_malloc.h"

static inline uint8_t
byte_at(uint32_t id, uint32_t off)
{
	return (uint8_t)(((id + 1) * 2654435761u + off * 40503u) >> 13);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t payload[1700];
	struct input in = {data, size};
	uint32_t shape = take(&in, 1);
	struct ft_defrag_params p = {
		.datagrams = 1u << (shape & 3) << ((shape >> 2) & 1 ? 2 : 0),
		/* A pool of 1 to 128 blocks, or enough for every datagram. */
		.memory = ((shape >> 3) & 7) == 7
				  ? 0
				  : (uint64_t)FT_DEFRAG_BLOCK << ((shape >> 3) & 7) * 6 / 5,
		.timeout_ns = 1000,
		.socket_id = -1,
	};
	struct ft_defrag *d = ft_defrag_create(&p);
	struct ft_defrag_stats st;
	struct ft_defrag_datagram dg;
	uint64_t now = 1000000, given = 0, whole = 0;

	CHECK(d != NULL);
	while (in.left > 0) {
		uint32_t op = take(&in, 2);
		uint32_t id = op & 7;
		uint32_t len = take(&in, 2) % 1600;
		uint32_t off = 8 * take(&in, 2) % (70000 / 8 * 8);
		struct ft_pkt pkt;
		uint32_t data_off, ext, l4, pre = 0;
		bool no_chain = false;

		memset(&pkt, 0, sizeof(pkt));
		pkt.key.family = (op & 8) ? 6 : 4;
		ext = (pkt.key.family == 6 && (id & 4)) ? 8 : 0;
		l4 = ext ? 14 + 40 + 8 + 8 + ext : 34;
		pkt.key.proto = 17;
		pkt.key.addr[0][0] = 10;
		pkt.key.addr[1][0] = 11;
		pkt.frag_id = id;
		pkt.flags = FT_PKT_F_FRAGMENT;
		if (op & 0x10)
			pkt.flags |= FT_PKT_F_MORE_FRAGS;
		pkt.payload_len = len;
		if ((op & 0x60) == 0) {
			/* A first fragment: its data is the UDP header (8 bytes; now
			 * and then a parse that said 12), then payload. */
			uint32_t hdr = ((op >> 7) & 15) == 0 ? 12 : 8;

			pkt.flags |= FT_PKT_F_L4_PAYLOAD;
			pkt.l4_offset = (uint16_t)l4;
			pkt.payload_offset = l4 + hdr;
			if (ext) {
				pkt.flags |= FT_PKT_F_FRAG_EXT;
				pkt.l3_offset = 14;
				pre = 40 + 8 + 8; /* IPv6, hop-by-hop, fragment headers */
			}
		} else {
			pkt.flags |= FT_PKT_F_LATER_FRAG;
			pkt.frag_offset = (uint16_t)(off / 8);
			pkt.payload_offset = 34;
		}
		switch ((op >> 11) & 15) { /* now and then, something wrong */
		case 0:
			pkt.payload_ip_len = len + 1; /* cut by the capture */
			break;
		case 1: /* a tiny first fragment: part of its header, no payload */
			if (!(pkt.flags & FT_PKT_F_LATER_FRAG)) {
				pkt.flags =
					(pkt.flags & ~FT_PKT_F_L4_PAYLOAD) | FT_PKT_F_L4_PARTIAL;
				pkt.payload_offset = l4 + 4 + (len & 3);
				pkt.payload_len = 0;
			}
			break;
		case 2: /* flagged, but no fragment header in the chain */
			pkt.flags |= FT_PKT_F_FRAG_EXT;
			no_chain = !(pkt.flags & FT_PKT_F_LATER_FRAG);
			pre = 0;
			break;
		case 3:
			pkt.frag_offset = 0; /* a tiny first fragment, or a first one */
			break;
		case 4:
			ft_defrag_expire(d, now, 1 + (op & 7)); /* the worker loop's sweep */
			break;
		default:
			break;
		}
		if (pkt.payload_ip_len == 0)
			pkt.payload_ip_len = pkt.payload_len;
		/* The fragment's data, at its offset in the datagram. */
		data_off = (pkt.flags & FT_PKT_F_LATER_FRAG) ? (uint32_t)pkt.frag_offset * 8 : 0;
		for (uint32_t i = 0; i < ft_defrag_data_len(&pkt); i++)
			payload[i] = i < pre ? 0 : byte_at(id, data_off + i - pre);
		if (pre != 0) {
			payload[0] = 0x60;
			payload[40] = 44; /* hop-by-hop, then the fragment header */
			payload[48] = 60; /* then destination options */
		}
		if (no_chain)
			payload[6] = 17; /* IPv6 next header: UDP at once */
		/* Time: mostly small steps, sometimes past the timeout, or back. */
		switch (op >> 15) {
		case 0:
			now += op & 0x300;
			break;
		default:
			now += (op & 0x100) ? 5000 : (uint64_t) - (int64_t)(op & 0xff);
			break;
		}
		pkt.ts_ns = now;
		given += pkt.payload_len;
		if (ft_defrag_fragment(d, &pkt, payload, NULL, id, 0, &dg)) {
			uint32_t hdr = dg.pkt.payload_offset - dg.pkt.l4_offset;

			CHECK(dg.owner_id == id && dg.pkt.frag_id == id);
			CHECK(dg.pkt.payload_len == dg.pkt.payload_ip_len);
			CHECK(hdr == 8 && ext + hdr + dg.pkt.payload_len <= FT_DEFRAG_DATA_MAX);
			CHECK(!(dg.pkt.flags & (FT_PKT_F_FRAGMENT | FT_PKT_F_MORE_FRAGS)));
			for (uint32_t i = 0; i < dg.pkt.payload_len; i++)
				CHECK(dg.payload[i] == byte_at(id, ext + hdr + i));
			CHECK(dg.fragment_bytes >= dg.pkt.payload_len);
			whole += dg.pkt.payload_len;
		}
		ft_defrag_get_stats(d, &st);
		CHECK(given == whole + st.overlap_bytes + st.given_up_bytes + st.held_bytes);
		CHECK(st.in_use <= p.datagrams);
		CHECK(st.blocks_used * FT_DEFRAG_BLOCK <=
		      (p.memory ? p.memory : p.datagrams * FT_DEFRAG_DATA_MAX));
		CHECK(st.held_bytes == 0 || st.blocks_used > 0);
	}
	ft_defrag_flush(d);
	ft_defrag_get_stats(d, &st);
	CHECK(st.in_use == 0 && st.held_bytes == 0 && st.blocks_used == 0);
	CHECK(given == whole + st.overlap_bytes + st.given_up_bytes);
	ft_defrag_free(d);
	return 0;
}
