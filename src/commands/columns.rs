//! `columns NAME`: each column's name, type, role and missing count.

use crate::core::describe::role_of;
use crate::data::frame;
use crate::error::Result;
use crate::output::{Output, Table};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};

pub struct Columns;

impl Command for Columns {
    fn signature(&self) -> Signature {
        Signature::new("columns", "data", "List a frame's columns with type, role and missing count")
            .required("NAME", ArgKind::Frame, "the frame")
            .table()
            .not_replayable()
            .example("columns A", "the columns of A")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let name = args.required(0)?;
        let f = session.frame(name)?;
        let mut table = Table::new(["column", "dtype", "role", "missing"]).with_title(format!(
            "{} — {} columns",
            name.text,
            f.df.width()
        ));
        for col in frame::columns(&f.df) {
            table.push(vec![
                col.name.as_str().into(),
                frame::dtype_name(&f.df, &col.name).into(),
                role_of(&f.roles, &col.name).into(),
                col.values.missing().into(),
            ]);
        }
        Ok(Output::Table(table))
    }
}
