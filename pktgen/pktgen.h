/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowtap-pktgen: traffic with known ground truth.
 *
 * A scenario (file or command line, see README.md) describes classes of flows;
 * the generator expands it, deterministically from a seed, into a time-ordered
 * packet sequence that goes to a sink (a pcap file, or a DPDK port in load mode),
 * and writes the ground truth of every flow as JSON with the field names of
 * flowtap's own flow records.
 *
 * Layers:
 *   checksums      RFC 1071 internet checksum, pseudo-headers, CRC32C (SCTP)
 *   header builder Ethernet + VLAN/QinQ + IPv4/IPv6 + TCP/UDP/SCTP/ICMP/ICMPv6
 *   random         xoshiro256** streams and value distributions (sizes, counts)
 *   regex          strings that match a regex, for pattern placement
 *   segmenter      stream -> segment sizes with patterns split over N segments
 *   scenario       parse, override and validate
 *   generator      the event loop, the sinks and the truth writer
 *
 * Threading: nothing here is shared; one generator run per thread. Functions
 * returning int return 0 or a negative errno; those taking (err, errlen) write a
 * one-line message there on failure.
 */
#ifndef FT_PKTGEN_H
#define FT_PKTGEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- checksums ---------------------------------------------------------- */

/*
 * Add len bytes at data to a running one's complement sum. Pieces must be
 * chained at even offsets (every piece but the last has an even length).
 * Start with sum = 0.
 */
uint64_t ft_pktgen_csum_partial(const void *data, size_t len, uint64_t sum);

/* Fold a running sum to the 16-bit checksum (complemented), in host order:
 * store it with htons(). A buffer whose checksum field is right sums to 0. */
uint16_t ft_pktgen_csum_finish(uint64_t sum);

/* RFC 1071 checksum of one buffer (host order). */
uint16_t ft_pktgen_csum(const void *data, size_t len);

/*
 * TCP/UDP/ICMPv6 checksum over the pseudo-header (RFC 793, 768, 8200 s8.1) and
 * the L4 bytes (whose checksum field must be zero). ICMP over IPv4 has no
 * pseudo-header: pass proto 1 and it is left out.
 *
 * @param ip_version  4 or 6 (src/dst are 4 or 16 bytes)
 * @param l4_len      L4 header + payload bytes (also the pseudo-header length)
 * @return the checksum in host order (store with htons)
 */
uint16_t ft_pktgen_l4_csum(int ip_version, const uint8_t *src, const uint8_t *dst, uint8_t proto,
			   const void *l4, uint32_t l4_len);

/*
 * CRC32C (Castagnoli), chained like zlib's crc32(): start with crc = 0; the
 * result of one call is the crc argument of the next. The check value of
 * "123456789" is 0xe3069283. SCTP (RFC 9260 appendix A) stores it in the
 * packet least significant byte first.
 */
uint32_t ft_pktgen_crc32c(uint32_t crc, const void *data, size_t len);

/* ---- header builder ------------------------------------------------------ */

#define FT_PKTGEN_MAX_FRAME 16384 /* largest frame the generator builds */

/*
 * Tunnels a frame can be sent through (names as flowtap's "tunnel" output).
 * The outer headers: Ethernet (the frame's MACs), IPv4 between 192.0.2.1 and
 * 192.0.2.2 (the forward direction from .1), then
 *   gre     GRE version 0 with key 7, carrying the IP packet
 *   ipip    the IP packet as IP protocol 4 or 41
 *   vxlan   UDP to 4789, VNI 4242, carrying the Ethernet frame
 *   geneve  UDP to 6081, VNI 4242, no options, carrying the Ethernet frame
 *   gtp     UDP to 2152, a GTP-U G-PDU (TEID 0x1000 forward, 0x2000 back)
 * The UDP source port is a hash of the inner flow, the same both ways (as
 * Linux's VXLAN and Geneve derive it); every checksum is set. IP-carrying tunnels (gre,
 * ipip, gtp) take no VLAN tags.
 */
enum ft_pktgen_encap {
	FT_PKTGEN_ENCAP_NONE = 0,
	FT_PKTGEN_ENCAP_GRE,
	FT_PKTGEN_ENCAP_IPIP,
	FT_PKTGEN_ENCAP_VXLAN,
	FT_PKTGEN_ENCAP_GENEVE,
	FT_PKTGEN_ENCAP_GTP,
	FT_PKTGEN_ENCAP_MAX
};

extern const char *const ft_pktgen_encap_names[FT_PKTGEN_ENCAP_MAX];

/* Bytes a tunnel adds before the inner frame's headers (for gre, ipip and gtp
 * the inner Ethernet header is replaced, so 14 fewer count). */
uint32_t ft_pktgen_encap_overhead(enum ft_pktgen_encap e);

/* One frame's headers. Addresses and ports in host order except byte arrays. */
struct ft_pktgen_hdr {
	uint8_t dst_mac[6];
	uint8_t src_mac[6];
	uint8_t vlan_count;    /* 0, 1 or 2 tags */
	uint16_t vlan_tpid[2]; /* outer first: 0x88a8 or 0x8100 */
	uint16_t vlan_tci[2];  /* PCP/DEI/VID */
	uint8_t ip_version;    /* 4 or 6 */
	uint8_t proto;	       /* 6, 17, 132, 1 (IPv4) or 58 (IPv6) */
	uint8_t tos;	       /* IPv4 TOS / IPv6 traffic class */
	uint8_t ttl;	       /* TTL / hop limit */
	uint8_t ip_df;	       /* IPv4: set Don't Fragment */
	uint16_t ip_id;	       /* IPv4 identification */
	uint32_t flow_label;   /* IPv6 */
	uint8_t src_ip[16];    /* IPv4: first 4 bytes */
	uint8_t dst_ip[16];
	const uint8_t *ip_opts; /* IPv4 options, ip_opts_len a multiple of 4 (<= 40) */
	uint8_t ip_opts_len;
	uint16_t src_port; /* TCP/UDP/SCTP; ICMP echo: identifier */
	uint16_t dst_port;
	uint32_t tcp_seq;
	uint32_t tcp_ack;
	uint8_t tcp_flags; /* FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 ... */
	uint16_t tcp_window;
	const uint8_t *tcp_opts; /* tcp_opts_len a multiple of 4 (<= 40) */
	uint8_t tcp_opts_len;
	uint8_t icmp_type; /* ICMP/ICMPv6: echo layout (type, code, csum, id, seq) */
	uint8_t icmp_code;
	uint16_t icmp_seq;
	uint32_t sctp_vtag; /* SCTP common header; chunks are the payload */
	uint8_t encap;	    /* enum ft_pktgen_encap */
	uint8_t encap_rev;  /* the tunnel's reverse direction (outer addresses swapped) */
};

/* Where the layers start in a built frame. */
struct ft_pktgen_offsets {
	uint16_t l3; /* the inner IP header's, in a tunnel */
	uint16_t l4;
	uint16_t payload; /* = ft_pktgen_hdr_len() */
};

/* Bytes of headers (L2 to L4) the builder writes before the payload. */
uint32_t ft_pktgen_hdr_len(const struct ft_pktgen_hdr *h);

/*
 * Write the headers of a frame whose payload_len payload bytes are already at
 * frame + ft_pktgen_hdr_len(h), and fill every checksum (IPv4 header, L4 with
 * pseudo-header, SCTP CRC32C over header and chunks).
 *
 * @param off  optional, receives the layer offsets
 * @return the frame length, or 0 if it would exceed FT_PKTGEN_MAX_FRAME or the
 *         header is invalid (bad ip_version, option lengths)
 */
uint32_t ft_pktgen_build(uint8_t *frame, const struct ft_pktgen_hdr *h, uint32_t payload_len,
			 struct ft_pktgen_offsets *off);

/* ---- random numbers and distributions ------------------------------------ */

struct ft_pktgen_rng {
	uint64_t s[4];
};

/* Seed a stream: the same (seed, stream) gives the same sequence everywhere. */
void ft_pktgen_rng_seed(struct ft_pktgen_rng *r, uint64_t seed, uint64_t stream);
uint64_t ft_pktgen_rng_next(struct ft_pktgen_rng *r);
/* Uniform in [0, n) (n > 0), unbiased. */
uint64_t ft_pktgen_rng_below(struct ft_pktgen_rng *r, uint64_t n);
/* Uniform in [0, 1). */
double ft_pktgen_rng_double(struct ft_pktgen_rng *r);
/* splitmix64 finaliser: a cheap bijective mix of one word. */
uint64_t ft_pktgen_mix64(uint64_t x);

enum ft_pktgen_dist_kind {
	FT_PKTGEN_DIST_FIXED = 0, /* "N" */
	FT_PKTGEN_DIST_UNIFORM,	  /* "A-B", inclusive */
	FT_PKTGEN_DIST_WEIGHTED,  /* "V:W,V:W,..." and "imix" */
	FT_PKTGEN_DIST_EXP,	  /* "exp(MEAN)" */
	FT_PKTGEN_DIST_PARETO,	  /* "pareto(ALPHA,MIN[,MAX])" */
};

/* The value kind a distribution parses. */
enum ft_pktgen_unit {
	FT_PKTGEN_UNIT_COUNT = 0, /* plain integers (k, M, G suffixes allowed) */
	FT_PKTGEN_UNIT_TIME,	  /* durations: ns, us, ms, s, m (plain number = s) */
};

#define FT_PKTGEN_DIST_MAX_WEIGHTS 64

struct ft_pktgen_dist {
	enum ft_pktgen_dist_kind kind;
	uint64_t a, b;	    /* fixed: a; uniform: [a, b]; pareto: min a, max b (0: none) */
	double mean, alpha; /* exp, pareto */
	uint32_t n;	    /* weighted: entries */
	uint64_t value[FT_PKTGEN_DIST_MAX_WEIGHTS];
	double cum[FT_PKTGEN_DIST_MAX_WEIGHTS]; /* cumulative weights, last = 1 */
};

/*
 * Parse a distribution. "imix" is the simple IMIX of frame sizes without FCS,
 * 60:7,590:4,1514:1.
 * @return 0, or -EINVAL with a message in err
 */
int ft_pktgen_dist_parse(struct ft_pktgen_dist *d, const char *s, enum ft_pktgen_unit unit,
			 char *err, size_t errlen);
uint64_t ft_pktgen_dist_draw(const struct ft_pktgen_dist *d, struct ft_pktgen_rng *r);
/* Largest value the distribution can return (pareto without max: UINT64_MAX). */
uint64_t ft_pktgen_dist_max(const struct ft_pktgen_dist *d);
/* Expected value. */
double ft_pktgen_dist_mean(const struct ft_pktgen_dist *d);

/* Parse "10ms", "1.5s", "250us", "100ns", "2m", "3" (seconds). -EINVAL if bad. */
int ft_pktgen_parse_time(const char *s, uint64_t *ns);

/* ---- regex string generator ---------------------------------------------- */

struct ft_pktgen_regex;

/*
 * Compile a regex for generation. Accepts "/re/flags" (Hyperscan/PCRE style,
 * flags i s m H L ignored) or a bare regex. Supported: literals, escapes (\n \r
 * \t \f \v \e \0 \xHH \\ and escaped punctuation), \d \D \w \W \s \S, ".",
 * classes [a-z_] and [^...], groups (...) and (?:...), alternation, ? * + {n}
 * {n,} {n,m}; anchors ^ $ are accepted and ignored. Unbounded repeats generate
 * at most 8 more than their minimum.
 * @return NULL with a message in err if the syntax is unsupported or invalid
 */
struct ft_pktgen_regex *ft_pktgen_regex_compile(const char *src, char *err, size_t errlen);

/* Generate one matching string into out (at most cap bytes; longer output is
 * cut, which a well-formed scenario avoids: see ft_pktgen_regex_max_len()).
 * @return bytes written */
uint32_t ft_pktgen_regex_generate(const struct ft_pktgen_regex *re, struct ft_pktgen_rng *r,
				  uint8_t *out, uint32_t cap);
/* Length bounds of generated strings. */
uint32_t ft_pktgen_regex_min_len(const struct ft_pktgen_regex *re);
uint32_t ft_pktgen_regex_max_len(const struct ft_pktgen_regex *re);
void ft_pktgen_regex_free(struct ft_pktgen_regex *re);

/* ---- segmenter ------------------------------------------------------------ */

/* A stretch of stream that must span exactly `split` segments. */
struct ft_pktgen_span {
	uint64_t off;
	uint32_t len;
	uint32_t split; /* >= 1, <= len */
};

struct ft_pktgen_seg {
	uint64_t off;
	uint32_t len;
};

/* Next segment payload size wanted (>= 1). */
typedef uint32_t (*ft_pktgen_size_fn)(void *ctx);

/*
 * Cut a stream into segments. Sizes come from size_fn, except that every span's
 * interior holds exactly split-1 cuts, at off + k*len/split (k = 1..split-1);
 * a segment that would end elsewhere inside a span is shortened to the span's
 * start or previous cut, or, if that leaves nothing, lengthened to the next one
 * (never beyond max_len). The stream gets at least min_segs segments and is
 * extended until every span fits.
 *
 * @param spans  sorted by offset, not overlapping
 * @param segs   out: malloc'ed array (caller frees)
 * @return number of segments, or -EINVAL (a span cannot be honoured within
 *         max_len, bad split) or -ENOMEM
 */
long ft_pktgen_segment(const struct ft_pktgen_span *spans, unsigned nspans,
		       ft_pktgen_size_fn size_fn, void *ctx, uint64_t min_segs, uint32_t max_len,
		       struct ft_pktgen_seg **segs);

/* ---- malformed packet kinds ---------------------------------------------- */

/*
 * Names follow flowtap's enum ft_discard where the parser discards the packet
 * (counted = 0); the others are still counted in their flow by flowtap
 * (counted = 1) but flagged by stricter dissectors.
 */
enum ft_pktgen_malformed {
	FT_PKTGEN_MAL_L2_TRUNCATED = 0,	 /* frame cut inside Ethernet/VLAN headers */
	FT_PKTGEN_MAL_IP_BAD_VERSION,	 /* ethertype says IPv4/IPv6, version nibble disagrees */
	FT_PKTGEN_MAL_IPV4_TRUNCATED,	 /* frame ends inside the IPv4 header */
	FT_PKTGEN_MAL_IPV4_BAD_IHL,	 /* IHL 4 */
	FT_PKTGEN_MAL_IPV4_BAD_LENGTH,	 /* total length 16 < IHL*4 */
	FT_PKTGEN_MAL_IPV6_TRUNCATED,	 /* frame ends inside the fixed IPv6 header */
	FT_PKTGEN_MAL_IPV6_BAD_EXT,	 /* hop-by-hop header longer than the packet */
	FT_PKTGEN_MAL_L4_TRUNCATED,	 /* IP packet ends inside the TCP/UDP/SCTP/ICMP header */
	FT_PKTGEN_MAL_TCP_BAD_OFFSET,	 /* TCP data offset 4 */
	FT_PKTGEN_MAL_TCP_OPT_ZERO_LEN,	 /* TCP option with length 0 (counted) */
	FT_PKTGEN_MAL_IPV4_OPT_ZERO_LEN, /* IPv4 option with length 0 (counted) */
	FT_PKTGEN_MAL_UDP_BAD_LENGTH,	 /* UDP length beyond the IP payload (counted) */
	FT_PKTGEN_MAL_MAX
};

extern const char *const ft_pktgen_malformed_names[FT_PKTGEN_MAL_MAX];

/* 1 if flowtap counts a packet of this kind in its flow, 0 if it discards it. */
int ft_pktgen_malformed_counted(enum ft_pktgen_malformed kind);

/* Kind by name, or -1. */
int ft_pktgen_malformed_lookup(const char *name);

/*
 * Turn a frame built by ft_pktgen_build() into a malformed one, in place.
 * Checksums that still apply are recomputed so only the named fault shows.
 * For the counted kinds the frame is rebuilt and may grow (by 4 bytes: the
 * buffer needs room).
 *
 * @return the new frame length, or 0 if the kind does not apply to this frame
 *         (e.g. an IPv4 kind on IPv6, TCP kinds on UDP)
 */
uint32_t ft_pktgen_malform(uint8_t *frame, uint32_t len, const struct ft_pktgen_hdr *h,
			   enum ft_pktgen_malformed kind);

/* 1 if the kind can apply to packets of this IP version and protocol. */
int ft_pktgen_malformed_applies(enum ft_pktgen_malformed kind, int ip_version, uint8_t proto);

/* ---- scenario ---------------------------------------------------------- */

#define FT_PKTGEN_NAME_LEN    32
#define FT_PKTGEN_MAX_PLACE   16 /* pattern placements per class */
#define FT_PKTGEN_MAX_PATH    16 /* TCP pathologies per class */
#define FT_PKTGEN_MAX_SPLIT   8
#define FT_PKTGEN_MAX_PATTERN 4096 /* bytes of one pattern instance */

enum ft_pktgen_dir { FT_PKTGEN_FWD = 0, FT_PKTGEN_REV = 1 };

struct ft_pktgen_pattern {
	char name[FT_PKTGEN_NAME_LEN];
	uint32_t id;	  /* rule id the matcher reports */
	char *source;	  /* as written in the scenario */
	uint8_t *literal; /* literal bytes, or NULL for a regex */
	uint32_t literal_len;
	struct ft_pktgen_regex *re;
};

struct ft_pktgen_place {
	uint16_t pattern; /* index in scenario patterns */
	uint8_t dir;
	uint8_t split;
	uint64_t offset;
	double fraction; /* share of the class's flows that get it (1 = all) */
};

enum ft_pktgen_path_kind {
	FT_PKTGEN_PATH_REORDER = 0, /* segment sent after `n` later segments */
	FT_PKTGEN_PATH_RETRANS,	    /* segment sent again after `n` later ones, same bytes */
	FT_PKTGEN_PATH_CONFLICT,    /* ... with every byte different (optionally a pattern) */
	FT_PKTGEN_PATH_GAP,	    /* segment never captured */
	FT_PKTGEN_PATH_WRAP,	    /* sequence number wraps to 0 at stream offset `at` */
	FT_PKTGEN_PATH_ZERO_WINDOW, /* receiver closes its window at offset `at` for dur */
	FT_PKTGEN_PATH_MAX
};

enum ft_pktgen_target {
	FT_PKTGEN_TARGET_INDEX = 0, /* data segment number `at` of the direction (0-based) */
	FT_PKTGEN_TARGET_OFFSET,    /* the segment holding stream offset `at` */
	FT_PKTGEN_TARGET_PROB,	    /* every segment with probability prob */
};

struct ft_pktgen_path {
	uint8_t kind;
	uint8_t dir;
	uint8_t target;
	uint32_t n;  /* reorder/retransmit: later segments first */
	uint64_t at; /* index, offset or (wrap/zero window) stream offset */
	double prob;
	uint64_t dur_ns; /* zero window */
	int pattern;	 /* conflict: pattern index placed in the new bytes, or -1 */
};

enum ft_pktgen_arrival {
	FT_PKTGEN_ARRIVAL_UNIFORM = 0,
	FT_PKTGEN_ARRIVAL_POISSON,
	FT_PKTGEN_ARRIVAL_CONCURRENCY,
};

enum ft_pktgen_teardown {
	FT_PKTGEN_TEARDOWN_FIN = 0, /* initiator closes (TCP FIN / SCTP SHUTDOWN) */
	FT_PKTGEN_TEARDOWN_FIN_REV, /* responder closes */
	FT_PKTGEN_TEARDOWN_RST,	    /* initiator resets (TCP RST / SCTP ABORT) */
	FT_PKTGEN_TEARDOWN_RST_REV,
	FT_PKTGEN_TEARDOWN_NONE,
};

enum ft_pktgen_filler {
	FT_PKTGEN_FILL_HIGH = 0, /* bytes 0x80-0xff: no ASCII pattern occurs by chance */
	FT_PKTGEN_FILL_ZERO,
	FT_PKTGEN_FILL_RANDOM,
	FT_PKTGEN_FILL_TEXT, /* lowercase letters and spaces */
};

struct ft_pktgen_prefix {
	uint8_t addr[16];
	uint8_t len; /* prefix length */
};

struct ft_pktgen_class {
	char name[FT_PKTGEN_NAME_LEN];
	uint64_t count;
	uint8_t proto; /* 6 tcp, 17 udp, 132 sctp, 1 icmp (58 on IPv6) */
	double v6_share;
	struct ft_pktgen_prefix src4, dst4, src6, dst6;
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
	int dport_set; /* else the protocol's default (tcp 80, udp/sctp 5000) */
	uint8_t vlan_count;
	uint16_t vlan_lo[2], vlan_hi[2];
	uint16_t outer_tpid; /* QinQ outer TPID (0x88a8 default) */
	uint8_t encap;	     /* enum ft_pktgen_encap */
	enum ft_pktgen_arrival arrival;
	uint64_t concurrency;
	uint64_t start_ns; /* relative to scenario start_time */
	uint64_t spread_ns;
	struct ft_pktgen_dist packets;	      /* data packets per flow */
	struct ft_pktgen_dist packets_dir[2]; /* when per_dir */
	int per_dir;
	double share;		    /* fwd share of data packets */
	int order_request;	    /* all fwd data, then all rev data */
	struct ft_pktgen_dist size; /* data frame sizes */
	double rate_pps, rate_bps;  /* per flow, 0 = unset */
	int has_duration;
	struct ft_pktgen_dist duration;
	int gap_exp;
	struct ft_pktgen_dist rtt;
	double rtt_server_share; /* part of the handshake RTT on the responder side */
	int handshake;
	enum ft_pktgen_teardown teardown;
	uint64_t idle_timeout_ns; /* 0: none */
	uint32_t ack_every;	  /* TCP/SCTP: pure ACK/SACK after this many data segments */
	uint16_t window;
	enum ft_pktgen_filler filler;
	uint32_t mtu; /* largest IP packet: bounds segments lengthened around patterns */
	unsigned n_place;
	struct ft_pktgen_place place[FT_PKTGEN_MAX_PLACE];
	unsigned n_path;
	struct ft_pktgen_path path[FT_PKTGEN_MAX_PATH];
	uint64_t malformed[FT_PKTGEN_MAL_MAX]; /* packets to inject over the class */
	unsigned line;			       /* where it was defined (messages) */
};

struct ft_pktgen_scenario {
	char *name;
	uint64_t seed;
	uint64_t start_time_ns;	  /* ns since the epoch of the first flow start */
	uint64_t idle_timeout_ns; /* default for classes */
	uint8_t mac_fwd_src[6];	  /* initiator MAC */
	uint8_t mac_fwd_dst[6];	  /* responder MAC */
	unsigned n_patterns;
	struct ft_pktgen_pattern *patterns;
	unsigned n_classes;
	struct ft_pktgen_class *classes;
};

/* A scenario with defaults and no class. NULL on ENOMEM. */
struct ft_pktgen_scenario *ft_pktgen_scenario_new(void);
void ft_pktgen_scenario_free(struct ft_pktgen_scenario *sc);

/* Read a scenario file (or text) into sc, adding its sections. */
int ft_pktgen_scenario_load(struct ft_pktgen_scenario *sc, const char *path, char *err,
			    size_t errlen);
int ft_pktgen_scenario_parse(struct ft_pktgen_scenario *sc, const char *text, const char *name,
			     char *err, size_t errlen);

/*
 * Set one key. section "" is [global]; "class NAME" and "pattern NAME" address
 * (and create) those sections. Used by the parser and the command line.
 */
int ft_pktgen_scenario_set(struct ft_pktgen_scenario *sc, const char *section, const char *key,
			   const char *value, char *err, size_t errlen);

/* Check consistency (unique 5-tuples across classes, pattern fits, timeouts). */
int ft_pktgen_scenario_validate(const struct ft_pktgen_scenario *sc, char *err, size_t errlen);

/* ---- generator ------------------------------------------------------------ */

/*
 * Where packets go. reserve() returns room for a frame of len bytes (NULL on
 * failure, which stops the run); commit() publishes it with its time.
 */
struct ft_pktgen_sink {
	uint8_t *(*reserve)(void *ctx, uint32_t len);
	int (*commit)(void *ctx, uint64_t ts_ns, uint32_t len);
	void *ctx;
};

enum ft_pktgen_truth_format {
	FT_PKTGEN_TRUTH_NONE = 0,
	FT_PKTGEN_TRUTH_JSON,  /* one JSON document */
	FT_PKTGEN_TRUTH_LINES, /* JSON lines: header, flows, totals */
};

struct ft_pktgen_stats {
	uint64_t packets; /* frames sent to the sink */
	uint64_t bytes;
	uint64_t flows;
	uint64_t flow_packets; /* packets flowtap counts in flows */
	uint64_t flow_bytes;
	uint64_t malformed[FT_PKTGEN_MAL_MAX];
	uint64_t malformed_not_placed; /* asked for, but no eligible flow followed */
	uint64_t first_ns, last_ns;
	uint64_t max_concurrent_flows;
};

struct ft_pktgen_run_opts {
	FILE *truth; /* NULL: no truth */
	enum ft_pktgen_truth_format truth_format;
	const char *pcap_name; /* recorded in the truth header */
};

/*
 * Generate the scenario into sink. Validates it first.
 * @return 0, -EINVAL (scenario; message in err), -ENOMEM, -EIO (sink or truth
 *         write failed)
 */
int ft_pktgen_run(const struct ft_pktgen_scenario *sc, const struct ft_pktgen_sink *sink,
		  const struct ft_pktgen_run_opts *opts, struct ft_pktgen_stats *stats, char *err,
		  size_t errlen);

/* ---- pcap writer ----------------------------------------------------------- */

struct ft_pktgen_pcap;

#define FT_PKTGEN_PCAP_MAGIC_NS 0xa1b23c4d
#define FT_PKTGEN_PCAP_SNAPLEN	262144

/*
 * Open a classic pcap writer (nanosecond magic, LINKTYPE_ETHERNET) on fd, which
 * it owns from now on ("-" handling is the caller's). Buffered; writes the file
 * header at once.
 * @return NULL with errno set on failure
 */
struct ft_pktgen_pcap *ft_pktgen_pcap_open_fd(int fd);
/* Open path for writing (truncate), "-" for stdout. */
struct ft_pktgen_pcap *ft_pktgen_pcap_open(const char *path);
/* A sink writing to the pcap. */
void ft_pktgen_pcap_sink(struct ft_pktgen_pcap *p, struct ft_pktgen_sink *sink);
/* Flush and close. @return 0 or -errno of the first failed write. */
int ft_pktgen_pcap_close(struct ft_pktgen_pcap *p);

/* ---- load mode (DPDK) ------------------------------------------------------ */

enum ft_pktgen_rate_kind {
	FT_PKTGEN_RATE_MAX = 0, /* as fast as the port takes them */
	FT_PKTGEN_RATE_PPS,
	FT_PKTGEN_RATE_BPS,	 /* frame bits (no preamble, IFG or FCS) */
	FT_PKTGEN_RATE_SCENARIO, /* the scenario's own packet times */
};

struct ft_pktgen_load_opts {
	uint16_t port;
	enum ft_pktgen_rate_kind rate_kind;
	double rate;
	uint32_t burst;		   /* packets per tx burst (<= 64) */
	uint32_t mbufs;		   /* mempool size */
	uint64_t stall_timeout_ns; /* give up on a port that takes nothing for this long */
	uint32_t repeat;	   /* run the scenario this many times (>= 1) */
};

/* Parse "max", "scenario", "1.5Mpps", "10kpps", "2Gbps", "100Mbps", "5000pps". */
int ft_pktgen_parse_rate(const char *s, enum ft_pktgen_rate_kind *kind, double *rate);

/*
 * Transmit through an initialised DPDK port (rte_eal_init done by the caller).
 * Writes the report as one JSON object to report.
 * @return 0, or -errno (port setup, generation)
 */
int ft_pktgen_load(const struct ft_pktgen_scenario *sc, const struct ft_pktgen_load_opts *lo,
		   const struct ft_pktgen_run_opts *opts, FILE *report, char *err, size_t errlen);

#endif /* FT_PKTGEN_H */
