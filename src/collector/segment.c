/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Attaching to the export segment without EAL: shm_open + mmap, checks of every
 * field the consumer relies on before it touches a ring (a mis-sized ring would
 * make the inline dequeue read out of bounds), and the consumer_pid/heartbeat
 * handshake with the dataplane.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_ring_core.h>

#include "collector.h"

bool
ft_instance_name_valid(const char *instance)
{
	size_t n;

	if (instance == NULL)
		return false;
	for (n = 0; instance[n] != '\0'; n++) {
		char c = instance[n];

		if (n >= FT_EXPORT_NAME_LEN - 1)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return n > 0;
}

static uint64_t
ring_mem_size(uint32_t ring_size, uint32_t record_size)
{
	/* What rte_ring_get_memsize_elem() returns; the collector does not link
	 * librte_ring, so it is computed here. */
	uint64_t sz = sizeof(struct rte_ring) + (uint64_t)ring_size * record_size;

	return (sz + RTE_CACHE_LINE_SIZE - 1) & ~(uint64_t)(RTE_CACHE_LINE_SIZE - 1);
}

#define FAIL(code, ...)                                                                            \
	do {                                                                                       \
		snprintf(err, errlen, __VA_ARGS__);                                                \
		return (code);                                                                     \
	} while (0)

int
ft_segment_validate_header(const struct ft_export_header *h, uint64_t file_size, char *err,
			   size_t errlen)
{
	uint64_t magic, seg_size, ring_bytes;
	uint32_t version, state, hsize, rsize, nworkers, nports, ring_size, w, v;

	snprintf(err, errlen, "not ready");
	/* The dataplane creates the object, sizes it, then fills the header; any
	 * of those steps may be in progress. */
	if (file_size < 16)
		return -EAGAIN;
	magic = FT_SHM_LOAD(&h->magic);
	if (magic == 0)
		return -EAGAIN;
	if (magic != FT_EXPORT_MAGIC)
		FAIL(-EPROTO,
		     "bad magic 0x%016" PRIx64 " (expected 0x%016" PRIx64
		     "): not a flowtap export segment",
		     magic, (uint64_t)FT_EXPORT_MAGIC);
	version = FT_SHM_LOAD(&h->layout_version);
	if (version == 0)
		return -EAGAIN;
	if (version != FT_EXPORT_LAYOUT_VERSION)
		FAIL(-EPROTO,
		     "layout version %" PRIu32 ", this flowtap-collector reads version %d: "
		     "use the collector of the same flowtap release as the dataplane",
		     version, FT_EXPORT_LAYOUT_VERSION);
	if (file_size < sizeof(*h))
		FAIL(-EPROTO, "file is %" PRIu64 " bytes, shorter than the %zu-byte header",
		     file_size, sizeof(*h));
	hsize = FT_SHM_LOAD(&h->header_size);
	if (hsize != 0 && hsize != sizeof(*h))
		FAIL(-EPROTO, "header size %" PRIu32 ", expected %zu", hsize, sizeof(*h));
	rsize = FT_SHM_LOAD(&h->record_size);
	if (rsize != 0 && rsize != sizeof(struct ft_record))
		FAIL(-EPROTO, "record size %" PRIu32 ", expected %zu", rsize,
		     sizeof(struct ft_record));
	state = FT_SHM_LOAD(&h->state);
	if (state == FT_SEG_STARTING)
		return -EAGAIN;
	if (state > FT_SEG_FINISHED)
		FAIL(-EPROTO, "unknown state %" PRIu32, state);
	if (hsize == 0)
		FAIL(-EPROTO, "header size 0, expected %zu", sizeof(*h));
	if (rsize == 0)
		FAIL(-EPROTO, "record size 0, expected %zu", sizeof(struct ft_record));

	if (FT_SHM_LOAD(&h->dataplane_pid) <= 0)
		FAIL(-EPROTO, "dataplane pid %" PRId32 " is not a process id",
		     FT_SHM_LOAD(&h->dataplane_pid));
	nworkers = FT_SHM_LOAD(&h->worker_count);
	if (nworkers == 0 || nworkers > FT_EXPORT_MAX_WORKERS)
		FAIL(-EPROTO, "worker count %" PRIu32 " not in 1..%d", nworkers,
		     FT_EXPORT_MAX_WORKERS);
	nports = FT_SHM_LOAD(&h->port_count);
	if (nports > FT_EXPORT_MAX_PORTS)
		FAIL(-EPROTO, "port count %" PRIu32 " above %d", nports, FT_EXPORT_MAX_PORTS);
	ring_size = FT_SHM_LOAD(&h->ring_size);
	if (ring_size < 2 || (ring_size & (ring_size - 1)) != 0 || ring_size > RTE_RING_SZ_MASK)
		FAIL(-EPROTO, "ring size %" PRIu32 " is not a power of two in 2..2^31", ring_size);
	v = FT_SHM_LOAD(&h->overflow);
	if (v > FT_OVERFLOW_BACKPRESSURE)
		FAIL(-EPROTO, "unknown overflow mode %" PRIu32, v);
	seg_size = FT_SHM_LOAD(&h->segment_size);
	if (seg_size > file_size)
		FAIL(-EPROTO, "segment size %" PRIu64 " larger than the file (%" PRIu64 " bytes)",
		     seg_size, file_size);

	ring_bytes = ring_mem_size(ring_size, rsize);
	for (w = 0; w < nworkers; w++) {
		uint64_t off = FT_SHM_LOAD(&h->ring_offset[w]);
		uint32_t o;

		if (off % RTE_CACHE_LINE_SIZE != 0 || off < hsize || off > seg_size ||
		    seg_size - off < ring_bytes)
			FAIL(-EPROTO,
			     "ring of worker %" PRIu32 " at offset %" PRIu64 " (%" PRIu64
			     " bytes) is misaligned or outside the %" PRIu64 "-byte segment",
			     w, off, ring_bytes, seg_size);
		for (o = 0; o < w; o++) {
			uint64_t other = FT_SHM_LOAD(&h->ring_offset[o]);

			if (off < other + ring_bytes && other < off + ring_bytes)
				FAIL(-EPROTO,
				     "rings of workers %" PRIu32 " and %" PRIu32 " overlap", o, w);
		}
	}
	/* The rule table and the per-worker hit counters lie inside the segment. */
	v = FT_SHM_LOAD(&h->rule_count);
	if (v > 0) {
		uint64_t roff = FT_SHM_LOAD(&h->rules_offset);
		uint64_t hoff = FT_SHM_LOAD(&h->rule_hits_offset);
		uint64_t stride = FT_SHM_LOAD(&h->rule_hits_stride);

		if (FT_SHM_LOAD(&h->rule_info_size) != sizeof(struct ft_rule_info))
			FAIL(-EPROTO, "rule info size %" PRIu32 ", expected %zu",
			     FT_SHM_LOAD(&h->rule_info_size), sizeof(struct ft_rule_info));
		if (v > 100000000 || roff % RTE_CACHE_LINE_SIZE != 0 || roff < hsize ||
		    roff > seg_size || (seg_size - roff) / sizeof(struct ft_rule_info) < v)
			FAIL(-EPROTO,
			     "rule table of %" PRIu32 " rules at offset %" PRIu64
			     " is misaligned or outside the %" PRIu64 "-byte segment",
			     v, roff, seg_size);
		if (stride % RTE_CACHE_LINE_SIZE != 0 || stride / sizeof(uint64_t) < v ||
		    hoff % RTE_CACHE_LINE_SIZE != 0 || hoff < hsize || hoff > seg_size ||
		    (seg_size - hoff) / stride < nworkers)
			FAIL(-EPROTO,
			     "rule hit counters at offset %" PRIu64 " (stride %" PRIu64
			     ") are misaligned or outside the %" PRIu64 "-byte segment",
			     hoff, stride, seg_size);
	}
	err[0] = '\0';
	return 0;
}

int
ft_segment_validate_rings(const struct ft_export_header *h, char *err, size_t errlen)
{
	uint32_t ring_size = h->ring_size;
	uint32_t w;

	for (w = 0; w < h->worker_count; w++) {
		const struct rte_ring *r =
			(const struct rte_ring *)((const char *)h + h->ring_offset[w]);
		uint32_t used;

		if (r->size != ring_size || r->mask != ring_size - 1 || r->capacity == 0 ||
		    r->capacity > r->mask)
			FAIL(-EPROTO,
			     "ring of worker %" PRIu32 ": size %" PRIu32 " mask 0x%" PRIx32
			     " capacity %" PRIu32 " do not match the header's ring size %" PRIu32,
			     w, r->size, r->mask, r->capacity, ring_size);
		/* The two-phase dequeue is defined for single-consumer rings only. */
		if (r->cons.sync_type != RTE_RING_SYNC_ST || r->prod.sync_type != RTE_RING_SYNC_ST)
			FAIL(-EPROTO,
			     "ring of worker %" PRIu32
			     " is not single-producer/single-consumer (sync types %d/%d)",
			     w, (int)r->prod.sync_type, (int)r->cons.sync_type);
		used = __atomic_load_n(&r->prod.tail, __ATOMIC_ACQUIRE) -
		       __atomic_load_n(&r->cons.tail, __ATOMIC_ACQUIRE);
		if (used > r->capacity)
			FAIL(-EPROTO,
			     "ring of worker %" PRIu32 " holds %" PRIu32
			     " records, more than its capacity %" PRIu32 " (corrupt)",
			     w, used, r->capacity);
	}
	err[0] = '\0';
	return 0;
}

#undef FAIL

static void
seg_reset(struct ft_segment *seg)
{
	memset(seg, 0, sizeof(*seg));
	seg->fd = -1;
}

int
ft_segment_open(struct ft_segment *seg, const char *instance, char *err, size_t errlen)
{
	struct ft_export_header *h;
	struct stat st;
	char msg[256];
	size_t size;
	uint32_t w;
	int rc;

	seg_reset(seg);
	err[0] = '\0';
	if (!ft_instance_name_valid(instance)) {
		snprintf(err, errlen, "invalid instance name '%s' (expected [A-Za-z0-9_.-]{1,%d})",
			 instance ? instance : "", FT_EXPORT_NAME_LEN - 1);
		return -EINVAL;
	}
	snprintf(seg->shm_name, sizeof(seg->shm_name), "/" FT_EXPORT_SHM_PREFIX "%s", instance);
	snprintf(seg->path, sizeof(seg->path), "/dev/shm/" FT_EXPORT_SHM_PREFIX "%s", instance);

	seg->fd = shm_open(seg->shm_name, O_RDWR | O_CLOEXEC, 0);
	if (seg->fd < 0) {
		rc = -errno;
		if (rc == -EACCES) {
			if (stat(seg->path, &st) == 0)
				snprintf(err, errlen,
					 "%s: permission denied: the collector maps it read-write "
					 "(mode %03o, owner %u:%u; run as its owner or a member of "
					 "its "
					 "group)",
					 seg->path, (unsigned int)(st.st_mode & 0777),
					 (unsigned int)st.st_uid, (unsigned int)st.st_gid);
			else
				snprintf(err, errlen, "%s: permission denied", seg->path);
		} else if (rc != -ENOENT) {
			snprintf(err, errlen, "%s: %s", seg->path, strerror(-rc));
		}
		seg->fd = -1;
		return rc;
	}
	if (fstat(seg->fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: fstat: %s", seg->path, strerror(-rc));
		goto err;
	}
	if ((uint64_t)st.st_size < 16) {
		rc = -EAGAIN;
		goto err;
	}
	/* Map only the header first: the segment size is not known to be sane yet.
	 * Bytes past the end of a short file are never read (validate checks
	 * file_size before it looks beyond the first 16 bytes). */
	h = mmap(NULL, sizeof(*h), PROT_READ, MAP_SHARED, seg->fd, 0);
	if (h == MAP_FAILED) {
		rc = -errno;
		snprintf(err, errlen, "%s: mmap: %s", seg->path, strerror(-rc));
		goto err;
	}
	rc = ft_segment_validate_header(h, (uint64_t)st.st_size, msg, sizeof(msg));
	size = rc == 0 ? (size_t)h->segment_size : 0;
	munmap(h, sizeof(*h));
	if (rc < 0) {
		if (rc != -EAGAIN)
			snprintf(err, errlen, "%s: %s", seg->path, msg);
		goto err;
	}

	h = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, seg->fd, 0);
	if (h == MAP_FAILED) {
		rc = -errno;
		snprintf(err, errlen, "%s: mmap of %zu bytes: %s", seg->path, size, strerror(-rc));
		goto err;
	}
	seg->hdr = h;
	seg->map_size = size;
	/* Fields written once before STARTING ended cannot change, but check the
	 * mapping we will use rather than the one we dropped. */
	rc = ft_segment_validate_header(h, (uint64_t)st.st_size, msg, sizeof(msg));
	if (rc == 0 && h->segment_size != size)
		rc = -EAGAIN;
	if (rc == 0)
		rc = ft_segment_validate_rings(h, msg, sizeof(msg));
	if (rc < 0) {
		if (rc != -EAGAIN)
			snprintf(err, errlen, "%s: %s", seg->path, msg);
		goto err;
	}
	seg->worker_count = h->worker_count;
	seg->ring_size = h->ring_size;
	for (w = 0; w < seg->worker_count; w++)
		seg->rings[w] = (struct rte_ring *)((char *)h + h->ring_offset[w]);
	seg->dataplane_pid = h->dataplane_pid;
	seg->start_ns = h->start_ns;
	return 0;
err:
	ft_segment_close(seg);
	return rc;
}

static bool
pid_exists(int32_t pid)
{
	if (pid <= 0)
		return false;
	return kill(pid, 0) == 0 || errno == EPERM;
}

int
ft_segment_claim(struct ft_segment *seg, int32_t self_pid, uint64_t now_ns, char *err,
		 size_t errlen)
{
	struct ft_export_header *h = seg->hdr;
	int32_t old = FT_SHM_LOAD(&h->consumer_pid);
	uint32_t w;

	if (old != 0 && old != self_pid) {
		uint64_t hb = FT_SHM_LOAD(&h->consumer_heartbeat_ns);
		uint64_t age = now_ns > hb ? now_ns - hb : 0;

		/* A collector that was killed leaves its pid behind; one that is
		 * stopped or wedged stops beating. Either may be replaced. */
		if (pid_exists(old) && age < FT_CONSUMER_STALE_NS) {
			snprintf(err, errlen,
				 "%s: already consumed by pid %" PRId32 " (heartbeat %" PRIu64
				 " ms ago); one collector per instance",
				 seg->path, old, age / 1000000);
			return -EBUSY;
		}
	}
	FT_SHM_STORE(&h->consumer_heartbeat_ns, now_ns);
	if (!__atomic_compare_exchange_n(&h->consumer_pid, &old, self_pid, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		snprintf(err, errlen, "%s: another collector (pid %" PRId32 ") attached first",
			 seg->path, old);
		return -EBUSY;
	}
	seg->self_pid = self_pid;
	/* A consumer that died between the two phases of a dequeue left its head
	 * ahead of its tail; those records were never confirmed, so read them
	 * again (at-least-once). */
	seg->reread_records = 0;
	for (w = 0; w < seg->worker_count; w++) {
		struct rte_ring *r = seg->rings[w];
		uint32_t tail = __atomic_load_n(&r->cons.tail, __ATOMIC_ACQUIRE);
		uint32_t head = __atomic_load_n(&r->cons.head, __ATOMIC_RELAXED);

		seg->reread_records += head - tail;
		__atomic_store_n(&r->cons.head, tail, __ATOMIC_RELEASE);
	}
	seg->last_heartbeat = FT_SHM_LOAD(&h->heartbeat);
	seg->heartbeat_seen_ns = 0;
	return 0;
}

bool
ft_segment_owned(const struct ft_segment *seg)
{
	return seg->self_pid != 0 && FT_SHM_LOAD(&seg->hdr->consumer_pid) == seg->self_pid;
}

void
ft_segment_heartbeat(struct ft_segment *seg, uint64_t now_ns)
{
	FT_SHM_STORE(&seg->hdr->consumer_heartbeat_ns, now_ns);
}

void
ft_segment_release(struct ft_segment *seg)
{
	int32_t self = seg->self_pid;

	if (seg->hdr == NULL || self == 0)
		return;
	/* Only clear our own claim: a collector that took over keeps its own. */
	__atomic_compare_exchange_n(&seg->hdr->consumer_pid, &self, 0, false, __ATOMIC_ACQ_REL,
				    __ATOMIC_ACQUIRE);
	seg->self_pid = 0;
}

void
ft_segment_close(struct ft_segment *seg)
{
	if (seg->hdr != NULL)
		munmap(seg->hdr, seg->map_size);
	if (seg->fd >= 0)
		close(seg->fd);
	seg->hdr = NULL;
	seg->fd = -1;
	seg->self_pid = 0;
}

void
ft_segment_snapshot(const struct ft_segment *seg, struct ft_export_header *out)
{
	const uint64_t *src = (const uint64_t *)seg->hdr;
	uint64_t *dst = (uint64_t *)out;
	size_t i;

	static_assert(sizeof(*out) % sizeof(uint64_t) == 0, "header copied by words");
	for (i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

enum ft_dataplane_status
ft_segment_dataplane_status(struct ft_segment *seg, uint64_t mono_ns, const char **why)
{
	struct ft_export_header *h = seg->hdr;
	uint64_t hb;

	if (FT_SHM_LOAD(&h->state) == FT_SEG_FINISHED)
		return FT_DATAPLANE_FINISHED;
	hb = FT_SHM_LOAD(&h->heartbeat);
	if (hb != seg->last_heartbeat || seg->heartbeat_seen_ns == 0) {
		seg->last_heartbeat = hb;
		seg->heartbeat_seen_ns = mono_ns;
	}
	/* A pid that does not exist here but whose heartbeat still moves belongs
	 * to another pid namespace (a container): only the heartbeat can tell. */
	if (!pid_exists(seg->dataplane_pid) &&
	    mono_ns - seg->heartbeat_seen_ns > FT_DATAPLANE_PID_GRACE_NS) {
		/* It may have finished and exited since the state was read. */
		if (FT_SHM_LOAD(&h->state) == FT_SEG_FINISHED)
			return FT_DATAPLANE_FINISHED;
		*why = "dataplane process exited before finishing";
		return FT_DATAPLANE_GONE;
	}
	if (mono_ns - seg->heartbeat_seen_ns > FT_DATAPLANE_STALE_NS) {
		*why = "dataplane heartbeat stalled for 3 s";
		return FT_DATAPLANE_GONE;
	}
	return FT_DATAPLANE_RUNNING;
}

uint32_t
ft_segment_ring_count(const struct ft_segment *seg, uint32_t worker)
{
	const struct rte_ring *r = seg->rings[worker];

	return __atomic_load_n(&r->prod.tail, __ATOMIC_ACQUIRE) -
	       __atomic_load_n(&r->cons.tail, __ATOMIC_ACQUIRE);
}
