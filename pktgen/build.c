/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Header builder and malformations. Frames are written front to back into a
 * caller buffer whose payload is already in place, so the generator never
 * copies a payload twice.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

static uint32_t
l4_hdr_len(const struct ft_pktgen_hdr *h)
{
	switch (h->proto) {
	case 6:
		return 20u + h->tcp_opts_len;
	case 17:
		return 8;
	case 132:
		return 12;
	case 1:
	case 58:
		return 8;
	default:
		return 0;
	}
}

static uint32_t
l3_hdr_len(const struct ft_pktgen_hdr *h)
{
	return h->ip_version == 4 ? 20u + h->ip_opts_len : 40u;
}

/* The frame without a tunnel. */
static uint32_t
plain_hdr_len(const struct ft_pktgen_hdr *h)
{
	return 14u + 4u * h->vlan_count + l3_hdr_len(h) + l4_hdr_len(h);
}

const char *const ft_pktgen_encap_names[FT_PKTGEN_ENCAP_MAX] = {
	[FT_PKTGEN_ENCAP_NONE] = "none",     [FT_PKTGEN_ENCAP_GRE] = "gre",
	[FT_PKTGEN_ENCAP_IPIP] = "ipip",     [FT_PKTGEN_ENCAP_VXLAN] = "vxlan",
	[FT_PKTGEN_ENCAP_GENEVE] = "geneve", [FT_PKTGEN_ENCAP_GTP] = "gtp",
};

/* Does the tunnel carry the Ethernet frame (else its IP packet)? */
static int
encap_ethernet(enum ft_pktgen_encap e)
{
	return e == FT_PKTGEN_ENCAP_VXLAN || e == FT_PKTGEN_ENCAP_GENEVE;
}

/* Outer Ethernet + IPv4, then the tunnel's own header. */
static uint32_t
encap_outer_len(enum ft_pktgen_encap e)
{
	switch (e) {
	case FT_PKTGEN_ENCAP_GRE:
		return 14 + 20 + 8; /* GRE with a key */
	case FT_PKTGEN_ENCAP_IPIP:
		return 14 + 20;
	case FT_PKTGEN_ENCAP_VXLAN:
	case FT_PKTGEN_ENCAP_GENEVE:
	case FT_PKTGEN_ENCAP_GTP:
		return 14 + 20 + 8 + 8; /* UDP and an 8-byte header */
	default:
		return 0;
	}
}

uint32_t
ft_pktgen_encap_overhead(enum ft_pktgen_encap e)
{
	uint32_t n = encap_outer_len(e);

	return n == 0 || encap_ethernet(e) ? n : n - 14;
}

uint32_t
ft_pktgen_hdr_len(const struct ft_pktgen_hdr *h)
{
	return plain_hdr_len(h) + ft_pktgen_encap_overhead((enum ft_pktgen_encap)h->encap);
}

/* The outer headers of h's tunnel into frame[0, encap_outer_len()), for a
 * frame of total bytes whose inner packet (or Ethernet frame) follows. */
static void
encap_write(uint8_t *frame, const struct ft_pktgen_hdr *h, uint32_t total)
{
	static const uint8_t ends[2][4] = {{192, 0, 2, 1}, {192, 0, 2, 2}};
	enum ft_pktgen_encap e = (enum ft_pktgen_encap)h->encap;
	uint8_t *ip = frame + 14, *t = frame + 34;
	uint32_t ip_len = total - 14;
	int rev = h->encap_rev != 0;

	memcpy(frame, h->dst_mac, 6);
	memcpy(frame + 6, h->src_mac, 6);
	put16(frame + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)ip_len);
	put16(ip + 4, h->ip_id);
	ip[8] = 64;
	memcpy(ip + 12, ends[rev], 4);
	memcpy(ip + 16, ends[!rev], 4);
	switch (e) {
	case FT_PKTGEN_ENCAP_GRE:
		ip[9] = 47;
		put16(t, 0x2000); /* K */
		put16(t + 2, h->ip_version == 4 ? 0x0800 : 0x86dd);
		put32(t + 4, 7);
		break;
	case FT_PKTGEN_ENCAP_IPIP:
		ip[9] = h->ip_version == 4 ? 4 : 41;
		break;
	default: {
		/* UDP: a source port from a hash of the inner flow, the same both
		 * ways, as Linux's VXLAN and Geneve derive it (skb_get_hash()). */
		uint16_t lo = h->src_port < h->dst_port ? h->src_port : h->dst_port;
		uint16_t hi = h->src_port < h->dst_port ? h->dst_port : h->src_port;
		uint16_t sport = (uint16_t)(49152 + ((lo * 31u + hi) & 0x3fff));
		uint8_t *u = t + 8;

		ip[9] = 17;
		put16(t, sport);
		put16(t + 2, e == FT_PKTGEN_ENCAP_VXLAN	   ? 4789
			     : e == FT_PKTGEN_ENCAP_GENEVE ? 6081
							   : 2152);
		put16(t + 4, (uint16_t)(ip_len - 20));
		put16(t + 6, 0);
		memset(u, 0, 8);
		if (e == FT_PKTGEN_ENCAP_VXLAN) {
			u[0] = 0x08; /* I: the VNI is valid */
			put32(u + 4, 4242u << 8);
		} else if (e == FT_PKTGEN_ENCAP_GENEVE) {
			put16(u + 2, 0x6558);
			put32(u + 4, 4242u << 8);
		} else {
			u[0] = 0x30; /* version 1, protocol type GTP */
			u[1] = 0xff; /* G-PDU */
			put16(u + 2, (uint16_t)(ip_len - 20 - 8 - 8));
			put32(u + 4, rev ? 0x2000 : 0x1000);
		}
		/* Over the tunnel header and the inner frame, written before. */
		uint16_t c = ft_pktgen_l4_csum(4, ends[rev], ends[!rev], 17, t, ip_len - 20);
		put16(t + 6, c ? c : 0xffff);
		break;
	}
	}
	put16(ip + 10, ft_pktgen_csum(ip, 20));
}

static uint32_t build_plain(uint8_t *frame, const struct ft_pktgen_hdr *h, uint32_t payload_len,
			    struct ft_pktgen_offsets *off);

uint32_t
ft_pktgen_build(uint8_t *frame, const struct ft_pktgen_hdr *h, uint32_t payload_len,
		struct ft_pktgen_offsets *off)
{
	enum ft_pktgen_encap e = (enum ft_pktgen_encap)h->encap;
	uint32_t outer, at, len;

	if (e == FT_PKTGEN_ENCAP_NONE)
		return build_plain(frame, h, payload_len, off);
	if (e >= FT_PKTGEN_ENCAP_MAX || (!encap_ethernet(e) && h->vlan_count != 0) ||
	    ft_pktgen_hdr_len(h) + payload_len > FT_PKTGEN_MAX_FRAME)
		return 0;
	/* The inner frame first, then the outer headers over its start (an
	 * IP-carrying tunnel replaces the inner Ethernet header). */
	outer = encap_outer_len(e);
	at = encap_ethernet(e) ? outer : outer - 14;
	len = build_plain(frame + at, h, payload_len, off);
	if (len == 0)
		return 0;
	encap_write(frame, h, at + len);
	if (off) {
		off->l3 = (uint16_t)(off->l3 + at);
		off->l4 = (uint16_t)(off->l4 + at);
		off->payload = (uint16_t)(off->payload + at);
	}
	return at + len;
}

static uint32_t
build_plain(uint8_t *frame, const struct ft_pktgen_hdr *h, uint32_t payload_len,
	    struct ft_pktgen_offsets *off)
{
	if ((h->ip_version != 4 && h->ip_version != 6) || h->vlan_count > 2 ||
	    (h->ip_opts_len & 3) || h->ip_opts_len > 40 || (h->tcp_opts_len & 3) ||
	    h->tcp_opts_len > 40)
		return 0;
	uint32_t hlen = plain_hdr_len(h);
	if (hlen + payload_len > FT_PKTGEN_MAX_FRAME)
		return 0;

	uint8_t *p = frame;
	memcpy(p, h->dst_mac, 6);
	memcpy(p + 6, h->src_mac, 6);
	p += 12;
	for (unsigned i = 0; i < h->vlan_count; i++) {
		put16(p, h->vlan_tpid[i]);
		put16(p + 2, h->vlan_tci[i]);
		p += 4;
	}
	put16(p, h->ip_version == 4 ? 0x0800 : 0x86dd);
	p += 2;

	uint8_t *l3 = p;
	uint32_t l4_len = l4_hdr_len(h) + payload_len;
	if (h->ip_version == 4) {
		uint32_t ihl = 20u + h->ip_opts_len;
		l3[0] = (uint8_t)(0x40 | (ihl / 4));
		l3[1] = h->tos;
		put16(l3 + 2, (uint16_t)(ihl + l4_len));
		put16(l3 + 4, h->ip_id);
		put16(l3 + 6, h->ip_df ? 0x4000 : 0);
		l3[8] = h->ttl;
		l3[9] = h->proto;
		l3[10] = l3[11] = 0;
		memcpy(l3 + 12, h->src_ip, 4);
		memcpy(l3 + 16, h->dst_ip, 4);
		if (h->ip_opts_len)
			memcpy(l3 + 20, h->ip_opts, h->ip_opts_len);
		put16(l3 + 10, ft_pktgen_csum(l3, ihl));
		p += ihl;
	} else {
		put32(l3, (6u << 28) | ((uint32_t)h->tos << 20) | (h->flow_label & 0xfffff));
		put16(l3 + 4, (uint16_t)l4_len);
		l3[6] = h->proto;
		l3[7] = h->ttl;
		memcpy(l3 + 8, h->src_ip, 16);
		memcpy(l3 + 24, h->dst_ip, 16);
		p += 40;
	}

	uint8_t *l4 = p;
	switch (h->proto) {
	case 6: {
		uint32_t thl = 20u + h->tcp_opts_len;
		put16(l4, h->src_port);
		put16(l4 + 2, h->dst_port);
		put32(l4 + 4, h->tcp_seq);
		put32(l4 + 8, h->tcp_ack);
		l4[12] = (uint8_t)((thl / 4) << 4);
		l4[13] = h->tcp_flags;
		put16(l4 + 14, h->tcp_window);
		l4[16] = l4[17] = l4[18] = l4[19] = 0;
		if (h->tcp_opts_len)
			memcpy(l4 + 20, h->tcp_opts, h->tcp_opts_len);
		put16(l4 + 16,
		      ft_pktgen_l4_csum(h->ip_version, h->src_ip, h->dst_ip, 6, l4, l4_len));
		break;
	}
	case 17: {
		put16(l4, h->src_port);
		put16(l4 + 2, h->dst_port);
		put16(l4 + 4, (uint16_t)l4_len);
		l4[6] = l4[7] = 0;
		uint16_t c = ft_pktgen_l4_csum(h->ip_version, h->src_ip, h->dst_ip, 17, l4, l4_len);
		put16(l4 + 6, c ? c : 0xffff); /* RFC 768: a computed 0 is sent as all ones */
		break;
	}
	case 132: {
		put16(l4, h->src_port);
		put16(l4 + 2, h->dst_port);
		put32(l4 + 4, h->sctp_vtag);
		memset(l4 + 8, 0, 4);
		uint32_t crc = ft_pktgen_crc32c(0, l4, l4_len);
		/* RFC 9260 appendix A: transmitted least significant byte first. */
		l4[8] = (uint8_t)crc;
		l4[9] = (uint8_t)(crc >> 8);
		l4[10] = (uint8_t)(crc >> 16);
		l4[11] = (uint8_t)(crc >> 24);
		break;
	}
	case 1:
	case 58:
		l4[0] = h->icmp_type;
		l4[1] = h->icmp_code;
		l4[2] = l4[3] = 0;
		put16(l4 + 4, h->src_port);
		put16(l4 + 6, h->icmp_seq);
		put16(l4 + 2,
		      ft_pktgen_l4_csum(h->ip_version, h->src_ip, h->dst_ip, h->proto, l4, l4_len));
		break;
	default:
		break;
	}
	if (off) {
		off->l3 = (uint16_t)(l3 - frame);
		off->l4 = (uint16_t)(l4 - frame);
		off->payload = (uint16_t)hlen;
	}
	return hlen + payload_len;
}

const char *const ft_pktgen_malformed_names[FT_PKTGEN_MAL_MAX] = {
	[FT_PKTGEN_MAL_L2_TRUNCATED] = "l2_truncated",
	[FT_PKTGEN_MAL_IP_BAD_VERSION] = "ip_bad_version",
	[FT_PKTGEN_MAL_IPV4_TRUNCATED] = "ipv4_truncated",
	[FT_PKTGEN_MAL_IPV4_BAD_IHL] = "ipv4_bad_ihl",
	[FT_PKTGEN_MAL_IPV4_BAD_LENGTH] = "ipv4_bad_length",
	[FT_PKTGEN_MAL_IPV6_TRUNCATED] = "ipv6_truncated",
	[FT_PKTGEN_MAL_IPV6_BAD_EXT] = "ipv6_bad_ext",
	[FT_PKTGEN_MAL_L4_TRUNCATED] = "l4_truncated",
	[FT_PKTGEN_MAL_TCP_BAD_OFFSET] = "tcp_bad_offset",
	[FT_PKTGEN_MAL_TCP_OPT_ZERO_LEN] = "tcp_opt_zero_len",
	[FT_PKTGEN_MAL_IPV4_OPT_ZERO_LEN] = "ipv4_opt_zero_len",
	[FT_PKTGEN_MAL_UDP_BAD_LENGTH] = "udp_bad_length",
};

int
ft_pktgen_malformed_counted(enum ft_pktgen_malformed kind)
{
	return kind == FT_PKTGEN_MAL_TCP_OPT_ZERO_LEN || kind == FT_PKTGEN_MAL_IPV4_OPT_ZERO_LEN ||
	       kind == FT_PKTGEN_MAL_UDP_BAD_LENGTH;
}

int
ft_pktgen_malformed_lookup(const char *name)
{
	for (int i = 0; i < FT_PKTGEN_MAL_MAX; i++)
		if (strcmp(name, ft_pktgen_malformed_names[i]) == 0)
			return i;
	return -1;
}

int
ft_pktgen_malformed_applies(enum ft_pktgen_malformed kind, int ip_version, uint8_t proto)
{
	switch (kind) {
	case FT_PKTGEN_MAL_L2_TRUNCATED:
	case FT_PKTGEN_MAL_IP_BAD_VERSION:
	case FT_PKTGEN_MAL_L4_TRUNCATED:
		return 1;
	case FT_PKTGEN_MAL_IPV4_TRUNCATED:
	case FT_PKTGEN_MAL_IPV4_BAD_IHL:
	case FT_PKTGEN_MAL_IPV4_BAD_LENGTH:
	case FT_PKTGEN_MAL_IPV4_OPT_ZERO_LEN:
		return ip_version == 4;
	case FT_PKTGEN_MAL_IPV6_TRUNCATED:
	case FT_PKTGEN_MAL_IPV6_BAD_EXT:
		return ip_version == 6;
	case FT_PKTGEN_MAL_TCP_BAD_OFFSET:
	case FT_PKTGEN_MAL_TCP_OPT_ZERO_LEN:
		return proto == 6;
	case FT_PKTGEN_MAL_UDP_BAD_LENGTH:
		return proto == 17;
	default:
		return 0;
	}
}

/* Recompute the IPv4 header checksum after a field changed. */
static void
ipv4_recsum(uint8_t *l3, uint32_t ihl)
{
	l3[10] = l3[11] = 0;
	put16(l3 + 10, ft_pktgen_csum(l3, ihl));
}

/* Set the IP length field(s) for an IP packet now ip_len bytes long. */
static void
set_ip_len(uint8_t *l3, int ipv, uint32_t ip_len)
{
	if (ipv == 4) {
		put16(l3 + 2, (uint16_t)ip_len);
		ipv4_recsum(l3, (l3[0] & 0x0f) * 4u);
	} else {
		put16(l3 + 4, (uint16_t)(ip_len - 40));
	}
}

uint32_t
ft_pktgen_malform(uint8_t *frame, uint32_t len, const struct ft_pktgen_hdr *h,
		  enum ft_pktgen_malformed kind)
{
	if (!ft_pktgen_malformed_applies(kind, h->ip_version, h->proto))
		return 0;
	uint32_t l3o = 14u + 4u * h->vlan_count;
	uint32_t l3len = l3_hdr_len(h);
	uint32_t l4o = l3o + l3len;
	uint8_t *l3 = frame + l3o;
	uint8_t *l4 = frame + l4o;

	switch (kind) {
	case FT_PKTGEN_MAL_L2_TRUNCATED:
		/* Cut inside the last tag or the ethertype: the link layer is incomplete. */
		return l3o - 1;
	case FT_PKTGEN_MAL_IP_BAD_VERSION:
		if (h->ip_version == 4) {
			l3[0] = (uint8_t)(0x60 | (l3[0] & 0x0f));
			ipv4_recsum(l3, (l3[0] & 0x0f) * 4u);
		} else {
			l3[0] = (uint8_t)(0x40 | (l3[0] & 0x0f));
		}
		return len;
	case FT_PKTGEN_MAL_IPV4_TRUNCATED:
		return l3o + 12;
	case FT_PKTGEN_MAL_IPV4_BAD_IHL:
		l3[0] = 0x44;
		/* Checksum over the 16 bytes the IHL claims, so only the IHL is wrong. */
		l3[10] = l3[11] = 0;
		put16(l3 + 10, ft_pktgen_csum(l3, 16));
		return len;
	case FT_PKTGEN_MAL_IPV4_BAD_LENGTH:
		put16(l3 + 2, 16);
		ipv4_recsum(l3, l3len);
		return len;
	case FT_PKTGEN_MAL_IPV6_TRUNCATED:
		return l3o + 24;
	case FT_PKTGEN_MAL_IPV6_BAD_EXT: {
		/* Insert a hop-by-hop header claiming 64 bytes; the packet ends after 8. */
		uint8_t hbh[8] = {l3[6], 7, 1, 4, 0, 0, 0, 0}; /* next, len 7 -> 64 B, PadN */
		l3[6] = 0;
		put16(l3 + 4, 8);
		memcpy(l4, hbh, 8);
		return l4o + 8;
	}
	case FT_PKTGEN_MAL_L4_TRUNCATED: {
		uint32_t keep = 4; /* ports only: shorter than any of the L4 headers */
		set_ip_len(l3, h->ip_version, l3len + keep);
		return l4o + keep;
	}
	case FT_PKTGEN_MAL_TCP_BAD_OFFSET: {
		uint32_t l4len = len - l4o;
		l4[12] = (uint8_t)((4 << 4) | (l4[12] & 0x0f));
		l4[16] = l4[17] = 0;
		put16(l4 + 16,
		      ft_pktgen_l4_csum(h->ip_version, h->src_ip, h->dst_ip, 6, l4, l4len));
		return len;
	}
	case FT_PKTGEN_MAL_TCP_OPT_ZERO_LEN:
	case FT_PKTGEN_MAL_IPV4_OPT_ZERO_LEN: {
		/* Rebuild with a 4-byte option block whose first option claims length
		 * 0: the classic infinite-loop trap for option walkers. */
		static const uint8_t bad_tcp_opt[4] = {8, 0, 0, 0}; /* timestamps, len 0 */
		static const uint8_t bad_ip_opt[4] = {7, 0, 0, 0};  /* record route, len 0 */
		struct ft_pktgen_hdr b = *h;
		uint32_t plen = len - ft_pktgen_hdr_len(h);
		if (kind == FT_PKTGEN_MAL_TCP_OPT_ZERO_LEN) {
			if (h->tcp_opts_len)
				return 0;
			b.tcp_opts = bad_tcp_opt;
			b.tcp_opts_len = 4;
		} else {
			if (h->ip_opts_len)
				return 0;
			b.ip_opts = bad_ip_opt;
			b.ip_opts_len = 4;
		}
		uint32_t nh = ft_pktgen_hdr_len(&b);
		memmove(frame + nh, frame + ft_pktgen_hdr_len(h), plen);
		return ft_pktgen_build(frame, &b, plen, NULL);
	}
	case FT_PKTGEN_MAL_UDP_BAD_LENGTH: {
		uint32_t l4len = len - l4o;
		put16(l4 + 4, (uint16_t)(l4len + 8));
		l4[6] = l4[7] = 0;
		/* The checksum a receiver would compute with the (wrong) length field is
		 * undefined; use the one over the bytes present with the real length so
		 * the only fault is the length. */
		uint8_t save[2] = {l4[4], l4[5]};
		put16(l4 + 4, (uint16_t)l4len);
		uint16_t c = ft_pktgen_l4_csum(h->ip_version, h->src_ip, h->dst_ip, 17, l4, l4len);
		l4[4] = save[0];
		l4[5] = save[1];
		put16(l4 + 6, c ? c : 0xffff);
		return len;
	}
	default:
		return 0;
	}
}
