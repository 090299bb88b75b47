/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for TCP reassembly (src/reasm): the input is a program of
 * operations on the two directions of a flow sharing a small hold pool:
 * segments (any flags, sequence numbers near or far from where the direction
 * is, payload up to 1,600 bytes), the in-place fast path (ft_reasm_is_next +
 * ft_reasm_advance), acks, capture cuts, flushes and releases. A payload
 * byte's value is a function of its sequence number, so a delivered byte can
 * be checked.
 *
 * Besides crashes and sanitizer reports, it aborts when:
 *   - a direction's deliveries and gaps are not one run of stream offsets from
 *     0 without overlap, or a delivery is empty, or its bytes are not the ones
 *     captured at those sequence numbers (d->next_seq during the callback);
 *   - a direction holds bytes its counters do not say, or more than its budget;
 *   - at the end (both directions flushed), slots are still in use, or the
 *     counters do not account for every payload byte given exactly once:
 *     delivered + retransmitted + dropped + out of window + RST + stopped after
 *     a stop + released (held when a direction was released).
 */
#include <string.h>

#include "fuzz.h"
#include "reasm/reasm.h"

/* No EAL here: allocation comes from the C library. */
#include "../unit/dpdk_malloc.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* One direction and what the harness expects of it. */
struct side {
	struct ft_reasm_dir d;
	uint64_t next;	/* stream offset the next delivery or gap must start at */
	uint64_t depth; /* the data callback stops the direction here (0: never) */
	uint32_t base;	/* sequence numbers are drawn near this */
};

static inline uint8_t
byte_at(uint32_t seq)
{
	return (uint8_t)((seq * 2654435761u) >> 24);
}

static int
on_data(void *ctx, const uint8_t *data, uint32_t len, uint64_t offset)
{
	struct side *s = ctx;

	CHECK(len > 0 && offset == s->next && offset == s->d.offset);
	for (uint32_t i = 0; i < len; i++)
		CHECK(data[i] == byte_at(s->d.next_seq + i));
	s->next += len;
	return s->depth != 0 && s->next >= s->depth;
}

static void
on_gap(void *ctx, uint64_t offset, uint64_t len)
{
	struct side *s = ctx;

	CHECK(len > 0 && offset == s->next);
	s->next += len;
}

static const struct ft_reasm_ops ops = {.data = on_data, .gap = on_gap};

static void
reset(struct side *s, uint32_t base, uint64_t depth)
{
	memset(&s->d, 0, sizeof(s->d));
	s->next = 0;
	s->base = base;
	s->depth = depth;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t payload[1600];
	struct input in = {data, size};
	uint32_t shape = take(&in, 2);
	struct ft_reasm_params p = {
		/* 0 to 15 slots; per direction 1 to 4,500 bytes */
		.memory = (uint64_t)(shape & 15) * FT_REASM_SLOT_SIZE,
		.flow_bytes = 1 + ((shape >> 4) & 15) * 300,
		.socket_id = -1,
	};
	uint64_t depth = (shape >> 8) & 1 ? 1 + ((shape >> 9) & 127) * 64 : 0;
	struct ft_reasm *r = ft_reasm_create(&p, &ops);
	struct ft_reasm_stats st;
	struct side side[2];
	uint64_t given = 0, released = 0;

	CHECK(r != NULL);
	reset(&side[0], take(&in, 4), depth);
	reset(&side[1], take(&in, 4), depth);
	while (in.left > 0) {
		uint32_t op = take(&in, 1);
		struct side *s = &side[op & 1];
		/* Near the direction's base (both sides of it, wrapping), or anywhere. */
		uint32_t seq =
			(op & 0x80) ? take(&in, 4) : s->base + (uint32_t)(int16_t)take(&in, 2);

		switch ((op >> 1) & 7) {
		case 0:
		case 1:
		case 2: { /* a segment */
			uint8_t flags =
				(uint8_t)take(&in, 1) & (TCP_FIN | TCP_SYN | TCP_RST | TCP_ACK);
			uint32_t len = take(&in, 2) % sizeof(payload);
			uint32_t first = seq + ((flags & TCP_SYN) != 0);

			for (uint32_t i = 0; i < len; i++)
				payload[i] = byte_at(first + i);
			ft_reasm_segment(r, &s->d, seq, flags, payload, len, s);
			given += len;
			break;
		}
		case 3: { /* the fast path, as the matcher takes it */
			uint32_t len = 1 + take(&in, 1) * 4;

			if (!ft_reasm_is_next(&s->d, s->d.next_seq, TCP_ACK))
				break;
			CHECK(s->d.offset == s->next);
			/* consumed in place: the caller scans its own buffer */
			ft_reasm_advance(r, &s->d, len);
			s->next += len;
			given += len;
			break;
		}
		case 4: /* the other side acknowledges */
			ft_reasm_ack(r, &s->d, seq, s);
			break;
		case 5: { /* a segment the capture cut, ending where the stream is or anywhere */
			uint32_t captured_end = (op & 0x40) ? s->d.next_seq : seq;

			ft_reasm_cut(r, &s->d, captured_end, captured_end + take(&in, 2), s);
			break;
		}
		case 6: /* the direction ends */
			ft_reasm_flush(r, &s->d, s);
			CHECK(s->d.head == 0 && s->d.held_bytes == 0);
			reset(s, s->base + 0x10000, depth);
			break;
		case 7: /* the flow is dropped */
			released += s->d.held_bytes;
			ft_reasm_release(r, &s->d);
			reset(s, s->base - 0x10000, depth);
			break;
		}
		CHECK(s->d.held_bytes <= p.flow_bytes);
		CHECK(s->d.head != 0 || s->d.held_bytes == 0);
	}
	for (unsigned k = 0; k < 2; k++)
		ft_reasm_flush(r, &side[k].d, &side[k]);
	ft_reasm_get_stats(r, &st);
	CHECK(st.slots_in_use == 0);
	CHECK(given == st.delivered_bytes + st.retrans_bytes + st.dropped_bytes +
			       st.out_of_window_bytes + st.rst_bytes + st.stopped_bytes + released);
	ft_reasm_free(r);
	return 0;
}
