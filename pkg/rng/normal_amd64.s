//go:build amd64 && !purego

#include "textflag.h"

// Offsets into the constant table k (normConsts in normal_amd64.go).
#define K_M0 0
#define K_M1 8
#define K_LANES 16
#define K_EIGHTS 80
#define K_KEYS 88
#define K_ONE 248
#define K_TWO 256
#define K_HALF 264
#define K_HSQRT2 272
#define K_L1 280
#define K_L2 288
#define K_L3 296
#define K_L4 304
#define K_L5 312
#define K_L6 320
#define K_L7 328
#define K_LN2HI 336
#define K_LN2LO 344
#define K_MTWO 352
#define K_TWOM32 360
#define K_TWOPI 368
#define K_FOURPI 376
#define K_PI4A 384
#define K_PI4B 392
#define K_PI4C 400
#define K_THREE 408
#define K_EIGHT 416
#define K_COS 424
#define K_SIN 472
#define K_SIGN 520
#define K_FOUR 528

// ROUND is one Philox4x32 round on the words c0..c3 in Z4..Z7 (low dwords
// of each qword lane; high dwords are ignored), key words at key(R8).
#define ROUND(key) \
	VPMULUDQ Z2, Z4, Z8; \
	VPMULUDQ Z3, Z6, Z9; \
	VPSRLQ $32, Z8, Z10; \
	VPSRLQ $32, Z9, Z11; \
	VPXORQ Z5, Z11, Z11; \
	VPXORQ.BCST key(R8), Z11, Z4; \
	VPXORQ Z7, Z10, Z10; \
	VPXORQ.BCST key+8(R8), Z10, Z6; \
	VMOVDQA64 Z9, Z5; \
	VMOVDQA64 Z8, Z7

// UNIFORM: the low dwords of src as float64 (u + 1)·2^-32 into dst.
#define UNIFORM(src, ytmp, dst) \
	VPMOVQD src, ytmp; \
	VCVTUDQ2PD ytmp, dst; \
	VADDPD.BCST K_ONE(R8), dst, dst; \
	VMULPD.BCST K_TWOM32(R8), dst, dst

// BOXMULLER: a and c (uniforms) → o0 = r·cos t, o1 = r·sin t with
// r = sqrt(−2·log a), t = 2π·c; log is the operation sequence of Go's
// math.Log on amd64 (log_amd64.s) and sincos that of math.Sincos, without
// fused multiply-adds, so every lane rounds exactly as the scalar code.
// Scratch: Z16–Z31, K1–K5.
#define BOXMULLER(a, c, o0, o1) \
	VGETMANTPD $2, a, Z16; \
	VGETEXPPD a, Z17; \
	VADDPD.BCST K_ONE(R8), Z17, Z17; \
	VBROADCASTSD K_HSQRT2(R8), Z18; \
	VCMPPD $2, Z18, Z16, K1; \
	VSUBPD.BCST K_ONE(R8), Z17, K1, Z17; \
	VMULPD.BCST K_TWO(R8), Z16, K1, Z16; \
	VSUBPD.BCST K_ONE(R8), Z16, Z16; \
	VADDPD.BCST K_TWO(R8), Z16, Z18; \
	VDIVPD Z18, Z16, Z18; \
	VMULPD Z18, Z18, Z19; \
	VMULPD Z19, Z19, Z20; \
	VBROADCASTSD K_L7(R8), Z21; \
	VMULPD Z20, Z21, Z21; \
	VADDPD.BCST K_L5(R8), Z21, Z21; \
	VMULPD Z20, Z21, Z21; \
	VADDPD.BCST K_L3(R8), Z21, Z21; \
	VMULPD Z20, Z21, Z21; \
	VADDPD.BCST K_L1(R8), Z21, Z21; \
	VMULPD Z21, Z19, Z19; \
	VBROADCASTSD K_L6(R8), Z21; \
	VMULPD Z20, Z21, Z21; \
	VADDPD.BCST K_L4(R8), Z21, Z21; \
	VMULPD Z20, Z21, Z21; \
	VADDPD.BCST K_L2(R8), Z21, Z21; \
	VMULPD Z21, Z20, Z20; \
	VADDPD Z20, Z19, Z19; \
	VMULPD.BCST K_HALF(R8), Z16, Z21; \
	VMULPD Z16, Z21, Z21; \
	VADDPD Z21, Z19, Z19; \
	VMULPD Z19, Z18, Z18; \
	VMULPD.BCST K_LN2LO(R8), Z17, Z19; \
	VADDPD Z19, Z18, Z18; \
	VSUBPD Z18, Z21, Z21; \
	VSUBPD Z16, Z21, Z21; \
	VMULPD.BCST K_LN2HI(R8), Z17, Z17; \
	VSUBPD Z21, Z17, Z17; \
	VMULPD.BCST K_MTWO(R8), Z17, Z17; \
	VSQRTPD Z17, Z31; \
	VMULPD.BCST K_TWOPI(R8), c, Z16; \
	VMULPD.BCST K_FOURPI(R8), Z16, Z17; \
	VRNDSCALEPD $11, Z17, Z17; \
	VMULPD.BCST K_HALF(R8), Z17, Z18; \
	VRNDSCALEPD $11, Z18, Z19; \
	VCMPPD $4, Z19, Z18, K1; \
	VADDPD.BCST K_ONE(R8), Z17, K1, Z17; \
	VMOVAPD Z17, Z18; \
	VBROADCASTSD K_EIGHT(R8), Z19; \
	VCMPPD $13, Z19, Z18, K1; \
	VSUBPD Z19, Z18, K1, Z18; \
	VMULPD.BCST K_PI4A(R8), Z17, Z19; \
	VSUBPD Z19, Z16, Z16; \
	VMULPD.BCST K_PI4B(R8), Z17, Z19; \
	VSUBPD Z19, Z16, Z16; \
	VMULPD.BCST K_PI4C(R8), Z17, Z19; \
	VSUBPD Z19, Z16, Z16; \
	VBROADCASTSD K_THREE(R8), Z19; \
	VCMPPD $14, Z19, Z18, K2; \
	VSUBPD.BCST K_FOUR(R8), Z18, K2, Z18; \
	VBROADCASTSD K_ONE(R8), Z19; \
	VCMPPD $14, Z19, Z18, K3; \
	KXORW K2, K3, K3; \
	VCMPPD $0, Z19, Z18, K4; \
	VBROADCASTSD K_TWO(R8), Z19; \
	VCMPPD $0, Z19, Z18, K5; \
	KORW K4, K5, K4; \
	VMULPD Z16, Z16, Z17; \
	VBROADCASTSD K_COS(R8), Z20; \
	VMULPD Z17, Z20, Z20; \
	VADDPD.BCST K_COS+8(R8), Z20, Z20; \
	VMULPD Z17, Z20, Z20; \
	VADDPD.BCST K_COS+16(R8), Z20, Z20; \
	VMULPD Z17, Z20, Z20; \
	VADDPD.BCST K_COS+24(R8), Z20, Z20; \
	VMULPD Z17, Z20, Z20; \
	VADDPD.BCST K_COS+32(R8), Z20, Z20; \
	VMULPD Z17, Z20, Z20; \
	VADDPD.BCST K_COS+40(R8), Z20, Z20; \
	VMULPD Z17, Z17, Z21; \
	VMULPD Z20, Z21, Z21; \
	VMULPD.BCST K_HALF(R8), Z17, Z22; \
	VBROADCASTSD K_ONE(R8), Z23; \
	VSUBPD Z22, Z23, Z23; \
	VADDPD Z21, Z23, Z23; \
	VBROADCASTSD K_SIN(R8), Z20; \
	VMULPD Z17, Z20, Z20; \
	VADDPD.BCST K_SIN+8(R8), Z20, Z20; \
	VMULPD Z17, Z20, Z20; \
	VADDPD.BCST K_SIN+16(R8), Z20, Z20; \
	VMULPD Z17, Z20, Z20; \
	VADDPD.BCST K_SIN+24(R8), Z20, Z20; \
	VMULPD Z17, Z20, Z20; \
	VADDPD.BCST K_SIN+32(R8), Z20, Z20; \
	VMULPD Z17, Z20, Z20; \
	VADDPD.BCST K_SIN+40(R8), Z20, Z20; \
	VMULPD Z17, Z16, Z21; \
	VMULPD Z20, Z21, Z21; \
	VADDPD Z21, Z16, Z24; \
	VMOVAPD Z23, Z25; \
	VMOVAPD Z24, K4, Z23; \
	VMOVAPD Z25, K4, Z24; \
	VBROADCASTSD K_SIGN(R8), Z25; \
	VXORPD Z25, Z23, K3, Z23; \
	VXORPD Z25, Z24, K2, Z24; \
	VMULPD Z23, Z31, o0; \
	VMULPD Z24, Z31, o1

// func philoxNormalsAVX512(out *float64, n int, b0 uint64, k *[normConsts]uint64)
//
// For groups g < n of 8 Philox blocks b0+8g+i (i < 8, the lane), the four
// normals of each block: out[32g + 8w + i] is normal w of block b0+8g+i.
TEXT ·philoxNormalsAVX512(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ n+8(FP), CX
	MOVQ b0+16(FP), AX
	MOVQ k+24(FP), R8
	TESTQ CX, CX
	JLE done
	VPBROADCASTQ AX, Z0
	VPADDQ K_LANES(R8), Z0, Z0
	VPBROADCASTQ K_EIGHTS(R8), Z1
	VPBROADCASTQ K_M0(R8), Z2
	VPBROADCASTQ K_M1(R8), Z3

loop:
	VMOVDQA64 Z0, Z4
	VPSRLQ $32, Z0, Z5
	VPXORQ Z6, Z6, Z6
	VPXORQ Z7, Z7, Z7
	ROUND(K_KEYS)
	ROUND(K_KEYS+16)
	ROUND(K_KEYS+32)
	ROUND(K_KEYS+48)
	ROUND(K_KEYS+64)
	ROUND(K_KEYS+80)
	ROUND(K_KEYS+96)
	ROUND(K_KEYS+112)
	ROUND(K_KEYS+128)
	ROUND(K_KEYS+144)
	UNIFORM(Z4, Y8, Z12)
	UNIFORM(Z5, Y9, Z13)
	UNIFORM(Z6, Y10, Z14)
	UNIFORM(Z7, Y11, Z15)
	BOXMULLER(Z12, Z13, Z26, Z27)
	VMOVUPD Z26, 0(DI)
	VMOVUPD Z27, 64(DI)
	BOXMULLER(Z14, Z15, Z26, Z27)
	VMOVUPD Z26, 128(DI)
	VMOVUPD Z27, 192(DI)
	ADDQ $256, DI
	VPADDQ Z1, Z0, Z0
	DECQ CX
	JNZ loop

done:
	VZEROUPPER
	RET

// func boxMullerAVX512(a, c *uint32, z0, z1 *float64, n int, k *[normConsts]uint64)
//
// The Box–Muller step of the kernel alone on given words (n a multiple of
// 8): z0[i], z1[i] = the normals of the pair (a[i], c[i]). For tests.
TEXT ·boxMullerAVX512(SB), NOSPLIT, $0-48
	MOVQ a+0(FP), SI
	MOVQ c+8(FP), DX
	MOVQ z0+16(FP), DI
	MOVQ z1+24(FP), BX
	MOVQ n+32(FP), CX
	MOVQ k+40(FP), R8
	SHRQ $3, CX
	JZ bm_done

bm_loop:
	VCVTUDQ2PD (SI), Z12
	VADDPD.BCST K_ONE(R8), Z12, Z12
	VMULPD.BCST K_TWOM32(R8), Z12, Z12
	VCVTUDQ2PD (DX), Z13
	VADDPD.BCST K_ONE(R8), Z13, Z13
	VMULPD.BCST K_TWOM32(R8), Z13, Z13
	BOXMULLER(Z12, Z13, Z26, Z27)
	VMOVUPD Z26, (DI)
	VMOVUPD Z27, (BX)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $64, DI
	ADDQ $64, BX
	DECQ CX
	JNZ bm_loop

bm_done:
	VZEROUPPER
	RET
