//! Tells the library whether the compiler can evaluate `Location::caller()` in a `const fn`
//! (Rust 1.79+), which the primitives' `const fn new()` use to record their creation site for
//! diagnostics. The library's MSRV is lower; older compilers build it without creation sites.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let minor = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        // "rustc 1.95.0 (59807616e 2026-04-14)"
        .and_then(|v| v.split('.').nth(1).and_then(|m| m.parse::<u32>().ok()));
    if matches!(minor, Some(m) if m < 79) {
        println!("cargo:rustc-cfg=threadkit_no_const_caller");
    }
}
