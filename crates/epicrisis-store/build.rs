// `sqlx::migrate!` embeds the files of migrations/ when it expands; a file added there
// must rebuild the crate.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
