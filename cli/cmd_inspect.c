/* floe inspect: what a GGUF file holds and what it needs to run, from its
 * metadata alone (the tensor data is never read, so a 200 GB file inspects
 * instantly).
 *
 * Routed experts are recognised by name (`*_exps.*`, the stacked per-expert
 * tensors every llama.cpp MoE architecture uses), so the dense/expert split
 * works for architectures floe cannot run yet too.  The smallest --mem is
 * the fixed part (dense weights + KV cache for --ctx + scratch) plus one
 * layer's worth of expert slots; see docs/engine.md for the plan. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "gguf/gguf.h"
#include "quant/quant.h"

struct layer_experts {
	uint64_t bytes;  /* all routed-expert bytes of the layer */
	uint64_t slot;   /* one expert's bytes, each part rounded out to 4096 */
};

struct summary {
	char arch[64];
	uint64_t n_layer, n_embd, n_head, n_head_kv, head_dim_k, head_dim_v, n_expert, n_expert_used,
		n_ff_exp, n_ctx_train, n_vocab;
	uint64_t dense_bytes, expert_bytes, max_expert_one, max_slot;
	uint64_t tensors_per_type[FLOE_TYPE_COUNT];
	int n_expert_layers;
};

static uint64_t kv_u64(const struct floe_gguf *g, const char *arch, const char *suffix)
{
	char key[160];
	uint64_t v = 0;
	snprintf(key, sizeof(key), "%s.%s", arch, suffix);
	if (floe_gguf_get_u64(g, key, &v, NULL) != FLOE_OK)
		v = 0;
	return v;
}

static bool is_expert_tensor(const char *name) { return strstr(name, "_exps.") != NULL; }

/* Layer number of "blk.N.*", or -1. */
static long layer_of(const char *name)
{
	char *end;
	long l;
	if (strncmp(name, "blk.", 4))
		return -1;
	l = strtol(name + 4, &end, 10);
	return (end != name + 4 && *end == '.') ? l : -1;
}

static void summarize(const struct floe_gguf *g, struct summary *s)
{
	struct floe_gguf_str a;
	struct layer_experts *le = NULL;
	uint64_t n_layers_alloc;
	const void *arr;
	uint64_t n;

	memset(s, 0, sizeof(*s));
	if (floe_gguf_get_str(g, "general.architecture", &a, NULL) == FLOE_OK)
		snprintf(s->arch, sizeof(s->arch), "%s", a.s);
	else
		snprintf(s->arch, sizeof(s->arch), "?");
	s->n_layer = kv_u64(g, s->arch, "block_count");
	s->n_embd = kv_u64(g, s->arch, "embedding_length");
	s->n_head = kv_u64(g, s->arch, "attention.head_count");
	s->n_head_kv = kv_u64(g, s->arch, "attention.head_count_kv");
	s->head_dim_k = kv_u64(g, s->arch, "attention.key_length");
	s->head_dim_v = kv_u64(g, s->arch, "attention.value_length");
	if (!s->head_dim_k && s->n_head)
		s->head_dim_k = s->head_dim_v = s->n_embd / s->n_head;
	if (!s->n_head_kv)
		s->n_head_kv = s->n_head;
	s->n_expert = kv_u64(g, s->arch, "expert_count");
	s->n_expert_used = kv_u64(g, s->arch, "expert_used_count");
	s->n_ff_exp = kv_u64(g, s->arch, "expert_feed_forward_length");
	s->n_ctx_train = kv_u64(g, s->arch, "context_length");
	if (floe_gguf_get_arr(g, "tokenizer.ggml.tokens", FLOE_GGUF_STRING, &arr, &n, NULL) == FLOE_OK)
		s->n_vocab = n;

	n_layers_alloc = s->n_layer ? s->n_layer : 1;
	le = calloc(n_layers_alloc, sizeof(*le));
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const struct floe_gguf_tensor *t = &g->tensors[i];
		long l = layer_of(t->name.s);
		if (t->type < FLOE_TYPE_COUNT)
			s->tensors_per_type[t->type]++;
		if (!is_expert_tensor(t->name.s)) {
			s->dense_bytes += t->size;
			continue;
		}
		s->expert_bytes += t->size;
		if (le && l >= 0 && (uint64_t)l < n_layers_alloc && t->n_dims == 3 && t->ne[2]) {
			uint64_t one = t->size / t->ne[2];
			le[l].bytes += one;
			/* an expert slice can straddle 4096-byte pages on both ends */
			le[l].slot += (one + 4095) / 4096 * 4096 + 4096;
		}
	}
	for (uint64_t l = 0; le && l < n_layers_alloc; l++) {
		if (le[l].bytes)
			s->n_expert_layers++;
		if (le[l].bytes > s->max_expert_one)
			s->max_expert_one = le[l].bytes;
		if (le[l].slot > s->max_slot)
			s->max_slot = le[l].slot;
	}
	free(le);
}

static uint64_t kv_cache_bytes(const struct summary *s, uint64_t n_ctx)
{
	return n_ctx * s->n_layer * s->n_head_kv * (s->head_dim_k + s->head_dim_v) * sizeof(float);
}

/* Activations for a 64-token prompt chunk: a few n_embd-wide and
 * attention-wide rows per token, the router scores and a logits row. */
static uint64_t scratch_bytes(const struct summary *s, uint64_t n_ctx)
{
	uint64_t chunk = 64, q = s->n_head * (s->head_dim_k > s->head_dim_v ? s->head_dim_k : s->head_dim_v);
	uint64_t per_tok = 6 * s->n_embd + 3 * q + 3 * s->n_ff_exp + s->n_expert;
	return chunk * per_tok * sizeof(float) + s->n_head * n_ctx * sizeof(float) +
	       chunk * s->n_vocab * sizeof(float);
}

static uint64_t min_mem(const struct summary *s, uint64_t n_ctx)
{
	uint64_t slots = s->n_expert_used ? s->n_expert_used : 1;
	return s->dense_bytes + kv_cache_bytes(s, n_ctx) + scratch_bytes(s, n_ctx) + slots * s->max_slot;
}

static void print_text(const char *path, const struct floe_gguf *g, const struct summary *s,
		       uint64_t n_ctx, bool tensors)
{
	char b1[32], b2[32], b3[32];
	struct floe_gguf_str str;

	printf("file        %s (%s, GGUF v%u, %" PRIu64 " tensors, %" PRIu64 " metadata keys)\n", path,
	       cli_fmt_bytes(g->file_size, b1, sizeof b1), g->version, g->n_tensors, g->n_kv);
	printf("arch        %s", s->arch);
	if (floe_gguf_get_str(g, "general.name", &str, NULL) == FLOE_OK)
		printf("  \"%s\"", str.s);
	printf("\n");
	printf("shape       %" PRIu64 " layers, embd %" PRIu64 ", heads %" PRIu64 " q / %" PRIu64
	       " kv (head dim %" PRIu64 "), context %" PRIu64 "\n",
	       s->n_layer, s->n_embd, s->n_head, s->n_head_kv, s->head_dim_k, s->n_ctx_train);
	if (s->n_expert)
		printf("experts     %" PRIu64 " per layer, %" PRIu64 " used per token, expert ffn %" PRIu64 "\n",
		       s->n_expert, s->n_expert_used, s->n_ff_exp);
	if (g->n_tensors) {
		printf("types      ");
		for (uint32_t t = 0; t < FLOE_TYPE_COUNT; t++)
			if (s->tensors_per_type[t])
				printf(" %s x%" PRIu64, floe_type_name(t), s->tensors_per_type[t]);
		printf("\n");
	}
	if (floe_gguf_get_str(g, "tokenizer.ggml.model", &str, NULL) == FLOE_OK) {
		struct floe_gguf_str pre = {"-", 1};
		const void *arr;
		uint64_t n_merges = 0, bos = 0, eos = 0;
		floe_gguf_get_str(g, "tokenizer.ggml.pre", &pre, NULL);
		if (floe_gguf_get_arr(g, "tokenizer.ggml.merges", FLOE_GGUF_STRING, &arr, &n_merges, NULL))
			n_merges = 0;
		floe_gguf_get_u64(g, "tokenizer.ggml.bos_token_id", &bos, NULL);
		floe_gguf_get_u64(g, "tokenizer.ggml.eos_token_id", &eos, NULL);
		printf("tokenizer   %s (pre %s), %" PRIu64 " tokens, %" PRIu64 " merges, bos %" PRIu64
		       ", eos %" PRIu64 ", chat template %s\n",
		       str.s, pre.s, s->n_vocab, n_merges, bos, eos,
		       floe_gguf_find(g, "tokenizer.chat_template") ? "yes" : "no");
	}
	if (!g->n_tensors) {
		printf("tensors     none (a vocabulary-only file)\n");
		return;
	}
	printf("dense       %s (resident: attention, norms, embeddings, router, shared experts)\n",
	       cli_fmt_bytes(s->dense_bytes, b1, sizeof b1));
	if (s->expert_bytes) {
		printf("experts     %s routed (%d layers x %" PRIu64 "), %.1f%% of the weights\n",
		       cli_fmt_bytes(s->expert_bytes, b1, sizeof b1), s->n_expert_layers, s->n_expert,
		       100.0 * (double)s->expert_bytes / (double)(s->expert_bytes + s->dense_bytes));
		printf("one expert  %s per layer (gate+up+down); a token reads up to %s of experts\n",
		       cli_fmt_bytes(s->max_expert_one, b1, sizeof b1),
		       cli_fmt_bytes(s->max_expert_one * s->n_expert_used * (uint64_t)s->n_expert_layers, b2,
				     sizeof b2));
	}
	printf("min --mem   about %s at --ctx %" PRIu64 " (dense + KV %s + scratch + %" PRIu64 " expert slots of %s)\n",
	       cli_fmt_bytes(min_mem(s, n_ctx), b1, sizeof b1), n_ctx,
	       cli_fmt_bytes(kv_cache_bytes(s, n_ctx), b2, sizeof b2), s->n_expert_used ? s->n_expert_used : 1,
	       cli_fmt_bytes(s->max_slot, b3, sizeof b3));
	if (!tensors)
		return;
	printf("\n%-40s %-8s %-24s %14s %12s\n", "tensor", "type", "shape", "offset", "bytes");
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const struct floe_gguf_tensor *t = &g->tensors[i];
		char shape[64];
		int n = 0;
		for (uint32_t d = 0; d < t->n_dims; d++)
			n += snprintf(shape + n, sizeof(shape) - (size_t)n, d ? " x %" PRIu64 : "%" PRIu64, t->ne[d]);
		printf("%-40s %-8s %-24s %14" PRIu64 " %12" PRIu64 "%s\n", t->name.s, floe_type_name(t->type), shape,
		       t->offset, t->size, is_expert_tensor(t->name.s) ? "  expert" : "");
	}
}

static int print_json(const char *path, const struct floe_gguf *g, const struct summary *s, uint64_t n_ctx,
		      bool tensors)
{
	json_t *root = json_object(), *types = json_object(), *arr;
	char *text;

	json_object_set_new(root, "file", json_string(path));
	json_object_set_new(root, "file_bytes", json_integer((json_int_t)g->file_size));
	json_object_set_new(root, "gguf_version", json_integer(g->version));
	json_object_set_new(root, "architecture", json_string(s->arch));
	json_object_set_new(root, "n_layer", json_integer((json_int_t)s->n_layer));
	json_object_set_new(root, "n_embd", json_integer((json_int_t)s->n_embd));
	json_object_set_new(root, "n_head", json_integer((json_int_t)s->n_head));
	json_object_set_new(root, "n_head_kv", json_integer((json_int_t)s->n_head_kv));
	json_object_set_new(root, "head_dim", json_integer((json_int_t)s->head_dim_k));
	json_object_set_new(root, "n_expert", json_integer((json_int_t)s->n_expert));
	json_object_set_new(root, "n_expert_used", json_integer((json_int_t)s->n_expert_used));
	json_object_set_new(root, "n_ff_expert", json_integer((json_int_t)s->n_ff_exp));
	json_object_set_new(root, "n_ctx_train", json_integer((json_int_t)s->n_ctx_train));
	json_object_set_new(root, "n_vocab", json_integer((json_int_t)s->n_vocab));
	json_object_set_new(root, "dense_bytes", json_integer((json_int_t)s->dense_bytes));
	json_object_set_new(root, "expert_bytes", json_integer((json_int_t)s->expert_bytes));
	json_object_set_new(root, "expert_one_bytes", json_integer((json_int_t)s->max_expert_one));
	json_object_set_new(root, "ctx", json_integer((json_int_t)n_ctx));
	json_object_set_new(root, "kv_bytes", json_integer((json_int_t)kv_cache_bytes(s, n_ctx)));
	json_object_set_new(root, "min_mem_bytes", json_integer((json_int_t)min_mem(s, n_ctx)));
	for (uint32_t t = 0; t < FLOE_TYPE_COUNT; t++)
		if (s->tensors_per_type[t])
			json_object_set_new(types, floe_type_name(t), json_integer((json_int_t)s->tensors_per_type[t]));
	json_object_set_new(root, "tensor_types", types);
	if (tensors) {
		arr = json_array();
		for (uint64_t i = 0; i < g->n_tensors; i++) {
			const struct floe_gguf_tensor *t = &g->tensors[i];
			json_t *o = json_object(), *shape = json_array();
			for (uint32_t d = 0; d < t->n_dims; d++)
				json_array_append_new(shape, json_integer((json_int_t)t->ne[d]));
			json_object_set_new(o, "name", json_string(t->name.s));
			json_object_set_new(o, "type", json_string(floe_type_name(t->type)));
			json_object_set_new(o, "shape", shape);
			json_object_set_new(o, "offset", json_integer((json_int_t)t->offset));
			json_object_set_new(o, "bytes", json_integer((json_int_t)t->size));
			json_object_set_new(o, "expert", json_boolean(is_expert_tensor(t->name.s)));
			json_array_append_new(arr, o);
		}
		json_object_set_new(root, "tensors", arr);
	}
	text = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	if (!text)
		return 1;
	puts(text);
	free(text);
	return 0;
}

int cmd_inspect(int argc, char **argv)
{
	const char *path = NULL;
	bool tensors = false, json = false;
	long n_ctx = 4096;
	struct floe_gguf *g;
	struct floe_err err = {0};
	struct summary s;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *v;
		if (!strcmp(argv[i], "--tensors")) {
			tensors = true;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--ctx") || !strcmp(argv[i], "-c")) {
			if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(argv[i - 1], v, 1, 1 << 24, &n_ctx))
				return 2;
		} else if (!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) {
			if (!(path = cli_value(argc, argv, &i)))
				return 2;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "floe inspect: unknown option '%s'\n", argv[i]);
			return 2;
		} else {
			path = argv[i];
		}
	}
	if (!path) {
		fprintf(stderr, "usage: floe inspect MODEL.gguf [--ctx N] [--tensors] [--json]\n");
		return 2;
	}
	rc = floe_gguf_open(path, &g, &err);
	if (rc) {
		fprintf(stderr, "floe inspect: %s\n", err.msg);
		return 1;
	}
	summarize(g, &s);
	if (json)
		rc = print_json(path, g, &s, (uint64_t)n_ctx, tensors);
	else
		print_text(path, g, &s, (uint64_t)n_ctx, tensors);
	floe_gguf_close(g);
	return rc;
}
