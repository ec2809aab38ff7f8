# The front door; CMake is the build.
#   make          build (release with debug info) into build/
#   make run      build and run the demo: the tasker daemon with two shell tasks
#   make quickstart  build and run examples/quickstart.c (the C API)
#   make test     sanitizer build (ASan + UBSan) into build-asan/, run every test
#   make test-cluster  the multi-node tests: several nodes on one MariaDB (minutes)
#   make test-galera   the same on a 3-member MariaDB Galera cluster (minutes)
#   make bench    build and run tasker-bench on memory: and SQLite
#   make bench-mysql  tasker-bench against a private MariaDB server
#   make install  install into PREFIX (default /usr/local)
#   make fuzz     build the libFuzzer targets with clang into build-fuzz/
# Each target first installs the Debian packages it needs (scripts/install-deps.sh SET):
# building needs no database server; the tests need MariaDB, clang and more.
PREFIX ?= /usr/local
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps deps-test build run quickstart test bench bench-mysql install clean fuzz

all: build

deps:
	@sh scripts/install-deps.sh build

deps-test:
	@sh scripts/install-deps.sh test

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS) >/dev/null
	@cmake --build build -j $(JOBS)

run: build
	@sh scripts/demo.sh ./build/tasker

quickstart: build
	@./build/quickstart

test: deps-test
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTASKER_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ctest --output-on-failure -j $(JOBS) $(CTEST_FLAGS)

# One after the other: each scenario loads both cores, and timing bounds are asserted.
.PHONY: test-cluster
test-cluster: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTASKER_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && TASKER_TEST_CLUSTER=1 ctest --output-on-failure -L cluster $(CTEST_FLAGS)

# Three nodes on a private 3-member Galera cluster (docs/cluster.md).
# TASKER_MYSQL_TRACE=DIR makes each node trace its claims into DIR. The test's output is
# shown even when it passes (-V): the split and each node's starts per 2 s, in CI's log.
.PHONY: test-galera
test-galera: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTASKER_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && TASKER_TEST_CLUSTER=1 ctest -V --output-on-failure -L galera $(CTEST_FLAGS)

# Each persistent store is measured twice: runs triggered one by one by 32 threads, then
# by 4 threads with tasker_trigger_many() in batches of 100 (one commit per batch).
BENCH_SQLITE = rm -f build/bench.db build/bench.db-wal build/bench.db-shm && \
	./build/tasker-bench $(1) --no-cron --lateness-s 0 --runs 200000 $(2) $(BENCH_ARGS)

bench: build
	@./build/tasker-bench memory: $(BENCH_ARGS)
	@$(call BENCH_SQLITE,sqlite:build/bench.db,--triggerers 32)
	@$(call BENCH_SQLITE,sqlite:build/bench.db,--triggerers 4 --batch 100 --samples 0)
	@$(call BENCH_SQLITE,"sqlite:build/bench.db?sync=full",--triggerers 32)
	@$(call BENCH_SQLITE,"sqlite:build/bench.db?sync=full",--triggerers 4 --batch 100 --samples 0)
	@$(call BENCH_SQLITE,sqlite:build/bench.db,--runs 1000 --samples 0 --herd 10000)
	@rm -f build/bench.db build/bench.db-wal build/bench.db-shm

bench-mysql: deps-test build
	@bash scripts/bench-mysql.sh $(BENCH_ARGS)

fuzz: deps-test
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DTASKER_FUZZ=ON -DTASKER_TESTS=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS)

install: build
	@cmake --install build

clean:
	rm -rf build build-asan build-fuzz
