//! HTTPS in `serve` itself: a certificate chain and its private key in PEM files
//! (`EPICRISIS_TLS_CERT_FILE`, `EPICRISIS_TLS_KEY_FILE`), read at start and again on
//! [`Tls::reload`] (the binary calls it on SIGHUP), so a renewed certificate is taken
//! without a restart and without dropping a connection: each new connection uses the
//! configuration current when it arrives. A reload that fails (a half-written file, a key
//! that does not match) keeps the previous certificate and says why.
//!
//! rustls with the ring provider (the TLS stack sqlx and reqwest already build; no
//! OpenSSL), TLS 1.2 and 1.3, HTTP/1.1 over ALPN. Errors name the setting and the file,
//! never the key's contents.

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// The settings the errors name.
pub const CERT_SETTING: &str = "EPICRISIS_TLS_CERT_FILE";
pub const KEY_SETTING: &str = "EPICRISIS_TLS_KEY_FILE";

/// The server's certificate, replaceable while it runs.
#[derive(Clone)]
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    current: Arc<RwLock<Arc<ServerConfig>>>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Reads the certificate chain and the key; the error says which file and why.
    pub fn load(cert: &Path, key: &Path) -> Result<Tls, String> {
        let config = read_config(cert, key)?;
        Ok(Tls {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: Arc::new(RwLock::new(Arc::new(config))),
        })
    }

    /// Reads the files again; on error the previous certificate stays in use.
    pub fn reload(&self) -> Result<(), String> {
        let config = read_config(&self.cert, &self.key)?;
        match self.current.write() {
            Ok(mut c) => *c = Arc::new(config),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(config),
        }
        Ok(())
    }

    /// The acceptor for a connection arriving now.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let config = match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        tokio_rustls::TlsAcceptor::from(config)
    }
}

fn read_config(cert: &Path, key: &Path) -> Result<ServerConfig, String> {
    let chain = read_chain(cert)?;
    let key_der = read_key(key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| {
            format!(
                "{KEY_SETTING}={}: la clave no sirve para el certificado de {CERT_SETTING}={} ({e})",
                key.display(),
                cert.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn read_file(setting: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| {
        format!(
            "{setting}={}: no se pudo leer: {e} (¿existe y la puede leer el usuario del servicio?)",
            path.display()
        )
    })
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = read_file(CERT_SETTING, path)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            format!(
                "{CERT_SETTING}={}: no es un certificado PEM legible ({e})",
                path.display()
            )
        })?;
    if chain.is_empty() {
        return Err(format!(
            "{CERT_SETTING}={}: no contiene ningún certificado («-----BEGIN CERTIFICATE-----»)",
            path.display()
        ));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let bytes = read_file(KEY_SETTING, path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| {
        format!(
            "{KEY_SETTING}={}: no contiene una clave privada PEM (PKCS#8, RSA o EC)",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_wrong_files_name_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        let e = Tls::load(&cert, &key).unwrap_err();
        assert!(
            e.starts_with("EPICRISIS_TLS_CERT_FILE=") && e.contains("cert.pem"),
            "{e}"
        );
        std::fs::write(&cert, "no es un certificado").unwrap();
        std::fs::write(&key, "tampoco una clave").unwrap();
        let e = Tls::load(&cert, &key).unwrap_err();
        assert!(e.contains("no contiene ningún certificado"), "{e}");
    }
}
