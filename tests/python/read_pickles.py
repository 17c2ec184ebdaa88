"""Reads pickles, one hex line each, on stdin, as lesson 5's Python client
reads a message (lessons/python/lesson_05.py's PlainData, then
bounded_pickle.shown): writes `ok REPR` or `refused WHY` for each, a line
each. Anything else, a traceback, is the reader's failure."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parents[2] / "lessons/python"))

import bounded_pickle  # noqa: E402
import lesson_05  # noqa: E402

for line in sys.stdin:
    try:
        value = bounded_pickle.loads(lesson_05.PlainData, bytes.fromhex(line))
        print("ok", bounded_pickle.shown(value), flush=True)
    except bounded_pickle.Refused as why:
        print("refused", why, flush=True)
