/* Tests for the floe command line, run as a user would: exit codes, what
 * goes to stdout and stderr, and results against the llama.cpp goldens.
 * run_tests.sh passes the binary's path in FLOE_BIN. */
#include "harness.h"

#include <jansson.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *floe_bin;
static char out_path[64], err_path[64];

/* Run "floe ARGS" (a shell fragment) with stdout and stderr captured into
 * out_path / err_path; returns the exit status, or -1. */
static int run(const char *args, const char *stdin_text)
{
	char cmd[2048];
	int st;

	if (stdin_text)
		snprintf(cmd, sizeof(cmd), "printf '%s' | %s %s >%s 2>%s", stdin_text, floe_bin, args, out_path,
			 err_path);
	else
		snprintf(cmd, sizeof(cmd), "%s %s </dev/null >%s 2>%s", floe_bin, args, out_path, err_path);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path)
{
	size_t n = 0;
	char *s = harness_read_file(path, &n);
	if (s)
		s[n] = '\0';
	return s;
}

static bool out_has(const char *needle)
{
	char *s = slurp(out_path);
	bool ok = s && strstr(s, needle);
	free(s);
	return ok;
}

static bool err_has(const char *needle)
{
	char *s = slurp(err_path);
	bool ok = s && strstr(s, needle);
	if (!ok)
		fprintf(stderr, "    stderr was: %s\n", s ? s : "(unreadable)");
	free(s);
	return ok;
}

static void test_usage_and_unknown_command(void)
{
	CHECK(run("--help", NULL) == 0 && out_has("inspect") && out_has("run"));
	CHECK(run("frobnicate", NULL) == 2 && err_has("unknown command"));
	CHECK(run("run -m " FIXTURE("tiny-qwen3moe-q8_0.gguf") " --no-such-flag", NULL) == 2 &&
	      err_has("unknown option"));
}

static void test_inspect(void)
{
	json_t *root;
	json_error_t jerr;

	CHECK(run("inspect " FIXTURE("tiny-qwen3moe-q4_k_m.gguf"), NULL) == 0);
	CHECK(out_has("qwen3moe") && out_has("32 per layer, 4 used") && out_has("min --mem"));
	REQUIRE(run("inspect --json --tensors " FIXTURE("tiny-qwen3moe-q2_k.gguf"), NULL) == 0);
	root = json_load_file(out_path, 0, &jerr);
	REQUIRE(root != NULL);
	CHECK(json_integer_value(json_object_get(root, "n_layer")) == 4);
	CHECK(json_integer_value(json_object_get(root, "n_expert")) == 32);
	CHECK(json_array_size(json_object_get(root, "tensors")) == 51);
	CHECK(json_integer_value(json_object_get(root, "dense_bytes")) +
		      json_integer_value(json_object_get(root, "expert_bytes")) <
	      json_integer_value(json_object_get(root, "file_bytes")));
	json_decref(root);
}

static void test_inspect_truncated_file(void)
{
	char trunc[] = "/tmp/floe_cli_trunc_XXXXXX", cmd[512];
	int fd = mkstemp(trunc);

	REQUIRE(fd >= 0);
	close(fd);
	/* one cut in the metadata, one in the tensor data */
	snprintf(cmd, sizeof(cmd), "head -c 50000 %s > %s", FIXTURE("tiny-qwen3moe-q8_0.gguf"), trunc);
	REQUIRE(system(cmd) == 0);
	snprintf(cmd, sizeof(cmd), "inspect %s", trunc);
	CHECK(run(cmd, NULL) == 1 && err_has("tokenizer.ggml.tokens"));
	snprintf(cmd, sizeof(cmd), "head -c 18000000 %s > %s", FIXTURE("tiny-qwen3moe-q8_0.gguf"), trunc);
	REQUIRE(system(cmd) == 0);
	snprintf(cmd, sizeof(cmd), "inspect %s", trunc);
	CHECK(run(cmd, NULL) == 1 && err_has("outside"));
	snprintf(cmd, sizeof(cmd), "run -m %s -p hi", trunc);
	CHECK(run(cmd, NULL) == 1 && err_has("outside"));
	unlink(trunc);
}

/* The greedy continuation of "The" (token 785) equals llama.cpp's. */
static void test_run_greedy_ids_match_llama(void)
{
	json_error_t jerr;
	json_t *root = json_load_file(FIXTURE("goldens.json"), 0, &jerr), *greedy;
	char want[512] = "", *got;
	size_t n = 0;

	REQUIRE(root != NULL);
	greedy = json_object_get(json_object_get(json_object_get(root, "q4_k_m"), "s1"), "greedy");
	REQUIRE(json_array_size(greedy) == 32);
	for (size_t i = 0; i < 32; i++)
		n += (size_t)snprintf(want + n, sizeof(want) - n, i ? " %lld" : "%lld",
				      (long long)json_integer_value(json_array_get(greedy, i)));
	json_decref(root);
	REQUIRE(run("run -m " FIXTURE("tiny-qwen3moe-q4_k_m.gguf") " --tokens 785 -n 32 --temp 0 --print-ids -q",
		    NULL) == 0);
	got = slurp(out_path);
	REQUIRE(got != NULL);
	CHECKF(strncmp(got, want, strlen(want)) == 0, "got  %s\nwant %s", got, want);
	free(got);
	/* the stats line closes every run, on stderr */
	CHECK(err_has("floe stats: prompt"));
}

static void test_run_logits_out(void)
{
	char path[] = "/tmp/floe_cli_logits_XXXXXX", cmd[512];
	int fd = mkstemp(path);
	struct stat st;
	size_t n_gold = 0;
	unsigned char *gold;

	REQUIRE(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "run -m %s --tokens 785,6722,315,2869,681,374,4270 -n 1 --temp 0 -q --logits-out %s",
		 FIXTURE("tiny-qwen3moe-q2_k.gguf"), path);
	REQUIRE(run(cmd, NULL) == 0);
	REQUIRE(stat(path, &st) == 0);
	CHECK(st.st_size == 7 * 8192 * 4);
	gold = harness_read_file(FIXTURE("logits/logits-q2_k-s7.bin"), &n_gold);
	REQUIRE(gold && n_gold == 8 + 8 + 7 * 4 + (size_t)st.st_size);
	{
		size_t n = 0;
		float *ours = harness_read_file(path, &n), *theirs = (float *)(gold + 8 + 8 + 7 * 4);
		float worst = 0;
		REQUIRE(ours != NULL);
		for (size_t i = 0; i < 7 * 8192; i++)
			worst = fmaxf(worst, fabsf(ours[i] - theirs[i]));
		CHECKF(worst <= 1e-2f, "max |diff| %g", worst);
		free(ours);
	}
	free(gold);
	unlink(path);
}

static void test_run_budget_too_small(void)
{
	CHECK(run("run -m " FIXTURE("tiny-qwen3moe-q8_0.gguf") " --mem 1M -p hi", NULL) == 1);
	CHECK(err_has("need at least"));
	CHECK(run("run -m " FIXTURE("tiny-qwen3moe-q8_0.gguf") " --mem lots -p hi", NULL) == 2 && err_has("--mem"));
	CHECK(run("run -m /nonexistent.gguf -p hi", NULL) == 1 && err_has("nonexistent"));
}

static void test_run_streams_under_budget(void)
{
	/* a budget with a handful of expert slots: most expert reads miss */
	CHECK(run("run -m " FIXTURE("tiny-qwen3moe-q4_0.gguf") " --mem 24M -n 8 --seed 3 -p 'Hello world'", NULL) ==
	      0);
	CHECK(err_has("memory plan") && err_has("expert hit"));
}

/* floe perplexity against llama-perplexity (llama.cpp 3f545becc, AVX2
 * build of ggml-cpu, `-c 128 -b 128 -fa off`, its default f16 KV cache) on
 * tests/fixtures/ppl-words.txt: "Final estimate: PPL = 13256.2296".  The
 * random-weight model's near-tied logits move with the last bits of
 * attention, so floe (f16 KV too, streamed through a few slots) must land
 * within 0.5%; a wrong scored range or target token moves it by far more. */
static void test_perplexity_matches_llama(void)
{
	const double want = 13256.2296;
	double got = 0.0;

	CHECK(run("perplexity -m " FIXTURE("tiny-qwen3moe-q8_0.gguf") " -f " FIXTURE("ppl-words.txt")
		  " -c 128 --kv-f16 --mem 24M",
		  NULL) == 0);
	char *out = slurp(out_path);
	const char *f = out ? strstr(out, "Final estimate: PPL = ") : NULL;
	CHECK(f && sscanf(f, "Final estimate: PPL = %lf", &got) == 1);
	CHECKF(fabs(got - want) <= 0.005 * want, "PPL %.4f, llama.cpp %.4f", got, want);
	CHECK(out && strstr(out, "[4]") && !strstr(out, "[5]")); /* 4 whole chunks of 128 */
	free(out);
	/* bad input: no text, a text shorter than one chunk */
	CHECK(run("perplexity -m " FIXTURE("tiny-qwen3moe-q8_0.gguf"), NULL) == 2 && err_has("-f TEXT"));
	CHECK(run("perplexity -m " FIXTURE("tiny-qwen3moe-q8_0.gguf") " -f " FIXTURE("ppl-words.txt") " -c 4096",
		  NULL) == 1 &&
	      err_has("fewer than one chunk"));
}

static void test_chat_keeps_going_and_quits(void)
{
	CHECK(run("chat -m " FIXTURE("tiny-qwen3moe-q4_k_m.gguf") " -n 8 --seed 1 -q", "Hi\\nAnd again\\n/quit\\n") ==
	      0);
	CHECK(err_has("floe stats"));
}

static void test_mkmodel_then_inspect(void)
{
	char path[] = "/tmp/floe_cli_mk_XXXXXX", cmd[512];
	int fd = mkstemp(path);

	REQUIRE(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "mkmodel --preset tiny --type q4_0 --layers 2 -o %s", path);
	REQUIRE(run(cmd, NULL) == 0);
	snprintf(cmd, sizeof(cmd), "inspect %s", path);
	CHECK(run(cmd, NULL) == 0 && out_has("2 layers") && out_has("q4_0"));
	CHECK(run("mkmodel --preset nope -o /tmp/x.gguf", NULL) == 2 && err_has("unknown preset"));
	unlink(path);
}

int main(void)
{
	floe_bin = getenv("FLOE_BIN");
	if (!floe_bin || access(floe_bin, X_OK) != 0) {
		fprintf(stderr, "FLOE_BIN must name the floe binary (run through tests/run_tests.sh)\n");
		return 1;
	}
	snprintf(out_path, sizeof(out_path), "/tmp/floe_cli_out_%d", (int)getpid());
	snprintf(err_path, sizeof(err_path), "/tmp/floe_cli_err_%d", (int)getpid());
	RUN(test_usage_and_unknown_command);
	RUN(test_inspect);
	RUN(test_inspect_truncated_file);
	RUN(test_run_greedy_ids_match_llama);
	RUN(test_run_logits_out);
	RUN(test_run_budget_too_small);
	RUN(test_run_streams_under_budget);
	RUN(test_perplexity_matches_llama);
	RUN(test_chat_keeps_going_and_quits);
	RUN(test_mkmodel_then_inspect);
	unlink(out_path);
	unlink(err_path);
	return harness_finish();
}
