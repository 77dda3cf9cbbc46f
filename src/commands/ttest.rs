//! `ttest`: a single hypothesis test on a frame column, recorded as a run
//! (groups are frames or a column's levels; `--on COL` names the variable).

use crate::core::stats::{self};
use crate::error::Result;
use crate::output::Output;
use crate::session::{Command, Session};
use crate::signature::{Args, Signature};
use crate::store::RunKind;
use crate::workflow::stat_tests::{base, numeric_samples, prepare, result_table, two};

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
