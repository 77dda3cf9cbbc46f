//! `bench step --batch N --size DxHxW [--device cpu|gpu]`: times one
//! training step (forward + backward + Adam) of the study's network on
//! random data; the median seconds is the last line of the output.
//! `bench devices`: the backends this binary has, the CPU kernels' path and
//! the GPU adapters it finds.

use crate::error::{Error, Result};
use crate::output::{Cell, Output, Table, format_sig};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};

const DEFAULT_BATCH: usize = 4;
const DEFAULT_STEPS: usize = 3;
const DEFAULT_WARMUP: usize = 1;

pub struct Bench;

impl Command for Bench {
    fn signature(&self) -> Signature {
        Signature::new("bench", "deep learning", "Time one training step of the dose CNN + fusion network")
            .required("WHAT", ArgKind::Text, "`step` or `devices`")
            .defaulted("batch", "N", ArgKind::Int, "batch size", DEFAULT_BATCH)
            .named("size", "DxHxW", ArgKind::Text, "dose input size (default 40x60x60)")
            .named("device", "DEV", ArgKind::Text, "cpu (default), gpu[:N] or cuda[:N]")
            .defaulted("steps", "N", ArgKind::Int, "timed steps", DEFAULT_STEPS)
            .defaulted("warmup", "N", ArgKind::Int, "untimed steps first", DEFAULT_WARMUP)
            .example("bench step --batch 2 --size 20x30x30 --steps 1", "one step at a small size")
            .example("bench devices", "the CPU kernels and GPU adapters this binary can use")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let what = args.required(0)?;
        if what.text == "devices" {
            return Ok(devices());
        }
        if what.text != "step" {
            return Err(Error::InvalidValue {
                token: what.text.clone(),
                what: "WHAT".into(),
                reason: "`bench step` or `bench devices`".into(),
                span: what.span,
            });
        }
        let batch: usize = args.parsed("batch", "a batch size")?.unwrap_or(DEFAULT_BATCH).max(1);
        let size = match args.value("size") {
            Some(t) => crate::ml::spec::parse_input(&t.text).map_err(|e| Error::InvalidValue {
                token: t.text.clone(),
                what: "--size".into(),
                reason: e.to_string(),
                span: t.span,
            })?,
            None => [40, 60, 60],
        };
        let steps: usize = args.parsed("steps", "a number of steps")?.unwrap_or(DEFAULT_STEPS).max(1);
        let warmup: usize = args.parsed("warmup", "a number of steps")?.unwrap_or(DEFAULT_WARMUP);
        let choice = crate::workflow::deep::device_choice(args)?;
        let cancel = session.cancel_flag();
        let timing = crate::ml::bench::step(batch, size, choice, warmup, steps, &|| cancel.is_cancelled())?;
        let mut t = Table::new(["step", "seconds"])
            .with_title(format!(
                "one training step, [{batch},1,{},{},{}], {} trainable parameters, {}{} ({} thread(s) available)",
                size[0],
                size[1],
                size[2],
                timing.parameters,
                choice.label(),
                if choice == crate::ml::device::DeviceChoice::Cpu {
                    format!(", {} kernels", crate::ml::conv::Simd::active().name())
                } else {
                    String::new()
                },
                crate::threads::count()
            ))
            .with_incidental(["seconds"]);
        for (i, s) in timing.seconds.iter().enumerate() {
            t.push(vec![(i + 1).into(), Cell::Float(*s)]);
        }
        if let Some(rss) = crate::ml::bench::peak_rss_mib() {
            t.notes.push(format!("peak resident memory of this process: {} MiB", format_sig(rss, 4)));
        }
        t.notes.push(format!("median of {steps} after {warmup} warm-up step(s)"));
        Ok(Output::Many(vec![Output::Table(t), Output::Note(format!("{:.6}", timing.median))]))
    }
}

/// What this binary can train on: the CPU path, the compiled GPU backends and
/// the adapters they find.
fn devices() -> Output {
    use crate::ml::conv::Simd;
    let mut t = Table::new(["device", "backend", "detail"]).with_title("devices this radose can train on");
    t.push(vec![
        "cpu".into(),
        "flex".into(),
        Cell::Text(format!(
            "convolution kernels: {} (the CPU has {}), {} thread(s)",
            Simd::active().name(),
            Simd::detected().name(),
            crate::threads::count()
        )),
    ]);
    let compiled = crate::ml::device::compiled_backends();
    let adapters = crate::ml::device::gpu_adapters();
    for (i, a) in adapters.iter().enumerate() {
        t.push(vec![
            Cell::Text(format!("adapter {i}")),
            Cell::Text(a.api.clone()),
            Cell::Text(format!("{} ({}; driver {})", a.name, a.kind, a.driver)),
        ]);
    }
    if let Some(problem) = Simd::request_problem() {
        t.notes.push(problem);
    }
    if compiled.len() == 1 {
        t.notes
            .push("this build has no GPU backend: build with `--features vulkan` (or wgpu) for `--device gpu`".into());
    } else if !adapters.iter().any(|a| a.kind != "Cpu") {
        t.notes.push("no GPU adapter: the graphics driver reports none (a Vulkan loader and the vendor's driver file are needed)".into());
    }
    t.notes.push(format!("built with: {}", compiled.join(", ")));
    Output::Table(t)
}
