// Bake libtorch's folder into every binary of this crate (tests included), so nothing needs
// LD_LIBRARY_PATH. torch-sys exports the folder to direct dependants as DEP_TCH_LIBTORCH_LIB.
fn main() {
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
}
