//! A small, bounded reader of plain-data pickles: [`loads`] builds what
//! CPython's `pickle.loads` builds from None, bools, ints, floats, strs,
//! bytes, bytearrays, lists, tuples, dicts, sets and frozensets, written at
//! any protocol from 0 to 5, and [`Value::repr`] prints it as `repr()` does.
//!
//! Why not serde-pickle alone? Its `Value` keeps a dict's keys in sorted
//! order (a `BTreeMap`), so Python's `{'b': 1, 'a': 2}` would print as
//! `{'a': 2, 'b': 1}`; it has no bytearray; and it trusts the pickle: it
//! recurses as deep as the value nests and copies each memo reference in
//! full, so a few hundred bytes can ask for gigabytes. Its serde path
//! (`deserialize_any`) keeps a dict's order, but cannot tell a list from a
//! tuple or a set, and refuses ints beyond i64.
//!
//! So this reader builds the value itself, as CPython's unpickler does: one
//! pass over the opcodes, a stack, and a memo of *shared references*. Every
//! object sits in an arena, known by its index; a memo GET pushes the index
//! again, sharing the object as Python shares it, never copying it. Nothing
//! recurses while building, and no opcode makes more than one object.
//!
//! It refuses, each in one line ([`Refused`]), any global but the few plain
//! data needs, the opcodes that build objects of classes, and what goes past
//! the bounds below. None of those is a size: any plain-data pickle that
//! fits lesson 5's 16 MiB length header is read, a 16 MiB `bytes` too. Dict
//! keys and set items are equal as in Python (1, 1.0 and True are one key; a
//! set keeps its items in the order they come). Where it is stricter than
//! Python: numbers written as text must be written as Python writes them
//! (decimal, no `_`), and a str with a lone surrogate, which Rust's strings
//! cannot hold, is refused.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use num_bigint::BigInt;
use serde_pickle::Value as SerdeValue;

use crate::text::{bytes_repr, escape, float_repr, str_repr};

/// How deep containers may nest: `[[1]]` is 2. A container counts one
/// deeper than the deepest item put in it, when it is put in: the nesting
/// of any value `pickle.dumps` writes. (A list filled after it was nested
/// can go deeper; [`Value::repr`] does not recurse, and
/// [`Value::to_serde`] checks again.)
pub const MAX_DEPTH: usize = 100;
/// MARKs open at once: plain data opens about one per level of nesting.
pub const MAX_OPEN_MARKS: usize = 256;
/// Memo indexes are below this: `pickle.dumps` numbers its entries from 0,
/// one per str, bytes or container.
pub const MAX_MEMO_ENTRIES: usize = 1_000_000;
/// Objects in the arena (None, the bools and the ints -5 to 256 are there
/// once, as in Python). Their strs and bytes are bounded by the message,
/// itself at most 16 MiB; this bounds the rest, at 40 bytes an object.
pub const MAX_OBJECTS: usize = 1_000_000;
/// Values on the stack at once, copies (DUP, GET) included.
pub const MAX_STACK: usize = 1_000_000;
/// Digits of an int written as text: Python 3.11 refuses more.
pub const MAX_INT_DIGITS: usize = 4300;
/// Bytes of a binary int (LONG4): 1785 always fit in 4300 digits; 1786 can
/// hold an int of 4301, which Python 3.11 would refuse to print.
pub const MAX_INT_BYTES: usize = 1785;
/// Values [`Value::to_serde`] makes, each copy of a shared object counted.
pub const MAX_SERDE_VALUES: usize = 100_000;

/// Why a pickle was not read: one short line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// A value, or why the pickle was not read.
pub type Result<T> = std::result::Result<T, Refused>;

/// A value read from a pickle: the objects it made, and which is the value.
#[derive(Debug)]
pub struct Value {
    objects: Vec<Object>,
    root: Id,
}

type Id = u32;

#[derive(Debug)]
enum Object {
    None,
    Bool(bool),
    Int(BigInt),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    ByteArray(Vec<u8>),
    /// A dict's items are its keys and values, in turn.
    Container {
        kind: Kind,
        depth: u8,
        items: Vec<Id>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    List,
    Tuple,
    Dict,
    Set,
    FrozenSet,
}

/// Each kind's name, and how it prints: opening, closing, empty.
const KINDS: [[&str; 4]; 5] = [
    ["list", "[", "]", "[]"],
    ["tuple", "(", ")", "()"],
    ["dict", "{", "}", "{}"],
    ["set", "{", "}", "set()"],
    ["frozenset", "frozenset({", "})", "frozenset()"],
];

/// The globals plain data calls: protocols 0 to 3 write a set as
/// `builtins.set(list)`, 0 to 2 bytes as `_codecs.encode(str, 'latin1')`.
const GLOBALS: [&str; 8] = [
    "builtins.list",
    "builtins.tuple",
    "builtins.dict",
    "builtins.set",
    "builtins.frozenset",
    "builtins.bytes",
    "builtins.bytearray",
    "_codecs.encode",
];

/// What the stack and the memo hold.
#[derive(Clone, Copy)]
enum Slot {
    Object(Id),
    Global(&'static str),
}

/// A dict key or set item as compared: numbers by value, tuples and
/// frozensets by the keys of their items, a NaN only to itself.
#[derive(PartialEq, Eq, Hash)]
enum Key {
    None,
    Int(BigInt),
    Float(u64),
    NaN(Id),
    Str(String),
    Bytes(Vec<u8>),
    Items(Kind, Vec<u32>),
}

const NONE: Id = 0;
const FALSE: Id = 1;
const TRUE: Id = 2;
/// Where the ints -5 to 256 start in the arena.
const SMALL_INTS: Id = 3;

/// `pickle.loads(pickled)`, for plain data, within the bounds above.
///
/// ```
/// let value = socket_lessons::pickle::loads(b"(dI2\nI1\ns.").unwrap();
/// assert_eq!(value.repr(80), "{2: 1}");
/// ```
pub fn loads(pickled: &[u8]) -> Result<Value> {
    let singletons = [Object::None, Object::Bool(false), Object::Bool(true)];
    let small_ints = (-5..=256).map(|n| Object::Int(BigInt::from(n)));
    let mut loader = Loader {
        pickled,
        next: 0,
        op: (0, 0),
        objects: singletons.into_iter().chain(small_ints).collect(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: Vec::new(),
        memo_len: 0,
        keys: HashMap::new(),
        key_of: HashMap::new(),
        positions: HashMap::new(),
    };
    let root = loader.run()?;
    Ok(Value { objects: loader.objects, root })
}

struct Loader<'a> {
    pickled: &'a [u8],
    next: usize,
    /// The opcode being read, and its offset.
    op: (u8, usize),
    objects: Vec<Object>,
    stack: Vec<Slot>,
    /// Where the stack stood at each open MARK.
    marks: Vec<usize>,
    /// Python's memo is a dict; its indexes are these, `memo_len` of them used.
    memo: Vec<Option<Slot>>,
    memo_len: usize,
    /// Each distinct key seen, numbered, and the number of each object seen
    /// as a key, so that a shared tuple is looked at once.
    keys: HashMap<Key, u32>,
    key_of: HashMap<Id, u32>,
    /// Where each key of each dict or set sits in its items.
    positions: HashMap<(Id, u32), usize>,
}

impl<'a> Loader<'a> {
    fn run(&mut self) -> Result<Id> {
        use Kind::*;
        loop {
            let Some(&code) = self.pickled.get(self.next) else {
                return Err(Refused("the pickle ends before its STOP".into()));
            };
            self.op = (code, self.next);
            self.next += 1;
            let (n, bytes) = self.argument(code)?;
            // The kind of container the opcode makes or fills, if it does.
            let kind = match code {
                b']' | b'l' | b'a' | b'e' => List,
                b')' | b't' | 0x85..=0x87 => Tuple,
                b'}' | b'd' | b's' | b'u' => Dict,
                0x8f | 0x90 => Set,
                _ => FrozenSet,
            };
            match code {
                0x80 if n > 5 => return Err(self.fail("no such protocol")),
                0x95 if n > self.rest().len() as u64 => {
                    return Err(
                        self.fail("the frame is longer than the pickle")
                    );
                }
                0x80 | 0x95 => {}
                b'.' => break,
                b'(' if self.marks.len() == MAX_OPEN_MARKS => {
                    return Err(self.fail("too many MARKs open"));
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => match self.top() {
                    // Python's POP takes the MARK when nothing is above it.
                    None if !self.marks.is_empty() => drop(self.marks.pop()),
                    _ => drop(self.pop()?),
                },
                b'1' => drop(self.pop_marked()?),
                b'2' => {
                    let top = self.pop()?;
                    self.push(top)?;
                    self.push(top)?;
                }
                b'p' => self.put(self.index(bytes)?)?,
                b'q' | b'r' => self.put(n)?,
                0x94 => self.put(self.memo_len as u64)?,
                b'g' => self.get(self.index(bytes)?)?,
                b'h' | b'j' => self.get(n)?,
                b'N' => self.push(Slot::Object(NONE))?,
                0x88 => self.push(Slot::Object(TRUE))?,
                0x89 => self.push(Slot::Object(FALSE))?,
                b'I' if bytes == b"01" => self.push(Slot::Object(TRUE))?,
                b'I' if bytes == b"00" => self.push(Slot::Object(FALSE))?,
                b'I' => self.push_int(self.decimal(bytes)?)?,
                b'L' => {
                    let digits = bytes.strip_suffix(b"L").unwrap_or(bytes);
                    self.push_int(self.decimal(digits)?)?;
                }
                b'J' => self.push_int((n as u32 as i32).into())?,
                b'K' | b'M' => self.push_int(n.into())?,
                0x8a | 0x8b if bytes.len() > MAX_INT_BYTES => {
                    return Err(self.fail(format!(
                        "an int of {} bytes, which can be more digits than \
                         the {MAX_INT_DIGITS} Python 3.11 prints",
                        bytes.len()
                    )));
                }
                0x8a | 0x8b => {
                    self.push_int(BigInt::from_signed_bytes_le(bytes))?
                }
                b'F' => self.push_new(Object::Float(self.float(bytes)?))?,
                // Read as a little-endian number: BINFLOAT is big-endian.
                b'G' => self
                    .push_new(Object::Float(f64::from_bits(n.swap_bytes())))?,
                b'S' => match py2_literal(bytes) {
                    Some(text) => self.push_ascii(&text)?,
                    None => {
                        let shown = shown(bytes);
                        return Err(
                            self.fail(format!("not a literal: {shown}"))
                        );
                    }
                },
                b'T' | b'U' => self.push_ascii(bytes)?,
                b'V' => match raw_unicode_escape(bytes) {
                    Some(text) => self.push_new(Object::Str(text))?,
                    None => {
                        let shown = shown(bytes);
                        return Err(self.fail(format!("a bad escape: {shown}")));
                    }
                },
                b'X' | 0x8c | 0x8d => match std::str::from_utf8(bytes) {
                    Ok(text) => self.push_new(Object::Str(text.into()))?,
                    Err(_) => return Err(self.fail("the text is not UTF-8")),
                },
                b'B' | b'C' | 0x8e => {
                    self.push_new(Object::Bytes(bytes.into()))?
                }
                0x96 => self.push_new(Object::ByteArray(bytes.into()))?,
                b']' | b')' | b'}' | 0x8f => self.make(kind, Vec::new())?,
                b'l' | b't' | b'd' | 0x91 => {
                    let items = self.pop_marked()?;
                    self.make(kind, items)?;
                }
                0x85..=0x87 => {
                    let items = self.pop_values(code - 0x84)?;
                    self.make(kind, items)?;
                }
                b'a' | b's' => {
                    let items =
                        self.pop_values(if code == b'a' { 1 } else { 2 })?;
                    self.add_to_top(kind, items)?;
                }
                b'e' | b'u' | 0x90 => {
                    let items = self.pop_marked()?;
                    self.add_to_top(kind, items)?;
                }
                b'c' => {
                    let mut lines = bytes.splitn(2, |&byte| byte == b'\n');
                    let module = lines.next().unwrap_or_default();
                    self.push_global(module, lines.next().unwrap_or_default())?;
                }
                0x93 => {
                    let names = self.pop_values(2)?;
                    let text = |id: Id| match &self.objects[id as usize] {
                        Object::Str(text) => Some(text.clone()),
                        _ => None,
                    };
                    let (Some(module), Some(name)) =
                        (text(names[0]), text(names[1]))
                    else {
                        return Err(self.fail("the module or name is no str"));
                    };
                    self.push_global(module.as_bytes(), name.as_bytes())?;
                }
                b'R' => self.reduce()?,
                _ => {
                    return Err(self.fail("plain data does not need it"));
                }
            }
        }
        let root = self.pop_value()?;
        match self.rest().len() {
            0 => Ok(root),
            after => Err(self.fail(format!("{after} bytes follow it"))),
        }
    }

    fn rest(&self) -> &'a [u8] {
        &self.pickled[self.next..]
    }

    /// `what` went wrong in the opcode being read.
    fn fail(&self, what: impl fmt::Display) -> Refused {
        let (code, offset) = self.op;
        Refused(match BY_CODE[code as usize] {
            Some((name, _)) => format!("{name} at offset {offset}: {what}"),
            None => format!("byte 0x{code:02x} at offset {offset}: {what}"),
        })
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8]> {
        let rest = self.rest();
        match usize::try_from(len) {
            Ok(len) if len <= rest.len() => {
                self.next += len;
                Ok(&rest[..len])
            }
            _ => Err(self.fail("the pickle ends inside it")),
        }
    }

    /// The opcode's argument: a number (unsigned, little-endian) and its
    /// bytes, or bytes after their length, or lines of text.
    fn argument(&mut self, code: u8) -> Result<(u64, &'a [u8])> {
        let number = |bytes: &[u8]| {
            bytes.iter().rev().fold(0, |n, &byte| n << 8 | u64::from(byte))
        };
        let Some((_, argument)) = BY_CODE[code as usize] else {
            return Err(self.fail("no such opcode"));
        };
        Ok(match argument {
            No => (0, &[]),
            Num(width) => {
                let bytes = self.take(width)?;
                (number(bytes), bytes)
            }
            Len(width) => {
                let len = number(self.take(width)?);
                // BINSTRING's and LONG4's lengths are signed.
                if matches!(code, b'T' | 0x8b) && len >= 1 << 31 {
                    return Err(self.fail("a negative length"));
                }
                (len, self.take(len)?)
            }
            Line(lines) => {
                let rest = self.rest();
                let mut ends = (0..rest.len()).filter(|&at| rest[at] == b'\n');
                let Some(end) = ends.nth(lines - 1) else {
                    return Err(self.fail("the pickle ends inside it"));
                };
                self.next += end + 1;
                (0, &rest[..end])
            }
        })
    }

    /// A text memo index (PUT, GET).
    fn index(&self, text: &[u8]) -> Result<u64> {
        let index = std::str::from_utf8(text).ok().and_then(|t| t.parse().ok());
        index.ok_or_else(|| self.fail(format!("not an index: {}", shown(text))))
    }

    /// An int written in decimal (INT, LONG), as Python writes them.
    fn decimal(&self, text: &[u8]) -> Result<BigInt> {
        let digits = text.strip_prefix(b"-").unwrap_or(text);
        if digits.len() > MAX_INT_DIGITS {
            return Err(self.fail(format!(
                "an int of {} digits, more than Python 3.11 reads",
                digits.len()
            )));
        }
        let plain = digits.iter().all(u8::is_ascii_digit)
            && !(digits.len() > 1 && digits[0] == b'0');
        let int = BigInt::parse_bytes(text, 10).filter(|_| plain);
        int.ok_or_else(|| self.fail(format!("not an int: {}", shown(text))))
    }

    /// A float written as text (FLOAT): Python writes `repr(x)`.
    fn float(&self, written: &[u8]) -> Result<f64> {
        let text = std::str::from_utf8(written).unwrap_or_default();
        match text.parse::<f64>() {
            // Rust reads 1e999 as inf, where Python raises OverflowError.
            Ok(x)
                if !x.is_infinite() || text.to_lowercase().contains("inf") =>
            {
                Ok(x)
            }
            _ => Err(self.fail(format!("not a number: {}", shown(written)))),
        }
    }

    fn push(&mut self, slot: Slot) -> Result<()> {
        if self.stack.len() == MAX_STACK {
            return Err(
                self.fail(format!("more than {MAX_STACK} on the stack"))
            );
        }
        self.stack.push(slot);
        Ok(())
    }

    fn push_new(&mut self, object: Object) -> Result<()> {
        if self.objects.len() == MAX_OBJECTS {
            return Err(self.fail(format!("more than {MAX_OBJECTS} objects")));
        }
        self.objects.push(object);
        self.push(Slot::Object(self.objects.len() as Id - 1))
    }

    /// An int; the small ones Python keeps once are shared.
    fn push_int(&mut self, int: BigInt) -> Result<()> {
        match i64::try_from(&int) {
            Ok(small @ -5..=256) => {
                self.push(Slot::Object(SMALL_INTS + (small + 5) as Id))
            }
            _ => self.push_new(Object::Int(int)),
        }
    }

    /// A py2 str (STRING, BINSTRING): Python 3 reads it as ASCII.
    fn push_ascii(&mut self, bytes: &[u8]) -> Result<()> {
        match std::str::from_utf8(bytes) {
            Ok(text) if text.is_ascii() => {
                self.push_new(Object::Str(text.into()))
            }
            _ => Err(self.fail("a py2 str that is not ASCII")),
        }
    }

    /// The top of the stack, if it is above the last MARK.
    fn top(&self) -> Option<Slot> {
        let floor = self.marks.last().copied().unwrap_or(0);
        self.stack.last().copied().filter(|_| self.stack.len() > floor)
    }

    fn pop(&mut self) -> Result<Slot> {
        let top = self.top().ok_or_else(|| self.fail("the stack is empty"))?;
        self.stack.pop();
        Ok(top)
    }

    fn value(&self, slot: Slot) -> Result<Id> {
        match slot {
            Slot::Object(id) => Ok(id),
            Slot::Global(name) => {
                Err(self.fail(format!("the global {name} used as a value")))
            }
        }
    }

    fn pop_value(&mut self) -> Result<Id> {
        let slot = self.pop()?;
        self.value(slot)
    }

    /// The top `count` values, deepest first.
    fn pop_values(&mut self, count: u8) -> Result<Vec<Id>> {
        let mut values: Vec<Id> = Vec::new();
        for _ in 0..count {
            values.insert(0, self.pop_value()?);
        }
        Ok(values)
    }

    /// The values above the last MARK, and that MARK.
    fn pop_marked(&mut self) -> Result<Vec<Id>> {
        let mark = self.marks.pop().ok_or_else(|| self.fail("no MARK"))?;
        let slots = self.stack.split_off(mark);
        slots.into_iter().map(|slot| self.value(slot)).collect()
    }

    fn put(&mut self, index: u64) -> Result<()> {
        let top = self.top().ok_or_else(|| self.fail("the stack is empty"))?;
        let Some(index) = usize::try_from(index)
            .ok()
            .filter(|&index| index < MAX_MEMO_ENTRIES)
        else {
            return Err(self
                .fail(format!("a memo index of {MAX_MEMO_ENTRIES} or more")));
        };
        if index >= self.memo.len() {
            self.memo.resize(index + 1, None);
        }
        self.memo_len += usize::from(self.memo[index].is_none());
        self.memo[index] = Some(top);
        Ok(())
    }

    fn get(&mut self, index: u64) -> Result<()> {
        let slot =
            usize::try_from(index).ok().and_then(|index| self.memo.get(index));
        match slot {
            Some(&Some(slot)) => self.push(slot),
            _ => Err(self.fail(format!("no memo entry {index}"))),
        }
    }

    fn push_global(&mut self, module: &[u8], name: &[u8]) -> Result<()> {
        // Python 3 reads Python 2's module names as its own.
        let module =
            if module == b"__builtin__" { b"builtins" } else { module };
        let global = [module, b".", name].concat();
        match GLOBALS.iter().find(|known| known.as_bytes() == global) {
            Some(known) => self.push(Slot::Global(known)),
            None => Err(Refused(format!(
                "the pickle names the global {}, which plain data does not \
                 need",
                shown(&global)
            ))),
        }
    }

    /// REDUCE: a call of an allowed global with plain data's arguments.
    fn reduce(&mut self) -> Result<()> {
        let arguments = self.pop_value()?;
        let Slot::Global(global) = self.pop()? else {
            return Err(self.fail("it calls something that is no global"));
        };
        let objects = &self.objects;
        let Object::Container { kind: Kind::Tuple, items, .. } =
            &objects[arguments as usize]
        else {
            return Err(self.odd_call(global));
        };
        let arguments: Vec<_> =
            items.iter().map(|&id| &objects[id as usize]).collect();
        let kind = global.strip_prefix("builtins.").and_then(kind_named);
        let bytes = match (global, kind, &arguments[..]) {
            (_, Some(kind), []) => return self.make(kind, Vec::new()),
            // A copy: set(list), tuple(list), dict(dict)...
            (_, Some(kind), [Object::Container { kind: from, items, .. }])
                if (*from == Kind::Dict) == (kind == Kind::Dict) =>
            {
                let items = items.clone();
                return self.make(kind, items);
            }
            ("builtins.bytes" | "builtins.bytearray", _, []) => {
                Some(Vec::new())
            }
            (
                "builtins.bytearray",
                _,
                [Object::Bytes(bytes) | Object::ByteArray(bytes)],
            ) => Some(bytes.clone()),
            (
                "builtins.bytearray" | "_codecs.encode",
                _,
                [Object::Str(text), Object::Str(encoding)],
            ) if encoding == "latin1" || encoding == "latin-1" => {
                text.chars().map(|c| u8::try_from(c).ok()).collect()
            }
            _ => None,
        };
        match bytes {
            Some(bytes) if global == "builtins.bytearray" => {
                self.push_new(Object::ByteArray(bytes))
            }
            Some(bytes) => self.push_new(Object::Bytes(bytes)),
            None => Err(self.odd_call(global)),
        }
    }

    fn odd_call(&self, global: &str) -> Refused {
        self.fail(format!("{global} called with what plain data never gives"))
    }

    /// A new container of `items`.
    fn make(&mut self, kind: Kind, items: Vec<Id>) -> Result<()> {
        let empty = Object::Container { kind, depth: 1, items: Vec::new() };
        self.push_new(empty)?;
        if items.is_empty() {
            return Ok(());
        }
        self.add(self.objects.len() as Id - 1, kind, items)
    }

    /// APPEND(S), SETITEM(S), ADDITEMS: `items` into the container below.
    fn add_to_top(&mut self, kind: Kind, items: Vec<Id>) -> Result<()> {
        match self.top() {
            Some(Slot::Object(target)) => self.add(target, kind, items),
            _ => Err(self.fail("nothing to add to")),
        }
    }

    /// Puts `new` in `target`, if it is a `kind`, as Python's `append`,
    /// `d[key] = value` (a key equal to one there keeps that one's place
    /// and replaces its value) or `add` (an equal item is left out) do.
    fn add(&mut self, target: Id, kind: Kind, new: Vec<Id>) -> Result<()> {
        // One deeper than the deepest item; a container in itself (Python
        // prints it `[...]`) makes it no deeper.
        let depth_of = |&item: &Id| match self.objects[item as usize] {
            Object::Container { depth, .. } => depth,
            _ => 0,
        };
        let items = new.iter().filter(|&&item| item != target);
        let depth = items.map(depth_of).max().unwrap_or(0) + 1;
        if depth as usize > MAX_DEPTH {
            return Err(self.fail(format!("it nests deeper than {MAX_DEPTH}")));
        }
        if kind == Kind::Dict && new.len() % 2 == 1 {
            return Err(self.fail("a key without a value"));
        }
        let mut items = match &mut self.objects[target as usize] {
            Object::Container { kind: found, depth: old, items }
                if *found == kind =>
            {
                *old = depth.max(*old);
                std::mem::take(items)
            }
            _ => {
                return Err(self.fail(format!(
                    "no {} to add to",
                    KINDS[kind as usize][0]
                )));
            }
        };
        if matches!(kind, Kind::List | Kind::Tuple) {
            items.extend(new);
        } else {
            let step = if kind == Kind::Dict { 2 } else { 1 };
            for added in new.chunks(step) {
                let key = self.key(added[0])?;
                match self.positions.entry((target, key)) {
                    Entry::Occupied(at) if kind == Kind::Dict => {
                        items[*at.get() + 1] = added[1];
                    }
                    Entry::Occupied(_) => {}
                    Entry::Vacant(at) => {
                        at.insert(items.len());
                        items.extend(added);
                    }
                }
            }
        }
        if let Object::Container { items: slot, .. } =
            &mut self.objects[target as usize]
        {
            *slot = items;
        }
        Ok(())
    }

    /// The number of `id`'s value among the keys seen, or the refusal
    /// Python's `TypeError: unhashable type` becomes.
    fn key(&mut self, id: Id) -> Result<u32> {
        if let Some(&known) = self.key_of.get(&id) {
            return Ok(known);
        }
        let key = match &self.objects[id as usize] {
            Object::None => Key::None,
            Object::Bool(b) => Key::Int(u8::from(*b).into()),
            Object::Int(int) => Key::Int(int.clone()),
            Object::Float(x) if x.is_nan() => Key::NaN(id),
            Object::Float(x) if x.fract() == 0.0 => Key::Int(
                format!("{x:.0}").parse().expect("an integer's digits"),
            ),
            Object::Float(x) => Key::Float(x.to_bits()),
            Object::Str(text) => Key::Str(text.clone()),
            Object::Bytes(bytes) => Key::Bytes(bytes.clone()),
            Object::Container {
                kind: kind @ (Kind::Tuple | Kind::FrozenSet),
                items,
                ..
            } => {
                // Recursion, but only as deep as tuples and frozensets nest,
                // at most MAX_DEPTH: they never change once made.
                let (kind, items) = (*kind, items.clone());
                let keys = items.into_iter().map(|item| self.key(item));
                let mut keys = keys.collect::<Result<Vec<_>>>()?;
                if kind == Kind::FrozenSet {
                    keys.sort_unstable();
                }
                Key::Items(kind, keys)
            }
            Object::Container { kind, .. } => {
                let name = KINDS[*kind as usize][0];
                return Err(self.fail(format!("unhashable type: '{name}'")));
            }
            Object::ByteArray(_) => {
                return Err(self.fail("unhashable type: 'bytearray'"));
            }
        };
        let count = self.keys.len() as u32;
        let number = *self.keys.entry(key).or_insert(count);
        self.key_of.insert(id, number);
        Ok(number)
    }
}

fn kind_named(name: &str) -> Option<Kind> {
    let kinds =
        [Kind::List, Kind::Tuple, Kind::Dict, Kind::Set, Kind::FrozenSet];
    kinds.into_iter().find(|&kind| KINDS[kind as usize][0] == name)
}

impl Value {
    /// Python's `repr()` of the value if it has at most `max_chars`
    /// characters; else its first `max_chars` characters and `...`. Time and
    /// memory go with `max_chars` (and the longest str or bytes), not with
    /// the value written out in full: a list holding one list twice, itself
    /// holding one twice, 100 levels down, stops at the budget.
    pub fn repr(&self, max_chars: usize) -> String {
        let mut out = Budget { text: String::new(), left: Some(max_chars) };
        // The containers being printed, each with its next item: a loop, not
        // recursion, so that no nesting can overflow the stack.
        let mut open: Vec<(Id, Kind, &[Id], usize)> = Vec::new();
        let mut printing = HashSet::new();
        let mut next = Some(self.root);
        while out.left.is_some() {
            match next.take().map(|id| (id, &self.objects[id as usize])) {
                None => {}
                Some((id, Object::Container { kind, items, .. })) => {
                    let [_, opening, closing, empty] = KINDS[*kind as usize];
                    if printing.contains(&id) {
                        // Inside itself: Python prints `[...]`.
                        out.push(&format!("{opening}...{closing}"));
                    } else if items.is_empty() {
                        out.push(empty);
                    } else {
                        out.push(opening);
                        printing.insert(id);
                        open.push((id, *kind, items, 0));
                    }
                }
                Some((_, Object::None)) => out.push("None"),
                Some((_, Object::Bool(true))) => out.push("True"),
                Some((_, Object::Bool(false))) => out.push("False"),
                Some((_, Object::Int(int))) => out.push(&int.to_string()),
                Some((_, Object::Float(x))) => out.push(&float_repr(*x)),
                Some((_, Object::Str(text))) => out.push(&str_repr(text)),
                Some((_, Object::Bytes(bytes))) => out.push(&bytes_repr(bytes)),
                Some((_, Object::ByteArray(bytes))) => {
                    // CPython escapes a ' here even between double quotes.
                    let mut repr = bytes_repr(bytes);
                    if repr.starts_with("b\"") {
                        repr = repr.replace('\'', "\\'");
                    }
                    out.push(&format!("bytearray({repr})"))
                }
            }
            let Some((id, kind, items, index)) = open.last_mut() else { break };
            if *index == items.len() {
                let one_tuple = *kind == Kind::Tuple && items.len() == 1;
                let closing = KINDS[*kind as usize][2];
                out.push(if one_tuple { ",)" } else { closing });
                printing.remove(id);
                open.pop();
            } else {
                if *index > 0 {
                    let key = *kind == Kind::Dict && *index % 2 == 1;
                    out.push(if key { ": " } else { ", " });
                }
                next = Some(items[*index]);
                *index += 1;
            }
        }
        out.text
    }

    /// The value as serde-pickle's `Value`, for `serde_pickle::from_value`:
    /// a bytearray becomes bytes, and each shared object a copy, at most
    /// [`MAX_SERDE_VALUES`] values in all. A value that contains itself
    /// cannot be copied, and is refused.
    pub fn to_serde(&self) -> Result<SerdeValue> {
        self.serde_value(self.root, &mut Vec::new(), &mut 0)
    }

    /// `path`: the containers `id` is in, the outermost first.
    fn serde_value(
        &self,
        id: Id,
        path: &mut Vec<Id>,
        made: &mut usize,
    ) -> Result<SerdeValue> {
        *made += 1;
        if *made > MAX_SERDE_VALUES {
            return Err(Refused(format!(
                "the value holds more than {MAX_SERDE_VALUES} values, each \
                 copy of a shared one counted"
            )));
        }
        let (kind, items) = match &self.objects[id as usize] {
            Object::None => return Ok(SerdeValue::None),
            Object::Bool(b) => return Ok(SerdeValue::Bool(*b)),
            Object::Int(int) => {
                let int = i64::try_from(int).map_err(|_| int.clone());
                return Ok(int.map_or_else(SerdeValue::Int, SerdeValue::I64));
            }
            Object::Float(x) => return Ok(SerdeValue::F64(*x)),
            Object::Str(text) => return Ok(SerdeValue::String(text.clone())),
            Object::Bytes(bytes) | Object::ByteArray(bytes) => {
                return Ok(SerdeValue::Bytes(bytes.clone()));
            }
            Object::Container { kind, items, .. } => (*kind, items),
        };
        if path.contains(&id) {
            return Err(Refused("the value contains itself".into()));
        }
        if path.len() == MAX_DEPTH {
            let deep = format!("the value nests deeper than {MAX_DEPTH}");
            return Err(Refused(deep));
        }
        path.push(id);
        let values =
            items.iter().map(|&item| self.serde_value(item, path, made));
        let values = values.collect::<Result<Vec<_>>>()?;
        path.pop();
        let hashable = |value: SerdeValue| {
            value.into_hashable().map_err(|error| Refused(error.to_string()))
        };
        let keys = |values: Vec<SerdeValue>| {
            values.into_iter().map(hashable).collect::<Result<_>>()
        };
        Ok(match kind {
            Kind::List => SerdeValue::List(values),
            Kind::Tuple => SerdeValue::Tuple(values),
            Kind::Set => SerdeValue::Set(keys(values)?),
            Kind::FrozenSet => SerdeValue::FrozenSet(keys(values)?),
            Kind::Dict => {
                let (mut dict, mut pairs) =
                    (BTreeMap::new(), values.into_iter());
                while let (Some(key), Some(value)) =
                    (pairs.next(), pairs.next())
                {
                    dict.insert(hashable(key)?, value);
                }
                SerdeValue::Dict(dict)
            }
        })
    }
}

/// Text that stops at a number of characters: `left` of them remain, or
/// none once it was cut.
struct Budget {
    text: String,
    left: Option<usize>,
}

impl Budget {
    fn push(&mut self, piece: &str) {
        let Some(left) = self.left else { return };
        let count = piece.chars().count();
        if count <= left {
            self.text.push_str(piece);
            self.left = Some(left - count);
        } else {
            self.text.extend(piece.chars().take(left));
            self.text.push_str("...");
            self.left = None;
        }
    }
}

/// Text from the pickle, for a message: escaped, at most 60 characters.
fn shown(text: &[u8]) -> String {
    let text = escape(&String::from_utf8_lossy(&text[..text.len().min(60)]));
    let cut = if text.chars().count() > 60 { "..." } else { "" };
    format!("{}{cut}", text.chars().take(60).collect::<String>())
}

/// STRING's text: a py2 str literal, in quotes, with the escapes
/// `codecs.escape_decode` reads.
fn py2_literal(quoted: &[u8]) -> Option<Vec<u8>> {
    let [quote @ (b'\'' | b'"'), inner @ .., last] = quoted else {
        return None;
    };
    if last != quote {
        return None;
    }
    let mut text = inner;
    let hex = |digit: &u8| char::from(*digit).to_digit(16);
    let mut decoded = Vec::with_capacity(text.len());
    while let [byte, rest @ ..] = text {
        text = rest;
        if *byte != b'\\' {
            decoded.push(*byte);
            continue;
        }
        let [escape, rest @ ..] = text else { return None };
        text = rest;
        let simple = b"\\'\"abfnrtv".iter().position(|c| c == escape);
        match (escape, text) {
            (b'x', [high, low, rest @ ..]) => {
                decoded.push((hex(high)? * 16 + hex(low)?) as u8);
                text = rest;
            }
            (b'0'..=b'7', _) => {
                // Up to three octal digits; C keeps the low byte of \777.
                let more = text
                    .iter()
                    .take(2)
                    .take_while(|d| d.is_ascii_digit() && **d < b'8')
                    .count();
                let octal = [&[*escape][..], &text[..more]].concat();
                let octal = std::str::from_utf8(&octal).ok()?;
                decoded.push(u32::from_str_radix(octal, 8).ok()? as u8);
                text = &text[more..];
            }
            (b'x', _) => return None,
            _ => match simple {
                Some(at) => decoded.push(b"\\'\"\x07\x08\x0c\n\r\t\x0b"[at]),
                None => decoded.extend([b'\\', *escape]),
            },
        }
    }
    Some(decoded)
}

/// UNICODE's text, in Python's raw-unicode-escape: each byte a Latin-1
/// character, but for `\uXXXX` and `\UXXXXXXXX`.
fn raw_unicode_escape(mut text: &[u8]) -> Option<String> {
    let mut decoded = String::with_capacity(text.len());
    while let [byte, rest @ ..] = text {
        let width = match (byte, rest) {
            (b'\\', [b'u', ..]) => 4,
            (b'\\', [b'U', ..]) => 8,
            // Any other byte after a backslash is itself, and so is that.
            (b'\\', [other, rest @ ..]) => {
                decoded.extend(['\\', char::from(*other)]);
                text = rest;
                continue;
            }
            _ => {
                decoded.push(char::from(*byte));
                text = rest;
                continue;
            }
        };
        let hex = std::str::from_utf8(rest.get(1..=width)?).ok()?;
        if !hex.bytes().all(|digit| digit.is_ascii_hexdigit()) {
            return None;
        }
        decoded.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
        text = &rest[width + 1..];
    }
    Some(decoded)
}

/// How an opcode's argument is written.
#[derive(Clone, Copy)]
enum Arg {
    No,
    /// A little-endian number of this many bytes.
    Num(u64),
    /// Bytes after their length, a little-endian number of this many bytes.
    Len(u64),
    /// Text up to a newline; GLOBAL has two lines.
    Line(usize),
}

use Arg::{Len, Line, No, Num};

/// Every opcode of protocols 0 to 5, as pickletools names them; those that
/// plain data does not need are read as if they had no argument, and
/// refused.
#[rustfmt::skip]
const OPCODES: &[(u8, &str, Arg)] = &[
    (b'(', "MARK", No), (b'.', "STOP", No), (b'0', "POP", No),
    (b'1', "POP_MARK", No), (b'2', "DUP", No), (b'F', "FLOAT", Line(1)),
    (b'I', "INT", Line(1)), (b'J', "BININT", Num(4)), (b'K', "BININT1", Num(1)),
    (b'L', "LONG", Line(1)), (b'M', "BININT2", Num(2)), (b'N', "NONE", No),
    (b'P', "PERSID", No), (b'Q', "BINPERSID", No), (b'R', "REDUCE", No),
    (b'S', "STRING", Line(1)), (b'T', "BINSTRING", Len(4)),
    (b'U', "SHORT_BINSTRING", Len(1)), (b'V', "UNICODE", Line(1)),
    (b'X', "BINUNICODE", Len(4)), (b'a', "APPEND", No), (b'b', "BUILD", No),
    (b'c', "GLOBAL", Line(2)), (b'd', "DICT", No), (b'}', "EMPTY_DICT", No),
    (b'e', "APPENDS", No), (b'g', "GET", Line(1)), (b'h', "BINGET", Num(1)),
    (b'i', "INST", No), (b'j', "LONG_BINGET", Num(4)), (b'l', "LIST", No),
    (b']', "EMPTY_LIST", No), (b'o', "OBJ", No), (b'p', "PUT", Line(1)),
    (b'q', "BINPUT", Num(1)), (b'r', "LONG_BINPUT", Num(4)),
    (b's', "SETITEM", No), (b't', "TUPLE", No), (b')', "EMPTY_TUPLE", No),
    (b'u', "SETITEMS", No), (b'G', "BINFLOAT", Num(8)), (0x80, "PROTO", Num(1)),
    (0x81, "NEWOBJ", No), (0x82, "EXT1", No), (0x83, "EXT2", No),
    (0x84, "EXT4", No), (0x85, "TUPLE1", No), (0x86, "TUPLE2", No),
    (0x87, "TUPLE3", No), (0x88, "NEWTRUE", No), (0x89, "NEWFALSE", No),
    (0x8a, "LONG1", Len(1)), (0x8b, "LONG4", Len(4)),
    (b'B', "BINBYTES", Len(4)), (b'C', "SHORT_BINBYTES", Len(1)),
    (0x8c, "SHORT_BINUNICODE", Len(1)),
    (0x8d, "BINUNICODE8", Len(8)), (0x8e, "BINBYTES8", Len(8)),
    (0x8f, "EMPTY_SET", No), (0x90, "ADDITEMS", No), (0x91, "FROZENSET", No),
    (0x92, "NEWOBJ_EX", No), (0x93, "STACK_GLOBAL", No), (0x94, "MEMOIZE", No),
    (0x95, "FRAME", Num(8)), (0x96, "BYTEARRAY8", Len(8)),
    (0x97, "NEXT_BUFFER", No), (0x98, "READONLY_BUFFER", No),
];

/// [`OPCODES`] by code, each opcode's name and argument. A static: a const
/// would be copied, all 256 entries, where it is used.
static BY_CODE: [Option<(&str, Arg)>; 256] = {
    let mut by_code = [None; 256];
    let mut at = 0;
    while at < OPCODES.len() {
        let (code, name, argument) = OPCODES[at];
        by_code[code as usize] = Some((name, argument));
        at += 1;
    }
    by_code
};

#[cfg(test)]
mod tests {
    use super::*;

    fn repr(pickled: &[u8]) -> String {
        let value = loads(pickled);
        value.map_or_else(|refused| refused.to_string(), |v| v.repr(80))
    }

    #[test]
    fn keeps_order_shares_what_the_memo_shares_and_prints_loops() {
        let dict = b"\x80\x04}\x94(\x8c\x01b\x94K\x01\x8c\x01a\x94K\x02u.";
        assert_eq!(repr(dict), "{'b': 1, 'a': 2}");
        // [a, a], then 2 appended to a: both places show it, as in Python.
        assert_eq!(repr(b"](]\x94h\x00eh\x00K\x02a0."), "[[2], [2]]");
        assert_eq!(repr(b"\x80\x04]\x94h\x00a."), "[[...]]");
        assert_eq!(repr(b"}\x94K\x01h\x00s."), "{1: {...}}");
        assert_eq!(
            repr(b"(K\x01G?\xf0\0\0\0\0\0\0\x88\x91."),
            "frozenset({1})"
        );
    }

    #[test]
    fn repr_stops_at_its_budget() {
        let value = loads(b"](K\x01\x8c\x02\xc3\xa9\x94e.").unwrap();
        assert_eq!(value.repr(8), "[1, 'é']");
        assert_eq!(value.repr(6), "[1, 'é...");
        assert_eq!(value.repr(0), "...");
    }

    #[test]
    fn refusals_say_what_and_where() {
        for (pickled, refusal) in [
            (&b"K"[..], "BININT1 at offset 0: the pickle ends inside it"),
            (
                b"\x80\x02c__main__\nf\n.",
                "the pickle names the global __main__.f, which plain data \
                 does not need",
            ),
            (b"I1\nI2\nb.", "BUILD at offset 6: plain data does not need it"),
            (b"}(]K\x01u.", "SETITEMS at offset 5: unhashable type: 'list'"),
        ] {
            assert_eq!(repr(pickled), refusal);
        }
    }

    #[test]
    fn to_serde_copies_into_serde_pickles_value() {
        let value =
            loads(b"(\x8a\x09\0\0\0\0\0\0\0\0\x01\x96\x01\0\0\0\0\0\0\0at.");
        let big = SerdeValue::Int(BigInt::from(1) << 64);
        let tuple =
            SerdeValue::Tuple(vec![big, SerdeValue::Bytes(b"a".into())]);
        assert_eq!(value.unwrap().to_serde(), Ok(tuple));
    }
}
