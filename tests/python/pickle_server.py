"""A test server: sends Python values pickled with one protocol, lesson 5's way, to one client.

    python3 pickle_server.py PROTOCOL

Prints `listening on 127.0.0.1:PORT` first, then `[server] repr(value)` for each value it sends:
the lines the Rust client must print for the values it unpickles."""

import pickle
import socket
import sys

VALUES = [
    {1: "Client", 2: "Server"},
    [1, 2, "abc"],
    ("one",),
    (),
    {1, 2, 3},
    set(),
    frozenset({0, 5}),
    frozenset(),
    "quotes ' and \" and \\ and \t\n\x00 é 中 \u00a0 \U0001f600",
    "it's",
    b"\x00\x01\xff bytes 'q'",
    bytearray(b"bytearray"),
    bytearray(),
    b"",
    0, -1, 255, 256, 65535, 2**31 - 1, -(2**31), 2**63 - 1, -(2**63), 2**64, -(2**100), 12345678901234567890123,
    0.0, -0.0, 1.0, 0.1, 1e16, 1e-5, 1.5e300, float("inf"), float("-inf"),
    True, False, None,
    {"nested": [1, (2, {3: frozenset({4})}), {"a": None}], "x": b"x"},
    [[], [[]], {}, ()],
    # A shared list of strings, and below a shared list of shared lists: serde-pickle alone took
    # the second copy of each for a recursive structure.
    [["abc"]] * 2,
]
x = [1]
y = [x, x]
VALUES.append([y, y])

protocol = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
s.listen(5)
print(f"listening on 127.0.0.1:{s.getsockname()[1]}", flush=True)
clt, adr = s.accept()
for value in VALUES:
    mymsg = pickle.dumps(value, protocol=protocol)
    print(f"[server] {value!r}", flush=True)
    clt.sendall(bytes(f"{len(mymsg):<10}", "utf-8") + mymsg)
clt.close()
s.close()
