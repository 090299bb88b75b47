/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of src/port that need no device: the RSS symmetry checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <linux/ethtool.h>

#include "port/port.h"

/* The Toeplitz key most NICs ship with (Microsoft's RSS specification):
 * not symmetric. */
static const uint8_t default_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

static void
test_rss_symmetry(void **state)
{
	uint8_t key[52];

	(void)state;
	for (unsigned i = 0; i < sizeof(key); i++)
		key[i] = (i & 1) ? 0x5a : 0x6d;
	assert_int_equal(ft_rss_key_symmetric(key, 40), 1);
	assert_int_equal(ft_rss_key_symmetric(key, 52), 1); /* i40e/ice key length */
	assert_int_equal(ft_rss_key_symmetric(default_key, 40), 0);
	/* One byte off breaks it. */
	key[7] ^= 0x01;
	assert_int_equal(ft_rss_key_symmetric(key, 52), 0);
	/* Too short for IPv6 with ports. */
	key[7] ^= 0x01;
	assert_int_equal(ft_rss_key_symmetric(key, 39), 0);
	/* Any 16-bit period is symmetric (the swap moves fields by 16-bit
	 * multiples); a 32-bit period with distinct halves is not. */
	for (unsigned i = 0; i < sizeof(key); i++)
		key[i] = (i & 1) ? 0x11 : 0xe7;
	assert_int_equal(ft_rss_key_symmetric(key, 40), 1);
	for (unsigned i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0x10 + (i & 3));
	assert_int_equal(ft_rss_key_symmetric(key, 40), 0);
}

static void
symmetric_kernel_rss(struct ft_rss_kernel *k)
{
	memset(k, 0, sizeof(*k));
	k->hfunc = 1; /* Toeplitz */
	k->key_len = 52;
	for (unsigned i = 0; i < k->key_len; i++)
		k->key[i] = (i & 1) ? 0x5a : 0x6d;
	for (unsigned t = 0; t < FT_RSS_KERNEL_FLOW_TYPES; t++)
		k->fields[t] = RXH_IP_SRC | RXH_IP_DST | RXH_L4_B_0_1 | RXH_L4_B_2_3;
}

/* An AF_XDP interface's RSS, as ethtool reports it: trusted only when every
 * part of it keeps a flow's two directions on one queue; otherwise the reason
 * names the interface and the ethtool command that fixes it. */
static void
test_rss_kernel(void **state)
{
	struct ft_rss_kernel k;
	char why[1024];

	(void)state;
	symmetric_kernel_rss(&k);
	assert_int_equal(ft_rss_kernel_symmetric(&k, "ens1f0", why, sizeof(why)), 1);
	/* Addresses only (as many NICs hash UDP) is still symmetric. */
	k.fields[1] = RXH_IP_SRC | RXH_IP_DST | RXH_VLAN | RXH_L3_PROTO;
	assert_int_equal(ft_rss_kernel_symmetric(&k, "ens1f0", why, sizeof(why)), 1);

	/* A function other than Toeplitz. */
	symmetric_kernel_rss(&k);
	k.hfunc = 4; /* CRC32 */
	assert_int_equal(ft_rss_kernel_symmetric(&k, "ens1f0", why, sizeof(why)), 0);
	assert_non_null(strstr(why, "ethtool -X ens1f0 hfunc toeplitz"));

	/* The NIC's default key: the fix is the symmetric key, at its length. */
	symmetric_kernel_rss(&k);
	k.key_len = sizeof(default_key);
	memcpy(k.key, default_key, sizeof(default_key));
	assert_int_equal(ft_rss_kernel_symmetric(&k, "ens1f0", why, sizeof(why)), 0);
	assert_non_null(strstr(why, "ethtool -X ens1f0 hkey 6d:5a:"));
	assert_non_null(strstr(why,
			       " 6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:"
			       "6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a)"));

	/* Fields not in pairs: one address, one port, the destination MAC. */
	symmetric_kernel_rss(&k);
	k.fields[2] = RXH_IP_SRC | RXH_L4_B_0_1 | RXH_L4_B_2_3;
	assert_int_equal(ft_rss_kernel_symmetric(&k, "ens1f0", why, sizeof(why)), 0);
	assert_non_null(strstr(why, "rx-flow-hash tcp6 sdfn"));
	symmetric_kernel_rss(&k);
	k.fields[3] = RXH_IP_SRC | RXH_IP_DST | RXH_L4_B_2_3;
	assert_int_equal(ft_rss_kernel_symmetric(&k, "ens1f0", why, sizeof(why)), 0);
	assert_non_null(strstr(why, "rx-flow-hash udp6 sdfn"));
	symmetric_kernel_rss(&k);
	k.fields[0] |= RXH_L2DA;
	assert_int_equal(ft_rss_kernel_symmetric(&k, "ens1f0", why, sizeof(why)), 0);
	assert_non_null(strstr(why, "rx-flow-hash tcp4 sdfn"));

	/* Reading it: an interface that does not exist, and one whose driver
	 * reports no RSS (loopback) fail with a reason naming it. */
	assert_int_equal(ft_rss_kernel_read("ft-no-such-if", &k, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "ft-no-such-if"));
	assert_int_equal(ft_rss_kernel_read("lo", &k, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "RSS key of lo"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rss_symmetry),
		cmocka_unit_test(test_rss_kernel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
