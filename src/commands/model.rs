//! `model NAME = T1+T1C+T2+Dose [--select …] [--pca 32] [--balance smote]
//! [--input 80x120x120]`: declare a deep model (the fusion network with or
//! without its dose branch). `model` alone lists them.

use crate::error::{Error, Result};
use crate::ml::data::Balance;
use crate::ml::spec::{DEFAULT_SELECT, DoseScale, ModelSpec, Pooling, parse_input, parse_preset, select_steps};
use crate::output::{Output, Table};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};

pub struct ModelCmd;

fn invalid_value(tok: &crate::syntax::Token, what: &str, e: Error) -> Error {
    Error::InvalidValue { token: tok.text.clone(), what: what.into(), reason: e.to_string(), span: tok.span }
}

impl Command for ModelCmd {
    fn signature(&self) -> Signature {
        Signature::new("model", "deep learning", "Declare a deep model: radiomics sequences, optionally the dose CNN")
            .optional("NAME", ArgKind::NewName, "the model's name (alone: show it; nothing: list all)")
            .rest(
                "= PRESET",
                ArgKind::Text,
                "radiomics sequences and Dose joined by `+`: T1, T1C, T2, T1+T1C+T2 and each +Dose are the paper's \
                 eight; the features come from the frames COHORT.SEQ (see `extract`)",
            )
            .named(
                "select",
                "STEPS",
                ArgKind::Text,
                "per-sequence selection, fitted in each training fold (default chi2:k=64:bins=10,lassocv:keep=32; \
                 pipeline step names, options after `:`; a pinned list: features:names=FILE)",
            )
            .named(
                "pca",
                "N",
                ArgKind::Int,
                "PCA of the concatenated selections to N (default 32 with several sequences; 0: none)",
            )
            .named(
                "balance",
                "HOW",
                ArgKind::Text,
                "smote (default: SMOTE in the radiomics space, a synthetic sample keeping the nearer patient's dose), \
                 smote-blend (the two doses interpolated too), oversample, weight or none",
            )
            .named(
                "input",
                "DxHxW",
                ArgKind::Text,
                "dose input size, slices×rows×columns (default 80x120x120, the paper)",
            )
            .named("roi", "ROLE", ArgKind::Text, "the image the dose is cropped to (default ptv)")
            .named(
                "dose-scale",
                "COLUMN|GY",
                ArgKind::Text,
                "divide the dose by this clinical column or by a number of Gy (default eqd2_gy; raw: Gy as planned)",
            )
            .named(
                "dose-crop",
                "MODE",
                ArgKind::Text,
                "box (default: the ROI's bounding box resized to --input) or window (an --input window at the \
                 dose grid's own spacing centred on the ROI)",
            )
            .named(
                "pool-l6",
                "POOL",
                ArgKind::Text,
                "the dose branch's global pooling after its last convolution: mean (default) or max",
            )
            .named(
                "fusion-pool",
                "POOL",
                ArgKind::Text,
                "the fusion head's pooling over the stacked branches: max (default; the paper's text) or mean",
            )
            .example("model M8 = T1+T1C+T2+Dose --select chi2:k=64,lasso --pca 32", "the paper's best model")
            .example(
                "model Q1 = T1+Dose --select mannwhitney:k=8 --input 20x30x30 --balance oversample",
                "a quick CPU-sized model",
            )
            .example("model", "list the declared models")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let Some(name) = args.positional(0) else {
            let mut t = Table::new(["model", "declaration"]);
            for (n, m) in &session.models {
                t.push(vec![n.as_str().into(), m.describe().into()]);
            }
            if t.rows.is_empty() {
                t.notes.push("no models declared; see `help model`".into());
            }
            return Ok(Output::Table(t));
        };
        crate::workflow::lookup::check_frame_name(name)?;
        let rest = &args.positionals[1..];
        if rest.is_empty() {
            return match session.models.get(&name.text) {
                Some(m) => Ok(Output::Message(m.describe())),
                None => Err(Error::invalid(format!("no model named `{}`", name.text), Some("`model` lists them"))),
            };
        }
        if rest[0].text != "=" || rest.len() != 2 {
            let tok = if rest[0].text != "=" { &rest[0] } else { rest.get(2).unwrap_or(&rest[0]) };
            return Err(Error::InvalidValue {
                token: tok.text.clone(),
                what: "model".into(),
                reason: "write `model NAME = PRESET`, e.g. `model M8 = T1+T1C+T2+Dose`".into(),
                span: tok.span,
            });
        }
        let (sequences, dose) = parse_preset(&rest[1].text).map_err(|e| invalid_value(&rest[1], "PRESET", e))?;
        let select = crate::workflow::features::pin_feature_lists(&select_steps(
            args.value("select").map_or(DEFAULT_SELECT, |t| t.text.as_str()),
        ))?;
        let pca: Option<usize> = match args.parsed::<usize>("pca", "a number of components")? {
            Some(0) => None,
            Some(n) => Some(n),
            None if sequences.len() > 1 => Some(32),
            None => None,
        };
        let balance = match args.value("balance") {
            Some(t) => Balance::parse(&t.text).map_err(|e| invalid_value(t, "--balance", e))?,
            None => Balance::Smote,
        };
        let input = match args.value("input") {
            Some(t) => parse_input(&t.text).map_err(|e| invalid_value(t, "--input", e))?,
            None => [80, 120, 120],
        };
        let pooling = |flag: &str, default: Pooling| -> Result<Pooling> {
            match args.value(flag) {
                None => Ok(default),
                Some(t) => Pooling::parse(&t.text).ok_or_else(|| Error::InvalidValue {
                    token: t.text.clone(),
                    what: format!("--{flag}"),
                    reason: "use mean or max".into(),
                    span: t.span,
                }),
            }
        };
        let (pool_l6, fusion_pool) = (pooling("pool-l6", Pooling::Mean)?, pooling("fusion-pool", Pooling::Max)?);
        let dose_crop = match args.value("dose-crop") {
            None => crate::core::masks::CropMode::Box,
            Some(t) => crate::core::masks::CropMode::parse(&t.text).ok_or_else(|| Error::InvalidValue {
                token: t.text.clone(),
                what: "--dose-crop".into(),
                reason: "use box or window".into(),
                span: t.span,
            })?,
        };
        let spec = ModelSpec {
            name: name.text.clone(),
            preset: rest[1].text.clone(),
            sequences,
            dose,
            select,
            pca,
            balance,
            input,
            roi: args.value("roi").map_or("ptv".into(), |t| t.text.clone()),
            dose_scale: DoseScale::parse(args.value("dose-scale").map_or("eqd2_gy", |t| t.text.as_str())),
            pool_l6,
            fusion_pool,
            dose_crop,
        };
        // Check now what can be checked without data.
        spec.pipeline().map_err(|e| match args.value("select") {
            Some(t) => invalid_value(t, "--select", e),
            None => e,
        })?;
        if dose {
            spec.net(1).validate().map_err(|e| match args.value("input") {
                Some(t) => invalid_value(t, "--input", e),
                None => e,
            })?;
        }
        let message = spec.describe();
        session.models.insert(name.text.clone(), spec);
        Ok(Output::Message(message))
    }
}
