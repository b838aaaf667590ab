//! Path normalization and glob matching against the reference canonical form and matcher.
//! Properties: `harpoon::fuzzing::path_glob`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| harpoon::fuzzing::path_glob(data));
