//! A declared deep model (`model NAME = T1+T1C+T2+Dose …`): which radiomics
//! frames and whether the dose branch, the selection fitted inside each
//! training fold, class balancing, the dose input size and scaling.

use serde::{Deserialize, Serialize};

use super::data::Balance;
use super::net::NetConfig;
use crate::core::learn::pipeline::Pipeline;
use crate::error::{Error, Result};

/// The paper's per-sequence selection: a chi-square screen, then LASSO to 32.
pub const DEFAULT_SELECT: &str = "chi2:k=64:bins=10,lassocv:keep=32";

/// How dose (Gy) is scaled before the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DoseScale {
    /// Divided by each patient's value in this clinical column (the
    /// prescription, e.g. `eqd2_gy`): 1.0 = prescribed dose.
    Column(String),
    /// Divided by a fixed number of Gy.
    Gy(f64),
}

impl DoseScale {
    /// `raw` (Gy as planned) is `1`.
    pub fn parse(text: &str) -> DoseScale {
        if text == "raw" {
            return DoseScale::Gy(1.0);
        }
        match text.parse::<f64>() {
            Ok(v) => DoseScale::Gy(v),
            Err(_) => DoseScale::Column(text.to_string()),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            DoseScale::Column(c) => format!("Gy / {c}"),
            DoseScale::Gy(g) => format!("Gy / {g}"),
        }
    }
}

/// A global pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pooling {
    Mean,
    Max,
}

impl Pooling {
    pub fn parse(text: &str) -> Option<Pooling> {
        match text {
            "mean" | "average" | "avg" => Some(Pooling::Mean),
            "max" => Some(Pooling::Max),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::Max => "max",
        }
    }
}

fn mean_pooling() -> Pooling {
    Pooling::Mean
}

fn max_pooling() -> Pooling {
    Pooling::Max
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub name: String,
    /// As declared, e.g. `T1+T1C+T2+Dose`.
    pub preset: String,
    /// Radiomics sequences, read from the frames COHORT.SEQ.
    pub sequences: Vec<String>,
    pub dose: bool,
    /// Per-sequence selection steps in pipeline text form.
    pub select: String,
    /// PCA over the concatenated selections (multi-sequence models).
    pub pca: Option<usize>,
    pub balance: Balance,
    /// Dose input [D, H, W].
    pub input: [usize; 3],
    /// The image role the dose is cropped to.
    pub roi: String,
    pub dose_scale: DoseScale,
    /// The dose branch's global pooling after its last convolution (L6).
    #[serde(default = "mean_pooling")]
    pub pool_l6: Pooling,
    /// The fusion head's pooling over the stacked branches.
    #[serde(default = "max_pooling")]
    pub fusion_pool: Pooling,
    /// How the dose input is cut: the ROI's box resized, or a window at native spacing.
    #[serde(default)]
    pub dose_crop: crate::core::masks::CropMode,
}

/// `T1+T1C+T2+Dose` → (["T1", "T1C", "T2"], true).
pub fn parse_preset(text: &str) -> Result<(Vec<String>, bool)> {
    let mut sequences = Vec::new();
    let mut dose = false;
    for part in text.split('+').map(str::trim) {
        if part.is_empty() {
            return Err(Error::invalid(format!("`{text}`: an empty name between `+`"), Some("e.g. T1+T1C+T2+Dose")));
        }
        if part.eq_ignore_ascii_case("dose") {
            if dose {
                return Err(Error::invalid(format!("`{text}` names Dose twice"), None));
            }
            dose = true;
        } else if sequences.iter().any(|s: &String| s.eq_ignore_ascii_case(part)) {
            return Err(Error::invalid(format!("`{text}` names {part} twice"), None));
        } else {
            sequences.push(part.to_string());
        }
    }
    if sequences.is_empty() {
        return Err(Error::invalid(
            format!("`{text}` has no radiomics sequence; the fusion network needs one"),
            Some("the paper's models: T1, T1C, T2, T1+T1C+T2 and each with +Dose"),
        ));
    }
    Ok((sequences, dose))
}

/// `80x120x120` → [80, 120, 120] (slices × rows × columns).
pub fn parse_input(text: &str) -> Result<[usize; 3]> {
    let parts: Vec<&str> = text.split(['x', 'X', '×']).collect();
    let bad = || Error::invalid(format!("`{text}` is not a size DxHxW"), Some("e.g. 80x120x120 or 20x30x30"));
    if parts.len() != 3 {
        return Err(bad());
    }
    let mut out = [0usize; 3];
    for (o, p) in out.iter_mut().zip(&parts) {
        *o = p.trim().parse().map_err(|_| bad())?;
    }
    if out.contains(&0) {
        return Err(bad());
    }
    Ok(out)
}

/// `chi2:k=64,lasso` → `standardize | chi2 k=64 | lassocv` (text with `|`
/// is taken as pipeline steps as written).
pub fn select_steps(spec: &str) -> String {
    if spec.contains('|') {
        return spec.to_string();
    }
    let mut steps = vec!["standardize".to_string()];
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let mut words = item.split(':');
        let name = match words.next().unwrap_or_default() {
            "lasso" => "lassocv",
            other => other,
        };
        if name == "standardize" {
            continue;
        }
        steps.push(std::iter::once(name).chain(words).collect::<Vec<_>>().join(" "));
    }
    steps.join(" | ")
}

impl ModelSpec {
    /// The selection as a pipeline (its classifier is not used: the network
    /// classifies).
    pub fn pipeline(&self) -> Result<Pipeline> {
        let mut text = self.select.clone();
        if self.sequences.len() > 1 {
            text.push_str(" then");
            if let Some(n) = self.pca {
                text.push_str(&format!(" pca n={n} upto=true"));
            }
        } else if let Some(n) = self.pca {
            text.push_str(&format!(" | pca n={n} upto=true"));
        }
        text.push_str(if text.ends_with("then") { " logistic" } else { " | logistic" });
        let p = Pipeline::parse(&text)?;
        if p.per_input.iter().chain(&p.combined).any(|s| matches!(s, crate::core::learn::pipeline::Step::Smote { .. }))
        {
            return Err(Error::invalid("put class balancing in --balance, not in --select", None));
        }
        Ok(p)
    }

    /// The network for a radiomics vector of `width` features.
    pub fn net(&self, width: usize) -> NetConfig {
        NetConfig::new(self.input, width)
            .with_dose(self.dose)
            .with_l6_max(self.pool_l6 == Pooling::Max)
            .with_fusion_max(self.fusion_pool == Pooling::Max)
    }

    pub fn describe(&self) -> String {
        let mut s = format!("{} = {}: select `{}`", self.name, self.preset, self.select);
        if self.sequences.len() > 1 || self.pca.is_some() {
            s.push_str(&match self.pca {
                Some(n) => format!(", PCA to {n} (fewer if fewer features were selected)"),
                None => ", concatenated".into(),
            });
        }
        s.push_str(&format!(", balance {}", self.balance.name()));
        if self.dose {
            s.push_str(&format!(
                ", dose {}×{}×{} cropped to `{}` ({})",
                self.input[0],
                self.input[1],
                self.input[2],
                self.roi,
                self.dose_scale.describe()
            ));
            if self.dose_crop == crate::core::masks::CropMode::Window {
                s.push_str(", a window at native spacing centred on it");
            }
            if self.pool_l6 != Pooling::Mean {
                s.push_str(&format!(", {} pooling after block 5", self.pool_l6.as_str()));
            }
        } else {
            s.push_str(", no dose branch");
        }
        if self.fusion_pool != Pooling::Max {
            s.push_str(&format!(", {} pooling in the fusion head", self.fusion_pool.as_str()));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_sizes() {
        assert_eq!(parse_preset("T1+T1C+T2+Dose").unwrap(), (vec!["T1".into(), "T1C".into(), "T2".into()], true));
        assert_eq!(parse_preset("T2").unwrap(), (vec!["T2".into()], false));
        assert!(parse_preset("Dose").is_err());
        assert!(parse_preset("T1++T2").is_err());
        assert!(parse_preset("T1+T1").is_err());
        assert_eq!(parse_input("80x120x120").unwrap(), [80, 120, 120]);
        assert!(parse_input("80x120").is_err());
        assert!(parse_input("0x1x1").is_err());
    }

    #[test]
    fn selection_text() {
        assert_eq!(select_steps("chi2:k=64,lasso"), "standardize | chi2 k=64 | lassocv");
        assert_eq!(select_steps(DEFAULT_SELECT), "standardize | chi2 k=64 bins=10 | lassocv keep=32");
        let spec = ModelSpec {
            name: "M".into(),
            preset: "T1+T2+Dose".into(),
            sequences: vec!["T1".into(), "T2".into()],
            dose: true,
            select: select_steps("mannwhitney:k=8"),
            pca: Some(4),
            balance: Balance::Smote,
            input: [20, 30, 30],
            roi: "ptv".into(),
            dose_scale: DoseScale::Column("eqd2_gy".into()),
            pool_l6: Pooling::Mean,
            fusion_pool: Pooling::Max,
            dose_crop: crate::core::masks::CropMode::Box,
        };
        let p = spec.pipeline().unwrap();
        let net = spec.net(8);
        assert!(!net.l6_max && net.fusion_max, "the defaults: average after block 5, max in the fusion head");
        // A model recorded before the pooling options reads back with the defaults.
        let mut json: serde_json::Value = serde_json::to_value(&spec).unwrap();
        json.as_object_mut().unwrap().retain(|k, _| k != "pool_l6" && k != "fusion_pool" && k != "dose_crop");
        let old: ModelSpec = serde_json::from_value(json).unwrap();
        assert_eq!(old, spec);
        assert_eq!(p.per_input.len(), 2);
        assert_eq!(p.combined.len(), 1);
    }
}
