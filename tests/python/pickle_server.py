"""A test server: sends Python values pickled with one protocol, lesson 5's
way, to one client.

    python3 pickle_server.py PROTOCOL [in-order]

Prints `listening on 127.0.0.1:PORT` first, then `[server] repr(value)` for
each value it sends: the lines a client must print for the values it
unpickles. With `in-order`, it also sends values whose repr depends on the
order the pickle holds (dicts in insertion order, not sorted)."""

import pickle
import socket
import sys

VALUES = [
    {1: "Client", 2: "Server"},
    [1, 2, "abc"],
    ("Python", 3, 3.5, True),
    {1, 2, 3},
    ("one",), (), set(), frozenset({0, 5}), frozenset(),
    "quotes ' and \" and \\ and \t\n\x00 é 中 \u00a0 \U0001f600",
    "it's",
    b"\x00\x01\xff bytes 'q'", b"",
    bytearray(b"bytearray"), bytearray(),
    [bytearray(b"x"), (bytearray(), 1)],
    0, -1, 255, 256, 65535, 2**31 - 1, -(2**31), 2**63 - 1, -(2**63), 2**64,
    -(2**100), 12345678901234567890123,
    0.0, -0.0, 1.0, 0.1, 1e16, 1e-5, 1e300, 1.5e300, float("inf"),
    float("-inf"), float("nan"),
    True, False, None,
    {"nested": [1, (2, {3: frozenset({4})}), {"a": None}], "x": b"x"},
    [[], [[]], {}, ()],
    # Shared objects: a list of strings twice, a list of shared lists.
    [["abc"]] * 2,
]
x = [1]
y = [x, x]
VALUES.append([y, y])
IN_ORDER = [
    {"b": 1, "a": 2},
    {2: "b", 1: "a", "key": None, b"k": 0.5, (1, 2): frozenset({3})},
    {"z": {"y": [3, 2, 1], "x": {}}, 10**30: bytearray(b"\xff")},
]

protocol = int(sys.argv[1])
values = VALUES + (IN_ORDER if sys.argv[2:] == ["in-order"] else [])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
s.listen(5)
print(f"listening on 127.0.0.1:{s.getsockname()[1]}", flush=True)
clt, adr = s.accept()
for value in values:
    mymsg = pickle.dumps(value, protocol=protocol)
    print(f"[server] {value!r}", flush=True)
    clt.sendall(bytes(f"{len(mymsg):<10}", "utf-8") + mymsg)
clt.close()
s.close()
