//! The MCP tools/call argument path: any JSON gives a result or an isError.
//! Properties: `harpoon::fuzzing::tool_call`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| harpoon::fuzzing::tool_call(data));
