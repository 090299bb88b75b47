/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Small shared pieces: log macros, the clock (TSC <-> wall-clock ns), and
 * helpers every module uses. Log types are registered per module with
 * RTE_LOG_REGISTER_SUFFIX, giving "flowtap.<module>" so that
 * --log-level=flowtap.flow:debug works as DPDK users expect.
 */
#ifndef FT_COMMON_H
#define FT_COMMON_H

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_log.h>

/* Log through a module's log type: FT_LOG(ft_logtype_flow, ERR, "x %d", 1). */
#define FT_LOG(type, level, fmt, ...)                                                              \
	rte_log(RTE_LOG_##level, type, "flowtap: " fmt "\n", ##__VA_ARGS__)

#define FT_NSEC_PER_SEC 1000000000ULL

/* Wall-clock ns since the epoch (CLOCK_REALTIME). A syscall-free vDSO call, but
 * still not for the per-packet path: workers use struct ft_clock. */
static inline uint64_t
ft_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * FT_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Monotonic ns (CLOCK_MONOTONIC), for intervals measured by control code. */
static inline uint64_t
ft_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * FT_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/*
 * TSC -> wall-clock ns without a division on the hot path: ns = base_ns +
 * ((tsc - base_tsc) * mult) >> 32, with mult = 2^32 * 1e9 / hz, the product taken
 * in 128 bits so it never overflows. The wall clock is read once, at init: flow
 * time then follows the TSC and does not jump when NTP steps the clock.
 */
struct ft_clock {
	uint64_t base_tsc;
	uint64_t base_ns;
	uint64_t mult; /* ns per cycle in 32.32 fixed point */
};

void ft_clock_init(struct ft_clock *clock);

static inline uint64_t
ft_clock_ns(const struct ft_clock *clock, uint64_t tsc)
{
	return clock->base_ns +
	       (uint64_t)(((unsigned __int128)(tsc - clock->base_tsc) * clock->mult) >> 32);
}

/* TSC cycles to ns (exact for any span, 128-bit intermediate). */
static inline uint64_t
ft_cycles_to_ns(uint64_t cycles)
{
	return (uint64_t)((unsigned __int128)cycles * FT_NSEC_PER_SEC / rte_get_tsc_hz());
}

/* Format ns since the epoch as RFC 3339 UTC with 9 fraction digits into buf
 * (at least 31 bytes). Returns buf. */
char *ft_format_time(uint64_t ns, char *buf, size_t size);

/* s without leading and trailing white space: trailing space is cut in place. */
static inline char *
ft_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

#endif /* FT_COMMON_H */
