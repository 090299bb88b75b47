/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Strings that match a regex: a small parser to an AST, and a random walk of it.
 * Only generation is needed, so there is no matcher; the unit tests check the
 * output against POSIX regexec().
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pktgen.h"
#include "internal.h"

#define UNBOUNDED_EXTRA 8

enum node_kind { N_SET, N_SEQ, N_ALT, N_REP };

struct node {
	enum node_kind kind;
	/* N_SET: the bytes to choose from (members preferred: printable ones) */
	uint16_t nchoice;
	uint8_t *choice;
	/* N_SEQ / N_ALT */
	unsigned nkids;
	struct node **kids;
	/* N_REP */
	uint32_t min, max;
};

struct ft_pktgen_regex {
	struct node *root;
	uint32_t min_len, max_len;
};

struct parser {
	const char *p, *end;
	char *err;
	size_t errlen;
	int depth;
};

static void
node_free(struct node *n)
{
	if (!n)
		return;
	for (unsigned i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->choice);
	free(n);
}

static struct node *
node_new(enum node_kind k)
{
	struct node *n = calloc(1, sizeof(*n));
	if (n)
		n->kind = k;
	return n;
}

static int
node_add(struct node *n, struct node *kid)
{
	struct node **k = realloc(n->kids, (n->nkids + 1) * sizeof(*k));
	if (!k)
		return -ENOMEM;
	n->kids = k;
	n->kids[n->nkids++] = kid;
	return 0;
}

/* A set node from a 256-bit membership map. Generation prefers printable ASCII
 * members so negated classes and '.' give readable text. */
static struct node *
set_node(const uint8_t member[256])
{
	uint8_t buf[256];
	unsigned n = 0;
	for (unsigned c = 0x20; c < 0x7f; c++)
		if (member[c])
			buf[n++] = (uint8_t)c;
	if (!n)
		for (unsigned c = 0; c < 256; c++)
			if (member[c])
				buf[n++] = (uint8_t)c;
	if (!n)
		return NULL;
	struct node *nd = node_new(N_SET);
	if (!nd)
		return NULL;
	nd->choice = malloc(n);
	if (!nd->choice) {
		free(nd);
		return NULL;
	}
	memcpy(nd->choice, buf, n);
	nd->nchoice = (uint16_t)n;
	return nd;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void
class_fill(uint8_t m[256], char cls)
{
	int neg = isupper((unsigned char)cls);
	uint8_t t[256] = {0};
	switch (tolower((unsigned char)cls)) {
	case 'd':
		for (int c = '0'; c <= '9'; c++)
			t[c] = 1;
		break;
	case 'w':
		for (int c = 0; c < 256; c++)
			t[c] = (uint8_t)(isalnum(c) && c < 128) || c == '_';
		break;
	case 's':
		t[' '] = t['\t'] = t['\n'] = t['\r'] = t['\f'] = t['\v'] = 1;
		break;
	}
	for (int c = 0; c < 256; c++)
		if (t[c] != neg)
			m[c] = 1;
}

/*
 * Parse one escape after '\'. Returns a byte (0..255), or 256+letter for a class
 * escape (\d \w \s and upper case), or -1 on error.
 */
static int
parse_escape(struct parser *ps)
{
	if (ps->p >= ps->end) {
		pg_err(ps->err, ps->errlen, "regex ends with a backslash");
		return -1;
	}
	char c = *ps->p++;
	switch (c) {
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	case 'f':
		return '\f';
	case 'v':
		return '\v';
	case 'e':
		return 0x1b;
	case 'a':
		return 0x07;
	case '0':
		return 0;
	case 'x': {
		int h1, h2;
		if (ps->p + 2 > ps->end || (h1 = hexval(ps->p[0])) < 0 ||
		    (h2 = hexval(ps->p[1])) < 0) {
			pg_err(ps->err, ps->errlen, "regex: \\x needs two hex digits");
			return -1;
		}
		ps->p += 2;
		return h1 * 16 + h2;
	}
	case 'd':
	case 'D':
	case 'w':
	case 'W':
	case 's':
	case 'S':
		return 256 + c;
	default:
		if (isalnum((unsigned char)c)) {
			pg_err(ps->err, ps->errlen, "regex: unsupported escape \\%c", c);
			return -1;
		}
		return (unsigned char)c;
	}
}

static struct node *parse_alt(struct parser *ps);

static struct node *
parse_class(struct parser *ps)
{
	uint8_t m[256] = {0};
	int neg = 0, first = 1;
	if (ps->p < ps->end && *ps->p == '^') {
		neg = 1;
		ps->p++;
	}
	for (;;) {
		if (ps->p >= ps->end) {
			pg_err(ps->err, ps->errlen, "regex: unterminated [");
			return NULL;
		}
		if (*ps->p == ']' && !first) {
			ps->p++;
			break;
		}
		first = 0;
		int lo;
		if (*ps->p == '\\') {
			ps->p++;
			lo = parse_escape(ps);
			if (lo < 0)
				return NULL;
			if (lo >= 256) {
				class_fill(m, (char)(lo - 256));
				continue;
			}
		} else if (*ps->p == '[' && ps->p + 1 < ps->end && ps->p[1] == ':') {
			pg_err(ps->err, ps->errlen,
			       "regex: POSIX classes [:name:] are not supported");
			return NULL;
		} else {
			lo = (unsigned char)*ps->p++;
		}
		int hi = lo;
		if (ps->p + 1 < ps->end && *ps->p == '-' && ps->p[1] != ']') {
			ps->p++;
			if (*ps->p == '\\') {
				ps->p++;
				hi = parse_escape(ps);
				if (hi < 0 || hi >= 256) {
					pg_err(ps->err, ps->errlen,
					       "regex: bad range end in class");
					return NULL;
				}
			} else {
				hi = (unsigned char)*ps->p++;
			}
			if (hi < lo) {
				pg_err(ps->err, ps->errlen, "regex: reversed range in class");
				return NULL;
			}
		}
		for (int c = lo; c <= hi; c++)
			m[c] = 1;
	}
	if (neg)
		for (int c = 0; c < 256; c++)
			m[c] = !m[c];
	struct node *n = set_node(m);
	if (!n)
		pg_err(ps->err, ps->errlen, "regex: empty class");
	return n;
}

static struct node *
single(int c)
{
	uint8_t m[256] = {0};
	m[c] = 1;
	return set_node(m);
}

static struct node *
parse_atom(struct parser *ps)
{
	char c = *ps->p++;
	switch (c) {
	case '(': {
		if (++ps->depth > 64) {
			pg_err(ps->err, ps->errlen, "regex: groups nested too deep");
			return NULL;
		}
		if (ps->p + 1 < ps->end && ps->p[0] == '?') {
			if (ps->p[1] != ':') {
				pg_err(ps->err, ps->errlen, "regex: only (?: groups are supported");
				return NULL;
			}
			ps->p += 2;
		}
		struct node *n = parse_alt(ps);
		if (!n)
			return NULL;
		if (ps->p >= ps->end || *ps->p != ')') {
			pg_err(ps->err, ps->errlen, "regex: missing )");
			node_free(n);
			return NULL;
		}
		ps->p++;
		ps->depth--;
		return n;
	}
	case '[':
		return parse_class(ps);
	case '.': {
		uint8_t m[256];
		memset(m, 1, sizeof(m));
		m['\n'] = 0;
		return set_node(m);
	}
	case '\\': {
		int e = parse_escape(ps);
		if (e < 0)
			return NULL;
		if (e >= 256) {
			uint8_t m[256] = {0};
			class_fill(m, (char)(e - 256));
			return set_node(m);
		}
		return single(e);
	}
	case ')':
	case '*':
	case '+':
	case '?':
	case '{':
		pg_err(ps->err, ps->errlen, "regex: unexpected '%c'", c);
		return NULL;
	default:
		return single((unsigned char)c);
	}
}

/* Parse "{n}", "{n,}", "{n,m}"; returns 1 if it was a quantifier, 0 if the
 * brace is a literal (PCRE treats a malformed one so), -1 on error. */
static int
parse_braces(struct parser *ps, uint32_t *min, uint32_t *max)
{
	const char *q = ps->p + 1;
	char *end;
	if (q >= ps->end || !isdigit((unsigned char)*q))
		return 0;
	unsigned long a = strtoul(q, &end, 10), b = a;
	if (*end == ',') {
		if (isdigit((unsigned char)end[1]))
			b = strtoul(end + 1, &end, 10);
		else {
			b = a + UNBOUNDED_EXTRA;
			end++;
		}
	}
	if (*end != '}')
		return 0;
	if (b < a || b > 4096) {
		pg_err(ps->err, ps->errlen, "regex: bad repeat {%lu,%lu}", a, b);
		return -1;
	}
	*min = (uint32_t)a;
	*max = (uint32_t)b;
	ps->p = end + 1;
	return 1;
}

static struct node *
parse_seq(struct parser *ps)
{
	struct node *seq = node_new(N_SEQ);
	if (!seq)
		return NULL;
	while (ps->p < ps->end && *ps->p != '|' && *ps->p != ')') {
		if (*ps->p == '^' || *ps->p == '$') {
			ps->p++;
			continue;
		}
		struct node *a = parse_atom(ps);
		if (!a)
			goto fail;
		for (;;) {
			uint32_t min, max;
			int q = 0;
			if (ps->p < ps->end) {
				switch (*ps->p) {
				case '?':
					min = 0, max = 1, q = 1, ps->p++;
					break;
				case '*':
					min = 0, max = UNBOUNDED_EXTRA, q = 1, ps->p++;
					break;
				case '+':
					min = 1, max = 1 + UNBOUNDED_EXTRA, q = 1, ps->p++;
					break;
				case '{':
					q = parse_braces(ps, &min, &max);
					if (q < 0) {
						node_free(a);
						goto fail;
					}
					break;
				}
			}
			if (!q)
				break;
			/* Lazy or possessive suffix: generation does not care. */
			if (ps->p < ps->end && (*ps->p == '?' || *ps->p == '+'))
				ps->p++;
			struct node *r = node_new(N_REP);
			if (!r || node_add(r, a)) {
				free(r);
				node_free(a);
				goto fail;
			}
			r->min = min;
			r->max = max;
			a = r;
		}
		if (node_add(seq, a)) {
			node_free(a);
			goto fail;
		}
	}
	return seq;
fail:
	node_free(seq);
	return NULL;
}

static struct node *
parse_alt(struct parser *ps)
{
	struct node *first = parse_seq(ps);
	if (!first)
		return NULL;
	if (ps->p >= ps->end || *ps->p != '|')
		return first;
	struct node *alt = node_new(N_ALT);
	if (!alt || node_add(alt, first)) {
		free(alt);
		node_free(first);
		return NULL;
	}
	while (ps->p < ps->end && *ps->p == '|') {
		ps->p++;
		struct node *n = parse_seq(ps);
		if (!n || node_add(alt, n)) {
			node_free(n);
			node_free(alt);
			return NULL;
		}
	}
	return alt;
}

static void
bounds(const struct node *n, uint64_t *lo, uint64_t *hi)
{
	uint64_t a, b;
	switch (n->kind) {
	case N_SET:
		*lo = *hi = 1;
		return;
	case N_SEQ:
		*lo = *hi = 0;
		for (unsigned i = 0; i < n->nkids; i++) {
			bounds(n->kids[i], &a, &b);
			*lo += a;
			*hi += b;
		}
		return;
	case N_ALT:
		*lo = UINT64_MAX;
		*hi = 0;
		for (unsigned i = 0; i < n->nkids; i++) {
			bounds(n->kids[i], &a, &b);
			if (a < *lo)
				*lo = a;
			if (b > *hi)
				*hi = b;
		}
		return;
	case N_REP:
		bounds(n->kids[0], &a, &b);
		*lo = a * n->min;
		*hi = b * n->max;
		return;
	}
}

struct ft_pktgen_regex *
ft_pktgen_regex_compile(const char *src, char *err, size_t errlen)
{
	struct parser ps = {.err = err, .errlen = errlen};
	const char *s = src;
	const char *e = src + strlen(src);
	if (*s == '/') {
		const char *last = strrchr(s + 1, '/');
		if (!last) {
			pg_err(err, errlen, "regex '%s': missing closing /", src);
			return NULL;
		}
		for (const char *f = last + 1; f < e; f++)
			if (!strchr("ismHLV8WP", *f)) {
				pg_err(err, errlen, "regex '%s': unknown flag '%c'", src, *f);
				return NULL;
			}
		s++;
		e = last;
	}
	ps.p = s;
	ps.end = e;
	struct node *root = parse_alt(&ps);
	if (root && ps.p != ps.end) {
		pg_err(err, errlen, "regex: unbalanced )");
		node_free(root);
		root = NULL;
	}
	if (!root) {
		if (err && errlen && !err[0])
			pg_err(err, errlen, "regex '%s': out of memory", src);
		return NULL;
	}
	uint64_t lo, hi;
	bounds(root, &lo, &hi);
	if (hi > FT_PKTGEN_MAX_PATTERN || lo == 0) {
		pg_err(err, errlen, "regex '%s': generated length %llu..%llu not in 1..%u", src,
		       (unsigned long long)lo, (unsigned long long)hi, FT_PKTGEN_MAX_PATTERN);
		node_free(root);
		return NULL;
	}
	struct ft_pktgen_regex *re = malloc(sizeof(*re));
	if (!re) {
		node_free(root);
		return NULL;
	}
	re->root = root;
	re->min_len = (uint32_t)lo;
	re->max_len = (uint32_t)hi;
	return re;
}

static void
gen(const struct node *n, struct ft_pktgen_rng *r, uint8_t *out, uint32_t cap, uint32_t *len)
{
	switch (n->kind) {
	case N_SET:
		if (*len < cap)
			out[*len] =
				n->choice[n->nchoice == 1 ? 0 : ft_pktgen_rng_below(r, n->nchoice)];
		(*len)++;
		return;
	case N_SEQ:
		for (unsigned i = 0; i < n->nkids; i++)
			gen(n->kids[i], r, out, cap, len);
		return;
	case N_ALT:
		gen(n->kids[ft_pktgen_rng_below(r, n->nkids)], r, out, cap, len);
		return;
	case N_REP: {
		uint32_t k = n->min + (uint32_t)ft_pktgen_rng_below(r, n->max - n->min + 1);
		for (uint32_t i = 0; i < k; i++)
			gen(n->kids[0], r, out, cap, len);
		return;
	}
	}
}

uint32_t
ft_pktgen_regex_generate(const struct ft_pktgen_regex *re, struct ft_pktgen_rng *r, uint8_t *out,
			 uint32_t cap)
{
	uint32_t len = 0;
	gen(re->root, r, out, cap, &len);
	return len < cap ? len : cap;
}

uint32_t
ft_pktgen_regex_min_len(const struct ft_pktgen_regex *re)
{
	return re->min_len;
}

uint32_t
ft_pktgen_regex_max_len(const struct ft_pktgen_regex *re)
{
	return re->max_len;
}

void
ft_pktgen_regex_free(struct ft_pktgen_regex *re)
{
	if (!re)
		return;
	node_free(re->root);
	free(re);
}
