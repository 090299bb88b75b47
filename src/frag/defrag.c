/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A set-associative table of datagrams being put together, sets of four (or
 * one set of fewer), like src/frag's. Each context owns a buffer in which a
 * byte sits at its offset in the datagram (HEADROOM bytes before it, for an IP
 * header to parse the whole datagram with), and a sorted list of the pieces
 * covered (merged when they touch), so a datagram is whole when one piece runs
 * from 0 to its end.
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
	struct piece piece[FT_DEFRAG_RANGES];
	struct ft_pkt first;
};

struct ft_defrag {
	struct dgram *g;
	uint8_t *data; /* SLOT bytes per context */
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
	       p->datagrams <= (1u << 20);
}

uint64_t
ft_defrag_memory(const struct ft_defrag_params *p)
{
	if (!params_ok(p))
		return 0;
	return sizeof(struct ft_defrag) + (uint64_t)p->datagrams * (sizeof(struct dgram) + SLOT);
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
	d->data =
		rte_zmalloc_socket("ft_defrag_data", (size_t)p->datagrams * SLOT, 64, p->socket_id);
	if (d->g == NULL || d->data == NULL)
		goto nomem;
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
	rte_free(d->data);
	rte_free(d);
}

void
ft_defrag_get_stats(const struct ft_defrag *d, struct ft_defrag_stats *stats)
{
	*stats = d->stats;
}

/* Free a context; counted as given up for `reason` unless it already was. */
static void
drop(struct ft_defrag *d, struct dgram *g, enum ft_defrag_reason reason)
{
	if (!g->dead) {
		d->stats.given_up[reason]++;
		d->stats.given_up_bytes += g->bytes;
	}
	d->stats.held_bytes -= g->bytes;
	d->stats.in_use--;
	g->id.used = 0;
}

/* Give a datagram up as invalid; the context stays to take its later fragments. */
static void
kill(struct ft_defrag *d, struct dgram *g)
{
	d->stats.given_up[FT_DEFRAG_INVALID]++;
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

		if (g->id.used && expired(d, g, p->ts_ns))
			drop(d, g, FT_DEFRAG_TIMEOUT);
		if (ft_frag_dgram_is(&g->id, p))
			return g;
	}
	for (unsigned w = 0; w < d->ways; w++) {
		struct dgram *g = &set[w];

		if (!g->id.used) {
			victim = g;
			break;
		}
		if (victim == NULL || (int64_t)(g->created_ns - victim->created_ns) < 0)
			victim = g;
	}
	if (victim->id.used)
		drop(d, victim, FT_DEFRAG_EVICTED);
	memset(victim, 0, offsetof(struct dgram, piece));
	ft_frag_dgram_set(&victim->id, p);
	victim->created_ns = p->ts_ns;
	d->stats.in_use++;
	return victim;
}

/*
 * Cover [lo, hi) of g: bytes not covered yet are copied from src (src[0] is the
 * byte at lo). First copy wins. Returns -1, with nothing covered, if that
 * would take more than FT_DEFRAG_RANGES pieces.
 */
static int
cover(struct dgram *g, uint8_t *buf, uint32_t lo, uint32_t hi, const uint8_t *src)
{
	struct piece merged[FT_DEFRAG_RANGES + 1];
	unsigned n = 0, k = 0;
	uint32_t pos = lo;

	if (lo >= hi)
		return 0;
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
		return -1;
	/* The bytes no piece held. */
	for (unsigned j = 0; j < g->npieces && pos < hi; j++) {
		const struct piece *pc = &g->piece[j];

		if (pc->hi <= pos)
			continue;
		if (pc->lo >= hi)
			break;
		if (pc->lo > pos)
			memcpy(buf + pos, src + (pos - lo), pc->lo - pos);
		pos = RTE_MAX(pos, pc->hi);
	}
	if (pos < hi)
		memcpy(buf + pos, src + (pos - lo), hi - pos);
	for (; k < g->npieces; k++)
		merged[n++] = g->piece[k];
	memcpy(g->piece, merged, n * sizeof(merged[0]));
	g->npieces = (uint8_t)n;
	return 0;
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
	if (ft_parse(ip, HEADROOM + total, FT_LINK_IPV4, &h) != 0 ||
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
	uint8_t *buf = d->data + (size_t)(g - d->g) * SLOT + HEADROOM;
	uint32_t len = p->payload_len, skip = 0, lo, hi;
	int hdr;

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
	if (cover(g, buf, lo, hi, data) != 0)
		goto invalid;
	if (!g->have_first || !g->have_last || g->npieces != 1 || g->piece[0].lo != 0 ||
	    g->piece[0].hi != g->total)
		return 0;

	/* Whole: the first fragment's parse, its L4 header read again from the
	 * datagram (a tiny first fragment had only part of it), after IPv6
	 * extension headers there may be before it. */
	out->pkt = g->first;
	if (g->total < g->ext)
		goto invalid;
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
	g->id.used = 0;
	return 1;

invalid:
	kill(d, g);
	return 0;
}

unsigned
ft_defrag_expire(struct ft_defrag *d, uint64_t now_ns, unsigned budget)
{
	uint32_t mask = (d->set_mask + 1) * d->ways - 1; /* contexts: a power of two */
	unsigned n = 0;

	while (budget-- > 0) {
		struct dgram *g = &d->g[d->cursor];

		d->cursor = (d->cursor + 1) & mask;
		if (g->id.used && expired(d, g, now_ns)) {
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
		if (d->g[i].id.used)
			drop(d, &d->g[i], FT_DEFRAG_END);
}
