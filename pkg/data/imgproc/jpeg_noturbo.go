//go:build !cgo

package imgproc

import "errors"

func decodeJPEGTurbo(b []byte) (*RGB, bool, error) { return nil, false, nil }

func turboStatus() (string, error) {
	return "", errors.New("built without cgo: libturbojpeg cannot be loaded")
}
