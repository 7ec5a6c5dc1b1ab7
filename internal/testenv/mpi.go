package testenv

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// MPIRun returns the command `mpirun -np N --oversubscribe prog args...`
// for the Open MPI tests, with what running as root and in containers
// needs, killed after 10 minutes so that a hung collective fails the test.
// Without mpirun the test fails in CI (CI=true: .ci/run installs
// openmpi-bin) and is skipped elsewhere, saying why.
func MPIRun(t testing.TB, np int, env []string, prog string, args ...string) *exec.Cmd {
	t.Helper()
	mpirun, err := exec.LookPath("mpirun")
	if err != nil {
		msg := "mpirun not found: the data-parallel tests need Open MPI (apt-get install openmpi-bin libopenmpi-dev)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	a := []string{"-np", strconv.Itoa(np), "--oversubscribe", "--bind-to", "none"}
	if os.Geteuid() == 0 {
		a = append(a, "--allow-run-as-root")
	}
	for _, e := range env {
		a = append(a, "-x", e)
	}
	a = append(a, prog)
	a = append(a, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, mpirun, a...)
	cmd.Env = append(os.Environ(), env...)
	if os.Geteuid() == 0 {
		cmd.Env = append(cmd.Env, "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
	}
	// shared memory only (no network interfaces to probe in containers),
	// no ssh for local ranks, and no CMA single copy (ptrace is often
	// forbidden in containers)
	cmd.Env = append(cmd.Env, "OMPI_MCA_btl=self,vader", "OMPI_MCA_plm_rsh_agent=false", "OMPI_MCA_btl_vader_single_copy_mechanism=none")
	return cmd
}
