# Stub for CPU benchmarking only: utils.py imports SummaryWriter at module level;
# the benchmark never writes summaries (AutoEncoder is built with writer=None).
class SummaryWriter(object):
    def __init__(self, *args, **kwargs):
        pass

    def __getattr__(self, name):
        return lambda *args, **kwargs: None
