//! `audit leakage NAME on FRAMES --folds 5 --seed N [--repeats R]`: the
//! fold-safe cross-validation beside the LEAKY published protocol (steps
//! fitted on all patients first), their difference with a paired CI, and
//! each step's share. NAME is a pipeline (on feature frames) or a deep
//! model declared with `model` (on a cohort, trained with `--grid`'s one
//! configuration): its LEAKY arm fits selection, PCA and balancing on all
//! of the cohort once, then cross-validates the network.

use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::core::learn::audit::{leaky_cross_validate, step_count, step_name};
use crate::core::learn::cv::{repeated_splits, stratified_kfold};
use crate::core::learn::metrics::auc;
use crate::core::learn::pipeline::cross_validate;
use crate::core::rng::Rng;
use crate::error::{Error, Result};
use crate::ml::data::Balance;
use crate::ml::fit::{LeakyPrefix, fit, fit_leaky_fold, leaky_samples};
use crate::output::{Cell, FigureOut, Output, Table, format_sig};
use crate::render::figures::Figure;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::records::{AuditArmParams, AuditLeakageMetrics, AuditLeakageParams, LEAKY_AUC_OUTSIDE};
use crate::store::{Prediction, RunId, RunKind, RunStatus};
use crate::workflow::features::CvRequest;

pub struct AuditLeakage;

impl Command for AuditLeakage {
    fn signature(&self) -> Signature {
        CvRequest::signature(
            "audit leakage",
            "evaluation",
            "Measure leakage optimism: fold-safe cross-validation beside the LEAKY protocol, step by step",
        )
        .named(
            "grid",
            "KEY=V",
            ArgKind::Text,
            "a deep model's training settings, one value per key (as `train`'s --grid: lr, batch, epochs, wd, \
             lr_decay…)",
        )
        .named("device", "DEV", ArgKind::Text, "a deep model's device: cpu (default), gpu[:N] or cuda[:N]")
        .example("audit leakage P1 on A --folds 3", "fold-safe vs LEAKY cross-validation of P1 on A")
        .example(
            "model Q = T1+Dose --select mannwhitney:k=8 --input 20x30x30; audit leakage Q on A --folds 2 --grid epochs=2 batch=8",
            "a deep model: selection and SMOTE fitted on all of A, then the network cross-validated, beside `train`",
        )
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let name = args.required(0)?;
        if !session.pipelines.contains_key(&name.text) && session.models.contains_key(&name.text) {
            return deep(args, session);
        }
        for flag in ["grid", "device"] {
            if args.has(flag) {
                return Err(Error::invalid(
                    format!("--{flag} is for a deep model; `{}` is a pipeline", name.text),
                    None,
                ));
            }
        }
        leakage(args, session)
    }
}

fn mean(v: &[f64]) -> f64 {
    crate::core::describe::mean_sd_finite(v).0
}

/// The two arms' fold AUCs as they are recorded, over every repeat.
#[derive(Default)]
struct Arms {
    rows: Vec<Vec<Cell>>,
    safe: Vec<f64>,
    leaky: Vec<f64>,
}

impl Arms {
    /// Records repeat `r`'s arms as `audit-arm` children of `parent` (the
    /// fold-safe arm with its held-out predictions) and adds their rows.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        session: &mut Session,
        parent: RunId,
        (r, k, seed): (usize, usize, u64),
        safe: &[f64],
        safe_preds: &[Prediction],
        leaky: &[f64],
        leaky_label: &str,
    ) -> Result<()> {
        for (arm, aucs, is_leaky) in [("fold-safe", safe, false), (leaky_label, leaky, true)] {
            let arm_params = AuditArmParams { arm: arm.into(), leaky: is_leaky, repeat: r };
            let child = session.begin_child(parent, RunKind::AuditArm, &arm_params, Some(seed))?;
            let store = session.store_mut();
            for (f, a) in aucs.iter().enumerate() {
                store.log_metric(child, "auc", *a, None, Some((r * k + f) as i64))?;
            }
            if !is_leaky {
                store.log_predictions(child, safe_preds)?;
            }
            store.finish_run(child, RunStatus::Finished, None)?;
        }
        for (f, (a, b)) in safe.iter().zip(leaky).enumerate() {
            self.rows.push(vec![
                Cell::Int(r as i64 + 1),
                Cell::Int(f as i64 + 1),
                Cell::Float(*a),
                Cell::Float(*b),
                Cell::Float(b - a),
            ]);
            self.safe.push(*a);
            self.leaky.push(*b);
        }
        Ok(())
    }

    /// The summary metrics on `parent`, the fold table with the paired
    /// interval, the step table and the figure.
    fn finish(
        self,
        session: &mut Session,
        parent: RunId,
        (label, leaky_label): (&str, &str),
        title: String,
        steps: Table,
    ) -> Result<Output> {
        let diffs: Vec<f64> = self.safe.iter().zip(&self.leaky).map(|(a, b)| b - a).collect();
        // Paired interval over the fold pairs.
        let n = diffs.len() as f64;
        let (d_mean, d_sd) = crate::core::describe::mean_sd_finite(&diffs);
        let t = StudentsT::new(0.0, 1.0, (n - 1.0).max(1.0)).map(|t| t.inverse_cdf(0.975)).unwrap_or(f64::NAN);
        let (lo, hi) = (d_mean - t * d_sd / n.sqrt(), d_mean + t * d_sd / n.sqrt());
        let finite = |v: f64| v.is_finite().then_some(v);
        let summary = AuditLeakageMetrics {
            safe_auc_mean: finite(mean(&self.safe)),
            leaky_auc_mean: finite(mean(&self.leaky)),
            optimism: finite(d_mean),
            optimism_ci_low: finite(lo),
            optimism_ci_high: finite(hi),
        };
        session.store().log_metrics(parent, None, &summary)?;
        let mut rows = Table::new(["repeat", "fold", "fold-safe AUC", "LEAKY AUC", "difference"]);
        rows.rows = self.rows;
        rows.title = Some(title);
        rows.notes.push(format!(
            "optimism (LEAKY − fold-safe) {} (95% CI {} to {}, paired t over {} fold pairs); fold-safe mean {}, LEAKY \
             mean {}",
            format_sig(d_mean, 3),
            format_sig(lo, 3),
            format_sig(hi, 3),
            diffs.len(),
            format_sig(mean(&self.safe), 3),
            format_sig(mean(&self.leaky), 3)
        ));
        rows.notes.push(format!(
            "{leaky_label} — the published protocol, recorded for comparison only; no other command uses it"
        ));
        let fig = Figure::AuditFolds { model: label.to_string(), safe: self.safe.clone(), leaky: self.leaky.clone() };
        let figure = FigureOut {
            title: format!("{label} — fold AUC, fold-safe vs LEAKY (run {parent})"),
            svg: fig.svg()?,
            data: serde_json::json!({ "safe": self.safe, "leaky": self.leaky }),
        };
        Ok(Output::Many(vec![Output::Table(rows), Output::Table(steps), Output::Figure(figure)]))
    }
}

/// The LEAKY arm of a pipeline, as recorded.
const LEAKY_PIPELINE: &str = "LEAKY: every step fitted on all patients first";

/// A pipeline on feature frames.
fn leakage(args: &Args, session: &mut Session) -> Result<Output> {
    let req = CvRequest::read(args, session)?;
    let CvRequest { name, pipeline, k, repeats, seed, inputs, labelled, label, .. } = &req;
    let (k, repeats, seed) = (*k, *repeats, *seed);
    let y = inputs[0].y.clone();
    let ids = inputs[0].ids.clone();
    let steps = step_count(pipeline);
    let parent = session.begin_run_in(
        args,
        RunKind::AuditLeakage,
        &AuditLeakageParams {
            label: label.clone(),
            pipeline: name.text.clone(),
            steps: pipeline.text.clone(),
            inputs: req.inputs_text(),
            folds: k,
            repeats,
            model_json: None,
            train_json: None,
            device: None,
        },
        Some(seed),
        args.experiment(),
    )?;
    for d in inputs.iter().flat_map(|i| i.dataset_ids.iter()) {
        session.store().link_dataset(parent, *d)?;
    }
    let cancel = session.cancel_flag();
    let progress = session.progress((repeats * 2 + steps) as u64, "fits", format!("audit leakage {}", name.text));
    let mut arms = Arms::default();
    let splits = repeated_splits(&y, k, repeats, seed)?;
    for (r, split) in splits.iter().enumerate() {
        let s = split.seeds.fit;
        let safe = cross_validate(pipeline, labelled, &y, &split.folds, s, &|| cancel.is_cancelled(), &mut |_| Ok(()))?;
        progress.inc(1);
        let (leaky, _) =
            leaky_cross_validate(pipeline, labelled, &y, steps, k, split.seeds, &|| cancel.is_cancelled())?;
        progress.inc(1);
        let preds: Vec<Prediction> = safe
            .iter()
            .flat_map(|f| {
                let fold = Some((r * k + f.fold) as i64);
                f.test.iter().zip(&f.probability).map(move |(&i, &p)| (fold, i, p))
            })
            .map(|(fold, i, p)| Prediction { fold, patient: ids[i].clone(), label: y[i], probability: p })
            .collect();
        let aucs = |v: &[crate::core::learn::pipeline::FoldResult]| v.iter().map(|f| f.auc).collect::<Vec<_>>();
        arms.record(session, parent, (r, k, s), &aucs(&safe), &preds, &aucs(&leaky), LEAKY_PIPELINE)?;
    }
    // Each step's share: the first s steps outside, repeat 1's folds.
    let mut contrib = Table::new(["steps fitted on all patients", "mean fold AUC", "added optimism"])
        .with_title("which steps leak (cumulative, repeat 1)");
    let seeds0 = splits[0].seeds;
    let mut prev = mean(&arms.safe[..k.min(arms.safe.len())]);
    contrib.push(vec!["none (fold-safe)".into(), Cell::Float(prev), Cell::Null]);
    for s in 1..=steps {
        let (res, _) = leaky_cross_validate(pipeline, labelled, &y, s, k, seeds0, &|| cancel.is_cancelled())?;
        progress.inc(1);
        let m = mean(&res.iter().map(|f| f.auc).collect::<Vec<_>>());
        let names: Vec<String> = (0..s).map(|i| step_name(pipeline, i)).collect();
        contrib.push(vec![Cell::Text(names.join(" → ")), Cell::Float(m), Cell::Float(m - prev)]);
        session.store().log_metric(
            parent,
            &LEAKY_AUC_OUTSIDE.key(&format!("{s}_{}", step_name(pipeline, s - 1))),
            m,
            None,
            None,
        )?;
        prev = m;
    }
    drop(progress);
    let title = format!("audit leakage {} on {} — run {parent}", name.text, label);
    arms.finish(session, parent, (label, LEAKY_PIPELINE), title, contrib)
}

/// One repeat of a deep model's audit: its folds and seeds.
struct Plan {
    folds: Vec<crate::core::learn::cv::Fold>,
    split: u64,
    /// The seed the repeat's fold seeds derive from.
    base: u64,
    repeat: usize,
}

impl Plan {
    /// Repeat `r`'s seeds: repeat 0 `train`'s own (its folds and each
    /// fold's seed), later repeats those of repeated cross-validation.
    fn of(seed: u64, r: usize) -> Plan {
        if r == 0 {
            Plan { folds: Vec::new(), split: Rng::sub_seed(seed, &["train", "folds"]), base: seed, repeat: 0 }
        } else {
            let s = crate::core::learn::cv::RepeatSeeds::of(seed, r);
            Plan { folds: Vec::new(), split: s.split, base: s.fit, repeat: r }
        }
    }

    fn fold_seed(&self, f: usize) -> u64 {
        if self.repeat == 0 {
            Rng::sub_seed(self.base, &["train", "fold", &f.to_string()])
        } else {
            Rng::sub_seed(self.base, &["fold", &f.to_string()])
        }
    }
}

/// A deep model on a cohort: the fold-safe arm is `train`'s fit of each
/// fold (selection, PCA and balancing inside the training fold); the LEAKY
/// arm fits them on the whole cohort once and then cross-validates the
/// network. Both arms train each fold with the same seed, so the leak is
/// the only difference.
fn deep(args: &Args, session: &mut Session) -> Result<Output> {
    let name = args.required(0)?;
    let spec = crate::workflow::lookup::model_named(session, name)?;
    // `--grid lr=1e-3 epochs=8`: the words after the first are positionals.
    let (grid_rest, rest): (Vec<&crate::syntax::Token>, Vec<&crate::syntax::Token>) =
        args.positionals[1..].iter().filter(|t| t.text != "on").partition(|t| t.text.contains('='));
    let [cohort] = rest.as_slice() else {
        return Err(Error::invalid(
            format!(
                "write `audit leakage {} on COHORT` (the cohort frame; its radiomics frames are COHORT.SEQ)",
                name.text
            ),
            None,
        ));
    };
    let (k, repeats, seed) = (args.folds()?, args.repeats()?, args.seed()?);
    let device_choice = crate::workflow::deep::device_choice(args)?;
    let device = device_choice.device()?;
    let grid: Vec<&crate::syntax::Token> = args.value("grid").into_iter().chain(grid_rest).collect();
    let configs = crate::workflow::deep::parse_grid(&grid, &crate::ml::train::TrainConfig::new().with_seed(seed))?;
    let [cfg] = configs.as_slice() else {
        return Err(Error::invalid(
            format!("--grid gives {} configurations; the audit trains one (one value per key)", configs.len()),
            Some("pick the configuration `train` chose (its run's `best`)"),
        ));
    };
    let label = args.value("label").map_or(spec.preset.clone(), |t| t.text.clone());
    let inputs = crate::workflow::deep::gather(session, &spec, cohort, None)?;
    let (y, ids) = (inputs.y.clone(), inputs.ids.clone());
    let balancing = matches!(spec.balance, Balance::Smote | Balance::SmoteBlend | Balance::Oversample);
    let pipeline = spec.pipeline()?;
    let feature_steps: Vec<String> = (0..step_count(&pipeline)).map(|i| step_name(&pipeline, i)).collect();
    let feature_steps = feature_steps.into_iter().filter(|s| s != "logistic").collect::<Vec<_>>().join(" → ");
    let steps_text = format!("{} | balance {} | network", pipeline.text, spec.balance.name());
    let mut frames: Vec<String> = spec.sequences.iter().map(|s| format!("{}.{s}", cohort.text)).collect();
    if spec.dose {
        frames.push(format!("{} (dose)", cohort.text));
    }
    let parent = session.begin_run_in(
        args,
        RunKind::AuditLeakage,
        &AuditLeakageParams {
            label: label.clone(),
            pipeline: spec.name.clone(),
            steps: steps_text,
            inputs: frames.join(","),
            folds: k,
            repeats,
            model_json: serde_json::to_string(&spec).ok(),
            train_json: serde_json::to_string(cfg).ok(),
            device: Some(device_choice.label()),
        },
        Some(seed),
        args.experiment(),
    )?;
    for &d in &inputs.dataset_ids {
        session.store().link_dataset(parent, d)?;
    }
    let cancel = session.cancel_flag();
    let fits = k * (2 * repeats + usize::from(balancing));
    let progress = session.progress((fits * cfg.epochs) as u64, "epochs", format!("audit leakage {}", spec.name));
    let mut tick = |_: &crate::ml::train::EpochLog| {
        progress.inc(1);
        Ok(())
    };
    let leaky_label = if balancing {
        "LEAKY: selection, PCA and balancing fitted on all patients first"
    } else {
        "LEAKY: selection and PCA fitted on all patients first"
    };
    let mut arms = Arms::default();
    // Repeat 1 splits and seeds each fold as `train` with this seed does, so
    // its fold-safe arm is that `train` run; later repeats reshuffle.
    let plans: Vec<Plan> = (0..repeats)
        .map(|r| {
            let plan = Plan::of(seed, r);
            Ok(Plan { folds: stratified_kfold(&y, k, Some(plan.split))?, ..plan })
        })
        .collect::<Result<_>>()?;
    let full = if balancing { LeakyPrefix::FeaturesAndBalance } else { LeakyPrefix::Features };
    // The folds' AUCs with `prefix` fitted outside, repeat `r`'s seeds.
    let leaky_arm = |prefix: LeakyPrefix, r: usize, tick: &mut dyn FnMut(&crate::ml::train::EpochLog) -> Result<()>| {
        let plan = &plans[r];
        let (samples, net) = leaky_samples(&spec, &inputs, prefix, Rng::sub_seed(plan.base, &["audit", "leaky"]))?;
        let folds = stratified_kfold(&samples.y, k, Some(plan.split))?;
        let mut aucs = Vec::new();
        for (f, fold) in folds.iter().enumerate() {
            progress.set_message(format!("audit leakage {} repeat {} LEAKY fold {}/{k}", spec.name, r + 1, f + 1));
            let fold_cfg = cfg.clone().with_seed(plan.fold_seed(f));
            let probs = fit_leaky_fold(
                &spec,
                &net,
                (&samples, prefix),
                &fold.train,
                &fold.test,
                &fold_cfg,
                &device,
                &|| cancel.is_cancelled(),
                tick,
            )?;
            let truth: Vec<u8> = fold.test.iter().map(|&i| samples.y[i]).collect();
            aucs.push(auc(&probs, &truth));
        }
        Ok::<_, Error>(aucs)
    };
    for (r, plan) in plans.iter().enumerate() {
        let (mut safe, mut preds) = (Vec::new(), Vec::new());
        for (f, fold) in plan.folds.iter().enumerate() {
            progress.set_message(format!("audit leakage {} repeat {} fold-safe fold {}/{k}", spec.name, r + 1, f + 1));
            let fold_cfg = cfg.clone().with_seed(plan.fold_seed(f));
            let (_, probs) = fit(
                &spec,
                &inputs,
                &fold.train,
                Some(&fold.test),
                &fold_cfg,
                &device,
                &|| cancel.is_cancelled(),
                &mut tick,
                &mut crate::ml::train::Checkpointing::default(),
            )?;
            let probs = probs.unwrap_or_default();
            let truth: Vec<u8> = fold.test.iter().map(|&i| y[i]).collect();
            safe.push(auc(&probs, &truth));
            let at = Some((r * k + f) as i64);
            preds.extend(fold.test.iter().zip(&probs).map(|(&i, &p)| Prediction {
                fold: at,
                patient: ids[i].clone(),
                label: y[i],
                probability: p,
            }));
        }
        let leaky = leaky_arm(full, r, &mut tick)?;
        arms.record(session, parent, (r, k, plan.base), &safe, &preds, &leaky, leaky_label)?;
    }
    // Each step's share (repeat 1): the feature steps alone outside, then with balancing.
    let mut contrib = Table::new(["fitted on all patients", "mean fold AUC", "added optimism"])
        .with_title("which steps leak (cumulative, repeat 1)");
    let mut prev = mean(&arms.safe[..k.min(arms.safe.len())]);
    contrib.push(vec!["none (fold-safe)".into(), Cell::Float(prev), Cell::Null]);
    let mut outside = vec![(LeakyPrefix::Features, feature_steps.clone(), "features")];
    if balancing {
        outside.push((
            LeakyPrefix::FeaturesAndBalance,
            format!("{feature_steps} → {}", spec.balance.name()),
            spec.balance.name(),
        ));
    }
    for (s, (prefix, names, key)) in outside.into_iter().enumerate() {
        let aucs = if prefix == full {
            arms.leaky[..k.min(arms.leaky.len())].to_vec()
        } else {
            leaky_arm(prefix, 0, &mut tick)?
        };
        let m = mean(&aucs);
        contrib.push(vec![Cell::Text(names), Cell::Float(m), Cell::Float(m - prev)]);
        session.store().log_metric(parent, &LEAKY_AUC_OUTSIDE.key(&format!("{}_{key}", s + 1)), m, None, None)?;
        prev = m;
    }
    drop(progress);
    let title = format!(
        "audit leakage {} ({}) on {} — {} folds × {} repeats, {} on {}, run {parent}",
        spec.name,
        label,
        cohort.text,
        k,
        repeats,
        spec.balance.name(),
        device_choice.label()
    );
    arms.finish(session, parent, (&label, leaky_label), title, contrib)
}
