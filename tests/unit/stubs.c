/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK stand-ins for the unit tests that wrap DPDK calls at link time
 * (tests/unit/meson.build adds this file to every test with wrapped symbols):
 * allocation on libc, and rte_errno without EAL.
 */
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
	if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1) !=
	    0)
		return NULL;
	memset(p, 0, size);
	return p;
}

void
__wrap_rte_free(void *p)
{
	free(p);
}
