//! Runs side by side, as `compare` prints them and `radose ui`'s compare
//! page shows them: the parameters that differ, their metrics, and the
//! paired DeLong test when two runs predicted the same patients.

use std::collections::{BTreeMap, BTreeSet};

use crate::core::learn::metrics::{auc, delong_paired};
use crate::error::Result;
use crate::output::{Cell, Table};
use crate::store::Store;

/// Each patient's probability in run `run` (the mean when a patient was
/// predicted more than once, e.g. over repeats), with the outcome.
pub fn patient_predictions(store: &Store, run: i64) -> Result<BTreeMap<String, (u8, f64)>> {
    let mut acc: BTreeMap<String, (u8, f64, usize)> = BTreeMap::new();
    for p in store.predictions(run)? {
        let e = acc.entry(p.patient).or_insert((p.label, 0.0, 0));
        e.1 += p.probability;
        e.2 += 1;
    }
    Ok(acc.into_iter().map(|(k, (l, s, n))| (k, (l, s / n as f64))).collect())
}

fn auc_of(p: &BTreeMap<String, (u8, f64)>) -> f64 {
    let (truth, prob): (Vec<u8>, Vec<f64>) = p.values().copied().unzip();
    auc(&prob, &truth)
}

/// The comparison of `ids` (two or more runs); `all` also lists the
/// parameters that are equal. Rows: kind, status, seed, version, `param K`
/// (`≠` where they differ), `metric K`, the AUC of each run's patient
/// predictions and the paired DeLong p-value against the first run.
pub fn compare_table(store: &Store, ids: &[i64], all: bool) -> Result<Table> {
    let details: Vec<_> = ids.iter().map(|&id| store.run_detail(id)).collect::<Result<_>>()?;
    let mut t = Table::new(std::iter::once("".to_string()).chain(ids.iter().map(|i| format!("run {i}"))));
    t.title = Some(format!("compare {}", ids.iter().map(i64::to_string).collect::<Vec<_>>().join(" ")));
    t.push(std::iter::once(Cell::from("kind")).chain(details.iter().map(|d| d.summary.kind.as_str().into())).collect());
    t.push(
        std::iter::once(Cell::from("status")).chain(details.iter().map(|d| d.summary.status.as_str().into())).collect(),
    );
    t.push(std::iter::once(Cell::from("seed")).chain(details.iter().map(|d| d.seed.into())).collect());
    t.push(
        std::iter::once(Cell::from("version"))
            .chain(details.iter().map(|d| d.program_version.as_str().into()))
            .collect(),
    );
    let params: Vec<BTreeMap<String, String>> =
        details.iter().map(|d| d.params.iter().map(|(k, v)| (k.clone(), v.display())).collect()).collect();
    let keys: BTreeSet<&String> = params.iter().flat_map(|p| p.keys()).collect();
    let mut equal = Vec::new();
    for k in keys {
        let vals: Vec<Option<&String>> = params.iter().map(|p| p.get(k)).collect();
        let same = vals.windows(2).all(|w| w[0] == w[1]);
        if same && !all {
            equal.push(k.clone());
            continue;
        }
        t.push(
            std::iter::once(Cell::Text(format!("param {k}{}", if same { "" } else { " ≠" })))
                .chain(vals.iter().map(|v| v.map_or(Cell::Null, |s| Cell::Text(s.clone()))))
                .collect(),
        );
    }
    let metrics: Vec<BTreeMap<String, f64>> = details
        .iter()
        .map(|d| {
            d.metrics
                .iter()
                .filter(|m| m.fold.is_none() && m.step.is_none())
                .map(|m| (m.key.clone(), m.value))
                .collect()
        })
        .collect();
    let mkeys: BTreeSet<&String> = metrics.iter().flat_map(|m| m.keys()).collect();
    for k in mkeys {
        t.push(
            std::iter::once(Cell::Text(format!("metric {k}")))
                .chain(metrics.iter().map(|m| m.get(k).map_or(Cell::Null, |v| Cell::Float(*v))))
                .collect(),
        );
    }
    // Paired DeLong against the first run, on the patients both predicted.
    let first = patient_predictions(store, ids[0])?;
    if !first.is_empty() {
        let mut row = vec![Cell::Text(format!("DeLong p vs run {}", ids[0])), Cell::Null];
        let mut auc_row = vec![Cell::from("AUC of the patients' predictions"), Cell::Float(auc_of(&first))];
        for &id in &ids[1..] {
            let other = patient_predictions(store, id)?;
            let same_patients = !other.is_empty() && other.keys().eq(first.keys());
            auc_row.push(if other.is_empty() { Cell::Null } else { Cell::Float(auc_of(&other)) });
            if !same_patients {
                row.push(Cell::Null);
                if !other.is_empty() {
                    t.notes.push(format!("run {id} predicted other patients than run {}: no paired test", ids[0]));
                }
                continue;
            }
            let truth: Vec<u8> = first.values().map(|v| v.0).collect();
            if other.values().map(|v| v.0).ne(truth.iter().copied()) {
                row.push(Cell::Null);
                t.notes.push(format!("run {id} and run {} disagree on the outcome labels: no paired test", ids[0]));
                continue;
            }
            let a: Vec<f64> = first.values().map(|v| v.1).collect();
            let b: Vec<f64> = other.values().map(|v| v.1).collect();
            row.push(delong_paired(&a, &b, &truth).map_or(Cell::Null, |(_, _, p)| Cell::Float(p)));
        }
        t.push(auc_row);
        t.push(row);
    }
    if !equal.is_empty() {
        t.notes.push(format!("{} equal parameters not shown ({}); --all lists them", equal.len(), equal.join(", ")));
    }
    Ok(t)
}
