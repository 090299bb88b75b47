/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow plans. A flow is planned in full when it starts: its two streams are cut
 * into segments (honouring pattern splits), the data segments are ordered
 * (interleaved or request/response), TCP pathologies move, copy or hide
 * segments, and a walk in that order assigns times, sequence and
 * acknowledgement numbers, pure ACKs, handshake and teardown. The emitter then
 * only has to build the packets in plan order.
 *
 * Planning per flow (rather than a lazy state machine) keeps every rule in one
 * place and makes the truth exact; the price is memory proportional to the
 * packets of the flows that are live at once (48 bytes per packet).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pktgen.h"
#include "internal.h"

/* ---- segmenter ------------------------------------------------------------- */

static uint64_t
span_cut(const struct ft_pktgen_span *s, uint32_t k)
{
	return s->off + (uint64_t)k * s->len / s->split;
}

long
ft_pktgen_segment(const struct ft_pktgen_span *spans, unsigned nspans, ft_pktgen_size_fn size_fn,
		  void *ctx, uint64_t min_segs, uint32_t max_len, struct ft_pktgen_seg **out)
{
	uint64_t need = 0;
	size_t ncuts = 0;

	*out = NULL;
	if (!max_len)
		return -EINVAL;
	for (unsigned i = 0; i < nspans; i++) {
		const struct ft_pktgen_span *s = &spans[i];
		if (s->split < 1 || s->split > s->len || s->split > FT_PKTGEN_MAX_SPLIT)
			return -EINVAL;
		if (i && s->off < spans[i - 1].off + spans[i - 1].len)
			return -EINVAL;
		for (uint32_t k = 0; k < s->split; k++)
			if (span_cut(s, k + 1) - span_cut(s, k) > max_len)
				return -EINVAL;
		ncuts += s->split - 1;
		need = s->off + s->len;
	}
	uint64_t *cuts = NULL;
	if (ncuts) {
		cuts = malloc(ncuts * sizeof(*cuts));
		if (!cuts)
			return -ENOMEM;
		size_t n = 0;
		for (unsigned i = 0; i < nspans; i++)
			for (uint32_t k = 1; k < spans[i].split; k++)
				cuts[n++] = span_cut(&spans[i], k);
	}
	size_t cap = min_segs + 8 + 2 * nspans + ncuts;
	struct ft_pktgen_seg *segs = malloc(cap * sizeof(*segs));
	if (!segs) {
		free(cuts);
		return -ENOMEM;
	}
	uint64_t pos = 0;
	size_t n = 0, ci = 0;
	unsigned sj = 0;
	long rc = 0;
	while (n < min_segs || pos < need) {
		uint64_t s = size_fn(ctx);
		if (s < 1)
			s = 1;
		if (s > max_len)
			s = max_len;
		uint64_t e = pos + s;
		while (ci < ncuts && cuts[ci] <= pos)
			ci++;
		if (ci < ncuts && e > cuts[ci]) {
			e = cuts[ci]; /* never cross a cut */
		} else {
			while (sj < nspans && spans[sj].off + spans[sj].len <= pos)
				sj++;
			for (unsigned j = sj; j < nspans && spans[j].off < e; j++) {
				uint64_t so = spans[j].off, se = so + spans[j].len;
				if (e <= so || e >= se)
					continue;
				if (ci < ncuts && cuts[ci] == e)
					break; /* ends on a cut: wanted */
				if (so > pos) {
					e = so; /* shorten: the span starts the next segment */
				} else {
					/* pos is the span start or a cut: reach the next one */
					e = (ci < ncuts && cuts[ci] < se) ? cuts[ci] : se;
					if (e - pos > max_len) {
						rc = -EINVAL;
						goto out;
					}
				}
				break;
			}
		}
		if (n == cap) {
			size_t nc = cap * 2;
			struct ft_pktgen_seg *ns = realloc(segs, nc * sizeof(*segs));
			if (!ns) {
				rc = -ENOMEM;
				goto out;
			}
			segs = ns;
			cap = nc;
		}
		segs[n].off = pos;
		segs[n].len = (uint32_t)(e - pos);
		n++;
		pos = e;
	}
out:
	free(cuts);
	if (rc) {
		free(segs);
		return rc;
	}
	*out = segs;
	return (long)n;
}

/* ---- planning ------------------------------------------------------------------ */

enum step_type { ST_DATA = 0, ST_ZW, ST_MAL };
#define ST_HIDDEN 0x80 /* in attr: segment sent but not captured */

struct step {
	uint64_t key;
	uint64_t dur; /* zero window */
	uint32_t serial;
	uint32_t seg;
	uint16_t note;
	uint8_t type;
	uint8_t dir;
	uint8_t attr;
	uint8_t mal;
};

/* Out-of-order bytes a receiver holds beyond its contiguous point. */
struct rcv {
	uint64_t nxt;
	struct {
		uint64_t a, b;
	} * iv;
	size_t n, cap;
};

static int
rcv_deliver(struct rcv *r, uint64_t a, uint64_t b)
{
	if (a <= r->nxt) {
		if (b > r->nxt)
			r->nxt = b;
		/* absorb held intervals now contiguous (kept sorted by start) */
		size_t k = 0;
		while (k < r->n && r->iv[k].a <= r->nxt) {
			if (r->iv[k].b > r->nxt)
				r->nxt = r->iv[k].b;
			k++;
		}
		if (k) {
			memmove(r->iv, r->iv + k, (r->n - k) * sizeof(*r->iv));
			r->n -= k;
		}
		return 0;
	}
	if (r->n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 8;
		void *ni = realloc(r->iv, nc * sizeof(*r->iv));
		if (!ni)
			return -ENOMEM;
		r->iv = ni;
		r->cap = nc;
	}
	size_t k = r->n;
	while (k && r->iv[k - 1].a > a) {
		r->iv[k] = r->iv[k - 1];
		k--;
	}
	r->iv[k].a = a;
	r->iv[k].b = b;
	r->n++;
	return 0;
}

struct size_ctx {
	const struct ft_pktgen_class *c;
	struct ft_pktgen_rng *r;
	uint32_t hdr;
	uint32_t maxpay;
};

static uint32_t
size_fn(void *arg)
{
	struct size_ctx *s = arg;
	uint64_t fs = ft_pktgen_dist_draw(&s->c->size, s->r);
	uint64_t p = fs > s->hdr ? fs - s->hdr : 1;
	if (p > s->maxpay)
		p = s->maxpay;
	if (s->c->proto == 132 && p >= 4)
		p &= ~3ULL; /* whole chunks: the frame is then exactly the size asked */
	return (uint32_t)p;
}

static int
add_note(struct pg_flow *f, const struct pg_note *n)
{
	if (f->nnotes >= PG_NOTE_NONE)
		return -ENOSPC;
	if (f->nnotes == f->cap_notes) {
		unsigned nc = f->cap_notes ? f->cap_notes * 2 : 4;
		struct pg_note *nn = realloc(f->notes, nc * sizeof(*nn));
		if (!nn)
			return -ENOMEM;
		f->notes = nn;
		f->cap_notes = nc;
	}
	f->notes[f->nnotes] = *n;
	return (int)f->nnotes++;
}

/* Plans are built in the planner's scratch array, then moved to the arena. */
static struct pg_pkt *
add_pkt(struct pg_planner *pl, struct pg_flow *f)
{
	if (f->npkts == pl->pkts_cap) {
		size_t nc = pl->pkts_cap ? pl->pkts_cap * 2 : 256;
		struct pg_pkt *np = realloc(pl->pkts, nc * sizeof(*np));
		if (!np)
			return NULL;
		pl->pkts = np;
		pl->pkts_cap = nc;
	}
	f->pkts = pl->pkts;
	struct pg_pkt *p = &f->pkts[f->npkts++];
	memset(p, 0, sizeof(*p));
	p->note = PG_NOTE_NONE;
	return p;
}

static int
cmp_step(const void *a, const void *b)
{
	const struct step *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->serial < y->serial ? -1 : x->serial > y->serial;
}

static int
cmp_span(const void *a, const void *b)
{
	const struct ft_pktgen_span *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

static int
grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 64;
	while (nc < need)
		nc *= 2;
	void *np = realloc(*p, nc * elem);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = nc;
	return 0;
}

/* Segment of direction d holding stream offset x (binary search), or -1. */
static long
seg_at(const struct ft_pktgen_seg *s, uint32_t n, uint64_t x)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (s[mid].off + s[mid].len <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && s[lo].off <= x ? (long)lo : -1;
}

struct walk {
	struct pg_planner *pl;
	struct pg_flow *f;
	const struct ft_pktgen_class *c;
	struct ft_pktgen_rng *r;
	uint64_t t;
	uint64_t base_gap;
	uint64_t timeout;
	uint64_t snd_nxt[2]; /* stream bytes sent (captured or not) */
	struct rcv rcv[2];   /* receiver state of stream d */
	uint32_t owed[2];    /* data segments endpoint e received and has not acked */
	uint32_t fin[2];     /* 1 once d sent FIN */
	uint32_t data_tsn_next[2];
	uint32_t icmp_seq;
};

static uint64_t
next_gap(struct walk *w, uint32_t frame_len)
{
	uint64_t g = w->base_gap;
	if (w->c->rate_bps > 0)
		g = (uint64_t)llround((double)frame_len * 8e9 / w->c->rate_bps);
	if (w->c->gap_exp && g) {
		double u = ft_pktgen_rng_double(w->r);
		double v = -log1p(-u) * (double)g;
		g = (uint64_t)llround(v);
		if (w->timeout && g > w->timeout / 2)
			g = w->timeout / 2;
	}
	return g;
}

/* The ack a packet from endpoint e carries: what e holds of the other stream. */
static uint32_t
ack_of(const struct walk *w, int e)
{
	int o = !e;
	return w->f->isn[o] + 1 + (uint32_t)w->rcv[o].nxt + w->fin[o];
}

static uint32_t
seq_of(const struct walk *w, int e)
{
	return w->f->isn[e] + 1 + (uint32_t)w->snd_nxt[e] + w->fin[e];
}

static struct pg_pkt *
tcp_ctrl(struct walk *w, int dir, uint8_t flags, uint64_t ts)
{
	struct pg_pkt *p = add_pkt(w->pl, w->f);
	if (!p)
		return NULL;
	p->ts = ts;
	p->dir = (uint8_t)dir;
	p->kind = PG_PK_CTRL;
	p->flags = flags;
	p->seq = seq_of(w, dir);
	p->ack = (flags & 0x10) ? ack_of(w, dir) : 0;
	p->win = w->c->window;
	return p;
}

static struct pg_pkt *
sctp_ctrl(struct walk *w, int dir, uint8_t chunk, uint64_t ts)
{
	struct pg_pkt *p = add_pkt(w->pl, w->f);
	if (!p)
		return NULL;
	p->ts = ts;
	p->dir = (uint8_t)dir;
	p->kind = PG_PK_CTRL;
	p->flags = chunk;
	/* cumulative TSN ack: last TSN received in order from the other side */
	p->ack = w->f->isn[!dir] + w->data_tsn_next[!dir] - 1;
	return p;
}

int
pg_plan_flow(struct pg_planner *pl, struct pg_flow *f, const struct ft_pktgen_scenario *sc,
	     const struct ft_pktgen_class *c, struct ft_pktgen_rng *r, uint64_t t0,
	     const uint64_t mal[FT_PKTGEN_MAL_MAX], uint64_t timeout_ns, char *err, size_t errlen)
{
	const uint8_t proto = f->hdr.proto;
	const int tcp = proto == 6, sctp = proto == 132, icmp = proto == 1 || proto == 58;
	const uint32_t hdr = pg_class_hdr_len(c, f->ipv);
	const uint32_t maxpay = pg_class_max_payload(c, f->ipv);
	uint64_t nd[2];
	int rc = -ENOMEM;
	struct walk w = {.pl = pl, .f = f, .c = c, .r = r, .timeout = timeout_ns};

	f->pkts = pl->pkts;
	f->npkts = 0;
	f->wrap_off[0] = f->wrap_off[1] = UINT64_MAX;

	/* data packets per direction */
	if (c->per_dir) {
		nd[0] = ft_pktgen_dist_draw(&c->packets_dir[0], r);
		nd[1] = ft_pktgen_dist_draw(&c->packets_dir[1], r);
	} else {
		uint64_t n = ft_pktgen_dist_draw(&c->packets, r);
		nd[0] = (uint64_t)llround((double)n * c->share);
		if (nd[0] > n)
			nd[0] = n;
		nd[1] = n - nd[0];
	}

	/* pattern instances */
	struct ft_pktgen_span spans[2][FT_PKTGEN_MAX_PLACE];
	unsigned nspan[2] = {0, 0};
	for (unsigned k = 0; k < c->n_place; k++) {
		const struct ft_pktgen_place *p = &c->place[k];
		if (p->fraction < 1 && ft_pktgen_rng_double(r) >= p->fraction)
			continue;
		const struct ft_pktgen_pattern *pat = &sc->patterns[p->pattern];
		uint32_t len;
		const uint8_t *src;
		if (pat->literal) {
			len = pat->literal_len;
			src = pat->literal;
		} else {
			len = ft_pktgen_regex_generate(pat->re, r, pl->scratch,
						       sizeof(pl->scratch));
			src = pl->scratch;
		}
		struct pg_inst *ni = realloc(f->inst, (f->ninst + 1) * sizeof(*ni));
		if (!ni)
			return -ENOMEM;
		f->inst = ni;
		struct pg_inst *in = &f->inst[f->ninst];
		memset(in, 0, sizeof(*in));
		in->bytes = malloc(len);
		if (!in->bytes)
			return -ENOMEM;
		memcpy(in->bytes, src, len);
		f->ninst++;
		in->pattern = p->pattern;
		in->dir = p->dir;
		in->split = p->split;
		in->len = len;
		in->off = p->offset;
		spans[p->dir][nspan[p->dir]++] =
			(struct ft_pktgen_span){.off = p->offset, .len = len, .split = p->split};
	}

	/* segments */
	struct size_ctx sz = {.c = c, .r = r, .hdr = hdr, .maxpay = maxpay};
	for (int d = 0; d < 2; d++) {
		free(pl->segs[d]);
		pl->segs[d] = NULL;
		qsort(spans[d], nspan[d], sizeof(spans[d][0]), cmp_span);
		long n = ft_pktgen_segment(spans[d], nspan[d], size_fn, &sz, nd[d], maxpay,
					   &pl->segs[d]);
		if (n < 0) {
			pg_err(err, errlen,
			       "class %s: cannot cut the %s stream around its patterns", c->name,
			       d ? "rev" : "fwd");
			return (int)n;
		}
		if ((uint64_t)n > UINT32_MAX - 1)
			return -E2BIG;
		f->nseg[d] = (uint32_t)n;
		f->stream_len[d] = n ? pl->segs[d][n - 1].off + pl->segs[d][n - 1].len : 0;
	}
	for (unsigned k = 0; k < f->ninst; k++) {
		struct pg_inst *in = &f->inst[k];
		in->seg_first = (uint32_t)seg_at(pl->segs[in->dir], f->nseg[in->dir], in->off);
		in->seg_last = (uint32_t)seg_at(pl->segs[in->dir], f->nseg[in->dir],
						in->off + in->len - 1);
	}

	/* data order */
	uint64_t ns = (uint64_t)f->nseg[0] + f->nseg[1];
	if (grow(&pl->steps, &pl->steps_cap, ns + 64, sizeof(struct step)))
		return -ENOMEM;
	for (int d = 0; d < 2; d++)
		if (grow((void **)&pl->pos[d], &pl->pos_cap[d], f->nseg[d] + 1, sizeof(uint32_t)))
			return -ENOMEM;
	struct step *st = pl->steps;
	size_t nst = 0;
	{
		uint64_t a = f->nseg[0], taken[2] = {0, 0};
		for (uint64_t k = 0; k < ns; k++) {
			int d;
			if (c->order_request)
				d = k >= a;
			else /* ceil() spreading puts the first fwd packet first */
				d = !((((k + 1) * a + ns - 1) / ns) > ((k * a + ns - 1) / ns));
			struct step *s = &st[nst];
			memset(s, 0, sizeof(*s));
			s->type = ST_DATA;
			s->dir = (uint8_t)d;
			s->seg = (uint32_t)taken[d]++;
			s->attr = PG_A_FIRST;
			s->note = PG_NOTE_NONE;
			s->serial = (uint32_t)nst;
			s->key = (uint64_t)nst << 8;
			pl->pos[d][s->seg] = (uint32_t)nst;
			nst++;
		}
	}

	/* TCP pathologies: gaps, then reorders, then retransmissions (keys). */
	struct {
		uint8_t dir;
		uint64_t at, dur;
	} zw[FT_PKTGEN_MAX_PATH];
	unsigned nzw = 0;
	for (int pass = 0; pass < 3 && tcp; pass++) {
		for (unsigned k = 0; k < c->n_path; k++) {
			const struct ft_pktgen_path *pa = &c->path[k];
			int d = pa->dir;
			uint32_t nsd = f->nseg[d];
			int want = pass == 0   ? pa->kind == FT_PKTGEN_PATH_GAP
				   : pass == 1 ? pa->kind == FT_PKTGEN_PATH_REORDER
					       : (pa->kind == FT_PKTGEN_PATH_RETRANS ||
						  pa->kind == FT_PKTGEN_PATH_CONFLICT);
			if (pass == 0 && pa->kind == FT_PKTGEN_PATH_WRAP) {
				f->isn[d] = (uint32_t)(0xffffffffu - (uint32_t)pa->at);
				f->wrap_off[d] = pa->at;
			}
			if (pass == 0 && pa->kind == FT_PKTGEN_PATH_ZERO_WINDOW) {
				zw[nzw].dir = (uint8_t)d;
				zw[nzw].at = pa->at;
				zw[nzw].dur = pa->dur_ns;
				nzw++;
			}
			if (!want || !nsd)
				continue;
			uint32_t lo = 0, hi = 0; /* segments [lo, hi) considered */
			if (pa->target == FT_PKTGEN_TARGET_INDEX) {
				if (pa->at >= nsd)
					continue;
				lo = (uint32_t)pa->at;
				hi = lo + 1;
			} else if (pa->target == FT_PKTGEN_TARGET_OFFSET) {
				long j = seg_at(pl->segs[d], nsd, pa->at);
				if (j < 0)
					continue;
				lo = (uint32_t)j;
				hi = lo + 1;
			} else {
				lo = 0;
				hi = nsd;
			}
			for (uint32_t j = lo; j < hi; j++) {
				if (pa->target == FT_PKTGEN_TARGET_PROB &&
				    !(ft_pktgen_rng_double(r) < pa->prob))
					continue;
				struct step *orig = &st[pl->pos[d][j]];
				const struct ft_pktgen_seg *sg = &pl->segs[d][j];
				struct pg_note note = {.dir = (uint8_t)d,
						       .off = sg->off,
						       .len = sg->len,
						       .seg = j,
						       .n = pa->n,
						       .inst = -1};
				if (pass == 0) {
					if (orig->attr & ST_HIDDEN)
						continue;
					orig->attr |= ST_HIDDEN;
					note.type = PG_NOTE_GAP;
					f->gap_bytes[d] += sg->len;
					if ((rc = add_note(f, &note)) < 0)
						return rc;
					continue;
				}
				uint32_t after = j + pa->n < nsd ? j + pa->n : nsd - 1;
				uint64_t key = st[pl->pos[d][after]].key;
				/* a copy never goes before its (possibly delayed) original */
				if (pass == 2 && orig->key > key)
					key = orig->key;
				if (orig->attr & ST_HIDDEN)
					continue; /* never captured: nothing to move or repeat */
				if (pass == 1) {
					if (after == j || (orig->attr & PG_A_REORDERED))
						continue;
					note.type = PG_NOTE_REORDER;
					note.n = after - j;
					orig->key = key + 0x40 +
						    (orig->key & 0x3f); /* stays in order */
					orig->attr |= PG_A_REORDERED;
					if ((rc = add_note(f, &note)) < 0)
						return rc;
					orig->note = (uint16_t)rc;
					continue;
				}
				if (grow(&pl->steps, &pl->steps_cap, nst + 1, sizeof(struct step)))
					return -ENOMEM;
				st = pl->steps;
				orig = &st[pl->pos[d][j]];
				struct step *cp = &st[nst];
				*cp = *orig;
				cp->attr = pa->kind == FT_PKTGEN_PATH_CONFLICT ? PG_A_CONFLICT
									       : PG_A_RETRANS;
				cp->key = key + 0x80;
				cp->serial = (uint32_t)nst;
				note.type = PG_NOTE_RETRANS;
				note.n = after - j;
				note.conflict = pa->kind == FT_PKTGEN_PATH_CONFLICT;
				if (note.conflict && pa->pattern >= 0) {
					/* a pattern inside the conflicting bytes only */
					const struct ft_pktgen_pattern *pat =
						&sc->patterns[pa->pattern];
					uint32_t len;
					const uint8_t *src;
					if (pat->literal) {
						len = pat->literal_len;
						src = pat->literal;
					} else {
						len = ft_pktgen_regex_generate(pat->re, r,
									       pl->scratch,
									       sizeof(pl->scratch));
						src = pl->scratch;
					}
					if (len > sg->len)
						len = sg->len;
					struct pg_inst *ni =
						realloc(f->inst, (f->ninst + 1) * sizeof(*ni));
					if (!ni)
						return -ENOMEM;
					f->inst = ni;
					struct pg_inst *in = &f->inst[f->ninst];
					memset(in, 0, sizeof(*in));
					in->bytes = malloc(len ? len : 1);
					if (!in->bytes)
						return -ENOMEM;
					memcpy(in->bytes, src, len);
					in->pattern = (uint16_t)pa->pattern;
					in->dir = (uint8_t)d;
					in->split = 1;
					in->conflict_only = 1;
					in->len = len;
					in->off = sg->off;
					in->seg_first = in->seg_last = j;
					note.inst = (int)f->ninst++;
				}
				if ((rc = add_note(f, &note)) < 0)
					return rc;
				cp->note = (uint16_t)rc;
				nst++;
			}
		}
	}
	if (nst > 1)
		qsort(st, nst, sizeof(*st), cmp_step);

	/* zero windows: before the first new data of the stream at or past the offset */
	for (unsigned k = 0; k < nzw; k++) {
		size_t i;
		for (i = 0; i < nst; i++)
			if (st[i].type == ST_DATA && st[i].dir == zw[k].dir &&
			    (st[i].attr & (PG_A_FIRST | PG_A_REORDERED)) &&
			    pl->segs[st[i].dir][st[i].seg].off >= zw[k].at)
				break;
		if (i == nst)
			continue;
		if (grow(&pl->steps, &pl->steps_cap, nst + 1, sizeof(struct step)))
			return -ENOMEM;
		st = pl->steps;
		memmove(&st[i + 1], &st[i], (nst - i) * sizeof(*st));
		memset(&st[i], 0, sizeof(st[i]));
		st[i].type = ST_ZW;
		st[i].dir = zw[k].dir;
		st[i].dur = zw[k].dur;
		struct pg_note note = {.type = PG_NOTE_ZERO_WINDOW,
				       .dir = zw[k].dir,
				       .off = pl->segs[st[i + 1].dir][st[i + 1].seg].off,
				       .inst = -1};
		if ((rc = add_note(f, &note)) < 0)
			return rc;
		st[i].note = (uint16_t)rc;
		nst++;
	}

	/* malformed packets at random places after the first step */
	for (int k = 0; k < FT_PKTGEN_MAL_MAX; k++) {
		for (uint64_t m = 0; m < mal[k]; m++) {
			if (grow(&pl->steps, &pl->steps_cap, nst + 1, sizeof(struct step)))
				return -ENOMEM;
			st = pl->steps;
			size_t i = nst ? 1 + (size_t)ft_pktgen_rng_below(r, nst) : 0;
			memmove(&st[i + 1], &st[i], (nst - i) * sizeof(*st));
			memset(&st[i], 0, sizeof(st[i]));
			st[i].type = ST_MAL;
			st[i].mal = (uint8_t)k;
			st[i].dir =
				(uint8_t)(nd[1] && nd[0] ? ft_pktgen_rng_below(r, 2) : nd[1] > 0);
			struct pg_note note = {.type = PG_NOTE_MAL,
					       .dir = st[i].dir,
					       .mal = (uint8_t)k,
					       .inst = -1};
			if ((rc = add_note(f, &note)) < 0)
				return rc;
			st[i].note = (uint16_t)rc;
			nst++;
		}
	}

	/* the walk */
	uint64_t ndata = 0;
	for (size_t i = 0; i < nst; i++)
		ndata += st[i].type == ST_DATA && (st[i].attr & (PG_A_FIRST | PG_A_REORDERED));
	if (c->has_duration) {
		uint64_t dur = ft_pktgen_dist_draw(&c->duration, r);
		w.base_gap = ndata > 1 ? dur / (ndata - 1) : dur;
	} else if (c->rate_pps > 0) {
		w.base_gap = (uint64_t)llround(1e9 / c->rate_pps);
	} else {
		w.base_gap = 1000000; /* 1000 packets/s per flow */
	}
	uint64_t rtt = ft_pktgen_dist_draw(&c->rtt, r);
	uint64_t rtt_s = (uint64_t)llround((double)rtt * c->rtt_server_share);
	uint64_t rtt_c = rtt - rtt_s;
	uint64_t t = t0;
	if (tcp) {
		if (c->handshake) {
			struct pg_pkt *p = add_pkt(pl, f);
			if (!p)
				return -ENOMEM;
			p->ts = t;
			p->kind = PG_PK_CTRL;
			p->flags = 0x02;
			p->seq = f->isn[0];
			p->win = c->window;
			p->attr = PG_A_SYNOPT;
			t += rtt_s;
			if (!(p = add_pkt(pl, f)))
				return -ENOMEM;
			p->ts = t;
			p->dir = 1;
			p->kind = PG_PK_CTRL;
			p->flags = 0x12;
			p->seq = f->isn[1];
			p->ack = f->isn[0] + 1;
			p->win = c->window;
			p->attr = PG_A_SYNOPT;
			t += rtt_c;
			if (!tcp_ctrl(&w, 0, 0x10, t))
				return -ENOMEM;
			f->has_rtt = 1;
			f->rtt_ns = rtt;
			f->rtt_server_ns = rtt_s;
			t += w.base_gap;
		}
	} else if (sctp) {
		if (c->handshake) {
			uint8_t seq[4] = {PG_SCTP_INIT, PG_SCTP_INIT_ACK, PG_SCTP_COOKIE_ECHO,
					  PG_SCTP_COOKIE_ACK};
			for (int k = 0; k < 4; k++) {
				if (!sctp_ctrl(&w, k & 1, seq[k], t))
					return -ENOMEM;
				t += (k & 1) ? rtt_c : rtt_s;
			}
			f->has_rtt = 1;
			f->rtt_ns = rtt;
			f->rtt_server_ns = rtt_s;
			t += w.base_gap;
		}
	}
	w.t = t;
	for (size_t i = 0; i < nst; i++) {
		struct step *s = &st[i];
		int d = s->dir;
		if (s->type == ST_MAL) {
			struct pg_pkt *p = add_pkt(pl, f);
			if (!p)
				return -ENOMEM;
			/* halfway between the previous packet and the next one */
			uint64_t last = f->npkts > 1 ? f->pkts[f->npkts - 2].ts : w.t;
			p->ts = last + (w.t - last) / 2;
			p->dir = (uint8_t)d;
			p->kind = PG_PK_MAL;
			p->mal = s->mal;
			p->note = s->note;
			if (tcp) {
				p->flags = 0x10;
				p->seq = seq_of(&w, d);
				p->ack = ack_of(&w, d);
				p->win = c->window;
			} else if (sctp) {
				p->flags = PG_SCTP_SACK;
				p->ack = f->isn[!d] + w.data_tsn_next[!d] - 1;
			} else if (icmp) {
				p->seq = w.icmp_seq;
			}
			f->notes[s->note].ts = p->ts;
			continue;
		}
		if (s->type == ST_ZW) {
			int rcvr = !d;
			struct pg_pkt *p = tcp_ctrl(&w, rcvr, 0x10, w.t);
			if (!p)
				return -ENOMEM;
			p->win = 0;
			p->note = s->note;
			struct pg_note *n = &f->notes[s->note];
			n->ts = w.t;
			/* Linux-style window probe: one byte below snd_nxt, no data. */
			if (!(p = tcp_ctrl(&w, d, 0x10, w.t + s->dur / 2)))
				return -ENOMEM;
			p->seq -= 1;
			if (!(p = tcp_ctrl(&w, rcvr, 0x10, w.t + s->dur)))
				return -ENOMEM;
			p->note = s->note;
			f->notes[s->note].ts2 = w.t + s->dur;
			w.t += s->dur + w.base_gap / 2;
			continue;
		}
		const struct ft_pktgen_seg *sg = &pl->segs[d][s->seg];
		uint32_t flen = hdr + sg->len;
		if (!(s->attr & ST_HIDDEN)) {
			struct pg_pkt *p = add_pkt(pl, f);
			if (!p)
				return -ENOMEM;
			p->ts = w.t;
			p->dir = (uint8_t)d;
			p->kind = PG_PK_DATA;
			p->off = sg->off;
			p->len = sg->len;
			p->seg = s->seg;
			p->attr = s->attr;
			p->note = s->note;
			if (tcp) {
				p->flags = 0x18;
				p->seq = f->isn[d] + 1 + (uint32_t)sg->off;
				p->ack = ack_of(&w, d);
				p->win = c->window;
			} else if (sctp) {
				p->flags = PG_SCTP_DATA;
				p->seq = f->isn[d] + s->seg;
			} else if (icmp) {
				if (d == 0)
					w.icmp_seq++;
				p->seq = w.icmp_seq;
			}
			if (p->note != PG_NOTE_NONE)
				f->notes[p->note].ts = p->ts;
		}
		if (s->attr & (PG_A_FIRST | PG_A_REORDERED)) {
			if (rcv_deliver(&w.rcv[d], sg->off, sg->off + sg->len))
				return -ENOMEM;
			if (sg->off + sg->len > w.snd_nxt[d])
				w.snd_nxt[d] = sg->off + sg->len;
			if (sctp)
				w.data_tsn_next[d] = s->seg + 1;
			w.owed[!d]++;
		}
		w.owed[d] = 0; /* d's packet acknowledged what it had */
		uint64_t tcur = w.t;
		w.t += next_gap(&w, flen);
		if ((tcp || sctp) && c->ack_every && w.owed[!d] >= c->ack_every) {
			int piggy = i + 1 < nst && st[i + 1].type == ST_DATA && st[i + 1].dir != d;
			if (!piggy) {
				uint64_t ta = tcur + (w.t - tcur) / 2;
				if (!(tcp ? tcp_ctrl(&w, !d, 0x10, ta)
					  : sctp_ctrl(&w, !d, PG_SCTP_SACK, ta)))
					return -ENOMEM;
				w.owed[!d] = 0;
			}
		}
	}
	/* acknowledge what is still owed before closing */
	for (int e = 0; e < 2 && (tcp || sctp) && c->ack_every; e++)
		if (w.owed[e]) {
			if (!(tcp ? tcp_ctrl(&w, e, 0x10, w.t)
				  : sctp_ctrl(&w, e, PG_SCTP_SACK, w.t)))
				return -ENOMEM;
			w.owed[e] = 0;
			w.t += w.base_gap / 2;
		}

	/* teardown */
	int closer = c->teardown == FT_PKTGEN_TEARDOWN_FIN_REV ||
		     c->teardown == FT_PKTGEN_TEARDOWN_RST_REV;
	uint64_t d1 = closer ? rtt_c : rtt_s, d2 = closer ? rtt_s : rtt_c;
	switch (c->teardown) {
	case FT_PKTGEN_TEARDOWN_FIN:
	case FT_PKTGEN_TEARDOWN_FIN_REV:
		if (tcp) {
			if (!tcp_ctrl(&w, closer, 0x11, w.t))
				return -ENOMEM;
			w.fin[closer] = 1;
			if (!tcp_ctrl(&w, !closer, 0x11, w.t + d1))
				return -ENOMEM;
			w.fin[!closer] = 1;
			if (!tcp_ctrl(&w, closer, 0x10, w.t + d1 + d2))
				return -ENOMEM;
			f->end_kind = 1;
		} else if (sctp) {
			if (!sctp_ctrl(&w, closer, PG_SCTP_SHUTDOWN, w.t) ||
			    !sctp_ctrl(&w, !closer, PG_SCTP_SHUTDOWN_ACK, w.t + d1) ||
			    !sctp_ctrl(&w, closer, PG_SCTP_SHUTDOWN_COMPLETE, w.t + d1 + d2))
				return -ENOMEM;
		}
		break;
	case FT_PKTGEN_TEARDOWN_RST:
	case FT_PKTGEN_TEARDOWN_RST_REV:
		if (tcp) {
			if (!tcp_ctrl(&w, closer, 0x14, w.t))
				return -ENOMEM;
			f->end_kind = 2;
		} else if (sctp) {
			if (!sctp_ctrl(&w, closer, PG_SCTP_ABORT, w.t))
				return -ENOMEM;
		}
		break;
	case FT_PKTGEN_TEARDOWN_NONE:
		break;
	}
	free(w.rcv[0].iv);
	free(w.rcv[1].iv);

	/* Segment frames are needed for pattern frames and original frames of
	 * retransmissions. */
	int need = f->ninst > 0;
	for (unsigned k = 0; k < f->nnotes && !need; k++)
		need = f->notes[k].type == PG_NOTE_RETRANS || f->notes[k].type == PG_NOTE_REORDER;
	if (need) {
		for (int d = 0; d < 2; d++) {
			f->seg_frame[d] = calloc(f->nseg[d] + 1, sizeof(uint64_t));
			if (!f->seg_frame[d])
				return -ENOMEM;
		}
		f->track_frames = 1;
	}
	/* The plan is in time order by construction except for packets placed
	 * inside a gap (pure ACKs, probes): order by time, keeping plan order. */
	for (uint32_t k = 1; k < f->npkts; k++) {
		if (f->pkts[k].ts >= f->pkts[k - 1].ts)
			continue;
		struct pg_pkt tmp = f->pkts[k];
		uint32_t j = k;
		while (j && f->pkts[j - 1].ts > tmp.ts) {
			f->pkts[j] = f->pkts[j - 1];
			j--;
		}
		f->pkts[j] = tmp;
	}
	/* move the plan out of the scratch array */
	struct pg_pkt *dst = f->inline_pkts;
	if (f->npkts > PG_ARRAY_SIZE(f->inline_pkts)) {
		dst = pg_arena_alloc(&pl->arena, f->npkts * sizeof(*dst), &f->pkts_cls);
		if (!dst) {
			f->pkts = NULL;
			return -ENOMEM;
		}
	}
	if (f->npkts)
		memcpy(dst, pl->pkts, f->npkts * sizeof(*dst));
	f->pkts = dst;
	return 0;
}

void
pg_flow_release(struct pg_planner *pl, struct pg_flow *f)
{
	if (f->pkts && f->pkts != f->inline_pkts && f->pkts != pl->pkts)
		pg_arena_free(&pl->arena, f->pkts, f->pkts_cls);
	f->pkts = NULL;
	for (unsigned k = 0; k < f->ninst; k++)
		free(f->inst[k].bytes);
	free(f->inst);
	f->inst = NULL;
	f->ninst = 0;
	free(f->notes);
	f->notes = NULL;
	f->nnotes = f->cap_notes = 0;
	free(f->seg_frame[0]);
	free(f->seg_frame[1]);
	f->seg_frame[0] = f->seg_frame[1] = NULL;
}

void
pg_planner_free(struct pg_planner *pl)
{
	free(pl->segs[0]);
	free(pl->segs[1]);
	free(pl->steps);
	free(pl->pos[0]);
	free(pl->pos[1]);
	free(pl->pend[0]);
	free(pl->pend[1]);
	free(pl->pkts);
	pg_arena_destroy(&pl->arena);
	memset(pl, 0, sizeof(*pl));
}
