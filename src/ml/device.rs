//! The one file that chooses burn's backend. The CPU backend is Flex (burn's
//! pure-Rust GEMM backend: 15–40× faster than NdArray on this network);
//! `wgpu` (WGSL shaders on Vulkan/Metal), `vulkan` (kernels compiled
//! straight to SPIR-V, Vulkan only: the path for NVIDIA compute nodes) and
//! `cuda` are cargo features, never defaults.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where a model trains, as the user names it: `cpu`, `gpu[:N]`, `cuda[:N]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceChoice {
    Cpu,
    /// A wgpu adapter (Vulkan/Metal): the N-th discrete GPU.
    Gpu(usize),
    /// An NVIDIA GPU through CUDA.
    Cuda(usize),
}

/// The backends this binary was built with.
pub fn compiled_backends() -> Vec<&'static str> {
    let mut out = vec!["cpu (flex)"];
    if cfg!(feature = "vulkan") {
        out.push("gpu (vulkan, SPIR-V)");
    } else if cfg!(feature = "wgpu") {
        out.push("gpu (wgpu, WGSL)");
    }
    if cfg!(feature = "cuda") {
        out.push("cuda");
    }
    out
}

impl DeviceChoice {
    /// Parses `cpu`, `gpu`, `gpu:1`, `cuda`, `cuda:0`.
    pub fn parse(text: &str) -> Result<DeviceChoice> {
        let (kind, index) = match text.split_once(':') {
            Some((k, i)) => {
                let index = i.parse::<usize>().map_err(|_| {
                    Error::invalid(format!("`{text}`: the device index `{i}` is not a whole number"), None)
                })?;
                (k, Some(index))
            }
            None => (text, None),
        };
        match (kind.to_ascii_lowercase().as_str(), index) {
            ("cpu", None) => Ok(DeviceChoice::Cpu),
            ("cpu", Some(_)) => Err(Error::invalid("`cpu` takes no index", Some("write `--device cpu`"))),
            ("gpu" | "wgpu" | "vulkan", i) => Ok(DeviceChoice::Gpu(i.unwrap_or(0))),
            ("cuda", i) => Ok(DeviceChoice::Cuda(i.unwrap_or(0))),
            _ => Err(Error::invalid(
                format!("unknown device `{text}`"),
                Some("use cpu, gpu[:N] (wgpu: Vulkan/Metal) or cuda[:N]"),
            )),
        }
    }

    pub fn label(&self) -> String {
        match self {
            DeviceChoice::Cpu => "cpu".into(),
            DeviceChoice::Gpu(i) => format!("gpu:{i}"),
            DeviceChoice::Cuda(i) => format!("cuda:{i}"),
        }
    }

    /// The burn device for training (autodiff) — or an error naming the
    /// cargo feature when this binary was built without that backend.
    pub fn device(&self) -> Result<Device> {
        Ok(self.inference_device()?.autodiff())
    }

    /// The burn device without autodiff (prediction).
    pub fn inference_device(&self) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::flex()),
            DeviceChoice::Gpu(_index) => {
                #[cfg(feature = "wgpu")]
                {
                    gpu_device(*_index)
                }
                #[cfg(not(feature = "wgpu"))]
                {
                    Err(missing("gpu", "wgpu"))
                }
            }
            DeviceChoice::Cuda(_index) => {
                #[cfg(feature = "cuda")]
                {
                    Ok(Device::cuda(*_index))
                }
                #[cfg(not(feature = "cuda"))]
                {
                    Err(missing("cuda", "cuda"))
                }
            }
        }
    }
}

/// A training step allocates and frees hundreds of large tensors. glibc
/// serves allocations above its mmap threshold with fresh pages and returns
/// them on free, so every step pays page faults and zeroing (a quarter of a
/// step at [4,1,80,120,120], a fifth at [16,1,20,24,24]). Raising the
/// threshold keeps freed buffers in the heap for reuse: 2.64 → 1.86 s per
/// step at [4,1,80,120,120], 0.13 → 0.10 s at [16,1,20,24,24] (the quick
/// profile), 0.046–0.052 → 0.036–0.040 s at [4,1,20,30,30], the same peak
/// memory (docs/performance.md). Training with a dose branch and
/// `bench step` call it. Once per process; a no-op off glibc;
/// `RADOSE_KEEP_MEMORY=0` disables it.
pub fn keep_freed_memory() {
    static DONE: std::sync::Once = std::sync::Once::new();
    DONE.call_once(|| {
        if std::env::var("RADOSE_KEEP_MEMORY").is_ok_and(|v| v == "0") {
            return;
        }
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only changes allocator parameters; called before
        // the network allocates, with documented parameter values.
        unsafe {
            // Both values are C ints: the trim threshold is the largest one
            // (2 GiB); `4 << 30` wrapped to 0, which trims on every free.
            libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
            libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
        }
    });
}

/// A GPU adapter wgpu finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adapter {
    pub name: String,
    /// Vulkan, Metal, Gl…
    pub api: String,
    /// DiscreteGpu, IntegratedGpu, VirtualGpu, Cpu (a software renderer), Other.
    pub kind: String,
    pub driver: String,
}

/// The adapters this build's GPU path can use (Vulkan only with the
/// `vulkan` feature), in wgpu's order; empty in a CPU-only build.
pub fn gpu_adapters() -> Vec<Adapter> {
    #[cfg(feature = "wgpu")]
    {
        use burn::tensor::wgpu::wgpu;
        let backends = if cfg!(feature = "vulkan") { wgpu::Backends::VULKAN } else { wgpu::Backends::all() };
        let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        descriptor.backends = backends;
        let instance = wgpu::Instance::new(descriptor);
        let adapters = futures_lite::future::block_on(instance.enumerate_adapters(backends));
        adapters
            .iter()
            .map(|a| {
                let info = a.get_info();
                Adapter {
                    name: info.name,
                    api: format!("{:?}", info.backend),
                    kind: format!("{:?}", info.device_type),
                    driver: format!("{} {}", info.driver, info.driver_info).trim().to_owned(),
                }
            })
            .collect()
    }
    #[cfg(not(feature = "wgpu"))]
    {
        Vec::new()
    }
}

/// The burn device for `--device gpu:N`: the N-th discrete GPU, else the
/// N-th integrated or virtual one; a software renderer (llvmpipe) does not
/// count. No adapter is a clear error, not a panic inside the runtime.
#[cfg(feature = "wgpu")]
fn gpu_device(index: usize) -> Result<Device> {
    use burn::tensor::DeviceKind;
    let adapters = gpu_adapters();
    let count = |kind: &str| adapters.iter().filter(|a| a.kind == kind).count();
    let kind = if index < count("DiscreteGpu") {
        DeviceKind::DiscreteGpu(index)
    } else if index < count("IntegratedGpu") {
        DeviceKind::IntegratedGpu(index)
    } else if index < count("VirtualGpu") {
        DeviceKind::VirtualGpu(index)
    } else {
        let seen: Vec<String> = adapters.iter().map(|a| format!("{} ({}, {})", a.name, a.api, a.kind)).collect();
        return Err(Error::invalid(
            format!(
                "no GPU adapter for `--device gpu:{index}`: {}",
                if seen.is_empty() {
                    "the graphics driver reports none".to_owned()
                } else {
                    format!("found only {}", seen.join(", "))
                }
            ),
            Some(if cfg!(feature = "vulkan") {
                "the Vulkan loader (libvulkan.so.1) and the vendor's driver file (e.g. nvidia_icd.json, named by VK_DRIVER_FILES) must be found; scripts/gpu-check.sh sets both up"
            } else {
                "install the GPU vendor's Vulkan or Metal driver"
            }),
        ));
    };
    #[cfg(feature = "vulkan")]
    {
        Ok(Device::vulkan(kind))
    }
    #[cfg(not(feature = "vulkan"))]
    {
        Ok(Device::wgpu(kind))
    }
}

#[allow(dead_code)]
fn missing(device: &str, feature: &str) -> Error {
    Error::invalid(
        format!("this radose was built without the `{feature}` backend, so `--device {device}` is not available"),
        Some(&format!(
            "rebuild with `cargo build --release --features {feature}`; this binary has: {}",
            compiled_backends().join(", ")
        )),
    )
}

/// The same device without autodiff (for prediction).
pub fn without_autodiff(device: &Device) -> Device {
    if device.is_autodiff() { device.clone().inner() } else { device.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devices() {
        assert_eq!(DeviceChoice::parse("cpu").unwrap(), DeviceChoice::Cpu);
        assert_eq!(DeviceChoice::parse("gpu").unwrap(), DeviceChoice::Gpu(0));
        assert_eq!(DeviceChoice::parse("gpu:1").unwrap(), DeviceChoice::Gpu(1));
        assert_eq!(DeviceChoice::parse("cuda:2").unwrap(), DeviceChoice::Cuda(2));
        for bad in ["tpu", "gpu:x", "cpu:0", ""] {
            assert!(DeviceChoice::parse(bad).is_err(), "{bad}");
        }
    }

    #[cfg(not(feature = "wgpu"))]
    #[test]
    fn a_cpu_build_refuses_the_gpu_clearly() {
        let e = DeviceChoice::Gpu(0).device().unwrap_err().to_string();
        assert!(e.contains("built without the `wgpu` backend"), "{e}");
        assert!(gpu_adapters().is_empty());
    }
}
