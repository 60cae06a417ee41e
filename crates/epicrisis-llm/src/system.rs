//! What the machine offers: memory available (cgroup limits included) and physical CPU
//! cores, so a model that does not fit is refused with advice instead of being killed by
//! the kernel half-way through a draft.

use crate::gguf::GgufHeader;

/// Memory a model needs, by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryEstimate {
    pub weights: u64,
    pub kv_cache: u64,
    pub compute: u64,
}

impl MemoryEstimate {
    pub fn total(&self) -> u64 {
        self.weights + self.kv_cache + self.compute
    }
}

/// Estimates weights (the tensor data, memory-mapped but touched on every token), the KV
/// cache for `n_ctx` tokens, and compute buffers.
pub fn estimate(header: &GgufHeader, n_ctx: u32, n_batch: u32) -> MemoryEstimate {
    let weights = header.file_size.saturating_sub(header.data_offset);
    let per_token = header.kv_bytes_per_token().unwrap_or(128 * 1024);
    let kv_cache = per_token * u64::from(n_ctx);
    let embd = header
        .architecture()
        .and_then(|a| header.metadata.get(&format!("{a}.embedding_length")))
        .and_then(|v| v.as_u64())
        .unwrap_or(4096);
    let compute = 96 * 1024 * 1024 + u64::from(n_batch) * embd * 4 * 24;
    MemoryEstimate {
        weights,
        kv_cache,
        compute,
    }
}

fn read_u64(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Memory available to this process: `MemAvailable`, lowered by a cgroup (v2 or v1) limit.
pub fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let mut avail = meminfo
        .lines()
        .find(|l| l.starts_with("MemAvailable:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .map(|kb| kb * 1024)?;
    let cgroup = [
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ];
    for (max, cur) in cgroup {
        if let (Some(m), Some(c)) = (read_u64(max), read_u64(cur))
            && m < (1 << 60)
        {
            avail = avail.min(m.saturating_sub(c));
        }
    }
    Some(avail)
}

/// Physical CPU cores (hyper-threads do not speed up llama.cpp), at least 1.
pub fn physical_cores() -> u32 {
    let logical = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1);
    let Ok(cpuinfo) = std::fs::read_to_string("/proc/cpuinfo") else {
        return logical;
    };
    let mut pairs = std::collections::HashSet::new();
    let mut phys = String::new();
    for line in cpuinfo.lines() {
        if let Some(v) = line.strip_prefix("physical id") {
            phys = v.trim_start_matches([' ', '\t', ':']).to_string();
        } else if let Some(v) = line.strip_prefix("core id") {
            pairs.insert((
                phys.clone(),
                v.trim_start_matches([' ', '\t', ':']).to_string(),
            ));
        }
    }
    let n = pairs.len() as u32;
    if n == 0 {
        logical
    } else {
        n.min(logical).max(1)
    }
}

/// `1.2 GB` for messages.
pub fn human_bytes(b: u64) -> String {
    let gb = b as f64 / 1e9;
    if gb >= 1.0 {
        format!("{gb:.1} GB")
    } else {
        format!("{:.0} MB", b as f64 / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_facts_are_plausible() {
        assert!(physical_cores() >= 1);
        if let Some(m) = available_memory() {
            assert!(m > 1 << 20);
        }
        assert_eq!(human_bytes(1_500_000_000), "1.5 GB");
        assert_eq!(human_bytes(98_000_000), "98 MB");
    }
}
