// Package fid computes Fréchet Inception Distances exactly as pytorch-fid
// (the code the official NVAE uses) does.
//
// Inception is the FID Inception-v3 up to the 2048-d pool3 features
// (torchvision's Inception3 with pytorch-fid's FIDInceptionA/C/E_1/E_2
// blocks: average pools that exclude padding, a max pool in Mixed_7c's pool
// branch), with the input resized to 299x299 by torch's bilinear
// align_corners=False kernel (reproduced bit-for-bit by Resize) and scaled to
// [-1, 1]. LoadInception reads the official
// pt_inception-2015-12-05-6726825d.pth (a PyTorch state dict) or a
// safetensors file with the same keys; Fetcher downloads and checks the
// official file into the cache directory.
//
// Stats/Stats32 compute numpy's mean and unbiased covariance of the
// features, FrechetDistance/FrechetDistance32 pytorch-fid's
// calculate_frechet_distance, including its float32 mean arithmetic and
// its eps retry for singular products.
package fid
