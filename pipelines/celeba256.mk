# make celeba256: CelebA HQ 256x256, 5 bits (GLOW's tfrecords, downloaded by
# hand) → the seed README's command (3 nodes x 8 GPUs there) → IW NLL →
# samples → FID. make celeba256-mini: 256 generated 256x256 images through
# nvae-prep images (same raw HWC LMDB layout as the tfrecord conversion).
include $(dir $(lastword $(MAKEFILE_LIST)))common.mki

# Where celeba-tfr.tar was unpacked (its train/ and validation/ shards).
CELEBA256_TFR ?= $(DATA_DIR)/celeba/celeba-tfr
CELEBA256_LMDB := $(DATA_DIR)/celeba/celeba-lmdb

celeba256_DATASET    := celeba_256
celeba256_DATA       := $(CELEBA256_LMDB)
celeba256_PREP       := $(addprefix $(CELEBA256_LMDB)/,train.lmdb/manifest.json validation.lmdb/manifest.json)
celeba256_ROOT       := $(CHECKPOINT_DIR)
celeba256_EXPR       := $(call nvae_expr,celeba256)
celeba256_TRAIN_ARGS := --data $(DATA_DIR)/celeba/celeba-lmdb --root $(CHECKPOINT_DIR) --save $(celeba256_EXPR) --dataset celeba_256 \
	--num_channels_enc 30 --num_channels_dec 30 --epochs 300 --num_postprocess_cells 2 --num_preprocess_cells 2 \
	--num_latent_scales 5 --num_latent_per_group 20 --num_cell_per_cond_enc 2 --num_cell_per_cond_dec 2 \
	--num_preprocess_blocks 1 --num_postprocess_blocks 1 --weight_decay_norm 1e-2 --num_groups_per_scale 16 \
	--batch_size 4 --num_nf 2 --ada_groups --min_groups_per_scale 4 \
	--weight_decay_norm_anneal --weight_decay_norm_init 1. --num_process_per_node 8 --use_se --res_dist \
	--fast_adamax --num_x_bits 5 --node_rank $(NODE_RANK) --num_proc_node 3 --master_address $(IP_ADDR)
celeba256_SAMPLE_ARGS    := --num_samples 36
$(eval $(call nvae_pipeline,celeba256))

NVAE_CELEBA256_MISSING := celeba256: the GLOW tfrecords are downloaded by hand: \
https://storage.googleapis.com/glow-demo/data/celeba-tfr.tar, unpacked in $(DATA_DIR)/celeba/ \
so that $(CELEBA256_TFR)/train/ and validation/ exist (or set CELEBA256_TFR=...)
$(CELEBA256_LMDB)/train.lmdb/manifest.json: | $(NVAE_TOOLS_MISSING)
	$(call nvae_need,$(CELEBA256_TFR)/train,$(NVAE_CELEBA256_MISSING))
	$(NVAE_BIN)/nvae-prep tfrecord --dataset celeba --tfr_path $(CELEBA256_TFR) --lmdb_path $(CELEBA256_LMDB) --split train
$(CELEBA256_LMDB)/validation.lmdb/manifest.json: | $(NVAE_TOOLS_MISSING)
	$(call nvae_need,$(CELEBA256_TFR)/validation,$(NVAE_CELEBA256_MISSING))
	$(NVAE_BIN)/nvae-prep tfrecord --dataset celeba --tfr_path $(CELEBA256_TFR) --lmdb_path $(CELEBA256_LMDB) --split validation

CELEBA256_MINI_LMDB := $(MINI_DIR)/data/celeba256_lmdb
celeba256-mini_DATASET    := celeba_256
celeba256-mini_DATA       := $(CELEBA256_MINI_LMDB)
celeba256-mini_PREP       := $(CELEBA256_MINI_LMDB)/validation.lmdb/manifest.json
celeba256-mini_ROOT       := $(MINI_DIR)/checkpoints
celeba256-mini_EXPR       := celeba256-mini
celeba256-mini_TRAIN_ARGS := --data $(CELEBA256_MINI_LMDB) --root $(celeba256-mini_ROOT) --save celeba256-mini --dataset celeba_256 \
	--batch_size 2 --num_nf 1 --num_x_bits 5 --ada_groups $(NVAE_MINI_MODEL)
celeba256-mini_EVAL_ARGS      := --num_iw_samples 2 --max_images 4 --batch_size 2
celeba256-mini_SAMPLE_ARGS    := --num_samples 4 --batch_size 2 --readjust_iters 2 --readjust_batch 2
$(eval $(call nvae_pipeline,celeba256-mini))

$(MINI_DIR)/src/images256/images:
	$(GO) run ./pipelines/gen images --out $(MINI_DIR)/src/images256 --size 256 --n 256 --format jpg
$(celeba256-mini_PREP): | $(MINI_DIR)/src/images256/images $(NVAE_TOOLS_MISSING)
	$(NVAE_BIN)/nvae-prep images --src $(MINI_DIR)/src/images256/images --lmdb_path $(CELEBA256_MINI_LMDB) --size 256 --valid_fraction 0.125
