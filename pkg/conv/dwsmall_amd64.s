//go:build amd64 && !purego

#include "textflag.h"

// func dwSmallAVX512(buf, w, out *float32, nvec int, offs *int, masks *uint16, ntaps int, init float32)
//
// One depthwise output plane of nvec 16-lane vectors: out[16v+l] = init +
// Σ_t w[t]·buf[16v+l+offs[t]] over the taps t in order (fused multiply-
// add), where lanes whose bit of masks[t] is clear read 0 (their loads are
// masked off). Four vectors run side by side while at least four remain.
TEXT ·dwSmallAVX512(SB), NOSPLIT, $0-60
	MOVQ buf+0(FP), SI
	MOVQ w+8(FP), R9
	MOVQ out+16(FP), DI
	MOVQ nvec+24(FP), CX
	MOVQ offs+32(FP), R10
	MOVQ masks+40(FP), R11
	MOVQ ntaps+48(FP), R12
	VBROADCASTSS init+56(FP), Z31
	TESTQ R12, R12
	JLE dwSmall_done

dwSmall_quad:
	CMPQ CX, $4
	JB dwSmall_single
	VMOVAPS Z31, Z0
	VMOVAPS Z31, Z1
	VMOVAPS Z31, Z2
	VMOVAPS Z31, Z3
	XORQ BX, BX

dwSmall_quadTap:
	MOVQ (R10)(BX*8), AX
	KMOVW (R11)(BX*2), K1
	VBROADCASTSS (R9)(BX*4), Z8
	LEAQ (SI)(AX*4), DX
	VMOVUPS.Z (DX), K1, Z4
	VMOVUPS.Z 64(DX), K1, Z5
	VMOVUPS.Z 128(DX), K1, Z6
	VMOVUPS.Z 192(DX), K1, Z7
	VFMADD231PS Z8, Z4, Z0
	VFMADD231PS Z8, Z5, Z1
	VFMADD231PS Z8, Z6, Z2
	VFMADD231PS Z8, Z7, Z3
	INCQ BX
	CMPQ BX, R12
	JB dwSmall_quadTap
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $4, CX
	JMP dwSmall_quad

dwSmall_single:
	TESTQ CX, CX
	JZ dwSmall_done
	VMOVAPS Z31, Z0
	XORQ BX, BX

dwSmall_singleTap:
	MOVQ (R10)(BX*8), AX
	KMOVW (R11)(BX*2), K1
	VBROADCASTSS (R9)(BX*4), Z8
	VMOVUPS.Z (SI)(AX*4), K1, Z4
	VFMADD231PS Z8, Z4, Z0
	INCQ BX
	CMPQ BX, R12
	JB dwSmall_singleTap
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JMP dwSmall_single

dwSmall_done:
	VZEROUPPER
	RET
