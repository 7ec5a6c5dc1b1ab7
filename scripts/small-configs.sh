# The two small configurations that stand in for CPU work (docs/anchors.md,
# "CPU"): sourced by scripts/bench.sh and read by
# scripts/official-bench/compare.py (pkg/nvae/infer_bench_test.go repeats
# them for the Go benchmarks).
small="--num_channels_enc 16 --num_channels_dec 16 --num_latent_scales 2 --num_groups_per_scale 4 --ada_groups --num_latent_per_group 20 --weight_decay_norm 1e-2 --use_se --res_dist --fast_adamax"
mnist_small="--dataset mnist --batch_size 32 $small --num_preprocess_blocks 2 --num_preprocess_cells 2 --num_postprocess_blocks 2 --num_postprocess_cells 2 --num_cell_per_cond_enc 1 --num_cell_per_cond_dec 1 --num_nf 0"
cifar_small="--dataset cifar10 --batch_size 8 $small --num_preprocess_blocks 1 --num_preprocess_cells 2 --num_postprocess_blocks 1 --num_postprocess_cells 2 --num_cell_per_cond_enc 2 --num_cell_per_cond_dec 2 --num_nf 1"
