/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The generator: a 4-ary min-heap of live flows keyed by their next packet
 * time (ties broken by flow creation order), arrival tickets per class that
 * start flows, and the truth writer. Every random choice about a flow comes
 * from that flow's own stream (seed, class, index), and arrivals from the
 * class's stream, so output depends on nothing but the scenario and the seed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pktgen.h"
#include "internal.h"

#ifndef FT_VERSION
#define FT_VERSION "dev"
#endif

#define FILL_LEN    65536u
#define TICKET_SLOT 0x80000000u
#define SLAB_SHIFT  12 /* flows per slab chunk: 4096 */

/* ---- heap ------------------------------------------------------------------ */

/* 16 bytes: four children share a cache line. Ties go to the lower slot, which is
 * deterministic because slots are handed out in a deterministic order. */
struct hent {
	uint64_t ts;
	uint32_t slot; /* flow slab slot, or TICKET_SLOT | class */
	uint32_t pad;
};

struct heap {
	struct hent *a;
	size_t n, cap;
};

static inline int
hless(const struct hent *x, const struct hent *y)
{
	return x->ts < y->ts || (x->ts == y->ts && x->slot < y->slot);
}

static void
sift_down(struct heap *h, size_t i)
{
	struct hent e = h->a[i];
	for (;;) {
		size_t c = 4 * i + 1;
		if (c >= h->n)
			break;
		size_t best = c;
		size_t end = c + 4 < h->n ? c + 4 : h->n;
		for (size_t k = c + 1; k < end; k++)
			if (hless(&h->a[k], &h->a[best]))
				best = k;
		if (!hless(&h->a[best], &e))
			break;
		h->a[i] = h->a[best];
		i = best;
	}
	h->a[i] = e;
}

static int
heap_push(struct heap *h, uint64_t ts, uint32_t slot)
{
	if (h->n == h->cap) {
		size_t nc = h->cap ? h->cap * 2 : 1024;
		struct hent *na = realloc(h->a, nc * sizeof(*na));
		if (!na)
			return -ENOMEM;
		h->a = na;
		h->cap = nc;
	}
	struct hent e = {ts, slot, 0};
	size_t i = h->n++;
	while (i) {
		size_t p = (i - 1) / 4;
		if (!hless(&e, &h->a[p]))
			break;
		h->a[i] = h->a[p];
		i = p;
	}
	h->a[i] = e;
	return 0;
}

static void
heap_replace_top(struct heap *h, uint64_t ts)
{
	h->a[0].ts = ts;
	sift_down(h, 0);
}

static void
heap_pop(struct heap *h)
{
	if (--h->n) {
		h->a[0] = h->a[h->n];
		sift_down(h, 0);
	}
}

/* ---- JSON builder ------------------------------------------------------------- */

struct jb {
	char *p;
	size_t n, cap;
	int oom;
};

static void
jb_grow(struct jb *b, size_t n)
{
	{
		size_t nc = b->cap ? b->cap : 4096;
		while (nc < b->n + n + 1)
			nc *= 2;
		char *np = realloc(b->p, nc);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
}

static inline void
jb_put(struct jb *b, const char *s, size_t n)
{
	if (__builtin_expect(b->n + n + 1 > b->cap, 0)) {
		jb_grow(b, n);
		if (b->oom)
			return;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

/* String literals: length known at compile time. */
#define JB_LIT(b, lit) jb_put((b), (lit), sizeof(lit) - 1)

static void
jb_s(struct jb *b, const char *s)
{
	jb_put(b, s, strlen(s));
}

static void
jb_u(struct jb *b, uint64_t v)
{
	char t[24];
	int i = 24;
	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	jb_put(b, t + i, (size_t)(24 - i));
}

/* "key":value, key a literal */
#define jb_ku(b, key, v)                                                                           \
	do {                                                                                       \
		JB_LIT((b), key);                                                                  \
		jb_u((b), (v));                                                                    \
	} while (0)

/* A non-negative number with three decimals (printf is too slow for 10M flows). */
static void
jb_f(struct jb *b, double v)
{
	if (!(v >= 0) || v > 1e15) {
		char t[64];
		int n = snprintf(t, sizeof(t), "%.3f", v > 0 ? v : 0);
		jb_put(b, t, (size_t)n);
		return;
	}
	uint64_t m = (uint64_t)llround(v * 1000);
	jb_u(b, m / 1000);
	char t[4] = {'.', (char)('0' + m / 100 % 10), (char)('0' + m / 10 % 10),
		     (char)('0' + m % 10)};
	jb_put(b, t, 4);
}

static void
jb_str(struct jb *b, const char *s, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	jb_put(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			jb_put(b, e, 2);
		} else if (c < 0x20 || c >= 0x7f) {
			char e[6] = {'\\', 'u', '0', '0', hx[c >> 4], hx[c & 15]};
			jb_put(b, e, 6);
		} else {
			jb_put(b, (const char *)&c, 1);
		}
	}
	jb_put(b, "\"", 1);
}

static void
jb_hex(struct jb *b, const uint8_t *s, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	jb_put(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		char e[2] = {hx[s[i] >> 4], hx[s[i] & 15]};
		jb_put(b, e, 2);
	}
	jb_put(b, "\"", 1);
}

static void
jb_ip(struct jb *b, int ipv, const uint8_t *a)
{
	if (ipv == 4) {
		/* inet_ntop goes through printf: too slow for millions of flows */
		char t[18], *q = t;
		*q++ = '"';
		for (int i = 0; i < 4; i++) {
			unsigned v = a[i];
			if (v >= 100)
				*q++ = (char)('0' + v / 100);
			if (v >= 10)
				*q++ = (char)('0' + v / 10 % 10);
			*q++ = (char)('0' + v % 10);
			*q++ = i < 3 ? '.' : '"';
		}
		jb_put(b, t, (size_t)(q - t));
		return;
	}
	char t[INET6_ADDRSTRLEN + 2];
	inet_ntop(ipv == 4 ? AF_INET : AF_INET6, a, t + 1, INET6_ADDRSTRLEN);
	t[0] = '"';
	size_t n = strlen(t);
	t[n] = '"';
	jb_put(b, t, n + 1);
}

/* ---- generator state ------------------------------------------------------------ */

struct perm {
	uint64_t m, a, b;    /* index k -> (a*k + b) mod m: a bijection on [0, m) */
	uint64_t S, D, P, Q; /* src hosts, dst hosts, sports, dports */
};

struct deferred {
	char *json;
	uint32_t len, split;
	uint64_t last_ns;
};

struct cls_state {
	const struct ft_pktgen_class *c;
	uint32_t idx;
	struct ft_pktgen_rng rng;
	uint64_t created;
	uint64_t initial; /* concurrency: flows started by the ticket */
	uint64_t base_ns;
	uint64_t fam_count[2];
	struct perm perm[2];
	uint64_t timeout_ns;
	struct deferred *dq;
	size_t dq_head, dq_n, dq_cap;
};

struct gen {
	const struct ft_pktgen_scenario *sc;
	const struct ft_pktgen_sink *sink;
	const struct ft_pktgen_run_opts *opts;
	struct ft_pktgen_stats st;
	struct heap heap;
	struct cls_state *cs;
	struct pg_planner planner;
	uint8_t *fill[4];
	uint64_t next_flow_id;
	struct pg_flow **chunks; /* flow slab: chunk[slot >> SLAB_SHIFT] */
	uint32_t nchunks;
	uint32_t next_slot;
	uint32_t *free_slots;
	uint32_t nfree, free_cap;
	uint64_t active;
	uint64_t deferred_total;
	uint64_t next_deadline; /* earliest last_ns + timeout among deferred heads */
	uint64_t discard_bytes[FT_PKTGEN_MAL_MAX];
	uint64_t end_reasons[4]; /* fin, rst, idle, shutdown */
	uint64_t flows_truth;	 /* flow objects written */
	struct jb jb;
	char *err;
	size_t errlen;
	int io_error;
};

static const char *const reason_names[4] = {"fin", "rst", "idle", "shutdown"};

static uint64_t
gcd64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static void
perm_init(struct perm *p, const struct ft_pktgen_class *c, int fam, struct ft_pktgen_rng *r)
{
	p->S = pg_prefix_hosts(fam == 4 ? &c->src4 : &c->src6, fam);
	p->D = pg_prefix_hosts(fam == 4 ? &c->dst4 : &c->dst6, fam);
	int ports = c->proto != 1;
	p->P = ports ? (uint64_t)(c->sport_hi - c->sport_lo) + 1 : 1;
	p->Q = ports ? (uint64_t)(c->dport_hi - c->dport_lo) + 1 : 1;
	unsigned __int128 m = (unsigned __int128)p->S * p->D * p->P * p->Q;
	const uint64_t cap = 1ULL << 62;
	p->m = m > cap ? cap : (uint64_t)m;
	if (p->m <= 1) {
		p->a = 1;
		p->b = 0;
		return;
	}
	do
		p->a = 1 + ft_pktgen_rng_below(r, p->m - 1);
	while (gcd64(p->a, p->m) != 1);
	p->b = ft_pktgen_rng_below(r, p->m);
}

static void
perm_tuple(const struct perm *p, uint64_t k, uint64_t *src, uint64_t *dst, uint64_t *sp,
	   uint64_t *dp)
{
	uint64_t v = (uint64_t)(((unsigned __int128)p->a * k + p->b) % p->m);
	*sp = v % p->P;
	v /= p->P;
	*dp = v % p->Q;
	v /= p->Q;
	*src = v % p->S;
	v /= p->S;
	*dst = v % p->D;
}

static void
make_filler(uint8_t *buf, size_t n, enum ft_pktgen_filler kind, uint64_t seed)
{
	struct ft_pktgen_rng r;
	ft_pktgen_rng_seed(&r, seed, 0xf111e7 + (uint64_t)kind);
	for (size_t i = 0; i < n; i++) {
		uint64_t x = ft_pktgen_rng_next(&r);
		switch (kind) {
		case FT_PKTGEN_FILL_HIGH:
			buf[i] = (uint8_t)(0x80 | (x >> 57));
			break;
		case FT_PKTGEN_FILL_ZERO:
			buf[i] = 0;
			break;
		case FT_PKTGEN_FILL_RANDOM:
			buf[i] = (uint8_t)(x >> 56);
			break;
		case FT_PKTGEN_FILL_TEXT: {
			uint64_t k = (x >> 32) % 27;
			buf[i] = k == 26 ? ' ' : (uint8_t)('a' + k);
			break;
		}
		}
	}
}

/* ---- truth ---------------------------------------------------------------------- */

static void
truth_write(struct gen *g, const char *s, size_t n)
{
	if (n && fwrite(s, 1, n, g->opts->truth) != n)
		g->io_error = -EIO;
}

/* Write one rendered flow object with its end reason spliced in. */
static void
truth_flow_out(struct gen *g, const char *json, uint32_t len, uint32_t split, int reason)
{
	g->end_reasons[reason]++;
	if (!g->opts->truth)
		return;
	if (g->opts->truth_format == FT_PKTGEN_TRUTH_JSON)
		truth_write(g, g->flows_truth ? ",\n" : "\n", g->flows_truth ? 2 : 1);
	g->flows_truth++;
	truth_write(g, json, split);
	truth_write(g, reason_names[reason], strlen(reason_names[reason]));
	truth_write(g, json + split, len - split);
	if (g->opts->truth_format == FT_PKTGEN_TRUTH_LINES)
		truth_write(g, "\n", 1);
}

static const char *
dir_name(const struct pg_flow *f, int d)
{
	return (d ^ f->init_dir) ? "rev" : "fwd";
}

static void
render_stream(struct jb *b, const struct pg_flow *f, int d)
{
	uint8_t proto = f->hdr.proto;
	jb_ku(b, "{\"bytes\":", f->stream_len[d]);
	jb_ku(b, ",\"captured_bytes\":", f->stream_len[d] - f->gap_bytes[d]);
	jb_ku(b, ",\"segments\":", f->nseg[d]);
	if (proto == 6) {
		jb_ku(b, ",\"isn\":", f->isn[d]);
		if (f->wrap_off[d] != UINT64_MAX)
			jb_ku(b, ",\"wrap_offset\":", f->wrap_off[d]);
	} else if (proto == 132) {
		jb_ku(b, ",\"initial_tsn\":", f->isn[d]);
	}
	JB_LIT(b, "}");
}

/*
 * Later segments of the same direction first captured between frames `after`
 * and `frame`: how far a late segment arrived behind (after = 0), or how many
 * new segments came between an original and its retransmission. Segments only
 * ever move later, by at most 1000 segments (the by= and after= bounds) twice
 * over, so the search is bounded.
 */
static uint32_t
later_between(const struct pg_flow *f, int d, uint32_t seg, uint64_t after, uint64_t frame)
{
	uint32_t n = 0;
	if (!f->seg_frame[d])
		return 0;
	uint64_t end = (uint64_t)seg + 2002 < f->nseg[d] ? seg + 2002 : f->nseg[d];
	for (uint64_t k = (uint64_t)seg + 1; k < end; k++)
		n += f->seg_frame[d][k] > after && f->seg_frame[d][k] < frame;
	return n;
}

/* Render a finished flow; returns the offset where the end reason goes. */
static uint32_t
render_flow(struct gen *g, const struct pg_flow *f)
{
	struct jb *b = &g->jb;
	const struct ft_pktgen_class *c = g->cs[f->cls].c;
	const struct ft_pktgen_hdr *h = &f->hdr;
	int i0 = f->init_dir, i1 = !f->init_dir;
	int icmp = h->proto == 1 || h->proto == 58;
	const uint8_t *ip[2] = {h->src_ip, h->dst_ip};
	uint16_t port[2] = {h->src_port, h->dst_port};

	b->n = 0;
	jb_ku(b, "{\"type\":\"flow\",\"ip_version\":", f->ipv);
	jb_ku(b, ",\"proto\":", h->proto);
	JB_LIT(b, ",\"src_ip\":");
	jb_ip(b, f->ipv, ip[i0]);
	jb_ku(b, ",\"src_port\":", icmp ? 0 : port[i0]);
	JB_LIT(b, ",\"dst_ip\":");
	jb_ip(b, f->ipv, ip[i1]);
	jb_ku(b, ",\"dst_port\":", icmp ? 0 : port[i1]);
	if (h->vlan_count) {
		jb_ku(b, ",\"vlan\":[", h->vlan_tci[0] & 0xfff);
		if (h->vlan_count > 1)
			jb_ku(b, ",", h->vlan_tci[1] & 0xfff);
		JB_LIT(b, "]");
	}
	if (h->encap) {
		JB_LIT(b, ",\"tunnel\":");
		jb_str(b, ft_pktgen_encap_names[h->encap], strlen(ft_pktgen_encap_names[h->encap]));
	}
	jb_ku(b, ",\"start_ns\":", f->first_ns);
	jb_ku(b, ",\"end_ns\":", f->last_ns);
	jb_ku(b, ",\"packets_fwd\":", f->packets[i0]);
	jb_ku(b, ",\"bytes_fwd\":", f->bytes[i0]);
	jb_ku(b, ",\"packets_rev\":", f->packets[i1]);
	jb_ku(b, ",\"bytes_rev\":", f->bytes[i1]);
	jb_ku(b, ",\"tcp_flags_fwd\":", f->tcp_flags[i0]);
	jb_ku(b, ",\"tcp_flags_rev\":", f->tcp_flags[i1]);
	if (icmp) {
		/* echo request from the initiator, or a reply if the responder spoke first */
		int req = i0 == 0;
		jb_ku(b, ",\"icmp_type\":", h->proto == 1 ? (req ? 8 : 0) : (req ? 128 : 129));
		JB_LIT(b, ",\"icmp_code\":0");
	}
	JB_LIT(b, ",\"end_reason\":\"");
	uint32_t split = (uint32_t)b->n;
	JB_LIT(b, "\",\"class\":");
	jb_str(b, c->name, strlen(c->name));
	jb_ku(b, ",\"flow_index\":", f->index);
	uint64_t dur = f->last_ns - f->first_ns;
	jb_ku(b, ",\"duration_ns\":", dur);
	double sec = (double)dur / 1e9;
	JB_LIT(b, ",\"pps_fwd\":");
	jb_f(b, dur ? (double)f->packets[i0] / sec : 0);
	JB_LIT(b, ",\"bps_fwd\":");
	jb_f(b, dur ? (double)f->bytes[i0] * 8 / sec : 0);
	JB_LIT(b, ",\"pps_rev\":");
	jb_f(b, dur ? (double)f->packets[i1] / sec : 0);
	JB_LIT(b, ",\"bps_rev\":");
	jb_f(b, dur ? (double)f->bytes[i1] * 8 / sec : 0);
	if (f->has_rtt) {
		jb_ku(b, ",\"handshake_rtt_ns\":", f->rtt_ns);
		jb_ku(b, ",\"rtt_syn_synack_ns\":", f->rtt_server_ns);
		jb_ku(b, ",\"rtt_synack_ack_ns\":", f->rtt_ns - f->rtt_server_ns);
	}
	JB_LIT(b, ",\"streams\":{\"fwd\":");
	render_stream(b, f, i0);
	JB_LIT(b, ",\"rev\":");
	render_stream(b, f, i1);
	JB_LIT(b, "}");

	if (f->ninst) {
		JB_LIT(b, ",\"patterns\":[");
		for (unsigned k = 0; k < f->ninst; k++) {
			const struct pg_inst *in = &f->inst[k];
			const struct ft_pktgen_pattern *p = &g->sc->patterns[in->pattern];
			int d = in->dir;
			jb_s(b, k ? ",{" : "{");
			jb_ku(b, "\"id\":", p->id);
			JB_LIT(b, ",\"name\":");
			jb_str(b, p->name, strlen(p->name));
			JB_LIT(b, ",\"dir\":\"");
			jb_s(b, dir_name(f, d));
			jb_ku(b, "\",\"offset\":", in->off);
			jb_ku(b, ",\"length\":", in->len);
			int complete = 1, printable = 1;
			if (in->conflict_only) {
				uint64_t fr = 0;
				for (unsigned n = 0; n < f->nnotes; n++)
					if (f->notes[n].type == PG_NOTE_RETRANS &&
					    f->notes[n].inst == (int)k)
						fr = f->notes[n].frame;
				JB_LIT(b, ",\"in_stream\":false,\"segments\":1,\"frames\":[");
				jb_u(b, fr);
				JB_LIT(b, "]");
			} else {
				jb_ku(b, ",\"in_stream\":true,\"split\":", in->split);
				jb_ku(b, ",\"segments\":", in->seg_last - in->seg_first + 1);
				JB_LIT(b, ",\"frames\":[");
				for (uint32_t s = in->seg_first; s <= in->seg_last; s++) {
					uint64_t fr = f->seg_frame[d] ? f->seg_frame[d][s] : 0;
					if (!fr)
						complete = 0;
					if (s != in->seg_first)
						JB_LIT(b, ",");
					jb_u(b, fr);
				}
				JB_LIT(b, "]");
				int after_gap = 0;
				for (unsigned n = 0; n < f->nnotes; n++)
					if (f->notes[n].type == PG_NOTE_GAP &&
					    f->notes[n].dir == d && f->notes[n].off < in->off)
						after_gap = 1;
				jb_s(b, complete ? ",\"complete\":true" : ",\"complete\":false");
				jb_s(b, after_gap ? ",\"after_gap\":true" : ",\"after_gap\":false");
			}
			JB_LIT(b, ",\"hex\":");
			jb_hex(b, in->bytes, in->len);
			for (uint32_t i = 0; i < in->len; i++)
				if (in->bytes[i] < 0x20 || in->bytes[i] >= 0x7f)
					printable = 0;
			if (printable) {
				JB_LIT(b, ",\"text\":");
				jb_str(b, (const char *)in->bytes, in->len);
			}
			JB_LIT(b, "}");
		}
		JB_LIT(b, "]");
	}

	static const char *const sect[] = {[PG_NOTE_RETRANS] = "retransmissions",
					   [PG_NOTE_REORDER] = "reordered",
					   [PG_NOTE_GAP] = "gaps",
					   [PG_NOTE_ZERO_WINDOW] = "zero_windows",
					   [PG_NOTE_MAL] = "malformed"};
	for (unsigned type = 0; type < PG_ARRAY_SIZE(sect); type++) {
		int any = 0;
		for (unsigned n = 0; n < f->nnotes; n++) {
			const struct pg_note *e = &f->notes[n];
			if (e->type != type)
				continue;
			uint32_t late = 0;
			if (type == PG_NOTE_REORDER)
				late = later_between(f, e->dir, e->seg, 0, e->frame);
			else if (type == PG_NOTE_RETRANS)
				late = later_between(f, e->dir, e->seg,
						     f->seg_frame[e->dir][e->seg], e->frame);
			/* a segment whose later neighbours were all lost or delayed too is
			 * not out of order in the capture */
			if (type == PG_NOTE_REORDER && !late)
				continue;
			if (!any) {
				JB_LIT(b, ",\"");
				jb_s(b, sect[type]);
				JB_LIT(b, "\":[");
			} else {
				JB_LIT(b, ",");
			}
			any = 1;
			JB_LIT(b, "{\"dir\":\"");
			jb_s(b, dir_name(f, e->dir));
			JB_LIT(b, "\"");
			switch (type) {
			case PG_NOTE_RETRANS:
				jb_ku(b, ",\"offset\":", e->off);
				jb_ku(b, ",\"length\":", e->len);
				jb_ku(b, ",\"frame\":", e->frame);
				jb_ku(b, ",\"original_frame\":",
				      f->seg_frame[e->dir] ? f->seg_frame[e->dir][e->seg] : 0);
				jb_ku(b, ",\"after\":", late);
				jb_s(b, e->conflict ? ",\"conflict\":true" : ",\"conflict\":false");
				break;
			case PG_NOTE_REORDER:
				jb_ku(b, ",\"offset\":", e->off);
				jb_ku(b, ",\"length\":", e->len);
				jb_ku(b, ",\"frame\":", e->frame);
				jb_ku(b, ",\"by\":", late);
				break;
			case PG_NOTE_GAP:
				jb_ku(b, ",\"offset\":", e->off);
				jb_ku(b, ",\"length\":", e->len);
				break;
			case PG_NOTE_ZERO_WINDOW:
				jb_ku(b, ",\"offset\":", e->off);
				jb_ku(b, ",\"start_ns\":", e->ts);
				jb_ku(b, ",\"end_ns\":", e->ts2);
				jb_ku(b, ",\"frame\":", e->frame);
				jb_ku(b, ",\"update_frame\":", e->frame2);
				break;
			case PG_NOTE_MAL:
				JB_LIT(b, ",\"kind\":\"");
				jb_s(b, ft_pktgen_malformed_names[e->mal]);
				jb_ku(b, "\",\"frame\":", e->frame);
				jb_ku(b, ",\"ts_ns\":", e->ts);
				jb_s(b, ft_pktgen_malformed_counted(e->mal) ? ",\"counted\":true"
									    : ",\"counted\":false");
				break;
			}
			JB_LIT(b, "}");
		}
		if (any)
			JB_LIT(b, "]");
	}
	JB_LIT(b, "}");
	return split;
}

static void
update_deadline(struct gen *g)
{
	g->next_deadline = UINT64_MAX;
	for (uint32_t i = 0; i < g->sc->n_classes; i++) {
		struct cls_state *cs = &g->cs[i];
		if (cs->dq_n) {
			uint64_t d = cs->dq[cs->dq_head].last_ns + cs->timeout_ns;
			if (d < g->next_deadline)
				g->next_deadline = d;
		}
	}
}

/* Flows whose last packet is older than their timeout at `now` end idle. */
static void
drain_deferred(struct gen *g, uint64_t now, int final)
{
	for (uint32_t i = 0; i < g->sc->n_classes; i++) {
		struct cls_state *cs = &g->cs[i];
		while (cs->dq_n) {
			struct deferred *d = &cs->dq[cs->dq_head];
			int idle = now > d->last_ns && now - d->last_ns > cs->timeout_ns;
			if (!idle && !final)
				break;
			truth_flow_out(g, d->json, d->len, d->split, idle ? 2 : 3);
			free(d->json);
			cs->dq_head = (cs->dq_head + 1) % cs->dq_cap;
			cs->dq_n--;
			g->deferred_total--;
		}
	}
	update_deadline(g);
}

static int
defer_flow(struct gen *g, struct cls_state *cs, const struct pg_flow *f, uint32_t split)
{
	if (cs->dq_n == cs->dq_cap) {
		size_t nc = cs->dq_cap ? cs->dq_cap * 2 : 64;
		struct deferred *nq = malloc(nc * sizeof(*nq));
		if (!nq)
			return -ENOMEM;
		for (size_t k = 0; k < cs->dq_n; k++)
			nq[k] = cs->dq[(cs->dq_head + k) % cs->dq_cap];
		free(cs->dq);
		cs->dq = nq;
		cs->dq_head = 0;
		cs->dq_cap = nc;
	}
	struct deferred *d = &cs->dq[(cs->dq_head + cs->dq_n) % cs->dq_cap];
	d->len = (uint32_t)g->jb.n;
	d->split = split;
	d->last_ns = f->last_ns;
	d->json = malloc(g->jb.n ? g->jb.n : 1);
	if (!d->json)
		return -ENOMEM;
	memcpy(d->json, g->jb.p, g->jb.n);
	cs->dq_n++;
	g->deferred_total++;
	uint64_t dl = f->last_ns + cs->timeout_ns;
	if (dl < g->next_deadline)
		g->next_deadline = dl;
	return 0;
}

/* ---- flows ----------------------------------------------------------------------- */

static inline struct pg_flow *
slot_flow(const struct gen *g, uint32_t slot)
{
	return &g->chunks[slot >> SLAB_SHIFT][slot & ((1u << SLAB_SHIFT) - 1)];
}

static struct pg_flow *
flow_alloc(struct gen *g)
{
	uint32_t slot;
	if (g->nfree) {
		slot = g->free_slots[--g->nfree];
	} else {
		if (g->next_slot >= TICKET_SLOT)
			return NULL;
		slot = g->next_slot++;
		if ((slot >> SLAB_SHIFT) >= g->nchunks) {
			struct pg_flow **nc = realloc(g->chunks, (g->nchunks + 1) * sizeof(*nc));
			if (!nc)
				return NULL;
			g->chunks = nc;
			nc[g->nchunks] = pg_huge_alloc(sizeof(struct pg_flow) << SLAB_SHIFT);
			if (!nc[g->nchunks])
				return NULL;
			g->nchunks++;
		}
	}
	struct pg_flow *f = slot_flow(g, slot);
	memset(f, 0, sizeof(*f));
	f->slot = slot;
	return f;
}

static int
flow_free(struct gen *g, struct pg_flow *f)
{
	pg_flow_release(&g->planner, f);
	if (g->nfree == g->free_cap) {
		uint32_t nc = g->free_cap ? g->free_cap * 2 : 1024;
		uint32_t *nf = realloc(g->free_slots, nc * sizeof(*nf));
		if (!nf)
			return -ENOMEM;
		g->free_slots = nf;
		g->free_cap = nc;
	}
	g->free_slots[g->nfree++] = f->slot;
	return 0;
}

static int create_flow(struct gen *g, struct cls_state *cs, uint64_t t0);

static int
finish_flow(struct gen *g, struct pg_flow *f, uint64_t now)
{
	struct cls_state *cs = &g->cs[f->cls];
	int rc = 0;
	if (f->counted_any && !g->opts->truth) {
		g->st.flows++;
		g->end_reasons[f->end_kind == 1 ? 0 : f->end_kind == 2 ? 1 : 3]++;
	} else if (f->counted_any) {
		g->st.flows++;
		uint32_t split = render_flow(g, f);
		if (g->jb.oom)
			rc = -ENOMEM;
		else if (f->end_kind)
			truth_flow_out(g, g->jb.p, (uint32_t)g->jb.n, split,
				       f->end_kind == 1 ? 0 : 1);
		else if (!cs->timeout_ns)
			truth_flow_out(g, g->jb.p, (uint32_t)g->jb.n, split, 3);
		else
			rc = defer_flow(g, cs, f, split);
	}
	int frc = flow_free(g, f);
	if (!rc)
		rc = frc;
	g->active--;
	/* Closed loop: an ending flow is replaced at once, so at most `concurrency`
	 * flows of the class are live (the ticket starts the first ones). */
	if (!rc && cs->c->arrival == FT_PKTGEN_ARRIVAL_CONCURRENCY && cs->created < cs->c->count)
		rc = create_flow(g, cs, now);
	return rc;
}

static int
create_flow(struct gen *g, struct cls_state *cs, uint64_t t0)
{
	const struct ft_pktgen_class *c = cs->c;
	const struct ft_pktgen_scenario *sc = g->sc;
	uint64_t i = cs->created++;
	struct ft_pktgen_rng r;
	ft_pktgen_rng_seed(&r, sc->seed, ((uint64_t)(cs->idx + 1) << 44) ^ i);

	struct pg_flow *f = flow_alloc(g);
	if (!f)
		return -ENOMEM;
	f->id = g->next_flow_id++;
	f->index = i;
	f->cls = cs->idx;
	/* Families are spread evenly (not drawn) so the number of flows of each is
	 * known in advance and family-specific malformations land exactly. */
	int v6 = pg_is_v6(c, i);
	f->ipv = v6 ? 6 : 4;
	int fam = v6 ? 6 : 4;
	uint64_t k = cs->fam_count[v6]++;
	uint64_t si, di, spi, dpi;
	perm_tuple(&cs->perm[v6], k, &si, &di, &spi, &dpi);

	struct ft_pktgen_hdr *h = &f->hdr;
	memcpy(h->src_mac, sc->mac_fwd_src, 6);
	memcpy(h->dst_mac, sc->mac_fwd_dst, 6);
	h->vlan_count = c->vlan_count;
	for (unsigned t = 0; t < c->vlan_count; t++) {
		uint16_t vid =
			(uint16_t)(c->vlan_lo[t] +
				   ft_pktgen_rng_below(
					   &r, (uint64_t)(c->vlan_hi[t] - c->vlan_lo[t]) + 1));
		h->vlan_tci[t] = vid;
		h->vlan_tpid[t] = (c->vlan_count == 2 && t == 0) ? c->outer_tpid : 0x8100;
	}
	h->encap = c->encap;
	h->ip_version = (uint8_t)fam;
	h->proto = c->proto == 1 && v6 ? 58 : c->proto;
	h->ttl = 64;
	h->ip_df = c->proto == 6;
	pg_prefix_addr(v6 ? &c->src6 : &c->src4, fam, si, h->src_ip);
	pg_prefix_addr(v6 ? &c->dst6 : &c->dst4, fam, di, h->dst_ip);
	uint64_t x = ft_pktgen_rng_next(&r);
	if (c->proto == 1) {
		h->src_port = (uint16_t)x; /* echo identifier */
		h->dst_port = 0;
	} else {
		h->src_port = (uint16_t)(c->sport_lo + spi);
		h->dst_port = (uint16_t)(c->dport_lo + dpi);
	}
	h->flow_label = v6 ? (uint32_t)(x >> 16) & 0xfffff : 0;
	f->ip_id[0] = (uint16_t)(x >> 40);
	f->ip_id[1] = (uint16_t)(x >> 24);
	x = ft_pktgen_rng_next(&r);
	f->isn[0] = (uint32_t)x;
	f->isn[1] = (uint32_t)(x >> 32);
	x = ft_pktgen_rng_next(&r);
	f->sctp_tag[0] = (uint32_t)x | 1;
	f->sctp_tag[1] = (uint32_t)(x >> 32) | 1;
	f->salt[0] = ft_pktgen_rng_below(&r, FILL_LEN);
	f->salt[1] = ft_pktgen_rng_below(&r, FILL_LEN);
	f->filler = (uint8_t)c->filler;

	uint64_t mal[FT_PKTGEN_MAL_MAX] = {0};
	for (int m = 0; m < FT_PKTGEN_MAL_MAX; m++) {
		uint64_t n = c->malformed[m];
		if (!n || !ft_pktgen_malformed_applies(m, fam, h->proto))
			continue;
		/* spread evenly over the flows the kind applies to */
		uint64_t j = i, total = c->count;
		if (!ft_pktgen_malformed_applies(m, fam == 4 ? 6 : 4,
						 pg_proto(c, fam == 4 ? 6 : 4))) {
			j = k;
			total = pg_family_flows(c, fam);
		}
		mal[m] = (uint64_t)((unsigned __int128)(j + 1) * n / total -
				    (unsigned __int128)j * n / total);
	}

	int rc =
		pg_plan_flow(&g->planner, f, sc, c, &r, t0, mal, cs->timeout_ns, g->err, g->errlen);
	if (rc) {
		flow_free(g, f);
		return rc;
	}
	g->active++;
	if (g->active > g->st.max_concurrent_flows)
		g->st.max_concurrent_flows = g->active;
	if (!f->npkts)
		return finish_flow(g, f, t0);
	f->cur = f->pkts[0];
	return heap_push(&g->heap, f->cur.ts, f->slot);
}

/* ---- packets --------------------------------------------------------------------- */

int
pg_is_v6(const struct ft_pktgen_class *c, uint64_t i)
{
	if (c->v6_share <= 0)
		return 0;
	if (c->v6_share >= 1)
		return 1;
	return llround((double)(i + 1) * c->v6_share) > llround((double)i * c->v6_share);
}

uint64_t
pg_family_flows(const struct ft_pktgen_class *c, int fam)
{
	uint64_t n6 = c->v6_share <= 0	 ? 0
		      : c->v6_share >= 1 ? c->count
					 : (uint64_t)llround((double)c->count * c->v6_share);
	return fam == 6 ? n6 : c->count - n6;
}

uint8_t
pg_proto(const struct ft_pktgen_class *c, int fam)
{
	return c->proto == 1 && fam == 6 ? 58 : c->proto;
}

static void
dir_hdr(const struct pg_flow *f, int d, struct ft_pktgen_hdr *h)
{
	*h = f->hdr;
	h->encap_rev = (uint8_t)d;
	if (!d)
		return;
	memcpy(h->src_mac, f->hdr.dst_mac, 6);
	memcpy(h->dst_mac, f->hdr.src_mac, 6);
	memcpy(h->src_ip, f->hdr.dst_ip, 16);
	memcpy(h->dst_ip, f->hdr.src_ip, 16);
	if (h->proto != 1 && h->proto != 58) {
		h->src_port = f->hdr.dst_port;
		h->dst_port = f->hdr.src_port;
	}
}

static void
fill_stream(const struct gen *g, const struct pg_flow *f, int d, uint64_t off, uint32_t len,
	    uint8_t *out, int conflict, int only_inst)
{
	const uint8_t *src = g->fill[f->filler];
	memcpy(out, src + (f->salt[d] + off) % FILL_LEN, len);
	if (conflict)
		for (uint32_t i = 0; i < len; i++)
			out[i] ^= 1;
	for (unsigned k = 0; k < f->ninst; k++) {
		const struct pg_inst *in = &f->inst[k];
		if (in->dir != d || (conflict ? (int)k != only_inst : in->conflict_only))
			continue;
		uint64_t a = in->off > off ? in->off : off;
		uint64_t b = in->off + in->len < off + len ? in->off + in->len : off + len;
		if (a < b)
			memcpy(out + (a - off), in->bytes + (a - in->off), (size_t)(b - a));
	}
}

static uint32_t
sctp_chunk_len(const struct pg_pkt *p)
{
	if (p->kind == PG_PK_DATA)
		return 16 + ((p->len + 3) & ~3u);
	if (p->kind == PG_PK_MAL)
		return 16;
	switch (p->flags) {
	case PG_SCTP_INIT:
		return 20;
	case PG_SCTP_INIT_ACK:
		return 32;
	case PG_SCTP_COOKIE_ECHO:
		return 12;
	case PG_SCTP_SACK:
		return 16;
	case PG_SCTP_SHUTDOWN:
		return 8;
	default:
		return 4;
	}
}

/* Write the SCTP chunk of p at out (DATA user data is filled by the caller). */
static void
sctp_chunk(const struct pg_flow *f, const struct pg_pkt *p, uint8_t *out, const struct gen *g)
{
	int d = p->dir;
	uint8_t type = p->kind == PG_PK_DATA  ? PG_SCTP_DATA
		       : p->kind == PG_PK_MAL ? PG_SCTP_SACK
					      : p->flags;
	uint32_t clen = sctp_chunk_len(p);
	memset(out, 0, clen);
	out[0] = type;
	switch (type) {
	case PG_SCTP_DATA:
		out[1] = 0x03; /* B and E: an unfragmented message */
		put16(out + 2, (uint16_t)(16 + p->len));
		put32(out + 4, p->seq);
		put16(out + 8, 0); /* stream 0 */
		put16(out + 10, (uint16_t)(p->seq - f->isn[d]));
		put32(out + 12, 0); /* PPID 0: unspecified */
		fill_stream(g, f, d, p->off, p->len, out + 16, 0, -1);
		break;
	case PG_SCTP_INIT:
	case PG_SCTP_INIT_ACK:
		put16(out + 2, (uint16_t)clen);
		put32(out + 4, f->sctp_tag[d]);
		put32(out + 8, 65536);
		put16(out + 12, 1);
		put16(out + 14, 1);
		put32(out + 16, f->isn[d]);
		if (type == PG_SCTP_INIT_ACK) {
			put16(out + 20, 7); /* state cookie parameter */
			put16(out + 22, 12);
			put32(out + 24, f->sctp_tag[0]);
			put32(out + 28, f->sctp_tag[1]);
		}
		break;
	case PG_SCTP_COOKIE_ECHO:
		put16(out + 2, 12);
		put32(out + 4, f->sctp_tag[0]);
		put32(out + 8, f->sctp_tag[1]);
		break;
	case PG_SCTP_SACK:
		put16(out + 2, 16);
		put32(out + 4, p->ack);
		put32(out + 8, 65536);
		break;
	case PG_SCTP_SHUTDOWN:
		put16(out + 2, 8);
		put32(out + 4, p->ack);
		break;
	default:
		put16(out + 2, 4);
		break;
	}
}

static const uint8_t syn_opts[8] = {2, 4, 0x05, 0xb4, 4, 2, 1, 1}; /* MSS 1460, SACK ok, NOPs */

static int
emit_pkt(struct gen *g, struct pg_flow *f, const struct pg_pkt *p)
{
	struct ft_pktgen_hdr h;
	int d = p->dir;
	dir_hdr(f, d, &h);
	h.ip_id = f->ip_id[d]++;
	uint32_t l4pay = 0;
	switch (h.proto) {
	case 6:
		h.tcp_seq = p->seq;
		h.tcp_ack = p->ack;
		h.tcp_flags = p->flags;
		h.tcp_window = p->win;
		if (p->attr & PG_A_SYNOPT) {
			h.tcp_opts = syn_opts;
			h.tcp_opts_len = sizeof(syn_opts);
		}
		l4pay = p->kind == PG_PK_DATA ? p->len : 0;
		break;
	case 17:
		l4pay = p->kind == PG_PK_DATA ? p->len : 0;
		break;
	case 1:
	case 58: {
		int req = d == 0;
		h.icmp_type = h.proto == 1 ? (req ? 8 : 0) : (req ? 128 : 129);
		h.icmp_seq = (uint16_t)p->seq;
		l4pay = p->kind == PG_PK_DATA ? p->len : 0;
		break;
	}
	case 132:
		h.sctp_vtag =
			p->kind == PG_PK_CTRL && p->flags == PG_SCTP_INIT ? 0 : f->sctp_tag[!d];
		l4pay = sctp_chunk_len(p);
		break;
	}
	uint32_t hlen = ft_pktgen_hdr_len(&h);
	uint32_t len = hlen + l4pay;
	uint8_t *buf = g->sink->reserve(g->sink->ctx, len + 8); /* room for malformations */
	if (!buf) {
		pg_err(g->err, g->errlen, "the output refused a %u-byte frame", len);
		return -EIO;
	}
	if (h.proto == 132)
		sctp_chunk(f, p, buf + hlen, g);
	else if (p->kind == PG_PK_DATA)
		fill_stream(g, f, d, p->off, p->len, buf + hlen, !!(p->attr & PG_A_CONFLICT),
			    p->note != PG_NOTE_NONE ? f->notes[p->note].inst : -1);
	len = ft_pktgen_build(buf, &h, l4pay, NULL);
	if (!len) {
		pg_err(g->err, g->errlen, "cannot build a frame of %u bytes", hlen + l4pay);
		return -EINVAL;
	}
	int counted = 1;
	if (p->kind == PG_PK_MAL) {
		uint32_t ml = ft_pktgen_malform(buf, len, &h, p->mal);
		if (!ml) {
			pg_err(g->err, g->errlen, "internal: malformed %s does not apply",
			       ft_pktgen_malformed_names[p->mal]);
			return -EINVAL;
		}
		len = ml;
		counted = ft_pktgen_malformed_counted(p->mal);
		g->st.malformed[p->mal]++;
		if (!counted)
			g->discard_bytes[p->mal] += len;
	}
	if (g->sink->commit(g->sink->ctx, p->ts, len)) {
		pg_err(g->err, g->errlen, "writing the output failed");
		return -EIO;
	}
	uint64_t frame = ++g->st.packets;
	g->st.bytes += len;
	if (!g->st.first_ns)
		g->st.first_ns = p->ts;
	g->st.last_ns = p->ts;
	if (counted) {
		if (!f->counted_any) {
			f->counted_any = 1;
			f->init_dir = (uint8_t)d;
			f->first_ns = p->ts;
		}
		f->packets[d]++;
		f->bytes[d] += len;
		f->last_ns = p->ts;
		if (h.proto == 6)
			f->tcp_flags[d] |= p->flags;
		g->st.flow_packets++;
		g->st.flow_bytes += len;
	}
	if (p->note != PG_NOTE_NONE) {
		struct pg_note *n = &f->notes[p->note];
		if (n->type == PG_NOTE_ZERO_WINDOW && n->frame)
			n->frame2 = frame;
		else
			n->frame = frame;
	}
	if (f->track_frames && p->kind == PG_PK_DATA && (p->attr & (PG_A_FIRST | PG_A_REORDERED)))
		f->seg_frame[d][p->seg] = frame;
	return 0;
}

/* ---- run --------------------------------------------------------------------------- */

/*
 * Live flows are far apart in memory and each packet touches its flow and the
 * flow's plan: misses that cost more than building the packet. A two-stage
 * prefetch hides them: the flow on top sends next, so its next plan entry is
 * fetched (its own lines were fetched earlier, while it was a child of the
 * top), and the flows that may send after it get their lines fetched now.
 */
/* always_inline: GCC otherwise finds the function pure and drops the call. */
static inline __attribute__((always_inline)) void
prefetch_next(const struct gen *g)
{
	const struct heap *h = &g->heap;
	if (!h->n)
		return;
	if (!(h->a[0].slot & TICKET_SLOT)) {
		const struct pg_flow *nf = slot_flow(g, h->a[0].slot);
		if (nf->next + 1 < nf->npkts)
			__builtin_prefetch(&nf->pkts[nf->next + 1]);
	}
	/* Every child of the top may send after it: fetch the hot lines of all
	 * four, so a flow is fetched as soon as it gets near the top. */
	size_t end = h->n < 5 ? h->n : 5;
	for (size_t k = 1; k < end; k++) {
		if (h->a[k].slot & TICKET_SLOT)
			continue;
		const char *sf = (const char *)slot_flow(g, h->a[k].slot);
		__builtin_prefetch(sf);
		__builtin_prefetch(sf + 64);
	}
}

static void
truth_header(struct gen *g)
{
	const struct ft_pktgen_scenario *sc = g->sc;
	struct jb *b = &g->jb;
	b->n = 0;
	jb_s(b, g->opts->truth_format == FT_PKTGEN_TRUTH_JSON ? "{\"type\":\"truth\""
							      : "{\"type\":\"header\"");
	jb_s(b, ",\"generator\":\"flowtap-pktgen\",\"version\":\"" FT_VERSION "\",\"format\":1");
	jb_ku(b, ",\"seed\":", sc->seed);
	JB_LIT(b, ",\"scenario\":");
	const char *name = sc->name ? sc->name : "";
	jb_str(b, name, strlen(name));
	JB_LIT(b, ",\"pcap\":");
	const char *pc = g->opts->pcap_name ? g->opts->pcap_name : "";
	jb_str(b, pc, strlen(pc));
	jb_ku(b, ",\"start_time_ns\":", sc->start_time_ns);
	JB_LIT(b, ",\"classes\":[");
	for (uint32_t i = 0; i < sc->n_classes; i++) {
		const struct ft_pktgen_class *c = &sc->classes[i];
		jb_s(b, i ? ",{\"name\":" : "{\"name\":");
		jb_str(b, c->name, strlen(c->name));
		jb_ku(b, ",\"flows\":", c->count);
		jb_ku(b, ",\"proto\":", c->proto);
		jb_ku(b, ",\"idle_timeout_ns\":", g->cs[i].timeout_ns);
		JB_LIT(b, "}");
	}
	JB_LIT(b, "],\"patterns\":[");
	for (uint32_t i = 0; i < sc->n_patterns; i++) {
		const struct ft_pktgen_pattern *p = &sc->patterns[i];
		jb_s(b, i ? ",{\"name\":" : "{\"name\":");
		jb_str(b, p->name, strlen(p->name));
		jb_ku(b, ",\"id\":", p->id);
		jb_s(b, p->literal ? ",\"literal\":" : ",\"regex\":");
		jb_str(b, p->source, strlen(p->source));
		JB_LIT(b, "}");
	}
	JB_LIT(b, "]");
	if (g->opts->truth_format == FT_PKTGEN_TRUTH_JSON)
		JB_LIT(b, ",\"flows\":[");
	else
		JB_LIT(b, "}\n");
	truth_write(g, b->p, b->n);
}

static void
truth_totals(struct gen *g)
{
	struct jb *b = &g->jb;
	const struct ft_pktgen_stats *s = &g->st;
	b->n = 0;
	if (g->opts->truth_format == FT_PKTGEN_TRUTH_JSON)
		JB_LIT(b, "\n],\"totals\":{\"type\":\"totals\",");
	else
		JB_LIT(b, "{\"type\":\"totals\",");
	jb_ku(b, "\"packets\":", s->packets);
	jb_ku(b, ",\"bytes\":", s->bytes);
	jb_ku(b, ",\"flows\":", s->flows);
	jb_ku(b, ",\"flow_packets\":", s->flow_packets);
	jb_ku(b, ",\"flow_bytes\":", s->flow_bytes);
	jb_ku(b, ",\"first_ns\":", s->first_ns);
	jb_ku(b, ",\"last_ns\":", s->last_ns);
	jb_ku(b, ",\"max_concurrent_flows\":", s->max_concurrent_flows);
	JB_LIT(b, ",\"end_reasons\":{");
	for (int r = 0; r < 4; r++) {
		jb_s(b, r ? ",\"" : "\"");
		jb_s(b, reason_names[r]);
		jb_ku(b, "\":", g->end_reasons[r]);
	}
	JB_LIT(b, "},\"malformed\":{");
	int first = 1;
	for (int k = 0; k < FT_PKTGEN_MAL_MAX; k++) {
		if (!s->malformed[k])
			continue;
		jb_s(b, first ? "\"" : ",\"");
		first = 0;
		jb_s(b, ft_pktgen_malformed_names[k]);
		jb_ku(b, "\":", s->malformed[k]);
	}
	JB_LIT(b, "},\"discard\":{");
	first = 1;
	for (int k = 0; k < FT_PKTGEN_MAL_MAX; k++) {
		if (!s->malformed[k] || ft_pktgen_malformed_counted(k))
			continue;
		jb_s(b, first ? "\"" : ",\"");
		first = 0;
		jb_s(b, ft_pktgen_malformed_names[k]);
		jb_ku(b, "\":{\"packets\":", s->malformed[k]);
		jb_ku(b, ",\"bytes\":", g->discard_bytes[k]);
		JB_LIT(b, "}");
	}
	jb_ku(b, "},\"malformed_not_placed\":", s->malformed_not_placed);
	jb_s(b, g->opts->truth_format == FT_PKTGEN_TRUTH_JSON ? "}}\n" : "}\n");
	truth_write(g, b->p, b->n);
}

static int
ticket_next(struct gen *g, struct cls_state *cs, uint64_t now, uint64_t *next)
{
	const struct ft_pktgen_class *c = cs->c;
	uint64_t i = cs->created; /* index of the flow the ticket starts next */
	switch (c->arrival) {
	case FT_PKTGEN_ARRIVAL_UNIFORM:
		if (i >= c->count)
			return 0;
		*next = cs->base_ns + (uint64_t)((unsigned __int128)i * c->spread_ns / c->count);
		return 1;
	case FT_PKTGEN_ARRIVAL_POISSON: {
		if (i >= c->count)
			return 0;
		double mean = (double)c->spread_ns / (double)c->count;
		double u = ft_pktgen_rng_double(&cs->rng);
		*next = now + (uint64_t)llround(-log1p(-u) * mean);
		return 1;
	}
	case FT_PKTGEN_ARRIVAL_CONCURRENCY: {
		uint64_t k0 = c->concurrency < c->count ? c->concurrency : c->count;
		if (cs->initial >= k0)
			return 0;
		*next = cs->base_ns +
			(uint64_t)((unsigned __int128)cs->initial * c->spread_ns / k0);
		return 1;
	}
	}
	(void)g;
	return 0;
}

int
ft_pktgen_run(const struct ft_pktgen_scenario *sc, const struct ft_pktgen_sink *sink,
	      const struct ft_pktgen_run_opts *opts, struct ft_pktgen_stats *stats, char *err,
	      size_t errlen)
{
	int rc = ft_pktgen_scenario_validate(sc, err, errlen);
	if (rc)
		return rc;
	struct ft_pktgen_run_opts noopts = {0};
	struct gen *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->sc = sc;
	g->sink = sink;
	g->opts = opts ? opts : &noopts;
	g->err = err;
	g->errlen = errlen;
	g->next_deadline = UINT64_MAX;
	rc = -ENOMEM;
	for (int k = 0; k < 4; k++) {
		g->fill[k] = malloc(FILL_LEN + FT_PKTGEN_MAX_FRAME);
		if (!g->fill[k])
			goto out;
		make_filler(g->fill[k], FILL_LEN + FT_PKTGEN_MAX_FRAME, (enum ft_pktgen_filler)k,
			    sc->seed);
	}
	g->cs = calloc(sc->n_classes, sizeof(*g->cs));
	if (!g->cs)
		goto out;
	for (uint32_t i = 0; i < sc->n_classes; i++) {
		struct cls_state *cs = &g->cs[i];
		const struct ft_pktgen_class *c = &sc->classes[i];
		cs->c = c;
		cs->idx = i;
		ft_pktgen_rng_seed(&cs->rng, sc->seed, 0xc1a55000ULL + i);
		perm_init(&cs->perm[0], c, 4, &cs->rng);
		perm_init(&cs->perm[1], c, 6, &cs->rng);
		cs->timeout_ns =
			c->idle_timeout_ns == UINT64_MAX ? sc->idle_timeout_ns : c->idle_timeout_ns;
		cs->base_ns = sc->start_time_ns + c->start_ns;
		for (int m = 0; m < FT_PKTGEN_MAL_MAX; m++) {
			int placeable = 0;
			for (int fam = 4; fam <= 6; fam += 2)
				placeable |= pg_family_flows(c, fam) &&
					     ft_pktgen_malformed_applies(m, fam, pg_proto(c, fam));
			if (!placeable)
				g->st.malformed_not_placed += c->malformed[m];
		}
		uint64_t first;
		if (c->count && ticket_next(g, cs, cs->base_ns, &first))
			if (heap_push(&g->heap,
				      c->arrival == FT_PKTGEN_ARRIVAL_POISSON ? cs->base_ns : first,
				      TICKET_SLOT | i))
				goto out;
	}
	if (g->opts->truth)
		truth_header(g);

	rc = 0;
	while (g->heap.n && !rc && !g->io_error) {
		struct hent *top = &g->heap.a[0];
		uint64_t now = top->ts;
		if (top->slot & TICKET_SLOT) {
			struct cls_state *cs = &g->cs[top->slot & ~TICKET_SLOT];
			if (cs->created >= cs->c->count) {
				heap_pop(&g->heap); /* respawns already started them all */
				continue;
			}
			/* Move the ticket first: create_flow() pushes onto the heap. */
			uint64_t next;
			if (cs->c->arrival == FT_PKTGEN_ARRIVAL_CONCURRENCY)
				cs->initial++;
			uint64_t saved = cs->created;
			cs->created++; /* the flow about to be created */
			int more = ticket_next(g, cs, now, &next);
			cs->created = saved;
			if (more)
				heap_replace_top(&g->heap, next);
			else
				heap_pop(&g->heap);
			rc = create_flow(g, cs, now);
			continue;
		}
		struct pg_flow *f = slot_flow(g, top->slot);
		struct pg_pkt p = f->cur;
		int last = ++f->next >= f->npkts;
		if (!last) {
			f->cur = f->pkts[f->next];
			heap_replace_top(&g->heap, f->cur.ts);
		} else {
			heap_pop(&g->heap);
		}
		prefetch_next(g);
		if (now > g->next_deadline)
			drain_deferred(g, now, 0);
		rc = emit_pkt(g, f, &p);
		if (!rc && last)
			rc = finish_flow(g, f, now);
	}
	if (!rc && !g->io_error) {
		drain_deferred(g, g->st.last_ns, 1);
		if (g->opts->truth)
			truth_totals(g);
	}
	if (!rc && g->io_error) {
		pg_err(err, errlen, "writing the ground truth failed");
		rc = g->io_error;
	}
	if (stats)
		*stats = g->st;
out:
	while (g->heap.n) {
		struct hent *e = &g->heap.a[--g->heap.n];
		if (!(e->slot & TICKET_SLOT))
			pg_flow_release(&g->planner, slot_flow(g, e->slot));
	}
	for (uint32_t i = 0; i < g->nchunks; i++)
		free(g->chunks[i]);
	free(g->chunks);
	free(g->free_slots);
	free(g->heap.a);
	if (g->cs) {
		for (uint32_t i = 0; i < sc->n_classes; i++) {
			struct cls_state *cs = &g->cs[i];
			for (size_t k = 0; k < cs->dq_n; k++)
				free(cs->dq[(cs->dq_head + k) % cs->dq_cap].json);
			free(cs->dq);
		}
		free(g->cs);
	}
	for (int k = 0; k < 4; k++)
		free(g->fill[k]);
	pg_planner_free(&g->planner);
	free(g->jb.p);
	free(g);
	return rc;
}
