//! Links the system's OpenBLAS (the encoder's matrix products, `src/blas.rs`), found
//! through pkg-config, when the BERT backend (feature `candle`) is built.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_CANDLE").is_none() {
        return;
    }
    if let Err(e) = pkg_config::Config::new().probe("openblas") {
        panic!(
            "\n\nepicrisis-embed needs OpenBLAS for its sentence-embedding encoder, and pkg-config \
             cannot find it ({e}).\nInstall it and build again: on Debian or Ubuntu \
             `apt-get install libopenblas-dev pkg-config`, on Fedora `dnf install openblas-devel`, \
             on macOS `brew install openblas` (then set PKG_CONFIG_PATH to its lib/pkgconfig).\n\n"
        );
    }
}
