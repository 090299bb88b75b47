/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the collector derives from the dataplane's statistics records: moments
 * and quantiles of the distributions, the global top-K of each interval (merged
 * from the workers'), and the latest statistics of every live flow.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"

/* ---------------------------------------------------------------- moments */

void
ft_stats_moments(uint64_t n, uint64_t sum, unsigned __int128 sumsq, double *mean, double *variance)
{
	uint64_t a, r;
	unsigned __int128 t, m2i;
	double m2;

	if (n == 0) {
		*mean = 0;
		*variance = 0;
		return;
	}
	/* n * variance = sumsq - sum^2 / n, and with sum = a * n + r that is
	 * sumsq - a^2 n - 2 a r - r^2 / n: every term but the last is an integer no
	 * larger than sumsq (a^2 n <= sum^2 / n <= sumsq), so nothing overflows
	 * and nothing cancels before the one rounding to double. */
	a = sum / n;
	r = sum % n;
	t = (unsigned __int128)a * a * n + (unsigned __int128)2 * a * r;
	m2i = sumsq > t ? sumsq - t : 0;
	m2 = (double)m2i - (double)((unsigned __int128)r * r) / (double)n;
	*mean = (double)sum / (double)n;
	*variance = m2 > 0 ? m2 / (double)n : 0;
}

uint64_t
ft_stats_quantile(const uint32_t *hist, unsigned nbins, uint64_t (*bin_lo)(unsigned), uint64_t min,
		  uint64_t max, unsigned permille, uint64_t *lo, uint64_t *hi)
{
	uint64_t n = 0, rank, c = 0, l, h;
	unsigned b;

	*lo = *hi = 0;
	for (b = 0; b < nbins; b++)
		n += hist[b];
	if (n == 0)
		return 0;
	rank = (n * permille + 999) / 1000;
	if (rank <= 1 || rank >= n) {
		/* The smallest or the largest value: known exactly. */
		*lo = *hi = rank <= 1 ? min : max;
		return *lo;
	}
	for (b = 0; b < nbins - 1; b++) {
		c += hist[b];
		if (c >= rank)
			break;
	}
	l = bin_lo(b);
	h = b + 1 < nbins ? bin_lo(b + 1) - 1 : UINT64_MAX;
	if (l < min)
		l = min;
	if (h > max)
		h = max;
	if (h < l) /* inconsistent input: trust the extremes */
		h = l;
	*lo = l;
	*hi = h;
	if (l == 0)
		return h / 2;
	{
		/* at most h, mathematically; rounding must not make it more */
		double v = 2.0 * (double)l * (double)h / ((double)l + (double)h) + 0.5;

		return v >= (double)h ? h : (uint64_t)v;
	}
}

/* ---------------------------------------------------------------- top-K */

void
ft_topk_merge_init(struct ft_topk_merge *m, uint32_t workers)
{
	ft_topk_merge_free(m);
	m->workers = workers < FT_EXPORT_MAX_WORKERS ? workers : FT_EXPORT_MAX_WORKERS;
}

void
ft_topk_merge_free(struct ft_topk_merge *m)
{
	for (uint32_t j = 0; j < m->npending; j++)
		free(m->pending[j].items);
	free(m->pending);
	free(m->result.items);
	free(m->by_bytes);
	free(m->by_packets);
	memset(m, 0, sizeof(*m));
}

static struct ft_topk_interval *
pending_for(struct ft_topk_merge *m, const struct ft_topk_record *r)
{
	uint32_t j;

	/* Records arrive roughly in time order: search from the newest. */
	for (j = m->npending; j > 0; j--) {
		if (m->pending[j - 1].time_ns == r->time_ns)
			return &m->pending[j - 1];
		if (m->pending[j - 1].time_ns < r->time_ns)
			break;
	}
	if (m->npending == m->cap) {
		uint32_t cap = m->cap ? m->cap * 2 : 16;
		struct ft_topk_interval *p = realloc(m->pending, cap * sizeof(*p));

		if (p == NULL)
			return NULL;
		m->pending = p;
		m->cap = cap;
	}
	memmove(&m->pending[j + 1], &m->pending[j], (m->npending - j) * sizeof(m->pending[0]));
	m->npending++;
	memset(&m->pending[j], 0, sizeof(m->pending[j]));
	m->pending[j].time_ns = r->time_ns;
	m->pending[j].interval_ns = r->interval_ns;
	m->pending[j].k = r->k;
	return &m->pending[j];
}

int
ft_topk_merge_add(struct ft_topk_merge *m, uint16_t worker, const struct ft_topk_record *r)
{
	struct ft_topk_interval *iv = pending_for(m, r);
	unsigned count = r->count < FT_TOPK_PER_RECORD ? r->count : FT_TOPK_PER_RECORD;

	if (iv == NULL)
		return -ENOMEM;
	if (iv->n + count > iv->cap) {
		uint32_t cap = iv->cap ? iv->cap * 2 : 32;
		struct ft_topk_item *p;

		while (cap < iv->n + count)
			cap *= 2;
		p = realloc(iv->items, cap * sizeof(*p));
		if (p == NULL)
			return -ENOMEM;
		iv->items = p;
		iv->cap = cap;
	}
	for (unsigned i = 0; i < count; i++) {
		struct ft_topk_item *it = &iv->items[iv->n++];

		it->e = r->entry[i];
		it->worker = worker;
		it->initiator = (r->initiator >> i) & 1;
	}
	return 0;
}

void
ft_topk_merge_through(struct ft_topk_merge *m, uint16_t worker, uint64_t time_ns)
{
	if (worker < m->workers && time_ns > m->through[worker])
		m->through[worker] = time_ns;
}

/* The dataplane's order (src/stats): count k, the other count, the key as six
 * words (lower first); then the flow id, which only the same 5-tuple seen
 * twice in one interval with equal counts could need. */
static int
rank_cmp(const struct ft_topk_item *a, const struct ft_topk_item *b, unsigned k)
{
	const uint64_t ca[2] = {a->e.bytes, a->e.packets}, cb[2] = {b->e.bytes, b->e.packets};

	if (ca[k] != cb[k])
		return ca[k] > cb[k] ? -1 : 1;
	if (ca[k ^ 1] != cb[k ^ 1])
		return ca[k ^ 1] > cb[k ^ 1] ? -1 : 1;
	for (unsigned w = 0; w < sizeof(a->e.key) / 8; w++) {
		uint64_t x = ft_flow_key_word(&a->e.key, w), y = ft_flow_key_word(&b->e.key, w);

		if (x != y)
			return x < y ? -1 : 1;
	}
	return a->e.flow_id < b->e.flow_id ? -1 : a->e.flow_id > b->e.flow_id;
}

static int
by_bytes_cmp(const void *a, const void *b)
{
	return rank_cmp(a, b, 0);
}

static int
by_packets_cmp(const void *a, const void *b)
{
	return rank_cmp(a, b, 1);
}

bool
ft_topk_merge_next(struct ft_topk_merge *m, bool all)
{
	struct ft_topk_interval iv;
	struct ft_topk_item *p;
	size_t size;

	if (m->npending == 0)
		return false;
	if (!all)
		for (uint32_t w = 0; w < m->workers; w++)
			if (m->through[w] < m->pending[0].time_ns)
				return false;
	iv = m->pending[0];
	m->npending--;
	memmove(&m->pending[0], &m->pending[1], m->npending * sizeof(m->pending[0]));
	free(m->result.items);
	m->result = iv; /* keeps its items until the next merge */
	m->n_bytes = m->n_packets = 0;
	size = (iv.n ? iv.n : 1) * sizeof(*p);
	if ((p = realloc(m->by_bytes, size)) == NULL)
		return false;
	m->by_bytes = p;
	if ((p = realloc(m->by_packets, size)) == NULL)
		return false;
	m->by_packets = p;
	if (iv.n == 0)
		return true;
	memcpy(m->by_bytes, iv.items, iv.n * sizeof(*p));
	memcpy(m->by_packets, iv.items, iv.n * sizeof(*p));
	qsort(m->by_bytes, iv.n, sizeof(*p), by_bytes_cmp);
	qsort(m->by_packets, iv.n, sizeof(*p), by_packets_cmp);
	m->n_bytes = m->n_packets = iv.n < iv.k ? iv.n : iv.k;
	return true;
}

/* ---------------------------------------------------------------- live flows */

static inline uint32_t
slot_of(uint64_t flow_id, uint32_t mask)
{
	return (uint32_t)((flow_id * 0x9e3779b97f4a7c15ULL) >> 32) & mask;
}

static int
live_grow(struct ft_live_flows *lf)
{
	uint32_t cap = lf->slots ? (lf->mask + 1) * 2 : 1024;
	struct ft_live_flow *slots = calloc(cap, sizeof(*slots));

	if (slots == NULL)
		return -ENOMEM;
	if (lf->slots != NULL) {
		for (uint32_t j = 0; j <= lf->mask; j++) {
			uint32_t s;

			if (!lf->slots[j].used)
				continue;
			for (s = slot_of(lf->slots[j].flow_id, cap - 1); slots[s].used;
			     s = (s + 1) & (cap - 1))
				;
			slots[s] = lf->slots[j];
		}
		free(lf->slots);
	}
	lf->slots = slots;
	lf->mask = cap - 1;
	return 0;
}

/* Slot of flow_id, or of the empty slot that ends its probe sequence. */
static uint32_t
live_probe(const struct ft_live_flows *lf, uint64_t flow_id)
{
	uint32_t s = slot_of(flow_id, lf->mask);

	while (lf->slots[s].used && lf->slots[s].flow_id != flow_id)
		s = (s + 1) & lf->mask;
	return s;
}

/* Linear probing without tombstones: close the gap by moving back every
 * later entry of the run that may live in it. */
static void
live_remove_at(struct ft_live_flows *lf, uint32_t s)
{
	uint32_t j = s;

	lf->slots[s].used = false;
	lf->count--;
	for (;;) {
		uint32_t home;

		j = (j + 1) & lf->mask;
		if (!lf->slots[j].used)
			return;
		home = slot_of(lf->slots[j].flow_id, lf->mask);
		/* Movable into s when its home is not in (s, j] (cyclically). */
		if (((j - home) & lf->mask) >= ((j - s) & lf->mask)) {
			lf->slots[s] = lf->slots[j];
			lf->slots[j].used = false;
			s = j;
		}
	}
}

int
ft_live_flows_update(struct ft_live_flows *lf, const struct ft_flow_stats_record *r)
{
	struct ft_live_flow *f;
	uint32_t s;

	if (r->kind == FT_FLOW_STATS_FINAL) {
		if (lf->slots != NULL) {
			s = live_probe(lf, r->flow_id);
			if (lf->slots[s].used)
				live_remove_at(lf, s);
		}
		return 0;
	}
	if ((lf->slots == NULL || (lf->count + 1) * 4 > (lf->mask + 1) * 3) && live_grow(lf) < 0)
		return -ENOMEM;
	s = live_probe(lf, r->flow_id);
	f = &lf->slots[s];
	if (!f->used) {
		f->used = true;
		f->flow_id = r->flow_id;
		lf->count++;
	}
	f->time_ns = r->time_ns;
	f->bucket_ns = r->bucket_ns;
	f->last_bytes = (uint64_t)r->dir[0].last_bytes + r->dir[1].last_bytes;
	f->last_packets = (uint64_t)r->dir[0].last_packets + r->dir[1].last_packets;
	return 0;
}

const struct ft_live_flow *
ft_live_flows_find(const struct ft_live_flows *lf, uint64_t flow_id)
{
	uint32_t s;

	if (lf->slots == NULL)
		return NULL;
	s = live_probe(lf, flow_id);
	return lf->slots[s].used ? &lf->slots[s] : NULL;
}

void
ft_live_flows_clear(struct ft_live_flows *lf)
{
	free(lf->slots);
	memset(lf, 0, sizeof(*lf));
}
