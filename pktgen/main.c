/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowtap-pktgen command line.
 *
 *   flowtap-pktgen [options]                  write a pcap and its ground truth
 *   flowtap-pktgen EAL-options -- [options]   transmit through a DPDK port
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>

#include "pktgen.h"

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: flowtap-pktgen [options]                  (file mode)\n"
		"       flowtap-pktgen EAL-options -- [options]   (load mode: transmit on a DPDK "
		"port)\n"
		"\n"
		"scenario:\n"
		"  -s, --scenario FILE        scenario file (see pktgen/README.md); may repeat\n"
		"  -D, --set [SECTION:]KEY=VALUE\n"
		"                             set a key: \"class web:rate=100pps\", \"pattern "
		"p:id=7\",\n"
		"                             a global key (seed, start_time, idle_timeout, "
		"mac_src,\n"
		"                             mac_dst, name), or else a key of the class \"cli\"\n"
		"      --seed N               random seed (default 1)\n"
		"      --validate             check the scenario and exit\n"
		"quick scenario (keys of the class \"cli\"):\n"
		"      --flows N              count            --proto tcp|udp|icmp|sctp\n"
		"      --packets-per-flow D   packets          --size D (64, imix, 64-1500, "
		"60:7,590:4)\n"
		"      --flow-rate R          rate (100pps, 1Mbps)   --flow-duration T  duration\n"
		"      --spread T             arrivals window  --concurrency K\n"
		"      --ip 4|6|mix|6:F       --vlan V[,V]     --idle-timeout T (global)\n"
		"output:\n"
		"  -w, --pcap FILE            pcap to write (\"-\": stdout)\n"
		"  -t, --truth FILE           ground truth JSON (\"-\": stdout)\n"
		"      --truth-format F       json (one document) or lines (JSON lines; default "
		"for\n"
		"                             a .jsonl file name)\n"
		"      --stats                generation figures as JSON on stderr\n"
		"load mode (after --):\n"
		"      --port N               DPDK port (default 0)\n"
		"      --rate R               max, scenario, 10kpps, 1.5Mpps, 100Mbps, 2Gbps "
		"(default max)\n"
		"      --burst N              tx burst (default 32)    --mbufs N (default 8191)\n"
		"      --repeat N             send the scenario N times (default 1)\n"
		"      --stall-timeout T      give up on a port that takes nothing (default 2s)\n"
		"the load report (JSON) goes to stdout.\n");
}

enum {
	OPT_SEED = 256,
	OPT_VALIDATE,
	OPT_FLOWS,
	OPT_PROTO,
	OPT_PPF,
	OPT_SIZE,
	OPT_FLOW_RATE,
	OPT_FLOW_DURATION,
	OPT_SPREAD,
	OPT_CONCURRENCY,
	OPT_IP,
	OPT_VLAN,
	OPT_IDLE,
	OPT_TRUTH_FORMAT,
	OPT_STATS,
	OPT_PORT,
	OPT_RATE,
	OPT_BURST,
	OPT_MBUFS,
	OPT_REPEAT,
	OPT_STALL,
	OPT_HELP,
};

static const struct option long_opts[] = {
	{"scenario", required_argument, NULL, 's'},
	{"set", required_argument, NULL, 'D'},
	{"seed", required_argument, NULL, OPT_SEED},
	{"validate", no_argument, NULL, OPT_VALIDATE},
	{"flows", required_argument, NULL, OPT_FLOWS},
	{"proto", required_argument, NULL, OPT_PROTO},
	{"packets-per-flow", required_argument, NULL, OPT_PPF},
	{"size", required_argument, NULL, OPT_SIZE},
	{"flow-rate", required_argument, NULL, OPT_FLOW_RATE},
	{"flow-duration", required_argument, NULL, OPT_FLOW_DURATION},
	{"spread", required_argument, NULL, OPT_SPREAD},
	{"concurrency", required_argument, NULL, OPT_CONCURRENCY},
	{"ip", required_argument, NULL, OPT_IP},
	{"vlan", required_argument, NULL, OPT_VLAN},
	{"idle-timeout", required_argument, NULL, OPT_IDLE},
	{"pcap", required_argument, NULL, 'w'},
	{"truth", required_argument, NULL, 't'},
	{"truth-format", required_argument, NULL, OPT_TRUTH_FORMAT},
	{"stats", no_argument, NULL, OPT_STATS},
	{"port", required_argument, NULL, OPT_PORT},
	{"rate", required_argument, NULL, OPT_RATE},
	{"burst", required_argument, NULL, OPT_BURST},
	{"mbufs", required_argument, NULL, OPT_MBUFS},
	{"repeat", required_argument, NULL, OPT_REPEAT},
	{"stall-timeout", required_argument, NULL, OPT_STALL},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

static const char *const global_keys[] = {
	"seed", "start_time", "idle_timeout", "mac_src", "mac_dst", "name", NULL};

/* --set [SECTION:]KEY=VALUE */
static int
set_kv(struct ft_pktgen_scenario *sc, const char *arg, char *err, size_t errlen)
{
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s", arg);
	char *eq = strchr(buf, '=');
	if (!eq) {
		snprintf(err, errlen, "--set %s: expected [SECTION:]KEY=VALUE", arg);
		return -EINVAL;
	}
	*eq = 0;
	char *key = buf, *section = NULL;
	char *colon = strchr(buf, ':');
	if (colon) {
		*colon = 0;
		section = buf;
		key = colon + 1;
	}
	if (!section) {
		section = "class cli";
		for (int i = 0; global_keys[i]; i++)
			if (!strcmp(key, global_keys[i]))
				section = "";
	}
	return ft_pktgen_scenario_set(sc, section, key, eq + 1, err, errlen);
}

/* Truth without a pcap: frames are built into one scratch buffer and dropped. */
static uint8_t *
null_reserve(void *ctx, uint32_t len)
{
	(void)len;
	return ctx;
}

static int
null_commit(void *ctx, uint64_t ts_ns, uint32_t len)
{
	(void)ctx;
	(void)ts_ns;
	(void)len;
	return 0;
}

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	char err[1024] = "";
	int sep = 0;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			sep = i;
			break;
		}
	int load = sep > 0;
	if (load) {
		/* EAL sees argv[0..sep-1]; pktgen gets argv[0] + what follows "--". */
		int rc = rte_eal_init(sep, argv);
		if (rc < 0) {
			fprintf(stderr, "flowtap-pktgen: EAL initialisation failed\n");
			return 1;
		}
		argv[sep] = argv[0];
		argv += sep;
		argc -= sep;
	}

	struct ft_pktgen_scenario *sc = ft_pktgen_scenario_new();
	if (!sc) {
		fprintf(stderr, "flowtap-pktgen: out of memory\n");
		return 1;
	}
	const char *pcap_path = NULL, *truth_path = NULL;
	int truth_format = -1, want_stats = 0, validate_only = 0, rc = 0;
	struct ft_pktgen_load_opts lo = {.port = 0,
					 .rate_kind = FT_PKTGEN_RATE_MAX,
					 .burst = 32,
					 .mbufs = 8191,
					 .stall_timeout_ns = 2000000000ULL,
					 .repeat = 1};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:D:w:t:h", long_opts, NULL)) != -1) {
		const char *key = NULL, *section = "class cli";
		unsigned long v;
		char *end;
		switch (c) {
		case 's':
			rc = ft_pktgen_scenario_load(sc, optarg, err, sizeof(err));
			break;
		case 'D':
			rc = set_kv(sc, optarg, err, sizeof(err));
			break;
		case OPT_SEED:
			key = "seed", section = "";
			break;
		case OPT_VALIDATE:
			validate_only = 1;
			break;
		case OPT_FLOWS:
			key = "count";
			break;
		case OPT_PROTO:
			key = "proto";
			break;
		case OPT_PPF:
			key = "packets";
			break;
		case OPT_SIZE:
			key = "size";
			break;
		case OPT_FLOW_RATE:
			key = "rate";
			break;
		case OPT_FLOW_DURATION:
			key = "duration";
			break;
		case OPT_SPREAD:
			key = "spread";
			break;
		case OPT_CONCURRENCY:
			key = "concurrency";
			break;
		case OPT_IP:
			key = "ip";
			break;
		case OPT_VLAN:
			key = "vlan";
			break;
		case OPT_IDLE:
			key = "idle_timeout", section = "";
			break;
		case 'w':
			pcap_path = optarg;
			break;
		case 't':
			truth_path = optarg;
			break;
		case OPT_TRUTH_FORMAT:
			if (!strcmp(optarg, "json"))
				truth_format = FT_PKTGEN_TRUTH_JSON;
			else if (!strcmp(optarg, "lines"))
				truth_format = FT_PKTGEN_TRUTH_LINES;
			else {
				snprintf(err, sizeof(err), "--truth-format: json or lines");
				rc = -EINVAL;
			}
			break;
		case OPT_STATS:
			want_stats = 1;
			break;
		case OPT_PORT:
			v = strtoul(optarg, &end, 10);
			if (*end || v > 65535) {
				snprintf(err, sizeof(err), "--port: bad value '%s'", optarg);
				rc = -EINVAL;
			}
			lo.port = (uint16_t)v;
			break;
		case OPT_RATE:
			if (ft_pktgen_parse_rate(optarg, &lo.rate_kind, &lo.rate)) {
				snprintf(err, sizeof(err),
					 "--rate: bad value '%s' (max, scenario, 10kpps, 1Gbps)",
					 optarg);
				rc = -EINVAL;
			}
			break;
		case OPT_BURST:
		case OPT_MBUFS:
		case OPT_REPEAT:
			v = strtoul(optarg, &end, 10);
			if (*end || !v || v > (c == OPT_BURST ? 64UL : 1UL << 30)) {
				snprintf(err, sizeof(err), "bad value '%s'", optarg);
				rc = -EINVAL;
			}
			if (c == OPT_BURST)
				lo.burst = (uint32_t)v;
			else if (c == OPT_MBUFS)
				lo.mbufs = (uint32_t)v;
			else
				lo.repeat = (uint32_t)v;
			break;
		case OPT_STALL:
			if (ft_pktgen_parse_time(optarg, &lo.stall_timeout_ns)) {
				snprintf(err, sizeof(err), "--stall-timeout: bad value '%s'",
					 optarg);
				rc = -EINVAL;
			}
			break;
		case 'h':
		case OPT_HELP:
			usage(stdout);
			ft_pktgen_scenario_free(sc);
			return 0;
		default:
			usage(stderr);
			ft_pktgen_scenario_free(sc);
			return 2;
		}
		if (!rc && key)
			rc = ft_pktgen_scenario_set(sc, section, key, optarg, err, sizeof(err));
		if (rc)
			break;
	}
	if (!rc && optind < argc) {
		snprintf(err, sizeof(err), "unexpected argument '%s'", argv[optind]);
		rc = -EINVAL;
	}
	if (!rc)
		rc = ft_pktgen_scenario_validate(sc, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "flowtap-pktgen: %s\n", err[0] ? err : strerror(-rc));
		ft_pktgen_scenario_free(sc);
		if (load)
			rte_eal_cleanup();
		return 2;
	}
	if (validate_only) {
		ft_pktgen_scenario_free(sc);
		return 0;
	}
	if (!load && !pcap_path && !truth_path) {
		fprintf(stderr, "flowtap-pktgen: nothing to do: give --pcap and/or --truth (or EAL "
				"options and -- for load mode)\n");
		ft_pktgen_scenario_free(sc);
		return 2;
	}
	if (pcap_path && truth_path && !strcmp(pcap_path, "-") && !strcmp(truth_path, "-")) {
		fprintf(stderr, "flowtap-pktgen: --pcap and --truth cannot both go to stdout\n");
		ft_pktgen_scenario_free(sc);
		return 2;
	}
	if (load && pcap_path) {
		fprintf(stderr, "flowtap-pktgen: --pcap is for file mode (use --vdev "
				"net_pcap0,tx_pcap=FILE to capture what load mode sends)\n");
		ft_pktgen_scenario_free(sc);
		rte_eal_cleanup();
		return 2;
	}

	struct ft_pktgen_run_opts ro = {.pcap_name = pcap_path};
	FILE *truth = NULL;
	static char truth_buf[1 << 20];
	if (truth_path) {
		truth = strcmp(truth_path, "-") ? fopen(truth_path, "w") : stdout;
		if (!truth) {
			fprintf(stderr, "flowtap-pktgen: %s: %s\n", truth_path, strerror(errno));
			ft_pktgen_scenario_free(sc);
			return 1;
		}
		setvbuf(truth, truth_buf, _IOFBF, sizeof(truth_buf));
		size_t n = strlen(truth_path);
		if (truth_format < 0)
			truth_format = n > 6 && !strcmp(truth_path + n - 6, ".jsonl")
					       ? FT_PKTGEN_TRUTH_LINES
					       : FT_PKTGEN_TRUTH_JSON;
		ro.truth = truth;
		ro.truth_format = (enum ft_pktgen_truth_format)truth_format;
	}

	double t0 = now_s();
	struct ft_pktgen_stats st = {0};
	if (load) {
		rc = ft_pktgen_load(sc, &lo, &ro, stdout, err, sizeof(err));
	} else {
		struct ft_pktgen_pcap *pc = NULL;
		static uint8_t scratch[FT_PKTGEN_MAX_FRAME + 64];
		struct ft_pktgen_sink sink = {
			.reserve = null_reserve, .commit = null_commit, .ctx = scratch};
		if (pcap_path) {
			pc = ft_pktgen_pcap_open(pcap_path);
			if (!pc) {
				rc = -errno;
				snprintf(err, sizeof(err), "%s: %s", pcap_path, strerror(errno));
				goto done;
			}
			ft_pktgen_pcap_sink(pc, &sink);
		}
		rc = ft_pktgen_run(sc, &sink, &ro, &st, err, sizeof(err));
		int crc = ft_pktgen_pcap_close(pc);
		if (!rc && crc) {
			snprintf(err, sizeof(err), "%s: %s", pcap_path, strerror(-crc));
			rc = crc;
		}
	}
done:
	if (truth == stdout) {
		fflush(stdout);
	} else if (truth && fclose(truth) && !rc) {
		snprintf(err, sizeof(err), "%s: %s", truth_path, strerror(errno));
		rc = -EIO;
	}
	double el = now_s() - t0;
	if (rc) {
		fprintf(stderr, "flowtap-pktgen: %s\n", err[0] ? err : strerror(-rc));
	} else if (want_stats && !load) {
		fprintf(stderr,
			"{\"packets\":%llu,\"bytes\":%llu,\"flows\":%llu,\"max_concurrent_flows\":%"
			"llu,"
			"\"elapsed_s\":%.3f,\"packets_per_s\":%.0f,\"bytes_per_s\":%.0f}\n",
			(unsigned long long)st.packets, (unsigned long long)st.bytes,
			(unsigned long long)st.flows, (unsigned long long)st.max_concurrent_flows,
			el, el > 0 ? (double)st.packets / el : 0,
			el > 0 ? (double)st.bytes / el : 0);
	}
	ft_pktgen_scenario_free(sc);
	if (load)
		rte_eal_cleanup();
	return rc ? 1 : 0;
}
