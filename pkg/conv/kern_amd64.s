//go:build amd64 && !purego

// Direct (depthwise) convolution kernels; see kern_amd64.go for the contracts.

#include "textflag.h"

// func fwdKernAVX2(in, out *float32, vec *int, nvec int, taps *int, w *float32, ntaps int, init float32)
//
// Eight output vectors at a time: AX..R11 point at their inputs, Y0..Y7
// accumulate, Y8 holds the broadcast tap weight. Locals: 0(SP) end of
// taps, 8(SP) groups left.
TEXT ·fwdKernAVX2(SB), NOSPLIT, $16-60
	MOVQ taps+32(FP), SI
	MOVQ ntaps+48(FP), AX
	LEAQ (SI)(AX*8), AX
	MOVQ AX, 0(SP)
	MOVQ nvec+24(FP), AX
	SHRQ $3, AX
	JZ   fwdKernAVX2_done
	MOVQ AX, 8(SP)
	MOVQ vec+16(FP), R12
	VBROADCASTSS init+56(FP), Y9

fwdKernAVX2_group:
	MOVQ in+0(FP), SI
	MOVQ 0(R12), AX
	LEAQ (SI)(AX*4), AX
	MOVQ 16(R12), BX
	LEAQ (SI)(BX*4), BX
	MOVQ 32(R12), CX
	LEAQ (SI)(CX*4), CX
	MOVQ 48(R12), DX
	LEAQ (SI)(DX*4), DX
	MOVQ 64(R12), R8
	LEAQ (SI)(R8*4), R8
	MOVQ 80(R12), R9
	LEAQ (SI)(R9*4), R9
	MOVQ 96(R12), R10
	LEAQ (SI)(R10*4), R10
	MOVQ 112(R12), R11
	LEAQ (SI)(R11*4), R11
	VMOVAPS Y9, Y0
	VMOVAPS Y9, Y1
	VMOVAPS Y9, Y2
	VMOVAPS Y9, Y3
	VMOVAPS Y9, Y4
	VMOVAPS Y9, Y5
	VMOVAPS Y9, Y6
	VMOVAPS Y9, Y7
	MOVQ taps+32(FP), SI
	MOVQ w+40(FP), DI

fwdKernAVX2_tap:
	VBROADCASTSS (DI), Y8
	MOVQ (SI), R13
	VFMADD231PS (AX)(R13*4), Y8, Y0
	VFMADD231PS (BX)(R13*4), Y8, Y1
	VFMADD231PS (CX)(R13*4), Y8, Y2
	VFMADD231PS (DX)(R13*4), Y8, Y3
	VFMADD231PS (R8)(R13*4), Y8, Y4
	VFMADD231PS (R9)(R13*4), Y8, Y5
	VFMADD231PS (R10)(R13*4), Y8, Y6
	VFMADD231PS (R11)(R13*4), Y8, Y7
	ADDQ $8, SI
	ADDQ $4, DI
	CMPQ SI, 0(SP)
	JNE  fwdKernAVX2_tap

	MOVQ out+8(FP), SI
	MOVQ 8(R12), R13
	VMOVUPS Y0, (SI)(R13*4)
	MOVQ 24(R12), R13
	VMOVUPS Y1, (SI)(R13*4)
	MOVQ 40(R12), R13
	VMOVUPS Y2, (SI)(R13*4)
	MOVQ 56(R12), R13
	VMOVUPS Y3, (SI)(R13*4)
	MOVQ 72(R12), R13
	VMOVUPS Y4, (SI)(R13*4)
	MOVQ 88(R12), R13
	VMOVUPS Y5, (SI)(R13*4)
	MOVQ 104(R12), R13
	VMOVUPS Y6, (SI)(R13*4)
	MOVQ 120(R12), R13
	VMOVUPS Y7, (SI)(R13*4)
	ADDQ $128, R12
	DECQ 8(SP)
	JNZ  fwdKernAVX2_group
	VZEROUPPER

fwdKernAVX2_done:
	RET

// func filtKernAVX2(in, gy *float32, vec *int, nvec int, taps *[8]int, acc *[64]float32)
//
// AX..R11 point at the inputs shifted by the 8 taps, Y0..Y7 accumulate,
// Y8 holds the vector of gy. Local: 0(SP) end of vec. acc is added to.
TEXT ·filtKernAVX2(SB), NOSPLIT, $8-48
	MOVQ in+0(FP), SI
	MOVQ taps+32(FP), DI
	MOVQ 0(DI), AX
	LEAQ (SI)(AX*4), AX
	MOVQ 8(DI), BX
	LEAQ (SI)(BX*4), BX
	MOVQ 16(DI), CX
	LEAQ (SI)(CX*4), CX
	MOVQ 24(DI), DX
	LEAQ (SI)(DX*4), DX
	MOVQ 32(DI), R8
	LEAQ (SI)(R8*4), R8
	MOVQ 40(DI), R9
	LEAQ (SI)(R9*4), R9
	MOVQ 48(DI), R10
	LEAQ (SI)(R10*4), R10
	MOVQ 56(DI), R11
	LEAQ (SI)(R11*4), R11
	MOVQ vec+16(FP), SI
	MOVQ nvec+24(FP), R12
	SHLQ $4, R12
	ADDQ SI, R12
	MOVQ R12, 0(SP)
	MOVQ gy+8(FP), DI
	MOVQ acc+40(FP), R13
	VMOVUPS 0(R13), Y0
	VMOVUPS 32(R13), Y1
	VMOVUPS 64(R13), Y2
	VMOVUPS 96(R13), Y3
	VMOVUPS 128(R13), Y4
	VMOVUPS 160(R13), Y5
	VMOVUPS 192(R13), Y6
	VMOVUPS 224(R13), Y7
	CMPQ SI, R12
	JEQ  filtKernAVX2_store

filtKernAVX2_loop:
	MOVQ (SI), R12
	MOVQ 8(SI), R13
	VMOVUPS (DI)(R13*4), Y8
	VFMADD231PS (AX)(R12*4), Y8, Y0
	VFMADD231PS (BX)(R12*4), Y8, Y1
	VFMADD231PS (CX)(R12*4), Y8, Y2
	VFMADD231PS (DX)(R12*4), Y8, Y3
	VFMADD231PS (R8)(R12*4), Y8, Y4
	VFMADD231PS (R9)(R12*4), Y8, Y5
	VFMADD231PS (R10)(R12*4), Y8, Y6
	VFMADD231PS (R11)(R12*4), Y8, Y7
	ADDQ $16, SI
	CMPQ SI, 0(SP)
	JNE  filtKernAVX2_loop

filtKernAVX2_store:
	MOVQ acc+40(FP), SI
	VMOVUPS Y0, 0(SI)
	VMOVUPS Y1, 32(SI)
	VMOVUPS Y2, 64(SI)
	VMOVUPS Y3, 96(SI)
	VMOVUPS Y4, 128(SI)
	VMOVUPS Y5, 160(SI)
	VMOVUPS Y6, 192(SI)
	VMOVUPS Y7, 224(SI)
	VZEROUPPER
	RET

// func fwdKernAVX512(in, out *float32, vec *int, nvec int, taps *int, w *float32, ntaps int, init float32)
//
// Eight output vectors at a time: AX..R11 point at their inputs, Z0..Z7
// accumulate, Z8 holds the broadcast tap weight. Locals: 0(SP) end of
// taps, 8(SP) groups left.
TEXT ·fwdKernAVX512(SB), NOSPLIT, $16-60
	MOVQ taps+32(FP), SI
	MOVQ ntaps+48(FP), AX
	LEAQ (SI)(AX*8), AX
	MOVQ AX, 0(SP)
	MOVQ nvec+24(FP), AX
	SHRQ $3, AX
	JZ   fwdKernAVX512_done
	MOVQ AX, 8(SP)
	MOVQ vec+16(FP), R12
	VBROADCASTSS init+56(FP), Z9

fwdKernAVX512_group:
	MOVQ in+0(FP), SI
	MOVQ 0(R12), AX
	LEAQ (SI)(AX*4), AX
	MOVQ 16(R12), BX
	LEAQ (SI)(BX*4), BX
	MOVQ 32(R12), CX
	LEAQ (SI)(CX*4), CX
	MOVQ 48(R12), DX
	LEAQ (SI)(DX*4), DX
	MOVQ 64(R12), R8
	LEAQ (SI)(R8*4), R8
	MOVQ 80(R12), R9
	LEAQ (SI)(R9*4), R9
	MOVQ 96(R12), R10
	LEAQ (SI)(R10*4), R10
	MOVQ 112(R12), R11
	LEAQ (SI)(R11*4), R11
	VMOVAPS Z9, Z0
	VMOVAPS Z9, Z1
	VMOVAPS Z9, Z2
	VMOVAPS Z9, Z3
	VMOVAPS Z9, Z4
	VMOVAPS Z9, Z5
	VMOVAPS Z9, Z6
	VMOVAPS Z9, Z7
	MOVQ taps+32(FP), SI
	MOVQ w+40(FP), DI

fwdKernAVX512_tap:
	VBROADCASTSS (DI), Z8
	MOVQ (SI), R13
	VFMADD231PS (AX)(R13*4), Z8, Z0
	VFMADD231PS (BX)(R13*4), Z8, Z1
	VFMADD231PS (CX)(R13*4), Z8, Z2
	VFMADD231PS (DX)(R13*4), Z8, Z3
	VFMADD231PS (R8)(R13*4), Z8, Z4
	VFMADD231PS (R9)(R13*4), Z8, Z5
	VFMADD231PS (R10)(R13*4), Z8, Z6
	VFMADD231PS (R11)(R13*4), Z8, Z7
	ADDQ $8, SI
	ADDQ $4, DI
	CMPQ SI, 0(SP)
	JNE  fwdKernAVX512_tap

	MOVQ out+8(FP), SI
	MOVQ 8(R12), R13
	VMOVUPS Z0, (SI)(R13*4)
	MOVQ 24(R12), R13
	VMOVUPS Z1, (SI)(R13*4)
	MOVQ 40(R12), R13
	VMOVUPS Z2, (SI)(R13*4)
	MOVQ 56(R12), R13
	VMOVUPS Z3, (SI)(R13*4)
	MOVQ 72(R12), R13
	VMOVUPS Z4, (SI)(R13*4)
	MOVQ 88(R12), R13
	VMOVUPS Z5, (SI)(R13*4)
	MOVQ 104(R12), R13
	VMOVUPS Z6, (SI)(R13*4)
	MOVQ 120(R12), R13
	VMOVUPS Z7, (SI)(R13*4)
	ADDQ $128, R12
	DECQ 8(SP)
	JNZ  fwdKernAVX512_group
	VZEROUPPER

fwdKernAVX512_done:
	RET

// func filtKernAVX512(in, gy *float32, vec *int, nvec int, taps *[8]int, acc *[128]float32)
//
// AX..R11 point at the inputs shifted by the 8 taps, Z0..Z7 accumulate,
// Z8 holds the vector of gy. Local: 0(SP) end of vec. acc is added to.
TEXT ·filtKernAVX512(SB), NOSPLIT, $8-48
	MOVQ in+0(FP), SI
	MOVQ taps+32(FP), DI
	MOVQ 0(DI), AX
	LEAQ (SI)(AX*4), AX
	MOVQ 8(DI), BX
	LEAQ (SI)(BX*4), BX
	MOVQ 16(DI), CX
	LEAQ (SI)(CX*4), CX
	MOVQ 24(DI), DX
	LEAQ (SI)(DX*4), DX
	MOVQ 32(DI), R8
	LEAQ (SI)(R8*4), R8
	MOVQ 40(DI), R9
	LEAQ (SI)(R9*4), R9
	MOVQ 48(DI), R10
	LEAQ (SI)(R10*4), R10
	MOVQ 56(DI), R11
	LEAQ (SI)(R11*4), R11
	MOVQ vec+16(FP), SI
	MOVQ nvec+24(FP), R12
	SHLQ $4, R12
	ADDQ SI, R12
	MOVQ R12, 0(SP)
	MOVQ gy+8(FP), DI
	MOVQ acc+40(FP), R13
	VMOVUPS 0(R13), Z0
	VMOVUPS 64(R13), Z1
	VMOVUPS 128(R13), Z2
	VMOVUPS 192(R13), Z3
	VMOVUPS 256(R13), Z4
	VMOVUPS 320(R13), Z5
	VMOVUPS 384(R13), Z6
	VMOVUPS 448(R13), Z7
	CMPQ SI, R12
	JEQ  filtKernAVX512_store

filtKernAVX512_loop:
	MOVQ (SI), R12
	MOVQ 8(SI), R13
	VMOVUPS (DI)(R13*4), Z8
	VFMADD231PS (AX)(R12*4), Z8, Z0
	VFMADD231PS (BX)(R12*4), Z8, Z1
	VFMADD231PS (CX)(R12*4), Z8, Z2
	VFMADD231PS (DX)(R12*4), Z8, Z3
	VFMADD231PS (R8)(R12*4), Z8, Z4
	VFMADD231PS (R9)(R12*4), Z8, Z5
	VFMADD231PS (R10)(R12*4), Z8, Z6
	VFMADD231PS (R11)(R12*4), Z8, Z7
	ADDQ $16, SI
	CMPQ SI, 0(SP)
	JNE  filtKernAVX512_loop

filtKernAVX512_store:
	MOVQ acc+40(FP), SI
	VMOVUPS Z0, 0(SI)
	VMOVUPS Z1, 64(SI)
	VMOVUPS Z2, 128(SI)
	VMOVUPS Z3, 192(SI)
	VMOVUPS Z4, 256(SI)
	VMOVUPS Z5, 320(SI)
	VMOVUPS Z6, 384(SI)
	VMOVUPS Z7, 448(SI)
	VZEROUPPER
	RET
