//! A checkpoint is data, never code. candle's pickle reader runs nothing, but it accepts any
//! name a pickle refers to (a `__reduce__` calling `os.system` reads as a harmless object), it
//! clones memoised objects without bound (a few kilobytes can ask for gigabytes), it drops
//! nested objects recursively (deep nesting overflows the stack) and it allocates a string's
//! length before reading it. So before candle sees a pickle, [`check`] walks its opcodes with
//! the same stack discipline, counting sizes instead of building objects, and refuses:
//! references to anything but tensor-rebuilding functions and plain containers, opcodes a
//! `torch.save` checkpoint does not use, lengths past the end, and objects too big or deep.

use std::collections::HashMap;

use candle_core::pickle::{Object, Stack};

/// Names a `torch.save` of a state dict (and its usual companions: epoch, best score, optimizer
/// state) refers to. They are rebuilt as data by candle, never called.
const ALLOWED_GLOBALS: &[(&str, &str)] = &[
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._tensor", "_rebuild_from_type_v2"),
    ("torch.nn.parameter", "Parameter"),
    ("torch", "FloatStorage"),
    ("torch", "DoubleStorage"),
    ("torch", "HalfStorage"),
    ("torch", "BFloat16Storage"),
    ("torch", "ByteStorage"),
    ("torch", "CharStorage"),
    ("torch", "ShortStorage"),
    ("torch", "IntStorage"),
    ("torch", "LongStorage"),
    ("torch", "BoolStorage"),
    // a NumPy scalar (e.g. the reference's `best_pred`) pickles as these three
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
];

/// Most objects (nodes) the parsed pickle may hold, clones from the memo included; a
/// state dict of this family holds tens of thousands.
const MAX_NODES: u64 = 4_000_000;
/// Most string bytes, clones included.
const MAX_STRING_BYTES: u64 = 256 << 20;
/// Deepest nesting; a state dict nests fewer than 10 levels.
const MAX_DEPTH: u32 = 100;

/// What the shadow stack knows of an object: how many nodes and string bytes it holds, and
/// how deep it nests.
#[derive(Clone, Copy, Default)]
struct Shadow {
    nodes: u64,
    bytes: u64,
    depth: u32,
    mark: bool,
}

impl Shadow {
    fn leaf(bytes: u64) -> Shadow {
        Shadow { nodes: 1, bytes, depth: 1, mark: false }
    }

    fn absorb(&mut self, child: Shadow) {
        self.nodes += child.nodes;
        self.bytes += child.bytes;
        self.depth = self.depth.max(child.depth + 1);
    }
}

struct Walker<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Shadow>,
    marks: Vec<usize>,
    memo: HashMap<u32, Shadow>,
    nodes: u64,
    bytes: u64,
}

/// Checks that `pickle` (a checkpoint's `data.pkl`) refers only to allowed names and stays
/// within bounds when candle builds it. The error says what was found and where.
pub fn check(pickle: &[u8]) -> Result<(), String> {
    let mut w =
        Walker { data: pickle, pos: 0, stack: Vec::new(), marks: Vec::new(), memo: HashMap::new(), nodes: 0, bytes: 0 };
    w.walk()
}

impl Walker<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len()).ok_or_else(|| {
            format!("truncated pickle: {n} byte(s) needed at byte {} of {}", self.pos, self.data.len())
        })?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn line(&mut self) -> Result<String, String> {
        let rest = &self.data[self.pos..];
        let n = rest.iter().position(|&b| b == b'\n').ok_or("truncated pickle: a GLOBAL name has no end")?;
        let s = String::from_utf8_lossy(&rest[..n]).trim_end_matches('\r').to_string();
        self.pos += n + 1;
        Ok(s)
    }

    /// Counts `nodes` new objects and `bytes` new string bytes against the limits.
    fn account(&mut self, nodes: u64, bytes: u64) -> Result<(), String> {
        self.nodes += nodes;
        self.bytes += bytes;
        if self.nodes > MAX_NODES || self.bytes > MAX_STRING_BYTES {
            return Err(format!(
                "the pickle would build more than {MAX_NODES} objects or {MAX_STRING_BYTES} bytes of strings \
                 (at byte {}): far more than any state dict",
                self.pos
            ));
        }
        Ok(())
    }

    fn place(&mut self, s: Shadow) -> Result<(), String> {
        if s.depth > MAX_DEPTH {
            return Err(format!("the pickle nests objects more than {MAX_DEPTH} deep (at byte {})", self.pos));
        }
        if s.mark {
            self.marks.push(self.stack.len());
        }
        self.stack.push(s);
        Ok(())
    }

    /// A new object without children.
    fn leaf(&mut self, bytes: u64) -> Result<(), String> {
        self.account(1, bytes)?;
        self.place(Shadow::leaf(bytes))
    }

    /// A new object holding `children` (already counted: only the new node is).
    fn combine(&mut self, children: &[Shadow]) -> Result<(), String> {
        let mut s = Shadow::leaf(0);
        for &c in children {
            s.absorb(c);
        }
        self.account(1, 0)?;
        self.place(s)
    }

    fn pop(&mut self) -> Result<Shadow, String> {
        let s = self.stack.pop().ok_or_else(|| format!("malformed pickle: empty stack at byte {}", self.pos))?;
        if s.mark {
            self.marks.pop();
        }
        Ok(s)
    }

    /// Everything above the topmost MARK, merged, and the MARK removed.
    fn pop_to_mark(&mut self) -> Result<Shadow, String> {
        let at = self.marks.pop().ok_or_else(|| format!("malformed pickle: no MARK before byte {}", self.pos))?;
        let mut s = Shadow { nodes: 0, bytes: 0, depth: 0, mark: false };
        for child in self.stack.drain(at + 1..) {
            s.absorb(child);
        }
        self.stack.pop();
        Ok(s)
    }

    /// Adds `child` into the container on top of the stack (APPEND, SETITEM and the like).
    fn extend_top(&mut self, child: Shadow) -> Result<(), String> {
        let top = self.stack.last_mut().ok_or_else(|| format!("malformed pickle: empty stack at byte {}", self.pos))?;
        top.absorb(child);
        if top.depth > MAX_DEPTH {
            return Err(format!("the pickle nests objects more than {MAX_DEPTH} deep (at byte {})", self.pos));
        }
        Ok(())
    }

    /// candle clones the memoised object onto the stack.
    fn memo_get(&mut self, id: u32) -> Result<(), String> {
        let s = *self.memo.get(&id).ok_or_else(|| format!("malformed pickle: memo {id} read before it is set"))?;
        self.account(s.nodes, s.bytes)?;
        self.place(s)
    }

    /// candle clones the top of the stack into the memo.
    fn memo_put(&mut self, id: u32) -> Result<(), String> {
        let s = *self.stack.last().ok_or_else(|| format!("malformed pickle: empty stack at byte {}", self.pos))?;
        self.account(s.nodes, s.bytes)?;
        self.memo.insert(id, s);
        Ok(())
    }

    fn walk(&mut self) -> Result<(), String> {
        loop {
            let at = self.pos;
            let op = self.u8().map_err(|_| "truncated pickle: it ends without a STOP opcode".to_string())?;
            match op {
                0x80 => drop(self.u8()?), // PROTO
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    if !ALLOWED_GLOBALS.iter().any(|&(m, n)| m == module && n == name) {
                        return Err(format!(
                            "refers to `{module}.{name}` (at byte {at}), which is not tensor data; a checkpoint \
                             may only hold tensors and plain values (save `model.state_dict()`), so it is \
                             refused and nothing in it was run"
                        ));
                    }
                    self.leaf((module.len() + name.len()) as u64)?;
                }
                b'K' | b'M' | b'J' | b'G' => {
                    let n = match op {
                        b'K' => 1,
                        b'M' => 2,
                        b'J' => 4,
                        _ => 8,
                    };
                    self.take(n)?;
                    self.leaf(0)?;
                }
                0x8a => {
                    // LONG1: candle decodes at most 8 bytes correctly
                    let n = self.u8()?;
                    if n > 8 {
                        return Err(format!("a {n}-byte integer at byte {at}; a checkpoint's integers fit 8 bytes"));
                    }
                    self.take(n as usize)?;
                    self.leaf(0)?;
                }
                b'X' => {
                    let n = self.u32()?;
                    self.take(n as usize)?;
                    self.leaf(u64::from(n))?;
                }
                b'Q' => {
                    let id = self.pop()?;
                    self.combine(&[id])?;
                }
                b't' => {
                    let items = self.pop_to_mark()?;
                    self.combine(&[items])?;
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut children = Vec::with_capacity(n);
                    for _ in 0..n {
                        children.push(self.pop()?);
                    }
                    self.combine(&children)?;
                }
                0x88 | 0x89 | b'N' | b')' | b']' | b'}' | b'd' => self.leaf(0)?,
                b'(' => {
                    self.account(1, 0)?;
                    self.place(Shadow { mark: true, ..Shadow::leaf(0) })?;
                }
                b'a' => {
                    let v = self.pop()?;
                    self.extend_top(v)?;
                }
                b'e' | b'u' => {
                    let items = self.pop_to_mark()?;
                    self.extend_top(items)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.extend_top(v)?;
                    self.extend_top(k)?;
                }
                b'b' | b'R' | 0x81 => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    self.combine(&[callable, args])?;
                }
                b'h' => {
                    let id = self.u8()?;
                    self.memo_get(u32::from(id))?;
                }
                b'j' => {
                    let id = self.u32()?;
                    self.memo_get(id)?;
                }
                b'q' => {
                    let id = self.u8()?;
                    self.memo_put(u32::from(id))?;
                }
                b'r' => {
                    let id = self.u32()?;
                    self.memo_put(id)?;
                }
                b'.' => return Ok(()),
                other => {
                    return Err(format!(
                        "pickle opcode {} (0x{other:02x}) at byte {at} is not one that torch.save writes for a \
                         state dict (protocol 2)",
                        opcode_name(other)
                    ));
                }
            }
        }
    }
}

/// Checks, after [`check`], every tensor record the way candle will index it: candle takes
/// `_rebuild_tensor_v2`'s arguments and the storage tuple apart by position and panics when one
/// is missing, and multiplies sizes without checking for overflow.
pub fn check_tensor_records(pickle: &[u8]) -> Result<(), String> {
    let mut stack = Stack::empty();
    stack.read_loop(&mut &pickle[..]).map_err(|e| format!("malformed pickle: {e}"))?;
    let root = stack.finalize().map_err(|e| format!("malformed pickle: {e}"))?;
    visit(&root)
}

fn visit(o: &Object) -> Result<(), String> {
    match o {
        Object::Reduce { callable, args } => {
            if let Object::Class { module_name, class_name } = &**callable {
                record(module_name, class_name, args)?;
            }
            visit(callable)?;
            visit(args)
        }
        Object::Build { callable, args } => {
            visit(callable)?;
            visit(args)
        }
        Object::Tuple(v) | Object::List(v) => v.iter().try_for_each(visit),
        Object::Dict(v) => v.iter().try_for_each(|(k, v)| visit(k).and_then(|_| visit(v))),
        Object::PersistentLoad(o) => visit(o),
        _ => Ok(()),
    }
}

/// Checks one call record by what candle reads of it.
fn record(module: &str, name: &str, args: &Object) -> Result<(), String> {
    let tuple = |min: usize| match args {
        Object::Tuple(v) if v.len() >= min => Ok(v),
        _ => Err(format!("a `{module}.{name}` record needs at least {min} arguments")),
    };
    match (module, name) {
        ("torch._tensor", "_rebuild_from_type_v2") => tuple(3).map(|_| ()),
        ("torch._utils", "_rebuild_parameter") => tuple(1).map(|_| ()),
        ("torch._utils", "_rebuild_tensor_v2") => {
            let v = tuple(4)?;
            match &v[0] {
                Object::PersistentLoad(id) if matches!(&**id, Object::Tuple(t) if t.len() >= 5) => {}
                _ => return Err("a tensor's storage record needs 5 fields".into()),
            }
            let offset = match &v[1] {
                Object::Int(i) => i64::from(*i),
                Object::Long(i) => *i,
                _ => return Err("a tensor's storage offset is not an integer".into()),
            };
            let dims = |o: &Object| match o {
                Object::Tuple(d) => d
                    .iter()
                    .map(|x| match x {
                        Object::Int(i) if *i >= 0 => Ok(*i as u64),
                        Object::Long(i) if *i >= 0 => Ok(*i as u64),
                        _ => Err("a tensor's size or stride is not a natural number".to_string()),
                    })
                    .collect::<Result<Vec<u64>, _>>(),
                _ => Err("a tensor's size or stride is not a tuple".into()),
            };
            let (size, stride) = (dims(&v[2])?, dims(&v[3])?);
            let elems = size.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
            let reach = size.iter().zip(&stride).try_fold(0u64, |a, (&d, &s)| a.checked_add(d.checked_mul(s)?));
            if !(0..1 << 40).contains(&offset) || elems.is_none_or(|e| e >= 1 << 40) || reach.is_none() {
                return Err(format!("a tensor claims size {size:?}, strides {stride:?}, offset {offset}: impossible"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The string keys of the pickle's top-level dict, for messages; call only after [`check`].
pub fn top_level_keys(pickle: &[u8]) -> Vec<String> {
    let mut stack = Stack::empty();
    if stack.read_loop(&mut &pickle[..]).is_err() {
        return Vec::new();
    }
    match stack.finalize() {
        Ok(Object::Dict(items)) => items
            .into_iter()
            .filter_map(|(k, _)| match k {
                Object::Unicode(s) => Some(s),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Names of the opcodes worth naming in an error (code-loading ones first).
fn opcode_name(op: u8) -> String {
    let name = match op {
        0x93 => "STACK_GLOBAL",
        b'i' => "INST",
        b'o' => "OBJ",
        0x82..=0x84 => "EXT",
        0x8c => "SHORT_BINUNICODE",
        0x95 => "FRAME",
        0x94 => "MEMOIZE",
        b'V' | b'S' | b'U' | b'T' | b'B' | b'C' => "a string",
        _ => return format!("`{}`", char::from(op).escape_default()),
    };
    name.to_string()
}

#[cfg(test)]
mod tests;
