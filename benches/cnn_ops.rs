//! Where one training step of the dose CNN spends its time: each layer kind
//! of the network timed alone, forward and forward+backward, at the shapes
//! the network sees for an input [N,1,D,H,W] (default [4,1,40,60,60]).
//!
//!   cargo bench --bench cnn_ops                # 4x40x60x60
//!   cargo bench --bench cnn_ops -- 4 80 120 120
//!
//! Prints one line per (block, layer): milliseconds forward, forward+backward
//! (the backward includes the input gradient, which the network's first
//! convolution does not need).
//! Convolutions run as in the network (`ml::conv`); `RADOSE_CONV=burn` times
//! burn's own convolution instead.

use std::time::Instant;

use burn::module::Module;
use burn::nn::conv::Conv3dConfig;
use burn::nn::{BatchNormConfig, InstanceNormConfig, PaddingConfig3d};
use burn::tensor::{Device, Distribution, Tensor};
use radose::ml::conv;

fn time<F: FnMut()>(mut f: F) -> f64 {
    f();
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    best * 1e3
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (n, mut side) = if args.len() == 4 { (args[0], [args[1], args[2], args[3]]) } else { (4, [40, 60, 60]) };
    // As training does: freed tensors are reused, not page-faulted afresh.
    radose::ml::device::keep_freed_memory();
    let device = Device::flex().autodiff();
    device.seed(0);
    let widths = [1usize, 8, 16, 32, 64, 128];
    let (mut total_fwd, mut total_all) = (0.0, 0.0);
    println!("layer                          shape_in                    fwd_ms   fwd+bwd_ms");
    for b in 0..5 {
        let (ci, co) = (widths[b], widths[b + 1]);
        let half = side.map(|s| (s - 1) / 2 + 1);
        let pad = PaddingConfig3d::Explicit(1, 1, 1);
        let layers: Vec<(&str, [usize; 5], Box<dyn Fn(Tensor<5>) -> Tensor<5>>)> = vec![
            ("conv1 k3 s1", [n, ci, side[0], side[1], side[2]], {
                let m = Conv3dConfig::new([ci, co], [3, 3, 3]).with_padding(pad.clone()).init(&device);
                Box::new(move |x| conv::apply(&m, x, [1, 1, 1], [1, 1, 1]))
            }),
            ("instancenorm", [n, co, side[0], side[1], side[2]], {
                let m = InstanceNormConfig::new(co).with_affine(false).init(&device);
                Box::new(move |x| m.forward(x))
            }),
            ("conv2 k3 s2", [n, co, side[0], side[1], side[2]], {
                let m = Conv3dConfig::new([co, co], [3, 3, 3]).with_stride([2, 2, 2]).with_padding(pad).init(&device);
                Box::new(move |x| conv::apply(&m, x, [2, 2, 2], [1, 1, 1]))
            }),
            ("batchnorm", [n, co, half[0], half[1], half[2]], {
                let m = BatchNormConfig::new(co).init(&device);
                Box::new(move |x| m.forward(x))
            }),
            ("skip k1 s2", [n, ci, side[0], side[1], side[2]], {
                let m = Conv3dConfig::new([ci, co], [1, 1, 1]).with_stride([2, 2, 2]).init(&device);
                Box::new(move |x| conv::apply(&m, x, [2, 2, 2], [0, 0, 0]))
            }),
        ];
        for (name, shape, f) in &layers {
            let x = Tensor::<5>::random(*shape, Distribution::Default, &device).require_grad();
            let fwd = time(|| {
                let y = f(x.clone());
                let _ = y.into_data();
            });
            let all = time(|| {
                let y = f(x.clone());
                let g = y.sum().backward();
                let _ = x.grad(&g).map(|t| t.into_data());
            });
            total_fwd += fwd;
            total_all += all;
            println!("block{} {:<22} {:<27} {:>8.1} {:>10.1}", b + 1, name, format!("{shape:?}"), fwd, all);
        }
        side = half;
    }
    println!("sum of layers                                              {total_fwd:>8.1} {total_all:>10.1}");
    let _ = burn::nn::LinearConfig::new(1, 1).init(&device).num_params();
}
