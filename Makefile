# NVAE in Go: build, test, benchmarks, demo and the dataset pipelines.
GO      ?= go
BIN     := bin
BINARIES := nvae-prep nvae-train nvae-eval nvae-sample nvae-fid
# Fuzz seed corpora run as ordinary unit tests; CPU tests must stay under 15 min on 2 cores.
TESTFLAGS ?= -count=1 -timeout 30m

.PHONY: all build test vet bench bench-gpu demo clean flags-doc gpu-check

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
	$(GO) test $(TESTFLAGS) -tags purego ./pkg/gemm ./pkg/conv ./pkg/vmath ./pkg/backend/...
	GO=$(GO) scripts/arm64-build.sh

# Kernel, training-step and data tables (BENCH_QUICK=1 for a short run).
bench:
	scripts/bench.sh

# A folder to copy to a GPU machine without Go: the pkg/cuda tests prebuilt,
# bin/, and run.sh OUTDIR, which runs them on the real device and writes a
# table and JSON (see README, "Checking on a GPU").
gpu-check: build
	rm -rf gpu-check
	mkdir -p gpu-check/bin gpu-check/tests
	$(GO) test -c -o gpu-check/tests/cuda.test ./pkg/cuda
	cp $(addprefix $(BIN)/,$(BINARIES)) gpu-check/bin/
	cp scripts/gpu-check-run.sh gpu-check/run.sh
	@echo "gpu-check/: copy it to a GPU machine and run: gpu-check/run.sh OUTDIR"

# The main job on built-in data: offline MNIST → prep → train (CPU, a few
# minutes) → IW evaluation → sample grid. DEMO_MINUTES sets the training time.
demo: build
	scripts/demo.sh demo-out

# GPU benchmarks need the CUDA backend, which is not written yet.
bench-gpu:
	@echo "bench-gpu: pending: the CUDA backend does not exist yet (nvae-train --device_info shows what GPU libraries are found)" >&2; exit 1

# docs/flags.md from the binaries' --help.
flags-doc: build
	scripts/flags-doc.sh

clean:
	rm -rf $(BIN) demo-out mini gpu-check

-include pipelines/*.mk
