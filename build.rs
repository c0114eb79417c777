//! Compiles ADD's CUDA kernels (src/kernels/cuda/add_kernels.cu) to PTX with nvcc, only when the
//! `cuda` feature is on; without it this script does nothing and needs no CUDA at all.
//!
//! Build time, not run time (NVRTC): candle-kernels already runs nvcc in every `cuda` build, so
//! this adds one file (~4 s) and no new tool; a kernel that does not compile fails the build
//! here, not the first launch on a GPU machine we borrow for minutes; the binary starts without
//! compiling C++ (the driver JIT-compiles the embedded PTX once and caches it). The PTX targets
//! `CUDA_COMPUTE_CAP` like candle's own kernels (default 70, which every GPU since Volta JITs).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CARGO_FEATURE_CUDA");
    if std::env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    let src = "src/kernels/cuda/add_kernels.cu";
    println!("cargo:rerun-if-changed={src}");
    for var in ["CUDA_COMPUTE_CAP", "CUDA_HOME", "CUDA_PATH", "NVCC"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let cap = std::env::var("CUDA_COMPUTE_CAP").unwrap_or_else(|_| "70".into());
    let cap: String = cap.chars().filter(|c| c.is_ascii_digit()).collect();
    if cap.is_empty() {
        panic!("CUDA_COMPUTE_CAP must be a compute capability such as 90 (H100/H200) or 80 (A100)");
    }
    let nvcc = std::env::var("NVCC").ok().or_else(|| {
        let home = std::env::var("CUDA_HOME").or_else(|_| std::env::var("CUDA_PATH")).ok()?;
        let p = std::path::Path::new(&home).join("bin/nvcc");
        p.exists().then(|| p.display().to_string())
    });
    let nvcc = nvcc.unwrap_or_else(|| "nvcc".into());
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("add_kernels.ptx");
    let status = std::process::Command::new(&nvcc)
        .args(["--ptx", "-O3", "-std=c++17", "-lineinfo"])
        .arg(format!("-arch=compute_{cap}"))
        .arg("-o")
        .arg(&out)
        .arg(src)
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run `{nvcc}` for the `cuda` feature: {e}; run `eval \"$(bash scripts/setup_cuda_toolchain.sh)\"`")
        });
    if !status.success() {
        panic!("nvcc failed on {src} ({status})");
    }
}
