//! `radose bench step`: one training step (forward + backward + Adam) of the
//! study's network on random data — the number compared with PyTorch's
//! `reference/torch/dose_cnn_step.py` on the same machine and thread count.

use std::time::Instant;

use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Distribution, Tensor, TensorData};

use super::device::DeviceChoice;
use super::net::{NetConfig, bce_with_logits};
use crate::error::Result;

/// Timings of one benchmark.
#[derive(Debug, Clone)]
pub struct StepTiming {
    pub seconds: Vec<f64>,
    pub median: f64,
    pub parameters: usize,
}

/// Times `steps` training steps after `warmup` untimed ones.
pub fn step(
    batch: usize,
    input: [usize; 3],
    device: DeviceChoice,
    warmup: usize,
    steps: usize,
    cancelled: &dyn Fn() -> bool,
) -> Result<StepTiming> {
    let net = NetConfig::new(input, 32);
    net.validate()?;
    let device = device.device()?;
    super::device::keep_freed_memory();
    device.seed(0);
    let mut model = net.init(&device);
    let parameters = super::train::trainable_parameters(&model);
    let mut optim = AdamConfig::new().with_epsilon(1e-8).with_weight_decay(Some(WeightDecayConfig::new(1e-5))).init();
    let [d, h, w] = input;
    let dose = Tensor::<5>::random([batch, 1, d, h, w], Distribution::Default, &device);
    let rad = Tensor::<2>::random([batch, 32], Distribution::Normal(0.0, 1.0), &device);
    let y = Tensor::<1>::from_data(TensorData::new((0..batch).map(|i| (i % 2) as f32).collect(), [batch]), &device);
    let mut seconds = Vec::new();
    for i in 0..warmup + steps.max(1) {
        if cancelled() {
            return Err(crate::error::Error::Cancelled);
        }
        let start = Instant::now();
        let loss = bce_with_logits(model.forward(Some(dose.clone()), rad.clone()), y.clone(), None);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-3, model, grads);
        // Wait for the device (asynchronous backends) before stopping the clock.
        let _ = device.sync();
        if i >= warmup {
            seconds.push(start.elapsed().as_secs_f64());
        }
    }
    let mut sorted = seconds.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    Ok(StepTiming { seconds, median, parameters })
}

/// Peak resident memory of this process in MiB (Linux; None elsewhere).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
