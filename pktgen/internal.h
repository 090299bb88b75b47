/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the pktgen sources; not part of the module's interface. */
#ifndef FT_PKTGEN_INTERNAL_H
#define FT_PKTGEN_INTERNAL_H

#include <stdint.h>

#include "pktgen.h"

#define PG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Big-endian (network order) stores. */
static inline void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Format into err (if any) */
void pg_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "1000", "10k", "2.5M", "1G" -> integer; -EINVAL if not a whole number. */
int pg_parse_count(const char *s, uint64_t *out);

/* Smallest value a distribution returns. */
uint64_t pg_dist_min(const struct ft_pktgen_dist *d);

/* Host addresses in a prefix, capped at 2^40 (IPv6) so products stay in range. */
uint64_t pg_prefix_hosts(const struct ft_pktgen_prefix *p, int family);

/* Address number `host` of a prefix into out (4 or 16 bytes). */
void pg_prefix_addr(const struct ft_pktgen_prefix *p, int family, uint64_t host, uint8_t *out);

/* Header bytes of a class's frames (largest: IPv6 if the class has any). */
uint32_t pg_class_hdr_len(const struct ft_pktgen_class *c, int ip_version);

/* Largest payload of one segment in a class (mtu bound) for an IP version. */
uint32_t pg_class_max_payload(const struct ft_pktgen_class *c, int ip_version);

/* Family of flow i of a class: IPv6 flows are spread evenly at v6_share. */
int pg_is_v6(const struct ft_pktgen_class *c, uint64_t i);
/* Flows of a class in a family (4 or 6). */
uint64_t pg_family_flows(const struct ft_pktgen_class *c, int fam);
/* IP protocol of a class's flows in a family (ICMP becomes ICMPv6). */
uint8_t pg_proto(const struct ft_pktgen_class *c, int fam);

/* ---- flow plans (plan.c) ----------------------------------------------------- */

#define PG_NOTE_NONE 0xffff

enum pg_pkt_kind {
	PG_PK_DATA = 0, /* carries stream bytes [off, off+len) */
	PG_PK_CTRL,	/* TCP flags only / SCTP control chunk (flags = chunk type) */
	PG_PK_MAL,	/* malformed on purpose (mal = kind) */
};

/* struct pg_pkt.attr */
#define PG_A_FIRST     0x01 /* first transmission of its segment */
#define PG_A_RETRANS   0x02 /* retransmission, same bytes */
#define PG_A_CONFLICT  0x04 /* retransmission, different bytes */
#define PG_A_SYNOPT    0x08 /* SYN options (MSS, SACK permitted) */
#define PG_A_REORDERED 0x10 /* first transmission sent late */

/* SCTP chunk types the generator sends */
#define PG_SCTP_DATA		  0
#define PG_SCTP_INIT		  1
#define PG_SCTP_INIT_ACK	  2
#define PG_SCTP_SACK		  3
#define PG_SCTP_ABORT		  6
#define PG_SCTP_SHUTDOWN	  7
#define PG_SCTP_SHUTDOWN_ACK	  8
#define PG_SCTP_COOKIE_ECHO	  10
#define PG_SCTP_COOKIE_ACK	  11
#define PG_SCTP_SHUTDOWN_COMPLETE 14

/* One planned packet of a flow. */
struct pg_pkt {
	uint64_t ts;
	uint64_t off; /* stream offset of the payload (PG_PK_DATA) */
	uint32_t len; /* stream bytes carried */
	uint32_t seg; /* segment index in its direction (PG_PK_DATA) */
	uint32_t seq; /* TCP seq / SCTP TSN / ICMP echo sequence */
	uint32_t ack; /* TCP ack / SCTP cumulative TSN ack */
	uint16_t win;
	uint16_t note; /* index in flow notes, PG_NOTE_NONE if none */
	uint8_t dir;
	uint8_t kind;  /* enum pg_pkt_kind */
	uint8_t flags; /* TCP flags, or SCTP chunk type */
	uint8_t attr;  /* PG_A_* */
	uint8_t mal;   /* enum ft_pktgen_malformed (PG_PK_MAL) */
};

enum pg_note_type {
	PG_NOTE_RETRANS = 0,
	PG_NOTE_REORDER,
	PG_NOTE_GAP,
	PG_NOTE_ZERO_WINDOW,
	PG_NOTE_MAL,
};

/* Something the truth reports about one flow, with frames filled at emission. */
struct pg_note {
	uint8_t type;
	uint8_t dir;
	uint8_t mal;
	uint8_t conflict;
	uint32_t len;
	uint64_t off;
	uint32_t seg;
	uint32_t n;	  /* reorder: by; retransmit: after */
	int inst;	  /* conflict: pattern instance in the new bytes, or -1 */
	uint64_t frame;	  /* the packet (zero window: the closing ACK) */
	uint64_t frame2;  /* zero window: the window update */
	uint64_t ts, ts2; /* packet time (zero window: closed .. reopened) */
};

/* One pattern instance placed in a flow. */
struct pg_inst {
	uint16_t pattern;
	uint8_t dir;
	uint8_t split;
	uint8_t conflict_only; /* only in a conflicting retransmission */
	uint32_t len;
	uint64_t off;
	uint8_t *bytes;
	uint32_t seg_first, seg_last;
};

/*
 * A live flow. Hot fields first: what sending the next packet touches (the copy
 * of that packet, the header template, counters) fits the first cache lines,
 * which the generator prefetches as soon as the flow reaches the heap's top.
 */
struct pg_flow {
	struct pg_pkt cur; /* the next packet to send: pkts[next] */
	uint32_t npkts, next;
	struct pg_pkt *pkts;
	struct ft_pktgen_hdr hdr; /* fwd template; rev swaps ends */
	uint16_t ip_id[2];
	uint32_t sctp_tag[2];
	uint32_t isn[2]; /* TCP ISN / SCTP initial TSN */
	uint64_t salt[2];
	uint8_t ipv;
	uint8_t filler;
	uint8_t end_kind;    /* 0 open, 1 FIN both ways, 2 RST */
	uint8_t counted_any; /* a counted packet was emitted */
	uint8_t init_dir;    /* direction of the first counted packet */
	uint8_t has_rtt;
	uint8_t track_frames; /* seg_frame[] kept */
	uint8_t tcp_flags[2];
	uint64_t packets[2], bytes[2];
	uint64_t first_ns, last_ns;
	unsigned ninst;
	struct pg_inst *inst;
	unsigned nnotes, cap_notes;
	struct pg_note *notes;
	uint64_t *seg_frame[2];
	/* cold */
	uint64_t id;	/* creation order over the whole scenario */
	uint64_t index; /* within its class */
	uint32_t cls;
	uint32_t slot;	      /* in the generator's flow slab */
	uint8_t pkts_cls;     /* arena class of pkts (when not inline_pkts) */
	uint64_t wrap_off[2]; /* UINT64_MAX: none */
	uint64_t stream_len[2];
	uint64_t gap_bytes[2];
	uint32_t nseg[2];
	uint64_t rtt_ns, rtt_server_ns;
	struct pg_pkt inline_pkts[2];
} __attribute__((aligned(64)));

/* ---- arena (arena.c) ----------------------------------------------------------- */

#define PG_ARENA_CLASSES 64 /* largest class: 7 << 19 bytes (3.5 MiB) */
#define PG_ARENA_CHUNK	 (8u << 20)
#define PG_ARENA_BIG	 0xff /* class of blocks beyond the largest: own allocation */

struct pg_arena {
	void *free[PG_ARENA_CLASSES];
	uint8_t *cur;
	size_t left;
	void **chunks;
	size_t nchunks, cap_chunks;
};

/* Memory aligned to and rounded up to 2 MiB, marked for transparent huge pages;
 * release with free(). */
void *pg_huge_alloc(size_t n);
/* A block of at least n bytes; *cls says how to give it back. NULL on ENOMEM. */
void *pg_arena_alloc(struct pg_arena *a, size_t n, uint8_t *cls);
void pg_arena_free(struct pg_arena *a, void *p, uint8_t cls);
void pg_arena_destroy(struct pg_arena *a);

/* Scratch memory reused from one flow plan to the next. */
struct pg_planner {
	struct pg_arena arena; /* final plans */
	struct pg_pkt *pkts;   /* the plan being built */
	size_t pkts_cap;
	struct ft_pktgen_seg *segs[2];
	void *steps;
	size_t steps_cap;
	uint32_t *pos[2];
	size_t pos_cap[2];
	void *pend[2];
	size_t pend_cap[2];
	uint8_t scratch[FT_PKTGEN_MAX_PATTERN];
};

/*
 * Plan a flow whose identity (hdr, ipv, isn, salt...) is set: its packets from
 * t0, with mal[k] malformed packets of each kind. Fills f->pkts and the notes.
 * @return 0, -ENOMEM, -EINVAL (message in err)
 */
int pg_plan_flow(struct pg_planner *pl, struct pg_flow *f, const struct ft_pktgen_scenario *sc,
		 const struct ft_pktgen_class *c, struct ft_pktgen_rng *r, uint64_t t0,
		 const uint64_t mal[FT_PKTGEN_MAL_MAX], uint64_t timeout_ns, char *err,
		 size_t errlen);

/* Free what a flow owns (not the flow itself). */
void pg_flow_release(struct pg_planner *pl, struct pg_flow *f);
void pg_planner_free(struct pg_planner *pl);

#endif /* FT_PKTGEN_INTERNAL_H */
