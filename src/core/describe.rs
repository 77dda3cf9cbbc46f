//! Per-column summaries of a frame (`describe`): counts, missing values,
//! moments and quartiles for numbers, levels for categories.

use std::collections::BTreeMap;

use crate::core::cohort::{Roles, TypedColumn, Values};
use crate::core::stats::{MwuMethod, chi_square, kruskal_wallis, mann_whitney};
use crate::error::{Error, Result};
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

/// The distinct values of a grouping column: numbers in numeric order,
/// text in text order (so `nn = 0` comes before `nn = 1`, stage II before III).
pub fn sorted_levels(values: &[Option<String>]) -> Vec<String> {
    let mut levels: Vec<String> = values.iter().flatten().cloned().collect();
    levels.sort_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        _ => a.cmp(b),
    });
    levels.dedup();
    levels
}

/// `describe --by`: the same statistics per level of the column `by`, one
/// row per (column, group), and a test per column across the groups —
/// Mann-Whitney U (two groups) or Kruskal-Wallis (more) for numbers,
/// Pearson's chi-square (no continuity correction) for categories, as
/// scipy computes them. Rows whose `by` value is missing are left out.
pub fn describe_by(columns: &[TypedColumn], roles: &Roles, by: &str) -> Result<Table> {
    let by_col = columns
        .iter()
        .find(|c| c.name == by)
        .ok_or_else(|| Error::invalid(format!("no column `{by}` to group by"), None))?;
    let by_values = by_col.values.as_text();
    let levels = sorted_levels(&by_values);
    if levels.len() < 2 {
        return Err(Error::invalid(
            format!("`{by}` has {} level(s); --by needs at least two groups", levels.len()),
            None,
        ));
    }
    if levels.len() > 12 {
        return Err(Error::invalid(
            format!("`{by}` has {} levels; --by takes a grouping column (at most 12 levels)", levels.len()),
            Some("derive a grouping first, e.g. `mutate A old = case when age > 50 then 1 else 0 end`"),
        ));
    }
    let member: Vec<Vec<usize>> = levels
        .iter()
        .map(|l| (0..by_values.len()).filter(|&r| by_values[r].as_deref() == Some(l.as_str())).collect())
        .collect();
    let mut table = Table::new([
        "column", "type", "group", "n", "missing", "mean", "sd", "min", "q1", "median", "q3", "max", "levels",
        "p_value", "test",
    ]);
    for col in columns.iter().filter(|c| c.name != by && roles.id.as_deref() != Some(c.name.as_str())) {
        let role = role_of(roles, &col.name);
        let numeric = match &col.values {
            Values::Int(_) | Values::Float(_) if role != "categorical" && role != "outcome" => col.values.as_f64(),
            _ => None,
        };
        let texts = col.values.as_text();
        let (p, test) = match &numeric {
            Some(values) => {
                let samples: Vec<Vec<f64>> =
                    member.iter().map(|rows| rows.iter().filter_map(|&r| values[r]).collect()).collect();
                numeric_test(&samples)
            }
            None => categorical_test(&texts, &member),
        };
        for (level, rows) in levels.iter().zip(&member) {
            let missing = rows.iter().filter(|&&r| texts[r].is_none()).count();
            let mut row: Vec<Cell> = vec![
                col.name.as_str().into(),
                col.values.type_name().into(),
                format!("{by} = {level}").into(),
                (rows.len() - missing).into(),
                missing.into(),
            ];
            match &numeric {
                Some(values) => {
                    let mut x: Vec<f64> = rows.iter().filter_map(|&r| values[r]).collect();
                    x.sort_by(f64::total_cmp);
                    row.extend(numeric_summary(&x));
                    row.push(Cell::Null);
                }
                None => {
                    row.extend(std::iter::repeat_n(Cell::Null, 7));
                    let sub: Vec<Option<String>> = rows.iter().map(|&r| texts[r].clone()).collect();
                    row.push(levels_summary(&sub, false).into());
                }
            }
            row.push(p.map_or(Cell::Null, Cell::Float));
            row.push(test.clone().into());
            table.push(row);
        }
    }
    Ok(table)
}

fn numeric_summary(sorted: &[f64]) -> Vec<Cell> {
    if sorted.is_empty() {
        return vec![Cell::Null; 7];
    }
    let (mean, sd) = mean_sd(sorted);
    [
        mean,
        sd,
        sorted[0],
        quantile_sorted(sorted, 0.25),
        quantile_sorted(sorted, 0.5),
        quantile_sorted(sorted, 0.75),
        sorted[sorted.len() - 1],
    ]
    .map(Cell::from)
    .to_vec()
}

/// The across-group test of a numeric column; `None` with the reason when
/// it cannot be computed (a group without values, all values equal).
fn numeric_test(samples: &[Vec<f64>]) -> (Option<f64>, String) {
    if samples.iter().any(Vec::is_empty) {
        return (None, "not tested: a group has no values".into());
    }
    let result = if samples.len() == 2 {
        mann_whitney(&samples[0], &samples[1], MwuMethod::Auto)
    } else {
        let refs: Vec<&[f64]> = samples.iter().map(Vec::as_slice).collect();
        kruskal_wallis(&refs)
    };
    match result {
        Ok(r) if r.p_value.is_finite() => (Some(r.p_value), r.method),
        Ok(r) => (None, format!("not tested: {} undefined", r.method)),
        Err(e) => (None, format!("not tested: {e}")),
    }
}

fn categorical_test(texts: &[Option<String>], member: &[Vec<usize>]) -> (Option<f64>, String) {
    let mut categories: Vec<&str> = texts.iter().flatten().map(String::as_str).collect();
    categories.sort_unstable();
    categories.dedup();
    if categories.len() < 2 {
        return (None, "not tested: one category".into());
    }
    if categories.len() > 20 {
        return (None, format!("not tested: {} categories", categories.len()));
    }
    let counts: Vec<Vec<f64>> = categories
        .iter()
        .map(|c| {
            member.iter().map(|rows| rows.iter().filter(|&&r| texts[r].as_deref() == Some(c)).count() as f64).collect()
        })
        .collect();
    match chi_square(&counts, false) {
        Ok(r) => (Some(r.test.p_value), r.test.method),
        Err(e) => (None, format!("not tested: {e}")),
    }
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
