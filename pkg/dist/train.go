package dist

import (
	"fmt"
	"io"
	"strings"

	cu "github.com/nvaego/nvae/pkg/cuda"
)

// TrainingLaunch holds the official launch flags of train.py.
type TrainingLaunch struct {
	NumProcNode, NumProcessPerNode, NodeRank int
	MasterAddress                            string
	// Device is the backend the run computes on (backend.Name(): "cpu",
	// "cuda", "cuda-emu"); empty: the --device flag found in the args
	// given to OpenTraining ("auto" when absent).
	Device string
}

// gpuDevice reports whether device (a --device value or a backend name)
// computes on a GPU, and how many GPUs this node has for it (the emulator
// serves any number of processes).
func gpuDevice(device string) (gpu bool, count int) {
	switch device {
	case "cuda-emu":
		return true, 1 << 20
	case "cpu":
		return false, 0
	case "cuda":
		if err := cu.Select(cu.DeviceReal); err != nil {
			return true, 0
		}
	case "auto", "":
		if cu.Emulated() {
			return true, 1 << 20
		}
		if !cu.DriverPresent() { // leave the process free to choose later
			return false, 0
		}
	default:
		return false, 0
	}
	devs, _, _, err := cu.Info()
	if err != nil {
		return device == "cuda", 0
	}
	return true, len(devs)
}

// FlagValue is the value of flag name in args (--name v, --name=v, -name v
// or -name=v), or "" when absent.
func FlagValue(args []string, name string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		k := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if k == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(k, name+"="); ok {
			return v
		}
	}
	return ""
}

// OpenTraining returns the communicator of this process: the launcher's
// (mpirun, srun, or this binary's own workers) when it started several
// ranks, else one process. With the official --num_proc_node/
// --num_process_per_node flags and no launcher, on a GPU backend, this
// process spawns one worker per local GPU (SpawnLocal; the workers meet
// over NCCL at --master_address) and returns a nil Comm with their exit
// code. On the CPU backend, or on a node with one GPU, those flags are
// reported in one line and the run is one process, as before; a node with
// fewer GPUs than --num_process_per_node (but more than one) is refused.
// Under a launcher the launcher's ranks win. engine "auto" is nccl on a
// GPU backend and mpi on the CPU (see the package doc).
func OpenTraining(t TrainingLaunch, engine string, args []string, stdout, stderr io.Writer) (Comm, int) {
	l, err := FromEnv()
	if err != nil {
		fmt.Fprintf(stderr, "nvae-train: %v\n", err)
		return nil, 2
	}
	device := t.Device
	if device == "" {
		if device = FlagValue(args, "device"); device == "" && args != nil {
			device = "auto"
		}
	}
	official := t.NumProcNode * t.NumProcessPerNode
	if l.Size == 1 && official > 1 {
		gpu, gpus := false, 0
		if device != "" && engine != "mpi" && engine != "single" {
			gpu, gpus = gpuDevice(device)
		}
		switch {
		case gpu && gpus >= t.NumProcessPerNode:
			if err := SpawnLocal(t.NumProcessPerNode, t.NumProcNode, t.NodeRank, MasterAddr(t.MasterAddress), args, stdout, stderr); err != nil {
				fmt.Fprintf(stderr, "nvae-train: %v\n", err)
				return nil, 1
			}
			return nil, 0
		case gpu && gpus > 1:
			fmt.Fprintf(stderr, "nvae-train: --num_process_per_node %d but this node has %d GPUs: give --num_process_per_node %d\n", t.NumProcessPerNode, gpus, gpus)
			return nil, 2
		case gpu:
			fmt.Fprintf(stderr, "nvae-train: --num_proc_node %d × --num_process_per_node %d: this node has one GPU; training as ONE process "+
				"(the official launcher starts one worker per GPU)\n", t.NumProcNode, t.NumProcessPerNode)
		default:
			fmt.Fprintf(stderr, "nvae-train: --num_proc_node %d × --num_process_per_node %d: the official launcher starts one worker per GPU (NCCL); "+
				"training as ONE process on the CPU (for data parallelism on CPUs start the ranks with mpirun -np K or srun)\n", t.NumProcNode, t.NumProcessPerNode)
		}
	}
	if l.Size > 1 && official > 1 && official != l.Size && l.Rank == 0 {
		fmt.Fprintf(stderr, "nvae-train: %s started %d ranks; --num_proc_node × --num_process_per_node (%d) is ignored under a launcher\n", l.Launcher, l.Size, official)
	}
	if (engine == "auto" || engine == "") && l.Size > 1 && device != "" {
		if gpu, _ := gpuDevice(device); gpu {
			engine = "nccl"
		} else {
			engine = "mpi"
		}
	}
	c, err := Open(engine, l)
	if err != nil {
		fmt.Fprintf(stderr, "nvae-train: %v\n", err)
		return nil, 2
	}
	return c, 0
}
