/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Scenario language: INI-like sections ([global], [class NAME], [pattern NAME])
 * of "key = value" lines; keys that describe lists (pattern, reorder, retransmit,
 * gap, wrap, zero_window, malformed) may repeat. The command line sets the very
 * same keys, so there is one validator per key.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pktgen.h"
#include "internal.h"

#define DEFAULT_START_TIME_NS 1700000000000000000ULL /* 2023-11-14T22:13:20Z */

struct ft_pktgen_scenario *
ft_pktgen_scenario_new(void)
{
	struct ft_pktgen_scenario *sc = calloc(1, sizeof(*sc));
	if (!sc)
		return NULL;
	sc->seed = 1;
	sc->start_time_ns = DEFAULT_START_TIME_NS;
	static const uint8_t a[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
	static const uint8_t b[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
	memcpy(sc->mac_fwd_src, a, 6);
	memcpy(sc->mac_fwd_dst, b, 6);
	return sc;
}

void
ft_pktgen_scenario_free(struct ft_pktgen_scenario *sc)
{
	if (!sc)
		return;
	for (unsigned i = 0; i < sc->n_patterns; i++) {
		free(sc->patterns[i].source);
		free(sc->patterns[i].literal);
		ft_pktgen_regex_free(sc->patterns[i].re);
	}
	free(sc->patterns);
	free(sc->classes);
	free(sc->name);
	free(sc);
}

uint64_t
pg_prefix_hosts(const struct ft_pktgen_prefix *p, int family)
{
	unsigned bits = (family == 4 ? 32u : 128u) - p->len;
	if (bits > 40)
		bits = 40;
	return 1ULL << bits;
}

void
pg_prefix_addr(const struct ft_pktgen_prefix *p, int family, uint64_t host, uint8_t *out)
{
	unsigned n = family == 4 ? 4 : 16;
	memcpy(out, p->addr, n);
	/* Add host to the low bits, big-endian; host < 2^(bits) so the prefix stays. */
	unsigned carry = 0;
	for (int i = (int)n - 1; i >= 0; i--) {
		unsigned v = out[i] + (unsigned)(host & 0xff) + carry;
		out[i] = (uint8_t)v;
		carry = v >> 8;
		host >>= 8;
	}
}

static uint32_t
l4_overhead(uint8_t proto)
{
	switch (proto) {
	case 6:
		return 20;
	case 132:
		return 12 + 16; /* common header + DATA chunk header */
	default:
		return 8;
	}
}

uint32_t
pg_class_hdr_len(const struct ft_pktgen_class *c, int ip_version)
{
	return 14u + 4u * c->vlan_count + (ip_version == 4 ? 20u : 40u) + l4_overhead(c->proto) +
	       ft_pktgen_encap_overhead((enum ft_pktgen_encap)c->encap);
}

uint32_t
pg_class_max_payload(const struct ft_pktgen_class *c, int ip_version)
{
	uint32_t o = (ip_version == 4 ? 20u : 40u) + l4_overhead(c->proto);
	uint32_t m = c->mtu > o ? c->mtu - o : 1;
	if (c->proto == 132)
		m &= ~3u;
	return m ? m : 1;
}

static int
parse_prefix(const char *s, struct ft_pktgen_prefix *p, int *family)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = 0;
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, buf, p->addr) == 1)
		*family = 4;
	else if (inet_pton(AF_INET6, buf, p->addr) == 1)
		*family = 6;
	else
		return -EINVAL;
	unsigned max = *family == 4 ? 32 : 128;
	unsigned long len = max;
	if (slash) {
		char *end;
		len = strtoul(slash + 1, &end, 10);
		if (*end || end == slash + 1 || len > max)
			return -EINVAL;
	}
	p->len = (uint8_t)len;
	/* Clear host bits so address numbering starts at the prefix. */
	for (unsigned bit = (unsigned)len; bit < max; bit++)
		p->addr[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
	return 0;
}

static int
parse_range16(const char *s, uint16_t *lo, uint16_t *hi)
{
	char *end;
	unsigned long a = strtoul(s, &end, 0), b = a;
	if (end == s)
		return -EINVAL;
	while (isspace((unsigned char)*end))
		end++;
	if (*end == '-') {
		const char *q = end + 1;
		b = strtoul(q, &end, 0);
		if (end == q)
			return -EINVAL;
	}
	while (isspace((unsigned char)*end))
		end++;
	if (*end || a > 65535 || b > 65535 || b < a)
		return -EINVAL;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

static int
parse_bool(const char *s, int *v)
{
	if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "on"))
		*v = 1;
	else if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "off"))
		*v = 0;
	else
		return -EINVAL;
	return 0;
}

static int
parse_double(const char *s, double *v, double lo, double hi)
{
	char *end;
	errno = 0;
	double x = strtod(s, &end);
	while (isspace((unsigned char)*end))
		end++;
	if (errno || end == s || *end || !(x >= lo && x <= hi))
		return -EINVAL;
	*v = x;
	return 0;
}

static int
parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;
	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (v[i] > 255)
			return -EINVAL;
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

int
ft_pktgen_parse_rate(const char *s, enum ft_pktgen_rate_kind *kind, double *rate)
{
	if (!strcmp(s, "max")) {
		*kind = FT_PKTGEN_RATE_MAX;
		*rate = 0;
		return 0;
	}
	if (!strcmp(s, "scenario")) {
		*kind = FT_PKTGEN_RATE_SCENARIO;
		*rate = 0;
		return 0;
	}
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || !(v > 0))
		return -EINVAL;
	double mul = 1;
	switch (*end) {
	case 'k':
	case 'K':
		mul = 1e3, end++;
		break;
	case 'M':
		mul = 1e6, end++;
		break;
	case 'G':
		mul = 1e9, end++;
		break;
	}
	if (!strcmp(end, "pps"))
		*kind = FT_PKTGEN_RATE_PPS;
	else if (!strcmp(end, "bps"))
		*kind = FT_PKTGEN_RATE_BPS;
	else
		return -EINVAL;
	*rate = v * mul;
	return 0;
}

/* Split "a b c" into words; "..." quotes keep spaces. Returns the count. */
static int
split_words(char *s, char **w, int max)
{
	int n = 0;
	while (*s) {
		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		if (n == max)
			return -1;
		if (*s == '"') {
			w[n++] = ++s;
			while (*s && *s != '"')
				s++;
			if (*s)
				*s++ = 0;
			continue;
		}
		w[n++] = s;
		while (*s && !isspace((unsigned char)*s))
			s++;
		if (*s)
			*s++ = 0;
	}
	return n;
}

/* C-style escapes of a literal: \\ \" \n \r \t \0 \xHH. Returns length or -1. */
static int
unescape(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	while (*s) {
		int c = (unsigned char)*s++;
		if (c == '\\') {
			switch (*s++) {
			case '\\':
				c = '\\';
				break;
			case '"':
				c = '"';
				break;
			case 'n':
				c = '\n';
				break;
			case 'r':
				c = '\r';
				break;
			case 't':
				c = '\t';
				break;
			case '0':
				c = 0;
				break;
			case 'x': {
				char hx[3] = {0};
				if (!isxdigit((unsigned char)s[0]) ||
				    !isxdigit((unsigned char)s[1]))
					return -1;
				hx[0] = s[0];
				hx[1] = s[1];
				c = (int)strtoul(hx, NULL, 16);
				s += 2;
				break;
			}
			default:
				return -1;
			}
		}
		if (n == cap)
			return -1;
		out[n++] = (uint8_t)c;
	}
	return (int)n;
}

static struct ft_pktgen_class *
find_class(struct ft_pktgen_scenario *sc, const char *name, int create)
{
	for (unsigned i = 0; i < sc->n_classes; i++)
		if (!strcmp(sc->classes[i].name, name))
			return &sc->classes[i];
	if (!create)
		return NULL;
	struct ft_pktgen_class *a = realloc(sc->classes, (sc->n_classes + 1) * sizeof(*a));
	if (!a)
		return NULL;
	sc->classes = a;
	struct ft_pktgen_class *c = &a[sc->n_classes];
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	unsigned idx = sc->n_classes++;
	c->count = 1;
	c->proto = 17;
	/* Each class gets its own default client prefix, so classes left at their
	 * defaults never share a 5-tuple. */
	parse_prefix("10.0.0.0/16", &c->src4, &(int){0});
	c->src4.addr[1] = (uint8_t)(1 + idx % 254);
	parse_prefix("10.255.0.0/16", &c->dst4, &(int){0});
	parse_prefix("fd00:1::/64", &c->src6, &(int){0});
	c->src6.addr[2] = (uint8_t)((1 + idx) >> 8);
	c->src6.addr[3] = (uint8_t)(1 + idx);
	parse_prefix("fd00:ffff::/64", &c->dst6, &(int){0});
	c->sport_lo = 1024;
	c->sport_hi = 65535;
	c->dport_lo = c->dport_hi = 5000; /* until proto or dport says otherwise */
	c->outer_tpid = 0x88a8;
	c->arrival = FT_PKTGEN_ARRIVAL_UNIFORM;
	c->spread_ns = 1000000000ULL;
	ft_pktgen_dist_parse(&c->packets, "10", FT_PKTGEN_UNIT_COUNT, NULL, 0);
	c->share = 0.5;
	ft_pktgen_dist_parse(&c->size, "100", FT_PKTGEN_UNIT_COUNT, NULL, 0);
	c->rate_pps = 0;
	ft_pktgen_dist_parse(&c->rtt, "1ms", FT_PKTGEN_UNIT_TIME, NULL, 0);
	c->rtt_server_share = 0.5;
	c->handshake = 1;
	c->teardown = FT_PKTGEN_TEARDOWN_FIN;
	c->idle_timeout_ns = UINT64_MAX; /* inherit the global value */
	c->ack_every = 2;
	c->window = 65535;
	c->filler = FT_PKTGEN_FILL_HIGH;
	c->mtu = 1500;
	return c;
}

static struct ft_pktgen_pattern *
find_pattern(struct ft_pktgen_scenario *sc, const char *name, int create)
{
	for (unsigned i = 0; i < sc->n_patterns; i++)
		if (!strcmp(sc->patterns[i].name, name))
			return &sc->patterns[i];
	if (!create)
		return NULL;
	struct ft_pktgen_pattern *a = realloc(sc->patterns, (sc->n_patterns + 1) * sizeof(*a));
	if (!a)
		return NULL;
	sc->patterns = a;
	struct ft_pktgen_pattern *p = &a[sc->n_patterns];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->id = sc->n_patterns + 1;
	sc->n_patterns++;
	return p;
}

static int
parse_dir(const char *s, uint8_t *dir)
{
	if (!strcmp(s, "fwd"))
		*dir = FT_PKTGEN_FWD;
	else if (!strcmp(s, "rev"))
		*dir = FT_PKTGEN_REV;
	else
		return -EINVAL;
	return 0;
}

/* TARGET: N (segment index), @OFFSET, p=PROB */
static int
parse_target(const char *s, struct ft_pktgen_path *pa)
{
	if (s[0] == '@') {
		pa->target = FT_PKTGEN_TARGET_OFFSET;
		return pg_parse_count(s + 1, &pa->at);
	}
	if (!strncmp(s, "p=", 2)) {
		pa->target = FT_PKTGEN_TARGET_PROB;
		return parse_double(s + 2, &pa->prob, 0, 1);
	}
	pa->target = FT_PKTGEN_TARGET_INDEX;
	return pg_parse_count(s, &pa->at);
}

static int
set_pattern_key(struct ft_pktgen_scenario *sc, struct ft_pktgen_pattern *p, const char *key,
		const char *value, char *err, size_t errlen)
{
	if (!strcmp(key, "id")) {
		uint64_t v;
		if (pg_parse_count(value, &v) || v > UINT32_MAX)
			goto bad;
		p->id = (uint32_t)v;
		return 0;
	}
	if (!strcmp(key, "literal") || !strcmp(key, "regex") || !strcmp(key, "rule")) {
		char *src = strdup(value);
		if (!src)
			return -ENOMEM;
		free(p->source);
		free(p->literal);
		ft_pktgen_regex_free(p->re);
		p->source = src;
		p->literal = NULL;
		p->re = NULL;
		p->literal_len = 0;
		if (!strcmp(key, "literal")) {
			uint8_t buf[FT_PKTGEN_MAX_PATTERN];
			int n = unescape(value, buf, sizeof(buf));
			if (n <= 0) {
				pg_err(err, errlen,
				       "pattern %s: bad literal '%s' (escapes: \\\\ \\\" \\n \\r "
				       "\\t \\0 \\xHH)",
				       p->name, value);
				return -EINVAL;
			}
			p->literal = malloc((size_t)n);
			if (!p->literal)
				return -ENOMEM;
			memcpy(p->literal, buf, (size_t)n);
			p->literal_len = (uint32_t)n;
			return 0;
		}
		const char *re = value;
		if (!strcmp(key, "rule")) {
			/* Hyperscan signature line: ID:/regex/flags */
			char *end;
			unsigned long id = strtoul(value, &end, 10);
			if (end == value || *end != ':' || end[1] != '/') {
				pg_err(err, errlen, "pattern %s: rule '%s' is not ID:/regex/flags",
				       p->name, value);
				return -EINVAL;
			}
			p->id = (uint32_t)id;
			re = end + 1;
		}
		char rerr[256] = "";
		p->re = ft_pktgen_regex_compile(re, rerr, sizeof(rerr));
		if (!p->re) {
			pg_err(err, errlen, "pattern %s: %s", p->name, rerr);
			return -EINVAL;
		}
		return 0;
	}
	(void)sc;
	pg_err(err, errlen, "pattern %s: unknown key '%s' (id, literal, regex, rule)", p->name,
	       key);
	return -EINVAL;
bad:
	pg_err(err, errlen, "pattern %s: bad value for %s: '%s'", p->name, key, value);
	return -EINVAL;
}

static int
set_class_key(struct ft_pktgen_scenario *sc, struct ft_pktgen_class *c, const char *key,
	      const char *value, char *err, size_t errlen)
{
	char buf[512];
	char *w[8];
	int nw;
	int fam;
	uint64_t v;

	if (!strcmp(key, "count") || !strcmp(key, "flows")) {
		if (pg_parse_count(value, &c->count))
			goto bad;
	} else if (!strcmp(key, "proto")) {
		if (!strcmp(value, "tcp"))
			c->proto = 6;
		else if (!strcmp(value, "udp"))
			c->proto = 17;
		else if (!strcmp(value, "sctp"))
			c->proto = 132;
		else if (!strcmp(value, "icmp"))
			c->proto = 1;
		else
			goto bad;
		if (!c->dport_set)
			c->dport_lo = c->dport_hi = c->proto == 6 ? 80 : 5000;
	} else if (!strcmp(key, "ip")) {
		if (!strcmp(value, "4"))
			c->v6_share = 0;
		else if (!strcmp(value, "6"))
			c->v6_share = 1;
		else if (!strcmp(value, "mix"))
			c->v6_share = 0.5;
		else if (!strncmp(value, "6:", 2)) {
			if (parse_double(value + 2, &c->v6_share, 0, 1))
				goto bad;
		} else
			goto bad;
	} else if (!strcmp(key, "src") || !strcmp(key, "dst") || !strcmp(key, "src6") ||
		   !strcmp(key, "dst6")) {
		struct ft_pktgen_prefix p;
		if (parse_prefix(value, &p, &fam))
			goto bad;
		if (fam == 4 && key[3] == '6')
			goto bad;
		if (key[0] == 's')
			*(fam == 4 ? &c->src4 : &c->src6) = p;
		else
			*(fam == 4 ? &c->dst4 : &c->dst6) = p;
	} else if (!strcmp(key, "sport")) {
		if (parse_range16(value, &c->sport_lo, &c->sport_hi))
			goto bad;
	} else if (!strcmp(key, "dport")) {
		if (parse_range16(value, &c->dport_lo, &c->dport_hi))
			goto bad;
		c->dport_set = 1;
	} else if (!strcmp(key, "vlan")) {
		if (!strcmp(value, "none")) {
			c->vlan_count = 0;
			return 0;
		}
		snprintf(buf, sizeof(buf), "%s", value);
		char *comma = strchr(buf, ',');
		if (comma)
			*comma = 0;
		if (parse_range16(buf, &c->vlan_lo[0], &c->vlan_hi[0]) || c->vlan_hi[0] > 4095)
			goto bad;
		c->vlan_count = 1;
		if (comma) {
			if (parse_range16(comma + 1, &c->vlan_lo[1], &c->vlan_hi[1]) ||
			    c->vlan_hi[1] > 4095)
				goto bad;
			c->vlan_count = 2;
		}
	} else if (!strcmp(key, "encap")) {
		int e;
		for (e = 0; e < FT_PKTGEN_ENCAP_MAX; e++)
			if (!strcmp(value, ft_pktgen_encap_names[e]))
				break;
		if (e == FT_PKTGEN_ENCAP_MAX)
			goto bad;
		c->encap = (uint8_t)e;
	} else if (!strcmp(key, "vlan_tpid")) {
		uint16_t a, b;
		if (parse_range16(value, &a, &b) || a != b ||
		    (a != 0x88a8 && a != 0x8100 && a != 0x9100))
			goto bad;
		c->outer_tpid = a;
	} else if (!strcmp(key, "arrival")) {
		if (!strcmp(value, "uniform"))
			c->arrival = FT_PKTGEN_ARRIVAL_UNIFORM;
		else if (!strcmp(value, "poisson"))
			c->arrival = FT_PKTGEN_ARRIVAL_POISSON;
		else if (!strncmp(value, "concurrency:", 12)) {
			if (pg_parse_count(value + 12, &c->concurrency) || !c->concurrency)
				goto bad;
			c->arrival = FT_PKTGEN_ARRIVAL_CONCURRENCY;
		} else
			goto bad;
	} else if (!strcmp(key, "concurrency")) {
		if (pg_parse_count(value, &c->concurrency) || !c->concurrency)
			goto bad;
		c->arrival = FT_PKTGEN_ARRIVAL_CONCURRENCY;
	} else if (!strcmp(key, "start")) {
		if (ft_pktgen_parse_time(value, &c->start_ns))
			goto bad;
	} else if (!strcmp(key, "spread")) {
		if (ft_pktgen_parse_time(value, &c->spread_ns))
			goto bad;
	} else if (!strcmp(key, "packets")) {
		if (ft_pktgen_dist_parse(&c->packets, value, FT_PKTGEN_UNIT_COUNT, err, errlen))
			goto badmsg;
		c->per_dir = 0;
	} else if (!strcmp(key, "packets_fwd") || !strcmp(key, "packets_rev")) {
		int d = key[8] == 'r';
		if (!c->per_dir) {
			/* The other direction starts at 0 until set. */
			ft_pktgen_dist_parse(&c->packets_dir[!d], "0", FT_PKTGEN_UNIT_COUNT, NULL,
					     0);
			c->per_dir = 1;
		}
		if (ft_pktgen_dist_parse(&c->packets_dir[d], value, FT_PKTGEN_UNIT_COUNT, err,
					 errlen))
			goto badmsg;
	} else if (!strcmp(key, "share")) {
		if (parse_double(value, &c->share, 0, 1))
			goto bad;
	} else if (!strcmp(key, "order")) {
		if (!strcmp(value, "interleave"))
			c->order_request = 0;
		else if (!strcmp(value, "request"))
			c->order_request = 1;
		else
			goto bad;
	} else if (!strcmp(key, "size")) {
		if (ft_pktgen_dist_parse(&c->size, value, FT_PKTGEN_UNIT_COUNT, err, errlen))
			goto badmsg;
	} else if (!strcmp(key, "rate")) {
		enum ft_pktgen_rate_kind k;
		double r;
		if (ft_pktgen_parse_rate(value, &k, &r) ||
		    (k != FT_PKTGEN_RATE_PPS && k != FT_PKTGEN_RATE_BPS))
			goto bad;
		c->rate_pps = k == FT_PKTGEN_RATE_PPS ? r : 0;
		c->rate_bps = k == FT_PKTGEN_RATE_BPS ? r : 0;
		c->has_duration = 0;
	} else if (!strcmp(key, "duration")) {
		if (ft_pktgen_dist_parse(&c->duration, value, FT_PKTGEN_UNIT_TIME, err, errlen))
			goto badmsg;
		c->has_duration = 1;
		c->rate_pps = c->rate_bps = 0;
	} else if (!strcmp(key, "spacing")) {
		if (!strcmp(value, "fixed"))
			c->gap_exp = 0;
		else if (!strcmp(value, "exp"))
			c->gap_exp = 1;
		else
			goto bad;
	} else if (!strcmp(key, "rtt")) {
		if (ft_pktgen_dist_parse(&c->rtt, value, FT_PKTGEN_UNIT_TIME, err, errlen))
			goto badmsg;
	} else if (!strcmp(key, "rtt_server_share")) {
		if (parse_double(value, &c->rtt_server_share, 0, 1))
			goto bad;
	} else if (!strcmp(key, "handshake")) {
		if (parse_bool(value, &c->handshake))
			goto bad;
	} else if (!strcmp(key, "teardown")) {
		if (!strcmp(value, "fin"))
			c->teardown = FT_PKTGEN_TEARDOWN_FIN;
		else if (!strcmp(value, "fin-rev"))
			c->teardown = FT_PKTGEN_TEARDOWN_FIN_REV;
		else if (!strcmp(value, "rst"))
			c->teardown = FT_PKTGEN_TEARDOWN_RST;
		else if (!strcmp(value, "rst-rev"))
			c->teardown = FT_PKTGEN_TEARDOWN_RST_REV;
		else if (!strcmp(value, "none"))
			c->teardown = FT_PKTGEN_TEARDOWN_NONE;
		else
			goto bad;
	} else if (!strcmp(key, "idle_timeout")) {
		if (!strcmp(value, "none"))
			c->idle_timeout_ns = 0;
		else if (ft_pktgen_parse_time(value, &c->idle_timeout_ns) || !c->idle_timeout_ns)
			goto bad;
	} else if (!strcmp(key, "ack_every")) {
		if (pg_parse_count(value, &v) || v > 1000000)
			goto bad;
		c->ack_every = (uint32_t)v;
	} else if (!strcmp(key, "window")) {
		if (pg_parse_count(value, &v) || v > 65535)
			goto bad;
		c->window = (uint16_t)v;
	} else if (!strcmp(key, "filler")) {
		if (!strcmp(value, "high"))
			c->filler = FT_PKTGEN_FILL_HIGH;
		else if (!strcmp(value, "zero"))
			c->filler = FT_PKTGEN_FILL_ZERO;
		else if (!strcmp(value, "random"))
			c->filler = FT_PKTGEN_FILL_RANDOM;
		else if (!strcmp(value, "text"))
			c->filler = FT_PKTGEN_FILL_TEXT;
		else
			goto bad;
	} else if (!strcmp(key, "mtu")) {
		if (pg_parse_count(value, &v) || v < 68 || v > FT_PKTGEN_MAX_FRAME - 22)
			goto bad;
		c->mtu = (uint32_t)v;
	} else if (!strcmp(key, "pattern")) {
		/* NAME DIR OFFSET [split=N] [fraction=F] */
		struct ft_pktgen_place pl = {.split = 1, .fraction = 1};
		snprintf(buf, sizeof(buf), "%s", value);
		nw = split_words(buf, w, 8);
		if (nw < 3 || c->n_place == FT_PKTGEN_MAX_PLACE)
			goto bad;
		struct ft_pktgen_pattern *p = find_pattern(sc, w[0], 0);
		if (!p) {
			pg_err(err, errlen,
			       "class %s: pattern '%s' is not defined (add a [pattern %s] section "
			       "before it)",
			       c->name, w[0], w[0]);
			return -EINVAL;
		}
		pl.pattern = (uint16_t)(p - sc->patterns);
		if (parse_dir(w[1], &pl.dir) ||
		    pg_parse_count(w[2][0] == '@' ? w[2] + 1 : w[2], &pl.offset))
			goto bad;
		for (int i = 3; i < nw; i++) {
			if (!strncmp(w[i], "split=", 6)) {
				if (pg_parse_count(w[i] + 6, &v) || v < 1 ||
				    v > FT_PKTGEN_MAX_SPLIT)
					goto bad;
				pl.split = (uint8_t)v;
			} else if (!strncmp(w[i], "fraction=", 9)) {
				if (parse_double(w[i] + 9, &pl.fraction, 0, 1))
					goto bad;
			} else
				goto bad;
		}
		c->place[c->n_place++] = pl;
	} else if (!strcmp(key, "reorder") || !strcmp(key, "retransmit") || !strcmp(key, "gap") ||
		   !strcmp(key, "wrap") || !strcmp(key, "zero_window")) {
		struct ft_pktgen_path pa = {.n = 1, .pattern = -1};
		snprintf(buf, sizeof(buf), "%s", value);
		nw = split_words(buf, w, 8);
		if (nw < 2 || c->n_path == FT_PKTGEN_MAX_PATH || parse_dir(w[0], &pa.dir))
			goto bad;
		int i = 2;
		if (!strcmp(key, "wrap") || !strcmp(key, "zero_window")) {
			pa.kind = key[0] == 'w' ? FT_PKTGEN_PATH_WRAP : FT_PKTGEN_PATH_ZERO_WINDOW;
			pa.target = FT_PKTGEN_TARGET_OFFSET;
			if (pg_parse_count(w[1][0] == '@' ? w[1] + 1 : w[1], &pa.at))
				goto bad;
			if (pa.kind == FT_PKTGEN_PATH_ZERO_WINDOW) {
				if (nw < 3 || ft_pktgen_parse_time(w[2], &pa.dur_ns) || !pa.dur_ns)
					goto bad;
				i = 3;
			}
			if (pa.kind == FT_PKTGEN_PATH_WRAP && pa.at > UINT32_MAX)
				goto bad;
		} else {
			pa.kind = !strcmp(key, "gap")	    ? FT_PKTGEN_PATH_GAP
				  : !strcmp(key, "reorder") ? FT_PKTGEN_PATH_REORDER
							    : FT_PKTGEN_PATH_RETRANS;
			if (parse_target(w[1], &pa))
				goto bad;
		}
		for (; i < nw; i++) {
			if (pa.kind == FT_PKTGEN_PATH_REORDER && !strncmp(w[i], "by=", 3)) {
				if (pg_parse_count(w[i] + 3, &v) || !v || v > 1000)
					goto bad;
				pa.n = (uint32_t)v;
			} else if ((pa.kind == FT_PKTGEN_PATH_RETRANS ||
				    pa.kind == FT_PKTGEN_PATH_CONFLICT) &&
				   !strncmp(w[i], "after=", 6)) {
				if (pg_parse_count(w[i] + 6, &v) || v > 1000)
					goto bad;
				pa.n = (uint32_t)v;
			} else if ((pa.kind == FT_PKTGEN_PATH_RETRANS ||
				    pa.kind == FT_PKTGEN_PATH_CONFLICT) &&
				   (!strcmp(w[i], "same") || !strcmp(w[i], "conflict"))) {
				pa.kind = w[i][0] == 's' ? FT_PKTGEN_PATH_RETRANS
							 : FT_PKTGEN_PATH_CONFLICT;
			} else if (pa.kind == FT_PKTGEN_PATH_CONFLICT &&
				   !strncmp(w[i], "pattern=", 8)) {
				struct ft_pktgen_pattern *p = find_pattern(sc, w[i] + 8, 0);
				if (!p) {
					pg_err(err, errlen, "class %s: pattern '%s' is not defined",
					       c->name, w[i] + 8);
					return -EINVAL;
				}
				pa.pattern = (int)(p - sc->patterns);
			} else
				goto bad;
		}
		c->path[c->n_path++] = pa;
	} else if (!strcmp(key, "malformed")) {
		snprintf(buf, sizeof(buf), "%s", value);
		nw = split_words(buf, w, 8);
		int k;
		if (nw < 1 || nw > 2 || (k = ft_pktgen_malformed_lookup(w[0])) < 0) {
			pg_err(err, errlen,
			       "class %s: bad malformed '%s' (KIND [COUNT]; kinds:", c->name,
			       value);
			size_t l = strlen(err);
			for (int i = 0; i < FT_PKTGEN_MAL_MAX && err && l + 24 < errlen; i++)
				l += (size_t)snprintf(err + l, errlen - l, " %s",
						      ft_pktgen_malformed_names[i]);
			if (err && l + 2 < errlen)
				strcat(err, ")");
			return -EINVAL;
		}
		v = 1;
		if (nw == 2 && pg_parse_count(w[1], &v))
			goto bad;
		c->malformed[k] += v;
	} else {
		pg_err(err, errlen, "class %s: unknown key '%s'", c->name, key);
		return -EINVAL;
	}
	return 0;
bad:
	pg_err(err, errlen, "class %s: bad value for %s: '%s'", c->name, key, value);
	return -EINVAL;
badmsg : {
	char tmp[256];
	snprintf(tmp, sizeof(tmp), "%s", err ? err : "");
	pg_err(err, errlen, "class %s: %s: %s", c->name, key, tmp);
	return -EINVAL;
}
}

static int
set_global_key(struct ft_pktgen_scenario *sc, const char *key, const char *value, char *err,
	       size_t errlen)
{
	if (!strcmp(key, "seed")) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(value, &end, 0);
		if (errno || end == value || *end)
			goto bad;
		sc->seed = v;
	} else if (!strcmp(key, "start_time")) {
		/* Seconds since the epoch, with up to 9 decimals. */
		char *end;
		errno = 0;
		unsigned long long s = strtoull(value, &end, 10);
		uint64_t ns = 0;
		if (errno || end == value)
			goto bad;
		if (*end == '.') {
			uint64_t scale = 100000000;
			for (end++; isdigit((unsigned char)*end); end++) {
				ns += (uint64_t)(*end - '0') * scale;
				scale /= 10;
			}
		}
		if (*end || s > 18000000000ULL)
			goto bad;
		sc->start_time_ns = s * 1000000000ULL + ns;
	} else if (!strcmp(key, "idle_timeout")) {
		if (!strcmp(value, "none"))
			sc->idle_timeout_ns = 0;
		else if (ft_pktgen_parse_time(value, &sc->idle_timeout_ns) || !sc->idle_timeout_ns)
			goto bad;
	} else if (!strcmp(key, "mac_src")) {
		if (parse_mac(value, sc->mac_fwd_src))
			goto bad;
	} else if (!strcmp(key, "mac_dst")) {
		if (parse_mac(value, sc->mac_fwd_dst))
			goto bad;
	} else if (!strcmp(key, "name")) {
		char *n = strdup(value);
		if (!n)
			return -ENOMEM;
		free(sc->name);
		sc->name = n;
	} else {
		pg_err(err, errlen, "unknown global key '%s'", key);
		return -EINVAL;
	}
	return 0;
bad:
	pg_err(err, errlen, "bad value for %s: '%s'", key, value);
	return -EINVAL;
}

int
ft_pktgen_scenario_set(struct ft_pktgen_scenario *sc, const char *section, const char *key,
		       const char *value, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = 0;
	if (!section || !*section || !strcmp(section, "global"))
		return set_global_key(sc, key, value, err, errlen);
	if (!strncmp(section, "class ", 6)) {
		struct ft_pktgen_class *c = find_class(sc, section + 6, 1);
		if (!c)
			return -ENOMEM;
		return set_class_key(sc, c, key, value, err, errlen);
	}
	if (!strncmp(section, "pattern ", 8)) {
		struct ft_pktgen_pattern *p = find_pattern(sc, section + 8, 1);
		if (!p)
			return -ENOMEM;
		return set_pattern_key(sc, p, key, value, err, errlen);
	}
	pg_err(err, errlen, "unknown section [%s] (global, class NAME, pattern NAME)", section);
	return -EINVAL;
}

static char *
trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

int
ft_pktgen_scenario_parse(struct ft_pktgen_scenario *sc, const char *text, const char *name,
			 char *err, size_t errlen)
{
	char section[FT_PKTGEN_NAME_LEN + 16] = "";
	char *copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	int rc = 0;
	unsigned lineno = 0;
	char *line = copy;
	while (line) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		lineno++;
		/* A '#' starts a comment unless inside quotes. */
		int q = 0;
		for (char *p = line; *p; p++) {
			if (*p == '"' && (p == line || p[-1] != '\\'))
				q = !q;
			else if (*p == '#' && !q) {
				*p = 0;
				break;
			}
		}
		char *s = trim(line);
		if (!*s)
			goto next;
		if (*s == '[') {
			char *close = strchr(s, ']');
			if (!close || close[1]) {
				pg_err(err, errlen, "%s:%u: bad section header", name, lineno);
				rc = -EINVAL;
				break;
			}
			*close = 0;
			char *sec = trim(s + 1);
			char kind[16], sname[64], extra;
			int n = sscanf(sec, "%15s %63s %c", kind, sname, &extra);
			if (n == 1 && !strcmp(kind, "global")) {
				section[0] = 0;
			} else if (n == 2 && (!strcmp(kind, "class") || !strcmp(kind, "pattern")) &&
				   strlen(sname) < FT_PKTGEN_NAME_LEN) {
				snprintf(section, sizeof(section), "%s %s", kind, sname);
				/* Create it now so an empty section still exists. */
				if (!strcmp(kind, "class") ? !find_class(sc, sname, 1)
							   : !find_pattern(sc, sname, 1)) {
					rc = -ENOMEM;
					break;
				}
				if (!strcmp(kind, "class"))
					find_class(sc, sname, 0)->line = lineno;
			} else {
				pg_err(err, errlen,
				       "%s:%u: unknown section [%s] (global, class NAME, pattern "
				       "NAME)",
				       name, lineno, sec);
				rc = -EINVAL;
				break;
			}
			goto next;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			pg_err(err, errlen, "%s:%u: expected key = value", name, lineno);
			rc = -EINVAL;
			break;
		}
		*eq = 0;
		char *key = trim(s);
		char *value = trim(eq + 1);
		size_t vl = strlen(value);
		/* One pair of quotes around a whole value is dropped (literal keys keep
		 * inner escapes). */
		if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"' &&
		    !strchr(value + 1, '"')[1]) {
			value[vl - 1] = 0;
			value++;
		}
		char msg[512];
		rc = ft_pktgen_scenario_set(sc, section, key, value, msg, sizeof(msg));
		if (rc) {
			pg_err(err, errlen, "%s:%u: %s", name, lineno, msg);
			break;
		}
	next:
		line = nl ? nl + 1 : NULL;
	}
	free(copy);
	return rc;
}

int
ft_pktgen_scenario_load(struct ft_pktgen_scenario *sc, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		pg_err(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	size_t n;
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 == cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	buf[len] = 0;
	int rc = ft_pktgen_scenario_parse(sc, buf, path, err, errlen);
	free(buf);
	return rc;
}

/* ---- validation ------------------------------------------------------------ */

/* Address prefixes overlap when one contains the other. */
static int
prefix_overlap(const struct ft_pktgen_prefix *a, const struct ft_pktgen_prefix *b, int family)
{
	unsigned len = a->len < b->len ? a->len : b->len;
	unsigned nbytes = family == 4 ? 4 : 16;
	for (unsigned bit = 0; bit < len && bit / 8 < nbytes; bit++) {
		uint8_t m = (uint8_t)(0x80 >> (bit % 8));
		if ((a->addr[bit / 8] & m) != (b->addr[bit / 8] & m))
			return 0;
	}
	return 1;
}

static int
range_overlap(uint16_t alo, uint16_t ahi, uint16_t blo, uint16_t bhi)
{
	return alo <= bhi && blo <= ahi;
}

static int
uses_ports(uint8_t proto)
{
	return proto != 1 && proto != 58;
}

/* Can a flow of class a and one of class b (or a reversed) share a bidirectional
 * key? Needs the same protocol and family, overlapping addresses and ports. */
static int
classes_may_collide(const struct ft_pktgen_class *a, const struct ft_pktgen_class *b, int family,
		    int reversed)
{
	const struct ft_pktgen_prefix *as = family == 4 ? &a->src4 : &a->src6;
	const struct ft_pktgen_prefix *ad = family == 4 ? &a->dst4 : &a->dst6;
	const struct ft_pktgen_prefix *bs = family == 4 ? &b->src4 : &b->src6;
	const struct ft_pktgen_prefix *bd = family == 4 ? &b->dst4 : &b->dst6;
	if (reversed) {
		const struct ft_pktgen_prefix *t = bs;
		bs = bd;
		bd = t;
	}
	if (!prefix_overlap(as, bs, family) || !prefix_overlap(ad, bd, family))
		return 0;
	if (!uses_ports(a->proto))
		return 1;
	if (!reversed)
		return range_overlap(a->sport_lo, a->sport_hi, b->sport_lo, b->sport_hi) &&
		       range_overlap(a->dport_lo, a->dport_hi, b->dport_lo, b->dport_hi);
	return range_overlap(a->sport_lo, a->sport_hi, b->dport_lo, b->dport_hi) &&
	       range_overlap(a->dport_lo, a->dport_hi, b->sport_lo, b->sport_hi);
}

static int
class_families(const struct ft_pktgen_class *c, int family)
{
	return family == 4 ? c->v6_share < 1 : c->v6_share > 0;
}

int
ft_pktgen_scenario_validate(const struct ft_pktgen_scenario *sc, char *err, size_t errlen)
{
	if (!sc->n_classes) {
		pg_err(err, errlen, "the scenario has no [class] (or use --flows)");
		return -EINVAL;
	}
	for (unsigned i = 0; i < sc->n_patterns; i++) {
		const struct ft_pktgen_pattern *p = &sc->patterns[i];
		if (!p->literal && !p->re) {
			pg_err(err, errlen, "pattern %s: needs literal, regex or rule", p->name);
			return -EINVAL;
		}
	}
	for (unsigned ci = 0; ci < sc->n_classes; ci++) {
		const struct ft_pktgen_class *c = &sc->classes[ci];
		const char *cn = c->name;
		uint64_t timeout =
			c->idle_timeout_ns == UINT64_MAX ? sc->idle_timeout_ns : c->idle_timeout_ns;
		for (int fam = 4; fam <= 6; fam += 2) {
			if (!class_families(c, fam))
				continue;
			const struct ft_pktgen_prefix *s = fam == 4 ? &c->src4 : &c->src6;
			const struct ft_pktgen_prefix *d = fam == 4 ? &c->dst4 : &c->dst6;
			if (prefix_overlap(s, d, fam) &&
			    (!uses_ports(c->proto) ||
			     range_overlap(c->sport_lo, c->sport_hi, c->dport_lo, c->dport_hi))) {
				pg_err(err, errlen,
				       "class %s: src and dst IPv%d ranges overlap (and so do the "
				       "ports): flows could meet reversed",
				       cn, fam);
				return -EINVAL;
			}
			long double space = (long double)pg_prefix_hosts(s, fam) *
					    (long double)pg_prefix_hosts(d, fam);
			if (uses_ports(c->proto))
				space *= (long double)(c->sport_hi - c->sport_lo + 1) *
					 (long double)(c->dport_hi - c->dport_lo + 1);
			if (space < (long double)c->count) {
				pg_err(err, errlen,
				       "class %s: %llu flows do not fit in the IPv%d address/port "
				       "space (%.0Lf distinct 5-tuples)",
				       cn, (unsigned long long)c->count, fam, space);
				return -EINVAL;
			}
			for (unsigned cj = 0; cj < ci; cj++) {
				const struct ft_pktgen_class *o = &sc->classes[cj];
				if (o->proto != c->proto || !class_families(o, fam))
					continue;
				if (classes_may_collide(c, o, fam, 0) ||
				    classes_may_collide(c, o, fam, 1)) {
					pg_err(err, errlen,
					       "classes %s and %s may produce the same IPv%d "
					       "5-tuple: give them disjoint src/dst prefixes or "
					       "ports",
					       o->name, cn, fam);
					return -EINVAL;
				}
			}
		}
		if (c->arrival == FT_PKTGEN_ARRIVAL_CONCURRENCY && !c->concurrency) {
			pg_err(err, errlen, "class %s: concurrency must be >= 1", cn);
			return -EINVAL;
		}
		uint64_t smax = ft_pktgen_dist_max(&c->size);
		if (smax > FT_PKTGEN_MAX_FRAME || pg_dist_min(&c->size) < 1) {
			pg_err(err, errlen, "class %s: frame sizes must be within 1..%u", cn,
			       FT_PKTGEN_MAX_FRAME);
			return -EINVAL;
		}
		if (c->proto != 6 && c->n_path) {
			pg_err(err, errlen,
			       "class %s: reorder/retransmit/gap/wrap/zero_window need proto tcp",
			       cn);
			return -EINVAL;
		}
		if (timeout && timeout != UINT64_MAX) {
			uint64_t rtt = ft_pktgen_dist_max(&c->rtt);
			if (c->proto == 6 && c->handshake && rtt >= timeout) {
				pg_err(err, errlen,
				       "class %s: rtt reaches idle_timeout: the flow would be "
				       "split",
				       cn);
				return -EINVAL;
			}
			uint64_t pmin = c->per_dir ? pg_dist_min(&c->packets_dir[0]) +
							     pg_dist_min(&c->packets_dir[1])
						   : pg_dist_min(&c->packets);
			uint64_t dmax = c->has_duration ? ft_pktgen_dist_max(&c->duration) : 0;
			if (c->has_duration && !c->gap_exp && pmin > 1 &&
			    dmax / (pmin - 1) >= timeout) {
				pg_err(err, errlen,
				       "class %s: duration over packets leaves gaps longer than "
				       "idle_timeout",
				       cn);
				return -EINVAL;
			}
			if (c->rate_pps && 1e9 / c->rate_pps >= (double)timeout) {
				pg_err(err, errlen,
				       "class %s: the per-flow rate leaves gaps longer than "
				       "idle_timeout",
				       cn);
				return -EINVAL;
			}
			for (unsigned k = 0; k < c->n_path; k++)
				if (c->path[k].kind == FT_PKTGEN_PATH_ZERO_WINDOW &&
				    c->path[k].dur_ns >= timeout) {
					pg_err(err, errlen,
					       "class %s: zero_window lasts longer than "
					       "idle_timeout",
					       cn);
					return -EINVAL;
				}
		}
		for (unsigned k = 0; k < c->n_place; k++) {
			const struct ft_pktgen_place *pl = &c->place[k];
			const struct ft_pktgen_pattern *p = &sc->patterns[pl->pattern];
			uint32_t minl =
				p->literal ? p->literal_len : ft_pktgen_regex_min_len(p->re);
			uint32_t maxl =
				p->literal ? p->literal_len : ft_pktgen_regex_max_len(p->re);
			if (pl->split > minl) {
				pg_err(err, errlen,
				       "class %s: pattern %s is %u bytes: it cannot span %u "
				       "segments",
				       cn, p->name, minl, pl->split);
				return -EINVAL;
			}
			uint32_t maxp = pg_class_max_payload(c, c->v6_share > 0 ? 6 : 4);
			if ((maxl + pl->split - 1) / pl->split + 1 > maxp) {
				pg_err(err, errlen,
				       "class %s: pattern %s pieces (%u bytes over %u segments) "
				       "exceed the largest segment (%u bytes at mtu %u)",
				       cn, p->name, maxl, pl->split, maxp, c->mtu);
				return -EINVAL;
			}
			for (unsigned m = 0; m < k; m++) {
				const struct ft_pktgen_place *q = &c->place[m];
				const struct ft_pktgen_pattern *qp = &sc->patterns[q->pattern];
				uint32_t qmax = qp->literal ? qp->literal_len
							    : ft_pktgen_regex_max_len(qp->re);
				if (q->dir == pl->dir && pl->offset < q->offset + qmax &&
				    q->offset < pl->offset + maxl) {
					pg_err(err, errlen,
					       "class %s: placements of %s and %s may overlap in "
					       "the %s stream",
					       cn, qp->name, p->name, pl->dir ? "rev" : "fwd");
					return -EINVAL;
				}
			}
		}
		if (c->encap != FT_PKTGEN_ENCAP_NONE && c->vlan_count &&
		    c->encap != FT_PKTGEN_ENCAP_VXLAN && c->encap != FT_PKTGEN_ENCAP_GENEVE) {
			pg_err(err, errlen, "class %s: encap = %s carries IP packets: no vlan", cn,
			       ft_pktgen_encap_names[c->encap]);
			return -EINVAL;
		}
		for (int k = 0; k < FT_PKTGEN_MAL_MAX; k++) {
			if (!c->malformed[k])
				continue;
			if (c->encap != FT_PKTGEN_ENCAP_NONE) {
				pg_err(err, errlen,
				       "class %s: malformed packets in a tunnel (encap) are not "
				       "made",
				       cn);
				return -EINVAL;
			}
			int ok = 0;
			for (int fam = 4; fam <= 6; fam += 2)
				if (class_families(c, fam) &&
				    ft_pktgen_malformed_applies(
					    k, fam, fam == 6 && c->proto == 1 ? 58 : c->proto))
					ok = 1;
			if (!ok) {
				pg_err(err, errlen,
				       "class %s: malformed %s does not apply to its flows", cn,
				       ft_pktgen_malformed_names[k]);
				return -EINVAL;
			}
		}
	}
	return 0;
}
