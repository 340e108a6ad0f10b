//! Feature and prediction distributions, rendered in the Prometheus text
//! format by hand: each feature has its own bucket bounds (from its
//! reference), which one histogram family with a single bucket set cannot
//! express. Only names the reference lists get series, and categories it
//! does not list count as "__other__", so cardinality is bounded by the
//! ModelVersion, never by traffic. Every series is atomics bound at start-up:
//! observe() takes no lock.
use std::collections::{HashMap, HashSet};

use crate::buckets::{category_of, histogram_bounds, numeric_value};
use crate::config::{FieldType, ReferenceEntry};
use crate::contract::OTHER_CATEGORY;
use crate::exposition::{Counter, Histogram, escape_label_value, family_header};
use crate::payload::Columns;

#[derive(Clone, Copy, Debug)]
pub struct DistributionNames {
    /// Histogram family for numeric entries.
    pub histogram: &'static str,
    /// Counter family for categorical entries.
    pub counter: &'static str,
    /// Label carrying the entry's name: `feature` or `output`.
    pub label: &'static str,
    pub help: &'static str,
}

enum Series {
    Numeric(Histogram),
    Categorical {
        known: HashSet<String>,
        /// The known categories in reference order, then __other__.
        counts: Vec<(String, Counter)>,
        index: HashMap<String, usize>,
    },
}

impl Series {
    fn categorical(categories: &[String]) -> Series {
        let mut counts = Vec::new();
        let mut index = HashMap::new();
        for c in categories.iter().map(String::as_str).chain([OTHER_CATEGORY]) {
            if !index.contains_key(c) {
                index.insert(c.to_string(), counts.len());
                counts.push((c.to_string(), Counter::default()));
            }
        }
        Series::Categorical {
            known: categories.iter().cloned().collect(),
            counts,
            index,
        }
    }
}

pub struct Distributions {
    /// In reference order; a name listed twice keeps its first place and its last definition.
    series: Vec<(String, Series)>,
    index: HashMap<String, usize>,
    names: DistributionNames,
}

impl Distributions {
    pub fn new(reference: &[ReferenceEntry], names: DistributionNames) -> Self {
        let mut d = Distributions {
            series: Vec::new(),
            index: HashMap::new(),
            names,
        };
        for entry in reference {
            let series = match (entry.kind, &entry.edges) {
                (FieldType::Numeric, Some(edges)) => Series::Numeric(Histogram::new(histogram_bounds(edges))),
                (FieldType::Numeric, None) => continue,
                (FieldType::Categorical, _) => Series::categorical(entry.categories.as_deref().unwrap_or(&[])),
            };
            match d.index.get(&entry.name) {
                Some(&i) => d.series[i].1 = series,
                None => {
                    d.index.insert(entry.name.clone(), d.series.len());
                    d.series.push((entry.name.clone(), series));
                }
            }
        }
        d
    }

    /// Whether no column can be observed: then the proxy need not parse bodies for it.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    pub fn observe(&self, columns: &Columns) {
        for (name, values) in columns {
            let Some(&i) = self.index.get(name) else { continue };
            match &self.series[i].1 {
                Series::Numeric(h) => values.iter().filter_map(numeric_value).for_each(|v| h.observe(v)),
                Series::Categorical { known, counts, index } => {
                    for v in values {
                        // category_of gives a known category or __other__, both indexed.
                        if let Some(&c) = index.get(&category_of(known, v)) {
                            counts[c].1.inc();
                        }
                    }
                }
            }
        }
    }

    /// Text exposition of both families; `base_labels` is the rendered common
    /// labels, e.g. `namespace="a",...`.
    pub fn render(&self, base_labels: &str, out: &mut String) {
        let DistributionNames {
            histogram,
            counter,
            label,
            help,
        } = self.names;
        let mut cats = String::new();
        family_header(histogram, "histogram", help, out);
        family_header(counter, "counter", help, &mut cats);
        for (name, series) in &self.series {
            let own = format!("{base_labels},{label}=\"{}\"", escape_label_value(name));
            match series {
                Series::Numeric(h) => h.render(histogram, &own, out),
                Series::Categorical { counts, .. } => {
                    for (c, n) in counts {
                        let c = escape_label_value(c);
                        cats.push_str(&format!("{counter}{{{own},category=\"{c}\"}} {}\n", n.get()));
                    }
                }
            }
        }
        out.push_str(&cats);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buckets::reference_bucket;
    use crate::payload::tests::{n, t};

    const NAMES: DistributionNames = DistributionNames {
        histogram: "h",
        counter: "c",
        label: "feature",
        help: "x",
    };
    const EDGES: [f64; 4] = [0.0, 1.0, 2.0, 4.0];

    fn numeric(name: &str, edges: &[f64]) -> ReferenceEntry {
        ReferenceEntry {
            name: name.into(),
            kind: FieldType::Numeric,
            edges: Some(edges.to_vec()),
            categories: None,
        }
    }
    fn categorical(name: &str, categories: &[&str]) -> ReferenceEntry {
        let categories = Some(categories.iter().map(|c| c.to_string()).collect());
        ReferenceEntry {
            name: name.into(),
            kind: FieldType::Categorical,
            edges: None,
            categories,
        }
    }
    fn render(d: &Distributions) -> String {
        let mut out = String::new();
        d.render("ns=\"a\"", &mut out);
        out
    }

    #[test]
    fn renders_cumulative_buckets_that_reproduce_the_reference_bucket_counts() {
        let d = Distributions::new(&[numeric("f", &EDGES)], NAMES);
        let values = [-1.0, 0.5, 1.0, 1.5, 3.0, 9.0, f64::NAN];
        d.observe(&vec![
            ("f".into(), values.map(n).to_vec()),
            ("unknown".into(), vec![n(1.0)]),
        ]);
        let text = render(&d);
        assert!(text.contains("h_bucket{ns=\"a\",feature=\"f\",le=\"1\"} 3\n"), "{text}");
        assert!(text.contains("h_bucket{ns=\"a\",feature=\"f\",le=\"2\"} 4\n"), "{text}");
        assert!(
            text.contains("h_bucket{ns=\"a\",feature=\"f\",le=\"+Inf\"} 6\n"),
            "{text}"
        );
        assert!(text.contains("h_count{ns=\"a\",feature=\"f\"} 6\n"), "{text}");
        assert!(!text.contains("unknown"));
        let mut per_bucket = [0; 3];
        for v in values.iter().filter(|v| v.is_finite()) {
            per_bucket[reference_bucket(&EDGES, *v)] += 1;
        }
        assert_eq!(per_bucket, [3, 1, 2]);
    }

    #[test]
    fn exports_every_known_category_and_other_from_the_start() {
        let d = Distributions::new(&[categorical("color", &["red", "we\"ird"])], NAMES);
        d.observe(&vec![("color".into(), vec![t("red"), t("red"), t("green")])]);
        let text = render(&d);
        assert!(
            text.contains("c{ns=\"a\",feature=\"color\",category=\"red\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("c{ns=\"a\",feature=\"color\",category=\"we\\\"ird\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("c{ns=\"a\",feature=\"color\",category=\"__other__\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn renders_the_whole_text_in_the_typescript_proxys_layout() {
        let reference = [
            numeric("f", &[0.0, 1.0, 2.0]),
            categorical("color", &["red", "red"]),
            categorical("f2", &[]),
        ];
        let d = Distributions::new(&reference, NAMES);
        d.observe(&vec![
            ("f".into(), vec![n(0.5), t("1.5")]),
            ("color".into(), vec![t("red")]),
        ]);
        let want = "# HELP h x\n# TYPE h histogram\n\
            h_bucket{ns=\"a\",feature=\"f\",le=\"1\"} 1\n\
            h_bucket{ns=\"a\",feature=\"f\",le=\"+Inf\"} 2\n\
            h_sum{ns=\"a\",feature=\"f\"} 2\n\
            h_count{ns=\"a\",feature=\"f\"} 2\n\
            # HELP c x\n# TYPE c counter\n\
            c{ns=\"a\",feature=\"color\",category=\"red\"} 1\n\
            c{ns=\"a\",feature=\"color\",category=\"__other__\"} 0\n\
            c{ns=\"a\",feature=\"f2\",category=\"__other__\"} 0\n";
        assert_eq!(render(&d), want);
    }

    #[test]
    fn renders_both_family_headers_even_when_empty() {
        let empty = Distributions::new(&[], NAMES);
        assert!(empty.is_empty());
        assert_eq!(
            render(&empty),
            "# HELP h x\n# TYPE h histogram\n# HELP c x\n# TYPE c counter\n"
        );
    }

    #[test]
    fn a_numeric_entry_without_edges_gets_no_series() {
        let entry = ReferenceEntry {
            name: "f".into(),
            kind: FieldType::Numeric,
            edges: None,
            categories: None,
        };
        assert!(Distributions::new(&[entry], NAMES).is_empty());
    }

    #[test]
    fn a_name_listed_twice_keeps_its_first_place_and_last_definition() {
        let reference = [
            categorical("a", &["x"]),
            categorical("b", &[]),
            numeric("a", &[0.0, 1.0, 2.0]),
        ];
        let d = Distributions::new(&reference, NAMES);
        let text = render(&d);
        assert!(text.contains("h_count{ns=\"a\",feature=\"a\"} 0\n"), "{text}");
        assert!(!text.contains("category=\"x\""), "{text}");
    }

    #[test]
    fn observes_from_many_threads_without_losing_counts() {
        let d = Distributions::new(&[numeric("f", &EDGES), categorical("c", &["a"])], NAMES);
        let columns: Columns = vec![("f".into(), vec![n(0.5); 100]), ("c".into(), vec![t("a"); 100])];
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| (0..100).for_each(|_| d.observe(&columns)));
            }
        });
        let text = render(&d);
        assert!(text.contains("h_count{ns=\"a\",feature=\"f\"} 80000\n"), "{text}");
        assert!(
            text.contains("c{ns=\"a\",feature=\"c\",category=\"a\"} 80000\n"),
            "{text}"
        );
    }
}
