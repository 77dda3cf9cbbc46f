//! What a grid search's results are, whichever way its folds were
//! trained (in this process, or by workers elsewhere): each
//! configuration's cross-validated estimate from its folds' held-out
//! probabilities, the best configuration, and the records and tables the
//! `train` run ends with. `train` and the collector of `train --backend
//! slurm` (`worker --collect`) both end here, so the two paths store the
//! same numbers.

use crate::core::learn::cv::Fold;
use crate::core::learn::metrics::{accuracy, auc, delong, f1};
use crate::error::{Error, Result};
use crate::ml::train::EpochLog;
use crate::ml::train::TrainConfig;
use crate::output::{Table, format_sig};
use crate::store::records::{CvMetrics, FoldMetrics, NestedMetrics, TrainConfigParams, TrainParams, curve};
use crate::store::{Prediction, RunId, RunStatus, Store};

/// A cross-validated estimate: each fold's held-out probabilities.
pub struct Estimate {
    pub mean: f64,
    pub sd: f64,
    pub pooled: f64,
    /// Out-of-fold probability per patient.
    pub oof: Vec<f64>,
    /// (fold, patient, outcome, probability).
    pub preds: Vec<Prediction>,
    /// (config, fold, train, test, auc, acc, f1, selected) per fold.
    pub rows: Vec<(usize, usize, usize, usize, f64, f64, f64, usize)>,
}

/// One grid point over every fold.
pub struct ConfigResult {
    pub index: usize,
    pub estimate: Estimate,
    /// Folds reused from a resumed run.
    pub reused: usize,
}

/// Whether a mean fold AUC `new` beats `old` (a number beats NaN).
pub fn better(new: f64, old: f64) -> bool {
    new > old || (old.is_nan() && !new.is_nan())
}

/// The folds' AUC, ACC and F1, pooled and per fold, from per-fold
/// held-out probabilities: (config, fold, fold rows, probabilities, selected).
pub fn estimate(y: &[u8], ids: &[String], folds: &[(usize, usize, &Fold, Vec<f64>, usize)]) -> Estimate {
    let mut oof = vec![f64::NAN; y.len()];
    let (mut aucs, mut preds, mut rows) = (Vec::new(), Vec::new(), Vec::new());
    for (ci, f, fold, probs, selected) in folds {
        let truth: Vec<u8> = fold.test.iter().map(|&i| y[i]).collect();
        let (a, acc, f1v) = (auc(probs, &truth), accuracy(probs, &truth, 0.5), f1(probs, &truth, 0.5));
        for (&i, &p) in fold.test.iter().zip(probs) {
            oof[i] = p;
        }
        preds.extend(held_out(*f, &fold.test, probs, ids, y));
        aucs.push(a);
        rows.push((*ci, *f, fold.train.len(), fold.test.len(), a, acc, f1v, *selected));
    }
    let (mean, sd) = crate::core::describe::mean_sd_finite(&aucs);
    let pooled = auc(&oof, y);
    Estimate { mean, sd, pooled, oof, preds, rows }
}

/// A fold's held-out predictions: the test rows with their probabilities.
pub fn held_out(fold: usize, test: &[usize], probs: &[f64], ids: &[String], y: &[u8]) -> Vec<Prediction> {
    test.iter()
        .zip(probs)
        .map(|(&i, &p)| Prediction { fold: Some(fold as i64), patient: ids[i].clone(), label: y[i], probability: p })
        .collect()
}

pub fn config_text(c: &TrainConfig) -> String {
    format!("lr={} batch={} epochs={} weight_decay={}", c.lr, c.batch, c.epochs, c.weight_decay)
}

/// A configuration's folds are all trained: its estimate, recorded on its
/// `train-config` run (metrics, out-of-fold predictions), which is closed.
/// `folds`: (config, fold, fold rows, held-out probabilities, selected).
pub fn finish_config(
    store: &mut Store,
    config_run: RunId,
    index: usize,
    y: &[u8],
    ids: &[String],
    folds: &[(usize, usize, &Fold, Vec<f64>, usize)],
    reused: usize,
) -> Result<ConfigResult> {
    let estimate = estimate(y, ids, folds);
    let config_metrics = CvMetrics {
        auc_mean: estimate.mean,
        auc_sd: estimate.sd,
        auc_pooled: estimate.pooled,
        acc_pooled: None,
        f1_pooled: None,
        selection_jaccard: None,
        auc_pooled_ci_low: None,
        auc_pooled_ci_high: None,
    };
    store.log_metrics(config_run, None, &config_metrics)?;
    store.log_predictions(config_run, &estimate.preds)?;
    store.finish_run(config_run, RunStatus::Finished, None)?;
    Ok(ConfigResult { index, estimate, reused })
}

/// The configuration with the best mean fold AUC (the first of equals).
pub fn best_of(grid: &[ConfigResult]) -> Result<&ConfigResult> {
    grid.iter()
        .fold(None::<&ConfigResult>, |b, r| match b {
            Some(b) if !better(r.estimate.mean, b.estimate.mean) => Some(b),
            _ => Some(r),
        })
        .ok_or_else(|| Error::invalid("the grid is empty", None))
}

/// The grid's summary: one row per configuration.
pub fn summary_table(configs: &[TrainConfig], grid: &[ConfigResult]) -> Table {
    let mut summary =
        Table::new(["config", "lr", "batch", "epochs", "weight decay", "auc mean", "auc sd", "auc pooled"]);
    for r in grid {
        let (cfg, e) = (&configs[r.index], &r.estimate);
        summary.push(vec![
            (r.index + 1).into(),
            cfg.lr.into(),
            cfg.batch.into(),
            cfg.epochs.into(),
            f64::from(cfg.weight_decay).into(),
            e.mean.into(),
            e.sd.into(),
            e.pooled.into(),
        ]);
    }
    summary
}

/// The end of a `train` run: the best configuration's settings on the
/// parent run `parent` (its record `params`), and the run's results with
/// their per-fold table: the best configuration's out-of-fold predictions
/// and metrics, or under `--nested` the outer folds' (with the plain grid
/// search's figures beside them).
pub fn record_best(
    store: &mut Store,
    configs: &[TrainConfig],
    y: &[u8],
    parent: RunId,
    params: &mut TrainParams,
    best: &ConfigResult,
    nested: Option<&Estimate>,
) -> Result<Table> {
    let bi = best.index;
    params.best_config = Some(bi);
    params.best_train_json = serde_json::to_string(&configs[bi]).ok();
    params.best = Some(config_text(&configs[bi]));
    store.log_params(parent, params)?;
    let reported = nested.unwrap_or(&best.estimate);
    store.log_predictions(parent, &reported.preds)?;
    let ci = delong(&reported.oof, y).map(|d| d.ci(0.95));
    let metrics = CvMetrics {
        auc_mean: reported.mean,
        auc_sd: reported.sd,
        auc_pooled: reported.pooled,
        acc_pooled: Some(accuracy(&reported.oof, y, 0.5)),
        f1_pooled: Some(f1(&reported.oof, y, 0.5)),
        selection_jaccard: None,
        auc_pooled_ci_low: ci.map(|c| c.0),
        auc_pooled_ci_high: ci.map(|c| c.1),
    };
    store.log_metrics(parent, None, &metrics)?;
    if let Some(n) = nested {
        let grid = &best.estimate;
        let m = NestedMetrics {
            selection_auc_pooled: grid.pooled,
            selection_auc_mean: grid.mean,
            selection_optimism: grid.pooled - n.pooled,
        };
        store.log_metrics(parent, None, &m)?;
    }
    let mut columns = vec!["fold", "train", "test", "auc", "acc", "f1", "selected"];
    if nested.is_some() {
        columns.insert(1, "config");
    }
    let mut folds_table = Table::new(columns);
    for r in &reported.rows {
        let mut row: Vec<crate::output::Cell> =
            vec![(r.1 + 1).into(), r.2.into(), r.3.into(), r.4.into(), r.5.into(), r.6.into(), r.7.into()];
        if nested.is_some() {
            row.insert(1, (r.0 + 1).into());
        }
        folds_table.push(row);
    }
    folds_table.title = Some(match nested {
        Some(_) => "nested cross-validation: each fold's configuration, chosen inside its training rows".to_string(),
        None => format!("best configuration ({}) by fold", config_text(&configs[bi])),
    });
    if let Some((lo, hi)) = ci {
        folds_table.notes.push(format!(
            "pooled out-of-fold AUC {} (DeLong 95% CI {}–{})",
            format_sig(reported.pooled, 3),
            format_sig(lo, 3),
            format_sig(hi, 3)
        ));
    }
    Ok(folds_table)
}

/// A configuration run's record of its settings.
pub fn config_params(index: usize, cfg: &TrainConfig) -> TrainConfigParams {
    TrainConfigParams {
        config: index,
        lr: cfg.lr,
        batch: cfg.batch,
        epochs: cfg.epochs,
        weight_decay: f64::from(cfg.weight_decay),
        lr_decay: (cfg.lr_decay > 0.0).then_some(cfg.lr_decay),
    }
}

/// One epoch of fold `fold` on its fold run: training loss, and the
/// validation loss and AUC when there is a validation set.
pub fn log_fold_epoch(store: &Store, fold_run: RunId, fold: usize, log: &EpochLog) -> Result<()> {
    let (step, fold) = (Some(log.epoch as i64), Some(fold as i64));
    store.log_metric(fold_run, curve::TRAIN_LOSS, log.train_loss, step, fold)?;
    if let (Some(l), Some(a)) = (log.val_loss, log.val_auc) {
        store.log_metric(fold_run, curve::VAL_LOSS, l, step, fold)?;
        store.log_metric(fold_run, curve::VAL_AUC, a, step, fold)?;
    }
    Ok(())
}

/// A held-out fold's AUC, accuracy and F1 (threshold 0.5).
pub fn fold_metrics(probs: &[f64], truth: &[u8]) -> FoldMetrics {
    FoldMetrics { auc: auc(probs, truth), acc: accuracy(probs, truth, 0.5), f1: f1(probs, truth, 0.5) }
}

/// A finished fold run's held-out probability for each patient of `test`
/// (rows of `ids`), in that order; `None` when one is missing.
pub fn recorded_probabilities(
    store: &Store,
    fold_run: RunId,
    test: &[usize],
    ids: &[String],
) -> Result<Option<Vec<f64>>> {
    let by_id: std::collections::HashMap<String, f64> =
        store.predictions(fold_run)?.into_iter().map(|p| (p.patient, p.probability)).collect();
    Ok(test.iter().map(|&i| by_id.get(&ids[i]).copied()).collect())
}

/// How many features a fold's training selected, from its record.
pub fn selected_count(found: &crate::store::records::TrainFoldParams) -> usize {
    found.selected.as_deref().and_then(|v| serde_json::from_str::<Vec<String>>(v).ok()).map_or(0, |v| v.len())
}
