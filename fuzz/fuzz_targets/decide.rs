//! decide: a call is allowed only when an independent reference check agrees.
//! Properties: `harpoon::fuzzing::decide`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| harpoon::fuzzing::decide(data));
