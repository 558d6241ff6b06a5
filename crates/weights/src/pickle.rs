//! A reader for PyTorch's legacy (pre-1.6, non-zip) `torch.save` format, as far as a state
//! dict of float32 tensors needs it.
//!
//! The file is five pickles in a row, then raw storages:
//! 1. the magic number (a long), 2. the protocol version (1001), 3. `sys_info` (endianness,
//!    type sizes), 4. the state dict: an `OrderedDict` of `_rebuild_tensor_v2(storage, offset,
//!    size, stride, ...)` calls whose storage is a persistent id `("storage", torch.FloatStorage,
//!    key, location, numel, ...)`, 5. the list of storage keys;
//!
//! then, for each key of that list, the storage: a little-endian u64 element count and the
//! elements. Only the pickle opcodes such files use are implemented; anything else is an error
//! naming the opcode and its offset. Every read is bounds-checked, so a truncated or corrupt
//! file is an error, never a panic.

use std::collections::HashMap;

/// Why a file is not a readable legacy torch state dict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PickleError {
    #[error("truncated: {what} needs {need} bytes at offset {offset}, the file has {len}")]
    Truncated { what: &'static str, offset: usize, need: usize, len: usize },
    #[error("unknown pickle opcode 0x{opcode:02x} at offset {offset}")]
    UnknownOpcode { opcode: u8, offset: usize },
    #[error("malformed pickle at offset {offset}: {reason}")]
    Malformed { offset: usize, reason: String },
    #[error("{0}")]
    Format(String),
}

/// A decoded pickle value. `Call` is a `REDUCE` left unevaluated (a function and its args).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// A long too big for i64: its little-endian two's-complement bytes, as pickled.
    BigInt(Vec<u8>),
    Str(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global { module: String, name: String },
    PersistentId(Box<Value>),
    Call { func: Box<Value>, args: Box<Value> },
}

/// Values live in an arena while a pickle is read, so that the memo holds references (a dict
/// memoised while empty and filled afterwards is seen filled), as in Python.
#[derive(Debug)]
enum Node {
    Leaf(Value),
    Tuple(Vec<usize>),
    List(Vec<usize>),
    Dict(Vec<(usize, usize)>),
    PersistentId(usize),
    Call { func: usize, args: usize },
}

#[derive(Clone, Copy)]
enum Slot {
    Mark,
    Node(usize),
}

/// Resolving a shared structure can multiply it: bounded, so a hostile file cannot exhaust memory.
const MAX_RESOLVED_VALUES: usize = 1 << 20;
const MAX_DEPTH: usize = 64;

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], PickleError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(PickleError::Truncated { what, offset: self.pos, need: n, len: self.bytes.len() })?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, PickleError> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, PickleError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, PickleError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, PickleError> {
        let b = self.take(8, what)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }
    /// A text line of GLOBAL (without its newline), at most 256 bytes.
    fn line(&mut self) -> Result<String, PickleError> {
        let rest = &self.bytes[self.pos..];
        let n = rest.iter().take(256).position(|&b| b == b'\n').ok_or_else(|| PickleError::Malformed {
            offset: self.pos,
            reason: "GLOBAL name without a newline".into(),
        })?;
        let s = std::str::from_utf8(&rest[..n]).map_err(|_| PickleError::Malformed { offset: self.pos, reason: "GLOBAL name is not UTF-8".into() })?;
        self.pos += n + 1;
        Ok(s.to_string())
    }
}

/// Reads one pickle starting at `pos`. Returns its value and the offset after its STOP.
pub fn load(bytes: &[u8], pos: usize) -> Result<(Value, usize), PickleError> {
    let mut r = Reader { bytes, pos };
    let mut arena: Vec<Node> = Vec::new();
    let mut stack: Vec<Slot> = Vec::new();
    let mut memo: HashMap<u32, usize> = HashMap::new();
    loop {
        let at = r.pos;
        let op = r.u8("an opcode")?;
        let bad = |reason: &str| PickleError::Malformed { offset: at, reason: reason.to_string() };
        match op {
            0x80 => {
                r.u8("PROTO")?; // Any protocol: unknown opcodes are caught one by one.
            }
            b'.' => {
                // STOP
                let top = match stack.pop() {
                    Some(Slot::Node(i)) if stack.is_empty() => i,
                    _ => return Err(bad("STOP needs exactly one value on the stack")),
                };
                let mut budget = MAX_RESOLVED_VALUES;
                let v = resolve(&arena, top, 0, &mut budget).map_err(|reason| PickleError::Malformed { offset: at, reason })?;
                return Ok((v, r.pos));
            }
            b'N' => push(&mut arena, &mut stack, Node::Leaf(Value::None)),
            0x88 => push(&mut arena, &mut stack, Node::Leaf(Value::Bool(true))),
            0x89 => push(&mut arena, &mut stack, Node::Leaf(Value::Bool(false))),
            b'K' => {
                let v = r.u8("BININT1")?;
                push(&mut arena, &mut stack, Node::Leaf(Value::Int(v.into())));
            }
            b'M' => {
                let v = r.u16("BININT2")?;
                push(&mut arena, &mut stack, Node::Leaf(Value::Int(v.into())));
            }
            b'J' => {
                let v = r.u32("BININT")? as i32;
                push(&mut arena, &mut stack, Node::Leaf(Value::Int(v.into())));
            }
            0x8a => {
                // LONG1: little-endian two's complement, n bytes.
                let n = r.u8("LONG1 length")? as usize;
                let b = r.take(n, "LONG1")?;
                let v = if n <= 8 {
                    let fill = if b.last().is_some_and(|&x| x & 0x80 != 0) { 0xff } else { 0 };
                    let mut w = [fill; 8];
                    w[..n].copy_from_slice(b);
                    Value::Int(i64::from_le_bytes(w))
                } else {
                    Value::BigInt(b.to_vec())
                };
                push(&mut arena, &mut stack, Node::Leaf(v));
            }
            b'X' => {
                let n = r.u32("BINUNICODE length")? as usize;
                let b = r.take(n, "BINUNICODE")?;
                let s = std::str::from_utf8(b).map_err(|_| bad("BINUNICODE is not UTF-8"))?;
                push(&mut arena, &mut stack, Node::Leaf(Value::Str(s.to_string())));
            }
            b'c' => {
                let module = r.line()?;
                let name = r.line()?;
                push(&mut arena, &mut stack, Node::Leaf(Value::Global { module, name }));
            }
            b')' => push(&mut arena, &mut stack, Node::Tuple(Vec::new())),
            b']' => push(&mut arena, &mut stack, Node::List(Vec::new())),
            b'}' => push(&mut arena, &mut stack, Node::Dict(Vec::new())),
            b'(' => stack.push(Slot::Mark),
            b't' => {
                let items = pop_to_mark(&mut stack).ok_or_else(|| bad("TUPLE without a MARK"))?;
                push(&mut arena, &mut stack, Node::Tuple(items));
            }
            0x85 => {
                let item = pop_node(&mut stack).ok_or_else(|| bad("TUPLE1 on an empty stack"))?;
                push(&mut arena, &mut stack, Node::Tuple(vec![item]));
            }
            b'q' | b'r' => {
                let key = if op == b'q' { r.u8("BINPUT")?.into() } else { r.u32("LONG_BINPUT")? };
                let Some(Slot::Node(i)) = stack.last() else { return Err(bad("PUT needs a value on the stack")) };
                memo.insert(key, *i);
            }
            b'h' | b'j' => {
                let key = if op == b'h' { r.u8("BINGET")?.into() } else { r.u32("LONG_BINGET")? };
                let i = *memo.get(&key).ok_or_else(|| bad(&format!("GET of memo {key}, never PUT")))?;
                stack.push(Slot::Node(i));
            }
            b's' | b'u' => {
                // SETITEM: dict k v; SETITEMS: dict MARK k v k v ...
                let items = if op == b's' {
                    let v = pop_node(&mut stack);
                    let k = pop_node(&mut stack);
                    k.zip(v).map(|(k, v)| vec![k, v]).ok_or_else(|| bad("SETITEM needs a key and a value"))?
                } else {
                    pop_to_mark(&mut stack).ok_or_else(|| bad("SETITEMS without a MARK"))?
                };
                if items.len() % 2 != 0 {
                    return Err(bad("SETITEMS with an odd number of items"));
                }
                let Some(&Slot::Node(d)) = stack.last() else { return Err(bad("SETITEM(S) without a dict")) };
                let Node::Dict(entries) = &mut arena[d] else { return Err(bad("SETITEM(S) on something not a dict")) };
                entries.extend(items.chunks_exact(2).map(|kv| (kv[0], kv[1])));
            }
            b'e' => {
                let items = pop_to_mark(&mut stack).ok_or_else(|| bad("APPENDS without a MARK"))?;
                let Some(&Slot::Node(l)) = stack.last() else { return Err(bad("APPENDS without a list")) };
                let Node::List(list) = &mut arena[l] else { return Err(bad("APPENDS on something not a list")) };
                list.extend(items);
            }
            b'Q' => {
                let pid = pop_node(&mut stack).ok_or_else(|| bad("BINPERSID on an empty stack"))?;
                push(&mut arena, &mut stack, Node::PersistentId(pid));
            }
            b'R' => {
                let args = pop_node(&mut stack);
                let func = pop_node(&mut stack);
                let (func, args) = func.zip(args).ok_or_else(|| bad("REDUCE needs a callable and its arguments"))?;
                // OrderedDict() is the one call that must become a container: SETITEMS fill it.
                let ordered_dict = matches!(&arena[func], Node::Leaf(Value::Global { module, name }) if module == "collections" && name == "OrderedDict");
                let no_args = matches!(&arena[args], Node::Tuple(t) if t.is_empty());
                push(&mut arena, &mut stack, if ordered_dict && no_args { Node::Dict(Vec::new()) } else { Node::Call { func, args } });
            }
            b'b' => {
                // BUILD sets attributes (the state dict's `_metadata`: module versions), which
                // the tensors do not need: the state is dropped, the object stays.
                pop_node(&mut stack).ok_or_else(|| bad("BUILD on an empty stack"))?;
                if !matches!(stack.last(), Some(Slot::Node(_))) {
                    return Err(bad("BUILD without an object"));
                }
            }
            _ => return Err(PickleError::UnknownOpcode { opcode: op, offset: at }),
        }
    }
}

fn push(arena: &mut Vec<Node>, stack: &mut Vec<Slot>, node: Node) {
    arena.push(node);
    stack.push(Slot::Node(arena.len() - 1));
}

fn pop_node(stack: &mut Vec<Slot>) -> Option<usize> {
    match stack.pop()? {
        Slot::Node(i) => Some(i),
        Slot::Mark => None,
    }
}

fn pop_to_mark(stack: &mut Vec<Slot>) -> Option<Vec<usize>> {
    let mark = stack.iter().rposition(|s| matches!(s, Slot::Mark))?;
    let items = stack.drain(mark..).skip(1).map(|s| match s {
        Slot::Node(i) => i,
        Slot::Mark => unreachable!("the last mark is at `mark`"),
    });
    Some(items.collect())
}

fn resolve(arena: &[Node], i: usize, depth: usize, budget: &mut usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("values nested deeper than {MAX_DEPTH} (or a cycle)"));
    }
    *budget = budget.checked_sub(1).ok_or("too many values")?;
    let mut all = |ids: &[usize]| ids.iter().map(|&j| resolve(arena, j, depth + 1, budget)).collect::<Result<Vec<_>, _>>();
    Ok(match &arena[i] {
        Node::Leaf(v) => v.clone(),
        Node::Tuple(ids) => Value::Tuple(all(ids)?),
        Node::List(ids) => Value::List(all(ids)?),
        Node::Dict(kv) => {
            let flat: Vec<usize> = kv.iter().flat_map(|&(k, v)| [k, v]).collect();
            let vals = all(&flat)?;
            let mut it = vals.into_iter();
            let mut out = Vec::with_capacity(kv.len());
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((k, v));
            }
            Value::Dict(out)
        }
        Node::PersistentId(p) => Value::PersistentId(Box::new(resolve(arena, *p, depth + 1, budget)?)),
        Node::Call { func, args } => Value::Call {
            func: Box::new(resolve(arena, *func, depth + 1, budget)?),
            args: Box::new(resolve(arena, *args, depth + 1, budget)?),
        },
    })
}

/// One float32 tensor of a state dict, contiguous, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct TorchTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// `torch.save`'s legacy magic number, 0x1950a86a20f9469cfc6c, as LONG1 bytes.
const MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const PROTOCOL_VERSION: i64 = 1001;

/// A tensor as the state dict describes it, before its storage is read.
struct TensorRef {
    name: String,
    storage: String,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

/// Reads every tensor of a legacy-format state dict (float32 storages only), in the dict's order.
pub fn read_legacy_state_dict(bytes: &[u8]) -> Result<Vec<TorchTensor>, PickleError> {
    let fmt = |s: String| PickleError::Format(s);
    if bytes.starts_with(b"PK\x03\x04") {
        return Err(fmt("a zip-format torch file; only the legacy (pre-1.6) format is read here".into()));
    }
    let (magic, pos) = load(bytes, 0)?;
    if magic != Value::BigInt(MAGIC.to_vec()) {
        return Err(fmt("no torch legacy magic number at the start: not a torch.save file".into()));
    }
    let (version, pos) = load(bytes, pos)?;
    if version != Value::Int(PROTOCOL_VERSION) {
        return Err(fmt(format!("torch protocol version {version:?}, expected {PROTOCOL_VERSION}")));
    }
    let (sys_info, pos) = load(bytes, pos)?;
    if dict_get(&sys_info, "little_endian") != Some(&Value::Bool(true)) {
        return Err(fmt("not saved on a little-endian machine (sys_info.little_endian is not True)".into()));
    }
    let (state, pos) = load(bytes, pos)?;
    let Value::Dict(entries) = state else { return Err(fmt("the saved object is not a dict of tensors".into())) };
    let mut refs = Vec::with_capacity(entries.len());
    let mut numels: HashMap<String, usize> = HashMap::new();
    for (k, v) in entries {
        let Value::Str(name) = k else { return Err(fmt(format!("state dict key {k:?} is not a string"))) };
        let (t, numel) = tensor_ref(name, v).map_err(fmt)?;
        numels.insert(t.storage.clone(), numel);
        refs.push(t);
    }
    let (keys, mut pos) = load(bytes, pos)?;
    let Value::List(keys) = keys else { return Err(fmt("the storage key list is not a list".into())) };

    let mut storages: HashMap<String, Vec<f32>> = HashMap::new();
    for key in keys {
        let Value::Str(key) = key else { return Err(fmt(format!("storage key {key:?} is not a string"))) };
        let mut r = Reader { bytes, pos };
        let count = r.u64("a storage's element count")?;
        let expected = numels.get(&key).copied();
        if expected.is_some_and(|n| n as u64 != count) {
            return Err(fmt(format!("storage {key} holds {count} elements, its tensor says {}", expected.unwrap_or(0))));
        }
        let n_bytes = usize::try_from(count).ok().and_then(|c| c.checked_mul(4)).ok_or_else(|| fmt(format!("storage {key}: {count} elements is too many")))?;
        let raw = r.take(n_bytes, "a storage's data")?;
        storages.insert(key, raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect());
        pos = r.pos;
    }
    if pos != bytes.len() {
        return Err(fmt(format!("{} bytes after the last storage", bytes.len() - pos)));
    }
    refs.into_iter()
        .map(|t| {
            let storage = storages.get(&t.storage).ok_or_else(|| fmt(format!("tensor {}: storage {} is not in the file", t.name, t.storage)))?;
            let data = gather(storage, t.offset, &t.shape, &t.stride).ok_or_else(|| fmt(format!("tensor {}: its shape and strides reach outside its storage", t.name)))?;
            Ok(TorchTensor { name: t.name, shape: t.shape, data })
        })
        .collect()
}

fn dict_get<'v>(d: &'v Value, key: &str) -> Option<&'v Value> {
    let Value::Dict(kv) = d else { return None };
    kv.iter().find(|(k, _)| matches!(k, Value::Str(s) if s == key)).map(|(_, v)| v)
}

fn usize_of(v: &Value) -> Option<usize> {
    match v {
        Value::Int(i) => usize::try_from(*i).ok(),
        _ => None,
    }
}

fn usizes_of(v: &Value) -> Option<Vec<usize>> {
    match v {
        Value::Tuple(items) => items.iter().map(usize_of).collect(),
        _ => None,
    }
}

/// `_rebuild_tensor_v2((storage pid), offset, size, stride, ...)` -> the tensor's reference and
/// its storage's element count.
fn tensor_ref(name: String, v: Value) -> Result<(TensorRef, usize), String> {
    let not = |what: &str| format!("tensor {name}: {what}");
    let Value::Call { func, args } = v else { return Err(not("not a tensor")) };
    if !matches!(&*func, Value::Global { module, name } if module == "torch._utils" && name == "_rebuild_tensor_v2") {
        return Err(not(&format!("built by {func:?}, not torch._utils._rebuild_tensor_v2")));
    }
    let Value::Tuple(args) = *args else { return Err(not("arguments are not a tuple")) };
    if args.len() < 4 {
        return Err(not("too few arguments to _rebuild_tensor_v2"));
    }
    let Value::PersistentId(pid) = &args[0] else { return Err(not("its storage is not a persistent id")) };
    let Value::Tuple(pid) = &**pid else { return Err(not("its storage id is not a tuple")) };
    // ("storage", storage type, key, location, numel[, view metadata])
    let (kind, ty, key, numel) = match pid.as_slice() {
        [k, t, key, _location, n, ..] => (k, t, key, n),
        _ => return Err(not("its storage id has too few fields")),
    };
    if kind != &Value::Str("storage".into()) {
        return Err(not("its persistent id is not a storage"));
    }
    match ty {
        Value::Global { module, name } if module == "torch" && name == "FloatStorage" => {}
        Value::Global { module, name } => return Err(not(&format!("storage type {module}.{name} is not supported (only torch.FloatStorage)"))),
        _ => return Err(not("its storage type is not a class")),
    }
    let Value::Str(key) = key else { return Err(not("its storage key is not a string")) };
    let numel = usize_of(numel).ok_or_else(|| not("bad storage size"))?;
    let offset = usize_of(&args[1]).ok_or_else(|| not("bad storage offset"))?;
    let shape = usizes_of(&args[2]).ok_or_else(|| not("bad size"))?;
    let stride = usizes_of(&args[3]).ok_or_else(|| not("bad stride"))?;
    if shape.len() != stride.len() {
        return Err(not("size and stride differ in length"));
    }
    Ok((TensorRef { name, storage: key.clone(), offset, shape, stride }, numel))
}

/// The elements of a strided view of `storage`, row-major; None if any index is out of range.
fn gather(storage: &[f32], offset: usize, shape: &[usize], stride: &[usize]) -> Option<Vec<f32>> {
    let numel = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
    if numel == 0 {
        return Some(Vec::new());
    }
    // The farthest element: every index at its maximum.
    let last = shape.iter().zip(stride).try_fold(offset, |a, (&d, &s)| a.checked_add((d - 1).checked_mul(s)?))?;
    if last >= storage.len() {
        return None;
    }
    let mut out = Vec::with_capacity(numel);
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..numel {
        out.push(storage[offset + idx.iter().zip(stride).map(|(i, s)| i * s).sum::<usize>()]);
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A legacy torch file with tensors given as (name, shape, data), contiguous, each in its
    /// own storage; written with the opcodes torch 1.x uses.
    fn legacy_file(tensors: &[(&str, &[usize], &[f32])]) -> Vec<u8> {
        let mut f = vec![0x80, 2, 0x8a, 10];
        f.extend(MAGIC);
        f.push(b'.');
        f.extend([0x80, 2, b'M', 0xe9, 0x03, b'.']); // 1001
        f.extend([0x80, 2, b'}', b'q', 0, b'(']);
        uni(&mut f, "little_endian");
        f.extend([0x88, b'u', b'.']);
        f.extend([0x80, 2, b'c']);
        f.extend(b"collections\nOrderedDict\n");
        f.extend([b'q', 0, b')', b'R', b'q', 1, b'(']);
        for (i, (name, shape, _)) in tensors.iter().enumerate() {
            uni(&mut f, name);
            f.extend(b"ctorch._utils\n_rebuild_tensor_v2\n(");
            f.push(b'(');
            uni(&mut f, "storage");
            f.extend(b"ctorch\nFloatStorage\n");
            uni(&mut f, &format!("k{i}"));
            uni(&mut f, "cpu");
            int(&mut f, shape.iter().product::<usize>());
            f.extend([b'N', b't', b'Q']);
            int(&mut f, 0);
            f.push(b'(');
            shape.iter().for_each(|&d| int(&mut f, d));
            f.push(b't');
            f.push(b'(');
            let mut stride = vec![1; shape.len()];
            for d in (0..shape.len().saturating_sub(1)).rev() {
                stride[d] = stride[d + 1] * shape[d + 1];
            }
            stride.iter().for_each(|&s| int(&mut f, s));
            f.push(b't');
            f.extend([0x89, b'h', 0, b')', b'R', b't', b'R']);
        }
        f.extend([b'u', b'}', b'(']);
        uni(&mut f, "version");
        f.extend([b'K', 1, b'u', b'b', b'.']);
        f.extend([0x80, 2, b']', b'(']);
        (0..tensors.len()).for_each(|i| uni(&mut f, &format!("k{i}")));
        f.extend([b'e', b'.']);
        for (_, _, data) in tensors {
            f.extend((data.len() as u64).to_le_bytes());
            data.iter().for_each(|v| f.extend(v.to_le_bytes()));
        }
        f
    }

    fn uni(f: &mut Vec<u8>, s: &str) {
        f.push(b'X');
        f.extend((s.len() as u32).to_le_bytes());
        f.extend(s.as_bytes());
    }

    fn int(f: &mut Vec<u8>, v: usize) {
        if v < 256 {
            f.extend([b'K', v as u8]);
        } else {
            f.push(b'J');
            f.extend((v as i32).to_le_bytes());
        }
    }

    #[test]
    fn reads_a_small_state_dict() {
        let w = [1.0f32, -2.0, 3.5, 4.0, 5.0, 6.0];
        let file = legacy_file(&[("a.weight", &[2, 3], &w), ("a.bias", &[2], &[0.5, -0.5])]);
        let got = read_legacy_state_dict(&file).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], TorchTensor { name: "a.weight".into(), shape: vec![2, 3], data: w.to_vec() });
        assert_eq!(got[1].data, vec![0.5, -0.5]);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let file = legacy_file(&[("w", &[3], &[1.0, 2.0, 3.0])]);
        for len in 0..file.len() {
            assert!(read_legacy_state_dict(&file[..len]).is_err(), "cut at {len} of {}", file.len());
        }
        let e = read_legacy_state_dict(&file[..file.len() - 2]).unwrap_err();
        assert!(matches!(e, PickleError::Truncated { .. }), "{e}");
        assert!(e.to_string().contains("storage's data"), "{e}");
    }

    #[test]
    fn unknown_opcode_is_named_with_its_offset() {
        // 0x94 is MEMOIZE (protocol 4), which these files never use.
        let e = load(&[0x80, 2, 0x94, b'.'], 0).unwrap_err();
        assert_eq!(e, PickleError::UnknownOpcode { opcode: 0x94, offset: 2 });
        assert_eq!(e.to_string(), "unknown pickle opcode 0x94 at offset 2");
    }

    #[test]
    fn memo_holds_references_and_longs_decode() {
        // d = {}; memo[0] = d; d["x"] = 1; [d, memo[0]]  ->  both show the item.
        let mut p = vec![0x80, 2, b']', b'(', b'}', b'q', 0];
        uni(&mut p, "x");
        p.extend([b'K', 1, b's', b'h', 0, b'e', b'.']);
        let (v, end) = load(&p, 0).unwrap();
        let d = Value::Dict(vec![(Value::Str("x".into()), Value::Int(1))]);
        assert_eq!(v, Value::List(vec![d.clone(), d]));
        assert_eq!(end, p.len());
        assert_eq!(load(&[0x8a, 2, 0x00, 0xff, b'.'], 0).unwrap().0, Value::Int(-256));
        assert_eq!(load(&[b'J', 0xff, 0xff, 0xff, 0xff, b'.'], 0).unwrap().0, Value::Int(-1));
    }

    #[test]
    fn corrupt_structures_are_errors() {
        // A list appended to itself cannot be resolved into a tree: bounded, an error.
        let e = load(&[b']', b'q', 0, b'(', b'h', 0, b'e', b'.'], 0).unwrap_err();
        assert!(e.to_string().contains("deeper"), "{e}");
        assert!(load(&[b't', b'.'], 0).unwrap_err().to_string().contains("MARK"));
        assert!(load(&[b'h', 7, b'.'], 0).unwrap_err().to_string().contains("never PUT"));
        assert!(load(&[b'K', 1, b'K', 2, b'.'], 0).unwrap_err().to_string().contains("exactly one"));
        assert!(read_legacy_state_dict(b"PK\x03\x04rest").unwrap_err().to_string().contains("zip-format"));
        // A storage count that disagrees with the tensor, and trailing bytes.
        let mut file = legacy_file(&[("w", &[2], &[1.0, 2.0])]);
        file.push(0);
        assert!(read_legacy_state_dict(&file).unwrap_err().to_string().contains("after the last storage"));
        let file = legacy_file(&[("w", &[2], &[1.0, 2.0, 3.0])]);
        assert!(read_legacy_state_dict(&file).unwrap_err().to_string().contains("holds 3 elements"));
    }

    #[test]
    fn strided_views_are_gathered_and_bounds_checked() {
        // A 2x2 transpose of [1,2,3,4]: strides (1,2).
        assert_eq!(gather(&[1.0, 2.0, 3.0, 4.0], 0, &[2, 2], &[1, 2]), Some(vec![1.0, 3.0, 2.0, 4.0]));
        assert_eq!(gather(&[1.0, 2.0, 3.0], 1, &[2], &[1]), Some(vec![2.0, 3.0]));
        assert_eq!(gather(&[1.0, 2.0, 3.0], 2, &[2], &[1]), None);
        assert_eq!(gather(&[1.0], 0, &[usize::MAX, 2], &[1, 1]), None);
    }
}
