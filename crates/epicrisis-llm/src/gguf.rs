//! Reading a GGUF file's header without llama.cpp: enough to refuse a wrong file before
//! anything crashes (not a GGUF, truncated, unsupported version), to estimate memory, and
//! to show quantization, architecture and chat template.
//!
//! Format: magic `GGUF`, version, tensor count, metadata key/values, tensor infos, then
//! the tensor data at an aligned offset. The expected file size follows from the tensor
//! infos, which is how a truncated download is caught.

use std::collections::BTreeMap;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    UInt(u64),
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    /// Arrays keep only their length (token lists are large and not needed here).
    Array {
        len: u64,
    },
}

impl MetaValue {
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            MetaValue::UInt(v) => Some(*v),
            MetaValue::Int(v) if *v >= 0 => Some(*v as u64),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetaValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// What is wrong with a file that should be a GGUF model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GgufError {
    #[error(
        "{path}: not a GGUF model file (it starts with {found:?}, a GGUF file starts with \"GGUF\"); download the .gguf file again or check the path"
    )]
    NotGguf { path: String, found: String },
    #[error(
        "{path}: unsupported GGUF version {version} (this program reads versions 2 and 3); download a current conversion of the model"
    )]
    Version { path: String, version: u32 },
    #[error(
        "{path}: the file is truncated: it has {actual} bytes but its header describes {expected} bytes ({missing} missing); the download was interrupted — download it again (`epicrisis models verify` shows which files are incomplete)"
    )]
    Truncated {
        path: String,
        actual: u64,
        expected: u64,
        missing: u64,
    },
    #[error("{path}: the GGUF header is damaged ({detail}); download the file again")]
    Corrupt { path: String, detail: String },
    #[error("{path}: cannot read the file: {detail}")]
    Io { path: String, detail: String },
}

/// A tensor's name, type and place.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    pub dims: Vec<u64>,
    pub ggml_type: u32,
    pub offset: u64,
}

/// The parsed header.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufHeader {
    pub version: u32,
    pub metadata: BTreeMap<String, MetaValue>,
    pub tensors: Vec<TensorInfo>,
    /// Where tensor data starts.
    pub data_offset: u64,
    /// The size the file must have, when every tensor type is known.
    pub expected_size: Option<u64>,
    /// The file's actual size.
    pub file_size: u64,
}

/// (block size in elements, bytes per block) of a ggml tensor type.
fn type_size(t: u32) -> Option<(u64, u64)> {
    Some(match t {
        0 => (1, 4),      // F32
        1 => (1, 2),      // F16
        2 => (32, 18),    // Q4_0
        3 => (32, 20),    // Q4_1
        6 => (32, 22),    // Q5_0
        7 => (32, 24),    // Q5_1
        8 => (32, 34),    // Q8_0
        9 => (32, 36),    // Q8_1
        10 => (256, 84),  // Q2_K
        11 => (256, 110), // Q3_K
        12 => (256, 144), // Q4_K
        13 => (256, 176), // Q5_K
        14 => (256, 210), // Q6_K
        15 => (256, 292), // Q8_K
        16 => (256, 66),  // IQ2_XXS
        17 => (256, 74),  // IQ2_XS
        18 => (256, 98),  // IQ3_XXS
        19 => (256, 50),  // IQ1_S
        20 => (32, 18),   // IQ4_NL
        21 => (256, 110), // IQ3_S
        22 => (256, 82),  // IQ2_S
        23 => (256, 136), // IQ4_XS
        24 => (1, 1),     // I8
        25 => (1, 2),     // I16
        26 => (1, 4),     // I32
        27 => (1, 8),     // I64
        28 => (1, 8),     // F64
        29 => (256, 56),  // IQ1_M
        30 => (1, 2),     // BF16
        34 => (256, 54),  // TQ1_0
        35 => (256, 66),  // TQ2_0
        39 => (32, 17),   // MXFP4
        _ => return None,
    })
}

/// The name of `general.file_type` (the quantization of most tensors).
pub fn file_type_name(ft: u64) -> &'static str {
    match ft {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4",
        _ => "unknown",
    }
}

struct Reader<R> {
    inner: R,
    pos: u64,
    len: u64,
    path: String,
}

impl<R: Read> Reader<R> {
    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, GgufError> {
        if self.pos + n > self.len {
            return Err(GgufError::Truncated {
                path: self.path.clone(),
                actual: self.len,
                expected: self.pos + n,
                missing: self.pos + n - self.len,
            });
        }
        if n > 64 * 1024 * 1024 {
            return Err(GgufError::Corrupt {
                path: self.path.clone(),
                detail: format!("a header field claims {n} bytes"),
            });
        }
        let mut buf = vec![0u8; n as usize];
        self.inner.read_exact(&mut buf).map_err(|e| GgufError::Io {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        self.pos += n;
        Ok(buf)
    }
    fn skip(&mut self, n: u64) -> Result<(), GgufError> {
        let mut left = n;
        while left > 0 {
            let chunk = left.min(1 << 20);
            self.bytes(chunk)?;
            left -= chunk;
        }
        Ok(())
    }
    fn u8(&mut self) -> Result<u8, GgufError> {
        Ok(self.bytes(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, GgufError> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, GgufError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&b);
        Ok(u64::from_le_bytes(a))
    }
    fn string(&mut self) -> Result<String, GgufError> {
        let n = self.u64()?;
        let b = self.bytes(n)?;
        String::from_utf8(b).map_err(|_| GgufError::Corrupt {
            path: self.path.clone(),
            detail: "a string is not UTF-8".into(),
        })
    }
    fn scalar_size(&self, t: u32) -> Option<u64> {
        Some(match t {
            0 | 1 | 7 => 1,
            2 | 3 => 2,
            4..=6 => 4,
            10..=12 => 8,
            _ => return None,
        })
    }
    fn value(&mut self, t: u32, depth: u32) -> Result<MetaValue, GgufError> {
        let corrupt = |p: &str, d: String| GgufError::Corrupt {
            path: p.to_string(),
            detail: d,
        };
        Ok(match t {
            0 => MetaValue::UInt(u64::from(self.u8()?)),
            1 => MetaValue::Int(i64::from(self.u8()? as i8)),
            2 => {
                let b = self.bytes(2)?;
                MetaValue::UInt(u64::from(u16::from_le_bytes([b[0], b[1]])))
            }
            3 => {
                let b = self.bytes(2)?;
                MetaValue::Int(i64::from(i16::from_le_bytes([b[0], b[1]])))
            }
            4 => MetaValue::UInt(u64::from(self.u32()?)),
            5 => MetaValue::Int(i64::from(self.u32()? as i32)),
            6 => MetaValue::Float(f64::from(f32::from_bits(self.u32()?))),
            7 => MetaValue::Bool(self.u8()? != 0),
            8 => MetaValue::Str(self.string()?),
            9 => {
                if depth > 2 {
                    return Err(corrupt(&self.path, "arrays nested too deep".into()));
                }
                let et = self.u32()?;
                let len = self.u64()?;
                if let Some(sz) = self.scalar_size(et) {
                    self.skip(
                        len.checked_mul(sz)
                            .ok_or_else(|| corrupt(&self.path, "array too long".into()))?,
                    )?;
                } else if et == 8 {
                    for _ in 0..len {
                        let n = self.u64()?;
                        self.skip(n)?;
                    }
                } else {
                    for _ in 0..len {
                        self.value(et, depth + 1)?;
                    }
                }
                MetaValue::Array { len }
            }
            10 => MetaValue::UInt(self.u64()?),
            11 => MetaValue::Int(self.u64()? as i64),
            12 => MetaValue::Float(f64::from_bits(self.u64()?)),
            other => {
                return Err(corrupt(
                    &self.path,
                    format!("unknown metadata type {other}"),
                ));
            }
        })
    }
}

/// Reads and checks the header of a GGUF file.
pub fn read_header(path: &Path) -> Result<GgufHeader, GgufError> {
    let p = path.display().to_string();
    let io = |e: std::io::Error| GgufError::Io {
        path: p.clone(),
        detail: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut r = Reader {
        inner: BufReader::with_capacity(1 << 16, file),
        pos: 0,
        len,
        path: p.clone(),
    };
    let version = r.preamble()?;
    let n_tensors = r.u64()?;
    let n_kv = r.u64()?;
    if n_tensors > 1_000_000 || n_kv > 1_000_000 {
        return Err(GgufError::Corrupt {
            path: p,
            detail: format!("{n_tensors} tensors and {n_kv} keys"),
        });
    }
    let mut metadata = BTreeMap::new();
    for _ in 0..n_kv {
        let key = r.string()?;
        let t = r.u32()?;
        let v = r.value(t, 0)?;
        metadata.insert(key, v);
    }
    let mut tensors = Vec::with_capacity(n_tensors as usize);
    for _ in 0..n_tensors {
        tensors.push(r.tensor_info()?);
    }
    let alignment = metadata
        .get("general.alignment")
        .and_then(MetaValue::as_u64)
        .filter(|a| *a > 0)
        .unwrap_or(32);
    let data_offset = r.pos.div_ceil(alignment) * alignment;
    let expected = expected_size(&tensors, data_offset);
    // The whole file must be there: the tensors' end, or at least the data's start.
    for e in [expected, Some(data_offset)].into_iter().flatten() {
        if len < e {
            return Err(GgufError::Truncated {
                path: p,
                actual: len,
                expected: e,
                missing: e - len,
            });
        }
    }
    let _ = r.inner.seek(SeekFrom::Start(0));
    Ok(GgufHeader {
        version,
        metadata,
        tensors,
        data_offset,
        expected_size: expected,
        file_size: len,
    })
}

/// Where the last tensor's data ends (`None` when a tensor's type has no known size).
fn expected_size(tensors: &[TensorInfo], data_offset: u64) -> Option<u64> {
    let mut expected = Some(data_offset);
    for t in tensors {
        let n: u64 = t.dims.iter().product();
        match (type_size(t.ggml_type), expected) {
            (Some((block, bytes)), Some(e)) => {
                let size = n.div_ceil(block) * bytes;
                expected = Some(e.max(data_offset + t.offset + size));
            }
            _ => expected = None,
        }
    }
    expected
}

impl<R: Read> Reader<R> {
    /// The magic (`GGUF`: anything else is named, as text where it is printable, since
    /// a download that went wrong is often an HTML page) and a supported version.
    fn preamble(&mut self) -> Result<u32, GgufError> {
        if self.len < 4 {
            return Err(GgufError::NotGguf {
                path: self.path.clone(),
                found: format!("{} bytes", self.len),
            });
        }
        let magic = self.bytes(4)?;
        if magic != b"GGUF" {
            let found: String = magic
                .iter()
                .map(|b| {
                    if b.is_ascii_graphic() {
                        *b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            return Err(GgufError::NotGguf {
                path: self.path.clone(),
                found,
            });
        }
        let version = self.u32()?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::Version {
                path: self.path.clone(),
                version,
            });
        }
        Ok(version)
    }

    /// One tensor's name, dimensions (at most 8), type and offset.
    fn tensor_info(&mut self) -> Result<TensorInfo, GgufError> {
        let name = self.string()?;
        let nd = self.u32()?;
        if nd > 8 {
            return Err(GgufError::Corrupt {
                path: self.path.clone(),
                detail: format!("tensor {name} has {nd} dimensions"),
            });
        }
        let mut dims = Vec::with_capacity(nd as usize);
        for _ in 0..nd {
            dims.push(self.u64()?);
        }
        Ok(TensorInfo {
            name,
            dims,
            ggml_type: self.u32()?,
            offset: self.u64()?,
        })
    }
}

impl GgufHeader {
    fn meta_u64(&self, key: &str) -> Option<u64> {
        self.metadata.get(key).and_then(MetaValue::as_u64)
    }
    pub fn meta_str(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(MetaValue::as_str)
    }
    pub fn architecture(&self) -> Option<&str> {
        self.meta_str("general.architecture")
    }
    pub fn name(&self) -> Option<&str> {
        self.meta_str("general.name")
    }
    pub fn chat_template(&self) -> Option<&str> {
        self.meta_str("tokenizer.chat_template")
    }
    /// The quantization (`Q4_K_M`), from `general.file_type` or, failing that, from the
    /// most common tensor type.
    pub fn quantization(&self) -> String {
        if let Some(ft) = self.meta_u64("general.file_type") {
            let n = file_type_name(ft);
            if n != "unknown" {
                return n.to_string();
            }
        }
        let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
        for t in &self.tensors {
            *counts.entry(t.ggml_type).or_default() += 1;
        }
        let names = [
            "F32", "F16", "Q4_0", "Q4_1", "", "", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K", "Q3_K",
            "Q4_K", "Q5_K", "Q6_K", "Q8_K",
        ];
        counts
            .into_iter()
            .filter(|(t, _)| *t != 0)
            .max_by_key(|(_, c)| *c)
            .and_then(|(t, _)| {
                names
                    .get(t as usize)
                    .filter(|n| !n.is_empty())
                    .map(|n| n.to_string())
            })
            .unwrap_or_else(|| "unknown".to_string())
    }
    fn arch_u64(&self, suffix: &str) -> Option<u64> {
        self.meta_u64(&format!("{}.{suffix}", self.architecture()?))
    }
    /// Context length the model was trained with.
    pub fn context_length(&self) -> Option<u64> {
        self.arch_u64("context_length")
    }
    /// Bytes of KV cache per token of context (f16 keys and values).
    pub fn kv_bytes_per_token(&self) -> Option<u64> {
        let layers = self.arch_u64("block_count")?;
        let embd = self.arch_u64("embedding_length")?;
        let heads = self.arch_u64("attention.head_count").filter(|h| *h > 0)?;
        let heads_kv = self.arch_u64("attention.head_count_kv").unwrap_or(heads);
        let k = self
            .arch_u64("attention.key_length")
            .unwrap_or(embd / heads);
        let v = self
            .arch_u64("attention.value_length")
            .unwrap_or(embd / heads);
        Some(layers * heads_kv * (k + v) * 2)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// Writes a tiny but valid GGUF file (the testkit's: two metadata keys and one F32
    /// tensor of 64 values), less its last `truncate_by` bytes.
    pub fn write_tiny(path: &Path, truncate_by: usize) {
        let mut b = epicrisis_testkit::gguf::tiny(64, 0);
        b.truncate(b.len() - truncate_by);
        std::fs::File::create(path).unwrap().write_all(&b).unwrap();
    }

    #[test]
    fn reads_a_valid_header() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.gguf");
        write_tiny(&p, 0);
        let h = read_header(&p).unwrap();
        assert_eq!(h.architecture(), Some("llama"));
        assert_eq!(h.quantization(), "Q4_K_M");
        assert_eq!(h.expected_size, Some(h.file_size));
    }

    #[test]
    fn refuses_truncated_and_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.gguf");
        write_tiny(&p, 100);
        assert!(matches!(
            read_header(&p),
            Err(GgufError::Truncated { missing: 100, .. })
        ));
        let q = dir.path().join("x.gguf");
        std::fs::write(&q, b"<html>not a model</html>").unwrap();
        let e = read_header(&q).unwrap_err();
        assert!(matches!(e, GgufError::NotGguf { .. }), "{e}");
        assert!(e.to_string().contains("\"<htm\""), "{e}");
        let r = dir.path().join("empty.gguf");
        std::fs::write(&r, b"").unwrap();
        assert!(matches!(read_header(&r), Err(GgufError::NotGguf { .. })));
    }
}
