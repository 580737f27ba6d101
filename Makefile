# crawlbench build, in the style of redis's Makefile: quiet output, -MMD dependencies, one build
# directory per variant, objects rebuilt when the flags change.
#
#   make                   release build: ./crawlbench (installs the build's Debian packages if missing)
#   make SANITIZER=address ASan+UBSan build in build/asan/
#   make SANITIZER=thread  TSan build in build/tsan/
#   make test              dependencies, all builds, unit + integration + fuzz-regression tests
#   make demo              dependencies, build, the tour of regimes (compare --tour), the server's API
#   make examples          the teaching programs of examples/ in build/examples/ (examples/examples.mk)
#   make guide-figures     reruns the commands behind docs/GUIDE.md's figures and prints them
#   make fuzz              build libFuzzer targets in build/fuzz/ (SANITIZER=fuzzer: clang; run them:
#                          build/fuzz/fuzz_http tests/fuzz/corpus/http)

CC      ?= cc
OPT     ?= -O2
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
STD     := -std=gnu17 -D_GNU_SOURCE
INC     := -Isrc
LIBS    := -lcurl -lcjson -lhiredis -lz -lm -pthread
SANITIZER ?=

ifeq ($(SANITIZER),address)
  VARIANT := asan
  SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
  OPT := -O1
else ifeq ($(SANITIZER),undefined)
  VARIANT := asan
  SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
  OPT := -O1
else ifeq ($(SANITIZER),thread)
  VARIANT := tsan
  SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
  OPT := -O1
else ifeq ($(SANITIZER),fuzzer)
  # libFuzzer targets (tests/fuzz/build.sh): clang, the library with coverage instrumentation but
  # without libFuzzer's main (fuzzer-no-link), ASan and UBSan; each target links libFuzzer itself.
  VARIANT := fuzz
  CC := clang
  SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
  OPT := -O1
else ifeq ($(SANITIZER),)
  VARIANT := release
  SANFLAGS :=
else
  $(error SANITIZER must be address, undefined, thread or fuzzer)
endif

# OpenMP (crawlbench analyze --model openmp) everywhere but the TSan build: gcc's libgomp is not
# built with TSan, whose reports on its barriers would be false; there the openmp model runs its
# workers' ranges in turn (src/analyze/exec.h) and TSan checks the threads model's same loops.
# Nor in the fuzz build: clang's OpenMP runtime is another package, and no fuzzer reaches it.
ifneq ($(filter $(VARIANT),tsan fuzz),)
  OMPFLAGS :=
else
  OMPFLAGS := -fopenmp
endif

B        := build/$(VARIANT)
CFLAGS   := $(STD) $(OPT) -g $(WARN) $(INC) $(SANFLAGS) $(OMPFLAGS) -pthread $(EXTRA_CFLAGS)
LDFLAGS  := $(SANFLAGS) $(OMPFLAGS) $(EXTRA_LDFLAGS)

# Every layer under src/ but the command line (src/LAYERS gives their order).
LIB_SRC  := $(sort $(filter-out src/cli/%,$(wildcard src/*/*.c src/*/*/*.c)))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(B)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
BIN      := $(B)/crawlbench

QUIET_CC   = @printf '    %-6s %s\n' CC $@;
QUIET_LINK = @printf '    %-6s %s\n' LINK $@;
ifeq ($(V),1)
  QUIET_CC :=
  QUIET_LINK :=
endif

.PHONY: all deps test check-sanitizers unit integration fuzz fuzz-regression demo bench clean format guide-figures
all: $(BIN)
ifeq ($(VARIANT),release)
	@ln -sf $(BIN) crawlbench
endif

# Rebuild everything of a variant when its flags change.
$(B)/.flags: FORCE
	@mkdir -p $(B)
	@echo '$(CC) $(CFLAGS) $(LDFLAGS)' | cmp -s - $@ || echo '$(CC) $(CFLAGS) $(LDFLAGS)' > $@
FORCE:

# The build's Debian packages first (scripts/deps.sh installs only what is missing, and is quick
# when nothing is), so that `make` alone works on a fresh Debian 12.
build-deps:
	@scripts/deps.sh build
.PHONY: build-deps

$(B)/%.o: %.c $(B)/.flags | build-deps
	@mkdir -p $(dir $@)
	$(QUIET_CC)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BIN): $(LIB_OBJ) $(CLI_OBJ)
	$(QUIET_LINK)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/tests/%: $(B)/tests/unit/%.o $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(QUIET_LINK)$(CC) $(LDFLAGS) -o $@ $^ -lcriterion $(LIBS)

unit-bins: $(UNIT_BIN)
.PHONY: unit-bins

# Fuzz targets (SANITIZER=fuzzer): build/fuzz/fuzz_<name>, each linked with libFuzzer's main. The
# entry point LLVMFuzzerTestOneInput has no prototype in a header, by libFuzzer's convention.
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/%)
$(B)/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_OBJ) $(B)/.flags
	@mkdir -p $(B)/tests/fuzz
	$(QUIET_LINK)$(CC) $(CFLAGS) -Wno-missing-prototypes -fsanitize=fuzzer -MMD -MP -MF $(B)/tests/fuzz/fuzz_$*.d \
	    -o $@ $< $(LIB_OBJ) $(LIBS)
fuzz-bins: $(FUZZ_BIN)
.PHONY: fuzz-bins

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%.d) \
           $(FUZZ_SRC:%.c=$(B)/%.d)

include examples/examples.mk

deps:
	@scripts/deps.sh build test

# The whole suite: ASan+UBSan and TSan builds of everything, unit tests under both, integration tests
# against the sanitized server, fuzz targets replaying their corpora.
test: deps
	@tests/run.sh

check-sanitizers: test

fuzz:
	@tests/fuzz/build.sh

demo:
	@scripts/deps.sh build demo
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

bench:
	@scripts/deps.sh build bench
	@$(MAKE) --no-print-directory all
	@bench/run.sh

# The figures of docs/GUIDE.md, measured again on this machine.
guide-figures:
	@scripts/guide-figures.sh

format:
	clang-format -i $(LIB_SRC) $(CLI_SRC) $(wildcard src/*/*.h src/*/*/*.h) $(UNIT_SRC) $(FUZZ_SRC) \
	  $(wildcard examples/*/*.c examples/*/*.h)

clean:
	rm -rf build crawlbench
