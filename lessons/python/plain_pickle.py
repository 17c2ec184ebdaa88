"""Unpickling a peer's message safely: plain data only, bounded, never code.

pickle.loads runs whatever the data names: `cos\\nsystem\\n(V...\\ntR.` calls
os.system. Lesson 5's client reads from the network, so it uses `loads` here
instead. It is the twin of the Rust client's src/unpickle.rs and applies the
same rules, in the same order, with the same words:

1. one pass over the opcodes, with no recursion and with bounds a plain value
   never meets: containers nest at most MAX_DEPTH levels; the value holds at
   most MAX_VALUES values (each copy of a repeated object counted) and MAX_SIZE
   bytes written out in full; at most MAX_PUSHES values are pushed on pickle's
   stack and MAX_OPEN_MARKS marks are open at once; integers have at most
   MAX_INT_DIGITS digits (MAX_INT_BYTES bytes in binary). Only the globals
   plain data needs are accepted (set, frozenset, bytearray, bytes and
   _codecs.encode, called with the arguments Python's protocols 0 to 3 give
   them), no opcode that builds an object of a class, and no value that
   contains itself;
2. the value is built, each repeated object in full: each number, string and
   bytes decoded as serde-pickle (the Rust client's decoder) decodes it, with
   its rules (STRING is bytes, INT is at most 64 bits, ...) and its words, and
   each container built as serde-pickle builds it (a dict's keys and a set's
   items in its sorted order), plus bytearray, which the Rust client keeps
   apart as Python does; `plain_repr` prints the value as the Rust client's
   python::repr does.

So the Python client prints what the Rust client prints for every message, not
what pickle.loads would give: the two clients are one lesson. (One exception:
serde-pickle's order is not consistent for a float NaN, nor between an
infinity and an int too large for a float, so a set or dict holding those
among its keys comes out in an order, and with duplicates merged, in ways
that depend on the sorting algorithm; Python's is not Rust's.) Where Python's
own pickle would read more (a list that contains itself, a class instance), it
is refused here as it is in Rust.

Every message's words are in REFUSALS, in one place, kept the same as the Rust
client's.
"""

import math
import re
import struct
import unicodedata
from functools import cmp_to_key

MAX_DEPTH = 100
MAX_VALUES = 100_000
MAX_SIZE = 4 * 1024 * 1024
MAX_PUSHES = 2 * MAX_VALUES
MAX_OPEN_MARKS = 256
MAX_INT_DIGITS = (
    4300  # Python's own limit for int <-> str (sys.get_int_max_str_digits())
)
MAX_INT_BYTES = (
    1785  # 1785 bytes hold less than 2**14280, which has 4299 digits
)
ALLOWED_GLOBALS = (
    "None, bool, int, float, str, bytes, bytearray, list, tuple, dict, set, "
    "frozenset"
)
# Counts saturate here, as the Rust client's u64 counts do: copies multiply.
SATURATED = 2**64 - 1

_REFUSED = "refused to unpickle: the message "
_MALFORMED = "the message is not a pickle this program can read: "
REFUSALS = {
    # Refusals: a pickle that may be well formed, but is not small plain data.
    "marks": _REFUSED
    + f"opens more than {MAX_OPEN_MARKS} marks (MARK) at once",
    "memo": _REFUSED + f"stores more than {MAX_VALUES} values in its memo",
    "opcode": _REFUSED
    + "uses the opcode {name} (offset {offset}); this program reads only plain "
    f"data: {ALLOWED_GLOBALS}",
    "pushes": _REFUSED
    + f"pushes more than {MAX_PUSHES} values on pickle's stack",
    "recursive": _REFUSED
    + "adds to a {form} it has already used: that is how a pickle writes a "
    "value that contains itself, which this program cannot read",
    "call": _REFUSED
    + "calls {name} with arguments plain data never has (REDUCE at offset "
    "{offset})",
    "depth": _REFUSED
    + f"holds a value that nests deeper than {MAX_DEPTH} levels",
    "values": _REFUSED
    + f"holds more than {MAX_VALUES} values, counting each copy of a repeated "
    "one",
    "size": _REFUSED
    + f"holds a value of more than {MAX_SIZE} bytes written out in full, "
    "counting each copy of a repeated one",
    "global value": _REFUSED
    + "uses the global {name} itself as a value; this program reads only "
    f"plain data: {ALLOWED_GLOBALS}",
    "global": _REFUSED
    + "names the global {name}; this program reads only plain data: "
    f"{ALLOWED_GLOBALS}",
    "digits": _REFUSED
    + "holds an integer of {digits} digits ({name} at offset {offset}), more "
    f"than the {MAX_INT_DIGITS} Python prints",
    "int bytes": _REFUSED
    + "holds an integer of {length} bytes ({name} at offset {offset}); this "
    f"program reads up to {MAX_INT_BYTES}, the most that always fit in the "
    f"{MAX_INT_DIGITS} digits Python prints",
    # Malformed: not a pickle at all, or not one that reads.
    "no stop": _MALFORMED + "it ends before its STOP opcode",
    "after stop": _MALFORMED
    + "bytes follow its STOP opcode at offset {offset}",
    "unknown": _MALFORMED
    + "byte 0x{code:02x} at offset {offset} is no pickle opcode",
    "cut short": _MALFORMED + "it ends inside {name} at offset {offset}",
    "no number": _MALFORMED + "{name} at offset {offset} has no number",
    "no mark": _MALFORMED + "{name} at offset {offset} has no MARK before it",
    "no value": _MALFORMED + "{name} finds no value",
    "no string": _MALFORMED + "{name} at offset {offset} finds no string",
    "odd dict": _MALFORMED + "a dict has a key without a value",
    "no container": _MALFORMED
    + "{name} at offset {offset} finds no {form} to add to",
    "not a global": _MALFORMED
    + "REDUCE at offset {offset} calls something that is not a global",
    "underflow": _MALFORMED
    + "{name} at offset {offset} finds too few values on the stack",
    "no memo": _MALFORMED
    + "{name} at offset {offset} fetches memo {index}, never stored",
    # Building the value (step 2): what serde-pickle says of a number,
    # string or bytes, as it words it, and a key Python could not hash.
    "scalar": _MALFORMED + "{name} at offset {offset}: {error}",
    "literal": "literal is invalid: {text}",
    "not utf-8": "string is not UTF-8 encoded",
    "unhashable": _MALFORMED
    + "a dict key or set item is a list, dict, set or bytearray, which Python "
    "cannot hash",
}


class Refused(Exception):
    """A message this client will not unpickle; str() says why."""


def refuse(key, **details):
    return Refused(REFUSALS[key].format(**details))


# How an opcode's argument is written after it: nothing, a fixed number of
# bytes, a line, two lines, or a length of this many bytes and then that many
# bytes.
NONE, LINE, TWO_LINES = "none", "line", "two lines"
FIXED = {1: ("fixed", 1), 2: ("fixed", 2), 4: ("fixed", 4), 8: ("fixed", 8)}
COUNTED = {1: ("counted", 1), 4: ("counted", 4), 8: ("counted", 8)}

# Each opcode's name, as Python's pickletools calls it, and its argument.
OPCODES = {
    ord("("): ("MARK", NONE),
    ord("."): ("STOP", NONE),
    ord("0"): ("POP", NONE),
    ord("1"): ("POP_MARK", NONE),
    ord("2"): ("DUP", NONE),
    ord("F"): ("FLOAT", LINE),
    ord("I"): ("INT", LINE),
    ord("J"): ("BININT", FIXED[4]),
    ord("K"): ("BININT1", FIXED[1]),
    ord("L"): ("LONG", LINE),
    ord("M"): ("BININT2", FIXED[2]),
    ord("N"): ("NONE", NONE),
    ord("P"): ("PERSID", LINE),
    ord("Q"): ("BINPERSID", NONE),
    ord("R"): ("REDUCE", NONE),
    ord("S"): ("STRING", LINE),
    ord("T"): ("BINSTRING", COUNTED[4]),
    ord("U"): ("SHORT_BINSTRING", COUNTED[1]),
    ord("V"): ("UNICODE", LINE),
    ord("X"): ("BINUNICODE", COUNTED[4]),
    ord("a"): ("APPEND", NONE),
    ord("b"): ("BUILD", NONE),
    ord("c"): ("GLOBAL", TWO_LINES),
    ord("d"): ("DICT", NONE),
    ord("}"): ("EMPTY_DICT", NONE),
    ord("e"): ("APPENDS", NONE),
    ord("g"): ("GET", LINE),
    ord("h"): ("BINGET", FIXED[1]),
    ord("i"): ("INST", TWO_LINES),
    ord("j"): ("LONG_BINGET", FIXED[4]),
    ord("l"): ("LIST", NONE),
    ord("]"): ("EMPTY_LIST", NONE),
    ord("o"): ("OBJ", NONE),
    ord("p"): ("PUT", LINE),
    ord("q"): ("BINPUT", FIXED[1]),
    ord("r"): ("LONG_BINPUT", FIXED[4]),
    ord("s"): ("SETITEM", NONE),
    ord("t"): ("TUPLE", NONE),
    ord(")"): ("EMPTY_TUPLE", NONE),
    ord("u"): ("SETITEMS", NONE),
    ord("G"): ("BINFLOAT", FIXED[8]),
    0x80: ("PROTO", FIXED[1]),
    0x81: ("NEWOBJ", NONE),
    0x82: ("EXT1", FIXED[1]),
    0x83: ("EXT2", FIXED[2]),
    0x84: ("EXT4", FIXED[4]),
    0x85: ("TUPLE1", NONE),
    0x86: ("TUPLE2", NONE),
    0x87: ("TUPLE3", NONE),
    0x88: ("NEWTRUE", NONE),
    0x89: ("NEWFALSE", NONE),
    0x8A: ("LONG1", COUNTED[1]),
    0x8B: ("LONG4", COUNTED[4]),
    ord("B"): ("BINBYTES", COUNTED[4]),
    ord("C"): ("SHORT_BINBYTES", COUNTED[1]),
    0x8C: ("SHORT_BINUNICODE", COUNTED[1]),
    0x8D: ("BINUNICODE8", COUNTED[8]),
    0x8E: ("BINBYTES8", COUNTED[8]),
    0x8F: ("EMPTY_SET", NONE),
    0x90: ("ADDITEMS", NONE),
    0x91: ("FROZENSET", NONE),
    0x92: ("NEWOBJ_EX", NONE),
    0x93: ("STACK_GLOBAL", NONE),
    0x94: ("MEMOIZE", NONE),
    0x95: ("FRAME", FIXED[8]),
    0x96: ("BYTEARRAY8", COUNTED[8]),
    0x97: ("NEXT_BUFFER", NONE),
    0x98: ("READONLY_BUFFER", NONE),
}

SCALARS = frozenset(b"N\x88\x89JKMFGSTUVX\x8c\x8dBC\x8e\x96")
INTEGERS = frozenset(b"IL\x8a\x8b")


def read_op(data, offset):
    """The opcode at offset: (code, name, argument's bytes, where the next
    opcode starts)."""
    code = data[offset]
    found = OPCODES.get(code)
    if found is None:
        raise refuse("unknown", code=code, offset=offset)
    name, kind = found
    start = offset + 1
    if kind == NONE:
        return code, name, b"", start
    if kind == LINE or kind == TWO_LINES:
        newline = data.find(b"\n", start)
        if newline >= 0 and kind == TWO_LINES:
            newline = data.find(b"\n", newline + 1)
        if newline < 0:
            raise refuse("cut short", name=name, offset=offset)
        return code, name, data[start:newline], newline + 1
    how, width = kind
    if how == "fixed":
        end = start + width
        if end > len(data):
            raise refuse("cut short", name=name, offset=offset)
        return code, name, data[start:end], end
    if start + width > len(data):
        raise refuse("cut short", name=name, offset=offset)
    length = int.from_bytes(data[start : start + width], "little")
    # BINSTRING and LONG4 write a signed length; a negative one is too long for
    # any message.
    end = start + width + length
    if (width == 4 and length >= 1 << 31) or end > len(data):
        raise refuse("cut short", name=name, offset=offset)
    return code, name, data[start + width : end], end


# The globals a plain value needs, by the name the Rust client shows.
SET, FROZENSET, BYTEARRAY, BYTES, ENCODE = (
    "builtins.set",
    "builtins.frozenset",
    "builtins.bytearray",
    "builtins.bytes",
    "_codecs.encode",
)


def find_global(module, name):
    if module in (b"builtins", b"__builtin__"):
        return {
            b"set": SET,
            b"frozenset": FROZENSET,
            b"bytearray": BYTEARRAY,
            b"bytes": BYTES,
        }.get(name)
    return ENCODE if (module, name) == (b"_codecs", b"encode") else None


# The bytes of a container's own opcodes, written out in full: a list is
# EMPTY_LIST, MARK, the items, APPENDS; a tuple MARK, the items, TUPLE; ...
ENDS = {"list": 3, "tuple": 2, "dict": 3, "set": 3, "frozenset": 2}

# Each object: [kind, values, size, depth, shared, detail...]. Kinds:
SCALAR = 0  # detail: start, end (the opcode's bytes in the message), code
EMPTY_BYTES = 1
ENCODED = 2  # detail: text id, encoding id
CONTAINER = 3  # detail: form, items (ids)
ITEMS_OF = 4  # detail: form, list id (set(list): the list's items, not copied)
BYTEARRAY_OF = 5  # detail: the bytes' id, or None for bytearray()
KIND, VALUES, SIZE, DEPTH, SHARED = range(5)


def _rust_char_escape(character):
    """char::escape_debug, for the printable characters and the usual escapes.

    Rust's notion of printable is its own table; this uses Unicode's
    categories, which agree for every character a module or a name written
    by Python holds."""
    special = {
        "\0": "\\0",
        "\t": "\\t",
        "\r": "\\r",
        "\n": "\\n",
        "\\": "\\\\",
        "'": "\\'",
        '"': '\\"',
    }
    if character in special:
        return special[character]
    category = unicodedata.category(character)
    if category in ("Mn", "Me") or (category[0] in "CZ" and character != " "):
        return f"\\u{{{ord(character):x}}}"
    return character


def _show(text):
    """Text from the pickle, for a message: it may be long or hold control
    characters, so at most 60 characters, escaped."""
    return "".join(
        _rust_char_escape(c) for c in text.decode("utf-8", "replace")[:60]
    )


def _refused_global(module, name):
    return refuse("global", name=f"{_show(module)}.{_show(name)}")


def _decimal(name, offset, arg):
    """A text argument, for opcodes that take a decimal number (PUT, GET): a
    u64."""
    try:
        text = arg.decode("utf-8").strip(RUST_WHITESPACE)
    except UnicodeDecodeError:
        text = ""
    if not re.fullmatch(r"\+?[0-9]+", text, re.ASCII) or int(text) >= 2**64:
        raise refuse("no number", name=name, offset=offset)
    return int(text)


# What Rust's str::trim and char::is_whitespace take for whitespace (Unicode's
# White_Space).
RUST_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _check_integer(code, name, offset, arg):
    """Integers Python would refuse to print."""
    if code in b"IL":
        digits = sum(1 for byte in arg if 48 <= byte <= 57)
        if digits > MAX_INT_DIGITS:
            raise refuse("digits", digits=digits, name=name, offset=offset)
    elif len(arg) > MAX_INT_BYTES:
        raise refuse("int bytes", length=len(arg), name=name, offset=offset)


def scan(data):
    """Checks the pickle, and builds its value."""
    objects = []
    stack = []  # ids of objects, or ("global", name) for a global to call
    marks = []  # the stack's length at each open MARK
    memo = {}
    pushes = 0
    length = len(data)

    def push(entry):
        nonlocal pushes
        pushes += 1
        if pushes > MAX_PUSHES:
            raise refuse("pushes")
        stack.append(entry)

    def new_object(obj):
        objects.append(obj)
        push(len(objects) - 1)
        return len(objects) - 1

    def floor():
        return marks[-1] if marks else 0

    def global_as_value(entry):
        return refuse("global value", name=entry[1])

    def pop_mark(name, offset):
        if not marks:
            raise refuse("no mark", name=name, offset=offset)
        at = marks.pop()
        items = stack[at:]
        del stack[at:]
        return items

    def pop_value(what):
        if len(stack) <= floor():
            raise refuse("no value", name=what)
        entry = stack.pop()
        if isinstance(entry, tuple):
            raise global_as_value(entry)
        return entry

    def text(ident):
        """The UTF-8 of a string written in one binary opcode, or in
        protocol 0's UNICODE."""
        obj = objects[ident]
        if obj[KIND] != SCALAR:
            return None
        start, end, code = obj[5], obj[6], obj[7]
        skip = {0x8C: 2, ord("X"): 5, 0x8D: 9, ord("V"): 1}.get(code)
        if skip is None:
            return None
        return (
            data[start + skip : end - 1]
            if code == ord("V")
            else data[start + skip : end]
        )

    def place(target, items):
        parent = objects[target]
        for item in items:
            if isinstance(item, tuple):
                raise global_as_value(item)
            child = objects[item]
            child[SHARED] = True
            parent[VALUES] = min(parent[VALUES] + child[VALUES], SATURATED)
            parent[SIZE] = min(parent[SIZE] + child[SIZE], SATURATED)
            parent[DEPTH] = max(parent[DEPTH], child[DEPTH] + 1)
            if parent[KIND] == CONTAINER:
                parent[6].append(item)

    def container(form, items):
        if form == "dict" and len(items) % 2 == 1:
            raise refuse("odd dict")
        ident = new_object([CONTAINER, 1, ENDS[form], 1, False, form, []])
        place(ident, items)

    def add(code, name, offset, items):
        expected = (
            "list" if code in b"ae" else "dict" if code in b"su" else "set"
        )
        top = stack[-1] if stack else None
        if top is None or isinstance(top, tuple) or len(stack) <= floor():
            raise refuse("underflow", name=name, offset=offset)
        obj = objects[top]
        form = obj[5] if obj[KIND] == CONTAINER else None
        if form != expected:
            raise refuse(
                "no container", name=name, offset=offset, form=expected
            )
        if obj[SHARED]:
            raise refuse("recursive", form=expected)
        if expected == "dict" and len(items) % 2 == 1:
            raise refuse("odd dict")
        place(top, items)

    def global_named(module, name):
        found = find_global(module, name)
        if found is None:
            raise _refused_global(module, name)
        push(("global", found))

    def reduce(offset):
        arguments = pop_value("REDUCE")
        if not stack:
            raise refuse("underflow", name="REDUCE", offset=offset)
        callable_ = stack.pop()
        if not isinstance(callable_, tuple):
            raise refuse("not a global", offset=offset)
        called = callable_[1]
        obj = objects[arguments]
        # Arguments come as a tuple; anything else is no call plain data makes
        # (set(None) is an error in Python too).
        if not (obj[KIND] == CONTAINER and obj[5] == "tuple"):
            raise refuse("call", name=called, offset=offset)
        args = list(obj[6])

        def is_bytes(ident):
            o = objects[ident]
            return (o[KIND] == SCALAR and o[7] in b"BC\x8e") or o[KIND] in (
                EMPTY_BYTES,
                ENCODED,
            )

        def is_list(ident):
            o = objects[ident]
            return o[KIND] == CONTAINER and o[5] == "list"

        if called in (SET, FROZENSET) and not args:
            return container("set" if called == SET else "frozenset", [])
        if called in (SET, FROZENSET) and len(args) == 1 and is_list(args[0]):
            form = "set" if called == SET else "frozenset"
            source = objects[args[0]]
            size = source[SIZE] - ENDS["list"] + ENDS[form]
            objects.append(
                [
                    ITEMS_OF,
                    source[VALUES],
                    size,
                    source[DEPTH],
                    False,
                    form,
                    args[0],
                ]
            )
            return push(len(objects) - 1)
        if called == BYTES and not args:
            return new_object([EMPTY_BYTES, 1, 2, 0, False])
        if called == BYTEARRAY and not args:
            return new_object([BYTEARRAY_OF, 1, 2, 0, False, None])
        if called == BYTEARRAY and len(args) == 1 and is_bytes(args[0]):
            size = objects[args[0]][SIZE]
            return new_object([BYTEARRAY_OF, 1, size, 0, False, args[0]])
        if (
            called == ENCODE
            and len(args) == 2
            and text(args[0]) is not None
            and text(args[1]) == b"latin1"
        ):
            size = (
                objects[args[0]][SIZE]
                + objects[args[1]][SIZE]
                + len(ENCODE_CALL)
                + 2
            )
            return new_object([ENCODED, 1, size, 0, False, args[0], args[1]])
        raise refuse("call", name=called, offset=offset)

    offset = 0
    while True:
        if offset >= length:
            raise refuse("no stop")
        code, name, arg, end = read_op(data, offset)
        if code == 0x2E:  # STOP
            if end != length:
                raise refuse("after stop", offset=offset)
            root = pop_value("STOP")
            check_bounds(objects[root])
            try:
                return _build(data, objects, root)
            except _Serde as error:
                raise Refused(str(error)) from None
        if code in SCALARS or code in INTEGERS:
            if code in INTEGERS:
                _check_integer(code, name, offset, arg)
            new_object([SCALAR, 1, end - offset, 0, False, offset, end, code])
        elif (
            code == 0x80 or code == 0x95
        ):  # PROTO and FRAME change nothing here.
            pass
        elif code == 0x28:  # MARK
            if len(marks) >= MAX_OPEN_MARKS:
                raise refuse("marks")
            marks.append(len(stack))
        elif code == 0x30:  # POP
            if len(stack) > floor():
                stack.pop()
            else:
                pop_mark(name, offset)
        elif code == 0x31:  # POP_MARK
            pop_mark(name, offset)
        elif code == 0x32:  # DUP
            if not stack:
                raise refuse("underflow", name=name, offset=offset)
            copy(objects, push, stack[-1])
        elif code in b"pqr\x94":  # PUT, BINPUT, LONG_BINPUT, MEMOIZE
            if code == 0x70:
                index = _decimal(name, offset, arg)
            elif code == 0x94:
                index = len(memo)
            else:
                index = int.from_bytes(arg, "little")
            if len(memo) >= MAX_VALUES and index not in memo:
                raise refuse("memo")
            if not stack:
                raise refuse("underflow", name=name, offset=offset)
            memo[index] = stack[-1]
        elif code in b"ghj":  # GET, BINGET, LONG_BINGET
            index = (
                _decimal(name, offset, arg)
                if code == 0x67
                else int.from_bytes(arg, "little")
            )
            if index not in memo:
                raise refuse("no memo", name=name, offset=offset, index=index)
            copy(objects, push, memo[index])
        elif code in b")]}\x8f":
            container(
                {0x29: "tuple", 0x5D: "list", 0x7D: "dict", 0x8F: "set"}[code],
                [],
            )
        elif code in b"\x85\x86\x87":  # TUPLE1, TUPLE2, TUPLE3
            at = len(stack) - (code - 0x84)
            if at < 0 or at < floor():
                raise refuse("underflow", name=name, offset=offset)
            items = stack[at:]
            del stack[at:]
            container("tuple", items)
        elif code in b"tl\x91d":
            items = pop_mark(name, offset)
            container(
                {0x74: "tuple", 0x6C: "list", 0x91: "frozenset", 0x64: "dict"}[
                    code
                ],
                items,
            )
        elif code in b"as":  # APPEND, SETITEM
            at = len(stack) - (1 if code == 0x61 else 2)
            if at < 0 or at <= floor():
                raise refuse("underflow", name=name, offset=offset)
            items = stack[at:]
            del stack[at:]
            add(code, name, offset, items)
        elif code in b"eu\x90":  # APPENDS, SETITEMS, ADDITEMS
            add(code, name, offset, pop_mark(name, offset))
        elif code == 0x63:  # GLOBAL
            module, _, attribute = arg.partition(b"\n")
            global_named(module, attribute)
        # STACK_GLOBAL: a module and a name, strings, as protocol 4 writes
        # them.
        elif code == 0x93:
            names = []
            for _ in range(2):
                found = text(pop_value(name))
                if found is None:
                    raise refuse("no string", name=name, offset=offset)
                names.append(found)
            global_named(names[1], names[0])
        elif code == 0x52:  # REDUCE
            reduce(offset)
        elif code == 0x69:  # INST
            module, _, attribute = arg.partition(b"\n")
            raise _refused_global(module, attribute)
        else:
            # OBJ, NEWOBJ, NEWOBJ_EX and BUILD make objects of classes; the
            # rest (PERSID, EXT1, NEXT_BUFFER...) fetch objects from outside
            # the pickle. Plain data needs none.
            raise refuse("opcode", name=name, offset=offset)
        offset = end


def copy(objects, push, entry):
    """DUP and memo fetches: the same object again."""
    if not isinstance(entry, tuple):
        objects[entry][SHARED] = True
    push(entry)


ENCODE_CALL = b"c_codecs\nencode\n"


def check_bounds(obj):
    """Refuses a value beyond the bounds before anything of it is built."""
    if obj[DEPTH] > MAX_DEPTH:
        raise refuse("depth")
    if obj[VALUES] > MAX_VALUES:
        raise refuse("values")
    if obj[SIZE] > MAX_SIZE:
        raise refuse("size")


# Step 2: the value, as (tag, payload).


class _Serde(Exception):
    """An error in decoding a scalar, or in building the value, worded."""


def _scalar_error(name, offset, error):
    return _Serde(
        REFUSALS["scalar"].format(name=name, offset=offset, error=error)
    )


def _literal(name, offset, raw):
    return _scalar_error(
        name,
        offset,
        REFUSALS["literal"].format(text=_show(raw)),
    )


_RUST_FLOAT = re.compile(
    rb"[+-]?(?:(?i:inf|infinity|nan)|(?:[0-9]+\.?[0-9]*|\.[0-9]+)"
    rb"(?:[eE][+-]?[0-9]+)?)"
)
_RUST_INT = re.compile(rb"[+-]?[0-9]+")
_BIGINT = re.compile(rb"-?\+?(?![_])[0-9_]*[0-9][0-9_]*")
_ESCAPES = {
    ord("\\"): 0x5C,
    ord("a"): 7,
    ord("b"): 8,
    ord("t"): 9,
    ord("n"): 10,
    ord("v"): 11,
    ord("f"): 12,
    ord("r"): 13,
}


def _line(arg):
    return arg[:-1] if arg.endswith(b"\r") else arg


def _scalar(code, name, arg, offset):
    """One scalar opcode's value, as serde-pickle decodes it; its errors name
    the opcode and its offset in the message."""
    if code == 0x4E:
        return ("none", None)
    if code in (0x88, 0x89):
        return ("bool", code == 0x88)
    if code == 0x49:  # INT
        line = _line(arg)
        if line in (b"00", b"01"):
            return ("bool", line == b"01")
        if not _RUST_INT.fullmatch(line) or not -(2**63) <= int(line) < 2**63:
            raise _literal(name, offset, line)
        return ("int", int(line))
    if code == 0x4C:  # LONG
        line = _line(arg)
        if line.endswith(b"L"):
            line = line[:-1]
        if not _BIGINT.fullmatch(line):
            raise _literal(name, offset, line)
        digits = line.replace(b"_", b"").replace(b"+", b"")
        return ("int", int(digits))
    if code == 0x46:  # FLOAT
        line = _line(arg)
        if not _RUST_FLOAT.fullmatch(line):
            raise _literal(name, offset, line)
        return ("float", float(line))
    if code == 0x47:
        return ("float", struct.unpack(">d", arg)[0])
    if code == 0x4A:
        return ("int", int.from_bytes(arg, "little", signed=True))
    if code in (0x4B, 0x4D):
        return ("int", int.from_bytes(arg, "little"))
    if code in (0x8A, 0x8B):
        return ("int", int.from_bytes(arg, "little", signed=True))
    if (
        code == 0x53
    ):  # STRING: Python 2's str, which serde-pickle reads as bytes
        line = _line(arg)
        if len(line) >= 2 and line[0] == line[-1] and line[0] in b"\"'":
            line = line[1:-1]
        out = bytearray()
        at = 0
        while at < len(line):
            byte = line[at]
            at += 1
            if byte != 0x5C:
                out.append(byte)
                continue
            escape = line[at] if at < len(line) else None
            at += 1
            if escape in _ESCAPES:
                out.append(_ESCAPES[escape])
            elif escape == ord("x") and re.fullmatch(
                rb"[0-9a-fA-F]{2}", line[at : at + 2]
            ):
                out.append(int(line[at : at + 2], 16))
                at += 2
            else:
                raise _literal(name, offset, line)
        return ("bytes", bytes(out))
    if code == 0x56:  # UNICODE: raw-unicode-escape, \\u and \\U only
        line = _line(arg)
        out = []
        at = 0
        while at < len(line):
            byte = line[at]
            at += 1
            if byte != 0x5C:
                out.append(chr(byte))
                continue
            width = {ord("u"): 4, ord("U"): 8}.get(
                line[at] if at < len(line) else None
            )
            hex_digits = line[at + 1 : at + 1 + width] if width else b""
            if (
                not width
                or not re.fullmatch(rb"[0-9a-fA-F]+", hex_digits)
                or len(hex_digits) != width
            ):
                raise _literal(name, offset, line)
            point = int(hex_digits, 16)
            if point > 0x10FFFF or 0xD800 <= point <= 0xDFFF:
                raise _literal(name, offset, line)
            out.append(chr(point))
            at += 1 + width
        return ("str", "".join(out))
    if code in (0x58, 0x8C, 0x8D):
        try:
            return ("str", arg.decode("utf-8"))
        except UnicodeDecodeError:
            raise _scalar_error(name, offset, REFUSALS["not utf-8"]) from None
    return ("bytes", bytes(arg))  # T, U, B, C, BINBYTES8


def _build(data, objects, ident):
    """The value of an object, each repeated object built again in full. The
    recursion goes as deep as the value nests: at most MAX_DEPTH levels,
    checked before."""
    obj = objects[ident]
    kind = obj[KIND]
    if kind == SCALAR:
        code, name, arg, _ = read_op(data, obj[5])
        if code == 0x96:  # BYTEARRAY8
            return ("bytearray", bytes(arg))
        return _scalar(code, name, arg, obj[5])
    if kind == EMPTY_BYTES:
        return ("bytes", b"")
    if kind == ENCODED:
        text = _build(data, objects, obj[5])[1]
        # serde-pickle keeps each character's low byte: latin1's bytes.
        return ("bytes", bytes(ord(c) & 0xFF for c in text))
    if kind == BYTEARRAY_OF:
        if obj[5] is None:
            return ("bytearray", b"")
        return ("bytearray", _build(data, objects, obj[5])[1])
    form = obj[5]
    items = obj[6] if kind == CONTAINER else objects[obj[6]][6]
    if form in ("list", "tuple"):
        return (form, [_build(data, objects, item) for item in items])
    if form in ("set", "frozenset"):
        members = [_hashable(_build(data, objects, item)) for item in items]
        members.sort(key=_ORDER)
        # A BTreeSet collected from items keeps the last of equal ones.
        kept = [
            item
            for at, item in enumerate(members)
            if at + 1 == len(members) or _compare(item, members[at + 1]) != 0
        ]
        return (form, kept)
    pairs = []
    for key, item in zip(items[::2], items[1::2]):
        key = _hashable(_build(data, objects, key))
        pairs.append((key, _build(data, objects, item)))
    pairs.sort(key=lambda pair: _ORDER(pair[0]))
    # BTreeMap.insert keeps the first of equal keys, with the last value.
    kept = []
    for key, item in pairs:
        if kept and _compare(kept[-1][0], key) == 0:
            kept[-1] = (kept[-1][0], item)
        else:
            kept.append((key, item))
    return ("dict", kept)


def _hashable(value):
    if value[0] in ("list", "dict", "set", "bytearray"):
        raise _Serde(REFUSALS["unhashable"])
    if value[0] == "tuple":
        for item in value[1]:
            _hashable(item)
    return value


_RANKS = {
    "none": 0,
    "bool": 1,
    "int": 1,
    "float": 1,
    "bytes": 2,
    "str": 3,
    "frozenset": 4,
    "tuple": 5,
}


def _sign(a, b):
    return (a > b) - (a < b)


def _float_order(f, g):
    # serde-pickle's "reasonable" order: a NaN is less than everything.
    return _sign(f, g) if not (math.isnan(f) or math.isnan(g)) else -1


def _as_i64(f):
    if math.isnan(f):
        return 0
    if math.isinf(f):
        return 2**63 - 1 if f > 0 else -(2**63)
    return max(-(2**63), min(2**63 - 1, int(f)))


def _compare(a, b):
    """HashableValue's Ord in serde-pickle: numbers by value, then bytes, str,
    frozenset, tuple."""
    (tag, x), (other, y) = a, b
    if _RANKS[tag] != _RANKS[other]:
        return _sign(_RANKS[tag], _RANKS[other])
    if tag == "none":
        return 0
    if _RANKS[tag] == 1:
        big = (
            lambda n: not -(2**63) <= n < 2**63
        )  # noqa: E731 (serde-pickle's Int)
        if tag != "float" and other != "float":
            return _sign(int(x), int(y))
        if tag == "float" and other == "float":
            return _float_order(x, y)
        if tag == "float":
            return (
                _sign(_as_i64(x), y) if big(y) else _float_order(x, float(y))
            )
        if big(x):
            try:
                return _float_order(float(x), y)
            except OverflowError:
                # num-bigint's to_f64 gives an infinity for a huge int.
                return _float_order(math.inf if x > 0 else -math.inf, y)
        return _float_order(float(x), y)
    if tag in ("frozenset", "tuple"):
        for p, q in zip(x, y):
            order = _compare(p, q)
            if order:
                return order
        return _sign(len(x), len(y))
    return _sign(x, y)


_ORDER = cmp_to_key(_compare)


def loads(data):
    """The value a peer's pickle holds, if it is plain data; raises Refused
    otherwise."""
    return scan(bytes(data))


def to_python(value):
    """A value from `loads` as Python's own objects (dict, list, tuple, set,
    ...), for a program that uses the data rather than prints it. Recursion
    is bounded by MAX_DEPTH.
    """
    tag, payload = value
    if tag == "list":
        return [to_python(item) for item in payload]
    if tag == "tuple":
        return tuple(to_python(item) for item in payload)
    if tag == "set":
        return {to_python(item) for item in payload}
    if tag == "frozenset":
        return frozenset(to_python(item) for item in payload)
    if tag == "dict":
        return {to_python(key): to_python(item) for key, item in payload}
    if tag == "bytearray":
        return bytearray(payload)
    return payload


# Rust's python::repr, which prints what Python's repr prints for the lessons'
# values.

_FORMAT = {
    0xAD,
    0x61C,
    0x6DD,
    0x70F,
    0x8E2,
    0x180E,
    0xFEFF,
    0x110BD,
    0x110CD,
    0xE0001,
}
_FORMAT_RANGES = [
    (0x600, 0x605),
    (0x890, 0x891),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFFF9, 0xFFFB),
    (0xE0020, 0xE007F),
]


def _printable(character):
    code = ord(character)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return False
    if code in _FORMAT or any(
        low <= code <= high for low, high in _FORMAT_RANGES
    ):
        return False
    if 0xE000 <= code <= 0xF8FF or code >= 0xF0000:
        return False
    return not (character in RUST_WHITESPACE and character != " ")


def _str_repr(text):
    quote = '"' if "'" in text and '"' not in text else "'"
    parts = [quote]
    for character in text:
        if character == "\\":
            parts.append("\\\\")
        elif character == quote:
            parts.append("\\" + quote)
        elif (
            character.isascii()
            and character.isprintable()
            or (not character.isascii() and _printable(character))
        ):
            parts.append(character)
        else:
            code = ord(character)
            parts.append(
                {"\t": "\\t", "\n": "\\n", "\r": "\\r"}.get(character)
                or (
                    f"\\x{code:02x}"
                    if code < 0x100
                    else (
                        f"\\u{code:04x}"
                        if code < 0x10000
                        else f"\\U{code:08x}"
                    )
                )
            )
    parts.append(quote)
    return "".join(parts)


def plain_repr(value):
    """repr of a value `loads` returned, as the Rust client prints it."""
    parts = []

    def items(opening, values, closing, show):
        parts.append(opening)
        for index, item in enumerate(values):
            if index:
                parts.append(", ")
            show(item)
        parts.append(closing)

    def entry(pair):
        show(pair[0])
        parts.append(": ")
        show(pair[1])

    def show(item):
        tag, payload = item
        if tag == "none":
            parts.append("None")
        elif tag in ("bool", "int", "bytes"):
            parts.append(repr(payload))
        elif tag == "float":
            parts.append(repr(payload))
        elif tag == "str":
            parts.append(_str_repr(payload))
        elif tag == "bytearray":
            parts.append(f"bytearray({payload!r})")
        elif tag == "list":
            items("[", payload, "]", show)
        elif tag == "tuple":
            items("(", payload, ",)" if len(payload) == 1 else ")", show)
        elif tag == "dict":
            items("{", payload, "}", entry)
        elif not payload:
            parts.append(f"{tag}()")
        elif tag == "set":
            items("{", payload, "}", show)
        else:
            items("frozenset({", payload, "})", show)

    show(value)
    return "".join(parts)
