/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Configuration: an INI file (config/flowtap.ini documents every key at its
 * default) plus command-line overrides, parsed and validated once into a struct
 * ft_config that the rest of the dataplane only reads.
 *
 * Why not rte_cfgfile: it drops line numbers, and every error here must name the
 * file, the line and the key. The syntax is the same as rte_cfgfile's: [section],
 * key = value, comments from ';' or '#' at the start of a line or after
 * whitespace.
 *
 * Errors are returned as text ("FILE:LINE: [section] key: reason") for the caller
 * to print; the dataplane exits with status 2 on any of them, before touching a
 * port.
 */
#ifndef FT_CFG_H
#define FT_CFG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "export/export.h"
#include "flow/flow.h"

#define FT_CFG_MAX_PORTS  FT_EXPORT_MAX_PORTS
#define FT_CFG_NAME_LEN	  FT_EXPORT_NAME_LEN
#define FT_CFG_DEVARGS_LEN 512
#define FT_CFG_FILTER_LEN  1024
#define FT_CFG_ERR_LEN	  (PATH_MAX + 512)

enum ft_port_kind {
	FT_PORT_PCAP,	/* replay a capture file through net_pcap */
	FT_PORT_DEVICE, /* any DPDK device: PCI address or vdev devargs */
};

enum ft_clock_mode {
	FT_CLOCK_AUTO,	 /* packet time for capture files, TSC otherwise */
	FT_CLOCK_PACKET, /* the timestamp the PMD puts in the mbuf */
	FT_CLOCK_TSC,	 /* arrival time from the TSC */
};

enum ft_overflow_cfg {
	FT_OVERFLOW_CFG_AUTO, /* backpressure when every input is a finite file, else drop */
	FT_OVERFLOW_CFG_DROP,
	FT_OVERFLOW_CFG_BACKPRESSURE,
};

/* [dataplane] dispatch_hash: what spreads packets over workers. */
enum ft_dispatch_hash_cfg {
	FT_DISPATCH_CFG_FLOW,	/* the flow key: addresses, ports, protocol, VLANs */
	FT_DISPATCH_CFG_IPPAIR, /* the address pair and VLANs only */
};

/* [match] tcp, udp, other: values are enum ft_match_mode's (src/match/match.h). */
enum ft_match_mode_cfg {
	FT_MATCH_CFG_STREAM,
	FT_MATCH_CFG_BLOCK,
	FT_MATCH_CFG_OFF,
};

/* [match] no_stream: values are enum ft_match_fallback's. */
enum ft_match_fallback_cfg {
	FT_MATCH_CFG_FALLBACK_BLOCK,
	FT_MATCH_CFG_FALLBACK_SKIP,
};

/* Where a value came from, for later errors (e.g. the device would not start). */
struct ft_cfg_origin {
	char file[PATH_MAX]; /* config file, or "command line" */
	unsigned line;	     /* 0 for the command line */
};

struct ft_port_config {
	char name[FT_CFG_NAME_LEN]; /* from the section name [port.NAME] */
	enum ft_port_kind kind;
	char pcap[PATH_MAX];		 /* FT_PORT_PCAP: absolute path */
	bool pcap_loop;			 /* FT_PORT_PCAP: replay forever from memory */
	char device[FT_CFG_DEVARGS_LEN]; /* FT_PORT_DEVICE: devargs */
	uint16_t rx_queues;		 /* 0: auto */
	uint16_t rx_descriptors;
	bool promiscuous;
	enum ft_clock_mode clock;
	struct ft_cfg_origin origin; /* of the pcap/device key */
	char filter[FT_CFG_FILTER_LEN];	    /* pcap-filter(7) expression, "" for none */
	struct ft_cfg_origin filter_origin; /* of the filter key */
};

struct ft_config {
	char source[PATH_MAX]; /* the config file, or "" for built-in defaults */

	/* [dataplane] */
	char instance[FT_CFG_NAME_LEN];
	uint16_t burst_size;
	uint32_t mbufs; /* per port; 0: sized from queues, descriptors and workers */
	uint32_t mbuf_cache;
	uint32_t mbuf_size; /* data room per mbuf, headroom included */
	uint32_t dispatch_ring_size;
	enum ft_dispatch_hash_cfg dispatch_hash;
	double replay_speed;	 /* capture files: 0 as fast as possible, 1 capture pace */
	uint64_t replay_max_gap_ns; /* paced replay: longer gaps between packets shrink */

	/* [export] */
	uint32_t ring_size;
	enum ft_overflow_cfg overflow;
	uint32_t shm_mode;
	char shm_group[FT_CFG_NAME_LEN];
	uint64_t linger_ns;
	uint64_t wait_collector_ns;

	/* [flow] */
	uint32_t flow_capacity;
	uint32_t expiry_budget;
	struct ft_flow_timeouts timeouts;
	uint64_t active_timeout_ns;
	enum ft_flow_full_policy full_policy;
	double emergency_enter;
	double emergency_leave;
	double emergency_factor;
	uint32_t fragment_table_size;
	uint64_t fragment_timeout_ns;
	uint64_t fragment_wait_ns; /* a later fragment waits for its first; 0: not */
	unsigned tunnels;	   /* looked into: 1 << (enum ft_tunnel - 1) bits */

	/* [stats] */
	bool stats_enable;
	uint64_t stats_bucket_ns;   /* per-flow window bucket width */
	uint32_t stats_buckets;	    /* per-flow window buckets */
	uint64_t stats_interval_ns; /* export interval: a multiple of bucket and of 100 ms */
	uint32_t stats_topk;	    /* heavy hitters per interval (0: none) */
	bool stats_histograms;
	/* [match] */
	char match_rules[PATH_MAX];	/* rules file (absolute), "" for no matching */
	char match_cache_dir[PATH_MAX]; /* compiled databases; "" for no cache */
	uint32_t match_streams;		/* stream states per worker */
	uint64_t match_depth;		/* bytes scanned per flow direction; 0: all */
	enum ft_match_mode_cfg match_tcp, match_udp, match_other;
	enum ft_match_fallback_cfg match_no_stream;
	uint64_t match_reorder_memory;	   /* per worker, bytes */
	uint32_t match_reorder_flow_bytes; /* per flow direction */
	uint32_t match_max_events_per_flow;
	uint32_t match_chunk_size;     /* bytes per chunk buffer; 0: no chunks */
	uint64_t match_chunk_memory;   /* chunk buffers per worker, bytes */
	uint64_t match_chunk_delay_ns; /* most a chunk waits to be scanned */
	uint32_t match_defrag_datagrams; /* IP datagrams put together at once; 0: none */
	uint64_t match_defrag_memory;	 /* bytes of their blocks, per worker */

	unsigned port_count;
	struct ft_port_config ports[FT_CFG_MAX_PORTS];
};

/* Fill every field with its documented default (no ports). */
void ft_config_defaults(struct ft_config *cfg);

/*
 * Read an INI file on top of cfg. Unknown sections or keys, duplicate keys, bad
 * values and missing capture files are errors.
 *
 * @return 0, or -1 with err filled ("FILE:LINE: [section] key: reason")
 */
int ft_config_load(struct ft_config *cfg, const char *path, char *err, size_t err_len);

/*
 * Apply one command-line override "SECTION.KEY=VALUE" (the section is everything
 * before the last '.', so "port.0.pcap=x.pcap" sets [port.0] pcap). Relative
 * paths are taken from the current directory.
 *
 * @return 0, or -1 with err filled
 */
int ft_config_set(struct ft_config *cfg, const char *assignment, char *err, size_t err_len);

/*
 * Replace every configured port by one replaying a capture file (flowtap
 * --pcap FILE, as `suricata -r`).
 *
 * @return 0, or -1 with err filled (file missing or unreadable)
 */
int ft_config_set_pcap(struct ft_config *cfg, const char *path, char *err, size_t err_len);

/*
 * Give every configured port the capture filter expr (flowtap --filter EXPR,
 * as tcpdump's expression). Compiled, per port's link type, by ft_port_plan().
 *
 * @return 0, or -1 with err filled (too long)
 */
int ft_config_set_filter(struct ft_config *cfg, const char *expr, char *err, size_t err_len);

/*
 * Checks across keys, once everything is loaded (at least one port, ...).
 *
 * @return 0, or -1 with err filled
 */
int ft_config_validate(const struct ft_config *cfg, char *err, size_t err_len);

/*
 * The known keys, for documentation checks: key i (from 0) of section
 * *section ("port" stands for every [port.NAME]).
 *
 * @return the key name, or NULL past the last key
 */
const char *ft_config_key(unsigned i, const char **section);

/* True when every port reads a finite capture file (not looping). */
bool ft_config_all_finite(const struct ft_config *cfg);

#endif /* FT_CFG_H */
