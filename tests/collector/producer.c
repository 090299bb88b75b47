/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ft-test-producer: a stand-in for the flowtap dataplane's export side, for
 * testing flowtap-collector without DPDK ports. It creates
 * /dev/shm/flowtap.<instance> exactly as src/export/export.h describes (header,
 * one rte_ring_init() ring per worker, SP/SC, 256-byte elements), ticks the
 * heartbeat, pushes synthetic flow records through the rings in drop or
 * backpressure mode with the counters a dataplane would publish, and walks the
 * state machine STARTING -> RUNNING -> STOPPING -> FINISHED (or vanishes, or
 * hangs).
 *
 * Independent oracle: --expect writes, for every record that entered a ring,
 * the JSON line the collector must print, formatted here with snprintf,
 * inet_ntop and gmtime_r (the collector formats by hand). --truth writes what
 * was produced, enqueued and dropped, for the summary checks.
 *
 * Only librte_ring is linked (for rte_ring_init); EAL is never initialised.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "export/export.h"

#define CHUNK		    32
#define TICK_NS		    10000000ULL
#define BACKPRESSURE_MAX_NS 30000000000ULL
#define MAX_SEEN	    16

enum end_mode { END_FINISH, END_VANISH, END_HANG, END_HOLD };

static struct {
	const char *instance;
	unsigned int workers;
	unsigned int ports;
	uint32_t ring_size;
	uint64_t records, records2;
	uint64_t rate;
	enum ft_overflow_mode overflow;
	enum end_mode end;
	double linger_s;
	const char *truth, *expect, *status, *go, *group, *bad;
	mode_t mode;
	bool file_port;
	uint64_t beyond, imissed;
	uint64_t stale_head;
	bool wait_consumer;
	unsigned int starting_ms;
	uint64_t seed;
} opt = {
	.instance = "test",
	.workers = 2,
	.ports = 1,
	.ring_size = 1024,
	.records = 1000,
	.overflow = FT_OVERFLOW_DROP,
	.end = END_FINISH,
	.linger_s = 30,
	.mode = 0660,
	.seed = 1,
};

static volatile sig_atomic_t stop;
static struct ft_export_header *hdr;
static size_t seg_size;
static char shm_name[64];
static FILE *expect_f;
static uint64_t base_ns;
static uint64_t last_tick;
static bool ticking = true;
static int32_t seen[MAX_SEEN];
static unsigned int nseen;

struct wstate {
	uint64_t seq;
	struct ft_worker_counters c; /* private copy, published to the header */
	uint64_t enq_packets, enq_bytes;
	struct ft_port_counters port_add[FT_EXPORT_MAX_PORTS];
};
static struct wstate ws[FT_EXPORT_MAX_WORKERS];

static void __attribute__((format(printf, 1, 2), noreturn)) die(const char *fmt, ...)
{
	va_list ap;

	fputs("ft-test-producer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (shm_name[0])
		shm_unlink(shm_name);
	exit(2);
}

static uint64_t
now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
nap(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000ULL), (long)(ns % 1000000000ULL)};

	nanosleep(&ts, NULL);
}

static void
status(const char *what)
{
	FILE *f;

	if (opt.status == NULL)
		return;
	f = fopen(opt.status, "a");
	if (f == NULL)
		die("%s: %s", opt.status, strerror(errno));
	fprintf(f, "%s\n", what);
	fclose(f);
}

static void
on_signal(int sig)
{
	stop = sig;
}

/* ---------------------------------------------------------------- records */

static uint64_t
mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void
gen_addr(uint8_t *a, int family, uint64_t x)
{
	uint64_t y = mix(x);

	memset(a, 0, 16);
	if (family == 4) {
		static const uint8_t firsts[] = {10, 192, 172, 1, 255, 0, 100, 203};

		a[0] = firsts[y & 7];
		a[1] = (uint8_t)(y >> 8);
		a[2] = (uint8_t)(y >> 16);
		a[3] = (uint8_t)(y >> 24);
		return;
	}
	switch ((y >> 32) % 8) {
	case 0: /* 2001:db8::N */
		a[0] = 0x20, a[1] = 0x01, a[2] = 0x0d, a[3] = 0xb8;
		a[14] = (uint8_t)(y >> 8), a[15] = (uint8_t)y;
		break;
	case 1: /* ::ffff:a.b.c.d */
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &y, 4);
		break;
	case 2: /* fe80::x:y with a single zero group in the middle sometimes */
		a[0] = 0xfe, a[1] = 0x80;
		a[8] = (uint8_t)(y >> 40);
		a[12] = (uint8_t)(y >> 8);
		a[15] = 1;
		break;
	case 3: /* :: and ::1 */
		a[15] = (uint8_t)(y & 1);
		break;
	case 4: /* ::a.b.c.d (IPv4-compatible, deprecated, still formatted so) */
		memcpy(a + 12, &y, 4);
		a[12] |= 1;
		break;
	default: /* dense, with random zero groups */
		for (int i = 0; i < 16; i += 2) {
			uint64_t z = mix(y + (uint64_t)i);

			if (z % 3 == 0)
				continue;
			a[i] = (uint8_t)(z >> 8);
			a[i + 1] = (uint8_t)z;
		}
		break;
	}
}

static void
gen_record(struct ft_record *r, uint16_t w, uint64_t seq)
{
	struct ft_flow_record *f = &r->flow;
	uint64_t x = mix(opt.seed ^ ((uint64_t)w << 48) ^ seq);
	uint64_t y = mix(x);
	static const uint8_t protos[] = {6, 6, 17, 17, 1, 58, 132, 47};
	unsigned int size;

	memset(r, 0, sizeof(*r));
	r->type = FT_RECORD_FLOW;
	r->worker = w;
	r->seq = seq;
	f->key.family = (x & 3) == 0 ? 6 : 4;
	f->key.proto = protos[(x >> 2) & 7];
	if (f->key.family == 4 && f->key.proto == 58)
		f->key.proto = 1;
	if (f->key.family == 6 && f->key.proto == 1)
		f->key.proto = 58;
	gen_addr(f->key.addr[0], f->key.family, x);
	gen_addr(f->key.addr[1], f->key.family, y);
	if (f->key.proto != 1 && f->key.proto != 58 && f->key.proto != 47) {
		f->key.port[0] = (uint16_t)(y >> 16);
		f->key.port[1] = (uint16_t)(y >> 32);
	}
	switch ((x >> 5) & 3) {
	case 1:
		f->key.vlan[0] = (uint16_t)(1 + (y >> 48) % 4094);
		break;
	case 2:
		f->key.vlan[0] = (uint16_t)(1 + (y >> 48) % 4094);
		f->key.vlan[1] = (uint16_t)(1 + (y >> 36) % 4094);
		break;
	}
	f->flow_id = (uint64_t)w << 56 | seq;
	switch ((x >> 8) % 64) {
	case 0: /* the epoch */
		f->first_ns = 0;
		f->last_ns = 999999999;
		break;
	case 1: /* the last representable instant */
		f->first_ns = UINT64_MAX - 1000;
		f->last_ns = UINT64_MAX;
		break;
	case 2: /* 2000-02-29T23:59:59.999999999 and the next day */
		f->first_ns = 951868799999999999ULL;
		f->last_ns = 951868800000000000ULL;
		break;
	case 3: /* 2100-02-28 -> 2100-03-01 (not a leap year) */
		f->first_ns = 4107542399000000001ULL;
		f->last_ns = 4107542400000000000ULL;
		break;
	default:
		f->first_ns = base_ns + seq * 1000003ULL + (x >> 40);
		f->last_ns = f->first_ns + (y >> 36);
		break;
	}
	f->packets[0] = 1 + (x >> 12) % 40;
	f->packets[1] = (x >> 18) % 40;
	size = 60 + (unsigned int)((y >> 10) % 1455);
	f->bytes[0] = f->packets[0] * size;
	f->bytes[1] = f->packets[1] * (size / 2 + 60);
	if ((x >> 24) % 100 == 0) { /* an elephant now and then, for the top-N view */
		f->packets[0] *= 1000;
		f->bytes[0] *= 1000;
	}
	if ((x >> 30) % 5 == 0)
		f->fragments = (uint32_t)(1 + (y >> 20) % 4);
	f->input_port = (uint16_t)((y >> 50) % opt.ports);
	f->initiator = (uint8_t)((x >> 33) & 1);
	f->end_reason = (uint8_t)((x >> 34) % (FT_END_MAX + 1)); /* 0 and MAX: "unknown" */
	if (f->key.proto == 6) {
		f->tcp_flags[0] = (uint8_t)(y >> 3);
		f->tcp_flags[1] = (uint8_t)(y >> 11);
		f->tcp_state = (uint8_t)((x >> 38) % (FT_TCP_STATE_MAX + 1));
		if ((x >> 41) & 1)
			f->flags |= FT_FLOW_F_MIDSTREAM;
	}
	if (f->fragments && ((x >> 42) & 1))
		f->flags |= FT_FLOW_F_FRAGMENTS;
	/* set for every protocol: only ICMP and ICMPv6 may print them */
	f->icmp_type = (uint8_t)(y >> 56);
	f->icmp_code = (uint8_t)(y >> 44);
}

static void
fmt_time(char *buf, size_t len, uint64_t ns)
{
	time_t secs = (time_t)(ns / 1000000000ULL);
	struct tm tm;
	char date[32];

	gmtime_r(&secs, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%09uZ", date, (unsigned int)(ns % 1000000000ULL));
}

static const char *
name_or_unknown(const char *const *names, unsigned int n, unsigned int v)
{
	return v < n && names[v] ? names[v] : "unknown";
}

/* The expected line, written from the spec, not from the collector's code. */
static void
write_expected(const struct ft_record *r)
{
	const struct ft_flow_record *f = &r->flow;
	int af = f->key.family == 4 ? AF_INET : AF_INET6;
	unsigned int s = f->initiator, d = !f->initiator;
	char sip[INET6_ADDRSTRLEN], dip[INET6_ADDRSTRLEN], t0[64], t1[64];

	inet_ntop(af, f->key.addr[s], sip, sizeof(sip));
	inet_ntop(af, f->key.addr[d], dip, sizeof(dip));
	fmt_time(t0, sizeof(t0), f->first_ns);
	fmt_time(t1, sizeof(t1), f->last_ns);
	fprintf(expect_f,
		"{\"type\":\"flow\",\"flow_id\":%" PRIu64 ",\"worker\":%u,\"input_port\":%u,"
		"\"ip_version\":%u,\"proto\":%u,\"src_ip\":\"%s\",\"src_port\":%u,"
		"\"dst_ip\":\"%s\",\"dst_port\":%u",
		f->flow_id, r->worker, f->input_port, f->key.family, f->key.proto, sip,
		f->key.port[s], dip, f->key.port[d]);
	if (f->key.vlan[0] && f->key.vlan[1])
		fprintf(expect_f, ",\"vlan\":[%u,%u]", f->key.vlan[0], f->key.vlan[1]);
	else if (f->key.vlan[0])
		fprintf(expect_f, ",\"vlan\":[%u]", f->key.vlan[0]);
	fprintf(expect_f,
		",\"start\":\"%s\",\"end\":\"%s\",\"start_ns\":%" PRIu64 ",\"end_ns\":%" PRIu64
		",\"packets_fwd\":%" PRIu64 ",\"bytes_fwd\":%" PRIu64 ",\"packets_rev\":%" PRIu64
		",\"bytes_rev\":%" PRIu64 ",\"tcp_flags_fwd\":%u,\"tcp_flags_rev\":%u,"
		"\"tcp_state\":\"%s\",\"end_reason\":\"%s\",\"fragments\":%u",
		t0, t1, f->first_ns, f->last_ns, f->packets[0], f->bytes[0], f->packets[1],
		f->bytes[1], f->tcp_flags[0], f->tcp_flags[1],
		name_or_unknown(ft_tcp_state_names, FT_TCP_STATE_MAX, f->tcp_state),
		name_or_unknown(ft_end_reason_names, FT_END_MAX, f->end_reason), f->fragments);
	if (f->key.proto == 1 || f->key.proto == 58)
		fprintf(expect_f, ",\"icmp_type\":%u,\"icmp_code\":%u", f->icmp_type, f->icmp_code);
	if (f->flags & FT_FLOW_F_MIDSTREAM)
		fputs(",\"midstream\":true", expect_f);
	if (f->flags & FT_FLOW_F_FRAGMENTS)
		fputs(",\"flagged_fragments\":true", expect_f);
	fputs("}\n", expect_f);
}

/* ---------------------------------------------------------------- segment */

static void
publish(void)
{
	unsigned int w, p;
	uint64_t *dst, *src;
	size_t i;

	for (w = 0; w < opt.workers; w++) {
		dst = (uint64_t *)&hdr->workers[w];
		src = (uint64_t *)&ws[w].c;
		for (i = 0; i < sizeof(ws[w].c) / 8; i++)
			__atomic_store_n(&dst[i], src[i], __ATOMIC_RELAXED);
	}
	for (p = 0; p < opt.ports; p++) {
		struct ft_port_counters pc = hdr->ports[p];

		pc.ipackets = pc.ibytes = pc.file_packets = pc.file_bytes = 0;
		pc.file_captured_bytes = 0;
		for (w = 0; w < opt.workers; w++) {
			pc.ipackets += ws[w].port_add[p].ipackets;
			pc.ibytes += ws[w].port_add[p].ibytes;
		}
		if (opt.file_port) {
			pc.file_packets = pc.ipackets;
			pc.file_captured_bytes = pc.ibytes;
			pc.file_bytes = pc.ibytes + (p == 0 ? opt.beyond : 0);
		}
		pc.imissed = p == 0 ? opt.imissed : 0;
		dst = (uint64_t *)&hdr->ports[p];
		src = (uint64_t *)&pc;
		for (i = 0; i < sizeof(pc) / 8; i++)
			__atomic_store_n(&dst[i], src[i], __ATOMIC_RELAXED);
	}
}

static void
tick(bool force)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	int32_t cp;
	unsigned int i;

	if (!force && now - last_tick < TICK_NS)
		return;
	last_tick = now;
	cp = FT_SHM_LOAD(&hdr->consumer_pid);
	if (cp != 0) {
		for (i = 0; i < nseen && seen[i] != cp; i++)
			;
		if (i == nseen && nseen < MAX_SEEN)
			seen[nseen++] = cp;
	}
	if (!ticking)
		return;
	publish();
	FT_SHM_STORE(&hdr->heartbeat_ns, now_ns(CLOCK_REALTIME));
	FT_SHM_STORE(&hdr->heartbeat, hdr->heartbeat + 1);
}

static struct rte_ring *
ring_of(unsigned int w)
{
	return (struct rte_ring *)((char *)hdr + hdr->ring_offset[w]);
}

static void
create_segment(void)
{
	ssize_t ring_bytes = rte_ring_get_memsize_elem(sizeof(struct ft_record), opt.ring_size);
	size_t stride;
	unsigned int w, p;
	int fd;

	if (ring_bytes < 0)
		die("ring size %u: %s", opt.ring_size, strerror((int)-ring_bytes));
	stride = ((size_t)ring_bytes + FT_EXPORT_CACHE_LINE - 1) &
		 ~(size_t)(FT_EXPORT_CACHE_LINE - 1);
	seg_size = sizeof(struct ft_export_header) + stride * opt.workers;
	snprintf(shm_name, sizeof(shm_name), "/" FT_EXPORT_SHM_PREFIX "%s", opt.instance);
	fd = shm_open(shm_name, O_CREAT | O_EXCL | O_RDWR, opt.mode);
	if (fd < 0) {
		int e = errno;

		shm_name[0] = '\0'; /* not ours: do not unlink it */
		die("shm_open %s: %s", opt.instance, strerror(e));
	}
	if (fchmod(fd, opt.mode) < 0 || ftruncate(fd, (off_t)seg_size) < 0)
		die("%s: %s", shm_name, strerror(errno));
	if (opt.group) {
		struct group *g = getgrnam(opt.group);

		if (g == NULL || fchown(fd, (uid_t)-1, g->gr_gid) < 0)
			die("group %s: %s", opt.group, g ? strerror(errno) : "no such group");
	}
	hdr = mmap(NULL, seg_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (hdr == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	close(fd);

	hdr->layout_version = FT_EXPORT_LAYOUT_VERSION;
	hdr->header_size = sizeof(*hdr);
	hdr->record_size = sizeof(struct ft_record);
	hdr->worker_count = opt.workers;
	hdr->port_count = opt.ports;
	hdr->ring_size = opt.ring_size;
	hdr->segment_size = seg_size;
	hdr->start_ns = now_ns(CLOCK_REALTIME);
	hdr->dataplane_pid = getpid();
	hdr->overflow = opt.overflow;
	snprintf(hdr->instance, sizeof(hdr->instance), "%s", opt.instance);
	snprintf(hdr->version, sizeof(hdr->version), "test-producer");
	for (p = 0; p < opt.ports; p++) {
		snprintf(hdr->ports[p].name, sizeof(hdr->ports[p].name), "%s%u",
			 opt.file_port ? "pcap" : "port", p);
		hdr->ports[p].is_file = opt.file_port;
		hdr->ports[p].link_type = 1;
	}
	for (w = 0; w < opt.workers; w++) {
		char name[RTE_RING_NAMESIZE];
		int rc;

		hdr->ring_offset[w] = sizeof(*hdr) + stride * w;
		snprintf(name, sizeof(name), "ft_export_%u", w);
		rc = rte_ring_init(ring_of(w), name, opt.ring_size, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (rc != 0)
			die("rte_ring_init: %s", strerror(-rc));
	}
	if (opt.bad) {
		if (strcmp(opt.bad, "version") == 0)
			hdr->layout_version = FT_EXPORT_LAYOUT_VERSION + 1;
		else if (strcmp(opt.bad, "record-size") == 0)
			hdr->record_size = 128;
		else if (strcmp(opt.bad, "ring") == 0)
			ring_of(opt.workers - 1)->size = opt.ring_size * 2;
	}
	FT_SHM_STORE(&hdr->magic, opt.bad && strcmp(opt.bad, "magic") == 0 ? 0x1122334455667788ULL
									   : FT_EXPORT_MAGIC);
}

/* ---------------------------------------------------------------- producing */

static bool
room_wait(struct rte_ring *r)
{
	uint64_t start = now_ns(CLOCK_MONOTONIC);

	/* Backpressure while a collector is (or was) attached: a killed one
	 * leaves its pid until the next one takes over, and nothing is dropped in
	 * between. */
	while (FT_SHM_LOAD(&hdr->consumer_pid) != 0 && !stop) {
		if (rte_ring_free_count(r) > 0)
			return true;
		if (now_ns(CLOCK_MONOTONIC) - start > BACKPRESSURE_MAX_NS)
			return false;
		tick(false);
		nap(50000);
	}
	return false;
}

static void
account(struct wstate *s, const struct ft_record *r, bool enqueued)
{
	const struct ft_flow_record *f = &r->flow;
	uint64_t packets = f->packets[0] + f->packets[1];
	uint64_t bytes = f->bytes[0] + f->bytes[1];
	unsigned int d;

	s->c.rx_packets += packets;
	s->c.rx_bytes += bytes;
	s->c.packets += packets;
	s->c.bytes += bytes;
	s->c.flow_packets += packets;
	s->c.flow_bytes += bytes;
	s->c.fragments += f->fragments;
	s->c.flows_created++;
	s->c.flows_ended++;
	s->c.flows_active = 7;
	s->c.flow_capacity = 1 << 20;
	s->port_add[f->input_port].ipackets += packets;
	s->port_add[f->input_port].ibytes += bytes;
	if (enqueued) {
		s->c.records++;
		s->enq_packets += packets;
		s->enq_bytes += bytes;
		if (expect_f)
			write_expected(r);
	} else {
		s->c.ring_drop_records++;
		s->c.ring_drop_packets += packets;
		s->c.ring_drop_bytes += bytes;
	}
	/* and a packet in no flow now and then */
	if (r->seq % 10 == 3) {
		d = (unsigned int)(r->seq / 10 % FT_DISCARD_MAX);
		s->c.discard_packets[d] += 1;
		s->c.discard_bytes[d] += 60 + r->seq % 100;
		s->c.rx_packets += 1;
		s->c.rx_bytes += 60 + r->seq % 100;
		s->c.packets += 1;
		s->c.bytes += 60 + r->seq % 100;
		s->port_add[0].ipackets += 1;
		s->port_add[0].ibytes += 60 + r->seq % 100;
	}
}

static void
produce(uint64_t per_worker)
{
	struct ft_record recs[CHUNK];
	uint64_t done = 0, start = now_ns(CLOCK_MONOTONIC), total = 0;
	unsigned int w, i, n, put;

	while (done < per_worker && !stop) {
		n = per_worker - done < CHUNK ? (unsigned int)(per_worker - done) : CHUNK;
		for (w = 0; w < opt.workers; w++) {
			struct rte_ring *r = ring_of(w);

			for (i = 0; i < n; i++)
				gen_record(&recs[i], (uint16_t)w, ws[w].seq++);
			put = 0;
			for (;;) {
				put += rte_ring_sp_enqueue_burst_elem(
					r, &recs[put], sizeof(recs[0]), n - put, NULL);
				if (put == n || opt.overflow != FT_OVERFLOW_BACKPRESSURE ||
				    !room_wait(r))
					break;
			}
			for (i = 0; i < n; i++)
				account(&ws[w], &recs[i], i < put);
		}
		done += n;
		total += (uint64_t)n * opt.workers;
		tick(false);
		if (opt.rate) {
			uint64_t due = start + total * 1000000000ULL / opt.rate;
			uint64_t now = now_ns(CLOCK_MONOTONIC);

			if (due > now)
				nap(due - now);
		}
	}
	publish();
}

static uint32_t
pending(void)
{
	uint32_t n = 0;

	for (unsigned int w = 0; w < opt.workers; w++)
		n += rte_ring_count(ring_of(w));
	return n;
}

static void
fake_dead_consumer(void)
{
	pid_t child = fork();
	unsigned int w;

	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	/* As if that collector had taken records (head moved) and died before
	 * confirming them (tail not moved). */
	for (w = 0; w < opt.workers; w++) {
		struct rte_ring *r = ring_of(w);
		uint32_t n = rte_ring_count(r);
		uint32_t take = opt.stale_head < n ? (uint32_t)opt.stale_head : n;

		r->cons.head = r->cons.tail + take;
	}
	FT_SHM_STORE(&hdr->consumer_heartbeat_ns, now_ns(CLOCK_REALTIME) - 10000000000ULL);
	FT_SHM_STORE(&hdr->consumer_pid, (int32_t)child);
}

static void
write_truth(void)
{
	uint64_t er = 0, ep = 0, eb = 0, dp = 0, db = 0, disc_p = 0, disc_b = 0, in_p = 0;
	uint64_t in_b = 0;
	unsigned int w, d, i;
	FILE *f;

	if (expect_f)
		fflush(expect_f);
	if (opt.truth == NULL)
		return;
	f = fopen(opt.truth, "w");
	if (f == NULL)
		die("%s: %s", opt.truth, strerror(errno));
	fprintf(f, "{\"pid\":%d,\"workers\":%u,\"issued\":[", (int)getpid(), opt.workers);
	for (w = 0; w < opt.workers; w++)
		fprintf(f, "%s%" PRIu64, w ? "," : "", ws[w].seq);
	fputs("],\"enqueued\":[", f);
	for (w = 0; w < opt.workers; w++)
		fprintf(f, "%s%" PRIu64, w ? "," : "", ws[w].c.records);
	fputs("],\"dropped\":[", f);
	for (w = 0; w < opt.workers; w++)
		fprintf(f, "%s%" PRIu64, w ? "," : "", ws[w].c.ring_drop_records);
	for (w = 0; w < opt.workers; w++) {
		er += ws[w].c.records;
		ep += ws[w].enq_packets;
		eb += ws[w].enq_bytes;
		dp += ws[w].c.ring_drop_packets;
		db += ws[w].c.ring_drop_bytes;
		in_p += ws[w].c.rx_packets;
		in_b += ws[w].c.rx_bytes;
		for (d = 0; d < FT_DISCARD_MAX; d++) {
			disc_p += ws[w].c.discard_packets[d];
			disc_b += ws[w].c.discard_bytes[d];
		}
	}
	fprintf(f,
		"],\"enqueued_records\":%" PRIu64 ",\"enqueued_packets\":%" PRIu64
		",\"enqueued_bytes\":%" PRIu64 ",\"dropped_packets\":%" PRIu64
		",\"dropped_bytes\":%" PRIu64 ",\"discard_packets\":%" PRIu64
		",\"discard_bytes\":%" PRIu64 ",\"rx_packets\":%" PRIu64 ",\"rx_bytes\":%" PRIu64
		",\"consumer_pids\":[",
		er, ep, eb, dp, db, disc_p, disc_b, in_p, in_b);
	for (i = 0; i < nseen; i++)
		fprintf(f, "%s%d", i ? "," : "", (int)seen[i]);
	fprintf(f, "],\"final_consumer_pid\":%d}\n", (int)FT_SHM_LOAD(&hdr->consumer_pid));
	fclose(f);
}

/* ---------------------------------------------------------------- main */

/* What the collector writes, as JSON, read from a running segment. */
static int
inspect(void)
{
	struct ft_export_header *h;
	int fd;

	snprintf(shm_name, sizeof(shm_name), "/" FT_EXPORT_SHM_PREFIX "%s", opt.instance);
	fd = shm_open(shm_name, O_RDONLY, 0);
	shm_name[0] = '\0';
	if (fd < 0)
		die("%s: %s", opt.instance, strerror(errno));
	h = mmap(NULL, sizeof(*h), PROT_READ, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	printf("{\"consumer_pid\":%d,\"consumer_heartbeat_ns\":%" PRIu64 ",\"now_ns\":%" PRIu64
	       ",\"state\":%u}\n",
	       (int)FT_SHM_LOAD(&h->consumer_pid), FT_SHM_LOAD(&h->consumer_heartbeat_ns),
	       now_ns(CLOCK_REALTIME), FT_SHM_LOAD(&h->state));
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
		"Usage: ft-test-producer [-i INSTANCE] [options]\n"
		"  --workers N        rings (default 2)       --ring-size N   slots (default "
		"1024)\n"
		"  --ports N          ports (default 1)       --file-port     ports replay files\n"
		"  --beyond N         file bytes beyond the snaplen on port 0\n"
		"  --imissed N        imissed on port 0\n"
		"  --records N        records per worker, phase 1 (default 1000)\n"
		"  --go FILE          after phase 1, wait for FILE, then --records2 N more\n"
		"  --rate R           records/s over all workers (default: unlimited)\n"
		"  --overflow drop|backpressure\n"
		"  --end finish|vanish|hang|hold   (default finish)\n"
		"  --linger S         finish: wait S s for the rings to drain (default 30)\n"
		"  --starting-ms MS   stay in STARTING for MS ms\n"
		"  --stale-head N     after phase 1, leave a dead consumer's head N records ahead\n"
		"  --wait-consumer    start producing once a collector has claimed the segment\n"
		"  --bad magic|version|record-size|ring\n"
		"  --group G --mode OCTAL   ownership of the segment (default mode 0660)\n"
		"  --truth FILE --expect FILE --status FILE --seed N\n"
		"  --inspect          print the collector-written fields of an existing segment\n");
	exit(2);
}

static uint64_t
num(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	if (*s == '\0' || *end != '\0')
		usage();
	return v;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"instance", required_argument, NULL, 'i'},
		{"workers", required_argument, NULL, 'w'},
		{"ring-size", required_argument, NULL, 'r'},
		{"ports", required_argument, NULL, 'p'},
		{"file-port", no_argument, NULL, 'F'},
		{"beyond", required_argument, NULL, 'B'},
		{"imissed", required_argument, NULL, 'M'},
		{"records", required_argument, NULL, 'n'},
		{"records2", required_argument, NULL, 'N'},
		{"go", required_argument, NULL, 'g'},
		{"rate", required_argument, NULL, 'R'},
		{"overflow", required_argument, NULL, 'O'},
		{"end", required_argument, NULL, 'e'},
		{"linger", required_argument, NULL, 'l'},
		{"starting-ms", required_argument, NULL, 'S'},
		{"stale-head", required_argument, NULL, 'H'},
		{"wait-consumer", no_argument, NULL, 'W'},
		{"bad", required_argument, NULL, 'b'},
		{"group", required_argument, NULL, 'G'},
		{"mode", required_argument, NULL, 'm'},
		{"truth", required_argument, NULL, 't'},
		{"expect", required_argument, NULL, 'x'},
		{"status", required_argument, NULL, 's'},
		{"seed", required_argument, NULL, 'z'},
		{"inspect", no_argument, NULL, 'I'},
		{NULL, 0, NULL, 0},
	};
	struct sigaction sa;
	uint64_t t0;
	int c;

	while ((c = getopt_long(argc, argv, "i:", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			opt.instance = optarg;
			break;
		case 'w':
			opt.workers = (unsigned int)num(optarg);
			break;
		case 'r':
			opt.ring_size = (uint32_t)num(optarg);
			break;
		case 'p':
			opt.ports = (unsigned int)num(optarg);
			break;
		case 'F':
			opt.file_port = true;
			break;
		case 'B':
			opt.beyond = num(optarg);
			break;
		case 'M':
			opt.imissed = num(optarg);
			break;
		case 'n':
			opt.records = num(optarg);
			break;
		case 'N':
			opt.records2 = num(optarg);
			break;
		case 'g':
			opt.go = optarg;
			break;
		case 'R':
			opt.rate = num(optarg);
			break;
		case 'O':
			if (strcmp(optarg, "drop") == 0)
				opt.overflow = FT_OVERFLOW_DROP;
			else if (strcmp(optarg, "backpressure") == 0)
				opt.overflow = FT_OVERFLOW_BACKPRESSURE;
			else
				usage();
			break;
		case 'e':
			if (strcmp(optarg, "finish") == 0)
				opt.end = END_FINISH;
			else if (strcmp(optarg, "vanish") == 0)
				opt.end = END_VANISH;
			else if (strcmp(optarg, "hang") == 0)
				opt.end = END_HANG;
			else if (strcmp(optarg, "hold") == 0)
				opt.end = END_HOLD;
			else
				usage();
			break;
		case 'l':
			opt.linger_s = strtod(optarg, NULL);
			break;
		case 'S':
			opt.starting_ms = (unsigned int)num(optarg);
			break;
		case 'H':
			opt.stale_head = num(optarg);
			break;
		case 'W':
			opt.wait_consumer = true;
			break;
		case 'b':
			opt.bad = optarg;
			break;
		case 'G':
			opt.group = optarg;
			break;
		case 'm':
			opt.mode = (mode_t)strtoul(optarg, NULL, 8);
			break;
		case 't':
			opt.truth = optarg;
			break;
		case 'x':
			opt.expect = optarg;
			break;
		case 's':
			opt.status = optarg;
			break;
		case 'z':
			opt.seed = num(optarg);
			break;
		case 'I':
			return inspect();
		default:
			usage();
		}
	}
	if (opt.workers == 0 || opt.workers > FT_EXPORT_MAX_WORKERS || opt.ports == 0 ||
	    opt.ports > FT_EXPORT_MAX_PORTS)
		usage();
	if (opt.expect) {
		expect_f = fopen(opt.expect, "w");
		if (expect_f == NULL)
			die("%s: %s", opt.expect, strerror(errno));
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	base_ns = now_ns(CLOCK_REALTIME);

	create_segment();
	status("created");
	t0 = now_ns(CLOCK_MONOTONIC);
	while (now_ns(CLOCK_MONOTONIC) - t0 < (uint64_t)opt.starting_ms * 1000000ULL && !stop)
		nap(1000000);
	if (opt.bad) {
		/* attach-error cases: keep the segment up until told to go */
		FT_SHM_STORE(&hdr->state, FT_SEG_RUNNING);
		status("running");
		while (!stop)
			nap(10000000);
		shm_unlink(shm_name);
		return 0;
	}
	tick(true);
	FT_SHM_STORE(&hdr->state, FT_SEG_RUNNING);
	status("running");
	while (opt.wait_consumer && FT_SHM_LOAD(&hdr->consumer_pid) == 0 && !stop) {
		tick(false);
		nap(1000000);
	}

	produce(opt.records);
	if (opt.stale_head)
		fake_dead_consumer();
	status("phase1");
	if (opt.go) {
		while (access(opt.go, F_OK) != 0 && !stop) {
			tick(false);
			nap(1000000);
		}
		produce(opt.records2);
		status("phase2");
	}

	if (opt.end == END_VANISH) {
		/* Die as a crashed dataplane would: state RUNNING, segment left behind. */
		publish();
		write_truth();
		status("vanished");
		_exit(0);
	}
	if (opt.end == END_HANG) {
		publish();
		write_truth();
		ticking = false;
		status("hung");
		while (!stop)
			nap(10000000);
		shm_unlink(shm_name);
		return 0;
	}
	if (opt.end == END_HOLD) {
		status("holding");
		while (!stop) {
			tick(false);
			nap(1000000);
		}
	}
	FT_SHM_STORE(&hdr->state, FT_SEG_STOPPING);
	for (unsigned int w = 0; w < opt.workers; w++)
		ws[w].c.done = 1;
	publish();
	tick(true);
	FT_SHM_STORE(&hdr->state, FT_SEG_FINISHED);
	status("finished");
	/* Linger like the dataplane: until the collector drained the rings. */
	t0 = now_ns(CLOCK_MONOTONIC);
	while (pending() > 0 && now_ns(CLOCK_MONOTONIC) - t0 < (uint64_t)(opt.linger_s * 1e9)) {
		tick(false);
		nap(1000000);
	}
	/* let the collector clear its claim before recording it */
	t0 = now_ns(CLOCK_MONOTONIC);
	while (FT_SHM_LOAD(&hdr->consumer_pid) != 0 &&
	       now_ns(CLOCK_MONOTONIC) - t0 < 2000000000ULL) {
		tick(false);
		nap(1000000);
	}
	write_truth();
	status(pending() ? "undrained" : "drained");
	shm_unlink(shm_name);
	return 0;
}
