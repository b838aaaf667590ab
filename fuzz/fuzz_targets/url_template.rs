//! URL building from templates: values stay in their segment, the URL on its origin.
//! Properties: `harpoon::fuzzing::url_template`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| harpoon::fuzzing::url_template(data));
