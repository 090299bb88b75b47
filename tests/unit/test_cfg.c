/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of src/cfg: parsing, every error path, overrides, and the
 * documented defaults in config/flowtap.ini. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfg/cfg.h"
#include "test_files.h"

static char tmpdir[] = "/tmp/ft-test-cfg-XXXXXX";

static const char *
write_file(const char *name, const char *text)
{
	return ft_test_write_file(tmpdir, name, text);
}

/* Load text as a config file; returns the rc and leaves the error in err. */
static int
load_text(struct ft_config *cfg, const char *text, char *err, size_t len)
{
	const char *path = write_file("t.ini", text);

	ft_config_defaults(cfg);
	err[0] = '\0';
	return ft_config_load(cfg, path, err, len);
}

/* Expect a load failure whose message names the line and carries `what`. */
static void
expect_error(const char *text, unsigned line, const char *what)
{
	struct ft_config cfg;
	char err[FT_CFG_ERR_LEN], at[32];

	assert_int_equal(load_text(&cfg, text, err, sizeof(err)), -1);
	snprintf(at, sizeof(at), "t.ini:%u: ", line);
	if (strstr(err, at) == NULL || strstr(err, what) == NULL)
		fail_msg("error '%s' lacks '%s' or '%s'", err, at, what);
}

static void
test_defaults_valid(void **state)
{
	struct ft_config cfg;
	char err[FT_CFG_ERR_LEN];

	(void)state;
	ft_config_defaults(&cfg);
	assert_string_equal(cfg.instance, "default");
	assert_int_equal(cfg.ring_size, 65536);
	assert_int_equal(cfg.shm_mode, 0660);
	/* Defaults alone have no input: the one thing validation must refuse. */
	assert_int_equal(ft_config_validate(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no input"));
}

static void
test_values(void **state)
{
	struct ft_config cfg;
	char err[FT_CFG_ERR_LEN];
	const char *pcap = write_file("a.pcap", "x");

	(void)state;
	(void)pcap;
	assert_int_equal(load_text(&cfg,
				   "# comment\n"
				   "[dataplane]\n"
				   "instance = lab-1 ; inline comment\n"
				   "burst_size=64\n"
				   "[export]\n"
				   "ring_size = 4096\n"
				   "overflow = drop\n"
				   "shm_mode = 0640\n"
				   "linger = 250ms\n"
				   "[flow]\n"
				   "capacity = 1000\n"
				   "tcp_established_timeout = 1.5m\n"
				   "udp_timeout = 30\n"
				   "icmp_timeout = 1h\n"
				   "tcp_closed_timeout = 100us\n"
				   "[port.in0]\n"
				   "pcap = a.pcap\n"
				   "clock = tsc\n"
				   "promiscuous = off\n",
				   err, sizeof(err)),
			 0);
	assert_string_equal(cfg.instance, "lab-1");
	assert_int_equal(cfg.burst_size, 64);
	assert_int_equal(cfg.ring_size, 4096);
	assert_int_equal(cfg.overflow, FT_OVERFLOW_CFG_DROP);
	assert_int_equal(cfg.shm_mode, 0640);
	assert_int_equal(cfg.linger_ns, 250000000ULL);
	assert_int_equal(cfg.flow_capacity, 1000);
	assert_int_equal(cfg.timeouts.tcp_established_ns, 90000000000ULL);
	assert_int_equal(cfg.timeouts.udp_ns, 30000000000ULL);
	assert_int_equal(cfg.timeouts.icmp_ns, 3600000000000ULL);
	assert_int_equal(cfg.timeouts.tcp_closed_ns, 100000ULL);
	assert_int_equal(cfg.port_count, 1);
	assert_string_equal(cfg.ports[0].name, "in0");
	assert_int_equal(cfg.ports[0].kind, FT_PORT_PCAP);
	assert_int_equal(cfg.ports[0].clock, FT_CLOCK_TSC);
	assert_false(cfg.ports[0].promiscuous);
	/* Relative to the config file's folder, made absolute. */
	assert_int_equal(cfg.ports[0].pcap[0], '/');
	assert_non_null(strstr(cfg.ports[0].pcap, "/a.pcap"));
	assert_int_equal(cfg.ports[0].origin.line, 17);
	assert_int_equal(ft_config_validate(&cfg, err, sizeof(err)), 0);
	assert_true(ft_config_all_finite(&cfg));
	assert_int_equal(cfg.tunnels, FT_TUNNEL_ALL);

	/* A set of names: bit (enum ft_tunnel - 1) each, any order, blanks
	 * around commas; none alone empties it. */
	assert_int_equal(load_text(&cfg, "[flow]\ntunnels = vxlan,gre , gtp\n", err, sizeof(err)),
			 0);
	assert_int_equal(cfg.tunnels, 1u << (FT_TUNNEL_VXLAN - 1) | 1u << (FT_TUNNEL_GRE - 1) |
					      1u << (FT_TUNNEL_GTP - 1));
	assert_int_equal(load_text(&cfg, "[flow]\ntunnels = teredo\n", err, sizeof(err)), 0);
	assert_int_equal(cfg.tunnels, 1u << (FT_TUNNEL_TEREDO - 1));
	assert_int_equal(load_text(&cfg, "[flow]\ntunnels = none\n", err, sizeof(err)), 0);
	assert_int_equal(cfg.tunnels, 0);
	assert_int_equal(load_text(&cfg,
				   "[flow]\ntunnels = gre, ipip, vxlan, geneve, teredo, gtp\n", err,
				   sizeof(err)),
			 0);
	assert_int_equal(cfg.tunnels, FT_TUNNEL_ALL);
}

static void
test_errors(void **state)
{
	(void)state;
	expect_error("[dataplane]\nbogus = 1\n", 2, "[dataplane] bogus: unknown key");
	expect_error("[nosuch]\n", 1, "[nosuch]: unknown section");
	expect_error("burst_size = 3\n", 1, "outside of any [section]");
	expect_error("[dataplane]\nburst_size = 8\n\nburst_size = 9\n", 4,
		     "key repeated (first set at line 2)");
	expect_error("[dataplane]\nburst_size = lots\n", 2, "not a non-negative integer");
	expect_error("[dataplane]\nburst_size = -1\n", 2, "not a non-negative integer");
	expect_error("[dataplane]\nburst_size = 0\n", 2, "out of range [1, 512]");
	expect_error("[dataplane]\nburst_size = 99999999999999999999\n", 2,
		     "not a non-negative integer");
	expect_error("[export]\nring_size = 5000\n", 2, "not a power of two");
	expect_error("[port.a]\npromiscuous = maybe\n", 2, "not a boolean");
	expect_error("[flow]\nudp_timeout = 5 parsecs\n", 2, "not a duration");
	expect_error("[flow]\nudp_timeout = 0\n", 2, "out of range");
	expect_error("[export]\noverflow = sometimes\n", 2,
		     "'sometimes' is not one of: auto, drop, backpressure");
	expect_error("[export]\nshm_mode = 0999\n", 2, "octal file mode");
	expect_error("[dataplane]\ninstance = a/b\n", 2, "is not a name");
	expect_error("[port.a]\npcap = /nonexistent/x.pcap\n", 2,
		     "[port.a] pcap: cannot read '/nonexistent/x.pcap'");
	expect_error("[port.a]\npcap = missing.pcap\n", 2, "missing.pcap': No such file");
	expect_error("[flow]\njust a line\n", 2, "expected 'key = value'");
	expect_error("[flow\n", 1, "malformed section header");
	expect_error("[port.bad/name]\n", 1, "port name must be");
	expect_error("[port.a]\n[port.a]\n", 2, "section repeated (first at line 1)");
	expect_error("[flow]\n = 3\n", 2, "missing key");
	expect_error("[stats]\nbuckets = 65\n", 2, "[stats] buckets: 65 is out of range [1, 64]");
	expect_error("[stats]\ninterval = 50ms\n", 2, "[stats] interval: '50ms' is out of range");
	expect_error("[stats]\nbucket = 100us\n", 2, "[stats] bucket: '100us' is out of range");
	expect_error("[stats]\ntopk = 1001\n", 2, "out of range [0, 1000]");
	expect_error("[match]\nrules = none.rules\n", 2, "[match] rules: cannot read '");
	expect_error("[match]\ndepth = 1x\n", 2, "'1x' is not a size");
	expect_error("[match]\ndepth = 2048g\n", 2, "bytes is out of range");
	expect_error("[match]\ndepth = 99999999999999999999k\n", 2, "is not a size");
	expect_error("[match]\nreorder_flow_bytes = 0\n", 2, "out of range [1,");
	expect_error("[match]\ntcp = reassemble\n", 2,
		     "'reassemble' is not one of: stream, block, off");
	expect_error("[match]\nno_stream = drop\n", 2, "is not one of: block, skip");
	expect_error("[flow]\ntunnels = gre, mpls\n", 2,
		     "[flow] tunnels: 'mpls' is not one of: gre, ipip, vxlan, geneve, teredo, gtp");
	expect_error("[flow]\ntunnels = gre none\n", 2, "names are separated by commas");
	expect_error("[flow]\ntunnels = gre,,vxlan\n", 2, "'' is not one of");
	expect_error("[flow]\ntunnels = none, gre\n", 2, "'none' is not one of");
	expect_error("[flow]\ntunnels =\n", 2, "tunnels");
	expect_error("[match]\nstreams = 100000000\n", 2, "out of range");
	expect_error("[nomatch]\n", 1,
		     "known: [dataplane], [export], [flow], [stats], [match], [port.NAME]");
}

static void
test_match_section(void **state)
{
	struct ft_config cfg;
	char err[FT_CFG_ERR_LEN], want[600];
	const char *rules = write_file("x.rules", "1:/a/\n");

	(void)state;
	assert_int_equal(load_text(&cfg,
				   "[match]\n"
				   "rules = x.rules\n"
				   "cache_dir = cache\n"
				   "streams = 0\n"
				   "depth = 64k\n"
				   "tcp = block\n"
				   "udp = off\n"
				   "other = stream\n"
				   "no_stream = skip\n"
				   "reorder_memory = 2MiB\n"
				   "reorder_flow_bytes = 1000\n"
				   "max_events_per_flow = 0\n",
				   err, sizeof(err)),
			 0);
	assert_string_equal(cfg.match_rules, rules); /* relative to the file */
	snprintf(want, sizeof(want), "%s/cache", tmpdir);
	assert_string_equal(cfg.match_cache_dir, want);
	assert_int_equal(cfg.match_streams, 0);
	assert_int_equal(cfg.match_depth, 65536);
	assert_int_equal(cfg.match_tcp, FT_MATCH_CFG_BLOCK);
	assert_int_equal(cfg.match_udp, FT_MATCH_CFG_OFF);
	assert_int_equal(cfg.match_other, FT_MATCH_CFG_STREAM);
	assert_int_equal(cfg.match_no_stream, FT_MATCH_CFG_FALLBACK_SKIP);
	assert_int_equal(cfg.match_reorder_memory, 2 << 20);
	assert_int_equal(cfg.match_reorder_flow_bytes, 1000);
	assert_int_equal(cfg.match_max_events_per_flow, 0);
	/* Empty values switch matching and the cache off. */
	assert_int_equal(
		load_text(&cfg, "[match]\nrules =\ncache_dir =\ndepth = 0\n", err, sizeof(err)), 0);
	assert_string_equal(cfg.match_rules, "");
	assert_string_equal(cfg.match_cache_dir, "");
	assert_int_equal(cfg.match_depth, 0);
	/* flowtap-replay -r passes --set match.rules=FILE. */
	assert_int_equal(ft_config_set(&cfg, "match.rules=/nonexistent.rules", err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "command line: [match] rules: cannot read"));
	assert_int_equal(ft_config_set(&cfg, "match.cache_dir=/abs/dir", err, sizeof(err)), 0);
	assert_string_equal(cfg.match_cache_dir, "/abs/dir");
}

static void
test_validate(void **state)
{
	struct ft_config cfg;
	char err[FT_CFG_ERR_LEN];

	(void)state;
	write_file("b.pcap", "x");
	assert_int_equal(load_text(&cfg, "[port.a]\nrx_queues = 2\n", err, sizeof(err)), 0);
	assert_int_equal(ft_config_validate(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "[port.a]: needs pcap = FILE or device = DEVARGS"));

	assert_int_equal(load_text(&cfg, "[port.a]\npcap = b.pcap\ndevice = net_null0\n", err,
				   sizeof(err)),
			 0);
	assert_int_equal(ft_config_validate(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "pcap and device are exclusive"));

	assert_int_equal(load_text(&cfg, "[port.a]\ndevice = net_null0\npcap_loop = true\n", err,
				   sizeof(err)),
			 0);
	assert_int_equal(ft_config_validate(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "pcap_loop: only for pcap ports"));
	assert_false(ft_config_all_finite(&cfg));

	assert_int_equal(load_text(&cfg, "[dataplane]\nmbufs = 1000\nmbuf_cache = 501\n"
					 "[port.a]\ndevice = net_null0\n",
				   err, sizeof(err)),
			 0);
	assert_int_equal(ft_config_validate(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "mbuf_cache"));

	/* statistics records describe windows ending on bucket edges */
	assert_int_equal(load_text(&cfg,
				   "[stats]\nbucket = 300ms\ninterval = 1s\n"
				   "[port.a]\ndevice = net_null0\n",
				   err, sizeof(err)),
			 0);
	assert_int_equal(ft_config_validate(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "[stats] interval: 1000000000 ns is not a multiple of bucket"));
	assert_int_equal(load_text(&cfg,
				   "[stats]\nbucket = 50ms\ninterval = 250ms\n"
				   "[port.a]\ndevice = net_null0\n",
				   err, sizeof(err)),
			 0);
	assert_int_equal(ft_config_validate(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "and of 100 ms"));
	assert_int_equal(load_text(&cfg,
				   "[stats]\nbucket = 50ms\ninterval = 1500ms\n"
				   "enable = off\n[port.a]\ndevice = net_null0\n",
				   err, sizeof(err)),
			 0);
	assert_int_equal(ft_config_validate(&cfg, err, sizeof(err)), 0);
	assert_false(cfg.stats_enable);
	assert_true(cfg.stats_interval_ns == 1500000000ULL);
}

static void
test_overrides(void **state)
{
	struct ft_config cfg;
	char err[FT_CFG_ERR_LEN];
	char cwd[512];
	const char *pcap = write_file("c.pcap", "x");

	(void)state;
	ft_config_defaults(&cfg);
	assert_int_equal(ft_config_set(&cfg, "flow.capacity=1234", err, sizeof(err)), 0);
	assert_int_equal(cfg.flow_capacity, 1234);
	assert_int_equal(ft_config_set(&cfg, "flow.capacity=1235", err, sizeof(err)), 0);
	assert_int_equal(cfg.flow_capacity, 1235); /* overrides may repeat */
	assert_int_equal(ft_config_set(&cfg, "flow.capacity=x", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "command line: [flow] capacity: 'x'"));
	assert_int_equal(ft_config_set(&cfg, "flow.nope=1", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown key"));
	assert_int_equal(ft_config_set(&cfg, "capacity=1", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "expected SECTION.KEY=VALUE"));
	assert_int_equal(ft_config_set(&cfg, "flow.capacity", err, sizeof(err)), -1);

	/* Port sections contain a dot: the key is after the last one. Relative
	 * paths on the command line start from the current directory. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(ft_config_set(&cfg, "port.x.pcap=c.pcap", err, sizeof(err)), 0);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(cfg.port_count, 1);
	assert_string_equal(cfg.ports[0].name, "x");
	assert_string_equal(cfg.ports[0].pcap, pcap);

	/* --pcap replaces every port. */
	assert_int_equal(ft_config_set(&cfg, "port.y.device=net_null0", err, sizeof(err)), 0);
	assert_int_equal(cfg.port_count, 2);
	assert_int_equal(ft_config_set_pcap(&cfg, pcap, err, sizeof(err)), 0);
	assert_int_equal(cfg.port_count, 1);
	assert_int_equal(cfg.ports[0].kind, FT_PORT_PCAP);
	assert_int_equal(ft_config_set_pcap(&cfg, "/nonexistent.pcap", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--pcap: cannot read '/nonexistent.pcap'"));
}

/* config/flowtap.ini is the reference: it must load, hold exactly the
 * defaults, and mention every key the parser knows. */
static void
test_shipped_config(void **state)
{
	const char *root = getenv("FT_SOURCE_ROOT");
	struct ft_config cfg, def;
	char path[1024], err[FT_CFG_ERR_LEN];
	const char *section, *key;
	char *text;
	long size;
	FILE *f;

	(void)state;
	assert_non_null(root);
	snprintf(path, sizeof(path), "%s/config/flowtap.ini", root);
	ft_config_defaults(&cfg);
	if (ft_config_load(&cfg, path, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	ft_config_defaults(&def);
	memset(cfg.source, 0, sizeof(cfg.source));
	assert_memory_equal(&cfg, &def, sizeof(cfg));

	f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)size + 1);
	assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	for (unsigned i = 0; (key = ft_config_key(i, &section)) != NULL; i++) {
		char want[128];

		snprintf(want, sizeof(want), "\n%s%s =", strcmp(section, "port") ? "" : "; ", key);
		if (strstr(text, want) == NULL)
			fail_msg("config/flowtap.ini does not document [%s] %s", section, key);
	}
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_valid), cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors),	       cmocka_unit_test(test_validate),
		cmocka_unit_test(test_overrides),      cmocka_unit_test(test_shipped_config),
		cmocka_unit_test(test_match_section),
	};

	return FT_TEST_RUN_IN_TMPDIR(tests, tmpdir);
}
