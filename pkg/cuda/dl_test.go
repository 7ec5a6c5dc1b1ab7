package cuda

import (
	"errors"
	"strings"
	"testing"
)

// TestNoDriverIsAClearError: on a machine without the driver the loader
// returns ErrNoDriver with one line naming what was searched; with a GPU it
// reports the devices.
func TestNoDriverIsAClearError(t *testing.T) {
	devs, ver, libs, err := Info()
	if err != nil {
		if !errors.Is(err, ErrNoDriver) {
			t.Fatalf("driver present but failed: %v", err)
		}
		if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "libcuda.so.1") {
			t.Fatalf("unclear error: %q", err)
		}
		t.Skipf("no GPU here (%v): the device checks are skipped", err)
	}
	if len(devs) == 0 || ver <= 0 {
		t.Fatalf("driver %d with %d devices", ver, len(devs))
	}
	for _, l := range libs {
		t.Logf("%s: %s %s %v", l.Name, l.Path, l.Version, l.Err)
	}
}

func TestOpenMissingLibrary(t *testing.T) {
	_, err := Open("libnvae-does-not-exist.so.7")
	if err == nil || !strings.Contains(err.Error(), "libnvae-does-not-exist.so.7 not found") {
		t.Fatalf("got %v", err)
	}
}
