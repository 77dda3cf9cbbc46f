//! What the single hypothesis tests (`chisq`, `fisher`, `mannwhitney`,
//! `ttest`) share: their common signature, the groups and the variable
//! (`--on COL`) resolved and recorded as a run, and the result as a row.

use crate::core::cohort::TypedColumn;
use crate::core::stats::TestResult;
use crate::error::{Error, Result};
use crate::output::Table;
use crate::session::Session;
use crate::signature::{ArgKind, Args, Signature};
use crate::store::RunKind;
use crate::store::records::{TestParams, TestResultMetrics};
use crate::workflow::groups::{Grouping, check_column, resolve};

pub fn base(name: &'static str, description: &'static str) -> Signature {
    Signature::new(name, "statistics", description)
        .rest("GROUPS", ArgKind::Frame, "two or more frames, or one frame with --by")
        .named("by", "COL", ArgKind::Column, "split one frame into groups by this column's levels")
        .named("on", "COL", ArgKind::Column, "the variable to test (required)")
}

/// The groups and the variable's column in each.
pub struct Prepared {
    pub grouping: Grouping,
    pub variable: String,
    pub columns: Vec<TypedColumn>,
}

pub fn prepare(
    args: &Args,
    session: &mut Session,
    run_kind: RunKind,
    extra: impl FnOnce(&mut TestParams),
) -> Result<(Prepared, i64)> {
    let kind = run_kind.as_str();
    let grouping = resolve(session, args, &args.positionals)?;
    let Some(on) = args.value("on") else {
        return Err(Error::invalid(
            format!("`{kind}` needs --on COL, the variable to test"),
            Some(&format!("see `help {kind}`")),
        ));
    };
    check_column(&grouping, &on.text, on)?;
    let columns: Vec<TypedColumn> =
        grouping.groups.iter().filter_map(|g| g.columns.iter().find(|c| c.name == on.text).cloned()).collect();
    let mut params = TestParams {
        groups: args.positionals.iter().map(|t| t.text.clone()).collect::<Vec<_>>().join(","),
        variable: on.text.clone(),
        by: grouping.by.clone(),
        yates: None,
        welch: None,
        method: None,
    };
    extra(&mut params);
    let run = session.begin_run(args, run_kind, &params, None)?;
    for &d in &grouping.dataset_ids {
        session.store().link_dataset(run, d)?;
    }
    Ok((Prepared { grouping, variable: on.text.clone(), columns }, run))
}

pub fn numeric_samples(p: &Prepared) -> Result<Vec<Vec<f64>>> {
    p.columns
        .iter()
        .zip(&p.grouping.groups)
        .map(|(c, g)| {
            c.values.as_f64().map(|v| v.into_iter().flatten().collect()).ok_or_else(|| {
                Error::invalid(
                    format!("column `{}` of `{}` is not numeric", p.variable, g.name),
                    Some("use chisq or fisher for categorical variables"),
                )
            })
        })
        .collect()
}

pub fn two(p: &Prepared, kind: &str) -> Result<()> {
    if p.grouping.groups.len() == 2 {
        Ok(())
    } else {
        Err(Error::invalid(
            format!("`{kind}` compares exactly two groups; there are {}", p.grouping.groups.len()),
            Some("use table1 or `chisq` for more groups"),
        ))
    }
}

pub fn result_table(p: &Prepared, r: &TestResult, session: &Session, run: i64) -> Result<Table> {
    session.store().log_metrics(run, None, &TestResultMetrics { statistic: r.statistic, p_value: r.p_value })?;
    let groups: Vec<&str> = p.grouping.groups.iter().map(|g| g.name.as_str()).collect();
    let mut t = Table::new(["test", "variable", "groups", "statistic", "df", "p_value", "n"]);
    t.push(vec![
        r.method.as_str().into(),
        p.variable.as_str().into(),
        groups.join(" vs ").into(),
        r.statistic.into(),
        r.df.into(),
        r.p_value.into(),
        r.n.into(),
    ]);
    if p.grouping.simulated {
        t.notes.push("SIMULATED cohort (not real patients)".into());
    }
    Ok(t)
}

/// Levels × groups counts of a categorical variable.
pub fn contingency(p: &Prepared) -> (Vec<String>, Vec<Vec<f64>>) {
    let texts: Vec<Vec<Option<String>>> = p.columns.iter().map(|c| c.values.as_text()).collect();
    let mut levels: Vec<String> = texts.iter().flatten().flatten().cloned().collect();
    levels.sort();
    levels.dedup();
    let counts = levels
        .iter()
        .map(|l| texts.iter().map(|t| t.iter().filter(|v| v.as_deref() == Some(l)).count() as f64).collect())
        .collect();
    (levels, counts)
}
