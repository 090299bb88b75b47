/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The export contract between the dataplane (flowtap) and its consumers
 * (flowtap-collector): the shared-memory segment layout and the record types
 * that cross it. This is the only header both processes share; everything in it
 * crosses a process boundary by value, so there are no pointers, every struct has
 * a fixed layout pinned by static_asserts, and any change to it bumps
 * FT_EXPORT_LAYOUT_VERSION.
 *
 * Segment layout (POSIX shm object /dev/shm/flowtap.<instance>):
 *
 *   offset 0                      struct ft_export_header (fixed size, see below)
 *   header.ring_offset[0]         rte_ring of worker 0 (rte_ring_init in place,
 *                                 elements of header.record_size bytes)
 *   header.ring_offset[1]         rte_ring of worker 1
 *   ...                           (each ring cache-line aligned)
 *   header.rules_offset           struct ft_rule_info[header.rule_count] (pattern
 *                                 matching; rule_count 0 when no rules are loaded)
 *   header.rule_hits_offset       per worker w, at + w * header.rule_hits_stride:
 *                                 uint64_t hits[rule_count], written by worker w only
 *   header.segment_size           end
 *
 * Each ring has exactly one producer (its worker lcore) and one consumer (the
 * collector): RING_F_SP_ENQ | RING_F_SC_DEQ. The producer never waits on a full
 * ring unless the dataplane runs in backpressure mode (finite inputs, see
 * struct ft_export_header.overflow); a record that does not fit is counted in
 * that worker's ring_drop_* counters, with the packets and bytes it carried, so
 * pcap totals still add up.
 *
 * Counters in the header are written by exactly one side each (documented per
 * field) with word-sized stores and read with word-sized loads; state, the
 * heartbeats and consumer_pid go through FT_SHM_STORE (release) and
 * FT_SHM_LOAD (acquire). A reader
 * can see one counter block half-updated while the dataplane runs; the values are
 * final once state is FT_SEG_FINISHED.
 */
#ifndef FT_EXPORT_H
#define FT_EXPORT_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FT_EXPORT_MAGIC		 0x00504154574f4c46ULL /* "FLOWTAP\0" in memory order */
#define FT_EXPORT_LAYOUT_VERSION 17
#define FT_EXPORT_MAX_WORKERS	 32
#define FT_EXPORT_MAX_PORTS	 16
#define FT_EXPORT_NAME_LEN	 32
#define FT_EXPORT_SHM_PREFIX	 "flowtap."
#define FT_EXPORT_CACHE_LINE	 64
#define FT_EXPORT_RULE_NAME_LEN	 56 /* rule names, NUL included */
#define FT_EXPORT_RULE_META_LEN	 64 /* rule metadata, NUL included */

/* Why a packet is in no flow. Every received packet ends in a flow or in exactly
 * one of these counters. Names (ft_discard_names) are part of the output format. */
enum ft_discard {
	FT_DISCARD_NON_IP = 0,	    /* valid link layer, payload is not IPv4/IPv6 (ARP, LLDP...) */
	FT_DISCARD_L2_TRUNCATED,    /* frame shorter than its link-layer headers */
	FT_DISCARD_L2_TOO_DEEP,	    /* more VLAN tags or MPLS labels than the parser follows */
	FT_DISCARD_IP_BAD_VERSION,  /* ethertype/PPP/MPLS said IP, version nibble disagrees */
	FT_DISCARD_IPV4_TRUNCATED,  /* IPv4 header (IHL * 4 bytes) not fully captured */
	FT_DISCARD_IPV4_BAD_IHL,    /* IHL < 5 */
	FT_DISCARD_IPV4_BAD_LENGTH, /* total length nonzero and < IHL * 4 (0: to the frame end) */
	FT_DISCARD_IPV6_TRUNCATED,  /* fixed IPv6 header not fully captured */
	FT_DISCARD_IPV6_BAD_EXT,    /* extension header truncated or chain too long */
	FT_DISCARD_L4_TRUNCATED,    /* L4 header longer than the IP length (not a first
				       fragment), or a capture cut before the ports (ICMP:
				       before type and code) */
	FT_DISCARD_TCP_BAD_OFFSET,  /* TCP data offset < 5 */
	FT_DISCARD_FLOW_TABLE_FULL, /* new flow refused: no free entry in this worker's table */
	FT_DISCARD_DISPATCH_FULL,   /* software dispatch ring to the owning worker was full */
	FT_DISCARD_FILTERED,	    /* the port's capture filter ([port.NAME] filter) refused it */
	FT_DISCARD_MAX
};

static const char *const ft_discard_names[FT_DISCARD_MAX] = {
	[FT_DISCARD_NON_IP] = "non_ip",
	[FT_DISCARD_L2_TRUNCATED] = "l2_truncated",
	[FT_DISCARD_L2_TOO_DEEP] = "l2_too_deep",
	[FT_DISCARD_IP_BAD_VERSION] = "ip_bad_version",
	[FT_DISCARD_IPV4_TRUNCATED] = "ipv4_truncated",
	[FT_DISCARD_IPV4_BAD_IHL] = "ipv4_bad_ihl",
	[FT_DISCARD_IPV4_BAD_LENGTH] = "ipv4_bad_length",
	[FT_DISCARD_IPV6_TRUNCATED] = "ipv6_truncated",
	[FT_DISCARD_IPV6_BAD_EXT] = "ipv6_bad_ext",
	[FT_DISCARD_L4_TRUNCATED] = "l4_truncated",
	[FT_DISCARD_TCP_BAD_OFFSET] = "tcp_bad_offset",
	[FT_DISCARD_FLOW_TABLE_FULL] = "flow_table_full",
	[FT_DISCARD_DISPATCH_FULL] = "dispatch_full",
	[FT_DISCARD_FILTERED] = "filtered",
};

/* Why a flow record was written. */
enum ft_end_reason {
	FT_END_IDLE = 1,  /* no packet for the state's idle timeout */
	FT_END_TCP_FIN,	  /* FIN seen in both directions (exported after the closing timeout) */
	FT_END_TCP_RST,	  /* RST seen (exported after the closing timeout) */
	FT_END_REUSED,	  /* a new TCP SYN reused the 5-tuple of a live flow */
	FT_END_EVICTED,	  /* table full: evicted to make room for a new flow */
	FT_END_SHUTDOWN,  /* still live when the input ended or the dataplane stopped */
	FT_END_ACTIVE,	  /* not an end: a long flow's periodic record (active timeout);
			     its counters cover the segment since the previous record */
	FT_END_MAX
};

static const char *const ft_end_reason_names[FT_END_MAX] = {
	[0] = "unknown",
	[FT_END_IDLE] = "idle",
	[FT_END_TCP_FIN] = "fin",
	[FT_END_TCP_RST] = "rst",
	[FT_END_REUSED] = "reused",
	[FT_END_EVICTED] = "evicted",
	[FT_END_SHUTDOWN] = "shutdown",
	[FT_END_ACTIVE] = "active",
};

/* TCP connection state as tracked from flags (the record carries the last one). */
enum ft_tcp_state {
	FT_TCP_NONE = 0,     /* not TCP */
	FT_TCP_SYN_SENT,     /* initiator sent SYN */
	FT_TCP_SYN_RECEIVED, /* responder answered SYN+ACK */
	FT_TCP_ESTABLISHED,  /* handshake completed, or data seen mid-stream */
	FT_TCP_CLOSING,	     /* FIN seen in one direction */
	FT_TCP_CLOSED,	     /* FIN seen both ways, or RST */
	FT_TCP_STATE_MAX
};

static const char *const ft_tcp_state_names[FT_TCP_STATE_MAX] = {
	[FT_TCP_NONE] = "none",		  [FT_TCP_SYN_SENT] = "syn_sent",
	[FT_TCP_SYN_RECEIVED] = "syn_received", [FT_TCP_ESTABLISHED] = "established",
	[FT_TCP_CLOSING] = "closing",	  [FT_TCP_CLOSED] = "closed",
};

/*
 * Bidirectional flow key: the two endpoints sorted, so both directions of a flow
 * produce the same key. The hashed region is the whole struct; pad must be zero.
 *
 *   0  addr[0]   16 B  lower endpoint address (IPv4: first 4 bytes, rest zero)
 *  16  addr[1]   16 B  higher endpoint address
 *  32  port[0]    2 B  lower endpoint port (host order; 0 for ICMP and fragments)
 *  34  port[1]    2 B  higher endpoint port
 *  36  vlan[0]    2 B  outer VLAN id (0: untagged)
 *  38  vlan[1]    2 B  inner VLAN id (0: none)
 *  40  proto      1 B  IP protocol number (after IPv6 extension headers)
 *  41  family     1 B  4 or 6
 *  42  tunnel     1 B  enum ft_tunnel the flow's packets came in (0: none)
 *  43  pad        5 B  zero
 *
 * A tunnelled packet is keyed by the packet inside the tunnel (src/parse):
 * addresses, ports, protocol and family are the inner packet's, the VLANs
 * those of the outer and then the inner Ethernet header. The tunnel type keeps
 * a flow seen both in a tunnel and in the clear (a link that carries both)
 * two flows. Tunnel ids (VNI, GRE key, TEID) are not in the key: they may
 * differ between a flow's two directions (Open vSwitch's Geneve does that,
 * td_geneve.pcap; GTP-U's TEIDs always do).
 *
 * "Lower" compares (address bytes, then port) as unsigned big-endian numbers.
 */
struct ft_flow_key {
	uint8_t addr[2][16];
	uint16_t port[2];
	uint16_t vlan[2];
	uint8_t proto;
	uint8_t family;
	uint8_t tunnel;
	uint8_t pad[5];
};
static_assert(sizeof(struct ft_flow_key) == 48, "flow key layout");
static_assert(offsetof(struct ft_flow_key, port) == 32, "flow key layout");
static_assert(offsetof(struct ft_flow_key, proto) == 40, "flow key layout");

/* Tunnels the parser looks into (struct ft_flow_key.tunnel; bit 1 << (t - 1)
 * of a set of them). Names are part of the output format. */
enum ft_tunnel {
	FT_TUNNEL_NONE = 0,
	FT_TUNNEL_GRE,	  /* IP protocol 47: IP, Ethernet, ERSPAN I/II/III, PPP */
	FT_TUNNEL_IPIP,	  /* IP protocols 4 and 41: IPv4 or IPv6 in IP */
	FT_TUNNEL_VXLAN,  /* UDP to port 4789 */
	FT_TUNNEL_GENEVE, /* UDP to port 6081 */
	FT_TUNNEL_TEREDO, /* UDP from or to port 3544: IPv6 */
	FT_TUNNEL_GTP,	  /* GTP-U, UDP to port 2152: G-PDUs */
	FT_TUNNEL_MAX
};
#define FT_TUNNEL_ALL ((1u << (FT_TUNNEL_MAX - 1)) - 1)

static const char *const ft_tunnel_names[FT_TUNNEL_MAX] = {
	[FT_TUNNEL_NONE] = "none",   [FT_TUNNEL_GRE] = "gre",	    [FT_TUNNEL_IPIP] = "ipip",
	[FT_TUNNEL_VXLAN] = "vxlan", [FT_TUNNEL_GENEVE] = "geneve", [FT_TUNNEL_TEREDO] = "teredo",
	[FT_TUNNEL_GTP] = "gtp",
};

/* Word w (0-5) of a key, for hashing and comparing keys word by word (memcpy:
 * the key's fields are not uint64_t, so reading them through a uint64_t
 * pointer would break C's aliasing rules; compilers make this one load). */
static inline uint64_t
ft_flow_key_word(const struct ft_flow_key *k, unsigned w)
{
	uint64_t v;

	memcpy(&v, (const char *)k + 8 * w, sizeof(v));
	return v;
}

/* TCP flag bits as on the wire (byte 13 of the TCP header). */
#define FT_TCP_FIN 0x01
#define FT_TCP_SYN 0x02
#define FT_TCP_RST 0x04
#define FT_TCP_PSH 0x08
#define FT_TCP_ACK 0x10
#define FT_TCP_URG 0x20
#define FT_TCP_ECE 0x40
#define FT_TCP_CWR 0x80

/* Flow record flags. */
#define FT_FLOW_F_FRAGMENTS 0x01 /* the flow holds non-first fragments (ports unknown) */
#define FT_FLOW_F_MIDSTREAM 0x02 /* TCP flow first seen without its SYN */
#define FT_FLOW_F_MATCH	    0x04 /* the match summary is filled (rules are loaded) */

/* struct ft_flow_match.dir_flags[] */
#define FT_FLOW_MATCH_D_STREAM	 0x01 /* scanned as a stream */
#define FT_FLOW_MATCH_D_BLOCK	 0x02 /* scanned packet by packet (configuration, or no state) */
#define FT_FLOW_MATCH_D_NO_STATE 0x04 /* found the stream state pool empty */
#define FT_FLOW_MATCH_D_DEPTH	 0x08 /* reached the scan depth: the rest was not scanned */
/* struct ft_flow_match.flags */
#define FT_FLOW_MATCH_F_SUPPRESSED 0x01 /* more events than [match] max_events_per_flow */
#define FT_FLOW_MATCH_F_MORE_RULES 0x02 /* more distinct rules matched than rules[] lists */

/*
 * Pattern matching summary of a flow record, [fwd, rev] where paired. Filled
 * when rules are loaded (FT_FLOW_F_MATCH), zero otherwise. Like the record's
 * counters it covers the record's segment (since the flow's previous record),
 * so a flow's records sum to its totals; dir_flags and
 * FT_FLOW_MATCH_F_SUPPRESSED hold since the flow began.
 */
struct ft_flow_match {
	uint64_t scanned_bytes[2]; /*  0  payload bytes given to Hyperscan */
	uint64_t gap_bytes[2];	   /* 16  TCP stream bytes given up as gaps */
	uint32_t events;	   /* 32  matches (rule scopes applied), suppressed ones too */
	uint32_t rules[4];	   /* 36  ids of the first distinct rules matched in the segment */
	uint16_t gaps[2];	   /* 52  TCP gaps (saturating) */
	uint8_t nrules;		   /* 56  entries used in rules[] */
	uint8_t dir_flags[2];	   /* 57  FT_FLOW_MATCH_D_* */
	uint8_t flags;		   /* 59  FT_FLOW_MATCH_F_* */
	uint8_t reserved[4];	   /* 60  zero */
	uint64_t dropped_bytes[2]; /* 64  TCP payload bytes dropped for want of reorder
				      memory (neither scanned nor gaps; saturating at
				      UINT32_MAX per segment of the record) */
};
static_assert(sizeof(struct ft_flow_match) == 80, "flow match summary layout");

/*
 * A flow record: written when a flow ends, and every active timeout while a
 * long flow lives (end_reason FT_END_ACTIVE). A flow's records are its
 * segments, numbered from 0: each covers the packets since the previous one
 * (first_ns/last_ns, packets, bytes, tcp_flags, fragments), so the segments of
 * a flow sum to its totals. Directions are relative to the
 * initiator (the sender of the flow's first packet; for TCP, the sender of the
 * SYN when the first packet seen is a SYN+ACK): index 0 = initiator to responder
 * ("fwd"), 1 = responder to initiator ("rev").
 *
 * Byte counts are link-layer bytes as captured (the mbuf's length), which is what
 * tcpdump/tshark call frame length for a capture that was not cut by a snaplen.
 */
struct ft_flow_record {
	struct ft_flow_key key; /*   0 */
	uint64_t flow_id;	/*  48  worker id << 56 | per-worker serial */
	uint64_t first_ns;	/*  56  first packet, ns since the Unix epoch */
	uint64_t last_ns;	/*  64  last packet */
	uint64_t packets[2];	/*  72  [fwd, rev] */
	uint64_t bytes[2];	/*  88  [fwd, rev] */
	uint32_t fragments;	/* 104  IPv4/IPv6 fragments counted in this flow */
	uint16_t input_port;	/* 108  dataplane port of the first packet */
	uint8_t initiator;	/* 110  key endpoint (0 or 1) that sent first */
	uint8_t end_reason;	/* 111  enum ft_end_reason */
	uint8_t tcp_flags[2];	/* 112  OR of TCP flags seen [fwd, rev] */
	uint8_t tcp_state;	/* 114  enum ft_tcp_state at export */
	uint8_t flags;		/* 115  FT_FLOW_F_* */
	uint8_t icmp_type;	/* 116  first ICMP/ICMPv6 type seen (initiator side) */
	uint8_t icmp_code;	/* 117  */
	uint16_t segment;	/* 118  0 for a flow's first record, then +1 per record */
	uint8_t reserved[8];	/* 120  zero */
	struct ft_flow_match match; /* 128  pattern matching (FT_FLOW_F_MATCH) */
};
static_assert(sizeof(struct ft_flow_record) == 208, "flow record layout");
static_assert(offsetof(struct ft_flow_record, match) == 128, "flow record layout");

/* struct ft_match_record.flags */
#define FT_MATCH_EV_F_SOM   0x01 /* start is set (the rule has flag L) */
#define FT_MATCH_EV_F_BLOCK 0x02 /* found scanning one packet alone (block mode) */
#define FT_MATCH_EV_F_EOD   0x04 /* reported at the end of the stream (e.g. a '$' anchor) */

/*
 * A match event: a rule matched in one direction of a flow. Offsets count the
 * direction's payload bytes from 0 (TCP: sequence number after the SYN; UDP and
 * others: payloads concatenated in capture order), gaps included.
 */
struct ft_match_record {
	struct ft_flow_key key; /*  0 */
	uint64_t flow_id;	/* 48  as in the flow's record */
	uint64_t ts_ns;		/* 56  time of the packet at which the match was
				       found: the one that completed it, or later
				       when chunked (see src/match/match.h); end
				       of data: the flow's last packet */
	uint64_t offset;	/* 64  stream offset just past the match's last byte */
	uint64_t start;		/* 72  stream offset of its first byte (FT_MATCH_EV_F_SOM) */
	uint32_t rule_id;	/* 80  the rule's ID in the rules file */
	uint32_t rule_index;	/* 84  its position in the segment's rule table */
	uint8_t dir;		/* 88  0 fwd (initiator to responder), 1 rev */
	uint8_t initiator;	/* 89  key endpoint (0 or 1) that initiated the flow */
	uint8_t flags;		/* 90  FT_MATCH_EV_F_* */
	uint8_t icmp_type;	/* 91  the flow's (as its record's; its Community ID) */
	uint8_t icmp_code;	/* 92  */
	uint8_t reserved[3];	/* 93  zero */
};
static_assert(sizeof(struct ft_match_record) == 96, "match record layout");

enum ft_record_type {
	FT_RECORD_FLOW = 1,
	FT_RECORD_MATCH = 2,	    /* struct ft_match_record */
	FT_RECORD_FLOW_STATS = 3,   /* struct ft_flow_stats_record */
	FT_RECORD_WORKER_STATS = 4, /* struct ft_worker_stats_record */
	FT_RECORD_TOPK = 5,	    /* struct ft_topk_record */
	FT_RECORD_FLOW_DIST = 6,    /* struct ft_flow_dist_record: right after its FLOW_STATS */
	FT_RECORD_WORKER_DROPS = 7, /* struct ft_worker_drops_record: right after WORKER_STATS */
	FT_RECORD_TYPE_MAX
};

/* Record type names as the collector prints them (NULL: not defined yet). */
static const char *const ft_record_type_names[FT_RECORD_TYPE_MAX] = {
	[0] = "unknown",
	[FT_RECORD_FLOW] = "flow",
	[FT_RECORD_MATCH] = "match",
	[FT_RECORD_FLOW_STATS] = "flow_stats",
	[FT_RECORD_WORKER_STATS] = "worker_stats",
	[FT_RECORD_TOPK] = "topk",
	[FT_RECORD_FLOW_DIST] = "flow_dist",
	[FT_RECORD_WORKER_DROPS] = "worker_drops",
};

/* ---------------------------------------------------------------- statistics
 *
 * Sliding statistics (src/stats). Every time below is flow time (packet time in
 * replay, the TSC live), in ns since the epoch. A window "as of T" holds the
 * packets with timestamps in [T - length, T); T is always a bucket edge.
 *
 * Histogram bins (the same for every flow, so not in the records):
 *   packet size (link-layer frame bytes): bin 0 = [0, 64), bin b = [2^(b+5),
 *   2^(b+6)) for b = 1..14, bin 15 = [2^20, inf)
 *   inter-arrival time (ns): bin 0 = [0, 1024), bin b = [2^(b+9), 2^(b+10)) for
 *   b = 1..22, bin 23 = [2^32, inf) (4.29 s and more)
 * A quantile taken from them lies in its bin intersected with [min, max], both
 * of which the records carry exactly.
 */
#define FT_STATS_SIZE_BINS 16
#define FT_STATS_IAT_BINS  24

/* Bin of a frame size: floor(log2(x)) - 5, clamped to the bins. */
static inline unsigned
ft_stats_size_bin(uint32_t bytes)
{
	unsigned b = bytes < 64 ? 0 : 31 - (unsigned)__builtin_clz(bytes) - 5;

	return b < FT_STATS_SIZE_BINS ? b : FT_STATS_SIZE_BINS - 1;
}

/* Bin of an inter-arrival time in ns. */
static inline unsigned
ft_stats_iat_bin(uint64_t ns)
{
	unsigned b = ns < 1024 ? 0 : 63 - (unsigned)__builtin_clzll(ns) - 9;

	return b < FT_STATS_IAT_BINS ? b : FT_STATS_IAT_BINS - 1;
}

/* Lowest value of a bin (its upper edge is the next bin's lowest value; the
 * last bin has none). */
static inline uint64_t
ft_stats_size_bin_lo(unsigned b)
{
	return b == 0 ? 0 : 1ULL << (b + 5);
}

static inline uint64_t
ft_stats_iat_bin_lo(unsigned b)
{
	return b == 0 ? 0 : 1ULL << (b + 9);
}

/* Kinds of flow statistics records. */
enum ft_flow_stats_kind {
	FT_FLOW_STATS_PERIODIC = 0, /* a live flow at the end of an interval it had packets in */
	FT_FLOW_STATS_FINAL = 1,    /* the flow ended: right after its FT_RECORD_FLOW */
};

/* struct ft_flow_stats_record.flags */
#define FT_FLOW_STATS_F_INITIATOR_HI 0x01 /* the initiator is key endpoint 1 */
#define FT_FLOW_STATS_F_RTT_SERVER   0x02 /* rtt_server_ns is known */
#define FT_FLOW_STATS_F_RTT_CLIENT   0x04 /* rtt_client_ns is known */
#define FT_FLOW_STATS_F_HISTOGRAMS   0x08 /* the FLOW_DIST record carries histograms */

/*
 * One direction of a flow (fwd = initiator to responder) as of the record's
 * time_ns. Window counts come from a ring of `buckets` buckets of `bucket_ns`
 * (struct ft_flow_stats_record): "last" is the bucket [time - bucket_ns, time),
 * "window" all of them, [time - buckets * bucket_ns, time); peak is the most
 * packets, and the most bytes, any single bucket of the flow held. Bucket byte
 * counts saturate at 2^32 - 1 (a direction above 34 Gbit/s with 1 s buckets).
 * TCP: retransmissions = segments whose sequence range was entirely seen before
 * (or overlaps it) outside a known hole; out_of_order = segments filling a hole
 * left by a later segment; zero_windows = times this direction's sender started
 * advertising a zero receive window (SYN, FIN and RST excluded).
 */
struct ft_flow_stats_dir {
	uint64_t packets;	  /*  0  since the flow began */
	uint64_t bytes;		  /*  8 */
	uint64_t window_bytes;	  /* 16 */
	uint32_t window_packets;  /* 24 */
	uint32_t last_packets;	  /* 28 */
	uint32_t last_bytes;	  /* 32 */
	uint32_t peak_packets;	  /* 36 */
	uint32_t peak_bytes;	  /* 40 */
	uint32_t retransmissions; /* 44 */
	uint32_t out_of_order;	  /* 48 */
	uint32_t zero_windows;	  /* 52 */
};
static_assert(sizeof(struct ft_flow_stats_dir) == 56, "flow stats direction layout");

/*
 * Per-flow statistics, part 1 of 2 (FT_RECORD_FLOW_STATS). The FT_RECORD_FLOW_DIST
 * record of the same flow_id and time_ns follows it on the ring (both are
 * written in one ring enqueue, so only a ring drop can separate them).
 * Handshake RTT (TCP): server side = first SYN to first SYN+ACK, client side =
 * that SYN+ACK to the initiator's first ACK after it, as seen at the capture
 * point (Wireshark's tcp.analysis.initial_rtt is their sum).
 */
struct ft_flow_stats_record {
	struct ft_flow_key key;		 /*   0 */
	uint64_t flow_id;		 /*  48 */
	uint64_t time_ns;		 /*  56  the instant the figures describe (a bucket edge) */
	uint64_t first_ns;		 /*  64  first packet of the flow */
	uint64_t last_ns;		 /*  72  latest packet (inter-arrival sum = last - first) */
	uint64_t bucket_ns;		 /*  80  window bucket width */
	uint64_t rtt_server_ns;		 /*  88 */
	uint64_t rtt_client_ns;		 /*  96 */
	struct ft_flow_stats_dir dir[2]; /* 104  [fwd, rev] */
	uint16_t buckets;		 /* 216  window buckets */
	uint8_t kind;			 /* 218  enum ft_flow_stats_kind */
	uint8_t flags;			 /* 219  FT_FLOW_STATS_F_* */
	uint8_t reserved[20];		 /* 220  zero */
};
static_assert(sizeof(struct ft_flow_stats_record) == 240, "flow stats record layout");

/*
 * Per-flow statistics, part 2 of 2 (FT_RECORD_FLOW_DIST): distributions over
 * every packet of the flow, both directions. Sizes: count = packets of both
 * directions, sum = their bytes (part 1). Inter-arrival times between
 * consecutive packets of the flow (a packet older than the latest one counts
 * 0): count = packets - 1, sum = last_ns - first_ns. Sums of squares are exact
 * 128-bit integers (lo, hi words), so mean and variance are exact too.
 */
struct ft_flow_dist_record {
	uint64_t flow_id;			/*   0 */
	uint64_t time_ns;			/*   8 */
	uint64_t size_sumsq[2];			/*  16  sum of size^2 (lo, hi) */
	uint64_t iat_sumsq[2];			/*  32  sum of iat^2, ns^2 (lo, hi) */
	uint64_t iat_min;			/*  48  ns (0 with fewer than 2 packets) */
	uint64_t iat_max;			/*  56 */
	uint32_t size_min;			/*  64  bytes */
	uint32_t size_max;			/*  68 */
	uint32_t size_hist[FT_STATS_SIZE_BINS]; /*  72 */
	uint32_t iat_hist[FT_STATS_IAT_BINS];	/* 136 */
	uint8_t reserved[8];			/* 232  zero */
};
static_assert(sizeof(struct ft_flow_dist_record) == 240, "flow dist record layout");

/* Per-worker windows: counts over the last 1 s, 10 s and 60 s. */
#define FT_STATS_WINDOWS 3
static const uint32_t ft_stats_window_s[FT_STATS_WINDOWS] = {1, 10, 60};

/* Causes of per-worker drops: the discard reasons, then records dropped on a
 * full export ring (records, not packets). */
#define FT_STATS_DROP_RING   FT_DISCARD_MAX
#define FT_STATS_DROP_CAUSES (FT_DISCARD_MAX + 1)

/*
 * Per-worker statistics at the end of an export interval (FT_RECORD_WORKER_STATS),
 * followed by its FT_RECORD_WORKER_DROPS. Written at every interval end the
 * worker's flow clock passes while it had packets in the last 60 s, and at the
 * last one its clock passed; a worker that writes one for time T has written
 * every TOPK record of intervals ending at or before T.
 */
struct ft_worker_stats_record {
	uint64_t time_ns;			/*   0  end of the interval */
	uint64_t interval_ns;			/*   8 */
	uint64_t packets[FT_STATS_WINDOWS];	/*  16  flow packets */
	uint64_t bytes[FT_STATS_WINDOWS];	/*  40 */
	uint64_t flows_new[FT_STATS_WINDOWS];	/*  64 */
	uint64_t flows_ended[FT_STATS_WINDOWS]; /*  88 */
	uint64_t drops[FT_STATS_WINDOWS];	/* 112  every cause */
	uint64_t flows_active;			/* 136  gauge at time_ns */
	uint64_t packets_total;			/* 144  since the worker started */
	uint64_t bytes_total;			/* 152 */
	uint8_t reserved[80];			/* 160  zero */
};
static_assert(sizeof(struct ft_worker_stats_record) == 240, "worker stats record layout");

/* Drops by cause over the windows (counts saturate at 2^32 - 1). */
struct ft_worker_drops_record {
	uint64_t time_ns;					/*   0 */
	uint32_t drops[FT_STATS_DROP_CAUSES][FT_STATS_WINDOWS]; /*   8 */
	uint8_t reserved[240 - 8 - FT_STATS_DROP_CAUSES * FT_STATS_WINDOWS * 4];
};
static_assert(sizeof(struct ft_worker_drops_record) == 240, "worker drops record layout");

/* One heavy hitter of an interval: exact packets and bytes in the interval. */
struct ft_topk_entry {
	struct ft_flow_key key; /*  0 */
	uint64_t flow_id;	/* 48 */
	uint64_t bytes;		/* 56 */
	uint64_t packets;	/* 64 */
};
static_assert(sizeof(struct ft_topk_entry) == 72, "top-K entry layout");

#define FT_TOPK_PER_RECORD 3
#define FT_TOPK_F_LAST	   0x01 /* the worker's last TOPK record of this interval */

/*
 * Heavy hitters of one worker in one interval (FT_RECORD_TOPK): the union of its
 * top-K flows by bytes and by packets, sorted by bytes, FT_TOPK_PER_RECORD per
 * record. Each is exact: the K largest under the order (count, other count,
 * key), so the collector's union over workers gives the exact global top-K.
 */
struct ft_topk_record {
	uint64_t time_ns;     /*  0  end of the interval */
	uint64_t interval_ns; /*  8 */
	uint16_t k;	      /* 16  configured K */
	uint16_t index;	      /* 18  this record's position in the interval's list */
	uint8_t count;	      /* 20  entries used */
	uint8_t flags;	      /* 21  FT_TOPK_F_* */
	uint8_t initiator;    /* 22  bit i: entry i's initiator is key endpoint 1 */
	uint8_t reserved;     /* 23 */
	struct ft_topk_entry entry[FT_TOPK_PER_RECORD]; /* 24 */
};
static_assert(sizeof(struct ft_topk_record) == 240, "top-K record layout");

/*
 * Every ring element is one struct ft_record: a small header, then the body of
 * the type it says. seq counts records per worker from 0; a gap is a ring drop.
 */
struct ft_record {
	uint16_t type;	  /* enum ft_record_type */
	uint16_t worker;  /* producing worker index */
	uint32_t reserved;
	uint64_t seq;	  /* per-worker sequence, including dropped records */
	union {
		struct ft_flow_record flow;
		struct ft_match_record match;
		struct ft_flow_stats_record flow_stats;
		struct ft_flow_dist_record flow_dist;
		struct ft_worker_stats_record worker_stats;
		struct ft_worker_drops_record worker_drops;
		struct ft_topk_record topk;
		uint8_t body[240];
	};
};
static_assert(sizeof(struct ft_record) == 256, "record layout");
static_assert(sizeof(struct ft_record) % 4 == 0, "rte_ring elements are multiples of 4 B");

/* Counters of one worker, written only by that worker (relaxed stores, published
 * from its private copy about every millisecond and at the end). */
struct ft_worker_counters {
	uint64_t rx_packets; /* read from the queues this worker polls */
	uint64_t rx_bytes;
	uint64_t packets; /* processed by this worker's pipeline (after dispatch) */
	uint64_t bytes;
	uint64_t flow_packets; /* counted into a flow */
	uint64_t flow_bytes;
	/* Of flow_bytes, those beyond the captured frames: capture files cut at
	 * a snaplen, where a flow counts a cut frame's length as its IP length
	 * gives it. */
	uint64_t flow_uncut_bytes;
	uint64_t discard_packets[FT_DISCARD_MAX];
	uint64_t discard_bytes[FT_DISCARD_MAX];
	uint64_t fragments; /* IP fragments seen (also in flow_packets) */
	uint64_t flows_created;
	uint64_t flows_ended;
	uint64_t flows_active; /* gauge */
	uint64_t flow_capacity;
	uint64_t flows_evicted;	   /* ended to make room (also in flows_ended) */
	uint64_t flow_segments;	   /* active-timeout records of live flows */
	uint64_t emergency_entered; /* times the table entered emergency mode */
	uint64_t emergency;	   /* gauge: 1 while in emergency mode */
	uint64_t fragments_attributed; /* later fragments given their first fragment's ports */
	uint64_t fragments_unattributed; /* later fragments with no first fragment known */
	uint64_t fragments_waited;	 /* of the attributed: came before their first fragment */
	uint64_t records; /* records put on the ring */
	uint64_t ring_drop_records;
	uint64_t ring_drop_packets; /* packets carried by the dropped flow records */
	uint64_t ring_drop_bytes;
	uint64_t ring_drop_type[FT_RECORD_TYPE_MAX]; /* ring_drop_records by record type */
	uint64_t ring_wait_ns; /* time spent waiting on a full ring (backpressure mode) */
	uint64_t clock_ns;     /* this worker's flow clock */
	uint64_t busy_cycles;  /* TSC cycles spent on iterations that had work */
	uint64_t total_cycles; /* TSC cycles since the worker started */
	uint64_t done;	       /* 1 once the worker flushed every flow and stopped */
	uint64_t cpu_ns;       /* CPU time of the worker's thread (other processes' share of
				  its core excluded; at every publish and at the end) */

	/* Pattern matching (all zero when no rules are loaded). */
	uint64_t match_scanned_bytes;	  /* payload bytes given to Hyperscan */
	uint64_t match_events;		  /* matches (rule scopes applied), suppressed too */
	uint64_t match_events_suppressed; /* over max_events_per_flow: counted, not exported */
	uint64_t match_streams;		  /* stream states in the pool */
	uint64_t match_streams_used;	  /* gauge: stream states held by flows */
	uint64_t match_no_stream;	  /* directions that found the pool empty */
	uint64_t match_no_stream_bytes;	  /* their payload not scanned (fallback skip) */
	uint64_t match_depth_reached;	  /* directions cut at the scan depth */
	uint64_t match_depth_bytes;	  /* payload beyond the depth: not scanned */
	uint64_t match_off_bytes;	  /* payload of protocols whose mode is off */
	uint64_t match_fragment_bytes;	  /* payload of IP fragments: not scanned */
	uint64_t match_scan_errors;	  /* Hyperscan calls that failed, payloads that could not
					     be read (never expected) */
	uint64_t match_scan_error_bytes;  /* their payload: not scanned */
	/* TCP reassembly (src/reasm/reasm.h). */
	uint64_t reasm_retrans_bytes; /* seen again: not scanned twice */
	uint64_t reasm_held_segments; /* out-of-order segments (or parts) held */
	uint64_t reasm_held_bytes;
	uint64_t reasm_gaps; /* holes given up: acked + budget + end + cut */
	uint64_t reasm_gaps_acked;
	uint64_t reasm_gaps_budget;
	uint64_t reasm_gaps_end;
	uint64_t reasm_gaps_cut; /* bytes a capture file's snaplen cut from a segment */
	uint64_t reasm_gap_bytes;
	uint64_t reasm_rst_bytes;     /* payload of RST segments (not stream data) */
	uint64_t reasm_out_of_window; /* segments too far ahead: ignored */
	uint64_t reasm_out_of_window_bytes;
	uint64_t reasm_slots;	   /* hold pool slots (512 B) */
	uint64_t reasm_slots_used; /* gauge */
	/* Chunk buffers (src/match/match.h: chunked scanning). */
	uint64_t match_chunks;		 /* buffers in the pool */
	uint64_t match_chunks_used;	 /* gauge: buffers holding bytes not scanned yet */
	uint64_t match_chunk_bytes;	 /* gauge: those bytes */
	uint64_t match_chunk_pool_empty; /* pieces scanned at once: no buffer was free */
	/* Reassembly under memory pressure where the receiver's acks are seen
	 * (src/reasm/reasm.h): out-of-order data dropped rather than holes skipped. */
	uint64_t reasm_dropped_segments;   /* segments dropped: no room */
	uint64_t reasm_dropped_bytes;	   /* their bytes + held bytes dropped for nearer data */
	uint64_t reasm_dropped_held_bytes; /* of those, the held ones */
	/* IP defragmentation before matching (src/frag/defrag.h). Payload of
	 * datagrams given up or whose flow ended is in match_fragment_bytes. */
	uint64_t defrag_fragments;     /* fragments taken */
	uint64_t defrag_datagrams;     /* datagrams made whole, then matched */
	uint64_t defrag_overlap_bytes; /* their fragments' bytes already held: not scanned twice */
	uint64_t defrag_timeout;       /* datagrams given up: incomplete at fragment_timeout */
	uint64_t defrag_evicted;       /* ... the table's set was full */
	uint64_t defrag_invalid;       /* ... can never be whole or read right */
	uint64_t defrag_end;	       /* ... incomplete at the end of input */
	uint64_t defrag_memory;	       /* ... the block pool had no room for its bytes */
	uint64_t defrag_flow_ended;    /* whole, but the first fragment's flow had ended */
	uint64_t defrag_in_use;	       /* gauge: datagrams held */
	uint64_t defrag_held_bytes;    /* gauge: their payload bytes so far */
} __attribute__((aligned(FT_EXPORT_CACHE_LINE)));

/* One loaded rule, in the segment's rule table (index = rule_index of events). */
struct ft_rule_info {
	uint32_t id;			    /*   0  the rule's ID */
	uint8_t dir;			    /*   4  1 to_server, 2 to_client, 3 both */
	uint8_t reserved[3];		    /*   5 */
	char name[FT_EXPORT_RULE_NAME_LEN]; /*   8 */
	char meta[FT_EXPORT_RULE_META_LEN]; /*  64 */
};
static_assert(sizeof(struct ft_rule_info) == 128, "rule info layout");

/* Counters of one input port, written by the dataplane's main lcore. */
struct ft_port_counters {
	char name[FT_EXPORT_NAME_LEN];
	uint64_t ipackets; /* rte_eth_stats of the port */
	uint64_t ibytes;
	uint64_t imissed;
	uint64_t ierrors;
	uint64_t rx_nombuf;
	/* A port that replays a capture file: its totals, from the record headers. */
	uint64_t file_packets;
	uint64_t file_bytes;	      /* original (wire) lengths: capinfos' "Data size" */
	uint64_t file_captured_bytes; /* captured lengths: what the port delivers */
	uint32_t is_file;
	uint32_t link_type; /* DLT_* of the capture, or 1 (Ethernet) for live ports */
} __attribute__((aligned(FT_EXPORT_CACHE_LINE)));

enum ft_segment_state {
	FT_SEG_STARTING = 0, /* header being filled; do not read further */
	FT_SEG_RUNNING,	     /* workers running */
	FT_SEG_STOPPING,     /* input ended or stop requested; workers flushing */
	FT_SEG_FINISHED,     /* every worker done; counters final; rings hold the rest */
};

enum ft_overflow_mode {
	FT_OVERFLOW_DROP = 0,	  /* full ring: count and drop the record (live inputs) */
	FT_OVERFLOW_BACKPRESSURE, /* full ring: the worker stops reading input until there is
				     room, while a collector is attached (finite inputs) */
};

struct ft_export_header {
	/* Written once by the dataplane before state leaves FT_SEG_STARTING. */
	uint64_t magic;		  /* FT_EXPORT_MAGIC */
	uint32_t layout_version;  /* FT_EXPORT_LAYOUT_VERSION */
	uint32_t header_size;	  /* sizeof(struct ft_export_header) */
	uint32_t record_size;	  /* sizeof(struct ft_record) */
	uint32_t worker_count;
	uint32_t port_count;
	uint32_t ring_size; /* ring slots (a power of two; capacity is one less) */
	uint64_t segment_size;
	uint64_t start_ns; /* wall clock at dataplane start, ns since the epoch */
	int32_t dataplane_pid;
	uint32_t overflow; /* enum ft_overflow_mode */
	char instance[FT_EXPORT_NAME_LEN];
	char version[16]; /* flowtap version string */
	uint64_t ring_offset[FT_EXPORT_MAX_WORKERS];
	uint32_t rule_count;		   /* rules loaded (0: no pattern matching) */
	uint32_t rule_info_size;	   /* sizeof(struct ft_rule_info) */
	uint64_t rules_offset;		   /* struct ft_rule_info[rule_count] */
	uint64_t rule_hits_offset;	   /* worker w's uint64_t[rule_count] at + w * stride */
	uint64_t rule_hits_stride;	   /* bytes, a multiple of FT_EXPORT_CACHE_LINE */
	uint64_t match_stream_state_bytes; /* one Hyperscan stream's state */

	/* Written by the dataplane's main lcore while running. */
	uint64_t heartbeat __attribute__((aligned(FT_EXPORT_CACHE_LINE))); /* +1 per tick */
	uint64_t heartbeat_ns; /* wall clock of the last tick */
	uint32_t state;	       /* enum ft_segment_state */
	uint32_t reserved0;

	/* Written by the collector. */
	int32_t consumer_pid __attribute__((aligned(FT_EXPORT_CACHE_LINE))); /* 0: none */
	uint32_t reserved1;
	uint64_t consumer_heartbeat_ns;

	struct ft_port_counters ports[FT_EXPORT_MAX_PORTS];
	struct ft_worker_counters workers[FT_EXPORT_MAX_WORKERS];
};
static_assert(offsetof(struct ft_export_header, heartbeat) % FT_EXPORT_CACHE_LINE == 0,
	      "dataplane-written fields start a cache line");
static_assert(offsetof(struct ft_export_header, consumer_pid) % FT_EXPORT_CACHE_LINE == 0,
	      "collector-written fields start a cache line");
static_assert(sizeof(struct ft_export_header) % FT_EXPORT_CACHE_LINE == 0, "header size");

/* Acquire/release accessors for the fields that order the two processes. */
#define FT_SHM_LOAD(p)	   __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define FT_SHM_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

#endif /* FT_EXPORT_H */
