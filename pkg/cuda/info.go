package cuda

/*
#include "api.h"
NV_WRAP_ALL
*/
import "C"

import (
	"fmt"
	"io"
)

// Device describes one GPU.
type Device struct {
	Index        int
	Name         string
	TotalMem     uint64
	Major, Minor int
	Emulated     bool
}

// LibInfo is a library's path and version (or why it is missing).
type LibInfo struct {
	Name, Path, Version string
	Err                 error
}

// Info reports the devices, the driver version and the libraries the
// backend uses, on the selected device (real or emulated).
func Info() (devices []Device, driverVersion int, libs []LibInfo, err error) {
	c, err := Init()
	if err != nil {
		return nil, 0, nil, err
	}
	var n C.int
	if err := check("cuDeviceGetCount", C.call_cuDeviceGetCount(&n)); err != nil {
		return nil, 0, nil, err
	}
	for i := 0; i < int(n); i++ {
		var d C.CUdevice
		if err := check("cuDeviceGet", C.call_cuDeviceGet(&d, C.int(i))); err != nil {
			return nil, 0, nil, err
		}
		p, err := deviceProps(d)
		if err != nil {
			return nil, 0, nil, err
		}
		devices = append(devices, Device{Index: i, Name: p.Name, TotalMem: p.TotalMem, Major: p.Major, Minor: p.Minor, Emulated: p.Emulated})
	}
	driverVersion = c.Props.DriverVersion
	libs = append(libs, LibInfo{Name: "driver", Path: driverLib.lib.Path, Version: cudaVersion(driverVersion)})
	if nv, err := LoadNVRTC(); err != nil {
		libs = append(libs, LibInfo{Name: "nvrtc", Err: err})
	} else {
		libs = append(libs, LibInfo{Name: "nvrtc", Path: nv.Path, Version: fmt.Sprintf("%d.%d", nv.Major, nv.Minor)})
	}
	add := func(name string, lib func() (*Lib, error), ver func() (string, error)) {
		l, err := lib()
		if err != nil {
			libs = append(libs, LibInfo{Name: name, Err: err})
			return
		}
		v, err := ver()
		libs = append(libs, LibInfo{Name: name, Path: l.Path, Version: v, Err: err})
	}
	add("cublas", loadCublas, BlasVersion)
	add("cudnn", loadCudnn, DNNVersion)
	add("nccl", loadNccl, NCCLVersion)
	return devices, driverVersion, libs, nil
}

func cudaVersion(v int) string { return fmt.Sprintf("CUDA %d.%d", v/1000, v%1000/10) }

// PrintInfo writes what --device_info reports: each device (emulated or
// real) with its memory and compute capability, the driver's CUDA version,
// and each library's version and path (or why it is missing). dev selects
// the emulated or the real device ("cuda-emu", "cuda"); other values use
// the default selection. An error means no usable GPU (a line saying so is
// written first).
func PrintInfo(w io.Writer, dev string) error {
	if dev == DeviceEmulated || dev == DeviceReal {
		if err := Select(dev); err != nil {
			return err
		}
	}
	devs, ver, libs, err := Info()
	if err != nil {
		fmt.Fprintln(w, "device: cpu (no usable GPU)")
		return err
	}
	for _, d := range devs {
		kind := "GPU"
		if d.Emulated {
			kind = "emulated GPU"
		}
		fmt.Fprintf(w, "%s %d: %s, %.1f GiB, compute capability %d.%d\n", kind, d.Index, d.Name, float64(d.TotalMem)/(1<<30), d.Major, d.Minor)
	}
	fmt.Fprintf(w, "driver CUDA version: %d.%d\n", ver/1000, ver%1000/10)
	for _, l := range libs {
		if l.Err != nil {
			fmt.Fprintf(w, "%-7s missing: %v\n", l.Name, l.Err)
			continue
		}
		fmt.Fprintf(w, "%-7s %-10s %s\n", l.Name, l.Version, l.Path)
	}
	return nil
}
