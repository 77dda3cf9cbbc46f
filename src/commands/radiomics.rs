//! `radiomics --image FILE --mask FILE [--params FILE] [--label N] [--ibsi]`:
//! one case's features under PyRadiomics' names, as one row.

use std::path::PathBuf;

use crate::core::radiomics::ParamFile;
use crate::error::{Error, Result};
use crate::imaging::radiomics::{extract_files, read_params};
use crate::output::{Cell, Output, Table};
use crate::provenance::sha256_file;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::RunKind;
use crate::store::records::{RadiomicsMetrics, RadiomicsParams};

pub struct Radiomics;

impl Command for Radiomics {
    fn signature(&self) -> Signature {
        Signature::new("radiomics", "imaging", "PyRadiomics-compatible features of one image inside a mask")
            .named("image", "FILE", ArgKind::Path, "the image (.nii, .nii.gz, .nrrd, .nhdr)")
            .named("mask", "FILE", ArgKind::Path, "the ROI mask on the same grid")
            .named("params", "FILE", ArgKind::Path, "a PyRadiomics parameter file (YAML or JSON)")
            .named("label", "N", ArgKind::Int, "the mask label of the ROI (default 1, or the file's)")
            .switch("ibsi", "IBSI definitions where PyRadiomics departs (see docs/radiomics.md)")
            .table()
            .example(
                "radiomics --image data/sim/A/images/A001/T1.nii.gz --mask data/sim/A/images/A001/rgtv.nii.gz",
                "every default feature of A001's T1 inside its rGTV",
            )
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let path = |flag: &str| -> Result<PathBuf> {
            let tok = args.value(flag).ok_or_else(|| {
                Error::invalid(
                    format!("radiomics needs --{flag} FILE"),
                    Some("e.g. radiomics --image T1.nii.gz --mask rgtv.nii.gz"),
                )
            })?;
            let p = PathBuf::from(&tok.text);
            if !p.exists() {
                return Err(Error::FileNotFound { path: p });
            }
            Ok(p)
        };
        let (image, mask) = (path("image")?, path("mask")?);
        let mut params = match args.value("params") {
            Some(_) => read_params(&path("params")?)?,
            None => ParamFile::default(),
        };
        if let Some(label) = args.parsed::<i64>("label", "a whole number")? {
            params.settings.label = label;
        }
        let ibsi = args.has("ibsi");
        let run = session.begin_run(
            args,
            RunKind::Radiomics,
            &RadiomicsParams {
                image: image.display().to_string(),
                mask: mask.display().to_string(),
                settings: params.settings.to_json(),
                ibsi,
            },
            None,
        )?;
        // The inputs' hashes: the extraction computes them for its diagnostics
        // (each file is read and hashed once); a failed extraction hashes them here.
        let extracted = extract_files(&image, &mask, &params, ibsi);
        for (p, key) in [(&image, "diagnostics_Image-original_Hash"), (&mask, "diagnostics_Mask-original_Hash")] {
            let known = extracted.as_ref().ok().and_then(|x| x.diagnostics.iter().find(|(k, _)| k == key));
            let sha = match known {
                Some((_, v)) => v.clone(),
                None => sha256_file(p)?,
            };
            session.store().record_dataset(run, &p.display().to_string(), &p.display().to_string(), &sha, None)?;
        }
        let x = extracted?;
        session.store().log_metrics(run, None, &RadiomicsMetrics { features: x.features.len() as f64 })?;
        let mut t =
            Table::new(x.diagnostics.iter().map(|(k, _)| k.clone()).chain(x.features.iter().map(|(k, _)| k.clone())));
        t.push(
            x.diagnostics
                .into_iter()
                .map(|(_, v)| Cell::Text(v))
                .chain(x.features.into_iter().map(|(_, v)| Cell::Float(v)))
                .collect(),
        );
        Ok(Output::Table(t))
    }
}
