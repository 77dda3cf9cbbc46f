//! `pipeline NAME = STEPS…`: declare a learning pipeline (validated now,
//! fitted fold by fold by `cv`). `pipeline` alone lists them.

use crate::core::learn::pipeline::Pipeline;
use crate::error::{Error, Result};
use crate::output::{Output, Table};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};

pub struct PipelineCmd;

impl Command for PipelineCmd {
    fn signature(&self) -> Signature {
        Signature::new(
            "pipeline",
            "learning",
            "Declare a pipeline: steps fitted inside each training fold, then a classifier",
        )
        .optional("NAME", ArgKind::NewName, "the pipeline's name (alone: show it; nothing: list all)")
        .rest(
            "= STEPS",
            ArgKind::Text,
            "steps separated by `|`; `then` ends the per-input steps. Steps: standardize, minmax, \
                 discretize bins=10 strategy=quantile, chi2 k=N [bins=B], mannwhitney k=N|p=P, \
                 lassocv [keep=N] [folds=5], lasso-logistic [keep=N] [cs=10] [scoring=accuracy|auc], pca n=N [upto=true], \
                 decorrelate [r=0.9] (drop redundant features, caret's rule), \
                 features keep=A,B,…|names=FILE (a pinned, e.g. published, list), smote [k=5] [ratio=1]; last a classifier: logistic [C=1] or trees [n=200] [depth=4]",
        )
        .example("pipeline P1 = standardize | mannwhitney k=10 | logistic C=1", "a one-input pipeline")
        .example(
            "pipeline M4 = standardize | chi2 k=64 bins=10 | lassocv keep=32 then pca n=32 | smote | logistic",
            "the paper's multi-sequence model: per-sequence selection, PCA over the concatenation, SMOTE",
        )
        .example(
            "pipeline P3 = decorrelate r=0.9 | standardize | lassocv keep=8 | logistic",
            "redundant features (|r| > 0.9 on the training fold) dropped before selection",
        )
        .example(
            "pipeline P4 = features keep=original_firstorder_Mean,original_shape_Sphericity | standardize | logistic",
            "a published selection pinned by name (names=FILE reads it from a file)",
        )
        .example("pipeline", "list the declared pipelines")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let Some(name) = args.positional(0) else {
            let mut t = Table::new(["pipeline", "steps"]);
            for (n, p) in &session.pipelines {
                t.push(vec![n.as_str().into(), p.text.as_str().into()]);
            }
            if t.rows.is_empty() {
                t.notes.push("no pipelines declared; see `help pipeline`".into());
            }
            return Ok(Output::Table(t));
        };
        crate::workflow::lookup::check_frame_name(name)?;
        let rest = &args.positionals[1..];
        if rest.is_empty() {
            return match session.pipelines.get(&name.text) {
                Some(p) => Ok(Output::Message(format!("{} = {}", name.text, p.text))),
                None => {
                    Err(Error::invalid(format!("no pipeline named `{}`", name.text), Some("`pipeline` lists them")))
                }
            };
        }
        if rest[0].text != "=" {
            return Err(Error::InvalidValue {
                token: rest[0].text.clone(),
                what: "pipeline".into(),
                reason: "write `pipeline NAME = STEPS…`".into(),
                span: rest[0].span,
            });
        }
        let text: Vec<&str> = rest[1..].iter().map(|t| t.text.as_str()).collect();
        let pipeline = Pipeline::parse(&crate::workflow::features::pin_feature_lists(&text.join(" "))?)?;
        let message = format!("{} = {}", name.text, pipeline.text);
        session.pipelines.insert(name.text.clone(), pipeline);
        Ok(Output::Message(message))
    }
}
