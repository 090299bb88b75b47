/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Community ID flow hashing, version 1 (the Corelight specification that
 * Suricata, Zeek, Wireshark and Arkime implement): "1:" and the base64 of the
 * SHA-1 of
 *
 *   seed (2 B) | source address | destination address | protocol (1 B) |
 *   0 (1 B) | source port (2 B) | destination port (2 B)
 *
 * all in network order; ports only for TCP, UDP and SCTP, and for ICMP and
 * ICMPv6 the type and the code or, for the message types that come in pairs
 * (echo request and reply...), the type and its counterpart. The endpoints are
 * ordered (address, then port, as unsigned big-endian numbers) so that both
 * directions of a flow hash alike, except for ICMP types without a
 * counterpart, which keep the sender first.
 *
 * SHA-1 (FIPS 180-4) here handles only what one 64-byte block holds (up to 55
 * bytes of message: the longest tuple is 40); it is used for an identifier,
 * not for security.
 */
#include <string.h>

#include "collector.h"

static inline uint32_t
rol(uint32_t x, unsigned n)
{
	return (x << n) | (x >> (32 - n));
}

/* SHA-1 of msg (len <= 55 bytes: a single block). */
static void
sha1_one_block(const uint8_t *msg, size_t len, uint8_t out[20])
{
	uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
	uint32_t w[80], a, b, c, d, e;
	uint8_t block[64] = {0};

	memcpy(block, msg, len);
	block[len] = 0x80;
	for (int i = 0; i < 8; i++)
		block[63 - i] = (uint8_t)(((uint64_t)len * 8) >> (8 * i));
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
		       (uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
	for (int i = 0; i < 80; i++) {
		uint32_t f, k, t;

		if (i < 20)
			f = (b & c) | (~b & d), k = 0x5a827999;
		else if (i < 40)
			f = b ^ c ^ d, k = 0x6ed9eba1;
		else if (i < 60)
			f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdc;
		else
			f = b ^ c ^ d, k = 0xca62c1d6;
		t = rol(a, 5) + f + e + k + w[i];
		e = d, d = c, c = rol(b, 30), b = a, a = t;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(h[i] >> 8);
		out[4 * i + 3] = (uint8_t)h[i];
	}
}

/* The counterpart of an ICMP/ICMPv6 message type that comes in a pair, or -1. */
static int
icmp_counterpart(uint8_t proto, uint8_t type)
{
	static const uint8_t v4[][2] = {{8, 0}, {13, 14}, {15, 16}, {10, 9}, {17, 18}};
	static const uint8_t v6[][2] = {{128, 129}, {133, 134}, {135, 136},
					{130, 131}, {139, 140}, {144, 145}};
	const uint8_t(*pairs)[2] = proto == 1 ? v4 : v6;
	size_t n = proto == 1 ? sizeof(v4) / sizeof(v4[0]) : sizeof(v6) / sizeof(v6[0]);

	for (size_t i = 0; i < n; i++) {
		if (pairs[i][0] == type)
			return pairs[i][1];
		if (pairs[i][1] == type)
			return pairs[i][0];
	}
	return -1;
}

static void
base64(const uint8_t *in, size_t n, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		*out++ = tab[v >> 18];
		*out++ = tab[(v >> 12) & 63];
		*out++ = tab[(v >> 6) & 63];
		*out++ = tab[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);

		*out++ = tab[v >> 18];
		*out++ = tab[(v >> 12) & 63];
		*out++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		*out++ = '=';
	}
	*out = '\0';
}

size_t
ft_community_id(const struct ft_flow_key *k, unsigned src, uint8_t icmp_type, uint8_t icmp_code,
		uint16_t seed, char out[FT_COMMUNITY_ID_LEN])
{
	const unsigned alen = k->family == 4 ? 4 : 16;
	const uint8_t *a[2] = {k->addr[src & 1], k->addr[!(src & 1)]};
	uint16_t port[2] = {k->port[src & 1], k->port[!(src & 1)]};
	bool ports = true, one_way = false;
	uint8_t msg[40], digest[20];
	size_t n = 0;

	switch (k->proto) {
	case 6:
	case 17:
	case 132:
		break;
	case 1:
	case 58: {
		int peer = icmp_counterpart(k->proto, icmp_type);

		port[0] = icmp_type;
		port[1] = peer >= 0 ? (uint16_t)peer : icmp_code;
		one_way = peer < 0;
		break;
	}
	default:
		ports = false;
		break;
	}
	if (!one_way) {
		int c = memcmp(a[0], a[1], alen);

		if (c > 0 || (c == 0 && ports && port[0] > port[1])) {
			const uint8_t *ta = a[0];
			uint16_t tp = port[0];

			a[0] = a[1], a[1] = ta;
			port[0] = port[1], port[1] = tp;
		}
	}
	msg[n++] = (uint8_t)(seed >> 8);
	msg[n++] = (uint8_t)seed;
	memcpy(msg + n, a[0], alen);
	n += alen;
	memcpy(msg + n, a[1], alen);
	n += alen;
	msg[n++] = k->proto;
	msg[n++] = 0;
	if (ports) {
		msg[n++] = (uint8_t)(port[0] >> 8);
		msg[n++] = (uint8_t)port[0];
		msg[n++] = (uint8_t)(port[1] >> 8);
		msg[n++] = (uint8_t)port[1];
	}
	sha1_one_block(msg, n, digest);
	out[0] = '1';
	out[1] = ':';
	base64(digest, sizeof(digest), out + 2);
	return 2 + 28;
}
