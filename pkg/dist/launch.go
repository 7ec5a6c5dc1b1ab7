package dist

// The official launch: `--num_proc_node N --node_rank R
// --num_process_per_node P --master_address A` starts P local workers per
// node (global rank R·P + i), which meet at A. The workers' engine is NCCL;
// the TCP rendezvous below only hands rank 0's NCCL unique id to every
// rank (what torch.distributed's env:// store does for the official code).
// Spawning and the rendezvous are engine-agnostic and tested on CPU; the
// NCCL engine (nccl.go) consumes them.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Environment of the workers started by SpawnLocal.
const (
	EnvRank      = "NVAE_DIST_RANK"
	EnvSize      = "NVAE_DIST_SIZE"
	EnvLocalRank = "NVAE_DIST_LOCAL_RANK"
	EnvMaster    = "NVAE_DIST_MASTER" // host:port of rank 0's rendezvous
)

// DefaultMasterPort is the official code's MASTER_PORT.
const DefaultMasterPort = 6020

// MasterAddr is host:port for the rendezvous: MASTER_PORT from the
// environment, else the official 6020.
func MasterAddr(host string) string {
	port := strconv.Itoa(DefaultMasterPort)
	if p := os.Getenv("MASTER_PORT"); p != "" {
		port = p
	}
	return net.JoinHostPort(host, port)
}

// SpawnLocal starts p copies of this program with args, worker i being
// global rank nodeRank·p+i of nodes·p, with the EnvRank... variables set;
// SIGTERM, SIGUSR1 and SIGINT are passed on to every worker. It waits for
// all and returns the first failure (a worker that fails makes the others
// be sent SIGTERM, so that none waits forever in a collective).
func SpawnLocal(p, nodes, nodeRank int, master string, args []string, stdout, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	size := p * nodes
	stdout, stderr = lock(stdout), lock(stderr)
	cmds := make([]*exec.Cmd, p)
	for i := range cmds {
		c := exec.Command(exe, args...)
		c.Stdout, c.Stderr = stdout, stderr
		if i > 0 {
			c.Stdout = io.Discard // rank 0 reports; the others' errors go to stderr
		}
		c.Env = append(os.Environ(), EnvRank+"="+strconv.Itoa(nodeRank*p+i), EnvSize+"="+strconv.Itoa(size),
			EnvLocalRank+"="+strconv.Itoa(i), EnvMaster+"="+master)
		if err := c.Start(); err != nil {
			for _, s := range cmds[:i] {
				s.Process.Kill()
			}
			return fmt.Errorf("dist: starting worker %d: %v", i, err)
		}
		cmds[i] = c
	}
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGUSR1, os.Interrupt)
	defer signal.Stop(sig)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case s := <-sig:
				for _, c := range cmds {
					c.Process.Signal(s)
				}
			case <-stop:
				return
			}
		}
	}()
	errs := make([]error, p)
	var wg sync.WaitGroup
	var once sync.Once
	for i, c := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Wait(); err != nil {
				errs[i] = fmt.Errorf("worker %d (rank %d): %v", i, nodeRank*p+i, err)
				once.Do(func() {
					for _, o := range cmds {
						o.Process.Signal(syscall.SIGTERM)
					}
				})
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Rendezvous hands id from rank 0 to every rank over TCP: rank 0 listens
// on addr and answers each of the size−1 other ranks, which connect
// (retrying until timeout) and send their rank. Every rank returns rank
// 0's id. Nothing else is exchanged: the collectives are the engine's.
func Rendezvous(addr string, rank, size int, id []byte, timeout time.Duration) ([]byte, error) {
	deadline := time.Now().Add(timeout)
	if rank == 0 {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("dist: rendezvous: %v", err)
		}
		defer ln.Close()
		seen := map[uint32]bool{}
		for len(seen) < size-1 {
			ln.(*net.TCPListener).SetDeadline(deadline)
			c, err := ln.Accept()
			if err != nil {
				return nil, fmt.Errorf("dist: rendezvous at %s: %d of %d ranks arrived: %v", addr, len(seen)+1, size, err)
			}
			c.SetDeadline(deadline)
			var r uint32
			if err := binary.Read(c, binary.LittleEndian, &r); err != nil || r == 0 || int(r) >= size || seen[r] {
				c.Close()
				continue // not one of ours, or a duplicate
			}
			var msg bytes.Buffer
			binary.Write(&msg, binary.LittleEndian, uint32(len(id)))
			msg.Write(id)
			_, err = c.Write(msg.Bytes())
			c.Close()
			if err == nil {
				seen[r] = true
			}
		}
		return id, nil
	}
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetDeadline(deadline)
			var n uint32
			if err = binary.Write(c, binary.LittleEndian, uint32(rank)); err == nil {
				if err = binary.Read(c, binary.LittleEndian, &n); err == nil && n <= 1<<20 {
					out := make([]byte, n)
					if _, err = io.ReadFull(c, out); err == nil {
						c.Close()
						return out, nil
					}
				}
			}
			c.Close()
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("dist: rendezvous: rank %d could not reach rank 0 at %s: %v", rank, addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lockedWriter serialises the workers' copies into one writer (files are
// handed to the workers as they are).
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func lock(w io.Writer) io.Writer {
	if _, ok := w.(*os.File); ok || w == nil {
		return w
	}
	return &lockedWriter{w: w}
}
