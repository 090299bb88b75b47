/* SPDX-License-Identifier: BSD-3-Clause */
/* Parsed packets for unit tests that feed the flow table without a parser. */
#ifndef FT_TEST_PKT_H
#define FT_TEST_PKT_H

#include <string.h>

#include "parse/parse.h"

/* An IPv4 packet from 10.0.0.a:pa to 10.0.0.b:pb as ft_parse() would leave it:
 * endpoints sorted in the key, dir set. The hash and flags are the caller's. */
static inline struct ft_pkt
ft_test_ipv4_pkt(uint8_t proto, uint8_t a, uint16_t pa, uint8_t b, uint16_t pb, uint64_t ts,
		 uint32_t len)
{
	struct ft_pkt p;
	int swap = a > b || (a == b && pa > pb);

	memset(&p, 0, sizeof(p));
	p.key.family = 4;
	p.key.proto = proto;
	p.key.addr[0][0] = 10;
	p.key.addr[1][0] = 10;
	p.key.addr[0][3] = swap ? b : a;
	p.key.addr[1][3] = swap ? a : b;
	p.key.port[0] = swap ? pb : pa;
	p.key.port[1] = swap ? pa : pb;
	p.dir = (uint8_t)swap;
	p.ts_ns = ts;
	p.wire_len = len;
	return p;
}

#endif /* FT_TEST_PKT_H */
