//! How live values map onto a ModelVersion reference's buckets, as the metric
//! contract (operator/api/metric-names.ts) defines them: reference bucket i
//! is (edges[i], edges[i+1]], and the outer buckets also take values outside
//! the training range. A Prometheus histogram whose `le` bounds are the inner
//! edges, then +Inf, gives exactly those counts.
//!
//! Values are compared as the TypeScript proxy did (JavaScript's Number()
//! and String()), so that 1, 1.0 and "1" stay the same class label.
use std::collections::HashSet;

use crate::contract::OTHER_CATEGORY;
use crate::payload::Value;

/// The histogram `le` bounds for a reference's edges (+Inf is implicit in Prometheus).
pub fn histogram_bounds(edges: &[f64]) -> Vec<f64> {
    match edges {
        [_, inner @ .., _] => inner.to_vec(),
        _ => Vec::new(),
    }
}

/// Index of the reference bucket a value falls in, 0 ..= edges.len() - 2
/// (0 for fewer than two edges, which make no bucket).
pub fn reference_bucket(edges: &[f64], value: f64) -> usize {
    let last = edges.len().saturating_sub(2);
    (0..last).find(|&i| value <= edges[i + 1]).unwrap_or(last)
}

/// A value as a number for a histogram, or None when it is not one (NaN, infinite, text, ...).
pub fn numeric_value(v: &Value) -> Option<f64> {
    let n = match v {
        Value::Number(n) => *n,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Text(s) => js_number(s)?,
    };
    n.is_finite().then_some(n)
}

/// JavaScript's Number(text) for the forms it accepts (blank text is not a number here).
fn js_number(text: &str) -> Option<f64> {
    let t = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if t.is_empty() {
        return None;
    }
    let radix = match t.get(..2) {
        Some("0x" | "0X") => 16,
        Some("0o" | "0O") => 8,
        Some("0b" | "0B") => 2,
        _ => {
            // Rust also reads "inf" and "nan", which are not finite either way;
            // it reads nothing finite that JavaScript would not.
            return t.parse::<f64>().ok();
        }
    };
    let digits = &t[2..];
    if digits.is_empty() {
        return None;
    }
    digits.chars().try_fold(0.0, |acc: f64, c| c.to_digit(radix).map(|d| acc * f64::from(radix) + f64::from(d)))
}

/// JavaScript's String(number): integers without ".0", exponents beyond 1e21 and below 1e-6.
pub fn js_number_text(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if v == 0.0 {
        return "0".into(); // -0 too
    }
    // Rust's {:e} gives the shortest round-tripping digits, as JavaScript does.
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let k = digits.len() as i64;
    let n = exp.parse::<i64>().unwrap_or(0) + 1; // the decimal point sits after n digits
    let sign = if v < 0.0 { "-" } else { "" };
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let rest = if k > 1 { format!(".{}", &digits[1..]) } else { String::new() };
        let e = n - 1;
        format!("{}{rest}e{}{}", &digits[..1], if e >= 0 { "+" } else { "-" }, e.abs())
    };
    format!("{sign}{body}")
}

/// Text of a categorical value: 1 and "1" and 1.0 are the same class label.
pub fn category_text(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => js_number_text(*n),
    }
}

/// The category label a value is counted under: its text if the reference knows it, else "__other__".
pub fn category_of(known: &HashSet<String>, v: &Value) -> String {
    let text = category_text(v);
    if known.contains(&text) { text } else { OTHER_CATEGORY.to_string() }
}
