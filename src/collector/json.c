/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * JSON lines for flow records and match events. This is the collector's hot
 * path (millions of records per second), so numbers, addresses and times are
 * formatted by hand:
 * snprintf and inet_ntop cost several times the rest of the line, and gmtime_r
 * takes glibc's timezone lock.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "collector.h"

static const char digit_pairs[201] = "00010203040506070809"
				     "10111213141516171819"
				     "20212223242526272829"
				     "30313233343536373839"
				     "40414243444546474849"
				     "50515253545556575859"
				     "60616263646566676869"
				     "70717273747576777879"
				     "80818283848586878889"
				     "90919293949596979899";

#define PUT(p, lit)                                                                                \
	do {                                                                                       \
		memcpy((p), (lit), sizeof(lit) - 1);                                               \
		(p) += sizeof(lit) - 1;                                                            \
	} while (0)

/* Below 10^8: digit pairs from the right. */
static inline char *
put_u32_small(char *p, uint32_t v)
{
	unsigned int len = v < 10	  ? 1
			   : v < 100	  ? 2
			   : v < 1000	  ? 3
			   : v < 10000	  ? 4
			   : v < 100000	  ? 5
			   : v < 1000000  ? 6
			   : v < 10000000 ? 7
					  : 8;
	char *end = p + len;
	char *q = end;

	while (v >= 100) {
		q -= 2;
		memcpy(q, digit_pairs + (v % 100) * 2, 2);
		v /= 100;
	}
	if (v >= 10) {
		q -= 2;
		memcpy(q, digit_pairs + v * 2, 2);
	} else {
		*--q = (char)('0' + v);
	}
	return end;
}

/* Exactly 8 digits; the four pairs do not depend on each other. */
static inline void
put_8d(char *p, uint32_t v)
{
	uint32_t hi = v / 10000, lo = v % 10000;

	memcpy(p, digit_pairs + (hi / 100) * 2, 2);
	memcpy(p + 2, digit_pairs + (hi % 100) * 2, 2);
	memcpy(p + 4, digit_pairs + (lo / 100) * 2, 2);
	memcpy(p + 6, digit_pairs + (lo % 100) * 2, 2);
}

/* Timestamps and flow ids have 17-20 digits: format them in independent
 * 8-digit chunks rather than one long chain of divisions. */
static inline char *
put_u64(char *p, uint64_t v)
{
	uint64_t rest;

	if (v < 100000000ULL)
		return put_u32_small(p, (uint32_t)v);
	if (v < 10000000000000000ULL) {
		p = put_u32_small(p, (uint32_t)(v / 100000000ULL));
		put_8d(p, (uint32_t)(v % 100000000ULL));
		return p + 8;
	}
	p = put_u32_small(p, (uint32_t)(v / 10000000000000000ULL));
	rest = v % 10000000000000000ULL;
	put_8d(p, (uint32_t)(rest / 100000000ULL));
	put_8d(p + 8, (uint32_t)(rest % 100000000ULL));
	return p + 16;
}

static inline char *
put_2d(char *p, unsigned int v)
{
	memcpy(p, digit_pairs + v * 2, 2);
	return p + 2;
}

/* Howard Hinnant's days -> civil date: exact over the proleptic Gregorian
 * calendar, integer only. */
static void
civil_from_days(uint64_t days, unsigned int *y, unsigned int *m, unsigned int *d)
{
	uint64_t z = days + 719468;
	uint64_t era = z / 146097;
	uint64_t doe = z - era * 146097;
	uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	uint64_t mp = (5 * doy + 2) / 153;

	*d = (unsigned int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (unsigned int)(yoe + era * 400 + (*m <= 2));
}

static void
format_date(char *p, uint64_t days)
{
	unsigned int y, mo, d;

	civil_from_days(days, &y, &mo, &d);
	p = put_2d(p, y / 100);
	p = put_2d(p, y % 100);
	*p++ = '-';
	p = put_2d(p, mo);
	*p++ = '-';
	put_2d(p, d);
}

static inline char *
put_rfc3339(char *p, uint64_t ns)
{
	/* Records of a run mostly share a day: remember the last one. */
	static __thread uint64_t cached_days = UINT64_MAX;
	static __thread char cached_date[10];
	uint64_t secs = ns / 1000000000ULL;
	uint64_t days = secs / 86400;
	unsigned int frac = (unsigned int)(ns % 1000000000ULL);
	unsigned int sod = (unsigned int)(secs % 86400);

	if (__builtin_expect(days != cached_days, 0)) {
		format_date(cached_date, days);
		cached_days = days;
	}
	memcpy(p, cached_date, 10);
	p += 10;
	*p++ = 'T';
	p = put_2d(p, sod / 3600);
	*p++ = ':';
	p = put_2d(p, sod / 60 % 60);
	*p++ = ':';
	p = put_2d(p, sod % 60);
	*p++ = '.';
	/* 9 digits: 1 + 4 pairs */
	*p++ = (char)('0' + frac / 100000000);
	frac %= 100000000;
	p = put_2d(p, frac / 1000000);
	p = put_2d(p, frac / 10000 % 100);
	p = put_2d(p, frac / 100 % 100);
	p = put_2d(p, frac % 100);
	*p++ = 'Z';
	return p;
}

size_t
ft_format_rfc3339(char *buf, uint64_t ns)
{
	char *p = put_rfc3339(buf, ns);

	*p = '\0';
	return (size_t)(p - buf);
}

/* Decimal text of every octet, 4 bytes each, and its length: a table lookup
 * instead of two data-dependent branches per octet. */
static struct {
	char text[4];
	uint8_t len;
} octet_text[256];

static void __attribute__((constructor)) octet_text_init(void)
{
	unsigned int v;

	for (v = 0; v < 256; v++) {
		char *t = octet_text[v].text;

		if (v >= 100) {
			t[0] = (char)('0' + v / 100);
			t[1] = (char)('0' + v / 10 % 10);
			t[2] = (char)('0' + v % 10);
			octet_text[v].len = 3;
		} else if (v >= 10) {
			t[0] = (char)('0' + v / 10);
			t[1] = (char)('0' + v % 10);
			octet_text[v].len = 2;
		} else {
			t[0] = (char)('0' + v);
			octet_text[v].len = 1;
		}
	}
}

static inline char *
put_octet(char *p, unsigned int v)
{
	memcpy(p, octet_text[v].text, 4);
	return p + octet_text[v].len;
}

static inline char *
put_ipv4(char *p, const uint8_t *a)
{
	p = put_octet(p, a[0]);
	*p++ = '.';
	p = put_octet(p, a[1]);
	*p++ = '.';
	p = put_octet(p, a[2]);
	*p++ = '.';
	return put_octet(p, a[3]);
}

size_t
ft_format_ipv4(char *buf, const uint8_t *addr)
{
	char *p = put_ipv4(buf, addr);

	*p = '\0';
	return (size_t)(p - buf);
}

static inline char *
put_hex16(char *p, unsigned int v)
{
	static const char hex[] = "0123456789abcdef";

	if (v >= 0x1000)
		*p++ = hex[v >> 12];
	if (v >= 0x100)
		*p++ = hex[(v >> 8) & 0xf];
	if (v >= 0x10)
		*p++ = hex[(v >> 4) & 0xf];
	*p++ = hex[v & 0xf];
	return p;
}

static char *
put_ipv6(char *p, const uint8_t *a)
{
	unsigned int w[8];
	int best = -1, best_len = 0, cur = -1, cur_len = 0;
	int i;

	for (i = 0; i < 8; i++)
		w[i] = (unsigned int)a[2 * i] << 8 | a[2 * i + 1];

	/* RFC 5952 4.2: compress the longest run of zero groups (the first of equal
	 * ones), never a single group. */
	for (i = 0; i < 8; i++) {
		if (w[i] == 0) {
			if (cur < 0) {
				cur = i;
				cur_len = 0;
			}
			cur_len++;
			if (cur_len > best_len) {
				best = cur;
				best_len = cur_len;
			}
		} else {
			cur = -1;
		}
	}
	if (best_len < 2)
		best = -1;

	for (i = 0; i < 8; i++) {
		if (best >= 0 && i >= best && i < best + best_len) {
			if (i == best)
				*p++ = ':';
			continue;
		}
		if (i != 0)
			*p++ = ':';
		/* Embedded IPv4 in the two forms inet_ntop() prints: ::a.b.c.d and
		 * ::ffff:a.b.c.d. */
		if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)))
			return put_ipv4(p, a + 12);
		p = put_hex16(p, w[i]);
	}
	if (best >= 0 && best + best_len == 8)
		*p++ = ':';
	return p;
}

size_t
ft_format_ipv6(char *buf, const uint8_t *addr)
{
	char *p = put_ipv6(buf, addr);

	*p = '\0';
	return (size_t)(p - buf);
}

static inline char *
put_ip(char *p, uint8_t family, const uint8_t *addr)
{
	if (family == 4)
		return put_ipv4(p, addr);
	return put_ipv6(p, addr);
}

/* Length of a valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t
utf8_seq_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (len > n)
		return 0;
	cp = s[0] & (0xff >> (len + 1));
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong, surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

size_t
ft_json_string(char *buf, const char *s, size_t maxlen)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strnlen(s, maxlen);
	char *p = buf;
	size_t i = 0;

	*p++ = '"';
	while (i < n) {
		unsigned char c = u[i];

		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = (char)c;
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			PUT(p, "\\u00");
			*p++ = hex[c >> 4];
			*p++ = hex[c & 0xf];
			i++;
		} else if (c < 0x80) {
			*p++ = (char)c;
			i++;
		} else {
			size_t len = utf8_seq_len(u + i, n - i);

			if (len == 0) {
				PUT(p, "\\ufffd");
				i++;
			} else {
				memcpy(p, u + i, len);
				p += len;
				i += len;
			}
		}
	}
	*p++ = '"';
	*p = '\0';
	return (size_t)(p - buf);
}

/* Enum names with their lengths, "unknown" for every value without one: one
 * table lookup and a fixed-size copy per name. */
struct name_text {
	char text[16];
	uint8_t len;
};
static struct name_text tcp_state_text[256];
static struct name_text end_reason_text[256];
static struct name_text tunnel_text[256];

static void
name_table_init(struct name_text *t, const char *const *names, unsigned int count)
{
	unsigned int v;

	for (v = 0; v < 256; v++) {
		const char *s = v < count && names[v] != NULL ? names[v] : "unknown";
		size_t n = strlen(s);

		if (n > sizeof(t[v].text))
			n = sizeof(t[v].text);
		memcpy(t[v].text, s, n);
		t[v].len = (uint8_t)n;
	}
}

static void __attribute__((constructor)) name_text_init(void)
{
	name_table_init(tcp_state_text, ft_tcp_state_names, FT_TCP_STATE_MAX);
	name_table_init(end_reason_text, ft_end_reason_names, FT_END_MAX);
	name_table_init(tunnel_text, ft_tunnel_names, FT_TUNNEL_MAX);
}

static inline char *
put_name(char *p, const struct name_text *t)
{
	memcpy(p, t->text, sizeof(t->text));
	return p + t->len;
}

/* ,"ip_version":..,"proto":..,"src_ip":..,"src_port":..,"dst_ip":..,"dst_port":..
 * [,"vlan":[..]][,"tunnel":".."] with src the key endpoint `src`. */
static char *
put_tuple(char *p, const struct ft_flow_key *k, unsigned int src)
{
	unsigned int dst = src ^ 1;

	PUT(p, ",\"ip_version\":");
	p = put_u64(p, k->family);
	PUT(p, ",\"proto\":");
	p = put_u64(p, k->proto);
	PUT(p, ",\"src_ip\":\"");
	p = put_ip(p, k->family, k->addr[src]);
	PUT(p, "\",\"src_port\":");
	p = put_u64(p, k->port[src]);
	PUT(p, ",\"dst_ip\":\"");
	p = put_ip(p, k->family, k->addr[dst]);
	PUT(p, "\",\"dst_port\":");
	p = put_u64(p, k->port[dst]);
	if (k->vlan[0] != 0) {
		PUT(p, ",\"vlan\":[");
		p = put_u64(p, k->vlan[0]);
		if (k->vlan[1] != 0) {
			*p++ = ',';
			p = put_u64(p, k->vlan[1]);
		}
		*p++ = ']';
	}
	if (k->tunnel != FT_TUNNEL_NONE) {
		PUT(p, ",\"tunnel\":\"");
		p = put_name(p, &tunnel_text[k->tunnel]);
		*p++ = '"';
	}
	return p;
}

/* ,"community_id":"1:..." of a flow (ft_community_id()). */
static char *
put_community_id(char *p, const struct ft_flow_key *k, uint8_t initiator, uint8_t icmp_type,
		 uint8_t icmp_code, int seed)
{
	PUT(p, ",\"community_id\":\"");
	p += ft_community_id(k, initiator ? 1 : 0, icmp_type, icmp_code, (uint16_t)seed, p);
	*p++ = '"';
	return p;
}

/* One direction of a flow's match summary. */
static char *
put_match_dir(char *p, const struct ft_flow_match *m, unsigned int d)
{
	uint8_t fl = m->dir_flags[d];

	PUT(p, "{\"mode\":\"");
	if (fl & FT_FLOW_MATCH_D_STREAM)
		PUT(p, "stream");
	else if (fl & FT_FLOW_MATCH_D_BLOCK)
		PUT(p, "block");
	else
		PUT(p, "none");
	PUT(p, "\",\"scanned_bytes\":");
	p = put_u64(p, m->scanned_bytes[d]);
	if (m->gaps[d] != 0) {
		PUT(p, ",\"gaps\":");
		p = put_u64(p, m->gaps[d]);
		PUT(p, ",\"gap_bytes\":");
		p = put_u64(p, m->gap_bytes[d]);
	}
	if (m->dropped_bytes[d] != 0) {
		PUT(p, ",\"dropped_bytes\":");
		p = put_u64(p, m->dropped_bytes[d]);
	}
	if (fl & FT_FLOW_MATCH_D_NO_STATE)
		PUT(p, ",\"no_state\":true");
	if (fl & FT_FLOW_MATCH_D_DEPTH)
		PUT(p, ",\"depth\":true");
	*p++ = '}';
	return p;
}

static char *
put_flow_match(char *p, const struct ft_flow_match *m)
{
	unsigned int n = m->nrules < 4 ? m->nrules : 4;

	PUT(p, ",\"match\":{\"events\":");
	p = put_u64(p, m->events);
	PUT(p, ",\"rules\":[");
	for (unsigned int i = 0; i < n; i++) {
		if (i != 0)
			*p++ = ',';
		p = put_u64(p, m->rules[i]);
	}
	PUT(p, "],\"fwd\":");
	p = put_match_dir(p, m, 0);
	PUT(p, ",\"rev\":");
	p = put_match_dir(p, m, 1);
	if (m->flags & FT_FLOW_MATCH_F_MORE_RULES)
		PUT(p, ",\"more_rules\":true");
	if (m->flags & FT_FLOW_MATCH_F_SUPPRESSED)
		PUT(p, ",\"suppressed\":true");
	*p++ = '}';
	return p;
}

size_t
ft_json_match(char *buf, const struct ft_record *rec, const struct ft_rule_info *rule,
	      int community_seed)
{
	const struct ft_match_record *m = &rec->match;
	char *p = buf;

	PUT(p, "{\"type\":\"match\",\"flow_id\":");
	p = put_u64(p, m->flow_id);
	PUT(p, ",\"worker\":");
	p = put_u64(p, rec->worker);
	PUT(p, ",\"rule\":");
	p = put_u64(p, m->rule_id);
	if (rule != NULL) {
		PUT(p, ",\"name\":");
		p += ft_json_string(p, rule->name, sizeof(rule->name));
	}
	if (m->dir == 0)
		PUT(p, ",\"dir\":\"fwd\"");
	else
		PUT(p, ",\"dir\":\"rev\"");
	PUT(p, ",\"offset\":");
	p = put_u64(p, m->offset);
	if (m->flags & FT_MATCH_EV_F_SOM) {
		PUT(p, ",\"start\":");
		p = put_u64(p, m->start);
	}
	if (m->flags & FT_MATCH_EV_F_BLOCK)
		PUT(p, ",\"mode\":\"block\"");
	else
		PUT(p, ",\"mode\":\"stream\"");
	if (m->flags & FT_MATCH_EV_F_EOD)
		PUT(p, ",\"eod\":true");
	PUT(p, ",\"ts\":\"");
	p = put_rfc3339(p, m->ts_ns);
	PUT(p, "\",\"ts_ns\":");
	p = put_u64(p, m->ts_ns);
	p = put_tuple(p, &m->key, m->initiator ? 1 : 0);
	if (community_seed >= 0)
		p = put_community_id(p, &m->key, m->initiator, m->icmp_type, m->icmp_code,
				     community_seed);
	PUT(p, "}\n");
	*p = '\0';
	return (size_t)(p - buf);
}

size_t
ft_json_flow(char *buf, const struct ft_record *rec, int community_seed)
{
	const struct ft_flow_record *f = &rec->flow;
	const struct ft_flow_key *k = &f->key;
	char *p = buf;

	PUT(p, "{\"type\":\"flow\",\"flow_id\":");
	p = put_u64(p, f->flow_id);
	PUT(p, ",\"worker\":");
	p = put_u64(p, rec->worker);
	PUT(p, ",\"input_port\":");
	p = put_u64(p, f->input_port);
	p = put_tuple(p, k, f->initiator ? 1 : 0);
	if (community_seed >= 0)
		p = put_community_id(p, k, f->initiator, f->icmp_type, f->icmp_code,
				     community_seed);
	PUT(p, ",\"start\":\"");
	p = put_rfc3339(p, f->first_ns);
	PUT(p, "\",\"end\":\"");
	p = put_rfc3339(p, f->last_ns);
	PUT(p, "\",\"start_ns\":");
	p = put_u64(p, f->first_ns);
	PUT(p, ",\"end_ns\":");
	p = put_u64(p, f->last_ns);
	PUT(p, ",\"packets_fwd\":");
	p = put_u64(p, f->packets[0]);
	PUT(p, ",\"bytes_fwd\":");
	p = put_u64(p, f->bytes[0]);
	PUT(p, ",\"packets_rev\":");
	p = put_u64(p, f->packets[1]);
	PUT(p, ",\"bytes_rev\":");
	p = put_u64(p, f->bytes[1]);
	PUT(p, ",\"tcp_flags_fwd\":");
	p = put_u64(p, f->tcp_flags[0]);
	PUT(p, ",\"tcp_flags_rev\":");
	p = put_u64(p, f->tcp_flags[1]);
	PUT(p, ",\"tcp_state\":\"");
	p = put_name(p, &tcp_state_text[f->tcp_state]);
	PUT(p, "\",\"end_reason\":\"");
	p = put_name(p, &end_reason_text[f->end_reason]);
	PUT(p, "\",\"fragments\":");
	p = put_u64(p, f->fragments);
	if (f->segment != 0) {
		PUT(p, ",\"segment\":");
		p = put_u64(p, f->segment);
	}
	if (k->proto == 1 || k->proto == 58) {
		PUT(p, ",\"icmp_type\":");
		p = put_u64(p, f->icmp_type);
		PUT(p, ",\"icmp_code\":");
		p = put_u64(p, f->icmp_code);
	}
	if (f->flags & FT_FLOW_F_MIDSTREAM)
		PUT(p, ",\"midstream\":true");
	if (f->flags & FT_FLOW_F_FRAGMENTS)
		PUT(p, ",\"flagged_fragments\":true");
	if (f->flags & FT_FLOW_F_MATCH)
		p = put_flow_match(p, &f->match);
	PUT(p, "}\n");
	*p = '\0';
	return (size_t)(p - buf);
}

/* ---------------------------------------------------------------- statistics */

/* ,"<name>":<v> */
#define PUT_KV(p, name, v)                                                                         \
	do {                                                                                       \
		PUT(p, ",\"" name "\":");                                                          \
		(p) = put_u64((p), (v));                                                           \
	} while (0)

/* Ten significant digits: means and variances (no JSON consumer reads more
 * than a double holds; integers stay integers). */
static char *
put_double(char *p, double v)
{
	int n = snprintf(p, 32, "%.10g", v);

	return p + (n > 0 && n < 32 ? n : 0);
}

static char *
put_time_kv(char *p, uint64_t ns)
{
	PUT(p, ",\"time\":\"");
	p = put_rfc3339(p, ns);
	PUT(p, "\",\"time_ns\":");
	return put_u64(p, ns);
}

static const char *const dir_suffix[2] = {"_fwd", "_rev"};

static char *
put_key_dir(char *p, const char *name, unsigned int d, uint64_t v)
{
	size_t n = strlen(name);

	*p++ = ',';
	*p++ = '"';
	memcpy(p, name, n);
	p += n;
	memcpy(p, dir_suffix[d], 4);
	p += 4;
	*p++ = '"';
	*p++ = ':';
	return put_u64(p, v);
}

/* Quantiles p50, p90, p99 of a histogram: ,"<prefix>_p50<unit>":v... */
static char *
put_quantiles(char *p, const char *prefix, const char *unit, const uint32_t *hist,
	      unsigned int nbins, uint64_t (*bin_lo)(unsigned), uint64_t min, uint64_t max)
{
	static const unsigned int permille[3] = {500, 900, 990};
	static const char *const pname[3] = {"_p50", "_p90", "_p99"};

	for (unsigned int q = 0; q < 3; q++) {
		uint64_t lo, hi,
			v = ft_stats_quantile(hist, nbins, bin_lo, min, max, permille[q], &lo, &hi);

		p += sprintf(p, ",\"%s%s%s\":", prefix, pname[q], unit);
		p = put_u64(p, v);
	}
	return p;
}

static uint64_t
size_bin_lo(unsigned int b)
{
	return ft_stats_size_bin_lo(b);
}

static uint64_t
iat_bin_lo(unsigned int b)
{
	return ft_stats_iat_bin_lo(b);
}

/* A distribution as a FLOW_DIST record and its FLOW_STATS give it. */
struct distribution {
	const char *name, *unit; /* key prefix, unit suffix of its values */
	uint64_t n, sum;
	const uint64_t *sumsq; /* lo, hi */
	uint64_t min, max;
	const uint32_t *hist; /* NULL: no histogram */
	unsigned int nbins;
	uint64_t (*bin_lo)(unsigned int);
};

/* ,"<name>_min<unit>":..,"_max","_mean","<variance key>",[quantiles] */
static char *
put_distribution(char *p, const struct distribution *d, const char *variance)
{
	unsigned __int128 sq = (unsigned __int128)d->sumsq[1] << 64 | d->sumsq[0];
	double mean, var;

	ft_stats_moments(d->n, d->sum, sq, &mean, &var);
	p += sprintf(p, ",\"%s_min%s\":", d->name, d->unit);
	p = put_u64(p, d->min);
	p += sprintf(p, ",\"%s_max%s\":", d->name, d->unit);
	p = put_u64(p, d->max);
	p += sprintf(p, ",\"%s_mean%s\":", d->name, d->unit);
	p = put_double(p, mean);
	p += sprintf(p, ",\"%s%s\":", d->name, variance);
	p = put_double(p, var);
	if (d->hist != NULL)
		p = put_quantiles(p, d->name, d->unit, d->hist, d->nbins, d->bin_lo, d->min,
				  d->max);
	return p;
}

size_t
ft_json_flow_stats(char *buf, const struct ft_record *rec, const struct ft_record *dist_rec)
{
	const struct ft_flow_stats_record *s = &rec->flow_stats;
	uint64_t packets = s->dir[0].packets + s->dir[1].packets;
	uint64_t bytes = s->dir[0].bytes + s->dir[1].bytes;
	char *p = buf;

	PUT(p, "{\"type\":\"flow_stats\",\"kind\":\"");
	if (s->kind == FT_FLOW_STATS_FINAL)
		PUT(p, "final");
	else
		PUT(p, "periodic");
	PUT(p, "\",\"flow_id\":");
	p = put_u64(p, s->flow_id);
	PUT_KV(p, "worker", rec->worker);
	p = put_time_kv(p, s->time_ns);
	p = put_tuple(p, &s->key, (s->flags & FT_FLOW_STATS_F_INITIATOR_HI) ? 1 : 0);
	PUT_KV(p, "start_ns", s->first_ns);
	PUT_KV(p, "last_ns", s->last_ns);
	PUT_KV(p, "bucket_ns", s->bucket_ns);
	PUT_KV(p, "window_ns", s->bucket_ns * s->buckets);
	for (unsigned int d = 0; d < 2; d++) {
		const struct ft_flow_stats_dir *x = &s->dir[d];

		p = put_key_dir(p, "packets", d, x->packets);
		p = put_key_dir(p, "bytes", d, x->bytes);
		p = put_key_dir(p, "last_packets", d, x->last_packets);
		p = put_key_dir(p, "last_bytes", d, x->last_bytes);
		p = put_key_dir(p, "window_packets", d, x->window_packets);
		p = put_key_dir(p, "window_bytes", d, x->window_bytes);
		p = put_key_dir(p, "peak_packets", d, x->peak_packets);
		p = put_key_dir(p, "peak_bytes", d, x->peak_bytes);
	}
	if (s->key.proto == 6) {
		for (unsigned int d = 0; d < 2; d++) {
			p = put_key_dir(p, "retransmissions", d, s->dir[d].retransmissions);
			p = put_key_dir(p, "out_of_order", d, s->dir[d].out_of_order);
			p = put_key_dir(p, "zero_windows", d, s->dir[d].zero_windows);
		}
		if (s->flags & FT_FLOW_STATS_F_RTT_SERVER)
			PUT_KV(p, "rtt_server_ns", s->rtt_server_ns);
		if (s->flags & FT_FLOW_STATS_F_RTT_CLIENT)
			PUT_KV(p, "rtt_client_ns", s->rtt_client_ns);
	}
	if (dist_rec != NULL && packets > 0) {
		const struct ft_flow_dist_record *ds = &dist_rec->flow_dist;
		const uint32_t *no_hist = NULL;
		bool hist = s->flags & FT_FLOW_STATS_F_HISTOGRAMS;
		struct distribution size = {"size",
					    "",
					    packets,
					    bytes,
					    ds->size_sumsq,
					    ds->size_min,
					    ds->size_max,
					    hist ? ds->size_hist : no_hist,
					    FT_STATS_SIZE_BINS,
					    size_bin_lo};
		struct distribution iat = {"iat",
					   "_ns",
					   packets - 1,
					   s->last_ns - s->first_ns,
					   ds->iat_sumsq,
					   ds->iat_min,
					   ds->iat_max,
					   hist ? ds->iat_hist : no_hist,
					   FT_STATS_IAT_BINS,
					   iat_bin_lo};

		p = put_distribution(p, &size, "_variance");
		if (packets >= 2)
			p = put_distribution(p, &iat, "_variance_ns2");
	}
	PUT(p, "}\n");
	*p = '\0';
	return (size_t)(p - buf);
}

static const char *const window_suffix[FT_STATS_WINDOWS] = {"_1s", "_10s", "_60s"};

static char *
put_windows(char *p, const char *name, const uint64_t *v)
{
	for (unsigned int x = 0; x < FT_STATS_WINDOWS; x++)
		p += sprintf(p, ",\"%s%s\":", name, window_suffix[x]), p = put_u64(p, v[x]);
	return p;
}

size_t
ft_json_worker_stats(char *buf, const struct ft_record *rec, const struct ft_record *drops)
{
	const struct ft_worker_stats_record *w = &rec->worker_stats;
	char *p = buf;

	PUT(p, "{\"type\":\"worker_stats\",\"worker\":");
	p = put_u64(p, rec->worker);
	p = put_time_kv(p, w->time_ns);
	PUT_KV(p, "interval_ns", w->interval_ns);
	PUT_KV(p, "flows_active", w->flows_active);
	PUT_KV(p, "packets_total", w->packets_total);
	PUT_KV(p, "bytes_total", w->bytes_total);
	p = put_windows(p, "packets", w->packets);
	p = put_windows(p, "bytes", w->bytes);
	p = put_windows(p, "flows_new", w->flows_new);
	p = put_windows(p, "flows_ended", w->flows_ended);
	p = put_windows(p, "drops", w->drops);
	if (drops != NULL) {
		const struct ft_worker_drops_record *d = &drops->worker_drops;
		bool first = true;

		PUT(p, ",\"drops_by_cause\":{");
		for (unsigned int c = 0; c < FT_STATS_DROP_CAUSES; c++) {
			const uint32_t *v = d->drops[c];

			if ((v[0] | v[1] | v[2]) == 0)
				continue;
			p += sprintf(p, "%s\"%s\":[%u,%u,%u]", first ? "" : ",",
				     c == FT_STATS_DROP_RING ? "ring_full" : ft_discard_names[c],
				     v[0], v[1], v[2]);
			first = false;
		}
		*p++ = '}';
	}
	PUT(p, "}\n");
	*p = '\0';
	return (size_t)(p - buf);
}

static char *
put_topk_list(char *p, const struct ft_topk_item *it, uint32_t n)
{
	*p++ = '[';
	for (uint32_t j = 0; j < n; j++, it++) {
		if (j)
			*p++ = ',';
		PUT(p, "{\"flow_id\":");
		p = put_u64(p, it->e.flow_id);
		PUT_KV(p, "worker", it->worker);
		p = put_tuple(p, &it->e.key, it->initiator);
		PUT_KV(p, "bytes", it->e.bytes);
		PUT_KV(p, "packets", it->e.packets);
		*p++ = '}';
	}
	*p++ = ']';
	return p;
}

size_t
ft_json_topk(char *buf, const struct ft_topk_merge *m)
{
	char *p = buf;

	PUT(p, "{\"type\":\"topk\"");
	p = put_time_kv(p, m->result.time_ns);
	PUT_KV(p, "interval_ns", m->result.interval_ns);
	PUT_KV(p, "k", m->result.k);
	PUT(p, ",\"by_bytes\":");
	p = put_topk_list(p, m->by_bytes, m->n_bytes);
	PUT(p, ",\"by_packets\":");
	p = put_topk_list(p, m->by_packets, m->n_packets);
	PUT(p, "}\n");
	*p = '\0';
	return (size_t)(p - buf);
}
