//! `smote FRAME --into NAME`: a copy of a feature frame with SMOTE's
//! synthetic minority patients added (exploratory: oversampling before a
//! split puts synthetic copies of test patients into training — inside `cv`
//! a pipeline's `smote` step only ever sees training folds).

use crate::core::cohort::{Roles, TypedColumn, Values};
use crate::core::learn::steps::smote;
use crate::data::frame::to_dataframe;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::session::{Command, Frame, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::RunKind;
use crate::store::records::FrameParams;
use crate::workflow::features::feature_input;

/// imbalanced-learn's `k_neighbors` default.
const DEFAULT_NEIGHBOURS: usize = 5;
/// Balance the classes fully without `--ratio`.
const DEFAULT_RATIO: f64 = 1.0;

pub struct Smote;

impl Command for Smote {
    fn signature(&self) -> Signature {
        Signature::new("smote", "learning", "Add SMOTE synthetic minority rows to a copy of a frame (exploratory)")
            .required("FRAME", ArgKind::Frame, "a feature frame")
            .named("into", "NAME", ArgKind::NewName, "the new frame (required)")
            .defaulted("k", "N", ArgKind::Int, "nearest minority neighbours", DEFAULT_NEIGHBOURS)
            .defaulted("ratio", "R", ArgKind::Float, "target minority/majority ratio in (0, 1]", DEFAULT_RATIO)
            .seed_flag("the synthetic samples")
            .example("smote A --into A_balanced --k 5 --seed 7", "a balanced copy of A for exploration")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let frame = args.required(0)?;
        let Some(into) = args.value("into") else {
            return Err(Error::invalid("`smote` needs --into NAME for the new frame", None));
        };
        crate::workflow::lookup::check_frame_name(into)?;
        let input = feature_input(session, frame)?;
        // A derived frame keeps its source's origin (and so its SIMULATED label).
        let origin = session.frame(frame)?.origin.clone();
        let k: usize = args.parsed("k", "a number of neighbours")?.unwrap_or(DEFAULT_NEIGHBOURS);
        let ratio: f64 = args.parsed("ratio", "a ratio in (0, 1]")?.unwrap_or(DEFAULT_RATIO);
        let seed: u64 = args.seed()?;
        let run = session.begin_run(
            args,
            RunKind::Smote,
            &FrameParams { k: Some(k), ratio: Some(ratio), ..FrameParams::of(&frame.text) },
            Some(seed),
        )?;
        for &d in &input.dataset_ids {
            session.store().link_dataset(run, d)?;
        }
        let (extra, labels) = smote(&input.x, &input.y, k, ratio, seed)?;
        let x = input.x.vstack(&extra);
        let mut ids = input.ids.clone();
        ids.extend((1..=extra.rows).map(|i| format!("synthetic-{i:04}")));
        let y: Vec<u8> = input.y.iter().copied().chain(labels).collect();
        let mut columns = vec![
            TypedColumn { name: "patient_id".into(), values: Values::Text(ids.into_iter().map(Some).collect()) },
            TypedColumn {
                name: "outcome".into(),
                values: Values::Int(y.iter().map(|&v| Some(i64::from(v))).collect()),
            },
        ];
        for (c, name) in input.names.iter().enumerate() {
            columns.push(TypedColumn {
                name: name.clone(),
                values: Values::Float(x.column(c).into_iter().map(Some).collect()),
            });
        }
        let roles = Roles { id: Some("patient_id".into()), outcome: Some("outcome".into()), ..Default::default() };
        session.insert_frame(&into.text, Frame { df: to_dataframe(&columns)?, roles, origin });
        Ok(Output::Message(format!(
            "{}: {} patients + {} synthetic minority rows (k = {k}, ratio {ratio})\n  EXPLORATORY: never split or test on an oversampled frame; put `smote` in a pipeline for `cv`",
            into.text,
            input.y.len(),
            extra.rows
        )))
    }
}
