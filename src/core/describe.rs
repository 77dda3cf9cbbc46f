//! Per-column summaries of a frame (`describe`): counts, missing values,
//! moments and quartiles for numbers, levels for categories.

use std::collections::BTreeMap;

use crate::core::cohort::{Roles, TypedColumn, Values};
use crate::output::{Cell, Table};

/// The role a column plays, as shown to users.
pub fn role_of(roles: &Roles, name: &str) -> &'static str {
    if roles.id.as_deref() == Some(name) {
        "id"
    } else if roles.outcome.as_deref() == Some(name) {
        "outcome"
    } else if roles.categorical.iter().any(|c| c == name) {
        "categorical"
    } else if roles.continuous.iter().any(|c| c == name) {
        "continuous"
    } else {
        ""
    }
}

/// Sample quantile with linear interpolation between order statistics
/// (numpy's default, R type 7). `sorted` must be ascending and non-empty.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Mean and sample standard deviation (n − 1); SD is NaN for n < 2.
pub fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let ss: f64 = x.iter().map(|v| (v - mean).powi(2)).sum();
    (mean, if x.len() > 1 { (ss / (n - 1.0)).sqrt() } else { f64::NAN })
}

/// [`mean_sd`] of the finite values only (a fold with one class has no AUC).
pub fn mean_sd_finite(x: &[f64]) -> (f64, f64) {
    let finite: Vec<f64> = x.iter().copied().filter(|v| v.is_finite()).collect();
    mean_sd(&finite)
}

/// The `describe` table: one row per column.
pub fn describe(columns: &[TypedColumn], roles: &Roles) -> Table {
    let mut table = Table::new([
        "column", "type", "role", "n", "missing", "mean", "sd", "min", "q1", "median", "q3", "max", "levels",
    ]);
    for col in columns {
        let role = role_of(roles, &col.name);
        let n = col.values.len() - col.values.missing();
        let mut row: Vec<Cell> = vec![
            col.name.as_str().into(),
            col.values.type_name().into(),
            role.into(),
            n.into(),
            col.values.missing().into(),
        ];
        let numeric = match &col.values {
            Values::Int(_) | Values::Float(_) if role != "id" && role != "categorical" => col.values.as_f64(),
            _ => None,
        };
        match numeric {
            Some(values) => {
                let mut x: Vec<f64> = values.into_iter().flatten().collect();
                x.sort_by(f64::total_cmp);
                if x.is_empty() {
                    row.extend(std::iter::repeat_n(Cell::Null, 7));
                } else {
                    let (mean, sd) = mean_sd(&x);
                    row.extend(
                        [
                            mean,
                            sd,
                            x[0],
                            quantile_sorted(&x, 0.25),
                            quantile_sorted(&x, 0.5),
                            quantile_sorted(&x, 0.75),
                            x[x.len() - 1],
                        ]
                        .map(Cell::from),
                    );
                }
                row.push(Cell::Null);
            }
            None => {
                row.extend(std::iter::repeat_n(Cell::Null, 7));
                row.push(levels_summary(&col.values.as_text(), role == "id").into());
            }
        }
        table.push(row);
    }
    table
}

/// "male 75, female 22" — levels by count (descending, then name); ids and
/// columns with many levels just report how many distinct values there are.
fn levels_summary(values: &[Option<String>], is_id: bool) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for v in values.iter().flatten() {
        *counts.entry(v.as_str()).or_default() += 1;
    }
    if is_id || counts.len() > 8 {
        return format!("{} distinct", counts.len());
    }
    let mut levels: Vec<(&str, usize)> = counts.into_iter().collect();
    levels.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    levels.iter().map(|(l, n)| format!("{l} {n}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartiles_match_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4, 10], [25, 50, 75]) == [2., 3., 4.]
        let x = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert_eq!(quantile_sorted(&x, 0.25), 2.0);
        assert_eq!(quantile_sorted(&x, 0.5), 3.0);
        // numpy.percentile([1, 2, 3, 4], 25) == 1.75
        assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0, 4.0], 0.25), 1.75);
    }

    #[test]
    fn mean_and_sample_sd() {
        let (m, sd) = mean_sd(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(m, 5.0);
        assert!((sd - 2.138089935299395).abs() < 1e-12);
    }

    #[test]
    fn levels_are_sorted_by_count() {
        let v: Vec<Option<String>> = ["m", "f", "m", "m"].iter().map(|s| Some(s.to_string())).chain([None]).collect();
        assert_eq!(levels_summary(&v, false), "m 3, f 1");
    }
}
