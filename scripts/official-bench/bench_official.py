#!/usr/bin/python3
"""CPU timing of the official NVAE code (a checkout of github.com/NVlabs/NVAE, which is not part of
this repository: it is imported from the directory given by --official DIR or $OFFICIAL_NVAE),
mirroring what nvae-go's `nvae-train --benchmark N` (pkg/train/bench.go) times:

  step_ms     : median of N training steps after W warm-up steps (default W=3), each step being
                train.py's train() loop body on one synthetic batch: zero_grad, forward,
                decoder_output, reconstruction_loss, kl_balancer(kl_balance=True),
                spectral_norm_parallel, batchnorm_loss, backward, average_gradients (train.py's
                single-process path runs with args.distributed=True and a world of 1),
                grad_scalar.step(Adamax) / update, and reading the loss back.
  sample_ms   : model.eval(), torch.no_grad(): model.sample(batch, 0.7) -> logits (no decoder
                output / image decoding, as ours). Median of 3 after 1 warm-up.
  eval_fwd_ms : model.eval(), torch.no_grad(): model(x) (logits, log_q, log_p, kl_all, kl_diag;
                no reconstruction loss, as ours). Median of 3 after 1 warm-up; sample and eval
                forward alternate as in bench.go.

Not timed on either side: building the model and the optimizer, the synthetic batch and its
pre-processing (all before the timed loop). Ours also measures an importance-weighted evaluation
afterwards (iw_eval_images_per_s), which has no counterpart here and is not compared.

Usage: bench_official.py [--official DIR] [--steps N] [--warmup W] [--threads T] [--no_dist]
                         -- <train.py flags>
  --official DIR: the NVlabs/NVAE checkout (model.py, train.py, utils.py, thirdparty/); default
  $OFFICIAL_NVAE. train.py's own argument parser (read from DIR/train.py) takes the flags after --.
Prints one JSON line on stdout; everything else goes to stderr. Run by compare.py.

CPU shims (nothing in the model's arithmetic changes):
  * Tensor.cuda / Module.cuda -> identity (tensors stay on the CPU);
  * the `if not input.is_cuda: raise` guard is removed from nn.SyncBatchNorm.forward (torch 1.13)
    and from the official SyncBatchNormSwish.forward; with a world of 1 both then take their
    own non-synchronised branch (F.batch_norm [+ Swish]), exactly what they do on one GPU;
  * a gloo process group of world size 1 stands in for train.py's nccl group of size 1;
  * tensorboardX is a stub (shim/ beside this script, ours), used only by utils.Writer, which is
    not used;
  * torch.cuda.amp.autocast and GradScaler are used as train.py uses them; without CUDA,
    PyTorch disables both itself (float32 throughout, scale factor 1, plain optimizer.step()).
"""
import argparse
import contextlib
import inspect
import json
import os
import sys
import tempfile
import textwrap
import time
import warnings
from statistics import median

HERE = os.path.dirname(os.path.abspath(__file__))
SHIM = os.path.join(HERE, 'shim')
# what must be in the official checkout (the modules imported below and train.py's parser)
OFFICIAL_FILES = ['model.py', 'train.py', 'utils.py', 'neural_operations.py', 'distributions.py',
                  os.path.join('thirdparty', 'adamax.py'), os.path.join('thirdparty', 'inplaced_sync_batchnorm.py')]

import numpy as np
import torch
import torch.nn as nn
import torch.distributed as dist

warnings.filterwarnings('ignore', message='.*CUDA is not available.*')
warnings.filterwarnings('ignore', message=".*'saved_variables' is deprecated.*")
warnings.filterwarnings('ignore', category=UserWarning)


def _no_cuda(self, *args, **kwargs):
    return self


torch.Tensor.cuda = _no_cuda
nn.Module.cuda = _no_cuda


def _drop_is_cuda_guard(func):
    """Recompile func (a method) without its `if not input.is_cuda: raise ...` guard."""
    src = textwrap.dedent(inspect.getsource(func))
    lines = src.split('\n')
    out, i, dropped = [], 0, 0
    while i < len(lines):
        if lines[i].strip() == 'if not input.is_cuda:' and 'raise ValueError' in lines[i + 1]:
            i += 2
            dropped += 1
            continue
        out.append(lines[i])
        i += 1
    assert dropped == 1, 'is_cuda guard not found in %s' % func.__qualname__
    ns = {}
    exec(compile('\n'.join(out), '<cpu:%s>' % func.__qualname__, 'exec'), func.__globals__, ns)
    return ns[func.__name__]


nn.SyncBatchNorm.forward = _drop_is_cuda_guard(nn.SyncBatchNorm.forward)

# The official modules, imported by load_official() from the user's checkout.
OFFICIAL = None
utils = AutoEncoder = Adamax = None
from torch.cuda.amp import autocast, GradScaler  # noqa: E402


def check_official(d):
    """The error (one line) if d is not a usable NVlabs/NVAE checkout, else None."""
    if not d:
        return 'no official NVAE checkout given: pass --official DIR or set OFFICIAL_NVAE (a clone of github.com/NVlabs/NVAE)'
    missing = [f for f in OFFICIAL_FILES if not os.path.isfile(os.path.join(d, f))]
    if missing:
        return '%s is not an NVlabs/NVAE checkout (missing %s)' % (d, ', '.join(missing))
    return None


def load_official(d):
    """Import the official modules from the checkout d (first on sys.path, then our shim/)."""
    global OFFICIAL, utils, AutoEncoder, Adamax
    OFFICIAL = os.path.abspath(d)
    sys.path.insert(0, SHIM)
    sys.path.insert(0, OFFICIAL)
    import utils as _utils  # noqa: E402  (official)
    from model import AutoEncoder as _AutoEncoder  # noqa: E402  (official)
    from thirdparty.adamax import Adamax as _Adamax  # noqa: E402  (official)
    from thirdparty.inplaced_sync_batchnorm import SyncBatchNormSwish  # noqa: E402  (official)
    for name, mod in [('utils', _utils), ('model', sys.modules['model'])]:
        if not os.path.abspath(mod.__file__).startswith(OFFICIAL + os.sep):
            raise SystemExit('bench_official: %s was imported from %s, not from %s' % (name, mod.__file__, OFFICIAL))
    SyncBatchNormSwish.forward = _drop_is_cuda_guard(SyncBatchNormSwish.forward)
    utils, AutoEncoder, Adamax = _utils, _AutoEncoder, _Adamax


def official_parser():
    """train.py's own argparse block (between `parser = ...` and `args = parser.parse_args()`)."""
    src = open(os.path.join(OFFICIAL, 'train.py')).read()
    a = src.index("    parser = argparse.ArgumentParser(")
    b = src.index("    args = parser.parse_args()")
    ns = {'argparse': argparse}
    exec(textwrap.dedent(src[a:b]), ns)
    return ns['parser']


def main():
    ap = argparse.ArgumentParser(usage='%(prog)s [--official DIR] [--steps N] [--warmup W] [--threads T] '
                                       '[--no_dist] -- <train.py flags>')
    ap.add_argument('--official', default=os.environ.get('OFFICIAL_NVAE', ''),
                    help='the NVlabs/NVAE checkout (default $OFFICIAL_NVAE)')
    ap.add_argument('--steps', type=int, default=5)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--no_dist', action='store_true',
                    help='args.distributed=False: skip average_gradients (a no-op all_reduce per '
                         'parameter in a world of 1)')
    argv = sys.argv[1:]
    if '--' in argv:
        k = argv.index('--')
        mine, theirs = argv[:k], argv[k + 1:]
    else:
        mine, theirs = argv, []
    opt = ap.parse_args(mine)
    err = check_official(opt.official)
    if err:
        print('bench_official: ' + err, file=sys.stderr)
        sys.exit(2)
    load_official(opt.official)
    args = official_parser().parse_args(theirs)
    args.distributed = not opt.no_dist

    torch.set_num_threads(opt.threads)
    pg_file = tempfile.NamedTemporaryFile(prefix='nvae_pg_', delete=False)
    pg_file.close()
    os.unlink(pg_file.name)
    dist.init_process_group(backend='gloo', init_method='file://' + pg_file.name, rank=0, world_size=1)

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    arch_instance = utils.get_arch_cells(args.arch_instance)
    with contextlib.redirect_stdout(sys.stderr):
        model = AutoEncoder(args, writer=None, arch_instance=arch_instance)
    params = int(sum(np.prod(p.size()) for p in model.parameters()))

    if args.fast_adamax:
        cnn_optimizer = Adamax(model.parameters(), args.learning_rate, weight_decay=args.weight_decay, eps=1e-3)
    else:
        cnn_optimizer = torch.optim.Adamax(model.parameters(), args.learning_rate,
                                           weight_decay=args.weight_decay, eps=1e-3)
    grad_scalar = GradScaler(2 ** 10)

    # synthetic batch of the dataset's shape, as bench.go: uniform [0,1), binarised (> 0.5) for MNIST
    ch = 1 if args.dataset in {'mnist', 'omniglot'} else 3
    size = utils.get_input_size(args.dataset)
    g = torch.Generator().manual_seed(7)
    x = torch.rand(args.batch_size, ch, size, size, generator=g)
    if args.dataset in {'mnist', 'omniglot'}:
        x = (x > 0.5).float()
    x = utils.pre_process(x, args.num_x_bits)

    alpha_i = utils.kl_balancer_coeff(num_scales=model.num_latent_scales,
                                      groups_per_scale=model.groups_per_scale, fun='square')
    kl_coeff = 0.5  # bench.go's fixed KL coefficient (< 1, so the balanced path of train.py)
    nelbo = utils.AvgrageMeter()
    model.train()
    times, ar_times, ex_times = [], [], []
    for i in range(opt.warmup + opt.steps):
        t0 = time.perf_counter()
        cnn_optimizer.zero_grad()
        with autocast():
            logits, log_q, log_p, kl_all, kl_diag = model(x)
            output = model.decoder_output(logits)
            recon_loss = utils.reconstruction_loss(output, x, crop=model.crop_output)
            balanced_kl, kl_coeffs, kl_vals = utils.kl_balancer(kl_all, kl_coeff, kl_balance=True, alpha_i=alpha_i)
            nelbo_batch = recon_loss + balanced_kl
            loss = torch.mean(nelbo_batch)
            norm_loss = model.spectral_norm_parallel()
            bn_loss = model.batchnorm_loss()
            wdn_coeff = args.weight_decay_norm
            loss += norm_loss * wdn_coeff + bn_loss * wdn_coeff
        grad_scalar.scale(loss).backward()
        ta = time.perf_counter()
        utils.average_gradients(model.parameters(), args.distributed)
        tb = time.perf_counter()
        grad_scalar.step(cnn_optimizer)
        grad_scalar.update()
        nelbo.update(loss.data, 1)
        loss_val = float(loss)  # bench.go reads the loss back
        t1 = time.perf_counter()
        if i >= opt.warmup:
            times.append((t1 - t0) * 1e3)
            ar_times.append((tb - ta) * 1e3)
            ex_times.append((t1 - t0 - (tb - ta)) * 1e3)
    if not np.isfinite(loss_val):
        print('warning: non-finite loss %r' % loss_val, file=sys.stderr)

    model.eval()
    st, et = [], []
    with torch.no_grad():
        for i in range(4):  # the first of each is warm-up
            t0 = time.perf_counter()
            logits = model.sample(args.batch_size, 0.7)
            float(logits.view(-1)[0])
            st.append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            out = model(x)
            float(out[0].view(-1)[0])
            et.append((time.perf_counter() - t0) * 1e3)
    st, et = st[1:], et[1:]

    res = {
        'impl': 'official-pytorch-%s' % torch.__version__, 'official_dir': OFFICIAL,
        'config': args.dataset, 'batch': args.batch_size, 'params': params,
        'threads': torch.get_num_threads(), 'distributed_world1': args.distributed,
        'steps': opt.steps, 'warmup': opt.warmup,
        'step_ms': round(median(times), 2), 'step_ms_min': round(min(times), 2),
        'step_ms_max': round(max(times), 2), 'step_ms_all': [round(t, 2) for t in times],
        'avg_grad_allreduce_ms': round(median(ar_times), 2),
        'step_ms_excl_allreduce': round(median(ex_times), 2),
        'sample_ms': round(median(st), 2), 'sample_ms_all': [round(t, 2) for t in st],
        'eval_fwd_ms': round(median(et), 2), 'eval_fwd_ms_all': [round(t, 2) for t in et],
        'last_loss': loss_val,
    }
    print(json.dumps(res))
    sys.stdout.flush()
    dist.destroy_process_group()


if __name__ == '__main__':
    main()
