/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-worker flow table: preallocated entries, a cache-line-bucketed hash index,
 * TCP state from flags, state-specific idle timeouts, and a timer wheel that
 * expires flows with bounded work per call.
 *
 * Threading: one table per worker lcore; no function here is thread-safe and
 * none needs to be. Nothing here allocates after ft_flow_table_create().
 *
 * Time is whatever clock the caller passes (ns): packet time in replay, the TSC
 * converted to wall-clock ns live. Flow boundaries depend only on the sequence of
 * packets and their times, never on when expiry runs: a packet that finds its
 * flow idle for longer than the timeout ends that flow (FT_END_IDLE) and starts a
 * new one, so output is the same whatever the burst sizes or worker count.
 *
 * Ended flows are reported through a callback with the entry still valid; the
 * entry is freed when the callback returns.
 */
#ifndef FT_FLOW_H
#define FT_FLOW_H

#include <stdint.h>

#include "export/export.h"
#include "parse/parse.h"

/* Idle timeouts per state, in ns. */
struct ft_flow_timeouts {
	uint64_t tcp_new_ns;	     /* SYN seen, handshake not complete */
	uint64_t tcp_established_ns; /* established, or one FIN seen */
	uint64_t tcp_closed_ns;	     /* FIN both ways or RST: linger for trailing ACKs */
	uint64_t udp_ns;
	uint64_t icmp_ns;
	uint64_t other_ns;
};

/* What a full table does with a packet of a new flow. */
enum ft_flow_full_policy {
	FT_FLOW_FULL_EVICT,  /* end the flow closest to its timeout (exported, end
				reason "evicted" or its timeout's if already past it),
				then create the new one */
	FT_FLOW_FULL_REFUSE, /* keep the table as it is; the packet is counted as
				FT_DISCARD_FLOW_TABLE_FULL */
};

struct ft_flow_table_params {
	uint32_t capacity;  /* flows (entries); >= 1 */
	int socket_id;	    /* NUMA socket for the memory (SOCKET_ID_ANY allowed) */
	uint16_t worker_id; /* goes in the top byte of every flow id */
	uint32_t expiry_budget; /* max flows examined per ft_flow_table_expire() call */
	struct ft_flow_timeouts timeouts;
	/* A flow whose next packet comes more than this after its current
	 * segment's first one has that segment exported (end reason
	 * FT_END_ACTIVE) and goes on in a new one; 0: never. */
	uint64_t active_timeout_ns;
	enum ft_flow_full_policy full_policy;
	/* Emergency mode: above enter * capacity live flows, every idle timeout
	 * is multiplied by factor, until fewer than leave * capacity are live.
	 * enter = 0 disables it. */
	double emergency_enter;
	double emergency_leave;
	double emergency_factor;
	/* The function that computed struct ft_pkt.hash (entries do not store
	 * it; removal recomputes it). NULL: ft_flow_key_hash, the parser's. */
	uint32_t (*key_hash)(const struct ft_flow_key *key);
};

/*
 * One flow. 128 bytes, two cache lines: the key and times in the first, counters
 * and state in the second. Directions are relative to the initiator (index 0 =
 * fwd). Internal layout; the exported form is struct ft_flow_record.
 */
struct ft_flow {
	struct ft_flow_key key; /*   0 */
	uint64_t first_ns;	/*  48 */
	uint64_t last_ns;	/*  56 */
	uint64_t packets[2];	/*  64 */
	uint64_t bytes[2];	/*  80 */
	uint64_t id;		/*  96 */
	uint16_t segment;	/* 104  records exported so far (active timeouts) */
	uint16_t reserved;	/* 106 */
	uint32_t timer_next;	/* 108  timer wheel links (entry or slot index) */
	uint32_t timer_prev;	/* 112 */
	uint32_t fragments;	/* 116 */
	uint16_t input_port;	/* 120 */
	uint8_t tcp_state;	/* 122  enum ft_tcp_state */
	uint8_t tcp_flags[2];	/* 123 */
	uint8_t flags;		/* 125  FT_FLOW_E_* */
	uint8_t icmp_type;	/* 126 */
	uint8_t icmp_code;	/* 127 */
} __attribute__((aligned(64)));

/* struct ft_flow.flags */
#define FT_FLOW_E_INITIATOR_HI 0x01 /* the initiator is key endpoint 1 */
#define FT_FLOW_E_FIN_FWD      0x02
#define FT_FLOW_E_FIN_REV      0x04
#define FT_FLOW_E_RST	       0x08
#define FT_FLOW_E_FRAGMENTS    0x10 /* = FT_FLOW_F_FRAGMENTS in the record */
#define FT_FLOW_E_MIDSTREAM    0x20 /* = FT_FLOW_F_MIDSTREAM in the record */
#define FT_FLOW_E_IN_USE       0x80

struct ft_flow_table;

/* Called for every flow that ends; the flow is freed when it returns. */
typedef void (*ft_flow_end_fn)(void *ctx, const struct ft_flow *flow, enum ft_end_reason reason);

/* The first members of struct ft_flow_table, for the inline prefetch below. */
struct ft_flow_table_head {
	const void *buckets; /* 64-byte buckets */
	uint32_t bucket_mask;
};

/*
 * Start fetching the index bucket a packet's flow lives in (its primary
 * bucket), so that ft_flow_table_update_burst() finds it in cache. Call it
 * while parsing a burst, as soon as the hash is known: the work on the rest of
 * the burst hides the memory latency. Optional; never needed for correctness.
 */
static inline void
ft_flow_table_prefetch(const struct ft_flow_table *table, uint32_t hash)
{
	const struct ft_flow_table_head *h = (const struct ft_flow_table_head *)table;

	__builtin_prefetch((const char *)h->buckets + (size_t)(hash & h->bucket_mask) * 64);
}

/* Counters the table maintains (the worker publishes them). */
struct ft_flow_table_stats {
	uint64_t created;
	uint64_t ended;
	uint64_t active;
	uint64_t refused;  /* new flows refused: table full (refuse policy) */
	uint64_t evicted;  /* flows ended to make room (evict policy) */
	uint64_t segments; /* active-timeout records */
	uint64_t emergency_entered;
	uint64_t emergency; /* 1 while in emergency mode */
};

/*
 * Create a table. Memory: capacity * sizeof(struct ft_flow) for entries, plus the
 * index (8 bytes per slot, about 1.25 slots per flow) and the free list (4 bytes
 * per flow); ft_flow_table_memory() gives the exact figure.
 *
 * @return the table, or NULL with rte_errno set: EINVAL (bad params), ENOMEM.
 */
struct ft_flow_table *ft_flow_table_create(const struct ft_flow_table_params *params);

/* Free a table (NULL is a no-op). Live flows are dropped, not reported. */
void ft_flow_table_free(struct ft_flow_table *table);

/* Bytes a table of this capacity allocates (all of it, index included). */
uint64_t ft_flow_table_memory(uint32_t capacity);

/* flow_index[] value of a packet refused because the table is full. */
#define FT_FLOW_REFUSED UINT32_MAX

/*
 * Account a burst of parsed packets (ft_parse() returned 0, ts_ns, port and
 * wire_len filled). For each packet: find its flow (bulk lookup with prefetch),
 * end it first if it is idle-expired or reused, create it if missing, update
 * counters and TCP state. Ends go to end_fn in packet order.
 *
 * @param flow_index  out: per packet, the index of its flow's entry (stable for
 *                    the flow's life, 0..capacity-1: per-flow state of other
 *                    modules lives in arrays indexed by it), or FT_FLOW_REFUSED
 *                    when the table was full (the caller counts those as
 *                    FT_DISCARD_FLOW_TABLE_FULL). An index can end and be
 *                    reused by a later packet of the same burst: process the
 *                    burst's per-packet work in order.
 * @return the number of packets refused
 */
unsigned ft_flow_table_update_burst(struct ft_flow_table *table, struct ft_pkt *const pkts[],
				    unsigned n, uint32_t flow_index[], ft_flow_end_fn end_fn,
				    void *ctx);

/* The entry at an index (valid while its flow lives). */
const struct ft_flow *ft_flow_table_entry(const struct ft_flow_table *table, uint32_t index);

/* The index of a flow's entry (e.g. in an end callback). */
uint32_t ft_flow_table_index(const struct ft_flow_table *table, const struct ft_flow *flow);

/* Direction of a packet in its flow: 0 initiator to responder (fwd), 1 back. */
static inline unsigned
ft_flow_pkt_direction(const struct ft_flow *flow, const struct ft_pkt *pkt)
{
	return pkt->dir != ((flow->flags & FT_FLOW_E_INITIATOR_HI) ? 1 : 0);
}

/*
 * Advance the timer wheel to now_ns and end flows idle for longer than their
 * timeout, examining at most params.expiry_budget flows. Call it once per loop
 * iteration; leftover work continues on the next call.
 *
 * @return the number of flows ended
 */
unsigned ft_flow_table_expire(struct ft_flow_table *table, uint64_t now_ns, ft_flow_end_fn end_fn,
			      void *ctx);

/*
 * End every live flow: FT_END_IDLE for those already past their timeout at
 * now_ns, the closing reason for closed TCP flows past theirs, and `reason` for
 * the rest. Used at end of input and at shutdown.
 *
 * @return the number of flows ended
 */
unsigned ft_flow_table_flush(struct ft_flow_table *table, uint64_t now_ns,
			     enum ft_end_reason reason, ft_flow_end_fn end_fn, void *ctx);

/* Counters since creation. */
void ft_flow_table_get_stats(const struct ft_flow_table *table, struct ft_flow_table_stats *stats);

/* Fill an export record body from a flow. */
void ft_flow_to_record(const struct ft_flow *flow, enum ft_end_reason reason,
		       struct ft_flow_record *rec);

/* The idle timeout that applies to a flow in its current state (not counting
 * emergency mode). */
uint64_t ft_flow_timeout(const struct ft_flow_timeouts *timeouts, const struct ft_flow *flow);

/* The idle timeout the table applies to one of its flows now: the flow's state's,
 * shortened while the table is in emergency mode. */
uint64_t ft_flow_table_timeout(const struct ft_flow_table *table, const struct ft_flow *flow);

#endif /* FT_FLOW_H */
