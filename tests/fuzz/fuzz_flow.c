/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the flow table (src/flow): the input picks a small
 * table (capacity, full policy, emergency mode, active timeout, expiry budget,
 * timeouts of a few ms) and then a program of bursts of packets from 64 keys
 * (TCP with any flags, UDP, ICMP, other), packet times that mostly move
 * forward, and expiry runs; the table ends with a flush. Keys share hashes in
 * groups (the key_hash parameter), so buckets fill and the index is crowded.
 *
 * Besides crashes and sanitizer reports, it aborts when:
 *   - a packet's flow index (not reused later in its burst, and its flow not
 *     ended since) is not a live entry with the packet's key;
 *   - a record has no packet, ends before it starts, or has no valid reason,
 *     or a flow ends twice;
 *   - the counters disagree (created - ended != active, active over capacity,
 *     refusals with the evict policy, anything live after the flush);
 *   - the records and the refusals do not account for every packet and byte
 *     given, exactly.
 */
#include <stdbool.h>
#include <string.h>

#include "flow/flow.h"
#include "fuzz.h"

/* No EAL here: allocation comes from the C library. */
#include "../unit/dpdk_malloc.h"

#define MS	  1000000ULL
#define KEYS	  64
#define MAX_BURST 32
#define MAX_IDS	  (1u << 16) /* flow ids tracked for "ends once" */

static const uint8_t protos[4] = {6, 17, 1, 47};

struct run {
	uint64_t packets, bytes;    /* in records */
	uint8_t ended[MAX_IDS / 8]; /* per flow id (low bits): ended for good */
	uint32_t burst_ended[MAX_BURST * 2];
	unsigned nburst_ended;
	const struct ft_flow_table *t;
};

static struct run run;

/* Key k: 10.0.0.(k+1):(1000+k) <-> 10.0.1.1:80 over protos[k % 4]. */
static void
make_key(struct ft_flow_key *key, unsigned k)
{
	memset(key, 0, sizeof(*key));
	key->family = 4;
	key->proto = protos[k % 4];
	key->addr[0][0] = 10;
	key->addr[0][3] = (uint8_t)(k + 1);
	key->addr[1][0] = 10;
	key->addr[1][2] = 1;
	key->addr[1][3] = 1;
	key->port[0] = (uint16_t)(1000 + k);
	key->port[1] = 80;
}

/* Eight keys per hash value: crowded buckets. */
static uint32_t
crowd_hash(const struct ft_flow_key *key)
{
	return ((uint32_t)(key->port[0] - 1000) / 8) * 0x9e3779b1u;
}

static void
on_end(void *ctx, const struct ft_flow *f, enum ft_end_reason reason)
{
	uint64_t id = f->id & 0xffffffffffffULL;

	(void)ctx;
	CHECK(reason >= FT_END_IDLE && reason < FT_END_MAX);
	CHECK(f->flags & FT_FLOW_E_IN_USE);
	CHECK(f->packets[0] + f->packets[1] >= 1);
	CHECK(f->first_ns <= f->last_ns);
	run.packets += f->packets[0] + f->packets[1];
	run.bytes += f->bytes[0] + f->bytes[1];
	if (reason != FT_END_ACTIVE) {
		if (id < MAX_IDS) {
			CHECK(!(run.ended[id / 8] & (1u << (id % 8))));
			run.ended[id / 8] |= (uint8_t)(1u << (id % 8));
		}
		if (run.nburst_ended < MAX_BURST * 2)
			run.burst_ended[run.nburst_ended++] = ft_flow_table_index(run.t, f);
	}
}

static bool
ended_in_burst(uint32_t idx)
{
	for (unsigned k = 0; k < run.nburst_ended && k < MAX_BURST * 2; k++)
		if (run.burst_ended[k] == idx)
			return true;
	return run.nburst_ended >= MAX_BURST * 2;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ft_pkt pkts[MAX_BURST];
	struct input in = {data, size};
	uint32_t a = take(&in, 1), b = take(&in, 1);
	struct ft_flow_table_params p = {
		.capacity = 1 + (a & 31),
		.socket_id = -1,
		.expiry_budget = 1 + ((a >> 5) & 7),
		.timeouts = {.tcp_new_ns = (1 + (b & 3)) * MS,
			     .tcp_established_ns = (1 + ((b >> 2) & 7)) * MS,
			     .tcp_closed_ns = (1 + ((b >> 5) & 1)) * MS,
			     .udp_ns = 3 * MS,
			     .icmp_ns = 2 * MS,
			     .other_ns = 4 * MS},
		.active_timeout_ns = (b & 0x40) ? 5 * MS : 0,
		.full_policy = (b & 0x80) ? FT_FLOW_FULL_REFUSE : FT_FLOW_FULL_EVICT,
		.key_hash = crowd_hash,
	};
	struct ft_flow_table_stats st;
	struct ft_flow_table *t;
	uint64_t now = 1000 * MS, given_packets = 0, given_bytes = 0;
	uint64_t refused = 0, refused_bytes = 0;

	if (take(&in, 1) & 1) {
		p.emergency_enter = 0.75;
		p.emergency_leave = 0.5;
		p.emergency_factor = 0.1;
	}
	memset(&run, 0, sizeof(run));
	t = ft_flow_table_create(&p);
	CHECK(t != NULL);
	run.t = t;
	while (in.left > 0) {
		uint32_t op = take(&in, 1);

		if ((op & 7) == 7) { /* expiry, a while later */
			now += (op >> 3) * MS / 4;
			ft_flow_table_expire(t, now, on_end, NULL);
		} else { /* a burst */
			struct ft_pkt *pp[MAX_BURST];
			uint32_t idx[MAX_BURST];
			unsigned n = 1 + (op >> 3) % MAX_BURST;

			for (unsigned k = 0; k < n; k++) {
				uint32_t w = take(&in, 1), x = take(&in, 1);
				struct ft_pkt *q = &pkts[k];

				memset(q, 0, sizeof(*q));
				make_key(&q->key, w % KEYS);
				q->hash = crowd_hash(&q->key);
				q->dir = (uint8_t)(w >> 6 & 1);
				q->flags = FT_PKT_F_L4_PAYLOAD;
				if (q->key.proto == 6)
					q->tcp_flags = (uint8_t)x;
				/* Mostly forward, a little back now and then. */
				if ((x & 3) == 3 && now > MS)
					now -= (x >> 2) * 1000;
				else
					now += (x >> 2) * 20000;
				q->ts_ns = now;
				q->wire_len = 60 + (x & 63);
				given_packets++;
				given_bytes += q->wire_len;
				pp[k] = q;
			}
			run.nburst_ended = 0;
			refused += ft_flow_table_update_burst(t, pp, n, idx, on_end, NULL);
			for (unsigned k = 0; k < n; k++) {
				bool reused = false;

				if (idx[k] == FT_FLOW_REFUSED) {
					CHECK(p.full_policy == FT_FLOW_FULL_REFUSE);
					refused_bytes += pkts[k].wire_len;
					continue;
				}
				CHECK(idx[k] < p.capacity);
				for (unsigned j = k + 1; j < n; j++)
					reused |= idx[j] == idx[k] &&
						  memcmp(&pkts[j].key, &pkts[k].key,
							 sizeof(pkts[k].key));
				if (!reused && !ended_in_burst(idx[k])) {
					const struct ft_flow *f = ft_flow_table_entry(t, idx[k]);

					CHECK(f->flags & FT_FLOW_E_IN_USE);
					CHECK(memcmp(&f->key, &pkts[k].key, sizeof(f->key)) == 0);
				}
			}
		}
		ft_flow_table_get_stats(t, &st);
		CHECK(st.created - st.ended == st.active && st.active <= p.capacity);
		CHECK(st.refused == refused);
	}
	ft_flow_table_flush(t, now, FT_END_SHUTDOWN, on_end, NULL);
	ft_flow_table_get_stats(t, &st);
	CHECK(st.active == 0 && st.created == st.ended);
	CHECK(run.packets + refused == given_packets && run.bytes + refused_bytes == given_bytes);
	ft_flow_table_free(t);
	return 0;
}
