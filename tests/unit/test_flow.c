/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of src/flow: TCP state and end reasons, timeouts, table full, the
 * timer wheel's bounds, and a torture test against a reference model.
 *
 * DPDK allocation is redirected to libc at link time (-Wl,--wrap), so no EAL.
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

#include "flow/flow.h"

#include "dpdk_malloc.h"
#include "test_pkt.h"

#define SEC 1000000000ULL

struct ended {
	struct ft_flow_record rec;
};

/* Collects ended flows. */
struct sink {
	struct ended *v;
	size_t n, cap;
};

static void
on_end(void *ctx, const struct ft_flow *f, enum ft_end_reason reason)
{
	struct sink *s = ctx;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
	}
	ft_flow_to_record(f, reason, &s->v[s->n++].rec);
}

static struct ft_flow_timeouts
timeouts(void)
{
	struct ft_flow_timeouts t = {
		.tcp_new_ns = 60 * SEC,
		.tcp_established_ns = 600 * SEC,
		.tcp_closed_ns = 10 * SEC,
		.udp_ns = 60 * SEC,
		.icmp_ns = 30 * SEC,
		.other_ns = 60 * SEC,
	};
	return t;
}

static struct ft_flow_table_params
params(uint32_t capacity, uint32_t budget)
{
	struct ft_flow_table_params p = {
		.capacity = capacity,
		.socket_id = -1,
		.worker_id = 3,
		.expiry_budget = budget,
		.timeouts = timeouts(),
		.full_policy = FT_FLOW_FULL_REFUSE,
	};
	return p;
}

static struct ft_flow_table *
make_table_with(const struct ft_flow_table_params *p)
{
	struct ft_flow_table *t = ft_flow_table_create(p);

	assert_non_null(t);
	return t;
}

/* A table that refuses when full, no active timeout, no emergency mode. */
static struct ft_flow_table *
make_table(uint32_t capacity, uint32_t budget)
{
	struct ft_flow_table_params p = params(capacity, budget);

	return make_table_with(&p);
}

/* A packet between 10.0.0.a:pa and 10.0.0.b:pb (sender first). */
static struct ft_pkt
mkpkt(uint8_t proto, uint8_t a, uint16_t pa, uint8_t b, uint16_t pb, uint8_t flags,
      uint64_t ts, uint32_t len)
{
	struct ft_pkt p = ft_test_ipv4_pkt(proto, a, pa, b, pb, ts, len);

	p.hash = ft_flow_key_hash(&p.key);
	p.tcp_flags = flags;
	return p;
}

static unsigned
feed(struct ft_flow_table *t, struct ft_pkt *p, struct sink *s)
{
	struct ft_pkt *pp[1] = {p};
	uint32_t idx[1];

	return ft_flow_table_update_burst(t, pp, 1, idx, on_end, s);
}

#define S  FT_TCP_SYN
#define A  FT_TCP_ACK
#define F  FT_TCP_FIN
#define R  FT_TCP_RST
#define PA (FT_TCP_PSH | FT_TCP_ACK)

static void
test_tcp_lifecycle(void **state)
{
	struct ft_flow_table *t = make_table(16, 64);
	struct sink s = {0};
	struct ft_pkt p;
	const struct ft_flow_record *r;
	uint64_t t0 = 1000 * SEC;

	(void)state;
	/* Client 10.0.0.9:40000 -> server 10.0.0.2:80: the client's address is the
	 * higher one, so the initiator is key endpoint 1. */
	p = mkpkt(6, 9, 40000, 2, 80, S, t0, 74), feed(t, &p, &s);
	p = mkpkt(6, 2, 80, 9, 40000, S | A, t0 + 1000, 74), feed(t, &p, &s);
	p = mkpkt(6, 9, 40000, 2, 80, A, t0 + 2000, 66), feed(t, &p, &s);
	p = mkpkt(6, 9, 40000, 2, 80, PA, t0 + 3000, 166), feed(t, &p, &s);
	p = mkpkt(6, 2, 80, 9, 40000, PA, t0 + 4000, 566), feed(t, &p, &s);
	p = mkpkt(6, 9, 40000, 2, 80, F | A, t0 + 5000, 66), feed(t, &p, &s);
	p = mkpkt(6, 2, 80, 9, 40000, F | A, t0 + 6000, 66), feed(t, &p, &s);
	p = mkpkt(6, 9, 40000, 2, 80, A, t0 + 7000, 66), feed(t, &p, &s);
	assert_int_equal(s.n, 0);

	/* The closing timeout (10 s) ends it, not the established one (600 s): the
	 * flow moved to an earlier wheel slot when it closed. */
	assert_int_equal(ft_flow_table_expire(t, t0 + 9 * SEC, on_end, &s), 0);
	assert_int_equal(ft_flow_table_expire(t, t0 + 11 * SEC, on_end, &s), 1);
	assert_int_equal(s.n, 1);
	r = &s.v[0].rec;
	assert_int_equal(r->end_reason, FT_END_TCP_FIN);
	assert_int_equal(r->tcp_state, FT_TCP_CLOSED);
	assert_int_equal(r->initiator, 1);
	assert_int_equal(r->packets[0], 5);
	assert_int_equal(r->packets[1], 3);
	assert_int_equal(r->bytes[0], 74 + 66 + 166 + 66 + 66);
	assert_int_equal(r->bytes[1], 74 + 566 + 66);
	assert_int_equal(r->tcp_flags[0], S | A | F | FT_TCP_PSH);
	assert_int_equal(r->tcp_flags[1], S | A | F | FT_TCP_PSH);
	assert_int_equal(r->first_ns, t0);
	assert_int_equal(r->last_ns, t0 + 7000);
	assert_int_equal(r->flow_id >> 56, 3);
	assert_int_equal(r->flags & FT_FLOW_F_MIDSTREAM, 0);
	free(s.v);
	ft_flow_table_free(t);
}

static void
test_tcp_reuse_rst_midstream(void **state)
{
	struct ft_flow_table *t = make_table(16, 64);
	struct sink s = {0};
	struct ft_pkt p;
	uint64_t t0 = 50 * SEC;

	(void)state;
	/* RST closes; a new SYN on the closed tuple ends it ("rst") and starts
	 * the next connection. */
	p = mkpkt(6, 1, 1000, 2, 22, S, t0, 60), feed(t, &p, &s);
	p = mkpkt(6, 2, 22, 1, 1000, R | A, t0 + 10, 60), feed(t, &p, &s);
	p = mkpkt(6, 1, 1000, 2, 22, S, t0 + 20, 60), feed(t, &p, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.v[0].rec.end_reason, FT_END_TCP_RST);
	assert_int_equal(s.v[0].rec.packets[0] + s.v[0].rec.packets[1], 2);

	/* First packet a SYN+ACK: the other side is the initiator. */
	p = mkpkt(6, 5, 443, 6, 5555, S | A, t0, 60), feed(t, &p, &s);
	/* Mid-stream data on another tuple. */
	p = mkpkt(6, 7, 3333, 8, 80, PA, t0, 100), feed(t, &p, &s);
	ft_flow_table_flush(t, t0 + 30, FT_END_SHUTDOWN, on_end, &s);
	assert_int_equal(s.n, 4);
	for (size_t i = 1; i < s.n; i++) {
		const struct ft_flow_record *r = &s.v[i].rec;

		assert_int_equal(r->end_reason, FT_END_SHUTDOWN);
		if (r->key.port[0] == 443) { /* SYN+ACK came from endpoint 0 */
			assert_int_equal(r->initiator, 1);
			assert_int_equal(r->packets[1], 1);
			assert_int_equal(r->tcp_state, FT_TCP_SYN_RECEIVED);
		} else if (r->key.port[1] == 80) {
			assert_int_equal(r->flags & FT_FLOW_F_MIDSTREAM, FT_FLOW_F_MIDSTREAM);
			assert_int_equal(r->tcp_state, FT_TCP_ESTABLISHED);
		} else {
			assert_int_equal(r->tcp_state, FT_TCP_SYN_SENT);
		}
	}
	free(s.v);
	ft_flow_table_free(t);
}

/* A capture cut before the TCP flags byte: flags unknown, so neither a SYN
 * nor state changes; the flow is mid-stream, the packet still counted. */
static void
test_tcp_flags_cut_by_capture(void **state)
{
	struct ft_flow_table *t = make_table(16, 64);
	struct sink s = {0};
	struct ft_pkt p;

	(void)state;
	p = mkpkt(6, 1, 1000, 2, 80, 0, SEC, 60);
	p.flags = FT_PKT_F_L4_PARTIAL;
	p.l4_offset = 34;
	p.payload_offset = 34 + 8; /* ports and seq only */
	feed(t, &p, &s);
	/* The same tuple with the flags byte captured: a real RST. */
	p = mkpkt(6, 2, 80, 1, 1000, R, SEC + 1, 60);
	p.flags = FT_PKT_F_L4_PARTIAL;
	p.l4_offset = 34;
	p.payload_offset = 34 + 14;
	feed(t, &p, &s);
	ft_flow_table_flush(t, SEC + 2, FT_END_SHUTDOWN, on_end, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.v[0].rec.flags & FT_FLOW_F_MIDSTREAM, FT_FLOW_F_MIDSTREAM);
	assert_int_equal(s.v[0].rec.initiator, 0);
	assert_int_equal(s.v[0].rec.tcp_flags[0], 0);
	assert_int_equal(s.v[0].rec.tcp_flags[1], R);
	assert_int_equal(s.v[0].rec.end_reason, FT_END_TCP_RST);
	assert_int_equal(s.v[0].rec.packets[0] + s.v[0].rec.packets[1], 2);
	free(s.v);
	ft_flow_table_free(t);
}

static void
test_idle_split_and_flush_reasons(void **state)
{
	struct ft_flow_table *t = make_table(16, 64);
	struct sink s = {0};
	struct ft_pkt p;
	uint64_t t0 = 7 * SEC;

	(void)state;
	/* UDP idle for exactly the timeout continues the flow; one ns more ends it
	 * when the next packet arrives, even if expiry never ran. */
	p = mkpkt(17, 1, 53, 2, 5353, 0, t0, 100), feed(t, &p, &s);
	p = mkpkt(17, 2, 5353, 1, 53, 0, t0 + 60 * SEC, 100), feed(t, &p, &s);
	assert_int_equal(s.n, 0);
	p = mkpkt(17, 1, 53, 2, 5353, 0, t0 + 120 * SEC + 1, 100), feed(t, &p, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.v[0].rec.end_reason, FT_END_IDLE);
	assert_int_equal(s.v[0].rec.packets[0], 1);
	assert_int_equal(s.v[0].rec.packets[1], 1);

	/* An older timestamp (unsorted capture) does not move last back. */
	p = mkpkt(17, 1, 53, 2, 5353, 0, t0 + 120 * SEC - 5, 100), feed(t, &p, &s);
	/* ICMP: 30 s timeout. */
	p = mkpkt(1, 3, 0, 4, 0, 0, t0 + 100 * SEC, 84), feed(t, &p, &s);
	s.n = 0;
	/* Flush at a time past the ICMP timeout but not the UDP one. */
	ft_flow_table_flush(t, t0 + 131 * SEC, FT_END_SHUTDOWN, on_end, &s);
	assert_int_equal(s.n, 2);
	for (size_t i = 0; i < 2; i++) {
		const struct ft_flow_record *r = &s.v[i].rec;

		if (r->key.proto == 1) {
			assert_int_equal(r->end_reason, FT_END_IDLE);
		} else {
			assert_int_equal(r->end_reason, FT_END_SHUTDOWN);
			assert_int_equal(r->first_ns, t0 + 120 * SEC - 5);
			assert_int_equal(r->last_ns, t0 + 120 * SEC + 1);
		}
	}
	free(s.v);
	ft_flow_table_free(t);
}

static void
test_table_full_and_budget(void **state)
{
	struct ft_flow_table *t = make_table(100, 10);
	struct ft_flow_table_stats st;
	struct sink s = {0};
	struct ft_pkt p;
	unsigned refused = 0, ended = 0, calls = 0;

	(void)state;
	for (unsigned i = 0; i < 150; i++) {
		p = mkpkt(17, 1, (uint16_t)(1000 + i), 2, 53, 0, SEC, 60);
		refused += feed(t, &p, &s);
	}
	assert_int_equal(refused, 50);
	ft_flow_table_get_stats(t, &st);
	assert_int_equal(st.active, 100);
	assert_int_equal(st.refused, 50);

	/* All 100 are due at once; each call examines at most 10. */
	do {
		unsigned n = ft_flow_table_expire(t, 1000 * SEC, on_end, &s);

		assert_true(n <= 10);
		ended += n;
		calls++;
	} while (ended < 100 && calls < 1000);
	assert_int_equal(ended, 100);
	assert_true(calls >= 10);
	ft_flow_table_get_stats(t, &st);
	assert_int_equal(st.active, 0);
	/* A clock jump of years costs a bounded number of calls too. */
	p = mkpkt(17, 1, 1, 2, 2, 0, 2000 * SEC, 60), feed(t, &p, &s);
	calls = 0;
	while (ft_flow_table_expire(t, 400000000ULL * SEC, on_end, &s) == 0 && calls < 100000)
		calls++;
	assert_true(calls < 100000);
	assert_int_equal(s.v[s.n - 1].rec.end_reason, FT_END_IDLE);
	free(s.v);
	ft_flow_table_free(t);
}

/* Evict policy: a full table ends the flow closest to its deadline, exports
 * it ("evicted"), and takes the new one; nothing is refused. */
static void
test_evict_when_full(void **state)
{
	struct ft_flow_table_params pr = params(4, 64);
	struct ft_flow_table *t;
	struct ft_flow_table_stats st;
	struct sink s = {0};
	struct ft_pkt p;

	(void)state;
	pr.full_policy = FT_FLOW_FULL_EVICT;
	t = make_table_with(&pr);
	/* Four UDP flows at t = 1..4 s; the first is refreshed at 5 s. */
	for (unsigned i = 0; i < 4; i++) {
		p = mkpkt(17, 1, (uint16_t)(100 + i), 2, 53, 0, (1 + i) * SEC, 80);
		assert_int_equal(feed(t, &p, &s), 0);
	}
	p = mkpkt(17, 1, 100, 2, 53, 0, 5 * SEC, 80), feed(t, &p, &s);
	/* A fifth flow: the oldest idle one (port 101, last seen at 2 s) goes. */
	p = mkpkt(17, 1, 200, 2, 53, 0, 6 * SEC, 80);
	assert_int_equal(feed(t, &p, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.v[0].rec.end_reason, FT_END_EVICTED);
	assert_int_equal(s.v[0].rec.key.port[0], 101); /* 10.0.0.1:101 sorts first */
	assert_int_equal(s.v[0].rec.key.port[1], 53);
	assert_int_equal(s.v[0].rec.packets[0], 1);
	/* A flow already past its idle timeout is ended as idle, not evicted. */
	p = mkpkt(17, 1, 201, 2, 53, 0, 66 * SEC, 80), feed(t, &p, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.v[1].rec.end_reason, FT_END_IDLE);
	ft_flow_table_get_stats(t, &st);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.refused, 0);
	assert_int_equal(st.active, 4);
	free(s.v);
	ft_flow_table_free(t);
}

/* Active timeout: a long flow is exported in segments that sum to its totals. */
static void
test_active_timeout(void **state)
{
	struct ft_flow_table_params pr = params(16, 64);
	struct ft_flow_table *t;
	struct ft_flow_table_stats st;
	struct sink s = {0};
	struct ft_pkt p;
	uint64_t packets = 0, bytes = 0;

	(void)state;
	pr.active_timeout_ns = 10 * SEC;
	t = make_table_with(&pr);
	/* One packet a second for 35 s each way. */
	for (unsigned i = 0; i < 35; i++) {
		p = mkpkt(17, 1, 5000, 2, 5001, 0, (100 + i) * SEC, 100 + i), feed(t, &p, &s);
		p = mkpkt(17, 2, 5001, 1, 5000, 0, (100 + i) * SEC + 1000, 200), feed(t, &p, &s);
		ft_flow_table_expire(t, (100 + i) * SEC + 2000, on_end, &s);
	}
	ft_flow_table_flush(t, 135 * SEC, FT_END_SHUTDOWN, on_end, &s);
	assert_true(s.n >= 4);
	for (size_t i = 0; i < s.n; i++) {
		const struct ft_flow_record *r = &s.v[i].rec;

		assert_int_equal(r->segment, i);
		assert_int_equal(r->end_reason, i + 1 < s.n ? FT_END_ACTIVE : FT_END_SHUTDOWN);
		assert_true(r->last_ns - r->first_ns <= 10 * SEC);
		assert_int_equal(r->flow_id, s.v[0].rec.flow_id);
		if (i > 0) /* segments follow each other */
			assert_true(r->first_ns > s.v[i - 1].rec.last_ns);
		packets += r->packets[0] + r->packets[1];
		bytes += r->bytes[0] + r->bytes[1];
	}
	assert_int_equal(packets, 70);
	assert_int_equal(bytes, 35 * 300 + 34 * 35 / 2);
	ft_flow_table_get_stats(t, &st);
	assert_int_equal(st.segments, s.n - 1);
	assert_int_equal(st.created, 1);
	free(s.v);
	ft_flow_table_free(t);
}

/* Emergency mode: past the high-water mark timeouts shrink, until occupancy
 * falls below the low-water mark. */
static void
test_emergency(void **state)
{
	struct ft_flow_table_params pr = params(10, 64);
	struct ft_flow_table *t;
	struct ft_flow_table_stats st;
	struct sink s = {0};
	struct ft_pkt p;

	(void)state;
	pr.emergency_enter = 0.8;
	pr.emergency_leave = 0.2; /* stays in emergency until fewer than 2 live */
	pr.emergency_factor = 0.1; /* UDP: 60 s -> 6 s */
	t = make_table_with(&pr);
	for (unsigned i = 0; i < 7; i++)
		p = mkpkt(17, 1, (uint16_t)(100 + i), 2, 53, 0, SEC, 80), feed(t, &p, &s);
	ft_flow_table_get_stats(t, &st);
	assert_int_equal(st.emergency, 0);
	/* 10 s later: normal timeouts keep every flow. */
	assert_int_equal(ft_flow_table_expire(t, 11 * SEC, on_end, &s), 0);
	p = mkpkt(17, 1, 107, 2, 53, 0, 11 * SEC, 80), feed(t, &p, &s);
	ft_flow_table_get_stats(t, &st);
	assert_int_equal(st.emergency, 1); /* 8 of 10 */
	assert_int_equal(st.emergency_entered, 1);
	/* Now the 6 s emergency timeout ends the seven idle ones, once the sweep
	 * (every wheel slot, 64 slots or flows per call here) has re-filed them. */
	for (unsigned calls = 0; calls < 200; calls++)
		ft_flow_table_expire(t, 12 * SEC, on_end, &s);
	assert_int_equal(s.n, 7);
	for (size_t i = 0; i < s.n; i++)
		assert_int_equal(s.v[i].rec.end_reason, FT_END_IDLE);
	ft_flow_table_get_stats(t, &st);
	assert_int_equal(st.emergency, 0); /* 1 of 10 live: back to normal */
	assert_int_equal(st.active, 1);
	free(s.v);
	ft_flow_table_free(t);
}

static void
test_bad_params(void **state)
{
	struct ft_flow_table_params p = {.capacity = 0, .expiry_budget = 1};

	(void)state;
	assert_null(ft_flow_table_create(&p));
	assert_int_equal(rte_errno, EINVAL);
	assert_null(ft_flow_table_create(NULL));
	p.capacity = 10;
	p.expiry_budget = 0;
	assert_null(ft_flow_table_create(&p));
	p.expiry_budget = 1;
	p.emergency_enter = 0.5;
	p.emergency_leave = 0.6; /* above enter */
	p.emergency_factor = 0.1;
	assert_null(ft_flow_table_create(&p));
	p.emergency_leave = 0.4;
	p.emergency_factor = 0; /* would make every timeout 0 */
	assert_null(ft_flow_table_create(&p));
	ft_flow_table_free(NULL);
	assert_true(ft_flow_table_memory(1000000) > 1000000ULL * sizeof(struct ft_flow));
}

/*
 * Torture: tens of millions of packets over a pool of keys larger than the
 * table, with time moving forward, against a model that keeps one slot per
 * key. For every burst the model predicts, in order, which flows end (idle
 * past the timeout when their next packet comes) and which packets are refused
 * (table full); the table must produce exactly that. Expiry must end only flows
 * idle past the timeout, and all of those once their wheel slot has passed.
 */
#define T_KEYS	   200000
#define T_CAPACITY 50000
#define T_SLOT_NS  (1ULL << 27)
#define T_UDP_NS   (60 * SEC)

struct model_flow {
	uint64_t first, last, packets, bytes;
	int live;
};

struct model_end {
	unsigned key;
	uint64_t first, last, packets, bytes;
};

static struct model_flow *model;
static unsigned model_live;
static struct model_end expected[64], got[64];
static unsigned n_expected, n_got;
static uint64_t expire_now, expire_bad;

/* The torture's key hash: odd keys share hashes in groups of 8, so that
 * signature collisions must be resolved by the key compare. */
static uint32_t
torture_hash(const struct ft_flow_key *key)
{
	unsigned k;

	memcpy(&k, key->addr[0], sizeof(k));
	return (k & 1) ? (k >> 4) * 2654435761U : k * 2246822519U ^ (k >> 7);
}

static void
key_of(unsigned k, struct ft_pkt *p)
{
	memset(p, 0, sizeof(*p));
	p->key.family = 4;
	p->key.proto = 17;
	memcpy(p->key.addr[0], &k, sizeof(k));
	p->key.addr[1][0] = 0xff;
	p->key.port[0] = (uint16_t)k;
	p->key.port[1] = 53;
	p->hash = torture_hash(&p->key);
}

static unsigned
key_index(const struct ft_flow *f)
{
	unsigned k;

	memcpy(&k, f->key.addr[0], sizeof(k));
	return k;
}

/* Ends reported during update_burst: recorded for comparison. */
static void
burst_on_end(void *ctx, const struct ft_flow *f, enum ft_end_reason reason)
{
	struct model_end *e = &got[n_got++ % 64];

	(void)ctx;
	assert_int_equal(reason, FT_END_IDLE);
	e->key = key_index(f);
	e->first = f->first_ns;
	e->last = f->last_ns;
	e->packets = f->packets[0] + f->packets[1];
	e->bytes = f->bytes[0] + f->bytes[1];
}

/* Ends reported by expiry or flush: must match the model's flow, which ends. */
static void
expire_on_end(void *ctx, const struct ft_flow *f, enum ft_end_reason reason)
{
	struct model_flow *m = &model[key_index(f)];

	(void)ctx;
	if (!m->live || m->packets != f->packets[0] + f->packets[1] ||
	    m->bytes != f->bytes[0] + f->bytes[1] || m->first != f->first_ns ||
	    m->last != f->last_ns)
		expire_bad++;
	/* Expiry may only end flows idle past the timeout. */
	if (reason == FT_END_IDLE && expire_now - m->last <= T_UDP_NS)
		expire_bad++;
	m->live = 0;
	model_live--;
}

/* The model's verdict for one packet. */
static int
model_packet(const struct ft_pkt *p)
{
	unsigned k;
	struct model_flow *m;

	memcpy(&k, p->key.addr[0], sizeof(k));
	m = &model[k];
	if (m->live && p->ts_ns - m->last > T_UDP_NS) {
		struct model_end *e = &expected[n_expected++ % 64];

		*e = (struct model_end){k, m->first, m->last, m->packets, m->bytes};
		m->live = 0;
		model_live--;
	}
	if (!m->live) {
		if (model_live == T_CAPACITY)
			return 1;
		m->live = 1;
		model_live++;
		m->first = p->ts_ns;
		m->packets = m->bytes = 0;
	}
	m->last = p->ts_ns;
	m->packets++;
	m->bytes += p->wire_len;
	return 0;
}

static void
test_torture(void **state)
{
	struct ft_flow_table_params pr = params(T_CAPACITY, 4096);
	struct ft_flow_table *t;
	struct ft_pkt pkts[32], *pp[32];
	uint32_t idx[32];
	uint8_t refused[32], want_refused[32];
	uint64_t now = 1000 * SEC, ops = 0, rng = 88172645463325252ULL;
	uint64_t refusals = 0, idle_ends = 0, expired = 0;

	(void)state;
	pr.key_hash = torture_hash;
	t = make_table_with(&pr);
	model = calloc(T_KEYS, sizeof(*model));
	assert_non_null(model);
	for (unsigned i = 0; i < 32; i++)
		pp[i] = &pkts[i];

	while (ops < 20000000) {
		unsigned n = 1 + (unsigned)(rng % 32);

		for (unsigned i = 0; i < n; i++) {
			unsigned k;

			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			/* A hot set and a long tail, so flows both live long and churn. */
			k = (rng & 3) ? (unsigned)(rng >> 20) % 5000
				      : (unsigned)(rng >> 20) % T_KEYS;
			now += (rng >> 40) % 400000; /* up to 0.4 ms per packet */
			key_of(k, &pkts[i]);
			pkts[i].ts_ns = now;
			pkts[i].wire_len = 60 + (uint32_t)(rng % 1400);
		}
		n_expected = n_got = 0;
		for (unsigned i = 0; i < n; i++)
			want_refused[i] = (uint8_t)model_packet(&pkts[i]);
		ft_flow_table_update_burst(t, pp, n, idx, burst_on_end, NULL);
		for (unsigned i = 0; i < n; i++) {
			refused[i] = idx[i] == FT_FLOW_REFUSED;
			/* A flow index names the entry holding the packet's key (an
			 * entry freed and reused within the burst holds another). */
			if (!refused[i] && n_got == 0)
				assert_memory_equal(&ft_flow_table_entry(t, idx[i])->key,
						    &pkts[i].key, sizeof(pkts[i].key));
		}
		assert_int_equal(n_got, n_expected);
		for (unsigned i = 0; i < n_got; i++) {
			/* Field by field: the struct has padding. */
			assert_int_equal(got[i].key, expected[i].key);
			assert_int_equal(got[i].first, expected[i].first);
			assert_int_equal(got[i].last, expected[i].last);
			assert_int_equal(got[i].packets, expected[i].packets);
			assert_int_equal(got[i].bytes, expected[i].bytes);
		}
		assert_memory_equal(refused, want_refused, n);
		for (unsigned i = 0; i < n; i++)
			refusals += refused[i];
		idle_ends += n_got;
		ops += n;

		expire_now = now;
		if ((ops & 0xff) < n)
			expired += ft_flow_table_expire(t, now, expire_on_end, NULL);
		if ((ops & 0xfffff) < n) {
			/* Run expiry to completion: every flow idle past the timeout by
			 * more than a wheel slot must be gone. */
			unsigned e;

			while ((e = ft_flow_table_expire(t, now, expire_on_end, NULL)) > 0)
				expired += e;
			for (unsigned k = 0; k < T_KEYS; k++)
				if (model[k].live && model[k].last + T_UDP_NS + 2 * T_SLOT_NS < now)
					expire_bad++;
		}
		assert_int_equal(expire_bad, 0);
	}
	/* The test exercised every path. */
	assert_true(refusals > 0);
	assert_true(idle_ends > 0);
	assert_true(expired > 0);
	ft_flow_table_flush(t, now, FT_END_SHUTDOWN, expire_on_end, NULL);
	assert_int_equal(expire_bad, 0);
	assert_int_equal(model_live, 0);
	print_message("torture: %" PRIu64 " packets, %" PRIu64 " refused, %" PRIu64
		      " ended on their next packet, %" PRIu64 " expired by the wheel\n",
		      ops, refusals, idle_ends, expired);
	free(model);
	ft_flow_table_free(t);
}

/*
 * Torture with eviction and active timeouts: the table picks which flow to
 * evict, so the model follows the records as they come (one packet per call)
 * and checks each against what it counted for that key since its previous
 * record: packets, bytes, times, segment number, flow id; that no segment
 * outlives the active timeout; that nothing is ever refused; and that every
 * packet is in exactly one record in the end.
 */
#define E_KEYS	   50000
#define E_CAPACITY 10000
#define E_ACTIVE   (20 * SEC)

struct emodel {
	uint64_t first, last, packets, bytes, id;
	uint16_t segment;
	int live, seg_open;
};

static struct emodel *emodel;
static uint64_t e_bad, e_records, e_record_packets, e_evicted, e_segments;

static void
evict_on_end(void *ctx, const struct ft_flow *f, enum ft_end_reason reason)
{
	struct emodel *m = &emodel[key_index(f)];

	(void)ctx;
	if (!m->live || f->id != m->id || f->segment != m->segment ||
	    f->packets[0] + f->packets[1] != m->packets || f->bytes[0] + f->bytes[1] != m->bytes ||
	    (m->packets != 0 && (f->first_ns != m->first || f->last_ns != m->last)) ||
	    (m->packets != 0 && f->last_ns - f->first_ns > E_ACTIVE))
		e_bad++;
	e_records++;
	e_record_packets += m->packets;
	if (reason == FT_END_ACTIVE) {
		e_segments++;
		m->segment++;
		m->packets = m->bytes = 0;
		m->seg_open = 0;
		return;
	}
	e_evicted += reason == FT_END_EVICTED;
	m->live = 0;
}

static void
test_torture_evict(void **state)
{
	struct ft_flow_table_params pr = params(E_CAPACITY, 256);
	struct ft_flow_table *t;
	struct ft_pkt pkt, *pp[1] = {&pkt};
	uint32_t idx[1];
	uint64_t now = 5000 * SEC, rng = 0x2545F4914F6CDD1DULL, total = 0;

	(void)state;
	pr.key_hash = torture_hash;
	pr.full_policy = FT_FLOW_FULL_EVICT;
	pr.active_timeout_ns = E_ACTIVE;
	t = make_table_with(&pr);
	emodel = calloc(E_KEYS, sizeof(*emodel));
	assert_non_null(emodel);
	for (uint64_t ops = 0; ops < 3000000; ops++) {
		unsigned k;
		struct emodel *m;

		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		k = (rng & 1) ? (unsigned)(rng >> 20) % 2000 : (unsigned)(rng >> 20) % E_KEYS;
		now += (rng >> 40) % 200000; /* up to 0.2 ms per packet */
		key_of(k, &pkt);
		pkt.ts_ns = now;
		pkt.wire_len = 60 + (uint32_t)(rng % 1400);
		ft_flow_table_update_burst(t, pp, 1, idx, evict_on_end, NULL);
		assert_int_not_equal(idx[0], FT_FLOW_REFUSED);
		m = &emodel[k];
		if (!m->live) {
			*m = (struct emodel){.live = 1, .id = ft_flow_table_entry(t, idx[0])->id};
		}
		if (!m->seg_open) {
			m->first = now;
			m->seg_open = 1;
		}
		m->last = now;
		m->packets++;
		m->bytes += pkt.wire_len;
		total++;
		if ((ops & 0x3f) == 0)
			ft_flow_table_expire(t, now, evict_on_end, NULL);
		assert_int_equal(e_bad, 0);
	}
	ft_flow_table_flush(t, now, FT_END_SHUTDOWN, evict_on_end, NULL);
	assert_int_equal(e_bad, 0);
	assert_int_equal(e_record_packets, total);
	assert_true(e_evicted > 0);
	assert_true(e_segments > 0);
	print_message("torture (evict, active timeout): %" PRIu64 " packets, %" PRIu64
		      " records, %" PRIu64 " evictions, %" PRIu64 " segments\n",
		      total, e_records, e_evicted, e_segments);
	free(emodel);
	ft_flow_table_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_lifecycle),
		cmocka_unit_test(test_tcp_reuse_rst_midstream),
		cmocka_unit_test(test_tcp_flags_cut_by_capture),
		cmocka_unit_test(test_idle_split_and_flush_reasons),
		cmocka_unit_test(test_table_full_and_budget),
		cmocka_unit_test(test_evict_when_full),
		cmocka_unit_test(test_active_timeout),
		cmocka_unit_test(test_emergency),
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_torture),
		cmocka_unit_test(test_torture_evict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
