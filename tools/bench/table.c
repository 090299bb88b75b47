/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowtap-bench-table: flow lookup + update on one core, for several flow table
 * designs, at 1k to 10M live flows. Answers "which table should the hot path
 * use": ns per packet on the hit path and the insert path, and bytes per flow.
 *
 *   flowtap-bench-table EAL-options -- [--flows 1000,100000,1000000,10000000]
 *                       [--rounds 3] [--variants flowtap,cuckoo,...] [--ops N]
 *
 * Run it through tools/bench/table.sh, which checks hugepages and passes EAL
 * options (--no-pci --in-memory, one lcore). BENCH_DEBUG=1 in the environment
 * prints each phase's raw times on stderr.
 *
 * The work, as the worker does it: packets are made 32 at a time into struct
 * ft_pkt (key built as words and hashed with the parser's CRC, like ft_parse();
 * a design may start prefetching there, as the worker does while parsing), then
 * the burst goes to the table: find the flow, create it if missing, count the
 * packet. Keys are IPv4 UDP flow keys (struct ft_flow_key, 48 bytes), unique per
 * flow number, with pseudo-random addresses and ports (sequential ones make
 * CRC32C hashes unnaturally evenly spread: linear probing then measured half
 * its textbook probe count). The hit path draws flow numbers uniformly at random
 * (no locality: the worst case for caches, and what many concurrent flows look
 * like); the insert path creates all N flows in a random order into an empty
 * table sized as rx.sh sizes flowtap's: capacity N + N/4.
 *
 * Figures: ns per packet of the table alone: the same loop with no table (making
 * the packets) is timed per phase and subtracted. Times are this thread's CPU
 * time, so that other work on a shared core does not count. Bytes per flow: the
 * DPDK heap's allocated bytes after creating the table, minus before, over the
 * N live flows.
 *
 * Designs (--variants):
 *   flowtap      src/flow itself: ft_flow_table_update_burst() with all of its
 *                semantics (TCP state, timeouts, timer wheel, flow ids), bucket
 *                prefetch while parsing (ft_flow_table_prefetch()).
 *   cuckoo       flowtap's index design copied, with only the counting every
 *                design here does: 64-byte buckets of 8 (signature, entry index),
 *                two buckets per key, 128-byte entries, the same pipelined
 *                lookup. The gap to "flowtap" is the cost of flowtap's
 *                per-packet semantics.
 *   cuckoo-home  the same, but a new flow takes the entry at its hash's home
 *                index when that entry is free (otherwise any free one), and the
 *                home entry is prefetched with the bucket while parsing: when the
 *                flow lives there, bucket and entry arrive together. Entries
 *                still never move (flow indices stay stable, as flow.h promises).
 *   rte_hash     DPDK's rte_hash (48-byte keys, the precomputed CRC as the
 *                signature), rte_hash_lookup_with_hash_bulk_data() per burst,
 *                data = index into a preallocated array of 128-byte entries,
 *                prefetched after the lookup.
 *   open-80      one level: open addressing with linear probing directly over
 *                128-byte entries (key and hash in the first line), N + N/4
 *                slots (load 0.8 at N flows), no bucket -> entry dependency: the
 *                home entry (and the next one's key line) is prefetched a few
 *                packets ahead within the burst.
 *   open-50      the same at load 0.5 (2N slots): fewer probes, more memory.
 * The open-addressing prototypes never delete (the benchmark does not need to);
 * a real table would need tombstones, or moves that break stable flow indices.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_byteorder.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>

#include "flow/flow.h"
#include "parse/parse.h"

#define BURST	       32
#define PF_DIST	       12 /* as src/flow: packets between an entry's prefetch and its use */
#define SLOTS	       8
#define MAX_KICKS      64
#define OA_DIST	       8 /* open addressing: packets between a home entry's prefetch and its use */
#define MAX_FLOWS_LIST 8
#define INSERT_MIN     1000000 /* insertions the insert figure rests on, at least */

/* --- the packets ------------------------------------------------------------ */

/* A bijection of 32-bit values (murmur3's finalizer): distinct flow numbers give
 * distinct, unstructured addresses. */
static inline uint32_t
mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x85ebca6bU;
	x ^= x >> 13;
	x *= 0xc2b2ae35U;
	x ^= x >> 16;
	return x;
}

/* Flow number i as a parsed UDP packet, A:sport <-> 192.168.0.1:53 with A and
 * sport drawn from i (unique: A is a bijection of i). Key words and hash as
 * ft_parse() makes them (stored whole, hashed from registers). */
static inline void
make_pkt(struct ft_pkt *p, uint32_t i, uint64_t ts)
{
	uint64_t w[6];
	uint32_t h;

	w[0] = mix32(i);
	w[1] = 0;
	w[2] = 192u | 168u << 8 | 0u << 16 | (uint64_t)1 << 24;
	w[3] = 0;
	w[4] = (uint64_t)(mix32(i ^ 0x5bd1e995U) & 0xffff) | (uint64_t)rte_cpu_to_be_16(53) << 16;
	w[5] = 17 | 4 << 8;
	memcpy(&p->key, w, sizeof(w));
	h = rte_hash_crc_8byte(w[0], 0xffffffff);
	h = rte_hash_crc_8byte(w[1], h);
	h = rte_hash_crc_8byte(w[2], h);
	h = rte_hash_crc_8byte(w[3], h);
	h = rte_hash_crc_8byte(w[4], h);
	h = rte_hash_crc_8byte(w[5], h);
	p->hash = ~h;
	p->ts_ns = ts;
	p->wire_len = 64;
}

static inline int
key_equal(const struct ft_flow_key *a, const struct ft_flow_key *b)
{
	const uint64_t *x = (const uint64_t *)a, *y = (const uint64_t *)b;

	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4]) |
		(x[5] ^ y[5])) == 0;
}

/* The counting every prototype does per packet (flowtap does more). */
static inline void
entry_account(struct ft_flow *f, const struct ft_pkt *p)
{
	f->packets[p->dir]++;
	f->bytes[p->dir] += p->wire_len;
	if (p->ts_ns > f->last_ns)
		f->last_ns = p->ts_ns;
}

static inline void
entry_init(struct ft_flow *f, const struct ft_pkt *p)
{
	f->key = p->key;
	f->first_ns = f->last_ns = p->ts_ns;
	f->packets[0] = f->packets[1] = 0;
	f->bytes[0] = f->bytes[1] = 0;
	f->flags = FT_FLOW_E_IN_USE;
}

/* [0, n) from a 32-bit hash without a division (multiply-shift). */
static inline uint32_t
fast_range(uint32_t h, uint32_t n)
{
	return (uint32_t)(((uint64_t)h * n) >> 32);
}

/* Free entry indices: a stack, plus each index's position in it so that a given
 * index can be taken out (cuckoo-home). */
struct free_list {
	uint32_t *stack;
	uint32_t *pos; /* NULL unless taking a given index is needed */
	uint32_t top;
};

static int
free_list_init(struct free_list *fl, uint32_t n, bool with_pos)
{
	fl->stack = rte_malloc("bench_free", (size_t)n * 4, 64);
	fl->pos = with_pos ? rte_malloc("bench_pos", (size_t)n * 4, 64) : NULL;
	if (fl->stack == NULL || (with_pos && fl->pos == NULL))
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		fl->stack[i] = n - 1 - i;
		if (fl->pos)
			fl->pos[n - 1 - i] = i;
	}
	fl->top = n;
	return 0;
}

static void
free_list_free(struct free_list *fl)
{
	rte_free(fl->stack);
	rte_free(fl->pos);
}

static inline uint32_t
free_list_pop(struct free_list *fl)
{
	return fl->top ? fl->stack[--fl->top] : UINT32_MAX;
}

static inline void
free_list_take(struct free_list *fl, uint32_t idx)
{
	uint32_t at = fl->pos[idx], last = fl->stack[--fl->top];

	fl->stack[at] = last;
	fl->pos[last] = at;
}

/* --- a variant ------------------------------------------------------------- */

struct variant {
	const char *name;
	int (*create)(uint32_t capacity, uint32_t flows);
	void (*destroy)(void);
	/* Start fetching what the burst will need, as soon as the hash is known
	 * (the worker does it while parsing). May be NULL. */
	void (*prefetch)(const struct ft_pkt *p);
	/* Find or create each packet's flow and count the packet. */
	void (*burst)(struct ft_pkt *const pkts[], unsigned n);
	uint64_t (*live)(void);
	double (*probes)(void); /* average slots examined per packet, or NULL */
};

/* --- flowtap: src/flow ------------------------------------------------------ */

static struct ft_flow_table *ft_table;

static void
ft_end(void *ctx, const struct ft_flow *flow, enum ft_end_reason reason)
{
	(void)ctx, (void)flow, (void)reason;
}

static int
ft_create(uint32_t capacity, uint32_t flows)
{
	struct ft_flow_table_params p = {
		.capacity = capacity,
		.socket_id = (int)rte_socket_id(),
		.expiry_budget = 1024,
		.timeouts = {3600000000000ULL, 3600000000000ULL, 3600000000000ULL, 3600000000000ULL,
			     3600000000000ULL, 3600000000000ULL},
	};

	(void)flows;
	ft_table = ft_flow_table_create(&p);
	return ft_table ? 0 : -rte_errno;
}

static void
ft_destroy(void)
{
	ft_flow_table_free(ft_table);
	ft_table = NULL;
}

static void
ft_prefetch(const struct ft_pkt *p)
{
	ft_flow_table_prefetch(ft_table, p->hash);
}

static void
ft_burst(struct ft_pkt *const pkts[], unsigned n)
{
	uint32_t idx[BURST];

	ft_flow_table_update_burst(ft_table, pkts, n, idx, ft_end, NULL);
}

static uint64_t
ft_live(void)
{
	struct ft_flow_table_stats s;

	ft_flow_table_get_stats(ft_table, &s);
	return s.active;
}

/* --- cuckoo, cuckoo-home: flowtap's index design, counting only -------------- */

struct bucket {
	uint32_t sig[SLOTS];
	uint32_t idx[SLOTS]; /* entry index + 1; 0 = empty */
};

static struct {
	struct bucket *b;
	uint32_t mask;
	struct ft_flow *e;
	uint32_t cap;
	struct free_list fl;
	bool home; /* cuckoo-home */
	uint32_t kick_seed;
	uint64_t live, failed;
} ck;

static inline uint32_t
ck_alt(uint32_t bucket, uint32_t sig)
{
	uint32_t tag = ((sig >> 16) | (sig << 16)) * 0x5bd1e995U;

	tag &= ck.mask;
	return bucket ^ (tag != 0 ? tag : (1 & ck.mask));
}

static int
ck_create_common(uint32_t capacity, bool home)
{
	uint64_t want = ((uint64_t)capacity * 100 / 80 + SLOTS - 1) / SLOTS;
	uint32_t nb = 1;

	while (nb < want)
		nb <<= 1;
	memset(&ck, 0, sizeof(ck));
	ck.mask = nb - 1;
	ck.cap = capacity;
	ck.home = home;
	ck.kick_seed = 0x9e3779b9;
	ck.b = rte_zmalloc("bench_buckets", (size_t)nb * sizeof(struct bucket), 64);
	ck.e = rte_zmalloc("bench_entries", (size_t)capacity * sizeof(struct ft_flow), 64);
	if (ck.b == NULL || ck.e == NULL || free_list_init(&ck.fl, capacity, home) != 0)
		return -ENOMEM;
	return 0;
}

static int
ck_create(uint32_t capacity, uint32_t flows)
{
	(void)flows;
	return ck_create_common(capacity, false);
}

static int
ckh_create(uint32_t capacity, uint32_t flows)
{
	(void)flows;
	return ck_create_common(capacity, true);
}

static void
ck_destroy(void)
{
	rte_free(ck.b);
	rte_free(ck.e);
	free_list_free(&ck.fl);
	memset(&ck, 0, sizeof(ck));
}

static void
ck_prefetch(const struct ft_pkt *p)
{
	rte_prefetch0(&ck.b[p->hash & ck.mask]);
}

static void
ckh_prefetch(const struct ft_pkt *p)
{
	const char *e = (const char *)&ck.e[fast_range(p->hash, ck.cap)];

	rte_prefetch0(&ck.b[p->hash & ck.mask]);
	rte_prefetch0(e);
	rte_prefetch0(e + 64);
}

/* Entry index + 1 whose signature matches, with the entry prefetched; 0 if none. */
static inline uint32_t
ck_candidate(uint32_t sig)
{
	uint32_t b = sig & ck.mask;

	for (int j = 0; j < 2; j++) {
		const struct bucket *bk = &ck.b[b];

		for (unsigned s = 0; s < SLOTS; s++) {
			if (bk->sig[s] == sig && bk->idx[s] != 0) {
				const char *e = (const char *)&ck.e[bk->idx[s] - 1];

				rte_prefetch0(e);
				rte_prefetch0(e + 64);
				return bk->idx[s];
			}
		}
		b = ck_alt(b, sig);
	}
	return 0;
}

static inline uint32_t
ck_lookup(const struct ft_pkt *p)
{
	uint32_t b = p->hash & ck.mask;

	for (int j = 0; j < 2; j++) {
		const struct bucket *bk = &ck.b[b];

		for (unsigned s = 0; s < SLOTS; s++)
			if (bk->sig[s] == p->hash && bk->idx[s] != 0 &&
			    key_equal(&ck.e[bk->idx[s] - 1].key, &p->key))
				return bk->idx[s];
		b = ck_alt(b, p->hash);
	}
	return 0;
}

static inline int
ck_put(struct bucket *b, uint32_t sig, uint32_t idx)
{
	for (unsigned s = 0; s < SLOTS; s++) {
		if (b->idx[s] == 0) {
			b->sig[s] = sig;
			b->idx[s] = idx;
			return 0;
		}
	}
	return -1;
}

/* flowtap's bounded random-walk insert (without its undo: a failure is counted,
 * and never happens at these loads). */
static int
ck_index_insert(uint32_t sig, uint32_t idx)
{
	uint32_t b1 = sig & ck.mask, b2 = ck_alt(b1, sig), b;

	if (ck_put(&ck.b[b1], sig, idx) == 0 || ck_put(&ck.b[b2], sig, idx) == 0)
		return 0;
	b = (ck.kick_seed & 1) ? b1 : b2;
	for (int d = 0; d < MAX_KICKS; d++) {
		struct bucket *bk = &ck.b[b];
		uint32_t s, vs, vi;

		ck.kick_seed = ck.kick_seed * 1103515245U + 12345U;
		s = (ck.kick_seed >> 16) % SLOTS;
		vs = bk->sig[s];
		vi = bk->idx[s];
		bk->sig[s] = sig;
		bk->idx[s] = idx;
		b = ck_alt(b, vs);
		if (ck_put(&ck.b[b], vs, vi) == 0)
			return 0;
		sig = vs;
		idx = vi;
	}
	return -1;
}

static inline uint32_t
ck_create_flow(const struct ft_pkt *p)
{
	uint32_t i = UINT32_MAX;

	if (ck.home) {
		uint32_t h = fast_range(p->hash, ck.cap);

		if (!(ck.e[h].flags & FT_FLOW_E_IN_USE) && ck.fl.top != 0) {
			free_list_take(&ck.fl, h);
			i = h;
		}
	}
	if (i == UINT32_MAX)
		i = free_list_pop(&ck.fl);
	if (i == UINT32_MAX || ck_index_insert(p->hash, i + 1) != 0) {
		ck.failed++;
		return UINT32_MAX;
	}
	entry_init(&ck.e[i], p);
	ck.live++;
	return i;
}

static void
ck_burst(struct ft_pkt *const pkts[], unsigned n)
{
	uint32_t cand[BURST];

	for (unsigned k = 0; k < RTE_MIN(n, 2u * PF_DIST); k++)
		rte_prefetch0(&ck.b[pkts[k]->hash & ck.mask]);
	for (unsigned k = 0; k < RTE_MIN(n, (unsigned)PF_DIST); k++)
		cand[k] = ck_candidate(pkts[k]->hash);
	for (unsigned k = 0; k < n; k++) {
		const struct ft_pkt *p = pkts[k];
		uint32_t idx = cand[k], i;

		if (k + 2 * PF_DIST < n)
			rte_prefetch0(&ck.b[pkts[k + 2 * PF_DIST]->hash & ck.mask]);
		if (k + PF_DIST < n)
			cand[k + PF_DIST] = ck_candidate(pkts[k + PF_DIST]->hash);
		if (idx == 0 || !key_equal(&ck.e[idx - 1].key, &p->key))
			idx = ck_lookup(p);
		if (idx != 0) {
			i = idx - 1;
		} else {
			i = ck_create_flow(p);
			if (i == UINT32_MAX)
				continue;
		}
		entry_account(&ck.e[i], p);
	}
}

static uint64_t
ck_live(void)
{
	return ck.failed ? 0 : ck.live;
}

/* --- rte_hash ---------------------------------------------------------------- */

static struct {
	struct rte_hash *h;
	struct ft_flow *e;
	struct free_list fl;
	unsigned serial;
	uint64_t live, failed;
} rh;

static int
rh_create(uint32_t capacity, uint32_t flows)
{
	char name[RTE_HASH_NAMESIZE];
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = capacity,
		.key_len = sizeof(struct ft_flow_key),
		.hash_func = rte_hash_crc,
		.hash_func_init_val = 0,
		.socket_id = (int)rte_socket_id(),
	};

	(void)flows;
	memset(&rh, 0, sizeof(rh));
	snprintf(name, sizeof(name), "bench_%u", rh.serial++);
	rh.h = rte_hash_create(&hp);
	rh.e = rte_zmalloc("bench_rh_entries", (size_t)capacity * sizeof(struct ft_flow), 64);
	if (rh.h == NULL || rh.e == NULL || free_list_init(&rh.fl, capacity, false) != 0)
		return -ENOMEM;
	return 0;
}

static void
rh_destroy(void)
{
	rte_hash_free(rh.h);
	rte_free(rh.e);
	free_list_free(&rh.fl);
	rh.h = NULL;
	rh.e = NULL;
}

static void
rh_burst(struct ft_pkt *const pkts[], unsigned n)
{
	const void *keys[BURST];
	hash_sig_t sigs[BURST];
	void *data[BURST];
	uint64_t hit = 0;

	for (unsigned k = 0; k < n; k++) {
		keys[k] = &pkts[k]->key;
		sigs[k] = pkts[k]->hash;
	}
	rte_hash_lookup_with_hash_bulk_data(rh.h, keys, sigs, n, &hit, data);
	for (unsigned k = 0; k < n; k++) {
		if (hit & (1ULL << k)) {
			const char *e = (const char *)&rh.e[(uintptr_t)data[k]];

			rte_prefetch0(e);
			rte_prefetch0(e + 64);
		}
	}
	for (unsigned k = 0; k < n; k++) {
		const struct ft_pkt *p = pkts[k];
		uint32_t i;

		if (hit & (1ULL << k)) {
			i = (uint32_t)(uintptr_t)data[k];
		} else {
			void *d;

			/* An earlier packet of this burst may have created it. */
			if (rte_hash_lookup_with_hash_data(rh.h, &p->key, p->hash, &d) >= 0) {
				i = (uint32_t)(uintptr_t)d;
			} else {
				i = free_list_pop(&rh.fl);
				if (i == UINT32_MAX ||
				    rte_hash_add_key_with_hash_data(rh.h, &p->key, p->hash,
								    (void *)(uintptr_t)i) != 0) {
					rh.failed++;
					continue;
				}
				entry_init(&rh.e[i], p);
				rh.live++;
			}
		}
		entry_account(&rh.e[i], p);
	}
}

static uint64_t
rh_live(void)
{
	return rh.failed ? 0 : (uint64_t)rte_hash_count(rh.h);
}

/* --- open-80, open-50: one level, linear probing over 128-byte entries -------- */

struct oa_entry {
	struct ft_flow_key key; /*   0 */
	uint32_t hash;		/*  48 */
	uint32_t in_use;	/*  52 */
	uint64_t last_ns;	/*  56 */
	uint64_t first_ns;	/*  64: counters and the rest in the second line */
	uint64_t packets[2];	/*  72 */
	uint64_t bytes[2];	/*  88 */
	uint8_t rest[24];	/* 104: what struct ft_flow keeps there */
} __attribute__((aligned(64)));
static_assert(sizeof(struct oa_entry) == 128, "two cache lines, as struct ft_flow");

static struct {
	struct oa_entry *s;
	uint32_t n;
	uint64_t live, failed, probes, lookups;
} oa;

static int
oa_create_load(uint32_t flows, double load)
{
	memset(&oa, 0, sizeof(oa));
	oa.n = (uint32_t)((double)flows / load) + 1;
	oa.s = rte_zmalloc("bench_oa", (size_t)oa.n * sizeof(struct oa_entry), 64);
	return oa.s ? 0 : -ENOMEM;
}

static int
oa80_create(uint32_t capacity, uint32_t flows)
{
	(void)flows;
	return oa_create_load(capacity, 1.0); /* capacity = N + N/4: load 0.8 at N */
}

static int
oa50_create(uint32_t capacity, uint32_t flows)
{
	(void)capacity;
	return oa_create_load(flows, 0.5);
}

static void
oa_destroy(void)
{
	rte_free(oa.s);
	oa.s = NULL;
}

/* The home entry, and the key line of the next one (where a second probe goes:
 * a third of lookups at load 0.5, over half at 0.8). */
static inline void
oa_fetch_home(uint32_t hash)
{
	const char *e = (const char *)&oa.s[fast_range(hash, oa.n)];

	rte_prefetch0(e);
	rte_prefetch0(e + 64);
	rte_prefetch0(e + 128);
}

/*
 * No prefetch while parsing: three lines for each of 32 packets at once is more
 * than the core keeps in flight (measured: the prefetches themselves stall). As
 * flowtap's table does with its entries, the burst is pipelined instead: the
 * home entry of packet k + OA_DIST is fetched while packet k is counted.
 */
static void
oa_burst(struct ft_pkt *const pkts[], unsigned n)
{
	for (unsigned k = 0; k < RTE_MIN(n, (unsigned)OA_DIST); k++)
		oa_fetch_home(pkts[k]->hash);
	for (unsigned k = 0; k < n; k++) {
		const struct ft_pkt *p = pkts[k];
		uint32_t i = fast_range(p->hash, oa.n);
		struct oa_entry *e;

		if (k + OA_DIST < n)
			oa_fetch_home(pkts[k + OA_DIST]->hash);
		for (;;) {
			e = &oa.s[i];
			oa.probes++;
			if (!e->in_use) {
				if (oa.live + 1 >= oa.n) {
					oa.failed++;
					e = NULL;
					break;
				}
				e->key = p->key;
				e->hash = p->hash;
				e->in_use = 1;
				e->first_ns = e->last_ns = p->ts_ns;
				e->packets[0] = e->packets[1] = 0;
				e->bytes[0] = e->bytes[1] = 0;
				oa.live++;
				break;
			}
			if (e->hash == p->hash && key_equal(&e->key, &p->key))
				break;
			if (++i == oa.n)
				i = 0;
		}
		oa.lookups++;
		if (e == NULL)
			continue;
		e->packets[p->dir]++;
		e->bytes[p->dir] += p->wire_len;
		if (p->ts_ns > e->last_ns)
			e->last_ns = p->ts_ns;
	}
}

static uint64_t
oa_live(void)
{
	return oa.failed ? 0 : oa.live;
}

static double
oa_probes(void)
{
	double r = oa.lookups ? (double)oa.probes / (double)oa.lookups : 0;

	oa.probes = oa.lookups = 0;
	return r;
}

static const struct variant variants[] = {
	{"flowtap", ft_create, ft_destroy, ft_prefetch, ft_burst, ft_live, NULL},
	{"cuckoo", ck_create, ck_destroy, ck_prefetch, ck_burst, ck_live, NULL},
	{"cuckoo-home", ckh_create, ck_destroy, ckh_prefetch, ck_burst, ck_live, NULL},
	{"rte_hash", rh_create, rh_destroy, NULL, rh_burst, rh_live, NULL},
	{"open-80", oa80_create, oa_destroy, NULL, oa_burst, oa_live, oa_probes},
	{"open-50", oa50_create, oa_destroy, NULL, oa_burst, oa_live, oa_probes},
};
#define NVARIANTS (sizeof(variants) / sizeof(variants[0]))

/* --- the driver -------------------------------------------------------------- */

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static inline uint32_t
rng32(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

static double
now_s(void)
{
	struct timespec t;

	/* This thread's CPU time: what others run on the core does not count. */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static size_t
heap_bytes(void)
{
	struct rte_malloc_socket_stats st;

	if (rte_malloc_get_socket_stats((int)rte_socket_id(), &st) != 0)
		return 0;
	return st.heap_allocsz_bytes;
}

static struct ft_pkt pkt_store[BURST];
static uint64_t clock_ns = 1000000000ULL;

/*
 * Run ops packets through v (or only make them when v is NULL): flow numbers
 * from order[] when given, else uniform over [0, flows). Returns seconds.
 */
static double
run_phase(const struct variant *v, const uint32_t *order, uint64_t ops, uint32_t flows)
{
	struct ft_pkt *pkts[BURST];
	double t0 = now_s();

	for (unsigned k = 0; k < BURST; k++)
		pkts[k] = &pkt_store[k];
	for (uint64_t done = 0; done < ops; done += BURST) {
		unsigned n = (unsigned)RTE_MIN((uint64_t)BURST, ops - done);

		for (unsigned k = 0; k < n; k++) {
			uint32_t i = order ? order[done + k] : fast_range(rng32(), flows);

			make_pkt(pkts[k], i, clock_ns++);
			if (v && v->prefetch)
				v->prefetch(pkts[k]);
		}
		if (v)
			v->burst(pkts, n);
		else
			rte_compiler_barrier();
	}
	return now_s() - t0;
}

struct result {
	double insert_ns, hit_ns, bytes_per_flow, probes;
	bool ok;
};

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int
run_one(const struct variant *v, uint32_t flows, uint64_t hit_ops, const uint32_t *order,
	struct result *r)
{
	uint32_t capacity = flows + flows / 4;
	/* Small tables are filled many times over, into fresh tables, so that the
	 * insert figure rests on at least INSERT_MIN insertions. */
	unsigned reps = flows >= INSERT_MIN ? 1 : INSERT_MIN / flows;
	double t_ins = 0, t_ins_gen = 0, t_hit, t_hit_gen;
	uint64_t saved_rng;

	memset(r, 0, sizeof(*r));
	r->ok = true;
	for (unsigned rep = 0; rep < reps; rep++) {
		size_t before = heap_bytes();
		int rc = v->create(capacity, flows);

		if (rc != 0) {
			fprintf(stderr, "%s: create for %u flows: %s\n", v->name, flows,
				strerror(-rc));
			v->destroy();
			return rc;
		}
		if (rep == 0)
			r->bytes_per_flow = (double)(heap_bytes() - before) / flows;
		t_ins_gen += run_phase(NULL, order, flows, flows);
		t_ins += run_phase(v, order, flows, flows);
		r->ok = r->ok && v->live() == flows;
		if (rep + 1 < reps)
			v->destroy();
	}
	if (v->probes)
		v->probes(); /* reset */

	saved_rng = rng_state;
	t_hit_gen = run_phase(NULL, NULL, hit_ops, flows);
	rng_state = saved_rng;
	t_hit = run_phase(v, NULL, hit_ops, flows);
	r->ok = r->ok && v->live() == flows; /* every hit-path packet found its flow */
	if (v->probes)
		r->probes = v->probes();
	r->insert_ns = (t_ins - t_ins_gen) * 1e9 / ((double)flows * reps);
	r->hit_ns = (t_hit - t_hit_gen) * 1e9 / (double)hit_ops;
	if (getenv("BENCH_DEBUG"))
		fprintf(stderr, "%s %u: hit %.1f gen %.1f, insert %.1f gen %.1f ns/pkt\n", v->name,
			flows, t_hit * 1e9 / (double)hit_ops, t_hit_gen * 1e9 / (double)hit_ops,
			t_ins * 1e9 / ((double)flows * reps),
			t_ins_gen * 1e9 / ((double)flows * reps));
	v->destroy();
	return 0;
}

static unsigned
parse_list(const char *s, uint32_t *out, unsigned max)
{
	unsigned n = 0;

	while (*s && n < max) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);

		if (end == s || v == 0 || v > (1UL << 24))
			return 0;
		out[n++] = (uint32_t)v;
		s = *end == ',' ? end + 1 : end;
		if (end == s && *s)
			return 0;
	}
	return n;
}

int
main(int argc, char **argv)
{
	uint32_t flows_list[MAX_FLOWS_LIST] = {1000, 100000, 1000000, 10000000};
	unsigned nflows = 4, rounds = 3;
	const char *want = NULL;
	uint64_t min_ops = 4000000;
	bool use[NVARIANTS];
	int n;

	n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "EAL: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= n;
	argv += n;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--flows") == 0 && i + 1 < argc) {
			nflows = parse_list(argv[++i], flows_list, MAX_FLOWS_LIST);
		} else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
			rounds = (unsigned)atoi(argv[++i]);
		} else if (strcmp(argv[i], "--variants") == 0 && i + 1 < argc) {
			want = argv[++i];
		} else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc) {
			min_ops = strtoull(argv[++i], NULL, 10);
		} else {
			nflows = 0;
			break;
		}
	}
	if (nflows == 0 || rounds == 0 || min_ops == 0) {
		fprintf(stderr,
			"usage: %s EAL-options -- [--flows N[,N...]] [--rounds R] "
			"[--variants a,b,...] [--ops N]\n"
			"variants:",
			argv[0]);
		for (unsigned v = 0; v < NVARIANTS; v++)
			fprintf(stderr, " %s", variants[v].name);
		fprintf(stderr, "\n");
		return 2;
	}
	for (unsigned v = 0; v < NVARIANTS; v++) {
		char pat[64];

		snprintf(pat, sizeof(pat), ",%s,", variants[v].name);
		if (want == NULL) {
			use[v] = true;
		} else {
			char list[512];

			snprintf(list, sizeof(list), ",%s,", want);
			use[v] = strstr(list, pat) != NULL;
		}
	}

	{
		struct ft_pkt p;

		make_pkt(&p, 123456, 0);
		if (p.hash != ft_flow_key_hash(&p.key)) {
			fprintf(stderr, "make_pkt: hash differs from ft_flow_key_hash()\n");
			return 1;
		}
	}

	printf("| flows | design | hit ns/pkt | insert ns/pkt | bytes/flow | probes/pkt | rounds "
	       "(hit) |\n");
	printf("|---:|---|---:|---:|---:|---:|---|\n");
	for (unsigned f = 0; f < nflows; f++) {
		uint32_t flows = flows_list[f];
		uint64_t hit_ops = RTE_MAX(min_ops, 2ULL * flows);
		uint32_t *order = malloc((size_t)flows * sizeof(*order));
		struct result res[NVARIANTS][16];

		if (order == NULL || rounds > 16) {
			fprintf(stderr, "out of memory\n");
			return 1;
		}
		/* Insert order: a random permutation of the flow numbers. */
		for (uint32_t i = 0; i < flows; i++)
			order[i] = i;
		for (uint32_t i = flows - 1; i > 0; i--) {
			uint32_t j = fast_range(rng32(), i + 1), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		/* Rounds alternate the designs, so that a noisy moment hits all. */
		for (unsigned r = 0; r < rounds; r++)
			for (unsigned v = 0; v < NVARIANTS; v++)
				if (use[v] &&
				    run_one(&variants[v], flows, hit_ops, order, &res[v][r]) != 0)
					return 1;
		for (unsigned v = 0; v < NVARIANTS; v++) {
			double hit[16], ins[16], probes = 0;
			bool ok = true;
			char each[256], probes_s[32] = "-";
			int at = 0;

			if (!use[v])
				continue;
			for (unsigned r = 0; r < rounds; r++) {
				hit[r] = res[v][r].hit_ns;
				ins[r] = res[v][r].insert_ns;
				probes = res[v][r].probes;
				ok = ok && res[v][r].ok;
				at += snprintf(each + at, sizeof(each) - (size_t)at, "%s%.1f",
					       r ? " " : "", hit[r]);
			}
			if (variants[v].probes)
				snprintf(probes_s, sizeof(probes_s), "%.2f", probes);
			printf("| %u | %s | %.1f | %.1f | %.0f | %s | %s |%s\n", flows,
			       variants[v].name, median(hit, rounds), median(ins, rounds),
			       res[v][0].bytes_per_flow, probes_s, each,
			       ok ? "" : " (FAILED: flows lost)");
			fflush(stdout);
		}
		free(order);
	}
	rte_eal_cleanup();
	return 0;
}
