/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-worker matching: flow directions to Hyperscan streams (see match.h).
 *
 * Every direction keeps a stream offset (its struct ft_reasm_dir.offset: TCP
 * sequence space after the SYN, or payload bytes in capture order for the
 * other protocols) and `base`, the offset at which its current Hyperscan
 * stream started: Hyperscan counts from 0 in every stream, and a stream is
 * reset (without end-of-data matches: a gap is not the end) after each gap, so
 * events report base + Hyperscan's offset.
 *
 * Fragments: a fragment's payload goes to the worker's defragmenter
 * (src/frag/defrag.h); the datagram, once whole, is matched as a packet of the
 * flow of its first fragment (if that flow still lives), at the time of the
 * fragment that completed it. Payload of datagrams given up, of datagrams whose
 * flow ended first, and all of it without a defragmenter is counted in
 * match_fragment_bytes: never scanned. A TCP segment's bytes lost that way are
 * then a hole in its stream, given up like any other.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include "match.h"

#define PROTO_TCP     6
#define PROTO_UDP     17
#define PROTO_UDPLITE 136

#define STREAM_ALIGN 16 /* what malloc gives Hyperscan by default */
#define FT_MATCH_TICK_DEFRAG 4	/* defragmentation contexts ft_match_tick() looks at */

enum dir_state {
	ST_NEW = 0, /* nothing scanned yet */
	ST_STREAM,  /* holds a stream state */
	ST_BLOCK,   /* scanned chunk by chunk */
	ST_SKIP,    /* no stream state, fallback skip: not scanned */
	ST_DONE,    /* scan depth reached */
};

/* One direction of a flow. r.offset is the stream offset for every protocol. */
struct mdir {
	struct ft_reasm_dir r;
	hs_stream_t *stream;
	uint64_t base; /* stream offset where the current Hyperscan stream began */
	uint64_t scanned;
	uint64_t gap_bytes;
	uint16_t gaps;
	uint8_t state; /* enum dir_state */
	uint8_t flags; /* FT_FLOW_MATCH_D_* */
	uint32_t chunk; /* its chunk buffer + 1 (0: none; ST_STREAM only) */
};

/* A flow. scanned, gap_bytes, gaps, rules and events - events_reported cover
 * the current segment (since the flow's last record, see active timeouts in
 * flow.h); the rest holds since the flow began. */
struct mflow {
	struct mdir d[2];
	uint32_t events;	  /* since the flow began (for max_events_per_flow) */
	uint32_t events_reported; /* of those, in the flow's earlier records */
	uint32_t rules[4];
	uint8_t nrules;
	uint8_t flags; /* FT_FLOW_MATCH_F_* */
};

/* What a match callback needs of its rule, packed. */
struct mrule {
	uint32_t id;
	uint8_t dir;
	uint8_t scoped; /* proto= or port= given */
	uint8_t som;
	uint8_t reserved;
};

/* A chunk buffer: a stream direction's next bytes, in order, not scanned yet.
 * Buffers in use are on a list in the order they were taken (oldest first),
 * so the ones older than chunk_delay are found from its head. */
struct chunk {
	const struct ft_flow *flow; /* its flow (entries stay put while they live) */
	uint64_t since_ns;	    /* packet time of its first byte */
	uint32_t len;
	uint32_t index;	     /* the flow's index */
	uint32_t prev, next; /* on the list: buffer numbers + 1, 0 at the ends */
	uint8_t dir;
};

struct match_counters {
	uint64_t scanned_bytes, events, suppressed, streams_used, no_stream, no_stream_bytes;
	uint64_t depth_reached, depth_bytes, off_bytes, fragment_bytes, scan_errors,
		scan_error_bytes;
	uint64_t chunk_bytes, chunk_pool_empty;
	uint64_t defrag_flow_ended; /* whole datagrams whose first fragment's flow had ended */
};

struct ft_match {
	/* The packet (or flow end) being handled, for the callbacks. */
	struct {
		const struct ft_flow *flow;
		struct mflow *f;
		struct mdir *d;
		uint64_t ts_ns;
		uint64_t base; /* added to Hyperscan's offsets */
		uint8_t dir;
		uint8_t ev_flags; /* FT_MATCH_EV_F_BLOCK / _EOD of the scan under way */
		uint8_t proto;
		uint16_t server_port;
	} cur;
	struct ft_match_params p;
	hs_scratch_t *scratch;
	const hs_database_t *block_db;
	struct ft_reasm *reasm;
	struct ft_defrag *defrag; /* NULL: fragments are not scanned */
	struct mflow *flows;
	struct mrule *rules;
	hs_stream_t **pool; /* free stream states: pool[0 .. npool - 1] */
	uint32_t npool;
	void *stream_mem;
	struct chunk *chunk;  /* chunk buffers' state */
	uint8_t *chunk_data;  /* p.chunk_size bytes each */
	uint32_t *chunk_free; /* free buffers: chunk_free[0 .. nchunk_free - 1] */
	uint32_t nchunk_free;
	uint32_t chunk_head, chunk_tail; /* the list in use, oldest first (+ 1) */
	struct match_counters c;
};

static_assert(sizeof(struct mdir) == 72, "per-direction state size");

size_t
ft_match_flow_state_bytes(void)
{
	return sizeof(struct mflow);
}

static size_t
stream_stride(const struct ft_match_db *db)
{
	return RTE_ALIGN_CEIL(db->stream_state_bytes, STREAM_ALIGN);
}

uint64_t
ft_match_memory(const struct ft_match_params *p)
{
	return sizeof(struct ft_match) + (uint64_t)p->flows * sizeof(struct mflow) +
	       (uint64_t)p->db->rules->count * sizeof(struct mrule) +
	       (uint64_t)p->streams * (stream_stride(p->db) + sizeof(hs_stream_t *)) +
	       ft_reasm_memory(&p->reasm) +
	       (p->defrag.datagrams > 0 ? ft_defrag_memory(&p->defrag) : 0) +
	       (p->chunk_size > 0 ? (uint64_t)p->chunks * (p->chunk_size + sizeof(struct chunk) +
							   sizeof(uint32_t))
				  : 0);
}

/* ---------------------------------------------------------------- events */

static void
note_rule(struct mflow *f, uint32_t id)
{
	for (unsigned i = 0; i < f->nrules; i++)
		if (f->rules[i] == id)
			return;
	if (f->nrules < RTE_DIM(f->rules))
		f->rules[f->nrules++] = id;
	else
		f->flags |= FT_FLOW_MATCH_F_MORE_RULES;
}

static int
on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
	 void *ctx)
{
	struct ft_match *m = ctx;
	const struct mrule *r = &m->rules[id];
	const struct ft_flow *flow = m->cur.flow;
	struct mflow *f = m->cur.f;
	struct ft_match_record ev;

	(void)flags;
	if (!(r->dir & (1u << m->cur.dir)))
		return 0;
	if (unlikely(r->scoped) && !ft_rule_scope(m->p.db->rules, &m->p.db->rules->rule[id],
						  m->cur.proto, m->cur.server_port))
		return 0;
	m->p.rule_hits[id]++;
	m->c.events++;
	f->events++;
	note_rule(f, r->id);
	if (m->p.max_events_per_flow != 0 && f->events > m->p.max_events_per_flow) {
		m->c.suppressed++;
		f->flags |= FT_FLOW_MATCH_F_SUPPRESSED;
		return 0;
	}
	ev.key = flow->key;
	ev.flow_id = flow->id;
	ev.ts_ns = m->cur.ts_ns;
	ev.offset = m->cur.base + to;
	ev.start = r->som ? m->cur.base + from : 0;
	ev.rule_id = r->id;
	ev.rule_index = id;
	ev.dir = m->cur.dir;
	ev.initiator = (flow->flags & FT_FLOW_E_INITIATOR_HI) ? 1 : 0;
	ev.flags = m->cur.ev_flags | (r->som ? FT_MATCH_EV_F_SOM : 0);
	ev.icmp_type = flow->icmp_type;
	ev.icmp_code = flow->icmp_code;
	memset(ev.reserved, 0, sizeof(ev.reserved));
	m->p.emit(m->p.emit_ctx, &ev);
	return 0;
}

/* ---------------------------------------------------------------- scanning */

static void
stream_put(struct ft_match *m, struct mdir *d)
{
	m->pool[m->npool++] = d->stream;
	d->stream = NULL;
	m->c.streams_used--;
}

/* First bytes of a direction: a stream state, or the fallback. */
static void
take_state(struct ft_match *m, struct mdir *d, bool block, uint64_t offset)
{
	if (block) {
		d->state = ST_BLOCK;
		d->flags |= FT_FLOW_MATCH_D_BLOCK;
		return;
	}
	if (likely(m->npool > 0)) {
		d->stream = m->pool[--m->npool];
		d->state = ST_STREAM;
		d->base = offset;
		d->flags |= FT_FLOW_MATCH_D_STREAM;
		m->c.streams_used++;
		return;
	}
	m->c.no_stream++;
	d->flags |= FT_FLOW_MATCH_D_NO_STATE;
	if (m->p.no_stream == FT_MATCH_FALLBACK_BLOCK) {
		d->state = ST_BLOCK;
		d->flags |= FT_FLOW_MATCH_D_BLOCK;
	} else {
		d->state = ST_SKIP;
	}
}

void
ft_match_unreadable(struct ft_match *m, uint32_t len)
{
	m->c.scan_errors++;
	m->c.scan_error_bytes += len;
}

/* The scan's bytes: scanned, or (failed call) a scan error. */
static void
scanned(struct ft_match *m, struct mdir *d, uint32_t len, hs_error_t rc)
{
	if (unlikely(rc != HS_SUCCESS)) {
		ft_match_unreadable(m, len);
		return;
	}
	d->scanned += len;
	m->c.scanned_bytes += len;
}

static void
stream_scan(struct ft_match *m, struct mdir *d, const uint8_t *data, uint32_t len)
{
	m->cur.base = d->base;
	m->cur.ev_flags = 0;
	scanned(m, d, len,
		hs_scan_stream(d->stream, (const char *)data, len, 0, m->scratch, on_match, m));
}

/* Scan what the current direction's chunk buffer holds, if it has one, and
 * give the buffer back. */
static void
chunk_flush(struct ft_match *m, struct mdir *d)
{
	uint32_t i = d->chunk - 1;
	struct chunk *c;

	if (d->chunk == 0)
		return;
	c = &m->chunk[i];
	stream_scan(m, d, m->chunk_data + (size_t)i * m->p.chunk_size, c->len);
	m->c.chunk_bytes -= c->len;
	if (c->prev != 0)
		m->chunk[c->prev - 1].next = c->next;
	else
		m->chunk_head = c->next;
	if (c->next != 0)
		m->chunk[c->next - 1].prev = c->prev;
	else
		m->chunk_tail = c->prev;
	m->chunk_free[m->nchunk_free++] = i;
	d->chunk = 0;
}

/*
 * The next len bytes of a stream direction (the current one). Short pieces are
 * gathered in a chunk buffer and scanned together, which saves Hyperscan's cost
 * per call: the buffer is scanned when the next piece does not fit, when it is
 * chunk_delay old (here or in ft_match_tick()), and before a gap, the depth or
 * the flow's end. Pieces of a chunk's size or more, and pieces
 * that find no free buffer, are scanned at once.
 */
static void
stream_feed(struct ft_match *m, struct mdir *d, const uint8_t *data, uint32_t len)
{
	uint32_t size = m->p.chunk_size;
	struct chunk *c;
	uint32_t i;

	if (d->chunk != 0) {
		c = &m->chunk[d->chunk - 1];
		if (c->len + len <= size &&
		    (int64_t)(m->cur.ts_ns - c->since_ns) < (int64_t)m->p.chunk_delay_ns) {
			memcpy(m->chunk_data + (size_t)(d->chunk - 1) * size + c->len, data, len);
			c->len += len;
			m->c.chunk_bytes += len;
			if (c->len == size)
				chunk_flush(m, d);
			return;
		}
		chunk_flush(m, d);
	}
	if (len >= size || m->nchunk_free == 0) {
		if (len < size)
			m->c.chunk_pool_empty++;
		stream_scan(m, d, data, len);
		return;
	}
	i = m->chunk_free[--m->nchunk_free];
	c = &m->chunk[i];
	memcpy(m->chunk_data + (size_t)i * size, data, len);
	c->len = len;
	m->c.chunk_bytes += len;
	c->since_ns = m->cur.ts_ns;
	c->flow = m->cur.flow;
	c->index = (uint32_t)(m->cur.f - m->flows);
	c->dir = m->cur.dir;
	c->next = 0;
	c->prev = m->chunk_tail;
	if (m->chunk_tail != 0)
		m->chunk[m->chunk_tail - 1].next = i + 1;
	else
		m->chunk_head = i + 1;
	m->chunk_tail = i + 1;
	d->chunk = i + 1;
}

/*
 * Scan len bytes of a direction at stream offset `offset` (the current
 * direction of m->cur). Returns 1 once the direction reached the depth (the
 * caller stops feeding it), else 0.
 */
static int
scan(struct ft_match *m, struct mdir *d, const uint8_t *data, uint32_t len, uint64_t offset,
     bool block)
{
	int stop = 0;

	if (m->p.depth != 0 && offset + len >= m->p.depth) {
		uint32_t keep = offset < m->p.depth ? (uint32_t)(m->p.depth - offset) : 0;

		m->c.depth_bytes += len - keep;
		len = keep;
		stop = 1;
	}
	if (len > 0) {
		if (d->state == ST_NEW)
			take_state(m, d, block, offset);
		switch (d->state) {
		case ST_STREAM:
			stream_feed(m, d, data, len);
			break;
		case ST_BLOCK:
			m->cur.base = offset;
			m->cur.ev_flags = FT_MATCH_EV_F_BLOCK;
			scanned(m, d, len,
				hs_scan(m->block_db, (const char *)data, len, 0, m->scratch,
					on_match, m));
			break;
		default: /* ST_SKIP */
			m->c.no_stream_bytes += len;
			break;
		}
	}
	if (stop) {
		/* The rest of the direction is never scanned: its state can serve
		 * another flow now. No end-of-data matches: this is not the end. */
		if (d->state == ST_STREAM) {
			chunk_flush(m, d);
			hs_reset_stream(d->stream, 0, NULL, NULL, NULL);
			stream_put(m, d);
		}
		d->state = ST_DONE;
		d->flags |= FT_FLOW_MATCH_D_DEPTH;
		m->c.depth_reached++;
	}
	return stop;
}

static int
reasm_data(void *ctx, const uint8_t *data, uint32_t len, uint64_t offset)
{
	struct ft_match *m = ctx;

	return scan(m, m->cur.d, data, len, offset, false);
}

static void
reasm_gap(void *ctx, uint64_t offset, uint64_t len)
{
	struct ft_match *m = ctx;
	struct mdir *d = m->cur.d;

	if (d->gaps != UINT16_MAX)
		d->gaps++;
	d->gap_bytes += len;
	if (d->state == ST_STREAM) {
		/* A new stream after the hole: nothing matches across it. */
		chunk_flush(m, d);
		hs_reset_stream(d->stream, 0, NULL, NULL, NULL);
		d->base = offset + len;
	}
}

static const struct ft_reasm_ops reasm_ops = {reasm_data, reasm_gap};

static inline void
set_current(struct ft_match *m, const struct ft_flow *flow, struct mflow *f, unsigned dir,
	    uint64_t ts_ns)
{
	unsigned responder = (flow->flags & FT_FLOW_E_INITIATOR_HI) ? 0 : 1;

	m->cur.flow = flow;
	m->cur.f = f;
	m->cur.d = &f->d[dir];
	m->cur.dir = (uint8_t)dir;
	m->cur.ts_ns = ts_ns;
	m->cur.proto = flow->key.proto;
	m->cur.server_port = flow->key.port[responder];
}

unsigned
ft_match_tick(struct ft_match *m, uint64_t now_ns)
{
	unsigned n = 0;

	while (m->chunk_head != 0 && n < FT_MATCH_TICK_MAX) {
		const struct chunk *c = &m->chunk[m->chunk_head - 1];
		struct mflow *f = &m->flows[c->index];

		/* Signed: live, a packet's arrival time can be a little ahead
		 * of the loop's clock. */
		if ((int64_t)(now_ns - c->since_ns) < (int64_t)m->p.chunk_delay_ns)
			break;
		set_current(m, c->flow, f, c->dir, c->flow->last_ns);
		chunk_flush(m, &f->d[c->dir]);
		n++;
	}
	if (m->defrag != NULL)
		n += ft_defrag_expire(m->defrag, now_ns, FT_MATCH_TICK_DEFRAG);
	return n;
}

/* A packet that is no fragment (or a whole datagram): ft_match_packet(). */
static void
match_packet(struct ft_match *m, const struct ft_flow *flow, uint32_t index,
	     const struct ft_pkt *pkt, const uint8_t *payload)
{
	struct mflow *f = &m->flows[index];
	unsigned dir = ft_flow_pkt_direction(flow, pkt);
	struct mdir *d = &f->d[dir];
	uint32_t len = pkt->payload_len;
	bool l4 = (pkt->flags & FT_PKT_F_L4_PAYLOAD) != 0;
	enum ft_match_mode mode;

	if (flow->key.proto == PROTO_TCP && l4) {
		if (m->p.tcp == FT_MATCH_STREAM) {
			struct mdir *o = &f->d[dir ^ 1];

			/* The receiver's ack is evidence about the other direction's
			 * holes (src/reasm policy (a)); that acks are seen at all
			 * decides what memory pressure does to them. */
			if ((pkt->tcp_flags & FT_TCP_ACK) &&
			    (o->r.head != 0 || !(o->r.flags & FT_REASM_D_ACKED))) {
				set_current(m, flow, f, dir ^ 1, pkt->ts_ns);
				ft_reasm_ack(m->reasm, &o->r, pkt->tcp_ack, m);
			}
			/* A frame a capture file's snaplen cut (the worker counts
			 * it at its IP length, past the captured payload's end):
			 * the bytes the cut took are a gap now (src/reasm policy
			 * (d)). Elsewhere (live ports, files without cut records,
			 * frames shorter than a cut record) a segment whose IP
			 * length runs past its frame is malformed, and taking it
			 * for cut would let a sender make the stream skip bytes
			 * it sends next. */
			bool cut = pkt->payload_ip_len > len &&
				   pkt->wire_len > pkt->payload_offset + len &&
				   !(pkt->tcp_flags & FT_TCP_RST);

			if (len == 0 && !(pkt->tcp_flags & FT_TCP_SYN) && !cut)
				return;
			if (d->state == ST_DONE) {
				m->c.depth_bytes += len;
				return;
			}
			if (d->state == ST_SKIP) {
				/* Never scanned (no stream state, fallback skip): nothing
				 * of it is held for reordering either, which would take
				 * the pool from directions that are scanned. */
				m->c.no_stream_bytes += len;
				return;
			}
			set_current(m, flow, f, dir, pkt->ts_ns);
			/* Most segments continue their stream: straight to the scan (or a
			 * chunk buffer), past the reorder pool. */
			if (likely(len != 0 &&
				   ft_reasm_is_next(&d->r, pkt->tcp_seq, pkt->tcp_flags))) {
				uint64_t offset = d->r.offset;

				ft_reasm_advance(m->reasm, &d->r, len);
				scan(m, d, payload, len, offset, false);
			} else if (len != 0 || (pkt->tcp_flags & FT_TCP_SYN)) {
				ft_reasm_segment(m->reasm, &d->r, pkt->tcp_seq, pkt->tcp_flags,
						 payload, len, m);
			}
			if (unlikely(cut) && d->state != ST_DONE) {
				uint32_t first =
					pkt->tcp_seq + ((pkt->tcp_flags & FT_TCP_SYN) ? 1 : 0);

				ft_reasm_cut(m->reasm, &d->r, first + len,
					     first + pkt->payload_ip_len, m);
			}
			return;
		}
		mode = m->p.tcp;
	} else if ((flow->key.proto == PROTO_UDP || flow->key.proto == PROTO_UDPLITE) && l4) {
		mode = m->p.udp;
	} else {
		mode = m->p.other;
	}
	if (len == 0)
		return;
	if (mode == FT_MATCH_OFF) {
		m->c.off_bytes += len;
		return;
	}
	if (d->state == ST_DONE) {
		m->c.depth_bytes += len;
		return;
	}
	set_current(m, flow, f, dir, pkt->ts_ns);
	scan(m, d, payload, len, d->r.offset, mode == FT_MATCH_BLOCK);
	d->r.offset += len;
}

/* A fragment: to the defragmenter; a datagram it completes is matched in the
 * flow of its first fragment, if that one still lives. */
static void
match_fragment(struct ft_match *m, const struct ft_flow *flow, uint32_t index,
	       const struct ft_pkt *pkt, const uint8_t *payload)
{
	struct ft_defrag_datagram dg;
	const struct ft_flow *owner;

	if (m->defrag == NULL) {
		m->c.fragment_bytes += pkt->payload_len;
		return;
	}
	if (!ft_defrag_fragment(m->defrag, pkt, payload, flow, flow->id, index, &dg))
		return;
	owner = dg.owner;
	if (!(owner->flags & FT_FLOW_E_IN_USE) || owner->id != dg.owner_id) {
		m->c.defrag_flow_ended++;
		m->c.fragment_bytes += dg.fragment_bytes;
		return;
	}
	match_packet(m, owner, dg.owner_index, &dg.pkt, dg.payload);
}

void
ft_match_packet(struct ft_match *m, const struct ft_flow *flow, uint32_t index,
		const struct ft_pkt *pkt, const uint8_t *payload)
{
	if (unlikely(pkt->flags & FT_PKT_F_FRAGMENT))
		match_fragment(m, flow, index, pkt, payload);
	else
		match_packet(m, flow, index, pkt, payload);
}

void
ft_match_input_end(struct ft_match *m)
{
	if (m->defrag != NULL)
		ft_defrag_flush(m->defrag);
}

/* The summary of the flow's current segment; the next one starts from zero. */
static void
take_summary(struct mflow *f, struct ft_flow_match *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (unsigned dir = 0; dir < 2; dir++) {
		struct mdir *d = &f->d[dir];

		sum->scanned_bytes[dir] = d->scanned;
		sum->gap_bytes[dir] = d->gap_bytes;
		sum->gaps[dir] = d->gaps;
		sum->dir_flags[dir] = d->flags;
		sum->dropped_bytes[dir] = d->r.dropped;
		d->scanned = d->gap_bytes = 0;
		d->gaps = 0;
		d->r.dropped = 0;
	}
	sum->events = f->events - f->events_reported;
	memcpy(sum->rules, f->rules, sizeof(sum->rules));
	sum->nrules = f->nrules;
	sum->flags = f->flags;
	f->events_reported = f->events;
	f->nrules = 0;
	f->flags &= (uint8_t)~FT_FLOW_MATCH_F_MORE_RULES;
}

void
ft_match_flow_segment(struct ft_match *m, uint32_t index, struct ft_flow_match *summary)
{
	take_summary(&m->flows[index], summary);
}

void
ft_match_flow_end(struct ft_match *m, const struct ft_flow *flow, uint32_t index,
		  struct ft_flow_match *summary)
{
	struct mflow *f = &m->flows[index];

	for (unsigned dir = 0; dir < 2; dir++) {
		struct mdir *d = &f->d[dir];
		uint32_t dropped = d->r.dropped; /* the flush zeroes the direction */

		set_current(m, flow, f, dir, flow->last_ns);
		ft_reasm_flush(m->reasm, &d->r, m);
		d->r.dropped = dropped;
		if (d->state == ST_STREAM) {
			chunk_flush(m, d);
			m->cur.base = d->base;
			m->cur.ev_flags = FT_MATCH_EV_F_EOD;
			if (hs_reset_stream(d->stream, 0, m->scratch, on_match, m) != HS_SUCCESS)
				m->c.scan_errors++;
			stream_put(m, d);
		}
	}
	take_summary(f, summary);
	memset(f, 0, sizeof(*f));
}

void
ft_match_counters(const struct ft_match *m, struct ft_worker_counters *c)
{
	struct ft_reasm_stats rs;

	c->match_scanned_bytes = m->c.scanned_bytes;
	c->match_events = m->c.events;
	c->match_events_suppressed = m->c.suppressed;
	c->match_streams = m->p.streams;
	c->match_streams_used = m->c.streams_used;
	c->match_no_stream = m->c.no_stream;
	c->match_no_stream_bytes = m->c.no_stream_bytes;
	c->match_depth_reached = m->c.depth_reached;
	c->match_scan_error_bytes = m->c.scan_error_bytes;
	c->match_off_bytes = m->c.off_bytes;
	c->match_fragment_bytes = m->c.fragment_bytes;
	if (m->defrag != NULL) {
		struct ft_defrag_stats ds;

		ft_defrag_get_stats(m->defrag, &ds);
		c->match_fragment_bytes += ds.given_up_bytes;
		c->defrag_fragments = ds.fragments;
		c->defrag_datagrams = ds.datagrams;
		c->defrag_overlap_bytes = ds.overlap_bytes;
		c->defrag_timeout = ds.given_up[FT_DEFRAG_TIMEOUT];
		c->defrag_evicted = ds.given_up[FT_DEFRAG_EVICTED];
		c->defrag_invalid = ds.given_up[FT_DEFRAG_INVALID];
		c->defrag_end = ds.given_up[FT_DEFRAG_END];
		c->defrag_memory = ds.given_up[FT_DEFRAG_MEMORY];
		c->defrag_in_use = ds.in_use;
		c->defrag_held_bytes = ds.held_bytes;
	}
	c->defrag_flow_ended = m->c.defrag_flow_ended;
	c->match_scan_errors = m->c.scan_errors;
	ft_reasm_get_stats(m->reasm, &rs);
	c->reasm_retrans_bytes = rs.retrans_bytes;
	c->reasm_held_segments = rs.held_segments;
	c->reasm_held_bytes = rs.held_bytes;
	c->reasm_gaps = rs.gaps;
	c->reasm_gaps_acked = rs.gaps_acked;
	c->reasm_gaps_budget = rs.gaps_budget;
	c->reasm_gaps_end = rs.gaps_end;
	c->reasm_gaps_cut = rs.gaps_cut;
	c->reasm_gap_bytes = rs.gap_bytes;
	c->reasm_rst_bytes = rs.rst_bytes;
	/* What the reassembler gave up when the scan stopped at the depth. */
	c->match_depth_bytes = m->c.depth_bytes + rs.stopped_bytes;
	c->reasm_out_of_window = rs.out_of_window;
	c->reasm_out_of_window_bytes = rs.out_of_window_bytes;
	c->reasm_slots = rs.slots;
	c->reasm_slots_used = rs.slots_in_use;
	c->reasm_dropped_segments = rs.dropped_segments;
	c->reasm_dropped_bytes = rs.dropped_bytes;
	c->reasm_dropped_held_bytes = rs.dropped_held_bytes;
	c->match_chunks = m->chunk != NULL ? m->p.chunks : 0;
	c->match_chunks_used = c->match_chunks - m->nchunk_free;
	c->match_chunk_bytes = m->c.chunk_bytes;
	c->match_chunk_pool_empty = m->c.chunk_pool_empty;
}

/* ---------------------------------------------------------------- setup */

/* hs_open_stream() takes its memory from here while ft_match_create() opens a
 * worker's pool (one thread at a time, see match.h). */
static struct {
	char *next, *end;
	size_t stride;
} carve;

static void *
carve_alloc(size_t size)
{
	char *p = carve.next;

	if (size > carve.stride || p == NULL || p + carve.stride > carve.end)
		return NULL;
	carve.next += carve.stride;
	return p;
}

static void
carve_free(void *p)
{
	(void)p; /* the pool's memory is freed as a whole */
}

void
ft_match_free(struct ft_match *m)
{
	if (m == NULL)
		return;
	/* Streams live in stream_mem: no hs_close_stream (it would free them). */
	rte_free(m->stream_mem);
	rte_free(m->pool);
	rte_free(m->chunk);
	rte_free(m->chunk_data);
	rte_free(m->chunk_free);
	rte_free(m->flows);
	rte_free(m->rules);
	ft_reasm_free(m->reasm);
	ft_defrag_free(m->defrag);
	if (m->scratch != NULL)
		hs_free_scratch(m->scratch);
	rte_free(m);
}

struct ft_match *
ft_match_create(const struct ft_match_params *p)
{
	const struct ft_match_db *db = p->db;
	struct ft_match *m;
	size_t stride;
	int sock = p->socket_id;

	if (db == NULL || p->flows == 0 || p->emit == NULL || p->rule_hits == NULL ||
	    p->tcp > FT_MATCH_OFF || p->udp > FT_MATCH_OFF || p->other > FT_MATCH_OFF) {
		rte_errno = EINVAL;
		return NULL;
	}
	m = rte_zmalloc_socket("ft_match", sizeof(*m), RTE_CACHE_LINE_SIZE, sock);
	if (m == NULL)
		goto nomem;
	m->p = *p;
	m->block_db = db->block;
	m->flows = rte_zmalloc_socket("ft_match_flows", (size_t)p->flows * sizeof(struct mflow),
				      RTE_CACHE_LINE_SIZE, sock);
	m->rules = rte_zmalloc_socket("ft_match_rules",
				      (size_t)db->rules->count * sizeof(struct mrule),
				      RTE_CACHE_LINE_SIZE, sock);
	m->reasm = ft_reasm_create(&p->reasm, &reasm_ops);
	if (m->flows == NULL || m->rules == NULL || m->reasm == NULL)
		goto nomem;
	if (p->defrag.datagrams > 0) {
		struct ft_defrag_params dp = p->defrag;

		dp.socket_id = sock;
		m->defrag = ft_defrag_create(&dp);
		if (m->defrag == NULL) {
			int e = rte_errno;

			ft_match_free(m);
			rte_errno = e;
			return NULL;
		}
	}
	for (unsigned i = 0; i < db->rules->count; i++) {
		const struct ft_rule *r = &db->rules->rule[i];

		m->rules[i].id = r->id;
		m->rules[i].dir = r->dir;
		m->rules[i].scoped = !r->any_proto || r->nports > 0;
		m->rules[i].som = (r->hs_flags & HS_FLAG_SOM_LEFTMOST) != 0;
	}
	if (hs_clone_scratch(db->scratch, &m->scratch) != HS_SUCCESS)
		goto nomem;

	stride = stream_stride(db);
	if (p->streams > 0) {
		m->pool = rte_zmalloc_socket("ft_match_pool", (size_t)p->streams * sizeof(*m->pool),
					     RTE_CACHE_LINE_SIZE, sock);
		m->stream_mem = rte_zmalloc_socket("ft_match_streams", (size_t)p->streams * stride,
						   RTE_CACHE_LINE_SIZE, sock);
		if (m->pool == NULL || m->stream_mem == NULL)
			goto nomem;
		carve.next = m->stream_mem;
		carve.end = carve.next + (size_t)p->streams * stride;
		carve.stride = stride;
		hs_set_stream_allocator(carve_alloc, carve_free);
		for (uint32_t i = 0; i < p->streams; i++) {
			if (hs_open_stream(db->stream, 0, &m->pool[i]) != HS_SUCCESS) {
				hs_set_stream_allocator(NULL, NULL);
				goto nomem;
			}
		}
		hs_set_stream_allocator(NULL, NULL);
		memset(&carve, 0, sizeof(carve));
		m->npool = p->streams;
	}
	if (p->chunks > 0 && p->chunk_size > 0) {
		m->chunk =
			rte_zmalloc_socket("ft_match_chunk", (size_t)p->chunks * sizeof(*m->chunk),
					   RTE_CACHE_LINE_SIZE, sock);
		m->chunk_data =
			rte_zmalloc_socket("ft_match_chunk_data", (size_t)p->chunks * p->chunk_size,
					   RTE_CACHE_LINE_SIZE, sock);
		m->chunk_free = rte_zmalloc_socket("ft_match_chunk_free",
						   (size_t)p->chunks * sizeof(*m->chunk_free),
						   RTE_CACHE_LINE_SIZE, sock);
		if (m->chunk == NULL || m->chunk_data == NULL || m->chunk_free == NULL)
			goto nomem;
		for (uint32_t i = 0; i < p->chunks; i++)
			m->chunk_free[i] = p->chunks - 1 - i;
		m->nchunk_free = p->chunks;
	}
	return m;
nomem:
	ft_match_free(m);
	rte_errno = ENOMEM;
	return NULL;
}
