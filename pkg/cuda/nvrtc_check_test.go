package cuda

import (
	"os"
	"strings"
	"testing"
)

// TestKernelsCompileWithRealNVRTC compiles every embedded kernel (and the
// test kernels of this package) with the real NVRTC for compute_80 and
// compute_90: no error and no warning. CUDA 11.8's NVRTC (Debian non-free
// libnvrtc11.2, no GPU needed) is what CI installs; the kernels keep to its
// language level. It skips only where no real libnvrtc can be loaded, and
// fails instead when CI=true or NVAE_REQUIRE_NVRTC=1.
func TestKernelsCompileWithRealNVRTC(t *testing.T) {
	nv, err := LoadRealNVRTC()
	if err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("NVAE_REQUIRE_NVRTC") == "1" {
			t.Fatalf("CI needs the real NVRTC (apt-get install libnvrtc11.2 from Debian non-free): %v", err)
		}
		t.Skipf("no real libnvrtc here (%v); CI installs libnvrtc11.2 and runs this check", err)
	}
	t.Logf("NVRTC %d.%d at %s", nv.Major, nv.Minor, nv.Path)
	sources := KernelSources()
	if len(sources) == 0 {
		t.Fatal("no embedded kernels")
	}
	for name, src := range map[string]string{"test:args": argsSrc, "test:limits": limitsSrc, "test:debug": debugSrc, "test:intrinsics": intrinsicsSrc, "test:tree": treeSrc} {
		sources[name] = src
	}
	for name, src := range sources {
		for _, arch := range []string{"compute_80", "compute_90"} {
			var exprs []string
			if name == "test:args" {
				exprs = []string{"scale_t<float>"}
			}
			out, err := nv.Compile(src, name, KernelHeaders(), append([]string{"-arch=" + arch}, KernelOptions...), exprs)
			if err != nil {
				t.Errorf("%s for %s: %v", name, arch, err)
				continue
			}
			if strings.TrimSpace(out.Log) != "" {
				t.Errorf("%s for %s: warnings:\n%s", name, arch, out.Log)
			}
			if !strings.Contains(string(out.PTX), ".target sm_"+strings.TrimPrefix(arch, "compute_")) {
				t.Errorf("%s for %s: PTX without the target line", name, arch)
			}
		}
	}
}
