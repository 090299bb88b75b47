/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowtap-replay: test a capture, a configuration or rules in one command, as
 * `suricata -r` does. Starts the real flowtap-collector and flowtap (on a
 * net_pcap port of the file), waits for the end of the file, and exits with the
 * verdict:
 *
 *   0  every packet of the capture is in a flow record or a named counter
 *   1  a process failed or the run did not complete
 *   2  usage or configuration error (flowtap's own message says which)
 *   3  the run completed but the totals do not add up to the capture's
 *
 * Nothing is left behind: the segment and EAL runtime folder use a per-run
 * name, no hugepage files (--in-memory, or --no-huge when hugepages are short),
 * and both children are waited for (or killed) before exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_FAIL	1
#define EXIT_USAGE	2
#define EXIT_UNACCOUNTED 3
#define MAX_SETS	 64
/* flowtap's arguments: two per --set, and fewer than 32 others. */
#define MAX_ARGS (2 * MAX_SETS + 32)

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	got_signal = sig;
}

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: flowtap-replay PCAP [options] [FILTER EXPRESSION]\n"
		"\n"
		"  -c, --config FILE      flowtap configuration (its ports are replaced by PCAP)\n"
		"  -r, --rules FILE       pattern rules (= --set match.rules=FILE)\n"
		"  -f, --filter EXPR      capture filter, as tcpdump's (pcap-filter(7)); what it\n"
		"                         refuses is counted in discards.filtered\n"
		"  -o, --output FILE      JSON lines output (default: standard output)\n"
		"  -w, --workers N        worker lcores (default 1)\n"
		"  -s, --set SECTION.KEY=VALUE   override a configuration key (repeatable)\n"
		"      --speed X          replay at X times the capture's pace (default 0: as "
		"fast\n"
		"                         as possible; 1: as captured)\n"
		"      --summary FILE     also write the final summary line to FILE\n"
		"      --stats-interval S live statistics on stderr every S seconds (default 1;\n"
		"                         0: off)\n"
		"      --top N            with live statistics, the top N flows of each interval\n"
		"      --community-id[=SEED]  flow lines carry their Community ID (the\n"
		"                         collector's option)\n"
		"  -q, --quiet            only errors on stderr\n"
		"  -h, --help             this text\n"
		"\n"
		"Exit status: 0 all packets accounted for, 1 run failed, 2 usage or\n"
		"configuration error, 3 totals do not add up.\n");
}

/* A sibling program: next to us, in the build tree layout, or on PATH. */
static void
find_program(const char *name, const char *build_subdir, const char *env, char *out,
	     size_t out_len)
{
	char self[PATH_MAX], dir[PATH_MAX], cand[PATH_MAX * 2];
	const char *e = getenv(env);
	ssize_t n;

	if (e != NULL && *e != '\0') {
		snprintf(out, out_len, "%s", e);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		snprintf(dir, sizeof(dir), "%s", dirname(self));
		snprintf(cand, sizeof(cand), "%s/%s", dir, name);
		if (access(cand, X_OK) == 0 && strlen(cand) < out_len) {
			memcpy(out, cand, strlen(cand) + 1);
			return;
		}
		snprintf(cand, sizeof(cand), "%s/../%s/%s", dir, build_subdir, name);
		if (access(cand, X_OK) == 0 && strlen(cand) < out_len) {
			memcpy(out, cand, strlen(cand) + 1);
			return;
		}
	}
	snprintf(out, out_len, "%s", name); /* execvp searches PATH */
}

static pid_t
spawn(char *const argv[], int quiet_stdout)
{
	pid_t pid = fork();

	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		if (quiet_stdout) {
			int fd = open("/dev/null", O_WRONLY);

			if (fd >= 0)
				dup2(fd, STDOUT_FILENO);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "flowtap-replay: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Wait for pid; forwards a signal we got to it. Returns its exit status, or
 * 128 + signal if it was killed. */
static int
wait_child(const char *name, pid_t pid, pid_t also_signal, double timeout_s)
{
	struct timespec start, now;
	int status, forwarded = 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return EXIT_FAIL;
		if (got_signal && !forwarded) {
			kill(pid, SIGINT);
			if (also_signal > 0)
				kill(also_signal, SIGINT);
			forwarded = 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (timeout_s > 0 && (now.tv_sec - start.tv_sec) +
						     (now.tv_nsec - start.tv_nsec) / 1e9 >
					     timeout_s) {
			fprintf(stderr, "flowtap-replay: %s did not finish in %.0f s; killing it\n",
				name, timeout_s);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return EXIT_FAIL;
		}
		usleep(10000);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/* Read the summary line the collector wrote. */
static int
read_summary(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return n > 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"rules", required_argument, NULL, 'r'},
		{"output", required_argument, NULL, 'o'},
		{"workers", required_argument, NULL, 'w'},
		{"set", required_argument, NULL, 's'},
		{"summary", required_argument, NULL, 'S'},
		{"speed", required_argument, NULL, 'X'},
		{"filter", required_argument, NULL, 'f'},
		{"stats-interval", required_argument, NULL, 'I'},
		{"top", required_argument, NULL, 'T'},
		{"community-id", optional_argument, NULL, 'C'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config = NULL, *rules = NULL, *output = "-", *summary_copy = NULL,
		   *filter = NULL;
	const char *stats_interval = "1", *top = NULL;
	char community[48] = "";
	const char *sets[MAX_SETS];
	unsigned nsets = 0;
	long workers = 1, ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	bool quiet = false;
	char dataplane[PATH_MAX], collector[PATH_MAX];
	char instance[64], prefix[96], lcores[512], summary_path[PATH_MAX], rules_set[PATH_MAX + 32];
	char inst_set[96], speed_set[96];
	static char filter_words[4096];
	static char summary[65536];
	char *dp_argv[MAX_ARGS], *col_argv[MAX_ARGS];
	int ndp = 0, ncol = 0, c, dp_rc, col_rc, rc;
	pid_t dp_pid, col_pid;
	const char *pcap;
	char shm_path[128], run_dir[192], telemetry_sock[256];

	while ((c = getopt_long(argc, argv, "c:r:f:o:w:s:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'f':
			filter = optarg;
			break;
		case 'r':
			rules = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'w': {
			char *end;

			workers = strtol(optarg, &end, 10);
			if (*end != '\0' || workers < 1 || workers > 32) {
				fprintf(stderr, "flowtap-replay: -w %s: workers must be 1 to 32\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case 's':
			if (nsets == MAX_SETS) {
				fprintf(stderr, "flowtap-replay: too many --set options\n");
				return EXIT_USAGE;
			}
			sets[nsets++] = optarg;
			break;
		case 'S':
			summary_copy = optarg;
			break;
		case 'C':
			/* The collector checks SEED. */
			snprintf(community, sizeof(community), "--community-id%s%.20s",
				 optarg != NULL ? "=" : "", optarg != NULL ? optarg : "");
			break;
		case 'X':
			snprintf(speed_set, sizeof(speed_set), "dataplane.replay_speed=%s", optarg);
			if (nsets == MAX_SETS) {
				fprintf(stderr, "flowtap-replay: too many --set options\n");
				return EXIT_USAGE;
			}
			sets[nsets++] = speed_set;
			break;
		case 'I':
			stats_interval = optarg;
			break;
		case 'T':
			top = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "flowtap-replay: which capture? (flowtap-replay PCAP)\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	pcap = argv[optind];
	/* Words after the capture are a filter expression, as tcpdump's. */
	if (optind + 1 < argc) {
		size_t off = 0;

		if (filter != NULL) {
			fprintf(stderr, "flowtap-replay: a filter both with -f and after the "
					"capture\n");
			return EXIT_USAGE;
		}
		for (int i = optind + 1; i < argc; i++) {
			size_t n = strlen(argv[i]);

			if (off + n + 2 > sizeof(filter_words)) {
				fprintf(stderr, "flowtap-replay: filter expression too long\n");
				return EXIT_USAGE;
			}
			if (off > 0)
				filter_words[off++] = ' ';
			memcpy(filter_words + off, argv[i], n + 1);
			off += n;
		}
		filter = filter_words;
	}
	if (access(pcap, R_OK) != 0) {
		fprintf(stderr, "flowtap-replay: %s: %s\n", pcap, strerror(errno));
		return EXIT_USAGE;
	}

	find_program("flowtap", "dataplane", "FLOWTAP_DATAPLANE", dataplane, sizeof(dataplane));
	find_program("flowtap-collector", "collector", "FLOWTAP_COLLECTOR", collector,
		     sizeof(collector));

	/* A name no segment has yet. The pid alone repeats (pids wrap, at 32768
	 * by default), and a collector would take a segment a killed run left
	 * under it for this run's: it finds that dataplane gone, ends, and this
	 * run's dataplane waits for a collector in vain. */
	do {
		uint32_t nonce;

		if (getrandom(&nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce))
			nonce = (uint32_t)time(NULL) ^ (uint32_t)clock();
		snprintf(instance, sizeof(instance), "replay-%d-%08x", (int)getpid(), nonce);
		snprintf(shm_path, sizeof(shm_path), "/dev/shm/flowtap.%s", instance);
	} while (access(shm_path, F_OK) == 0);
	snprintf(prefix, sizeof(prefix), "--file-prefix=flowtap-%s", instance);
	snprintf(summary_path, sizeof(summary_path), "%s/flowtap-%s.summary.json",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", instance);
	snprintf(run_dir, sizeof(run_dir), "/var/run/dpdk/flowtap-%s", instance);

	/* Main lcore floats over every CPU (it sleeps between ticks); workers are
	 * pinned one per CPU, wrapping when there are more workers than CPUs. */
	{
		int off = snprintf(lcores, sizeof(lcores), "--lcores=0@(0-%ld)", ncpu - 1);

		for (long i = 1; i <= workers; i++)
			off += snprintf(lcores + off, sizeof(lcores) - (size_t)off, ",%ld@%ld", i,
					i % ncpu);
	}

	col_argv[ncol++] = collector;
	col_argv[ncol++] = "-i";
	col_argv[ncol++] = instance;
	col_argv[ncol++] = "--once";
	col_argv[ncol++] = "-o";
	col_argv[ncol++] = (char *)output;
	col_argv[ncol++] = "--summary";
	col_argv[ncol++] = summary_path;
	col_argv[ncol++] = "--stats-interval";
	col_argv[ncol++] = quiet ? "0" : (char *)stats_interval;
	if (top != NULL) {
		col_argv[ncol++] = "--top";
		col_argv[ncol++] = (char *)top;
	}
	if (community[0] != '\0')
		col_argv[ncol++] = community;
	if (quiet)
		col_argv[ncol++] = "-q";
	col_argv[ncol] = NULL;

	dp_argv[ndp++] = dataplane;
	dp_argv[ndp++] = lcores;
	dp_argv[ndp++] = "--in-memory";
	dp_argv[ndp++] = prefix;
	/* EAL's notes on hugepage sizes it finds none of, and on telemetry's
	 * legacy socket, are noise here; flowtap reports its own memory choice. */
	dp_argv[ndp++] = "--log-level=lib.eal:error";
	dp_argv[ndp++] = "--log-level=lib.telemetry:error";
	dp_argv[ndp++] = quiet ? "--log-level=flowtap.*:warning" : "--log-level=flowtap.*:notice";
	dp_argv[ndp++] = "--";
	if (config != NULL) {
		dp_argv[ndp++] = "-c";
		dp_argv[ndp++] = (char *)config;
	}
	for (unsigned i = 0; i < nsets; i++) {
		dp_argv[ndp++] = "--set";
		dp_argv[ndp++] = (char *)sets[i];
	}
	if (rules != NULL) {
		snprintf(rules_set, sizeof(rules_set), "match.rules=%s", rules);
		dp_argv[ndp++] = "--set";
		dp_argv[ndp++] = rules_set;
	}
	snprintf(inst_set, sizeof(inst_set), "dataplane.instance=%s", instance);
	dp_argv[ndp++] = "--set";
	dp_argv[ndp++] = inst_set;
	/* Nothing may be lost before the collector attaches, and what the rings
	 * hold at the end must reach it. */
	dp_argv[ndp++] = "--set";
	dp_argv[ndp++] = "export.wait_collector=30s";
	dp_argv[ndp++] = "--set";
	dp_argv[ndp++] = "export.linger=30s";
	dp_argv[ndp++] = "--pcap";
	dp_argv[ndp++] = (char *)pcap;
	if (filter != NULL) {
		dp_argv[ndp++] = "--filter";
		dp_argv[ndp++] = (char *)filter;
	}
	dp_argv[ndp] = NULL;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	unlink(summary_path);

	col_pid = spawn(col_argv, 0);
	if (col_pid < 0) {
		fprintf(stderr, "flowtap-replay: fork: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	dp_pid = spawn(dp_argv, 0);
	if (dp_pid < 0) {
		fprintf(stderr, "flowtap-replay: fork: %s\n", strerror(errno));
		kill(col_pid, SIGTERM);
		waitpid(col_pid, NULL, 0);
		return EXIT_FAIL;
	}

	dp_rc = wait_child("flowtap", dp_pid, col_pid, 0);
	if (dp_rc != 0) {
		/* The dataplane refused or failed: the collector would wait forever. */
		kill(col_pid, SIGTERM);
		col_rc = wait_child("flowtap-collector", col_pid, -1, 10);
	} else {
		col_rc = wait_child("flowtap-collector", col_pid, -1, 60);
	}

	/* Whatever happened, leave nothing behind: a dataplane that crashed leaves
	 * its segment and its telemetry socket in the run's own folder. */
	unlink(shm_path);
	snprintf(telemetry_sock, sizeof(telemetry_sock), "%s/dpdk_telemetry.v2", run_dir);
	unlink(telemetry_sock);
	rmdir(run_dir);

	if (dp_rc == EXIT_USAGE)
		rc = EXIT_USAGE;
	else if (got_signal)
		rc = 128 + got_signal;
	else if (dp_rc != 0) {
		fprintf(stderr, "flowtap-replay: flowtap exited with status %d\n", dp_rc);
		rc = EXIT_FAIL;
	} else if (read_summary(summary_path, summary, sizeof(summary)) != 0) {
		fprintf(stderr, "flowtap-replay: the collector wrote no summary (status %d)\n",
			col_rc);
		rc = EXIT_FAIL;
	} else if (strstr(summary, "\"complete\":true") == NULL) {
		fprintf(stderr, "flowtap-replay: the run did not complete (collector status %d)\n",
			col_rc);
		rc = EXIT_FAIL;
	} else if (strstr(summary, "\"accounted\":{\"packets\":true,\"bytes\":true") == NULL) {
		fprintf(stderr, "flowtap-replay: totals do not add up to the capture's: %s",
			strstr(summary, "\"accounted\"") ?: summary);
		rc = EXIT_UNACCOUNTED;
	} else {
		rc = 0;
	}
	if (summary_copy != NULL && summary[0] != '\0') {
		FILE *f = fopen(summary_copy, "w");

		if (f == NULL || fputs(summary, f) == EOF || fclose(f) != 0)
			fprintf(stderr, "flowtap-replay: cannot write %s: %s\n", summary_copy,
				strerror(errno));
	}
	unlink(summary_path);
	return rc;
}
