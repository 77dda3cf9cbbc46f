//! `pca FRAME --n N`: principal components of a frame's standardised
//! features (exploratory), with explained variance; `--into NAME` keeps the
//! component scores as a new frame.

use crate::core::cohort::{Roles, TypedColumn, Values};
use crate::core::learn::steps::{Fitted, fit_pca, fit_standardize};
use crate::data::frame::to_dataframe;
use crate::error::Result;
use crate::output::{Cell, Output, Table};
use crate::session::{Command, Frame, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::RunKind;
use crate::store::records::FrameParams;
use crate::workflow::features::feature_input;
use crate::workflow::lookup::EXPLORATORY;

/// Components kept without `--n`.
const DEFAULT_COMPONENTS: usize = 2;

pub struct Pca;

impl Command for Pca {
    fn signature(&self) -> Signature {
        Signature::new("pca", "learning", "Principal components of a frame's standardised features (exploratory)")
            .required("FRAME", ArgKind::Frame, "a feature frame")
            .defaulted("n", "N", ArgKind::Int, "components to keep", DEFAULT_COMPONENTS)
            .named("into", "NAME", ArgKind::NewName, "also store the component scores as a frame")
            .table()
            .example("pca A --n 2", "explained variance of the first two components of A's features")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let frame = args.required(0)?;
        let input = feature_input(session, frame)?;
        // A derived frame keeps its source's origin (and so its SIMULATED label).
        let origin = session.frame(frame)?.origin.clone();
        let n: usize = args.parsed("n", "a number of components")?.unwrap_or(DEFAULT_COMPONENTS);
        let run =
            session.begin_run(args, RunKind::Pca, &FrameParams { n: Some(n), ..FrameParams::of(&frame.text) }, None)?;
        for &d in &input.dataset_ids {
            session.store().link_dataset(run, d)?;
        }
        let xs = fit_standardize(&input.x).transform(&input.x);
        let fitted = fit_pca(&xs, n)?;
        let scores = fitted.transform(&xs);
        let Fitted::Project { explained_variance, explained_ratio, .. } = &fitted else {
            return Err(crate::error::Error::invalid("PCA did not produce a projection", None));
        };
        let mut t = Table::new(["component", "explained_variance", "ratio", "cumulative"]).with_title(format!(
            "pca {} (n = {})",
            frame.text,
            input.y.len()
        ));
        let mut cumulative = 0.0;
        for (i, (v, r)) in explained_variance.iter().zip(explained_ratio).enumerate() {
            cumulative += r;
            t.push(vec![format!("PC{}", i + 1).into(), Cell::Float(*v), Cell::Float(*r), Cell::Float(cumulative)]);
        }
        t.notes.push("features standardised (mean 0, SD 1) before PCA; component signs follow scikit-learn".into());
        t.notes.push(EXPLORATORY.into());
        if let Some(into) = args.value("into") {
            crate::workflow::lookup::check_frame_name(into)?;
            let mut columns = vec![
                TypedColumn {
                    name: "patient_id".into(),
                    values: Values::Text(input.ids.iter().cloned().map(Some).collect()),
                },
                TypedColumn {
                    name: "outcome".into(),
                    values: Values::Int(input.y.iter().map(|&v| Some(i64::from(v))).collect()),
                },
            ];
            for c in 0..scores.cols {
                columns.push(TypedColumn {
                    name: format!("PC{}", c + 1),
                    values: Values::Float(scores.column(c).into_iter().map(Some).collect()),
                });
            }
            let roles = Roles { id: Some("patient_id".into()), outcome: Some("outcome".into()), ..Default::default() };
            session.insert_frame(&into.text, Frame { df: to_dataframe(&columns)?, roles, origin });
            t.notes.push(format!("component scores stored as frame `{}`", into.text));
        }
        Ok(Output::Table(t))
    }
}
