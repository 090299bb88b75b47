/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * End-of-run summary: counters from the segment header, what this collector
 * received, and whether every input packet and byte is accounted for. Runs once
 * per run, so plain snprintf is fine here.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "collector.h"

uint64_t
ft_seq_missing(const struct ft_seq_tracker *t, uint64_t issued)
{
	uint64_t missing = t->gaps;

	if (issued > t->next)
		missing += issued - t->next;
	return missing;
}

static inline uint32_t
clamp_u32(uint32_t v, uint32_t max)
{
	return v < max ? v : max;
}

void
ft_summary_compute(struct ft_summary *s, const struct ft_export_header *snap,
		   const struct ft_flow_totals *flows, uint64_t seq_gaps)
{
	uint32_t nports = clamp_u32(snap->port_count, FT_EXPORT_MAX_PORTS);
	uint32_t nworkers = clamp_u32(snap->worker_count, FT_EXPORT_MAX_WORKERS);
	uint64_t discard_packets = 0, discard_bytes = 0;
	uint32_t i, d;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < nports; i++) {
		const struct ft_port_counters *pc = &snap->ports[i];

		s->port_ipackets += pc->ipackets;
		s->port_ibytes += pc->ibytes;
		/* A capture file's losses are the records it holds that the port
		 * never delivered (no mbuf, no room for a chained frame). Its ierrors
		 * also count read errors, such as every poll of a file cut inside a
		 * record, which are not packets. */
		if (pc->is_file)
			s->port_loss_packets +=
				pc->file_packets > pc->ipackets ? pc->file_packets - pc->ipackets : 0;
		else
			s->port_loss_packets += pc->imissed + pc->ierrors + pc->rx_nombuf;
		if (pc->is_file) {
			s->any_file_port = true;
			s->input_packets += pc->file_packets;
			s->input_bytes += pc->file_bytes;
			s->input_captured_bytes += pc->file_captured_bytes;
		}
	}
	/* A capture cut by a snaplen delivers fewer bytes than it records; a
	 * corrupt one could claim the opposite, which is not "beyond" anything. */
	if (s->input_bytes > s->input_captured_bytes)
		s->beyond_snaplen_bytes = s->input_bytes - s->input_captured_bytes;

	for (i = 0; i < nworkers; i++) {
		const struct ft_worker_counters *wc = &snap->workers[i];

		s->rx_packets += wc->rx_packets;
		s->rx_bytes += wc->rx_bytes;
		s->flows_created += wc->flows_created;
		s->flows_evicted += wc->flows_evicted;
		s->flow_segments += wc->flow_segments;
		s->emergency_entered += wc->emergency_entered;
		s->fragments_attributed += wc->fragments_attributed;
		s->fragments_unattributed += wc->fragments_unattributed;
		s->fragments_waited += wc->fragments_waited;
		s->flows_ended += wc->flows_ended;
		s->uncut_bytes += wc->flow_uncut_bytes;
		s->fragments += wc->fragments;
		for (d = 0; d < FT_DISCARD_MAX; d++) {
			s->discard_packets[d] += wc->discard_packets[d];
			s->discard_bytes[d] += wc->discard_bytes[d];
		}
		s->ring_drop_records += wc->ring_drop_records;
		s->ring_drop_packets += wc->ring_drop_packets;
		s->ring_drop_bytes += wc->ring_drop_bytes;
		for (d = 0; d < FT_RECORD_TYPE_MAX; d++)
			s->ring_drop_type[d] += wc->ring_drop_type[d];
	}
	/* The matcher's counters are one run of uint64_t fields: sum them all. */
	for (i = 0; i < nworkers; i++) {
		const uint64_t *from = &snap->workers[i].match_scanned_bytes;
		uint64_t *to = &s->match.match_scanned_bytes;
		size_t n = (offsetof(struct ft_worker_counters, defrag_held_bytes) -
			    offsetof(struct ft_worker_counters, match_scanned_bytes)) /
				   sizeof(uint64_t) +
			   1;

		for (size_t k = 0; k < n; k++)
			to[k] += from[k];
	}
	for (d = 0; d < FT_DISCARD_MAX; d++) {
		discard_packets += s->discard_packets[d];
		discard_bytes += s->discard_bytes[d];
	}
	s->seq_gaps = seq_gaps;

	if (s->any_file_port) {
		s->packets_in = s->input_packets;
		s->bytes_in = s->input_bytes;
	} else {
		s->packets_in = s->port_ipackets + s->port_loss_packets;
		s->bytes_in = s->port_ibytes;
	}
	s->accounted_packets =
		flows->packets + s->ring_drop_packets + discard_packets + s->port_loss_packets;
	s->accounted_bytes = flows->bytes + s->ring_drop_bytes + discard_bytes +
			     s->beyond_snaplen_bytes - s->uncut_bytes;
	s->unaccounted_packets = (int64_t)(s->packets_in - s->accounted_packets);
	s->unaccounted_bytes = (int64_t)(s->bytes_in - s->accounted_bytes);
	s->packets_accounted = s->unaccounted_packets == 0;
	s->bytes_accounted = s->unaccounted_bytes == 0 && s->port_loss_packets == 0;
}

/* snprintf into a fixed buffer that cannot overflow: every field is bounded and
 * FT_JSON_SUMMARY_MAX covers the worst case with room to spare. */
struct sbuf {
	char *p;
	size_t left;
};

static void __attribute__((format(printf, 2, 3))) sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->p, b->left, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->left)
		n = b->left > 0 ? (int)b->left - 1 : 0;
	b->p += n;
	b->left -= (size_t)n;
}

static void
sb_string(struct sbuf *b, const char *s, size_t maxlen)
{
	if (b->left < 6 * maxlen + 3)
		return;
	size_t n = ft_json_string(b->p, s, maxlen);

	b->p += n;
	b->left -= n;
}

static void
sb_time(struct sbuf *b, uint64_t ns)
{
	if (b->left < FT_RFC3339_LEN + 3)
		return;
	*b->p++ = '"';
	b->p += ft_format_rfc3339(b->p, ns);
	*b->p++ = '"';
	*b->p = '\0';
	b->left -= FT_RFC3339_LEN + 2;
}

/* ,"match":{...}: counters of the matcher and reassembler, and every rule that
 * matched. */
static void
sb_match(struct sbuf *b, const struct ft_export_header *snap, const struct ft_flow_totals *flows,
	 const struct ft_summary *s, const struct ft_rule_hits *hits)
{
	const struct ft_worker_counters *m = &s->match;
	bool first = true;

	sb_printf(b,
		  ",\"match\":{\"rules\":%" PRIu32 ",\"stream_state_bytes\":%" PRIu64
		  ",\"events\":{\"found\":%" PRIu64 ",\"suppressed\":%" PRIu64
		  ",\"ring_drops\":%" PRIu64 ",\"received\":%" PRIu64 "}",
		  snap->rule_count, snap->match_stream_state_bytes, m->match_events,
		  m->match_events_suppressed, s->ring_drop_type[FT_RECORD_MATCH],
		  flows->by_type[FT_RECORD_MATCH]);
	sb_printf(b,
		  ",\"payload\":{\"scanned_bytes\":%" PRIu64 ",\"retransmitted_bytes\":%" PRIu64
		  ",\"rst_bytes\":%" PRIu64 ",\"gap_bytes\":%" PRIu64
		  ",\"beyond_depth_bytes\":%" PRIu64 ",\"no_state_bytes\":%" PRIu64
		  ",\"off_bytes\":%" PRIu64 ",\"fragment_bytes\":%" PRIu64
		  ",\"out_of_window_bytes\":%" PRIu64 ",\"reorder_dropped_bytes\":%" PRIu64
		  ",\"scan_error_bytes\":%" PRIu64 ",\"fragment_overlap_bytes\":%" PRIu64
		  ",\"fragment_held_bytes\":%" PRIu64 "}",
		  m->match_scanned_bytes, m->reasm_retrans_bytes, m->reasm_rst_bytes,
		  m->reasm_gap_bytes, m->match_depth_bytes, m->match_no_stream_bytes,
		  m->match_off_bytes, m->match_fragment_bytes, m->reasm_out_of_window_bytes,
		  m->reasm_dropped_bytes, m->match_scan_error_bytes, m->defrag_overlap_bytes,
		  m->defrag_held_bytes);
	sb_printf(b,
		  ",\"streams\":{\"pool\":%" PRIu64 ",\"in_use\":%" PRIu64
		  ",\"pool_empty\":%" PRIu64 "},\"depth_reached\":%" PRIu64
		  ",\"scan_errors\":%" PRIu64,
		  m->match_streams, m->match_streams_used, m->match_no_stream,
		  m->match_depth_reached, m->match_scan_errors);
	sb_printf(b,
		  ",\"reassembly\":{\"held_segments\":%" PRIu64 ",\"held_bytes\":%" PRIu64
		  ",\"gaps\":%" PRIu64 ",\"gaps_acked\":%" PRIu64 ",\"gaps_budget\":%" PRIu64
		  ",\"gaps_end\":%" PRIu64 ",\"gaps_cut\":%" PRIu64 ",\"out_of_window\":%" PRIu64
		  ",\"dropped_segments\":%" PRIu64 ",\"dropped_held_bytes\":%" PRIu64
		  ",\"slots\":%" PRIu64 ",\"slots_in_use\":%" PRIu64 "}",
		  m->reasm_held_segments, m->reasm_held_bytes, m->reasm_gaps, m->reasm_gaps_acked,
		  m->reasm_gaps_budget, m->reasm_gaps_end, m->reasm_gaps_cut,
		  m->reasm_out_of_window, m->reasm_dropped_segments, m->reasm_dropped_held_bytes,
		  m->reasm_slots, m->reasm_slots_used);
	sb_printf(b,
		  ",\"chunks\":{\"pool\":%" PRIu64 ",\"in_use\":%" PRIu64 ",\"held_bytes\":%" PRIu64
		  ",\"pool_empty\":%" PRIu64 "}",
		  m->match_chunks, m->match_chunks_used, m->match_chunk_bytes,
		  m->match_chunk_pool_empty);
	sb_printf(b,
		  ",\"defrag\":{\"fragments\":%" PRIu64 ",\"datagrams\":%" PRIu64
		  ",\"given_up\":{\"timeout\":%" PRIu64 ",\"evicted\":%" PRIu64
		  ",\"invalid\":%" PRIu64 ",\"end\":%" PRIu64 ",\"memory\":%" PRIu64
		  ",\"flow_ended\":%" PRIu64 "},\"in_use\":%" PRIu64 ",\"held_bytes\":%" PRIu64 "}",
		  m->defrag_fragments, m->defrag_datagrams, m->defrag_timeout, m->defrag_evicted,
		  m->defrag_invalid, m->defrag_end, m->defrag_memory, m->defrag_flow_ended,
		  m->defrag_in_use, m->defrag_held_bytes);
	sb_printf(b, ",\"hits\":[");
	for (uint32_t i = 0; hits != NULL && i < hits->count; i++) {
		const struct ft_rule_info *r = &hits->rules[i];

		if (hits->hits[i] == 0)
			continue;
		sb_printf(b, "%s{\"id\":%" PRIu32 ",\"name\":", first ? "" : ",", r->id);
		sb_string(b, r->name, sizeof(r->name));
		if (r->meta[0] != '\0') {
			sb_printf(b, ",\"meta\":");
			sb_string(b, r->meta, sizeof(r->meta));
		}
		sb_printf(b, ",\"hits\":%" PRIu64 "}", hits->hits[i]);
		first = false;
	}
	sb_printf(b, "]}");
}

size_t
ft_json_summary(char *buf, const struct ft_export_header *snap, const struct ft_flow_totals *flows,
		const struct ft_summary *s, const struct ft_rule_hits *hits, bool complete,
		uint64_t end_ns)
{
	uint32_t nports = clamp_u32(snap->port_count, FT_EXPORT_MAX_PORTS);
	struct sbuf b = {buf, FT_JSON_SUMMARY_MAX - 1 +
				      (hits != NULL ? (size_t)hits->count * FT_JSON_RULE_MAX : 0)};
	uint32_t i;

	buf[0] = '\0';
	sb_printf(&b, "{\"type\":\"summary\",\"instance\":");
	sb_string(&b, snap->instance, sizeof(snap->instance));
	sb_printf(&b, ",\"dataplane_pid\":%" PRId32 ",\"version\":", snap->dataplane_pid);
	sb_string(&b, snap->version, sizeof(snap->version));
	sb_printf(&b, ",\"workers\":%" PRIu32 ",\"complete\":%s,\"start\":", snap->worker_count,
		  complete ? "true" : "false");
	sb_time(&b, snap->start_ns);
	sb_printf(&b, ",\"end\":");
	sb_time(&b, end_ns);
	sb_printf(&b,
		  ",\"input\":{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
		  ",\"captured_bytes\":%" PRIu64 ",\"beyond_snaplen_bytes\":%" PRIu64
		  ",\"uncut_bytes\":%" PRIu64 "}",
		  s->input_packets, s->input_bytes, s->input_captured_bytes,
		  s->beyond_snaplen_bytes, s->uncut_bytes);
	sb_printf(&b, ",\"ports\":[");
	for (i = 0; i < nports; i++) {
		const struct ft_port_counters *pc = &snap->ports[i];

		sb_printf(&b, "%s{\"name\":", i ? "," : "");
		sb_string(&b, pc->name, sizeof(pc->name));
		sb_printf(&b,
			  ",\"ipackets\":%" PRIu64 ",\"ibytes\":%" PRIu64 ",\"imissed\":%" PRIu64
			  ",\"ierrors\":%" PRIu64 ",\"rx_nombuf\":%" PRIu64
			  ",\"file_packets\":%" PRIu64 ",\"file_bytes\":%" PRIu64 "}",
			  pc->ipackets, pc->ibytes, pc->imissed, pc->ierrors, pc->rx_nombuf,
			  pc->file_packets, pc->file_bytes);
	}
	sb_printf(&b, "],\"rx\":{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 "}", s->rx_packets,
		  s->rx_bytes);
	sb_printf(&b,
		  ",\"flows\":{\"records\":%" PRIu64 ",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
		  ",\"created\":%" PRIu64 ",\"ended\":%" PRIu64 ",\"evicted\":%" PRIu64
		  ",\"segments\":%" PRIu64 ",\"emergency_entered\":%" PRIu64 "}",
		  flows->records, flows->packets, flows->bytes, s->flows_created, s->flows_ended,
		  s->flows_evicted, s->flow_segments, s->emergency_entered);
	sb_printf(&b,
		  ",\"fragments\":%" PRIu64 ",\"fragments_attributed\":%" PRIu64
		  ",\"fragments_unattributed\":%" PRIu64 ",\"fragments_waited\":%" PRIu64
		  ",\"discards\":{",
		  s->fragments, s->fragments_attributed, s->fragments_unattributed,
		  s->fragments_waited);
	for (i = 0; i < FT_DISCARD_MAX; i++)
		sb_printf(&b, "%s\"%s\":{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 "}",
			  i ? "," : "", ft_discard_names[i], s->discard_packets[i],
			  s->discard_bytes[i]);
	sb_printf(&b,
		  "},\"ring_drops\":{\"records\":%" PRIu64 ",\"packets\":%" PRIu64
		  ",\"bytes\":%" PRIu64 ",\"seq_gaps\":%" PRIu64 ",\"by_type\":{",
		  s->ring_drop_records, s->ring_drop_packets, s->ring_drop_bytes, s->seq_gaps);
	for (i = 1; i < FT_RECORD_TYPE_MAX; i++)
		if (ft_record_type_names[i] != NULL)
			sb_printf(&b, "%s\"%s\":%" PRIu64, i > 1 ? "," : "",
				  ft_record_type_names[i], s->ring_drop_type[i]);
	sb_printf(&b, "}},\"records\":{");
	for (i = 1; i < FT_RECORD_TYPE_MAX; i++)
		if (ft_record_type_names[i] != NULL)
			sb_printf(&b, "%s\"%s\":%" PRIu64, i > 1 ? "," : "",
				  ft_record_type_names[i],
				  i == FT_RECORD_FLOW ? flows->records : flows->by_type[i]);
	sb_printf(&b, ",\"topk_lines\":%" PRIu64 "}", flows->topk_lines);
	if (snap->rule_count > 0)
		sb_match(&b, snap, flows, s, hits);
	sb_printf(&b,
		  ",\"accounted\":{\"packets\":%s,\"bytes\":%s,\"unaccounted_packets\":%" PRId64
		  ",\"unaccounted_bytes\":%" PRId64 "}}\n",
		  s->packets_accounted ? "true" : "false", s->bytes_accounted ? "true" : "false",
		  s->unaccounted_packets, s->unaccounted_bytes);
	return (size_t)(b.p - buf);
}
