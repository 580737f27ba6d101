# The teaching programs under examples/ (included by the Makefile): `make examples` builds each
# examples/<lesson>/<name>.c into build/examples/<lesson>/<name>, with the project's warnings, linked
# with the shared helper in examples/common/. Two sanitized copies: build/examples-asan/ (ASan+UBSan,
# every program: what tests/integration/test_examples.py runs) and build/examples-tsan/ (the threaded
# ones: TSan's verdict on pitfalls/race.c and its fix, and a clean run of the others).

EX_SRC     := $(sort $(filter-out examples/common/%,$(wildcard examples/*/*.c)))
EX_COMMON  := $(sort $(wildcard examples/common/*.c))
EX_HDR     := $(wildcard examples/common/*.h)
EX_BIN     := $(EX_SRC:examples/%.c=build/examples/%)
# The threaded ones only: TSan does not follow ucontext switches (10-async-resource, 11-green-threads)
# and the fork pitfalls fork on purpose while threads hold locks.
EX_TSAN_SRC := $(filter examples/02-threads/% examples/05-futures/% examples/06-nursery/% \
                 examples/07-parallel-map/% examples/09-producer-consumer/% examples/12-blocked-array/% \
                 examples/pitfalls/race% examples/pitfalls/deadlock% examples/pitfalls/false_sharing% \
                 examples/pitfalls/blocking% examples/pitfalls/guide_%,$(EX_SRC))
EX_TSAN    := $(EX_TSAN_SRC:examples/%.c=build/examples-tsan/%)
EX_ASAN    := $(EX_SRC:examples/%.c=build/examples-asan/%)
EX_CFLAGS  := $(STD) $(WARN) -g -Iexamples/common -pthread
EX_LIBS    := -lcurl -lhiredis -lm

.PHONY: examples
examples: $(EX_BIN) $(EX_ASAN) $(EX_TSAN)

build/examples/%: examples/%.c $(EX_COMMON) $(EX_HDR)
	@mkdir -p $(dir $@)
	$(QUIET_LINK)$(CC) $(EX_CFLAGS) -O2 -o $@ $< $(EX_COMMON) $(EX_LIBS)

build/examples-tsan/%: examples/%.c $(EX_COMMON) $(EX_HDR)
	@mkdir -p $(dir $@)
	$(QUIET_LINK)$(CC) $(EX_CFLAGS) -O1 -fsanitize=thread -fno-omit-frame-pointer -o $@ $< $(EX_COMMON) $(EX_LIBS)

build/examples-asan/%: examples/%.c $(EX_COMMON) $(EX_HDR)
	@mkdir -p $(dir $@)
	$(QUIET_LINK)$(CC) $(EX_CFLAGS) -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -o $@ $< $(EX_COMMON) $(EX_LIBS)
