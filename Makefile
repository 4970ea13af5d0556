# nnpress — build, test, install.
#
#   make            the nnpress binary (build/nnpress)
#   make deps       install the Debian and npm packages the build and tests need (as root)
#   make check      every test, then again under AddressSanitizer + UBSan
#   make demo       the main job on the bundled default model
#   make bench      nnpress against ONNX Runtime, same machine, same run
#   make install PREFIX=/usr/local DESTDIR=
#
# SAN=1 builds into build-san/ with -fsanitize=address,undefined.

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
PKGS := libprotobuf-c openblas libzstd zlib jansson
ONNX_PROTO ?= /usr/include/onnx/onnx.proto

ifeq ($(SAN),1)
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
CFLAGS += -std=c11 $(WARN) $(SANFLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
LDFLAGS += $(SANFLAGS)

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CPPFLAGS += -DNNP_VERSION='"$(VERSION)"'

LIB_SRC := $(wildcard kernels/*.c formats/*.c passes/*.c)
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

# every object may include the generated header, so generate it first
$(B)/%.o: %.c | $(B)/gen/onnx.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/libnnpress.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(B)/nnpress: $(CMD_OBJ) $(B)/libnnpress.a
	$(CC) $(LDFLAGS) -o $@ $(CMD_OBJ) $(B)/libnnpress.a $(LDLIBS)

$(B)/unit-tests: $(TEST_OBJ) $(B)/libnnpress.a
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJ) $(B)/libnnpress.a $(LDLIBS) $(shell pkg-config --libs criterion)

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

.PHONY: all deps check check-one demo bench install clean man

deps:
	sh tests/deps.sh

# check-one: the whole suite against one build ($(B)); check: plain, then sanitizers
check-one: $(B)/nnpress $(B)/unit-tests
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
	$(MAKE) $(B)/nnpress
	sh tests/bench/run.sh $(B)

MANS := $(wildcard man/*.scd)
man: $(MANS:.scd=)
man/%: man/%.scd
	scdoc < $< > $@

install: $(B)/nnpress
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(B)/nnpress $(DESTDIR)$(PREFIX)/bin/nnpress
	install -m 644 $(MANS:.scd=) $(DESTDIR)$(PREFIX)/share/man/man1/

clean:
	rm -rf build build-san
