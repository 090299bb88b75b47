/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The collector's run loop: wait for a segment, claim it, drain every worker ring
 * into JSON lines, print live statistics, write a summary when the run ends, and
 * wait for the next run.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_ring_elem.h>

#include "collector.h"

/* Records taken from a ring per dequeue; their lines are written with one
 * write(2) before the ring's tail moves (about 250 kB). */
#define BURST 512
/* Idle poll backoff: a ring of a few thousand slots fills in milliseconds at
 * shutdown, when every live flow is exported at once. */
#define IDLE_SLEEP_MIN_NS 20000ULL
#define IDLE_SLEEP_MAX_NS 1000000ULL
#define WAIT_POLL_NS	  50000000ULL

static volatile sig_atomic_t stop_signal;

struct top_entry {
	uint64_t bytes;
	uint64_t packets;
	struct ft_flow_record flow;
};

struct collector {
	const struct ft_collector_config *cfg;
	int out_fd;
	const char *out_name;
	char *out_buf;
	size_t out_len;
	size_t out_cap;
	bool tty;
	unsigned int stats_lines; /* lines of the last statistics block (TTY redraw) */

	/* current run */
	struct ft_segment seg;
	struct ft_seq_tracker seq[FT_EXPORT_MAX_WORKERS];
	struct ft_flow_totals flows;
	uint64_t unknown_records;
	const struct ft_rule_info *rules; /* the segment's rule table */
	uint32_t rule_count;
	uint64_t attach_mono_ns;
	uint64_t heartbeat_mono_ns;
	struct ft_export_header snap;

	/* dataplane statistics (src/stats) */
	struct ft_topk_merge topk;
	struct ft_live_flows live;
	bool have_topk;		 /* a global top-K was merged in this run */
	bool final_drain;	 /* nothing more will be enqueued: write a lone record of a pair */
	uint64_t orphan_records; /* second records of a pair whose first was not received */
	uint64_t stats_lost;	 /* statistics records not kept for lack of memory */

	/* live statistics */
	uint64_t stats_next_ns;
	uint64_t stats_last_ns;
	uint64_t last_rx_packets, last_rx_bytes, last_created, last_ended, last_records;
	struct top_entry *top; /* min-heap on bytes */
	uint32_t top_len;

	/* identity of the last run collected */
	bool have_last;
	int32_t last_pid;
	uint64_t last_start_ns;
};

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000ULL), (long)(ns % 1000000000ULL)};

	/* A signal cuts the sleep short, which is what the stop flag wants. */
	nanosleep(&ts, NULL);
}

static void __attribute__((format(printf, 3, 4)))
say(struct collector *c, bool is_error, const char *fmt, ...)
{
	va_list ap;

	if (c->cfg->quiet && !is_error)
		return;
	c->stats_lines = 0; /* a message below the statistics block: do not redraw over it */
	fputs("flowtap-collector: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#define notice(c, ...) say((c), false, __VA_ARGS__)
#define error(c, ...)  say((c), true, __VA_ARGS__)

static void
on_stop_signal(int sig)
{
	stop_signal = sig;
}

/* ---------------------------------------------------------------- output */

static int
out_open(struct collector *c)
{
	const char *path = c->cfg->output;
	struct stat st;
	char last;

	if (path == NULL || strcmp(path, "-") == 0) {
		c->out_fd = STDOUT_FILENO;
		c->out_name = "standard output";
		return 0;
	}
	/* Append, like eve.json: a restarted collector must not erase what the
	 * previous one wrote. */
	c->out_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (c->out_fd < 0) {
		error(c, "%s: %s", path, strerror(errno));
		return -1;
	}
	c->out_name = path;
	/* A collector killed in the middle of a line leaves it unterminated; start
	 * on a fresh line so only that one line is damaged. */
	if (fstat(c->out_fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    pread(c->out_fd, &last, 1, st.st_size - 1) == 1 && last != '\n') {
		if (write(c->out_fd, "\n", 1) != 1) {
			error(c, "%s: %s", path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int
out_flush(struct collector *c)
{
	size_t off = 0;

	while (off < c->out_len) {
		ssize_t n = write(c->out_fd, c->out_buf + off, c->out_len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)n;
	}
	c->out_len = 0;
	return 0;
}

/* ---------------------------------------------------------------- top flows */

static void
top_sift_down(struct top_entry *h, uint32_t len, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;
		struct top_entry t;

		if (l < len && h[l].bytes < h[m].bytes)
			m = l;
		if (r < len && h[r].bytes < h[m].bytes)
			m = r;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static inline void
top_offer(struct collector *c, const struct ft_flow_record *f, uint64_t packets, uint64_t bytes)
{
	struct top_entry *h = c->top;
	uint32_t i;

	if (c->top_len == c->cfg->top) {
		if (bytes <= h[0].bytes)
			return;
		h[0].bytes = bytes;
		h[0].packets = packets;
		h[0].flow = *f;
		top_sift_down(h, c->top_len, 0);
		return;
	}
	i = c->top_len++;
	h[i].bytes = bytes;
	h[i].packets = packets;
	h[i].flow = *f;
	while (i > 0 && h[(i - 1) / 2].bytes > h[i].bytes) {
		struct top_entry t = h[i];

		h[i] = h[(i - 1) / 2];
		h[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static int
top_cmp_desc(const void *a, const void *b)
{
	const struct top_entry *x = a, *y = b;

	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

/* A flow's protocol for the live view, and its tunnel: "tcp", "udp in vxlan". */
static const char *
proto_name(const struct ft_flow_key *k, char *buf, size_t len)
{
	const char *name;
	char num[16];

	switch (k->proto) {
	case 1:
		name = "icmp";
		break;
	case 6:
		name = "tcp";
		break;
	case 17:
		name = "udp";
		break;
	case 58:
		name = "icmpv6";
		break;
	case 132:
		name = "sctp";
		break;
	default:
		snprintf(num, sizeof(num), "proto-%u", k->proto);
		name = num;
		break;
	}
	if (k->tunnel != FT_TUNNEL_NONE && k->tunnel < FT_TUNNEL_MAX)
		snprintf(buf, len, "%s in %s", name, ft_tunnel_names[k->tunnel]);
	else
		snprintf(buf, len, "%s", name);
	return buf;
}

static void
endpoint(char *buf, const struct ft_flow_key *k, unsigned int i)
{
	char ip[FT_IPV6_STR_MAX];

	if (k->family == 4) {
		ft_format_ipv4(ip, k->addr[i]);
		sprintf(buf, "%s:%u", ip, k->port[i]);
	} else {
		ft_format_ipv6(ip, k->addr[i]);
		sprintf(buf, "[%s]:%u", ip, k->port[i]);
	}
}

/* ---------------------------------------------------------------- statistics */

struct live_counters {
	uint64_t rx_packets, rx_bytes, active, created, ended, discards, filtered, ring_drops;
};

static void
live_counters_read(const struct ft_segment *seg, struct live_counters *lc)
{
	uint32_t w, d;

	memset(lc, 0, sizeof(*lc));
	for (w = 0; w < seg->worker_count; w++) {
		const struct ft_worker_counters *wc = &seg->hdr->workers[w];

		lc->rx_packets += FT_SHM_LOAD(&wc->rx_packets);
		lc->rx_bytes += FT_SHM_LOAD(&wc->rx_bytes);
		lc->active += FT_SHM_LOAD(&wc->flows_active);
		lc->created += FT_SHM_LOAD(&wc->flows_created);
		lc->ended += FT_SHM_LOAD(&wc->flows_ended);
		lc->ring_drops += FT_SHM_LOAD(&wc->ring_drop_records);
		for (d = 0; d < FT_DISCARD_MAX; d++)
			lc->discards += FT_SHM_LOAD(&wc->discard_packets[d]);
		lc->filtered += FT_SHM_LOAD(&wc->discard_packets[FT_DISCARD_FILTERED]);
	}
}

static bool
stats_enabled(const struct collector *c)
{
	return c->cfg->stats_interval_s > 0 && !c->cfg->quiet;
}

static void
stats_start(struct collector *c, uint64_t mono)
{
	struct live_counters lc;

	live_counters_read(&c->seg, &lc);
	c->stats_last_ns = mono;
	c->stats_next_ns = mono + (uint64_t)c->cfg->stats_interval_s * 1000000000ULL;
	c->last_rx_packets = lc.rx_packets;
	c->last_rx_bytes = lc.rx_bytes;
	c->last_created = lc.created;
	c->last_ended = lc.ended;
	c->last_records = 0;
	c->top_len = 0;
}

/* The last global top-K the dataplane's workers gave, with each flow's latest
 * rate; returns the lines printed. */
static unsigned int
print_dataplane_topk(struct collector *c)
{
	const struct ft_topk_merge *m = &c->topk;
	uint32_t i, n = m->n_bytes < c->cfg->top ? m->n_bytes : c->cfg->top;
	char when[FT_RFC3339_LEN + 1];

	ft_format_rfc3339(when, m->result.time_ns);
	fprintf(stderr,
		"  top %" PRIu32
		" by bytes in the %.1f s to %.19s (flows with live statistics: %" PRIu32 ")\n",
		n, (double)m->result.interval_ns / 1e9, when, c->live.count);
	for (i = 0; i < n; i++) {
		const struct ft_topk_item *it = &m->by_bytes[i];
		const struct ft_live_flow *lf = ft_live_flows_find(&c->live, it->e.flow_id);
		char a[FT_IPV6_STR_MAX + 10], b[FT_IPV6_STR_MAX + 10], pb[32], now[48] = "";

		endpoint(a, &it->e.key, it->initiator);
		endpoint(b, &it->e.key, it->initiator ^ 1);
		if (lf != NULL && lf->bucket_ns > 0)
			snprintf(now, sizeof(now), " | now %.3f Mbit/s",
				 (double)lf->last_bytes * 8e3 / (double)lf->bucket_ns);
		fprintf(stderr, "  %2u. %s -> %s %s %" PRIu64 " bytes %" PRIu64 " packets%s\n",
			i + 1, a, b, proto_name(&it->e.key, pb, sizeof(pb)), it->e.bytes,
			it->e.packets, now);
	}
	return n + 1;
}

static void
stats_print(struct collector *c, uint64_t mono)
{
	struct live_counters lc;
	double dt = (double)(mono - c->stats_last_ns) / 1e9;
	double elapsed;
	uint64_t now = clock_ns(CLOCK_REALTIME);
	uint32_t i, n;

	if (dt <= 0)
		dt = 1e-9;
	live_counters_read(&c->seg, &lc);
	elapsed = now > c->seg.start_ns ? (double)(now - c->seg.start_ns) / 1e9 : 0.0;
	if (c->tty && c->stats_lines > 0)
		fprintf(stderr, "\033[%uA\r\033[J", c->stats_lines);
	fprintf(stderr,
		"[%8.1fs] rx %.3f Mpps %.1f Mbit/s | flows %" PRIu64 " active %.0f new/s %.0f "
		"ended/s | records %" PRIu64 " (%.0f/s) | discards %" PRIu64
		" | ring drops %" PRIu64,
		elapsed, (double)(lc.rx_packets - c->last_rx_packets) / dt / 1e6,
		(double)(lc.rx_bytes - c->last_rx_bytes) * 8 / dt / 1e6, lc.active,
		(double)(lc.created - c->last_created) / dt,
		(double)(lc.ended - c->last_ended) / dt, c->flows.records,
		(double)(c->flows.records - c->last_records) / dt, lc.discards, lc.ring_drops);
	/* A capture filter may refuse most of the traffic: say how much of the
	 * discards it is, apart from malformed and lost packets. */
	if (lc.filtered > 0)
		fprintf(stderr, " | filtered %" PRIu64, lc.filtered);
	if (c->rule_count > 0)
		fprintf(stderr, " | matches %" PRIu64, c->flows.by_type[FT_RECORD_MATCH]);
	fputc('\n', stderr);
	n = 1;
	if (c->cfg->top > 0 && c->have_topk) {
		n += print_dataplane_topk(c);
	} else if (c->cfg->top > 0) {
		qsort(c->top, c->top_len, sizeof(c->top[0]), top_cmp_desc);
		for (i = 0; i < c->top_len; i++) {
			const struct ft_flow_record *f = &c->top[i].flow;
			unsigned int s = f->initiator ? 1 : 0;
			char a[FT_IPV6_STR_MAX + 10], b[FT_IPV6_STR_MAX + 10], pb[32];

			endpoint(a, &f->key, s);
			endpoint(b, &f->key, s ^ 1);
			fprintf(stderr,
				"  %2u. %s -> %s %s %" PRIu64 " bytes %" PRIu64 " packets\n", i + 1,
				a, b, proto_name(&f->key, pb, sizeof(pb)), c->top[i].bytes,
				c->top[i].packets);
		}
		n += c->top_len;
		c->top_len = 0;
	}
	c->stats_lines = n;
	c->stats_last_ns = mono;
	c->stats_next_ns += (uint64_t)c->cfg->stats_interval_s * 1000000000ULL;
	if (c->stats_next_ns <= mono)
		c->stats_next_ns = mono + (uint64_t)c->cfg->stats_interval_s * 1000000000ULL;
	c->last_rx_packets = lc.rx_packets;
	c->last_rx_bytes = lc.rx_bytes;
	c->last_created = lc.created;
	c->last_ended = lc.ended;
	c->last_records = c->flows.records;
}

/* ---------------------------------------------------------------- draining */

#define ERR_LOST_OWNERSHIP (-10000)

static inline const struct ft_record *
rec_at(const struct rte_ring_zc_data *z, unsigned int i)
{
	return i < z->n1 ? (const struct ft_record *)z->ptr1 + i
			 : (const struct ft_record *)z->ptr2 + (i - z->n1);
}

/* Is next the second record of the pair that first begins? */
static bool
pair_second(const struct ft_record *first, const struct ft_record *next)
{
	if (next == NULL || next->seq != first->seq + 1)
		return false;
	if (first->type == FT_RECORD_FLOW_STATS)
		return next->type == FT_RECORD_FLOW_DIST &&
		       next->flow_dist.flow_id == first->flow_stats.flow_id &&
		       next->flow_dist.time_ns == first->flow_stats.time_ns;
	return next->type == FT_RECORD_WORKER_DROPS &&
	       next->worker_drops.time_ns == first->worker_stats.time_ns;
}

static inline void
count_record(struct collector *c, struct ft_seq_tracker *seq, const struct ft_record *rec)
{
	ft_seq_track(seq, rec->seq);
	c->flows.by_type[rec->type]++;
}

/* Format records straight from ring memory: the producer does not reuse a slot
 * before the consumer tail passes it. Returns the records consumed: all of
 * them, but for a last record that begins a pair (FLOW_STATS, WORKER_STATS),
 * left in the ring for the next burst, where its second will be, unless this
 * is the final drain. */
static inline unsigned int
process_records(struct collector *c, struct ft_seq_tracker *seq, const struct rte_ring_zc_data *z,
		unsigned int n, char **pp)
{
	bool top = c->top != NULL;
	char *p = *pp;
	unsigned int i;

	for (i = 0; i < n; i++) {
		const struct ft_record *rec = rec_at(z, i);

		if (__builtin_expect(rec->type == FT_RECORD_FLOW, 1)) {
			const struct ft_flow_record *f = &rec->flow;
			uint64_t packets = f->packets[0] + f->packets[1];
			uint64_t bytes = f->bytes[0] + f->bytes[1];

			ft_seq_track(seq, rec->seq);
			c->flows.records++;
			c->flows.packets += packets;
			c->flows.bytes += bytes;
			p += ft_json_flow(p, rec, c->cfg->community_seed);
			if (top)
				top_offer(c, f, packets, bytes);
			continue;
		}
		switch (rec->type) {
		case FT_RECORD_FLOW_STATS:
		case FT_RECORD_WORKER_STATS: {
			const struct ft_record *next = i + 1 < n ? rec_at(z, i + 1) : NULL;
			bool pair;

			if (next == NULL && !c->final_drain) {
				*pp = p;
				return i;
			}
			pair = pair_second(rec, next);
			count_record(c, seq, rec);
			if (rec->type == FT_RECORD_FLOW_STATS) {
				p += ft_json_flow_stats(p, rec, pair ? next : NULL);
				if (ft_live_flows_update(&c->live, &rec->flow_stats) < 0)
					c->stats_lost++;
			} else {
				p += ft_json_worker_stats(p, rec, pair ? next : NULL);
				ft_topk_merge_through(&c->topk, rec->worker,
						      rec->worker_stats.time_ns);
			}
			if (pair) {
				count_record(c, seq, next);
				i++;
			}
			break;
		}
		case FT_RECORD_TOPK:
			count_record(c, seq, rec);
			if (ft_topk_merge_add(&c->topk, rec->worker, &rec->topk) < 0)
				c->stats_lost++;
			break;
		case FT_RECORD_FLOW_DIST:
		case FT_RECORD_WORKER_DROPS:
			count_record(c, seq, rec);
			c->orphan_records++;
			break;
		case FT_RECORD_MATCH: {
			uint32_t idx = rec->match.rule_index;

			count_record(c, seq, rec);
			p += ft_json_match(p, rec, idx < c->rule_count ? &c->rules[idx] : NULL,
					   c->cfg->community_seed);
			break;
		}
		default:
			ft_seq_track(seq, rec->seq);
			c->unknown_records++;
			break;
		}
	}
	*pp = p;
	return n;
}

/* Room for `more` bytes of output after what is buffered. */
static int
out_reserve(struct collector *c, size_t more)
{
	char *b;
	size_t cap = c->out_cap;

	if (c->out_len + more <= cap)
		return 0;
	while (cap < c->out_len + more)
		cap *= 2;
	b = realloc(c->out_buf, cap);
	if (b == NULL)
		return -ENOMEM;
	c->out_buf = b;
	c->out_cap = cap;
	return 0;
}

/* Write the global top-K of every interval all workers completed (or of every
 * pending one, at the end of a run). */
static void
merge_topk(struct collector *c, bool all)
{
	while (ft_topk_merge_next(&c->topk, all)) {
		if (out_reserve(c, FT_JSON_TOPK_MAX(c->topk.result.k)) < 0) {
			c->stats_lost++;
			continue;
		}
		c->out_len += ft_json_topk(c->out_buf + c->out_len, &c->topk);
		c->flows.topk_lines++;
		c->have_topk = true;
	}
}

/* Take up to max records from one ring, write their lines, then confirm them:
 * the zero-copy two-phase dequeue moves the consumer head at start and the tail
 * only at finish (see collector.h on at-least-once). */
static int
drain_ring(struct collector *c, uint32_t w, uint32_t max, uint32_t *got)
{
	struct rte_ring *r = c->seg.rings[w];
	struct rte_ring_zc_data zcd;
	unsigned int n;
	char *p;
	int rc;

	n = rte_ring_dequeue_zc_burst_elem_start(r, sizeof(struct ft_record),
						 max < BURST ? max : BURST, &zcd, NULL);
	*got = n;
	if (n == 0)
		return 0;
	p = c->out_buf + c->out_len;
	n = process_records(c, &c->seq[w], &zcd, n, &p);
	*got = n;
	c->out_len = (size_t)(p - c->out_buf);
	merge_topk(c, false);
	rc = out_flush(c);
	/* A collector that was stopped long enough to be replaced must leave
	 * the ring to its successor, who re-reads what we did not confirm. */
	if (!ft_segment_owned(&c->seg))
		return ERR_LOST_OWNERSHIP;
	if (rc < 0) {
		/* Not written, so not confirmed: put them back for the next
		 * collector (finishing with 0 restores the head). */
		rte_ring_dequeue_zc_elem_finish(r, 0);
		return rc;
	}
	rte_ring_dequeue_zc_elem_finish(r, n);
	return 0;
}

/* One pass over every ring; returns records taken or a negative error. */
static int64_t
drain_pass(struct collector *c)
{
	int64_t total = 0;
	uint32_t w, got;
	int rc;

	for (w = 0; w < c->seg.worker_count; w++) {
		rc = drain_ring(c, w, BURST, &got);
		if (rc < 0)
			return rc;
		total += got;
	}
	return total;
}

/* Refresh consumer_heartbeat_ns when due (cheap enough to call per burst). */
static void
keepalive(struct collector *c, uint64_t mono)
{
	if (mono - c->heartbeat_mono_ns >= FT_CONSUMER_HEARTBEAT_NS) {
		ft_segment_heartbeat(&c->seg, clock_ns(CLOCK_REALTIME));
		c->heartbeat_mono_ns = mono;
	}
}

/* Drain what the rings hold now, not what keeps arriving (a dataplane that is
 * still producing would otherwise keep us here). */
static int
drain_present(struct collector *c)
{
	uint32_t left[FT_EXPORT_MAX_WORKERS];
	uint32_t w, got;
	bool more;
	int rc;

	/* Only at the end of a run, when nothing more can complete a pair. */
	c->final_drain = true;
	for (w = 0; w < c->seg.worker_count; w++)
		left[w] = ft_segment_ring_count(&c->seg, w);
	do {
		more = false;
		for (w = 0; w < c->seg.worker_count; w++) {
			if (left[w] == 0)
				continue;
			rc = drain_ring(c, w, left[w], &got);
			if (rc < 0)
				return rc;
			left[w] = got == 0 ? 0 : left[w] - got;
			more |= left[w] > 0;
		}
		keepalive(c, clock_ns(CLOCK_MONOTONIC));
	} while (more);
	return 0;
}

static bool
rings_empty(const struct collector *c)
{
	uint32_t w;

	for (w = 0; w < c->seg.worker_count; w++)
		if (ft_segment_ring_count(&c->seg, w) != 0)
			return false;
	return true;
}

/* ---------------------------------------------------------------- runs */

enum run_end {
	RUN_COMPLETE,
	RUN_GONE,
	RUN_STOPPED,
	RUN_FAILED,
};

/* A new run: counters to zero. */
static void
run_reset(struct collector *c)
{
	const struct ft_export_header *h = c->seg.hdr;

	memset(c->seq, 0, sizeof(c->seq));
	memset(&c->flows, 0, sizeof(c->flows));
	c->unknown_records = 0;
	c->orphan_records = 0;
	c->stats_lost = 0;
	c->final_drain = false;
	c->have_topk = false;
	ft_topk_merge_init(&c->topk, c->seg.worker_count);
	ft_live_flows_clear(&c->live);
	c->rule_count = h->rule_count;
	c->rules = (const struct ft_rule_info *)((const char *)h + h->rules_offset);
}

/* Every worker's hits of each rule, summed (final once the run finished). */
static uint64_t *
sum_rule_hits(const struct collector *c)
{
	const struct ft_export_header *h = c->seg.hdr;
	uint64_t *sum = calloc(c->rule_count ? c->rule_count : 1, sizeof(uint64_t));

	if (sum == NULL)
		return NULL;
	for (uint32_t w = 0; w < c->seg.worker_count; w++) {
		const uint64_t *hits = (const uint64_t *)((const char *)h + h->rule_hits_offset +
							  h->rule_hits_stride * w);

		for (uint32_t i = 0; i < c->rule_count; i++)
			sum[i] += __atomic_load_n(&hits[i], __ATOMIC_RELAXED);
	}
	return sum;
}

/* The summary line, alone, in its own file (replaced each run), for scripts. */
static void
write_summary_copy(struct collector *c, const char *line, size_t len)
{
	FILE *f = fopen(c->cfg->summary, "w");

	if (f == NULL || fwrite(line, 1, len, f) != len || fclose(f) != 0)
		error(c, "--summary %s: %s", c->cfg->summary, strerror(errno));
}

static int
write_summary(struct collector *c, enum run_end end, bool complete, const char *why)
{
	struct ft_export_header *snap = &c->snap;
	struct ft_summary s;
	uint64_t gaps = 0, end_ns, secs_ns;
	bool counters_final = end == RUN_COMPLETE || end == RUN_GONE;
	uint32_t w;
	int rc;

	ft_segment_snapshot(&c->seg, snap);
	/* Intervals some worker never completed (it stopped first): merge what came. */
	merge_topk(c, true);
	for (w = 0; w < c->seg.worker_count; w++) {
		const struct ft_worker_counters *wc = &snap->workers[w];
		uint64_t issued = counters_final ? wc->records + wc->ring_drop_records : 0;
		uint64_t missing = ft_seq_missing(&c->seq[w], issued);

		gaps += missing;
		if (complete && missing != wc->ring_drop_records)
			notice(c,
			       "worker %" PRIu32 ": %" PRIu64
			       " sequence numbers not received, the worker counted %" PRIu64
			       " ring drops%s",
			       w, missing, wc->ring_drop_records,
			       missing > wc->ring_drop_records
				       ? " (the rest went to an earlier collector)"
				       : "");
	}
	ft_summary_compute(&s, snap, &c->flows, gaps);
	/* The dataplane's last sign of life: its finishing tick, its last tick
	 * before it vanished, or now. */
	end_ns = snap->heartbeat_ns != 0 ? snap->heartbeat_ns : clock_ns(CLOCK_REALTIME);
	{
		size_t at = c->out_len;
		struct ft_rule_hits hits = {c->rules, NULL, c->rule_count};
		uint64_t *sum = NULL;

		/* The summary lists every rule that matched. */
		if (c->rule_count > 0) {
			if (out_reserve(c, FT_JSON_SUMMARY_MAX +
						   (size_t)c->rule_count * FT_JSON_RULE_MAX) == 0)
				sum = sum_rule_hits(c);
			if (sum == NULL)
				error(c, "out of memory: per-rule hits left out of the summary");
			hits.hits = sum;
		}
		c->out_len += ft_json_summary(c->out_buf + c->out_len, snap, &c->flows, &s,
					      sum != NULL ? &hits : NULL, complete, end_ns);
		free(sum);
		if (c->cfg->summary != NULL)
			write_summary_copy(c, c->out_buf + at, c->out_len - at);
	}
	rc = out_flush(c);
	if (rc < 0) {
		error(c, "%s: %s", c->out_name, strerror(-rc));
		return rc;
	}
	secs_ns = clock_ns(CLOCK_MONOTONIC) - c->attach_mono_ns;
	if (c->unknown_records)
		notice(c, "%" PRIu64 " records of unknown type skipped", c->unknown_records);
	if (c->orphan_records)
		notice(c, "%" PRIu64 " statistics records without their first part skipped",
		       c->orphan_records);
	if (c->stats_lost)
		notice(c, "%" PRIu64 " statistics records not merged (out of memory)",
		       c->stats_lost);
	/* An incomplete run is said even with -q: it is why the exit status is 1. */
	say(c, !complete,
	    "%s: run of pid %" PRId32 " %s%s%s: %" PRIu64 " flow records in %.3f s (%.0f "
	    "records/s), %" PRIu64 " sequence gaps, %" PRIu64 " ring drops",
	    c->seg.path, c->seg.dataplane_pid, complete ? "complete" : "incomplete",
	    why ? " - " : "", why ? why : "", c->flows.records, (double)secs_ns / 1e9,
	    secs_ns ? (double)c->flows.records * 1e9 / (double)secs_ns : 0.0, gaps,
	    s.ring_drop_records);
	return 0;
}

/* Drain an attached run until it ends. */
static enum run_end
run_attached(struct collector *c, bool *complete, const char **why)
{
	uint64_t idle_sleep = IDLE_SLEEP_MIN_NS;
	enum ft_dataplane_status st;
	int64_t got;
	int rc;

	*complete = false;
	*why = NULL;
	for (;;) {
		uint64_t mono;

		got = drain_pass(c);
		if (got < 0) {
			rc = (int)got;
			goto fail;
		}
		mono = clock_ns(CLOCK_MONOTONIC);
		keepalive(c, mono);
		if (stats_enabled(c) && mono >= c->stats_next_ns)
			stats_print(c, mono);

		if (stop_signal) {
			bool finished = FT_SHM_LOAD(&c->seg.hdr->state) == FT_SEG_FINISHED;

			rc = drain_present(c);
			if (rc < 0)
				goto fail;
			*complete = finished && rings_empty(c);
			*why = *complete ? NULL : "stopped by a signal";
			return RUN_STOPPED;
		}
		if (got > 0) {
			idle_sleep = IDLE_SLEEP_MIN_NS;
			continue;
		}

		st = ft_segment_dataplane_status(&c->seg, mono, why);
		if (st == FT_DATAPLANE_FINISHED) {
			/* Everything was enqueued before FINISHED was stored. */
			do {
				rc = drain_present(c);
				if (rc < 0)
					goto fail;
			} while (!rings_empty(c));
			*complete = true;
			*why = NULL;
			return RUN_COMPLETE;
		}
		if (st == FT_DATAPLANE_GONE) {
			rc = drain_present(c);
			if (rc < 0)
				goto fail;
			return RUN_GONE;
		}
		sleep_ns(idle_sleep);
		if (idle_sleep < IDLE_SLEEP_MAX_NS)
			idle_sleep *= 2;
	}
fail:
	if (rc == ERR_LOST_OWNERSHIP)
		error(c,
		      "%s: another collector (pid %" PRId32
		      ") took the segment over (was this one stopped?); leaving it",
		      c->seg.path, FT_SHM_LOAD(&c->seg.hdr->consumer_pid));
	else
		error(c, "%s: %s", c->out_name, strerror(-rc));
	*why = "collector failed";
	return RUN_FAILED;
}

/* Wait for a segment of a new run and claim it. Returns 0, or an exit status. */
static int
wait_and_attach(struct collector *c, int *exit_status)
{
	const struct ft_collector_config *cfg = c->cfg;
	uint64_t start = clock_ns(CLOCK_MONOTONIC);
	bool said_waiting = false, said_starting = false, said_old = false;
	char err[512];
	int rc;

	for (;;) {
		if (stop_signal) {
			*exit_status = FT_EXIT_OK;
			return -1;
		}
		rc = ft_segment_open(&c->seg, cfg->instance, err, sizeof(err));
		if (rc == 0) {
			if (c->have_last && c->seg.dataplane_pid == c->last_pid &&
			    c->seg.start_ns == c->last_start_ns) {
				ft_segment_close(&c->seg);
				if (!said_old)
					notice(c,
					       "%s still holds the run of pid %" PRId32
					       " already collected; waiting for a new run",
					       c->seg.path, c->last_pid);
				said_old = true;
			} else {
				rc = ft_segment_claim(&c->seg, (int32_t)getpid(),
						      clock_ns(CLOCK_REALTIME), err, sizeof(err));
				if (rc == 0)
					return 0;
				ft_segment_close(&c->seg);
				error(c, "%s", err);
				*exit_status = FT_EXIT_USAGE;
				return -1;
			}
		} else if (rc == -ENOENT) {
			if (!said_waiting)
				notice(c,
				       "waiting for /dev/shm/" FT_EXPORT_SHM_PREFIX
				       "%s (start flowtap with this instance name)",
				       cfg->instance);
			said_waiting = true;
		} else if (rc == -EAGAIN) {
			if (!said_starting)
				notice(c,
				       "waiting for /dev/shm/" FT_EXPORT_SHM_PREFIX
				       "%s to finish starting",
				       cfg->instance);
			said_starting = true;
		} else {
			error(c, "%s", err);
			*exit_status = FT_EXIT_USAGE;
			return -1;
		}
		if (cfg->wait_timeout_ms >= 0 &&
		    clock_ns(CLOCK_MONOTONIC) - start >=
			    (uint64_t)cfg->wait_timeout_ms * 1000000ULL) {
			error(c,
			      "gave up waiting for /dev/shm/" FT_EXPORT_SHM_PREFIX
			      "%s after %.1f s",
			      cfg->instance, (double)cfg->wait_timeout_ms / 1000.0);
			*exit_status = FT_EXIT_INCOMPLETE;
			return -1;
		}
		sleep_ns(WAIT_POLL_NS);
	}
}

static void
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal must cut a poll sleep short. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A closed output pipe is reported by write() as EPIPE, and handled. */
	signal(SIGPIPE, SIG_IGN);
}

int
ft_collector_run(const struct ft_collector_config *cfg)
{
	struct collector *c;
	int status = FT_EXIT_OK;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return FT_EXIT_INCOMPLETE;
	c->cfg = cfg;
	c->seg.fd = -1;
	/* Redraw the statistics in place only on a terminal that does not also
	 * receive the JSON lines. */
	c->tty = isatty(STDERR_FILENO) &&
		 !((cfg->output == NULL || strcmp(cfg->output, "-") == 0) && isatty(STDOUT_FILENO));
	c->out_cap = (size_t)BURST * FT_JSON_STATS_MAX + FT_JSON_SUMMARY_MAX;
	c->out_buf = malloc(c->out_cap);
	if (cfg->top > 0 && stats_enabled(c))
		c->top = calloc(cfg->top, sizeof(*c->top));
	if (c->out_buf == NULL || (cfg->top > 0 && stats_enabled(c) && !c->top)) {
		error(c, "out of memory");
		status = FT_EXIT_INCOMPLETE;
		goto out;
	}
	if (out_open(c) < 0) {
		status = FT_EXIT_USAGE;
		goto out;
	}
	install_signals();

	for (;;) {
		enum run_end end;
		bool complete;
		const char *why;

		if (wait_and_attach(c, &status) < 0)
			break;
		run_reset(c);
		c->attach_mono_ns = clock_ns(CLOCK_MONOTONIC);
		c->heartbeat_mono_ns = c->attach_mono_ns;
		if (c->seg.reread_records > 0)
			notice(c,
			       "%s: reading again %" PRIu64
			       " records a previous collector took but did not confirm",
			       c->seg.path, c->seg.reread_records);
		notice(c,
		       "%s: attached to run of pid %" PRId32 " (%" PRIu32 " workers, %" PRIu32
		       "-slot rings)",
		       c->seg.path, c->seg.dataplane_pid, c->seg.worker_count, c->seg.ring_size);
		if (stats_enabled(c))
			stats_start(c, c->attach_mono_ns);

		end = run_attached(c, &complete, &why);
		if (end == RUN_FAILED) {
			/* Nothing unconfirmed was lost: release so another collector
			 * can take over at once. */
			ft_segment_release(&c->seg);
			ft_segment_close(&c->seg);
			status = FT_EXIT_INCOMPLETE;
			break;
		}
		if (write_summary(c, end, complete, why) < 0) {
			ft_segment_release(&c->seg);
			ft_segment_close(&c->seg);
			status = FT_EXIT_INCOMPLETE;
			break;
		}
		c->have_last = true;
		c->last_pid = c->seg.dataplane_pid;
		c->last_start_ns = c->seg.start_ns;
		ft_segment_release(&c->seg);
		ft_segment_close(&c->seg);
		if (end == RUN_STOPPED) {
			status = FT_EXIT_OK;
			break;
		}
		if (cfg->once) {
			status = complete ? FT_EXIT_OK : FT_EXIT_INCOMPLETE;
			break;
		}
	}
out:
	if (c->out_fd > STDERR_FILENO)
		close(c->out_fd);
	ft_topk_merge_free(&c->topk);
	ft_live_flows_clear(&c->live);
	free(c->top);
	free(c->out_buf);
	free(c);
	return status;
}
