//! Table 1: the baseline characteristics of groups, with a p-value and the
//! name of its test on every variable. Pure: the caller supplies the groups'
//! columns; the result is a table plus notes.
//!
//! Test policies:
//! - `pearson` (the paper's footnote): Pearson chi-square without continuity
//!   correction for categorical variables; Mann-Whitney U (two groups) or
//!   Kruskal-Wallis (more) for continuous ones.
//! - `tableone` (Python tableone 0.9's defaults): chi-square with Yates'
//!   correction on 2×2 tables, Fisher's exact test on 2×2 tables with an
//!   expected count below 5; Welch's t-test (two groups) or one-way ANOVA
//!   (more) for normal continuous variables, Kruskal-Wallis for those listed
//!   as non-normal. Checked against tableone in tests/table1_tableone.rs.
//! - `gtsummary` (R gtsummary's defaults): chi-square without correction, or
//!   Fisher's exact test when an expected count is below 5; Wilcoxon rank-sum
//!   (exact when both groups have < 50 observations and no ties, as R's
//!   `wilcox.test`) or Kruskal-Wallis for continuous variables.
//!
//! Fisher's exact test is offered for 2×2 tables only; where a policy asks for
//! it on a larger table, chi-square is used and a note says so.

use std::collections::BTreeMap;

use crate::core::cohort::{TypedColumn, Values};
use crate::core::describe::{mean_sd, quantile_sorted};
use crate::core::stats::{self, MwuMethod, TestResult};
use crate::error::{Error, Result};
use crate::output::{Cell, Table};

/// A test policy by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Pearson,
    TableOne,
    Gtsummary,
    /// As SPSS 25 reports a Table 1: Pearson chi-square, and Mann-Whitney's
    /// asymptotic significance (tie-corrected, no continuity correction).
    Spss,
}

impl Policy {
    pub const NAMES: &'static [&'static str] = &["pearson", "tableone", "gtsummary", "spss"];

    pub fn parse(s: &str) -> Option<Policy> {
        match s {
            "pearson" => Some(Policy::Pearson),
            "tableone" => Some(Policy::TableOne),
            "gtsummary" => Some(Policy::Gtsummary),
            "spss" => Some(Policy::Spss),
            _ => None,
        }
    }
}

/// A test chosen for one variable, overriding the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestChoice {
    ChiSquare,
    ChiSquareYates,
    Fisher,
    MannWhitney,
    Kruskal,
    Anova,
    Student,
    Welch,
}

impl TestChoice {
    pub const NAMES: &'static [&'static str] =
        &["chisq", "chisq-yates", "fisher", "mannwhitney", "kruskal", "anova", "ttest", "welch"];

    pub fn parse(s: &str) -> Option<TestChoice> {
        Some(match s {
            "chisq" => TestChoice::ChiSquare,
            "chisq-yates" => TestChoice::ChiSquareYates,
            "fisher" => TestChoice::Fisher,
            "mannwhitney" => TestChoice::MannWhitney,
            "kruskal" => TestChoice::Kruskal,
            "anova" => TestChoice::Anova,
            "ttest" => TestChoice::Student,
            "welch" => TestChoice::Welch,
            _ => return None,
        })
    }

    fn is_categorical(self) -> bool {
        matches!(self, TestChoice::ChiSquare | TestChoice::ChiSquareYates | TestChoice::Fisher)
    }
}

/// How a continuous variable is summarised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContinuousStat {
    /// `mean (min–max)`, the paper's style.
    MeanRange,
    /// `mean (SD)`.
    MeanSd,
    /// `median [Q1, Q3]`.
    MedianIqr,
}

impl ContinuousStat {
    pub const NAMES: &'static [&'static str] = &["mean-range", "mean-sd", "median-iqr"];

    pub fn parse(s: &str) -> Option<ContinuousStat> {
        match s {
            "mean-range" => Some(ContinuousStat::MeanRange),
            "mean-sd" => Some(ContinuousStat::MeanSd),
            "median-iqr" => Some(ContinuousStat::MedianIqr),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            ContinuousStat::MeanRange => "mean (min–max)",
            ContinuousStat::MeanSd => "mean (SD)",
            ContinuousStat::MedianIqr => "median [Q1, Q3]",
        }
    }
}

/// What to put in the table, checked before anything is computed.
#[derive(Debug, Clone)]
pub struct Table1Spec {
    pub categorical: Vec<String>,
    pub continuous: Vec<String>,
    /// Continuous variables treated as non-normal (rank tests under `tableone`).
    pub nonnormal: Vec<String>,
    pub policy: Policy,
    pub overrides: BTreeMap<String, TestChoice>,
    pub stat: ContinuousStat,
    pub overall: bool,
    pub decimals: usize,
    /// Add a standardized mean difference column (two groups only).
    pub smd: bool,
}

/// One group: a name and its columns (all the same length).
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub columns: Vec<TypedColumn>,
}

impl Group {
    fn rows(&self) -> usize {
        self.columns.first().map_or(0, |c| c.values.len())
    }

    fn column(&self, name: &str) -> Option<&TypedColumn> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// The p-value of one variable, with its test.
#[derive(Debug, Clone, PartialEq)]
pub struct VariableTest {
    pub variable: String,
    pub result: Option<TestResult>,
    /// Why no p-value was computed, when it was not.
    pub reason: Option<String>,
    /// Standardized mean difference between two groups, when asked for.
    pub smd: Option<f64>,
}

/// The finished table and the tests behind it.
#[derive(Debug, Clone)]
pub struct Table1 {
    pub table: Table,
    pub tests: Vec<VariableTest>,
}

/// Builds Table 1 for `groups` (at least two, each with rows).
pub fn table1(groups: &[Group], spec: &Table1Spec) -> Result<Table1> {
    if groups.len() < 2 {
        return Err(Error::invalid(
            "Table 1 compares at least two groups",
            Some("give two frames, or one frame with --by COL"),
        ));
    }
    if let Some(g) = groups.iter().find(|g| g.rows() == 0) {
        return Err(Error::invalid(
            format!("group `{}` has no rows, so nothing can be compared", g.name),
            Some("check the frame or the --by column's levels"),
        ));
    }
    for name in spec.categorical.iter().chain(&spec.continuous) {
        for g in groups {
            if g.column(name).is_none() {
                return Err(Error::invalid(
                    format!("group `{}` has no column `{name}`", g.name),
                    Some("every group must have the columns the table lists"),
                ));
            }
        }
    }
    for (name, choice) in &spec.overrides {
        let categorical = spec.categorical.contains(name);
        if !categorical && !spec.continuous.contains(name) {
            return Err(Error::invalid(format!("--test names `{name}`, which is not a row of the table"), None));
        }
        if categorical != choice.is_categorical() {
            return Err(Error::invalid(
                format!(
                    "--test {name}: that test does not fit a {} variable",
                    if categorical { "categorical" } else { "continuous" }
                ),
                Some("categorical: chisq, chisq-yates, fisher; continuous: mannwhitney, kruskal, anova, ttest, welch"),
            ));
        }
    }

    let mut columns = vec!["variable".to_string(), "level".to_string()];
    columns.extend(groups.iter().map(|g| g.name.clone()));
    if spec.overall {
        columns.push("overall".into());
    }
    let smd = spec.smd && groups.len() == 2;
    if smd {
        columns.push("smd".into());
    }
    columns.extend(["p_value".to_string(), "test".to_string()]);
    let mut table = Table::new(columns);
    table.merge_first_column = true;
    let width = table.columns.len();
    let mut n_row: Vec<Cell> = vec!["n".into(), "".into()];
    n_row.extend(groups.iter().map(|g| Cell::Int(g.rows() as i64)));
    if spec.overall {
        n_row.push(Cell::Int(groups.iter().map(Group::rows).sum::<usize>() as i64));
    }
    n_row.extend(std::iter::repeat_n(Cell::Null, 2 + usize::from(smd)));
    table.push(n_row);

    let mut tests = Vec::new();
    let mut fallbacks = Vec::new();
    for name in &spec.categorical {
        let columns: Vec<&TypedColumn> = groups.iter().filter_map(|g| g.column(name)).collect();
        let (rows, test) = categorical_rows(name, &columns, spec, &mut fallbacks);
        push_variable(&mut table, width, rows, &test, smd);
        tests.push(test);
    }
    for name in &spec.continuous {
        let columns: Vec<&TypedColumn> = groups.iter().filter_map(|g| g.column(name)).collect();
        let (rows, test) =
            continuous_rows(name, &columns, spec, &groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>())?;
        push_variable(&mut table, width, rows, &test, smd);
        tests.push(test);
    }

    if spec.smd && !smd {
        table.notes.push("smd: shown for two groups only".into());
    }
    table.notes.push(format!(
        "categorical: n (% of the column total); continuous: {}; test policy: {}",
        spec.stat.label(),
        Policy::NAMES[spec.policy as usize]
    ));
    table.notes.extend(fallbacks);
    for t in &tests {
        if let Some(reason) = &t.reason {
            table.notes.push(format!("{}: no p-value — {reason}", t.variable));
        }
    }
    Ok(Table1 { table, tests })
}

/// Adds a variable's rows; its SMD, p-value and test go on its first row.
fn push_variable(table: &mut Table, width: usize, rows: Vec<Vec<Cell>>, test: &VariableTest, smd: bool) {
    for (i, mut row) in rows.into_iter().enumerate() {
        if smd {
            row.push(if i == 0 { test.smd.map_or(Cell::Null, |v| Cell::from(v)) } else { Cell::Null });
        }
        if i == 0 {
            match &test.result {
                Some(r) => row.extend([Cell::Float(r.p_value), Cell::Text(r.method.clone())]),
                None => row.extend([Cell::Null, Cell::Text("not computed".into())]),
            }
        } else {
            row.extend([Cell::Null, Cell::Null]);
        }
        debug_assert_eq!(row.len(), width);
        table.push(row);
    }
}

fn level_order(levels: &mut [String]) {
    levels.sort_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        _ => a.cmp(b),
    });
}

fn categorical_rows(
    name: &str,
    columns: &[&TypedColumn],
    spec: &Table1Spec,
    fallbacks: &mut Vec<String>,
) -> (Vec<Vec<Cell>>, VariableTest) {
    let texts: Vec<Vec<Option<String>>> = columns.iter().map(|c| c.values.as_text()).collect();
    let mut levels: Vec<String> = texts.iter().flatten().flatten().cloned().collect();
    levels.sort();
    levels.dedup();
    level_order(&mut levels);
    let counts: Vec<Vec<u64>> = texts
        .iter()
        .map(|t| levels.iter().map(|l| t.iter().filter(|v| v.as_deref() == Some(l)).count() as u64).collect())
        .collect();
    let totals: Vec<usize> = texts.iter().map(Vec::len).collect();
    let missing: Vec<usize> = texts.iter().map(|t| t.iter().filter(|v| v.is_none()).count()).collect();
    let pct = |n: u64, total: usize| if total == 0 { 0.0 } else { 100.0 * n as f64 / total as f64 };
    let mut rows = Vec::new();
    for (li, level) in levels.iter().enumerate() {
        let mut row: Vec<Cell> = vec![name.into(), level.as_str().into()];
        row.extend(counts.iter().zip(&totals).map(|(c, &t)| Cell::Text(format!("{} ({:.1})", c[li], pct(c[li], t)))));
        if spec.overall {
            let n: u64 = counts.iter().map(|c| c[li]).sum();
            row.push(Cell::Text(format!("{n} ({:.1})", pct(n, totals.iter().sum()))));
        }
        rows.push(row);
    }
    push_missing_row(&mut rows, name, &missing, spec.overall);

    // Levels × groups contingency table.
    let observed: Vec<Vec<f64>> = (0..levels.len()).map(|li| counts.iter().map(|c| c[li] as f64).collect()).collect();
    let mut test = categorical_test(name, &observed, spec, fallbacks);
    if spec.smd && counts.len() == 2 {
        let share = |c: &Vec<u64>| {
            let total: u64 = c.iter().sum();
            c.iter().map(|n| if total > 0 { *n as f64 / total as f64 } else { f64::NAN }).collect::<Vec<f64>>()
        };
        test.smd = Some(stats::smd_categorical(&share(&counts[0]), &share(&counts[1]))).filter(|v| v.is_finite());
    }
    (rows, test)
}

fn push_missing_row(rows: &mut Vec<Vec<Cell>>, name: &str, missing: &[usize], overall: bool) {
    if missing.iter().all(|m| *m == 0) {
        return;
    }
    let mut row: Vec<Cell> = vec![name.into(), "missing".into()];
    row.extend(missing.iter().map(|m| Cell::Int(*m as i64)));
    if overall {
        row.push(Cell::Int(missing.iter().sum::<usize>() as i64));
    }
    rows.push(row);
}

fn categorical_test(name: &str, observed: &[Vec<f64>], spec: &Table1Spec, fallbacks: &mut Vec<String>) -> VariableTest {
    let none = |reason: String| VariableTest { variable: name.into(), result: None, reason: Some(reason), smd: None };
    if observed.len() < 2 {
        return none("the variable has a single level".into());
    }
    let plain = match stats::chi_square(observed, false) {
        Ok(r) => r,
        Err(e) => return none(e.to_string()),
    };
    let is_2x2 = observed.len() == 2 && observed[0].len() == 2;
    let choice = spec.overrides.get(name).copied().unwrap_or(match spec.policy {
        Policy::Pearson | Policy::Spss => TestChoice::ChiSquare,
        Policy::TableOne if is_2x2 && plain.min_expected < 5.0 => TestChoice::Fisher,
        Policy::TableOne => TestChoice::ChiSquareYates,
        Policy::Gtsummary if plain.min_expected < 5.0 => TestChoice::Fisher,
        Policy::Gtsummary => TestChoice::ChiSquare,
    });
    let result = match choice {
        TestChoice::Fisher if is_2x2 => {
            let c = |i: usize, j: usize| observed[i][j] as u64;
            Ok(stats::fisher_exact([[c(0, 0), c(0, 1)], [c(1, 0), c(1, 1)]]))
        }
        TestChoice::Fisher => {
            fallbacks.push(format!(
                "{name}: Fisher's exact test is offered for 2×2 tables only; Pearson chi-square was used ({} levels)",
                observed.len()
            ));
            Ok(plain.test.clone())
        }
        TestChoice::ChiSquareYates => stats::chi_square(observed, true).map(|r| r.test),
        _ => Ok(plain.test.clone()),
    };
    match result {
        Ok(r) => VariableTest { variable: name.into(), result: Some(r), reason: None, smd: None },
        Err(e) => none(e.to_string()),
    }
}

fn continuous_rows(
    name: &str,
    columns: &[&TypedColumn],
    spec: &Table1Spec,
    group_names: &[&str],
) -> Result<(Vec<Vec<Cell>>, VariableTest)> {
    let mut samples: Vec<Vec<f64>> = Vec::new();
    let mut missing = Vec::new();
    for (col, group) in columns.iter().zip(group_names) {
        let Some(values) = col.values.as_f64() else {
            let example = match &col.values {
                Values::Text(v) => v.iter().flatten().next().cloned().unwrap_or_default(),
                other => format!("{} values", other.type_name()),
            };
            return Err(Error::invalid(
                format!(
                    "column `{name}` of group `{group}` is not numeric (e.g. `{example}`), so it cannot be continuous"
                ),
                Some("list it under --categorical instead"),
            ));
        };
        missing.push(values.iter().filter(|v| v.is_none()).count());
        samples.push(values.into_iter().flatten().collect());
    }
    let d = spec.decimals;
    let summary = |x: &[f64]| -> Cell {
        if x.is_empty() {
            return Cell::Text("—".into());
        }
        let mut s = x.to_vec();
        s.sort_by(f64::total_cmp);
        let (mean, sd) = mean_sd(&s);
        Cell::Text(match spec.stat {
            ContinuousStat::MeanRange => format!("{mean:.d$} ({:.d$}–{:.d$})", s[0], s[s.len() - 1]),
            ContinuousStat::MeanSd if s.len() > 1 => format!("{mean:.d$} ({sd:.d$})"),
            ContinuousStat::MeanSd => format!("{mean:.d$} (—)"),
            ContinuousStat::MedianIqr => format!(
                "{:.d$} [{:.d$}, {:.d$}]",
                quantile_sorted(&s, 0.5),
                quantile_sorted(&s, 0.25),
                quantile_sorted(&s, 0.75)
            ),
        })
    };
    let mut row: Vec<Cell> = vec![name.into(), spec.stat.label().into()];
    row.extend(samples.iter().map(|s| summary(s)));
    if spec.overall {
        let all: Vec<f64> = samples.iter().flatten().copied().collect();
        row.push(summary(&all));
    }
    let mut rows = vec![row];
    push_missing_row(&mut rows, name, &missing, spec.overall);
    let mut test = continuous_test(name, &samples, spec);
    if spec.smd && samples.len() == 2 {
        test.smd = Some(stats::smd_continuous(&samples[0], &samples[1])).filter(|v| v.is_finite());
    }
    Ok((rows, test))
}

fn continuous_test(name: &str, samples: &[Vec<f64>], spec: &Table1Spec) -> VariableTest {
    let none = |reason: String| VariableTest { variable: name.into(), result: None, reason: Some(reason), smd: None };
    if let Some(i) = samples.iter().position(Vec::is_empty) {
        return none(format!("group {} has no non-missing values", i + 1));
    }
    let all: Vec<f64> = samples.iter().flatten().copied().collect();
    if all.iter().all(|v| *v == all[0]) {
        return none("the column is constant".into());
    }
    let two = samples.len() == 2;
    let nonnormal = spec.nonnormal.iter().any(|n| n == name);
    let choice = spec.overrides.get(name).copied().unwrap_or(match spec.policy {
        Policy::Pearson | Policy::Gtsummary | Policy::Spss if two => TestChoice::MannWhitney,
        Policy::Pearson | Policy::Gtsummary | Policy::Spss => TestChoice::Kruskal,
        Policy::TableOne if nonnormal => TestChoice::Kruskal,
        Policy::TableOne if two => TestChoice::Welch,
        Policy::TableOne => TestChoice::Anova,
    });
    let refs: Vec<&[f64]> = samples.iter().map(Vec::as_slice).collect();
    let result = match choice {
        TestChoice::MannWhitney if two => {
            let method = if spec.policy == Policy::Gtsummary && !spec.overrides.contains_key(name) {
                // R's wilcox.test: exact below 50 per group without ties.
                let ties = {
                    let mut s = all.clone();
                    s.sort_by(f64::total_cmp);
                    s.windows(2).any(|w| w[0] == w[1])
                };
                if samples[0].len() < 50 && samples[1].len() < 50 && !ties {
                    MwuMethod::Exact
                } else {
                    MwuMethod::Asymptotic
                }
            } else if spec.policy == Policy::Spss && !spec.overrides.contains_key(name) {
                MwuMethod::AsymptoticNoContinuity
            } else {
                MwuMethod::Auto
            };
            stats::mann_whitney(&samples[0], &samples[1], method)
        }
        TestChoice::MannWhitney | TestChoice::Kruskal => stats::kruskal_wallis(&refs),
        TestChoice::Student if two => stats::t_test(&samples[0], &samples[1], true),
        TestChoice::Welch if two => stats::t_test(&samples[0], &samples[1], false),
        TestChoice::Student | TestChoice::Welch => {
            return none("a t-test compares two groups; use anova or kruskal for more".into());
        }
        _ => stats::one_way_anova(&refs),
    };
    match result {
        Ok(r) => VariableTest { variable: name.into(), result: Some(r), reason: None, smd: None },
        Err(e) => none(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(name: &str, v: &[&str]) -> TypedColumn {
        TypedColumn { name: name.into(), values: Values::Text(v.iter().map(|s| Some(s.to_string())).collect()) }
    }

    fn num(name: &str, v: &[f64]) -> TypedColumn {
        TypedColumn { name: name.into(), values: Values::Float(v.iter().map(|x| Some(*x)).collect()) }
    }

    fn spec(policy: Policy) -> Table1Spec {
        Table1Spec {
            categorical: vec!["sex".into()],
            continuous: vec!["age".into()],
            nonnormal: vec![],
            policy,
            overrides: BTreeMap::new(),
            stat: ContinuousStat::MeanRange,
            overall: false,
            decimals: 1,
            smd: false,
        }
    }

    fn groups() -> Vec<Group> {
        vec![
            Group {
                name: "A".into(),
                columns: vec![text("sex", &["m", "m", "f", "m"]), num("age", &[40.0, 50.0, 60.0, 45.0])],
            },
            Group { name: "B".into(), columns: vec![text("sex", &["f", "f", "m"]), num("age", &[30.0, 35.0, 41.0])] },
        ]
    }

    #[test]
    fn rows_and_tests_per_policy() {
        let t = table1(&groups(), &spec(Policy::Pearson)).unwrap();
        assert_eq!(t.table.rows[1][2], Cell::Text("1 (25.0)".into()));
        assert_eq!(t.table.rows[3][2], Cell::Text("48.8 (40.0–60.0)".into()));
        assert_eq!(t.tests[0].result.as_ref().unwrap().method, "Pearson chi-square");
        assert_eq!(t.tests[1].result.as_ref().unwrap().method, "Mann-Whitney U (exact)");
        let t = table1(&groups(), &spec(Policy::TableOne)).unwrap();
        assert_eq!(t.tests[0].result.as_ref().unwrap().method, "Fisher's exact test");
        assert_eq!(t.tests[1].result.as_ref().unwrap().method, "Welch's t-test");
    }

    #[test]
    fn constant_column_gets_a_reason_not_nan() {
        let mut g = groups();
        g[0].columns[1] = num("age", &[5.0; 4]);
        g[1].columns[1] = num("age", &[5.0; 3]);
        let t = table1(&g, &spec(Policy::Pearson)).unwrap();
        assert!(t.tests[1].result.is_none());
        assert_eq!(t.table.rows[3][4], Cell::Null);
        assert!(t.table.notes.iter().any(|n| n == "age: no p-value — the column is constant"));
    }

    #[test]
    fn text_as_continuous_and_empty_group_are_errors() {
        let mut s = spec(Policy::Pearson);
        s.continuous = vec!["sex".into()];
        s.categorical.clear();
        assert!(
            table1(&groups(), &s)
                .unwrap_err()
                .to_string()
                .contains("column `sex` of group `A` is not numeric (e.g. `m`)")
        );
        let mut g = groups();
        g[1].columns = vec![text("sex", &[]), num("age", &[])];
        assert!(table1(&g, &spec(Policy::Pearson)).unwrap_err().to_string().contains("group `B` has no rows"));
    }
}
