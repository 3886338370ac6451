# pgrace — build, test and benchmark.
#
#   make            build build/pgrace and build/libpgfault.so
#   make run        run every fixed scenario on an embedded throwaway cluster
#   make check      the whole test suite under prove, then the sanitizer builds
#   make bench      benchmarks (ratios against peers measured in the same run)
#   make examples   the seeds' operations as Go, Java, Node and Python programs
#   make check-examples-oracle   those programs in every stack under the serial oracle (t/87, minutes)
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
# make MUTANTS=1 BUILD=build/mutant: the mutation build (engine/mutant.h),
# whose fixed forms drop the guarantee $PGRACE_MUTANT names (t/55-pins.t).
CFLAGS_MUTANTS  := $(if $(MUTANTS),-DPGRACE_MUTANTS)

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread \
           -I. -I$(PG_INCLUDEDIR) $(CFLAGS_SAN) $(CFLAGS_MUTANTS)
LDFLAGS += -pthread $(CFLAGS_SAN) -L$(PG_LIBDIR)
LDLIBS  += -lpq -ljansson -lm

LIB_SRCS      := $(wildcard lib/*.c)
# The layers, top down (LAYERS.md; t/02-layers.t checks that no include or
# call points up): cli/ -> modes/ -> scenarios/ -> isolation/ -> sched/ ->
# proxy/ -> engine/ -> reports/ -> lib/. pgrace shares the fault grammar with the shim
# (faults/grammar.h: the parser, the matcher and the statement classifier;
# plain C with no libpq interposition).
LAYER_DIRS    := cli modes scenarios isolation sched proxy engine reports lib
GRAMMAR_SRCS  := faults/grammar.c faults/match.c faults/classify.c faults/logline.c
PGRACE_SRCS   := $(foreach d,$(LAYER_DIRS),$(wildcard $(d)/*.c)) $(GRAMMAR_SRCS)
PGRACE_OBJS   := $(PGRACE_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_SRCS     := $(wildcard t/unit/*.c)
UNIT_BINS     := $(UNIT_SRCS:t/unit/%.c=$(BUILD)/t/%)
# What prove runs bare: every unit test but those that need a server and the
# shim's settings, which their .t files run under a throwaway cluster
# (pgf_count and pgf_dlopen: t/30-shim-count.t, t/30-shim-clients.t). Run
# bare, those bail out: nothing in this list can only skip. (kit_connstate
# and lib_pooler start their own cluster and pgbouncer, a test dependency:
# they run bare, in the normal and the ASan pass, as every unit test.)
UNIT_SERVER   := pgf_count pgf_dlopen
UNIT_TESTS    := $(filter-out $(UNIT_SERVER:%=$(BUILD)/t/%),$(UNIT_BINS))

# --- fault shim (faults/) -------------------------------------------------
# Every faults/*.c goes into the preload library, with lib/parse.c (the one
# grammar of durations) and lib/hash.c (the gate's digest of a statement's
# parameters), which depend on libc only; it is position
# independent and links only what it must, because it is loaded into other
# people's programs.  It links libpq itself (DT_NEEDED) so that RTLD_NEXT
# finds the real libpq even in programs that dlopen it (Python, Perl
# extensions), and so that dlsym on the handle faults/dl.c gives for a
# dlopen of libpq finds every libpq function the shim does not wrap.
# -z nodelete: that handle may be dlclosed, the shim must stay.
SHIM_SRCS     := $(wildcard faults/*.c) lib/parse.c lib/hash.c
SHIM_OBJS     := $(SHIM_SRCS:%.c=$(BUILD)/pic/%.o)
SHIM_LDLIBS   := -ldl -lpq
# faults/dl.c passes dlopen on as a tail call so that glibc still sees the
# program's caller (its RUNPATH, $ORIGIN): that needs sibling-call
# optimization whatever CFLAGS says (the last -O wins).
$(BUILD)/pic/faults/dl.o: CFLAGS += -O2 -foptimize-sibling-calls
# The shim's unit tests (t/unit/pgf_*.c) link the shim's objects into the
# test program itself (exported with -rdynamic, so that they interpose libpq
# as the preloaded library would): this works in sanitizer builds, where an
# instrumented .so cannot be preloaded into an uninstrumented program.
$(BUILD)/t/pgf_%: t/unit/pgf_%.c $(SHIM_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -rdynamic -o $@ $^ $(SHIM_LDLIBS) -lm
# t/unit/pgf_dlopen.c once more, linking neither the shim nor libpq: a client
# that only dlopens libpq, as FFI bindings do, for the preloaded shim
# (t/30-shim-clients.t).  Its rule follows `all`.
DLOPEN_CLIENT := $(BUILD)/t/dlopen_client
# --------------------------------------------------------------------------

.PHONY: all run check check-asan check-tsan test bench clean mutant print-unit-tests examples clients fuzz \
        check-examples-oracle

all: $(BUILD)/pgrace $(BUILD)/isolationtester $(BUILD)/libpgfault.so $(UNIT_BINS) $(DLOPEN_CLIENT)

DPKG_STATUS := $(wildcard /var/lib/dpkg/status)
.PRECIOUS: $(BUILD)/.deps-%
$(BUILD)/.deps-%: tools/deps $(DPKG_STATUS)
	@tools/deps ensure $*
	@mkdir -p $(dir $@)
	@touch $@

# pgrace re-executes itself with the shim beside it for explore, --fault and
# fault plans: `make build/pgrace` alone builds both.
$(BUILD)/pgrace: $(PGRACE_OBJS) | $(BUILD)/libpgfault.so
	$(CC) $(LDFLAGS) -o $@ $(PGRACE_OBJS) $(LDLIBS)

# pgrace under the name isolationtester is PostgreSQL 15's isolationtester
# (for pg_isolation_regress and run-suite).
$(BUILD)/isolationtester: $(BUILD)/pgrace
	ln -sf pgrace $@

$(BUILD)/libpgfault.so: $(SHIM_OBJS)
	$(CC) -shared $(LDFLAGS) -Wl,-z,nodelete -o $@ $^ $(SHIM_LDLIBS)

$(DLOPEN_CLIENT): t/unit/pgf_dlopen.c | $(BUILD)/.deps-build
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -ldl

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

# The explorer's enumerations are tested on their own, with simulated workers.
EXPLORE_PURE := $(addprefix $(BUILD)/obj/sched/,dfs.o equiv.o pct.o schedule.o)
$(BUILD)/t/explore_%: t/unit/explore_%.c $(EXPLORE_PURE) $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The soak planner's tests also link it.
$(BUILD)/t/soak_%: t/unit/soak_%.c $(BUILD)/obj/modes/soakplan.o $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The wire proxy's real drivers (t/32-proxy-drivers.t, t/clients/): built
# once under build/t/clients whichever BUILD runs the tests. pgx from
# Debian's Go sources in GOPATH mode (no module download), its build cache
# under build/; node's pg as package-lock.json pins it (npm ci).
CLIENTS_DIR   := build/t/clients
PROXY_CLIENTS := $(CLIENTS_DIR)/JdbcCases.class $(CLIENTS_DIR)/pgx_cases $(CLIENTS_DIR)/node/node_modules/.package-lock.json

$(CLIENTS_DIR)/JdbcCases.class: t/clients/JdbcCases.java | $(BUILD)/.deps-test
	@mkdir -p $(dir $@)
	javac -d $(CLIENTS_DIR) -cp /usr/share/java/postgresql.jar $<

$(CLIENTS_DIR)/pgx_cases: t/clients/pgx_cases.go | $(BUILD)/.deps-test
	@mkdir -p $(dir $@)
	GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$(CURDIR)/build/t/go-cache go build -o $@ $<

$(CLIENTS_DIR)/node/node_modules/.package-lock.json: t/clients/node/package.json t/clients/node/package-lock.json | $(BUILD)/.deps-test
	@mkdir -p $(CLIENTS_DIR)/node
	cp t/clients/node/package.json t/clients/node/package-lock.json $(CLIENTS_DIR)/node/
	cd $(CLIENTS_DIR)/node && npm ci --no-audit --no-fund --loglevel=error

clients: $(PROXY_CLIENTS)

# The proxy's own tests link the proxy, the fault grammar and lib/ (not
# proxy/way.c, the proxy as the engine's way in: pgrace exec's, t/86):
# proxy_fuzz (its protocol side on the corpus t/corpus/proxy and mutations)
# and proxy_gate (the gate and the backend pids, against a real server).
PROXY_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out proxy/way.c,$(wildcard proxy/*.c)) $(GRAMMAR_SRCS) $(LIB_SRCS))
$(BUILD)/t/proxy_%: t/unit/proxy_%.c $(PROXY_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# A longer fuzz run of the proxy's protocol side (make check runs 20000).
fuzz:
	$(MAKE) SAN=asan BUILD=build/asan build/asan/t/proxy_fuzz
	PROXY_FUZZ_N=$${PROXY_FUZZ_N:-2000000} build/asan/t/proxy_fuzz

# The scenario kit's tests link the kit and the driver's batch of declared
# SQL (the normal pass and the ASan/UBSan pass run them, as every unit test).
KIT_OBJS := $(addprefix $(BUILD)/obj/engine/,inv.o call.o connstate.o faultctl.o mutant.o batch.o)
$(BUILD)/t/kit_%: t/unit/kit_%.c $(KIT_OBJS) $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The serial oracle's comparison and search, against a real server.
ORACLE_OBJS := $(addprefix $(BUILD)/obj/engine/,state.o oracle.o)
$(BUILD)/t/oracle_%: t/unit/oracle_%.c $(ORACLE_OBJS) $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

run: all
	$(BUILD)/pgrace run

# --- examples (examples/README.md) ----------------------------------------
# The seeds' operations as real programs in four stacks, for pgrace exec and
# t/85-examples.t; each is build/examples/OP-STACK FORM, and every stack's
# programs share examples/worker/ (the worker contract's plumbing). Go over
# Debian's pgx in GOPATH mode (GO111MODULE=off: nothing is downloaded; a
# GOPATH of ours holds examples/ under the import path "examples", and the
# build cache is ours too), Java over Debian's JDBC driver with plain javac
# (a wrapper script runs the class), Node over pg from the npm registry (npm
# ci, the versions examples/package-lock.json pins), Python over Debian's
# asyncpg (the scripts run as they are: the Node and Python entries are
# links). Each is remade only when its sources change.
EX_OPS          := attestation envmerge nullifier
EX_OUT          := build/examples
EX_PROGS        := $(foreach s,go java node python,$(EX_OPS:%=$(EX_OUT)/%-$(s)))
EX_GOPATH       := $(abspath $(EX_OUT))/gopath
EX_GOENV        := GO111MODULE=off GOPATH=$(EX_GOPATH):/usr/share/gocode GOFLAGS= GOCACHE=$(abspath $(EX_OUT))/go-cache
EX_JDBC         := /usr/share/java/postgresql.jar
EX_NODE_MODULES := examples/node_modules/.package-lock.json

examples: $(EX_PROGS)

$(EX_OUT)/%-go: | $(BUILD)/.deps-examples
	@mkdir -p $(EX_GOPATH)/src
	@ln -sfn $(abspath examples) $(EX_GOPATH)/src/examples
	$(EX_GOENV) go build -o $@ examples/$*
$(foreach op,$(EX_OPS),$(eval $(EX_OUT)/$(op)-go: examples/$(op)/$(op).go examples/worker/worker.go))

$(EX_OUT)/java/.built: $(wildcard examples/*/*.java) | $(BUILD)/.deps-examples
	@mkdir -p $(@D)
	javac -Xlint:all,-serial -Werror -d $(@D) -cp $(EX_JDBC) $^
	@touch $@

# The JVM flags are the usual ones for a short-lived command: one GC thread,
# the quick compiler only (less CPU for a one-call run), no perf-data file
# (nothing left in /tmp by a JVM that is killed).
$(EX_OUT)/%-java: $(EX_OUT)/java/.built
	printf '#!/bin/sh\n# made by make examples: examples/$*/ in Java (examples/README.md)\nexec java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -cp "$$(dirname "$$0")/java:$(EX_JDBC)" %s "$$@"\n' \
	    $(basename $(notdir $(wildcard examples/$*/*.java))) > $@
	chmod +x $@

$(EX_NODE_MODULES): examples/package.json examples/package-lock.json | $(BUILD)/.deps-examples
	cd examples && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(EX_OUT)/%-node: | $(EX_NODE_MODULES)
	@mkdir -p $(@D)
	ln -sfn $(abspath examples/$*/$*.js) $@

$(EX_OUT)/%-python: | $(BUILD)/.deps-examples
	@mkdir -p $(@D)
	ln -sfn $(abspath examples/$*/$*.py) $@

# prove runs t/*.t (Perl, Test::More) and the compiled unit tests.
# The suite runs its files in parallel (PROVE_JOBS): each file that needs a
# server starts its own throwaway cluster, so none shares state with another,
# and most of a file's time is spent waiting on its server.
PROVE_JOBS ?= 4
PROVE      := prove -f -j$(PROVE_JOBS)
# prove starts files in the order given: the longest first, so that the
# pass does not end with one long file running alone on an idle core.
LONG_TESTS := t/90-explore.t t/85-examples.t t/87-exec-oracle.t t/45-oracle.t t/50-matrix.t t/55-pins.t t/80-isolation.t
TEST_FILES := $(LONG_TESTS) $(filter-out $(LONG_TESTS),$(wildcard t/*.t))

test: $(BUILD)/.deps-test all mutant clients examples
	PGRACE_BUILD=$(BUILD) $(PROVE) $(TEST_FILES) $(UNIT_TESTS)

# The unit tests prove runs bare (t/03-check-kit.t reads the list).
print-unit-tests:
	@echo $(UNIT_TESTS)

# The mutation build t/55-pins.t runs (engine/mutant.h).
mutant:
	$(MAKE) MUTANTS=1 BUILD=build/mutant build/mutant/pgrace build/mutant/libpgfault.so

# The two sanitizer passes run side by side after the normal one: the
# TSan pass is mostly its one long file (the explorer's), which leaves the
# CPU to the ASan pass. -O keeps each pass's output in one piece.
check: test
	$(MAKE) --no-print-directory -j2 -O check-asan check-tsan

# The sanitizer passes run what their sanitizer can find something in, not
# everything again. AddressSanitizer+UBSan: every test that drives pgrace's C
# code, but the matrix (t/50: the same code as t/4x under more plans), the
# pins (t/55: the normal build with a switch), the dependency script (t/05),
# the unit tests' TAP kit (t/03: a probe compiled on its own), the JUnit
# schema (t/61: xmllint on fixed documents), PGXS's pg_isolation_regress
# running pgrace (t/83: the drop-in; t/80 runs the same code), the
# third-party clients (t/30-shim-clients: an instrumented shim cannot be
# preloaded into them) and the example programs under pgrace exec (t/85:
# exec's C is t/86's, with cheaper programs; t/87 runs its psql programs
# there, its example programs in the normal pass only); the serial oracle's test (t/45)
# among them, at one worker count. The wire proxy's tests run there too
# (t/32-proxy, t/32-proxy-drivers: the proxy is pgrace itself, the drivers
# talk to it over a socket; proxy_fuzz's mutated conversations, proxy_gate).
# ThreadSanitizer: what runs threads — the driver's
# workers and deadlines (t/20, t/24, t/44 with two connections per worker),
# the shim's counters and gate under concurrent workers (t/31, t/30-shim-count
# which runs pgf_count and the dlopen path with 8 threads),
# soak (t/70), the explorer's scheduler (t/90, whose fixed forms run with
# the serial oracle on: its serial runs on the driver's thread beside idle
# workers), the wire proxy's connection threads, cancel routing, gate and
# stop (t/32-proxy, proxy_gate), and pgrace exec (t/86: workers' processes
# waited on by the driver's threads, their statements credited from the
# proxy's, the rendezvous; t/87's psql programs: the serial oracle's
# reruns on the driver's thread, passed by the proxy's). The pooler's test (t/25)
# runs in the normal pass only: its time is pgbouncer's and the server's;
# pgrace's side of it (lib/pooler.c) runs under ASan in its unit test
# (lib_pooler), and its threads are the driver's and the scheduler's, which
# TSan sees in t/20 and t/90.
ASAN_TESTS := $(filter-out t/03-check-kit.t t/05-deps.t t/25-pooler.t t/30-shim-clients.t t/50-matrix.t t/55-pins.t \
                t/61-junit-schema.t t/83-pgxs.t t/85-examples.t,$(TEST_FILES))
TSAN_TESTS := t/90-explore.t t/70-soak-replay.t t/87-exec-oracle.t t/86-exec.t t/20-attestation.t t/24-deadline.t \
              t/30-shim-count.t t/31-faults.t t/32-proxy.t t/44-credstore.t

check-asan: clients
	$(MAKE) SAN=asan BUILD=build/asan all
	PGRACE_BUILD=build/asan $(PROVE) $(ASAN_TESTS) $(patsubst build/%,build/asan/%,$(UNIT_TESTS))

# TSan sleeps a second in every process's exit (atexit_sleep_ms, for races
# with exit handlers); the pass starts hundreds of pgrace processes, so it
# sleeps 50 ms there: a window for such races stays, minutes of idling go.
check-tsan:
	$(MAKE) SAN=tsan BUILD=build/tsan all
	TSAN_OPTIONS="atexit_sleep_ms=50 $$TSAN_OPTIONS" PGRACE_BUILD=build/tsan PGRACE_TSAN=1 $(PROVE) $(TSAN_TESTS) build/tsan/t/explore_dfs build/tsan/t/proxy_gate

# t/87's whole matrix: every stack under the serial oracle, --explore
# --faults for every operation in Go, and the README's whole table (about
# six minutes here: `make check` runs the Go column and one other cell).
check-examples-oracle: $(BUILD)/.deps-test all examples
	PGRACE_BUILD=$(BUILD) PGRACE_EXAMPLES_ALL=1 prove -v t/87-exec-oracle.t

bench: all
	bench/run $(BUILD)

clean:
	rm -rf build examples/node_modules examples/worker/__pycache__

-include $(shell find build -name '*.d' 2>/dev/null)
