"""Reads pickles, one hex line each, on stdin; writes repr(pickle.loads(...)) for each, a line each."""

import pickle
import sys

for line in sys.stdin:
    print(repr(pickle.loads(bytes.fromhex(line))))
