/* engine: the public API of include/floe.h — opening a model (bind, mmap,
 * memory plan, expert index, io backend, cache, pool, scratch), sessions and
 * their evaluation loop, and the stats.
 *
 * The memory plan: fixed = resident dense weights (mmapped, counted whether
 * or not the kernel has faulted them in yet) + one session's KV cache for
 * n_ctx + scratch (every buffer of a forward chunk) + I/O staging (none: reads
 * land directly in cache slots).  The expert cache gets the rest of the
 * budget in whole slots, at least n_expert_used of them (one decode token's
 * experts of one layer pinned together); a prefill chunk that needs more
 * experts than there are slots runs them in groups.  mem 0 means a cache with
 * a slot for every expert of every layer. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/file.h"
#include "base/timer.h"
#include "engine/act_avx2.h"
#include "engine/engine.h"
#include "engine/ops.h"
#include "quant/repack.h"

struct floe_params floe_params_default(void)
{
	struct floe_params p;

	memset(&p, 0, sizeof(p));
	p.io_backend = FLOE_IO_BACKEND_AUTO;
	p.log_level = -1;
	return p;
}

/* Measured on the 30B shape at 5-20% cache (docs/engine.md): the per-layer
 * budget with LRFU inside is best or near best everywhere, and the global
 * policies collapse once the cache is smaller than one token's working set.
 * Next-layer prefetch, issued once a layer's demand reads have landed, pays
 * at a quarter of the file (docs/perf.md: 4 guesses per layer beat 2 and 8,
 * which reads 50% more bytes); issued together with the demand reads it lost. */
#define DEFAULT_POLICY FLOE_CACHE_LAYER_LRFU
#define DEFAULT_PREFETCH FLOE_PREFETCH_ON
#define DEFAULT_PREFETCH_K 4

const char *floe_cache_policy_name(int policy)
{
	if (policy == FLOE_CACHE_POLICY_DEFAULT)
		policy = DEFAULT_POLICY;
	if (policy < 1 || policy > FLOE_POLICY_COUNT)
		return "?";
	return floe_policy_name((enum floe_policy)(policy - 1));
}

int floe_cache_policy_parse(const char *name)
{
	enum floe_policy p;

	if (!name || !floe_policy_parse(name, &p))
		return -1;
	return (int)p + 1;
}

const char *floe_model_error(const floe_model *m)
{
	return m ? m->err.msg : "";
}

const struct floe_gguf *floe_model_gguf(const floe_model *m)
{
	return m->gguf;
}

uint64_t floe_kv_bytes(const struct floe_weights *w, int n_ctx, bool f16)
{
	const struct floe_hparams *hp = &w->hp;
	uint64_t per_tok = (uint64_t)hp->n_head_kv * (uint64_t)(hp->head_dim_k + hp->head_dim_v);

	return per_tok * (uint64_t)hp->n_layer * (uint64_t)n_ctx * (f16 ? 2 : 4);
}

/* ---- open ----------------------------------------------------------------- */

/* Every weight type the forward pass will hand to a kernel must have one. */
static int check_kernels(const struct floe_model *m, struct floe_err *err)
{
	const struct floe_weights *w = &m->w;
	const struct floe_tensor *ts[] = {&w->tok_embd, &w->output};

	for (int il = -1; il < w->hp.n_layer; il++) {
		const struct floe_tensor *lt[8];
		int n = 0;
		if (il < 0) {
			lt[n++] = ts[0];
			lt[n++] = ts[1];
		} else {
			const struct floe_layer *l = &w->layers[il];
			const struct floe_tensor *x[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->router,
							 &l->exps[0], &l->exps[1], &l->exps[2]};
			for (int i = 0; i < 8; i++)
				lt[n++] = x[i];
		}
		for (int i = 0; i < n; i++) {
			uint32_t t = lt[i]->type, at = floe_type_info(t)->act_type;
			if (!m->kern->vec_dot[t] || !m->kern->quantize_act[at] ||
			    (lt[i] == ts[0] && !m->kern->dequant_row[t]))
				return floe_fail(err, FLOE_EUNSUPPORTED,
						 "tensor '%s': no %s kernel for weight type %s", lt[i]->name,
						 m->kern->isa, floe_type_name(t));
		}
	}
	return FLOE_OK;
}

/* Start reading a dense tensor's pages now, in large requests. */
static void willneed(struct floe_model *m, const struct floe_tensor *t)
{
	uint64_t lo = t->offset / 4096 * 4096, hi = t->offset + t->size;

	if (t->size && hi <= m->map_size && !(t->type & FLOE_TYPE_REPACKED))
		madvise((char *)m->map + lo, hi - lo, MADV_WILLNEED);
}

/* Every token reads all dense weights but the token embeddings (one row per
 * token).  Under MADV_RANDOM a cold start would fault them in 4 KiB at a
 * time (measured in a 4 GiB cgroup with the page cache dropped: ~180k major
 * faults, first token after 12 s instead of 3 s), so ask for them up front:
 * the kernel reads them in large requests while the engine sets up. */
static void prefetch_dense(struct floe_model *m)
{
	const struct floe_weights *w = &m->w;

	for (int il = 0; il < w->hp.n_layer; il++) {
		const struct floe_layer *l = &w->layers[il];
		const struct floe_tensor *ts[] = {&l->attn_norm, &l->wq,     &l->wk,       &l->wv,    &l->q_norm,
						  &l->k_norm,    &l->wo,     &l->ffn_norm, &l->router};
		for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++)
			willneed(m, ts[i]);
	}
	willneed(m, &w->output_norm);
	willneed(m, &w->output); /* the embeddings themselves when tied */
}

/* The dense matrices the forward pass multiplies (not the token
 * embeddings, whose rows are looked up, nor the output when it is them). */
static int dense_matrices(struct floe_weights *w, struct floe_tensor **out)
{
	int n = 0;

	for (int il = 0; il < w->hp.n_layer; il++) {
		struct floe_layer *l = &w->layers[il];
		out[n++] = &l->wq;
		out[n++] = &l->wk;
		out[n++] = &l->wv;
		out[n++] = &l->wo;
		out[n++] = &l->router;
	}
	if (!w->tied_output)
		out[n++] = &w->output;
	return n;
}

/* With the AVX2 kernels, Q4_0 and Q4_K matrices are multiplied in the x8
 * layouts (quant/repack.h), which need no horizontal sum per row and block:
 * the dense ones are read into anonymous memory and repacked here, and their
 * file pages dropped (the budget counts the dense bytes once either way);
 * experts are repacked by the cache when they all stay resident
 * (repack_experts).  In a 4 GiB cgroup with a cold page cache, streamed
 * prompts ran twice as fast with the dense matrices repacked, decode the
 * same (docs/perf.md). */
#define REPACK_READ (8u << 20)

static int repack_dense(struct floe_model *m, struct floe_err *err)
{
	struct floe_tensor **ts;
	uint64_t total = 0, at = 0;
	int n, rc = FLOE_OK;

	if (!m->repack)
		return FLOE_OK;
	ts = malloc(sizeof(*ts) * ((size_t)m->w.hp.n_layer * 5 + 1));
	if (!ts)
		return floe_fail(err, FLOE_ENOMEM, "out of memory");
	n = dense_matrices(&m->w, ts);
	for (int i = 0; i < n; i++)
		if (floe_repack_supported(ts[i]->type, ts[i]->ne[1], ts[i]->ne[0]))
			total += floe_round_up(ts[i]->size, FLOE_ALIGN);
	if (total == 0)
		goto done;
	m->dense_repacked = floe_alloc_aligned(total);
	if (!m->dense_repacked) {
		rc = floe_fail(err, FLOE_ENOMEM, "out of memory for %llu bytes of repacked dense weights",
			       (unsigned long long)total);
		goto done;
	}
	for (int i = 0; i < n; i++) {
		struct floe_tensor *t = ts[i];
		if (!floe_repack_supported(t->type, t->ne[1], t->ne[0]))
			continue;
		void *dst = (char *)m->dense_repacked + at;
		/* in 8 MiB pieces, each dropped from the page cache once copied,
		 * so the copy never doubles the dense bytes in a memory cgroup */
		for (uint64_t off = 0; off < t->size; off += REPACK_READ) {
			uint64_t len = t->size - off < REPACK_READ ? t->size - off : REPACK_READ;
			uint64_t got;
			int st = floe_pread_full(m->fd, (char *)dst + off, len, t->offset + off, &got);
			if (st) {
				rc = floe_fail(err, FLOE_EIO, "%s: read of %llu bytes at offset %llu: %s", m->path,
					       (unsigned long long)(len - got), (unsigned long long)(t->offset + off + got),
					       st < 0 ? strerror(-st) : "unexpected end of file");
				goto done;
			}
			posix_fadvise(m->fd, (off_t)(t->offset + off), (off_t)len, POSIX_FADV_DONTNEED);
		}
		floe_repack_rows(t->type, dst, t->ne[1], t->ne[0]);
		t->data = dst;
		t->type |= FLOE_TYPE_REPACKED;
		at += floe_round_up(t->size, FLOE_ALIGN);
		m->plan.repacked_bytes += t->size;
	}
done:
	free(ts);
	return rc;
}

static int map_file(struct floe_model *m, struct floe_err *err)
{
	struct stat st;

	m->fd = open(m->path, O_RDONLY | O_CLOEXEC);
	if (m->fd < 0)
		return floe_fail(err, FLOE_EIO, "%s: open: %s", m->path, strerror(errno));
	if (fstat(m->fd, &st) < 0)
		return floe_fail(err, FLOE_EIO, "%s: fstat: %s", m->path, strerror(errno));
	if ((uint64_t)st.st_size != m->gguf->file_size)
		return floe_fail(err, FLOE_EIO, "%s: size changed from %llu to %llu bytes", m->path,
				 (unsigned long long)m->gguf->file_size, (unsigned long long)st.st_size);
	m->map_size = (uint64_t)st.st_size;
	m->map = mmap(NULL, m->map_size, PROT_READ, MAP_SHARED, m->fd, 0);
	if (m->map == MAP_FAILED) {
		m->map = NULL;
		return floe_fail(err, FLOE_EIO, "%s: mmap of %llu bytes: %s", m->path,
				 (unsigned long long)m->map_size, strerror(errno));
	}
	/* The expert ranges are never touched through the map; random access
	 * keeps fault-around readahead from pulling them in with dense pages. */
	madvise(m->map, m->map_size, MADV_RANDOM);
	floe_weights_attach(&m->w, m->map);
	return FLOE_OK;
}

static int build_index(struct floe_model *m, struct floe_err *err)
{
	const struct floe_hparams *hp = &m->w.hp;
	struct floe_expert_slice *parts = calloc((size_t)hp->n_layer * 3, sizeof(*parts));
	int rc;

	if (!parts)
		return floe_fail(err, FLOE_ENOMEM, "out of memory for the expert index");
	for (int il = 0; il < hp->n_layer; il++)
		for (int p = 0; p < 3; p++) {
			const struct floe_tensor *t = &m->w.layers[il].exps[p];
			struct floe_expert_slice *sl = &parts[il * 3 + p];
			sl->offset = t->offset;
			sl->stride = t->size / (uint64_t)hp->n_expert;
			sl->bytes = floe_type_row_bytes(t->type, (uint64_t)t->ne[0]) * (uint64_t)t->ne[1];
			sl->type = t->type;
			sl->rows = t->ne[1];
			sl->cols = t->ne[0];
		}
	rc = floe_expert_index_init(&m->idx, hp->n_layer, hp->n_expert, parts, m->map_size, err);
	free(parts);
	if (rc)
		return rc;
	m->idx_ready = true;
	return FLOE_OK;
}

/* When every expert stays resident the cache repacks them as they land,
 * once each.  Streamed experts keep the file's layout: repacking each
 * miss as it lands costs about 0.4 ms (three 768x2048 parts) on the thread
 * that drives the cache, and streamed decode lost 12-18% with it (measured
 * in a 4 GiB cgroup, docs/perf.md). */
static bool repack_experts(struct floe_model *m)
{
	if (!m->repack || !m->plan.all_resident)
		return false;
	for (int il = 0; il < m->w.hp.n_layer; il++)
		for (int p = 0; p < 3; p++) {
			struct floe_tensor *t = &m->w.layers[il].exps[p];
			if (floe_repack_supported(t->type, t->ne[1], t->ne[0]))
				t->type |= FLOE_TYPE_REPACKED;
		}
	return true;
}

static uint64_t mib(uint64_t b)
{
	return (b + (1u << 20) - 1) >> 20;
}

static int make_plan(struct floe_model *m, struct floe_err *err)
{
	struct floe_plan *p = &m->plan;
	const struct floe_hparams *hp = &m->w.hp;
	struct floe_scratch sizing;
	uint64_t total = (uint64_t)hp->n_layer * (uint64_t)hp->n_expert, k = (uint64_t)hp->n_expert_used;

	memset(p, 0, sizeof(*p));
	floe_scratch_init(&sizing, &m->w, m->params.n_batch, m->params.n_ctx, m->params.n_threads, false, NULL);
	p->mem_bytes = m->params.mem_bytes;
	p->dense_bytes = m->w.dense_bytes;
	p->kv_bytes = floe_kv_bytes(&m->w, m->params.n_ctx, m->params.kv_f16);
	/* scratch plus the logits row kept per session */
	p->scratch_bytes = sizing.bytes + (uint64_t)hp->n_vocab * sizeof(float);
	p->io_bytes = 0;
	p->fixed_bytes = p->dense_bytes + p->kv_bytes + p->scratch_bytes + p->io_bytes;
	p->slot_bytes = m->idx.slot_bytes;
	p->n_experts_total = total;
	p->min_mem_bytes = p->fixed_bytes + k * p->slot_bytes;
	p->n_ctx = m->params.n_ctx;
	p->n_batch = m->params.n_batch;
	p->n_threads = m->params.n_threads;
	if (p->mem_bytes == 0) {
		p->n_slots = total;
	} else if (p->mem_bytes < p->min_mem_bytes) {
		return floe_fail(err, FLOE_EBUDGET,
				 "memory budget %llu bytes (%llu MiB) is too small: fixed part %llu MiB "
				 "(dense %llu, kv %llu, scratch %llu) + %llu expert slots of %llu KiB; "
				 "need at least %llu bytes (%llu MiB)",
				 (unsigned long long)p->mem_bytes, (unsigned long long)(p->mem_bytes >> 20),
				 (unsigned long long)mib(p->fixed_bytes), (unsigned long long)mib(p->dense_bytes),
				 (unsigned long long)mib(p->kv_bytes), (unsigned long long)mib(p->scratch_bytes),
				 (unsigned long long)k, (unsigned long long)(p->slot_bytes >> 10),
				 (unsigned long long)p->min_mem_bytes, (unsigned long long)mib(p->min_mem_bytes));
	} else {
		p->n_slots = (p->mem_bytes - p->fixed_bytes) / p->slot_bytes;
		if (p->n_slots > total)
			p->n_slots = total;
	}
	p->cache_bytes = p->n_slots * p->slot_bytes;
	p->cache_share = total ? (double)p->n_slots / (double)total : 1.0;
	p->all_resident = p->n_slots == total;
	snprintf(p->policy, sizeof(p->policy), "%s", floe_cache_policy_name(m->params.cache_policy));
	p->prefetch = m->prefetch;
	p->prefetch_oracle = m->params.prefetch == FLOE_PREFETCH_ORACLE;
	return FLOE_OK;
}

static int open_io(struct floe_model *m, struct floe_err *err)
{
	struct floe_io_params iop = {
		.kind = (enum floe_io_kind)m->params.io_backend,
		.queue_depth = m->params.io_queue_depth,
		.buffered = m->params.io_buffered,
	};
	struct floe_io *inner;
	int rc;

	rc = floe_io_open(m->path, &iop, &inner, err);
	if (rc)
		return rc;
	if (m->params.io_fault) {
		rc = floe_io_fault_wrap(inner, (enum floe_io_fault)m->params.io_fault, m->params.io_fault_at,
					&m->io, err);
		if (rc) /* the wrapper owns inner, also on failure */
			return rc;
	} else {
		m->io = inner;
	}
	floe_io_describe(m->io, m->plan.io, sizeof(m->plan.io));
	return FLOE_OK;
}

static int check_params(struct floe_model *m, struct floe_err *err)
{
	struct floe_params *p = &m->params;
	const struct floe_hparams *hp = &m->w.hp;

	if (p->n_ctx < 0 || p->n_batch < 0 || p->n_threads < 0 || p->io_backend < 0 || p->io_backend > 2)
		return floe_fail(err, FLOE_EARG, "negative n_ctx, n_batch, n_threads or bad io_backend");
	if (p->cache_policy < 0 || p->cache_policy > FLOE_POLICY_COUNT)
		return floe_fail(err, FLOE_EARG, "cache_policy %d is not an enum floe_cache_policy",
				 p->cache_policy);
	if (p->prefetch < 0 || p->prefetch > FLOE_PREFETCH_ORACLE)
		return floe_fail(err, FLOE_EARG, "prefetch %d is not an enum floe_prefetch", p->prefetch);
	if (p->prefetch_k < 0)
		return floe_fail(err, FLOE_EARG, "prefetch_k %d is negative", p->prefetch_k);
	if (p->prefetch_k == 0) /* the oracle is the upper bound: all of the trace's */
		p->prefetch_k = p->prefetch == FLOE_PREFETCH_ORACLE ? hp->n_expert_used : DEFAULT_PREFETCH_K;
	if (p->prefetch_k > hp->n_expert_used)
		p->prefetch_k = hp->n_expert_used;
	if (p->prefetch == FLOE_PREFETCH_ORACLE && !p->trace_replay)
		return floe_fail(err, FLOE_EARG, "oracle prefetch needs a replayed trace (trace_replay)");
	if (p->cache_policy == FLOE_CACHE_POLICY_DEFAULT)
		p->cache_policy = DEFAULT_POLICY;
	if (p->prefetch == FLOE_PREFETCH_DEFAULT)
		p->prefetch = DEFAULT_PREFETCH;
	m->prefetch = p->prefetch == FLOE_PREFETCH_ON || p->prefetch == FLOE_PREFETCH_ORACLE;
	if (p->n_ctx == 0)
		p->n_ctx = hp->n_ctx_train > 0 && hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096;
	if (p->n_ctx > (1 << 24))
		return floe_fail(err, FLOE_EARG, "n_ctx %d is too large", p->n_ctx);
	if (p->n_batch == 0)
		p->n_batch = 64;
	if (p->n_batch > p->n_ctx)
		p->n_batch = p->n_ctx;
	if (p->n_threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		p->n_threads = n > 0 ? (int)(n > 64 ? 64 : n) : 1;
	}
	return FLOE_OK;
}

/* Routing traces: open the replayed one (its shape must be the model's) and
 * set up recording. */
static int open_traces(struct floe_model *m, struct floe_err *err)
{
	const struct floe_hparams *hp = &m->w.hp;
	const char *path = m->params.trace_replay;
	int rc;

	if (path) {
		rc = floe_trace_load(path, &m->replay, err);
		if (rc)
			return floe_fail_prefix(err, "trace replay: ");
		m->replaying = true;
		if (m->replay.n_layers != (uint32_t)hp->n_layer || m->replay.n_experts != (uint32_t)hp->n_expert ||
		    m->replay.k != (uint32_t)hp->n_expert_used)
			return floe_fail(err, FLOE_EARG,
					 "trace replay %s: the trace has %u layers, %u experts, k=%u; "
					 "the model has %d layers, %d experts, k=%d",
					 path, m->replay.n_layers, m->replay.n_experts, m->replay.k, hp->n_layer,
					 hp->n_expert, hp->n_expert_used);
		if (m->replay.n_tokens == 0)
			return floe_fail(err, FLOE_EARG, "trace replay %s: the trace has no tokens", path);
	}
	m->params.trace_replay = NULL; /* borrowed during open only */
	if (m->params.trace_out) {
		size_t n = (size_t)m->params.n_batch * (size_t)hp->n_layer * (size_t)hp->n_expert_used;
		if (snprintf(m->trace_out, sizeof(m->trace_out), "%s", m->params.trace_out) >=
		    (int)sizeof(m->trace_out))
			return floe_fail(err, FLOE_EARG, "trace_out path is too long");
		rc = floe_trace_init(&m->rec, (uint32_t)hp->n_layer, (uint32_t)hp->n_expert,
				     (uint32_t)hp->n_expert_used, err);
		if (rc)
			return floe_fail_prefix(err, "trace out: ");
		m->recording = true;
		m->rec_chunk = malloc(n * sizeof(uint16_t));
		if (!m->rec_chunk)
			return floe_fail(err, FLOE_ENOMEM, "out of memory for the trace recorder");
	}
	m->params.trace_out = NULL;
	return FLOE_OK;
}

static int model_open(struct floe_model *m, struct floe_err *err)
{
	int rc;

	if ((rc = floe_gguf_open(m->path, &m->gguf, err)) || (rc = floe_weights_load(m->gguf, &m->w, err)))
		return rc;
	m->kern = floe_kernels_get(m->params.force_ref_kernels);
	m->dotf32 = floe_dotf32_get(m->params.force_ref_kernels);
	const bool avx2 = strcmp(m->kern->isa, "avx2") == 0;
	m->swiglu = avx2 ? floe_swiglu_avx2 : floe_swiglu;
	m->softmax = avx2 ? floe_softmax_avx2 : floe_softmax;
	m->repack = avx2; /* the repacked kernels are AVX2 ones */
	if ((rc = check_kernels(m, err)) || (rc = check_params(m, err)) || (rc = map_file(m, err)) ||
	    (rc = build_index(m, err)) || (rc = make_plan(m, err)) || (rc = repack_dense(m, err)))
		return rc;
	prefetch_dense(m);
	if ((rc = floe_pool_create(m->params.n_threads, &m->pool, err)) || (rc = open_io(m, err)))
		return rc;
	struct floe_cache_params cp = {.n_slots = m->plan.n_slots,
				       .policy = (enum floe_policy)(m->params.cache_policy - 1),
				       .repack = repack_experts(m)};
	if ((rc = floe_cache_create(&m->idx, m->io, &cp, &m->cache, err)) || (rc = open_traces(m, err)))
		return rc;
	return floe_scratch_init(&m->s, &m->w, m->params.n_batch, m->params.n_ctx, m->params.n_threads, true,
				 err);
}

int floe_model_open(const struct floe_params *params, floe_model **out, char *errbuf, size_t errlen)
{
	struct floe_model *m;
	struct floe_err err;
	int rc;

	floe_err_clear(&err);
	*out = NULL;
	if (errlen)
		errbuf[0] = '\0';
	if (!params || !params->path) {
		rc = floe_fail(&err, FLOE_EARG, "no model path given");
		goto fail;
	}
	if (params->log_level >= 0)
		floe_log_set_level(params->log_level);
	m = calloc(1, sizeof(*m));
	if (!m) {
		rc = floe_fail(&err, FLOE_ENOMEM, "out of memory");
		goto fail;
	}
	m->fd = -1;
	m->params = *params;
	snprintf(m->path, sizeof(m->path), "%s", params->path);
	m->params.path = m->path;
	rc = model_open(m, &err);
	if (rc) {
		floe_model_close(m);
		goto fail;
	}
	*out = m;
	return FLOE_OK;
fail:
	if (errlen)
		snprintf(errbuf, errlen, "%s", err.msg);
	return rc;
}

int floe_model_trace_save(floe_model *m, const char *path)
{
	struct floe_err err;
	int rc;

	floe_err_clear(&err);
	if (!m->recording)
		return floe_fail(&m->err, FLOE_EARG, "trace save: no trace is being recorded (trace_out)");
	if (!path)
		path = m->trace_out;
	rc = floe_trace_save(&m->rec, path, &err);
	if (rc) {
		memcpy(&m->err, &err, sizeof(m->err));
		return rc;
	}
	if (!strcmp(path, m->trace_out))
		m->rec_saved = m->rec.n_tokens;
	return FLOE_OK;
}

void floe_model_close(floe_model *m)
{
	if (!m)
		return;
	if (m->recording && m->rec.n_tokens != m->rec_saved && floe_model_trace_save(m, NULL))
		floe_log(0, "floe: %s\n", m->err.msg);
	if (m->recording)
		floe_trace_free(&m->rec);
	free(m->rec_chunk);
	if (m->replaying)
		floe_trace_free(&m->replay);
	floe_scratch_free(&m->s);
	if (m->cache)
		floe_cache_destroy(m->cache);
	if (m->io)
		floe_io_close(m->io);
	if (m->pool)
		floe_pool_destroy(m->pool);
	if (m->idx_ready)
		floe_expert_index_free(&m->idx);
	if (m->map)
		munmap(m->map, m->map_size);
	floe_free_aligned(m->dense_repacked);
	if (m->fd >= 0)
		close(m->fd);
	floe_weights_free(&m->w);
	if (m->gguf)
		floe_gguf_close(m->gguf);
	free(m);
}

/* ---- info and plan -------------------------------------------------------- */

void floe_model_info(const floe_model *m, struct floe_model_info *out)
{
	const struct floe_hparams *hp = &m->w.hp;
	const struct floe_gguf_kv *name = floe_gguf_find(m->gguf, "general.name");
	uint64_t one = 0;

	memset(out, 0, sizeof(*out));
	out->arch = m->w.arch->name;
	out->name = name && name->value.type == FLOE_GGUF_STRING ? name->value.v.str.s : "";
	out->kernels = m->kern->isa;
	out->n_vocab = hp->n_vocab;
	out->n_ctx_train = hp->n_ctx_train;
	out->n_embd = hp->n_embd;
	out->n_layer = hp->n_layer;
	out->n_head = hp->n_head;
	out->n_head_kv = hp->n_head_kv;
	out->head_dim = hp->head_dim_k;
	out->n_expert = hp->n_expert;
	out->n_expert_used = hp->n_expert_used;
	out->n_ff_expert = hp->n_ff_exp;
	out->file_bytes = m->map_size;
	out->dense_bytes = m->w.dense_bytes;
	out->expert_bytes = m->w.expert_bytes;
	for (int p = 0; p < 3; p++)
		one += m->w.layers[0].exps[p].size / (uint64_t)hp->n_expert;
	out->expert_one_bytes = one;
}

void floe_model_plan(const floe_model *m, struct floe_plan *out)
{
	*out = m->plan;
}

int floe_plan_format(const struct floe_plan *p, char *buf, size_t len)
{
	char mem[64], dense[96];

	if (p->repacked_bytes)
		snprintf(dense, sizeof(dense), "%.1f MiB repacked in memory, the rest mmapped",
			 (double)p->repacked_bytes / 1048576.0);
	else
		snprintf(dense, sizeof(dense), "mmapped, resident");
	if (p->mem_bytes)
		snprintf(mem, sizeof(mem), "%.1f MiB", (double)p->mem_bytes / 1048576.0);
	else
		snprintf(mem, sizeof(mem), "unlimited");
	return snprintf(buf, len,
			"memory plan: budget %s\n"
			"  dense weights  %10.1f MiB  (%s)\n"
			"  kv cache       %10.1f MiB  (n_ctx %d)\n"
			"  scratch        %10.1f MiB  (n_batch %d, %d threads)\n"
			"  io staging     %10.1f MiB\n"
			"  fixed          %10.1f MiB\n"
			"  expert cache   %10.1f MiB  (%llu slots x %.1f KiB = %.1f%% of %llu experts%s)\n"
			"  smallest workable mem: %.1f MiB\n"
			"  io: %s\n"
			"  experts: policy %s, prefetch %s\n",
			mem, (double)p->dense_bytes / 1048576.0, dense, (double)p->kv_bytes / 1048576.0, p->n_ctx,
			(double)p->scratch_bytes / 1048576.0, p->n_batch, p->n_threads,
			(double)p->io_bytes / 1048576.0, (double)p->fixed_bytes / 1048576.0,
			(double)p->cache_bytes / 1048576.0, (unsigned long long)p->n_slots,
			(double)p->slot_bytes / 1024.0, 100.0 * p->cache_share,
			(unsigned long long)p->n_experts_total, p->all_resident ? ", all resident" : "",
			(double)p->min_mem_bytes / 1048576.0, p->io, p->policy,
			p->prefetch_oracle ? "oracle (the replayed trace)"
			: p->prefetch && p->all_resident ? "off (all resident)"
			: p->prefetch ? "next layer" : "off");
}

/* ---- sessions ------------------------------------------------------------- */

int floe_session_create(floe_model *m, floe_session **out)
{
	struct floe_session *s;
	uint64_t kv;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return floe_fail(&m->err, FLOE_ENOMEM, "out of memory for a session");
	s->m = m;
	s->n_ctx = m->params.n_ctx;
	s->kv_f16 = m->params.kv_f16;
	kv = floe_kv_bytes(&m->w, s->n_ctx, s->kv_f16) / 2;
	s->kv_k = floe_alloc_aligned(kv);
	s->kv_v = floe_alloc_aligned(kv);
	s->logits_cap = 1;
	s->logits = malloc(sizeof(float) * (size_t)m->w.hp.n_vocab);
	if (!s->kv_k || !s->kv_v || !s->logits) {
		floe_session_free(s);
		return floe_fail(&m->err, FLOE_ENOMEM, "out of memory for a session (kv %llu bytes)",
				 (unsigned long long)(2 * kv));
	}
	*out = s;
	return FLOE_OK;
}

void floe_session_free(floe_session *s)
{
	if (!s)
		return;
	floe_free_aligned(s->kv_k);
	floe_free_aligned(s->kv_v);
	free(s->logits);
	free(s);
}

const char *floe_session_error(const floe_session *s)
{
	return s ? s->err.msg : "";
}

int floe_session_pos(const floe_session *s)
{
	return s->pos;
}

int floe_session_n_vocab(const floe_session *s)
{
	return s->m->w.hp.n_vocab;
}

void floe_session_reset(floe_session *s)
{
	s->pos = 0;
	s->n_rows = 0;
}

int floe_session_truncate(floe_session *s, int pos)
{
	if (pos < 0 || pos > s->pos)
		return floe_fail(&s->err, FLOE_EARG, "truncate to %d: position must be in [0, %d]", pos, s->pos);
	s->pos = pos;
	s->n_rows = 0;
	return FLOE_OK;
}

const float *floe_session_logits(const floe_session *s, int i)
{
	const size_t V = (size_t)s->m->w.hp.n_vocab;

	if (s->n_rows == 0)
		return NULL;
	if (i == -1)
		return s->logits + (size_t)(s->n_rows - 1) * V;
	if (!s->all_logits || i < 0 || i >= s->n_rows)
		return NULL;
	return s->logits + (size_t)i * V;
}

static int grow_logits(struct floe_session *s, int n)
{
	float *p;

	if (n <= s->logits_cap)
		return FLOE_OK;
	p = realloc(s->logits, sizeof(float) * (size_t)n * (size_t)s->m->w.hp.n_vocab);
	if (!p)
		return floe_fail(&s->err, FLOE_ENOMEM, "out of memory for %d rows of logits", n);
	s->logits = p;
	s->logits_cap = n;
	return FLOE_OK;
}

/* After a chunk evaluated: its routing choices join the recorded trace and
 * the replay moves on. */
static int trace_commit(struct floe_model *m, int n, struct floe_err *err)
{
	const size_t per = (size_t)m->w.hp.n_layer * (size_t)m->w.hp.n_expert_used;

	if (m->replaying) {
		uint64_t before = m->replay_pos / m->replay.n_tokens;
		m->replay_pos += (uint64_t)n;
		if (m->replay_pos / m->replay.n_tokens != before)
			floe_info("floe: trace replay wrapped around after %llu tokens\n",
				  (unsigned long long)m->replay.n_tokens);
	}
	for (int t = 0; m->recording && t < n; t++) {
		int rc = floe_trace_append(&m->rec, m->rec_chunk + (size_t)t * per, err);
		if (rc)
			return floe_fail_prefix(err, "trace out: ");
	}
	return FLOE_OK;
}

/* The cache counters an eval moved, for the decode part of the stats. */
static void add_decode_stats(struct floe_model *m, const struct floe_cache_stats *c0)
{
	const struct floe_cache_stats *c = floe_cache_stats(m->cache);

	m->st.decode_requests += c->requests - c0->requests;
	m->st.decode_hits += c->hits - c0->hits;
	m->st.decode_bytes_read += c->bytes_read - c0->bytes_read;
	m->st.decode_read_wait_s += (double)(c->wait_ns - c0->wait_ns) * 1e-9;
}

int floe_session_eval(floe_session *s, const int32_t *tokens, int n, bool all_logits)
{
	struct floe_model *m = s->m;
	const int V = m->w.hp.n_vocab, B = m->params.n_batch;
	const struct floe_cache_stats c0 = *floe_cache_stats(m->cache);
	const uint64_t rec0 = m->rec.n_tokens, replay0 = m->replay_pos;
	const bool first = m->st.prompt_tokens + m->st.decode_tokens == 0;
	double t0 = floe_now_s(), dt;
	int rc;

	floe_err_clear(&s->err);
	if (!tokens || n <= 0)
		return floe_fail(&s->err, FLOE_EARG, "eval of %d tokens", n);
	for (int i = 0; i < n; i++)
		if (tokens[i] < 0 || tokens[i] >= V)
			return floe_fail(&s->err, FLOE_EARG, "token %d at index %d is out of range [0, %d)",
					 tokens[i], i, V);
	if (n > s->n_ctx - s->pos)
		return floe_fail(&s->err, FLOE_ECONTEXT,
				 "context full: %d tokens at position %d exceed n_ctx %d", n, s->pos, s->n_ctx);
	if (all_logits && (rc = grow_logits(s, n)))
		return rc;
	s->n_rows = 0;
	for (int c = 0; c < n; c += B) {
		int nb = n - c < B ? n - c : B;
		bool last = c + nb == n;
		float *out = all_logits ? s->logits + (size_t)c * V : (last ? s->logits : NULL);
		rc = floe_forward_chunk(s, tokens + c, nb, s->pos + c, all_logits, out, &s->err);
		if (!rc)
			rc = trace_commit(m, nb, &s->err);
		if (rc) {
			/* nothing of this eval happened: neither in the trace */
			m->rec.n_tokens = rec0;
			m->replay_pos = replay0;
			floe_fail_prefix(&s->err, "eval at position %d: ", s->pos + c);
			memcpy(&m->err, &s->err, sizeof(m->err));
			return rc;
		}
	}
	s->pos += n;
	s->n_rows = all_logits ? n : 1;
	s->all_logits = all_logits;
	s->last_eval_n = n;

	dt = floe_now_s() - t0;
	if (first)
		m->st.ttft_s = dt;
	if (n == 1) {
		m->st.decode_tokens++;
		m->st.decode_s += dt;
		add_decode_stats(m, &c0);
	} else {
		m->st.prompt_tokens += (uint64_t)n;
		m->st.prompt_s += dt;
	}
	m->st.trace_tokens += (m->recording || m->replaying) ? (uint64_t)n : 0;
	if (floe_cache_stats(m->cache)->bytes_read != c0.bytes_read)
		m->read_eval_s += dt;
	return FLOE_OK;
}

/* ---- stats ---------------------------------------------------------------- */

void floe_stats_get(const floe_model *m, struct floe_stats *out)
{
	const struct floe_cache_stats *cs = floe_cache_stats(m->cache);
	const struct floe_cache_stats *b = &m->cache_base;

	*out = m->st;
	out->expert_requests = cs->requests - b->requests;
	out->expert_hits = cs->hits - b->hits;
	out->expert_misses = cs->misses - b->misses;
	out->bytes_read = cs->bytes_read - b->bytes_read;
	out->reads = cs->reads - b->reads;
	out->read_wait_s = (double)(cs->wait_ns - b->wait_ns) * 1e-9;
	out->prefetches = cs->prefetches - b->prefetches;
	out->prefetch_useful = cs->prefetch_hits - b->prefetch_hits;
	out->evictions = cs->evictions - b->evictions;
	out->dup_reads = cs->dup_reads - b->dup_reads;
}

void floe_stats_reset(floe_model *m)
{
	memset(&m->st, 0, sizeof(m->st));
	m->cache_base = *floe_cache_stats(m->cache);
	m->read_eval_s = 0.0;
}

void floe_read_log(floe_model *m, struct floe_read_extent *log, size_t cap)
{
	floe_cache_log_reads(m->cache, log, cap);
}

size_t floe_read_log_count(const floe_model *m)
{
	return floe_cache_logged(m->cache);
}

int floe_stats_line(const floe_model *m, char *buf, size_t len)
{
	struct floe_stats st;
	uint64_t toks;

	int n;
	double eval_s;

	floe_stats_get(m, &st);
	toks = st.prompt_tokens + st.decode_tokens;
	eval_s = st.prompt_s + st.decode_s;
	n = snprintf(buf, len,
		     "floe stats: prompt %.2f tok/s | decode %.2f tok/s | expert hit %.1f%% | "
		     "read %.2f MB/token | disk %.2f GB/s | io wait %.0f%% | ttft %.2f s",
		     st.prompt_s > 0 ? (double)st.prompt_tokens / st.prompt_s : 0.0,
		     st.decode_s > 0 ? (double)st.decode_tokens / st.decode_s : 0.0,
		     st.expert_requests ? 100.0 * (double)st.expert_hits / (double)st.expert_requests : 0.0,
		     toks ? (double)st.bytes_read / 1e6 / (double)toks : 0.0,
		     m->read_eval_s > 0 ? (double)st.bytes_read / 1e9 / m->read_eval_s : 0.0,
		     eval_s > 0 ? 100.0 * st.read_wait_s / eval_s : 0.0, st.ttft_s);
	if (m->prefetch && n >= 0)
		n += snprintf((size_t)n < len ? buf + n : NULL, (size_t)n < len ? len - (size_t)n : 0,
			      " | prefetch %llu useful of %llu", (unsigned long long)st.prefetch_useful,
			      (unsigned long long)st.prefetches);
	return n;
}
