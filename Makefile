# Thin wrapper over CMake. `make run` and `make test` are the README's two
# commands: each installs missing Debian packages, builds and does its job.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= $(CURDIR)/build-fuzz
PORT       ?= 4040
DATA       ?= ./data
JOBS       ?= $(shell nproc)

.PHONY: all deps test-deps build run test test-unit test-asan clean

all: build

deps:
	./scripts/install-deps.sh

test-deps:
	./scripts/install-deps.sh --test

build: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/cmd/hearth -server.http-listen-port=$(PORT) -storage.path=$(DATA)

# Every test: unit + integration on a release build, then all of them again
# under AddressSanitizer + UndefinedBehaviorSanitizer built with clang, then
# every libFuzzer target for a bounded time (tests/fuzz/run.sh; FUZZ_SECONDS
# per target, 30 by default).
test: test-deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)
	ctest --test-dir $(BUILD) --output-on-failure -j 2
	CC=clang cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHEARTH_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j 2
	FUZZ_BUILD=$(FUZZ_BUILD) tests/fuzz/run.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
