/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Input ports: from configuration to started ethdevs.
 *
 * Before EAL: ft_port_plan() scans capture files (packet and byte totals, link
 * type, time span) and turns the ports into EAL arguments (--vdev for vdevs and
 * capture files, -a for PCI devices), so EAL probes exactly the configured
 * devices and nothing else. After EAL: ft_port_start() configures each port
 * (queues, symmetric RSS when the device has RSS and more than one queue, one
 * mempool per port, timestamps) and decides how its queues map to workers.
 *
 * Distribution: a port with at least as many queues as workers gives each
 * worker its own queues, when the queues keep both directions of a flow
 * together: RSS flowtap set with its symmetric key and read back, or, for
 * AF_XDP, the kernel interface's RSS found symmetric through ethtool. Otherwise
 * (fewer queues than workers: capture files, single-queue vdevs; or queues
 * filled by some other rule: AF_PACKET's fanout, which rolls packets over to
 * another queue when one is full, or an AF_XDP interface with an asymmetric or
 * unknown RSS) the worker owning each queue spreads packets to all workers by
 * the symmetric flow hash (software dispatch).
 */
#ifndef FT_PORT_H
#define FT_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include <pcap/pcap.h>
#include <rte_mempool.h>

#include "cfg/cfg.h"
#include "export/export.h"
#include "parse/parse.h"

#define FT_PORT_MAX_QUEUES 64

/*
 * Private area of every mbuf (struct ft_pkt), a whole number of cache lines so
 * that the packet data (after the mbuf, this area and the headroom) starts on a
 * cache line as it does without one: a 64-byte frame then fills one line instead
 * of straddling two, for the NIC's DMA and for every copy (net_pcap's replay:
 * 19-20 Mpps instead of 15-16 on one worker, tools/bench/rx.sh at 1k flows).
 */
#define FT_PORT_MBUF_PRIV_SIZE RTE_ALIGN_CEIL(sizeof(struct ft_pkt), RTE_CACHE_LINE_SIZE)

/* Totals of a capture file, from its record headers. */
struct ft_pcap_info {
	uint64_t packets;
	uint64_t bytes;		 /* original lengths (capinfos' "Data size") */
	uint64_t captured_bytes; /* captured lengths: what net_pcap delivers */
	uint64_t first_ns;
	uint64_t last_ns;	 /* latest timestamp in the file (files need not be sorted) */
	uint32_t max_caplen;
	uint32_t max_len;    /* the longest record's original length */
	uint32_t cut_caplen; /* the shortest record the snaplen cut (captured
				less than its length): 0 if none was cut */
	uint32_t linktype; /* LINKTYPE_* */
	bool cut_short;	   /* the file ends inside a record (what precedes is replayed) */
};

struct ft_port {
	const struct ft_port_config *cfg;
	char dev_name[64]; /* ethdev name EAL gives the device */
	uint16_t port_id;
	uint16_t rx_queues;
	bool dispatch;	   /* software dispatch: fewer queues than workers, or
			      queues filled by no hash known to be symmetric */
	bool packet_clock; /* flow time from the mbuf timestamp */
	bool is_file;	   /* finite capture file (not looping) */
	enum ft_link_type link;
	struct ft_pcap_info file; /* for capture-file ports */
	struct bpf_program filter; /* [port.NAME] filter, compiled for link (has_filter) */
	bool has_filter;
	struct rte_mempool *pool;
	uint16_t queue_worker[FT_PORT_MAX_QUEUES]; /* worker that polls each queue */
};

/*
 * Scan a capture file with libpcap. A file that ends inside a record (a capture
 * cut short) counts the records before the cut, as capinfos does, and sets
 * cut_short: net_pcap stops at the same place.
 *
 * @return 0, or -1 with err filled (unreadable)
 */
int ft_pcap_scan(const char *path, struct ft_pcap_info *info, char *err, size_t err_len);

/*
 * Everything that must happen before EAL: scan capture files, check link types
 * and the clock mode, compile capture filters (ft_port_free_filters() frees
 * them), and append the device arguments EAL needs to eal_argv
 * (strings owned by ports[]; *eal_argc grows).
 *
 * @param pci_wanted  out: true if some port is a PCI device
 * @return 0, or -1 with err naming the file and line of the port's key
 */
int ft_port_plan(const struct ft_config *cfg, struct ft_port *ports, char **eal_argv,
		 int *eal_argc, int eal_argv_max, bool *pci_wanted, char *err, size_t err_len);

/* Snap length capture filters are compiled for (as tcpdump's default). */
#define FT_PORT_FILTER_SNAPLEN 262144

/* Free what ft_port_plan() compiled (capture filters); ports stay usable
 * otherwise. Safe to call twice. */
void ft_port_free_filters(struct ft_port *ports, unsigned count);

/* Mbufs a port's pool needs for `workers` workers (config mbufs = 0: auto). */
uint32_t ft_port_pool_size(const struct ft_config *cfg, const struct ft_port *port,
			   unsigned workers);

/*
 * Configure and start every port after rte_eal_init(): find it, pick queue
 * count, set up symmetric RSS, pools and rx queues, assign queues to workers.
 *
 * @param ts_offset, ts_flag  out: mbuf timestamp dynfield and flag (packet
 *        clock), -1/0 when no port uses the packet clock
 * @return 0, or -1 with err filled
 */
int ft_port_start(const struct ft_config *cfg, struct ft_port *ports, unsigned workers,
		  int *ts_offset, uint64_t *ts_flag, char *err, size_t err_len);

/* Copy ethdev statistics and file totals into the export header's port block. */
void ft_port_read_stats(const struct ft_port *port, struct ft_port_counters *out);

/* Sum of ipackets + ierrors + rx_nombuf: packets the port has taken from its
 * source, delivered or not. For a capture file, equal to its packet count once
 * the whole file was read. */
uint64_t ft_port_consumed(const struct ft_port *port);

/*
 * Is Toeplitz hashing with this key symmetric, i.e. does (a, b) hash as (b, a)
 * for IPv4 and IPv6 addresses, with and without ports? Checked on sample
 * tuples with DPDK's software Toeplitz (rte_softrss).
 *
 * @return 1 if symmetric on every sample, 0 if not or if len < 40 (IPv6 with
 *         ports needs 40 bytes of key)
 */
int ft_rss_key_symmetric(const uint8_t *key, unsigned len);

/*
 * The RSS a kernel interface's driver applies (ethtool -x and -n): for AF_XDP
 * ports, whose queues are the interface's, filled by the NIC's RSS.
 */
#define FT_RSS_KERNEL_FLOW_TYPES 4 /* TCP and UDP over IPv4 and IPv6 */
struct ft_rss_kernel {
	uint32_t hfunc; /* hash function bits (ETHTOOL_GRSSH): 1 = Toeplitz */
	uint32_t key_len;
	uint8_t key[256];
	uint64_t fields[FT_RSS_KERNEL_FLOW_TYPES]; /* RXH_* bits per flow type (ETHTOOL_GRXFH) */
};

/*
 * Does this kernel RSS keep both directions of a flow on one queue? Yes for a
 * Toeplitz hash with a symmetric key over fields that come in pairs (both
 * addresses or neither, both ports or neither, no destination MAC).
 *
 * @return 1 yes, 0 no (why says what is wrong and how to fix it)
 */
int ft_rss_kernel_symmetric(const struct ft_rss_kernel *k, const char *iface, char *why,
			    size_t why_len);

/*
 * Read an interface's RSS through the ethtool ioctls.
 *
 * @return 0, or -1 with why filled (no such interface, or its driver does not
 *         report RSS: veth, for one)
 */
int ft_rss_kernel_read(const char *iface, struct ft_rss_kernel *k, char *why, size_t why_len);

/* Stop and close every started port (detaches XDP programs, closes files). */
void ft_port_close_all(struct ft_port *ports, unsigned count);

#endif /* FT_PORT_H */
