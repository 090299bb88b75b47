/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Statistics internals (contract in stats.h, record meanings in export.h).
 *
 * Per-flow state: one block of `stride` bytes per flow index, zeroed when its
 * flow ends (a zero header means "no packet yet"):
 *
 *     0  header, 2 cache lines: flow-level figures, interval bookkeeping
 *   128  direction 0 (fwd), 1 line: counters, ring head, peaks, TCP state
 *   192  direction 1 (rev)
 *   256  histograms (when on): sizes, 1 line; inter-arrival times, 1.5 lines
 *        then the bucket rings, direction 0 then 1, 8 bytes per bucket
 *
 * A packet touches the two header lines, its direction's line (which holds the
 * current bucket: the ring is written when a bucket ends), one size bin and
 * one inter-arrival bin; all but the last are known before the packet is
 * applied, so the pass prefetches them a few packets ahead. The TCP holes of a
 * flow (sequence ranges not seen yet), needed only when a segment is out of
 * sequence, are in a separate array.
 *
 * Moments are exact: sums of squares in 128-bit integers (the plain sums are
 * the byte count and last - first), so the variance the collector derives has
 * no rounding and no cancellation, and the per-packet update has no division
 * (Welford's has one, and still rounds).
 *
 * Intervals. A flow's header holds `iv`, the interval of its latest packet, and
 * `settled`, the last interval it was settled for. The first packet of a flow
 * in the current interval appends it to the active list A (a flow that ends
 * leaves it, so A never outgrows the table). When the interval ends, A becomes
 * the sweep list S, which ft_stats_poll() settles a few flows at a time.
 * Settling a flow for its interval writes its periodic record if it is still
 * live at the interval's end by the flow table's own rule (idle for no longer
 * than its state's timeout, shortened in emergency mode: a fact of flow time,
 * not of when the sweep or the timer wheel gets to it), and offers its exact
 * packets and bytes in the interval to the interval's top-K. A flow is
 * settled exactly once per interval: by the sweep, by its next packet (in a
 * later interval, before that packet counts), or by its end; every way sees the
 * same figures, those of the packets before the interval's end. A flow that
 * ends within the current interval is offered to that interval's top-K at once.
 * When S is settled, the interval's TOPK and WORKER_STATS records follow (at
 * the next interval end at the latest).
 *
 * Top-K. Space-Saving keeps K counters and, for an item it does not monitor,
 * replaces the smallest counter, inheriting its count as an overestimate. Here
 * each flow is offered once per interval with its exact count, so the same
 * replace-the-smallest structure (a min-heap of K entries) ends the interval
 * holding exactly the K largest, under a total order that breaks ties by the
 * other count, then the key: Space-Saving's guarantees with a zero error bound,
 * at a cost per flow and interval rather than per packet.
 */
#include <errno.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>

#include "common/common.h"
#include "stats/stats.h"

#define HDR_BYTES    128
#define DIR_FIXED    64
#define HIST_BYTES   ((FT_STATS_SIZE_BINS + FT_STATS_IAT_BINS) * 4)
#define EDGES_PER_S  (FT_NSEC_PER_SEC / FT_STATS_EDGE_NS)
#define SNAPS	     (60 * EDGES_PER_S + 1) /* 60 s of edges, both ends */
#define SWEEP_VISITS 64			    /* flows examined per ft_stats_poll() */
#define PF_DIST	     8			    /* packets between a state prefetch and its use */
#define HOLE_MAX_AGE (1u << 30)		    /* a hole this far below the stream is forgotten */

/* struct flow_hdr.flags: per direction d, bits at 2 * d. */
#define F_SEQ_INIT(d) (1u << (2 * (d)))
#define F_ZERO_WIN(d) (2u << (2 * (d)))

/* struct flow_hdr.hs: handshake progress. hs_a/hs_b hold times, then RTTs. */
enum {
	HS_NONE = 0,
	HS_SYN,	   /* hs_a = SYN time */
	HS_SYNACK, /* hs_a = server RTT, hs_b = SYN+ACK time */
	HS_DONE,   /* hs_a = server RTT, hs_b = client RTT */
};

struct flow_hdr {
	/* line 0: touched by every packet */
	uint64_t first_ns;
	uint64_t last_ns;  /* latest packet time */
	uint64_t iv_bytes; /* in interval iv */
	uint64_t iv_packets;
	uint32_t iv;	  /* interval of the latest packet; 0: no packet yet */
	uint32_t settled; /* last interval settled (periodic record, top-K) */
	uint32_t pos;	  /* index in the active list while iv is the current interval */
	uint32_t size_min;
	uint32_t size_max;
	uint8_t hs;
	uint8_t flags;
	uint8_t initiator_hi; /* the flow's initiator is key endpoint 1 */
	uint8_t pad[5];
	/* line 1 */
	unsigned __int128 size_sq;
	unsigned __int128 iat_sq;
	uint64_t iat_min;
	uint64_t iat_max;
	uint64_t hs_a;
	uint64_t hs_b;
};
static_assert(sizeof(struct flow_hdr) == HDR_BYTES, "flow stats header is two cache lines");

struct bucket {
	uint32_t packets;
	uint32_t bytes; /* saturating */
};

struct dir_state {
	uint64_t packets;
	uint64_t bytes;
	uint64_t head;	       /* bucket number (time / bucket_ns) of the newest bucket */
	struct bucket cur;     /* bucket head (its ring slot holds a stale bucket) */
	uint32_t peak_packets; /* of buckets older than head */
	uint32_t peak_bytes;
	uint32_t tcp_next; /* sequence number after the highest byte seen */
	uint32_t retrans;
	uint32_t ooo;
	uint32_t zero_windows;
	uint8_t pad[8];
};
static_assert(sizeof(struct dir_state) == DIR_FIXED, "direction state is one cache line");

/* TCP holes of a direction: [start, end) not seen yet; [0] is the older;
 * empty when start == end. */
struct holes {
	uint32_t h[2][2];
};

struct hist {
	uint32_t size[FT_STATS_SIZE_BINS];
	uint32_t iat[FT_STATS_IAT_BINS];
};
static_assert(sizeof(struct hist) == HIST_BYTES, "histograms");

/* Cumulative per-worker counts at an edge. */
struct snap {
	uint64_t packets;
	uint64_t bytes;
	uint64_t flows_new;
	uint64_t flows_ended;
	uint64_t drops[FT_STATS_DROP_CAUSES];
};

struct topk_entry {
	uint64_t count[2]; /* bytes, packets in the interval */
	struct ft_flow_key key;
	uint64_t flow_id;
	uint64_t first_ns;
	uint8_t initiator;
};

/*
 * A packet's figures, queued until applied: the pass runs PF_DIST packets
 * behind the table, across bursts, so every packet's state lines are fetched
 * that many packets ahead (the first packets of a burst too). Whatever reads or
 * ends a flow's statistics drains the queue first, so order is kept.
 */
struct qpkt {
	uint64_t ts;
	uint32_t idx; /* flow index, or FT_FLOW_REFUSED (only moves the clock) */
	uint32_t len;
	uint32_t seq;
	uint32_t payload; /* by the IP length (payload_ip_len) */
	uint16_t window;
	uint8_t dir; /* struct ft_pkt.dir */
	uint8_t tcp; /* TCP with its whole header, its range known (tcp_known) */
	uint8_t tcp_flags;
	uint8_t pad[3];
};
static_assert(sizeof(struct qpkt) == 32, "queued packet");
#define QSIZE 16 /* power of two > PF_DIST */

struct ft_stats {
	struct ft_stats_params p;
	uint8_t *state;	     /* capacity * stride */
	struct holes *holes; /* capacity * 2 directions */
	uint32_t stride;
	uint32_t ring_off;   /* of direction 0's ring in a block */
	uint32_t ring_bytes; /* one direction's ring */

	/* Interval lists and their top-K heaps (by bytes, by packets): side a is
	 * the current interval's (A), side a ^ 1 the one being settled (S). */
	uint32_t *list[2];
	uint32_t list_n[2];
	struct topk_entry *heap[2][2];
	uint32_t heap_n[2][2];
	unsigned a;
	uint32_t sweep_iv;
	uint32_t sweep_pos;
	bool sweep_open; /* S's TOPK and WORKER_STATS records are still to be written */
	bool worker_due; /* S's end gets a WORKER_STATS record: */
	struct ft_worker_stats_record worker_rec; /* its figures, taken at the edge */
	struct ft_worker_drops_record drops_rec;
	struct topk_entry *merged; /* 2K, for the interval's union */

	/* Clock. */
	bool started;
	uint64_t clock_ns;
	uint64_t iv_base; /* absolute interval number of interval 1 */
	uint32_t cur_iv;
	uint64_t next_boundary; /* end of cur_iv */
	uint64_t next_edge;
	uint64_t cur_bucket; /* clock_ns / bucket_ns */
	uint64_t bucket_start;
	uint64_t bucket_end;

	/* Per-worker cumulative counts, in packet order, and their snapshots. */
	struct snap cum;
	struct snap *snaps;
	uint32_t snap_head;

	/* The burst the table is accounting, and the packets not applied yet. */
	struct ft_pkt *const *pkts;
	uint32_t *fidx;
	unsigned n;
	unsigned cursor; /* next packet of the burst to queue */
	uint32_t qhead, qtail;
	struct qpkt q[QSIZE];
};

/* --- layout ---------------------------------------------------------------- */

#define DIR_OFF	 HDR_BYTES
#define HIST_OFF (HDR_BYTES + 2 * DIR_FIXED)

static uint32_t
ring_off_of(const struct ft_stats_params *p)
{
	return HIST_OFF + (p->histograms ? HIST_BYTES : 0);
}

static uint32_t
stride_of(const struct ft_stats_params *p)
{
	return RTE_ALIGN_CEIL(ring_off_of(p) + 2 * p->buckets * (uint32_t)sizeof(struct bucket),
			      64);
}

static inline struct flow_hdr *
hdr(const struct ft_stats *st, uint32_t i)
{
	return (struct flow_hdr *)(st->state + (size_t)i * st->stride);
}

static inline struct dir_state *
dir(const struct ft_stats *st, uint32_t i, unsigned d)
{
	return (struct dir_state *)(st->state + (size_t)i * st->stride + DIR_OFF + d * DIR_FIXED);
}

static inline struct bucket *
ring(const struct ft_stats *st, uint32_t i, unsigned d)
{
	return (struct bucket *)(st->state + (size_t)i * st->stride + st->ring_off +
				 d * st->ring_bytes);
}

static inline struct hist *
hist(const struct ft_stats *st, uint32_t i)
{
	return (struct hist *)(st->state + (size_t)i * st->stride + HIST_OFF);
}

uint64_t
ft_stats_flow_bytes(const struct ft_stats_params *p)
{
	/* the block, its TCP holes and its share of the two interval lists */
	return stride_of(p) + 2 * sizeof(struct holes) + 2 * sizeof(uint32_t);
}

uint64_t
ft_stats_memory(const struct ft_stats_params *p)
{
	return sizeof(struct ft_stats) + (uint64_t)p->capacity * ft_stats_flow_bytes(p) +
	       SNAPS * sizeof(struct snap) + 6ULL * p->topk * sizeof(struct topk_entry);
}

/* --- create / free -------------------------------------------------------- */

struct ft_stats *
ft_stats_create(const struct ft_stats_params *p)
{
	struct ft_stats *st;

	if (p == NULL || p->capacity == 0 || p->capacity >= FT_STATS_PENDING ||
	    p->bucket_ns < 1000000 || p->buckets == 0 || p->buckets > FT_STATS_MAX_BUCKETS ||
	    p->interval_ns == 0 || p->interval_ns % p->bucket_ns != 0 ||
	    p->interval_ns % FT_STATS_EDGE_NS != 0 || p->topk > FT_STATS_MAX_TOPK ||
	    p->flows == NULL || p->counters == NULL || p->record == NULL) {
		rte_errno = EINVAL;
		return NULL;
	}
	st = rte_zmalloc_socket("ft_stats", sizeof(*st), 64, p->socket_id);
	if (st == NULL)
		goto nomem;
	st->p = *p;
	st->stride = stride_of(p);
	st->ring_off = ring_off_of(p);
	st->ring_bytes = p->buckets * (uint32_t)sizeof(struct bucket);
	st->state = rte_zmalloc_socket("ft_stats_flows", (size_t)p->capacity * st->stride, 64,
				       p->socket_id);
	st->holes = rte_zmalloc_socket(
		"ft_stats_holes", (size_t)p->capacity * 2 * sizeof(struct holes), 64, p->socket_id);
	st->list[0] =
		rte_zmalloc_socket("ft_stats_list", (size_t)p->capacity * 4, 64, p->socket_id);
	st->list[1] =
		rte_zmalloc_socket("ft_stats_list", (size_t)p->capacity * 4, 64, p->socket_id);
	st->snaps =
		rte_zmalloc_socket("ft_stats_snaps", SNAPS * sizeof(struct snap), 64, p->socket_id);
	if (st->state == NULL || st->holes == NULL || st->list[0] == NULL || st->list[1] == NULL ||
	    st->snaps == NULL)
		goto nomem;
	if (p->topk > 0) {
		for (int side = 0; side < 2; side++) {
			for (int k = 0; k < 2; k++) {
				st->heap[side][k] = rte_zmalloc_socket(
					"ft_stats_topk", p->topk * sizeof(struct topk_entry), 64,
					p->socket_id);
				if (st->heap[side][k] == NULL)
					goto nomem;
			}
		}
		st->merged = rte_zmalloc_socket(
			"ft_stats_topk", 2 * p->topk * sizeof(struct topk_entry), 64, p->socket_id);
		if (st->merged == NULL)
			goto nomem;
	}
	return st;
nomem:
	ft_stats_free(st);
	rte_errno = ENOMEM;
	return NULL;
}

void
ft_stats_free(struct ft_stats *st)
{
	if (st == NULL)
		return;
	rte_free(st->state);
	rte_free(st->holes);
	rte_free(st->list[0]);
	rte_free(st->list[1]);
	rte_free(st->snaps);
	for (int side = 0; side < 2; side++)
		for (int k = 0; k < 2; k++)
			rte_free(st->heap[side][k]);
	rte_free(st->merged);
	rte_free(st);
}

/* --- records ---------------------------------------------------------------- */

static inline uint64_t
boundary(const struct ft_stats *st, uint32_t iv)
{
	return (st->iv_base + iv) * st->p.interval_ns;
}

/* Would the flow table still hold the flow at time t (packets before t)? By
 * the timeout the table applies now, so that in emergency mode a flow idle
 * past the shortened timeout is not called live in a record while the table
 * is about to end it. */
static inline bool
live_at(const struct ft_stats *st, const struct ft_flow *f, uint64_t t)
{
	/* last_ns past t: it had a later packet without ending, so it was live. */
	return f->last_ns >= t || t - f->last_ns <= ft_flow_table_timeout(st->p.flows, f);
}

static inline uint32_t
ring_slot(const struct ft_stats *st, uint64_t bucket)
{
	return (uint32_t)(bucket % st->p.buckets);
}

/* One direction's figures as of time t (a bucket edge after every packet). */
static void
dir_export(const struct ft_stats *st, const struct dir_state *D, const struct bucket *rg,
	   uint64_t t, struct ft_flow_stats_dir *out)
{
	uint64_t tb = t / st->p.bucket_ns;

	out->packets = D->packets;
	out->bytes = D->bytes;
	out->retransmissions = D->retrans;
	out->out_of_order = D->ooo;
	out->zero_windows = D->zero_windows;
	if (D->packets == 0)
		return;
	out->peak_packets = RTE_MAX(D->peak_packets, D->cur.packets);
	out->peak_bytes = RTE_MAX(D->peak_bytes, D->cur.bytes);
	for (uint32_t k = 1; k <= st->p.buckets && k <= tb; k++) {
		uint64_t m = tb - k;
		const struct bucket *b;

		if (m > D->head)
			continue;
		if (D->head - m >= st->p.buckets)
			break;
		b = m == D->head ? &D->cur : &rg[ring_slot(st, m)];
		if (k == 1) {
			out->last_packets = b->packets;
			out->last_bytes = b->bytes;
		}
		out->window_packets += b->packets;
		out->window_bytes += b->bytes;
	}
}

static void
emit_flow(struct ft_stats *st, uint32_t i, const struct ft_flow *f, const struct flow_hdr *h,
	  enum ft_flow_stats_kind kind, uint64_t t)
{
	struct ft_record *r = st->p.record(st->p.record_ctx, FT_RECORD_FLOW_STATS, 2);
	struct ft_flow_stats_record *s = &r->flow_stats;
	struct ft_flow_dist_record *dd;
	uint64_t packets;

	memset(s, 0, sizeof(*s));
	s->key = f->key;
	s->flow_id = f->id;
	s->time_ns = t;
	s->first_ns = h->first_ns;
	s->last_ns = h->last_ns;
	s->bucket_ns = st->p.bucket_ns;
	s->buckets = (uint16_t)st->p.buckets;
	s->kind = (uint8_t)kind;
	if (h->initiator_hi)
		s->flags |= FT_FLOW_STATS_F_INITIATOR_HI;
	if (st->p.histograms)
		s->flags |= FT_FLOW_STATS_F_HISTOGRAMS;
	if (h->hs >= HS_SYNACK) {
		s->flags |= FT_FLOW_STATS_F_RTT_SERVER;
		s->rtt_server_ns = h->hs_a;
	}
	if (h->hs == HS_DONE) {
		s->flags |= FT_FLOW_STATS_F_RTT_CLIENT;
		s->rtt_client_ns = h->hs_b;
	}
	for (unsigned d = 0; d < 2; d++)
		dir_export(st, dir(st, i, d), ring(st, i, d), t, &s->dir[d]);
	packets = s->dir[0].packets + s->dir[1].packets;

	r = st->p.record(st->p.record_ctx, FT_RECORD_FLOW_DIST, 1);
	dd = &r->flow_dist;
	memset(dd, 0, sizeof(*dd));
	dd->flow_id = f->id;
	dd->time_ns = t;
	dd->size_sumsq[0] = (uint64_t)h->size_sq;
	dd->size_sumsq[1] = (uint64_t)(h->size_sq >> 64);
	dd->iat_sumsq[0] = (uint64_t)h->iat_sq;
	dd->iat_sumsq[1] = (uint64_t)(h->iat_sq >> 64);
	if (packets >= 2) {
		dd->iat_min = h->iat_min;
		dd->iat_max = h->iat_max;
	}
	dd->size_min = h->size_min;
	dd->size_max = h->size_max;
	if (st->p.histograms) {
		const struct hist *hg = hist(st, i);

		memcpy(dd->size_hist, hg->size, sizeof(dd->size_hist));
		memcpy(dd->iat_hist, hg->iat, sizeof(dd->iat_hist));
	}
}

/* --- top-K ------------------------------------------------------------------ */

/* > 0 when a ranks above b in heap k's order: count k, the other count, the
 * key (as six words, lower first), the first packet time, the flow id (lower
 * first). The collector merges by the same counts and key. */
static inline int
rank_cmp(const struct topk_entry *a, const struct topk_entry *b, unsigned k)
{
	if (a->count[k] != b->count[k])
		return a->count[k] > b->count[k] ? 1 : -1;
	if (a->count[k ^ 1] != b->count[k ^ 1])
		return a->count[k ^ 1] > b->count[k ^ 1] ? 1 : -1;
	for (unsigned w = 0; w < sizeof(a->key) / 8; w++) {
		uint64_t x = ft_flow_key_word(&a->key, w), y = ft_flow_key_word(&b->key, w);

		if (x != y)
			return x < y ? 1 : -1;
	}
	if (a->first_ns != b->first_ns)
		return a->first_ns < b->first_ns ? 1 : -1;
	if (a->flow_id != b->flow_id)
		return a->flow_id < b->flow_id ? 1 : -1;
	return 0;
}

/* A min-heap: the root ranks lowest. */
static void
heap_sift_down(struct topk_entry *h, uint32_t n, uint32_t pos, unsigned k)
{
	struct topk_entry e = h[pos];

	for (;;) {
		uint32_t c = 2 * pos + 1;

		if (c >= n)
			break;
		if (c + 1 < n && rank_cmp(&h[c + 1], &h[c], k) < 0)
			c++;
		if (rank_cmp(&h[c], &e, k) >= 0)
			break;
		h[pos] = h[c];
		pos = c;
	}
	h[pos] = e;
}

static void
heap_sift_up(struct topk_entry *h, uint32_t pos, unsigned k)
{
	struct topk_entry e = h[pos];

	while (pos > 0) {
		uint32_t parent = (pos - 1) / 2;

		if (rank_cmp(&h[parent], &e, k) <= 0)
			break;
		h[pos] = h[parent];
		pos = parent;
	}
	h[pos] = e;
}

/* Offer a flow's counts in its interval to the top-K of side `side`. */
static void
topk_offer(struct ft_stats *st, unsigned side, const struct ft_flow *f, const struct flow_hdr *h)
{
	struct topk_entry e = {
		.count = {h->iv_bytes, h->iv_packets},
		.key = f->key,
		.flow_id = f->id,
		.first_ns = h->first_ns,
		.initiator = h->initiator_hi,
	};

	for (unsigned k = 0; k < 2; k++) {
		struct topk_entry *heap = st->heap[side][k];
		uint32_t *n = &st->heap_n[side][k];

		if (*n < st->p.topk) {
			heap[*n] = e;
			heap_sift_up(heap, (*n)++, k);
		} else if (rank_cmp(&e, &heap[0], k) > 0) {
			heap[0] = e;
			heap_sift_down(heap, *n, 0, k);
		}
	}
}

/* Sort a[0..n) best first by heap 0's order, in place: a heapsort on the
 * top-K's own min-heap, the lowest going to the end each round. Not qsort:
 * glibc's allocates above 1 KiB of array, and this runs on the worker. The
 * order is total (flow ids are unique) but for a flow in both heaps, whose two
 * copies compare equal and so end adjacent. */
static void
topk_sort(struct topk_entry *a, uint32_t n)
{
	for (uint32_t i = n / 2; i-- > 0;)
		heap_sift_down(a, n, i, 0);
	for (uint32_t end = n; end-- > 1;) {
		struct topk_entry t = a[0];

		a[0] = a[end];
		a[end] = t;
		heap_sift_down(a, end, 0, 0);
	}
}

/* The union of a side's two heaps, best first by bytes, 3 entries per
 * record; the heaps are emptied. */
static void
emit_topk(struct ft_stats *st, unsigned side, uint64_t t)
{
	uint32_t n = 0, m = 0;

	for (unsigned k = 0; k < 2; k++) {
		memcpy(&st->merged[n], st->heap[side][k],
		       st->heap_n[side][k] * sizeof(struct topk_entry));
		n += st->heap_n[side][k];
		st->heap_n[side][k] = 0;
	}
	if (n == 0)
		return;
	topk_sort(st->merged, n);
	for (uint32_t j = 0; j < n; j++) /* a flow in both heaps sorts twice, adjacent */
		if (m == 0 || st->merged[j].flow_id != st->merged[m - 1].flow_id)
			st->merged[m++] = st->merged[j];
	for (uint32_t j = 0, rec = 0; j < m; rec++) {
		struct ft_record *r = st->p.record(st->p.record_ctx, FT_RECORD_TOPK, 1);
		struct ft_topk_record *tr = &r->topk;

		memset(tr, 0, sizeof(*tr));
		tr->time_ns = t;
		tr->interval_ns = st->p.interval_ns;
		tr->k = (uint16_t)st->p.topk;
		tr->index = (uint16_t)rec;
		for (; j < m && tr->count < FT_TOPK_PER_RECORD; j++) {
			const struct topk_entry *e = &st->merged[j];
			struct ft_topk_entry *o = &tr->entry[tr->count];

			o->key = e->key;
			o->flow_id = e->flow_id;
			o->bytes = e->count[0];
			o->packets = e->count[1];
			tr->initiator |= (uint8_t)(e->initiator << tr->count);
			tr->count++;
		}
		if (j == m)
			tr->flags |= FT_TOPK_F_LAST;
	}
}

/* --- per-worker windows ----------------------------------------------------- */

static void
cum_read_drops(struct ft_stats *st)
{
	for (unsigned c = 0; c < FT_DISCARD_MAX; c++)
		st->cum.drops[c] = st->p.counters->discard_packets[c];
	st->cum.drops[FT_STATS_DROP_RING] = st->p.counters->ring_drop_records;
}

static inline const struct snap *
snap_back(const struct ft_stats *st, uint32_t edges)
{
	return &st->snaps[(st->snap_head + SNAPS - edges) % SNAPS];
}

/* The worker's figures at edge t (just snapshotted), kept until the interval's
 * flows are settled: its WORKER_STATS record follows the interval's TOPK. */
static void
take_worker(struct ft_stats *st, uint64_t t)
{
	const struct snap *now = snap_back(st, 0);
	struct ft_worker_stats_record *w = &st->worker_rec;
	struct ft_worker_drops_record *dr = &st->drops_rec;

	memset(w, 0, sizeof(*w));
	w->time_ns = t;
	w->interval_ns = st->p.interval_ns;
	w->flows_active = now->flows_new - now->flows_ended;
	w->packets_total = now->packets;
	w->bytes_total = now->bytes;
	memset(dr, 0, sizeof(*dr));
	dr->time_ns = t;
	for (unsigned x = 0; x < FT_STATS_WINDOWS; x++) {
		const struct snap *old = snap_back(st, ft_stats_window_s[x] * EDGES_PER_S);

		w->packets[x] = now->packets - old->packets;
		w->bytes[x] = now->bytes - old->bytes;
		w->flows_new[x] = now->flows_new - old->flows_new;
		w->flows_ended[x] = now->flows_ended - old->flows_ended;
		for (unsigned c = 0; c < FT_STATS_DROP_CAUSES; c++) {
			uint64_t v = now->drops[c] - old->drops[c];

			w->drops[x] += v;
			dr->drops[c][x] = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
		}
	}
}

static bool
window60_quiet(const struct ft_stats *st)
{
	return memcmp(snap_back(st, 0), snap_back(st, SNAPS - 1), sizeof(struct snap)) == 0;
}

/* --- intervals -------------------------------------------------------------- */

/* Settle flow i for its interval h->iv, which has ended and is S's: its
 * periodic record if it is live at the end, its counts to S's top-K. */
static void
settle(struct ft_stats *st, uint32_t i, const struct ft_flow *f, struct flow_hdr *h, bool live)
{
	uint64_t t = boundary(st, h->iv);

	h->settled = h->iv;
	if (live)
		emit_flow(st, i, f, h, FT_FLOW_STATS_PERIODIC, t);
	if (st->p.topk > 0)
		topk_offer(st, st->a ^ 1, f, h);
}

/* Settle up to `visits` flows of the sweep list; returns records pairs written. */
static unsigned
sweep(struct ft_stats *st, uint32_t visits)
{
	unsigned s = st->a ^ 1;
	uint64_t t = boundary(st, st->sweep_iv);
	unsigned written = 0;

	while (st->sweep_pos < st->list_n[s] && visits-- > 0) {
		uint32_t i = st->list[s][st->sweep_pos++];
		struct flow_hdr *h = hdr(st, i);
		const struct ft_flow *f;
		bool live;

		if (h->iv != st->sweep_iv || h->settled == st->sweep_iv)
			continue; /* ended, or settled by its next packet */
		f = ft_flow_table_entry(st->p.flows, i);
		live = live_at(st, f, t);
		settle(st, i, f, h, live);
		written += live;
	}
	return written;
}

/* Every flow of S is settled: write its interval's TOPK, then WORKER_STATS. */
static void
close_sweep(struct ft_stats *st)
{
	uint64_t t = boundary(st, st->sweep_iv);
	struct ft_record *r;

	if (!st->sweep_open)
		return;
	st->sweep_open = false;
	if (st->p.topk > 0)
		emit_topk(st, st->a ^ 1, t);
	if (!st->worker_due)
		return;
	r = st->p.record(st->p.record_ctx, FT_RECORD_WORKER_STATS, 2);
	r->worker_stats = st->worker_rec;
	r = st->p.record(st->p.record_ctx, FT_RECORD_WORKER_DROPS, 1);
	r->worker_drops = st->drops_rec;
}

static void
close_interval(struct ft_stats *st, uint64_t t)
{
	sweep(st, UINT32_MAX);
	close_sweep(st);
	st->a ^= 1; /* A, with its flows and the top-K of those that ended, is S now */
	st->list_n[st->a] = 0;
	st->sweep_iv = st->cur_iv;
	st->sweep_pos = 0;
	st->sweep_open = true;
	st->worker_due = !window60_quiet(st) || t + st->p.interval_ns > st->clock_ns;
	if (st->worker_due)
		take_worker(st, t);
	if (st->list_n[st->a ^ 1] == 0)
		close_sweep(st);
	st->cur_iv++;
	st->next_boundary += st->p.interval_ns;
}

static void
edge(struct ft_stats *st)
{
	uint64_t e = st->next_edge;

	cum_read_drops(st);
	st->snap_head = (st->snap_head + 1) % SNAPS;
	st->snaps[st->snap_head] = st->cum;
	if (e == st->next_boundary)
		close_interval(st, e);
	st->next_edge = e + FT_STATS_EDGE_NS;
}

/* Nothing happened for 60 s and nothing is pending: every edge until the
 * clock would write nothing but a zero worker record. */
static bool
quiet(struct ft_stats *st)
{
	cum_read_drops(st);
	return st->list_n[st->a] == 0 && !st->sweep_open && st->heap_n[st->a][0] == 0 &&
	       window60_quiet(st) && memcmp(&st->cum, snap_back(st, 0), sizeof(st->cum)) == 0;
}

static void
set_bucket(struct ft_stats *st, uint64_t t)
{
	st->cur_bucket = t / st->p.bucket_ns;
	st->bucket_start = st->cur_bucket * st->p.bucket_ns;
	st->bucket_end = st->bucket_start + st->p.bucket_ns;
}

static void
start(struct ft_stats *st, uint64_t t)
{
	st->started = true;
	st->clock_ns = t;
	st->iv_base = t / st->p.interval_ns;
	st->cur_iv = 1;
	st->next_boundary = (st->iv_base + 1) * st->p.interval_ns;
	st->next_edge = (t / FT_STATS_EDGE_NS + 1) * FT_STATS_EDGE_NS;
	set_bucket(st, t);
	cum_read_drops(st);
	for (uint32_t k = 0; k < SNAPS; k++)
		st->snaps[k] = st->cum;
}

static void
advance(struct ft_stats *st, uint64_t t)
{
	if (unlikely(!st->started)) {
		start(st, t);
		return;
	}
	if (t <= st->clock_ns)
		return;
	st->clock_ns = t;
	if (t >= st->bucket_end)
		set_bucket(st, t);
	while (t >= st->next_edge) {
		/* A long silence (capture gap, idle link): jump to the last
		 * interval end before t instead of stepping every edge. */
		if (t - st->next_edge > st->p.interval_ns && quiet(st)) {
			uint64_t last = t - t % st->p.interval_ns;

			st->cur_iv += (uint32_t)((last - st->next_boundary) / st->p.interval_ns);
			st->next_boundary = last;
			st->next_edge = last;
		}
		edge(st);
	}
}

/* --- per packet ------------------------------------------------------------- */

static inline uint32_t
sat_add32(uint32_t a, uint32_t b)
{
	uint32_t s = a + b;

	return s < a ? UINT32_MAX : s;
}

static inline void
fold_peak(struct dir_state *D, const struct bucket *b)
{
	if (b->packets > D->peak_packets)
		D->peak_packets = b->packets;
	if (b->bytes > D->peak_bytes)
		D->peak_bytes = b->bytes;
}

static inline void
window_add(const struct ft_stats *st, struct dir_state *D, struct bucket *rg, uint64_t ts,
	   uint32_t len)
{
	uint32_t nb = st->p.buckets;
	struct bucket *b;
	uint64_t n;

	n = likely(ts >= st->bucket_start) ? st->cur_bucket : ts / st->p.bucket_ns;
	if (unlikely(D->packets == 1)) {
		D->head = n;
	} else if (n > D->head) {
		/* Bucket head is complete: into the ring, with empty ones up to n. */
		uint64_t steps = n - D->head;

		fold_peak(D, &D->cur);
		if (steps >= nb) {
			memset(rg, 0, nb * sizeof(struct bucket));
		} else {
			uint32_t s = ring_slot(st, D->head);

			rg[s] = D->cur;
			for (uint64_t k = 1; k < steps; k++) {
				s = s + 1 == nb ? 0 : s + 1;
				rg[s].packets = 0;
				rg[s].bytes = 0;
			}
		}
		D->head = n;
		D->cur.packets = 0;
		D->cur.bytes = 0;
	} else if (n < D->head) {
		/* An older bucket, complete already: counted if still in the
		 * ring, else in no window to come. */
		if (D->head - n >= nb)
			return;
		b = &rg[ring_slot(st, n)];
		b->packets = sat_add32(b->packets, 1);
		b->bytes = sat_add32(b->bytes, len);
		fold_peak(D, b);
		return;
	}
	D->cur.packets = sat_add32(D->cur.packets, 1);
	D->cur.bytes = sat_add32(D->cur.bytes, len);
}

/* Record a sequence range [s, e) never seen (a later segment came first). */
static void
hole_add(struct holes *H, uint32_t s, uint32_t e)
{
	if (H->h[0][0] == H->h[0][1]) {
		H->h[0][0] = H->h[1][0];
		H->h[0][1] = H->h[1][1];
	} else if (H->h[1][0] != H->h[1][1]) {
		H->h[0][0] = H->h[1][0]; /* both used: forget the older */
		H->h[0][1] = H->h[1][1];
	}
	H->h[1][0] = s;
	H->h[1][1] = e;
}

/* Does [s, e) fall in a known hole? Shrinks the hole by it. */
static bool
hole_fill(struct holes *H, uint32_t next, uint32_t s, uint32_t e)
{
	for (unsigned k = 0; k < 2; k++) {
		uint32_t *h = H->h[k];

		if (h[0] == h[1])
			continue;
		if (next - h[1] > HOLE_MAX_AGE) {
			h[0] = h[1]; /* a gap never filled, a wrap behind: comparisons would lie */
			continue;
		}
		if ((int32_t)(h[1] - s) <= 0 || (int32_t)(e - h[0]) <= 0)
			continue;
		if ((int32_t)(s - h[0]) <= 0)
			h[0] = (int32_t)(e - h[1]) >= 0 ? h[1] : e;
		else if ((int32_t)(e - h[1]) >= 0)
			h[1] = s;
		return true;
	}
	return false;
}

static void
tcp_apply(struct flow_hdr *h, struct dir_state *D, struct holes *H, unsigned d,
	  const struct qpkt *p, uint64_t ts)
{
	uint8_t fl = p->tcp_flags;
	uint32_t len, seq, end;
	int32_t diff;

	switch (fl & (FT_TCP_SYN | FT_TCP_ACK | FT_TCP_RST)) {
	case FT_TCP_SYN:
		if (d == 0 && h->hs == HS_NONE) {
			h->hs = HS_SYN;
			h->hs_a = ts;
		}
		break;
	case FT_TCP_SYN | FT_TCP_ACK:
		if (d == 1 && h->hs == HS_SYN) {
			h->hs = HS_SYNACK;
			h->hs_a = ts > h->hs_a ? ts - h->hs_a : 0;
			h->hs_b = ts;
		}
		break;
	case FT_TCP_ACK:
		if (d == 0 && h->hs == HS_SYNACK) {
			h->hs = HS_DONE;
			h->hs_b = ts > h->hs_b ? ts - h->hs_b : 0;
		}
		break;
	default:
		break;
	}
	if (fl & FT_TCP_RST)
		return;
	if (!(fl & (FT_TCP_SYN | FT_TCP_FIN))) {
		if (p->window == 0) {
			if (!(h->flags & F_ZERO_WIN(d))) {
				D->zero_windows++;
				h->flags |= F_ZERO_WIN(d);
			}
		} else {
			h->flags &= (uint8_t)~F_ZERO_WIN(d);
		}
	}

	seq = p->seq;
	len = p->payload + ((fl & FT_TCP_SYN) != 0) + ((fl & FT_TCP_FIN) != 0);
	if (!(h->flags & F_SEQ_INIT(d))) {
		h->flags |= F_SEQ_INIT(d);
		D->tcp_next = seq + len;
		return;
	}
	if (len == 0)
		return;
	end = seq + len;
	diff = (int32_t)(seq - D->tcp_next);
	if (diff == 0) {
		D->tcp_next = end;
		return;
	}
	if (diff > 0) {
		hole_add(H, D->tcp_next, seq);
		D->tcp_next = end;
		return;
	}
	/* A keep-alive (one byte, or none, just below what was sent) is neither. */
	if (p->payload <= 1 && !(fl & (FT_TCP_SYN | FT_TCP_FIN)) && seq == D->tcp_next - 1)
		return;
	if (hole_fill(H, D->tcp_next, seq, end))
		D->ooo++;
	else
		D->retrans++;
	if ((int32_t)(end - D->tcp_next) > 0)
		D->tcp_next = end;
}

/* Does the packet carry its whole TCP header, and does its IP length give its
 * segment's range? (A first fragment holds part of a segment: its range would
 * look like a hole. A capture's snaplen cut is no hole: payload_ip_len.) */
static inline bool
tcp_known(const struct ft_pkt *p)
{
	return (p->flags & (FT_PKT_F_FRAGMENT | FT_PKT_F_L4_PARTIAL | FT_PKT_F_L4_PAYLOAD)) ==
	       FT_PKT_F_L4_PAYLOAD;
}

static void
apply(struct ft_stats *st, const struct qpkt *p)
{
	uint32_t i = p->idx;
	struct flow_hdr *h = hdr(st, i);
	uint64_t ts = p->ts;
	uint32_t len = p->len;
	bool first = h->iv == 0;
	struct dir_state *D;
	unsigned d;

	if (ts > st->clock_ns || unlikely(!st->started))
		advance(st, ts);
	if (h->iv != st->cur_iv) {
		if (first) {
			const struct ft_flow *f = ft_flow_table_entry(st->p.flows, i);

			h->initiator_hi = (f->flags & FT_FLOW_E_INITIATOR_HI) ? 1 : 0;
			h->first_ns = ts;
			h->last_ns = ts;
			h->size_min = UINT32_MAX;
			h->iat_min = UINT64_MAX;
			st->cum.flows_new++;
		} else if (h->settled != h->iv) {
			/* Its interval ended and it is not settled yet: it is live
			 * (this packet did not end it), and its figures are still
			 * those of that interval's end. */
			settle(st, i, ft_flow_table_entry(st->p.flows, i), h, true);
		}
		h->iv = st->cur_iv;
		h->iv_bytes = 0;
		h->iv_packets = 0;
		h->pos = st->list_n[st->a];
		st->list[st->a][st->list_n[st->a]++] = i;
	}
	d = p->dir != h->initiator_hi;
	D = dir(st, i, d);

	if (!first) {
		uint64_t dt = 0;

		if (ts > h->last_ns) {
			dt = ts - h->last_ns;
			h->last_ns = ts;
		}
		h->iat_sq += (unsigned __int128)dt * dt;
		if (dt < h->iat_min)
			h->iat_min = dt;
		if (dt > h->iat_max)
			h->iat_max = dt;
		if (st->p.histograms)
			hist(st, i)->iat[ft_stats_iat_bin(dt)]++;
	}
	h->size_sq += (unsigned __int128)len * len;
	if (len < h->size_min)
		h->size_min = len;
	if (len > h->size_max)
		h->size_max = len;
	if (st->p.histograms)
		hist(st, i)->size[ft_stats_size_bin(len)]++;

	D->packets++;
	D->bytes += len;
	window_add(st, D, ring(st, i, d), ts, len);
	if (p->tcp)
		tcp_apply(h, D, &st->holes[2 * (size_t)i + d], d, p, ts);

	st->cum.packets++;
	st->cum.bytes += len;
	h->iv_bytes += len;
	h->iv_packets++;
}

/* Fetch the lines packet p will touch in flow i's block: the header, its
 * direction, the size bin, the inter-arrival bins. */
static inline void
prefetch_state(const struct ft_stats *st, const struct ft_pkt *p, uint32_t i)
{
	const char *b = (const char *)hdr(st, i);
	uint32_t len = p->wire_len;

	rte_prefetch0(b);
	rte_prefetch0(b + 64);
	/* The flow's entry is in cache: the table just accounted the packet. */
	rte_prefetch0(dir(st, i, ft_flow_pkt_direction(ft_flow_table_entry(st->p.flows, i), p)));
	if (st->p.histograms) {
		const struct hist *hg = hist(st, i);

		rte_prefetch0(&hg->size[ft_stats_size_bin(len)]);
		rte_prefetch0(hg->iat);
		rte_prefetch0(&hg->iat[FT_STATS_IAT_BINS - 1]);
	}
}

static inline void
apply_queued(struct ft_stats *st, const struct qpkt *q)
{
	if (likely(q->idx != FT_FLOW_REFUSED))
		apply(st, q);
	else
		advance(st, q->ts);
}

/* Apply every queued packet. */
static void
drain(struct ft_stats *st)
{
	while (st->qhead != st->qtail)
		apply_queued(st, &st->q[st->qhead++ % QSIZE]);
}

/* Queue a packet of the burst, applying the one PF_DIST packets older. */
static inline void
enqueue(struct ft_stats *st, const struct ft_pkt *p, uint32_t i)
{
	struct qpkt *q;

	if (st->qtail - st->qhead == PF_DIST)
		apply_queued(st, &st->q[st->qhead++ % QSIZE]);
	q = &st->q[st->qtail++ % QSIZE];
	q->ts = p->ts_ns;
	q->idx = i;
	q->len = p->wire_len;
	q->dir = p->dir;
	q->tcp = p->key.proto == 6 && tcp_known(p);
	q->seq = p->tcp_seq;
	/* By the IP length: a segment the capture cut (snaplen) still covers
	 * its whole sequence range, so the cut is no hole. */
	q->payload = p->payload_ip_len;
	q->window = p->tcp_window;
	q->tcp_flags = p->tcp_flags;
	if (i != FT_FLOW_REFUSED)
		prefetch_state(st, p, i);
}

/* Queue the burst's packets up to the first one the table has not reached;
 * if there is one (a flow end called us), apply everything before it and move
 * the clock to it. */
static void
catch_up(struct ft_stats *st)
{
	while (st->cursor < st->n) {
		unsigned k = st->cursor;
		uint32_t i = st->fidx[k];

		if (i == FT_STATS_PENDING) {
			drain(st);
			advance(st, st->pkts[k]->ts_ns);
			return;
		}
		enqueue(st, st->pkts[k], i);
		st->cursor++;
	}
}

void
ft_stats_burst_begin(struct ft_stats *st, struct ft_pkt *const pkts[], uint32_t flow_index[],
		     unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		flow_index[k] = FT_STATS_PENDING;
	st->pkts = pkts;
	st->fidx = flow_index;
	st->n = n;
	st->cursor = 0;
}

void
ft_stats_burst_end(struct ft_stats *st)
{
	catch_up(st);
	st->n = 0;
	st->cursor = 0;
}

void
ft_stats_flow_end(struct ft_stats *st, const struct ft_flow *f)
{
	uint32_t i = ft_flow_table_index(st->p.flows, f);
	struct flow_hdr *h;

	catch_up(st);
	drain(st);
	h = hdr(st, i);
	if (h->iv == 0)
		return; /* no packet was applied (cannot happen: a flow starts with one) */
	if (h->iv == st->cur_iv) {
		/* Its interval goes on without it: to the top-K now, out of A. */
		uint32_t *list = st->list[st->a];
		uint32_t last = list[--st->list_n[st->a]];

		if (st->p.topk > 0)
			topk_offer(st, st->a, f, h);
		if (last != i) {
			list[h->pos] = last;
			hdr(st, last)->pos = h->pos;
		}
	} else if (h->settled != h->iv) {
		settle(st, i, f, h, live_at(st, f, boundary(st, h->iv)));
	}
	emit_flow(st, i, f, h, FT_FLOW_STATS_FINAL,
		  (h->last_ns / st->p.bucket_ns + 1) * st->p.bucket_ns);
	st->cum.flows_ended++;
	memset(h, 0, st->stride);
	memset(&st->holes[2 * (size_t)i], 0, 2 * sizeof(struct holes));
}

void
ft_stats_advance(struct ft_stats *st, uint64_t now_ns)
{
	drain(st);
	advance(st, now_ns);
}

unsigned
ft_stats_poll(struct ft_stats *st)
{
	unsigned written;

	if (!st->sweep_open)
		return 0;
	written = sweep(st, SWEEP_VISITS);
	if (st->sweep_pos == st->list_n[st->a ^ 1])
		close_sweep(st);
	return written + 1;
}

void
ft_stats_finish(struct ft_stats *st, uint64_t end_ns)
{
	drain(st);
	if (!st->started)
		return;
	advance(st, (end_ns / st->p.interval_ns + 1) * st->p.interval_ns);
	sweep(st, UINT32_MAX);
	close_sweep(st);
}
