/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of src/reasm, the TCP reassembly policy: in order, reordered,
 * retransmitted with the same, overlapping or conflicting bytes, gaps (acked,
 * budget, end), sequence wrap, SYN and mid-stream starts, RST payload, the
 * window, stopping at a depth, and a randomized test against a reference model
 * (first captured copy of every byte wins; bytes never captured are gaps).
 *
 * DPDK allocation is redirected to libc at link time (-Wl,--wrap), so no EAL.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_errno.h>

#include "reasm/reasm.h"

#include "dpdk_malloc.h"

#define SYN 0x02
#define RST 0x04
#define ACK 0x10

#define STREAM_MAX (1 << 20)

/* What the callbacks saw: the delivered stream (by offset) and the gaps. */
struct sink {
	uint8_t bytes[STREAM_MAX];
	uint8_t kind[STREAM_MAX]; /* 0 nothing, 1 delivered, 2 gap */
	uint64_t next;		  /* every callback must continue where the last one ended */
	unsigned ncalls, ngaps;
	uint64_t stop_at; /* return "stop" once this offset is reached (0: never) */
	int order_errors;
};

static int
on_data(void *ctx, const uint8_t *data, uint32_t len, uint64_t offset)
{
	struct sink *s = ctx;

	if (offset != s->next || len == 0 || offset + len > STREAM_MAX) {
		s->order_errors++;
		return 0;
	}
	memcpy(s->bytes + offset, data, len);
	memset(s->kind + offset, 1, len);
	s->next = offset + len;
	s->ncalls++;
	return s->stop_at != 0 && s->next >= s->stop_at;
}

static void
on_gap(void *ctx, uint64_t offset, uint64_t len)
{
	struct sink *s = ctx;

	if (offset != s->next || len == 0 || offset + len > STREAM_MAX) {
		s->order_errors++;
		return;
	}
	memset(s->kind + offset, 2, len);
	s->next = offset + len;
	s->ngaps++;
}

static const struct ft_reasm_ops ops = {on_data, on_gap};

static struct ft_reasm *
make(uint64_t memory, uint32_t flow_bytes)
{
	struct ft_reasm_params p = {.memory = memory, .flow_bytes = flow_bytes, .socket_id = -1};
	struct ft_reasm *r = ft_reasm_create(&p, &ops);

	assert_non_null(r);
	return r;
}

static struct sink *
new_sink(void)
{
	struct sink *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	return s;
}

/* Most tests: a reassembler with room enough, one direction, one sink. */
struct fix {
	struct ft_reasm *r;
	struct ft_reasm_dir d;
	struct sink *s;
};

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->r = make(1 << 20, 1 << 16);
	f->s = new_sink();
	*state = f;
	return 0;
}

/* The same, with a per-direction budget of 1000 bytes and the stream started
 * (SYN with seq 0). */
static int
setup_budget(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->r = make(1 << 20, 1000);
	f->s = new_sink();
	ft_reasm_segment(f->r, &f->d, 0, SYN, NULL, 0, f->s);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	free(f->s);
	ft_reasm_free(f->r);
	free(f);
	return 0;
}

/* The reference stream: byte k of a direction. */
static uint8_t
ref(uint64_t k)
{
	return (uint8_t)(k * 131 + (k >> 8) * 7 + 1);
}

static uint8_t buf[70000];

/* Segment of the reference stream at offset off (isn: the SYN's seq). */
static void
seg(struct ft_reasm *r, struct ft_reasm_dir *d, uint32_t isn, uint64_t off, uint32_t len,
    struct sink *s)
{
	for (uint32_t i = 0; i < len; i++)
		buf[i] = ref(off + i);
	ft_reasm_segment(r, d, isn + 1 + (uint32_t)off, ACK, buf, len, s);
}

/* The sink holds exactly the reference bytes [0, n) and no gap. */
static void
expect_stream(const struct sink *s, uint64_t n)
{
	assert_int_equal(s->order_errors, 0);
	assert_int_equal(s->next, n);
	for (uint64_t k = 0; k < n; k++) {
		if (s->kind[k] != 1 || s->bytes[k] != ref(k))
			fail_msg("offset %llu: kind %u byte %02x, want %02x", (unsigned long long)k,
				 s->kind[k], s->bytes[k], ref(k));
	}
}

static void
test_create_args(void **state)
{
	struct ft_reasm_params p = {.memory = 4096, .flow_bytes = 0, .socket_id = -1};
	struct ft_reasm_ops bad = {on_data, NULL};

	(void)state;
	assert_null(ft_reasm_create(&p, &ops)); /* flow_bytes 0 with a pool */
	assert_int_equal(rte_errno, EINVAL);
	p.flow_bytes = 100;
	assert_null(ft_reasm_create(&p, NULL));
	assert_null(ft_reasm_create(&p, &bad));
	p.memory = 0;
	p.flow_bytes = 0;
	ft_reasm_free(ft_reasm_create(&p, &ops)); /* no pool: allowed */
	ft_reasm_free(NULL);
	p.memory = 10 * 512 + 100;
	assert_int_equal(ft_reasm_memory(&p) - ft_reasm_memory(&(struct ft_reasm_params){0}),
			 10 * 512);
}

static void
test_in_order(void **state)
{
	struct fix *f = *state;
	struct ft_reasm_stats st;

	ft_reasm_segment(f->r, &f->d, 1000, SYN, NULL, 0, f->s);
	assert_int_equal(f->d.next_seq, 1001);
	for (uint64_t off = 0; off < 10000; off += 1000)
		seg(f->r, &f->d, 1000, off, 1000, f->s);
	expect_stream(f->s, 10000);
	assert_int_equal(f->s->ncalls, 10); /* straight from the segments */
	ft_reasm_get_stats(f->r, &st);
	assert_int_equal(st.delivered_bytes, 10000);
	assert_int_equal(st.held_bytes, 0);
	assert_int_equal(st.retrans_bytes, 0);
	assert_int_equal(st.segments, 10);
	assert_int_equal(f->d.offset, 10000);
	ft_reasm_flush(f->r, &f->d, f->s);
	assert_int_equal(f->s->ngaps, 0);
	assert_int_equal(f->d.flags, 0);
}

static void
test_reordered(void **state)
{
	struct fix *f = *state;
	struct ft_reasm_stats st;

	ft_reasm_segment(f->r, &f->d, 5, SYN, NULL, 0, f->s);
	seg(f->r, &f->d, 5, 0, 100, f->s);
	seg(f->r, &f->d, 5, 300, 1400, f->s); /* held: three slots */
	seg(f->r, &f->d, 5, 1700, 50, f->s);  /* held, appended */
	seg(f->r, &f->d, 5, 200, 100, f->s);  /* held, before the others */
	assert_int_equal(f->s->next, 100);
	assert_int_equal(f->d.held_bytes, 1550);
	ft_reasm_get_stats(f->r, &st);
	assert_int_equal(st.slots_in_use, 5);
	seg(f->r, &f->d, 5, 100, 100, f->s); /* fills the hole: everything flows */
	expect_stream(f->s, 1750);
	assert_int_equal(f->d.held_bytes, 0);
	assert_int_equal(f->d.head, 0);
	ft_reasm_get_stats(f->r, &st);
	assert_int_equal(st.slots_in_use, 0);
	assert_int_equal(st.held_bytes, 1550);
	assert_int_equal(st.gaps, 0);
}

static void
test_retransmitted(void **state)
{
	struct fix *f = *state;
	struct ft_reasm_stats st;

	ft_reasm_segment(f->r, &f->d, 77, SYN, NULL, 0, f->s);
	seg(f->r, &f->d, 77, 0, 500, f->s);
	seg(f->r, &f->d, 77, 0, 500, f->s);   /* same bytes again */
	seg(f->r, &f->d, 77, 100, 200, f->s); /* inside what was delivered */
	seg(f->r, &f->d, 77, 400, 300, f->s); /* overlaps the end: 200 new */
	expect_stream(f->s, 700);
	ft_reasm_get_stats(f->r, &st);
	assert_int_equal(st.retrans_bytes, 500 + 200 + 100);
	assert_int_equal(st.delivered_bytes, 700);
	/* Held data retransmitted before the hole is filled. */
	seg(f->r, &f->d, 77, 1000, 300, f->s);
	seg(f->r, &f->d, 77, 1000, 300, f->s);
	seg(f->r, &f->d, 77, 900, 200, f->s); /* 100 new before the held bytes */
	ft_reasm_get_stats(f->r, &st);
	assert_int_equal(st.retrans_bytes, 800 + 300 + 100);
	assert_int_equal(f->d.held_bytes, 400);
	seg(f->r, &f->d, 77, 700, 700, f->s); /* fills, and covers everything held */
	expect_stream(f->s, 1400);
}

/* Conflicting bytes: whatever copy was captured first wins, delivered or held. */
static void
test_conflicting(void **state)
{
	struct fix *f = *state;
	uint8_t evil[300];

	memset(evil, 'X', sizeof(evil));
	ft_reasm_segment(f->r, &f->d, 0, SYN, NULL, 0, f->s);
	seg(f->r, &f->d, 0, 0, 200, f->s);
	ft_reasm_segment(f->r, &f->d, 1 + 100, ACK, evil, 200,
			 f->s); /* 100 old (differ), 100 new */
	for (unsigned k = 0; k < 200; k++)
		assert_int_equal(f->s->bytes[k], ref(k));
	for (unsigned k = 200; k < 300; k++)
		assert_int_equal(f->s->bytes[k], 'X');
	/* Held, then a conflicting copy overlapping the held bytes and the hole. */
	seg(f->r, &f->d, 0, 500, 100, f->s);
	ft_reasm_segment(f->r, &f->d, 1 + 450, ACK, evil, 200,
			 f->s);		     /* 450-500 new, 500-600 held */
	seg(f->r, &f->d, 0, 300, 300, f->s); /* the hole: 300-450 new */
	assert_int_equal(f->s->next, 650);
	for (unsigned k = 300; k < 450; k++)
		assert_int_equal(f->s->bytes[k], ref(k));
	for (unsigned k = 450; k < 500; k++)
		assert_int_equal(f->s->bytes[k], 'X');
	for (unsigned k = 500; k < 600; k++)
		assert_int_equal(f->s->bytes[k], ref(k));
	for (unsigned k = 600; k < 650; k++)
		assert_int_equal(f->s->bytes[k], 'X');
	/* An in-order segment overlapping held bytes: the held copy wins there. */
	seg(f->r, &f->d, 0, 800, 100, f->s);
	ft_reasm_segment(f->r, &f->d, 1 + 650, ACK, evil, 300, f->s);
	assert_int_equal(f->s->next, 950);
	for (unsigned k = 650; k < 800; k++)
		assert_int_equal(f->s->bytes[k], 'X');
	for (unsigned k = 800; k < 900; k++)
		assert_int_equal(f->s->bytes[k], ref(k));
	for (unsigned k = 900; k < 950; k++)
		assert_int_equal(f->s->bytes[k], 'X');
	assert_int_equal(f->s->order_errors, 0);
}

static void
test_gap_acked(void **state)
{
	struct fix *f = *state;
	struct ft_reasm_stats st;

	ft_reasm_segment(f->r, &f->d, 1000, SYN, NULL, 0, f->s);
	seg(f->r, &f->d, 1000, 0, 100, f->s);
	/* An ack with nothing held is no evidence of loss: nothing happens. */
	ft_reasm_ack(f->r, &f->d, 1000 + 1 + 150, f->s);
	assert_int_equal(f->s->ngaps, 0);
	seg(f->r, &f->d, 1000, 200, 100, f->s);		 /* 100-200 never captured */
	seg(f->r, &f->d, 1000, 400, 100, f->s);		 /* 300-400 never captured */
	ft_reasm_ack(f->r, &f->d, 1000 + 1 + 100, f->s); /* not beyond: nothing */
	assert_int_equal(f->s->ngaps, 0);
	ft_reasm_ack(f->r, &f->d, 1000 + 1 + 150, f->s); /* half the hole */
	assert_int_equal(f->s->ngaps, 1);
	assert_int_equal(f->s->next, 150);
	ft_reasm_ack(f->r, &f->d, 1000 + 1 + 350,
		     f->s); /* rest of the hole, 200-300, part of the next */
	assert_int_equal(f->s->ngaps, 3);
	assert_int_equal(f->s->next, 350);
	/* The late copy of gapped bytes is old now. */
	seg(f->r, &f->d, 1000, 300, 100, f->s);
	assert_int_equal(f->s->next, 500);
	for (unsigned k = 0; k < 500; k++) {
		bool gap = (k >= 100 && k < 200) || (k >= 300 && k < 350);

		assert_int_equal(f->s->kind[k], gap ? 2 : 1);
		if (!gap)
			assert_int_equal(f->s->bytes[k], ref(k));
	}
	ft_reasm_get_stats(f->r, &st);
	assert_int_equal(st.gaps_acked, 3);
	assert_int_equal(st.gap_bytes, 150);
	assert_int_equal(st.gaps, 3);
	assert_int_equal(st.retrans_bytes, 50);
}

static void
test_gap_end(void **state)
{
	struct fix *f = *state;
	struct ft_reasm_stats st;

	ft_reasm_segment(f->r, &f->d, 9, SYN, NULL, 0, f->s);
	seg(f->r, &f->d, 9, 0, 10, f->s);
	seg(f->r, &f->d, 9, 20, 10, f->s);
	seg(f->r, &f->d, 9, 40, 10, f->s);
	ft_reasm_flush(f->r, &f->d, f->s);
	assert_int_equal(f->s->next, 50);
	assert_int_equal(f->s->ngaps, 2);
	ft_reasm_get_stats(f->r, &st);
	assert_int_equal(st.gaps_end, 2);
	assert_int_equal(st.gap_bytes, 20);
	assert_int_equal(st.slots_in_use, 0);
	assert_int_equal(f->d.flags, 0);
	assert_int_equal(f->d.offset, 0);
}

/* A segment the capture cut (policy (d)): in order, the rest is a gap at
 * once, held data beyond it delivered; held or old, nothing happens. */
static void
test_gap_cut(void **state)
{
	struct fix *f = *state;
	struct ft_reasm_stats st;

	ft_reasm_segment(f->r, &f->d, 0, SYN, NULL, 0, f->s);
	/* Out of order first: 300-400 held. */
	seg(f->r, &f->d, 0, 300, 100, f->s);
	/* Cut segments that are not where the stream stands change nothing. */
	ft_reasm_cut(f->r, &f->d, 1 + 400, 1 + 500, f->s); /* the held one */
	ft_reasm_cut(f->r, &f->d, 1 + 50, 1 + 100, f->s);  /* not delivered yet */
	assert_int_equal(f->s->ngaps, 0);
	/* 0-100 captured of a segment 0-250: 100-250 is a gap, then 250-300 is
	 * still a hole (not this segment's), held 300-400 waits. */
	seg(f->r, &f->d, 0, 0, 100, f->s);
	ft_reasm_cut(f->r, &f->d, 1 + 100, 1 + 250, f->s);
	assert_int_equal(f->s->ngaps, 1);
	assert_int_equal(f->s->next, 250);
	/* 250-280 captured of 250-350: the gap runs to the held data (280-300),
	 * which is delivered; it covers the rest: the stream is at 400. */
	seg(f->r, &f->d, 0, 250, 30, f->s);
	ft_reasm_cut(f->r, &f->d, 1 + 280, 1 + 350, f->s);
	assert_int_equal(f->s->ngaps, 2);
	assert_int_equal(f->s->next, 400);
	/* Cut past held data: 400-410 captured of 400-700, 500-600 held. */
	seg(f->r, &f->d, 0, 500, 100, f->s);
	seg(f->r, &f->d, 0, 400, 10, f->s);
	ft_reasm_cut(f->r, &f->d, 1 + 410, 1 + 700, f->s);
	assert_int_equal(f->s->next, 700);
	assert_int_equal(f->s->ngaps, 4);
	for (unsigned k = 0; k < 700; k++) {
		bool gap = (k >= 100 && k < 250) || (k >= 280 && k < 300) ||
			   (k >= 410 && k < 500) || k >= 600;

		if (f->s->kind[k] != (gap ? 2 : 1) || (!gap && f->s->bytes[k] != ref(k)))
			fail_msg("offset %u: kind %u", k, f->s->kind[k]);
	}
	ft_reasm_get_stats(f->r, &st);
	assert_int_equal(st.gaps_cut, 4);
	assert_int_equal(st.gaps, 4);
	assert_int_equal(st.gap_bytes, 150 + 20 + 90 + 100);
	assert_int_equal(st.slots_in_use, 0);
	/* The cut bytes, if they come after all, are old. */
	seg(f->r, &f->d, 0, 600, 100, f->s);
	assert_int_equal(f->s->next, 700);
	ft_reasm_get_stats(f->r, &st);
	assert_int_equal(st.retrans_bytes, 100);
	assert_int_equal(f->s->order_errors, 0);
}

/* Per-direction budget: holding more makes the earliest hole a gap. */
static void
test_gap_flow_budget(void **state)
{
	struct fix *f = *state;
	struct ft_reasm *r = f->r;
	struct ft_reasm_dir *d = &f->d;
	struct ft_reasm_stats st;
	struct sink *s = f->s;

	seg(r, d, 0, 100, 400, s);
	seg(r, d, 0, 600, 400, s);
	assert_int_equal(d->held_bytes, 800);
	seg(r, d, 0, 1100, 400, s); /* 1200 > 1000: skip 0-100, deliver 100-500 */
	assert_int_equal(s->next, 500);
	assert_int_equal(d->held_bytes, 800);
	ft_reasm_get_stats(r, &st);
	assert_int_equal(st.gaps_budget, 1);
	/* A segment larger than the budget: every hole goes, then it is in order. */
	seg(r, d, 0, 1600, 1500, s);
	assert_int_equal(s->next, 3100);
	assert_int_equal(d->held_bytes, 0);
	ft_reasm_get_stats(r, &st);
	assert_int_equal(st.gaps_budget, 4);
	assert_int_equal(st.gap_bytes, 100 + 100 + 100 + 100);
	assert_int_equal(s->order_errors, 0);
}

/*
 * The evasion memory pressure must not allow. A sender fills its direction's
 * budget with data far ahead (which the receiver, whose window it misses,
 * never takes), then sends the real bytes. Without the receiver's acks the
 * stream skips to the far data (policy (b)) and the real bytes are taken for
 * retransmissions; with them seen, the far data is dropped instead and the
 * real bytes are delivered.
 */
static void
evasion_run(bool acked, struct sink *s, struct ft_reasm_stats *st)
{
	struct ft_reasm *r = make(1 << 20, 1000);
	struct ft_reasm_dir d = {0};

	ft_reasm_segment(r, &d, 0, SYN, NULL, 0, s);
	if (acked)
		ft_reasm_ack(r, &d, 1, s); /* the SYN+ACK: the receiver is seen */
	seg(r, &d, 0, 100, 100, s);	   /* real data, reordered: held */
	seg(r, &d, 0, 5000, 600, s);	   /* far ahead: held (800 of 1000) */
	seg(r, &d, 0, 9000, 600, s);	   /* far ahead again: over the budget */
	seg(r, &d, 0, 0, 100, s);	   /* the real hole */
	seg(r, &d, 0, 200, 300, s);	   /* and what follows it */
	ft_reasm_get_stats(r, st);
	ft_reasm_flush(r, &d, s);
	ft_reasm_free(r);
}

static void
test_pressure_acked(void **state)
{
	struct sink *s = new_sink();
	struct ft_reasm_stats st;

	(void)state;
	evasion_run(false, s, &st);
	/* Unacked: the stream skipped to 5000; the real bytes 0-100 and 200-500
	 * were never delivered. */
	assert_int_equal(st.gaps_budget, 2);
	assert_int_equal(s->kind[0], 2);
	assert_int_equal(s->kind[300], 2);
	memset(s, 0, sizeof(*s));

	evasion_run(true, s, &st);
	/* Acked: the segment at 9000, the farthest ahead, was dropped and the
	 * real bytes all arrived. */
	assert_int_equal(st.gaps_budget, 0);
	assert_int_equal(st.dropped_segments, 1);
	assert_int_equal(st.dropped_bytes, 600);
	assert_int_equal(st.dropped_held_bytes, 0);
	assert_int_equal(st.delivered_bytes, 500);
	assert_int_equal(st.slots_in_use, 2); /* 5000-5600 still held */
	/* The stream is exact up to 500; flushing gives up 500-5000 as a gap. */
	for (uint64_t k = 0; k < 500; k++)
		if (s->kind[k] != 1 || s->bytes[k] != ref(k))
			fail_msg("offset %llu not delivered", (unsigned long long)k);
	assert_int_equal(s->kind[500], 2);
	assert_int_equal(s->next, 5600);
	assert_int_equal(s->order_errors, 0);
	free(s);
}

/* Acked, under pressure: held data beyond a nearer segment is dropped, the
 * farthest first and no more than needed; a segment that cannot be made room
 * for is dropped whole; an ack still turns holes into gaps. */
static void
test_pressure_drop_farthest(void **state)
{
	struct fix *f = *state;
	struct ft_reasm *r = f->r;
	struct ft_reasm_dir *d = &f->d;
	struct ft_reasm_stats st;
	struct sink *s = f->s;

	ft_reasm_ack(r, d, 1, s);
	assert_true(d->flags & FT_REASM_D_ACKED);
	seg(r, d, 0, 3000, 300, s);
	seg(r, d, 0, 4000, 300, s);
	seg(r, d, 0, 5000, 300, s); /* 900 held */
	seg(r, d, 0, 1000, 400, s); /* needs 300 more: 5000-5300 goes, 4000 stays */
	assert_int_equal(d->held_bytes, 1000);
	ft_reasm_get_stats(r, &st);
	assert_int_equal(st.dropped_bytes, 300);
	assert_int_equal(st.dropped_held_bytes, 300);
	assert_int_equal(st.dropped_segments, 0);
	/* Too big for what lies beyond it: dropped, nothing else changes. */
	seg(r, d, 0, 2000, 800, s);
	assert_int_equal(d->held_bytes, 1000);
	ft_reasm_get_stats(r, &st);
	assert_int_equal(st.dropped_segments, 1);
	assert_int_equal(st.dropped_bytes, 300 + 800);
	/* Retransmitted bytes in a dropped segment stay retransmissions. */
	seg(r, d, 0, 1200, 900, s); /* 1200-1400 held already, 1400-2100 new: dropped */
	ft_reasm_get_stats(r, &st);
	assert_int_equal(st.retrans_bytes, 200);
	assert_int_equal(st.dropped_bytes, 300 + 800 + 700);
	/* The direction's own count, which the caller may reset. */
	assert_int_equal(d->dropped, 300 + 800 + 700);
	d->dropped = 0;
	/* The receiver acknowledges 0-1000: a gap, then 1000-1400 in order. */
	ft_reasm_ack(r, d, 1 + 1000, s);
	assert_int_equal(s->next, 1400);
	assert_int_equal(s->kind[999], 2);
	assert_int_equal(s->kind[1000], 1);
	seg(r, d, 0, 1400, 1600, s); /* fills up to 3000: 3000-3300 and 4000-4300 follow */
	assert_int_equal(s->next, 3300);
	assert_int_equal(d->dropped, 0);
	/* The count saturates rather than wrap. */
	d->dropped = UINT32_MAX - 100;
	seg(r, d, 0, 9000, 900, s); /* over the budget, nothing beyond it: dropped */
	assert_int_equal(d->dropped, UINT32_MAX);
	ft_reasm_flush(r, d, s);
	assert_int_equal(s->next, 4300);
	assert_int_equal(s->order_errors, 0);
	ft_reasm_get_stats(r, &st);
	assert_int_equal(st.slots_in_use, 0);
}

/* Worker pool tests: 4 slots, direction a holding 3 of them. */
struct pool_fix {
	struct ft_reasm *r;
	struct ft_reasm_dir a, b;
	struct sink *sa, *sb;
};

static void
pool_start(struct pool_fix *p, bool b_acked)
{
	memset(p, 0, sizeof(*p));
	p->r = make(4 * 512, 1 << 20);
	p->sa = new_sink();
	p->sb = new_sink();
	ft_reasm_segment(p->r, &p->a, 0, SYN, NULL, 0, p->sa);
	ft_reasm_segment(p->r, &p->b, 0, SYN, NULL, 0, p->sb);
	if (b_acked)
		ft_reasm_ack(p->r, &p->b, 1, p->sb);
	seg(p->r, &p->a, 0, 100, 1000, p->sa); /* 3 slots */
}

/* Whatever b did, a still has its data, intact. */
static void
pool_end(struct pool_fix *p)
{
	seg(p->r, &p->a, 0, 0, 100, p->sa);
	expect_stream(p->sa, 1100);
	ft_reasm_flush(p->r, &p->b, p->sb);
	free(p->sa);
	free(p->sb);
	ft_reasm_free(p->r);
}

/* Worker pool: a direction needing slots the pool lacks gives up its own holes. */
static void
test_gap_pool(void **state)
{
	struct pool_fix p;
	struct ft_reasm_stats st;

	(void)state;
	pool_start(&p, false);
	seg(p.r, &p.b, 0, 100, 400, p.sb); /* the last one */
	seg(p.r, &p.b, 0, 600, 10, p.sb);  /* none left: b skips its hole, delivers, holds this */
	assert_int_equal(p.sb->next, 500);
	assert_int_equal(p.b.held_bytes, 10);
	seg(p.r, &p.b, 0, 700, 10, p.sb); /* a holds 3, b 1: b skips again, to 610, then holds */
	assert_int_equal(p.sb->next, 610);
	ft_reasm_get_stats(p.r, &st);
	assert_int_equal(st.gaps_budget, 2);
	assert_int_equal(st.slots_in_use, 4);
	pool_end(&p);
}

/* The worker pool, acked: a direction short of slots drops its own far data,
 * never another direction's, and never skips a hole for room. */
static void
test_pressure_pool_acked(void **state)
{
	struct pool_fix p;
	struct ft_reasm_stats st;

	(void)state;
	pool_start(&p, true);
	seg(p.r, &p.b, 0, 900, 10, p.sb); /* the last one */
	seg(p.r, &p.b, 0, 600, 10, p.sb); /* none free: b's far 900 goes for it */
	assert_int_equal(p.b.held_bytes, 10);
	seg(p.r, &p.b, 0, 700, 10, p.sb); /* none free and nothing of b beyond it: dropped */
	ft_reasm_get_stats(p.r, &st);
	assert_int_equal(st.gaps_budget, 0);
	assert_int_equal(st.dropped_segments, 1);
	assert_int_equal(st.dropped_held_bytes, 10);
	assert_int_equal(p.b.dropped, 10 + 10);
	assert_int_equal(p.a.dropped, 0); /* a lost nothing */
	assert_int_equal(p.sb->next, 0);
	pool_end(&p);
}

/* No pool at all: every hole is a gap at once. */
static void
test_no_pool(void **state)
{
	struct ft_reasm *r = make(0, 0);
	struct ft_reasm_dir d = {0};
	struct sink *s = new_sink();

	(void)state;
	ft_reasm_segment(r, &d, 0, SYN, NULL, 0, s);
	seg(r, &d, 0, 50, 50, s);
	assert_int_equal(s->next, 100);
	assert_int_equal(s->ngaps, 1);
	seg(r, &d, 0, 0, 50, s); /* too late */
	assert_int_equal(s->next, 100);
	free(s);
	ft_reasm_free(r);
}

/* Sequence numbers wrap around 2^32 in the middle of held and delivered data. */
static void
test_wrap(void **state)
{
	struct fix *f = *state;
	uint32_t isn = 0xffffffffu - 1000;

	ft_reasm_segment(f->r, &f->d, isn, SYN, NULL, 0, f->s);
	seg(f->r, &f->d, isn, 0, 900, f->s);
	seg(f->r, &f->d, isn, 1400, 500, f->s); /* beyond the wrap, held */
	seg(f->r, &f->d, isn, 900, 200, f->s);	/* across the wrap */
	seg(f->r, &f->d, isn, 500, 800, f->s);	/* overlaps delivered and fills to 1300 */
	seg(f->r, &f->d, isn, 1300, 100, f->s);
	expect_stream(f->s, 1900);
	assert_int_equal(f->d.next_seq, isn + 1 + 1900);
	ft_reasm_ack(f->r, &f->d, isn + 1 + 1900, f->s); /* nothing held: nothing */
	assert_int_equal(f->s->ngaps, 0);
}

static void
test_start_and_flags(void **state)
{
	struct fix *f = *state;
	struct ft_reasm_stats st;
	uint8_t data[100];

	memset(data, 'a', sizeof(data));
	/* Mid-stream: the first segment with payload starts the stream. */
	ft_reasm_segment(f->r, &f->d, 5000, ACK, data, 100, f->s);
	assert_int_equal(f->s->next, 100);
	ft_reasm_segment(f->r, &f->d, 4900, ACK, data, 100, f->s); /* before the start: old */
	assert_int_equal(f->s->next, 100);
	/* A SYN now does not restart a stream that delivered data. */
	ft_reasm_segment(f->r, &f->d, 1, SYN, NULL, 0, f->s);
	assert_int_equal(f->d.next_seq, 5100);
	ft_reasm_release(f->r, &f->d);

	/* A retransmitted SYN with another ISN before any data restarts it. */
	memset(f->s, 0, sizeof(*f->s));
	ft_reasm_segment(f->r, &f->d, 100, SYN, NULL, 0, f->s);
	ft_reasm_segment(f->r, &f->d, 700, SYN, NULL, 0, f->s);
	assert_int_equal(f->d.next_seq, 701);
	/* SYN with data (TFO): the payload follows the SYN's sequence number. */
	ft_reasm_release(f->r, &f->d);
	ft_reasm_segment(f->r, &f->d, 700, SYN | ACK, data, 10, f->s);
	assert_int_equal(f->s->next, 10);
	assert_int_equal(f->d.next_seq, 711);
	/* RST payload is not stream data. */
	ft_reasm_segment(f->r, &f->d, 711, RST | ACK, data, 20, f->s);
	assert_int_equal(f->s->next, 10);
	/* Out of window: ignored, counted. */
	ft_reasm_segment(f->r, &f->d, 711 + FT_REASM_WINDOW + 1, ACK, data, 20, f->s);
	assert_int_equal(f->d.held_bytes, 0);
	/* Zero-length segments (pure ACKs, window probes) change nothing. */
	ft_reasm_segment(f->r, &f->d, 710, ACK, NULL, 0, f->s);
	assert_int_equal(f->d.next_seq, 711);
	ft_reasm_get_stats(f->r, &st);
	assert_int_equal(st.rst_bytes, 20);
	assert_int_equal(st.out_of_window, 1);
	assert_int_equal(st.retrans_bytes, 100);
}

/* The data callback stops the direction (a scan depth): held data is released
 * and later input ignored. */
static void
test_stop(void **state)
{
	struct fix *f = *state;
	struct ft_reasm_stats st;

	f->s->stop_at = 250;
	ft_reasm_segment(f->r, &f->d, 0, SYN, NULL, 0, f->s);
	seg(f->r, &f->d, 0, 200, 100, f->s);
	seg(f->r, &f->d, 0, 400, 100, f->s);
	seg(f->r, &f->d, 0, 0, 200, f->s); /* delivers 0-200 then 200-300: stop */
	assert_int_equal(f->s->next, 300);
	assert_true(f->d.flags & FT_REASM_D_DONE);
	assert_int_equal(f->d.held_bytes, 0);
	ft_reasm_get_stats(f->r, &st);
	assert_int_equal(st.slots_in_use, 0);
	assert_int_equal(st.stopped_bytes, 100); /* 400-500, held */
	seg(f->r, &f->d, 0, 300, 100, f->s);
	assert_int_equal(f->s->next, 300);
	ft_reasm_get_stats(f->r, &st);
	assert_int_equal(st.stopped_bytes, 200);
	ft_reasm_flush(f->r, &f->d, f->s);
	assert_int_equal(f->s->ngaps, 0);
	assert_int_equal(f->d.flags, 0);
}

/* A stop inside a segment: the rest of the segment, and held copies it
 * overlaps, are counted as stopped (every byte captured is counted once). */
static void
test_stop_mid_segment(void **state)
{
	struct fix *f = *state;
	struct ft_reasm_stats st;

	f->s->stop_at = 50;
	ft_reasm_segment(f->r, &f->d, 0, SYN, NULL, 0, f->s);
	seg(f->r, &f->d, 0, 100, 50, f->s); /* held */
	seg(f->r, &f->d, 0, 0, 300, f->s);  /* 0-100 delivered: stop */
	assert_int_equal(f->s->next, 100);
	ft_reasm_get_stats(f->r, &st);
	assert_int_equal(st.delivered_bytes, 100);
	assert_int_equal(st.stopped_bytes, 50 + 200);
	assert_int_equal(st.slots_in_use, 0);

	/* The stop comes while held data is drained after a budget gap. */
	ft_reasm_release(f->r, &f->d);
	memset(f->s, 0, sizeof(*f->s));
	f->s->stop_at = 1;
	ft_reasm_segment(f->r, &f->d, 0, SYN, NULL, 0, f->s);
	seg(f->r, &f->d, 0, 100, 60, f->s); /* held */
	seg(f->r, &f->d, 0, 200, 30, f->s); /* held */
	/* Sequence distance of exactly 2^31 back: old data (no signed overflow). */
	ft_reasm_segment(f->r, &f->d, 1u + 0x80000000u, ACK, buf, 10, f->s);
	ft_reasm_get_stats(f->r, &st);
	assert_int_equal(st.retrans_bytes, 10);
	ft_reasm_ack(f->r, &f->d, 1 + 180, f->s); /* gap 0-100, then 100-160: stop */
	assert_int_equal(f->s->next, 160);
	ft_reasm_get_stats(f->r, &st);
	assert_int_equal(st.stopped_bytes, 250 + 30); /* 200-230 was held */
	/* Out of window: segments and bytes counted. */
	ft_reasm_release(f->r, &f->d);
	ft_reasm_segment(f->r, &f->d, 0, SYN, NULL, 0, f->s);
	ft_reasm_segment(f->r, &f->d, 1 + FT_REASM_WINDOW + 1, ACK, buf, 33, f->s);
	ft_reasm_get_stats(f->r, &st);
	assert_int_equal(st.out_of_window, 1);
	assert_int_equal(st.out_of_window_bytes, 33);
}

/* xorshift, deterministic */
static uint64_t rng_state = 88172645463325252ULL;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/*
 * Random captures of one direction: segments of a stream, reordered,
 * duplicated with the same or different bytes, some never captured. Model:
 * the delivered byte at each offset is the first captured copy; with room
 * enough (no budget pressure, no acks), exactly the never-captured bytes are
 * gaps. With a small pool, gaps may come early, but every offset is still
 * delivered once or gapped once, in order, and a delivered byte is always the
 * first copy captured.
 */
static uint64_t random_dropped; /* dropped_bytes over the runs */

static void
random_run(unsigned iter, uint64_t memory, uint32_t flow_bytes, bool exact, bool acked)
{
	enum { N = 60000, NSEG = 400 };
	static uint8_t first[N], seen[N], copies[N]; /* copies: bit 0 plain, bit 1 salted */
	static uint8_t payload[2000];
	struct ft_reasm *r = make(memory, flow_bytes);
	struct ft_reasm_dir d = {0};
	struct sink *s = new_sink();
	struct {
		uint32_t off, len;
		uint8_t salt;
	} segs[NSEG * 2];
	unsigned n = 0;
	uint32_t off = 0, isn = (uint32_t)rnd();
	uint64_t end = 0;

	memset(seen, 0, sizeof(seen));
	memset(copies, 0, sizeof(copies));
	/* Cut the stream; duplicate some segments (some with other bytes). */
	while (off < N - 1500 && n < NSEG) {
		uint32_t len = 1 + (uint32_t)(rnd() % 1460);

		segs[n].off = off;
		segs[n].len = len;
		segs[n++].salt = 0;
		off += len;
	}
	for (unsigned k = 0, m = n; k < m / 5; k++) {
		unsigned j = (unsigned)(rnd() % m);
		uint32_t shift = (uint32_t)(rnd() % 200);

		segs[n] = segs[j];
		segs[n].off = segs[j].off > shift ? segs[j].off - shift : 0;
		segs[n].salt = (uint8_t)(rnd() % 2 ? 0x5a : 0);
		n++;
	}
	/* Local reordering: swap neighbours within a distance of 6. */
	for (unsigned k = 0; k < n; k++) {
		unsigned j = k + (unsigned)(rnd() % 6);

		if (j < n && rnd() % 3 == 0) {
			__typeof__(segs[0]) t = segs[k];

			segs[k] = segs[j];
			segs[j] = t;
		}
	}
	ft_reasm_segment(r, &d, isn, SYN, NULL, 0, s);
	if (acked)
		ft_reasm_ack(r, &d, isn + 1, s);
	for (unsigned k = 0; k < n; k++) {
		if (rnd() % 40 == 0)
			continue; /* never captured */
		for (uint32_t i = 0; i < segs[k].len; i++) {
			uint32_t o = segs[k].off + i;

			payload[i] = (uint8_t)(ref(o) ^ segs[k].salt);
			copies[o] |= segs[k].salt ? 2 : 1;
			if (!seen[o]) {
				seen[o] = 1;
				first[o] = payload[i];
			}
		}
		if (segs[k].off + segs[k].len > end)
			end = segs[k].off + segs[k].len;
		ft_reasm_segment(r, &d, isn + 1 + segs[k].off, ACK, payload, segs[k].len, s);
	}
	{
		struct ft_reasm_stats st;

		/* One direction: its own count is all of the drops. */
		ft_reasm_get_stats(r, &st);
		assert_int_equal(d.dropped, st.dropped_bytes);
	}
	ft_reasm_flush(r, &d, s);
	assert_int_equal(s->order_errors, 0);
	/* The tail after the last byte seen is neither data nor gap. */
	while (end > 0 && !seen[end - 1])
		end--;
	if (acked && !exact) {
		/* Dropped data beyond everything held at the end is neither. */
		assert_true(s->next <= end);
		end = s->next;
	}
	assert_int_equal(s->next, end);
	for (uint64_t k = 0; k < end; k++) {
		/* Under pressure with acks seen, a dropped first copy leaves the
		 * byte to a later one. */
		if (s->kind[k] == 1 && acked && !exact &&
		    !((copies[k] & 1) && s->bytes[k] == ref(k)) &&
		    !((copies[k] & 2) && s->bytes[k] == (uint8_t)(ref(k) ^ 0x5a)))
			fail_msg("run %u offset %llu: delivered %02x, never captured", iter,
				 (unsigned long long)k, s->bytes[k]);
		else if (s->kind[k] == 1 && !(acked && !exact) &&
			 (!seen[k] || s->bytes[k] != first[k]))
			fail_msg(
				"run %u offset %llu: delivered %02x, first captured %02x (seen %u)",
				iter, (unsigned long long)k, s->bytes[k], first[k], seen[k]);
		if (s->kind[k] == 0)
			fail_msg("run %u offset %llu: neither delivered nor gap", iter,
				 (unsigned long long)k);
		if (exact && (s->kind[k] == 2) != !seen[k])
			fail_msg("run %u offset %llu: kind %u, seen %u", iter,
				 (unsigned long long)k, s->kind[k], seen[k]);
	}
	{
		struct ft_reasm_stats st;

		ft_reasm_get_stats(r, &st);
		assert_int_equal(st.slots_in_use, 0);
		if (acked)
			assert_int_equal(st.gaps_budget, 0);
		random_dropped += st.dropped_bytes;
	}
	free(s);
	ft_reasm_free(r);
}

static void
test_random_model(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 200; i++)
		random_run(i, 8 << 20, 1 << 20, true, false);
	/* With acks seen and room enough, the same. */
	for (unsigned i = 0; i < 200; i++)
		random_run(i, 8 << 20, 1 << 20, true, true);
	/* Tight budgets: 8 slots per worker, 2 KB per direction; holes skipped
	 * for room (no acks), or data dropped (acks seen). */
	for (unsigned i = 0; i < 200; i++)
		random_run(i, 8 * 512, 2048, false, false);
	random_dropped = 0;
	for (unsigned i = 0; i < 200; i++)
		random_run(i, 8 * 512, 2048, false, true);
	assert_true(random_dropped > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_args),
		cmocka_unit_test_setup_teardown(test_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reordered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retransmitted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflicting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_acked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_flow_budget, setup_budget, teardown),
		cmocka_unit_test(test_pressure_acked),
		cmocka_unit_test_setup_teardown(test_pressure_drop_farthest, setup_budget,
						teardown),
		cmocka_unit_test(test_pressure_pool_acked),
		cmocka_unit_test(test_gap_pool),
		cmocka_unit_test(test_no_pool),
		cmocka_unit_test_setup_teardown(test_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_and_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_mid_segment, setup, teardown),
		cmocka_unit_test(test_random_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
