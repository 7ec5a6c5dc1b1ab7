# make imagenet32: ImageNet 32x32 (GLOW's tfrecords, downloaded by hand) → the
# seed README's command (3 nodes x 8 GPUs there) → IW NLL → samples → FID.
# make imagenet32-mini: 256 generated 32x32 images through nvae-prep images.
include $(dir $(lastword $(MAKEFILE_LIST)))common.mki

# Where imagenet-oord-tfr.tar was unpacked (its train/ and validation/ shards).
IMAGENET32_TFR ?= $(DATA_DIR)/imagenet-oord/mnt/host/imagenet-oord-tfr
IMAGENET32_LMDB := $(DATA_DIR)/imagenet-oord/imagenet-oord-lmdb_32

imagenet32_DATASET    := imagenet_32
imagenet32_DATA       := $(IMAGENET32_LMDB)
imagenet32_PREP       := $(addprefix $(IMAGENET32_LMDB)/,train.lmdb/manifest.json validation.lmdb/manifest.json)
imagenet32_ROOT       := $(CHECKPOINT_DIR)
imagenet32_EXPR       := $(call nvae_expr,imagenet32)
imagenet32_TRAIN_ARGS := --data $(DATA_DIR)/imagenet-oord/imagenet-oord-lmdb_32 --root $(CHECKPOINT_DIR) --save $(imagenet32_EXPR) --dataset imagenet_32 \
	--num_channels_enc 192 --num_channels_dec 192 --epochs 45 --num_postprocess_cells 2 --num_preprocess_cells 2 \
	--num_latent_scales 1 --num_latent_per_group 20 --num_cell_per_cond_enc 2 --num_cell_per_cond_dec 2 \
	--num_preprocess_blocks 1 --num_postprocess_blocks 1 --num_groups_per_scale 28 \
	--batch_size 24 --num_nf 1 --warmup_epochs 1 \
	--weight_decay_norm 1e-2 --weight_decay_norm_anneal --weight_decay_norm_init 1e0 \
	--num_process_per_node 8 --use_se --res_dist \
	--fast_adamax --node_rank $(NODE_RANK) --num_proc_node 3 --master_address $(IP_ADDR)
$(eval $(call nvae_pipeline,imagenet32))

NVAE_IMAGENET32_MISSING := imagenet32: the GLOW tfrecords are downloaded by hand: \
https://storage.googleapis.com/glow-demo/data/imagenet-oord-tfr.tar, unpacked in $(DATA_DIR)/imagenet-oord/ \
so that $(IMAGENET32_TFR)/train/ and validation/ exist (or set IMAGENET32_TFR=...)
$(IMAGENET32_LMDB)/train.lmdb/manifest.json: | $(NVAE_TOOLS_MISSING)
	$(call nvae_need,$(IMAGENET32_TFR)/train,$(NVAE_IMAGENET32_MISSING))
	$(NVAE_BIN)/nvae-prep tfrecord --dataset imagenet-oord_32 --tfr_path $(IMAGENET32_TFR) --lmdb_path $(IMAGENET32_LMDB) --split train
$(IMAGENET32_LMDB)/validation.lmdb/manifest.json: | $(NVAE_TOOLS_MISSING)
	$(call nvae_need,$(IMAGENET32_TFR)/validation,$(NVAE_IMAGENET32_MISSING))
	$(NVAE_BIN)/nvae-prep tfrecord --dataset imagenet-oord_32 --tfr_path $(IMAGENET32_TFR) --lmdb_path $(IMAGENET32_LMDB) --split validation

# Mini: generated images stored raw like the tfrecord conversion (nvae-prep
# images writes the same raw HWC LMDB layout).
IMAGENET32_MINI_LMDB := $(MINI_DIR)/data/imagenet32_lmdb
imagenet32-mini_DATASET    := imagenet_32
imagenet32-mini_DATA       := $(IMAGENET32_MINI_LMDB)
imagenet32-mini_PREP       := $(IMAGENET32_MINI_LMDB)/validation.lmdb/manifest.json
imagenet32-mini_ROOT       := $(MINI_DIR)/checkpoints
imagenet32-mini_EXPR       := imagenet32-mini
imagenet32-mini_TRAIN_ARGS := --data $(IMAGENET32_MINI_LMDB) --root $(imagenet32-mini_ROOT) --save imagenet32-mini --dataset imagenet_32 \
	--batch_size 8 --num_nf 1 $(NVAE_MINI_MODEL)
$(eval $(call nvae_pipeline,imagenet32-mini))

$(MINI_DIR)/src/images32/images:
	$(GO) run ./pipelines/gen images --out $(MINI_DIR)/src/images32 --size 32 --n 256
$(imagenet32-mini_PREP): | $(MINI_DIR)/src/images32/images $(NVAE_TOOLS_MISSING)
	$(NVAE_BIN)/nvae-prep images --src $(MINI_DIR)/src/images32/images --lmdb_path $(IMAGENET32_MINI_LMDB) --size 32 --valid_fraction 0.125
