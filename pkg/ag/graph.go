package ag

import (
	"reflect"
)

// GraphBytes is the memory held by the recorded graph behind v: the bytes
// of every distinct storage among the values of the op results reachable
// from v (the activations kept for Backward), not counting leaves
// (parameters, inputs). Tensors captured only by backward closures are
// not seen.
func GraphBytes(v *Var) int64 {
	seenVar := map[*Var]bool{}
	seenStore := map[uintptr]bool{}
	var total int64
	stack := []*Var{v}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == nil || seenVar[n] {
			continue
		}
		seenVar[n] = true
		if n.back != nil && n.Value != nil {
			st := n.Value.Storage()
			key := uintptr(0)
			if rv := reflect.ValueOf(st); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Pointer {
				key = rv.Pointer()
			}
			if key == 0 || !seenStore[key] {
				seenStore[key] = true
				total += int64(st.Len()) * int64(st.DType().Size())
			}
		}
		stack = append(stack, n.parents...)
	}
	return total
}
