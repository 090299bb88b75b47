/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP reassembly (policy in reasm.h).
 *
 * Held data lives in fixed 512-byte slots of one per-worker pool, linked per
 * direction in sequence order, never overlapping each other and always strictly
 * beyond the direction's next expected byte: a slot is delivered exactly when
 * next_seq reaches its first byte, so no slot is ever partly delivered.
 *
 * Why copies rather than holding the mbufs: mbufs belong to the rx pool, which
 * is sized for the rings; holding them for reordering would let a burst of
 * reordered flows starve rx (rx_nombuf, i.e. packet loss to keep packets).
 * Only out-of-order bytes are copied, once, into a pool whose size the
 * configuration bounds. Small slots keep a 60-byte segment from pinning a
 * 2 KB buffer; a full-size segment spans three.
 *
 * Sequence arithmetic: positions are taken relative to next_seq ("rel", a
 * uint32_t), which is below 2^31 for everything held (held data is at most
 * FT_REASM_WINDOW + 64 KiB beyond next_seq, and next_seq only moves forward),
 * so plain unsigned comparisons on rel values are wrap-safe.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include "reasm.h"

/* From export.h, kept local so this module does not depend on it. */
#define TCP_SYN 0x02
#define TCP_RST 0x04

struct slot {
	uint32_t seq;
	uint16_t len;
	uint16_t reserved;
	uint32_t next; /* next slot + 1 in its direction or in the free list; 0: none */
	uint32_t reserved2;
	uint8_t data[FT_REASM_SLOT_DATA];
};
static_assert(sizeof(struct slot) == FT_REASM_SLOT_SIZE, "slot layout");

struct ft_reasm {
	struct ft_reasm_ops ops;
	uint32_t flow_bytes;
	uint32_t nslots;
	uint32_t free_head; /* + 1 */
	uint32_t free_count;
	struct ft_reasm_stats st;
	struct slot *slots;
};

static inline struct slot *
slot_at(struct ft_reasm *r, uint32_t idx1)
{
	return &r->slots[idx1 - 1];
}

static inline uint32_t
slots_for(uint32_t len)
{
	return (len + FT_REASM_SLOT_DATA - 1) / FT_REASM_SLOT_DATA;
}

uint64_t
ft_reasm_memory(const struct ft_reasm_params *p)
{
	return sizeof(struct ft_reasm) + p->memory / FT_REASM_SLOT_SIZE * FT_REASM_SLOT_SIZE;
}

struct ft_reasm *
ft_reasm_create(const struct ft_reasm_params *p, const struct ft_reasm_ops *ops)
{
	struct ft_reasm *r;
	uint64_t n = p->memory / FT_REASM_SLOT_SIZE;

	if (ops == NULL || ops->data == NULL || ops->gap == NULL || n >= UINT32_MAX ||
	    (n > 0 && p->flow_bytes == 0)) {
		rte_errno = EINVAL;
		return NULL;
	}
	r = rte_zmalloc_socket("ft_reasm", sizeof(*r), RTE_CACHE_LINE_SIZE, p->socket_id);
	if (r == NULL)
		goto nomem;
	r->ops = *ops;
	r->flow_bytes = p->flow_bytes;
	r->nslots = (uint32_t)n;
	if (n > 0) {
		r->slots = rte_zmalloc_socket("ft_reasm_slots", n * sizeof(struct slot),
					      RTE_CACHE_LINE_SIZE, p->socket_id);
		if (r->slots == NULL)
			goto nomem;
		for (uint32_t i = 0; i < n; i++)
			r->slots[i].next = i + 2 <= n ? i + 2 : 0;
		r->free_head = 1;
	}
	r->free_count = r->nslots;
	r->st.slots = r->nslots;
	return r;
nomem:
	if (r != NULL)
		rte_free(r);
	rte_errno = ENOMEM;
	return NULL;
}

void
ft_reasm_free(struct ft_reasm *r)
{
	if (r == NULL)
		return;
	rte_free(r->slots);
	rte_free(r);
}

void
ft_reasm_get_stats(const struct ft_reasm *r, struct ft_reasm_stats *stats)
{
	*stats = r->st;
	stats->slots_in_use = r->nslots - r->free_count;
}

static uint32_t
slot_alloc(struct ft_reasm *r)
{
	uint32_t i = r->free_head;

	r->free_head = slot_at(r, i)->next;
	r->free_count--;
	return i;
}

static void
slot_free(struct ft_reasm *r, uint32_t i)
{
	slot_at(r, i)->next = r->free_head;
	r->free_head = i;
	r->free_count++;
}

/* Count len bytes of d dropped for want of room. */
static void
count_dropped(struct ft_reasm *r, struct ft_reasm_dir *d, uint32_t len)
{
	r->st.dropped_bytes += len;
	d->dropped = d->dropped > UINT32_MAX - len ? UINT32_MAX : d->dropped + len;
}

/* Free every slot of d; d holds nothing afterwards. */
static void
drop_held(struct ft_reasm *r, struct ft_reasm_dir *d)
{
	uint32_t i = d->head;

	while (i != 0) {
		uint32_t next = slot_at(r, i)->next;

		slot_free(r, i);
		i = next;
	}
	d->head = d->tail = 0;
	d->held_bytes = 0;
}

/* Hand len bytes at next_seq to the data callback; false once d is done. */
static bool
deliver(struct ft_reasm *r, struct ft_reasm_dir *d, const uint8_t *data, uint32_t len, void *ctx)
{
	int stop = r->ops.data(ctx, data, len, d->offset);

	d->next_seq += len;
	d->offset += len;
	r->st.delivered_bytes += len;
	if (stop) {
		r->st.stopped_bytes += d->held_bytes;
		drop_held(r, d);
		d->flags |= FT_REASM_D_DONE;
		return false;
	}
	return true;
}

/* Deliver the first held slot (it starts at next_seq). */
static bool
deliver_head(struct ft_reasm *r, struct ft_reasm_dir *d, void *ctx)
{
	uint32_t i = d->head;
	struct slot *s = slot_at(r, i);
	bool more;

	d->head = s->next;
	if (d->head == 0)
		d->tail = 0;
	d->held_bytes -= s->len;
	more = deliver(r, d, s->data, s->len, ctx);
	slot_free(r, i);
	return more;
}

/* Deliver held slots while the first one is in order. */
static void
drain(struct ft_reasm *r, struct ft_reasm_dir *d, void *ctx)
{
	while (d->head != 0 && slot_at(r, d->head)->seq == d->next_seq)
		if (!deliver_head(r, d, ctx))
			return;
}

/* Give up the len bytes at next_seq and go on after them. */
static void
skip(struct ft_reasm *r, struct ft_reasm_dir *d, uint32_t len, uint64_t *cause, void *ctx)
{
	r->ops.gap(ctx, d->offset, len);
	r->st.gaps++;
	r->st.gap_bytes += len;
	(*cause)++;
	d->next_seq += len;
	d->offset += len;
	drain(r, d, ctx);
}

/* A segment starting at next_seq: its bytes interleaved with held slots that
 * fall inside it (the held copy arrived first, so it wins). */
static void
deliver_in_order(struct ft_reasm *r, struct ft_reasm_dir *d, const uint8_t *data, uint32_t len,
		 void *ctx)
{
	while (len > 0) {
		uint32_t n = len;

		if (d->head != 0) {
			struct slot *h = slot_at(r, d->head);
			uint32_t before = h->seq - d->next_seq;

			if (before == 0) {
				uint32_t dup = RTE_MIN(len, (uint32_t)h->len);

				r->st.retrans_bytes += dup;
				data += dup;
				len -= dup;
				if (!deliver_head(r, d, ctx)) {
					r->st.stopped_bytes += len;
					return;
				}
				continue;
			}
			n = RTE_MIN(n, before);
		}
		if (!deliver(r, d, data, n, ctx)) {
			r->st.stopped_bytes += len - n;
			return;
		}
		data += n;
		len -= n;
	}
	drain(r, d, ctx);
}

/* Link len bytes at seq into d after slot `prev` (0: at the head), in as many
 * slots as needed; returns the last slot linked. Slots must be available. */
static uint32_t
link_piece(struct ft_reasm *r, struct ft_reasm_dir *d, uint32_t prev, uint32_t seq,
	   const uint8_t *src, uint32_t len)
{
	uint32_t after = prev != 0 ? slot_at(r, prev)->next : d->head;

	while (len > 0) {
		uint32_t i = slot_alloc(r);
		struct slot *s = slot_at(r, i);
		uint32_t n = RTE_MIN(len, (uint32_t)FT_REASM_SLOT_DATA);

		s->seq = seq;
		s->len = (uint16_t)n;
		memcpy(s->data, src, n);
		if (prev != 0)
			slot_at(r, prev)->next = i;
		else
			d->head = i;
		prev = i;
		seq += n;
		src += n;
		len -= n;
		d->held_bytes += n;
		r->st.held_bytes += n;
		r->st.held_segments++;
	}
	slot_at(r, prev)->next = after;
	if (after == 0)
		d->tail = prev;
	return prev;
}

/*
 * Make room in an acknowledged direction by dropping held data that lies
 * wholly beyond rel_end (relative to next_seq): the suffix of the list, as
 * little of it as gives `bytes` more bytes and `nslots` more slots room, or
 * none of it if all of it would not. Returns true if there is room then.
 */
static bool
drop_beyond(struct ft_reasm *r, struct ft_reasm_dir *d, uint32_t rel_end, uint32_t bytes,
	    uint32_t nslots)
{
	uint64_t over_bytes = (uint64_t)d->held_bytes + bytes > r->flow_bytes
				      ? (uint64_t)d->held_bytes + bytes - r->flow_bytes
				      : 0;
	uint32_t over_slots = nslots > r->free_count ? nslots - r->free_count : 0;
	uint32_t beyond_bytes = 0, beyond_slots = 0, first = 0, first_prev = 0, prev, i;

	/* The usual case under pressure (a sender running ahead), in constant
	 * time: nothing held lies beyond, the list being sorted. */
	if (d->tail == 0 || slot_at(r, d->tail)->seq - d->next_seq < rel_end)
		return false;
	/* What lies beyond rel_end (a suffix of the sorted list), in all. */
	for (prev = 0, i = d->head; i != 0; prev = i, i = slot_at(r, i)->next) {
		struct slot *h = slot_at(r, i);

		if (h->seq - d->next_seq >= rel_end) {
			if (first == 0) {
				first = i;
				first_prev = prev;
			}
			beyond_bytes += h->len;
			beyond_slots++;
		}
	}
	if (beyond_bytes < over_bytes || beyond_slots < over_slots)
		return false;
	/* Keep the nearest of it: walk the suffix to the first slot that must go. */
	for (prev = first_prev, i = first; i != 0; prev = i, i = slot_at(r, i)->next) {
		struct slot *h = slot_at(r, i);

		if (beyond_bytes - h->len < over_bytes || beyond_slots - 1 < over_slots)
			break;
		beyond_bytes -= h->len;
		beyond_slots--;
	}
	/* Free from i to the tail. */
	if (prev != 0)
		slot_at(r, prev)->next = 0;
	else
		d->head = 0;
	d->tail = prev;
	while (i != 0) {
		struct slot *h = slot_at(r, i);
		uint32_t next = h->next;

		d->held_bytes -= h->len;
		count_dropped(r, d, h->len);
		r->st.dropped_held_bytes += h->len;
		slot_free(r, i);
		i = next;
	}
	return true;
}

/*
 * The bytes of [seq, seq + len) no held slot covers, as pieces between held
 * slots. With insert false, only counts them (bytes and slots needed); with
 * insert true, links them.
 */
static void
pieces(struct ft_reasm *r, struct ft_reasm_dir *d, uint32_t seq, const uint8_t *data, uint32_t len,
       bool insert, uint32_t *bytes, uint32_t *nslots)
{
	uint32_t cur = seq - d->next_seq, end = cur + len, base = cur;
	uint32_t prev = 0, i = d->head;

	*bytes = *nslots = 0;
	/* Appending after everything held is the common case: skip the walk. */
	if (d->tail != 0) {
		struct slot *t = slot_at(r, d->tail);

		if (t->seq - d->next_seq + t->len <= cur) {
			prev = d->tail;
			i = 0;
		}
	}
	for (; i != 0 && cur < end; prev = i, i = slot_at(r, i)->next) {
		struct slot *h = slot_at(r, i);
		uint32_t hs = h->seq - d->next_seq, he = hs + h->len;

		if (he <= cur)
			continue;
		if (hs >= end)
			break;
		if (hs > cur) {
			*bytes += hs - cur;
			*nslots += slots_for(hs - cur);
			if (insert)
				prev = link_piece(r, d, prev, d->next_seq + cur,
						  data + (cur - base), hs - cur);
		}
		cur = RTE_MAX(cur, he);
	}
	if (cur < end) {
		*bytes += end - cur;
		*nslots += slots_for(end - cur);
		if (insert)
			link_piece(r, d, prev, d->next_seq + cur, data + (cur - base), end - cur);
	}
}

void
ft_reasm_segment(struct ft_reasm *r, struct ft_reasm_dir *d, uint32_t seq, uint8_t flags,
		 const uint8_t *data, uint32_t len, void *ctx)
{
	if (d->flags & FT_REASM_D_DONE) {
		r->st.stopped_bytes += len;
		return;
	}
	if (flags & TCP_RST) {
		r->st.rst_bytes += len;
		return;
	}
	if (flags & TCP_SYN) {
		/* A SYN (re)starts the stream while nothing of it was delivered or
		 * held; later ones (retransmitted, or a peer's confusion) do not. */
		if (!(d->flags & FT_REASM_D_SYNC) || (d->offset == 0 && d->head == 0)) {
			d->next_seq = seq + 1;
			d->flags |= FT_REASM_D_SYNC;
		}
		seq++;
	}
	if (len == 0)
		return;
	r->st.segments++;
	if (!(d->flags & FT_REASM_D_SYNC)) {
		d->next_seq = seq;
		d->flags |= FT_REASM_D_SYNC;
	}

	for (;;) {
		int32_t ahead = (int32_t)(seq - d->next_seq);
		uint32_t bytes, nslots;

		if (ahead <= 0) {
			uint32_t old = d->next_seq - seq; /* not -ahead: INT32_MIN */

			if (old >= len) {
				r->st.retrans_bytes += len;
				return;
			}
			r->st.retrans_bytes += old;
			deliver_in_order(r, d, data + old, len - old, ctx);
			return;
		}
		if ((uint32_t)ahead > FT_REASM_WINDOW) {
			r->st.out_of_window++;
			r->st.out_of_window_bytes += len;
			return;
		}
		pieces(r, d, seq, data, len, false, &bytes, &nslots);
		if (bytes == 0) {
			r->st.retrans_bytes += len;
			return;
		}
		if (((uint64_t)d->held_bytes + bytes <= r->flow_bytes && nslots <= r->free_count) ||
		    ((d->flags & FT_REASM_D_ACKED) &&
		     drop_beyond(r, d, (uint32_t)ahead + len, bytes, nslots))) {
			r->st.retrans_bytes += len - bytes;
			pieces(r, d, seq, data, len, true, &bytes, &nslots);
			return;
		}
		if (d->flags & FT_REASM_D_ACKED) {
			/* The receiver's acks are seen: its holes are given up
			 * when it acknowledges beyond them, never for room (that
			 * would let a sender's far-ahead data push the stream past
			 * bytes it has yet to send). This segment, the farthest
			 * ahead of what is left, is dropped instead. */
			r->st.retrans_bytes += len - bytes;
			count_dropped(r, d, bytes);
			r->st.dropped_segments++;
			return;
		}
		/* No room: the earliest hole becomes a gap (then the loop sees
		 * where the segment stands). Each pass ends a hole, so this ends. */
		if (d->head != 0)
			skip(r, d, slot_at(r, d->head)->seq - d->next_seq, &r->st.gaps_budget, ctx);
		else
			skip(r, d, (uint32_t)ahead, &r->st.gaps_budget, ctx);
		if (d->flags & FT_REASM_D_DONE) {
			r->st.stopped_bytes += len;
			return;
		}
	}
}

void
ft_reasm_advance(struct ft_reasm *r, struct ft_reasm_dir *d, uint32_t len)
{
	r->st.segments++;
	r->st.delivered_bytes += len;
	d->next_seq += len;
	d->offset += len;
}

void
ft_reasm_ack(struct ft_reasm *r, struct ft_reasm_dir *d, uint32_t ack, void *ctx)
{
	int32_t beyond;

	d->flags |= FT_REASM_D_ACKED;
	while (d->head != 0 && !(d->flags & FT_REASM_D_DONE) &&
	       (beyond = (int32_t)(ack - d->next_seq)) > 0) {
		uint32_t hole = slot_at(r, d->head)->seq - d->next_seq;

		skip(r, d, RTE_MIN((uint32_t)beyond, hole), &r->st.gaps_acked, ctx);
	}
}

void
ft_reasm_cut(struct ft_reasm *r, struct ft_reasm_dir *d, uint32_t captured_end, uint32_t end_seq,
	     void *ctx)
{
	int32_t beyond;

	if ((d->flags & (FT_REASM_D_SYNC | FT_REASM_D_DONE)) != FT_REASM_D_SYNC ||
	    d->next_seq != captured_end)
		return;
	/* Each pass gives up a hole up to the next held byte or end_seq; held
	 * data in between is delivered on the way. */
	while (!(d->flags & FT_REASM_D_DONE) && (beyond = (int32_t)(end_seq - d->next_seq)) > 0) {
		uint32_t len = (uint32_t)beyond;

		if (d->head != 0)
			len = RTE_MIN(len, slot_at(r, d->head)->seq - d->next_seq);
		if (len == 0) /* held data never starts at next_seq; defensive */
			break;
		skip(r, d, len, &r->st.gaps_cut, ctx);
	}
}

void
ft_reasm_flush(struct ft_reasm *r, struct ft_reasm_dir *d, void *ctx)
{
	while (d->head != 0 && !(d->flags & FT_REASM_D_DONE))
		skip(r, d, slot_at(r, d->head)->seq - d->next_seq, &r->st.gaps_end, ctx);
	ft_reasm_release(r, d);
}

void
ft_reasm_release(struct ft_reasm *r, struct ft_reasm_dir *d)
{
	drop_held(r, d);
	memset(d, 0, sizeof(*d));
}
