//! `join NEW = LEFT with RIGHT on KEY[,KEY…] [--how inner|left|full]`: two
//! frames side by side by key, as a new frame with its lineage.

use crate::data::frame::{self, JoinHow};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::workflow::derive::{self, Derived};
use crate::workflow::lookup::check_frame_name;

pub struct Join;

const USAGE: &str = "join NEW = LEFT with RIGHT on KEY[,KEY…]";

impl Command for Join {
    fn signature(&self) -> Signature {
        Signature::new("join", "data", "Join two frames on key columns, as a new frame")
            .required("NEW", ArgKind::NewName, "the new frame's name")
            .required("=", ArgKind::Text, "`=`")
            .required("LEFT", ArgKind::Frame, "the left frame (its roles carry over)")
            .required("with", ArgKind::Text, "`with`")
            .required("RIGHT", ArgKind::Frame, "the right frame")
            .required("on", ArgKind::Text, "`on`")
            .required("KEYS", ArgKind::Text, "comma-separated key columns present in both")
            .named("how", "HOW", ArgKind::Text, "inner (default: rows in both), left or full")
            .example("join AT1 = A.T1 with A on patient_id", "T1 radiomics beside the clinical columns")
            .example("join both = A with B on patient_id --how full", "every patient of either frame")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let new = args.required(0)?;
        check_frame_name(new)?;
        derive::expect_word(args, 1, "=", USAGE)?;
        let left_tok = args.required(2)?;
        derive::expect_word(args, 3, "with", USAGE)?;
        let right_tok = args.required(4)?;
        derive::expect_word(args, 5, "on", USAGE)?;
        let keys_tok = args.required(6)?;
        let how = match args.value("how").map(|t| (t, t.text.as_str())) {
            None | Some((_, "inner")) => JoinHow::Inner,
            Some((_, "left")) => JoinHow::Left,
            Some((_, "full")) => JoinHow::Full,
            Some((t, _)) => {
                return Err(Error::InvalidValue {
                    token: t.text.clone(),
                    what: "--how".into(),
                    reason: "use inner, left or full".into(),
                    span: t.span,
                });
            }
        };
        let left = session.frame(left_tok)?;
        let right = session.frame(right_tok)?;
        let keys: Vec<String> =
            keys_tok.text.split(',').map(str::trim).filter(|k| !k.is_empty()).map(String::from).collect();
        for (f, tok) in [(left, left_tok), (right, right_tok)] {
            let names = frame::column_names(&f.df);
            if let Some(k) = keys.iter().find(|k| !names.contains(k)) {
                return Err(Error::UnknownFrameColumn {
                    frame: tok.text.clone(),
                    column: k.clone(),
                    span: keys_tok.span,
                    available: names,
                });
            }
        }
        let suffix = format!("_{}", right_tok.text.replace('.', "_"));
        let df = frame::join(&left.df, &right.df, &keys, how, &suffix)?;
        let mut roles = derive::roles_within(&left.roles, &df);
        // The right frame's feature roles carry over, under the names the join gave them.
        let names = frame::column_names(&df);
        let left_names = frame::column_names(&left.df);
        let renamed =
            |c: &String| if left_names.contains(c) && !keys.contains(c) { format!("{c}{suffix}") } else { c.clone() };
        for (list, categorical) in [(&right.roles.categorical, true), (&right.roles.continuous, false)] {
            for c in list.iter().map(renamed) {
                if names.contains(&c) && !roles.named_columns().contains(&c.as_str()) {
                    if categorical { roles.categorical.push(c) } else { roles.continuous.push(c) }
                }
            }
        }
        let (l, r) = (left.df.height(), right.df.height());
        let d = Derived {
            verb: "join",
            name: &new.text,
            parents: vec![left_tok.text.clone(), right_tok.text.clone()],
            expression: Some(format!("on {}", keys.join(","))),
            df,
            roles,
        };
        let run = derive::store(session, args, d)?;
        Ok(Output::Many(vec![
            Output::Message(format!(
                "{} (from {l} and {r} rows; columns of both named alike get `{suffix}`)",
                derive::summary(session, &new.text)
            )),
            Output::Note(format!("  recorded as run {run}")),
        ]))
    }
}
