/* expert_cache: the heart of floe.  Holds routed experts in a fixed arena of
 * equal-size slots, filled from the model file on demand through an io
 * backend, with pinning and a pluggable eviction policy.
 *
 * An expert is (layer, expert id): three slices (gate, up, down) of the
 * stacked GGUF tensors ffn_{gate,up,down}_exps.  The expert index (built from
 * the tensor table by the engine, or by hand in tests) gives each slice's file
 * offset and length; a slot holds the 4096-aligned supersets of the three
 * slices, so one expert = three O_DIRECT reads into one slot.
 *
 * Use per layer:
 *   floe_cache_request(layer, ids, n, refs)  hits are pinned at once; misses
 *                                             get a free (evicted) slot, are
 *                                             pinned and their reads submitted
 *                                             together
 *   floe_cache_wait(ref) / floe_cache_wait_any  block until resident; the ref
 *                                             then points at gate/up/down data
 *   floe_cache_release(refs, n)               unpin
 * A pinned or in-flight slot is never evicted.  A hit on an expert whose
 * reads are still in flight pins it too (never read twice).  A miss takes a
 * free slot, else the policy's victim (evict.h); slots released while still
 * loading are waited for.  If every slot is pinned, request fails with
 * FLOE_EBUDGET and pins nothing (the plan guarantees enough slots for one
 * layer's experts, so this is a bug or a too-small manual setting).  The
 * request allocates nothing.
 * After a failed read the expert is forgotten (a new request reads it again),
 * wait returns FLOE_EIO with the path, offset and errno, and the slot returns
 * to the free list when its refs are released.  Release every requested ref,
 * failed or not.
 *
 * Not thread-safe: one thread drives the cache (compute threads only read the
 * pinned data).  The io handle is the cache's alone while the cache lives. */
#ifndef FLOE_EXPERTS_EXPERT_CACHE_H
#define FLOE_EXPERTS_EXPERT_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "floe.h"

#include "base/status.h"
#include "experts/evict.h"
#include "experts/io.h"

enum floe_expert_part {
	FLOE_EXPERT_GATE = 0,
	FLOE_EXPERT_UP = 1,
	FLOE_EXPERT_DOWN = 2,
	FLOE_EXPERT_PARTS = 3
};

/* Where one part of every expert of one layer lives: expert e's bytes are
 * [offset + e * stride, offset + e * stride + bytes). */
struct floe_expert_slice {
	uint64_t offset;
	uint64_t stride;
	uint64_t bytes;
	uint32_t type; /* weight type (ggml id) */
	int64_t rows;  /* output rows of this part's matrix */
	int64_t cols;  /* input length */
};

struct floe_expert_index {
	int n_layers;
	int n_experts;
	struct floe_expert_slice *parts; /* [n_layers][FLOE_EXPERT_PARTS], owned */
	uint64_t slot_bytes;		 /* bytes one slot needs (aligned supersets, max over layers) */
};

/* Build an index from per-layer slices (caller's array is copied).  Validates
 * that every slice lies inside file_size. */
int floe_expert_index_init(struct floe_expert_index *idx, int n_layers, int n_experts,
			   const struct floe_expert_slice *parts, uint64_t file_size, struct floe_err *err);
void floe_expert_index_free(struct floe_expert_index *idx);

/* Eviction policies are evict.h's (enum floe_policy: lru, layer-lrfu);
 * FLOE_EVICT_LRU is this module's default, kept under its first name (the
 * engine picks layer-lrfu). */
#define FLOE_EVICT_LRU FLOE_POLICY_LRU

struct floe_expert_ref {
	int layer, expert;
	int slot;			     /* private */
	const void *data[FLOE_EXPERT_PARTS]; /* valid after wait, until release */
	bool hit;			     /* was resident (or in flight) at request */
};

struct floe_cache_stats {
	uint64_t requests; /* experts asked for */
	uint64_t hits;
	uint64_t misses;
	uint64_t bytes_read; /* bytes read from disk (aligned supersets) */
	uint64_t reads;	     /* read requests */
	uint64_t wait_ns;    /* time spent blocked waiting for reads */
	uint64_t evictions;
	uint64_t prefetches;	/* experts whose reads prefetch started */
	uint64_t prefetch_hits; /* of those, asked for by a request before eviction */
	/* Experts read again within one chunk (floe_cache_next_chunk): the
	 * prefill promise is that this stays 0. */
	uint64_t dup_reads;
};

struct floe_cache_params {
	uint64_t n_slots;
	enum floe_policy policy; /* FLOE_POLICY_LRU (0) unless chosen */
	/* Rearrange every part whose type and shape floe_repack_supported
	 * (quant/repack.h) takes into the repacked layout as it lands, before
	 * anyone sees it: refs then point at repacked rows. */
	bool repack;
};

struct floe_expert_cache;

/* Create a cache of params->n_slots slots (allocated up front, aligned) over
 * idx (borrowed; must outlive the cache) reading through io (borrowed; close
 * it after floe_cache_destroy, which first lands any reads in flight). */
int floe_cache_create(const struct floe_expert_index *idx, struct floe_io *io,
		      const struct floe_cache_params *params, struct floe_expert_cache **out,
		      struct floe_err *err);
void floe_cache_destroy(struct floe_expert_cache *c);

/* Pin experts[0..n) of layer into refs[0..n) (n refs, caller's memory),
 * starting the reads of the misses.  All or nothing: on failure no ref is
 * pinned.  An id may appear twice (pinned twice). */
int floe_cache_request(struct floe_expert_cache *c, int layer, const int *experts, int n,
		       struct floe_expert_ref *refs, struct floe_err *err);
/* Start reading experts[0..n) of layer that are neither resident nor in
 * flight into spare slots (free, or the policy's victims), unpinned and
 * queued behind demand reads; for guesses about a coming layer.  Never waits
 * and never fails for lack of slots: it stops at the first expert without
 * one.  Returns how many experts it started (>= 0) or a negative status.  A
 * request that hits an expert still being prefetched waits for it at its
 * low priority; a request that needs the slot of an unused prefetch may
 * evict it once it has landed. */
int floe_cache_prefetch(struct floe_expert_cache *c, int layer, const int *experts, int n,
			struct floe_err *err);
/* Block until ref's expert is resident; then ref->data[] is valid.  A failed
 * read returns FLOE_EIO (message: path, offset, length, errno), every time
 * it is asked. */
int floe_cache_wait(struct floe_expert_cache *c, struct floe_expert_ref *ref, struct floe_err *err);
/* Wait until any of refs[0..n) not yet marked ready is resident; returns its
 * index (>= 0), or a negative status. ready[] is updated by the call (a ref
 * whose read failed is marked ready too, and its error returned). */
int floe_cache_wait_any(struct floe_expert_cache *c, struct floe_expert_ref *refs, bool *ready, int n,
			struct floe_err *err);
/* Account for every read that has completed, without waiting: experts
 * whose reads all landed become resident.  Cheap (no system call with
 * io_uring); lets a caller notice between two pieces of compute that the
 * disk has run out of work.  FLOE_OK or a negative status (the backend is
 * broken; a failed read is reported by wait, not here). */
int floe_cache_poll(struct floe_expert_cache *c, struct floe_err *err);
/* Whether any of refs[0..n) is still loading (as of the last reap or poll). */
bool floe_cache_loading(const struct floe_expert_cache *c, const struct floe_expert_ref *refs, int n);
/* Unpin refs[0..n) (each once; released refs are skipped). */
void floe_cache_release(struct floe_expert_cache *c, struct floe_expert_ref *refs, int n);

/* Whether (layer, expert) is resident now (not in flight), without touching
 * the eviction order. */
bool floe_cache_resident(const struct floe_expert_cache *c, int layer, int expert);

const struct floe_cache_stats *floe_cache_stats(const struct floe_expert_cache *c);

/* Start a new chunk of tokens (one forward pass): an expert read twice
 * between two calls counts in stats.dup_reads. */
void floe_cache_next_chunk(struct floe_expert_cache *c);
uint64_t floe_cache_slots(const struct floe_expert_cache *c);

/* Record the file extent of every read submitted from now on into
 * log[0..cap) (engine's floe_read_log); count keeps going past cap. */
void floe_cache_log_reads(struct floe_expert_cache *c, struct floe_read_extent *log, size_t cap);
size_t floe_cache_logged(const struct floe_expert_cache *c);

#endif
