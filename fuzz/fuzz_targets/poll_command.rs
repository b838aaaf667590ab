//! One command of a tunnel poll answer, read from its text, against the reference reading.
//! Properties: `harpoon::fuzzing::poll_command`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| harpoon::fuzzing::poll_command(data));
