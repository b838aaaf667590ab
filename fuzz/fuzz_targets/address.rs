//! Address classification: every spelling gets the IANA registry class.
//! Properties: `harpoon::fuzzing::address`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| harpoon::fuzzing::address(data));
