//! Reads features and predictions out of inference payloads, as columns named
//! by the ModelVersion's signature. Pure: the proxy hands it bodies it has
//! already forwarded, so a body that does not parse is only counted.
//!
//! Column naming, the same for V2 tensors (JSON or gRPC) and V1 rows:
//! - a V2 tensor named like a signature field, with one value per row, is
//!   that field;
//! - the columns of every other tensor (or of a V1 row given as an array) go,
//!   in order, to the signature fields not yet matched, in signature order
//!   (the usual case: one [N, K] tensor "input-0" holding K features);
//! - columns beyond the signature keep a positional name (`tensor[i]`, or the
//!   tensor's name when it has one column), which no reference matches, so
//!   they cost nothing but still take part in shadow comparison when there is
//!   no signature;
//! - V1 rows given as objects are named by their keys.
//!
//! Bodies are hostile: nothing here recurses on a depth the client chooses
//! (serde_json itself stops at 128 levels, which makes such a body an Err),
//! and nothing allocates what a shape claims but the data does not hold.
use std::collections::{HashMap, HashSet};

use serde_json::Value as Json;

use crate::config::SignatureField;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Number(f64),
    Text(String),
    Bool(bool),
}

/// Named columns in order of appearance; `columns[i].1[r]` is row r.
pub type Columns = Vec<(String, Vec<Value>)>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    V1,
    V2,
    Grpc,
}

/// The gRPC method of an Open Inference Protocol inference call.
pub const GRPC_MODEL_INFER: &str = "/inference.GRPCInferenceService/ModelInfer";

/// The protocol of an inference call, or None for every other request (health, metadata, ...).
pub fn inference_route(method: &str, path_and_query: &str) -> Option<Protocol> {
    if method != "POST" {
        return None;
    }
    let path = path_and_query.split_once('?').map_or(path_and_query, |(p, _)| p);
    if path == GRPC_MODEL_INFER {
        return Some(Protocol::Grpc);
    }
    // /v2/models/{m}[/versions/{v}]/infer, each segment non-empty.
    if let Some(rest) = path.strip_prefix("/v2/models/").and_then(|r| r.strip_suffix("/infer")) {
        let segments: Vec<&str> = rest.split('/').collect();
        let named = |s: &&str| !s.is_empty();
        let ok = match segments.as_slice() {
            [m] => named(m),
            [m, "versions", v] => named(m) && named(v),
            _ => false,
        };
        return ok.then_some(Protocol::V2);
    }
    // /v1/models/{m}:predict, the model name without '/' or ':'.
    let model = path.strip_prefix("/v1/models/")?.strip_suffix(":predict")?;
    (!model.is_empty() && !model.contains(['/', ':'])).then_some(Protocol::V1)
}

/// One tensor split into columns: `columns[c][r]` is column c of row r.
#[derive(Debug, PartialEq)]
pub(crate) struct RawColumns {
    pub name: String,
    pub columns: Vec<Vec<Value>>,
}

/// Splits a tensor's row-major values into per-column vectors. `shape` is
/// already known to be non-negative; a scalar tensor (shape []) is one row.
pub(crate) fn split_tensor(name: &str, shape: &[u64], flat: Vec<Value>) -> Result<RawColumns, String> {
    let rows = shape.first().copied().unwrap_or(1);
    let rest = shape.get(1..).unwrap_or(&[]);
    // None: more columns than a u64 holds (only possible when no dim is 0).
    let cols = if rest.contains(&0) { Some(0) } else { rest.iter().try_fold(1u64, |a, &d| a.checked_mul(d)) };
    // No values: a claimed [0, 1e9] must not allocate a billion empty columns,
    // nor a claimed [1e15, 0] loop over a quadrillion empty rows.
    if (rows == 0 || cols == Some(0)) && flat.is_empty() {
        return Ok(RawColumns { name: name.to_string(), columns: Vec::new() });
    }
    let needed = cols.and_then(|c| c.checked_mul(rows));
    if needed != Some(flat.len() as u64) {
        let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
        let needed = needed.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string());
        return Err(format!(
            "tensor {name}: shape [{}] needs {needed} values, data has {}",
            dims.join(","),
            flat.len()
        ));
    }
    // Here rows * cols == flat.len() > 0, so cols <= flat.len(): no allocation beyond the data.
    let (rows, cols) = (rows as usize, cols.unwrap_or(0) as usize);
    let mut columns: Vec<Vec<Value>> = (0..cols).map(|_| Vec::with_capacity(rows)).collect();
    for (i, v) in flat.into_iter().enumerate() {
        columns[i % cols].push(v);
    }
    Ok(RawColumns { name: name.to_string(), columns })
}

/// Columns under construction, with a set of their names so that a tensor of
/// many columns costs no quadratic lookups.
struct Named {
    columns: Columns,
    names: HashSet<String>,
}

impl Named {
    fn new() -> Self {
        Named { columns: Vec::new(), names: HashSet::new() }
    }
    fn has(&self, name: &str) -> bool {
        self.names.contains(name)
    }
    /// Adds a column unless one of that name exists (the first one wins).
    fn add(&mut self, name: String, values: Vec<Value>) {
        if self.names.insert(name.clone()) {
            self.columns.push((name, values));
        }
    }
}

/// Names columns by the signature (see the header comment).
pub(crate) fn name_columns(raw: Vec<RawColumns>, fields: &[SignatureField]) -> Columns {
    named_columns(raw, fields).columns
}

fn named_columns(raw: Vec<RawColumns>, fields: &[SignatureField]) -> Named {
    let mut out = Named::new();
    let signature: HashSet<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    let mut positional = Vec::new();
    for mut r in raw {
        if signature.contains(r.name.as_str()) && r.columns.len() == 1 && !out.has(&r.name) {
            let column = r.columns.pop().unwrap_or_default();
            out.add(r.name, column);
        } else {
            positional.push(r);
        }
    }
    let free: Vec<&str> = fields.iter().map(|f| f.name.as_str()).filter(|n| !out.has(n)).collect();
    let mut next = 0;
    for r in positional {
        let single = r.columns.len() == 1;
        for (i, column) in r.columns.into_iter().enumerate() {
            let name = match free.get(next) {
                Some(f) => f.to_string(),
                None if single => r.name.clone(),
                None => format!("{}[{i}]", r.name),
            };
            next += 1;
            out.add(name, column);
        }
    }
    out
}

fn scalar(v: &Json) -> Option<Value> {
    match v {
        Json::Number(n) => n.as_f64().map(Value::Number),
        Json::String(s) => Some(Value::Text(s.clone())),
        Json::Bool(b) => Some(Value::Bool(*b)),
        _ => None,
    }
}

/// Row-major leaves of nested `data`, with an explicit stack rather than
/// recursion; None when a leaf is not a scalar. Data that is not a list is
/// one value.
fn flatten(data: Option<&Json>) -> Option<Vec<Value>> {
    let Some(Json::Array(items)) = data else {
        return data.and_then(scalar).map(|v| vec![v]);
    };
    let mut out = Vec::new();
    let mut stack = vec![items.iter()];
    while let Some(top) = stack.last_mut() {
        match top.next() {
            None => {
                stack.pop();
            }
            Some(Json::Array(inner)) => stack.push(inner.iter()),
            Some(leaf) => out.push(scalar(leaf)?),
        }
    }
    Some(out)
}

/// A JSON shape dimension: a non-negative integer (1.0 counts, as in JavaScript).
fn dimension(d: &Json) -> Option<u64> {
    let Json::Number(n) = d else { return None };
    if let Some(u) = n.as_u64() {
        return Some(u);
    }
    // Saturates beyond u64::MAX: such a dim can only match data when another dim is 0.
    n.as_f64().filter(|f| *f >= 0.0 && f.is_finite() && f.fract() == 0.0).map(|f| f as u64)
}

/// Splits one V2 JSON tensor (row-major, flat or nested `data`) into columns.
fn tensor_columns(tensor: &Json) -> Result<RawColumns, String> {
    let Json::Object(t) = tensor else { return Err("tensor is not an object".into()) };
    let Some(Json::String(name)) = t.get("name") else { return Err("tensor has no name".into()) };
    let shape: Option<Vec<u64>> = match t.get("shape") {
        Some(Json::Array(dims)) => dims.iter().map(dimension).collect(),
        _ => None,
    };
    let Some(shape) = shape else {
        return Err(format!("tensor {name}: shape is not a list of non-negative integers"));
    };
    let flat = flatten(t.get("data")).ok_or_else(|| format!("tensor {name}: data holds non-scalar values"))?;
    split_tensor(name, &shape, flat)
}

fn parse_json(body: &[u8]) -> Result<Json, String> {
    // Invalid UTF-8 reads as U+FFFD, as the TypeScript proxy's Buffer.toString did.
    let text = String::from_utf8_lossy(body);
    serde_json::from_str(&text).map_err(|_| "body is not JSON".to_string())
}

fn parse_v2(value: &Json, key: &str, fields: &[SignatureField]) -> Result<Columns, String> {
    let Some(Json::Array(tensors)) = value.get(key) else {
        return Err(format!("no \"{key}\" list"));
    };
    let raw = tensors.iter().map(tensor_columns).collect::<Result<Vec<_>, _>>()?;
    Ok(name_columns(raw, fields))
}

/// V1 rows: scalars (one column), arrays (positional columns) or objects (named columns).
fn rows_to_columns(rows: &[Json], fields: &[SignatureField], label: &str) -> Result<Columns, String> {
    let mut by_key: Columns = Vec::new();
    let mut key_index: HashMap<&str, usize> = HashMap::new();
    // A row's values go to the columns it has; a shorter row leaves no gap,
    // as the TypeScript proxy dropped the holes of its sparse arrays.
    let mut positional: Vec<Vec<Value>> = Vec::new();
    fn push(positional: &mut Vec<Vec<Value>>, c: usize, v: Value) {
        if positional.len() <= c {
            positional.resize_with(c + 1, Vec::new);
        }
        positional[c].push(v);
    }
    for (r, row) in rows.iter().enumerate() {
        match row {
            Json::Array(items) => {
                let values: Option<Vec<Value>> = items.iter().map(scalar).collect();
                let values = values.ok_or_else(|| format!("{label} row {r} holds non-scalar values"))?;
                for (c, v) in values.into_iter().enumerate() {
                    push(&mut positional, c, v);
                }
            }
            Json::Object(entries) => {
                for (k, v) in entries {
                    let Some(v) = scalar(v) else { continue };
                    let i = *key_index.entry(k.as_str()).or_insert_with(|| {
                        by_key.push((k.clone(), Vec::new()));
                        by_key.len() - 1
                    });
                    by_key[i].1.push(v);
                }
            }
            other => {
                let v = scalar(other).ok_or_else(|| format!("{label} row {r} is null"))?;
                push(&mut positional, 0, v);
            }
        }
    }
    let mut named = named_columns(vec![RawColumns { name: label.to_string(), columns: positional }], fields);
    for (k, v) in by_key {
        named.add(k, v);
    }
    Ok(named.columns)
}

fn parse_v1(value: &Json, key: &str, fallback: &str, fields: &[SignatureField]) -> Result<Columns, String> {
    let rows = match value.get(key) {
        None | Some(Json::Null) => value.get(fallback),
        found => found,
    };
    let Some(Json::Array(rows)) = rows else { return Err(format!("no \"{key}\" list")) };
    rows_to_columns(rows, fields, key)
}

/// Features of an inference request, named by the signature's inputs.
pub fn parse_request(protocol: Protocol, body: &[u8], inputs: &[SignatureField]) -> Result<Columns, String> {
    match protocol {
        Protocol::V2 => parse_v2(&parse_json(body)?, "inputs", inputs),
        Protocol::V1 => parse_v1(&parse_json(body)?, "instances", "inputs", inputs),
        Protocol::Grpc => crate::grpc::request_columns(body, inputs),
    }
}

/// Predictions of an inference response, named by the signature's outputs.
pub fn parse_response(protocol: Protocol, body: &[u8], outputs: &[SignatureField]) -> Result<Columns, String> {
    match protocol {
        Protocol::V2 => parse_v2(&parse_json(body)?, "outputs", outputs),
        Protocol::V1 => parse_v1(&parse_json(body)?, "predictions", "outputs", outputs),
        Protocol::Grpc => crate::grpc::response_columns(body, outputs),
    }
}
