/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of src/stats against exact reference computations: windows at
 * bucket edges, gaps longer than the window, clock steps, exact moments on
 * constant and large values, histogram bins, TCP health, the liveness rule of
 * periodic records, independence from burst sizes, and the top-K against an
 * exact reference on adversarial streams (Space-Saving's guarantees).
 *
 * A real flow table feeds the statistics as the worker does (burst brackets,
 * end callback); records go to an in-memory sink. DPDK allocation is
 * redirected to libc (-Wl,--wrap), so no EAL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_errno.h>

#include "stats/stats.h"

#include "dpdk_malloc.h"
#include "test_pkt.h"

#define SEC 1000000000ULL
#define MS  1000000ULL
#define T0  (1700000000ULL * SEC)

/* The tests' flow hash (no CRC32C): the table recomputes it on removal. */
static uint32_t
test_hash(const struct ft_flow_key *k)
{
	return (uint32_t)(k->addr[0][3] * 2654435761U) ^ (k->addr[1][3] * 40503U) ^
	       (uint32_t)(k->port[0] << 16 | k->port[1]) ^ k->proto;
}

/* --- harness: a flow table, the statistics, a record sink ------------------ */

struct harness {
	struct ft_flow_table *ft;
	struct ft_stats *st;
	struct ft_worker_counters counters;
	struct ft_record *recs;
	size_t n, cap;
	uint64_t seq;
};

static struct ft_record *
sink(void *ctx, enum ft_record_type type, unsigned together)
{
	struct harness *h = ctx;
	struct ft_record *r;

	(void)together;
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 256;
		h->recs = realloc(h->recs, h->cap * sizeof(*h->recs));
		assert_non_null(h->recs);
	}
	r = &h->recs[h->n++];
	memset(r, 0xa5, sizeof(*r)); /* the caller must fill every byte it owns */
	r->type = (uint16_t)type;
	r->worker = 0;
	r->reserved = 0;
	r->seq = h->seq++;
	return r;
}

static void
on_end(void *ctx, const struct ft_flow *f, enum ft_end_reason reason)
{
	struct harness *h = ctx;
	struct ft_record *r = sink(h, FT_RECORD_FLOW, 1);

	ft_flow_to_record(f, reason, &r->flow);
	ft_stats_flow_end(h->st, f);
}

struct setup {
	uint64_t bucket_ns, interval_ns, udp_timeout_ns;
	uint32_t buckets, topk, capacity;
	bool histograms;
	double emergency_enter, emergency_leave, emergency_factor; /* the table's */
};

static void
harness_init(struct harness *h, const struct setup *s)
{
	struct ft_flow_table_params fp = {
		.capacity = s->capacity ? s->capacity : 1024,
		.socket_id = -1,
		.worker_id = 0,
		.expiry_budget = 1024,
		.key_hash = test_hash,
		.timeouts = {.tcp_new_ns = 60 * SEC,
			     .tcp_established_ns = 600 * SEC,
			     .tcp_closed_ns = 10 * SEC,
			     .udp_ns = s->udp_timeout_ns ? s->udp_timeout_ns : 60 * SEC,
			     .icmp_ns = 30 * SEC,
			     .other_ns = 60 * SEC},
		.emergency_enter = s->emergency_enter,
		.emergency_leave = s->emergency_leave,
		.emergency_factor = s->emergency_factor,
	};
	struct ft_stats_params sp = {
		.capacity = fp.capacity,
		.socket_id = -1,
		.bucket_ns = s->bucket_ns ? s->bucket_ns : SEC,
		.buckets = s->buckets ? s->buckets : 10,
		.interval_ns = s->interval_ns ? s->interval_ns : SEC,
		.topk = s->topk,
		.histograms = s->histograms,
		.counters = &h->counters,
		.record = sink,
		.record_ctx = h,
	};

	memset(h, 0, sizeof(*h));
	h->ft = ft_flow_table_create(&fp);
	assert_non_null(h->ft);
	sp.flows = h->ft;
	sp.counters = &h->counters;
	sp.record_ctx = h;
	h->st = ft_stats_create(&sp);
	assert_non_null(h->st);
}

static void
harness_free(struct harness *h)
{
	ft_stats_free(h->st);
	ft_flow_table_free(h->ft);
	free(h->recs);
}

/* One burst, as the worker's process() does it. */
static void
feed_burst(struct harness *h, struct ft_pkt *p, unsigned n)
{
	struct ft_pkt *pp[256];
	uint32_t idx[256];

	assert_true(n <= 256);
	for (unsigned k = 0; k < n; k++)
		pp[k] = &p[k];
	ft_stats_burst_begin(h->st, pp, idx, n);
	ft_flow_table_update_burst(h->ft, pp, n, idx, on_end, h);
	ft_stats_burst_end(h->st);
	ft_flow_table_expire(h->ft, p[n - 1].ts_ns, on_end, h);
	while (ft_stats_poll(h->st) > 0)
		;
}

/* Feed in bursts of `burst` packets, then end the input at end_ns. */
static void
feed_all(struct harness *h, struct ft_pkt *p, unsigned n, unsigned burst, uint64_t end_ns)
{
	for (unsigned k = 0; k < n; k += burst)
		feed_burst(h, p + k, n - k < burst ? n - k : burst);
	ft_stats_finish(h->st, end_ns);
	ft_flow_table_flush(h->ft, end_ns, FT_END_SHUTDOWN, on_end, h);
}

/* A packet from 10.0.0.a:pa to 10.0.0.b:pb. */
static struct ft_pkt
mkpkt(uint8_t proto, uint8_t a, uint16_t pa, uint8_t b, uint16_t pb, uint64_t ts, uint32_t len)
{
	struct ft_pkt p = ft_test_ipv4_pkt(proto, a, pa, b, pb, ts, len);

	p.hash = test_hash(&p.key);
	p.flags = FT_PKT_F_L4_PAYLOAD;
	return p;
}

static struct ft_pkt
mktcp(uint8_t a, uint16_t pa, uint8_t b, uint16_t pb, uint64_t ts, uint8_t flags, uint32_t seq,
      uint32_t payload, uint16_t window)
{
	struct ft_pkt p = mkpkt(6, a, pa, b, pb, ts, 54 + payload);

	p.tcp_flags = flags;
	p.tcp_seq = seq;
	p.tcp_window = window;
	p.payload_len = payload;
	p.payload_ip_len = payload;
	return p;
}

/* mktcp() for a capture that kept `captured` bytes of the payload (snaplen). */
static struct ft_pkt
mktcp_cut(uint8_t a, uint16_t pa, uint8_t b, uint16_t pb, uint64_t ts, uint8_t flags, uint32_t seq,
	  uint32_t payload, uint32_t captured)
{
	struct ft_pkt p = mktcp(a, pa, b, pb, ts, flags, seq, payload, 65535);

	p.payload_len = captured;
	return p;
}

/* The records of one type, optionally of one flow (by the key of a packet). */
static size_t
find(const struct harness *h, uint16_t type, const struct ft_pkt *of, const struct ft_record **out,
     size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < h->n; i++) {
		const struct ft_record *r = &h->recs[i];

		if (r->type != type)
			continue;
		if (of != NULL && type == FT_RECORD_FLOW_STATS &&
		    memcmp(&r->flow_stats.key, &of->key, sizeof(of->key)) != 0)
			continue;
		if (n < max)
			out[n] = r;
		n++;
	}
	return n;
}

/* The FLOW_DIST right after a FLOW_STATS. */
static const struct ft_flow_dist_record *
dist_of(const struct harness *h, const struct ft_record *fs)
{
	const struct ft_record *d = fs + 1;

	assert_true(d < h->recs + h->n);
	assert_int_equal(d->type, FT_RECORD_FLOW_DIST);
	assert_int_equal(d->seq, fs->seq + 1);
	assert_true(d->flow_dist.flow_id == fs->flow_stats.flow_id);
	assert_true(d->flow_dist.time_ns == fs->flow_stats.time_ns);
	return &d->flow_dist;
}

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* --- reference: one flow's packets ------------------------------------------ */

struct ref_pkt {
	uint64_t ts;
	uint32_t len;
	unsigned dir; /* relative to the initiator */
};

/* Window figures of direction d as of t (brute force). */
static void
ref_window(const struct ref_pkt *p, size_t n, unsigned d, uint64_t t, uint64_t w, unsigned nb,
	   struct ft_flow_stats_dir *out)
{
	uint64_t tb = t / w;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		if (p[i].dir != d || p[i].ts >= t)
			continue;
		out->packets++;
		out->bytes += p[i].len;
		if (p[i].ts >= t - w) {
			out->last_packets++;
			out->last_bytes += p[i].len;
		}
		if (p[i].ts + (uint64_t)nb * w >= t) {
			out->window_packets++;
			out->window_bytes += p[i].len;
		}
	}
	/* peak: the fullest bucket before tb */
	for (size_t i = 0; i < n; i++) {
		uint64_t m = p[i].ts / w;
		uint32_t pk = 0, by = 0;

		if (p[i].dir != d || m >= tb)
			continue;
		for (size_t j = 0; j < n; j++)
			if (p[j].dir == d && p[j].ts / w == m && p[j].ts < t)
				pk++, by += p[j].len;
		if (pk > out->peak_packets)
			out->peak_packets = pk;
		if (by > out->peak_bytes)
			out->peak_bytes = by;
	}
}

static void
assert_dir_equal(const struct ft_flow_stats_dir *got, const struct ft_flow_stats_dir *want,
		 const char *what, uint64_t t)
{
	if (got->packets != want->packets || got->bytes != want->bytes ||
	    got->last_packets != want->last_packets || got->last_bytes != want->last_bytes ||
	    got->window_packets != want->window_packets ||
	    got->window_bytes != want->window_bytes || got->peak_packets != want->peak_packets ||
	    got->peak_bytes != want->peak_bytes)
		fail_msg("%s at %" PRIu64 ": got packets %" PRIu64 " bytes %" PRIu64
			 " last %u/%u window %u/%" PRIu64 " peak %u/%u; want %" PRIu64 " %" PRIu64
			 " last %u/%u window %u/%" PRIu64 " peak %u/%u",
			 what, t, got->packets, got->bytes, got->last_packets, got->last_bytes,
			 got->window_packets, got->window_bytes, got->peak_packets, got->peak_bytes,
			 want->packets, want->bytes, want->last_packets, want->last_bytes,
			 want->window_packets, want->window_bytes, want->peak_packets,
			 want->peak_bytes);
}

/* --- windows ---------------------------------------------------------------- */

#define NFLOWS 3

/*
 * Random flows over 40 s: packets on bucket edges, one nanosecond before them,
 * in bursts, and after gaps longer than the whole window. Every periodic and
 * final record's windows, totals and peaks equal a brute-force count, and a
 * periodic record exists exactly for each interval a flow had packets in.
 */
static void
test_windows_random(void **state)
{
	struct setup s = {.bucket_ns = SEC, .buckets = 4, .interval_ns = 2 * SEC};
	uint64_t seed = 0x1234567;
	(void)state;

	for (unsigned round = 0; round < 20; round++) {
		struct harness h;
		struct ft_pkt pk[600];
		struct ref_pkt ref[NFLOWS][600];
		size_t nref[NFLOWS] = {0};
		unsigned n = 0, burst = 1 + (unsigned)(rnd(&seed) % 40);
		uint64_t t = T0 + rnd(&seed) % SEC;
		const struct ft_record *recs[2000];
		size_t nr;

		harness_init(&h, &s);
		while (n < 600) {
			unsigned f = (unsigned)(rnd(&seed) % NFLOWS);
			unsigned dir = (unsigned)(rnd(&seed) % 3 == 0);
			uint32_t len = 60 + (uint32_t)(rnd(&seed) % 1400);
			uint64_t r = rnd(&seed) % 100;

			if (r < 3)
				t += 5 * SEC + rnd(&seed) % (4 * SEC); /* longer than the window */
			else if (r < 20)
				t = (t / SEC + 1) * SEC; /* exactly on an edge */
			else if (r < 30)
				t = (t / SEC + 1) * SEC - 1; /* just before one */
			else if (r < 60)
				t += rnd(&seed) % (300 * MS);
			/* else: same timestamp as the previous packet */
			/* flow f: 10.0.0.(1+f):1000 <-> 10.0.0.200:53; the first packet
			 * of a flow is fwd */
			if (nref[f] == 0)
				dir = 0;
			pk[n] = dir == 0 ? mkpkt(17, (uint8_t)(1 + f), 1000, 200, 53, t, len)
					 : mkpkt(17, 200, 53, (uint8_t)(1 + f), 1000, t, len);
			ref[f][nref[f]++] = (struct ref_pkt){t, len, dir};
			n++;
		}
		feed_all(&h, pk, n, burst, t);

		nr = find(&h, FT_RECORD_FLOW_STATS, NULL, recs, 2000);
		assert_true(nr < 2000);
		for (unsigned f = 0; f < NFLOWS; f++) {
			struct ft_pkt key = mkpkt(17, (uint8_t)(1 + f), 1000, 200, 53, 0, 0);
			bool want_iv[256] = {false}, got_iv[256] = {false};
			uint64_t base = ref[f][0].ts / s.interval_ns;
			unsigned finals = 0;

			for (size_t i = 0; i < nref[f]; i++)
				want_iv[ref[f][i].ts / s.interval_ns - base] = true;
			for (size_t i = 0; i < nr; i++) {
				const struct ft_flow_stats_record *fs = &recs[i]->flow_stats;
				struct ft_flow_stats_dir want;

				if (memcmp(&fs->key, &key.key, sizeof(key.key)) != 0)
					continue;
				assert_int_equal(fs->time_ns % SEC, 0);
				assert_int_equal(fs->first_ns, ref[f][0].ts);
				for (unsigned d = 0; d < 2; d++) {
					ref_window(ref[f], nref[f], d, fs->time_ns, SEC, 4, &want);
					assert_dir_equal(&fs->dir[d], &want,
							 fs->kind ? "final" : "periodic",
							 fs->time_ns);
				}
				if (fs->kind == FT_FLOW_STATS_FINAL) {
					finals++;
					assert_int_equal(fs->time_ns,
							 (ref[f][nref[f] - 1].ts / SEC + 1) * SEC);
				} else {
					uint64_t iv = fs->time_ns / s.interval_ns - 1 - base;

					assert_int_equal(fs->time_ns % s.interval_ns, 0);
					assert_false(got_iv[iv]);
					got_iv[iv] = true;
				}
				(void)dist_of(&h, recs[i]);
			}
			assert_int_equal(finals, 1);
			assert_memory_equal(got_iv, want_iv, sizeof(want_iv));
		}
		harness_free(&h);
	}
}

/* A direction idle for longer than the window: the ring holds nothing stale
 * (the slot reused after wrapping is the one that counts). */
static void
test_window_idle_gap(void **state)
{
	struct setup s = {.bucket_ns = SEC, .buckets = 3, .interval_ns = SEC};
	struct harness h;
	struct ft_pkt p[8];
	const struct ft_record *r[16];
	size_t n;
	(void)state;

	harness_init(&h, &s);
	p[0] = mkpkt(17, 1, 1, 2, 2, T0 + 100 * MS, 100);
	p[1] = mkpkt(17, 1, 1, 2, 2, T0 + 1100 * MS, 200);
	p[2] = mkpkt(17, 1, 1, 2, 2, T0 + 2100 * MS, 300);
	/* 3 buckets later exactly (slot of bucket 2 + 3 = slot of bucket 2) */
	p[3] = mkpkt(17, 1, 1, 2, 2, T0 + 5100 * MS, 400);
	/* 10 buckets later */
	p[4] = mkpkt(17, 1, 1, 2, 2, T0 + 15000 * MS, 500);
	feed_all(&h, p, 5, 1, T0 + 15000 * MS);
	n = find(&h, FT_RECORD_FLOW_STATS, &p[0], r, 16);
	/* periodic at 1, 2, 3, 6, 16 s; final at 16 s */
	assert_int_equal(n, 6);
	assert_int_equal(r[3]->flow_stats.time_ns, T0 + 6 * SEC);
	assert_int_equal(r[3]->flow_stats.dir[0].last_bytes, 400);
	assert_int_equal(r[3]->flow_stats.dir[0].window_bytes, 400);
	assert_int_equal(r[3]->flow_stats.dir[0].window_packets, 1);
	assert_int_equal(r[3]->flow_stats.dir[0].peak_bytes, 400);
	assert_int_equal(r[4]->flow_stats.time_ns, T0 + 16 * SEC);
	assert_int_equal(r[4]->flow_stats.dir[0].window_bytes, 500);
	assert_int_equal(r[4]->flow_stats.dir[0].bytes, 1500);
	assert_int_equal(r[4]->flow_stats.dir[0].peak_bytes, 500);
	assert_int_equal(r[5]->flow_stats.kind, FT_FLOW_STATS_FINAL);
	harness_free(&h);
}

/*
 * Clock steps. Forward: a 3-hour jump is crossed in one step (no edge-by-edge
 * walk), the worker writes one record at the last interval end before the
 * packet, with every window empty. Backward: a packet older than the clock
 * counts in its own bucket (still in the ring), so a window "as of T" still
 * holds exactly the packets timestamped in it.
 */
static void
test_clock_steps(void **state)
{
	struct setup s = {.bucket_ns = SEC,
			  .buckets = 10,
			  .interval_ns = SEC,
			  .udp_timeout_ns = 4 * 3600 * SEC};
	struct harness h;
	struct ft_pkt p[4];
	const struct ft_record *r[64];
	size_t n, nw;
	uint64_t jump = T0 + 3 * 3600 * SEC + 500 * MS;
	(void)state;

	harness_init(&h, &s);
	p[0] = mkpkt(17, 1, 1, 2, 2, T0 + 200 * MS, 100);
	p[1] = mkpkt(17, 1, 1, 2, 2, jump, 200);
	p[2] = mkpkt(17, 1, 1, 2, 2, jump - 3 * SEC, 3000); /* 3 s back, the fullest bucket */
	p[3] = mkpkt(17, 1, 1, 2, 2, jump + 100 * MS, 400);
	feed_all(&h, p, 4, 1, jump + 100 * MS);

	nw = find(&h, FT_RECORD_WORKER_STATS, NULL, r, 64);
	/* 60 s of activity after the first packet (61 intervals end before the
	 * windows empty), the last interval end before the jump, and the one
	 * after the last packet. */
	assert_true(nw >= 3 && nw <= 64);
	assert_int_equal(r[nw - 2]->worker_stats.time_ns, jump - 500 * MS);
	assert_int_equal(r[nw - 2]->worker_stats.packets[2], 0);
	/* Worker windows follow the worker's clock: the packet stamped 3 s back
	 * arrived in the last second, and counts there. */
	assert_int_equal(r[nw - 1]->worker_stats.time_ns, jump + 500 * MS);
	assert_int_equal(r[nw - 1]->worker_stats.packets[0], 3);
	assert_int_equal(r[nw - 1]->worker_stats.packets[1], 3);
	assert_int_equal(r[nw - 1]->worker_stats.packets_total, 4);

	n = find(&h, FT_RECORD_FLOW_STATS, &p[0], r, 64);
	/* periodic at T0 + 1 s, at the end of the jump's interval, final */
	assert_int_equal(n, 3);
	assert_int_equal(r[1]->flow_stats.time_ns, jump + 500 * MS);
	assert_int_equal(r[1]->flow_stats.dir[0].last_packets, 2);
	assert_int_equal(r[1]->flow_stats.dir[0].last_bytes, 600);
	assert_int_equal(r[1]->flow_stats.dir[0].window_packets, 3);
	assert_int_equal(r[1]->flow_stats.dir[0].window_bytes, 3600);
	assert_int_equal(r[1]->flow_stats.dir[0].peak_bytes, 3000);
	assert_int_equal(r[1]->flow_stats.dir[0].peak_packets, 2);
	/* inter-arrival times: the old packet counts 0 and does not move the clock */
	{
		const struct ft_flow_dist_record *d = dist_of(&h, r[2]);
		uint64_t i1 = jump - (T0 + 200 * MS), i3 = 100 * MS;

		assert_int_equal(d->iat_min, 0);
		assert_int_equal(d->iat_max, i1);
		assert_true(((unsigned __int128)d->iat_sumsq[1] << 64 | d->iat_sumsq[0]) ==
			    (unsigned __int128)i1 * i1 + (unsigned __int128)i3 * i3);
		assert_int_equal(r[2]->flow_stats.last_ns - r[2]->flow_stats.first_ns, i1 + i3);
	}
	harness_free(&h);

	/* Live: the TSC clock steps 10 minutes with no packet at all. */
	harness_init(&h, &s);
	ft_stats_advance(h.st, T0);
	ft_stats_advance(h.st, T0 + 600 * SEC + 1);
	nw = find(&h, FT_RECORD_WORKER_STATS, NULL, r, 64);
	assert_int_equal(nw, 1);
	assert_int_equal(r[0]->worker_stats.time_ns, T0 + 600 * SEC);
	harness_free(&h);
}

/* --- distributions ------------------------------------------------------------ */

/* Sums of squares exact on constant and on large values; bins where
 * export.h puts them. */
static void
test_moments_exact(void **state)
{
	struct setup s = {.histograms = true, .udp_timeout_ns = 3600 * SEC};
	struct harness h;
	struct ft_pkt p[64];
	const struct ft_record *r[64];
	const struct ft_flow_dist_record *d;
	unsigned __int128 sq = 0, isq = 0;
	uint32_t sizes[64];
	uint64_t t = T0, sum = 0;
	uint32_t hsize[FT_STATS_SIZE_BINS] = {0}, hiat[FT_STATS_IAT_BINS] = {0};
	size_t n;
	(void)state;

	/* constant sizes and gaps */
	harness_init(&h, &s);
	for (unsigned k = 0; k < 50; k++)
		p[k] = mkpkt(17, 1, 1, 2, 2, T0 + k * 20 * MS, 1500);
	feed_all(&h, p, 50, 7, T0 + 49 * 20 * MS);
	n = find(&h, FT_RECORD_FLOW_STATS, &p[0], r, 64);
	d = dist_of(&h, r[n - 1]);
	assert_true(((unsigned __int128)d->size_sumsq[1] << 64 | d->size_sumsq[0]) ==
		    (unsigned __int128)50 * 1500 * 1500);
	assert_true(((unsigned __int128)d->iat_sumsq[1] << 64 | d->iat_sumsq[0]) ==
		    (unsigned __int128)49 * (20 * MS) * (20 * MS));
	assert_int_equal(d->size_min, 1500);
	assert_int_equal(d->size_max, 1500);
	assert_int_equal(d->iat_min, 20 * MS);
	assert_int_equal(d->iat_max, 20 * MS);
	assert_int_equal(d->size_hist[ft_stats_size_bin(1500)], 50);
	assert_int_equal(d->iat_hist[ft_stats_iat_bin(20 * MS)], 49);
	harness_free(&h);

	/* large values: 4 GB frames (what a u32 wire length can say) and gaps of
	 * 20 minutes, whose squares need 128 bits */
	harness_init(&h, &s);
	for (unsigned k = 0; k < 40; k++) {
		sizes[k] = UINT32_MAX - 1000 * k;
		if (k)
			t += 1200 * SEC + k;
		p[k] = mkpkt(17, 1, 1, 2, 2, t, sizes[k]);
		sq += (unsigned __int128)sizes[k] * sizes[k];
		sum += sizes[k];
		hsize[ft_stats_size_bin(sizes[k])]++;
		if (k) {
			uint64_t g = 1200 * SEC + k;

			isq += (unsigned __int128)g * g;
			hiat[ft_stats_iat_bin(g)]++;
		}
	}
	feed_all(&h, p, 40, 3, t);
	n = find(&h, FT_RECORD_FLOW_STATS, &p[0], r, 64);
	assert_int_equal(r[n - 1]->flow_stats.kind, FT_FLOW_STATS_FINAL);
	assert_int_equal(r[n - 1]->flow_stats.dir[0].bytes, sum);
	d = dist_of(&h, r[n - 1]);
	assert_true(((unsigned __int128)d->size_sumsq[1] << 64 | d->size_sumsq[0]) == sq);
	assert_true(((unsigned __int128)d->iat_sumsq[1] << 64 | d->iat_sumsq[0]) == isq);
	assert_memory_equal(d->size_hist, hsize, sizeof(hsize));
	assert_memory_equal(d->iat_hist, hiat, sizeof(hiat));
	assert_int_equal(d->size_min, UINT32_MAX - 39000);
	assert_int_equal(d->size_max, UINT32_MAX);
	harness_free(&h);
}

/* Bin edges as export.h states them. */
static void
test_bins(void **state)
{
	(void)state;
	assert_int_equal(ft_stats_size_bin(0), 0);
	assert_int_equal(ft_stats_size_bin(63), 0);
	assert_int_equal(ft_stats_size_bin(64), 1);
	assert_int_equal(ft_stats_size_bin(127), 1);
	assert_int_equal(ft_stats_size_bin(128), 2);
	assert_int_equal(ft_stats_size_bin(1514), 5);
	assert_int_equal(ft_stats_size_bin(1 << 20), 15);
	assert_int_equal(ft_stats_size_bin(UINT32_MAX), 15);
	for (unsigned b = 1; b < FT_STATS_SIZE_BINS; b++) {
		assert_int_equal(ft_stats_size_bin((uint32_t)ft_stats_size_bin_lo(b)), b);
		assert_int_equal(ft_stats_size_bin((uint32_t)ft_stats_size_bin_lo(b) - 1), b - 1);
	}
	assert_int_equal(ft_stats_iat_bin(0), 0);
	assert_int_equal(ft_stats_iat_bin(1023), 0);
	assert_int_equal(ft_stats_iat_bin(1024), 1);
	assert_int_equal(ft_stats_iat_bin(1ULL << 32), 23);
	assert_int_equal(ft_stats_iat_bin(UINT64_MAX), 23);
	for (unsigned b = 1; b < FT_STATS_IAT_BINS; b++) {
		assert_int_equal(ft_stats_iat_bin(ft_stats_iat_bin_lo(b)), b);
		assert_int_equal(ft_stats_iat_bin(ft_stats_iat_bin_lo(b) - 1), b - 1);
	}
}

/* --- TCP ---------------------------------------------------------------------- */

#define SYN FT_TCP_SYN
#define ACK FT_TCP_ACK
#define FIN FT_TCP_FIN
#define RST FT_TCP_RST
#define PSH FT_TCP_PSH

/*
 * A capture cut at a snaplen keeps a few bytes of each segment: the sequence
 * ranges come from the IP length, so the cuts are no holes, and a
 * retransmission that starts inside a segment's uncaptured part is one (with
 * the captured bytes' ranges it fell in a "hole" and counted as out of order).
 */
static void
test_tcp_snaplen(void **state)
{
	struct setup s = {0};
	struct harness h;
	struct ft_pkt p[16];
	const struct ft_record *r[4];
	const struct ft_flow_stats_record *f;
	uint32_t c = 1000;
	unsigned n = 0;
	size_t m;
	uint64_t t = T0;
	(void)state;

	harness_init(&h, &s);
	p[n++] = mktcp(9, 40000, 2, 80, t, SYN, c, 0, 65535);
	p[n++] = mktcp(2, 80, 9, 40000, t += MS, SYN | ACK, 7000, 0, 65535);
	p[n++] = mktcp(9, 40000, 2, 80, t += MS, ACK, c + 1, 0, 65535);
	/* three 1000-byte segments, 40 bytes of each captured, in order */
	p[n++] = mktcp_cut(9, 40000, 2, 80, t += MS, ACK, c + 1, 1000, 40);
	p[n++] = mktcp_cut(9, 40000, 2, 80, t += MS, ACK, c + 1001, 1000, 40);
	p[n++] = mktcp_cut(9, 40000, 2, 80, t += MS, ACK, c + 2001, 1000, 40);
	/* the second half of the second one again */
	p[n++] = mktcp_cut(9, 40000, 2, 80, t += MS, ACK, c + 1501, 500, 40);
	/* the fourth before the fifth: out of order, cut or not */
	p[n++] = mktcp_cut(9, 40000, 2, 80, t += MS, ACK, c + 4001, 1000, 40);
	p[n++] = mktcp_cut(9, 40000, 2, 80, t += MS, ACK, c + 3001, 1000, 40);
	feed_all(&h, p, n, 4, t);
	/* the final record is the last (a periodic one may come first) */
	m = find(&h, FT_RECORD_FLOW_STATS, &p[0], r, 4);
	assert_true(m >= 1);
	f = &r[m - 1]->flow_stats;
	assert_int_equal(f->kind, FT_FLOW_STATS_FINAL);
	assert_int_equal(f->dir[0].retransmissions, 1);
	assert_int_equal(f->dir[0].out_of_order, 1);
	harness_free(&h);
}

static void
test_tcp_health(void **state)
{
	struct setup s = {0};
	struct harness h;
	struct ft_pkt p[32];
	const struct ft_record *r[8];
	const struct ft_flow_stats_record *f;
	uint32_t c = 0xfffff000, sv = 5000; /* client ISN wraps during the transfer */
	unsigned n = 0;
	uint64_t t = T0;
	(void)state;

	harness_init(&h, &s);
	/* client 10.0.0.9:40000 -> server 10.0.0.2:80 */
	p[n++] = mktcp(9, 40000, 2, 80, t, SYN, c, 0, 65535);
	p[n++] = mktcp(9, 40000, 2, 80, t += 1000 * MS, SYN, c, 0, 65535); /* SYN again */
	p[n++] = mktcp(2, 80, 9, 40000, t += 7 * MS, SYN | ACK, sv, 0, 65535);
	p[n++] = mktcp(9, 40000, 2, 80, t += 3 * MS, ACK, c + 1, 0, 65535);
	/* client data: 4 segments of 1000 in the order 1, 3, 2, 4, then 3 again */
	p[n++] = mktcp(9, 40000, 2, 80, t += MS, ACK | PSH, c + 1, 1000, 65535);
	p[n++] = mktcp(9, 40000, 2, 80, t += MS, ACK | PSH, c + 2001, 1000, 65535);
	p[n++] = mktcp(9, 40000, 2, 80, t += MS, ACK | PSH, c + 1001, 1000, 65535); /* ooo */
	p[n++] = mktcp(9, 40000, 2, 80, t += MS, ACK | PSH, c + 3001, 1000, 65535);
	p[n++] = mktcp(9, 40000, 2, 80, t += MS, ACK | PSH, c + 2001, 1000, 65535); /* retrans */
	/* a keep-alive is neither */
	p[n++] = mktcp(9, 40000, 2, 80, t += MS, ACK, c + 4000, 1, 65535);
	/* server: zero window twice (two episodes), data, then an update */
	p[n++] = mktcp(2, 80, 9, 40000, t += MS, ACK, sv + 1, 0, 0);
	p[n++] = mktcp(2, 80, 9, 40000, t += MS, ACK, sv + 1, 0, 0);
	p[n++] = mktcp(2, 80, 9, 40000, t += MS, ACK, sv + 1, 0, 512);
	p[n++] = mktcp(2, 80, 9, 40000, t += MS, ACK, sv + 1, 0, 0);
	p[n++] = mktcp(2, 80, 9, 40000, t += MS, ACK | PSH, sv + 1, 500, 4096);
	/* a segment lost before the capture (a hole never filled), then its
	 * successor retransmitted: a retransmission, not out of order */
	p[n++] = mktcp(2, 80, 9, 40000, t += MS, ACK | PSH, sv + 1001, 500, 4096);
	p[n++] = mktcp(2, 80, 9, 40000, t += MS, ACK | PSH, sv + 1001, 500, 4096);
	p[n++] = mktcp(9, 40000, 2, 80, t += MS, FIN | ACK, c + 4001, 0, 65535);
	p[n++] = mktcp(2, 80, 9, 40000, t += MS, FIN | ACK, sv + 1501, 0, 4096);
	p[n++] = mktcp(9, 40000, 2, 80, t += MS, FIN | ACK, c + 4001, 0, 65535); /* FIN again */
	p[n++] = mktcp(9, 40000, 2, 80, t += MS, ACK, c + 4002, 0, 65535);
	feed_all(&h, p, n, 5, t);
	/* periodic at T0 + 1 s and T0 + 2 s (the SYN again opened the second
	 * interval), then the final record */
	assert_int_equal(find(&h, FT_RECORD_FLOW_STATS, &p[0], r, 8), 3);
	f = &r[2]->flow_stats;
	assert_int_equal(f->kind, FT_FLOW_STATS_FINAL);
	assert_true(f->flags & FT_FLOW_STATS_F_INITIATOR_HI);
	assert_true(f->flags & FT_FLOW_STATS_F_RTT_SERVER);
	assert_true(f->flags & FT_FLOW_STATS_F_RTT_CLIENT);
	assert_int_equal(f->rtt_server_ns, 1007 * MS); /* from the first SYN */
	assert_int_equal(f->rtt_client_ns, 3 * MS);
	assert_int_equal(f->dir[0].retransmissions, 3); /* SYN, segment 3, FIN */
	assert_int_equal(f->dir[0].out_of_order, 1);
	assert_int_equal(f->dir[0].zero_windows, 0);
	assert_int_equal(f->dir[1].retransmissions, 1);
	assert_int_equal(f->dir[1].out_of_order, 0);
	assert_int_equal(f->dir[1].zero_windows, 2);
	harness_free(&h);

	/* Without a SYN (mid-stream) or without the SYN+ACK, no RTT. */
	harness_init(&h, &s);
	n = 0;
	p[n++] = mktcp(9, 40001, 2, 80, T0, ACK, 1, 100, 100);
	p[n++] = mktcp(9, 40002, 2, 80, T0, SYN, 1, 0, 100);
	p[n++] = mktcp(9, 40002, 2, 80, T0 + MS, ACK, 2, 0, 100);
	feed_all(&h, p, n, 1, T0 + MS);
	for (unsigned k = 0; k < 3; k += 1) {
		size_t m = find(&h, FT_RECORD_FLOW_STATS, &p[k], r, 8);

		assert_true(m >= 1);
		assert_int_equal(r[m - 1]->flow_stats.flags &
					 (FT_FLOW_STATS_F_RTT_SERVER | FT_FLOW_STATS_F_RTT_CLIENT),
				 0);
	}
	harness_free(&h);
}

/* --- records: liveness, ends inside a burst, burst independence ---------------- */

/*
 * A flow idle longer than its timeout at an interval's end is no longer live
 * there: no periodic record for that interval, only its final one, whether the
 * timer wheel or a later packet ended it.
 */
static void
test_periodic_liveness(void **state)
{
	struct setup s = {.interval_ns = SEC, .udp_timeout_ns = 300 * MS};
	struct harness h;
	struct ft_pkt p[4];
	const struct ft_record *r[8];
	(void)state;

	harness_init(&h, &s);
	p[0] = mkpkt(17, 1, 1, 2, 2, T0 + 100 * MS, 100);  /* idle at T0 + 1 s */
	p[1] = mkpkt(17, 3, 1, 2, 2, T0 + 800 * MS, 100);  /* live at T0 + 1 s */
	p[2] = mkpkt(17, 1, 1, 2, 2, T0 + 1200 * MS, 100); /* a new flow on p[0]'s tuple */
	p[3] = mkpkt(17, 5, 1, 2, 2, T0 + 3500 * MS, 100);
	feed_all(&h, p, 4, 4, T0 + 3500 * MS);
	/* p[0]: first flow final only; second flow (p[2]) periodic at 2 s? no:
	 * idle at 2 s (800 ms > 300 ms) -> final only */
	assert_int_equal(find(&h, FT_RECORD_FLOW_STATS, &p[0], r, 8), 2);
	assert_int_equal(r[0]->flow_stats.kind, FT_FLOW_STATS_FINAL);
	assert_int_equal(r[0]->flow_stats.dir[0].packets, 1);
	assert_int_equal(r[1]->flow_stats.kind, FT_FLOW_STATS_FINAL);
	assert_int_equal(r[1]->flow_stats.first_ns, T0 + 1200 * MS);
	assert_int_equal(find(&h, FT_RECORD_FLOW_STATS, &p[1], r, 8), 2);
	assert_int_equal(r[0]->flow_stats.kind, FT_FLOW_STATS_PERIODIC);
	assert_int_equal(r[0]->flow_stats.time_ns, T0 + SEC);
	harness_free(&h);
}

/*
 * In emergency mode the table ends flows after the shortened timeout, and so
 * does "still live" in the statistics: a flow idle 3 s at an interval's end,
 * under a 5 s UDP timeout shortened to 0.5 s, gets no periodic record.
 */
static void
test_periodic_liveness_emergency(void **state)
{
	struct setup s = {.interval_ns = 10 * SEC, .udp_timeout_ns = 5 * SEC, .capacity = 8,
			  .emergency_enter = 0.5, .emergency_leave = 0, .emergency_factor = 0.1};
	struct harness h;
	struct ft_pkt p[6];
	const struct ft_record *r[8];
	struct ft_flow_table_stats ts;
	(void)state;

	harness_init(&h, &s);
	/* Four live flows of eight: emergency mode, which never ends (leave 0). */
	for (uint8_t k = 0; k < 4; k++)
		p[k] = mkpkt(17, (uint8_t)(1 + k), 1, 9, 9, T0 + SEC + k * MS, 100);
	p[4] = mkpkt(17, 1, 1, 9, 9, T0 + 7 * SEC, 100);	 /* idle 3 s at T0 + 10 s */
	p[5] = mkpkt(17, 2, 1, 9, 9, T0 + 10500 * MS, 100); /* the next interval */
	feed_all(&h, p, 6, 1, T0 + 10500 * MS);
	ft_flow_table_get_stats(h.ft, &ts);
	assert_int_equal(ts.emergency_entered, 1);
	/* p[4]'s tuple: the flow of T0 + 1 s (ended idle at 7 s, past 0.5 s) and
	 * the one of T0 + 7 s: final records only, no periodic one at T0 + 10 s
	 * (which the configured 5 s would have given). */
	assert_int_equal(find(&h, FT_RECORD_FLOW_STATS, &p[4], r, 8), 2);
	assert_int_equal(r[0]->flow_stats.kind, FT_FLOW_STATS_FINAL);
	assert_int_equal(r[0]->flow_stats.first_ns, T0 + SEC);
	assert_int_equal(r[1]->flow_stats.kind, FT_FLOW_STATS_FINAL);
	assert_int_equal(r[1]->flow_stats.first_ns, T0 + 7 * SEC);
	harness_free(&h);
}

/* Flow index reused within one burst: the first flow's statistics hold only
 * its packets, the second's start fresh. */
static void
test_end_inside_burst(void **state)
{
	struct setup s = {.udp_timeout_ns = 100 * MS, .histograms = true};
	struct harness h;
	struct ft_pkt p[6];
	const struct ft_record *r[8];
	(void)state;

	harness_init(&h, &s);
	p[0] = mkpkt(17, 1, 1, 2, 2, T0, 100);
	p[1] = mkpkt(17, 1, 1, 2, 2, T0 + 10 * MS, 200);
	p[2] = mkpkt(17, 1, 1, 2, 2, T0 + 500 * MS, 300); /* ends the first, same index */
	p[3] = mkpkt(17, 2, 1, 2, 2, T0 + 510 * MS, 400);
	p[4] = mkpkt(17, 1, 1, 2, 2, T0 + 520 * MS, 500);
	feed_all(&h, p, 5, 5, T0 + 520 * MS);
	assert_int_equal(find(&h, FT_RECORD_FLOW_STATS, &p[0], r, 8), 2);
	assert_int_equal(r[0]->flow_stats.dir[0].bytes, 300);
	assert_int_equal(r[0]->flow_stats.first_ns, T0);
	assert_int_equal(dist_of(&h, r[0])->iat_max, 10 * MS);
	assert_int_equal(r[1]->flow_stats.dir[0].bytes, 800);
	assert_int_equal(r[1]->flow_stats.first_ns, T0 + 500 * MS);
	assert_int_equal(dist_of(&h, r[1])->iat_max, 20 * MS);
	assert_int_equal(dist_of(&h, r[1])->size_min, 300);
	harness_free(&h);
}

static int
body_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 240);
}

/* Same packets in bursts of 1, 7 and 64: the same statistics records. */
static void
test_burst_independence(void **state)
{
	struct setup s = {.bucket_ns = 100 * MS,
			  .buckets = 5,
			  .interval_ns = 500 * MS,
			  .udp_timeout_ns = 700 * MS,
			  .topk = 3,
			  .histograms = true};
	static struct ft_pkt p[3000];
	uint64_t seed = 99, t = T0;
	static const unsigned bursts[] = {1, 7, 64};
	struct harness h[3];
	(void)state;

	for (unsigned k = 0; k < 3000; k++) {
		uint8_t a = (uint8_t)(1 + rnd(&seed) % 30);

		t += rnd(&seed) % (20 * MS);
		p[k] = rnd(&seed) % 2
			       ? mkpkt(17, a, 7, 200, 9, t, 60 + (uint32_t)(rnd(&seed) % 900))
			       : mkpkt(17, 200, 9, a, 7, t, 60 + (uint32_t)(rnd(&seed) % 900));
	}
	for (unsigned b = 0; b < 3; b++) {
		harness_init(&h[b], &s);
		feed_all(&h[b], p, 3000, bursts[b], t);
	}
	/* Flow statistics and top-K are the same records; only their order
	 * among flows may change (a periodic record is written by the sweep or
	 * by the flow's next packet, whichever comes first). Worker records are
	 * not compared: flow ends counted there follow the timer wheel. */
	for (uint16_t type = FT_RECORD_FLOW_STATS; type < FT_RECORD_TYPE_MAX; type++) {
		uint8_t *body[3];
		size_t nb[3];

		if (type == FT_RECORD_WORKER_STATS || type == FT_RECORD_WORKER_DROPS)
			continue;
		for (unsigned b = 0; b < 3; b++) {
			body[b] = malloc(h[b].n * 240 + 1);
			nb[b] = 0;
			for (size_t i = 0; i < h[b].n; i++)
				if (h[b].recs[i].type == type)
					memcpy(body[b] + 240 * nb[b]++, h[b].recs[i].body, 240);
			qsort(body[b], nb[b], 240, body_cmp);
		}
		assert_true(nb[0] > 0);
		for (unsigned b = 1; b < 3; b++) {
			assert_int_equal(nb[b], nb[0]);
			if (memcmp(body[b], body[0], 240 * nb[0]) != 0)
				fail_msg("bursts of %u: records of type %u differ", bursts[b],
					 type);
		}
		for (unsigned b = 0; b < 3; b++)
			free(body[b]);
	}
	for (unsigned b = 0; b < 3; b++)
		harness_free(&h[b]);
}

/* --- top-K ------------------------------------------------------------------- */

struct ref_flow {
	struct ft_flow_key key;
	uint64_t count[2];
	uint64_t first;
};

static int
ref_rank(const struct ref_flow *a, const struct ref_flow *b, unsigned k)
{
	const uint64_t *x = (const uint64_t *)&a->key, *y = (const uint64_t *)&b->key;

	if (a->count[k] != b->count[k])
		return a->count[k] > b->count[k] ? -1 : 1;
	if (a->count[k ^ 1] != b->count[k ^ 1])
		return a->count[k ^ 1] > b->count[k ^ 1] ? -1 : 1;
	for (unsigned w = 0; w < 6; w++)
		if (x[w] != y[w])
			return x[w] < y[w] ? -1 : 1;
	return a->first < b->first ? -1 : a->first > b->first;
}

static int
ref_by_bytes(const void *a, const void *b)
{
	return ref_rank(a, b, 0);
}

static int
ref_by_packets(const void *a, const void *b)
{
	return ref_rank(a, b, 1);
}

/*
 * Check one interval's TOPK records (union of both lists, sorted by bytes)
 * against the exact top-K of the reference flows; also Space-Saving's
 * guarantees in their own terms: every flow above N/K is listed, and no count
 * is off (the error bound is 0).
 */
static void
check_topk(const struct harness *h, uint64_t time_ns, struct ref_flow *rf, size_t nf, unsigned k)
{
	static struct ft_topk_entry got[2048];
	size_t ng = 0;
	bool last = false;
	uint64_t total[2] = {0, 0};
	static struct ref_flow want_b[4096], want_p[4096];

	for (size_t i = 0; i < h->n; i++) {
		const struct ft_record *r = &h->recs[i];

		if (r->type != FT_RECORD_TOPK || r->topk.time_ns != time_ns)
			continue;
		assert_false(last);
		assert_int_equal(r->topk.k, k);
		for (unsigned e = 0; e < r->topk.count; e++)
			got[ng++] = r->topk.entry[e];
		last = r->topk.flags & FT_TOPK_F_LAST;
	}
	assert_true(nf <= 4096);
	if (nf == 0) {
		assert_int_equal(ng, 0);
		return;
	}
	assert_true(last);
	memcpy(want_b, rf, nf * sizeof(*rf));
	memcpy(want_p, rf, nf * sizeof(*rf));
	qsort(want_b, nf, sizeof(*rf), ref_by_bytes);
	qsort(want_p, nf, sizeof(*rf), ref_by_packets);
	for (size_t i = 0; i < nf; i++)
		total[0] += rf[i].count[0], total[1] += rf[i].count[1];
	/* sorted by bytes, each top-K member present exactly, nothing else */
	for (size_t i = 1; i < ng; i++)
		assert_true(got[i - 1].bytes >= got[i].bytes);
	for (unsigned list = 0; list < 2; list++) {
		const struct ref_flow *want = list ? want_p : want_b;
		size_t kk = nf < k ? nf : k;

		for (size_t i = 0; i < kk; i++) {
			bool found = false;

			for (size_t j = 0; j < ng && !found; j++)
				if (memcmp(&got[j].key, &want[i].key, sizeof(want[i].key)) == 0 &&
				    got[j].bytes == want[i].count[0] &&
				    got[j].packets == want[i].count[1])
					found = true;
			if (!found)
				fail_msg("interval %" PRIu64 ": %s rank %zu (%" PRIu64
					 " bytes, %" PRIu64 " packets) missing",
					 time_ns, list ? "by packets" : "by bytes", i + 1,
					 want[i].count[0], want[i].count[1]);
		}
		/* Space-Saving's guarantee, with an error bound of 0: every flow
		 * above N/K of the interval is listed with its exact count (it
		 * is among the top K, all of which were found above). */
		for (size_t i = 0; i < nf; i++)
			if (want[i].count[list] * k > total[list])
				assert_true(i < kk);
	}
	for (size_t j = 0; j < ng; j++) {
		bool in = false;

		for (size_t i = 0; i < (nf < k ? nf : k) && !in; i++)
			in = memcmp(&got[j].key, &want_b[i].key, sizeof(got[j].key)) == 0 ||
			     memcmp(&got[j].key, &want_p[i].key, sizeof(got[j].key)) == 0;
		assert_true(in);
	}
}

/*
 * Reference per-interval counts of every flow. A flow is a tuple's run of
 * packets without an idle gap longer than the timeout (the flow table's rule),
 * so start[i] is the first packet time of packet i's flow.
 */
static void
ref_starts(const struct ft_pkt *p, size_t n, uint64_t timeout, uint64_t *start)
{
	for (size_t i = 0; i < n; i++) {
		start[i] = p[i].ts_ns;
		for (size_t j = i; j-- > 0;) {
			if (memcmp(&p[j].key, &p[i].key, sizeof(p[i].key)) != 0)
				continue;
			if (p[i].ts_ns - p[j].ts_ns <= timeout)
				start[i] = start[j];
			break;
		}
	}
}

static size_t
ref_interval(const struct ft_pkt *p, const uint64_t *start, size_t n, uint64_t from, uint64_t to,
	     struct ref_flow *rf)
{
	size_t nf = 0;

	for (size_t i = 0; i < n; i++) {
		size_t f;

		if (p[i].ts_ns < from || p[i].ts_ns >= to)
			continue;
		for (f = 0; f < nf; f++)
			if (rf[f].first == start[i] &&
			    memcmp(&rf[f].key, &p[i].key, sizeof(p[i].key)) == 0)
				break;
		if (f == nf) {
			memset(&rf[nf], 0, sizeof(rf[nf]));
			rf[nf].key = p[i].key;
			rf[nf].first = start[i];
			nf++;
		}
		rf[f].count[0] += p[i].wire_len;
		rf[f].count[1]++;
	}
	return nf;
}

/*
 * Adversarial streams, one interval each:
 *   late elephants: 400 one-packet mice fill every counter before the three
 *     elephants send their first packet (classic Space-Saving would give them
 *     the mice's counts as error);
 *   lockstep: 64 flows of equal rate, round robin, so a flow outside the top
 *     overtakes the root on every packet (maximal churn);
 *   ties: equal counts everywhere, broken by the other count, then the key;
 *   elephants that end mid-interval stay listed with their counts.
 */
static void
topk_adversarial(uint32_t k)
{
	struct setup s = {
		.interval_ns = SEC, .topk = k, .udp_timeout_ns = 200 * MS, .capacity = 2048};
	static struct ft_pkt p[4000];
	static uint64_t start[4000];
	static struct ref_flow rf[4096];
	uint64_t seed = 7;

	for (unsigned scenario = 0; scenario < 4; scenario++) {
		struct harness h;
		unsigned n = 0;
		uint64_t t = T0 + 1;

		harness_init(&h, &s);
		switch (scenario) {
		case 0:
			for (unsigned m = 0; m < 400; m++)
				p[n++] = mkpkt(17, (uint8_t)(m % 200 + 1),
					       (uint16_t)(1000 + m / 200), 250, 80, t += MS, 1500);
			for (unsigned r = 0; r < 40; r++)
				for (unsigned e = 0; e < 3; e++)
					p[n++] = mkpkt(17, 251, (uint16_t)(e + 1), 252, 80,
						       t += 100000, 100 * (e + 1));
			break;
		case 1:
			for (unsigned r = 0; r < 30; r++)
				for (unsigned f = 0; f < 64; f++)
					p[n++] = mkpkt(17, (uint8_t)(f + 1), 5, 250, 80,
						       t += 200000, 500);
			p[n++] = mkpkt(17, 10, 5, 250, 80, t += 200000, 500);
			break;
		case 2:
			for (unsigned f = 0; f < 100; f++)
				p[n++] = mkpkt(17, (uint8_t)(100 - f), 5, 250, 80, t += MS,
					       f % 3 ? 100 : 200);
			for (unsigned f = 0; f < 100; f++)
				p[n++] = mkpkt(17, (uint8_t)(f + 1), 5, 250, 80, t += MS, 100);
			break;
		case 3:
			/* elephants 1-3 send a lot, then go idle and end (200 ms
			 * timeout) while mice keep the interval busy */
			for (unsigned r = 0; r < 50; r++)
				for (unsigned e = 0; e < 3; e++)
					p[n++] = mkpkt(17, 240, (uint16_t)(e + 1), 241, 80,
						       t += 100000, 1000);
			for (unsigned m = 0; m < 300; m++)
				p[n++] =
					mkpkt(17, (uint8_t)(m % 200 + 1), (uint16_t)(2000 + m), 250,
					      80, t += 2 * MS, 60 + (uint32_t)(rnd(&seed) % 1400));
			break;
		}
		assert_true(t < T0 + SEC);
		feed_all(&h, p, n, 16, t);
		ref_starts(p, n, s.udp_timeout_ns, start);
		check_topk(&h, T0 + SEC, rf, ref_interval(p, start, n, T0, T0 + SEC, rf), s.topk);
		harness_free(&h);
	}
}

static void
test_topk_adversarial(void **state)
{
	(void)state;
	topk_adversarial(5);
	topk_adversarial(100); /* the union of the heaps sorted: up to 200 entries */
}

/* Random traffic over many intervals, elephants among mice, flows ending and
 * their tuples coming back: every interval's top-K is exact. */
static void
test_topk_random(void **state)
{
	struct setup s = {.interval_ns = 200 * MS,
			  .bucket_ns = 100 * MS,
			  .topk = 8,
			  .udp_timeout_ns = 150 * MS,
			  .capacity = 4096};
	static struct ft_pkt p[20000];
	static uint64_t start[20000];
	static struct ref_flow rf[4096];
	uint64_t seed = 2024, t = T0;
	struct harness h;
	(void)state;

	for (unsigned k = 0; k < 20000; k++) {
		uint64_t r = rnd(&seed) % 100;
		uint8_t a =
			r < 30 ? (uint8_t)(1 + rnd(&seed) % 4) : (uint8_t)(10 + rnd(&seed) % 200);
		uint16_t port = (uint16_t)(rnd(&seed) % (r < 30 ? 1 : 20));

		t += rnd(&seed) % 300000;
		p[k] = mkpkt(17, a, port, 250, 53, t, 60 + (uint32_t)(rnd(&seed) % 1450));
	}
	harness_init(&h, &s);
	feed_all(&h, p, 20000, 32, t);
	ref_starts(p, 20000, s.udp_timeout_ns, start);
	for (uint64_t b = (p[0].ts_ns / s.interval_ns + 1) * s.interval_ns; b <= t + s.interval_ns;
	     b += s.interval_ns)
		check_topk(&h, b, rf, ref_interval(p, start, 20000, b - s.interval_ns, b, rf),
			   s.topk);
	harness_free(&h);
}

/* --- parameters and memory --------------------------------------------------- */

static void
test_params(void **state)
{
	struct harness h;
	struct setup s = {0};
	struct ft_stats_params p;
	(void)state;

	harness_init(&h, &s);
	memset(&p, 0, sizeof(p));
	p.capacity = 16;
	p.socket_id = -1;
	p.bucket_ns = SEC;
	p.buckets = 10;
	p.interval_ns = SEC;
	p.flows = h.ft;
	p.counters = &h.counters;
	p.record = sink;
	p.record_ctx = &h;
	{
		struct ft_stats *st = ft_stats_create(&p);

		assert_non_null(st);
		ft_stats_free(st);
	}
#define BAD(field, value)                                                                          \
	do {                                                                                       \
		struct ft_stats_params q = p;                                                      \
		q.field = value;                                                                   \
		rte_errno = 0;                                                                     \
		assert_null(ft_stats_create(&q));                                                  \
		assert_int_equal(rte_errno, EINVAL);                                               \
	} while (0)
	BAD(capacity, 0);
	BAD(bucket_ns, 999999);
	BAD(buckets, 0);
	BAD(buckets, FT_STATS_MAX_BUCKETS + 1);
	BAD(interval_ns, 0);
	BAD(interval_ns, 1500 * MS); /* not a multiple of the bucket */
	BAD(bucket_ns, 30 * MS);     /* interval 1 s: fine; then: */
	p.bucket_ns = 50 * MS;
	BAD(interval_ns, 150 * MS); /* a multiple of the bucket, not of 100 ms */
	BAD(topk, FT_STATS_MAX_TOPK + 1);
	BAD(flows, NULL);
	BAD(record, NULL);
	BAD(counters, NULL);
	ft_stats_free(NULL);

	/* memory at the defaults: a 576-byte block (histograms 160 of it), TCP
	 * holes 32, interval lists 8 */
	p.bucket_ns = SEC;
	p.buckets = 10;
	p.histograms = true;
	assert_int_equal(ft_stats_flow_bytes(&p), 576 + 32 + 8);
	p.histograms = false;
	assert_int_equal(ft_stats_flow_bytes(&p), 448 + 32 + 8);
	assert_true(ft_stats_memory(&p) >= 16 * ft_stats_flow_bytes(&p));
	harness_free(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_windows_random),
		cmocka_unit_test(test_window_idle_gap),
		cmocka_unit_test(test_clock_steps),
		cmocka_unit_test(test_moments_exact),
		cmocka_unit_test(test_bins),
		cmocka_unit_test(test_tcp_health),
		cmocka_unit_test(test_tcp_snaplen),
		cmocka_unit_test(test_periodic_liveness),
		cmocka_unit_test(test_periodic_liveness_emergency),
		cmocka_unit_test(test_end_inside_burst),
		cmocka_unit_test(test_burst_independence),
		cmocka_unit_test(test_topk_adversarial),
		cmocka_unit_test(test_topk_random),
		cmocka_unit_test(test_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
