package dist

import (
	"fmt"
	"io"
)

// TrainingLaunch holds the official launch flags of train.py.
type TrainingLaunch struct {
	NumProcNode, NumProcessPerNode, NodeRank int
	MasterAddress                            string
}

// OpenTraining returns the communicator of this process: the launcher's
// (mpirun, srun, or this binary's own workers) when it started several
// ranks, else one process. The official --num_proc_node/--num_process_per_node
// launch (this process starts one worker per GPU, the workers meet over NCCL
// at --master_address) needs the NCCL engine: once it is registered this
// process spawns the workers and returns a nil Comm with their exit code;
// until then those flags are reported and the run is one process, as
// before. Under a launcher the launcher's ranks win.
func OpenTraining(t TrainingLaunch, engine string, args []string, stdout, stderr io.Writer) (Comm, int) {
	l, err := FromEnv()
	if err != nil {
		fmt.Fprintf(stderr, "nvae-train: %v\n", err)
		return nil, 2
	}
	official := t.NumProcNode * t.NumProcessPerNode
	if l.Size == 1 && official > 1 && Has("nccl") && (engine == "auto" || engine == "nccl") {
		if err := SpawnLocal(t.NumProcessPerNode, t.NumProcNode, t.NodeRank, MasterAddr(t.MasterAddress), args, stdout, stderr); err != nil {
			fmt.Fprintf(stderr, "nvae-train: %v\n", err)
			return nil, 1
		}
		return nil, 0
	}
	if l.Size == 1 && official > 1 {
		fmt.Fprintf(stderr, "nvae-train: --num_proc_node %d × --num_process_per_node %d: the official launcher (one worker per GPU over NCCL) is not built yet; "+
			"training as ONE process (for data parallelism start the ranks with mpirun -np K or srun)\n", t.NumProcNode, t.NumProcessPerNode)
	}
	if l.Size > 1 && official > 1 && official != l.Size && l.Rank == 0 {
		fmt.Fprintf(stderr, "nvae-train: %s started %d ranks; --num_proc_node × --num_process_per_node (%d) is ignored under a launcher\n", l.Launcher, l.Size, official)
	}
	c, err := Open(engine, l)
	if err != nil {
		fmt.Fprintf(stderr, "nvae-train: %v\n", err)
		return nil, 2
	}
	return c, 0
}
