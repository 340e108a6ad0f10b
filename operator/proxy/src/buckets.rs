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
/// (0 for fewer than two edges, which make no bucket). The tests' oracle for
/// the histograms' `le` bounds.
#[cfg(test)]
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
    digits.chars().try_fold(0.0, |acc: f64, c| {
        c.to_digit(radix).map(|d| acc * f64::from(radix) + f64::from(d))
    })
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
        let rest = if k > 1 {
            format!(".{}", &digits[1..])
        } else {
            String::new()
        };
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
    if known.contains(&text) {
        text
    } else {
        OTHER_CATEGORY.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::tests::{n, t};

    const EDGES: [f64; 4] = [0.0, 1.0, 2.0, 4.0];

    #[test]
    fn uses_the_inner_edges_as_le_bounds() {
        assert_eq!(histogram_bounds(&EDGES), vec![1.0, 2.0]);
        assert_eq!(histogram_bounds(&[0.0, 1.0]), Vec::<f64>::new());
        assert_eq!(histogram_bounds(&[0.0]), Vec::<f64>::new());
    }

    #[test]
    fn puts_values_in_reference_buckets_upper_edge_inclusive() {
        let cases = [
            (-5.0, 0), // below the training range: first bucket
            (0.0, 0),
            (1.0, 0), // (0, 1] is bucket 0: upper edge inclusive, like le
            (1.0001, 1),
            (2.0, 1),
            (3.0, 2),
            (100.0, 2), // above the range: last bucket
        ];
        for (value, bucket) in cases {
            assert_eq!(reference_bucket(&EDGES, value), bucket, "{value}");
        }
    }

    #[test]
    fn reads_numbers_from_numbers_numeric_text_and_booleans_only() {
        let values = [
            n(1.5),
            t("2.5"),
            Value::Bool(true),
            t("x"),
            t(""),
            t("  "),
            n(f64::NAN),
            n(f64::INFINITY),
        ];
        let got: Vec<Option<f64>> = values.iter().map(numeric_value).collect();
        assert_eq!(got, vec![Some(1.5), Some(2.5), Some(1.0), None, None, None, None, None]);
    }

    #[test]
    fn reads_text_as_javascripts_number_did() {
        let cases = [
            (" 42\n", Some(42.0)),
            ("1e3", Some(1000.0)),
            (".5", Some(0.5)),
            ("5.", Some(5.0)),
            ("-0.25", Some(-0.25)),
            ("+7", Some(7.0)),
            ("0x1F", Some(31.0)),
            ("0b101", Some(5.0)),
            ("0o17", Some(15.0)),
            ("0x", None),
            ("-0x1", None),
            ("Infinity", None),
            ("inf", None),
            ("NaN", None),
            ("1e400", None),
            ("1,5", None),
            ("12abc", None),
        ];
        for (text, want) in cases {
            assert_eq!(numeric_value(&t(text)), want, "{text:?}");
        }
    }

    #[test]
    fn writes_numbers_as_javascripts_string_did() {
        let cases = [
            (1.0, "1"),
            (-0.0, "0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (123456789.0, "123456789"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (1e20, "100000000000000000000"),
            (1e-6, "0.000001"),
            (1.5e-7, "1.5e-7"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
            (0.30000000000000004, "0.30000000000000004"),
        ];
        for (v, want) in cases {
            assert_eq!(js_number_text(v), want, "{v}");
        }
    }

    #[test]
    fn counts_unknown_categories_as_other() {
        let known: HashSet<String> = ["a", "1"].map(String::from).into();
        let got: Vec<String> = [t("a"), n(1.0), t("b"), Value::Bool(true)]
            .iter()
            .map(|v| category_of(&known, v))
            .collect();
        assert_eq!(got, ["a", "1", OTHER_CATEGORY, OTHER_CATEGORY]);
    }

    #[test]
    fn booleans_are_true_and_false_labels() {
        assert_eq!(category_text(&Value::Bool(false)), "false");
    }
}
