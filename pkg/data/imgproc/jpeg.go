package imgproc

import (
	"fmt"
	"os"
	"sync"
)

// JPEG decoding: libjpeg-turbo when it can be loaded (the pixels then equal
// Pillow's, which uses the same library with the same defaults), else Go's
// image/jpeg plus libjpeg's upsampling and colour conversion (ycc.go),
// whose IDCT differs from libjpeg's by a few levels (at most 3/255 on the
// test images) on a few percent of values. NVAE_JPEG=go forces the Go
// decoder. The fallback is reported once on stderr and by JPEGDecoder.

var (
	fallbackOnce sync.Once
	// FallbackReport receives the one-time fallback notice (os.Stderr).
	FallbackReport = func(msg string) { fmt.Fprintln(os.Stderr, msg) }
)

func forceGo() bool { return os.Getenv("NVAE_JPEG") == "go" }

// JPEGDecoder describes the JPEG decoder that Decode uses.
func JPEGDecoder() string {
	if forceGo() {
		return "pure Go (NVAE_JPEG=go)"
	}
	s, err := turboStatus()
	if err != nil {
		return fmt.Sprintf("pure Go (%v)", err)
	}
	return s
}

func isJPEG(b []byte) bool { return len(b) >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff }

// decodeJPEG tries libjpeg-turbo; handled is false when the Go path must
// decode the image.
func decodeJPEG(b []byte) (img *RGB, handled bool, err error) {
	if forceGo() {
		return nil, false, nil
	}
	img, handled, err = decodeJPEGTurbo(b)
	if !handled {
		if _, lerr := turboStatus(); lerr != nil {
			fallbackOnce.Do(func() {
				FallbackReport(fmt.Sprintf("nvae: decoding JPEG with the pure-Go decoder: %v; pixels may differ from Pillow's by a few levels on a few percent of values", lerr))
			})
		}
	}
	return img, handled, err
}
