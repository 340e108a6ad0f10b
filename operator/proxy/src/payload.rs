//! Reads features and predictions out of inference payloads (filled in next).
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
