//! PyRadiomics settings and parameter files (YAML or JSON, PyRadiomics'
//! layout: `setting`, `imageType`, `featureClass`), with PyRadiomics'
//! defaults, discretisation and resegmentation.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{Error, Result};

/// The feature classes, in output order.
pub const CLASSES: &[&str] = &["shape", "firstorder", "glcm", "gldm", "glrlm", "glszm", "ngtdm"];

/// Extraction settings under PyRadiomics' names (defaults as PyRadiomics').
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub bin_width: f64,
    pub bin_count: Option<usize>,
    pub label: i64,
    pub voxel_array_shift: f64,
    pub normalize: bool,
    pub normalize_scale: f64,
    pub remove_outliers: Option<f64>,
    pub resampled_pixel_spacing: Option<[f64; 3]>,
    pub interpolator: String,
    pub pad_distance: f64,
    pub resegment_range: Option<Vec<f64>>,
    pub resegment_mode: String,
    pub distances: Vec<usize>,
    pub symmetrical_glcm: bool,
    pub weighting_norm: Option<String>,
    pub gldm_a: f64,
    pub force_2d: bool,
    pub force_2d_dimension: usize,
    pub minimum_roi_dimensions: usize,
    pub minimum_roi_size: Option<usize>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bin_width: 25.0,
            bin_count: None,
            label: 1,
            voxel_array_shift: 0.0,
            normalize: false,
            normalize_scale: 1.0,
            remove_outliers: None,
            resampled_pixel_spacing: None,
            interpolator: "sitkBSpline".into(),
            pad_distance: 5.0,
            resegment_range: None,
            resegment_mode: "absolute".into(),
            distances: vec![1],
            symmetrical_glcm: true,
            weighting_norm: None,
            gldm_a: 0.0,
            force_2d: false,
            force_2d_dimension: 0,
            minimum_roi_dimensions: 2,
            minimum_roi_size: None,
        }
    }
}

/// Settings PyRadiomics accepts that do not change radose's numbers.
const ACCEPTED: &[&str] = &["additionalInfo", "preCrop", "enableCExtensions", "geometryTolerance", "correctMask"];

fn bad(what: &str, v: &Value) -> Error {
    Error::Invalid { message: format!("setting `{what}`: cannot use {v}"), hint: None }
}

fn num(key: &str, v: &Value) -> Result<f64> {
    v.as_f64().ok_or_else(|| bad(key, v))
}

fn opt_num(key: &str, v: &Value) -> Result<Option<f64>> {
    if v.is_null() { Ok(None) } else { num(key, v).map(Some) }
}

fn boolean(key: &str, v: &Value) -> Result<bool> {
    v.as_bool().ok_or_else(|| bad(key, v))
}

fn count(key: &str, v: &Value) -> Result<usize> {
    v.as_u64().map(|x| x as usize).ok_or_else(|| bad(key, v))
}

impl Settings {
    /// Applies one `key: value` of a parameter file's `setting` section.
    pub fn set(&mut self, key: &str, v: &Value) -> Result<()> {
        match key {
            "binWidth" => {
                self.bin_width = num(key, v)?;
                if !(self.bin_width > 0.0) {
                    return Err(bad(key, v));
                }
            }
            "binCount" => self.bin_count = opt_num(key, v)?.map(|x| x as usize).filter(|&x| x > 0),
            "label" => self.label = v.as_i64().ok_or_else(|| bad(key, v))?,
            "voxelArrayShift" => self.voxel_array_shift = num(key, v)?,
            "normalize" => self.normalize = boolean(key, v)?,
            "normalizeScale" => self.normalize_scale = num(key, v)?,
            "removeOutliers" => self.remove_outliers = opt_num(key, v)?,
            "resampledPixelSpacing" => {
                self.resampled_pixel_spacing = match v {
                    Value::Null => None,
                    Value::Array(a) if a.len() == 3 => {
                        let s: Vec<f64> = a.iter().map(|x| num(key, x)).collect::<Result<_>>()?;
                        Some([s[0], s[1], s[2]])
                    }
                    _ => return Err(bad(key, v)),
                }
            }
            "interpolator" => {
                self.interpolator = match v {
                    Value::Null => "sitkBSpline".into(),
                    Value::String(s) => s.clone(),
                    Value::Number(n) => match n.as_i64() {
                        Some(1) => "sitkNearestNeighbor".into(),
                        Some(2) => "sitkLinear".into(),
                        Some(3) => "sitkBSpline".into(),
                        _ => return Err(bad(key, v)),
                    },
                    _ => return Err(bad(key, v)),
                }
            }
            "padDistance" => self.pad_distance = num(key, v)?,
            "resegmentRange" => {
                self.resegment_range = match v {
                    Value::Null => None,
                    Value::Array(a) if (1..=2).contains(&a.len()) => {
                        Some(a.iter().map(|x| num(key, x)).collect::<Result<_>>()?)
                    }
                    _ => return Err(bad(key, v)),
                }
            }
            "resegmentMode" => {
                let m = v.as_str().ok_or_else(|| bad(key, v))?;
                if !["absolute", "relative", "sigma"].contains(&m) {
                    return Err(bad(key, v));
                }
                self.resegment_mode = m.into();
            }
            "resegmentShape" => {
                if boolean(key, v)? {
                    return Err(Error::Invalid {
                        message: "setting `resegmentShape: true` is not supported".into(),
                        hint: Some("shape features use the mask before resegmentation, PyRadiomics' default".into()),
                    });
                }
            }
            "distances" => {
                let a = v.as_array().ok_or_else(|| bad(key, v))?;
                self.distances = a.iter().map(|x| count(key, x)).collect::<Result<_>>()?;
                if self.distances.is_empty() || self.distances.contains(&0) {
                    return Err(bad(key, v));
                }
            }
            "symmetricalGLCM" => self.symmetrical_glcm = boolean(key, v)?,
            "weightingNorm" => self.weighting_norm = v.as_str().map(str::to_string),
            "gldm_a" => self.gldm_a = num(key, v)?,
            "force2D" => self.force_2d = boolean(key, v)?,
            "force2Ddimension" => {
                self.force_2d_dimension = count(key, v)?;
                if self.force_2d_dimension > 2 {
                    return Err(bad(key, v));
                }
            }
            "minimumROIDimensions" => {
                self.minimum_roi_dimensions = count(key, v)?;
                if !(1..=3).contains(&self.minimum_roi_dimensions) {
                    return Err(bad(key, v));
                }
            }
            "minimumROISize" => self.minimum_roi_size = opt_num(key, v)?.map(|x| x as usize),
            k if ACCEPTED.contains(&k) => {}
            other => {
                return Err(Error::Invalid {
                    message: format!("unknown setting `{other}`"),
                    hint: crate::error::suggest(other, KNOWN.iter().copied()).map(|s| format!("did you mean `{s}`?")),
                });
            }
        }
        Ok(())
    }

    /// The settings as PyRadiomics-named JSON (for diagnostics and run records).
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "binWidth": self.bin_width, "binCount": self.bin_count, "label": self.label,
            "voxelArrayShift": self.voxel_array_shift, "normalize": self.normalize,
            "normalizeScale": self.normalize_scale, "removeOutliers": self.remove_outliers,
            "resampledPixelSpacing": self.resampled_pixel_spacing, "interpolator": self.interpolator,
            "padDistance": self.pad_distance, "resegmentRange": self.resegment_range,
            "resegmentMode": self.resegment_mode, "distances": self.distances,
            "symmetricalGLCM": self.symmetrical_glcm, "weightingNorm": self.weighting_norm,
            "gldm_a": self.gldm_a, "force2D": self.force_2d, "force2Ddimension": self.force_2d_dimension,
            "minimumROIDimensions": self.minimum_roi_dimensions, "minimumROISize": self.minimum_roi_size,
        })
        .to_string()
    }

    /// Grey levels (1 …) of the ROI's values: PyRadiomics' bin edges
    /// (fixed width counted from a multiple of the width at or below the
    /// minimum, or `binCount` equal bins with the top edge raised by 1), or
    /// in IBSI mode bins counted from the ROI minimum.
    pub fn discretise(&self, values: &[f64], ibsi: bool) -> Result<Vec<u32>> {
        let (min, max) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        if !min.is_finite() || !max.is_finite() {
            return Err(Error::Invalid { message: "the ROI has no finite intensity".into(), hint: None });
        }
        if let Some(n) = self.bin_count {
            if ibsi {
                let range = max - min;
                return Ok(values
                    .iter()
                    .map(|&v| {
                        if range == 0.0 { 1 } else { ((n as f64 * (v - min) / range).floor() as u32 + 1).min(n as u32) }
                    })
                    .collect());
            }
            let (lo, hi) = if min == max { (min - 0.5, max + 0.5) } else { (min, max) };
            let mut edges: Vec<f64> = (0..=n).map(|i| lo + (hi - lo) * i as f64 / n as f64).collect();
            if let Some(last) = edges.last_mut() {
                *last += 1.0;
            }
            return Ok(values.iter().map(|&v| digitize(&edges, v)).collect());
        }
        let w = self.bin_width;
        if ibsi {
            return Ok(values.iter().map(|&v| ((v - min) / w).floor() as u32 + 1).collect());
        }
        let low = min - min.rem_euclid(w);
        let high = max + 2.0 * w;
        let n = ((high - low) / w).ceil() as usize;
        if n > 1_000_000 {
            return Err(Error::Invalid {
                message: format!("binWidth {w} gives {n} bins over [{min}, {max}]"),
                hint: Some("use a larger binWidth or binCount".into()),
            });
        }
        let edges: Vec<f64> = (0..n).map(|i| low + i as f64 * w).collect();
        Ok(values.iter().map(|&v| digitize(&edges, v)).collect())
    }

    /// The resegmentation thresholds (lower, optional upper) for the ROI's values.
    pub fn resegment_thresholds(&self, range: &[f64], values: &[f64]) -> Result<(f64, Option<f64>)> {
        let mut r = range.to_vec();
        r.sort_by(f64::total_cmp);
        let n = values.len() as f64;
        let t: Vec<f64> = match self.resegment_mode.as_str() {
            "absolute" => r,
            "relative" => {
                let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                r.iter().map(|x| max * x).collect()
            }
            _ => {
                let mean = values.iter().sum::<f64>() / n;
                let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
                r.iter().map(|x| mean + sd * x).collect()
            }
        };
        Ok((t[0], t.get(1).copied()))
    }
}

/// numpy.digitize (right = false): the number of edges ≤ v.
fn digitize(edges: &[f64], v: f64) -> u32 {
    edges.partition_point(|&e| e <= v) as u32
}

const KNOWN: &[&str] = &[
    "binWidth",
    "binCount",
    "label",
    "voxelArrayShift",
    "normalize",
    "normalizeScale",
    "removeOutliers",
    "resampledPixelSpacing",
    "interpolator",
    "padDistance",
    "resegmentRange",
    "resegmentMode",
    "resegmentShape",
    "distances",
    "symmetricalGLCM",
    "weightingNorm",
    "gldm_a",
    "force2D",
    "force2Ddimension",
    "minimumROIDimensions",
    "minimumROISize",
    "additionalInfo",
    "preCrop",
    "correctMask",
    "geometryTolerance",
];

/// A PyRadiomics parameter file: settings and the enabled classes/features.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParamFile {
    pub settings: Settings,
    /// Class → `None` (its default features) or the named features. Empty
    /// map: every class with its defaults.
    pub classes: BTreeMap<String, Option<Vec<String>>>,
}

impl ParamFile {
    /// Parses YAML or JSON text.
    pub fn parse(text: &str, source: &str) -> Result<ParamFile> {
        let value = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| Error::Invalid { message: format!("{source}: {e}"), hint: None })?
        } else {
            yaml_to_json(text, source)?
        };
        Self::from_value(&value).map_err(|e| match e {
            Error::Invalid { message, hint } => Error::Invalid { message: format!("{source}: {message}"), hint },
            other => other,
        })
    }

    pub fn from_value(v: &Value) -> Result<ParamFile> {
        let mut out = ParamFile::default();
        let Some(top) = v.as_object() else {
            return Err(Error::Invalid {
                message: "a parameter file is a mapping (setting, imageType, featureClass)".into(),
                hint: None,
            });
        };
        for (k, section) in top {
            match k.as_str() {
                "setting" => {
                    if let Some(m) = section.as_object() {
                        for (key, value) in m {
                            out.settings.set(key, value)?;
                        }
                    }
                }
                "imageType" => {
                    if let Some(m) = section.as_object()
                        && let Some(other) = m.keys().find(|t| t.as_str() != "Original")
                    {
                        return Err(Error::Invalid {
                            message: format!(
                                "image type `{other}` is not supported; radose extracts from the original image"
                            ),
                            hint: Some("remove it from imageType (keep `Original: {}`)".into()),
                        });
                    }
                }
                "featureClass" => {
                    if let Some(m) = section.as_object() {
                        for (class, features) in m {
                            if !CLASSES.contains(&class.as_str()) {
                                return Err(Error::Invalid {
                                    message: format!("unknown feature class `{class}`"),
                                    hint: Some(format!("classes: {}", CLASSES.join(", "))),
                                });
                            }
                            let list = match features {
                                Value::Null => None,
                                Value::Array(a) if a.is_empty() => None,
                                Value::Array(a) => {
                                    Some(a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                                }
                                other => return Err(bad(class, other)),
                            };
                            out.classes.insert(class.clone(), list);
                        }
                    }
                }
                "voxelSetting" => {}
                other => {
                    return Err(Error::Invalid {
                        message: format!("unknown section `{other}`"),
                        hint: Some("sections: setting, imageType, featureClass".into()),
                    });
                }
            }
        }
        Ok(out)
    }

    pub fn class_enabled(&self, class: &str) -> bool {
        self.classes.is_empty() || self.classes.contains_key(class)
    }

    pub fn enabled(&self, class: &str, feature: &str, deprecated: bool) -> bool {
        if !self.class_enabled(class) {
            return false;
        }
        match self.classes.get(class) {
            Some(Some(list)) => list.iter().any(|f| f == feature),
            _ => !deprecated,
        }
    }
}

/// Converts YAML (yaml-rust2) to a JSON value.
fn yaml_to_json(text: &str, source: &str) -> Result<Value> {
    use yaml_rust2::{Yaml, YamlLoader};
    let docs = YamlLoader::load_from_str(text)
        .map_err(|e| Error::Invalid { message: format!("{source}: {e}"), hint: None })?;
    fn conv(y: &Yaml) -> Value {
        match y {
            Yaml::Real(s) => s
                .parse::<f64>()
                .ok()
                .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
                .unwrap_or(Value::Null),
            Yaml::Integer(i) => Value::from(*i),
            Yaml::String(s) => Value::String(s.clone()),
            Yaml::Boolean(b) => Value::Bool(*b),
            Yaml::Array(a) => Value::Array(a.iter().map(conv).collect()),
            Yaml::Hash(h) => Value::Object(
                h.iter()
                    .map(|(k, v)| {
                        let key = match k {
                            Yaml::String(s) => s.clone(),
                            Yaml::Integer(i) => i.to_string(),
                            other => format!("{other:?}"),
                        };
                        (key, conv(v))
                    })
                    .collect(),
            ),
            _ => Value::Null,
        }
    }
    Ok(docs.first().map(conv).unwrap_or(Value::Object(Default::default())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_parameter_file() {
        let p = ParamFile::parse(
            "imageType:\n  Original: {}\nfeatureClass:\n  shape:\n  glcm: [Contrast, Idmn]\nsetting:\n  binWidth: 5\n  resampledPixelSpacing: [2, 2, 2]\n  label: 2\n  interpolator: 'sitkLinear'\n",
            "p.yaml",
        )
        .unwrap();
        assert_eq!(p.settings.bin_width, 5.0);
        assert_eq!(p.settings.label, 2);
        assert_eq!(p.settings.resampled_pixel_spacing, Some([2.0, 2.0, 2.0]));
        assert_eq!(p.settings.interpolator, "sitkLinear");
        assert!(p.enabled("glcm", "Contrast", false) && !p.enabled("glcm", "Idm", false));
        assert!(p.enabled("shape", "Sphericity", false) && !p.enabled("shape", "Compactness1", true));
        assert!(!p.class_enabled("firstorder"));
        let Err(Error::Invalid { message, hint }) = ParamFile::parse("setting:\n  binWidht: 5\n", "p.yaml") else {
            panic!("a misspelt setting must be refused")
        };
        assert!(message.contains("p.yaml") && message.contains("binWidht"), "{message}");
        assert!(hint.unwrap_or_default().contains("binWidth"));
        assert!(ParamFile::parse("imageType:\n  LoG: {}\n", "p.yaml").is_err());
        assert!(
            ParamFile::parse("{\"setting\": {\"binCount\": 64}}", "p.json").unwrap().settings.bin_count == Some(64)
        );
    }

    #[test]
    fn pyradiomics_bins() {
        let s = Settings { bin_width: 25.0, ..Settings::default() };
        // Edges from the multiple of 25 at or below the minimum.
        assert_eq!(s.discretise(&[-30.0, -25.0, 0.0, 24.9, 25.0, 60.0], false).unwrap(), vec![1, 2, 3, 3, 4, 5]);
        let c = Settings { bin_count: Some(4), ..Settings::default() };
        assert_eq!(c.discretise(&[0.0, 1.0, 2.0, 3.0, 4.0], false).unwrap(), vec![1, 2, 3, 4, 4]);
        // Flat values: one level.
        assert_eq!(c.discretise(&[7.0, 7.0], false).unwrap(), vec![3, 3]);
        assert_eq!(s.discretise(&[-30.0, -5.0], true).unwrap(), vec![1, 2]);
    }
}
