//! The deep model (issue: 3D dose CNN + radiomics fusion in burn): network
//! shapes and size, a gradient check of a block, learning a synthetic task,
//! bit-identical retraining, save/load, balancing of training folds only,
//! cancellation, `runs --resume` reusing finished folds, `train` + `test` +
//! `predict` end to end on the simulated cohort, and every bad input refused
//! before training starts.

mod common;

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use radose::core::learn::matrix::Matrix;
use radose::ml::data::{Balance, Samples};
use radose::ml::net::{Block, NetConfig};
use radose::ml::train::{Checkpoint, Checkpointing, TrainConfig, predict, train};
use radose::store::ParamValue;
use radose::store::{Prediction, RunKind, RunStatus};

fn cpu() -> Device {
    Device::flex().autodiff()
}

#[test]
fn block_shapes_and_parameter_count() {
    let device = cpu();
    device.seed(1);
    let net = NetConfig::new([20, 30, 30], 32);
    let model = net.init(&device);
    // The PyTorch reference network has 917,305 parameters; burn also counts
    // BatchNorm's running mean and variance (PyTorch's buffers): 2 × (8+16+32+64+128).
    assert_eq!(model.num_params(), 917_305 + 2 * 248);
    assert_eq!(radose::ml::train::trainable_parameters(&model), 917_305);
    let x = Tensor::<5>::random([2, 1, 20, 30, 30], Distribution::Default, &device);
    let (pooled, shapes) = model.dose_cnn().unwrap().features(x);
    assert_eq!(
        shapes,
        vec![[2, 8, 10, 15, 15], [2, 16, 5, 8, 8], [2, 32, 3, 4, 4], [2, 64, 2, 2, 2], [2, 128, 1, 1, 1]]
    );
    assert_eq!(pooled.dims(), [2, 128]);
    assert_eq!(net.block_sides(), vec![[10, 15, 15], [5, 8, 8], [3, 4, 4], [2, 2, 2], [1, 1, 1]]);
    let logits = model.forward(
        Some(Tensor::<5>::random([2, 1, 20, 30, 30], Distribution::Default, &device)),
        Tensor::<2>::random([2, 32], Distribution::Default, &device),
    );
    assert_eq!(logits.dims(), [2]);
    // Radiomics only: no dose branch, one fusion channel.
    let rad_only = NetConfig::new([20, 30, 30], 10).with_dose(false).init(&device);
    assert_eq!(rad_only.num_params(), (10 * 32 + 32) + (64 + 64) + (64 + 1));
    // Batch 1 with a 1×1×1 last block: BatchNorm falls back to running statistics, no NaN.
    let one = model.forward(
        Some(Tensor::<5>::random([1, 1, 20, 30, 30], Distribution::Default, &device)),
        Tensor::<2>::random([1, 32], Distribution::Default, &device),
    );
    let v: Vec<f32> = one.into_data().try_to_vec().unwrap();
    assert!(v[0].is_finite());
}

/// The pooling switches: the same weights pooled by max or by average after
/// block 5 and in the fusion head give the maximum and the mean of the same
/// activations, and the parameter count does not change.
#[test]
fn pooling_after_block_5_and_in_the_fusion_head_is_a_switch() {
    let device = cpu();
    device.seed(3);
    let base = NetConfig::new([17, 17, 17], 4);
    let mean = base.init_seeded(&device, 5);
    let max = base.clone().with_l6_max(true).init_seeded(&device, 5);
    assert_eq!(mean.num_params(), max.num_params());
    let x = Tensor::<5>::random([2, 1, 17, 17, 17], Distribution::Default, &device);
    let (m, _) = mean.dose_cnn().unwrap().features(x.clone());
    let (mx, _) = max.dose_cnn().unwrap().features(x);
    let (m, mx): (Vec<f32>, Vec<f32>) = (m.into_data().try_to_vec().unwrap(), mx.into_data().try_to_vec().unwrap());
    // The last block is 1×1×1 at this size, so both poolings see one value: equal.
    assert_eq!(m, mx);
    // At 40×40×40 the last block is 2×2×2: the max is at least the mean, and differs somewhere.
    let big = NetConfig::new([40, 40, 40], 4);
    let (a, b) = (big.init_seeded(&device, 5), big.clone().with_l6_max(true).init_seeded(&device, 5));
    let x = Tensor::<5>::random([2, 1, 40, 40, 40], Distribution::Default, &device);
    let a: Vec<f32> = a.dose_cnn().unwrap().features(x.clone()).0.into_data().try_to_vec().unwrap();
    let b: Vec<f32> = b.dose_cnn().unwrap().features(x).0.into_data().try_to_vec().unwrap();
    assert!(a.iter().zip(&b).all(|(a, b)| b >= a));
    assert!(a.iter().zip(&b).any(|(a, b)| b > a));
    // The fusion head: average over the two stacked branches changes the logits.
    let fused_max = base.init_seeded(&device, 9);
    let fused_mean = base.clone().with_fusion_max(false).init_seeded(&device, 9);
    let dose = Tensor::<5>::random([3, 1, 17, 17, 17], Distribution::Default, &device);
    let rad = Tensor::<2>::random([3, 4], Distribution::Default, &device);
    let p: Vec<f32> = fused_max.forward(Some(dose.clone()), rad.clone()).into_data().try_to_vec().unwrap();
    let q: Vec<f32> = fused_mean.forward(Some(dose), rad).into_data().try_to_vec().unwrap();
    assert_ne!(p, q);
    // The options reach the network from a model declaration.
    let mut s = common::session();
    let (out, err, o) =
        common::run(&mut s, "model M = T1+Dose --pool-l6 max --fusion-pool mean --input 20x20x20", false);
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(out.contains("max pooling after block 5") && out.contains("mean pooling in the fusion head"), "{out}");
    let net = s.models["M"].net(8);
    assert!(net.l6_max && !net.fusion_max);
    let (_, err, o) = common::run(&mut s, "model N = T1+Dose --pool-l6 median", false);
    assert_ne!(o.exit_code(), 0);
    assert!(err.contains("median") && err.contains("mean or max"), "{err}");
}

fn values(t: Tensor<1>) -> f64 {
    let v: Vec<f32> = t.into_data().try_to_vec().unwrap();
    f64::from(v[0])
}

#[test]
fn seeded_initialisation_ignores_burns_generator() {
    let net = NetConfig::new([17, 17, 17], 6);
    let device = cpu();
    device.seed(1);
    let a = radose::ml::train::weights(&net.init_seeded(&device, 42));
    device.seed(2);
    let b = radose::ml::train::weights(&net.init_seeded(&device, 42));
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    let c = radose::ml::train::weights(&net.init_seeded(&device, 43));
    assert!(a != c);
    // PyTorch's bound: |w| ≤ 1/√fan_in. The first values visited are the
    // first convolution's weights and bias [8,1,3,3,3] + [8]: fan_in 27.
    let bound = 1.0 / 27f32.sqrt();
    let first_conv = &a[..216 + 8];
    assert!(first_conv.iter().all(|v| v.abs() <= bound), "{first_conv:?}");
    assert!(first_conv.iter().any(|v| v.abs() > 0.9 * bound), "uniform over the whole range");
    // BatchNorm keeps γ = 1 and β = 0.
    assert!(a.iter().filter(|v| **v == 1.0).count() >= 248);
}

#[test]
fn block_gradient_matches_finite_differences() {
    let device = cpu();
    // The block's weights come from burn's process-wide generator, which other
    // tests draw from concurrently: the tolerance allows for any draw.
    device.seed(3);
    let block = Block::new(1, 2, &device);
    let shape = [2usize, 1, 5, 6, 6];
    let n: usize = shape.iter().product();
    let base: Vec<f32> = (0..n).map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0).collect();
    let weights: Vec<f32> = (0..2 * 2 * 3 * 3 * 3).map(|i| ((i * 31) % 17) as f32 / 8.0 - 1.0).collect();
    let w = Tensor::<5>::from_data(TensorData::new(weights, [2, 2, 3, 3, 3]), &device);
    let loss_of = |x: Vec<f32>| -> Tensor<1> {
        let x = Tensor::<5>::from_data(TensorData::new(x, shape), &device);
        (block.forward(x) * w.clone()).sum()
    };
    // Analytic gradient with respect to the input.
    let x = Tensor::<5>::from_data(TensorData::new(base.clone(), shape), &device).require_grad();
    let loss = (block.forward(x.clone()) * w.clone()).sum();
    let grads = loss.backward();
    let g: Vec<f32> = x.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
    // Central differences at a spread of voxels (f32: eps 1e-2); BatchNorm in training mode.
    let eps = 1e-2f32;
    let mut errors = Vec::new();
    for i in (0..n).step_by(13) {
        let mut plus = base.clone();
        plus[i] += eps;
        let mut minus = base.clone();
        minus[i] -= eps;
        let fd = (values(loss_of(plus)) - values(loss_of(minus))) / (2.0 * f64::from(eps));
        let err = (fd - f64::from(g[i])).abs() / (1.0 + fd.abs());
        eprintln!("voxel {i}: finite difference {fd:.5}, backward {:.5}, relative {err:.2e}", g[i]);
        errors.push(err);
    }
    // Central differences straddle a ReLU kink at a few voxels; everywhere
    // else they agree with backward to f32 precision.
    errors.sort_by(f64::total_cmp);
    let close = errors.iter().filter(|&&e| e < 1e-2).count();
    // A wrong backward pass differs by O(0.1–1); f32 central differences
    // through InstanceNorm and ReLU kinks stay within a few 1e-3.
    assert!(errors.len() >= 20 && close * 10 >= errors.len() * 8, "{errors:?}");
    assert!(errors[errors.len() / 2] < 2e-3, "median relative difference {}", errors[errors.len() / 2]);
}

/// Positives carry a hot cube in the dose; radiomics are noise.
fn synthetic(n: usize, side: usize, seed: u64) -> Samples {
    let mut rng = radose::core::rng::Rng::new(seed);
    let y: Vec<u8> = (0..n).map(|i| u8::from(i % 3 == 0)).collect();
    let vox = side * side * side;
    let dose: Vec<Vec<f32>> = y
        .iter()
        .map(|&t| {
            let mut v: Vec<f32> = (0..vox).map(|_| 0.9 + 0.05 * rng.normal() as f32).collect();
            if t == 1 {
                for z in 4..10 {
                    for yy in 4..10 {
                        for x in 4..10 {
                            v[(z * side + yy) * side + x] += 0.5;
                        }
                    }
                }
            }
            v
        })
        .collect();
    let rad = Matrix::from_rows(&(0..n).map(|_| (0..4).map(|_| rng.normal()).collect()).collect::<Vec<_>>());
    Samples::new(&rad, Some(&dose), [side, side, side], &y).unwrap()
}

#[test]
fn the_loss_decreases_on_a_learnable_task() {
    let s = synthetic(24, 17, 5).balanced(Balance::Oversample, 1).unwrap();
    let net = NetConfig::new([17, 17, 17], 4);
    let cfg = TrainConfig::new().with_epochs(12).with_batch(8).with_seed(11);
    let mut losses = Vec::new();
    let model = train(
        &net,
        &cfg,
        &s,
        Some(&synthetic(12, 17, 6)),
        &cpu(),
        &|| false,
        &mut |log| {
            losses.push(log.train_loss);
            Ok(())
        },
        &mut Checkpointing::default(),
    )
    .unwrap();
    assert!(losses.last().unwrap() < &(0.6 * losses[0]), "{losses:?}");
    let p = predict(&model.valid(), &synthetic(12, 17, 7), &Device::flex()).unwrap();
    let truth = synthetic(12, 17, 7).y;
    assert!(radose::core::learn::metrics::auc(&p, &truth) > 0.9, "{p:?}");
}

/// A training with no held-out set, no per-epoch callback and no checkpoints.
fn train_plain(net: &NetConfig, cfg: &TrainConfig, s: &Samples) -> radose::ml::net::FusionNet {
    train(net, cfg, s, None, &cpu(), &|| false, &mut |_| Ok(()), &mut Checkpointing::default()).unwrap()
}

#[test]
fn same_seed_same_weights_and_save_load_round_trip() {
    let s = synthetic(12, 17, 8);
    let net = NetConfig::new([17, 17, 17], 4);
    let cfg = TrainConfig::new().with_epochs(2).with_batch(4).with_seed(3);
    let fit = || train_plain(&net, &cfg, &s);
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (fit(), fit());
    let fa = radose::ml::train::save(&a.valid(), &dir.path().join("a")).unwrap();
    let bits = |m: &radose::ml::net::FusionNet| -> Vec<u32> {
        radose::ml::train::weights(m).iter().map(|w| w.to_bits()).collect()
    };
    let (wa, wb) = (bits(&a.valid()), bits(&b.valid()));
    assert!(wa.len() > 900_000, "{}", wa.len());
    assert!(wa == wb, "weights differ between two trainings with the same seed");
    // A different seed gives different weights.
    let c = train_plain(&net, &cfg.clone().with_seed(4), &s);
    assert!(bits(&c.valid()) != wa);
    // Reloaded weights predict identically.
    let loaded = radose::ml::train::load(&net, &fa, &Device::flex()).unwrap();
    let p1 = predict(&a.valid(), &s, &Device::flex()).unwrap();
    let p2 = predict(&loaded, &s, &Device::flex()).unwrap();
    assert_eq!(p1, p2);
    // A cancelled training stops with Cancelled.
    let e = train(&net, &cfg, &s, None, &cpu(), &|| true, &mut |_| Ok(()), &mut Checkpointing::default()).unwrap_err();
    assert!(matches!(e, radose::error::Error::Cancelled));
}

/// Keras' time-based decay (`decay=…` in Keras' Adam): update t uses
/// lr / (1 + decay · t); it changes what is learned, and 0 is no decay.
#[test]
fn learning_rate_decay_is_keras_time_based_decay() {
    let cfg = TrainConfig::new().with_lr(1e-3).with_lr_decay(1e-5);
    assert_eq!(cfg.learning_rate(0), 1e-3);
    assert_eq!(cfg.learning_rate(1000), 1e-3 / (1.0 + 1e-5 * 1000.0));
    assert_eq!(TrainConfig::new().learning_rate(10_000), 1e-3);
    let s = synthetic(12, 17, 8);
    let net = NetConfig::new([17, 17, 17], 4);
    let base = TrainConfig::new().with_epochs(2).with_batch(4).with_seed(3);
    let w = |cfg: &TrainConfig| radose::ml::train::weights(&train_plain(&net, cfg, &s).valid());
    assert_ne!(w(&base), w(&base.clone().with_lr_decay(0.5)));
    assert!(TrainConfig::new().with_lr_decay(-1.0).validate().is_err());
}

#[test]
fn a_training_continued_from_a_checkpoint_ends_bit_identical() {
    let s = synthetic(12, 17, 8);
    let net = NetConfig::new([17, 17, 17], 4);
    // With a learning-rate decay, so the continuation must also count the updates before it.
    let cfg = TrainConfig::new().with_epochs(4).with_batch(4).with_seed(3).with_lr_decay(0.05);
    let bits = |m: &radose::ml::net::FusionNet| -> Vec<u32> {
        radose::ml::train::weights(m).iter().map(|w| w.to_bits()).collect()
    };
    let whole = train_plain(&net, &cfg, &s);
    // Stopped after epoch 2, with a checkpoint after every epoch.
    let dir = tempfile::tempdir().unwrap();
    let done = std::cell::Cell::new(0);
    let mut saved: Vec<Checkpoint> = Vec::new();
    let mut written = |ck: &Checkpoint, files: &[std::path::PathBuf]| {
        assert!(files.iter().all(|f| f.is_file()));
        saved.push(ck.clone());
        Ok(())
    };
    let mut ckp =
        Checkpointing { dir: Some(dir.path().to_path_buf()), written: Some(&mut written), ..Checkpointing::default() };
    let stop = train(
        &net,
        &cfg,
        &s,
        None,
        &cpu(),
        &|| done.get() >= 2,
        &mut |log| {
            done.set(log.epoch);
            Ok(())
        },
        &mut ckp,
    );
    assert!(matches!(stop, Err(radose::error::Error::Cancelled)));
    drop(ckp);
    assert_eq!(saved.iter().map(|c| c.epoch).collect::<Vec<_>>(), vec![1, 2]);
    assert!(!dir.path().join("epoch-1").exists(), "a superseded checkpoint is pruned");
    // The checkpoint holds the weights a 2-epoch training ends with.
    let two = train_plain(&net, &cfg.clone().with_epochs(2), &s);
    let loaded = radose::ml::train::load(&net, &saved[1].weights, &Device::flex()).unwrap();
    assert!(bits(&loaded) == bits(&two.valid()));
    let mut epochs = Vec::new();
    let mut resume = Checkpointing { resume: saved.pop(), ..Checkpointing::default() };
    let continued = train(
        &net,
        &cfg,
        &s,
        None,
        &cpu(),
        &|| false,
        &mut |log| {
            epochs.push(log.epoch);
            Ok(())
        },
        &mut resume,
    )
    .unwrap();
    assert_eq!(epochs, vec![3, 4], "only the epochs after the checkpoint run");
    assert!(bits(&continued.valid()) == bits(&whole.valid()), "the continued training ends bit-identical");
}

/// A small simulated study on disk: cohorts, PTV + dose on the MR grid, T1 radiomics.
fn study(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "simulate --out {d}/sim --n-a 30 --n-b 12 --seed 7\n\
         load A0 {d}/sim/A\nload B0 {d}/sim/B\n\
         preprocess A0 --to {d}/pre/A\npreprocess B0 --to {d}/pre/B\n\
         load A {d}/pre/A\nload B {d}/pre/B\n\
         extract A --sequences T1 --roi ptv --to {d}/feat/A\nextract B --sequences T1 --roi ptv --to {d}/feat/B\n"
    )
}

fn open_store(db: &Path) -> radose::store::Store {
    radose::store::Store::open(db, radose::provenance::Provenance::gather()).unwrap()
}

#[test]
fn train_test_predict_end_to_end_and_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let mut s = radose::open_session(&db).unwrap();
    let (_, err, outcome) = common::run(&mut s, &study(dir.path()), false);
    assert_eq!(outcome.exit_code(), 0, "{err}");

    // Bad inputs, each refused before any training run is recorded.
    let before = s.store().count_runs().unwrap();
    for (cmd, expect) in [
        ("model Z = T1+Dose --input 10x30x30", "too small for the network"),
        ("model Z = T1+Dose --input 20x30", "is not a size"),
        ("model Z = Dose", "no radiomics sequence"),
        ("model Z = T1 --balance lots", "unknown balance"),
        (
            "model Q = T1+Dose --select mannwhitney:k=6 --input 20x30x30 --balance oversample; train Q on A --device gpu",
            "built without the `wgpu` backend",
        ),
        ("train Q on A --grid lr=abc", "is not a number"),
        ("train Q on A --grid momentum=0.9", "unknown grid key"),
        ("model R = T2+Dose; train R on A", "radiomics frame `A.T2`"),
        ("train Q on A0", "radiomics frame `A0.T1`"),
        ("test Q on B", "no finished `train` run"),
    ] {
        let (_, err, _) = common::run(&mut s, cmd, true);
        assert!(err.contains(expect), "`{cmd}`: {err}");
    }
    // Unknown device names are errors on the token.
    let (_, err, _) = common::run(&mut s, "train Q on A --device tpu", true);
    assert!(err.contains("unknown device `tpu`"), "{err}");
    let runs_after: i64 = s.store().count_runs().unwrap();
    // Only `model` statements ran (they record nothing).
    assert_eq!(runs_after, before, "a bad input recorded a run");

    // A missing dose grid for one patient: named, before training.
    let dose = dir.path().join("pre/A/A003/dose.nii.gz");
    let saved = std::fs::read(&dose).unwrap();
    std::fs::remove_file(&dose).unwrap();
    let (_, err, _) = common::run(&mut s, "train Q on A --folds 2 --grid epochs=1", true);
    assert!(err.contains("patient A003") && err.contains("dose.nii.gz"), "{err}");
    assert_eq!(s.store().count_runs().unwrap(), before);
    std::fs::write(&dose, saved).unwrap();

    // Train + test + predict.
    let (out, err, outcome) =
        common::run(&mut s, "train Q on A --folds 2 --grid epochs=2 batch=8 lr=1e-3,3e-4 --seed 5", false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    assert!(out.contains("best by mean fold AUC"), "{out}");
    let store = s.store();
    let train_run =
        store.query_runs(None, None, true, 100).unwrap().into_iter().find(|(r, _)| r.kind == RunKind::Train).unwrap().0;
    assert_eq!(train_run.status, RunStatus::Finished);
    let detail = store.run_detail(train_run.id).unwrap();
    assert_eq!(detail.children.len(), 2, "one child per configuration");
    // Every patient's out-of-fold probability, real patients only.
    let preds = store.predictions(train_run.id).unwrap();
    assert_eq!(preds.len(), 30);
    assert!(preds.iter().all(|p| p.patient.starts_with('A') && p.probability > 0.0 && p.probability < 1.0));
    for &config in &detail.children {
        let c = store.run_detail(config).unwrap();
        assert_eq!(c.children.len(), 2, "one child per fold");
        assert_eq!(store.predictions(config).unwrap().len(), 30);
        for &fold in &c.children {
            let f = store.run_detail(fold).unwrap();
            let losses: Vec<_> = f.metrics.iter().filter(|m| m.key == "train_loss").collect();
            assert_eq!(losses.len(), 2, "one training loss per epoch");
            assert!(losses.iter().all(|m| m.step.is_some() && m.fold.is_some()));
            assert_eq!(f.metrics.iter().filter(|m| m.key == "val_auc").count(), 2);
            assert!(f.artifacts.iter().any(|(p, _)| p.ends_with("weights.bpk")));
            // Oversampling added rows to the training fold only: the held-out
            // predictions are the fold's real patients.
            let param = |k: &str| f.params.iter().find(|(n, _)| n == k).map(|(_, v)| v.display()).unwrap();
            assert!(param("synthetic").parse::<i64>().unwrap() > 0);
            let fold_no: i64 = param("fold").parse().unwrap();
            let held_out = preds.iter().filter(|p| p.fold == Some(fold_no)).count() as i64;
            assert_eq!(held_out.to_string(), param("test"));
        }
    }
    // The chosen configuration's learning curves, drawn from the stored epochs.
    let curves = radose::report::learning_curves(store, train_run.id).unwrap().expect("curves of a train run");
    assert_eq!(curves.folds.len(), 2, "one curve per fold");
    assert!(curves.folds.iter().all(|f| f.len() == 2 && f[0].epoch == 1 && f[1].epoch == 2));
    assert!(curves.folds.iter().flatten().all(|p| p.train_loss.is_finite() && p.val_loss.is_finite()));
    let svg_path = dir.path().join("curves.svg");
    let (out, err, outcome) =
        common::run(&mut s, &format!("plot curves {} --out {}", train_run.id, svg_path.display()), false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    assert!(out.contains("wrote"), "{out}");
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    common::well_formed(&svg).unwrap();
    assert!(svg.contains("held-out AUC") && svg.contains("fold 2"), "both panels and every fold");
    let (_, err, _) = common::run(&mut s, "plot curves 1", true);
    assert!(err.contains("no learning curves"), "{err}");
    // The tracker finds the model's runs by its declared name.
    let (out, err, _) = common::run(&mut s, "runs --where \"kind = train and model = 'Q'\"", false);
    assert!(out.contains(&format!("train Q on A")), "{out}{err}");
    let (out, err, outcome) = common::run(&mut s, "test Q on B", false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    assert!(out.contains("auc"), "{out}");
    let test_run = s
        .store()
        .query_runs(None, None, true, 100)
        .unwrap()
        .into_iter()
        .find(|(r, _)| r.kind == RunKind::Test)
        .unwrap()
        .0;
    assert_eq!(s.store().predictions(test_run.id).unwrap().len(), 12);
    let first = s.store().predictions(test_run.id).unwrap();
    // The saved model predicts B identically.
    let (_, err, outcome) = common::run(&mut s, &format!("predict {} on B", test_run.id), false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    let predict_run = s
        .store()
        .query_runs(None, None, true, 100)
        .unwrap()
        .into_iter()
        .find(|(r, _)| r.kind == RunKind::Predict)
        .unwrap()
        .0;
    let again = s.store().predictions(predict_run.id).unwrap();
    let by_id = |v: &[Prediction]| {
        let mut v: Vec<(String, f64)> = v.iter().map(|p| (p.patient.clone(), p.probability)).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    assert_eq!(by_id(&first), by_id(&again));

    // A radiomics frame missing a column the model uses: named, before training.
    let params = dir.path().join("firstorder.yaml");
    std::fs::write(&params, "featureClass:\n  firstorder:\n").unwrap();
    let cmd = format!(
        "extract B --sequences T1 --roi ptv --params {} --to {}/feat/B2",
        params.display(),
        dir.path().display()
    );
    let (_, err, outcome) = common::run(&mut s, &cmd, false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    let runs = s.store().count_runs().unwrap();
    let (_, err, _) = common::run(&mut s, "test Q on B", true);
    assert!(err.contains("frame `B.T1` has no column"), "{err}");
    assert_eq!(s.store().count_runs().unwrap(), runs, "no run before the error");
    drop(s);
    // The database is readable by a fresh process with everything finished.
    let store = open_store(&db);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

/// A session on `dir/runs.db` with the small study and a quick +Dose model `Q`.
fn session_with_model(dir: &Path) -> radose::session::Session {
    let mut s = radose::open_session(&dir.join("runs.db")).unwrap();
    let (_, err, outcome) = common::run(&mut s, &study(dir), false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    let (_, err, outcome) =
        common::run(&mut s, "model Q = T1+Dose --select mannwhitney:k=6 --input 17x17x17 --balance weight", false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    s
}

/// Presses Ctrl-C (the session's cancel flag) once `ready` holds for the
/// database, watched from another connection; the thread says whether it did.
fn cancel_when(
    s: &radose::session::Session,
    db: &Path,
    ready: impl Fn(&radose::store::Store) -> bool + Send + 'static,
) -> std::thread::JoinHandle<bool> {
    let cancel = s.cancel_flag();
    let db = db.to_path_buf();
    std::thread::spawn(move || {
        let store = open_store(&db);
        for _ in 0..6000 {
            if ready(&store) {
                cancel.cancel();
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        false
    })
}

#[test]
fn ctrl_c_mid_epoch_leaves_a_cancelled_run_with_its_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session_with_model(dir.path());
    // Cancel once the second epoch has been logged.
    let watcher = cancel_when(&s, &dir.path().join("runs.db"), |store| {
        let logged = store
            .query_runs(None, None, true, 50)
            .unwrap()
            .iter()
            .filter(|(r, _)| r.kind == RunKind::TrainFold)
            .map(|(r, _)| store.metrics(r.id).unwrap().iter().filter(|m| m.key == "train_loss").count())
            .sum::<usize>();
        logged >= 2
    });
    let (_, err, outcome) = common::run(&mut s, "train Q on A --folds 2 --grid epochs=500 batch=4", false);
    assert!(watcher.join().unwrap(), "training never logged two epochs");
    assert_ne!(outcome.exit_code(), 0);
    assert!(err.to_lowercase().contains("cancel"), "{err}");
    let runs = s.store().query_runs(None, None, true, 50).unwrap();
    let train_run = runs.iter().find(|(r, _)| r.kind == RunKind::Train).unwrap();
    assert_eq!(train_run.0.status, RunStatus::Cancelled);
    let fold = runs.iter().find(|(r, _)| r.kind == RunKind::TrainFold).unwrap();
    assert_eq!(fold.0.status, RunStatus::Cancelled);
    assert!(s.store().metrics(fold.0.id).unwrap().iter().filter(|m| m.key == "train_loss").count() >= 2);
}

#[test]
fn runs_resume_reuses_the_folds_a_cancelled_train_finished() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session_with_model(dir.path());
    let cmd = "train Q on A --folds 2 --grid epochs=12 batch=4 lr=1e-3,3e-4 --seed 3";
    let finished_folds = |store: &radose::store::Store| {
        store
            .query_runs(None, None, true, 100)
            .unwrap()
            .into_iter()
            .filter(|(r, _)| r.kind == RunKind::TrainFold && r.status == RunStatus::Finished)
            .count()
    };
    // Ctrl-C once the first fold has finished.
    let watcher = cancel_when(&s, &dir.path().join("runs.db"), move |store| finished_folds(store) >= 1);
    let (_, err, outcome) = common::run(&mut s, cmd, false);
    assert!(watcher.join().unwrap(), "no fold finished");
    assert_ne!(outcome.exit_code(), 0, "training finished before the cancel: {err}");
    let runs = s.store().query_runs(None, None, true, 100).unwrap();
    let old = runs.iter().find(|(r, _)| r.kind == RunKind::Train).unwrap().0.clone();
    assert_eq!(old.status, RunStatus::Cancelled);
    let done = finished_folds(s.store());
    assert!((1..4).contains(&done), "{done} folds finished");

    // Resuming trains only the folds that did not finish.
    let (out, err, outcome) = common::run(&mut s, &format!("runs --resume {}", old.id), false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    assert!(out.contains(&format!("resumed run {}: {done} of 4 folds reused", old.id)), "{out}");
    let latest_train = |s: &radose::session::Session| {
        s.store()
            .query_runs(None, None, true, 200)
            .unwrap()
            .into_iter()
            .find(|(r, _)| r.kind == RunKind::Train)
            .unwrap()
            .0
    };
    let resumed = latest_train(&s);
    assert_eq!(resumed.status, RunStatus::Finished);
    let detail = s.store().run_detail(resumed.id).unwrap();
    assert!(detail.params.contains(&("resumed_from".into(), ParamValue::Int(old.id))), "{:?}", detail.params);
    let mut reused = 0;
    for &config in &detail.children {
        for &fold in &s.store().run_detail(config).unwrap().children {
            let f = s.store().run_detail(fold).unwrap();
            if f.params.iter().any(|(k, _)| k == "reused_from") {
                reused += 1;
                // Its record is complete: per-epoch losses, weights, predictions.
                assert_eq!(f.metrics.iter().filter(|m| m.key == "train_loss").count(), 12);
                assert!(f.artifacts.iter().any(|(p, _)| p.ends_with("weights.bpk")));
                assert_eq!(s.store().predictions(fold).unwrap().len(), 15);
            }
        }
    }
    assert_eq!(reused, done);

    // The same as training everything again.
    let (_, err, outcome) = common::run(&mut s, cmd, false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    let fresh = latest_train(&s);
    assert_ne!(fresh.id, resumed.id);
    let sorted = |run: i64| {
        let mut p = s.store().predictions(run).unwrap();
        p.sort_by(|a, b| a.patient.cmp(&b.patient));
        p
    };
    assert_eq!(sorted(resumed.id), sorted(fresh.id));
}

#[test]
fn the_fast_convolution_equals_burns() {
    use burn::tensor::module::conv3d;
    use burn::tensor::ops::ConvOptions;
    let device = cpu();
    device.seed(9);
    // (input, channels in/out, kernel, stride, padding): the network's three kinds, odd sizes.
    for (input, ci, co, k, s, p) in [
        ([2, 3, 7, 9, 8], 3, 4, 3, 1, 1),
        ([2, 3, 7, 9, 8], 3, 5, 3, 2, 1),
        ([3, 2, 5, 6, 7], 2, 4, 1, 2, 0),
        ([1, 1, 17, 17, 17], 1, 8, 3, 2, 1),
    ] {
        let x = Tensor::<5>::random(input, Distribution::Normal(0.0, 1.0), &device).require_grad();
        let w = Tensor::<5>::random([co, ci, k, k, k], Distribution::Normal(0.0, 0.3), &device).require_grad();
        let b = Tensor::<1>::random([co], Distribution::Normal(0.0, 0.3), &device).require_grad();
        let out_shape = |t: &Tensor<5>| t.dims();
        let ours = radose::ml::conv::conv3d(x.clone(), w.clone(), b.clone(), [s; 3], [p; 3]);
        let theirs = conv3d(x.clone(), w.clone(), Some(b.clone()), ConvOptions::new([s; 3], [p; 3], [1; 3], 1));
        assert_eq!(out_shape(&ours), out_shape(&theirs));
        // A fixed random weighting of the outputs, so every gradient is exercised.
        let r = Tensor::<5>::random(theirs.dims(), Distribution::Normal(0.0, 1.0), &device);
        let close = |a: Tensor<5>, b: Tensor<5>, what: &str| {
            let (a, b): (Vec<f32>, Vec<f32>) =
                (a.into_data().try_to_vec().unwrap(), b.into_data().try_to_vec().unwrap());
            let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs() / (1.0 + y.abs())).fold(0.0f32, f32::max);
            assert!(worst < 1e-4, "{what} {input:?} k{k} s{s}: relative difference {worst}");
        };
        close(ours.clone(), theirs.clone(), "output");
        let g1 = (ours * r.clone()).sum().backward();
        let g2 = (theirs * r).sum().backward();
        close(x.grad(&g1).unwrap(), x.grad(&g2).unwrap(), "input gradient");
        close(w.grad(&g1).unwrap(), w.grad(&g2).unwrap(), "weight gradient");
        let (b1, b2): (Vec<f32>, Vec<f32>) = (
            b.grad(&g1).unwrap().into_data().try_to_vec().unwrap(),
            b.grad(&g2).unwrap().into_data().try_to_vec().unwrap(),
        );
        assert!(b1.iter().zip(&b2).all(|(x, y)| (x - y).abs() < 1e-4 * (1.0 + y.abs())), "bias gradient");
    }
}

/// The fused InstanceNorm + ReLU equals burn's `InstanceNorm` (no affine)
/// followed by `relu`, forward and input gradient, on planes of several
/// sizes (one voxel per plane included: the output is 0 and so is the gradient).
#[test]
fn the_fused_instance_norm_equals_burns() {
    use burn::nn::InstanceNormConfig;
    let device = cpu();
    device.seed(11);
    for shape in [[2, 3, 5, 6, 7], [1, 8, 10, 15, 15], [3, 2, 1, 1, 1], [2, 4, 2, 3, 33]] {
        let norm = InstanceNormConfig::new(shape[1]).with_affine(false).init(&device);
        let x = Tensor::<5>::random(shape, Distribution::Normal(0.5, 2.0), &device).require_grad();
        let ours = radose::ml::norm::instance_norm_relu(&norm, x.clone());
        let theirs = burn::tensor::activation::relu(norm.forward(x.clone()));
        let r = Tensor::<5>::random(shape, Distribution::Normal(0.0, 1.0), &device);
        let values = |t: Tensor<5>| -> Vec<f32> { t.into_data().try_to_vec().unwrap() };
        let close = |a: Vec<f32>, b: Vec<f32>, what: &str| {
            assert_eq!(a.len(), b.len());
            let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs() / (1.0 + y.abs())).fold(0.0f32, f32::max);
            assert!(worst < 1e-5, "{what} {shape:?}: relative difference {worst}");
        };
        close(values(ours.clone()), values(theirs.clone()), "output");
        let g1 = (ours * r.clone()).sum().backward();
        let g2 = (theirs * r).sum().backward();
        close(values(x.grad(&g1).unwrap()), values(x.grad(&g2).unwrap()), "input gradient");
    }
}

#[test]
fn bench_step_prints_the_median_last() {
    let out = std::process::Command::new(common::binary())
        .args([
            "--db", ":memory:", "bench", "step", "--batch", "2", "--size", "17x17x17", "--steps", "1", "--warmup", "0",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    let seconds: f64 = last.trim().parse().unwrap_or_else(|_| panic!("last line `{last}` is not seconds"));
    assert!(seconds > 0.0);
    assert!(text.contains("917305 trainable parameters"), "{text}");
}

/// `train --nested`: each outer fold's configuration is chosen by a grid
/// search inside its training rows; its held-out predictions are the grid
/// search's fit of that fold with that configuration; the run reports the
/// outer folds, records the plain search beside them, and the report says
/// which Table 2 rows were chosen on their own folds.
#[test]
fn nested_cross_validation_chooses_inside_each_training_fold() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session_with_model(dir.path());
    let (_, err, _) = common::run(&mut s, "train Q on A --folds 2 --inner-folds 2", true);
    assert!(err.contains("add --nested"), "{err}");
    let (_, err, _) = common::run(&mut s, "train Q on A --folds 2 --nested --inner-folds 1", true);
    assert!(err.contains("at least 2"), "{err}");

    let grid = "--folds 2 --grid epochs=2 batch=4 lr=1e-3,3e-2 --seed 3";
    let (out, err, outcome) = common::run(&mut s, &format!("train Q on A {grid} --nested --inner-folds 2"), false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    assert!(out.contains("nested: each fold's configuration was chosen by 2-fold cross-validation"), "{out}");
    let store = s.store();
    let runs = store.query_runs(None, None, true, 500).unwrap();
    let parent = runs.iter().find(|(r, _)| r.kind == RunKind::Train).unwrap().0.id;
    let detail = store.run_detail(parent).unwrap();
    assert!(detail.params.contains(&("nested_folds".into(), ParamValue::Int(2))), "{:?}", detail.params);
    let (mut grid_configs, mut outers) = (Vec::new(), Vec::new());
    for &c in &detail.children {
        let d = store.run_detail(c).unwrap();
        match d.summary.kind {
            RunKind::TrainConfig => grid_configs.push(d),
            RunKind::TrainOuter => outers.push(d),
            k => panic!("unexpected child kind {k}"),
        }
    }
    assert_eq!((grid_configs.len(), outers.len()), (2, 2));
    let param = |d: &radose::store::RunDetail, key: &str| {
        d.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_else(|| panic!("no {key}"))
    };
    let mut nested_preds = Vec::new();
    for (o, outer) in outers.iter().enumerate() {
        // Two inner configurations of two inner folds each, trained and recorded.
        assert_eq!(outer.children.len(), 2);
        for &ic in &outer.children {
            let inner = store.run_detail(ic).unwrap();
            assert_eq!(inner.summary.kind, RunKind::TrainConfig);
            assert_eq!(inner.children.len(), 2);
            for &f in &inner.children {
                let fold = store.run_detail(f).unwrap();
                assert_eq!(fold.summary.status, RunStatus::Finished);
                assert_eq!(fold.metrics.iter().filter(|m| m.key == "train_loss").count(), 2);
            }
        }
        let ParamValue::Int(chosen) = param(outer, "chosen_config") else { panic!() };
        // The chosen configuration's inner mean AUC is the best of the two.
        let inner_means: Vec<f64> = outer
            .children
            .iter()
            .map(|&c| store.run_detail(c).unwrap().metrics.iter().find(|m| m.key == "auc_mean").unwrap().value)
            .collect();
        let best = inner_means.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        assert!(inner_means[chosen as usize] == best || inner_means.iter().all(|m| m.is_nan()), "{inner_means:?}");
        // Its outer predictions are the grid search's fold `o` of that configuration.
        let mut got = store.predictions(outer.summary.id).unwrap();
        let mut want: Vec<Prediction> = store
            .predictions(grid_configs[chosen as usize].summary.id)
            .unwrap()
            .into_iter()
            .filter(|p| p.fold == Some(o as i64))
            .collect();
        got.sort_by(|a, b| a.patient.cmp(&b.patient));
        want.sort_by(|a, b| a.patient.cmp(&b.patient));
        assert_eq!(got, want);
        nested_preds.extend(got);
    }
    // The run reports the outer folds, with the plain search beside them.
    let mut reported = store.predictions(parent).unwrap();
    reported.sort_by(|a, b| a.patient.cmp(&b.patient));
    nested_preds.sort_by(|a, b| a.patient.cmp(&b.patient));
    assert_eq!(reported, nested_preds);
    assert_eq!(reported.len(), 30);
    let metric = |key: &str| detail.metrics.iter().find(|m| m.key == key).map(|m| m.value).unwrap();
    let truth: Vec<u8> = reported.iter().map(|p| p.label).collect();
    let probs: Vec<f64> = reported.iter().map(|p| p.probability).collect();
    let pooled = radose::core::learn::metrics::auc(&probs, &truth);
    assert!((metric("auc_pooled") - pooled).abs() < 1e-12);
    assert!((metric("selection_optimism") - (metric("selection_auc_pooled") - pooled)).abs() < 1e-12);

    // The plain search on the same folds, and the report's note on each.
    let (out, err, outcome) = common::run(&mut s, &format!("train Q on A {grid} --label plain"), false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    assert!(out.contains("measured on the folds that chose the configuration"), "{out}");
    let report_dir = dir.path().join("rep");
    let (_, err, outcome) = common::run(&mut s, &format!("report r --out {}", report_dir.display()), false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    let html = std::fs::read_to_string(report_dir.join("index.html")).unwrap();
    assert!(html.contains("chosen on the same folds: plain (2 configurations)"), "{html}");
    assert!(html.contains("nested cross-validation: T1+Dose (2 inner folds"), "{html}");
}

/// `audit leakage` of a deep model: the fold-safe arm is the `train` run with
/// the same seed (its folds, its fold seeds, its predictions); the LEAKY arm
/// fits selection and SMOTE on all of A before its folds; each step's share,
/// the paired summary and the report's audit table.
#[test]
fn audit_leakage_of_a_deep_model_beside_train() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session_with_model(dir.path());
    let (_, err, outcome) =
        common::run(&mut s, "model S = T1+Dose --select mannwhitney:k=6 --input 17x17x17 --balance smote", false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    for (bad, says) in [
        ("audit leakage S on A --grid lr=1e-3,3e-4", "2 configurations"),
        ("audit leakage S on A B", "on COHORT"),
        ("audit leakage S on A --grid momentum=1", "unknown grid key"),
        ("pipeline P = mannwhitney k=3 | logistic; audit leakage P on A.T1 --grid epochs=2", "for a deep model"),
    ] {
        let (_, err, _) = common::run(&mut s, bad, true);
        assert!(err.contains(says), "{bad}: {err}");
    }
    let settings = "--folds 2 --grid epochs=2 batch=4 --seed 3";
    let (out, err, outcome) = common::run(&mut s, &format!("audit leakage S on A {settings} --experiment e"), false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    assert!(out.contains("LEAKY: selection, PCA and balancing fitted on all patients first"), "{out}");
    assert!(out.contains("standardize → mannwhitney → smote"), "{out}");
    let (_, err, outcome) = common::run(&mut s, &format!("train S on A {settings}"), false);
    assert_eq!(outcome.exit_code(), 0, "{err}");

    let store = s.store();
    let runs = store.query_runs(None, None, true, 200).unwrap();
    let audit = runs.iter().find(|(r, _)| r.kind == RunKind::AuditLeakage).unwrap().0.id;
    let train = runs.iter().find(|(r, _)| r.kind == RunKind::Train).unwrap().0.id;
    let detail = store.run_detail(audit).unwrap();
    assert!(detail.params.iter().any(|(k, _)| k == "model_json"));
    let arms: Vec<radose::store::RunDetail> = detail.children.iter().map(|&c| store.run_detail(c).unwrap()).collect();
    assert_eq!(arms.len(), 2);
    let leaky_of = |d: &radose::store::RunDetail| d.params.contains(&("leaky".into(), ParamValue::Bool(true)));
    let safe = arms.iter().find(|d| !leaky_of(d)).unwrap();
    let leaky = arms.iter().find(|d| leaky_of(d)).unwrap();
    // The fold-safe arm is the train run.
    let sorted = |mut p: Vec<Prediction>| {
        p.sort_by(|a, b| a.patient.cmp(&b.patient));
        p.into_iter().map(|p| (p.patient, p.label, p.probability, p.fold)).collect::<Vec<_>>()
    };
    assert_eq!(sorted(store.predictions(safe.summary.id).unwrap()), sorted(store.predictions(train).unwrap()));
    // Two fold AUCs per arm; the summary is their paired difference.
    let aucs =
        |d: &radose::store::RunDetail| d.metrics.iter().filter(|m| m.key == "auc").map(|m| m.value).collect::<Vec<_>>();
    let (a, b) = (aucs(safe), aucs(leaky));
    assert_eq!((a.len(), b.len()), (2, 2));
    let metric = |key: &str| detail.metrics.iter().find(|m| m.key == key).map(|m| m.value);
    let optimism = (b[0] - a[0] + b[1] - a[1]) / 2.0;
    assert!((metric("optimism").unwrap() - optimism).abs() < 1e-12);
    // Each step's share: the features outside, then SMOTE too (the whole LEAKY arm).
    let features = metric("leaky_auc_outside_1_features").expect("features outside");
    assert!(features.is_finite());
    assert!((metric("leaky_auc_outside_2_smote").unwrap() - (b[0] + b[1]) / 2.0).abs() < 1e-12);

    // The report's audit table and figure.
    let report_dir = dir.path().join("rep");
    let (_, err, outcome) =
        common::run(&mut s, &format!("report r --experiment e --out {}", report_dir.display()), false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    let table = std::fs::read_to_string(report_dir.join("tables/audit_leakage.csv")).unwrap();
    assert!(table.contains("T1+Dose"), "{table}");
    assert!(report_dir.join("figures/audit_leakage_T1_Dose.svg").exists());
}
