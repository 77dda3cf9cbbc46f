//! The network's inputs in memory, and class balancing of a training fold:
//! SMOTE (neighbours in the radiomics space; a synthetic sample's dose is
//! the volume of the nearer of its two patients, or with `smote-blend` the
//! two volumes interpolated with the radiomics factor), random
//! oversampling, or class weights. Balancing is only ever applied to
//! training samples.

use serde::{Deserialize, Serialize};

use super::net::NetConfig;
use crate::core::learn::matrix::Matrix;
use crate::core::learn::steps::smote_draws;
use crate::core::rng::Rng;
use crate::error::{Error, Result};

/// How a training fold's class imbalance is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Balance {
    /// SMOTE (k = 5) to 1:1 in the radiomics space (the paper); a synthetic
    /// sample's dose volume is that of the nearer of its two patients (the
    /// one its interpolation factor is closer to), so every dose volume the
    /// network sees is a real plan.
    Smote,
    /// SMOTE with the two patients' dose volumes interpolated voxel by voxel
    /// with the same factor as the radiomics vector.
    SmoteBlend,
    /// Random duplicates of minority samples to 1:1.
    Oversample,
    /// No new samples; the loss weighs each class by n / (2 n_class).
    Weight,
    None,
}

impl Balance {
    pub fn parse(text: &str) -> Result<Balance> {
        match text.to_ascii_lowercase().as_str() {
            "smote" => Ok(Balance::Smote),
            "smote-blend" => Ok(Balance::SmoteBlend),
            "oversample" => Ok(Balance::Oversample),
            "weight" => Ok(Balance::Weight),
            "none" => Ok(Balance::None),
            _ => Err(Error::invalid(
                format!("unknown balance `{text}`"),
                Some("use smote, smote-blend, oversample, weight or none"),
            )),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Balance::Smote => "smote",
            Balance::SmoteBlend => "smote-blend",
            Balance::Oversample => "oversample",
            Balance::Weight => "weight",
            Balance::None => "none",
        }
    }
}

/// Samples: dose volumes [D, H, W] (row-major, one after another), the
/// radiomics vectors, labels and loss weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Samples {
    pub dose: Option<Vec<f32>>,
    pub shape: [usize; 3],
    pub rad: Vec<f32>,
    pub width: usize,
    pub y: Vec<u8>,
    pub weight: Vec<f32>,
    /// How many of the samples (at the end) are synthetic.
    pub synthetic: usize,
}

impl Samples {
    /// From radiomics rows and optional dose volumes (one per row).
    pub fn new(rad: &Matrix, dose: Option<&[Vec<f32>]>, shape: [usize; 3], y: &[u8]) -> Result<Samples> {
        if rad.rows != y.len() {
            return Err(Error::invalid("radiomics rows and labels differ in number", None));
        }
        let dose = match dose {
            Some(volumes) => {
                let vox = shape.iter().product::<usize>();
                if volumes.len() != y.len() || volumes.iter().any(|v| v.len() != vox) {
                    return Err(Error::invalid("every sample needs one dose volume of the network's input size", None));
                }
                Some(volumes.concat())
            }
            None => None,
        };
        Ok(Samples {
            dose,
            shape,
            rad: rad.data.iter().map(|&v| v as f32).collect(),
            width: rad.cols,
            y: y.to_vec(),
            weight: vec![1.0; y.len()],
            synthetic: 0,
        })
    }

    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    pub fn voxels(&self) -> usize {
        self.shape.iter().product()
    }

    /// Checks that the samples fit the network.
    pub fn check(&self, net: &NetConfig) -> Result<()> {
        if self.width != net.radiomics {
            return Err(Error::invalid(
                format!("the network expects {} radiomics features, the data has {}", net.radiomics, self.width),
                None,
            ));
        }
        match (&self.dose, net.dose) {
            (None, true) => Err(Error::invalid("the model has a dose branch but the data has no dose", None)),
            (Some(_), true) if self.shape != net.input => Err(Error::invalid(
                format!("dose volumes are {:?}, the network expects {:?}", self.shape, net.input),
                None,
            )),
            _ => Ok(()),
        }
    }

    fn rad_matrix(&self) -> Matrix {
        let mut m = Matrix::zeros(self.len(), self.width);
        for (i, v) in self.rad.iter().enumerate() {
            m.data[i] = f64::from(*v);
        }
        m
    }

    /// Appends a sample whose radiomics vector is `row + gap·(nb − row)`;
    /// its dose volume is the same mix (`blend`) or the nearer patient's.
    fn push_mix(&mut self, row: usize, neighbour: usize, gap: f32, label: u8, blend: bool) {
        let w = self.width;
        let mixed: Vec<f32> = (0..w)
            .map(|c| self.rad[row * w + c] + gap * (self.rad[neighbour * w + c] - self.rad[row * w + c]))
            .collect();
        self.rad.extend(mixed);
        let vox = self.voxels();
        if let Some(d) = self.dose.as_mut() {
            let mixed: Vec<f32> = if blend {
                (0..vox).map(|v| d[row * vox + v] + gap * (d[neighbour * vox + v] - d[row * vox + v])).collect()
            } else {
                let nearer = if gap <= 0.5 { row } else { neighbour };
                d[nearer * vox..(nearer + 1) * vox].to_vec()
            };
            d.extend(mixed);
        }
        self.y.push(label);
        self.weight.push(1.0);
        self.synthetic += 1;
    }

    /// A training fold balanced as asked (never call this on held-out data).
    pub fn balanced(&self, balance: Balance, seed: u64) -> Result<Samples> {
        let mut out = self.clone();
        let count = |c: u8| self.y.iter().filter(|&&v| v == c).count();
        let (n0, n1) = (count(0), count(1));
        match balance {
            Balance::None => {}
            Balance::Weight => {
                let n = self.len() as f32;
                for (w, &t) in out.weight.iter_mut().zip(&self.y) {
                    let nc = if t == 1 { n1 } else { n0 } as f32;
                    *w = if nc > 0.0 { n / (2.0 * nc) } else { 1.0 };
                }
            }
            Balance::Oversample => {
                let minority = if n1 <= n0 { 1u8 } else { 0 };
                let members: Vec<usize> = (0..self.len()).filter(|&i| self.y[i] == minority).collect();
                if !members.is_empty() {
                    let mut rng = Rng::derive(seed, &["oversample"]);
                    for _ in 0..n0.max(n1) - n0.min(n1) {
                        let i = members[rng.below(members.len())];
                        out.push_mix(i, i, 0.0, minority, false);
                    }
                }
            }
            Balance::Smote | Balance::SmoteBlend => {
                let n_min = n0.min(n1);
                let k = 5.min(n_min.saturating_sub(1));
                if k == 0 {
                    return Err(Error::invalid(
                        format!("SMOTE needs at least two minority samples in a training fold; this one has {n_min}"),
                        Some("use --balance oversample or weight, or fewer folds"),
                    ));
                }
                let (draws, minority) = smote_draws(&self.rad_matrix(), &self.y, k, 1.0, seed)?;
                for d in draws {
                    out.push_mix(d.row, d.neighbour, d.gap as f32, minority, balance == Balance::SmoteBlend);
                }
            }
        }
        Ok(out)
    }

    /// The samples at `idx`, in that order.
    pub fn subset(&self, idx: &[usize]) -> Samples {
        let vox = self.voxels();
        Samples {
            dose: self
                .dose
                .as_ref()
                .map(|d| idx.iter().flat_map(|&i| d[i * vox..(i + 1) * vox].iter().copied()).collect()),
            shape: self.shape,
            rad: idx.iter().flat_map(|&i| self.rad[i * self.width..(i + 1) * self.width].iter().copied()).collect(),
            width: self.width,
            y: idx.iter().map(|&i| self.y[i]).collect(),
            weight: idx.iter().map(|&i| self.weight[i]).collect(),
            synthetic: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Samples {
        let rad = Matrix::from_rows(&(0..9).map(|i| vec![i as f64, (i * i) as f64]).collect::<Vec<_>>());
        let dose: Vec<Vec<f32>> = (0..9).map(|i| vec![i as f32; 8]).collect();
        let y = [1, 0, 0, 1, 0, 0, 1, 0, 0];
        Samples::new(&rad, Some(&dose), [2, 2, 2], &y).unwrap()
    }

    #[test]
    fn smote_gives_a_synthetic_sample_the_nearer_patients_dose() {
        let s = toy();
        let b = s.balanced(Balance::Smote, 3).unwrap();
        assert_eq!(b.len(), 12);
        assert_eq!(b.synthetic, 3);
        let d = b.dose.as_ref().unwrap();
        // The same draws `balanced` made (k = 2 for three minority samples).
        let (draws, _) = smote_draws(&s.rad_matrix(), &s.y, 2, 1.0, 3).unwrap();
        for (i, draw) in (9..12).zip(&draws) {
            // The toy's dose value is the patient's index.
            let volume = &d[i * 8..(i + 1) * 8];
            let nearer = if draw.gap <= 0.5 { draw.row } else { draw.neighbour };
            assert!(volume.iter().all(|&v| v == nearer as f32), "sample {i}: {volume:?}, nearer patient {nearer}");
            assert_eq!(s.y[nearer], 1);
        }
    }

    #[test]
    fn smote_blend_mixes_dose_with_the_radiomics_factor() {
        let s = toy();
        let b = s.balanced(Balance::SmoteBlend, 3).unwrap();
        assert_eq!(b.len(), 12);
        assert_eq!(b.y.iter().filter(|&&v| v == 1).count(), 6);
        assert_eq!(b.synthetic, 3);
        let d = b.dose.as_ref().unwrap();
        for i in 9..12 {
            // The toy's dose value equals radiomics column 0, so the mixes agree.
            assert!((d[i * 8] - b.rad[i * 2]).abs() < 1e-5);
            assert!(d[i * 8..(i + 1) * 8].iter().all(|&v| v == d[i * 8]));
        }
        // The original samples are untouched.
        assert_eq!(b.subset(&(0..9).collect::<Vec<_>>()).rad, s.rad);
    }

    #[test]
    fn oversampling_and_weights_balance() {
        let s = toy();
        let o = s.balanced(Balance::Oversample, 1).unwrap();
        assert_eq!(o.y.iter().filter(|&&v| v == 1).count(), 6);
        let w = s.balanced(Balance::Weight, 1).unwrap();
        assert_eq!(w.len(), 9);
        let total = |c: u8| w.y.iter().zip(&w.weight).filter(|(y, _)| **y == c).map(|(_, w)| w).sum::<f32>();
        assert!((total(0) - total(1)).abs() < 1e-5);
    }
}
