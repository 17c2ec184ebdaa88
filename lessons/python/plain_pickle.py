"""Unpickling a peer's message safely: plain data only, bounded, never code.

pickle.loads runs whatever the data names: `cos\\nsystem\\n(V...\\ntR.` calls os.system. Lesson 5's
client reads from the network, so it uses `loads` here instead, which

1. scans the pickle with pickletools.genops before anything is built, and refuses it if it has
   more than MAX_OPCODES instructions, nests values more than MAX_DEPTH deep, holds an integer of
   more than MAX_DIGITS digits, names any global but the few plain data needs, or uses an
   instruction that builds objects of classes;
2. unpickles with an Unpickler whose find_class hands out only harmless stand-ins for those few
   globals (set, frozenset, bytes, bytearray, and _codecs.encode, which protocols 0 to 2 use
   for bytes);
3. and `plain_repr` prints the value as repr does, but refuses output longer than MAX_REPR
   characters (shared references in a pickle can make a small message print as gigabytes),
   deeper than MAX_DEPTH, or values of any other type.

Every refusal's words are in REFUSALS, in one place, so they can be kept the same as the Rust
client's.
"""

import io
import pickle
import pickletools

MAX_DEPTH = 100
MAX_OPCODES = 100_000
MAX_DIGITS = 4300  # Python's own limit for int <-> str (sys.get_int_max_str_digits())
MAX_REPR = 1024 * 1024

REFUSALS = {
    "global": "refused to unpickle: the message names the global {name}; this client reads only plain data",
    "instruction": "refused to unpickle: the message uses the pickle instruction {name}, which builds "
                   "objects; this client reads only plain data",
    "depth": f"refused to unpickle: the message nests values more than {MAX_DEPTH} deep; this client reads "
             "only plain data",
    "opcodes": f"refused to unpickle: the message has more than {MAX_OPCODES} pickle instructions; this "
               "client reads only small plain data",
    "digits": f"refused to unpickle: the message holds an integer of more than {MAX_DIGITS} digits; this "
              "client reads only plain data",
    "size": f"refused to print: the message's value would take more than {MAX_REPR} characters",
    "type": "refused to print: the message holds a value of type {name}, which is not plain data",
    "unreadable": "the message is not a pickle this client can read: {error}",
}


class Refused(Exception):
    """A message this client will not unpickle or print; str() says why."""


def refuse(key, **details):
    return Refused(REFUSALS[key].format(**details))


def _bytes_like(args):
    return len(args) == 0 or (len(args) == 1 and isinstance(args[0], (bytes, bytearray)))


def _plain_bytes(*args):
    if not _bytes_like(args):
        raise TypeError("bytes() is given only bytes here")
    return bytes(*args)


def _plain_bytearray(*args):
    if not _bytes_like(args):
        raise TypeError("bytearray() is given only bytes here")
    return bytearray(*args)


def _plain_set(*args):
    if len(args) > 1 or (args and not isinstance(args[0], (list, tuple))):
        raise TypeError("set() is given only a list here")
    return set(*args)


def _plain_frozenset(*args):
    if len(args) > 1 or (args and not isinstance(args[0], (list, tuple))):
        raise TypeError("frozenset() is given only a list here")
    return frozenset(*args)


def _latin1_encode(text, encoding="utf-8"):
    # Protocols 0 to 2 write bytes as _codecs.encode(str, 'latin1'); nothing else is allowed.
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise TypeError("_codecs.encode is allowed only for latin1 text")
    return text.encode("latin-1")


# The globals plain data needs, by (module, name); protocols 0 to 2 write __builtin__.
ALLOWED = {}
for _module in ("builtins", "__builtin__"):
    ALLOWED.update({
        (_module, "set"): _plain_set,
        (_module, "frozenset"): _plain_frozenset,
        (_module, "bytes"): _plain_bytes,
        (_module, "bytearray"): _plain_bytearray,
    })
ALLOWED[("_codecs", "encode")] = _latin1_encode

# Instructions that build instances of classes, or need what this client does not give.
REFUSED_INSTRUCTIONS = {
    "INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "BUILD", "EXT1", "EXT2", "EXT4",
    "PERSID", "BINPERSID", "NEXT_BUFFER", "READONLY_BUFFER",
}
TEXT = {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE",
        "BINUNICODE8"}
BUILDS_FROM_MARK = {"TUPLE", "LIST", "DICT", "FROZENSET"}
ADDS_FROM_MARK = {"APPENDS", "SETITEMS", "ADDITEMS"}
EMPTY = {"EMPTY_LIST", "EMPTY_DICT", "EMPTY_TUPLE", "EMPTY_SET"}


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        found = ALLOWED.get((module, name))
        if found is None:
            raise refuse("global", name=f"{module}.{name}")
        return found


def scan(data):
    """Refuses, before anything is built, a pickle that is not small, shallow, plain data."""
    stack = []  # (depth, text) for each value the pickle would push
    marks = []
    memo = {}

    def pop_to_mark():
        at = marks.pop() if marks else 0
        items = stack[at:]
        del stack[at:]
        return max((depth for depth, _ in items), default=0)

    def pop(count):
        items = stack[len(stack) - count:] if count else []
        del stack[len(stack) - count:]
        return max((depth for depth, _ in items), default=0)

    def raise_top(depth):
        if stack:
            stack[-1] = (max(stack[-1][0], depth), None)

    try:
        for count, (opcode, arg, _) in enumerate(pickletools.genops(data)):
            if count >= MAX_OPCODES:
                raise refuse("opcodes")
            name = opcode.name
            if name in REFUSED_INSTRUCTIONS:
                raise refuse("instruction", name=name)
            if name == "GLOBAL":
                module, _, attribute = str(arg).partition(" ")
                if (module, attribute) not in ALLOWED:
                    raise refuse("global", name=f"{module}.{attribute}")
                stack.append((0, None))
            elif name == "STACK_GLOBAL":
                module = stack[-2][1] if len(stack) >= 2 else None
                attribute = stack[-1][1] if stack else None
                if (module, attribute) not in ALLOWED:
                    raise refuse("global", name=f"{module}.{attribute}")
                pop(2)
                stack.append((0, None))
            elif name in ("LONG1", "LONG4", "LONG", "INT") and isinstance(arg, int) \
                    and arg.bit_length() > MAX_DIGITS * 3.33:
                raise refuse("digits")
            elif name == "MARK":
                marks.append(len(stack))
            elif name in BUILDS_FROM_MARK:
                stack.append((pop_to_mark() + 1, None))
            elif name in ADDS_FROM_MARK:
                raise_top(pop_to_mark() + 1)
            elif name == "APPEND":
                raise_top(pop(1) + 1)
            elif name == "SETITEM":
                raise_top(pop(2) + 1)
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                stack.append((pop(int(name[-1])) + 1, None))
            elif name == "REDUCE":
                stack.append((pop(2), None))
            elif name in EMPTY:
                stack.append((1, None))
            elif name == "POP":
                pop(1)
            elif name == "POP_MARK":
                pop_to_mark()
            elif name == "DUP":
                stack.append(stack[-1] if stack else (0, None))
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[arg] = stack[-1] if stack else (0, None)
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1] if stack else (0, None)
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo.get(arg, (0, None)))
            elif name in ("PROTO", "FRAME", "STOP"):
                pass
            else:
                # A value: a number, text, bytes, None, True, False.
                stack.append((0, arg if name in TEXT and isinstance(arg, str) else None))
            if stack and stack[-1][0] > MAX_DEPTH:
                raise refuse("depth")
    except Refused:
        raise
    except ValueError as error:
        if "integer string conversion" in str(error):  # a text integer (INT, LONG) too long
            raise refuse("digits") from None
        raise refuse("unreadable", error=error) from None
    except Exception as error:  # genops on bytes that are not a pickle
        raise refuse("unreadable", error=error) from None


def loads(data):
    """The value a peer's pickle holds, if it is plain data; raises Refused otherwise."""
    scan(data)
    try:
        return _PlainUnpickler(io.BytesIO(data)).load()
    except Refused:
        raise
    except Exception as error:
        raise refuse("unreadable", error=error) from None


def plain_repr(value):
    """repr(value), for plain data only, bounded in depth and length."""
    parts = []
    size = [0]
    on_path = set()

    def put(text):
        size[0] += len(text)
        if size[0] > MAX_REPR:
            raise refuse("size")
        parts.append(text)

    def items(open_text, values, close_text, show, depth):
        put(open_text)
        for index, item in enumerate(values):
            if index:
                put(", ")
            show(item, depth)
        put(close_text)

    def show(item, depth):
        if depth > MAX_DEPTH:
            raise refuse("depth")
        kind = type(item)
        if item is None or kind in (bool, float, str, bytes, bytearray):
            put(repr(item))
        elif kind is int:
            try:
                put(repr(item))
            except ValueError:  # more digits than int -> str converts
                raise refuse("digits") from None
        elif kind in (list, tuple, dict, set, frozenset):
            if id(item) in on_path:
                # A value that holds itself: repr shows [...] and {...}.
                put({list: "[...]", tuple: "(...)", dict: "{...}"}.get(kind, "..."))
                return
            on_path.add(id(item))
            if kind is list:
                items("[", item, "]", show, depth + 1)
            elif kind is tuple:
                items("(", item, ",)" if len(item) == 1 else ")", show, depth + 1)
            elif kind is dict:
                def entry(pair, level):
                    show(pair[0], level)
                    put(": ")
                    show(pair[1], level)
                items("{", list(item.items()), "}", entry, depth + 1)
            elif not item:
                put(f"{kind.__name__}()")
            elif kind is set:
                items("{", item, "}", show, depth + 1)
            else:
                items("frozenset({", item, "})", show, depth + 1)
            on_path.discard(id(item))
        else:
            raise refuse("type", name=kind.__name__)

    show(value, 0)
    return "".join(parts)
