/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the configuration parser (ft_config_load): the input is
 * an INI file, handed over through a memfd, read on top of the defaults. Besides
 * crashes and sanitizer reports, it aborts when a refusal does not name the file
 * ("FILE:LINE: ..." or "FILE: ..."), and when an accepted file leaves a value
 * outside what config/flowtap.ini documents for it (sizes in range, powers of
 * two, names terminated and non-empty) or a cross-key check without a message.
 */
#include <stdbool.h>
#include <string.h>

#include "cfg/cfg.h"
#include "fuzz.h"

static bool
terminated(const char *s, size_t len)
{
	return memchr(s, '\0', len) != NULL;
}

static bool
pow2(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

static void
check(const struct ft_config *c)
{
	CHECK(terminated(c->instance, sizeof(c->instance)) && c->instance[0] != '\0');
	CHECK(terminated(c->shm_group, sizeof(c->shm_group)));
	CHECK(terminated(c->match_rules, sizeof(c->match_rules)));
	CHECK(terminated(c->match_cache_dir, sizeof(c->match_cache_dir)));
	CHECK(c->burst_size >= 1 && c->burst_size <= 512);
	CHECK(c->mbuf_cache <= 512);
	CHECK(pow2(c->dispatch_ring_size) && c->dispatch_ring_size >= 64 &&
	      c->dispatch_ring_size <= 1048576);
	CHECK(pow2(c->ring_size) && c->ring_size >= 1024 && c->ring_size <= 16777216);
	CHECK(c->stats_topk <= 1000);
	CHECK((c->tunnels & ~FT_TUNNEL_ALL) == 0);
	CHECK(c->port_count <= FT_CFG_MAX_PORTS);
	for (unsigned i = 0; i < c->port_count; i++) {
		const struct ft_port_config *p = &c->ports[i];

		CHECK(terminated(p->name, sizeof(p->name)) && p->name[0] != '\0');
		CHECK(terminated(p->pcap, sizeof(p->pcap)));
		CHECK(terminated(p->device, sizeof(p->device)));
		CHECK(p->rx_descriptors >= 64 && p->rx_descriptors <= 16384);
		for (unsigned j = 0; j < i; j++)
			CHECK(strcmp(c->ports[j].name, p->name) != 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ft_config cfg; /* large (paths per port): not on the stack */
	char path[64], err[FT_CFG_ERR_LEN];
	int fd = fuzz_file(data, size, path, sizeof(path));
	size_t plen;

	if (fd < 0)
		return 0;
	plen = strlen(path);
	ft_config_defaults(&cfg);
	err[0] = '\0';
	if (ft_config_load(&cfg, path, err, sizeof(err)) == 0) {
		check(&cfg);
		err[0] = '\0';
		if (ft_config_validate(&cfg, err, sizeof(err)) != 0)
			CHECK(err[0] != '\0');
	} else {
		CHECK(strncmp(err, path, plen) == 0 && err[plen] == ':');
	}
	close(fd);
	return 0;
}
