//! `audit leakage PIPELINE on FRAMES --folds 5 --seed N [--repeats R]`:
//! the fold-safe cross-validation beside the LEAKY published protocol
//! (steps fitted on all patients first), their difference with a paired
//! CI, and each step's share.

use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::core::learn::audit::{leaky_cross_validate, step_count, step_name};
use crate::core::learn::cv::repeated_splits;
use crate::core::learn::pipeline::cross_validate;
use crate::error::Result;
use crate::output::{Cell, FigureOut, Output, Table, format_sig};
use crate::render::figures::Figure;
use crate::session::{Command, Session};
use crate::signature::{Args, Signature};
use crate::store::records::{AuditArmParams, AuditLeakageMetrics, AuditLeakageParams, LEAKY_AUC_OUTSIDE};
use crate::store::{Prediction, RunKind, RunStatus};
use crate::workflow::features::CvRequest;

pub struct AuditLeakage;

impl Command for AuditLeakage {
    fn signature(&self) -> Signature {
        CvRequest::signature(
            "audit leakage",
            "evaluation",
            "Measure leakage optimism: fold-safe cross-validation beside the LEAKY protocol, step by step",
        )
        .example("audit leakage P1 on A --folds 3", "fold-safe vs LEAKY cross-validation of P1 on A")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        leakage(args, session)
    }
}

fn mean(v: &[f64]) -> f64 {
    crate::core::describe::mean_sd_finite(v).0
}

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
        },
        Some(seed),
        args.experiment(),
    )?;
    for d in inputs.iter().flat_map(|i| i.dataset_ids.iter()) {
        session.store().link_dataset(parent, *d)?;
    }
    let cancel = session.cancel_flag();
    let progress = session.progress((repeats * 2 + steps) as u64, "fits", format!("audit leakage {}", name.text));
    let mut rows = Table::new(["repeat", "fold", "fold-safe AUC", "LEAKY AUC", "difference"]);
    let (mut safe_all, mut leaky_all, mut diffs) = (Vec::new(), Vec::new(), Vec::new());
    let splits = repeated_splits(&y, k, repeats, seed)?;
    for (r, split) in splits.iter().enumerate() {
        let s = split.seeds.fit;
        let safe = cross_validate(pipeline, labelled, &y, &split.folds, s, &|| cancel.is_cancelled(), &mut |_| Ok(()))?;
        progress.inc(1);
        let (leaky, _) =
            leaky_cross_validate(pipeline, labelled, &y, steps, k, split.seeds, &|| cancel.is_cancelled())?;
        progress.inc(1);
        for (arm, results, is_leaky) in
            [("fold-safe", &safe, false), ("LEAKY: every step fitted on all patients first", &leaky, true)]
        {
            let arm_params = AuditArmParams { arm: arm.into(), leaky: is_leaky, repeat: r };
            let child = session.begin_child(parent, RunKind::AuditArm, &arm_params, Some(s))?;
            let store = session.store_mut();
            for f in results.iter() {
                store.log_metric(child, "auc", f.auc, None, Some((r * k + f.fold) as i64))?;
            }
            if !is_leaky {
                for f in results.iter() {
                    let fold = Some((r * k + f.fold) as i64);
                    let preds: Vec<Prediction> = f
                        .test
                        .iter()
                        .zip(&f.probability)
                        .map(|(&i, &p)| Prediction { fold, patient: ids[i].clone(), label: y[i], probability: p })
                        .collect();
                    store.log_predictions(child, &preds)?;
                }
            }
            store.finish_run(child, RunStatus::Finished, None)?;
        }
        for (a, b) in safe.iter().zip(&leaky) {
            rows.push(vec![
                Cell::Int(r as i64 + 1),
                Cell::Int(a.fold as i64 + 1),
                Cell::Float(a.auc),
                Cell::Float(b.auc),
                Cell::Float(b.auc - a.auc),
            ]);
            safe_all.push(a.auc);
            leaky_all.push(b.auc);
            diffs.push(b.auc - a.auc);
        }
    }
    // Paired interval over the fold pairs.
    let n = diffs.len() as f64;
    let (d_mean, d_sd) = crate::core::describe::mean_sd_finite(&diffs);
    let t = StudentsT::new(0.0, 1.0, (n - 1.0).max(1.0)).map(|t| t.inverse_cdf(0.975)).unwrap_or(f64::NAN);
    let (lo, hi) = (d_mean - t * d_sd / n.sqrt(), d_mean + t * d_sd / n.sqrt());
    // Each step's share: the first s steps outside, repeat 1's folds.
    let mut contrib = Table::new(["steps fitted on all patients", "mean fold AUC", "added optimism"])
        .with_title("which steps leak (cumulative, repeat 1)");
    let seeds0 = splits[0].seeds;
    let mut prev = mean(&safe_all[..k.min(safe_all.len())]);
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
    let finite = |v: f64| v.is_finite().then_some(v);
    let summary = AuditLeakageMetrics {
        safe_auc_mean: finite(mean(&safe_all)),
        leaky_auc_mean: finite(mean(&leaky_all)),
        optimism: finite(d_mean),
        optimism_ci_low: finite(lo),
        optimism_ci_high: finite(hi),
    };
    session.store().log_metrics(parent, None, &summary)?;
    rows.title = Some(format!("audit leakage {} on {} — run {parent}", name.text, label));
    rows.notes.push(format!(
        "optimism (LEAKY − fold-safe) {} (95% CI {} to {}, paired t over {} fold pairs); fold-safe mean {}, LEAKY mean {}",
        format_sig(d_mean, 3),
        format_sig(lo, 3),
        format_sig(hi, 3),
        diffs.len(),
        format_sig(mean(&safe_all), 3),
        format_sig(mean(&leaky_all), 3)
    ));
    rows.notes.push("LEAKY arm: the published protocol, recorded for comparison only; no other command uses it".into());
    let fig = Figure::AuditFolds { model: label.clone(), safe: safe_all.clone(), leaky: leaky_all.clone() };
    let figure = FigureOut {
        title: format!("{label} — fold AUC, fold-safe vs LEAKY (run {parent})"),
        svg: fig.svg()?,
        data: serde_json::json!({ "safe": safe_all, "leaky": leaky_all }),
    };
    Ok(Output::Many(vec![Output::Table(rows), Output::Table(contrib), Output::Figure(figure)]))
}
