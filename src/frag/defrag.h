/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IP defragmentation for pattern matching: the fragments of a datagram are
 * gathered until the datagram is whole, then handed back as one packet, so
 * that a pattern split across fragments (or hidden by them, the classic IDS
 * evasion) is found. Flow accounting does not need it (src/frag attributes
 * fragments to flows); src/match does.
 *
 * The policy (README "Pattern matching" repeats it for users):
 *   - A datagram is (addresses, protocol, identification, VLANs, direction).
 *     Its bytes are the IP payload after the IPv4 header or, for IPv6, after
 *     the fragment header, at the fragment's offset.
 *   - Overlaps: the first copy of a byte wins, as in TCP reassembly, the L4
 *     header's bytes too; later copies are counted (overlap_bytes), never
 *     scanned.
 *   - Whole: the first and the last fragment (no more-fragments flag) are in
 *     and every byte between is covered. The datagram comes back as its first
 *     fragment's parse (its flow key) with the fragment flags cleared, its L4
 *     header read from the datagram's bytes (so a first fragment that held
 *     only part of it, RFC 1858's tiny fragment, is no obstacle; nor are IPv6
 *     extension headers between the fragment header and the L4 header,
 *     which are datagram data), and the whole L4 payload, timed at the
 *     fragment that completed it.
 *   - Given up (counted by reason, with the payload bytes of its fragments):
 *       timeout   the first of its fragments to come came timeout_ns ago
 *                 (seen when a fragment comes to its set of the table, or
 *                 by ft_defrag_expire());
 *       evicted   its set of the table was full and it was the oldest;
 *       invalid   it can never be made whole or read right: a fragment cut
 *                 by the capture's snaplen, a first fragment too short for
 *                 its ports (it joined another flow), an L4 header that does
 *                 not fit or whose length differs from the first fragment's
 *                 own, bytes beyond 64 KiB or beyond the last fragment's end,
 *                 two different ends, more than FT_DEFRAG_RANGES pieces. Later
 *                 fragments of such a datagram are given up as they come,
 *                 until it times out;
 *       end       still incomplete at ft_defrag_flush() (end of input);
 *       memory    its new bytes needed more blocks than the pool had free.
 *                 Later fragments are given up as they come, as above.
 *
 * Memory, allocated at creation (ft_defrag_memory() gives the figure): a
 * context of about 460 bytes per datagram, the pool of blocks
 * (params.memory), and one buffer of FT_DEFRAG_DATA_MAX bytes that a whole
 * datagram is copied to. A datagram's bytes take blocks of FT_DEFRAG_BLOCK
 * bytes as they come (a datagram of 3,000 bytes, two), so the pool, not the
 * largest datagram, sets how many can be held: the default 4 MiB holds 1,024
 * such datagrams or 64 of 64 KiB. Per packet: nothing unless it is a
 * fragment. Threading: one per worker; not thread-safe.
 */
#ifndef FT_DEFRAG_H
#define FT_DEFRAG_H

#include <stdint.h>

#include "parse/parse.h"

#define FT_DEFRAG_DATA_MAX 65536 /* bytes of one datagram's fragmentable part */
#define FT_DEFRAG_BLOCK	   2048	 /* bytes of one block of the pool */
#define FT_DEFRAG_RANGES   16	 /* separate pieces one datagram may hold */

struct ft_defrag_params {
	uint32_t datagrams;  /* incomplete datagrams held at once: a power of two */
	uint64_t memory;     /* bytes of the block pool their bytes are held in
				(at least FT_DEFRAG_BLOCK); 0: enough for all of
				them at FT_DEFRAG_DATA_MAX */
	uint64_t timeout_ns; /* how long after its first fragment a datagram is held */
	int socket_id;
};

enum ft_defrag_reason {
	FT_DEFRAG_TIMEOUT = 0,
	FT_DEFRAG_EVICTED,
	FT_DEFRAG_INVALID,
	FT_DEFRAG_END,
	FT_DEFRAG_MEMORY,
	FT_DEFRAG_REASONS,
};

/* Counters since creation. Payload bytes are the fragments' payload_len. */
struct ft_defrag_stats {
	uint64_t fragments;	/* fragments taken */
	uint64_t datagrams;	/* datagrams made whole */
	uint64_t overlap_bytes; /* of whole datagrams' fragments: bytes already held */
	uint64_t given_up[FT_DEFRAG_REASONS]; /* datagrams given up, by reason */
	uint64_t given_up_bytes;	      /* their fragments' payload bytes */
	uint64_t in_use;		      /* gauge: datagrams held */
	uint64_t held_bytes;		      /* gauge: their fragments' payload bytes so far */
	uint64_t blocks_used;		      /* gauge: blocks of the pool they take */
};

/* A whole datagram. Valid until the next call on the reassembler. */
struct ft_defrag_datagram {
	struct ft_pkt pkt;	 /* the first fragment's parse (its flow key); fragment
				    flags cleared, L4 header fields and payload_offset
				    read from the datagram, payload_len =
				    payload_ip_len = the L4 payload, ts_ns the
				    completing fragment's */
	const uint8_t *payload;	 /* pkt.payload_len bytes */
	uint64_t fragment_bytes; /* its fragments' payload bytes: pkt.payload_len
				    + the overlap among them */
	const void *owner;	 /* what ft_defrag_fragment() got with the first fragment */
	uint64_t owner_id;
	uint32_t owner_index;
};

struct ft_defrag;

/*
 * Where a fragment's part of its datagram lies in its frame: a first
 * fragment's from its L4 header (whole or not), or from its IPv6 header when
 * extension headers follow the fragment header; a later fragment's payload.
 */
static inline uint32_t
ft_defrag_data_offset(const struct ft_pkt *p)
{
	if (p->flags & FT_PKT_F_LATER_FRAG)
		return p->payload_offset;
	/* Extension headers after the fragment header are datagram data too:
	 * from the IPv6 header, which ft_defrag_fragment() walks to the end of
	 * the fragment header. */
	return (p->flags & FT_PKT_F_FRAG_EXT) ? p->l3_offset : p->l4_offset;
}

static inline uint32_t
ft_defrag_data_len(const struct ft_pkt *p)
{
	return p->payload_offset + p->payload_len - ft_defrag_data_offset(p);
}

/* @return the reassembler, or NULL with rte_errno set: EINVAL, ENOMEM. */
struct ft_defrag *ft_defrag_create(const struct ft_defrag_params *params);

/* NULL is a no-op. Held datagrams are dropped uncounted. */
void ft_defrag_free(struct ft_defrag *d);

/* Bytes ft_defrag_create() allocates for these parameters. */
uint64_t ft_defrag_memory(const struct ft_defrag_params *params);

/*
 * One fragment (pkt->flags has FT_PKT_F_FRAGMENT; ts_ns set) and its data:
 * ft_defrag_data_len(pkt) bytes from ft_defrag_data_offset(pkt) in its frame.
 * owner, owner_id and owner_index are kept from the first fragment (e.g. its
 * flow) and come back with the datagram. Byte counts (fragment_bytes, the
 * stats) are in payload bytes, pkt->payload_len per fragment, as the matcher
 * counts every packet's payload.
 *
 * @return 1 with *out filled when this fragment made its datagram whole,
 *         else 0 (held, or given up and counted)
 */
int ft_defrag_fragment(struct ft_defrag *d, const struct ft_pkt *pkt, const uint8_t *data,
		       const void *owner, uint64_t owner_id, uint32_t owner_index,
		       struct ft_defrag_datagram *out);

/* Visit the next `budget` contexts (round robin) and give up those whose time
 * is over at now_ns (reason timeout). A datagram's time is otherwise checked
 * only when a fragment comes to its set; this keeps the counters and
 * held_bytes true on a live link. Returns how many were given up. */
unsigned ft_defrag_expire(struct ft_defrag *d, uint64_t now_ns, unsigned budget);

/* Give up every datagram held (reason end): at the end of input. */
void ft_defrag_flush(struct ft_defrag *d);

void ft_defrag_get_stats(const struct ft_defrag *d, struct ft_defrag_stats *stats);

#endif /* FT_DEFRAG_H */
