//! Allowlist parsing: any bytes give a policy or errors that each name a place.
//! Properties: `harpoon::fuzzing::allowlist`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| harpoon::fuzzing::allowlist(data));
