//! Every WGSL file of `shaders/` parses and validates with naga, with all
//! capabilities off that we do not request from the device.

use diffclosure::gpu::Shader;

#[test]
fn shaders_validate_with_naga() {
    for shader in Shader::ALL {
        let (file, source) = (shader.file(), shader.source());
        let module = naga::front::wgsl::parse_str(source)
            .unwrap_or_else(|e| panic!("{file}: {}", e.emit_to_string(source)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{file}: {}", e.emit_to_string(source)));
    }
}

#[test]
fn every_file_in_shaders_dir_is_registered() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("shaders/ exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".wgsl"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = Shader::ALL.iter().map(|s| s.file().to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "shaders/ and gpu::Shader::ALL disagree");
}
