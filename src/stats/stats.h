/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sliding statistics of one worker: per flow and direction, packets and bytes
 * in a bucketed ring (last bucket, whole window, peak bucket) and TCP health
 * (retransmissions, out-of-order segments, zero windows); per flow, the
 * distributions of packet sizes and inter-arrival times (count, min, max,
 * exact sums of squares, log2 histograms) and the handshake RTT; per worker,
 * rates over 1 s, 10 s and 60 s and the exact top-K flows of every interval.
 * Record layouts and meanings: src/export/export.h.
 *
 * Per-flow state lives in one array indexed by the flow table's entry index
 * (ft_flow_table_update_burst()), allocated once on the worker's socket for
 * the table's whole capacity; ft_stats_flow_bytes() gives the cost per flow.
 *
 * Time is flow time, as for the flow table: packet time in replay, the TSC
 * live. Each worker closes interval [T - interval, T) when its clock passes T
 * (T a multiple of the interval since the epoch), and every figure a record
 * carries is "as of" a bucket edge, computed from the packets with timestamps
 * before it, so the per-flow records and each interval's top-K do not depend on
 * burst sizes, on when records are written, or on how many workers share the
 * flows (the collector merges the workers' top-K exactly). Packets whose
 * timestamps go backwards count in their own bucket while it is still in the
 * ring, and in the interval the worker's clock is in.
 *
 * Order. The flow table ends flows inside ft_flow_table_update_burst(), before
 * the caller sees the burst's flow indices, and an index can be reused within
 * the burst. So the caller brackets the table update: ft_stats_burst_begin()
 * takes the burst's packets and its flow_index[] (marking every slot pending),
 * each flow end (idle, reused, evicted...) calls ft_stats_flow_end(), which
 * first applies every packet before the one the table is accounting, and
 * ft_stats_burst_end() takes the rest (applied a few packets later: anything
 * that reads or ends a flow's statistics applies them first). Every packet is
 * applied exactly once, in order.
 *
 * Per packet: no allocation, no division except when a flow's direction moves
 * to a new bucket, no floating point, constant work; the pass runs a few
 * packets behind the table so that each packet's state is prefetched. Per flow
 * and interval: one top-K offer (O(log K)) and at most one record pair, which
 * ft_stats_poll() writes a bounded number at a time.
 *
 * Threading: one instance per worker lcore; nothing here is thread-safe.
 */
#ifndef FT_STATS_H
#define FT_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "export/export.h"
#include "flow/flow.h"
#include "parse/parse.h"

#define FT_STATS_MAX_BUCKETS 64
#define FT_STATS_MAX_TOPK    1000
/* Resolution of the per-worker windows: the interval is a multiple of it. */
#define FT_STATS_EDGE_NS 100000000ULL

/*
 * Where records go. Returns a record whose header is filled (type, worker,
 * seq) for the caller to fill the body. `together` > 1 on the first of records
 * that must reach the ring in one enqueue (a FLOW_STATS and its FLOW_DIST), so
 * that only a full ring can separate them.
 */
typedef struct ft_record *(*ft_stats_record_fn)(void *ctx, enum ft_record_type type,
						unsigned together);

struct ft_stats_params {
	uint32_t capacity;    /* the flow table's capacity */
	int socket_id;	      /* NUMA socket for the memory (SOCKET_ID_ANY allowed) */
	uint64_t bucket_ns;   /* window bucket width, >= 1 ms */
	uint32_t buckets;     /* window buckets, 1..FT_STATS_MAX_BUCKETS */
	uint64_t interval_ns; /* a multiple of bucket_ns and of FT_STATS_EDGE_NS */
	uint32_t topk;	      /* 0..FT_STATS_MAX_TOPK */
	bool histograms;
	const struct ft_flow_table *flows; /* the worker's table (read: keys, directions, state) */
	const struct ft_worker_counters *counters; /* discards and ring drops, for drop rates */
	ft_stats_record_fn record;
	void *record_ctx;
};

struct ft_stats;

/* Bytes of per-flow state per flow (the flow table's capacity is multiplied). */
uint64_t ft_stats_flow_bytes(const struct ft_stats_params *params);

/* Bytes ft_stats_create() allocates in all. */
uint64_t ft_stats_memory(const struct ft_stats_params *params);

/*
 * Create a worker's statistics.
 *
 * @return the instance, or NULL with rte_errno set: EINVAL (a parameter out of
 *         range, see struct ft_stats_params), ENOMEM
 */
struct ft_stats *ft_stats_create(const struct ft_stats_params *params);

/* Free an instance (NULL is a no-op). */
void ft_stats_free(struct ft_stats *st);

/* Value ft_stats_burst_begin() writes into flow_index[]; never a flow index or
 * FT_FLOW_REFUSED. */
#define FT_STATS_PENDING (UINT32_MAX - 1)

/*
 * Start a burst: call right before ft_flow_table_update_burst() with the same
 * packets and flow_index array. pkts and flow_index must stay valid until
 * ft_stats_burst_end().
 */
void ft_stats_burst_begin(struct ft_stats *st, struct ft_pkt *const pkts[], uint32_t flow_index[],
			  unsigned n);

/* Apply the burst's packets not yet applied; call after the table update. */
void ft_stats_burst_end(struct ft_stats *st);

/*
 * A flow ends (from the flow table's end callback, the entry still valid; not
 * for FT_END_ACTIVE, whose flow goes on):
 * apply the pending packets that precede it, write the statistics of its last
 * interval if that interval has ended and they are not written yet, then its
 * final statistics, and free its state. Call it after writing the flow's
 * FT_RECORD_FLOW, so the final statistics follow their flow record.
 */
void ft_stats_flow_end(struct ft_stats *st, const struct ft_flow *flow);

/* Move the clock to now_ns (TSC time, live): intervals that ended are closed.
 * Packet-time workers need not call it: packets move the clock. */
void ft_stats_advance(struct ft_stats *st, uint64_t now_ns);

/*
 * Settle some flows of the last closed interval (a few dozen at most: their
 * periodic records, their top-K offers), and when all are, write the
 * interval's TOPK and WORKER_STATS records. Call once per loop iteration.
 *
 * @return 0 when nothing was pending, else the periodic records written + 1
 */
unsigned ft_stats_poll(struct ft_stats *st);

/*
 * Input is over: close every interval up to the end of the one holding end_ns
 * and write every pending periodic record. Call before flushing the flow
 * table, whose flow ends then write the final statistics.
 */
void ft_stats_finish(struct ft_stats *st, uint64_t end_ns);

#endif /* FT_STATS_H */
