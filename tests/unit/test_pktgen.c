/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowtap-pktgen unit tests: checksums against RFC examples and a naive
 * reference, the header builder against frames captured from real stacks (in
 * ../shared/pcaps), CRC32C against RFC 3720 vectors, distributions, the regex
 * generator against POSIX regexec(), the segmenter's split rule, scenario
 * parsing and validation, and whole runs (determinism, counts, patterns found
 * at their offsets across 2 and 3 segments by parsing the frames produced).
 */
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pktgen.h"

/* ---- helpers ----------------------------------------------------------------- */

static size_t
unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	while (s[0] && s[1] && n < cap) {
		unsigned v;
		sscanf(s, "%2x", &v);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

/* Naive RFC 1071: sum of big-endian 16-bit words, odd byte padded, folded. */
static uint16_t
ref_csum(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Bitwise CRC32C, independent of the table/SSE4.2 code under test. */
static uint32_t
ref_crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffff;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78 & (0u - (c & 1)));
	}
	return ~c;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A sink keeping every frame in memory. */
struct mem_frame {
	uint64_t ts;
	uint32_t len;
	uint8_t *data;
};

struct mem_sink {
	uint8_t buf[FT_PKTGEN_MAX_FRAME + 64];
	struct mem_frame *f;
	size_t n, cap;
};

static uint8_t *
mem_reserve(void *ctx, uint32_t len)
{
	struct mem_sink *m = ctx;
	return len <= sizeof(m->buf) ? m->buf : NULL;
}

static int
mem_commit(void *ctx, uint64_t ts, uint32_t len)
{
	struct mem_sink *m = ctx;
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 256;
		m->f = realloc(m->f, m->cap * sizeof(*m->f));
		assert_non_null(m->f);
	}
	m->f[m->n].ts = ts;
	m->f[m->n].len = len;
	m->f[m->n].data = malloc(len);
	assert_non_null(m->f[m->n].data);
	memcpy(m->f[m->n].data, m->buf, len);
	m->n++;
	return 0;
}

static void
mem_free(struct mem_sink *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->f[i].data);
	free(m->f);
	m->f = NULL;
	m->n = m->cap = 0;
}

static struct ft_pktgen_scenario *
scenario(const char *text)
{
	char err[512] = "";
	struct ft_pktgen_scenario *sc = ft_pktgen_scenario_new();
	assert_non_null(sc);
	int rc = ft_pktgen_scenario_parse(sc, text, "test", err, sizeof(err));
	if (rc)
		fail_msg("scenario: %s", err);
	rc = ft_pktgen_scenario_validate(sc, err, sizeof(err));
	if (rc)
		fail_msg("validate: %s", err);
	return sc;
}

static void
run_mem(const struct ft_pktgen_scenario *sc, struct mem_sink *m, struct ft_pktgen_stats *st,
	FILE *truth)
{
	char err[512] = "";
	struct ft_pktgen_sink sink = {.reserve = mem_reserve, .commit = mem_commit, .ctx = m};
	struct ft_pktgen_run_opts ro = {.truth = truth, .truth_format = FT_PKTGEN_TRUTH_LINES};
	int rc = ft_pktgen_run(sc, &sink, &ro, st, err, sizeof(err));
	if (rc)
		fail_msg("run: %s (%d)", err, rc);
}

/* ---- checksums --------------------------------------------------------------- */

static void
test_csum_rfc1071_example(void **state)
{
	(void)state;
	/* RFC 1071 section 3: these bytes sum to ddf2 (one's complement), so the
	 * checksum is ~ddf2 = 220d. */
	const uint8_t b[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	assert_int_equal(ft_pktgen_csum(b, sizeof(b)), 0x220d);
	/* The IPv4 header from RFC 791-era examples (Wikipedia "IPv4 header
	 * checksum"): 4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7 -> b861 */
	uint8_t ip[20];
	unhex("450000730000400040110000c0a80001c0a800c7", ip, sizeof(ip));
	assert_int_equal(ft_pktgen_csum(ip, 20), 0xb861);
	ip[10] = 0xb8;
	ip[11] = 0x61;
	assert_int_equal(ft_pktgen_csum(ip, 20), 0); /* a correct header sums to zero */
}

static void
test_csum_matches_reference(void **state)
{
	(void)state;
	struct ft_pktgen_rng r;
	ft_pktgen_rng_seed(&r, 42, 0);
	uint8_t buf[1601];
	for (size_t len = 0; len <= 1600; len += (len < 80 ? 1 : 37)) {
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)ft_pktgen_rng_next(&r);
		assert_int_equal(ft_pktgen_csum(buf, len), ref_csum(buf, len));
		/* chained at an even offset gives the same */
		size_t cut = (len / 3) & ~(size_t)1;
		uint64_t s = ft_pktgen_csum_partial(buf, cut, 0);
		s = ft_pktgen_csum_partial(buf + cut, len - cut, s);
		assert_int_equal(ft_pktgen_csum_finish(s), ref_csum(buf, len));
	}
	/* all-ones data: carries everywhere */
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(ft_pktgen_csum(buf, 1600), ref_csum(buf, 1600));
}

static void
test_crc32c_vectors(void **state)
{
	(void)state;
	uint8_t b[32];
	assert_int_equal(ft_pktgen_crc32c(0, "123456789", 9), 0xe3069283);
	/* RFC 3720 appendix B.4 */
	memset(b, 0, 32);
	assert_int_equal(ft_pktgen_crc32c(0, b, 32), 0x8a9136aa);
	memset(b, 0xff, 32);
	assert_int_equal(ft_pktgen_crc32c(0, b, 32), 0x62a8ab43);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	assert_int_equal(ft_pktgen_crc32c(0, b, 32), 0x46dd794e);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(31 - i);
	assert_int_equal(ft_pktgen_crc32c(0, b, 32), 0x113fdb5c);
	/* chaining: crc(a) then b == crc(a||b) */
	uint32_t c = ft_pktgen_crc32c(0, "12345", 5);
	assert_int_equal(ft_pktgen_crc32c(c, "6789", 4), 0xe3069283);
	/* odd lengths against the bitwise reference */
	uint8_t big[301];
	for (int i = 0; i < 301; i++)
		big[i] = (uint8_t)(i * 7 + 3);
	for (size_t n = 0; n <= 301; n += 13)
		assert_int_equal(ft_pktgen_crc32c(0, big, n), ref_crc32c(big, n));
}

/* ---- header builder against captured frames ---------------------------------------- */

/* td_dns_udp.pcap (tcpdump tests), frame 1: a DNS query over IPv4/UDP. */
static const char dns_frame[] =
	"00112233446600112233445508004500005459cd0000401194aec0a8010bd157f912abbe003500407824"
	"593401200001000000000001037777770774637064756d70036f72670000010001000029100000000000"
	"000c000a000842f5d00996f90b13";

static void
test_build_udp_known(void **state)
{
	(void)state;
	uint8_t want[128], got[256];
	size_t n = unhex(dns_frame, want, sizeof(want));
	assert_int_equal(n, 98);
	struct ft_pktgen_hdr h = {0};
	memcpy(h.dst_mac, want, 6);
	memcpy(h.src_mac, want + 6, 6);
	h.ip_version = 4;
	h.proto = 17;
	h.ttl = 64;
	h.ip_id = 0x59cd;
	unhex("c0a8010b", h.src_ip, 4);
	unhex("d157f912", h.dst_ip, 4);
	h.src_port = 0xabbe;
	h.dst_port = 53;
	uint32_t hl = ft_pktgen_hdr_len(&h);
	assert_int_equal(hl, 42);
	memcpy(got + hl, want + 42, n - 42);
	struct ft_pktgen_offsets off;
	assert_int_equal(ft_pktgen_build(got, &h, (uint32_t)(n - 42), &off), n);
	assert_memory_equal(got, want, n); /* including IP 94ae and UDP 7824 checksums */
	assert_int_equal(off.l3, 14);
	assert_int_equal(off.l4, 34);
	assert_int_equal(off.payload, 42);
}

/* sv_community-id-ipv6.pcap (suricata-verify), frame 5: IPv6 TCP ACK with
 * timestamps, as received (tshark: checksum 0xa6e0 correct). Frames a host
 * captured while sending carry offloaded, wrong checksums: not those. */
static const char tcp6_frame[] =
	"02ad65e652c102aefcf9f92086dd600bc9e7002006282001486048600000000000000000888826001f13"
	"00f8d40003a6303ce01118eb01bb8464d0299d6e8b5648f880100105a6e000000101080a7fdf5bcee083"
	"ca6a";

static void
test_build_tcp6_known(void **state)
{
	(void)state;
	uint8_t want[128], got[256], opts[12];
	size_t n = unhex(tcp6_frame, want, sizeof(want));
	assert_int_equal(n, 86);
	struct ft_pktgen_hdr h = {0};
	memcpy(h.dst_mac, want, 6);
	memcpy(h.src_mac, want + 6, 6);
	h.ip_version = 6;
	h.proto = 6;
	h.ttl = 40;
	h.flow_label = 0xbc9e7;
	memcpy(h.src_ip, want + 22, 16);
	memcpy(h.dst_ip, want + 38, 16);
	h.src_port = 443;
	h.dst_port = 33892;
	h.tcp_seq = 0xd0299d6e;
	h.tcp_ack = 0x8b5648f8;
	h.tcp_flags = 0x10;
	h.tcp_window = 261;
	unhex("0101080a7fdf5bcee083ca6a", opts, sizeof(opts));
	h.tcp_opts = opts;
	h.tcp_opts_len = 12;
	assert_int_equal(ft_pktgen_build(got, &h, 0, NULL), 86);
	assert_memory_equal(got, want, 86); /* TCP checksum a6e0 over the IPv6 pseudo-header */
}

/* sv_eve-flow-vlan.pcap (suricata-verify), frames 1 and 2: ICMP echo in one
 * and in two 802.1Q tags. */
static void
test_build_icmp_vlan_known(void **state)
{
	(void)state;
	uint8_t want[64], got[128];
	struct ft_pktgen_hdr h = {0};
	memset(h.dst_mac, 0xff, 6);
	unhex("000102030405", h.src_mac, 6);
	h.vlan_count = 1;
	h.vlan_tpid[0] = 0x8100;
	h.vlan_tci[0] = 6;
	h.ip_version = 4;
	h.proto = 1;
	h.ttl = 64;
	h.ip_id = 1;
	unhex("c0a80001", h.src_ip, 4);
	unhex("ffffffff", h.dst_ip, 4);
	h.icmp_type = 8;
	size_t n =
		unhex("ffffffffffff0001020304058100000608004500001c000100004001ba37c0a80001ffffffff"
		      "0800f7ff00000000",
		      want, sizeof(want));
	assert_int_equal(ft_pktgen_build(got, &h, 0, NULL), n);
	assert_memory_equal(got, want, n);
	h.vlan_count = 2;
	h.vlan_tpid[1] = 0x8100;
	h.vlan_tci[0] = 1;
	h.vlan_tci[1] = 10;
	n = unhex("ffffffffffff000102030405810000018100000a08004500001c000100004001ba37c0a80001"
		  "ffffffff0800f7ff00000000",
		  want, sizeof(want));
	assert_int_equal(ft_pktgen_build(got, &h, 0, NULL), n);
	assert_memory_equal(got, want, n);
}

/* sv_ipv6-malformed-frag-15.pcap (suricata-verify), frame 1: ICMPv6 echo request. */
static void
test_build_icmpv6_known(void **state)
{
	(void)state;
	uint8_t want[128], got[128];
	size_t n = unhex("64006a5b8f4a0023559c732686dd6000000000123aff20010db800010000000000000000"
			 "000220010db800010000000000000000000180002868facebabe41414141414141414141",
			 want, sizeof(want));
	assert_int_equal(n, 72);
	struct ft_pktgen_hdr h = {0};
	memcpy(h.dst_mac, want, 6);
	memcpy(h.src_mac, want + 6, 6);
	h.ip_version = 6;
	h.proto = 58;
	h.ttl = 255;
	memcpy(h.src_ip, want + 22, 16);
	memcpy(h.dst_ip, want + 38, 16);
	h.icmp_type = 128;
	h.src_port = 0xface; /* identifier */
	h.icmp_seq = 0xbabe;
	memcpy(got + 62, want + 62, 10);
	assert_int_equal(ft_pktgen_build(got, &h, 10, NULL), 72);
	assert_memory_equal(got, want, 72);
}

static void
test_build_sctp_crc(void **state)
{
	(void)state;
	uint8_t f[256];
	struct ft_pktgen_hdr h = {0};
	h.ip_version = 4;
	h.proto = 132;
	h.ttl = 64;
	unhex("0a000001", h.src_ip, 4);
	unhex("0a000002", h.dst_ip, 4);
	h.src_port = 1234;
	h.dst_port = 2905;
	h.sctp_vtag = 0xdeadbeef;
	uint32_t hl = ft_pktgen_hdr_len(&h);
	assert_int_equal(hl, 14 + 20 + 12);
	/* a COOKIE-ACK chunk */
	uint8_t chunk[4] = {11, 0, 0, 4};
	memcpy(f + hl, chunk, 4);
	struct ft_pktgen_offsets off;
	uint32_t len = ft_pktgen_build(f, &h, 4, &off);
	assert_int_equal(len, hl + 4);
	assert_int_equal(get32(f + off.l4 + 4), 0xdeadbeef);
	uint8_t copy[16];
	memcpy(copy, f + off.l4, 16);
	memset(copy + 8, 0, 4);
	uint32_t want = ref_crc32c(copy, 16);
	/* stored least significant byte first */
	assert_int_equal(f[off.l4 + 8], want & 0xff);
	assert_int_equal(f[off.l4 + 9], (want >> 8) & 0xff);
	assert_int_equal(f[off.l4 + 10], (want >> 16) & 0xff);
	assert_int_equal(f[off.l4 + 11], want >> 24);
	/* and the IPv4 header is right too */
	assert_int_equal(ft_pktgen_csum(f + 14, 20), 0);
	assert_int_equal(get16(f + 16), 20 + 12 + 4);
}

static void
test_build_qinq_tcp_pseudo_header(void **state)
{
	(void)state;
	/* TCP over IPv4 with QinQ: checksums verified with the naive reference over a
	 * pseudo-header assembled here. */
	uint8_t f[256];
	struct ft_pktgen_hdr h = {0};
	h.vlan_count = 2;
	h.vlan_tpid[0] = 0x88a8;
	h.vlan_tpid[1] = 0x8100;
	h.vlan_tci[0] = 100;
	h.vlan_tci[1] = 200;
	h.ip_version = 4;
	h.proto = 6;
	h.ttl = 64;
	h.ip_df = 1;
	h.ip_id = 77;
	unhex("0a010203", h.src_ip, 4);
	unhex("c0a80a01", h.dst_ip, 4);
	h.src_port = 40000;
	h.dst_port = 80;
	h.tcp_seq = 0xfffffff0;
	h.tcp_ack = 12345;
	h.tcp_flags = 0x18;
	h.tcp_window = 65535;
	uint32_t hl = ft_pktgen_hdr_len(&h);
	assert_int_equal(hl, 14 + 8 + 20 + 20);
	memcpy(f + hl, "hello, world!", 13); /* odd payload length */
	uint32_t len = ft_pktgen_build(f, &h, 13, NULL);
	assert_int_equal(len, hl + 13);
	assert_int_equal(get16(f + 12), 0x88a8);
	assert_int_equal(get16(f + 14), 100);
	assert_int_equal(get16(f + 16), 0x8100);
	assert_int_equal(get16(f + 18), 200);
	assert_int_equal(get16(f + 20), 0x0800);
	const uint8_t *ip = f + 22, *tcp = f + 42;
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(get16(ip + 2), 20 + 20 + 13);
	assert_int_equal(get16(ip + 6), 0x4000);
	assert_int_equal(ref_csum(ip, 20), 0);
	uint8_t ph[12 + 33];
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = 6;
	ph[10] = 0;
	ph[11] = 33;
	memcpy(ph + 12, tcp, 33);
	assert_int_equal(ref_csum(ph, sizeof(ph)), 0);
	assert_int_equal(get32(tcp + 4), 0xfffffff0);
	assert_int_equal(tcp[12] >> 4, 5);
}

/*
 * Tunnels: the frame is the outer headers, then the plain frame (Ethernet
 * carrying tunnels) or its IP packet (IP carrying ones), byte for byte; outer
 * lengths and checksums hold; the reverse direction swaps the outer addresses
 * and keeps the UDP source port.
 */
static void
test_build_encap(void **state)
{
	(void)state;
	static const struct {
		enum ft_pktgen_encap e;
		uint32_t outer; /* bytes before the inner frame's kept part */
		uint8_t proto;	/* outer IP protocol */
		uint16_t dport; /* UDP */
		int eth;	/* carries the Ethernet frame */
	} cases[] = {
		{FT_PKTGEN_ENCAP_VXLAN, 50, 17, 4789, 1}, {FT_PKTGEN_ENCAP_GENEVE, 50, 17, 6081, 1},
		{FT_PKTGEN_ENCAP_GRE, 42, 47, 0, 0},	  {FT_PKTGEN_ENCAP_IPIP, 34, 4, 0, 0},
		{FT_PKTGEN_ENCAP_GTP, 50, 17, 2152, 0},
	};
	static const uint8_t a[4] = {192, 0, 2, 1}, b[4] = {192, 0, 2, 2};
	uint8_t plain[512], got[600];
	struct ft_pktgen_hdr h = {0};
	struct ft_pktgen_offsets po, off;

	h.ip_version = 4;
	h.proto = 6;
	h.ttl = 64;
	unhex("0a000001", h.src_ip, 4);
	unhex("0a000002", h.dst_ip, 4);
	h.src_port = 40000;
	h.dst_port = 80;
	h.tcp_flags = 0x18;
	uint32_t hl = ft_pktgen_hdr_len(&h), pay = 100;
	memset(plain + hl, 'x', pay);
	uint32_t n = ft_pktgen_build(plain, &h, pay, &po);
	assert_int_equal(n, hl + pay);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t skip = cases[i].eth ? 0 : 14; /* the inner Ethernet header */
		uint16_t sport[2] = {0, 0};

		for (int rev = 0; rev < 2; rev++) {
			h.encap = (uint8_t)cases[i].e;
			h.encap_rev = (uint8_t)rev;
			assert_int_equal(ft_pktgen_hdr_len(&h), hl + cases[i].outer - skip);
			assert_int_equal(ft_pktgen_encap_overhead(cases[i].e),
					 cases[i].outer - skip);
			memset(got + ft_pktgen_hdr_len(&h), 'x', pay);
			uint32_t m = ft_pktgen_build(got, &h, pay, &off);
			assert_int_equal(m, n + cases[i].outer - skip);
			/* The inner part is the plain frame's. */
			assert_memory_equal(got + cases[i].outer, plain + skip, n - skip);
			assert_int_equal(off.l3, po.l3 + cases[i].outer - skip);
			assert_int_equal(off.payload, po.payload + cases[i].outer - skip);
			/* Outer IPv4: length, protocol, addresses, checksum. */
			const uint8_t *ip = got + 14;
			assert_int_equal(get16(got + 12), 0x0800);
			assert_int_equal(ip[0], 0x45);
			assert_int_equal(get16(ip + 2), m - 14);
			assert_int_equal(ip[9], cases[i].proto);
			assert_memory_equal(ip + 12, rev ? b : a, 4);
			assert_memory_equal(ip + 16, rev ? a : b, 4);
			assert_int_equal(ref_csum(ip, 20), 0);
			const uint8_t *t = got + 34;
			if (cases[i].proto == 17) {
				uint8_t pseudo[600];
				uint32_t ul = m - 34;
				assert_int_equal(get16(t + 2), cases[i].dport);
				assert_int_equal(get16(t + 4), ul);
				sport[rev] = get16(t);
				/* UDP checksum over the pseudo-header and the datagram. */
				memcpy(pseudo, ip + 12, 8);
				pseudo[8] = 0;
				pseudo[9] = 17;
				pseudo[10] = (uint8_t)(ul >> 8);
				pseudo[11] = (uint8_t)ul;
				memcpy(pseudo + 12, t, ul);
				assert_int_equal(ref_csum(pseudo, 12 + ul), 0);
			}
			if (cases[i].e == FT_PKTGEN_ENCAP_VXLAN) {
				assert_int_equal(t[8], 0x08);
				assert_int_equal(get32(t + 12) >> 8, 4242);
			} else if (cases[i].e == FT_PKTGEN_ENCAP_GENEVE) {
				assert_int_equal(t[8], 0);
				assert_int_equal(get16(t + 10), 0x6558);
				assert_int_equal(get32(t + 12) >> 8, 4242);
			} else if (cases[i].e == FT_PKTGEN_ENCAP_GTP) {
				assert_int_equal(t[8], 0x30);
				assert_int_equal(t[9], 0xff);
				assert_int_equal(get16(t + 10), n - 14);
				assert_int_equal(get32(t + 12), rev ? 0x2000 : 0x1000);
			} else if (cases[i].e == FT_PKTGEN_ENCAP_GRE) {
				assert_int_equal(get16(t), 0x2000);
				assert_int_equal(get16(t + 2), 0x0800);
				assert_int_equal(get32(t + 4), 7);
			}
		}
		if (cases[i].proto == 17)
			assert_int_equal(sport[0], sport[1]); /* one hash of the inner flow */
	}
	/* An IP-carrying tunnel takes no VLAN tag. */
	h.encap = FT_PKTGEN_ENCAP_GRE;
	h.vlan_count = 1;
	h.vlan_tpid[0] = 0x8100;
	assert_int_equal(ft_pktgen_build(got, &h, pay, NULL), 0);
	h.encap = FT_PKTGEN_ENCAP_VXLAN;
	assert_int_not_equal(ft_pktgen_build(got, &h, pay, NULL), 0);
}

static void
test_build_rejects(void **state)
{
	(void)state;
	uint8_t f[64];
	struct ft_pktgen_hdr h = {0};
	h.ip_version = 5;
	h.proto = 17;
	assert_int_equal(ft_pktgen_build(f, &h, 0, NULL), 0);
	h.ip_version = 4;
	h.ip_opts_len = 3; /* not a multiple of 4 */
	assert_int_equal(ft_pktgen_build(f, &h, 0, NULL), 0);
	h.ip_opts_len = 0;
	h.vlan_count = 3;
	assert_int_equal(ft_pktgen_build(f, &h, 0, NULL), 0);
	h.vlan_count = 0;
	assert_int_equal(ft_pktgen_build(f, &h, FT_PKTGEN_MAX_FRAME, NULL), 0); /* too long */
}

/* ---- malformations ------------------------------------------------------------- */

static uint32_t
base_frame(uint8_t *f, struct ft_pktgen_hdr *h, int ipv, uint8_t proto)
{
	memset(h, 0, sizeof(*h));
	h->ip_version = (uint8_t)ipv;
	h->proto = proto;
	h->ttl = 64;
	h->src_ip[0] = 10;
	h->src_ip[15] = 1;
	h->dst_ip[0] = 10;
	h->dst_ip[15] = 2;
	if (ipv == 4) {
		h->src_ip[3] = 1;
		h->dst_ip[3] = 2;
	}
	h->src_port = 1000;
	h->dst_port = 2000;
	h->tcp_flags = 0x10;
	uint32_t hl = ft_pktgen_hdr_len(h);
	memset(f + hl, 'x', 20);
	return ft_pktgen_build(f, h, 20, NULL);
}

static void
test_malform(void **state)
{
	(void)state;
	uint8_t f[256];
	struct ft_pktgen_hdr h;
	uint32_t len, ml;

	/* IHL 4, header checksum right over the 16 bytes claimed */
	len = base_frame(f, &h, 4, 6);
	ml = ft_pktgen_malform(f, len, &h, FT_PKTGEN_MAL_IPV4_BAD_IHL);
	assert_int_equal(ml, len);
	assert_int_equal(f[14], 0x44);
	assert_int_equal(ref_csum(f + 14, 16), 0);

	/* total length 16 < 20 with a valid header checksum */
	len = base_frame(f, &h, 4, 17);
	ml = ft_pktgen_malform(f, len, &h, FT_PKTGEN_MAL_IPV4_BAD_LENGTH);
	assert_int_equal(get16(f + 16), 16);
	assert_int_equal(ref_csum(f + 14, 20), 0);

	/* truncations end inside the header they name */
	len = base_frame(f, &h, 4, 6);
	assert_true(ft_pktgen_malform(f, len, &h, FT_PKTGEN_MAL_IPV4_TRUNCATED) < 14 + 20);
	assert_true(ft_pktgen_malform(f, len, &h, FT_PKTGEN_MAL_L2_TRUNCATED) < 14);
	len = base_frame(f, &h, 6, 6);
	assert_true(ft_pktgen_malform(f, len, &h, FT_PKTGEN_MAL_IPV6_TRUNCATED) < 14 + 40);

	/* L4 cut to 4 bytes, the IP length agreeing (so it is not a snaplen cut) */
	len = base_frame(f, &h, 4, 6);
	ml = ft_pktgen_malform(f, len, &h, FT_PKTGEN_MAL_L4_TRUNCATED);
	assert_int_equal(ml, 14 + 20 + 4);
	assert_int_equal(get16(f + 16), 24);
	assert_int_equal(ref_csum(f + 14, 20), 0);

	/* TCP data offset 4, TCP checksum still valid */
	len = base_frame(f, &h, 4, 6);
	ml = ft_pktgen_malform(f, len, &h, FT_PKTGEN_MAL_TCP_BAD_OFFSET);
	assert_int_equal(f[34 + 12] >> 4, 4);
	uint8_t ph[12 + 64];
	memcpy(ph, f + 26, 8);
	ph[8] = 0;
	ph[9] = 6;
	ph[10] = 0;
	ph[11] = (uint8_t)(ml - 34);
	memcpy(ph + 12, f + 34, ml - 34);
	assert_int_equal(ref_csum(ph, 12 + ml - 34), 0);

	/* zero-length TCP option: 4 bytes longer, option length byte 0, valid sums */
	len = base_frame(f, &h, 4, 6);
	ml = ft_pktgen_malform(f, len, &h, FT_PKTGEN_MAL_TCP_OPT_ZERO_LEN);
	assert_int_equal(ml, len + 4);
	assert_int_equal(f[34 + 12] >> 4, 6);
	assert_int_equal(f[34 + 20], 8);
	assert_int_equal(f[34 + 21], 0);
	assert_memory_equal(f + 34 + 24, "xxxxxxxxxxxxxxxxxxxx", 20);
	assert_int_equal(ref_csum(f + 14, 20), 0);

	/* zero-length IPv4 option: IHL 6 */
	len = base_frame(f, &h, 4, 17);
	ml = ft_pktgen_malform(f, len, &h, FT_PKTGEN_MAL_IPV4_OPT_ZERO_LEN);
	assert_int_equal(ml, len + 4);
	assert_int_equal(f[14], 0x46);
	assert_int_equal(f[14 + 21], 0);
	assert_int_equal(ref_csum(f + 14, 24), 0);

	/* UDP length beyond the datagram */
	len = base_frame(f, &h, 4, 17);
	ml = ft_pktgen_malform(f, len, &h, FT_PKTGEN_MAL_UDP_BAD_LENGTH);
	assert_true(get16(f + 34 + 4) > ml - 34);

	/* version nibble disagrees with the ethertype */
	len = base_frame(f, &h, 6, 17);
	ft_pktgen_malform(f, len, &h, FT_PKTGEN_MAL_IP_BAD_VERSION);
	assert_int_equal(get16(f + 12), 0x86dd);
	assert_int_equal(f[14] >> 4, 4);

	/* kinds that do not apply are refused */
	len = base_frame(f, &h, 6, 17);
	assert_int_equal(ft_pktgen_malform(f, len, &h, FT_PKTGEN_MAL_IPV4_BAD_IHL), 0);
	assert_int_equal(ft_pktgen_malform(f, len, &h, FT_PKTGEN_MAL_TCP_BAD_OFFSET), 0);

	/* names are flowtap's discard names where it discards */
	assert_string_equal(ft_pktgen_malformed_names[FT_PKTGEN_MAL_IPV4_BAD_IHL], "ipv4_bad_ihl");
	assert_int_equal(ft_pktgen_malformed_lookup("l4_truncated"), FT_PKTGEN_MAL_L4_TRUNCATED);
	assert_int_equal(ft_pktgen_malformed_lookup("nonsense"), -1);
	assert_false(ft_pktgen_malformed_counted(FT_PKTGEN_MAL_IPV4_BAD_IHL));
	assert_true(ft_pktgen_malformed_counted(FT_PKTGEN_MAL_TCP_OPT_ZERO_LEN));
}

/* ---- random numbers and distributions -------------------------------------------- */

static void
test_rng_determinism(void **state)
{
	(void)state;
	struct ft_pktgen_rng a, b, c;
	ft_pktgen_rng_seed(&a, 7, 3);
	ft_pktgen_rng_seed(&b, 7, 3);
	ft_pktgen_rng_seed(&c, 7, 4);
	int differ = 0;
	for (int i = 0; i < 1000; i++) {
		uint64_t x = ft_pktgen_rng_next(&a);
		assert_int_equal(x, ft_pktgen_rng_next(&b));
		differ += x != ft_pktgen_rng_next(&c);
	}
	assert_true(differ > 990);
	for (int i = 0; i < 10000; i++) {
		assert_true(ft_pktgen_rng_below(&a, 7) < 7);
		double d = ft_pktgen_rng_double(&a);
		assert_true(d >= 0 && d < 1);
	}
}

static void
test_imix_distribution(void **state)
{
	(void)state;
	struct ft_pktgen_dist d;
	char err[256];
	assert_int_equal(ft_pktgen_dist_parse(&d, "imix", FT_PKTGEN_UNIT_COUNT, err, sizeof(err)),
			 0);
	struct ft_pktgen_rng r;
	ft_pktgen_rng_seed(&r, 1, 1);
	const int n = 120000;
	int c60 = 0, c590 = 0, c1514 = 0;
	for (int i = 0; i < n; i++) {
		uint64_t v = ft_pktgen_dist_draw(&d, &r);
		if (v == 60)
			c60++;
		else if (v == 590)
			c590++;
		else if (v == 1514)
			c1514++;
		else
			fail_msg("imix drew %llu", (unsigned long long)v);
	}
	/* 7:4:1 within 1% of the total (about 6 standard deviations) */
	assert_in_range(c60, n * 7 / 12 - n / 100, n * 7 / 12 + n / 100);
	assert_in_range(c590, n * 4 / 12 - n / 100, n * 4 / 12 + n / 100);
	assert_in_range(c1514, n / 12 - n / 100, n / 12 + n / 100);
	double mean = ft_pktgen_dist_mean(&d);
	assert_true(mean > 357.8 && mean < 357.9); /* (7*60+4*590+1514)/12 = 357.83 */
	assert_int_equal(ft_pktgen_dist_max(&d), 1514);
}

static void
test_distributions(void **state)
{
	(void)state;
	struct ft_pktgen_dist d;
	struct ft_pktgen_rng r;
	char err[256];
	ft_pktgen_rng_seed(&r, 5, 5);

	assert_int_equal(ft_pktgen_dist_parse(&d, "64-1500", FT_PKTGEN_UNIT_COUNT, err, 256), 0);
	int lo = 0, hi = 0;
	for (int i = 0; i < 20000; i++) {
		uint64_t v = ft_pktgen_dist_draw(&d, &r);
		assert_in_range(v, 64, 1500);
		lo += v == 64;
		hi += v == 1500;
	}
	assert_true(lo > 0 && hi > 0); /* both ends reachable */

	assert_int_equal(ft_pktgen_dist_parse(&d, "64:1, 1500:3", FT_PKTGEN_UNIT_COUNT, err, 256),
			 0);
	int big = 0;
	for (int i = 0; i < 40000; i++)
		big += ft_pktgen_dist_draw(&d, &r) == 1500;
	assert_in_range(big, 29000, 31000);

	assert_int_equal(ft_pktgen_dist_parse(&d, "exp(100)", FT_PKTGEN_UNIT_COUNT, err, 256), 0);
	double sum = 0;
	for (int i = 0; i < 100000; i++)
		sum += (double)ft_pktgen_dist_draw(&d, &r);
	assert_true(sum / 100000 > 98 && sum / 100000 < 102);

	assert_int_equal(
		ft_pktgen_dist_parse(&d, "pareto(1.5, 10, 1000)", FT_PKTGEN_UNIT_COUNT, err, 256),
		0);
	int at_max = 0;
	for (int i = 0; i < 100000; i++) {
		uint64_t v = ft_pktgen_dist_draw(&d, &r);
		assert_in_range(v, 10, 1000);
		at_max += v == 1000;
	}
	/* P(X > 1000) = (10/1000)^1.5 = 0.001 */
	assert_in_range(at_max, 50, 170);

	assert_int_equal(ft_pktgen_dist_parse(&d, "2ms-20ms", FT_PKTGEN_UNIT_TIME, err, 256), 0);
	assert_int_equal(d.a, 2000000);
	assert_int_equal(d.b, 20000000);
	assert_int_equal(ft_pktgen_dist_parse(&d, "1.5k", FT_PKTGEN_UNIT_COUNT, err, 256), 0);
	assert_int_equal(d.a, 1500);

	assert_int_not_equal(ft_pktgen_dist_parse(&d, "10-5", FT_PKTGEN_UNIT_COUNT, err, 256), 0);
	assert_int_not_equal(ft_pktgen_dist_parse(&d, "abc", FT_PKTGEN_UNIT_COUNT, err, 256), 0);
	assert_int_not_equal(ft_pktgen_dist_parse(&d, "exp()", FT_PKTGEN_UNIT_COUNT, err, 256), 0);
	assert_int_not_equal(ft_pktgen_dist_parse(&d, "1.5", FT_PKTGEN_UNIT_COUNT, err, 256), 0);

	uint64_t ns;
	assert_int_equal(ft_pktgen_parse_time("250us", &ns), 0);
	assert_int_equal(ns, 250000);
	assert_int_equal(ft_pktgen_parse_time("1.5", &ns), 0);
	assert_int_equal(ns, 1500000000);
	assert_int_not_equal(ft_pktgen_parse_time("5 parsecs", &ns), 0);

	enum ft_pktgen_rate_kind k;
	double rate;
	assert_int_equal(ft_pktgen_parse_rate("1.5Mpps", &k, &rate), 0);
	assert_int_equal(k, FT_PKTGEN_RATE_PPS);
	assert_true(rate == 1.5e6);
	assert_int_equal(ft_pktgen_parse_rate("10Gbps", &k, &rate), 0);
	assert_int_equal(k, FT_PKTGEN_RATE_BPS);
	assert_int_not_equal(ft_pktgen_parse_rate("fast", &k, &rate), 0);
}

/* ---- regex generator ------------------------------------------------------------ */

static void
test_regex_generates_matches(void **state)
{
	(void)state;
	/* Each generator regex and a POSIX ERE for the same language. */
	static const char *const cases[][2] = {
		{"/GET \\/admin/", "GET /admin"},
		{"/User-Agent: [a-z]{5,10}\\/[0-9]\\.[0-9]/i",
		 "User-Agent: [a-z]{5,10}/[0-9]\\.[0-9]"},
		{"(foo|bar)+baz?", "(foo|bar)+baz?"},
		{"/a.c[^0-9x]{2}/", "a.c[^0-9x]{2}"},
		{"\\d{3}-\\w+\\s\\x41", "[0-9]{3}-[A-Za-z0-9_]+[[:space:]]A"},
		{"^(?:ab|cd){2,}$", "(ab|cd){2,}"},
		{"x*y+z?", "x*y+z?"},
		{"[-a-c]{4}", "[-a-c]{4}"},
	};
	struct ft_pktgen_rng r;
	ft_pktgen_rng_seed(&r, 9, 9);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "", pat[256];
		struct ft_pktgen_regex *re = ft_pktgen_regex_compile(cases[i][0], err, sizeof(err));
		if (!re)
			fail_msg("%s: %s", cases[i][0], err);
		regex_t px;
		snprintf(pat, sizeof(pat), "^(%s)$", cases[i][1]);
		int flags = REG_EXTENDED | REG_NOSUB;
		if (strstr(cases[i][0], "/i"))
			flags |= REG_ICASE;
		assert_int_equal(regcomp(&px, pat, flags), 0);
		for (int k = 0; k < 300; k++) {
			uint8_t out[512];
			uint32_t n = ft_pktgen_regex_generate(re, &r, out, sizeof(out) - 1);
			assert_in_range(n, ft_pktgen_regex_min_len(re),
					ft_pktgen_regex_max_len(re));
			out[n] = 0;
			assert_int_equal(strlen((char *)out), n); /* no NUL in these */
			if (regexec(&px, (char *)out, 0, NULL, 0))
				fail_msg("'%s' generated '%s', which does not match %s",
					 cases[i][0], out, pat);
		}
		regfree(&px);
		ft_pktgen_regex_free(re);
	}
}

static void
test_regex_errors(void **state)
{
	(void)state;
	char err[256];
	static const char *const bad[] = {"(abc",     "abc)",	"[abc", "a{3,1}", "\\bword",
					  "(?=look)", "/abc/q", "a**",	""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		struct ft_pktgen_regex *re = ft_pktgen_regex_compile(bad[i], err, sizeof(err));
		if (re) {
			ft_pktgen_regex_free(re);
			fail_msg("'%s' should be rejected", bad[i]);
		}
		assert_true(err[0] != 0);
	}
}

/* ---- segmenter -------------------------------------------------------------------- */

struct sz {
	struct ft_pktgen_rng r;
	uint32_t fixed;
	uint32_t max;
};

static uint32_t
size_cb(void *ctx)
{
	struct sz *s = ctx;
	return s->fixed ? s->fixed : 1 + (uint32_t)ft_pktgen_rng_below(&s->r, s->max);
}

/* Segments covering [off, off+len) and their boundaries inside it. */
static void
check_span(const struct ft_pktgen_seg *segs, long n, const struct ft_pktgen_span *sp)
{
	long covering = 0;
	for (long i = 0; i < n; i++) {
		/* contiguous from 0 */
		if (i)
			assert_int_equal(segs[i].off, segs[i - 1].off + segs[i - 1].len);
		else
			assert_int_equal(segs[0].off, 0);
		assert_true(segs[i].len > 0);
		uint64_t a = segs[i].off, b = a + segs[i].len;
		if (b > sp->off && a < sp->off + sp->len) {
			covering++;
			/* an interior start must be a cut at off + k*len/split */
			if (a > sp->off) {
				int ok = 0;
				for (uint32_t k = 1; k < sp->split; k++)
					ok |= a == sp->off + (uint64_t)k * sp->len / sp->split;
				assert_true(ok);
			}
		}
	}
	assert_int_equal(covering, sp->split);
}

static void
test_segment_split_2_and_3(void **state)
{
	(void)state;
	/* A 12-byte pattern at 100 in 2 pieces: cut at 106; in 3 pieces: 104, 108. */
	struct ft_pktgen_span sp2 = {.off = 100, .len = 12, .split = 2};
	struct ft_pktgen_span sp3 = {.off = 100, .len = 12, .split = 3};
	struct sz s = {.fixed = 40};
	struct ft_pktgen_seg *segs;
	long n = ft_pktgen_segment(&sp2, 1, size_cb, &s, 5, 1460, &segs);
	assert_true(n >= 5);
	check_span(segs, n, &sp2);
	int found = 0;
	for (long i = 0; i < n; i++)
		found |= segs[i].off == 106;
	assert_true(found);
	free(segs);
	n = ft_pktgen_segment(&sp3, 1, size_cb, &s, 5, 1460, &segs);
	check_span(segs, n, &sp3);
	int c104 = 0, c108 = 0;
	for (long i = 0; i < n; i++) {
		c104 |= segs[i].off == 104;
		c108 |= segs[i].off == 108;
	}
	assert_true(c104 && c108);
	free(segs);

	/* Property: random sizes, offsets and splits, two spans per stream. */
	ft_pktgen_rng_seed(&s.r, 3, 3);
	s.fixed = 0;
	for (int trial = 0; trial < 2000; trial++) {
		s.max = 1 + (uint32_t)ft_pktgen_rng_below(&s.r, 300);
		struct ft_pktgen_span sp[2];
		sp[0].len = 3 + (uint32_t)ft_pktgen_rng_below(&s.r, 60);
		sp[0].split = 1 + (uint32_t)ft_pktgen_rng_below(&s.r, 3);
		sp[0].off = ft_pktgen_rng_below(&s.r, 500);
		sp[1].len = 3 + (uint32_t)ft_pktgen_rng_below(&s.r, 60);
		sp[1].split = 1 + (uint32_t)ft_pktgen_rng_below(&s.r, 3);
		sp[1].off = sp[0].off + sp[0].len + ft_pktgen_rng_below(&s.r, 100);
		uint64_t min = ft_pktgen_rng_below(&s.r, 20);
		n = ft_pktgen_segment(sp, 2, size_cb, &s, min, 1460, &segs);
		assert_true(n >= (long)min);
		check_span(segs, n, &sp[0]);
		check_span(segs, n, &sp[1]);
		/* the stream holds both spans */
		assert_true(segs[n - 1].off + segs[n - 1].len >= sp[1].off + sp[1].len);
		free(segs);
	}
}

static void
test_segment_errors(void **state)
{
	(void)state;
	struct sz s = {.fixed = 10};
	struct ft_pktgen_seg *segs;
	struct ft_pktgen_span bad_split = {.off = 0, .len = 2, .split = 3};
	assert_int_equal(ft_pktgen_segment(&bad_split, 1, size_cb, &s, 1, 100, &segs), -EINVAL);
	struct ft_pktgen_span overlap[2] = {{.off = 0, .len = 10, .split = 1},
					    {.off = 5, .len = 10, .split = 1}};
	assert_int_equal(ft_pktgen_segment(overlap, 2, size_cb, &s, 1, 100, &segs), -EINVAL);
	struct ft_pktgen_span too_long = {.off = 0, .len = 300, .split = 1};
	assert_int_equal(ft_pktgen_segment(&too_long, 1, size_cb, &s, 1, 100, &segs), -EINVAL);
	/* no span: exactly min_segs segments of the drawn size */
	long n = ft_pktgen_segment(NULL, 0, size_cb, &s, 7, 100, &segs);
	assert_int_equal(n, 7);
	for (long i = 0; i < n; i++)
		assert_int_equal(segs[i].len, 10);
	free(segs);
}

/* ---- scenarios ------------------------------------------------------------------------ */

static void
test_scenario_errors(void **state)
{
	(void)state;
	static const char *const bad[][2] = {
		{"[class a]\nproto = tcpp\n", "test:2:"},
		{"[class a]\ncount = 10\n[class b]\ncount = 5\nsrc = 10.1.0.0/16\n",
		 "may produce the same"},
		{"[klass a]\n", "unknown section"},
		{"[class a]\nsize = 0-x\n", "size"},
		{"[class a]\npattern = nope fwd 0\n", "not defined"},
		{"[class a]\nproto = udp\nreorder = fwd 1\n", "need proto tcp"},
		{"[pattern p]\nliteral = ab\n[class a]\npattern = p fwd 0 split=3\n",
		 "cannot span"},
		{"[class a]\nmalformed = ipv6_truncated 1\n", "does not apply"},
		{"[class a]\nsrc = 10.0.0.0/30\ndst = 10.9.0.0/32\nproto = icmp\ncount = 5\n",
		 "do not fit"},
		{"seed = x\n", "seed"},
		{"[class a]\nbogus = 1\n", "unknown key"},
		{"[class a]\nencap = vxlan-gpe\n", "test:2:"},
		{"[class a]\nencap = gre\nvlan = 5\n", "carries IP packets: no vlan"},
		{"[class a]\nencap = vxlan\nproto = udp\nmalformed = l4_truncated 1\n",
		 "malformed packets in a tunnel"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[512] = "";
		struct ft_pktgen_scenario *sc = ft_pktgen_scenario_new();
		int rc = ft_pktgen_scenario_parse(sc, bad[i][0], "test", err, sizeof(err));
		if (!rc)
			rc = ft_pktgen_scenario_validate(sc, err, sizeof(err));
		assert_int_not_equal(rc, 0);
		if (!strstr(err, bad[i][1]))
			fail_msg("case %zu: message '%s' lacks '%s'", i, err, bad[i][1]);
		ft_pktgen_scenario_free(sc);
	}
}

static const char det_scenario[] =
	"seed = 11\n"
	"[pattern p]\nregex = /x[a-z]{8}y/\n"
	"[class t]\ncount = 50\nproto = tcp\nip = mix\npackets = 3-9\n"
	"size = imix\npattern = p fwd 10 split=2\n"
	"retransmit = fwd p=0.1 after=1\nreorder = rev p=0.1\n"
	"[class u]\ncount = 80\nproto = udp\nvlan = 5-9,7\nsize = 64-512\n"
	"arrival = poisson\nmalformed = l4_truncated 3\n"
	"[class s]\ncount = 5\nproto = sctp\n"
	"[class i]\ncount = 5\nproto = icmp\nip = 6\n";

static void
test_run_deterministic(void **state)
{
	(void)state;
	struct ft_pktgen_scenario *sc = scenario(det_scenario);
	struct mem_sink *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct ft_pktgen_stats sa, sb;
	char *ta = NULL, *tb = NULL;
	size_t la = 0, lb = 0;
	FILE *fa = open_memstream(&ta, &la), *fb = open_memstream(&tb, &lb);
	run_mem(sc, a, &sa, fa);
	run_mem(sc, b, &sb, fb);
	fclose(fa);
	fclose(fb);
	assert_int_equal(a->n, b->n);
	assert_true(a->n > 500);
	for (size_t i = 0; i < a->n; i++) {
		assert_int_equal(a->f[i].ts, b->f[i].ts);
		assert_int_equal(a->f[i].len, b->f[i].len);
		assert_memory_equal(a->f[i].data, b->f[i].data, a->f[i].len);
		if (i)
			assert_true(a->f[i].ts >= a->f[i - 1].ts); /* time order */
	}
	assert_int_equal(la, lb);
	assert_memory_equal(ta, tb, la);
	assert_int_equal(sa.flows, 140);

	/* another seed changes the output */
	char err[256];
	assert_int_equal(ft_pktgen_scenario_set(sc, "", "seed", "12", err, sizeof(err)), 0);
	struct mem_sink *c = calloc(1, sizeof(*c));
	struct ft_pktgen_stats scs;
	run_mem(sc, c, &scs, NULL);
	int same = c->n == a->n;
	for (size_t i = 0; same && i < a->n; i++)
		same = a->f[i].len == c->f[i].len &&
		       !memcmp(a->f[i].data, c->f[i].data, a->f[i].len);
	assert_false(same);
	mem_free(a);
	mem_free(b);
	mem_free(c);
	free(a);
	free(b);
	free(c);
	free(ta);
	free(tb);
	ft_pktgen_scenario_free(sc);
}

/* Independently recount what the sink received and compare with the stats. */
static void
test_run_counts(void **state)
{
	(void)state;
	struct ft_pktgen_scenario *sc =
		scenario("[class u]\ncount = 300\nproto = udp\npackets = 4\nshare = 0.25\n"
			 "size = 100\nmalformed = ipv4_bad_ihl 7\n"
			 "[class t]\ncount = 10\nproto = tcp\npackets = 6\nsize = 200\n"
			 "teardown = rst\n");
	struct mem_sink *m = calloc(1, sizeof(*m));
	struct ft_pktgen_stats st;
	run_mem(sc, m, &st, NULL);
	uint64_t bytes = 0, bad_ihl = 0, udp_fwd = 0, udp_rev = 0, rst = 0, syn = 0;
	for (size_t i = 0; i < m->n; i++) {
		const uint8_t *f = m->f[i].data;
		bytes += m->f[i].len;
		assert_int_equal(get16(f + 12), 0x0800);
		if (f[14] == 0x44) {
			bad_ihl++;
			continue;
		}
		assert_int_equal(ref_csum(f + 14, 20), 0);
		if (f[23] == 17) {
			assert_int_equal(m->f[i].len, 100);
			/* fwd goes to the class's server port */
			if (get16(f + 36) == 5000)
				udp_fwd++;
			else
				udp_rev++;
		} else if (f[23] == 6) {
			rst += (f[47] & 0x04) != 0;
			syn += f[47] == 0x02;
		}
	}
	assert_int_equal(st.packets, m->n);
	assert_int_equal(st.bytes, bytes);
	assert_int_equal(bad_ihl, 7);
	assert_int_equal(st.malformed[FT_PKTGEN_MAL_IPV4_BAD_IHL], 7);
	assert_int_equal(st.flow_packets, m->n - 7);
	assert_int_equal(udp_fwd, 300);
	assert_int_equal(udp_rev, 900);
	assert_int_equal(rst, 10);
	assert_int_equal(syn, 10);
	assert_int_equal(st.flows, 310);
	mem_free(m);
	free(m);
	ft_pktgen_scenario_free(sc);
}

/*
 * End to end: a literal at a stream offset, split over 2 or 3 TCP segments
 * (and UDP datagrams). The test rebuilds each stream from the frames (TCP:
 * sequence numbers relative to the SYN; UDP: datagrams in order) and checks the
 * bytes and which frames hold them.
 */
static void
check_pattern_stream(const char *proto, unsigned split)
{
	char text[1024];
	const char lit[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
	snprintf(text, sizeof(text),
		 "[pattern p]\nliteral = %s\n[class c]\ncount = 3\nproto = %s\npackets = 12\n"
		 "size = 64-400\nfiller = zero\nshare = 1\npattern = p fwd 300 split=%u\n",
		 lit, proto, split);
	struct ft_pktgen_scenario *sc = scenario(text);
	struct mem_sink *m = calloc(1, sizeof(*m));
	struct ft_pktgen_stats st;
	run_mem(sc, m, &st, NULL);
	int tcp = !strcmp(proto, "tcp");
	const uint16_t server = tcp ? 80 : 5000;
	const size_t L = sizeof(lit) - 1;
	/* client ports of the flows, in order of appearance */
	uint16_t ports[3];
	int nports = 0;
	for (size_t i = 0; i < m->n; i++) {
		const uint8_t *l4 = m->f[i].data + 34;
		if (get16(l4 + 2) != server)
			continue;
		int known = 0;
		for (int k = 0; k < nports; k++)
			known |= ports[k] == get16(l4);
		if (!known) {
			assert_true(nports < 3);
			ports[nports++] = get16(l4);
		}
	}
	assert_int_equal(nports, 3);
	for (int flow = 0; flow < 3; flow++) {
		uint32_t isn = 0;
		uint8_t stream[8192];
		int owner[8192];
		size_t slen = 0;
		memset(stream, 0xee, sizeof(stream));
		for (size_t i = 0; i < m->n; i++) {
			const uint8_t *ip = m->f[i].data + 14, *l4 = ip + 20;
			if (get16(l4) != ports[flow] || get16(l4 + 2) != server)
				continue; /* the fwd stream of this flow only */
			uint32_t hl = tcp ? (uint32_t)(l4[12] >> 4) * 4 : 8;
			uint32_t plen = get16(ip + 2) - 20 - hl;
			if (tcp && (l4[13] & 0x02)) {
				isn = get32(l4 + 4);
				continue;
			}
			uint64_t off = tcp ? (uint32_t)(get32(l4 + 4) - isn - 1) : slen;
			assert_true(off + plen <= sizeof(stream));
			memcpy(stream + off, l4 + hl, plen);
			for (uint32_t k = 0; k < plen; k++)
				owner[off + k] = (int)i;
			if (off + plen > slen)
				slen = off + plen;
		}
		assert_true(slen >= 300 + L);
		assert_memory_equal(stream + 300, lit, L);
		assert_int_equal(stream[299], 0); /* zero filler around it */
		/* exactly `split` frames, changing at 300 + k*L/split */
		unsigned frames = 1;
		for (size_t k = 301; k < 300 + L; k++) {
			if (owner[k] != owner[k - 1]) {
				frames++;
				int at_cut = 0;
				for (unsigned c = 1; c < split; c++)
					at_cut |= k == 300 + c * L / split;
				assert_true(at_cut);
			}
		}
		assert_int_equal(frames, split);
	}
	mem_free(m);
	free(m);
	ft_pktgen_scenario_free(sc);
}

static void
test_pattern_split_tcp(void **state)
{
	(void)state;
	check_pattern_stream("tcp", 1);
	check_pattern_stream("tcp", 2);
	check_pattern_stream("tcp", 3);
}

static void
test_pattern_split_udp(void **state)
{
	(void)state;
	check_pattern_stream("udp", 2);
	check_pattern_stream("udp", 3);
}

/* The pcap writer: header fields and record layout read back from a file. */
static void
test_pcap_writer(void **state)
{
	(void)state;
	char path[] = "/tmp/test_pktgen_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	struct ft_pktgen_pcap *p = ft_pktgen_pcap_open_fd(fd);
	assert_non_null(p);
	struct ft_pktgen_sink sink;
	ft_pktgen_pcap_sink(p, &sink);
	for (int i = 0; i < 3; i++) {
		uint8_t *b = sink.reserve(sink.ctx, 60);
		memset(b, i, 60);
		assert_int_equal(sink.commit(sink.ctx, 1700000000123456789ULL + (uint64_t)i, 60),
				 0);
	}
	assert_int_equal(ft_pktgen_pcap_close(p), 0);
	FILE *f = fopen(path, "rb");
	uint8_t buf[24 + 3 * 76];
	assert_int_equal(fread(buf, 1, sizeof(buf), f), sizeof(buf));
	assert_int_equal(fgetc(f), EOF);
	fclose(f);
	unlink(path);
	uint32_t v;
	memcpy(&v, buf, 4);
	assert_int_equal(v, 0xa1b23c4d);
	memcpy(&v, buf + 20, 4);
	assert_int_equal(v, 1); /* LINKTYPE_ETHERNET */
	memcpy(&v, buf + 24 + 76, 4);
	assert_int_equal(v, 1700000000);
	memcpy(&v, buf + 24 + 76 + 4, 4);
	assert_int_equal(v, 123456790); /* nanoseconds */
	memcpy(&v, buf + 24 + 76 + 8, 4);
	assert_int_equal(v, 60);
	assert_int_equal(buf[24 + 76 + 16], 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum_rfc1071_example),
		cmocka_unit_test(test_csum_matches_reference),
		cmocka_unit_test(test_crc32c_vectors),
		cmocka_unit_test(test_build_udp_known),
		cmocka_unit_test(test_build_tcp6_known),
		cmocka_unit_test(test_build_encap),
		cmocka_unit_test(test_build_icmp_vlan_known),
		cmocka_unit_test(test_build_icmpv6_known),
		cmocka_unit_test(test_build_sctp_crc),
		cmocka_unit_test(test_build_qinq_tcp_pseudo_header),
		cmocka_unit_test(test_build_rejects),
		cmocka_unit_test(test_malform),
		cmocka_unit_test(test_rng_determinism),
		cmocka_unit_test(test_imix_distribution),
		cmocka_unit_test(test_distributions),
		cmocka_unit_test(test_regex_generates_matches),
		cmocka_unit_test(test_regex_errors),
		cmocka_unit_test(test_segment_split_2_and_3),
		cmocka_unit_test(test_segment_errors),
		cmocka_unit_test(test_scenario_errors),
		cmocka_unit_test(test_run_deterministic),
		cmocka_unit_test(test_run_counts),
		cmocka_unit_test(test_pattern_split_tcp),
		cmocka_unit_test(test_pattern_split_udp),
		cmocka_unit_test(test_pcap_writer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
