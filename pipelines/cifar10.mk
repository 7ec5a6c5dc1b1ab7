# make cifar10: CIFAR-10 (downloaded by nvae-prep, MD5-checked) → the seed
# README's 8-GPU command → IW NLL → samples → FID. make cifar10-mini: 256
# generated 32x32 images written as CIFAR-10 binary batches.
include $(dir $(lastword $(MAKEFILE_LIST)))common.mki

# Optional offline folder holding cifar-10-binary.tar.gz (nvae-prep cifar10 --source).
CIFAR10_SRC ?=

cifar10_DATASET    := cifar10
cifar10_DATA       := $(DATA_DIR)/cifar10
cifar10_PREP       := $(DATA_DIR)/cifar10/cifar-10-batches-bin/manifest.json
cifar10_ROOT       := $(CHECKPOINT_DIR)
cifar10_EXPR       := $(call nvae_expr,cifar10)
cifar10_TRAIN_ARGS := --data $(DATA_DIR)/cifar10 --root $(CHECKPOINT_DIR) --save $(cifar10_EXPR) --dataset cifar10 \
	--num_channels_enc 128 --num_channels_dec 128 --epochs 400 --num_postprocess_cells 2 --num_preprocess_cells 2 \
	--num_latent_scales 1 --num_latent_per_group 20 --num_cell_per_cond_enc 2 --num_cell_per_cond_dec 2 \
	--num_preprocess_blocks 1 --num_postprocess_blocks 1 --num_groups_per_scale 30 --batch_size 32 \
	--weight_decay_norm 1e-2 --num_nf 1 --num_process_per_node 8 --use_se --res_dist --fast_adamax
$(eval $(call nvae_pipeline,cifar10))

$(cifar10_PREP): | $(NVAE_TOOLS_MISSING)
	$(NVAE_BIN)/nvae-prep cifar10 --data $(DATA_DIR)/cifar10 $(if $(CIFAR10_SRC),--source $(CIFAR10_SRC))

cifar10-mini_DATASET    := cifar10
cifar10-mini_DATA       := $(MINI_DIR)/data/cifar10
cifar10-mini_PREP       := $(MINI_DIR)/data/cifar10/cifar-10-batches-bin/test_batch.bin
cifar10-mini_ROOT       := $(MINI_DIR)/checkpoints
cifar10-mini_EXPR       := cifar10-mini
cifar10-mini_TRAIN_ARGS := --data $(cifar10-mini_DATA) --root $(cifar10-mini_ROOT) --save cifar10-mini --dataset cifar10 \
	--batch_size 8 --num_nf 1 $(NVAE_MINI_MODEL)
$(eval $(call nvae_pipeline,cifar10-mini))

$(cifar10-mini_PREP):
	$(GO) run ./pipelines/gen cifar10 --out $(cifar10-mini_DATA) --n 256
