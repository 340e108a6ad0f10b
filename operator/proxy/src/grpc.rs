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

/// A tensor of a request (InferTensor) or an answer (InferTensor):
/// the two messages have the same fields under the same numbers.
#[derive(Clone, PartialEq, prost::Message)]
pub struct InferTensor {
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
    pub inputs: Vec<InferTensor>,
    #[prost(bytes = "vec", repeated, tag = "7")]
    pub raw_input_contents: Vec<Vec<u8>>,
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
    pub outputs: Vec<InferTensor>,
    #[prost(bytes = "vec", repeated, tag = "6")]
    pub raw_output_contents: Vec<Vec<u8>>,
}

/// A message as one gRPC frame: uncompressed flag, big-endian length, message.
#[cfg(test)]
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
    rest.get(..len)
        .ok_or_else(|| format!("truncated gRPC message: {len} bytes announced, {} present", rest.len()))
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
        "BYTES" => c
            .bytes_contents
            .iter()
            .map(|b| Value::Text(String::from_utf8_lossy(b).into_owned()))
            .collect(),
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
        return Err(format!(
            "raw {datatype} contents of {} bytes are not whole {N}-byte values",
            raw.len()
        ));
    }
    Ok(chunks.iter().map(|c| decode(*c)).collect())
}

/// BYTES raw contents: each element a 4-byte little-endian length, then its bytes.
fn length_prefixed(mut raw: &[u8]) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    while !raw.is_empty() {
        let (len, rest) = raw
            .split_first_chunk::<4>()
            .ok_or("raw BYTES contents end inside a length")?;
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
        "BF16" => fixed::<2>(raw, datatype, |b| {
            n(f32::from_bits(u32::from(u16::from_le_bytes(b)) << 16).into())
        }),
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
            let bytes = raw
                .get(i)
                .ok_or_else(|| format!("tensor {}: no raw contents", t.name))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::tests::{Rng, cat, cols, n, num, t};
    use crate::payload::{Protocol, parse_request, parse_response};

    fn input(name: &str, datatype: &str, shape: &[i64], contents: Option<InferTensorContents>) -> InferTensor {
        InferTensor {
            name: name.into(),
            datatype: datatype.into(),
            shape: shape.to_vec(),
            contents,
        }
    }
    fn request(inputs: Vec<InferTensor>, raw: Vec<Vec<u8>>) -> Vec<u8> {
        encode_frame(&ModelInferRequest {
            model_name: "iris".into(),
            inputs,
            raw_input_contents: raw,
            ..Default::default()
        })
    }

    #[test]
    fn typed_fp32_contents_split_into_the_signature_columns() {
        let contents = InferTensorContents {
            fp32_contents: vec![1.0, 2.0, 3.0, 4.5],
            ..Default::default()
        };
        let body = request(vec![input("input-0", "FP32", &[2, 2], Some(contents))], vec![]);
        assert_eq!(
            parse_request(Protocol::Grpc, &body, &[num("a"), num("b")]),
            Ok(cols(&[("a", vec![n(1.0), n(3.0)]), ("b", vec![n(2.0), n(4.5)])]))
        );
    }

    #[test]
    fn typed_contents_of_each_datatype_are_read_from_their_field() {
        let c = InferTensorContents {
            bool_contents: vec![true],
            int_contents: vec![-3],
            int64_contents: vec![-4],
            uint_contents: vec![5],
            uint64_contents: vec![6],
            fp64_contents: vec![0.25],
            bytes_contents: vec![b"red".to_vec()],
            ..Default::default()
        };
        let tensors = ["BOOL", "INT16", "INT64", "UINT8", "UINT64", "FP64", "BYTES"]
            .iter()
            .map(|d| input(&d.to_lowercase(), d, &[1], Some(c.clone())))
            .collect();
        let columns = parse_request(Protocol::Grpc, &request(tensors, vec![]), &[]).unwrap();
        let expected = [
            ("bool", Value::Bool(true)),
            ("int16", n(-3.0)),
            ("int64", n(-4.0)),
            ("uint8", n(5.0)),
            ("uint64", n(6.0)),
            ("fp64", n(0.25)),
            ("bytes", t("red")),
        ];
        assert_eq!(columns, cols(&expected.map(|(k, v)| (k, vec![v]))));
    }

    #[test]
    fn raw_contents_are_decoded_little_endian_by_datatype() {
        let fp32: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let int64: Vec<u8> = [7i64, -8].iter().flat_map(|v| v.to_le_bytes()).collect();
        let fp16 = [0x00, 0x3c, 0x00, 0xc0]; // 1.0, -2.0
        let uint16 = [0x01, 0x01, 0xff, 0xff]; // 257, 65535
        let boolean = [1, 0];
        let body = request(
            vec![
                input("f", "FP32", &[2], None),
                input("i", "INT64", &[2], None),
                input("h", "FP16", &[2], None),
                input("u", "UINT16", &[2], None),
                input("b", "BOOL", &[2], None),
            ],
            vec![fp32, int64, fp16.to_vec(), uint16.to_vec(), boolean.to_vec()],
        );
        assert_eq!(
            parse_request(Protocol::Grpc, &body, &[]),
            Ok(cols(&[
                ("f", vec![n(1.5), n(-2.0)]),
                ("i", vec![n(7.0), n(-8.0)]),
                ("h", vec![n(1.0), n(-2.0)]),
                ("u", vec![n(257.0), n(65535.0)]),
                ("b", vec![Value::Bool(true), Value::Bool(false)]),
            ]))
        );
    }

    #[test]
    fn raw_bytes_are_length_prefixed_text() {
        let mut raw = Vec::new();
        for s in ["red", "", "blue"] {
            raw.extend_from_slice(&(s.len() as u32).to_le_bytes());
            raw.extend_from_slice(s.as_bytes());
        }
        let body = request(vec![input("color", "BYTES", &[3], None)], vec![raw.clone()]);
        assert_eq!(
            parse_request(Protocol::Grpc, &body, &[cat("color")]),
            Ok(cols(&[("color", vec![t("red"), t(""), t("blue")])]))
        );
        // A length running past the contents is an error, not a read beyond them.
        raw.truncate(raw.len() - 1);
        let body = request(vec![input("color", "BYTES", &[3], None)], vec![raw]);
        assert!(
            parse_request(Protocol::Grpc, &body, &[])
                .unwrap_err()
                .contains("longer than its contents")
        );
    }

    #[test]
    fn raw_contents_that_are_not_whole_values_or_missing_are_errors() {
        let body = request(vec![input("f", "FP32", &[1], None)], vec![vec![0, 0, 0]]);
        assert!(
            parse_request(Protocol::Grpc, &body, &[])
                .unwrap_err()
                .contains("not whole 4-byte values")
        );
        let body = request(
            vec![input("a", "FP32", &[1], None), input("b", "FP32", &[1], None)],
            vec![vec![0; 4]],
        );
        assert!(
            parse_request(Protocol::Grpc, &body, &[])
                .unwrap_err()
                .contains("tensor b: no raw contents")
        );
    }

    #[test]
    fn responses_name_outputs_by_the_signature() {
        let contents = InferTensorContents {
            int64_contents: vec![0, 2, 1],
            ..Default::default()
        };
        let msg = ModelInferResponse {
            outputs: vec![InferTensor {
                name: "predict".into(),
                datatype: "INT64".into(),
                shape: vec![3, 1],
                contents: Some(contents),
            }],
            ..Default::default()
        };
        let body = encode_frame(&msg);
        assert_eq!(
            parse_response(Protocol::Grpc, &body, &[cat("species")]),
            Ok(cols(&[("species", vec![n(0.0), n(2.0), n(1.0)])]))
        );
        assert_eq!(
            parse_response(Protocol::Grpc, &body, &[]),
            Ok(cols(&[("predict", vec![n(0.0), n(2.0), n(1.0)])]))
        );
    }

    #[test]
    fn tensors_named_like_fields_match_them_and_extra_columns_are_positional() {
        let color = InferTensorContents {
            bytes_contents: vec![b"red".to_vec()],
            ..Default::default()
        };
        let rest = InferTensorContents {
            fp64_contents: vec![0.5, 1.5, 2.5],
            ..Default::default()
        };
        let body = request(
            vec![
                input("color", "BYTES", &[1], Some(color)),
                input("rest", "FP64", &[1, 3], Some(rest)),
            ],
            vec![],
        );
        assert_eq!(
            parse_request(Protocol::Grpc, &body, &[num("size"), cat("color")]),
            Ok(cols(&[
                ("color", vec![t("red")]),
                ("size", vec![n(0.5)]),
                ("rest[1]", vec![n(1.5)]),
                ("rest[2]", vec![n(2.5)]),
            ]))
        );
    }

    #[test]
    fn only_the_first_message_of_the_stream_is_read() {
        let first = InferTensorContents {
            fp32_contents: vec![1.0],
            ..Default::default()
        };
        let mut body = request(vec![input("x", "FP32", &[1], Some(first))], vec![]);
        body.extend_from_slice(&[0, 0, 0, 0, 9, 1, 2]); // a second, truncated frame
        assert_eq!(
            parse_request(Protocol::Grpc, &body, &[num("x")]),
            Ok(cols(&[("x", vec![n(1.0)])]))
        );
    }

    #[test]
    fn a_compressed_message_is_an_error() {
        let mut body = request(vec![input("x", "FP32", &[0], None)], vec![]);
        body[0] = 1;
        assert!(
            parse_request(Protocol::Grpc, &body, &[])
                .unwrap_err()
                .contains("compressed")
        );
    }

    #[test]
    fn truncated_frames_are_errors() {
        let contents = InferTensorContents {
            fp32_contents: vec![1.0],
            ..Default::default()
        };
        let body = request(vec![input("x", "FP32", &[1], Some(contents))], vec![]);
        for cut in [0, 1, 4, body.len() - 1] {
            let err = parse_request(Protocol::Grpc, &body[..cut], &[]).unwrap_err();
            assert!(err.contains("truncated") || err.contains("empty"), "cut {cut}: {err}");
        }
    }

    #[test]
    fn shapes_are_checked_as_for_json() {
        let contents = InferTensorContents {
            fp32_contents: vec![1.0, 2.0, 3.0],
            ..Default::default()
        };
        let body = request(vec![input("x", "FP32", &[2, 2], Some(contents))], vec![]);
        assert!(
            parse_request(Protocol::Grpc, &body, &[])
                .unwrap_err()
                .contains("needs 4 values, data has 3")
        );
        let body = request(vec![input("x", "FP32", &[-1], None)], vec![]);
        assert!(parse_request(Protocol::Grpc, &body, &[]).unwrap_err().contains("shape"));
        // A claimed [0, 1e9] holds nothing and allocates nothing.
        let body = request(vec![input("x", "FP32", &[0, 1_000_000_000], None)], vec![]);
        assert_eq!(parse_request(Protocol::Grpc, &body, &[]), Ok(vec![]));
    }

    #[test]
    fn raw_bfloat16_and_signed_bytes_decode() {
        let bf16 = [0x80, 0x3f, 0x20, 0xc0]; // 1.0, -2.5
        let body = request(
            vec![input("b", "BF16", &[2], None), input("i", "INT8", &[2], None)],
            vec![bf16.to_vec(), vec![0xff, 0x7f]],
        );
        assert_eq!(
            parse_request(Protocol::Grpc, &body, &[]),
            Ok(cols(&[("b", vec![n(1.0), n(-2.5)]), ("i", vec![n(-1.0), n(127.0)])]))
        );
    }

    #[test]
    fn half_floats_decode_subnormals_and_specials() {
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert_eq!(f16_to_f64(0x7bff), 65504.0);
        assert_eq!(f16_to_f64(0xfc00), f64::NEG_INFINITY);
        assert!(f16_to_f64(0x7e00).is_nan());
    }

    #[test]
    fn the_grpc_parser_never_panics_on_random_or_mutated_frames() {
        let contents = InferTensorContents {
            fp32_contents: vec![1.0, 2.0],
            ..Default::default()
        };
        let valid = request(
            vec![
                input("x", "FP32", &[2, 1], Some(contents)),
                input("label", "BYTES", &[1], None),
            ],
            vec![],
        );
        let raw = request(
            vec![input("x", "FP16", &[1], None), input("y", "BYTES", &[2], None)],
            vec![vec![0, 60], vec![1, 0, 0, 0, 97]],
        );
        let fields = [num("x"), cat("label")];
        let mut rng = Rng(7);
        let mut parsed = 0;
        for _ in 0..20_000 {
            let mut body = rng.pick(&[valid.clone(), raw.clone()]).clone();
            match rng.below(3) {
                0 => body = rng.bytes(64),
                1 => {
                    // Flip bytes after the frame header, keeping the frame well-formed.
                    for _ in 0..1 + rng.below(4) {
                        let i = 5 + rng.below(body.len() - 5);
                        body[i] = rng.next() as u8;
                    }
                }
                _ => {
                    // Random shape or datatype in an otherwise valid message.
                    let dims: Vec<i64> = (0..rng.below(4))
                        .map(|_| *rng.pick(&[0, 1, 2, -1, i64::MAX, 1 << 32]))
                        .collect();
                    let dt = *rng.pick(&["FP32", "FP16", "BF16", "BYTES", "BOOL", "INT8", "UINT64", "XYZ", ""]);
                    let raw_bytes = rng.bytes(16);
                    let with_raw = rng.below(2) == 0;
                    body = request(
                        vec![input("x", dt, &dims, None)],
                        if with_raw { vec![raw_bytes] } else { vec![] },
                    );
                }
            }
            for result in [
                parse_request(Protocol::Grpc, &body, &fields),
                parse_response(Protocol::Grpc, &body, &fields),
            ] {
                parsed += usize::from(result.is_ok());
            }
        }
        assert!(parsed > 1_000, "only {parsed} parsed");
    }
}
