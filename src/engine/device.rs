//! Device choice in one place: the GPU when the build has one and it is present, else the CPU;
//! `--device` overrides, and asking for a GPU the build lacks is a clear error, not a panic.

use candle_core::{Device, DeviceLocation};

/// Picks the device named by `spec` (`cpu`, `cuda`, `cuda:N`, `metal`, `auto`, or None = auto).
pub fn select(spec: Option<&str>) -> Result<Device, String> {
    let spec = spec.unwrap_or("auto").trim().to_ascii_lowercase();
    match spec.as_str() {
        "auto" => Ok(auto()),
        "cpu" => Ok(Device::Cpu),
        "metal" => {
            if !cfg!(feature = "metal") {
                return Err("this build has no Metal support: rebuild with `--features metal`".into());
            }
            Device::new_metal(0).map_err(|e| format!("cannot open Metal device 0: {e}"))
        }
        s if s == "cuda" || s.starts_with("cuda:") => {
            let ordinal = match s.strip_prefix("cuda:") {
                Some(n) => n.parse::<usize>().map_err(|_| format!("`{s}`: expected cuda:N with N a GPU number"))?,
                None => 0,
            };
            if !cfg!(feature = "cuda") {
                return Err(format!(
                    "`{s}` asked for, but this build has no CUDA support: rebuild with `--features cuda` (see README, GPU)"
                ));
            }
            // candle appends a backtrace when RUST_BACKTRACE is set: keep the message's first line
            Device::new_cuda(ordinal).map_err(|e| {
                format!("cannot open CUDA device {ordinal}: {}", e.to_string().lines().next().unwrap_or_default())
            })
        }
        other => Err(format!("unknown device `{other}`: expected cpu, cuda, cuda:N, metal or auto")),
    }
}

/// The best device present: CUDA 0, else Metal, else the CPU.
pub fn auto() -> Device {
    if candle_core::utils::cuda_is_available() {
        if let Ok(d) = Device::new_cuda(0) {
            return d;
        }
    }
    if candle_core::utils::metal_is_available() {
        if let Ok(d) = Device::new_metal(0) {
            return d;
        }
    }
    Device::Cpu
}

/// A short human name for the status bar and reports: `CPU (16 threads)`, `CUDA GPU 0 (NVIDIA
/// H200)`, `Metal GPU 0`. The number is what `--device cuda:N` takes.
pub fn name(d: &Device) -> String {
    match d.location() {
        DeviceLocation::Cpu => format!("CPU ({} threads)", rayon::current_num_threads()),
        DeviceLocation::Cuda { gpu_id } => match gpu_model(d) {
            Some(model) => format!("CUDA GPU {gpu_id} ({model})"),
            None => format!("CUDA GPU {gpu_id}"),
        },
        DeviceLocation::Metal { gpu_id } => format!("Metal GPU {gpu_id}"),
    }
}

/// Memory in use on `d`'s GPU (by every process: the driver's used = total - free), MiB;
/// None on the CPU, or in a build without CUDA.
#[cfg(feature = "cuda")]
pub fn gpu_used_mb(d: &Device) -> Option<f64> {
    match d {
        Device::Cuda(c) => {
            c.cuda_stream().context().mem_get_info().ok().map(|(free, total)| (total - free) as f64 / 1048576.0)
        }
        _ => None,
    }
}

#[cfg(not(feature = "cuda"))]
pub fn gpu_used_mb(_: &Device) -> Option<f64> {
    None
}

/// The GPU's product name as the driver reports it.
#[cfg(feature = "cuda")]
fn gpu_model(d: &Device) -> Option<String> {
    match d {
        Device::Cuda(c) => c.cuda_stream().context().name().ok(),
        _ => None,
    }
}

#[cfg(not(feature = "cuda"))]
fn gpu_model(_: &Device) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_and_errors() {
        assert!(matches!(super::select(Some("cpu")), Ok(candle_core::Device::Cpu)));
        assert!(super::select(Some("tpu")).unwrap_err().contains("unknown device"));
        if !cfg!(feature = "cuda") {
            assert!(super::select(Some("cuda:0")).unwrap_err().contains("--features cuda"));
        }
        assert!(super::select(Some("cuda:x")).is_err());
        assert!(super::name(&candle_core::Device::Cpu).starts_with("CPU ("));
    }
}
