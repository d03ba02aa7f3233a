/* common: shared option parsing and model opening for run, chat, bench. */
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "base/status.h"
#include "gguf/gguf.h"
#include "chat/sampler.h"
#include "tokenizer/tokenizer.h"

const char cli_opts_help[] =
	"model and memory:\n"
	"  -m, --model FILE       GGUF model\n"
	"  --mem SIZE             memory budget (e.g. 6G, 1500M); default: unlimited\n"
	"  -c, --ctx N            context length (default: min(model, 4096))\n"
	"  -t, --threads N        compute threads (default: all cores)\n"
	"  -b, --batch N          prompt chunk in tokens (default 64)\n"
	"  --io auto|uring|pread  expert read backend (default auto)\n"
	"  --io-depth N           reads in flight (default 16)\n"
	"  --buffered             read experts through the page cache (not O_DIRECT)\n"
	"  --kv-f16               f16 KV cache\n"
	"  --policy NAME          expert cache eviction: layer-lrfu (default), lru\n"
	"                         (default layer-lrfu)\n"
	"  --prefetch on|off|oracle  guess the next layer's experts during decode (default on;\n"
	"                         oracle: with --trace-replay, the trace's own, an upper bound)\n"
	"  --prefetch-k N         prefetch the N most probable guesses per layer (default 4)\n"
	"  --trace-out FILE       record the experts every token chose in every layer\n"
	"  --trace-replay FILE    use a recorded (or synthetic) trace's experts instead of the router's\n"
	"  --ref                  scalar reference kernels (slow; for checking)\n"
	"  -v, --verbose          debug logs and a decode-only stats line; -q, --quiet\n"
	"sampling:\n"
	"  --temp X               temperature, 0 = greedy (default 0.8)\n"
	"  --top-k N              (default 40; 0 = off)\n"
	"  --top-p X              (default 0.95; 1 = off)\n"
	"  --min-p X              (default 0.05; 0 = off)\n"
	"  --repeat-penalty X     (default 1.0 = off)\n"
	"  --repeat-last-n N      tokens the penalty looks back over (default 64)\n"
	"  -s, --seed N           sampler seed (default: random)\n";

void cli_opts_default(struct cli_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->log_level = 1;
	o->temp = 0.8;
	o->top_k = 40;
	o->top_p = 0.95;
	o->min_p = 0.05;
	o->repeat_penalty = 1.0;
	o->repeat_last_n = 64;
}

static bool is(const char *a, const char *s1, const char *s2)
{
	return !strcmp(a, s1) || (s2 && !strcmp(a, s2));
}

bool cli_opts_parse(int argc, char **argv, int *i, struct cli_opts *o, bool *matched)
{
	const char *a = argv[*i], *v;
	double d;

	*matched = true;
	if (is(a, "--buffered", NULL)) {
		o->buffered = true;
		return true;
	}
	if (is(a, "--kv-f16", NULL)) {
		o->kv_f16 = true;
		return true;
	}
	if (is(a, "--ref", NULL)) {
		o->ref = true;
		return true;
	}
	if (is(a, "-v", "--verbose")) {
		o->log_level = 2;
		return true;
	}
	if (is(a, "-q", "--quiet")) {
		o->log_level = 0;
		return true;
	}
	if (!is(a, "-m", "--model") && !is(a, "--mem", NULL) && !is(a, "-c", "--ctx") &&
	    !is(a, "-t", "--threads") && !is(a, "-b", "--batch") && !is(a, "--io", NULL) &&
	    !is(a, "--io-depth", NULL) && !is(a, "--temp", NULL) && !is(a, "--top-k", NULL) &&
	    !is(a, "--top-p", NULL) && !is(a, "--min-p", NULL) && !is(a, "--repeat-penalty", NULL) &&
	    !is(a, "--repeat-last-n", NULL) && !is(a, "-s", "--seed") && !is(a, "--policy", NULL) &&
	    !is(a, "--prefetch", NULL) && !is(a, "--prefetch-k", NULL) && !is(a, "--trace-out", NULL) && !is(a, "--trace-replay", NULL)) {
		*matched = false;
		return true;
	}
	if (!(v = cli_value(argc, argv, i)))
		return false;
	if (is(a, "-m", "--model")) {
		o->model = v;
		return true;
	}
	if (is(a, "--trace-out", NULL)) {
		o->trace_out = v;
		return true;
	}
	if (is(a, "--trace-replay", NULL)) {
		o->trace_replay = v;
		return true;
	}
	if (is(a, "--policy", NULL)) {
		o->policy = floe_cache_policy_parse(v);
		if (o->policy < 0) {
			fprintf(stderr, "floe: --policy: '%s' is not one of layer-lrfu, lru\n", v);
			return false;
		}
		return true;
	}
	if (is(a, "--prefetch-k", NULL))
		return cli_parse_int(a, v, 1, 1024, &o->prefetch_k);
	if (is(a, "--prefetch", NULL)) {
		if (!strcmp(v, "on"))
			o->prefetch = FLOE_PREFETCH_ON;
		else if (!strcmp(v, "off"))
			o->prefetch = FLOE_PREFETCH_OFF;
		else if (!strcmp(v, "oracle"))
			o->prefetch = FLOE_PREFETCH_ORACLE;
		else {
			fprintf(stderr, "floe: --prefetch: '%s' is not on, off or oracle\n", v);
			return false;
		}
		return true;
	}
	if (is(a, "--mem", NULL))
		return cli_parse_size(a, v, &o->mem);
	if (is(a, "-c", "--ctx"))
		return cli_parse_int(a, v, 1, 1 << 24, &o->ctx);
	if (is(a, "-t", "--threads"))
		return cli_parse_int(a, v, 1, 256, &o->threads);
	if (is(a, "-b", "--batch"))
		return cli_parse_int(a, v, 1, 1 << 16, &o->batch);
	if (is(a, "--io-depth", NULL))
		return cli_parse_int(a, v, 1, 1024, &o->io_depth);
	if (is(a, "--io", NULL)) {
		if (!strcmp(v, "auto"))
			o->io = FLOE_IO_BACKEND_AUTO;
		else if (!strcmp(v, "uring"))
			o->io = FLOE_IO_BACKEND_URING;
		else if (!strcmp(v, "pread"))
			o->io = FLOE_IO_BACKEND_PREAD;
		else {
			fprintf(stderr, "floe: --io: '%s' is not one of auto, uring, pread\n", v);
			return false;
		}
		return true;
	}
	if (is(a, "--top-k", NULL))
		return cli_parse_int(a, v, 0, 1 << 30, &o->top_k);
	if (is(a, "--repeat-last-n", NULL))
		return cli_parse_int(a, v, 0, 1 << 24, &o->repeat_last_n);
	if (is(a, "-s", "--seed")) {
		if (!cli_parse_float(a, v, 0, 1.8e19, &d))
			return false;
		o->seed = (uint64_t)d;
		o->seed_set = true;
		return true;
	}
	if (is(a, "--temp", NULL))
		return cli_parse_float(a, v, 0, 100, &o->temp);
	if (is(a, "--top-p", NULL))
		return cli_parse_float(a, v, 0, 1, &o->top_p);
	if (is(a, "--min-p", NULL))
		return cli_parse_float(a, v, 0, 1, &o->min_p);
	return cli_parse_float(a, v, 0, 100, &o->repeat_penalty);
}

int cli_open(const struct cli_opts *o, floe_model **m, struct floe_tokenizer **tok, bool quiet)
{
	struct floe_params p = floe_params_default();
	struct floe_plan plan;
	struct floe_err err = {0};
	char msg[1024];
	int st;

	if (!o->model) {
		fprintf(stderr, "floe: no model given (-m FILE)\n");
		return 2;
	}
	p.path = o->model;
	p.mem_bytes = o->mem;
	p.n_ctx = (int)o->ctx;
	p.n_threads = (int)o->threads;
	p.n_batch = (int)o->batch;
	p.io_backend = o->io;
	p.io_queue_depth = (int)o->io_depth;
	p.io_buffered = o->buffered;
	p.kv_f16 = o->kv_f16;
	p.force_ref_kernels = o->ref;
	p.log_level = o->log_level;
	p.cache_policy = o->policy;
	p.prefetch = o->prefetch;
	p.prefetch_k = (int)o->prefetch_k;
	p.trace_out = o->trace_out;
	p.trace_replay = o->trace_replay;
	st = floe_model_open(&p, m, msg, sizeof(msg));
	if (st) {
		fprintf(stderr, "floe: %s\n", msg);
		return 1;
	}
	if (!quiet && o->log_level > 0) {
		char buf[2048];
		floe_model_plan(*m, &plan);
		floe_plan_format(&plan, buf, sizeof(buf));
		fputs(buf, stderr);
	}
	if (tok) {
		st = floe_tokenizer_load(floe_model_gguf(*m), tok, &err);
		if (st) {
			fprintf(stderr, "floe: %s\n", err.msg);
			floe_model_close(*m);
			*m = NULL;
			return 1;
		}
	}
	return 0;
}

void cli_print_stats(const floe_model *m)
{
	char line[512];
	struct floe_stats st;

	floe_stats_line(m, line, sizeof(line));
	fprintf(stderr, "%s\n", line);
	/* One stats line per run; -v adds the decode-only breakdown. */
	floe_stats_get(m, &st);
	if (st.decode_tokens && floe_log_level() >= 2)
		fprintf(stderr,
			"floe decode: %.3f tok/s | expert hit %.1f%% | read %.1f MB/token | io wait %.0f%% | "
			"prefetch %llu useful, %llu wasted | evictions %llu\n",
			(double)st.decode_tokens / st.decode_s,
			st.decode_requests ? 100.0 * (double)st.decode_hits / (double)st.decode_requests : 0.0,
			(double)st.decode_bytes_read / 1e6 / (double)st.decode_tokens,
			100.0 * st.decode_read_wait_s / st.decode_s, (unsigned long long)st.prefetch_useful,
			(unsigned long long)(st.prefetches - st.prefetch_useful), (unsigned long long)st.evictions);
}

uint64_t cli_random_seed(void)
{
	struct timespec ts;
	uint64_t seed;
	clock_gettime(CLOCK_REALTIME, &ts);
	seed = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 32);
	floe_log(2, "floe: sampler seed %llu\n", (unsigned long long)seed);
	return seed;
}

int cli_sampler_create(const struct cli_opts *o, uint32_t n_vocab, struct floe_sampler **out)
{
	struct floe_sampler_params sp;
	struct floe_err err = {0};

	floe_sampler_params_default(&sp);
	sp.temperature = (float)o->temp;
	sp.top_k = (int32_t)o->top_k;
	sp.top_p = (float)o->top_p;
	sp.min_p = (float)o->min_p;
	sp.repeat_penalty = (float)o->repeat_penalty;
	sp.repeat_last_n = (int32_t)o->repeat_last_n;
	sp.seed = o->seed_set ? o->seed : cli_random_seed();
	if (floe_sampler_create(&sp, n_vocab, out, &err)) {
		fprintf(stderr, "floe: %s\n", err.msg);
		return 1;
	}
	return 0;
}

char *cli_read_file(const char *who, const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (!f) {
		fprintf(stderr, "%s: cannot open %s: %s\n", who, path, strerror(errno));
		return NULL;
	}
	do {
		if (n + 4096 > cap) {
			char *p = realloc(buf, cap = cap * 2 + 8192);
			if (!p) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = p;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
	} while (got > 0);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}
