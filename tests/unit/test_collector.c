/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of src/collector: JSON flow lines, RFC 3339 and address formatting
 * (against hand-written lines and against glibc's gmtime_r/inet_ntop), sequence
 * gap counting, the accounting arithmetic of the summary, and segment
 * validation / attach (bad magic, version, record size, rings) on real shm
 * objects. No EAL: rings are laid out by hand the way rte_ring_init() does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rte_ring_core.h>

#include "collector/collector.h"

/* ---------------------------------------------------------------- helpers */

static uint64_t
rng_next(uint64_t *s)
{
	uint64_t x = (*s += 0x9e3779b97f4a7c15ULL);

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void
set_v4(uint8_t *a, uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3)
{
	memset(a, 0, 16);
	a[0] = b0;
	a[1] = b1;
	a[2] = b2;
	a[3] = b3;
}

static void
set_v6(uint8_t *a, const char *text)
{
	assert_int_equal(inet_pton(AF_INET6, text, a), 1);
}

static const char *
flow_line(const struct ft_record *r)
{
	static char buf[FT_JSON_FLOW_MAX];
	size_t n = ft_json_flow(buf, r, -1);

	assert_int_equal(n, strlen(buf));
	assert_true(n < FT_JSON_FLOW_MAX);
	assert_int_equal(buf[n - 1], '\n');
	buf[n - 1] = '\0'; /* compare without the newline */
	return buf;
}

/* ---------------------------------------------------------------- time */

static void
test_rfc3339_edges(void **state)
{
	static const struct {
		uint64_t ns;
		const char *text;
	} cases[] = {
		{0, "1970-01-01T00:00:00.000000000Z"},
		{1, "1970-01-01T00:00:00.000000001Z"},
		{999999999, "1970-01-01T00:00:00.999999999Z"},
		{86399999999999ULL, "1970-01-01T23:59:59.999999999Z"},
		{86400000000000ULL, "1970-01-02T00:00:00.000000000Z"},
		{951782400000000000ULL, "2000-02-29T00:00:00.000000000Z"},
		{951868799999999999ULL, "2000-02-29T23:59:59.999999999Z"},
		{4107542399000000001ULL, "2100-02-28T23:59:59.000000001Z"},
		{4107542400000000000ULL, "2100-03-01T00:00:00.000000000Z"},
		{2147483648000000000ULL, "2038-01-19T03:14:08.000000000Z"},
		{UINT64_MAX, "2554-07-21T23:34:33.709551615Z"},
	};
	char buf[FT_RFC3339_LEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(ft_format_rfc3339(buf, cases[i].ns), FT_RFC3339_LEN);
		assert_string_equal(buf, cases[i].text);
	}
}

static void
test_rfc3339_vs_gmtime(void **state)
{
	uint64_t s = 42;
	int i;

	(void)state;
	for (i = 0; i < 200000; i++) {
		uint64_t ns = rng_next(&s);
		time_t secs;
		struct tm tm;
		char want[64], date[40], got[FT_RFC3339_LEN + 1];

		if (i % 2)
			ns %= 4102444800000000000ULL; /* mostly before 2100 */
		secs = (time_t)(ns / 1000000000ULL);
		assert_non_null(gmtime_r(&secs, &tm));
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(want, sizeof(want), "%s.%09uZ", date, (unsigned int)(ns % 1000000000ULL));
		ft_format_rfc3339(got, ns);
		assert_string_equal(got, want);
	}
}

/* ---------------------------------------------------------------- addresses */

static void
test_ipv6_rfc5952(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"::", "::"},
		{"::1", "::1"},
		{"1::", "1::"},
		{"2001:db8::1", "2001:db8::1"},
		{"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
		/* a single zero group is not compressed (RFC 5952 4.2.2) */
		{"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},
		/* longest run wins, the first of equal runs (4.2.3) */
		{"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},
		{"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
		{"fe80::", "fe80::"},
		{"FE80::ABCD:EF01", "fe80::abcd:ef01"},
		{"::ffff:192.0.2.1", "::ffff:192.0.2.1"},
		{"::192.0.2.1", "::192.0.2.1"},
		{"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		 "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"0:0:1::", "0:0:1::"},
	};
	uint8_t a[16];
	char buf[FT_IPV6_STR_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		set_v6(a, cases[i].in);
		assert_int_equal(ft_format_ipv6(buf, a), strlen(cases[i].out));
		assert_string_equal(buf, cases[i].out);
	}
}

static void
test_ipv6_vs_inet_ntop(void **state)
{
	uint64_t s = 7;
	int i, g;

	(void)state;
	for (i = 0; i < 500000; i++) {
		uint8_t a[16];
		char want[INET6_ADDRSTRLEN], got[FT_IPV6_STR_MAX];
		uint64_t r = rng_next(&s), z = rng_next(&s);

		/* zero groups often, so every run shape and both IPv4 forms occur */
		for (g = 0; g < 8; g++) {
			unsigned int v = (unsigned int)(rng_next(&s) & 0xffff);

			if ((z >> (g * 2) & 3) != 0)
				v = 0;
			if ((r & 7) == 0 && g < 5)
				v = 0;
			if ((r & 7) == 0 && g == 5 && (r & 8))
				v = 0xffff;
			a[2 * g] = (uint8_t)(v >> 8);
			a[2 * g + 1] = (uint8_t)v;
		}
		assert_non_null(inet_ntop(AF_INET6, a, want, sizeof(want)));
		ft_format_ipv6(got, a);
		assert_string_equal(got, want);
	}
}

static void
test_ipv4_format(void **state)
{
	uint8_t a[4];
	char got[FT_IPV4_STR_MAX], want[INET_ADDRSTRLEN];
	uint32_t v;

	(void)state;
	/* every last octet and a spread of the others */
	for (v = 0; v < (1u << 20); v++) {
		uint32_t x = v * 2654435761u;

		memcpy(a, &x, 4);
		inet_ntop(AF_INET, a, want, sizeof(want));
		ft_format_ipv4(got, a);
		assert_string_equal(got, want);
	}
	a[0] = 255, a[1] = 255, a[2] = 255, a[3] = 255;
	assert_int_equal(ft_format_ipv4(got, a), 15);
	assert_string_equal(got, "255.255.255.255");
}

/* ---------------------------------------------------------------- flow lines */

static void
init_flow(struct ft_record *r)
{
	memset(r, 0, sizeof(*r));
	r->type = FT_RECORD_FLOW;
	r->worker = 3;
	r->seq = 99;
	r->flow.flow_id = (3ULL << 56) | 17;
	r->flow.first_ns = 1700000000123456789ULL;
	r->flow.last_ns = 1700000001000000000ULL;
	r->flow.packets[0] = 10;
	r->flow.packets[1] = 8;
	r->flow.bytes[0] = 1500;
	r->flow.bytes[1] = 900;
	r->flow.input_port = 1;
	r->flow.end_reason = FT_END_TCP_FIN;
}

static void
test_json_ipv4_tcp(void **state)
{
	struct ft_record r;

	(void)state;
	init_flow(&r);
	r.flow.key.family = 4;
	r.flow.key.proto = 6;
	set_v4(r.flow.key.addr[0], 10, 0, 0, 1);
	set_v4(r.flow.key.addr[1], 192, 168, 1, 200);
	r.flow.key.port[0] = 443;
	r.flow.key.port[1] = 51000;
	r.flow.initiator = 1; /* the higher endpoint opened it: it is src */
	r.flow.tcp_flags[0] = FT_TCP_SYN | FT_TCP_ACK | FT_TCP_FIN;
	r.flow.tcp_flags[1] = FT_TCP_SYN | FT_TCP_ACK;
	r.flow.tcp_state = FT_TCP_CLOSED;
	r.flow.icmp_type = 8; /* not ICMP: must not print */
	assert_string_equal(
		flow_line(&r),
		"{\"type\":\"flow\",\"flow_id\":216172782113783825,\"worker\":3,\"input_port\":1,"
		"\"ip_version\":4,\"proto\":6,\"src_ip\":\"192.168.1.200\",\"src_port\":51000,"
		"\"dst_ip\":\"10.0.0.1\",\"dst_port\":443,"
		"\"start\":\"2023-11-14T22:13:20.123456789Z\","
		"\"end\":\"2023-11-14T22:13:21.000000000Z\","
		"\"start_ns\":1700000000123456789,\"end_ns\":1700000001000000000,"
		"\"packets_fwd\":10,\"bytes_fwd\":1500,\"packets_rev\":8,\"bytes_rev\":900,"
		"\"tcp_flags_fwd\":19,\"tcp_flags_rev\":18,\"tcp_state\":\"closed\","
		"\"end_reason\":\"fin\",\"fragments\":0}");

	r.flow.initiator = 0;
	r.flow.flags = FT_FLOW_F_MIDSTREAM;
	r.flow.key.vlan[0] = 100;
	assert_string_equal(
		flow_line(&r),
		"{\"type\":\"flow\",\"flow_id\":216172782113783825,\"worker\":3,\"input_port\":1,"
		"\"ip_version\":4,\"proto\":6,\"src_ip\":\"10.0.0.1\",\"src_port\":443,"
		"\"dst_ip\":\"192.168.1.200\",\"dst_port\":51000,\"vlan\":[100],"
		"\"start\":\"2023-11-14T22:13:20.123456789Z\","
		"\"end\":\"2023-11-14T22:13:21.000000000Z\","
		"\"start_ns\":1700000000123456789,\"end_ns\":1700000001000000000,"
		"\"packets_fwd\":10,\"bytes_fwd\":1500,\"packets_rev\":8,\"bytes_rev\":900,"
		"\"tcp_flags_fwd\":19,\"tcp_flags_rev\":18,\"tcp_state\":\"closed\","
		"\"end_reason\":\"fin\",\"fragments\":0,\"midstream\":true}");
}

static void
test_json_ipv6_icmp_qinq_fragments(void **state)
{
	struct ft_record r;

	(void)state;
	init_flow(&r);
	r.worker = 0;
	r.flow.flow_id = 5;
	r.flow.key.family = 6;
	r.flow.key.proto = 58;
	set_v6(r.flow.key.addr[0], "2001:db8::1");
	set_v6(r.flow.key.addr[1], "fe80::0:0:1:0:0:2");
	r.flow.initiator = 0;
	r.flow.key.vlan[0] = 4094;
	r.flow.key.vlan[1] = 7;
	r.flow.icmp_type = 128;
	r.flow.icmp_code = 0;
	r.flow.fragments = 3;
	r.flow.flags = FT_FLOW_F_FRAGMENTS | FT_FLOW_F_MIDSTREAM;
	r.flow.end_reason = FT_END_IDLE;
	r.flow.packets[1] = 0;
	r.flow.bytes[1] = 0;
	assert_string_equal(
		flow_line(&r),
		"{\"type\":\"flow\",\"flow_id\":5,\"worker\":0,\"input_port\":1,"
		"\"ip_version\":6,\"proto\":58,\"src_ip\":\"2001:db8::1\",\"src_port\":0,"
		"\"dst_ip\":\"fe80::1:0:0:2\",\"dst_port\":0,\"vlan\":[4094,7],"
		"\"start\":\"2023-11-14T22:13:20.123456789Z\","
		"\"end\":\"2023-11-14T22:13:21.000000000Z\","
		"\"start_ns\":1700000000123456789,\"end_ns\":1700000001000000000,"
		"\"packets_fwd\":10,\"bytes_fwd\":1500,\"packets_rev\":0,\"bytes_rev\":0,"
		"\"tcp_flags_fwd\":0,\"tcp_flags_rev\":0,\"tcp_state\":\"none\","
		"\"end_reason\":\"idle\",\"fragments\":3,\"icmp_type\":128,\"icmp_code\":0,"
		"\"midstream\":true,\"flagged_fragments\":true}");
}

static void
test_json_icmpv4_and_unknown_enums(void **state)
{
	struct ft_record r;
	const char *line;

	(void)state;
	init_flow(&r);
	r.flow.key.family = 4;
	r.flow.key.proto = 1;
	set_v4(r.flow.key.addr[0], 0, 0, 0, 0);
	set_v4(r.flow.key.addr[1], 255, 255, 255, 255);
	r.flow.icmp_type = 3;
	r.flow.icmp_code = 13;
	r.flow.end_reason = 0;
	r.flow.tcp_state = 200;
	r.flow.key.vlan[1] = 5; /* inner without outer: no vlan key at all */
	line = flow_line(&r);
	assert_non_null(strstr(line, "\"src_ip\":\"0.0.0.0\",\"src_port\":0,"
				     "\"dst_ip\":\"255.255.255.255\",\"dst_port\":0,\"start\""));
	assert_non_null(strstr(line, "\"tcp_state\":\"unknown\",\"end_reason\":\"unknown\","
				     "\"fragments\":0,\"icmp_type\":3,\"icmp_code\":13}"));
	r.flow.end_reason = FT_END_MAX;
	r.flow.key.proto = 17; /* UDP: icmp fields not printed */
	line = flow_line(&r);
	assert_non_null(strstr(line, "\"end_reason\":\"unknown\",\"fragments\":0}"));
	assert_null(strstr(line, "icmp"));
	assert_null(strstr(line, "vlan"));
}

static void
test_json_longest_line_fits(void **state)
{
	struct ft_record r;
	char buf[FT_JSON_FLOW_MAX];
	size_t n;

	(void)state;
	memset(&r, 0xff, sizeof(r));
	r.type = FT_RECORD_FLOW;
	r.flow.key.family = 6;
	r.flow.key.proto = 58;
	r.flow.initiator = 1;
	n = ft_json_flow(buf, &r, -1);
	assert_true(n + 1 <= FT_JSON_FLOW_MAX);
	assert_int_equal(strlen(buf), n);
	assert_non_null(strstr(buf, "\"flow_id\":18446744073709551615,\"worker\":65535,"));
	assert_non_null(strstr(buf, "\"start\":\"2554-07-21T23:34:33.709551615Z\""));
	assert_non_null(strstr(buf, "\"fragments\":4294967295,\"segment\":65535,\"icmp_type\":255,"
				    "\"icmp_code\":255,\"midstream\":true,\"flagged_fragments\":true,"
				    "\"match\":{"));
	assert_non_null(strstr(buf, "\"more_rules\":true,\"suppressed\":true}}\n"));
	assert_non_null(strstr(buf, "\"dropped_bytes\":18446744073709551615,"));

	/* The longest match line. */
	memset(&r, 0xff, sizeof(r));
	r.type = FT_RECORD_MATCH;
	r.match.key.family = 6;
	{
		struct ft_rule_info rule;

		memset(&rule, 0x01, sizeof(rule)); /* control characters: 6 bytes each */
		n = ft_json_match(buf, &r, &rule, -1);
		assert_true(n + 1 <= FT_JSON_MATCH_MAX);
		assert_int_equal(strlen(buf), n);
	}
}

static const char *
match_line(const struct ft_record *r, const struct ft_rule_info *rule)
{
	static char buf[FT_JSON_MATCH_MAX];
	size_t n = ft_json_match(buf, r, rule, -1);

	assert_int_equal(n, strlen(buf));
	assert_int_equal(buf[n - 1], '\n');
	buf[n - 1] = '\0';
	return buf;
}

static void
test_json_match(void **state)
{
	struct ft_record r;
	struct ft_rule_info rule;

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(&rule, 0, sizeof(rule));
	r.type = FT_RECORD_MATCH;
	r.worker = 1;
	r.match.key.family = 4;
	r.match.key.proto = 6;
	set_v4(r.match.key.addr[0], 10, 0, 0, 1);
	set_v4(r.match.key.addr[1], 192, 168, 1, 200);
	r.match.key.port[0] = 80;
	r.match.key.port[1] = 51000;
	r.match.initiator = 1;
	r.match.flow_id = (1ULL << 56) | 5;
	r.match.ts_ns = 1700000000123456789ULL;
	r.match.offset = 33;
	r.match.start = 22;
	r.match.rule_id = 4000000000u;
	r.match.rule_index = 2;
	r.match.dir = 1;
	strcpy(rule.name, "evil \"quoted\"");
	assert_string_equal(
		match_line(&r, &rule),
		"{\"type\":\"match\",\"flow_id\":72057594037927941,\"worker\":1,"
		"\"rule\":4000000000,\"name\":\"evil \\\"quoted\\\"\",\"dir\":\"rev\","
		"\"offset\":33,\"mode\":\"stream\",\"ts\":\"2023-11-14T22:13:20.123456789Z\","
		"\"ts_ns\":1700000000123456789,\"ip_version\":4,\"proto\":6,"
		"\"src_ip\":\"192.168.1.200\",\"src_port\":51000,\"dst_ip\":\"10.0.0.1\","
		"\"dst_port\":80}");
	r.match.dir = 0;
	r.match.initiator = 0;
	r.match.flags = FT_MATCH_EV_F_SOM | FT_MATCH_EV_F_BLOCK | FT_MATCH_EV_F_EOD;
	r.match.key.vlan[0] = 12;
	assert_string_equal(
		match_line(&r, NULL),
		"{\"type\":\"match\",\"flow_id\":72057594037927941,\"worker\":1,"
		"\"rule\":4000000000,\"dir\":\"fwd\",\"offset\":33,\"start\":22,"
		"\"mode\":\"block\",\"eod\":true,\"ts\":\"2023-11-14T22:13:20.123456789Z\","
		"\"ts_ns\":1700000000123456789,\"ip_version\":4,\"proto\":6,"
		"\"src_ip\":\"10.0.0.1\",\"src_port\":80,\"dst_ip\":\"192.168.1.200\","
		"\"dst_port\":51000,\"vlan\":[12]}");
}

static void
test_json_flow_match(void **state)
{
	struct ft_record r;
	const char *line;

	(void)state;
	init_flow(&r);
	r.flow.key.family = 4;
	r.flow.key.proto = 17;
	line = flow_line(&r);
	assert_null(strstr(line, "match")); /* no rules: no match object */
	r.flow.flags = FT_FLOW_F_MATCH;
	r.flow.match.events = 3;
	r.flow.match.nrules = 2;
	r.flow.match.rules[0] = 7;
	r.flow.match.rules[1] = 1;
	r.flow.match.scanned_bytes[0] = 1000;
	r.flow.match.scanned_bytes[1] = 20;
	r.flow.match.gaps[1] = 2;
	r.flow.match.gap_bytes[1] = 1460;
	r.flow.match.dropped_bytes[1] = 496;
	r.flow.match.dir_flags[0] = FT_FLOW_MATCH_D_STREAM | FT_FLOW_MATCH_D_DEPTH;
	r.flow.match.dir_flags[1] = FT_FLOW_MATCH_D_BLOCK | FT_FLOW_MATCH_D_NO_STATE;
	line = flow_line(&r);
	assert_non_null(strstr(line,
			       "\"fragments\":0,\"match\":{\"events\":3,\"rules\":[7,1],"
			       "\"fwd\":{\"mode\":\"stream\",\"scanned_bytes\":1000,"
			       "\"depth\":true},\"rev\":{\"mode\":\"block\",\"scanned_bytes\":20,"
			       "\"gaps\":2,\"gap_bytes\":1460,\"dropped_bytes\":496,"
			       "\"no_state\":true}}}"));
	r.flow.match.dir_flags[0] = 0;
	r.flow.match.nrules = 0;
	line = flow_line(&r);
	assert_non_null(strstr(line, "\"rules\":[],\"fwd\":{\"mode\":\"none\""));
}

static void
test_json_string_escaping(void **state)
{
	char buf[6 * 32 + 3];
	const char raw[8] = {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}; /* no NUL */

	(void)state;
	ft_json_string(buf, "a\"b\\c\n\x01", 32);
	assert_string_equal(buf, "\"a\\\"b\\\\c\\u000a\\u0001\"");
	ft_json_string(buf, raw, sizeof(raw));
	assert_string_equal(buf, "\"abcdefgh\"");
	ft_json_string(buf, "caf\xc3\xa9", 32); /* valid UTF-8 passes */
	assert_string_equal(buf, "\"caf\xc3\xa9\"");
	ft_json_string(buf, "x\xff\xc3y\xed\xa0\x80", 32); /* invalid, cut, surrogate */
	assert_string_equal(buf, "\"x\\ufffd\\ufffdy\\ufffd\\ufffd\\ufffd\"");
	ft_json_string(buf, "", 32);
	assert_string_equal(buf, "\"\"");
}

/* ---------------------------------------------------------------- sequences */

static void
test_seq_gaps(void **state)
{
	struct ft_seq_tracker t;
	static const uint64_t seqs[] = {0, 1, 2, 5, 6, 7, 7, 3, 8, 20};

	(void)state;
	memset(&t, 0, sizeof(t));
	for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++)
		ft_seq_track(&t, seqs[i]);
	/* 3,4 then 9..19 skipped; the late 3 and the repeated 7 are "behind" */
	assert_int_equal(t.gaps, 2 + 11);
	assert_int_equal(t.behind, 2);
	assert_int_equal(t.received, 10);
	assert_int_equal(t.next, 21);
	/* issued 25: 21..24 were dropped after the last one received */
	assert_int_equal(ft_seq_missing(&t, 25), 13 + 4);
	/* counters not final (or stale, below what was received): no trailing gap */
	assert_int_equal(ft_seq_missing(&t, 0), 13);
	assert_int_equal(ft_seq_missing(&t, 15), 13);

	/* a collector attaching late sees a leading gap */
	memset(&t, 0, sizeof(t));
	ft_seq_track(&t, 1000);
	ft_seq_track(&t, 1001);
	assert_int_equal(t.gaps, 1000);
	assert_int_equal(ft_seq_missing(&t, 1002), 1000);

	/* nothing received, 5 issued: all 5 missing */
	memset(&t, 0, sizeof(t));
	assert_int_equal(ft_seq_missing(&t, 5), 5);
}

/* ---------------------------------------------------------------- accounting */

static struct ft_export_header snap;

static void
snap_reset(uint32_t ports, uint32_t workers)
{
	memset(&snap, 0, sizeof(snap));
	snap.magic = FT_EXPORT_MAGIC;
	snap.port_count = ports;
	snap.worker_count = workers;
	snap.dataplane_pid = 4242;
	snap.start_ns = 0;
	strcpy(snap.instance, "unit");
	strcpy(snap.version, "0.1.0");
}

static void
test_accounting_live_ports(void **state)
{
	struct ft_flow_totals flows = {.records = 30, .packets = 1300, .bytes = 130000};
	struct ft_summary s;

	(void)state;
	snap_reset(2, 2);
	snap.ports[0].ipackets = 1000;
	snap.ports[0].ibytes = 100000;
	snap.ports[1].ipackets = 500;
	snap.ports[1].ibytes = 50000;
	/* 100 packets dropped with their flow records, 100 discarded */
	snap.workers[0].ring_drop_records = 2;
	snap.workers[0].ring_drop_packets = 60;
	snap.workers[0].ring_drop_bytes = 6000;
	snap.workers[1].ring_drop_records = 1;
	snap.workers[1].ring_drop_packets = 40;
	snap.workers[1].ring_drop_bytes = 4000;
	snap.workers[0].discard_packets[FT_DISCARD_NON_IP] = 70;
	snap.workers[0].discard_bytes[FT_DISCARD_NON_IP] = 7000;
	snap.workers[1].discard_packets[FT_DISCARD_DISPATCH_FULL] = 30;
	snap.workers[1].discard_bytes[FT_DISCARD_DISPATCH_FULL] = 3000;

	ft_summary_compute(&s, &snap, &flows, 3);
	assert_false(s.any_file_port);
	assert_int_equal(s.packets_in, 1500);
	assert_int_equal(s.accounted_packets, 1500);
	assert_int_equal(s.unaccounted_packets, 0);
	assert_true(s.packets_accounted);
	assert_int_equal(s.bytes_in, 150000);
	assert_int_equal(s.accounted_bytes, 150000);
	assert_true(s.bytes_accounted);
	assert_int_equal(s.ring_drop_records, 3);
	assert_int_equal(s.seq_gaps, 3);

	/* port losses: counted on both sides for packets; bytes no longer claimed */
	snap.ports[1].imissed = 11;
	snap.ports[1].ierrors = 2;
	snap.ports[0].rx_nombuf = 4;
	ft_summary_compute(&s, &snap, &flows, 3);
	assert_int_equal(s.packets_in, 1517);
	assert_int_equal(s.accounted_packets, 1517);
	assert_true(s.packets_accounted);
	assert_int_equal(s.unaccounted_bytes, 0);
	assert_false(s.bytes_accounted);

	/* 5 packets the collector never saw; signed the other way too */
	flows.packets = 1295;
	flows.bytes = 129000;
	ft_summary_compute(&s, &snap, &flows, 3);
	assert_int_equal(s.unaccounted_packets, 5);
	assert_int_equal(s.unaccounted_bytes, 1000);
	assert_false(s.packets_accounted);
	flows.packets = 1303;
	ft_summary_compute(&s, &snap, &flows, 3);
	assert_int_equal(s.unaccounted_packets, -3);
	assert_false(s.packets_accounted);
}

/* Records of a file the port never delivered (no mbuf) are the file's losses. */
static void
test_accounting_file_port_losses(void **state)
{
	struct ft_flow_totals flows = {.records = 5, .packets = 990, .bytes = 99000};
	struct ft_summary s;

	(void)state;
	snap_reset(1, 1);
	snap.ports[0].is_file = 1;
	snap.ports[0].file_packets = 1000;
	snap.ports[0].file_bytes = 100000;
	snap.ports[0].file_captured_bytes = 100000;
	snap.ports[0].ipackets = 996;
	snap.ports[0].rx_nombuf = 4;
	snap.ports[0].ierrors = 1;
	snap.workers[0].discard_packets[FT_DISCARD_NON_IP] = 6;
	snap.workers[0].discard_bytes[FT_DISCARD_NON_IP] = 600;

	ft_summary_compute(&s, &snap, &flows, 0);
	assert_int_equal(s.port_loss_packets, 4);
	assert_int_equal(s.accounted_packets, 1000);
	assert_true(s.packets_accounted);
	/* Bytes of undelivered packets are unknown: no bytes verdict. */
	assert_false(s.bytes_accounted);
}

static void
test_accounting_file_port_snaplen(void **state)
{
	struct ft_flow_totals flows = {.records = 9, .packets = 990, .bytes = 88000};
	struct ft_summary s;

	(void)state;
	snap_reset(2, 1);
	snap.ports[0].is_file = 1;
	snap.ports[0].file_packets = 1000;
	snap.ports[0].file_bytes = 100000;
	snap.ports[0].file_captured_bytes = 90000;
	snap.ports[0].ipackets = 1000;
	/* A file's ierrors are read errors (every poll of a file cut inside a
	 * record), not packets: they must not count as losses. */
	snap.ports[0].ierrors = 57;
	snap.ports[1].ipackets = 123; /* a live port beside it does not add to the input */
	snap.workers[0].discard_packets[FT_DISCARD_L4_TRUNCATED] = 10;
	snap.workers[0].discard_bytes[FT_DISCARD_L4_TRUNCATED] = 2000;

	ft_summary_compute(&s, &snap, &flows, 0);
	assert_true(s.any_file_port);
	assert_int_equal(s.input_packets, 1000);
	assert_int_equal(s.beyond_snaplen_bytes, 10000);
	assert_int_equal(s.packets_in, 1000);
	assert_int_equal(s.accounted_packets, 1000);
	assert_true(s.packets_accounted);
	assert_int_equal(s.bytes_in, 100000);
	assert_int_equal(s.accounted_bytes, 88000 + 2000 + 10000);
	assert_true(s.bytes_accounted);

	/* Flows that count 6,000 of the cut bytes (from IP lengths) hold them
	 * once: in flows.bytes, no longer in what is beyond the snaplen. */
	flows.bytes += 6000;
	snap.workers[0].flow_uncut_bytes = 6000;
	ft_summary_compute(&s, &snap, &flows, 0);
	assert_int_equal(s.uncut_bytes, 6000);
	assert_int_equal(s.accounted_bytes, 100000);
	assert_true(s.bytes_accounted);
	/* ... and a flow record lost on the way shows. */
	flows.bytes -= 1500;
	ft_summary_compute(&s, &snap, &flows, 0);
	assert_int_equal(s.unaccounted_bytes, 1500);
	assert_false(s.bytes_accounted);
}

static void
test_summary_json(void **state)
{
	struct ft_flow_totals flows = {.records = 2, .packets = 7, .bytes = 700};
	char *buf = malloc(FT_JSON_SUMMARY_MAX);
	struct ft_summary s;
	const char *p;
	size_t n;
	int d;

	(void)state;
	assert_non_null(buf);
	snap_reset(1, 1);
	strcpy(snap.ports[0].name, "net_\"pcap\"0");
	snap.ports[0].ipackets = 8;
	snap.ports[0].ibytes = 800;
	snap.workers[0].discard_packets[FT_DISCARD_IPV6_BAD_EXT] = 1;
	snap.workers[0].discard_bytes[FT_DISCARD_IPV6_BAD_EXT] = 100;
	snap.workers[0].rx_packets = 8;
	snap.workers[0].rx_bytes = 800;
	snap.workers[0].flows_created = 3;
	snap.workers[0].flows_ended = 2;
	snap.workers[0].flows_evicted = 1;
	snap.workers[0].flow_segments = 5;
	snap.workers[0].fragments_attributed = 3;
	snap.workers[0].fragments_unattributed = 1;
	snap.workers[0].fragments_waited = 2;
	snap.workers[0].fragments = 4;
	ft_summary_compute(&s, &snap, &flows, 0);
	n = ft_json_summary(buf, &snap, &flows, &s, NULL, true, 1000000000ULL);
	assert_int_equal(n, strlen(buf));
	assert_int_equal(buf[n - 1], '\n');
	assert_non_null(strstr(buf,
			       "{\"type\":\"summary\",\"instance\":\"unit\",\"dataplane_pid\":"
			       "4242,\"version\":\"0.1.0\",\"workers\":1,\"complete\":true,"
			       "\"start\":\"1970-01-01T00:00:00.000000000Z\","
			       "\"end\":\"1970-01-01T00:00:01.000000000Z\","
			       "\"input\":{\"packets\":0,\"bytes\":0,\"captured_bytes\":0,"
			       "\"beyond_snaplen_bytes\":0,\"uncut_bytes\":0},\"ports\":[{\"name\":"
			       "\"net_\\\"pcap\\\"0\",\"ipackets\":8,\"ibytes\":800,"));
	assert_non_null(strstr(buf, "\"rx\":{\"packets\":8,\"bytes\":800},\"flows\":{\"records\":2,"
				    "\"packets\":7,\"bytes\":700,\"created\":3,\"ended\":2,"
				    "\"evicted\":1,\"segments\":5,\"emergency_entered\":0},"
				    "\"fragments\":4,\"fragments_attributed\":3,"
				    "\"fragments_unattributed\":1,\"fragments_waited\":2,"
				    "\"discards\":{\"non_ip\":{"));
	/* every discard name, in enum order */
	p = buf;
	for (d = 0; d < FT_DISCARD_MAX; d++) {
		char key[64];

		snprintf(key, sizeof(key), "\"%s\":{\"packets\":%d,", ft_discard_names[d],
			 d == FT_DISCARD_IPV6_BAD_EXT ? 1 : 0);
		p = strstr(p, key);
		assert_non_null(p);
	}
	assert_non_null(strstr(buf,
			       "\"ring_drops\":{\"records\":0,\"packets\":0,\"bytes\":0,"
			       "\"seq_gaps\":0,\"by_type\":{\"flow\":0,\"match\":0,\"flow_stats\":0,"
			       "\"worker_stats\":0,\"topk\":0,\"flow_dist\":0,\"worker_drops\":0}},"
			       "\"records\":{\"flow\":2,\"match\":0,\"flow_stats\":0,\"worker_stats\":0,"
			       "\"topk\":0,\"flow_dist\":0,\"worker_drops\":0,\"topk_lines\":0},"
			       "\"accounted\":{\"packets\":true,\"bytes\":true,"
			       "\"unaccounted_packets\":0,\"unaccounted_bytes\":0}}\n"));

	/* the worst case fits: 16 ports with long escaped names, huge numbers */
	memset(&snap, 0xff, sizeof(snap));
	snap.port_count = FT_EXPORT_MAX_PORTS;
	snap.worker_count = FT_EXPORT_MAX_WORKERS;
	for (d = 0; d < FT_EXPORT_MAX_PORTS; d++)
		memset(snap.ports[d].name, 0x01, sizeof(snap.ports[d].name));
	memset(snap.instance, '"', sizeof(snap.instance));
	flows.packets = flows.bytes = flows.records = UINT64_MAX;
	ft_summary_compute(&s, &snap, &flows, UINT64_MAX);
	n = ft_json_summary(buf, &snap, &flows, &s, NULL, false, UINT64_MAX);
	assert_true(n < FT_JSON_SUMMARY_MAX);
	assert_int_equal(buf[n - 1], '\n');
	assert_non_null(strstr(buf, "\"unaccounted_bytes\":"));
	free(buf);
}

static void
test_summary_match(void **state)
{
	struct ft_flow_totals flows = {.records = 2, .packets = 7, .bytes = 700};
	struct ft_rule_info rules[3];
	uint64_t hits[3] = {3, 0, 2};
	struct ft_rule_hits rh = {rules, hits, 3};
	char *buf = malloc(FT_JSON_SUMMARY_MAX + 3 * FT_JSON_RULE_MAX);
	struct ft_summary s;
	size_t n;

	(void)state;
	flows.by_type[FT_RECORD_MATCH] = 4;
	snap_reset(1, 2);
	ft_summary_compute(&s, &snap, &flows, 0);
	n = ft_json_summary(buf, &snap, &flows, &s, NULL, true, 0);
	assert_null(strstr(buf, "\"match\":{")); /* no rules loaded */
	memset(rules, 0, sizeof(rules));
	rules[0].id = 10;
	strcpy(rules[0].name, "first");
	strcpy(rules[0].meta, "sev=\"hi\"");
	rules[1].id = 11;
	rules[2].id = 12;
	strcpy(rules[2].name, "third");
	snap.rule_count = 3;
	snap.match_stream_state_bytes = 33;
	snap.workers[0].match_events = 3;
	snap.workers[1].match_events = 2;
	snap.workers[1].match_events_suppressed = 1;
	snap.workers[0].match_scanned_bytes = 100;
	snap.workers[1].match_scanned_bytes = 50;
	snap.workers[0].reasm_retrans_bytes = 7;
	snap.workers[1].reasm_gaps_acked = 2;
	snap.workers[1].reasm_gaps = 2;
	snap.workers[0].reasm_slots_used = 5;
	snap.workers[1].reasm_slots_used = 6;
	snap.workers[0].match_chunks = 2048;
	snap.workers[1].match_chunk_pool_empty = 9;
	snap.workers[0].reasm_dropped_segments = 2;
	snap.workers[1].reasm_dropped_bytes = 300;
	snap.workers[0].reasm_dropped_bytes = 1;
	snap.workers[1].reasm_dropped_held_bytes = 40;
	snap.workers[0].reasm_dropped_held_bytes = 2;
	snap.workers[0].defrag_datagrams = 3;
	snap.workers[1].defrag_memory = 4;
	snap.workers[0].defrag_memory = 1;
	snap.workers[1].defrag_overlap_bytes = 8;
	snap.workers[0].defrag_held_bytes = 5; /* the last counter of the run */
	snap.workers[1].defrag_held_bytes = 6;
	snap.workers[0].match_chunk_pool_empty = 1;
	snap.workers[0].match_streams = 8;
	snap.workers[1].match_streams = 8;
	ft_summary_compute(&s, &snap, &flows, 0);
	n = ft_json_summary(buf, &snap, &flows, &s, &rh, true, 0);
	assert_int_equal(n, strlen(buf));
	assert_non_null(strstr(buf,
			       ",\"match\":{\"rules\":3,\"stream_state_bytes\":33,\"events\":"
			       "{\"found\":5,\"suppressed\":1,\"ring_drops\":0,\"received\":4},"
			       "\"payload\":{\"scanned_bytes\":150,\"retransmitted_bytes\":7,"));
	assert_non_null(strstr(buf, "\"streams\":{\"pool\":16,\"in_use\":0,"));
	assert_non_null(strstr(buf, "\"reassembly\":{\"held_segments\":0,\"held_bytes\":0,"
				    "\"gaps\":2,\"gaps_acked\":2,"));
	assert_non_null(strstr(buf, "\"out_of_window_bytes\":0,\"reorder_dropped_bytes\":301,"
				    "\"scan_error_bytes\":0,\"fragment_overlap_bytes\":8,"
				    "\"fragment_held_bytes\":11}"));
	assert_non_null(strstr(buf, "\"defrag\":{\"fragments\":0,\"datagrams\":3,"
				    "\"given_up\":{\"timeout\":0,"));
	assert_non_null(strstr(buf, "\"end\":0,\"memory\":5,\"flow_ended\":0}"));
	assert_non_null(strstr(
		buf, "\"dropped_segments\":2,\"dropped_held_bytes\":42,"
		     "\"slots\":0,\"slots_in_use\":11},\"chunks\":{\"pool\":2048,\"in_use\":0,"
		     "\"held_bytes\":0,\"pool_empty\":10}"));
	/* Rules with hits, in table order, with their names and metadata. */
	assert_non_null(strstr(buf, "\"hits\":[{\"id\":10,\"name\":\"first\",\"meta\":"
				    "\"sev=\\\"hi\\\"\",\"hits\":3},{\"id\":12,\"name\":\"third\","
				    "\"hits\":2}]},\"accounted\""));
	free(buf);
}

/* ---------------------------------------------------------------- segment */

#define T_WORKERS   2
#define T_RING_SIZE 8

static size_t
t_ring_bytes(void)
{
	size_t sz = sizeof(struct rte_ring) + T_RING_SIZE * sizeof(struct ft_record);

	return (sz + 63) & ~(size_t)63;
}

static size_t
t_segment_size(void)
{
	return sizeof(struct ft_export_header) + T_WORKERS * t_ring_bytes();
}

/* A valid RUNNING segment, rings laid out as rte_ring_init(SP|SC) leaves them. */
static void
t_build(void *mem)
{
	struct ft_export_header *h = mem;
	unsigned int w;

	memset(mem, 0, t_segment_size());
	h->magic = FT_EXPORT_MAGIC;
	h->layout_version = FT_EXPORT_LAYOUT_VERSION;
	h->header_size = sizeof(*h);
	h->record_size = sizeof(struct ft_record);
	h->worker_count = T_WORKERS;
	h->port_count = 1;
	h->ring_size = T_RING_SIZE;
	h->segment_size = t_segment_size();
	h->dataplane_pid = getpid();
	h->state = FT_SEG_RUNNING;
	for (w = 0; w < T_WORKERS; w++) {
		struct rte_ring *r;

		h->ring_offset[w] = sizeof(*h) + w * t_ring_bytes();
		r = (struct rte_ring *)((char *)mem + h->ring_offset[w]);
		r->flags = RING_F_SP_ENQ | RING_F_SC_DEQ;
		r->size = T_RING_SIZE;
		r->mask = T_RING_SIZE - 1;
		r->capacity = T_RING_SIZE - 1;
		r->prod.sync_type = RTE_RING_SYNC_ST;
		r->cons.sync_type = RTE_RING_SYNC_ST;
	}
}

static void *
t_alloc(void)
{
	void *mem = aligned_alloc(64, t_segment_size());

	assert_non_null(mem);
	t_build(mem);
	return mem;
}

static void
expect_header(void *mem, uint64_t file_size, int rc, const char *msg)
{
	char err[256];

	assert_int_equal(ft_segment_validate_header(mem, file_size, err, sizeof(err)), rc);
	if (msg != NULL && strstr(err, msg) == NULL)
		fail_msg("message '%s' lacks '%s'", err, msg);
}

static void
test_validate_header(void **state)
{
	void *mem = t_alloc();
	struct ft_export_header *h = mem;
	uint64_t size = t_segment_size();

	(void)state;
	expect_header(mem, size, 0, NULL);
	/* still being created */
	expect_header(mem, 8, -EAGAIN, NULL);
	h->magic = 0;
	expect_header(mem, size, -EAGAIN, NULL);
	h->magic = 0x4c46;
	expect_header(mem, size, -EPROTO, "bad magic 0x0000000000004c46");
	t_build(mem);
	h->layout_version = 0;
	expect_header(mem, size, -EAGAIN, NULL);
	h->layout_version = FT_EXPORT_LAYOUT_VERSION + 1;
	{
		char want[96];

		snprintf(want, sizeof(want), "layout version %d, this flowtap-collector reads version %d",
			 FT_EXPORT_LAYOUT_VERSION + 1, FT_EXPORT_LAYOUT_VERSION);
		expect_header(mem, size, -EPROTO, want);
	}
	t_build(mem);
	h->record_size = 128;
	expect_header(mem, size, -EPROTO, "record size 128, expected 256");
	t_build(mem);
	h->state = FT_SEG_STARTING;
	h->record_size = 0; /* not written yet: wait, do not fail */
	expect_header(mem, size, -EAGAIN, NULL);
	h->record_size = 64; /* written and wrong: fail even while starting */
	expect_header(mem, size, -EPROTO, "record size 64");
	t_build(mem);
	h->header_size = 4096;
	expect_header(mem, size, -EPROTO, "header size 4096");
	t_build(mem);
	expect_header(mem, size - 1, -EPROTO, "larger than the file");
	expect_header(mem, 100, -EPROTO, "shorter than the");
	h->state = 9;
	expect_header(mem, size, -EPROTO, "unknown state 9");
	t_build(mem);
	h->worker_count = 0;
	expect_header(mem, size, -EPROTO, "worker count 0");
	h->worker_count = FT_EXPORT_MAX_WORKERS + 1;
	expect_header(mem, size, -EPROTO, "worker count 33");
	t_build(mem);
	h->port_count = FT_EXPORT_MAX_PORTS + 1;
	expect_header(mem, size, -EPROTO, "port count 17");
	t_build(mem);
	h->ring_size = 12;
	expect_header(mem, size, -EPROTO, "ring size 12");
	t_build(mem);
	h->ring_offset[1] += 8;
	expect_header(mem, size, -EPROTO, "ring of worker 1 at offset");
	h->ring_offset[1] = h->ring_offset[0] + 64;
	expect_header(mem, size, -EPROTO, "rings of workers 0 and 1 overlap");
	t_build(mem);
	h->ring_offset[0] = 0; /* inside the header */
	expect_header(mem, size, -EPROTO, "ring of worker 0");
	t_build(mem);
	h->dataplane_pid = 0;
	expect_header(mem, size, -EPROTO, "dataplane pid 0");
	/* The rule table and hit counters must lie inside the segment. */
	t_build(mem);
	h->rule_count = 2;
	h->rule_info_size = sizeof(struct ft_rule_info);
	h->rules_offset = sizeof(*h);
	h->rule_hits_offset = sizeof(*h);
	h->rule_hits_stride = 64;
	expect_header(mem, size, 0, NULL);
	h->rule_info_size = 64;
	expect_header(mem, size, -EPROTO, "rule info size 64, expected 128");
	h->rule_info_size = sizeof(struct ft_rule_info);
	h->rules_offset += 8;
	expect_header(mem, size, -EPROTO, "rule table of 2 rules at offset");
	h->rules_offset = 64; /* inside the header */
	expect_header(mem, size, -EPROTO, "rule table of 2 rules");
	h->rules_offset = sizeof(*h);
	h->rule_count = 1000000;
	expect_header(mem, size, -EPROTO, "rule table of 1000000 rules");
	h->rule_count = 2;
	h->rule_hits_stride = 8;
	expect_header(mem, size, -EPROTO, "rule hit counters at offset");
	h->rule_hits_stride = 64;
	h->rule_hits_offset = size - 64; /* room for one worker of two */
	expect_header(mem, size, -EPROTO, "rule hit counters at offset");
	free(mem);
}

static void
test_validate_rings(void **state)
{
	void *mem = t_alloc();
	struct ft_export_header *h = mem;
	struct rte_ring *r1 = (struct rte_ring *)((char *)mem + h->ring_offset[1]);
	char err[256];

	(void)state;
	assert_int_equal(ft_segment_validate_rings(h, err, sizeof(err)), 0);
	r1->size = 16;
	assert_int_equal(ft_segment_validate_rings(h, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "ring of worker 1: size 16"));
	t_build(mem);
	r1->cons.sync_type = RTE_RING_SYNC_MT;
	assert_int_equal(ft_segment_validate_rings(h, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "not single-producer/single-consumer"));
	t_build(mem);
	r1->prod.tail = 100;
	r1->cons.tail = 90; /* 10 used > capacity 7 */
	assert_int_equal(ft_segment_validate_rings(h, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "more than its capacity"));
	r1->prod.tail = 3;
	r1->cons.tail = UINT32_MAX - 2; /* 6 used across the wrap: fine */
	assert_int_equal(ft_segment_validate_rings(h, err, sizeof(err)), 0);
	free(mem);
}

static void
test_instance_names(void **state)
{
	(void)state;
	assert_true(ft_instance_name_valid("default"));
	assert_true(ft_instance_name_valid("a.B-c_9"));
	assert_true(ft_instance_name_valid("0123456789012345678901234567890"));	  /* 31 */
	assert_false(ft_instance_name_valid("01234567890123456789012345678901")); /* 32 */
	assert_false(ft_instance_name_valid(""));
	assert_false(ft_instance_name_valid(NULL));
	assert_false(ft_instance_name_valid("a/b"));
	assert_false(ft_instance_name_valid("a b"));
	assert_false(ft_instance_name_valid("caf\xc3\xa9"));
}

/* Real shm objects, opened through ft_segment_open(). */
static char shm_inst[32];

static void *
shm_create(size_t size)
{
	char name[64];
	void *mem;
	int fd;

	snprintf(name, sizeof(name), "/flowtap.%s", shm_inst);
	shm_unlink(name);
	fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	mem = size ? mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : NULL;
	close(fd);
	assert_true(mem != MAP_FAILED);
	return mem;
}

static void
shm_remove(void *mem, size_t size)
{
	char name[64];

	snprintf(name, sizeof(name), "/flowtap.%s", shm_inst);
	if (mem)
		munmap(mem, size);
	shm_unlink(name);
}

static void
test_open_errors(void **state)
{
	struct ft_segment seg;
	char err[512], want[128];
	void *mem;

	(void)state;
	snprintf(shm_inst, sizeof(shm_inst), "unit-%d", (int)getpid());
	assert_int_equal(ft_segment_open(&seg, shm_inst, err, sizeof(err)), -ENOENT);
	assert_int_equal(seg.fd, -1);
	assert_int_equal(ft_segment_open(&seg, "../x", err, sizeof(err)), -EINVAL);

	/* created, not sized yet */
	mem = shm_create(0);
	assert_int_equal(ft_segment_open(&seg, shm_inst, err, sizeof(err)), -EAGAIN);
	shm_remove(mem, 0);

	mem = shm_create(t_segment_size());
	t_build(mem);
	((struct ft_export_header *)mem)->magic = 0x1122334455667788ULL;
	assert_int_equal(ft_segment_open(&seg, shm_inst, err, sizeof(err)), -EPROTO);
	snprintf(want, sizeof(want), "/dev/shm/flowtap.%s: bad magic 0x1122334455667788", shm_inst);
	assert_non_null(strstr(err, want));
	assert_int_equal(seg.fd, -1);

	t_build(mem);
	((struct ft_export_header *)mem)->layout_version = FT_EXPORT_LAYOUT_VERSION + 1;
	assert_int_equal(ft_segment_open(&seg, shm_inst, err, sizeof(err)), -EPROTO);
	snprintf(want, sizeof(want), "/dev/shm/flowtap.%s: layout version %d", shm_inst,
		 FT_EXPORT_LAYOUT_VERSION + 1);
	assert_non_null(strstr(err, want));

	t_build(mem);
	((struct ft_export_header *)mem)->record_size = 512;
	assert_int_equal(ft_segment_open(&seg, shm_inst, err, sizeof(err)), -EPROTO);
	snprintf(want, sizeof(want), "/dev/shm/flowtap.%s: record size 512, expected 256",
		 shm_inst);
	assert_non_null(strstr(err, want));

	t_build(mem);
	((struct rte_ring *)((char *)mem + ((struct ft_export_header *)mem)->ring_offset[0]))
		->mask = 3;
	assert_int_equal(ft_segment_open(&seg, shm_inst, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "ring of worker 0"));

	t_build(mem);
	((struct ft_export_header *)mem)->state = FT_SEG_STARTING;
	assert_int_equal(ft_segment_open(&seg, shm_inst, err, sizeof(err)), -EAGAIN);
	shm_remove(mem, t_segment_size());
}

static void
test_open_claim_release(void **state)
{
	struct ft_export_header *h;
	struct ft_segment seg, other;
	struct rte_ring *r0;
	char err[512];
	uint64_t now = 5000000000000ULL;
	void *mem;

	(void)state;
	snprintf(shm_inst, sizeof(shm_inst), "unit-%d", (int)getpid());
	mem = shm_create(t_segment_size());
	t_build(mem);
	h = mem;
	h->start_ns = 123;
	r0 = (struct rte_ring *)((char *)mem + h->ring_offset[0]);
	/* a dead consumer took 3 records and never confirmed them */
	r0->prod.head = r0->prod.tail = 5;
	r0->cons.tail = 1;
	r0->cons.head = 4;

	assert_int_equal(ft_segment_open(&seg, shm_inst, err, sizeof(err)), 0);
	assert_int_equal(seg.worker_count, T_WORKERS);
	assert_int_equal(seg.dataplane_pid, getpid());
	assert_int_equal(seg.start_ns, 123);
	assert_int_equal(ft_segment_ring_count(&seg, 0), 4);

	/* a live collector (our parent) with a fresh heartbeat keeps it */
	h->consumer_pid = (int32_t)getppid();
	h->consumer_heartbeat_ns = now - 1000000;
	assert_int_equal(ft_segment_claim(&seg, 77777, now, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "already consumed by pid"));
	assert_int_equal(r0->cons.head, 4); /* untouched */

	/* ... unless its heartbeat is stale */
	h->consumer_heartbeat_ns = now - FT_CONSUMER_STALE_NS - 1;
	assert_int_equal(ft_segment_claim(&seg, (int32_t)getpid(), now, err, sizeof(err)), 0);
	assert_int_equal(h->consumer_pid, getpid());
	assert_int_equal(h->consumer_heartbeat_ns, now);
	assert_int_equal(r0->cons.head, 1); /* head back to tail: records read again */
	assert_int_equal(seg.reread_records, 3);
	assert_true(ft_segment_owned(&seg));
	ft_segment_heartbeat(&seg, now + 10);
	assert_int_equal(h->consumer_heartbeat_ns, now + 10);

	/* a second collector in this process's view: we are alive and beating */
	assert_int_equal(ft_segment_open(&other, shm_inst, err, sizeof(err)), 0);
	assert_int_equal(ft_segment_claim(&other, 99999, now + 20, err, sizeof(err)), -EBUSY);
	ft_segment_close(&other);

	/* release clears only our own claim */
	h->consumer_pid = 4321;
	assert_false(ft_segment_owned(&seg));
	ft_segment_release(&seg);
	assert_int_equal(h->consumer_pid, 4321);
	h->consumer_pid = getpid();
	seg.self_pid = getpid();
	ft_segment_release(&seg);
	assert_int_equal(h->consumer_pid, 0);

	ft_segment_close(&seg);
	ft_segment_close(&seg); /* idempotent */
	shm_remove(mem, t_segment_size());
}

static void
test_dataplane_status(void **state)
{
	struct ft_export_header *h;
	struct ft_segment seg;
	const char *why = NULL;
	char err[512];
	void *mem;
	pid_t child;

	(void)state;
	snprintf(shm_inst, sizeof(shm_inst), "unit-%d", (int)getpid());
	mem = shm_create(t_segment_size());
	t_build(mem);
	h = mem;
	assert_int_equal(ft_segment_open(&seg, shm_inst, err, sizeof(err)), 0);
	assert_int_equal(ft_segment_claim(&seg, (int32_t)getpid(), 1, err, sizeof(err)), 0);

	assert_int_equal(ft_segment_dataplane_status(&seg, 1000, &why), FT_DATAPLANE_RUNNING);
	/* heartbeat still for 3 s: gone; moving again: running */
	assert_int_equal(ft_segment_dataplane_status(&seg, 1000 + FT_DATAPLANE_STALE_NS, &why),
			 FT_DATAPLANE_RUNNING);
	assert_int_equal(ft_segment_dataplane_status(&seg, 1001 + FT_DATAPLANE_STALE_NS, &why),
			 FT_DATAPLANE_GONE);
	assert_non_null(strstr(why, "heartbeat"));
	h->heartbeat++;
	assert_int_equal(ft_segment_dataplane_status(&seg, 2000 + FT_DATAPLANE_STALE_NS, &why),
			 FT_DATAPLANE_RUNNING);
	/* FINISHED wins over a stalled heartbeat */
	h->state = FT_SEG_FINISHED;
	assert_int_equal(ft_segment_dataplane_status(&seg, 10 * FT_DATAPLANE_STALE_NS, &why),
			 FT_DATAPLANE_FINISHED);
	h->state = FT_SEG_RUNNING;

	/* a pid that does not exist here: while its heartbeat moves it lives in
	 * another pid namespace; once the heartbeat is still too, it is gone */
	child = fork();
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	seg.dataplane_pid = child;
	h->heartbeat++;
	assert_int_equal(ft_segment_dataplane_status(&seg, 3000 + FT_DATAPLANE_STALE_NS, &why),
			 FT_DATAPLANE_RUNNING);
	assert_int_equal(
		ft_segment_dataplane_status(
			&seg, 3000 + FT_DATAPLANE_STALE_NS + FT_DATAPLANE_PID_GRACE_NS, &why),
		FT_DATAPLANE_RUNNING);
	h->heartbeat++;
	assert_int_equal(ft_segment_dataplane_status(&seg, 4000 + 2 * FT_DATAPLANE_STALE_NS, &why),
			 FT_DATAPLANE_RUNNING);
	assert_int_equal(
		ft_segment_dataplane_status(
			&seg, 4001 + 2 * FT_DATAPLANE_STALE_NS + FT_DATAPLANE_PID_GRACE_NS, &why),
		FT_DATAPLANE_GONE);
	assert_non_null(strstr(why, "exited"));
	h->state = FT_SEG_FINISHED; /* finished, then exited: complete */
	assert_int_equal(ft_segment_dataplane_status(&seg, 5000 + 2 * FT_DATAPLANE_STALE_NS, &why),
			 FT_DATAPLANE_FINISHED);

	ft_segment_release(&seg);
	ft_segment_close(&seg);
	shm_remove(mem, t_segment_size());
}

static void
test_snapshot(void **state)
{
	struct ft_export_header *h, *copy = aligned_alloc(64, sizeof(*copy));
	struct ft_segment seg;
	char err[512];
	void *mem;

	(void)state;
	assert_non_null(copy);
	snprintf(shm_inst, sizeof(shm_inst), "unit-%d", (int)getpid());
	mem = shm_create(t_segment_size());
	t_build(mem);
	h = mem;
	h->workers[1].ring_drop_records = 77;
	h->ports[0].imissed = 5;
	strcpy(h->version, "9.9");
	assert_int_equal(ft_segment_open(&seg, shm_inst, err, sizeof(err)), 0);
	ft_segment_snapshot(&seg, copy);
	assert_memory_equal(copy, h, sizeof(*h));
	ft_segment_close(&seg);
	shm_remove(mem, t_segment_size());
	free(copy);
}

/* ---------------------------------------------------------------- statistics */

static void
check_moments(const uint64_t *x, uint64_t n, double want_mean, double want_var, double tol)
{
	unsigned __int128 sq = 0;
	uint64_t sum = 0;
	double mean, var;

	for (uint64_t i = 0; i < n; i++) {
		sum += x[i];
		sq += (unsigned __int128)x[i] * x[i];
	}
	ft_stats_moments(n, sum, sq, &mean, &var);
	if (fabs(mean - want_mean) > tol * fabs(want_mean) ||
	    fabs(var - want_var) > tol * (want_var > 1 ? want_var : 1))
		fail_msg("mean %.17g variance %.17g, want %.17g %.17g", mean, var, want_mean,
			 want_var);
}

/* Constant values give 0 exactly; values near 1e12 (inter-arrival times of
 * 17 minutes in ns) and near 2^32 keep their small variance, which the
 * textbook sumsq / n - mean^2 in doubles loses entirely. */
static void
test_stats_moments(void **state)
{
	static uint64_t x[100000];
	uint64_t seed = 5;
	double mean, var;

	(void)state;
	for (int i = 0; i < 100000; i++)
		x[i] = 1500;
	check_moments(x, 100000, 1500, 0, 0);
	for (int i = 0; i < 1000; i++)
		x[i] = 1000000000000ULL + (uint64_t)i;
	/* mean 1e12 + 499.5, variance (n^2 - 1) / 12 */
	check_moments(x, 1000, 1e12 + 499.5, (1000.0 * 1000 - 1) / 12, 1e-12);
	for (int i = 0; i < 1000; i++)
		x[i] = 0xffffffffULL - (uint64_t)(i % 2);
	check_moments(x, 1000, 0xffffffffULL - 0.5, 0.25, 1e-12);
	/* random: exact reference from the integers (n * sumsq - sum^2) / n^2 */
	for (int round = 0; round < 100; round++) {
		uint64_t n = 1 + rng_next(&seed) % 5000, sum = 0;
		unsigned __int128 sq = 0, num;
		uint64_t scale = rng_next(&seed) % 2 ? 1500 : 1000000000;

		for (uint64_t i = 0; i < n; i++) {
			x[i] = rng_next(&seed) % scale;
			sum += x[i];
			sq += (unsigned __int128)x[i] * x[i];
		}
		num = (unsigned __int128)n * sq - (unsigned __int128)sum * sum;
		check_moments(x, n, (double)sum / (double)n,
			      (double)(long double)num / ((long double)n * (long double)n), 1e-12);
	}
	ft_stats_moments(0, 0, 0, &mean, &var);
	assert_true(mean == 0 && var == 0);
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t
size_lo(unsigned int b)
{
	return ft_stats_size_bin_lo(b);
}

static uint64_t
iat_lo(unsigned int b)
{
	return ft_stats_iat_bin_lo(b);
}

/* Quantiles from the histogram against the exact nearest-rank quantile of the
 * data: the true value is in [lo, hi], and the estimate is within the stated
 * error: (hi - lo) / (hi + lo) relative (at most 1/3 in any one-octave bin),
 * hi / 2 absolute when lo is 0. */
static void
test_stats_quantiles(void **state)
{
	static uint64_t x[20000];
	uint64_t seed = 11;
	static const unsigned int pm[3] = {500, 900, 990};
	unsigned int checked = 0;

	(void)state;
	for (int round = 0; round < 400; round++) {
		bool iat = round % 2;
		unsigned int nbins = iat ? FT_STATS_IAT_BINS : FT_STATS_SIZE_BINS;
		uint32_t hist[FT_STATS_IAT_BINS] = {0};
		uint64_t n = 1 + rng_next(&seed) % 20000, mn = UINT64_MAX, mx = 0;
		unsigned int kind = (unsigned int)(rng_next(&seed) % 4);

		for (uint64_t i = 0; i < n; i++) {
			uint64_t v;

			switch (kind) {
			case 0: /* uniform */
				v = iat ? rng_next(&seed) % 3000000 : 40 + rng_next(&seed) % 1475;
				break;
			case 1: /* log-uniform over many octaves */
				v = 1 + (rng_next(&seed) >> (64 - (iat ? 36 : 16)) >>
					 (rng_next(&seed) % (iat ? 36 : 16)));
				break;
			case 2: /* constant */
				v = iat ? 20000000 : 1514;
				break;
			default: /* IMIX-like mix */
				v = (uint64_t[]){60, 60,  60,  60,  60,	 60,
						 60, 590, 590, 590, 590, 1514}[rng_next(&seed) %
									       12] *
				    (iat ? 1000 : 1);
				break;
			}
			x[i] = v;
			mn = v < mn ? v : mn;
			mx = v > mx ? v : mx;
			hist[iat ? ft_stats_iat_bin(v) : ft_stats_size_bin((uint32_t)v)]++;
		}
		qsort(x, n, sizeof(x[0]), u64_cmp);
		for (int q = 0; q < 3; q++) {
			uint64_t rank = (n * pm[q] + 999) / 1000, truth, lo, hi, est;
			double bound;

			truth = x[(rank ? rank : 1) - 1];
			est = ft_stats_quantile(hist, nbins, iat ? iat_lo : size_lo, mn, mx, pm[q],
						&lo, &hi);
			if (truth < lo || truth > hi)
				fail_msg("p%u of %" PRIu64 " values: %" PRIu64 " not in [%" PRIu64
					 ", %" PRIu64 "]",
					 pm[q] / 10, n, truth, lo, hi);
			if (lo == 0) {
				assert_true(est <= hi && (est > truth ? est - truth
								      : truth - est) <= hi / 2 + 1);
				continue;
			}
			bound = (double)(hi - lo) / (double)(hi + lo);
			if (fabs((double)est - (double)truth) > bound * (double)truth + 0.5)
				fail_msg("p%u: estimate %" PRIu64 " truth %" PRIu64 " bound %.3f",
					 pm[q] / 10, est, truth, bound);
			/* the stated 1/3 in every bin but the open last one */
			if (hi < (iat ? iat_lo(nbins - 1) : size_lo(nbins - 1)))
				assert_true(bound < 1.0 / 3);
			checked++;
		}
	}
	assert_true(checked > 900);
}

static struct ft_record
stats_rec(void)
{
	struct ft_record r;
	struct ft_flow_stats_record *s = &r.flow_stats;

	memset(&r, 0, sizeof(r));
	r.type = FT_RECORD_FLOW_STATS;
	r.worker = 1;
	r.seq = 10;
	s->key.family = 4;
	s->key.proto = 6;
	set_v4(s->key.addr[0], 10, 0, 0, 2);
	set_v4(s->key.addr[1], 10, 0, 0, 9);
	s->key.port[0] = 80;
	s->key.port[1] = 40000;
	s->flow_id = (1ULL << 56) | 5;
	s->time_ns = 1700000002000000000ULL;
	s->first_ns = 1700000000000000000ULL;
	s->last_ns = 1700000001500000000ULL;
	s->bucket_ns = 1000000000ULL;
	s->buckets = 10;
	s->kind = FT_FLOW_STATS_PERIODIC;
	s->flags = FT_FLOW_STATS_F_INITIATOR_HI | FT_FLOW_STATS_F_RTT_SERVER |
		   FT_FLOW_STATS_F_HISTOGRAMS;
	s->rtt_server_ns = 7000000;
	s->dir[0].packets = 3;
	s->dir[0].bytes = 300;
	s->dir[0].last_packets = 1;
	s->dir[0].last_bytes = 100;
	s->dir[0].window_packets = 3;
	s->dir[0].window_bytes = 300;
	s->dir[0].peak_packets = 2;
	s->dir[0].peak_bytes = 200;
	s->dir[0].retransmissions = 4;
	s->dir[1].packets = 1;
	s->dir[1].bytes = 1500;
	s->dir[1].zero_windows = 2;
	return r;
}

static void
test_json_flow_stats(void **state)
{
	struct ft_record r = stats_rec(), d;
	struct ft_flow_dist_record *dd = &d.flow_dist;
	static char buf[FT_JSON_STATS_MAX];
	size_t n;

	(void)state;
	n = ft_json_flow_stats(buf, &r, NULL);
	assert_int_equal(n, strlen(buf));
	assert_non_null(strstr(buf,
			       "{\"type\":\"flow_stats\",\"kind\":\"periodic\",\"flow_id\":"
			       "72057594037927941,\"worker\":1,\"time\":\"2023-11-14T22:13:22."
			       "000000000Z\",\"time_ns\":1700000002000000000,\"ip_version\":4,"
			       "\"proto\":6,\"src_ip\":\"10.0.0.9\",\"src_port\":40000,\"dst_ip\":"
			       "\"10.0.0.2\",\"dst_port\":80,\"start_ns\":1700000000000000000,"
			       "\"last_ns\":1700000001500000000,\"bucket_ns\":1000000000,"
			       "\"window_ns\":10000000000,\"packets_fwd\":3,\"bytes_fwd\":300,"
			       "\"last_packets_fwd\":1,\"last_bytes_fwd\":100,"
			       "\"window_packets_fwd\":3,\"window_bytes_fwd\":300,"
			       "\"peak_packets_fwd\":2,\"peak_bytes_fwd\":200,\"packets_rev\":1,"));
	assert_non_null(strstr(buf, "\"retransmissions_fwd\":4,\"out_of_order_fwd\":0,"
				    "\"zero_windows_fwd\":0,\"retransmissions_rev\":0,"
				    "\"out_of_order_rev\":0,\"zero_windows_rev\":2,"
				    "\"rtt_server_ns\":7000000}\n"));
	assert_null(strstr(buf, "rtt_client"));
	assert_null(strstr(buf, "size_"));

	/* with its distributions: sizes 100, 100, 100, 1500; gaps 0.5 s, 0.5 s,
	 * 0.5 s (sum 1.5 s = last - first). p50 is the 2nd value, in bin
	 * [64, 127] cut to [100, 127]: 2 * 100 * 127 / 227 = 112; p90 and p99 are
	 * the 4th, the largest: exactly max. */
	memset(&d, 0, sizeof(d));
	d.type = FT_RECORD_FLOW_DIST;
	dd->flow_id = r.flow_stats.flow_id;
	dd->time_ns = r.flow_stats.time_ns;
	dd->size_sumsq[0] = 3 * 100 * 100 + 1500 * 1500;
	dd->iat_sumsq[0] = 3 * 500000000ULL * 500000000ULL;
	dd->iat_min = dd->iat_max = 500000000;
	dd->size_min = 100;
	dd->size_max = 1500;
	dd->size_hist[ft_stats_size_bin(100)] = 3;
	dd->size_hist[ft_stats_size_bin(1500)] = 1;
	dd->iat_hist[ft_stats_iat_bin(500000000)] = 3;
	n = ft_json_flow_stats(buf, &r, &d);
	assert_non_null(strstr(buf,
			       ",\"size_min\":100,\"size_max\":1500,\"size_mean\":450,"
			       "\"size_variance\":367500,\"size_p50\":112,\"size_p90\":1500,"
			       "\"size_p99\":1500,\"iat_min_ns\":500000000,\"iat_max_ns\":"
			       "500000000,\"iat_mean_ns\":500000000,\"iat_variance_ns2\":0,"
			       "\"iat_p50_ns\":500000000,\"iat_p90_ns\":500000000,\"iat_p99_ns\":"
			       "500000000}\n"));

	/* the longest line fits: IPv6, QinQ, every number at its widest */
	memset(&r.flow_stats, 0xff, sizeof(r.flow_stats));
	memset(&d.flow_dist, 0xff, sizeof(d.flow_dist));
	r.flow_stats.key.family = 6;
	r.flow_stats.key.proto = 6;
	r.flow_stats.kind = FT_FLOW_STATS_FINAL;
	r.flow_stats.dir[0].packets = r.flow_stats.dir[1].packets = 1ULL << 62;
	r.flow_stats.dir[0].bytes = r.flow_stats.dir[1].bytes = 1ULL << 62;
	r.flow_stats.first_ns = 0;
	r.flow_stats.bucket_ns = 1;
	r.flow_stats.buckets = 1;
	n = ft_json_flow_stats(buf, &r, &d);
	assert_true(n + 1 < FT_JSON_STATS_MAX);
}

static void
test_json_worker_stats(void **state)
{
	struct ft_record r, d;
	static char buf[FT_JSON_STATS_MAX];
	size_t n;

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(&d, 0, sizeof(d));
	r.type = FT_RECORD_WORKER_STATS;
	r.worker = 3;
	r.worker_stats.time_ns = 1700000002000000000ULL;
	r.worker_stats.interval_ns = 1000000000;
	r.worker_stats.packets[0] = 10;
	r.worker_stats.packets[1] = 100;
	r.worker_stats.packets[2] = 600;
	r.worker_stats.drops[2] = 9;
	d.type = FT_RECORD_WORKER_DROPS;
	d.worker_drops.drops[FT_DISCARD_NON_IP][2] = 4;
	d.worker_drops.drops[FT_STATS_DROP_RING][1] = 5;
	d.worker_drops.drops[FT_STATS_DROP_RING][2] = 5;
	n = ft_json_worker_stats(buf, &r, &d);
	assert_int_equal(n, strlen(buf));
	assert_non_null(strstr(buf, "{\"type\":\"worker_stats\",\"worker\":3,\"time\":"));
	assert_non_null(strstr(buf, "\"packets_1s\":10,\"packets_10s\":100,\"packets_60s\":600,"));
	assert_non_null(strstr(buf,
			       "\"drops_1s\":0,\"drops_10s\":0,\"drops_60s\":9,"
			       "\"drops_by_cause\":{\"non_ip\":[0,0,4],\"ring_full\":[0,5,5]}}\n"));
	memset(&r.worker_stats, 0xff, sizeof(r.worker_stats));
	memset(&d.worker_drops, 0xff, sizeof(d.worker_drops));
	r.worker = 0xffff;
	n = ft_json_worker_stats(buf, &r, &d);
	assert_true(n + 1 < FT_JSON_STATS_MAX);
}

static struct ft_topk_record
topk_rec(uint64_t t, unsigned int count, const uint64_t (*v)[3], bool last)
{
	struct ft_topk_record r;

	memset(&r, 0, sizeof(r));
	r.time_ns = t;
	r.interval_ns = 1000000000;
	r.k = 2;
	r.count = (uint8_t)count;
	r.flags = last ? FT_TOPK_F_LAST : 0;
	for (unsigned int i = 0; i < count; i++) {
		r.entry[i].key.family = 4;
		r.entry[i].key.proto = 17;
		set_v4(r.entry[i].key.addr[0], 10, 0, 0, (uint8_t)v[i][0]);
		set_v4(r.entry[i].key.addr[1], 10, 0, 1, 1);
		r.entry[i].flow_id = v[i][0];
		r.entry[i].bytes = v[i][1];
		r.entry[i].packets = v[i][2];
	}
	r.initiator = 0x2;
	return r;
}

/* Two workers' lists merge into the exact global top-K, once both completed
 * the interval; the run's end merges what is left. */
static void
test_topk_merge(void **state)
{
	struct ft_topk_merge m;
	static char buf[FT_JSON_TOPK_MAX(2)];
	const uint64_t t1 = 1000000000000ULL, t2 = t1 + 1000000000, t3 = t2 + 1000000000;
	/* {flow (last address byte and id), bytes, packets} */
	const uint64_t w0[3][3] = {{1, 9000, 10}, {2, 500, 50}, {3, 100, 1}};
	const uint64_t w1[2][3] = {{4, 8000, 60}, {5, 8000, 5}};
	struct ft_topk_record r;

	(void)state;
	memset(&m, 0, sizeof(m));
	ft_topk_merge_init(&m, 2);
	r = topk_rec(t1, 3, w0, true);
	assert_int_equal(ft_topk_merge_add(&m, 0, &r), 0);
	ft_topk_merge_through(&m, 0, t1);
	assert_false(ft_topk_merge_next(&m, false));
	r = topk_rec(t1, 2, w1, true);
	assert_int_equal(ft_topk_merge_add(&m, 1, &r), 0);
	/* a later interval of worker 1 arrives before worker 1 completes t1 */
	r = topk_rec(t3, 1, w1, true);
	assert_int_equal(ft_topk_merge_add(&m, 1, &r), 0);
	assert_false(ft_topk_merge_next(&m, false));
	ft_topk_merge_through(&m, 1, t2);
	assert_true(ft_topk_merge_next(&m, false));
	assert_true(m.result.time_ns == t1);
	assert_int_equal(m.n_bytes, 2);
	assert_int_equal(m.by_bytes[0].e.flow_id, 1); /* 9000 */
	assert_int_equal(m.by_bytes[1].e.flow_id, 4); /* 8000, 60 packets beats 8000, 5 */
	assert_int_equal(m.by_bytes[1].worker, 1);
	assert_int_equal(m.n_packets, 2);
	assert_int_equal(m.by_packets[0].e.flow_id, 4);
	assert_int_equal(m.by_packets[1].e.flow_id, 2);
	assert_int_equal(m.by_packets[1].initiator, 1);
	ft_json_topk(buf, &m);
	assert_non_null(strstr(buf,
			       "{\"type\":\"topk\",\"time\":\"1970-01-01T00:16:40.000000000Z\","
			       "\"time_ns\":1000000000000,\"interval_ns\":1000000000,\"k\":2,"
			       "\"by_bytes\":[{\"flow_id\":1,\"worker\":0,\"ip_version\":4,"
			       "\"proto\":17,\"src_ip\":\"10.0.0.1\",\"src_port\":0,\"dst_ip\":"
			       "\"10.0.1.1\",\"dst_port\":0,\"bytes\":9000,\"packets\":10},"
			       "{\"flow_id\":4,"));
	assert_non_null(strstr(buf, "\"by_packets\":[{\"flow_id\":4,"));
	/* t3 waits for worker 0; the end of the run merges it anyway */
	assert_false(ft_topk_merge_next(&m, false));
	assert_true(ft_topk_merge_next(&m, true));
	assert_true(m.result.time_ns == t3);
	assert_int_equal(m.n_bytes, 1);
	assert_false(ft_topk_merge_next(&m, true));
	ft_topk_merge_free(&m);
}

/* The latest-state table against a reference, through growth and removals
 * (backward-shift deletion keeps every remaining flow findable). */
static void
test_live_flows(void **state)
{
	struct ft_live_flows lf;
	static uint64_t ids[20000];
	static bool live[20000];
	struct ft_flow_stats_record r;
	uint64_t seed = 3;
	uint32_t count = 0;

	(void)state;
	memset(&lf, 0, sizeof(lf));
	memset(&r, 0, sizeof(r));
	for (int i = 0; i < 20000; i++)
		ids[i] = i % 3 ? rng_next(&seed) : (uint64_t)i; /* small ids cluster */
	for (int step = 0; step < 200000; step++) {
		int i = (int)(rng_next(&seed) % 20000);

		r.flow_id = ids[i];
		r.kind = rng_next(&seed) % 3 ? FT_FLOW_STATS_PERIODIC : FT_FLOW_STATS_FINAL;
		r.dir[0].last_bytes = (uint32_t)step;
		assert_int_equal(ft_live_flows_update(&lf, &r), 0);
		if (r.kind == FT_FLOW_STATS_FINAL) {
			count -= live[i];
			live[i] = false;
		} else {
			count += !live[i];
			live[i] = true;
			assert_int_equal(ft_live_flows_find(&lf, ids[i])->last_bytes, step);
		}
		if (step % 10000 == 0)
			for (int j = 0; j < 20000; j++)
				assert_int_equal(ft_live_flows_find(&lf, ids[j]) != NULL, live[j]);
	}
	assert_int_equal(lf.count, count);
	ft_live_flows_clear(&lf);
	assert_null(ft_live_flows_find(&lf, ids[0]));
}

/* Community ID v1: the specification's examples (TCP; ICMP echo, both ways),
 * its seed, ICMP types without a counterpart (one way), IPv6, no ports. */
static void
community_key(struct ft_flow_key *k, int family, const char *a, const char *b, uint8_t proto,
	      uint16_t pa, uint16_t pb)
{
	memset(k, 0, sizeof(*k));
	k->family = (uint8_t)family;
	k->proto = proto;
	assert_int_equal(inet_pton(family == 4 ? AF_INET : AF_INET6, a, k->addr[0]), 1);
	assert_int_equal(inet_pton(family == 4 ? AF_INET : AF_INET6, b, k->addr[1]), 1);
	k->port[0] = pa;
	k->port[1] = pb;
}

static void
test_community_id(void **state)
{
	struct ft_flow_key k;
	char id[FT_COMMUNITY_ID_LEN];

	(void)state;
	community_key(&k, 4, "128.232.110.120", "66.35.250.204", 6, 34855, 80);
	assert_int_equal(ft_community_id(&k, 0, 0, 0, 0, id), 30);
	assert_string_equal(id, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
	ft_community_id(&k, 1, 0, 0, 0, id); /* the other side first: the same */
	assert_string_equal(id, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
	ft_community_id(&k, 0, 0, 0, 1, id);
	assert_string_equal(id, "1:3V71V58M3Ksw/yuFALMcW0LAHvc=");

	/* ICMP: ports 0 in the key; the type and its counterpart hash. */
	community_key(&k, 4, "192.168.0.89", "192.168.0.1", 1, 0, 0);
	ft_community_id(&k, 0, 8, 0, 0, id); /* echo request from .89 */
	assert_string_equal(id, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
	ft_community_id(&k, 1, 0, 0, 0, id); /* the reply first, from .1 */
	assert_string_equal(id, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
	/* Destination unreachable (no counterpart): type and code, sender first. */
	ft_community_id(&k, 1, 3, 1, 0, id);
	assert_string_equal(id, "1:o3zT92uTgnRWv/YrDVeXcWumpC4=");
	ft_community_id(&k, 0, 3, 1, 0, id);
	assert_string_equal(id, "1:LXCfhMUFbYXe+CEMrQuZCbiLY3o=");

	community_key(&k, 6, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 17, 53, 1053);
	ft_community_id(&k, 0, 0, 0, 0, id);
	assert_string_equal(id, "1:+81R1dsan+K8zL5UFiu5Ncj9YGY=");
	community_key(&k, 4, "10.0.0.2", "10.0.0.1", 47, 0, 0);
	ft_community_id(&k, 0, 0, 0, 0, id);
	assert_string_equal(id, "1:+KlEHDT0vJgzs/eNmzHq0aSpRYw=");

	/* In a flow line after the tuple (and the tunnel), only when asked for. */
	{
		static char buf[FT_JSON_FLOW_MAX];
		struct ft_record r;

		memset(&r, 0, sizeof(r));
		r.type = FT_RECORD_FLOW;
		community_key(&r.flow.key, 4, "128.232.110.120", "66.35.250.204", 6, 34855, 80);
		r.flow.key.tunnel = FT_TUNNEL_VXLAN;
		ft_json_flow(buf, &r, 0);
		assert_non_null(strstr(buf, ",\"dst_port\":80,\"tunnel\":\"vxlan\","
					    "\"community_id\":\"1:LQU9qZlK+B5F3KDmev6m5PMibrg=\","
					    "\"start\":"));
		ft_json_flow(buf, &r, -1);
		assert_null(strstr(buf, "community_id"));

		/* A match line: its flow's ID, the flow's ICMP type included. */
		memset(&r, 0, sizeof(r));
		r.type = FT_RECORD_MATCH;
		community_key(&r.match.key, 4, "192.168.0.89", "192.168.0.1", 1, 0, 0);
		r.match.icmp_type = 8;
		ft_json_match(buf, &r, NULL, 0);
		assert_non_null(
			strstr(buf, ",\"community_id\":\"1:X0snYXpgwiv9TZtqg64sgzUn6Dk=\"}"));
		ft_json_match(buf, &r, NULL, -1);
		assert_null(strstr(buf, "community_id"));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3339_edges),
		cmocka_unit_test(test_rfc3339_vs_gmtime),
		cmocka_unit_test(test_ipv6_rfc5952),
		cmocka_unit_test(test_ipv6_vs_inet_ntop),
		cmocka_unit_test(test_ipv4_format),
		cmocka_unit_test(test_community_id),
		cmocka_unit_test(test_json_ipv4_tcp),
		cmocka_unit_test(test_json_ipv6_icmp_qinq_fragments),
		cmocka_unit_test(test_json_icmpv4_and_unknown_enums),
		cmocka_unit_test(test_json_longest_line_fits),
		cmocka_unit_test(test_json_string_escaping),
		cmocka_unit_test(test_json_match),
		cmocka_unit_test(test_json_flow_match),
		cmocka_unit_test(test_summary_match),
		cmocka_unit_test(test_seq_gaps),
		cmocka_unit_test(test_accounting_live_ports),
		cmocka_unit_test(test_accounting_file_port_snaplen),
		cmocka_unit_test(test_accounting_file_port_losses),
		cmocka_unit_test(test_summary_json),
		cmocka_unit_test(test_validate_header),
		cmocka_unit_test(test_validate_rings),
		cmocka_unit_test(test_instance_names),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_open_claim_release),
		cmocka_unit_test(test_dataplane_status),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_stats_moments),
		cmocka_unit_test(test_stats_quantiles),
		cmocka_unit_test(test_json_flow_stats),
		cmocka_unit_test(test_json_worker_stats),
		cmocka_unit_test(test_topk_merge),
		cmocka_unit_test(test_live_flows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
