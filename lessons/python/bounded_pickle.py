"""A peer's pickle, read and printed within bounds: what lessons 5, 6 and
11 share, and a reader may skip.

Each lesson restricts which globals a pickle may name (find_class, the
pickle documentation's "Restricting Globals") in a subclass of
BoundedUnpickler. This module bounds the rest: what a pickle can make the
unpickler keep, how deep a value may nest, and how much of it is printed.
The bounds are the Rust reader's (src/pickle.rs).
"""

import io
import itertools
import pickle
import struct

MAX_MARKS = 256  # MARKs open at once
MAX_MEMO = 1_000_000  # memo entries
MAX_DEPTH = 100  # containers inside containers
MAX_DIGITS = 4300  # the longest int Python prints (sys.int_info)
TOO_MANY_DIGITS = 10**MAX_DIGITS  # made once: each check would cost 40 µs
MAX_REPR = 1000  # characters of a value's repr printed, then "..."
CONTAINERS = {list: "[]", tuple: "()", dict: "{}", set: "{}",
              frozenset: ("frozenset({", "})")}
SCALARS = (type(None), bool, int, float, str, bytes, bytearray)


class Refused(Exception):
    """A pickle not read, or a value not printed: one line, why."""


class Memo(dict):
    def __setitem__(self, key, value):
        if key not in self and len(self) >= MAX_MEMO:
            raise Refused(f"more than {MAX_MEMO} memo entries")
        super().__setitem__(key, value)


class BoundedUnpickler(pickle._Unpickler):
    """pickle's own Unpickler, the one written in Python: the C one sizes
    its memo by the largest index a PUT names (7 bytes took 2 GB here).
    What a pickle makes this one keep is bounded by what the pickle holds."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, data):
        super().__init__(io.BytesIO(data))
        self.memo = Memo()

    def load_mark(self):
        if len(self.metastack) >= MAX_MARKS:
            raise Refused(f"more than {MAX_MARKS} MARKs open")
        super().load_mark()

    def load_bytearray8(self):  # bytearray(size) would zero-fill it all
        size, = struct.unpack("<Q", self.read(8))
        data = self.read(size)
        if len(data) != size:
            raise Refused("the pickle ends inside a bytearray")
        self.append(bytearray(data))

    dispatch[pickle.MARK[0]] = load_mark
    dispatch[pickle.BYTEARRAY8[0]] = load_bytearray8


def inside(value):
    """What a container holds, in the order repr prints it."""
    if type(value) is dict:
        return itertools.chain.from_iterable(value.items())
    return iter(value)


def check(value):
    """Refuses a value that holds what is not plain data, nests deeper than
    MAX_DEPTH, or holds an int too long to print. No recursion, and each
    container is walked once, however often the value holds it."""
    levels, path, open_ids, items = {}, [], set(), iter((value,))
    while True:
        for item in items:
            kind, key = type(item), id(item)
            if kind in CONTAINERS and key in levels:
                if len(path) + levels[key] > MAX_DEPTH:
                    raise Refused(f"it nests deeper than {MAX_DEPTH}")
                path[-1][2] = max(path[-1][2], levels[key])
            elif kind in CONTAINERS and key not in open_ids:
                if len(path) == MAX_DEPTH:
                    raise Refused(f"it nests deeper than {MAX_DEPTH}")
                path.append([item, items, 0])
                open_ids.add(key)
                items = inside(item)
                break
            elif kind not in SCALARS and kind not in CONTAINERS:
                raise Refused(f"it holds a {kind.__name__}, no plain data")
            elif kind is int and abs(item) >= TOO_MANY_DIGITS:
                raise Refused(f"an int of more than {MAX_DIGITS} digits")
        else:
            if not path:
                return
            container, items, below = path.pop()
            open_ids.discard(id(container))
            levels[id(container)] = below + 1
            if path:
                path[-1][2] = max(path[-1][2], below + 1)


class Text(str):
    """A piece of a repr's own text, not a value in it."""


def parts(value):
    """A container's repr in parts: its text, and the values it holds."""
    kind = type(value)
    opening, closing = CONTAINERS[kind]
    yield Text(opening)
    for index, item in enumerate(inside(value)):
        if index:
            yield Text(": " if kind is dict and index % 2 else ", ")
        yield item
    yield Text("," + closing if kind is tuple and len(value) == 1 else closing)


def shown(value, limit=MAX_REPR):
    """repr(value) if it has at most `limit` characters, else its first
    `limit` and "...". Built piece by piece without recursion, and stopped
    at `limit`: a value may hold one list a million times."""
    pieces, size, open_ids = [], 0, set()
    stack = [(iter((value,)), None)]
    while stack and size <= limit:
        item = next(stack[-1][0], stack)  # the stack itself: this one ended
        kind = type(item)
        if item is stack:
            open_ids.discard(stack.pop()[1])
        elif kind in CONTAINERS and item and id(item) not in open_ids:
            open_ids.add(id(item))
            stack.append((parts(item), id(item)))
        else:
            if kind in CONTAINERS and item:  # inside itself: Python's [...]
                piece = "...".join(CONTAINERS[kind])
            else:
                piece = item if kind is Text else repr(item)
            pieces.append(piece)
            size += len(piece)
    text = "".join(pieces)
    return text if size <= limit else text[:limit] + "..."


def loads(unpickler, data):
    """unpickler(data).load(), checked: the value, or Refused in one line
    (a peer's bytes may break the unpickler in any way)."""
    try:
        value = unpickler(data).load()
    except Refused:
        raise
    except Exception as error:  # noqa: BLE001 - the peer's bytes, not ours
        reason = str(error) or type(error).__name__
        raise Refused(f"{type(error).__name__}: {reason[:200]}") from None
    check(value)
    return value
