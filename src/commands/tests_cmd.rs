//! Single hypothesis tests on frame columns, for interactive exploration:
//! `chisq`, `fisher`, `mannwhitney`, `ttest`. Groups are frames (`A B`) or
//! the levels of a column (`A --by sex`); `--on COL` names the variable.
//! Each is a recorded run.

use crate::core::cohort::TypedColumn;
use crate::core::stats::{self, MwuMethod, TestResult};
use crate::error::{Error, Result};
use crate::output::{Cell, Output, Table};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::RunKind;
use crate::store::records::{TestParams, TestResultMetrics};
use crate::workflow::groups::{Grouping, check_column, resolve};

fn base(name: &'static str, description: &'static str) -> Signature {
    Signature::new(name, "statistics", description)
        .rest("GROUPS", ArgKind::Frame, "two or more frames, or one frame with --by")
        .named("by", "COL", ArgKind::Column, "split one frame into groups by this column's levels")
        .named("on", "COL", ArgKind::Column, "the variable to test (required)")
}

/// The groups and the variable's column in each.
struct Prepared {
    grouping: Grouping,
    variable: String,
    columns: Vec<TypedColumn>,
}

fn prepare(
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

fn numeric_samples(p: &Prepared) -> Result<Vec<Vec<f64>>> {
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

fn two(p: &Prepared, kind: &str) -> Result<()> {
    if p.grouping.groups.len() == 2 {
        Ok(())
    } else {
        Err(Error::invalid(
            format!("`{kind}` compares exactly two groups; there are {}", p.grouping.groups.len()),
            Some("use table1 or `chisq` for more groups"),
        ))
    }
}

fn result_table(p: &Prepared, r: &TestResult, session: &Session, run: i64) -> Result<Table> {
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
fn contingency(p: &Prepared) -> (Vec<String>, Vec<Vec<f64>>) {
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

pub struct ChiSquare;

impl Command for ChiSquare {
    fn signature(&self) -> Signature {
        base("chisq", "Pearson chi-square test of a categorical variable across groups (scipy's chi2_contingency)")
            .switch("yates", "apply Yates' continuity correction (2×2 tables only, as scipy)")
            .table()
            .example("chisq A B --on sex", "is the sex ratio different between A and B?")
            .example("chisq A --by nn --on stage --yates", "stage by outcome within A")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let yates = args.has("yates");
        let (p, run) = prepare(args, session, RunKind::ChiSquare, |p| p.yates = Some(yates))?;
        let (levels, observed) = contingency(&p);
        if levels.len() < 2 {
            return Err(Error::invalid(
                format!("`{}` has a single level, so there is nothing to test", p.variable),
                None,
            ));
        }
        let r = stats::chi_square(&observed, yates)?;
        let mut counts = Table::new(std::iter::once("level".to_string()).chain(
            p.grouping.groups.iter().flat_map(|g| [format!("{} observed", g.name), format!("{} expected", g.name)]),
        ));
        for (li, level) in levels.iter().enumerate() {
            let mut row: Vec<Cell> = vec![level.as_str().into()];
            for gi in 0..p.grouping.groups.len() {
                row.push(Cell::Int(observed[li][gi] as i64));
                row.push(Cell::Float(r.expected[li][gi]));
            }
            counts.push(row);
        }
        let mut t = result_table(&p, &r.test, session, run)?;
        if r.cells_below_5 > 0 {
            t.notes.push(format!(
                "{} cell(s) have an expected count below 5 (smallest {:.2}); consider `fisher` for a 2×2 table",
                r.cells_below_5, r.min_expected
            ));
        }
        Ok(Output::Many(vec![Output::Table(t), Output::Table(counts)]))
    }
}

pub struct Fisher;

impl Command for Fisher {
    fn signature(&self) -> Signature {
        base("fisher", "Fisher's exact test, two-sided, on a 2×2 table (scipy's fisher_exact)")
            .table()
            .example("fisher A B --on chemo", "chemotherapy yes/no in A vs B")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let (p, run) = prepare(args, session, RunKind::Fisher, |_| {})?;
        two(&p, "fisher")?;
        let (levels, observed) = contingency(&p);
        if levels.len() != 2 {
            return Err(Error::invalid(
                format!(
                    "Fisher's exact test is offered for 2×2 tables; `{}` has {} level(s)",
                    p.variable,
                    levels.len()
                ),
                Some("use `chisq` for larger tables"),
            ));
        }
        let c = |i: usize, j: usize| observed[i][j] as u64;
        let r = stats::fisher_exact([[c(0, 0), c(0, 1)], [c(1, 0), c(1, 1)]]);
        let mut t = result_table(&p, &r, session, run)?;
        t.notes.push(format!("statistic: the sample odds ratio; rows {} / {}", levels[0], levels[1]));
        Ok(Output::Table(t))
    }
}

pub struct MannWhitney;

impl Command for MannWhitney {
    fn signature(&self) -> Signature {
        base("mannwhitney", "Mann-Whitney U test, two-sided (scipy's mannwhitneyu defaults)")
            .named(
                "method",
                "M",
                ArgKind::Text,
                "auto (default: exact when n ≤ 8 in a group and no ties), exact, asymptotic",
            )
            .table()
            .example("mannwhitney A B --on age", "age in A vs B")
            .example("mannwhitney A --by nn --on tumor_ml --method asymptotic", "tumour volume by outcome")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let method = match args.value("method").map(|t| (t, t.text.as_str())) {
            None | Some((_, "auto")) => MwuMethod::Auto,
            Some((_, "exact")) => MwuMethod::Exact,
            Some((_, "asymptotic")) => MwuMethod::Asymptotic,
            Some((tok, _)) => {
                return Err(Error::InvalidValue {
                    token: tok.text.clone(),
                    what: "--method".into(),
                    reason: "expected auto, exact or asymptotic".into(),
                    span: tok.span,
                });
            }
        };
        let (p, run) = prepare(args, session, RunKind::MannWhitney, |_| {})?;
        two(&p, "mannwhitney")?;
        let s = numeric_samples(&p)?;
        let r = stats::mann_whitney(&s[0], &s[1], method)?;
        let mut t = result_table(&p, &r, session, run)?;
        t.notes.push(format!("statistic: U of `{}`", p.grouping.groups[0].name));
        Ok(Output::Table(t))
    }
}

pub struct TTest;

impl Command for TTest {
    fn signature(&self) -> Signature {
        base("ttest", "Two-sample t-test, Student's or Welch's (scipy's ttest_ind)")
            .switch("welch", "Welch's test (unequal variances) instead of Student's")
            .table()
            .example("ttest A B --on eqd2_gy", "prescription dose in A vs B")
            .example("ttest A --by sex --on age --welch", "age by sex, Welch's test")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let welch = args.has("welch");
        let (p, run) = prepare(args, session, RunKind::TTest, |p| p.welch = Some(welch))?;
        two(&p, "ttest")?;
        let s = numeric_samples(&p)?;
        let r = stats::t_test(&s[0], &s[1], !welch)?;
        let smd = stats::smd_continuous(&s[0], &s[1]);
        let mut t = result_table(&p, &r, session, run)?;
        t.notes.push(format!("standardized mean difference: {}", crate::output::format_sig(smd, 4)));
        Ok(Output::Table(t))
    }
}
