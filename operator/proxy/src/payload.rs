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
    let cols = if rest.contains(&0) {
        Some(0)
    } else {
        rest.iter().try_fold(1u64, |a, &d| a.checked_mul(d))
    };
    // No values: a claimed [0, 1e9] must not allocate a billion empty columns,
    // nor a claimed [1e15, 0] loop over a quadrillion empty rows.
    if (rows == 0 || cols == Some(0)) && flat.is_empty() {
        return Ok(RawColumns {
            name: name.to_string(),
            columns: Vec::new(),
        });
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
    Ok(RawColumns {
        name: name.to_string(),
        columns,
    })
}

/// Columns under construction, with a set of their names so that a tensor of
/// many columns costs no quadratic lookups.
struct Named {
    columns: Columns,
    names: HashSet<String>,
}

impl Named {
    fn new() -> Self {
        Named {
            columns: Vec::new(),
            names: HashSet::new(),
        }
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
    n.as_f64()
        .filter(|f| *f >= 0.0 && f.is_finite() && f.fract() == 0.0)
        .map(|f| f as u64)
}

/// Splits one V2 JSON tensor (row-major, flat or nested `data`) into columns.
fn tensor_columns(tensor: &Json) -> Result<RawColumns, String> {
    let Json::Object(t) = tensor else {
        return Err("tensor is not an object".into());
    };
    let Some(Json::String(name)) = t.get("name") else {
        return Err("tensor has no name".into());
    };
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
    let mut named = named_columns(
        vec![RawColumns {
            name: label.to_string(),
            columns: positional,
        }],
        fields,
    );
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
    let Some(Json::Array(rows)) = rows else {
        return Err(format!("no \"{key}\" list"));
    };
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::FieldType;

    pub fn num(name: &str) -> SignatureField {
        SignatureField {
            name: name.into(),
            kind: FieldType::Numeric,
        }
    }
    pub fn cat(name: &str) -> SignatureField {
        SignatureField {
            name: name.into(),
            kind: FieldType::Categorical,
        }
    }
    fn iris() -> Vec<SignatureField> {
        ["sepal_length", "sepal_width", "petal_length", "petal_width"]
            .map(num)
            .to_vec()
    }
    pub fn n(v: f64) -> Value {
        Value::Number(v)
    }
    pub fn t(s: &str) -> Value {
        Value::Text(s.into())
    }
    /// Expected columns, in order.
    pub fn cols(spec: &[(&str, Vec<Value>)]) -> Columns {
        spec.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }
    fn nums(vs: &[f64]) -> Vec<Value> {
        vs.iter().copied().map(n).collect()
    }
    fn request(protocol: Protocol, body: &str, fields: &[SignatureField]) -> Result<Columns, String> {
        parse_request(protocol, body.as_bytes(), fields)
    }

    #[test]
    fn inference_route_recognises_inference_calls_only() {
        use Protocol::*;
        let cases = [
            ("POST", "/v2/models/iris/infer", Some(V2)),
            ("POST", "/v2/models/iris/versions/3/infer", Some(V2)),
            ("POST", "/v2/models/iris/infer?x=1", Some(V2)),
            ("POST", "/v1/models/iris:predict", Some(V1)),
            ("POST", "/v1/models/iris:predict?x=1", Some(V1)),
            ("POST", "/inference.GRPCInferenceService/ModelInfer", Some(Grpc)),
            ("GET", "/v2/models/iris/infer", None),
            ("GET", "/v2/health/ready", None),
            ("POST", "/v2/models/iris/ready", None),
            ("POST", "/v1/models/iris:explain", None),
            ("POST", "/v2/models/a/b/infer", None),
            ("POST", "/v2/models//infer", None),
            ("POST", "/v2/models/a/versions//infer", None),
            ("POST", "/v1/models/a:b:predict", None),
            ("POST", "/v1/models/:predict", None),
            ("POST", "/inference.GRPCInferenceService/ModelMetadata", None),
        ];
        for (method, url, want) in cases {
            assert_eq!(inference_route(method, url), want, "{method} {url}");
        }
    }

    #[test]
    fn v2_splits_one_n_by_k_tensor_into_the_signature_columns_in_order() {
        let body = r#"{"inputs":[{"name":"input-0","shape":[2,4],"datatype":"FP32","data":[1,2,3,4,5,6,7,8]}]}"#;
        assert_eq!(
            request(Protocol::V2, body, &iris()),
            Ok(cols(&[
                ("sepal_length", nums(&[1.0, 5.0])),
                ("sepal_width", nums(&[2.0, 6.0])),
                ("petal_length", nums(&[3.0, 7.0])),
                ("petal_width", nums(&[4.0, 8.0])),
            ]))
        );
    }

    #[test]
    fn v2_reads_nested_data_within_serde_depth_and_rejects_deeper_bodies() {
        let nested = |depth: usize| {
            format!(
                r#"{{"inputs":[{{"name":"x","shape":[1],"data":{}1{}}}]}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            )
        };
        assert_eq!(
            request(Protocol::V2, &nested(100), &[num("x")]),
            Ok(cols(&[("x", nums(&[1.0]))]))
        );
        // 20,000 levels: serde_json's recursion limit makes it an error, not a stack overflow.
        assert_eq!(
            request(Protocol::V2, &nested(20_000), &[num("x")]),
            Err("body is not JSON".into())
        );
    }

    #[test]
    fn v2_does_not_allocate_the_columns_an_empty_tensor_claims() {
        let body = r#"{"inputs":[{"name":"x","shape":[0,1e9],"data":[]}]}"#;
        assert_eq!(request(Protocol::V2, body, &[num("x")]), Ok(vec![]));
    }

    #[test]
    fn v2_does_not_loop_over_the_rows_an_empty_tensor_claims() {
        let body = r#"{"inputs":[{"name":"x","shape":[1e15,0],"data":[]}]}"#;
        assert_eq!(request(Protocol::V2, body, &[num("x")]), Ok(vec![]));
    }

    #[test]
    fn v2_rejects_shapes_whose_product_overflows() {
        let body = r#"{"inputs":[{"name":"x","shape":[4294967296,4294967296,2],"data":[1]}]}"#;
        let err = request(Protocol::V2, body, &[num("x")]).unwrap_err();
        assert!(err.contains("needs more than 2^64 values"), "{err}");
        let body = r#"{"inputs":[{"name":"x","shape":[1e300,2],"data":[1]}]}"#;
        assert!(request(Protocol::V2, body, &[num("x")]).unwrap_err().contains("needs"));
    }

    #[test]
    fn v2_reads_nested_data_the_same_as_flat_data() {
        let body = r#"{"inputs":[{"name":"x","shape":[2,2],"datatype":"INT64","data":[[1,2],[3,4]]}]}"#;
        assert_eq!(
            request(Protocol::V2, body, &[num("a"), num("b")]),
            Ok(cols(&[("a", nums(&[1.0, 3.0])), ("b", nums(&[2.0, 4.0]))]))
        );
    }

    #[test]
    fn v2_maps_tensors_named_like_signature_fields_and_the_rest_positionally() {
        let body = r#"{"inputs":[
            {"name":"color","shape":[3],"datatype":"BYTES","data":["red","blue","red"]},
            {"name":"rest","shape":[3,1],"datatype":"FP64","data":[0.5,1.5,2.5]}]}"#;
        assert_eq!(
            request(Protocol::V2, body, &[num("size"), cat("color")]),
            Ok(cols(&[
                ("color", vec![t("red"), t("blue"), t("red")]),
                ("size", nums(&[0.5, 1.5, 2.5]))
            ]))
        );
    }

    #[test]
    fn v2_names_columns_beyond_the_signature_by_tensor_and_position() {
        let body = r#"{"inputs":[{"name":"t","shape":[1,3],"datatype":"BOOL","data":[true,false,true]}]}"#;
        assert_eq!(
            request(Protocol::V2, body, &[cat("first")]),
            Ok(cols(&[
                ("first", vec![Value::Bool(true)]),
                ("t[1]", vec![Value::Bool(false)]),
                ("t[2]", vec![Value::Bool(true)]),
            ]))
        );
    }

    #[test]
    fn v2_treats_a_scalar_tensor_as_one_row() {
        let body = r#"{"inputs":[{"name":"a","shape":[],"datatype":"FP32","data":[7]}]}"#;
        assert_eq!(
            request(Protocol::V2, body, &[num("a")]),
            Ok(cols(&[("a", nums(&[7.0]))]))
        );
    }

    #[test]
    fn v2_accepts_integral_float_dims_and_non_list_data() {
        let body = r#"{"inputs":[{"name":"a","shape":[1.0],"data":5}]}"#;
        assert_eq!(
            request(Protocol::V2, body, &[num("a")]),
            Ok(cols(&[("a", nums(&[5.0]))]))
        );
    }

    #[test]
    fn v2_rejects_malformed_bodies_with_a_reason() {
        let cases = [
            ("not JSON", "{", "body is not JSON"),
            ("no inputs", "{}", r#"no "inputs" list"#),
            (
                "shape mismatch",
                r#"{"inputs":[{"name":"a","shape":[2,2],"data":[1,2,3]}]}"#,
                "needs 4 values",
            ),
            (
                "bad shape",
                r#"{"inputs":[{"name":"a","shape":[-1],"data":[1]}]}"#,
                "shape",
            ),
            (
                "fractional shape",
                r#"{"inputs":[{"name":"a","shape":[1.5],"data":[1]}]}"#,
                "shape",
            ),
            (
                "text shape",
                r#"{"inputs":[{"name":"a","shape":["3"],"data":[1,2,3]}]}"#,
                "shape",
            ),
            (
                "object data",
                r#"{"inputs":[{"name":"a","shape":[1],"data":[{"x":1}]}]}"#,
                "non-scalar",
            ),
            (
                "null data",
                r#"{"inputs":[{"name":"a","shape":[1],"data":[null]}]}"#,
                "non-scalar",
            ),
            ("missing data", r#"{"inputs":[{"name":"a","shape":[1]}]}"#, "non-scalar"),
            ("nameless tensor", r#"{"inputs":[{"shape":[1],"data":[1]}]}"#, "no name"),
            ("tensor not an object", r#"{"inputs":[1]}"#, "not an object"),
        ];
        for (what, body, reason) in cases {
            let err = request(Protocol::V2, body, &iris()).expect_err(what);
            assert!(err.contains(reason), "{what}: {err}");
        }
    }

    #[test]
    fn v2_takes_a_single_unnamed_output_as_the_signatures_single_output() {
        let body =
            r#"{"model_name":"iris","outputs":[{"name":"predict","shape":[3,1],"datatype":"INT64","data":[0,2,1]}]}"#;
        assert_eq!(
            parse_response(Protocol::V2, body.as_bytes(), &[cat("species")]),
            Ok(cols(&[("species", nums(&[0.0, 2.0, 1.0]))]))
        );
    }

    #[test]
    fn v2_keeps_tensor_names_without_a_signature() {
        let body = r#"{"outputs":[{"name":"predict","shape":[2],"datatype":"FP64","data":[0.1,0.2]}]}"#;
        assert_eq!(
            parse_response(Protocol::V2, body.as_bytes(), &[]),
            Ok(cols(&[("predict", nums(&[0.1, 0.2]))]))
        );
    }

    #[test]
    fn v1_reads_instances_given_as_arrays_by_position() {
        let body = r#"{"instances":[[1,2,3,4],[5,6,7,8]]}"#;
        assert_eq!(
            request(Protocol::V1, body, &iris()),
            Ok(cols(&[
                ("sepal_length", nums(&[1.0, 5.0])),
                ("sepal_width", nums(&[2.0, 6.0])),
                ("petal_length", nums(&[3.0, 7.0])),
                ("petal_width", nums(&[4.0, 8.0])),
            ]))
        );
    }

    #[test]
    fn v1_reads_instances_given_as_objects_by_key() {
        let body = r#"{"instances":[{"a":1,"b":"x"},{"a":2,"b":"y"}]}"#;
        assert_eq!(
            request(Protocol::V1, body, &[]),
            Ok(cols(&[("a", nums(&[1.0, 2.0])), ("b", vec![t("x"), t("y")])]))
        );
    }

    #[test]
    fn v1_reads_scalar_predictions_as_the_first_output() {
        let body = r#"{"predictions":[1,0,1]}"#;
        assert_eq!(
            parse_response(Protocol::V1, body.as_bytes(), &[cat("label")]),
            Ok(cols(&[("label", nums(&[1.0, 0.0, 1.0]))]))
        );
    }

    #[test]
    fn v1_falls_back_to_inputs_and_outputs_keys() {
        assert_eq!(
            request(Protocol::V1, r#"{"inputs":[[3]]}"#, &[num("x")]),
            Ok(cols(&[("x", nums(&[3.0]))]))
        );
        let body = br#"{"predictions":null,"outputs":["a"]}"#;
        assert_eq!(
            parse_response(Protocol::V1, body, &[cat("y")]),
            Ok(cols(&[("y", vec![t("a")])]))
        );
    }

    #[test]
    fn v1_keeps_positional_names_beyond_the_signature() {
        assert_eq!(
            request(Protocol::V1, r#"{"instances":[[1,2]]}"#, &[]),
            Ok(cols(&[("instances[0]", nums(&[1.0])), ("instances[1]", nums(&[2.0]))]))
        );
    }

    #[test]
    fn v1_rejects_missing_instances_null_rows_and_nested_rows() {
        for (what, body) in [
            ("no instances", "{}"),
            ("null row", r#"{"instances":[null]}"#),
            ("nested row", r#"{"instances":[[[1]]]}"#),
            ("not an object", "[1]"),
        ] {
            assert!(request(Protocol::V1, body, &iris()).is_err(), "{what}");
        }
    }

    #[test]
    fn split_tensor_splits_a_one_by_k_tensor_into_k_one_row_columns() {
        assert_eq!(
            split_tensor("x", &[1, 3], nums(&[1.0, 2.0, 3.0])),
            Ok(RawColumns {
                name: "x".into(),
                columns: vec![nums(&[1.0]), nums(&[2.0]), nums(&[3.0])]
            })
        );
    }

    #[test]
    fn a_many_column_tensor_gets_every_positional_name() {
        let k = 50_000;
        let data: Vec<String> = (0..k).map(|i| i.to_string()).collect();
        let body = format!(
            r#"{{"inputs":[{{"name":"t","shape":[1,{k}],"data":[{}]}}]}}"#,
            data.join(",")
        );
        let columns = request(Protocol::V2, &body, &[]).unwrap();
        assert_eq!(columns.len(), k);
        assert_eq!(columns[k - 1], (format!("t[{}]", k - 1), nums(&[(k - 1) as f64])));
    }

    /// A small deterministic pseudo-random generator (splitmix64): the fuzz
    /// cases are the same on every run, so a failure reproduces.
    pub struct Rng(pub u64);

    impl Rng {
        pub fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        pub fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[self.below(items.len())]
        }
        pub fn bytes(&mut self, max: usize) -> Vec<u8> {
            (0..self.below(max + 1)).map(|_| self.next() as u8).collect()
        }
    }

    mod fuzz {
        use super::*;

        fn string(rng: &mut Rng) -> String {
            let alphabet = ["x", "label", "\"", "\\", "é", "\u{0}", "[", "{", " ", "__proto__", "1"];
            (0..rng.below(5)).map(|_| *rng.pick(&alphabet)).collect()
        }

        /// JSON text of a scalar: doubles (huge, tiny, negative zero), integers, text, booleans, null.
        fn scalar(rng: &mut Rng) -> String {
            match rng.below(8) {
                0 => rng
                    .pick(&["1e308", "-1e308", "5e-324", "-0", "0.1", "1.5e300"])
                    .to_string(),
                1 => (rng.next() as i64).to_string(),
                2 => (rng.below(10)).to_string(),
                3 => serde_json::to_string(&string(rng)).unwrap(),
                4 => rng.pick(&["true", "false"]).to_string(),
                5 => "null".into(),
                6 => format!("{}", (rng.next() as f64) / 7.0),
                _ => "18446744073709551616".into(), // beyond u64
            }
        }

        /// Arbitrary JSON up to a depth.
        fn json(rng: &mut Rng, depth: usize) -> String {
            match if depth == 0 { 0 } else { rng.below(3) } {
                0 => scalar(rng),
                1 => {
                    let items: Vec<String> = (0..rng.below(5)).map(|_| json(rng, depth - 1)).collect();
                    format!("[{}]", items.join(","))
                }
                _ => {
                    let items: Vec<String> = (0..rng.below(4))
                        .map(|_| {
                            format!(
                                "{}:{}",
                                serde_json::to_string(&string(rng)).unwrap(),
                                json(rng, depth - 1)
                            )
                        })
                        .collect();
                    format!("{{{}}}", items.join(","))
                }
            }
        }

        fn list(rng: &mut Rng, max: usize, item: impl Fn(&mut Rng) -> String) -> String {
            let items: Vec<String> = (0..rng.below(max + 1)).map(|_| item(rng)).collect();
            format!("[{}]", items.join(","))
        }

        fn shape(rng: &mut Rng) -> String {
            list(rng, 4, |r| {
                r.pick(&[
                    "0",
                    "1",
                    "2",
                    "3",
                    "4",
                    "-1",
                    "1.5",
                    "1e9",
                    "9007199254740992",
                    "\"3\"",
                    "1e300",
                ])
                .to_string()
            })
        }

        fn data(rng: &mut Rng) -> String {
            match rng.below(4) {
                0 => list(rng, 12, scalar),
                1 => list(rng, 4, |r| list(r, 4, scalar)),
                2 => scalar(rng),
                _ => json(rng, 4),
            }
        }

        fn tensor(rng: &mut Rng) -> String {
            let mut fields = Vec::new();
            if rng.below(5) > 0 {
                let name = match rng.below(3) {
                    0 => serde_json::to_string(rng.pick(&["x", "label", "predict", "input-0"])).unwrap(),
                    1 => serde_json::to_string(&string(rng)).unwrap(),
                    _ => rng.below(100).to_string(),
                };
                fields.push(format!("\"name\":{name}"));
            }
            if rng.below(5) > 0 {
                fields.push(format!("\"shape\":{}", shape(rng)));
            }
            if rng.below(5) > 0 {
                fields.push(format!("\"data\":{}", data(rng)));
            }
            fields.push(format!("\"datatype\":{}", serde_json::to_string(&string(rng)).unwrap()));
            format!("{{{}}}", fields.join(","))
        }

        /// A body as JSON text: mostly protocol-shaped, with every kind of wrongness.
        fn json_body(rng: &mut Rng) -> String {
            let deep = |depth: usize, leaf: &str| format!("{}{leaf}{}", "[".repeat(depth), "]".repeat(depth));
            match rng.below(6) {
                0 => format!("{{\"inputs\":{}}}", list(rng, 3, tensor)),
                1 => format!("{{\"outputs\":{}}}", list(rng, 3, tensor)),
                2 => format!(
                    "{{\"instances\":{}}}",
                    list(rng, 6, |r| match r.below(3) {
                        0 => scalar(r),
                        1 => list(r, 5, scalar),
                        _ => json(r, 2),
                    })
                ),
                3 => format!(
                    "{{\"predictions\":{}}}",
                    list(rng, 6, |r| if r.below(2) == 0 { scalar(r) } else { list(r, 5, scalar) })
                ),
                4 => json(rng, 5),
                _ => match rng.below(5) {
                    0 => format!(
                        r#"{{"inputs":[{{"name":"x","shape":[1],"data":{}}}]}}"#,
                        deep(5_000, "1")
                    ),
                    1 => format!(r#"{{"instances":{}}}"#, deep(5_000, "")),
                    2 => r#"{"outputs":[{"name":"x","shape":[0, 1000000000],"data":[]}]}"#.into(),
                    3 => r#"{"outputs":[{"name":"x","shape":[1000000000000000, 0],"data":[]}]}"#.into(),
                    _ => r#"{"__proto__":{"inputs":1},"inputs":[{"name":"__proto__","shape":[1],"data":[1]}]}"#.into(),
                },
            }
        }

        pub fn body(rng: &mut Rng) -> Vec<u8> {
            match rng.below(6) {
                0 => rng.bytes(256),
                1 => {
                    let s = json_body(rng).into_bytes();
                    s[..s.len() / 2].to_vec() // cut anywhere, even inside a UTF-8 character
                }
                _ => json_body(rng).into_bytes(),
            }
        }

        #[test]
        fn the_parser_never_panics_whatever_the_body() {
            let fields = [num("x"), cat("label")];
            let mut rng = Rng(42);
            let (mut parsed, mut rejected) = (0, 0);
            for _ in 0..4_000 {
                let b = body(&mut rng);
                for protocol in [Protocol::V1, Protocol::V2, Protocol::Grpc] {
                    for result in [
                        parse_request(protocol, &b, &fields),
                        parse_response(protocol, &b, &fields),
                    ] {
                        match result {
                            Ok(columns) => {
                                parsed += 1;
                                // Every column is named once, whatever the body.
                                let names: HashSet<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
                                assert_eq!(names.len(), columns.len());
                            }
                            Err(_) => rejected += 1,
                        }
                    }
                }
            }
            // The generator reaches both outcomes, so the loop exercised more than the error paths.
            assert!(
                parsed > 1_000 && rejected > 1_000,
                "parsed {parsed}, rejected {rejected}"
            );
        }
    }
}
