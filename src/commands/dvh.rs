//! `dvh --dose FILE --structures RTSTRUCT [--roi NAMES] [--metrics D95,…]
//! [--bin-gy 0.01]`: each structure's volume, mean, minimum and maximum
//! dose and the asked DVH metrics, the structures rasterised onto the dose
//! grid (`imaging::dicom::rtstruct`'s rule).

use std::path::PathBuf;

use crate::core::dvh::{Metric, summarise};
use crate::error::{Error, Result};
use crate::output::{Cell, Output, Table};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::RunKind;
use crate::store::records::DvhParams;

pub struct Dvh;

/// Metrics without `--metrics`.
const DEFAULT_METRICS: &str = "D95,D50,D2cc,V5Gy,V20Gy";

impl Command for Dvh {
    fn signature(&self) -> Signature {
        Signature::new("dvh", "imaging", "Dose-volume figures of each structure: volume, mean/min/max dose, D95, D2cc, V20Gy…")
            .named("dose", "FILE", ArgKind::Path, "the dose grid (RT Dose .dcm, NIfTI or NRRD), in Gy")
            .named("structures", "RTSTRUCT", ArgKind::Path, "the RT Structure Set, in the dose's frame of reference")
            .named("roi", "NAMES", ArgKind::Text, "structures to report, comma-separated (default: all)")
            .named_with(
                "metrics",
                "LIST",
                ArgKind::Text,
                format!("Dxx (Gy covering xx% of the volume), Dxcc (Gy covering x cm³), VxGy (% receiving ≥ x Gy) (default {DEFAULT_METRICS})"),
            )
            .named("bin-gy", "GY", ArgKind::Float, "the histogram's bin width for the D metrics (default 0.01)")
            .table()
            .example(
                "dvh --dose dicom/rtdose_ct.dcm --structures dicom/rtstruct_ct.dcm --roi GTV --metrics D95,D0.05cc,V20Gy",
                "the GTV's dose figures",
            )
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let need = |flag: &str| {
            args.value(flag).map(|t| PathBuf::from(&t.text)).ok_or_else(|| {
                Error::invalid(format!("dvh needs --{flag} FILE"), Some("dvh --dose RD.dcm --structures RS.dcm"))
            })
        };
        let (dose_path, rs_path) = (need("dose")?, need("structures")?);
        for p in [&dose_path, &rs_path] {
            if !p.is_file() {
                return Err(Error::FileNotFound { path: p.clone() });
            }
        }
        let metric_text = args.value("metrics").map_or(DEFAULT_METRICS.to_string(), |t| t.text.clone());
        let metrics: Vec<(String, Metric)> = metric_text
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(|m| Metric::parse(m).map(|x| (m.to_string(), x)))
            .collect::<Result<_>>()?;
        let bin_gy: f64 = args.parsed("bin-gy", "a dose in Gy")?.unwrap_or(0.01);
        let wanted: Option<Vec<String>> = args
            .value("roi")
            .map(|t| t.text.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect());
        let run = session.begin_run(
            args,
            RunKind::Dvh,
            &DvhParams {
                dose: dose_path.display().to_string(),
                structures: rs_path.display().to_string(),
                rois: wanted.as_ref().map(|w| w.join(",")).unwrap_or_default(),
                metrics: metrics.iter().map(|m| m.0.clone()).collect::<Vec<_>>().join(","),
                bin_gy,
            },
            None,
        )?;
        for p in [&dose_path, &rs_path] {
            let sha = crate::imaging::image_sha256(p)?;
            let text = p.display().to_string();
            session.store().record_dataset(run, &text, &text, &sha, None)?;
        }
        let dose = crate::imaging::read_image(&dose_path)?;
        let all = crate::imaging::dicom::rtstruct::read_rtstruct(&rs_path)?;
        let chosen: Vec<_> = match &wanted {
            None => all.iter().collect(),
            Some(names) => names
                .iter()
                .map(|n| {
                    all.iter().find(|s| s.name.eq_ignore_ascii_case(n)).ok_or_else(|| {
                        let have: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
                        Error::invalid(
                            format!("{}: no structure `{n}`; it has: {}", rs_path.display(), have.join(", ")),
                            None,
                        )
                    })
                })
                .collect::<Result<_>>()?,
        };
        let v = &dose.volume;
        let voxel_cc = v.spacing.iter().product::<f64>() / 1000.0;
        let mut columns: Vec<String> =
            ["structure", "volume_cc", "mean_gy", "min_gy", "max_gy"].iter().map(|c| c.to_string()).collect();
        columns.extend(metrics.iter().map(|m| m.0.clone()));
        let mut table = Table::new(columns);
        let asked: Vec<Metric> = metrics.iter().map(|m| m.1.clone()).collect();
        for s in chosen {
            let mask =
                crate::imaging::dicom::rtstruct::rasterise_onto(s, v, dose.frame_of_reference.as_deref(), None)?;
            let doses: Vec<f64> =
                mask.data.iter().zip(&v.data).filter(|(m, _)| **m > 0.5).map(|(_, d)| f64::from(*d)).collect();
            let sum = summarise(&doses, voxel_cc, bin_gy, &asked)?;
            let mut row = vec![
                Cell::Text(s.name.clone()),
                Cell::Float(sum.volume_cc),
                Cell::Float(sum.mean_gy),
                Cell::Float(sum.min_gy),
                Cell::Float(sum.max_gy),
            ];
            row.extend(sum.metrics.iter().map(|x| Cell::Float(*x)));
            table.push(row);
            if doses.is_empty() {
                table.notes.push(format!("{}: no dose-grid voxel centre lies inside it", s.name));
            }
        }
        table.title = Some(format!("dvh {} in {} — run {run}", dose_path.display(), rs_path.display()));
        table.notes.push(format!(
            "structures rasterised on the dose grid ({:.3} cm³ voxels; centres inside, even-odd, nearest contour plane); D \
             metrics from {bin_gy} Gy bins (upper edges), V metrics in % of the structure",
            voxel_cc
        ));
        Ok(Output::Table(table))
    }
}
