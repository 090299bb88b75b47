/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowtap-collector: the consumer side of the export segment (src/export/export.h).
 *
 * A plain process: no EAL, only DPDK's inline ring headers and libc, so it runs as
 * an unprivileged user that has group read/write access to
 * /dev/shm/flowtap.<instance>.
 *
 * Delivery is at-least-once. Records are taken from a ring with the two-phase
 * zero-copy dequeue of rte_ring_peek_zc.h: the consumer head moves when a burst
 * is taken (its lines are formatted from ring memory), the consumer tail only
 * after those lines have been handed to write(2). A collector killed at any
 * point therefore leaves every record it has not written between cons.tail and
 * prod.tail; the next collector sets cons.head = cons.tail on attach and reads
 * them again. Lines of the interrupted burst that were written may appear twice
 * across the two collectors' outputs; no record is lost. A failed write puts the
 * burst back (finish with 0) before the collector exits.
 *
 * This header is the module's whole surface: the pieces are public so the unit
 * tests can reach them (JSON formatting, accounting, sequence tracking, segment
 * validation); main.c only parses the command line and calls ft_collector_run().
 */
#ifndef FT_COLLECTOR_H
#define FT_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export/export.h"

struct rte_ring;

/* ---------------------------------------------------------------- formatting */

/* Upper bound of one flow line (newline and terminating NUL included). */
#define FT_JSON_FLOW_MAX 1536
/* Upper bound of one match line (newline and terminating NUL included). */
#define FT_JSON_MATCH_MAX 1024
/* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" */
#define FT_RFC3339_LEN 30
/* Longest inet_ntop() IPv6 text ("ffff:...:ffff" or "::ffff:255.255.255.255"). */
#define FT_IPV6_STR_MAX 46
/* Longest dotted quad. */
#define FT_IPV4_STR_MAX 16

/**
 * Format a time as RFC 3339 UTC with nanoseconds.
 *
 * @param buf
 *   At least FT_RFC3339_LEN + 1 bytes; receives the text and a NUL.
 * @param ns
 *   Nanoseconds since the Unix epoch; every uint64_t value is valid (the last
 *   one is 2554-07-21T23:34:33.709551615Z).
 * @return
 *   FT_RFC3339_LEN.
 */
size_t ft_format_rfc3339(char *buf, uint64_t ns);

/**
 * Format an IPv4 address as a dotted quad.
 *
 * @param buf
 *   At least FT_IPV4_STR_MAX bytes; receives the text and a NUL.
 * @param addr
 *   4 bytes in network order.
 * @return
 *   Length of the text.
 */
size_t ft_format_ipv4(char *buf, const uint8_t *addr);

/**
 * Format an IPv6 address in RFC 5952 form, exactly as glibc's inet_ntop() does
 * (longest run of two or more zero groups compressed, the first of equal runs,
 * lower-case hex, "::ffff:a.b.c.d" and "::a.b.c.d" for embedded IPv4), without
 * its per-group snprintf cost.
 *
 * @param buf
 *   At least FT_IPV6_STR_MAX bytes; receives the text and a NUL.
 * @param addr
 *   16 bytes in network order.
 * @return
 *   Length of the text.
 */
size_t ft_format_ipv6(char *buf, const uint8_t *addr);

/**
 * Write one flow record as a JSON line (format: src/collector/README.md).
 *
 * @param buf
 *   At least FT_JSON_FLOW_MAX bytes; receives the line, '\n' and a NUL.
 * @param rec
 *   A record of type FT_RECORD_FLOW. Out-of-range enum values print as
 *   "unknown"; the record is not otherwise checked.
 * @param community_seed
 *   Add "community_id" (ft_community_id()) with this seed (0-65535); -1: not.
 * @return
 *   Length of the line including the newline, excluding the NUL.
 */
size_t ft_json_flow(char *buf, const struct ft_record *rec, int community_seed);

/**
 * Community ID v1 (src/collector/community.c) of a flow key, the endpoint
 * `src` (0 or 1) the sender of the flow's first packet, as "1:" and 28 base64
 * characters.
 *
 * @param icmp_type, icmp_code
 *   The first packet's, for ICMP and ICMPv6 (ignored otherwise).
 * @param seed
 *   The specification's seed (0 by default).
 * @return
 *   The length written (30), not counting the NUL.
 */
#define FT_COMMUNITY_ID_LEN 31
size_t ft_community_id(const struct ft_flow_key *key, unsigned src, uint8_t icmp_type,
		       uint8_t icmp_code, uint16_t seed, char out[FT_COMMUNITY_ID_LEN]);

/**
 * Write one match event as a JSON line (format: src/collector/README.md).
 *
 * @param buf
 *   At least FT_JSON_MATCH_MAX bytes; receives the line, '\n' and a NUL.
 * @param rec
 *   A record of type FT_RECORD_MATCH.
 * @param rule
 *   The rule of the event in the segment's rule table (for its name), or NULL
 *   when the event's rule_index is outside the table (no name is written).
 * @param community_seed
 *   Add the flow's "community_id" with this seed (0-65535); -1: not.
 * @return
 *   Length of the line including the newline, excluding the NUL.
 */
size_t ft_json_match(char *buf, const struct ft_record *rec, const struct ft_rule_info *rule,
		     int community_seed);

/**
 * Write a fixed-size, possibly unterminated C string as a JSON string literal
 * (quotes included). Control characters, '"' and '\\' are escaped; invalid
 * UTF-8 bytes become U+FFFD.
 *
 * @param buf
 *   Destination; needs at most 6 * maxlen + 3 bytes.
 * @param s
 *   Source; read up to the first NUL or maxlen bytes.
 * @return
 *   Length written (a NUL is added after it).
 */
size_t ft_json_string(char *buf, const char *s, size_t maxlen);

/* ---------------------------------------------------------------- statistics */

/* Upper bound of a flow_stats or worker_stats line. */
#define FT_JSON_STATS_MAX 2048

/**
 * Mean and population variance of n values from their exact sum and sum of
 * squares (struct ft_flow_dist_record). The variance is computed from the
 * integers as sumsq - (sum / n) * sum without cancellation: exact but for the
 * final rounding to double.
 */
void ft_stats_moments(uint64_t n, uint64_t sum, unsigned __int128 sumsq, double *mean,
		      double *variance);

/**
 * Estimate the p-quantile of a distribution from its histogram (bins of
 * export.h): the nearest-rank quantile (the smallest value with at least
 * ceil(p * n) values at or below it) lies in the bin where the running count
 * reaches that rank, intersected with [min, max]: [*lo, *hi]. The estimate is
 * 2 * lo * hi / (lo + hi), rounded, whose relative error is at most
 * (hi - lo) / (hi + lo): under 1/3 in every bin of one octave; hi / 2 (an
 * absolute error of at most hi / 2) when lo is 0. When the rank is the first
 * or the last value, the quantile is min or max, exactly.
 *
 * @param hist, nbins  the histogram
 * @param bin_lo       lowest value of a bin (ft_stats_size_bin_lo, ft_stats_iat_bin_lo)
 * @param min, max     the exact extremes of the values
 * @param permille     p * 1000 (500, 900, 990)
 * @param lo, hi       out: the interval holding the true quantile
 * @return the estimate (0 for an empty histogram)
 */
uint64_t ft_stats_quantile(const uint32_t *hist, unsigned nbins, uint64_t (*bin_lo)(unsigned),
			   uint64_t min, uint64_t max, unsigned permille, uint64_t *lo,
			   uint64_t *hi);

/**
 * Write a flow_stats line: a FT_RECORD_FLOW_STATS and, when it followed it, its
 * FT_RECORD_FLOW_DIST (NULL: the distribution keys are left out).
 *
 * @param buf  at least FT_JSON_STATS_MAX bytes; receives the line, '\n', NUL
 * @return length of the line including the newline
 */
size_t ft_json_flow_stats(char *buf, const struct ft_record *stats, const struct ft_record *dist);

/**
 * Write a worker_stats line from a FT_RECORD_WORKER_STATS and its
 * FT_RECORD_WORKER_DROPS (NULL: no drops by cause).
 *
 * @param buf  at least FT_JSON_STATS_MAX bytes
 * @return length of the line including the newline
 */
size_t ft_json_worker_stats(char *buf, const struct ft_record *stats,
			    const struct ft_record *drops);

/* One heavy hitter received from a worker. */
struct ft_topk_item {
	struct ft_topk_entry e;
	uint16_t worker;
	uint8_t initiator; /* the initiator is key endpoint 1 */
};

/* The workers' heavy hitters of one interval. */
struct ft_topk_interval {
	uint64_t time_ns; /* end of the interval */
	uint64_t interval_ns;
	uint32_t k;
	uint32_t n, cap;
	struct ft_topk_item *items;
};

/*
 * Merge of the workers' TOPK records into the global top-K of each interval. A
 * worker's list of an interval is complete once it sent a WORKER_STATS record
 * at or after the interval's end; an interval is merged when every worker's is
 * complete (or the run ends). Every flow lives in one worker and each worker's
 * list holds its exact top-K by bytes and by packets, so the K best of the
 * union are the exact global top-K.
 */
struct ft_topk_merge {
	uint32_t workers;
	uint64_t through[FT_EXPORT_MAX_WORKERS]; /* latest WORKER_STATS time per worker */
	struct ft_topk_interval *pending;	 /* oldest first */
	uint32_t npending, cap;
	/* The last merge: the K best by bytes and by packets. */
	struct ft_topk_interval result;
	struct ft_topk_item *by_bytes, *by_packets;
	uint32_t n_bytes, n_packets;
};

/* Start a merge for a run of `workers` workers (memset 0 first is enough to free). */
void ft_topk_merge_init(struct ft_topk_merge *m, uint32_t workers);

/* Free what a merge holds (it can be initialised again). */
void ft_topk_merge_free(struct ft_topk_merge *m);

/* Add a worker's TOPK record. @return 0 or -ENOMEM. */
int ft_topk_merge_add(struct ft_topk_merge *m, uint16_t worker, const struct ft_topk_record *r);

/* A worker sent a WORKER_STATS record for time_ns. */
void ft_topk_merge_through(struct ft_topk_merge *m, uint16_t worker, uint64_t time_ns);

/**
 * Merge the oldest pending interval if every worker's list of it is complete,
 * or any with `all` (end of run).
 *
 * @return true with m->result, by_bytes, by_packets filled; false when none is
 *         ready (or on ENOMEM, which drops that interval)
 */
bool ft_topk_merge_next(struct ft_topk_merge *m, bool all);

/* Bytes ft_json_topk() may write for a merge of top k. */
#define FT_JSON_TOPK_MAX(k) (512 + (size_t)(k)*2 * 320)

/**
 * Write the global top-K line of m's last merge.
 *
 * @param buf  at least FT_JSON_TOPK_MAX(m->result.k) bytes
 * @return length including the newline
 */
size_t ft_json_topk(char *buf, const struct ft_topk_merge *m);

/* Latest statistics of a live flow (from its last periodic flow_stats). */
struct ft_live_flow {
	uint64_t flow_id;
	uint64_t time_ns;
	uint64_t bucket_ns;
	uint64_t last_bytes; /* both directions, in the last bucket */
	uint64_t last_packets;
	bool used;
};

/* flow_id -> latest statistics; final records remove their flow. */
struct ft_live_flows {
	struct ft_live_flow *slots;
	uint32_t mask; /* slots - 1, a power of two minus one */
	uint32_t count;
};

/* Record a flow_stats record (periodic: insert or update; final: remove).
 * @return 0 or -ENOMEM */
int ft_live_flows_update(struct ft_live_flows *lf, const struct ft_flow_stats_record *s);

/* The latest statistics of a flow, or NULL. */
const struct ft_live_flow *ft_live_flows_find(const struct ft_live_flows *lf, uint64_t flow_id);

/* Forget every flow and free the table. */
void ft_live_flows_clear(struct ft_live_flows *lf);

/* ---------------------------------------------------------------- sequences */

/* Per-worker record sequence check. seq counts every record a worker produced,
 * dropped ones included, so a number never received is a ring drop (or a record
 * an earlier collector consumed). */
struct ft_seq_tracker {
	uint64_t next;	   /* highest seq received + 1 */
	uint64_t received; /* records received */
	uint64_t gaps;	   /* numbers below `next` skipped (leading gap included) */
	uint64_t behind;   /* records whose seq was below `next` (re-reads, disorder) */
};

/**
 * Account one received sequence number.
 */
static inline void
ft_seq_track(struct ft_seq_tracker *t, uint64_t seq)
{
	t->received++;
	if (__builtin_expect(seq == t->next, 1)) {
		t->next = seq + 1;
	} else if (seq > t->next) {
		t->gaps += seq - t->next;
		t->next = seq + 1;
	} else {
		t->behind++;
	}
}

/**
 * Sequence numbers of a worker this collector did not receive.
 *
 * @param t
 *   The worker's tracker.
 * @param issued
 *   Sequence numbers the worker issued (its records + ring_drop_records), to
 *   count drops after the last record received; 0 when the counters are not
 *   final.
 * @return
 *   Missing numbers: gaps before and between received records, plus those after
 *   the last one up to issued.
 */
uint64_t ft_seq_missing(const struct ft_seq_tracker *t, uint64_t issued);

/* ---------------------------------------------------------------- summary */

/* What this collector received in a run. */
struct ft_flow_totals {
	uint64_t records; /* flow records */
	uint64_t packets; /* sum of their packets (both directions) */
	uint64_t bytes;
	uint64_t by_type[FT_RECORD_TYPE_MAX]; /* records received, by type */
	uint64_t topk_lines;		      /* global top-K lines written */
};

/* Per-rule hits of a run: the segment's rule table and the hits summed over
 * the workers. */
struct ft_rule_hits {
	const struct ft_rule_info *rules;
	const uint64_t *hits;
	uint32_t count;
};

/* Upper bound of one rule's entry in the summary line. */
#define FT_JSON_RULE_MAX (64 + 6 * FT_EXPORT_RULE_NAME_LEN + 6 * FT_EXPORT_RULE_META_LEN)

/* The numbers of a summary line, derived from a header snapshot. */
struct ft_summary {
	bool any_file_port;
	uint64_t input_packets; /* file ports: file_packets */
	uint64_t input_bytes;
	uint64_t input_captured_bytes;
	uint64_t beyond_snaplen_bytes;
	uint64_t uncut_bytes;	    /* of those, the bytes flows count anyway (IP lengths) */
	uint64_t port_loss_packets; /* imissed + ierrors + rx_nombuf, all ports */
	uint64_t port_ibytes;
	uint64_t port_ipackets;
	uint64_t rx_packets; /* workers */
	uint64_t rx_bytes;
	uint64_t flows_created;
	uint64_t flows_ended;
	uint64_t flows_evicted;
	uint64_t flow_segments;
	uint64_t emergency_entered;
	uint64_t fragments;
	uint64_t fragments_attributed;
	uint64_t fragments_unattributed;
	uint64_t fragments_waited;
	uint64_t discard_packets[FT_DISCARD_MAX];
	uint64_t discard_bytes[FT_DISCARD_MAX];
	uint64_t ring_drop_records;
	uint64_t ring_drop_packets;
	uint64_t ring_drop_bytes;
	uint64_t ring_drop_type[FT_RECORD_TYPE_MAX];
	uint64_t seq_gaps;
	/* pattern matching: the workers' match_* and reasm_* counters, summed */
	struct ft_worker_counters match;
	/* accounting */
	uint64_t packets_in;
	uint64_t bytes_in;
	uint64_t accounted_packets;
	uint64_t accounted_bytes;
	int64_t unaccounted_packets;
	int64_t unaccounted_bytes;
	bool packets_accounted;
	bool bytes_accounted;
};

/**
 * Compute the summary numbers and the packet/byte accounting.
 *
 *   packets_in = sum(file_packets) if any port is a file, else
 *                sum(ipackets + imissed + ierrors + rx_nombuf)
 *   accounted  = flows.packets + ring_drop_packets + sum(discard packets)
 *                + sum(imissed + ierrors + rx_nombuf)
 *   bytes_in   = sum(file_bytes) if any port is a file, else sum(ibytes)
 *   accounted  = flows.bytes + ring_drop_bytes + sum(discard bytes)
 *                + beyond_snaplen_bytes - uncut_bytes
 *                (flows count a cut frame's bytes as its IP length gives
 *                them: uncut_bytes, the workers' flow_uncut_bytes, of the
 *                beyond_snaplen_bytes are in flows.bytes)
 * Bytes are only claimed accounted when no port lost packets (losses carry no
 * byte count).
 *
 * @param s
 *   Output.
 * @param snap
 *   A header snapshot (ft_segment_snapshot()); port_count and worker_count are
 *   clamped to the array sizes.
 * @param flows
 *   What this collector received.
 * @param seq_gaps
 *   Sum of ft_seq_missing() over the workers.
 */
void ft_summary_compute(struct ft_summary *s, const struct ft_export_header *snap,
			const struct ft_flow_totals *flows, uint64_t seq_gaps);

/* Upper bound of a summary line without rules (add FT_JSON_RULE_MAX per rule). */
#define FT_JSON_SUMMARY_MAX 16384

/**
 * Write the summary line of a run.
 *
 * @param buf
 *   At least FT_JSON_SUMMARY_MAX + hits->count * FT_JSON_RULE_MAX bytes;
 *   receives the line, '\n' and a NUL.
 * @param snap, flows, s
 *   As passed to / produced by ft_summary_compute().
 * @param hits
 *   Per-rule hits (rules with hits are listed), or NULL when no rules are
 *   loaded (snap->rule_count 0: no "match" object is written).
 * @param complete
 *   The run ended with FT_SEG_FINISHED and drained rings.
 * @param end_ns
 *   Wall-clock end of the run, ns since the epoch.
 * @return
 *   Length including the newline.
 */
size_t ft_json_summary(char *buf, const struct ft_export_header *snap,
		       const struct ft_flow_totals *flows, const struct ft_summary *s,
		       const struct ft_rule_hits *hits, bool complete, uint64_t end_ns);

/* ---------------------------------------------------------------- segment */

/* Heartbeat silence after which a dataplane that is not FINISHED is gone. */
#define FT_DATAPLANE_STALE_NS (3ULL * 1000000000ULL)
/* A dataplane pid that kill(pid, 0) does not find is gone once its heartbeat
 * has also been still this long (ten ticks); until then it may live in another
 * pid namespace. */
#define FT_DATAPLANE_PID_GRACE_NS (100ULL * 1000000ULL)
/* Heartbeat silence after which another collector's claim may be taken over. */
#define FT_CONSUMER_STALE_NS (3ULL * 1000000000ULL)
/* The collector refreshes consumer_heartbeat_ns at least this often. */
#define FT_CONSUMER_HEARTBEAT_NS (50ULL * 1000000ULL)

/* An attached (mapped and validated) export segment. */
struct ft_segment {
	char shm_name[48]; /* "/flowtap.<instance>" for shm_open() */
	char path[64];	   /* "/dev/shm/flowtap.<instance>" for messages */
	int fd;		   /* -1 when closed */
	struct ft_export_header *hdr;
	size_t map_size;
	uint32_t worker_count;
	uint32_t ring_size;
	struct rte_ring *rings[FT_EXPORT_MAX_WORKERS];
	int32_t dataplane_pid; /* run identity: (dataplane_pid, start_ns) */
	uint64_t start_ns;
	int32_t self_pid;	 /* nonzero once claimed */
	uint64_t reread_records; /* records a previous consumer had taken, not confirmed */
	/* Dataplane liveness. */
	uint64_t last_heartbeat;
	uint64_t heartbeat_seen_ns; /* CLOCK_MONOTONIC when last_heartbeat last moved */
};

/**
 * Check an instance name: [A-Za-z0-9_.-]{1,31}.
 *
 * @return
 *   true if valid.
 */
bool ft_instance_name_valid(const char *instance);

/**
 * Check a segment header (no ring is looked at).
 *
 * @param h
 *   The header, mapped or copied.
 * @param file_size
 *   Size of the shm object.
 * @param err, errlen
 *   Receives a message on failure (without the segment name).
 * @return
 *   0 if the header is complete and valid; -EAGAIN if it is still being written
 *   (file shorter than a header, magic or layout version still 0, or state
 *   FT_SEG_STARTING); -EPROTO if it is not a segment this collector can read
 *   (bad magic, layout version, header or record size, counts, ring geometry,
 *   segment larger than the file).
 */
int ft_segment_validate_header(const struct ft_export_header *h, uint64_t file_size, char *err,
			       size_t errlen);

/**
 * Check the rings of a fully mapped segment whose header passed
 * ft_segment_validate_header().
 *
 * @param h
 *   The mapped header (its rings follow at h->ring_offset[]).
 * @param err, errlen
 *   Receives a message on failure.
 * @return
 *   0, or -EPROTO if a ring does not look like what rte_ring_init() made with
 *   RING_F_SP_ENQ | RING_F_SC_DEQ and header.ring_size slots.
 */
int ft_segment_validate_rings(const struct ft_export_header *h, char *err, size_t errlen);

/**
 * Open, map and validate /dev/shm/flowtap.<instance>. Does not claim it.
 *
 * @param seg
 *   Output; closed (fd -1) on failure.
 * @param instance
 *   Instance name (ft_instance_name_valid()).
 * @param err, errlen
 *   Receives a message naming the segment on failure (not for -ENOENT/-EAGAIN).
 * @return
 *   0 on success; -ENOENT if there is no segment; -EAGAIN if it is still being
 *   created; -EACCES if this user may not open it read/write; -EPROTO if it is
 *   not a segment this collector can read; another -errno for system errors.
 */
int ft_segment_open(struct ft_segment *seg, const char *instance, char *err, size_t errlen);

/**
 * Become the segment's consumer: refuse if another collector is alive and
 * heart-beating, else store our pid, reset every ring's consumer head to its
 * tail (at-least-once, see the file comment) and start the heartbeat.
 *
 * @param seg
 *   An open segment.
 * @param self_pid
 *   getpid().
 * @param now_ns
 *   Wall clock (CLOCK_REALTIME ns).
 * @param err, errlen
 *   Receives a message on failure.
 * @return
 *   0, or -EBUSY if another live collector holds it.
 */
int ft_segment_claim(struct ft_segment *seg, int32_t self_pid, uint64_t now_ns, char *err,
		     size_t errlen);

/**
 * @return
 *   true while consumer_pid still holds our pid (another collector may have taken
 *   over after our heartbeat went stale, e.g. when we were stopped).
 */
bool ft_segment_owned(const struct ft_segment *seg);

/**
 * Refresh consumer_heartbeat_ns.
 */
void ft_segment_heartbeat(struct ft_segment *seg, uint64_t now_ns);

/**
 * Store 0 in consumer_pid if it still holds ours. Safe on an unclaimed segment.
 */
void ft_segment_release(struct ft_segment *seg);

/**
 * Unmap and close. Safe on a closed segment.
 */
void ft_segment_close(struct ft_segment *seg);

/**
 * Copy the header with 8-byte atomic loads (the dataplane keeps writing it).
 */
void ft_segment_snapshot(const struct ft_segment *seg, struct ft_export_header *out);

enum ft_dataplane_status {
	FT_DATAPLANE_RUNNING,  /* alive, not finished */
	FT_DATAPLANE_FINISHED, /* state FT_SEG_FINISHED: nothing more will be enqueued */
	FT_DATAPLANE_GONE,     /* pid gone or heartbeat stalled before FINISHED */
};

/**
 * Decide whether the dataplane is alive: FINISHED state, else gone when its pid
 * does not exist (ESRCH; EPERM means it exists) and its heartbeat has been
 * still for FT_DATAPLANE_PID_GRACE_NS, or when the heartbeat has been still for
 * FT_DATAPLANE_STALE_NS.
 *
 * @param seg
 *   A claimed segment (liveness bookkeeping is updated).
 * @param mono_ns
 *   CLOCK_MONOTONIC now.
 * @param why
 *   For FT_DATAPLANE_GONE, receives a static description.
 */
enum ft_dataplane_status ft_segment_dataplane_status(struct ft_segment *seg, uint64_t mono_ns,
						     const char **why);

/**
 * Records waiting in a ring (producer tail - consumer tail).
 */
uint32_t ft_segment_ring_count(const struct ft_segment *seg, uint32_t worker);

/* ---------------------------------------------------------------- run */

/* Largest --top. */
#define FT_COLLECTOR_TOP_MAX 1000

struct ft_collector_config {
	const char *instance;	   /* default "default" */
	const char *output;	   /* path, or NULL / "-" for stdout */
	const char *summary;	   /* also write each run's summary line here (replaced) */
	bool once;		   /* exit after the first run */
	uint32_t stats_interval_s; /* 0: no live statistics */
	uint32_t top;		   /* top flows per interval in the statistics */
	int64_t wait_timeout_ms;   /* < 0: wait forever for a segment */
	bool quiet;		   /* errors only on stderr */
	int community_seed;	   /* flow lines' community_id with this seed; -1: none */
};

/* Exit statuses of ft_collector_run(). */
#define FT_EXIT_OK	   0 /* run complete, or stopped by a signal */
#define FT_EXIT_INCOMPLETE 1 /* dataplane vanished, wait timeout, output failure */
#define FT_EXIT_USAGE	   2 /* usage or attach error */

/**
 * Wait for segments, drain them into the output and write a summary per run,
 * until a signal (SIGINT/SIGTERM, handled here) or, with config->once, the end of
 * the first run.
 *
 * @return
 *   An FT_EXIT_* status.
 */
int ft_collector_run(const struct ft_collector_config *config);

#endif /* FT_COLLECTOR_H */
