//! `scripts/gpu-check.sh` on a machine without a GPU backend or adapter: it
//! runs what it can (the CPU step), names what is missing and ends in one
//! `VERDICT: no GPU adapter …` line, writing its figures to the output folder.

mod common;

use std::process::Command;

#[test]
fn the_gpu_check_ends_in_a_no_gpu_verdict_without_a_gpu() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("check");
    let o = Command::new("bash")
        .arg(common::root().join("scripts/gpu-check.sh"))
        .arg(&out)
        .env("GPU_CHECK_BIN", common::binary())
        .env("GPU_CHECK_BATCH", "1")
        .env("GPU_CHECK_SIZE", "32x32x32")
        .env("GPU_CHECK_LOADER", dir.path().join("no-loader"))
        .env("GPU_CHECK_TORCH", dir.path().join("no-torch.py"))
        .env_remove("VK_DRIVER_FILES")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("VERDICT: no GPU adapter"), "{last}\n{stdout}\n{stderr}");
    assert!(last.contains("missing: ") && last.contains("GPU adapter"), "{last}");
    assert!(last.contains("worked: CPU step"), "{last}");
    let summary = std::fs::read_to_string(out.join("summary.txt")).unwrap();
    assert!(summary.contains("adapter radose finds: none"), "{summary}");
    assert!(summary.contains("radose GPU step: not run (no GPU adapter)"), "{summary}");
    assert!(summary.contains("radose CPU step: "), "{summary}");
    assert!(summary.ends_with(&format!("{last}\n")), "{summary}");
    for log in ["devices.log", "step_cpu.log", "version.log"] {
        assert!(out.join(log).is_file(), "{log}");
    }
    let devices = std::fs::read_to_string(out.join("devices.log")).unwrap();
    assert!(devices.contains("convolution kernels: "), "{devices}");
}
