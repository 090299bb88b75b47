/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of src/port that need no device: the RSS symmetry check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rss_symmetry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
