# libcontainerd-ffi: build, demo and tests. `make demo` and `make test` do all set-up themselves.
SHELL := /bin/bash
PROFILE_DIR := target/release
STATIC_LIB := $(PROFILE_DIR)/libcontainerd_ffi.a
SHARED_LIB := $(PROFILE_DIR)/libcontainerd_ffi.so
# What the Rust static library needs from the system (`cargo rustc -p libcontainerd-ffi -- --print native-static-libs`).
NATIVE_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
# The C example and harness read the busybox spec fixture at run time (capi/examples/busybox_spec.h).
CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pedantic -O1 -g -Icapi/include \
	-DLCD_BUSYBOX_SPEC_JSON='"$(CURDIR)/tests/fixtures/busybox_spec.json"'
BUILD := build
VALGRIND := valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite --track-fds=no

PREFIX ?= /usr/local
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)

.PHONY: bench bench-dockerd test-bench-dockerd all setup lib header example harness demo dockerd containerd test test-lib test-rust test-go test-go-gc test-c test-c-asan test-rust-asan test-asan asan-build tsan-build test-rust-tsan sanitizer-build test-sanitizers fuzz-build test-fuzz fuzz-smoke test-pkgconfig test-dockerd test-dockerd-faults dockerd-faults-build install clean

all: lib example harness

setup:
	bash tests/setup.sh

lib:
	cargo build --release --locked

# Regenerates capi/include/libcontainerd_ffi.h after a change of the C ABI; commit the result.
header:
	LCD_WRITE_HEADER=1 cargo build --release --locked

$(BUILD):
	mkdir -p $(BUILD)

example: lib | $(BUILD)
	$(CC) $(CFLAGS) -o $(BUILD)/run_container capi/examples/run_container.c $(STATIC_LIB) $(NATIVE_LIBS)

# The C harness: one binary (lifecycle_test) from its files by topic (capi/tests/c/harness.h).
HARNESS_SRC := $(wildcard capi/tests/c/*.c)
harness: lib | $(BUILD)
	$(CC) $(CFLAGS) -o $(BUILD)/lifecycle_test $(HARNESS_SRC) $(STATIC_LIB) $(NATIVE_LIBS)

# pkg-config file for the uninstalled tree (build/pkgconfig) or an installed prefix.
$(BUILD)/pkgconfig/libcontainerd_ffi.pc: capi/pkgconfig/libcontainerd_ffi.pc.in Cargo.toml | $(BUILD)
	mkdir -p $(BUILD)/pkgconfig
	sed -e 's|@PREFIX@|$(CURDIR)|; s|@LIBDIR@|$(CURDIR)/$(PROFILE_DIR)|; s|@INCLUDEDIR@|$(CURDIR)/capi/include|; s|@VERSION@|$(VERSION)|' $< > $@

install: lib
	install -D -m 0644 capi/include/libcontainerd_ffi.h $(DESTDIR)$(PREFIX)/include/libcontainerd_ffi.h
	install -D -m 0644 $(STATIC_LIB) $(DESTDIR)$(PREFIX)/lib/libcontainerd_ffi.a
	install -D -m 0755 $(SHARED_LIB) $(DESTDIR)$(PREFIX)/lib/libcontainerd_ffi.so
	mkdir -p $(DESTDIR)$(PREFIX)/lib/pkgconfig
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$${prefix}/lib|; s|@INCLUDEDIR@|$${prefix}/include|; s|@VERSION@|$(VERSION)|' \
		capi/pkgconfig/libcontainerd_ffi.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/libcontainerd_ffi.pc

# The example builds against the shared library through pkg-config, as a C user would.
test-pkgconfig: lib $(BUILD)/pkgconfig/libcontainerd_ffi.pc
	PKG_CONFIG_PATH=$(BUILD)/pkgconfig $(CC) $(CFLAGS) -o $(BUILD)/run_container_shared \
		capi/examples/run_container.c $$(PKG_CONFIG_PATH=$(BUILD)/pkgconfig pkg-config --cflags --libs libcontainerd_ffi)
	LD_LIBRARY_PATH=$(CURDIR)/$(PROFILE_DIR) ldd $(BUILD)/run_container_shared | grep -q 'libcontainerd_ffi.so => $(CURDIR)'
	@echo "pkg-config build of the example links $(SHARED_LIB)"

# The shared library exports exactly the header's functions; the archive got link-time optimisation.
test-lib: lib
	bash capi/tests/c/check_libraries.sh capi/include/libcontainerd_ffi.h $(STATIC_LIB) $(SHARED_LIB)

# The demonstration: a real container's lifecycle through the C ABI, on a private containerd
# (or the one named by LCD_CONTAINERD_ADDRESS).
demo: setup example
	bash tests/testbed.sh run -- bash -c '$(BUILD)/run_container "$$LCD_CONTAINERD_SOCKET" "$$LCD_TEST_ROOTFS" /tmp/lcd-demo-state'

# dockerd builds (dockerd/build.sh): for each version in DOCKERD_E2E, dockerd with this library
# linked in (build/dockerd/bin/dockerd-VERSION-lcd, when this checkout has that version's
# adapter), the same build unpatched (dockerd-VERSION-stock), and the docker CLI.
dockerd: lib
	for v in $(DOCKERD_VERSIONS); do LCD_DOCKERD_VERSION=$$v bash dockerd/build.sh all || exit 1; done

# The containerd versions `make test` runs against (tests/containerd_build.sh: "1.6" is Debian's
# package, "1.7" and "2" the pinned newest of those lines, built from source once and cached).
# The first is the default one (tests/testbed.sh's default too). Each version gets its own test
# bed directory (the first the usual one, the others that with "-containerd-VERSION" appended),
# so that none starts on another version's metadata; they run one after the other, so they share
# LCD_TESTBED_METRICS_PORT (a port of their own each could be taken by another test bed on the
# host).
TEST_CONTAINERD_VERSIONS ?= 2 1.7 1.6
# The dockerd end-to-end tests, DOCKERD_VERSION:CONTAINERD_VERSION: each dockerd version on the
# containerd its release ships with (moby's Dockerfile: v24.0.9 1.7.13, v27.5.1 1.7.25, v28.5.2
# 1.7.28, v2.0.0-beta.24 2.3.5), except v24, which stays on 2 where it has always been tested.
# A pair runs while `make test` is on its containerd version, so one whose containerd is not in
# TEST_CONTAINERD_VERSIONS does not run (`make test` says so). Narrow it like the other, e.g.
# `make test TEST_CONTAINERD_VERSIONS=2 DOCKERD_E2E=29:2`.
DOCKERD_E2E ?= 24:2 27:1.7 28:1.7 29:2
DOCKERD_VERSIONS ?= $(sort $(foreach pair,$(DOCKERD_E2E),$(firstword $(subst :, ,$(pair)))))
TESTBED_BASE_DIR = $(or $(LCD_TESTBED_DIR),/tmp/lcd-testbed)

# Builds (once; cached under ~/.cache/lcd-containerd) the containerd versions built from source.
containerd:
	for v in $(TEST_CONTAINERD_VERSIONS); do bash tests/containerd_build.sh bindir $$v >/dev/null || exit 1; done

# Every test, each containerd version in turn on a private containerd started for the run: the
# Rust, Go and C suites on each, the dockerd end-to-end tests (DOCKERD_E2E) on their containerd,
# the sanitizers and the fuzz smoke run on SANITIZER_CONTAINERD, and last on FAULTS_CONTAINERD
# (it kills that pass's containerd, and leaves it running) the dockerd fault test.
test: setup lib harness test-lib test-pkgconfig dockerd dockerd-faults-build containerd sanitizer-build
	set -e; i=0; for v in $(TEST_CONTAINERD_VERSIONS); do \
	  suites="test-rust test-go test-c"; dockerds=; \
	  for pair in $(DOCKERD_E2E); do [ "$${pair#*:}" = "$$v" ] && dockerds="$$dockerds $${pair%%:*}"; done; \
	  dockerds=$${dockerds# }; [ -n "$$dockerds" ] && suites="$$suites test-dockerd"; \
	  if [ "$$v" = "$(SANITIZER_CONTAINERD)" ]; then suites="$$suites test-sanitizers"; fi; \
	  if [ "$$v" = "$(FAULTS_CONTAINERD)" ]; then suites="$$suites test-dockerd-faults"; fi; \
	  dir=$(TESTBED_BASE_DIR); if [ $$i -gt 0 ]; then dir=$$dir-containerd-$$v; fi; \
	  echo "=== containerd $$v ($$dir): $$suites$${dockerds:+ (dockerd $$dockerds)}"; start=$$SECONDS; \
	  LCD_CONTAINERD_VERSION=$$v LCD_TESTBED_DIR=$$dir bash tests/testbed.sh run -- \
	    $(MAKE) --no-print-directory $$suites DOCKERD_VERSIONS="$$dockerds"; \
	  echo "=== containerd $$v: $$suites passed in $$((SECONDS - start)) s"; i=$$((i + 1)); \
	done
	for pair in $(DOCKERD_E2E); do case " $(TEST_CONTAINERD_VERSIONS) " in *" $${pair#*:} "*) ;; \
	  *) echo "=== dockerd $${pair%%:*} on containerd $${pair#*:} did not run: containerd $${pair#*:} is not in TEST_CONTAINERD_VERSIONS";; esac; done

test-rust:
	cargo test --profile release-tests --locked -- --test-threads=8

# Go's build cache does not look inside a library named in #cgo LDFLAGS: the library's digest in
# the cgo flags makes Go relink after the library changed (expanded when a recipe runs).
GO_CGO_CFLAGS = -O2 -g -DLCD_FFI_LIB_SHA256=$(shell sha256sum $(STATIC_LIB) | cut -c1-16)

# The Go binding links the static library; its tests run with the race detector. One package at
# a time: the differential suite reads containerd's RPC counters. Then the adapters of moby v27,
# v28 and v29 (inside a scratch copy of moby's tree): their compile-time assertions and the
# differential suite against each version's own remote client.
test-go: lib
	cd go && export CGO_CFLAGS="$(GO_CGO_CFLAGS)" && go vet ./... && go test -p 1 -race -count=1 ./...
	cd go && CGO_CFLAGS="$(GO_CGO_CFLAGS)" go test -c -o ../$(BUILD)/lcd-go.test ./lcd && ! ldd ../$(BUILD)/lcd-go.test | grep -q libcontainerd_ffi
	@echo "the Go test binary links the Rust library statically"
	for v in moby27 moby28; do (cd go/$$v && export CGO_CFLAGS="$(GO_CGO_CFLAGS)" && go vet ./... && go test -count=1 ./...) || exit 1; done
	CGO_CFLAGS="$(GO_CGO_CFLAGS)" bash go/moby29/typecheck.sh --test

# The docker CLI end to end against both builds of each dockerd version in DOCKERD_VERSIONS
# (expectation checks on each, then their transcripts of the same CLI script compared): any
# difference is a bug. A version whose lcd adapter is not in this checkout yet runs on stock only
# and says so. Every version runs; the first failure fails the target at the end, after the
# failed checks, differing steps and their changed lines of every version are repeated there
# (CI shows a log's end). First, the normalizer's own tests.
test-dockerd:
	python3 tests/dockerd_transcript_test.py
	status=0; failed=; for v in $(DOCKERD_VERSIONS); do \
	  start=$$SECONDS; log=$(BUILD)/dockerd-e2e-v$$v.log; \
	  { rc=0; \
	  if LCD_DOCKERD_VERSION=$$v bash dockerd/build.sh has-adapter; then \
	    nm $(BUILD)/dockerd/bin/dockerd-$$v-lcd | grep -q ' T lcd_client_connect$$' && \
	    ! ldd $(BUILD)/dockerd/bin/dockerd-$$v-lcd | grep -q libcontainerd_ffi && \
	    ! nm $(BUILD)/dockerd/bin/dockerd-$$v-stock | grep -q ' T lcd_' && \
	    echo "dockerd-$$v-lcd has the Rust library linked in statically; dockerd-$$v-stock does not" && \
	    LCD_DOCKERD_VERSION=$$v bash tests/dockerd_e2e.sh compare || rc=1; \
	  else \
	    echo "=== dockerd v$$v: its lcd adapter is not in this checkout: the end-to-end test on stock only"; \
	    LCD_DOCKERD_VERSION=$$v LCD_E2E_DIR=$${LCD_E2E_DIR:-/tmp/lcd-dockerd-e2e}-v$$v-stock \
	      bash tests/dockerd_e2e.sh stock || rc=1; \
	  fi; \
	  exit $$rc; } 2>&1 | tee $$log; \
	  if [ $${PIPESTATUS[0]} -ne 0 ]; then status=1; failed="$$failed $$v"; fi; \
	  echo "=== dockerd v$$v on containerd $${LCD_CONTAINERD_VERSION:-2}: $$((SECONDS - start)) s"; \
	done; \
	for v in $$failed; do echo "=== dockerd v$$v failed:"; grep -E '^(FAIL|--- differs|    [-+][^-+]|[0-9]+ of [0-9]+ transcript)|: [0-9]+ passed' $(BUILD)/dockerd-e2e-v$$v.log; done; \
	exit $$status

# dockerd-lcd under faults (issue 21) and failing commands (issue 19), each in its own
# directory (tests/dockerd_faults.sh, tests/dockerd_leaks.sh): containerd killed -9 at random
# (every 1-5 s, >= 10 times) under 40 s of run/exec/stop/rm load from 3 workers, then a 30 s
# outage while 5 containers and 2 execs exit: 0 hung commands, 0 lost exits, 0 orphans,
# descriptors and goroutines back to baseline, "task event stream is back" logged within 5 s of
# each containerd boot; then 150 failing `run -i` / `exec -i` commands (descriptors, goroutines
# and memory back to baseline). The fault test kills the test bed's containerd and leaves it
# running, so `make test` runs it last in the FAULTS_CONTAINERD pass (the first one, as the
# sanitizers), with dockerd FAULTS_DOCKERD (v24 by default). Bounded: the fault test by
# LCD_FAULT_DEADLINE_SECS (every wait in it has a deadline), the leak test by a timeout.
# Measured on 2 CPUs shared with other agents' builds: the fault test 80-94 s (a failing one
# up to ~150 s), the leak test ~80 s; the whole target 162 s and 198 s with the test bed's start
# and stop.
# `bash tests/dockerd_faults.sh stock` and `LCD_LEAK_FAILURES=1000 bash tests/dockerd_leaks.sh
# lcd|stock` give the numbers to compare (stock loses exits).
FAULTS_CONTAINERD ?= $(firstword $(TEST_CONTAINERD_VERSIONS))
FAULTS_DOCKERD ?= 24
DOCKERD_FAULTS_DIR = $(or $(LCD_E2E_DIR),/tmp/lcd-e2e)
dockerd-faults-build: lib
	LCD_DOCKERD_VERSION=$(FAULTS_DOCKERD) bash dockerd/build.sh all
test-dockerd-faults:
	LCD_DOCKERD_VERSION=$(FAULTS_DOCKERD) LCD_FAULT_DEADLINE_SECS=$${LCD_FAULT_DEADLINE_SECS:-420} \
	  LCD_E2E_DIR=$(DOCKERD_FAULTS_DIR)-faults bash tests/dockerd_faults.sh lcd
	LCD_DOCKERD_VERSION=$(FAULTS_DOCKERD) LCD_E2E_DIR=$(DOCKERD_FAULTS_DIR)-leaks LCD_LEAK_FAILURES=150 LCD_LEAK_RSS_SLACK_MIB=25 \
	  timeout -k 10 300 bash tests/dockerd_leaks.sh lcd

# The harness's bundles and FIFOs (a directory of its own lets parallel test beds share a host).
C_TEST_STATE ?= /tmp/lcd-c-test-state
test-c:
	$(VALGRIND) $(BUILD)/lifecycle_test "$$LCD_CONTAINERD_SOCKET" "$$LCD_TEST_ROOTFS" $(C_TEST_STATE)

# The C harness against a library whose Rust code is instrumented with AddressSanitizer (the
# flag is unstable; RUSTC_BOOTSTRAP allows it on the stable toolchain). Any report fails it.
# A target directory of its own (target/asan) leaves the normal build untouched.
ASAN_TARGET := x86_64-unknown-linux-gnu
ASAN_LIB := target/asan/$(ASAN_TARGET)/release-tests/libcontainerd_ffi.a
ASAN_CARGO := RUSTC_BOOTSTRAP=1 RUSTFLAGS=-Zsanitizer=address cargo
ASAN_CARGO_FLAGS := --locked --profile release-tests --target $(ASAN_TARGET) --target-dir target/asan
ASAN_RUN_OPTIONS := ASAN_OPTIONS=detect_leaks=1:halt_on_error=1
# Sanitizers and fuzzing in `make test` (README: "Sanitizers and fuzzing"), on one containerd
# version: the C harness and every Rust integration test against the ASan-instrumented library,
# then every fuzz target for FUZZ_SECONDS over its committed corpus. The builds come first
# (`sanitizer-build`, outside the test bed).
SANITIZER_CONTAINERD ?= 2
asan-build:
	$(ASAN_CARGO) build $(ASAN_CARGO_FLAGS) -p libcontainerd-ffi
	$(ASAN_CARGO) test --no-run $(ASAN_CARGO_FLAGS) --tests
test-c-asan: asan-build | $(BUILD)
	$(CC) $(CFLAGS) -fsanitize=address -o $(BUILD)/lifecycle_test_asan $(HARNESS_SRC) $(ASAN_LIB) $(NATIVE_LIBS)
	rm -rf $(C_TEST_STATE)-asan
	$(ASAN_RUN_OPTIONS) $(BUILD)/lifecycle_test_asan "$$LCD_CONTAINERD_SOCKET" "$$LCD_TEST_ROOTFS" $(C_TEST_STATE)-asan
# Every Rust test but memory.rs, which counts live heap blocks with its own allocator against a
# threshold set for normal timing (under ASan it saw 28 blocks over 192 lifecycles, limit 24);
# LeakSanitizer checks for leaks here instead.
ASAN_RUST_TESTS ?= $(filter-out memory,$(basename $(notdir $(wildcard tests/*.rs capi/tests/*.rs))))
test-rust-asan: asan-build
	$(ASAN_RUN_OPTIONS) $(ASAN_CARGO) test $(ASAN_CARGO_FLAGS) --lib $(foreach t,$(ASAN_RUST_TESTS),--test $(t)) -- --test-threads=8
test-asan: test-c-asan test-rust-asan

# ThreadSanitizer needs the standard library instrumented too (without it rustc refuses to mix,
# and forcing it gives false races in every Arc drop and std channel): -Zbuild-std, which needs
# the rust-src component (added here once through rustup). The concurrency tests only. Not in
# `make test` yet: see the README's "Sanitizers and fuzzing".
TSAN_CARGO := RUSTC_BOOTSTRAP=1 RUSTFLAGS=-Zsanitizer=thread cargo
TSAN_CARGO_FLAGS := --locked --profile release-tests -Zbuild-std --target $(ASAN_TARGET) --target-dir target/tsan
TSAN_RUST_TESTS ?= c_abi_safety start_cleanup stress
tsan-build:
	[ -d "$$(rustc --print sysroot)/lib/rustlib/src/rust/library" ] || rustup component add rust-src
	$(TSAN_CARGO) test --no-run $(TSAN_CARGO_FLAGS) $(foreach t,$(TSAN_RUST_TESTS),--test $(t))
test-rust-tsan: tsan-build
	TSAN_OPTIONS=halt_on_error=1 $(TSAN_CARGO) test $(TSAN_CARGO_FLAGS) $(foreach t,$(TSAN_RUST_TESTS),--test $(t)) -- --test-threads=4

# The Go binding's tests again, to catch a missing KeepAlive (a handle freed under a call): once
# with a collection at nearly every allocation, once with one at every handle access (-tags
# lcddebug). What they check does not depend on containerd's version, so `make test` runs them
# with the sanitizers, on one version.
test-go-gc: lib
	cd go && export CGO_CFLAGS="$(GO_CGO_CFLAGS)" && GOGC=1 go test -p 1 -count=1 ./... && go test -p 1 -count=1 -tags lcddebug ./...

sanitizer-build: asan-build fuzz-build
test-sanitizers: test-asan test-go-gc test-fuzz

FUZZ_TARGETS := spec_json process_json resources_json labels ids container_config checkpoint_tar event_payload stats_payload c_abi_sequences
FUZZ_SECONDS ?= 10
CARGO_FUZZ_VERSION := 0.13.2
fuzz-build:
	cargo fuzz --version 2>/dev/null | grep -q ' $(CARGO_FUZZ_VERSION)$$' || cargo install --locked cargo-fuzz --version $(CARGO_FUZZ_VERSION)
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz build --fuzz-dir .
# A short run of every target in CI; c_abi_sequences runs on the test bed: run under
# tests/testbed.sh (as `make test` does).
test-fuzz: fuzz-build
	for t in $(FUZZ_TARGETS); do bash fuzz/run.sh $$t $(FUZZ_SECONDS) || exit 1; done
fuzz-smoke: test-fuzz

# Benchmark (not a test; prints numbers): moby's libcontainerd/remote client against this
# project's Go adapter on one private containerd, alternating processes. BENCH_FLAGS tunes it.
BENCH_FLAGS ?= -rounds 3 -ops 20 -lifecycles 64 -growth 5000
bench: setup lib | $(BUILD)
	cargo build --release --locked --example native_calls
	cd go && CGO_CFLAGS="$(GO_CGO_CFLAGS)" go build -o ../$(BUILD)/lcdbench ./cmd/lcdbench
	bash tests/testbed.sh run -- $(BUILD)/lcdbench -drive $(BENCH_FLAGS) -native $(PROFILE_DIR)/examples/native_calls -json $(BUILD)/bench.json

# dockerd-level benchmark (not a test; prints numbers): dockerd-lcd against dockerd-stock through
# the Engine API with moby's Go client (bench/dockerd), both on one private containerd,
# alternating in rounds. BENCH_DOCKERD_VERSION picks the dockerd version (its lcd and stock
# builds, which bench-dockerd first builds or relinks with the current library); DOCKERD_LCD /
# DOCKERD_STOCK name other builds; BENCH_DOCKERD_FLAGS tunes it (-quick for a smoke run). See
# BENCHMARKS.md (its tables are v24's).
BENCH_DOCKERD_VERSION ?= 24
DOCKERD_LCD ?= $(BUILD)/dockerd/bin/dockerd-$(BENCH_DOCKERD_VERSION)-lcd
DOCKERD_STOCK ?= $(BUILD)/dockerd/bin/dockerd-$(BENCH_DOCKERD_VERSION)-stock
BENCH_DOCKERD_FLAGS ?= -rounds 3 -growth 5000
$(BUILD)/dockerdbench: $(wildcard bench/dockerd/*.go) bench/dockerd/go.mod bench/dockerd/go.sum | $(BUILD)
	cd bench/dockerd && GOFLAGS=-mod=mod go build -o ../../$(BUILD)/dockerdbench .
bench-dockerd: setup lib $(BUILD)/dockerdbench
	LCD_DOCKERD_VERSION=$(BENCH_DOCKERD_VERSION) bash dockerd/build.sh all
	bash tests/testbed.sh run -- $(BUILD)/dockerdbench -lcd $(DOCKERD_LCD) -stock $(DOCKERD_STOCK) \
		$(BENCH_DOCKERD_FLAGS) -json $(BUILD)/bench-dockerd.json

# The benchmark's smoke run (about a minute, so not in `make test`): it must run end to end.
test-bench-dockerd: $(BUILD)/dockerdbench
	bash tests/testbed.sh run -- $(BUILD)/dockerdbench -lcd $(DOCKERD_LCD) -stock $(DOCKERD_STOCK) -quick \
		-json $(BUILD)/bench-dockerd-quick.json

clean:
	cargo clean
	rm -rf $(BUILD)
