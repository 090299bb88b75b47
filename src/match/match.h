/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Pattern matching with Hyperscan, per flow and direction, in stream mode.
 *
 * Three layers, each testable on its own:
 *
 *   rules     A rules file: Hyperscan's signature format (hsbench, hscheck),
 *             one `ID:/regex/flags` per line, followed by optional attributes
 *             (name, direction, protocol and port scope, metadata). Grammar in
 *             config/rules/README.md. Errors name the file, the line, the rule
 *             and, for patterns Hyperscan refuses, Hyperscan's own message.
 *
 *   database  The rules compiled twice, for stream mode (one stream per flow
 *             direction) and block mode (packet by packet), once per process,
 *             then shared read-only by every worker. Compiled databases are
 *             cached on disk, serialized, under a name derived from the cache
 *             key: Hyperscan's version, the CPU's platform (tune and features
 *             as hs_populate_platform() reports them) and the compiled rules
 *             (expressions, flags, extended parameters, ids; not names or
 *             scopes, which do not change the database). A cache file is used
 *             only when its whole key equals ours byte for byte, its checksum
 *             holds, and Hyperscan accepts it; anything else is ignored (and
 *             replaced).
 *
 *   worker    Per worker: a scratch (hs_clone_scratch), a pool of stream
 *             states, the TCP reassembler (src/reasm) and per-flow state in an
 *             array indexed by the flow table's index. Every TCP direction is
 *             fed in sequence order (src/reasm/reasm.h gives the policy); UDP
 *             and other protocols per packet (block mode) or as a stream of
 *             datagrams in capture order, by configuration. IP fragments are
 *             put together first (src/frag/defrag.h) and the whole datagram
 *             joins the flow of its first fragment, as one packet.
 *
 * Stream states without allocation. hs_open_stream() allocates; the hot path
 * must not. Each worker opens all its streams at creation, through a stream
 * allocator (hs_set_stream_allocator) that carves them out of one array on the
 * worker's NUMA socket; a flow direction takes one from the pool on its first
 * payload byte and gives it back at its end with hs_reset_stream(), which
 * reports end-of-data matches and leaves the state as new, in place. A
 * direction that finds the pool empty is scanned in block mode packet by packet
 * (or not at all: fallback "skip"), and counted.
 *
 * Chunked scanning. Hyperscan costs about 60 ns per call whatever the length,
 * more than scanning a 150-byte piece, so a stream direction's short pieces
 * (in-order TCP bytes, datagrams) are copied into a chunk buffer from a
 * per-worker pool and scanned together: on flowtap-pktgen's IMIX traffic, ten
 * times fewer calls. A buffer is scanned when the next piece does not fit, when
 * it has waited chunk_delay (checked at the direction's next piece and by
 * ft_match_tick() from the worker's loop, oldest first), and before a gap
 * resets the stream, at the depth and at the flow's end, so offsets and what
 * matches are exactly as without buffers. An event's time is the packet time
 * at which the bytes were scanned (the flow's last packet time when the tick
 * scans them); bytes count as scanned when they are. Pieces of a buffer's size
 * or more, and pieces that find the pool empty, are scanned at once.
 *
 * Rule ids. Databases are compiled with the rule's position in the file as the
 * Hyperscan id (logical combinations are rewritten accordingly), so a match
 * indexes the rule table directly; events carry the file's ID.
 *
 * Threading: rules and the database are read-only once built and shared; a
 * struct ft_match belongs to one worker. Nothing allocates, logs or makes a
 * syscall after ft_match_create(), except what the event callback does.
 */
#ifndef FT_MATCH_H
#define FT_MATCH_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hs/hs.h>

#include "export/export.h"
#include "flow/flow.h"
#include "frag/defrag.h"
#include "parse/parse.h"
#include "reasm/reasm.h"

/* ---------------------------------------------------------------- rules */

#define FT_RULES_MAX	 100000
#define FT_RULE_LINE_MAX 65536 /* bytes per line, newline excluded */

/* struct ft_rule.dir: which directions a rule looks at. */
#define FT_RULE_DIR_FWD	 0x01 /* to_server: initiator to responder */
#define FT_RULE_DIR_REV	 0x02 /* to_client */
#define FT_RULE_DIR_BOTH 0x03

struct ft_rule {
	uint32_t id;			    /* the signature's ID */
	uint32_t line;			    /* line in the rules file */
	unsigned hs_flags;		    /* HS_FLAG_* from the signature's flags */
	bool has_ext;			    /* ext holds {param=value,...} */
	bool any_proto;			    /* no proto= scope */
	uint8_t dir;			    /* FT_RULE_DIR_* */
	uint16_t nports;		    /* port= ranges (0: any port) */
	uint32_t ports;			    /* first range in struct ft_rules.ports */
	uint8_t protos[32];		    /* proto= scope: bitmap of IP protocol numbers */
	hs_expr_ext_t ext;		    /* Hyperscan extended parameters */
	char *expr;			    /* the pattern between the slashes, as compiled */
	char *text;			    /* the line as written (for messages) */
	char name[FT_EXPORT_RULE_NAME_LEN]; /* name=, default "ID" */
	char meta[FT_EXPORT_RULE_META_LEN]; /* meta=, default "" */
};

struct ft_port_range {
	uint16_t lo, hi;
};

struct ft_rules {
	char path[PATH_MAX];
	unsigned count;
	struct ft_rule *rule; /* in file order; index = Hyperscan id */
	struct ft_port_range *ports;
	unsigned nports;
	bool som; /* some rule reports start of match (flag L) */
};

/*
 * Read and check a rules file (patterns are not compiled here; see
 * ft_match_db_build()).
 *
 * @param path  the rules file
 * @param out   the rules, to free with ft_rules_free()
 * @param err   on failure: "FILE:LINE: rule 'TEXT': reason" (or "FILE: reason"
 *              for the file as a whole: unreadable, no rules, too many)
 * @return 0, or -1 with err filled
 */
int ft_rules_load(const char *path, struct ft_rules **out, char *err, size_t err_len);

/* Free rules (NULL is a no-op). */
void ft_rules_free(struct ft_rules *rules);

/* True when rule r applies to a flow of this IP protocol and responder port. */
bool ft_rule_scope(const struct ft_rules *rules, const struct ft_rule *r, uint8_t proto,
		   uint16_t server_port);

/* ---------------------------------------------------------------- database */

struct ft_match_db {
	const struct ft_rules *rules;
	hs_database_t *stream;	   /* HS_MODE_STREAM (| SOM horizon with flag L rules) */
	hs_database_t *block;	   /* HS_MODE_BLOCK */
	hs_scratch_t *scratch;	   /* fits both; workers clone it */
	size_t stream_state_bytes; /* hs_stream_size(): one stream's state */
	size_t stream_db_bytes;	   /* hs_database_size() */
	size_t block_db_bytes;
	uint64_t build_ns;	   /* compile time, or cache load time when from_cache */
	bool from_cache;	   /* loaded from cache_path */
	char cache_path[PATH_MAX]; /* the cache file (empty without a cache) */
	char cache_note[PATH_MAX +
			256]; /* why the cache was not used or not written ("" if fine) */
};

/*
 * Compile rules (or load them from the cache) for stream and block mode.
 *
 * @param rules      loaded rules; must outlive the database
 * @param cache_dir  folder of cached databases (created if missing); NULL or ""
 *                   for no cache. A cache that cannot be read or written is not
 *                   an error: db->cache_note says why.
 * @param out        the database, to free with ft_match_db_free()
 * @param err        on failure: "FILE:LINE: rule 'TEXT': Hyperscan: MESSAGE"
 *                   for a pattern Hyperscan refuses, else "FILE: Hyperscan: ..."
 * @return 0, or -1 with err filled
 */
int ft_match_db_build(const struct ft_rules *rules, const char *cache_dir, struct ft_match_db **out,
		      char *err, size_t err_len);

/* Free a database (NULL is a no-op). */
void ft_match_db_free(struct ft_match_db *db);

/* ---------------------------------------------------------------- per worker */

/* How a protocol's payload is scanned ([match] tcp, udp, other). */
enum ft_match_mode {
	FT_MATCH_STREAM = 0, /* one Hyperscan stream per direction (TCP: reassembled) */
	FT_MATCH_BLOCK,	     /* each packet's payload alone */
	FT_MATCH_OFF,	     /* not scanned */
};

/* What a direction does when no stream state is free ([match] no_stream). */
enum ft_match_fallback {
	FT_MATCH_FALLBACK_BLOCK = 0, /* scan its packets one by one (in sequence order for TCP) */
	FT_MATCH_FALLBACK_SKIP,	     /* do not scan it */
};

/* A match event, handed to params.emit (the worker puts it on its ring). */
typedef void (*ft_match_emit_fn)(void *ctx, const struct ft_match_record *ev);

struct ft_match_params {
	const struct ft_match_db *db;
	uint32_t flows;	  /* flow table capacity: flow indices are below it */
	uint32_t streams; /* stream states in the pool (0: none, every stream scan falls back) */
	uint64_t depth;	  /* bytes scanned per direction; 0: no limit */
	enum ft_match_mode tcp, udp, other;
	enum ft_match_fallback no_stream;
	uint32_t max_events_per_flow; /* events exported per flow; 0: no limit */
	uint32_t chunk_size;	      /* bytes per chunk buffer; 0: no chunks */
	uint32_t chunks;	      /* chunk buffers (0: none, every piece scanned at once) */
	uint64_t chunk_delay_ns;      /* most packet time a chunk waits to be scanned */
	struct ft_reasm_params reasm;
	/* IP defragmentation before matching (src/frag/defrag.h); datagrams 0:
	 * none, fragments are not scanned (counted in match_fragment_bytes). */
	struct ft_defrag_params defrag;
	int socket_id;
	ft_match_emit_fn emit;
	void *emit_ctx;
	uint64_t *rule_hits; /* db->rules->count counters of this worker */
};

struct ft_match;

/* Bytes ft_match_create() allocates for these parameters (scratch excluded). */
uint64_t ft_match_memory(const struct ft_match_params *params);

/* Per-flow bytes of matching state (excluding stream states). */
size_t ft_match_flow_state_bytes(void);

/*
 * Create a worker's matcher: per-flow state, stream pool (every stream opened
 * here), reassembler, scratch clone. Call from one thread at a time (it sets
 * Hyperscan's process-wide stream allocator for the duration).
 *
 * @return the matcher, or NULL with rte_errno set: EINVAL (bad params), ENOMEM
 */
struct ft_match *ft_match_create(const struct ft_match_params *params);

/* Free a matcher (NULL is a no-op). Live flows' state is dropped. */
void ft_match_free(struct ft_match *m);

/*
 * One packet of a live flow, in the flow's packet order (after
 * ft_flow_table_update_burst() gave its flow index).
 *
 * @param flow     the packet's flow entry
 * @param index    its index
 * @param pkt      the parsed packet (ts_ns set)
 * @param payload  pkt->payload_len contiguous payload bytes (NULL if none);
 *                 for an IP fragment (FT_PKT_F_FRAGMENT), its data:
 *                 ft_defrag_data_len(pkt) bytes from ft_defrag_data_offset(pkt)
 *                 in the frame (a first fragment's L4 header included)
 */
void ft_match_packet(struct ft_match *m, const struct ft_flow *flow, uint32_t index,
		     const struct ft_pkt *pkt, const uint8_t *payload);

/* A packet's payload that could not be read (never expected), or bytes a
 * failed Hyperscan call did not scan: counted with the scan errors, so that no
 * payload byte goes uncounted. */
void ft_match_unreadable(struct ft_match *m, uint32_t len);

/*
 * A flow ends: deliver what its directions hold (holes as gaps), close its
 * streams (end-of-data matches are reported, at the flow's last packet time),
 * write its match summary and reset the index's state for the next flow.
 * Events go out before this returns: write the flow's record afterwards.
 */
void ft_match_flow_end(struct ft_match *m, const struct ft_flow *flow, uint32_t index,
		       struct ft_flow_match *summary);

/*
 * A long flow's periodic record (active timeout, FT_END_ACTIVE): write the
 * summary of its segment since its previous record; the flow goes on, its
 * streams untouched. A flow's records' summaries sum to its totals.
 */
void ft_match_flow_segment(struct ft_match *m, uint32_t index, struct ft_flow_match *summary);

/* Chunk buffers scanned per ft_match_tick() at most. */
#define FT_MATCH_TICK_MAX 32

/*
 * Scan the chunk buffers that have waited chunk_delay or more at now_ns (at
 * most FT_MATCH_TICK_MAX of them); their events carry their flow's last packet
 * time. Also gives up IP datagrams whose fragment timeout is over (a few
 * contexts per call, ft_defrag_expire()). Call from the worker's loop.
 *
 * @return how many buffers were scanned and datagrams given up
 */
unsigned ft_match_tick(struct ft_match *m, uint64_t now_ns);

/* The input is over: datagrams still incomplete are given up (counted). Call
 * before the flows' final ends. */
void ft_match_input_end(struct ft_match *m);

/* Copy the matcher's counters into the match_* and reasm_* fields of c. */
void ft_match_counters(const struct ft_match *m, struct ft_worker_counters *c);

#endif /* FT_MATCH_H */
