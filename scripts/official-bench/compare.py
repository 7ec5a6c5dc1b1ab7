#!/usr/bin/python3
"""Alternating same-machine comparison: nvae-go `nvae-train --benchmark` vs the official PyTorch
code (bench_official.py, which imports it from the user's checkout of github.com/NVlabs/NVAE; the
official code is not part of this repository), both configs of scripts/bench.sh, R rounds. Prints
per-run values and a summary table (median over rounds of each run's median). Called by
scripts/compare-official.sh (make bench-official).

Usage: compare.py [--official DIR] [--out DIR] [--threads T] [path/to/nvae-train]
  --official DIR : the NVlabs/NVAE checkout (default $OFFICIAL_NVAE)
  --out DIR      : where runs.jsonl (every run's JSON line, with the accounting below) and
                   table.md go (default: a new temporary directory, printed)
  --threads T    : torch.set_num_threads of the official runs (default: nvae-go's default
                   GOMAXPROCS, i.e. the cores this process may use, or $GOMAXPROCS)
  nvae-train     : default bin/nvae-train of this repository
Env: ROUNDS (default 3), STEPS (timed steps per run, default 5; 3 warm-up on both sides),
QUIET_WAIT (seconds to wait for a quiet machine before each run, default 120).

Each round runs both configurations with both implementations, ours first in odd rounds and the
official code first in even ones. Before each run it waits (up to QUIET_WAIT s) until other
processes use < 0.15 cores over 2 s; a run starts anyway when the wait runs out.

Contention: for each run, CPU time used by *other* processes during the run is estimated as
(busy jiffies in /proc/stat over the run) - (the run's own user+sys CPU), divided by wall time
("others" = average cores taken by other processes; 2.0 would mean two cores fully busy). Runs
with others > CONTENDED are flagged, and a second table uses only the uncontended runs.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from statistics import median

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PY = sys.executable or '/usr/bin/python3'  # the python3 with torch (compare-official.sh: /usr/bin/python3)


def small_configs():
    """The configurations mnist_small and cifar_small of scripts/small-configs.sh (the ones
    scripts/bench.sh times), read through bash so that there is one definition."""
    script = os.path.join(REPO, 'scripts', 'small-configs.sh')
    out = subprocess.run(['bash', '-c', '. "$1"; printf "%s\\n" "$mnist_small" "$cifar_small"', 'bash', script],
                         check=True, capture_output=True, text=True).stdout.splitlines()
    return [('mnist_small', out[0]), ('cifar_small', out[1])]


CONFIGS = small_configs()
METRICS = ['step_ms', 'sample_ms', 'eval_fwd_ms']
CONTENDED = 0.25  # cores used by other processes during a run above which it is flagged


def cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.split(':', 1)[0].strip() in ('model name', 'Model', 'Hardware'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return 'unknown CPU'


def go_maxprocs():
    """nvae-go's worker count: Go's default GOMAXPROCS (Go >= 1.25): $GOMAXPROCS when set, else the
    cores this process may use, lowered to the cgroup's CPU bandwidth limit (rounded up, at least 2)
    where one is set (cgroup v2 cpu.max of the process's cgroup and its parents, or v1's CFS quota)."""
    env = os.environ.get('GOMAXPROCS', '')
    if env.isdigit() and int(env) > 0:
        return int(env)
    n = len(os.sched_getaffinity(0))
    limits = []
    try:
        with open('/proc/self/cgroup') as f:
            groups = [line.rstrip('\n').split(':', 2) for line in f]
    except OSError:
        groups = []
    for _, ctrls, path in groups:
        if ctrls == '':  # v2
            cands = [('/sys/fs/cgroup', 'cpu.max')]
        elif 'cpu' in ctrls.split(','):  # v1
            cands = [('/sys/fs/cgroup/' + ctrls, 'cpu.cfs_quota_us'), ('/sys/fs/cgroup/cpu', 'cpu.cfs_quota_us')]
        else:
            continue
        for root, name in cands:
            d = os.path.normpath(root + path)
            while d.startswith(root):
                try:
                    if name == 'cpu.max':
                        q, per = open(os.path.join(d, name)).read().split()
                    else:
                        q = open(os.path.join(d, name)).read().strip()
                        per = open(os.path.join(d, 'cpu.cfs_period_us')).read().strip()
                    if q not in ('max', '-1') and int(per) > 0:
                        limits.append(-(-int(q) // int(per)))
                except (OSError, ValueError):
                    pass
                if d == root:
                    break
                d = os.path.dirname(d)
    if limits:
        n = min(n, max(2, min(limits)))
    return n


def official_commit(d):
    """The official checkout's git commit, when it is a git clone and git is installed."""
    try:
        p = subprocess.run(['git', '-C', d, 'rev-parse', 'HEAD'], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
        return p.stdout.strip() if p.returncode == 0 else None
    except OSError:
        return None


def busy_jiffies():
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    return sum(v) - v[3] - v[4]


def loadavg():
    with open('/proc/loadavg') as f:
        return float(f.read().split()[0])


def wait_quiet(max_wait, threshold=0.15, window=2.0):
    """Wait (up to max_wait s) until other processes use < threshold cores over a window."""
    hz = os.sysconf('SC_CLK_TCK')
    t0 = time.time()
    while True:
        j0 = busy_jiffies()
        time.sleep(window)
        cores = (busy_jiffies() - j0) / hz / window
        if cores < threshold or time.time() - t0 >= max_wait:
            return round(time.time() - t0, 1), round(cores, 2)


def run(cmd):
    hz = os.sysconf('SC_CLK_TCK')
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    j0, l0, t0 = busy_jiffies(), loadavg(), time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.time() - t0
    j1, l1 = busy_jiffies(), loadavg()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.stderr.write(p.stderr[-3000:])
        raise SystemExit('failed (%d): %s' % (p.returncode, ' '.join(cmd)))
    line = [l for l in p.stdout.splitlines() if l.startswith('{')][-1]
    res = json.loads(line)
    own = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    others = max(0.0, (j1 - j0) / hz - own) / wall
    res['_wall_s'], res['_own_cpu_s'] = round(wall, 2), round(own, 2)
    res['_others_cores'], res['_load_before'], res['_load_after'] = round(others, 2), l0, l1
    return res


def norm(impl, res):
    if impl == 'ours':
        return {'step_ms': res['step_ms_median'], 'sample_ms': res['sample_ms'],
                'eval_fwd_ms': res['eval_fwd_ms'], 'params': res['params']}
    return {'step_ms': res['step_ms'], 'sample_ms': res['sample_ms'], 'eval_fwd_ms': res['eval_fwd_ms'],
            'params': res['params'], 'step_ms_excl_allreduce': res['step_ms_excl_allreduce']}


def main():
    ap = argparse.ArgumentParser(description='nvae-train --benchmark beside the official NVAE code on the CPU, '
                                             'alternating (see the module documentation).')
    ap.add_argument('binary', nargs='?', default=os.path.join(REPO, 'bin', 'nvae-train'),
                    help='nvae-train (default: bin/nvae-train of this repository)')
    ap.add_argument('--official', default=os.environ.get('OFFICIAL_NVAE', ''),
                    help='the NVlabs/NVAE checkout (default $OFFICIAL_NVAE)')
    ap.add_argument('--out', default='', help='directory for runs.jsonl and table.md (default: a new temporary one)')
    ap.add_argument('--threads', type=int, default=go_maxprocs(),
                    help="the official runs' torch threads (default: nvae-go's GOMAXPROCS, the usable cores)")
    opt = ap.parse_args()
    binary = os.path.abspath(opt.binary)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        print('compare: no executable %s (build it: make -s build)' % binary, file=sys.stderr)
        sys.exit(2)
    if not opt.official:
        print('compare: no official NVAE checkout: pass --official DIR or set OFFICIAL_NVAE '
              '(a clone of github.com/NVlabs/NVAE)', file=sys.stderr)
        sys.exit(2)
    official = os.path.abspath(opt.official)
    missing = [f for f in ('model.py', 'train.py', 'utils.py') if not os.path.isfile(os.path.join(official, f))]
    if missing:
        print('compare: %s is not an NVlabs/NVAE checkout (missing %s)' % (official, ', '.join(missing)),
              file=sys.stderr)
        sys.exit(2)
    rounds = int(os.environ.get('ROUNDS', '3'))
    steps = int(os.environ.get('STEPS', '5'))
    max_wait = float(os.environ.get('QUIET_WAIT', '120'))
    if opt.out:
        out_dir = os.path.abspath(opt.out)
        os.makedirs(out_dir, exist_ok=True)
    else:
        out_dir = tempfile.mkdtemp(prefix='nvae-official-bench-')
    raw = open(os.path.join(out_dir, 'runs.jsonl'), 'w')
    ncores = len(os.sched_getaffinity(0))
    commit = official_commit(official)
    print('results: %s' % out_dir)
    print('binary: %s' % binary)
    print('official: %s%s (python %s)' % (official, ', commit %s' % commit if commit else '', PY))
    print('machine: %d cores usable (%d online), %s' % (ncores, os.cpu_count(), cpu_model()))
    print('uptime at start: %s' % subprocess.run(['uptime'], stdout=subprocess.PIPE, text=True).stdout.strip())
    print('threads: nvae-go GOMAXPROCS %d (its default), official torch.set_num_threads(%d)' % (
        go_maxprocs(), opt.threads))
    print('rounds %d, %d timed steps after 3 warm-up; order alternates each round; before each run wait up '
          'to %.0fs for < 0.15 busy cores; raw: %s\n' % (rounds, steps, max_wait, raw.name))
    results = {}  # (cfg, impl) -> list of normalised results
    for r in range(rounds):
        impls = ['ours', 'official'] if r % 2 == 0 else ['official', 'ours']
        for cfg, flags in CONFIGS:
            for impl in impls:
                if impl == 'ours':
                    cmd = [binary, '--device', 'cpu', '--benchmark', str(steps)] + flags.split()
                else:
                    cmd = [PY, '-B', os.path.join(HERE, 'bench_official.py'), '--official', official,
                           '--steps', str(steps), '--warmup', '3', '--threads', str(opt.threads),
                           '--'] + flags.split()
                waited, busy = wait_quiet(max_wait)
                res = run(cmd)
                res['_waited_s'], res['_busy_before'] = waited, busy
                res['_round'], res['_impl'], res['_cfg'] = r + 1, impl, cfg
                raw.write(json.dumps(res) + '\n')
                raw.flush()
                n = norm(impl, res)
                n.update({k: res[k] for k in res if k.startswith('_')})
                results.setdefault((cfg, impl), []).append(n)
                print('round %d %-11s %-8s step %7.1f  sample %6.1f  eval_fwd %6.1f ms   '
                      'load1 %.2f->%.2f  others %.2f cores%s  wall %.1fs  (waited %.0fs for quiet)' % (
                          r + 1, cfg, impl, n['step_ms'], n['sample_ms'], n['eval_fwd_ms'],
                          res['_load_before'], res['_load_after'], res['_others_cores'],
                          ' CONTENDED' if res['_others_cores'] > CONTENDED else '', res['_wall_s'], waited))
                sys.stdout.flush()
    raw.close()
    print('\nuptime at end: %s\n' % subprocess.run(['uptime'], stdout=subprocess.PIPE, text=True).stdout.strip())

    lines = []
    lines.append('| config | metric | nvae-go (runs) | official (runs) | nvae-go median | official median | go/official |')
    lines.append('|---|---|---|---|---|---|---|')
    for cfg, _ in CONFIGS:
        a, b = results[(cfg, 'ours')], results[(cfg, 'official')]
        for m in METRICS:
            va, vb = [x[m] for x in a], [x[m] for x in b]
            ma, mb = median(va), median(vb)
            lines.append('| %s | %s | %s | %s | %.1f | %.1f | %.2f |' % (
                cfg, m, ' / '.join('%.1f' % v for v in va), ' / '.join('%.1f' % v for v in vb), ma, mb, ma / mb))
        vx = [x['step_ms_excl_allreduce'] for x in b]
        ma = median([x['step_ms'] for x in a])
        lines.append('| %s | step_ms, official without its world-of-1 all_reduce | | %s | %.1f | %.1f | %.2f |' % (
            cfg, ' / '.join('%.1f' % v for v in vx), ma, median(vx), ma / median(vx)))
        pa, pb = a[0]['params'], b[0]['params']
        lines.append('| %s | params | %d | %d | | | %s |' % (cfg, pa, pb, 'same' if pa == pb else 'DIFFER'))
    lines.append('')
    lines.append('Uncontended runs only (others <= %.2f cores):' % CONTENDED)
    lines.append('')
    lines.append('| config | metric | nvae-go median (n) | official median (n) | go/official |')
    lines.append('|---|---|---|---|---|')
    for cfg, _ in CONFIGS:
        a = [x for x in results[(cfg, 'ours')] if x['_others_cores'] <= CONTENDED]
        b = [x for x in results[(cfg, 'official')] if x['_others_cores'] <= CONTENDED]
        for m in METRICS + ['step_ms_excl_allreduce']:
            if not a or not b:
                lines.append('| %s | %s | (%d) | (%d) | |' % (cfg, m, len(a), len(b)))
                continue
            ma = median([x['step_ms' if m == 'step_ms_excl_allreduce' else m] for x in a])
            mb = median([x[m] for x in b])
            lines.append('| %s | %s | %.1f (%d) | %.1f (%d) | %.2f |' % (cfg, m, ma, len(a), mb, len(b), ma / mb))
    lines.append('')
    lines.append('Runs with others > %.2f cores are contended (another process shared the %d cores).' % (
        CONTENDED, ncores))
    lines.append('')
    lines.append('| config | impl | load1 before→after each run | others (cores, each run) |')
    lines.append('|---|---|---|---|')
    for cfg, _ in CONFIGS:
        for impl in ['ours', 'official']:
            rs = results[(cfg, impl)]
            lines.append('| %s | %s | %s | %s |' % (
                cfg, impl, ', '.join('%.2f→%.2f' % (x['_load_before'], x['_load_after']) for x in rs),
                ', '.join('%.2f' % x['_others_cores'] for x in rs)))
    table = '\n'.join(lines)
    print(table)
    with open(os.path.join(out_dir, 'table.md'), 'w') as f:
        f.write(table + '\n')
    print('\nraw runs and this table: %s/{runs.jsonl,table.md}' % out_dir)


if __name__ == '__main__':
    main()
