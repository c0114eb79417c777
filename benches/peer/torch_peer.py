#!/usr/bin/env python3
"""`add bench --peer`'s entry point: the peer lives in pytorch/add_torch (peer.py), next to the
trainer, so that one PyTorch definition of our cards serves benchmarking, parity and training."""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "pytorch"))

from add_torch import peer  # noqa: E402

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=peer.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    peer.add_arguments(p)
    peer.main(p.parse_args())
