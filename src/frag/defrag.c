/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A set-associative table of datagrams being put together, sets of four (or
 * one set of fewer), like src/frag's. A context holds a sorted list of the
 * pieces of its datagram covered (merged when they touch), so a datagram is
 * whole when one piece runs from 0 to its end, and a table of the blocks its
 * bytes sit in: byte i at offset i % FT_DEFRAG_BLOCK of block i /
 * FT_DEFRAG_BLOCK, taken from the table's pool when first written, given
 * back when the datagram is whole or given up. A whole datagram is copied
 * into the one output buffer (HEADROOM bytes before it, for an IP header to
 * parse it with) and read from there.
 */
#include <errno.h>
#include <string.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include "frag/defrag.h"
#include "frag/frag.h"

#define WAYS	 4
#define HEADROOM 20 /* an IPv4 header, written before a whole datagram to parse it */
#define SLOT	 (HEADROOM + FT_DEFRAG_DATA_MAX)
#define BLOCKS	 (FT_DEFRAG_DATA_MAX / FT_DEFRAG_BLOCK) /* of one datagram at most */

struct piece {
	uint32_t lo, hi;
};

struct dgram {
	struct ft_frag_dgram id;
	uint8_t dead; /* given up as invalid: later fragments are given up as they come */
	uint8_t have_first;
	uint8_t have_last;
	uint8_t npieces;
	uint32_t total; /* bytes of the datagram (have_last) */
	uint32_t hdr;	/* the first fragment's whole L4 header's bytes, or 0 */
	uint32_t owner_index;
	uint32_t ext;	     /* IPv6: extension headers' bytes before the L4 header */
	uint64_t created_ns; /* its first fragment's time, whichever came first */
	uint64_t bytes;	     /* payload bytes of the fragments taken */
	uint64_t owner_id;
	const void *owner;
	uint32_t block[BLOCKS]; /* pool index + 1 of the block of bytes [i, i + 1) *
				   FT_DEFRAG_BLOCK; 0: none written yet */
	struct piece piece[FT_DEFRAG_RANGES];
	struct ft_pkt first;
};

struct ft_defrag {
	struct dgram *g;
	uint8_t *pool;	      /* blocks of FT_DEFRAG_BLOCK bytes */
	uint32_t *free_stack; /* free blocks' pool indexes */
	uint32_t free_top;
	uint32_t blocks;
	uint8_t *out; /* SLOT bytes: the last whole datagram, after HEADROOM */
	uint32_t set_mask;
	uint32_t ways;	 /* WAYS, or fewer in a table of fewer datagrams */
	uint32_t cursor; /* ft_defrag_expire()'s next context */
	uint64_t timeout_ns;
	struct ft_defrag_stats stats;
};

static bool
params_ok(const struct ft_defrag_params *p)
{
	return p != NULL && p->datagrams >= 1 && (p->datagrams & (p->datagrams - 1)) == 0 &&
	       p->datagrams <= (1u << 20) && (p->memory == 0 || p->memory >= FT_DEFRAG_BLOCK) &&
	       p->memory <= (uint64_t)FT_DEFRAG_BLOCK * UINT32_MAX;
}

static uint32_t
block_count(const struct ft_defrag_params *p)
{
	return p->memory != 0 ? (uint32_t)(p->memory / FT_DEFRAG_BLOCK) : p->datagrams * BLOCKS;
}

uint64_t
ft_defrag_memory(const struct ft_defrag_params *p)
{
	if (!params_ok(p))
		return 0;
	return sizeof(struct ft_defrag) + (uint64_t)p->datagrams * sizeof(struct dgram) +
	       (uint64_t)block_count(p) * (FT_DEFRAG_BLOCK + sizeof(uint32_t)) + SLOT;
}

struct ft_defrag *
ft_defrag_create(const struct ft_defrag_params *p)
{
	struct ft_defrag *d;

	if (!params_ok(p)) {
		rte_errno = EINVAL;
		return NULL;
	}
	d = rte_zmalloc_socket("ft_defrag", sizeof(*d), 64, p->socket_id);
	if (d == NULL)
		goto nomem;
	d->g = rte_zmalloc_socket("ft_defrag_ctx", (size_t)p->datagrams * sizeof(struct dgram), 64,
				  p->socket_id);
	d->blocks = block_count(p);
	d->pool = rte_zmalloc_socket("ft_defrag_pool", (size_t)d->blocks * FT_DEFRAG_BLOCK, 64,
				     p->socket_id);
	d->free_stack = rte_zmalloc_socket("ft_defrag_free", (size_t)d->blocks * sizeof(uint32_t),
					   64, p->socket_id);
	d->out = rte_zmalloc_socket("ft_defrag_out", SLOT, 64, p->socket_id);
	if (d->g == NULL || d->pool == NULL || d->free_stack == NULL || d->out == NULL)
		goto nomem;
	for (uint32_t i = 0; i < d->blocks; i++)
		d->free_stack[i] = d->blocks - 1 - i;
	d->free_top = d->blocks;
	d->ways = RTE_MIN(p->datagrams, (uint32_t)WAYS);
	d->set_mask = p->datagrams / d->ways - 1;
	d->timeout_ns = p->timeout_ns;
	return d;

nomem:
	ft_defrag_free(d);
	rte_errno = ENOMEM;
	return NULL;
}

void
ft_defrag_free(struct ft_defrag *d)
{
	if (d == NULL)
		return;
	rte_free(d->g);
	rte_free(d->pool);
	rte_free(d->free_stack);
	rte_free(d->out);
	rte_free(d);
}

void
ft_defrag_get_stats(const struct ft_defrag *d, struct ft_defrag_stats *stats)
{
	*stats = d->stats;
	stats->blocks_used = d->blocks - d->free_top;
}

/* Give g's blocks back to the pool. */
static void
release(struct ft_defrag *d, struct dgram *g)
{
	for (unsigned b = 0; b < BLOCKS; b++) {
		if (g->block[b] != 0) {
			d->free_stack[d->free_top++] = g->block[b] - 1;
			g->block[b] = 0;
		}
	}
}

/* Free a context; counted as given up for `reason` unless it already was. */
static void
drop(struct ft_defrag *d, struct dgram *g, enum ft_defrag_reason reason)
{
	release(d, g);
	if (!g->dead) {
		d->stats.given_up[reason]++;
		d->stats.given_up_bytes += g->bytes;
	}
	d->stats.held_bytes -= g->bytes;
	d->stats.in_use--;
	ft_frag_dgram_clear(&g->id);
}

/* Give a datagram up (invalid, or no memory); the context stays to take its
 * later fragments. */
static void
kill(struct ft_defrag *d, struct dgram *g, enum ft_defrag_reason reason)
{
	release(d, g);
	d->stats.given_up[reason]++;
	d->stats.given_up_bytes += g->bytes;
	d->stats.held_bytes -= g->bytes;
	g->bytes = 0;
	g->dead = 1;
}

static bool
expired(const struct ft_defrag *d, const struct dgram *g, uint64_t now)
{
	/* Signed: capture times can step back a little. */
	return (int64_t)(now - g->created_ns) > (int64_t)d->timeout_ns;
}

/* The datagram of fragment p: found, or a new context in its set. */
static struct dgram *
find(struct ft_defrag *d, const struct ft_pkt *p)
{
	struct dgram *set = &d->g[(ft_frag_dgram_hash(p) & d->set_mask) * d->ways];
	struct dgram *victim = NULL;

	for (unsigned w = 0; w < d->ways; w++) {
		struct dgram *g = &set[w];

		if (ft_frag_dgram_used(&g->id) && expired(d, g, p->ts_ns))
			drop(d, g, FT_DEFRAG_TIMEOUT);
		if (ft_frag_dgram_is(&g->id, p))
			return g;
	}
	for (unsigned w = 0; w < d->ways; w++) {
		struct dgram *g = &set[w];

		if (!ft_frag_dgram_used(&g->id)) {
			victim = g;
			break;
		}
		if (victim == NULL || (int64_t)(g->created_ns - victim->created_ns) < 0)
			victim = g;
	}
	if (ft_frag_dgram_used(&victim->id))
		drop(d, victim, FT_DEFRAG_EVICTED);
	memset(victim, 0, offsetof(struct dgram, piece));
	ft_frag_dgram_set(&victim->id, p);
	victim->created_ns = p->ts_ns;
	d->stats.in_use++;
	return victim;
}

/* Write n bytes from src at offset pos of g, taking blocks as they are first
 * written (the caller made sure the pool has them). */
static void
put_bytes(struct ft_defrag *d, struct dgram *g, uint32_t pos, const uint8_t *src, uint32_t n)
{
	while (n > 0) {
		uint32_t b = pos / FT_DEFRAG_BLOCK, off = pos % FT_DEFRAG_BLOCK;
		uint32_t k = RTE_MIN(n, FT_DEFRAG_BLOCK - off);

		if (g->block[b] == 0)
			g->block[b] = d->free_stack[--d->free_top] + 1;
		memcpy(d->pool + (size_t)(g->block[b] - 1) * FT_DEFRAG_BLOCK + off, src, k);
		pos += k;
		src += k;
		n -= k;
	}
}

/*
 * Cover [lo, hi) of g (hi <= FT_DEFRAG_DATA_MAX): bytes not covered yet are
 * copied from src (src[0] is the byte at lo). First copy wins. Returns, with
 * nothing covered: FT_DEFRAG_INVALID if that would take more than
 * FT_DEFRAG_RANGES pieces, FT_DEFRAG_MEMORY if the pool lacks the blocks the
 * new bytes need; else -1.
 */
static int
cover(struct ft_defrag *d, struct dgram *g, uint32_t lo, uint32_t hi, const uint8_t *src)
{
	struct piece merged[FT_DEFRAG_RANGES + 1];
	unsigned n = 0, k = 0;
	uint32_t pos = lo, need = 0;

	if (lo >= hi)
		return -1;
	/* The merged list first: pieces before [lo, hi), [lo, hi) joined with
	 * every piece it touches, pieces after. */
	while (k < g->npieces && g->piece[k].hi < lo)
		merged[n++] = g->piece[k++];
	merged[n].lo = lo;
	merged[n].hi = hi;
	for (; k < g->npieces && g->piece[k].lo <= hi; k++) {
		merged[n].lo = RTE_MIN(merged[n].lo, g->piece[k].lo);
		merged[n].hi = RTE_MAX(merged[n].hi, g->piece[k].hi);
	}
	n++;
	if (n + (g->npieces - k) > FT_DEFRAG_RANGES)
		return FT_DEFRAG_INVALID;
	/* A block none of whose bytes is held has new bytes in [lo, hi). */
	for (uint32_t b = lo / FT_DEFRAG_BLOCK; b <= (hi - 1) / FT_DEFRAG_BLOCK; b++)
		need += g->block[b] == 0;
	if (need > d->free_top)
		return FT_DEFRAG_MEMORY;
	/* The bytes no piece held. */
	for (unsigned j = 0; j < g->npieces && pos < hi; j++) {
		const struct piece *pc = &g->piece[j];

		if (pc->hi <= pos)
			continue;
		if (pc->lo >= hi)
			break;
		if (pc->lo > pos)
			put_bytes(d, g, pos, src + (pos - lo), pc->lo - pos);
		pos = RTE_MAX(pos, pc->hi);
	}
	if (pos < hi)
		put_bytes(d, g, pos, src + (pos - lo), hi - pos);
	for (; k < g->npieces; k++)
		merged[n++] = g->piece[k];
	memcpy(g->piece, merged, n * sizeof(merged[0]));
	g->npieces = (uint8_t)n;
	return -1;
}

/* Copy whole g's total bytes to the output buffer (after HEADROOM); return it. */
static uint8_t *
gather(struct ft_defrag *d, const struct dgram *g)
{
	uint8_t *buf = d->out + HEADROOM;

	for (uint32_t pos = 0; pos < g->total; pos += FT_DEFRAG_BLOCK)
		memcpy(buf + pos,
		       d->pool + (size_t)(g->block[pos / FT_DEFRAG_BLOCK] - 1) * FT_DEFRAG_BLOCK,
		       RTE_MIN((uint32_t)FT_DEFRAG_BLOCK, g->total - pos));
	return buf;
}

/*
 * The whole datagram's L4 header (its first bytes, whichever copy won), read
 * by the parser itself: a minimal IPv4 header is written in the headroom
 * before it (total length 0: up to the end), so the datagram is a raw IP
 * packet. Sets the L4 fields in pkt and returns the header's length (0 for
 * protocols whose payload is the IP payload); -1 when the parser finds it cut
 * or malformed, or when the first fragment held a whole header of another
 * length (a later fragment's copy of the data offset won: which bytes are
 * payload is in doubt).
 */
static int
l4_header(struct ft_pkt *pkt, uint8_t *buf, uint32_t total, uint32_t first_hdr)
{
	uint8_t *ip = buf - HEADROOM;
	struct ft_pkt h;
	uint32_t hdr;

	memset(ip, 0, HEADROOM);
	ip[0] = 0x45; /* version 4, 20 bytes */
	ip[8] = 64;
	ip[9] = pkt->key.proto;
	if (ft_parse(ip, HEADROOM + total, FT_LINK_IPV4, 0, &h) != 0 ||
	    (h.flags & FT_PKT_F_L4_PARTIAL))
		return -1;
	hdr = h.payload_offset - h.l4_offset;
	if (first_hdr != 0 && first_hdr != hdr)
		return -1;
	pkt->tcp_seq = h.tcp_seq;
	pkt->tcp_ack = h.tcp_ack;
	pkt->tcp_flags = h.tcp_flags;
	pkt->tcp_window = h.tcp_window;
	pkt->icmp_type = h.icmp_type;
	pkt->icmp_code = h.icmp_code;
	pkt->flags = (uint8_t)((pkt->flags & ~(FT_PKT_F_L4_PARTIAL | FT_PKT_F_L4_PAYLOAD)) |
			       (h.flags & FT_PKT_F_L4_PAYLOAD));
	return (int)hdr;
}

/*
 * Where an IPv6 first fragment's fragmentable part starts: just past its
 * fragment header, found by walking the headers from the IPv6 header at ip
 * (len bytes, up to the L4 header). 0 if no fragment header is there.
 */
static uint32_t
frag_header_end(const uint8_t *ip, uint32_t len)
{
	uint32_t pos = 40;
	uint8_t nh;

	if (len < pos)
		return 0;
	nh = ip[6];
	for (unsigned n = 0; n < FT_PARSE_MAX_IPV6_EXT && pos + 8 <= len; n++) {
		uint8_t next = ip[pos];

		switch (nh) {
		case 44: /* fragment */
			return pos + 8;
		case 0:	  /* hop-by-hop options */
		case 43:  /* routing */
		case 60:  /* destination options */
		case 135: /* mobility */
		case 139: /* HIP */
		case 140: /* shim6 */
			pos += (ip[pos + 1] + 1u) * 8;
			break;
		case 51: /* AH */
			pos += (ip[pos + 1] + 2u) * 4;
			break;
		default:
			return 0;
		}
		nh = next;
	}
	return 0;
}

int
ft_defrag_fragment(struct ft_defrag *d, const struct ft_pkt *p, const uint8_t *data,
		   const void *owner, uint64_t owner_id, uint32_t owner_index,
		   struct ft_defrag_datagram *out)
{
	struct dgram *g = find(d, p);
	enum ft_defrag_reason why = FT_DEFRAG_INVALID;
	uint32_t len = p->payload_len, skip = 0, lo, hi;
	uint8_t *buf;
	int hdr, rc;

	d->stats.fragments++;
	if (g->dead) {
		d->stats.given_up_bytes += len;
		return 0;
	}
	g->bytes += len;
	d->stats.held_bytes += len;
	/* A capture cut leaves bytes no later fragment brings. */
	if (len != p->payload_ip_len)
		goto invalid;
	if (p->flags & FT_PKT_F_LATER_FRAG) {
		/* At offset 0: a first fragment too short for its ports, which
		 * went to another flow than its datagram's. */
		if (p->frag_offset == 0)
			goto invalid;
		lo = (uint32_t)p->frag_offset * 8;
	} else {
		if (p->flags & FT_PKT_F_FRAG_EXT) {
			/* Its data starts at the IPv6 header: skip to the
			 * fragmentable part. */
			if (p->l4_offset <= p->l3_offset)
				goto invalid;
			skip = frag_header_end(data, (uint32_t)(p->l4_offset - p->l3_offset));
			if (skip == 0)
				goto invalid;
			data += skip;
		}
		lo = 0;
		if (!g->have_first) {
			g->have_first = 1;
			/* A whole header's length; 0 when partial (a tiny fragment)
			 * or none (other protocols). */
			g->hdr = (p->flags & FT_PKT_F_L4_PAYLOAD) ? p->payload_offset - p->l4_offset
								  : 0;
			g->ext = (p->flags & FT_PKT_F_FRAG_EXT)
					 ? (uint32_t)(p->l4_offset - p->l3_offset) - skip
					 : 0;
			g->first = *p;
			g->owner = owner;
			g->owner_id = owner_id;
			g->owner_index = owner_index;
		}
	}
	hi = lo + ft_defrag_data_len(p) - skip;
	if (hi > FT_DEFRAG_DATA_MAX)
		goto invalid;
	if (!(p->flags & FT_PKT_F_MORE_FRAGS)) {
		if ((g->have_last && g->total != hi) ||
		    (g->npieces != 0 && g->piece[g->npieces - 1].hi > hi))
			goto invalid;
		g->have_last = 1;
		g->total = hi;
	} else if (g->have_last && hi > g->total) {
		goto invalid;
	}
	rc = cover(d, g, lo, hi, data);
	if (rc >= 0) {
		why = (enum ft_defrag_reason)rc;
		goto invalid;
	}
	if (!g->have_first || !g->have_last || g->npieces != 1 || g->piece[0].lo != 0 ||
	    g->piece[0].hi != g->total)
		return 0;

	/* Whole: the first fragment's parse, its L4 header read again from the
	 * datagram (a tiny first fragment had only part of it), after IPv6
	 * extension headers there may be before it. */
	out->pkt = g->first;
	if (g->total < g->ext)
		goto invalid;
	buf = gather(d, g);
	release(d, g);
	hdr = l4_header(&out->pkt, buf + g->ext, g->total - g->ext, g->hdr);
	if (hdr < 0 || g->total - g->ext - (uint32_t)hdr > g->bytes)
		goto invalid;
	out->pkt.flags &=
		(uint8_t) ~(FT_PKT_F_FRAGMENT | FT_PKT_F_LATER_FRAG | FT_PKT_F_MORE_FRAGS |
			    FT_PKT_F_FRAG_EXT | FT_PKT_F_FRAG_ATTRIBUTED);
	out->pkt.payload_offset = out->pkt.l4_offset + (uint32_t)hdr;
	out->pkt.payload_len = out->pkt.payload_ip_len = g->total - g->ext - (uint32_t)hdr;
	out->pkt.ts_ns = p->ts_ns;
	out->payload = buf + g->ext + hdr;
	out->fragment_bytes = g->bytes;
	out->owner = g->owner;
	out->owner_id = g->owner_id;
	out->owner_index = g->owner_index;
	d->stats.datagrams++;
	d->stats.overlap_bytes += g->bytes - out->pkt.payload_len;
	d->stats.held_bytes -= g->bytes;
	d->stats.in_use--;
	ft_frag_dgram_clear(&g->id);
	return 1;

invalid:
	kill(d, g, why);
	return 0;
}

unsigned
ft_defrag_expire(struct ft_defrag *d, uint64_t now_ns, unsigned budget)
{
	uint32_t mask = (d->set_mask + 1) * d->ways - 1; /* contexts: a power of two */
	unsigned n = 0;

	/* Nothing held (no fragments lately): no context to read. Each is
	 * 456 bytes, thousands of them, mostly out of the cache: measured,
	 * the sweep over empty ones took 1.8% of a matching worker's time. */
	if (d->stats.in_use == 0)
		return 0;
	while (budget-- > 0) {
		struct dgram *g = &d->g[d->cursor];

		d->cursor = (d->cursor + 1) & mask;
		if (ft_frag_dgram_used(&g->id) && expired(d, g, now_ns)) {
			drop(d, g, FT_DEFRAG_TIMEOUT);
			n++;
		}
	}
	return n;
}

void
ft_defrag_flush(struct ft_defrag *d)
{
	for (uint32_t i = 0; i < (d->set_mask + 1) * d->ways; i++)
		if (ft_frag_dgram_used(&d->g[i].id))
			drop(d, &d->g[i], FT_DEFRAG_END);
}
