//! Links the `pushbroker` binary as a position-dependent executable (`-no-pie`): the
//! dynamic loader then has no relative relocations to apply at each start (15,000 of
//! them in a PIE build), which a hook started on every push pays for.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
