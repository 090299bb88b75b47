/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK allocation redirected to libc for unit tests and fuzzers that link a
 * module using rte_zmalloc_socket/rte_free (meson: -Wl,--wrap=rte_zmalloc_socket,
 * -Wl,--wrap=rte_free), so no EAL is needed. Include it in exactly one file
 * of a test executable.
 */
#ifndef FT_TEST_DPDK_MALLOC_H
#define FT_TEST_DPDK_MALLOC_H

#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>

RTE_DEFINE_PER_LCORE(int, _rte_errno);

void *__wrap_rte_zmalloc_socket(const char *type, size_t size, unsigned align, int socket);
void __wrap_rte_free(void *p);

void *
__wrap_rte_zmalloc_socket(const char *type, size_t size, unsigned align, int socket)
{
	void *p = NULL;

	(void)type;
	(void)socket;
	if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size) != 0)
		return NULL;
	memset(p, 0, size);
	return p;
}

void
__wrap_rte_free(void *p)
{
	free(p);
}

#endif /* FT_TEST_DPDK_MALLOC_H */
