# NVAE in Go: build, test, benchmarks, demo and the dataset pipelines.
GO      ?= go
BIN     := bin
BINARIES := nvae-prep nvae-train nvae-eval nvae-sample nvae-fid
# Fuzz seed corpora run as ordinary unit tests; CPU tests must stay under 15 min on 2 cores.
TESTFLAGS ?= -count=1 -timeout 30m

.PHONY: all build test vet bench bench-official bench-gpu demo clean flags-doc gpu-check

all: build

build: $(addprefix $(BIN)/,$(BINARIES))

$(BIN)/nvae-%: FORCE
	@mkdir -p $(BIN)
	$(GO) build -o $@ ./$*

FORCE:

# test: vet, every test (oracle data from testdata/oracle), the pure-Go
# kernel fallbacks (-tags purego), and the linux/arm64 cross-build.
test:
	$(GO) vet ./...
	$(GO) test $(TESTFLAGS) ./...
	$(GO) test $(TESTFLAGS) -tags purego ./pkg/gemm ./pkg/conv ./pkg/vmath ./pkg/rng ./pkg/backend/...
	GO=$(GO) scripts/arm64-build.sh

# Kernel, training-step and data tables (BENCH_QUICK=1 for a short run).
bench:
	scripts/bench.sh

# The official PyTorch NVAE beside nvae-train --benchmark on this CPU,
# alternating, on mnist_small and cifar_small: per-run figures and medians.
# OFFICIAL_NVAE=/path/to/NVAE names a clone of github.com/NVlabs/NVAE (not part
# of this repository; Debian's python3-torch runs it). ROUNDS (3), STEPS (5).
bench-official:
	@$(MAKE) -s build
	scripts/compare-official.sh $(BIN)/nvae-train

# A folder to copy to a GPU machine without Go: the GPU tests prebuilt
# (pkg/cuda, the CUDA backend's conformance suite, the oracle), nvae-train,
# the oracle data, and run.sh OUTDIR, which runs them, bench-gpu's five
# configurations and a one-rank NCCL training on the real device, and writes
# a table and JSON (see README, "Checking on a GPU"). gpu-check.tar.xz is the
# same folder packed (the device tool carries at most 64 MiB).
gpu-check: FORCE
	rm -rf gpu-check gpu-check.tar.xz
	mkdir -p gpu-check/bin gpu-check/tests gpu-check/testdata
	$(GO) build -ldflags='-s -w' -o gpu-check/bin/nvae-train ./train
	$(GO) test -c -ldflags='-s -w' -o gpu-check/tests/cuda.test ./pkg/cuda
	$(GO) test -c -ldflags='-s -w' -o gpu-check/tests/backend-cuda.test ./pkg/backend/cuda
	$(GO) test -c -ldflags='-s -w' -o gpu-check/tests/nvae.test ./pkg/nvae
	cp -r testdata/oracle/nvae gpu-check/testdata/nvae
	mkdir -p gpu-check/data/MNIST/raw
	src=$$($(GO) mod download -json $(GOMNIST_MODULE) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	[ -n "$$src" ] || { echo "gpu-check: cannot fetch $(GOMNIST_MODULE)" >&2; exit 1; }; \
	cp "$$src"/data/*.gz gpu-check/data/MNIST/raw/
	cp scripts/gpu-check-run.sh gpu-check/run.sh
	cp scripts/bench-gpu-table.sh gpu-check/
	printf '%s\n' $(foreach p,$(BENCH_GPU_CONFIGS),'$(p) $($(p)_TRAIN_ARGS)') > gpu-check/bench-configs.txt
	tar -cJf gpu-check.tar.xz gpu-check
	@echo "gpu-check/ ($$(du -sh gpu-check.tar.xz | cut -f1) packed): on a GPU machine run: gpu-check/run.sh OUTDIR"

# The main job on built-in data: offline MNIST → prep → train (CPU, a few
# minutes) → IW evaluation → sample grid. DEMO_MINUTES sets the training time.
demo: build
	scripts/demo.sh demo-out

# GPU benchmarks (a real GPU): nvae-train --benchmark for the five seed
# configurations at the seed's per-GPU batch (the pipelines' training flags:
# mnist 200, cifar10 32, celeba_64 16, imagenet_32 24, celeba_256 4), one
# JSON each, then a table beside the official figures. BENCH_GPU_FLAGS adds
# flags (e.g. --tf32); BENCH_GPU_DEVICE=cuda-emu runs it on the emulator.
BENCH_GPU_CONFIGS := mnist cifar10 celeba64 imagenet32 celeba256
BENCH_GPU_STEPS   ?= 20
BENCH_GPU_DEVICE  ?= cuda
BENCH_GPU_FLAGS   ?=
BENCH_GPU_OUT     ?= bench-gpu-out
bench_gpu = $(BIN)/nvae-train --device $(BENCH_GPU_DEVICE) --benchmark $(BENCH_GPU_STEPS) $(BENCH_GPU_FLAGS) $($(1)_TRAIN_ARGS) > $(BENCH_GPU_OUT)/$(1).json

bench-gpu: $(BIN)/nvae-train
	@mkdir -p $(BENCH_GPU_OUT)
	$(call bench_gpu,mnist)
	$(call bench_gpu,cifar10)
	$(call bench_gpu,celeba64)
	$(call bench_gpu,imagenet32)
	$(call bench_gpu,celeba256)
	scripts/bench-gpu-table.sh $(BENCH_GPU_OUT)

# docs/flags.md from the binaries' --help.
flags-doc: build
	scripts/flags-doc.sh

clean:
	rm -rf $(BIN) demo-out mini gpu-check gpu-check.tar.xz bench-gpu-out

-include pipelines/*.mk
