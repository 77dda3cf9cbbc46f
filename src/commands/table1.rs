//! `table1 A B` / `table1 A --by COL`: the baseline table with a p-value and
//! the name of its test on every variable, recorded as a run.

use std::collections::BTreeMap;

use crate::core::table1::{ContinuousStat, Policy, Table1Spec, TestChoice, table1};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::render;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::RunKind;
use crate::store::records::{P_VALUE, Table1Params};
use crate::syntax::Token;
use crate::workflow::groups::{Grouping, check_column, column_list, resolve};

pub struct Table1;

impl Command for Table1 {
    fn signature(&self) -> Signature {
        Signature::new(
            "table1",
            "statistics",
            "Baseline table of two or more groups, with a p-value and test per variable",
        )
        .rest("GROUPS", ArgKind::Frame, "two or more frames, or one frame with --by")
        .named("by", "COL", ArgKind::Column, "split one frame into groups by this column's levels")
        .named("categorical", "COLS", ArgKind::Columns, "categorical rows (default: the manifest's, plus the outcome)")
        .named("continuous", "COLS", ArgKind::Columns, "continuous rows (default: the manifest's)")
        .named("nonnormal", "COLS", ArgKind::Columns, "continuous rows tested with rank tests under --tests tableone")
        .named("tests", "POLICY", ArgKind::Text, "pearson (default; the paper's), tableone, gtsummary or spss (SPSS 25: Mann-Whitney without continuity correction)")
        .named(
            "test",
            "VAR=TEST,…",
            ArgKind::Text,
            "per-variable tests: chisq chisq-yates fisher mannwhitney kruskal anova ttest welch",
        )
        .named("stat", "STAT", ArgKind::Text, "continuous summary: mean-range (default), mean-sd, median-iqr")
        .named("decimals", "N", ArgKind::Int, "decimals of continuous summaries (default 1)")
        .switch("overall", "add a column for all groups together")
        .switch("smd", "add the standardized mean difference (two groups; tableone's definition)")
        .table()
        .example("table1 A B", "the paper's Table 1: A vs B, chi-square and Mann-Whitney")
        .example("table1 A --by nn --tests tableone --stat median-iqr", "patients with and without NN in cohort A")
        .example(
            "table1 A B --categorical sex,stage --continuous age --test age=welch --out reports/table1.csv",
            "chosen rows, Welch's t-test for age, written as CSV",
        )
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let grouping = resolve(session, args, &args.positionals)?;
        let spec = spec_from(args, &grouping)?;
        let run = session.begin_run(args, RunKind::Table1, &params(args, &grouping, &spec), None)?;
        for &d in &grouping.dataset_ids {
            session.store().link_dataset(run, d)?;
        }
        let result = table1(&grouping.groups, &spec)?;
        let mut table = result.table;
        table.title = Some(format!(
            "Table 1 — {}",
            grouping.groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join(" vs ")
        ));
        if grouping.excluded > 0 {
            table.notes.push(format!(
                "{} row(s) with a missing `{}` are left out",
                grouping.excluded,
                grouping.by.as_deref().unwrap_or("")
            ));
        }
        if grouping.simulated {
            table.notes.push("SIMULATED cohort (not real patients)".into());
        }
        let store = session.store();
        for t in &result.tests {
            if let Some(r) = &t.result {
                store.log_metric(run, &P_VALUE.key(&t.variable), r.p_value, None, None)?;
            }
        }
        let record = Table1Params { table_json: Some(render::table::json(&table)), ..params(args, &grouping, &spec) };
        store.log_params(run, &record)?;
        Ok(Output::Table(table))
    }
}

fn parse_choice<T: Copy>(tok: &Token, what: &str, names: &[&str], parse: fn(&str) -> Option<T>) -> Result<T> {
    parse(&tok.text).ok_or_else(|| Error::InvalidValue {
        token: tok.text.clone(),
        what: what.into(),
        reason: format!("expected one of {}", names.join(", ")),
        span: tok.span,
    })
}

fn spec_from(args: &Args, grouping: &Grouping) -> Result<Table1Spec> {
    let by = grouping.by.as_deref();
    let not_by = |v: &Vec<String>| v.iter().filter(|c| Some(c.as_str()) != by).cloned().collect::<Vec<_>>();
    let categorical = match args.value("categorical") {
        Some(tok) => column_list(grouping, tok)?,
        None => {
            let mut c = grouping.roles.categorical.clone();
            c.extend(grouping.roles.outcome.clone());
            not_by(&c)
        }
    };
    let continuous = match args.value("continuous") {
        Some(tok) => column_list(grouping, tok)?,
        None => not_by(&grouping.roles.continuous),
    };
    let nonnormal = match args.value("nonnormal") {
        Some(tok) => column_list(grouping, tok)?,
        None => Vec::new(),
    };
    if categorical.is_empty() && continuous.is_empty() {
        return Err(Error::invalid("the table has no rows", Some("list them with --categorical and --continuous")));
    }
    let policy = match args.value("tests") {
        Some(tok) => parse_choice(tok, "--tests", Policy::NAMES, Policy::parse)?,
        None => Policy::Pearson,
    };
    let stat = match args.value("stat") {
        Some(tok) => parse_choice(tok, "--stat", ContinuousStat::NAMES, ContinuousStat::parse)?,
        None => ContinuousStat::MeanRange,
    };
    let mut overrides = BTreeMap::new();
    if let Some(tok) = args.value("test") {
        for item in tok.text.split(',').filter(|s| !s.trim().is_empty()) {
            let Some((var, test)) = item.split_once('=') else {
                return Err(Error::InvalidValue {
                    token: item.to_string(),
                    what: "--test".into(),
                    reason: "write VARIABLE=TEST, e.g. age=welch".into(),
                    span: tok.span,
                });
            };
            let (var, test) = (var.trim(), test.trim());
            check_column(grouping, var, tok)?;
            let at = Token { text: test.to_string(), ..tok.clone() };
            overrides.insert(var.to_string(), parse_choice(&at, "--test", TestChoice::NAMES, TestChoice::parse)?);
        }
    }
    let decimals: usize = args.parsed("decimals", "a number of decimals (0–10)")?.unwrap_or(1);
    if decimals > 10 {
        return Err(Error::invalid("--decimals must be at most 10", None));
    }
    Ok(Table1Spec {
        categorical,
        continuous,
        nonnormal,
        policy,
        overrides,
        stat,
        overall: args.has("overall"),
        decimals,
        smd: args.has("smd"),
    })
}

fn params(args: &Args, grouping: &Grouping, spec: &Table1Spec) -> Table1Params {
    Table1Params {
        groups: args.positionals.iter().map(|t| t.text.clone()).collect::<Vec<_>>().join(","),
        policy: Policy::NAMES[spec.policy as usize].to_string(),
        categorical: spec.categorical.join(","),
        continuous: spec.continuous.join(","),
        stat: ContinuousStat::NAMES[spec.stat as usize].to_string(),
        overall: spec.overall,
        smd: spec.smd,
        by: grouping.by.clone(),
        nonnormal: (!spec.nonnormal.is_empty()).then(|| spec.nonnormal.join(",")),
        test: args.value("test").map(|t| t.text.clone()),
        table_json: None,
    }
}
