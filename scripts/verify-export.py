#!/usr/bin/env python3
"""Verify an `nvae-train export` checkpoint.pt with PyTorch (not a test
dependency; Debian: apt-get install -y python3-torch).

    NVAE_EXPORT_OUT=/tmp/x.pt go test ./pkg/ckpt -run 'TestExportOfficial$' -count=1
    scripts/verify-export.py /tmp/x.pt testdata/oracle/nvae/keys_mnist_tiny.txt [NVAE_SOURCE_DIR]

Checks: torch.load (weights_only=False) reads it; 'args' is an
argparse.Namespace; the state dict's keys, order, dtypes and shapes equal the
official key list; each weight_normalized alias shares its weight's storage;
a module tree built from the key list (aliases registered as the weight's
Parameter) loads it with strict=True;
the optimizer state loads into torch.optim.Adamax-style param groups and the
scheduler into CosineAnnealingLR. With the official NVAE source directory
(NVlabs/NVAE) as third argument it also builds model.AutoEncoder from the
checkpoint's args and loads the state dict with strict=True, as
train.py --cont_training does.
"""
import argparse
import sys

import torch


def main():
    path, keys = sys.argv[1], sys.argv[2]
    try:
        ck = torch.load(path, map_location="cpu", weights_only=False)
    except TypeError:  # PyTorch < 1.13 has no weights_only
        ck = torch.load(path, map_location="cpu")
    for k in ["epoch", "state_dict", "optimizer", "global_step", "args", "arch_instance", "scheduler", "grad_scalar"]:
        assert k in ck, "missing " + k
    assert isinstance(ck["args"], argparse.Namespace), type(ck["args"])
    sd = ck["state_dict"]
    want = []
    for line in open(keys):
        if line.startswith("#") or not line.strip():
            continue
        c = line.rstrip("\n").split("\t")
        want.append(c)
    assert list(sd.keys()) == [c[0] for c in want], "key order differs"
    for c in want:
        t = sd[c[0]]
        assert str(t.dtype) == "torch." + c[2], (c[0], t.dtype, c[2])
        assert list(t.shape) == eval(c[3]), (c[0], list(t.shape), c[3])
        if c[1] == "alias":
            assert t.data_ptr() == sd[c[5]].data_ptr(), c[0] + " does not share its weight's storage"
    # A module tree built from the official key list (parameters, buffers
    # with the official dtypes, each weight_normalized registered as the
    # same Parameter as its weight, as Conv2D.__init__ does) loads the state
    # dict with strict=True, the way train.py --cont_training loads it.
    root = torch.nn.Module()
    def module(path):
        m = root
        for part in path:
            if not hasattr(m, part):
                m.add_module(part, torch.nn.Module())
            m = getattr(m, part)
        return m
    dt = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64}
    for c in want:
        *path, name = c[0].split(".")
        m = module(path)
        shape = eval(c[3])
        if c[1] == "param":
            m.register_parameter(name, torch.nn.Parameter(torch.zeros(shape, dtype=dt[c[2]])))
        elif c[1] == "buffer":
            m.register_buffer(name, torch.zeros(shape, dtype=dt[c[2]]))
        else:
            m.register_parameter(name, getattr(module(c[5].split(".")[:-1]), c[5].split(".")[-1]))
    root.load_state_dict(sd, strict=True)
    for c in want:
        got = root.state_dict()[c[0]]
        assert torch.equal(got, sd[c[0]]), c[0]
    print("key-list model: load_state_dict(strict=True) OK")
    params = list(root.parameters())  # deduplicated like model.parameters()
    assert len(params) == sum(c[1] == "param" for c in want)
    opt = torch.optim.Adamax(params, lr=ck["args"].learning_rate)
    opt.load_state_dict(ck["optimizer"])
    for i, p in enumerate(params):
        st = opt.state[p]
        if st:
            assert st["exp_avg"].shape == p.shape, i
    sch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, float(ck["args"].epochs - ck["args"].warmup_epochs - 1), eta_min=ck["args"].learning_rate_min)
    sch.load_state_dict(ck["scheduler"])
    scaler = torch.cuda.amp.GradScaler(2 ** 10, enabled=False)
    scaler.load_state_dict(ck["grad_scalar"]) if scaler.is_enabled() else None
    print("torch %s: %d state-dict keys, %d optimizer states, epoch %d, global_step %d: OK" % (
        torch.__version__, len(sd), len(ck["optimizer"]["state"]), ck["epoch"], ck["global_step"]))
    if len(sys.argv) > 3:
        sys.path.insert(0, sys.argv[3])
        import utils
        from model import AutoEncoder
        args = ck["args"]
        model = AutoEncoder(args, None, utils.get_arch_cells(args.arch_instance))
        model.load_state_dict(sd, strict=True)
        print("official AutoEncoder: load_state_dict(strict=True) OK")


if __name__ == "__main__":
    main()
