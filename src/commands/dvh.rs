//! `dvh --dose FILE --structures RTSTRUCT [--roi NAMES] [--metrics D95,…]
//! [--bin-gy 0.01]`: each structure's volume, mean, minimum and maximum
//! dose and the asked DVH metrics, the structures rasterised onto the dose
//! grid (`imaging::dicom::rtstruct`'s rule).

use crate::core::dvh::{Metric, summarise};
use crate::error::Result;
use crate::output::{Cell, Output, Table};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::RunKind;
use crate::store::records::DvhParams;
use crate::workflow::dvh::{DEFAULT_METRICS, Request, metrics};

pub struct Dvh;

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
        let req = Request::read(args, "dvh")?;
        let metrics = metrics(&args.value("metrics").map_or(DEFAULT_METRICS.to_string(), |t| t.text.clone()))?;
        let run = session.begin_run(
            args,
            RunKind::Dvh,
            &DvhParams {
                dose: req.dose.display().to_string(),
                structures: req.structures.display().to_string(),
                rois: req.rois.as_ref().map(|w| w.join(",")).unwrap_or_default(),
                metrics: metrics.iter().map(|m| m.0.clone()).collect::<Vec<_>>().join(","),
                bin_gy: req.bin_gy,
            },
            None,
        )?;
        req.record_inputs(session, run)?;
        let (voxel_cc, structures) = req.structure_doses()?;
        let mut columns: Vec<String> =
            ["structure", "volume_cc", "mean_gy", "min_gy", "max_gy"].iter().map(|c| c.to_string()).collect();
        columns.extend(metrics.iter().map(|m| m.0.clone()));
        let mut table = Table::new(columns);
        let asked: Vec<Metric> = metrics.iter().map(|m| m.1.clone()).collect();
        for (name, doses) in &structures {
            let sum = summarise(doses, voxel_cc, req.bin_gy, &asked)?;
            let mut row = vec![
                Cell::Text(name.clone()),
                Cell::Float(sum.volume_cc),
                Cell::Float(sum.mean_gy),
                Cell::Float(sum.min_gy),
                Cell::Float(sum.max_gy),
            ];
            row.extend(sum.metrics.iter().map(|x| Cell::Float(*x)));
            table.push(row);
            if doses.is_empty() {
                table.notes.push(format!("{name}: no dose-grid voxel centre lies inside it"));
            }
        }
        table.title = Some(format!("dvh {} in {} — run {run}", req.dose.display(), req.structures.display()));
        table.notes.push(format!(
            "structures rasterised on the dose grid ({:.3} cm³ voxels; centres inside, even-odd, nearest contour plane); D \
             metrics from {} Gy bins (upper edges), V metrics in % of the structure",
            voxel_cc, req.bin_gy
        ));
        Ok(Output::Table(table))
    }
}
