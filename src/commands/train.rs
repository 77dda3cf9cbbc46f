//! `train MODEL on COHORT --folds 5 --grid lr=1e-3,3e-4 batch=16 epochs=300
//! --seed N`: stratified K-fold cross-validation of a deep model over a grid
//! of training settings. A parent run, a child per configuration, a child
//! per fold under it (per-epoch training loss and validation loss/AUC, the
//! fold's weights); every patient's out-of-fold probability; the best
//! configuration by mean fold AUC. With `--nested`, each fold's
//! configuration is chosen again by cross-validation inside its training
//! rows, so the reported AUC carries no selection optimism.

use std::path::PathBuf;

use crate::core::learn::cv::{Fold, stratified_kfold};
use crate::core::rng::Rng;
use crate::error::{Error, Result};
use crate::ml::device::DeviceChoice;
use crate::ml::fit::{CohortInputs, fit};
use crate::ml::spec::ModelSpec;
use crate::ml::train::{Checkpoint, Checkpointing, TrainConfig};
use crate::output::{Output, format_sig};
use crate::progress::ProgressHandle;
use crate::session::{CancelFlag, Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::records::{TrainFoldParams, TrainOuterParams, TrainParams};
use crate::store::{Params, Prediction, RunId, RunKind, RunStatus, Store};
use crate::syntax::Token;
use crate::workflow::deep::{
    checkpoint_dir, checkpoint_every, checkpoint_of, device_choice, gather, parse_grid, prune_checkpoints,
    record_checkpoint, save_artifacts,
};
use crate::workflow::grid::{
    ConfigResult, Estimate, best_of, better, config_text, estimate, finish_config, held_out, record_best,
    recorded_probabilities, selected_count, summary_table,
};

pub struct Train;

/// The folds an unfinished `train` run finished, by (configuration, fold),
/// when it was the same command on the same data: training is
/// deterministic for a seed, so those folds' results are what training
/// them again would give.
struct Earlier {
    run: RunId,
    /// By (outer fold under `--nested`, configuration, fold).
    folds: std::collections::HashMap<FoldKey, RunId>,
    /// Folds it started and did not finish, which may have a checkpoint.
    partial: std::collections::HashMap<FoldKey, RunId>,
}

/// A fold's place in a `train` run: (outer fold of `--nested`, configuration, fold).
type FoldKey = (Option<usize>, usize, usize);

/// What `runs --resume` may reuse for the new `train` run `parent`, or why
/// nothing can be reused.
fn earlier_folds(store: &Store, resuming: RunId, parent: RunId) -> Result<std::result::Result<Earlier, String>> {
    let Some(old) = crate::workflow::restore::enclosing(store, resuming, RunKind::Train)? else {
        return Ok(Err(format!("run {resuming} is not part of a `train` run")));
    };
    let new = store.run_detail(parent)?;
    let (was, now) =
        (TrainParams::from_params(old.summary.id, &old.params)?, TrainParams::from_params(parent, &new.params)?);
    for (key, same) in [
        ("model_json", was.model_json == now.model_json),
        ("cohort", was.cohort == now.cohort),
        ("folds", was.folds == now.folds),
        ("grid", was.grid == now.grid),
        ("device", was.device == now.device),
        ("patients", was.patients == now.patients),
    ] {
        if !same {
            return Ok(Err(format!("run {} had a different `{key}`", old.summary.id)));
        }
    }
    if let Some(why) = crate::workflow::restore::seed_or_data_differ(&old, &new) {
        return Ok(Err(why));
    }
    // The grid search's configurations, and under `--nested` each outer fold's.
    let mut configs: Vec<(Option<usize>, crate::store::RunDetail)> = Vec::new();
    for &child in &old.children {
        let d = store.run_detail(child)?;
        match d.summary.kind {
            RunKind::TrainConfig => configs.push((None, d)),
            RunKind::TrainOuter => {
                let outer = TrainOuterParams::from_params(child, &d.params)?.fold;
                for &c in &d.children {
                    let inner = store.run_detail(c)?;
                    if inner.summary.kind == RunKind::TrainConfig {
                        configs.push((Some(outer), inner));
                    }
                }
            }
            _ => {}
        }
    }
    let (mut folds, mut partial) = (std::collections::HashMap::new(), std::collections::HashMap::new());
    for (outer, config) in configs {
        for &fold in &config.children {
            let d = store.run_detail(fold)?;
            let p = TrainFoldParams::from_params(fold, &d.params)?;
            if d.summary.status == RunStatus::Finished {
                folds.insert((outer, p.config, p.fold), fold);
            } else {
                partial.insert((outer, p.config, p.fold), fold);
            }
        }
    }
    Ok(Ok(Earlier { run: old.summary.id, folds, partial }))
}

/// A finished fold's recorded results, when they are complete: a held-out
/// probability for every patient of `test` and model files whose hashes
/// still match.
struct Reusable {
    detail: crate::store::RunDetail,
    /// What the fold's training found (its selection, its synthetic rows).
    found: TrainFoldParams,
    probs: Vec<f64>,
    selected: usize,
}

fn reusable(store: &Store, fold_run: RunId, test: &[usize], ids: &[String]) -> Result<Option<Reusable>> {
    let detail = store.run_detail(fold_run)?;
    let Some(probs) = recorded_probabilities(store, fold_run, test, ids)? else {
        return Ok(None);
    };
    if detail.predictions != test.len() as i64 || detail.artifacts.is_empty() {
        return Ok(None);
    }
    for (path, hash) in &detail.artifacts {
        match crate::provenance::sha256_file(std::path::Path::new(path)) {
            Ok(h) if &h == hash => {}
            _ => return Ok(None),
        }
    }
    let found = TrainFoldParams::from_params(fold_run, &detail.params)?;
    let selected = selected_count(&found);
    Ok(Some(Reusable { detail, found, probs, selected }))
}

/// Records an earlier fold's results on the new fold run `run`, whose
/// record (its position: config, fold, sizes) is `record`.
fn copy_fold(
    store: &mut Store,
    run: RunId,
    record: &mut TrainFoldParams,
    earlier: &Reusable,
    rows: &[Prediction],
) -> Result<()> {
    for m in &earlier.detail.metrics {
        store.log_metric(run, &m.key, m.value, m.step, m.fold)?;
    }
    record.selected = earlier.found.selected.clone();
    record.synthetic = earlier.found.synthetic;
    store.log_params(run, record)?;
    for (path, hash) in &earlier.detail.artifacts {
        store.log_artifact(run, path, hash)?;
    }
    store.log_predictions(run, rows)
}

impl Command for Train {
    fn signature(&self) -> Signature {
        Signature::new(
            "train",
            "deep learning",
            "Cross-validate a deep model over a grid of training settings (selection and balancing inside each fold)",
        )
        .required("MODEL", ArgKind::Text, "a model declared with `model`")
        .rest("on COHORT [KEY=V1,V2…]", ArgKind::Text, "`on`, the cohort frame (its radiomics frames are COHORT.SEQ), more grid entries")
        .folds_flag()
        .named("grid", "KEY=V1,V2", ArgKind::Text, "values to try: lr, batch, epochs, weight_decay (wd: L2 in Adam), beta1, beta2, lr_decay (Keras decay: lr / (1 + d·update)) (defaults 1e-3, 16, 300, 1e-5, 0.9, 0.999, 0)")
        .seed_flag("the splits, initial weights, batches and SMOTE")
        .switch(
            "nested",
            "nested cross-validation: each fold's configuration chosen by a grid search inside its training rows, so \
             the reported AUC carries no selection optimism (the plain grid search still picks the configuration \
             `test` retrains)",
        )
        .named("inner-folds", "K", ArgKind::Int, "folds of the inner grid search of --nested (default: --folds)")
        .named("device", "DEV", ArgKind::Text, "cpu (default), gpu[:N] (wgpu build) or cuda[:N] (cuda build)")
        .label_flag("its preset, e.g. T1+Dose")
        .experiment_flag()
        .named(
            "checkpoint-minutes",
            "M",
            ArgKind::Text,
            "write a fold's weights, optimizer and batch-order state after an epoch when M minutes of training have \
             passed since the last (default 3; 0: every epoch; off: never); a resumed fold continues from its last",
        )
        .switch(
            "fresh",
            "train every fold, even when an unfinished run of this same command (a crash, Ctrl-C) left folds to reuse",
        )
        .named(
            "backend",
            "B",
            ArgKind::Text,
            "local (default: every fold in this process), slurm (one work item per configuration and fold, a Slurm \
             job array of `radose worker` tasks and a collect job; needs a store every node reaches, e.g. --db \
             postgres://…) or queue (the work items only: start `radose worker` processes yourself)",
        )
        .named("max-parallel", "K", ArgKind::Int, "slurm: at most K array tasks at once (`--array=…%K`)")
        .named("sbatch", "OPTIONS", ArgKind::Text, "slurm: options for both jobs, e.g. \"--partition=gpu --gres=gpu:1 --time=04:00:00\"")
        .named("lease", "SECONDS", ArgKind::Int, "slurm/queue: a worker's claim lasts this long unless renewed (every epoch); default 300")
        .named("attempts", "N", ArgKind::Int, "slurm/queue: an item is failed after N attempts that did not finish (default 3)")
        .switch("wait", "slurm/queue: block until the run is collected, showing the items' progress")
        .table()
        .example(
            "model Q = T1+Dose --select mannwhitney:k=8 --input 20x30x30; train Q on A --folds 2 --grid epochs=2 batch=8",
            "a quick two-fold run (the paper: --folds 5 --grid lr=1e-3,3e-4 epochs=300 batch=16)",
        )
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let req = request(args, session)?;
        // Everything that can fail on the data fails here, before training.
        let inputs = gather(session, &req.spec, req.cohort, None)?;
        let folds = stratified_kfold(&inputs.y, req.k, Some(Rng::sub_seed(req.seed, &["train", "folds"])))?;
        let nested = req.nested.filter(|_| req.configs.len() > 1);
        let backend = crate::workflow::cluster::Backend::of(args)?;
        if backend != crate::workflow::cluster::Backend::Local && req.nested.is_some() {
            return Err(Error::invalid(
                format!("--nested runs in this process only; drop --backend {}", backend.name()),
                None,
            ));
        }
        let mut opened = open_run(args, session, &req, &inputs, nested)?;
        if backend != crate::workflow::cluster::Backend::Local {
            return submit(args, session, &req, &inputs, &folds, &opened, backend);
        }
        let grid_epochs: usize = req.configs.iter().map(|c| c.epochs).sum();
        let total = grid_epochs * req.k * (1 + nested.unwrap_or(0));
        let job = Job {
            req: &req,
            inputs: &inputs,
            folds: &folds,
            earlier: opened.earlier.as_ref(),
            progress: session.progress(total as u64, "epochs", format!("train {}", req.label)),
            cancel: session.cancel_flag(),
            artifacts: session.artifact_base(),
            checkpoint_every: checkpoint_every(args)?,
        };
        let mut grid: Vec<ConfigResult> = Vec::new();
        let mut reused = 0;
        let set = FoldSet { folds: &folds, outer: None };
        for (ci, cfg) in req.configs.iter().enumerate() {
            let result = train_config(session, &job, &set, opened.parent, ci, cfg)?;
            reused += result.reused;
            grid.push(result);
        }
        let best = best_of(&grid)?;
        let nested_estimate = match nested {
            Some(inner_k) => {
                let (estimate, inner_reused) = nested_cv(session, &job, opened.parent, inner_k, &grid)?;
                reused += inner_reused;
                Some(estimate)
            }
            None => None,
        };
        drop(job);
        let folds_table = record_best(
            session.store_mut(),
            &req.configs,
            &inputs.y,
            opened.parent,
            &mut opened.params,
            best,
            nested_estimate.as_ref(),
        )?;
        let mut summary = summary_table(&req.configs, &grid);
        summary.title = Some(format!(
            "train {} ({}) on {} — {} folds × {} configurations, seed {}, {} on {}, run {}",
            req.spec.name,
            req.spec.preset,
            req.cohort.text,
            req.k,
            req.configs.len(),
            req.seed,
            req.spec.balance.name(),
            req.device_choice.label(),
            opened.parent
        ));
        let bi = best.index;
        summary.notes.push(format!(
            "best by mean fold AUC: configuration {} ({})",
            bi + 1,
            config_text(&req.configs[bi])
        ));
        match (&nested_estimate, nested) {
            (Some(n), Some(inner_k)) => summary.notes.push(format!(
                "nested: each fold's configuration was chosen by {inner_k}-fold cross-validation inside its training \
                 rows; the run reports those folds (pooled AUC {}), against {} for the best configuration on the \
                 folds that chose it (selection optimism {})",
                format_sig(n.pooled, 3),
                format_sig(best.estimate.pooled, 3),
                format_sig(best.estimate.pooled - n.pooled, 3)
            )),
            _ if req.nested.is_some() => summary.notes.push(
                "--nested: the grid has one configuration, so nothing is chosen and the folds above carry no \
                 selection optimism; no inner search was run"
                    .into(),
            ),
            _ if req.configs.len() > 1 => summary.notes.push(
                "the AUC above is measured on the folds that chose the configuration (selection optimism included; \
                 `--nested` measures it)"
                    .into(),
            ),
            _ => {}
        }
        if let Some(e) = &opened.earlier {
            let all = req.configs.len() * req.k * (1 + nested.unwrap_or(0));
            let how = if session.resuming.is_some() { "resumed" } else { "continued the unfinished" };
            summary.notes.push(format!(
                "{how} run {}: {reused} of {all} folds reused from it (same command, model, seed and data; `--fresh` \
                 trains them all), {} trained",
                e.run,
                all - reused
            ));
        }
        summary.notes.extend(opened.resume_note.take());
        summary.notes.push(
            "selection, PCA and balancing were fitted on each training fold only; synthetic samples never reach a \
             held-out fold"
                .into(),
        );
        Ok(Output::Many(vec![Output::Table(summary), Output::Table(folds_table)]))
    }
}

/// What `train` was asked: the model, the cohort, folds, seed, device and
/// the grid of training settings.
struct Request<'a> {
    spec: ModelSpec,
    cohort: &'a Token,
    k: usize,
    seed: u64,
    device_choice: DeviceChoice,
    device: crate::ml::Device,
    configs: Vec<TrainConfig>,
    /// The grid as written (`lr=1e-3,3e-4 epochs=300`).
    grid_text: String,
    label: String,
    /// `--nested`: the inner grid search's folds.
    nested: Option<usize>,
}

/// Stage 1: reads and checks the statement.
fn request<'a>(args: &'a Args, session: &Session) -> Result<Request<'a>> {
    let name = args.required(0)?;
    let spec = crate::workflow::lookup::model_named(session, name)?;
    let mut cohort = None;
    let mut grid_items: Vec<&Token> = args.value("grid").into_iter().collect();
    for t in &args.positionals[1..] {
        if t.text == "on" && cohort.is_none() {
            continue;
        } else if t.text.contains('=') {
            grid_items.push(t);
        } else if cohort.is_none() {
            cohort = Some(t);
        } else {
            return Err(Error::InvalidValue {
                token: t.text.clone(),
                what: "train".into(),
                reason: "write `train MODEL on COHORT [KEY=V1,V2…]`".into(),
                span: t.span,
            });
        }
    }
    let cohort = cohort.ok_or_else(|| Error::invalid("name the cohort: `train MODEL on A`", None))?;
    let (k, seed) = (args.folds()?, args.seed()?);
    let device_choice = device_choice(args)?;
    let device = device_choice.device()?;
    let configs = parse_grid(&grid_items, &TrainConfig::new().with_seed(seed))?;
    let grid_text = grid_items.iter().map(|t| t.text.as_str()).collect::<Vec<_>>().join(" ");
    let label = args.value("label").map_or(spec.preset.clone(), |t| t.text.clone());
    let inner: Option<usize> = args.parsed("inner-folds", "a number of folds")?;
    let nested = match (args.has("nested"), inner) {
        (false, None) => None,
        (false, Some(_)) => {
            return Err(Error::invalid("--inner-folds is the inner search of --nested; add --nested", None));
        }
        (true, Some(i)) if i < 2 => return Err(Error::invalid(format!("--inner-folds {i}: at least 2 folds"), None)),
        (true, i) => Some(i.unwrap_or(k)),
    };
    Ok(Request { spec, cohort, k, seed, device_choice, device, configs, grid_text, label, nested })
}

/// The parent run, its record, and what a resumed run may reuse.
struct Opened {
    parent: RunId,
    params: TrainParams,
    earlier: Option<Earlier>,
    resume_note: Option<String>,
}

/// Stage 2: records the train run (under `runs --resume`, with the folds
/// the unfinished run finished).
fn open_run(
    args: &Args,
    session: &mut Session,
    req: &Request<'_>,
    inputs: &CohortInputs,
    nested: Option<usize>,
) -> Result<Opened> {
    let (spec, cohort) = (&req.spec, req.cohort);
    let mut params = TrainParams {
        label: req.label.clone(),
        model: spec.name.clone(),
        preset: spec.preset.clone(),
        model_json: serde_json::to_string(spec).unwrap_or_default(),
        simulated: inputs.simulated,
        cohort: cohort.text.clone(),
        inputs: spec.sequences.iter().map(|s| format!("{}.{s}", cohort.text)).collect::<Vec<_>>().join(","),
        folds: req.k,
        grid: req.grid_text.clone(),
        configs: req.configs.len(),
        device: req.device_choice.label(),
        balance: spec.balance.name().into(),
        patients: inputs.y.len(),
        resumed_from: None,
        best_config: None,
        best_train_json: None,
        best: None,
        nested_folds: nested,
    };
    let parent = session.begin_run_in(args, RunKind::Train, &params, Some(req.seed), args.experiment())?;
    for &d in &inputs.dataset_ids {
        session.store().link_dataset(parent, d)?;
    }
    let (mut earlier, mut resume_note) = (None, None);
    // `runs --resume ID`, or the same statement run again after a crash
    // (a script rerun): the unfinished run's finished folds are reused.
    let continuing = match session.resuming {
        Some(old) => Some(old),
        None if !args.has("fresh") => {
            crate::workflow::restore::unfinished_run_of(session.store(), RunKind::Train, &args.statement.text, parent)?
        }
        None => None,
    };
    if let Some(old) = continuing {
        match earlier_folds(session.store(), old, parent)? {
            Ok(e) => {
                params.resumed_from = Some(e.run);
                session.store().log_params(parent, &params)?;
                earlier = Some(e);
            }
            Err(why) => resume_note = Some(format!("nothing reused: {why}; every fold was trained")),
        }
    }
    Ok(Opened { parent, params, earlier, resume_note })
}

/// What every configuration's training shares.
struct Job<'a> {
    req: &'a Request<'a>,
    inputs: &'a CohortInputs,
    folds: &'a [Fold],
    earlier: Option<&'a Earlier>,
    progress: ProgressHandle,
    cancel: CancelFlag,
    artifacts: PathBuf,
    /// Training time between a fold's checkpoints; `None`: no checkpoints.
    checkpoint_every: Option<std::time::Duration>,
}

/// The folds one grid search trains over: the cohort's, or (`--nested`)
/// the inner folds of outer fold `outer`.
struct FoldSet<'a> {
    folds: &'a [Fold],
    outer: Option<usize>,
}

impl FoldSet<'_> {
    /// Fold `f`'s seed: the grid search's folds keep the seeds they had
    /// before `--nested` existed.
    fn seed(&self, seed: u64, f: usize) -> u64 {
        match self.outer {
            None => Rng::sub_seed(seed, &["train", "fold", &f.to_string()]),
            Some(o) => Rng::sub_seed(seed, &["train", "outer", &o.to_string(), "fold", &f.to_string()]),
        }
    }
}

/// One fold's held-out result.
struct FoldOutcome {
    probs: Vec<f64>,
    selected: usize,
    reused: bool,
}

/// Stage 3: one configuration over every fold of `set`, recorded as a
/// `train-config` run (under `parent`) with a `train-fold` run per fold.
fn train_config(
    session: &mut Session,
    job: &Job<'_>,
    set: &FoldSet<'_>,
    parent: RunId,
    ci: usize,
    cfg: &TrainConfig,
) -> Result<ConfigResult> {
    let (req, y) = (job.req, &job.inputs.y);
    let config_params = crate::workflow::grid::config_params(ci, cfg);
    let config_run = session.begin_child(parent, RunKind::TrainConfig, &config_params, Some(req.seed))?;
    let (mut outcomes, mut reused) = (Vec::new(), 0);
    for (f, fold) in set.folds.iter().enumerate() {
        let outer = set.outer.map(|o| format!(" outer {}/{}", o + 1, req.k)).unwrap_or_default();
        job.progress.set_message(format!(
            "train {}{outer} config {}/{} fold {}/{}",
            req.spec.name,
            ci + 1,
            req.configs.len(),
            f + 1,
            set.folds.len()
        ));
        let out = train_fold(session, job, set, config_run, ci, cfg, f, fold)?;
        reused += usize::from(out.reused);
        outcomes.push((ci, f, fold, out.probs, out.selected));
    }
    finish_config(session.store_mut(), config_run, ci, y, &job.inputs.ids, &outcomes, reused)
}

/// Stage 3b (`--nested`): for each of the cohort's folds (the outer folds),
/// the grid searched again by `inner_k`-fold cross-validation inside its
/// training rows, recorded as a `train-outer` run. The configuration
/// chosen there, refitted on the outer training rows with the outer fold's
/// seed, is exactly the grid search's fit of that fold (training is
/// deterministic for a seed), so its held-out probabilities are taken from
/// `grid` instead of being trained again. Returns the outer folds'
/// estimate and the inner folds reused from a resumed run.
fn nested_cv(
    session: &mut Session,
    job: &Job<'_>,
    parent: RunId,
    inner_k: usize,
    grid: &[ConfigResult],
) -> Result<(Estimate, usize)> {
    let (req, y) = (job.req, &job.inputs.y);
    let (mut outcomes, mut reused) = (Vec::new(), 0);
    for (o, outer) in job.folds.iter().enumerate() {
        let mut params = TrainOuterParams {
            fold: o,
            train: outer.train.len(),
            test: outer.test.len(),
            inner_folds: inner_k,
            chosen_config: None,
            inner_auc_mean: None,
        };
        let outer_run = session.begin_child(parent, RunKind::TrainOuter, &params, Some(req.seed))?;
        let ytr: Vec<u8> = outer.train.iter().map(|&i| y[i]).collect();
        let split_seed = Rng::sub_seed(req.seed, &["train", "outer", &o.to_string(), "folds"]);
        let inner: Vec<Fold> = stratified_kfold(&ytr, inner_k, Some(split_seed))
            .map_err(|e| Error::invalid(format!("outer fold {}: the inner folds: {e}", o + 1), None))?
            .into_iter()
            .map(|f| Fold {
                train: f.train.iter().map(|&i| outer.train[i]).collect(),
                test: f.test.iter().map(|&i| outer.train[i]).collect(),
            })
            .collect();
        let set = FoldSet { folds: &inner, outer: Some(o) };
        let mut chosen: Option<(usize, f64)> = None;
        for (ci, cfg) in req.configs.iter().enumerate() {
            let r = train_config(session, job, &set, outer_run, ci, cfg)?;
            reused += r.reused;
            if chosen.is_none_or(|(_, m)| better(r.estimate.mean, m)) {
                chosen = Some((ci, r.estimate.mean));
            }
        }
        let (ci, inner_mean) = chosen.ok_or_else(|| Error::invalid("the grid is empty", None))?;
        let g = &grid[ci].estimate;
        let probs: Vec<f64> = outer.test.iter().map(|&i| g.oof[i]).collect();
        let selected = g.rows.get(o).map_or(0, |r| r.7);
        params.chosen_config = Some(ci);
        params.inner_auc_mean = inner_mean.is_finite().then_some(inner_mean);
        let truth: Vec<u8> = outer.test.iter().map(|&i| y[i]).collect();
        let store = session.store_mut();
        store.log_params(outer_run, &params)?;
        let metrics = crate::workflow::grid::fold_metrics(&probs, &truth);
        store.log_metrics(outer_run, Some(o as i64), &metrics)?;
        store.log_predictions(outer_run, &held_out(o, &outer.test, &probs, &job.inputs.ids, y))?;
        store.finish_run(outer_run, RunStatus::Finished, None)?;
        outcomes.push((ci, o, outer, probs, selected));
    }
    Ok((estimate(y, &job.inputs.ids, &outcomes), reused))
}

/// Stage 3, one fold: reused from the resumed run when it may be, else
/// fitted fold-safely; recorded as a `train-fold` run with its curves,
/// model files, metrics and held-out predictions.
fn train_fold(
    session: &mut Session,
    job: &Job<'_>,
    set: &FoldSet<'_>,
    config_run: RunId,
    ci: usize,
    cfg: &TrainConfig,
    f: usize,
    fold: &Fold,
) -> Result<FoldOutcome> {
    let (req, inputs, y) = (job.req, job.inputs, &job.inputs.y);
    let fold_cfg = cfg.clone().with_seed(set.seed(req.seed, f));
    let reuse = match job.earlier.and_then(|e| e.folds.get(&(set.outer, ci, f))) {
        Some(&old) => reusable(session.store(), old, &fold.test, &inputs.ids)?.map(|r| (old, r)),
        None => None,
    };
    let mut fold_params = TrainFoldParams {
        config: ci,
        fold: f,
        train: fold.train.len(),
        test: fold.test.len(),
        reused_from: reuse.as_ref().map(|(old, _)| *old),
        selected: None,
        synthetic: None,
        resumed_at_epoch: None,
    };
    let fold_run = session.begin_child(config_run, RunKind::TrainFold, &fold_params, Some(fold_cfg.seed))?;
    if let Some((_, r)) = reuse {
        // A reused fold's metrics are copied with the rest of its record.
        let rows = held_out(f, &fold.test, &r.probs, &inputs.ids, y);
        copy_fold(session.store_mut(), fold_run, &mut fold_params, &r, &rows)?;
        job.progress.inc(cfg.epochs as u64);
        session.store().finish_run(fold_run, RunStatus::Finished, None)?;
        return Ok(FoldOutcome { probs: r.probs, selected: r.selected, reused: true });
    }
    // A fold the unfinished run started: continue from its last checkpoint,
    // with the epochs before it recorded again on this fold run.
    let resume = match job.earlier.and_then(|e| e.partial.get(&(set.outer, ci, f))) {
        Some(&old) => checkpoint_of(session.store(), old)?.map(|ck| (old, ck)),
        None => None,
    };
    if let Some((old, ck)) = &resume {
        for m in session.store().metrics(*old)? {
            if m.step.is_some_and(|e| e >= 1 && e <= ck.epoch as i64) {
                session.store().log_metric(fold_run, &m.key, m.value, m.step, m.fold)?;
            }
        }
        fold_params.resumed_at_epoch = Some(ck.epoch);
        fold_params.reused_from = Some(*old);
        session.store().log_params(fold_run, &fold_params)?;
        job.progress.inc(ck.epoch as u64);
    }
    let store = session.store();
    let checkpoint_dir = checkpoint_dir(&job.artifacts, fold_run);
    let mut written =
        |ck: &Checkpoint, files: &[PathBuf]| record_checkpoint(store, fold_run, Some(f as i64), ck, files);
    let mut checkpoints = Checkpointing {
        resume: resume.map(|(_, ck)| ck),
        dir: job.checkpoint_every.map(|_| checkpoint_dir.clone()),
        every: job.checkpoint_every.unwrap_or_default(),
        written: Some(&mut written),
    };
    // On an error the session closes this fold, its configuration and the
    // train run with the error.
    let (fitted, probs) = fit(
        &req.spec,
        inputs,
        &fold.train,
        Some(&fold.test),
        &fold_cfg,
        &req.device,
        &|| job.cancel.is_cancelled(),
        &mut |log| {
            crate::workflow::grid::log_fold_epoch(store, fold_run, f, log)?;
            job.progress.inc(1);
            Ok(())
        },
        &mut checkpoints,
    )?;
    drop(checkpoints);
    let probs = probs.unwrap_or_default();
    let store = session.store_mut();
    // The fold is done: its checkpoints are pruned, files and records.
    prune_checkpoints(store, fold_run, &checkpoint_dir)?;
    fold_params.selected = serde_json::to_string(&fitted.features.selected).ok();
    fold_params.synthetic = Some(fitted.synthetic);
    store.log_params(fold_run, &fold_params)?;
    save_artifacts(store, &job.artifacts, fold_run, &fitted, "model")?;
    // The fold's own held-out predictions: what `runs --resume` reuses.
    let rows = held_out(f, &fold.test, &probs, &inputs.ids, y);
    store.log_predictions(fold_run, &rows)?;
    let truth: Vec<u8> = fold.test.iter().map(|&i| y[i]).collect();
    let metrics = crate::workflow::grid::fold_metrics(&probs, &truth);
    store.log_metrics(fold_run, Some(f as i64), &metrics)?;
    store.finish_run(fold_run, RunStatus::Finished, None)?;
    Ok(FoldOutcome { probs, selected: fitted.features.selected.len(), reused: false })
}

/// `--backend slurm|queue`: the inputs frozen into one file beside the
/// run's artifacts, a configuration run per grid point, one work item per
/// (configuration, fold), and (slurm) the job array and collect job. The
/// runs stay open: the collector closes them.
fn submit(
    args: &Args,
    session: &mut Session,
    req: &Request<'_>,
    inputs: &CohortInputs,
    folds: &[Fold],
    opened: &Opened,
    backend: crate::workflow::cluster::Backend,
) -> Result<Output> {
    use crate::workflow::cluster::Backend;
    use crate::workflow::cluster::{self, ItemSpec};
    let parent = opened.parent;
    let cluster::WorkOptions { lease, attempts, max_parallel, extra } = cluster::WorkOptions::of(args)?;
    let db = cluster::workers_db(session)?;
    let base = std::path::absolute(session.artifact_base())
        .map_err(|e| Error::Io { path: session.artifact_base(), message: e.to_string() })?;
    let run_dir = base.join(format!("run-{parent}"));
    let inputs_path = run_dir.join("inputs.bin");
    let sha = cluster::write_inputs(&inputs_path, inputs)?;
    session.store().log_artifact(parent, &inputs_path.to_string_lossy(), &sha)?;
    let mut specs = Vec::new();
    let mut config_runs = Vec::new();
    let set = FoldSet { folds, outer: None };
    for (ci, cfg) in req.configs.iter().enumerate() {
        let config_params = crate::workflow::grid::config_params(ci, cfg);
        let config_run = session.begin_child(parent, RunKind::TrainConfig, &config_params, Some(req.seed))?;
        config_runs.push(config_run);
        let config_json =
            serde_json::to_string(cfg).map_err(|e| Error::invalid(format!("the training settings: {e}"), None))?;
        for (f, fold) in folds.iter().enumerate() {
            let spec = ItemSpec {
                format: cluster::SPEC_FORMAT,
                parent,
                config_run,
                config: ci,
                fold: f,
                command: args.statement.text.clone(),
                model_json: opened.params.model_json.clone(),
                config_json: config_json.clone(),
                seed: set.seed(req.seed, f),
                train_ids: fold.train.iter().map(|&i| inputs.ids[i].clone()).collect(),
                test_ids: fold.test.iter().map(|&i| inputs.ids[i].clone()).collect(),
                inputs: inputs_path.to_string_lossy().into_owned(),
                inputs_sha256: sha.clone(),
                artifacts: base.to_string_lossy().into_owned(),
                device: req.device_choice.label(),
            };
            specs.push(serde_json::to_string(&spec).map_err(|e| Error::invalid(format!("work item: {e}"), None))?);
        }
    }
    let store = session.store_mut();
    store.add_work_items(parent, &specs, attempts, lease as f64)?;
    store.log_param(parent, "backend", &crate::store::ParamValue::Text(backend.name().into()))?;
    let mut lines = vec![format!(
        "run {parent}: {} work items ({} configurations × {} folds) in {}",
        specs.len(),
        req.configs.len(),
        folds.len(),
        session.store().path().display()
    )];
    if backend == Backend::Slurm {
        let submitted = cluster::submit_slurm(&cluster::Submission {
            parent,
            items: specs.len(),
            max_parallel,
            extra: &extra,
            db: &db,
            dir: &run_dir.join("slurm"),
        })?;
        let store = session.store();
        store.log_param(parent, "slurm_array_job", &crate::store::ParamValue::Text(submitted.array.clone()))?;
        store.log_param(parent, "slurm_collect_job", &crate::store::ParamValue::Text(submitted.collect.clone()))?;
        if let Some(k) = max_parallel {
            store.log_param(parent, "max_parallel", &crate::store::ParamValue::Int(k as i64))?;
        }
        if !extra.is_empty() {
            store.log_param(parent, "sbatch", &crate::store::ParamValue::Text(extra.join(" ")))?;
        }
        lines.push(format!(
            "submitted: job array {} ({} tasks{}), collect job {} after it; logs in {}",
            submitted.array,
            specs.len(),
            max_parallel.map(|k| format!(", at most {k} at once")).unwrap_or_default(),
            submitted.collect,
            run_dir.join("slurm").display()
        ));
    } else {
        lines.push(format!(
            "start workers on this store ({}): `radose worker --parent {parent}` (as many as you like), and one \
             collector: `radose worker --collect {parent}`",
            session.store().path().display()
        ));
    }
    let mut keep = config_runs;
    keep.push(parent);
    session.keep_open(&keep);
    if args.has("wait") {
        let status = cluster::wait_for(session, parent, std::time::Duration::from_secs(1))?;
        lines.push(format!("run {parent} {status}"));
        let detail = session.store().run_detail(parent)?;
        if status != RunStatus::Finished {
            return Err(Error::invalid(
                format!("run {parent} {status}: {}", detail.error.unwrap_or_default()),
                Some(&format!("`run show {parent}` lists its work items")),
            ));
        }
        let table = cluster::recorded_grid(session.store(), parent)?;
        return Ok(Output::Many(vec![Output::Message(lines.join("\n")), Output::Table(table)]));
    }
    lines.push(format!(
        "`run show {parent}` shows the items' progress; `runs --where 'id = {parent} or parent = {parent}'` its runs"
    ));
    Ok(Output::Message(lines.join("\n")))
}
