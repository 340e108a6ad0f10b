//! Compares the shadow's predictions with the primary's for the same request.
//! Pure. Classification outputs agree when the labels are equal; regression
//! outputs give an absolute difference per row. An output's kind comes from
//! the signature; without one, text and booleans are labels and numbers are
//! regression values.
use std::collections::HashMap;

use crate::buckets::{category_text, numeric_value};
use crate::config::{FieldType, SignatureField};
use crate::payload::{Columns, Value};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Comparison {
    pub agree: u64,
    pub disagree: u64,
    /// |primary - shadow| per compared numeric prediction.
    pub abs_differences: Vec<f64>,
    /// Rows present in one response but not the other, or values that cannot be compared.
    pub incomparable: u64,
}

fn kind_of(name: &str, outputs: &[SignatureField], sample: Option<&Value>) -> FieldType {
    match outputs.iter().find(|f| f.name == name) {
        Some(f) => f.kind,
        None if matches!(sample, Some(Value::Number(_))) => FieldType::Numeric,
        None => FieldType::Categorical,
    }
}

fn compare_column(kind: FieldType, primary: &[Value], shadow: &[Value], out: &mut Comparison) {
    for r in 0..primary.len().max(shadow.len()) {
        let (Some(p), Some(s)) = (primary.get(r), shadow.get(r)) else {
            out.incomparable += 1;
            continue;
        };
        match kind {
            FieldType::Categorical if category_text(p) == category_text(s) => out.agree += 1,
            FieldType::Categorical => out.disagree += 1,
            FieldType::Numeric => match (numeric_value(p), numeric_value(s)) {
                (Some(a), Some(b)) => out.abs_differences.push((a - b).abs()),
                _ => out.incomparable += 1,
            },
        }
    }
}

/// The first column of each name (a name is looked up once per output, so
/// a response of many columns costs no quadratic search).
fn by_name(columns: &Columns) -> HashMap<&str, &[Value]> {
    let mut map = HashMap::with_capacity(columns.len());
    for (name, values) in columns {
        map.entry(name.as_str()).or_insert(values.as_slice());
    }
    map
}

/// Compares every output the signature names (or, without a signature, every
/// output of the primary) row by row.
pub fn compare_predictions(primary: &Columns, shadow: &Columns, outputs: &[SignatureField]) -> Comparison {
    let mut out = Comparison::default();
    let (p_map, s_map) = (by_name(primary), by_name(shadow));
    let names: Vec<&str> = if outputs.is_empty() {
        primary.iter().map(|(n, _)| n.as_str()).collect()
    } else {
        outputs.iter().map(|f| f.name.as_str()).collect()
    };
    for name in names {
        let Some(p) = p_map.get(name) else { continue };
        let s = s_map.get(name).copied().unwrap_or(&[]);
        compare_column(kind_of(name, outputs, p.first()), p, s, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::tests::{cat, cols, n, num, t};

    #[test]
    fn counts_equal_labels_as_agreement_treating_1_and_text_1_as_the_same_label() {
        let c = compare_predictions(
            &cols(&[("label", vec![n(0.0), n(1.0), n(2.0), t("1")])]),
            &cols(&[("label", vec![t("0"), n(2.0), n(2.0), n(1.0)])]),
            &[cat("label")],
        );
        assert_eq!(
            c,
            Comparison {
                agree: 3,
                disagree: 1,
                abs_differences: vec![],
                incomparable: 0
            }
        );
    }

    #[test]
    fn gives_absolute_differences_for_numeric_outputs() {
        let c = compare_predictions(
            &cols(&[("y", vec![n(1.0), n(2.5), n(3.0)])]),
            &cols(&[("y", vec![n(1.5), n(2.5), t("x")])]),
            &[num("y")],
        );
        assert_eq!(c.abs_differences, vec![0.5, 0.0]);
        assert_eq!(c.incomparable, 1);
    }

    #[test]
    fn counts_rows_missing_on_one_side_as_incomparable() {
        let c = compare_predictions(
            &cols(&[("y", vec![t("a"), t("b")])]),
            &cols(&[("y", vec![t("a")])]),
            &[cat("y")],
        );
        assert_eq!((c.agree, c.disagree, c.incomparable), (1, 0, 1));
    }

    #[test]
    fn counts_every_row_of_an_output_the_shadow_lacks_as_incomparable() {
        let c = compare_predictions(&cols(&[("y", vec![t("a"), t("b")])]), &cols(&[]), &[cat("y"), cat("z")]);
        assert_eq!(
            c,
            Comparison {
                incomparable: 2,
                ..Default::default()
            }
        );
    }

    #[test]
    fn without_a_signature_text_is_a_label_and_numbers_are_regression_values() {
        let c = compare_predictions(
            &cols(&[("cls", vec![t("a"), t("b")]), ("score", vec![n(0.25)])]),
            &cols(&[("cls", vec![t("a"), t("a")]), ("score", vec![n(0.5)])]),
            &[],
        );
        assert_eq!(
            c,
            Comparison {
                agree: 1,
                disagree: 1,
                abs_differences: vec![0.25],
                incomparable: 0
            }
        );
    }
}
