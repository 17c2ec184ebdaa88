//! A small, bounded reader of plain-data pickles: [`loads`] builds what
//! CPython's `pickle.loads` builds from what `pickle.dumps` writes of None,
//! bools, ints, floats, strs, bytes, bytearrays, lists, tuples, dicts, sets
//! and frozensets at protocols 0 to 5, and [`Value::repr`] prints it as
//! Python's `repr()` does, dicts in the order sent.
//!
//! Why not serde-pickle alone: its `Value` sorts a dict's keys, has no
//! bytearray, and copies each memo reference in full, so a few hundred
//! bytes can ask for gigabytes. This reader works as CPython's does: each
//! object sits once in an arena, and a memo GET pushes its index again.
//! Nothing recurses while building. A lesson that wants a typed value hands
//! the same bytes to serde-pickle once [`Value::written_out`] says the copy
//! is small.
//!
//! Refused, in one line: any global but the five plain data calls, the
//! opcodes that make objects of classes, and what passes the bounds below,
//! none of which is a size. The one size limit is the message's: an opcode
//! is at least a byte and makes at most one object, stack slot or memo
//! entry, so any plain-data pickle lesson 5's 16 MiB header admits is read
//! (the worst, 16.8 million empty lists, took 478 MB, where Python's
//! `pickle.loads` takes 1.2 GB).
//!
//! Cut, to stay small: Python 2's strs (Python 3 writes none); numbers
//! written as text other than in decimal; calls written otherwise than as
//! `pickle.dumps` writes them; a str with a lone surrogate, which Rust
//! cannot hold. Dict keys and set items are compared within their type: 1,
//! 1.0 and True are three keys here, one in Python.

use std::collections::{HashMap, hash_map::Entry};
use std::fmt;

use num_bigint::BigInt;

use crate::text::{bytes_repr, escape, float_repr, str_repr};

/// How deep containers may nest, as in the Python twins: `[[1]]` is 2.
pub const MAX_DEPTH: usize = 100;
/// MARKs open at once: plain data opens about one a level of nesting.
pub const MAX_OPEN_MARKS: usize = 256;
/// Digits of an int written as text: Python 3.11 reads no more.
pub const MAX_INT_DIGITS: usize = 4300;
/// Bytes of a binary int: 1785 always fit in 4300 digits, 1786 may not.
pub const MAX_INT_BYTES: usize = 1785;

/// Why a pickle was not read: one short line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

pub type Result<T> = std::result::Result<T, Refused>;

/// A value read from a pickle: the objects it made, and which is the value.
#[derive(Debug)]
pub struct Value {
    objects: Vec<Object>,
    root: Id,
    written_out: usize,
}

type Id = u32;

/// 24 bytes: what can be long is boxed. The arena starts with None, False,
/// True and the [`GLOBALS`].
#[derive(Debug)]
enum Object {
    None,
    Bool(bool),
    Int(i64),
    Big(Box<BigInt>),
    Float(f64),
    Str(Box<str>),
    Bytes(Box<[u8]>),
    ByteArray(Box<[u8]>),
    /// A dict's items are its keys and values, in turn. A box: a `Vec`
    /// would make every object 32 bytes.
    #[allow(clippy::box_collection)]
    Container(Kind, Option<Box<Vec<Id>>>),
    Global(&'static str),
}

const _: () = assert!(size_of::<Object>() == 24);

impl Object {
    fn items(&self) -> &[Id] {
        match self {
            Object::Container(_, Some(items)) => items,
            _ => &[],
        }
    }
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
#[rustfmt::skip]
const KINDS: [[&str; 4]; 5] = [
    ["list", "[", "]", "[]"], ["tuple", "(", ")", "()"], ["dict", "{", "}", "{}"],
    ["set", "{", "}", "set()"], ["frozenset", "frozenset({", "})", "frozenset()"],
];

/// What protocols 0 to 3 call for a set, 0 to 4 for a bytearray, 0 to 2 for
/// bytes (`_codecs.encode(text, 'latin1')`, or `bytes()`).
#[rustfmt::skip]
const GLOBALS: [&str; 5] = ["builtins.set", "builtins.frozenset",
    "builtins.bytes", "builtins.bytearray", "_codecs.encode"];

/// `pickle.loads(pickled)`, for plain data, within the bounds above.
///
/// ```
/// let value = socket_lessons::pickle::loads(b"(dI2\nI1\ns.").unwrap();
/// assert_eq!(value.repr(80), "{2: 1}");
/// ```
pub fn loads(pickled: &[u8]) -> Result<Value> {
    if pickled.len() >= 1 << 31 {
        return Err(Refused("a pickle of 2 GiB or more".into()));
    }
    let first = [Object::None, Object::Bool(false), Object::Bool(true)];
    let objects = first.into_iter().chain(GLOBALS.map(Object::Global));
    let objects = objects.collect();
    let mut loader = Loader { pickled, objects, ..Default::default() };
    let root = loader.run()?;
    let mut value = Value { objects: loader.objects, root, written_out: 1 };
    value.written_out = value.measure()?;
    Ok(value)
}

#[derive(Default)]
struct Loader<'a> {
    pickled: &'a [u8],
    next: usize,
    /// The opcode being read, and its offset.
    op: (u8, usize),
    objects: Vec<Object>,
    stack: Vec<Id>,
    /// Where the stack stood at each open MARK.
    marks: Vec<usize>,
    /// Python's memo is a dict: `memo_len` of these indexes are used.
    memo: Vec<Option<Id>>,
    memo_len: usize,
    /// Each distinct key, numbered; the number of each object seen as a key
    /// (a shared tuple is looked at once); each key's place in each dict.
    keys: HashMap<String, u32>,
    key_of: HashMap<Id, u32>,
    places: HashMap<(Id, u32), usize>,
}

impl<'a> Loader<'a> {
    fn run(&mut self) -> Result<Id> {
        use Kind::*;
        while let Some(&code) = self.pickled.get(self.next) {
            self.op = (code, self.next);
            self.next += 1;
            let (n, bytes) = self.argument(code)?;
            // What container the opcode makes or fills, of how many items
            // (None: those above the MARK).
            let (kind, count) = match code {
                b']' => (List, Some(0)),
                b')' => (Tuple, Some(0)),
                b'}' => (Dict, Some(0)),
                0x8f => (Set, Some(0)),
                b'a' => (List, Some(1)),
                b's' => (Dict, Some(2)),
                0x85..=0x87 => (Tuple, Some(usize::from(code - 0x84))),
                b't' => (Tuple, None),
                b'd' | b'u' => (Dict, None),
                0x90 => (Set, None),
                0x91 => (FrozenSet, None),
                _ => (List, None),
            };
            let flag = |yes: bool| 1 + u32::from(yes); // False, True
            let marks = self.marks.len();
            match code {
                0x80 => self.check(n <= 5, "no such protocol")?,
                0x95 => {
                    self.check(n as usize <= self.rest(), "a long FRAME")?
                }
                b'.' => return self.pop_value(),
                b'(' => {
                    self.check(marks < MAX_OPEN_MARKS, "too many MARKs")?;
                    self.marks.push(self.stack.len())
                }
                // Python's POP takes the MARK when nothing is above it.
                b'0' if self.top().is_none() && marks > 0 => {
                    _ = self.marks.pop()
                }
                b'0' => _ = self.pop()?,
                b'1' => _ = self.pop_values(None)?,
                b'2' => {
                    let top = self.pop()?;
                    self.stack.extend([top, top])
                }
                b'p' => self.put(self.index(bytes)?)?,
                b'q' | b'r' => self.put(n)?,
                0x94 => self.put(self.memo_len as u64)?,
                b'g' => self.get(self.index(bytes)?)?,
                b'h' | b'j' => self.get(n)?,
                b'N' => self.stack.push(0),
                0x88 | 0x89 => self.stack.push(flag(code == 0x88)),
                b'I' if bytes == b"00" || bytes == b"01" => {
                    self.stack.push(flag(bytes == b"01"))
                }
                b'I' | b'L' => self.push_int(self.decimal(code, bytes)?),
                b'J' => self.push_int((n as u32 as i32).into()),
                b'K' | b'M' => self.push_int(n.into()),
                0x8a | 0x8b => {
                    let what = "an int of more bytes than Python 3.11 prints";
                    self.check(bytes.len() <= MAX_INT_BYTES, what)?;
                    self.push_int(BigInt::from_signed_bytes_le(bytes))
                }
                b'F' => match parse::<f64>(bytes) {
                    // Rust reads 1e999 as inf, where Python refuses it.
                    Some(x) if x.is_finite() || bytes.contains(&b'n') => {
                        self.push(Object::Float(x))
                    }
                    _ => self.check(false, "not a number")?,
                },
                // Read as a little-endian number: BINFLOAT is big-endian.
                b'G' => {
                    self.push(Object::Float(f64::from_bits(n.swap_bytes())))
                }
                b'V' => match raw_unicode_escape(bytes) {
                    Some(text) => self.push(Object::Str(text.into())),
                    None => self.check(false, "a bad raw-unicode-escape")?,
                },
                b'X' | 0x8c | 0x8d => match std::str::from_utf8(bytes) {
                    Ok(text) => self.push(Object::Str(text.into())),
                    Err(_) => self.check(false, "the text is not UTF-8")?,
                },
                b'B' | b'C' | 0x8e => self.push(Object::Bytes(bytes.into())),
                0x96 => self.push(Object::ByteArray(bytes.into())),
                b']'
                | b')'
                | b'}'
                | 0x8f
                | b'l'
                | b't'
                | b'd'
                | 0x91
                | 0x85..=0x87 => {
                    let items = self.pop_values(count)?;
                    self.make(kind, items)?
                }
                b'a' | b's' | b'e' | b'u' | 0x90 => {
                    let items = self.pop_values(count)?;
                    self.add(self.top().unwrap_or(0), kind, items)?
                }
                b'c' => {
                    let mut lines = bytes.splitn(2, |&byte| byte == b'\n');
                    let module = lines.next().unwrap_or_default();
                    let global =
                        global(module, lines.next().unwrap_or_default());
                    self.stack.push(global?)
                }
                0x93 => {
                    let names = self.pop_values(Some(2))?;
                    let [module, name] = [0, 1].map(|at| {
                        match &self.objects[names[at] as usize] {
                            Object::Str(text) => text.as_bytes(),
                            _ => b"?",
                        }
                    });
                    self.stack.push(global(module, name)?)
                }
                b'R' => self.reduce()?,
                b'S' | b'T' | b'U' => self.check(false, "a Python 2 str")?,
                _ => self.check(false, "plain data does not need it")?,
            }
        }
        Err(Refused("the pickle ends before its STOP".into()))
    }

    /// A refusal, unless `ok`, that says `what` went wrong where.
    fn check(&self, ok: bool, what: impl fmt::Display) -> Result<()> {
        self.need(ok.then_some(()), what)
    }

    /// `value`, or a refusal that says `what` went wrong where.
    fn need<T>(&self, value: Option<T>, what: impl fmt::Display) -> Result<T> {
        let (code, offset) = self.op;
        value
            .ok_or_else(|| match opcode(code) {
                Some((name, _)) => format!("{name} at offset {offset}: {what}"),
                None => format!("byte 0x{code:02x} at offset {offset}: {what}"),
            })
            .map_err(Refused)
    }

    fn rest(&self) -> usize {
        self.pickled.len() - self.next
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8]> {
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        self.check(len <= self.rest(), "the pickle ends inside it")?;
        self.next += len;
        Ok(&self.pickled[self.next - len..self.next])
    }

    /// The opcode's argument: a number (unsigned, little-endian) and its
    /// bytes, or bytes after their length, or lines of text.
    fn argument(&mut self, code: u8) -> Result<(u64, &'a [u8])> {
        let number = |bytes: &[u8]| {
            bytes.iter().rev().fold(0, |n, &byte| n << 8 | u64::from(byte))
        };
        let argument = self.need(opcode(code), "no such opcode")?.1;
        Ok(match argument {
            No => (0, &[]),
            Num(width) => {
                let bytes = self.take(width)?;
                (number(bytes), bytes)
            }
            Len(width) => {
                let len = number(self.take(width)?);
                (len, self.take(len)?)
            }
            Line(lines) => {
                let rest = &self.pickled[self.next..];
                let mut ends = (0..rest.len()).filter(|&at| rest[at] == b'\n');
                let end = self.need(ends.nth(lines - 1), "the pickle ends")?;
                self.next += end + 1;
                (0, &rest[..end])
            }
        })
    }

    fn index(&self, text: &[u8]) -> Result<u64> {
        self.need(parse(text), "not an index")
    }

    /// An int written in decimal (INT, LONG), as Python writes them.
    fn decimal(&self, code: u8, text: &[u8]) -> Result<BigInt> {
        let long = text.strip_suffix(b"L").filter(|_| code == b'L');
        let text = long.unwrap_or(text);
        let digits = text.strip_prefix(b"-").unwrap_or(text);
        let many = format_args!("more than {MAX_INT_DIGITS} digits");
        self.check(digits.len() <= MAX_INT_DIGITS, many)?;
        let plain = digits.iter().all(u8::is_ascii_digit)
            && !(digits.len() > 1 && digits[0] == b'0');
        let int = BigInt::parse_bytes(text, 10).filter(|_| plain);
        self.need(int, "not an int")
    }

    /// A new object, on the stack.
    fn push(&mut self, object: Object) {
        self.stack.push(self.objects.len() as Id);
        self.objects.push(object);
    }

    fn push_int(&mut self, int: BigInt) {
        self.push(match i64::try_from(&int) {
            Ok(int) => Object::Int(int),
            Err(_) => Object::Big(Box::new(int)),
        })
    }

    /// The top of the stack, if it is above the last MARK.
    fn top(&self) -> Option<Id> {
        let floor = self.marks.last().copied().unwrap_or(0);
        self.stack.last().copied().filter(|_| self.stack.len() > floor)
    }

    fn pop(&mut self) -> Result<Id> {
        let top = self.need(self.top(), "the stack is empty")?;
        self.stack.pop();
        Ok(top)
    }

    fn pop_value(&mut self) -> Result<Id> {
        Ok(self.pop_values(Some(1))?[0])
    }

    /// The top `count` values, or those above the last MARK and that MARK,
    /// deepest first; none of them a global, which plain data only calls.
    fn pop_values(&mut self, count: Option<usize>) -> Result<Vec<Id>> {
        let floor = self.marks.last().copied().unwrap_or(0);
        let start = match count {
            Some(count) => self.stack.len().checked_sub(count),
            None => self.marks.pop(),
        };
        let above = start.filter(|&start| count.is_none() || start >= floor);
        let ids =
            self.stack.split_off(self.need(above, "too few on the stack")?);
        for &id in &ids {
            let global = matches!(self.objects[id as usize], Object::Global(_));
            self.check(!global, "a global used as a value")?;
        }
        Ok(ids)
    }

    fn put(&mut self, index: u64) -> Result<()> {
        let (top, len) = (self.top(), self.pickled.len());
        let at = usize::try_from(index).unwrap_or(usize::MAX);
        self.check(
            at < len,
            format_args!("a memo index past the {len} bytes"),
        )?;
        self.check(top.is_some(), "the stack is empty")?;
        if at >= self.memo.len() {
            self.memo.resize(at + 1, None);
        }
        self.memo_len += usize::from(self.memo[at].is_none());
        self.memo[at] = top;
        Ok(())
    }

    fn get(&mut self, index: u64) -> Result<()> {
        let at = usize::try_from(index).unwrap_or(usize::MAX);
        let id = self.memo.get(at).copied().flatten();
        self.stack.push(self.need(id, format_args!("no memo {index}"))?);
        Ok(())
    }

    /// REDUCE: an allowed global called as `pickle.dumps` writes the call.
    fn reduce(&mut self) -> Result<()> {
        let (arguments, callable) = (self.pop_value()?, self.pop()?);
        let object = |id: Id| &self.objects[id as usize];
        let tuple =
            matches!(object(arguments), Object::Container(Kind::Tuple, _));
        self.check(tuple, "its arguments are no tuple")?;
        let arguments = object(arguments).items().iter();
        let arguments: Vec<_> = arguments.map(|&id| object(id)).collect();
        let name = match object(callable) {
            Object::Global(name) => name,
            _ => "something",
        };
        let latin1 = |text: &str| {
            text.chars().map(|c| u8::try_from(c).ok()).collect::<Option<_>>()
        };
        let new = match (name, &arguments[..]) {
            ("builtins.set", [list @ Object::Container(Kind::List, _)]) => {
                return self.make(Kind::Set, list.items().to_vec());
            }
            (
                "builtins.frozenset",
                [list @ Object::Container(Kind::List, _)],
            ) => {
                return self.make(Kind::FrozenSet, list.items().to_vec());
            }
            ("builtins.bytes", []) => Some(Object::Bytes(Box::default())),
            ("builtins.bytearray", []) => {
                Some(Object::ByteArray(Box::default()))
            }
            ("builtins.bytearray", [Object::Bytes(bytes)]) => {
                Some(Object::ByteArray(bytes.clone()))
            }
            ("_codecs.encode", [Object::Str(text), Object::Str(codec)])
                if &**codec == "latin1" =>
            {
                latin1(text).map(Object::Bytes)
            }
            _ => None,
        };
        let what = format_args!("{name} called as pickle.dumps never calls it");
        self.push(self.need(new, what)?);
        Ok(())
    }

    /// A new container of `items`.
    fn make(&mut self, kind: Kind, items: Vec<Id>) -> Result<()> {
        self.push(Object::Container(kind, None));
        self.add(self.objects.len() as Id - 1, kind, items)
    }

    /// Puts `new` in `target`, if it is a `kind`, as Python's `append`,
    /// `d[key] = value` (a key equal to one there keeps that one's place
    /// and takes the new value) or `add` (an equal item is left out) do.
    fn add(&mut self, target: Id, kind: Kind, new: Vec<Id>) -> Result<()> {
        let odd = kind == Kind::Dict && new.len() % 2 == 1;
        self.check(!odd, "a key without a value")?;
        let items = match &mut self.objects[target as usize] {
            Object::Container(found, items) if *found == kind => {
                Some(items.take().unwrap_or_default())
            }
            _ => None,
        };
        let what = format_args!("no {} to add to", KINDS[kind as usize][0]);
        let mut items = self.need(items, what)?;
        let keyed = !matches!(kind, Kind::List | Kind::Tuple);
        for added in new.chunks(if kind == Kind::Dict { 2 } else { 1 }) {
            let key = if keyed { Some(self.key(added[0], 0)?) } else { None };
            match key.map(|key| self.places.entry((target, key))) {
                Some(Entry::Occupied(at)) if kind == Kind::Dict => {
                    items[*at.get() + 1] = added[1]
                }
                Some(Entry::Occupied(_)) => {}
                Some(Entry::Vacant(at)) => {
                    at.insert(items.len());
                    items.extend(added)
                }
                None => items.extend(added),
            }
        }
        if let Object::Container(_, slot) = &mut self.objects[target as usize] {
            *slot = Some(items).filter(|items| !items.is_empty());
        }
        Ok(())
    }

    /// The number of `id`'s value among the keys seen (atoms by their repr,
    /// tuples and frozensets by their items' numbers), or the refusal
    /// Python's `TypeError: unhashable type` becomes.
    fn key(&mut self, id: Id, depth: usize) -> Result<u32> {
        if let Some(&known) = self.key_of.get(&id) {
            return Ok(known);
        }
        let object = &self.objects[id as usize];
        let (kind, items) = (kind_of(object), object.items().to_vec());
        let key = match (object, kind) {
            (Object::Float(x), _) if x.is_nan() => format!("nan {id}"),
            (_, Some(kind @ (Kind::Tuple | Kind::FrozenSet))) => {
                self.check(depth < MAX_DEPTH, "a key nests too deep")?;
                let keys = items.iter().map(|&item| self.key(item, depth + 1));
                let mut keys = keys.collect::<Result<Vec<_>>>()?;
                if kind == Kind::FrozenSet {
                    keys.sort_unstable();
                }
                format!("{kind:?}{keys:?}")
            }
            (Object::ByteArray(_) | Object::Container(..), _) => {
                let name =
                    kind.map_or("bytearray", |kind| KINDS[kind as usize][0]);
                return self
                    .need(None, format_args!("unhashable type: '{name}'"));
            }
            (atom, _) => atom_repr(atom),
        };
        let count = self.keys.len() as u32;
        let number = *self.keys.entry(key).or_insert(count);
        self.key_of.insert(id, number);
        Ok(number)
    }
}

fn kind_of(object: &Object) -> Option<Kind> {
    match object {
        Object::Container(kind, _) => Some(*kind),
        _ => None,
    }
}

/// A global plain data calls: its id.
fn global(module: &[u8], name: &[u8]) -> Result<Id> {
    // Python 3 reads Python 2's module names as its own.
    let module = if module == b"__builtin__" { b"builtins" } else { module };
    let global = [module, b".", name].concat();
    match GLOBALS.iter().position(|known| known.as_bytes() == global) {
        Some(at) => Ok(3 + at as Id),
        None => {
            let global = &global[..global.len().min(60)];
            let global = escape(&String::from_utf8_lossy(global));
            let what = "which plain data does not need";
            Err(Refused(format!(
                "the pickle names the global {global}, {what}"
            )))
        }
    }
}

/// Python's `repr()` of what is not a container.
fn atom_repr(object: &Object) -> String {
    match object {
        Object::None => "None".into(),
        Object::Bool(true) => "True".into(),
        Object::Bool(false) => "False".into(),
        Object::Int(int) => int.to_string(),
        Object::Big(int) => int.to_string(),
        Object::Float(x) => float_repr(*x),
        Object::Str(text) => str_repr(text),
        Object::Bytes(bytes) => bytes_repr(bytes),
        // CPython escapes a ' here even between double quotes.
        Object::ByteArray(bytes) => match bytes_repr(bytes) {
            repr if repr.starts_with("b\"") => {
                format!("bytearray({})", repr.replace('\'', "\\'"))
            }
            repr => format!("bytearray({repr})"),
        },
        Object::Global(name) => name.to_string(),
        Object::Container(..) => String::new(),
    }
}

impl Value {
    /// How many objects the value holds written out in full, each copy of
    /// a shared one counted (what serde-pickle's `Value` would make), or
    /// `usize::MAX` if it contains itself, which no copy can hold.
    pub fn written_out(&self) -> usize {
        self.written_out
    }

    /// Refuses a value whose containers nest deeper than [`MAX_DEPTH`]
    /// (as the Python twins do), once it is built, since a container may be
    /// filled after it was put in another; else, how many objects it holds
    /// written out. One walk, with no recursion: each container is measured
    /// once; one inside itself counts as Python prints it, `[...]`.
    fn measure(&self) -> Result<usize> {
        let mut measured: Vec<Option<(usize, usize)>> =
            vec![None; self.objects.len()];
        // The containers being walked, outermost first, and the next item
        // of each to look at; whether one was found inside itself.
        let mut path: Vec<(Id, usize)> = vec![(self.root, 0)];
        let mut looped = false;
        while let Some(&mut (id, ref mut next)) = path.last_mut() {
            let items = self.objects[id as usize].items();
            let Some(&item) = items.get(*next) else {
                let below = items.iter().map(|&i| measured[i as usize]);
                let (depth, size) = below.fold((0, 1), |(d, s), below| {
                    let (depth, size) = below.unwrap_or((0, 1));
                    (d.max(depth), size.saturating_add(s))
                });
                measured[id as usize] = Some((depth + 1, size));
                path.pop();
                continue;
            };
            *next += 1;
            let inside = path.iter().any(|&(on, _)| on == item);
            looped |= inside;
            if kind_of(&self.objects[item as usize]).is_none() || inside {
                continue;
            }
            let below = measured[item as usize];
            if path.len() + below.map_or(1, |(depth, _)| depth) > MAX_DEPTH {
                return Err(Refused(format!(
                    "it nests deeper than {MAX_DEPTH}"
                )));
            }
            if below.is_none() {
                path.push((item, 0));
            }
        }
        let size = measured[self.root as usize].map_or(1, |(_, size)| size);
        Ok(if looped { usize::MAX } else { size })
    }

    /// Python's `repr()` of the value if it has at most `max_chars`
    /// characters; else its first `max_chars` characters and `...`, as it
    /// is where containers nest deeper than [`MAX_DEPTH`]. Time and memory
    /// go with `max_chars` (and the longest str or bytes), not with the
    /// value written out in full: a list holding one list twice, itself
    /// holding one twice, 100 levels down, stops at the budget.
    pub fn repr(&self, max_chars: usize) -> String {
        let mut out = Budget { text: String::new(), left: Some(max_chars) };
        self.write(self.root, &mut out, &mut Vec::new());
        out.text
    }

    /// `path`: the containers `id` is in, the outermost first.
    fn write(&self, id: Id, out: &mut Budget, path: &mut Vec<Id>) {
        let object = &self.objects[id as usize];
        let Some(kind) = kind_of(object) else {
            return out.push(&atom_repr(object));
        };
        let [_, opening, closing, empty] = KINDS[kind as usize];
        let items = object.items();
        if path.contains(&id) {
            // Inside itself: Python prints `[...]`.
            return out.push(&format!("{opening}...{closing}"));
        } else if items.is_empty() {
            return out.push(empty);
        } else if path.len() == MAX_DEPTH {
            return out.cut();
        }
        out.push(opening);
        path.push(id);
        for (at, &item) in items.iter().enumerate() {
            if at > 0 {
                let key = kind == Kind::Dict && at % 2 == 1;
                out.push(if key { ": " } else { ", " });
            }
            if out.left.is_none() {
                return;
            }
            self.write(item, out, path);
        }
        path.pop();
        let one_tuple = kind == Kind::Tuple && items.len() == 1;
        out.push(if one_tuple { ",)" } else { closing });
    }
}

fn parse<T: std::str::FromStr>(text: &[u8]) -> Option<T> {
    std::str::from_utf8(text).ok()?.parse().ok()
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
        self.text.extend(piece.chars().take(left));
        self.left = Some(left.saturating_sub(count));
        if count > left {
            self.cut();
        }
    }

    fn cut(&mut self) {
        if self.left.take().is_some() {
            self.text.push_str("...");
        }
    }
}

/// UNICODE's text, in Python's raw-unicode-escape: each byte a Latin-1
/// character, but for `\uXXXX` and `\UXXXXXXXX`; a backslash before any
/// other byte is itself, and so is that byte.
fn raw_unicode_escape(text: &[u8]) -> Option<String> {
    let (mut decoded, mut at) = (String::with_capacity(text.len()), 0);
    while at < text.len() {
        let (c, width) = match (text[at], text.get(at + 1)) {
            (b'\\', Some(&u @ (b'u' | b'U'))) => {
                let width = if u == b'u' { 4 } else { 8 };
                let hex = text.get(at + 2..at + 2 + width)?;
                let hex =
                    hex.iter().all(u8::is_ascii_hexdigit).then_some(hex)?;
                let code =
                    u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16);
                (char::from_u32(code.ok()?)?, 2 + width)
            }
            (b'\\', Some(&next)) => {
                decoded.push('\\');
                (char::from(next), 2)
            }
            (byte, _) => (char::from(byte), 1),
        };
        decoded.push(c);
        at += width;
    }
    Some(decoded)
}

/// How an opcode's argument is written: not at all, as a little-endian
/// number of so many bytes, as bytes after such a number (their length), or
/// as lines of text.
#[derive(Clone, Copy)]
enum Arg {
    No,
    Num(u64),
    Len(u64),
    Line(usize),
}

use Arg::{Len, Line, No, Num};

/// An opcode's name, as pickletools has it, and its argument: those that
/// plain data does not need are read as if they had none, and refused.
fn opcode(code: u8) -> Option<(&'static str, Arg)> {
    let found = OPCODES.iter().find(|&&(known, ..)| known == code);
    found.map(|&(_, name, argument)| (name, argument))
}

#[rustfmt::skip]
const OPCODES: &[(u8, &str, Arg)] = &[
    (b'(', "MARK", No), (b'.', "STOP", No), (b'0', "POP", No),
    (b'1', "POP_MARK", No), (b'2', "DUP", No), (b'F', "FLOAT", Line(1)),
    (b'I', "INT", Line(1)), (b'J', "BININT", Num(4)), (b'K', "BININT1", Num(1)),
    (b'L', "LONG", Line(1)), (b'M', "BININT2", Num(2)), (b'N', "NONE", No),
    (b'P', "PERSID", No), (b'Q', "BINPERSID", No), (b'R', "REDUCE", No),
    (b'S', "STRING", No), (b'T', "BINSTRING", No), (b'U', "SHORT_BINSTRING", No),
    (b'V', "UNICODE", Line(1)), (b'X', "BINUNICODE", Len(4)),
    (b'a', "APPEND", No), (b'b', "BUILD", No), (b'c', "GLOBAL", Line(2)),
    (b'd', "DICT", No), (b'}', "EMPTY_DICT", No), (b'e', "APPENDS", No),
    (b'g', "GET", Line(1)), (b'h', "BINGET", Num(1)), (b'i', "INST", No),
    (b'j', "LONG_BINGET", Num(4)), (b'l', "LIST", No), (b']', "EMPTY_LIST", No),
    (b'o', "OBJ", No), (b'p', "PUT", Line(1)), (b'q', "BINPUT", Num(1)),
    (b'r', "LONG_BINPUT", Num(4)), (b's', "SETITEM", No), (b't', "TUPLE", No),
    (b')', "EMPTY_TUPLE", No), (b'u', "SETITEMS", No), (b'G', "BINFLOAT", Num(8)),
    (0x80, "PROTO", Num(1)), (0x81, "NEWOBJ", No), (0x82, "EXT1", No),
    (0x83, "EXT2", No), (0x84, "EXT4", No), (0x85, "TUPLE1", No),
    (0x86, "TUPLE2", No), (0x87, "TUPLE3", No), (0x88, "NEWTRUE", No),
    (0x89, "NEWFALSE", No), (0x8a, "LONG1", Len(1)), (0x8b, "LONG4", Len(4)),
    (b'B', "BINBYTES", Len(4)), (b'C', "SHORT_BINBYTES", Len(1)),
    (0x8c, "SHORT_BINUNICODE", Len(1)), (0x8d, "BINUNICODE8", Len(8)),
    (0x8e, "BINBYTES8", Len(8)), (0x8f, "EMPTY_SET", No),
    (0x90, "ADDITEMS", No), (0x91, "FROZENSET", No), (0x92, "NEWOBJ_EX", No),
    (0x93, "STACK_GLOBAL", No), (0x94, "MEMOIZE", No), (0x95, "FRAME", Num(8)),
    (0x96, "BYTEARRAY8", Len(8)), (0x97, "NEXT_BUFFER", No),
    (0x98, "READONLY_BUFFER", No),
];
