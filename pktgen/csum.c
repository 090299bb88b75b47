/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Checksums. The internet checksum is summed in host byte order, 32 bits at a
 * time into a 64-bit accumulator (RFC 1071 s2(B): the sum is byte-order
 * independent), and swapped once at the end.
 */
#include <string.h>

#if defined(__SSE4_2__)
#include <nmmintrin.h>
#endif

#include "pktgen.h"

uint64_t
ft_pktgen_csum_partial(const void *data, size_t len, uint64_t sum)
{
	const uint8_t *p = data;

	/* Four independent lanes: 2^32 additions of 32-bit values cannot overflow. */
	uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	while (len >= 16) {
		uint32_t w[4];
		memcpy(w, p, 16);
		s0 += w[0];
		s1 += w[1];
		s2 += w[2];
		s3 += w[3];
		p += 16;
		len -= 16;
	}
	while (len >= 4) {
		uint32_t w;
		memcpy(&w, p, 4);
		s0 += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;
		memcpy(&w, p, 2);
		s1 += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		/* A trailing byte is the high byte of a zero-padded big-endian word. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		s2 += *p;
#else
		s2 += (uint32_t)*p << 8;
#endif
	}
	/* Fold the lanes without losing carries: each lane is < 2^62. */
	uint64_t t = (s0 & 0xffffffff) + (s0 >> 32) + (s1 & 0xffffffff) + (s1 >> 32) +
		     (s2 & 0xffffffff) + (s2 >> 32) + (s3 & 0xffffffff) + (s3 >> 32);
	sum += t;
	if (sum < t)
		sum++;
	return sum;
}

uint16_t
ft_pktgen_csum_finish(uint64_t sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	uint16_t v = (uint16_t)~sum;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap16(v);
#endif
	return v;
}

uint16_t
ft_pktgen_csum(const void *data, size_t len)
{
	return ft_pktgen_csum_finish(ft_pktgen_csum_partial(data, len, 0));
}

uint16_t
ft_pktgen_l4_csum(int ip_version, const uint8_t *src, const uint8_t *dst, uint8_t proto,
		  const void *l4, uint32_t l4_len)
{
	uint8_t ph[40];
	uint64_t sum = 0;

	if (ip_version == 4) {
		if (proto != 1) {
			memcpy(ph, src, 4);
			memcpy(ph + 4, dst, 4);
			ph[8] = 0;
			ph[9] = proto;
			ph[10] = (uint8_t)(l4_len >> 8);
			ph[11] = (uint8_t)l4_len;
			sum = ft_pktgen_csum_partial(ph, 12, 0);
		}
	} else {
		memcpy(ph, src, 16);
		memcpy(ph + 16, dst, 16);
		ph[32] = (uint8_t)(l4_len >> 24);
		ph[33] = (uint8_t)(l4_len >> 16);
		ph[34] = (uint8_t)(l4_len >> 8);
		ph[35] = (uint8_t)l4_len;
		ph[36] = ph[37] = ph[38] = 0;
		ph[39] = proto;
		sum = ft_pktgen_csum_partial(ph, 40, 0);
	}
	return ft_pktgen_csum_finish(ft_pktgen_csum_partial(l4, l4_len, sum));
}

/* Reflected CRC32C table (polynomial 0x82f63b78), built on first use. */
static uint32_t crc32c_table[8][256];
static int crc32c_ready;

static void
crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78 & (0u - (c & 1)));
		crc32c_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc32c_table[t][i] = (crc32c_table[t - 1][i] >> 8) ^
					     crc32c_table[0][crc32c_table[t - 1][i] & 0xff];
	__atomic_store_n(&crc32c_ready, 1, __ATOMIC_RELEASE);
}

uint32_t
ft_pktgen_crc32c(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t c = ~crc;

#if defined(__SSE4_2__)
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c = (uint32_t)_mm_crc32_u64(c, w);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = _mm_crc32_u8(c, *p++);
#else
	if (!__atomic_load_n(&crc32c_ready, __ATOMIC_ACQUIRE))
		crc32c_init();
	while (len >= 8) {
		uint32_t lo, hi;
		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
		lo ^= c;
		c = crc32c_table[7][lo & 0xff] ^ crc32c_table[6][(lo >> 8) & 0xff] ^
		    crc32c_table[5][(lo >> 16) & 0xff] ^ crc32c_table[4][lo >> 24] ^
		    crc32c_table[3][hi & 0xff] ^ crc32c_table[2][(hi >> 8) & 0xff] ^
		    crc32c_table[1][(hi >> 16) & 0xff] ^ crc32c_table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		c = (c >> 8) ^ crc32c_table[0][(c ^ *p++) & 0xff];
#endif
	(void)crc32c_init;
	return ~c;
}
