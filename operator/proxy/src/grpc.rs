//! The Open Inference Protocol's gRPC ModelInfer messages (only the fields
//! the proxy reads; prost skips the others), and their tensors as the same
//! columns as V2 JSON. Field numbers follow grpc_predict_v2.proto of KServe
//! (the same as Triton's grpc_service.proto for these messages).
use crate::config::SignatureField;
use crate::payload::{self, Columns, Value};

#[derive(Clone, PartialEq, prost::Message)]
pub struct InferTensorContents {
    #[prost(bool, repeated, tag = "1")]
    pub bool_contents: Vec<bool>,
    #[prost(int32, repeated, tag = "2")]
    pub int_contents: Vec<i32>,
    #[prost(int64, repeated, tag = "3")]
    pub int64_contents: Vec<i64>,
    #[prost(uint32, repeated, tag = "4")]
    pub uint_contents: Vec<u32>,
    #[prost(uint64, repeated, tag = "5")]
    pub uint64_contents: Vec<u64>,
    #[prost(float, repeated, tag = "6")]
    pub fp32_contents: Vec<f32>,
    #[prost(double, repeated, tag = "7")]
    pub fp64_contents: Vec<f64>,
    #[prost(bytes = "vec", repeated, tag = "8")]
    pub bytes_contents: Vec<Vec<u8>>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct InferInputTensor {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub datatype: String,
    #[prost(int64, repeated, tag = "3")]
    pub shape: Vec<i64>,
    #[prost(message, optional, tag = "5")]
    pub contents: Option<InferTensorContents>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ModelInferRequest {
    #[prost(string, tag = "1")]
    pub model_name: String,
    #[prost(string, tag = "2")]
    pub model_version: String,
    #[prost(string, tag = "3")]
    pub id: String,
    #[prost(message, repeated, tag = "5")]
    pub inputs: Vec<InferInputTensor>,
    #[prost(bytes = "vec", repeated, tag = "7")]
    pub raw_input_contents: Vec<Vec<u8>>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct InferOutputTensor {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub datatype: String,
    #[prost(int64, repeated, tag = "3")]
    pub shape: Vec<i64>,
    #[prost(message, optional, tag = "5")]
    pub contents: Option<InferTensorContents>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ModelInferResponse {
    #[prost(string, tag = "1")]
    pub model_name: String,
    #[prost(string, tag = "2")]
    pub model_version: String,
    #[prost(string, tag = "3")]
    pub id: String,
    #[prost(message, repeated, tag = "5")]
    pub outputs: Vec<InferOutputTensor>,
    #[prost(bytes = "vec", repeated, tag = "6")]
    pub raw_output_contents: Vec<Vec<u8>>,
}

/// A message as one gRPC frame: uncompressed flag, big-endian length, message.
pub fn encode_frame(msg: &impl prost::Message) -> Vec<u8> {
    let body = msg.encode_to_vec();
    let mut frame = Vec::with_capacity(5 + body.len());
    frame.push(0);
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    frame
}

/// The first message of a gRPC frame stream.
fn first_message(body: &[u8]) -> Result<&[u8], String> {
    let (&flag, rest) = body.split_first().ok_or("empty gRPC body")?;
    if flag != 0 {
        // The proxy holds no codecs: a compressed message is not read.
        return Err(format!("gRPC message is compressed (flag {flag})"));
    }
    let (len, rest) = rest.split_first_chunk::<4>().ok_or("truncated gRPC frame header")?;
    let len = u32::from_be_bytes(*len) as usize;
    rest.get(..len).ok_or_else(|| format!("truncated gRPC message: {len} bytes announced, {} present", rest.len()))
}

/// A tensor's name, datatype, shape and contents, whichever message it came from.
struct Tensor<'a> {
    name: &'a str,
    datatype: &'a str,
    shape: &'a [i64],
    contents: Option<&'a InferTensorContents>,
}

fn numbers<T: Copy + Into<f64>>(values: &[T]) -> Vec<Value> {
    values.iter().map(|v| Value::Number((*v).into())).collect()
}

/// Values from the typed contents field the datatype uses.
fn typed_values(datatype: &str, c: &InferTensorContents) -> Result<Vec<Value>, String> {
    Ok(match datatype {
        "BOOL" => c.bool_contents.iter().map(|b| Value::Bool(*b)).collect(),
        "INT8" | "INT16" | "INT32" => numbers(&c.int_contents),
        // i64 and u64 beyond 2^53 round, as they did in JSON.
        "INT64" => c.int64_contents.iter().map(|v| Value::Number(*v as f64)).collect(),
        "UINT8" | "UINT16" | "UINT32" => numbers(&c.uint_contents),
        "UINT64" => c.uint64_contents.iter().map(|v| Value::Number(*v as f64)).collect(),
        "FP32" => numbers(&c.fp32_contents),
        "FP64" => numbers(&c.fp64_contents),
        "BYTES" => c.bytes_contents.iter().map(|b| Value::Text(String::from_utf8_lossy(b).into_owned())).collect(),
        other => return Err(format!("datatype {other:?} has no typed contents")),
    })
}

/// An IEEE half-precision float.
fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let fraction = f64::from(bits & 0x3ff);
    sign * match exponent {
        0 => fraction * 2f64.powi(-24),
        31 if fraction == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + fraction / 1024.0) * 2f64.powi(e - 15),
    }
}

/// Fixed-size little-endian elements of raw contents.
fn fixed<const N: usize>(raw: &[u8], datatype: &str, decode: impl Fn([u8; N]) -> Value) -> Result<Vec<Value>, String> {
    let (chunks, rest) = raw.as_chunks::<N>();
    if !rest.is_empty() {
        return Err(format!("raw {datatype} contents of {} bytes are not whole {N}-byte values", raw.len()));
    }
    Ok(chunks.iter().map(|c| decode(*c)).collect())
}

/// BYTES raw contents: each element a 4-byte little-endian length, then its bytes.
fn length_prefixed(mut raw: &[u8]) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    while !raw.is_empty() {
        let (len, rest) = raw.split_first_chunk::<4>().ok_or("raw BYTES contents end inside a length")?;
        let len = u32::from_le_bytes(*len) as usize;
        let text = rest.get(..len).ok_or("raw BYTES element is longer than its contents")?;
        out.push(Value::Text(String::from_utf8_lossy(text).into_owned()));
        raw = &rest[len..];
    }
    Ok(out)
}

/// Values of raw contents, decoded by the tensor's datatype.
fn raw_values(datatype: &str, raw: &[u8]) -> Result<Vec<Value>, String> {
    let n = |v: f64| Value::Number(v);
    match datatype {
        "BOOL" => fixed::<1>(raw, datatype, |b| Value::Bool(b[0] != 0)),
        "INT8" => fixed::<1>(raw, datatype, |b| n(i8::from_le_bytes(b).into())),
        "INT16" => fixed::<2>(raw, datatype, |b| n(i16::from_le_bytes(b).into())),
        "INT32" => fixed::<4>(raw, datatype, |b| n(i32::from_le_bytes(b).into())),
        "INT64" => fixed::<8>(raw, datatype, |b| n(i64::from_le_bytes(b) as f64)),
        "UINT8" => fixed::<1>(raw, datatype, |b| n(b[0].into())),
        "UINT16" => fixed::<2>(raw, datatype, |b| n(u16::from_le_bytes(b).into())),
        "UINT32" => fixed::<4>(raw, datatype, |b| n(u32::from_le_bytes(b).into())),
        "UINT64" => fixed::<8>(raw, datatype, |b| n(u64::from_le_bytes(b) as f64)),
        "FP16" => fixed::<2>(raw, datatype, |b| n(f16_to_f64(u16::from_le_bytes(b)))),
        // bfloat16 is the upper half of an f32.
        "BF16" => fixed::<2>(raw, datatype, |b| n(f32::from_bits(u32::from(u16::from_le_bytes(b)) << 16).into())),
        "FP32" => fixed::<4>(raw, datatype, |b| n(f32::from_le_bytes(b).into())),
        "FP64" => fixed::<8>(raw, datatype, |b| n(f64::from_le_bytes(b))),
        "BYTES" => length_prefixed(raw),
        other => Err(format!("datatype {other:?} is not readable from raw contents")),
    }
}

/// Tensors as named columns: tensor i's values come from raw contents i when
/// the message has raw contents, else from its typed contents.
fn columns(tensors: Vec<Tensor>, raw: &[Vec<u8>], fields: &[SignatureField]) -> Result<Columns, String> {
    let mut out = Vec::with_capacity(tensors.len());
    for (i, t) in tensors.into_iter().enumerate() {
        let shape: Option<Vec<u64>> = t.shape.iter().map(|d| u64::try_from(*d).ok()).collect();
        let shape = shape.ok_or_else(|| format!("tensor {}: shape is not a list of non-negative integers", t.name))?;
        let values = if raw.is_empty() {
            match t.contents {
                Some(c) => typed_values(t.datatype, c),
                None => Ok(Vec::new()),
            }
        } else {
            let bytes = raw.get(i).ok_or_else(|| format!("tensor {}: no raw contents", t.name))?;
            raw_values(t.datatype, bytes)
        };
        let values = values.map_err(|e| format!("tensor {}: {e}", t.name))?;
        out.push(payload::split_tensor(t.name, &shape, values)?);
    }
    Ok(payload::name_columns(out, fields))
}

fn decode<M: prost::Message + Default>(body: &[u8]) -> Result<M, String> {
    M::decode(first_message(body)?).map_err(|e| format!("gRPC message does not decode: {e}"))
}

/// Features of a ModelInfer request frame stream, named by the signature's inputs.
pub fn request_columns(body: &[u8], inputs: &[SignatureField]) -> Result<Columns, String> {
    let m: ModelInferRequest = decode(body)?;
    let tensors = m.inputs.iter().map(|t| Tensor {
        name: &t.name,
        datatype: &t.datatype,
        shape: &t.shape,
        contents: t.contents.as_ref(),
    });
    columns(tensors.collect(), &m.raw_input_contents, inputs)
}

/// Predictions of a ModelInfer response frame stream, named by the signature's outputs.
pub fn response_columns(body: &[u8], outputs: &[SignatureField]) -> Result<Columns, String> {
    let m: ModelInferResponse = decode(body)?;
    let tensors = m.outputs.iter().map(|t| Tensor {
        name: &t.name,
        datatype: &t.datatype,
        shape: &t.shape,
        contents: t.contents.as_ref(),
    });
    columns(tensors.collect(), &m.raw_output_contents, outputs)
}
