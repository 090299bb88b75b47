/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Memory for flow plans and the flow slab. Hundreds of thousands of live flows
 * each hold a plan somewhere in hundreds of MB; sending one packet touches one
 * flow and one plan entry, so with 4 KiB pages nearly every packet misses the
 * TLB, and under a hypervisor a page walk costs more than building the packet.
 * The arena hands out size-classed blocks from 2 MiB-aligned chunks marked for
 * transparent huge pages, and recycles them through per-class free lists.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

#define HUGE_PAGE (2u << 20)

/* Class c holds (4 + c % 4) << (c / 4 + 4) bytes: 64, 80, 96, 112, 128, 160...
 * (at most 25% lost to rounding). */
static size_t
class_size(unsigned c)
{
	return (size_t)(4 + (c & 3)) << ((c >> 2) + 4);
}

void *
pg_huge_alloc(size_t n)
{
	size_t sz = (n + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
	void *p = aligned_alloc(HUGE_PAGE, sz);
	if (p)
		madvise(p, sz, MADV_HUGEPAGE); /* a hint: fine if THP is off */
	return p;
}

void *
pg_arena_alloc(struct pg_arena *a, size_t n, uint8_t *cls)
{
	unsigned c = 0;
	while (c < PG_ARENA_CLASSES && class_size(c) < n)
		c++;
	if (c == PG_ARENA_CLASSES) {
		*cls = PG_ARENA_BIG;
		return pg_huge_alloc(n);
	}
	*cls = (uint8_t)c;
	if (a->free[c]) {
		void *p = a->free[c];
		a->free[c] = *(void **)p;
		return p;
	}
	size_t sz = class_size(c);
	if (a->left < sz) {
		if (a->nchunks == a->cap_chunks) {
			size_t nc = a->cap_chunks ? a->cap_chunks * 2 : 16;
			void **np = realloc(a->chunks, nc * sizeof(*np));
			if (!np)
				return NULL;
			a->chunks = np;
			a->cap_chunks = nc;
		}
		/* The rest of the old chunk goes to the free lists of smaller classes. */
		while (a->left >= class_size(0)) {
			unsigned k = 0;
			while (k + 1 < PG_ARENA_CLASSES && class_size(k + 1) <= a->left)
				k++;
			*(void **)a->cur = a->free[k];
			a->free[k] = a->cur;
			a->cur += class_size(k);
			a->left -= class_size(k);
		}
		uint8_t *ch = pg_huge_alloc(PG_ARENA_CHUNK);
		if (!ch)
			return NULL;
		a->chunks[a->nchunks++] = ch;
		a->cur = ch;
		a->left = PG_ARENA_CHUNK;
	}
	void *p = a->cur;
	a->cur += sz;
	a->left -= sz;
	return p;
}

void
pg_arena_free(struct pg_arena *a, void *p, uint8_t cls)
{
	if (!p)
		return;
	if (cls == PG_ARENA_BIG) {
		free(p);
		return;
	}
	*(void **)p = a->free[cls];
	a->free[cls] = p;
}

void
pg_arena_destroy(struct pg_arena *a)
{
	for (size_t i = 0; i < a->nchunks; i++)
		free(a->chunks[i]);
	free(a->chunks);
	memset(a, 0, sizeof(*a));
}
