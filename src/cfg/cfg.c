/* SPDX-License-Identifier: BSD-3-Clause */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cfg/cfg.h"
#include "common/common.h"

#define LINE_MAX_LEN 4096

/* What a key's value is, and how it is checked. */
enum value_type {
	T_U32,	    /* decimal integer in [min, max] */
	T_U16,	    /* decimal integer in [min, max] */
	T_POW2,	    /* power of two in [min, max] */
	T_BOOL,	    /* true/false, yes/no, on/off, 1/0 */
	T_DURATION, /* number with unit ns/us/ms/s/m/h (seconds when bare), in [min, max] ns */
	T_MODE,	    /* octal file mode */
	T_NAME,	    /* [A-Za-z0-9_.-], 1..field size - 1 */
	T_STRING,   /* anything up to field size - 1 */
	T_FILE,	    /* path of a readable file, made absolute */
	T_FILE_OPT, /* the same, or "" for none */
	T_PATH,	    /* a path (need not exist), made absolute */
	T_SIZE,	    /* bytes: integer with optional unit k, m, g (powers of 1024), in [min, max] */
	T_ENUM,	    /* one of choices[], stored as its index (an int-sized enum) */
	T_RATIO,    /* decimal number in [min, max] (a double) */
	T_SET,	    /* comma-separated names of choices[], or "none": bit i for choices[i] */
};

struct key_spec {
	const char *key;
	enum value_type type;
	size_t offset; /* in struct ft_config, or struct ft_port_config for port keys */
	size_t size;   /* of the field (strings) */
	uint64_t min, max;
	const char *const *choices;
};

#define FIELD(s, f) offsetof(s, f), sizeof(((s *)0)->f)
#define CFG(f)	    FIELD(struct ft_config, f)
#define PORT(f)	    FIELD(struct ft_port_config, f)
#define SEC	    1000000000ULL

static const char *const overflow_choices[] = {"auto", "drop", "backpressure", NULL};
static const char *const clock_choices[] = {"auto", "packet", "tsc", NULL};
static const char *const full_policy_choices[] = {"evict", "refuse", NULL};
static const char *const match_mode_choices[] = {"stream", "block", "off", NULL};
static const char *const match_fallback_choices[] = {"block", "skip", NULL};
static const char *const dispatch_hash_choices[] = {"flow", "ippair", NULL};
/* Bit i is enum ft_tunnel i + 1. */
static const char *const tunnel_choices[] = {"gre",    "ipip", "vxlan", "geneve",
					     "teredo", "gtp",  NULL};
static_assert(sizeof(tunnel_choices) / sizeof(tunnel_choices[0]) == FT_TUNNEL_MAX,
	      "a name for every tunnel");

static const struct key_spec dataplane_keys[] = {
	{"instance", T_NAME, CFG(instance), 0, 0, NULL},
	{"burst_size", T_U16, CFG(burst_size), 1, 512, NULL},
	{"mbufs", T_U32, CFG(mbufs), 0, 1U << 30, NULL},
	{"mbuf_cache", T_U32, CFG(mbuf_cache), 0, 512, NULL},
	{"mbuf_size", T_U32, CFG(mbuf_size), 192, 65535, NULL},
	{"dispatch_ring_size", T_POW2, CFG(dispatch_ring_size), 64, 1U << 20, NULL},
	{"dispatch_hash", T_ENUM, CFG(dispatch_hash), 0, 0, dispatch_hash_choices},
	{"replay_speed", T_RATIO, CFG(replay_speed), 0, 1000000, NULL},
	{"replay_max_gap", T_DURATION, CFG(replay_max_gap_ns), SEC / 1000, 3600 * SEC, NULL},
	{NULL},
};

static const struct key_spec export_keys[] = {
	{"ring_size", T_POW2, CFG(ring_size), 1024, 1U << 24, NULL},
	{"overflow", T_ENUM, CFG(overflow), 0, 0, overflow_choices},
	{"shm_mode", T_MODE, CFG(shm_mode), 0, 0777, NULL},
	{"shm_group", T_STRING, CFG(shm_group), 0, 0, NULL},
	{"linger", T_DURATION, CFG(linger_ns), 0, 3600 * SEC, NULL},
	{"wait_collector", T_DURATION, CFG(wait_collector_ns), 0, 3600 * SEC, NULL},
	{NULL},
};

static const struct key_spec flow_keys[] = {
	{"capacity", T_U32, CFG(flow_capacity), 1, 1U << 28, NULL},
	{"expiry_budget", T_U32, CFG(expiry_budget), 1, 1U << 20, NULL},
	{"tcp_new_timeout", T_DURATION, CFG(timeouts.tcp_new_ns), SEC / 1000, 86400 * SEC, NULL},
	{"tcp_established_timeout", T_DURATION, CFG(timeouts.tcp_established_ns), SEC / 1000,
	 86400 * SEC, NULL},
	{"tcp_closed_timeout", T_DURATION, CFG(timeouts.tcp_closed_ns), 0, 86400 * SEC, NULL},
	{"udp_timeout", T_DURATION, CFG(timeouts.udp_ns), SEC / 1000, 86400 * SEC, NULL},
	{"icmp_timeout", T_DURATION, CFG(timeouts.icmp_ns), SEC / 1000, 86400 * SEC, NULL},
	{"other_timeout", T_DURATION, CFG(timeouts.other_ns), SEC / 1000, 86400 * SEC, NULL},
	{"active_timeout", T_DURATION, CFG(active_timeout_ns), 0, 86400 * SEC, NULL},
	{"full_policy", T_ENUM, CFG(full_policy), 0, 0, full_policy_choices},
	{"emergency_enter", T_RATIO, CFG(emergency_enter), 0, 1, NULL},
	{"emergency_leave", T_RATIO, CFG(emergency_leave), 0, 1, NULL},
	{"emergency_factor", T_RATIO, CFG(emergency_factor), 0, 1, NULL},
	{"fragment_table_size", T_POW2, CFG(fragment_table_size), 4, 1U << 24, NULL},
	{"fragment_timeout", T_DURATION, CFG(fragment_timeout_ns), SEC / 1000, 3600 * SEC, NULL},
	{"fragment_wait", T_DURATION, CFG(fragment_wait_ns), 0, 60 * SEC, NULL},
	{"tunnels", T_SET, CFG(tunnels), 0, 0, tunnel_choices},
	{NULL},
};

static const struct key_spec stats_keys[] = {
	{"enable", T_BOOL, CFG(stats_enable), 0, 0, NULL},
	{"bucket", T_DURATION, CFG(stats_bucket_ns), SEC / 1000, 3600 * SEC, NULL},
	{"buckets", T_U32, CFG(stats_buckets), 1, 64, NULL},
	{"interval", T_DURATION, CFG(stats_interval_ns), SEC / 10, 3600 * SEC, NULL},
	{"topk", T_U32, CFG(stats_topk), 0, 1000, NULL},
	{"histograms", T_BOOL, CFG(stats_histograms), 0, 0, NULL},
	{NULL},
};

static const struct key_spec match_keys[] = {
	{"rules", T_FILE_OPT, CFG(match_rules), 0, 0, NULL},
	{"cache_dir", T_PATH, CFG(match_cache_dir), 0, 0, NULL},
	{"streams", T_U32, CFG(match_streams), 0, 1U << 26, NULL},
	{"depth", T_SIZE, CFG(match_depth), 0, 1ULL << 40, NULL},
	{"tcp", T_ENUM, CFG(match_tcp), 0, 0, match_mode_choices},
	{"udp", T_ENUM, CFG(match_udp), 0, 0, match_mode_choices},
	{"other", T_ENUM, CFG(match_other), 0, 0, match_mode_choices},
	{"no_stream", T_ENUM, CFG(match_no_stream), 0, 0, match_fallback_choices},
	{"reorder_memory", T_SIZE, CFG(match_reorder_memory), 0, 1ULL << 36, NULL},
	{"reorder_flow_bytes", T_SIZE, CFG(match_reorder_flow_bytes), 1, 1U << 30, NULL},
	{"max_events_per_flow", T_U32, CFG(match_max_events_per_flow), 0, UINT32_MAX, NULL},
	{"chunk_size", T_SIZE, CFG(match_chunk_size), 0, 1U << 16, NULL},
	{"chunk_memory", T_SIZE, CFG(match_chunk_memory), 0, 1ULL << 36, NULL},
	{"chunk_delay", T_DURATION, CFG(match_chunk_delay_ns), 0, 3600 * SEC, NULL},
	{"defrag_datagrams", T_POW2, CFG(match_defrag_datagrams), 0, 1U << 16, NULL},
	{"defrag_memory", T_SIZE, CFG(match_defrag_memory), 2 << 10, 1ULL << 36, NULL},
	{NULL},
};

static const struct key_spec port_keys[] = {
	{"pcap", T_FILE, PORT(pcap), 0, 0, NULL},
	{"pcap_loop", T_BOOL, PORT(pcap_loop), 0, 0, NULL},
	{"device", T_STRING, PORT(device), 0, 0, NULL},
	{"rx_queues", T_U16, PORT(rx_queues), 0, 64, NULL},
	{"rx_descriptors", T_U16, PORT(rx_descriptors), 64, 16384, NULL},
	{"promiscuous", T_BOOL, PORT(promiscuous), 0, 0, NULL},
	{"clock", T_ENUM, PORT(clock), 0, 0, clock_choices},
	{"filter", T_STRING, PORT(filter), 0, 0, NULL},
	{NULL},
};

#define MAX_KEYS 24 /* per section, for duplicate detection */
#define KEYS(a)	 (sizeof(a) / sizeof((a)[0]) - 1)
static_assert(KEYS(dataplane_keys) <= MAX_KEYS && KEYS(export_keys) <= MAX_KEYS &&
		      KEYS(flow_keys) <= MAX_KEYS && KEYS(stats_keys) <= MAX_KEYS &&
		      KEYS(match_keys) <= MAX_KEYS && KEYS(port_keys) <= MAX_KEYS,
	      "a section has more keys than duplicate detection tracks");

struct section_spec {
	const char *name;
	const struct key_spec *keys;
};

static const struct section_spec sections[] = {
	{"dataplane", dataplane_keys},
	{"export", export_keys},
	{"flow", flow_keys},
	{"stats", stats_keys},
	{"match", match_keys},
	{NULL, NULL},
};

/* Parsing state: where we are and which keys were already set. */
struct parse_ctx {
	struct ft_config *cfg;
	const char *file;     /* for messages */
	char base_dir[PATH_MAX]; /* relative paths start here */
	unsigned line;
	const struct section_spec *section; /* NULL inside a [port.*] section */
	struct ft_port_config *port;
	unsigned seen_global[sizeof(sections) / sizeof(sections[0]) - 1][MAX_KEYS];
	unsigned seen_port[FT_CFG_MAX_PORTS][MAX_KEYS];
	unsigned port_line[FT_CFG_MAX_PORTS];
};

void
ft_config_defaults(struct ft_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->instance, sizeof(cfg->instance), "default");
	cfg->burst_size = 32;
	cfg->mbufs = 0;
	cfg->mbuf_cache = 256;
	cfg->mbuf_size = 2176; /* RTE_MBUF_DEFAULT_BUF_SIZE */
	cfg->dispatch_ring_size = 4096;
	cfg->dispatch_hash = FT_DISPATCH_CFG_FLOW;
	cfg->replay_speed = 0;
	cfg->replay_max_gap_ns = 1 * SEC;

	cfg->ring_size = 65536;
	cfg->overflow = FT_OVERFLOW_CFG_AUTO;
	cfg->shm_mode = 0660;
	cfg->linger_ns = 5 * SEC;
	cfg->wait_collector_ns = 0;

	cfg->flow_capacity = 262144;
	cfg->expiry_budget = 256;
	cfg->timeouts.tcp_new_ns = 60 * SEC;
	cfg->timeouts.tcp_established_ns = 600 * SEC;
	cfg->timeouts.tcp_closed_ns = 10 * SEC;
	cfg->timeouts.udp_ns = 60 * SEC;
	cfg->timeouts.icmp_ns = 30 * SEC;
	cfg->timeouts.other_ns = 60 * SEC;
	cfg->active_timeout_ns = 300 * SEC;
	cfg->full_policy = FT_FLOW_FULL_EVICT;
	cfg->emergency_enter = 0.95;
	cfg->emergency_leave = 0.85;
	cfg->emergency_factor = 0.1;
	cfg->fragment_table_size = 4096;
	cfg->fragment_timeout_ns = 30 * SEC;
	cfg->fragment_wait_ns = SEC / 10;
	cfg->tunnels = FT_TUNNEL_ALL;

	cfg->stats_enable = false;
	cfg->stats_bucket_ns = 1 * SEC;
	cfg->stats_buckets = 10;
	cfg->stats_interval_ns = 1 * SEC;
	cfg->stats_topk = 10;
	cfg->stats_histograms = true;
	cfg->match_rules[0] = '\0';
	snprintf(cfg->match_cache_dir, sizeof(cfg->match_cache_dir), "/var/cache/flowtap");
	cfg->match_streams = 65536;
	cfg->match_depth = 1 << 20;
	cfg->match_tcp = FT_MATCH_CFG_STREAM;
	cfg->match_udp = FT_MATCH_CFG_STREAM;
	cfg->match_other = FT_MATCH_CFG_BLOCK;
	cfg->match_no_stream = FT_MATCH_CFG_FALLBACK_BLOCK;
	cfg->match_reorder_memory = 4 << 20;
	cfg->match_reorder_flow_bytes = 256 << 10;
	cfg->match_max_events_per_flow = 1000;
	cfg->match_chunk_size = 4 << 10;
	cfg->match_chunk_memory = 8 << 20;
	cfg->match_chunk_delay_ns = SEC / 10;
	cfg->match_defrag_datagrams = 4096;
	cfg->match_defrag_memory = 4 << 20;
}

static void
port_defaults(struct ft_port_config *port, const char *name)
{
	memset(port, 0, sizeof(*port));
	snprintf(port->name, sizeof(port->name), "%s", name);
	port->kind = FT_PORT_DEVICE;
	port->rx_queues = 0;
	port->rx_descriptors = 1024;
	port->promiscuous = true;
	port->clock = FT_CLOCK_AUTO;
}

static int __attribute__((format(printf, 4, 5)))
fail(char *err, size_t err_len, const struct parse_ctx *ctx, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (ctx->line > 0)
		snprintf(err, err_len, "%s:%u: %s", ctx->file, ctx->line, why);
	else
		snprintf(err, err_len, "%s: %s", ctx->file, why);
	return -1;
}

/* Cut a comment: ';' or '#' at the start or after whitespace. */
static void
strip_comment(char *s)
{
	for (char *p = s; *p != '\0'; p++) {
		if ((*p == ';' || *p == '#') && (p == s || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			return;
		}
	}
}

static int
valid_name(const char *s, size_t max_len)
{
	size_t n = strlen(s);

	if (n == 0 || n >= max_len)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return 0;
	return 1;
}

static int
parse_uint(const char *v, uint64_t *out)
{
	char *end;

	if (*v == '\0' || !isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	*out = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	return 0;
}

/* "1.5s", "250ms", "30" (seconds), "2m", "1h", "100us", "10ns". */
static int
parse_duration(const char *v, uint64_t *ns)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9},
		     {"", 1e9}};
	char *end;
	double x;

	if (*v == '\0' || !(isdigit((unsigned char)*v) || *v == '.'))
		return -1;
	errno = 0;
	x = strtod(v, &end);
	if (errno != 0 || !isfinite(x) || x < 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			x *= units[i].ns;
			if (x > 1e19)
				return -1;
			*ns = (uint64_t)llround(x);
			return 0;
		}
	}
	return -1;
}

static int
parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* Resolve a path against base_dir unless absolute. */
static int
join_path(const char *base_dir, const char *v, char *out, size_t out_len, char *why, size_t why_len)
{
	int n;

	if (v[0] == '/' || base_dir[0] == '\0')
		n = snprintf(out, out_len, "%s", v);
	else
		n = snprintf(out, out_len, "%s/%s", base_dir, v);
	if (n < 0 || (size_t)n >= out_len) {
		snprintf(why, why_len, "path longer than %zu characters", out_len - 1);
		return -1;
	}
	return 0;
}

/* "64k", "1m", "4096": bytes, units are powers of 1024. */
static int
parse_size(const char *v, uint64_t *out)
{
	char *end;
	uint64_t x, mult = 1;

	if (!isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno != 0)
		return -1;
	if (strcasecmp(end, "k") == 0 || strcasecmp(end, "kib") == 0)
		mult = 1ULL << 10;
	else if (strcasecmp(end, "m") == 0 || strcasecmp(end, "mib") == 0)
		mult = 1ULL << 20;
	else if (strcasecmp(end, "g") == 0 || strcasecmp(end, "gib") == 0)
		mult = 1ULL << 30;
	else if (*end != '\0')
		return -1;
	if (x > UINT64_MAX / mult)
		return -1;
	*out = x * mult;
	return 0;
}

/* Resolve a path against base_dir unless absolute; check it is a readable file. */
static int
resolve_file(const char *base_dir, const char *v, char *out, size_t out_len, char *why,
	     size_t why_len)
{
	char joined[PATH_MAX * 2];

	if (v[0] == '/' || base_dir[0] == '\0')
		snprintf(joined, sizeof(joined), "%s", v);
	else
		snprintf(joined, sizeof(joined), "%s/%s", base_dir, v);
	if (access(joined, R_OK) != 0) {
		snprintf(why, why_len, "cannot read '%.4000s': %s", joined, strerror(errno));
		return -1;
	}
	if (realpath(joined, out) == NULL || strlen(out) >= out_len) {
		snprintf(why, why_len, "cannot resolve '%.4000s': %s", joined, strerror(errno));
		return -1;
	}
	return 0;
}

/* choices[] as "a, b, c" into list (cut to its size), for messages. */
static void
join_choices(const char *const *choices, char *list, size_t len)
{
	list[0] = '\0';
	for (int i = 0; choices[i] != NULL; i++) {
		strncat(list, i ? ", " : "", len - strlen(list) - 1);
		strncat(list, choices[i], len - strlen(list) - 1);
	}
}

/* A set of choices: names separated by commas (and blanks), or "none". */
static int
parse_set(const char *v, const char *const *choices, unsigned *out, char *why, size_t why_len)
{
	unsigned set = 0;
	const char *p = v;

	while (*p == ' ' || *p == '\t')
		p++;
	if (strcmp(p, "none") == 0) {
		*out = 0;
		return 0;
	}
	for (;;) {
		size_t n;
		int i;

		while (*p == ' ' || *p == '\t')
			p++;
		n = strcspn(p, ", \t");
		for (i = 0; choices[i] != NULL; i++)
			if (strlen(choices[i]) == n && strncmp(p, choices[i], n) == 0)
				break;
		if (n == 0 || choices[i] == NULL) {
			char list[128];

			join_choices(choices, list, sizeof(list));
			snprintf(why, why_len, "'%.*s' is not one of: %s (or none, alone)",
				 (int)(n < 64 ? n : 64), p, list);
			return -1;
		}
		set |= 1u << i;
		p += n;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (*p != ',') {
			snprintf(why, why_len, "'%s': names are separated by commas", v);
			return -1;
		}
		p++;
	}
	*out = set;
	return 0;
}

/* Parse value v for spec into the field at base + spec->offset. */
static int
set_value(const struct key_spec *spec, void *base, const char *v, const char *base_dir, char *why,
	  size_t why_len)
{
	void *field = (char *)base + spec->offset;
	uint64_t u;

	switch (spec->type) {
	case T_U32:
	case T_U16:
	case T_POW2:
		if (parse_uint(v, &u) != 0) {
			snprintf(why, why_len, "'%s' is not a non-negative integer", v);
			return -1;
		}
		if (u < spec->min || u > spec->max) {
			snprintf(why, why_len, "%" PRIu64 " is out of range [%" PRIu64 ", %" PRIu64 "]",
				 u, spec->min, spec->max);
			return -1;
		}
		if (spec->type == T_POW2 && (u & (u - 1)) != 0) {
			snprintf(why, why_len, "%" PRIu64 " is not a power of two", u);
			return -1;
		}
		if (spec->type == T_U16)
			*(uint16_t *)field = (uint16_t)u;
		else
			*(uint32_t *)field = (uint32_t)u;
		return 0;
	case T_BOOL:
		if (parse_bool(v, field) != 0) {
			snprintf(why, why_len, "'%s' is not a boolean (true/false, yes/no, on/off, 1/0)",
				 v);
			return -1;
		}
		return 0;
	case T_DURATION:
		if (parse_duration(v, &u) != 0) {
			snprintf(why, why_len,
				 "'%s' is not a duration (a number with unit ns, us, ms, s, m or h; "
				 "seconds when bare)",
				 v);
			return -1;
		}
		if (u < spec->min || u > spec->max) {
			snprintf(why, why_len, "'%s' is out of range [%gs, %gs]", v,
				 spec->min / 1e9, spec->max / 1e9);
			return -1;
		}
		*(uint64_t *)field = u;
		return 0;
	case T_MODE: {
		char *end;

		errno = 0;
		u = strtoull(v, &end, 8);
		if (*v == '\0' || errno != 0 || *end != '\0' || u > spec->max) {
			snprintf(why, why_len, "'%s' is not an octal file mode (e.g. 0660)", v);
			return -1;
		}
		*(uint32_t *)field = (uint32_t)u;
		return 0;
	}
	case T_NAME:
		if (!valid_name(v, spec->size)) {
			snprintf(why, why_len,
				 "'%s' is not a name (1 to %zu characters of A-Z a-z 0-9 _ . -)", v,
				 spec->size - 1);
			return -1;
		}
		snprintf(field, spec->size, "%s", v);
		return 0;
	case T_STRING:
		if (strlen(v) >= spec->size) {
			snprintf(why, why_len, "value longer than %zu characters", spec->size - 1);
			return -1;
		}
		snprintf(field, spec->size, "%s", v);
		return 0;
	case T_RATIO: {
		char *end;
		double x;

		errno = 0;
		x = strtod(v, &end);
		if (*v == '\0' || errno != 0 || *end != '\0' || !isfinite(x)) {
			snprintf(why, why_len, "'%s' is not a number", v);
			return -1;
		}
		if (x < (double)spec->min || x > (double)spec->max) {
			snprintf(why, why_len, "%g is out of range [%" PRIu64 ", %" PRIu64 "]", x,
				 spec->min, spec->max);
			return -1;
		}
		*(double *)field = x;
		return 0;
	}
	case T_SET:
		return parse_set(v, spec->choices, field, why, why_len);
	case T_FILE_OPT:
		if (v[0] == '\0') {
			*(char *)field = '\0';
			return 0;
		}
		/* fall through */
	case T_FILE:
		return resolve_file(base_dir, v, field, spec->size, why, why_len);
	case T_PATH:
		if (v[0] == '\0') {
			*(char *)field = '\0';
			return 0;
		}
		return join_path(base_dir, v, field, spec->size, why, why_len);
	case T_SIZE:
		if (parse_size(v, &u) != 0) {
			snprintf(why, why_len,
				 "'%s' is not a size (a number of bytes with unit k, m or g, "
				 "powers of 1024)",
				 v);
			return -1;
		}
		if (u < spec->min || u > spec->max) {
			snprintf(why, why_len,
				 "%" PRIu64 " bytes is out of range [%" PRIu64 ", %" PRIu64 "]", u,
				 spec->min, spec->max);
			return -1;
		}
		if (spec->size == sizeof(uint32_t))
			*(uint32_t *)field = (uint32_t)u;
		else
			*(uint64_t *)field = u;
		return 0;
	case T_ENUM:
		for (int i = 0; spec->choices[i] != NULL; i++) {
			if (strcmp(v, spec->choices[i]) == 0) {
				*(int *)field = i;
				return 0;
			}
		}
		{
			char list[128];

			join_choices(spec->choices, list, sizeof(list));
			snprintf(why, why_len, "'%s' is not one of: %s", v, list);
		}
		return -1;
	}
	snprintf(why, why_len, "internal: unknown value type");
	return -1;
}

static const struct key_spec *
find_key(const struct key_spec *keys, const char *key, unsigned *index)
{
	for (unsigned i = 0; keys[i].key != NULL; i++) {
		if (strcmp(keys[i].key, key) == 0) {
			*index = i;
			return &keys[i];
		}
	}
	return NULL;
}

static void
list_keys(const struct key_spec *keys, char *out, size_t out_len)
{
	out[0] = '\0';
	for (unsigned i = 0; keys[i].key != NULL; i++) {
		strncat(out, i ? ", " : "", out_len - strlen(out) - 1);
		strncat(out, keys[i].key, out_len - strlen(out) - 1);
	}
}

/* Find or create [port.NAME]. */
static struct ft_port_config *
get_port(struct parse_ctx *ctx, const char *name, unsigned *index, char *err, size_t err_len)
{
	struct ft_config *cfg = ctx->cfg;

	for (unsigned i = 0; i < cfg->port_count; i++) {
		if (strcmp(cfg->ports[i].name, name) == 0) {
			*index = i;
			return &cfg->ports[i];
		}
	}
	if (!valid_name(name, FT_CFG_NAME_LEN) || strchr(name, '.') != NULL) {
		fail(err, err_len, ctx,
		     "[port.%s]: port name must be 1 to %d characters of A-Z a-z 0-9 _ -", name,
		     FT_CFG_NAME_LEN - 1);
		return NULL;
	}
	if (cfg->port_count == FT_CFG_MAX_PORTS) {
		fail(err, err_len, ctx, "[port.%s]: too many ports (at most %d)", name,
		     FT_CFG_MAX_PORTS);
		return NULL;
	}
	*index = cfg->port_count;
	port_defaults(&cfg->ports[cfg->port_count], name);
	return &cfg->ports[cfg->port_count++];
}

static int
enter_section(struct parse_ctx *ctx, const char *name, char *err, size_t err_len)
{
	ctx->section = NULL;
	ctx->port = NULL;
	if (strncmp(name, "port.", 5) == 0) {
		unsigned idx;

		ctx->port = get_port(ctx, name + 5, &idx, err, err_len);
		if (ctx->port == NULL)
			return -1;
		if (ctx->line > 0 && ctx->port_line[idx] != 0)
			return fail(err, err_len, ctx, "[%s]: section repeated (first at line %u)",
				    name, ctx->port_line[idx]);
		ctx->port_line[idx] = ctx->line;
		return 0;
	}
	for (const struct section_spec *s = sections; s->name != NULL; s++) {
		if (strcmp(s->name, name) == 0) {
			ctx->section = s;
			return 0;
		}
	}
	return fail(err, err_len, ctx,
		    "[%s]: unknown section (known: [dataplane], [export], [flow], [stats], "
		    "[match], [port.NAME])",
		    name);
}

static int
assign(struct parse_ctx *ctx, const char *key, const char *value, char *err, size_t err_len)
{
	const struct key_spec *keys;
	const struct key_spec *spec;
	char why[PATH_MAX + 256];
	unsigned *seen;
	unsigned idx;
	void *base;
	char sname[FT_CFG_NAME_LEN + 8];

	if (ctx->port != NULL) {
		unsigned p = (unsigned)(ctx->port - ctx->cfg->ports);

		keys = port_keys;
		base = ctx->port;
		seen = ctx->seen_port[p];
		snprintf(sname, sizeof(sname), "port.%s", ctx->port->name);
	} else if (ctx->section != NULL) {
		keys = ctx->section->keys;
		base = ctx->cfg;
		seen = ctx->seen_global[ctx->section - sections];
		snprintf(sname, sizeof(sname), "%s", ctx->section->name);
	} else {
		return fail(err, err_len, ctx, "%s: key outside of any [section]", key);
	}

	spec = find_key(keys, key, &idx);
	if (spec == NULL) {
		char known[512];

		list_keys(keys, known, sizeof(known));
		return fail(err, err_len, ctx, "[%s] %s: unknown key (known: %s)", sname, key,
			    known);
	}
	if (ctx->line > 0 && seen[idx] != 0)
		return fail(err, err_len, ctx, "[%s] %s: key repeated (first set at line %u)", sname,
			    key, seen[idx]);
	if (set_value(spec, base, value, ctx->base_dir, why, sizeof(why)) != 0)
		return fail(err, err_len, ctx, "[%s] %s: %s", sname, key, why);
	seen[idx] = ctx->line > 0 ? ctx->line : 1;

	if (ctx->port != NULL && (spec->type == T_FILE || strcmp(key, "device") == 0)) {
		ctx->port->kind = spec->type == T_FILE ? FT_PORT_PCAP : FT_PORT_DEVICE;
		snprintf(ctx->port->origin.file, sizeof(ctx->port->origin.file), "%s", ctx->file);
		ctx->port->origin.line = ctx->line;
	}
	if (ctx->port != NULL && strcmp(key, "filter") == 0) {
		snprintf(ctx->port->filter_origin.file, sizeof(ctx->port->filter_origin.file), "%s",
			 ctx->file);
		ctx->port->filter_origin.line = ctx->line;
	}
	return 0;
}

int
ft_config_load(struct ft_config *cfg, const char *path, char *err, size_t err_len)
{
	struct parse_ctx *ctx;
	char buf[LINE_MAX_LEN + 2];
	char dir[PATH_MAX];
	FILE *f;
	int rc = -1;

	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		snprintf(err, err_len, "%s: out of memory", path);
		return -1;
	}
	ctx->cfg = cfg;
	ctx->file = path;
	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(ctx->base_dir, sizeof(ctx->base_dir), "%s", dirname(dir));

	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, err_len, "%s: cannot open configuration: %s", path, strerror(errno));
		free(ctx);
		return -1;
	}
	snprintf(cfg->source, sizeof(cfg->source), "%s", path);

	while (fgets(buf, sizeof(buf), f) != NULL) {
		char *s, *eq;

		ctx->line++;
		if (strlen(buf) > LINE_MAX_LEN && strchr(buf, '\n') == NULL) {
			fail(err, err_len, ctx, "line longer than %d characters", LINE_MAX_LEN);
			goto out;
		}
		strip_comment(buf);
		s = ft_trim(buf);
		if (*s == '\0')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');

			if (end == NULL || end[1] != '\0') {
				fail(err, err_len, ctx, "malformed section header '%s'", s);
				goto out;
			}
			*end = '\0';
			if (enter_section(ctx, ft_trim(s + 1), err, err_len) != 0)
				goto out;
			continue;
		}
		eq = strchr(s, '=');
		if (eq == NULL) {
			fail(err, err_len, ctx, "expected 'key = value' or '[section]', got '%s'", s);
			goto out;
		}
		*eq = '\0';
		if (*ft_trim(s) == '\0') {
			fail(err, err_len, ctx, "missing key before '='");
			goto out;
		}
		if (assign(ctx, ft_trim(s), ft_trim(eq + 1), err, err_len) != 0)
			goto out;
	}
	if (ferror(f)) {
		snprintf(err, err_len, "%s: read error: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	fclose(f);
	free(ctx);
	return rc;
}

int
ft_config_set(struct ft_config *cfg, const char *assignment, char *err, size_t err_len)
{
	struct parse_ctx *ctx;
	char buf[LINE_MAX_LEN];
	char *eq, *dot;
	int rc = -1;

	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	ctx->cfg = cfg;
	ctx->file = "command line";
	if (getcwd(ctx->base_dir, sizeof(ctx->base_dir)) == NULL)
		ctx->base_dir[0] = '\0';

	snprintf(buf, sizeof(buf), "%s", assignment);
	eq = strchr(buf, '=');
	if (eq == NULL) {
		fail(err, err_len, ctx, "--set %s: expected SECTION.KEY=VALUE", assignment);
		goto out;
	}
	*eq = '\0';
	dot = strrchr(buf, '.');
	if (dot == NULL || dot == buf) {
		fail(err, err_len, ctx, "--set %s: expected SECTION.KEY=VALUE", assignment);
		goto out;
	}
	*dot = '\0';
	if (enter_section(ctx, buf, err, err_len) != 0)
		goto out;
	rc = assign(ctx, dot + 1, eq + 1, err, err_len);
out:
	free(ctx);
	return rc;
}

int
ft_config_set_pcap(struct ft_config *cfg, const char *path, char *err, size_t err_len)
{
	struct ft_port_config *port = &cfg->ports[0];
	char why[PATH_MAX + 256];
	char cwd[PATH_MAX];

	if (getcwd(cwd, sizeof(cwd)) == NULL)
		cwd[0] = '\0';
	port_defaults(port, "pcap");
	if (resolve_file(cwd, path, port->pcap, sizeof(port->pcap), why, sizeof(why)) != 0) {
		snprintf(err, err_len, "command line: --pcap: %s", why);
		return -1;
	}
	port->kind = FT_PORT_PCAP;
	snprintf(port->origin.file, sizeof(port->origin.file), "command line (--pcap)");
	cfg->port_count = 1;
	return 0;
}

int
ft_config_set_filter(struct ft_config *cfg, const char *expr, char *err, size_t err_len)
{
	if (strlen(expr) >= FT_CFG_FILTER_LEN) {
		snprintf(err, err_len, "command line: --filter: longer than %d characters",
			 FT_CFG_FILTER_LEN - 1);
		return -1;
	}
	for (unsigned i = 0; i < cfg->port_count; i++) {
		struct ft_port_config *p = &cfg->ports[i];

		snprintf(p->filter, sizeof(p->filter), "%s", expr);
		snprintf(p->filter_origin.file, sizeof(p->filter_origin.file),
			 "command line (--filter)");
		p->filter_origin.line = 0;
	}
	return 0;
}

int
ft_config_validate(const struct ft_config *cfg, char *err, size_t err_len)
{
	const char *src = cfg->source[0] != '\0' ? cfg->source : "configuration";

	if (cfg->port_count == 0) {
		snprintf(err, err_len,
			 "%s: no input: add a [port.NAME] section with pcap = FILE or device = "
			 "DEVARGS, or pass --pcap FILE",
			 src);
		return -1;
	}
	for (unsigned i = 0; i < cfg->port_count; i++) {
		const struct ft_port_config *p = &cfg->ports[i];

		if (p->pcap[0] == '\0' && p->device[0] == '\0') {
			snprintf(err, err_len, "%s: [port.%s]: needs pcap = FILE or device = DEVARGS",
				 src, p->name);
			return -1;
		}
		if (p->pcap[0] != '\0' && p->device[0] != '\0') {
			snprintf(err, err_len, "%s:%u: [port.%s]: pcap and device are exclusive",
				 p->origin.file, p->origin.line, p->name);
			return -1;
		}
		if (p->kind == FT_PORT_DEVICE && p->pcap_loop) {
			snprintf(err, err_len, "%s: [port.%s] pcap_loop: only for pcap ports", src,
				 p->name);
			return -1;
		}
	}
	if (cfg->emergency_enter > 0 &&
	    (cfg->emergency_leave > cfg->emergency_enter || cfg->emergency_factor <= 0)) {
		snprintf(err, err_len,
			 "%s: [flow] emergency_leave (%g) must not exceed emergency_enter (%g), and "
			 "emergency_factor (%g) must be above 0",
			 src, cfg->emergency_leave, cfg->emergency_enter, cfg->emergency_factor);
		return -1;
	}
	if (cfg->stats_interval_ns % cfg->stats_bucket_ns != 0 ||
	    cfg->stats_interval_ns % (SEC / 10) != 0) {
		snprintf(err, err_len,
			 "%s: [stats] interval: %" PRIu64
			 " ns is not a multiple of bucket (%" PRIu64
			 " ns) and of 100 ms (records describe windows that end on bucket edges)",
			 src, cfg->stats_interval_ns, cfg->stats_bucket_ns);
		return -1;
	}
	if (cfg->mbufs != 0 && cfg->mbuf_cache * 2 > cfg->mbufs) {
		snprintf(err, err_len, "%s: [dataplane] mbuf_cache: %u is more than half of mbufs (%u)",
			 src, cfg->mbuf_cache, cfg->mbufs);
		return -1;
	}
	return 0;
}

const char *
ft_config_key(unsigned i, const char **section)
{
	for (const struct section_spec *s = sections; s->name != NULL; s++) {
		for (const struct key_spec *k = s->keys; k->key != NULL; k++) {
			if (i-- == 0) {
				*section = s->name;
				return k->key;
			}
		}
	}
	for (const struct key_spec *k = port_keys; k->key != NULL; k++) {
		if (i-- == 0) {
			*section = "port";
			return k->key;
		}
	}
	return NULL;
}

bool
ft_config_all_finite(const struct ft_config *cfg)
{
	for (unsigned i = 0; i < cfg->port_count; i++)
		if (cfg->ports[i].kind != FT_PORT_PCAP || cfg->ports[i].pcap_loop)
			return false;
	return cfg->port_count > 0;
}
