//! The cohort manifest `cohort.toml`: where the clinical table is, what role
//! each column plays, and where each patient's images are.
//!
//! ```toml
//! [cohort]
//! name = "A"
//! simulated = true
//!
//! [clinical]
//! path = "clinical.csv"
//! id = "patient_id"
//! outcome = "nn"
//! categorical = ["sex", "stage", "chemo"]
//! continuous = ["age", "tumor_ml", "eqd2_gy"]
//!
//! [images]            # per-patient file names; {id} is the patient id
//! T1 = "images/{id}/T1.nii.gz"
//! dose = "images/{id}/dose.nii.gz"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::cohort::Roles;
use crate::error::{Error, Result};
use crate::provenance::io_error;

/// The file name of a cohort manifest inside a cohort folder.
pub const MANIFEST_FILE: &str = "cohort.toml";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CohortInfo {
    pub name: Option<String>,
    /// True for cohorts written by `simulate`; reports say so.
    #[serde(default)]
    pub simulated: bool,
    pub description: Option<String>,
    /// The seed a simulated cohort was generated with.
    pub seed: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clinical {
    /// The clinical table, relative to the cohort folder (CSV or Parquet).
    pub path: String,
    pub id: String,
    pub outcome: String,
    #[serde(default)]
    pub categorical: Vec<String>,
    #[serde(default)]
    pub continuous: Vec<String>,
}

/// A parsed `cohort.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(default)]
    pub cohort: CohortInfo,
    pub clinical: Clinical,
    /// Image role (T1, T1C, T2, rgtv, dose, …) → file name template with `{id}`.
    #[serde(default)]
    pub images: BTreeMap<String, String>,
}

impl Manifest {
    pub fn roles(&self) -> Roles {
        Roles {
            id: Some(self.clinical.id.clone()),
            outcome: Some(self.clinical.outcome.clone()),
            categorical: self.clinical.categorical.clone(),
            continuous: self.clinical.continuous.clone(),
        }
    }

    /// Parses manifest text; `path` is used in error messages.
    pub fn parse(path: &Path, text: &str) -> Result<Manifest> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| line_col(text, s.start)).map(|(l, c)| format!("line {l}, column {c}: "));
            Error::Manifest { path: path.to_path_buf(), message: format!("{}{}", at.unwrap_or_default(), e.message()) }
        })?;
        for (role, template) in &manifest.images {
            if !template.contains("{id}") {
                return Err(Error::Manifest {
                    path: path.to_path_buf(),
                    message: format!("[images] {role} = \"{template}\" must contain {{id}} (the patient id)"),
                });
            }
        }
        Ok(manifest)
    }

    /// Reads `DIR/cohort.toml`.
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| io_error(&path, e))?;
        Manifest::parse(&path, &text)
    }

    /// Serialises the manifest as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// The path of one image of one patient, relative to the cohort folder `dir`.
    pub fn image_path(&self, dir: &Path, role: &str, patient_id: &str) -> Option<PathBuf> {
        self.images.get(role).map(|t| dir.join(t.replace("{id}", patient_id)))
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[cohort]
name = "A"
simulated = true

[clinical]
path = "clinical.csv"
id = "patient_id"
outcome = "nn"
categorical = ["sex"]
continuous = ["age"]

[images]
T1 = "images/{id}/T1.nii.gz"
"#;

    #[test]
    fn parses_and_round_trips() {
        let m = Manifest::parse(Path::new("cohort.toml"), GOOD).unwrap();
        assert!(m.cohort.simulated);
        assert_eq!(m.roles().continuous, vec!["age"]);
        assert_eq!(m.image_path(Path::new("d"), "T1", "P7").unwrap(), PathBuf::from("d/images/P7/T1.nii.gz"));
        assert_eq!(Manifest::parse(Path::new("x"), &m.to_toml()).unwrap(), m);
    }

    #[test]
    fn typo_in_key_names_line() {
        let bad = GOOD.replace("outcome =", "outcom =");
        let e = Manifest::parse(Path::new("cohort.toml"), &bad).unwrap_err().to_string();
        assert!(e.starts_with("cohort.toml: line 9, column 1: unknown field `outcom`"), "{e}");
    }
}
