#!/usr/bin/env python3
"""Generate testdata/jpeg: small JPEGs of each chroma subsampling and a
progressive one, with Pillow's decoded pixels as reference.

    apt-get install -y python3-pil libturbojpeg0
    /usr/bin/python3 scripts/gen-jpeg-testdata.py testdata/jpeg

Each case NAME has NAME.jpg (written by Pillow) and NAME.rgb: the raw HWC
bytes of Image.open(NAME.jpg).convert('RGB'), i.e. what the official
pipeline (PIL, libjpeg-turbo) sees. cases.json lists width, height, the
Pillow and libjpeg versions. The images are synthetic (gradients, rings,
seeded noise), of odd sizes so that the upsampling edges are exercised.
"""
import io
import json
import math
import os
import random
import sys

import PIL
from PIL import Image, features

out = sys.argv[1] if len(sys.argv) > 1 else "testdata/jpeg"
os.makedirs(out, exist_ok=True)
rnd = random.Random(18)
W, H = 45, 31


def synth(w, h):
    img = Image.new("RGB", (w, h))
    px = img.load()
    for y in range(h):
        for x in range(w):
            r = 128 + 100 * math.sin(x / 3.0) * math.cos(y / 5.0)
            g = 255 * x / (w - 1)
            b = 128 + 120 * math.sin(math.hypot(x - w / 2, y - h / 2) / 2.0)
            n = rnd.randint(-20, 20)
            px[x, y] = tuple(max(0, min(255, int(v + n))) for v in (r, g, b))
    return img


base = synth(W, H)
cases = {
    "s444_q90": dict(quality=90, subsampling=0),
    "s422_q85": dict(quality=85, subsampling=1),
    "s420_q75": dict(quality=75, subsampling=2),
    "gray_q80": dict(quality=80, gray=True),
    "progressive_s420_q80": dict(quality=80, subsampling=2, progressive=True),
    "progressive_s444_q95": dict(quality=95, subsampling=0, progressive=True),
}
meta = {"pillow": PIL.__version__, "libjpeg_turbo": features.version("libjpeg_turbo"), "cases": {}}
for name, opt in cases.items():
    img = base.convert("L") if opt.pop("gray", False) else base
    buf = io.BytesIO()
    img.save(buf, "JPEG", **opt)
    data = buf.getvalue()
    with open(os.path.join(out, name + ".jpg"), "wb") as f:
        f.write(data)
    ref = Image.open(io.BytesIO(data)).convert("RGB")
    with open(os.path.join(out, name + ".rgb"), "wb") as f:
        f.write(ref.tobytes())
    meta["cases"][name] = {"width": ref.width, "height": ref.height, "mode": img.mode, "options": opt}
with open(os.path.join(out, "cases.json"), "w") as f:
    json.dump(meta, f, indent=1, sort_keys=True)
    f.write("\n")
print("wrote %d cases to %s (Pillow %s, libjpeg-turbo %s)" % (len(cases), out, PIL.__version__, meta["libjpeg_turbo"]))
