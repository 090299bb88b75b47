/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hyperscan databases: compile (stream and block mode) or load from the
 * on-disk cache, once per process, before EAL.
 *
 * Cache file (flowtap-<16 hex digits>.hsdb in the cache folder, the digits an
 * FNV-1a hash of the key):
 *
 *   0   magic "FTHSDB" 0 2     8 B
 *   8   key_len                8 B  (little-endian, as everything here)
 *   16  stream_len             8 B
 *   24  block_len              8 B
 *   32  checksum               8 B  FNV-1a over key, stream and block bytes
 *   40  key, then the serialized stream database, then the block database
 *
 * The key is text: Hyperscan's version string, the platform (tune, CPU
 * features), the stream mode, then every rule as compiled (flags, extended
 * parameters, expression). The file name only finds a candidate; the whole key
 * stored in the file must equal ours, so a hash collision, another machine's
 * file or an older Hyperscan's is never trusted. Files are written to a
 * temporary name and renamed, so a reader never sees half a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "match.h"

#define CACHE_MAGIC "FTHSDB\0\2"
#define CACHE_HDR   40

static uint64_t
fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#define FNV_INIT 0xcbf29ce484222325ULL

/* A growing text buffer for the key. */
struct text {
	char *p;
	size_t len, cap;
};

static int __attribute__((format(printf, 2, 3))) text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -1;
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return 0;
		}
		size_t nc = (t->cap + (size_t)n) * 2;
		char *np = realloc(t->p, nc);

		if (np == NULL)
			return -1;
		t->p = np;
		t->cap = nc;
	}
}

static unsigned
stream_mode(const struct ft_rules *rules)
{
	return HS_MODE_STREAM | (rules->som ? HS_MODE_SOM_HORIZON_LARGE : 0);
}

static int
build_key(const struct ft_rules *rules, const hs_platform_info_t *plat, struct text *key)
{
	int rc = 0;

	key->cap = 4096;
	key->len = 0;
	key->p = malloc(key->cap);
	if (key->p == NULL)
		return -1;
	rc |= text_add(key, "flowtap hyperscan cache 2\nhyperscan %s\n", hs_version());
	rc |= text_add(key, "platform tune %u features %" PRIx64 "\nstream mode %x\n", plat->tune,
		       (uint64_t)plat->cpu_features, stream_mode(rules));
	for (unsigned i = 0; i < rules->count && rc == 0; i++) {
		const struct ft_rule *r = &rules->rule[i];
		const hs_expr_ext_t *e = &r->ext;

		rc |= text_add(key, "%u %x", i, r->hs_flags);
		if (r->has_ext)
			rc |= text_add(key,
				       " ext %" PRIx64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %u %u",
				       (uint64_t)e->flags, (uint64_t)e->min_offset,
				       (uint64_t)e->max_offset, (uint64_t)e->min_length,
				       e->edit_distance, e->hamming_distance);
		rc |= text_add(key, " %zu:%s\n", strlen(r->expr), r->expr);
	}
	return rc;
}

static int
compile(const struct ft_rules *rules, unsigned mode, const hs_platform_info_t *plat,
	hs_database_t **db, char *err, size_t err_len)
{
	unsigned n = rules->count;
	const char **exprs = malloc(n * sizeof(*exprs));
	unsigned *flags = malloc(n * sizeof(*flags)), *ids = malloc(n * sizeof(*ids));
	const hs_expr_ext_t **ext = malloc(n * sizeof(*ext));
	hs_compile_error_t *cerr = NULL;
	hs_error_t rc;
	int ret = -1;

	if (exprs == NULL || flags == NULL || ids == NULL || ext == NULL) {
		snprintf(err, err_len, "%s: out of memory", rules->path);
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		exprs[i] = rules->rule[i].expr;
		flags[i] = rules->rule[i].hs_flags;
		ids[i] = i;
		ext[i] = rules->rule[i].has_ext ? &rules->rule[i].ext : NULL;
	}
	rc = hs_compile_ext_multi(exprs, flags, ids, ext, n, mode, plat, db, &cerr);
	if (rc != HS_SUCCESS) {
		const char *msg = cerr != NULL ? cerr->message : "compile failed";

		if (cerr != NULL && cerr->expression >= 0 && (unsigned)cerr->expression < n) {
			const struct ft_rule *r = &rules->rule[cerr->expression];

			snprintf(err, err_len, "%s:%u: rule '%.200s%s': Hyperscan: %s", rules->path,
				 r->line, r->text, strlen(r->text) > 200 ? "..." : "", msg);
		} else {
			snprintf(err, err_len, "%s: Hyperscan (%s mode): %s", rules->path,
				 (mode & HS_MODE_STREAM) ? "stream" : "block", msg);
		}
		hs_free_compile_error(cerr);
		goto out;
	}
	ret = 0;
out:
	free(exprs);
	free(flags);
	free(ids);
	free(ext);
	return ret;
}

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Load a cache file; 0 with both databases, or -1 with db->cache_note saying why. */
static int
cache_load(struct ft_match_db *db, const struct text *key)
{
	uint8_t *buf = NULL;
	uint64_t klen, slen, blen;
	struct stat st;
	int fd, ret = -1;

	fd = open(db->cache_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			snprintf(db->cache_note, sizeof(db->cache_note), "cannot read %s: %s",
				 db->cache_path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || st.st_size < CACHE_HDR || st.st_size > (1LL << 34)) {
		snprintf(db->cache_note, sizeof(db->cache_note), "%s: not a cache file (size)",
			 db->cache_path);
		goto out;
	}
	buf = malloc((size_t)st.st_size);
	if (buf == NULL || read(fd, buf, (size_t)st.st_size) != st.st_size) {
		snprintf(db->cache_note, sizeof(db->cache_note), "cannot read %s", db->cache_path);
		goto out;
	}
	klen = get64(buf + 8);
	slen = get64(buf + 16);
	blen = get64(buf + 24);
	if (memcmp(buf, CACHE_MAGIC, 8) != 0 || klen > (uint64_t)st.st_size ||
	    slen > (uint64_t)st.st_size || blen > (uint64_t)st.st_size ||
	    CACHE_HDR + klen + slen + blen != (uint64_t)st.st_size) {
		snprintf(db->cache_note, sizeof(db->cache_note),
			 "%s: not a flowtap cache file of this format: ignored", db->cache_path);
		goto out;
	}
	if (fnv1a(FNV_INIT, buf + CACHE_HDR, klen + slen + blen) != get64(buf + 32)) {
		snprintf(db->cache_note, sizeof(db->cache_note),
			 "%s: checksum mismatch (damaged): ignored", db->cache_path);
		goto out;
	}
	if (klen != key->len || memcmp(buf + CACHE_HDR, key->p, klen) != 0) {
		snprintf(db->cache_note, sizeof(db->cache_note),
			 "%s: built for other rules, another Hyperscan or another CPU: ignored",
			 db->cache_path);
		goto out;
	}
	if (hs_deserialize_database((const char *)buf + CACHE_HDR + klen, slen, &db->stream) !=
		    HS_SUCCESS ||
	    hs_deserialize_database((const char *)buf + CACHE_HDR + klen + slen, blen,
				    &db->block) != HS_SUCCESS) {
		snprintf(db->cache_note, sizeof(db->cache_note),
			 "%s: Hyperscan refused its databases: ignored", db->cache_path);
		hs_free_database(db->stream);
		db->stream = NULL;
		goto out;
	}
	ret = 0;
out:
	free(buf);
	close(fd);
	return ret;
}

/* mkdir -p */
static int
make_dirs(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s", dir);
	for (char *p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(path, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static void
cache_store(struct ft_match_db *db, const char *dir, const struct text *key)
{
	char *sbytes = NULL, *bbytes = NULL, tmp[PATH_MAX + 32] = "";
	size_t slen, blen;
	uint8_t hdr[CACHE_HDR];
	uint64_t sum;
	FILE *f = NULL;

	if (hs_serialize_database(db->stream, &sbytes, &slen) != HS_SUCCESS ||
	    hs_serialize_database(db->block, &bbytes, &blen) != HS_SUCCESS) {
		snprintf(db->cache_note, sizeof(db->cache_note), "cannot serialize the databases");
		goto out;
	}
	if (make_dirs(dir) != 0) {
		snprintf(db->cache_note, sizeof(db->cache_note), "cannot create %s: %s", dir,
			 strerror(errno));
		goto out;
	}
	sum = fnv1a(FNV_INIT, key->p, key->len);
	sum = fnv1a(sum, sbytes, slen);
	sum = fnv1a(sum, bbytes, blen);
	memcpy(hdr, CACHE_MAGIC, 8);
	put64(hdr + 8, key->len);
	put64(hdr + 16, slen);
	put64(hdr + 24, blen);
	put64(hdr + 32, sum);
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", db->cache_path, (int)getpid());
	f = fopen(tmp, "wbe");
	if (f == NULL || fwrite(hdr, 1, sizeof(hdr), f) != sizeof(hdr) ||
	    fwrite(key->p, 1, key->len, f) != key->len || fwrite(sbytes, 1, slen, f) != slen ||
	    fwrite(bbytes, 1, blen, f) != blen || fflush(f) != 0) {
		snprintf(db->cache_note, sizeof(db->cache_note), "cannot write %s: %s", tmp,
			 strerror(errno));
		goto out;
	}
	if (fclose(f) != 0 || rename(tmp, db->cache_path) != 0) {
		f = NULL;
		snprintf(db->cache_note, sizeof(db->cache_note), "cannot write %s: %s",
			 db->cache_path, strerror(errno));
		goto out;
	}
	f = NULL;
out:
	if (f != NULL)
		fclose(f);
	if (db->cache_note[0] != '\0' && tmp[0] != '\0')
		unlink(tmp);
	free(sbytes);
	free(bbytes);
}

void
ft_match_db_free(struct ft_match_db *db)
{
	if (db == NULL)
		return;
	hs_free_scratch(db->scratch);
	hs_free_database(db->stream);
	hs_free_database(db->block);
	free(db);
}

int
ft_match_db_build(const struct ft_rules *rules, const char *cache_dir, struct ft_match_db **out,
		  char *err, size_t err_len)
{
	struct ft_match_db *db = calloc(1, sizeof(*db));
	struct text key = {0};
	hs_platform_info_t plat;
	uint64_t t0 = ft_mono_ns();
	bool use_cache = cache_dir != NULL && cache_dir[0] != '\0';

	*out = NULL;
	if (db == NULL) {
		snprintf(err, err_len, "%s: out of memory", rules->path);
		return -1;
	}
	db->rules = rules;
	if (hs_valid_platform() != HS_SUCCESS || hs_populate_platform(&plat) != HS_SUCCESS) {
		snprintf(err, err_len, "%s: Hyperscan does not support this CPU (it needs SSSE3)",
			 rules->path);
		goto fail;
	}
	if (build_key(rules, &plat, &key) != 0) {
		snprintf(err, err_len, "%s: out of memory", rules->path);
		goto fail;
	}
	if (use_cache) {
		snprintf(db->cache_path, sizeof(db->cache_path), "%s/flowtap-%016" PRIx64 ".hsdb",
			 cache_dir, fnv1a(FNV_INIT, key.p, key.len));
		db->from_cache = cache_load(db, &key) == 0;
	}
	if (!db->from_cache) {
		if (compile(rules, stream_mode(rules), &plat, &db->stream, err, err_len) != 0 ||
		    compile(rules, HS_MODE_BLOCK, &plat, &db->block, err, err_len) != 0)
			goto fail;
		if (use_cache) {
			char note[sizeof(db->cache_note)];

			/* Keep why the old file was not used; report a failed write. */
			snprintf(note, sizeof(note), "%s", db->cache_note);
			db->cache_note[0] = '\0';
			cache_store(db, cache_dir, &key);
			if (db->cache_note[0] == '\0')
				snprintf(db->cache_note, sizeof(db->cache_note), "%s", note);
		}
	}
	if (hs_stream_size(db->stream, &db->stream_state_bytes) != HS_SUCCESS ||
	    hs_database_size(db->stream, &db->stream_db_bytes) != HS_SUCCESS ||
	    hs_database_size(db->block, &db->block_db_bytes) != HS_SUCCESS ||
	    hs_alloc_scratch(db->stream, &db->scratch) != HS_SUCCESS ||
	    hs_alloc_scratch(db->block, &db->scratch) != HS_SUCCESS) {
		snprintf(err, err_len, "%s: Hyperscan: cannot use the compiled databases",
			 rules->path);
		goto fail;
	}
	db->build_ns = ft_mono_ns() - t0;
	free(key.p);
	*out = db;
	return 0;
fail:
	free(key.p);
	ft_match_db_free(db);
	return -1;
}
