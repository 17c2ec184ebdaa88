//! Reading a pickle from a peer that may be hostile.
//!
//! serde-pickle never runs code, but it trusts the pickle in other ways: it
//! recurses as deep as the value nests, copies every repeated object in full,
//! reserves memory for every MARK, and reads integers of any length. A few
//! hundred bytes can make it overflow its stack, ask for gigabytes, or spend
//! minutes. So [`unpickle`] first reads the opcodes itself, in one pass, with
//! no recursion and with bounds a plain value never meets:
//!
//! | bound | value |
//! |---|---|
//! | nesting of containers | [`MAX_DEPTH`] levels |
//! | values in the result, each copy counted | [`MAX_VALUES`] |
//! | bytes of the result written out in full | [`MAX_SIZE`] |
//! | values pushed on pickle's stack, copies included | [`MAX_PUSHES`] |
//! | marks open at once | [`MAX_OPEN_MARKS`] |
//! | digits of an integer | [`MAX_INT_DIGITS`] (Python's own limit) |
//!
//! It accepts only the globals that plain data needs (`set`, `frozenset`,
//! `bytearray`, `bytes` and `_codecs.encode`, which Python's protocols 0 to 3
//! use for them), and no opcode that builds an object of a class. Then it
//! builds the value, each repeated object in full: serde-pickle decodes each
//! number, string and bytes, one opcode at a time, and the containers are
//! built here, the way serde-pickle builds them (a dict's keys and a set's
//! items in its sorted order), plus the one type it has no variant for:
//! `bytearray`, which serde-pickle would read as `bytes`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io;
use std::ops::Range;

use serde_pickle::{DeOptions, HashableValue, Value};

use crate::old::python::{bytes_repr, str_repr};

/// How deep containers may nest: `[[1]]` is 2 levels.
pub const MAX_DEPTH: u64 = 100;
/// How many values the result may hold, counting each copy of a repeated
/// object and each item of every container.
pub const MAX_VALUES: u64 = 100_000;
/// How many bytes the result may take, written out in full as a pickle.
pub const MAX_SIZE: u64 = 4 * 1024 * 1024;
/// How many values a pickle may push on its stack: new ones and copies.
pub const MAX_PUSHES: u64 = 2 * MAX_VALUES;
/// How many MARKs may be open at once.
pub const MAX_OPEN_MARKS: usize = 256;
/// Python refuses to print an int of more than 4300 digits.
pub const MAX_INT_DIGITS: usize = 4300;
/// The longest binary integer (LONG4) read: 1785 bytes hold less than
/// 2**14280, which has 4299 digits; 1786 bytes can hold 4302.
pub const MAX_INT_BYTES: usize = 1785;

/// What a pickle may name: the types Python's protocols 0 to 3 write as a
/// call of a global.
const ALLOWED_GLOBALS: &str = "None, bool, int, float, str, bytes, \
    bytearray, list, tuple, dict, set, frozenset";

/// A value read from a pickle.
///
/// serde-pickle's [`Value`] has every plain type but `bytearray`, which it
/// reads as `bytes`; a bytearray can sit in a list, a tuple or a dict's
/// value, so those three are here too. (Never in a set or a dict's key: a
/// bytearray cannot be hashed.)
#[derive(Debug, Clone, PartialEq)]
pub enum Unpickled {
    /// None, a bool, an int, a float, a str, bytes, a set or a frozenset.
    Value(Value),
    ByteArray(Vec<u8>),
    List(Vec<Unpickled>),
    Tuple(Vec<Unpickled>),
    Dict(BTreeMap<HashableValue, Unpickled>),
}

impl From<Unpickled> for Value {
    /// The value as serde-pickle reads it, a bytearray as bytes: what
    /// `serde_pickle::from_value` takes to make a struct of it.
    fn from(value: Unpickled) -> Value {
        let values = |items: Vec<Unpickled>| items.into_iter().map(Value::from);
        match value {
            Unpickled::Value(value) => value,
            Unpickled::ByteArray(bytes) => Value::Bytes(bytes),
            Unpickled::List(items) => Value::List(values(items).collect()),
            Unpickled::Tuple(items) => Value::Tuple(values(items).collect()),
            Unpickled::Dict(entries) => Value::Dict(
                entries
                    .into_iter()
                    .map(|(key, item)| (key, item.into()))
                    .collect(),
            ),
        }
    }
}

/// `pickle.loads(pickled)`, for plain data only, within the bounds above.
///
/// ```
/// use socket_lessons::old::{python::repr, unpickle::unpickle};
/// let value = unpickle(b"\x80\x04]\x94(K\x01h\x00e.").unwrap_err();
/// assert!(value.to_string().contains("contains itself"));
/// let value = unpickle(b"(K\x01K\x02l.").unwrap();
/// assert_eq!(repr(&value), "[1, 2]");
/// let value = unpickle(b"\x80\x05\x96\x02\0\0\0\0\0\0\0ab.").unwrap();
/// assert_eq!(repr(&value), "bytearray(b'ab')");
/// ```
pub fn unpickle(pickled: &[u8]) -> io::Result<Unpickled> {
    Scan::new(pickled).run()
}

/// A listing of a pickle's opcodes, one a line, as Python's `pickletools.dis`
/// prints them: offset, opcode, argument. Stops at STOP or at the first
/// opcode it cannot read.
pub fn disassemble(pickled: &[u8]) -> io::Result<String> {
    let mut listing = String::new();
    let mut offset = 0;
    while offset < pickled.len() {
        let op = read_op(pickled, offset)?;
        let line = format!("{offset:5}: {:<17}{}", op.name, describe(&op));
        let _ = writeln!(listing, "{}", line.trim_end());
        if op.code == b'.' {
            break;
        }
        offset = op.end;
    }
    Ok(listing)
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

fn refused(reason: impl std::fmt::Display) -> io::Error {
    invalid(format!("refused to unpickle: the message {reason}"))
}

fn malformed(reason: impl std::fmt::Display) -> io::Error {
    invalid(format!(
        "the message is not a pickle this program can read: {reason}"
    ))
}

/// How an opcode's argument is written after it.
#[derive(Clone, Copy)]
enum ArgKind {
    None,
    /// A fixed number of bytes: a little-endian integer, or FRAME's length.
    Fixed(usize),
    /// A big-endian float of 8 bytes.
    Float,
    /// Text up to a newline.
    Line,
    /// Two lines: a module and a name.
    TwoLines,
    /// A length of this many bytes, little-endian, then that many bytes.
    Counted(usize),
}

/// Each opcode's name, as Python's pickletools calls it, and its argument.
fn opcode(code: u8) -> Option<(&'static str, ArgKind)> {
    use ArgKind::*;
    Some(match code {
        b'(' => ("MARK", None),
        b'.' => ("STOP", None),
        b'0' => ("POP", None),
        b'1' => ("POP_MARK", None),
        b'2' => ("DUP", None),
        b'F' => ("FLOAT", Line),
        b'I' => ("INT", Line),
        b'J' => ("BININT", Fixed(4)),
        b'K' => ("BININT1", Fixed(1)),
        b'L' => ("LONG", Line),
        b'M' => ("BININT2", Fixed(2)),
        b'N' => ("NONE", None),
        b'P' => ("PERSID", Line),
        b'Q' => ("BINPERSID", None),
        b'R' => ("REDUCE", None),
        b'S' => ("STRING", Line),
        b'T' => ("BINSTRING", Counted(4)),
        b'U' => ("SHORT_BINSTRING", Counted(1)),
        b'V' => ("UNICODE", Line),
        b'X' => ("BINUNICODE", Counted(4)),
        b'a' => ("APPEND", None),
        b'b' => ("BUILD", None),
        b'c' => ("GLOBAL", TwoLines),
        b'd' => ("DICT", None),
        b'}' => ("EMPTY_DICT", None),
        b'e' => ("APPENDS", None),
        b'g' => ("GET", Line),
        b'h' => ("BINGET", Fixed(1)),
        b'i' => ("INST", TwoLines),
        b'j' => ("LONG_BINGET", Fixed(4)),
        b'l' => ("LIST", None),
        b']' => ("EMPTY_LIST", None),
        b'o' => ("OBJ", None),
        b'p' => ("PUT", Line),
        b'q' => ("BINPUT", Fixed(1)),
        b'r' => ("LONG_BINPUT", Fixed(4)),
        b's' => ("SETITEM", None),
        b't' => ("TUPLE", None),
        b')' => ("EMPTY_TUPLE", None),
        b'u' => ("SETITEMS", None),
        b'G' => ("BINFLOAT", Float),
        0x80 => ("PROTO", Fixed(1)),
        0x81 => ("NEWOBJ", None),
        0x82 => ("EXT1", Fixed(1)),
        0x83 => ("EXT2", Fixed(2)),
        0x84 => ("EXT4", Fixed(4)),
        0x85 => ("TUPLE1", None),
        0x86 => ("TUPLE2", None),
        0x87 => ("TUPLE3", None),
        0x88 => ("NEWTRUE", None),
        0x89 => ("NEWFALSE", None),
        0x8a => ("LONG1", Counted(1)),
        0x8b => ("LONG4", Counted(4)),
        b'B' => ("BINBYTES", Counted(4)),
        b'C' => ("SHORT_BINBYTES", Counted(1)),
        0x8c => ("SHORT_BINUNICODE", Counted(1)),
        0x8d => ("BINUNICODE8", Counted(8)),
        0x8e => ("BINBYTES8", Counted(8)),
        0x8f => ("EMPTY_SET", None),
        0x90 => ("ADDITEMS", None),
        0x91 => ("FROZENSET", None),
        0x92 => ("NEWOBJ_EX", None),
        0x93 => ("STACK_GLOBAL", None),
        0x94 => ("MEMOIZE", None),
        0x95 => ("FRAME", Fixed(8)),
        0x96 => ("BYTEARRAY8", Counted(8)),
        0x97 => ("NEXT_BUFFER", None),
        0x98 => ("READONLY_BUFFER", None),
        _ => return Option::None,
    })
}

/// One opcode as read: where it is, and its argument's bytes.
struct Op<'a> {
    offset: usize,
    code: u8,
    name: &'static str,
    kind: ArgKind,
    /// The argument: the bytes after a length or the text before a newline
    /// (for GLOBAL and INST, both lines with the newline between).
    arg: &'a [u8],
    /// Where the next opcode starts.
    end: usize,
}

impl Op<'_> {
    /// The argument as an unsigned number (lengths, memo indexes, ints).
    fn number(&self) -> u64 {
        let mut bytes = [0; 8];
        bytes[..self.arg.len().min(8)]
            .copy_from_slice(&self.arg[..self.arg.len().min(8)]);
        u64::from_le_bytes(bytes)
    }

    /// A text argument, for opcodes that take a decimal number.
    fn decimal(&self) -> io::Result<u64> {
        std::str::from_utf8(self.arg)
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .ok_or_else(|| {
                malformed(format_args!(
                    "{} at offset {} has no number",
                    self.name, self.offset
                ))
            })
    }
}

fn read_op(pickled: &[u8], offset: usize) -> io::Result<Op<'_>> {
    let code = pickled[offset];
    let Some((name, kind)) = opcode(code) else {
        return Err(malformed(format_args!(
            "byte 0x{code:02x} at offset {offset} is no pickle opcode"
        )));
    };
    let cut_short =
        || malformed(format_args!("it ends inside {name} at offset {offset}"));
    let start = offset + 1;
    let rest = &pickled[start..];
    let (arg_start, arg_len, end) = match kind {
        ArgKind::None => (start, 0, start),
        ArgKind::Fixed(width) => (start, width, start + width),
        ArgKind::Float => (start, 8, start + 8),
        ArgKind::Line | ArgKind::TwoLines => {
            let lines = if matches!(kind, ArgKind::Line) { 1 } else { 2 };
            let newline = rest
                .iter()
                .enumerate()
                .filter(|(_, byte)| **byte == b'\n')
                .nth(lines - 1)
                .map(|(at, _)| at)
                .ok_or_else(cut_short)?;
            (start, newline, start + newline + 1)
        }
        ArgKind::Counted(width) => {
            let length = rest.get(..width).ok_or_else(cut_short)?;
            let mut bytes = [0; 8];
            bytes[..width].copy_from_slice(length);
            // BINSTRING and LONG4 write a signed length; a negative one, read
            // as unsigned, is too long for any message and is caught below.
            let length = u64::from_le_bytes(bytes);
            let length =
                if width == 4 && length >= 1 << 31 { u64::MAX } else { length };
            let length = usize::try_from(length).unwrap_or(usize::MAX);
            let end = (start + width).checked_add(length);
            (start + width, length, end.unwrap_or(usize::MAX))
        }
    };
    if end > pickled.len() {
        return Err(cut_short());
    }
    let arg = &pickled[arg_start..arg_start + arg_len];
    Ok(Op { offset, code, name, kind, arg, end })
}

/// An argument as `pickletools.dis` shows it.
fn describe(op: &Op) -> String {
    match op.code {
        b'J' => (op.number() as u32 as i32).to_string(),
        0x8a | 0x8b => format!("{}-byte integer", op.arg.len()),
        b'G' => {
            let bytes = op.arg.try_into().unwrap_or([0; 8]);
            crate::old::python::float_repr(f64::from_be_bytes(bytes))
        }
        b'X' | 0x8c | 0x8d | b'V' => match std::str::from_utf8(op.arg) {
            Ok(text) => str_repr(text),
            Err(_) => bytes_repr(op.arg),
        },
        _ => match op.kind {
            ArgKind::None => String::new(),
            ArgKind::Fixed(_) => op.number().to_string(),
            ArgKind::Line | ArgKind::TwoLines => {
                String::from_utf8_lossy(op.arg)
                    .replace('\n', " ")
                    .escape_debug()
                    .to_string()
            }
            _ => bytes_repr(op.arg),
        },
    }
}

/// The globals a plain value needs.
#[derive(Clone, Copy, PartialEq)]
enum Global {
    Set,
    FrozenSet,
    ByteArray,
    Bytes,
    Encode,
}

impl Global {
    fn find(module: &[u8], name: &[u8]) -> Option<Global> {
        let builtin = module == b"builtins" || module == b"__builtin__";
        Some(match name {
            b"set" if builtin => Global::Set,
            b"frozenset" if builtin => Global::FrozenSet,
            b"bytearray" if builtin => Global::ByteArray,
            b"bytes" if builtin => Global::Bytes,
            b"encode" if module == b"_codecs" => Global::Encode,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Global::Set => "builtins.set",
            Global::FrozenSet => "builtins.frozenset",
            Global::ByteArray => "builtins.bytearray",
            Global::Bytes => "builtins.bytes",
            Global::Encode => "_codecs.encode",
        }
    }
}

/// The containers.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    List,
    Tuple,
    Dict,
    Set,
    FrozenSet,
}

impl Form {
    /// The bytes of a container's own opcodes, written out in full: a
    /// list is EMPTY_LIST, MARK, the items, APPENDS; a tuple MARK, the
    /// items, TUPLE; and so on.
    fn ends(self) -> u64 {
        match self {
            Form::List | Form::Dict | Form::Set => 3,
            Form::Tuple | Form::FrozenSet => 2,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Form::List => "list",
            Form::Tuple => "tuple",
            Form::Dict => "dict",
            Form::Set => "set",
            Form::FrozenSet => "frozenset",
        }
    }
}

type Id = usize;

/// What is on pickle's stack or in its memo: a value, or a global to call.
#[derive(Clone, Copy)]
enum Entry {
    Value(Id),
    Global(Global),
}

enum Kind {
    /// One opcode that pushes a number, a string, bytes, None, a bool, or
    /// (BYTEARRAY8) a bytearray: decoded on its own when the value is built.
    Scalar {
        start: usize,
        end: usize,
        code: u8,
    },
    /// `bytes()`.
    EmptyBytes,
    /// `_codecs.encode(text, "latin1")`: bytes, as protocols 0 to 2 write
    /// them. serde-pickle decodes this call itself, given the opcodes of the
    /// two strings, which lie in the pickle here.
    Encode {
        text: Range<usize>,
        encoding: Range<usize>,
    },
    /// `bytearray()`, or `bytearray(bytes)`: protocols 0 to 4 write one as
    /// a call, 5 with its own opcode (a scalar, BYTEARRAY8).
    ByteArray {
        bytes: Option<Id>,
    },
    Container {
        form: Form,
        items: Vec<Id>,
    },
    /// `set(list)` or `frozenset(list)`: the list's items, not copied.
    ItemsOf {
        form: Form,
        list: Id,
    },
}

struct Object {
    kind: Kind,
    /// Values in it, itself included, every copy counted.
    values: u64,
    /// Bytes it takes written out in full.
    size: u64,
    /// Levels of containers: 0 for a scalar, 1 for `[]` and `[1]`.
    depth: u64,
    /// Set once the object is placed in a container or copied from the memo.
    /// Python's pickler fills a container before it uses it anywhere; only a
    /// value that contains itself is changed later. Refusing that keeps
    /// every count above final once an object is used.
    shared: bool,
}

struct Scan<'a> {
    pickled: &'a [u8],
    objects: Vec<Object>,
    stack: Vec<Entry>,
    /// The stack's length at each open MARK.
    marks: Vec<usize>,
    memo: HashMap<u64, Entry>,
    pushes: u64,
}

impl<'a> Scan<'a> {
    fn new(pickled: &'a [u8]) -> Self {
        Scan {
            pickled,
            objects: Vec::new(),
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            pushes: 0,
        }
    }

    /// Checks the pickle, and builds its value.
    fn run(mut self) -> io::Result<Unpickled> {
        let mut offset = 0;
        loop {
            if offset >= self.pickled.len() {
                return Err(malformed("it ends before its STOP opcode"));
            }
            let op = read_op(self.pickled, offset)?;
            if op.code == b'.' {
                if op.end != self.pickled.len() {
                    return Err(malformed(format_args!(
                        "bytes follow its STOP opcode at offset {offset}"
                    )));
                }
                let root = self.pop_value("STOP")?;
                self.check_bounds(root)?;
                return self.build(root);
            }
            self.step(&op)?;
            offset = op.end;
        }
    }

    fn step(&mut self, op: &Op) -> io::Result<()> {
        match op.code {
            0x80 | 0x95 => {} // PROTO and FRAME change nothing here.
            b'(' => {
                if self.marks.len() >= MAX_OPEN_MARKS {
                    return Err(refused(format_args!(
                        "opens more than {MAX_OPEN_MARKS} marks (MARK) at once"
                    )));
                }
                self.marks.push(self.stack.len());
            }
            b'0' => {
                if self.stack.len() > self.marks.last().copied().unwrap_or(0) {
                    self.stack.pop();
                } else {
                    self.pop_mark(op)?;
                }
            }
            b'1' => {
                self.pop_mark(op)?;
            }
            b'2' => {
                let top = *self.stack.last().ok_or_else(|| underflow(op))?;
                self.copy(top)?;
            }
            b'p' | b'q' | b'r' | 0x94 => {
                let index = match op.code {
                    b'p' => op.decimal()?,
                    0x94 => self.memo.len() as u64,
                    _ => op.number(),
                };
                let full = self.memo.len() as u64 >= MAX_VALUES;
                if full && !self.memo.contains_key(&index) {
                    return Err(refused(format_args!(
                        "stores more than {MAX_VALUES} values in its memo"
                    )));
                }
                let top = *self.stack.last().ok_or_else(|| underflow(op))?;
                self.memo.insert(index, top);
            }
            b'g' | b'h' | b'j' => {
                let index =
                    if op.code == b'g' { op.decimal()? } else { op.number() };
                let entry = *self.memo.get(&index).ok_or_else(|| {
                    malformed(format_args!(
                        "{} at offset {} fetches memo {index}, never stored",
                        op.name, op.offset
                    ))
                })?;
                self.copy(entry)?;
            }
            b'N' | 0x88 | 0x89 | b'J' | b'K' | b'M' | b'F' | b'G' | b'S'
            | b'T' | b'U' | b'V' | b'X' | 0x8c | 0x8d | b'B' | b'C' | 0x8e
            | 0x96 => self.scalar(op)?,
            b'I' | b'L' | 0x8a | 0x8b => {
                check_integer(op)?;
                self.scalar(op)?;
            }
            b')' => self.container(Form::Tuple, Vec::new())?,
            b']' => self.container(Form::List, Vec::new())?,
            b'}' => self.container(Form::Dict, Vec::new())?,
            0x8f => self.container(Form::Set, Vec::new())?,
            0x85..=0x87 => {
                let count = usize::from(op.code - 0x84);
                let at = self.stack.len().checked_sub(count);
                let floor = self.marks.last().copied().unwrap_or(0);
                let at = at
                    .filter(|at| *at >= floor)
                    .ok_or_else(|| underflow(op))?;
                let items = self.stack.split_off(at);
                self.container(Form::Tuple, items)?;
            }
            b't' | b'l' | 0x91 | b'd' => {
                let items = self.pop_mark(op)?;
                let form = match op.code {
                    b't' => Form::Tuple,
                    b'l' => Form::List,
                    0x91 => Form::FrozenSet,
                    _ => Form::Dict,
                };
                self.container(form, items)?;
            }
            b'a' | b's' => {
                let count = if op.code == b'a' { 1 } else { 2 };
                let floor = self.marks.last().copied().unwrap_or(0);
                let at = self.stack.len().checked_sub(count);
                let at =
                    at.filter(|at| *at > floor).ok_or_else(|| underflow(op))?;
                let items = self.stack.split_off(at);
                self.add(op, items)?;
            }
            b'e' | b'u' | 0x90 => {
                let items = self.pop_mark(op)?;
                self.add(op, items)?;
            }
            b'c' => {
                let (module, name) = two_lines(op.arg);
                self.global(module, name)?;
            }
            0x93 => {
                let name = self.pop_text(op)?;
                let module = self.pop_text(op)?;
                self.global(&module, &name)?;
            }
            b'R' => self.reduce(op)?,
            b'i' => {
                let (module, name) = two_lines(op.arg);
                return Err(refused_global(module, name));
            }
            _ => {
                // OBJ, NEWOBJ, NEWOBJ_EX and BUILD make objects of classes;
                // the rest (PERSID, EXT1, NEXT_BUFFER...) fetch objects from
                // outside the pickle. Plain data needs none of them.
                return Err(refused(format_args!(
                    "uses the opcode {} (offset {}); this program reads only \
                     plain data: {ALLOWED_GLOBALS}",
                    op.name, op.offset
                )));
            }
        }
        Ok(())
    }

    fn push(&mut self, entry: Entry) -> io::Result<()> {
        self.pushes += 1;
        if self.pushes > MAX_PUSHES {
            return Err(refused(format_args!(
                "pushes more than {MAX_PUSHES} values on pickle's stack"
            )));
        }
        self.stack.push(entry);
        Ok(())
    }

    fn new_object(&mut self, kind: Kind, size: u64) -> io::Result<Id> {
        let id = self.objects.len();
        let depth = u64::from(matches!(kind, Kind::Container { .. }));
        let object = Object { kind, values: 1, size, depth, shared: false };
        self.objects.push(object);
        self.push(Entry::Value(id))?;
        Ok(id)
    }

    /// DUP and memo fetches: the same object again.
    fn copy(&mut self, entry: Entry) -> io::Result<()> {
        if let Entry::Value(id) = entry {
            self.objects[id].shared = true;
        }
        self.push(entry)
    }

    fn scalar(&mut self, op: &Op) -> io::Result<()> {
        let kind =
            Kind::Scalar { start: op.offset, end: op.end, code: op.code };
        self.new_object(kind, (op.end - op.offset) as u64).map(drop)
    }

    fn pop_mark(&mut self, op: &Op) -> io::Result<Vec<Entry>> {
        let mark = self.marks.pop().ok_or_else(|| {
            malformed(format_args!(
                "{} at offset {} has no MARK before it",
                op.name, op.offset
            ))
        })?;
        Ok(self.stack.split_off(mark))
    }

    fn pop_value(&mut self, what: &str) -> io::Result<Id> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(malformed(format_args!("{what} finds no value")));
        }
        match self.stack.pop() {
            Some(Entry::Value(id)) => Ok(id),
            Some(Entry::Global(global)) => Err(global_as_value(global)),
            None => Err(malformed(format_args!("{what} finds no value"))),
        }
    }

    /// STACK_GLOBAL's module and name: strings, as protocol 4 writes them.
    fn pop_text(&mut self, op: &Op) -> io::Result<Vec<u8>> {
        let id = self.pop_value(op.name)?;
        self.text(id).map(|(text, _)| text.to_vec()).ok_or_else(|| {
            malformed(format_args!(
                "{} at offset {} finds no string",
                op.name, op.offset
            ))
        })
    }

    /// The UTF-8 of a string written in one binary opcode, or of one written
    /// as protocol 0's UNICODE line, and where that opcode lies.
    fn text(&self, id: Id) -> Option<(&[u8], Range<usize>)> {
        let Kind::Scalar { start, end, code } = self.objects[id].kind else {
            return None;
        };
        let opcode = &self.pickled[start..end];
        let text = match code {
            0x8c => opcode.get(2..),
            b'X' => opcode.get(5..),
            0x8d => opcode.get(9..),
            b'V' => opcode.get(1..opcode.len() - 1),
            _ => None,
        };
        text.map(|text| (text, start..end))
    }

    /// Places `items` in a new container, or in the one under them.
    fn container(&mut self, form: Form, items: Vec<Entry>) -> io::Result<()> {
        if form == Form::Dict && items.len() % 2 == 1 {
            return Err(malformed("a dict has a key without a value"));
        }
        let size = form.ends();
        let kind = Kind::Container { form, items: Vec::new() };
        let id = self.new_object(kind, size)?;
        self.place(id, items)
    }

    /// APPEND(S), SETITEM(S), ADDITEMS: items into the container below them.
    fn add(&mut self, op: &Op, items: Vec<Entry>) -> io::Result<()> {
        let expected = match op.code {
            b'a' | b'e' => Form::List,
            b's' | b'u' => Form::Dict,
            _ => Form::Set,
        };
        let floor = self.marks.last().copied().unwrap_or(0);
        let target = match self.stack.last() {
            Some(Entry::Value(id)) if self.stack.len() > floor => *id,
            _ => return Err(underflow(op)),
        };
        let object = &self.objects[target];
        let form = match object.kind {
            Kind::Container { form, .. } => Some(form),
            _ => None,
        };
        if form != Some(expected) {
            return Err(malformed(format_args!(
                "{} at offset {} finds no {} to add to",
                op.name,
                op.offset,
                expected.name()
            )));
        }
        if object.shared {
            return Err(refused(format_args!(
                "adds to a {} it has already used: that is how a pickle \
                 writes a value that contains itself, which this program \
                 cannot read",
                expected.name()
            )));
        }
        if expected == Form::Dict && items.len() % 2 == 1 {
            return Err(malformed("a dict has a key without a value"));
        }
        self.place(target, items)
    }

    fn place(&mut self, target: Id, items: Vec<Entry>) -> io::Result<()> {
        for item in items {
            let item = match item {
                Entry::Value(item) => item,
                Entry::Global(global) => return Err(global_as_value(global)),
            };
            let child = &mut self.objects[item];
            child.shared = true;
            let (values, size, depth) = (child.values, child.size, child.depth);
            let parent = &mut self.objects[target];
            // Copies multiply: saturate instead of overflowing.
            parent.values = parent.values.saturating_add(values);
            parent.size = parent.size.saturating_add(size);
            parent.depth = parent.depth.max(depth + 1);
            if let Kind::Container { items, .. } = &mut parent.kind {
                items.push(item);
            }
        }
        Ok(())
    }

    fn global(&mut self, module: &[u8], name: &[u8]) -> io::Result<()> {
        let global = Global::find(module, name)
            .ok_or_else(|| refused_global(module, name))?;
        self.push(Entry::Global(global))
    }

    /// REDUCE: a call of one of the allowed globals, with the arguments plain
    /// data has. Any other call is refused.
    fn reduce(&mut self, op: &Op) -> io::Result<()> {
        let arguments = self.pop_value(op.name)?;
        let callable = self.stack.pop().ok_or_else(|| underflow(op))?;
        let Entry::Global(global) = callable else {
            return Err(malformed(format_args!(
                "REDUCE at offset {} calls something that is not a global",
                op.offset
            )));
        };
        // Arguments come as a tuple; anything else is no call plain data
        // makes (set(None) is an error in Python too).
        let arguments: Vec<Id> = match &self.objects[arguments].kind {
            Kind::Container { form: Form::Tuple, items } => items.clone(),
            _ => return Err(odd_call(global, op)),
        };
        let kind = |id: Id| &self.objects[id].kind;
        let bytes = |id: Id| match kind(id) {
            Kind::Scalar { code, .. } => matches!(code, b'B' | b'C' | 0x8e),
            Kind::EmptyBytes | Kind::Encode { .. } => true,
            _ => false,
        };
        let list = |id: Id| {
            matches!(kind(id), Kind::Container { form: Form::List, .. })
        };
        match (global, arguments.as_slice()) {
            (Global::Set | Global::FrozenSet, []) => {
                let form = if global == Global::Set {
                    Form::Set
                } else {
                    Form::FrozenSet
                };
                self.container(form, Vec::new())
            }
            (Global::Set | Global::FrozenSet, [items]) if list(*items) => {
                let form = if global == Global::Set {
                    Form::Set
                } else {
                    Form::FrozenSet
                };
                let source = &self.objects[*items];
                let object = Object {
                    kind: Kind::ItemsOf { form, list: *items },
                    values: source.values,
                    size: source.size - Form::List.ends() + form.ends(),
                    depth: source.depth,
                    shared: false,
                };
                self.objects.push(object);
                self.push(Entry::Value(self.objects.len() - 1))
            }
            (Global::Bytes, []) => {
                self.new_object(Kind::EmptyBytes, 2).map(drop)
            }
            (Global::ByteArray, []) => {
                let kind = Kind::ByteArray { bytes: None };
                self.new_object(kind, 2).map(drop)
            }
            (Global::ByteArray, [data]) if bytes(*data) => {
                let size = self.objects[*data].size;
                let kind = Kind::ByteArray { bytes: Some(*data) };
                self.new_object(kind, size).map(drop)
            }
            (Global::Encode, [text, encoding]) => {
                let (text, encoding) =
                    match (self.text(*text), self.text(*encoding)) {
                        (Some((_, text)), Some((b"latin1", encoding))) => {
                            (text, encoding)
                        }
                        _ => return Err(odd_call(global, op)),
                    };
                // Written out in full: the global, the two strings, TUPLE2
                // and REDUCE.
                let size = ENCODE_CALL.len() + text.len() + encoding.len() + 2;
                let kind = Kind::Encode { text, encoding };
                self.new_object(kind, size as u64).map(drop)
            }
            _ => Err(odd_call(global, op)),
        }
    }

    /// Refuses a value beyond the bounds before anything of it is built.
    fn check_bounds(&self, root: Id) -> io::Result<()> {
        let object = &self.objects[root];
        if object.depth > MAX_DEPTH {
            return Err(refused(format_args!(
                "holds a value that nests deeper than {MAX_DEPTH} levels"
            )));
        }
        if object.values > MAX_VALUES {
            return Err(refused(format_args!(
                "holds more than {MAX_VALUES} values, counting each copy of \
                 a repeated one"
            )));
        }
        if object.size > MAX_SIZE {
            return Err(refused(format_args!(
                "holds a value of more than {MAX_SIZE} bytes written out in \
                 full, counting each copy of a repeated one"
            )));
        }
        Ok(())
    }

    /// The value of an object, each repeated object built again in full.
    /// The recursion goes as deep as the value nests: at most [`MAX_DEPTH`]
    /// levels, checked before.
    fn build(&self, id: Id) -> io::Result<Unpickled> {
        let (form, items) = match &self.objects[id].kind {
            // BYTEARRAY8: the opcode, an 8-byte length, the bytes.
            Kind::Scalar { start, end, code: 0x96 } => {
                let bytes = &self.pickled[start + 9..*end];
                return Ok(Unpickled::ByteArray(bytes.to_vec()));
            }
            Kind::Scalar { start, end, .. } => {
                let opcode = &self.pickled[*start..*end];
                return self.decode(&[opcode], *start).map(Unpickled::Value);
            }
            Kind::EmptyBytes => {
                return Ok(Unpickled::Value(Value::Bytes(Vec::new())));
            }
            Kind::Encode { text, encoding } => {
                let strings = [
                    &self.pickled[text.clone()],
                    &self.pickled[encoding.clone()],
                ];
                // TUPLE2, REDUCE: encode(text, encoding).
                let call = [ENCODE_CALL, strings[0], strings[1], b"\x86R"];
                return self.decode(&call, text.start).map(Unpickled::Value);
            }
            Kind::ByteArray { bytes: None } => {
                return Ok(Unpickled::ByteArray(Vec::new()));
            }
            Kind::ByteArray { bytes: Some(bytes) } => {
                // `reduce` lets only bytes through, which build as bytes.
                return self.build(*bytes).map(|built| match built {
                    Unpickled::Value(Value::Bytes(bytes)) => {
                        Unpickled::ByteArray(bytes)
                    }
                    other => other,
                });
            }
            Kind::Container { form, items } => (*form, items.as_slice()),
            Kind::ItemsOf { form, list } => (*form, self.items(*list)),
        };
        let built = items.iter().map(|item| self.build(*item));
        Ok(match form {
            Form::List => Unpickled::List(built.collect::<io::Result<_>>()?),
            Form::Tuple => Unpickled::Tuple(built.collect::<io::Result<_>>()?),
            Form::Set | Form::FrozenSet => {
                let hashed = built.map(|item| hashable(item?));
                let items = hashed.collect::<io::Result<_>>()?;
                Unpickled::Value(match form {
                    Form::Set => Value::Set(items),
                    _ => Value::FrozenSet(items),
                })
            }
            Form::Dict => {
                // As serde-pickle does: a key equal to one before keeps the
                // first key, with the last value.
                let mut dict = BTreeMap::new();
                for pair in items.chunks_exact(2) {
                    let key = hashable(self.build(pair[0])?)?;
                    dict.insert(key, self.build(pair[1])?);
                }
                Unpickled::Dict(dict)
            }
        })
    }

    /// serde-pickle's reading of `opcodes`, and STOP: one number, string or
    /// bytes, or one `_codecs.encode` call. Its errors name the opcode at
    /// `offset` in the message.
    fn decode(&self, opcodes: &[&[u8]], offset: usize) -> io::Result<Value> {
        let pickle = [opcodes, &[b"."]].concat().concat();
        serde_pickle::value_from_slice(&pickle, DeOptions::new()).map_err(
            |error| {
                use serde_pickle::{Error::Eval, ErrorCode::InvalidLiteral};
                let error = match error {
                    // The literal is the peer's text: show a little of it.
                    Eval(InvalidLiteral(text), _) => {
                        format!("literal is invalid: {}", shown(&text))
                    }
                    Eval(code, _) => code.to_string(),
                    other => other.to_string(),
                };
                let name = opcode(self.pickled[offset]).map_or("?", |op| op.0);
                malformed(format_args!("{name} at offset {offset}: {error}"))
            },
        )
    }
}

/// A dict's key or a set's item, as serde-pickle keeps it.
fn hashable(value: Unpickled) -> io::Result<HashableValue> {
    let unhashable = || {
        malformed(
            "a dict key or set item is a list, dict, set or bytearray, which \
             Python cannot hash",
        )
    };
    match value {
        Unpickled::Value(value) => {
            value.into_hashable().map_err(|_| unhashable())
        }
        Unpickled::Tuple(items) => items
            .into_iter()
            .map(hashable)
            .collect::<io::Result<_>>()
            .map(HashableValue::Tuple),
        _ => Err(unhashable()),
    }
}

impl Scan<'_> {
    fn items(&self, id: Id) -> &[Id] {
        match &self.objects[id].kind {
            Kind::Container { items, .. } => items,
            _ => &[],
        }
    }
}

const ENCODE_CALL: &[u8] = b"c_codecs\nencode\n";

/// GLOBAL's and INST's argument: a module and a name, a line each.
fn two_lines(arg: &[u8]) -> (&[u8], &[u8]) {
    let newline = arg.iter().position(|byte| *byte == b'\n');
    let newline = newline.unwrap_or(arg.len());
    (&arg[..newline], arg.get(newline + 1..).unwrap_or_default())
}

fn underflow(op: &Op) -> io::Error {
    malformed(format_args!(
        "{} at offset {} finds too few values on the stack",
        op.name, op.offset
    ))
}

fn global_as_value(global: Global) -> io::Error {
    refused(format_args!(
        "uses the global {} itself as a value; this program reads only plain \
         data: {ALLOWED_GLOBALS}",
        global.name()
    ))
}

/// A REDUCE of an allowed global with arguments plain data never gives it.
fn odd_call(global: Global, op: &Op) -> io::Error {
    refused(format_args!(
        "calls {} with arguments plain data never has (REDUCE at offset {})",
        global.name(),
        op.offset
    ))
}

fn refused_global(module: &[u8], name: &[u8]) -> io::Error {
    refused(format_args!(
        "names the global {}.{}; this program reads only plain data: \
         {ALLOWED_GLOBALS}",
        shown(module),
        shown(name)
    ))
}

/// Text from the pickle, for a message: it may be long or hold control
/// characters, so at most 60 characters, escaped.
fn shown(text: &[u8]) -> String {
    String::from_utf8_lossy(text)
        .chars()
        .take(60)
        .flat_map(char::escape_debug)
        .collect()
}

/// Integers Python would refuse to print.
fn check_integer(op: &Op) -> io::Result<()> {
    let digits = op.arg.iter().filter(|byte| byte.is_ascii_digit()).count();
    let text = matches!(op.code, b'I' | b'L');
    if text && digits > MAX_INT_DIGITS {
        return Err(refused(format_args!(
            "holds an integer of {digits} digits ({} at offset {}), more \
             than the {MAX_INT_DIGITS} Python prints",
            op.name, op.offset
        )));
    }
    if !text && op.arg.len() > MAX_INT_BYTES {
        return Err(refused(format_args!(
            "holds an integer of {} bytes ({} at offset {}); this program \
             reads up to {MAX_INT_BYTES}, the most that always fit in the \
             {MAX_INT_DIGITS} digits Python prints",
            op.arg.len(),
            op.name,
            op.offset
        )));
    }
    Ok(())
}
