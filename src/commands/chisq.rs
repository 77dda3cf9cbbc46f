//! `chisq`: a single hypothesis test on a frame column, recorded as a run
//! (groups are frames or a column's levels; `--on COL` names the variable).

use crate::core::stats::{self};
use crate::error::{Error, Result};
use crate::output::{Cell, Output, Table};
use crate::session::{Command, Session};
use crate::signature::{Args, Signature};
use crate::store::RunKind;
use crate::workflow::stat_tests::{base, contingency, prepare, result_table};

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
