/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Load mode: the generator's sink is a DPDK tx queue. Frames are built straight
 * into mbufs. Pacing is by TSC deadline per packet: a packet that is not yet
 * due first flushes what is queued, then waits, so low rates go out one packet
 * at a time and high rates (when the generator is behind) in full bursts.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "pktgen.h"
#include "internal.h"

#define LOAD_MAX_BURST 64

struct load_sink {
	uint16_t port;
	struct rte_mempool *mp;
	uint16_t data_room;
	const struct ft_pktgen_load_opts *lo;
	struct rte_mbuf *burst[LOAD_MAX_BURST];
	uint32_t nb;
	struct rte_mbuf *cur;
	uint64_t hz;
	uint64_t start_tsc;   /* first packet handed to the port */
	uint64_t last_tsc;    /* last successful tx */
	uint64_t queued_bits; /* bits committed so far (bps pacing) */
	uint64_t queued;      /* packets committed so far */
	uint64_t scenario_t0; /* first scenario timestamp (scenario pacing) */
	uint64_t stall_tsc;
	/* report */
	uint64_t sent_packets, sent_bytes;
	uint64_t tx_calls, tx_partial, tx_failed_packets, tx_failed_bytes, alloc_waits;
	int error;
};

static void
flush_burst(struct load_sink *s)
{
	uint32_t done = 0;
	uint64_t last_progress = rte_rdtsc();
	while (done < s->nb) {
		uint16_t n =
			rte_eth_tx_burst(s->port, 0, s->burst + done, (uint16_t)(s->nb - done));
		s->tx_calls++;
		uint64_t now = rte_rdtsc();
		if (n) {
			for (uint32_t i = done; i < done + n; i++)
				s->sent_bytes += s->burst[i]->pkt_len;
			s->sent_packets += n;
			done += n;
			last_progress = now;
			s->last_tsc = now;
			if (!s->start_tsc)
				s->start_tsc = now;
			continue;
		}
		s->tx_partial++;
		if (now - last_progress > s->stall_tsc) {
			/* The port takes nothing: count the rest as failed and go on. */
			for (uint32_t i = done; i < s->nb; i++) {
				s->tx_failed_bytes += s->burst[i]->pkt_len;
				rte_pktmbuf_free(s->burst[i]);
			}
			s->tx_failed_packets += s->nb - done;
			break;
		}
		rte_pause();
	}
	s->nb = 0;
}

static uint8_t *
load_reserve(void *ctx, uint32_t len)
{
	struct load_sink *s = ctx;
	if (len > s->data_room)
		return NULL;
	uint64_t t0 = 0;
	while (!(s->cur = rte_pktmbuf_alloc(s->mp))) {
		/* mbufs come back when the driver has sent them */
		if (s->nb)
			flush_burst(s);
		uint64_t now = rte_rdtsc();
		if (!t0)
			t0 = now;
		else if (now - t0 > s->stall_tsc)
			return NULL;
		s->alloc_waits++;
		rte_pause();
	}
	return rte_pktmbuf_mtod(s->cur, uint8_t *);
}

static uint64_t
due_tsc(struct load_sink *s, uint64_t ts_ns, uint32_t len)
{
	const struct ft_pktgen_load_opts *lo = s->lo;
	double sec;
	switch (lo->rate_kind) {
	case FT_PKTGEN_RATE_PPS:
		sec = (double)s->queued / lo->rate;
		break;
	case FT_PKTGEN_RATE_BPS:
		sec = (double)s->queued_bits / lo->rate;
		break;
	case FT_PKTGEN_RATE_SCENARIO:
		if (!s->queued)
			s->scenario_t0 = ts_ns;
		sec = (double)(ts_ns - s->scenario_t0) / 1e9;
		break;
	default:
		return 0;
	}
	(void)len;
	return s->start_tsc + (uint64_t)(sec * (double)s->hz);
}

static int
load_commit(void *ctx, uint64_t ts_ns, uint32_t len)
{
	struct load_sink *s = ctx;
	struct rte_mbuf *m = s->cur;
	s->cur = NULL;
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	int waited = 0;
	if (s->lo->rate_kind != FT_PKTGEN_RATE_MAX) {
		if (!s->start_tsc)
			s->start_tsc = rte_rdtsc();
		uint64_t due = due_tsc(s, ts_ns, len);
		if (rte_rdtsc() < due) {
			if (s->nb)
				flush_burst(s);
			while (rte_rdtsc() < due)
				rte_pause();
			waited = 1;
		}
	}
	s->queued++;
	s->queued_bits += (uint64_t)len * 8;
	s->burst[s->nb++] = m;
	/* Ahead of schedule: this packet is due now, send it now. Behind: batch. */
	if (waited || s->nb >= s->lo->burst)
		flush_burst(s);
	return s->error;
}

static int
port_setup(struct load_sink *s, char *err, size_t errlen)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	int rc;

	if (!rte_eth_dev_is_valid_port(s->port)) {
		pg_err(err, errlen, "port %u does not exist (%u ports; give a --vdev or -a device)",
		       s->port, rte_eth_dev_count_avail());
		return -ENODEV;
	}
	rc = rte_eth_dev_info_get(s->port, &info);
	if (rc) {
		pg_err(err, errlen, "port %u: dev_info: %s", s->port, rte_strerror(-rc));
		return rc;
	}
	memset(&conf, 0, sizeof(conf));
	uint16_t nrx = info.max_rx_queues ? 1 : 0;
	rc = rte_eth_dev_configure(s->port, nrx, 1, &conf);
	if (rc) {
		pg_err(err, errlen, "port %u: configure: %s", s->port, rte_strerror(-rc));
		return rc;
	}
	uint16_t nrxd = 512, ntxd = 1024;
	rte_eth_dev_adjust_nb_rx_tx_desc(s->port, &nrxd, &ntxd);
	int socket = rte_eth_dev_socket_id(s->port);
	if (socket < 0)
		socket = (int)rte_socket_id();
	if (nrx) {
		rc = rte_eth_rx_queue_setup(s->port, 0, nrxd, (unsigned)socket, NULL, s->mp);
		if (rc) {
			pg_err(err, errlen, "port %u: rx queue: %s", s->port, rte_strerror(-rc));
			return rc;
		}
	}
	rc = rte_eth_tx_queue_setup(s->port, 0, ntxd, (unsigned)socket, NULL);
	if (rc) {
		pg_err(err, errlen, "port %u: tx queue: %s", s->port, rte_strerror(-rc));
		return rc;
	}
	rc = rte_eth_dev_start(s->port);
	if (rc) {
		pg_err(err, errlen, "port %u: start: %s", s->port, rte_strerror(-rc));
		return rc;
	}
	return 0;
}

int
ft_pktgen_load(const struct ft_pktgen_scenario *sc, const struct ft_pktgen_load_opts *lo,
	       const struct ft_pktgen_run_opts *opts, FILE *report, char *err, size_t errlen)
{
	struct load_sink s = {.port = lo->port, .lo = lo};
	struct ft_pktgen_sink sink = {.reserve = load_reserve, .commit = load_commit, .ctx = &s};
	struct ft_pktgen_stats st = {0}, one;
	int rc;

	if (lo->burst < 1 || lo->burst > LOAD_MAX_BURST) {
		pg_err(err, errlen, "burst must be 1..%d", LOAD_MAX_BURST);
		return -EINVAL;
	}
	/* Frames never exceed the largest class MTU plus link headers and the few
	 * bytes options and malformations add. */
	uint32_t room = 0;
	for (unsigned i = 0; i < sc->n_classes; i++) {
		uint32_t m = sc->classes[i].mtu + 14 + 8 + 16;
		uint64_t smax = ft_pktgen_dist_max(&sc->classes[i].size);
		if (smax + 16 > m && smax != UINT64_MAX)
			m = (uint32_t)smax + 16;
		if (m > room)
			room = m;
	}
	/* Some PMDs size their rx rings by the default mbuf (net_af_packet: 2048). */
	if (room < RTE_MBUF_DEFAULT_DATAROOM)
		room = RTE_MBUF_DEFAULT_DATAROOM;
	if (room > UINT16_MAX - RTE_PKTMBUF_HEADROOM)
		room = UINT16_MAX - RTE_PKTMBUF_HEADROOM;
	s.data_room = (uint16_t)room;
	char name[RTE_MEMPOOL_NAMESIZE];
	snprintf(name, sizeof(name), "pktgen_tx_%u", lo->port);
	s.mp = rte_pktmbuf_pool_create(name, lo->mbufs, 256, 0,
				       (uint16_t)(room + RTE_PKTMBUF_HEADROOM),
				       (int)rte_socket_id());
	if (!s.mp) {
		pg_err(err, errlen, "mbuf pool of %u x %u B: %s", lo->mbufs, room,
		       rte_strerror(rte_errno));
		return -ENOMEM;
	}
	s.hz = rte_get_tsc_hz();
	s.stall_tsc = (uint64_t)((double)lo->stall_timeout_ns * (double)s.hz / 1e9);
	rc = port_setup(&s, err, errlen);
	if (rc)
		goto out_pool;

	uint64_t wall0 = rte_rdtsc();
	for (uint32_t k = 0; k < (lo->repeat ? lo->repeat : 1); k++) {
		/* The truth describes one pass; later passes repeat it exactly. */
		struct ft_pktgen_run_opts o = *opts;
		if (k)
			o.truth = NULL;
		rc = ft_pktgen_run(sc, &sink, &o, &one, err, errlen);
		if (rc)
			break;
		st.packets += one.packets;
		st.bytes += one.bytes;
		st.flows += one.flows;
		if (lo->rate_kind == FT_PKTGEN_RATE_SCENARIO) {
			/* next pass starts where this one ended in time */
			if (s.nb)
				flush_burst(&s);
			s.queued = 0;
			s.start_tsc = rte_rdtsc();
		}
	}
	if (s.cur)
		rte_pktmbuf_free(s.cur);
	if (s.nb)
		flush_burst(&s);
	uint64_t wall1 = rte_rdtsc();

	struct rte_eth_stats es;
	memset(&es, 0, sizeof(es));
	rte_eth_stats_get(s.port, &es);
	double dur = s.start_tsc && s.last_tsc > s.start_tsc
			     ? (double)(s.last_tsc - s.start_tsc) / (double)s.hz
			     : 0;
	char pname[RTE_ETH_NAME_MAX_LEN] = "";
	rte_eth_dev_get_name_by_port(s.port, pname);
	fprintf(report,
		"{\"type\":\"load_report\",\"port\":%u,\"device\":\"%s\",\"rate\":\"%s\","
		"\"target\":%.3f,"
		"\"passes\":%u,\"generated_packets\":%" PRIu64 ",\"generated_bytes\":%" PRIu64
		",\"flows\":%" PRIu64 ",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
		",\"duration_ns\":%" PRIu64 ",\"pps\":%.1f,\"bps\":%.1f,\"tx_failures\":%" PRIu64
		",\"tx_failed_bytes\":%" PRIu64 ",\"tx_calls\":%" PRIu64 ",\"tx_retries\":%" PRIu64
		",\"mbuf_waits\":%" PRIu64 ",\"wall_ns\":%" PRIu64
		",\"port_stats\":{\"opackets\":%" PRIu64 ",\"obytes\":%" PRIu64
		",\"oerrors\":%" PRIu64 "},\"error\":%s}\n",
		s.port, pname,
		lo->rate_kind == FT_PKTGEN_RATE_MAX   ? "max"
		: lo->rate_kind == FT_PKTGEN_RATE_PPS ? "pps"
		: lo->rate_kind == FT_PKTGEN_RATE_BPS ? "bps"
						      : "scenario",
		lo->rate, lo->repeat ? lo->repeat : 1, st.packets, st.bytes, st.flows,
		s.sent_packets, s.sent_bytes, (uint64_t)(dur * 1e9),
		dur > 0 ? (double)s.sent_packets / dur : 0,
		dur > 0 ? (double)s.sent_bytes * 8 / dur : 0, s.tx_failed_packets,
		s.tx_failed_bytes, s.tx_calls, s.tx_partial, s.alloc_waits,
		(uint64_t)((double)(wall1 - wall0) * 1e9 / (double)s.hz), es.opackets, es.obytes,
		es.oerrors, rc ? "true" : "false");
	fflush(report);

	rte_eth_dev_stop(s.port);
	rte_eth_dev_close(s.port);
out_pool:
	rte_mempool_free(s.mp);
	return rc;
}
