//! `test MODEL on COHORT`: retrain a trained model's best configuration on
//! all of its training cohort, then predict the test cohort once. Stores the
//! predictions, the metrics (AUC with DeLong CI, accuracy, F1, sensitivity,
//! specificity, …) and the final model's weights.

use crate::core::learn::metrics::youden_threshold;
use crate::core::rng::Rng;
use crate::error::{Error, Result};
use crate::ml::fit::fit;
use crate::ml::spec::ModelSpec;
use crate::ml::train::{Checkpoint, Checkpointing, TrainConfig};
use crate::output::{Output, format_sig};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::records::{TestModelParams, TrainParams, curve};
use crate::store::{Params, Prediction, RunId, RunKind, Store};
use crate::syntax::Token;
use crate::workflow::deep::{
    checkpoint_dir, checkpoint_every, checkpoint_of, device_choice, gather, prune_checkpoints, record_checkpoint,
    save_artifacts,
};

pub struct TestModel;

impl Command for TestModel {
    fn signature(&self) -> Signature {
        Signature::new(
            "test",
            "deep learning",
            "Retrain a trained model's best configuration on its whole training cohort and test it once",
        )
        .required("MODEL", ArgKind::Text, "a model trained with `train`")
        .rest("on COHORT", ArgKind::Text, "`on` and the test cohort frame (its radiomics frames are COHORT.SEQ)")
        .named("run", "ID", ArgKind::Run, "the train run to use (default: the model's latest finished one)")
        .named("threshold", "P|youden", ArgKind::Text, "classification threshold: a probability (default 0.5) or youden (on the training patients)")
        .named("device", "DEV", ArgKind::Text, "cpu (default), gpu[:N] or cuda[:N]")
        .label_flag("the train run's")
        .named(
            "checkpoint-minutes",
            "M",
            ArgKind::Text,
            "write the retraining's weights, optimizer and batch-order state after an epoch when M minutes have \
             passed since the last (default 3; 0: every epoch; off: never); a resumed test continues from its last",
        )
        .switch("fresh", "retrain from epoch 1 even when an unfinished run of this same command left a checkpoint")
        .named(
            "backend",
            "B",
            ArgKind::Text,
            "local (default), slurm (the retraining as one Slurm job, a `radose worker`, with a collect job after it; \
             needs a store every node reaches) or queue (the work item only: run `radose worker` yourself)",
        )
        .named("sbatch", "OPTIONS", ArgKind::Text, "slurm: options for the job, e.g. \"--partition=gpu --gres=gpu:1\"")
        .named("lease", "SECONDS", ArgKind::Int, "slurm/queue: the worker's claim lasts this long unless renewed (every epoch); default 300")
        .named("attempts", "N", ArgKind::Int, "slurm/queue: the retraining fails after N attempts that did not finish (default 3)")
        .named("max-parallel", "K", ArgKind::Int, "accepted for symmetry with `train`; one job either way")
        .switch("wait", "slurm/queue: block until the worker has written the results")
        .experiment_flag()
        .table()
        .example(
            "model Q = T1+Dose --select mannwhitney:k=8 --input 20x30x30; train Q on A --folds 2 --grid epochs=2; test Q on B",
            "train quickly on A, then test once on B",
        )
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let name = args.required(0)?;
        let cohort = args.positionals[1..]
            .iter()
            .find(|t| t.text != "on")
            .ok_or_else(|| Error::invalid("name the test cohort: `test MODEL on B`", None))?;
        let train_run = match args.parsed::<i64>("run", "a run id")? {
            Some(id) => id,
            None => crate::workflow::lookup::latest_run(session, name, RunKind::Train)?,
        };
        let detail = session.store().run_detail(train_run)?;
        if detail.summary.kind != RunKind::Train {
            return Err(Error::invalid(
                format!("run {train_run} is a `{}` run, not a `train` run", detail.summary.kind),
                None,
            ));
        }
        let trained = TrainParams::from_params(train_run, &detail.params)?;
        let spec: ModelSpec = serde_json::from_str(&trained.model_json)
            .map_err(|_| Error::invalid(format!("run {train_run} does not record its model"), None))?;
        let best: TrainConfig = trained
            .best_train_json
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok())
            .ok_or_else(|| Error::invalid(format!("run {train_run} has no best configuration"), None))?;
        let train_cohort = trained.cohort.clone();
        let train_tok = Token { text: train_cohort.clone(), span: cohort.span, quoted: false };
        if session.frames().get(&train_cohort).is_none() {
            return Err(Error::invalid(
                format!("model {} was trained on `{train_cohort}`, which is not loaded in this session", spec.name),
                Some(&format!("load it (and its radiomics frames {train_cohort}.SEQ) first")),
            ));
        }
        let device_choice = device_choice(args)?;
        let device = device_choice.device()?;
        let rule = args.value("threshold").map_or("0.5".to_string(), |t| t.text.clone());
        let fixed = crate::workflow::lookup::threshold_rule(args)?;
        let train_inputs = gather(session, &spec, &train_tok, None)?;
        // The test cohort is checked before training: every column and dose grid must be there.
        let columns: Vec<Vec<String>> = train_inputs.frames.iter().map(|(_, _, n)| n.clone()).collect();
        let test_inputs = gather(session, &spec, cohort, Some(&columns))?;
        let label = args
            .value("label")
            .map(|t| t.text.clone())
            .or_else(|| Some(trained.label.clone()))
            .unwrap_or(spec.preset.clone());
        let seed = Rng::derive(best.seed, &["test", "final"]).next_u64();
        let cfg = best.clone().with_seed(seed);
        let mut params = TestModelParams {
            label: label.clone(),
            model: spec.name.clone(),
            preset: spec.preset.clone(),
            model_json: serde_json::to_string(&spec).unwrap_or_default(),
            train_run,
            simulated: train_inputs.simulated || test_inputs.simulated,
            cohort: train_cohort.clone(),
            test: cohort.text.clone(),
            config: serde_json::to_string(&cfg).unwrap_or_default(),
            threshold_rule: rule.clone(),
            device: device_choice.label(),
            patients_train: train_inputs.ids.len(),
            patients_test: test_inputs.ids.len(),
            resumed_from: None,
            resumed_at_epoch: None,
        };
        let experiment = args.experiment().or_else(|| detail.experiment.clone());
        let run = session.begin_run_in(args, RunKind::Test, &params, Some(seed), experiment)?;
        for d in train_inputs.dataset_ids.iter().chain(&test_inputs.dataset_ids) {
            session.store().link_dataset(run, *d)?;
        }
        // `runs --resume ID`, or this statement run again after a crash: the
        // retraining continues from the unfinished run's last checkpoint.
        let continuing = match session.resuming {
            Some(old) => Some(old),
            None if !args.has("fresh") => {
                crate::workflow::restore::unfinished_run_of(session.store(), RunKind::Test, &args.statement.text, run)?
            }
            None => None,
        };
        let backend = crate::workflow::cluster::Backend::of(args)?;
        if backend != crate::workflow::cluster::Backend::Local {
            let title = format!(
                "test {} ({label}): retrained on {} patients of {train_cohort} (lr={} batch={} epochs={}), tested on {} \
                 of {}, run {run}",
                spec.name,
                train_inputs.ids.len(),
                cfg.lr,
                cfg.batch,
                cfg.epochs,
                test_inputs.ids.len(),
                cohort.text
            );
            let note = format!(
                "threshold rule {rule} ({}); selection, PCA and balancing fitted on {train_cohort} only; trained by a \
                 work item",
                if fixed.is_none() { "Youden's J on the training patients" } else { "fixed" },
            );
            let retrain = crate::workflow::cluster::Retrain {
                run,
                model_json: params.model_json.clone(),
                config_json: params.config.clone(),
                train: &train_inputs,
                test: &test_inputs,
                threshold: fixed,
                device: device_choice.label(),
                title,
                note,
            };
            return crate::workflow::cluster::submit_retrain(args, session, retrain, backend);
        }
        let resume = match continuing {
            Some(old) => continuable(session.store(), old, run)?,
            None => None,
        };
        let progress = session.progress(
            cfg.epochs as u64,
            "epochs",
            format!("test {}: retraining on all of {train_cohort}", spec.name),
        );
        let mut resumed_note = None;
        if let Some((old, ck)) = &resume {
            for m in session.store().metrics(*old)? {
                if m.key == curve::TRAIN_LOSS && m.step.is_some_and(|e| e >= 1 && e <= ck.epoch as i64) {
                    session.store().log_metric(run, &m.key, m.value, m.step, m.fold)?;
                }
            }
            params.resumed_from = Some(*old);
            params.resumed_at_epoch = Some(ck.epoch);
            session.store().log_params(run, &params)?;
            progress.inc(ck.epoch as u64);
            resumed_note = Some(format!(
                "continued the unfinished run {old} from its checkpoint after epoch {} of {} (same command, model, \
                 configuration and data; `--fresh` retrains from epoch 1)",
                ck.epoch, cfg.epochs
            ));
        }
        let cancel = session.cancel_flag();
        let all: Vec<usize> = (0..train_inputs.ids.len()).collect();
        let store = session.store();
        let every = checkpoint_every(args)?;
        let dir = checkpoint_dir(&session.artifact_base(), run);
        let mut written =
            |ck: &Checkpoint, files: &[std::path::PathBuf]| record_checkpoint(store, run, None, ck, files);
        let mut checkpoints = Checkpointing {
            resume: resume.map(|(_, ck)| ck),
            dir: every.map(|_| dir.clone()),
            every: every.unwrap_or_default(),
            written: Some(&mut written),
        };
        let (fitted, _) = fit(
            &spec,
            &train_inputs,
            &all,
            None,
            &cfg,
            &device,
            &|| cancel.is_cancelled(),
            &mut |log| {
                store.log_metric(run, curve::TRAIN_LOSS, log.train_loss, Some(log.epoch as i64), None)?;
                progress.inc(1);
                Ok(())
            },
            &mut checkpoints,
        )?;
        drop(checkpoints);
        drop(progress);
        prune_checkpoints(session.store(), run, &dir)?;
        let inference = crate::ml::device::without_autodiff(&device);
        let threshold = match fixed {
            Some(t) => t,
            None => {
                let p = fitted.predict(&train_inputs, &inference)?;
                youden_threshold(&p, &train_inputs.y)
                    .ok_or_else(|| Error::invalid("the training cohort has one class only", None))?
            }
        };
        let p = fitted.predict(&test_inputs, &inference)?;
        let truth = test_inputs.y.clone();
        session.store_mut().log_predictions(run, &Prediction::all(None, &test_inputs.ids, &truth, &p))?;
        let weights = save_artifacts(session.store(), &session.artifact_base(), run, &fitted, "model")?;
        let title = format!(
            "test {} ({label}): retrained on {} patients of {train_cohort} ({}), tested on {} of {}, run {run}",
            spec.name,
            train_inputs.ids.len(),
            format!("lr={} batch={} epochs={}", cfg.lr, cfg.batch, cfg.epochs),
            truth.len(),
            cohort.text
        );
        let note = format!(
            "threshold {} ({}); selection, PCA and balancing fitted on {train_cohort} only; weights in {}",
            format_sig(threshold, 4),
            if fixed.is_none() { "Youden's J on the training patients" } else { "fixed" },
            weights.display()
        );
        let mut t = crate::workflow::lookup::record_test_metrics(session, run, &p, &truth, threshold, title, note)?;
        t.notes.extend(resumed_note);
        Ok(Output::Table(t))
    }
}

/// The checkpoint of the unfinished `test` run `old` (or the test run
/// `runs --resume` named) that the new run `run` may continue from: the same
/// model, train run, configuration, cohorts, device, seed and input data.
fn continuable(store: &Store, old: RunId, run: RunId) -> Result<Option<(RunId, Checkpoint)>> {
    let (was, now) = (store.run_detail(old)?, store.run_detail(run)?);
    if was.summary.kind != RunKind::Test {
        return Ok(None);
    }
    let (a, b) = (TestModelParams::from_params(old, &was.params)?, TestModelParams::from_params(run, &now.params)?);
    let same = a.model_json == b.model_json
        && a.train_run == b.train_run
        && a.config == b.config
        && a.cohort == b.cohort
        && a.test == b.test
        && a.device == b.device
        && crate::workflow::restore::seed_or_data_differ(&was, &now).is_none();
    if !same {
        return Ok(None);
    }
    Ok(checkpoint_of(store, old)?.map(|ck| (old, ck)))
}
