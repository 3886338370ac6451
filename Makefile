# pgrace — build, test and benchmark.
#
#   make            build build/pgrace and build/libpgfault.so
#   make run        run every fixed scenario on an embedded throwaway cluster
#   make check      the whole test suite under prove, then the sanitizer builds
#   make bench      benchmarks (ratios against peers measured in the same run)
#
# Sanitizer builds live in their own build directories so that they never mix
# objects with the normal build: `make SAN=asan BUILD=build/asan`.
#
# On a fresh Debian machine the two commands set themselves up: every build
# first runs `tools/deps ensure build` (and `make check` `... test`), which
# installs missing packages when run as root and otherwise stops with the
# one apt-get command to type. The stamp is remade only when dpkg's database
# changes, so the check costs nothing on later builds.

CC      ?= cc
BUILD   ?= build
SAN     ?=

PG_INCLUDEDIR := $(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
PG_LIBDIR     := $(shell pg_config --libdir 2>/dev/null || echo /usr/lib)

CFLAGS_SAN_asan := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
CFLAGS_SAN_tsan := -fsanitize=thread -fno-omit-frame-pointer
CFLAGS_SAN      := $(CFLAGS_SAN_$(SAN))

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread \
           -I. -I$(PG_INCLUDEDIR) $(CFLAGS_SAN)
LDFLAGS += -pthread $(CFLAGS_SAN) -L$(PG_LIBDIR)
LDLIBS  += -lpq -ljansson -lm

LIB_SRCS      := $(wildcard lib/*.c)
# spec/ (the isolation spec language) reuses two of the shim's parts: its
# statement classifier and its error= rule, which builds the RAISE a step
# fault sends (both plain C with no libpq interposition).
PGRACE_SRCS   := $(LIB_SRCS) $(wildcard harness/*.c) $(wildcard scenarios/*.c) $(wildcard reports/*.c) \
                 $(wildcard spec/*.c) faults/classify.c faults/spec.c
PGRACE_OBJS   := $(PGRACE_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_SRCS     := $(wildcard t/unit/*.c)
UNIT_BINS     := $(UNIT_SRCS:t/unit/%.c=$(BUILD)/t/%)

# --- fault shim (faults/) -------------------------------------------------
# Every faults/*.c goes into the preload library; it is position independent
# and links only what it must, because it is loaded into other people's
# programs.  It links libpq itself so that RTLD_NEXT finds the real libpq
# even in programs that dlopen it (Python, Perl extensions).
SHIM_SRCS     := $(wildcard faults/*.c)
SHIM_OBJS     := $(SHIM_SRCS:%.c=$(BUILD)/pic/%.o)
SHIM_LDLIBS   := -ldl -lpq
# The shim's unit tests (t/unit/pgf_*.c) link the shim's objects into the
# test program itself (exported with -rdynamic, so that they interpose libpq
# as the preloaded library would): this works in sanitizer builds, where an
# instrumented .so cannot be preloaded into an uninstrumented program.
$(BUILD)/t/pgf_%: t/unit/pgf_%.c $(SHIM_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -rdynamic -o $@ $^ $(SHIM_LDLIBS) -lm
# --------------------------------------------------------------------------

.PHONY: all run check check-asan check-tsan test bench clean

all: $(BUILD)/pgrace $(BUILD)/isolationtester $(BUILD)/libpgfault.so $(UNIT_BINS)

DPKG_STATUS := $(wildcard /var/lib/dpkg/status)
.PRECIOUS: $(BUILD)/.deps-%
$(BUILD)/.deps-%: tools/deps $(DPKG_STATUS)
	@tools/deps ensure $*
	@mkdir -p $(dir $@)
	@touch $@

$(BUILD)/pgrace: $(PGRACE_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# pgrace under the name isolationtester is PostgreSQL 15's isolationtester
# (for pg_isolation_regress and run-suite).
$(BUILD)/isolationtester: $(BUILD)/pgrace
	ln -sf pgrace $@

$(BUILD)/libpgfault.so: $(SHIM_OBJS)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(SHIM_LDLIBS)

$(BUILD)/obj/%.o: %.c | $(BUILD)/.deps-build
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/pic/%.o: %.c | $(BUILD)/.deps-build
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -MMD -MP -c -o $@ $<

# A unit test links every lib/ object: lib/ has no main().
$(BUILD)/t/%: t/unit/%.c $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The soak planner's tests also link it.
$(BUILD)/t/soak_%: t/unit/soak_%.c $(BUILD)/obj/harness/soakplan.o $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

run: all
	$(BUILD)/pgrace run

# prove runs t/*.t (Perl, Test::More) and the compiled unit tests.
test: $(BUILD)/.deps-test all
	PGRACE_BUILD=$(BUILD) prove -f t/*.t $(UNIT_BINS)

check: test check-asan check-tsan

check-asan:
	$(MAKE) SAN=asan BUILD=build/asan test

# ThreadSanitizer: the driver and the shim under N workers (t/*-tsan-*.t pick
# what is worth the slow-down; see README).
check-tsan:
	$(MAKE) SAN=tsan BUILD=build/tsan all
	PGRACE_BUILD=build/tsan PGRACE_TSAN=1 prove -f t/*.t

bench: all
	bench/run $(BUILD)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
