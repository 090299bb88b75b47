/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>

#include "common/common.h"

void
ft_clock_init(struct ft_clock *clock)
{
	uint64_t hz = rte_get_tsc_hz();

	clock->mult = (FT_NSEC_PER_SEC << 32) / hz;
	clock->base_tsc = rte_rdtsc();
	clock->base_ns = ft_wall_ns();
}

char *
ft_format_time(uint64_t ns, char *buf, size_t size)
{
	time_t sec = (time_t)(ns / FT_NSEC_PER_SEC);
	struct tm tm;

	gmtime_r(&sec, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%09uZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(ns % FT_NSEC_PER_SEC));
	return buf;
}
