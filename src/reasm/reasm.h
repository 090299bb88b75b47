/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP reassembly policy: turns the segments of one flow direction, in capture
 * order, into that direction's byte stream, delivered in sequence order, each
 * byte once.
 *
 * The policy (README "Pattern matching" repeats it for users):
 *   - Stream start: a SYN (or SYN+ACK) sets the start to its sequence number + 1
 *     (stream offset 0). Without one (a flow first seen mid-stream), the first
 *     segment with payload starts the stream; bytes before it are never seen.
 *   - In order: payload at the next expected sequence number is delivered at
 *     once, straight from the caller's buffer (no copy).
 *   - Retransmissions: bytes already delivered or already held are not delivered
 *     again, whatever their content: the first copy captured wins (as Suricata's
 *     default policy on a passive link). Counted in retrans_bytes.
 *   - Out of order: payload beyond the next expected byte is copied into the
 *     worker's hold pool (slots of FT_REASM_SLOT_DATA bytes) and delivered when
 *     the hole before it is filled.
 *   - Gaps: a hole is given up ("gap": the stream goes on after it, the gap
 *     callback says where) when
 *       (a) the other side acknowledges data beyond it (ft_reasm_ack()): the
 *           receiver has those bytes, so the capture lost them;
 *       (b) holding a new segment would take the direction over its per-flow
 *           budget (params.flow_bytes) or the worker's pool has no free slot,
 *           and the receiver's acks have never been seen (a capture of one
 *           side of the link): the earliest hole of this direction is
 *           skipped, as often as needed, then, if still needed, the hole
 *           before the new segment;
 *       (c) the direction ends (ft_reasm_flush()): what is held is delivered,
 *           holes as gaps;
 *       (d) the capture cut the segment that ends where the stream stands
 *           (ft_reasm_cut(): a capture file's snaplen): the bytes the segment
 *           had beyond what was captured are given up at once, not held
 *           against until an ack or the end.
 *   - Memory pressure where the receiver's acks are seen (ft_reasm_ack() was
 *     called for the direction): holes are not skipped for room, since the
 *     acks will say when the receiver has the bytes. Held data that lies wholly
 *     beyond the new segment is dropped, the farthest first, as much as makes
 *     room; if that cannot make room, the new segment is dropped. Counted in
 *     dropped_*; the holes those bytes leave become gaps when acknowledged.
 *     Why not skip: a sender could otherwise send data far ahead until the
 *     budget is full, make the stream skip to it, and then send the bytes of
 *     the hole, which would be taken for retransmissions and never delivered,
 *     while the receiver (whose window the far-ahead data missed) takes them.
 *   - Sequence numbers wrap (comparisons are modulo 2^32). A segment starting
 *     more than FT_REASM_WINDOW bytes beyond the next expected byte is out of
 *     window: ignored and counted.
 *   - RST segments' payload is not part of the stream (RFC 9293 3.5.3:
 *     diagnostic text): counted in rst_bytes, not delivered.
 *
 * Threading: one struct ft_reasm per worker; nothing here is thread-safe or
 * needs to be. Nothing allocates after ft_reasm_create(); delivery and gap
 * callbacks run synchronously inside the calls below.
 */
#ifndef FT_REASM_H
#define FT_REASM_H

#include <stdbool.h>
#include <stdint.h>

#define FT_REASM_SLOT_SIZE 512 /* bytes per hold slot, header included */
#define FT_REASM_SLOT_DATA 496 /* payload bytes per hold slot */
#define FT_REASM_WINDOW	   (1u << 30)

/*
 * One flow direction. All zero is the state before the first segment; the
 * caller owns it (e.g. in an array indexed by flow) and must call
 * ft_reasm_flush() or ft_reasm_release() before reusing a direction that holds
 * data (held_bytes != 0).
 */
struct ft_reasm_dir {
	uint64_t offset;     /* stream offset of next_seq (bytes delivered + skipped as gaps) */
	uint32_t next_seq;   /* next expected sequence number (with FT_REASM_D_SYNC) */
	uint32_t head;	     /* first held slot + 1, sorted by sequence; 0: none */
	uint32_t tail;	     /* last held slot + 1 */
	uint32_t held_bytes; /* payload bytes held */
	uint32_t flags;	     /* FT_REASM_D_* */
	uint32_t dropped;    /* payload bytes dropped for want of room (stats'
				dropped_bytes, this direction's share); saturating,
				the caller may reset it */
};

#define FT_REASM_D_SYNC 0x01 /* next_seq is known */
#define FT_REASM_D_DONE 0x04 /* a delivery callback asked to stop: input is ignored */
#define FT_REASM_D_ACKED 0x08 /* the receiver's acks are seen (ft_reasm_ack() called) */

/*
 * What a direction's bytes turn into. Both run inside ft_reasm_segment(),
 * ft_reasm_ack() and ft_reasm_flush(), in stream order.
 */
struct ft_reasm_ops {
	/* len bytes (len > 0) at stream offset `offset`. data points into the
	 * caller's segment or into a hold slot, valid during the call. Return 0 to
	 * go on, nonzero to stop this direction for good: what it holds is
	 * released and later input is ignored (FT_REASM_D_DONE), e.g. at a scan
	 * depth. */
	int (*data)(void *ctx, const uint8_t *data, uint32_t len, uint64_t offset);
	/* Bytes [offset, offset + len) are given up; the stream goes on after them. */
	void (*gap)(void *ctx, uint64_t offset, uint64_t len);
};

struct ft_reasm_params {
	uint64_t memory;     /* bytes of the worker's hold pool; 0: hold nothing (every
				hole is a gap at once) */
	uint32_t flow_bytes; /* most payload bytes one direction may hold */
	int socket_id;	     /* NUMA socket of the pool (SOCKET_ID_ANY allowed) */
};

/* Counters since creation. */
struct ft_reasm_stats {
	uint64_t segments;	  /* segments with payload given */
	uint64_t delivered_bytes; /* delivered through ops.data */
	uint64_t retrans_bytes;	  /* seen again (delivered or held already): not delivered twice */
	uint64_t held_segments;	  /* segments (or parts) copied into the pool */
	uint64_t held_bytes;	  /* bytes copied into the pool */
	uint64_t gaps;		  /* holes given up: acked + budget + end + cut */
	uint64_t gap_bytes;
	uint64_t gaps_acked;	/* (a) the receiver acknowledged beyond them */
	uint64_t gaps_budget;	/* (b) per-flow budget or pool exhausted */
	uint64_t gaps_end;	/* (c) at the end of the direction */
	uint64_t gaps_cut;	/* (d) bytes a capture cut from a segment */
	uint64_t rst_bytes;	/* payload of RST segments (not stream data) */
	uint64_t dropped_segments;   /* out-of-order segments dropped for want of room */
	uint64_t dropped_bytes;	     /* their bytes, and held bytes dropped to make room */
	uint64_t dropped_held_bytes; /* of dropped_bytes: held, then dropped for nearer data */
	uint64_t out_of_window; /* segments beyond FT_REASM_WINDOW: ignored */
	uint64_t out_of_window_bytes;
	uint64_t stopped_bytes; /* not delivered because ops.data stopped the direction:
				   what it held, the rest of the segment, later ones */
	uint64_t slots_in_use;	/* gauge */
	uint64_t slots;		/* pool size */
};

struct ft_reasm;

/*
 * Create a worker's reassembler: its hold pool (params.memory / 512 slots).
 *
 * @return the reassembler, or NULL with rte_errno set: EINVAL (NULL ops or
 *         callbacks, flow_bytes 0 with memory > 0), ENOMEM
 */
struct ft_reasm *ft_reasm_create(const struct ft_reasm_params *params,
				 const struct ft_reasm_ops *ops);

/* Free a reassembler (NULL is a no-op). Held data is dropped. */
void ft_reasm_free(struct ft_reasm *r);

/* Bytes ft_reasm_create() allocates for these parameters. */
uint64_t ft_reasm_memory(const struct ft_reasm_params *params);

/*
 * One TCP segment of a direction, in capture order.
 *
 * @param seq    the segment's sequence number (host order)
 * @param flags  its TCP flags (FT_TCP_*): SYN starts the stream, RST's payload
 *               is not stream data
 * @param data   its payload (may be NULL when len is 0)
 * @param len    payload bytes
 * @param ctx    passed to the callbacks
 */
void ft_reasm_segment(struct ft_reasm *r, struct ft_reasm_dir *d, uint32_t seq, uint8_t flags,
		      const uint8_t *data, uint32_t len, void *ctx);

/*
 * The common case without the general machinery: true when a segment (flags
 * FT_TCP_*) continues the stream exactly, nothing is held, and it is no SYN or
 * RST. The caller may then consume its payload in place and call
 * ft_reasm_advance(), which is what ft_reasm_segment() would do.
 */
static inline bool
ft_reasm_is_next(const struct ft_reasm_dir *d, uint32_t seq, uint8_t flags)
{
	return (d->flags & (FT_REASM_D_SYNC | FT_REASM_D_DONE)) == FT_REASM_D_SYNC &&
	       d->head == 0 && seq == d->next_seq && !(flags & 0x06 /* SYN, RST */);
}

/* After ft_reasm_is_next(): len payload bytes (> 0) were consumed in order. */
void ft_reasm_advance(struct ft_reasm *r, struct ft_reasm_dir *d, uint32_t len);

/*
 * The other direction acknowledged `ack` (a segment with ACK set travelling the
 * other way). Marks d as acknowledged (FT_REASM_D_ACKED: memory pressure then
 * drops data rather than skip holes). When d holds data and ack lies beyond its
 * next expected byte, the hole up to min(ack, first held byte) is given up
 * (policy (a)) and what is then in order is delivered. Call it for every such
 * segment while d holds data, and at least once for a direction.
 */
void ft_reasm_ack(struct ft_reasm *r, struct ft_reasm_dir *d, uint32_t ack, void *ctx);

/*
 * A segment of d whose captured payload ends at sequence number captured_end
 * had bytes up to end_seq that the capture cut (its IP length says so; call
 * after ft_reasm_segment() or ft_reasm_advance() for it). When the stream
 * stands at captured_end (the segment's captured bytes were in order), the
 * bytes up to end_seq are given up at once (policy (d); held data among them
 * is delivered) and what is then in order is delivered; otherwise nothing
 * happens (the segment was held or seen before).
 */
void ft_reasm_cut(struct ft_reasm *r, struct ft_reasm_dir *d, uint32_t captured_end,
		  uint32_t end_seq, void *ctx);

/*
 * End of a direction: deliver what it holds, holes as gaps (policy (c)), and
 * reset it to all zero.
 */
void ft_reasm_flush(struct ft_reasm *r, struct ft_reasm_dir *d, void *ctx);

/* Drop what a direction holds without delivering it, and reset it to all zero. */
void ft_reasm_release(struct ft_reasm *r, struct ft_reasm_dir *d);

/* Counters since creation. */
void ft_reasm_get_stats(const struct ft_reasm *r, struct ft_reasm_stats *stats);

#endif /* FT_REASM_H */
