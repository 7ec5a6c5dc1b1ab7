//go:build amd64 && !purego

#include "textflag.h"

// func maskPanelAVX512(dst *float32, ldd int, src *float32, n, rows, t, ntap, P int, offs *int, masks *uint64, bit int)
//
// For r in [0, rows), with (c, t) running from (0, t) and t wrapping to 0
// at ntap (incrementing c): dst[r·ldd+u] = src[offs[t]+c·P+u] where bit
// bit+u of mask row t (maxMaskWords = 17 words each) is set, else 0, for u
// in [0, n). The loads of cleared bits are masked off (never touched, so
// they may reach outside src); a mask row must hold a word past bit+n-1.
TEXT ·maskPanelAVX512(SB), NOSPLIT, $0-88
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R12
	SHLQ $2, R12
	MOVQ src+16(FP), SI
	MOVQ rows+32(FP), R13
	MOVQ t+40(FP), R14

maskPanel_row:
	TESTQ R13, R13
	JLE   maskPanel_done
	// R8 = masks + t·maxMaskWords·8, DX = n, R9 = bit, AX = src + offs[t]·4
	MOVQ  R14, R8
	IMULQ $136, R8
	ADDQ  masks+72(FP), R8
	MOVQ  n+24(FP), DX
	MOVQ  bit+80(FP), R9
	MOVQ  offs+64(FP), R10
	MOVQ  (R10)(R14*8), AX
	LEAQ  (SI)(AX*4), AX
	MOVQ  DI, R15

maskPanel_loop:
	CMPQ DX, $16
	JLT  maskPanel_tail
	MOVQ R9, R10
	SHRQ $6, R10
	MOVQ (R8)(R10*8), BX
	MOVQ 8(R8)(R10*8), R11
	MOVQ R9, CX
	ANDQ $63, CX
	SHRQ CX, R11, BX
	KMOVW BX, K1
	VMOVUPS.Z (AX), K1, Z0
	VMOVUPS Z0, (R15)
	ADDQ $64, AX
	ADDQ $64, R15
	ADDQ $16, R9
	SUBQ $16, DX
	JMP  maskPanel_loop

maskPanel_tail:
	TESTQ DX, DX
	JLE   maskPanel_next
	MOVQ  R9, R10
	SHRQ  $6, R10
	MOVQ  (R8)(R10*8), BX
	MOVQ  8(R8)(R10*8), R11
	MOVQ  R9, CX
	ANDQ  $63, CX
	SHRQ  CX, R11, BX
	MOVL  $1, R10
	MOVQ  DX, CX
	SHLL  CX, R10
	DECL  R10
	ANDL  R10, BX
	KMOVW BX, K1
	KMOVW R10, K2
	VMOVUPS.Z (AX), K1, Z0
	VMOVUPS Z0, K2, (R15)

maskPanel_next:
	ADDQ R12, DI
	DECQ R13
	INCQ R14
	CMPQ R14, ntap+48(FP)
	JLT  maskPanel_row
	XORQ R14, R14
	MOVQ P+56(FP), AX
	LEAQ (SI)(AX*4), SI
	JMP  maskPanel_row

maskPanel_done:
	VZEROUPPER
	RET
