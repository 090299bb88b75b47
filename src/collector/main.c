/* SPDX-License-Identifier: BSD-3-Clause */
/* flowtap-collector command line. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"

#ifndef FT_VERSION
#define FT_VERSION "unknown"
#endif

static void
usage(FILE *f)
{
	fprintf(f,
		"Usage: flowtap-collector [-i INSTANCE] [-o FILE|-] [--once] [--stats-interval S]\n"
		"                         [--top N] [--wait-timeout S] [--summary FILE]\n"
		"                         [--community-id[=SEED]] [-q] [--version] [-h]\n"
		"\n"
		"Drain the export rings of a flowtap dataplane (/dev/shm/flowtap.INSTANCE) into\n"
		"JSON lines: one per flow record, and a summary per run.\n"
		"\n"
		"  -i, --instance NAME     dataplane instance ([A-Za-z0-9_.-]{1,31}; default: "
		"default)\n"
		"  -o, --output FILE       append JSON lines to FILE ('-': standard output, "
		"default)\n"
		"      --once              exit after the first run: 0 if it completed, 1 if the\n"
		"                          dataplane vanished\n"
		"      --stats-interval S  live statistics on stderr every S seconds (default 1;\n"
		"                          0: off)\n"
		"      --top N             with the statistics, the N largest flows (bytes) of "
		"each\n"
		"                          interval (0..%d, default 0)\n"
		"      --wait-timeout S    give up (exit 1) after waiting S seconds for a segment\n"
		"                          (default: wait forever)\n"
		"      --summary FILE      also write each run's summary line to FILE (replaced)\n"
		"      --community-id[=SEED]  flow lines carry \"community_id\", the Community ID\n"
		"                          v1 of the flow (as Suricata, Zeek, Wireshark); SEED\n"
		"                          0..65535, default 0\n"
		"  -q, --quiet             print errors only (an incomplete run is one)\n"
		"      --version           print the version and exit\n"
		"  -h, --help              print this help and exit\n"
		"\n"
		"Exit status: 0 run complete or stopped by SIGINT/SIGTERM; 1 dataplane vanished,\n"
		"wait timeout or output failure; 2 usage or attach error.\n",
		FT_COLLECTOR_TOP_MAX);
}

static int
parse_uint(const char *opt, const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	if (s[0] == '-' || s[0] == '\0')
		goto bad;
	*out = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || *out > max)
		goto bad;
	return 0;
bad:
	fprintf(stderr, "flowtap-collector: %s: '%s' is not a number in 0..%lu\n", opt, s, max);
	return -1;
}

/* Seconds with an optional fraction, to milliseconds. */
static int
parse_seconds_ms(const char *opt, const char *s, int64_t *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0) || v > 1e9) {
		fprintf(stderr, "flowtap-collector: %s: '%s' is not a number of seconds\n", opt, s);
		return -1;
	}
	*ms = (int64_t)(v * 1000.0 + 0.5);
	return 0;
}

enum {
	OPT_ONCE = 256,
	OPT_STATS,
	OPT_TOP,
	OPT_WAIT,
	OPT_VERSION,
	OPT_SUMMARY,
	OPT_COMMUNITY,
};

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"instance", required_argument, NULL, 'i'},
		{"output", required_argument, NULL, 'o'},
		{"once", no_argument, NULL, OPT_ONCE},
		{"stats-interval", required_argument, NULL, OPT_STATS},
		{"top", required_argument, NULL, OPT_TOP},
		{"wait-timeout", required_argument, NULL, OPT_WAIT},
		{"summary", required_argument, NULL, OPT_SUMMARY},
		{"community-id", optional_argument, NULL, OPT_COMMUNITY},
		{"quiet", no_argument, NULL, 'q'},
		{"version", no_argument, NULL, OPT_VERSION},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct ft_collector_config cfg = {
		.instance = "default",
		.output = NULL,
		.stats_interval_s = 1,
		.wait_timeout_ms = -1,
		.community_seed = -1,
	};
	unsigned long v;
	int opt;

	while ((opt = getopt_long(argc, argv, "i:o:qh", opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			cfg.instance = optarg;
			break;
		case 'o':
			cfg.output = optarg;
			break;
		case OPT_ONCE:
			cfg.once = true;
			break;
		case OPT_STATS:
			if (parse_uint("--stats-interval", optarg, 86400, &v) < 0)
				return FT_EXIT_USAGE;
			cfg.stats_interval_s = (uint32_t)v;
			break;
		case OPT_TOP:
			if (parse_uint("--top", optarg, FT_COLLECTOR_TOP_MAX, &v) < 0)
				return FT_EXIT_USAGE;
			cfg.top = (uint32_t)v;
			break;
		case OPT_WAIT:
			if (parse_seconds_ms("--wait-timeout", optarg, &cfg.wait_timeout_ms) < 0)
				return FT_EXIT_USAGE;
			break;
		case OPT_SUMMARY:
			cfg.summary = optarg;
			break;
		case OPT_COMMUNITY:
			v = 0;
			if (optarg != NULL && parse_uint("--community-id", optarg, 65535, &v) < 0)
				return FT_EXIT_USAGE;
			cfg.community_seed = (int)v;
			break;
		case 'q':
			cfg.quiet = true;
			break;
		case OPT_VERSION:
			printf("flowtap-collector %s (export layout %d)\n", FT_VERSION,
			       FT_EXPORT_LAYOUT_VERSION);
			return FT_EXIT_OK;
		case 'h':
			usage(stdout);
			return FT_EXIT_OK;
		default:
			usage(stderr);
			return FT_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "flowtap-collector: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return FT_EXIT_USAGE;
	}
	if (!ft_instance_name_valid(cfg.instance)) {
		fprintf(stderr,
			"flowtap-collector: invalid instance name '%s' (expected "
			"[A-Za-z0-9_.-]{1,%d})\n",
			cfg.instance, FT_EXPORT_NAME_LEN - 1);
		return FT_EXIT_USAGE;
	}
	return ft_collector_run(&cfg);
}
