//! Which backend runs: the decision from what the build and the machine have, kept pure so that every
//! case is tested without a GPU.

use std::fmt;
use std::str::FromStr;

use crate::BackendError;

/// What the user asked for (`--backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// The GPU when this build has CUDA and a usable device is present, else the CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// The GPU, or an error saying why not.
    Cuda,
}

impl FromStr for BackendChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(BackendChoice::Auto),
            "cpu" => Ok(BackendChoice::Cpu),
            "cuda" => Ok(BackendChoice::Cuda),
            _ => Err(format!("unknown backend {s:?} (auto, cpu, cuda)")),
        }
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Cpu => "cpu",
            BackendChoice::Cuda => "cuda",
        })
    }
}

/// Where the work runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// halo2-axiom (rayon, every core).
    Cpu,
    /// halo2-axiom-gpu on an NVIDIA GPU.
    Cuda,
}

impl BackendKind {
    /// `"cpu"` or `"cuda"`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Cuda => "cuda",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A CUDA device as the driver reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Device number.
    pub ordinal: u32,
    /// Its name (e.g. `NVIDIA H100 80GB HBM3`).
    pub name: String,
    /// Its memory, in bytes.
    pub total_memory: u64,
    /// Compute capability `(major, minor)`.
    pub compute_capability: (u32, u32),
}

/// The oldest compute capability this build's kernels run on (they are compiled for sm_90 with compute_90
/// PTX, which newer devices compile on load).
pub const MIN_COMPUTE_CAPABILITY: (u32, u32) = (9, 0);

/// The backend chosen, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Where the work runs.
    pub kind: BackendKind,
    /// The device, for [`BackendKind::Cuda`].
    pub device: Option<DeviceInfo>,
    /// Why this one (for `auto` on the CPU: why not the GPU).
    pub reason: String,
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

/// Decides which backend runs `choice` (the GPU is device 0, the one halo2-axiom-gpu uses), given whether this build has CUDA (`built`), what the driver
/// reported (`probe`: its devices, or why it could not be asked) and the memory the work needs on the
/// device (`min_memory`, bytes).
pub fn decide(
    choice: BackendChoice,
    built: bool,
    probe: Result<Vec<DeviceInfo>, String>,
    min_memory: u64,
) -> Result<Selection, BackendError> {
    if choice == BackendChoice::Cpu {
        return Ok(Selection {
            kind: BackendKind::Cpu,
            device: None,
            reason: "the CPU was asked for".into(),
        });
    }
    let gpu = (|| {
        if !built {
            return Err(BackendError::NotBuilt);
        }
        let devices =
            probe.map_err(|e| BackendError::Unavailable(format!("the CUDA driver: {e}")))?;
        // halo2-axiom-gpu works on the current device, device 0 (another one is chosen with
        // CUDA_VISIBLE_DEVICES), so that is the one checked.
        let device0 = devices.iter().find(|d| d.ordinal == 0);
        let Some(best) = device0.filter(|d| d.compute_capability >= MIN_COMPUTE_CAPABILITY) else {
            return Err(BackendError::Unavailable(match device0 {
                None => "the driver loaded but reports no device".into(),
                Some(d) => format!(
                    "{} (device {}) has compute capability {}.{}; this build's kernels need {}.{} or later",
                    d.name,
                    d.ordinal,
                    d.compute_capability.0,
                    d.compute_capability.1,
                    MIN_COMPUTE_CAPABILITY.0,
                    MIN_COMPUTE_CAPABILITY.1
                ),
            }));
        };
        if best.total_memory < min_memory {
            return Err(BackendError::Unavailable(format!(
                "{} (device {}) has {} of memory; this work needs about {}",
                best.name,
                best.ordinal,
                gib(best.total_memory),
                gib(min_memory)
            )));
        }
        Ok(best.clone())
    })();
    match (choice, gpu) {
        (_, Ok(d)) => Ok(Selection {
            kind: BackendKind::Cuda,
            reason: format!("{} (device {}, {})", d.name, d.ordinal, gib(d.total_memory)),
            device: Some(d),
        }),
        (BackendChoice::Auto, Err(e)) => Ok(Selection {
            kind: BackendKind::Cpu,
            device: None,
            reason: format!("no GPU: {e}"),
        }),
        (_, Err(e)) => Err(e),
    }
}

/// [`decide`] for this build and this machine (the driver is asked only when the choice is not `cpu`);
/// the choice is logged.
pub fn select(choice: BackendChoice, min_memory: u64) -> Result<Selection, BackendError> {
    let probe = if choice == BackendChoice::Cpu || !crate::BUILT_WITH_CUDA {
        Ok(Vec::new())
    } else {
        crate::probe_devices()
    };
    let s = decide(choice, crate::BUILT_WITH_CUDA, probe, min_memory);
    match &s {
        Ok(s) => {
            tracing::info!(backend = s.kind.as_str(), asked = %choice, "proving backend: {} ({})", s.kind, s.reason)
        }
        Err(e) => tracing::warn!(asked = %choice, "proving backend refused: {e}"),
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(ordinal: u32, gib: u64, cc: (u32, u32)) -> DeviceInfo {
        DeviceInfo {
            ordinal,
            name: format!("GPU{ordinal}"),
            total_memory: gib << 30,
            compute_capability: cc,
        }
    }

    #[test]
    fn cpu_is_always_the_cpu() {
        for built in [false, true] {
            let s = decide(BackendChoice::Cpu, built, Ok(vec![dev(0, 80, (9, 0))]), 0).unwrap();
            assert_eq!((s.kind, s.device), (BackendKind::Cpu, None));
        }
    }

    #[test]
    fn without_the_feature_cuda_is_refused_and_auto_falls_back() {
        let probe = || Ok(vec![dev(0, 80, (9, 0))]);
        assert_eq!(
            decide(BackendChoice::Cuda, false, probe(), 0),
            Err(BackendError::NotBuilt)
        );
        let s = decide(BackendChoice::Auto, false, probe(), 0).unwrap();
        assert_eq!(s.kind, BackendKind::Cpu);
        assert!(s.reason.contains("built without CUDA"), "{}", s.reason);
    }

    #[test]
    fn a_driver_that_fails_or_finds_nothing_means_the_cpu() {
        for (probe, why) in [
            (
                Err("libcuda.so.1 reports CUDA_ERROR_NO_DEVICE".to_string()),
                "CUDA_ERROR_NO_DEVICE",
            ),
            (Ok(vec![]), "reports no device"),
            (Ok(vec![dev(0, 24, (8, 6))]), "compute capability 8.6"),
        ] {
            let e = decide(BackendChoice::Cuda, true, probe.clone(), 0).unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
            let s = decide(BackendChoice::Auto, true, probe, 0).unwrap();
            assert_eq!(s.kind, BackendKind::Cpu);
            assert!(s.reason.contains(why), "{}", s.reason);
        }
    }

    #[test]
    fn device_0_is_used_if_it_has_enough_memory() {
        // The GPU library proves on device 0, whatever the others have.
        let devices = vec![dev(1, 141, (9, 0)), dev(0, 80, (9, 0)), dev(2, 141, (8, 0))];
        let s = decide(BackendChoice::Auto, true, Ok(devices.clone()), 60 << 30).unwrap();
        assert_eq!(
            (s.kind, s.device.map(|d| d.ordinal)),
            (BackendKind::Cuda, Some(0))
        );
        let e = decide(BackendChoice::Cuda, true, Ok(devices.clone()), 100 << 30).unwrap_err();
        assert!(
            e.to_string().contains("GPU0 (device 0) has 80.0 GiB"),
            "{e}"
        );
        let s = decide(BackendChoice::Auto, true, Ok(devices), 100 << 30).unwrap();
        assert_eq!(s.kind, BackendKind::Cpu);
        // Device 0 too old: not another one.
        let old = vec![dev(0, 24, (8, 6)), dev(1, 80, (9, 0))];
        let e = decide(BackendChoice::Cuda, true, Ok(old), 0).unwrap_err();
        assert!(e.to_string().contains("compute capability 8.6"), "{e}");
    }

    #[test]
    fn choices_parse_and_print() {
        for c in [BackendChoice::Auto, BackendChoice::Cpu, BackendChoice::Cuda] {
            assert_eq!(c.to_string().parse::<BackendChoice>(), Ok(c));
        }
        assert!("gpu"
            .parse::<BackendChoice>()
            .unwrap_err()
            .contains("auto, cpu, cuda"));
    }
}
