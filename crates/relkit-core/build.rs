//! Records the target triple relkit is compiled for, so `relkit dist` knows
//! the host target without asking rustc at run time.
fn main() {
    let target = std::env::var("TARGET").expect("cargo sets TARGET for build scripts");
    println!("cargo:rustc-env=RELKIT_HOST_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
