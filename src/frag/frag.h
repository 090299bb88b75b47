/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fragment attribution: later IPv4/IPv6 fragments carry no ports, so on their
 * own they can only join a flow of (addresses, protocol). This table remembers,
 * for a bounded time, the ports each datagram's first fragment carried, keyed by
 * (addresses, direction, protocol for IPv4, IP identification, VLANs), and gives
 * them (and its protocol) to the datagram's later fragments: they then join the
 * datagram's 5-tuple flow, and software dispatch sends them to the same worker.
 *
 * It runs on the worker that reads a queue, before dispatch, on parsed packets.
 * A later fragment seen before its first fragment (reordering) waits there, up
 * to FT_FRAG_WAIT_MAX of them for at most [flow] fragment_wait, and is looked
 * up again right after its first fragment (src/worker). One whose first
 * fragment does not come in that time, or comes after its entry expired or was
 * overwritten, stays unattributed (flow of addresses and protocol, ports 0) and
 * is counted as such.
 *
 * Memory: entries * 64 bytes. Per packet: nothing unless it is a fragment.
 * Threading: one table per reading worker; not thread-safe.
 */
#ifndef FT_FRAG_H
#define FT_FRAG_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_hash_crc.h>

#include "parse/parse.h"

/*
 * What identifies a datagram among fragments (RFC 791: addresses, protocol,
 * identification; RFC 8200: addresses and identification), with the VLANs, the
 * tunnel it came in (a datagram inside a tunnel is not one with the same
 * addresses outside it) and the direction against the key's sorted endpoints.
 * Shared with src/frag/defrag.
 */
struct ft_frag_dgram {
	uint8_t addr[2][16]; /* as in struct ft_flow_key: sorted endpoints */
	uint32_t frag_id;
	uint16_t vlan[2];
	uint8_t proto;
	uint8_t family; /* 4 or 6; 0: the entry holding it is free */
	uint8_t dir;
	uint8_t tunnel; /* enum ft_tunnel, as in the key */
};

static inline bool
ft_frag_dgram_used(const struct ft_frag_dgram *d)
{
	return d->family != 0;
}

static inline void
ft_frag_dgram_clear(struct ft_frag_dgram *d)
{
	d->family = 0;
}

/*
 * The protocol in a fragment's datagram identity: IPv4's; none for IPv6, whose
 * later fragments name the header after the fragment header, which is not the
 * first fragment's L4 protocol when extension headers come between them.
 */
static inline uint8_t
ft_frag_dgram_proto(const struct ft_pkt *p)
{
	return p->key.family == 6 ? 0 : p->key.proto;
}

/* Hash of a fragment's datagram identity: its address pair's (with VLANs and
 * family), then identification, protocol and direction. */
static inline uint32_t
ft_frag_dgram_hash(const struct ft_pkt *p)
{
	return rte_hash_crc_8byte((uint64_t)p->frag_id << 32 |
					  (uint32_t)ft_frag_dgram_proto(p) << 8 | p->dir,
				  ft_flow_key_pair_hash(&p->key));
}

/* Is d the datagram of fragment p? */
static inline bool
ft_frag_dgram_is(const struct ft_frag_dgram *d, const struct ft_pkt *p)
{
	/* family is never 0 in a packet: a free entry is no datagram's */
	return d->frag_id == p->frag_id && d->proto == ft_frag_dgram_proto(p) &&
	       d->family == p->key.family && d->dir == p->dir && d->tunnel == p->key.tunnel &&
	       d->vlan[0] == p->key.vlan[0] && d->vlan[1] == p->key.vlan[1] &&
	       memcmp(d->addr, p->key.addr, sizeof(d->addr)) == 0;
}

/* Make d (marked in use) the datagram of fragment p. */
static inline void
ft_frag_dgram_set(struct ft_frag_dgram *d, const struct ft_pkt *p)
{
	memcpy(d->addr, p->key.addr, sizeof(d->addr));
	d->frag_id = p->frag_id;
	d->vlan[0] = p->key.vlan[0];
	d->vlan[1] = p->key.vlan[1];
	d->proto = ft_frag_dgram_proto(p);
	d->family = p->key.family;
	d->dir = p->dir;
	d->tunnel = p->key.tunnel;
}

/* Later fragments a worker holds at most while they wait for their first
 * fragment (the mbuf pool counts them). */
#define FT_FRAG_WAIT_MAX 128

struct ft_frag_table_params {
	uint32_t entries;    /* a power of two, >= 4 */
	uint64_t timeout_ns; /* how long a first fragment's ports are remembered */
	int socket_id;
};

struct ft_frag_table;

/* @return the table, or NULL with rte_errno set: EINVAL, ENOMEM. */
struct ft_frag_table *ft_frag_table_create(const struct ft_frag_table_params *params);

/* NULL is a no-op. */
void ft_frag_table_free(struct ft_frag_table *table);

/* What ft_frag_table_packet() did. */
enum ft_frag_result {
	FT_FRAG_NONE = 0,	   /* not a fragment, or a first fragment (remembered) */
	FT_FRAG_ATTRIBUTED,	   /* a later fragment: given its datagram's ports */
	FT_FRAG_UNATTRIBUTED,	   /* a later fragment whose first fragment is unknown */
};

/*
 * Look at one parsed packet (ft_parse() returned 0, ts_ns set). A first fragment
 * is remembered; a later fragment whose first fragment is remembered gets its
 * ports (pkt->key.port, pkt->dir unchanged, pkt->hash recomputed) and the flag
 * FT_PKT_F_FRAG_ATTRIBUTED.
 */
enum ft_frag_result ft_frag_table_packet(struct ft_frag_table *table, struct ft_pkt *pkt);

#endif /* FT_FRAG_H */
