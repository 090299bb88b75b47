/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf_dyn.h>
#include <rte_pause.h>

#include "parse/parse.h"
#include "worker/worker.h"

RTE_LOG_REGISTER_SUFFIX(ft_logtype_worker, worker, INFO);

#define OUT_STAGE     64	 /* mbufs staged per destination before a ring write */
#define LINEAR_MAX    (128 * 1024) /* a chained frame is copied up to this for parsing */
#define PUBLISH_EVERY_NS 1000000 /* counters to the export header every millisecond */
#define PACE_HOLD     64	 /* packets a paced source reads ahead */
#define RX_PREFETCH   4	 /* packets whose headers are prefetched ahead of parsing */
#define DRAIN_MAX	 65536 /* packets read from a live source after a stop */

/* A paced source (replay at the capture's pace or a multiple): packets are read
 * ahead and released when the wall clock reaches their capture time. */
struct pacer {
	struct rte_mbuf *held[PACE_HOLD];
	unsigned nheld, next;
	bool started;
	uint64_t base_pkt_ns; /* capture time that maps to base_tsc */
	uint64_t base_tsc;
	uint64_t last_pkt_ns; /* latest capture time released */
};

/* A later fragment waiting for its first fragment (src/frag/frag.h). */
struct frag_wait {
	struct rte_mbuf *m;
	uint64_t deadline_ns; /* rx clock */
	unsigned src;	      /* the source it came from */
};

struct ft_worker {
	struct ft_worker_params p;
	struct ft_worker_ctl *ctl;
	struct ft_flow_table *flows;
	struct ft_frag_table *frags; /* for the queues this worker reads */
	struct ft_stats *stats;	     /* NULL when statistics are off */
	struct ft_worker_counters *shared; /* this worker's block in the export header */
	struct ft_worker_counters c;	   /* private, published every PUBLISH_EVERY_NS */
	struct ft_clock clock;
	uint64_t now_ns; /* flow clock: latest packet time, or TSC time */
	uint64_t publish_interval_tsc;
	unsigned nsrc;
	struct ft_worker_source src[FT_WORKER_MAX_SOURCES];
	struct rte_ring *in[FT_WORKER_MAX];  /* from worker j to us */
	struct rte_ring *out[FT_WORKER_MAX]; /* from us to worker j */
	unsigned out_n[FT_WORKER_MAX];
	struct rte_mbuf *out_stage[FT_WORKER_MAX][OUT_STAGE];
	struct ft_export_writer writer;
	struct pacer pace[FT_WORKER_MAX_SOURCES];
	struct frag_wait wait[FT_FRAG_WAIT_MAX]; /* in arrival order */
	unsigned nwait;
	uint64_t wait_until; /* earliest deadline in wait[] (not always wait[0]'s:
				packet times of several sources interleave) */
	uint64_t rx_ns; /* rx clock: latest burst's last packet time (capture or arrival) */
	/* Pattern matching (NULL without rules), and the burst being accounted:
	 * a flow that ends inside update_burst() first gets the burst's earlier
	 * packets scanned (burst_next .. the first index not yet filled). */
	struct ft_match *match;
	struct rte_mbuf **burst_m;
	struct ft_pkt **burst_pkt;
	uint32_t *burst_index;
	unsigned burst_n, burst_next;
	uint64_t cpu_start_ns; /* thread CPU time when the worker started */
	uint8_t linear[LINEAR_MAX];
};

/* flow_index[] value of a packet update_burst() has not reached yet: the
 * statistics mark the same slots the same way. */
#define INDEX_PENDING (FT_FLOW_REFUSED - 1)
static_assert(INDEX_PENDING == FT_STATS_PENDING, "one pending mark in flow_index[]");

static inline struct ft_pkt *
pkt_of(struct rte_mbuf *m)
{
	return rte_mbuf_to_priv(m);
}

/* len bytes of a frame from off, contiguous: in place, or copied out of a chain. */
static inline const uint8_t *
bytes_of(struct ft_worker *w, const struct rte_mbuf *mb, uint32_t off, uint32_t len)
{
	if (len == 0)
		return NULL;
	if (likely(off + len <= mb->data_len))
		return rte_pktmbuf_mtod_offset(mb, const uint8_t *, off);
	return rte_pktmbuf_read(mb, off, len, w->linear);
}

/* Scan the burst's packets whose flow index is known, in packet order. */
static void
match_pending(struct ft_worker *w)
{
	unsigned k;

	for (k = w->burst_next; k < w->burst_n && w->burst_index[k] != INDEX_PENDING; k++) {
		uint32_t idx = w->burst_index[k];
		const struct ft_pkt *p = w->burst_pkt[k];
		uint32_t off = p->payload_offset, len = p->payload_len;
		const uint8_t *payload;

		if (unlikely(idx == FT_FLOW_REFUSED))
			continue;
		if (unlikely(p->flags & FT_PKT_F_FRAGMENT)) {
			/* A first fragment's L4 header is datagram data too. */
			off = ft_defrag_data_offset(p);
			len = ft_defrag_data_len(p);
		}
		payload = bytes_of(w, w->burst_m[k], off, len);
		if (unlikely(payload == NULL && len != 0)) {
			/* A chain shorter than the parser saw: cannot happen. */
			ft_match_unreadable(w->match, p->payload_len);
			continue;
		}
		ft_match_packet(w->match, ft_flow_table_entry(w->flows, idx), idx, p, payload);
	}
	w->burst_next = k;
}

static void
emit_match(void *ctx, const struct ft_match_record *ev)
{
	struct ft_worker *w = ctx;
	struct ft_record *r = ft_export_writer_next(&w->writer, FT_RECORD_MATCH);

	r->match = *ev;
}

static void
on_flow_end(void *ctx, const struct ft_flow *f, enum ft_end_reason reason)
{
	struct ft_worker *w = ctx;
	struct ft_flow_match summary;
	struct ft_record *r;

	/* The flow's last events go out before its record, and no record slot is
	 * held while they are staged (staging may flush). */
	if (w->match != NULL) {
		uint32_t idx = ft_flow_table_index(w->flows, f);

		match_pending(w);
		/* An active timeout's record: the flow and its streams go on. */
		if (reason == FT_END_ACTIVE)
			ft_match_flow_segment(w->match, idx, &summary);
		else
			ft_match_flow_end(w->match, f, idx, &summary);
	}
	r = ft_export_writer_next(&w->writer, FT_RECORD_FLOW);
	ft_flow_to_record(f, reason, &r->flow);
	if (w->match != NULL) {
		r->flow.match = summary;
		r->flow.flags |= FT_FLOW_F_MATCH;
	}
	/* An active timeout's record is a segment of a flow that goes on: its
	 * statistics go on too (periodic records), the final ones at its end. */
	if (w->stats != NULL && reason != FT_END_ACTIVE)
		ft_stats_flow_end(w->stats, f);
}

/* The statistics' record sink: a pair meant to stay together goes to the ring
 * in one enqueue. */
static struct ft_record *
stats_record(void *ctx, enum ft_record_type type, unsigned together)
{
	struct ft_worker *w = ctx;

	if (w->writer.staged + together > FT_EXPORT_STAGE)
		ft_export_writer_flush(&w->writer);
	return ft_export_writer_next(&w->writer, type);
}

static inline void
count_discard(struct ft_worker *w, unsigned reason, uint32_t bytes)
{
	w->c.discard_packets[reason]++;
	w->c.discard_bytes[reason] += bytes;
}

/*
 * Free a burst of mbufs. What rx hands out (direct, one segment, refcnt 1, one
 * pool) goes back with a single rte_mempool_put_bulk(), the state mbufs keep in
 * their pool; anything else takes rte_pktmbuf_free_bulk(). Measured: about 1 ns
 * per packet less than rte_pktmbuf_free_bulk() for every burst.
 */
static inline void
free_burst(struct rte_mbuf **m, unsigned n)
{
	struct rte_mempool *pool;
	bool odd = false;

	if (n == 0)
		return;
	pool = m[0]->pool;
	for (unsigned k = 0; k < n; k++) {
		const struct rte_mbuf *mb = m[k];

		odd |= (mb->pool != pool) | (rte_mbuf_refcnt_read(mb) != 1) | (mb->nb_segs != 1) |
		       (mb->next != NULL) |
		       ((mb->ol_flags & (RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL)) != 0);
	}
	if (likely(!odd))
		rte_mempool_put_bulk(pool, (void **)m, n);
	else
		rte_pktmbuf_free_bulk(m, n);
}

/* Account parsed packets into flows, then free them. */
static void
process(struct ft_worker *w, struct rte_mbuf **m, unsigned n)
{
	struct ft_pkt *pkts[FT_WORKER_MAX_BURST];
	uint32_t flow_index[FT_WORKER_MAX_BURST];
	uint64_t latest = w->now_ns, bytes = 0, flow_packets = 0, flow_bytes = 0, uncut = 0,
		 frags = 0;
	unsigned nrefused;

	if (n == 0)
		return;
	for (unsigned k = 0; k < n; k++) {
		pkts[k] = pkt_of(m[k]);
		bytes += m[k]->pkt_len;
		if (pkts[k]->ts_ns > latest)
			latest = pkts[k]->ts_ns;
	}
	if (w->match != NULL) {
		for (unsigned k = 0; k < n; k++)
			flow_index[k] = INDEX_PENDING;
		w->burst_m = m;
		w->burst_pkt = pkts;
		w->burst_index = flow_index;
		w->burst_n = n;
		w->burst_next = 0;
	}
	if (w->stats != NULL)
		ft_stats_burst_begin(w->stats, pkts, flow_index, n);
	nrefused = ft_flow_table_update_burst(w->flows, pkts, n, flow_index, on_flow_end, w);
	if (w->stats != NULL)
		ft_stats_burst_end(w->stats);
	if (w->match != NULL) {
		match_pending(w);
		w->burst_n = 0;
	}
	/* Sums in registers, one store per counter per burst. */
	for (unsigned k = 0; k < n; k++) {
		if (unlikely(nrefused != 0 && flow_index[k] == FT_FLOW_REFUSED))
			count_discard(w, FT_DISCARD_FLOW_TABLE_FULL, m[k]->pkt_len);
		else
			flow_packets++, flow_bytes += pkts[k]->wire_len,
				uncut += pkts[k]->wire_len - m[k]->pkt_len;
		frags += (pkts[k]->flags & FT_PKT_F_FRAGMENT) != 0;
	}
	w->c.packets += n;
	w->c.bytes += bytes;
	w->c.flow_packets += flow_packets;
	w->c.flow_bytes += flow_bytes;
	w->c.flow_uncut_bytes += uncut;
	w->c.fragments += frags;
	w->now_ns = latest;
	free_burst(m, n);
}

/* Packets other workers dispatched to us. */
static unsigned
drain_incoming(struct ft_worker *w)
{
	struct rte_mbuf *m[FT_WORKER_MAX_BURST];
	unsigned total = 0;

	for (unsigned j = 0; j < w->p.workers; j++) {
		unsigned n;

		if (w->in[j] == NULL)
			continue;
		n = rte_ring_sc_dequeue_burst(w->in[j], (void **)m, w->p.burst_size, NULL);
		process(w, m, n);
		total += n;
	}
	return total;
}

static void
flush_out(struct ft_worker *w, unsigned dst)
{
	unsigned n = w->out_n[dst], sent = 0;

	while (sent < n) {
		sent += rte_ring_sp_enqueue_burst(w->out[dst], (void **)&w->out_stage[dst][sent],
						  n - sent, NULL);
		if (sent == n || !w->p.dispatch_backpressure || w->ctl->stop)
			break;
		/* Finite input: wait rather than drop, and keep draining our own
		 * incoming rings so two dispatching workers cannot block each other. */
		drain_incoming(w);
		rte_pause();
	}
	for (unsigned k = sent; k < n; k++) {
		count_discard(w, FT_DISCARD_DISPATCH_FULL, pkt_of(w->out_stage[dst][k])->wire_len);
		rte_pktmbuf_free(w->out_stage[dst][k]);
	}
	w->out_n[dst] = 0;
}

static void
flush_all_out(struct ft_worker *w)
{
	for (unsigned j = 0; j < w->p.workers; j++)
		if (w->out_n[j] != 0)
			flush_out(w, j);
}

/*
 * Bytes a chained mbuf really holds. Not always pkt_len: net_pcap (22.11) copies
 * frames into chains with a 16-bit length, so a frame over 64 KiB arrives with
 * its full pkt_len but only (len mod 64 KiB) bytes in the chain. The headers
 * are intact; the frame still counts at pkt_len, as captured.
 */
static uint32_t
chain_bytes(const struct rte_mbuf *m)
{
	uint32_t n = 0;

	for (unsigned seg = 0; m != NULL && seg < 1024; m = m->next, seg++)
		n += m->data_len;
	return n;
}

static inline uint64_t
capture_ns(const struct ft_worker *w, const struct rte_mbuf *mb)
{
	/* net_pcap stores microseconds (it opens files at that precision). */
	if (likely(mb->ol_flags & w->p.ts_flag))
		return *RTE_MBUF_DYNFIELD(mb, w->p.ts_offset, rte_mbuf_timestamp_t *) * 1000;
	return w->now_ns;
}

/*
 * Paced read: release held packets whose capture time, scaled by the speed and
 * with gaps longer than max_gap shrunk to it, has come on the TSC. With `all`,
 * release everything held at once (input over or stopping: nothing read may be
 * left uncounted).
 */
static unsigned
rx_paced(struct ft_worker *w, unsigned si, const struct ft_worker_source *s,
	 struct rte_mbuf **m, bool all)
{
	struct pacer *pc = &w->pace[si];
	uint64_t now = rte_rdtsc();
	unsigned n = 0;

	if (pc->next == pc->nheld) {
		if (all)
			return 0;
		pc->nheld = rte_eth_rx_burst(s->port_id, s->queue, pc->held,
					     RTE_MIN(w->p.burst_size, PACE_HOLD));
		pc->next = 0;
	}
	while (pc->next < pc->nheld) {
		struct rte_mbuf *mb = pc->held[pc->next];
		uint64_t ts = capture_ns(w, mb);
		uint64_t base = pc->base_pkt_ns;

		if (!pc->started) {
			pc->started = true;
			pc->base_pkt_ns = base = ts;
			pc->base_tsc = now;
			pc->last_pkt_ns = ts;
		}
		if (ts > pc->last_pkt_ns + s->max_gap_ns)
			base += ts - pc->last_pkt_ns - s->max_gap_ns;
		if (!all && ts > base) {
			uint64_t due = pc->base_tsc +
				       (uint64_t)((double)(ts - base) / s->speed *
						  (double)rte_get_tsc_hz() / 1e9);

			if (due > now)
				break;
		}
		pc->base_pkt_ns = base;
		if (ts > pc->last_pkt_ns)
			pc->last_pkt_ns = ts;
		m[n++] = mb;
		pc->next++;
	}
	return n;
}

static bool
pacers_hold(const struct ft_worker *w)
{
	for (unsigned i = 0; i < w->nsrc; i++)
		if (w->pace[i].next < w->pace[i].nheld)
			return true;
	return false;
}

/*
 * A frame of a capture file cut at a snaplen: its length as its IP length
 * gives it (the link-layer header and the whole datagram, read from the IP
 * header the parser found at l3_offset), when that is more than was captured,
 * but no more than the file's longest original frame. An IP length of 0
 * (segmentation offload, jumbograms) gives nothing more.
 */
static inline uint32_t
uncut_len(const uint8_t *frame, const struct ft_pkt *p, uint32_t captured, uint32_t max)
{
	const uint8_t *ip = frame + p->l3_offset;
	uint32_t end = p->l3_offset + (p->key.family == 4 ? (uint32_t)(ip[2] << 8 | ip[3])
							  : 40u + (uint32_t)(ip[4] << 8 | ip[5]));

	end = RTE_MIN(end, max);
	return end > captured ? end : captured;
}

/* With software dispatch, stage a parsed packet for the worker its flow hashes
 * to; false if that is this worker. */
static inline bool
dispatched(struct ft_worker *w, bool ippair, struct rte_mbuf *mb, const struct ft_pkt *pkt)
{
	uint32_t h = unlikely(ippair) ? ft_flow_key_pair_hash(&pkt->key) : pkt->hash;
	unsigned dst = (unsigned)(((uint64_t)h * w->p.workers) >> 32);

	if (dst == w->p.id)
		return false;
	w->out_stage[dst][w->out_n[dst]++] = mb;
	if (w->out_n[dst] == OUT_STAGE)
		flush_out(w, dst);
	return true;
}

/*
 * Later fragments seen before their first fragment wait for it (at most
 * FT_FRAG_WAIT_MAX, each at most frag_wait_ns of rx time), so that they join
 * its flow and, with dispatch by flow, its worker: a datagram whose fragments
 * come in reverse order is then put together and matched like any other.
 * Returns false, holding nothing, when no room is left or waiting is off.
 */
static bool
frag_hold(struct ft_worker *w, unsigned si, struct rte_mbuf *mb, const struct ft_pkt *pkt)
{
	if (w->nwait == FT_FRAG_WAIT_MAX || w->p.frag_wait_ns == 0)
		return false;
	w->wait[w->nwait].m = mb;
	w->wait[w->nwait].deadline_ns = pkt->ts_ns + w->p.frag_wait_ns;
	w->wait[w->nwait].src = si;
	w->wait_until = w->nwait == 0 ? w->wait[0].deadline_ns
				      : RTE_MIN(w->wait_until, w->wait[w->nwait].deadline_ns);
	w->nwait++;
	return true;
}

/*
 * Let waiting fragments go, in the order they came: those the attribution
 * table now knows the first fragment of (it just came), and those whose time
 * is up before now_ns (all of them with now_ns UINT64_MAX). Each is counted,
 * and dispatched or put in local[] (room for FT_FRAG_WAIT_MAX more). Returns
 * the new count of local[].
 */
static unsigned
frag_release(struct ft_worker *w, uint64_t now_ns, struct rte_mbuf **local, unsigned nl)
{
	unsigned kept = 0;

	w->wait_until = UINT64_MAX;
	for (unsigned k = 0; k < w->nwait; k++) {
		struct frag_wait *f = &w->wait[k];
		struct ft_pkt *pkt = pkt_of(f->m);
		enum ft_frag_result fr = ft_frag_table_packet(w->frags, pkt);

		if (fr != FT_FRAG_ATTRIBUTED && f->deadline_ns >= now_ns) {
			w->wait_until = RTE_MIN(w->wait_until, f->deadline_ns);
			w->wait[kept++] = *f;
			continue;
		}
		w->c.fragments_attributed += fr == FT_FRAG_ATTRIBUTED;
		w->c.fragments_waited += fr == FT_FRAG_ATTRIBUTED;
		w->c.fragments_unattributed += fr == FT_FRAG_UNATTRIBUTED;
		if (w->src[f->src].dispatch && dispatched(w, w->p.dispatch_ippair, f->m, pkt))
			continue;
		local[nl++] = f->m;
	}
	w->nwait = kept;
	return nl;
}

/* Waiting fragments whose time is up (all of them with UINT64_MAX), accounted. */
static void
frag_expire(struct ft_worker *w, uint64_t now_ns)
{
	struct rte_mbuf *local[FT_FRAG_WAIT_MAX];

	if (w->nwait == 0 || (now_ns != UINT64_MAX && w->wait_until >= now_ns))
		return;
	process(w, local, frag_release(w, now_ns, local, 0));
}

/* Read one burst from a source (or its pacer), parse it, dispatch or process it. */
static unsigned
poll_source(struct ft_worker *w, unsigned si, bool release_all)
{
	const struct ft_worker_source *s = &w->src[si];
	struct rte_mbuf *m[FT_WORKER_MAX_BURST];
	struct rte_mbuf *local[FT_WORKER_MAX_BURST + FT_FRAG_WAIT_MAX];
	/* Loop invariants in locals: the calls in the loop would make the compiler
	 * reload them from *s and *w for every packet. */
	const enum ft_link_type link = s->link;
	const uint16_t port_index = s->port_index;
	const bool dispatch = s->dispatch, packet_clock = s->packet_clock;
	const bool ippair = w->p.dispatch_ippair;
	const unsigned tunnels = w->p.tunnels;
	const uint32_t cut_len = s->cut_len;
	const struct bpf_insn *const filter = s->filter;
	unsigned n, nl = 0;
	uint64_t arrival_ns = 0, rx_bytes = 0;

	if (s->speed > 0)
		n = rx_paced(w, si, s, m, release_all);
	else if (release_all)
		return 0;
	else
		n = rte_eth_rx_burst(s->port_id, s->queue, m, w->p.burst_size);
	if (n == 0)
		return 0;
	if (!packet_clock)
		arrival_ns = ft_clock_ns(&w->clock, rte_rdtsc());
	/* The rx clock, for fragments waiting for their first: once per burst. */
	w->rx_ns = RTE_MAX(w->rx_ns, packet_clock ? capture_ns(w, m[n - 1]) : arrival_ns);

	/* Headers a few packets ahead: a NIC's DMA leaves them in memory (or the
	 * L3 cache), not in this core's L1. */
	for (unsigned k = 0; k < RTE_MIN(n, (unsigned)RX_PREFETCH); k++)
		rte_prefetch0(rte_pktmbuf_mtod(m[k], void *));
	for (unsigned k = 0; k < n; k++) {
		struct rte_mbuf *mb = m[k];
		struct ft_pkt *pkt = pkt_of(mb);
		const uint8_t *data = rte_pktmbuf_mtod(mb, const uint8_t *);
		uint32_t len = mb->data_len;

		if (k + RX_PREFETCH < n)
			rte_prefetch0(rte_pktmbuf_mtod(m[k + RX_PREFETCH], void *));
		rx_bytes += mb->pkt_len;
		if (unlikely(mb->nb_segs > 1)) {
			/* Headers may straddle segments: parse a linear copy. */
			len = RTE_MIN(chain_bytes(mb), (uint32_t)LINEAR_MAX);
			data = rte_pktmbuf_read(mb, 0, len, w->linear);
		}
		/* libpcap's interpreter: what tcpdump would keep (a length test sees
		 * the captured length; a load past what is here refuses). */
		if (filter != NULL && bpf_filter(filter, data, mb->pkt_len, len) == 0) {
			count_discard(w, FT_DISCARD_FILTERED, mb->pkt_len);
			rte_pktmbuf_free(mb);
			continue;
		}
		if (unlikely(ft_parse(data, len, link, tunnels, pkt) != 0)) {
			count_discard(w, pkt->discard, mb->pkt_len);
			rte_pktmbuf_free(mb);
			continue;
		}
		pkt->port = port_index;
		pkt->wire_len = mb->pkt_len;
		if (unlikely(cut_len != 0) && mb->pkt_len >= cut_len)
			pkt->wire_len = uncut_len(data, pkt, mb->pkt_len, s->uncut_max);
		pkt->ts_ns = packet_clock ? capture_ns(w, mb) : arrival_ns;
		if (unlikely(pkt->flags & FT_PKT_F_FRAGMENT) && w->frags != NULL) {
			enum ft_frag_result fr = ft_frag_table_packet(w->frags, pkt);

			if (fr == FT_FRAG_UNATTRIBUTED && frag_hold(w, si, mb, pkt))
				continue;
			w->c.fragments_attributed += fr == FT_FRAG_ATTRIBUTED;
			w->c.fragments_unattributed += fr == FT_FRAG_UNATTRIBUTED;
			if (fr == FT_FRAG_NONE && w->nwait != 0) {
				/* A first fragment: what waited for it follows it. */
				if (!(dispatch && dispatched(w, ippair, mb, pkt)))
					local[nl++] = mb;
				nl = frag_release(w, 0, local, nl);
				continue;
			}
		}
		if (dispatch && dispatched(w, ippair, mb, pkt))
			continue;
		ft_flow_table_prefetch(w->flows, pkt->hash);
		local[nl++] = mb;
	}
	/* Once per burst, not per packet: stores to w->c in the loop would be
	 * reloaded after every call. */
	w->c.rx_packets += n;
	w->c.rx_bytes += rx_bytes;
	process(w, local, nl);
	return n;
}

/*
 * On stop, read what live devices already hold (a socket's ring, a NIC's
 * descriptors), so that packets a device took before the stop are counted:
 * each source until it comes back empty, at most DRAIN_MAX packets (a busy
 * link is never empty).
 */
static void
drain_live(struct ft_worker *w)
{
	for (unsigned i = 0; i < w->nsrc; i++) {
		unsigned got = 0, n;

		if (!w->src[i].live)
			continue;
		while (got < DRAIN_MAX && (n = poll_source(w, i, false)) != 0) {
			got += n;
			flush_all_out(w);
		}
	}
}

/* CPU time of the calling thread: a syscall, so only at publish time. */
static uint64_t
thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * FT_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void
publish(struct ft_worker *w)
{
	struct ft_flow_table_stats fs;

	ft_flow_table_get_stats(w->flows, &fs);
	w->c.flows_created = fs.created;
	w->c.flows_ended = fs.ended;
	w->c.flows_active = fs.active;
	w->c.flows_evicted = fs.evicted;
	w->c.flow_segments = fs.segments;
	w->c.emergency_entered = fs.emergency_entered;
	w->c.emergency = fs.emergency;
	w->c.clock_ns = w->now_ns;
	w->c.cpu_ns = thread_cpu_ns() - w->cpu_start_ns;
	if (w->match != NULL)
		ft_match_counters(w->match, &w->c);
	/* Word-sized stores: a reader sees each counter whole, the block possibly
	 * mid-update while running; final values are complete once done is set. */
	memcpy(w->shared, &w->c, sizeof(w->c));
}

static bool
all_rx_done(const struct ft_worker *w)
{
	for (unsigned j = 0; j < w->p.workers; j++)
		if (!__atomic_load_n(&w->ctl->rx_done[j], __ATOMIC_ACQUIRE))
			return false;
	return true;
}

static bool
incoming_empty(const struct ft_worker *w)
{
	for (unsigned j = 0; j < w->p.workers; j++)
		if (w->in[j] != NULL && !rte_ring_empty(w->in[j]))
			return false;
	return true;
}

int
ft_worker_main(void *arg)
{
	struct ft_worker *w = arg;
	struct ft_worker_ctl *ctl = w->ctl;
	uint64_t start_tsc, last_publish, t0;
	bool packet_clock = false, rx_done = false;
	uint64_t end_ns;

	for (unsigned i = 0; i < w->nsrc; i++)
		packet_clock |= w->src[i].packet_clock;
	/* A worker without sources of its own follows the dispatchers' clock. */
	if (w->nsrc == 0)
		packet_clock = w->p.ts_offset >= 0;

	while (!ctl->start && !ctl->stop)
		rte_pause();

	ft_clock_init(&w->clock);
	w->cpu_start_ns = thread_cpu_ns();
	if (!packet_clock)
		w->now_ns = ft_clock_ns(&w->clock, rte_rdtsc());
	start_tsc = last_publish = rte_rdtsc();
	FT_LOG(ft_logtype_worker, INFO, "worker %u: lcore %u, %u source(s)", w->p.id,
	       rte_lcore_id(), w->nsrc);

	for (;;) {
		/* A paced source keeps releasing what it read ahead after its file
		 * ended; on stop, everything held is released at once. */
		bool reading = !ctl->stop && (!ctl->input_done || pacers_hold(w));
		unsigned busy = 0;

		t0 = rte_rdtsc();
		for (unsigned i = 0; i < w->nsrc; i++)
			busy += poll_source(w, i, !reading);
		if (unlikely(w->nwait != 0))
			frag_expire(w, packet_clock ? w->rx_ns : ft_clock_ns(&w->clock, t0));
		flush_all_out(w);
		busy += drain_incoming(w);
		if (!packet_clock)
			w->now_ns = ft_clock_ns(&w->clock, t0);
		busy += ft_flow_table_expire(w->flows, w->now_ns, on_flow_end, w);
		if (w->match != NULL)
			busy += ft_match_tick(w->match, w->now_ns);
		if (w->stats != NULL) {
			if (!packet_clock)
				ft_stats_advance(w->stats, w->now_ns);
			busy += ft_stats_poll(w->stats);
		}
		if (w->writer.staged != 0)
			ft_export_writer_flush(&w->writer);

		if (busy)
			w->c.busy_cycles += rte_rdtsc() - t0;
		if (t0 - last_publish > w->publish_interval_tsc) {
			w->c.total_cycles = t0 - start_tsc;
			publish(w);
			last_publish = t0;
		}
		if (!reading) {
			if (!rx_done) {
				if (ctl->stop)
					drain_live(w);
				frag_expire(w, UINT64_MAX);
				flush_all_out(w);
				__atomic_store_n(&ctl->rx_done[w->p.id], 1, __ATOMIC_RELEASE);
				rx_done = true;
			}
			if (all_rx_done(w) && incoming_empty(w))
				break;
		}
	}

	/* Input is over: every flow still live ends now, at the time the input
	 * ended (the latest packet time of the files, whichever worker saw it). */
	end_ns = packet_clock ? RTE_MAX(w->now_ns, ctl->end_ns)
			      : ft_clock_ns(&w->clock, rte_rdtsc());
	if (w->stats != NULL)
		ft_stats_finish(w->stats, end_ns);
	if (w->match != NULL)
		ft_match_input_end(w->match);
	ft_flow_table_flush(w->flows, end_ns, FT_END_SHUTDOWN, on_flow_end, w);
	ft_export_writer_flush(&w->writer);
	w->now_ns = end_ns;
	w->c.total_cycles = rte_rdtsc() - start_tsc;
	w->c.done = 1;
	publish(w);
	FT_LOG(ft_logtype_worker, INFO, "worker %u: done, %" PRIu64 " packets, %" PRIu64 " flows",
	       w->p.id, w->c.packets, w->c.flows_created);
	return 0;
}

struct ft_worker *
ft_worker_create(const struct ft_worker_params *params, int socket_id,
		 const struct ft_export_segment *seg, struct ft_worker_ctl *ctl)
{
	struct ft_worker *w;
	int e;

	if (params->workers == 0 || params->workers > FT_WORKER_MAX ||
	    params->id >= params->workers || params->burst_size == 0 ||
	    params->burst_size > FT_WORKER_MAX_BURST) {
		rte_errno = EINVAL;
		return NULL;
	}
	w = rte_zmalloc_socket("ft_worker", sizeof(*w), RTE_CACHE_LINE_SIZE, socket_id);
	if (w == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	w->p = *params;
	w->ctl = ctl;
	w->flows = ft_flow_table_create(&params->flow);
	if (w->flows == NULL)
		goto fail;
	if (params->frag_entries != 0) {
		struct ft_frag_table_params fp = {
			.entries = params->frag_entries,
			.timeout_ns = params->frag_timeout_ns,
			.socket_id = socket_id,
		};

		w->frags = ft_frag_table_create(&fp);
		if (w->frags == NULL)
			goto fail;
	}
	if (params->stats_enable) {
		struct ft_stats_params sp = params->stats;

		sp.capacity = params->flow.capacity;
		sp.socket_id = socket_id;
		sp.flows = w->flows;
		sp.counters = &w->c;
		sp.record = stats_record;
		sp.record_ctx = w;
		w->stats = ft_stats_create(&sp);
		if (w->stats == NULL)
			goto fail;
	}
	if (params->match != NULL) {
		struct ft_match_params mp = *params->match;

		mp.flows = params->flow.capacity;
		mp.socket_id = socket_id;
		mp.reasm.socket_id = socket_id;
		mp.emit = emit_match;
		mp.emit_ctx = w;
		mp.rule_hits = ft_export_segment_rule_hits(seg, params->id);
		w->match = ft_match_create(&mp);
		if (w->match == NULL)
			goto fail;
	}
	w->shared = &seg->hdr->workers[params->id];
	w->c.flow_capacity = params->flow.capacity;
	w->publish_interval_tsc = rte_get_tsc_hz() / (FT_NSEC_PER_SEC / PUBLISH_EVERY_NS);
	ft_export_writer_init(&w->writer, seg, params->id, &w->c, &ctl->consumer_alive);
	publish(w);
	return w;

fail:
	e = rte_errno; /* the failed create's reason, not the frees' */
	ft_worker_free(w);
	rte_errno = e;
	return NULL;
}

int
ft_worker_add_source(struct ft_worker *w, const struct ft_worker_source *src)
{
	if (w->nsrc == FT_WORKER_MAX_SOURCES)
		return -ENOSPC;
	w->src[w->nsrc++] = *src;
	return 0;
}

void
ft_worker_connect(struct ft_worker *from, struct ft_worker *to, struct rte_ring *ring)
{
	from->out[to->p.id] = ring;
	to->in[from->p.id] = ring;
}

void
ft_worker_free(struct ft_worker *w)
{
	if (w == NULL)
		return;
	for (unsigned k = 0; k < w->nwait; k++)
		rte_pktmbuf_free(w->wait[k].m);
	ft_match_free(w->match);
	ft_stats_free(w->stats);
	ft_flow_table_free(w->flows);
	ft_frag_table_free(w->frags);
	rte_free(w);
}

const struct ft_worker_counters *
ft_worker_counters(const struct ft_worker *w)
{
	return &w->c;
}
