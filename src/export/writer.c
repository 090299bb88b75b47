/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_pause.h>

#include "common/common.h"
#include "export/writer.h"

RTE_LOG_REGISTER_SUFFIX(ft_logtype_export, export, INFO);

static_assert(sizeof(FT_VERSION) <= sizeof(((struct ft_export_header *)0)->version),
	      "version string fits the header");

/* Is a previous segment under this name still owned by a live dataplane? */
static int
segment_owner_alive(const char *shm_name, pid_t *owner)
{
	struct ft_export_header hdr;
	int fd = shm_open(shm_name, O_RDONLY, 0);
	ssize_t n;

	*owner = 0;
	if (fd < 0)
		return 0;
	n = pread(fd, &hdr, sizeof(hdr), 0);
	close(fd);
	if (n != (ssize_t)sizeof(hdr) || hdr.magic != FT_EXPORT_MAGIC || hdr.dataplane_pid <= 0)
		return 0;
	*owner = hdr.dataplane_pid;
	if (*owner == getpid())
		return 0;
	return kill(*owner, 0) == 0 || errno == EPERM;
}

int
ft_export_segment_create(struct ft_export_segment *seg,
			 const struct ft_export_segment_params *p, char *err, size_t err_len)
{
	struct ft_export_header *hdr;
	ssize_t ring_bytes;
	size_t ring_stride, size, rules_offset, hits_offset, hits_stride;
	pid_t owner;
	int fd, rc;

	memset(seg, 0, sizeof(*seg));
	if (p->workers == 0 || p->workers > FT_EXPORT_MAX_WORKERS || p->ports > FT_EXPORT_MAX_PORTS) {
		snprintf(err, err_len, "export: %u workers, %u ports: out of range", p->workers,
			 p->ports);
		return -EINVAL;
	}
	ring_bytes = rte_ring_get_memsize_elem(sizeof(struct ft_record), p->ring_size);
	if (ring_bytes < 0) {
		snprintf(err, err_len, "export: ring size %u: %s", p->ring_size,
			 strerror((int)-ring_bytes));
		return (int)ring_bytes;
	}
	ring_stride = RTE_ALIGN_CEIL((size_t)ring_bytes, FT_EXPORT_CACHE_LINE);
	size = sizeof(struct ft_export_header) + ring_stride * p->workers;
	/* Rule table, then each worker's hit counters on cache lines of its own. */
	rules_offset = size;
	size += RTE_ALIGN_CEIL((size_t)p->rule_count * sizeof(struct ft_rule_info),
			       FT_EXPORT_CACHE_LINE);
	hits_stride =
		RTE_ALIGN_CEIL((size_t)p->rule_count * sizeof(uint64_t), FT_EXPORT_CACHE_LINE);
	hits_offset = size;
	size += hits_stride * p->workers;
	snprintf(seg->shm_name, sizeof(seg->shm_name), "/" FT_EXPORT_SHM_PREFIX "%s", p->instance);

	if (segment_owner_alive(seg->shm_name, &owner)) {
		snprintf(err, err_len,
			 "export: instance '%s' is in use by a running dataplane (pid %d); pick "
			 "another [dataplane] instance",
			 p->instance, (int)owner);
		return -EEXIST;
	}
	shm_unlink(seg->shm_name); /* a stale one from a dataplane that died */

	fd = shm_open(seg->shm_name, O_CREAT | O_EXCL | O_RDWR, p->mode);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, err_len, "export: shm_open /dev/shm%s: %s", seg->shm_name,
			 strerror(errno));
		return rc;
	}
	/* The umask may have cut the mode; the configured mode is what we promise. */
	if (fchmod(fd, p->mode) != 0 || ftruncate(fd, (off_t)size) != 0) {
		rc = -errno;
		snprintf(err, err_len, "export: /dev/shm%s: %s", seg->shm_name, strerror(errno));
		goto fail_fd;
	}
	if (p->group != NULL && p->group[0] != '\0') {
		struct group *g = getgrnam(p->group);

		if (g == NULL) {
			rc = -ENOENT;
			snprintf(err, err_len, "export: shm_group '%s': no such group", p->group);
			goto fail_fd;
		}
		if (fchown(fd, (uid_t)-1, g->gr_gid) != 0) {
			rc = -errno;
			snprintf(err, err_len, "export: chgrp %s /dev/shm%s: %s", p->group,
				 seg->shm_name, strerror(errno));
			goto fail_fd;
		}
	}
	hdr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (hdr == MAP_FAILED) {
		rc = -errno;
		snprintf(err, err_len, "export: mmap /dev/shm%s: %s", seg->shm_name, strerror(errno));
		goto fail_fd;
	}
	close(fd);
	seg->hdr = hdr;
	seg->size = size;

	memset(hdr, 0, sizeof(*hdr));
	hdr->layout_version = FT_EXPORT_LAYOUT_VERSION;
	hdr->header_size = sizeof(*hdr);
	hdr->record_size = sizeof(struct ft_record);
	hdr->worker_count = p->workers;
	hdr->port_count = p->ports;
	hdr->ring_size = p->ring_size;
	hdr->segment_size = size;
	hdr->start_ns = ft_wall_ns();
	hdr->dataplane_pid = getpid();
	hdr->overflow = p->overflow;
	snprintf(hdr->instance, sizeof(hdr->instance), "%s", p->instance);
	hdr->rule_count = p->rule_count;
	hdr->rule_info_size = sizeof(struct ft_rule_info);
	hdr->rules_offset = rules_offset;
	hdr->rule_hits_offset = hits_offset;
	hdr->rule_hits_stride = hits_stride;
	hdr->match_stream_state_bytes = p->stream_state_bytes;
	if (p->rule_count > 0)
		memcpy((char *)hdr + rules_offset, p->rules,
		       (size_t)p->rule_count * sizeof(struct ft_rule_info));
	snprintf(hdr->version, sizeof(hdr->version), "%s", FT_VERSION);
	for (unsigned w = 0; w < p->workers; w++) {
		char name[RTE_RING_NAMESIZE];
		struct rte_ring *r;

		hdr->ring_offset[w] = sizeof(*hdr) + ring_stride * w;
		r = (struct rte_ring *)((char *)hdr + hdr->ring_offset[w]);
		snprintf(name, sizeof(name), "ft_export_%u", w);
		rc = rte_ring_init(r, name, p->ring_size, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (rc != 0) {
			snprintf(err, err_len, "export: ring %u: %s", w, strerror(-rc));
			ft_export_segment_destroy(seg);
			return rc;
		}
	}
	/* Magic last: a reader that sees it sees a complete header. */
	FT_SHM_STORE(&hdr->magic, FT_EXPORT_MAGIC);
	FT_LOG(ft_logtype_export, INFO, "export: segment /dev/shm%s, %u rings of %u records (%zu KiB)",
	       seg->shm_name, p->workers, p->ring_size, size / 1024);
	return 0;

fail_fd:
	close(fd);
	shm_unlink(seg->shm_name);
	return rc;
}

uint64_t *
ft_export_segment_rule_hits(const struct ft_export_segment *seg, unsigned worker)
{
	return (uint64_t *)((char *)seg->hdr + seg->hdr->rule_hits_offset +
			    seg->hdr->rule_hits_stride * worker);
}

struct rte_ring *
ft_export_segment_ring(const struct ft_export_segment *seg, unsigned worker)
{
	return (struct rte_ring *)((char *)seg->hdr + seg->hdr->ring_offset[worker]);
}

unsigned
ft_export_segment_pending(const struct ft_export_segment *seg)
{
	unsigned n = 0;

	for (unsigned w = 0; w < seg->hdr->worker_count; w++)
		n += rte_ring_count(ft_export_segment_ring(seg, w));
	return n;
}

void
ft_export_segment_destroy(struct ft_export_segment *seg)
{
	if (seg->hdr != NULL) {
		munmap(seg->hdr, seg->size);
		seg->hdr = NULL;
	}
	if (seg->shm_name[0] != '\0') {
		shm_unlink(seg->shm_name);
		seg->shm_name[0] = '\0';
	}
}

void
ft_export_writer_init(struct ft_export_writer *w, const struct ft_export_segment *seg,
		      unsigned worker, struct ft_worker_counters *counters,
		      const volatile int *consumer_alive)
{
	memset(w, 0, offsetof(struct ft_export_writer, stage));
	w->ring = ft_export_segment_ring(seg, worker);
	w->counters = counters;
	w->consumer_alive = consumer_alive;
	w->mode = (enum ft_overflow_mode)seg->hdr->overflow;
	w->worker = (uint16_t)worker;
}

static void
count_drop(struct ft_export_writer *w, const struct ft_record *r)
{
	w->counters->ring_drop_records++;
	if (r->type < FT_RECORD_TYPE_MAX)
		w->counters->ring_drop_type[r->type]++;
	if (r->type == FT_RECORD_FLOW) {
		w->counters->ring_drop_packets += r->flow.packets[0] + r->flow.packets[1];
		w->counters->ring_drop_bytes += r->flow.bytes[0] + r->flow.bytes[1];
	}
}

void
ft_export_writer_flush(struct ft_export_writer *w)
{
	unsigned done = 0;
	uint64_t wait_start = 0;

	while (done < w->staged) {
		done += rte_ring_sp_enqueue_burst_elem(w->ring, &w->stage[done],
						       sizeof(struct ft_record), w->staged - done,
						       NULL);
		if (done == w->staged)
			break;
		if (w->mode != FT_OVERFLOW_BACKPRESSURE || !*w->consumer_alive)
			break;
		if (wait_start == 0)
			wait_start = rte_rdtsc();
		rte_pause();
	}
	if (wait_start != 0)
		w->counters->ring_wait_ns += ft_cycles_to_ns(rte_rdtsc() - wait_start);
	w->counters->records += done;
	for (unsigned i = done; i < w->staged; i++)
		count_drop(w, &w->stage[i]);
	w->staged = 0;
}
