//! The instruction sets this binary was compiled for, and the ones the CPU it runs on has.
//!
//! Builds target a documented baseline, not the build machine (`.cargo/config.toml`): on
//! x86-64 that is `x86-64-v3` (AVX, AVX2, FMA, F16C, BMI1/2, LZCNT, MOVBE), every x86
//! server CPU since about 2013–2015. The Rust code and llama.cpp's kernels are compiled
//! for it alike (the llama-cpp-sys-2 build script passes rustc's target features on to
//! ggml). A binary copied to an older CPU would die with SIGILL in the first vector
//! instruction; [`check`], called first thing by the binaries, says so in words instead.
//! A build for one machine (`RUSTFLAGS="-C target-cpu=native"`, docs/operations.md) may
//! use more (AVX-512, VNNI); [`unused`] names what this CPU has that the build leaves
//! aside, for `doctor`.
//!
//! Detection reads `cpuid` and `xgetbv` directly: std's `is_x86_feature_detected!`
//! answers `true` at compile time for every feature the build enables, which is exactly
//! the question asked here.

/// One instruction-set extension: its name in rustc's `target_feature` spelling, whether
/// this build uses it, and whether this CPU (and its operating system) supports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    pub name: &'static str,
    pub built: bool,
    pub present: bool,
}

/// The CPU lacks extensions this binary was compiled for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// What the build needs and the CPU does not have (rustc spelling: `avx2`, `fma`…).
    pub missing: Vec<&'static str>,
}

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "error: this CPU lacks {} that this build of epicrisis was compiled for ({}); \
             it would stop with \"illegal instruction\". Build it on this machine for this \
             CPU: RUSTFLAGS=\"-C target-cpu=native\" cargo build --release --locked \
             (docs/operations.md, \"CPU\")",
            self.missing.join(", "),
            baseline()
        )
    }
}

impl std::error::Error for Unsupported {}

/// Every extension that matters to llama.cpp's kernels and to the embeddings encoder, as
/// compiled into this binary and as found on this CPU.
pub fn features() -> Vec<Feature> {
    let found = detect::present();
    macro_rules! table {
        ($($name:literal),* $(,)?) => {
            vec![$(Feature {
                name: $name,
                built: cfg!(target_feature = $name),
                present: found.contains(&$name),
            }),*]
        };
    }
    if cfg!(target_arch = "x86_64") {
        table!(
            "sse4.2",
            "popcnt",
            "avx",
            "avx2",
            "fma",
            "f16c",
            "bmi1",
            "bmi2",
            "lzcnt",
            "movbe",
            "avxvnni",
            "avx512f",
            "avx512bw",
            "avx512vl",
            "avx512vnni",
            "avx512bf16",
        )
    } else {
        Vec::new()
    }
}

/// `Err` naming what is missing when this CPU cannot run this binary.
pub fn check() -> Result<(), Unsupported> {
    let missing: Vec<_> = features()
        .into_iter()
        .filter(|f| f.built && !f.present)
        .map(|f| f.name)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Unsupported { missing })
    }
}

/// What this CPU has that the build does not use (a native build could).
pub fn unused() -> Vec<&'static str> {
    features()
        .into_iter()
        .filter(|f| f.present && !f.built)
        .map(|f| f.name)
        .collect()
}

/// The build's CPU level in words: `x86-64-v4`, `x86-64-v3`, `x86-64-v2`, `x86-64`, or
/// the architecture elsewhere.
pub fn baseline() -> &'static str {
    if !cfg!(target_arch = "x86_64") {
        return std::env::consts::ARCH;
    }
    if cfg!(all(
        target_feature = "avx512f",
        target_feature = "avx512bw",
        target_feature = "avx512vl"
    )) {
        "x86-64-v4"
    } else if cfg!(all(
        target_feature = "avx2",
        target_feature = "fma",
        target_feature = "bmi2"
    )) {
        "x86-64-v3"
    } else if cfg!(target_feature = "sse4.2") {
        "x86-64-v2"
    } else {
        "x86-64"
    }
}

#[cfg(target_arch = "x86_64")]
mod detect {
    use std::arch::x86_64::{__cpuid, __cpuid_count, CpuidResult};

    /// The extensions this CPU supports and its operating system has enabled (AVX needs the
    /// kernel to save the YMM registers, AVX-512 the ZMM and mask registers too).
    pub fn present() -> Vec<&'static str> {
        let max_leaf = __cpuid(0).eax;
        let l1 = __cpuid(1);
        let bit = |reg: u32, n: u32| reg & (1 << n) != 0;
        let xcr0 = if bit(l1.ecx, 27) { xgetbv0() } else { 0 };
        let ymm = xcr0 & 0b110 == 0b110;
        let zmm = ymm && xcr0 & 0b1110_0000 == 0b1110_0000;
        let (l7, l7_1) = if max_leaf >= 7 {
            (__cpuid_count(7, 0), __cpuid_count(7, 1))
        } else {
            let zero = CpuidResult {
                eax: 0,
                ebx: 0,
                ecx: 0,
                edx: 0,
            };
            (zero, zero)
        };
        let ext_max = __cpuid(0x8000_0000).eax;
        let ext1 = if ext_max >= 0x8000_0001 {
            __cpuid(0x8000_0001).ecx
        } else {
            0
        };
        let avx512f = zmm && bit(l7.ebx, 16);
        [
            ("sse4.2", bit(l1.ecx, 20)),
            ("popcnt", bit(l1.ecx, 23)),
            ("avx", ymm && bit(l1.ecx, 28)),
            ("avx2", ymm && bit(l7.ebx, 5)),
            ("fma", ymm && bit(l1.ecx, 12)),
            ("f16c", ymm && bit(l1.ecx, 29)),
            ("bmi1", bit(l7.ebx, 3)),
            ("bmi2", bit(l7.ebx, 8)),
            ("lzcnt", bit(ext1, 5)),
            ("movbe", bit(l1.ecx, 22)),
            ("avxvnni", ymm && bit(l7_1.eax, 4)),
            ("avx512f", avx512f),
            ("avx512bw", avx512f && bit(l7.ebx, 30)),
            ("avx512vl", avx512f && bit(l7.ebx, 31)),
            ("avx512vnni", avx512f && bit(l7.ecx, 11)),
            ("avx512bf16", avx512f && bit(l7_1.eax, 5)),
        ]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| name)
        .collect()
    }

    /// XCR0, the register-state components the operating system saves. Only called when
    /// CPUID says OSXSAVE is set, so the instruction exists and is enabled.
    fn xgetbv0() -> u64 {
        let (lo, hi): (u32, u32);
        // SAFETY: `xgetbv` with ECX = 0 reads XCR0; it touches no memory and the caller
        // checked CPUID.1:ECX.OSXSAVE, without which the instruction would fault.
        unsafe {
            std::arch::asm!(
                "xgetbv",
                in("ecx") 0u32,
                out("eax") lo,
                out("edx") hi,
                options(nomem, nostack, preserves_flags),
            );
        }
        (u64::from(hi) << 32) | u64::from(lo)
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod detect {
    pub fn present() -> Vec<&'static str> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_running_the_tests_runs_what_the_build_uses() {
        // The test binary itself was compiled with the same flags: had the CPU lacked any
        // of them, it would not have got this far, so detection must agree.
        assert_eq!(check(), Ok(()), "{:?}", features());
    }

    #[test]
    fn the_baseline_names_what_the_build_was_compiled_for() {
        let built: Vec<_> = features()
            .into_iter()
            .filter(|f| f.built)
            .map(|f| f.name)
            .collect();
        match baseline() {
            "x86-64-v3" | "x86-64-v4" => {
                for f in ["avx", "avx2", "fma", "f16c", "bmi2"] {
                    assert!(built.contains(&f), "{f} not in {built:?}");
                }
            }
            "x86-64" => assert!(!built.contains(&"avx"), "{built:?}"),
            _ => {}
        }
    }

    #[test]
    fn the_error_names_the_missing_extensions_and_the_fix() {
        let e = Unsupported {
            missing: vec!["avx2", "fma"],
        };
        let text = e.to_string();
        assert!(text.contains("avx2, fma"), "{text}");
        assert!(text.contains("target-cpu=native"), "{text}");
        assert!(text.contains("docs/operations.md"), "{text}");
    }

    #[test]
    fn an_extension_is_unused_only_when_present_and_not_built() {
        for name in unused() {
            let f = features().into_iter().find(|f| f.name == name).unwrap();
            assert!(f.present && !f.built);
        }
    }
}
