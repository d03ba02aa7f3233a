# floe: one Makefile.  Configurations: CFG=release (default), CFG=debug, CFG=asan.
#   make            build build/$(CFG)/floe
#   make test       build and run every tests/test_*.c, closing line "N passed, N failed"
#   make fuzz       build the libFuzzer targets (clang) into build/fuzz/
#   make bench      build and run bench/bench_kernels (AVX2 vs reference kernel speed)
#   make format     clang-format every source file in place
CC      ?= cc
CFG     ?= release
BUILD   := build/$(CFG)

WARN    := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
DEFS    := -D_GNU_SOURCE
INC     := -Iinclude -Isrc
ifeq ($(CFG),release)
  OPT   := -O2 -g
else ifeq ($(CFG),debug)
  OPT   := -O0 -g
else ifeq ($(CFG),asan)
  OPT   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
else
  $(error unknown CFG=$(CFG): use release, debug or asan)
endif
# No floating-point contraction anywhere: the reference kernels and the
# llama.cpp-order kernels are bit-exact only when every a*b+c rounds twice
# unless the code asks for fma() itself.
CFLAGS  := $(WARN) $(DEFS) $(INC) $(OPT) -ffp-contract=off -pthread -MMD -MP $(EXTRA_CFLAGS)
LDFLAGS := $(OPT) -pthread
LIBS    := -luring -lpcre2-8 -lm
CLI_LIBS := -ledit -ljansson
TEST_LIBS := -ljansson

# Per-ISA kernel files carry their own target flags; the rest of the build stays
# baseline x86-64 so the binary runs anywhere and picks kernels at run time.
AVX2_FLAGS := -mavx2 -mfma -mf16c

LIB_SRC  := $(sort $(wildcard src/*/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC  := $(sort $(wildcard cli/*.c))
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

# Quiet by default; `make V=1` shows the commands.
ifeq ($(V),1)
  Q :=
  say = @true
else
  Q := @
  say = @echo "  $(1) $(2)"
endif

.PHONY: all test fuzz bench format clean
all: $(BUILD)/floe

$(BUILD)/%_avx2.o: %_avx2.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) $(AVX2_FLAGS) -c $< -o $@

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libfloe.a: $(LIB_OBJ)
	@rm -f $@
	$(call say,AR,$@)
	$(Q)ar rcs $@ $^

$(BUILD)/floe: $(CLI_OBJ) $(BUILD)/libfloe.a
	$(call say,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libfloe.a $(LIBS) $(CLI_LIBS)

$(BUILD)/tests/%: tests/%.c tests/harness.h $(BUILD)/libfloe.a
	@mkdir -p $(dir $@)
	$(call say,TEST,$@)
	$(Q)$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libfloe.a $(LIBS) $(TEST_LIBS)

test: $(TEST_BIN) $(BUILD)/floe
	@sh tests/run_tests.sh $(BUILD)

# Benchmarks: each bench/*.c is its own program linked with libfloe.a.
$(BUILD)/bench/%: bench/%.c $(BUILD)/libfloe.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libfloe.a $(LIBS)

bench: $(BUILD)/bench/bench_kernels
	$(BUILD)/bench/bench_kernels

# libFuzzer needs clang; the fuzz build links the library sources directly with
# coverage instrumentation and the sanitizers.
FUZZ_FLAGS := -std=c11 $(DEFS) $(INC) -O1 -g -ffp-contract=off -fsanitize=fuzzer,address,undefined -pthread
fuzz: $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
build/fuzz/%: tests/fuzz/%.c $(LIB_SRC)
	@mkdir -p build/fuzz
	clang $(FUZZ_FLAGS) -o $@ $< $(filter-out %_avx2.c,$(LIB_SRC)) $(filter %_avx2.c,$(LIB_SRC)) $(AVX2_FLAGS) $(LIBS)

format:
	clang-format -i $$(find include src cli tests bench tools -name '*.[ch]')

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)

# Debian packages the build and tests need; `make deps` installs the missing
# ones (as root, or through sudo).  docs/dependencies.md says why each is here.
DEB_PKGS := build-essential clang liburing-dev libpcre2-dev libedit-dev libjansson-dev pkg-config
.PHONY: deps
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		if [ "$$(id -u)" = 0 ]; then s=; else s=sudo; fi; \
		DEBIAN_FRONTEND=noninteractive $$s apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$s apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The bundled default: a ~1.85 GB random-weight MoE made by floe itself, run
# with --mem at a quarter of its size so most experts stream from disk.
DEMO_MODEL := build/demo.gguf
DEMO_PROMPT := "The three most important ideas in computer science are"
.PHONY: demo
demo: $(BUILD)/floe
	@test -f $(DEMO_MODEL) || $(BUILD)/floe mkmodel --preset demo -o $(DEMO_MODEL)
	$(BUILD)/floe run -m $(DEMO_MODEL) --mem 460M -n 48 --seed 42 -p $(DEMO_PROMPT)
