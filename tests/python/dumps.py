"""Pickles Python values for the tests: reads one expression a line on stdin and writes the hex of
pickle.dumps(value, protocol=PROTOCOL) for each, a line each.

    python3 dumps.py PROTOCOL

The expressions may use datetime, decimal, collections, and `shared` and `recursive` (below)."""

import collections
import datetime
import decimal
import pickle
import sys

x = [1]
y = [x, x]
shared = [y, y]
recursive = []
recursive.append(recursive)

protocol = int(sys.argv[1])
for line in sys.stdin:
    print(pickle.dumps(eval(line), protocol=protocol).hex(), flush=True)
