/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow table internals.
 *
 * Index: a power-of-two array of 64-byte buckets, 8 slots each (a 32-bit hash
 * signature and an entry index). A key lives in its primary bucket (hash & mask)
 * or its alternate (primary ^ f(hash)), cuckoo style, so a lookup reads at most
 * two cache lines of index and, after a signature match, the entry. Because the
 * alternate is derived from the signature alone, an entry can be moved between
 * its two buckets without its key, which bounded cuckoo displacement uses when
 * both buckets are full.
 *
 * Entries: a preallocated array of struct ft_flow and a stack of free indices.
 *
 * Expiry: a hashed timer wheel with lazy re-arming. Each live flow sits in the
 * slot of the deadline it had when it was last (re)scheduled; packets only move
 * last_ns, never the flow's slot, so the per-packet cost is zero. When a slot's
 * time has fully passed, each flow in it is either expired (idle longer than its
 * state's timeout) or re-linked at its real deadline. Slots are lists through
 * timer_next/timer_prev; indices >= capacity name slot heads.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

#include <rte_branch_prediction.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>

#include "flow/flow.h"

#define BUCKET_SLOTS	8
#define MAX_KICKS	64
#define WHEEL_SHIFT	27 /* slot width 2^27 ns = 134 ms */
#define WHEEL_SLOTS	8192 /* span 1100 s; longer deadlines are re-armed on the way */
#define MAX_BURST	256
#define PF_DIST		12 /* packets between an entry's prefetch and its use */
#define EVICT_BUDGET	64 /* flows examined to pick one to evict */
#define LOAD_FACTOR_PCT 80 /* bucket count sized for at most this share of slots used */

struct bucket {
	uint32_t sig[BUCKET_SLOTS];
	uint32_t idx[BUCKET_SLOTS]; /* entry index + 1; 0 = empty slot */
};
static_assert(sizeof(struct bucket) == 64, "one bucket per cache line");
static_assert(sizeof(struct ft_flow) == 128, "flow entry is two cache lines");

struct wheel_head {
	uint32_t next;
	uint32_t prev;
};

struct ft_flow_table {
	struct bucket *buckets; /* first two members: struct ft_flow_table_head */
	uint32_t bucket_mask;
	struct ft_flow *flows;
	uint32_t *free_stack;
	struct wheel_head *wheel;
	uint32_t capacity;
	uint32_t free_top;
	uint32_t kick_seed;
	uint64_t wheel_cursor; /* absolute slot number (time >> WHEEL_SHIFT) to process next */
	int wheel_started;
	uint64_t serial;
	const struct ft_flow_timeouts *to; /* &params.timeouts, or &emergency_to */
	struct ft_flow_timeouts emergency_to;
	uint32_t emergency_enter; /* live flows; 0: never */
	uint32_t emergency_leave;
	/* On entering emergency mode, every wheel slot is swept once so flows
	 * filed at their normal deadlines are re-filed at the shorter ones. */
	uint64_t sweep_slot;	/* absolute slot being swept */
	uint32_t sweep_left;	/* slots still to sweep */
	uint32_t sweep_pending; /* flows of sweep_slot still to look at */
	struct ft_flow_table_params params;
	struct ft_flow_table_stats stats;
};
static_assert(offsetof(struct ft_flow_table, buckets) ==
			      offsetof(struct ft_flow_table_head, buckets) &&
		      offsetof(struct ft_flow_table, bucket_mask) ==
			      offsetof(struct ft_flow_table_head, bucket_mask),
	      "ft_flow_table_prefetch() reads the table's head");

static uint32_t
bucket_count(uint32_t capacity)
{
	uint64_t want = ((uint64_t)capacity * 100 / LOAD_FACTOR_PCT + BUCKET_SLOTS - 1) /
			BUCKET_SLOTS;
	uint32_t n = 1;

	while (n < want)
		n <<= 1;
	return n;
}

uint64_t
ft_flow_table_memory(uint32_t capacity)
{
	return sizeof(struct ft_flow_table) + (uint64_t)capacity * sizeof(struct ft_flow) +
	       (uint64_t)bucket_count(capacity) * sizeof(struct bucket) +
	       (uint64_t)capacity * sizeof(uint32_t) + WHEEL_SLOTS * sizeof(struct wheel_head);
}

struct ft_flow_table *
ft_flow_table_create(const struct ft_flow_table_params *params)
{
	struct ft_flow_table *t;
	uint32_t nb;

	if (params == NULL || params->capacity == 0 || params->capacity > (1U << 30) ||
	    params->expiry_budget == 0 || params->emergency_enter < 0 ||
	    params->emergency_enter > 1 ||
	    (params->emergency_enter > 0 &&
	     (params->emergency_leave < 0 || params->emergency_leave > params->emergency_enter ||
	      params->emergency_factor <= 0 || params->emergency_factor > 1))) {
		rte_errno = EINVAL;
		return NULL;
	}
	t = rte_zmalloc_socket("ft_flow_table", sizeof(*t), 64, params->socket_id);
	if (t == NULL)
		goto nomem;
	t->params = *params;
	if (t->params.key_hash == NULL)
		t->params.key_hash = ft_flow_key_hash;
	t->capacity = params->capacity;
	t->to = &t->params.timeouts;
	{
		const struct ft_flow_timeouts *n = &t->params.timeouts;
		double k = params->emergency_factor;
		struct ft_flow_timeouts *e = &t->emergency_to;

		e->tcp_new_ns = (uint64_t)((double)n->tcp_new_ns * k);
		e->tcp_established_ns = (uint64_t)((double)n->tcp_established_ns * k);
		e->tcp_closed_ns = (uint64_t)((double)n->tcp_closed_ns * k);
		e->udp_ns = (uint64_t)((double)n->udp_ns * k);
		e->icmp_ns = (uint64_t)((double)n->icmp_ns * k);
		e->other_ns = (uint64_t)((double)n->other_ns * k);
		t->emergency_enter = (uint32_t)(params->emergency_enter * params->capacity);
		t->emergency_leave = (uint32_t)(params->emergency_leave * params->capacity);
	}
	nb = bucket_count(params->capacity);
	t->bucket_mask = nb - 1;
	t->flows = rte_zmalloc_socket("ft_flows", (size_t)params->capacity * sizeof(struct ft_flow),
				      64, params->socket_id);
	t->buckets = rte_zmalloc_socket("ft_flow_buckets", (size_t)nb * sizeof(struct bucket), 64,
					params->socket_id);
	t->free_stack = rte_zmalloc_socket("ft_flow_free", (size_t)params->capacity * 4, 64,
					   params->socket_id);
	t->wheel = rte_zmalloc_socket("ft_flow_wheel", WHEEL_SLOTS * sizeof(struct wheel_head), 64,
				      params->socket_id);
	if (t->flows == NULL || t->buckets == NULL || t->free_stack == NULL || t->wheel == NULL)
		goto nomem;

	/* Pop order 0, 1, 2...: entries are used front to back, which keeps a small
	 * working set dense in memory. */
	for (uint32_t i = 0; i < params->capacity; i++)
		t->free_stack[i] = params->capacity - 1 - i;
	t->free_top = params->capacity;
	for (uint32_t s = 0; s < WHEEL_SLOTS; s++)
		t->wheel[s].next = t->wheel[s].prev = params->capacity + s;
	t->kick_seed = 0x9e3779b9;
	return t;

nomem:
	ft_flow_table_free(t);
	rte_errno = ENOMEM;
	return NULL;
}

void
ft_flow_table_free(struct ft_flow_table *t)
{
	if (t == NULL)
		return;
	rte_free(t->flows);
	rte_free(t->buckets);
	rte_free(t->free_stack);
	rte_free(t->wheel);
	rte_free(t);
}

void
ft_flow_table_get_stats(const struct ft_flow_table *t, struct ft_flow_table_stats *stats)
{
	*stats = t->stats;
}

/* --- index ------------------------------------------------------------- */

static inline uint32_t
primary_bucket(const struct ft_flow_table *t, uint32_t sig)
{
	return sig & t->bucket_mask;
}

/* The other bucket of a signature, from either of its two buckets. Never the
 * same bucket unless the table has a single one. */
static inline uint32_t
alt_bucket(const struct ft_flow_table *t, uint32_t bucket, uint32_t sig)
{
	uint32_t tag = ((sig >> 16) | (sig << 16)) * 0x5bd1e995U;

	tag &= t->bucket_mask;
	return bucket ^ (tag != 0 ? tag : (1 & t->bucket_mask));
}

static inline int
key_equal(const struct ft_flow_key *a, const struct ft_flow_key *b)
{
	uint64_t diff = 0;

	for (unsigned w = 0; w < 6; w++)
		diff |= ft_flow_key_word(a, w) ^ ft_flow_key_word(b, w);
	return diff == 0;
}

/* Bit s set for each used slot of b holding sig. One compare of all eight
 * slots, with no branch per slot: where the match sits is random, so a scan
 * that stops at it mispredicts its exit on nearly every lookup. */
static inline unsigned
bucket_match(const struct bucket *b, uint32_t sig)
{
#ifdef __AVX2__
	__m256i sigs = _mm256_loadu_si256((const __m256i *)b->sig);
	__m256i idxs = _mm256_loadu_si256((const __m256i *)b->idx);
	__m256i hit = _mm256_cmpeq_epi32(sigs, _mm256_set1_epi32((int)sig));
	__m256i empty = _mm256_cmpeq_epi32(idxs, _mm256_setzero_si256());

	return (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_andnot_si256(empty, hit)));
#else
	unsigned mask = 0;

	for (unsigned s = 0; s < BUCKET_SLOTS; s++)
		mask |= (unsigned)((b->sig[s] == sig) & (b->idx[s] != 0)) << s;
	return mask;
#endif
}

static inline uint32_t
bucket_find(const struct ft_flow_table *t, const struct bucket *b, uint32_t sig,
	    const struct ft_flow_key *key)
{
	for (unsigned mask = bucket_match(b, sig); mask != 0; mask &= mask - 1) {
		uint32_t idx = b->idx[__builtin_ctz(mask)];

		if (key_equal(&t->flows[idx - 1].key, key))
			return idx;
	}
	return 0;
}

/* Entry index + 1 of key, or 0. */
static inline uint32_t
index_lookup(const struct ft_flow_table *t, const struct ft_flow_key *key, uint32_t sig)
{
	uint32_t b1 = primary_bucket(t, sig);
	uint32_t idx = bucket_find(t, &t->buckets[b1], sig, key);

	if (idx != 0)
		return idx;
	return bucket_find(t, &t->buckets[alt_bucket(t, b1, sig)], sig, key);
}

static inline int
bucket_put(struct bucket *b, uint32_t sig, uint32_t idx)
{
	for (unsigned s = 0; s < BUCKET_SLOTS; s++) {
		if (b->idx[s] == 0) {
			b->sig[s] = sig;
			b->idx[s] = idx;
			return 0;
		}
	}
	return -1;
}

/*
 * Insert (sig, idx) into one of its buckets, displacing residents to their
 * alternate buckets if both are full (at most MAX_KICKS moves). On failure the
 * table is left exactly as it was.
 */
static int
index_insert(struct ft_flow_table *t, uint32_t sig, uint32_t idx)
{
	uint32_t path_bucket[MAX_KICKS], path_slot[MAX_KICKS];
	uint32_t b1 = primary_bucket(t, sig);
	uint32_t b2 = alt_bucket(t, b1, sig);
	uint32_t b, cur_sig, cur_idx;
	int depth;

	if (bucket_put(&t->buckets[b1], sig, idx) == 0 || bucket_put(&t->buckets[b2], sig, idx) == 0)
		return 0;

	/* Random walk: evict a resident of b into its alternate, repeat. Record the
	 * path so a failed walk can be undone. */
	b = (t->kick_seed & 1) ? b1 : b2;
	cur_sig = sig;
	cur_idx = idx;
	for (depth = 0; depth < MAX_KICKS; depth++) {
		struct bucket *bk = &t->buckets[b];
		uint32_t s, victim_sig, victim_idx, nb;

		t->kick_seed = t->kick_seed * 1103515245U + 12345U;
		s = (t->kick_seed >> 16) % BUCKET_SLOTS;
		victim_sig = bk->sig[s];
		victim_idx = bk->idx[s];
		bk->sig[s] = cur_sig;
		bk->idx[s] = cur_idx;
		path_bucket[depth] = b;
		path_slot[depth] = s;
		nb = alt_bucket(t, b, victim_sig);
		if (bucket_put(&t->buckets[nb], victim_sig, victim_idx) == 0)
			return 0;
		cur_sig = victim_sig;
		cur_idx = victim_idx;
		b = nb;
	}
	/* Undo: walk back, restoring each displaced resident. */
	for (depth = MAX_KICKS - 1; depth >= 0; depth--) {
		struct bucket *bk = &t->buckets[path_bucket[depth]];
		uint32_t s = path_slot[depth];
		uint32_t placed_sig = bk->sig[s], placed_idx = bk->idx[s];

		bk->sig[s] = cur_sig;
		bk->idx[s] = cur_idx;
		cur_sig = placed_sig;
		cur_idx = placed_idx;
	}
	return -1;
}

static void
index_remove(struct ft_flow_table *t, uint32_t sig, uint32_t idx)
{
	uint32_t b1 = primary_bucket(t, sig);
	uint32_t bs[2] = {b1, alt_bucket(t, b1, sig)};

	for (int i = 0; i < 2; i++) {
		struct bucket *b = &t->buckets[bs[i]];

		for (unsigned s = 0; s < BUCKET_SLOTS; s++) {
			if (b->idx[s] == idx) {
				b->idx[s] = 0;
				b->sig[s] = 0;
				return;
			}
		}
	}
}

/* --- timer wheel --------------------------------------------------------- */

static inline uint32_t *
link_next(struct ft_flow_table *t, uint32_t i)
{
	return i < t->capacity ? &t->flows[i].timer_next : &t->wheel[i - t->capacity].next;
}

static inline uint32_t *
link_prev(struct ft_flow_table *t, uint32_t i)
{
	return i < t->capacity ? &t->flows[i].timer_prev : &t->wheel[i - t->capacity].prev;
}

static inline void
wheel_unlink(struct ft_flow_table *t, uint32_t i)
{
	struct ft_flow *f = &t->flows[i];

	*link_next(t, f->timer_prev) = f->timer_next;
	*link_prev(t, f->timer_next) = f->timer_prev;
}

static void
wheel_schedule(struct ft_flow_table *t, uint32_t i, uint64_t deadline_ns)
{
	uint64_t slot = deadline_ns >> WHEEL_SHIFT;
	uint32_t head;
	struct ft_flow *f = &t->flows[i];

	if (slot < t->wheel_cursor)
		slot = t->wheel_cursor;
	else if (slot >= t->wheel_cursor + WHEEL_SLOTS)
		slot = t->wheel_cursor + WHEEL_SLOTS - 1;
	head = t->capacity + (uint32_t)(slot & (WHEEL_SLOTS - 1));
	/* Append at the tail: a slot is then processed in scheduling order. */
	f->timer_next = head;
	f->timer_prev = t->wheel[head - t->capacity].prev;
	*link_next(t, f->timer_prev) = i;
	t->wheel[head - t->capacity].prev = i;
}

/* --- flows --------------------------------------------------------------- */

uint64_t
ft_flow_timeout(const struct ft_flow_timeouts *to, const struct ft_flow *f)
{
	switch (f->key.proto) {
	case 6:
		switch (f->tcp_state) {
		case FT_TCP_SYN_SENT:
		case FT_TCP_SYN_RECEIVED:
			return to->tcp_new_ns;
		case FT_TCP_CLOSED:
			return to->tcp_closed_ns;
		default:
			return to->tcp_established_ns;
		}
	case 17:
	case 136:
		return to->udp_ns;
	case 1:
	case 58:
		return to->icmp_ns;
	default:
		return to->other_ns;
	}
}

/* Reason a flow ends when its timeout passes (or at flush, if it closed). */
static inline enum ft_end_reason
closed_reason(const struct ft_flow *f)
{
	return (f->flags & FT_FLOW_E_RST) ? FT_END_TCP_RST : FT_END_TCP_FIN;
}

uint64_t
ft_flow_table_timeout(const struct ft_flow_table *t, const struct ft_flow *f)
{
	return ft_flow_timeout(t->to, f);
}

static inline enum ft_end_reason
timeout_reason(const struct ft_flow *f)
{
	return f->tcp_state == FT_TCP_CLOSED ? closed_reason(f) : FT_END_IDLE;
}

/* Emergency mode follows occupancy with hysteresis (checked as flows come and
 * go, so it costs two compares per flow, not per packet). */
static inline void
emergency_check(struct ft_flow_table *t)
{
	if (t->emergency_enter == 0)
		return;
	if (!t->stats.emergency && t->stats.active >= t->emergency_enter) {
		t->stats.emergency = 1;
		t->stats.emergency_entered++;
		t->to = &t->emergency_to;
		t->sweep_slot = t->wheel_cursor;
		t->sweep_left = WHEEL_SLOTS;
		t->sweep_pending = UINT32_MAX; /* count on first visit */
	} else if (t->stats.emergency && t->stats.active < t->emergency_leave) {
		t->stats.emergency = 0;
		t->to = &t->params.timeouts;
	}
}

/*
 * When a flow must next be looked at: its idle deadline. The wheel files flows
 * by it alone, so its earliest slots are the flows idle longest (what eviction
 * wants). Active timeouts are taken when a flow's next packet comes after one
 * (a long flow has packets; an idle one ends at its idle timeout with its last
 * segment), which also keeps replays deterministic.
 */
static inline uint64_t
flow_deadline(const struct ft_flow_table *t, const struct ft_flow *f)
{
	return f->last_ns + ft_flow_timeout(t->to, f);
}

static void
flow_end(struct ft_flow_table *t, uint32_t i, enum ft_end_reason reason, ft_flow_end_fn end_fn,
	 void *ctx)
{
	struct ft_flow *f = &t->flows[i];

	if ((f->packets[0] | f->packets[1]) == 0)
		f->first_ns = f->last_ns; /* nothing since the last segment */
	end_fn(ctx, f, reason);
	wheel_unlink(t, i);
	/* The hash is not stored (the entry has no room for it): one CRC per flow. */
	index_remove(t, t->params.key_hash(&f->key), i + 1);
	f->flags = 0;
	t->free_stack[t->free_top++] = i;
	t->stats.ended++;
	t->stats.active--;
	emergency_check(t);
}

/* Active timeout: export the flow's current segment and start the next. */
static void
flow_segment(struct ft_flow_table *t, uint32_t i, ft_flow_end_fn end_fn, void *ctx)
{
	struct ft_flow *f = &t->flows[i];

	end_fn(ctx, f, FT_END_ACTIVE);
	f->segment++;
	f->packets[0] = f->packets[1] = 0;
	f->bytes[0] = f->bytes[1] = 0;
	f->tcp_flags[0] = f->tcp_flags[1] = 0;
	f->fragments = 0;
	t->stats.segments++;
}

const struct ft_flow *
ft_flow_table_entry(const struct ft_flow_table *t, uint32_t index)
{
	return &t->flows[index];
}

uint32_t
ft_flow_table_index(const struct ft_flow_table *t, const struct ft_flow *flow)
{
	return (uint32_t)(flow - t->flows);
}

static void
tcp_update(struct ft_flow *f, const struct ft_pkt *p, unsigned d)
{
	uint8_t fl = p->tcp_flags;

	if (fl & FT_TCP_RST) {
		f->flags |= FT_FLOW_E_RST;
		f->tcp_state = FT_TCP_CLOSED;
		return;
	}
	if (fl & FT_TCP_FIN) {
		f->flags |= d == 0 ? FT_FLOW_E_FIN_FWD : FT_FLOW_E_FIN_REV;
		if ((f->flags & (FT_FLOW_E_FIN_FWD | FT_FLOW_E_FIN_REV)) ==
		    (FT_FLOW_E_FIN_FWD | FT_FLOW_E_FIN_REV))
			f->tcp_state = FT_TCP_CLOSED;
		else if (f->tcp_state < FT_TCP_CLOSING)
			f->tcp_state = FT_TCP_CLOSING;
		return;
	}
	switch (f->tcp_state) {
	case FT_TCP_SYN_SENT:
		if (d == 1 && (fl & (FT_TCP_SYN | FT_TCP_ACK)) == (FT_TCP_SYN | FT_TCP_ACK))
			f->tcp_state = FT_TCP_SYN_RECEIVED;
		else if (p->payload_len > 0 && !(fl & FT_TCP_SYN))
			f->tcp_state = FT_TCP_ESTABLISHED;
		break;
	case FT_TCP_SYN_RECEIVED:
		if (d == 0 && (fl & FT_TCP_ACK) && !(fl & FT_TCP_SYN))
			f->tcp_state = FT_TCP_ESTABLISHED;
		break;
	default:
		break;
	}
}

/* Does p carry its TCP flags? Not a later fragment (no TCP header), and not a
 * packet whose capture stopped before the flags byte (offset 13). */
static inline bool
tcp_flags_known(const struct ft_pkt *p)
{
	if (p->flags & FT_PKT_F_LATER_FRAG)
		return false;
	return !(p->flags & FT_PKT_F_L4_PARTIAL) || p->payload_offset - p->l4_offset >= 14;
}

static void wheel_schedule(struct ft_flow_table *t, uint32_t i, uint64_t deadline_ns);

/*
 * Make room for a new flow at time now: end the live flow that has been idle
 * longest relative to its timeout (the earliest idle deadline). The wheel's
 * earliest slots hold the earliest deadlines, lazily (a flow that saw packets
 * since it was filed sits earlier than it should): walk them from the cursor,
 * re-file stale flows at their real deadline, and end the first flow whose
 * deadline falls in the slot being looked at (within the slot's 134 ms, flows
 * are not ordered), or the earliest seen after EVICT_BUDGET stale ones.
 * Returns 0, or -1 only if nothing is live.
 */
static int
evict_one(struct ft_flow_table *t, uint64_t now, ft_flow_end_fn end_fn, void *ctx)
{
	uint32_t best = UINT32_MAX;
	uint64_t best_idle = UINT64_MAX;
	unsigned examined = 0;

	for (uint64_t slot = t->wheel_cursor; slot < t->wheel_cursor + WHEEL_SLOTS; slot++) {
		uint32_t head = t->capacity + (uint32_t)(slot & (WHEEL_SLOTS - 1));
		uint32_t i = t->wheel[head - t->capacity].next;

		while (i != head) {
			struct ft_flow *f = &t->flows[i];
			uint32_t next = f->timer_next;
			uint64_t idle = flow_deadline(t, f);

			if (idle < best_idle) {
				best = i;
				best_idle = idle;
			}
			if ((idle >> WHEEL_SHIFT) <= slot)
				goto found; /* in its slot: as early as any not yet seen */
			/* Stale: it belongs later. */
			wheel_unlink(t, i);
			wheel_schedule(t, i, idle);
			if (++examined >= EVICT_BUDGET)
				goto found;
			i = next;
		}
	}
found:
	if (best == UINT32_MAX)
		return -1;
	if (now > best_idle) {
		flow_end(t, best, timeout_reason(&t->flows[best]), end_fn, ctx);
	} else {
		t->stats.evicted++;
		flow_end(t, best, FT_END_EVICTED, end_fn, ctx);
	}
	return 0;
}

/* Create a flow for p; returns the entry index or UINT32_MAX when full (and
 * the policy refuses, or the index cannot place it). */
static uint32_t
flow_create(struct ft_flow_table *t, const struct ft_pkt *p, ft_flow_end_fn end_fn, void *ctx)
{
	struct ft_flow *f;
	uint32_t i;
	unsigned initiator = p->dir;

	if (unlikely(t->free_top == 0)) {
		if (t->params.full_policy != FT_FLOW_FULL_EVICT ||
		    evict_one(t, p->ts_ns, end_fn, ctx) != 0)
			return UINT32_MAX;
	}
	i = t->free_stack[t->free_top - 1];
	if (unlikely(index_insert(t, p->hash, i + 1) != 0))
		return UINT32_MAX;
	t->free_top--;

	f = &t->flows[i];
	f->key = p->key;
	f->first_ns = p->ts_ns;
	f->last_ns = p->ts_ns;
	f->packets[0] = f->packets[1] = 0;
	f->bytes[0] = f->bytes[1] = 0;
	f->id = ((uint64_t)t->params.worker_id << 56) | (t->serial++ & ((1ULL << 56) - 1));
	f->segment = 0;
	f->reserved = 0;
	f->fragments = 0;
	f->input_port = p->port;
	f->tcp_flags[0] = f->tcp_flags[1] = 0;
	f->icmp_type = p->icmp_type;
	f->icmp_code = p->icmp_code;
	f->flags = FT_FLOW_E_IN_USE;
	f->tcp_state = FT_TCP_NONE;

	if (p->key.proto == 6 && !(p->flags & FT_PKT_F_LATER_FRAG)) {
		uint8_t fl = p->tcp_flags;

		if (!tcp_flags_known(p)) {
			/* Flags cut off by the capture: not known to be a SYN. */
			f->tcp_state = FT_TCP_ESTABLISHED;
			f->flags |= FT_FLOW_E_MIDSTREAM;
		} else if ((fl & (FT_TCP_SYN | FT_TCP_ACK)) == FT_TCP_SYN) {
			f->tcp_state = FT_TCP_SYN_SENT;
		} else if ((fl & (FT_TCP_SYN | FT_TCP_ACK)) == (FT_TCP_SYN | FT_TCP_ACK)) {
			/* First packet seen is the answer: the other side initiated. */
			initiator ^= 1;
			f->tcp_state = FT_TCP_SYN_SENT; /* tcp_update moves it to SYN_RECEIVED */
		} else {
			f->tcp_state = FT_TCP_ESTABLISHED;
			f->flags |= FT_FLOW_E_MIDSTREAM;
		}
	}
	if (initiator)
		f->flags |= FT_FLOW_E_INITIATOR_HI;

	if (unlikely(!t->wheel_started)) {
		t->wheel_cursor = p->ts_ns >> WHEEL_SHIFT;
		t->wheel_started = 1;
	}
	wheel_schedule(t, i, p->ts_ns + ft_flow_timeout(t->to, f));
	t->stats.created++;
	t->stats.active++;
	emergency_check(t);
	return i;
}

/*
 * Lazy re-arming handles timeouts that grow; a state whose timeout is shorter
 * (closing after FIN/RST) must move the flow to an earlier slot, or the record
 * would leave up to the old timeout late. Rare: a few times per flow at most.
 */
static void
rearm_if_sooner(struct ft_flow_table *t, uint32_t i, uint8_t old_state)
{
	struct ft_flow *f = &t->flows[i];
	uint8_t new_state = f->tcp_state;
	uint64_t new_to = ft_flow_timeout(t->to, f);
	uint64_t old_to;

	f->tcp_state = old_state;
	old_to = ft_flow_timeout(t->to, f);
	f->tcp_state = new_state;
	if (new_to < old_to) {
		wheel_unlink(t, i);
		wheel_schedule(t, i, f->last_ns + new_to);
	}
}

static inline void
flow_account(struct ft_flow_table *t, uint32_t i, const struct ft_pkt *p)
{
	struct ft_flow *f = &t->flows[i];
	unsigned d = ft_flow_pkt_direction(f, p);

	if (unlikely((f->packets[0] | f->packets[1]) == 0 && f->segment != 0))
		f->first_ns = p->ts_ns; /* first packet of a new segment */
	f->packets[d]++;
	f->bytes[d] += p->wire_len;
	if (p->ts_ns > f->last_ns)
		f->last_ns = p->ts_ns;
	else if (p->ts_ns < f->first_ns)
		f->first_ns = p->ts_ns;
	if (p->flags & FT_PKT_F_FRAGMENT)
		f->fragments++;
	if ((p->flags & (FT_PKT_F_LATER_FRAG | FT_PKT_F_FRAG_ATTRIBUTED)) == FT_PKT_F_LATER_FRAG)
		f->flags |= FT_FLOW_E_FRAGMENTS;
	if (f->key.proto == 6 && tcp_flags_known(p)) {
		uint8_t old_state = f->tcp_state;

		f->tcp_flags[d] |= p->tcp_flags;
		tcp_update(f, p, d);
		if (unlikely(f->tcp_state != old_state))
			rearm_if_sooner(t, i, old_state);
	}
}

/* Must an existing flow end before p is counted? Returns the reason or 0. */
static inline enum ft_end_reason
end_before(const struct ft_flow_table *t, const struct ft_flow *f, const struct ft_pkt *p)
{
	if (p->ts_ns > f->last_ns &&
	    p->ts_ns - f->last_ns > ft_flow_timeout(t->to, f))
		return timeout_reason(f);
	if (f->key.proto == 6 && (p->tcp_flags & (FT_TCP_SYN | FT_TCP_ACK)) == FT_TCP_SYN &&
	    tcp_flags_known(p)) {
		/* A fresh SYN on a closed connection starts the next one (port reuse). */
		if (f->tcp_state == FT_TCP_CLOSED)
			return closed_reason(f);
	}
	return 0;
}

static inline void
prefetch_primary(const struct ft_flow_table *t, uint32_t sig)
{
	rte_prefetch0(&t->buckets[primary_bucket(t, sig)]);
}

/* Entry index + 1 whose signature matches (primary bucket first), with both
 * of its cache lines prefetched; 0 when none does. */
static inline uint32_t
candidate(const struct ft_flow_table *t, uint32_t sig)
{
	uint32_t b = primary_bucket(t, sig);

	for (int j = 0; j < 2; j++) {
		const struct bucket *bk = &t->buckets[b];
		unsigned mask = bucket_match(bk, sig);

		if (mask != 0) {
			uint32_t idx = bk->idx[__builtin_ctz(mask)];
			const char *e = (const char *)&t->flows[idx - 1];

			rte_prefetch0(e);
			rte_prefetch0(e + 64);
			return idx;
		}
		b = alt_bucket(t, b, sig);
	}
	return 0;
}

unsigned
ft_flow_table_update_burst(struct ft_flow_table *t, struct ft_pkt *const pkts[], unsigned n,
			   uint32_t flow_index[], ft_flow_end_fn end_fn, void *ctx)
{
	uint32_t cand[MAX_BURST];
	unsigned nrefused = 0;

	for (unsigned base = 0; base < n; base += MAX_BURST) {
		unsigned m = RTE_MIN(n - base, (unsigned)MAX_BURST);
		struct ft_pkt *const *ps = pkts + base;

		/* Software pipeline over the burst: packet k is accounted while
		 * packet k + PF_DIST has its bucket scanned and its entry fetched,
		 * and packet k + 2 * PF_DIST its primary bucket fetched (the caller
		 * may have done that already, while parsing: ft_flow_table_prefetch).
		 * The alternate bucket is read only on a miss in the primary. */
		for (unsigned k = 0; k < RTE_MIN(m, 2u * PF_DIST); k++)
			prefetch_primary(t, ps[k]->hash);
		for (unsigned k = 0; k < RTE_MIN(m, (unsigned)PF_DIST); k++)
			cand[k] = candidate(t, ps[k]->hash);
		/* In packet order. Earlier packets of this burst may have created or
		 * ended flows, so a candidate is confirmed against the key and
		 * otherwise looked up again. */
		for (unsigned k = 0; k < m; k++) {
			struct ft_pkt *p = ps[k];
			uint32_t idx = cand[k];
			uint32_t i;
			enum ft_end_reason why;

			if (k + 2 * PF_DIST < m)
				prefetch_primary(t, ps[k + 2 * PF_DIST]->hash);
			if (k + PF_DIST < m)
				cand[k + PF_DIST] = candidate(t, ps[k + PF_DIST]->hash);
			if (idx == 0 || !(t->flows[idx - 1].flags & FT_FLOW_E_IN_USE) ||
			    !key_equal(&t->flows[idx - 1].key, &p->key))
				idx = index_lookup(t, &p->key, p->hash);

			if (idx != 0) {
				struct ft_flow *f = &t->flows[idx - 1];

				why = end_before(t, f, p);
				if (why != 0) {
					flow_end(t, idx - 1, why, end_fn, ctx);
					idx = 0;
				} else if (unlikely(t->params.active_timeout_ns != 0 &&
						    (f->packets[0] | f->packets[1]) != 0 &&
						    p->ts_ns > f->first_ns +
								       t->params.active_timeout_ns)) {
					flow_segment(t, idx - 1, end_fn, ctx);
				}
			}
			if (idx == 0) {
				i = flow_create(t, p, end_fn, ctx);
				if (unlikely(i == UINT32_MAX)) {
					flow_index[base + k] = FT_FLOW_REFUSED;
					nrefused++;
					t->stats.refused++;
					continue;
				}
			} else {
				i = idx - 1;
			}
			flow_account(t, i, p);
			flow_index[base + k] = i;
		}
	}
	return nrefused;
}

/* Look at one wheel flow at now: end it if idle, else re-file it at its
 * deadline. Returns 1 if it ended, 0 if re-filed. */
static unsigned
examine(struct ft_flow_table *t, uint32_t i, uint64_t now_ns, ft_flow_end_fn end_fn, void *ctx)
{
	struct ft_flow *f = &t->flows[i];
	uint64_t deadline = flow_deadline(t, f);

	if (now_ns > deadline) {
		flow_end(t, i, timeout_reason(f), end_fn, ctx);
		return 1;
	}
	wheel_unlink(t, i);
	wheel_schedule(t, i, deadline);
	return 0;
}

/* The emergency sweep, within a budget: every slot once, each holding the
 * flows it had when the sweep reached it (re-filed ones go to its tail). */
static unsigned
sweep(struct ft_flow_table *t, uint64_t now_ns, unsigned *budget, ft_flow_end_fn end_fn,
      void *ctx)
{
	unsigned ended = 0;

	while (t->sweep_left > 0 && *budget > 0) {
		uint32_t head = t->capacity + (uint32_t)(t->sweep_slot & (WHEEL_SLOTS - 1));

		if (t->sweep_pending == UINT32_MAX) {
			t->sweep_pending = 0;
			for (uint32_t i = t->wheel[head - t->capacity].next; i != head;
			     i = t->flows[i].timer_next)
				t->sweep_pending++;
			(*budget)--;
		}
		while (t->sweep_pending > 0 && *budget > 0) {
			uint32_t i = t->wheel[head - t->capacity].next;

			if (i == head) {
				t->sweep_pending = 0;
				break;
			}
			ended += examine(t, i, now_ns, end_fn, ctx);
			t->sweep_pending--;
			(*budget)--;
		}
		if (t->sweep_pending == 0) {
			t->sweep_slot++;
			t->sweep_left--;
			t->sweep_pending = UINT32_MAX;
		}
	}
	return ended;
}

unsigned
ft_flow_table_expire(struct ft_flow_table *t, uint64_t now_ns, ft_flow_end_fn end_fn, void *ctx)
{
	uint64_t target = now_ns >> WHEEL_SHIFT;
	unsigned budget = t->params.expiry_budget;
	unsigned ended = 0;

	if (!t->wheel_started)
		return 0;
	/* After a jump of more than one revolution, every slot is due once:
	 * start one revolution before the target. */
	if (target > t->wheel_cursor + WHEEL_SLOTS)
		t->wheel_cursor = target - WHEEL_SLOTS;

	while (t->wheel_cursor < target && budget > 0) {
		uint32_t head = t->capacity + (uint32_t)(t->wheel_cursor & (WHEEL_SLOTS - 1));
		struct wheel_head *h = &t->wheel[head - t->capacity];

		budget--; /* visiting a slot costs, so a sparse wheel is bounded too */
		while (h->next != head && budget > 0) {
			budget--;
			ended += examine(t, h->next, now_ns, end_fn, ctx);
		}
		if (h->next != head)
			break; /* budget ran out inside this slot: resume here next call */
		t->wheel_cursor++;
	}
	return ended + sweep(t, now_ns, &budget, end_fn, ctx);
}

unsigned
ft_flow_table_flush(struct ft_flow_table *t, uint64_t now_ns, enum ft_end_reason reason,
		    ft_flow_end_fn end_fn, void *ctx)
{
	unsigned ended = 0;

	for (uint32_t i = 0; i < t->capacity; i++) {
		struct ft_flow *f = &t->flows[i];
		enum ft_end_reason why;

		if (!(f->flags & FT_FLOW_E_IN_USE))
			continue;
		if (now_ns > f->last_ns &&
		    now_ns - f->last_ns > ft_flow_timeout(t->to, f))
			why = timeout_reason(f);
		else if (f->tcp_state == FT_TCP_CLOSED)
			why = closed_reason(f);
		else
			why = reason;
		flow_end(t, i, why, end_fn, ctx);
		ended++;
	}
	return ended;
}

void
ft_flow_to_record(const struct ft_flow *f, enum ft_end_reason reason, struct ft_flow_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->key = f->key;
	rec->flow_id = f->id;
	rec->first_ns = f->first_ns;
	rec->last_ns = f->last_ns;
	rec->packets[0] = f->packets[0];
	rec->packets[1] = f->packets[1];
	rec->bytes[0] = f->bytes[0];
	rec->bytes[1] = f->bytes[1];
	rec->fragments = f->fragments;
	rec->input_port = f->input_port;
	rec->initiator = (f->flags & FT_FLOW_E_INITIATOR_HI) ? 1 : 0;
	rec->end_reason = (uint8_t)reason;
	rec->tcp_flags[0] = f->tcp_flags[0];
	rec->tcp_flags[1] = f->tcp_flags[1];
	rec->tcp_state = f->tcp_state;
	rec->flags = (uint8_t)(((f->flags & FT_FLOW_E_FRAGMENTS) ? FT_FLOW_F_FRAGMENTS : 0) |
			       ((f->flags & FT_FLOW_E_MIDSTREAM) ? FT_FLOW_F_MIDSTREAM : 0));
	rec->icmp_type = f->icmp_type;
	rec->icmp_code = f->icmp_code;
	rec->segment = f->segment;
}
