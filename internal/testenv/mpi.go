package testenv

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// MPIRun returns the command `mpirun -np N --oversubscribe prog args...`
// for the Open MPI tests, with what running as root needs. Without mpirun
// the test fails in CI (CI=true: .ci/run installs openmpi-bin) and is
// skipped elsewhere, saying why.
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
	cmd := exec.Command(mpirun, a...)
	cmd.Env = append(os.Environ(), env...)
	if os.Geteuid() == 0 {
		cmd.Env = append(cmd.Env, "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
	}
	// loopback only: no network interfaces to probe in containers
	cmd.Env = append(cmd.Env, "OMPI_MCA_btl=self,vader", "OMPI_MCA_plm_rsh_agent=false")
	return cmd
}
