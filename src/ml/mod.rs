//! The deep model: the study's 3D dose CNN + radiomics fusion network in
//! burn. Only this module imports burn; `device` is the one file that
//! chooses the backend (Flex on the CPU; `wgpu`/`cuda` behind features).
//!
//! - `net`: the network and its config (saved beside every model), the loss.
//! - `data`: samples in memory and class balancing of a training fold.
//! - `train`: Adam training with per-epoch validation, prediction, save/load.
//! - `spec`: the `model` declaration (presets, selection, input size).
//! - `bench`: one timed training step.
//! - `conv`, `norm`: the CPU convolution and the fused InstanceNorm + ReLU.

pub mod bench;
pub mod data;
pub mod device;
pub mod fit;
pub mod net;
pub mod norm;
pub mod spec;
pub mod train;

/// The device type the rest of radose passes around (a burn device).
pub type Device = burn::tensor::Device;
pub mod conv;
