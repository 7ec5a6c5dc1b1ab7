# make celeba64: CelebA 64x64 (aligned JPEGs, downloaded by hand) → the seed
# README's 8-GPU command → IW NLL → samples → FID. make celeba64-mini: a
# generated 256-image CelebA-like zip through the same nvae-prep celeba64 step.
include $(dir $(lastword $(MAKEFILE_LIST)))common.mki

# Where img_align_celeba.zip (or img_align_celeba/) and list_eval_partition.txt
# were put by hand (torchvision's celeba/ sub-folder works too).
CELEBA_SRC ?= $(DATA_DIR)/celeba_org
CELEBA64_LMDB := $(DATA_DIR)/celeba64_lmdb

celeba64_DATASET    := celeba_64
celeba64_DATA       := $(CELEBA64_LMDB)
celeba64_PREP       := $(addprefix $(CELEBA64_LMDB)/,train.lmdb/manifest.json validation.lmdb/manifest.json test.lmdb/manifest.json)
celeba64_ROOT       := $(CHECKPOINT_DIR)
celeba64_EXPR       := $(call nvae_expr,celeba64)
celeba64_TRAIN_ARGS := --data $(DATA_DIR)/celeba64_lmdb --root $(CHECKPOINT_DIR) --save $(celeba64_EXPR) --dataset celeba_64 \
	--num_channels_enc 64 --num_channels_dec 64 --epochs 90 --num_postprocess_cells 2 --num_preprocess_cells 2 \
	--num_latent_scales 3 --num_latent_per_group 20 --num_cell_per_cond_enc 2 --num_cell_per_cond_dec 2 \
	--num_preprocess_blocks 1 --num_postprocess_blocks 1 --weight_decay_norm 1e-1 --num_groups_per_scale 20 \
	--batch_size 16 --num_nf 1 --ada_groups --num_process_per_node 8 --use_se --res_dist --fast_adamax
$(eval $(call nvae_pipeline,celeba64))

NVAE_CELEBA_MISSING := celeba64: CelebA is downloaded by hand: put img_align_celeba.zip and \
list_eval_partition.txt from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (Align&Cropped Images) into $(CELEBA_SRC)/ \
(or set CELEBA_SRC=...)
$(CELEBA64_LMDB)/train.lmdb/manifest.json: | $(NVAE_TOOLS_MISSING)
	$(call nvae_need,$(addprefix $(CELEBA_SRC)/,list_eval_partition.txt list_eval_partition.csv celeba),$(NVAE_CELEBA_MISSING))
	$(NVAE_BIN)/nvae-prep celeba64 --split train --img_path $(CELEBA_SRC) --lmdb_path $(CELEBA64_LMDB)
$(CELEBA64_LMDB)/validation.lmdb/manifest.json: | $(NVAE_TOOLS_MISSING)
	$(call nvae_need,$(addprefix $(CELEBA_SRC)/,list_eval_partition.txt list_eval_partition.csv celeba),$(NVAE_CELEBA_MISSING))
	$(NVAE_BIN)/nvae-prep celeba64 --split valid --img_path $(CELEBA_SRC) --lmdb_path $(CELEBA64_LMDB)
$(CELEBA64_LMDB)/test.lmdb/manifest.json: | $(NVAE_TOOLS_MISSING)
	$(call nvae_need,$(addprefix $(CELEBA_SRC)/,list_eval_partition.txt list_eval_partition.csv celeba),$(NVAE_CELEBA_MISSING))
	$(NVAE_BIN)/nvae-prep celeba64 --split test --img_path $(CELEBA_SRC) --lmdb_path $(CELEBA64_LMDB)

CELEBA64_MINI_SRC  := $(MINI_DIR)/src/celeba
CELEBA64_MINI_LMDB := $(MINI_DIR)/data/celeba64_lmdb
celeba64-mini_DATASET    := celeba_64
celeba64-mini_DATA       := $(CELEBA64_MINI_LMDB)
celeba64-mini_PREP       := $(addprefix $(CELEBA64_MINI_LMDB)/,train.lmdb/manifest.json validation.lmdb/manifest.json test.lmdb/manifest.json)
celeba64-mini_ROOT       := $(MINI_DIR)/checkpoints
celeba64-mini_EXPR       := celeba64-mini
celeba64-mini_TRAIN_ARGS := --data $(CELEBA64_MINI_LMDB) --root $(celeba64-mini_ROOT) --save celeba64-mini --dataset celeba_64 \
	--batch_size 8 --num_nf 1 --ada_groups $(NVAE_MINI_MODEL)
$(eval $(call nvae_pipeline,celeba64-mini))

$(CELEBA64_MINI_SRC)/list_eval_partition.txt:
	$(GO) run ./pipelines/gen celeba --out $(CELEBA64_MINI_SRC) --n 256
$(CELEBA64_MINI_LMDB)/train.lmdb/manifest.json: $(CELEBA64_MINI_SRC)/list_eval_partition.txt | $(NVAE_TOOLS_MISSING)
	$(NVAE_BIN)/nvae-prep celeba64 --split train --img_path $(CELEBA64_MINI_SRC) --lmdb_path $(CELEBA64_MINI_LMDB)
$(CELEBA64_MINI_LMDB)/validation.lmdb/manifest.json: $(CELEBA64_MINI_SRC)/list_eval_partition.txt | $(NVAE_TOOLS_MISSING)
	$(NVAE_BIN)/nvae-prep celeba64 --split valid --img_path $(CELEBA64_MINI_SRC) --lmdb_path $(CELEBA64_MINI_LMDB)
$(CELEBA64_MINI_LMDB)/test.lmdb/manifest.json: $(CELEBA64_MINI_SRC)/list_eval_partition.txt | $(NVAE_TOOLS_MISSING)
	$(NVAE_BIN)/nvae-prep celeba64 --split test --img_path $(CELEBA64_MINI_SRC) --lmdb_path $(CELEBA64_MINI_LMDB)
