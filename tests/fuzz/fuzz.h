/* SPDX-License-Identifier: BSD-3-Clause */
/* What the libFuzzer harnesses share. */
#ifndef FT_FUZZ_H
#define FT_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant: abort, which libFuzzer reports with the input. */
#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

/* A generated program's input, read front to back; zeros once it is used up. */
struct input {
	const uint8_t *p;
	size_t left;
};

/* The next `bytes` bytes of the input, big-endian. */
static inline uint32_t
take(struct input *in, unsigned bytes)
{
	uint32_t v = 0;

	for (unsigned k = 0; k < bytes; k++) {
		v = v << 8 | (in->left > 0 ? *in->p : 0);
		if (in->left > 0)
			in->p++, in->left--;
	}
	return v;
}

/*
 * The input as a file for a parser that takes a path: a memfd, named by
 * /proc/self/fd/N in path. Returns the descriptor (the caller closes it) or -1.
 */
static inline int
fuzz_file(const uint8_t *data, size_t size, char *path, size_t path_len)
{
	int fd = memfd_create("fuzz-input", 0);

	if (fd < 0)
		return -1;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	snprintf(path, path_len, "/proc/self/fd/%d", fd);
	return fd;
}
#endif
