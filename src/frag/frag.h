/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fragment attribution: later IPv4/IPv6 fragments carry no ports, so on their
 * own they can only join a flow of (addresses, protocol). This table remembers,
 * for a bounded time, the ports each datagram's first fragment carried, keyed by
 * (addresses, direction, protocol, IP identification, VLANs), and gives them to
 * the datagram's later fragments: they then join the datagram's 5-tuple flow, and
 * software dispatch sends them to the same worker.
 *
 * It runs on the worker that reads a queue, before dispatch, on parsed packets.
 * A later fragment seen before its first fragment (reordering), or after the
 * first fragment's entry expired or was overwritten, stays unattributed (flow of
 * addresses and protocol, ports 0) and is counted as such.
 *
 * Memory: entries * 64 bytes. Per packet: nothing unless it is a fragment.
 * Threading: one table per reading worker; not thread-safe.
 */
#ifndef FT_FRAG_H
#define FT_FRAG_H

#include <stdint.h>

#include "parse/parse.h"

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
