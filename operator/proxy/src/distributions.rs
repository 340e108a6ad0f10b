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
        Series::Categorical { known: categories.iter().cloned().collect(), counts, index }
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
        let mut d = Distributions { series: Vec::new(), index: HashMap::new(), names };
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
        let DistributionNames { histogram, counter, label, help } = self.names;
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
