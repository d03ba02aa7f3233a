/* trace: routing traces — which experts each token chose in each layer.
 *
 * A trace drives the expert cache without the router (replay), so eviction
 * policies and prefetchers can be compared on realistic access patterns, and
 * floe can record the traces of real runs (--trace-out).
 *
 * File format (little-endian), "FLTRACE1":
 *   char[8] magic; uint32 n_layers, n_experts, k; uint32 reserved = 0;
 *   then records, one per (token, layer) in order: uint32 token; uint32 layer;
 *   uint16 experts[k].
 *
 * The synthetic generator follows the model of issue 5: per layer a Zipf(s)
 * popularity over a random permutation of the experts, a drifting working set
 * of M experts (each member replaced with probability d per token, by a Zipf
 * draw), and per token: keep each previous expert with probability r, fill the
 * rest from the working set with probability b, else from the Zipf.  It also
 * keeps what it knew when it drew each token (struct floe_trace_hidden), so
 * the simulator can measure a policy that knows the generator (evict.h). */
#ifndef FLOE_EXPERTS_TRACE_H
#define FLOE_EXPERTS_TRACE_H

#include <stdint.h>
#include <stdio.h>

#include "base/status.h"

/* The synthetic generator's state behind each token, everything but its
 * random draws: with it, the chance that each expert is drawn next is known.
 * A fill draw picks a working-set member w.p. ws_b / ws_m per copy in the
 * set, else expert e w.p. zipf[l][e]; previous experts are kept w.p. keep_r. */
struct floe_trace_hidden {
	uint32_t ws_m;
	double ws_b, keep_r;
	double *zipf;        /* [n_layers][n_experts]: (1 - ws_b) * Zipf probability, owned */
	uint16_t *ws;        /* [n_tokens][n_layers][ws_m]: working set after that token's drift, owned */
};

struct floe_trace {
	uint32_t n_layers, n_experts, k;
	uint64_t n_tokens;   /* records = n_tokens * n_layers */
	uint16_t *experts;   /* [n_tokens][n_layers][k], owned */
	uint64_t cap_tokens; /* allocated tokens */
	struct floe_trace_hidden *hidden; /* synthetic traces only (else NULL), owned; never saved */
};

struct floe_trace_synth {
	uint32_t n_layers, n_experts, k;
	uint64_t n_tokens;
	double zipf_s;      /* popularity skew s */
	double keep_r;      /* probability to keep each previous expert */
	double ws_b;        /* probability to draw from the working set */
	uint32_t ws_m;      /* working-set size M */
	double drift_d;     /* per-token replacement probability of a member */
	uint64_t seed;
};

int floe_trace_init(struct floe_trace *t, uint32_t n_layers, uint32_t n_experts, uint32_t k,
		    struct floe_err *err);
/* Append one token's choices for every layer: experts[n_layers][k]. */
int floe_trace_append(struct floe_trace *t, const uint16_t *experts, struct floe_err *err);
void floe_trace_free(struct floe_trace *t);
static inline const uint16_t *floe_trace_at(const struct floe_trace *t, uint64_t token, uint32_t layer)
{
	return t->experts + (token * t->n_layers + layer) * t->k;
}

int floe_trace_save(const struct floe_trace *t, const char *path, struct floe_err *err);
int floe_trace_load(const char *path, struct floe_trace *t, struct floe_err *err);

int floe_trace_synthesize(const struct floe_trace_synth *p, struct floe_trace *out, struct floe_err *err);

/* Share of (token, layer) expert choices also chosen by the previous token in
 * the same layer: the consecutive-token overlap. */
double floe_trace_overlap(const struct floe_trace *t);

#endif
