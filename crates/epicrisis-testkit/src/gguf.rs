//! Tiny but valid GGUF files (version 3): metadata and F32 tensors, laid out as llama.cpp
//! reads them (32-byte alignment of the tensor data). For what inspects headers, imports
//! and downloads models; nothing here can be run as a model.

/// A GGUF file under construction.
#[derive(Debug, Clone, Default)]
pub struct Gguf {
    metadata: Vec<(String, Value)>,
    /// Name and element count of each F32 tensor, with the byte that seeds its pattern.
    tensors: Vec<(String, u64, u8)>,
}

#[derive(Debug, Clone)]
enum Value {
    U32(u32),
    Str(String),
}

impl Gguf {
    pub fn new() -> Gguf {
        Gguf::default()
    }

    /// A text metadata key (`general.architecture` = `llama`).
    pub fn text(mut self, key: &str, value: &str) -> Gguf {
        self.metadata
            .push((key.to_string(), Value::Str(value.to_string())));
        self
    }

    /// A u32 metadata key (`general.file_type` = 15, Q4_K_M).
    pub fn u32(mut self, key: &str, value: u32) -> Gguf {
        self.metadata.push((key.to_string(), Value::U32(value)));
        self
    }

    /// An F32 tensor of `elements` values whose bytes follow a pattern seeded by `seed`
    /// (two files with different seeds differ in every tensor byte run).
    pub fn tensor(mut self, name: &str, elements: u64, seed: u8) -> Gguf {
        self.tensors.push((name.to_string(), elements, seed));
        self
    }

    /// The file's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let mut b: Vec<u8> = Vec::new();
        b.extend_from_slice(b"GGUF");
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        b.extend_from_slice(&(self.metadata.len() as u64).to_le_bytes());
        for (key, value) in &self.metadata {
            string(&mut b, key);
            match value {
                Value::U32(v) => {
                    b.extend_from_slice(&4u32.to_le_bytes());
                    b.extend_from_slice(&v.to_le_bytes());
                }
                Value::Str(s) => {
                    b.extend_from_slice(&8u32.to_le_bytes());
                    string(&mut b, s);
                }
            }
        }
        let mut offset = 0u64;
        for (name, elements, _) in &self.tensors {
            string(&mut b, name);
            b.extend_from_slice(&1u32.to_le_bytes()); // dimensions
            b.extend_from_slice(&elements.to_le_bytes());
            b.extend_from_slice(&0u32.to_le_bytes()); // F32
            b.extend_from_slice(&offset.to_le_bytes());
            offset += (elements * 4).next_multiple_of(32);
        }
        pad(&mut b);
        for (i, (_, elements, seed)) in self.tensors.iter().enumerate() {
            if i > 0 {
                pad(&mut b);
            }
            b.extend((0..elements * 4).map(|i| (i as u8).wrapping_mul(31).wrapping_add(*seed)));
        }
        b
    }
}

/// The usual fixture: a `llama` model of file type Q4_K_M with one F32 tensor `w` of
/// `floats` elements, its bytes seeded by `seed`.
pub fn tiny(floats: u64, seed: u8) -> Vec<u8> {
    Gguf::new()
        .text("general.architecture", "llama")
        .u32("general.file_type", 15)
        .tensor("w", floats, seed)
        .bytes()
}

fn string(b: &mut Vec<u8>, s: &str) {
    b.extend_from_slice(&(s.len() as u64).to_le_bytes());
    b.extend_from_slice(s.as_bytes());
}

fn pad(b: &mut Vec<u8>) {
    while !b.len().is_multiple_of(32) {
        b.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_counts_and_the_data_is_aligned() {
        let b = tiny(64, 0);
        assert_eq!(&b[..4], b"GGUF");
        assert_eq!(u32::from_le_bytes(b[4..8].try_into().unwrap()), 3);
        assert_eq!(u64::from_le_bytes(b[8..16].try_into().unwrap()), 1);
        assert_eq!(u64::from_le_bytes(b[16..24].try_into().unwrap()), 2);
        // The data starts aligned and ends the file: what llama.cpp expects of the size.
        assert!((b.len() - 64 * 4).is_multiple_of(32));
    }

    #[test]
    fn seeds_change_the_tensor_bytes_only() {
        let (a, b) = (tiny(16, 1), tiny(16, 2));
        assert_eq!(a.len(), b.len());
        assert_ne!(a, b);
    }
}
