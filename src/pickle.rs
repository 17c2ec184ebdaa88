//! A small, bounded reader of plain-data pickles: [`loads`] builds what
//! CPython's `pickle.loads` builds from what `pickle.dumps` writes of None,
//! bools, ints, floats, strs, bytes, bytearrays, lists, tuples, dicts, sets and
//! frozensets at protocols 0 to 5; [`Value::repr`] prints it as Python does.
//! Not serde-pickle's `Value`, which sorts a dict's keys, has no bytearray
//! and copies each memo reference in full (a few hundred bytes can ask for
//! gigabytes): here each object sits once in an arena, as in CPython, and
//! every recursion is bounded by [`MAX_DEPTH`].
//!
//! Refused, in one line that says where: any global but five plain-data calls,
//! objects of classes, Python 2's strs, ints written as text as Python does not
//! write them, calls `pickle.dumps` never writes, lone surrogates (Rust cannot
//! hold them), and what passes the bounds below, none of them a size: an opcode
//! is a byte or more and makes at most one object, stack slot or memo entry, so
//! lesson 5's 16 MiB header bounds the rest. Peak memory (`time -v`), ours and
//! `pickle.loads`'s: 16.8 million empty lists 510 MB, 1.26 GB; 8.4 million
//! one-tuples 925, 636 MB; 16.8 million nested 1.5 GB (until refused), 840 MB;
//! a list memoized 16.8 million times 170, 182 MB. Keys compare within their
//! type: 1, 1.0 and True are three keys.

use std::collections::HashMap;
use std::fmt::Display;
use std::mem;

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

/// A value, or why the pickle was not read: one short line.
pub type Result<T> = std::result::Result<T, String>;

/// A value read from a pickle: the objects it made, and which is the value.
#[derive(Debug)]
pub struct Value {
    objects: Vec<Object>,
    root: Id,
    written_out: usize,
}

type Id = u32;
type Size = (usize, usize);

/// 24 bytes, what can be long boxed. The arena starts with None, False,
/// True and the names of the [`GLOBALS`] (never values).
#[derive(Debug)]
enum Object {
    /// None, a bool, an int or a float as Python prints it; a small int not.
    Atom(Box<str>),
    Int(i32),
    Str(Box<str>),
    /// Bytes, or (true) a bytearray.
    Bytes(Box<[u8]>, bool),
    /// A dict's items: key, value, key... Boxed (none while empty), or
    /// every object would take 32 bytes.
    #[allow(clippy::box_collection)]
    Container(Kind, Option<Box<Vec<Id>>>),
}

const _: () = assert!(size_of::<Object>() == 24);

impl Object {
    fn container(&self) -> Option<(Kind, &[Id])> {
        let Object::Container(kind, items) = self else { return None };
        Some((*kind, items.as_deref().map_or(&[], Vec::as_slice)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
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

/// What protocols 0 to 3 call for a set, 0 to 4 for a bytearray, 0 to 2 for
/// bytes (`_codecs.encode(text, 'latin1')`, or `bytes()`); their ids.
#[rustfmt::skip]
const GLOBALS: [&str; 5] = ["builtins.set", "builtins.frozenset",
    "builtins.bytes", "builtins.bytearray", "_codecs.encode"];
const GLOBAL_IDS: std::ops::Range<Id> = 3..8;

/// `pickle.loads(pickled)`, for plain data, within the bounds above.
pub fn loads(pickled: &[u8]) -> Result<Value> {
    if pickled.len() >= 1 << 31 {
        return Err("a pickle of 2 GiB or more".into());
    }
    let first = ["None", "False", "True"].into_iter().chain(GLOBALS);
    let objects = first.map(|repr| Object::Atom(repr.into())).collect();
    let mut loader = Loader { pickled, objects, ..Default::default() };
    let root = loader.run()?;
    // Zeroed: what is not walked takes no memory; 0 deep: not measured.
    let done = &mut vec![(0, 0); loader.objects.len()];
    let written_out = loader.measure(root, 0, done)?.1;
    Ok(Value { objects: loader.objects, root, written_out })
}

#[derive(Default)]
struct Loader<'a> {
    pickled: &'a [u8],
    next: usize,
    /// The opcode being read, and its offset.
    op: (u8, usize),
    objects: Vec<Object>,
    /// What is above the last open MARK, and below each, as in pickle.py.
    stack: Vec<Id>,
    marks: Vec<Vec<Id>>,
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
        while let Some(&code) = self.pickled.get(self.next) {
            self.op = (code, self.next);
            self.next += 1;
            // The argument: bytes of a width, or a line; `n`, the bytes as a
            // little-endian number, or an index; or, where `n` is a length,
            // the bytes after it.
            let mut bytes = match code {
                b'K' | b'h' | b'q' | 0x80 | b'C' | 0x8a | 0x8c => self.take(1),
                b'M' => self.take(2),
                b'J' | b'j' | b'r' | b'B' | b'X' | 0x8b => self.take(4),
                b'G' | 0x95 | 0x8d | 0x8e | 0x96 => self.take(8),
                b'F' | b'I' | b'L' | b'V' | b'g' | b'p' => self.line(),
                _ => self.take(0),
            }?;
            let n = match code {
                b'g' | b'p' => self.need(parse(bytes), "not an index")?,
                0x94 => self.memo_len as u64,
                _ => bytes.iter().rev().fold(0, |n, &b| n << 8 | u64::from(b)),
            };
            if b"BCX\x8a\x8b\x8c\x8d\x8e\x96".contains(&code) {
                bytes = self.take(n)?;
            }
            if code == b'.' {
                return Ok(self.pop(Some(1))?[0]);
            }
            self.step(code, bytes, n)?;
        }
        Err("the pickle ends before its STOP".into())
    }

    fn step(&mut self, code: u8, bytes: &[u8], n: u64) -> Result<()> {
        use Kind::*;
        match code {
            0x80 => self.check(n <= 5, "no such protocol")?,
            0x95 => {
                let rest = self.pickled.len() - self.next;
                self.check(n <= rest as u64, "a long FRAME")?
            }
            b'(' => {
                let open = self.marks.len();
                self.check(open < MAX_OPEN_MARKS, "too many MARKs")?;
                self.marks.push(mem::take(&mut self.stack))
            }
            // Python's POP takes the MARK when nothing is above it.
            b'0' if !self.stack.is_empty() => _ = self.pop(Some(1))?,
            b'0' | b'1' => _ = self.pop(None)?,
            b'2' => self.stack.push(self.top()?),
            b'p' | b'q' | b'r' | 0x94 => {
                let len = self.pickled.len();
                let past = format_args!("a memo index past the {len} bytes");
                self.check(n < len as u64, past)?;
                let (at, top) = (n as usize, self.top()?);
                self.memo.resize(self.memo.len().max(at + 1), None);
                self.memo_len += usize::from(self.memo[at].is_none());
                self.memo[at] = Some(top);
            }
            b'g' | b'h' | b'j' => {
                let id = self.memo.get(n as usize).copied().flatten();
                self.stack.push(self.need(id, format_args!("no memo {n}"))?)
            }
            b'N' => self.stack.push(0),
            0x88 | 0x89 => self.stack.push(1 + Id::from(code == 0x88)),
            b'I' if bytes == b"00" => self.stack.push(1),
            b'I' if bytes == b"01" => self.stack.push(2),
            b'I' | b'L' => {
                let long = bytes.strip_suffix(b"L").filter(|_| code == b'L');
                let text = long.unwrap_or(bytes);
                let digits = text.len() - usize::from(text.starts_with(b"-"));
                let many = format_args!("more than {MAX_INT_DIGITS} digits");
                self.check(digits <= MAX_INT_DIGITS, many)?;
                // As Python writes ints: no sign, zero or space more.
                let int = BigInt::parse_bytes(text, 10).map(|i| i.to_string());
                let int = int.filter(|int| int.as_bytes() == text);
                self.atom(self.need(int, "not an int")?)
            }
            b'J' | b'K' | b'M' => self.push(Object::Int(n as u32 as i32)),
            0x8a | 0x8b => {
                let what = "an int of more bytes than Python 3.11 prints";
                self.check(bytes.len() <= MAX_INT_BYTES, what)?;
                self.atom(BigInt::from_signed_bytes_le(bytes))
            }
            b'F' => {
                // Rust reads 1e999 as inf, where Python refuses it.
                let finite = |x: &f64| x.is_finite() || bytes.contains(&b'n');
                let x = parse(bytes).filter(finite);
                self.atom(float_repr(self.need(x, "not a number")?))
            }
            // Read as a little-endian number: BINFLOAT is big-endian.
            b'G' => self.atom(float_repr(f64::from_bits(n.swap_bytes()))),
            b'V' => {
                let text = raw_unicode_escape(bytes);
                let text = self.need(text, "a bad raw-unicode-escape")?;
                self.push(Object::Str(text.into()))
            }
            b'X' | 0x8c | 0x8d => {
                let text = std::str::from_utf8(bytes).ok();
                let text = self.need(text, "the text is not UTF-8")?;
                self.push(Object::Str(text.into()))
            }
            b'B' | b'C' | 0x8e | 0x96 => {
                self.push(Object::Bytes(bytes.into(), code == 0x96))
            }
            b']' => self.add(List, Some(0), true)?,
            b')' => self.add(Tuple, Some(0), true)?,
            b'}' => self.add(Dict, Some(0), true)?,
            0x8f => self.add(Set, Some(0), true)?,
            b'l' => self.add(List, None, true)?,
            b't' => self.add(Tuple, None, true)?,
            b'd' => self.add(Dict, None, true)?,
            0x91 => self.add(FrozenSet, None, true)?,
            0x85..=0x87 => self.add(Tuple, Some(code as usize - 0x84), true)?,
            b'a' => self.add(List, Some(1), false)?,
            b'e' => self.add(List, None, false)?,
            b's' => self.add(Dict, Some(2), false)?,
            b'u' => self.add(Dict, None, false)?,
            0x90 => self.add(Set, None, false)?,
            b'c' => {
                let (module, name) = (self.line()?, self.line()?);
                self.stack.push(global(module, name)?)
            }
            0x93 => {
                let names = self.pop(Some(2))?;
                let text = |id: Id| match &self.objects[id as usize] {
                    Object::Str(text) => text.as_bytes(),
                    _ => b"?",
                };
                self.stack.push(global(text(names[0]), text(names[1]))?)
            }
            b'R' => self.reduce()?,
            b'S' | b'T' | b'U' => self.check(false, "a Python 2 str")?,
            // pickletools' other opcodes: objects of classes, buffers.
            _ if b"bioPQ\x81\x82\x83\x84\x92\x97\x98".contains(&code) => {
                self.check(false, "plain data does not need it")?
            }
            _ => self.check(false, "no such opcode")?,
        }
        Ok(())
    }

    fn check(&self, ok: bool, what: impl Display) -> Result<()> {
        self.need(ok.then_some(()), what)
    }

    /// `value`, or a refusal that says where `what` went wrong: at which
    /// opcode (its byte: `pickletools.dis` lists their names) and offset.
    fn need<T>(&self, value: Option<T>, what: impl Display) -> Result<T> {
        let (code, at) = self.op;
        value.ok_or_else(|| {
            let opcode = bytes_repr(&[code]);
            format!("opcode {opcode} at offset {at}: {what}")
        })
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8]> {
        let rest = &self.pickled[self.next..];
        let bytes = usize::try_from(len).ok().and_then(|len| rest.get(..len));
        let bytes = self.need(bytes, "the pickle ends inside it")?;
        self.next += bytes.len();
        Ok(bytes)
    }

    fn line(&mut self) -> Result<&'a [u8]> {
        let end = self.pickled[self.next..].iter().position(|&b| b == b'\n');
        let line = self.take(end.map_or(u64::MAX, |end| end as u64 + 1))?;
        Ok(&line[..line.len() - 1])
    }

    fn push(&mut self, object: Object) {
        self.stack.push(self.objects.len() as Id);
        self.objects.push(object);
    }

    fn atom(&mut self, repr: impl ToString) {
        self.push(Object::Atom(repr.to_string().into()))
    }

    fn top(&self) -> Result<Id> {
        self.need(self.stack.last().copied(), "the stack is empty")
    }

    /// The top `count` values, or those above the last MARK and that MARK,
    /// deepest first.
    fn pop(&mut self, count: Option<usize>) -> Result<Vec<Id>> {
        let stack = &mut self.stack;
        let values = match count {
            Some(n) => stack.len().checked_sub(n).map(|n| stack.split_off(n)),
            None => self.marks.pop().map(|below| mem::replace(stack, below)),
        };
        self.need(values, "too few on the stack")
    }

    /// REDUCE: one of the [`GLOBALS`] called as `pickle.dumps` calls it.
    fn reduce(&mut self) -> Result<()> {
        let popped = self.pop(Some(2))?;
        let index = popped[0].wrapping_sub(GLOBAL_IDS.start) as usize;
        let name = GLOBALS.get(index).copied().unwrap_or("something");
        let object = |id: Id| &self.objects[id as usize];
        let tuple = object(popped[1]).container();
        let tuple = tuple.filter(|(kind, _)| *kind == Kind::Tuple);
        let args = self.need(tuple, "its arguments are no tuple")?.1;
        let args: Vec<_> = args.iter().map(|&id| object(id)).collect();
        let short = &name[name.rfind('.').map_or(0, |dot| dot + 1)..];
        let new = match (short, &args[..]) {
            ("set" | "frozenset", [Object::Container(Kind::List, items)]) => {
                let items = items.as_deref().cloned().unwrap_or_default();
                // Made as if the list's items were on the stack.
                self.stack.extend(&items);
                let kind = [Kind::Set, Kind::FrozenSet][index];
                return self.add(kind, Some(items.len()), true);
            }
            ("bytes" | "bytearray", []) => {
                Some(Object::Bytes([].into(), name == GLOBALS[3]))
            }
            ("bytearray", [Object::Bytes(bytes, false)]) => {
                Some(Object::Bytes(bytes.clone(), true))
            }
            ("encode", [Object::Str(text), Object::Str(codec)])
                if &**codec == "latin1" =>
            {
                let latin1 = text.chars().map(|c| u8::try_from(c).ok());
                latin1.collect::<Option<_>>().map(|b| Object::Bytes(b, false))
            }
            _ => None,
        };
        let what = format_args!("{name} called as pickle.dumps never calls it");
        self.push(self.need(new, what)?);
        Ok(())
    }

    /// Puts the top `len` values (None: those above the MARK) in a `new`
    /// `kind`, or the one below them, as `append`, `d[key] = value` (an equal
    /// key keeps its place, takes the value) or `add` (once) do in Python.
    fn add(&mut self, kind: Kind, len: Option<usize>, new: bool) -> Result<()> {
        let added = self.pop(len)?;
        if new {
            self.push(Object::Container(kind, None));
        }
        let target = self.stack.last().copied().unwrap_or(0);
        let what = format_args!("no {} to add to", KINDS[kind as usize][0]);
        let items = match &mut self.objects[target as usize] {
            Object::Container(found, items) if *found == kind => items.take(),
            _ => return self.need(None, what),
        };
        let mut items = items.unwrap_or_default();
        let step = if kind == Kind::Dict { 2 } else { 1 };
        self.check(added.len() % step == 0, "a key without a value")?;
        for added in added.chunks(step) {
            let mut at = items.len();
            if !matches!(kind, Kind::List | Kind::Tuple) {
                let key = (target, self.key(added[0], 0)?);
                at = *self.places.entry(key).or_insert(at);
            }
            if at == items.len() {
                items.extend(added);
            } else if kind == Kind::Dict {
                items[at + 1] = added[1];
            }
        }
        if let Object::Container(_, slot) = &mut self.objects[target as usize] {
            *slot = Some(items).filter(|items| !items.is_empty());
        }
        Ok(())
    }

    /// How deep `id` nests and how many objects it holds written out, each
    /// container walked once (`done`: `usize::MAX` deep while walked); refused
    /// past [`MAX_DEPTH`] once built, as a list may grow after it is nested.
    fn measure(&self, id: Id, level: usize, done: &mut [Size]) -> Result<Size> {
        let at = id as usize;
        if GLOBAL_IDS.contains(&id) {
            return Err("a global used as a value".into());
        }
        let Some((_, items)) = self.objects[at].container() else {
            return Ok((0, 1));
        };
        if done[at].0 == usize::MAX {
            // Inside itself: endless written out, `[...]` printed.
            return Ok((0, usize::MAX));
        }
        if done[at].0 == 0 && level < MAX_DEPTH {
            done[at].0 = usize::MAX;
            let mut size = (1, 1usize);
            for &item in items {
                let (depth, count) = self.measure(item, level + 1, done)?;
                size = (size.0.max(depth + 1), count.saturating_add(size.1));
            }
            done[at] = size;
        }
        // Not measured, one level too deep: refused here.
        if level + done[at].0.max(1) > MAX_DEPTH {
            return Err(format!("it nests deeper than {MAX_DEPTH}"));
        }
        Ok(done[at])
    }

    /// The number of `id`'s value among the keys seen (atoms by their repr,
    /// tuples and frozensets by their items' numbers), or the refusal
    /// Python's `TypeError: unhashable type` becomes.
    fn key(&mut self, id: Id, depth: usize) -> Result<u32> {
        if let Some(&known) = self.key_of.get(&id) {
            return Ok(known);
        }
        let object = &self.objects[id as usize];
        let key = match (object, object.container()) {
            (Object::Atom(repr), _) if &**repr == "nan" => format!("nan {id}"),
            (_, Some((kind @ (Kind::Tuple | Kind::FrozenSet), items))) => {
                self.check(depth < MAX_DEPTH, "a key nests too deep")?;
                let items = items.to_vec();
                let keys = items.iter().map(|&item| self.key(item, depth + 1));
                let mut keys = keys.collect::<Result<Vec<_>>>()?;
                if kind == Kind::FrozenSet {
                    keys.sort_unstable();
                }
                format!("{kind:?}{keys:?}")
            }
            (Object::Bytes(_, true), _) | (_, Some(_)) => {
                let kind = object.container().map(|(kind, _)| kind as usize);
                let name = kind.map_or("bytearray", |kind| KINDS[kind][0]);
                return self.need(None, format!("unhashable type: '{name}'"));
            }
            (atom, _) => atom_repr(atom),
        };
        let count = self.keys.len() as u32;
        let number = *self.keys.entry(key).or_insert(count);
        self.key_of.insert(id, number);
        Ok(number)
    }
}

fn parse<T: std::str::FromStr>(text: &[u8]) -> Option<T> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// A global plain data calls: its id.
fn global(module: &[u8], name: &[u8]) -> Result<Id> {
    // Python 3 reads Python 2's module names as its own.
    let module = if module == b"__builtin__" { b"builtins" } else { module };
    let global = [module, b".", name].concat();
    let known = GLOBALS.iter().position(|known| known.as_bytes() == global);
    let global = String::from_utf8_lossy(&global[..global.len().min(60)]);
    let global = escape(&global);
    let what = "which plain data does not need";
    let refused = format!("the pickle names the global {global}, {what}");
    known.map(|at| GLOBAL_IDS.start + at as Id).ok_or(refused)
}

/// Python's `repr()` of what is not a container.
fn atom_repr(object: &Object) -> String {
    match object {
        Object::Atom(repr) => repr.to_string(),
        Object::Int(int) => int.to_string(),
        Object::Str(text) => str_repr(text),
        Object::Bytes(bytes, false) => bytes_repr(bytes),
        // CPython escapes a ' here even between double quotes.
        Object::Bytes(bytes, true) => match bytes_repr(bytes) {
            repr if repr.starts_with("b'") => format!("bytearray({repr})"),
            repr => format!("bytearray({})", repr.replace('\'', "\\'")),
        },
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

    /// Python's `repr()` of the value, or its first `max_chars` characters
    /// and `...` where it is longer (or nests past [`MAX_DEPTH`]): time and
    /// memory go with `max_chars` (and the longest str or bytes), not with
    /// the value written out in full.
    pub fn repr(&self, max_chars: usize) -> String {
        // Past 4 bytes a character, the text is longer than the budget.
        let (mut out, limit) = (String::new(), max_chars.saturating_mul(4));
        let written = self.write(self.root, &mut out, limit, &mut Vec::new());
        match out.char_indices().nth(max_chars) {
            Some((at, _)) => out.truncate(at),
            None if written.is_some() => return out,
            None => {}
        }
        out + "..."
    }

    /// Writes `id` to `out`, or None once past `limit` bytes. `path`: the
    /// containers `id` is in.
    fn write(
        &self,
        id: Id,
        out: &mut String,
        limit: usize,
        path: &mut Vec<Id>,
    ) -> Option<()> {
        let object = &self.objects[id as usize];
        let Some((kind, items)) = object.container() else {
            out.push_str(&atom_repr(object));
            return (out.len() <= limit).then_some(());
        };
        let [_, opening, closing, empty] = KINDS[kind as usize];
        if items.is_empty() {
            out.push_str(empty);
        } else if path.contains(&id) {
            *out += &format!("{opening}...{closing}"); // as Python prints it
        } else if path.len() < MAX_DEPTH && out.len() <= limit {
            out.push_str(opening);
            path.push(id);
            let gap = if kind == Kind::Dict { [", ", ": "] } else { [", "; 2] };
            for (at, &item) in items.iter().enumerate() {
                out.push_str(if at == 0 { "" } else { gap[at % 2] });
                self.write(item, out, limit, path)?;
            }
            path.pop();
            let one_tuple = kind == Kind::Tuple && items.len() == 1;
            out.push_str(if one_tuple { ",)" } else { closing });
        } else {
            return None;
        }
        Some(())
    }
}

/// UNICODE's text, in Python's raw-unicode-escape: each byte a Latin-1
/// character, but for `\uXXXX` and `\UXXXXXXXX`; a backslash before another
/// byte stands for itself, and so does that byte.
fn raw_unicode_escape(mut text: &[u8]) -> Option<String> {
    let mut decoded = String::with_capacity(text.len());
    while let [byte, rest @ ..] = text {
        text = rest;
        match (byte, rest) {
            (b'\\', [u @ (b'u' | b'U'), hex @ ..]) => {
                let hex = hex.get(..if *u == b'u' { 4 } else { 8 })?;
                let mut digits = hex.iter().map(|&b| (b as char).to_digit(16));
                let code = digits.try_fold(0, |n, digit| Some(n * 16 + digit?));
                decoded.push(char::from_u32(code?)?);
                text = &rest[1 + hex.len()..];
            }
            (b'\\', [next, ..]) => {
                decoded.extend(['\\', char::from(*next)]);
                text = &rest[1..];
            }
            _ => decoded.push(char::from(*byte)),
        }
    }
    Some(decoded)
}
