/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <pcap/pcap.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_thash.h>

#include "common/common.h"
#include "frag/frag.h"
#include "port/port.h"

RTE_LOG_REGISTER_SUFFIX(ft_logtype_port, port, INFO);

/* The well-known symmetric Toeplitz key: 0x6d5a repeated makes the hash of
 * (a, b) equal the hash of (b, a), so both directions of a flow reach one queue. */
static const uint8_t symmetric_rss_byte[2] = {0x6d, 0x5a};

/* libpcap reports DLT_* values; captures store LINKTYPE_*. They differ for raw IP. */
static uint32_t
dlt_to_linktype(int dlt)
{
#ifdef DLT_RAW
	if (dlt == DLT_RAW)
		return FT_LINK_RAW;
#endif
	return (uint32_t)dlt;
}

int
ft_pcap_scan(const char *path, struct ft_pcap_info *info, char *err, size_t err_len)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *pc;
	int rc;

	memset(info, 0, sizeof(*info));
	/* Microseconds, as net_pcap opens it, so file times and mbuf times agree. */
	pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
	if (pc == NULL) {
		snprintf(err, err_len, "cannot read capture '%s': %s", path, errbuf);
		return -1;
	}
	info->linktype = dlt_to_linktype(pcap_datalink(pc));
	info->first_ns = UINT64_MAX;
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
		uint64_t ns = (uint64_t)h->ts.tv_sec * FT_NSEC_PER_SEC +
			      (uint64_t)h->ts.tv_usec * 1000;

		info->packets++;
		info->bytes += h->len;
		info->captured_bytes += h->caplen;
		if (h->caplen > info->max_caplen)
			info->max_caplen = h->caplen;
		if (h->len > info->max_len)
			info->max_len = h->len;
		if (h->len > h->caplen && (info->cut_caplen == 0 || h->caplen < info->cut_caplen))
			info->cut_caplen = h->caplen;
		if (ns < info->first_ns)
			info->first_ns = ns;
		if (ns > info->last_ns)
			info->last_ns = ns;
	}
	if (rc == PCAP_ERROR) {
		if (info->packets == 0) {
			snprintf(err, err_len, "capture '%s': first record: %s", path,
				 pcap_geterr(pc));
			pcap_close(pc);
			return -1;
		}
		FT_LOG(ft_logtype_port, WARNING,
		       "capture '%s' is cut short after record %" PRIu64 " (%s): replaying the %" PRIu64
		       " complete records",
		       path, info->packets, pcap_geterr(pc), info->packets);
		info->cut_short = true;
	}
	pcap_close(pc);
	if (info->packets == 0)
		info->first_ns = 0;
	return 0;
}

static int
is_vdev(const char *devargs)
{
	static const char *const prefixes[] = {"net_", "eth_", "crypto_", "event_", "baseband_"};

	for (size_t i = 0; i < RTE_DIM(prefixes); i++)
		if (strncmp(devargs, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	return 0;
}

/* "FILE:LINE: [port.NAME]" (no line for the command line). */
static void
origin_prefix(char *buf, size_t len, const struct ft_cfg_origin *o, const char *port)
{
	if (o->line > 0)
		snprintf(buf, len, "%s:%u: [port.%s]", o->file, o->line, port);
	else
		snprintf(buf, len, "%s: [port.%s]", o->file, port);
}

static int __attribute__((format(printf, 4, 5)))
port_fail(char *err, size_t err_len, const struct ft_port_config *pc, const char *fmt, ...)
{
	char why[PATH_MAX + 256], where[PATH_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	origin_prefix(where, sizeof(where), &pc->origin, pc->name);
	snprintf(err, err_len, "%s: %s", where, why);
	return -1;
}

/*
 * Compile a port's capture filter for its link type with libpcap (optimised,
 * as tcpdump does): the worker runs it with bpf_filter(), libpcap's own
 * interpreter, so a filter means exactly what it means to tcpdump. A capture
 * file's filter is compiled on the file opened, as tcpdump -r does: a BSD
 * loopback header is in the byte order of the machine that wrote the file,
 * which libpcap then knows. No netmask is known, so 'ip broadcast' is refused,
 * as by tcpdump -i any.
 */
static int
filter_compile(struct ft_port *p, const struct ft_port_config *pc, char *err, size_t err_len)
{
	char where[PATH_MAX + 64];
	pcap_t *pd;
	int rc;

	origin_prefix(where, sizeof(where), &pc->filter_origin, pc->name);
	if (pc->kind == FT_PORT_PCAP) {
		char errbuf[PCAP_ERRBUF_SIZE];

		pd = pcap_open_offline(pc->pcap, errbuf);
		if (pd == NULL) {
			snprintf(err, err_len, "%s filter: cannot read capture '%s': %s", where,
				 pc->pcap, errbuf);
			return -1;
		}
	} else {
		/* Devices deliver Ethernet frames. */
		pd = pcap_open_dead(DLT_EN10MB, FT_PORT_FILTER_SNAPLEN);
		if (pd == NULL) {
			snprintf(err, err_len, "%s filter: out of memory", where);
			return -1;
		}
	}
	rc = pcap_compile(pd, &p->filter, pc->filter, 1, PCAP_NETMASK_UNKNOWN);
	if (rc != 0) {
		snprintf(err, err_len, "%s filter: '%s': %s (link type %s)", where, pc->filter,
			 pcap_geterr(pd),
			 pcap_datalink_val_to_name(pcap_datalink(pd)) ?: "unknown");
	} else if (p->filter.bf_len == 1 && p->filter.bf_insns[0].code == (BPF_RET | BPF_K) &&
		   p->filter.bf_insns[0].k == 0) {
		/* As tcpdump: almost certainly not what was meant (e.g. tcp[13]
		 * on IPv6, which libpcap cannot index). */
		snprintf(err, err_len,
			 "%s filter: '%s': expression rejects all packets (link type %s)", where,
			 pc->filter, pcap_datalink_val_to_name(pcap_datalink(pd)) ?: "unknown");
		pcap_freecode(&p->filter);
		rc = -1;
	} else {
		p->has_filter = true;
	}
	pcap_close(pd);
	return rc == 0 ? 0 : -1;
}

void
ft_port_free_filters(struct ft_port *ports, unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		if (ports[i].has_filter)
			pcap_freecode(&ports[i].filter);
		ports[i].has_filter = false;
	}
}

static int
plan(const struct ft_config *cfg, struct ft_port *ports, char **eal_argv, int *eal_argc,
     int eal_argv_max, bool *pci_wanted, char *err, size_t err_len)
{
	static char args[FT_CFG_MAX_PORTS][PATH_MAX + 128];
	int clock_packet = -1;

	*pci_wanted = false;
	for (unsigned i = 0; i < cfg->port_count; i++) {
		const struct ft_port_config *pc = &cfg->ports[i];
		struct ft_port *p = &ports[i];
		char why[PATH_MAX + 256];
		bool packet_clock;

		p->cfg = pc; /* ft_port_plan() zeroed ports[] */
		p->link = FT_LINK_ETHERNET;
		if (*eal_argc + 2 >= eal_argv_max)
			return port_fail(err, err_len, pc, "too many EAL arguments");

		if (pc->kind == FT_PORT_PCAP) {
			if (strpbrk(pc->pcap, ",=") != NULL)
				return port_fail(err, err_len, pc,
						 "pcap path '%s' contains ',' or '=', which DPDK "
						 "device arguments cannot carry; rename or link it",
						 pc->pcap);
			if (ft_pcap_scan(pc->pcap, &p->file, why, sizeof(why)) != 0)
				return port_fail(err, err_len, pc, "pcap: %s", why);
			if (!ft_parse_link_supported(p->file.linktype))
				return port_fail(err, err_len, pc,
						 "pcap: '%s' has link type %u (%s), which flowtap "
						 "does not decode (supported: Ethernet, Linux SLL and "
						 "SLL2, BSD NULL/LOOP, raw IPv4/IPv6)",
						 pc->pcap, p->file.linktype,
						 pcap_datalink_val_to_name((int)p->file.linktype)
							 ?: "unknown");
			/* net_pcap's infinite_rx keeps each frame in one mbuf and
			 * refuses the queue otherwise ("Multiseg mbufs are not
			 * supported"): say why, and what to set, before EAL. */
			if (pc->pcap_loop &&
			    p->file.max_caplen > cfg->mbuf_size - RTE_PKTMBUF_HEADROOM)
				return port_fail(err, err_len, pc,
						 "pcap_loop keeps every frame in one mbuf, and "
						 "'%s' holds a frame of %u bytes: set [dataplane] "
						 "mbuf_size to at least %u (now %u; at most 65535)",
						 pc->pcap, p->file.max_caplen,
						 p->file.max_caplen + RTE_PKTMBUF_HEADROOM,
						 cfg->mbuf_size);
			p->link = (enum ft_link_type)p->file.linktype;
			p->is_file = !pc->pcap_loop;
			snprintf(p->dev_name, sizeof(p->dev_name), "net_pcap_ft%u", i);
			snprintf(args[i], sizeof(args[i]), "--vdev=%s,rx_pcap=%s%s", p->dev_name,
				 pc->pcap, pc->pcap_loop ? ",infinite_rx=1" : "");
		} else if (is_vdev(pc->device)) {
			size_t n = strcspn(pc->device, ",");

			snprintf(p->dev_name, sizeof(p->dev_name), "%.*s", (int)n, pc->device);
			snprintf(args[i], sizeof(args[i]), "--vdev=%s", pc->device);
		} else {
			size_t n = strcspn(pc->device, ",");

			snprintf(p->dev_name, sizeof(p->dev_name), "%.*s", (int)n, pc->device);
			snprintf(args[i], sizeof(args[i]), "--allow=%s", pc->device);
			*pci_wanted = true;
		}
		eal_argv[(*eal_argc)++] = args[i];

		switch (pc->clock) {
		case FT_CLOCK_PACKET:
			packet_clock = true;
			break;
		case FT_CLOCK_TSC:
			packet_clock = false;
			break;
		default:
			packet_clock = p->is_file;
			break;
		}
		if (packet_clock && !(pc->kind == FT_PORT_PCAP && !pc->pcap_loop))
			return port_fail(err, err_len, pc,
					 "clock = packet needs a capture file port without "
					 "pcap_loop (other devices give no capture timestamps)");
		if (clock_packet >= 0 && clock_packet != packet_clock)
			return port_fail(err, err_len, pc,
					 "ports mix packet time (capture files) and arrival time; "
					 "flows need one clock: set clock = tsc on the file ports");
		clock_packet = packet_clock;
		p->packet_clock = packet_clock;
		if (pc->filter[0] != '\0' && filter_compile(p, pc, err, err_len) != 0)
			return -1;
	}
	return 0;
}

int
ft_port_plan(const struct ft_config *cfg, struct ft_port *ports, char **eal_argv, int *eal_argc,
	     int eal_argv_max, bool *pci_wanted, char *err, size_t err_len)
{
	memset(ports, 0, cfg->port_count * sizeof(*ports));
	if (plan(cfg, ports, eal_argv, eal_argc, eal_argv_max, pci_wanted, err, err_len) == 0)
		return 0;
	ft_port_free_filters(ports, cfg->port_count);
	return -1;
}

uint32_t
ft_port_pool_size(const struct ft_config *cfg, const struct ft_port *p, unsigned workers)
{
	const uint64_t queues = p->rx_queues > 0 ? p->rx_queues : 1;
	const uint64_t owners = RTE_MIN(queues, (uint64_t)workers);
	uint64_t n;

	if (cfg->mbufs != 0)
		return cfg->mbufs;
	/* Descriptors, plus what workers hold in flight (a burst each, the
	 * dispatch rings from each queue's owner to every other worker, full, and
	 * the later fragments each owner keeps waiting for their first), plus
	 * per-lcore caches, plus chains for the largest frame a capture holds. */
	n = queues * p->cfg->rx_descriptors + (uint64_t)workers * cfg->burst_size * 4 +
	    owners * FT_FRAG_WAIT_MAX +
	    (p->dispatch ? owners * (workers - 1) * cfg->dispatch_ring_size : 0) +
	    (uint64_t)(workers + 1) * cfg->mbuf_cache + 1024 +
	    (uint64_t)cfg->burst_size *
		    (p->file.max_caplen / (cfg->mbuf_size - RTE_PKTMBUF_HEADROOM) + 1);
	if (p->cfg->kind == FT_PORT_PCAP && p->cfg->pcap_loop)
		n += p->file.packets; /* infinite_rx keeps the whole file in mbufs */
	return (uint32_t)RTE_MIN(n, (uint64_t)UINT32_MAX);
}

int
ft_rss_key_symmetric(const uint8_t *key, unsigned len)
{
	uint64_t s = 0x9e3779b97f4a7c15ULL;

	if (len < 40)
		return 0;
	for (unsigned n = 0; n < 64; n++) {
		uint32_t a[9], b[9];

		for (unsigned i = 0; i < 9; i++) {
			s ^= s << 13, s ^= s >> 7, s ^= s << 17;
			a[i] = (uint32_t)s;
		}
		/* IPv4: src, dst, ports; IPv6: src[4], dst[4], ports. Swapped. */
		b[0] = a[1], b[1] = a[0], b[2] = a[2] << 16 | a[2] >> 16;
		if (rte_softrss(a, 2, key) != rte_softrss(b, 2, key) ||
		    rte_softrss(a, 3, key) != rte_softrss(b, 3, key))
			return 0;
		for (unsigned i = 0; i < 4; i++)
			b[i] = a[4 + i], b[4 + i] = a[i];
		b[8] = a[8] << 16 | a[8] >> 16;
		if (rte_softrss(a, 8, key) != rte_softrss(b, 8, key) ||
		    rte_softrss(a, 9, key) != rte_softrss(b, 9, key))
			return 0;
	}
	return 1;
}

/* The kernel's ETH_RSS_HASH_TOP (bit 0 of ethtool_rxfh.hfunc), which its uapi
 * header does not define. */
#define RSS_HASH_TOEPLITZ 0x1u

static const uint32_t rss_kernel_flow_types[FT_RSS_KERNEL_FLOW_TYPES] = {TCP_V4_FLOW, UDP_V4_FLOW,
									 TCP_V6_FLOW, UDP_V6_FLOW};
static const char *const rss_kernel_flow_names[FT_RSS_KERNEL_FLOW_TYPES] = {"tcp4", "udp4", "tcp6",
									    "udp6"};

/* "6d:5a:6d:5a:...": the symmetric key as ethtool -X hkey takes it. */
static void
symmetric_hkey(unsigned len, char *out, size_t out_len)
{
	size_t off = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < len && off + 4 < out_len; i++)
		off += (size_t)snprintf(out + off, out_len - off, "%s%02x", i ? ":" : "",
					symmetric_rss_byte[i & 1]);
}

int
ft_rss_kernel_symmetric(const struct ft_rss_kernel *k, const char *iface, char *why, size_t why_len)
{
	char hkey[256 * 3 + 1];

	if (!(k->hfunc & RSS_HASH_TOEPLITZ)) {
		snprintf(why, why_len,
			 "%s hashes with RSS function 0x%x, not Toeplitz (ethtool -X %s hfunc "
			 "toeplitz)",
			 iface, k->hfunc, iface);
		return 0;
	}
	if (!ft_rss_key_symmetric(k->key, k->key_len)) {
		symmetric_hkey(k->key_len >= 40 ? k->key_len : 40, hkey, sizeof(hkey));
		snprintf(why, why_len, "the RSS key of %s is not symmetric (ethtool -X %s hkey %s)",
			 iface, iface, hkey);
		return 0;
	}
	for (unsigned t = 0; t < FT_RSS_KERNEL_FLOW_TYPES; t++) {
		uint64_t f = k->fields[t];

		if (!(f & RXH_IP_SRC) != !(f & RXH_IP_DST) ||
		    !(f & RXH_L4_B_0_1) != !(f & RXH_L4_B_2_3) || (f & RXH_L2DA)) {
			snprintf(why, why_len,
				 "%s hashes %s on fields 0x%" PRIx64 ", not in pairs (ethtool -N "
				 "%s rx-flow-hash %s sdfn)",
				 iface, rss_kernel_flow_names[t], f, iface,
				 rss_kernel_flow_names[t]);
			return 0;
		}
	}
	return 1;
}

int
ft_rss_kernel_read(const char *iface, struct ft_rss_kernel *k, char *why, size_t why_len)
{
	struct ethtool_rxfh head = {.cmd = ETHTOOL_GRSSH};
	struct ethtool_rxfh *rxfh = NULL;
	struct ifreq ifr;
	int fd, rc = -1;

	memset(k, 0, sizeof(*k));
	if (strlen(iface) >= sizeof(ifr.ifr_name)) {
		snprintf(why, why_len, "interface name '%s' is too long", iface);
		return -1;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		snprintf(why, why_len, "socket: %s", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", iface);
	ifr.ifr_data = (void *)&head;
	if (ioctl(fd, SIOCETHTOOL, &ifr) != 0) {
		snprintf(why, why_len, "cannot read the RSS key of %s (%s)", iface,
			 strerror(errno));
		goto out;
	}
	if (head.key_size == 0 || head.key_size > sizeof(k->key)) {
		snprintf(why, why_len, "%s reports an RSS key of %u bytes", iface, head.key_size);
		goto out;
	}
	rxfh = calloc(1, sizeof(*rxfh) + head.indir_size * sizeof(uint32_t) + head.key_size);
	if (rxfh == NULL) {
		snprintf(why, why_len, "out of memory");
		goto out;
	}
	rxfh->cmd = ETHTOOL_GRSSH;
	rxfh->indir_size = head.indir_size;
	rxfh->key_size = head.key_size;
	ifr.ifr_data = (void *)rxfh;
	if (ioctl(fd, SIOCETHTOOL, &ifr) != 0) {
		snprintf(why, why_len, "cannot read the RSS key of %s (%s)", iface,
			 strerror(errno));
		goto out;
	}
	k->hfunc = rxfh->hfunc;
	k->key_len = rxfh->key_size;
	memcpy(k->key, (const uint8_t *)rxfh->rss_config + rxfh->indir_size * sizeof(uint32_t),
	       k->key_len);
	for (unsigned t = 0; t < FT_RSS_KERNEL_FLOW_TYPES; t++) {
		struct ethtool_rxnfc nfc = {.cmd = ETHTOOL_GRXFH,
					    .flow_type = rss_kernel_flow_types[t]};

		ifr.ifr_data = (void *)&nfc;
		if (ioctl(fd, SIOCETHTOOL, &ifr) != 0) {
			snprintf(why, why_len, "cannot read the RSS fields of %s for %s (%s)",
				 iface, rss_kernel_flow_names[t], strerror(errno));
			goto out;
		}
		k->fields[t] = nfc.data;
	}
	rc = 0;
out:
	free(rxfh);
	close(fd);
	return rc;
}

/*
 * The kernel interface named by a device's iface= argument, if the device is
 * an AF_XDP port (its queues are the interface's queues).
 */
static bool
af_xdp_iface(const struct ft_port *p, char *iface, size_t len)
{
	const char *a;

	if (p->cfg->kind != FT_PORT_DEVICE || strncmp(p->dev_name, "net_af_xdp", 10) != 0)
		return false;
	a = strstr(p->cfg->device, ",iface=");
	if (a == NULL)
		return false;
	a += strlen(",iface=");
	snprintf(iface, len, "%.*s", (int)strcspn(a, ","), a);
	return true;
}

/* RSS with the symmetric key, on the flow (L3 and L4) or, for dispatch_hash =
 * ippair, the addresses only. */
static int
setup_rss(struct rte_eth_conf *conf, const struct rte_eth_dev_info *info, uint8_t *key, bool ippair)
{
	uint64_t want =
		ippair ? RTE_ETH_RSS_IP
		       : RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_SCTP;
	uint64_t hf = want & info->flow_type_rss_offloads;
	unsigned key_len = info->hash_key_size != 0 ? info->hash_key_size : 40;

	if (hf == 0)
		return -1;
	for (unsigned i = 0; i < key_len; i++)
		key[i] = symmetric_rss_byte[i & 1];
	conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
	conf->rx_adv_conf.rss_conf.rss_key = key;
	conf->rx_adv_conf.rss_conf.rss_key_len = (uint8_t)key_len;
	conf->rx_adv_conf.rss_conf.rss_hf = hf;
	return 0;
}

int
ft_port_start(const struct ft_config *cfg, struct ft_port *ports, unsigned workers,
	      int *ts_offset, uint64_t *ts_flag, char *err, size_t err_len)
{
	unsigned next_worker = 0;
	bool any_packet_clock = false;

	*ts_offset = -1;
	*ts_flag = 0;
	for (unsigned i = 0; i < cfg->port_count; i++) {
		struct ft_port *p = &ports[i];
		const struct ft_port_config *pc = p->cfg;
		struct rte_eth_conf conf = {0};
		struct rte_eth_dev_info info;
		uint8_t rss_key[64];
		char pool_name[RTE_MEMPOOL_NAMESIZE];
		char why[1024], kernel_rss[64] = "";
		uint16_t port_id, tx_queues, rx_desc, tx_desc;
		uint32_t nb_mbufs;
		int rc, socket;

		if (rte_eth_dev_get_port_by_name(p->dev_name, &port_id) != 0)
			return port_fail(err, err_len, pc,
					 "device '%s' was not probed by DPDK (check the "
					 "address/devargs, the driver binding, and EAL's log above)",
					 p->dev_name);
		p->port_id = port_id;
		rc = rte_eth_dev_info_get(port_id, &info);
		if (rc != 0)
			return port_fail(err, err_len, pc, "device info: %s", strerror(-rc));

		p->rx_queues = pc->rx_queues != 0 ? pc->rx_queues
						  : (uint16_t)RTE_MIN(workers, info.max_rx_queues);
		if (p->rx_queues == 0)
			p->rx_queues = 1;
		if (p->rx_queues > info.max_rx_queues || p->rx_queues > FT_PORT_MAX_QUEUES)
			return port_fail(err, err_len, pc,
					 "rx_queues = %u, but the device has at most %u",
					 p->rx_queues, RTE_MIN(info.max_rx_queues,
							       FT_PORT_MAX_QUEUES));
		if (p->rx_queues > 1 && info.flow_type_rss_offloads != 0) {
			if (setup_rss(&conf, &info, rss_key,
				      cfg->dispatch_hash == FT_DISPATCH_CFG_IPPAIR) != 0)
				return port_fail(err, err_len, pc,
						 "the device hashes none of IP/TCP/UDP for RSS");
		}
		p->dispatch = p->rx_queues < workers;
		why[0] = '\0';
		if (!p->dispatch && workers > 1 && conf.rxmode.mq_mode != RTE_ETH_MQ_RX_RSS) {
			/* Several queues filled by a rule flowtap did not set: trust it
			 * only when it is known to keep a flow's directions together. */
			char iface[IF_NAMESIZE];
			struct ft_rss_kernel k;

			if (!af_xdp_iface(p, iface, sizeof(iface)))
				snprintf(why, sizeof(why),
					 "%s has no RSS that flowtap can set or check",
					 p->dev_name);
			else if (ft_rss_kernel_read(iface, &k, why, sizeof(why)) == 0 &&
				 ft_rss_kernel_symmetric(&k, iface, why, sizeof(why)))
				snprintf(kernel_rss, sizeof(kernel_rss), " (symmetric RSS of %s)",
					 iface);
			p->dispatch = kernel_rss[0] == '\0';
		}

		socket = rte_eth_dev_socket_id(port_id);
		if (socket < 0)
			socket = (int)rte_socket_id();
		nb_mbufs = ft_port_pool_size(cfg, p, workers);
		snprintf(pool_name, sizeof(pool_name), "ft_pool_%u", i);
		p->pool = rte_pktmbuf_pool_create(pool_name, nb_mbufs, cfg->mbuf_cache,
						  FT_PORT_MBUF_PRIV_SIZE, (uint16_t)cfg->mbuf_size, socket);
		if (p->pool == NULL)
			return port_fail(err, err_len, pc, "mbuf pool of %u: %s", nb_mbufs,
					 rte_strerror(rte_errno));

		/* flowtap never transmits, but some PMDs (net_af_xdp, many NICs) only
		 * take queue pairs: configure as many tx queues as the device allows. */
		tx_queues = RTE_MIN(p->rx_queues, info.max_tx_queues);
		rc = rte_eth_dev_configure(port_id, p->rx_queues, tx_queues, &conf);
		if (rc != 0)
			return port_fail(err, err_len, pc, "configure %u rx queues: %s",
					 p->rx_queues, strerror(-rc));
		rx_desc = pc->rx_descriptors;
		tx_desc = 64;
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rx_desc, &tx_desc);
		if (rc != 0)
			return port_fail(err, err_len, pc, "descriptors: %s", strerror(-rc));
		for (uint16_t q = 0; q < p->rx_queues; q++) {
			rc = rte_eth_rx_queue_setup(port_id, q, rx_desc, (unsigned)socket, NULL,
						    p->pool);
			if (rc != 0)
				return port_fail(err, err_len, pc, "rx queue %u setup: %s", q,
						 strerror(-rc));
			p->queue_worker[q] = (uint16_t)(next_worker++ % workers);
		}
		for (uint16_t q = 0; q < tx_queues; q++) {
			rc = rte_eth_tx_queue_setup(port_id, q, tx_desc, (unsigned)socket, NULL);
			if (rc != 0)
				return port_fail(err, err_len, pc, "tx queue %u setup: %s", q,
						 strerror(-rc));
		}
		rc = rte_eth_dev_start(port_id);
		if (rc != 0)
			return port_fail(err, err_len, pc, "start: %s", strerror(-rc));
		if (conf.rxmode.mq_mode == RTE_ETH_MQ_RX_RSS) {
			/* What the device really hashes with: refuse a key that would
			 * send the two directions of a flow to different workers. */
			uint8_t got[64];
			struct rte_eth_rss_conf rc_got = {.rss_key = got,
							  .rss_key_len = sizeof(got)};

			rc = rte_eth_dev_rss_hash_conf_get(port_id, &rc_got);
			if (rc == 0 && !ft_rss_key_symmetric(got, rc_got.rss_key_len))
				return port_fail(err, err_len, pc,
						 "the device hashes with an RSS key that is not "
						 "symmetric (it did not take flowtap's): the two "
						 "directions of a flow would reach different workers; "
						 "set rx_queues = 1 to spread flows in software");
			if (rc != 0)
				FT_LOG(ft_logtype_port, WARNING,
				       "port %s: cannot read back the RSS key (%s); assuming the "
				       "symmetric key flowtap set",
				       pc->name, strerror(-rc));
		}
		if (pc->promiscuous) {
			rc = rte_eth_promiscuous_enable(port_id);
			if (rc != 0 && rc != -ENOTSUP)
				FT_LOG(ft_logtype_port, WARNING, "port %s: promiscuous mode: %s",
				       pc->name, strerror(-rc));
		}
		any_packet_clock |= p->packet_clock;
		FT_LOG(ft_logtype_port, INFO, "port %s: %s, %u rx queue(s)%s, %u mbufs, %s time%s",
		       pc->name, p->dev_name, p->rx_queues,
		       p->dispatch ? " (software dispatch to workers)"
		       : conf.rxmode.mq_mode == RTE_ETH_MQ_RX_RSS ? " (symmetric RSS)"
								  : kernel_rss,
		       nb_mbufs, p->packet_clock ? "packet" : "arrival",
		       p->is_file ? "; replaying a capture" : "");
		if (p->dispatch && p->rx_queues >= workers)
			FT_LOG(ft_logtype_port, NOTICE,
			       "port %s: %u queues for %u workers, spread over them in "
			       "software, as nothing keeps a flow's two directions in one "
			       "queue: %s",
			       pc->name, p->rx_queues, workers, why);
	}
	if (any_packet_clock) {
		*ts_offset = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, NULL);
		int bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, NULL);

		if (*ts_offset < 0 || bit < 0) {
			snprintf(err, err_len,
				 "packet clock: the capture device registered no mbuf timestamp");
			return -1;
		}
		*ts_flag = 1ULL << bit;
	}
	return 0;
}

void
ft_port_read_stats(const struct ft_port *p, struct ft_port_counters *out)
{
	struct rte_eth_stats st;

	snprintf(out->name, sizeof(out->name), "%s", p->cfg->name);
	if (rte_eth_stats_get(p->port_id, &st) == 0) {
		out->ipackets = st.ipackets;
		out->ibytes = st.ibytes;
		out->imissed = st.imissed;
		out->ierrors = st.ierrors;
		out->rx_nombuf = st.rx_nombuf;
	}
	out->is_file = p->is_file;
	out->link_type = p->link;
	if (p->is_file) {
		out->file_packets = p->file.packets;
		out->file_bytes = p->file.bytes;
		out->file_captured_bytes = p->file.captured_bytes;
	}
}

uint64_t
ft_port_consumed(const struct ft_port *p)
{
	struct rte_eth_stats st;

	if (rte_eth_stats_get(p->port_id, &st) != 0)
		return 0;
	return st.ipackets + st.ierrors + st.rx_nombuf;
}

void
ft_port_close_all(struct ft_port *ports, unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		if (ports[i].pool == NULL)
			continue;
		rte_eth_dev_stop(ports[i].port_id);
		rte_eth_dev_close(ports[i].port_id);
	}
}
