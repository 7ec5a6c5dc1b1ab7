# make lsun_church64: LSUN church outdoor at 64x64, the paper's follow-up
# setting. No NVAE seed command exists for it: the pipeline uses the NVAE
# backbone command of the VAEBM paper (NVlabs/VAEBM README, "LSUN Churches
# Outdoor 64") with NVAE's default discretized logistic mixture decoder
# instead of its --num_mixture_dec 1, so that the NLL in bits/dim is
# comparable with the other datasets. See docs/pipelines.md.
# make lsun_church64-mini: generated JPEG LMDBs in LSUN's layout.
include $(dir $(lastword $(MAKEFILE_LIST)))common.mki

# The folder holding church_outdoor_train_lmdb/ and church_outdoor_val_lmdb/.
LSUN_DIR ?= $(DATA_DIR)/lsun

lsun_church64_DATASET    := lsun_church_64
lsun_church64_DATA       := $(LSUN_DIR)
lsun_church64_PREP       := $(LSUN_DIR)/church_outdoor.checked
lsun_church64_ROOT       := $(CHECKPOINT_DIR)
lsun_church64_EXPR       := $(call nvae_expr,lsun_church64)
lsun_church64_TRAIN_ARGS := --data $(LSUN_DIR) --root $(CHECKPOINT_DIR) --save $(lsun_church64_EXPR) --dataset lsun_church_64 \
	--num_channels_enc 48 --num_channels_dec 48 --epochs 60 --num_postprocess_cells 2 --num_preprocess_cells 2 \
	--num_latent_scales 3 --num_latent_per_group 20 --num_cell_per_cond_enc 2 --num_cell_per_cond_dec 2 \
	--num_preprocess_blocks 1 --num_postprocess_blocks 1 --weight_decay_norm 1e-1 --num_groups_per_scale 5 \
	--batch_size 32 --num_nf 1 --fast_adamax --warmup_epochs 1 --arch_instance res_mbconv \
	--num_process_per_node 8 --use_se --res_dist
$(eval $(call nvae_pipeline,lsun_church64))

NVAE_LSUN_MISSING := lsun_church64: LSUN is downloaded by hand: church_outdoor_train_lmdb.zip and \
church_outdoor_val_lmdb.zip (python download.py -c church_outdoor, https://github.com/fyu/lsun), unzipped \
into $(LSUN_DIR)/ (or set LSUN_DIR=...)
# LSUN's LMDBs are read as they are; prep decodes every image once and keeps
# the report as its stamp.
$(LSUN_DIR)/church_outdoor.checked: | $(NVAE_TOOLS_MISSING)
	$(call nvae_need,$(LSUN_DIR)/church_outdoor_val_lmdb,$(NVAE_LSUN_MISSING))
	$(call nvae_need,$(LSUN_DIR)/church_outdoor_train_lmdb,lsun_church64: $(LSUN_DIR)/church_outdoor_train_lmdb is missing: unzip church_outdoor_train_lmdb.zip there)
	$(NVAE_BIN)/nvae-prep lsun --check $(LSUN_DIR) > $@.tmp && mv $@.tmp $@

lsun_church64-mini_DATASET    := lsun_church_64
lsun_church64-mini_DATA       := $(MINI_DIR)/data/lsun
lsun_church64-mini_PREP       := $(MINI_DIR)/data/lsun/church_outdoor.checked
lsun_church64-mini_ROOT       := $(MINI_DIR)/checkpoints
lsun_church64-mini_EXPR       := lsun_church64-mini
lsun_church64-mini_TRAIN_ARGS := --data $(MINI_DIR)/data/lsun --root $(lsun_church64-mini_ROOT) --save lsun_church64-mini --dataset lsun_church_64 \
	--batch_size 8 --num_nf 1 $(NVAE_MINI_MODEL)
$(eval $(call nvae_pipeline,lsun_church64-mini))

$(MINI_DIR)/data/lsun/church_outdoor_val_lmdb:
	$(GO) run ./pipelines/gen lsun --out $(MINI_DIR)/data/lsun --n 256 --size 64
$(MINI_DIR)/data/lsun/church_outdoor.checked: | $(MINI_DIR)/data/lsun/church_outdoor_val_lmdb $(NVAE_TOOLS_MISSING)
	$(NVAE_BIN)/nvae-prep lsun --check $(MINI_DIR)/data/lsun > $@.tmp && mv $@.tmp $@
