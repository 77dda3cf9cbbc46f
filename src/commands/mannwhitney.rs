//! `mannwhitney`: a single hypothesis test on a frame column, recorded as a run
//! (groups are frames or a column's levels; `--on COL` names the variable).

use crate::core::stats::{self, MwuMethod};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::RunKind;
use crate::workflow::stat_tests::{base, numeric_samples, prepare, result_table, two};

pub struct MannWhitney;

impl Command for MannWhitney {
    fn signature(&self) -> Signature {
        base("mannwhitney", "Mann-Whitney U test, two-sided (scipy's mannwhitneyu defaults)")
            .named(
                "method",
                "M",
                ArgKind::Text,
                "auto (default: exact when n ≤ 8 in a group and no ties), exact, asymptotic, spss \
                 (asymptotic without continuity correction)",
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
            Some((_, "spss")) => MwuMethod::AsymptoticNoContinuity,
            Some((tok, _)) => {
                return Err(Error::InvalidValue {
                    token: tok.text.clone(),
                    what: "--method".into(),
                    reason: "expected auto, exact, asymptotic or spss".into(),
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
