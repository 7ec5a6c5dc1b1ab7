package torchpt

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// pickleLength scans the pickle stream at the start of b without
// executing it and returns its length in bytes (through the STOP opcode).
// It rejects unknown opcodes and any length-prefixed argument that runs past
// the end of b, so that the unpickler never allocates buffers larger than the
// input it was given.
func pickleLength(b []byte) (int, error) {
	i := 0
	need := func(n uint64) error {
		if n > uint64(len(b)-i) {
			return fmt.Errorf("pickle: opcode at byte %d needs %d bytes but only %d remain", i, n, len(b)-i)
		}
		return nil
	}
	line := func() error {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return fmt.Errorf("pickle: unterminated text argument at byte %d", i)
		}
		i += j + 1
		return nil
	}
	for i < len(b) {
		op := b[i]
		i++
		var err error
		switch op {
		case '.': // STOP
			return i, nil
		case '(', '0', '1', '2', 'N', ')', ']', '}', 'a', 'e', 'l', 'd', 't', 's', 'u', 'b', 'R', 'o', 'Q',
			0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x97, 0x98:
			// no argument
		case 'I', 'L', 'F', 'S', 'V', 'P', 'g', 'p':
			err = line()
		case 'c', 'i':
			if err = line(); err == nil {
				err = line()
			}
		case 'K', 'h', 'q', 0x80, 0x82:
			if err = need(1); err == nil {
				i++
			}
		case 'M', 0x83:
			if err = need(2); err == nil {
				i += 2
			}
		case 'J', 'j', 'r', 0x84:
			if err = need(4); err == nil {
				i += 4
			}
		case 'G':
			if err = need(8); err == nil {
				i += 8
			}
		case 0x95: // FRAME: an 8-byte length; the framed opcodes follow inline
			if err = need(8); err == nil {
				n := binary.LittleEndian.Uint64(b[i:])
				i += 8
				err = need(n)
			}
		case 'U', 'C', 0x8a, 0x8c: // 1-byte length prefix
			if err = need(1); err == nil {
				n := uint64(b[i])
				i++
				if err = need(n); err == nil {
					i += int(n)
				}
			}
		case 'T', 'X', 'B', 0x8b: // 4-byte length prefix
			if err = need(4); err == nil {
				n := uint64(binary.LittleEndian.Uint32(b[i:]))
				if op == 'T' || op == 0x8b {
					if int32(n) < 0 {
						return 0, fmt.Errorf("pickle: negative length at byte %d", i)
					}
				}
				i += 4
				if err = need(n); err == nil {
					i += int(n)
				}
			}
		case 0x8d, 0x8e, 0x96: // 8-byte length prefix
			if err = need(8); err == nil {
				n := binary.LittleEndian.Uint64(b[i:])
				i += 8
				if err = need(n); err == nil {
					i += int(n)
				}
			}
		default:
			return 0, fmt.Errorf("pickle: unknown opcode 0x%02x at byte %d", op, i-1)
		}
		if err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("pickle: no STOP opcode in %d bytes", len(b))
}
