/* expert_cache: the expert index, the slot arena, pinning, eviction, stats.
 *
 * Everything is allocated in floe_cache_create: one aligned arena of
 * n_slots * slot_bytes, a slot table (each slot carries its three read
 * requests, so a miss allocates nothing), a direct map (layer, expert) ->
 * slot of n_layers * n_experts entries (a perfect hash: the key space is
 * small and dense, a few thousand entries), and one batch array for
 * submitting a request's misses together.
 *
 * A slot is FREE (on the free list), LOADING (its reads in flight), READY
 * (resident) or FAILED (a read failed; kept until its holders release it,
 * then freed).  pins counts the refs holding it.  Only a READY slot with no
 * pins is evictable: busy[slot] marks all the others for the policy, which is
 * how pinned and in-flight slots are never evicted.
 *
 * Eviction is the policy module's (evict.h, shared with the trace simulator
 * so what `floe bench --policies` measures is what runs here): the cache
 * reports every access (hit or fill) and every slot it empties, and asks it
 * for a victim when the free list is empty.  Time for the policy is the
 * request counter: a decode step makes one request per layer, so it advances
 * like the simulator's token * n_layers + layer. */
#include "experts/expert_cache.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/timer.h"
#include "quant/repack.h"

enum slot_state { SLOT_FREE = 0, SLOT_LOADING, SLOT_READY, SLOT_FAILED };

struct slot {
	int layer, expert; /* resident key, -1 when free */
	enum slot_state state;
	int pins;	  /* refs holding the slot */
	int pending;	  /* reads in flight */
	int failed_part;  /* first part whose read failed, -1 if none */
	bool unsubmitted; /* claimed by the current request, reads not yet submitted */
	bool prefetched;  /* filled by prefetch, not yet asked for */
	int next;	  /* free list */
	void *data[FLOE_EXPERT_PARTS];
	struct floe_io_req reqs[FLOE_EXPERT_PARTS];
};

struct floe_expert_cache {
	const struct floe_expert_index *idx; /* borrowed */
	struct floe_io *io;		     /* borrowed */
	struct floe_evict *policy;	     /* owned */
	uint8_t *busy;			     /* [n_slots]: not evictable (pinned, loading, failed, free) */
	uint64_t clock;			     /* requests so far: the policy's time */
	int n_slots;
	bool repack;		    /* params.repack */
	unsigned char *arena;	    /* n_slots * slot_bytes, FLOE_IO_ALIGN aligned */
	struct slot *slots;	    /* [n_slots] */
	int32_t *map;		    /* [n_layers * n_experts]: slot or -1 */
	uint32_t *read_chunk;	    /* [n_layers * n_experts]: chunk of the last read, 0 never */
	uint32_t chunk;		    /* current chunk number, from 1 */
	int free_head;		    /* free list through slot.next, -1 = empty */
	struct floe_io_req **batch; /* [n_slots * FLOE_EXPERT_PARTS] */
	struct floe_cache_stats stats;
	struct floe_read_extent *log; /* floe_cache_log_reads, NULL = off */
	size_t log_cap, log_n;
};

/* ---- Index ------------------------------------------------------------ */

static uint64_t align_down(uint64_t x)
{
	return x - x % FLOE_IO_ALIGN;
}

/* Bytes of the aligned superset of [off, off + bytes). */
static uint64_t superset_len(uint64_t off, uint64_t bytes)
{
	return floe_round_up(off + bytes, FLOE_IO_ALIGN) - align_down(off);
}

static int check_slice(const struct floe_expert_slice *s, int layer, int part, int n_experts,
		       uint64_t file_size, struct floe_err *err)
{
	uint64_t span, end;

	if (s->bytes == 0)
		return floe_fail(err, FLOE_EFORMAT, "expert index: layer %d part %d has 0 bytes", layer,
				 part);
	if (n_experts > 1 && s->stride < s->bytes)
		return floe_fail(err, FLOE_EFORMAT,
				 "expert index: layer %d part %d stride %llu < bytes %llu (experts overlap)",
				 layer, part, (unsigned long long)s->stride, (unsigned long long)s->bytes);
	if (!floe_mul_u64(s->stride, (uint64_t)(n_experts - 1), &span) ||
	    !floe_add_u64(span, s->bytes, &span) || !floe_add_u64(s->offset, span, &end) || end > file_size)
		return floe_fail(err, FLOE_EFORMAT,
				 "expert index: layer %d part %d (offset %llu, stride %llu, bytes %llu, "
				 "%d experts) ends past the end of the file (%llu bytes)",
				 layer, part, (unsigned long long)s->offset, (unsigned long long)s->stride,
				 (unsigned long long)s->bytes, n_experts, (unsigned long long)file_size);
	return FLOE_OK;
}

/* Bytes a slot needs for expert e of a layer: the three aligned supersets
 * back to back. */
static uint64_t expert_slot_bytes(const struct floe_expert_slice *parts, int e)
{
	uint64_t total = 0;

	for (int p = 0; p < FLOE_EXPERT_PARTS; p++)
		total += superset_len(parts[p].offset + (uint64_t)e * parts[p].stride, parts[p].bytes);
	return total;
}

int floe_expert_index_init(struct floe_expert_index *idx, int n_layers, int n_experts,
			   const struct floe_expert_slice *parts, uint64_t file_size, struct floe_err *err)
{
	size_t n_parts;
	uint64_t slot_bytes = 0;
	int st;

	memset(idx, 0, sizeof(*idx));
	if (n_layers < 1 || n_layers > (1 << 16) || n_experts < 1 || n_experts > (1 << 16))
		return floe_fail(err, FLOE_EFORMAT,
				 "expert index: %d layers x %d experts out of range [1, 65536]", n_layers,
				 n_experts);
	n_parts = (size_t)n_layers * FLOE_EXPERT_PARTS;
	for (int l = 0; l < n_layers; l++) {
		for (int p = 0; p < FLOE_EXPERT_PARTS; p++) {
			st = check_slice(&parts[l * FLOE_EXPERT_PARTS + p], l, p, n_experts, file_size, err);
			if (st < 0)
				return st;
		}
		for (int e = 0; e < n_experts; e++) {
			uint64_t b = expert_slot_bytes(&parts[l * FLOE_EXPERT_PARTS], e);
			if (b > slot_bytes)
				slot_bytes = b;
		}
	}
	idx->parts = malloc(n_parts * sizeof(*idx->parts));
	if (!idx->parts)
		return floe_fail(err, FLOE_ENOMEM, "out of memory for the expert index");
	memcpy(idx->parts, parts, n_parts * sizeof(*idx->parts));
	idx->n_layers = n_layers;
	idx->n_experts = n_experts;
	idx->slot_bytes = slot_bytes;
	return FLOE_OK;
}

void floe_expert_index_free(struct floe_expert_index *idx)
{
	if (!idx)
		return;
	free(idx->parts);
	memset(idx, 0, sizeof(*idx));
}

/* ---- Slots --------------------------------------------------------------- */

static int32_t *map_at(struct floe_expert_cache *c, int layer, int expert)
{
	return &c->map[(size_t)layer * (size_t)c->idx->n_experts + (size_t)expert];
}

/* Tell the policy whether the slot may be evicted now. */
static void slot_update_busy(struct floe_expert_cache *c, int s)
{
	const struct slot *sl = &c->slots[s];

	c->busy[s] = !(sl->state == SLOT_READY && sl->pins == 0);
}

static void free_push(struct floe_expert_cache *c, int s)
{
	struct slot *sl = &c->slots[s];

	sl->state = SLOT_FREE;
	sl->layer = sl->expert = -1;
	sl->next = c->free_head;
	c->free_head = s;
	c->busy[s] = 1;
	floe_evict_forget(c->policy, (uint32_t)s);
}

/* Forget a slot's key so new requests for that expert miss. */
static void slot_unmap(struct floe_expert_cache *c, int s)
{
	struct slot *sl = &c->slots[s];

	if (sl->layer >= 0 && *map_at(c, sl->layer, sl->expert) == s)
		*map_at(c, sl->layer, sl->expert) = -1;
}

static int reap_some(struct floe_expert_cache *c, struct floe_err *err);

/* Whether a slot nobody holds is still loading: it becomes evictable (or
 * free) once its reads land. */
static bool unpinned_in_flight(const struct floe_expert_cache *c)
{
	for (int s = 0; s < c->n_slots; s++)
		if (c->slots[s].state == SLOT_LOADING && c->slots[s].pins == 0)
			return true;
	return false;
}

/* A free slot, or the policy's victim evicted, into *out; FLOE_EBUDGET if
 * every slot is pinned.  Slots released while in flight are waited for if
 * may_wait, else FLOE_EBUDGET. */
static int slot_take(struct floe_expert_cache *c, int layer, bool may_wait, int *out, struct floe_err *err)
{
	int s;

	for (;;) {
		s = c->free_head;
		if (s >= 0) {
			c->free_head = c->slots[s].next;
			c->slots[s].next = -1;
			*out = s;
			return FLOE_OK;
		}
		s = floe_evict_victim(c->policy, (uint32_t)layer, c->clock, c->busy);
		if (s >= 0)
			break;
		if (!may_wait || !unpinned_in_flight(c))
			return FLOE_EBUDGET;
		int st = reap_some(c, err);
		if (st < 0)
			return st;
	}
	FLOE_ASSERT(c->slots[s].state == SLOT_READY && c->slots[s].pins == 0);
	slot_unmap(c, s);
	c->stats.evictions++;
	*out = s;
	return FLOE_OK;
}

/* Point the slot's three requests at the aligned supersets of expert
 * (layer, e)'s slices, back to back in the slot's buffer. */
static void slot_prepare(struct floe_expert_cache *c, int s, int layer, int e)
{
	const struct floe_expert_slice *parts = &c->idx->parts[layer * FLOE_EXPERT_PARTS];
	struct slot *sl = &c->slots[s];
	unsigned char *base = c->arena + (size_t)s * c->idx->slot_bytes;
	uint64_t cursor = 0;

	for (int p = 0; p < FLOE_EXPERT_PARTS; p++) {
		struct floe_io_req *r = &sl->reqs[p];
		uint64_t off = parts[p].offset + (uint64_t)e * parts[p].stride;

		r->offset = align_down(off);
		r->len = superset_len(off, parts[p].bytes);
		r->buf = base + cursor;
		r->user = (uint64_t)s * FLOE_EXPERT_PARTS + (uint64_t)p;
		r->result = FLOE_OK;
		r->fault = 0;
		r->low_prio = false;
		sl->data[p] = base + cursor + (off - r->offset);
		cursor += r->len;
	}
	uint32_t *rc = &c->read_chunk[(size_t)layer * (size_t)c->idx->n_experts + (size_t)e];
	if (*rc == c->chunk)
		c->stats.dup_reads++;
	*rc = c->chunk;
	sl->layer = layer;
	sl->expert = e;
	sl->state = SLOT_LOADING;
	sl->pins = 0;
	sl->pending = 0;
	sl->failed_part = -1;
	sl->unsubmitted = true;
	sl->prefetched = false;
	c->busy[s] = 1;
	*map_at(c, layer, e) = s;
	floe_evict_access(c->policy, (uint32_t)s, (uint32_t)layer, (uint32_t)e, c->clock);
}

static void slot_pin(struct floe_expert_cache *c, int s)
{
	c->slots[s].pins++;
	c->busy[s] = 1;
}

/* Drop one pin; the last one makes a resident slot evictable and frees a
 * failed one.  A slot still loading is handled when its reads land. */
static void slot_unpin(struct floe_expert_cache *c, int s)
{
	struct slot *sl = &c->slots[s];

	FLOE_ASSERT(sl->pins > 0);
	if (--sl->pins > 0)
		return;
	if (sl->state == SLOT_FAILED)
		free_push(c, s);
	else
		slot_update_busy(c, s);
}

/* One read of a slot landed. */
static void on_complete(struct floe_expert_cache *c, struct floe_io_req *req)
{
	int s = (int)(req->user / FLOE_EXPERT_PARTS), p = (int)(req->user % FLOE_EXPERT_PARTS);
	struct slot *sl = &c->slots[s];

	FLOE_ASSERT(s >= 0 && s < c->n_slots && sl->state == SLOT_LOADING && sl->pending > 0);
	if (req->result < 0 && sl->failed_part < 0)
		sl->failed_part = p;
	else if (req->result == FLOE_OK)
		c->stats.bytes_read += req->len;
	if (--sl->pending > 0)
		return;
	if (sl->failed_part >= 0) {
		/* Nobody may find this expert here any more; the slot goes
		 * back to the free list once its holders release it. */
		slot_unmap(c, s);
		sl->state = SLOT_FAILED;
		if (sl->pins == 0)
			free_push(c, s);
		return;
	}
	if (c->repack) {
		const struct floe_expert_slice *parts = &c->idx->parts[sl->layer * FLOE_EXPERT_PARTS];
		for (int i = 0; i < FLOE_EXPERT_PARTS; i++)
			if (floe_repack_supported(parts[i].type, parts[i].rows, parts[i].cols))
				floe_repack_rows(parts[i].type, sl->data[i], parts[i].rows, parts[i].cols);
	}
	sl->state = SLOT_READY;
	slot_update_busy(c, s);
}

/* Reap completed reads (blocking until at least min_done landed) and
 * account for what landed; returns how many. */
static int reap_n(struct floe_expert_cache *c, int min_done, struct floe_err *err)
{
	struct floe_io_req *done[64];
	uint64_t t0 = floe_now_ns();
	int n = floe_io_reap(c->io, done, 64, min_done, err);

	c->stats.wait_ns += floe_now_ns() - t0;
	if (n < 0)
		return n;
	if (n < min_done)
		return floe_fail(err, FLOE_EINTERNAL,
				 "expert cache: waiting for a read that the io backend does not have");
	for (int i = 0; i < n; i++)
		on_complete(c, done[i]);
	return n;
}

/* Block until at least one read completes. */
static int reap_some(struct floe_expert_cache *c, struct floe_err *err)
{
	int n = reap_n(c, 1, err);

	return n < 0 ? n : FLOE_OK;
}

/* Submit the gathered batch, noting each read's extent in the log if on. */
static int submit_batch(struct floe_expert_cache *c, int n_batch, struct floe_err *err)
{
	for (int i = 0; c->log && i < n_batch; i++, c->log_n++)
		if (c->log_n < c->log_cap)
			c->log[c->log_n] = (struct floe_read_extent){c->batch[i]->offset, c->batch[i]->len};
	return floe_io_submit(c->io, c->batch, n_batch, err);
}

/* ---- Public ---------------------------------------------------------------- */

int floe_cache_create(const struct floe_expert_index *idx, struct floe_io *io,
		      const struct floe_cache_params *params, struct floe_expert_cache **out,
		      struct floe_err *err)
{
	struct floe_expert_cache *c;
	uint64_t arena_bytes;
	size_t n_keys;
	int st;

	*out = NULL;
	if (!idx || !idx->parts || !io || !params)
		return floe_fail(err, FLOE_EARG, "expert cache: missing index, io or params");
	if (params->n_slots < 1 || params->n_slots > (1u << 24))
		return floe_fail(err, FLOE_EARG, "expert cache: %llu slots out of range [1, %u]",
				 (unsigned long long)params->n_slots, 1u << 24);
	if (!floe_mul_u64(params->n_slots, idx->slot_bytes, &arena_bytes) || arena_bytes > SIZE_MAX)
		return floe_fail(err, FLOE_EARG, "expert cache: %llu slots of %llu bytes overflow",
				 (unsigned long long)params->n_slots, (unsigned long long)idx->slot_bytes);
	c = calloc(1, sizeof(*c));
	if (!c)
		return floe_fail(err, FLOE_ENOMEM, "out of memory for the expert cache");
	c->idx = idx;
	c->io = io;
	c->n_slots = (int)params->n_slots;
	c->repack = params->repack;
	n_keys = (size_t)idx->n_layers * (size_t)idx->n_experts;
	c->arena = floe_alloc_aligned((size_t)arena_bytes);
	c->slots = calloc((size_t)c->n_slots, sizeof(*c->slots));
	c->map = malloc(n_keys * sizeof(*c->map));
	c->read_chunk = calloc(n_keys, sizeof(*c->read_chunk));
	c->chunk = 1;
	c->batch = malloc((size_t)c->n_slots * FLOE_EXPERT_PARTS * sizeof(*c->batch));
	c->busy = malloc((size_t)c->n_slots);
	if (!c->arena || !c->slots || !c->map || !c->read_chunk || !c->batch || !c->busy) {
		floe_cache_destroy(c);
		return floe_fail(err, FLOE_ENOMEM, "out of memory for an expert cache of %llu bytes",
				 (unsigned long long)arena_bytes);
	}
	st = floe_evict_create(params->policy, (uint32_t)c->n_slots, (uint32_t)idx->n_layers,
			       (uint32_t)idx->n_experts, &c->policy, err);
	if (st < 0) {
		floe_cache_destroy(c);
		return floe_fail_prefix(err, "expert cache: ");
	}
	for (size_t i = 0; i < n_keys; i++)
		c->map[i] = -1;
	c->free_head = -1;
	for (int s = c->n_slots - 1; s >= 0; s--)
		free_push(c, s);
	*out = c;
	return FLOE_OK;
}

void floe_cache_destroy(struct floe_expert_cache *c)
{
	if (!c)
		return;
	/* Reads in flight write into the arena: land them before freeing it. */
	for (int s = 0; c->slots && s < c->n_slots; s++) {
		while (c->slots[s].state == SLOT_LOADING && c->slots[s].pending > 0) {
			struct floe_err e = {0};
			if (reap_some(c, &e) < 0)
				break;
		}
	}
	floe_evict_destroy(c->policy);
	free(c->busy);
	free(c->batch);
	free(c->map);
	free(c->read_chunk);
	free(c->slots);
	floe_free_aligned(c->arena);
	free(c);
}

/* Undo the pinned refs among refs[0..n) of a request that cannot be
 * completed: unpin them, and give back the slots it claimed (no reads were
 * submitted yet). */
static void request_rollback(struct floe_expert_cache *c, struct floe_expert_ref *refs, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		int s = refs[i].slot;
		struct slot *sl;

		if (s < 0)
			continue;
		sl = &c->slots[s];
		refs[i].slot = -1;
		if (sl->unsubmitted) {
			if (--sl->pins == 0) {
				slot_unmap(c, s);
				sl->unsubmitted = false;
				free_push(c, s);
			}
			continue;
		}
		slot_unpin(c, s);
	}
}

/* The ref's expert is resident or in flight: pin it, never read twice. */
static void ref_hit(struct floe_expert_cache *c, struct floe_expert_ref *ref)
{
	int s = *map_at(c, ref->layer, ref->expert);

	floe_evict_access(c->policy, (uint32_t)s, (uint32_t)ref->layer, (uint32_t)ref->expert, c->clock);
	ref->slot = s;
	ref->hit = true;
	slot_pin(c, s);
	if (c->slots[s].prefetched) {
		c->slots[s].prefetched = false;
		c->stats.prefetch_hits++;
	}
	c->stats.hits++;
	c->stats.requests++;
}

static void ref_init(struct floe_expert_ref *ref, int layer, int expert)
{
	ref->layer = layer;
	ref->expert = expert;
	ref->slot = -1;
	ref->hit = false;
	for (int p = 0; p < FLOE_EXPERT_PARTS; p++)
		ref->data[p] = NULL;
}

int floe_cache_request(struct floe_expert_cache *c, int layer, const int *experts, int n,
		       struct floe_expert_ref *refs, struct floe_err *err)
{
	int n_batch = 0, n_claimed = 0, st;

	if (layer < 0 || layer >= c->idx->n_layers || n < 0)
		return floe_fail(err, FLOE_EARG, "expert cache: layer %d of %d (n %d) out of range", layer,
				 c->idx->n_layers, n);
	for (int i = 0; i < n; i++)
		if (experts[i] < 0 || experts[i] >= c->idx->n_experts)
			return floe_fail(err, FLOE_EARG, "expert cache: expert %d of %d out of range",
					 experts[i], c->idx->n_experts);
	c->clock++;
	/* Hits first, so a miss never evicts an expert this request uses. */
	for (int i = 0; i < n; i++) {
		ref_init(&refs[i], layer, experts[i]);
		if (*map_at(c, layer, experts[i]) >= 0)
			ref_hit(c, &refs[i]);
	}
	for (int i = 0; i < n; i++) {
		int s;
		if (refs[i].slot >= 0)
			continue;
		if (*map_at(c, layer, experts[i]) >= 0) {
			ref_hit(c, &refs[i]); /* claimed earlier in this loop */
			continue;
		}
		st = slot_take(c, layer, true, &s, err);
		if (st == FLOE_EBUDGET)
			floe_fail(err, st,
				  "expert cache: all %d slots are pinned; layer %d needs more "
				  "(expert %d, %d experts in this request)",
				  c->n_slots, layer, experts[i], n);
		if (st < 0) {
			request_rollback(c, refs, n);
			return st;
		}
		slot_prepare(c, s, layer, experts[i]);
		c->stats.misses++;
		c->stats.requests++;
		n_claimed++;
		refs[i].slot = s;
		slot_pin(c, s);
	}
	/* Gather the claimed slots' reads and submit them in one batch. */
	for (int i = 0; i < n && n_claimed > 0; i++) {
		struct slot *sl = &c->slots[refs[i].slot];
		if (!sl->unsubmitted)
			continue;
		sl->unsubmitted = false;
		sl->pending = FLOE_EXPERT_PARTS;
		for (int p = 0; p < FLOE_EXPERT_PARTS; p++)
			c->batch[n_batch++] = &sl->reqs[p];
	}
	if (n_batch == 0)
		return FLOE_OK;
	c->stats.reads += (uint64_t)n_batch;
	st = submit_batch(c, n_batch, err);
	if (st < 0) {
		/* The backend is broken; the claimed slots cannot load. */
		for (int i = 0; i < n_batch; i += FLOE_EXPERT_PARTS) {
			int s = (int)(c->batch[i]->user / FLOE_EXPERT_PARTS);
			c->slots[s].pending = 0;
			c->slots[s].unsubmitted = true;
		}
		request_rollback(c, refs, n);
		return st;
	}
	return FLOE_OK;
}

int floe_cache_prefetch(struct floe_expert_cache *c, int layer, const int *experts, int n,
			struct floe_err *err)
{
	int n_batch = 0, started = 0, st;

	if (layer < 0 || layer >= c->idx->n_layers || n < 0)
		return floe_fail(err, FLOE_EARG, "expert cache: prefetch layer %d of %d (n %d) out of range",
				 layer, c->idx->n_layers, n);
	for (int i = 0; i < n; i++) {
		struct slot *sl;
		int s;
		if (experts[i] < 0 || experts[i] >= c->idx->n_experts)
			return floe_fail(err, FLOE_EARG, "expert cache: prefetch of expert %d of %d",
					 experts[i], c->idx->n_experts);
		if (*map_at(c, layer, experts[i]) >= 0)
			continue; /* resident or in flight */
		if (slot_take(c, layer, false, &s, err) < 0)
			break; /* no spare slot: a guess never waits or fails */
		slot_prepare(c, s, layer, experts[i]);
		sl = &c->slots[s];
		sl->unsubmitted = false;
		sl->prefetched = true;
		sl->pending = FLOE_EXPERT_PARTS;
		for (int p = 0; p < FLOE_EXPERT_PARTS; p++) {
			sl->reqs[p].low_prio = true;
			c->batch[n_batch++] = &sl->reqs[p];
		}
		started++;
	}
	if (n_batch == 0)
		return 0;
	st = submit_batch(c, n_batch, err);
	if (st < 0) {
		for (int i = 0; i < n_batch; i += FLOE_EXPERT_PARTS) {
			int s = (int)(c->batch[i]->user / FLOE_EXPERT_PARTS);
			slot_unmap(c, s);
			free_push(c, s);
		}
		return st;
	}
	c->stats.reads += (uint64_t)n_batch;
	c->stats.prefetches += (uint64_t)started;
	return started;
}

/* After a slot stopped loading: fill the ref, or report the failed read. */
static int ref_finish(struct floe_expert_cache *c, struct floe_expert_ref *ref, struct floe_err *err)
{
	struct slot *sl = &c->slots[ref->slot];

	if (sl->state == SLOT_FAILED)
		return floe_io_req_error(c->io, &sl->reqs[sl->failed_part], err);
	FLOE_ASSERT(sl->state == SLOT_READY);
	for (int p = 0; p < FLOE_EXPERT_PARTS; p++)
		ref->data[p] = sl->data[p];
	return FLOE_OK;
}

int floe_cache_wait(struct floe_expert_cache *c, struct floe_expert_ref *ref, struct floe_err *err)
{
	if (ref->slot < 0 || ref->slot >= c->n_slots)
		return floe_fail(err, FLOE_EARG, "expert cache: wait on a released or failed ref");
	while (c->slots[ref->slot].state == SLOT_LOADING) {
		int st = reap_some(c, err);
		if (st < 0)
			return st;
	}
	return ref_finish(c, ref, err);
}

int floe_cache_wait_any(struct floe_expert_cache *c, struct floe_expert_ref *refs, bool *ready, int n,
			struct floe_err *err)
{
	for (;;) {
		bool waiting = false;

		for (int i = 0; i < n; i++) {
			int st;
			if (ready[i])
				continue;
			if (refs[i].slot < 0 || refs[i].slot >= c->n_slots)
				return floe_fail(err, FLOE_EARG, "expert cache: wait on a released ref %d",
						 i);
			if (c->slots[refs[i].slot].state == SLOT_LOADING) {
				waiting = true;
				continue;
			}
			ready[i] = true;
			st = ref_finish(c, &refs[i], err);
			return st < 0 ? st : i;
		}
		if (!waiting)
			return floe_fail(err, FLOE_EARG, "expert cache: wait_any with every ref ready");
		int st = reap_some(c, err);
		if (st < 0)
			return st;
	}
}

int floe_cache_poll(struct floe_expert_cache *c, struct floe_err *err)
{
	int n = reap_n(c, 0, err);

	return n < 0 ? n : FLOE_OK;
}

bool floe_cache_loading(const struct floe_expert_cache *c, const struct floe_expert_ref *refs, int n)
{
	for (int i = 0; i < n; i++)
		if (refs[i].slot >= 0 && refs[i].slot < c->n_slots && c->slots[refs[i].slot].state == SLOT_LOADING)
			return true;
	return false;
}

void floe_cache_release(struct floe_expert_cache *c, struct floe_expert_ref *refs, int n)
{
	for (int i = 0; i < n; i++) {
		if (refs[i].slot < 0)
			continue;
		slot_unpin(c, refs[i].slot);
		refs[i].slot = -1;
		for (int p = 0; p < FLOE_EXPERT_PARTS; p++)
			refs[i].data[p] = NULL;
	}
}

bool floe_cache_resident(const struct floe_expert_cache *c, int layer, int expert)
{
	int32_t s;

	if (layer < 0 || layer >= c->idx->n_layers || expert < 0 || expert >= c->idx->n_experts)
		return false;
	s = c->map[(size_t)layer * (size_t)c->idx->n_experts + (size_t)expert];
	return s >= 0 && c->slots[s].state == SLOT_READY;
}

const struct floe_cache_stats *floe_cache_stats(const struct floe_expert_cache *c)
{
	return &c->stats;
}

uint64_t floe_cache_slots(const struct floe_expert_cache *c)
{
	return (uint64_t)c->n_slots;
}

void floe_cache_next_chunk(struct floe_expert_cache *c)
{
	if (++c->chunk == 0) { /* after 2^32 chunks: forget, 0 means never */
		memset(c->read_chunk, 0, (size_t)c->idx->n_layers * (size_t)c->idx->n_experts * sizeof(uint32_t));
		c->chunk = 1;
	}
}

void floe_cache_log_reads(struct floe_expert_cache *c, struct floe_read_extent *log, size_t cap)
{
	c->log = cap ? log : NULL;
	c->log_cap = c->log ? cap : 0;
	c->log_n = 0;
}

size_t floe_cache_logged(const struct floe_expert_cache *c)
{
	return c->log_n;
}
