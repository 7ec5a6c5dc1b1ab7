//go:build amd64 && !purego

#include "textflag.h"

// func transpose8x8s(src unsafe.Pointer, lds int, dst unsafe.Pointer, ldd int, nblk int)
//
// For b in [0, nblk): reads the 8×8 float32 block whose rows start at
// src + r*lds + 8*b (elements) and writes its transpose so that column c of
// the block becomes the 8 consecutive floats at dst + (8*b+c)*ldd. Needs AVX.
TEXT ·transpose8x8s(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ lds+8(FP), R8
	MOVQ dst+16(FP), DI
	MOVQ ldd+24(FP), R11
	MOVQ nblk+32(FP), CX
	SHLQ $2, R8              // lds in bytes
	SHLQ $2, R11             // ldd in bytes
	LEAQ (R8)(R8*2), R9      // 3*lds
	LEAQ (SI)(R8*4), R10     // row 4
	LEAQ (R11)(R11*2), R12   // 3*ldd
	MOVQ R11, DX
	SHLQ $3, DX              // 8*ldd: advance of dst per block
	LEAQ (DI)(R11*4), R13    // column 4 of the output
	TESTQ CX, CX
	JZ done

loop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VMOVUPS (R10), Y4
	VMOVUPS (R10)(R8*1), Y5
	VMOVUPS (R10)(R8*2), Y6
	VMOVUPS (R10)(R9*1), Y7

	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15

	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7

	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15

	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(R11*1)
	VMOVUPS Y10, (DI)(R11*2)
	VMOVUPS Y11, (DI)(R12*1)
	VMOVUPS Y12, (R13)
	VMOVUPS Y13, (R13)(R11*1)
	VMOVUPS Y14, (R13)(R11*2)
	VMOVUPS Y15, (R13)(R12*1)

	ADDQ $32, SI
	ADDQ $32, R10
	ADDQ DX, DI
	ADDQ DX, R13
	DECQ CX
	JNZ loop

done:
	VZEROUPPER
	RET

// func packB48s(src unsafe.Pointer, ldb int, dst unsafe.Pointer, kb int, npanels int)
//
// Copies a kb × (48*npanels) float32 block of a row-major matrix (stride
// ldb elements) into npanels packed panels: element (p, 48*q+j) goes to
// dst + q*kb*48 + p*48 + j. Rows are read front to back, which suits the
// hardware prefetchers when B comes from memory. Needs AVX-512F.
TEXT ·packB48s(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ ldb+8(FP), R8
	MOVQ dst+16(FP), DI
	MOVQ kb+24(FP), CX
	MOVQ npanels+32(FP), DX
	SHLQ $2, R8              // ldb in bytes
	MOVQ CX, R9
	IMULQ $192, R9           // panel size in bytes
	TESTQ CX, CX
	JZ pdone
	TESTQ DX, DX
	JZ pdone

prow:
	MOVQ SI, R10
	MOVQ DI, R11
	MOVQ DX, R12

ppanel:
	// Fetch the same columns two rows ahead: rows of a wide B are far
	// apart, so the hardware prefetchers restart on every row.
	PREFETCHT0 (R10)(R8*2)
	PREFETCHT0 64(R10)(R8*2)
	PREFETCHT0 128(R10)(R8*2)
	VMOVUPS (R10), Z0
	VMOVUPS 64(R10), Z1
	VMOVUPS 128(R10), Z2
	VMOVUPS Z0, (R11)
	VMOVUPS Z1, 64(R11)
	VMOVUPS Z2, 128(R11)
	ADDQ $192, R10
	ADDQ R9, R11
	DECQ R12
	JNZ ppanel

	ADDQ R8, SI
	ADDQ $192, DI
	DECQ CX
	JNZ prow

pdone:
	VZEROUPPER
	RET
