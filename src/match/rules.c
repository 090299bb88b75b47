/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Rules file parser (grammar: config/rules/README.md).
 *
 * Compatibility with Hyperscan's own tools: a line hsbench or hscheck accepts
 * (`ID:/regex/flags{ext}`, '#' comments, blank lines) means the same here.
 * Hyperscan takes the regex to end at the line's last '/'; since attributes
 * may follow the signature here, the regex ends at the last '/' after which
 * the rest of the line parses (flags, extended parameters, attributes). For a
 * line without attributes that is Hyperscan's rule; with attributes, a '/' in
 * an attribute value must sit in a quoted value followed by something that is
 * not an attribute, which the error for the last '/' then explains.
 *
 * Runs once at start-up, before EAL: plain libc allocation.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>

#include "common/common.h"
#include "match.h"

/* A rule being read: what the signature and attributes give. */
struct rule_parse {
	unsigned flags;
	hs_expr_ext_t ext;
	bool has_ext;
	uint8_t dir;
	bool any_proto;
	uint8_t protos[32];
	struct ft_port_range ports[64];
	unsigned nports;
	char name[FT_EXPORT_RULE_NAME_LEN];
	char meta[FT_EXPORT_RULE_META_LEN];
	bool seen_name, seen_dir, seen_proto, seen_port, seen_meta;
};

static void __attribute__((format(printf, 2, 3))) say(char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, 256, fmt, ap);
	va_end(ap);
}

/* Hyperscan's single-character flags (util/ExpressionParser.rl). 'O' is
 * hsbench's ordering flag for its own tests: accepted, no effect. */
static int
flag_bit(char c, unsigned *bit)
{
	switch (c) {
	case 'i':
		*bit = HS_FLAG_CASELESS;
		return 0;
	case 's':
		*bit = HS_FLAG_DOTALL;
		return 0;
	case 'm':
		*bit = HS_FLAG_MULTILINE;
		return 0;
	case 'H':
		*bit = HS_FLAG_SINGLEMATCH;
		return 0;
	case 'V':
		*bit = HS_FLAG_ALLOWEMPTY;
		return 0;
	case '8':
		*bit = HS_FLAG_UTF8;
		return 0;
	case 'W':
		*bit = HS_FLAG_UCP;
		return 0;
	case 'P':
		*bit = HS_FLAG_PREFILTER;
		return 0;
	case 'L':
		*bit = HS_FLAG_SOM_LEFTMOST;
		return 0;
	case 'C':
		*bit = HS_FLAG_COMBINATION;
		return 0;
	case 'Q':
		*bit = HS_FLAG_QUIET;
		return 0;
	case 'O':
		*bit = 0;
		return 0;
	default:
		return -1;
	}
}

static int
parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 19)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* "{key=value, key=value}" starting at p (on '{'); *end past '}'. */
static int
parse_ext(const char *p, const char **end, struct rule_parse *rp, char *why)
{
	static const char *const keys[] = {"min_offset", "max_offset", "min_length",
					   "edit_distance", "hamming_distance"};
	hs_expr_ext_t *e = &rp->ext;

	memset(e, 0, sizeof(*e));
	p++;
	for (;;) {
		const char *k, *v;
		size_t kn, vn;
		uint64_t val;
		unsigned i;

		while (*p == ' ')
			p++;
		k = p;
		while (*p == '_' || islower((unsigned char)*p))
			p++;
		kn = (size_t)(p - k);
		if (*p != '=') {
			say(why, "extended parameters: expected key=value in '{...}' at '%.20s'",
			    k);
			return -1;
		}
		for (i = 0; i < 5; i++)
			if (strlen(keys[i]) == kn && strncmp(keys[i], k, kn) == 0)
				break;
		if (i == 5) {
			say(why,
			    "extended parameters: unknown key '%.*s' (known: min_offset, "
			    "max_offset, "
			    "min_length, edit_distance, hamming_distance)",
			    (int)(kn < 40 ? kn : 40), k);
			return -1;
		}
		v = ++p;
		while (*p != '\0' && *p != ',' && *p != '}' && *p != ' ')
			p++;
		vn = (size_t)(p - v);
		if (parse_u64(v, vn, &val) != 0 || (i >= 3 && val > UINT32_MAX)) {
			say(why, "extended parameters: %s: '%.*s' is not a number in range",
			    keys[i], (int)(vn < 20 ? vn : 20), v);
			return -1;
		}
		switch (i) {
		case 0:
			e->flags |= HS_EXT_FLAG_MIN_OFFSET;
			e->min_offset = val;
			break;
		case 1:
			e->flags |= HS_EXT_FLAG_MAX_OFFSET;
			e->max_offset = val;
			break;
		case 2:
			e->flags |= HS_EXT_FLAG_MIN_LENGTH;
			e->min_length = val;
			break;
		case 3:
			e->flags |= HS_EXT_FLAG_EDIT_DISTANCE;
			e->edit_distance = (unsigned)val;
			break;
		default:
			e->flags |= HS_EXT_FLAG_HAMMING_DISTANCE;
			e->hamming_distance = (unsigned)val;
			break;
		}
		while (*p == ' ')
			p++;
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '}') {
			*end = p + 1;
			rp->has_ext = true;
			return 0;
		}
		say(why, "extended parameters: expected ',' or '}' at '%.20s'", p);
		return -1;
	}
}

static int
set_proto(struct rule_parse *rp, const char *item, char *why)
{
	static const struct {
		const char *name;
		int proto[2];
	} names[] = {
		{"tcp", {6, -1}},  {"udp", {17, -1}},	{"sctp", {132, -1}},
		{"icmp", {1, 58}}, {"icmp6", {58, -1}}, {"udplite", {136, -1}},
	};
	uint64_t v;

	if (strcmp(item, "any") == 0) {
		rp->any_proto = true;
		return 1; /* no scope */
	}
	for (size_t i = 0; i < RTE_DIM(names); i++) {
		if (strcmp(item, names[i].name) == 0) {
			for (int k = 0; k < 2 && names[i].proto[k] >= 0; k++)
				rp->protos[names[i].proto[k] / 8] |= 1u << (names[i].proto[k] % 8);
			return 0;
		}
	}
	if (parse_u64(item, strlen(item), &v) != 0 || v > 255) {
		say(why,
		    "proto: '%.40s' is not a protocol (tcp, udp, sctp, icmp, icmp6, udplite, any, "
		    "or "
		    "a number 0-255)",
		    item);
		return -1;
	}
	rp->protos[v / 8] |= (uint8_t)(1u << (v % 8));
	return 0;
}

static int
set_port(struct rule_parse *rp, const char *item, char *why)
{
	const char *dash = strchr(item, '-');
	uint64_t lo, hi;

	if (strcmp(item, "any") == 0) {
		rp->nports = 0;
		return 1; /* no scope */
	}
	if (dash != NULL) {
		if (parse_u64(item, (size_t)(dash - item), &lo) != 0 ||
		    parse_u64(dash + 1, strlen(dash + 1), &hi) != 0 || lo > 65535 || hi > 65535 ||
		    lo > hi) {
			say(why, "port: '%.40s' is not a range A-B with 0 <= A <= B <= 65535",
			    item);
			return -1;
		}
	} else if (parse_u64(item, strlen(item), &lo) != 0 || lo > 65535) {
		say(why, "port: '%.40s' is not a port (0-65535), a range A-B or any", item);
		return -1;
	} else {
		hi = lo;
	}
	if (rp->nports == RTE_DIM(rp->ports)) {
		say(why, "port: more than %zu ports or ranges", RTE_DIM(rp->ports));
		return -1;
	}
	rp->ports[rp->nports].lo = (uint16_t)lo;
	rp->ports[rp->nports++].hi = (uint16_t)hi;
	return 0;
}

/* Split a comma list and apply fn to each item. */
static int
each_item(const char *key, const char *v, struct rule_parse *rp, char *why,
	  int (*fn)(struct rule_parse *, const char *, char *))
{
	char item[64];
	const char *p = v;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		int rc;

		if (n == 0 || n >= sizeof(item)) {
			say(why, "%s: empty or overlong item in '%.60s'", key, v);
			return -1;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		rc = fn(rp, item, why);
		if (rc < 0)
			return -1;
		if (rc > 0 && (comma != NULL || p != v)) {
			say(why, "%s: 'any' cannot be combined with other values", key);
			return -1;
		}
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

static bool
name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.' || c == ':';
}

static int
set_attr(struct rule_parse *rp, const char *key, const char *v, char *why)
{
	if (strcmp(key, "name") == 0) {
		size_t n = strlen(v);

		if (rp->seen_name)
			goto repeated;
		rp->seen_name = true;
		for (size_t i = 0; i < n; i++)
			if (!name_char(v[i]))
				n = 0;
		if (n == 0 || n >= sizeof(rp->name)) {
			say(why, "name: '%.60s' is not a name (1 to %zu of A-Z a-z 0-9 _ - . :)", v,
			    sizeof(rp->name) - 1);
			return -1;
		}
		memcpy(rp->name, v, n + 1);
		return 0;
	}
	if (strcmp(key, "dir") == 0) {
		if (rp->seen_dir)
			goto repeated;
		rp->seen_dir = true;
		if (strcmp(v, "to_server") == 0)
			rp->dir = FT_RULE_DIR_FWD;
		else if (strcmp(v, "to_client") == 0)
			rp->dir = FT_RULE_DIR_REV;
		else if (strcmp(v, "both") == 0)
			rp->dir = FT_RULE_DIR_BOTH;
		else {
			say(why, "dir: '%.40s' is not one of to_server, to_client, both", v);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "proto") == 0) {
		if (rp->seen_proto)
			goto repeated;
		rp->seen_proto = true;
		rp->any_proto = false;
		return each_item("proto", v, rp, why, set_proto);
	}
	if (strcmp(key, "port") == 0) {
		if (rp->seen_port)
			goto repeated;
		rp->seen_port = true;
		return each_item("port", v, rp, why, set_port);
	}
	if (strcmp(key, "meta") == 0) {
		if (rp->seen_meta)
			goto repeated;
		rp->seen_meta = true;
		if (strlen(v) >= sizeof(rp->meta)) {
			say(why, "meta: longer than %zu characters", sizeof(rp->meta) - 1);
			return -1;
		}
		snprintf(rp->meta, sizeof(rp->meta), "%s", v);
		return 0;
	}
	say(why, "unknown attribute '%.40s' (known: name, dir, proto, port, meta)", key);
	return -1;
repeated:
	say(why, "attribute %s given twice", key);
	return -1;
}

/* Attributes: whitespace-separated key=value, value bare or "quoted" (with \"
 * and \\ escapes). */
static int
parse_attrs(const char *p, struct rule_parse *rp, char *why)
{
	char key[32], val[256];

	for (;;) {
		const char *k;
		size_t n = 0;

		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0' || *p == '#') /* end, or a trailing comment */
			return 0;
		k = p;
		while (*p != '\0' && *p != '=' && !isspace((unsigned char)*p))
			p++;
		if (*p != '=' || p == k) {
			say(why, "expected attribute key=value at '%.40s'", k);
			return -1;
		}
		if ((size_t)(p - k) >= sizeof(key)) {
			say(why, "unknown attribute '%.40s' (known: name, dir, proto, port, meta)",
			    k);
			return -1;
		}
		memcpy(key, k, (size_t)(p - k));
		key[p - k] = '\0';
		p++;
		if (*p == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\0') {
					say(why, "%s: unterminated quoted value", key);
					return -1;
				}
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				if (n + 1 >= sizeof(val)) {
					say(why, "%s: value too long", key);
					return -1;
				}
				val[n++] = *p;
			}
			p++;
			if (*p != '\0' && !isspace((unsigned char)*p)) {
				say(why, "%s: text after the closing quote", key);
				return -1;
			}
		} else {
			while (*p != '\0' && !isspace((unsigned char)*p)) {
				if (*p == '"') {
					say(why, "%s: a quote inside a bare value", key);
					return -1;
				}
				if (n + 1 >= sizeof(val)) {
					say(why, "%s: value too long", key);
					return -1;
				}
				val[n++] = *p++;
			}
		}
		val[n] = '\0';
		if (n == 0) {
			say(why, "%s: empty value", key);
			return -1;
		}
		if (set_attr(rp, key, val, why) != 0)
			return -1;
	}
}

/* What follows the regex's closing '/': flags, {ext}, attributes. Returns 0,
 * -1 when the text after this '/' is not flags (so it is no closing '/'), or
 * -2 when it is, but something later is wrong. */
static int
parse_tail(const char *p, struct rule_parse *rp, char *why)
{
	memset(rp, 0, sizeof(*rp));
	rp->dir = FT_RULE_DIR_BOTH;
	rp->any_proto = true;
	while (*p != '\0' && *p != '{' && !isspace((unsigned char)*p)) {
		unsigned bit;

		if (flag_bit(*p, &bit) != 0) {
			say(why, "unknown flag '%c' (known: i s m H V 8 W P L C Q O)", *p);
			return -1;
		}
		rp->flags |= bit;
		p++;
	}
	if (*p == '{' && parse_ext(p, &p, rp, why) != 0)
		return -2;
	if (*p != '\0' && !isspace((unsigned char)*p)) {
		say(why, "expected whitespace before attributes at '%.20s'", p);
		return -2;
	}
	return parse_attrs(p, rp, why) == 0 ? 0 : -2;
}

static int __attribute__((format(printf, 6, 7)))
rule_fail(char *err, size_t err_len, const char *file, unsigned line, const char *text,
	  const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (text != NULL)
		snprintf(err, err_len, "%s:%u: rule '%.200s%s': %s", file, line, text,
			 strlen(text) > 200 ? "..." : "", why);
	else
		snprintf(err, err_len, "%s:%u: %s", file, line, why);
	return -1;
}

/* Parse one rule line (trimmed, not a comment) into r. */
static int
parse_rule(char *s, struct ft_rule *r, struct rule_parse *rp, char *why)
{
	char *colon = strchr(s, ':'), *open, *close;
	uint64_t id;
	char first_why[256] = "", plausible_why[256] = "";

	if (colon == NULL) {
		say(why, "expected ID:/regex/flags");
		return -1;
	}
	if (parse_u64(s, (size_t)(colon - s), &id) != 0 || id > UINT32_MAX) {
		say(why, "'%.*s' is not an ID (an integer from 0 to 4294967295)",
		    (int)((colon - s) < 40 ? (colon - s) : 40), s);
		return -1;
	}
	open = colon + 1;
	if (*open != '/') {
		say(why, "expected '/' after the ID");
		return -1;
	}
	/* The last '/' after which the line parses (see the file comment). */
	/* Errors: the rightmost '/' followed by flags explains best. */
	for (close = open + strlen(open) - 1; close > open; close--) {
		int rc;

		if (*close != '/')
			continue;
		rc = parse_tail(close + 1, rp, why);
		if (rc == 0)
			break;
		if (first_why[0] == '\0')
			snprintf(first_why, sizeof(first_why), "%s", why);
		if (rc == -2 && plausible_why[0] == '\0')
			snprintf(plausible_why, sizeof(plausible_why), "%s", why);
	}
	if (close == open) {
		if (plausible_why[0] != '\0')
			snprintf(why, 256, "%s", plausible_why);
		else if (first_why[0] != '\0')
			snprintf(why, 256, "%s", first_why);
		else
			say(why, "no closing '/' after the regex");
		return -1;
	}
	r->id = (uint32_t)id;
	r->hs_flags = rp->flags;
	r->ext = rp->ext;
	r->has_ext = rp->has_ext;
	r->dir = rp->dir;
	r->any_proto = rp->any_proto;
	memcpy(r->protos, rp->protos, sizeof(r->protos));
	if (rp->seen_name)
		snprintf(r->name, sizeof(r->name), "%s", rp->name);
	else
		snprintf(r->name, sizeof(r->name), "%u", r->id);
	snprintf(r->meta, sizeof(r->meta), "%s", rp->meta);
	r->expr = strndup(open + 1, (size_t)(close - open - 1));
	r->text = strdup(s);
	if (r->expr == NULL || r->text == NULL) {
		say(why, "out of memory");
		return -1;
	}
	return 0;
}

static int
cmp_u32_pair(const void *a, const void *b)
{
	const uint32_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Rule indices by name, then by position. */
static int
cmp_name(const void *x, const void *y, void *rules)
{
	const struct ft_rule *r = rules;
	unsigned a = *(const unsigned *)x, b = *(const unsigned *)y;
	int c = strcmp(r[a].name, r[b].name);

	return c != 0 ? c : (a < b ? -1 : a > b);
}

/* Index of the rule with this ID (ids: sorted (id, index) pairs), or -1. */
static long
find_id(const uint32_t *ids, unsigned n, uint32_t id)
{
	unsigned lo = 0, hi = n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (ids[2 * mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && ids[2 * lo] == id ? (long)ids[2 * lo + 1] : -1;
}

/* Logical combinations name sub-expressions by ID; we compile with indices.
 * Rewrite every number in the expression to the index of the rule it names. */
static int
rewrite_combination(struct ft_rule *r, const uint32_t *ids, unsigned n, char *why)
{
	size_t len = strlen(r->expr);
	char *out = malloc(len * 8 + 16), *o = out;

	if (out == NULL) {
		say(why, "out of memory");
		return -1;
	}
	for (const char *p = r->expr; *p != '\0';) {
		if (isdigit((unsigned char)*p)) {
			const char *q = p;
			uint64_t id;
			long idx;

			while (isdigit((unsigned char)*q))
				q++;
			if (parse_u64(p, (size_t)(q - p), &id) != 0 || id > UINT32_MAX ||
			    (idx = find_id(ids, n, (uint32_t)id)) < 0) {
				say(why, "combination: no rule with ID %.*s in this file",
				    (int)(q - p < 20 ? q - p : 20), p);
				free(out);
				return -1;
			}
			o += sprintf(o, "%ld", idx);
			p = q;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	free(r->expr);
	r->expr = out;
	return 0;
}

/* After the whole file: unique IDs and names, combinations resolved. */
static int
check_file(struct ft_rules *rs, char *err, size_t err_len)
{
	uint32_t *ids = malloc((size_t)rs->count * 2 * sizeof(uint32_t));
	unsigned *by_name = malloc((size_t)rs->count * sizeof(unsigned));
	char why[256];
	int rc = -1;

	if (ids == NULL || by_name == NULL) {
		snprintf(err, err_len, "%s: out of memory", rs->path);
		goto out;
	}
	for (unsigned i = 0; i < rs->count; i++) {
		ids[2 * i] = rs->rule[i].id;
		ids[2 * i + 1] = i;
	}
	qsort(ids, rs->count, 2 * sizeof(uint32_t), cmp_u32_pair);
	for (unsigned i = 1; i < rs->count; i++) {
		if (ids[2 * i] == ids[2 * i - 2]) {
			/* Report the later line; qsort is not stable. */
			unsigned a = ids[2 * i - 1], b = ids[2 * i + 1];
			const struct ft_rule *late = &rs->rule[a > b ? a : b];

			rule_fail(err, err_len, rs->path, late->line, late->text,
				  "ID %u already used at line %u", late->id,
				  rs->rule[a > b ? b : a].line);
			goto out;
		}
	}
	/* Names: a simple hash set would do; names are few compared with the
	 * compile that follows, so sort indices by name instead. */
	for (unsigned i = 0; i < rs->count; i++)
		by_name[i] = i;
	qsort_r(by_name, rs->count, sizeof(unsigned), cmp_name, rs->rule);
	for (unsigned i = 1; i < rs->count; i++) {
		const struct ft_rule *a = &rs->rule[by_name[i - 1]], *b = &rs->rule[by_name[i]];

		if (strcmp(a->name, b->name) == 0) {
			rule_fail(err, err_len, rs->path, b->line, b->text,
				  "name '%s' already used at line %u", b->name, a->line);
			goto out;
		}
	}
	for (unsigned i = 0; i < rs->count; i++) {
		struct ft_rule *r = &rs->rule[i];

		if ((r->hs_flags & HS_FLAG_COMBINATION) &&
		    rewrite_combination(r, ids, rs->count, why) != 0) {
			rule_fail(err, err_len, rs->path, r->line, r->text, "%s", why);
			goto out;
		}
	}
	rc = 0;
out:
	free(ids);
	free(by_name);
	return rc;
}

void
ft_rules_free(struct ft_rules *rs)
{
	if (rs == NULL)
		return;
	for (unsigned i = 0; i < rs->count; i++) {
		free(rs->rule[i].expr);
		free(rs->rule[i].text);
	}
	free(rs->rule);
	free(rs->ports);
	free(rs);
}

int
ft_rules_load(const char *path, struct ft_rules **out, char *err, size_t err_len)
{
	struct ft_rules *rs = calloc(1, sizeof(*rs));
	struct rule_parse rp;
	unsigned cap = 0, ports_cap = 0, lineno = 0;
	char *line = NULL, why[256];
	size_t line_cap = 0;
	ssize_t n;
	FILE *f;

	*out = NULL;
	if (rs == NULL) {
		snprintf(err, err_len, "%s: out of memory", path);
		return -1;
	}
	snprintf(rs->path, sizeof(rs->path), "%s", path);
	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, err_len, "%s: cannot open rules file: %s", path, strerror(errno));
		free(rs);
		return -1;
	}
	while ((n = getline(&line, &line_cap, f)) >= 0) {
		struct ft_rule *r;
		char *s;

		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n > FT_RULE_LINE_MAX) {
			rule_fail(err, err_len, path, lineno, NULL, "line longer than %d bytes",
				  FT_RULE_LINE_MAX);
			goto fail;
		}
		if (strlen(line) != (size_t)n) {
			rule_fail(err, err_len, path, lineno, NULL, "NUL byte in the line");
			goto fail;
		}
		s = ft_trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		if (rs->count == FT_RULES_MAX) {
			rule_fail(err, err_len, path, lineno, NULL, "more than %d rules",
				  FT_RULES_MAX);
			goto fail;
		}
		if (rs->count == cap) {
			unsigned nc = cap ? cap * 2 : 64;
			struct ft_rule *nr = realloc(rs->rule, nc * sizeof(*nr));

			if (nr == NULL) {
				snprintf(err, err_len, "%s: out of memory", path);
				goto fail;
			}
			rs->rule = nr;
			cap = nc;
		}
		r = &rs->rule[rs->count];
		memset(r, 0, sizeof(*r));
		r->line = lineno;
		rs->count++; /* so that ft_rules_free() frees what parse_rule allocated */
		if (parse_rule(s, r, &rp, why) != 0) {
			rule_fail(err, err_len, path, lineno, s, "%s", why);
			goto fail;
		}
		if (rp.nports > 0) {
			if (rs->nports + rp.nports > ports_cap) {
				unsigned nc = ports_cap ? ports_cap * 2 : 64;
				struct ft_port_range *np;

				while (nc < rs->nports + rp.nports)
					nc *= 2;
				np = realloc(rs->ports, nc * sizeof(*np));
				if (np == NULL) {
					snprintf(err, err_len, "%s: out of memory", path);
					goto fail;
				}
				rs->ports = np;
				ports_cap = nc;
			}
			r->ports = rs->nports;
			r->nports = (uint16_t)rp.nports;
			memcpy(&rs->ports[rs->nports], rp.ports, rp.nports * sizeof(rp.ports[0]));
			rs->nports += rp.nports;
		}
		if (r->hs_flags & HS_FLAG_SOM_LEFTMOST)
			rs->som = true;
	}
	if (ferror(f)) {
		snprintf(err, err_len, "%s: read error: %s", path, strerror(errno));
		goto fail;
	}
	if (rs->count == 0) {
		snprintf(err, err_len, "%s: no rules (only comments and blank lines)", path);
		goto fail;
	}
	if (check_file(rs, err, err_len) != 0)
		goto fail;
	free(line);
	fclose(f);
	*out = rs;
	return 0;
fail:
	free(line);
	fclose(f);
	ft_rules_free(rs);
	return -1;
}

bool
ft_rule_scope(const struct ft_rules *rs, const struct ft_rule *r, uint8_t proto,
	      uint16_t server_port)
{
	if (!r->any_proto && !(r->protos[proto / 8] & (1u << (proto % 8))))
		return false;
	if (r->nports == 0)
		return true;
	for (unsigned i = 0; i < r->nports; i++) {
		const struct ft_port_range *pr = &rs->ports[r->ports + i];

		if (server_port >= pr->lo && server_port <= pr->hi)
			return true;
	}
	return false;
}
