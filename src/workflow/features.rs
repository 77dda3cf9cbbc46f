//! Feature tables for learning: a frame's numeric columns (other than the id
//! and the outcome) as a matrix, checked for missing and constant values,
//! and several frames joined by patient id.

use crate::core::cohort::Values;
use crate::core::learn::matrix::Matrix;
use crate::data::frame;
use crate::error::{Error, Result};
use crate::session::Session;
use crate::syntax::Token;

/// One input: a frame's features with its patients and outcome.
pub struct FeatureInput {
    pub label: String,
    pub ids: Vec<String>,
    pub y: Vec<u8>,
    pub x: Matrix,
    pub names: Vec<String>,
    pub dataset_ids: Vec<i64>,
    /// Non-numeric columns that were left out.
    pub skipped: Vec<String>,
}

/// The features of one frame.
pub fn feature_input(session: &Session, tok: &Token) -> Result<FeatureInput> {
    let f = session.frame(tok)?;
    let (Some(id_col), Some(outcome_col)) = (f.roles.id.clone(), f.roles.outcome.clone()) else {
        return Err(Error::invalid(format!("frame `{}` has no id or outcome column", tok.text), None));
    };
    let ids: Vec<String> = frame::column(&f.df, &id_col)
        .map(|c| c.values.as_text().into_iter().map(Option::unwrap_or_default).collect())
        .unwrap_or_default();
    let y: Vec<u8> = frame::column(&f.df, &outcome_col)
        .and_then(|c| c.values.as_f64())
        .map(|v| v.into_iter().map(|o| u8::from(o == Some(1.0))).collect())
        .unwrap_or_default();
    let mut names = Vec::new();
    let mut columns: Vec<Vec<f64>> = Vec::new();
    let mut skipped = Vec::new();
    for col in frame::columns(&f.df) {
        if col.name == id_col || col.name == outcome_col {
            continue;
        }
        let numeric = match &col.values {
            Values::Int(_) | Values::Float(_) => col.values.as_f64(),
            _ => None,
        };
        let Some(values) = numeric.filter(|_| !f.roles.categorical.contains(&col.name)) else {
            skipped.push(col.name.clone());
            continue;
        };
        if let Some(row) = values.iter().position(Option::is_none) {
            return Err(Error::invalid(
                format!("feature `{}` of `{}` is missing for patient {}", col.name, tok.text, ids[row]),
                Some("impute it before learning, or drop the column"),
            ));
        }
        let values: Vec<f64> = values.into_iter().flatten().collect();
        if values.iter().all(|v| *v == values[0]) {
            return Err(Error::invalid(
                format!(
                    "feature `{}` of `{}` is constant ({}), so it carries no information",
                    col.name, tok.text, values[0]
                ),
                Some("drop the column before learning"),
            ));
        }
        names.push(col.name.clone());
        columns.push(values);
    }
    if names.is_empty() {
        return Err(Error::invalid(format!("frame `{}` has no numeric feature columns", tok.text), None));
    }
    let rows: Vec<Vec<f64>> = (0..ids.len()).map(|r| columns.iter().map(|c| c[r]).collect()).collect();
    Ok(FeatureInput {
        label: tok.text.clone(),
        ids,
        y,
        x: Matrix::from_rows(&rows),
        names,
        dataset_ids: f.origin.as_ref().map(|o| o.dataset_ids.clone()).unwrap_or_default(),
        skipped,
    })
}

/// Where each of `wanted`'s columns stands in `have`: the one way a frame's
/// columns are put in another frame's (or a trained model's) order. The
/// error is the first wanted column `have` lacks.
pub fn positions<'a>(have: &[String], wanted: &'a [String]) -> std::result::Result<Vec<usize>, &'a str> {
    wanted.iter().map(|w| have.iter().position(|n| n == w).ok_or(w.as_str())).collect()
}

/// Several frames as inputs over the same patients, rows aligned to the first.
pub fn joined_inputs(session: &Session, toks: &[Token]) -> Result<Vec<FeatureInput>> {
    if toks.is_empty() {
        return Err(Error::invalid("name at least one feature frame", Some("e.g. `cv P on T1`")));
    }
    let mut inputs: Vec<FeatureInput> = toks.iter().map(|t| feature_input(session, t)).collect::<Result<_>>()?;
    let first_ids = inputs[0].ids.clone();
    let first_y = inputs[0].y.clone();
    for input in inputs.iter_mut().skip(1) {
        let mut order = Vec::with_capacity(first_ids.len());
        for id in &first_ids {
            let Some(r) = input.ids.iter().position(|i| i == id) else {
                return Err(Error::invalid(
                    format!("patient {id} of `{}` is missing from `{}`", toks[0].text, input.label),
                    Some("every input frame must hold the same patients"),
                ));
            };
            order.push(r);
        }
        if input.ids.len() != first_ids.len() {
            return Err(Error::invalid(
                format!(
                    "`{}` has {} patients, `{}` has {}",
                    input.label,
                    input.ids.len(),
                    toks[0].text,
                    first_ids.len()
                ),
                Some("every input frame must hold the same patients"),
            ));
        }
        input.x = input.x.select_rows(&order);
        input.y = order.iter().map(|&r| input.y[r]).collect();
        input.ids = first_ids.clone();
        if input.y != first_y {
            return Err(Error::invalid(
                format!("the outcome of `{}` disagrees with `{}`", input.label, toks[0].text),
                None,
            ));
        }
    }
    Ok(inputs)
}

/// What `cv` and `audit leakage` are asked — a pipeline on feature frames,
/// folds, repeats and a seed — and their declared interface, written once.
pub struct CvRequest {
    pub name: Token,
    pub pipeline: crate::core::learn::pipeline::Pipeline,
    pub frames: Vec<Token>,
    pub k: usize,
    pub repeats: usize,
    pub seed: u64,
    pub inputs: Vec<FeatureInput>,
    /// (label, features, column names) per input, as the pipeline takes them.
    pub labelled: Vec<(String, Matrix, Vec<String>)>,
    /// The model's name in reports.
    pub label: String,
}

impl CvRequest {
    /// The signature of a command cross-validating `PIPELINE on FRAMES`.
    pub fn signature(
        name: &'static str,
        category: &'static str,
        description: &'static str,
    ) -> crate::signature::Signature {
        use crate::signature::ArgKind;
        crate::signature::Signature::new(name, category, description)
            .required("PIPELINE", ArgKind::Text, "a pipeline declared with `pipeline`")
            .rest("on FRAMES", ArgKind::Frame, "`on` and one or more feature frames over the same patients")
            .folds_flag()
            .repeats_flag()
            .seed_flag("the splits and every fitted step")
            .label_flag("the frames, e.g. T1+Dose")
            .experiment_flag()
            .table()
    }

    /// Reads and checks the statement: the pipeline exists, the frames hold
    /// the same patients.
    pub fn read(args: &crate::signature::Args, session: &Session) -> Result<CvRequest> {
        let name = args.required(0)?.clone();
        let pipeline = crate::workflow::lookup::pipeline_named(session, &name)?;
        let frames: Vec<Token> = args.positionals[1..].iter().filter(|t| t.text != "on").cloned().collect();
        let (k, repeats, seed) = (args.folds()?, args.repeats()?, args.seed()?);
        let inputs = joined_inputs(session, &frames)?;
        let labelled = inputs.iter().map(|i| (i.label.clone(), i.x.clone(), i.names.clone())).collect();
        let label = crate::workflow::lookup::model_label(args, &frames);
        Ok(CvRequest { name, pipeline, frames, k, repeats, seed, inputs, labelled, label })
    }

    /// The frames as written, comma-separated (the run's `inputs`).
    pub fn inputs_text(&self) -> String {
        self.frames.iter().map(|t| t.text.clone()).collect::<Vec<_>>().join(",")
    }
}

/// Pipeline text with every `names=FILE` (of a `features` step) replaced by
/// `keep=NAME,NAME,…` read from the file: one name per line or
/// comma-separated, `#` starting a comment. The pipeline then records the
/// names themselves, so a run never depends on the file again.
pub fn pin_feature_lists(text: &str) -> Result<String> {
    let mut out = Vec::new();
    for word in text.split_whitespace() {
        let Some(path) = word.strip_prefix("names=") else {
            out.push(word.to_string());
            continue;
        };
        let path = std::path::Path::new(path);
        let content = std::fs::read_to_string(path).map_err(|e| crate::provenance::io_error(path, e))?;
        let mut names: Vec<String> = Vec::new();
        for (n, line) in content.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default();
            for name in line.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                if name.contains(char::is_whitespace) || name.contains('|') || name.contains('=') {
                    return Err(Error::invalid(
                        format!("{}: line {}: `{name}` is not a feature name", path.display(), n + 1),
                        Some("one feature name per line (or comma-separated), as the frame's columns are named"),
                    ));
                }
                names.push(name.to_string());
            }
        }
        if names.is_empty() {
            return Err(Error::invalid(format!("{}: lists no feature names", path.display()), None));
        }
        out.push(format!("keep={}", names.join(",")));
    }
    Ok(out.join(" "))
}
