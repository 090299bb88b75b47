/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Random streams (xoshiro256**, seeded through splitmix64 so that any
 * (seed, stream) pair gives an independent-looking sequence) and the value
 * distributions of the scenario language.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pktgen.h"
#include "internal.h"

uint64_t
ft_pktgen_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void
ft_pktgen_rng_seed(struct ft_pktgen_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = ft_pktgen_mix64(seed) ^ ft_pktgen_mix64(stream ^ 0x5851f42d4c957f2dULL);
	for (int i = 0; i < 4; i++) {
		x = ft_pktgen_mix64(x);
		r->s[i] = x;
	}
	if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
		r->s[0] = 1;
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t
ft_pktgen_rng_next(struct ft_pktgen_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t
ft_pktgen_rng_below(struct ft_pktgen_rng *r, uint64_t n)
{
	/* Lemire's multiply-and-reject: unbiased with one multiply in the common case. */
	unsigned __int128 m = (unsigned __int128)ft_pktgen_rng_next(r) * n;
	uint64_t lo = (uint64_t)m;
	if (lo < n) {
		uint64_t t = -n % n;
		while (lo < t) {
			m = (unsigned __int128)ft_pktgen_rng_next(r) * n;
			lo = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

double
ft_pktgen_rng_double(struct ft_pktgen_rng *r)
{
	return (double)(ft_pktgen_rng_next(r) >> 11) * 0x1.0p-53;
}

/* ---- parsing helpers ------------------------------------------------------ */

void
pg_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int
ft_pktgen_parse_time(const char *s, uint64_t *ns)
{
	char *end;
	while (isspace((unsigned char)*s))
		s++;
	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || !(v >= 0))
		return -EINVAL;
	while (isspace((unsigned char)*end))
		end++;
	double mul;
	if (!*end || !strcmp(end, "s"))
		mul = 1e9;
	else if (!strcmp(end, "ms"))
		mul = 1e6;
	else if (!strcmp(end, "us"))
		mul = 1e3;
	else if (!strcmp(end, "ns"))
		mul = 1;
	else if (!strcmp(end, "m") || !strcmp(end, "min"))
		mul = 60e9;
	else if (!strcmp(end, "h"))
		mul = 3600e9;
	else
		return -EINVAL;
	double r = v * mul;
	if (r > 1.8e19)
		return -EINVAL;
	*ns = (uint64_t)llround(r);
	return 0;
}

int
pg_parse_count(const char *s, uint64_t *out)
{
	char *end;
	while (isspace((unsigned char)*s))
		s++;
	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || !(v >= 0))
		return -EINVAL;
	while (isspace((unsigned char)*end))
		end++;
	double mul = 1;
	if (*end == 'k' || *end == 'K')
		mul = 1e3, end++;
	else if (*end == 'M')
		mul = 1e6, end++;
	else if (*end == 'G')
		mul = 1e9, end++;
	while (isspace((unsigned char)*end))
		end++;
	if (*end)
		return -EINVAL;
	double r = v * mul;
	if (r > 1.8e19 || r != floor(r))
		return -EINVAL;
	*out = (uint64_t)r;
	return 0;
}

static int
parse_value(const char *s, enum ft_pktgen_unit unit, uint64_t *v)
{
	return unit == FT_PKTGEN_UNIT_TIME ? ft_pktgen_parse_time(s, v) : pg_parse_count(s, v);
}

/* Copy s[0..n) trimmed into buf. */
static void
trimcpy(char *buf, size_t cap, const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, s, n);
	buf[n] = 0;
}

/* "name(a,b,c)": split the arguments; returns the count or -1. */
static int
func_args(const char *s, const char *name, char args[][64], int max)
{
	size_t nl = strlen(name);
	if (strncmp(s, name, nl) != 0 || s[nl] != '(')
		return -1;
	const char *p = s + nl + 1;
	const char *close = strrchr(p, ')');
	if (!close || close[1])
		return -1;
	int n = 0;
	while (p < close) {
		const char *c = memchr(p, ',', (size_t)(close - p));
		const char *e = c ? c : close;
		if (n == max)
			return -1;
		trimcpy(args[n++], 64, p, (size_t)(e - p));
		p = c ? c + 1 : close;
	}
	return n;
}

int
ft_pktgen_dist_parse(struct ft_pktgen_dist *d, const char *s, enum ft_pktgen_unit unit, char *err,
		     size_t errlen)
{
	char buf[1024];
	char args[4][64];
	int n;

	trimcpy(buf, sizeof(buf), s, strlen(s));
	memset(d, 0, sizeof(*d));
	if (!strcmp(buf, "imix")) {
		static const uint64_t v[3] = {60, 590, 1514};
		static const double w[3] = {7, 4, 1};
		d->kind = FT_PKTGEN_DIST_WEIGHTED;
		d->n = 3;
		double acc = 0;
		for (int i = 0; i < 3; i++) {
			d->value[i] = v[i];
			acc += w[i];
			d->cum[i] = acc / 12.0;
		}
		d->cum[2] = 1.0;
		return 0;
	}
	if ((n = func_args(buf, "exp", args, 4)) >= 0) {
		uint64_t m;
		if (n != 1 || parse_value(args[0], unit, &m) || m == 0)
			goto bad;
		d->kind = FT_PKTGEN_DIST_EXP;
		d->mean = (double)m;
		return 0;
	}
	if ((n = func_args(buf, "pareto", args, 4)) >= 0) {
		char *end;
		if (n < 2 || n > 3)
			goto bad;
		d->alpha = strtod(args[0], &end);
		if (*end || !(d->alpha > 0))
			goto bad;
		if (parse_value(args[1], unit, &d->a) || d->a == 0)
			goto bad;
		if (n == 3 && (parse_value(args[2], unit, &d->b) || d->b < d->a))
			goto bad;
		d->kind = FT_PKTGEN_DIST_PARETO;
		return 0;
	}
	if ((n = func_args(buf, "uniform", args, 4)) >= 0) {
		if (n != 2 || parse_value(args[0], unit, &d->a) ||
		    parse_value(args[1], unit, &d->b) || d->b < d->a)
			goto bad;
		d->kind = FT_PKTGEN_DIST_UNIFORM;
		return 0;
	}
	if (strchr(buf, ':')) {
		double acc = 0;
		char *save = NULL;
		for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			char *colon = strchr(tok, ':');
			char *end;
			if (!colon || d->n == FT_PKTGEN_DIST_MAX_WEIGHTS)
				goto bad;
			*colon = 0;
			double w = strtod(colon + 1, &end);
			while (isspace((unsigned char)*end))
				end++;
			if (*end || !(w >= 0))
				goto bad;
			if (parse_value(tok, unit, &d->value[d->n]))
				goto bad;
			acc += w;
			d->cum[d->n++] = acc;
		}
		if (!(acc > 0))
			goto bad;
		for (uint32_t i = 0; i < d->n; i++)
			d->cum[i] /= acc;
		d->cum[d->n - 1] = 1.0;
		d->kind = FT_PKTGEN_DIST_WEIGHTED;
		return 0;
	}
	/* "A-B" (a range), but not a lone leading '-' */
	char *dash = strchr(buf + 1, '-');
	if (dash) {
		*dash = 0;
		if (parse_value(buf, unit, &d->a) || parse_value(dash + 1, unit, &d->b) ||
		    d->b < d->a)
			goto bad;
		d->kind = d->a == d->b ? FT_PKTGEN_DIST_FIXED : FT_PKTGEN_DIST_UNIFORM;
		return 0;
	}
	if (parse_value(buf, unit, &d->a))
		goto bad;
	d->kind = FT_PKTGEN_DIST_FIXED;
	return 0;
bad:
	pg_err(err, errlen,
	       "bad %s distribution '%s' (N, A-B, V:W,..., imix, exp(M), pareto(A,MIN[,MAX]), "
	       "uniform(A,B))",
	       unit == FT_PKTGEN_UNIT_TIME ? "time" : "value", s);
	return -EINVAL;
}

uint64_t
ft_pktgen_dist_draw(const struct ft_pktgen_dist *d, struct ft_pktgen_rng *r)
{
	switch (d->kind) {
	case FT_PKTGEN_DIST_FIXED:
		return d->a;
	case FT_PKTGEN_DIST_UNIFORM:
		if (d->b - d->a == UINT64_MAX)
			return ft_pktgen_rng_next(r);
		return d->a + ft_pktgen_rng_below(r, d->b - d->a + 1);
	case FT_PKTGEN_DIST_WEIGHTED: {
		double u = ft_pktgen_rng_double(r);
		uint32_t lo = 0, hi = d->n - 1;
		while (lo < hi) {
			uint32_t mid = (lo + hi) / 2;
			if (u < d->cum[mid])
				hi = mid;
			else
				lo = mid + 1;
		}
		return d->value[lo];
	}
	case FT_PKTGEN_DIST_EXP: {
		double u = ft_pktgen_rng_double(r);
		double v = -log1p(-u) * d->mean;
		return v > 1.8e19 ? UINT64_MAX : (uint64_t)llround(v);
	}
	case FT_PKTGEN_DIST_PARETO: {
		double u = ft_pktgen_rng_double(r);
		double v = (double)d->a / pow(1.0 - u, 1.0 / d->alpha);
		uint64_t x = v > 1.8e19 ? UINT64_MAX : (uint64_t)llround(v);
		if (d->b && x > d->b)
			x = d->b;
		return x;
	}
	}
	return 0;
}

uint64_t
ft_pktgen_dist_max(const struct ft_pktgen_dist *d)
{
	switch (d->kind) {
	case FT_PKTGEN_DIST_FIXED:
		return d->a;
	case FT_PKTGEN_DIST_UNIFORM:
		return d->b;
	case FT_PKTGEN_DIST_WEIGHTED: {
		uint64_t m = 0;
		for (uint32_t i = 0; i < d->n; i++)
			if (d->value[i] > m && (i == 0 ? d->cum[0] > 0 : d->cum[i] > d->cum[i - 1]))
				m = d->value[i];
		return m;
	}
	case FT_PKTGEN_DIST_EXP:
		return UINT64_MAX;
	case FT_PKTGEN_DIST_PARETO:
		return d->b ? d->b : UINT64_MAX;
	}
	return 0;
}

double
ft_pktgen_dist_mean(const struct ft_pktgen_dist *d)
{
	switch (d->kind) {
	case FT_PKTGEN_DIST_FIXED:
		return (double)d->a;
	case FT_PKTGEN_DIST_UNIFORM:
		return ((double)d->a + (double)d->b) / 2;
	case FT_PKTGEN_DIST_WEIGHTED: {
		double m = 0, prev = 0;
		for (uint32_t i = 0; i < d->n; i++) {
			m += (double)d->value[i] * (d->cum[i] - prev);
			prev = d->cum[i];
		}
		return m;
	}
	case FT_PKTGEN_DIST_EXP:
		return d->mean;
	case FT_PKTGEN_DIST_PARETO:
		return d->alpha > 1 ? d->alpha * (double)d->a / (d->alpha - 1) : (double)d->a * 10;
	}
	return 0;
}

uint64_t
pg_dist_min(const struct ft_pktgen_dist *d)
{
	switch (d->kind) {
	case FT_PKTGEN_DIST_FIXED:
	case FT_PKTGEN_DIST_UNIFORM:
	case FT_PKTGEN_DIST_PARETO:
		return d->a;
	case FT_PKTGEN_DIST_WEIGHTED: {
		uint64_t m = UINT64_MAX;
		for (uint32_t i = 0; i < d->n; i++)
			if (d->value[i] < m && (i == 0 ? d->cum[0] > 0 : d->cum[i] > d->cum[i - 1]))
				m = d->value[i];
		return m;
	}
	case FT_PKTGEN_DIST_EXP:
		return 0;
	}
	return 0;
}
