/* floe.h: the one public header of floe, an inference engine for
 * Mixture-of-Experts models larger than the memory it is given.
 *
 * Two opaque handles:
 *   floe_model    an opened GGUF model: resident dense weights (mmap), the
 *                 expert cache and its I/O backend, the thread pool, and the
 *                 scratch buffers every evaluation uses.
 *   floe_session  one conversation on a model: KV cache, position, logits.
 *
 * Typical use (error handling elided):
 *
 *	struct floe_params p = floe_params_default();
 *	p.path = "model.gguf";
 *	p.mem_bytes = 8ull << 30;
 *	floe_model *m;
 *	char err[512];
 *	if (floe_model_open(&p, &m, err, sizeof err)) { puts(err); ... }
 *	floe_session *s;
 *	floe_session_create(m, &s);
 *	floe_session_eval(s, prompt, n_prompt, false);
 *	const float *logits = floe_session_logits(s, -1);   // n_vocab floats
 *	... sample, floe_session_eval(s, &tok, 1, false) ...
 *	char line[256];
 *	floe_stats_line(m, line, sizeof line);               // for stderr
 *	floe_session_free(s);
 *	floe_model_close(m);
 *
 * Errors: every function that can fail returns an int status, FLOE_OK (0) or
 * a negative FLOE_E* code.  floe_model_open writes a message into the
 * caller's buffer; afterwards floe_model_error / floe_session_error return the
 * message of the last failure on that handle (valid until the next call on it).
 * A failed eval leaves the session at its position before the call (the KV
 * rows it may have written are beyond the position and are overwritten later).
 *
 * Threads: a model and its sessions are used by one thread at a time (floe
 * uses its own worker threads inside calls).  Several sessions may share one
 * model but must not run concurrently: they share the model's scratch
 * buffers and expert cache.
 *
 * Ownership: handles are owned by the caller and freed with the matching
 * close/free; every session must be freed before its model is closed.
 * Pointers returned by floe (logits, info strings, error messages) are
 * borrowed: they live as long as the handle, logits until the next eval,
 * reset or truncate on that session.
 *
 * Untrusted input: model files are untrusted; every offset, size and shape is
 * validated before use and a bad file gives FLOE_EFORMAT with a message. */
#ifndef FLOE_H
#define FLOE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum floe_status {
	FLOE_OK = 0,
	FLOE_EARG = -1,         /* invalid argument from the caller */
	FLOE_EIO = -2,          /* a read or open failed, or came back short */
	FLOE_EFORMAT = -3,      /* corrupt, truncated or hostile file */
	FLOE_EUNSUPPORTED = -4, /* valid but not supported: architecture, type */
	FLOE_ENOMEM = -5,       /* allocation failed */
	FLOE_EBUDGET = -6,      /* --mem too small for the fixed part */
	FLOE_ECONTEXT = -7,     /* context window full */
	FLOE_EINTERNAL = -8,    /* bug in floe */
};

/* Short name of a status ("io error", ...); never NULL. */
const char *floe_status_str(int status);

typedef struct floe_model floe_model;
typedef struct floe_session floe_session;

/* I/O backend for expert reads (same numbers as the experts module). */
enum floe_io_backend {
	FLOE_IO_BACKEND_AUTO = 0,  /* io_uring when it works here, else pread */
	FLOE_IO_BACKEND_URING = 1,
	FLOE_IO_BACKEND_PREAD = 2,
};

/* Expert cache eviction policy (evict.h's policies, numbered from 1 so that
 * 0 is "the default"). */
enum floe_cache_policy {
	FLOE_CACHE_POLICY_DEFAULT = 0, /* FLOE_CACHE_LAYER_LRFU */
	FLOE_CACHE_LRU = 1,            /* global least recently used: the baseline */
	FLOE_CACHE_LAYER_LRFU = 2,     /* equal per-layer budget, decayed frequency inside */
};

/* Name of a policy ("layer-lrfu", ...; the default's real name), or "?". */
const char *floe_cache_policy_name(int policy);
/* Parse "lru", "layer-lrfu"; -1 if unknown. */
int floe_cache_policy_parse(const char *name);

/* Prefetch of the next layer's experts during decode. */
enum floe_prefetch {
	FLOE_PREFETCH_DEFAULT = 0, /* FLOE_PREFETCH_ON (measured: docs/perf.md) */
	FLOE_PREFETCH_OFF = 1,
	FLOE_PREFETCH_ON = 2,      /* once layer L's reads landed, guess layer L+1 with its
				    * router on the hidden state so far; read into spare slots */
	FLOE_PREFETCH_ORACLE = 3,  /* benchmarks, with trace_replay only: prefetch the
				    * trace's own next-layer experts (a perfect guess: the
				    * upper bound of what any guess can gain) */
};

/* Everything floe_model_open needs.  Start from floe_params_default() and
 * set what you need; 0 means "the default" for every numeric field. */
struct floe_params {
	const char *path;        /* GGUF file (borrowed during open only) */
	uint64_t mem_bytes;      /* memory budget; 0 = unlimited (all experts cached) */
	int n_ctx;               /* context length; 0 = min(model's, 4096) */
	int n_batch;             /* prompt chunk in tokens; 0 = 64 */
	int n_threads;           /* compute threads; 0 = online CPUs */
	int io_backend;          /* enum floe_io_backend */
	int io_queue_depth;      /* 0 = backend default */
	bool io_buffered;        /* read experts through the page cache (no O_DIRECT) */
	bool kv_f16;             /* f16 KV cache (half the bytes; logits move ~1e-3) */
	bool force_ref_kernels;  /* scalar reference kernels instead of SIMD */
	int log_level;           /* 0 errors, 1 info (default), 2 debug; -1 = leave as is */
	int cache_policy;        /* enum floe_cache_policy */
	int prefetch;            /* enum floe_prefetch */
	int prefetch_k;          /* guesses prefetched per layer, the most probable first;
				  * 0 = min(4, n_expert_used) */
	/* Routing traces (src/experts/trace.h format; paths borrowed during open
	 * only).  trace_out: record the experts every evaluated token chose in
	 * every layer; saved by floe_model_trace_save and at close.
	 * trace_replay: the MoE block takes each token's experts from this trace
	 * (a token counter over all evals, wrapping at the end) instead of the
	 * router's top-k, weighted by the router's probabilities renormalised
	 * over them; the trace's layers, experts and k must match the model. */
	const char *trace_out;
	const char *trace_replay;
	/* Testing only: make the io_fault_at-th expert read (1-based) fail
	 * (1 = EIO), come back short (2) or be interrupted (3); 0 = off. */
	int io_fault;
	uint64_t io_fault_at;
};

struct floe_params floe_params_default(void);

/* Open params->path, bind every tensor (shape and type checked), plan memory,
 * mmap the dense weights, open the expert I/O backend and create the expert
 * cache.  On success *out is owned by the caller (floe_model_close).  On
 * failure returns a negative status, *out = NULL, and errbuf (if errlen > 0)
 * holds a message: FLOE_EUNSUPPORTED names the architecture or tensor type,
 * FLOE_EFORMAT the tensor/key with expected vs actual, FLOE_EBUDGET gives the
 * smallest workable mem_bytes ("... need at least N bytes (X MiB)"). */
int floe_model_open(const struct floe_params *params, floe_model **out, char *errbuf,
		    size_t errlen);
void floe_model_close(floe_model *m);

/* Message of the last failure on m ("" if none); borrowed. */
const char *floe_model_error(const floe_model *m);

struct floe_model_info {
	const char *arch;        /* "qwen3moe", ... (borrowed, lives with the model) */
	const char *name;        /* general.name or "" */
	const char *kernels;     /* kernel table in use: "ref", "avx2" */
	int n_vocab;
	int n_ctx_train;
	int n_embd;
	int n_layer;
	int n_head, n_head_kv, head_dim;
	int n_expert, n_expert_used, n_ff_expert;
	uint64_t file_bytes;
	uint64_t dense_bytes;    /* every non-routed-expert tensor (resident) */
	uint64_t expert_bytes;   /* all routed experts of all layers */
	uint64_t expert_one_bytes; /* one expert (gate+up+down) of one layer, file bytes */
};
void floe_model_info(const floe_model *m, struct floe_model_info *out);

/* Save the routing trace recorded so far (params.trace_out) to path, or to
 * trace_out when path is NULL.  FLOE_EARG if nothing is being recorded,
 * FLOE_EIO if the file cannot be written (floe_model_error says why).
 * floe_model_close saves it too if anything was recorded since. */
int floe_model_trace_save(floe_model *m, const char *path);

/* The memory plan made at open.  All sizes in bytes. */
struct floe_plan {
	uint64_t mem_bytes;      /* the budget asked for (0 = unlimited) */
	uint64_t dense_bytes;    /* resident weights (mmapped, counted) */
	uint64_t repacked_bytes; /* of those, copied into memory in the kernels' layout (all resident) */
	uint64_t kv_bytes;       /* one session's KV cache for n_ctx */
	uint64_t scratch_bytes;  /* activations, logits, routing buffers */
	uint64_t io_bytes;       /* I/O staging outside the slots (0 today) */
	uint64_t fixed_bytes;    /* sum of the four above */
	uint64_t slot_bytes;     /* one cache slot: one expert's aligned parts */
	uint64_t n_slots;        /* expert cache slots */
	uint64_t cache_bytes;    /* n_slots * slot_bytes */
	uint64_t n_experts_total; /* n_layer * n_expert */
	double cache_share;      /* n_slots / n_experts_total, <= 1 */
	bool all_resident;       /* every expert fits: only first touches read */
	uint64_t min_mem_bytes;  /* smallest workable budget */
	int n_ctx, n_batch, n_threads;
	char io[96];             /* "io_uring, O_DIRECT, depth 16" */
	char policy[16];         /* eviction policy: "layer-lrfu", ... */
	bool prefetch;           /* next-layer prefetch on */
	bool prefetch_oracle;    /* ... from the replayed trace (FLOE_PREFETCH_ORACLE) */
};
void floe_model_plan(const floe_model *m, struct floe_plan *out);
/* Multi-line human-readable plan (each line ends with '\n'); returns the
 * length snprintf would have written. */
int floe_plan_format(const struct floe_plan *p, char *buf, size_t len);

/* The GGUF handle the model was opened from (a struct floe_gguf from
 * src/gguf/gguf.h), for the tokenizer and chat template; borrowed, lives as
 * long as the model. */
struct floe_gguf;
const struct floe_gguf *floe_model_gguf(const floe_model *m);

/* Sessions.  floe_session_create allocates the KV cache (n_ctx rows) and the
 * logits buffer; *out owned by the caller (floe_session_free).  On failure
 * (FLOE_ENOMEM) floe_model_error(m) says why. */
int floe_session_create(floe_model *m, floe_session **out);
void floe_session_free(floe_session *s);
const char *floe_session_error(const floe_session *s);

/* Evaluate n tokens at the current position (appending them to the KV cache,
 * in chunks of n_batch).  all_logits: keep the logits of every one of the n
 * rows; otherwise only the last row's.  Errors: FLOE_EARG (token id out of
 * range, n <= 0), FLOE_ECONTEXT (pos + n > n_ctx, nothing evaluated),
 * FLOE_EIO (an expert read failed; message names file and offset). */
int floe_session_eval(floe_session *s, const int32_t *tokens, int n, bool all_logits);

/* n_vocab logits of row i of the last eval (0 <= i < n, when all_logits),
 * or of its last row for i = -1.  NULL if that row was not kept. */
const float *floe_session_logits(const floe_session *s, int i);
int floe_session_n_vocab(const floe_session *s);

int floe_session_pos(const floe_session *s);
void floe_session_reset(floe_session *s);
/* Forget everything from position pos on (0 <= pos <= current); for reusing
 * a common prefix of the KV cache.  FLOE_EARG if pos is out of range. */
int floe_session_truncate(floe_session *s, int pos);

/* Counters since open (or the last floe_stats_reset), over every session. */
struct floe_stats {
	uint64_t prompt_tokens;  /* tokens of evals with n > 1 */
	double prompt_s;
	uint64_t decode_tokens;  /* evals of exactly 1 token */
	double decode_s;
	uint64_t expert_requests, expert_hits, expert_misses;
	uint64_t bytes_read;     /* expert bytes read from the file */
	uint64_t reads;          /* read requests */
	double read_wait_s;      /* time the engine was blocked on reads */
	double ttft_s;           /* the first eval since open/reset: prompt to first logits */
	/* The decode part (evals of 1 token) of the expert counters above. */
	uint64_t decode_requests, decode_hits, decode_bytes_read;
	double decode_read_wait_s;
	/* Prefetch: experts whose reads it started, and of those, asked for by
	 * the layer they were guessed for (useful) before being evicted. */
	uint64_t prefetches, prefetch_useful;
	uint64_t evictions;
	/* Experts read a second time within one forward chunk (a prompt is
	 * evaluated in chunks of n_batch tokens); floe's prefill reads each
	 * needed expert once per chunk, so this is 0 unless that breaks. */
	uint64_t dup_reads;
	uint64_t trace_tokens;   /* tokens recorded (trace_out) or replayed (trace_replay) */
};
void floe_stats_get(const floe_model *m, struct floe_stats *out);
void floe_stats_reset(floe_model *m);

/* Where and how much one expert read asked of the model file. */
struct floe_read_extent {
	uint64_t offset, len;
};
/* Record every expert read submitted from now on (demand and prefetch, in
 * submission order) into the caller's log[0..cap); cap 0 or NULL stops.
 * `floe bench` replays a decode's own reads back to back to learn the
 * disk's ceiling for exactly those bytes.  Returns how many reads were
 * submitted since the log started (more than cap means the log is short). */
void floe_read_log(floe_model *m, struct floe_read_extent *log, size_t cap);
size_t floe_read_log_count(const floe_model *m);

/* The one greppable line:
 * "floe stats: prompt X tok/s | decode Y tok/s | expert hit Z% | read W MB/token | disk V GB/s
 *  | io wait U% | ttft T s"
 * where W = bytes read / (prompt + decode tokens), V = bytes read / seconds
 * spent in evals that read (the streaming rate achieved, not the device peak)
 * and U = time blocked on reads / eval time; with prefetch on it ends
 * " | prefetch P useful of N".
 * Returns the length snprintf would have written. */
int floe_stats_line(const floe_model *m, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
