/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-lcore pipeline: rx burst -> parse -> (software dispatch) -> flow table
 * -> sliding statistics -> pattern matching -> export ring, plus timer-wheel
 * expiry, run to completion on one lcore.
 *
 * Workers share nothing on the hot path. They meet the main lcore through
 * struct ft_worker_ctl (flags the main lcore sets, read once per loop) and each
 * other only through SPSC dispatch rings (one per ordered pair of workers).
 *
 * Ending: the main lcore sets input_done when every finite input has been read
 * in full, or stop on a signal. A worker then stops reading, hands its last
 * dispatched packets over (rx_done), drains what other workers still send it,
 * flushes every flow (end reason "shutdown" unless idle or closed), flushes its
 * writer, publishes its final counters with done = 1 and returns.
 */
#ifndef FT_WORKER_H
#define FT_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "common/common.h"
#include "export/writer.h"
#include "flow/flow.h"
#include "frag/frag.h"
#include "match/match.h"
#include "port/port.h"
#include "stats/stats.h"

#define FT_WORKER_MAX	      FT_EXPORT_MAX_WORKERS
#define FT_WORKER_MAX_SOURCES 64
#define FT_WORKER_MAX_BURST   512

/* Set by the main lcore, read by workers. */
struct ft_worker_ctl {
	volatile int start;	     /* begin reading input */
	volatile int stop;	     /* stop reading now (signal) */
	volatile int input_done;     /* every finite input was read in full */
	volatile int consumer_alive; /* a collector is attached and alive */
	volatile int rx_done[FT_WORKER_MAX]; /* set by each worker: no more dispatch from it */
	uint64_t end_ns;		     /* flush time for finite inputs (latest packet time) */
	unsigned workers;
};

/* One (port, queue) a worker polls. */
struct ft_worker_source {
	uint16_t port_id;
	uint16_t queue;
	uint16_t port_index; /* index in the configuration, goes in struct ft_pkt.port */
	uint8_t dispatch;    /* spread packets over all workers by flow hash */
	uint8_t packet_clock;
	uint8_t live; /* a device, not a capture file: on stop, what it holds is read */
	enum ft_link_type link;
	double speed;	     /* paced replay (packet clock only): 0 off, 1 capture pace */
	uint64_t max_gap_ns; /* paced replay: gaps between packets longer than this shrink */
	/* Capture file cut at a snaplen: its shortest cut record's length (0:
	 * none). Frames at least that long count, in flows, the length their IP
	 * length gives them, at most uncut_max (the file's longest original
	 * frame: a crafted IP length does not count past it). */
	uint32_t cut_len;
	uint32_t uncut_max;
	/* Capture filter (libpcap's compiled program, shared read-only), NULL for
	 * none: a frame it refuses is counted as FT_DISCARD_FILTERED before parsing. */
	const struct bpf_insn *filter;
};

struct ft_worker_params {
	unsigned id;
	unsigned workers;
	uint16_t burst_size;
	struct ft_flow_table_params flow;
	bool stats_enable;
	struct ft_stats_params stats; /* figures only: the worker fills table, counters, sink */
	bool dispatch_backpressure; /* finite inputs: wait on a full dispatch ring, never drop */
	bool dispatch_ippair;	    /* dispatch by address pair, not flow (ft_flow_key_pair_hash) */
	unsigned tunnels;	    /* tunnels the parser looks into (ft_parse()) */
	uint32_t frag_entries;	    /* fragment attribution table: entries (0: off) */
	uint64_t frag_timeout_ns;
	uint64_t frag_wait_ns;	    /* how long a later fragment waits for its first (0: not) */
	int ts_offset;		    /* mbuf timestamp dynfield (packet clock) */
	uint64_t ts_flag;
	/* Pattern matching, or NULL: the worker fills flows, the sockets, emit,
	 * emit_ctx and rule_hits (its counters in the export segment). */
	const struct ft_match_params *match;
};

struct ft_worker;

/*
 * Create a worker's state on the given NUMA socket: its flow table, statistics
 * (when stats_enable) and writer.
 * Sources and dispatch rings are added afterwards.
 *
 * @return the worker, or NULL with rte_errno set (ENOMEM, EINVAL)
 */
struct ft_worker *ft_worker_create(const struct ft_worker_params *params, int socket_id,
				   const struct ft_export_segment *seg, struct ft_worker_ctl *ctl);

/* Add a (port, queue) for this worker to poll. @return 0 or -ENOSPC. */
int ft_worker_add_source(struct ft_worker *w, const struct ft_worker_source *src);

/* Connect the SPSC ring carrying mbufs from worker `from` to worker `to`. */
void ft_worker_connect(struct ft_worker *from, struct ft_worker *to, struct rte_ring *ring);

/* The lcore entry point (rte_eal_remote_launch); arg is the struct ft_worker. */
int ft_worker_main(void *arg);

/* Free what ft_worker_create allocated (NULL is a no-op). */
void ft_worker_free(struct ft_worker *w);

/* Counters as last published (the export header's block for this worker). */
const struct ft_worker_counters *ft_worker_counters(const struct ft_worker *w);

#endif /* FT_WORKER_H */
