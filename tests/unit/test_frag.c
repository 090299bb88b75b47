/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of src/frag: later fragments get their first fragment's ports. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_errno.h>

#include "frag/frag.h"

#include "dpdk_malloc.h"

#define SEC 1000000000ULL

/* A fragment of datagram `id` from 10.0.0.1 to 10.0.0.2 (ports 1111 -> 53 on
 * the first one), as the parser would give it. */
static struct ft_pkt
frag(uint32_t id, int first, uint64_t ts, uint16_t vlan)
{
	struct ft_pkt p;

	memset(&p, 0, sizeof(p));
	p.key.family = 4;
	p.key.proto = 17;
	p.key.addr[0][0] = 10, p.key.addr[0][3] = 1;
	p.key.addr[1][0] = 10, p.key.addr[1][3] = 2;
	p.key.vlan[0] = vlan;
	p.dir = 0;
	p.frag_id = id;
	p.flags = FT_PKT_F_FRAGMENT;
	if (first) {
		p.key.port[0] = 1111;
		p.key.port[1] = 53;
		p.flags |= FT_PKT_F_L4_PAYLOAD;
	} else {
		p.flags |= FT_PKT_F_LATER_FRAG;
		p.frag_offset = 185;
	}
	p.hash = ft_flow_key_hash(&p.key);
	p.ts_ns = ts;
	return p;
}

static struct ft_frag_table *
table(uint32_t entries, uint64_t timeout)
{
	struct ft_frag_table_params fp = {.entries = entries, .timeout_ns = timeout};
	struct ft_frag_table *t = ft_frag_table_create(&fp);

	assert_non_null(t);
	return t;
}

static void
test_attribution(void **state)
{
	struct ft_frag_table *t = table(64, 30 * SEC);
	struct ft_pkt first = frag(7, 1, SEC, 0), later = frag(7, 0, 2 * SEC, 0), p;

	(void)state;
	/* A later fragment before its first one: unknown. */
	p = later;
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_UNATTRIBUTED);
	assert_int_equal(p.key.port[0], 0);
	assert_int_equal(ft_frag_table_packet(t, &first), FT_FRAG_NONE);
	p = later;
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_ATTRIBUTED);
	/* It now is a packet of the first fragment's 5-tuple flow. */
	assert_memory_equal(&p.key, &first.key, sizeof(p.key));
	assert_int_equal(p.hash, first.hash);
	assert_true(p.flags & FT_PKT_F_FRAG_ATTRIBUTED);
	assert_true(p.flags & FT_PKT_F_LATER_FRAG);
	/* Another datagram id, another VLAN, the other direction: not it. */
	p = frag(8, 0, 2 * SEC, 0);
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_UNATTRIBUTED);
	p = frag(7, 0, 2 * SEC, 5);
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_UNATTRIBUTED);
	p = later;
	p.dir = 1;
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_UNATTRIBUTED);
	/* Not a fragment: untouched. */
	p = first;
	p.flags = FT_PKT_F_L4_PAYLOAD;
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_NONE);
	/* Past the timeout (counted from the datagram's last fragment): gone. */
	p = frag(7, 0, 2 * SEC + 30 * SEC, 0);
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_ATTRIBUTED);
	p = frag(7, 0, 2 * SEC + 60 * SEC + 1, 0);
	assert_int_equal(ft_frag_table_packet(t, &p), FT_FRAG_UNATTRIBUTED);
	ft_frag_table_free(t);
}

/* Bounded memory: more live datagrams than entries crowds the oldest out,
 * never a wrong attribution. */
static void
test_crowding(void **state)
{
	struct ft_frag_table *t = table(16, 30 * SEC);
	unsigned attributed = 0, unattributed = 0;

	(void)state;
	for (uint32_t id = 0; id < 1000; id++) {
		struct ft_pkt p = frag(id, 1, SEC + id, 0);

		p.key.port[0] = (uint16_t)id; /* each datagram its own ports */
		p.hash = ft_flow_key_hash(&p.key);
		ft_frag_table_packet(t, &p);
	}
	for (uint32_t id = 0; id < 1000; id++) {
		struct ft_pkt p = frag(id, 0, 2 * SEC, 0);
		enum ft_frag_result r = ft_frag_table_packet(t, &p);

		if (r == FT_FRAG_ATTRIBUTED) {
			attributed++;
			assert_int_equal(p.key.port[0], (uint16_t)id);
		} else {
			unattributed++;
		}
	}
	assert_true(attributed > 0 && attributed <= 16);
	assert_int_equal(attributed + unattributed, 1000);
	ft_frag_table_free(t);
}

static void
test_bad_params(void **state)
{
	struct ft_frag_table_params fp = {.entries = 12, .timeout_ns = SEC};

	(void)state;
	assert_null(ft_frag_table_create(&fp));
	assert_int_equal(rte_errno, EINVAL);
	fp.entries = 2;
	assert_null(ft_frag_table_create(&fp));
	assert_null(ft_frag_table_create(NULL));
	ft_frag_table_free(NULL);
}

RTE_DEFINE_PER_LCORE(int, _rte_errno);

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attribution),
		cmocka_unit_test(test_crowding),
		cmocka_unit_test(test_bad_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
