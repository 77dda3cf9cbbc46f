//! `volume FILE [--json]`: an image's geometry and value range.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::imaging::read_image;
use crate::output::{Cell, Output, Table};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::RunKind;
use crate::store::records::VolumeParams;

pub struct VolumeCmd;

impl Command for VolumeCmd {
    fn signature(&self) -> Signature {
        Signature::new("volume", "data", "Show an image's size, spacing, origin, direction, type and value range")
            .required(
                "FILE",
                ArgKind::Path,
                "a .nii, .nii.gz, .nrrd or .nhdr image, a DICOM RT Dose .dcm, or a folder of DICOM slices (FOLDER#SERIES_UID \
                 when it holds several series)",
            )
            .switch("json", "print one JSON object (size, spacing, origin, direction, dtype, min, max, mean, units)")
            .table()
            .example("volume data/sim/A/images/A001/dose.nii.gz", "the dose grid of patient A001")
            .example("volume data/sim/A/images/A001/T1.nii.gz --json", "the same facts as JSON")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let tok = args.required(0)?;
        let path = PathBuf::from(&tok.text);
        let folder = crate::imaging::series_path(&path).map(|(dir, _)| dir);
        if !path.exists() && folder.is_none() {
            return Err(Error::FileNotFound { path });
        }
        let run = session.begin_run(args, RunKind::Volume, &VolumeParams { path: tok.text.clone() }, None)?;
        let sha = crate::imaging::image_sha256(&path)?;
        session.store().record_dataset(run, &tok.text, &tok.text, &sha, None)?;
        let image = read_image(&path)?;
        let v = &image.volume;
        let (mut min, mut max, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
        for &x in &v.data {
            let x = f64::from(x);
            min = min.min(x);
            max = max.max(x);
            sum += x;
        }
        let mean = sum / v.len().max(1) as f64;
        if args.has("json") {
            let doc = serde_json::json!({
                "size": v.size,
                "spacing": v.spacing,
                "origin": v.origin,
                "direction": v.direction,
                "dtype": image.dtype,
                "min": min,
                "max": max,
                "mean": mean,
                "units": image.units,
            });
            return Ok(Output::Message(doc.to_string()));
        }
        let fmt3 = |a: &[f64]| a.iter().map(|x| crate::output::format_sig(*x, 8)).collect::<Vec<_>>().join(" × ");
        let mut t = Table::new(["field", "value"]).with_title(tok.text.clone());
        t.push(vec!["size".into(), format!("{} × {} × {}", v.size[0], v.size[1], v.size[2]).into()]);
        t.push(vec!["spacing (mm)".into(), fmt3(&v.spacing).into()]);
        t.push(vec![
            "origin (LPS, mm)".into(),
            v.origin.iter().map(|x| crate::output::format_sig(*x, 8)).collect::<Vec<_>>().join(", ").into(),
        ]);
        t.push(vec![
            "direction".into(),
            v.direction.iter().map(|x| crate::output::format_sig(*x, 6)).collect::<Vec<_>>().join(" ").into(),
        ]);
        t.push(vec!["dtype".into(), image.dtype.into()]);
        t.push(vec!["min".into(), Cell::Float(min)]);
        t.push(vec!["max".into(), Cell::Float(max)]);
        t.push(vec!["mean".into(), Cell::Float(mean)]);
        if let Some(u) = &image.units {
            t.push(vec!["units".into(), u.as_str().into()]);
        }
        Ok(Output::Table(t))
    }
}
