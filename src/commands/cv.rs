//! `cv PIPELINE on FRAMES…`: stratified K-fold cross-validation of a
//! pipeline, every fitted step inside the training folds. Recorded as a
//! parent run with one child run per fold (metrics, selected features) and
//! every patient's out-of-fold probability.

use std::collections::BTreeMap;

use crate::core::learn::cv::{Repeat, repeated_splits};
use crate::core::learn::metrics::{accuracy, auc, delong, f1};
use crate::core::learn::pipeline::{FoldResult, cross_validate_reusing};
use crate::error::Result;
use crate::output::{Cell, Output, Table, format_sig};
use crate::session::{Command, Session};
use crate::signature::{Args, Signature};
use crate::store::records::{ClassicalParams, CvFoldParams, CvMetrics, FoldMetrics};
use crate::store::{Params, Prediction, RunId, RunKind, RunStatus, Store};
use crate::workflow::features::CvRequest;

pub struct Cv;

impl Command for Cv {
    fn signature(&self) -> Signature {
        CvRequest::signature(
            "cv",
            "learning",
            "Cross-validate a pipeline on feature frames (all fitting inside training folds)",
        )
        .switch(
            "fresh",
            "fit every fold, even when an unfinished run of this same command (a crash, Ctrl-C) left folds to reuse",
        )
        .example("cv P1 on A --folds 5 --seed 7", "five-fold CV of P1 on frame A")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let req = CvRequest::read(args, session)?;
        let CvRequest { name, pipeline, frames, k, repeats, seed, inputs, labelled, .. } = &req;
        let (k, repeats, seed) = (*k, *repeats, *seed);
        let y = inputs[0].y.clone();
        let ids = inputs[0].ids.clone();
        let splits: Vec<Repeat> = repeated_splits(&y, k, repeats, seed)?;
        let label = req.label.clone();
        let simulated =
            frames.iter().any(|t| session.frame(t).ok().and_then(|f| f.origin.as_ref()).is_some_and(|o| o.simulated()));
        let parent = session.begin_run_in(
            args,
            RunKind::Cv,
            &ClassicalParams {
                inputs: Some(req.inputs_text()),
                folds: Some(k),
                repeats: Some(repeats),
                patients: Some(y.len()),
                ..ClassicalParams::new(label, simulated, &name.text, &pipeline.text, pipeline.to_json())
            },
            Some(seed),
            args.experiment(),
        )?;
        for input in inputs.iter() {
            for &d in &input.dataset_ids {
                session.store().link_dataset(parent, d)?;
            }
        }
        // `runs --resume ID`, or this statement run again after a crash: the
        // folds the unfinished run finished are reused.
        let continuing = match session.resuming {
            Some(old) => Some(old),
            None if !args.has("fresh") => {
                crate::workflow::restore::unfinished_run_of(session.store(), RunKind::Cv, &args.statement.text, parent)?
            }
            None => None,
        };
        let (earlier, resume_note) = match continuing {
            Some(old) => match earlier_folds(session.store(), old, parent, &splits, &y, &ids)? {
                Ok(e) => (e, None),
                Err(why) => (Earlier::default(), Some(format!("nothing reused: {why}; every fold was fitted"))),
            },
            None => (Earlier::default(), None),
        };
        let progress = session.progress((k * repeats) as u64, "folds", format!("cv {}", name.text));
        let cancel = session.cancel_flag();
        let mut rows = Table::new(["repeat", "fold", "train", "test", "events", "auc", "acc", "f1", "selected"]);
        let mut fold_aucs = Vec::new();
        let mut selections: Vec<Vec<String>> = Vec::new();
        let mut pooled: Vec<(f64, u8)> = Vec::new();
        for (r, split) in splits.iter().enumerate() {
            let results = cross_validate_reusing(
                pipeline,
                labelled,
                &y,
                &split.folds,
                split.seeds.fit,
                &|| cancel.is_cancelled(),
                &|f| earlier.folds.get(&(r * k + f)).map(|(_, res)| res.clone()),
                &mut |res| {
                    let fold_index = (r * k + res.fold) as i64;
                    let fold_params = CvFoldParams {
                        repeat: r,
                        fold: res.fold,
                        train: res.train,
                        test: res.test.len(),
                        selected: serde_json::to_string(&res.selected).unwrap_or_default(),
                        reused_from: earlier.folds.get(&(r * k + res.fold)).map(|(old, _)| *old),
                    };
                    let child = session.begin_child(parent, RunKind::CvFold, &fold_params, Some(seed))?;
                    let store = session.store_mut();
                    let metrics = FoldMetrics { auc: res.auc, acc: res.accuracy, f1: res.f1 };
                    store.log_metrics(child, Some(fold_index), &metrics)?;
                    let preds: Vec<Prediction> = res
                        .test
                        .iter()
                        .zip(&res.probability)
                        .map(|(&i, &p)| Prediction {
                            fold: Some(fold_index),
                            patient: ids[i].clone(),
                            label: y[i],
                            probability: p,
                        })
                        .collect();
                    store.log_predictions(parent, &preds)?;
                    store.finish_run(child, RunStatus::Finished, None)?;
                    progress.inc(1);
                    Ok(())
                },
            )?;
            let mut oof = vec![f64::NAN; y.len()];
            for res in &results {
                let events = res.test.iter().filter(|&&i| y[i] == 1).count();
                rows.push(vec![
                    (r + 1).into(),
                    (res.fold + 1).into(),
                    res.train.into(),
                    res.test.len().into(),
                    events.into(),
                    res.auc.into(),
                    res.accuracy.into(),
                    res.f1.into(),
                    res.selected.len().into(),
                ]);
                fold_aucs.push(res.auc);
                selections.push(res.selected.clone());
                for (&i, &p) in res.test.iter().zip(&res.probability) {
                    oof[i] = p;
                }
            }
            pooled.extend(oof.iter().zip(&y).map(|(p, t)| (*p, *t)));
        }
        drop(progress);
        let (probs, truth): (Vec<f64>, Vec<u8>) = pooled.into_iter().unzip();
        let (auc_mean, auc_sd) = crate::core::describe::mean_sd_finite(&fold_aucs);
        // DeLong's interval needs each patient once: only without repeats.
        let ci = delong(&probs, &truth).filter(|_| repeats == 1).map(|d| d.ci(0.95));
        let summary = CvMetrics {
            auc_mean,
            auc_sd,
            auc_pooled: auc(&probs, &truth),
            acc_pooled: Some(accuracy(&probs, &truth, 0.5)),
            f1_pooled: Some(f1(&probs, &truth, 0.5)),
            selection_jaccard: Some(mean_jaccard(&selections)),
            auc_pooled_ci_low: ci.map(|c| c.0),
            auc_pooled_ci_high: ci.map(|c| c.1),
        };
        session.store().log_metrics(parent, None, &summary)?;
        rows.title = Some(format!(
            "cv {} on {} — {k} folds × {repeats}, seed {seed}, run {parent}",
            name.text,
            frames.iter().map(|t| t.text.as_str()).collect::<Vec<_>>().join("+")
        ));
        rows.notes.push(format!(
            "AUC mean ± SD of folds {} ± {}; pooled out-of-fold AUC {}, accuracy {}, F1 {} (threshold 0.5)",
            format_sig(auc_mean, 3),
            format_sig(auc_sd, 3),
            format_sig(summary.auc_pooled, 3),
            format_sig(summary.acc_pooled.unwrap_or(f64::NAN), 3),
            format_sig(summary.f1_pooled.unwrap_or(f64::NAN), 3)
        ));
        if let Some((lo, hi)) = ci {
            rows.notes.push(format!("pooled AUC 95% CI (DeLong) {}–{}", format_sig(lo, 3), format_sig(hi, 3)));
        }
        if let Some(old) = earlier.run {
            let how = if session.resuming.is_some() { "resumed" } else { "continued the unfinished" };
            rows.notes.push(format!(
                "{how} run {old}: {} of {} folds reused from it (same command, pipeline, seed and data; `--fresh` fits \
                 them all), {} fitted",
                earlier.folds.len(),
                k * repeats,
                k * repeats - earlier.folds.len()
            ));
        }
        rows.notes.extend(resume_note);
        rows.notes
            .push("every step was fitted on the training folds only; SMOTE rows never reach a held-out fold".into());
        let skipped: Vec<String> =
            inputs.iter().flat_map(|i| i.skipped.iter().map(move |s| format!("{}:{s}", i.label))).collect();
        if !skipped.is_empty() {
            rows.notes.push(format!("non-numeric columns left out: {}", skipped.join(", ")));
        }
        Ok(Output::Many(vec![Output::Table(rows), Output::Table(stability(&selections))]))
    }
}

/// The folds an unfinished `cv` run finished, by fold index (repeat × k +
/// fold), each with the old fold run's id.
#[derive(Default)]
struct Earlier {
    run: Option<RunId>,
    folds: std::collections::HashMap<usize, (RunId, FoldResult)>,
}

/// What the new `cv` run `parent` may reuse of the unfinished run `old` (or
/// the run that fold run `old` belongs to), or why nothing can be reused:
/// the same pipeline, frames, folds, repeats, seed and data; a fold counts
/// when its run finished and the parent holds a held-out probability for
/// exactly its test patients.
fn earlier_folds(
    store: &Store,
    old: RunId,
    parent: RunId,
    splits: &[Repeat],
    y: &[u8],
    ids: &[String],
) -> Result<std::result::Result<Earlier, String>> {
    let Some(was) = crate::workflow::restore::enclosing(store, old, RunKind::Cv)? else {
        return Ok(Err(format!("run {old} is not part of a `cv` run")));
    };
    let now = store.run_detail(parent)?;
    let (a, b) = (
        ClassicalParams::from_params(was.summary.id, &was.params)?,
        ClassicalParams::from_params(parent, &now.params)?,
    );
    for (key, same) in [
        ("pipeline", a.pipeline_json == b.pipeline_json),
        ("inputs", a.inputs == b.inputs),
        ("folds", a.folds == b.folds),
        ("repeats", a.repeats == b.repeats),
        ("patients", a.patients == b.patients),
    ] {
        if !same {
            return Ok(Err(format!("run {} had a different `{key}`", was.summary.id)));
        }
    }
    if let Some(why) = crate::workflow::restore::seed_or_data_differ(&was, &now) {
        return Ok(Err(why));
    }
    let k = splits.first().map_or(0, |s| s.folds.len());
    let mut by_fold: std::collections::HashMap<i64, std::collections::HashMap<String, f64>> = Default::default();
    for p in store.predictions(was.summary.id)? {
        if let Some(f) = p.fold {
            by_fold.entry(f).or_default().insert(p.patient, p.probability);
        }
    }
    let mut folds = std::collections::HashMap::new();
    for &child in &was.children {
        let d = store.run_detail(child)?;
        if d.summary.status != RunStatus::Finished {
            continue;
        }
        let p = CvFoldParams::from_params(child, &d.params)?;
        let index = p.repeat * k + p.fold;
        let (Some(split), Some(recorded)) = (splits.get(p.repeat), by_fold.get(&(index as i64))) else { continue };
        let Some(fold) = split.folds.get(p.fold) else { continue };
        let probs: Option<Vec<f64>> = fold.test.iter().map(|&i| recorded.get(&ids[i]).copied()).collect();
        let (Some(probs), Ok(selected)) = (probs, serde_json::from_str::<Vec<String>>(&p.selected)) else { continue };
        if recorded.len() != fold.test.len() || p.train != fold.train.len() {
            continue;
        }
        let result = FoldResult::from_probabilities(p.fold, p.train, fold.test.clone(), y, probs, selected);
        folds.insert(index, (child, result));
    }
    Ok(Ok(Earlier { run: Some(was.summary.id), folds }))
}

/// Mean Jaccard index over all pairs of folds' selections.
fn mean_jaccard(sets: &[Vec<String>]) -> f64 {
    let mut total = 0.0;
    let mut pairs = 0;
    for i in 0..sets.len() {
        for j in i + 1..sets.len() {
            let inter = sets[i].iter().filter(|s| sets[j].contains(s)).count();
            let union = sets[i].len() + sets[j].len() - inter;
            total += if union == 0 { 1.0 } else { inter as f64 / union as f64 };
            pairs += 1;
        }
    }
    if pairs == 0 { f64::NAN } else { total / pairs as f64 }
}

/// How often each feature was selected across folds.
fn stability(selections: &[Vec<String>]) -> Table {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in selections {
        for f in s {
            *counts.entry(f.as_str()).or_default() += 1;
        }
    }
    let mut ranked: Vec<(&str, usize)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut t = Table::new(["feature", "folds", "share"]).with_title("selection stability");
    for (f, c) in ranked.iter().take(20) {
        t.push(vec![(*f).into(), (*c).into(), Cell::Float(*c as f64 / selections.len().max(1) as f64)]);
    }
    if ranked.len() > 20 {
        t.notes.push(format!("{} more features were selected in some fold", ranked.len() - 20));
    }
    t.notes.push(format!(
        "mean pairwise Jaccard index of the folds' selections: {}",
        format_sig(mean_jaccard(selections), 3)
    ));
    t
}
