# nnpress — build, test, install.
#
#   make            the nnpress binary (build/nnpress)
#   make deps       install the Debian and npm packages the build and tests need (as root)
#   make check      every test, then again under AddressSanitizer + UBSan
#   make demo       the main job on the bundled default model
#   make bench      nnpress against ONNX Runtime, same machine, same run
#   make fuzz FUZZ=run FUZZ_SECONDS=600   one fuzz target under libFuzzer (clang)
#   make install PREFIX=/usr/local DESTDIR=
#
# SAN=1 builds into build-san/ with -fsanitize=address,undefined; FUZZ_BUILD=1 (what
# `make fuzz` asks of itself) into build-fuzz/ with clang, libFuzzer's hooks and the same
# sanitizers.

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
PKGS := libprotobuf-c openblas libzstd zlib jansson
ONNX_PROTO ?= /usr/include/onnx/onnx.proto

ifeq ($(FUZZ_BUILD),1)
# every object gets libFuzzer's coverage hooks; only the fuzz targets link its main
B := build-fuzz
CC := clang
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=all
OPT := -O1
else ifeq ($(SAN),1)
B := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
OPT := -O1
else
B := build
SANFLAGS :=
OPT := -O2
endif

WARN := -Wall -Wextra -Wpedantic -Wshadow $(if $(WERROR),-Werror)
CPPFLAGS += -D_POSIX_C_SOURCE=200809L -I. -I$(B)/gen
CFLAGS ?= $(OPT) -g
# clang fuses a * b + c into an FMA by default (-ffp-contract=on) wherever a target
# attribute allows one (gemv.c's AVX2 tails), GCC in ISO C mode never does: off for both,
# so that a clang build computes what a GCC build does (vmath.c asks for fast, below)
CFLAGS += -std=c11 -ffp-contract=off $(WARN) $(SANFLAGS) \
          $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
LDFLAGS += $(SANFLAGS)

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CPPFLAGS += -DNNP_VERSION='"$(VERSION)"'

LIB_SRC := $(wildcard kernels/*.c kernels/*/*.c formats/*.c passes/*.c)
CMD_SRC := $(wildcard cmd/*.c)
GEN_SRC := $(B)/gen/onnx.pb-c.c
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o) $(B)/gen/onnx.pb-c.o
CMD_OBJ := $(CMD_SRC:%.c=$(B)/%.o)
TEST_SRC := $(wildcard tests/unit/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(B)/%.o)

all: $(B)/nnpress

$(B)/gen/onnx.pb-c.c $(B)/gen/onnx.pb-c.h: $(ONNX_PROTO)
	@mkdir -p $(B)/gen
	protoc-c --c_out=$(B)/gen -I$(dir $(ONNX_PROTO)) $(ONNX_PROTO)

$(B)/gen/onnx.pb-c.o: $(B)/gen/onnx.pb-c.c
	$(CC) $(CPPFLAGS) $(filter-out -Wpedantic -Wshadow,$(CFLAGS)) -w -c -o $@ $<

# vmath.c passes 64-byte GCC vectors between always-inlined helpers; GCC notes
# the AVX-512 argument ABI for them once per file even under a pragma. Its
# polynomials are chains of a * b + c, which its AVX2/AVX-512 builds fuse.
$(B)/kernels/simd/vmath.o: CFLAGS += -Wno-psabi -ffp-contract=fast

# every object may include the generated header, so generate it first
$(B)/%.o: %.c | $(B)/gen/onnx.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

# made afresh: `ar r` keeps members that are no longer sources (a file moved or removed)
$(B)/libnnpress.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

# The operator table (kernels/ops/op.c) refers to each nnp_op_<Name> weakly, so that a
# missing operator leaves a gap instead of breaking the link; a weak reference does
# not pull a member out of an archive, so the whole archive goes in.
LIB_LINK = -Wl,--whole-archive $(B)/libnnpress.a -Wl,--no-whole-archive

$(B)/nnpress: $(CMD_OBJ) $(B)/libnnpress.a
	$(CC) $(LDFLAGS) -o $@ $(CMD_OBJ) $(LIB_LINK) $(LDLIBS)

$(B)/unit-tests: $(TEST_OBJ) $(B)/libnnpress.a
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJ) $(LIB_LINK) $(LDLIBS) $(shell pkg-config --libs criterion)

# ONNX's node tests against the runtime (tests/conformance.c)
$(B)/conformance: $(B)/tests/conformance.o $(B)/libnnpress.a
	$(CC) $(LDFLAGS) -o $@ $(B)/tests/conformance.o $(LIB_LINK) $(LDLIBS)

# fuzz targets: tests/fuzz/fuzz_<name>.c. Here they are linked with a replay
# driver so that `make check` runs every corpus through them (under ASan+UBSan in
# the SAN build); `make fuzz FUZZ=onnx` builds one with libFuzzer (clang, FUZZ_BUILD=1,
# its own build-fuzz/ from scratch) and runs it (tests/fuzz/fuzz.sh). The whole archive
# goes in: fuzz-run reaches the operator table.
FUZZ_TARGETS := onnx npy idx pipeline run
FUZZ_BINS := $(FUZZ_TARGETS:%=$(B)/fuzz-%)
FUZZ_OBJ := $(FUZZ_TARGETS:%=$(B)/tests/fuzz/fuzz_%.o) $(B)/tests/fuzz/replay.o
ifeq ($(FUZZ_BUILD),1)
$(B)/fuzz-%: $(B)/tests/fuzz/fuzz_%.o $(B)/libnnpress.a
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB_LINK) $(LDLIBS)
else
$(B)/fuzz-%: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/replay.o $(B)/libnnpress.a
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB_LINK) $(LDLIBS)
endif

FUZZ ?= onnx
FUZZ_SECONDS ?= 60
ifneq ($(filter fuzz,$(MAKECMDGOALS)),)
ifeq ($(filter $(FUZZ),$(FUZZ_TARGETS)),)
$(error FUZZ=$(FUZZ) is not a fuzz target; one of: $(FUZZ_TARGETS))
endif
endif
fuzz: deps
	sh tests/fuzz/deps.sh
	$(MAKE) FUZZ_BUILD=1 build-fuzz/fuzz-$(FUZZ)
	sh tests/fuzz/fuzz.sh $(FUZZ) $(FUZZ_SECONDS)

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(B)/tests/conformance.d \
    $(FUZZ_OBJ:.o=.d)

.PHONY: all deps check check-one demo bench install clean man fuzz quant-table

deps:
	sh tests/deps.sh

# check-one: the whole suite against one build ($(B)); check: plain, then sanitizers
check-one: $(B)/nnpress $(B)/unit-tests $(B)/conformance $(FUZZ_BINS)
	sh tests/run.sh $(B)

# check, demo and bench install what is missing first (a no-op when all is there),
# then build in a fresh make so that pkg-config sees the new packages
check: deps
	$(MAKE) WERROR=1 check-one
	$(MAKE) WERROR=1 SAN=1 check-one

demo: deps
	$(MAKE) $(B)/nnpress
	sh tests/demo.sh $(B)

bench: deps
	$(MAKE) $(B)/nnpress $(B)/libnnpress.a
	sh tests/bench/run.sh $(B)

# the accuracy table of the quantized testdata models at the end of testdata/README
quant-table: $(B)/nnpress
	sh testdata/quant_table.sh $(B)/nnpress

# man/build.sh stamps each page with the date its source gives, never today's
MANS := $(wildcard man/*.scd)
MAN1 := $(filter %.1,$(MANS:.scd=))
MAN5 := $(filter %.5,$(MANS:.scd=))
man: $(MANS:.scd=)
man/%: man/%.scd man/build.sh
	sh man/build.sh $< > $@.tmp && mv $@.tmp $@

# each page goes to the folder of its section: man(1) looks nowhere else
install: $(B)/nnpress
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 755 $(B)/nnpress $(DESTDIR)$(PREFIX)/bin/nnpress
	install -m 644 $(MAN1) $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 $(MAN5) $(DESTDIR)$(PREFIX)/share/man/man5/

clean:
	rm -rf build build-san build-fuzz
