//go:build amd64 && !purego

#include "textflag.h"

// func affineAVX512(dst, x *float32, n int, a, b float32)
//
// dst[i] = x[i]·a + b, the product rounded before the sum (no FMA), 16
// lanes at a time with a masked last block.
TEXT ·affineAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), BX
	VBROADCASTSS a+24(FP), Z1
	VBROADCASTSS b+28(FP), Z2
	TESTQ BX, BX
	JLE affine_done
	MOVL $0xffff, AX
	KMOVW AX, K1
	CMPQ BX, $16
	JB affine_tail

affine_loop:
	VMOVUPS.Z (SI), K1, Z0
	VMULPS Z1, Z0, Z0
	VADDPS Z2, Z0, Z0
	VMOVUPS Z0, K1, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, BX
	CMPQ BX, $16
	JAE affine_loop

affine_tail:
	TESTQ BX, BX
	JZ affine_done
	MOVQ BX, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	MOVQ $16, BX
	JMP affine_loop

affine_done:
	VZEROUPPER
	RET

// func scaleAddAVX512(dst, x, y *float32, n int, a, s float32)
//
// dst[i] = y[i] + (x[i]·a)·s, each product and the sum rounded to float32
// (no FMA), 16 lanes at a time with a masked last block.
TEXT ·scaleAddAVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), BX
	VBROADCASTSS a+32(FP), Z1
	VBROADCASTSS s+36(FP), Z2
	TESTQ BX, BX
	JLE scaleAdd_done
	MOVL $0xffff, AX
	KMOVW AX, K1
	CMPQ BX, $16
	JB scaleAdd_tail

scaleAdd_loop:
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DX), K1, Z3
	VMULPS Z1, Z0, Z0
	VMULPS Z2, Z0, Z0
	VADDPS Z0, Z3, Z0
	VMOVUPS Z0, K1, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, BX
	CMPQ BX, $16
	JAE scaleAdd_loop

scaleAdd_tail:
	TESTQ BX, BX
	JZ scaleAdd_done
	MOVQ BX, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	MOVQ $16, BX
	JMP scaleAdd_loop

scaleAdd_done:
	VZEROUPPER
	RET
