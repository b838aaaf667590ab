//! Header filtering and response bounding: allowlists, caps and secrets hold.
//! Properties: `harpoon::fuzzing::headers_body`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| harpoon::fuzzing::headers_body(data));
