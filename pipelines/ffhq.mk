# make ffhq: FFHQ 256x256, 5 bits (images1024x1024 downloaded by hand) → the
# seed README's command (3 nodes x 8 GPUs there) → IW NLL → samples → FID.
# make ffhq-mini: 256 generated 320x320 PNGs through the same nvae-prep ffhq.
include $(dir $(lastword $(MAKEFILE_LIST)))common.mki

# The FFHQ images1024x1024 folder (or a zip of it).
FFHQ_SRC ?= $(DATA_DIR)/ffhq/images1024x1024
FFHQ_LMDB := $(DATA_DIR)/ffhq/ffhq-lmdb

ffhq_DATASET    := ffhq
ffhq_DATA       := $(FFHQ_LMDB)
ffhq_PREP       := $(addprefix $(FFHQ_LMDB)/,train.lmdb/manifest.json validation.lmdb/manifest.json)
ffhq_ROOT       := $(CHECKPOINT_DIR)
ffhq_EXPR       := $(call nvae_expr,ffhq)
ffhq_TRAIN_ARGS := --data $(DATA_DIR)/ffhq/ffhq-lmdb --root $(CHECKPOINT_DIR) --save $(ffhq_EXPR) --dataset ffhq \
	--num_channels_enc 30 --num_channels_dec 30 --epochs 200 --num_postprocess_cells 2 --num_preprocess_cells 2 \
	--num_latent_scales 5 --num_latent_per_group 20 --num_cell_per_cond_enc 2 --num_cell_per_cond_dec 2 \
	--num_preprocess_blocks 1 --num_postprocess_blocks 1 --weight_decay_norm 1e-1  --num_groups_per_scale 16 \
	--batch_size 4 --num_nf 2  --ada_groups --min_groups_per_scale 4 \
	--weight_decay_norm_anneal --weight_decay_norm_init 1. --num_process_per_node 8 --use_se --res_dist \
	--fast_adamax --num_x_bits 5 --learning_rate 8e-3 --node_rank $(NODE_RANK) --num_proc_node 3 --master_address $(IP_ADDR)
ffhq_SAMPLE_ARGS    := --num_samples 36
$(eval $(call nvae_pipeline,ffhq))

NVAE_FFHQ_MISSING := ffhq: FFHQ is downloaded by hand: the images1024x1024 folder (70,000 PNGs) from \
https://github.com/NVlabs/ffhq-dataset into $(FFHQ_SRC) (or set FFHQ_SRC=... to the folder or a zip)
# The validation split reuses the permutation the train split's run saves.
$(FFHQ_LMDB)/train.lmdb/manifest.json: | $(NVAE_TOOLS_MISSING)
	$(call nvae_need,$(FFHQ_SRC),$(NVAE_FFHQ_MISSING))
	$(NVAE_BIN)/nvae-prep ffhq --ffhq_img_path $(FFHQ_SRC) --ffhq_lmdb_path $(FFHQ_LMDB) --split train
$(FFHQ_LMDB)/validation.lmdb/manifest.json: $(FFHQ_LMDB)/train.lmdb/manifest.json
	$(NVAE_BIN)/nvae-prep ffhq --ffhq_img_path $(FFHQ_SRC) --ffhq_lmdb_path $(FFHQ_LMDB) --split validation

FFHQ_MINI_SRC  := $(MINI_DIR)/src/images320/images
FFHQ_MINI_LMDB := $(MINI_DIR)/data/ffhq-lmdb
ffhq-mini_DATASET    := ffhq
ffhq-mini_DATA       := $(FFHQ_MINI_LMDB)
ffhq-mini_PREP       := $(addprefix $(FFHQ_MINI_LMDB)/,train.lmdb/manifest.json validation.lmdb/manifest.json)
ffhq-mini_ROOT       := $(MINI_DIR)/checkpoints
ffhq-mini_EXPR       := ffhq-mini
ffhq-mini_TRAIN_ARGS := --data $(FFHQ_MINI_LMDB) --root $(ffhq-mini_ROOT) --save ffhq-mini --dataset ffhq \
	--batch_size 2 --num_nf 1 --num_x_bits 5 --ada_groups $(NVAE_MINI_MODEL)
ffhq-mini_EVAL_ARGS      := --num_iw_samples 2 --max_images 4 --batch_size 2
ffhq-mini_SAMPLE_ARGS    := --num_samples 4 --batch_size 2 --readjust_iters 2 --readjust_batch 2
$(eval $(call nvae_pipeline,ffhq-mini))

$(FFHQ_MINI_SRC):
	$(GO) run ./pipelines/gen images --out $(dir $(FFHQ_MINI_SRC)) --size 320 --n 256
$(FFHQ_MINI_LMDB)/train.lmdb/manifest.json: | $(FFHQ_MINI_SRC) $(NVAE_TOOLS_MISSING)
	$(NVAE_BIN)/nvae-prep ffhq --ffhq_img_path $(FFHQ_MINI_SRC) --ffhq_lmdb_path $(FFHQ_MINI_LMDB) --split train
$(FFHQ_MINI_LMDB)/validation.lmdb/manifest.json: $(FFHQ_MINI_LMDB)/train.lmdb/manifest.json
	$(NVAE_BIN)/nvae-prep ffhq --ffhq_img_path $(FFHQ_MINI_SRC) --ffhq_lmdb_path $(FFHQ_MINI_LMDB) --split validation
