/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane side of the export segment (types in export.h): creating and
 * removing the segment, and each worker's writer, which stages records locally
 * and moves them to its ring in bursts.
 *
 * A full ring is never waited on in FT_OVERFLOW_DROP mode: the record is counted
 * in ring_drop_records with the packets and bytes it carried. In
 * FT_OVERFLOW_BACKPRESSURE mode (finite inputs only) the writer waits for room
 * while a collector is attached, and drops (counted) when none is.
 */
#ifndef FT_EXPORT_WRITER_H
#define FT_EXPORT_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "export/export.h"

#define FT_EXPORT_STAGE 64 /* records staged per worker before a ring write */

struct ft_export_segment_params {
	const char *instance; /* [A-Za-z0-9_.-]{1,31} */
	unsigned workers;     /* 1..FT_EXPORT_MAX_WORKERS */
	unsigned ports;	      /* 0..FT_EXPORT_MAX_PORTS */
	uint32_t ring_size;   /* power of two */
	mode_t mode;	      /* permission bits of the shm object */
	const char *group;    /* group owning the object, NULL or "" for ours */
	enum ft_overflow_mode overflow;
	const struct ft_rule_info *rules; /* pattern matching: the rule table */
	unsigned rule_count;		  /* 0: no rules */
	uint64_t stream_state_bytes;	  /* one Hyperscan stream's state */
};

struct ft_export_segment {
	struct ft_export_header *hdr;
	size_t size;
	char shm_name[FT_EXPORT_NAME_LEN + 16];
};

/*
 * Create /dev/shm/flowtap.<instance>, lay out the header and one ring per worker
 * (state FT_SEG_STARTING). A leftover segment whose dataplane is gone is
 * replaced; one whose dataplane still runs is an error.
 *
 * @return 0, or -errno with a message in err: EEXIST (instance running), EINVAL,
 *         ENOENT (group), or the shm/mmap error
 */
int ft_export_segment_create(struct ft_export_segment *seg,
			     const struct ft_export_segment_params *params, char *err,
			     size_t err_len);

/* The ring of a worker. */
struct rte_ring *ft_export_segment_ring(const struct ft_export_segment *seg, unsigned worker);

/* A worker's rule hit counters (header.rule_count of them). */
uint64_t *ft_export_segment_rule_hits(const struct ft_export_segment *seg, unsigned worker);

/* Records waiting in all rings. */
unsigned ft_export_segment_pending(const struct ft_export_segment *seg);

/* Unmap and unlink (idempotent). */
void ft_export_segment_destroy(struct ft_export_segment *seg);

struct ft_export_writer {
	struct rte_ring *ring;
	struct ft_worker_counters *counters; /* the worker's private counters */
	const volatile int *consumer_alive;  /* set by the main lcore each tick */
	enum ft_overflow_mode mode;
	uint16_t worker;
	uint64_t seq;
	unsigned staged;
	struct ft_record stage[FT_EXPORT_STAGE];
};

void ft_export_writer_init(struct ft_export_writer *w, const struct ft_export_segment *seg,
			   unsigned worker, struct ft_worker_counters *counters,
			   const volatile int *consumer_alive);

/*
 * Move staged records to the ring. Drop mode: what does not fit is counted and
 * dropped. Backpressure mode: waits for room while *consumer_alive, then drops.
 */
void ft_export_writer_flush(struct ft_export_writer *w);

/* A staging slot for the next record, header filled (type, worker, seq); the
 * caller fills the body. Flushes first when the stage is full. */
static inline struct ft_record *
ft_export_writer_next(struct ft_export_writer *w, enum ft_record_type type)
{
	struct ft_record *r;

	if (w->staged == FT_EXPORT_STAGE)
		ft_export_writer_flush(w);
	r = &w->stage[w->staged++];
	r->type = (uint16_t)type;
	r->worker = w->worker;
	r->reserved = 0;
	r->seq = w->seq++;
	return r;
}

#endif /* FT_EXPORT_WRITER_H */
