/* floe mkmodel: write a deterministic random-weight qwen3moe GGUF of any shape
 * and weight type, from a named preset (the real Qwen3 shapes, a demo, the
 * fixture shape) with any field overridden.  Random weights give meaningless
 * text: the point is realistic sizes, layouts and routing for tests, demos
 * and benchmarks without downloads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "args.h"
#include "base/timer.h"
#include "commands.h"
#include "model/synth.h"
#include "quant/quant.h"

static bool parse_type(const char *flag, const char *s, uint32_t *out)
{
	for (uint32_t t = 0; t < FLOE_TYPE_COUNT; t++) {
		const struct floe_type_info *ti = floe_type_info(t);
		if (ti && !strcasecmp(ti->name, s) && floe_synth_type_ok(t)) {
			*out = t;
			return true;
		}
	}
	fprintf(stderr, "floe mkmodel: %s: '%s' is not a weight type floe can write (f32, f16, bf16, q8_0, "
			"q4_0, q4_1, q5_0, q5_1, q2_K, q3_K, q4_K, q5_K, q6_K, iq4_nl, iq4_xs, mxfp4)\n",
		flag, s);
	return false;
}

struct progress {
	double start, last;
};

static void show_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct progress *p = ctx;
	double now = floe_now_s();
	if (now - p->last < 1.0 && done < total)
		return;
	p->last = now;
	fprintf(stderr, "\rfloe mkmodel: %5.1f%% of %.2f GB, %.0f MB/s   ", 100.0 * (double)done / (double)total,
		(double)total / 1e9, (double)done / 1e6 / (now - p->start + 1e-9));
	if (done == total)
		fprintf(stderr, "\n");
}

static const char usage[] =
	"usage: floe mkmodel --preset NAME -o OUT.gguf [options]\n"
	"  --preset NAME       %s\n"
	"  -o, --out FILE      output GGUF\n"
	"  --type T            weight type of the matrices (q4_K, q4_0, q8_0, f16, ...)\n"
	"  --expert-type T     weight type of the routed experts (default: --type)\n"
	"  --layers N --embd N --heads N --kv-heads N --head-dim N\n"
	"  --experts N --used N --expert-ff N --ctx-train N    override the preset's shape\n"
	"  --vocab FILE        vocab-only GGUF whose tokenizer is copied\n"
	"  --seed N            (default 1)\n"
	"  -t, --threads N     (default: all cores)\n";

int cmd_mkmodel(int argc, char **argv)
{
	struct floe_synth_params p;
	struct floe_err err = {0};
	struct progress prog = {0};
	const char *preset = "demo", *out = NULL;
	double t0;
	long v;

	if (floe_synth_preset(preset, &p) != FLOE_OK)
		return 1;
	/* the preset goes first so that shape flags override it wherever they stand */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--preset") && i + 1 < argc) {
			preset = argv[i + 1];
			if (floe_synth_preset(preset, &p) != FLOE_OK) {
				fprintf(stderr, "floe mkmodel: unknown preset '%s' (%s)\n", preset,
					floe_synth_preset_names());
				return 2;
			}
		}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val;
		uint32_t *field = NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			printf(usage, floe_synth_preset_names());
			return 0;
		}
		if (!(val = cli_value(argc, argv, &i)))
			return 2;
		if (!strcmp(a, "--preset"))
			continue;
		if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
			out = val;
		} else if (!strcmp(a, "--vocab")) {
			p.vocab_path = val;
		} else if (!strcmp(a, "--type")) {
			if (!parse_type(a, val, &p.wtype))
				return 2;
		} else if (!strcmp(a, "--expert-type")) {
			if (!parse_type(a, val, &p.expert_type))
				return 2;
		} else if (!strcmp(a, "--seed")) {
			if (!cli_parse_int(a, val, 0, INT32_MAX, &v))
				return 2;
			p.seed = (uint64_t)v;
		} else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
			if (!cli_parse_int(a, val, 1, 256, &v))
				return 2;
			p.n_threads = (int)v;
		} else {
			if (!strcmp(a, "--layers"))
				field = &p.n_layers;
			else if (!strcmp(a, "--embd"))
				field = &p.n_embd;
			else if (!strcmp(a, "--heads"))
				field = &p.n_head;
			else if (!strcmp(a, "--kv-heads"))
				field = &p.n_head_kv;
			else if (!strcmp(a, "--head-dim"))
				field = &p.head_dim;
			else if (!strcmp(a, "--experts"))
				field = &p.n_expert;
			else if (!strcmp(a, "--used"))
				field = &p.n_expert_used;
			else if (!strcmp(a, "--expert-ff"))
				field = &p.n_ff_exp;
			else if (!strcmp(a, "--ctx-train"))
				field = &p.n_ctx_train;
			if (!field) {
				fprintf(stderr, "floe mkmodel: unknown option '%s'\n", a);
				fprintf(stderr, usage, floe_synth_preset_names());
				return 2;
			}
			if (!cli_parse_int(a, val, 1, 1 << 20, &v))
				return 2;
			*field = (uint32_t)v;
		}
	}
	if (!out) {
		fprintf(stderr, usage, floe_synth_preset_names());
		return 2;
	}
	prog.start = prog.last = t0 = floe_now_s();
	p.progress = show_progress;
	p.progress_ctx = &prog;
	fprintf(stderr, "floe mkmodel: %s: %u layers, embd %u, %u/%u heads x %u, %u experts (%u used) x ff %u, %s "
			"(experts %s), seed %llu\n",
		preset, p.n_layers, p.n_embd, p.n_head, p.n_head_kv, p.head_dim, p.n_expert, p.n_expert_used,
		p.n_ff_exp, floe_type_name(p.wtype),
		floe_type_name(p.expert_type == FLOE_SYNTH_SAME_TYPE ? p.wtype : p.expert_type),
		(unsigned long long)p.seed);
	if (floe_synth_write(&p, out, &err) != FLOE_OK) {
		fprintf(stderr, "\nfloe mkmodel: %s\n", err.msg);
		return 1;
	}
	fprintf(stderr, "floe mkmodel: wrote %s in %.1f s\n", out, floe_now_s() - t0);
	return 0;
}
