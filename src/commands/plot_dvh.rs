//! `plot dvh --dose FILE --structures RTSTRUCT [--roi NAMES] [--bin-gy GY]
//! [--out FILE]`: each structure's cumulative dose-volume histogram, the
//! structures rasterised onto the dose grid as `dvh` does.

use crate::core::dvh::cumulative;
use crate::error::Result;
use crate::output::Output;
use crate::render::figures::Figure;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::RunKind;
use crate::store::records::DvhParams;
use crate::workflow::dvh::Request;
use crate::workflow::figures::figure_output;

pub struct PlotDvh;

impl Command for PlotDvh {
    fn signature(&self) -> Signature {
        Signature::new("plot dvh", "imaging", "Cumulative dose-volume histograms of the structures")
            .named("dose", "FILE", ArgKind::Path, "the dose grid (RT Dose .dcm, NIfTI or NRRD), in Gy")
            .named("structures", "RTSTRUCT", ArgKind::Path, "the RT Structure Set, in the dose's frame of reference")
            .named("roi", "NAMES", ArgKind::Text, "structures to draw, comma-separated (default: all)")
            .named(
                "bin-gy",
                "GY",
                ArgKind::Float,
                "the curves' dose step (default 0.01, coarser above 10 Gy: about 1000 steps)",
            )
            .named("out", "FILE", ArgKind::Path, "also write the figure (.svg or .png)")
            .example(
                "plot dvh --dose dicom/rtdose_ct.dcm --structures dicom/rtstruct_ct.dcm --out dvh.svg",
                "every structure's DVH, written as SVG",
            )
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let req = Request::read(args, "plot dvh")?;
        let run = session.begin_run(
            args,
            RunKind::Plot,
            &DvhParams {
                dose: req.dose.display().to_string(),
                structures: req.structures.display().to_string(),
                rois: req.rois.as_ref().map(|w| w.join(",")).unwrap_or_default(),
                metrics: String::new(),
                bin_gy: req.bin_gy,
            },
            None,
        )?;
        req.record_inputs(session, run)?;
        let (_, structures) = req.structure_doses()?;
        // Without --bin-gy, at most about 1000 steps per curve (0.01 Gy up to 10 Gy).
        let top = structures.iter().flat_map(|(_, d)| d.iter().copied()).fold(0.0, f64::max);
        let step = if args.value("bin-gy").is_some() { req.bin_gy } else { (top / 1000.0).max(req.bin_gy) };
        let curves: Vec<(String, Vec<(f64, f64)>)> = structures
            .iter()
            .filter(|(_, d)| !d.is_empty())
            .map(|(name, doses)| (name.clone(), cumulative(doses, step)))
            .collect();
        let title = format!(
            "DVH — {}",
            req.dose.file_name().map_or_else(|| req.dose.display().to_string(), |f| f.to_string_lossy().into_owned())
        );
        let fig = Figure::Dvh { title: title.clone(), curves };
        let data = fig.explore_data().unwrap_or_default();
        figure_output(args, session, run, title, &fig, data)
    }
}
