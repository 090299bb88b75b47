/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowtap: the dataplane.
 *
 *   flowtap [EAL options] -- [-c FILE] [--pcap FILE] [--set SECTION.KEY=VALUE]...
 *
 * The configuration is read and validated, and capture files scanned, before
 * EAL starts, so a bad key or a missing file fails in milliseconds with exit
 * status 2 and nothing touched. EAL then gets the devices the configuration
 * names (and --no-pci unless a PCI port is configured, so nothing else is
 * probed), and falls back to --no-huge when hugepages are short.
 *
 * The main lcore does control only: heartbeat, port statistics, collector
 * liveness, end of input, signals. Each worker lcore runs ft_worker_main.
 */
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_version.h>

#include "cfg/cfg.h"
#include "common/common.h"
#include "export/writer.h"
#include "match/match.h"
#include "port/port.h"
#include "worker/worker.h"

RTE_LOG_REGISTER_SUFFIX(ft_logtype_main, main, INFO);

#define EXIT_CONFIG	 2
#define TICK_NS		 (10 * 1000 * 1000ULL)
#define CONSUMER_STALE_NS (3 * FT_NSEC_PER_SEC)
#define MAX_EAL_ARGS	 256

static volatile sig_atomic_t stop_signal;
static volatile uint64_t stop_signal_ns; /* when it came (CLOCK_MONOTONIC) */
static char runtime_dir[PATH_MAX];

/* EAL leaves its runtime folder behind, empty with --in-memory or --no-shconf
 * once the telemetry socket is gone (removed at exit, after rte_eal_cleanup). */
static void
remove_runtime_dir(void)
{
	if (runtime_dir[0] != '\0')
		rmdir(runtime_dir);
}

/* A signal repeated sooner than this is the same request, not a second one:
 * timeout(1) signals its child and then its own process group, so the child
 * gets the signal twice at once, as it does from `kill -INT $pid; kill -INT $pid`. */
#define SIGNAL_REPEAT_NS (500 * 1000 * 1000ULL)

static void
on_signal(int sig)
{
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* async-signal-safe */
	now = (uint64_t)ts.tv_sec * FT_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
	if (!stop_signal) {
		stop_signal_ns = now;
		stop_signal = sig;
		return;
	}
	if (now - stop_signal_ns >= SIGNAL_REPEAT_NS)
		_exit(128 + sig); /* a second signal: the operator means it */
}

/*
 * A stop requested while starting: the start goes no further than the step it
 * is in, and what it set up is released (segment, ports, EAL). The handlers are
 * installed first thing, so a signal is never lost to the default action (no
 * cleanup) or to an inherited SIG_IGN (a background job of a script: flowtap
 * would run on). Returns 0 to go on, or the exit status, 128 + the signal.
 */
static int
stopped_starting(const char *before)
{
	if (!stop_signal)
		return 0;
	fprintf(stderr, "flowtap: signal %d while starting: stopped before %s, nothing read\n",
		(int)stop_signal, before);
	return 128 + stop_signal;
}

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: flowtap [EAL options] -- [options]\n"
		"\n"
		"  -c, --config FILE        configuration (INI; see config/flowtap.ini)\n"
		"  -r, --pcap FILE          replay a capture instead of the configured ports\n"
		"  -f, --filter EXPR        capture filter (pcap-filter(7), as tcpdump's) for\n"
		"                           every port: = [port.NAME] filter = EXPR\n"
		"  -s, --set SECTION.KEY=VALUE\n"
		"                           override one key (repeatable), e.g.\n"
		"                           --set flow.capacity=1000000\n"
		"  -i, --instance NAME      = --set dataplane.instance=NAME\n"
		"      --check              validate the configuration and exit\n"
		"  -V, --version            print the version\n"
		"  -h, --help               this text\n"
		"\n"
		"EAL options are DPDK's (-l, --lcores, --no-huge, --in-memory, --file-prefix,\n"
		"--log-level=flowtap.*:debug, ...). Devices come from the configuration; flowtap\n"
		"adds --vdev/--allow for them, and --no-pci when no PCI port is configured.\n");
}

/* Index of "--" in argv, or 0 when there is none (then all arguments are ours). */
static int
find_separator(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return i;
	return 0;
}

static int
has_arg(char **argv, int argc, const char *const *names)
{
	for (int i = 1; i < argc; i++)
		for (const char *const *n = names; *n != NULL; n++) {
			size_t len = strlen(*n);

			if (strncmp(argv[i], *n, len) == 0 &&
			    (argv[i][len] == '\0' || argv[i][len] == '=' ||
			     ((*n)[1] != '-' && len == 2)))
				return 1;
		}
	return 0;
}

/* Free hugepage memory of every size, if hugetlbfs is mounted. */
static uint64_t
free_hugepage_bytes(void)
{
	uint64_t total = 0;
	char line[512];
	int mounted = 0;
	glob_t g;
	FILE *f;

	f = fopen("/proc/mounts", "r");
	if (f != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (strstr(line, " hugetlbfs ") != NULL)
				mounted = 1;
		fclose(f);
	}
	if (!mounted)
		return 0;
	if (glob("/sys/kernel/mm/hugepages/hugepages-*kB/free_hugepages", 0, NULL, &g) != 0)
		return 0;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		unsigned long kb = 0, n = 0;

		if (sscanf(g.gl_pathv[i], "/sys/kernel/mm/hugepages/hugepages-%lukB", &kb) != 1)
			continue;
		f = fopen(g.gl_pathv[i], "r");
		if (f != NULL) {
			if (fscanf(f, "%lu", &n) != 1)
				n = 0;
			fclose(f);
		}
		total += (uint64_t)n * kb * 1024;
	}
	globfree(&g);
	return total;
}

static_assert((int)FT_MATCH_CFG_STREAM == (int)FT_MATCH_STREAM &&
		      (int)FT_MATCH_CFG_BLOCK == (int)FT_MATCH_BLOCK &&
		      (int)FT_MATCH_CFG_OFF == (int)FT_MATCH_OFF &&
		      (int)FT_MATCH_CFG_FALLBACK_BLOCK == (int)FT_MATCH_FALLBACK_BLOCK &&
		      (int)FT_MATCH_CFG_FALLBACK_SKIP == (int)FT_MATCH_FALLBACK_SKIP,
	      "[match] values are the matcher's");

/* Pattern matching parameters from the configuration (the worker fills in its
 * own flows, sockets and outputs). */
static void
match_params(const struct ft_config *cfg, const struct ft_match_db *db, struct ft_match_params *mp)
{
	memset(mp, 0, sizeof(*mp));
	mp->db = db;
	mp->flows = cfg->flow_capacity;
	mp->streams = cfg->match_streams;
	mp->depth = cfg->match_depth;
	mp->tcp = (enum ft_match_mode)cfg->match_tcp;
	mp->udp = (enum ft_match_mode)cfg->match_udp;
	mp->other = (enum ft_match_mode)cfg->match_other;
	mp->no_stream = (enum ft_match_fallback)cfg->match_no_stream;
	mp->max_events_per_flow = cfg->match_max_events_per_flow;
	mp->chunk_size = cfg->match_chunk_size;
	mp->chunks = cfg->match_chunk_size != 0
			     ? (uint32_t)RTE_MIN(cfg->match_chunk_memory / cfg->match_chunk_size,
						 (uint64_t)UINT32_MAX)
			     : 0;
	mp->chunk_delay_ns = cfg->match_chunk_delay_ns;
	mp->reasm.memory = cfg->match_reorder_memory;
	mp->reasm.flow_bytes = cfg->match_reorder_flow_bytes;
	mp->reasm.socket_id = SOCKET_ID_ANY;
	mp->defrag.datagrams = cfg->match_defrag_datagrams;
	mp->defrag.memory = cfg->match_defrag_memory;
	mp->defrag.timeout_ns = cfg->fragment_timeout_ns;
	mp->defrag.socket_id = SOCKET_ID_ANY;
}

/*
 * Read and compile the rules (or load them from the cache), before EAL: a bad
 * rule is a configuration error. Returns 0 or EXIT_CONFIG.
 */
static int
load_rules(const struct ft_config *cfg, struct ft_rules **rules, struct ft_match_db **db)
{
	char err[FT_CFG_ERR_LEN];

	if (ft_rules_load(cfg->match_rules, rules, err, sizeof(err)) != 0 ||
	    ft_match_db_build(*rules, cfg->match_cache_dir, db, err, sizeof(err)) != 0) {
		fprintf(stderr, "flowtap: %s\n", err);
		return EXIT_CONFIG;
	}
	if ((*db)->cache_note[0] != '\0')
		fprintf(stderr, "flowtap: rules cache: %s\n", (*db)->cache_note);
	fprintf(stderr,
		"flowtap: %u rules from %s: %s in %.1f ms; databases %zu + %zu bytes (stream, "
		"block), stream state %zu bytes\n",
		(*rules)->count, cfg->match_rules,
		(*db)->from_cache ? "loaded from the cache" : "compiled", (*db)->build_ns / 1e6,
		(*db)->stream_db_bytes, (*db)->block_db_bytes, (*db)->stream_state_bytes);
	return 0;
}

/* The segment's rule table. */
static struct ft_rule_info *
rule_infos(const struct ft_rules *rules)
{
	struct ft_rule_info *ri = calloc(rules->count, sizeof(*ri));

	for (unsigned i = 0; ri != NULL && i < rules->count; i++) {
		ri[i].id = rules->rule[i].id;
		ri[i].dir = rules->rule[i].dir;
		memcpy(ri[i].name, rules->rule[i].name, sizeof(ri[i].name));
		memcpy(ri[i].meta, rules->rule[i].meta, sizeof(ri[i].meta));
	}
	return ri;
}

/* The statistics' figures from the configuration (the worker adds the rest). */
static struct ft_stats_params
stats_params(const struct ft_config *cfg)
{
	struct ft_stats_params sp = {
		.capacity = cfg->flow_capacity,
		.bucket_ns = cfg->stats_bucket_ns,
		.buckets = cfg->stats_buckets,
		.interval_ns = cfg->stats_interval_ns,
		.topk = cfg->stats_topk,
		.histograms = cfg->stats_histograms,
	};

	return sp;
}

/* EAL memory the configuration will ask for (pools, flow tables, statistics,
 * matching, rings), MiB. */
static uint64_t
memory_needed_mb(const struct ft_config *cfg, struct ft_port *ports, unsigned workers,
		 const struct ft_match_db *db)
{
	uint64_t bytes = 0;
	const uint64_t per_mbuf =
		cfg->mbuf_size + sizeof(struct rte_mbuf) + FT_PORT_MBUF_PRIV_SIZE + 64;

	for (unsigned i = 0; i < cfg->port_count; i++) {
		struct ft_port most = ports[i];

		/* Before the device says how many queues it has: the most. */
		most.rx_queues = (uint16_t)RTE_MAX(cfg->ports[i].rx_queues, workers);
		most.dispatch = true;
		bytes += (uint64_t)ft_port_pool_size(cfg, &most, workers) * per_mbuf;
	}
	bytes += (uint64_t)workers * (ft_flow_table_memory(cfg->flow_capacity) + 512 * 1024);
	if (cfg->stats_enable) {
		struct ft_stats_params sp = stats_params(cfg);

		bytes += (uint64_t)workers * ft_stats_memory(&sp);
	}
	bytes += (uint64_t)workers * workers * cfg->dispatch_ring_size * sizeof(void *);
	if (db != NULL) {
		struct ft_match_params mp;

		match_params(cfg, db, &mp);
		bytes += (uint64_t)workers * ft_match_memory(&mp);
	}
	return bytes * 5 / 4 / (1024 * 1024) + 128;
}

struct app_args {
	const char *config;
	const char *pcap;
	const char *filter;
	const char *sets[128]; /* room for flowtap-replay's 64 and its own */
	unsigned nsets;
	bool check;
};

static int
parse_app_args(int argc, char **argv, struct app_args *a)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"pcap", required_argument, NULL, 'r'},
		{"filter", required_argument, NULL, 'f'},
		{"set", required_argument, NULL, 's'},
		{"instance", required_argument, NULL, 'i'},
		{"check", no_argument, NULL, 'C'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static char instance_set[FT_CFG_NAME_LEN + 32];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:r:f:s:i:Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			a->config = optarg;
			break;
		case 'r':
			a->pcap = optarg;
			break;
		case 'f':
			a->filter = optarg;
			break;
		case 's':
		case 'i':
			if (a->nsets == RTE_DIM(a->sets)) {
				fprintf(stderr, "flowtap: too many --set options\n");
				return EXIT_CONFIG;
			}
			if (c == 'i') {
				snprintf(instance_set, sizeof(instance_set),
					 "dataplane.instance=%s", optarg);
				a->sets[a->nsets++] = instance_set;
			} else {
				a->sets[a->nsets++] = optarg;
			}
			break;
		case 'C':
			a->check = true;
			break;
		case 'V':
			printf("flowtap %s (DPDK %s)\n", FT_VERSION, rte_version());
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return EXIT_CONFIG;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "flowtap: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_CONFIG;
	}
	return 0;
}

static int
load_config(const struct app_args *a, struct ft_config *cfg)
{
	char err[FT_CFG_ERR_LEN];

	ft_config_defaults(cfg);
	if (a->config != NULL && ft_config_load(cfg, a->config, err, sizeof(err)) != 0)
		goto fail;
	for (unsigned i = 0; i < a->nsets; i++)
		if (ft_config_set(cfg, a->sets[i], err, sizeof(err)) != 0)
			goto fail;
	if (a->pcap != NULL && ft_config_set_pcap(cfg, a->pcap, err, sizeof(err)) != 0)
		goto fail;
	if (a->filter != NULL && ft_config_set_filter(cfg, a->filter, err, sizeof(err)) != 0)
		goto fail;
	if (ft_config_validate(cfg, err, sizeof(err)) != 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "flowtap: %s\n", err);
	return EXIT_CONFIG;
}

/* Build EAL's argv: the user's EAL options plus devices, --no-pci, a file
 * prefix and the hugepage fallback. */
static int
build_eal_args(char **argv, int sep, const struct ft_config *cfg, struct ft_port *ports,
	       unsigned lcores_hint, const struct ft_match_db *db, char **eal, int *neal)
{
	static const char *const pci_opts[] = {"-a", "--allow", "-b", "--block", "--no-pci", NULL};
	static const char *const prefix_opts[] = {"--file-prefix", NULL};
	static const char *const mem_opts[] = {"--no-huge", "-m", "--socket-mem", NULL};
	static char prefix[FT_CFG_NAME_LEN + 32], mem[32];
	char err[FT_CFG_ERR_LEN];
	int user_end = sep > 0 ? sep : 1;
	bool pci;

	*neal = 0;
	eal[(*neal)++] = argv[0];
	for (int i = 1; i < user_end; i++)
		eal[(*neal)++] = argv[i];
	if (ft_port_plan(cfg, ports, eal, neal, MAX_EAL_ARGS - 8, &pci, err, sizeof(err)) != 0) {
		fprintf(stderr, "flowtap: %s\n", err);
		return EXIT_CONFIG;
	}
	if (!pci && !has_arg(argv, user_end, pci_opts))
		eal[(*neal)++] = "--no-pci";
	if (!has_arg(argv, user_end, prefix_opts)) {
		snprintf(prefix, sizeof(prefix), "--file-prefix=flowtap-%s", cfg->instance);
		eal[(*neal)++] = prefix;
	}
	if (!has_arg(argv, user_end, mem_opts)) {
		uint64_t need = memory_needed_mb(cfg, ports, lcores_hint, db);
		uint64_t have = free_hugepage_bytes() / (1024 * 1024);

		if (have < need) {
			/* --in-memory cannot go with --no-huge; --no-shconf keeps the
			 * runtime folder free of files as --in-memory would. */
			int out = 1;

			for (int i = 1; i < *neal; i++)
				if (strcmp(eal[i], "--in-memory") != 0)
					eal[out++] = eal[i];
			*neal = out;
			snprintf(mem, sizeof(mem), "-m%" PRIu64, need);
			eal[(*neal)++] = "--no-huge";
			eal[(*neal)++] = "--no-shconf";
			eal[(*neal)++] = mem;
			fprintf(stderr,
				"flowtap: %" PRIu64 " MiB of free hugepages, %" PRIu64
				" MiB needed: running without hugepages (--no-huge %s; slower; see "
				"README \"Hugepages\")\n",
				have, need, mem);
		}
	}
	return 0;
}

/* Workers EAL will give us, guessed from -l/--lcores/-c before EAL runs (for
 * memory sizing only; the real count comes from EAL). */
static unsigned
guess_workers(int argc, char **argv)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	for (int i = 1; i < argc; i++) {
		const char *v = NULL;

		if (strcmp(argv[i], "-l") == 0 && i + 1 < argc)
			v = argv[i + 1];
		else if (strncmp(argv[i], "-l", 2) == 0 && argv[i][2] != '\0')
			v = argv[i] + 2;
		else if (strncmp(argv[i], "--lcores=", 9) == 0)
			v = argv[i] + 9;
		if (v != NULL) {
			/* Count comma-separated items and ranges roughly. */
			unsigned cnt = 0;
			const char *p = v;

			while (*p != '\0') {
				unsigned a, b;
				int used;

				if (sscanf(p, "%u-%u%n", &a, &b, &used) == 2 && b >= a) {
					cnt += b - a + 1;
					p += used;
				} else if (sscanf(p, "%u%n", &a, &used) == 1) {
					cnt++;
					p += used;
				} else {
					p++;
				}
				while (*p != '\0' && *p != ',')
					p++;
				if (*p == ',')
					p++;
			}
			n = cnt;
		}
	}
	return n > 1 ? (unsigned)(n - 1) : 1;
}

static bool
consumer_alive(const struct ft_export_header *hdr, uint64_t now_ns)
{
	int32_t pid = FT_SHM_LOAD(&hdr->consumer_pid);
	uint64_t beat = FT_SHM_LOAD(&hdr->consumer_heartbeat_ns);

	/* The heartbeat, not kill(pid, 0): a collector in another PID namespace
	 * is alive too, and one being restarted keeps the claim for a moment. */
	return pid > 0 && now_ns < beat + CONSUMER_STALE_NS;
}

static void
print_summary(const struct ft_export_header *hdr, unsigned workers, uint64_t elapsed_ns)
{
	uint64_t rx = 0, flows = 0, records = 0, drops = 0, disc = 0, busy = 0, total = 0;
	uint64_t scanned = 0, matches = 0, cpu = 0;

	for (unsigned w = 0; w < workers; w++) {
		const struct ft_worker_counters *c = &hdr->workers[w];

		rx += c->rx_packets;
		flows += c->flows_created;
		records += c->records;
		drops += c->ring_drop_records;
		for (unsigned d = 0; d < FT_DISCARD_MAX; d++)
			disc += c->discard_packets[d];
		busy += c->busy_cycles;
		total += c->total_cycles;
		scanned += c->match_scanned_bytes;
		matches += c->match_events;
		cpu += c->cpu_ns;
	}
	double pps = elapsed_ns ? (double)rx * 1e9 / (double)elapsed_ns : 0.0;

	FT_LOG(ft_logtype_main, NOTICE,
	       "%" PRIu64 " packets, %" PRIu64 " flows, %" PRIu64 " discarded, %" PRIu64
	       " records exported, %" PRIu64 " ring drops, %.3f s, %.2f %s, workers busy %.0f%%",
	       rx, flows, disc, records, drops, elapsed_ns / 1e9,
	       pps >= 1e6 ? pps / 1e6 : pps / 1e3, pps >= 1e6 ? "Mpps" : "kpps",
	       total ? 100.0 * (double)busy / (double)total : 0.0);
	/* Per worker CPU second: what the workers' cores did, whatever else shared
	 * them (benchmarks on shared machines). */
	FT_LOG(ft_logtype_main, NOTICE, "workers' CPU time %.3f s: %.3f M packets per worker CPU second",
	       cpu / 1e9, cpu ? (double)rx * 1e3 / (double)cpu : 0.0);
	if (hdr->rule_count > 0)
		FT_LOG(ft_logtype_main, NOTICE,
		       "%" PRIu64 " matches, %" PRIu64
		       " payload bytes scanned, %.1f MB/s, %.1f MB per worker CPU second",
		       matches, scanned, elapsed_ns ? (double)scanned * 1e3 / (double)elapsed_ns : 0.0,
		       cpu ? (double)scanned * 1e3 / (double)cpu : 0.0);
}

int
main(int argc, char **argv)
{
	static struct ft_port ports[FT_CFG_MAX_PORTS];
	static struct ft_worker_ctl ctl;
	static struct ft_worker *workers[FT_WORKER_MAX];
	struct app_args app = {0};
	struct ft_config cfg;
	struct ft_export_segment seg = {0};
	struct ft_rules *rules = NULL;
	struct ft_match_db *mdb = NULL;
	struct ft_rule_info *rinfo = NULL;
	struct ft_match_params mp = {0};
	char *eal[MAX_EAL_ARGS];
	char err[FT_CFG_ERR_LEN];
	int sep, neal, rc, ts_offset;
	unsigned nworkers, w;
	uint64_t ts_flag, t_start, t_end, last_tick = 0;
	bool all_finite;
	int exit_code = 0;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	sep = find_separator(argc, argv);
	rc = parse_app_args(sep > 0 ? argc - sep : argc, sep > 0 ? argv + sep : argv, &app);
	if (rc != 0)
		return rc;
	rc = load_config(&app, &cfg);
	if (rc != 0)
		return rc;
	if (cfg.match_rules[0] != '\0') {
		exit_code = load_rules(&cfg, &rules, &mdb);
		if (exit_code != 0)
			goto out_config;
		match_params(&cfg, mdb, &mp);
		rinfo = rule_infos(rules);
		if (rinfo == NULL) {
			fprintf(stderr, "flowtap: out of memory\n");
			exit_code = 1;
			goto out_config;
		}
	}
	exit_code = build_eal_args(argv, sep, &cfg, ports,
				   guess_workers(sep > 0 ? sep : 1, argv), mdb, eal, &neal);
	if (exit_code != 0)
		goto out_config;
	if (app.check) {
		unsigned filters = 0;

		for (unsigned i = 0; i < cfg.port_count; i++)
			filters += ports[i].has_filter;
		printf("flowtap: configuration %s is valid (%u port(s)%s%s)\n",
		       cfg.source[0] ? cfg.source : "(defaults)", cfg.port_count,
		       rules != NULL ? ", rules compiled" : "",
		       filters > 0 ? ", capture filters compiled" : "");
		goto out_config;
	}
	all_finite = ft_config_all_finite(&cfg);
	exit_code = stopped_starting("EAL initialisation");
	if (exit_code != 0)
		goto out_config;

	atexit(remove_runtime_dir);
	if (rte_eal_init(neal, eal) < 0) {
		fprintf(stderr, "flowtap: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
		exit_code = 1;
		goto out_config;
	}
	nworkers = rte_lcore_count() - 1;
	if (nworkers == 0 || nworkers > FT_WORKER_MAX) {
		fprintf(stderr,
			"flowtap: %u worker lcores: need 1 to %d (the main lcore does control "
			"only), e.g. -l 0-1\n",
			nworkers, FT_WORKER_MAX);
		exit_code = EXIT_CONFIG;
		goto out_eal;
	}
	exit_code = stopped_starting("creating the export segment");
	if (exit_code != 0)
		goto out_eal;

	{
		struct ft_export_segment_params sp = {
			.instance = cfg.instance,
			.workers = nworkers,
			.ports = cfg.port_count,
			.ring_size = cfg.ring_size,
			.mode = cfg.shm_mode,
			.group = cfg.shm_group,
			.overflow =
				cfg.overflow == FT_OVERFLOW_CFG_BACKPRESSURE ||
						(cfg.overflow == FT_OVERFLOW_CFG_AUTO && all_finite)
					? FT_OVERFLOW_BACKPRESSURE
					: FT_OVERFLOW_DROP,
			.rules = rinfo,
			.rule_count = rules != NULL ? rules->count : 0,
			.stream_state_bytes = mdb != NULL ? mdb->stream_state_bytes : 0,
		};

		rc = ft_export_segment_create(&seg, &sp, err, sizeof(err));
		if (rc != 0) {
			fprintf(stderr, "flowtap: %s\n", err);
			exit_code = rc == -EEXIST ? EXIT_CONFIG : 1;
			goto out_eal;
		}
	}

	if (ft_port_start(&cfg, ports, nworkers, &ts_offset, &ts_flag, err, sizeof(err)) != 0) {
		fprintf(stderr, "flowtap: %s\n", err);
		exit_code = EXIT_CONFIG;
		goto out_ports;
	}
	exit_code = stopped_starting("creating the workers");
	if (exit_code != 0)
		goto out_ports;

	ctl.workers = nworkers;
	w = 0;
	{
		unsigned lcore;

		RTE_LCORE_FOREACH_WORKER(lcore)
		{
			struct ft_worker_params wp = {
				.id = w,
				.workers = nworkers,
				.burst_size = cfg.burst_size,
				.flow = {.capacity = cfg.flow_capacity,
					 .socket_id = (int)rte_lcore_to_socket_id(lcore),
					 .worker_id = (uint16_t)w,
					 .expiry_budget = cfg.expiry_budget,
					 .timeouts = cfg.timeouts,
					 .active_timeout_ns = cfg.active_timeout_ns,
					 .full_policy = cfg.full_policy,
					 .emergency_enter = cfg.emergency_enter,
					 .emergency_leave = cfg.emergency_leave,
					 .emergency_factor = cfg.emergency_factor},
				.stats_enable = cfg.stats_enable,
				.stats = stats_params(&cfg),
				.dispatch_backpressure = all_finite,
				.dispatch_ippair = cfg.dispatch_hash == FT_DISPATCH_CFG_IPPAIR,
				.tunnels = cfg.tunnels,
				.frag_entries = cfg.fragment_table_size,
				.frag_timeout_ns = cfg.fragment_timeout_ns,
				.frag_wait_ns = cfg.fragment_wait_ns,
				.ts_offset = ts_offset,
				.ts_flag = ts_flag,
				.match = mdb != NULL ? &mp : NULL,
			};

			workers[w] = ft_worker_create(&wp, (int)rte_lcore_to_socket_id(lcore), &seg,
						      &ctl);
			if (workers[w] == NULL) {
				struct ft_stats_params sp = stats_params(&cfg);

				fprintf(stderr,
					"flowtap: worker %u: %s (flow table of %u flows needs "
					"%" PRIu64 " MiB, statistics %" PRIu64 " MiB, matching %" PRIu64
					" MiB)\n",
					w, rte_strerror(rte_errno), cfg.flow_capacity,
					ft_flow_table_memory(cfg.flow_capacity) >> 20,
					cfg.stats_enable ? ft_stats_memory(&sp) >> 20 : 0,
					mdb != NULL ? ft_match_memory(&mp) >> 20 : 0);
				exit_code = 1;
				goto out_workers;
			}
			w++;
		}
	}

	FT_LOG(ft_logtype_main, NOTICE,
	       "%u worker(s), flow table of %u flows each: %.1f MiB, %.0f bytes per flow", nworkers,
	       cfg.flow_capacity, ft_flow_table_memory(cfg.flow_capacity) / 1048576.0,
	       (double)ft_flow_table_memory(cfg.flow_capacity) / cfg.flow_capacity);
	if (cfg.stats_enable) {
		struct ft_stats_params sp = stats_params(&cfg);

		FT_LOG(ft_logtype_main, NOTICE,
		       "statistics each: %.1f MiB, %.0f bytes per flow (%u buckets of %.3f s, "
		       "histograms %s, top %u every %.1f s)",
		       ft_stats_memory(&sp) / 1048576.0,
		       (double)ft_stats_memory(&sp) / cfg.flow_capacity, cfg.stats_buckets,
		       cfg.stats_bucket_ns / 1e9, cfg.stats_histograms ? "on" : "off",
		       cfg.stats_topk, cfg.stats_interval_ns / 1e9);
	}
	if (mdb != NULL)
		FT_LOG(ft_logtype_main, NOTICE,
		       "matching per worker: %.1f MiB (%zu bytes per flow, %u stream states of "
		       "%zu bytes, %.1f MiB reorder pool, %u chunk buffers of %u bytes, "
		       "%.1f MiB for up to %u IP datagrams being put together)",
		       ft_match_memory(&mp) / 1048576.0, ft_match_flow_state_bytes(),
		       cfg.match_streams, mdb->stream_state_bytes,
		       cfg.match_reorder_memory / 1048576.0, mp.chunks, mp.chunk_size,
		       ft_defrag_memory(&mp.defrag) / 1048576.0, mp.defrag.datagrams);

	/* Queues to workers; dispatch rings from every queue owner of a port
	 * with fewer queues than workers to every other worker. */
	for (unsigned i = 0; i < cfg.port_count; i++) {
		struct ft_port *p = &ports[i];

		for (uint16_t q = 0; q < p->rx_queues; q++) {
			unsigned owner = p->queue_worker[q];
			struct ft_worker_source src = {
				.port_id = p->port_id,
				.queue = q,
				.port_index = (uint16_t)i,
				.dispatch = p->dispatch,
				.packet_clock = p->packet_clock,
				.link = p->link,
				.speed = p->is_file ? cfg.replay_speed : 0,
				.max_gap_ns = cfg.replay_max_gap_ns,
				.cut_len = p->cfg->kind == FT_PORT_PCAP ? p->file.cut_caplen : 0,
				.uncut_max = p->file.max_len,
				.live = p->cfg->kind == FT_PORT_DEVICE,
				.filter = p->has_filter ? p->filter.bf_insns : NULL,
			};

			ft_worker_add_source(workers[owner], &src);
			if (!p->dispatch)
				continue;
			for (unsigned to = 0; to < nworkers; to++) {
				char name[RTE_RING_NAMESIZE];
				struct rte_ring *r;

				snprintf(name, sizeof(name), "ft_disp_%u_%u", owner, to);
				if (to == owner || rte_ring_lookup(name) != NULL)
					continue;
				r = rte_ring_create(name, cfg.dispatch_ring_size,
						    (int)rte_socket_id(),
						    RING_F_SP_ENQ | RING_F_SC_DEQ);
				if (r == NULL) {
					fprintf(stderr, "flowtap: dispatch ring %s: %s\n", name,
						rte_strerror(rte_errno));
					exit_code = 1;
					goto out_workers;
				}
				ft_worker_connect(workers[owner], workers[to], r);
			}
		}
	}

	exit_code = stopped_starting("starting the workers");
	if (exit_code != 0)
		goto out_workers;

	for (unsigned i = 0; i < cfg.port_count; i++)
		ft_port_read_stats(&ports[i], &seg.hdr->ports[i]);
	FT_SHM_STORE(&seg.hdr->state, FT_SEG_RUNNING);
	w = 0;
	{
		unsigned lcore;

		RTE_LCORE_FOREACH_WORKER(lcore)
		rte_eal_remote_launch(ft_worker_main, workers[w++], lcore);
	}

	if (cfg.wait_collector_ns > 0) {
		uint64_t deadline = ft_mono_ns() + cfg.wait_collector_ns;

		while (!stop_signal && ft_mono_ns() < deadline &&
		       !consumer_alive(seg.hdr, ft_wall_ns())) {
			FT_SHM_STORE(&seg.hdr->heartbeat, seg.hdr->heartbeat + 1);
			FT_SHM_STORE(&seg.hdr->heartbeat_ns, ft_wall_ns());
			rte_delay_us_sleep(10000);
		}
		if (!consumer_alive(seg.hdr, ft_wall_ns()))
			FT_LOG(ft_logtype_main, WARNING,
			       "no collector attached to instance '%s' after %.1f s; starting "
			       "anyway",
			       cfg.instance, cfg.wait_collector_ns / 1e9);
	}
	ctl.consumer_alive = consumer_alive(seg.hdr, ft_wall_ns());
	t_start = ft_mono_ns();
	ctl.start = 1;

	/* Control loop. */
	for (;;) {
		uint64_t now = ft_wall_ns();
		bool done = true;

		if (now - last_tick >= TICK_NS) {
			last_tick = now;
			FT_SHM_STORE(&seg.hdr->heartbeat, seg.hdr->heartbeat + 1);
			FT_SHM_STORE(&seg.hdr->heartbeat_ns, now);
			ctl.consumer_alive = consumer_alive(seg.hdr, now);
			for (unsigned i = 0; i < cfg.port_count; i++)
				ft_port_read_stats(&ports[i], &seg.hdr->ports[i]);
		}
		if (stop_signal && !ctl.stop) {
			FT_LOG(ft_logtype_main, NOTICE, "signal %d: stopping", (int)stop_signal);
			ctl.stop = 1;
			FT_SHM_STORE(&seg.hdr->state, FT_SEG_STOPPING);
		}
		if (all_finite && !ctl.input_done) {
			bool read_all = true;
			uint64_t end_ns = 0;

			for (unsigned i = 0; i < cfg.port_count; i++) {
				if (ft_port_consumed(&ports[i]) < ports[i].file.packets)
					read_all = false;
				end_ns = RTE_MAX(end_ns, ports[i].file.last_ns);
			}
			if (read_all) {
				ctl.end_ns = end_ns;
				__atomic_store_n(&ctl.input_done, 1, __ATOMIC_RELEASE);
				FT_SHM_STORE(&seg.hdr->state, FT_SEG_STOPPING);
			}
		}
		for (w = 0; w < nworkers; w++)
			if (!FT_SHM_LOAD(&seg.hdr->workers[w].done))
				done = false;
		if (done)
			break;
		rte_delay_us_sleep(1000);
	}
	rte_eal_mp_wait_lcore();
	t_end = ft_mono_ns();

	for (unsigned i = 0; i < cfg.port_count; i++)
		ft_port_read_stats(&ports[i], &seg.hdr->ports[i]);
	FT_SHM_STORE(&seg.hdr->state, FT_SEG_FINISHED);
	print_summary(seg.hdr, nworkers, t_end - t_start);

	/* Give a collector the time to take what the rings still hold. */
	{
		uint64_t deadline = ft_mono_ns() + cfg.linger_ns;
		unsigned pending;

		while ((pending = ft_export_segment_pending(&seg)) > 0 && ft_mono_ns() < deadline &&
		       stop_signal != SIGTERM) {
			FT_SHM_STORE(&seg.hdr->heartbeat, seg.hdr->heartbeat + 1);
			FT_SHM_STORE(&seg.hdr->heartbeat_ns, ft_wall_ns());
			rte_delay_us_sleep(10000);
		}
		if (pending > 0)
			FT_LOG(ft_logtype_main, WARNING,
			       "%u records were never collected (no collector drained instance "
			       "'%s' within [export] linger = %.1f s)",
			       pending, cfg.instance, cfg.linger_ns / 1e9);
	}

out_workers:
	if (exit_code != 0) {
		/* Workers never launched or failed to start: release them. */
		ctl.stop = 1;
		rte_eal_mp_wait_lcore();
	}
	for (w = 0; w < FT_WORKER_MAX; w++)
		ft_worker_free(workers[w]);
out_ports:
	ft_port_close_all(ports, cfg.port_count);
	ft_export_segment_destroy(&seg);
out_eal:
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
out_config:
	ft_port_free_filters(ports, cfg.port_count);
	ft_match_db_free(mdb);
	ft_rules_free(rules);
	free(rinfo);
	return exit_code;
}
