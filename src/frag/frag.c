/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A set-associative cache of datagrams: 64-byte entries in sets of four. An
 * insert takes a free or expired way, else the oldest (whose later fragments
 * then go unattributed: bounded memory beats remembering everything).
 */
#include <errno.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_malloc.h>

#include "frag/frag.h"

#define WAYS 4

/* One datagram: its identity and its first fragment's ports. */
struct entry {
	struct ft_frag_dgram id;
	uint16_t port[2]; /* the first fragment's key ports */
	uint32_t hash;	  /* the first fragment's flow hash */
	uint8_t proto;	  /* the first fragment's L4 protocol */
	uint64_t seen_ns;
};
static_assert(sizeof(struct entry) == 64, "one entry per cache line");

struct ft_frag_table {
	struct entry *e;
	uint32_t set_mask;
	uint64_t timeout_ns;
};

struct ft_frag_table *
ft_frag_table_create(const struct ft_frag_table_params *p)
{
	struct ft_frag_table *t;

	if (p == NULL || p->entries < WAYS || (p->entries & (p->entries - 1)) != 0) {
		rte_errno = EINVAL;
		return NULL;
	}
	t = rte_zmalloc_socket("ft_frag", sizeof(*t), 64, p->socket_id);
	if (t == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	t->e = rte_zmalloc_socket("ft_frag_entries", (size_t)p->entries * sizeof(struct entry), 64,
				  p->socket_id);
	if (t->e == NULL) {
		rte_free(t);
		rte_errno = ENOMEM;
		return NULL;
	}
	t->set_mask = p->entries / WAYS - 1;
	t->timeout_ns = p->timeout_ns;
	return t;
}

void
ft_frag_table_free(struct ft_frag_table *t)
{
	if (t == NULL)
		return;
	rte_free(t->e);
	rte_free(t);
}

enum ft_frag_result
ft_frag_table_packet(struct ft_frag_table *t, struct ft_pkt *p)
{
	struct entry *set;
	uint64_t now = p->ts_ns;

	if (!(p->flags & FT_PKT_F_FRAGMENT))
		return FT_FRAG_NONE;
	set = &t->e[(ft_frag_dgram_hash(p) & t->set_mask) * WAYS];

	if (!(p->flags & FT_PKT_F_LATER_FRAG)) {
		/* A first fragment: remember it in a matching, free, expired or
		 * else the oldest way. */
		struct entry *victim = &set[0];

		for (unsigned w = 0; w < WAYS; w++) {
			struct entry *e = &set[w];

			if (ft_frag_dgram_is(&e->id, p) || !ft_frag_dgram_used(&e->id) ||
			    (int64_t)(now - e->seen_ns) > (int64_t)t->timeout_ns) {
				victim = e;
				break;
			}
			if (e->seen_ns < victim->seen_ns)
				victim = e;
		}
		ft_frag_dgram_set(&victim->id, p);
		victim->port[0] = p->key.port[0];
		victim->port[1] = p->key.port[1];
		victim->hash = p->hash;
		victim->proto = p->key.proto;
		victim->seen_ns = now;
		return FT_FRAG_NONE;
	}
	for (unsigned w = 0; w < WAYS; w++) {
		struct entry *e = &set[w];

		/* Signed: a later fragment that waited for its first fragment
		 * (src/worker) is older than it. */
		if (ft_frag_dgram_is(&e->id, p) &&
		    (int64_t)(now - e->seen_ns) <= (int64_t)t->timeout_ns) {
			p->key.port[0] = e->port[0];
			p->key.port[1] = e->port[1];
			p->key.proto = e->proto; /* IPv6: not always the fragment header's */
			p->hash = e->hash;
			p->flags |= FT_PKT_F_FRAG_ATTRIBUTED;
			if ((int64_t)(now - e->seen_ns) > 0)
				e->seen_ns = now; /* a datagram's fragments keep it alive */
			return FT_FRAG_ATTRIBUTED;
		}
	}
	return FT_FRAG_UNATTRIBUTED;
}
