//! `fisher`: a single hypothesis test on a frame column, recorded as a run
//! (groups are frames or a column's levels; `--on COL` names the variable).

use crate::core::stats::{self};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::session::{Command, Session};
use crate::signature::{Args, Signature};
use crate::store::RunKind;
use crate::workflow::stat_tests::{base, contingency, prepare, result_table, two};

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
