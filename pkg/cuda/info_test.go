package cuda

import (
	"strings"
	"testing"
)

func TestInfo(t *testing.T) {
	devs, ver, libs, err := Info()
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) == 0 || ver <= 0 {
		t.Fatalf("driver %d with %d devices", ver, len(devs))
	}
	for _, l := range libs {
		t.Logf("%s: %s %s %v", l.Name, l.Path, l.Version, l.Err)
		if Emulated() && (l.Err != nil || l.Version == "") {
			t.Errorf("emulated %s: %v", l.Name, l.Err)
		}
	}
	if len(libs) != 5 {
		t.Fatalf("%d libraries listed", len(libs))
	}
}

func TestOpenMissingLibrary(t *testing.T) {
	_, err := Open("libnvae-does-not-exist.so.7")
	if err == nil || !strings.Contains(err.Error(), "libnvae-does-not-exist.so.7 not found") {
		t.Fatalf("got %v", err)
	}
}

func TestSelectAfterUse(t *testing.T) {
	ctx(t)
	other := DeviceReal
	if !Emulated() {
		other = DeviceEmulated
	}
	if err := Select(other); err == nil {
		t.Fatal("switching devices after first use accepted")
	}
	if err := Select("tpu"); err == nil {
		t.Fatal("unknown device accepted")
	}
}
