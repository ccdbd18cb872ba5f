//! Compiles the Sparkplug B payload definition (proto/sparkplug_b.proto) with prost. The
//! protoc it needs comes from the protoc-bin-vendored crate, so the build needs no system one.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/sparkplug_b.proto");
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    prost_build::Config::new()
        .protoc_executable(protoc)
        .compile_protos(&["proto/sparkplug_b.proto"], &["proto"])?;
    Ok(())
}
