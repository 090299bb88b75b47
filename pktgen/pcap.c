/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Classic pcap writer, nanosecond magic. Frames are built straight into the
 * output buffer (reserve/commit), so writing costs one memcpy-free record header
 * per packet and one write() per few MiB.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pktgen.h"

#define PCAP_BUF (4u << 20)

struct ft_pktgen_pcap {
	int fd;
	int error; /* first write error (negative errno) */
	uint32_t used;
	uint8_t buf[];
};

static int
flush_buf(struct ft_pktgen_pcap *p)
{
	uint32_t off = 0;
	while (off < p->used && !p->error) {
		ssize_t n = write(p->fd, p->buf + off, p->used - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			p->error = -errno;
			break;
		}
		off += (uint32_t)n;
	}
	p->used = 0;
	return p->error;
}

struct ft_pktgen_pcap *
ft_pktgen_pcap_open_fd(int fd)
{
	struct ft_pktgen_pcap *p = malloc(sizeof(*p) + PCAP_BUF);
	if (!p)
		return NULL;
	p->fd = fd;
	p->error = 0;
	p->used = 0;
	/* File header, host byte order as every pcap writer does. */
	uint32_t magic = FT_PKTGEN_PCAP_MAGIC_NS;
	uint16_t vmaj = 2, vmin = 4;
	int32_t zone = 0;
	uint32_t sigfigs = 0, snaplen = FT_PKTGEN_PCAP_SNAPLEN, linktype = 1;
	uint8_t *h = p->buf;
	memcpy(h, &magic, 4);
	memcpy(h + 4, &vmaj, 2);
	memcpy(h + 6, &vmin, 2);
	memcpy(h + 8, &zone, 4);
	memcpy(h + 12, &sigfigs, 4);
	memcpy(h + 16, &snaplen, 4);
	memcpy(h + 20, &linktype, 4);
	p->used = 24;
	return p;
}

struct ft_pktgen_pcap *
ft_pktgen_pcap_open(const char *path)
{
	int fd = strcmp(path, "-") == 0
			 ? dup(STDOUT_FILENO)
			 : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return NULL;
	struct ft_pktgen_pcap *p = ft_pktgen_pcap_open_fd(fd);
	if (!p) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return p;
}

static uint8_t *
pcap_reserve(void *ctx, uint32_t len)
{
	struct ft_pktgen_pcap *p = ctx;
	if (len > FT_PKTGEN_MAX_FRAME + 64)
		return NULL;
	if (p->used + 16 + len > PCAP_BUF && flush_buf(p))
		return NULL;
	return p->buf + p->used + 16;
}

static int
pcap_commit(void *ctx, uint64_t ts_ns, uint32_t len)
{
	struct ft_pktgen_pcap *p = ctx;
	uint32_t rec[4] = {(uint32_t)(ts_ns / 1000000000ULL), (uint32_t)(ts_ns % 1000000000ULL),
			   len, len};
	memcpy(p->buf + p->used, rec, 16);
	p->used += 16 + len;
	return p->error;
}

void
ft_pktgen_pcap_sink(struct ft_pktgen_pcap *p, struct ft_pktgen_sink *sink)
{
	sink->reserve = pcap_reserve;
	sink->commit = pcap_commit;
	sink->ctx = p;
}

int
ft_pktgen_pcap_close(struct ft_pktgen_pcap *p)
{
	if (!p)
		return 0;
	flush_buf(p);
	int rc = p->error;
	if (close(p->fd) && !rc)
		rc = -errno;
	free(p);
	return rc;
}
