//go:build amd64 && !purego

package conv

// maskPanelAVX512 fills rows rows of a packed panel (row stride ldd) for
// one image segment: with (c, t) running from (0, t), t wrapping to 0 at
// ntap and incrementing c, dst[r·ldd+u] = src[offs[t]+c·P+u] where bit
// bit+u of masks[t·maxMaskWords:] is set and 0 elsewhere, u in [0, n).
// Elements of cleared bits are not loaded (they may lie outside src); a
// mask row must hold a word past the one of bit bit+n-1.
//
//go:noescape
func maskPanelAVX512(dst *float32, ldd int, src *float32, n, rows, t, ntap, P int, offs *int, masks *uint64, bit int)

// dwSmallAVX512 computes one depthwise output plane of nvec 16-lane
// vectors from the padded plane buf (see dwSmallPlan): out[16v+l] = init +
// Σ_t w[t]·buf[16v+l+offs[t]], lanes with a clear bit of masks[t] reading 0.
//
//go:noescape
func dwSmallAVX512(buf, w, out *float32, nvec int, offs *int, masks *uint16, ntaps int, init float32)
